"""Bulk import and export: parsers, duplicates, row accounting, CSV detection, round trips."""

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    LEAD_SCHEMA,
    ColumnMapping,
    EmailAddress,
    FieldDef,
    FieldType,
    Lead,
    PhoneNumber,
    ValidationError,
    export_csv,
    import_leads,
    read_csv,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds

NOW = datetime(2026, 5, 1, tzinfo=UTC)
HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Lead Source", "Employees"]


def run(rows, mapping=None, **kwargs):
    mapping = mapping or ColumnMapping.guess(HEADER)
    result = import_leads(rows, mapping, ids=SequentialIds(), now=NOW, **kwargs)
    return list(result), result.report


def row(**values):
    base = dict.fromkeys(HEADER, "")
    base.update({"Last Name": "Ng", "Company": "Acme"})
    base.update(values)
    return base


def test_guess_reads_salesforce_hubspot_and_zoho_headers():
    mapping = ColumnMapping.guess(
        [
            "Lead Owner",
            "Mobile Phone Number",
            "Create Date",
            "Designation",
            "No. of Employees",
            "Mystery",
        ]
    )
    assert dict(mapping.columns) == {
        "Lead Owner": "owner_id",
        "Mobile Phone Number": "mobile",
        "Create Date": "created_at",
        "Designation": "title",
        "No. of Employees": "employees",
    }


def test_values_are_parsed_by_their_field():
    schema = LEAD_SCHEMA.with_custom(
        FieldDef("signed", FieldType.DATE), FieldDef("budget", FieldType.CURRENCY)
    )
    mapping = ColumnMapping(
        [
            ("Last", "last_name"),
            ("Revenue", "annual_revenue"),
            ("Staff", "employees"),
            ("No call", "do_not_call"),
            ("Signed", "custom.signed"),
            ("Budget", "custom.budget"),
            ("Source", "source"),
            ("Created", "created_at"),
        ],
        day_first=True,
        picklists=[("source", "web form", "Web")],
        currency="EUR",
        schema=schema,
    )
    [outcome], _ = run(
        [
            {
                "Last": "Ng",
                "Revenue": "€1,250,000.50",
                "Staff": "1 200",
                "No call": "Yes",
                "Signed": "03/04/2026",
                "Budget": "12,000",
                "Source": "Web Form",
                "Created": "2026-02-01T10:00:00+02:00",
            }
        ],
        mapping,
    )
    lead = outcome.lead
    assert lead.annual_revenue.amount == Decimal("1250000.50")
    assert lead.annual_revenue.currency == "EUR"
    assert (lead.employees, lead.do_not_call, lead.source) == (1200, True, "Web")
    assert lead.custom["signed"] == date(2026, 4, 3)
    assert lead.custom["budget"] == Decimal(12000)
    assert lead.created_at.utcoffset().total_seconds() == 7200


def test_bad_values_reject_the_row_with_every_error_and_its_line():
    outcomes, report = run([row(Email="two@@x", Employees="many"), row()])
    rejected = outcomes[0]
    assert (rejected.line, rejected.status) == (2, "rejected")
    assert {e.path for e in rejected.errors} == {"email", "employees"}
    assert report.created == 1


def test_unmapped_columns_are_kept_and_reported():
    [outcome], report = run([{**row(), "Favourite": "tea"}])
    assert outcome.unmapped == ("Favourite",)
    assert outcome.lead.custom["import_extra"] == '{"Favourite": "tea"}'
    assert report.unmapped_columns == ("Favourite",)


@pytest.mark.parametrize(
    ("policy", "statuses", "company"),
    [
        ("skip", ["created", "skipped"], "Acme"),
        ("update", ["created", "updated"], "Acme"),
        ("merge", ["created", "merged"], "Acme"),
        ("create", ["created", "created"], "Acme"),
    ],
)
def test_duplicates_within_the_file_follow_the_policy(policy, statuses, company):
    rows = [
        row(Email="ng@acme.io"),
        row(Email="NG@acme.io", **{"First Name": "Ann", "Phone": "+14155550100"}),
    ]
    outcomes, report = run(rows, on_duplicate=policy)
    assert [o.status for o in outcomes] == statuses
    assert report.rows == 2
    assert all(o.lead.company == company for o in outcomes if o.lead is not None)
    if policy == "update":
        assert outcomes[1].lead.id == outcomes[0].lead.id
        assert outcomes[1].lead.first_name == "Ann"  # a blank filled
        assert outcomes[1].lead.phone is not None
    if policy == "skip":
        assert outcomes[1].duplicate_of == outcomes[0].lead.id
        assert "(first_name AND last_name AND email)" in outcomes[1].reason
        assert outcomes[1].match.clause == "first_name AND last_name AND email"


