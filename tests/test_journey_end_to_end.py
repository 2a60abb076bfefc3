"""Issue 17 acceptance: a thousand leads go from a web form to a customer on their own.

Capture (scoring, the MQL workflow, round-robin assignment), people working leads (calls,
status changes that a workflow turns into SQL), the speed-to-lead SLA with its escalation,
"nothing happened for 14 days", the nurture queue, auto-conversion on a booked demo, and
won and lost deals, driven by a simulated clock over 30 days with ``run_due`` ticking every
six hours. The counts at the end are computed by hand from the plan below, not read back
from a run.

The plan: lead *i* is created at ``T0 + 7 min · i``; what happens to it depends on
``i % 10`` (100 leads each):

====  ==============================================================================
i%10  journey
====  ==============================================================================
0     VP; called after 30 min, Working (SQL); demo on day 2 converts it; deal won day 10
1     VP; called after 30 min, Working (SQL); demo on day 2 converts it; deal lost day 12
2, 3  VP; called after 30 min, Working (SQL); nothing else
4, 5  VP; called only after 3 h: the SLA (1 h) reassigns it and tells the manager;
      then Working (SQL)
6, 7  VP; never called: the SLA reassigns it; 14 days without activity: the owner is
      reminded, once
8, 9  intern: scored 0, so the nurture rule gives it to the nurture queue at once (no
      SLA, no reminder: queue leads are not watched)
====  ==============================================================================
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from leadmodel import (
    Activity,
    All,
    AssignmentRule,
    AutoConvertRule,
    Condition,
    ConvertOptions,
    FitRule,
    LifecycleStage,
    Notify,
    Queue,
    Reassign,
    RoundRobin,
    RuleEntry,
    ScoringModel,
    SetLifecycleStage,
    StatusChanged,
    TimeTrigger,
    Trigger,
    TriggerClock,
    User,
    WorkflowRule,
    funnel,
    services,
    speed_to_lead,
    timeline,
    transition,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
DAYS = 30
TICK = timedelta(hours=1)
REPS = ("ann", "bob", "cy")
OPEN, WORKING, CONVERTED = "Open - Not Contacted", "Working - Contacted", "Closed - Converted"

SCORING = ScoringModel(
    fit=[FitRule("decision maker", Condition("title", "contains", "VP"), 60)], name="inbound"
)
MQL = WorkflowRule(
    "MQL at 50",
    Trigger.score_crossed(50),
    Condition("score", "gte", 50),
    [SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED)],
)
SQL = WorkflowRule(
    "SQL when contacted",
    Trigger("status_changed"),
    Condition("status", "eq", WORKING),
    [SetLifecycleStage(LifecycleStage.SALES_QUALIFIED)],
)
ASSIGNMENT = AssignmentRule(
    [RuleEntry(All([]), RoundRobin(list(REPS), name="sales"))], default_owner=User("ann")
)
WATCHED = [Condition("status", "eq", OPEN), Condition("owner_is_queue", "eq", value=False)]
TRIGGERS = [
    TimeTrigger(
        "speed to lead",
        All(WATCHED),
        TriggerClock.assignment(),
        timedelta(hours=1),
        [Reassign(RoundRobin(list(REPS), name="sales")), Notify("manager", "sla_missed")],
        until={"call", "email"},
    ),
    TimeTrigger(
        "no activity in 14 days",
        All(WATCHED),
        TriggerClock.last_activity(),
        timedelta(days=14),
        [Notify("owner", "stale_lead")],
    ),
    TimeTrigger(
        "nurture",
        All([Condition("custom.score", "lt", 20), Condition("owner_id", "ne", "nurture")]),
        TriggerClock.created(),
        timedelta(0),
        [Reassign(Queue("nurture"))],
    ),
    AutoConvertRule(
        Condition("lifecycle_stage", "eq", LifecycleStage.SALES_QUALIFIED.value),
        ConvertOptions(CONVERTED, opportunity_name="{company} deal"),
        name="convert on a booked demo",
        activity_kinds={"demo_booked"},
    ),
]


class Outbox:
    """A notifier that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, notification: object) -> None:
        self.sent.append(notification)


def _form(i: int) -> dict[str, str]:
    return {
        "first_name": f"Pat{i}",
        "last_name": f"Lee{i}",
        "company": f"Company {i}",
        "email": f"pat{i}@company{i}.example",
        "title": "Intern" if i % 10 >= 8 else "VP Sales",
    }


