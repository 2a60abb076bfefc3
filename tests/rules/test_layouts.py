"""Record types and page layouts: data, validation, forms and the HTML preview, and their use
on capture, import and conversion."""

from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_LAYOUT,
    RECORD_TYPE_FIELD,
    Account,
    Address,
    ColumnMapping,
    ConvertedLeadError,
    ConvertOptions,
    EmailAddress,
    ExistingRecords,
    FormSpec,
    InvalidConvertOptions,
    Layout,
    LayoutCheck,
    LayoutField,
    LayoutSection,
    Lead,
    LifecycleStage,
    Money,
    PicklistValues,
    RecordType,
    ValidationError,
    convert_lead,
    convert_leads,
    from_json,
    import_leads,
    parse_web_form,
    record_type_of,
    to_json,
    validate_layout,
    with_record_type,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import CaptureConfig, capture_lead
from leadmodel.services import convert_lead as convert_stored
from leadmodel.services import import_leads as import_stored
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATUS = "Closed - Converted"

WEB_LAYOUT = Layout(
    "Web lead layout",
    [
        LayoutSection(
            "Lead",
            [
                LayoutField("last_name", required=True),
                "first_name",
                LayoutField("email", required=True),
                "company",
                LayoutField("custom.budget", label="Budget"),
            ],
        ),
        LayoutSection(
            "Sales",
            [
                LayoutField("status", read_only=True),
                "rating",
                LayoutField("owner_id", read_only=True),
                "address.city",
            ],
        ),
    ],
)
WEB = RecordType(
    "Web lead",
    WEB_LAYOUT,
    [
        PicklistValues("source", ["Web", "Partner"], default="Web"),
        PicklistValues("rating", ["Hot", "Warm"]),
        PicklistValues("status", ["Open - Not Contacted", "Working - Contacted"]),
        PicklistValues("tags", ["vip", "webinar"]),
    ],
)


def lead(**changes):
    fields = {
        "id": "L1",
        "last_name": "Lovelace",
        "first_name": "Ada",
        "company": "Engines",
        "email": EmailAddress.parse("ada@engines.io"),
        "source": "Web",
        "created_at": NOW,
    }
    fields.update(changes)
    return Lead(**fields)


def codes(check):
    return [(e.path, e.code) for e in check.errors]


# -- the data ----------------------------------------------------------------------------


def test_a_layout_lists_its_fields_required_and_read_only_paths():
    assert WEB_LAYOUT.paths[:3] == ("last_name", "first_name", "email")
    assert WEB_LAYOUT.required == ("last_name", "email")
    assert WEB_LAYOUT.read_only == ("status", "owner_id")
    assert WEB_LAYOUT.field("custom.budget").shown_label == "Budget"
    assert WEB_LAYOUT.field("title") is None


def test_a_record_type_says_which_picklist_values_it_allows():
    assert WEB.allowed("source") == ("Web", "Partner")
    assert WEB.default("source") == "Web"
    assert WEB.allowed("industry") is None
    assert WEB.kind == "lead"


def test_picklists_may_be_given_as_a_mapping():
    assert RecordType("R", WEB_LAYOUT, {"source": ["Web"]}).picklists == (
        PicklistValues("source", ("Web",)),
    )


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: Layout("L", []), "empty"),
        (lambda: Layout("L", [LayoutSection("S", ["no_such_field"])]), "unknown_field"),
        (lambda: Layout("L", [LayoutSection("S", ["email", "email"])]), "duplicate"),
        (lambda: Layout("L", [LayoutSection("S", ["name"])], kind="lead"), "unknown_field"),
        (lambda: Layout("L", [LayoutSection("S", ["email"])], kind="deal"), "invalid"),
        (lambda: Layout("L", [LayoutSection("S", ["custom.9x"])]), "invalid"),
        (lambda: LayoutSection("S", []), "empty"),
        (lambda: LayoutField("email", required=True, read_only=True), "required_and_read_only"),
        (lambda: RecordType("R", WEB_LAYOUT, {"email": ["a"]}), "not_picklist"),
        (lambda: RecordType("R", WEB_LAYOUT, {"rating": ["Lukewarm"]}), "unknown_choice"),
        (lambda: RecordType("R", WEB_LAYOUT, {"source": []}), "empty"),
        (lambda: RecordType("R", WEB_LAYOUT, {"source": ["Web", "Web"]}), "duplicate"),
        (lambda: RecordType("R", WEB_LAYOUT, ["source"]), "type"),
        (lambda: RecordType("R", "layout"), "type"),
        (lambda: PicklistValues("source", ["Web"], default="Fair"), "not_allowed"),
        (lambda: RecordType("", WEB_LAYOUT), "blank"),
    ],
)
def test_bad_layouts_and_record_types_are_refused_with_a_code(build, code):
    with pytest.raises(ValidationError) as caught:
        build()
    assert code in [e.code for e in caught.value.errors]