def test_duplicates_against_stored_records_are_found():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(
            Lead(id="OLD", last_name="Ng", company="Acme", email=EmailAddress.parse("ng@acme.io"))
        )
        uow.commit()
    with uow:
        outcomes, _ = run([row(Email="ng@acme.io")], existing=uow.leads, on_duplicate="update")
    assert (outcomes[0].status, outcomes[0].lead.id) == ("updated", "OLD")


def test_read_csv_detects_bom_latin_1_and_semicolons(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfLast Name,Email\nN\xc3\xba\xc3\xb1ez,n@x.io\n")
    header, rows = read_csv(bom)
    assert header == ["Last Name", "Email"]
    assert next(rows)["Last Name"] == "Núñez"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Last Name;Company\nMüller;Bäckerei\n".encode("latin-1"))
    header, rows = read_csv(latin)
    assert header == ["Last Name", "Company"]
    assert next(rows) == {"Last Name": "Müller", "Company": "Bäckerei"}
    with pytest.raises(ValidationError):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValidationError):
        read_csv(tmp_path / "empty.csv")


def test_export_quotes_formulas_and_imports_back():
    lead = Lead(
        id="L1",
        first_name='=HYPERLINK("http://evil")',
        last_name="+Ng",
        company="-Acme",
        title="@home",
        email=EmailAddress.parse("ng@acme.io"),
    )
    out = io.StringIO()
    fields = ["first_name", "last_name", "company", "title", "email"]
    assert export_csv([lead], fields, out) == 1
    cells = list(csv.reader(io.StringIO(out.getvalue())))[1]
    assert all(cell.startswith("'") for cell in cells[:4])
    mapping = ColumnMapping([(f, f) for f in fields])
    [outcome], _ = run(csv.DictReader(io.StringIO(out.getvalue())), mapping)
    back = outcome.lead
    assert (back.first_name, back.last_name, back.company, back.title, back.email) == (
        lead.first_name,
        lead.last_name,
        lead.company,
        lead.title,
        lead.email,
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: import_leads([], "mapping", ids=SequentialIds(), now=NOW),
        lambda: import_leads([], ColumnMapping([]), ids=SequentialIds(), now=NOW, on_duplicate="x"),
        lambda: import_leads([], ColumnMapping([]), ids="L", now=NOW),
        lambda: import_leads([], ColumnMapping([]), ids=SequentialIds(), now=datetime(2026, 1, 1)),  # noqa: DTZ001
        lambda: import_leads([], ColumnMapping([]), ids=SequentialIds(), now=NOW, existing=[1]),
        lambda: import_leads("a,b", ColumnMapping([]), ids=SequentialIds(), now=NOW),
        lambda: export_csv([], [], io.StringIO()),
        lambda: export_csv([], "email", io.StringIO()),
    ],
)
def test_misuse_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


CELLS = st.sampled_from(
    [
        "",
        " ",
        "Ng",
        "ng@acme.io",
        "NG@ACME.IO",
        "+1 415 555 0100",
        "12",
        "1,200",
        "x\ny",
        "=1+1",
        "Ümlaut",
        "a,b",
        '"q"',
    ]
)


