"""Hostile review of issue 17's time-based triggers: each test pins a bug found and fixed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    AutoConvertRule,
    ConcurrencyError,
    Condition,
    ConvertOptions,
    EmailAddress,
    Lead,
    LifecycleStage,
    LoadBalanced,
    Notification,
    Notify,
    Queue,
    Reassign,
    RoundRobin,
    SetLifecycleStage,
    SetStatus,
    TimeTrigger,
    TriggerClock,
    TriggerMark,
    TriggerState,
    UpdateField,
    ValidationError,
    due,
    from_json,
    speed_to_lead,
    to_dict,
)
from leadmodel.adapters.memory import (
    MemoryNotifier,
    MemoryStore,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.adapters.sqlite import SQLiteUnitOfWork
from leadmodel.cli import main
from leadmodel.services import run_due

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
EVERYONE = Condition("last_name", "is_not_blank")
NEW_YORK = ZoneInfo("America/New_York")
END = datetime.max.replace(tzinfo=UTC)


def trigger(name: str = "t", delay: timedelta = timedelta(days=1), **kwargs: Any) -> TimeTrigger:
    clock = kwargs.pop("clock", TriggerClock.created())
    return TimeTrigger(name, EVERYONE, clock, delay, [Notify("owner", "t")], **kwargs)


def lead(lead_id: str = "L1", created_at: datetime = T0, **fields: Any) -> Lead:
    return Lead(
        id=lead_id,
        last_name="Ng",
        company="Acme",
        owner_id="ann",
        created_at=created_at,
        **fields,
    )


# -- Bug 1: a TriggerMark took naive datetimes and negative escalations ---------------------


@pytest.mark.parametrize(
    ("started_at", "due_at", "escalation"),
    [
        (T0.replace(tzinfo=None), T0.replace(hour=10, tzinfo=None), 0),  # naive
        (T0, T0.replace(hour=10, tzinfo=None), 0),  # naive due time
        (T0, T0 + timedelta(hours=1), -1),  # a chain position below zero
        (T0, T0 - timedelta(hours=1), 0),  # due before it started
    ],
)
def test_a_mark_refuses_naive_times_negative_escalations_and_due_before_start(
    started_at: datetime, due_at: datetime, escalation: int
) -> None:
    with pytest.raises(ValidationError):
        TriggerMark("t", "L1", started_at, due_at, escalation)


def test_a_stored_state_with_naive_marks_does_not_load_into_a_type_error() -> None:
    text = (
        '{"format": 1, "marks": [{"rule": "t", "record_id": "L1", '
        '"started_at": "2026-03-02T09:00:00", "due_at": "2026-03-03T09:00:00"}]}'
    )
    with pytest.raises(ValidationError):
        from_json(TriggerState, text)


def test_a_hostile_negative_escalation_cannot_buy_extra_firings() -> None:
    with pytest.raises(ValidationError):
        TriggerState(marks=[TriggerMark("t", "L1", T0, T0 + timedelta(days=1), -5)])


# -- Bug 2: due times past year 9999 raised OverflowError ----------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        trigger(delay=timedelta(days=3650)),
        trigger(delay=timedelta(days=3650), escalations=100),
        trigger(delay=timedelta(days=3650), clock=TriggerClock.last_activity(), until={"call"}),
    ],
    ids=["simple", "escalations", "activity-clock"],
)
def test_a_due_time_beyond_the_calendar_is_never_due_not_an_overflow(rule: TimeTrigger) -> None:
    far = lead(created_at=datetime(9999, 12, 30, tzinfo=UTC))
    late = Activity(id="A1", subject_id="L1", kind="email", occurred_at=END)
    actions, state = due([far], [late], [rule], TriggerState(), now=END)
    assert actions == ()
    assert state.evaluated_at == END
    # An escalation chain near the end of the calendar stops at its last representable step.
    near = lead("L2", created_at=END - timedelta(days=3650 * 2 + 1))
    chain = trigger("chain", delay=timedelta(days=3650), escalations=100)
    fired, _ = due([near], [], [chain], TriggerState(), now=END)
    assert [a.escalation for a in fired] == [0, 1]


def test_run_due_and_tick_survive_a_lead_at_the_end_of_the_calendar(tmp_path: Path) -> None:
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead(created_at=datetime(9999, 12, 31, tzinfo=UTC)))
        uow.commit()
    run = run_due(
        uow,
        [trigger(escalations=3)],
        notifier=MemoryNotifier(),
        ids=SequentialIds(),
        now=END,
    )
    assert run.outcomes == ()


# -- Bug 3: delays counted in wall-clock time, so memory and SQLite disagreed across DST -----


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_24_hour_delay_is_24_hours_across_a_dst_change_in_any_store(
    store: str, tmp_path: Path
) -> None:
    created = datetime(2026, 3, 7, 9, tzinfo=NEW_YORK)  # 14:00 UTC; clocks go forward on 3-8
    uow: Any = MemoryUnitOfWork() if store == "memory" else SQLiteUnitOfWork(tmp_path / "x.db")
    with uow:
        uow.leads.add(lead(created_at=created))
        uow.commit()
    rule = trigger(delay=timedelta(hours=24))
    early = run_due(
        uow,
        [rule],
        notifier=MemoryNotifier(),
        ids=SequentialIds(),
        now=datetime(2026, 3, 8, 13, 30, tzinfo=UTC),  # 23.5 hours in
    )
    assert early.outcomes == ()
    on_time = run_due(
        uow,
        [rule],
        notifier=MemoryNotifier(),
        ids=SequentialIds(),
        now=datetime(2026, 3, 8, 14, tzinfo=UTC),
    )
    [outcome] = on_time.outcomes
    assert outcome.action.due_at == datetime(2026, 3, 8, 14, tzinfo=UTC)
    assert outcome.action.due_at - outcome.action.started_at == timedelta(hours=24)
    assert "waited 1 day, 0:00:00" in outcome.action.reason


@settings(max_examples=50, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, NEW_YORK, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=-5))]
        ),
    ),
    st.integers(0, 72 * 60),
    st.integers(0, 96 * 60),
)
def test_due_times_do_not_depend_on_the_zone_the_times_are_written_in(
    created: datetime, delay_minutes: int, after_minutes: int
) -> None:
    rule = trigger(delay=timedelta(minutes=delay_minutes), clock=TriggerClock.last_activity())
    now = created + timedelta(minutes=after_minutes)
    zoned = due([lead(created_at=created)], [], [rule], TriggerState(), now=now)[0]
    utc = due(
        [lead(created_at=created.astimezone(UTC))],
        [],
        [rule],
        TriggerState(),
        now=now.astimezone(UTC),
    )[0]
    assert [(a.started_at, a.due_at) for a in zoned] == [(a.started_at, a.due_at) for a in utc]
    for action in zoned:
        assert action.due_at - action.started_at == timedelta(minutes=delay_minutes)


# -- Bug 4: speed_to_lead counted touches that had not happened yet ------------------------


def test_a_touch_after_now_is_not_seen_yet_by_speed_to_lead() -> None:
    leads = [lead()]
    later = [Activity(id="A1", subject_id="L1", kind="call", occurred_at=T0 + timedelta(days=5))]
    now = T0 + timedelta(minutes=10)
    [row] = speed_to_lead(leads, later, sla=timedelta(hours=1), now=now).to_records()
    assert (row["touched"], row["pending"], row["breached"]) == (0, 1, 0)
    [row] = speed_to_lead(
        leads, later, sla=timedelta(hours=1), now=T0 + timedelta(days=6)
    ).to_records()
    assert (row["touched"], row["pending"], row["breached"]) == (1, 0, 1)


# -- What held: kept as regression tests ---------------------------------------------------


def test_tick_with_a_bad_rules_file_or_now_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "x.db")
    bad = tmp_path / "bad.json"
    bad.write_text('{"triggers": [{"format": 1, "name": "x", "delay": 1e999999}]}')
    assert main(["tick", "--db", db, "--rules", str(bad)]) == 2
    assert "triggers[0] is not valid" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text('{"triggers": []}')
    for now in ("2026-03-02", "garbage", "2026-03-02T00:00:00+99:00"):
        assert main(["tick", "--db", db, "--rules", str(good), "--now", now]) == 2
        assert "--now" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
    assert main(["tick", "--db", str(tmp_path / "missing" / "x.db"), "--rules", str(good)]) == 2


# -- Bug 5: each catch-up step re-walked every firing up to now (quadratic in history) ------


def test_a_catch_up_over_a_long_history_builds_each_firing_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leadmodel.rules import triggers

    built = [0]
    real = triggers._new_action

    def counting(*args: Any) -> Any:
        built[0] += 1
        return real(*args)

    monkeypatch.setattr(triggers, "_new_action", counting)
    notes = 300
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead())
        for i in range(notes):
            at = T0 + timedelta(hours=i)
            uow.activities.add(Activity(id=f"A{i}", subject_id="L1", kind="note", occurred_at=at))
        uow.commit()
    stale = trigger(
        "stale",
        delay=timedelta(minutes=20),
        clock=TriggerClock.last_activity(["note"]),
        escalations=1,
    )
    run = run_due(
        uow,
        [stale],
        notifier=MemoryNotifier(),
        ids=SequentialIds(),
        now=T0 + timedelta(hours=notes + 1),
    )
    assert len(run.outcomes) == 2 * notes
    # One walk finds them all, each step applies its own and looks ahead for one more.
    assert built[0] <= 4 * len(run.outcomes)


# -- One step or many steps, with rules that feed each other and their own "until" ---------

OPEN = "Open - Not Contacted"
WORKING = "Working - Contacted"
DST_DAY = datetime(2026, 3, 8, 4, tzinfo=UTC)  # New York clocks go forward at 07:00 UTC
POOL = [
    TimeTrigger(
        "open to working",
        Condition("status", "eq", OPEN),
        TriggerClock.status_change(),
        timedelta(minutes=45),
        [SetStatus(WORKING), Notify("owner", "moved")],
    ),
    TimeTrigger(
        "working back to open",
        Condition("status", "eq", WORKING),
        TriggerClock.status_change(),
        timedelta(minutes=70),
        [SetStatus(OPEN)],
        until={"call"},
    ),
    TimeTrigger(
        "rotate until reassigned",  # its own action writes its "until" kind
        EVERYONE,
        TriggerClock.assignment(),
        timedelta(minutes=50),
        [Reassign(RoundRobin(["ann", "bob", "cy"], name="pool")), Notify("owner", "yours")],
        until={"assigned"},
        escalations=2,
    ),
    TimeTrigger(
        "quiet",
        EVERYONE,
        TriggerClock.last_activity(),  # any kind: restarted by the other rules' activities
        timedelta(minutes=95),
        [UpdateField("custom.pinged", value=True), Notify("lead", "still_there")],
        escalations=3,
    ),
    TimeTrigger(
        "updated to queue",
        Condition("owner_is_queue", "eq", value=False),
        TriggerClock.updated(),
        timedelta(0),
        [Reassign(Queue("triage"))],
    ),
    TimeTrigger(
        "stage after a day",
        EVERYONE,
        TriggerClock.created(),
        timedelta(hours=9),
        [SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED), SetStatus("Closed - Converted")],
    ),
    TimeTrigger(
        "stuck status",
        Condition("status", "ne", "Closed - Not Converted"),
        TriggerClock.status_change(),
        timedelta(minutes=200),
        [SetStatus("Closed - Not Converted"), Reassign(LoadBalanced(["dan", "eve"], 2))],
        until={"status_changed", "email"},
    ),
]


def _summary(store: MemoryStore, sent: list[Notification]) -> object:
    with MemoryUnitOfWork(store) as uow:
        leads = sorted(
            (x.id, x.owner_id, x.status, x.lifecycle_stage, x.custom.get("pinged"), x.updated_at)
            for x in uow.leads
        )
        logged = sorted(
            (a.subject_id, a.kind, a.occurred_at, tuple(sorted(a.properties.items())))
            for a in uow.activities
        )
        state = uow.trigger_states.get("triggers")
    notes = sorted((n.subject_id, n.template, n.recipient, n.data["due_at"]) for n in sent)
    assert state is not None
    return leads, logged, state.marks, state.assignment, notes


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=4, unique=True),
    st.lists(
        st.tuples(
            st.integers(0, 300),
            st.sampled_from([UTC, NEW_YORK]),
            st.lists(
                st.tuples(st.integers(0, 600), st.sampled_from(["call", "email", "note"])),
                max_size=3,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(1, 13 * 6), max_size=8),
)
def test_any_tick_schedule_ends_like_one_late_tick_with_rules_that_feed_each_other(
    chosen: list[int], people: list[tuple[int, Any, list[tuple[int, str]]]], ticks: list[int]
) -> None:
    rules = [POOL[i] for i in sorted(chosen)]
    stepped, once = MemoryStore(), MemoryStore()
    for store in (stepped, once):
        with MemoryUnitOfWork(store) as uow:
            for i, (created, zone, touches) in enumerate(people):
                at = (DST_DAY + timedelta(minutes=created)).astimezone(zone)
                uow.leads.add(
                    lead(
                        f"L{i}",
                        created_at=at,
                        updated_at=at,
                        email=EmailAddress.parse(f"p{i}@example.com"),
                    )
                )
                for j, (minutes, kind) in enumerate(touches):
                    uow.activities.add(
                        Activity(
                            id=f"A{i}-{j}",
                            subject_id=f"L{i}",
                            kind=kind,
                            occurred_at=at + timedelta(minutes=minutes),
                        )
                    )
            uow.commit()
    end = DST_DAY + timedelta(hours=14)
    step_sent = MemoryNotifier()
    for n, ten_minutes in enumerate(sorted(set(ticks))):
        run_due(
            MemoryUnitOfWork(stepped),
            rules,
            notifier=step_sent,
            ids=SequentialIds(prefix=f"s{n}-"),
            now=DST_DAY + timedelta(minutes=10 * ten_minutes),
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
    assert _summary(stepped, step_sent.sent) == _summary(once, once_sent.sent)
    again = run_due(
        MemoryUnitOfWork(once), rules, notifier=once_sent, ids=SequentialIds(prefix="x"), now=end
    )
    assert again.outcomes == ()  # the same now twice fires nothing new


# -- Bug 6: past 512 triggers every catch-up step recompiled every trigger -----------------


def test_more_than_512_triggers_are_compiled_once_each_not_once_a_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leadmodel.rules import triggers

    compiled = [0]
    real = triggers._Compiled

    class Counting(real):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def __init__(self, rule: TimeTrigger) -> None:
            compiled[0] += 1
            super().__init__(rule)

    monkeypatch.setattr(triggers, "_Compiled", Counting)
    count = 600
    rules = [
        TimeTrigger(
            f"r{i}",
            Condition("custom.n", "eq", i % 20),
            TriggerClock.created(),
            timedelta(minutes=i + 1),
            [Notify("owner", "t")],
        )
        for i in range(count)
    ]
    uow = MemoryUnitOfWork()
    with uow:
        for j in range(20):
            uow.leads.add(lead(f"L{j}", custom={"n": j}))
        uow.commit()
    run = run_due(
        uow, rules, notifier=MemoryNotifier(), ids=SequentialIds(), now=T0 + timedelta(days=1)
    )
    assert len(run.outcomes) == count
    assert compiled[0] <= count


def test_the_compiled_trigger_cache_lets_go_of_rules_no_longer_used() -> None:
    import gc

    from leadmodel.rules import triggers

    rule = trigger("short-lived", delay=timedelta(minutes=3))
    due([lead()], [], [rule], TriggerState(), now=T0)
    assert rule in triggers._COMPILED
    before = len(triggers._COMPILED)
    del rule
    gc.collect()
    assert len(triggers._COMPILED) == before - 1


# -- What held: two run_due processes on one SQLite file (invariant 9) ---------------------

_TICKER = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from leadmodel import ConcurrencyError, Condition, Notify, Reassign, RoundRobin
from leadmodel import TimeTrigger, TriggerClock
from leadmodel.adapters.sqlite import SQLiteUnitOfWork
from leadmodel.services import run_due

db, log, name, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
RULES = [
    TimeTrigger("sla", Condition("status", "eq", "Open - Not Contacted"),
                TriggerClock.assignment(), timedelta(minutes=30),
                [Reassign(RoundRobin(["ann", "bob", "cy"], name="sales")),
                 Notify("manager", "sla")], until={"call"}, escalations=3),
]

class Log:
    def __init__(self):
        self.sent = []
    def send(self, note):
        self.sent.append([note.subject_id, note.template, note.data["due_at"]])

while time.time() < start:
    time.sleep(0.005)
with open(log, "w") as out:
    for step in range(1, 19):
        notifier = Log()
        n = 0
        while True:
            n += 1
            try:
                ids = lambda kind, n=n: f"{name}-{step}-{n}-{kind}-{time.time_ns()}"
                run_due(SQLiteUnitOfWork(db), RULES, notifier=notifier, ids=ids,
                        now=T0 + timedelta(minutes=10 * step))
                break
            except ConcurrencyError:
                time.sleep(0.001 * n)
            except Exception as exc:
                if getattr(exc, "errors", None) and exc.errors[0].code == "past":
                    break
                raise
        for item in notifier.sent:
            out.write(json.dumps(item) + "\\n")
        out.flush()
"""


