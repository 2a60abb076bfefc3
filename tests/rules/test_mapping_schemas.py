"""Field mappings against the schemas they are built with (issue 14: storage integrity)."""

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    ACCOUNT_SCHEMA,
    DEFAULT_LEAD_MAPPING,
    LEAD_SCHEMA,
    ConvertOptions,
    EntitySchema,
    FieldDef,
    FieldMapping,
    FieldType,
    Lead,
    MappingError,
    convert_lead,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.rules.mapping import SYSTEM_SOURCES
from leadmodel.testing.strategies import leads

NOW = datetime(2041, 1, 1, tzinfo=UTC)  # after every generated timestamp
OPTIONS = ConvertOptions(converted_status="Closed - Converted")


def without(schema: EntitySchema, *names: str) -> EntitySchema:
    return attrs.evolve(schema, standard=tuple(f for f in schema.standard if f.name not in names))


def convert(lead: Lead, mapping: FieldMapping):
    options = attrs.evolve(OPTIONS, owner_id="U-new") if lead.owner_is_queue else OPTIONS
    return convert_lead(lead, options, mapping=mapping, ids=SequentialIds(), now=NOW)


def test_a_field_the_lead_schema_leaves_out_is_reported_unmapped():
    mapping = FieldMapping(
        DEFAULT_LEAD_MAPPING.entries, lead_schema=without(LEAD_SCHEMA, "team_id")
    )
    lead = Lead(id="L1", last_name="Ng", company="Acme", team_id="T9")
    unmapped = {(u.field, u.value, u.reason) for u in convert(lead, mapping).unmapped}
    assert unmapped == {("team_id", "T9", "no_entry")}


def test_a_lead_schema_naming_a_field_lead_lacks_is_refused_when_the_mapping_is_built():
    schema = attrs.evolve(
        LEAD_SCHEMA, standard=(*LEAD_SCHEMA.standard, FieldDef("shoe_size", FieldType.TEXT))
    )
    with pytest.raises(MappingError) as caught:
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, lead_schema=schema)
    (error,) = caught.value.errors
    assert error.code == "unknown_field"
    assert error.path == f"lead_schema.standard[{len(LEAD_SCHEMA.standard)}]"
    assert "Lead has no field 'shoe_size'" in error.message
    assert "with_custom" in error.message


def test_a_target_schema_naming_a_field_its_entity_lacks_is_refused():
    schema = attrs.evolve(
        ACCOUNT_SCHEMA, standard=(*ACCOUNT_SCHEMA.standard, FieldDef("motto", FieldType.TEXT))
    )
    with pytest.raises(MappingError) as caught:
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, account_schema=schema)
    assert [e.code for e in caught.value.errors] == ["unknown_field"]
    assert caught.value.errors[0].path.startswith("account_schema.standard[")


def test_a_standard_field_with_another_type_is_refused():
    schema = attrs.evolve(
        LEAD_SCHEMA,
        standard=tuple(
            FieldDef("email", FieldType.TEXT, length=80) if f.name == "email" else f
            for f in LEAD_SCHEMA.standard
        ),
    )
    with pytest.raises(MappingError) as caught:
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, lead_schema=schema)
    (error,) = caught.value.errors
    assert error.code == "standard_type"
    assert "Lead.email is a email field, not text" in error.message


def test_a_standard_field_may_change_its_length_and_choices():
    schema = attrs.evolve(
        LEAD_SCHEMA,
        standard=tuple(
            FieldDef("industry", FieldType.PICKLIST, length=30, choices=("Retail",))
            if f.name == "industry"
            else f
            for f in LEAD_SCHEMA.standard
        ),
    )
    mapping = FieldMapping(DEFAULT_LEAD_MAPPING.entries, lead_schema=schema)
    assert mapping.lead_schema is schema


def test_a_mapped_field_the_lead_schema_leaves_out_is_refused():
    with pytest.raises(MappingError) as caught:
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, lead_schema=without(LEAD_SCHEMA, "title"))
    assert [e.code for e in caught.value.errors] == ["unknown_field"]


UNMAPPABLE = sorted(
    f.name
    for f in LEAD_SCHEMA.standard
    if f.name not in SYSTEM_SOURCES and f.name not in DEFAULT_LEAD_MAPPING.sources
)


@settings(max_examples=60, deadline=None)
@given(lead=leads(converted=st.just(False)), left_out=st.sets(st.sampled_from(UNMAPPABLE)))
def test_conversion_loses_nothing_whatever_the_lead_schema_leaves_out(lead, left_out):
    mapping = FieldMapping(
        DEFAULT_LEAD_MAPPING.entries, lead_schema=without(LEAD_SCHEMA, *left_out)
    )
    result = convert(lead, mapping)
    unmapped = {u.field for u in result.unmapped}
    for name in left_out:
        value = getattr(lead, name)
        if value is not None and value != frozenset() and value is not False:
            assert name in unmapped
