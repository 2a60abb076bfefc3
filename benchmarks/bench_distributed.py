"""Scoring N leads on a 2-worker Dask LocalCluster against one process (issue 19).

Run: python benchmarks/bench_distributed.py [--size N] [--partitions P] [--quick] [--blocks]

N leads (200,000 by default; ``--size 1000000`` for the acceptance size) are generated
deterministically from their number, partition by partition, on the workers (nothing is
shipped from the client), and scored with a :class:`~leadmodel.ScoringModel` by
:func:`leadmodel.distributed.score_dask` on a ``LocalCluster(n_workers=2,
threads_per_worker=1)``. The same leads are then generated and scored in this process with
:func:`leadmodel.distributed.score_rows` (one core: scoring is pure Python). The benchmark
prints both wall times, the ratio distributed / single, the peak resident memory of each
worker process, and checks that every (id, score) pair is equal.

``--blocks`` instead measures the inputs of the sizing model (docs/api/sizing.md) in one
process: ``find_duplicates_report`` with ``STANDARD_LEAD_RULE`` on N seeded synthetic leads
(``synthetic_leads.generate``): time, candidate pairs, comparisons, matches, distinct
blocking keys, keys per record, the candidate-pair count computed from the block sizes, and
peak memory.

Deduplication on the cluster (``find_duplicates_dask``, issue 19 part 2) is not measured
here yet: the function did not exist when this benchmark was written.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadmodel import Condition, EngagementRule, FitRule, Lead, ScoringModel
from leadmodel.distributed import score_dask, score_rows

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 10),
        FitRule("big", Condition("employees", "gte", 500), 15),
        FitRule("cto", Condition("title", "contains", "CTO"), 7),
        FitRule("us", Condition("country", "eq", "US"), 3),
    ],
    engagement=[EngagementRule("opens", "email_opened", 5, cap=12)],
)
SOURCES = ("Web", "Fair", "Partner", "Referral", None)
TITLES = ("CTO", "Sales rep", "Deputy CTO", None, "Engineer")


def make_leads(start: int, stop: int) -> list[Lead]:
    """Leads number *start* to *stop* - 1, each a function of its number only."""
    return [
        Lead(
            id=f"L{i:08d}",
            last_name=f"Name{i % 9973}",
            company=f"Company {i % 4999}",
            source=SOURCES[i % 5],
            title=TITLES[(i // 5) % 5],
            employees=(i * 37) % 5000,
        )
        for i in range(start, stop)
    ]


def _bounds(size: int, partitions: int) -> list[tuple[int, int]]:
    step = -(-size // partitions)
    return [(s, min(s + step, size)) for s in range(0, size, step)]


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_distributed(size: int, partitions: int) -> tuple[float, Any, dict[str, float]]:
    import dask.bag as db

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: None)  # workers up before the clock starts
        started = time.perf_counter()
        bag = (
            db.from_sequence(_bounds(size, partitions), npartitions=partitions)
            .map(lambda bounds: make_leads(*bounds))
            .flatten()
        )
        result = score_dask(bag, MODEL, now=NOW).compute()
        elapsed = time.perf_counter() - started
        peaks = client.run(_peak_rss_mb)
    return elapsed, result, peaks


def measure_blocks(size: int) -> None:
    """Print the sizing model's inputs for *size* synthetic leads, deduplicated in one process."""
    import collections

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synthetic_leads import generate

    from leadmodel import STANDARD_LEAD_RULE, find_duplicates_report

    leads, _ = generate(size)
    started = time.perf_counter()
    run = find_duplicates_report(leads, STANDARD_LEAD_RULE)
    wall = time.perf_counter() - started
    compiled = STANDARD_LEAD_RULE.compile()
    sizes: collections.Counter[object] = collections.Counter()
    for lead in leads:
        sizes.update(compiled.prepare_blocked(lead)[1])
    cap, window = STANDARD_LEAD_RULE.key_cap or size, STANDARD_LEAD_RULE.window
    pairs = sum(
        s * (s - 1) // 2 if s <= cap else 2 * s * (window - 1) for s in sizes.values() if s > 1
    )
    print(f"find_duplicates_report, one process: {wall:.1f} s for {run.records:,} records")
    print(
        f"candidate pairs {run.candidate_pairs:,} (from block sizes: {pairs:,}), "
        f"comparisons {run.comparisons:,}, matches {run.matches:,}, groups {len(run.groups):,}, "
        f"oversized blocks {len(run.oversized):,}"
    )
    print(
        f"distinct keys {len(sizes):,}, keys per record {sum(sizes.values()) / size:.2f}, "
        f"peak RSS {_peak_rss_mb():.0f} MB"
    )


_CSV_COLUMNS = ("first_name", "last_name", "email", "company", "phone", "title")


def _read_csv(path: str) -> list[dict[str, object]]:
    """The single-process reading of the raw CSV (as ``bench_million.py`` reads it)."""
    import csv

    records: list[dict[str, object]] = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            record: dict[str, object] = {"id": row["lead_id"]}
            for column in _CSV_COLUMNS:
                record[column] = row[column]
            record["address"] = {"city": row["city"]}
            records.append(record)
    return records


def _digest(groups: Any) -> str:
    """A fingerprint of groups, edges and match results (equal groups, equal digests)."""
    import hashlib

    digest = hashlib.sha256()
    for group in groups:
        digest.update(repr((group.ids, group.edges)).encode())
    return digest.hexdigest()


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (forked preparation)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _single(path: str, cores: int, out: Any) -> None:
    """One process from raw CSV to groups, held to *cores* cores; figures into *out*."""
    from leadmodel import STANDARD_LEAD_RULE, find_duplicates

    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    started, cpu = time.perf_counter(), _cpu_seconds()
    groups = find_duplicates(_read_csv(path), STANDARD_LEAD_RULE)
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    out.put((wall, len(groups), _digest(groups), _peak_rss_mb(), cpu))


