"""Predictive scoring: Odoo's naive Bayes computed by hand, the logistic model, and bad input."""

import math
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Address,
    Frequency,
    Lead,
    LeadProcess,
    LeadStatus,
    LogisticModel,
    NaiveBayesFrequencies,
    Outcome,
    Prediction,
    PredictiveModel,
    ValidationError,
    from_json,
    roc_auc,
    to_json,
    train_predictive,
)

OPEN, WORKING = "Open - Not Contacted", "Working - Contacted"


def lead(i, **fields):
    return Lead(id=f"L{i}", last_name="Ng", company="Acme", **fields)


def outcome(i, won, **fields):
    return Outcome(lead(i, **fields), won)


HISTORY = [outcome(i, True, source="Web") for i in range(3)] + [outcome(9, False, source="Fair")]


def rows(model):
    """The table as {(team, field, value, side): count}, comparable with pytest.approx."""
    table = {}
    for f in model.frequencies:
        table[(f.team_id, f.field, f.value, "won")] = f.won
        table[(f.team_id, f.field, f.value, "lost")] = f.lost
    return table


def row(model, team, field, value):
    table = rows(model)
    return table[(team, field, value, "won")], table[(team, field, value, "lost")]


def test_frequencies_count_each_value_with_point_one_smoothing():
    model = train_predictive(HISTORY, features=["source"])
    assert row(model, None, "source", "Web") == pytest.approx((3.1, 0.1))
    assert row(model, None, "source", "Fair") == pytest.approx((0.1, 1.1))


def test_a_won_lead_counts_in_every_status_and_a_lost_one_up_to_its_own():
    history = [
        Outcome(attrs.evolve(lead(1), status=WORKING), won=False),
        outcome(2, True),
    ]
    model = train_predictive(history, features=["source"])
    assert row(model, None, "status", OPEN) == pytest.approx((1.1, 1.1))
    assert row(model, None, "status", WORKING) == pytest.approx((1.1, 1.1))
    assert row(model, None, "status", "Closed - Converted") == pytest.approx((1.1, 0.1))
    assert row(model, None, "status", "Closed - Not Converted") == pytest.approx((1.1, 0.1))


def test_the_probability_is_odoos_naive_bayes_by_hand():
    model = train_predictive(HISTORY, features=["source"])
    # Priors from the first status: won 3.1, lost 1.1. The open status's factor is 1 on
    # both sides. Source totals: won 3.2, lost 1.2.
    s_won = 3.1 / 4.2 * (3.1 / 3.1) * (3.1 / 3.2)
    s_lost = 1.1 / 4.2 * (1.1 / 1.1) * (0.1 / 1.2)
    expected = round(100 * s_won / (s_won + s_lost), 2)
    assert model.probability(lead(5, source="Web")) == expected == 97.04
    prediction = model.predict(lead(5, source="Web"))
    assert prediction.probability == pytest.approx(0.9704)
    assert prediction.score == 97
    assert prediction.top_positive[0].feature == "source"
    assert prediction.top_positive[0].effect == pytest.approx(math.log((3.1 / 3.2) / (0.1 / 1.2)))


def test_a_value_never_seen_and_a_blank_value_are_skipped():
    model = train_predictive(HISTORY, features=["source"])
    s_won, s_lost = 3.1 / 4.2, 1.1 / 4.2
    expected = round(100 * s_won / (s_won + s_lost), 2)
    assert model.probability(lead(5, source="Partner")) == expected
    assert model.probability(lead(5)) == expected


def test_a_status_later_in_the_process_counts_as_a_factor():
    history = [
        Outcome(attrs.evolve(lead(1), status=WORKING), won=False),
        outcome(2, False),
        outcome(3, True),
        outcome(4, True),
    ]
    model = train_predictive(history, features=["source"])
    working = attrs.evolve(lead(5), status=WORKING)
    # First status: won 2.1, lost 2.1; Working: won 2.1, lost 1.1.
    s_won = 0.5 * (2.1 / 2.1)
    s_lost = 0.5 * (1.1 / 2.1)
    assert model.probability(working) == round(100 * s_won / (s_won + s_lost), 2)


def test_closed_statuses_are_certain():
    model = train_predictive(HISTORY, features=["source"])
    assert model.probability(attrs.evolve(lead(5), status="Closed - Converted")) == 100
    assert model.probability(attrs.evolve(lead(5), status="Closed - Not Converted")) == 0
    assert model.predict(attrs.evolve(lead(5), status="Closed - Converted")).score == 99


