"""Bounded blocks (issue 16): the cost of a blocking key shared by thousands of records.

Run: python benchmarks/bench_blocks.py [--size 10000] [--big 100000] [--captures 300]
     [--unbounded 2000] [--repeat 3]

On the seeded synthetic leads of ``synthetic_leads.py``, each figure is a ratio against a
baseline run in the same process on the same raw leads:

1. ``find_duplicates_report(..., STANDARD_LEAD_RULE)`` on *size* leads with their own
   phones (the baseline) and on the same leads all given one switchboard phone: the time
   ratio (issue 16's target: <= 3x), the oversized blocks reported, the comparisons, and
   recall of the true pairs in both runs.
2. *size* → *big* leads in one block: the time ratio (linear is ``big / size``).
3. ``DuplicateIndex``: building it over *size* leads and ``matches`` of 1,000 of them,
   shared phone against own phones.
4. ``services.capture_lead`` with a duplicate policy on ``STANDARD_LEAD_RULE`` against a
   memory and a SQLite store holding *size* leads: captures/s when every stored lead and
   every new form share one phone, against the same with their own phones.
5. ``--unbounded N``: the previous release's behaviour (``key_cap=None``: every pair of
   the block compared) on *N* leads sharing one phone, for reference.

This is a benchmark, not a timed test: the figures depend on the machine and its load;
each timing is the best of ``--repeat`` runs (part 2, the captures and part 5 run once).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_leads import generate, true_pairs

from leadmodel import (
    STANDARD_LEAD_RULE,
    DuplicateAction,
    DuplicateIndex,
    DuplicatePolicy,
    Lead,
    PhoneNumber,
    find_duplicates_report,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import CaptureConfig, capture_lead

SWITCHBOARD = PhoneNumber.parse("+14155550100")
NOW = datetime(2026, 4, 6, 9, tzinfo=UTC)


def shared(leads: list[Lead]) -> list[Lead]:
    """The same leads, every one given the switchboard phone."""
    return [attrs.evolve(lead, phone=SWITCHBOARD) for lead in leads]


REPEAT = [1]  # --repeat: the best of this many runs is reported (both sides alike)


def timed(call: Callable[[], object], *, once: bool = False) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(1 if once else REPEAT[0]):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def recall(groups: tuple, truth: set[tuple[str, str]]) -> float:
    found = {(a, b) for group in groups for a in group.ids for b in group.ids if a < b}
    return len(found & truth) / len(truth) if truth else 1.0


def batch(size: int, big: int) -> None:
    leads, people = generate(size)
    truth = true_pairs(people)
    one_phone = shared(leads)
    own, run_own = timed(lambda: find_duplicates_report(leads, STANDARD_LEAD_RULE))
    one, run_one = timed(lambda: find_duplicates_report(one_phone, STANDARD_LEAD_RULE))
    print(f"\n1. find_duplicates_report, {size:,} leads (STANDARD_LEAD_RULE)")
    for name, seconds, run in (("own phones", own, run_own), ("one phone", one, run_one)):
        print(
            f"   {name:<11} {seconds:7.2f} s  comparisons {run.comparisons:>9,}  "  # type: ignore[attr-defined]
            f"recall {recall(run.groups, truth):.3f}  oversized {len(run.oversized)}"  # type: ignore[attr-defined]
        )
    largest = max(run_one.oversized, key=lambda block: block.size)  # type: ignore[attr-defined]
    print(f"   largest oversized block: {largest.key} ({largest.size:,} leads, {largest.method})")
    print(f"   ratio one phone / own phones: {one / own:.2f}x (target <= 3x)")
    if big:
        many, _ = generate(big)
        many_one_phone = shared(many)
        # Both sizes once, back to back, as the 100k run cannot be repeated cheaply.
        small_seconds, run_small = timed(
            lambda: find_duplicates_report(one_phone, STANDARD_LEAD_RULE), once=True
        )
        big_seconds, run_big = timed(
            lambda: find_duplicates_report(many_one_phone, STANDARD_LEAD_RULE), once=True
        )
        own_big, _ = timed(lambda: find_duplicates_report(many, STANDARD_LEAD_RULE), once=True)
        print(f"\n2. one block, {size:,} -> {big:,} leads (each run once)")
        print(
            f"   {size:,}: {small_seconds:.2f} s, {run_small.comparisons:,} comparisons; "  # type: ignore[attr-defined]
            f"{big:,}: {big_seconds:.2f} s, {run_big.comparisons:,} comparisons"  # type: ignore[attr-defined]
        )
        print(
            f"   ratio {big_seconds / small_seconds:.1f}x time, "
            f"{run_big.comparisons / run_small.comparisons:.1f}x comparisons for "  # type: ignore[attr-defined]
            f"{big / size:.0f}x the leads (linear: {big / size:.0f}x)"
        )
        print(
            f"   {big:,} with own phones: {own_big:.2f} s; one phone / own phones "
            f"{big_seconds / own_big:.2f}x"
        )


def index(size: int) -> None:
    leads, _ = generate(size)
    print(f"\n3. DuplicateIndex, {size:,} leads")
    figures = {}
    for name, data in (("own phones", leads), ("one phone", shared(leads))):
        build, built = timed(lambda data=data: DuplicateIndex(STANDARD_LEAD_RULE, data))
        probes = data[:: max(1, len(data) // 1000)][:1000]
        query, _ = timed(lambda built=built, probes=probes: [built.matches(p) for p in probes])  # type: ignore[attr-defined]
        figures[name] = (build, query / len(probes))
        print(
            f"   {name:<11} build {build:6.2f} s ({size / build:,.0f} leads/s)  "
            f"matches {query / len(probes) * 1e3:.3f} ms each"
        )
    (b0, q0), (b1, q1) = figures["own phones"], figures["one phone"]
    print(f"   ratio one phone / own phones: build {b1 / b0:.2f}x, matches {q1 / q0:.2f}x")


def stores(leads: list[Lead]) -> dict[str, Callable[[], object]]:
    memory = MemoryStore()
    sqlite = SQLiteStore(":memory:")
    for make in (lambda: MemoryUnitOfWork(memory), lambda: SQLiteUnitOfWork(sqlite)):
        with make() as uow:
            uow.index_rules([STANDARD_LEAD_RULE])  # type: ignore[attr-defined]
            for lead in leads:
                uow.leads.add(lead)
            uow.commit()
    return {
        "memory": lambda: MemoryUnitOfWork(memory),
        "sqlite": lambda: SQLiteUnitOfWork(sqlite),
    }


def capture(size: int, captures: int) -> None:
    leads, _ = generate(size + captures, seed=11)
    stored, forms = leads[:size], leads[size:]
    policy = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT)
    config = CaptureConfig(duplicates=policy)
    print(f"\n4. capture_lead against a store of {size:,} leads ({captures} new forms)")
    rates: dict[tuple[str, str], float] = {}
    for name, phone_of in (("own phones", None), ("one phone", SWITCHBOARD)):
        held = stored if phone_of is None else shared(stored)
        for store, make in stores(held).items():
            submitted = [
                {
                    "first_name": lead.first_name or "",
                    "last_name": lead.last_name or "",
                    "company": lead.company or "",
                    "email": str(lead.email or ""),
                    "phone": str(phone_of or lead.phone or ""),
                }
                for lead in forms
            ]
            ids = SequentialIds(prefix="c")
            seconds, _ = timed(
                lambda make=make, submitted=submitted, ids=ids: [
                    capture_lead(make(), form, config, ids=ids, now=NOW)  # type: ignore[arg-type]
                    for form in submitted
                ],
                once=True,
            )
            rates[(store, name)] = captures / seconds
            print(f"   {store:<6} {name:<11} {captures / seconds:8.1f} captures/s")
    for store in ("memory", "sqlite"):
        ratio = rates[(store, "own phones")] / rates[(store, "one phone")]
        print(f"   {store}: one phone is {ratio:.2f}x slower than own phones")


def unbounded(size: int) -> None:
    leads, _ = generate(size)
    one_phone = shared(leads)
    rule = attrs.evolve(STANDARD_LEAD_RULE, key_cap=None)
    old, run_old = timed(lambda: find_duplicates_report(one_phone, rule), once=True)
    new, run_new = timed(lambda: find_duplicates_report(one_phone, STANDARD_LEAD_RULE))
    print(f"\n5. {size:,} leads sharing one phone: every pair vs the window")
    print(
        f"   key_cap=None {old:.2f} s ({run_old.comparisons:,} comparisons); "  # type: ignore[attr-defined]
        f"STANDARD_LEAD_RULE {new:.2f} s ({run_new.comparisons:,})"  # type: ignore[attr-defined]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="0 skips part 2")
    parser.add_argument("--captures", type=int, default=300)
    parser.add_argument("--unbounded", type=int, default=0, help="0 skips part 5")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    args = parser.parse_args()
    REPEAT[0] = max(1, args.repeat)
    print(f"Python {platform.python_version()} on {platform.machine()}")
    batch(args.size, args.big)
    index(args.size)
    capture(args.size, args.captures)
    if args.unbounded:
        unbounded(args.unbounded)


if __name__ == "__main__":
    main()
