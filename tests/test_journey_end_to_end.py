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
    speed_to_lead,
    transition,
)
from leadmodel import services
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


def _journey(n: int, make: Callable[[], object]) -> dict[str, object]:  # noqa: PLR0915
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
            runs.append(services.run_due(uow, TRIGGERS, notifier=outbox, ids=ids, now=when))  # type: ignore[arg-type]
        elif what == "capture":
            result = services.capture_lead(
                uow,  # type: ignore[arg-type]
                _form(i),
                config,
                ids=ids,
                now=when,
                state=state,
                notifier=outbox,  # type: ignore[arg-type]
            )
            assert result.status == "created", result.steps
            state = result.state
            lead_of[i] = result.lead.id  # type: ignore[union-attr]
        elif what == "call":
            # A rep calls and marks the lead contacted (through the save guard); the
            # status change is kept as an activity and runs the workflows.
            lead_id = lead_of[i]
            with make() as reader:  # type: ignore[attr-defined]
                lead = reader.leads.get(lead_id)
            worked = attrs.evolve(transition(lead, WORKING), updated_at=when)
            services.save(uow, worked)  # type: ignore[arg-type]
            changed = StatusChanged(
                lead_id=lead_id, previous=lead.status, current=WORKING, occurred_at=when
            )
            with make() as log:  # type: ignore[attr-defined]
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
            services.apply_workflows(make(), changed, [SQL])  # type: ignore[arg-type]
        elif what == "demo":
            with uow:  # type: ignore[attr-defined]
                uow.activities.add(  # type: ignore[attr-defined]
                    Activity(
                        id=f"demo-{next(counter)}",
                        subject_id=lead_of[i],
                        kind="demo_booked",
                        occurred_at=when,
                    )
                )
                uow.commit()  # type: ignore[attr-defined]
        else:  # close: the opportunity the conversion made
            with make() as reader:  # type: ignore[attr-defined]
                lead = reader.leads.get(lead_of[i])
            assert lead.converted is not None, f"lead {i} was not converted by day {when}"
            services.close_opportunity(
                uow,  # type: ignore[arg-type]
                lead.converted.opportunity_id,
                won=i % 10 == 0,
                now=when,
                lost_reason=None if i % 10 == 0 else "budget",
            )
    end = ticks[-1]
    with make() as uow:  # type: ignore[attr-defined]
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
    by_number = {lead_id: i for i, lead_id in world["lead_of"].items()}  # type: ignore[attr-defined]
    kind = {lead.id: by_number[lead.id] % 10 for lead in leads}  # type: ignore[attr-defined]

    # The funnel by status, in process order, with conversions.
    rows = {row["status"]: (row["leads"], row["converted"]) for row in funnel(leads).to_records()}  # type: ignore[arg-type]
    assert rows == {OPEN: (4 * per, 0), WORKING: (4 * per, 0), CONVERTED: (2 * per, 2 * per)}
    # The lifecycle stages the automation set: MQL at capture for the VPs, SQL when worked.
    stages = Counter(lead.lifecycle_stage for lead in leads)  # type: ignore[attr-defined]
    assert stages[LifecycleStage.SALES_QUALIFIED] == 6 * per  # worked (2-5) and converted (0-1)
    assert stages[LifecycleStage.MARKETING_QUALIFIED] == 2 * per  # VPs never called (6, 7)
    assert sum(stages.values()) == n

    # Owners: round robin at capture; the SLA moved 4-7 to another rep; 8-9 to nurture.
    for lead in leads:  # type: ignore[attr-defined]
        k = kind[lead.id]
        if k >= 8:
            assert (lead.owner_id, lead.owner_is_queue) == ("nurture", True)
        else:
            assert lead.owner_id in REPS and not lead.owner_is_queue
    reassigned = Counter(
        a.subject_id
        for a in world["activities"]  # type: ignore[attr-defined]
        if a.kind == "assigned"
    )
    assert {lead_id for lead_id, count in reassigned.items() if count} == {
        lead_id for lead_id, k in kind.items() if k >= 4
    }
    assert all(count == 1 for count in reassigned.values())

    # Notifications: the manager once per missed SLA (4-7), the owner once per stale lead
    # (6, 7); nothing else goes out (no auto-response is configured).
    templates = Counter(note.template for note in world["sent"])  # type: ignore[attr-defined]
    assert templates == {"sla_missed": 4 * per, "stale_lead": 2 * per}
    stale = Counter(note.subject_id for note in world["sent"] if note.template == "stale_lead")  # type: ignore[attr-defined]
    assert {kind[lead_id] for lead_id in stale} == {6, 7}

    # Conversions and deals: 0 won (its contact a customer), 1 lost (stays at opportunity).
    contacts = world["contacts"]
    opportunities = world["opportunities"]
    assert len(contacts) == len(opportunities) == 2 * per  # type: ignore[arg-type]
    assert Counter(o.stage for o in opportunities) == {  # type: ignore[attr-defined]
        "Closed Won": per,
        "Closed Lost": per,
    }
    assert Counter(c.lifecycle_stage for c in contacts) == {  # type: ignore[attr-defined]
        LifecycleStage.CUSTOMER: per,
        LifecycleStage.OPPORTUNITY: per,
    }

    # Speed to lead over the VPs' rep-owned leads: 0-3 touched in 30 min, 4-5 late, 6-7 never.
    table = speed_to_lead(
        [lead for lead in leads if kind[lead.id] < 8],  # type: ignore[attr-defined]
        world["activities"],  # type: ignore[arg-type]
        sla=timedelta(hours=1),
        now=world["end"],  # type: ignore[arg-type]
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
