"""The ``run_due`` service: time-based triggers and auto-conversion over stored leads.

Re-exported from :mod:`leadmodel.services`; see :func:`run_due`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from leadmodel._consent_gate import Suppressed
from leadmodel._html import result_html
from leadmodel._units import check_unit
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.changes import advance, transition, update
from leadmodel.domain.errors import (
    ConcurrencyError,
    ConvertedLeadError,
    FieldError,
    RecordExists,
    TransitionError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess
from leadmodel.ports import Clock, Notifier, SupportsTriggerState, UnitOfWork
from leadmodel.rules import conversion
from leadmodel.rules.assignment import (
    AssignmentRule,
    AssignmentState,
    LoadBalanced,
    Queue,
    RoundRobin,
    RuleEntry,
    User,
    assign,
)
from leadmodel.rules.auto_conversion import AutoConversion, AutoConvertRule, auto_convert
from leadmodel.rules.criteria import Condition
from leadmodel.rules.responses import Notify, SetLifecycleStage, SetStatus, UpdateField
from leadmodel.rules.triggers import (
    ASSIGNED,
    STATUS_CHANGED,
    DueAction,
    Reassign,
    TimeTrigger,
    TriggerMark,
    TriggerState,
    _due,
    due,
)

__all__ = ["ActionOutcome", "DueRun", "run_due"]

_ALWAYS: Final = Condition("last_name", "is_not_blank")  # every lead has a last name


@attrs.frozen
class ActionOutcome:
    """What :func:`run_due` did with one :class:`~leadmodel.DueAction`: applied or refused, why.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import DueAction, SetStatus
    >>> at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> item = DueAction("x", "L1", SetStatus("Closed - Converted"), at, at, 0, "creation")
    >>> ActionOutcome(item, applied=False, detail="refused: conversion only").applied
    False
    """

    _repr_html_ = result_html

    action: DueAction
    applied: bool = attrs.field(kw_only=True)
    detail: str = attrs.field(kw_only=True)

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class DueRun:
    """What :func:`run_due` did at *now*.

    *outcomes* hold each due action, applied or refused with its reason, in the order
    applied; *conversions* the auto-conversions performed; *sent* and *failed* the
    notifications (a failed send is reported, never lost and never undoing the run);
    *suppressed* the messages to a person the last-moment consent gate held back (an
    opt-out or a withdrawn consent since the rule was written), each with its reason;
    *state* the trigger state stored; *steps* a readable account. See :func:`run_due`
    for an example.
    """

    _repr_html_ = result_html

    now: datetime
    outcomes: tuple[ActionOutcome, ...]
    conversions: tuple[AutoConversion, ...]
    sent: tuple[Notification, ...]
    failed: tuple[tuple[Notification, str], ...]
    state: TriggerState
    steps: tuple[str, ...]
    suppressed: tuple[Suppressed, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def applied(self) -> tuple[ActionOutcome, ...]:
        """The outcomes that changed something or sent something."""
        return tuple(o for o in self.outcomes if o.applied)

    @property
    def refused(self) -> tuple[ActionOutcome, ...]:
        """The outcomes refused, each with its reason."""
        return tuple(o for o in self.outcomes if not o.applied)


def _problem(path: str, code: str, message: str) -> ValidationError:
    return ValidationError("run_due", [FieldError(path, code, message)])


def _check(  # noqa: PLR0917 - run_due's arguments, checked together
    uow: object,
    rules: object,
    notifier: object,
    ids: object,
    clock: object,
    now: object,
    process: object,
    state_id: object,
) -> tuple[tuple[TimeTrigger, ...], tuple[AutoConvertRule, ...], datetime]:
    check_unit("run_due", uow)
    if not isinstance(uow, SupportsTriggerState):
        raise _problem(
            "uow",
            "capability",
            f"{type(uow).__name__} does not store trigger state (no uow.trigger_states, see "
            "leadmodel.ports.SupportsTriggerState): triggers would fire again on every run",
        )
    if isinstance(rules, str | bytes | Mapping) or not isinstance(rules, Iterable):
        raise _problem("rules", "type", "must be a sequence of TimeTrigger or AutoConvertRule")
    items = tuple(rules)
    for i, rule in enumerate(items):
        if not isinstance(rule, TimeTrigger | AutoConvertRule):
            raise _problem(
                f"rules[{i}]",
                "type",
                f"must be a TimeTrigger or an AutoConvertRule, not {describe_value(rule)}",
            )
    if notifier is not None and not isinstance(notifier, Notifier):
        raise _problem("notifier", "type", "must be a Notifier (with send) or None")
    if not callable(ids):
        raise _problem("ids", "type", "must be a function of an entity kind")
    if (clock is None) == (now is None):
        raise _problem("clock", "required", "give exactly one of clock and now")
    if clock is not None:
        if not isinstance(clock, Clock):
            raise _problem("clock", "type", "must be a Clock (with now())")
        now = clock.now()
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _problem("now", "type", "must be a timezone-aware datetime")
    if not isinstance(process, LeadProcess):
        raise _problem("process", "type", "must be a LeadProcess")
    if not isinstance(state_id, str) or not state_id or len(state_id) > 255:
        raise _problem("state_id", "type", "must be a non-empty id")
    triggers = tuple(r for r in items if isinstance(r, TimeTrigger))
    converts = tuple(r for r in items if isinstance(r, AutoConvertRule))
    return triggers, converts, now


class _Run:
    """The working state of one run inside its unit of work."""

    def __init__(
        self,
        uow: Any,
        ids: Callable[[str], str],
        process: LeadProcess,
        now: datetime,
        *,
        guard: Callable[[Lead, Lead], object],
    ) -> None:
        self.uow = uow
        self.ids = ids
        self.process = process
        self.now = now
        self.guard = guard  # what services.save refuses, raised
        self.stored: dict[str, Lead] = {}
        self.current: dict[str, Lead] = {}
        self.activities: list[Activity] = []
        self.logged: dict[str, list[Activity]] = {}
        self.outgoing: list[Notification] = []
        self.steps: list[str] = []

    def lead(self, lead_id: str) -> Lead | None:
        return self.current.get(lead_id)

    def log(self, lead: Lead, kind: str, at: datetime, properties: dict[str, Any]) -> None:
        activity = Activity(
            id=self.ids("activity"),
            subject_id=lead.id,
            kind=kind,
            occurred_at=at,
            properties=properties,
        )
        self.activities.append(activity)
        self.logged.setdefault(lead.id, []).append(activity)


def _touched(lead: Lead, at: datetime) -> Lead:
    """*lead* changed by an action due at *at*: its ``updated_at`` moves forward to *at*.

    The change is dated when it became due, as the activities that record it are, so a
    late run leaves the same record as one on time; never backwards.
    """
    if lead.updated_at is not None and lead.updated_at >= at:
        return lead
    return attrs.evolve(lead, updated_at=at)


def _recipient(recipient: str, lead: Lead) -> tuple[str | None, str]:
    if recipient == "owner":
        return lead.owner_id, "the lead has no owner"
    if recipient == "lead":
        if lead.email is None:
            return None, "the lead has no email address"
        if lead.email_opt_out:
            return None, "the lead opted out of email"
        return str(lead.email), ""
    return recipient, ""


def _reassign(
    lead: Lead, action: Reassign, item: DueAction, state: AssignmentState
) -> tuple[Lead, AssignmentState, str]:
    target = action.target
    if isinstance(target, User | Queue):
        moved = attrs.evolve(lead, owner_id=target.id, owner_is_queue=isinstance(target, Queue))
        how = f"{'queue' if isinstance(target, Queue) else 'user'} {target.id}"
    else:
        assert isinstance(target, RoundRobin | LoadBalanced)  # noqa: S101 - the four targets
        others = [m for m in target.members if m != lead.owner_id]
        keep: User | Queue
        if lead.owner_id is None:
            keep = Queue(target.key)  # never used: every member is available
        else:
            keep = Queue(lead.owner_id) if lead.owner_is_queue else User(lead.owner_id)
        rule = AssignmentRule([RuleEntry(_ALWAYS, target)], default_owner=keep, name=item.rule)
        assignment = assign(lead, rule, state, now=item.due_at, available=others)
        state = assignment.state
        moved = assignment.apply(lead)
        how = assignment.reason
    if (moved.owner_id, moved.owner_is_queue) == (lead.owner_id, lead.owner_is_queue):
        return lead, state, f"the owner stays {lead.owner_id} ({how})"
    return moved, state, f"reassigned from {lead.owner_id} to {moved.owner_id} ({how})"


def _notify(run: _Run, item: DueAction, action: Notify, lead: Lead) -> ActionOutcome:
    recipient, why = _recipient(action.recipient, lead)
    if recipient is None:
        return ActionOutcome(item, applied=False, detail=f"{action.template} not sent: {why}")
    run.outgoing.append(
        Notification(
            recipient=recipient,
            template=action.template,
            subject_id=lead.id,
            channel=action.channel,
            data={"rule": item.rule, "due_at": item.due_at.isoformat()},
        )
    )
    return ActionOutcome(item, applied=True, detail=f"{action.template} to {recipient}")


def _apply(
    run: _Run, item: DueAction, state: AssignmentState
) -> tuple[ActionOutcome, AssignmentState]:
    """Apply one due action to the run's working copy of its lead, or say why not."""
    lead = run.lead(item.record_id)
    if lead is None:
        return ActionOutcome(item, applied=False, detail="the lead is not stored any more"), state
    if lead.converted is not None:
        return ActionOutcome(item, applied=False, detail="the lead is converted"), state
    action = item.action
    if isinstance(action, Notify):
        return _notify(run, item, action, lead), state
    rotation = state
    try:
        if isinstance(action, Reassign):
            changed, rotation, detail = _reassign(lead, action, item, state)
        elif isinstance(action, UpdateField):
            if action.field.startswith("custom."):
                name = action.field.split(".", 1)[1]
                changed = update(lead, custom={**lead.custom, name: action.value})
            else:
                changed = update(lead, **{action.field: action.value})
            detail = f"{action.field} = {action.value!r}"
        elif isinstance(action, SetStatus):
            changed = transition(lead, action.status, process=run.process)
            detail = f"status {lead.status} -> {changed.status}"
        else:
            assert isinstance(action, SetLifecycleStage)  # noqa: S101 - the last action kind
            changed = advance(lead, action.stage)
            before = lead.lifecycle_stage.value if lead.lifecycle_stage else "none"
            detail = f"lifecycle stage {before} -> {action.stage.value}"
        if changed != lead:
            changed = _touched(changed, item.due_at)
            run.guard(run.stored[lead.id], changed)  # what services.save would refuse
    except (ValidationError, TransitionError, ConvertedLeadError) as exc:
        first = str(exc).splitlines()[0]
        return ActionOutcome(item, applied=False, detail=f"refused: {first}"), state
    if changed == lead:
        return ActionOutcome(item, applied=False, detail=detail), rotation
    run.current[lead.id] = changed
    if isinstance(action, Reassign):
        props = {"rule": item.rule, "from": lead.owner_id, "to": changed.owner_id}
        run.log(changed, ASSIGNED, item.due_at, props)
    elif isinstance(action, SetStatus) and changed.status != lead.status:
        props = {"rule": item.rule, "from": lead.status, "to": changed.status}
        run.log(changed, STATUS_CHANGED, item.due_at, props)
    return ActionOutcome(item, applied=True, detail=detail), rotation


