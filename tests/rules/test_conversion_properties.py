"""DESIGN.md invariant 2 and friends, as properties over generated leads, mappings, records
and options: conversion loses nothing, fill_blanks never overwrites, inputs never change,
a lead converts once, and every value round-trips through JSON."""

import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    ACCOUNT_SCHEMA,
    CONTACT_SCHEMA,
    DEFAULT_LEAD_MAPPING,
    LEAD_SCHEMA,
    OPPORTUNITY_SCHEMA,
    AlreadyConverted,
    AutoConvertRule,
    Condition,
    ConversionResult,
    ConvertOptions,
    ExistingRecords,
    FieldDef,
    FieldMapping,
    FieldType,
    MappingEntry,
    MergePolicy,
    convert_lead,
    convert_leads,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.rules.mapping import SYSTEM_SOURCES
from leadmodel.testing import strategies as lst

NOW = datetime(2041, 1, 1, tzinfo=UTC)  # after every generated timestamp
STATUS = "Closed - Converted"

# Custom field kinds with a strategy of values that fit them.
KINDS = {
    "text": (FieldDef("x", FieldType.TEXT, length=255), lst.names(max_size=60)),
    "number": (
        FieldDef("x", FieldType.NUMBER, decimals=0),
        st.integers(min_value=-(10**9), max_value=10**9),
    ),
    "checkbox": (FieldDef("x", FieldType.CHECKBOX), st.booleans()),
    "date": (FieldDef("x", FieldType.DATE), st.dates()),
    "money": (
        FieldDef("x", FieldType.CURRENCY, decimals=2),
        st.decimals(min_value=0, max_value=10**6, places=2),
    ),
}
DROPPABLE = sorted(f"{e.target}.{e.field}" for e in DEFAULT_LEAD_MAPPING.entries)
REQUIRED = {"account.name", "contact.last_name"}


@st.composite
def mappings_and_leads(draw):
    """A mapping with custom entries of every kind, and a lead whose values fit it."""
    customs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(KINDS)),
                st.sampled_from(["account", "contact", "opportunity"]),
                st.booleans(),  # mapped, or a custom field no entry carries
            ),
            max_size=5,
        )
    )
    lead_fields, target_fields, entries, values = [], {}, [], {}
    for i, (kind, target, mapped) in enumerate(customs):
        definition, strategy = KINDS[kind]
        name = f"c{i}_{kind}"
        lead_fields.append(attrs.evolve(definition, name=name))
        if mapped:
            target_fields.setdefault(target, []).append(attrs.evolve(definition, name=name))
            entries.append(MappingEntry(f"custom.{name}", target, f"custom.{name}"))
        if draw(st.booleans()):
            values[name] = draw(strategy)
    dropped = draw(st.sets(st.sampled_from([p for p in DROPPABLE if p not in REQUIRED])))
    mapping = DEFAULT_LEAD_MAPPING.without(*dropped).extend(
        *entries,
        lead_schema=LEAD_SCHEMA.with_custom(*lead_fields),
        account_schema=ACCOUNT_SCHEMA.with_custom(*target_fields.get("account", [])),
        contact_schema=CONTACT_SCHEMA.with_custom(*target_fields.get("contact", [])),
        opportunity_schema=OPPORTUNITY_SCHEMA.with_custom(*target_fields.get("opportunity", [])),
    )
    lead = draw(lst.leads(converted=st.just(False), custom=st.just(values)))
    return mapping, lead


@st.composite
def conversions(draw):
    """(lead, options, existing, mapping) for a conversion that is valid by construction."""
    mapping, lead = draw(mappings_and_leads())
    into_account = draw(st.booleans())
    into_contact = into_account and draw(st.booleans())
    # a person account takes a lead only together with its contact (person_account_contact)
    account = (
        attrs.evolve(
            draw(lst.accounts()),
            id="A1",
            parent_id=None,
            is_person=into_contact and draw(st.booleans()),
        )
        if into_account
        else None
    )
    contact = attrs.evolve(draw(lst.contacts()), id="C1", account_id="A1") if into_contact else None
    policy = draw(st.sampled_from(MergePolicy))
    options = ConvertOptions(
        STATUS,
        account_id="A1" if into_account else None,
        contact_id="C1" if into_contact else None,
        create_opportunity=draw(st.booleans()),
        owner_id="U-new" if lead.owner_is_queue else draw(st.sampled_from([None, "U-new"])),
        merge_policy=policy,
        overwrite_lead_source=into_contact and draw(st.booleans()),
        person_account=draw(st.booleans()),
    )
    existing = ExistingRecords(account=account, contact=contact)
    return lead, options, existing, mapping


def run(lead, options, existing, mapping):
    return convert_lead(
        lead, options, existing=existing, mapping=mapping, ids=SequentialIds(), now=NOW
    )


def blank(value, *, custom):
    return value is None or value == frozenset() or (value is False and not custom)


def read(record, path):
    if path.startswith("custom."):
        return record.custom.get(path[7:])
    return getattr(record, path)


