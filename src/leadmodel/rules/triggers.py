"""Time-based triggers: what happens when *nothing* happens (Salesforce time-dependent workflow).

A :class:`TimeTrigger` is a rule as data: the leads it watches (a criterion), a
:class:`TriggerClock` that says when the wait starts (the lead's creation, its last
activity of some kinds, its last status change, its last assignment, its last update), a
*delay*, an optional *until* (activity kinds that stop the clock: "not contacted"), and
actions — :class:`~leadmodel.Notify`, :class:`~leadmodel.UpdateField`,
:class:`~leadmodel.SetStatus`, :class:`~leadmodel.SetLifecycleStage` and :class:`Reassign`.

:func:`due` is pure: given the leads, their activities, the triggers, the last
:class:`TriggerState` and ``now``, it returns the :class:`DueAction` values that became
due and the next state. Its semantics, which make it idempotent and independent of how
often it runs:

- **Episodes.** Each clock event (the creation, each activity of the clock's kinds …)
  starts an *episode*; the next clock event ends it. An episode is due at its start plus
  the delay, if it lasted that long and no *until* activity happened from its start to
  its due time. Each due episode fires once: the state remembers the last episode that
  fired for each trigger and lead.
- **Escalations.** A trigger with ``escalations=n`` restarts its clock at the due time
  after firing, up to *n* times in a row (an SLA escalation chain), until a new clock
  event or an *until* activity.
- **Catch-up.** ``due(..., now=T)`` fires every due episode up to *T*, in the order of
  their due times: evaluating once at *T* or many times up to *T* gives the same actions,
  and evaluating twice at the same time fires nothing new. A state's *since* ignores
  episodes due before it (install triggers without replaying history).
- **Leaving and re-entering.** A lead that stops meeting the criterion is marked as left;
  when it meets it again, its current episode fires again once due.
"""

from __future__ import annotations

import bisect
import operator
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._entity import to_tags
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.assignment import (
    AssignmentState,
    LoadBalanced,
    Queue,
    RoundRobin,
    Target,
    User,
)
from leadmodel.rules.criteria import Criterion
from leadmodel.rules.responses import Notify, SetLifecycleStage, SetStatus, UpdateField

__all__ = [
    "ASSIGNED",
    "STATUS_CHANGED",
    "DueAction",
    "Reassign",
    "TimeTrigger",
    "TriggerAction",
    "TriggerClock",
    "TriggerMark",
    "TriggerState",
    "due",
]

STATUS_CHANGED: Final = "status_changed"
"""The activity kind that records a status change (the ``status_change`` clock reads it)."""
ASSIGNED: Final = "assigned"
"""The activity kind that records an assignment (the ``assignment`` clock reads it)."""

Since = Literal["created", "updated", "activity", "status_change", "assignment"]
_SINCE: Final = ("created", "updated", "activity", "status_change", "assignment")
_MAX_DELAY: Final = timedelta(days=3650)
_MAX_ESCALATIONS: Final = 100
_MAX_KINDS: Final = 100
_T = TypeVar("_T")


def _kinds_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, frozenset):
        return "type", f"must be a set of activity kinds, not {describe_value(value)}"
    if len(value) > _MAX_KINDS:
        return "too_long", f"at most {_MAX_KINDS} activity kinds"
    for kind in value:
        problem = _checks.text_problem(kind, 80)
        if problem is not None:
            return problem[0], f"activity kind {describe_value(kind)} {problem[1]}"
    return None


