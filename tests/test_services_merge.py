"""services.merge_records / unmerge_records: stored merges that move dependants and undo."""

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Account,
    Activity,
    Contact,
    ConvertedLeadError,
    Lead,
    MergeRecord,
    Opportunity,
    RecordNotFound,
    ValidationError,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import MergeOutcome, merge_records, unmerge_records
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def stored(uow, *records):
    with uow:
        for record in records:
            repository = {
                Lead: uow.leads,
                Contact: uow.contacts,
                Account: uow.accounts,
                Opportunity: uow.opportunities,
                Activity: uow.activities,
            }[type(record)]
            repository.add(record)
        uow.commit()
    return uow


def snapshot(uow):
    with uow:
        return {
            "leads": list(uow.leads),
            "contacts": list(uow.contacts),
            "accounts": list(uow.accounts),
            "opportunities": list(uow.opportunities),
            "activities": list(uow.activities),
        }


def activity(activity_id, subject_id):
    return Activity(id=activity_id, subject_id=subject_id, kind="email_opened", occurred_at=NOW)


def lead(lead_id, **fields):
    return Lead(id=lead_id, last_name="Ng", company="Acme", **fields)


# -- the regressions of issue 14 ---------------------------------------------------------


def test_absorbed_leads_activities_move_to_the_survivor():
    uow = stored(
        MemoryUnitOfWork(),
        lead("L1", created_at=NOW),
        lead("L2"),
        activity("A1", "L2"),
        activity("A2", "L1"),
    )
    outcome = merge_records(uow, ["L1", "L2"], now=NOW)
    with uow:
        assert uow.leads.get("L2") is None
        assert uow.activities.get("A1").subject_id == "L1"
        assert uow.activities.get("A2").subject_id == "L1"
    assert [(m.kind, m.record_id, m.previous, m.current) for m in outcome.moved] == [
        ("activity", "A1", "L2", "L1")
    ]


def test_the_merge_is_stored_with_originals_and_provenance():
    uow = stored(MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2", title="CTO"))
    outcome = merge_records(uow, ["L1", "L2"], now=NOW)
    with uow:
        record = uow.merges.get(outcome.merge_id)
        found = uow.merges.find_by_keys(["record:L2"])
    assert record == outcome.record
    assert [r.id for r in record.result.originals] == ["L1", "L2"]
    assert record.absorbed_ids == ("L2",)
    assert record.merged_at == NOW
    assert [r.id for r in found] == [outcome.merge_id]
    assert from_json(MergeRecord, to_json(record)) == record


def test_merging_a_child_account_into_its_parent_keeps_the_grandparent():
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="G", name="Holding"),
        Account(id="P", name="Acme", parent_id="G", created_at=NOW),
        Account(id="C", name="Acme EU", parent_id="P"),
    )
    outcome = merge_records(uow, ["P", "C"], master="P", now=NOW)
    with uow:
        assert uow.accounts.get("P").parent_id == "G"
        assert uow.accounts.get("C") is None
    assert outcome.survivor.parent_id == "G"


def test_merging_a_child_account_into_a_parentless_parent_raises_no_self_parent():
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="P", name="Acme", created_at=NOW),
        Account(id="C", name="Acme EU", parent_id="P"),
    )
    outcome = merge_records(uow, ["P", "C"], master="P", now=NOW)
    assert outcome.survivor.parent_id is None
    assert any("child of P" in note for note in outcome.notes)


def test_merging_a_parent_into_its_child_leaves_no_link_to_the_deleted_parent():
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="G", name="Holding"),
        Account(id="P", name="Acme", parent_id="G"),
        Account(id="C", name="Acme EU", parent_id="P"),
        Account(id="S", name="Acme Sibling", parent_id="P"),
    )
    outcome = merge_records(uow, ["C", "P"], master="C", now=NOW)
    with uow:
        assert uow.accounts.get("C").parent_id == "G"
        assert uow.accounts.get("S").parent_id == "C"
        assert uow.accounts.get("P") is None
    assert "account C now has parent G" in outcome.notes