def test_layouts_of_other_kinds_know_their_own_fields():
    account = Layout(
        "A", [LayoutSection("S", ["name", "billing_address.city", "is_person"])], kind="account"
    )
    assert account.kind == "account"
    with pytest.raises(ValidationError):
        Layout("A", [LayoutSection("S", ["company"])], kind="account")
    assert RecordType(
        "Deal",
        Layout("O", [LayoutSection("S", ["name"])], kind="opportunity"),
        {"stage": ["Prospecting", "Custom stage"]},
    ).allowed("stage") == ("Prospecting", "Custom stage")


def test_a_custom_process_status_is_a_valid_record_type_status():
    assert RecordType("R", WEB_LAYOUT, {"status": ["Nurturing"]}).allowed("status") == (
        "Nurturing",
    )


def test_record_types_round_trip_through_json_with_a_format_key():
    text = to_json(WEB)
    assert '"format"' in text
    assert from_json(RecordType, text) == WEB
    assert from_json(Layout, to_json(DEFAULT_LEAD_LAYOUT)) == DEFAULT_LEAD_LAYOUT
    check = validate_layout(lead(source="Fair"), WEB)
    assert from_json(LayoutCheck, to_json(check)) == check


# -- validation --------------------------------------------------------------------------


def test_a_record_that_meets_its_record_type_is_ok():
    check = validate_layout(lead(), WEB)
    assert check.ok
    assert (check.record_type, check.record_id, check.errors) == ("Web lead", "L1", ())
    check.raise_for_errors()


def test_required_fields_must_not_be_blank():
    check = validate_layout(lead(email=None), WEB)
    assert codes(check) == [("email", "required")]
    assert "Web lead layout" in check.errors[0].message


def test_a_missing_custom_value_is_blank_for_a_required_custom_field():
    layout = Layout("L", [LayoutSection("S", [LayoutField("custom.note", required=True)])])
    assert codes(validate_layout(lead(custom={"other": 1}), layout)) == [
        ("custom.note", "required")
    ]
    assert validate_layout(lead(custom={"note": "hi"}), layout).ok


def test_picklist_values_outside_the_record_type_are_not_allowed():
    check = validate_layout(lead(source="Trade Show", rating="Cold", tags={"vip", "spam"}), WEB)
    assert codes(check) == [
        ("source", "not_allowed"),
        ("rating", "not_allowed"),
        ("tags", "not_allowed"),
    ]
    assert "'spam'" in check.errors[2].message


def test_enum_values_are_compared_by_their_value():
    stages = RecordType("R", WEB_LAYOUT, {"lifecycle_stage": ["lead", "subscriber"]})
    assert validate_layout(lead(), stages).ok
    assert codes(validate_layout(lead(lifecycle_stage=LifecycleStage.CUSTOMER), stages)) == [
        ("lifecycle_stage", "not_allowed")
    ]


def test_read_only_fields_must_not_change_against_the_previous_version():
    before = lead(owner_id="U1")
    after = lead(owner_id="U2", first_name="Augusta")
    check = validate_layout(after, WEB, previous=before)
    assert codes(check) == [("owner_id", "read_only")]
    assert "'U1'" in check.errors[0].message
    assert validate_layout(after, WEB).ok  # a new record: nothing to compare


def test_a_record_of_another_record_type_is_a_mismatch():
    other = lead(custom={RECORD_TYPE_FIELD: "Partner lead"})
    assert codes(validate_layout(other, WEB)) == [("custom.record_type", "record_type_mismatch")]
    assert validate_layout(other, WEB_LAYOUT).ok  # a bare layout has no record type


