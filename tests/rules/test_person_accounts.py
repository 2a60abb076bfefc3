"""Person accounts: an ``is_person`` lead converts into an account that is the person.

Salesforce: a lead for a person converts into a *person account* (named after the person)
with its contact, and the opportunity points at that account. Old accounts (JSON and
SQLite rows without ``is_person``) load as business accounts.
"""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    ACCOUNT_SCHEMA,
    DEFAULT_LEAD_MAPPING,
    Account,
    Address,
    Contact,
    ConvertOptions,
    EmailAddress,
    ExistingRecords,
    FieldChange,
    Lead,
    MappingEntry,
    MappingError,
    PhoneNumber,
    UnmappedValue,
    convert_lead,
    convert_leads,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteUnitOfWork
from leadmodel.rules.mapping import SYSTEM_SOURCES
from leadmodel.services import convert_lead as convert_stored
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATER = datetime(2041, 1, 1, tzinfo=UTC)  # after every generated timestamp
STATUS = "Closed - Converted"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def soren(**changes) -> Lead:
    fields = {
        "id": "L7",
        "first_name": "Søren",
        "last_name": "Kierkegaard",
        "is_person": True,
        "email": EmailAddress.parse("soren@example.dk"),
        "phone": PhoneNumber.parse("+4533123456"),
        "mobile": PhoneNumber.parse("+4520123456"),
        "title": "Philosopher",
        "address": Address(street="Nytorv 2", city="København", country="DK"),
        "rating": "Warm",
        "source": "Web",
        "owner_id": "U1",
        "created_at": NOW - timedelta(days=1),
    }
    fields.update(changes)
    return Lead(**fields)


def convert(lead, options=None, **kwargs):
    return convert_lead(
        lead, options or ConvertOptions(STATUS), ids=SequentialIds(), now=NOW, **kwargs
    )


def test_a_person_lead_converts_into_a_person_account_with_its_contact():
    result = convert(soren())
    account, contact, opportunity = result.account, result.contact, result.opportunity
    assert result.created == ("account", "contact", "opportunity")
    assert account.is_person
    assert account.name == "Søren Kierkegaard"
    assert contact.account_id == account.id
    assert (opportunity.account_id, opportunity.contact_id) == (account.id, contact.id)
    assert result.lead.converted.account_id == account.id


def test_the_person_account_keeps_the_account_fields_and_the_contact_the_person_fields():
    result = convert(soren())
    account, contact = result.account, result.contact
    assert account.billing_address == contact.mailing_address == soren().address
    assert account.phone == contact.phone == soren().phone
    assert (account.rating, account.owner_id) == ("Warm", "U1")
    assert (str(contact.email), contact.title) == ("soren@example.dk", "Philosopher")
    assert contact.mobile == soren().mobile


def test_the_person_account_name_and_flag_are_reported_changes():
    result = convert(soren())
    assert result.change("account", "name") == FieldChange(
        "account", "name", None, "Søren Kierkegaard", "conversion"
    )
    assert result.change("account", "is_person") == FieldChange(
        "account", "is_person", None, True, "is_person"
    )


def test_a_person_lead_with_a_company_keeps_it_in_the_opportunity_name():
    result = convert(soren(company="Regensen"))
    assert result.account.name == "Søren Kierkegaard"
    assert result.opportunity.name == "Regensen"
    assert all(u.field != "company" for u in result.unmapped)


def test_a_company_no_record_receives_is_reported_unmapped():
    result = convert(soren(company="Regensen"), ConvertOptions(STATUS, create_opportunity=False))
    assert result.account.is_person
    assert UnmappedValue("company", "Regensen", "no_target") in result.unmapped


def test_person_account_false_keeps_the_contact_alone():
    result = convert(soren(), ConvertOptions(STATUS, person_account=False))
    assert result.account is None
    assert result.contact.account_id is None
    assert result.opportunity.account_id is None


def test_an_existing_account_takes_the_person_instead_of_a_new_person_account():
    household = Account(id="A1", name="Kierkegaard household")
    result = convert(
        soren(),
        ConvertOptions(STATUS, account_id="A1"),
        existing=ExistingRecords(account=household),
    )
    assert result.account.id == "A1"
    assert not result.account.is_person
    assert "account" not in result.created


def test_a_business_lead_never_makes_a_person_account():
    result = convert(soren(is_person=False, company="Regensen"))
    assert not result.account.is_person
    assert result.account.name == "Regensen"


def test_person_leads_never_share_a_company_account_in_bulk():
    options = ConvertOptions(STATUS, create_opportunity=False)
    batch = convert_leads(
        [
            (soren(id="L1", company="Regensen"), options),
            (soren(id="L2", company="Regensen", first_name="Peter"), options),
        ],
        ids=SequentialIds(),
        now=NOW,
    )
    accounts = [r.account for r in batch.results]
    assert [a.is_person for a in accounts] == [True, True]
    assert accounts[0].id != accounts[1].id