@attrs.frozen
class TriggerClock:
    """When a trigger's wait starts: each clock event begins a new episode.

    *since* is one of:

    - ``"created"``: the lead's ``created_at`` (one episode);
    - ``"updated"``: its ``updated_at`` (else ``created_at``), e.g. the rescore that
      dropped a score;
    - ``"activity"``: its creation and each activity of *activity_kinds* (any kind when
      empty): "no activity in 14 days";
    - ``"status_change"``: its creation and each ``"status_changed"`` activity;
    - ``"assignment"``: its creation and each ``"assigned"`` activity (what
      :func:`~leadmodel.services.run_due` records when it reassigns).

    >>> TriggerClock.last_activity({"call", "email"}).since
    'activity'
    """

    since: Since
    activity_kinds: frozenset[str] = attrs.field(default=frozenset(), converter=to_tags)

    def __attrs_post_init__(self) -> None:
        _raise(
            "TriggerClock",
            [
                (
                    "since",
                    None
                    if isinstance(self.since, str) and self.since in _SINCE
                    else ("invalid", f"must be one of {', '.join(_SINCE)}"),
                ),
                ("activity_kinds", _kinds_problem(self.activity_kinds)),
                (
                    "activity_kinds",
                    ("unexpected", "only an activity clock takes activity kinds")
                    if self.since != "activity"
                    and isinstance(self.activity_kinds, frozenset)
                    and self.activity_kinds
                    else None,
                ),
            ],
        )

    @classmethod
    def created(cls) -> TriggerClock:
        """Since the lead was created."""
        return cls("created")

    @classmethod
    def updated(cls) -> TriggerClock:
        """Since the lead was last updated."""
        return cls("updated")

    @classmethod
    def last_activity(cls, kinds: Iterable[str] = ()) -> TriggerClock:
        """Since the lead's last activity of *kinds* (any kind when empty) or its creation."""
        return cls("activity", frozenset(kinds))

    @classmethod
    def status_change(cls) -> TriggerClock:
        """Since the lead's status last changed (a ``"status_changed"`` activity)."""
        return cls("status_change")

    @classmethod
    def assignment(cls) -> TriggerClock:
        """Since the lead was last assigned (an ``"assigned"`` activity)."""
        return cls("assignment")

    def describe(self) -> str:
        """The clock in words, for reasons.

        >>> TriggerClock.status_change().describe()
        'the last status change'
        """
        if self.since == "activity":
            kinds = ", ".join(sorted(self.activity_kinds)) or "any kind"
            return f"the last activity ({kinds})"
        return {
            "created": "creation",
            "updated": "the last update",
            "status_change": "the last status change",
            "assignment": "the last assignment",
        }.get(self.since, self.since)


@attrs.frozen
class Reassign:
    """Give the lead to *target*: a user, a queue, or the next member of a group.

    A :class:`~leadmodel.RoundRobin` or :class:`~leadmodel.LoadBalanced` target picks the
    next member other than the current owner, with the rotation kept in the
    :class:`TriggerState`. The lifecycle stage and status are left as they are.

    >>> from leadmodel import Queue
    >>> Reassign(Queue("nurture")).target.id
    'nurture'
    """

    target: Target
    kind: Literal["reassign"] = "reassign"

    def __attrs_post_init__(self) -> None:
        _raise(
            "Reassign",
            [
                ("kind", _checks.kind_problem(self.kind, "reassign")),
                (
                    "target",
                    None
                    if isinstance(self.target, User | Queue | RoundRobin | LoadBalanced)
                    else ("type", "must be a User, Queue, RoundRobin or LoadBalanced"),
                ),
            ],
        )


TriggerAction = Notify | UpdateField | SetStatus | SetLifecycleStage | Reassign
"""What a time trigger does when it fires."""
_ACTIONS: Final = (Notify, UpdateField, SetStatus, SetLifecycleStage, Reassign)
_ACTIONS_MESSAGE: Final = (
    "must be 1 to 100 of Notify, UpdateField, SetStatus, SetLifecycleStage or Reassign"
)


def _delay_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, timedelta):
        return "type", f"must be a timedelta, not {describe_value(value)}"
    if value < timedelta(0) or value > _MAX_DELAY:
        return "out_of_range", "must be from 0 to 3650 days"
    return None