def test_two_run_due_processes_on_one_file_never_double_notify_or_lose_state(
    tmp_path: Path,
) -> None:
    import json
    import subprocess
    import sys
    import time

    db = tmp_path / "leads.db"
    with SQLiteUnitOfWork(db) as uow:
        for i in range(6):
            uow.leads.add(lead(f"L{i}", created_at=T0 + timedelta(minutes=7 * i)))
        uow.commit()
    script = tmp_path / "ticker.py"
    script.write_text(_TICKER)
    start = time.time() + 1.0
    src = str(Path(__file__).parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(db), str(tmp_path / f"{name}.log"), name, str(start)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]
    sent = [
        tuple(json.loads(line))
        for name in ("a", "b")
        for line in (tmp_path / f"{name}.log").read_text().splitlines()
    ]
    assert len(sent) == len(set(sent))  # nobody told twice
    # One process alone, ticking the same way, sends the same and leaves the same store.
    alone = tmp_path / "alone.db"
    with SQLiteUnitOfWork(alone) as uow:
        for i in range(6):
            uow.leads.add(lead(f"L{i}", created_at=T0 + timedelta(minutes=7 * i)))
        uow.commit()
    reference = MemoryNotifier()
    for step in range(1, 19):
        run_due(
            SQLiteUnitOfWork(alone),
            [_sla()],
            notifier=reference,
            ids=SequentialIds(prefix=f"r{step}-"),
            now=T0 + timedelta(minutes=10 * step),
        )
    expected = sorted((n.subject_id, n.template, n.data["due_at"]) for n in reference.sent)
    assert sorted(sent) == expected
    with SQLiteUnitOfWork(db) as both, SQLiteUnitOfWork(alone) as one:
        assert both.trigger_states.get("triggers") == one.trigger_states.get("triggers")
        assert sorted((x.id, x.owner_id) for x in both.leads) == sorted(
            (x.id, x.owner_id) for x in one.leads
        )
        assert len(list(both.activities)) == len(list(one.activities))


