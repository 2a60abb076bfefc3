"""``kill -9`` in the middle of commits, again and again, on one real SQLite file.

A child process (``worker.py batches``) commits batches in a loop: each batch adds
``BATCH`` leads carrying its batch id and an activity, and moves the counter lead ``CTR``
on to it, in one commit, then logs the batch (unbuffered, so the log outlives the kill).
The parent SIGKILLs it at seeded random moments and reopens the file each time:

- the database opens and ``PRAGMA integrity_check`` is ok;
- each batch is all or nothing: present on all its leads and its activity, or absent;
- ``CTR`` names the newest batch present (the update committed with the adds);
- every batch the child acknowledged is present.

And the same with a child indexing new duplicate rules, each back-filled over thousands
of stored leads: a rule is indexed whole (every lead's keys, and its definition) or not at
all, and every rule the child acknowledged is there.

Default: 20 kills of batches and 8 of back-fills. ``LEADMODEL_LONG=1`` (or ``--long``
where registered): 100 and 40.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import attrs

from leadmodel import STANDARD_LEAD_RULE, EmailAddress, Lead
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

WORKER = Path(__file__).with_name("worker.py")
LONG = os.environ.get("LEADMODEL_LONG") == "1"
KILLS = 100 if LONG else 20
BACKFILL_KILLS = 40 if LONG else 8
BATCH = 5  # worker.BATCH


def _state(db: Path) -> tuple[Counter, set[str], str | None, str]:
    """Leads per batch, batches with an activity, CTR's batch, integrity_check."""
    connection = sqlite3.connect(db)
    try:
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        leads = Counter(
            batch
            for (batch,) in connection.execute(
                "SELECT json_extract(data, '$.custom.batch') FROM lead_records WHERE id != 'CTR'"
            )
        )
        calls = {
            record_id.removesuffix("-act")
            for (record_id,) in connection.execute("SELECT id FROM activity_records")
        }
        (last,) = connection.execute(
            "SELECT json_extract(data, '$.custom.last') FROM lead_records WHERE id = 'CTR'"
        ).fetchone()
    finally:
        connection.close()
    return leads, calls, last, check


def test_kill_9_mid_commit_never_leaves_half_a_batch_or_loses_an_acknowledged_one(tmp_path):
    db, log = tmp_path / "leads.db", tmp_path / "acknowledged.jsonl"
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        uow.leads.add(Lead(id="CTR", last_name="Counter", company="Kill Co"))
        uow.commit()
    chance = random.Random(14)  # noqa: S311 - seeded kill moments, reproducible
    unacknowledged = 0
    for run in range(KILLS):
        _run_and_kill(
            [sys.executable, str(WORKER), "batches", str(db), str(log), str(run)], chance, run
        )

        # The database opens through leadmodel, and reads.
        with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
            assert uow.leads.get("CTR") is not None
        leads, calls, last, check = _state(db)
        assert check == "ok", f"run {run}: integrity_check: {check}"
        partial = {batch: n for batch, n in leads.items() if n != BATCH}
        assert partial == {}, f"run {run}: batches stored in part: {partial}"
        assert calls == set(leads), (
            f"run {run}: activities and leads disagree: {calls ^ set(leads)}"
        )
        assert last == (max(leads) if leads else None), f"run {run}: CTR says {last}"
        acknowledged = [json.loads(line)["batch"] for line in log.read_text().splitlines()]
        lost = sorted(set(acknowledged) - set(leads))
        assert lost == [], f"run {run}: acknowledged batches lost: {lost}"
        mine = [batch for batch in leads if batch.startswith(f"r{run:03d}-")]
        assert mine, f"run {run}: the child committed nothing before it was killed"
        unacknowledged += len(set(mine) - set(acknowledged))
    # Kills landing between a commit and its log line show the kills hit the commit loop.
    print(f"{KILLS} kills; {unacknowledged} batch(es) committed but killed before logged")  # noqa: T201


def _run_and_kill(command: list[str], chance: random.Random, run: int) -> None:
    """Start the child, wait for its ``ready``, SIGKILL it a seeded random moment later."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = child.stdout.readline().strip()
        assert ready == "ready", f"run {run}: the child did not start: {child.stderr.read()}"
        try:
            child.wait(timeout=chance.uniform(0.02, 0.3))
        except subprocess.TimeoutExpired:
            pass
        else:
            raise AssertionError(f"run {run}: the child exited: {child.stderr.read()}")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def test_kill_9_mid_backfill_indexes_a_rule_whole_or_not_at_all(tmp_path):
    db, log = tmp_path / "leads.db", tmp_path / "indexed.jsonl"
    leads = [
        Lead(
            id=f"L{n:05d}",
            first_name="Ada",
            last_name=f"Lovelace{n}",
            company=f"Company {n % 50}",
            email=EmailAddress.parse(f"person{n}@example.org"),
        )
        for n in range(3000)
    ]
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    # Every rule is the standard one renamed: each stores as many keys as this one (its keys
    # on the bare email or phone are the lookup keys, not stored twice).
    with SQLiteStore(":memory:") as scratch:
        scratch.index_rules([attrs.evolve(STANDARD_LEAD_RULE, name="reference")])
        compiled = scratch.rules.compiled["reference"]
        whole = sum(len(set(scratch.rules.rule_keys(compiled, lead))) for lead in leads)
    chance = random.Random(15)  # noqa: S311 - seeded kill moments, reproducible
    for run in range(BACKFILL_KILLS):
        _run_and_kill(
            [sys.executable, str(WORKER), "backfill", str(db), str(log), str(run)], chance, run
        )
        with SQLiteStore(db) as store:  # opens, and knows its rules
            indexed = set(store.rules.documents)
        connection = sqlite3.connect(db)
        try:
            check = connection.execute("PRAGMA integrity_check").fetchone()[0]
            keys = dict(
                connection.execute(
                    "SELECT substr(key, 1, instr(key, '#') - 1) AS rule, count(*) "
                    "FROM lookup_keys WHERE kind = 'lead' AND instr(key, '#') > 0 GROUP BY rule"
                ).fetchall()
            )
        finally:
            connection.close()
        assert check == "ok", f"run {run}: integrity_check: {check}"
        partial = {rule: n for rule, n in keys.items() if rule not in indexed or n != whole}
        assert partial == {}, f"run {run}: rules indexed in part ({whole} keys each): {partial}"
        assert set(keys) == indexed, f"run {run}: rules without keys: {indexed - set(keys)}"
        acknowledged = {json.loads(line)["rule"] for line in log.read_text().splitlines()}
        assert acknowledged <= indexed, (
            f"run {run}: acknowledged rules lost: {acknowledged - indexed}"
        )
