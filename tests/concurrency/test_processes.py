"""Real processes on one real SQLite file (issue 14, "Fault tests with real processes").

Each worker is a fresh interpreter running ``worker.py`` (``subprocess``: nothing is
inherited, as with the spawn start method) that opens the file itself. Afterwards the
file is compared with the workers' logs of acknowledged writes.

The workers go through the captured people at one pace, and when a person's turn comes
each captures them at that moment, as Robert (work email) or as Bob (gmail): forms that
share no email, duplicates only by the rule's blocking keys. Their units of work pause a
little before committing, so that the re-validated searches are what keeps one person from
being stored twice. Edits, rescores (a score that follows the edited field) and merges run
meanwhile; every acknowledged write is logged.

The mixed workload runs on a SQLite file and again on PostgreSQL (a schema on the test
server, issue 20). Default: 4 workers for about 8 seconds. ``LEADMODEL_LONG=1`` (or
``--long`` where it is registered): 8 workers for 60 seconds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadmodel import (
    STANDARD_LEAD_RULE,
    ConcurrencyError,
    DatabaseBusy,
    EmailAddress,
    Lead,
    services,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

sys.path.insert(0, str(Path(__file__).parent))
from worker import open_store, unit_of

WORKER = Path(__file__).with_name("worker.py")
LONG = os.environ.get("LEADMODEL_LONG") == "1"
WORKERS = 8 if LONG else 4
SECONDS = 60.0 if LONG else 8.0
# Captured persons, shared by every worker and taken at one pace, so that several
# processes capture the same new person at once.
PEOPLE = 240 if LONG else 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _start(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _read_logs(paths: list[Path]) -> list[dict]:
    entries = []
    for path in paths:
        if path.exists():
            entries += [json.loads(line) for line in path.read_text().splitlines() if line]
    return entries


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


# -- N processes capturing, editing, rescoring and merging -------------------------------


def _postgres_schema(request) -> str:
    """A fresh schema on the test server (the ``postgres_url`` fixture), as a URL."""
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    import psycopg

    url = request.getfixturevalue("postgres_url")
    schema = f"workload_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def workload(request, tmp_path_factory):
    """Run the workers once per store; the tests below check the outcome from several sides.

    The same workload runs on a SQLite file and on PostgreSQL (issue 20), each worker
    opening its own store (``worker.open_store``).
    """
    folder = tmp_path_factory.mktemp("workload")
    db = str(folder / "leads.db") if request.param == "sqlite" else _postgres_schema(request)
    with open_store(db) as store:
        store.index_rules([STANDARD_LEAD_RULE])
    # Every worker imported and connected by then (psycopg and a pool take longer).
    start = time.time() + (1.5 if request.param == "sqlite" else 4.0)
    logs = [folder / f"worker{n}.jsonl" for n in range(WORKERS)]
    workers = [
        _start(
            "mixed", str(db), str(log), str(n), str(1000 + n), str(start), str(SECONDS), str(PEOPLE)
        )
        for n, log in enumerate(logs)
    ]
    failures = []
    for n, worker in enumerate(workers):
        try:
            _, stderr = worker.communicate(timeout=SECONDS + 120)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, stderr = worker.communicate()
            failures.append(f"worker {n} hung: {stderr[-2000:]}")
            continue
        if worker.returncode != 0:
            failures.append(f"worker {n} exited {worker.returncode}: {stderr[-2000:]}")
    assert not failures, "\n".join(failures)
    entries = _read_logs(logs)
    with open_store(db) as store, unit_of(store) as uow:
        stored = {
            "leads": {lead.id: lead for lead in uow.leads},
            "activities": {a.id: a for a in uow.activities},
            "merges": {m.id: m for m in uow.merges},
            "others": {
                r.id for repo in (uow.contacts, uow.accounts, uow.opportunities) for r in repo
            },
        }
    return {"db": db, "entries": entries, **stored}


def _ops(workload, op):
    return [entry for entry in workload["entries"] if entry["op"] == op]


def test_every_worker_ran_to_the_end_without_an_unexpected_error(workload):
    assert len(_ops(workload, "done")) == WORKERS
    errors = _ops(workload, "error")
    assert errors == [], errors
    counts = {op: len(_ops(workload, op)) for op in ("capture", "edit", "rescore", "merge")}
    assert all(counts.values()), f"an operation never succeeded: {counts}"


def test_the_file_passes_sqlite_integrity_check(workload):
    if workload["db"].startswith("postgresql://"):
        pytest.skip("a PostgreSQL database: no file to check")
    assert integrity(workload["db"]) == "ok"


def test_every_acknowledged_capture_is_stored_and_one_lead_per_person(workload):
    leads = workload["leads"]
    for entry in _ops(workload, "capture"):
        assert entry["lead"] in leads, f"acknowledged capture lost: {entry}"
    by_person = defaultdict(list)  # Robert's and Bob's forms: one person per company
    for lead in leads.values():
        if lead.company is not None and lead.company.startswith("Company "):
            by_person[lead.company].append(lead.id)
    twice = {company: ids for company, ids in by_person.items() if len(ids) > 1}
    assert twice == {}, f"one person captured as several leads: {twice}"
    acknowledged = defaultdict(list)
    for entry in _ops(workload, "capture"):
        acknowledged[entry["person"]].append(entry["lead"])
    created_twice = {k: ids for k, ids in acknowledged.items() if len(ids) > 1}
    assert created_twice == {}, f"two captures of one person both said created: {created_twice}"


def test_the_last_acknowledged_edit_of_each_lead_is_stored(workload):
    """The stored value is an acknowledged one that no acknowledged edit provably followed.

    Commits of different processes are ordered only by time: an edit whose commit began
    (t0) after another's acknowledgement (t1) committed after it, so the earlier one cannot
    be the stored value.
    """
    merged = {
        i for entry in _ops(workload, "merge") for i in [entry["survivor"], *entry["absorbed"]]
    }
    edits = defaultdict(list)
    for entry in _ops(workload, "edit"):
        edits[entry["lead"]].append(entry)
    problems = []
    for lead_id, written in edits.items():
        if lead_id in merged:
            continue
        lead = workload["leads"].get(lead_id)
        if lead is None:
            problems.append(f"{lead_id}: edited, then gone")
            continue
        mine = [entry for entry in written if entry["value"] == lead.description]
        if not mine:
            problems.append(f"{lead_id}: {lead.description!r} is no acknowledged edit")
            continue
        later = [entry for entry in written if entry["t0"] > mine[0]["t1"]]
        if later:
            problems.append(
                f"{lead_id}: {lead.description!r} stored, but {later[0]['value']!r} came later"
            )
    assert problems == [], problems


def test_no_rescore_wrote_back_a_description_a_later_edit_replaced(workload):
    """No lost update mid-run either, which a later edit would hide from the file.

    A rescore keeps the description it read. If its commit began (logged) after an edit E
    of the lead was acknowledged, and E began after the edit of the description it wrote
    was acknowledged, E committed in between: the rescore wrote a copy read before E.
    """
    edits = {entry["value"]: entry for entry in _ops(workload, "edit")}
    acknowledged = defaultdict(list)
    for entry in edits.values():
        acknowledged[entry["lead"]].append(entry)
    problems = []
    for entry in _ops(workload, "rescore"):
        for began, written in entry["written"]:
            for lead_id, description in written.items():
                old = edits.get(description)
                if old is None or old["lead"] != lead_id:
                    continue
                later = [e for e in acknowledged[lead_id] if old["t1"] < e["t0"] < e["t1"] < began]
                if later:
                    replaced = later[-1]["value"]
                    problems.append(f"{lead_id}: a rescore wrote {description!r} over {replaced!r}")
    assert problems == [], problems[:10]


def test_the_last_acknowledged_score_of_each_lead_is_stored(workload):
    """As for edits: a rescore's scores are acknowledged when the call returns."""
    scores = defaultdict(list)
    for entry in _ops(workload, "rescore"):
        for lead_id, value in entry["scores"].items():
            scores[lead_id].append({**entry, "value": value})
    assert scores, "no rescore saved anything"
    problems = []
    for lead_id, written in scores.items():
        stored = workload["leads"][lead_id].custom.get("score")
        value = None if stored is None else float(stored)
        mine = [entry for entry in written if entry["value"] == value]
        if not mine:
            problems.append(f"{lead_id}: score {stored} is no acknowledged rescore")
            continue
        if not any(
            not [w for w in written if w["t0"] > entry["t1"] and w["value"] != value]
            for entry in mine
        ):
            problems.append(f"{lead_id}: score {stored} stored, a later rescore was lost")
    assert problems == [], problems