def _sla() -> TimeTrigger:
    return TimeTrigger(
        "sla",
        Condition("status", "eq", "Open - Not Contacted"),
        TriggerClock.assignment(),
        timedelta(minutes=30),
        [Reassign(RoundRobin(["ann", "bob", "cy"], name="sales")), Notify("manager", "sla")],
        until={"call"},
        escalations=3,
    )


# -- Bug 7: the first run_due racing another on a fresh file crashed with RecordExists ------


def test_a_first_run_that_loses_the_race_for_the_state_is_a_concurrency_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "leads.db"
    with SQLiteUnitOfWork(db) as uow:
        uow.leads.add(lead())
        uow.commit()
    rules = [_sla()]
    later = T0 + timedelta(hours=1)
    other = MemoryNotifier()
    raced = [False]
    mine_ids = SequentialIds(prefix="first-")

    def ids(kind: str) -> str:
        if not raced[0]:  # mid-run, after the state was read: another process runs first
            raced[0] = True
            run_due(SQLiteUnitOfWork(db), rules, notifier=other, ids=SequentialIds(), now=later)
        return mine_ids(kind)

    mine = MemoryNotifier()
    with pytest.raises(ConcurrencyError):
        run_due(SQLiteUnitOfWork(db), rules, notifier=mine, ids=ids, now=later)
    assert mine.sent == []
    assert [n.template for n in other.sent] == ["sla", "sla"]  # at 30 and 60 minutes
    again = run_due(SQLiteUnitOfWork(db), rules, notifier=mine, ids=SequentialIds(), now=later)
    assert again.outcomes == ()


