"""The demo's last part: one lead's whole journey, from a web form to a customer.

Every step goes through :mod:`leadmodel.services` (capture, the time triggers, the workflows,
auto-conversion, closing the deal); the people in the story only log a call and a booked
demo. The lead's :func:`~leadmodel.timeline` is printed at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from leadmodel import (
    Activity,
    All,
    AssignmentRule,
    AutoConvertRule,
    Condition,
    ConvertOptions,
    FitRule,
    Lead,
    LifecycleStage,
    Notification,
    Notify,
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
    timeline,
    transition,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import (
    CaptureConfig,
    apply_workflows,
    capture_lead,
    close_opportunity,
    run_due,
    save,
)

__all__ = ["run_journey"]

_OPEN, _WORKING = "Open - Not Contacted", "Working - Contacted"
_REPS = RoundRobin(["ann", "bob"], name="inside sales")
_WORKFLOWS = (
    WorkflowRule(
        "MQL at 50",
        Trigger.score_crossed(50),
        Condition("score", "gte", 50),
        [SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED)],
    ),
    WorkflowRule(
        "SQL when contacted",
        Trigger("status_changed"),
        Condition("status", "eq", _WORKING),
        [SetLifecycleStage(LifecycleStage.SALES_QUALIFIED)],
    ),
)
_RULES = (
    TimeTrigger(
        "speed to lead",
        All([Condition("status", "eq", _OPEN), Condition("owner_is_queue", "eq", value=False)]),
        TriggerClock.assignment(),
        timedelta(hours=1),
        [Reassign(_REPS), Notify("sales-manager", "sla_missed")],
        until={"call", "email"},
    ),
    AutoConvertRule(
        Condition("lifecycle_stage", "eq", LifecycleStage.SALES_QUALIFIED.value),
        ConvertOptions("Closed - Converted", opportunity_name="{company} pilot"),
        name="convert on a booked demo",
        activity_kinds={"demo_booked"},
    ),
)


_FORM = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "company": "Cobol Works",
    "email": "grace@cobolworks.example",
    "title": "VP Engineering",
}
_CONFIG = CaptureConfig(
    scoring=ScoringModel(
        fit=[FitRule("decision maker", Condition("title", "contains", "VP"), 60)], name="inbound"
    ),
    workflows=_WORKFLOWS,
    assignment=AssignmentRule([RuleEntry(All([]), _REPS)], default_owner=User("ann")),
)


class _Outbox:
    """The demo's notifier: it keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


def run_journey(say: Callable[[str], None], *, now: datetime) -> dict[str, Any]:
    """Walk one web-form lead to a won deal in a SQLite store of its own.

    Returns what the demo checks: whether the lead converted, its contact became a
    customer and the deal was won, the timeline's rows and the notifications sent.
    """
    say("8. One lead's journey: a web form to a customer, run by the rules")
    with SQLiteStore(":memory:") as store:
        return _Journey(store, say, now).run()


class _Journey:
    def __init__(self, store: SQLiteStore, say: Callable[[str], None], now: datetime) -> None:
        self.store, self.say, self.now = store, say, now
        self.ids = SequentialIds(prefix="j")
        self.outbox = _Outbox()
        self.events: list[object] = []

    def unit(self) -> SQLiteUnitOfWork:
        return SQLiteUnitOfWork(self.store)

    def tick(self, at: datetime) -> tuple[str, ...]:
        """``run_due`` at *at*; its steps."""
        run = run_due(self.unit(), _RULES, notifier=self.outbox, ids=self.ids, now=at)
        for outcome in run.outcomes:
            self.say(
                f"   {outcome.action.due_at:%b %d %H:%M} {outcome.action.rule}: {outcome.detail}"
            )
        return run.steps

    def log(self, lead_id: str, kind: str, at: datetime) -> Activity:
        activity = Activity(id=self.ids("activity"), subject_id=lead_id, kind=kind, occurred_at=at)
        with self.unit() as uow:
            uow.activities.add(activity)
            uow.commit()
        return activity

    def stored(self, lead_id: str) -> Lead:
        with self.unit() as uow:
            lead = uow.leads.get(lead_id)
        if lead is None:  # pragma: no cover - the demo's own lead
            raise LookupError(lead_id)
        return lead

    def capture(self) -> Lead:
        captured = capture_lead(
            self.unit(), _FORM, _CONFIG, ids=self.ids, now=self.now, notifier=self.outbox
        )
        if captured.lead is None:  # pragma: no cover - the form above is valid
            raise ValueError(captured.steps)
        lead = captured.lead
        self.events += captured.events
        self.say(
            f"   {self.now:%b %d %H:%M} captured {lead.id}: score {lead.custom.get('score')}, "
            f"stage {_stage(lead.lifecycle_stage)}, owner {lead.owner_id}"
        )
        return lead

    def call(self, lead_id: str, at: datetime) -> None:
        """The owner calls and marks the lead contacted; the workflow makes it an SQL."""
        lead = self.stored(lead_id)
        save(self.unit(), attrs.evolve(transition(lead, _WORKING), updated_at=at))
        changed = StatusChanged(
            lead_id=lead_id, previous=lead.status, current=_WORKING, occurred_at=at
        )
        self.log(lead_id, "call", at)
        with self.unit() as uow:
            uow.activities.add(changed.as_activity(id=self.ids("activity")))
            uow.commit()
        worked = apply_workflows(self.unit(), changed, _WORKFLOWS)
        self.events += worked.events
        stage = _stage(worked.lead.lifecycle_stage if worked.lead is not None else None)
        self.say(f"   {at:%b %d %H:%M} {lead.owner_id} called: {_WORKING}, stage {stage}")

    def run(self) -> dict[str, Any]:
        lead = self.capture()
        # Nobody calls within the hour: the tick hands the lead on and tells the manager.
        self.tick(self.now + timedelta(hours=2))
        self.call(lead.id, self.now + timedelta(hours=3))
        # A demo is booked the next day; the next tick converts the lead.
        booked = self.now + timedelta(days=1)
        self.log(lead.id, "demo_booked", booked)
        for step in self.tick(booked + timedelta(hours=1)):
            if step.startswith("auto-converted"):
                self.say(f"   {booked:%b %d %H:%M} {step}")
        record = self.stored(lead.id).converted
        won = False
        if record is not None and record.opportunity_id is not None:
            closed_at = self.now + timedelta(days=20)
            closed = close_opportunity(self.unit(), record.opportunity_id, won=True, now=closed_at)
            self.events += closed.events
            won = True
            self.say(f"   {closed_at:%b %d %H:%M} deal won: {closed.reasons[-1]}")
        with self.unit() as uow:
            activities = list(uow.activities)
            contact = uow.contacts.get(record.contact_id) if record and record.contact_id else None
        table = timeline(self.stored(lead.id), activities, events=self.events)
        self.say(f"   {table.title}:")
        for at, what, detail in table.rows:
            self.say(f"     {at[:16].replace('T', ' ')}  {what:<15} {detail}")
        sent = [f"{n.template} to {n.recipient}" for n in self.outbox.sent]
        self.say(f"   sent: {', '.join(sent) or 'nothing'}\n")
        return {
            "lead": lead.id,
            "converted": record is not None,
            "customer": contact is not None and contact.lifecycle_stage is LifecycleStage.CUSTOMER,
            "won": won,
            "timeline": [list(row) for row in table.rows],
            "sent": [n.template for n in self.outbox.sent],
        }


def _stage(stage: LifecycleStage | None) -> str:
    return "none" if stage is None else stage.value
