"""Are learnt match probabilities honest on hard data? (issue 16)

``synthetic_leads.py``'s hard mode: colleagues at one company with the same title and
different names, and switchboard phones shared by a company's leads. The weights are learnt
without labels (``estimate_weights``); every candidate pair the rule's blocking proposes
(every pair of every block, switchboard blocks included) is compared and labelled by the
generator's truth, and ``calibration_report`` scores the probabilities. The same rule
without the name gate on company and title is the baseline, run on the same leads.

Run: PYTHONPATH=src python benchmarks/bench_calibration.py [n] [seed]

Issue 16's targets: expected calibration error <= 0.05 and precision >= 0.98 among pairs
at p >= 0.5.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import attrs
from synthetic_leads import generate

from leadmodel import (
    PROBABILISTIC_LEAD_RULE,
    MatchingRule,
    calibration_report,
    estimate_weights,
)

RULE = PROBABILISTIC_LEAD_RULE
UNGATED = attrs.evolve(RULE, matchers=tuple(attrs.evolve(m, gated_by=()) for m in RULE.matchers))


def candidate_pairs(rule: MatchingRule, leads: list) -> tuple[list, set[tuple[int, int]]]:
    """Prepared leads (sorted by id) and every pair sharing a blocking key."""
    compiled = rule.compile()
    items = sorted(leads, key=lambda lead: lead.id)
    prepared, buckets = [], {}
    for index, lead in enumerate(items):
        values, keys = compiled.prepare_blocked(lead)
        prepared.append(values)
        for key in keys:
            buckets.setdefault(key, []).append(index)
    pairs = set()
    for members in buckets.values():
        for x, first in enumerate(members):
            for second in members[x + 1 :]:
                pairs.add((first, second))
    return [items, prepared], pairs


def measure(label: str, rule: MatchingRule, leads: list, truth: dict[str, str]) -> None:
    start = time.perf_counter()
    learnt = estimate_weights(leads, rule)
    learn_time = time.perf_counter() - start
    (items, prepared), pairs = candidate_pairs(learnt, leads)
    compiled = learnt.compile()
    start = time.perf_counter()
    probabilities, labels = [], []
    for i, j in sorted(pairs):
        probabilities.append(compiled.compare_prepared(prepared[i], prepared[j]).probability)
        labels.append(truth[items[i].id] == truth[items[j].id])
    compare_time = time.perf_counter() - start
    report = calibration_report(probabilities, labels)
    flagged = [label for p, label in zip(probabilities, labels, strict=True) if p >= 0.5]
    precision = sum(flagged) / len(flagged) if flagged else 1.0
    recall = sum(flagged) / sum(labels) if any(labels) else 1.0
    print(
        f"{label}: learnt in {learn_time:.1f} s, {len(pairs):,} pairs compared in "
        f"{compare_time:.1f} s; prior {learnt.prior:.2e}"
    )
    print(f"  at p >= 0.5: {len(flagged):,} pairs, precision {precision:.4f}, recall {recall:.4f}")
    print("  " + report.explain().replace("\n", "\n  "))
    # Almost every pair is a clear non-match predicted near 0, which keeps the ECE of all
    # pairs small; the pairs the model is unsure or positive about tell more.
    unsure = [(p, label) for p, label in zip(probabilities, labels, strict=True) if p >= 0.1]
    if unsure:
        part = calibration_report([p for p, _ in unsure], [label for _, label in unsure])
        print(
            f"  pairs at p >= 0.1: {part.count:,}, ECE {part.expected_calibration_error:.4f}, "
            f"Brier {part.brier_score:.4f}"
        )


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    leads, truth = generate(n, seed=seed, mode="hard")
    phones = Counter(lead.phone.e164 for lead in leads if lead.phone)
    shared = sorted(size for size in phones.values() if size >= 20)
    print(
        f"{len(leads):,} hard leads (seed {seed}), {len(set(truth.values())):,} people; "
        f"switchboard blocks: {len(shared)}, {shared[0] if shared else 0}"
        f"-{shared[-1] if shared else 0} leads"
    )
    measure("gated rule (company and title need both names)", RULE, leads, truth)
    measure("baseline: the same rule ungated", UNGATED, leads, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
