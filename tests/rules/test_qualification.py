"""Qualification: requirements, BANT, disqualifiers, lead-score thresholds, suggestions."""

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    BANT_POLICY,
    Condition,
    FitRule,
    Lead,
    LifecycleStage,
    Qualification,
    QualificationPolicy,
    Requirement,
    ScoringModel,
    ValidationError,
    bant_policy,
    from_json,
    qualify,
    score,
    to_json,
    update,
)
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 1, 1, tzinfo=UTC)
READY = Lead(
    id="L1",
    last_name="Ng",
    company="Acme",
    title="Chief Revenue Officer",
    custom={"budget": 40000, "need": "pipeline visibility", "timeline": "this quarter"},
)
COMPETITOR = Requirement("competitor", Condition("company", "contains", "rival"))


def test_a_lead_meeting_bant_is_qualified_and_moves_to_working():
    result = qualify(READY, BANT_POLICY)
    assert result.qualified
    assert result.decision == "qualified"
    assert result.met == ("budget", "authority", "need", "timeline")
    assert result.suggested_status == "Working - Contacted"
    assert result.suggested_stage is LifecycleStage.SALES_QUALIFIED


def test_three_of_four_is_enough_for_the_preset_and_four_of_four_when_asked():
    lead = update(READY, custom={"budget": 40000, "need": "visibility"})
    assert qualify(lead, BANT_POLICY).qualified
    strict = qualify(lead, bant_policy(min_met=4))
    assert not strict.qualified
    assert strict.unmet == ("timeline",)
    assert "missing a buying timeline" in strict.reasons
    assert strict.decision == "nurture"
    assert strict.suggested_status is None


def test_a_required_requirement_must_hold_whatever_the_score():
    lead = update(READY, title="Engineer")
    policy = bant_policy(min_met=3, required=["authority"])
    result = qualify(lead, policy)
    assert not result.qualified
    assert "authority is required" in result.reasons


def test_a_disqualifier_closes_the_lead_with_its_reason():
    policy = bant_policy(disqualifiers=[COMPETITOR])
    result = qualify(update(READY, company="Rival Systems"), policy)
    assert result.decision == "disqualified"
    assert result.disqualified_by == ("competitor",)
    assert result.suggested_status == "Closed - Not Converted"
    assert "disqualified: competitor" in result.reasons


def test_a_strict_gate_closes_every_unqualified_lead():
    policy = QualificationPolicy(
        requirements=[Requirement("email", Condition("email", "is_not_blank"))],
        close_unqualified=True,
    )
    result = qualify(READY, policy)
    assert result.decision == "disqualified"
    assert result.suggested_status == "Closed - Not Converted"


def test_weights_and_min_score():
    policy = QualificationPolicy(
        requirements=[
            Requirement("budget", Condition("custom.budget", "gte", 10000), 3),
            Requirement("title", Condition("title", "contains", "chief"), 1),
        ],
        min_score=3,
    )
    assert qualify(update(READY, title="Engineer"), policy).qualified
    assert not qualify(update(READY, custom={}), policy).qualified
    assert qualify(READY, policy).score == 4


def test_a_lead_score_threshold_uses_the_score_given():
    model = ScoringModel(fit=[FitRule("ready", Condition("custom.need", "is_not_blank"), 30)])
    policy = bant_policy(min_met=0)
    gated = QualificationPolicy(requirements=policy.requirements, min_score=0, min_lead_score=50)
    assert not qualify(READY, gated, score=score(READY, model, now=NOW)).qualified
    assert qualify(READY, gated, score=60).qualified
    with pytest.raises(ValidationError) as caught:
        qualify(READY, gated)
    assert caught.value.errors[0].code == "required"


def test_suggestions_never_move_backwards_or_repeat():
    already = attrs.evolve(
        READY, status="Working - Contacted", lifecycle_stage=LifecycleStage.CUSTOMER
    )
    result = qualify(already, BANT_POLICY)
    assert result.qualified
    assert result.suggested_status is None
    assert result.suggested_stage is None