def test_a_parent_that_would_make_a_cycle_is_dropped():
    # A's parent X is a child of B: merging A and B would make A -> X -> A.
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="A", name="Acme", parent_id="X", created_at=NOW),
        Account(id="B", name="Acme Inc"),
        Account(id="X", name="Acme Labs", parent_id="B"),
    )
    outcome = merge_records(uow, ["A", "B"], master="A", now=NOW)
    with uow:
        assert uow.accounts.get("A").parent_id is None
        assert uow.accounts.get("X").parent_id == "A"
    assert any("cycle" in note for note in outcome.notes)


def test_account_merge_moves_contacts_opportunities_and_activities():
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="A1", name="Acme", created_at=NOW),
        Account(id="A2", name="Acme Inc"),
        Contact(id="C1", last_name="Ng", account_id="A2"),
        Opportunity(id="O1", name="Deal", account_id="A2", stage="Prospecting"),
        activity("T1", "A2"),
    )
    outcome = merge_records(uow, ["A1", "A2"], now=NOW)
    with uow:
        assert uow.contacts.get("C1").account_id == "A1"
        assert uow.opportunities.get("O1").account_id == "A1"
        assert uow.activities.get("T1").subject_id == "A1"
    assert {(m.kind, m.field) for m in outcome.moved} == {
        ("contact", "account_id"),
        ("opportunity", "account_id"),
        ("activity", "subject_id"),
    }


def test_contact_merge_moves_opportunities():
    uow = stored(
        MemoryUnitOfWork(),
        Contact(id="C1", last_name="Ng", created_at=NOW),
        Contact(id="C2", last_name="Ng"),
        Opportunity(id="O1", name="Deal", contact_id="C2", stage="Prospecting"),
    )
    merge_records(uow, ["C1", "C2"], now=NOW)
    with uow:
        assert uow.opportunities.get("O1").contact_id == "C1"


def test_a_converted_lead_is_not_absorbed_and_nothing_is_saved():
    uow = stored(MemoryUnitOfWork(), lead("L1"), lead("L2"))
    with uow:
        converted = attrs.evolve(
            uow.leads.get("L2"),
            status="Closed - Converted",
            converted=_conversion(),
        )
        uow.leads.update(converted)
        uow.commit()
    before = snapshot(uow)
    with pytest.raises(ConvertedLeadError):
        merge_records(uow, ["L1", "L2"], now=NOW)
    assert snapshot(uow) == before


def _conversion():
    from leadmodel.domain.lead import ConversionRecord

    return ConversionRecord(
        account_id="A1",
        contact_id="C1",
        opportunity_id=None,
        converted_at=NOW,
        status="Closed - Converted",
    )


# -- misuse ----------------------------------------------------------------------------------


def test_unknown_id_is_record_not_found():
    uow = stored(MemoryUnitOfWork(), lead("L1"))
    with pytest.raises(RecordNotFound):
        merge_records(uow, ["L1", "L9"], now=NOW)


def test_mixed_kinds_are_refused():
    uow = stored(MemoryUnitOfWork(), lead("L1"), Contact(id="C1", last_name="Ng"))
    with pytest.raises(ValidationError) as caught:
        merge_records(uow, ["L1", "C1"], now=NOW)
    assert caught.value.errors[0].code == "mixed_kinds"


@pytest.mark.parametrize("ids", ["L1", ["L1"], [1, 2], None])
def test_bad_ids_are_a_validation_error(ids):
    uow = stored(MemoryUnitOfWork(), lead("L1"))
    with pytest.raises(ValidationError):
        merge_records(uow, ids, now=NOW)


def test_naive_now_is_refused():
    uow = stored(MemoryUnitOfWork(), lead("L1"), lead("L2"))
    with pytest.raises(ValidationError):
        merge_records(uow, ["L1", "L2"], now=datetime(2026, 1, 1))  # noqa: DTZ001


