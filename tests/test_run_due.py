"""The run_due service: triggers applied through the guards, stored state, catch-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    All,
    AutoConvertRule,
    Condition,
    ConvertOptions,
    Lead,
    LifecycleStage,
    Notification,
    Notify,
    Queue,
    Reassign,
    RoundRobin,
    SetLifecycleStage,
    SetStatus,
    TimeTrigger,
    TriggerClock,
    TriggerState,
    UpdateField,
    ValidationError,
)
from leadmodel.adapters.memory import (
    FixedClock,
    MemoryNotifier,
    MemoryStore,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import run_due

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
OPEN = "Open - Not Contacted"

SLA = TimeTrigger(
    "speed to lead",
    All([Condition("status", "eq", OPEN), Condition("owner_is_queue", "eq", False)]),
    TriggerClock.assignment(),
    timedelta(hours=1),
    [Reassign(RoundRobin(["ann", "bob", "cy"], name="sales")), Notify("manager-1", "sla_missed")],
    until={"call", "email"},
    escalations=2,
)
NURTURE = TimeTrigger(
    "score decayed below 20",
    All([Condition("custom.score", "lt", 20), Condition("owner_id", "ne", "nurture")]),
    TriggerClock.updated(),
    timedelta(0),
    [Reassign(Queue("nurture"))],
)


@pytest.fixture(params=["memory", "sqlite"])
def units(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    sqlite = SQLiteStore(":memory:")
    yield lambda: SQLiteUnitOfWork(sqlite)
    sqlite.close()


def stored(make: Callable[[], Any], *records: object) -> None:
    with make() as uow:
        for record in records:
            (uow.activities if isinstance(record, Activity) else uow.leads).add(record)
        uow.commit()


def lead(lead_id: str = "L1", **fields: object) -> Lead:
    values: dict[str, object] = {
        "last_name": "Ng",
        "company": "Acme",
        "created_at": T0,
        "updated_at": T0,
        "owner_id": "ann",
    }
    values.update(fields)
    return Lead(id=lead_id, **values)  # type: ignore[arg-type]


def tick(make: Callable[[], Any], rules: list[Any], hours: float, **kwargs: Any) -> Any:
    kwargs.setdefault("notifier", MemoryNotifier())
    kwargs.setdefault("ids", SequentialIds(prefix=f"t{hours}-"))
    return run_due(make(), rules, now=T0 + timedelta(hours=hours), **kwargs)


def test_an_uncontacted_lead_is_reassigned_and_the_manager_told(units: Callable[[], Any]) -> None:
    stored(units, lead())
    notifier = MemoryNotifier()
    run = tick(units, [SLA], 1, notifier=notifier)
    assert [o.detail.split(" (")[0] for o in run.outcomes] == [
        "reassigned from ann to bob",
        "sla_missed to manager-1",
    ]
    assert [n.recipient for n in notifier.sent] == ["manager-1"]
    with units() as uow:
        assert uow.leads.get("L1").owner_id == "bob"
        assigned = [a for a in uow.activities if a.kind == "assigned"]
        assert [(a.occurred_at, a.properties["to"]) for a in assigned] == [
            (T0 + timedelta(hours=1), "bob")
        ]
    assert tick(units, [SLA], 1.5).outcomes == ()


def test_escalations_restart_the_clock_and_catch_up_in_order(units: Callable[[], Any]) -> None:
    stored(units, lead())
    run = tick(units, [SLA], 24 * 3)  # three days of downtime: one evaluation
    owners = [o.detail.split(" (")[0] for o in run.outcomes if o.action.action.kind == "reassign"]
    assert owners == [
        "reassigned from ann to bob",
        "reassigned from bob to cy",
        "reassigned from cy to ann",
    ]
    assert [o.action.due_at - T0 for o in run.outcomes][::2] == [
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=3),
    ]
    assert tick(units, [SLA], 24 * 4).outcomes == ()  # the chain is over


def test_a_call_within_the_hour_keeps_the_owner(units: Callable[[], Any]) -> None:
    call = Activity(id="A1", subject_id="L1", kind="call", occurred_at=T0 + timedelta(minutes=20))
    stored(units, lead(), call)
    assert tick(units, [SLA], 5).outcomes == ()


def test_a_decayed_score_goes_to_the_nurture_queue_keeping_its_lifecycle(
    units: Callable[[], Any],
) -> None:
    cold = lead(custom={"score": 12}, lifecycle_stage=LifecycleStage.MARKETING_QUALIFIED)
    stored(units, cold, lead("L2", custom={"score": 70}))
    run = tick(units, [NURTURE], 1)
    assert [(o.action.record_id, o.applied) for o in run.outcomes] == [("L1", True)]
    with units() as uow:
        moved = uow.leads.get("L1")
    assert (moved.owner_id, moved.owner_is_queue) == ("nurture", True)
    assert moved.lifecycle_stage is LifecycleStage.MARKETING_QUALIFIED
    assert moved.status == cold.status
    assert tick(units, [NURTURE], 2).outcomes == ()


def test_status_and_stage_moves_go_through_the_guards(units: Callable[[], Any]) -> None:
    stored(units, lead(lifecycle_stage=LifecycleStage.SALES_QUALIFIED))
    rule = TimeTrigger(
        "give up",
        Condition("status", "eq", OPEN),
        TriggerClock.created(),
        timedelta(days=30),
        [
            SetStatus("Closed - Converted"),  # conversion only: refused
            SetStatus("Working - Contacted"),
            SetLifecycleStage(LifecycleStage.LEAD),  # backwards: refused
            UpdateField("rating", "Cold"),
        ],
    )
    run = tick(units, [rule], 24 * 31)
    assert [o.applied for o in run.outcomes] == [False, True, False, True]
    assert run.refused[0].detail.startswith("refused:")
    with units() as uow:
        saved = uow.leads.get("L1")
        changes = [a for a in uow.activities if a.kind == "status_changed"]
    assert (saved.status, saved.rating) == ("Working - Contacted", "Cold")
    assert saved.lifecycle_stage is LifecycleStage.SALES_QUALIFIED
    assert saved.updated_at == T0 + timedelta(days=30)  # dated when it became due
    assert [c.occurred_at for c in changes] == [T0 + timedelta(days=30)]


class Failing:
    def send(self, notification: Notification) -> None:
        raise ConnectionError(f"smtp down, {notification.template} not sent")


def test_a_failed_send_is_reported_and_the_run_kept(units: Callable[[], Any]) -> None:
    stored(units, lead())
    run = tick(units, [SLA], 1, notifier=Failing())
    assert [(n.recipient, why) for n, why in run.failed] == [
        ("manager-1", "ConnectionError: smtp down, sla_missed not sent")
    ]
    with units() as uow:
        assert uow.leads.get("L1").owner_id == "bob"
        assert uow.trigger_states.get("triggers").evaluated_at == T0 + timedelta(hours=1)


def test_auto_conversion_runs_on_run_due(units: Callable[[], Any]) -> None:
    demo = Activity(id="A1", subject_id="L2", kind="demo_booked", occurred_at=T0)
    stored(units, lead(rating="Hot"), lead("L2"), lead("L3"), demo)
    rules = [
        AutoConvertRule(
            Condition("rating", "eq", "Hot"), ConvertOptions("Closed - Converted"), name="hot"
        ),
        AutoConvertRule(
            Condition("company", "is_not_blank"),
            ConvertOptions("Closed - Converted"),
            name="demos",
            activity_kinds={"demo_booked"},
        ),
        SLA,
    ]
    run = tick(units, rules, 2)
    assert sorted((c.lead_id, c.rule) for c in run.conversions) == [("L1", "hot"), ("L2", "demos")]
    assert {o.action.record_id for o in run.outcomes} == {"L3"}  # converted leads never fire
    with units() as uow:
        assert uow.leads.get("L1").converted is not None
        assert uow.leads.get("L2").converted is not None
        assert uow.leads.get("L3").converted is None


def test_it_commits_once(units: Callable[[], Any]) -> None:
    stored(units, lead(), lead("L2"))
    inner = units()
    commits = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def __enter__(self) -> Any:
            inner.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            inner.__exit__(*exc)

        def commit(self) -> None:
            commits.append(1)
            inner.commit()

    counting = Counting()
    counting.trigger_states = inner.trigger_states  # type: ignore[attr-defined]
    run_due(counting, [SLA], ids=SequentialIds(), now=T0 + timedelta(hours=1))  # type: ignore[arg-type]
    assert commits == [1]


def test_a_clock_gives_the_time_and_state_ids_keep_rule_sets_apart(
    units: Callable[[], Any],
) -> None:
    stored(units, lead())
    clock = FixedClock(T0 + timedelta(hours=1))
    first = run_due(units(), [SLA], ids=SequentialIds(), clock=clock, state_id="sla")
    assert first.state.id == "sla"
    with units() as uow:
        assert uow.trigger_states.get("triggers") is None
        assert uow.trigger_states.get("sla") == first.state


class NoTriggerState:
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __init__(self) -> None:
        self.inner = MemoryUnitOfWork()
        for name in ("leads", "contacts", "accounts", "opportunities", "activities", "commit"):
            setattr(self, name, getattr(self.inner, name))
        self.rollback = self.inner.rollback


def test_bad_arguments_are_validation_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        run_due(NoTriggerState(), [SLA], ids=SequentialIds(), now=T0)  # type: ignore[arg-type]
    assert caught.value.errors[0].code == "capability"
    uow = MemoryUnitOfWork()
    for kwargs in (
        {"ids": SequentialIds()},  # neither clock nor now
        {"ids": SequentialIds(), "now": T0, "clock": FixedClock(T0)},
        {"ids": "ids", "now": T0},
        {"ids": SequentialIds(), "now": datetime(2026, 1, 1)},  # noqa: DTZ001
        {"ids": SequentialIds(), "now": T0, "notifier": "mail"},
        {"ids": SequentialIds(), "now": T0, "state_id": ""},
    ):
        with pytest.raises(ValidationError):
            run_due(uow, [SLA], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        run_due(uow, "rules", ids=SequentialIds(), now=T0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        run_due(uow, [SLA, "x"], ids=SequentialIds(), now=T0)  # type: ignore[list-item]


def test_a_run_before_the_last_one_is_refused(units: Callable[[], Any]) -> None:
    tick(units, [SLA], 5)
    with pytest.raises(ValidationError) as caught:
        tick(units, [SLA], 4)
    assert caught.value.errors[0].code == "past"
    with units() as uow:
        assert uow.trigger_states.get("triggers") == TriggerState(
            evaluated_at=T0 + timedelta(hours=5)
        )


def _world(make: Callable[[], Any], count: int) -> None:
    records: list[object] = []
    for i in range(count):
        created = T0 + timedelta(minutes=37 * i)
        records.append(lead(f"L{i:03d}", created_at=created, updated_at=created))
        if i % 3 == 0:  # called in time
            records.append(
                Activity(
                    id=f"C{i}", subject_id=f"L{i:03d}", kind="call", occurred_at=created + HALF
                )
            )
        elif i % 3 == 1:  # called late, after the first escalation
            records.append(
                Activity(
                    id=f"C{i}",
                    subject_id=f"L{i:03d}",
                    kind="email",
                    occurred_at=created + timedelta(minutes=100),
                )
            )
    stored(make, *records)


HALF = timedelta(minutes=30)


def _outcome(make: Callable[[], Any], sent: list[Notification]) -> object:
    with make() as uow:
        owners = sorted((x.id, x.owner_id) for x in uow.leads)
        logged = sorted(
            (a.subject_id, a.kind, a.occurred_at, tuple(sorted(a.properties.items())))
            for a in uow.activities
        )
        state = uow.trigger_states.get("triggers")
    notes = [(n.subject_id, n.template, n.data["due_at"]) for n in sent]
    return owners, logged, state.marks, state.assignment, notes


def test_hourly_ticks_and_one_late_tick_leave_the_same_store() -> None:
    """The service-level catch-up promise: a clock ticking every hour for two days, or a
    single run at the end, reassign the same leads to the same owners in the same order."""
    hourly, once = MemoryStore(), MemoryStore()
    for store in (hourly, once):
        _world(lambda store=store: MemoryUnitOfWork(store), 30)
    rules = [SLA, NURTURE]
    clock = FixedClock(T0)
    ticking = MemoryNotifier()
    for _ in range(48):
        clock.advance(timedelta(hours=1))
        run_due(
            MemoryUnitOfWork(hourly),
            rules,
            notifier=ticking,
            ids=SequentialIds(prefix=f"h{clock.now().isoformat()}-"),
            clock=clock,
        )
    late = MemoryNotifier()
    run = run_due(
        MemoryUnitOfWork(once), rules, notifier=late, ids=SequentialIds(prefix="o-"), clock=clock
    )
    assert len(run.applied) == 2 * (10 * 3 + 10 * 1)  # 3 misses when never called, 1 when late
    assert _outcome(lambda: MemoryUnitOfWork(hourly), ticking.sent) == _outcome(
        lambda: MemoryUnitOfWork(once), late.sent
    )


def test_the_state_forgets_leads_removed_or_converted(units: Callable[[], Any]) -> None:
    stored(units, lead(), lead("L2"), lead("L3"))
    first = tick(units, [SLA], 1)
    assert {m.record_id for m in first.state.marks} == {"L1", "L2", "L3"}
    with units() as uow:
        uow.leads.remove("L2")
        uow.commit()
    hot = AutoConvertRule(
        Condition("last_name", "eq", "Ng"), ConvertOptions("Closed - Converted"), name="all"
    )
    later = tick(units, [SLA, hot], 1.5)
    assert later.state.marks == ()


HAND_OVER = TimeTrigger(
    "hand over after 4 hours",
    Condition("status", "eq", OPEN),
    TriggerClock.created(),
    timedelta(hours=4),
    [SetStatus("Working - Contacted"), Notify("owner", "handed_over")],
)
WORKING_STUCK = TimeTrigger(
    "working for 2 hours",
    Condition("status", "eq", "Working - Contacted"),
    TriggerClock.status_change(),
    timedelta(hours=2),
    [Notify("owner", "stuck"), Reassign(Queue("triage"))],
)


@settings(max_examples=25)
@given(
    st.lists(st.tuples(st.integers(0, 600), st.none() | st.integers(0, 300)), max_size=6),
    st.lists(st.integers(1, 12 * 6), max_size=8),
)
def test_any_tick_schedule_leaves_the_store_a_single_late_tick_leaves(
    people: list[tuple[int, int | None]], ticks: list[int]
) -> None:
    stepped, once = MemoryStore(), MemoryStore()
    for store in (stepped, once):
        records: list[object] = []
        for i, (created, called) in enumerate(people):
            at = T0 + timedelta(minutes=created)
            records.append(lead(f"L{i}", created_at=at, updated_at=at, custom={"score": i * 7}))
            if called is not None:
                records.append(
                    Activity(
                        id=f"C{i}",
                        subject_id=f"L{i}",
                        kind="call",
                        occurred_at=at + timedelta(minutes=called),
                    )
                )
        stored(lambda store=store: MemoryUnitOfWork(store), *records)
    rules = [SLA, NURTURE, HAND_OVER, WORKING_STUCK]  # rules that feed each other
    end = T0 + timedelta(hours=13)
    step_sent = MemoryNotifier()
    for n, ten_minutes in enumerate(sorted(set(ticks))):
        run_due(
            MemoryUnitOfWork(stepped),
            rules,
            notifier=step_sent,
            ids=SequentialIds(prefix=f"s{n}-"),
            now=T0 + timedelta(minutes=10 * ten_minutes),
        )
    run_due(
        MemoryUnitOfWork(stepped),
        rules,
        notifier=step_sent,
        ids=SequentialIds(prefix="e-"),
        now=end,
    )
    once_sent = MemoryNotifier()
    run_due(MemoryUnitOfWork(once), rules, notifier=once_sent, ids=SequentialIds(), now=end)
    assert _outcome(lambda: MemoryUnitOfWork(stepped), step_sent.sent) == _outcome(
        lambda: MemoryUnitOfWork(once), once_sent.sent
    )


def test_a_change_save_would_refuse_is_reported_and_the_run_goes_on(
    units: Callable[[], Any],
) -> None:
    odd = lead("L1", status="Nurturing")  # stored by a host, outside the process
    stored(units, odd, lead("L2"))
    rule = TimeTrigger(
        "cool down",
        Condition("last_name", "eq", "Ng"),
        TriggerClock.created(),
        timedelta(days=1),
        [Reassign(RoundRobin(["ann", "bob"], name="sales")), UpdateField("rating", "Cold")],
    )
    run = tick(units, [rule], 25)
    assert [(o.action.record_id, o.applied) for o in run.outcomes] == [
        ("L1", False),
        ("L1", False),
        ("L2", True),
        ("L2", True),
    ]
    assert "is not a status of" in run.outcomes[0].detail
    with units() as uow:
        assert uow.leads.get("L1") == odd
        assert (uow.leads.get("L2").owner_id, uow.leads.get("L2").rating) == ("bob", "Cold")
        assert [a.subject_id for a in uow.activities] == ["L2"]  # one "assigned", for L2
