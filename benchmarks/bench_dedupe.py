"""Duplicate detection: quality and speed of ``find_duplicates`` and ``DuplicateIndex``.

Run: python benchmarks/bench_dedupe.py [--sizes 10000 100000 1000000] [--queries 2000]

On the seeded synthetic leads of ``synthetic_leads.py`` (duplicates with nicknames, typos,
email case, phone formats, company suffixes, swapped names and missing fields; hard
negatives kept apart), for each size it prints:

- precision, recall and F1 of ``STANDARD_LEAD_RULE`` (pairs within predicted groups
  against the true pairs);
- the wall time of ``find_duplicates`` beside a minimal hand-written baseline run in the
  same process on the same records (normalise, block on email / phone / name keys, compare
  with rapidfuzz, union-find), with the ratio and the baseline's own F1;
- peak RSS so far;
- ``DuplicateIndex.matches`` latency (median and p99) with the whole table indexed.

Issue 3's targets: F1 >= 0.95 with precision >= 0.98; 1,000,000 leads in <= 60 s, <= 4 GB
peak RSS and <= 3x the baseline; an index query <= 1 ms median and <= 5 ms p99.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import jellyfish
from rapidfuzz.distance import JaroWinkler

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_leads import generate, true_pairs

from leadmodel import STANDARD_LEAD_RULE, DuplicateIndex, Lead, find_duplicates
from leadmodel.rules.normalize import normalize_person_name


def pairs_of(groups: list[tuple[str, ...]]) -> set[tuple[str, str]]:
    found = set()
    for group in groups:
        ids = sorted(group)
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                found.add((a, b))
    return found


def quality(
    predicted: set[tuple[str, str]], truth: set[tuple[str, str]]
) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def baseline(leads: list[Lead]) -> list[tuple[str, ...]]:
    """The minimal hand-written pipeline the issue compares against."""
    rows = []
    for lead in leads:
        first = normalize_person_name(lead.first_name) or ""
        last = normalize_person_name(lead.last_name) or ""
        rows.append(
            (
                lead.id,
                f"{first} {last}".strip(),
                lead.email.normalized if lead.email else None,
                lead.phone.e164 if lead.phone else None,
                jellyfish.metaphone(last) if last else "",
            )
        )
    blocks: dict[str, list[int]] = {}
    for index, (_, _, email, phone, sound) in enumerate(rows):
        for key in (
            f"e:{email}" if email else None,
            f"p:{phone}" if phone else None,
            f"n:{sound}:{phone[:8]}" if phone and sound else None,
        ):
            if key:
                blocks.setdefault(key, []).append(index)
    parents = list(range(len(rows)))

    def find(i: int) -> int:
        while parents[i] != i:
            parents[i] = parents[parents[i]]
            i = parents[i]
        return i

    seen: set[tuple[int, int]] = set()
    for members in blocks.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if (i, j) in seen:
                    continue
                seen.add((i, j))
                name_i, name_j = rows[i][1], rows[j][1]
                if JaroWinkler.normalized_similarity(name_i, name_j) >= 0.85 or (
                    JaroWinkler.normalized_similarity(name_i, " ".join(reversed(name_j.split())))
                    >= 0.85
                ):
                    root_i, root_j = find(i), find(j)
                    if root_i != root_j:
                        parents[max(root_i, root_j)] = min(root_i, root_j)
    groups: dict[int, list[str]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(find(index), []).append(row[0])
    return [tuple(sorted(members)) for members in groups.values() if len(members) > 1]


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run(size: int, queries: int) -> None:
    start = time.perf_counter()
    leads, truth = generate(size)
    generated = time.perf_counter() - start
    expected = true_pairs(truth)

    start = time.perf_counter()
    groups = find_duplicates(leads, STANDARD_LEAD_RULE)
    ours = time.perf_counter() - start
    precision, recall, f1 = quality(pairs_of([g.ids for g in groups]), expected)

    start = time.perf_counter()
    base_groups = baseline(leads)
    base = time.perf_counter() - start
    _, _, base_f1 = quality(pairs_of(base_groups), expected)
    rss = peak_rss_mb()

    index = DuplicateIndex(STANDARD_LEAD_RULE, leads)
    step = max(1, len(leads) // queries)
    latencies = []
    for lead in leads[::step][:queries]:
        begin = time.perf_counter()
        index.matches(lead)
        latencies.append((time.perf_counter() - begin) * 1000)
    latencies.sort()
    median = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]

    print(f"\n{size:,} leads ({len(expected):,} true pairs; generated in {generated:.1f} s)")
    print(f"  STANDARD_LEAD_RULE   precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
    print(
        f"  find_duplicates      {ours:8.2f} s   baseline {base:6.2f} s "
        f"(F1 {base_f1:.4f})   ratio {ours / base:.2f}x"
    )
    print(f"  peak RSS             {rss:,} MB")
    print(
        f"  DuplicateIndex       median {median:.3f} ms   p99 {p99:.3f} ms "
        f"  ({len(latencies)} queries)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}")
    for size in args.sizes:
        run(size, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