class WithoutMerges:
    """A host's unit of work written against the five core repositories only."""

    def __init__(self):
        self._inner = MemoryUnitOfWork()
        for name in ("leads", "contacts", "accounts", "opportunities", "activities"):
            setattr(self, name, getattr(self._inner, name))

    def __enter__(self):
        self._inner.__enter__()
        return self

    def __exit__(self, *exc):
        self._inner.__exit__(*exc)

    def commit(self):
        self._inner.commit()


def test_a_unit_of_work_without_merges_is_refused_clearly():
    with pytest.raises(ValidationError) as caught:
        merge_records(WithoutMerges(), ["L1", "L2"], now=NOW)
    assert caught.value.errors[0].code == "capability"
    with pytest.raises(ValidationError):
        unmerge_records(WithoutMerges(), "m", now=NOW)


@pytest.mark.parametrize("uow", [None, object(), "uow"])
def test_something_else_than_a_unit_of_work_is_a_validation_error(uow):
    with pytest.raises(ValidationError) as caught:
        merge_records(uow, ["L1", "L2"], now=NOW)
    assert caught.value.errors[0].code == "type"
    with pytest.raises(ValidationError):
        unmerge_records(uow, "m", now=NOW)


def test_a_taken_merge_id_is_refused():
    uow = stored(MemoryUnitOfWork(), lead("L1"), lead("L2"), lead("L3"), lead("L4"))
    merge_records(uow, ["L1", "L2"], merge_id="m1", now=NOW)
    before = snapshot(uow)
    with pytest.raises(ValidationError) as caught:
        merge_records(uow, ["L3", "L4"], merge_id="m1", now=NOW)
    assert caught.value.errors[0].code == "merge_id_taken"
    assert snapshot(uow) == before