def test_probabilities_are_clamped_as_odoo_does():
    rows_ = (
        Frequency("status", OPEN, None, 10_000_000, 1),
        Frequency("source", "Web", None, 10_000_000, 1),
        Frequency("source", "Fair", None, 1, 10_000_000),
    )
    model = NaiveBayesFrequencies(("source",), rows_)
    assert model.probability(lead(1, source="Web")) == 99.99
    flipped = NaiveBayesFrequencies(
        ("source",),
        (Frequency("status", OPEN, None, 1, 10_000_000), *rows_[1:]),
    )
    assert flipped.probability(lead(1, source="Fair")) == 0.01


def test_a_team_uses_its_own_table_and_others_use_all_teams():
    history = [
        outcome(1, True, source="Web", team_id="T1"),
        outcome(2, False, source="Web", team_id="T1"),
        outcome(3, True, source="Web"),
        outcome(4, True, source="Web", team_id="T2"),
    ]
    model = train_predictive(history, features=["source"])
    # T1 alone: first status 1.1/1.1, Web 1.1/1.1 -> 50 %.
    assert model.probability(lead(5, source="Web", team_id="T1")) == 50
    # No team, or an unseen one: every team's rows summed (NULL team included).
    # First status: won 1.1+1.1+1.1, lost 1.1+0.1+0.1; Web likewise.
    s_won = 3.3 / 4.6 * (3.3 / 3.3)
    s_lost = 1.3 / 4.6 * (1.3 / 1.3)
    expected = round(100 * s_won / (s_won + s_lost), 2)
    assert model.probability(lead(5, source="Web")) == expected
    assert model.probability(lead(5, source="Web", team_id="T9")) == expected


def test_tags_with_fewer_than_fifty_outcomes_are_ignored():
    def history(n):
        vip = [outcome(i, i % 4 != 0, tags={"vip"}) for i in range(n)]
        cold = [outcome(1000 + i, i % 4 == 0, tags={"cold"}) for i in range(n)]
        return vip + cold

    def tag_factors(model):
        prediction = model.predict(lead(5, tags={"vip"}))
        return [f for f in prediction.top_positive + prediction.top_negative if f.feature == "tags"]

    assert tag_factors(train_predictive(history(49), features=["tags"])) == []
    [factor] = tag_factors(train_predictive(history(50), features=["tags"]))
    # vip: won 37.1 of the 50.2 won in all, lost 13.1 of the 50.2 lost.
    assert factor.effect == pytest.approx(math.log((37.1 / 50.2) / (13.1 / 50.2)))


def test_no_counts_for_the_first_status_gives_no_probability():
    model = NaiveBayesFrequencies(("source",), (Frequency("source", "Web", None, 3.1, 0.1),))
    assert model.probability(lead(1, source="Web")) is None
    assert model.predict(lead(1, source="Web")).probability == 0


def test_an_outcome_updates_the_table_incrementally():
    model = train_predictive(HISTORY, features=["source"])
    new = outcome(20, False, source="Web")
    assert rows(model.with_outcome(new)) == pytest.approx(
        rows(train_predictive([*HISTORY, new], features=["source"]))
    )
    back = model.with_outcome(new).without_outcome(new)
    assert rows(back) == pytest.approx(rows(model))
    # Taking away what was never counted floors at 0.1, as Odoo does.
    floored = model.without_outcome(outcome(21, False, source="Web"))
    assert row(floored, None, "source", "Web") == pytest.approx((3.1, 0.1))


@st.composite
def histories(draw):
    return [
        Outcome(
            Lead(
                id=f"L{i}",
                last_name="Ng",
                company="Acme",
                source=draw(st.sampled_from(["Web", "Fair", None])),
                team_id=draw(st.sampled_from(["T1", None])),
                status=draw(st.sampled_from([OPEN, WORKING])),
                tags=draw(st.sampled_from([set(), {"a"}, {"a", "b"}])),
            ),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(1, 12)))
    ]


FEATURES = ["source", "tags", "email_state"]


@given(histories(), histories())
@settings(max_examples=60)
def test_incremental_updates_equal_retraining(history, more):
    model = train_predictive(history, features=FEATURES)
    for item in more:
        model = model.with_outcome(item)
    retrained = train_predictive([*history, *more], features=FEATURES)
    assert rows(model).keys() == rows(retrained).keys()
    for key, value in rows(model).items():
        assert value == pytest.approx(rows(retrained)[key])


@given(histories(), st.randoms(use_true_random=False))
@settings(max_examples=60)
def test_training_ignores_history_order(history, rng):
    shuffled = list(history)
    rng.shuffle(shuffled)
    one = train_predictive(history, features=FEATURES)
    other = train_predictive(shuffled, features=FEATURES)
    assert rows(one) == pytest.approx(rows(other))
    probe = lead(99, source="Web", tags={"a"})
    assert one.predict(probe).score == other.predict(probe).score


