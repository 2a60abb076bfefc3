"""List views and analytics at scale: SQL-translated views, apply_view, funnel and friends.

Run: python benchmarks/bench_analytics.py [--leads N] [--stored N] [--quick]

1. Analytics over N leads in memory (1,000,000 by default): ``funnel`` by status and by
   source, ``funnel`` by three segments, ``cohorts``, ``velocity``, ``time_to_convert``,
   ``time_in_status`` with one status change per lead, and ``apply_view`` with a sort and a
   limit. Each is reported as leads per second.
2. The same list views over a SQLite file of M stored leads (200,000 by default): the
   repository's ``select`` (the criterion translated to SQL, then re-checked) against the
   baseline of ``apply_view`` over every stored record (each decoded from JSON), in the same
   process. The ratio is baseline time / select time.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadmodel import (
    All,
    Condition,
    ConversionRecord,
    Lead,
    ListView,
    Segment,
    StatusChanged,
    apply_view,
    cohorts,
    funnel,
    time_in_status,
    time_to_convert,
    velocity,
)
from leadmodel import (
    Any as AnyOf,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SOURCES = ["Web", "Trade Show", "Partner Referral", "Webinar", "Cold Call"]
OWNERS = [f"user-{i}" for i in range(40)]


def make_leads(n: int, seed: int = 11) -> tuple[list[Lead], list[StatusChanged]]:
    rng = random.Random(seed)
    leads, history = [], []
    for i in range(n):
        created = NOW - timedelta(days=rng.randrange(365), seconds=rng.randrange(86400))
        converted = None
        status = "Open - Not Contacted"
        worked = rng.random() < 0.5
        if worked:
            at = min(NOW, created + timedelta(days=rng.randrange(1, 20)))
            history.append(
                StatusChanged(
                    lead_id=f"L{i}", previous=status, current="Working - Contacted", occurred_at=at
                )
            )
            status = "Working - Contacted"
            if rng.random() < 0.2:
                status = "Closed - Converted"
                converted = ConversionRecord(
                    account_id="A", contact_id="C", converted_at=at, status=status
                )
        leads.append(
            Lead(
                id=f"L{i}",
                last_name=f"Last{i % 5000}",
                company=f"Company {i % 20000}",
                source=rng.choice(SOURCES),
                owner_id=rng.choice(OWNERS),
                employees=rng.choice([5, 50, 250, 1200, 25000]),
                rating=rng.choice(["Hot", "Warm", "Cold"]),
                status=status,
                created_at=created,
                converted=converted,
            )
        )
    return leads, history


SEGMENTS = [
    Segment("Hot web", All([Condition("rating", "eq", "hot"), Condition("source", "eq", "web")])),
    Segment("Enterprise", Condition("employees", "gte", 1000)),
    Segment("Events", Condition("source", "in", ("Trade Show", "Webinar"))),
]
VIEWS = {
    "selective (one owner, hot)": ListView(
        "mine",
        All([Condition("owner_id", "eq", "user-7"), Condition("rating", "eq", "Hot")]),
        sort=[("created_at", "desc")],
        limit=50,
    ),
    "a fifth (one source)": ListView("web", Condition("source", "eq", "Web"), limit=100),
    "untranslatable part": ListView(
        "big",
        AnyOf([Condition("source", "eq", "Webinar"), Condition("employees", "gte", 25000)]),
        sort=[("last_name", "asc")],
        limit=20,
    ),
}


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def analytics(n: int) -> None:
    leads, history = make_leads(n)
    print(f"\n{n:,} leads in memory, {len(history):,} status changes")
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("funnel by status", lambda: funnel(leads)),
        ("funnel by source", lambda: funnel(leads, by="source")),
        ("funnel by 3 segments", lambda: funnel(leads, by=SEGMENTS)),
        ("cohorts", lambda: cohorts(leads)),
        ("velocity per week", lambda: velocity(leads, period="week")),
        ("time_to_convert", lambda: time_to_convert(leads)),
        ("time_in_status", lambda: time_in_status(leads, history, now=NOW)),
        (
            "apply_view (filter, sort, limit)",
            lambda: apply_view(VIEWS["selective (one owner, hot)"], leads),
        ),
    ]
    for name, call in runs:
        _, seconds = timed(call)
        print(f"  {name:<34}{n / seconds:>14,.0f} leads/s  ({seconds:.2f} s)")


def views(stored: int, directory: Path) -> None:
    leads, _ = make_leads(stored, seed=12)
    store = SQLiteStore(directory / "views.db")
    with SQLiteUnitOfWork(store) as uow:
        for start in range(0, stored, 10_000):
            for lead in leads[start : start + 10_000]:
                uow.leads.add(lead)
            uow.commit()
    del leads
    print(f"\n{stored:,} leads in a SQLite file: select (SQL) vs apply_view over every record")
    for name, view in VIEWS.items():
        with SQLiteUnitOfWork(store) as uow:
            baseline, base_seconds = timed(lambda: apply_view(view, list(uow.leads)))  # noqa: B023
        with SQLiteUnitOfWork(store) as uow:
            found, seconds = timed(lambda: uow.leads.select(view))  # noqa: B023
        if [r.id for r in found] != [r.id for r in baseline]:
            raise SystemExit(f"{name}: select and apply_view disagree")
        print(
            f"  {name:<30} select {seconds * 1000:>8.1f} ms, apply_view "
            f"{base_seconds * 1000:>8.1f} ms: {base_seconds / seconds:>6.1f}x  ({len(found)} rows)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--stored", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="100,000 and 20,000")
    args = parser.parse_args()
    n, stored = (100_000, 20_000) if args.quick else (args.leads, args.stored)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    analytics(n)
    with tempfile.TemporaryDirectory() as directory:
        views(stored, Path(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
