"""Backtesting scoring and predictive models on known outcomes."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Backtest,
    Band,
    Condition,
    EngagementRule,
    FitRule,
    Lead,
    Outcome,
    ScoringModel,
    ValidationError,
    backtest,
    from_json,
    roc_auc,
    to_json,
    train_predictive,
)

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def history(n=40):
    items = []
    for i in range(n):
        web = i % 2 == 0
        won = (i % 10 < 7) if web else (i % 10 < 2)
        acts = (
            [Activity(id=f"A{i}", subject_id=f"L{i}", kind="demo", occurred_at=NOW - timedelta(1))]
            if won and i % 3 == 0
            else []
        )
        items.append(
            Outcome(
                Lead(id=f"L{i}", last_name="Ng", company="Acme", source="Web" if web else "Fair"),
                won,
                acts,
                closed_at=NOW,
            )
        )
    return items


GOOD = ScoringModel(
    fit=[FitRule("web", Condition("source", "eq", "Web"), 40)],
    engagement=[EngagementRule("demo", "demo", 40)],
    bands=[Band("hot", 70), Band("warm", 40), Band("cold")],
)
BLIND = ScoringModel(fit=[FitRule("acme", Condition("company", "eq", "Acme"), 50)])


def test_a_better_model_backtests_better():
    good, blind = backtest(GOOD, history()), backtest(BLIND, history())
    assert good.auc > 0.7
    assert blind.auc == 0.5
    assert good.leads == 40
    assert good.won == sum(o.won for o in history())
    assert good.deciles[0].lift > 1 > good.deciles[-1].lift
    assert [b.band for b in good.bands] == ["hot", "warm", "cold"]
    assert sum(b.leads for b in good.bands) == 40


def test_rules_are_ranked_by_how_well_they_separate_converters():
    result = backtest(GOOD, history())
    assert result.rules[0].rule == "demo"  # only converters booked demos
    assert result.rules[0].rate == 1.0
    web = next(r for r in result.rules if r.rule == "web")
    assert web.rate == pytest.approx(0.8)
    assert web.rate_without == pytest.approx(0.2)


def test_predictive_models_backtest_on_their_probability():
    model = train_predictive(history(), features=["source"])
    result = backtest(model, history())
    assert result.model == "naive_bayes"
    assert result.auc == pytest.approx(0.8)
    assert result.bands == ()
    assert result.rules == ()


def test_results_round_trip_through_json():
    result = backtest(GOOD, history())
    assert from_json(Backtest, to_json(result)) == result


def test_roc_auc_counts_ties_as_half():
    assert roc_auc([1, 1, 1], [True, False, True]) == 0.5
    assert roc_auc([3, 2, 1], [True, True, False]) == 1.0
    assert roc_auc([1, 2], [True, True]) is None
    assert roc_auc([], []) is None


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_roc_auc_is_the_share_of_correctly_ordered_pairs(pairs):
    scores = [s for s, _ in pairs]
    labels = [label for _, label in pairs]
    positives = [s for s, label in pairs if label]
    negatives = [s for s, label in pairs if not label]
    if not positives or not negatives:
        assert roc_auc(scores, labels) is None
        return
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    assert roc_auc(scores, labels) == pytest.approx(wins / (len(positives) * len(negatives)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: backtest("model", history()),
        lambda: backtest(GOOD, "history"),
        lambda: backtest(GOOD, [None]),
        lambda: backtest(GOOD, [Outcome(Lead(id="L1", last_name="Ng", company="Acme"), won=True)]),
        lambda: roc_auc([1, 2], [True]),
        lambda: roc_auc(["a"], [True]),
        lambda: roc_auc([float("nan")], [True]),
    ],
)
def test_bad_input_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


def test_an_empty_history_backtests_to_nothing():
    result = backtest(GOOD, [], now=NOW)
    assert (result.leads, result.auc, result.deciles) == (0, None, ())
