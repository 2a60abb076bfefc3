"""Compare this checkout's benchmarks under two releases: new/old throughput, interleaved.

Run:
    python benchmarks/compare_release.py --old-python /work/prev-venv/bin/python \\
        --new-python /work/venv/bin/python --runs 5 [--quick] [--only NAME] [--json PATH]

Each benchmark script is taken from *this* directory (the new checkout's ``benchmarks/``)
and run once per round with each interpreter; the interpreter alone decides which
``leadmodel`` is imported. Before the runs, each interpreter reports its
``leadmodel.__file__`` (from the directory the scripts run in, without ``PYTHONPATH``); the
two must differ, and every run must print (``leadmodel.__file__ = <file>``) the one its
interpreter reported, or the run counts as failed. Rounds alternate which release goes
first (old, new; then new, old; …), so a machine that slows down or speeds up during the
comparison weighs on both alike.

Each script ends with ``RESULT <name>=<value>`` lines (throughputs: higher is better). For
every metric this prints the old and the new median, the ratio of the medians (new/old) and
the median of the per-round ratios, against the acceptance threshold (0.85 by default;
``--check`` makes a ratio of medians under it the exit status 1). ``INFO <name>=<value>``
lines (such as ``bench_capture``'s first capture, which includes work done once per store)
are shown the same way but not judged.

The benchmarks and their arguments:

* ``bench_sqlite.py --lookup-rows 0``: 100,000 CSV-like rows loaded into SQLite with
  duplicate checks (``load_rows_per_s``), and imported through ``import_leads`` with
  ``--dedupe`` (``import_rows_per_s``).
* ``bench_capture.py --store sqlite --on-duplicate block``: 20,000 form submissions
  captured through ``services.capture_lead`` into a SQLite file holding 100,000 leads,
  with a blocking duplicate policy (``captures_per_s``).

``--quick`` passes ``--quick`` to both (a few seconds a run) to check the set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS: dict[str, list[str]] = {
    "bench_sqlite.py": ["--lookup-rows", "0"],
    "bench_capture.py": ["--store", "sqlite", "--on-duplicate", "block"],
}
RESULT = re.compile(r"^(RESULT|INFO) ([A-Za-z_][A-Za-z0-9_]*)=([-+0-9.eE]+)\s*$")
LEADMODEL = re.compile(r"^leadmodel\.__file__ = (\S.*)$")
WHERE = "import leadmodel, platform; print(leadmodel.__file__); print(platform.python_version())"


def environment() -> dict[str, str]:
    """The child processes' environment: no PYTHONPATH, a fixed hash seed."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PYTHONHASHSEED"] = "0"
    return env


def where(python: str) -> tuple[str, str]:
    """The ``leadmodel.__file__`` and Python version *python* has, seen from HERE."""
    done = subprocess.run(  # noqa: S603 - interpreters the user named
        [python, "-c", WHERE],
        cwd=HERE,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{python} cannot import leadmodel:\n{done.stderr}")
    module, version = done.stdout.split()
    return module, version


def run(python: str, script: str, args: list[str], expected: str, log: Path | None) -> dict:
    """One run of *script* with *python*: its RESULT values, or the reason it failed."""
    command = [python, str(HERE / script), *args]
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - interpreters the user named, scripts beside this one
        command, cwd=HERE, env=environment(), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if log is not None:
        log.write_text(f"$ {' '.join(command)}\n{done.stdout}\n--- stderr\n{done.stderr}")
    results: dict[str, float] = {}
    info: dict[str, float] = {}
    imported = None
    for line in done.stdout.splitlines():
        if match := RESULT.match(line):
            into = results if match.group(1) == "RESULT" else info
            into[match.group(2)] = float(match.group(3))
        elif match := LEADMODEL.match(line):
            imported = match.group(1).strip()
    problem = None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-6:])
        problem = f"exit status {done.returncode}:\n{tail}"
    elif imported != expected:
        problem = f"imported leadmodel from {imported}, expected {expected}"
    elif not results:
        problem = "printed no RESULT line"
    return {"results": results, "info": info, "seconds": seconds, "problem": problem}


def summary(runs: dict[str, list[dict]], threshold: float) -> tuple[list[dict], bool]:
    """Per script and metric: medians, ratios and whether the ratio of medians passes."""
    rows = []
    ok = True
    for script in BENCHMARKS:
        old_runs = [r for r in runs["old"] if r["script"] == script]
        new_runs = [r for r in runs["new"] if r["script"] == script]
        for field in ("results", "info"):
            names = sorted({n for r in old_runs + new_runs for n in r[field]})
            for name in names:
                row = compare(old_runs, new_runs, field, name)
                row["script"] = script
                row["judged"] = field == "results"
                if row["judged"]:
                    row["passes"] = row.get("ratio_of_medians", 0.0) >= threshold
                    ok = ok and row["passes"]
                rows.append(row)
    return rows, ok