@given(histories())
@settings(max_examples=40)
def test_predictions_stay_in_range_and_models_round_trip(history):
    for kind in ("naive_bayes", "logistic"):
        if kind == "logistic" and len({o.won for o in history}) < 2:
            continue
        model = train_predictive(history, features=FEATURES, kind=kind)
        assert from_json(PredictiveModel, to_json(model)) == model
        prediction = model.predict(lead(99, source="Fair"))
        assert 0 <= prediction.probability <= 1
        assert 1 <= prediction.score <= 99
        assert from_json(Prediction, to_json(prediction)) == prediction


def synthetic(n, offset=0):
    items = []
    for i in range(n):
        good = i % 3 == 0
        visits = (i * 7) % 11 + (6 if good else 0)
        items.append(
            outcome(
                i + offset,
                (i % 5 != 0) if good else (i % 5 == 0),
                source="Referral" if good else "Web",
                custom={"visits": visits} if i % 4 else {},
            )
        )
    return items


def test_the_logistic_model_learns_a_signal_and_explains_it():
    model = train_predictive(
        synthetic(600), features=["source", "custom.visits"], kind="logistic", seed=1
    )
    assert isinstance(model, LogisticModel)
    test = synthetic(300, offset=1000)
    auc = roc_auc([model.predict(o.lead).probability for o in test], [o.won for o in test])
    assert auc > 0.75  # the source alone separates at about 0.77
    assert model.numeric == ("custom.visits",)
    assert {(w.feature, w.value) for w in model.weights} >= {
        ("source", "Referral"),
        ("custom.visits", ""),
        ("custom.visits", "<missing>"),
    }
    referral = model.predict(lead(1, source="Referral", custom={"visits": 12}))
    assert referral.top_positive[0].feature in ("source", "custom.visits")
    unseen = model.predict(lead(1, source="Carrier pigeon"))
    assert 0 < unseen.probability < 1


def test_the_logistic_model_is_deterministic_for_a_seed():
    one = train_predictive(synthetic(200), features=["source"], kind="logistic", seed=3)
    two = train_predictive(synthetic(200), features=["source"], kind="logistic", seed=3)
    assert one == two


def test_activity_counts_are_features():
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def with_views(i, won, views):
        acts = [
            Activity(id=f"A{i}-{k}", subject_id=f"L{i}", kind="page_view", occurred_at=now)
            for k in range(views)
        ]
        return Outcome(lead(i), won, acts)

    history = [with_views(i, i % 2 == 0, 5 if i % 2 == 0 else 0) for i in range(40)]
    model = train_predictive(history, features=["activities.page_view"], kind="logistic")
    busy = [
        Activity(id=f"B{k}", subject_id="L1", kind="page_view", occurred_at=now - timedelta(1))
        for k in range(5)
    ]
    assert model.predict(lead(1), activities=busy).probability > 0.5
    assert model.predict(lead(1)).probability < 0.5


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: train_predictive("history", features=["source"]), "type"),
        (lambda: train_predictive(HISTORY, features="source"), "type"),
        (lambda: train_predictive(HISTORY, features=[]), "type"),
        (lambda: train_predictive(HISTORY, features=["source", "source"]), "duplicate"),
        (lambda: train_predictive(HISTORY, features=["bad path!"]), "invalid"),
        (lambda: train_predictive(HISTORY, features=["source"], kind="svm"), "invalid"),
        (lambda: train_predictive([None], features=["source"]), "type"),
        (lambda: train_predictive(HISTORY, features=["source"], l2=-1), "out_of_range"),
        (lambda: train_predictive(HISTORY, features=["source"], epochs=0), "out_of_range"),
        (lambda: train_predictive(HISTORY[:3], features=["source"], kind="logistic"), "one_class"),
        (lambda: train_predictive([], features=["source"], kind="logistic"), "one_class"),
        (lambda: Outcome("L1", True), "type"),
        (lambda: Outcome(lead(1), 1), "type"),
        (lambda: Outcome(lead(1), True, ["call"]), "type"),
        (lambda: Outcome(lead(1), True, closed_at=datetime(2026, 1, 1)), "type"),  # noqa: DTZ001
    ],
)
def test_bad_training_input_raises_validation_errors(call, code):
    with pytest.raises(ValidationError) as caught:
        call()
    assert code in [e.code for e in caught.value.errors]


@pytest.mark.parametrize("kind", ["naive_bayes", "logistic"])
def test_bad_prediction_input_raises_validation_errors(kind):
    model = train_predictive(HISTORY, features=["source"], kind=kind)
    for call in (
        lambda: model.predict(None),
        lambda: model.predict("L1"),
        lambda: model.predict(lead(1), activities="views"),
        lambda: model.predict(lead(1), activities=[1]),
    ):
        with pytest.raises(ValidationError):
            call()