@attrs.frozen(cache_hash=True)
class TimeTrigger:
    """A time-based rule: leads meeting *criterion* get *actions* *delay* after *clock*.

    Args:
        name: the rule's name, unique among the triggers evaluated together (the state
            remembers firings by it).
        criterion: which leads the trigger watches.
        clock: when the wait starts (:class:`TriggerClock`).
        delay: how long to wait (``timedelta(0)``: as soon as the lead qualifies).
        actions: what to do, in order.
        until: activity kinds that stop the clock when one happens from the episode's
            start to its due time ("not contacted": ``{"call", "email"}``).
        escalations: how many times in a row the clock restarts at the due time after
            firing (an escalation chain; needs a positive delay).

    >>> from datetime import timedelta
    >>> from leadmodel import Condition, Notify
    >>> stale = TimeTrigger(
    ...     "no activity in 14 days",
    ...     Condition("status", "eq", "Open - Not Contacted"),
    ...     TriggerClock.last_activity(),
    ...     timedelta(days=14),
    ...     [Notify("owner", "stale_lead")],
    ... )
    >>> stale.delay.days
    14
    """

    name: str
    criterion: Criterion
    clock: TriggerClock
    delay: timedelta
    actions: tuple[TriggerAction, ...] = attrs.field(converter=_tuple)
    until: frozenset[str] = attrs.field(default=frozenset(), converter=to_tags, kw_only=True)
    escalations: int = attrs.field(default=0, kw_only=True)

    def __attrs_post_init__(self) -> None:
        escalations_ok = (
            isinstance(self.escalations, int)
            and not isinstance(self.escalations, bool)
            and 0 <= self.escalations <= _MAX_ESCALATIONS
        )
        _raise(
            "TimeTrigger",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("criterion", _criterion_problem(self.criterion)),
                (
                    "clock",
                    None
                    if isinstance(self.clock, TriggerClock)
                    else ("type", "must be a TriggerClock"),
                ),
                ("delay", _delay_problem(self.delay)),
                (
                    "actions",
                    None
                    if isinstance(self.actions, tuple)
                    and 0 < len(self.actions) <= _MAX_KINDS
                    and all(isinstance(a, _ACTIONS) for a in self.actions)
                    else ("type", _ACTIONS_MESSAGE),
                ),
                ("until", _kinds_problem(self.until)),
                (
                    "escalations",
                    None
                    if escalations_ok
                    else ("out_of_range", f"must be a whole number from 0 to {_MAX_ESCALATIONS}"),
                ),
                (
                    "escalations",
                    ("invalid", "an escalation chain needs a positive delay")
                    if escalations_ok
                    and self.escalations
                    and isinstance(self.delay, timedelta)
                    and self.delay <= timedelta(0)
                    else None,
                ),
            ],
        )


@attrs.frozen(order=True)
class TriggerMark:
    """The last episode of trigger *rule* that fired for record *record_id*.

    *escalation* counts the restarts of the chain it belongs to (0: the episode began with
    a clock event); *left* says the record stopped meeting the trigger's criterion since.

    >>> from datetime import UTC, datetime
    >>> start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> TriggerMark("sla", "L1", start, start.replace(hour=10)).left
    False
    """

    rule: str
    record_id: str
    started_at: datetime
    due_at: datetime
    escalation: int = 0
    left: bool = False

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        # Marks come back from storage and JSON: a naive time would make due() compare
        # naive with aware times, a negative escalation would buy a chain extra firings.
        started, due_at = self.started_at, self.due_at
        _raise(
            "TriggerMark",
            [
                ("started_at", _aware_problem(started)),
                ("due_at", _aware_problem(due_at)),
                (
                    "due_at",
                    ("out_of_range", "must not be before started_at")
                    if started.utcoffset() is not None
                    and due_at.utcoffset() is not None
                    and due_at < started
                    else None,
                ),
                (
                    "escalation",
                    None
                    if 0 <= self.escalation <= _MAX_ESCALATIONS
                    else ("out_of_range", f"must be from 0 to {_MAX_ESCALATIONS}"),
                ),
            ],
        )


def _sorted_marks(values: object) -> object:
    values = _tuple(values)
    if isinstance(values, tuple) and all(isinstance(v, TriggerMark) for v in values):
        return tuple(sorted(values, key=lambda m: (m.rule, m.record_id)))
    return values


def _aware_problem(value: datetime) -> _checks.Problem | None:
    if value.utcoffset() is None:
        return "type", "must be a timezone-aware datetime"
    return None


def _optional_time(value: object) -> _checks.Problem | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return None
    return "type", "must be a timezone-aware datetime or None"