def _single_run(path: str, cores: int) -> tuple[float, int, str, float, float]:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_single, args=(path, cores, queue))
    process.start()
    figures = queue.get()
    process.join()
    return figures  # type: ignore[no-any-return]


def _warm() -> None:
    import pandas as pd  # noqa: F401

    import leadmodel.distributed._dedupe  # noqa: F401


def _cluster_run(client: Any, path: str, blocksize: str) -> tuple[float, float, Any, int]:
    """``find_duplicates_dask`` from the raw CSV on *client*'s cluster: wall, CPU, groups."""
    import dask.dataframe as dd

    from leadmodel import STANDARD_LEAD_RULE
    from leadmodel.distributed import find_duplicates_dask

    client.restart()  # fresh workers: no memo or cache left from a previous run
    # Workers that have imported leadmodel, as the process of the single run has.
    client.run(_warm)
    workers_cpu = client.run(_cpu_seconds)
    started, cpu = time.perf_counter(), _cpu_seconds()
    frame = dd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        blocksize=blocksize,
        usecols=["lead_id", *_CSV_COLUMNS, "city"],
    ).rename(columns={"city": "address.city"})
    groups = find_duplicates_dask(frame, STANDARD_LEAD_RULE, client=client, id_column="lead_id")
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    cpu += sum(client.run(_cpu_seconds).values()) - sum(workers_cpu.values())
    return wall, cpu, groups, frame.npartitions


def run_dedupe(path: str, blocksize: str, repeat: int) -> bool:
    """Deduplicate the raw CSV at *path* on the cluster and in one process; whether equal.

    The one-core run and the cluster run alternate *repeat* times (the machine's load
    changes over minutes); medians are compared.
    """
    import statistics

    from distributed import Client, LocalCluster

    two_cores = _single_run(path, 2)
    singles, clusters = [], []
    digests = {two_cores[2]}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        for _ in range(repeat):
            single = _single_run(path, 1)
            singles.append(single)
            digests.add(single[2])
            wall, cpu, groups, partitions = _cluster_run(client, path, blocksize)
            clusters.append((wall, cpu))
            digests.add(_digest(groups))
            print(
                f"  one core {single[0]:6.2f} s (CPU {single[4]:6.2f} s), "
                f"cluster {wall:6.2f} s (CPU {cpu:6.2f} s): {wall / single[0]:.2f}",
                flush=True,
            )
        peaks = client.run(_peak_rss_mb)
    one_core = statistics.median(run[0] for run in singles)
    one_cpu = statistics.median(run[4] for run in singles)
    wall = statistics.median(run[0] for run in clusters)
    cpu = statistics.median(run[1] for run in clusters)
    print(f"dedupe: {path}, STANDARD_LEAD_RULE, from raw CSV to groups, medians of {repeat}")
    print(
        f"one process, held to one core:      {one_core:8.2f} s  CPU {one_cpu:7.2f} s  "
        f"RSS {singles[0][3]:6.0f} MB"
    )
    print(f"one process, two cores (no target): {two_cores[0]:8.2f} s  CPU {two_cores[4]:7.2f} s")
    print(
        f"find_duplicates_dask, LocalCluster(2 workers x 1 thread), {partitions} partitions: "
        f"{wall:8.2f} s  CPU {cpu:7.2f} s (workers, client and scheduler)"
    )
    print(f"ratio cluster / one core:  {wall / one_core:6.2f}  (target <= 0.70)")
    print(f"CPU ratio cluster / one core: {cpu / one_cpu:6.2f}")
    print(f"ratio cluster / two cores: {wall / two_cores[0]:6.2f}")
    for address, peak in sorted(peaks.items()):
        print(f"peak RSS of worker {address} (last run): {peak:8.0f} MB  (target <= 2048)")
    same = len(digests) == 1
    print(f"groups equal in every run: {same} ({singles[0][1]:,} groups)")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="10,000 leads")
    parser.add_argument("--blocks", action="store_true", help="the sizing model's inputs")
    parser.add_argument(
        "--dedupe", metavar="CSV", help="find_duplicates_dask on this raw CSV (gen_leads.py)"
    )
    parser.add_argument("--blocksize", default="8MB", help="CSV bytes per partition (--dedupe)")
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs (--dedupe)")
    args = parser.parse_args()
    size = 10_000 if args.quick else args.size
    if args.blocks:
        measure_blocks(size)
        return
    if args.dedupe:
        if not run_dedupe(args.dedupe, args.blocksize, args.repeat):
            sys.exit(1)
        return
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"{size:,} leads, {args.partitions} partitions, model of {len(MODEL.fit)} fit rules")

    wall, frame, peaks = run_distributed(size, args.partitions)
    print(f"score_dask on LocalCluster(2 workers x 1 thread): {wall:8.2f} s")

    started = time.perf_counter()
    single = score_rows(make_leads(0, size), MODEL, now=NOW)
    single_wall = time.perf_counter() - started
    print(f"score_rows in one process (one core):           {single_wall:8.2f} s")
    print(f"ratio distributed / single:                      {wall / single_wall:8.2f}")
    for address, peak in sorted(peaks.items()):
        print(f"peak RSS of worker {address}: {peak:8.0f} MB")
    print(f"peak RSS of this process (single run + result): {_peak_rss_mb():8.0f} MB")

    pairs = list(zip(frame["id"].tolist(), frame["score"].tolist(), strict=True))
    expected = [(lead_id, value) for lead_id, value, _ in single]
    same = pairs == expected
    print(f"scores equal: {same} ({len(pairs):,} rows)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
