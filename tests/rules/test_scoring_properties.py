"""Scoring invariants (DESIGN invariant 5 and issue 5's acceptance), as properties."""

import math
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Condition,
    FitRule,
    Score,
    ScoringModel,
    from_json,
    score,
    to_dict,
    to_json,
)
from leadmodel.rules.criteria import _inline
from leadmodel.rules.criteria import evaluate as evaluate_criterion
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 5, 1, tzinfo=UTC)
CUSTOM = st.fixed_dictionaries(
    {}, optional={"visits": st.integers(-5, 50), "plan": st.sampled_from(["pro", "PRO", "free"])}
)
LEADS = lst.leads(ids=st.just("L1"), custom=CUSTOM)
URLS = st.sampled_from(["/pricing", "/blog", "/PRICING/x", ""])


@st.composite
def activity_lists(draw, *, latest=NOW):
    """Activities of lead L1 at or before *latest* (up to 400 days earlier)."""
    items = []
    for i in range(draw(st.integers(0, 12))):
        url = draw(URLS)
        items.append(
            Activity(
                id=f"A{i}",
                subject_id="L1",
                kind=draw(st.sampled_from(lst.ACTIVITY_KINDS)),
                occurred_at=latest - timedelta(seconds=draw(st.integers(0, 400 * 86400))),
                properties={"url": url} if url else {},
            )
        )
    return items


def contributions_of(result, kind):
    return {c.rule: c for c in result.contributions if c.kind == kind}


@given(lst.scoring_models(), LEADS, activity_lists(), st.randoms(use_true_random=False))
def test_score_is_deterministic_and_ignores_activity_order(model, lead, activities, rng):
    first = score(lead, model, activities=activities, now=NOW)
    shuffled = list(activities)
    rng.shuffle(shuffled)
    assert score(lead, model, activities=shuffled, now=NOW) == first
    assert model.compile().score(lead, activities=activities, now=NOW) == first


@given(lst.scoring_models(), LEADS, activity_lists(), st.integers(0, 800 * 86400))
def test_engagement_decay_never_grows_with_time(model, lead, activities, later):
    now = score(lead, model, activities=activities, now=NOW)
    then = score(lead, model, activities=activities, now=NOW + timedelta(seconds=later))
    before = contributions_of(now, "engagement")
    for rule, contribution in contributions_of(then, "engagement").items():
        assert abs(contribution.points) <= abs(before[rule].points)
    if all(rule.points >= 0 for rule in model.engagement):
        assert then.engagement <= now.engagement


@given(
    lst.scoring_models(),
    LEADS,
    activity_lists(),
    st.integers(1, 50) | st.floats(0.01, 50),
    st.sampled_from([None, "a"]),
)
def test_adding_a_satisfied_positive_rule_never_lowers_the_total(
    model, lead, activities, points, group
):
    if group is not None and all(g.name != group for g in model.groups):
        group = None
    extra = FitRule("extra", Condition("last_name", "is_not_blank"), points, group=group)
    bigger = attrs.evolve(model, fit=(*model.fit, extra))
    before = score(lead, model, activities=activities, now=NOW)
    after = score(lead, bigger, activities=activities, now=NOW)
    assert after.total >= before.total
    assert after.contribution("extra") is not None


@given(lst.scoring_models(), LEADS, activity_lists())
def test_caps_are_never_exceeded(model, lead, activities):
    result = score(lead, model, activities=activities, now=NOW)
    rules = {r.name: r for r in model.engagement}
    for contribution in result.contributions:
        rule = rules.get(contribution.rule)
        if contribution.kind == "engagement" and rule.cap is not None:
            assert abs(contribution.points) <= rule.cap
        if contribution.kind == "engagement" and rule.window is not None and rule.cap is None:
            windows = max(1, math.ceil(401 / rule.window.days) + 1)
            assert abs(contribution.points) <= rule.window.cap * windows
    for group in model.groups:
        if group.cap is None:
            continue
        inside = sum(c.points for c in result.contributions if c.group == group.name)
        cut = sum(a.points for a in result.adjustments if a.scope == f"group:{group.name}")
        assert abs(inside + cut) <= group.cap + 1e-9
    if model.total_cap is not None:
        assert abs(result.total) <= model.total_cap
    if not model.allow_negative:
        assert result.total >= 0


@given(lst.scoring_models(), LEADS, activity_lists())
def test_contributions_and_adjustments_add_up_to_the_total(model, lead, activities):
    result = score(lead, model, activities=activities, now=NOW)
    parts = [c.points for c in result.contributions] + [a.points for a in result.adjustments]
    assert math.isclose(math.fsum(parts), result.total, rel_tol=1e-9, abs_tol=1e-6)
    bands = [b for b in model.bands if b.minimum is None or result.total >= b.minimum]
    assert result.rating == (bands[0].name if bands else None)


@given(lst.scoring_models(), st.lists(LEADS, max_size=5), activity_lists())
def test_compiled_totals_equal_explained_totals(model, leads, activities):
    scorer = model.compile()
    records = [*leads, *(to_dict(lead) for lead in leads)]
    expected = [score(r, model, now=NOW).total for r in records]
    assert scorer.totals(records, now=NOW) == expected
    with_activities = [score(lead, model, activities=activities, now=NOW).total for lead in leads]
    assert scorer.totals(leads, activities=activities, now=NOW) == with_activities


@given(lst.scoring_models(), LEADS, activity_lists())
@settings(max_examples=50)
def test_models_and_scores_round_trip_through_json(model, lead, activities):
    assert from_json(ScoringModel, to_json(model)) == model
    result = score(lead, model, activities=activities, now=NOW)
    assert from_json(Score, to_json(result)) == result


RECORDS = LEADS | LEADS.map(to_dict)


@given(lst.criteria(), RECORDS)
def test_an_inlined_criterion_agrees_with_evaluate(criterion, record):
    inline = _inline(criterion, record.__class__)
    assert inline(record) == evaluate_criterion(criterion, record)