@attrs.frozen
class TriggerState:
    """What :func:`due` remembers between runs; store it and pass the latest one back.

    *marks* hold the last firing of each trigger for each record; *assignment* the
    rotation of the groups :class:`Reassign` actions use; *evaluated_at* the last ``now``;
    *since*, when set, ignores episodes due before it. *id* names the state in storage
    (one per rule set). It round-trips through JSON.

    >>> TriggerState().marks
    ()
    """

    id: str = "triggers"
    marks: tuple[TriggerMark, ...] = attrs.field(default=(), converter=_sorted_marks)
    assignment: AssignmentState = attrs.field(factory=AssignmentState)
    evaluated_at: datetime | None = None
    since: datetime | None = None

    def __attrs_post_init__(self) -> None:
        marks_problem: _checks.Problem | None = None
        if not isinstance(self.marks, tuple) or not all(
            isinstance(m, TriggerMark) for m in self.marks
        ):
            marks_problem = ("type", "must be a sequence of TriggerMark")
        elif len({(m.rule, m.record_id) for m in self.marks}) != len(self.marks):
            marks_problem = ("duplicate", "one mark per trigger and record")
        _raise(
            "TriggerState",
            [
                ("id", _checks.text_problem(self.id, _checks.ID_LENGTH)),
                ("marks", marks_problem),
                (
                    "assignment",
                    None
                    if isinstance(self.assignment, AssignmentState)
                    else ("type", "must be an AssignmentState"),
                ),
                ("evaluated_at", _optional_time(self.evaluated_at)),
                ("since", _optional_time(self.since)),
            ],
        )


@attrs.frozen
class DueAction:
    """One action a trigger calls for, and why (:attr:`reason`).

    *started_at* is when the episode's clock started, *due_at* when it became due (the
    time the action applies at), *escalation* its place in an escalation chain, *clock*
    what started the clock, in words. :func:`due` returns them in the order they apply.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Notify
    >>> start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> item = DueAction("sla", "L1", Notify("owner", "t"), start, start.replace(hour=10), 0, "x")
    >>> item.due_at - item.started_at
    datetime.timedelta(seconds=3600)
    """

    _repr_html_ = result_html

    rule: str
    record_id: str
    action: TriggerAction
    started_at: datetime
    due_at: datetime
    escalation: int
    clock: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def reason(self) -> str:
        """Why the action is due: the rule, the record, when the clock started and the wait.

        >>> from datetime import UTC, datetime
        >>> from leadmodel import Notify
        >>> start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        >>> DueAction(
        ...     "sla", "L1", Notify("owner", "t"), start, start.replace(hour=10), 0, "creation"
        ... ).reason
        'sla: lead L1 waited 1:00:00 since creation at 2026-03-02T09:00:00+00:00; due at ...'
        """
        chain = f" (escalation {self.escalation})" if self.escalation else ""
        return (
            f"{self.rule}: lead {self.record_id} waited {self.due_at - self.started_at} since "
            f"{self.clock} at {self.started_at.isoformat()}{chain}; due at "
            f"{self.due_at.isoformat()}"
        )


