"""SQLite adapter specifics: schema versions, WAL, re-opening, indexes, failures mid-commit."""

import sqlite3

import pytest

from leadmodel import (
    DatabaseDamaged,
    EmailAddress,
    Lead,
    SchemaTooNew,
    StorageError,
    ValidationError,
)
from leadmodel.adapters.sqlite import SCHEMA_VERSION, SQLiteStore, SQLiteUnitOfWork


def lead(i):
    return Lead(
        id=f"L{i:06d}",
        last_name=f"Name{i}",
        company="Acme",
        email=EmailAddress.parse(f"p{i}@acme.io"),
        custom={"n": i},
    )


def test_a_new_file_gets_the_current_schema_in_wal_mode(tmp_path):
    store = SQLiteStore(tmp_path / "a.db")
    assert store.schema_version == SCHEMA_VERSION
    mode = store.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew) as caught:
        SQLiteStore(path)
    assert (caught.value.found, caught.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert str(path) in str(caught.value)


def test_records_survive_closing_and_reopening(tmp_path):
    path = tmp_path / "leads.db"
    leads = [lead(i) for i in range(2000)]
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        for item in leads:
            uow.leads.add(item)
        uow.commit()
    with SQLiteStore(path) as again:
        assert again.count("lead") == 2000
        with SQLiteUnitOfWork(again) as uow:
            assert list(uow.leads) == leads


def test_queried_fields_are_columns_and_keys_are_an_index_look_up():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(lead(1))
        uow.commit()
    row = store.connection.execute(
        "SELECT last_name, email, status FROM lead_records WHERE id = ?", ("L000001",)
    ).fetchone()
    assert row == ("Name1", "p1@acme.io", "Open - Not Contacted")
    plan = " ".join(
        str(step)
        for step in store.connection.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM lookup_keys WHERE kind = ? AND key IN (?)",
            ("lead", "email:p1@acme.io"),
        )
    )
    # The look-up seeks the key itself (a scan of the kind's keys would say only kind=?).
    assert "key=?" in plan


def test_a_failure_in_the_middle_of_a_commit_writes_nothing(monkeypatch):
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(lead(1))
        uow.commit()
    uow = SQLiteUnitOfWork(store)
    with uow:
        uow.leads.update(lead(1).__class__(id="L000001", last_name="Changed", company="Acme"))
        uow.leads.add(lead(2))
        original = uow.contacts._write

        def explode(connection, current):
            original(connection, current)
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(uow.contacts, "_write", explode)
        with pytest.raises(DatabaseDamaged):  # SQLite's error, as leadmodel's
            uow.commit()
    with SQLiteUnitOfWork(store) as check:
        assert check.leads.get("L000001").last_name == "Name1"
        assert check.leads.get("L000002") is None


def test_counting_an_unknown_kind_is_a_validation_error():
    with pytest.raises(ValidationError):
        SQLiteStore(":memory:").count("leads; DROP TABLE lead_records")


def test_reindex_rebuilds_lookup_keys_for_a_new_key_function():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(lead(1))
        uow.commit()
    store.keys = lambda record: (f"name:{getattr(record, 'last_name', '')}",)
    store.reindex()
    with SQLiteUnitOfWork(store) as uow:
        assert [x.id for x in uow.leads.find_by_keys(["name:Name1"])] == ["L000001"]


CHILD = """
import sys
from leadmodel import EmailAddress, Lead
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

store = SQLiteStore(sys.argv[1])
uow = SQLiteUnitOfWork(store)
batch = 0
while True:
    with uow:
        for i in range(500):
            n = batch * 500 + i
            uow.leads.add(
                Lead(id=f"L{n:07d}", last_name="Ng", company="Acme",
                     email=EmailAddress.parse(f"p{n}@acme.io"))
            )
        uow.commit()
    batch += 1
    if batch == 2:
        print("ready", flush=True)
"""


def test_killing_a_process_mid_import_leaves_whole_batches_only(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "killed.db"
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        child.send_signal(signal.SIGKILL)
        child.wait()
    with SQLiteStore(path) as store:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = store.count("lead")
        assert count >= 1000
        assert count % 500 == 0  # never half a unit of work
        keys = store.connection.execute(
            "SELECT COUNT(*) FROM lookup_keys WHERE kind = 'lead'"
        ).fetchone()[0]
        assert keys == count  # every saved lead has its key, and no key is orphaned
        with SQLiteUnitOfWork(store) as uow:
            assert uow.leads.find_by_keys(["email:p0@acme.io"])[0].id == "L0000000"


def test_a_conversion_that_fails_while_saving_leaves_no_half_in_sqlite(monkeypatch):
    from datetime import UTC, datetime

    from leadmodel import ConvertOptions
    from leadmodel.adapters.memory import SequentialIds
    from leadmodel.services import convert_lead

    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(lead(1))
        uow.commit()
    uow = SQLiteUnitOfWork(store)
    original = uow.opportunities._write

    def fail(connection, current):
        original(connection, current)
        raise sqlite3.OperationalError("disk full while saving the opportunity")

    monkeypatch.setattr(uow.opportunities, "_write", fail)
    with pytest.raises(StorageError):
        convert_lead(
            uow,
            "L000001",
            ConvertOptions("Closed - Converted"),
            ids=SequentialIds(),
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
    assert (store.count("account"), store.count("contact"), store.count("opportunity")) == (0, 0, 0)
    with SQLiteUnitOfWork(store) as check:
        assert check.leads.get("L000001").converted is None