# -- What held: a rule list that changes between runs ---------------------------------------


def test_a_rule_removed_and_added_back_does_not_fire_again_and_unknown_marks_are_kept() -> None:
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead())
        uow.commit()
    first, second = trigger("first", delay=timedelta(hours=1)), trigger("second")
    sent = MemoryNotifier()

    def at(hours: int, rules: list[TimeTrigger]) -> Any:
        return run_due(
            uow,
            rules,
            notifier=sent,
            ids=SequentialIds(prefix=f"h{hours}-"),
            now=T0 + timedelta(hours=hours),
        )

    assert [o.action.rule for o in at(30, [first, second]).outcomes] == ["first", "second"]
    only = at(31, [first])
    assert only.outcomes == ()
    assert {m.rule for m in only.state.marks} == {"first", "second"}  # kept, harmless
    assert at(32, [first, second]).outcomes == ()
    # A renamed rule is a new rule: the state remembers firings by name (documented).
    assert [o.action.rule for o in at(33, [trigger("renamed")]).outcomes] == ["renamed"]
    assert len(sent.sent) == 3


# -- Bug 8: a deeply nested rules file made `tick` report an internal error -----------------


def test_tick_with_a_deeply_nested_rules_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["tick", "--db", str(tmp_path / "x.db"), "--rules", str(deep)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("created", "now"),
    [
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), T0),
        (
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
        ),
    ],
    ids=["year-1-east", "year-9999-west"],
)
@pytest.mark.parametrize("clock", [TriggerClock.created(), TriggerClock.last_activity()])
def test_times_utc_cannot_write_are_never_due_not_an_overflow(
    created: datetime, now: datetime, clock: TriggerClock
) -> None:
    far = lead(created_at=created)
    touch = Activity(id="A1", subject_id="L1", kind="call", occurred_at=created)
    rule = trigger(clock=clock)
    for activities in ([], [touch]):
        actions, _ = due([far], activities, [rule], TriggerState(), now=now)
        assert actions == ()  # not on the UTC timeline: nothing is due from it


