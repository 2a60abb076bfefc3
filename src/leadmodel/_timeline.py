"""A lead's journey as one dated list: what happened to it, and to what it became.

:func:`timeline` reads what the library already keeps or returns — the lead itself, the
activities of the lead (and of its contact once converted: conversion moves them there),
and the domain events the services return (``CaptureResult.events``,
``WorkflowOutcome.events``, ``CloseOutcome.events`` …) — and lists them in time order.
It stores nothing and calls no port.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from leadmodel.analytics import Table
from leadmodel.domain import _checks
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.events import (
    LeadAssigned,
    LeadCaptured,
    LeadConverted,
    LeadScored,
    OpportunityClosed,
    RecordsMerged,
    ScoreChanged,
    StageChanged,
    StatusChanged,
)
from leadmodel.domain.lead import Lead

__all__ = ["timeline"]

_EVENTS: Final = (
    LeadCaptured,
    LeadAssigned,
    LeadScored,
    ScoreChanged,
    StatusChanged,
    StageChanged,
    LeadConverted,
    RecordsMerged,
    OpportunityClosed,
)
_DETAIL_LENGTH: Final = 200


def _plain(value: object) -> str:
    if value is None:
        return "none"
    text = getattr(value, "value", value)  # an enum's value
    return str(text)


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_LENGTH else text[: _DETAIL_LENGTH - 1] + "…"


def _activity_row(activity: Activity) -> tuple[datetime, str, str]:
    props = activity.properties
    if activity.kind == "status_changed":
        detail = f"{_plain(props.get('previous'))} -> {_plain(props.get('current'))}"
    elif activity.kind == "assigned":
        detail = f"{_plain(props.get('from'))} -> {_plain(props.get('to'))}"
        if props.get("rule") is not None:
            detail += f" ({_plain(props.get('rule'))})"
    else:
        detail = ", ".join(f"{key} {_plain(props[key])}" for key in sorted(props))
    return activity.occurred_at, activity.kind, detail


def _made(account_id: str | None, contact_id: str | None, opportunity_id: str | None) -> str:
    """What a conversion made, in words."""
    made = ", ".join(
        f"{kind} {value}"
        for kind, value in (
            ("account", account_id),
            ("contact", contact_id),
            ("opportunity", opportunity_id),
        )
        if value is not None
    )
    return made or "into nothing new"


def _event_row(event: object) -> tuple[datetime, str, str] | None:
    if isinstance(event, LeadCaptured):
        held = "; held for approval" if event.pending_approval else ""
        return event.occurred_at, "captured", f"source {_plain(event.source)}{held}"
    if isinstance(event, LeadAssigned):
        owner = event.owner_id or event.queue_id
        return event.occurred_at, "assigned", f"to {_plain(owner)}: {event.reason}"
    if isinstance(event, LeadScored):
        return event.occurred_at, "scored", f"{event.total:g} ({_plain(event.rating)})"
    if isinstance(event, ScoreChanged):
        before = "none" if event.previous is None else f"{event.previous:g}"
        return event.occurred_at, "scored", f"{before} -> {event.current:g}"
    if isinstance(event, StatusChanged):
        return (
            event.occurred_at,
            "status_changed",
            f"{_plain(event.previous)} -> {_plain(event.current)}",
        )
    if isinstance(event, StageChanged):
        return (
            event.occurred_at,
            "stage_changed",
            f"{event.record_id}: {_plain(event.previous)} -> {_plain(event.current)}",
        )
    if isinstance(event, LeadConverted):
        made = _made(event.account_id, event.contact_id, event.opportunity_id)
        return event.occurred_at, "converted", made
    if isinstance(event, OpportunityClosed):
        outcome = "won" if event.won else f"lost ({_plain(event.lost_reason)})"
        return event.occurred_at, "deal_closed", f"{event.opportunity_id} {outcome}: {event.stage}"
    if isinstance(event, RecordsMerged):
        return event.occurred_at, "merged", f"absorbed {', '.join(event.absorbed_ids)}"
    return None


def _subjects(lead: Lead) -> set[str]:
    subjects = {lead.id}
    if lead.converted is not None:
        record = lead.converted
        subjects |= {i for i in (record.contact_id, record.opportunity_id) if i is not None}
    return subjects


def _about(event: object, subjects: set[str]) -> bool:
    if isinstance(event, StageChanged):
        return event.record_id in subjects
    if isinstance(event, OpportunityClosed):
        return event.opportunity_id in subjects
    if isinstance(event, RecordsMerged):
        return event.survivor_id in subjects
    return getattr(event, "lead_id", None) in subjects


def timeline(
    lead: Lead, activities: Iterable[Activity] = (), *, events: Iterable[object] = ()
) -> Table:
    """The dated steps of *lead*'s journey, oldest first: a :class:`~leadmodel.Table`.

    Rows are ``(at, event, detail)``: its creation (or its capture, when *events* hold
    its ``LeadCaptured``); each activity of the lead — and, once
    it is converted, of its contact and opportunity (conversion moves the lead's
    activities to the contact) — such as calls, ``status_changed`` and ``assigned``
    (which ``run_due`` records); each domain event in *events* about the lead, its contact
    or its opportunity (the ``events`` of the services' results: capture, workflows,
    closing a deal …); and its conversion. Other records' activities and events are left
    out, and a step given twice (a status change as an event and as its activity) is
    listed once. Times are ISO 8601 text; steps at one moment keep the order given
    (activities, then events).

    >>> from datetime import UTC, datetime, timedelta
    >>> from leadmodel import Activity, Lead, StatusChanged
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", source="Web", created_at=t0)
    >>> call = Activity(id="A1", subject_id="L1", kind="call", occurred_at=t0 + timedelta(hours=1))
    >>> moved = StatusChanged(
    ...     lead_id="L1",
    ...     previous="Open - Not Contacted",
    ...     current="Working - Contacted",
    ...     occurred_at=t0 + timedelta(hours=1),
    ... )
    >>> [row[1:] for row in timeline(lead, [call], events=[moved]).rows]
    [('created', 'source Web'), ('call', ''), \
('status_changed', 'Open - Not Contacted -> Working - Contacted')]

    Raises:
        ValidationError: *lead* is not a Lead, *activities* not activities, or an event
            not a domain event.
    """
    _checks.require_instance(lead, Lead, "a Lead", function="timeline", path="lead")
    _checks.require_iterable(
        activities, "an iterable of Activity values", function="timeline", path="activities"
    )
    _checks.require_iterable(
        events, "an iterable of domain events", function="timeline", path="events"
    )
    found, given = list(activities), list(events)
    subjects = _subjects(lead)
    steps: list[tuple[datetime, str, str]] = []
    captured = any(isinstance(e, LeadCaptured) and e.lead_id == lead.id for e in given)
    if lead.created_at is not None and not captured:
        steps.append((lead.created_at, "created", f"source {_plain(lead.source)}"))
    errors: list[FieldError] = []
    for index, activity in enumerate(found):
        if not isinstance(activity, Activity):
            errors.append(
                FieldError(
                    f"activities[{index}]",
                    "type",
                    f"must be an Activity, not {describe_value(activity)}",
                )
            )
        elif activity.subject_id in subjects:
            steps.append(_activity_row(activity))
    for index, event in enumerate(given):
        if not isinstance(event, _EVENTS):
            errors.append(
                FieldError(
                    f"events[{index}]",
                    "type",
                    f"must be a domain event, not {describe_value(event)}",
                )
            )
            continue
        if _about(event, subjects):
            row = _event_row(event)
            if row is not None:
                steps.append(row)
    if errors:
        raise ValidationError("timeline", errors[:10])
    record = lead.converted
    if record is not None and not any(step[1] == "converted" for step in steps):
        made = _made(record.account_id, record.contact_id, record.opportunity_id)
        steps.append((record.converted_at, "converted", made))
    seen: set[tuple[datetime, str, str]] = set()
    rows = []
    for at, what, detail in sorted(steps, key=lambda step: step[0]):
        if (at, what, detail) in seen:
            continue
        seen.add((at, what, detail))
        rows.append((at.isoformat(), what, _short(detail)))
    return Table(f"Timeline of lead {lead.id}", ("at", "event", "detail"), tuple(rows))