def compare(old_runs: list[dict], new_runs: list[dict], field: str, name: str) -> dict:
    """One metric's figures: both medians, their ratio, and the median per-round ratio."""
    old = [r[field][name] for r in old_runs if name in r[field]]
    new = [r[field][name] for r in new_runs if name in r[field]]
    row: dict = {"metric": name, "old": old, "new": new}
    if not old or not new:
        return row
    paired = [
        n[field][name] / o[field][name]
        for o, n in zip(old_runs, new_runs, strict=False)  # both lists in round order
        if name in o[field] and name in n[field] and o[field][name]
    ]
    row.update(
        old_median=statistics.median(old),
        new_median=statistics.median(new),
        ratio_of_medians=statistics.median(new) / statistics.median(old),
        median_of_ratios=statistics.median(paired) if paired else None,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-python", required=True, help="the previous release's python")
    parser.add_argument("--new-python", default=sys.executable, help="this checkout's python")
    parser.add_argument("--runs", type=int, default=5, help="rounds (each runs old and new)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to each benchmark")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), help="repeatable")
    parser.add_argument("--threshold", type=float, default=0.85)
    parser.add_argument("--check", action="store_true", help="exit 1 under the threshold")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--log-dir", type=Path, help="keep each run's output here")
    args = parser.parse_args()
    if args.only:
        for script in list(BENCHMARKS):
            if script not in args.only:
                del BENCHMARKS[script]
    pythons = {"old": args.old_python, "new": args.new_python}
    modules = {}
    for label, python in pythons.items():
        module, version = where(python)
        modules[label] = module
        print(f"{label}: {python} (Python {version}) imports {module}")
    if Path(modules["old"]).resolve() == Path(modules["new"]).resolve():
        sys.exit("both interpreters import the same leadmodel: nothing to compare")
    print(f"scripts from {HERE}; {args.runs} rounds; {platform.node()}, {os.cpu_count()} CPUs")
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    failures = 0
    started = datetime.now(UTC)
    for round_ in range(args.runs):
        order = ("old", "new") if round_ % 2 == 0 else ("new", "old")
        for script, script_args in BENCHMARKS.items():
            for label in order:
                extra = [*script_args, "--quick"] if args.quick else script_args
                log = None
                if args.log_dir is not None:
                    log = args.log_dir / f"{Path(script).stem}-{label}-{round_ + 1}.log"
                outcome = run(pythons[label], script, extra, modules[label], log)
                outcome["script"] = script
                outcome["round"] = round_ + 1
                values = {**outcome["results"], **outcome["info"]}
                figures = ", ".join(f"{k}={v:,.1f}" for k, v in values.items())
                print(
                    f"round {round_ + 1} {script:<17} {label}: "
                    f"{figures or '-'} ({outcome['seconds']:.1f} s)",
                    flush=True,
                )
                if outcome["problem"] is not None:
                    failures += 1
                    print(f"   FAILED: {outcome['problem']}", flush=True)
                    outcome["results"] = {}
                    outcome["info"] = {}
                runs[label].append(outcome)
    rows, ok = summary(runs, args.threshold)
    report(rows, args.runs, args.threshold)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "started": started.isoformat(),
                    "pythons": pythons,
                    "leadmodel": modules,
                    "benchmarks": BENCHMARKS,
                    "quick": args.quick,
                    "runs": runs,
                    "summary": rows,
                },
                indent=2,
            )
        )
    if failures:
        print(f"{failures} run(s) failed")
        return 2
    return 1 if args.check and not ok else 0


def verdict(row: dict, threshold: float) -> str:
    if not row["judged"]:
        return "(info, not judged)"
    return "ok" if row["passes"] else f"UNDER {threshold}"


def report(rows: list[dict], runs: int, threshold: float) -> None:
    print()
    print(
        f"{'benchmark':<17} {'metric':<18} {'old median':>12} {'new median':>12} "
        f"{'new/old':>8} {'paired':>8}"
    )
    for row in rows:
        if "ratio_of_medians" not in row:
            print(f"{row['script']:<17} {row['metric']:<18} missing runs")
            continue
        paired = row["median_of_ratios"]
        print(
            f"{row['script']:<17} {row['metric']:<18} {row['old_median']:>12,.1f} "
            f"{row['new_median']:>12,.1f} {row['ratio_of_medians']:>8.3f} "
            f"{paired if paired is None else format(paired, '.3f'):>8} "
            f"{verdict(row, threshold)}"
        )
    print(
        f"new/old = ratio of the medians over {runs} runs each; paired = median of the "
        f"per-round ratios; threshold {threshold}"
    )


if __name__ == "__main__":
    sys.exit(main())
