"""HubSpot-style fit × engagement grades (A1 … D4) beside the single score."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_GRADES,
    Activity,
    Band,
    Condition,
    EngagementRule,
    FitRule,
    GradeMatrix,
    Lead,
    Score,
    ScoringModel,
    ValidationError,
    from_json,
    score,
    to_json,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 40),
        FitRule("exec", Condition("title", "contains", "chief"), 40),
    ],
    engagement=[EngagementRule("opens", "email_opened", 10)],
)


def lead(**fields):
    return Lead(id="L1", last_name="Ng", company="Acme", **fields)


def opens(n):
    return [
        Activity(id=f"A{i}", subject_id="L1", kind="email_opened", occurred_at=NOW)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("fields", "count", "grade"),
    [
        ({"source": "Web", "title": "Chief"}, 8, "A1"),
        ({"source": "Web", "title": "Chief"}, 0, "A4"),
        ({"source": "Web"}, 3, "C3"),
        ({}, 6, "D2"),
        ({}, 0, "D4"),
    ],
)
def test_a_score_carries_its_fit_and_engagement_grade(fields, count, grade):
    result = score(lead(**fields), MODEL, activities=opens(count), now=NOW)
    assert result.grade == grade
    assert MODEL.compile().score(lead(**fields), activities=opens(count), now=NOW) == result


def test_the_grade_is_explained():
    result = score(lead(source="Web"), MODEL, activities=opens(3), now=NOW)
    assert result.grade_reason == "fit 40 is C (from 25); engagement 30 is 3 (from 25)"
    assert DEFAULT_GRADES.explain(10, 99) == (
        "fit 10 is D (below every other band); engagement 99 is 1 (from 75)"
    )


def test_grades_are_data_of_your_choosing_or_none():
    matrix = GradeMatrix(fit=[Band("Ideal", 60), Band("Other")], engagement=[Band("Hot", 20)])
    model = ScoringModel(fit=MODEL.fit, engagement=MODEL.engagement, grades=matrix)
    assert score(lead(source="Web", title="chief"), model, activities=opens(2), now=NOW).grade == (
        "IdealHot"
    )
    quiet = score(lead(), model, now=NOW)
    assert quiet.grade is None  # engagement 0 reaches no band
    assert (
        quiet.grade_reason
        == "fit 0 is Other (below every other band); engagement 0 reaches no band (no grade)"
    )
    ungraded = ScoringModel(fit=MODEL.fit, grades=None)
    result = score(lead(), ungraded, now=NOW)
    assert (result.grade, result.grade_reason) == (None, None)


def test_models_and_scores_round_trip_and_old_json_loads():
    matrix = GradeMatrix(fit=[Band("A", 50), Band("B")], engagement=[Band("1", 10), Band("2")])
    model = ScoringModel(fit=MODEL.fit, grades=matrix, name="graded")
    assert from_json(ScoringModel, to_json(model)) == model
    result = score(lead(source="Web"), model, now=NOW)
    assert from_json(Score, to_json(result)) == result
    # A model and a score written before grades existed load with the defaults.
    old = json.loads(to_json(MODEL))
    del old["grades"]
    assert from_json(ScoringModel, json.dumps(old)) == MODEL
    old_score = json.loads(to_json(score(lead(), MODEL, now=NOW)))
    del old_score["grade"], old_score["grade_reason"]
    assert from_json(Score, json.dumps(old_score)).grade is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: GradeMatrix(fit=[]),
        lambda: GradeMatrix(fit=[Band("A", 10), Band("A")]),
        lambda: GradeMatrix(engagement=[Band("1", 10), Band("2", 10)]),
        lambda: GradeMatrix(fit="ABCD"),
        lambda: ScoringModel(grades="A1"),
        lambda: DEFAULT_GRADES.grade("high", 1),
        lambda: DEFAULT_GRADES.grade(float("nan"), 1),
        lambda: DEFAULT_GRADES.explain(1, float("inf")),
    ],
)
def test_bad_matrices_are_refused(make):
    with pytest.raises(ValidationError):
        make()


POINTS = st.floats(min_value=-1000, max_value=1000, allow_nan=False)
MATRICES = st.builds(
    GradeMatrix,
    fit=st.lists(st.integers(-50, 150), unique=True, min_size=1, max_size=4).map(
        lambda ms: [Band(f"F{i}", m) for i, m in enumerate(ms)] + [Band("Z")]
    ),
    engagement=st.lists(st.integers(-50, 150), unique=True, min_size=1, max_size=4).map(
        lambda ms: [Band(f"E{i}", m) for i, m in enumerate(ms)]
    ),
)


def band_of(bands, points):
    return next((b.name for b in bands if b.minimum is None or points >= b.minimum), None)


@given(MATRICES, POINTS, POINTS, POINTS)
def test_more_fit_never_earns_a_worse_letter(matrix, low, high, engagement):
    low, high = sorted((low, high))
    names = [b.name for b in matrix.fit]
    first, second = band_of(matrix.fit, low), band_of(matrix.fit, high)
    assert names.index(second) <= names.index(first)  # "Z" catches every fit
    reached = band_of(matrix.engagement, engagement)
    grade = matrix.grade(low, engagement)
    assert grade == (None if reached is None else first + reached)
    shown = matrix.explain(low, engagement).split()[1]
    assert matrix.explain(low, engagement).startswith(f"fit {shown} is {first}")
    assert float(shown) == low  # never rounded ("{:g}" showed 74.99999 as 75)


@given(MATRICES)
def test_matrices_round_trip_through_json(matrix):
    model = ScoringModel(grades=matrix)
    assert from_json(ScoringModel, to_json(model)) == model
