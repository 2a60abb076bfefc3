"""Hostile review of issue 17's lifecycle automation: each test is a bug found, then fixed.

Every test here failed before its fix (see the module's git history); the properties pin
the invariants the fixes introduce.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LIFECYCLE_POLICY,
    Account,
    Activity,
    ConcurrencyError,
    Condition,
    Contact,
    Lead,
    LeadProcess,
    LeadStatus,
    LifecycleDecision,
    LifecycleStage,
    Opportunity,
    RecordExists,
    Reengagement,
    ScoreChanged,
    SetLifecycleStage,
    SetStatus,
    Trigger,
    UpdateField,
    ValidationError,
    WorkflowRule,
    from_json,
    lifecycle_stage,
    reengage,
    run_workflows,
    to_json,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import (
    apply_workflows,
    close_opportunity,
    merge_records,
    reengage_contact,
    save,
)

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
EARLIER = datetime(2026, 1, 5, tzinfo=UTC)
HOT = WorkflowRule(
    "hot at 50",
    Trigger.score_crossed(50),
    Condition("score", "gte", 50),
    [UpdateField("rating", "Hot"), SetStatus("Working - Contacted")],
)


@pytest.fixture(params=["memory", "sqlite"])
def units(request, tmp_path):
    """A factory of units of work over one store, in memory and on SQLite."""
    if request.param == "memory":
        memory = MemoryStore()
        yield lambda: MemoryUnitOfWork(memory)
        return
    with SQLiteStore(tmp_path / "leads.db") as store:
        yield lambda: SQLiteUnitOfWork(store)


def _store(units, *records):
    with units() as uow:
        for record in records:
            repository = {
                Lead: uow.leads,
                Contact: uow.contacts,
                Account: uow.accounts,
                Opportunity: uow.opportunities,
            }[type(record)]
            repository.add(record)
        uow.commit()


def _score_event(at=NOW):
    return ScoreChanged(lead_id="L1", model="m", previous=40, current=55, occurred_at=at)


# -- a whole-number score too big for a float --------------------------------------------


@pytest.mark.parametrize("score", [10**400, -(10**400)])
def test_a_score_too_big_for_a_float_is_a_validation_error(score):
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    with pytest.raises(ValidationError, match="score"):
        run_workflows(_score_event(), lead, [HOT], score=score)
    with pytest.raises(ValidationError, match="score"):
        lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=score)


@settings(max_examples=60, deadline=None)
@given(st.integers() | st.floats() | st.decimals())
def test_any_number_as_a_score_decides_or_is_a_validation_error(score):
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    try:
        decision = lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=score)
    except ValidationError:
        return
    assert decision.record_id == "L1"


# -- apply_workflows' changes lost to a save of a copy read before ------------------------


@pytest.mark.parametrize("at", [NOW, EARLIER, EARLIER - timedelta(days=1)])
def test_a_save_of_a_copy_read_before_apply_workflows_does_not_undo_the_workflow(units, at):
    _store(units, Lead(id="L1", last_name="Ng", company="Acme", updated_at=EARLIER))
    with units() as uow:
        shown = uow.leads.get("L1")  # an edit form, opened before the workflow ran
    apply_workflows(units(), _score_event(at), [HOT])
    try:
        save(units(), attrs.evolve(shown, title="CTO"))
    except ConcurrencyError:
        pass  # refused: the user reloads and edits again
    with units() as uow:
        lead = uow.leads.get("L1")
    assert (lead.rating, lead.status) == ("Hot", "Working - Contacted"), "the workflow was lost"


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_apply_workflows_stamps_a_changed_lead_later_than_it_was(offset):
    stored = EARLIER + timedelta(seconds=offset)
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", updated_at=stored))
        uow.commit()
    outcome = apply_workflows(MemoryUnitOfWork(store), _score_event(EARLIER), [HOT])
    with MemoryUnitOfWork(store) as uow:
        lead = uow.leads.get("L1")
    assert lead == outcome.lead
    assert lead.updated_at > stored
    assert lead.updated_at == max(EARLIER, stored + timedelta(microseconds=1))
    # idempotent: the same event again changes nothing and writes nothing
    again = apply_workflows(MemoryUnitOfWork(store), _score_event(EARLIER), [HOT])
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get("L1") == lead == again.lead


# -- close_opportunity: a primary contact of another account -------------------------------


def test_a_primary_contact_named_by_another_account_does_not_become_its_customer(units):
    _store(
        units,
        Account(id="A1", name="Acme"),
        Account(id="A2", name="Globex", custom={"primary_contact_id": "C1"}),
        Contact(id="C1", last_name="Ng", account_id="A1"),
        Opportunity(id="O1", name="Globex deal", account_id="A2"),
    )
    closed = close_opportunity(units(), "O1", won=True, now=NOW)
    assert closed.contact is None
    assert any("C1" in reason and "A2" in reason for reason in closed.reasons), closed.reasons
    with units() as uow:
        assert uow.contacts.get("C1").lifecycle_stage is not LifecycleStage.CUSTOMER


def test_a_stale_primary_contact_falls_back_to_the_accounts_only_contact(units):
    _store(
        units,
        Account(id="A1", name="Acme"),
        Account(id="A2", name="Globex", custom={"primary_contact_id": "C1"}),
        Contact(id="C1", last_name="Ng", account_id="A1"),
        Contact(id="C2", last_name="Xu", account_id="A2"),
        Opportunity(id="O1", name="Globex deal", account_id="A2"),
    )
    closed = close_opportunity(units(), "O1", won=True, now=NOW)
    assert closed.contact is not None
    assert closed.contact.id == "C2"
    assert closed.contact.lifecycle_stage is LifecycleStage.CUSTOMER


# -- reengage_contact with a custom lead process -----------------------------------------

CUSTOM = LeadProcess(
    "partner",
    [
        LeadStatus("Inbox", is_default=True),
        LeadStatus("Talking"),
        LeadStatus("Signed", is_converted=True),
    ],
)


def test_reengage_contact_opens_the_lead_in_the_default_status_of_its_process(units):
    _store(units, Contact(id="C1", last_name="Ng", lifecycle_stage=LifecycleStage.CUSTOMER))
    again = reengage_contact(
        units(), "C1", signal="asked for a demo", ids=SequentialIds(), now=NOW, process=CUSTOM
    )
    assert again.lead is not None
    assert again.lead.status == "Inbox"
    with units() as uow:
        assert uow.leads.get(again.lead.id) == again.lead


# -- reengage_contact of a contact merged away meanwhile ---------------------------------


def test_reengaging_a_contact_merged_away_meanwhile_leaves_no_orphan(units):
    _store(units, Contact(id="C1", last_name="Ng"), Contact(id="C2", last_name="Ng"))
    sequential = SequentialIds()
    merged: list[object] = []

    def ids(kind: str) -> str:  # runs inside reengage_contact's unit, after its reads
        if not merged:
            merged.append(merge_records(units(), ["C2", "C1"], master="C2", now=NOW))
        return sequential(kind)

    try:
        reengage_contact(units(), "C1", signal="pricing page", ids=ids, now=NOW)
    except ConcurrencyError:
        pass  # refused: the caller retries, and finds C1 gone
    with units() as uow:
        contacts = {contact.id for contact in uow.contacts}
        orphans = [a.id for a in uow.activities if a.subject_id not in contacts]
        dangling = [
            lead.id for lead in uow.leads if lead.custom.get("reengaged_contact_id") not in contacts
        ]
    assert merged, "the merge did not run"
    assert orphans == [], "an episode on a contact merged away"
    assert dangling == [], "a lead re-engaging a contact merged away"


# -- other stays outside the order in workflows -------------------------------------------


def test_set_lifecycle_stage_to_other_stays_a_refusal_not_a_move():
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    rule = WorkflowRule(
        "park",
        Trigger.score_crossed(50),
        Condition("score", "gte", 0),
        [SetLifecycleStage(LifecycleStage.OTHER)],
    )
    outcome = run_workflows(_score_event(), lead, [rule])
    assert [r.code for r in outcome.refused] == ["backwards"]
    assert outcome.lead == lead
    # as documented: from no stage, other may be set (advance allows it; nothing is left)
    unstaged = attrs.evolve(lead, lifecycle_stage=None)
    moved = run_workflows(_score_event(), unstaged, [rule])
    assert (moved.refused, moved.lead.lifecycle_stage) == ((), LifecycleStage.OTHER)


@pytest.mark.parametrize("named", ["x" * 300, "bad\nid", 7, True, "C404"])
def test_a_malformed_primary_contact_is_reported_not_raised(units, named):
    _store(
        units,
        Account(id="A2", name="Globex", custom={"primary_contact_id": named}),
        Contact(id="C2", last_name="Xu", account_id="A2"),
        Opportunity(id="O1", name="Globex deal", account_id="A2"),
    )
    closed = close_opportunity(units(), "O1", won=True, now=NOW)
    assert closed.contact is not None
    assert closed.contact.id == "C2"
    assert "primary contact" in closed.reasons[-1]


# -- Reengagement values that contradict themselves ----------------------------------------


def _reengagement():
    return reengage(
        Contact(id="C1", last_name="Ng", lifecycle_stage=LifecycleStage.CUSTOMER),
        signal="asked for a demo",
        ids=SequentialIds(),
        now=NOW,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"mode": "episode"},  # an episode has no lead
        {"lead": None},  # a lead re-engagement has its lead
        {"contact_id": "C2"},  # the episode activity is about C1
        {"episode": 1},  # the first life is episode 1: a re-engagement starts at 2
        {"episode": 0},
    ],
)
def test_a_reengagement_that_contradicts_itself_is_refused(change):
    document = json.loads(to_json(_reengagement()))
    document.update(change)
    with pytest.raises(ValidationError):
        from_json(Reengagement, json.dumps(document))


def test_a_reengagement_whose_activity_is_no_episode_is_refused():
    again = _reengagement()
    other = attrs.evolve(again.activity, kind="call")
    with pytest.raises(ValidationError, match="activity"):
        attrs.evolve(again, activity=other)


def test_a_reengagement_whose_lead_points_at_another_contact_is_refused():
    again = _reengagement()
    assert again.lead is not None
    lead = attrs.evolve(again.lead, custom={"reengaged_contact_id": "C2"})
    with pytest.raises(ValidationError, match="lead"):
        attrs.evolve(again, lead=lead)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["lead", "episode"]),
    st.lists(st.integers(min_value=-5, max_value=10**6), max_size=5),
)
def test_every_reengagement_round_trips_and_numbers_the_next_episode(mode, numbers):
    history = [
        Activity(
            id=f"H{i}",
            subject_id="C1",
            kind="lifecycle_episode",
            occurred_at=NOW,
            properties={"episode": number},
        )
        for i, number in enumerate(numbers)
    ]
    again = reengage(
        Contact(id="C1", last_name="Ng"),
        signal="pricing page",
        ids=SequentialIds(),
        now=NOW,
        mode=mode,
        history=history,
    )
    assert again.episode == max([1, *numbers]) + 1
    assert from_json(Reengagement, to_json(again)) == again


# -- LifecycleDecision values that contradict themselves -----------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"stage": "customer"},  # moves somewhere it did not earn
        {"earned": "sales_qualified"},  # earned is the latest stage met
        {"earned": None},
        {"met": ["sales_qualified", "marketing_qualified"]},  # met, in the order
        {"met": ["other"]},
        {"current": "marketing_qualified"},  # a move to where it is already
    ],
)
def test_a_lifecycle_decision_that_contradicts_itself_is_refused(change):
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    document = json.loads(to_json(lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=70)))
    assert (document["stage"], document["earned"]) == ("marketing_qualified",) * 2
    document.update(change)
    with pytest.raises(ValidationError):
        from_json(LifecycleDecision, json.dumps(document))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([None, *LifecycleStage]),
    st.integers(min_value=0, max_value=100),
    st.sampled_from(["Open - Not Contacted", "Working - Contacted"]),
)
def test_every_decision_of_lifecycle_stage_is_consistent_and_round_trips(stage, score, status):
    lead = Lead(id="L1", last_name="Ng", company="Acme", lifecycle_stage=stage, status=status)
    decision = lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=score)
    assert from_json(LifecycleDecision, to_json(decision)) == decision
    assert decision.stage in (None, decision.earned)


# -- the same signal delivered twice ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["lead", "episode"])
def test_the_same_signal_reengages_a_contact_once(units, mode):
    _store(units, Contact(id="C1", last_name="Ng", lifecycle_stage=LifecycleStage.CUSTOMER))
    demo = Activity(id="S1", subject_id="C1", kind="demo_request", occurred_at=NOW)
    with units() as uow:
        uow.activities.add(demo)
        uow.commit()
    ids = SequentialIds()
    first = reengage_contact(units(), "C1", signal=demo, ids=ids, now=NOW, mode=mode)
    again = reengage_contact(
        units(), "C1", signal=demo, ids=ids, now=NOW + timedelta(hours=1), mode=mode
    )
    assert again == first  # a redelivered event opens nothing new
    with units() as uow:
        episodes = [a for a in uow.activities if a.kind == "lifecycle_episode"]
        leads = list(uow.leads)
    assert len(episodes) == 1
    assert len(leads) == (1 if mode == "lead" else 0)
    other = Activity(id="S2", subject_id="C1", kind="demo_request", occurred_at=NOW)
    third = reengage_contact(units(), "C1", signal=other, ids=ids, now=NOW, mode=mode)
    assert third.episode == first.episode + 1


# -- what held: a failing service writes nothing (invariant 8) -----------------------------


def _snapshot(units):
    with units() as uow:
        return (
            list(uow.leads),
            list(uow.contacts),
            list(uow.opportunities),
            list(uow.activities),
        )


def test_a_failing_reengagement_writes_neither_lead_nor_episode(units):
    _store(units, Contact(id="C1", last_name="Ng"))
    with units() as uow:
        uow.activities.add(Activity(id="taken", subject_id="C1", kind="call", occurred_at=NOW))
        uow.commit()
    before = _snapshot(units)
    with pytest.raises(RecordExists):
        reengage_contact(
            units(), "C1", signal="s", ids=lambda kind: "L9" if kind == "lead" else "taken", now=NOW
        )
    assert _snapshot(units) == before


def test_a_failing_close_writes_neither_deal_nor_contact(units):
    late = datetime(2027, 1, 1, tzinfo=UTC)  # the contact was created after *now*
    _store(
        units,
        Contact(id="C1", last_name="Ng", created_at=late, updated_at=late),
        Opportunity(id="O1", name="Deal", contact_id="C1"),
    )
    before = _snapshot(units)
    with pytest.raises(ValidationError):
        close_opportunity(units(), "O1", won=True, now=NOW)
    assert _snapshot(units) == before


def test_apply_workflows_never_stamps_a_lead_before_it_was_created(units):
    _store(units, Lead(id="L1", last_name="Ng", company="Acme", created_at=NOW))
    outcome = apply_workflows(units(), _score_event(EARLIER), [HOT])  # an event from before
    assert outcome.lead is not None
    assert outcome.lead.rating == "Hot"
    assert outcome.lead.updated_at == NOW  # its creation: never earlier


def test_the_accounts_only_contact_is_found_by_its_exact_account_id(units):
    _store(
        units,
        Account(id="A1", name="Acme"),
        Account(id="a1", name="Other Acme"),
        Contact(id="C1", last_name="Ng", account_id="A1"),
        Contact(id="C2", last_name="Xu", account_id="a1"),  # another account, same letters
        Opportunity(id="O1", name="Deal", account_id="A1"),
    )
    closed = close_opportunity(units(), "O1", won=True, now=NOW)
    assert closed.contact is not None
    assert closed.contact.id == "C1"


# -- one journey view per run: rules fire as they would alone -------------------------------

_KINDS = st.sampled_from(["call", "demo_request", "form_submitted"])
_JOURNEY_CONDITIONS = st.one_of(
    st.builds(
        Condition,
        st.sampled_from(["activity.total", "score"]),
        st.sampled_from(["gte", "lt", "eq"]),
        st.integers(0, 6),
    ),
    st.builds(
        Condition,
        _KINDS.map(lambda kind: f"activity.count.{kind}"),
        st.sampled_from(["gte", "lt", "eq"]),
        st.integers(0, 3),
    ),
    st.builds(Condition, st.just("activity.kinds"), st.just("contains"), _KINDS),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_JOURNEY_CONDITIONS, min_size=1, max_size=6), st.lists(_KINDS, max_size=6))
def test_rules_of_one_run_fire_as_each_would_alone(conditions, kinds):
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    history = [
        Activity(id=f"A{i}", subject_id="L1", kind=kind, occurred_at=NOW)
        for i, kind in enumerate(kinds)
    ]
    rules = [
        WorkflowRule(f"r{i}", Trigger.score_crossed(50), c, [UpdateField("rating", f"R{i}")])
        for i, c in enumerate(conditions)
    ]
    together = run_workflows(_score_event(), lead, rules, score=3, activities=history)
    alone = [
        name
        for rule in rules
        for name in run_workflows(_score_event(), lead, [rule], score=3, activities=history).fired
    ]
    assert list(together.fired) == alone
    reversed_run = run_workflows(_score_event(), lead, rules[::-1], score=3, activities=history)
    assert sorted(reversed_run.fired) == sorted(together.fired)


# -- a reopened deal's old lost reason -------------------------------------------------------


def test_a_reopened_deal_won_at_last_keeps_no_lost_reason(units):
    _store(units, Opportunity(id="O1", name="Deal", lost_reason="Price"))  # lost, reopened
    closed = close_opportunity(units(), "O1", won=True, now=NOW)
    assert (closed.opportunity.stage, closed.opportunity.lost_reason) == ("Closed Won", None)


def test_a_deal_lost_without_a_reason_keeps_the_reason_it_had(units):
    _store(units, Opportunity(id="O1", name="Deal", lost_reason="Price"))
    closed = close_opportunity(units(), "O1", won=False, now=NOW)
    assert closed.opportunity.lost_reason == "Price"
    assert closed.events[0].lost_reason == "Price"
    _store(units, Opportunity(id="O2", name="Deal 2", lost_reason="Price"))
    again = close_opportunity(units(), "O2", won=False, now=NOW, lost_reason="Timing")
    assert again.opportunity.lost_reason == "Timing"