def test_a_mapping_qualifies_too():
    record = {"title": "CEO", "custom": {"budget": 5, "need": "x"}, "status": "New"}
    assert qualify(record, BANT_POLICY).qualified


def test_policies_and_results_round_trip_through_json():
    policy = bant_policy(disqualifiers=[COMPETITOR], required=["need"])
    assert from_json(QualificationPolicy, to_json(policy)) == policy
    result = qualify(READY, policy)
    assert from_json(Qualification, to_json(result)) == result


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: QualificationPolicy(requirements=[COMPETITOR, COMPETITOR]), "duplicate"),
        (
            lambda: QualificationPolicy(requirements=[COMPETITOR], required=["x"]),
            "unknown_requirement",
        ),
        (lambda: QualificationPolicy(requirements=[COMPETITOR], min_score=2), "unreachable"),
        (lambda: QualificationPolicy(requirements=[COMPETITOR], min_score=-1), "out_of_range"),
        (lambda: QualificationPolicy(requirements=["budget"]), "type"),
        (lambda: QualificationPolicy(requirements=[COMPETITOR], qualified_status=""), "blank"),
        (lambda: QualificationPolicy(requirements=[COMPETITOR], qualified_stage="sql"), "type"),
        (lambda: Requirement("x", COMPETITOR.criterion, -1), "out_of_range"),
        (lambda: Requirement("x", COMPETITOR.criterion, True), "type"),
        (lambda: Requirement("x", "company contains rival"), "type"),
    ],
)
def test_invalid_policies_are_refused_with_a_code(build, code):
    with pytest.raises(ValidationError) as caught:
        build()
    assert code in [e.code for e in caught.value.errors]


@pytest.mark.parametrize(
    "call",
    [
        lambda: qualify(None, BANT_POLICY),
        lambda: qualify("L1", BANT_POLICY),
        lambda: qualify(READY, "BANT"),
        lambda: qualify(READY, BANT_POLICY, score="high"),
        lambda: qualify(READY, BANT_POLICY, score=float("nan")),
    ],
)
def test_bad_arguments_raise_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


@given(lst.leads(custom=st.fixed_dictionaries({}, optional={"budget": st.integers(-5, 5)})))
def test_qualification_is_consistent(lead):
    result = qualify(lead, BANT_POLICY)
    assert set(result.met) | set(result.unmet) == {r.name for r in BANT_POLICY.requirements}
    assert not set(result.met) & set(result.unmet)
    assert result.qualified == (result.decision == "qualified")
    assert result.qualified == (result.score >= BANT_POLICY.threshold)
    assert qualify(lead, BANT_POLICY) == result


@st.composite
def policies(draw):
    criteria = draw(st.lists(lst.criteria(max_leaves=3), min_size=1, max_size=4))
    requirements = [
        Requirement(f"r{i}", criterion, draw(st.integers(0, 5) | st.floats(0, 5)))
        for i, criterion in enumerate(criteria)
    ]
    names = [r.name for r in requirements]
    total = sum(r.weight for r in requirements)
    return QualificationPolicy(
        requirements=requirements,
        min_score=draw(st.none() | st.floats(0, total)),
        required=draw(st.lists(st.sampled_from(names), unique=True, max_size=2)),
        disqualifiers=[Requirement("knockout", draw(lst.criteria(max_leaves=2)))],
        close_unqualified=draw(st.booleans()),
    )


@given(policies(), lst.leads())
def test_policies_and_decisions_round_trip_and_are_consistent(policy, lead):
    assert from_json(QualificationPolicy, to_json(policy)) == policy
    result = qualify(lead, policy)
    assert from_json(Qualification, to_json(result)) == result
    assert result.qualified == (result.decision == "qualified")
    if result.disqualified_by:
        assert result.decision == "disqualified"
    assert not (set(policy.required) & set(result.unmet)) or not result.qualified
