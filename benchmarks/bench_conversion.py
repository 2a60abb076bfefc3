"""Lead conversion throughput, against hand-built records in the same run.

Run: python benchmarks/bench_conversion.py [--quick] [--bulk N]

Prints single conversions per second with the default mapping (a full lead into a new
account, contact and opportunity; and into an existing account and contact with
fill-blanks), beside a baseline that builds the same three records and the converted lead
directly, with no mapping, checks or report — what a hand-written conversion costs — and
the ratio. Then converts N synthetic leads (default 100,000; same-company leads share an
account) with ``convert_leads``, which keeps every result, and with ``iter_convert_leads``,
which streams them, each with the growth of peak memory. Targets (issue 4): single
conversions >= 20k/s; bulk 100k leads reported.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
from synthetic_leads import iter_leads

from leadmodel import (
    Account,
    Address,
    Contact,
    ConversionRecord,
    ConvertOptions,
    EmailAddress,
    ExistingRecords,
    Lead,
    LifecycleStage,
    Money,
    Opportunity,
    PhoneNumber,
    convert_lead,
    convert_leads,
    iter_convert_leads,
)

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
STATUS = "Closed - Converted"


def full_lead() -> Lead:
    return Lead(
        id="lead-000001",
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines Ltd",
        title="Founder",
        email=EmailAddress.parse("ada.lovelace@analytical-engines.co.uk"),
        phone=PhoneNumber.parse("+442079460958"),
        mobile=PhoneNumber.parse("+447700900123"),
        website="analytical-engines.co.uk",
        industry="Technology",
        annual_revenue=Money(Decimal(2_500_000), "GBP"),
        employees=12,
        address=Address(street="12 Marylebone Rd", city="London", country="United Kingdom"),
        source="Web",
        campaign_id="camp-9",
        rating="Hot",
        owner_id="user-7",
        tags=frozenset({"conference", "vip"}),
        description="Met at the conference.\nWants a demo.",
        custom={"visits": 12},
        created_at=datetime(2026, 1, 15, tzinfo=UTC),
    )


class Counter:
    """A cheap id generator (the benchmark measures conversion, not ids)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.n}"


def by_hand(lead: Lead, ids: Counter) -> tuple[Lead, Account, Contact, Opportunity]:
    """The baseline: the same records built directly, nothing checked or reported."""
    account = Account(
        id=ids("account"),
        name=lead.company or lead.last_name,
        website=lead.website,
        industry=lead.industry,
        annual_revenue=lead.annual_revenue,
        employees=lead.employees,
        rating=lead.rating,
        phone=lead.phone,
        billing_address=lead.address,
        owner_id=lead.owner_id,
        created_at=NOW,
        updated_at=NOW,
    )
    contact = Contact(
        id=ids("contact"),
        first_name=lead.first_name,
        last_name=lead.last_name,
        account_id=account.id,
        title=lead.title,
        email=lead.email,
        phone=lead.phone,
        mobile=lead.mobile,
        mailing_address=lead.address,
        source=lead.source,
        owner_id=lead.owner_id,
        description=lead.description,
        do_not_call=lead.do_not_call,
        email_opt_out=lead.email_opt_out,
        lifecycle_stage=LifecycleStage.OPPORTUNITY,
        tags=lead.tags,
        created_at=NOW,
        updated_at=NOW,
    )
    opportunity = Opportunity(
        id=ids("opportunity"),
        name=(lead.company or lead.last_name)[:80],
        account_id=account.id,
        contact_id=contact.id,
        close_date=date(2026, 12, 31),
        source=lead.source,
        campaign_id=lead.campaign_id,
        owner_id=lead.owner_id,
        created_at=NOW,
        updated_at=NOW,
    )
    converted = attrs.evolve(
        lead,
        status=STATUS,
        converted=ConversionRecord(
            account_id=account.id,
            contact_id=contact.id,
            opportunity_id=opportunity.id,
            converted_at=NOW,
            status=STATUS,
        ),
        updated_at=NOW,
    )
    return converted, account, contact, opportunity


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_rate(function: Callable[[], object], seconds: float) -> float:
    """Calls per second: best of five repeats, each about *seconds* / 5 long."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number * (seconds / 5) / max(elapsed, 1e-9)))
    return number / min(timer.repeat(repeat=5, number=number))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--bulk", type=int, default=100_000, help="leads in the bulk run")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 3.0

    lead = full_lead()
    ids = Counter()
    options = ConvertOptions(STATUS)
    account = Account(id="acct-1", name="Analytical Engines", phone=lead.phone, owner_id="u-1")
    contact = Contact(id="con-1", last_name="Lovelace", account_id="acct-1", title="CEO")
    into = ConvertOptions(STATUS, account_id="acct-1", contact_id="con-1")
    existing = ExistingRecords(account=account, contact=contact)

    result = convert_lead(lead, options, ids=ids, now=NOW)
    assert not result.unmapped or result.unmapped[0].field == "custom.visits"  # noqa: S101

    new = best_rate(lambda: convert_lead(lead, options, ids=ids, now=NOW), seconds)
    merged = best_rate(
        lambda: convert_lead(lead, into, existing=existing, ids=ids, now=NOW), seconds
    )
    hand = best_rate(lambda: by_hand(lead, ids), seconds)

    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"{'':<46}{'leadmodel':>11}{'by hand':>11}{'ratio':>8}")
    for label, ours in (
        ("convert into new records (per s)", new),
        ("convert into existing, fill blanks (per s)", merged),
    ):
        print(f"{label:<46}{ours:>11,.0f}{hand:>11,.0f}{hand / ours:>7.2f}x")

    leads = [lead for lead, _ in iter_leads(args.bulk, seed=11)]
    pairs = [(item, options) for item in leads]

    peak = peak_mb()
    started = time.perf_counter()
    streamed = sum(1 for _ in iter_convert_leads(pairs, ids=Counter(), now=NOW))
    elapsed = time.perf_counter() - started
    print(
        f"iter_convert_leads: {streamed:,} leads in {elapsed:.2f} s = "
        f"{streamed / elapsed:,.0f}/s, peak memory +{peak_mb() - peak:,.0f} MB"
    )
    peak = peak_mb()
    started = time.perf_counter()
    batch = convert_leads(pairs, ids=Counter(), now=NOW)
    elapsed = time.perf_counter() - started
    accounts = len(batch.latest("account"))
    print(
        f"convert_leads: {len(leads):,} leads in {elapsed:.2f} s = {len(leads) / elapsed:,.0f}/s; "
        f"{len(batch.results):,} converted, {len(batch.failures):,} failed, "
        f"{accounts:,} accounts (same-company leads share one), "
        f"peak memory +{peak_mb() - peak:,.0f} MB holding every result"
    )
    checks = {"single conversions >= 20k/s": new >= 20_000}
    for name, ok in checks.items():
        print(f"  {'met ' if ok else 'MISSED'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