def test_every_acknowledged_merge_is_stored_whole(workload):
    leads, activities, merges = workload["leads"], workload["activities"], workload["merges"]
    calls = {entry["leads"][1]: entry["activity"] for entry in _ops(workload, "pair")}
    for entry in _ops(workload, "merge"):
        assert entry["survivor"] in leads, entry
        for absorbed in entry["absorbed"]:
            assert absorbed not in leads, f"absorbed lead still stored: {entry}"
            call = calls[absorbed]
            assert activities[call].subject_id == entry["survivor"], f"activity not moved: {entry}"
        assert entry["merge_id"] in merges, f"merge record lost: {entry}"


def test_no_activity_points_at_a_missing_record(workload):
    present = set(workload["leads"]) | workload["others"]
    orphans = sorted(a.id for a in workload["activities"].values() if a.subject_id not in present)
    assert orphans == [], f"activities of missing records: {orphans}"


# -- the lost update of the issue, with two processes -----------------------------------


def test_a_write_based_on_an_iteration_in_another_process_is_refused(tmp_path):
    db = tmp_path / "leads.db"
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", title="Engineer"))
        uow.leads.add(Lead(id="L2", last_name="Lee", company="Acme"))
        uow.commit()
    first = _start("read-then-score", str(db), stdin=subprocess.PIPE)
    try:
        assert first.stdout.readline().strip() == "read", first.stderr.read()
        # Process B: another interpreter, another connection, updates the title.
        code = (
            "import sys, attrs\n"
            "from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork\n"
            "with SQLiteStore(sys.argv[1]) as store, SQLiteUnitOfWork(store) as uow:\n"
            "    lead = uow.leads.get('L1')\n"
            "    uow.leads.update(attrs.evolve(lead, title='Head of Engineering'))\n"
            "    uow.commit()\n"
        )
        second = subprocess.run(
            [sys.executable, "-c", code, str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        out, err = first.communicate("go\n", timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["outcome"] == "ConcurrencyError", (outcome, err)
    assert any("L1" in record for record in outcome["records"])
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        lead = uow.leads.get("L1")
    assert lead.title == "Head of Engineering", "B's title was lost"
    assert "score" not in lead.custom, "A's refused write was stored"


# -- an activity attached while its lead is merged away, two processes -------------------


def test_an_activity_attached_while_its_lead_is_merged_away_is_never_orphaned(tmp_path):
    db = tmp_path / "leads.db"
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        for lead_id, email in (("L1", "ada@acme.io"), ("L2", "ada.lovelace@acme.io")):
            uow.leads.add(
                Lead(
                    id=lead_id,
                    first_name="Ada",
                    last_name="Lovelace",
                    company="Acme",
                    email=EmailAddress.parse(email),
                )
            )
        uow.commit()
    attaching = _start("attach-paused", str(db), "ada.lovelace@acme.io", stdin=subprocess.PIPE)
    try:
        assert attaching.stdout.readline().strip() == "paused", attaching.stderr.read()
        with SQLiteStore(db) as store:  # this process merges L2 away meanwhile
            services.merge_records(SQLiteUnitOfWork(store), ["L1", "L2"], master="L1", now=NOW)
        out, err = attaching.communicate("go\n", timeout=60)
    finally:
        if attaching.poll() is None:
            attaching.kill()
            attaching.communicate()
    assert attaching.returncode == 0, err
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        leads = {lead.id for lead in uow.leads}
        orphans = [a.id for a in uow.activities if a.subject_id not in leads]
    assert orphans == [], f"activity attached to the merged-away lead: {orphans} ({out})"


# -- a busy file -------------------------------------------------------------------------


def test_a_file_locked_by_another_process_raises_database_busy(tmp_path):
    db = tmp_path / "leads.db"
    SQLiteStore(db).close()
    holder = _start("hold-lock", str(db), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        store = SQLiteStore(db, timeout=0.2)
        try:
            with SQLiteUnitOfWork(store) as uow:
                uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
                started = time.monotonic()
                with pytest.raises(DatabaseBusy) as caught:
                    uow.commit()
                waited = time.monotonic() - started
            assert isinstance(caught.value, ConcurrencyError)
            assert not isinstance(caught.value, sqlite3.Error)
            assert str(db) in str(caught.value)
            assert "retry" in str(caught.value)
            assert 0.1 < waited < 5, f"waited {waited:.2f}s for a 0.2s timeout"
            holder.communicate("release\n", timeout=60)
            # Nothing was written; once the other writer is gone, the same store commits.
            with SQLiteUnitOfWork(store) as uow:
                assert uow.leads.get("L1") is None
                uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
                uow.commit()
            with SQLiteUnitOfWork(store) as uow:
                assert uow.leads.get("L1") is not None
        finally:
            store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
