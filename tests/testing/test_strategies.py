import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Address,
    ConvertOptions,
    EmailAddress,
    Lead,
    Money,
    PhoneNumber,
    from_json,
    to_json,
)
from leadmodel.testing import strategies as lst


@given(lst.names())
def test_names_are_non_blank_and_short(name):
    assert name.strip()
    assert len(name) <= 40


@given(lst.leads())
def test_leads_cover_non_ascii_and_conversion(lead):
    assert isinstance(lead, Lead)
    if lead.converted is not None:
        assert lead.status == lead.converted.status


def test_strategies_reach_non_ascii_names_and_emails():
    found = {"name": False, "email": False}

    @given(lst.leads())
    def look(lead):
        if not lead.last_name.isascii():
            found["name"] = True
        if lead.email is not None and not lead.email.local.isascii():
            found["email"] = True

    look()
    assert found == {"name": True, "email": True}


def test_entry_point_registers_from_type():
    # A fresh interpreter: hypothesis loads the entry point when it is imported.
    code = (
        "from hypothesis import strategies as st\n"
        "from leadmodel import Lead, EmailAddress\n"
        "print(type(st.from_type(Lead).example()).__name__,"
        " type(st.from_type(EmailAddress).example()).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["Lead", "EmailAddress"]


@given(st.data())
def test_registered_types_draw_valid_values(data):
    lst.register_type_strategies()
    for cls in (EmailAddress, PhoneNumber, Money, Address):
        assert isinstance(data.draw(st.from_type(cls)), cls)


@given(st.from_type(ConvertOptions))
def test_convert_options_are_valid_and_registered(options):
    assert isinstance(options, ConvertOptions)
    assert from_json(ConvertOptions, to_json(options)) == options


@given(lst.convert_options(into_existing=st.just(True)))
def test_convert_options_into_existing_records_name_an_account(options):
    assert options.account_id == "A-1"
