"""Lead conversion: field mappings, options, the conversion itself, bulk and auto-conversion."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from leadmodel import (
    CONTACT_SCHEMA,
    DEFAULT_LEAD_MAPPING,
    LEAD_SCHEMA,
    OPPORTUNITY_SCHEMA,
    Account,
    Activity,
    Address,
    AlreadyConverted,
    AutoConvertRule,
    BulkConversion,
    Condition,
    Contact,
    ConversionResult,
    ConvertOptions,
    EmailAddress,
    ExistingRecords,
    FieldChange,
    FieldDef,
    FieldMapping,
    FieldType,
    InvalidConvertOptions,
    Lead,
    LeadProcess,
    LeadStatus,
    LifecycleStage,
    MappingEntry,
    MappingError,
    MergePolicy,
    Money,
    Opportunity,
    PhoneNumber,
    SkippedValue,
    UnmappedValue,
    ValidationError,
    auto_convert,
    convert_lead,
    convert_leads,
    end_of_quarter,
    from_json,
    to_dict,
    to_json,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.rules.mapping import compatibility_problem

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STATUS = "Closed - Converted"


def ada(**changes) -> Lead:
    fields = {
        "id": "L1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "title": "CTO",
        "email": EmailAddress.parse("ada@engines.example"),
        "phone": PhoneNumber.parse("+442071234567"),
        "annual_revenue": Money(Decimal(5_000_000), "GBP"),
        "address": Address(street="1 Main St", city="London", country="GB"),
        "source": "Web",
        "owner_id": "U1",
        "created_at": NOW - timedelta(days=3),
    }
    fields.update(changes)
    return Lead(**fields)


def convert(lead, options=None, **kwargs) -> ConversionResult:
    return convert_lead(
        lead, options or ConvertOptions(STATUS), ids=SequentialIds(), now=NOW, **kwargs
    )


# -- mappings --------------------------------------------------------------------------------


def fd(kind, **kwargs):
    return FieldDef("f", kind, **kwargs)


OWNER = FieldDef("owner_id", FieldType.REFERENCE)
MATRIX = [
    # source, target, expected problem code (None: compatible)
    (fd(FieldType.CHECKBOX), fd(FieldType.CHECKBOX), None),
    (fd(FieldType.CHECKBOX), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.CURRENCY, decimals=2), fd(FieldType.CURRENCY, decimals=2), None),
    (fd(FieldType.CURRENCY, decimals=2), fd(FieldType.NUMBER, decimals=2), "incompatible"),
    (fd(FieldType.CURRENCY, decimals=2), fd(FieldType.CURRENCY, decimals=0), "decimals"),
    (fd(FieldType.DATE), fd(FieldType.DATE), None),
    (fd(FieldType.DATE), fd(FieldType.DATETIME), "incompatible"),
    (fd(FieldType.DATETIME), fd(FieldType.DATETIME), None),
    (fd(FieldType.DATETIME), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.EMAIL), fd(FieldType.EMAIL), None),
    (fd(FieldType.EMAIL), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.NUMBER, decimals=0), fd(FieldType.NUMBER, decimals=0), None),
    (fd(FieldType.NUMBER, decimals=0), fd(FieldType.NUMBER, decimals=2), "decimals"),
    (fd(FieldType.NUMBER, decimals=0), fd(FieldType.PERCENT, decimals=0), "incompatible"),
    (fd(FieldType.NUMBER, length=18), fd(FieldType.NUMBER, length=10), "target_shorter"),
    (fd(FieldType.PERCENT, decimals=1), fd(FieldType.PERCENT, decimals=1), None),
    (fd(FieldType.PERCENT, decimals=1), fd(FieldType.PERCENT, decimals=0), "decimals"),
    (fd(FieldType.PHONE), fd(FieldType.PHONE), None),
    (fd(FieldType.PHONE), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.MULTI_PICKLIST), fd(FieldType.MULTI_PICKLIST), None),
    (fd(FieldType.MULTI_PICKLIST), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.LONG_TEXT), fd(FieldType.LONG_TEXT), None),
    (fd(FieldType.LONG_TEXT), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.URL), fd(FieldType.URL), None),
    (fd(FieldType.URL), fd(FieldType.TEXT), "incompatible"),
    (fd(FieldType.TEXT, length=80), fd(FieldType.TEXT, length=80), None),
    (fd(FieldType.TEXT, length=80), fd(FieldType.TEXTAREA, length=255), None),
    (fd(FieldType.TEXT, length=80), fd(FieldType.LONG_TEXT), None),
    (fd(FieldType.TEXT, length=80), fd(FieldType.PICKLIST), None),
    (
        fd(FieldType.TEXT, length=40),
        fd(FieldType.PICKLIST, choices=("a",), restricted=True),
        "restricted_picklist",
    ),
    (fd(FieldType.TEXT, length=80), fd(FieldType.TEXT, length=40), "target_shorter"),
    (fd(FieldType.TEXT), fd(FieldType.NUMBER), "incompatible"),
    (fd(FieldType.TEXTAREA), fd(FieldType.TEXT), None),
    (fd(FieldType.TEXTAREA), fd(FieldType.LONG_TEXT), None),
    (fd(FieldType.TEXTAREA), fd(FieldType.EMAIL), "incompatible"),
    (fd(FieldType.PICKLIST), fd(FieldType.TEXT), None),
    (fd(FieldType.PICKLIST), fd(FieldType.TEXTAREA), None),
    (fd(FieldType.PICKLIST), fd(FieldType.PICKLIST), None),
    (fd(FieldType.PICKLIST), fd(FieldType.LONG_TEXT), "incompatible"),
    (
        fd(FieldType.PICKLIST),
        fd(FieldType.PICKLIST, choices=("a",), restricted=True),
        "restricted_picklist",
    ),
    (fd(FieldType.PICKLIST, length=255), fd(FieldType.TEXT, length=40), "target_shorter"),
    (OWNER, OWNER, None),
    (OWNER, FieldDef("parent_id", FieldType.REFERENCE), "other_object"),
    (OWNER, FieldDef("owner_id", FieldType.TEXT), "other_object"),
    (fd(FieldType.ADDRESS), fd(FieldType.ADDRESS), None),
    (fd(FieldType.ADDRESS), fd(FieldType.TEXT), "incompatible"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "target", "expected"), MATRIX)
def test_compatibility_matrix(source, target, expected):
    problem = compatibility_problem(source, target)
    assert (problem[0] if problem else None) == expected


def custom_mapping(lead_field, target, target_field, *entries):
    return DEFAULT_LEAD_MAPPING.extend(
        MappingEntry("custom.x", target, "custom.x"),
        *entries,
        lead_schema=LEAD_SCHEMA.with_custom(lead_field),
        **{f"{target}_schema": target_field},
    )


# Custom fields of every type but address (a standard type only), as lead and contact fields.
CUSTOM_MATRIX = [
    m for m in MATRIX if m[0].name == "f" and FieldType.ADDRESS not in (m[0].type, m[1].type)
]


@pytest.mark.parametrize(("source", "target", "expected"), CUSTOM_MATRIX)
def test_the_matrix_applies_when_a_mapping_is_built(source, target, expected):
    schemas = {
        "contact": CONTACT_SCHEMA.with_custom(FieldDef("x", target.type, **_extra(target))),
    }
    build = lambda: custom_mapping(  # noqa: E731
        FieldDef("x", source.type, **_extra(source)), "contact", schemas["contact"]
    )
    if expected is None:
        assert build().targets_of("custom.x") == ("contact.custom.x",)
    else:
        with pytest.raises(MappingError) as caught:
            build()
        assert [e.code for e in caught.value.errors] == [expected]
        assert caught.value.errors[0].path.startswith("entries[")


def _extra(field):
    return {
        "length": field.length,
        "decimals": field.decimals,
        "choices": field.choices,
        "restricted": field.restricted,
    }


def test_a_mapping_reports_every_violation_at_once():
    with pytest.raises(MappingError) as caught:
        FieldMapping(
            [
                MappingEntry("company", "account", "name"),
                MappingEntry("last_name", "contact", "last_name"),
                MappingEntry("email", "contact", "phone"),
                MappingEntry("status", "contact", "title"),
                MappingEntry("nope", "contact", "mobile"),
                MappingEntry("title", "contact", "nope"),
                MappingEntry("title", "contact", "account_id"),
                MappingEntry("first_name", "contact", "last_name"),
                MappingEntry("description", "account", "name"),
            ]
        )
    codes = [(e.path, e.code) for e in caught.value.errors]
    assert codes == [
        ("entries[2]", "incompatible"),
        ("entries[3]", "not_mappable"),
        ("entries[4]", "unknown_field"),
        ("entries[5]", "unknown_field"),
        ("entries[6]", "managed"),
        ("entries[7]", "duplicate_target"),
        ("entries[8]", "duplicate_target"),
    ]
    assert isinstance(caught.value, ValidationError)


def test_a_mapping_must_feed_the_account_name_and_the_contact_last_name():
    with pytest.raises(MappingError) as caught:
        FieldMapping([MappingEntry("title", "contact", "title")])
    assert [e.code for e in caught.value.errors] == ["required_target", "required_target"]


def test_mapping_entries_and_mappings_refuse_bad_values():
    with pytest.raises(ValidationError):
        MappingEntry("title", "lead", "title")
    with pytest.raises(ValidationError):
        MappingEntry("", "contact", "title")
    with pytest.raises(MappingError) as caught:
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, currency="usd")
    assert caught.value.errors[0].path == "currency"
    with pytest.raises(MappingError):
        FieldMapping("not entries")
    with pytest.raises(MappingError):
        FieldMapping(DEFAULT_LEAD_MAPPING.entries, lead_schema="LEAD")


def test_the_default_mapping_follows_salesforce():
    targets = {
        e.source: DEFAULT_LEAD_MAPPING.targets_of(e.source) for e in DEFAULT_LEAD_MAPPING.entries
    }
    assert targets["address"] == ("account.billing_address", "contact.mailing_address")
    assert targets["phone"] == ("account.phone", "contact.phone")
    assert targets["source"] == ("contact.source", "opportunity.source")
    assert targets["owner_id"] == ("account.owner_id", "contact.owner_id", "opportunity.owner_id")
    assert targets["company"] == ("account.name",)
    assert targets["campaign_id"] == ("opportunity.campaign_id",)
    for field in ("industry", "annual_revenue", "employees", "rating", "website"):
        assert targets[field] == (f"account.{field}",)
    for field in ("email", "title", "first_name", "last_name", "mobile", "description",
                  "do_not_call", "email_opt_out"):  # fmt: skip
        assert targets[field] == (f"contact.{field}",)


def test_mappings_round_trip_through_json_keeping_only_changed_schemas():
    assert set(to_dict(DEFAULT_LEAD_MAPPING)) == {"format", "entries"}
    assert from_json(FieldMapping, to_json(DEFAULT_LEAD_MAPPING)) == DEFAULT_LEAD_MAPPING
    mapping = custom_mapping(
        FieldDef("x", FieldType.NUMBER, decimals=0),
        "contact",
        CONTACT_SCHEMA.with_custom(FieldDef("x", FieldType.NUMBER, decimals=0)),
    )
    data = to_dict(mapping)
    assert set(data) == {"format", "entries", "lead_schema", "contact_schema"}
    assert from_json(FieldMapping, to_json(mapping)) == mapping


def test_without_drops_entries_into_targets():
    mapping = DEFAULT_LEAD_MAPPING.without("contact.description", "account.rating")
    assert mapping.targets_of("description") == ()
    assert mapping.targets_of("rating") == ()


# -- options --------------------------------------------------------------------------------

OPTION_ERRORS = [
    ({"opportunity_id": "O1", "opportunity_name": "Deal"}, "opportunity_id_and_name"),
    ({"create_opportunity": False, "opportunity_name": "Deal"}, "name_without_opportunity"),
    ({"create_opportunity": False, "opportunity_id": "O1"}, "opportunity_id_without_opportunity"),
    ({"overwrite_lead_source": True}, "overwrite_source_without_contact"),
    ({"opportunity_name": "x" * 81}, "too_long"),
    ({"merge_policy": "fill_blanks"}, "type"),
    ({"overwrite_fields": {"bad path!"}}, "invalid"),
    ({"account_id": ""}, "blank"),
    ({"notify_owner": "yes"}, "type"),
]


@pytest.mark.parametrize(("options", "code"), OPTION_ERRORS)
def test_contradictory_options_are_refused_when_built(options, code):
    with pytest.raises(InvalidConvertOptions) as caught:
        ConvertOptions(STATUS, **options)
    assert code in [e.code for e in caught.value.errors]


def test_an_opportunity_name_of_80_characters_is_fine():
    assert len(ConvertOptions(STATUS, opportunity_name="x" * 80).opportunity_name) == 80


def person(**changes):
    fields = {"id": "L9", "last_name": "Solo", "is_person": True, "company": None}
    fields.update(changes)
    return Lead(**fields)


ACME = Account(id="A1", name="Acme")
OTHER = Account(id="A2", name="Other")
IN_ACME = Contact(id="C1", last_name="Lovelace", account_id="A1")
IN_OTHER = Contact(id="C2", last_name="Lovelace", account_id="A2")
LONER = Contact(id="C3", last_name="Solo")
DEAL = Opportunity(id="O1", name="Deal", account_id="A2")

Options = ConvertOptions
Existing = ExistingRecords
CONVERSION_ERRORS = [
    (ada(), Options("Working - Contacted"), None, "not_converted_status"),
    (ada(), Options("No such status"), None, "not_converted_status"),
    (ada(), Options(STATUS, contact_id="C1"), Existing(contact=IN_ACME), "contact_without_account"),
    (
        person(),
        Options(STATUS, contact_id="C1"),
        Existing(contact=IN_ACME),
        "contact_without_account",
    ),
    (
        ada(),
        Options(STATUS, account_id="A1", contact_id="C2"),
        Existing(account=ACME, contact=IN_OTHER),
        "contact_of_other_account",
    ),
    (
        ada(),
        Options(STATUS, account_id="A1", opportunity_id="O1"),
        Existing(account=ACME, opportunity=DEAL),
        "opportunity_of_other_account",
    ),
    (ada(owner_id="Q1", owner_is_queue=True), Options(STATUS), None, "queue_owner"),
    (ada(), Options(STATUS, account_id="A1"), None, "missing_record"),
    (ada(), Options(STATUS, account_id="A2"), Existing(account=ACME), "record_mismatch"),
    (ada(), Options(STATUS), Existing(account=ACME), "record_mismatch"),
    (ada(owner_id=None), Options(STATUS, notify_owner=True), None, "no_owner"),
    (ada(), Options(STATUS, overwrite_fields={"contact.shoe_size"}), None, "unknown_field"),
    (ada(created_at=NOW + timedelta(days=1)), Options(STATUS), None, "before_created"),
]


@pytest.mark.parametrize(("lead", "options", "existing", "code"), CONVERSION_ERRORS)
def test_contradictions_with_the_lead_and_records_are_typed_errors(lead, options, existing, code):
    with pytest.raises(InvalidConvertOptions) as caught:
        convert(lead, options, existing=existing)
    assert [e.code for e in caught.value.errors] == [code]
    assert caught.value.lead_id == lead.id


def test_every_contradiction_is_reported_at_once():
    with pytest.raises(InvalidConvertOptions) as caught:
        convert(
            ada(owner_id="Q1", owner_is_queue=True),
            ConvertOptions("Working - Contacted", account_id="A2", contact_id="C1"),
            existing=ExistingRecords(account=OTHER, contact=IN_ACME),
        )
    assert [e.code for e in caught.value.errors] == [
        "not_converted_status",
        "contact_of_other_account",
        "queue_owner",
    ]


def test_a_value_too_long_for_its_target_is_an_error():
    lead_schema = LEAD_SCHEMA.with_custom(FieldDef("notes", FieldType.TEXT, length=100))
    contact_schema = CONTACT_SCHEMA.with_custom(FieldDef("notes", FieldType.TEXT, length=100))
    mapping = DEFAULT_LEAD_MAPPING.extend(
        MappingEntry("custom.notes", "contact", "custom.notes"),
        lead_schema=lead_schema,
        contact_schema=contact_schema,
    )
    # The host never validated the lead against its schema, so the value is too long.
    with pytest.raises(InvalidConvertOptions) as caught:
        convert(ada(custom={"notes": "n" * 150}), mapping=mapping)
    assert [(e.path, e.code) for e in caught.value.errors] == [("contact.custom.notes", "too_long")]


def test_a_person_lead_joins_a_contact_without_an_account():
    result = convert(
        person(), ConvertOptions(STATUS, contact_id="C3"), existing=ExistingRecords(contact=LONER)
    )
    assert result.account is None
    assert result.contact.id == "C3"
    assert result.opportunity.contact_id == "C3"


# -- converting into new records --------------------------------------------------------------


def test_a_lead_converts_into_new_account_contact_and_opportunity():
    result = convert(ada())
    assert result.created == ("account", "contact", "opportunity")
    assert result.updated == ()
    account, contact, opportunity = result.account, result.contact, result.opportunity
    assert (account.id, contact.id, opportunity.id) == (
        "account-000001",
        "contact-000001",
        "opportunity-000001",
    )
    assert account.name == "Analytical Engines"
    assert account.billing_address == contact.mailing_address == ada().address
    assert account.phone == contact.phone == ada().phone
    assert account.annual_revenue == Money(Decimal(5_000_000), "GBP")
    assert (contact.first_name, contact.last_name, contact.title) == ("Ada", "Lovelace", "CTO")
    assert contact.account_id == account.id
    assert account.owner_id == contact.owner_id == opportunity.owner_id == "U1"
    assert opportunity.name == "Analytical Engines"
    assert opportunity.stage == "Prospecting"
    assert opportunity.close_date == date(2026, 12, 31)
    assert opportunity.amount is None
    assert (opportunity.account_id, opportunity.contact_id) == (account.id, contact.id)
    assert opportunity.source == contact.source == "Web"
    assert contact.lifecycle_stage is LifecycleStage.OPPORTUNITY
    assert account.created_at == contact.created_at == opportunity.created_at == NOW


def test_the_converted_lead_is_read_only_and_points_at_its_records():
    result = convert(ada())
    lead = result.lead
    assert lead.status == STATUS
    assert lead.is_converted
    assert lead.converted.account_id == result.account.id
    assert lead.converted.contact_id == result.contact.id
    assert lead.converted.opportunity_id == result.opportunity.id
    assert lead.converted.converted_at == NOW
    assert lead.updated_at == NOW
    assert result.changes[0] == FieldChange(
        "lead", "status", "Open - Not Contacted", STATUS, "options.converted_status"
    )
    with pytest.raises(AlreadyConverted):
        convert(lead)


def test_every_new_value_is_a_change_from_none_with_its_source():
    result = convert(ada())
    changes = {(c.target, c.field): c for c in result.changes}
    assert changes["account", "name"] == FieldChange(
        "account", "name", None, "Analytical Engines", "company"
    )
    assert changes["contact", "email"].source == "email"
    assert changes["opportunity", "stage"].source == "conversion"
    assert changes["opportunity", "name"].source == "company"
    assert [c.target for c in result.changes] == sorted(
        (c.target for c in result.changes), key=["lead", "account", "contact", "opportunity"].index
    )


def test_activities_move_to_the_contact():
    result = convert(ada())
    move = result.reparent[0]
    assert (move.dependant, move.field, move.from_id, move.to_id) == (
        "activity",
        "subject_id",
        "L1",
        result.contact.id,
    )


def test_the_opportunity_name_comes_from_the_options_or_the_company_cut_to_80():
    assert (
        convert(ada(), ConvertOptions(STATUS, opportunity_name="Big deal")).opportunity.name
        == "Big deal"
    )
    long_company = "A" * 200
    result = convert(ada(company=long_company))
    assert result.opportunity.name == "A" * 80
    assert result.account.name == long_company


def test_close_date_is_the_end_of_the_quarter():
    assert [end_of_quarter(date(2026, m, 15)) for m in (1, 4, 7, 10, 12)] == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 30),
        date(2026, 12, 31),
        date(2026, 12, 31),
    ]


def test_without_an_opportunity_the_contact_stays_sales_qualified():
    # HubSpot keeps the contact at SQL until a deal is won (issue 17; it was customer).
    result = convert(ada(campaign_id="CMP1"), ConvertOptions(STATUS, create_opportunity=False))
    assert result.opportunity is None
    assert result.contact.lifecycle_stage is LifecycleStage.SALES_QUALIFIED
    assert result.created == ("account", "contact")
    # The campaign only goes to an opportunity: reported, not lost.
    assert UnmappedValue("campaign_id", "CMP1", "no_target") in result.unmapped


def test_a_person_lead_without_person_accounts_converts_to_a_contact_alone():
    result = convert(person(first_name="Han"), ConvertOptions(STATUS, person_account=False))
    assert result.account is None
    assert result.contact.account_id is None
    assert result.opportunity.name == "Han Solo"
    assert result.created == ("contact", "opportunity")


def test_a_queue_owned_lead_needs_an_owner_and_reports_the_queue():
    result = convert(ada(owner_id="Q1", owner_is_queue=True), ConvertOptions(STATUS, owner_id="U9"))
    assert result.account.owner_id == result.contact.owner_id == "U9"
    assert (
        SkippedValue("account", "owner_id", "owner_id", "Q1", "U9", "owner_option")
        in result.skipped
    )


def test_unmapped_values_are_reported():
    result = convert(ada(team_id="T1", custom={"shoe_size": 42}))
    assert result.unmapped == (
        UnmappedValue("team_id", "T1", "no_entry"),
        UnmappedValue("custom.shoe_size", 42, "no_entry"),
    )


def test_the_owner_is_notified_when_asked():
    result = convert(ada(), ConvertOptions(STATUS, notify_owner=True))
    (note,) = result.notifications
    assert (note.recipient, note.template, note.subject_id) == ("U1", "lead_converted", "L1")
    assert note.data["contact_id"] == result.contact.id
    assert convert(ada()).notifications == ()


def test_a_custom_process_allows_its_own_converted_statuses():
    process = LeadProcess(
        "Sales",
        [LeadStatus("New", is_default=True), LeadStatus("Won", is_converted=True)],
    )
    result = convert(ada(status="New"), ConvertOptions("Won"), process=process)
    assert result.lead.status == "Won"


# -- converting into existing records -------------------------------------------------------


def test_converting_into_an_existing_account_and_contact_fills_blanks_and_reports_the_rest():
    account = Account(
        id="A9",
        name="Analytical Engines Ltd",
        phone=PhoneNumber.parse("+442070000000"),
        owner_id="U7",
        created_at=NOW - timedelta(days=400),
    )
    contact = Contact(id="C9", last_name="Lovelace", account_id="A9", title="Countess")
    result = convert(
        ada(),
        ConvertOptions(STATUS, account_id="A9", contact_id="C9", create_opportunity=False),
        existing=ExistingRecords(account=account, contact=contact),
    )
    assert result.created == ()
    assert result.updated == ("account", "contact")
    filled = [(c.target, c.field) for c in result.changes if c.source != "conversion"]
    assert filled == [
        ("lead", "status"),
        ("account", "annual_revenue"),
        ("account", "billing_address"),
        ("contact", "phone"),
        ("contact", "mailing_address"),
        ("contact", "owner_id"),
        ("contact", "first_name"),
        ("contact", "email"),
        ("contact", "source"),
    ]
    assert [(s.target, s.field, s.value, s.kept, s.reason) for s in result.skipped] == [
        ("account", "name", "Analytical Engines", "Analytical Engines Ltd", "has_value"),
        ("account", "phone", ada().phone, account.phone, "has_value"),
        ("account", "owner_id", "U1", "U7", "owner_kept"),
        ("contact", "title", "CTO", "Countess", "has_value"),
    ]
    assert result.account.name == "Analytical Engines Ltd"
    assert result.account.owner_id == "U7"
    assert result.contact.title == "Countess"
    assert result.account.updated_at == result.contact.updated_at == NOW
    assert result.contact.lifecycle_stage is LifecycleStage.SALES_QUALIFIED  # no deal yet
    data = to_dict(result)
    assert data["format"] == 1
    assert data["skipped"][3] == {
        "target": "contact",
        "field": "title",
        "source": "title",
        "value": "CTO",
        "kept": "Countess",
        "reason": "has_value",
    }
    assert data["changes"][3] == {
        "target": "contact",
        "field": "phone",
        "old": None,
        "new": "+442071234567",
        "source": "phone",
    }
    assert from_json(ConversionResult, to_json(result)) == result


def test_overwrite_all_replaces_values_but_never_the_owner():
    contact = Contact(
        id="C9", last_name="Lovelace", account_id="A1", title="Countess", owner_id="U7"
    )
    result = convert(
        ada(),
        ConvertOptions(
            STATUS, account_id="A1", contact_id="C9", merge_policy=MergePolicy.OVERWRITE_ALL
        ),
        existing=ExistingRecords(account=ACME, contact=contact),
    )
    assert result.contact.title == "CTO"
    assert result.contact.owner_id == "U7"
    assert result.account.name == "Analytical Engines"
    assert [s.reason for s in result.skipped] == ["owner_kept"]


def test_overwrite_fields_and_overwrite_lead_source_pick_fields():
    contact = Contact(
        id="C9", last_name="Lovelace", account_id="A1", title="Countess", source="Partner"
    )
    result = convert(
        ada(),
        ConvertOptions(
            STATUS,
            account_id="A1",
            contact_id="C9",
            overwrite_fields={"contact.title"},
            overwrite_lead_source=True,
        ),
        existing=ExistingRecords(account=ACME, contact=contact),
    )
    assert (result.contact.title, result.contact.source) == ("CTO", "Web")
    bare = convert(
        ada(),
        ConvertOptions(STATUS, account_id="A1", contact_id="C9", overwrite_fields={"title"}),
        existing=ExistingRecords(account=ACME, contact=contact),
    )
    assert (bare.contact.title, bare.contact.source) == ("CTO", "Partner")


def test_an_opt_out_on_the_lead_reaches_an_existing_contact_and_false_never_clears_one():
    contact = Contact(id="C9", last_name="L", account_id="A1", email_opt_out=True)
    result = convert(
        ada(do_not_call=True),
        ConvertOptions(
            STATUS, account_id="A1", contact_id="C9", merge_policy=MergePolicy.OVERWRITE_ALL
        ),
        existing=ExistingRecords(account=ACME, contact=contact),
    )
    assert result.contact.do_not_call is True
    assert result.contact.email_opt_out is True


def test_an_existing_opportunity_is_linked_and_its_stage_sets_the_lifecycle():
    won = Opportunity(id="O7", name="Renewal", stage="Closed Won")
    result = convert(
        ada(),
        ConvertOptions(STATUS, account_id="A1", opportunity_id="O7"),
        existing=ExistingRecords(account=ACME, opportunity=won),
    )
    assert result.opportunity.account_id == "A1"
    assert result.opportunity.contact_id == result.contact.id
    assert result.opportunity.name == "Renewal"
    assert result.contact.lifecycle_stage is LifecycleStage.CUSTOMER
    assert "opportunity" in result.updated


def test_the_lifecycle_never_moves_back():
    fan = Contact(
        id="C9", last_name="L", account_id="A1", lifecycle_stage=LifecycleStage.EVANGELIST
    )
    result = convert(
        ada(),
        ConvertOptions(STATUS, account_id="A1", contact_id="C9"),
        existing=ExistingRecords(account=ACME, contact=fan),
    )
    assert result.contact.lifecycle_stage is LifecycleStage.EVANGELIST


def test_an_unchanged_existing_record_is_neither_created_nor_updated():
    account = Account(id="A1", name="Analytical Engines", phone=ada().phone,
                      annual_revenue=ada().annual_revenue, billing_address=ada().address,
                      owner_id="U1")  # fmt: skip
    result = convert(
        ada(), ConvertOptions(STATUS, account_id="A1"), existing=ExistingRecords(account=account)
    )
    assert result.account is account
    assert "account" not in result.updated


# -- custom fields ------------------------------------------------------------------------


def test_custom_fields_map_across_standard_and_custom_with_their_representation():
    lead_schema = LEAD_SCHEMA.with_custom(
        FieldDef("budget", FieldType.CURRENCY, decimals=2),
        FieldDef("alt_email", FieldType.EMAIL),
    )
    contact_schema = CONTACT_SCHEMA.with_custom(
        FieldDef("primary_email", FieldType.EMAIL), FieldDef("interests", FieldType.MULTI_PICKLIST)
    )
    opportunity_schema = OPPORTUNITY_SCHEMA
    mapping = DEFAULT_LEAD_MAPPING.without("contact.tags").extend(
        MappingEntry("custom.budget", "opportunity", "amount"),
        MappingEntry("email", "contact", "custom.primary_email"),
        MappingEntry("tags", "contact", "custom.interests"),
        lead_schema=lead_schema,
        contact_schema=contact_schema,
        opportunity_schema=opportunity_schema,
    )
    result = convert(
        ada(tags={"b", "a"}, custom={"budget": Decimal("1200.50"), "alt_email": "x@y.example"}),
        mapping=mapping,
    )
    assert result.opportunity.amount == Money(Decimal("1200.50"), "USD")
    assert result.contact.custom["primary_email"] == "ada@engines.example"
    assert result.contact.custom["interests"] == "a;b"
    assert UnmappedValue("custom.alt_email", "x@y.example", "no_entry") in result.unmapped
    assert from_json(ConversionResult, to_json(result)) == result


def test_a_custom_value_that_cannot_be_written_is_an_error():
    lead_schema = LEAD_SCHEMA.with_custom(FieldDef("work_email", FieldType.EMAIL))
    mapping = DEFAULT_LEAD_MAPPING.without("contact.email").extend(
        MappingEntry("custom.work_email", "contact", "email"), lead_schema=lead_schema
    )
    with pytest.raises(InvalidConvertOptions) as caught:
        convert(ada(custom={"work_email": "not an email"}), mapping=mapping)
    assert [(e.path, e.code) for e in caught.value.errors] == [("contact.email", "invalid_value")]


# -- bulk ------------------------------------------------------------------------------------


def test_bulk_conversion_shares_one_account_per_company_and_keeps_going():
    options = ConvertOptions(STATUS)
    batch = convert_leads(
        [
            (ada(id="L1", company="Acme Inc", phone=None), options),
            (Lead(id="L2", last_name="Li", company="ACME, Inc.", website="acme.example"), options),
            "not a pair",
            (
                Lead(id="L3", last_name="Oh", company="Umbrella"),
                ConvertOptions("Working - Contacted"),
            ),
            (ada(id="L4", company="Umbrella"), options, None),
        ],
        ids=SequentialIds(),
        now=NOW,
    )
    assert isinstance(batch, BulkConversion)
    assert [r.lead.id for r in batch.results] == ["L1", "L2", "L4"]
    first, second, third = batch.results
    assert second.account.id == first.account.id
    assert second.created == ("contact", "opportunity")
    assert second.account.website == "acme.example"
    assert third.account.id != first.account.id
    assert [(f.index, f.lead_id, f.error) for f in batch.failures] == [
        (2, None, "ValidationError"),
        (3, "L3", "InvalidConvertOptions"),
    ]
    accounts = batch.latest("account")
    assert [a.id for a in accounts] == [first.account.id, third.account.id]
    assert accounts[0].website == "acme.example"
    assert len(batch.latest("lead")) == 3
    assert from_json(BulkConversion, to_json(batch)) == batch


def test_bulk_without_sharing_makes_an_account_per_lead():
    options = ConvertOptions(STATUS)
    leads = [(Lead(id=f"L{i}", last_name="X", company="Acme"), options) for i in range(3)]
    batch = convert_leads(leads, ids=SequentialIds(), now=NOW, share_accounts=False)
    assert len({r.account.id for r in batch.results}) == 3


def test_bulk_refuses_arguments_that_are_not_items():
    with pytest.raises(ValidationError):
        convert_leads("leads", ids=SequentialIds(), now=NOW)
    with pytest.raises(ValidationError):
        convert_leads([], ids="ids", now=NOW)


# -- auto-conversion --------------------------------------------------------------------------

DEMO = AutoConvertRule(
    Condition("company", "is_not_blank"),
    ConvertOptions(STATUS),
    name="demo bookers",
    activity_kinds={"demo_booked", "purchase"},
    activity_criterion=Condition("properties.plan", "ne", "free"),
)
HOT = AutoConvertRule(
    Condition("rating", "eq", "Hot"), ConvertOptions(STATUS, create_opportunity=False), name="hot"
)


def activity(kind, **properties):
    return Activity(id="A1", subject_id="L1", kind=kind, occurred_at=NOW, properties=properties)


def test_an_activity_rule_fires_on_its_activity_kinds():
    decision = auto_convert(ada(), [HOT, DEMO], activity=activity("purchase", plan="pro"))
    assert decision.rule == "demo bookers"
    assert decision.options == DEMO.options
    assert decision.lead_id == "L1"
    assert auto_convert(ada(), [DEMO], activity=activity("purchase", plan="free")) is None
    assert auto_convert(ada(), [DEMO], activity=activity("page_view")) is None
    assert auto_convert(ada(), DEMO) is None


def test_a_field_rule_fires_only_the_first_time_its_criterion_is_met():
    hot = ada(rating="Hot")
    assert auto_convert(hot, [HOT]).reason == "rule 'hot': the new lead meets the criterion"
    assert auto_convert(hot, [HOT], previous=ada(rating="Cold")).rule == "hot"
    assert auto_convert(hot, [HOT], previous=hot) is None
    assert auto_convert(ada(rating="Cold"), [HOT]) is None
    assert auto_convert(hot, [HOT], activity=activity("page_view")) is None


def test_a_converted_lead_never_auto_converts():
    converted = convert(ada(rating="Hot")).lead
    assert auto_convert(converted, [HOT]) is None


def test_auto_convert_refuses_events_of_other_records_and_bad_rules():
    with pytest.raises(ValidationError):
        auto_convert(ada(id="L2"), [DEMO], activity=activity("purchase"))
    with pytest.raises(ValidationError):
        auto_convert(ada(), [HOT], previous=ada(id="L2"))
    with pytest.raises(ValidationError):
        auto_convert(ada(), ["rule"])
    with pytest.raises(ValidationError):
        AutoConvertRule("criterion", ConvertOptions(STATUS))
    with pytest.raises(ValidationError):
        AutoConvertRule(HOT.criterion, ConvertOptions(STATUS), activity_kinds={""})
    with pytest.raises(ValidationError):
        AutoConvertRule(HOT.criterion, ConvertOptions(STATUS), name="")


def test_auto_convert_rules_round_trip_through_json():
    assert from_json(AutoConvertRule, to_json(DEMO)) == DEMO
    decision = auto_convert(ada(), [DEMO], activity=activity("demo_booked"))
    assert from_json(type(decision), to_json(decision)) == decision


def test_a_result_with_tags_on_a_new_contact_round_trips():
    result = convert(ada(tags={"vip"}))
    assert from_json(ConversionResult, to_json(result)) == result


def test_field_changes_behave_as_an_immutable_sequence():
    from leadmodel import FieldChanges

    one = FieldChange("contact", "title", None, "CTO", "title")
    two = FieldChange("contact", "email", None, "a@b.example", "email")
    changes = FieldChanges([one, two])
    assert list(changes) == [one, two]
    assert changes[1] == two
    assert changes[:1] == (one,)
    assert len(changes) == 2
    assert changes == FieldChanges((one, two)) == (one, two)
    assert changes != FieldChanges([two, one])
    assert hash(changes) == hash(FieldChanges([one, two]))
    assert "CTO" in repr(changes)
    assert FieldChanges.from_rows([("contact", "title", None, "CTO", "title")])[0] == one
    for bad in ("changes", [one, "two"], 3, {one: 1}):
        with pytest.raises(ValidationError):
            FieldChanges(bad)


def test_a_result_can_be_asked_for_one_change():
    result = convert(ada())
    assert result.change("account", "name").new == "Analytical Engines"
    assert result.change("account", "custom.nothing") is None
    assert [c.field for c in result.changes_to("lead")] == ["status"]


def test_streaming_gives_the_outcomes_of_the_batch_one_at_a_time():
    from leadmodel import ConversionFailure, iter_convert_leads

    options = ConvertOptions(STATUS)
    items = [
        (Lead(id="L1", last_name="Ng", company="Acme"), options),
        (Lead(id="L2", last_name="Li", company="Acme Inc."), options),
        (Lead(id="L3", last_name="Oh", company="Umbrella"), ConvertOptions("Working - Contacted")),
    ]
    batch = convert_leads(items, ids=SequentialIds(), now=NOW)
    stream = iter_convert_leads(iter(items), ids=SequentialIds(), now=NOW)
    first = next(stream)
    assert first == batch.results[0]
    rest = list(stream)
    assert rest[0] == batch.results[1]
    assert isinstance(rest[1], ConversionFailure)
    assert rest[1] == batch.failures[0]


def test_streaming_checks_its_arguments_when_called():
    from leadmodel import iter_convert_leads

    with pytest.raises(ValidationError):
        iter_convert_leads(42, ids=SequentialIds(), now=NOW)
    with pytest.raises(ValidationError):
        iter_convert_leads([], ids=SequentialIds(), now="now")


def test_an_auto_convert_rule_needs_only_a_criterion_and_options():
    rule = AutoConvertRule(Condition("rating", "eq", "Hot"), ConvertOptions(STATUS))
    assert rule.name == "auto-convert"
    assert auto_convert(ada(rating="Hot"), rule).rule == "auto-convert"


def test_mappings_take_entry_shorthands():
    full = FieldMapping(
        [
            MappingEntry("company", "account", "name"),
            MappingEntry("last_name", "contact", "last_name"),
            MappingEntry("phone", "account", "phone"),
            MappingEntry("phone", "contact", "phone"),
        ]
    )
    assert (
        FieldMapping(
            [
                ("company", "account.name"),
                ("last_name", "contact", "last_name"),
                ["phone", "account.phone"],
                ("phone", "contact.phone"),
            ]
        )
        == full
    )
    assert (
        FieldMapping(
            {
                "company": "account.name",
                "last_name": "contact.last_name",
                "phone": ["account.phone", "contact.phone"],
            }
        )
        == full
    )


@pytest.mark.parametrize(
    "entry", [("company",), ("company", "nowhere.name"), ("company", "account"), (1, 2, 3), "x"]
)
def test_bad_entry_shorthands_are_mapping_errors(entry):
    with pytest.raises(MappingError) as caught:
        FieldMapping([*DEFAULT_LEAD_MAPPING.entries, entry])
    assert [(e.path, e.code) for e in caught.value.errors] == [
        (f"entries[{len(DEFAULT_LEAD_MAPPING.entries)}]", "type")
    ]
