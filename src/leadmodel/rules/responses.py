"""Auto-response and workflow rules: what to send and change when something happens.

- :class:`AutoResponseRule` is Salesforce's lead auto-response rule: ordered
  :class:`ResponseEntry` values, the first whose criterion the lead meets sends its template
  from its sender; a default template answers the rest. :func:`respond` returns the
  :class:`AutoResponse` with the :class:`~leadmodel.Notification` to send — or none, and why
  (no email, opted out).
- :class:`WorkflowRule` is a workflow rule: a :class:`Trigger` (``created``,
  ``status_changed``, ``score_crossed`` a threshold, ``stage_changed``, ``converted``,
  ``assigned``), a criterion the lead must meet, and actions — :class:`Notify` and
  :class:`UpdateField`. :func:`run_workflows` takes an event and the lead and returns
  the notifications and field updates as values; it never sends or saves anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
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
from leadmodel.domain.status import LifecycleStage
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import Criterion

__all__ = [
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


@attrs.frozen(cache_hash=True)
class WorkflowRule:
    """When *trigger* happens to a lead meeting *criterion*, do *actions*."""

    name: str
    trigger: Trigger
    criterion: Criterion
    actions: tuple[Notify | UpdateField, ...] = attrs.field(converter=_tuple)

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
                    and all(isinstance(a, Notify | UpdateField) for a in self.actions)
                    else ("type", "must be a non-empty sequence of Notify or UpdateField"),
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


@attrs.frozen
class WorkflowOutcome:
    """What :func:`run_workflows` decided: rules fired, notifications, field updates, why."""

    _repr_html_ = result_html

    fired: tuple[str, ...]
    notifications: tuple[Notification, ...]
    updates: tuple[FieldUpdate, ...]
    reasons: tuple[str, ...]

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


def run_workflows(event: DomainEvent, lead: Lead, rules: Iterable[WorkflowRule]) -> WorkflowOutcome:
    """The actions *rules* take when *event* happens to *lead*, as values.

    A rule fires when its trigger matches the event and the lead meets its criterion.
    ``Notify("owner", ...)`` goes to the lead's owner (skipped, with a reason, when it has
    none); ``Notify("lead", ...)`` to its email (not when it opted out).

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

    Raises:
        ValidationError: *event* is not a domain event, *lead* not a Lead, or *rules* not
            workflow rules.
    """
    if type(event) not in _EVENT_OF:
        raise ValidationError(
            "run_workflows",
            [FieldError("event", "type", f"must be a domain event, not {describe_value(event)}")],
        )
    _checks.require_instance(lead, Lead, "a Lead", function="run_workflows", path="lead")
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
    fired: list[str] = []
    notifications: list[Notification] = []
    updates: list[FieldUpdate] = []
    reasons: list[str] = []
    for rule in items:
        if not _triggered(rule.trigger, event):
            continue
        if not _criteria.compile(rule.criterion)(lead):
            reasons.append(f"{rule.name}: triggered, but the lead does not meet its criterion")
            continue
        fired.append(rule.name)
        reasons.append(f"{rule.name}: fired on {rule.trigger.event}")
        for action in rule.actions:
            if isinstance(action, UpdateField):
                updates.append(FieldUpdate(lead.id, action.field, action.value, rule.name))
                continue
            recipient = _recipient(action.recipient, lead)
            if recipient is None:
                reasons.append(f"{rule.name}: no {action.recipient} to send {action.template} to")
                continue
            notifications.append(
                Notification(
                    recipient=recipient,
                    template=action.template,
                    subject_id=lead.id,
                    channel=action.channel,
                    data={"rule": rule.name},
                )
            )
    return WorkflowOutcome(tuple(fired), tuple(notifications), tuple(updates), tuple(reasons))


def _recipient(recipient: str, lead: Lead) -> str | None:
    if recipient == "owner":
        return lead.owner_id
    if recipient == "lead":
        return None if lead.email is None or lead.email_opt_out else str(lead.email)
    return recipient