@st.composite
def messy_csv(draw):
    """A CSV text with missing and extra columns, BOM, mixed line endings, quoted newlines."""
    header = draw(
        st.lists(st.sampled_from([*HEADER, "Extra", "Notes"]), min_size=1, max_size=9, unique=True)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    count = draw(st.integers(0, 12))
    for _ in range(count):
        width = draw(st.integers(0, len(header) + 2))  # short and long rows too
        writer.writerow([draw(CELLS) for _ in range(width)])
        if draw(st.booleans()):
            out.write("\n")  # a blank line, which csv skips
    text = out.getvalue()
    return ("\ufeff" if draw(st.booleans()) else "") + text


@given(messy_csv(), st.sampled_from(["skip", "update", "merge", "create"]))
@settings(max_examples=150)
def test_every_row_has_exactly_one_outcome_and_the_counts_add_up(text, policy):
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    rows = list(reader)
    header = reader.fieldnames or []
    outcomes, report = run(rows, ColumnMapping.guess(header), on_duplicate=policy)
    assert len(outcomes) == len(rows) == report.rows
    assert [o.line for o in outcomes] == list(range(2, len(rows) + 2))
    assert (
        report.created + report.updated + report.merged + report.skipped + report.rejected
        == report.rows
    )
    for outcome, source in zip(outcomes, rows, strict=True):
        # Nothing silently lost: unmapped, non-blank values are reported on their row.
        mapped = {column for column, _ in ColumnMapping.guess(header).columns}
        extra = {
            k
            for k, v in source.items()
            if k not in mapped and isinstance(k, str) and v and v.strip()
        }
        width = len([k for k in source if isinstance(k, str)])
        extra |= {
            f"Column {width + n} (beyond the header)"
            for n, v in enumerate(source.get(None, []), start=1)
            if v.strip()
        }
        assert set(outcome.unmapped) == extra


@given(
    st.lists(
        st.builds(
            lambda first, last, company: Lead(
                id="X", first_name=first, last_name=last, company=company
            ),
            st.sampled_from([None, "Ann", "=cmd", "+1", "-x", "@y", "Zoë"]),
            st.sampled_from(["Ng", "=SUM(A1)", "-Lee", "O'Brien"]),
            st.sampled_from(["Acme", "@corp", "+plus", "a,b"]),
        ),
        max_size=5,
    )
)
def test_export_then_import_gives_the_same_values(leads):
    fields = ["first_name", "last_name", "company"]
    out = io.StringIO()
    export_csv(leads, fields, out)
    mapping = ColumnMapping([(f, f) for f in fields])
    outcomes, _ = run(csv.DictReader(io.StringIO(out.getvalue())), mapping, on_duplicate="create")
    assert [(o.lead.first_name, o.lead.last_name, o.lead.company) for o in outcomes] == [
        (lead.first_name, lead.last_name, lead.company) for lead in leads
    ]


people_rows = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from(["", "Ann", "Bo"]), st.booleans()).map(
        lambda t: row(
            Email=f"p{t[0]}@acme.io" if t[2] else f"P{t[0]}@ACME.io",
            Phone=f"+1415555010{t[0]}" if t[0] % 2 else "",
            **{"First Name": t[1], "Company": f"Co {t[0]}"},
        )
    ),
    max_size=25,
)


def applied(rows, *, policy, existing):
    """Import *rows*, saving every outcome to *existing*'s unit of work as it comes."""
    uow = MemoryUnitOfWork()
    outcomes = []
    with uow:
        found = import_leads(
            rows,
            ColumnMapping.guess(HEADER),
            ids=SequentialIds(),
            now=NOW,
            existing=uow.leads if existing else None,
            on_duplicate=policy,
        )
        for outcome in found:
            outcomes.append(outcome)
            if outcome.status == "created":
                uow.leads.add(outcome.lead)
            elif outcome.status in ("updated", "merged"):
                uow.leads.update(outcome.lead)
    return [(o.status, o.lead, o.duplicate_of) for o in outcomes]


@settings(max_examples=60)
@given(people_rows, st.sampled_from(["update", "merge"]), st.integers(1, 4))
def test_update_and_merge_keep_few_leads_at_hand_when_they_can_read_them_back(
    rows, policy, at_hand
):
    from leadmodel import intake

    expected = applied(rows, policy=policy, existing=False)  # remembers every lead
    saved, intake._RECENT_LEADS = intake._RECENT_LEADS, at_hand
    try:
        assert applied(rows, policy=policy, existing=True) == expected
    finally:
        intake._RECENT_LEADS = saved