def test_misuse_raises_validation_errors():
    with pytest.raises(ValidationError):
        validate_layout("lead", WEB)
    with pytest.raises(ValidationError):
        validate_layout(lead(), "Web lead")
    with pytest.raises(ValidationError):
        validate_layout(Account(id="A1", name="Acme"), WEB)
    with pytest.raises(ValidationError) as caught:
        validate_layout(lead(), WEB, previous=lead(id="L2"))
    assert caught.value.errors[0].code == "not_same_record"


# -- stamping ----------------------------------------------------------------------------


def test_with_record_type_stamps_the_name_and_fills_blank_defaults():
    stamped = with_record_type(lead(source=None), WEB)
    assert record_type_of(stamped) == "Web lead"
    assert stamped.custom[RECORD_TYPE_FIELD] == "Web lead"
    assert stamped.source == "Web"
    assert with_record_type(lead(source="Partner"), WEB).source == "Partner"
    assert record_type_of(lead()) is None


def test_with_record_type_refuses_a_converted_lead():
    converted = convert_lead(lead(), ConvertOptions(STATUS), ids=SequentialIds(), now=NOW).lead
    with pytest.raises(ConvertedLeadError):
        with_record_type(converted, WEB)


def test_stamping_twice_changes_nothing_more():
    once = with_record_type(lead(source=None), WEB)
    assert with_record_type(once, WEB) is once


# -- forms and HTML ----------------------------------------------------------------------


def test_the_form_spec_takes_the_layouts_editable_form_fields():
    spec = WEB.form_spec()
    aliases = dict(spec.aliases)
    assert aliases["fname"] == "first_name"
    assert aliases["email"] == "email"
    assert aliases["budget"] == "custom.budget"
    assert aliases["city"] == "address.city"
    assert aliases["name"] == "name"
    assert "phone" not in aliases  # not on the layout
    assert "owner_id" not in aliases.values()  # read-only
    assert spec.honeypot == FormSpec.default().honeypot


def test_a_form_built_from_the_layout_parses_and_keeps_what_it_does_not_show():
    parsed = parse_web_form(
        {
            "name": "Ada Lovelace",
            "email": "ada@engines.io",
            "budget": "900",
            "phone": "+1 415 555 0100",
        },
        WEB.form_spec(),
        ids=SequentialIds(),
        now=NOW,
    )
    assert isinstance(parsed, Lead)
    assert parsed.custom["budget"] == "900"
    assert parsed.phone is None
    assert "phone" in parsed.custom["form_extra"]


def test_only_lead_layouts_render_a_web_form():
    account = Layout("A", [LayoutSection("S", ["name"])], kind="account")
    with pytest.raises(ValidationError):
        account.form_spec()
    with pytest.raises(ValidationError):
        WEB_LAYOUT.form_spec(base="spec")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attributes):
        self.tags.append((tag, dict(attributes)))

    def handle_data(self, data):
        self.text.append(data)


def parsed_html(text):
    collector = _Collect()
    collector.feed(text)
    return collector


def test_the_html_preview_shows_sections_fields_and_flags():
    page = parsed_html(WEB.to_html(lead(rating="Hot")))
    tags = page.tags
    assert tags[0] == ("form", {"class": "leadmodel-layout", "data-kind": "lead"})
    inputs = {a["name"]: (t, a) for t, a in tags if t in ("input", "select", "textarea")}
    assert "required" in inputs["last_name"][1]
    assert inputs["email"][1]["type"] == "email"
    assert inputs["email"][1]["value"] == "ada@engines.io"
    assert "readonly" in inputs["owner_id"][1]
    assert inputs["rating"][0] == "select"
    options = [a.get("value") for t, a in tags if t == "option"]
    assert "Warm" in options
    assert "Cold" not in options  # the record type's values only
    assert ("option", {"value": "Hot", "selected": None}) in tags
    assert "Sales" in page.text


