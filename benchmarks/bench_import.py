"""Bulk import: a million CSV rows through import_leads, memory and throughput.

Run: python benchmarks/bench_import.py [--rows N] [--quick]

Writes a CSV of N rows (1,000,000 by default; about one person in ten appears twice, with
email case changed; one row in a hundred belongs to a company whose every lead comes through
its switchboard phone — different people, one phone, in companies of 200 by default), then
imports it with ``read_csv`` + ``import_leads``:

1. without duplicate checks (``on_duplicate="create"``), one core, counting outcomes only;
2. the same split over a process pool on every core (each worker imports a byte range);
3. with duplicate checks within the file (``on_duplicate="skip"``), one core, with the
   default rule (``STANDARD_LEAD_RULE``) and with exact keys (``rule=EXACT_EMAIL_OR_PHONE``),
   each in a fresh process (so each peak RSS is its own) on the same file: rows/s of each,
   their ratio (issue 16's target: standard >= 0.5x exact keys) and how many switchboard
   colleagues each skipped as "duplicates";
4. merging duplicates into a SQLite file (``on_duplicate="merge"``, ``existing`` the
   repository of a unit of work that indexes the standard rule's keys, committing every
   5,000 rows), one core.

Prints rows per second and the peak resident memory of each run (``ru_maxrss``; the pool's
is the largest worker's). Run 1 and 2 keep nothing between rows, so their memory does not
grow with the file; run 3 keeps a ``DuplicateIndex`` of the created rows' prepared values
(a tuple of normalised strings and its keys per row); run 4 too, plus at most 10,000 recent
leads, reading older ones back from the database.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import multiprocessing
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    ColumnMapping,
    MatchingRule,
    import_leads,
    read_csv,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Lead Source", "No. of Employees"]


_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def word(number: int, syllables: int = 4) -> str:
    """A made-up name, one per number (names with digits would all normalise alike).

    The number is scrambled first, so neighbours get unrelated names.
    """
    number = int.from_bytes(hashlib.blake2b(str(number).encode(), digest_size=8).digest())
    parts = []
    for _ in range(syllables):
        number, digit = divmod(number, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts).capitalize()


SWITCHBOARD_SHARE = 0.01
"""The share of rows that are colleagues at a company reached through one switchboard."""


def write_csv(path: Path, n: int, seed: int = 5, company_size: int = 200) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(n):
            if rng.random() < SWITCHBOARD_SHARE:
                # A different person at a switchboard company: own name and email, the
                # company's phone (written three ways, as people type it).
                company = rng.randrange(max(1, int(n * SWITCHBOARD_SHARE) // company_size))
                phone = rng.choice(["+1 212 555 {:04d}", "(212) 555-{:04d}", "212.555.{:04d}"])
                writer.writerow(
                    [
                        word(i, 3),
                        word(i + 1_000_003),
                        f"colleague{i}@switchboard{company}.example",
                        phone.format(company),
                        f"{word(company + 3_000_003, 3)} Switchboard",
                        "Web",
                        "1,200",
                    ]
                )
                continue
            person = i if rng.random() > 0.1 else rng.randrange(max(1, i))
            again = person != i
            email = f"person{person}@company{person % 20000}.example"
            writer.writerow(
                [
                    word(person, 3),
                    word(person + 1_000_003),
                    email.upper() if again else email,
                    f"+1 415 {200 + person // 10000 % 800:03d} {person % 10000:04d}",
                    f"{word(person % 20000 + 2_000_003, 3)} Inc",
                    rng.choice(["Web", "Trade Show", "Partner Referral"]),
                    f"{rng.choice([5, 50, 1200, 25000]):,}",
                ]
            )


_NUMBERS = itertools.count(1)


def _ids(kind: str) -> str:
    return f"{kind}-{next(_NUMBERS)}"


def import_range(args: tuple[str, int, int, str]) -> tuple[Counter[str], int]:
    """Import the rows starting in bytes [start, end) of the file; counts and peak RSS (KiB)."""
    path, start, end, policy = args
    header = HEADER
    mapping = ColumnMapping.guess(header)
    counts: Counter[str] = Counter()
    with open(path, newline="", encoding="utf-8") as handle:  # noqa: PTH123 - byte offsets
        handle.seek(start)
        if start:
            handle.readline()  # the first partial line belongs to the previous range
        else:
            handle.readline()  # the header

        def rows():  # type: ignore[no-untyped-def]
            while handle.tell() < end:
                line = handle.readline()
                if not line:
                    return
                yield dict(zip(header, next(csv.reader([line])), strict=False))

        for outcome in import_leads(rows(), mapping, ids=_ids, now=NOW, on_duplicate=policy):  # type: ignore[arg-type]
            counts[outcome.status] += 1
    return counts, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def one_core(
    path: Path, policy: str, rule: MatchingRule | None = None
) -> tuple[Counter[str], float]:
    header, rows = read_csv(path)
    mapping = ColumnMapping.guess(header)
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    for outcome in import_leads(rows, mapping, ids=_ids, now=NOW, on_duplicate=policy, rule=rule):  # type: ignore[arg-type]
        counts[outcome.status] += 1
    return counts, time.perf_counter() - start


def with_rule(args: tuple[str, str]) -> tuple[Counter[str], float, int, int]:
    """In a fresh process: import with on_duplicate="skip" under the named rule.

    Returns the counts, the seconds, the switchboard colleagues skipped, and the peak RSS
    of this process (KiB).
    """
    path, name = args
    rule = {"standard": STANDARD_LEAD_RULE, "exact": EXACT_EMAIL_OR_PHONE, "create": None}[name]
    policy = "create" if name == "create" else "skip"
    header, rows = read_csv(path)
    mapping = ColumnMapping.guess(header)
    counts: Counter[str] = Counter()
    colleagues_skipped = 0
    current = [False]  # is the row being decided a switchboard colleague?

    def marked(rows: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
        for row in rows:
            current[0] = "@switchboard" in row.get("Email", "")
            yield row

    start = time.perf_counter()
    for outcome in import_leads(
        marked(rows),
        mapping,
        ids=_ids,
        now=NOW,
        on_duplicate=policy,  # type: ignore[arg-type]
        rule=rule,
    ):
        counts[outcome.status] += 1
        if outcome.status == "skipped" and current[0]:
            colleagues_skipped += 1
    seconds = time.perf_counter() - start
    return counts, seconds, colleagues_skipped, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def merge_into_sqlite(path: Path, database: Path) -> tuple[Counter[str], float]:
    header, rows = read_csv(path)
    mapping = ColumnMapping.guess(header)
    counts: Counter[str] = Counter()
    numbers = iter(range(10**9))
    start = time.perf_counter()
    with SQLiteUnitOfWork(SQLiteStore(database)) as uow:
        uow.index_rules([STANDARD_LEAD_RULE])  # as services.import_leads does
        run = import_leads(
            rows,
            mapping,
            ids=lambda kind: f"{kind}-{next(numbers)}",
            now=NOW,
            existing=uow.leads,
            on_duplicate="merge",
        )
        for n, outcome in enumerate(run, 1):
            counts[outcome.status] += 1
            if outcome.status == "created":
                uow.leads.add(outcome.lead)  # type: ignore[arg-type]
            elif outcome.status == "merged":
                uow.leads.update(outcome.lead)  # type: ignore[arg-type]
            if n % 5000 == 0:
                uow.commit()
        uow.commit()
    return counts, time.perf_counter() - start


def report(label: str, n: int, counts: Counter[str], seconds: float) -> None:
    """Print one single-process run: throughput and this process's peak RSS so far."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<40}{n / seconds:>10,.0f} rows/s, peak RSS {rss:,.0f} MB  {dict(counts)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each rule, alternated (default 2)"
    )
    parser.add_argument(
        "--company-size",
        type=int,
        default=200,
        help="leads per switchboard company (one phone for all; default %(default)s)",
    )
    parser.add_argument(
        "--only", choices=["create", "pool", "skip", "rules", "merge"], help="run one measure"
    )
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "leads.csv"
        write_csv(path, n, company_size=args.company_size)
        size = path.stat().st_size
        print(
            f"python {platform.python_version()} on {platform.machine()}, "
            f"{os.cpu_count()} cores: {n:,} rows, {size / 1e6:.0f} MB of CSV"
        )
        if args.only in (None, "create"):
            report("one core, no duplicate checks", n, *one_core(path, "create"))
        if args.only in (None, "pool"):
            workers = os.cpu_count() or 1
            cuts = [size * i // workers for i in range(workers + 1)]
            start = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                results = pool.map(
                    import_range,
                    [(str(path), cuts[i], cuts[i + 1], "create") for i in range(workers)],
                )
            seconds = time.perf_counter() - start
            total: Counter[str] = Counter()
            for counts, _ in results:
                total += counts
            peak = max(rss for _, rss in results) / 1024
            print(
                f"{f'process pool, {workers} workers':<40}{n / seconds:>10,.0f} rows/s, "
                f"peak worker RSS {peak:,.0f} MB  {dict(total)}"
            )
        if args.only in (None, "skip", "rules"):
            rates, peaks = {}, {}
            runs: list[tuple[str, float]] = []
            labels = {
                "create": "no checks (create), for memory",
                "exact": "skip, rule EXACT_EMAIL_OR_PHONE",
                "standard": "skip, rule STANDARD_LEAD_RULE",
            }
            # Alternated and repeated, each rule's best run counts: the machine's load moves.
            for name in ["create", *["exact", "standard"] * args.repeats]:
                with multiprocessing.get_context("spawn").Pool(1) as pool:
                    [(counts, seconds, colleagues, rss)] = pool.map(with_rule, [(str(path), name)])
                rates[name] = max(rates.get(name, 0.0), n / seconds)
                runs.append((name, n / seconds))
                peaks[name] = rss / 1024
                print(
                    f"{labels[name]:<40}{n / seconds:>10,.0f} rows/s, peak RSS {peaks[name]:,.0f} "
                    f"MB  {dict(counts)}; switchboard colleagues skipped: {colleagues:,}"
                )
            print(
                f"{'standard / exact keys, best of each':<40}"
                f"{rates['standard'] / rates['exact']:>10.2f}x (target >= 0.5x)"
            )
            paired = sorted(
                standard / exact
                for (_, exact), (_, standard) in zip(runs[1::2], runs[2::2], strict=True)
            )
            print(
                f"{'standard / exact keys, paired runs':<40}"
                + ", ".join(f"{ratio:.2f}x" for ratio in paired)
                + f" (median {statistics.median(paired):.2f}x)"
            )
            for name in ("exact", "standard"):
                extra = (peaks[name] - peaks["create"]) * 1024 * 1024 / n
                print(f"{'  index memory, ' + name:<40}{extra:>10,.0f} bytes a row over create")
        if args.only in (None, "merge"):
            database = Path(directory) / "leads.db"
            report("one core, merging into SQLite", n, *merge_into_sqlite(path, database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