def test_a_lead_neither_at_hand_nor_saved_is_a_clear_error():
    from leadmodel import intake

    rows = [row(Email=f"p{i}@acme.io", Company=f"Co {i}") for i in range(3)]
    rows.append(row(Email="P0@acme.io", **{"First Name": "Ann"}))
    saved, intake._RECENT_LEADS = intake._RECENT_LEADS, 1
    try:
        with MemoryUnitOfWork() as uow, pytest.raises(ValidationError) as error:
            run(rows, existing=uow.leads, on_duplicate="merge")  # outcomes never saved
    finally:
        intake._RECENT_LEADS = saved
    assert error.value.errors[0].code == "not_applied"
    assert "line 5" in str(error.value)


# -- issue 16: imports decide with a matching rule and keep every value ------------------

from leadmodel import (  # noqa: E402 - the issue's section
    EXACT_EMAIL,
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    FormSpec,
    parse_web_form,
)

SWITCHBOARD = "+1 415 555 0100"
PEOPLE = [  # different people of one company, every lead through its switchboard
    ("Ann", "Ng", "ann@acme.io"),
    ("Bob", "Stone", "bob@acme.io"),
    ("Cy", "Park", "cy@acme.io"),
]


def switchboard_rows():
    rows = [
        row(**{"First Name": first, "Last Name": last, "Email": email, "Phone": SWITCHBOARD})
        for first, last, email in PEOPLE
    ]
    # A true duplicate: the same person again (name and email), email in other case.
    rows.append(
        row(**{"First Name": "Ann", "Last Name": "Ng", "Email": "ANN@acme.io", "Phone": ""})
    )
    return rows


@pytest.mark.parametrize("policy", ["skip", "merge", "update"])
def test_people_sharing_a_company_phone_are_all_kept(policy):
    outcomes, report = run(switchboard_rows(), on_duplicate=policy)
    assert [o.status for o in outcomes[:3]] == ["created"] * 3  # both (all) people kept
    assert {o.lead.last_name for o in outcomes[:3]} == {"Ng", "Stone", "Park"}
    duplicate = outcomes[3]
    assert duplicate.status == {"skip": "skipped", "merge": "merged", "update": "updated"}[policy]
    assert duplicate.duplicate_of == outcomes[0].lead.id
    assert duplicate.match.clause == "first_name AND last_name AND email"
    assert "first_name AND last_name AND email" in duplicate.reason
    assert report.created == 3


def test_a_shared_phone_alone_still_matches_when_the_rule_says_so():
    outcomes, _ = run(switchboard_rows(), rule=EXACT_EMAIL_OR_PHONE)
    assert [o.status for o in outcomes] == ["created", "skipped", "skipped", "skipped"]
    assert outcomes[1].match.clause == "phone"


def test_exact_email_matches_the_same_address_only():
    outcomes, _ = run(switchboard_rows(), rule=EXACT_EMAIL.compile())
    assert [o.status for o in outcomes] == ["created", "created", "created", "skipped"]
    assert outcomes[3].match.clause == "email"


def test_stored_colleagues_sharing_the_phone_are_not_duplicates():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(
            Lead(
                id="OLD",
                first_name="Dee",
                last_name="Olsen",
                company="Acme",
                email=EmailAddress.parse("dee@acme.io"),
                phone=PhoneNumber.parse(SWITCHBOARD),
            )
        )
        uow.commit()
    with uow:
        outcomes, _ = run(switchboard_rows()[:3], existing=uow.leads, on_duplicate="merge")
        again, _ = run(
            [row(**{"First Name": "Dee", "Last Name": "Olsen", "Phone": SWITCHBOARD})],
            existing=uow.leads,
            on_duplicate="skip",
        )
    assert [o.status for o in outcomes] == ["created"] * 3
    assert (again[0].status, again[0].duplicate_of) == ("skipped", "OLD")
    assert again[0].match.clause.startswith("first_name AND last_name AND")


def test_a_store_that_indexes_the_rule_is_asked_by_its_blocking_keys():
    # Same person, no email or phone in common: only the rule's name+company key finds it.
    uow = MemoryUnitOfWork()
    uow.index_rules([STANDARD_LEAD_RULE])
    with uow:
        uow.leads.add(Lead(id="OLD", first_name="Ann", last_name="Ng", company="Acme", title="CTO"))
        uow.commit()
    mapping = ColumnMapping.guess(["First Name", "Last Name", "Company", "Title"])
    with uow:
        outcomes, _ = run(
            [{"First Name": "Ann", "Last Name": "Ng", "Company": "Acme Inc", "Title": "CTO"}],
            mapping,
            existing=uow.leads,
        )
    assert (outcomes[0].status, outcomes[0].duplicate_of) == ("skipped", "OLD")
    assert outcomes[0].match.clause == "first_name AND last_name AND title AND company"


