"""Issue 15, "What was seen": each hostile input found by hand, as a regression test.

Inputs that used to hang run in a subprocess with a time limit (``decimal`` and ``csv``
are C code, which an in-process timeout cannot interrupt).
"""

import csv
import io
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import leadmodel
from leadmodel import (
    All,
    ColumnMapping,
    Condition,
    EmailAddress,
    FormErrors,
    FormSpec,
    InvalidValue,
    Lead,
    ListView,
    Not,
    ValidationError,
    export_csv,
    from_json,
    import_leads,
    merge,
    parse_web_form,
    read_csv,
    to_json,
)
from leadmodel.domain import _numbers
from leadmodel.rules.criteria import MAX_DEPTH
from leadmodel.rules.predictive import LogisticModel, Weight

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HUGE_NUMBERS = ["1e999999", "1E+9999999", "9" * 5000, "-1e400", "0.5e31"]


def ids(kind):
    return "L1"


def bounded(code, seconds=10):
    """Run *code* in a fresh interpreter; fail if it takes longer than *seconds*."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"took over {seconds} s")
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- bounded numbers -------------------------------------------------------------------


@pytest.mark.parametrize("number", HUGE_NUMBERS)
def test_a_huge_number_in_a_form_is_refused_quickly(number):
    out = bounded(f"""
        from datetime import UTC, datetime
        from leadmodel import LEAD_SCHEMA, FieldDef, FieldType, FormSpec, parse_web_form
        spec = FormSpec(
            schema=LEAD_SCHEMA.with_custom(FieldDef("visits", FieldType.NUMBER))
        ).with_custom({{"visits": "custom.visits"}})
        form = {{"last_name": "Ng", "employees": {number!r}, "visits": {number!r}}}
        got = parse_web_form(form, spec, ids=str, now=datetime(2026, 1, 1, tzinfo=UTC))
        print(sorted((e.path, e.code) for e in got.errors))
    """)
    assert "('employees'," in out
    assert "('custom.visits'," in out


@pytest.mark.parametrize("number", HUGE_NUMBERS)
def test_a_huge_number_in_an_import_cell_is_refused_quickly(number):
    out = bounded(f"""
        from datetime import UTC, datetime
        from leadmodel import LEAD_SCHEMA, ColumnMapping, FieldDef, FieldType, import_leads
        mapping = ColumnMapping(
            [("n", "last_name"), ("e", "employees"), ("r", "annual_revenue"),
             ("v", "custom.visits")],
            schema=LEAD_SCHEMA.with_custom(FieldDef("visits", FieldType.NUMBER)),
        )
        row = {{"n": "Ng", "e": {number!r}, "r": {number!r}, "v": {number!r}}}
        [outcome] = import_leads([row], mapping, ids=str, now=datetime(2026, 1, 1, tzinfo=UTC))
        print(outcome.status, sorted(e.path for e in outcome.errors))
    """)
    assert out.split()[0] == "rejected"
    assert "'employees'" in out
    assert "'annual_revenue'" in out
    assert "'custom.visits'" in out


def test_the_number_limit_is_a_documented_error_saying_what_was_expected():
    with pytest.raises(InvalidValue) as caught:
        _numbers.parse_number("1e999999")
    assert caught.value.errors[0].code == "too_large"
    assert "expected a number below 10^30" in str(caught.value)
    assert "'1e999999'" in str(caught.value)


@pytest.mark.parametrize("value", ["²", "①", "¹²³", "١٢"])
def test_digits_that_are_not_ascii_are_not_employees(value):
    got = parse_web_form({"last_name": "Ng", "employees": value}, FormSpec(), ids=ids, now=NOW)
    assert isinstance(got, FormErrors)
    assert got.fields == ("employees",)
    assert "expected a number" in got.errors[0].message
    assert repr(value) in got.errors[0].message


def test_a_bad_number_and_date_say_the_value_and_what_was_expected():
    mapping = ColumnMapping([("n", "last_name"), ("e", "employees"), ("c", "created_at")])
    [outcome] = import_leads(
        [{"n": "Ng", "e": "twelve", "c": "13/13/2026"}], mapping, ids=ids, now=NOW
    )
    messages = {e.path: e.message for e in outcome.errors}
    assert messages["employees"] == "expected a number such as 1200 or 1,200.50 (got 'twelve')"
    assert messages["created_at"].startswith("expected a date such as 2026-03-31")
    assert "'13/13/2026'" in messages["created_at"]
    assert "ConversionSyntax" not in str(messages)


# -- read_csv ---------------------------------------------------------------------------


def test_read_csv_sniffs_a_huge_quoted_header_in_linear_time(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(',"' * 32_768 + "\n", encoding="utf-8")
    bounded(
        f"""
        from leadmodel import LeadModelError, read_csv
        try:
            read_csv({str(path)!r})
        except LeadModelError:
            pass
    """,
        seconds=5,
    )


def test_a_cell_over_the_csv_limit_is_a_rejected_row_and_later_rows_count(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("n,c\nNg,A\nIto," + "y" * 140_000 + "\nRo,C\n", encoding="utf-8")
    _header, rows = read_csv(path)
    mapping = ColumnMapping([("n", "last_name"), ("c", "company")])
    run = import_leads(rows, mapping, ids=ids, now=NOW, on_duplicate="create")
    outcomes = [(o.line, o.status) for o in run]
    assert outcomes == [(2, "created"), (3, "rejected"), (4, "created")]
    assert run.report.rows == 3
    assert run.report.rejected == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [(bytes(range(256)), "not_csv"), (b'[{"last_name": "Ng"}]', "not_csv")],
)
def test_read_csv_refuses_binary_and_json_files(tmp_path, content, code):
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        read_csv(path)
    assert caught.value.errors[0].code == code


# -- raw exceptions ----------------------------------------------------------------------


def test_merge_strategy_must_be_a_mapping_of_survivorships():
    a = Lead(id="a", last_name="A", company="X")
    b = Lead(id="b", last_name="B", company="X")
    with pytest.raises(ValidationError) as caught:
        merge([a, b], strategy="oldest")
    assert caught.value.errors[0].path == "strategy"
    with pytest.raises(ValidationError) as caught:
        merge([a, b], strategy={"email": "oldest"})
    assert caught.value.errors[0].path == "strategy.email"
    assert "oldest" in caught.value.errors[0].message
    with pytest.raises(ValidationError) as caught:
        merge([a, b], strategy={"emial": "oldest"})
    assert caught.value.errors[0].code == "unknown_field"


def test_a_condition_operator_in_a_list_is_an_unknown_operator():
    with pytest.raises(ValidationError) as caught:
        Condition("source", ["eq"], "Web")
    assert caught.value.errors[0].code == "unknown_operator"


def test_export_csv_accepts_a_path(tmp_path):
    path = tmp_path / "out.csv"
    assert export_csv([Lead(id="a", last_name="Ng", company="X")], ["last_name"], str(path)) == 1
    assert export_csv([], ["last_name"], path) == 0
    with pytest.raises(ValidationError):
        export_csv([], ["last_name"], 42)
    with pytest.raises(ValidationError):
        export_csv([], ["last_name"], tmp_path / "no-such-dir" / "out.csv")


@pytest.mark.parametrize("target", ["compny", "address.floor", "id", "custom.", "converted"])
def test_a_column_mapping_target_is_checked_when_built(target):
    with pytest.raises(ValidationError) as caught:
        ColumnMapping([("Company", target)])
    message = caught.value.errors[0].message
    assert caught.value.errors[0].code == "unknown_target"
    assert "targets are first_name, last_name, company" in message
    assert "custom.<name>" in message


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_json_refuses_non_finite_criteria_values(value):
    text = to_json(Condition("employees", "gt", Decimal(5))).replace('"5"', f'"{value}"')
    assert value in text
    with pytest.raises(ValidationError):
        from_json(Condition, text)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_from_json_refuses_non_finite_predictive_weights(value):
    model = LogisticModel(["source"], [Weight("source", "Web", 0.5)], intercept=0.25)
    text = to_json(model)
    for number in ("0.5", "0.25"):
        with pytest.raises(ValidationError):
            from_json(LogisticModel, text.replace(number, value, 1))
    with pytest.raises(ValidationError):
        Weight("source", "", 1.0, 0.0, 0.0)  # a zero scale divides by zero


def test_criteria_depth_is_limited_when_built():
    criterion = Condition("source", "eq", "Web")
    for _ in range(MAX_DEPTH - 1):
        criterion = Not(criterion)
    with pytest.raises(ValidationError) as caught:
        Not(criterion)
    assert caught.value.errors[0].code == "too_deep"
    with pytest.raises(ValidationError):
        All([criterion, Condition("source", "eq", "Fair")])
    deep = '{"kind": "not", "item": ' * 500 + to_json(Condition("source", "eq", "Web")) + "}" * 500
    with pytest.raises(ValidationError):
        from_json(Not, deep)


@pytest.mark.parametrize(
    "cell", [float("nan"), float("inf"), b"Acme", bytearray(b"Acme"), Decimal("sNaN"), object()]
)
def test_a_cell_that_is_not_text_is_refused_explicitly(cell):
    mapping = ColumnMapping([("n", "last_name"), ("c", "company")])
    [outcome] = import_leads([{"n": "Ng", "c": cell}], mapping, ids=ids, now=NOW)
    assert outcome.status == "rejected"
    assert outcome.errors[0].path == "company"
    assert outcome.errors[0].code == "type"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(12, 12), (12.0, 12), (Decimal("1E+3"), 1000), (Decimal("1.50"), None)],
)
def test_a_number_cell_is_converted_explicitly(cell, expected):
    mapping = ColumnMapping([("n", "last_name"), ("e", "employees")])
    [outcome] = import_leads([{"n": "Ng", "e": cell}], mapping, ids=ids, now=NOW)
    if expected is None:
        assert outcome.errors[0].code == "not_whole"
    else:
        assert outcome.lead.employees == expected


@pytest.mark.parametrize(
    "text",
    [
        '"A" <a@example.com>, "B" <b@example.com>',
        '"A" <a@example.com>, b@example.com',
        "A <a@example.com>, B <b@example.com>",
        "a@example.com, b@example.com",
    ],
)
def test_two_email_addresses_are_refused_quoted_or_not(text):
    with pytest.raises(InvalidValue) as caught:
        EmailAddress.parse(text)
    assert caught.value.errors[0].code == "multiple"


def test_a_quoted_display_name_may_hold_commas_and_escaped_quotes():
    email = EmailAddress.parse(r'"Ng, \"Al\"" <al@example.com>')
    assert email.display_name == 'Ng, "Al"'


@pytest.mark.parametrize("column", ["nope", "address.floor", "custom", "email.nope"])
def test_a_list_view_refuses_unknown_columns(column):
    with pytest.raises(ValidationError) as caught:
        ListView("v", columns=[column])
    assert caught.value.errors[0].code == "unknown_field"


def test_a_list_view_takes_fields_parts_and_custom_fields():
    view = ListView("v", columns=["last_name", "address.city", "email.domain", "custom.x", "stage"])
    assert len(view.columns) == 5


# -- injection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "Ng;=cmd|' /C calc'!A0",
        "Ng,=cmd",
        "Ng\t=cmd",
        "Ng|=cmd",
        "Ng; =cmd",
        "Ng;+cmd",
        "Ng;-cmd",
        "Ng;@SUM(A1)",
        "＝1+1",
        "Ng;＋cmd",
        "－1",
        "＠SUM(A1)",
        " =1+1",
        "\t=1",
    ],
)
def test_export_neutralises_a_formula_after_any_separator(value):
    out = io.StringIO()
    export_csv([{"last_name": value}], ["last_name"], out)
    _header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[0] == "'" + value
    # Every cell is quoted, so a spreadsheet splitting on ; | or tab keeps it whole.
    assert out.getvalue().split("\r\n")[1].startswith("\"'")


def test_export_neutralises_header_cells():
    out = io.StringIO()
    export_csv([{}], ["=cmd|' /C calc'!A0"], out)
    header = next(csv.reader(io.StringIO(out.getvalue())))
    assert header[0] == "'=cmd|' /C calc'!A0"


# -- found by the fuzz harness ------------------------------------------------------------


def test_a_money_amount_is_below_ten_to_the_thirty():
    text = '{"amount": "1E+9999999", "currency": "USD"}'
    with pytest.raises(ValidationError) as caught:
        from_json(leadmodel.Money, text)
    assert caught.value.errors[0].code == "too_large"


@pytest.mark.parametrize("value", [5, {}, [], b"x"])
def test_normalisers_refuse_what_is_not_text(value):
    from leadmodel.rules import normalize

    for function in (
        normalize.normalize_text,
        normalize.normalize_company,
        normalize.phone_sections,
    ):
        with pytest.raises(ValidationError):
            function(value)


def test_to_json_of_a_value_without_a_json_form_is_a_validation_error():
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    object.__setattr__(lead, "first_name", object())  # around the checks, as a bug might
    with pytest.raises(ValidationError) as caught:
        to_json(lead)
    assert caught.value.errors[0].code == "unserializable"


def test_all_of_a_single_criterion_is_a_validation_error():
    with pytest.raises(ValidationError):
        All(Condition("source", "eq", "Web"))
    with pytest.raises(ValidationError):
        Not(Condition("source", "eq", "Web"), kind="all")


def test_export_of_a_lone_surrogate_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationError) as caught:
        export_csv([{"last_name": "\ud800"}], ["last_name"], tmp_path / "out.csv")
    assert caught.value.errors[0].code == "surrogate"


@pytest.mark.parametrize("path", ["out\x00.csv", "out\udfff.csv"])
def test_export_csv_to_a_path_no_file_can_have_is_a_validation_error(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError) as caught:
        leadmodel.export_csv([], ["last_name"], path)
    assert caught.value.errors[0].code == "unwritable"


@pytest.mark.parametrize("tolerance", [[1e-7], float("nan"), -1.0, 2, True, "1e-7"])
def test_estimate_weights_checks_its_tolerance(tolerance):
    from leadmodel import STANDARD_LEAD_RULE, estimate_weights

    with pytest.raises(ValidationError, match="tolerance"):
        estimate_weights([], STANDARD_LEAD_RULE, tolerance=tolerance)
