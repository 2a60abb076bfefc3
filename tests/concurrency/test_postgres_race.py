"""Race-free duplicate checks on PostgreSQL across processes (issue 20, item 2).

Eight real processes (``multiprocessing``, spawn: fresh interpreters) each open their own
store and capture the same people at the same moments — one barrier per person — through
``services.capture_lead`` with the standard duplicate rule, alternately as Robert at work
and Bob on gmail (forms sharing no email: duplicates by the rule's blocking keys only).
Every person must end up as exactly one lead, created by exactly one capture, and every
capture acknowledged as created must be stored.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections import defaultdict

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'leadmodel[postgres]'")

from pg_race_worker import run

from leadmodel import STANDARD_LEAD_RULE
from leadmodel.adapters.postgres import PostgresStore

WORKERS = 8
PEOPLE = 12


def test_eight_processes_capturing_the_same_people_create_one_lead_each(postgres_schema_url):
    with PostgresStore(postgres_schema_url) as store:
        store.index_rules([STANDARD_LEAD_RULE])
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=run, args=(postgres_schema_url, n, PEOPLE, barrier, results))
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = {}
    try:
        for _ in processes:
            worker, state, outcome = results.get(timeout=240)
            reports[worker] = (state, outcome)
    except queue.Empty:
        pytest.fail(f"workers hung; reported: {sorted(reports)}")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = {n: outcome for n, (state, outcome) in reports.items() if state != "ok"}
    assert errors == {}, errors

    created = defaultdict(list)
    conflicts = 0
    for _state, outcomes in reports.values():
        for k, status, lead, refused in outcomes:
            conflicts += refused
            if status in ("created", "pending_approval"):
                created[k].append(lead)
    with PostgresStore(postgres_schema_url) as store, store.unit_of_work() as uow:
        leads = list(uow.leads)
    by_person = defaultdict(list)
    for lead in leads:
        by_person[lead.company].append(lead.id)
    assert {company: ids for company, ids in by_person.items() if len(ids) > 1} == {}
    assert sorted(by_person) == sorted(f"Company {k}" for k in range(PEOPLE))
    assert {k: ids for k, ids in created.items() if len(ids) != 1} == {}
    assert sorted(created) == list(range(PEOPLE)), "a person was never created"
    stored = {lead.id for lead in leads}
    assert {ids[0] for ids in created.values()} == stored, "an acknowledged capture was lost"
    assert len(leads) == PEOPLE
    # The race was real: commits were refused and the captures ran again.
    assert conflicts > 0
