"""SQLite adapter: loading leads with normalisation and duplicate checks, and key look-ups.

Run: python benchmarks/bench_sqlite.py [--quick] [--leads N] [--lookup-rows N]

1. Loads N raw rows (100,000 by default) into a SQLite file the way an import does: each
   row's email and phone are parsed (normalisation), its lookup keys are looked up with
   ``find_by_keys`` (the duplicate check), and new leads are added, committed every 5,000
   rows. Prints rows per second, beside the same rows loaded into the memory adapter.
2. Imports the same rows written as a CSV file into a second SQLite file, as
   ``leadmodel import --dedupe`` did in the previous release: ``read_csv``, a guessed
   ``ColumnMapping`` and the public ``import_leads`` with duplicates skipped (within the
   file and against stored leads), created leads added and committed once.
3. Re-opens the first file and checks every lead came back identical.
4. Times ``find_by_keys`` on a database of N rows (``--lookup-rows``, 1,000,000 by
   default; ``0`` leaves this step out): median and 99th percentile over 2,000 look-ups.

Ends with machine-readable lines, ``RESULT load_rows_per_s=<value>`` (step 1) and
``RESULT import_rows_per_s=<value>`` (step 2), which ``benchmarks/compare_release.py``
reads; only public APIs present in the previous release are used, so it runs under both
releases' interpreters.
"""

from __future__ import annotations

import argparse
import csv
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import leadmodel
from leadmodel import ColumnMapping, EmailAddress, Lead, PhoneNumber, import_leads, read_csv
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.ports import UnitOfWork, lookup_keys


def raw_rows(n: int, seed: int = 8) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        person = rng.randrange(int(n * 0.9))  # drawn with replacement: ~40% of rows repeat one
        rows.append(
            {
                "id": f"L{i:07d}",
                "last_name": f"Name{person}",
                "company": f"Company {person % 5000}",
                "email": f" Person{person}@Company{person % 5000}.example ",
                "phone": f"(415) {200 + person // 10000:03d}-{person % 10000:04d}"
                if person % 3
                else "",
            }
        )
    return rows


def load(make: type, store: object, rows: list[dict[str, str]]) -> tuple[int, int]:
    created = duplicates = 0
    uow: UnitOfWork = make(store)
    for start in range(0, len(rows), 5000):
        with uow:
            for row in rows[start : start + 5000]:
                lead = Lead(
                    id=row["id"],
                    last_name=row["last_name"],
                    company=row["company"],
                    email=EmailAddress.parse(row["email"]),
                    phone=PhoneNumber.parse(row["phone"]) if row["phone"] else None,
                )
                if uow.leads.find_by_keys(lookup_keys(lead)):
                    duplicates += 1
                    continue
                uow.leads.add(lead)
                created += 1
            uow.commit()
    return created, duplicates


def import_csv(
    uow: UnitOfWork, rows: Iterable[Mapping[str, str]], mapping: ColumnMapping
) -> dict[str, int]:
    """The CSV rows through the public ``import_leads`` (duplicates skipped), created leads added.

    What ``leadmodel import --dedupe`` did in the previous release, written here with the
    public API both releases share, so the comparison times the same work.
    """
    counts = {"created": 0, "duplicates": 0, "rejected": 0}
    ids = iter(range(1, 10**9))
    run = import_leads(
        rows,
        mapping,
        ids=lambda kind: f"imp-{kind}-{next(ids):07d}",
        now=datetime(2026, 1, 1, tzinfo=UTC),
        existing=uow.leads,
        on_duplicate="skip",
    )
    for outcome in run:
        if outcome.status == "created" and outcome.lead is not None:
            uow.leads.add(outcome.lead)
            counts["created"] += 1
        elif outcome.status == "skipped":
            counts["duplicates"] += 1
        else:
            counts["rejected"] += 1
    return counts