def _plan(n: int) -> list[tuple[datetime, int, str, int]]:
    """Every human step of the plan, as (when, order, what, lead number)."""
    steps = []
    for i in range(n):
        created = T0 + timedelta(minutes=7 * i)
        kind = i % 10
        steps.append((created, 0, "capture", i))
        if kind <= 5:
            call = created + (timedelta(minutes=30) if kind <= 3 else timedelta(hours=3))
            steps.append((call, 1, "call", i))
        if kind <= 1:
            steps.append((created + timedelta(days=2), 2, "demo", i))
            closing = timedelta(days=10) if kind == 0 else timedelta(days=12)
            steps.append((created + closing, 3, "close", i))
    return sorted(steps)


def _journey(n: int, make: Callable[[], object]) -> dict[str, object]:
    ids = SequentialIds()
    outbox = Outbox()
    config = services.CaptureConfig(scoring=SCORING, workflows=(MQL,), assignment=ASSIGNMENT)
    state = None
    lead_of: dict[int, str] = {}
    steps = _plan(n)
    ticks = [T0 + TICK * k for k in range(1, int(timedelta(days=DAYS) / TICK) + 1)]
    merged = heapq.merge(
        ((when, 9, "tick", -1) for when in ticks), steps, key=lambda step: (step[0], step[1])
    )
    runs = []
    counter = itertools.count()
    for when, _, what, i in merged:
        uow = make()
        if what == "tick":
            runs.append(services.run_due(uow, TRIGGERS, notifier=outbox, ids=ids, now=when))
        elif what == "capture":
            result = services.capture_lead(
                uow,
                _form(i),
                config,
                ids=ids,
                now=when,
                state=state,
                notifier=outbox,
            )
            assert result.status == "created", result.steps
            state = result.state
            lead_of[i] = result.lead.id
        elif what == "call":
            # A rep calls and marks the lead contacted (through the save guard); the
            # status change is kept as an activity and runs the workflows.
            lead_id = lead_of[i]
            with make() as reader:
                lead = reader.leads.get(lead_id)
            worked = attrs.evolve(transition(lead, WORKING), updated_at=when)
            services.save(uow, worked)
            changed = StatusChanged(
                lead_id=lead_id, previous=lead.status, current=WORKING, occurred_at=when
            )
            with make() as log:
                log.activities.add(
                    Activity(
                        id=f"call-{next(counter)}",
                        subject_id=lead_id,
                        kind="call",
                        occurred_at=when,
                    )
                )
                log.activities.add(changed.as_activity(id=f"status-{next(counter)}"))
                log.commit()
            services.apply_workflows(make(), changed, [SQL])
        elif what == "demo":
            with uow:
                uow.activities.add(
                    Activity(
                        id=f"demo-{next(counter)}",
                        subject_id=lead_of[i],
                        kind="demo_booked",
                        occurred_at=when,
                    )
                )
                uow.commit()
        else:  # close: the opportunity the conversion made
            with make() as reader:
                lead = reader.leads.get(lead_of[i])
            assert lead.converted is not None, f"lead {i} was not converted by day {when}"
            services.close_opportunity(
                uow,
                lead.converted.opportunity_id,
                won=i % 10 == 0,
                now=when,
                lost_reason=None if i % 10 == 0 else "budget",
            )
    end = ticks[-1]
    with make() as uow:
        return {
            "leads": list(uow.leads),
            "contacts": list(uow.contacts),
            "opportunities": list(uow.opportunities),
            "activities": list(uow.activities),
            "sent": outbox.sent,
            "runs": runs,
            "lead_of": lead_of,
            "end": end,
        }