def test_a_crash_between_the_commit_and_the_sends_loses_them_at_most_once_as_documented() -> None:
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead())
        uow.commit()

    class Killed:
        def send(self, notification: Notification) -> None:
            del notification
            raise SystemExit(137)  # the process dies after the commit, before any send

    with pytest.raises(SystemExit):
        run_due(
            uow, [trigger()], notifier=Killed(), ids=SequentialIds(), now=T0 + timedelta(days=2)
        )
    with uow:
        assert uow.trigger_states.get("triggers") is not None  # committed: fired
    sent = MemoryNotifier()
    later = run_due(
        uow, [trigger()], notifier=sent, ids=SequentialIds(), now=T0 + timedelta(days=3)
    )
    assert later.outcomes == ()
    assert sent.sent == []  # never sent twice, nor at all


# -- Bug 9: `tick` could not install triggers on an existing database without replaying ----
# every old gap (Salesforce evaluates records from the rule's activation on): --since


def test_tick_since_installs_triggers_without_firing_for_old_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    db = tmp_path / "x.db"
    with SQLiteUnitOfWork(db) as uow:
        uow.leads.add(lead("OLD", created_at=T0 - timedelta(days=300)))
        uow.leads.add(lead("NEW", created_at=T0 + timedelta(hours=1)))
        uow.commit()
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"triggers": [to_dict(trigger())]}))
    go_live = T0.isoformat()
    command = ["tick", "--db", str(db), "--rules", str(rules), "--json"]
    assert main([*command, "--since", go_live, "--now", (T0 + timedelta(days=3)).isoformat()]) == 0
    fired = json.loads(capsys.readouterr().out)
    assert [o["action"]["record_id"] for o in fired["outcomes"]] == ["NEW"]
    # The same --since again (a cron line keeps it) is fine; another one is a usage error.
    assert main([*command, "--since", go_live, "--now", (T0 + timedelta(days=4)).isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["outcomes"] == []
    other = (T0 - timedelta(days=1)).isoformat()
    assert main([*command, "--since", other]) == 2
    assert "--since" in capsys.readouterr().err
    assert main([*command, "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


def test_activity_auto_conversions_respect_the_states_since_too() -> None:
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead("OLD", created_at=T0 - timedelta(days=300)))
        uow.leads.add(lead("NEW", created_at=T0))
        for lead_id, at in (("OLD", T0 - timedelta(days=299)), ("NEW", T0 + timedelta(hours=2))):
            uow.activities.add(
                Activity(id=f"P-{lead_id}", subject_id=lead_id, kind="purchase", occurred_at=at)
            )
        uow.trigger_states.add(TriggerState(since=T0))  # what `tick --since` stores
        uow.commit()
    purchase = AutoConvertRule(
        EVERYONE, ConvertOptions("Closed - Converted"), name="bought", activity_kinds={"purchase"}
    )
    run = run_due(
        uow, [purchase], notifier=MemoryNotifier(), ids=SequentialIds(), now=T0 + timedelta(days=1)
    )
    assert [c.lead_id for c in run.conversions] == ["NEW"]


def test_an_activity_in_the_repeated_hour_after_now_is_not_seen_yet() -> None:
    # New York falls back on 2026-11-01: 01:00-02:00 happens twice (fold 0: EDT, 1: EST).
    now = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # 05:30 UTC, first pass
    later = datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NEW_YORK)  # 06:10 UTC, second pass
    assert later.astimezone(UTC) > now.astimezone(UTC)
    call = Activity(id="A1", subject_id="L1", kind="call", occurred_at=later)
    rule = trigger(delay=timedelta(hours=1), until={"call"})
    created = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)  # 04:30 UTC: due 05:30 UTC
    actions, _ = due([lead(created_at=created)], [call], [rule], TriggerState(), now=now)
    assert [a.record_id for a in actions] == ["L1"]  # the call has not happened yet
