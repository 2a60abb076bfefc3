"""Rule-based scoring: HubSpot-style examples, caps, decay, bands, and bad input."""

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from leadmodel import (
    LEAD_SCHEMA,
    Activity,
    Adjustment,
    Band,
    Condition,
    Decay,
    EngagementRule,
    FitRule,
    Lead,
    Score,
    ScoreGroup,
    ScoringModel,
    TimeWindow,
    ValidationError,
    from_json,
    score,
    to_json,
    update,
)
from leadmodel.rules.scoring import compile as compile_model

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)  # a Wednesday
LEAD = Lead(id="L1", last_name="Ng", company="Acme", source="Web", employees=800)
WEB = FitRule("web", Condition("source", "eq", "Web"), 10)
BIG = FitRule("big", Condition("employees", "gte", 500), 15)


def act(kind, days_ago=0.0, n=1, **properties):
    return [
        Activity(
            id=f"{kind}-{days_ago}-{i}",
            subject_id="L1",
            kind=kind,
            occurred_at=NOW - timedelta(days=days_ago),
            properties=properties,
        )
        for i in range(n)
    ]


def test_fit_rules_add_their_points_while_they_hold():
    result = score(LEAD, ScoringModel(fit=[WEB, BIG]), now=NOW)
    assert (result.fit, result.engagement, result.total) == (25, 0, 25)
    assert [c.rule for c in result.contributions] == ["web", "big"]


def test_a_rule_that_stops_matching_removes_its_points():
    model = ScoringModel(fit=[WEB, BIG])
    before = score(LEAD, model, now=NOW)
    after = score(update(LEAD, source="Trade Show"), model, now=NOW)
    assert before.total == 25
    assert after.total == 15
    assert after.contribution("web") is None


def test_negative_fit_points_take_away():
    student = FitRule("student", Condition("title", "eq", "Student"), -20)
    model = ScoringModel(fit=[WEB, student], allow_negative=True)
    assert score(update(LEAD, title="student"), model, now=NOW).total == -10


def test_a_negative_total_is_floored_at_zero_unless_allowed():
    student = FitRule("student", Condition("title", "eq", "Student"), -20)
    lead = update(LEAD, title="Student", source=None)
    floored = score(lead, ScoringModel(fit=[student]), now=NOW)
    assert floored.total == 0
    assert floored.fit == -20
    assert floored.adjustments == (Adjustment("floor", 20),)
    assert score(lead, ScoringModel(fit=[student], allow_negative=True), now=NOW).total == -20


def test_per_event_points_accumulate_up_to_their_cap():
    opens = EngagementRule("opens", "email_opened", 5, cap=12)
    model = ScoringModel(engagement=[opens])
    totals = [
        score(LEAD, model, activities=act("email_opened", n=n), now=NOW).total for n in range(5)
    ]
    assert totals == [0, 5, 10, 12, 12]
    capped = score(LEAD, model, activities=act("email_opened", n=4), now=NOW).contributions[0]
    assert (capped.points, capped.uncapped, capped.occurrences) == (12, 20, 4)
    assert "capped from +20" in capped.reason


def test_linear_decay_falls_to_zero_after_n_days():
    model = ScoringModel(
        engagement=[EngagementRule("forms", "form_submitted", 10, decay=Decay.linear(30))]
    )

    def points(days_ago):
        return score(LEAD, model, activities=act("form_submitted", days_ago), now=NOW).engagement

    assert points(0) == 10
    assert points(15) == pytest.approx(5)
    assert points(30) == 0
    assert points(45) == 0


def test_half_life_halves_and_last_n_days_cuts_off():
    half = ScoringModel(
        engagement=[EngagementRule("views", "page_view", 8, decay=Decay.half_life(7))]
    )
    frame = ScoringModel(engagement=[EngagementRule("views", "page_view", 8, decay=Decay.last(7))])
    views = act("page_view", 14)
    assert score(LEAD, half, activities=views, now=NOW).engagement == pytest.approx(2)
    assert score(LEAD, frame, activities=act("page_view", 6.9), now=NOW).engagement == 8
    assert score(LEAD, frame, activities=views, now=NOW).engagement == 0


def test_a_time_window_caps_points_per_iso_week():
    rule = EngagementRule("views", "page_view", 4, window=TimeWindow(7, 10))
    model = ScoringModel(engagement=[rule])
    # NOW is a Wednesday: 0 and 1 days ago share this week; 7 days ago is last week.
    activities = act("page_view", 0, n=2) + act("page_view", 1, n=2) + act("page_view", 7, n=1)
    assert score(LEAD, model, activities=activities, now=NOW).engagement == 10 + 4


