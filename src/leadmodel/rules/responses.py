"""Auto-response and workflow rules: what to send and change when something happens.

- :class:`AutoResponseRule` is Salesforce's lead auto-response rule: ordered
  :class:`ResponseEntry` values, the first whose criterion the lead meets sends its template
  from its sender; a default template answers the rest. :func:`respond` returns the
  :class:`AutoResponse` with the :class:`~leadmodel.Notification` to send — or none, and why
  (no email, opted out).
- :class:`WorkflowRule` is a workflow rule: a :class:`Trigger` (``created``,
  ``status_changed``, ``score_crossed`` a threshold, ``stage_changed``, ``converted``,
  ``assigned``), a criterion the lead must meet, and actions — :class:`Notify`,
  :class:`UpdateField`, :class:`SetStatus` and :class:`SetLifecycleStage`.
  :func:`run_workflows` takes an event and the lead and returns the notifications, the
  changed lead and the events of its changes as values; an action the domain refuses (a
  move the process forbids, a stage backwards) is an :class:`ActionRefused` in the
  outcome. It never sends or saves anything.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final, Literal

import attrs

from leadmodel._consent_gate import Suppressed
from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.changes import advance, transition, update
from leadmodel.domain.errors import (
    ConvertedLeadError,
    FieldError,
    TransitionError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import (
    DomainEvent,
    LeadAssigned,
    LeadCaptured,
    LeadConverted,
    LeadScored,
    Notification,
    ScoreChanged,
    StageChanged,
    StatusChanged,
)
from leadmodel.domain.fields import Scalar
from leadmodel.domain.lead import Lead
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess, LifecycleStage
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import Criterion
from leadmodel.rules.lifecycle import _check_activities, _Journey, _score_value
from leadmodel.rules.scoring import Score

__all__ = [
    "ActionRefused",
    "AutoResponse",
    "AutoResponseRule",
    "FieldUpdate",
    "Notify",
    "ResponseEntry",
    "SetLifecycleStage",
    "SetStatus",
    "Trigger",
    "UpdateField",
    "WorkflowOutcome",
    "WorkflowRule",
    "respond",
    "run_workflows",
]

TriggerEvent = Literal[
    "created", "status_changed", "score_crossed", "stage_changed", "converted", "assigned"
]
_TRIGGER_EVENTS: Final = (
    "created",
    "status_changed",
    "score_crossed",
    "stage_changed",
    "converted",
    "assigned",
)
_EVENT_OF: Final[dict[type, str]] = {
    LeadCaptured: "created",
    StatusChanged: "status_changed",
    ScoreChanged: "score_crossed",
    LeadScored: "score_crossed",
    StageChanged: "stage_changed",
    LeadConverted: "converted",
    LeadAssigned: "assigned",
}


def _optional_text(value: object, length: int) -> _checks.Problem | None:
    return None if value is None else _checks.text_problem(value, length)


# -- auto-response -------------------------------------------------------------------------


@attrs.frozen
class ResponseEntry:
    """Leads meeting *criterion* get *template*, sent from *sender*."""

    criterion: Criterion
    template: str
    sender: str

    def __attrs_post_init__(self) -> None:
        _raise(
            "ResponseEntry",
            [
                ("criterion", _criterion_problem(self.criterion)),
                ("template", _checks.text_problem(self.template, 255)),
                ("sender", _checks.text_problem(self.sender, 255)),
            ],
        )


@attrs.frozen(cache_hash=True)
class AutoResponseRule:
    """Salesforce's auto-response rule: ordered entries, first match sends; else the default.

    >>> from leadmodel import Condition
    >>> rule = AutoResponseRule(
    ...     [ResponseEntry(Condition("address.country", "eq", "FR"), "merci", "ventes@acme.fr")],
    ...     default_template="thanks",
    ...     default_sender="sales@acme.com",
    ... )
    >>> rule.default_template
    'thanks'
    """

    entries: tuple[ResponseEntry, ...] = attrs.field(converter=_tuple)
    default_template: str | None = None
    default_sender: str | None = None
    name: str = attrs.field(default="auto-response", kw_only=True)

    def __attrs_post_init__(self) -> None:
        pair = (self.default_template is None) != (self.default_sender is None)
        _raise(
            "AutoResponseRule",
            [
                (
                    "entries",
                    None
                    if isinstance(self.entries, tuple)
                    and all(isinstance(e, ResponseEntry) for e in self.entries)
                    else ("type", "must be a sequence of ResponseEntry"),
                ),
                ("default_template", _optional_text(self.default_template, 255)),
                ("default_sender", _optional_text(self.default_sender, 255)),
                (
                    "default_sender",
                    ("required", "a default template needs a default sender, and back")
                    if pair
                    else None,
                ),
                ("name", _checks.text_problem(self.name, 80)),
            ],
        )


@attrs.frozen
class AutoResponse:
    """What :func:`respond` decided: the notification to send (or ``None``) and why.

    *entry* is the index of the matching entry, ``None`` for the default (or no answer).
    """

    _repr_html_ = result_html

    lead_id: str
    notification: Notification | None
    entry: int | None
    reason: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def respond(lead: Lead, rule: AutoResponseRule) -> AutoResponse:
    """The auto-response *lead* gets under *rule*.

    Nobody is answered who has no email address or opted out of email.

    >>> from leadmodel import EmailAddress, Lead
    >>> rule = AutoResponseRule([], default_template="thanks", default_sender="sales@acme.com")
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", email=EmailAddress.parse("ng@x.io"))
    >>> respond(lead, rule).notification.recipient
    'ng@x.io'

    Raises:
        ValidationError: *lead* is not a Lead or *rule* not an AutoResponseRule.
    """
    _checks.require_instance(lead, Lead, "a Lead", function="respond", path="lead")
    _checks.require_instance(
        rule, AutoResponseRule, "an AutoResponseRule", function="respond", path="rule"
    )
    if lead.email is None:
        return AutoResponse(lead.id, None, None, "no email address to answer")
    if lead.email_opt_out:
        return AutoResponse(lead.id, None, None, "the lead opted out of email")
    for index, entry in enumerate(rule.entries):
        if _criteria.compile(entry.criterion)(lead):
            return AutoResponse(
                lead.id,
                _email(lead, entry.template, entry.sender),
                index,
                f"entry {index + 1} matched: {entry.template}",
            )
    if rule.default_template is None or rule.default_sender is None:
        return AutoResponse(lead.id, None, None, "no entry matched and there is no default")
    return AutoResponse(
        lead.id,
        _email(lead, rule.default_template, rule.default_sender),
        None,
        f"no entry matched: the default, {rule.default_template}",
    )


def _email(lead: Lead, template: str, sender: str) -> Notification:
    return Notification(
        recipient=str(lead.email),
        template=template,
        subject_id=lead.id,
        data={"sender": sender},
    )


# -- workflow rules ------------------------------------------------------------------------


@attrs.frozen
class Trigger:
    """When a workflow rule runs: an event kind.

    ``score_crossed`` takes a *threshold*: the score rising from below it to at least it.

    >>> Trigger.score_crossed(70).threshold
    70
    """

    event: TriggerEvent
    threshold: float | None = None

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, _checks.Problem | None]] = []
        if self.event not in _TRIGGER_EVENTS:
            problems.append(("event", ("invalid", f"must be one of {', '.join(_TRIGGER_EVENTS)}")))
        elif self.event == "score_crossed":
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
                problems.append(("threshold", ("required", "score_crossed needs a number")))
        elif self.threshold is not None:
            problems.append(("threshold", ("unexpected", f"{self.event} takes no threshold")))
        _raise("Trigger", problems)

    @classmethod
    def score_crossed(cls, threshold: float) -> Trigger:
        """When the score rises to *threshold* or above."""
        return cls("score_crossed", threshold)


@attrs.frozen
class Notify:
    """Send *template* to *recipient*.

    *recipient* is ``"owner"`` (the lead's owner), ``"lead"`` (its email address) or a
    literal user id or address.
    """

    recipient: str
    template: str
    channel: str = "email"
    kind: Literal["notify"] = "notify"

    def __attrs_post_init__(self) -> None:
        _raise(
            "Notify",
            [
                ("kind", _checks.kind_problem(self.kind, "notify")),
                ("recipient", _checks.text_problem(self.recipient, 255)),
                ("template", _checks.text_problem(self.template, 255)),
                ("channel", _checks.text_problem(self.channel, 40)),
            ],
        )


@attrs.frozen
class UpdateField:
    """Set *field* (a lead field or ``custom.<name>``) to *value*."""

    field: str
    value: Scalar
    kind: Literal["update_field"] = "update_field"

    def __attrs_post_init__(self) -> None:
        _raise(
            "UpdateField",
            [
                ("kind", _checks.kind_problem(self.kind, "update_field")),
                ("field", _checks.text_problem(self.field, 120)),
                (
                    "value",
                    None
                    if self.value is None or isinstance(self.value, str | int | bool)
                    else ("type", "must be text, a whole number, a boolean or None"),
                ),
            ],
        )


@attrs.frozen
class SetStatus:
    """Move the lead to *status* through :func:`~leadmodel.transition` (the lead's process).

    A workflow cannot write ``status`` with :class:`UpdateField`: the change goes through
    the same guard as a user's, and a refusal (a status the process does not allow from the
    current one, a converted status, a converted lead) is reported, not raised.

    >>> SetStatus("Working - Contacted").status
    'Working - Contacted'
    """

    status: str
    kind: Literal["set_status"] = "set_status"

    def __attrs_post_init__(self) -> None:
        _raise(
            "SetStatus",
            [
                ("kind", _checks.kind_problem(self.kind, "set_status")),
                ("status", _checks.text_problem(self.status, 40)),
            ],
        )


@attrs.frozen
class SetLifecycleStage:
    """Move the record forward to *stage* through :func:`~leadmodel.advance`.

    Forward only: a stage earlier than the current one is a reported refusal (moving back
    takes :func:`~leadmodel.regress` and a reason, never an automatic rule).

    >>> from leadmodel import LifecycleStage
    >>> SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED).stage.value
    'marketing_qualified'
    """

    stage: LifecycleStage
    kind: Literal["set_lifecycle_stage"] = "set_lifecycle_stage"

    def __attrs_post_init__(self) -> None:
        _raise(
            "SetLifecycleStage",
            [
                ("kind", _checks.kind_problem(self.kind, "set_lifecycle_stage")),
                (
                    "stage",
                    None
                    if isinstance(self.stage, LifecycleStage)
                    else ("type", f"must be a LifecycleStage, not {describe_value(self.stage)}"),
                ),
            ],
        )


Action = Notify | UpdateField | SetStatus | SetLifecycleStage
_ACTIONS: Final = (Notify, UpdateField, SetStatus, SetLifecycleStage)


@attrs.frozen(cache_hash=True)
class WorkflowRule:
    """When *trigger* happens to a lead meeting *criterion*, do *actions*, in order.

    Actions are :class:`Notify`, :class:`UpdateField`, :class:`SetStatus` and
    :class:`SetLifecycleStage`; "make it an MQL when the score reaches 50" is

    >>> from leadmodel import Condition, LifecycleStage
    >>> mql = WorkflowRule(
    ...     "MQL at 50",
    ...     Trigger.score_crossed(50),
    ...     Condition("score", "gte", 50),
    ...     [SetLifecycleStage(LifecycleStage.MARKETING_QUALIFIED), Notify("owner", "new_mql")],
    ... )
    >>> [action.kind for action in mql.actions]
    ['set_lifecycle_stage', 'notify']
    """

    name: str
    trigger: Trigger
    criterion: Criterion
    actions: tuple[Notify | UpdateField | SetStatus | SetLifecycleStage, ...] = attrs.field(
        converter=_tuple
    )

    def __attrs_post_init__(self) -> None:
        _raise(
            "WorkflowRule",
            [
                ("name", _checks.text_problem(self.name, 80)),
                (
                    "trigger",
                    None if isinstance(self.trigger, Trigger) else ("type", "must be a Trigger"),
                ),
                ("criterion", _criterion_problem(self.criterion)),
                (
                    "actions",
                    None
                    if isinstance(self.actions, tuple)
                    and self.actions
                    and all(isinstance(a, _ACTIONS) for a in self.actions)
                    else (
                        "type",
                        "must be a non-empty sequence of workflow actions",
                    ),
                ),
            ],
        )


@attrs.frozen
class FieldUpdate:
    """A field change a workflow asks for, with the rule that asked."""

    lead_id: str
    field: str
    value: Scalar
    rule: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


RefusalCode = Literal[
    "unknown_status",
    "converted_status",
    "not_allowed",
    "backwards",
    "converted_lead",
    "use_set_status",
    "use_set_lifecycle_stage",
    "invalid_value",
]


@attrs.frozen
class ActionRefused:
    """A workflow action the domain refused, as a result: which rule, which action, why.

    *code* is ``unknown_status`` (not a status of the process), ``converted_status`` (only
    conversion moves a lead there), ``not_allowed`` (the process forbids the move),
    ``backwards`` (a stage earlier than the current one), ``converted_lead`` (a converted
    lead is read-only), ``use_set_status`` / ``use_set_lifecycle_stage`` (an
    :class:`UpdateField` of ``status`` or ``lifecycle_stage``: those go through their own
    action) or ``invalid_value`` (the field update fails the field's checks).

    >>> refused = ActionRefused("mql", SetStatus("Nope"), "unknown_status", "no such status")
    >>> refused.code
    'unknown_status'
    """

    rule: str
    action: Notify | UpdateField | SetStatus | SetLifecycleStage
    code: RefusalCode
    message: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        if not _checks.one_of(self.code, _REFUSAL_CODES):
            raise ValidationError(
                "ActionRefused",
                [FieldError("code", "invalid", f"must be one of {', '.join(_REFUSAL_CODES)}")],
            )


_REFUSAL_CODES: Final = typing.get_args(RefusalCode)


@attrs.frozen
class WorkflowOutcome:
    """What :func:`run_workflows` decided: rules fired, notifications, changes, refusals, why.

    *updates* are the :class:`UpdateField` changes applied; *refused* the actions the
    domain refused; *lead* the lead after every applied action (``None`` only in outcomes
    saved by an earlier release); *events* the ``StatusChanged`` / ``StageChanged`` of the
    applied :class:`SetStatus` / :class:`SetLifecycleStage` actions, at the event's time;
    *suppressed* the notifications :func:`~leadmodel.services.apply_workflows` held back
    at its consent gate (the pure :func:`run_workflows` leaves it empty).

    >>> WorkflowOutcome(("r",), (), (), ("r: fired on created",)).refused
    ()
    """

    _repr_html_ = result_html

    fired: tuple[str, ...]
    notifications: tuple[Notification, ...]
    updates: tuple[FieldUpdate, ...]
    reasons: tuple[str, ...]
    refused: tuple[ActionRefused, ...] = ()
    lead: Lead | None = None
    events: tuple[StatusChanged | StageChanged, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _triggered(trigger: Trigger, event: object) -> bool:
    if _EVENT_OF.get(type(event)) != trigger.event:
        return False
    if trigger.event != "score_crossed":
        return True
    threshold = trigger.threshold or 0
    if isinstance(event, ScoreChanged):
        before = event.previous if event.previous is not None else float("-inf")
        return before < threshold <= event.current
    assert isinstance(event, LeadScored)  # noqa: S101 - the two score events
    return event.total >= threshold


def _subject(event: object) -> str:
    return event.record_id if isinstance(event, StageChanged) else event.lead_id  # type: ignore[attr-defined]


def run_workflows(
    event: DomainEvent,
    lead: Lead,
    rules: Iterable[WorkflowRule],
    *,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    score: Score | float | None = None,
    activities: Iterable[Activity] = (),
) -> WorkflowOutcome:
    """The actions *rules* take when *event* happens to *lead*, as values.

    A rule fires when its trigger matches the event and the lead (as the event found it)
    meets its criterion. Criteria read the lead's fields and the journey paths of
    :mod:`leadmodel.rules.lifecycle`: ``score`` (*score*'s total, or the score event's),
    ``activity.total``, ``activity.count.<kind>``, ``activity.last_at`` and
    ``activity.kinds`` (from *activities*). The actions of the rules that fire apply in
    order, each to the lead as the earlier ones left it:

    - ``Notify("owner", ...)`` goes to the lead's owner (skipped, with a reason, when it
      has none); ``Notify("lead", ...)`` to its email (not when it opted out);
    - :class:`UpdateField` through :func:`~leadmodel.update` (a value the field refuses is
      refused; ``status`` and ``lifecycle_stage`` are refused, pointing to the actions
      below);
    - :class:`SetStatus` through :func:`~leadmodel.transition` in *process*;
    - :class:`SetLifecycleStage` through :func:`~leadmodel.advance` (forward only).

    A refusal is an :class:`ActionRefused` in the outcome, never an exception; the other
    actions still apply. The outcome's ``lead`` is the changed lead, for a service to save,
    and its ``events`` the status and stage changes. Rules do not cascade: run the
    ``events`` through ``run_workflows`` again to let ``status_changed`` and
    ``stage_changed`` rules see them.

    >>> from leadmodel import Condition
    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead, ScoreChanged
    >>> hot = WorkflowRule(
    ...     "hot lead",
    ...     Trigger.score_crossed(70),
    ...     Condition("last_name", "is_not_blank"),
    ...     [Notify("owner", "hot_lead_alert"), UpdateField("rating", "Hot")],
    ... )
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", owner_id="u-7")
    >>> event = ScoreChanged(
    ...     lead_id="L1",
    ...     model="m",
    ...     previous=40,
    ...     current=75,
    ...     occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... )
    >>> outcome = run_workflows(event, lead, [hot])
    >>> outcome.fired, outcome.notifications[0].recipient, outcome.updates[0].value
    (('hot lead',), 'u-7', 'Hot')
    >>> outcome.lead.rating
    'Hot'

    Raises:
        ValidationError: *event* is not a domain event, *lead* not a Lead, *rules* not
            workflow rules, *process* not a LeadProcess, *score* not a Score or number, or
            *activities* not activities.
    """
    if type(event) not in _EVENT_OF:
        raise ValidationError(
            "run_workflows",
            [FieldError("event", "type", f"must be a domain event, not {describe_value(event)}")],
        )
    _checks.require_instance(lead, Lead, "a Lead", function="run_workflows", path="lead")
    _checks.require_instance(
        process, LeadProcess, "a LeadProcess", function="run_workflows", path="process"
    )
    if isinstance(rules, str | bytes | Mapping) or not isinstance(rules, Iterable):
        raise ValidationError(
            "run_workflows", [FieldError("rules", "type", "must be a sequence of WorkflowRule")]
        )
    items = list(rules)
    for i, rule in enumerate(items):
        _checks.require_instance(
            rule, WorkflowRule, "a WorkflowRule", function="run_workflows", path=f"rules[{i}]"
        )
    if _subject(event) != lead.id:
        raise ValidationError(
            "run_workflows",
            [FieldError("event", "other_subject", f"the event is not about lead {lead.id!r}")],
        )
    total = _score_value(score, "run_workflows")
    if total is None:
        total = _event_score(event)
    history = _check_activities(activities, "run_workflows")
    run = _Run(lead, process, event.occurred_at)
    journey = _Journey(lead, total, history)  # criteria see the lead as the event found it
    for rule in items:
        if not _triggered(rule.trigger, event):
            continue
        if not journey.meets(rule.criterion):
            run.reasons.append(f"{rule.name}: triggered, but the lead does not meet its criterion")
            continue
        run.fired.append(rule.name)
        run.reasons.append(f"{rule.name}: fired on {rule.trigger.event}")
        for action in rule.actions:
            run.apply(rule.name, action)
    return WorkflowOutcome(
        tuple(run.fired),
        tuple(run.notifications),
        tuple(run.updates),
        tuple(run.reasons),
        refused=tuple(run.refused),
        lead=run.lead,
        events=tuple(run.events),
    )


def _event_score(event: object) -> float | None:
    if isinstance(event, ScoreChanged):
        return event.current
    if isinstance(event, LeadScored):
        return event.total
    return None


_GUARDED_FIELDS: Final = {
    "status": ("use_set_status", "a workflow changes the status with SetStatus"),
    "lifecycle_stage": (
        "use_set_lifecycle_stage",
        "a workflow changes the lifecycle stage with SetLifecycleStage",
    ),
}


class _Run:
    """The lead as a workflow run changes it, action by action, and what it collected."""

    def __init__(self, lead: Lead, process: LeadProcess, at: datetime) -> None:
        self.lead = lead
        self.process = process
        self.at = at
        self.fired: list[str] = []
        self.notifications: list[Notification] = []
        self.updates: list[FieldUpdate] = []
        self.reasons: list[str] = []
        self.refused: list[ActionRefused] = []
        self.events: list[StatusChanged | StageChanged] = []

    def refuse(self, rule: str, action: Action, code: RefusalCode, message: str) -> None:
        self.refused.append(ActionRefused(rule, action, code, message))
        self.reasons.append(f"{rule}: {action.kind} refused ({code}): {message}")

    def apply(self, rule: str, action: Action) -> None:
        if isinstance(action, Notify):
            self.notify(rule, action)
        elif self.lead.converted is not None:
            self.refuse(rule, action, "converted_lead", "a converted lead is read-only")
        elif isinstance(action, UpdateField):
            self.update_field(rule, action)
        elif isinstance(action, SetStatus):
            self.set_status(rule, action)
        else:
            self.set_stage(rule, action)

    def notify(self, rule: str, action: Notify) -> None:
        recipient = _recipient(action.recipient, self.lead)
        if recipient is None:
            self.reasons.append(f"{rule}: no {action.recipient} to send {action.template} to")
            return
        self.notifications.append(
            Notification(
                recipient=recipient,
                template=action.template,
                subject_id=self.lead.id,
                channel=action.channel,
                data={"rule": rule},
            )
        )

    def update_field(self, rule: str, action: UpdateField) -> None:
        guarded = _GUARDED_FIELDS.get(action.field)
        if guarded is not None:
            self.refuse(rule, action, guarded[0], guarded[1])  # type: ignore[arg-type]
            return
        lead = self.lead
        try:
            if action.field.startswith("custom."):
                name = action.field.split(".", 1)[1]
                lead = update(lead, custom={**lead.custom, name: action.value})
            else:
                lead = update(lead, **{action.field: action.value})
        except (ValidationError, TransitionError, ConvertedLeadError) as error:
            self.refuse(rule, action, "invalid_value", str(error)[:1000])
            return
        self.lead = lead
        self.updates.append(FieldUpdate(lead.id, action.field, action.value, rule))

    def set_status(self, rule: str, action: SetStatus) -> None:
        lead, target = self.lead, self.process.get(action.status)
        if target is None:
            self.refuse(
                rule,
                action,
                "unknown_status",
                f"{action.status!r} is not a status of {self.process.name!r}",
            )
            return
        if target.is_converted and action.status != lead.status:
            self.refuse(
                rule,
                action,
                "converted_status",
                f"{action.status!r} is a converted status: only convert_lead() moves there",
            )
            return
        try:
            moved = transition(lead, action.status, process=self.process)
        except TransitionError as error:
            self.refuse(rule, action, "not_allowed", str(error)[:1000])
            return
        if moved.status != lead.status:
            self.events.append(
                StatusChanged(
                    lead_id=lead.id, previous=lead.status, current=moved.status, occurred_at=self.at
                )
            )
        self.lead = moved

    def set_stage(self, rule: str, action: SetLifecycleStage) -> None:
        lead = self.lead
        try:
            moved = advance(lead, action.stage)
        except TransitionError as error:
            self.refuse(rule, action, "backwards", str(error)[:1000])
            return
        if moved.lifecycle_stage is not lead.lifecycle_stage:
            self.events.append(
                StageChanged(
                    record_id=lead.id,
                    previous=lead.lifecycle_stage,
                    current=moved.lifecycle_stage,
                    occurred_at=self.at,
                )
            )
        self.lead = moved


def _recipient(recipient: str, lead: Lead) -> str | None:
    if recipient == "owner":
        return lead.owner_id
    if recipient == "lead":
        return None if lead.email is None or lead.email_opt_out else str(lead.email)
    return recipient
