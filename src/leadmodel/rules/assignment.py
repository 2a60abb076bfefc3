"""Lead assignment rules: who owns a new lead, decided purely and explained.

An :class:`AssignmentRule` is Salesforce's: ordered :class:`RuleEntry` values, the first whose
criterion the lead meets decides, and a *default_owner* takes the rest. An entry's target is
a :class:`User`, a :class:`Queue`, a :class:`RoundRobin` over members (weighted, smooth: over
``sum(weights)`` leads each member gets exactly its weight) or a :class:`LoadBalanced` group
(Zoho's assignment threshold and Odoo's capacity: at most *capacity* leads per member per
day, week or month, and an optional cap on each member's open backlog).

Rotation and load live in an :class:`AssignmentState` that :func:`assign` takes and returns
with the :class:`Assignment`, so assignment is pure and replayable: the same lead, rule,
state, time and availability always give the same owner. Members not in *available* never
receive a lead; when no member of a group can take one, the default owner does, and the
reason says why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import Criterion

__all__ = [
    "Assignment",
    "AssignmentBatch",
    "AssignmentRule",
    "AssignmentState",
    "LoadBalanced",
    "LoadCount",
    "Queue",
    "RoundRobin",
    "RoundState",
    "RuleEntry",
    "Target",
    "User",
    "assign",
    "assign_many",
]

Period = Literal["day", "week", "month"]
_MAX_WEIGHT: Final = 1000
_MAX_MEMBERS: Final = 1000


def _members_problem(members: object) -> _checks.Problem | None:
    if not isinstance(members, tuple) or not members:
        return "type", "must be a non-empty sequence of user ids"
    if len(members) > _MAX_MEMBERS:
        return "too_long", f"at most {_MAX_MEMBERS} members"
    for member in members:
        problem = _checks.text_problem(member, _checks.ID_LENGTH)
        if problem is not None:
            return problem[0], f"member {describe_value(member)} {problem[1]}"
    if len(set(members)) != len(members):
        return "duplicate", "a member is listed twice"
    return None


@attrs.frozen
class User:
    """Assign to one user."""

    id: str
    kind: Literal["user"] = "user"

    def __attrs_post_init__(self) -> None:
        _raise(
            "User",
            [
                ("id", _checks.text_problem(self.id, _checks.ID_LENGTH)),
                ("kind", _checks.kind_problem(self.kind, "user")),
            ],
        )


@attrs.frozen
class Queue:
    """Assign to a queue (the lead's owner becomes the queue, as in Salesforce)."""

    id: str
    kind: Literal["queue"] = "queue"

    def __attrs_post_init__(self) -> None:
        _raise(
            "Queue",
            [
                ("id", _checks.text_problem(self.id, _checks.ID_LENGTH)),
                ("kind", _checks.kind_problem(self.kind, "queue")),
            ],
        )


@attrs.frozen
class RoundRobin:
    """Take turns among *members*.

    With *weights*, member *i* gets ``weights[i]`` leads in every ``sum(weights)`` (smooth
    weighted round robin, so turns interleave).

    *name* keys its rotation in the :class:`AssignmentState` (default: the members).
    """

    members: tuple[str, ...] = attrs.field(converter=_tuple)
    weights: tuple[int, ...] | None = attrs.field(default=None, converter=_tuple)
    name: str = attrs.field(default="", kw_only=True)
    kind: Literal["round_robin"] = "round_robin"

    def __attrs_post_init__(self) -> None:
        weights_problem: _checks.Problem | None = None
        if self.weights is not None:
            if not isinstance(self.weights, tuple) or not all(
                isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= _MAX_WEIGHT
                for w in self.weights
            ):
                weights_problem = ("type", f"must be whole numbers from 1 to {_MAX_WEIGHT}")
            elif isinstance(self.members, tuple) and len(self.weights) != len(self.members):
                weights_problem = ("length", "needs one weight per member")
        _raise(
            "RoundRobin",
            [
                ("kind", _checks.kind_problem(self.kind, "round_robin")),
                ("members", _members_problem(self.members)),
                ("weights", weights_problem),
                ("name", None if self.name == "" else _checks.text_problem(self.name, 80)),
            ],
        )

    @property
    def key(self) -> str:
        """Where this target's rotation is kept in the state."""
        return self.name or "round_robin:" + ",".join(self.members)


@attrs.frozen
class LoadBalanced:
    """Give each lead to the member with the most room left.

    At most *capacity* leads per member per *period* (``day``, ``week`` — ISO, from Monday —
    or ``month``, in UTC), and at most *backlog_cap* open leads per member when the caller
    passes the backlog.

    *name* keys its counts in the :class:`AssignmentState` (default: the members).
    """

    members: tuple[str, ...] = attrs.field(converter=_tuple)
    capacity: int
    period: Period = "day"
    backlog_cap: int | None = None
    name: str = attrs.field(default="", kw_only=True)
    kind: Literal["load_balanced"] = "load_balanced"

    def __attrs_post_init__(self) -> None:
        _raise(
            "LoadBalanced",
            [
                ("kind", _checks.kind_problem(self.kind, "load_balanced")),
                ("members", _members_problem(self.members)),
                ("capacity", _checks.integer(1, 10**6)(self.capacity)),
                (
                    "period",
                    None
                    if _checks.one_of(self.period, ("day", "week", "month"))
                    else ("invalid", "must be day, week or month"),
                ),
                (
                    "backlog_cap",
                    None
                    if self.backlog_cap is None
                    else _checks.integer(1, 10**6)(self.backlog_cap),
                ),
                ("name", None if self.name == "" else _checks.text_problem(self.name, 80)),
            ],
        )

    @property
    def key(self) -> str:
        """Where this target's counts are kept in the state."""
        return self.name or "load_balanced:" + ",".join(self.members)


Target = User | Queue | RoundRobin | LoadBalanced
"""Where an entry sends a lead."""
_TARGETS: Final = (User, Queue, RoundRobin, LoadBalanced)


@attrs.frozen
class RuleEntry:
    """One entry of an assignment rule: leads meeting *criterion* go to *target*.

    *notify_template* names the email template that tells the new owner.
    *do_not_reassign* keeps an owner the lead already has (Salesforce's "Do Not Reassign
    Owner"): the entry still matches, and still notifies.
    """

    criterion: Criterion
    target: Target
    notify_template: str | None = None
    do_not_reassign: bool = attrs.field(default=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _raise(
            "RuleEntry",
            [
                ("criterion", _criterion_problem(self.criterion)),
                (
                    "target",
                    None
                    if isinstance(self.target, _TARGETS)
                    else ("type", "must be a User, Queue, RoundRobin or LoadBalanced"),
                ),
                (
                    "notify_template",
                    None
                    if self.notify_template is None
                    else _checks.text_problem(self.notify_template, 255),
                ),
                ("do_not_reassign", _checks.boolean(self.do_not_reassign)),
            ],
        )


@attrs.frozen(cache_hash=True)
class AssignmentRule:
    """Salesforce's lead assignment rule as data: ordered entries, first match wins.

    >>> from leadmodel import Condition
    >>> rule = AssignmentRule(
    ...     [
    ...         RuleEntry(Condition("address.country", "eq", "DE"), User("u-berlin")),
    ...         RuleEntry(Condition("employees", "gte", 1000), RoundRobin(["u-1", "u-2"])),
    ...     ],
    ...     default_owner=Queue("q-inbound"),
    ... )
    >>> len(rule.entries)
    2
    """

    entries: tuple[RuleEntry, ...] = attrs.field(converter=_tuple)
    default_owner: User | Queue
    name: str = attrs.field(default="assignment", kw_only=True)

    def __attrs_post_init__(self) -> None:
        entries_problem = (
            None
            if isinstance(self.entries, tuple)
            and all(isinstance(e, RuleEntry) for e in self.entries)
            else ("type", "must be a sequence of RuleEntry")
        )
        keys: dict[str, object] = {}
        if entries_problem is None:
            for entry in self.entries:
                target = entry.target
                if (
                    isinstance(target, RoundRobin | LoadBalanced)
                    and keys.setdefault(target.key, target) != target
                ):
                    entries_problem = (
                        "duplicate",
                        f"two different groups share the state key {target.key!r}",
                    )
        _raise(
            "AssignmentRule",
            [
                ("entries", entries_problem),
                (
                    "default_owner",
                    None
                    if isinstance(self.default_owner, User | Queue)
                    else ("type", "must be a User or a Queue"),
                ),
                ("name", _checks.text_problem(self.name, 80)),
            ],
        )


@attrs.frozen(order=True)
class RoundState:
    """A round robin's turn: each member's current weight (smooth weighted round robin)."""

    target: str
    member: str
    current: int

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(order=True)
class LoadCount:
    """How many leads *member* of *target* received in the period starting *since*."""

    target: str
    member: str
    since: date
    count: int

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _sorted(values: object) -> object:
    values = _tuple(values)
    if isinstance(values, tuple):
        try:
            return tuple(sorted(values))
        except (TypeError, ArithmeticError):  # values that do not order: the check names them
            return values
    return values


@attrs.frozen
class AssignmentState:
    """Round-robin turns and load counts, passed to :func:`assign` and returned by it.

    Store it beside the rule (it round-trips through JSON) and pass the latest one back.
    """

    rounds: tuple[RoundState, ...] = attrs.field(default=(), converter=_sorted)
    loads: tuple[LoadCount, ...] = attrs.field(default=(), converter=_sorted)

    def __attrs_post_init__(self) -> None:
        _raise(
            "AssignmentState",
            [
                (
                    "rounds",
                    None
                    if isinstance(self.rounds, tuple)
                    and all(isinstance(r, RoundState) for r in self.rounds)
                    else ("type", "must be a sequence of RoundState"),
                ),
                (
                    "loads",
                    None
                    if isinstance(self.loads, tuple)
                    and all(isinstance(r, LoadCount) for r in self.loads)
                    else ("type", "must be a sequence of LoadCount"),
                ),
            ],
        )

    def assigned(self, target: str, member: str, *, now: datetime, period: Period = "day") -> int:
        """Leads *member* of *target* received in the *period* containing *now*."""
        since = _period_start(now, period)
        for load in self.loads:
            if load.target == target and load.member == member and load.since == since:
                return load.count
        return 0


@attrs.frozen
class Assignment:
    """Who gets the lead and why.

    *owner_id* is the user (``None`` when a queue gets it: *queue_id*); *entry* is the
    index of the entry that matched (``None``: the default owner); *state* is the state to
    pass next time; *notifications* tell the new owner when the entry asks.
    """

    _repr_html_ = result_html

    lead_id: str
    owner_id: str | None
    queue_id: str | None
    entry: int | None
    reason: str
    state: AssignmentState
    notifications: tuple[Notification, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def apply(self, lead: Lead) -> Lead:
        """*lead* with its new owner (a queue owner sets ``owner_is_queue``)."""
        _checks.require_instance(lead, Lead, "a Lead", function="Assignment.apply", path="lead")
        if self.queue_id is not None:
            return attrs.evolve(lead, owner_id=self.queue_id, owner_is_queue=True)
        return attrs.evolve(lead, owner_id=self.owner_id, owner_is_queue=False)


@attrs.frozen
class AssignmentBatch:
    """The assignments of :func:`assign_many`, in order, and the state after the last."""

    _repr_html_ = result_html

    assignments: tuple[Assignment, ...]
    state: AssignmentState

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _period_start(now: datetime, period: str) -> date:
    """The first day (UTC) of the day, ISO week or month containing *now*."""
    offset = now.utcoffset() or timedelta(0)
    day = (now - offset).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


class _Working:
    """A mutable copy of the state while one lead is assigned."""

    def __init__(self, state: AssignmentState) -> None:
        self.rounds = {(r.target, r.member): r.current for r in state.rounds}
        self.loads = {(c.target, c.member): (c.since, c.count) for c in state.loads}

    def frozen(self) -> AssignmentState:
        return AssignmentState(
            tuple(RoundState(t, m, c) for (t, m), c in self.rounds.items()),
            tuple(LoadCount(t, m, s, n) for (t, m), (s, n) in self.loads.items()),
        )


def _round_robin(
    target: RoundRobin, work: _Working, available: Collection[str] | None
) -> str | None:
    weights = target.weights or (1,) * len(target.members)
    candidates = [
        (member, weight)
        for member, weight in zip(target.members, weights, strict=True)
        if available is None or member in available
    ]
    if not candidates:
        return None
    total = sum(weight for _, weight in candidates)
    best: str | None = None
    best_current = 0
    for member, weight in candidates:
        current = work.rounds.get((target.key, member), 0) + weight
        work.rounds[(target.key, member)] = current
        if best is None or current > best_current:
            best, best_current = member, current
    assert best is not None  # noqa: S101 - candidates is not empty
    work.rounds[(target.key, best)] = best_current - total
    return best


def _load_balanced(
    target: LoadBalanced,
    work: _Working,
    available: Collection[str] | None,
    backlog: Mapping[str, int],
    now: datetime,
) -> tuple[str | None, str]:
    since = _period_start(now, target.period)
    best: tuple[int, int, int] | None = None
    chosen: str | None = None
    full = busy = 0
    for order, member in enumerate(target.members):
        if available is not None and member not in available:
            continue
        start, count = work.loads.get((target.key, member), (since, 0))
        if start != since:
            count = 0  # a new period
        if count >= target.capacity:
            full += 1
            continue
        open_leads = backlog.get(member, 0)
        if target.backlog_cap is not None and open_leads >= target.backlog_cap:
            busy += 1
            continue
        # Most room left first, then the smaller backlog, then the order of the members.
        key = (-(target.capacity - count), open_leads, order)
        if best is None or key < best:
            best, chosen = key, member
    if chosen is None:
        why = []
        if full:
            why.append(f"{full} at capacity ({target.capacity} a {target.period})")
        if busy:
            why.append(f"{busy} at the backlog cap ({target.backlog_cap})")
        if len(target.members) - full - busy:
            why.append(f"{len(target.members) - full - busy} unavailable")
        return None, ", ".join(why)
    start, count = work.loads.get((target.key, chosen), (since, 0))
    work.loads[(target.key, chosen)] = (since, (count if start == since else 0) + 1)
    return chosen, ""


def _check_arguments(  # noqa: PLR0917 - every argument of assign, checked together
    rule: object, state: object, now: object, available: object, backlog: object, function: str
) -> None:
    errors: list[FieldError] = []
    if not isinstance(rule, AssignmentRule):
        errors.append(
            FieldError("rule", "type", f"must be an AssignmentRule, not {type(rule).__name__}")
        )
    if not isinstance(state, AssignmentState):
        errors.append(
            FieldError("state", "type", f"must be an AssignmentState, not {type(state).__name__}")
        )
    if not isinstance(now, datetime) or now.utcoffset() is None:
        errors.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    if available is not None and (
        isinstance(available, str) or not isinstance(available, Collection)
    ):
        errors.append(FieldError("available", "type", "must be a collection of user ids"))
    if backlog is not None and (
        not isinstance(backlog, Mapping)
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in backlog.values()
        )
    ):
        errors.append(FieldError("backlog", "type", "must map user ids to open-lead counts"))
    if errors:
        raise ValidationError(function, errors)


def _assign(  # noqa: PLR0917 - assign's arguments, passed through
    lead: Lead,
    rule: AssignmentRule,
    work: _Working,
    now: datetime,
    available: Collection[str] | None,
    backlog: Mapping[str, int],
) -> tuple[str | None, str | None, int | None, str, tuple[Notification, ...]]:
    for index, entry in enumerate(rule.entries):
        if not _criteria.compile(entry.criterion)(lead):
            continue
        label = f"entry {index + 1}"
        target = entry.target
        owner: str | None = None
        queue: str | None = None
        if entry.do_not_reassign and lead.owner_id is not None:
            reason = f"{label} matched; it does not reassign, so the owner stays {lead.owner_id}"
            if lead.owner_is_queue:
                queue = lead.owner_id
            else:
                owner = lead.owner_id
        elif isinstance(target, User):
            owner, reason = target.id, f"{label} matched: user {target.id}"
        elif isinstance(target, Queue):
            queue, reason = target.id, f"{label} matched: queue {target.id}"
        elif isinstance(target, RoundRobin):
            owner = _round_robin(target, work, available)
            if owner is None:
                return _default(rule, f"{label} matched but no member of {target.key} is available")
            reason = f"{label} matched: {owner}'s turn in {target.key}"
        else:
            owner, why = _load_balanced(target, work, available, backlog, now)
            if owner is None:
                return _default(
                    rule, f"{label} matched but no member of {target.key} can take it: {why}"
                )
            reason = f"{label} matched: {owner} has the most room in {target.key}"
        notices: tuple[Notification, ...] = ()
        recipient = owner or queue
        if entry.notify_template is not None and recipient is not None:
            notices = (
                Notification(
                    recipient=recipient, template=entry.notify_template, subject_id=lead.id
                ),
            )
        return owner, queue, index, reason, notices
    return _default(rule, "no entry matched")


def _default(
    rule: AssignmentRule, why: str
) -> tuple[str | None, str | None, int | None, str, tuple[Notification, ...]]:
    owner = rule.default_owner
    if isinstance(owner, Queue):
        return None, owner.id, None, f"{why}: the default owner, queue {owner.id}", ()
    return owner.id, None, None, f"{why}: the default owner, user {owner.id}", ()


def assign(
    lead: Lead,
    rule: AssignmentRule,
    state: AssignmentState,
    *,
    now: datetime,
    available: Collection[str] | None = None,
    backlog: Mapping[str, int] | None = None,
) -> Assignment:
    """Decide who owns *lead* under *rule*; return the decision and the next state.

    *available* lists the users who can take leads now (``None``: everyone); *backlog*
    maps users to their open leads, for :class:`LoadBalanced` backlog caps.

    >>> from leadmodel import Condition
    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead
    >>> rule = AssignmentRule(
    ...     [RuleEntry(Condition("source", "eq", "Web"), RoundRobin(["ann", "bob"]))],
    ...     default_owner=Queue("triage"),
    ... )
    >>> now = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    >>> first = assign(
    ...     Lead(id="L1", last_name="Ng", company="A", source="Web"),
    ...     rule,
    ...     AssignmentState(),
    ...     now=now,
    ... )
    >>> second = assign(
    ...     Lead(id="L2", last_name="Ito", company="B", source="Web"), rule, first.state, now=now
    ... )
    >>> first.owner_id, second.owner_id
    ('ann', 'bob')
    >>> assign(Lead(id="L3", last_name="Ro", company="C"), rule, second.state, now=now).reason
    'no entry matched: the default owner, queue triage'

    Raises:
        ValidationError: an argument of the wrong type, or a naive *now*.
    """
    _checks.require_instance(lead, Lead, "a Lead", function="assign", path="lead")
    _check_arguments(rule, state, now, available, backlog, "assign")
    work = _Working(state)
    owner, queue, entry, reason, notices = _assign(lead, rule, work, now, available, backlog or {})
    return Assignment(lead.id, owner, queue, entry, reason, work.frozen(), notices)


def assign_many(
    leads: Iterable[Lead],
    rule: AssignmentRule,
    state: AssignmentState,
    *,
    now: datetime,
    available: Collection[str] | None = None,
    backlog: Mapping[str, int] | None = None,
) -> AssignmentBatch:
    """Assign *leads* in order, each seeing the state the previous one left.

    The batch equals calling :func:`assign` lead by lead (each assignment carries the
    state after it); *backlog* is the backlog before the batch — within a batch, the
    period capacity bounds how much a member receives.

    Raises:
        ValidationError: an argument of the wrong type, or a naive *now*.
    """
    _check_arguments(rule, state, now, available, backlog, "assign_many")
    if isinstance(leads, str | bytes | Mapping) or not isinstance(leads, Iterable):
        raise ValidationError(
            "assign_many", [FieldError("leads", "type", "must be an iterable of leads")]
        )
    work = _Working(state)
    open_leads = backlog or {}
    out: list[Assignment] = []
    current = state
    for i, lead in enumerate(leads):
        if not isinstance(lead, Lead):
            raise ValidationError(
                "assign_many",
                [FieldError(f"leads[{i}]", "type", f"must be a Lead, not {type(lead).__name__}")],
            )
        owner, queue, entry, reason, notices = _assign(lead, rule, work, now, available, open_leads)
        current = work.frozen()
        out.append(Assignment(lead.id, owner, queue, entry, reason, current, notices))
    return AssignmentBatch(tuple(out), current)