def test_engagement_criteria_read_the_activity():
    pricing = EngagementRule(
        "pricing",
        "page_view",
        5,
        criterion=Condition("properties.url", "contains", "/pricing"),
    )
    model = ScoringModel(engagement=[pricing])
    views = act("page_view", url="/pricing/enterprise") + act("page_view", 1, url="/blog")
    assert score(LEAD, model, activities=views, now=NOW).engagement == 5


def test_activities_after_now_do_not_count_yet():
    model = ScoringModel(engagement=[EngagementRule("opens", "email_opened", 5)])
    assert score(LEAD, model, activities=act("email_opened", -1), now=NOW).total == 0


def test_group_caps_cut_a_group_and_say_so():
    model = ScoringModel(
        fit=[
            FitRule("web", WEB.criterion, 10, group="firmo"),
            FitRule("big", BIG.criterion, 15, group="firmo"),
        ],
        groups=[ScoreGroup("firmo", cap=20)],
    )
    result = score(LEAD, model, now=NOW)
    assert result.total == 20
    assert result.adjustments == (Adjustment("group:firmo", -5),)
    assert sum(c.points for c in result.contributions) + sum(
        a.points for a in result.adjustments
    ) == pytest.approx(result.total)


def test_the_total_cap_holds():
    model = ScoringModel(
        fit=[WEB, BIG], engagement=[EngagementRule("opens", "email_opened", 50)], total_cap=60
    )
    result = score(LEAD, model, activities=act("email_opened", n=2), now=NOW)
    assert result.total == 60
    assert result.adjustments == (Adjustment("total_cap", -65),)


def test_bands_rate_the_total_with_their_own_names():
    model = ScoringModel(fit=[WEB, BIG], bands=[Band("C"), Band("A", 25), Band("B", 10)])
    assert [b.name for b in model.bands] == ["A", "B", "C"]
    assert score(LEAD, model, now=NOW).rating == "A"
    assert score(update(LEAD, employees=3), model, now=NOW).rating == "B"
    assert score(update(LEAD, employees=3, source=None), model, now=NOW).rating == "C"
    no_catch_all = ScoringModel(fit=[WEB], bands=[Band("hot", 50)])
    assert score(LEAD, no_catch_all, now=NOW).rating is None


def test_default_bands_are_the_rating_picklist():
    # Seen: DEFAULT_BANDS wrote hot/warm/cold while the rating picklist is Hot/Warm/Cold.
    model = ScoringModel(fit=[FitRule("all", Condition("last_name", "is_not_blank"), 70)])
    assert score(LEAD, model, now=NOW).rating == "Hot"
    assert [b.name for b in model.bands] == list(LEAD_SCHEMA.field("rating").choices)


def test_compiled_totals_equal_scores_for_entities_and_mappings():
    model = ScoringModel(
        fit=[WEB, BIG, FitRule("us", Condition("address.country", "eq", "US"), 3)],
        engagement=[EngagementRule("opens", "email_opened", 2.5, decay=Decay.half_life(3))],
        groups=[],
        total_cap=30,
    )
    scorer = model.compile()
    leads = [LEAD, attrs.evolve(LEAD, id="L2", source=None), {"id": "L3", "source": "web"}]
    activities = act("email_opened", 2, n=3)
    totals = scorer.totals(leads, activities={"L1": activities}, now=NOW)
    expected = [
        score(LEAD, model, activities=activities, now=NOW).total,
        score(leads[1], model, now=NOW).total,
        score(leads[2], model, now=NOW).total,
    ]
    assert totals == expected
    assert scorer.totals(leads, activities=activities, now=NOW) == expected
    assert scorer.total(LEAD, activities=activities, now=NOW) == expected[0]
    assert compile_model(model) is scorer


def test_models_and_scores_round_trip_through_json():
    model = ScoringModel(
        fit=[WEB, FitRule("big", BIG.criterion, 15, group="firmo")],
        engagement=[
            EngagementRule(
                "views",
                "page_view",
                1.5,
                criterion=Condition("properties.url", "contains", "/pricing"),
                cap=10,
                window=TimeWindow(1, 4),
                decay=Decay.half_life(14),
            )
        ],
        groups=[ScoreGroup("firmo", 12)],
        total_cap=100,
        bands=[Band("hot", 20), Band("cold")],
        name="inbound",
    )
    assert from_json(ScoringModel, to_json(model)) == model
    result = score(LEAD, model, activities=act("page_view", 3, url="/pricing"), now=NOW)
    assert from_json(Score, to_json(result)) == result
    assert '"format": 1' in to_json(model)