def test_the_html_preview_escapes_hostile_values_and_names():
    hostile = '"><script>alert(1)</script>'
    layout = Layout(
        hostile[:80],
        [LayoutSection(hostile, [LayoutField("last_name", label=hostile), "custom.note"])],
    )
    record = lead(last_name=hostile, custom={"note": hostile})
    page = layout.to_html(record)
    assert "<script>" not in page
    assert [t for t, _ in parsed_html(page).tags].count("script") == 0
    assert "&lt;script&gt;" in page
    assert layout._repr_html_() == layout.to_html()
    assert "<script>" not in RecordType(hostile[:80], layout)._repr_html_()


def test_the_html_preview_refuses_a_record_of_another_kind():
    with pytest.raises(ValidationError):
        WEB.to_html(Account(id="A1", name="Acme"))


# -- capture, import, conversion ---------------------------------------------------------


def test_capture_rejects_a_lead_that_breaks_its_record_type_and_saves_nothing():
    uow = MemoryUnitOfWork()
    config = CaptureConfig(spec=WEB.form_spec(), record_type=WEB)
    result = capture_lead(uow, {"name": "Ada Lovelace"}, config, ids=SequentialIds(), now=NOW)
    assert result.status == "rejected"
    assert [(e.path, e.code) for e in result.errors.errors] == [("email", "required")]
    with uow:
        assert list(uow.leads) == []


def test_capture_stamps_the_record_type_on_the_saved_lead():
    uow = MemoryUnitOfWork()
    config = CaptureConfig(spec=WEB.form_spec(), record_type=WEB)
    form = {"name": "Ada Lovelace", "email": "ada@engines.io", "budget": "900"}
    result = capture_lead(uow, form, config, ids=SequentialIds(), now=NOW)
    assert result.status == "created"
    with uow:
        stored = uow.leads.get(result.lead.id)
    assert record_type_of(stored) == "Web lead"
    assert any("record type Web lead: ok" in step for step in result.steps)


def test_capture_refuses_a_record_type_of_another_kind():
    account = RecordType("A", Layout("A", [LayoutSection("S", ["name"])], kind="account"))
    with pytest.raises(ValidationError):
        CaptureConfig(record_type=account)


ROWS = [
    {"Last Name": "Ng", "Email": "ng@acme.io", "Company": "Acme", "Lead Source": "Trade Show"},
    {"Last Name": "Li", "Email": "", "Company": "Umbrella"},
    {"Last Name": "Oh", "Email": "oh@initech.io", "Company": "Initech"},
]


def test_import_rejects_rows_that_break_the_record_type_and_stamps_the_rest():
    run = import_leads(
        ROWS, ColumnMapping.guess(list(ROWS[0])), ids=SequentialIds(), now=NOW, record_type=WEB
    )
    outcomes = list(run)
    assert [o.status for o in outcomes] == ["rejected", "rejected", "created"]
    assert [(e.path, e.code) for e in outcomes[0].errors] == [("source", "not_allowed")]
    assert [(e.path, e.code) for e in outcomes[1].errors] == [("email", "required")]
    created = outcomes[2].lead
    assert (record_type_of(created), created.source) == ("Web lead", "Web")
    report = run.report
    assert (report.rows, report.created, report.rejected) == (3, 1, 2)


def test_the_import_service_saves_only_leads_of_the_record_type():
    uow = MemoryUnitOfWork()
    report = import_stored(
        uow,
        ROWS,
        ColumnMapping.guess(list(ROWS[0])),
        ids=SequentialIds(),
        now=NOW,
        record_type=WEB,
    )
    assert (report.created, report.rejected) == (1, 2)
    with uow:
        assert [record_type_of(saved) for saved in uow.leads] == ["Web lead"]


def test_import_refuses_a_record_type_that_is_not_of_leads():
    with pytest.raises(ValidationError):
        import_leads(
            ROWS,
            ColumnMapping.guess(list(ROWS[0])),
            ids=SequentialIds(),
            now=NOW,
            record_type="Web",
        )


ACCOUNT_TYPE = RecordType(
    "Business account",
    Layout(
        "Account layout",
        [
            LayoutSection(
                "Account",
                [
                    LayoutField("name", required=True),
                    LayoutField("website", required=True),
                    LayoutField("rating", read_only=True),
                ],
            )
        ],
        kind="account",
    ),
    {"industry": ["Technology", "Retail"]},
)


