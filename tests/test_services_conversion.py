"""services.convert_lead: one unit of work, all or nothing, notifications after the commit."""

from datetime import UTC, datetime

import pytest

from leadmodel import (
    STANDARD_ACCOUNT_RULE,
    Account,
    Activity,
    AlreadyConverted,
    Contact,
    ConvertOptions,
    EmailAddress,
    InvalidConvertOptions,
    Lead,
    PhoneNumber,
    RecordNotFound,
    ValidationError,
)
from leadmodel.adapters.memory import (
    MemoryNotifier,
    MemoryRepository,
    MemoryStore,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.ports import lookup_keys
from leadmodel.services import ConversionOutcome, convert_lead

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STATUS = "Closed - Converted"
LEAD = Lead(
    id="L1",
    first_name="Ada",
    last_name="Lovelace",
    company="Analytical Engines",
    email=EmailAddress.parse("ada@engines.example"),
    phone=PhoneNumber.parse("+442071234567"),
    owner_id="U1",
)


def store_with(*records, keys=lookup_keys) -> MemoryStore:
    store = MemoryStore(keys=keys)
    with MemoryUnitOfWork(store) as uow:
        for record in records:
            {
                Lead: uow.leads,
                Contact: uow.contacts,
                Account: uow.accounts,
                Activity: uow.activities,
            }[type(record)].add(record)
        uow.commit()
    return store


def snapshot(store: MemoryStore) -> dict[str, dict]:
    return {kind: dict(table.records) for kind, table in store.tables.items()}


def run(store, options=None, **kwargs) -> ConversionOutcome:
    return convert_lead(
        MemoryUnitOfWork(store),
        "L1",
        options or ConvertOptions(STATUS),
        ids=SequentialIds(),
        now=NOW,
        **kwargs,
    )


def test_the_service_saves_every_record_and_moves_activities():
    call = Activity(id="ACT1", subject_id="L1", kind="call", occurred_at=NOW)
    store = store_with(LEAD, call)
    outcome = run(store)
    result = outcome.result
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get("L1") == result.lead
        assert uow.leads.get("L1").is_converted
        assert uow.accounts.get(result.account.id) == result.account
        assert uow.contacts.get(result.contact.id) == result.contact
        assert uow.opportunities.get(result.opportunity.id) == result.opportunity
        assert uow.activities.get("ACT1").subject_id == result.contact.id


class FailingOpportunities(MemoryRepository):
    def add(self, record):
        super().add(record)
        raise RuntimeError("disk full while saving the opportunity")


def test_a_failure_while_saving_the_opportunity_leaves_storage_as_it_was():
    store = store_with(LEAD, Activity(id="ACT1", subject_id="L1", kind="call", occurred_at=NOW))
    before = snapshot(store)
    uow = MemoryUnitOfWork(store)
    uow.opportunities = FailingOpportunities(store, "opportunity")
    with pytest.raises(RuntimeError, match="disk full"):
        convert_lead(uow, "L1", ConvertOptions(STATUS), ids=SequentialIds(), now=NOW)
    assert snapshot(store) == before


def test_an_invalid_conversion_saves_nothing():
    store = store_with(LEAD)
    before = snapshot(store)
    with pytest.raises(InvalidConvertOptions):
        run(store, ConvertOptions("Working - Contacted"))
    with pytest.raises(RecordNotFound):
        run(store, ConvertOptions(STATUS, account_id="A404"))
    assert snapshot(store) == before


def test_a_lead_converts_once_and_a_missing_lead_is_not_found():
    store = store_with(LEAD)
    run(store)
    with pytest.raises(AlreadyConverted):
        run(store)
    with pytest.raises(RecordNotFound):
        convert_lead(
            MemoryUnitOfWork(store), "L404", ConvertOptions(STATUS), ids=SequentialIds(), now=NOW
        )


def test_existing_records_named_in_the_options_are_filled():
    acme = Account(id="A1", name="Analytical Engines Ltd")
    ada = Contact(id="C1", last_name="Lovelace", account_id="A1")
    store = store_with(LEAD, acme, ada)
    outcome = run(store, ConvertOptions(STATUS, account_id="A1", contact_id="C1"))
    assert outcome.result.created == ("opportunity",)
    with MemoryUnitOfWork(store) as uow:
        assert uow.contacts.get("C1").email == LEAD.email
        assert uow.accounts.get("A1").name == "Analytical Engines Ltd"
        assert uow.accounts.get("A1").phone == LEAD.phone


def test_matching_finds_the_existing_contact_and_its_account():
    acme = Account(id="A1", name="Analytical Engines")
    ada = Contact(
        id="C1",
        first_name="Ada",
        last_name="Lovelace",
        account_id="A1",
        email=EmailAddress.parse("ADA@engines.example"),
    )
    store = store_with(LEAD, acme, ada)
    outcome = run(store, match_existing=True)
    assert outcome.result.contact.id == "C1"
    assert outcome.result.account.id == "A1"
    assert outcome.contact_match.b_id == "C1"
    assert outcome.contact_match.result.is_match
    assert outcome.result.created == ("opportunity",)


def test_matching_finds_an_account_by_company_when_the_adapter_indexes_its_keys():
    rule = STANDARD_ACCOUNT_RULE.compile()

    def keys(record):
        return (*lookup_keys(record), *rule.keys(record))

    acme = Account(
        id="A1", name="Analytical Engines Ltd.", phone=PhoneNumber.parse("+442071234567")
    )
    store = store_with(LEAD, acme, keys=keys)
    outcome = run(store, match_existing=True)
    assert outcome.result.account.id == "A1"
    assert outcome.account_match.b_id == "A1"
    assert outcome.result.created == ("contact", "opportunity")


def test_without_matches_new_records_are_made():
    store = store_with(LEAD, Account(id="A1", name="Umbrella"))
    outcome = run(store, match_existing=True)
    assert outcome.result.created == ("account", "contact", "opportunity")
    assert outcome.account_match is None
    assert outcome.contact_match is None


def test_the_owner_is_notified_after_the_commit():
    notifier = MemoryNotifier()
    store = store_with(LEAD)
    outcome = run(store, ConvertOptions(STATUS, notify_owner=True), notifier=notifier)
    assert [n.recipient for n in notifier.sent] == ["U1"]
    assert outcome.sent == tuple(notifier.sent)
    assert outcome.failed == ()


class BrokenNotifier:
    def send(self, notification):
        raise ConnectionError(f"smtp down ({notification.recipient})")


def test_a_failing_notifier_is_reported_and_the_conversion_stays_saved():
    store = store_with(LEAD)
    outcome = run(store, ConvertOptions(STATUS, notify_owner=True), notifier=BrokenNotifier())
    assert outcome.sent == ()
    ((notification, error),) = outcome.failed
    assert notification.template == "lead_converted"
    assert error == "ConnectionError: smtp down (U1)"
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get("L1").is_converted


def test_bad_arguments_are_validation_errors():
    store = store_with(LEAD)
    with pytest.raises(ValidationError):
        run(store, ConvertOptions(STATUS, notify_owner=True))
    with pytest.raises(ValidationError):
        convert_lead(
            MemoryUnitOfWork(store), "L1", {"status": STATUS}, ids=SequentialIds(), now=NOW
        )
    with pytest.raises(ValidationError):
        run(store, rules=("standard",))
    with pytest.raises(ValidationError):
        convert_lead(
            MemoryUnitOfWork(store), 42, ConvertOptions(STATUS), ids=SequentialIds(), now=NOW
        )


def test_with_an_account_named_only_its_contacts_are_matched():
    acme = Account(id="A1", name="Analytical Engines")
    other = Account(id="A2", name="Other")
    email = EmailAddress.parse("ada@engines.example")
    in_acme = Contact(id="C1", first_name="Ada", last_name="Lovelace", account_id="A1", email=email)
    in_other = Contact(
        id="C2", first_name="Ada", last_name="Lovelace", account_id="A2", email=email
    )
    store = store_with(LEAD, acme, other, in_acme, in_other)
    outcome = run(store, ConvertOptions(STATUS, account_id="A2"), match_existing=True)
    assert outcome.result.contact.id == "C2"
    assert outcome.result.account.id == "A2"
    assert outcome.contact_match.b_id == "C2"


def test_the_service_returns_events_for_the_host_to_publish():
    from leadmodel import LeadConverted, StatusChanged

    outcome = run(store_with(LEAD))
    converted, status = outcome.events
    assert isinstance(converted, LeadConverted)
    assert (converted.lead_id, converted.account_id, converted.contact_id) == (
        "L1",
        outcome.result.account.id,
        outcome.result.contact.id,
    )
    assert isinstance(status, StatusChanged)
    assert (status.previous, status.current) == (LEAD.status, STATUS)
