"""Consents and privacy log entries survive storage exactly, and are found by their keys.

Property tests over both shipped adapters: whatever consents and entries are stored, each
comes back equal, iteration lists them all by id, and ``subject:`` / ``hash:`` look-ups find
exactly the ones they name (nothing lost, nothing extra).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import Consent, PrivacyLogEntry
from leadmodel.adapters.memory import MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.testing.strategies import consents, privacy_log_entries

_subjects = st.sampled_from(["L1", "L2", "C1", "A1"])


def consent_sets() -> st.SearchStrategy[list[Consent]]:
    return st.lists(consents(subject_ids=_subjects), max_size=8, unique_by=lambda c: c.id)


def log_sets() -> st.SearchStrategy[list[PrivacyLogEntry]]:
    entries = privacy_log_entries().map(
        lambda e: attrs.evolve(e, subject_hash=e.subject_hash[:1] * 64)
    )
    return st.lists(entries, max_size=8, unique_by=lambda e: e.id)


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
        for subject_hash in {e.subject_hash for e in entries}:
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
