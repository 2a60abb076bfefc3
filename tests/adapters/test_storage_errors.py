"""A database that cannot be used raises one clear StorageError, never a raw sqlite3 error.

Each case (issue 14, "Raw storage errors") raises its own subclass, whose message names the
path and says what to do, and leaves no stray file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from leadmodel import (
    DatabaseDamaged,
    DatabaseUnwritable,
    InvalidDatabasePath,
    Lead,
    NotADatabase,
    SchemaTooNew,
    StorageError,
)
from leadmodel.adapters.sqlite import SCHEMA_VERSION, SQLiteStore, SQLiteUnitOfWork

# What each message must tell the user to do.
ADVICE = {
    DatabaseDamaged: "backup",
    NotADatabase: "new file name",
    SchemaTooNew: "upgrade leadmodel",
    DatabaseUnwritable: "writable",
    InvalidDatabasePath: "",  # checked case by case below
}


def _database(path: Path, leads: int = 300) -> Path:
    """A leadmodel database of *leads* leads, checkpointed into the one file."""
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        for n in range(leads):
            uow.leads.add(Lead(id=f"L{n:04d}", last_name="Lovelace" * 5, company="Acme"))
        uow.commit()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


def _use(path: object) -> None:
    """Open *path*, read every lead and write one: what any command does."""
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:  # type: ignore[arg-type]
        list(uow.leads)
        uow.leads.add(Lead(id="NEW", last_name="Ng", company="Acme"))
        uow.commit()


def _refused(error: type[StorageError], path: object, shown: str) -> StorageError:
    with pytest.raises(StorageError) as caught:
        _use(path)
    raised = caught.value
    assert type(raised) is error, f"{type(raised).__name__}: {raised}"
    assert not isinstance(raised, sqlite3.Error)
    assert shown in str(raised), f"the message does not name {shown!r}: {raised}"
    assert ADVICE[error] in str(raised), f"the message does not say what to do: {raised}"
    return raised


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("keep", [100, 4096, 3 * 4096, "half", "one page less"])
def test_a_truncated_database_is_damaged(folder, keep):
    path = _database(folder / "leads.db")
    size = path.stat().st_size
    cut = {"half": size // 2, "one page less": size - 4096}.get(keep, keep)
    os.truncate(path, cut)  # type: ignore[arg-type]
    _refused(DatabaseDamaged, path, str(path))


def test_random_bytes_are_not_a_database(folder):
    path = folder / "random.db"
    path.write_bytes(os.urandom(16 * 1024))
    _refused(NotADatabase, path, str(path))
    assert path.stat().st_size == 16 * 1024, "the file was changed"


def test_a_text_file_is_not_a_database(folder):
    path = folder / "notes.db"
    path.write_text("first_name,last_name\nAda,Lovelace\n" * 100)
    before = path.read_bytes()
    _refused(NotADatabase, path, str(path))
    assert path.read_bytes() == before, "the file was changed"


def test_another_programs_sqlite_database_is_refused_untouched(folder):
    path = folder / "inventory.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO parts (name) VALUES ('bolt')")
    connection.close()
    error = _refused(NotADatabase, path, str(path))
    assert "another program" in str(error)
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    connection.close()
    assert tables == ["parts"], "leadmodel tables were added to another program's database"
    assert version == 0


def test_a_database_from_a_newer_leadmodel_is_refused(folder):
    path = _database(folder / "leads.db", leads=3)
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    connection.close()
    error = _refused(SchemaTooNew, path, str(path))
    assert (error.found, error.supported) == (SCHEMA_VERSION + 7, SCHEMA_VERSION)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", [None, 42, b"leads.db", "", "lead\x00s.db"])
def test_a_path_that_is_not_a_path_is_refused_and_creates_nothing(folder, path):
    with pytest.raises(InvalidDatabasePath) as caught:
        _use(path)
    assert not isinstance(caught.value, sqlite3.Error)
    assert "path" in str(caught.value)
    assert list(folder.iterdir()) == [], "a file was created"
    assert not Path("None").exists()


def test_a_directory_is_refused(folder):
    (folder / "leads").mkdir()
    error = _refused(InvalidDatabasePath, folder / "leads", "leads")
    assert "directory" in str(error)
    assert "give a database file" in str(error)
    assert list((folder / "leads").iterdir()) == []


def test_a_missing_folder_is_refused_and_not_created(folder):
    path = folder / "no" / "such" / "folder" / "leads.db"
    error = _refused(InvalidDatabasePath, path, str(path))
    assert "does not exist" in str(error)
    assert "create it" in str(error)
    assert not (folder / "no").exists()


def test_a_read_only_database_reads_but_refuses_to_write(folder):
    path = _database(folder / "leads.db", leads=3)
    uri = f"file:{path}?mode=ro"
    with SQLiteStore(uri) as store, SQLiteUnitOfWork(store) as uow:
        assert len(list(uow.leads)) == 3, "a read-only database must still be readable"
    error = _refused(DatabaseUnwritable, uri, str(path))
    assert isinstance(error, PermissionError)
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        assert uow.leads.get("NEW") is None


_CHILD = """
import json, sys
from leadmodel import Lead, LeadModelError
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
try:
    with SQLiteStore(sys.argv[1]) as store, SQLiteUnitOfWork(store) as uow:
        list(uow.leads)
        uow.leads.add(Lead(id="NEW", last_name="Ng", company="Acme"))
        uow.commit()
    print(json.dumps({"error": None}))
except Exception as error:
    print(json.dumps({
        "error": type(error).__name__,
        "leadmodel": isinstance(error, LeadModelError),
        "message": str(error),
    }))
"""


@pytest.mark.skipif(not hasattr(os, "setuid"), reason="POSIX only")
def test_a_database_the_user_may_not_write_is_unwritable_for_an_unprivileged_process():
    if os.geteuid() != 0:
        pytest.skip("not root: run a child as another user only when root (CI)")
    folder = Path(tempfile.mkdtemp(prefix="leadmodel-ro-"))
    try:
        folder.chmod(0o755)  # others may read and enter, not write
        path = _database(folder / "leads.db", leads=3)
        path.chmod(0o644)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        src = str(Path(__file__).resolve().parents[2] / "src")
        try:
            child = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path)],
                preexec_fn=as_nobody,
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "PYTHONPATH": src},
                check=False,
            )
        except OSError as error:
            reason = f"the interpreter {sys.executable} is not accessible to uid 65534: {error}"
            print(reason)  # noqa: T201 - the reason is printed as well as skipped
            pytest.skip(reason)
        if child.returncode != 0 or not child.stdout.strip():
            reason = f"a uid 65534 child cannot run leadmodel here: {child.stderr[-400:]}"
            print(reason)  # noqa: T201 - the reason is printed as well as skipped
            pytest.skip(reason)
        outcome = json.loads(child.stdout.strip().splitlines()[-1])
        assert outcome["error"] == "DatabaseUnwritable", outcome
        assert str(path) in outcome["message"], outcome
        assert "writable" in outcome["message"], outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)
