"""List views: filter, multi-key sort with blanks last, limit, columns, JSON, bad input."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Condition,
    ConversionRecord,
    Lead,
    ListView,
    Segment,
    ValidationError,
    apply_view,
    evaluate,
    from_json,
    funnel,
    to_dict,
    to_json,
)
from leadmodel.testing import strategies as lst

LEADS = [
    Lead(id="L1", last_name="Ng", company="Acme", source="Web", employees=10),
    Lead(id="L2", last_name="ito", company="Beta", source="Web", employees=500),
    Lead(id="L3", last_name="Ro", company="Gamma", source="Fair", employees=500),
    Lead(id="L4", last_name="Abe", company="Delta", source="Web"),
]


def ids(records):
    return [record.id for record in records]


def test_a_view_filters_sorts_on_several_keys_and_limits():
    view = ListView("big first", sort=[("employees", "desc"), ("last_name", "asc")])
    assert ids(apply_view(view, LEADS)) == ["L2", "L3", "L1", "L4"]  # ito < Ro, ignoring case
    web = ListView("web", Condition("source", "eq", "web"), sort=[("last_name", "asc")], limit=2)
    assert ids(apply_view(web, LEADS)) == ["L4", "L2"]


def test_blanks_sort_last_in_both_directions():
    for direction in ("asc", "desc"):
        view = ListView("v", sort=[("employees", direction)])
        assert ids(apply_view(view, LEADS))[-1] == "L4"


def test_mixed_kinds_sort_without_failing():
    records = [{"id": "a", "x": 3}, {"id": "b", "x": "three"}, {"id": "c", "x": None}]
    view = ListView("mixed", sort=[("x", "asc")])
    assert [r["id"] for r in apply_view(view, records)] == ["b", "a", "c"]


def test_rows_give_the_view_columns():
    view = ListView(
        "v", Condition("source", "eq", "Fair"), columns=["last_name", "employees", "custom.nope"]
    )
    assert view.rows(LEADS) == [{"last_name": "Ro", "employees": 500, "custom.nope": None}]


@given(lst.criteria(max_leaves=3), st.lists(lst.leads(), max_size=6))
def test_a_view_shows_exactly_the_matching_records_and_round_trips(criterion, leads):
    view = ListView("generated", criterion, sort=[("last_name", "desc"), ("id", "asc")])
    shown = apply_view(view, leads)
    assert sorted(ids(shown)) == sorted(lead.id for lead in leads if evaluate(criterion, lead))
    assert from_json(ListView, to_json(view)) == view
    assert apply_view(view, [to_dict(lead) for lead in leads]) is not None


@pytest.mark.parametrize(
    "build",
    [
        lambda: ListView(""),
        lambda: ListView("v", "source = Web"),
        lambda: ListView("v", sort=[("employees", "up")]),
        lambda: ListView("v", sort=["employees"]),
        lambda: ListView("v", columns=[""]),
        lambda: ListView("v", limit=0),
    ],
)
def test_invalid_views_are_refused(build):
    with pytest.raises(ValidationError):
        build()


@pytest.mark.parametrize(
    "call",
    [lambda: apply_view("view", LEADS), lambda: apply_view(ListView("v"), "leads")],
)
def test_bad_arguments_raise_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


WEB = Segment("Web leads", Condition("source", "eq", "web"), "Everything from the site")
BIG = Segment("Big", Condition("employees", "gte", 100))


def test_segments_match_and_start_views():
    assert [lead.id for lead in LEADS if WEB.matches(lead)] == ["L1", "L2", "L4"]
    view = WEB.view(sort=[("employees", "desc")], columns=["last_name"], limit=1)
    assert view.name == "Web leads"
    assert view.rows(LEADS) == [{"last_name": "ito"}]


@given(lst.criteria(), st.text(min_size=1, max_size=20).filter(str.strip))
def test_segments_round_trip_through_json(criterion, name):
    try:
        segment = Segment(name.strip(), criterion)
    except ValidationError:
        return  # a name with control characters, say
    assert from_json(Segment, to_json(segment)) == segment


def test_funnel_by_segments_counts_each_membership_and_the_rest():
    converted = Lead(
        id="L5",
        last_name="Xu",
        company="Eps",
        source="web",
        employees=200,
        status="Closed - Converted",
        converted=ConversionRecord(
            account_id="A",
            contact_id="C",
            converted_at=datetime(2026, 1, 1, tzinfo=UTC),
            status="Closed - Converted",
        ),
    )
    table = funnel([*LEADS, converted], by=[WEB, BIG])
    assert table.columns == ("segment", "leads", "converted", "conversion_rate")
    # Web: L1 L2 L4 L5; Big: L2 L3 L5; nobody is in neither.
    assert table.rows == (("Web leads", 4, 1, 0.25), ("Big", 3, 1, 1 / 3))
    small = funnel(LEADS, by=[BIG])
    assert small.rows == (("Big", 2, 0, 0.0), ("(none)", 2, 0, 0.0))


@pytest.mark.parametrize(
    "build",
    [
        lambda: Segment("", Condition("source", "eq", "web")),
        lambda: Segment("x", None),
        lambda: Segment("x", "source = web"),
        lambda: Segment("x", Condition("source", "eq", "web"), ""),
        lambda: funnel(LEADS, by=[WEB, WEB]),
        lambda: funnel(LEADS, by=[WEB, "Big"]),
        lambda: funnel(LEADS, by=[]),
        lambda: funnel(LEADS, by={"Big": BIG}),
    ],
)
def test_bad_segments_are_refused(build):
    with pytest.raises(ValidationError):
        build()


class Hostile:
    def __repr__(self):
        raise RuntimeError("no repr")

    def __eq__(self, other):
        raise RuntimeError("no eq")

    __hash__ = None


@pytest.mark.parametrize("value", [None, "", "x" * 100_000, 7, b"x", {"a": 1}, [None], Hostile()])
@pytest.mark.parametrize(
    "call",
    [
        lambda v: apply_view(v, LEADS),
        lambda v: apply_view(WEB.view(), v),
        lambda v: Segment(v, Condition("source", "eq", "web")),
        lambda v: Segment("s", v),
        lambda v: Segment("s", Condition("source", "eq", "web"), v),
        lambda v: WEB.view(limit=v),
        lambda v: ListView("v", sort=v),
    ],
)
def test_hostile_view_arguments_raise_validation_errors(call, value):
    """A ValidationError, or a documented answer for values that are in fact fine."""
    try:
        result = call(value)
    except ValidationError:
        return
    if isinstance(result, list):  # records that are neither entities nor mappings never match
        assert value == [None]
        assert result == []
        return
    # None is "no description" or "no limit", 7 a limit; nothing else gets through.
    assert value is None or value == 7
    assert isinstance(result, Segment | ListView)


def test_a_hostile_sort_direction_is_a_validation_error():
    with pytest.raises(ValidationError):
        ListView("v", sort=[("last_name", Hostile())])
