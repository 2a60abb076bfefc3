"""A lead table from its raw CSV: leadmodel beside Splink (DuckDB) and a minimal script.

Run: python benchmarks/bench_million.py LEADS.csv [--peers DIR] [--peer-python PYTHON]
                                         [--skip-splink] [--skip-minimal] [--repeat N]

LEADS.csv comes from the independent generator of the peer benchmarks
(``python DIR/gen_leads.py 1000000 LEADS.csv --seed 42``: leads with a ground-truth
``entity_id``). Each contender runs in its own process, one after the other, from the same
raw file, and is timed from reading it to its clusters:

- leadmodel: ``csv.DictReader`` rows mapped to dicts, ``find_duplicates`` with
  ``STANDARD_LEAD_RULE``; then, separately, ``DuplicateIndex`` built from the same rows;
- Splink 5 + DuckDB: ``DIR/splink_leads.py`` (its loose ``l3c`` blocking), with
  *--peer-python* (an environment with splink and duckdb);
- the minimal script: ``DIR/dedup_leads.py`` (blocked rapidfuzz, union-find).

Quality is the cluster-pair precision, recall and F1 against ``entity_id`` (pairs within
predicted clusters against pairs within true entities). Peak RSS is each process's
``ru_maxrss`` (leadmodel's forked preparation workers, if any, are reported apart). The
DuplicateIndex line compares its construction with the minimal script's own reading,
normalising and blocking of the same leads. On a shared machine, ``--repeat N`` runs the
contenders in N interleaved rounds and compares their best times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

_COLUMNS = ("first_name", "last_name", "email", "company", "phone", "title")


def _read(path: str) -> tuple[list[dict[str, object]], dict[str, str]]:
    records: list[dict[str, object]] = []
    entity: dict[str, str] = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            record: dict[str, object] = {"id": row["lead_id"]}
            for column in _COLUMNS:
                record[column] = row[column]
            record["address"] = {"city": row["city"]}
            records.append(record)
            entity[row["lead_id"]] = row["entity_id"]
    return records, entity


def _pair_count(sizes: list[int]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def _quality(groups: list[tuple[str, ...]], entity: dict[str, str]) -> dict[str, float]:
    members: dict[str, int] = defaultdict(int)
    for entity_id in entity.values():
        members[entity_id] += 1
    true_pairs = _pair_count(list(members.values()))
    predicted = hits = 0
    for ids in groups:
        predicted += len(ids) * (len(ids) - 1) // 2
        shared: dict[str, int] = defaultdict(int)
        for record_id in ids:
            shared[entity[record_id]] += 1
        hits += _pair_count(list(shared.values()))
    precision = hits / predicted if predicted else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def ours(path: str) -> dict[str, float]:
    """leadmodel's run, in this process; prints nothing, returns the figures."""
    from leadmodel import STANDARD_LEAD_RULE, DuplicateIndex, find_duplicates

    start = time.perf_counter()
    records, entity = _read(path)
    read = time.perf_counter() - start
    groups = find_duplicates(records, STANDARD_LEAD_RULE)
    total = time.perf_counter() - start
    figures = {"seconds": total, "read_seconds": read, **_quality([g.ids for g in groups], entity)}
    figures["rss_mb"] = _rss_mb(resource.RUSAGE_SELF)
    figures["workers_rss_mb"] = _rss_mb(resource.RUSAGE_CHILDREN)
    del groups
    begin = time.perf_counter()
    records, _ = _read(path)
    index = DuplicateIndex(STANDARD_LEAD_RULE, records)
    figures["index_seconds"] = time.perf_counter() - begin
    figures["indexed"] = len(index)
    return figures


def _timed(command: list[str]) -> tuple[str, float, float]:
    """Run *command*: its output, wall time and peak RSS (MB, measured by ``wait4``)."""
    start = time.perf_counter()
    # Our own scripts and interpreters, from the command line.
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read() if process.stdout is not None else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed:\n{output[-2000:]}")
    return output, wall, usage.ru_maxrss / 1024


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else float("nan")


def _ours(path: str) -> dict[str, float]:
    output, _, _ = _timed([sys.executable, __file__, path, "--ours-only"])
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    print(
        f"leadmodel find_duplicates  {figures['seconds']:8.1f} s"
        f" (reading {figures['read_seconds']:.1f} s)"
        f"  P {figures['precision']:.4f}  R {figures['recall']:.4f}  F1 {figures['f1']:.4f}"
        f"  peak RSS {figures['rss_mb']:,.0f} MB (workers {figures['workers_rss_mb']:,.0f} MB)"
    )
    print(f"leadmodel DuplicateIndex   {figures['index_seconds']:8.1f} s (reading included)")
    return figures


def _splink(path: str, peers: Path, python: str) -> float:
    output, wall, rss = _timed([python, str(peers / "splink_leads.py"), path])
    seconds = _number(r"time TOTAL\s+([\d.]+)s", output)
    f1 = _number(r"cluster pairs @0.9: .*F1=([\d.]+)", output)
    print(f"Splink + DuckDB            {seconds:8.1f} s (process {wall:.1f} s)"
          f"  cluster F1 {f1:.4f}  peak RSS {rss:,.0f} MB")  # fmt: skip
    return seconds


def _minimal(path: str, peers: Path) -> tuple[float, float]:
    output, _, rss = _timed([sys.executable, str(peers / "dedup_leads.py"), path])
    seconds = _number(r"time TOTAL\s+([\d.]+)s", output)
    blocking = _number(r"time load\+normalise\s+([\d.]+)s", output) + _number(
        r"time blocking\s+([\d.]+)s", output
    )
    f1 = _number(r"cluster pairs: .*F1=([\d.]+)", output)
    print(
        f"minimal script             {seconds:8.1f} s  cluster F1 {f1:.4f}"
        f"  peak RSS {rss:,.0f} MB; reading, normalising, blocking {blocking:.1f} s"
    )
    return seconds, blocking


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--peers", default="/work/shared/bench")
    parser.add_argument("--peer-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--skip-minimal", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds, interleaved; the best time of each counts"
    )
    parser.add_argument("--ours-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_only:
        print(json.dumps(ours(args.csv)))
        return 0
    peers = Path(args.peers)
    print(f"{args.csv}: python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    best: dict[str, float] = {}
    index = blocking = float("inf")
    for round_ in range(1, args.repeat + 1):
        if args.repeat > 1:
            print(f"round {round_} (load average {os.getloadavg()[0]:.2f})")
        figures = _ours(args.csv)
        best["leadmodel"] = min(best.get("leadmodel", float("inf")), figures["seconds"])
        index = min(index, figures["index_seconds"])
        if not args.skip_splink:
            seconds = _splink(args.csv, peers, args.peer_python)
            best["splink"] = min(best.get("splink", float("inf")), seconds)
        if not args.skip_minimal:
            seconds, blocked = _minimal(args.csv, peers)
            best["minimal"] = min(best.get("minimal", float("inf")), seconds)
            blocking = min(blocking, blocked)
    print("best times:", ", ".join(f"{name} {seconds:.1f} s" for name, seconds in best.items()))
    if not args.skip_minimal:
        print(f"DuplicateIndex / minimal blocking: {index / blocking:.2f}x")
    for name, seconds in best.items():
        if name != "leadmodel":
            print(f"leadmodel / {name}: {best['leadmodel'] / seconds:.2f}x")
    print(f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