def _builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen class *cls* that skips its field checks.

    A performance trick for the values :func:`due` builds by the million from checked
    rules and records: the checks would cost more than the rest of the evaluation. The
    generated function sets each field in order (``object.__setattr__``, as attrs does).
    """
    names = [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]
    lines = [f"def build({', '.join(names)}):", "    obj = new(cls)"]
    lines += [f"    set(obj, {name!r}, {name})" for name in names]
    lines.append("    return obj")
    namespace: dict[str, object] = {"new": object.__new__, "set": object.__setattr__, "cls": cls}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from our own field names
    return namespace["build"]  # type: ignore[return-value]


_new_action: Final = _builder(DueAction)
_BY_DUE: Final = operator.attrgetter("due_at")
_BY_DUE_AND_RECORD: Final = operator.attrgetter("due_at", "record_id")
_new_mark: Final = _builder(TriggerMark)
_new_state: Final = _builder(TriggerState)


def _check_due(
    records: object, activities: object, rules: object, state: object, now: object
) -> tuple[tuple[Lead, ...], tuple[Activity, ...], tuple[TimeTrigger, ...]]:
    errors: list[FieldError] = []

    def items(value: object, cls: type, path: str, what: str) -> tuple[object, ...]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            errors.append(FieldError(path, "type", f"must be a sequence of {what}"))
            return ()
        found = tuple(value)
        for i, item in enumerate(found):
            if not isinstance(item, cls):
                errors.append(
                    FieldError(
                        f"{path}[{i}]", "type", f"must be {what}, not {describe_value(item)}"
                    )
                )
                return ()
        return found

    leads = items(records, Lead, "records", "Lead")
    acts = items(activities, Activity, "activities", "Activity")
    triggers = items(rules, TimeTrigger, "rules", "TimeTrigger")
    names = [t.name for t in triggers if isinstance(t, TimeTrigger)]
    if len(set(names)) != len(names):
        errors.append(FieldError("rules", "duplicate", "two triggers share a name"))
    if len({lead.id for lead in leads if isinstance(lead, Lead)}) != len(leads):
        errors.append(FieldError("records", "duplicate", "two records share an id"))
    if not isinstance(state, TriggerState):
        errors.append(
            FieldError("state", "type", f"must be a TriggerState, not {describe_value(state)}")
        )
    if not isinstance(now, datetime) or now.utcoffset() is None:
        errors.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    elif (
        isinstance(state, TriggerState)
        and state.evaluated_at is not None
        and now < state.evaluated_at
    ):
        errors.append(
            FieldError(
                "now",
                "past",
                f"is before the state's last evaluation ({state.evaluated_at.isoformat()})",
            )
        )
    if errors:
        raise ValidationError("due", errors)
    return leads, acts, triggers  # type: ignore[return-value]  # checked above


class _Compiled:
    """A trigger prepared for many records."""

    __slots__ = (
        "action",
        "actions",
        "activity_kinds",
        "clock",
        "delay",
        "escalations",
        "name",
        "simple",
        "since",
        "single",
        "test",
        "until",
    )

    def __init__(self, rule: TimeTrigger) -> None:
        self.name = rule.name  # never the rule itself: it keys the weak cache
        self.actions = rule.actions
        self.action = rule.actions[0] if len(rule.actions) == 1 else None
        # One generated function per criterion: the per-record cost of the whole check.
        self.test: Callable[[object], bool] = _criteria._inline(rule.criterion, Lead)  # noqa: SLF001
        self.clock = rule.clock.describe()
        self.since = rule.clock.since
        kinds: frozenset[str] | None
        if self.since == "activity":
            kinds = rule.clock.activity_kinds or None  # None: any kind
        elif self.since == "status_change":
            kinds = frozenset({STATUS_CHANGED})
        elif self.since == "assignment":
            kinds = frozenset({ASSIGNED})
        else:
            kinds = frozenset()
        self.activity_kinds = kinds
        self.delay = rule.delay
        self.until = rule.until
        self.escalations = rule.escalations
        self.simple = not rule.until and not rule.escalations
        self.single = kinds == frozenset()  # creation or update: one clock event


_COMPILED: Final[weakref.WeakKeyDictionary[TimeTrigger, _Compiled]] = weakref.WeakKeyDictionary()


def _compiled(rule: TimeTrigger) -> _Compiled:
    """*rule* prepared once: services evaluate the same rules lead by lead, many times.

    Kept while the rule lives, however many rules there are (a bounded LRU cache thrashed
    past its size: every step of a catch-up recompiled every rule).
    """
    found = _COMPILED.get(rule)
    if found is None:
        found = _COMPILED[rule] = _Compiled(rule)
    return found


def _utc(at: datetime) -> datetime | None:
    """*at* in UTC: delays are elapsed time, never wall-clock time across a DST change.

    ``datetime`` adds a ``timedelta`` to the wall clock of a zone like
    ``ZoneInfo("America/New_York")`` (24 hours from 09:00 the day before clocks go forward
    is 09:00, 23 hours later), and compares two times of one zone by the wall clock too;
    times come back from storage as fixed offsets, so the answer would depend on the store.
    ``None`` for a time within a day of the calendar's ends that UTC cannot write (before
    year 1 or after 9999 in UTC): it never starts a clock and nothing is due from it.
    """
    if at.tzinfo is UTC:
        return at
    try:
        return at.astimezone(UTC)
    except OverflowError:
        return None


def _starts(rule: _Compiled, lead: Lead, history: Sequence[tuple[datetime, str]]) -> list[datetime]:
    """The clock events of *lead* under *rule*, sorted, each once."""
    if rule.since == "updated":
        start = lead.updated_at or lead.created_at
        start = None if start is None else _utc(start)
        return [] if start is None else [start]
    created = None if lead.created_at is None else _utc(lead.created_at)
    starts = [] if created is None else [created]
    kinds = rule.activity_kinds
    if history and kinds != frozenset():
        starts += [at for at, kind in history if kinds is None or kind in kinds]
        if len(starts) > 1:
            starts = sorted(set(starts))
    return starts


def _fired(  # noqa: PLR0917 - one record's episode walk, its inputs passed through
    rule: _Compiled,
    starts: list[datetime],
    history: Sequence[tuple[datetime, str]],
    mark: TriggerMark | None,
    now: datetime,
    since: datetime | None,
    first: bool = False,
) -> list[tuple[datetime, datetime, int]]:
    """The episodes of one record that fire now: ``(started_at, due_at, escalation)``.

    With *first*, only the earliest (what the next step of a catch-up needs).
    """
    delay = rule.delay
    if mark is None:
        start, escalation = starts[0], 0
    elif mark.left:
        start, escalation = starts[bisect.bisect_right(starts, now) - 1], 0
    elif mark.escalation < rule.escalations:
        restart = _utc(mark.due_at)
        if restart is None:
            return []
        start, escalation = restart, mark.escalation + 1
    else:
        at = bisect.bisect_right(starts, mark.due_at)
        if at == len(starts):
            return []
        start, escalation = starts[at], 0
    until: list[datetime] | None = None
    out: list[tuple[datetime, datetime, int]] = []
    while True:
        try:
            due_at = start + delay
        except OverflowError:  # due after the year 9999: never
            return out
        if due_at > now:
            return out
        at = bisect.bisect_right(starts, start)
        following = starts[at] if at < len(starts) else None
        if following is not None and following <= due_at:
            start, escalation = following, 0  # a new clock event ended the episode
            continue
        if rule.until:
            if until is None:
                until = sorted(t for t, kind in history if kind in rule.until)
            hit = bisect.bisect_left(until, start)
            if hit < len(until) and until[hit] <= due_at:
                if following is None:  # stopped: nothing more until a new clock event
                    return out
                start, escalation = following, 0
                continue
        if since is None or due_at >= since:
            out.append((start, due_at, escalation))
            if first:
                return out
        if escalation < rule.escalations:
            start, escalation = due_at, escalation + 1
        elif following is None:
            return out
        else:
            start, escalation = following, 0


# A rule as the loop uses it: compiled, its test, name, marks, new marks and actions found.
_Test = tuple[
    "_Compiled",
    Callable[[object], bool],
    str,
    dict[str, TriggerMark],
    dict[str, TriggerMark],
    list[DueAction],
]


def _evaluate(  # noqa: PLR0917 - one record against every rule, its inputs passed through
    lead: Lead,
    lead_history: list[tuple[datetime, str]],
    tests: list[_Test],
    now: datetime,
    since: datetime | None,
    first: bool = False,
) -> None:
    """Add the actions due for *lead* and its new marks to each rule's lists."""
    lead_id = lead.id
    for rule, test, name, rule_marks, rule_changed, found in tests:
        if not test(lead):
            if rule_marks:
                mark = rule_marks.get(lead_id)
                if mark is not None and not mark.left:
                    rule_changed[lead_id] = attrs.evolve(mark, left=True)
            continue
        mark = rule_marks.get(lead_id) if rule_marks else None
        if mark is None and rule.simple and (rule.single or not lead_history):
            # One clock event, no chain, no "until": at most one firing (the common case).
            start = lead.created_at
            if rule.since == "updated" and lead.updated_at is not None:
                start = lead.updated_at
            if start is None:
                continue
            if start.tzinfo is not UTC:
                start = _utc(start)
                if start is None:
                    continue
            try:
                due_at = start + rule.delay
            except OverflowError:  # due after the year 9999: never
                continue
            if due_at > now or (since is not None and due_at < since):
                continue
            rule_changed[lead_id] = _new_mark(name, lead_id, start, due_at, 0, left=False)
            if rule.action is not None:
                found.append(_new_action(name, lead_id, rule.action, start, due_at, 0, rule.clock))
            else:
                found += [
                    _new_action(name, lead_id, action, start, due_at, 0, rule.clock)
                    for action in rule.actions
                ]
            continue
        starts = _starts(rule, lead, lead_history)
        if not starts:
            continue
        fired = _fired(rule, starts, lead_history, mark, now, since, first)
        if not fired:
            continue
        started, last_due, escalation = fired[-1]
        rule_changed[lead_id] = _new_mark(name, lead_id, started, last_due, escalation, left=False)
        clock = rule.clock
        for started, due_at, n in fired:
            found += [
                _new_action(name, lead_id, action, started, due_at, n, clock)
                for action in rule.actions
            ]


