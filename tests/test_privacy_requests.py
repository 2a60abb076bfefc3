"""find_person, export_person, erase, is_erased, suppression and retention (issue 18)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    LEAD_SCHEMA,
    Account,
    Activity,
    Address,
    ColumnMapping,
    ConcurrencyError,
    Condition,
    Consent,
    Contact,
    EmailAddress,
    Erasure,
    FieldDef,
    FieldType,
    Finding,
    Lead,
    Opportunity,
    PhoneNumber,
    RetentionDue,
    RetentionPolicy,
    RetentionRun,
    ValidationError,
    due_for_retention,
    from_dict,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import (
    CaptureConfig,
    PersonFindings,
    capture_lead,
    erase,
    export_person,
    find_person,
    import_leads,
    is_erased,
    run_retention,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Key:
    def secret(self) -> bytes:
        return b"test secret"


def _store():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(
            Lead(
                id="L1",
                first_name="Ada",
                last_name="Lovelace",
                company="Engines",
                email=EmailAddress.parse("ada@example.org"),
                phone=PhoneNumber.parse("+14155550101"),
                address=Address(street="12 Analytical Row", city="London", country="GB"),
                source="Web",
                custom={"birthday": "1815-12-10", "visits": 3},
                created_at=NOW - timedelta(days=10),
            )
        )
        uow.leads.add(
            Lead(
                id="L2",
                first_name="Bob",
                last_name="Babbage",
                company="Engines",
                description="Colleague of Ada Lovelace",
                source="Partner",
            )
        )
        uow.leads.add(Lead(id="L3", first_name="Ada", last_name="Byron", company="Other"))
        uow.contacts.add(
            Contact(
                id="C1",
                first_name="Ada",
                last_name="Lovelace",
                phone=PhoneNumber.parse("415-555-0101"),
                account_id="PA1",
            )
        )
        uow.accounts.add(Account(id="PA1", name="Ada Lovelace", is_person=True))
        uow.accounts.add(Account(id="A2", name="Engines Ltd"))
        uow.opportunities.add(Opportunity(id="O1", name="Engine deal", contact_id="C1"))
        uow.activities.add(
            Activity(
                id="A1",
                subject_id="L1",
                kind="call",
                occurred_at=NOW,
                properties={"note": "Rang Ada on 415 555 0101", "minutes": 5},
            )
        )
        uow.activities.add(
            Activity(
                id="A3",
                subject_id="L2",
                kind="email",
                occurred_at=NOW,
                properties={"cc": "ADA@example.org"},
            )
        )
        uow.consents.add(
            Consent(
                id="K1",
                subject_id="L1",
                channel="email",
                purpose="newsletter",
                status="granted",
                captured_at=NOW,
                proof="form 7, checkbox ticked by ada@example.org",
            )
        )
        uow.commit()
    return uow


def _kinds(found):
    return {(f.kind, f.record_id): f for f in found.findings}


def test_find_person_finds_every_record_holding_the_person():
    found = _kinds(find_person(_store(), email="Ada@Example.ORG"))
    assert set(found) == {
        ("lead", "L1"),
        ("lead", "L2"),
        ("contact", "C1"),
        ("account", "PA1"),
        ("opportunity", "O1"),
        ("activity", "A1"),
        ("activity", "A3"),
        ("consent", "K1"),
    }
    assert found[("lead", "L1")].owned
    assert not found[("lead", "L2")].owned
    assert found[("lead", "L2")].paths == ("description",)
    assert found[("contact", "C1")].owned  # same phone and name as their lead
    assert found[("account", "PA1")].owned  # the person account of their contact
    assert found[("opportunity", "O1")].paths == ("contact_id",)
    assert found[("activity", "A1")].paths == ("properties.note",)


def test_find_by_phone_or_name_uses_the_normalisers():
    by_phone = find_person(_store(), phone="(415) 555-0101")
    assert {"L1", "C1"} <= set(by_phone.ids("lead") + by_phone.ids("contact"))
    by_name = find_person(_store(), name="LOVELACE, Ada")
    assert "L1" in by_name.ids("lead")
    assert "L3" not in by_name.ids("lead")  # another Ada


def test_find_person_refuses_bad_requests():
    with pytest.raises(ValidationError) as error:
        find_person(_store())
    assert error.value.errors[0].code == "missing"
    with pytest.raises(ValidationError) as error:
        find_person(_store(), email="not an email", phone=12)
    assert {e.path.split(".")[0] for e in error.value.errors} == {"email", "phone"}
    with pytest.raises(ValidationError):
        find_person(object(), email="ada@example.org")
    with pytest.raises(ValidationError):
        find_person(_store(), email="ada@example.org", key=object())


def test_find_with_a_key_logs_only_a_keyed_hash():
    uow = _store()
    find_person(uow, email="ada@example.org", key=Key(), now=NOW)
    with uow:
        entries = list(uow.privacy_log)
    assert [e.kind for e in entries] == ["find"]
    assert "ada" not in to_json(entries[0])
    with pytest.raises(ValidationError):  # logging needs the time
        find_person(uow, email="ada@example.org", key=Key())


def test_export_is_one_json_document_of_everything_found():
    document = json.loads(export_person(_store(), email="ada@example.org"))
    assert document["document"] == "person_export"
    assert {r["id"] for r in document["records"]["lead"]} == {"L1"}
    # Another person's lead mentions her: only that value is exported, not Bob's lead.
    mention = next(m for m in document["mentions"] if m["id"] == "L2")
    assert mention == {
        "kind": "lead",
        "id": "L2",
        "values": {"description": "Colleague of Ada Lovelace"},
    }
    assert "Babbage" not in json.dumps(document)
    cc = next(m for m in document["mentions"] if m["id"] == "A3")
    assert cc["values"] == {"properties.cc": "ADA@example.org"}
    lead = from_dict(Lead, document["records"]["lead"][0])
    assert lead.email == EmailAddress.parse("ada@example.org")
    assert document["records"]["consent"][0]["id"] == "K1"


def test_anonymise_keeps_the_facts_and_replaces_the_person():
    uow = _store()
    schema = LEAD_SCHEMA.with_custom(FieldDef("birthday", FieldType.TEXT, personal=True))
    erasure = erase(
        uow, {"email": "ada@example.org"}, mode="anonymise", now=NOW, key=Key(), schemas=[schema]
    )
    assert erasure.deleted == ()
    with uow:
        lead = uow.leads.get("L1")
        other = uow.leads.get("L2")
        contact = uow.contacts.get("C1")
        account = uow.accounts.get("PA1")
        note = uow.activities.get("A1")
        consent = uow.consents.get("K1")
        assert uow.leads.get("L3").first_name == "Ada"  # a namesake is not touched
    assert lead.last_name.startswith("anon-")
    assert lead.first_name.startswith("anon-")
    assert lead.email.domain == "anonymised.example"
    assert lead.phone is None
    assert lead.address == Address(street=lead.address.street, country="GB")
    assert lead.address.street.startswith("anon-")
    assert (lead.source, lead.status, lead.company, lead.created_at) == (
        "Web",
        "Open - Not Contacted",
        "Engines",
        NOW - timedelta(days=10),
    )
    assert lead.custom["visits"] == 3
    assert lead.custom["birthday"].startswith("anon-")
    assert other.description.startswith("anon-")
    assert other.first_name == "Bob"
    assert contact.last_name.startswith("anon-")
    assert contact.phone is None
    assert account.name.startswith("anon-")
    assert account.is_person
    assert note.properties["note"].startswith("anon-")
    assert note.properties["minutes"] == 5
    assert consent.status == "granted"
    assert consent.proof.startswith("anon-")
    assert erasure.log_ids
    assert is_erased(uow, Key(), email="ADA@example.org")
    assert is_erased(uow, Key(), phone="+1 415 555 0101")
    assert not is_erased(uow, Key(), email="bob@example.org")


def test_tokens_are_keyed_and_irreversible_but_stable():
    first = _store()
    second = _store()
    erase(first, {"email": "ada@example.org"}, mode="anonymise", now=NOW, key=Key())
    erase(second, {"email": "ada@example.org"}, mode="anonymise", now=NOW, key=Key())
    with first, second:
        assert first.leads.get("L1") == second.leads.get("L1")

    class OtherKey:
        def secret(self) -> bytes:
            return b"another secret"

    third = _store()
    erase(third, {"email": "ada@example.org"}, mode="anonymise", now=NOW, key=OtherKey())
    with first, third:
        assert first.leads.get("L1").last_name != third.leads.get("L1").last_name


def test_delete_removes_the_person_and_unlinks_what_pointed_at_them():
    uow = _store()
    found = find_person(uow, email="ada@example.org")
    erasure = erase(uow, found, mode="delete", now=NOW, key=Key())
    assert {(f.kind, f.record_id) for f in erasure.deleted} == {
        ("lead", "L1"),
        ("contact", "C1"),
        ("account", "PA1"),
        ("activity", "A1"),
        ("consent", "K1"),
    }
    with uow:
        assert uow.opportunities.get("O1").contact_id is None
        assert uow.activities.get("A3").properties["cc"].startswith("anon-")
        assert [lead.id for lead in uow.leads] == ["L2", "L3"]
    assert erasure.counts["lead"] == 2  # one deleted, one anonymised mention


def test_findings_can_spare_a_record():
    uow = _store()
    found = find_person(uow, name="Ada Lovelace")
    spared = PersonFindings(
        name=found.name, findings=tuple(f for f in found.findings if f.record_id != "C1")
    )
    erase(uow, spared, mode="delete", now=NOW, key=Key())
    with uow:
        assert uow.contacts.get("C1") is not None
        assert uow.leads.get("L1") is None


def test_erase_refuses_bad_arguments_and_writes_nothing():
    uow = _store()
    for kwargs in (
        {"mode": "shred", "now": NOW, "key": Key()},
        {"mode": "delete", "now": datetime(2026, 1, 1), "key": Key()},  # noqa: DTZ001
        {"mode": "delete", "now": NOW, "key": None},
    ):
        with pytest.raises(ValidationError):
            erase(uow, {"email": "ada@example.org"}, **kwargs)
    with pytest.raises(ValidationError):
        erase(uow, {"mail": "ada@example.org"}, mode="delete", now=NOW, key=Key())
    with pytest.raises(ValidationError):
        erase(uow, "ada@example.org", mode="delete", now=NOW, key=Key())
    with uow:
        assert uow.leads.get("L1").last_name == "Lovelace"


def test_import_and_capture_suppress_an_erased_person():
    uow = _store()
    erase(uow, {"email": "ada@example.org"}, mode="delete", now=NOW, key=Key())
    rows = [
        {"Last Name": "Lovelace", "Email": "ada@example.org", "Company": "Engines"},
        {"Last Name": "Hopper", "Email": "grace@example.org", "Company": "Navy"},
    ]
    report = import_leads(
        uow,
        rows,
        ColumnMapping.guess(["Last Name", "Email", "Company"]),
        ids=SequentialIds(prefix="i"),
        now=NOW,
        privacy_key=Key(),
    )
    assert (report.rows, report.created, report.skipped) == (2, 1, 1)
    result = capture_lead(
        uow,
        {"name": "Ada Lovelace", "email": "Ada@example.org", "company": "Engines"},
        CaptureConfig(),
        ids=SequentialIds(prefix="c"),
        now=NOW,
        privacy_key=Key(),
    )
    assert result.status == "suppressed"
    assert result.lead is None
    assert "erased" in result.steps[-1]
    with uow:
        emails = {str(lead.email) for lead in uow.leads}
        kinds = sorted(entry.kind for entry in uow.privacy_log)
    assert "ada@example.org" not in emails
    assert kinds.count("suppressed") == 2


def test_retention_anonymises_stale_leads_only():
    old = NOW - timedelta(days=800)
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(Lead(id="S1", last_name="Stale", company="A", created_at=old))
        uow.leads.add(Lead(id="S2", last_name="Active", company="B", created_at=old))
        uow.leads.add(Lead(id="S3", last_name="New", company="C", created_at=NOW))
        uow.activities.add(Activity(id="X", subject_id="S2", kind="visit", occurred_at=NOW))
        uow.commit()
    policy = RetentionPolicy(name="24 months", inactive_days=730)
    run = run_retention(uow, [policy], now=NOW, key=Key())
    assert [d.record_id for d in run.due] == ["S1"]
    with uow:
        assert uow.leads.get("S1").last_name.startswith("anon-")
        assert uow.leads.get("S2").last_name == "Active"
    again = run_retention(uow, [policy], now=NOW, key=Key())  # idempotent
    assert again.due == ()


def test_retention_policy_is_data():
    policy = RetentionPolicy(
        name="unqualified",
        inactive_days=365,
        action="delete",
        criterion=Condition("status", "eq", "Closed - Not Converted"),
    )
    assert from_json(RetentionPolicy, to_json(policy)) == policy
    with pytest.raises(ValidationError):
        RetentionPolicy(name="x", inactive_days=0)
    with pytest.raises(ValidationError):
        RetentionPolicy(name="x", inactive_days=3, action="shred")


@settings(max_examples=50, deadline=None)
@given(
    ages=st.lists(st.integers(0, 2000), min_size=1, max_size=8),
    days=st.integers(1, 1500),
    seed=st.randoms(use_true_random=False),
)
def test_due_for_retention_is_order_independent_and_exact(ages, days, seed):
    leads = [
        Lead(id=f"L{i}", last_name="X", company="Y", created_at=NOW - timedelta(days=age))
        for i, age in enumerate(ages)
    ]
    policy = RetentionPolicy(name="p", inactive_days=days)
    shuffled = list(leads)
    seed.shuffle(shuffled)
    due = due_for_retention(leads, [], [policy], now=NOW)
    assert due == due_for_retention(shuffled, [], [policy], now=NOW)
    assert {d.record_id for d in due} == {f"L{i}" for i, age in enumerate(ages) if age >= days}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
_DOCUMENTS = [RetentionPolicy, PersonFindings, Erasure, RetentionRun, Finding, RetentionDue]


@given(st.sampled_from(_DOCUMENTS), _JSON)
def test_privacy_documents_from_any_json_are_valid_or_a_validation_error(cls, data):
    try:
        from_dict(cls, data)
    except ValidationError as exc:
        assert exc.errors


_ids_text = st.text(alphabet="abcXYZ019-", min_size=1, max_size=8)
_findings = st.builds(
    Finding,
    kind=st.sampled_from(["lead", "contact", "activity", "merge"]),
    record_id=_ids_text,
    paths=st.lists(st.sampled_from(["email", "phone", "properties.note"]), max_size=3).map(tuple),
    owned=st.booleans(),
)


@given(
    st.one_of(
        st.builds(
            RetentionPolicy,
            name=_ids_text,
            kind=st.sampled_from(["lead", "contact"]),
            inactive_days=st.integers(1, 36_500),
            action=st.sampled_from(["delete", "anonymise"]),
            criterion=st.none() | st.just(Condition("status", "eq", "Open - Not Contacted")),
        ),
        st.builds(
            Erasure,
            mode=st.sampled_from(["delete", "anonymise"]),
            deleted=st.lists(_findings, max_size=3).map(tuple),
            anonymised=st.lists(_findings, max_size=3).map(tuple),
            log_ids=st.lists(_ids_text, max_size=2).map(tuple),
            scrubbed=st.booleans(),
        ),
        st.builds(
            PersonFindings,
            email=st.none() | st.just("ada@example.org"),
            name=st.none() | st.just("ada lovelace"),
            findings=st.lists(_findings, max_size=4).map(tuple),
        ),
    )
)
def test_privacy_values_round_trip_through_json(value):
    assert from_json(type(value), to_json(value)) == value


def test_a_failed_erase_leaves_storage_unchanged():
    uow = _store()

    class Failing(type(uow)):
        def commit(self):
            raise ConcurrencyError("someone else wrote")

    failing = Failing(uow.store)
    with pytest.raises(ConcurrencyError):
        erase(failing, {"email": "ada@example.org"}, mode="delete", now=NOW, key=Key())
    with uow:
        assert uow.leads.get("L1").last_name == "Lovelace"
        assert list(uow.privacy_log) == []


def test_personal_custom_numbers_are_cleared_and_stale_findings_skipped():
    uow = _store()
    schema = LEAD_SCHEMA.with_custom(FieldDef("visits", FieldType.NUMBER, personal=True))
    found = find_person(uow, email="ada@example.org")
    stale = PersonFindings(
        email=found.email,
        findings=(*found.findings, Finding(kind="lead", record_id="gone", owned=True)),
    )
    erasure = erase(uow, stale, mode="anonymise", now=NOW, key=Key(), schemas=schema)
    assert "gone" not in {f.record_id for f in erasure.anonymised}
    with uow:
        assert "visits" not in uow.leads.get("L1").custom  # a number cannot hold a token


def test_import_and_capture_refuse_a_bad_privacy_key_before_reading_anything():
    uow = _store()
    with pytest.raises(ValidationError) as error:
        import_leads(
            uow,
            [{"Last Name": "Ng", "Company": "Acme"}],
            ColumnMapping.guess(["Last Name", "Company"]),
            ids=SequentialIds(),
            now=NOW,
            privacy_key="not a key",
        )
    assert error.value.errors[0].path == "key"
    with pytest.raises(ValidationError):
        capture_lead(
            uow, {"name": "Ng"}, CaptureConfig(), ids=SequentialIds(), now=NOW, privacy_key=3
        )


def test_the_facts_stay_even_when_a_name_part_spells_one():
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(
            Lead(
                id="W1",
                first_name="Web",
                last_name="Partnerson",
                company="Acme",
                source="Web",
                industry="Web",
                email=EmailAddress.parse("web@acme.example.org"),
            )
        )
        uow.commit()
    erase(uow, {"email": "web@acme.example.org"}, mode="anonymise", now=NOW, key=Key())
    with uow:
        lead = uow.leads.get("W1")
    assert (lead.source, lead.industry, lead.company) == ("Web", "Web", "Acme")
    assert lead.first_name.startswith("anon-")