def fill(store: SQLiteStore, n: int) -> None:
    uow = SQLiteUnitOfWork(store)
    for start in range(0, n, 20_000):
        with uow:
            for i in range(start, min(n, start + 20_000)):
                uow.leads.add(
                    Lead(
                        id=f"F{i:07d}",
                        last_name="Fill",
                        company="Fill",
                        email=EmailAddress.parse(f"fill{i}@example.com"),
                    )
                )
            uow.commit()


def main() -> int:  # noqa: PLR0915 - one benchmark, its steps in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 100,000 for look-ups")
    parser.add_argument("--leads", type=int, default=None, help="100,000 by default")
    parser.add_argument("--lookup-rows", type=int, default=None, help="1,000,000 by default")
    args = parser.parse_args()
    n = args.leads if args.leads is not None else 20_000 if args.quick else 100_000
    lookup_rows = args.lookup_rows
    if lookup_rows is None:
        lookup_rows = 100_000 if args.quick else 1_000_000
    rows = raw_rows(n)
    print(f"leadmodel.__file__ = {leadmodel.__file__}")
    print(f"python {platform.python_version()} on {platform.machine()}: {n:,} raw rows")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "leads.db"
        start = time.perf_counter()
        store = SQLiteStore(path)
        created, duplicates = load(SQLiteUnitOfWork, store, rows)
        sqlite_rate = n / (time.perf_counter() - start)
        start = time.perf_counter()
        load(MemoryUnitOfWork, MemoryStore(), rows)
        memory_rate = n / (time.perf_counter() - start)
        print(f"{'load into SQLite (file, WAL)':<44}{sqlite_rate:>10,.0f} rows/s (target 10,000)")
        print(f"{'load into the memory adapter':<44}{memory_rate:>10,.0f} rows/s")
        print(f"   {created:,} leads created, {duplicates:,} rows found as duplicates")
        csv_path = Path(directory) / "leads.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        cli_store = SQLiteStore(Path(directory) / "cli.db")
        start = time.perf_counter()
        uow = SQLiteUnitOfWork(cli_store)
        with uow:
            header, csv_rows = read_csv(csv_path)
            counts = import_csv(uow, csv_rows, ColumnMapping.guess(header))
            uow.commit()
        cli_rate = n / (time.perf_counter() - start)
        cli_store.close()
        print(
            f"{'import_leads --dedupe into SQLite':<44}{cli_rate:>10,.0f} rows/s "
            f"({counts['created']:,} created, {counts['duplicates']:,} duplicates)"
        )
        with SQLiteUnitOfWork(store) as uow:
            before = list(uow.leads)
        store.close()
        with SQLiteStore(path) as again, SQLiteUnitOfWork(again) as uow:
            print(f"   re-opened: {len(before):,} leads, identical: {list(uow.leads) == before}")
        if lookup_rows <= 0:
            report(sqlite_rate, cli_rate)
            return 0

        path = Path(directory) / "big.db"
        store = SQLiteStore(path)
        start = time.perf_counter()
        fill(store, lookup_rows)
        print(f"filled {lookup_rows:,} rows in {time.perf_counter() - start:.0f} s")
        rng = random.Random(1)
        timings = []
        uow = SQLiteUnitOfWork(store)
        with uow:
            for _ in range(2000):
                key = f"email:fill{rng.randrange(lookup_rows)}@example.com"
                start = time.perf_counter()
                found = uow.leads.find_by_keys([key])
                timings.append(time.perf_counter() - start)
                assert len(found) == 1  # noqa: S101
        timings.sort()
        print(
            f"{'find_by_keys at ' + format(lookup_rows, ',') + ' rows':<44}"
            f"median {statistics.median(timings) * 1e6:,.0f} µs, "
            f"p99 {timings[int(len(timings) * 0.99)] * 1e6:,.0f} µs"
        )
        store.close()
    report(sqlite_rate, cli_rate)
    return 0


def report(load_rate: float, import_rate: float) -> None:
    print(f"RESULT load_rows_per_s={load_rate:.1f}")
    print(f"RESULT import_rows_per_s={import_rate:.1f}")


if __name__ == "__main__":
    sys.exit(main())
