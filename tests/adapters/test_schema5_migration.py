"""A database written by release 71bf7c6 (SQLite schema 4) opens, migrated to schema 5.

The fixture is tests/fixtures/release-71bf7c6-schema4.db, written by
tests/fixtures/make_schema4_fixture.py run with that release; only copies are opened.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadmodel import Consent, PrivacyLogEntry
from leadmodel.adapters.sqlite import SCHEMA_VERSION, SQLiteStore, SQLiteUnitOfWork

FIXTURE = Path(__file__).parents[1] / "fixtures" / "release-71bf7c6-schema4.db"
SHA256 = "cbaa89e34e0f4aff96a43b49da2b60074e8f5bfa1ba565d7f474c40f8114d972"
KINDS = ("lead", "contact", "account", "opportunity", "activity", "merge", "trigger_state")
T0 = datetime(2026, 4, 1, tzinfo=UTC)


def raw(path: Path) -> dict[str, Any]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows: dict[str, Any] = {
            kind: connection.execute(
                f"SELECT id, version, data FROM {kind}_records ORDER BY id"  # noqa: S608
            ).fetchall()
            for kind in KINDS
        }
        for table in ("lookup_keys", "removed_records", "indexed_rules"):
            rows[table] = connection.execute(
                f"SELECT * FROM {table} ORDER BY 1, 2, 3"  # noqa: S608
            ).fetchall()
        rows["user_version"] = connection.execute("PRAGMA user_version").fetchone()[0]
        rows["tables"] = sorted(
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        )
    finally:
        connection.close()
    return rows


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "schema4.db"
    shutil.copyfile(FIXTURE, target)
    return target


def test_the_fixture_is_the_schema_4_file_the_release_wrote() -> None:
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == SHA256
    assert raw(FIXTURE)["user_version"] == 4


def test_opening_adds_the_consent_and_privacy_log_tables_and_keeps_every_row(copy: Path) -> None:
    before = raw(copy)
    with SQLiteStore(copy) as store:
        assert store.schema_version == SCHEMA_VERSION == 5
    after = raw(copy)
    assert set(after["tables"]) - set(before["tables"]) == {
        "consent_records",
        "privacy_log_records",
    }
    for kind in (*KINDS, "lookup_keys", "removed_records", "indexed_rules"):
        assert after[kind] == before[kind], kind
    with SQLiteStore(copy):  # opening again migrates nothing more
        pass
    assert raw(copy) == after


def test_the_migrated_database_stores_consents_and_the_privacy_log(copy: Path) -> None:
    consent = Consent(
        id="C1",
        subject_id="L2",
        channel="email",
        purpose="newsletter",
        status="granted",
        captured_at=T0,
    )
    entry = PrivacyLogEntry(id="P1", kind="find", subject_hash="ab" * 32, at=T0)
    with SQLiteStore(copy) as store:
        with SQLiteUnitOfWork(store) as uow:
            lead = uow.leads.get("L2")
            assert lead is not None
            assert uow.trigger_states.get("triggers") is not None
            uow.consents.add(consent)
            uow.privacy_log.add(entry)
            uow.commit()
        with SQLiteUnitOfWork(store) as uow:
            assert uow.consents.find_by_keys(["subject:L2"]) == [consent]
            assert uow.privacy_log.find_by_keys(["hash:" + "ab" * 32]) == [entry]
            assert uow.leads.get("L2") == lead
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == SHA256


def test_a_failed_migration_leaves_schema_4_untouched(copy: Path) -> None:
    connection = sqlite3.connect(copy)
    connection.execute("CREATE TABLE consent_records (id TEXT)")  # in the migration's way
    connection.commit()
    connection.close()
    before = raw(copy)
    with pytest.raises(Exception):  # noqa: B017 - SQLite's error, translated
        SQLiteStore(copy)
    assert raw(copy) == before
