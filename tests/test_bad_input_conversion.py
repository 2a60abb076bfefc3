"""Hostile input to conversion: every public constructor and function answers with a
leadmodel ValidationError (InvalidConvertOptions and MappingError are ones) naming what is
wrong, never a TypeError, KeyError, AttributeError or a crash."""

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_MAPPING,
    AutoConversion,
    AutoConvertRule,
    BulkConversion,
    Condition,
    ConversionResult,
    ConvertOptions,
    ExistingRecords,
    FieldMapping,
    Lead,
    LeadModelError,
    MappingEntry,
    ValidationError,
    auto_convert,
    convert_lead,
    convert_leads,
    from_dict,
    from_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import convert_lead as convert_service
from test_bad_input import HOSTILE, HOSTILE_IDS

NOW = datetime(2026, 11, 23, tzinfo=UTC)
STATUS = "Closed - Converted"
LEAD = Lead(id="L1", last_name="Ng", company="Acme")
VALID = {
    ConvertOptions: {"converted_status": STATUS},
    ExistingRecords: {},
    MappingEntry: {"source": "title", "target": "contact", "field": "title"},
    FieldMapping: {"entries": DEFAULT_LEAD_MAPPING.entries},
    AutoConvertRule: {
        "name": "r",
        "criterion": Condition("company", "is_not_blank"),
        "options": ConvertOptions(STATUS),
    },
}
CASES = [(cls, field.name) for cls in VALID for field in attrs.fields(cls)]


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize(("cls", "field"), CASES, ids=[f"{c.__name__}.{f}" for c, f in CASES])
def test_constructors_name_the_bad_field(cls, field, value):
    kwargs = dict(VALID[cls])
    kwargs[field] = value
    try:
        cls(**kwargs)
    except ValidationError as exc:
        assert str(exc)
        assert exc.errors


ARGUMENTS = {
    "lead": LEAD,
    "options": ConvertOptions(STATUS),
    "existing": None,
    "mapping": DEFAULT_LEAD_MAPPING,
    "ids": SequentialIds(),
    "now": NOW,
}


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize("argument", sorted(ARGUMENTS))
def test_convert_lead_refuses_hostile_arguments(argument, value):
    kwargs = dict(ARGUMENTS)
    kwargs[argument] = value
    lead, options = kwargs.pop("lead"), kwargs.pop("options")
    try:
        convert_lead(lead, options, **kwargs)
    except ValidationError as exc:
        assert exc.errors


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_ids_that_return_hostile_ids_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        convert_lead(LEAD, ConvertOptions(STATUS), ids=lambda _kind: value, now=NOW)
    assert caught.value.errors[0].path == "ids"


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_bulk_reports_hostile_items_as_failures(value):
    batch = convert_leads(
        [value, (LEAD, ConvertOptions(STATUS)), (LEAD, value)], ids=SequentialIds(), now=NOW
    )
    assert [f.index for f in batch.failures] == [0, 2]
    assert [r.lead.id for r in batch.results] == ["L1"]


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_bulk_refuses_hostile_item_collections(value):
    try:
        convert_leads(value, ids=SequentialIds(), now=NOW)
    except ValidationError as exc:
        assert exc.errors


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize("argument", ["lead", "rules", "activity", "previous"])
def test_auto_convert_refuses_hostile_arguments(argument, value):
    kwargs = {"lead": LEAD, "rules": [], "activity": None, "previous": None, argument: value}
    try:
        auto_convert(kwargs.pop("lead"), kwargs.pop("rules"), **kwargs)
    except ValidationError as exc:
        assert exc.errors


@pytest.mark.parametrize("value", HOSTILE, ids=HOSTILE_IDS)
def test_the_service_refuses_hostile_lead_ids(value):
    try:
        convert_service(
            MemoryUnitOfWork(), value, ConvertOptions(STATUS), ids=SequentialIds(), now=NOW
        )
    except LeadModelError as exc:
        assert str(exc)


DOCUMENTS = [
    ConvertOptions,
    FieldMapping,
    ConversionResult,
    BulkConversion,
    AutoConvertRule,
    AutoConversion,
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@given(st.sampled_from(DOCUMENTS), JSON)
def test_documents_from_any_json_are_valid_or_a_validation_error(cls, data):
    try:
        from_dict(cls, data)
    except ValidationError as exc:
        assert exc.errors


@given(st.sampled_from(DOCUMENTS), st.dictionaries(st.sampled_from(["format", "x"]), JSON))
def test_documents_need_their_format(cls, data):
    with pytest.raises(ValidationError):
        from_dict(cls, data)


def test_change_records_refuse_unknown_targets_and_fields():
    good = from_json(ConversionResult, _result_json())
    assert good.contact.last_name == "Ng"
    text = _result_json()
    last_name = '"target": "contact", "field": "last_name"'
    for broken in (
        text.replace(last_name, '"target": "x", "field": "last_name"'),
        text.replace('"field": "last_name"', '"field": "no_such_field"'),
    ):
        with pytest.raises(ValidationError):
            from_json(ConversionResult, broken)


def _result_json() -> str:
    from leadmodel import to_json

    return to_json(convert_lead(LEAD, ConvertOptions(STATUS), ids=SequentialIds(), now=NOW))
