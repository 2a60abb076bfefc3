"""A database written by release 852834c (SQLite schema 3) opens, migrated to schema 4 and on.

The fixture is tests/fixtures/release-852834c-schema3.db, written by
tests/fixtures/make_schema3_fixture.py run with that release; only copies are opened.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadmodel import Condition, Notify, TimeTrigger, TriggerClock
from leadmodel.adapters.memory import MemoryNotifier, SequentialIds
from leadmodel.adapters.sqlite import SCHEMA_VERSION, SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import run_due

FIXTURE = Path(__file__).parents[1] / "fixtures" / "release-852834c-schema3.db"
SHA256 = "96425b6487d9345df41625435773636980f8185c1c27dc7e77587156f6e6f7ab"
KINDS = ("lead", "contact", "account", "opportunity", "activity", "merge")


def raw(path: Path) -> dict[str, Any]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows: dict[str, Any] = {
            kind: connection.execute(
                f"SELECT id, version, data FROM {kind}_records ORDER BY id"  # noqa: S608
            ).fetchall()
            for kind in KINDS
        }
        rows["lookup_keys"] = connection.execute(
            "SELECT kind, key, id, sort FROM lookup_keys ORDER BY kind, key, id"
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
    target = tmp_path / "schema3.db"
    shutil.copyfile(FIXTURE, target)
    return target


def test_the_fixture_is_the_schema_3_file_the_release_wrote() -> None:
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == SHA256
    assert raw(FIXTURE)["user_version"] == 3


def test_opening_adds_the_trigger_state_table_and_keeps_every_row(copy: Path) -> None:
    before = raw(copy)
    with SQLiteStore(copy) as store:
        assert store.schema_version == SCHEMA_VERSION
    after = raw(copy)
    assert set(after["tables"]) - set(before["tables"]) == {
        "trigger_state_records",  # schema 4
        "consent_records",  # schema 5
        "privacy_log_records",
    }
    for kind in (*KINDS, "lookup_keys"):
        assert after[kind] == before[kind], kind
    with SQLiteStore(copy):  # opening again migrates nothing more
        pass
    assert raw(copy) == after


def test_run_due_works_over_the_migrated_database(copy: Path) -> None:
    stale = TimeTrigger(
        "no activity in 14 days",
        Condition("status", "eq", "Open - Not Contacted"),
        TriggerClock.last_activity(),
        timedelta(days=14),
        [Notify("owner", "stale_lead")],
    )
    now = datetime(2026, 4, 1, tzinfo=UTC)
    with SQLiteStore(copy) as store:
        run = run_due(
            SQLiteUnitOfWork(store),
            [stale],
            notifier=MemoryNotifier(),
            ids=SequentialIds(),
            now=now,
        )
        assert sorted(o.action.record_id for o in run.outcomes) == ["L1", "L2", "L3", "L4", "L5"]
        with SQLiteUnitOfWork(store) as uow:
            assert uow.trigger_states.get("triggers") == run.state
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == SHA256