def test_the_default_merge_id_is_deterministic():
    def run():
        uow = stored(MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2"))
        return merge_records(uow, ["L1", "L2"], now=NOW).merge_id

    assert run() == run() == "merge-L1-20261201T093000000000Z"


# -- unmerge ---------------------------------------------------------------------------------


def test_unmerge_restores_records_and_dependants():
    uow = stored(
        MemoryUnitOfWork(),
        lead("L1", created_at=NOW),
        lead("L2", title="CTO"),
        activity("A1", "L2"),
    )
    before = snapshot(uow)
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    undone = unmerge_records(uow, merged.merge_id, now=LATER)
    assert snapshot(uow) == before
    assert [m.record_id for m in undone.moved_back] == ["A1"]
    assert undone.left == ()
    with uow:
        assert uow.merges.get(merged.merge_id).undone_at == LATER


def test_unmerge_leaves_a_dependant_changed_since():
    uow = stored(
        MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2"), lead("L3"), activity("A1", "L2")
    )
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    with uow:
        uow.activities.update(attrs.evolve(uow.activities.get("A1"), subject_id="L3"))
        uow.commit()
    undone = unmerge_records(uow, merged.merge_id, now=LATER)
    assert [m.record_id for m in undone.left] == ["A1"]
    with uow:
        assert uow.activities.get("A1").subject_id == "L3"


def test_unmerge_twice_is_already_undone():
    uow = stored(MemoryUnitOfWork(), lead("L1"), lead("L2"))
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    unmerge_records(uow, merged.merge_id, now=LATER)
    with pytest.raises(ValidationError) as caught:
        unmerge_records(uow, merged.merge_id, now=LATER)
    assert caught.value.errors[0].code == "already_undone"


def test_unmerge_of_an_unknown_merge_is_record_not_found():
    with pytest.raises(RecordNotFound):
        unmerge_records(MemoryUnitOfWork(), "merge-nope", now=NOW)


def test_unmerge_refuses_a_survivor_changed_since_unless_forced():
    uow = stored(MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2"))
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    with uow:
        uow.leads.update(attrs.evolve(uow.leads.get("L1"), title="CEO"))
        uow.commit()
    before = snapshot(uow)
    with pytest.raises(ValidationError) as caught:
        unmerge_records(uow, merged.merge_id, now=LATER)
    assert caught.value.errors[0].code == "survivor_changed"
    assert snapshot(uow) == before
    unmerge_records(uow, merged.merge_id, now=LATER, force=True)
    with uow:
        assert uow.leads.get("L1").title is None
        assert uow.leads.get("L2") is not None


def test_unmerge_refuses_when_an_absorbed_id_is_taken_again():
    uow = stored(MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2"))
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    stored(uow, lead("L2"))
    with pytest.raises(ValidationError) as caught:
        unmerge_records(uow, merged.merge_id, now=LATER)
    assert caught.value.errors[0].code == "absorbed_exists"


def test_account_merge_and_unmerge_restore_the_hierarchy():
    uow = stored(
        MemoryUnitOfWork(),
        Account(id="G", name="Holding"),
        Account(id="P", name="Acme", parent_id="G"),
        Account(id="C", name="Acme EU", parent_id="P"),
        Account(id="S", name="Acme Sibling", parent_id="P"),
        Contact(id="K1", last_name="Ng", account_id="P"),
    )
    before = snapshot(uow)
    merged = merge_records(uow, ["C", "P"], master="C", now=NOW)
    unmerge_records(uow, merged.merge_id, now=LATER)
    assert snapshot(uow) == before


def test_merge_and_unmerge_through_sqlite(tmp_path):
    store = SQLiteStore(tmp_path / "crm.db")
    try:
        uow = stored(
            SQLiteUnitOfWork(store), lead("L1", created_at=NOW), lead("L2"), activity("A1", "L2")
        )
        before = snapshot(uow)
        merged = merge_records(SQLiteUnitOfWork(store), ["L1", "L2"], now=NOW)
        with SQLiteUnitOfWork(store) as fresh:
            assert fresh.activities.get("A1").subject_id == "L1"
            assert fresh.merges.get(merged.merge_id) == merged.record
        unmerge_records(SQLiteUnitOfWork(store), merged.merge_id, now=LATER)
        assert snapshot(SQLiteUnitOfWork(store)) == before
    finally:
        store.close()


def test_outcome_shows_in_a_notebook():
    uow = stored(MemoryUnitOfWork(), lead("L1"), lead("L2"))
    outcome = merge_records(uow, ["L1", "L2"], now=NOW)
    assert isinstance(outcome, MergeOutcome)
    assert "<table" in outcome._repr_html_()


# -- properties ------------------------------------------------------------------------------

SUBJECTS = ("lead-1", "lead-2", "lead-3", "lead-9")


@st.composite
def merge_worlds(draw):
    """Three unconverted leads (two or three merged) and activities of them or another."""
    leads = [
        draw(lst.leads(ids=st.just(lead_id), converted=st.just(False))) for lead_id in SUBJECTS[:3]
    ]
    acts = draw(
        st.lists(
            lst.activities(subject_ids=st.sampled_from(SUBJECTS)),
            max_size=6,
            unique_by=lambda a: a.id,
        )
    )
    ids = draw(st.sampled_from([["lead-1", "lead-2"], ["lead-2", "lead-3", "lead-1"]]))
    master = draw(st.sampled_from([None, *ids]))
    return leads, acts, ids, master


@settings(max_examples=40)
@given(merge_worlds())
def test_merge_then_unmerge_restores_storage_exactly(world):
    leads, acts, ids, master = world
    uow = stored(MemoryUnitOfWork(), *leads, *acts)
    before = snapshot(uow)
    try:
        merged = merge_records(uow, ids, master=master, now=NOW)
    except ValidationError:
        # The survivor fails its checks (e.g. a combined description too long).
        assert snapshot(uow) == before
        return
    unmerge_records(uow, merged.merge_id, now=LATER)
    assert snapshot(uow) == before


@settings(max_examples=40)
@given(merge_worlds())
def test_merge_loses_no_activity(world):
    leads, acts, ids, master = world
    uow = stored(MemoryUnitOfWork(), *leads, *acts)
    try:
        merged = merge_records(uow, ids, master=master, now=NOW)
    except ValidationError:
        return
    survivor = merged.survivor.id
    after = snapshot(uow)
    stored_ids = {r.id for r in after["leads"]}
    by_id = {a.id: a for a in after["activities"]}
    assert set(by_id) == {a.id for a in acts}
    for act in acts:
        if act.subject_id in ids:
            assert by_id[act.id].subject_id == survivor
        else:
            assert by_id[act.id].subject_id == act.subject_id
    assert all(
        a.subject_id in stored_ids for a in after["activities"] if a.subject_id in SUBJECTS[:3]
    )


# -- the pure merge keeps hierarchies whole too --------------------------------------------


def test_pure_merge_of_child_and_parent_takes_the_parents_parent():
    from leadmodel import merge

    parent = Account(id="P", name="Acme", parent_id="G")
    child = Account(id="C", name="Acme EU", parent_id="P")
    result = merge([child, parent], master="C")
    assert result.survivor.parent_id == "G"
    assert next(p for p in result.provenance if p.field == "parent_id").sources == ("P",)
    assert merge([Account(id="P", name="Acme"), child], master="P").survivor.parent_id is None


ACCOUNT_IDS = ("A1", "A2", "A3", "A4")


@st.composite
def account_worlds(draw):
    """Four accounts with any parent links (cycles included), contacts and deals of them."""
    accounts = []
    for account_id in ACCOUNT_IDS:
        parent = draw(st.sampled_from([None, *(a for a in ACCOUNT_IDS if a != account_id)]))
        accounts.append(Account(id=account_id, name=f"Acme {account_id}", parent_id=parent))
    contacts = [
        Contact(id=f"C{n}", last_name="Ng", account_id=account_id)
        for n, account_id in enumerate(draw(st.lists(st.sampled_from(ACCOUNT_IDS), max_size=3)))
    ]
    deals = [
        Opportunity(id=f"O{n}", name="Deal", account_id=account_id, stage="Prospecting")
        for n, account_id in enumerate(draw(st.lists(st.sampled_from(ACCOUNT_IDS), max_size=3)))
    ]
    ids = draw(st.lists(st.sampled_from(ACCOUNT_IDS), min_size=2, max_size=3, unique=True))
    master = draw(st.sampled_from([None, *ids]))
    return accounts, contacts, deals, ids, master


@settings(max_examples=60)
@given(account_worlds())
def test_account_merges_keep_hierarchies_whole_and_undo_exactly(world):
    accounts, contacts, deals, ids, master = world
    uow = stored(MemoryUnitOfWork(), *accounts, *contacts, *deals)
    before = snapshot(uow)
    merged = merge_records(uow, ids, master=master, now=NOW)
    after = snapshot(uow)
    stored_ids = {a.id for a in after["accounts"]}
    survivor = merged.survivor.id
    assert survivor not in set(merged.record.absorbed_ids)
    for account in after["accounts"]:
        assert account.parent_id is None or account.parent_id in stored_ids
        assert account.parent_id != account.id
    assert all(c.account_id in stored_ids for c in after["contacts"])
    assert all(o.account_id in stored_ids for o in after["opportunities"])
    # The survivor is not its own ancestor.
    parents = {a.id: a.parent_id for a in after["accounts"]}
    seen, parent = set(), parents[survivor]
    while parent is not None and parent not in seen:
        assert parent != survivor
        seen.add(parent)
        parent = parents.get(parent)
    unmerge_records(uow, merged.merge_id, now=LATER)
    assert snapshot(uow) == before


def test_unmerge_after_the_survivor_was_deleted_needs_force():
    uow = stored(MemoryUnitOfWork(), lead("L1", created_at=NOW), lead("L2"), activity("A1", "L2"))
    merged = merge_records(uow, ["L1", "L2"], now=NOW)
    with uow:
        uow.leads.remove("L1")
        uow.activities.remove("A1")
        uow.commit()
    with pytest.raises(ValidationError, match="was deleted"):
        unmerge_records(uow, merged.merge_id, now=LATER)
    undone = unmerge_records(uow, merged.merge_id, now=LATER, force=True)
    assert [m.record_id for m in undone.left] == ["A1"]
    assert sorted(leads_ids(uow)) == ["L1", "L2"]


def leads_ids(uow):
    with uow:
        return [x.id for x in uow.leads]
