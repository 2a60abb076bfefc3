"""Consents and privacy log entries survive storage exactly, and are found by their keys.

Property tests over both shipped adapters: whatever consents and entries are stored, each
comes back equal, iteration lists them all by id, and ``subject:`` / ``hash:`` look-ups find
exactly the ones they name (nothing lost, nothing extra).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import Consent, PrivacyLogEntry
from leadmodel.adapters.memory import MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.testing.strategies import timestamps

_subjects = st.sampled_from(["L1", "L2", "C1", "A1"])
_hashes = st.sampled_from(["0" * 64, "ab" * 32, "f" * 64])


@st.composite
def consent_sets(draw: st.DrawFn) -> list[Consent]:
    ids = draw(st.lists(st.from_regex(r"C[0-9]{1,4}", fullmatch=True), unique=True, max_size=8))
    consents = []
    for consent_id in ids:
        captured = draw(timestamps())
        expires = draw(st.none() | st.timedeltas(timedelta(0), timedelta(days=400)))
        consents.append(
            Consent(
                id=consent_id,
                subject_id=draw(_subjects),
                channel=draw(st.sampled_from(["email", "phone", "sms", "post"])),
                purpose=draw(st.sampled_from(["marketing", "newsletter", "événements"])),
                status=draw(st.sampled_from(["granted", "denied", "withdrawn"])),
                lawful_basis=draw(st.sampled_from(["consent", "contract", "public_task"])),
                source=draw(st.none() | st.text(min_size=1, max_size=20).filter(str.isprintable)),
                captured_at=captured,
                expires_at=None if expires is None else captured + expires,
                proof=draw(st.none() | st.just("box ticked\nIP hash 1f")),
                provenance=tuple(draw(st.lists(st.sampled_from(["C0", "L9"]), max_size=2))),
            )
        )
    return consents


@st.composite
def log_sets(draw: st.DrawFn) -> list[PrivacyLogEntry]:
    ids = draw(st.lists(st.from_regex(r"P[0-9]{1,4}", fullmatch=True), unique=True, max_size=8))
    return [
        PrivacyLogEntry(
            id=entry_id,
            kind=draw(st.sampled_from(["find", "export", "erase", "suppressed"])),
            subject_hash=draw(_hashes),
            at=draw(timestamps()),
            mode=draw(st.none() | st.sampled_from(["delete", "anonymise"])),
            counts=draw(st.dictionaries(st.sampled_from(["lead", "activity"]), st.integers(0, 99))),
        )
        for entry_id in ids
    ]


def _memory() -> Callable[[], object]:
    uow = MemoryUnitOfWork()
    return lambda: uow


def _sqlite() -> Callable[[], object]:
    store = SQLiteStore(":memory:")
    return lambda: SQLiteUnitOfWork(store)


ADAPTERS = pytest.mark.parametrize("make_units", [_memory, _sqlite], ids=["memory", "sqlite"])


@ADAPTERS
@settings(max_examples=25, deadline=None)
@given(consents=consent_sets())
def test_stored_consents_come_back_exactly_and_are_found_by_subject(
    make_units: Callable[[], Callable[[], object]], consents: list[Consent]
) -> None:
    make = make_units()
    with make() as uow:  # type: ignore[attr-defined]
        for consent in consents:
            uow.consents.add(consent)
        uow.commit()
    with make() as uow:  # type: ignore[attr-defined]
        assert list(uow.consents) == sorted(consents, key=lambda c: c.id)
        for subject in ("L1", "L2", "C1", "A1"):
            found = uow.consents.find_by_keys([f"subject:{subject}"])
            assert found == sorted(
                (c for c in consents if c.subject_id == subject), key=lambda c: c.id
            )


@ADAPTERS
@settings(max_examples=25, deadline=None)
@given(entries=log_sets())
def test_stored_log_entries_come_back_exactly_and_are_found_by_hash(
    make_units: Callable[[], Callable[[], object]], entries: list[PrivacyLogEntry]
) -> None:
    make = make_units()
    with make() as uow:  # type: ignore[attr-defined]
        for entry in entries:
            uow.privacy_log.add(entry)
        uow.commit()
    with make() as uow:  # type: ignore[attr-defined]
        assert list(uow.privacy_log) == sorted(entries, key=lambda e: e.id)
        for subject_hash in ("0" * 64, "ab" * 32, "f" * 64):
            found = uow.privacy_log.find_by_keys([f"hash:{subject_hash}"])
            assert found == sorted(
                (e for e in entries if e.subject_hash == subject_hash), key=lambda e: e.id
            )


def test_sqlite_keeps_the_queried_fields_as_columns() -> None:
    from datetime import UTC, datetime

    with SQLiteStore(":memory:") as store:
        with SQLiteUnitOfWork(store) as uow:
            uow.consents.add(
                Consent(
                    id="C1",
                    subject_id="L1",
                    channel="sms",
                    purpose="reminders",
                    status="denied",
                    captured_at=datetime(2026, 2, 1, tzinfo=UTC),
                )
            )
            uow.privacy_log.add(
                PrivacyLogEntry(
                    id="P1",
                    kind="erase",
                    subject_hash="f" * 64,
                    at=datetime(2026, 2, 2, tzinfo=UTC),
                )
            )
            uow.commit()
        assert store.count("consent") == 1
        assert store.count("privacy_log") == 1
        assert store.connection.execute(
            "SELECT subject_id, channel, purpose, status FROM consent_records"
        ).fetchall() == [("L1", "sms", "reminders", "denied")]
        assert store.connection.execute(
            "SELECT kind, subject_hash FROM privacy_log_records"
        ).fetchall() == [("erase", "f" * 64)]
