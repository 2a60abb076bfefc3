"""Lifecycle services: workflows that save, closing deals, re-engaging contacts.

The lead's journey past the form: :func:`apply_workflows` runs workflow rules on a stored
lead and saves what they changed; :func:`close_opportunity` closes a deal and makes its
contact a customer when won; :func:`reengage_contact` opens a new lead (or episode) for a
contact who shows new buying intent. Re-exported from :mod:`leadmodel.services`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from leadmodel._consent_gate import gate
from leadmodel._html import result_html
from leadmodel._units import check_unit
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.changes import advance
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    FieldError,
    RecordNotFound,
    TransitionError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import DomainEvent, OpportunityClosed, StageChanged
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.status import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LeadProcess,
    LifecycleStage,
    OpportunityProcess,
)
from leadmodel.ports import SupportsMerges, UnitOfWork
from leadmodel.rules.criteria import Condition
from leadmodel.rules.lifecycle import EPISODE_ACTIVITY, Reengagement, ReengageMode, reengage
from leadmodel.rules.responses import WorkflowOutcome, WorkflowRule, run_workflows
from leadmodel.rules.scoring import Score
from leadmodel.rules.views import ListView, apply_view

__all__ = ["CloseOutcome", "apply_workflows", "close_opportunity", "reengage_contact"]

PRIMARY_CONTACT_FIELD = "primary_contact_id"


def _problem(service: str, path: str, code: str, message: str) -> ValidationError:
    return ValidationError(service, [FieldError(path, code, message)])


def _history(uow: UnitOfWork, record_id: str) -> tuple[Activity, ...]:
    found = uow.activities.find_by_keys([f"subject:{record_id}"])
    return tuple(a for a in found if isinstance(a, Activity) and a.subject_id == record_id)


def _write_contact(uow: UnitOfWork, stored: Contact, moved: Contact) -> None:
    from leadmodel.services import _check_write  # the one write guard of every service

    if _check_write(stored, moved):
        uow.contacts.update(moved)


# -- workflows that save -------------------------------------------------------------------


def apply_workflows(
    uow: UnitOfWork,
    event: DomainEvent,
    rules: Iterable[WorkflowRule],
    *,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    score: Score | float | None = None,
    now: datetime | None = None,
) -> WorkflowOutcome:
    """Run workflow *rules* on the stored lead *event* is about, and save what they changed.

    The stored lead and its stored activities (for ``activity.…`` criteria) go to the pure
    :func:`~leadmodel.run_workflows`; the changed lead, stamped ``updated_at`` the event's
    time (the microsecond after its last change when the event is older, and never
    before its ``created_at``), goes through the same guard as
    :func:`~leadmodel.services.save` in one unit of work — so a copy read before the
    workflow ran is refused by ``save`` rather than written over the workflow's changes.
    A lead the rules leave as it was is not written. The outcome's notifications are for
    the host to send, and its ``events`` (status and stage changes) to publish or to run
    through ``apply_workflows`` again. The notifications first pass the last-moment
    consent gate (as every send point of the services does): one to a person who opted
    out or withdrew consent, as stored after the save, moves to the outcome's
    ``suppressed`` with its reason instead; consents are judged at *now* (the event's
    time when not given). With :func:`~leadmodel.services.rescore` this
    makes "an MQL when the score reaches 50" run on its own::

        for event in rescore(uow, model, now=now).events:
            apply_workflows(uow, event, rules)

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Condition, LifecycleStage, ScoreChanged, SetLifecycleStage
    >>> from leadmodel import Lead, Trigger, WorkflowRule
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
    ...     uow.commit()
    >>> mql = WorkflowRule(
    ...     "MQL at 50",
    ...     Trigger.score_crossed(50),
    ...     Condition("score", "gte", 50),
    ...     [SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED)],
    ... )
    >>> at = datetime(2026, 3, 2, tzinfo=UTC)
    >>> event = ScoreChanged(lead_id="L1", model="m", previous=40, current=55, occurred_at=at)
    >>> apply_workflows(uow, event, [mql]).lead.lifecycle_stage.value
    'marketing_qualified'
    >>> with uow:
    ...     uow.leads.get("L1").lifecycle_stage.value
    'marketing_qualified'

    Raises:
        RecordNotFound: no stored lead with the event's id.
        ValidationError: as :func:`~leadmodel.run_workflows`; *uow* not a unit of work;
            *now* not a timezone-aware datetime.
        ConcurrencyError: the lead changed in storage meanwhile; nothing was written.
    """
    check_unit("apply_workflows", uow)
    lead_id = getattr(event, "lead_id", None) or getattr(event, "record_id", None)
    if not isinstance(lead_id, str):
        raise _problem(
            "apply_workflows", "event", "type", f"must be a lead event, not {describe_value(event)}"
        )
    if now is not None and (not isinstance(now, datetime) or now.utcoffset() is None):
        raise _problem(
            "apply_workflows", "now", "type", "must be a timezone-aware datetime or None"
        )
    from leadmodel.services import _check_write

    with uow:
        lead = uow.leads.get(lead_id)
        if lead is None:
            raise RecordNotFound("lead", lead_id)
        outcome = run_workflows(
            event,
            lead,
            rules,
            process=process,
            score=score,
            activities=_history(uow, lead_id),
        )
        changed = outcome.lead if outcome.lead is not None else lead
        if changed != lead:
            changed = attrs.evolve(changed, updated_at=_stamp(lead, event.occurred_at))
            outcome = attrs.evolve(outcome, lead=changed)
        if _check_write(lead, changed, process=process):
            uow.leads.update(changed)
        uow.commit()
    if outcome.notifications:
        allowed, suppressed = gate(
            uow, outcome.notifications, now=now if now is not None else event.occurred_at
        )
        outcome = attrs.evolve(outcome, notifications=allowed, suppressed=suppressed)
    return outcome


def _stamp(stored: Lead, at: datetime) -> datetime:
    """The ``updated_at`` of a lead a workflow changed: the event's time, later than before.

    A copy read before the workflow ran must look older than the stored lead, or
    :func:`~leadmodel.services.save` (which refuses a copy older by ``updated_at``) would
    write it over the workflow's changes. An event older than the lead's last change
    stamps the microsecond after that change; one older than the lead itself, its
    ``created_at`` (a lead is never updated before it was created).
    """
    last = stored.updated_at
    if last is not None and at <= last:
        return last + timedelta(microseconds=1)
    if stored.created_at is not None and at < stored.created_at:
        return stored.created_at
    return at


# -- closing a deal ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CloseOutcome:
    """What :func:`close_opportunity` did: the closed deal and its contact's lifecycle.

    *contact* is the contact that reached ``customer`` (or already was one), ``None``
    when there is none to move; *reasons* say which contact and why; *events* are the
    :class:`~leadmodel.OpportunityClosed` and the contact's ``StageChanged``.

    >>> from leadmodel import Opportunity
    >>> CloseOutcome(opportunity=Opportunity(id="O1", name="Deal", stage="Closed Lost")).contact
    """

    _repr_html_ = result_html

    opportunity: Opportunity
    contact: Contact | None = None
    reasons: tuple[str, ...] = ()
    events: tuple[OpportunityClosed | StageChanged, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _closing_stage(process: OpportunityProcess, won: bool) -> str:
    for stage in process.stages:
        if stage.is_closed and stage.is_won is won:
            return stage.name
    kind = "won" if won else "lost"
    raise _problem(
        "close_opportunity", "process", "no_closed_stage", f"{process.name!r} has no {kind} stage"
    )


def _check_close(
    uow: object, won: object, now: object, lost_reason: object, process: object
) -> None:
    check_unit("close_opportunity", uow)
    errors: list[FieldError] = []
    if won is not True and won is not False:
        errors.append(FieldError("won", "type", "must be True or False"))
    problem = _checks.aware_datetime(now)
    if problem is not None:
        errors.append(FieldError("now", *problem))
    if lost_reason is not None:
        problem = _checks.text_problem(lost_reason, 255)
        if problem is not None:
            errors.append(FieldError("lost_reason", *problem))
        elif won is True:
            errors.append(FieldError("lost_reason", "unexpected", "a won deal has no lost reason"))
    if not isinstance(process, OpportunityProcess):
        errors.append(FieldError("process", "type", "must be an OpportunityProcess"))
    if errors:
        raise ValidationError("close_opportunity", errors)


def _deal_contact(uow: UnitOfWork, deal: Opportunity) -> tuple[Contact | None, str]:
    """The contact a won deal makes a customer, and how it was chosen."""
    if deal.contact_id is not None:
        contact = uow.contacts.get(deal.contact_id)
        if contact is None:
            return None, f"its contact {deal.contact_id} is not stored"
        return contact, f"its contact {contact.id}"
    if deal.account_id is None:
        return None, "it has no contact and no account"
    account = uow.accounts.get(deal.account_id)
    named = None if account is None else account.custom.get(PRIMARY_CONTACT_FIELD)
    stale = ""
    if named is not None:
        # custom values are free text: only a well-formed id is looked up
        well_formed = isinstance(named, str) and _checks.identifier(named) is None
        contact = uow.contacts.get(str(named)) if well_formed else None
        if contact is not None and contact.account_id == deal.account_id:
            return contact, f"the primary contact {contact.id} of account {deal.account_id}"
        # A primary contact since moved to another account (or deleted) is not this
        # account's: making it a customer would credit another company's person.
        where = "is not stored" if contact is None else f"belongs to {contact.account_id}"
        stale = f"; its primary contact {describe_value(named)} {where}"
    # A view lets a store filter by account itself (SQL) instead of reading every contact;
    # the exact comparison stays here, as a store may match ids case-insensitively.
    of_account = ListView("contacts of the account", Condition("account_id", "eq", deal.account_id))
    contacts = sorted(
        (
            c
            for c in apply_view(of_account, uow.contacts)
            if isinstance(c, Contact) and c.account_id == deal.account_id
        ),
        key=lambda c: c.id,
    )
    if len(contacts) == 1:
        return contacts[0], (
            f"the only contact {contacts[0].id} of account {deal.account_id}{stale}"
        )
    if not contacts:
        return None, f"account {deal.account_id} has no contact{stale}"
    return None, (
        f"account {deal.account_id} has {len(contacts)} contacts and names no primary one "
        f"(custom.{PRIMARY_CONTACT_FIELD}){stale}"
    )


def close_opportunity(
    uow: UnitOfWork,
    opportunity_id: str,
    *,
    won: bool,
    now: datetime,
    lost_reason: str | None = None,
    process: OpportunityProcess = DEFAULT_OPPORTUNITY_PROCESS,
) -> CloseOutcome:
    """Close the stored opportunity *opportunity_id*, won or lost, in one unit of work.

    The deal moves to *process*'s first won (or lost) closed stage with that stage's
    probability; it gets *lost_reason* when lost (without one, the reason it has stays),
    none when won (a reopened deal's old reason goes), a close date of *now*'s day if it
    had none, and ``updated_at`` *now*. A won deal makes its contact a ``customer`` through
    :func:`~leadmodel.advance` (HubSpot: Closed Won → customer): the opportunity's
    ``contact_id``, else its account's primary contact — the contact the account's
    ``custom.primary_contact_id`` names when it is stored and belongs to the account,
    or the account's only contact (with several and none named, no contact moves and
    the outcome says why; finding them reads the contacts). A contact already past
    ``customer`` (an evangelist) stays there.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Contact, Opportunity
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.contacts.add(Contact(id="C1", last_name="Ng"))
    ...     uow.opportunities.add(Opportunity(id="O1", name="Acme - 50 seats", contact_id="C1"))
    ...     uow.commit()
    >>> closed = close_opportunity(uow, "O1", won=True, now=datetime(2026, 3, 2, tzinfo=UTC))
    >>> closed.opportunity.stage, closed.contact.lifecycle_stage.value
    ('Closed Won', 'customer')

    Raises:
        RecordNotFound: no stored opportunity *opportunity_id*.
        TransitionError: the opportunity is closed already.
        ValidationError: a bad argument (*won* not a boolean, a naive *now*, a lost reason
            for a won deal …), a stage not in *process*, or a process with no such stage.
        ConcurrencyError: a record changed in storage meanwhile; nothing was written.
    """
    _check_close(uow, won, now, lost_reason, process)
    target_name = _closing_stage(process, won)
    target = process.stage(target_name)
    with uow:
        deal = uow.opportunities.get(opportunity_id) if isinstance(opportunity_id, str) else None
        if deal is None:
            raise RecordNotFound("opportunity", describe_value(opportunity_id))
        if process.stage(deal.stage).is_closed:
            raise TransitionError(
                f"Opportunity {deal.id!r} is closed already ({deal.stage})",
                entity_id=deal.id,
                current=deal.stage,
                target=target_name,
            )
        changes: dict[str, Any] = {
            "stage": target_name,
            "probability": target.probability,
            "updated_at": now,
        }
        if deal.close_date is None:
            changes["close_date"] = now.date()
        if won:
            changes["lost_reason"] = None  # a reopened deal's old reason is not this close's
        elif lost_reason is not None:
            changes["lost_reason"] = lost_reason  # else the reason it has stays
        closed = attrs.evolve(deal, **changes)
        uow.opportunities.update(closed)
        events: list[OpportunityClosed | StageChanged] = [
            OpportunityClosed(
                opportunity_id=deal.id,
                previous_stage=deal.stage,
                stage=target_name,
                won=won,
                lost_reason=closed.lost_reason,
                occurred_at=now,
            )
        ]
        reasons = [f"{deal.id}: {deal.stage} -> {target_name}"]
        contact: Contact | None = None
        if won:
            contact, how = _deal_contact(uow, closed)
            if contact is None:
                reasons.append(f"no contact becomes a customer: {how}")
            else:
                contact = _make_customer(uow, contact, now, how, reasons, events)
        uow.commit()
    return CloseOutcome(
        opportunity=closed, contact=contact, reasons=tuple(reasons), events=tuple(events)
    )


def _make_customer(  # noqa: PLR0917 - one step of close_opportunity, with its lists
    uow: UnitOfWork,
    contact: Contact,
    now: datetime,
    how: str,
    reasons: list[str],
    events: list[OpportunityClosed | StageChanged],
) -> Contact:
    current = contact.lifecycle_stage
    customer = LifecycleStage.CUSTOMER
    if current is not None and current.rank is not None and current.rank >= (customer.rank or 0):
        reasons.append(f"{how} stays {current.value} (already past customer or at it)")
        return contact
    moved = attrs.evolve(advance(contact, customer), updated_at=now)
    _write_contact(uow, contact, moved)
    events.append(
        StageChanged(record_id=contact.id, previous=current, current=customer, occurred_at=now)
    )
    reasons.append(f"{how} becomes a customer")
    return moved


# -- re-engagement -------------------------------------------------------------------------


def reengage_contact(
    uow: UnitOfWork,
    contact_id: str,
    *,
    signal: str | Activity,
    ids: Callable[[str], str],
    now: datetime,
    mode: ReengageMode = "lead",
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
) -> Reengagement:
    """Re-engage the stored contact *contact_id*: a new lead or episode, history kept.

    Reads the contact, its account (the new lead's company; a person lead without one)
    and its activities (the episode number), runs the pure :func:`~leadmodel.reengage`,
    and saves in one unit of work the new lead (mode ``"lead"``, in *process*'s default
    status, through the save guard) and the ``lifecycle_episode`` activity on the
    contact. The contact is not written: its stage and history stay as they are. A merge
    that takes the contact away meanwhile makes the commit fail (``ConcurrencyError``),
    so no episode or lead points at a contact that is gone. Idempotent per signal
    activity: when a stored episode already names *signal* (an :class:`~leadmodel.Activity`
    delivered twice), that earlier re-engagement is returned, with its stored lead, and
    nothing is written (a text *signal* has no identity: each call opens a new episode).

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Contact, LifecycleStage
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.contacts.add(
    ...         Contact(id="C1", last_name="Ng", lifecycle_stage=LifecycleStage.CUSTOMER)
    ...     )
    ...     uow.commit()
    >>> again = reengage_contact(
    ...     uow,
    ...     "C1",
    ...     signal="demo request",
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 6, 1, tzinfo=UTC),
    ... )
    >>> with uow:
    ...     lead = uow.leads.get(again.lead.id)
    ...     contact = uow.contacts.get("C1")
    >>> lead.custom["reengaged_contact_id"], contact.lifecycle_stage.value
    ('C1', 'customer')

    Raises:
        RecordNotFound: no stored contact *contact_id*.
        ValidationError: as :func:`~leadmodel.reengage`; *uow* not a unit of work.
        ConcurrencyError: the contact was merged away, or its activities changed, in
            storage meanwhile; nothing was written.
    """
    check_unit("reengage_contact", uow)
    _checks.require_instance(
        process, LeadProcess, "a LeadProcess", function="reengage_contact", path="process"
    )
    from leadmodel.services import _check_write

    with uow:
        contact = uow.contacts.get(contact_id) if isinstance(contact_id, str) else None
        if contact is None:
            raise RecordNotFound("contact", describe_value(contact_id))
        # The contact is only read; a merge taking it away meanwhile must still fail this
        # commit, or the episode and the lead would point at a contact that is gone. The
        # merge's record is found by the contact's id: searching for it makes the commit
        # check that no such merge was stored since. (Without merges, nothing merges.)
        if isinstance(uow, SupportsMerges):
            uow.merges.find_by_keys([f"record:{contact.id}"])
        history = _history(uow, contact.id)
        earlier = _earlier_episode(uow, contact.id, signal, history)
        if earlier is not None:
            return earlier
        account = None if contact.account_id is None else uow.accounts.get(contact.account_id)
        result = reengage(
            contact,
            signal=signal,
            ids=ids,
            now=now,
            mode=mode,
            history=history,
            company=None if account is None else account.name,
        )
        if result.lead is not None:
            # a new lead starts in its process's default status, as a captured one does
            lead = attrs.evolve(result.lead, status=process.default.name)
            result = attrs.evolve(result, lead=lead)
            _check_write(None, lead, process=process)
            uow.leads.add(lead)
        uow.activities.add(result.activity)
        uow.commit()
    return result


def _earlier_episode(
    uow: UnitOfWork, contact_id: str, signal: object, history: tuple[Activity, ...]
) -> Reengagement | None:
    """The re-engagement *signal* (an activity) opened already, as stored; else ``None``.

    A host that gets the same event twice (a retried webhook, a replayed queue) must not
    open a second lead: the stored episode names its signal activity and its lead. An
    episode whose lead is gone, or whose record does not read back, does not count.
    """
    if not isinstance(signal, Activity):
        return None
    for activity in history:
        properties = activity.properties
        if activity.kind != EPISODE_ACTIVITY or properties.get("signal_activity_id") != signal.id:
            continue
        lead_id, mode = properties.get("lead_id"), properties.get("mode")
        lead = uow.leads.get(lead_id) if isinstance(lead_id, str) and mode == "lead" else None
        try:
            previous = properties.get("previous_stage")
            return Reengagement(
                contact_id=contact_id,
                mode=mode,  # type: ignore[arg-type]  # checked by Reengagement
                episode=properties.get("episode"),  # type: ignore[arg-type]
                previous_stage=None if previous is None else LifecycleStage(previous),
                lead=lead,
                activity=activity,
                reason=properties.get("reason"),  # type: ignore[arg-type]
            )
        except (ValidationError, ValueError):
            continue
    return None
