"""Criteria: a compiled criterion against evaluate and a hand-written test, in the same run.

Run: python benchmarks/bench_criteria.py [--quick] [--leads N]

Applies a five-condition criterion (text in a list, case-insensitive; a custom number; a
range; an address part; a tag) to N synthetic leads three ways: ``compile(criterion)``,
``evaluate`` (the reference interpreter), and a hand-written Python function that tests
the same things directly (the floor). Prints leads per second and the ratios, and checks
the three agree.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import timeit
from collections.abc import Callable, Sequence

from synthetic_leads import iter_leads

from leadmodel import Address, All, Condition, Lead, evaluate, update
from leadmodel.rules.criteria import compile as compile_criterion

CRITERION = All(
    [
        Condition("source", "in", ("Web", "Partner Referral")),
        Condition("custom.visits", "gte", 3),
        Condition("employees", "between", (50, 5000)),
        Condition("address.country", "eq", "US"),
        Condition("tags", "contains", "vip"),
    ]
)


def by_hand(lead: Lead) -> bool:
    """The same criterion, written out for these fields' types."""
    source = lead.source
    visits = lead.custom.get("visits")
    country = lead.address.country if lead.address is not None else None
    return (
        source is not None
        and source.casefold() in ("web", "partner referral")
        and isinstance(visits, int)
        and visits >= 3
        and lead.employees is not None
        and 50 <= lead.employees <= 5000
        and country is not None
        and country.casefold() == "us"
        and "vip" in {tag.casefold() for tag in lead.tags}
    )


def sample(n: int) -> list[Lead]:
    rng = random.Random(5)
    leads = []
    for lead, _ in iter_leads(n, seed=5):
        leads.append(
            update(
                lead,
                source=rng.choice(["Web", "web", "Partner Referral", "Phone Inquiry", None]),
                employees=rng.choice([None, 10, 120, 900, 20_000]),
                address=Address(country=rng.choice(["US", "us", "CA", "GB"])),
                tags=rng.choice([set(), {"vip"}, {"VIP", "conference"}]),
                custom={"visits": rng.choice([None, 0, 3, 12])},
            )
        )
    return leads


def rate(test: Callable[[Lead], bool], leads: Sequence[Lead], seconds: float) -> float:
    """Leads per second: best of five repeats."""
    timer = timeit.Timer(lambda: [test(lead) for lead in leads])
    number, elapsed = timer.autorange()
    number = max(1, int(number * (seconds / 5) / max(elapsed, 1e-9)))
    return len(leads) * number / min(timer.repeat(repeat=5, number=number))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--leads", type=int, default=20_000)
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 3.0
    leads = sample(args.leads)
    compiled = compile_criterion(CRITERION)

    def interpreted(lead: Lead) -> bool:
        return evaluate(CRITERION, lead)

    expected = [by_hand(lead) for lead in leads]
    assert [compiled(lead) for lead in leads] == expected  # noqa: S101 - sanity
    assert [interpreted(lead) for lead in leads] == expected  # noqa: S101 - sanity

    hand = rate(by_hand, leads, seconds)
    print(
        f"python {platform.python_version()} on {platform.machine()}: {len(leads):,} leads, "
        f"{sum(expected):,} matching a five-condition criterion"
    )
    print(f"{'':<24}{'leads/s':>12}{'vs by hand':>12}")
    print(f"{'by hand':<24}{hand:>12,.0f}{1:>11.2f}x")
    for label, test in (("compile(criterion)", compiled), ("evaluate", interpreted)):
        ours = rate(test, leads, seconds)
        print(f"{label:<24}{ours:>12,.0f}{hand / ours:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
