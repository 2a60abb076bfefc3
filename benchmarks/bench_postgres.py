"""Captures per second with 1, 4 and 8 client processes: PostgreSQL beside SQLite (issue 20).

Run: python benchmarks/bench_postgres.py [--url postgresql://...] [--seconds S] [--clients 1,4,8]

Without ``--url`` a throw-away PostgreSQL cluster is started for the run (as the test
fixture does: ``tests/postgres_cluster.py``, a unix socket, ``fsync=off``) and stopped at
the end. Each measurement starts from an empty database (a fresh schema; a fresh SQLite
file in WAL mode) with :data:`~leadmodel.STANDARD_LEAD_RULE` indexed. Every client is its
own process (spawn) with its own store, and captures web forms through
``services.capture_lead`` with the standard duplicate policy (BLOCK on create) for
``--seconds``: the clients walk one shared list of people, so every person is captured by
two clients at about the same moment (Robert at work, Bob on gmail: duplicates by the
rule's blocking keys), and the second capture must find the first lead. A capture is
counted when the call returns (created or blocked); refused commits retried inside it
count as conflicts. After the run the benchmark checks that each person is one lead.

It prints captures/s per store and client count, the speed-up over one client, and
PostgreSQL / SQLite. Timings on a shared machine are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import queue
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadmodel import (
    STANDARD_LEAD_RULE,
    ConcurrencyError,
    DuplicateAction,
    DuplicatePolicy,
    services,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CAPTURE = services.CaptureConfig(
    duplicates=DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
)
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus")
ROOT = Path(__file__).resolve().parent.parent


def form(k: int, variant: int) -> dict[str, str]:
    """Person *k*'s web form: Robert at work (0) or Bob from his gmail (1)."""
    return {
        "name": f"{('Robert', 'Bob')[variant]} {LAST[k % len(LAST)]}",
        "email": (f"person{k}@captured.example", f"bob{k}@gmail.example")[variant],
        "company": f"Company {k}",
        "title": "CTO",
    }


def open_store(target: str) -> Any:
    if target.startswith("postgresql://"):
        from leadmodel.adapters.postgres import PostgresStore

        return PostgresStore(target, pool_size=2, timeout=30)
    from leadmodel.adapters.sqlite import SQLiteStore

    return SQLiteStore(target, timeout=30)


def unit(store: Any) -> Any:
    from leadmodel.adapters.postgres import PostgresStore, PostgresUnitOfWork
    from leadmodel.adapters.sqlite import SQLiteUnitOfWork

    return (PostgresUnitOfWork if isinstance(store, PostgresStore) else SQLiteUnitOfWork)(store)


def client(target: str, number: int, clients: int, ready: Any, seconds: float, out: Any) -> None:  # noqa: PLR0917 - a Process target
    """Capture people for *seconds* once all are *ready*; report (captures, conflicts, statuses)."""
    store = open_store(target)
    ids = itertools.count()
    captures = conflicts = 0
    statuses: Counter[str] = Counter()
    ready.wait(timeout=300)  # every client imported and connected
    start = time.time()
    # Client n takes persons n//2, n//2 + c/2, ... (two clients per person) when c > 1.
    pair, step = (number // 2, max(1, clients // 2)) if clients > 1 else (0, 1)
    k = pair
    while time.time() < start + seconds:
        uow = unit(store)
        try:
            result = services.retrying(
                lambda uow=uow, k=k: services.capture_lead(
                    uow,
                    form(k, number % 2),
                    CAPTURE,
                    ids=lambda kind: f"c{number}-{kind}-{next(ids)}",
                    now=NOW,
                    attempts=10,
                ),
                attempts=10,
            )
        except ConcurrencyError:
            conflicts += 1
            continue
        statuses[result.status] += 1
        captures += 1
        k += step
    store.close()
    out.put((captures, conflicts, dict(statuses)))


def measure(target: str, clients: int, seconds: float) -> tuple[float, int, Counter[str]]:
    """Captures/s of *clients* processes on *target*, people stored, and their statuses."""
    store = open_store(target)
    store.index_rules([STANDARD_LEAD_RULE])
    store.close()
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready = context.Barrier(clients)
    processes = [
        context.Process(target=client, args=(target, n, clients, ready, seconds, out))
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    reports = []
    while len(reports) < clients:
        try:
            reports.append(out.get(timeout=5))
        except queue.Empty:
            if not all(p.is_alive() for p in processes) and out.empty():
                raise SystemExit("a client process died (its traceback is above)") from None
    for process in processes:
        process.join()
    total = sum(r[0] for r in reports)
    statuses: Counter[str] = Counter()
    for report in reports:
        statuses.update(report[2])
    store = open_store(target)
    with unit(store) as uow:
        companies = Counter(lead.company for lead in uow.leads)
    store.close()
    twice = [company for company, n in companies.items() if n > 1]
    if twice:
        raise SystemExit(f"{target}: one person stored as several leads: {twice[:5]}")
    return total / seconds, len(companies), statuses


def _schema_url(url: str) -> str:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL server to use (default: start one)")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", default="1,4,8")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    folder = None
    url = args.url
    if url is None:
        sys.path.insert(0, str(ROOT / "tests"))
        import postgres_cluster

        folder = tempfile.mkdtemp(prefix="leadmodel-pg-", dir="/tmp")
        url = postgres_cluster.start(folder)
    work = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {args.seconds:g} s each")
    print(f"PostgreSQL: {url}{' (started for this run)' if folder else ''}")
    rows = []
    try:
        for clients in counts:
            for name in ("SQLite", "PostgreSQL"):
                target = str(work / f"leads-{clients}.db") if name == "SQLite" else _schema_url(url)
                rate, people, statuses = measure(target, clients, args.seconds)
                rows.append((name, clients, rate, people, statuses))
                print(
                    f"  {name:<10} {clients} clients: {rate:8.1f} captures/s, "
                    f"{people} people, {dict(statuses)}",
                    flush=True,
                )
    finally:
        if folder is not None:
            postgres_cluster.stop(folder)
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    rates = {(name, clients): rate for name, clients, rate, _, _ in rows}
    print()
    print(
        f"{'clients':>7} | {'SQLite/s':>9} | {'x 1 client':>10} | {'PG/s':>9} | "
        f"{'x 1 client':>10} | {'PG / SQLite':>11}"
    )
    for clients in counts:
        sqlite, pg = rates[("SQLite", clients)], rates[("PostgreSQL", clients)]
        print(
            f"{clients:>7} | {sqlite:>9.1f} | {sqlite / rates[('SQLite', counts[0])]:>10.2f} | "
            f"{pg:>9.1f} | {pg / rates[('PostgreSQL', counts[0])]:>10.2f} | {pg / sqlite:>11.2f}"
        )


if __name__ == "__main__":
    main()