def test_the_stored_conversion_saves_the_person_account():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(soren())
        uow.commit()
    outcome = convert_stored(uow, "L7", ConvertOptions(STATUS), ids=SequentialIds(), now=NOW)
    with uow:
        lead = uow.leads.get("L7")
        account = uow.accounts.get(lead.converted.account_id)
        contact = uow.contacts.get(lead.converted.contact_id)
        opportunity = uow.opportunities.get(lead.converted.opportunity_id)
    assert outcome.result.account == account
    assert account.is_person
    assert contact.account_id == opportunity.account_id == account.id


def test_old_account_json_without_is_person_loads_as_a_business_account():
    text = (FIXTURES / "release-5ff17be" / "account.json").read_text(encoding="utf-8")
    assert "is_person" not in json.loads(text)
    account = from_json(Account, text)
    assert account.is_person is False
    assert from_json(Account, to_json(account)) == account


def test_old_sqlite_account_rows_load_as_business_accounts(tmp_path):
    copy = tmp_path / "release.db"
    shutil.copyfile(FIXTURES / "release-5ff17be.db", copy)
    with SQLiteUnitOfWork(copy) as uow:
        accounts = list(uow.accounts)
        assert accounts
        assert not any(a.is_person for a in accounts)
        person = attrs.evolve(accounts[0], id="A-person", name="Søren Kierkegaard", is_person=True)
        uow.accounts.add(person)
        uow.commit()
    with SQLiteUnitOfWork(copy) as uow:
        assert uow.accounts.get("A-person") == person


def test_only_conversion_sets_is_person():
    # Not in the account schema, so no mapping entry can write it, and mappings stored
    # with the previous schema load unchanged.
    assert "is_person" not in ACCOUNT_SCHEMA.paths
    with pytest.raises(MappingError):
        DEFAULT_LEAD_MAPPING.extend(MappingEntry("do_not_call", "account", "is_person"))


@given(st.data())
def test_a_person_lead_always_becomes_a_person_account_and_loses_nothing(data):
    lead = data.draw(lst.leads(converted=st.just(False)))
    lead = attrs.evolve(lead, is_person=True, owner_is_queue=False)
    options = ConvertOptions(STATUS, create_opportunity=data.draw(st.booleans()))
    result = convert_lead(lead, options, ids=SequentialIds(), now=LATER)
    account, contact, opportunity = result.account, result.contact, result.opportunity
    assert account.is_person
    assert account.name == lead.name
    assert contact.account_id == account.id
    if opportunity is not None:
        assert opportunity.account_id == account.id
    # Nothing lost: every non-blank lead value was written, skipped or reported unmapped.
    sources = {c.source for c in result.changes} | {s.source for s in result.skipped}
    unmapped = {u.field for u in result.unmapped}
    for field in attrs.fields(Lead):
        name = field.name
        if name in SYSTEM_SOURCES or name in {"custom", "converted"}:
            continue
        value = getattr(lead, name)
        if value is None or value is False or value == frozenset():
            continue
        assert name in sources or name in unmapped, name
    assert {f"custom.{key}" for key in lead.custom} <= unmapped | sources


@given(lst.accounts())
def test_accounts_of_either_kind_round_trip_through_json(account):
    assert from_json(Account, to_json(account)) == account


def test_a_contact_of_a_person_account_is_an_ordinary_contact():
    result = convert(soren())
    assert isinstance(result.contact, Contact)
    assert result.contact.last_name == "Kierkegaard"


def test_the_cli_converts_an_imported_person_lead_into_a_person_account(tmp_path):
    (tmp_path / "people.csv").write_text(
        "First Name,Last Name,Email\nSøren,Kierkegaard,soren@example.dk\n", encoding="utf-8"
    )
    command = [sys.executable, "-m", "leadmodel"]
    imported = subprocess.run(
        [*command, "import", "people.csv"], cwd=tmp_path, capture_output=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    with SQLiteUnitOfWork(tmp_path / "leadmodel.db") as uow:
        (lead,) = list(uow.leads)
    assert lead.is_person
    converted = subprocess.run(
        [*command, "convert", lead.id], cwd=tmp_path, capture_output=True, check=False
    )
    assert converted.returncode == 0, converted.stderr
    with SQLiteUnitOfWork(tmp_path / "leadmodel.db") as uow:
        record = uow.leads.get(lead.id).converted
        account = uow.accounts.get(record.account_id)
        assert account.is_person
        assert account.name == "Søren Kierkegaard"
        assert uow.opportunities.get(record.opportunity_id).account_id == account.id
