"""Time-based triggers: the issue's examples, the episode semantics, and their properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    Condition,
    DueAction,
    Lead,
    LifecycleStage,
    Notify,
    Queue,
    Reassign,
    RoundRobin,
    SetStatus,
    TimeTrigger,
    TriggerClock,
    TriggerState,
    ValidationError,
    due,
)
from leadmodel.serialization import from_json, to_json

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
OPEN = "Open - Not Contacted"


def lead(lead_id: str = "L1", **fields: object) -> Lead:
    values: dict[str, object] = {
        "last_name": "Ng",
        "company": "Acme",
        "created_at": T0,
        "owner_id": "ann",
    }
    values.update(fields)
    return Lead(id=lead_id, **values)  # type: ignore[arg-type]


def activity(activity_id: str, kind: str, at: datetime, subject: str = "L1") -> Activity:
    return Activity(id=activity_id, subject_id=subject, kind=kind, occurred_at=at)


NO_ACTIVITY = TimeTrigger(
    "no activity in 14 days",
    Condition("status", "eq", OPEN),
    TriggerClock.last_activity(),
    timedelta(days=14),
    [Notify("owner", "stale_lead")],
)
STATUS_STUCK = TimeTrigger(
    "status unchanged for 7 days",
    Condition("status", "is_not_blank"),
    TriggerClock.status_change(),
    timedelta(days=7),
    [Notify("owner", "status_stuck")],
)
SLA = TimeTrigger(
    "speed to lead",
    Condition("status", "eq", OPEN),
    TriggerClock.assignment(),
    timedelta(hours=1),
    [Reassign(RoundRobin(["ann", "bob", "cy"], name="sales")), Notify("manager-1", "sla_missed")],
    until={"call", "email"},
    escalations=2,
)
DECAYED = TimeTrigger(
    "score decayed below 20",
    Condition("custom.score", "lt", 20),
    TriggerClock.updated(),
    timedelta(0),
    [Reassign(Queue("nurture"))],
)


def test_no_activity_in_14_days_fires_14_days_after_the_last_activity() -> None:
    acts = [activity("A1", "email_opened", T0 + timedelta(days=3))]
    early, state = due([lead()], acts, [NO_ACTIVITY], TriggerState(), now=T0 + timedelta(days=16))
    assert early == ()
    actions, _ = due([lead()], acts, [NO_ACTIVITY], state, now=T0 + timedelta(days=17))
    assert [(a.started_at, a.due_at) for a in actions] == [
        (T0 + timedelta(days=3), T0 + timedelta(days=17))
    ]
    assert "no activity in 14 days" in actions[0].reason
    assert "L1" in actions[0].reason


def test_status_unchanged_for_7_days_restarts_at_each_status_change() -> None:
    acts = [activity("A1", "status_changed", T0 + timedelta(days=5))]
    actions, _ = due([lead()], acts, [STATUS_STUCK], TriggerState(), now=T0 + timedelta(days=12))
    assert [a.due_at for a in actions] == [T0 + timedelta(days=12)]
    assert actions[0].started_at == T0 + timedelta(days=5)


def test_not_contacted_within_an_hour_escalates_in_order_and_restarts_the_clock() -> None:
    actions, state = due([lead()], [], [SLA], TriggerState(), now=T0 + timedelta(days=2))
    assert [(a.due_at - T0, a.escalation, a.action.kind) for a in actions] == [
        (timedelta(hours=1), 0, "reassign"),
        (timedelta(hours=1), 0, "notify"),
        (timedelta(hours=2), 1, "reassign"),
        (timedelta(hours=2), 1, "notify"),
        (timedelta(hours=3), 2, "reassign"),
        (timedelta(hours=3), 2, "notify"),
    ]
    assert state.marks[0].escalation == 2  # the chain is over


def test_a_call_within_the_hour_stops_the_sla_clock() -> None:
    acts = [activity("A1", "call", T0 + timedelta(minutes=40))]
    actions, _ = due([lead()], acts, [SLA], TriggerState(), now=T0 + timedelta(days=1))
    assert actions == ()


def test_a_call_after_the_first_escalation_stops_the_chain() -> None:
    acts = [activity("A1", "email", T0 + timedelta(minutes=90))]
    actions, _ = due([lead()], acts, [SLA], TriggerState(), now=T0 + timedelta(days=1))
    assert {a.escalation for a in actions} == {0}


def test_a_new_assignment_starts_a_new_sla_episode() -> None:
    acts = [activity("A1", "assigned", T0 + timedelta(days=3))]
    actions, _ = due([lead()], acts, [SLA], TriggerState(), now=T0 + timedelta(days=3, hours=1))
    assert [a.due_at for a in actions if a.action.kind == "notify"][-1] == T0 + timedelta(
        days=3, hours=1
    )


def test_score_decayed_below_20_reassigns_to_nurture_and_leaves_the_lifecycle() -> None:
    cold = lead(custom={"score": 12}, updated_at=T0 + timedelta(days=1), lifecycle_stage=None)
    warm = lead("L2", custom={"score": 55})
    actions, _ = due([cold, warm], [], [DECAYED], TriggerState(), now=T0 + timedelta(days=1))
    assert [(a.record_id, a.action) for a in actions] == [("L1", Reassign(Queue("nurture")))]
    assert not any(isinstance(a.action, SetStatus) for a in actions)


def test_evaluating_twice_at_the_same_time_fires_nothing_new() -> None:
    now = T0 + timedelta(days=30)
    first, state = due([lead()], [], [NO_ACTIVITY, SLA], TriggerState(), now=now)
    again, state_again = due([lead()], [], [NO_ACTIVITY, SLA], state, now=now)
    assert first
    assert again == ()
    assert state_again == state


def test_a_lead_that_leaves_and_reenters_the_condition_fires_again() -> None:
    now = T0 + timedelta(days=15)
    first, state = due([lead()], [], [NO_ACTIVITY], TriggerState(), now=now)
    assert len(first) == 1
    working = lead(status="Working - Contacted")
    gone, state = due([working], [], [NO_ACTIVITY], state, now=now + timedelta(days=1))
    assert gone == ()
    assert state.marks[0].left
    back, state = due([lead()], [], [NO_ACTIVITY], state, now=now + timedelta(days=2))
    assert len(back) == 1
    assert due([lead()], [], [NO_ACTIVITY], state, now=now + timedelta(days=3))[0] == ()


def test_since_ignores_episodes_due_before_it() -> None:
    state = TriggerState(since=T0 + timedelta(days=30))
    actions, _ = due([lead()], [], [NO_ACTIVITY], state, now=T0 + timedelta(days=40))
    assert actions == ()


def test_converted_leads_and_future_activities() -> None:
    acts = [activity("A1", "call", T0 + timedelta(days=20))]  # after now: not seen
    actions, _ = due([lead()], acts, [NO_ACTIVITY], TriggerState(), now=T0 + timedelta(days=14))
    assert len(actions) == 1


def test_bad_arguments_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        due("leads", [], [NO_ACTIVITY], TriggerState(), now=T0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        due([lead()], [], [NO_ACTIVITY, NO_ACTIVITY], TriggerState(), now=T0)
    with pytest.raises(ValidationError):
        due([lead(), lead()], [], [NO_ACTIVITY], TriggerState(), now=T0)
    with pytest.raises(ValidationError):
        due([lead()], [], [NO_ACTIVITY], TriggerState(), now=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError) as caught:
        due([], [], [], TriggerState(evaluated_at=T0), now=T0 - timedelta(seconds=1))
    assert caught.value.errors[0].code == "past"


@pytest.mark.parametrize(
    "make",
    [
        lambda: TimeTrigger("x", Condition("status", "eq", OPEN), TriggerClock.created(), 5, []),
        lambda: TimeTrigger(
            "x",
            Condition("status", "eq", OPEN),
            TriggerClock.created(),
            timedelta(0),
            [Notify("owner", "t")],
            escalations=3,
        ),
        lambda: TimeTrigger(
            "x",
            Condition("status", "eq", OPEN),
            TriggerClock.created(),
            timedelta(days=-1),
            [Notify("owner", "t")],
        ),
        lambda: TriggerClock("yesterday"),
        lambda: TriggerClock("created", {"call"}),
        lambda: Reassign("ann"),
    ],
)
def test_bad_rules_are_refused(make: object) -> None:
    with pytest.raises(ValidationError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("rule", [NO_ACTIVITY, STATUS_STUCK, SLA, DECAYED])
def test_triggers_round_trip_through_json(rule: TimeTrigger) -> None:
    assert from_json(TimeTrigger, to_json(rule)) == rule


def test_state_and_actions_round_trip_through_json() -> None:
    actions, state = due([lead()], [], [SLA], TriggerState(), now=T0 + timedelta(days=1))
    assert from_json(TriggerState, to_json(state)) == state
    assert all(from_json(DueAction, to_json(a)) == a for a in actions)


# -- properties over fixed records -------------------------------------------------------

RULES = (
    NO_ACTIVITY,
    STATUS_STUCK,
    SLA,
    DECAYED,
    TimeTrigger(
        "welcome after a day",
        Condition("status", "eq", OPEN),
        TriggerClock.created(),
        timedelta(days=1),
        [Notify("lead", "welcome")],
    ),
    TimeTrigger(
        "no call for 3 days",
        Condition("status", "is_not_blank"),
        TriggerClock.last_activity({"call"}),
        timedelta(days=3),
        [Notify("owner", "call_them")],
        escalations=1,
    ),
)
KINDS = ("call", "email", "page_view", "status_changed", "assigned")
HOURS = 24 * 40


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Lead], list[Activity]]:
    count = draw(st.integers(1, 4))
    leads = []
    acts = []
    for i in range(count):
        created = T0 + timedelta(hours=draw(st.integers(0, 24 * 5)))
        leads.append(
            lead(
                f"L{i}",
                created_at=created,
                updated_at=created + timedelta(hours=draw(st.integers(0, 48))),
                status=draw(st.sampled_from([OPEN, "Working - Contacted"])),
                custom={"score": draw(st.integers(0, 40))},
                lifecycle_stage=LifecycleStage.LEAD,
            )
        )
        acts.extend(
            activity(
                f"A{i}-{j}",
                draw(st.sampled_from(KINDS)),
                T0 + timedelta(minutes=draw(st.integers(0, HOURS * 60))),
                subject=f"L{i}",
            )
            for j in range(draw(st.integers(0, 5)))
        )
    return leads, acts


@settings(max_examples=60)
@given(worlds(), st.lists(st.integers(0, HOURS), max_size=6))
def test_one_step_or_many_give_the_same_actions_and_state(
    world: tuple[list[Lead], list[Activity]], steps: list[int]
) -> None:
    leads, acts = world
    end = T0 + timedelta(hours=HOURS)
    once, once_state = due(leads, acts, RULES, TriggerState(), now=end)
    stepped: list[DueAction] = []
    state = TriggerState()
    for hours in [*sorted(steps), HOURS]:
        actions, state = due(leads, acts, RULES, state, now=T0 + timedelta(hours=hours))
        stepped += actions
    assert tuple(stepped) == once
    assert state == once_state


@settings(max_examples=40)
@given(worlds(), st.integers(0, HOURS))
def test_due_is_idempotent_and_its_state_round_trips(
    world: tuple[list[Lead], list[Activity]], hours: int
) -> None:
    leads, acts = world
    now = T0 + timedelta(hours=hours)
    _, state = due(leads, acts, RULES, TriggerState(), now=now)
    again, same = due(leads, acts, RULES, state, now=now)
    assert again == ()
    assert same == state
    assert from_json(TriggerState, to_json(state)) == state


@settings(max_examples=30)
@given(worlds())
def test_due_does_not_depend_on_the_order_of_records_or_activities(
    world: tuple[list[Lead], list[Activity]],
) -> None:
    leads, acts = world
    now = T0 + timedelta(hours=HOURS)
    forward = due(leads, acts, RULES, TriggerState(), now=now)
    backward = due(leads[::-1], acts[::-1], RULES, TriggerState(), now=now)
    assert forward == backward