def test_an_empty_history_gives_a_model_with_no_opinion():
    model = train_predictive([], features=["source"])
    assert model.frequencies == ()
    assert model.probability(lead(1)) is None
    assert from_json(NaiveBayesFrequencies, to_json(model)) == model


# -- Odoo's own fixture ----------------------------------------------------------------------
# The data of Odoo's test_crm_pls.test_predictive_lead_scoring (newest version), re-expressed
# with our entities: 14 leads in three teams, 3 stages plus a won stage, five PLS fields.
# Odoo computes email_state and phone_state from the (absent) email and phone, so both are
# "False" for every lead, as our built-in features are.

ODOO_PROCESS = LeadProcess(
    "odoo",
    [
        LeadStatus("New", is_default=True, order=1),
        LeadStatus("Qualified", order=2),
        LeadStatus("Proposition", order=3),
        LeadStatus("Won", is_converted=True, is_closed=True, order=70),
    ],
)
ODOO_STAGES = ("New", "Qualified", "Proposition")
ODOO_ROWS = [  # team, country, state, source, stage
    ("T1", 0, 0, 0, 0),
    ("T1", 1, 1, 1, 1),
    ("T1", 2, 2, 2, 2),
    ("T1", 0, 1, 2, 1),
    ("T1", 1, 1, 1, 0),
    ("T2", 0, 1, 1, 2),
    ("T2", 0, 1, 2, 1),
    ("T2", 0, 2, 2, 0),
    ("T2", 0, 1, 2, 1),
    ("T2", 1, 0, 1, 1),
    ("T3", 1, 1, 1, 2),
    ("T3", 0, 1, 0, 0),
    ("T3", 1, 2, 2, 0),
    ("T3", 0, 1, 2, 1),
]
ODOO_OUTCOMES = {
    0: False,
    1: False,
    2: True,
    5: False,
    6: False,
    7: True,
    10: True,
    11: False,
    12: False,
}
ODOO_FEATURES = ["address.country", "address.state", "email_state", "phone_state", "source", "tags"]


def odoo_leads(*, team_3=True):
    return [
        Lead(
            id=f"O{i}",
            last_name="Lead",
            company="Acme",
            team_id=team if team != "T3" or team_3 else None,
            source=f"source {source}",
            address=Address(country=f"C{country}", state=f"S{state}"),
            status=ODOO_STAGES[stage],
        )
        for i, (team, country, state, source, stage) in enumerate(ODOO_ROWS)
    ]


def odoo_model(leads):
    history = [Outcome(leads[i], won) for i, won in ODOO_OUTCOMES.items()]
    return train_predictive(history, features=ODOO_FEATURES, process=ODOO_PROCESS)


def test_odoos_fixture_gives_odoos_probabilities():
    leads = odoo_leads()
    model = odoo_model(leads)
    assert model.probability(leads[3]) == 33.49
    assert model.probability(leads[8]) == 7.74
    assert model.probability(leads[13]) == 35.09
    # Team 3's leads moved to no team: lead 13 is scored on every team's counts.
    without_team = odoo_leads(team_3=False)
    assert odoo_model(without_team).probability(without_team[13]) == 35.19


def test_odoos_fixture_gives_odoos_frequencies_and_updates():
    leads = odoo_leads()
    model = odoo_model(leads)
    assert row(model, "T1", "status", "New") == pytest.approx((1.1, 2.1))
    assert row(model, "T1", "status", "Won") == pytest.approx((1.1, 0.1))
    assert row(model, "T1", "address.country", "C1") == pytest.approx((0.1, 1.1))
    assert row(model, "T1", "email_state", "False") == pytest.approx((1.1, 2.1))
    assert ("T2", "address.country", "C1", "won") not in rows(model)
    # Lead 4 is lost and lead 9 won: Odoo's live increments.
    model = model.with_outcome(Outcome(leads[4], False)).with_outcome(Outcome(leads[9], True))
    assert row(model, "T1", "status", "New") == pytest.approx((1.1, 3.1))
    assert row(model, "T1", "address.country", "C1") == pytest.approx((0.1, 2.1))
    assert row(model, "T1", "email_state", "False") == pytest.approx((1.1, 3.1))
    assert row(model, "T2", "status", "New") == pytest.approx((2.1, 2.1))
    assert row(model, "T2", "status", "Won") == pytest.approx((2.1, 0.1))
    assert row(model, "T2", "address.country", "C1") == pytest.approx((1.1, 0.1))
    # Lead 4 reopened: its counts come back out.
    model = model.without_outcome(Outcome(leads[4], False))
    assert row(model, "T1", "status", "New") == pytest.approx((1.1, 2.1))
    assert row(model, "T1", "address.country", "C1") == pytest.approx((0.1, 1.1))
