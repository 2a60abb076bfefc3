"""Hostile review of issue 18's privacy operations: each test is a bug found and fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from leadmodel import ColumnMapping, EmailAddress, Lead, PhoneNumber, to_json
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import PersonFindings, erase, find_person, import_leads, is_erased

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Key:
    def secret(self) -> bytes:
        return b"review secret"


def _uow(*leads: Lead) -> MemoryUnitOfWork:
    uow = MemoryUnitOfWork()
    with uow:
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    return uow


def _dump(uow: MemoryUnitOfWork) -> str:
    with uow:
        return "\n".join(
            to_json(record)
            for name in ("leads", "contacts", "accounts", "opportunities", "activities")
            for record in getattr(uow, name)
        ).casefold()


def test_a_namesake_dropped_from_the_findings_is_neither_suppressed_nor_tokenised():
    # Bug: the needles came from a fresh lookup, so the spared namesake's email was
    # logged as erased (their next form or import suppressed) and tokenised elsewhere.
    uow = _uow(
        Lead(
            id="L1",
            first_name="Ada",
            last_name="Lovelace",
            company="Engines",
            email=EmailAddress.parse("ada@one.io"),
        ),
        Lead(
            id="L2",
            first_name="Ada",
            last_name="Lovelace",
            company="Looms",
            email=EmailAddress.parse("ada@two.io"),
            phone=PhoneNumber.parse("+14155550177"),
        ),
        Lead(id="L3", last_name="Ng", company="Acme", description="ask ada@two.io"),
    )
    found = find_person(uow, name="Ada Lovelace")
    spared = PersonFindings(
        name=found.name,
        findings=tuple(f for f in found.findings if f.record_id not in ("L2", "L3")),
    )
    erase(uow, spared, mode="anonymise", now=NOW, key=Key())
    with uow:
        assert not is_erased(uow, Key(), email="ada@two.io")
        assert not is_erased(uow, Key(), phone="+14155550177")
        assert is_erased(uow, Key(), email="ada@one.io")
        assert uow.leads.get("L2").email == EmailAddress.parse("ada@two.io")
        assert uow.leads.get("L3").description == "ask ada@two.io"


def test_a_plus_tagged_address_is_the_same_mailbox_everywhere():
    # Bug: "ada+news@x.io" (the same mailbox) survived erasure in other records'
    # values and a tagged address was imported again after the erasure.
    uow = _uow(
        Lead(
            id="L1",
            first_name="Ada",
            last_name="Lovelace",
            company="Engines",
            email=EmailAddress.parse("Ada@X.io"),
        ),
        Lead(
            id="L2",
            last_name="Ng",
            company="Acme",
            description="forwarded by ADA+News@x.io",
            custom={"ref": "ada+crm@x.io"},
        ),
        Lead(id="L3", last_name="Tag", company="Acme", email=EmailAddress.parse("ada+l3@x.io")),
    )
    found = find_person(uow, email="ada+web@x.io")
    assert set(found.ids("lead")) == {"L1", "L2", "L3"}
    erase(uow, {"email": "ada@x.io"}, mode="delete", now=NOW, key=Key())
    assert "ada+" not in _dump(uow)
    assert "ada@x.io" not in _dump(uow)
    with uow:
        assert is_erased(uow, Key(), email="ada+later@x.io")
    rows = [{"Last Name": "Lovelace", "Company": "Engines", "Email": "ada+promo@x.io"}]
    report = import_leads(
        uow,
        rows,
        ColumnMapping.guess(["Last Name", "Company", "Email"]),
        ids=SequentialIds(prefix="i"),
        now=NOW,
        privacy_key=Key(),
    )
    assert (report.created, report.skipped) == (0, 1)


def test_a_possessive_name_is_a_mention():
    # Bug: "Ada Lovelace's boss" normalised to "ada lovelaces boss" and was missed.
    uow = _uow(
        Lead(
            id="L1",
            first_name="Ada",
            last_name="Lovelace",
            company="Engines",
            email=EmailAddress.parse("ada@x.io"),
        ),
        Lead(id="L2", last_name="Ng", company="Acme", description="Ada Lovelace’s boss"),
    )
    assert find_person(uow, email="ada@x.io").ids("lead") == ("L1", "L2")
    erase(uow, {"email": "ada@x.io"}, mode="delete", now=NOW, key=Key())
    assert "lovelace" not in _dump(uow)