def test_conversion_stamps_new_records_with_their_record_type():
    result = convert_lead(
        lead(website="engines.io"),
        ConvertOptions(STATUS),
        ids=SequentialIds(),
        now=NOW,
        record_types={"account": ACCOUNT_TYPE},
    )
    assert record_type_of(result.account) == "Business account"
    assert record_type_of(result.contact) is None
    change = result.change("account", "custom.record_type")
    assert (change.new, change.source) == ("Business account", "conversion")


def test_conversion_reports_record_type_problems_as_refusals():
    with pytest.raises(InvalidConvertOptions) as caught:
        convert_lead(
            lead(industry="Banking"),
            ConvertOptions(STATUS),
            ids=SequentialIds(),
            now=NOW,
            record_types={"account": ACCOUNT_TYPE},
        )
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("account.website", "required"),
        ("account.industry", "not_allowed"),
    ]


def test_conversion_refuses_to_change_a_read_only_field_of_an_existing_record():
    existing = Account(
        id="A1",
        name="Engines",
        website="engines.io",
        custom={RECORD_TYPE_FIELD: "Business account"},
    )
    options = ConvertOptions(STATUS, account_id="A1", overwrite_fields={"account.rating"})
    with pytest.raises(InvalidConvertOptions) as caught:
        convert_lead(
            lead(rating="Hot"),
            options,
            existing=ExistingRecords(account=existing),
            ids=SequentialIds(),
            now=NOW,
            record_types={"account": ACCOUNT_TYPE},
        )
    assert [(e.path, e.code) for e in caught.value.errors] == [("account.rating", "read_only")]
    other = attrs.evolve(existing, custom={RECORD_TYPE_FIELD: "Household"})
    result = convert_lead(
        lead(rating="Hot"),
        options,
        existing=ExistingRecords(account=other),
        ids=SequentialIds(),
        now=NOW,
        record_types={"account": ACCOUNT_TYPE},
    )
    assert result.account.rating == "Hot"  # another record type's record is not checked


def test_bulk_conversion_turns_record_type_problems_into_failures():
    batch = convert_leads(
        [
            (lead(id="L1", website="a.io"), ConvertOptions(STATUS)),
            (lead(id="L2", company="B"), ConvertOptions(STATUS)),
        ],
        ids=SequentialIds(),
        now=NOW,
        record_types={"account": ACCOUNT_TYPE},
        share_accounts=False,
    )
    assert [r.lead.id for r in batch.results] == ["L1"]
    assert [(f.lead_id, f.errors[0].code) for f in batch.failures] == [("L2", "required")]


@pytest.mark.parametrize(
    "record_types",
    [{"lead": ACCOUNT_TYPE}, {"contact": ACCOUNT_TYPE}, {"account": "Business"}, ["account"]],
)
def test_conversion_refuses_record_types_of_the_wrong_kind(record_types):
    with pytest.raises(ValidationError):
        convert_lead(
            lead(), ConvertOptions(STATUS), ids=SequentialIds(), now=NOW, record_types=record_types
        )


def test_the_conversion_service_takes_record_types():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead(website="engines.io"))
        uow.commit()
    outcome = convert_stored(
        uow,
        "L1",
        ConvertOptions(STATUS),
        ids=SequentialIds(),
        now=NOW,
        record_types={"account": ACCOUNT_TYPE},
    )
    with uow:
        assert record_type_of(uow.accounts.get(outcome.result.account.id)) == "Business account"


# -- properties --------------------------------------------------------------------------

PATHS = [p for p in DEFAULT_LEAD_LAYOUT.paths if p != "status"]


@st.composite
def layouts(draw):
    chosen = draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=8, unique=True))
    flags = [draw(st.sampled_from(["plain", "required", "read_only"])) for _ in chosen]
    fields = [
        LayoutField(path, required=flag == "required", read_only=flag == "read_only")
        for path, flag in zip(chosen, flags, strict=True)
    ]
    cut = draw(st.integers(min_value=1, max_value=len(fields)))
    sections = [LayoutSection("One", fields[:cut])]
    if fields[cut:]:
        sections.append(LayoutSection("Two", fields[cut:]))
    return Layout(draw(lst.names(max_size=80)), sections)