@given(conversions())
def test_conversion_loses_nothing(case):
    lead, options, existing, mapping = case
    result = run(lead, options, existing, mapping)
    written = {c.source for c in result.changes}
    skipped = {s.source for s in result.skipped}
    unmapped = {u.field: u.value for u in result.unmapped}
    records = {
        "account": result.account,
        "contact": result.contact,
        "opportunity": result.opportunity,
    }
    person = "account" in result.created and result.account.is_person
    paths = [fd.name for fd in mapping.lead_schema.standard if fd.name not in SYSTEM_SOURCES]
    paths += [f"custom.{key}" for key in lead.custom]
    for path in paths:
        value = read(lead, path)
        if blank(value, custom=path.startswith("custom.")):
            continue
        landed = any(
            records[e.target] is not None
            and read(records[e.target], e.field) is not None
            # a person account's name is the person's, not the company's
            and (e.target, e.field, person) != ("account", "name", True)
            for e in mapping.entries
            if e.source == path
        )
        assert path in written or path in skipped or landed or path in unmapped, path
        if path in unmapped:
            assert unmapped[path] == value


@given(conversions())
def test_a_person_lead_converts_into_a_person_account_unless_told_otherwise(case):
    lead, options, existing, mapping = case
    result = run(lead, options, existing, mapping)
    makes = (
        lead.is_person
        and options.person_account
        and existing.account is None
        and existing.contact is None
    )
    new_person = "account" in result.created and result.account.is_person
    assert new_person == makes
    if makes:
        assert result.account.name == lead.name
        assert result.contact.account_id == result.account.id
        if result.opportunity is not None:
            assert result.opportunity.account_id == result.account.id


@given(conversions())
def test_every_change_and_skip_is_true_of_the_records(case):
    lead, options, existing, mapping = case
    result = run(lead, options, existing, mapping)
    records = {"account": result.account, "contact": result.contact,
               "opportunity": result.opportunity, "lead": result.lead}  # fmt: skip
    for change in result.changes:
        assert read(records[change.target], change.field) == change.new
    for skip in result.skipped:
        assert read(records[skip.target], skip.field) == skip.kept


@given(conversions())
def test_fill_blanks_never_overwrites_a_value(case):
    lead, options, existing, mapping = case
    options = attrs.evolve(
        options, merge_policy=MergePolicy.FILL_BLANKS, overwrite_lead_source=False
    )
    result = run(lead, options, existing, mapping)
    for old, new in ((existing.account, result.account), (existing.contact, result.contact)):
        if old is None:
            continue
        for field in attrs.fields(type(old)):
            if field.name in ("updated_at", "lifecycle_stage", "custom"):
                continue
            before = getattr(old, field.name)
            if not blank(before, custom=False):
                assert getattr(new, field.name) == before, field.name
        for key, before in old.custom.items():
            assert new.custom[key] == before


@given(conversions())
def test_conversion_never_changes_its_inputs(case):
    before = copy.deepcopy(case)
    run(*case)
    assert case == before


@given(conversions())
def test_a_lead_converts_once(case):
    lead, options, existing, mapping = case
    result = run(lead, options, existing, mapping)
    try:
        run(result.lead, options, existing, mapping)
    except AlreadyConverted as error:
        assert error.lead_id == lead.id
    else:
        raise AssertionError("converted twice")


@given(conversions())
def test_results_options_and_mappings_round_trip_through_json(case):
    lead, options, existing, mapping = case
    result = run(lead, options, existing, mapping)
    assert from_json(ConversionResult, to_json(result)) == result
    assert from_json(ConvertOptions, to_json(options)) == options
    assert from_json(FieldMapping, to_json(mapping)) == mapping


@given(st.lists(lst.leads(converted=st.just(False)), max_size=8, unique_by=lambda lead: lead.id))
def test_bulk_accounts_for_every_lead(leads):
    options = ConvertOptions(STATUS, owner_id="U-new")
    batch = convert_leads([(lead, options) for lead in leads], ids=SequentialIds(), now=NOW)
    done = [r.lead.id for r in batch.results] + [f.lead_id for f in batch.failures]
    assert sorted(done) == sorted(lead.id for lead in leads)
    assert not batch.failures


@given(
    name=lst.names(),
    kinds=st.frozensets(st.sampled_from(["demo_booked", "purchase", "trial"])),
    when=st.dates(min_value=date(2000, 1, 1)),
    budget=st.decimals(min_value=0, max_value=10**6, places=2),
)
def test_auto_convert_rules_round_trip(name, kinds, when, budget):
    criterion = (
        Condition("custom.budget", "gte", budget)
        if budget
        else Condition("custom.signed", "gte", when)
    )
    rule = AutoConvertRule(criterion, ConvertOptions(STATUS), name=name, activity_kinds=kinds)
    assert from_json(AutoConvertRule, to_json(rule)) == rule
    assert isinstance(budget, Decimal)