def _auto_convert(
    run: _Run,
    rules: Sequence[AutoConvertRule],
    history: Mapping[str, list[Activity]],
    since: datetime | None,
    *,
    ids: Callable[[str], str],
    save: Callable[..., object],
) -> list[AutoConversion]:
    field_rules = [r for r in rules if not r.activity_kinds]
    activity_rules = [r for r in rules if r.activity_kinds]
    done: list[AutoConversion] = []
    for lead_id in sorted(run.current):
        lead = run.current[lead_id]
        if lead.converted is not None:
            continue
        decision = auto_convert(lead, field_rules) if field_rules else None
        if decision is None and activity_rules:
            for activity in history.get(lead_id, ()):
                if activity.occurred_at <= run.now and (
                    since is None or activity.occurred_at > since
                ):
                    decision = auto_convert(lead, activity_rules, activity=activity)
                    if decision is not None:
                        break
        if decision is None:
            continue
        try:
            result = conversion.convert_lead(
                lead, decision.options, process=run.process, ids=ids, now=run.now
            )
            save(run.uow, result, lead=lead, process=run.process, ids=run.ids)
        except (ValidationError, TransitionError, ConvertedLeadError) as exc:
            run.steps.append(f"auto-conversion {decision.rule} of {lead_id} refused: {exc}")
            continue
        run.current[lead_id] = result.lead
        run.stored[lead_id] = result.lead  # written already
        done.append(decision)
        run.steps.append(f"auto-converted {lead_id}: {decision.reason}")
    return done


