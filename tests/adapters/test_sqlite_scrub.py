"""After records are deleted and ``SQLiteStore.scrub()`` runs, none of their bytes remain.

The byte search reads the database file and its ``-wal`` and ``-shm`` files, as someone
holding a copy of the disk would.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Consent,
    DatabaseBusy,
    EmailAddress,
    Lead,
    PhoneNumber,
    PrivacyLogEntry,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

T0 = datetime(2026, 5, 4, 8, tzinfo=UTC)


def file_bytes(path: Path) -> bytes:
    """The database file and every file SQLite keeps beside it, concatenated."""
    return b"".join(
        candidate.read_bytes()
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"))
        if candidate.exists()
    )


def left_behind(path: Path, values: list[str]) -> list[str]:
    data = file_bytes(path)
    return [
        value
        for value in values
        if any(form.encode() in data for form in {value, value.casefold()})
    ]


def person(first: str, last: str, email: str, note: str) -> list[object]:
    """A person spread over a lead, its activity and its consent."""
    lead = Lead(
        id="L-person",
        first_name=first,
        last_name=last,
        company="Personal Ltd",
        email=EmailAddress.parse(email),
        phone=PhoneNumber.parse("+1 415 555 0199"),
        custom={"note": note},
        created_at=T0,
    )
    return [
        lead,
        Activity(
            id="A-person",
            subject_id="L-person",
            kind="call",
            occurred_at=T0,
            properties={"summary": note},
        ),
        Consent(
            id="C-person",
            subject_id="L-person",
            channel="email",
            purpose="newsletter",
            status="granted",
            captured_at=T0,
            proof=f"form signed by {first} {last} <{email}>",
        ),
    ]


def other() -> Lead:
    return Lead(id="L-other", first_name="Ottilie", last_name="Keepsake", company="Kept Co")


def repository(uow: SQLiteUnitOfWork, record: object) -> object:
    return {
        Lead: uow.leads,
        Activity: uow.activities,
        Consent: uow.consents,
        PrivacyLogEntry: uow.privacy_log,
    }[type(record)]


def store_then_erase(path: Path, records: list[object], *, timeout: float = 5) -> SQLiteStore:
    store = SQLiteStore(path, timeout=timeout)
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(other())
        for record in records:
            repository(uow, record).add(record)  # type: ignore[attr-defined]
        uow.commit()
    with SQLiteUnitOfWork(store) as uow:  # an older version of the lead, left in the WAL
        lead = uow.leads.get("L-person")
        assert lead is not None
        uow.leads.update(attrs.evolve(lead, updated_at=T0 + timedelta(hours=1)))
        uow.commit()
    with SQLiteUnitOfWork(store) as uow:
        for record in records:
            repository(uow, record).remove(record.id)  # type: ignore[attr-defined]
        uow.commit()
    return store


VALUES = ["Zebediah", "Quxworthy", "zeb.quux@privacy.example", "prefers calls after 6pm"]


def test_a_deleted_person_is_still_in_the_files_before_scrub(tmp_path: Path) -> None:
    # The control: the search finds what is there, and deleting alone is not enough.
    path = tmp_path / "leads.db"
    store = store_then_erase(path, person(*VALUES))
    assert left_behind(path, VALUES), "the byte search would find nothing anyway"
    store.close()


def test_after_scrub_no_byte_of_a_deleted_person_remains(tmp_path: Path) -> None:
    path = tmp_path / "leads.db"
    store = store_then_erase(path, person(*VALUES))
    store.scrub()
    assert left_behind(path, VALUES) == []
    assert left_behind(path, ["Ottilie", "Keepsake"]) == ["Ottilie", "Keepsake"]
    with SQLiteUnitOfWork(store) as uow:
        assert [lead.id for lead in uow.leads] == ["L-other"]
        assert list(uow.consents) == []
        assert uow.leads.find_by_keys(["email:zeb.quux@privacy.example"]) == []
    store.close()
    assert left_behind(path, VALUES) == []


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéøß", min_size=12, max_size=20)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_words, last=_words, local=_words, note=_words)
def test_scrub_leaves_nothing_of_any_deleted_person(
    tmp_path_factory: pytest.TempPathFactory, first: str, last: str, local: str, note: str
) -> None:
    path = tmp_path_factory.mktemp("scrub") / "leads.db"
    email = f"{local}@erased.example"
    store = store_then_erase(path, person(first.title(), last.title(), email, note))
    store.scrub()
    store.close()
    assert left_behind(path, [first, last, local, note]) == []


def test_the_connection_always_deletes_securely(tmp_path: Path) -> None:
    for where in (":memory:", tmp_path / "leads.db"):
        with SQLiteStore(where) as store:
            assert store.connection.execute("PRAGMA secure_delete").fetchone() == (1,)


def test_scrub_of_a_scratch_database_does_nothing_harmful() -> None:
    with SQLiteStore(":memory:") as store:
        with SQLiteUnitOfWork(store) as uow:
            uow.leads.add(other())
            uow.commit()
        store.scrub()
        with SQLiteUnitOfWork(store) as uow:
            assert uow.leads.get("L-other") == other()


def test_scrub_with_a_reader_holding_the_log_is_busy_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "leads.db"
    store = store_then_erase(path, person(*VALUES), timeout=0.05)
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM lead_records").fetchone()
    try:
        with pytest.raises(DatabaseBusy, match="write-ahead log could not be emptied"):
            store.scrub()
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    store.scrub()
    assert left_behind(path, VALUES) == []
    store.close()