@st.composite
def record_types(draw):
    picklists = {}
    if draw(st.booleans()):
        picklists["source"] = draw(
            st.lists(st.sampled_from(["Web", "Other", "Partner", "Fair"]), min_size=1, unique=True)
        )
    if draw(st.booleans()):
        picklists["rating"] = draw(
            st.lists(st.sampled_from(["Hot", "Warm", "Cold"]), min_size=1, unique=True)
        )
    return RecordType(draw(lst.names(max_size=80)), draw(layouts()), picklists)


@given(record_types())
def test_every_record_type_round_trips_through_json(record_type):
    assert from_json(RecordType, to_json(record_type)) == record_type


@given(record_types(), lst.leads())
def test_validation_is_deterministic_and_explains_each_problem(record_type, record):
    check = validate_layout(record, record_type)
    assert check == validate_layout(record, record_type)
    assert check.ok == (check.errors == ())
    paths = (
        set(record_type.layout.paths)
        | {p.path for p in record_type.picklists}
        | {"custom.record_type"}
    )
    assert {e.path for e in check.errors} <= paths
    assert {e.code for e in check.errors} <= {"required", "not_allowed", "record_type_mismatch"}


@given(record_types(), lst.leads())
def test_a_record_compared_with_itself_never_breaks_a_read_only_field(record_type, record):
    alone = validate_layout(record, record_type)
    assert validate_layout(record, record_type, previous=record) == alone


@given(record_types(), lst.leads())
def test_section_order_does_not_change_the_verdict(record_type, record):
    reordered = attrs.evolve(
        record_type,
        layout=attrs.evolve(
            record_type.layout, sections=tuple(reversed(record_type.layout.sections))
        ),
    )
    before = validate_layout(record, record_type)
    after = validate_layout(record, reordered)
    assert sorted(map(repr, before.errors)) == sorted(map(repr, after.errors))


@given(record_types(), lst.leads(converted=st.just(False)))
def test_stamping_is_idempotent_and_keeps_every_other_value(record_type, record):
    once = with_record_type(record, record_type)
    assert with_record_type(once, record_type) == once
    assert record_type_of(once) == record_type.name
    for field in attrs.fields(Lead):
        if field.name in ("custom", "source", "rating"):
            continue
        assert getattr(once, field.name) == getattr(record, field.name)
    assert {k: v for k, v in once.custom.items() if k != RECORD_TYPE_FIELD} == {
        k: v for k, v in record.custom.items() if k != RECORD_TYPE_FIELD
    }


@given(record_types())
def test_the_form_spec_only_targets_the_layouts_editable_fields(record_type):
    spec = record_type.form_spec()
    editable = {f.path for f in record_type.layout.fields if not f.read_only}
    for _name, target in spec.aliases:
        assert (
            target in editable
            or target in ("ignore", "name", "email_opt_out", "do_not_call")  # opt-outs land
            or target.startswith("utm.")
        )


def test_a_whole_address_renders_one_input_per_part():
    layout = Layout("L", [LayoutSection("S", [LayoutField("address", required=True)])])
    record = lead(address=Address(street="1 Main St", city="London", country="GB"))
    page = parsed_html(layout.to_html(record))
    inputs = {a["name"]: a for t, a in page.tags if t == "input"}
    assert list(inputs) == [
        "address.street",
        "address.city",
        "address.state",
        "address.postal_code",
        "address.country",
    ]
    assert (inputs["address.city"]["value"], inputs["address.state"]["value"]) == ("London", "")
    assert codes(validate_layout(lead(), layout)) == [("address", "required")]


def test_dates_render_as_html_input_values():
    layout = Layout("L", [LayoutSection("S", ["created_at", "annual_revenue"])])
    record = lead(annual_revenue=Money(Decimal(1500), "USD"))
    page = parsed_html(layout.to_html(record))
    inputs = {a["name"]: a for t, a in page.tags if t == "input"}
    assert inputs["created_at"] == {
        "type": "datetime-local",
        "name": "created_at",
        "value": "2026-12-01T09:00",
    }
    assert inputs["annual_revenue"]["value"] == "1500"
