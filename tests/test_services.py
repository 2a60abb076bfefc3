import pytest

from leadmodel import (
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    Account,
    Contact,
    DuplicateAction,
    DuplicateBlocked,
    DuplicatePolicy,
    EmailAddress,
    Lead,
    ValidationError,
    update,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.services import save

ANN = Lead(
    id="L1",
    first_name="Ann",
    last_name="Lee",
    company="Acme",
    email=EmailAddress.parse("ann@acme.com"),
)
ANNE = Lead(
    id="L2",
    first_name="Anne",
    last_name="Lee",
    company="Acme Inc",
    email=EmailAddress.parse("ANN@acme.com"),
)
BLOCK = DuplicatePolicy(
    "leads",
    [STANDARD_LEAD_RULE, STANDARD_CONTACT_RULE],
    on_create=DuplicateAction.BLOCK,
    on_edit=DuplicateAction.BLOCK,
)


def stored_ids(store):
    with MemoryUnitOfWork(store) as uow:
        return [lead.id for lead in uow.leads]


def test_a_blocked_save_raises_and_writes_nothing():
    store = MemoryStore()
    save(MemoryUnitOfWork(store), ANN, policy=BLOCK)
    with pytest.raises(DuplicateBlocked):
        save(MemoryUnitOfWork(store), ANNE, policy=BLOCK)
    assert stored_ids(store) == ["L1"]


def test_allow_save_overrides_a_block():
    store = MemoryStore()
    save(MemoryUnitOfWork(store), ANN, policy=BLOCK)
    check = save(MemoryUnitOfWork(store), ANNE, policy=BLOCK, allow_save=True)
    assert check is not None
    assert check.overridden
    assert stored_ids(store) == ["L1", "L2"]


def test_an_alert_saves_and_reports_the_matches():
    store = MemoryStore()
    alert = DuplicatePolicy("leads", [STANDARD_LEAD_RULE])
    save(MemoryUnitOfWork(store), ANN, policy=alert)
    check = save(MemoryUnitOfWork(store), ANNE, policy=alert)
    assert check is not None
    assert (check.decision, [m.b_id for m in check.matches]) == ("alert", ["L1"])
    assert stored_ids(store) == ["L1", "L2"]


def test_an_edit_is_checked_against_the_stored_version():
    store = MemoryStore()
    save(MemoryUnitOfWork(store), ANN)
    save(MemoryUnitOfWork(store), Lead(id="L2", first_name="Tom", last_name="Lee", company="Acme"))
    # A change to a field no rule reads is not checked.
    check = save(MemoryUnitOfWork(store), update(ANN, description="called"), policy=BLOCK)
    assert check is not None
    assert check.decision == "allow"
    with pytest.raises(DuplicateBlocked):
        save(
            MemoryUnitOfWork(store),
            Lead(
                id="L2",
                first_name="Anne",
                last_name="Lee",
                company="Acme",
                email=EmailAddress.parse("ann@acme.com"),
            ),
            policy=BLOCK,
        )
    with MemoryUnitOfWork(store) as uow:
        stored = uow.leads.get("L2")
        assert stored is not None
        assert stored.first_name == "Tom"


def test_a_lead_is_checked_against_contacts():
    store = MemoryStore()
    contact = Contact(
        id="C1", first_name="Anne", last_name="Lee", email=EmailAddress.parse("ann@acme.com")
    )
    save(MemoryUnitOfWork(store), contact)
    with pytest.raises(DuplicateBlocked):
        save(MemoryUnitOfWork(store), ANN, policy=BLOCK)


def test_accounts_and_plain_saves():
    store = MemoryStore()
    assert save(MemoryUnitOfWork(store), Account(id="A1", name="Acme")) is None
    with MemoryUnitOfWork(store) as uow:
        assert uow.accounts.get("A1") is not None


def test_refuses_other_records():
    with pytest.raises(ValidationError):
        save(MemoryUnitOfWork(), {"id": "L1"})  # type: ignore[type-var]