_MAX_STEPS: Final = 1000  # firings of one lead in one run: rules that feed each other stop


def _catch_up(
    run: _Run,
    triggers: Sequence[TimeTrigger],
    state: TriggerState,
    history: Mapping[str, list[Activity]],
) -> tuple[list[ActionOutcome], TriggerState]:
    """Apply what is due up to ``run.now`` in the order it became due.

    :func:`due` over every lead finds the leads with something due. Each of those is then
    stepped through its due times in order (a heap across leads, so reassignments take
    their turns in order): the actions due at one time are applied, and the lead as they
    left it is evaluated again, so a later firing sees what an earlier one changed, as a
    clock ticking at every due time would. Any schedule of runs thus ends the same way.
    """
    leads = [run.current[lead_id] for lead_id in sorted(run.current)]
    everything = [a for found in history.values() for a in found]
    actions, after = due(leads, everything, triggers, state, now=run.now)
    if not actions:
        return [], after
    order = {t.name: i for i, t in enumerate(triggers)}
    by_lead: dict[str, list[TriggerMark]] = {}
    for mark in state.marks:
        by_lead.setdefault(mark.record_id, []).append(mark)
    queue: list[tuple[datetime, int, str]] = []
    subs: dict[str, TriggerState] = {}
    for item in actions:
        if item.record_id not in subs:
            subs[item.record_id] = TriggerState(
                marks=by_lead.get(item.record_id, ()),
                evaluated_at=state.evaluated_at,
                since=state.since,
            )
            heapq.heappush(queue, (item.due_at, order[item.rule], item.record_id))
    assignment = state.assignment
    outcomes: list[ActionOutcome] = []
    steps: dict[str, int] = {}
    while queue:
        at, _, lead_id = heapq.heappop(queue)
        sub = subs[lead_id]
        seen = [*history.get(lead_id, ()), *run.logged.get(lead_id, ())]
        step_now = at if sub.evaluated_at is None else max(at, sub.evaluated_at)
        found, sub = due([run.current[lead_id]], seen, triggers, sub, now=step_now)
        for item in found:
            outcome, assignment = _apply(run, item, assignment)
            outcomes.append(outcome)
            run.steps.append(
                f"{item.rule} ({item.record_id}, due {item.due_at.isoformat()}): "
                f"{'' if outcome.applied else 'not applied: '}{outcome.detail}"
            )
        seen = [*history.get(lead_id, ()), *run.logged.get(lead_id, ())]
        # The next due time only: each rule's first firing, not all of them up to now.
        current = [run.current[lead_id]]
        following, ahead = _due(current, seen, triggers, sub, run.now, first=True)
        steps[lead_id] = steps.get(lead_id, 0) + 1
        if following and steps[lead_id] < _MAX_STEPS:
            first = following[0]
            heapq.heappush(queue, (first.due_at, order[first.rule], lead_id))
            subs[lead_id] = sub
        else:
            if following:
                run.steps.append(f"{lead_id}: stopped after {_MAX_STEPS} steps in one run")
                ahead = due(current, seen, triggers, sub, now=run.now)[1]
            subs[lead_id] = ahead
    marks = [m for m in after.marks if m.record_id not in subs]
    marks += [m for sub in subs.values() for m in sub.marks]
    return outcomes, attrs.evolve(after, marks=marks, assignment=assignment)


