"""Entity construction and JSON-dict round trips, against a bare attrs class in the same run.

Run: python benchmarks/bench_entities.py [--quick]

Prints Lead constructions per second (from pre-parsed values) and ``to_dict`` + ``from_dict``
round trips per second, each beside the same work done with a plain frozen, slotted,
keyword-only attrs class that has the same fields and no validation (structured by a plain
cattrs converter), and the ratio between them. Targets (issue 2): construction >= 200k/s and
within 3x of the bare class; round trip >= 50k/s.
"""

from __future__ import annotations

import argparse
import platform
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import cattrs

from leadmodel import Address, EmailAddress, Lead, Money, PhoneNumber, from_dict, to_dict

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def sample_fields() -> list[dict[str, Any]]:
    """A few realistic leads as keyword arguments, values already parsed."""
    full = {
        "id": "lead-000001",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines Ltd",
        "title": "Founder",
        "email": EmailAddress.parse("ada.lovelace@analytical-engines.co.uk"),
        "phone": PhoneNumber.parse("+442079460958"),
        "website": "analytical-engines.co.uk",
        "industry": "Technology",
        "annual_revenue": Money(Decimal(2_500_000), "GBP"),
        "employees": 12,
        "address": Address(city="London", country="United Kingdom"),
        "source": "Web",
        "rating": "Hot",
        "owner_id": "user-7",
        "tags": frozenset({"conference", "vip"}),
        "description": "Met at the conference.\nWants a demo.",
        "custom": {"visits": 12},
        "created_at": NOW,
        "updated_at": NOW + timedelta(hours=1),
    }
    sparse = {"id": "lead-000002", "last_name": "Núñez", "company": "Compañía Andina"}
    medium = {
        "id": "lead-000003",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company": "Cobol Systems Inc.",
        "email": EmailAddress.parse("grace@cobol.example"),
        "source": "Phone Inquiry",
        "created_at": NOW,
    }
    return [full, sparse, medium]


Bare = attrs.make_class(
    "Bare",
    {f.name: attrs.field(default=None) for f in attrs.fields(Lead)},
    frozen=True,
    slots=True,
    kw_only=True,
)


def best_rate(function: Callable[[], object], per_call: int, seconds: float) -> float:
    """Operations per second: best of several repeats, each about *seconds* / 5 long."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number * (seconds / 5) / max(elapsed, 1e-9)))
    times = timer.repeat(repeat=5, number=number)
    return per_call * number / min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    seconds = 1.0 if parser.parse_args().quick else 3.0

    samples = sample_fields()
    leads = [Lead(**kwargs) for kwargs in samples]
    bares = [Bare(**kwargs) for kwargs in samples]
    n = len(samples)

    def build_leads() -> None:
        for kwargs in samples:
            Lead(**kwargs)

    def build_bares() -> None:
        for kwargs in samples:
            Bare(**kwargs)

    plain = cattrs.Converter()
    lead_dicts = [to_dict(lead) for lead in leads]

    def round_trip_leads() -> None:
        for lead in leads:
            from_dict(Lead, to_dict(lead))

    def round_trip_bares() -> None:
        for bare in bares:
            plain.structure(plain.unstructure(bare), Bare)

    assert [from_dict(Lead, d) for d in lead_dicts] == leads  # noqa: S101 - sanity

    build = best_rate(build_leads, n, seconds)
    build_bare = best_rate(build_bares, n, seconds)
    trip = best_rate(round_trip_leads, n, seconds)
    trip_bare = best_rate(round_trip_bares, n, seconds)

    print(f"python {platform.python_version()} on {platform.machine()}, {n} sample leads")
    print(f"{'':<34}{'leadmodel':>12}{'bare attrs':>12}{'ratio':>8}")
    for label, ours, bare in (
        ("Lead construction (per s)", build, build_bare),
        ("to_dict+from_dict (per s)", trip, trip_bare),
    ):
        print(f"{label:<34}{ours:>12,.0f}{bare:>12,.0f}{bare / ours:>7.2f}x")
    checks = {
        "construction >= 200k/s": build >= 200_000,
        "construction within 3x of bare": build_bare / build <= 3.0,
        "round trip >= 50k/s": trip >= 50_000,
    }
    for name, ok in checks.items():
        print(f"  {'met ' if ok else 'MISSED'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
