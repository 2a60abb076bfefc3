"""What the previous release (5ff17be) wrote still opens and reads the same.

The fixtures in ``tests/fixtures/`` were written by that release with
``tests/fixtures/make_previous_release_fixtures.py`` (see its docstring: it is run with the
previous release installed, never with this code). Here the current code:

* opens a copy of its SQLite database (schema 1), which migrates it to the current schema
  by adding what is new, keeping every record, its version, its stored JSON and its
  lookup keys exactly (a migration, not a silent rewrite), and leaves the committed
  fixture's bytes alone;
* reads every record back equal to the manifest (``expected.json``, that release's
  ``to_dict`` of each) and to the same records rebuilt here with the same builders;
* loads every JSON fixture with ``from_json`` into an object equal to the one rebuilt here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

import leadmodel
from leadmodel import ConversionRecord, ConversionResult, Lead, from_dict, from_json, to_json
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SCHEMA_VERSION, SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import convert_lead

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_spec = importlib.util.spec_from_file_location(
    "make_previous_release_fixtures", FIXTURES / "make_previous_release_fixtures.py"
)
assert _spec is not None
assert _spec.loader is not None
builders: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builders)

DATABASE: Path = builders.DATABASE
MANIFEST: dict[str, Any] = json.loads(builders.MANIFEST.read_text(encoding="utf-8"))
KINDS: tuple[str, ...] = builders.KINDS
CLASSES = {
    "lead": leadmodel.Lead,
    "contact": leadmodel.Contact,
    "account": leadmodel.Account,
    "opportunity": leadmodel.Opportunity,
    "activity": leadmodel.Activity,
}
# Changed on the converted lead by the conversion, so not compared with the rebuilt one.
CONVERSION_FIELDS = frozenset({"status", "converted", "updated_at", "lifecycle_stage"})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def repositories(uow: SQLiteUnitOfWork) -> dict[str, Any]:
    return {
        "lead": uow.leads,
        "contact": uow.contacts,
        "account": uow.accounts,
        "opportunity": uow.opportunities,
        "activity": uow.activities,
    }


def raw_rows(path: Path) -> dict[str, Any]:
    """Every record row (id, version, JSON) and lookup key, read with sqlite3 alone."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows: dict[str, Any] = {
            kind: connection.execute(
                f"SELECT id, version, data FROM {kind}_records ORDER BY id"  # noqa: S608
            ).fetchall()
            for kind in KINDS
        }
        rows["lookup_keys"] = connection.execute(
            "SELECT kind, key, id FROM lookup_keys ORDER BY kind, key, id"
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
    """The fixture database copied to *tmp_path*: the committed file is never opened."""
    target = tmp_path / DATABASE.name
    shutil.copyfile(DATABASE, target)
    return target


@pytest.fixture
def store(copy: Path):
    opened = SQLiteStore(copy)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def fixture_untouched():
    """Whatever a test does, the committed fixture's bytes stay those the manifest names."""
    yield
    assert sha256(DATABASE) == MANIFEST["database"]["sha256"]
    assert not Path(f"{DATABASE}-wal").exists()
    assert not Path(f"{DATABASE}-shm").exists()


def test_the_fixtures_are_those_the_previous_release_wrote():
    database = MANIFEST["database"]
    assert MANIFEST["release"] == "5ff17be"
    assert database["schema_version"] == 1
    assert sha256(DATABASE) == database["sha256"]
    written = [DATABASE, *builders.DOCUMENTS.iterdir()]
    assert sum(p.stat().st_size for p in written) < 300_000
    assert sorted(p.name for p in builders.DOCUMENTS.glob("*.json")) == sorted(
        [*(d["file"] for d in MANIFEST["documents"].values()), "expected.json"]
    )


def test_opening_migrates_schema_1_to_the_current_schema(copy: Path):
    before = raw_rows(copy)
    assert before["user_version"] == 1
    assert SCHEMA_VERSION >= 2
    with SQLiteStore(copy) as store:
        assert store.schema_version == SCHEMA_VERSION
    after = raw_rows(copy)
    assert after["user_version"] == SCHEMA_VERSION
    assert set(before["tables"]) < set(after["tables"])  # tables added, none dropped
    assert "merge_records" in after["tables"]
    with SQLiteStore(copy) as again:  # opening a migrated file migrates nothing more
        assert again.schema_version == SCHEMA_VERSION
    assert raw_rows(copy) == after


def test_the_migration_keeps_every_row_as_it_was(copy: Path):
    """Every record's id, version and stored JSON, and every lookup key, byte for byte."""
    before = raw_rows(copy)
    SQLiteStore(copy).close()
    after = raw_rows(copy)
    for kind in (*KINDS, "lookup_keys"):
        assert after[kind] == before[kind], kind
    assert len(before["lookup_keys"]) > 0


def test_every_record_reads_back_as_the_manifest_says(store: SQLiteStore):
    expected = MANIFEST["database"]["records"]
    with SQLiteUnitOfWork(store) as uow:
        for kind, repository in repositories(uow).items():
            cls = CLASSES[kind]
            assert store.count(kind) == MANIFEST["database"]["counts"][kind] > 0
            stored = {record.id: record for record in repository}
            assert sorted(stored) == sorted(expected[kind])
            for record_id, data in expected[kind].items():
                assert stored[record_id] == from_dict(cls, data), record_id
                assert repository.get(record_id) == stored[record_id]
                assert leadmodel.to_dict(stored[record_id]) == data, record_id


def test_every_record_equals_the_one_rebuilt_here(store: SQLiteStore):
    converted = MANIFEST["database"]["converted_lead"]
    contact_id = MANIFEST["database"]["created_by_conversion"]["contact"]
    with SQLiteUnitOfWork(store) as uow:
        by_kind = repositories(uow)
        for kind, records in builders.records().items():
            for rebuilt in records:
                stored = by_kind[kind].get(rebuilt.id)
                assert stored is not None, rebuilt.id
                if rebuilt.id == converted:
                    for field in attrs.fields(Lead):
                        if field.name not in CONVERSION_FIELDS:
                            assert getattr(stored, field.name) == getattr(rebuilt, field.name)
                    assert stored.status == "Closed - Converted"
                elif kind == "activity" and rebuilt.subject_id == converted:
                    # the conversion moved the lead's activities to its contact
                    assert stored == attrs.evolve(rebuilt, subject_id=contact_id)
                else:
                    assert stored == rebuilt, rebuilt.id


def test_the_converted_lead_and_its_records(store: SQLiteStore):
    created = MANIFEST["database"]["created_by_conversion"]
    result = from_json(
        ConversionResult,
        (builders.DOCUMENTS / "conversion_result.json").read_text(encoding="utf-8"),
    )
    with SQLiteUnitOfWork(store) as uow:
        lead = uow.leads.get(MANIFEST["database"]["converted_lead"])
        assert lead is not None
        assert lead.is_converted
        assert lead.converted == ConversionRecord(
            account_id=created["account"],
            contact_id=created["contact"],
            opportunity_id=created["opportunity"],
            converted_at=builders.CONVERTED_AT,
            status="Closed - Converted",
        )
        assert result.lead == lead
        assert result.account == uow.accounts.get(created["account"])
        assert result.contact == uow.contacts.get(created["contact"])
        assert result.opportunity == uow.opportunities.get(created["opportunity"])
        moved = [a for a in uow.activities if a.subject_id == created["contact"]]
        assert len(moved) == 2


def test_a_migrated_database_takes_new_work_and_finds_old_records(copy: Path):
    with SQLiteStore(copy) as store:
        with SQLiteUnitOfWork(store) as uow:
            old = uow.leads.get("L-001")
            assert old is not None
            assert old.email is not None
            assert [r.id for r in uow.leads.find_by_keys([f"email:{old.email}"])] == ["L-001"]
            uow.leads.update(attrs.evolve(old, rating="Cold"))
            uow.leads.add(Lead(id="L-NEW", last_name="Turing", company="Bletchley"))
            uow.commit()
        leads = MANIFEST["database"]["counts"]["lead"]
        assert store.count("lead") == leads + 1
    with SQLiteStore(copy) as again, SQLiteUnitOfWork(again) as uow:
        updated = uow.leads.get("L-001")
        assert updated is not None
        assert updated.rating == "Cold"
        assert uow.leads.get("L-NEW") is not None
        assert len(uow.leads) == leads + 1


DOCUMENT_NAMES = sorted(MANIFEST["documents"])


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_every_json_fixture_loads(name: str):
    entry = MANIFEST["documents"][name]
    cls = getattr(leadmodel, entry["type"])
    text = (builders.DOCUMENTS / entry["file"]).read_text(encoding="utf-8")
    loaded = from_json(cls, text)
    assert isinstance(loaded, cls)
    assert from_json(cls, to_json(loaded)) == loaded


@pytest.mark.parametrize("name", sorted(builders.documents()))
def test_every_json_fixture_equals_the_object_rebuilt_here(name: str):
    cls, rebuilt = builders.documents()[name]
    assert MANIFEST["documents"][name]["type"] == cls.__name__
    text = (builders.DOCUMENTS / f"{name}.json").read_text(encoding="utf-8")
    assert from_json(cls, text) == rebuilt


def test_the_merge_result_keeps_its_originals():
    text = (builders.DOCUMENTS / "merge_result.json").read_text(encoding="utf-8")
    loaded = from_json(leadmodel.MergeResult, text)
    first, second, third = builders.leads()[0:3]
    assert loaded.originals == (first, second, third)
    assert loaded.survivor.id == "L-001"
    assert loaded.absorbed_ids == ("L-002", "L-003")
    assert leadmodel.unmerge(loaded) == (first, second, third)


def test_the_conversion_result_equals_one_rebuilt_here():
    """The same conversion, run now on the same records, gives the result that was saved."""
    uow = MemoryUnitOfWork()
    with uow:
        for kind, records in builders.records().items():
            repository = {
                "lead": uow.leads,
                "contact": uow.contacts,
                "account": uow.accounts,
                "opportunity": uow.opportunities,
                "activity": uow.activities,
            }[kind]
            for record in records:
                repository.add(record)
        uow.commit()
    outcome = convert_lead(
        uow,
        builders.CONVERTED_LEAD,
        builders.convert_options(),
        ids=SequentialIds(prefix="conv-"),
        now=builders.CONVERTED_AT,
    )
    text = (builders.DOCUMENTS / "conversion_result.json").read_text(encoding="utf-8")
    assert from_json(ConversionResult, text) == outcome.result