def due(
    records: Iterable[Lead],
    activities: Iterable[Activity],
    rules: Iterable[TimeTrigger],
    state: TriggerState,
    *,
    now: datetime,
) -> tuple[tuple[DueAction, ...], TriggerState]:
    """The actions *rules* call for up to *now*, and the state to pass next time.

    Pure and catch-up safe (see the module): every episode due up to *now* fires once, in
    the order of due times (then the order of *rules*, then record id); evaluating again
    at the same *now* fires nothing; evaluating at many times up to *now* fires the same
    actions as evaluating once. Converted leads never fire; activities after *now* are
    not seen yet.

    >>> from datetime import UTC, datetime, timedelta
    >>> from leadmodel import Condition, Lead, Notify
    >>> rule = TimeTrigger(
    ...     "status unchanged for 7 days",
    ...     Condition("status", "eq", "Open - Not Contacted"),
    ...     TriggerClock.status_change(),
    ...     timedelta(days=7),
    ...     [Notify("owner", "stuck")],
    ... )
    >>> lead = Lead(
    ...     id="L1", last_name="Ng", company="Acme", created_at=datetime(2026, 3, 1, tzinfo=UTC)
    ... )
    >>> now = datetime(2026, 3, 9, tzinfo=UTC)
    >>> actions, state = due([lead], [], [rule], TriggerState(), now=now)
    >>> [(a.record_id, a.due_at.day) for a in actions]
    [('L1', 8)]
    >>> due([lead], [], [rule], state, now=now)[0]
    ()

    Raises:
        ValidationError: arguments of the wrong type, two triggers with one name, two
            records with one id, a naive *now*, or a *now* before the state's last
            evaluation (code ``past``).
    """
    leads, acts, triggers = _check_due(records, activities, rules, state, now)
    return _due(leads, acts, triggers, state, now)