def test_a_store_that_does_not_index_the_rule_is_asked_by_lookup_keys():
    uow = MemoryUnitOfWork()  # no index_rules: the rule's keys would be KeyNotIndexed
    with uow:
        uow.leads.add(
            Lead(
                id="OLD",
                first_name="Ann",
                last_name="Ng",
                company="Acme",
                email=EmailAddress.parse("a@b.io"),
            )
        )
        uow.commit()
    with uow:
        outcomes, _ = run(
            [row(**{"First Name": "Ann", "Email": "a@b.io"}), row(**{"First Name": "Al"})],
            existing=uow.leads,
        )
    assert [o.status for o in outcomes] == ["skipped", "created"]


@pytest.mark.parametrize("bad", ["standard", 1, STANDARD_LEAD_RULE.matchers[0], object()])
def test_a_rule_that_is_not_a_matching_rule_is_a_validation_error(bad):
    with pytest.raises(ValidationError) as caught:
        import_leads([], ColumnMapping.guess(HEADER), ids=SequentialIds(), now=NOW, rule=bad)
    assert [e.path for e in caught.value.errors] == ["rule"]


def test_an_ids_function_repeating_an_id_is_refused():
    rows = [row(Email="a@x.io"), row(Email="b@x.io", **{"Last Name": "Lee"})]
    run_ = import_leads(rows, ColumnMapping.guess(HEADER), ids=lambda _: "L1", now=NOW)
    with pytest.raises(ValidationError) as caught:
        list(run_)
    assert caught.value.errors[0].code == "repeated"


PEOPLE_POOL = st.tuples(
    st.sampled_from(["Ann", "Anne", "Bob", ""]),
    st.sampled_from(["Ng", "Stone", "Nguyen"]),
    st.sampled_from(["ann@acme.io", "ANN@acme.io", "bob@acme.io", "", "bad@@x"]),
    st.sampled_from([SWITCHBOARD, "(415) 555-0100", "+1 415 555 0199", ""]),
)


@given(
    st.lists(PEOPLE_POOL, max_size=12),
    st.sampled_from(["skip", "update", "merge", "create"]),
    st.sampled_from([None, STANDARD_LEAD_RULE, EXACT_EMAIL, EXACT_EMAIL_OR_PHONE]),
)
@settings(max_examples=120, deadline=None)
def test_every_row_is_accounted_for_under_every_policy_and_rule(people, policy, rule):
    rows = [
        row(**{"First Name": f, "Last Name": last, "Email": e, "Phone": p})
        for f, last, e, p in people
    ]
    outcomes, report = run(rows, on_duplicate=policy, rule=rule)
    assert len(outcomes) == report.rows == len(rows)
    assert (
        report.created + report.updated + report.merged + report.skipped + report.rejected
        == report.rows
    )
    for outcome in outcomes:
        assert (outcome.match is not None) == (outcome.duplicate_of is not None)
        if outcome.match is not None:
            assert outcome.match.is_match


NAMED_PEOPLE = st.tuples(
    st.sampled_from(["Ann", "Anne", "Bob"]),
    st.sampled_from(["Ng", "Stone", "Nguyen"]),
    st.sampled_from(["ann@acme.io", "ANN@acme.io", "bob@acme.io", ""]),
    st.sampled_from([SWITCHBOARD, "(415) 555-0100", "+1 415 555 0199", ""]),
)


@given(st.lists(NAMED_PEOPLE, max_size=10), st.sampled_from(["skip", "merge"]))
@settings(max_examples=80, deadline=None)
def test_the_standard_rule_never_joins_two_last_names(people, policy):
    rows = [
        row(**{"First Name": f, "Last Name": last, "Email": e, "Phone": p})
        for f, last, e, p in people
    ]
    outcomes, _ = run(rows, on_duplicate=policy)
    last_of = {o.lead.id: o.lead.last_name for o in outcomes if o.status == "created"}
    for outcome, (_, last, _, _) in zip(outcomes, people, strict=True):
        if outcome.duplicate_of is not None:
            assert last_of[outcome.duplicate_of] == last


