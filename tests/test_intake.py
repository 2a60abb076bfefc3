"""Web-to-lead intake: aliases, names, parsing, unknown fields, UTM, spam, hostile input."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    LEAD_SCHEMA,
    FieldDef,
    FieldType,
    FormErrors,
    FormSpec,
    ImportRun,
    Lead,
    ValidationError,
    from_json,
    parse_web_form,
    to_json,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SPEC = FormSpec.default()


def parse(form, spec=SPEC):
    return parse_web_form(form, spec, ids=lambda kind: f"{kind}-1", now=NOW)


@pytest.mark.parametrize(
    "key", ["first_name", "first-name", "FirstName", "firstname", "First Name"]
)
def test_field_names_match_loosely(key):
    lead = parse({key: "Ada", "last_name": "Lovelace", "company": "Engines"})
    assert lead.first_name == "Ada"


def test_a_full_lead_is_parsed_trimmed_and_typed():
    lead = parse(
        {
            "first_name": "  Grace ",
            "last_name": "Hopper",
            "email": "Grace.Hopper@Navy.MIL",
            "phone": "(415) 555-0199",
            "company": "Cobol Systems",
            "employees": "1,200",
            "city": "Arlington",
            "country": "US",
            "lead_source": "Partner",
            "message": "Line one\nLine two",
            "tags": ["cobol", "compilers"],
        }
    )
    assert isinstance(lead, Lead)
    assert (lead.first_name, str(lead.email), lead.phone.e164) == (
        "Grace",
        "grace.hopper@navy.mil",
        "+14155550199",
    )
    assert (lead.employees, lead.address.city, lead.source) == (1200, "Arlington", "Partner")
    assert lead.description == "Line one\nLine two"
    assert lead.tags == {"cobol", "compilers"}
    assert (lead.created_at, lead.id, lead.is_person) == (NOW, "lead-1", False)


def test_a_single_name_is_split_and_a_lone_word_is_the_last_name():
    assert (
        parse({"name": "Mr John Smith Jr."}).first_name,
        parse({"name": "Mr John Smith Jr."}).last_name,
    ) == ("John", "Smith")
    lone = parse({"name": "Cher"})
    assert (lone.first_name, lone.last_name) == (None, "Cher")
    assert lone.is_person


def test_every_problem_is_reported_on_its_field():
    errors = parse({"email": "two@@signs", "phone": "12", "employees": "many", "first_name": "A"})
    assert isinstance(errors, FormErrors)
    assert errors.fields == ("email", "employees", "last_name", "phone")


def test_header_injection_and_control_characters_are_refused():
    errors = parse({"last_name": "Ng\r\nBcc: victim@example.com", "email": "a@b.co\nBcc: x@y.z"})
    assert isinstance(errors, FormErrors)
    assert {e.code for e in errors.errors} == {"control_character"}
    assert set(errors.fields) == {"email", "last_name"}


def test_unknown_fields_are_kept_as_json_not_dropped():
    lead = parse({"last_name": "Ng", "Favourite colour": "green", "budget": "10k"})
    assert json.loads(lead.custom["form_extra"]) == {"Favourite colour": "green", "budget": "10k"}


def test_custom_ids_and_a_schema_type_custom_values():
    schema = LEAD_SCHEMA.with_custom(
        FieldDef("budget", FieldType.CURRENCY), FieldDef("trial", FieldType.CHECKBOX)
    )
    spec = FormSpec(schema=schema).with_custom(
        {"00N5e00000AbCdE": "custom.budget", "trial": "custom.trial"}
    )
    lead = parse({"last_name": "Ng", "00N5e00000AbCdE": "12,500.50", "Trial": "yes"}, spec)
    assert lead.custom["budget"] == Decimal("12500.50")
    assert lead.custom["trial"] is True
    bad = parse({"last_name": "Ng", "00N5e00000AbCdE": "lots"}, spec)
    assert bad.fields == ("custom.budget",)


def test_utm_parameters_attribute_the_lead():
    lead = parse(
        {
            "last_name": "Ng",
            "utm_source": "newsletter",
            "utm_campaign": "spring",
            "utm_medium": "email",
        }
    )
    assert (lead.source, lead.campaign_id) == ("newsletter", "spring")
    assert (lead.custom["utm_medium"], lead.custom["utm_source"]) == ("email", "newsletter")
    assert parse({"last_name": "Ng"}).source == "Web"
    assert parse({"last_name": "Ng", "source": "Fair", "utm_source": "x"}).source == "Fair"


@pytest.mark.parametrize(
    ("form", "signal"),
    [
        ({"last_name": "Ng", "honeypot": "http://spam"}, "honeypot"),
        (
            {"last_name": "Ng", "email": "x@mailinator.com", "company": "Buy http://pills.example"},
            "link in a name",
        ),
        (
            {
                "last_name": "aaaa",
                "first_name": "aaaa",
                "company": "aaaa",
                "title": "aaaa",
                "email": "x@mailinator.com",
            },
            "repeated",
        ),
    ],
)
def test_spam_is_held_for_approval_with_its_signals(form, signal):
    lead = parse(form)
    assert isinstance(lead, Lead)
    assert lead.custom["pending_approval"] is True
    assert lead.custom["spam_score"] >= SPEC.spam_threshold
    assert signal in lead.custom["spam_signals"]


def test_a_clean_form_carries_no_spam_marks():
    lead = parse({"last_name": "Ng", "email": "ng@acme.io", "company": "Acme"})
    assert "spam_score" not in lead.custom
    assert "pending_approval" not in lead.custom


def test_huge_and_crowded_forms_are_refused_whole():
    assert parse({"last_name": "x" * 200_000}).errors[0].code == "too_large"
    assert parse({f"f{i}": "v" for i in range(500)}).errors[0].code == "too_many_fields"


def test_an_address_part_too_long_is_an_error_on_its_field():
    errors = parse({"last_name": "Ng", "city": "x" * 300})
    assert errors.fields == ("address.city",)


def test_several_different_values_for_one_field_are_an_error():
    assert parse({"last_name": ["Ng", "Ito"]}).fields == ("last_name",)
    assert parse({"last_name": ["Ng", "Ng"]}).last_name == "Ng"


def test_specs_round_trip_through_json():
    spec = SPEC.with_custom({"00N1": "custom.size"})
    assert from_json(FormSpec, to_json(spec)) == spec


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_web_form("a=b", SPEC, ids=lambda _k: "L", now=NOW),
        lambda: parse_web_form({}, "spec", ids=lambda _k: "L", now=NOW),
        lambda: parse_web_form({}, SPEC, ids="L1", now=NOW),
        lambda: parse_web_form({}, SPEC, ids=lambda _k: "L", now=datetime(2026, 1, 1)),  # noqa: DTZ001
        lambda: FormSpec(custom_ids={"00N": "budget"}),
        lambda: FormSpec(spam_threshold=0),
    ],
)
def test_misuse_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


KEYS = st.sampled_from(
    [
        "name",
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "employees",
        "tags",
        "honeypot",
        "utm_source",
        "country",
        "city",
        "zip",
        "title",
        "message",
    ]
) | st.text(max_size=30)
VALUES = (
    st.text(max_size=60)
    | st.sampled_from(["", " ", "a@b.co", "+44 20 7946 0958", "x\r\nBcc: y", "\x00", "http://x"])
    | st.lists(st.text(max_size=20), max_size=3)
    | st.text(min_size=1, max_size=3).map(lambda t: t * 400_000)
    | st.integers()
    | st.none()
)


@given(st.dictionaries(KEYS, VALUES, max_size=8))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
def test_any_form_gives_a_lead_or_form_errors_and_nothing_else(form):
    result = parse(form)
    assert isinstance(result, Lead | FormErrors)
    if isinstance(result, FormErrors):
        assert result.errors
        assert all(e.path and e.code for e in result.errors)


@pytest.mark.parametrize(
    ("outcomes", "counts", "extras", "path"),
    [
        (5, dict.fromkeys(["rows"], 0), set(), "outcomes"),
        ("rows", {}, set(), "outcomes"),
        (iter(()), {"rows": 0}, set(), "counts"),
        (iter(()), None, set(), "counts"),
        (iter(()), None, [1], "extras"),
    ],
)
def test_an_import_run_built_by_hand_checks_its_arguments(outcomes, counts, extras, path):
    with pytest.raises(ValidationError) as caught:
        ImportRun(outcomes, counts, extras)
    assert path in [e.path for e in caught.value.errors]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aliases": {"budget": {"deep": {}}}},
        {"disposable_domains": [{}]},
        {"disposable_domains": ["ok.example", 5]},
        {"honeypot": 5},
        {"region": ["US"]},
        {"default_source": "x" * 41},
    ],
)
def test_a_form_spec_refuses_what_it_cannot_hold(kwargs):
    with pytest.raises(ValidationError):
        FormSpec(**kwargs)
