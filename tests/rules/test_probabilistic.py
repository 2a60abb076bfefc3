import sys
from pathlib import Path

import pytest
from hypothesis import given

from leadmodel import (
    BlockingKey,
    FieldMatcher,
    MatchingRule,
    ValidationError,
    compare,
    estimate_weights,
    find_duplicates,
    from_json,
    to_json,
)
from leadmodel.testing.strategies import leads

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from synthetic_leads import generate, true_pairs

RULE = MatchingRule(
    "people",
    [
        FieldMatcher(
            "first_name", ("exact", "jaro_winkler", "name_variant", "initials"), levels=(100, 88)
        ),
        FieldMatcher("last_name", ("exact", "jaro_winkler", "phonetic"), levels=(100, 90)),
        FieldMatcher("email", ("exact",)),
        FieldMatcher("phone", ("exact",)),
        FieldMatcher("company", ("exact", "edit_distance"), levels=(100, 80)),
        FieldMatcher("title", ("exact",)),
    ],
    blocking=[
        BlockingKey(("email",)),
        BlockingKey(("phone",)),
        BlockingKey(("last_name:metaphone", "company")),
        BlockingKey(("first_name:metaphone", "company")),
    ],
)


@pytest.fixture(scope="module")
def learnt():
    records, truth = generate(3000, seed=11)
    return estimate_weights(records, RULE), records, truth


def test_weights_are_learnt_without_labels(learnt):
    rule, records, truth = learnt
    assert rule.mode == "probabilistic"
    assert 0 < rule.prior < 1
    for matcher in rule.matchers:
        assert matcher.m is not None
        assert matcher.u is not None
        # Agreeing exactly is likelier among matches than among non-matches.
        assert matcher.m[0] > matcher.u[0]
    groups = find_duplicates(records, rule)
    predicted = {(a, b) for g in groups for i, a in enumerate(g.ids) for b in g.ids[i + 1 :]}
    expected = true_pairs(truth)
    hits = len(predicted & expected)
    precision, recall = hits / len(predicted), hits / len(expected)
    assert 2 * precision * recall / (precision + recall) > 0.93


def test_results_carry_a_probability(learnt):
    rule, records, _ = learnt
    result = compare(records[0], records[0], rule)
    assert result.is_match
    assert result.probability is not None
    assert result.probability > 0.99
    assert result.clause is not None
    assert result.clause.startswith("match weight")


def test_the_learnt_rule_round_trips(learnt):
    rule, _, _ = learnt
    assert from_json(MatchingRule, to_json(rule)) == rule


@given(a=leads(), b=leads())
def test_probabilistic_compare_is_symmetric_and_bounded(a, b):
    rule = MatchingRule(
        "p",
        [
            FieldMatcher(
                "last_name",
                ("exact", "jaro_winkler"),
                levels=(100, 90),
                m=(0.8, 0.1, 0.1),
                u=(0.01, 0.02, 0.97),
            )
        ],
        mode="probabilistic",
        prior=0.01,
    )
    forward, backward = compare(a, b, rule), compare(b, a, rule)
    assert forward.probability == pytest.approx(backward.probability)
    assert 0 <= forward.probability <= 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: MatchingRule("p", [FieldMatcher("email")], mode="probabilistic"),
        lambda: MatchingRule(
            "p", [FieldMatcher("email", m=(0.9, 0.1), u=(0.1, 0.9))], mode="probabilistic"
        ),
        lambda: MatchingRule("p", [FieldMatcher("email")], mode="fuzzy"),
        lambda: MatchingRule("p", [FieldMatcher("email")], prior=1.5),
        lambda: MatchingRule("p", [FieldMatcher("email")], match_probability=0),
        lambda: FieldMatcher("email", m=(0.9, 0.1)),
        lambda: FieldMatcher("email", m=(0.9, 0.1, 0.0), u=(0.1, 0.8, 0.1)),
        lambda: FieldMatcher("email", levels=(80, 90)),
        lambda: FieldMatcher("email", levels=(120,)),
    ],
)
def test_inconsistent_probabilistic_values_are_refused(build):
    with pytest.raises(ValidationError):
        build()


def test_estimate_needs_pairs_to_learn_from():
    with pytest.raises(ValidationError):
        estimate_weights([{"id": "1", "email": "a@b.com"}], RULE)
    with pytest.raises(ValidationError):
        estimate_weights([], "rule")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        estimate_weights([], RULE, max_iterations=0)
