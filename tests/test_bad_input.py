"""Hostile input: every public constructor and parser answers with a leadmodel error that
names the field, never a TypeError, KeyError, AttributeError or a crash."""

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_PROCESS,
    LEAD_SCHEMA,
    Account,
    AccountContactRelation,
    Activity,
    Address,
    Contact,
    ConversionRecord,
    EmailAddress,
    FieldDef,
    FieldValues,
    InvalidValue,
    Lead,
    LeadModelError,
    LeadStatus,
    Money,
    Notification,
    Opportunity,
    OpportunityStage,
    PhoneNumber,
    ValidationError,
    advance,
    from_dict,
    from_json,
    regress,
    transition,
    update,
)
from leadmodel.adapters.memory import FixedClock, MemoryUnitOfWork, SequentialIds

NOW = datetime(2026, 1, 15, tzinfo=UTC)
TEN_MB = "x" * (10 * 1024 * 1024)


class Hostile:
    """An object whose every dunder misbehaves."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq for you")

    __hash__ = None  # type: ignore[assignment]


HOSTILE = [
    None,
    "",
    "   ",
    TEN_MB,
    "bad\x00value",
    "bad\x1bvalue",
    "lone \ud800 surrogate",
    3.5,
    -1,
    10**30,
    b"bytes",
    [],
    ["a", 1],
    {"a": object()},
    object(),
    Hostile(),
    datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
]
HOSTILE_IDS = [
    "None", "empty", "blank", "10MB", "NUL", "ESC", "surrogate", "float", "negative", "huge",
    "bytes", "list", "mixed list", "dict", "object", "hostile", "naive datetime",
]  # fmt: skip

VALID = {
    Lead: {"id": "L1", "last_name": "Ng", "company": "Acme"},
    Contact: {"id": "C1", "last_name": "Ng"},
    Account: {"id": "A1", "name": "Acme"},
    Opportunity: {"id": "O1", "name": "Deal"},
    Activity: {"id": "X1", "subject_id": "L1", "kind": "call", "occurred_at": NOW},
    ConversionRecord: {
        "account_id": "A1",
        "contact_id": "C1",
        "converted_at": NOW,
        "status": "Closed - Converted",
    },
    AccountContactRelation: {"account_id": "A1", "contact_id": "C1"},
    Notification: {"recipient": "u1", "template": "t", "subject_id": "L1"},
    Address: {"city": "Paris"},
    Money: {"amount": 1, "currency": "EUR"},
    LeadStatus: {"name": "New"},
    OpportunityStage: {"name": "New", "probability": 10},
}
CASES = [(cls, field.name) for cls in VALID for field in attrs.fields(cls)]


def construct(cls, field, value):
    kwargs = dict(VALID[cls])
    kwargs[field] = value
    return cls(**kwargs)


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize(("cls", "field"), CASES, ids=[f"{c.__name__}.{f}" for c, f in CASES])
def test_constructors_name_the_bad_field(cls, field, value):
    try:
        construct(cls, field, value)
    except ValidationError as exc:
        assert any(p == field or p.startswith(f"{field}.") or p == "" for p in exc.paths), exc
        assert str(exc)  # the message itself never fails to render


@given(
    st.sampled_from(CASES),
    st.one_of(
        st.none(),
        st.text(),
        st.binary(),
        st.integers(),
        st.floats(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
        st.datetimes(),
        st.booleans(),
    ),
)
def test_constructors_never_raise_anything_but_validation_errors(case, value):
    cls, field = case
    try:
        construct(cls, field, value)
    except ValidationError as exc:
        assert exc.paths


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize("parse", [EmailAddress.parse, PhoneNumber.parse], ids=["email", "phone"])
def test_value_parsers_raise_invalid_value(parse, value):
    with pytest.raises(InvalidValue) as caught:
        parse(value)
    assert caught.value.errors[0].code
    assert str(caught.value)


@given(st.text())
def test_email_parse_never_crashes(text):
    try:
        EmailAddress.parse(text)
    except InvalidValue as exc:
        assert exc.kind == "email"


@given(st.text(), st.sampled_from(["US", "GB", "DE", "IN"]))
def test_phone_parse_never_crashes(text, region):
    try:
        PhoneNumber.parse(text, region=region)
    except InvalidValue as exc:
        assert exc.kind == "phone"


@pytest.mark.parametrize("region", [None, 5, "", "ZZZ", TEN_MB])
def test_phone_parse_refuses_bad_regions(region):
    with pytest.raises(InvalidValue):
        PhoneNumber.parse("415 555 1234", region=region)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_from_dict_never_crashes(data):
    for cls in (Lead, Contact, Account, Opportunity, Activity, Money, FieldValues):
        try:
            from_dict(cls, data)
        except ValidationError as exc:
            assert str(exc)


@given(st.text())
def test_from_json_never_crashes(text):
    try:
        from_json(Lead, text)
    except ValidationError:
        pass


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_custom_values_refuse_hostile_input(value):
    try:
        FieldValues({"field": value})
    except ValidationError as exc:
        assert exc.paths == ("custom.field",)


def test_custom_values_refuse_hostile_keys():
    for key in [None, 5, "", TEN_MB, "a\x00", ("a",)]:
        with pytest.raises(ValidationError):
            FieldValues({key: 1})  # type: ignore[dict-item]


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_guarded_changes_refuse_hostile_input(value):
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    calls = [
        lambda: update(value, title="x"),
        lambda: update(lead, title=value),
        lambda: transition(value, "Working - Contacted"),
        lambda: transition(lead, value),
        lambda: transition(lead, "Working - Contacted", process=value),
        lambda: advance(value, lead.lifecycle_stage),
        lambda: advance(lead, value),
        lambda: regress(lead, lead.lifecycle_stage, reason=value),
    ]
    for call in calls:
        try:
            call()
        except LeadModelError as exc:
            assert str(exc)


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_schemas_and_processes_refuse_hostile_input(value):
    for call in (
        lambda: LEAD_SCHEMA.field(value),
        lambda: LEAD_SCHEMA.validate(value),
        lambda: DEFAULT_LEAD_PROCESS.status(value),
        lambda: FieldDef(value, value),
    ):
        with pytest.raises(ValidationError):
            call()


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_adapters_refuse_hostile_input(value):
    uow = MemoryUnitOfWork()
    calls = [
        lambda: uow.leads.get(value),
        lambda: uow.leads.add(value),
        lambda: uow.leads.update(value),
        lambda: uow.leads.remove(value),
        lambda: SequentialIds()(value),
        lambda: FixedClock(value),
    ]
    for call in calls:
        try:
            call()
        except LeadModelError as exc:
            assert str(exc)


def test_find_by_keys_refuses_a_lone_string():
    with pytest.raises(ValidationError):
        MemoryUnitOfWork().leads.find_by_keys("email:a@b.c")
