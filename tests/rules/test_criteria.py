from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    LEAD_SCHEMA,
    Address,
    All,
    Any,
    Condition,
    Criterion,
    EmailAddress,
    FieldDef,
    FieldType,
    Lead,
    LifecycleStage,
    Money,
    Not,
    ValidationError,
    check_criterion,
    evaluate,
    from_json,
    to_json,
)
from leadmodel.testing.strategies import leads

LEAD = Lead(
    id="L1",
    first_name="Ada",
    last_name="Lovelace",
    company="Analytical Engines",
    email=EmailAddress.parse("ada@engines.example"),
    source="Web",
    employees=12,
    annual_revenue=Money(Decimal(2_500_000), "GBP"),
    address=Address(city="London", country="UK"),
    tags={"vip", "fair"},
    lifecycle_stage=LifecycleStage.MARKETING_QUALIFIED,
    custom={"visits": 4, "since": date(2024, 5, 1), "score": Decimal("7.5")},
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        (Condition("source", "eq", "WEB"), True),
        (Condition("source", "ne", "Web"), False),
        (Condition("source", "in", ("Phone", "Web")), True),
        (Condition("source", "not_in", ("Phone",)), True),
        (Condition("employees", "gt", 10), True),
        (Condition("employees", "lte", 11), False),
        (Condition("employees", "between", (10, 12)), True),
        (Condition("annual_revenue", "gte", Decimal(1_000_000)), True),
        (Condition("custom.visits", "gte", 3), True),
        (Condition("custom.since", "lt", date(2025, 1, 1)), True),
        (Condition("custom.score", "between", (Decimal(7), Decimal(8))), True),
        (Condition("created_at", "gte", datetime(2025, 1, 1, tzinfo=UTC)), True),
        (Condition("company", "contains", "ENGINE"), True),
        (Condition("company", "starts_with", "analytical"), True),
        (Condition("email", "ends_with", "@engines.example"), True),
        (Condition("address.city", "eq", "london"), True),
        (Condition("address.state", "is_blank"), True),
        (Condition("title", "is_blank"), True),
        (Condition("title", "is_not_blank"), False),
        (Condition("tags", "contains", "VIP"), True),
        (Condition("tags", "in", ("nope", "fair")), True),
        (Condition("tags", "not_in", ("vip",)), False),
        (Condition("lifecycle_stage", "eq", "marketing_qualified"), True),
        (Condition("employees", "eq", "12"), False),
        (Condition("custom.missing", "eq", 1), False),
        (Condition("custom.missing", "ne", 1), True),
        (All([Condition("source", "eq", "Web"), Condition("employees", "gt", 100)]), False),
        (Any([Condition("source", "eq", "Phone"), Condition("employees", "gt", 10)]), True),
        (Not(Condition("source", "eq", "Web")), False),
    ],
)
def test_evaluate(criterion, expected):
    assert evaluate(criterion, LEAD) is expected


def test_evaluate_mappings():
    assert evaluate(Condition("address.country", "eq", "fr"), {"address": {"country": "FR"}})
    assert not evaluate(Condition("source", "eq", "Web"), {})


def test_changed_needs_the_previous_record():
    moved = Lead(id="L1", last_name="Lovelace", company="Other")
    assert evaluate(Condition("company", "changed"), moved, previous=LEAD)
    assert not evaluate(Condition("source", "changed"), LEAD, previous=LEAD)
    assert not evaluate(Condition("company", "changed"), moved)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("bad path!", "eq", 1), "field"),
        (("source", "like", "x"), "op"),
        (("source", "eq", None), "value"),
        (("source", "is_blank", "x"), "value"),
        (("source", "in", ()), "value"),
        (("employees", "between", (5, 1)), "value"),
        (("employees", "between", (1, date(2024, 1, 1))), "value"),
        (("employees", "gt", True), "value"),
        (("source", "contains", 3), "value"),
        (("source", "eq", 1.5), "value"),
        (("created_at", "gt", datetime(2026, 1, 1)), "value"),  # noqa: DTZ001
    ],
)
def test_inconsistent_conditions_are_refused_when_built(args, path):
    with pytest.raises(ValidationError) as caught:
        Condition(*args)
    assert caught.value.errors[0].path == path


def test_groups_take_criteria_only():
    with pytest.raises(ValidationError):
        All("source")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Any(["source"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        Not("source")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        evaluate("source", LEAD)  # type: ignore[arg-type]


def test_check_against_a_schema():
    schema = LEAD_SCHEMA.with_custom(
        FieldDef("visits", FieldType.NUMBER, decimals=0),
        FieldDef("tier", FieldType.PICKLIST, choices=("Gold", "Silver"), restricted=True),
    )
    criterion = All(
        [
            Condition("employees", "gt", "many"),
            Condition("nope", "eq", 1),
            Condition("custom.visits", "gte", 3),
            Condition("custom.tier", "eq", "Bronze"),
            Condition("created_at", "gt", date(2026, 1, 1)),
            Condition("employees", "contains", "1"),
            Condition("address.city", "eq", "Paris"),
        ]
    )
    assert [(e.path, e.code) for e in check_criterion(criterion, schema)] == [
        ("employees", "type"),
        ("nope", "unknown_field"),
        ("custom.tier", "unknown_choice"),
        ("created_at", "type"),
        ("employees", "type"),
    ]


def test_round_trip_through_json():
    criterion = All(
        [
            Condition("source", "in", ("Web", "Other")),
            Not(Condition("custom.since", "between", (date(2024, 1, 1), date(2025, 1, 1)))),
            Any([Condition("custom.score", "gte", Decimal("1.5")), Condition("title", "changed")]),
        ]
    )
    text = to_json(criterion)
    assert from_json(Criterion, text) == criterion
    assert from_json(All, text) == criterion


def test_bad_json_is_a_validation_error():
    for text in (
        '{"kind": "xor"}',
        '{"kind": "condition", "field": "a", "op": "eq", "value": 1, "x": 2}',
        "[]",
    ):
        with pytest.raises(ValidationError):
            from_json(Criterion, text)


conditions = st.builds(
    Condition,
    st.sampled_from(["source", "industry", "employees", "custom.visits", "tags", "title"]),
    st.sampled_from(["is_blank", "is_not_blank"]),
) | st.builds(
    Condition,
    st.sampled_from(["source", "title", "company"]),
    st.sampled_from(["eq", "ne", "contains", "starts_with"]),
    st.sampled_from(["Web", "a", "Other"]),
)


@given(leads(), conditions)
def test_not_is_the_complement(lead, condition):
    assert evaluate(Not(condition), lead) is (not evaluate(condition, lead))


@given(leads(), st.lists(conditions, min_size=1, max_size=4), st.randoms())
def test_all_and_any_do_not_depend_on_order(lead, items, random):
    shuffled = list(items)
    random.shuffle(shuffled)
    assert evaluate(All(items), lead) is evaluate(All(shuffled), lead)
    assert evaluate(Any(items), lead) is evaluate(Any(shuffled), lead)