def test_a_schema_check_reports_unknown_fields_and_wrong_types():
    model = ScoringModel(
        fit=[
            FitRule("typo", Condition("sorce", "eq", "Web"), 5),
            FitRule("words", Condition("employees", "gt", "many"), 5),
        ]
    )
    assert [(e.path, e.code) for e in model.problems()] == [
        ("fit[0].sorce", "unknown_field"),
        ("fit[1].employees", "type"),
    ]
    with pytest.raises(ValidationError):
        compile_model(model, schema=LEAD_SCHEMA)
    assert ScoringModel(fit=[WEB]).problems(LEAD_SCHEMA) == ()


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: ScoringModel(fit=[WEB, WEB]), "duplicate"),
        (lambda: ScoringModel(fit=[FitRule("x", WEB.criterion, 1, group="g")]), "unknown_group"),
        (
            lambda: ScoringModel(
                fit=[FitRule("x", WEB.criterion, 1, group="g")],
                engagement=[EngagementRule("y", "call", 1, group="g")],
                groups=[ScoreGroup("g")],
            ),
            "mixed_group",
        ),
        (lambda: ScoringModel(bands=[Band("a", 1), Band("a", 2)]), "duplicate"),
        (lambda: ScoringModel(bands=[Band("a", 1), Band("b", 1)]), "duplicate"),
        (lambda: ScoringModel(fit=["web"]), "type"),
        (lambda: ScoringModel(total_cap=0), "out_of_range"),
        (lambda: FitRule("x", WEB.criterion, True), "type"),
        (lambda: FitRule("x", WEB.criterion, float("nan")), "out_of_range"),
        (lambda: FitRule("x", WEB.criterion, "10"), "type"),
        (lambda: FitRule("", WEB.criterion, 1), "blank"),
        (lambda: FitRule("x", "source = Web", 1), "type"),
        (lambda: EngagementRule("x", "call", 1, cap=-1), "out_of_range"),
        (lambda: EngagementRule("x", "call", 1, decay="linear"), "type"),
        (lambda: EngagementRule("x", "call", 1, window=(7, 10)), "type"),
        (lambda: Decay("linear"), "type"),
        (lambda: Decay("linear", 0), "out_of_range"),
        (lambda: Decay("none", 3), "unexpected"),
        (lambda: Decay("exponential", 3), "invalid"),
        (lambda: TimeWindow(0, 5), "out_of_range"),
    ],
)
def test_invalid_rules_and_models_are_refused_with_a_code(build, code):
    with pytest.raises(ValidationError) as caught:
        build()
    assert code in [e.code for e in caught.value.errors]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda _m: score(LEAD, "model", now=NOW), "type"),
        (lambda m: score(LEAD, m, now="2026-01-01"), "type"),
        (lambda m: score(LEAD, m, now=datetime(2026, 1, 1)), "naive"),  # noqa: DTZ001
        (lambda m: score(LEAD, m, activities="opens", now=NOW), "type"),
        (lambda m: score(LEAD, m, activities=[None], now=NOW), "type"),
        (
            lambda m: score(attrs.evolve(LEAD, id="L9"), m, activities=act("call"), now=NOW),
            "other_subject",
        ),
        (lambda m: score(None, m, now=NOW), "type"),
        (lambda m: score(42, m, now=NOW), "type"),
        (lambda m: m.compile().totals("leads", now=NOW), "type"),
        (lambda m: m.compile().totals([LEAD], activities=[1], now=NOW), "type"),
        (lambda m: m.problems("schema"), "type"),
    ],
)
def test_bad_arguments_raise_validation_errors(call, code):
    model = ScoringModel(fit=[WEB], engagement=[EngagementRule("calls", "call", 1)])
    with pytest.raises(ValidationError) as caught:
        call(model)
    assert caught.value.errors[0].code == code


def test_structurally_bad_json_is_a_validation_error():
    for text in ('{"format": 1, "total_cap": "5"}', '{"format": 2}', "[]", '{"format": 1, "x": 1}'):
        with pytest.raises(ValidationError):
            from_json(ScoringModel, text)


def test_empty_and_huge_inputs():
    model = ScoringModel(fit=[WEB])
    assert model.compile().totals([], now=NOW) == []
    assert score(LEAD, ScoringModel(), now=NOW).total == 0
    many = [attrs.evolve(LEAD, id=f"L{i}") for i in range(20_000)]
    assert model.compile().totals(many, now=NOW) == [10.0] * 20_000
    hostile = update(LEAD, source="W\u0435b" + "x" * 30)  # a Cyrillic e: not "Web"
    assert score(hostile, model, now=NOW).total == 0


def test_score_does_not_mutate_its_arguments():
    model = ScoringModel(fit=[WEB], engagement=[EngagementRule("opens", "email_opened", 1)])
    activities = act("email_opened", n=2)
    snapshot = (to_json(LEAD), to_json(model), list(activities))
    score(LEAD, model, activities=activities, now=NOW)
    assert snapshot == (to_json(LEAD), to_json(model), list(activities))
