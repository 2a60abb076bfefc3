"""Acceptance (issue 18): after ``erase`` no stored byte holds the person's values.

A store holds one person spread across leads (two of them merged), a converted lead's
contact, opportunity and account, activities and another person's note about them, next
to other people. After ``erase`` (delete or anonymise), neither the SQLite file (after
scrub) nor any record's JSON in memory holds any of the person's values, while ``funnel``
and a predictive model's predictions for the other records are unchanged.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Address,
    Consent,
    Contact,
    ConvertOptions,
    EmailAddress,
    Lead,
    Outcome,
    PhoneNumber,
    funnel,
    to_json,
    train_predictive,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import convert_lead, erase, find_person, merge_records

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SOURCES = ("Web", "Partner", "Trade Show")
FEATURES = ("source", "address.country")


class Key:
    def secret(self) -> bytes:
        return b"acceptance secret"


_letters = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=6, max_size=10)


@st.composite
def people(draw):
    """A person with distinctive values (no other record can hold them by chance)."""
    first = "Qa" + draw(_letters)
    last = "Zu" + draw(_letters)
    number = draw(st.integers(0, 99))
    return {
        "first": first,
        "last": last,
        "email": f"{first.lower()}.{last.lower()}@{draw(_letters)}mail.com",
        "phone": f"+1415555{number:04d}",
        "street": f"{draw(st.integers(1, 999))} {draw(_letters).title()}yx Road",
    }


@st.composite
def others(draw):
    count = draw(st.integers(2, 6))
    return [
        {
            "source": draw(st.sampled_from(SOURCES)),
            "country": draw(st.sampled_from(("GB", "US", "FR"))),
            "won": draw(st.booleans()),
            "converted": draw(st.booleans()),
        }
        for _ in range(count)
    ]


def _ids():
    counter = itertools.count(1)
    return lambda kind: f"{kind}-{next(counter):04d}"


def _fill(uow, person, crowd):
    ids = _ids()
    created = NOW - timedelta(days=30)
    with uow:
        for index, other in enumerate(crowd):
            uow.leads.add(
                Lead(
                    id=f"O{index}",
                    first_name=f"Other{index}",
                    last_name="Person",
                    company=f"Company {index}",
                    source=other["source"],
                    address=Address(country=other["country"]),
                    created_at=created,
                )
            )
            uow.activities.add(
                Activity(
                    id=f"OA{index}",
                    subject_id=f"O{index}",
                    kind="call",
                    occurred_at=created,
                    properties={"note": f"spoke to Other{index}"},
                )
            )
        for suffix, extra in (("1", {}), ("2", {"description": "came back by phone"})):
            uow.leads.add(
                Lead(
                    id=f"P{suffix}",
                    first_name=person["first"],
                    last_name=person["last"],
                    company="Analytical Engines",
                    email=EmailAddress.parse(person["email"]),
                    phone=PhoneNumber.parse(person["phone"]),
                    address=Address(street=person["street"], city="London", country="GB"),
                    source="Web",
                    created_at=created + timedelta(days=int(suffix)),
                    **extra,
                )
            )
            uow.activities.add(
                Activity(
                    id=f"PA{suffix}",
                    subject_id=f"P{suffix}",
                    kind="email_sent",
                    occurred_at=created,
                    properties={"to": person["email"], "subject": f"Hello {person['first']}"},
                )
            )
        uow.contacts.add(  # a contact added by hand: their phone and name, no email
            Contact(
                id="PC",
                first_name=person["first"],
                last_name=person["last"],
                mobile=PhoneNumber.parse(person["phone"]),
                description=f"met {person['first']} at the fair",
            )
        )
        uow.consents.add(
            Consent(
                id="PK",
                subject_id="P1",
                channel="email",
                purpose="newsletter",
                status="granted",
                captured_at=created,
                proof=f"checkbox ticked by {person['email']}",
            )
        )
        uow.activities.add(  # another person's record mentions them
            Activity(
                id="OA-mention",
                subject_id="O0",
                kind="note",
                occurred_at=created,
                properties={"note": f"referred by {person['first']} {person['last']}"},
            )
        )
        uow.commit()
    merge_records(uow, ["P1", "P2"], master="P1", now=NOW - timedelta(days=5))
    convert_lead(
        uow, "P1", ConvertOptions("Closed - Converted"), ids=ids, now=NOW - timedelta(days=4)
    )
    for index, other in enumerate(crowd):
        if other["converted"]:
            convert_lead(
                uow,
                f"O{index}",
                ConvertOptions("Closed - Converted", create_opportunity=False),
                ids=ids,
                now=NOW - timedelta(days=3),
            )


def _values(person):
    values = [person["first"], person["last"], person["email"], person["phone"], person["street"]]
    values += [v.lower() for v in values] + [person["phone"][2:]]
    return [v.encode() for v in values]


def _leads(uow):
    with uow:
        return list(uow.leads)


def _model_and_others(uow, crowd):
    leads = {lead.id: lead for lead in _leads(uow)}
    history = [Outcome(lead=leads[f"O{i}"], won=other["won"]) for i, other in enumerate(crowd)]
    return train_predictive(history, features=FEATURES), [leads[f"O{i}"] for i in range(len(crowd))]


def _all_json(uow):
    with uow:
        for name in (
            "leads",
            "contacts",
            "accounts",
            "opportunities",
            "activities",
            "merges",
            "trigger_states",
            "consents",
            "privacy_log",
        ):
            repository = getattr(uow, name, None)
            if repository is not None:
                for record in repository:
                    yield to_json(record).encode()


def _check(uow, person, crowd, mode, *, stored=None):
    model, before_others = _model_and_others(uow, crowd)
    predictions = [model.predict(lead) for lead in before_others]
    other_ids = {lead.id for lead in before_others}
    funnel_before = funnel(
        [lead for lead in _leads(uow) if lead.id in other_ids or mode == "anonymise"]
    )

    values = _values(person)
    before = b"".join(_all_json(uow)) if stored is None else stored()
    assert all(value in before for value in values[:5])  # the search would see them
    erasure = erase(uow, {"email": person["email"]}, mode=mode, now=NOW, key=Key())
    assert erasure.counts.get("lead", 0) >= 1

    after = _leads(uow)
    assert funnel(after) == funnel_before
    _, after_others = _model_and_others(uow, crowd)
    assert [model.predict(lead) for lead in after_others] == predictions
    assert after_others == before_others
    for document in _all_json(uow):
        for value in _values(person):
            assert value not in document, (value, document)
    return erasure


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=people(), crowd=others(), mode=st.sampled_from(("delete", "anonymise")))
def test_erase_leaves_nothing_in_memory(person, crowd, mode):
    uow = MemoryUnitOfWork(MemoryStore())
    _fill(uow, person, crowd)
    _check(uow, person, crowd, mode)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=people(), crowd=others(), mode=st.sampled_from(("delete", "anonymise")))
def test_erase_leaves_no_byte_in_the_sqlite_file(person, crowd, mode):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        store = SQLiteStore(folder / "crm.db")
        try:
            uow = SQLiteUnitOfWork(store)
            _fill(uow, person, crowd)
            erasure = _check(uow, person, crowd, mode, stored=lambda: _files(folder))
            assert erasure.scrubbed
        finally:
            store.close()
        data = _files(folder)
        for value in _values(person):
            assert value not in data, value


def _files(folder):
    """Every byte of the database's files (the database, its WAL and journal)."""
    return b"".join(file.read_bytes() for file in sorted(folder.iterdir()))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=people(), crowd=others())
def test_anonymising_again_with_the_same_findings_changes_nothing(person, crowd):
    uow = MemoryUnitOfWork(MemoryStore())
    _fill(uow, person, crowd)
    found = find_person(uow, email=person["email"])
    erase(uow, found, mode="anonymise", now=NOW, key=Key())
    once = sorted(_all_json(uow))
    again = erase(uow, found, mode="anonymise", now=NOW + timedelta(hours=1), key=Key())
    assert again.anonymised == ()
    twice = sorted(document for document in _all_json(uow) if b'"kind": "erase"' not in document)
    assert twice == sorted(document for document in once if b'"kind": "erase"' not in document)
