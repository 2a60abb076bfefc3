"""Issue 14's storage cases that the adapters and services must hold, memory and SQLite alike.

Each test is one case "seen" in the issue: a lost update through a read path that was not
version-checked, a rescore that overwrote an edit, a raw ``database is locked``, a duplicate
the store could not find by the rule's own keys, a half-applied memory commit.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    STANDARD_ACCOUNT_RULE,
    STANDARD_LEAD_RULE,
    Account,
    ConcurrencyError,
    Condition,
    DatabaseBusy,
    DuplicateAction,
    DuplicateBlocked,
    DuplicatePolicy,
    FitRule,
    KeyNotIndexed,
    Lead,
    ListView,
    ScoringModel,
    ValidationError,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import CaptureConfig, capture_lead, rescore, retrying, save

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BLOCK = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)


def robert(**changes):
    values = {"id": "L1", "first_name": "Robert", "last_name": "Smith", "company": "Acme"}
    return Lead(**{**values, **changes})


@pytest.fixture(params=["memory", "sqlite"])
def units(request, tmp_path):
    """A factory of units of work over one fresh storage; SQLite opens a store per unit,
    as separate processes would."""
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    path = tmp_path / "leads.db"
    SQLiteStore(path).close()
    return lambda: SQLiteUnitOfWork(SQLiteStore(path))


def stored(make, *records):
    with make() as uow:
        for record in records:
            uow.leads.add(record)
        uow.commit()


READS = {
    "get": lambda uow: uow.leads.get("L1"),
    "iteration": lambda uow: next(lead for lead in uow.leads if lead.id == "L1"),
    "find_by_keys": lambda uow: uow.leads.find_by_keys(["email:bob@acme.example"])[0],
}


@pytest.mark.parametrize("read", sorted(READS))
def test_a_write_based_on_any_read_path_is_checked(units, read):
    from leadmodel import EmailAddress

    stored(units, robert(email=EmailAddress.parse("bob@acme.example")))
    first, second = units(), units()
    with first, second:
        mine = READS[read](first)
        theirs = second.leads.get("L1")
        second.leads.update(attrs.evolve(theirs, title="CFO"))
        second.commit()
        first.leads.update(attrs.evolve(mine, custom={"score": Decimal(80)}))
        with pytest.raises(ConcurrencyError) as caught:
            first.commit()
    assert caught.value.records == ("lead L1",)
    with units() as check:
        assert check.leads.get("L1").title == "CFO"
        assert "score" not in check.leads.get("L1").custom


def test_select_is_a_checked_read_path(tmp_path):
    path = tmp_path / "leads.db"
    stored(lambda: SQLiteUnitOfWork(SQLiteStore(path)), robert(source="Web"))
    first, second = SQLiteUnitOfWork(SQLiteStore(path)), SQLiteUnitOfWork(SQLiteStore(path))
    with first, second:
        (mine,) = first.leads.select(ListView("web", Condition("source", "eq", "Web")))
        second.leads.update(attrs.evolve(second.leads.get("L1"), title="CFO"))
        second.commit()
        first.leads.update(attrs.evolve(mine, rating="Hot"))
        with pytest.raises(ConcurrencyError):
            first.commit()


def test_records_only_read_are_not_checked(units):
    stored(units, robert(), robert(id="L2", first_name="Ann"))
    first, second = units(), units()
    with first, second:
        everyone = list(first.leads)
        second.leads.update(attrs.evolve(second.leads.get("L2"), title="CFO"))
        second.commit()
        first.leads.update(attrs.evolve(everyone[0], title="CEO"))
        first.commit()
    with units() as check:
        assert [lead.title for lead in check.leads] == ["CEO", "CFO"]


def test_a_searched_key_that_finds_more_at_commit_is_a_conflict(units):
    from leadmodel import EmailAddress

    email = EmailAddress.parse("bob@acme.example")
    first, second = units(), units()
    with first, second:
        assert first.leads.find_by_keys([f"email:{email}"]) == []
        second.leads.add(robert(id="L9", email=email))
        second.commit()
        first.leads.add(robert(id="L1", email=email))
        with pytest.raises(ConcurrencyError) as caught:
            first.commit()
    assert caught.value.records == (f"lead look-up email:{email}",)
    with units() as check:
        assert [lead.id for lead in check.leads] == ["L9"]


def test_rescore_never_overwrites_an_edit_made_while_it_runs(units):
    stored(units, *(robert(id=f"L{i}", source="Web") for i in range(1, 5)))
    model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 80)])
    editor = units()
    uow = units()
    calls = []
    original = uow.commit

    def edit_then_commit():
        # Someone edits L2 after the batch read it and before the batch commits.
        if not calls:
            with editor:
                editor.leads.update(attrs.evolve(editor.leads.get("L2"), title="CFO"))
                editor.commit()
        calls.append(1)
        original()

    uow.commit = edit_then_commit
    report = rescore(uow, model, now=NOW, batch_size=2)
    assert report.conflicts == ()
    assert report.changed == 4
    assert len(calls) == 3  # batch 1 conflicted once, then both batches committed
    with units() as check:
        assert check.leads.get("L2").title == "CFO"
        assert all(lead.custom["score"] == 80 for lead in check.leads)


@pytest.mark.parametrize("lead_ids", [["L1", "L2", "L3", "L4"], None], ids=["ids", "all"])
def test_rescore_never_overwrites_an_edit_of_a_later_batch(units, lead_ids):
    # With lead_ids every lead is read before the first batch; a refused commit rolls the
    # unit back, which forgets the versions it read. A later batch scored from those
    # reads must not overwrite what was committed meanwhile (the lost update of
    # tests/concurrency/test_processes.py under load).
    stored(units, *(robert(id=f"L{i}", source="Web") for i in range(1, 5)))
    model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 80)])
    editor = units()
    uow = units()
    calls = []
    original = uow.commit

    def edit_then_commit():
        # Someone edits L2 (batch 1: its commit is refused) and L3 (batch 2) after the
        # rescore read them and before batch 1 commits.
        if not calls:
            with editor:
                editor.leads.update(attrs.evolve(editor.leads.get("L2"), title="CFO"))
                editor.leads.update(attrs.evolve(editor.leads.get("L3"), title="CEO"))
                editor.commit()
        calls.append(1)
        original()

    uow.commit = edit_then_commit
    report = rescore(uow, model, now=NOW, lead_ids=lead_ids, batch_size=2)
    assert report.conflicts == ()
    assert report.changed == 4
    with units() as check:
        assert check.leads.get("L2").title == "CFO"
        assert check.leads.get("L3").title == "CEO", "batch 2 overwrote the edit of L3"
        assert all(lead.custom["score"] == 80 for lead in check.leads)


def test_rescore_reports_leads_that_keep_conflicting(units):
    stored(units, robert(source="Web"), robert(id="L2", source="Web"))
    model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 80)])
    uow = units()

    def always_stale():
        uow.rollback()
        raise ConcurrencyError("changed in storage since this unit read them: lead L1")

    uow.commit = always_stale
    report = rescore(uow, model, now=NOW, attempts=2)
    assert (report.changed, report.scored, report.conflicts) == (0, 0, ("L1", "L2"))


def test_a_busy_database_is_a_database_busy_error_not_a_raw_sqlite_error(tmp_path):
    path = tmp_path / "leads.db"
    SQLiteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with SQLiteUnitOfWork(SQLiteStore(path, timeout=0.1)) as uow:
            uow.leads.add(robert())
            with pytest.raises(DatabaseBusy) as caught:
                uow.commit()
        assert isinstance(caught.value, ConcurrencyError)
        assert "retry" in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with SQLiteUnitOfWork(SQLiteStore(path)) as uow:
        assert uow.leads.get("L1") is None


def test_retrying_runs_a_use_case_again_after_a_conflict(units):
    stored(units, robert())
    waits = []
    attempts = []

    def edit():
        attempts.append(1)
        with units() as uow:
            lead = uow.leads.get("L1")
            if len(attempts) == 1:  # another writer slips in once
                with units() as other:
                    other.leads.update(attrs.evolve(other.leads.get("L1"), title="CFO"))
                    other.commit()
            uow.leads.update(attrs.evolve(lead, rating="Hot"))
            uow.commit()

    retrying(edit, sleep=waits.append, backoff=0.01)
    assert len(attempts) == 2
    assert waits == [0.01]
    with units() as check:
        assert (check.leads.get("L1").title, check.leads.get("L1").rating) == ("CFO", "Hot")


def test_retrying_gives_up_with_the_last_conflict_and_refuses_bad_arguments():
    def stale():
        raise ConcurrencyError("always")

    waits = []
    with pytest.raises(ConcurrencyError):
        retrying(stale, attempts=3, sleep=waits.append)
    assert waits == [0.05, 0.1]
    with pytest.raises(ValidationError):
        retrying("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        retrying(stale, attempts=0)


@pytest.mark.parametrize("service", ["save", "capture"])
def test_bob_is_blocked_by_a_stored_robert_found_by_the_rules_own_keys(units, service):
    # No email or phone: only the rule's Metaphone(last name)+company key brings them together.
    stored(units, robert(title="CTO"))
    bob = {"first_name": "Bob", "last_name": "Smith", "company": "Acme", "title": "CTO"}
    if service == "save":
        with pytest.raises(DuplicateBlocked):
            save(units(), robert(id="L2", first_name="Bob", title="CTO"), policy=BLOCK)
    else:
        result = capture_lead(
            units(),
            bob,
            CaptureConfig(duplicates=BLOCK),
            ids=lambda kind: f"{kind}-new",
            now=NOW,
        )
        assert result.status == "blocked"
        assert [edge.b_id for edge in result.duplicates.matches] == ["L1"]
    with units() as check:
        assert [lead.id for lead in check.leads] == ["L1"]


def test_rule_definitions_are_stored_with_the_database_and_back_filled(tmp_path):
    path = tmp_path / "leads.db"
    with SQLiteUnitOfWork(SQLiteStore(path)) as uow:
        uow.leads.add(robert())
        uow.commit()
        key = STANDARD_LEAD_RULE.compile().keys(robert(id="L2", first_name="Bob"))[0]
        with pytest.raises(KeyNotIndexed):
            uow.leads.find_by_keys([key])
        uow.index_rules([STANDARD_LEAD_RULE])
        assert [lead.id for lead in uow.leads.find_by_keys([key])] == ["L1"]
    # Another process opening the file indexes the same keys for what it writes.
    other = SQLiteStore(path)
    assert sorted(other.rules.documents) == ["standard_lead"]
    with SQLiteUnitOfWork(other) as uow:
        uow.leads.add(robert(id="L3", company="Acme", last_name="Smyth"))
        uow.commit()
    with SQLiteUnitOfWork(SQLiteStore(path)) as uow:
        assert [lead.id for lead in uow.leads.find_by_keys([key])] == ["L1", "L3"]


def test_memory_store_back_fills_a_new_rule_and_refuses_unindexed_keys():
    store = MemoryStore()
    stored(lambda: MemoryUnitOfWork(store), robert())
    key = STANDARD_LEAD_RULE.compile().keys(robert())[0]
    with MemoryUnitOfWork(store) as uow:
        with pytest.raises(KeyNotIndexed):
            uow.leads.find_by_keys([key])
        uow.index_rules([STANDARD_LEAD_RULE])
        uow.index_rules([STANDARD_LEAD_RULE])  # indexed already: nothing to do
        assert [lead.id for lead in uow.leads.find_by_keys([key])] == ["L1"]
    with pytest.raises(ValidationError):
        store.index_rules(["standard_lead"])  # type: ignore[list-item]


def test_a_lead_policy_can_compare_leads_with_accounts(units):
    with units() as uow:
        uow.accounts.add(Account(id="A1", name="Acme Corporation", website="acme.com"))
        uow.commit()
    policy = DuplicatePolicy(
        "leads vs accounts",
        [STANDARD_LEAD_RULE, STANDARD_ACCOUNT_RULE],
        on_create=DuplicateAction.BLOCK,
        compare_with={"standard_account": ["account"]},
    )
    lead = robert(company="Acme Corp", website="https://www.acme.com/")
    with pytest.raises(DuplicateBlocked, match="A1"):
        save(units(), lead, policy=policy)
    # Without compare_with naming accounts, accounts are not searched.
    assert save(units(), lead, policy=BLOCK).decision == "allow"


def test_a_failing_key_function_leaves_a_memory_commit_unapplied():
    failing = []

    def keys(record):
        if failing and getattr(record, "title", None) == "boom":
            raise RuntimeError("key function failed")
        return (f"title:{record.title}",)

    store = MemoryStore(keys=keys)
    stored(lambda: MemoryUnitOfWork(store), robert(id="L5", title="kept"))
    with MemoryUnitOfWork(store) as uow:
        uow.leads.add(robert(id="L0"))
        uow.leads.update(attrs.evolve(uow.leads.get("L5"), title="changed"))
        uow.leads.add(robert(id="L9", title="boom"))
        failing.append(True)  # the key function fails during the commit, after L0 and L5
        with pytest.raises(RuntimeError):
            uow.commit()
    failing.clear()
    assert store.count("lead") == 1
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get("L5").title == "kept"
        assert [lead.id for lead in uow.leads.find_by_keys(["title:kept"])] == ["L5"]
        assert uow.leads.find_by_keys(["title:changed"]) == []


@settings(max_examples=40, deadline=None)
@given(
    reads=st.lists(st.sampled_from(sorted(READS)), min_size=1, max_size=3),
    other_writes=st.booleans(),
)
def test_a_commit_after_another_units_change_raises_or_the_change_was_never_read(
    reads, other_writes
):
    from leadmodel import EmailAddress

    store = MemoryStore()
    stored(lambda: MemoryUnitOfWork(store), robert(email=EmailAddress.parse("bob@acme.example")))
    first, second = MemoryUnitOfWork(store), MemoryUnitOfWork(store)
    with first, second:
        mine = [READS[read](first) for read in reads][-1]
        if other_writes:
            second.leads.update(attrs.evolve(second.leads.get("L1"), title="CFO"))
            second.commit()
        first.leads.update(attrs.evolve(mine, rating="Hot"))
        if other_writes:
            with pytest.raises(ConcurrencyError):
                first.commit()
        else:
            first.commit()
    with MemoryUnitOfWork(store) as check:
        lead = check.leads.get("L1")
        assert (lead.title, lead.rating) == (("CFO", None) if other_writes else (None, "Hot"))


def test_two_captures_of_one_person_at_once_make_one_lead_and_one_block(units):
    form = {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines", "email": "a@e.io"}
    config = CaptureConfig(duplicates=BLOCK)
    uow = units()
    original = uow.commit
    racing = []

    def the_other_process_commits_first():
        if not racing:  # between our duplicate search and our commit
            racing.append(capture_lead(units(), form, config, ids=lambda k: f"{k}-B", now=NOW))
        original()

    uow.commit = the_other_process_commits_first
    ours = capture_lead(uow, form, config, ids=lambda kind: f"{kind}-A", now=NOW)
    assert racing[0].status == "created"
    assert ours.status == "blocked"
    assert [edge.b_id for edge in ours.duplicates.matches] == ["lead-B"]
    with units() as check:
        assert [lead.id for lead in check.leads] == ["lead-B"]


@settings(max_examples=30, deadline=None)
@given(
    stored_ids=st.sets(st.integers(0, 2500), max_size=40),
    staged=st.dictionaries(st.integers(0, 2500), st.sampled_from(["add", "update", "remove"])),
)
def test_paged_iteration_lays_staged_changes_over_every_page(stored_ids, staged):
    import leadmodel.adapters._staging as adapter

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapter, "PAGE", 7)  # many pages from a few records
        check_paged_iteration(stored_ids, staged)


def check_paged_iteration(stored_ids, staged):
    store = SQLiteStore(":memory:")
    ids = [f"L{i:05d}" for i in sorted(stored_ids)]
    with SQLiteUnitOfWork(store) as uow:
        for record_id in ids:
            uow.leads.add(robert(id=record_id))
        uow.commit()
    expected = {record_id: robert(id=record_id) for record_id in ids}
    with SQLiteUnitOfWork(store) as uow:
        for number, change in staged.items():
            record_id = f"L{number:05d}"
            if record_id in expected and change == "remove":
                uow.leads.remove(record_id)
                del expected[record_id]
            elif record_id in expected:
                expected[record_id] = robert(id=record_id, title="changed")
                uow.leads.update(expected[record_id])
            elif change == "add":
                expected[record_id] = robert(id=record_id, title="new")
                uow.leads.add(expected[record_id])
        assert list(uow.leads) == [expected[key] for key in sorted(expected)]