# -- name parts ---------------------------------------------------------------------------

NAME_MAPPING = ColumnMapping([("Full Name", "name"), ("Company", "company")])


@pytest.mark.parametrize(
    ("full", "first", "last", "parts"),
    [
        ("Dr. Robert 'Bob' Smith Jr.", "Robert", "Smith",
         {"salutation": "Dr.", "suffix": "Jr.", "nickname": "Bob"}),
        ("Robert (Bob) Smith", "Robert", "Smith", {"nickname": "Bob"}),
        ("Prof. Mary Ann Smith PhD", "Mary", "Smith",
         {"salutation": "Prof.", "middle_name": "Ann", "suffix": "PhD"}),
        ("Mr. John Smith III", "John", "Smith", {"salutation": "Mr.", "suffix": "III"}),
        ("Cher", None, "Cher", {}),
    ],
)  # fmt: skip
def test_a_full_name_keeps_salutation_middle_name_suffix_and_nickname(full, first, last, parts):
    [outcome], _ = run([{"Full Name": full, "Company": "Acme"}], NAME_MAPPING)
    lead = outcome.lead
    assert (lead.first_name, lead.last_name) == (first, last)
    assert {k: v for k, v in lead.custom.items() if k != "import_extra"} == parts


def test_a_column_of_its_own_wins_over_the_name_part():
    mapping = ColumnMapping.guess(["Full Name", "Salutation", "Middle Name", "Suffix", "Nickname"])
    assert dict(mapping.columns) == {
        "Full Name": "name",
        "Salutation": "custom.salutation",
        "Middle Name": "custom.middle_name",
        "Suffix": "custom.suffix",
        "Nickname": "custom.nickname",
    }
    [outcome], _ = run(
        [{"Full Name": "Dr. Ann Ng", "Salutation": "Prof.", "Nickname": "Annie"}], mapping
    )
    assert dict(outcome.lead.custom) == {"salutation": "Prof.", "nickname": "Annie"}


def test_a_web_form_name_keeps_its_parts_too():
    lead = parse_web_form(
        {"name": "Dr. Robert 'Bob' Smith Jr.", "email": "bob@acme.io"},
        FormSpec.default(),
        ids=SequentialIds(),
        now=NOW,
    )
    assert (lead.first_name, lead.last_name) == ("Robert", "Smith")
    assert (lead.custom["salutation"], lead.custom["suffix"], lead.custom["nickname"]) == (
        "Dr.",
        "Jr.",
        "Bob",
    )


# -- dates ----------------------------------------------------------------------------------

DATED = LEAD_SCHEMA.with_custom(
    FieldDef("met_on", FieldType.DATE), FieldDef("called_at", FieldType.DATETIME)
)
DATE_MAPPING = ColumnMapping(
    [
        ("Last Name", "last_name"),
        ("Created", "created_at"),
        ("Met", "custom.met_on"),
        ("Called", "custom.called_at"),
    ],
    schema=DATED,
)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("31.12.2025", datetime(2025, 12, 31, tzinfo=UTC)),
        ("31.12.2025 14:30", datetime(2025, 12, 31, 14, 30, tzinfo=UTC)),
        ("3/4/2025 10:15 AM", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),  # US: month first
        ("3/4/2025 10:15 PM", datetime(2025, 3, 4, 22, 15, tzinfo=UTC)),
        ("3/4/2025 12:05 AM", datetime(2025, 3, 4, 0, 5, tzinfo=UTC)),
        ("3/4/2025 12:05 p.m.", datetime(2025, 3, 4, 12, 5, tzinfo=UTC)),
        ("Mar 4, 2025 9:00 AM", datetime(2025, 3, 4, 9, tzinfo=UTC)),
        ("2025-03-04T10:15:00+02:00", datetime.fromisoformat("2025-03-04T10:15:00+02:00")),
    ],
)
def test_date_times_of_other_crms_are_read_and_a_naive_one_is_utc(text, moment):
    [outcome], _ = run([{"Last Name": "Ng", "Created": text, "Called": text}], DATE_MAPPING)
    assert outcome.status == "created", outcome.errors
    assert outcome.lead.created_at == moment
    assert outcome.lead.custom["called_at"] == moment