def run_due(
    uow: UnitOfWork,
    rules: Sequence[TimeTrigger | AutoConvertRule],
    *,
    notifier: Notifier | None = None,
    ids: Callable[[str], str],
    clock: Clock | None = None,
    now: datetime | None = None,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    state_id: str = "triggers",
) -> DueRun:
    """Run the time-based triggers and auto-conversions due now, in one unit of work.

    Reads the stored :class:`~leadmodel.TriggerState` *state_id* (a fresh one the first
    time), the leads and their activities; converts the leads an
    :class:`~leadmodel.AutoConvertRule` in *rules* calls for (field rules: leads meeting
    the criterion; activity rules: activities since the last run, on the first run since
    the state's *since* if it has one); runs
    :func:`~leadmodel.due` at the time of *clock* (or *now*) and applies what is due in
    the order it became due, each lead stepped through its due times so that a later
    firing sees what an earlier one changed (a lead handed over at 13:00 is no longer
    escalated at 14:00): ``Notify`` queues a notification, ``UpdateField``, ``SetStatus`` and
    ``SetLifecycleStage`` go through :func:`~leadmodel.update`,
    :func:`~leadmodel.transition` and :func:`~leadmodel.advance` (a refusal is an
    outcome, not an error), ``Reassign`` gives the lead to its target (a group's next
    member other than the current owner, the rotation kept in the state). A status change
    and a reassignment are recorded as ``"status_changed"`` and ``"assigned"`` activities
    at the due time, so the clocks that read them restart; a changed lead's ``updated_at``
    moves forward to the due time too, and each change passes the guards of
    :func:`~leadmodel.services.save` when applied (a change it would refuse is a refused
    outcome; the run goes on)
    (at most 1,000 steps a lead a run: rules that feed each other stop). Everything, with the
    next state (which forgets the marks of leads removed or converted), is committed
    once; then the notifications go out (a failed send is reported in
    :attr:`DueRun.failed`).

    After downtime, the next run catches up by evaluating once at the current time: every
    episode that became due meanwhile fires once, in the order of due times, escalation
    chains included, and the store ends as it would have with a run at every due time:
    whatever the schedule of runs, the same records, activities and notifications.

    >>> from datetime import UTC, datetime, timedelta
    >>> from leadmodel import Condition, Lead, Notify, TimeTrigger, TriggerClock
    >>> from leadmodel.adapters.memory import MemoryNotifier, MemoryUnitOfWork, SequentialIds
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(
    ...             id="L1",
    ...             last_name="Ng",
    ...             company="Acme",
    ...             owner_id="ann",
    ...             created_at=datetime(2026, 3, 1, tzinfo=UTC),
    ...         )
    ...     )
    ...     uow.commit()
    >>> stale = TimeTrigger(
    ...     "no activity in 14 days",
    ...     Condition("status", "eq", "Open - Not Contacted"),
    ...     TriggerClock.last_activity(),
    ...     timedelta(days=14),
    ...     [Notify("owner", "stale_lead")],
    ... )
    >>> notifier = MemoryNotifier()
    >>> run = run_due(
    ...     uow,
    ...     [stale],
    ...     notifier=notifier,
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 3, 20, tzinfo=UTC),
    ... )
    >>> [(o.detail, o.applied) for o in run.outcomes]
    [('stale_lead to ann', True)]
    >>> run_due(
    ...     uow,
    ...     [stale],
    ...     notifier=notifier,
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 3, 20, tzinfo=UTC),
    ... ).outcomes
    ()

    Raises:
        ValidationError: *uow* is not a unit of work or lacks
            :class:`~leadmodel.ports.SupportsTriggerState` (code ``capability``); bad
            rules, notifier, ids, clock or *now* (give exactly one), process or state id;
            *now* before the stored state's last run (code ``past``).
        ConcurrencyError: another run or edit committed meanwhile; nothing was written.
    """
    from leadmodel import services

    triggers, converts, at = _check(uow, rules, notifier, ids, clock, now, process, state_id)
    assert isinstance(uow, SupportsTriggerState)  # noqa: S101 - _check proved it
    assert isinstance(process, LeadProcess)  # noqa: S101
    store: Any = uow
    with store:
        stored_state = store.trigger_states.get(state_id)
        state = stored_state if stored_state is not None else TriggerState(id=state_id)
        run = _Run(
            store,
            ids,
            process,
            at,
            guard=lambda before, after: services._check_write(  # noqa: SLF001 - save's guard
                before, after, process=process
            ),
        )
        for lead in store.leads:
            run.stored[lead.id] = lead
            run.current[lead.id] = lead
        history: dict[str, list[Activity]] = {}
        for activity in store.activities:
            history.setdefault(activity.subject_id, []).append(activity)
        conversions: list[AutoConversion] = []
        if converts:
            conversions = _auto_convert(
                run,
                converts,
                history,
                # Activities since the last run; on the first, since the state's go-live.
                state.evaluated_at if state.evaluated_at is not None else state.since,
                ids=ids,
                save=services._save,  # noqa: SLF001 - the conversion write convert_lead uses
            )
        outcomes, state = _catch_up(run, triggers, state, history)
        # Marks of leads removed, merged away or converted can never matter again.
        live = {i for i, lead in run.current.items() if lead.converted is None}
        state = attrs.evolve(state, marks=tuple(m for m in state.marks if m.record_id in live))
        for lead_id, lead in run.current.items():
            before = run.stored[lead_id]
            if lead is before:
                continue
            store.leads.update(lead)  # each change passed run.guard when it was applied
        for activity in run.activities:
            store.activities.add(activity)
        if stored_state is None:
            try:
                store.trigger_states.add(state)
            except RecordExists:  # another run stored the first state since this one read
                raise ConcurrencyError(
                    f"trigger state {state_id!r} was stored by another run meanwhile; "
                    "nothing was written: run again",
                    records=[f"trigger_state {state_id}"],
                ) from None
        else:
            store.trigger_states.update(state)
        store.commit()
    sent, failed, suppressed = services._deliver(  # noqa: SLF001 - the one consent-gated sender
        store, run.outgoing, notifier, now=at
    )
    run.steps += [f"not sent: {h.notification.template} ({h.reason})" for h in suppressed]
    return DueRun(
        now=at,
        outcomes=tuple(outcomes),
        conversions=tuple(conversions),
        sent=sent,
        failed=failed,
        state=state,
        steps=tuple(run.steps),
        suppressed=suppressed,
    )