def _due(
    leads: Sequence[Lead],
    acts: Sequence[Activity],
    triggers: Sequence[TimeTrigger],
    state: TriggerState,
    now: datetime,
    *,
    first: bool = False,
) -> tuple[tuple[DueAction, ...], TriggerState]:
    """:func:`due` over checked arguments; with *first*, each rule's earliest firing only.

    A catch-up looks ahead after each step for the next due time only: walking every
    firing up to ``now`` there would cost each step the whole remaining history.
    """
    compiled = [_compiled(rule) for rule in triggers]
    history: dict[str, list[tuple[datetime, str]]] = {}
    for activity in acts:
        if activity.occurred_at <= now:
            at = _utc(activity.occurred_at)
            if at is not None:
                history.setdefault(activity.subject_id, []).append((at, activity.kind))
    # Marks by rule, then record, and actions as they are: every object kept alive here is
    # one more for the garbage collector to walk, which costs more than the checks.
    marks: dict[str, dict[str, TriggerMark]] = {}
    for m in state.marks:
        marks.setdefault(m.rule, {})[m.record_id] = m
    changed: dict[str, dict[str, TriggerMark]] = {t.name: {} for t in triggers}
    since = state.since
    empty: list[tuple[datetime, str]] = []
    no_marks: dict[str, TriggerMark] = {}
    tests: list[_Test] = [
        (
            rule,
            rule.test,
            rule.name,
            marks.get(rule.name, no_marks),
            changed[rule.name],
            [],
        )
        for rule in compiled
    ]
    for lead in leads:
        if lead.converted is None:
            _evaluate(lead, history.get(lead.id, empty), tests, now, since, first)
    # Each rule's actions by due time and record, then all of them, rule after rule, by due
    # time: both sorts are stable, so the order is (due time, rule, record, the rule's
    # order of actions), with keys read in C.
    found: list[DueAction] = []
    for test in tests:
        test[5].sort(key=_BY_DUE_AND_RECORD)
        found += test[5]
    found.sort(key=_BY_DUE)
    if any(changed.values()):
        for name, rule_changed in changed.items():
            if rule_changed:
                marks.setdefault(name, {}).update(rule_changed)
        # Marks built here are right by construction; sorted as the state keeps them.
        new_marks = tuple(
            by_record[record_id]
            for name in sorted(marks)
            for by_record in (marks[name],)
            for record_id in sorted(by_record)
        )
        new_state = _new_state(state.id, new_marks, state.assignment, now, state.since)
    else:
        new_state = attrs.evolve(state, evaluated_at=now)
    return tuple(found), new_state