@pytest.mark.parametrize(
    ("text", "day_first", "day"),
    [
        ("31.12.2025", False, date(2025, 12, 31)),  # dots are day first, always
        ("31.12.2025", True, date(2025, 12, 31)),
        ("3/4/2025", False, date(2025, 3, 4)),
        ("3/4/2025", True, date(2025, 4, 3)),
    ],
)
def test_dotted_dates_are_day_first_and_slashed_ones_follow_the_mapping(text, day_first, day):
    mapping = ColumnMapping(DATE_MAPPING.columns, schema=DATED, day_first=day_first)
    [outcome], _ = run([{"Last Name": "Ng", "Met": text}], mapping)
    assert outcome.lead.custom["met_on"] == day


@pytest.mark.parametrize(
    "text",
    ["3/4/2025 13:15 PM", "3/4/2025 25:00", "31.12.2025 14:61", "3/4/2025 10:15 XM", "9" * 65],
)
def test_an_impossible_date_time_is_the_rows_error(text):
    [outcome], _ = run([{"Last Name": "Ng", "Created": text}], DATE_MAPPING)
    assert outcome.status == "rejected"
    assert [e.path for e in outcome.errors] == ["created_at"]


# -- CSV files: every cell kept ------------------------------------------------------------


def test_read_csv_keeps_repeated_headers_and_cells_beyond_the_header(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(
        "Last Name,Email,Email,Email (2)\n"
        "Ng,ng@acme.io,ann.ng@home.io,third\n"
        "Lee,lee@acme.io,,,surplus,,more\n",
        encoding="utf-8",
    )
    header, rows = read_csv(path)
    assert header == ["Last Name", "Email", "Email (3)", "Email (2)"]
    rows = list(rows)
    assert rows[0] == {
        "Last Name": "Ng",
        "Email": "ng@acme.io",
        "Email (3)": "ann.ng@home.io",
        "Email (2)": "third",
    }
    assert rows[1]["Column 5 (beyond the header)"] == "surplus"
    assert rows[1]["Column 7 (beyond the header)"] == "more"
    outcomes, report = run(rows, ColumnMapping.guess(header))
    assert dict(ColumnMapping.guess(header).columns) == {"Last Name": "last_name", "Email": "email"}
    assert json.loads(outcomes[0].lead.custom["import_extra"]) == {
        "Email (2)": "third",
        "Email (3)": "ann.ng@home.io",
    }
    assert json.loads(outcomes[1].lead.custom["import_extra"]) == {
        "Column 5 (beyond the header)": "surplus",
        "Column 7 (beyond the header)": "more",
    }
    assert report.unmapped_columns == (
        "Column 5 (beyond the header)",
        "Column 7 (beyond the header)",
        "Email (2)",
        "Email (3)",
    )


def test_guess_maps_each_field_from_one_column_only():
    mapping = ColumnMapping.guess(["E-mail", "Email", "Email", "Phone", "Telephone"])
    assert mapping.columns == (("E-mail", "email"), ("Phone", "phone"))
    [outcome], report = run(
        [{"E-mail": "a@x.io", "Email": "b@x.io", "Last Name": "Ng"}],
        ColumnMapping([*mapping.columns, ("Last Name", "last_name")]),
    )
    assert str(outcome.lead.email) == "a@x.io"
    assert report.unmapped_columns == ("Email",)  # kept aside and reported, not lost


@given(
    st.lists(NAMED_PEOPLE, max_size=8),
    st.sampled_from(["skip", "update", "merge"]),
    st.sampled_from([None, EXACT_EMAIL, EXACT_EMAIL_OR_PHONE]),
)
@settings(max_examples=60, deadline=None)
def test_every_row_is_accounted_for_against_a_store_too(people, policy, rule):
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(
            Lead(
                id="OLD",
                first_name="Ann",
                last_name="Ng",
                company="Acme",
                email=EmailAddress.parse("ann@acme.io"),
                phone=PhoneNumber.parse(SWITCHBOARD),
            )
        )
        uow.commit()
    rows = [
        row(**{"First Name": f, "Last Name": last, "Email": e, "Phone": p})
        for f, last, e, p in people
    ]
    with uow:
        outcomes, report = run(rows, existing=uow.leads, on_duplicate=policy, rule=rule)
    assert len(outcomes) == report.rows == len(rows)
    assert sum(
        getattr(report, s) for s in ("created", "updated", "merged", "skipped", "rejected")
    ) == (report.rows)


@given(st.lists(NAMED_PEOPLE.filter(lambda p: p[2] != ""), min_size=1, max_size=8))
@settings(max_examples=40, deadline=None)
def test_importing_a_file_again_creates_nothing(people):
    rows = [
        row(**{"First Name": f, "Last Name": last, "Email": e, "Phone": p})
        for f, last, e, p in people
    ]
    uow = MemoryUnitOfWork()
    uow.index_rules([STANDARD_LEAD_RULE])  # stored leads are found by the rule's keys too
    with uow:
        for outcome in import_leads(
            rows, ColumnMapping.guess(HEADER), ids=SequentialIds(), now=NOW, existing=uow.leads
        ):
            if outcome.status == "created":
                uow.leads.add(outcome.lead)
        uow.commit()
    with uow:
        again, report = run(rows, existing=uow.leads)
    assert report.created == 0
    assert {o.status for o in again} == {"skipped"}


NAME_WORDS = st.sampled_from(["Ann", "Robert", "Mary", "Lee", "Okafor", "Smith", "Zoë"])


@given(
    st.tuples(
        st.sampled_from(["", "Dr.", "Mr.", "Prof.", "Ms."]),
        NAME_WORDS,
        st.sampled_from(["", "Ann", "Q."]),
        NAME_WORDS,
        st.sampled_from(["", "Jr.", "III", "PhD"]),
        st.sampled_from(["", "'Bob'", "(Bobby)"]),
    )
)
def test_no_part_of_a_full_name_is_dropped(parts):
    salutation, first, middle, last, suffix, nickname = parts
    full = " ".join(p for p in (salutation, first, nickname, middle, last, suffix) if p)
    [outcome], _ = run([{"Full Name": full, "Company": "Acme"}], NAME_MAPPING)
    lead = outcome.lead
    kept = " ".join(
        str(v) for v in (lead.first_name, lead.last_name, *lead.custom.values()) if v is not None
    )
    for part in (salutation, first, middle, last, suffix, nickname.strip("'()")):
        assert part in kept


@given(
    st.lists(st.sampled_from(["Email", "Email (2)", "Name", ""]), min_size=1, max_size=5),
    st.lists(
        st.lists(st.sampled_from(["", "x", "a@b.io", "Ng, Ann", 'q"q']), max_size=8),
        max_size=4,
    ),
)
@settings(max_examples=80, deadline=None)
def test_read_csv_keeps_every_cell(tmp_path_factory, header, body):
    path = tmp_path_factory.mktemp("csv") / "any.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(cells for cells in body if cells)
    read_header, rows = read_csv(path)
    assert len(read_header) == len(set(read_header)) == len(header)
    for cells, read in zip([c for c in body if c], rows, strict=True):
        assert list(read.values()) == cells


def test_a_file_of_switchboard_companies_keeps_every_person():
    # The reported file: most rows reach their company through one shared phone. Under
    # phone-alone matching, nine rows in ten were skipped; every person is kept now.
    syllables = [c + v for c in "bdgklmnprstvz" for v in "aeiou"]

    def made_up(seed):  # unrelated made-up names (digits would all normalise alike)
        digest = hashlib.blake2b(str(seed).encode(), digest_size=4).digest()
        return "".join(syllables[b % len(syllables)] for b in digest[:3])

    rows = [
        row(
            **{
                "First Name": made_up(f"first {i}").capitalize(),
                "Last Name": made_up(f"last {i}").capitalize(),
                "Email": f"p{i}@company{i % 10}.example",
                "Phone": f"+1 212 555 {i % 10:04d}",
                "Company": f"Company {'abcdefghij'[i % 10]}",
            }
        )
        for i in range(600)
    ]
    _, report = run(rows, on_duplicate="skip")
    assert (report.created, report.skipped) == (600, 0)
    _, by_keys = run(rows, on_duplicate="skip", rule=EXACT_EMAIL_OR_PHONE)
    assert (by_keys.created, by_keys.skipped) == (10, 590)  # what phone-alone matching did