def _check(world: dict[str, object], n: int) -> None:
    per = n // 10
    leads = world["leads"]
    by_number = {lead_id: i for i, lead_id in world["lead_of"].items()}
    kind = {lead.id: by_number[lead.id] % 10 for lead in leads}

    # The funnel by status, in process order, with conversions.
    rows = {row["status"]: (row["leads"], row["converted"]) for row in funnel(leads).to_records()}
    assert rows == {OPEN: (4 * per, 0), WORKING: (4 * per, 0), CONVERTED: (2 * per, 2 * per)}
    # The lifecycle stages the automation set: MQL at capture for the VPs, SQL when worked.
    stages = Counter(lead.lifecycle_stage for lead in leads)
    assert stages[LifecycleStage.SALES_QUALIFIED] == 6 * per  # worked (2-5) and converted (0-1)
    assert stages[LifecycleStage.MARKETING_QUALIFIED] == 2 * per  # VPs never called (6, 7)
    assert sum(stages.values()) == n

    # Owners: round robin at capture; the SLA moved 4-7 to another rep; 8-9 to nurture.
    for lead in leads:
        k = kind[lead.id]
        if k >= 8:
            assert (lead.owner_id, lead.owner_is_queue) == ("nurture", True)
        else:
            assert lead.owner_id in REPS
            assert not lead.owner_is_queue
    reassigned = Counter(a.subject_id for a in world["activities"] if a.kind == "assigned")
    assert {lead_id for lead_id, count in reassigned.items() if count} == {
        lead_id for lead_id, k in kind.items() if k >= 4
    }
    assert all(count == 1 for count in reassigned.values())

    # Notifications: the manager once per missed SLA (4-7), the owner once per stale lead
    # (6, 7); nothing else goes out (no auto-response is configured).
    templates = Counter(note.template for note in world["sent"])
    assert templates == {"sla_missed": 4 * per, "stale_lead": 2 * per}
    stale = Counter(note.subject_id for note in world["sent"] if note.template == "stale_lead")
    assert {kind[lead_id] for lead_id in stale} == {6, 7}

    # What the ticks did: every action applied, nothing failed to send; each SLA firing
    # reassigns and notifies (4-7), each stale lead is reminded (6, 7), each intern goes to
    # the nurture queue (8, 9), and the booked demos converted 0 and 1.
    runs = world["runs"]
    assert len(runs) == DAYS * 24
    outcomes = [outcome for run in runs for outcome in run.outcomes]
    assert all(outcome.applied for outcome in outcomes)
    assert not any(run.failed for run in runs)
    assert Counter(outcome.action.rule for outcome in outcomes) == {
        "speed to lead": 2 * 4 * per,
        "no activity in 14 days": 2 * per,
        "nurture": 2 * per,
    }
    assert sum(len(run.conversions) for run in runs) == 2 * per

    # Conversions and deals: 0 won (its contact a customer), 1 lost (stays at opportunity).
    contacts = world["contacts"]
    opportunities = world["opportunities"]
    assert len(contacts) == len(opportunities) == 2 * per
    assert Counter(o.stage for o in opportunities) == {
        "Closed Won": per,
        "Closed Lost": per,
    }
    assert Counter(c.lifecycle_stage for c in contacts) == {
        LifecycleStage.CUSTOMER: per,
        LifecycleStage.OPPORTUNITY: per,
    }

    # A won lead's timeline, from the activities the store holds (moved to its contact).
    won = next(lead for lead in leads if kind[lead.id] == 0)
    steps = [row[1] for row in timeline(won, world["activities"]).rows]
    assert steps == ["created", "call", "status_changed", "demo_booked", "converted"]
    late = next(lead for lead in leads if kind[lead.id] == 4)
    steps = [row[1] for row in timeline(late, world["activities"]).rows]
    assert steps == ["created", "assigned", "call", "status_changed"]

    # Speed to lead over the VPs' rep-owned leads: 0-3 touched in 30 min, 4-5 late, 6-7 never.
    table = speed_to_lead(
        [lead for lead in leads if kind[lead.id] < 8],
        world["activities"],
        sla=timedelta(hours=1),
        now=world["end"],
        by="source",
    )
    (row,) = table.to_records()
    assert (row["leads"], row["touched"], row["breached"]) == (8 * per, 6 * per, 4 * per)
    assert row["breach_rate"] == pytest.approx(0.5)


def test_a_thousand_leads_go_from_form_to_customer_on_their_own():
    store = MemoryStore()
    world = _journey(1000, lambda: MemoryUnitOfWork(store))
    _check(world, 1000)


@pytest.mark.parametrize("n", [100])
def test_the_same_journey_on_sqlite(tmp_path, n):
    sqlite = SQLiteStore(str(tmp_path / "journey.db"))
    world = _journey(n, lambda: SQLiteUnitOfWork(sqlite))
    _check(world, n)


def test_speed_to_lead_counts_the_touch_of_a_converted_lead_on_its_contact():
    # Conversion moves a lead's activities to its contact; its first touch still counts.
    from leadmodel import ConversionRecord, Lead

    created = T0
    converted = Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        created_at=created,
        status=CONVERTED,
        converted=ConversionRecord(
            account_id="A1",
            contact_id="C1",
            opportunity_id=None,
            converted_at=created + timedelta(days=2),
            status=CONVERTED,
        ),
    )
    touches = [
        Activity(id="X0", subject_id="C1", kind="call", occurred_at=created - timedelta(days=9)),
        Activity(
            id="X1", subject_id="C1", kind="call", occurred_at=created + timedelta(minutes=20)
        ),
        Activity(id="X2", subject_id="C1", kind="call", occurred_at=created + timedelta(days=5)),
    ]
    (row,) = speed_to_lead(
        [converted], touches, sla=timedelta(hours=1), now=created + timedelta(days=9)
    ).to_records()
    assert (row["touched"], row["breached"], row["min_minutes"]) == (1, 0, 20.0)
