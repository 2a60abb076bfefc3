"""Lifecycle automation: where a lead stands in the journey, as data, and re-engagement.

- :class:`LifecyclePolicy` is HubSpot's MQL/SQL thresholds as a rule value: ordered
  :class:`StageRule` entries (a stage and the criterion that earns it). :func:`lifecycle_stage`
  returns the :class:`LifecycleDecision`: the latest stage the lead earns, *forward only*,
  with the reasons. :data:`DEFAULT_LIFECYCLE_POLICY` makes a lead an MQL at a score of 50
  and an SQL once sales works it.
- Criteria here (and in workflow rules) read the lead's fields plus the *journey paths*:
  ``score`` (the score total given, or the score event's), ``activity.total`` (how many
  activities), ``activity.count.<kind>`` (how many of one kind, 0 when none),
  ``activity.last_at`` (the latest activity's time) and ``activity.kinds`` (the kinds seen).
- :func:`reengage` is what happens when a contact — a customer, say — shows new buying
  intent: rather than moving the contact back in the lifecycle (its stage is a high-water
  mark), it opens a new lead linked to the contact (``custom["reengaged_contact_id"]``) or
  a new lifecycle episode, and records the episode as a ``lifecycle_episode`` activity on
  the contact. Nothing about the contact changes; its history stays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.domain.status import LifecycleStage
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import All, Any, Condition, Criterion, Not
from leadmodel.rules.scoring import Score

__all__ = [
    "DEFAULT_LIFECYCLE_POLICY",
    "EPISODE_ACTIVITY",
    "REENGAGED_CONTACT_FIELD",
    "LifecycleDecision",
    "LifecyclePolicy",
    "Reengagement",
    "StageRule",
    "lifecycle_stage",
    "reengage",
]

EPISODE_ACTIVITY: Final = "lifecycle_episode"
"""The activity kind :func:`reengage` records a new lifecycle episode with, on the contact."""

REENGAGED_CONTACT_FIELD: Final = "reengaged_contact_id"
"""The custom field of a re-engagement lead that points back to its contact."""

_JOURNEY_ROOTS: Final = frozenset({"score", "activity"})
_MAX_ACTIVITIES: Final = 1_000_000


# -- the journey view: lead fields plus score and activity aggregates -----------------------


class _Counts(Mapping[str, int]):
    """Activity counts by kind, 0 for a kind never seen (so ``eq 0`` and ``lt 1`` work)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, int]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> int:
        return self._data.get(key, 0)

    def get(self, key: str, default: object = None) -> int:  # noqa: ARG002 - Mapping's signature
        return self._data.get(key, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _paths(criterion: Criterion) -> Iterable[str]:
    if isinstance(criterion, Condition):
        yield criterion.field
    elif isinstance(criterion, Not):
        yield from _paths(criterion.item)
    elif isinstance(criterion, All | Any):
        for item in criterion.items:
            yield from _paths(item)


def _reads_journey(criterion: Criterion) -> bool:
    """Whether *criterion* reads a journey path (``score`` or ``activity.…``)."""
    return any(path.split(".", 1)[0] in _JOURNEY_ROOTS for path in _paths(criterion))


def _check_activities(activities: object, function: str) -> tuple[Activity, ...]:
    """*activities* as a tuple of Activity values, or a ValidationError naming the bad one."""
    _checks.require_iterable(
        activities, "a sequence of Activity", function=function, path="activities"
    )
    items: list[Activity] = []
    assert isinstance(activities, Iterable)  # noqa: S101 - require_iterable proved it
    for i, activity in enumerate(activities):
        if not isinstance(activity, Activity):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"activities[{i}]",
                        "type",
                        f"must be an Activity, not {describe_value(activity)}",
                    )
                ],
            )
        if i >= _MAX_ACTIVITIES:
            raise ValidationError(
                function,
                [FieldError("activities", "too_many", f"at most {_MAX_ACTIVITIES:,} activities")],
            )
        items.append(activity)
    return tuple(items)


def _score_value(score: object, function: str) -> float | None:
    """The score total from a :class:`Score`, a number or ``None``."""
    if score is None:
        return None
    if isinstance(score, Score):
        return score.total
    if isinstance(score, int | float | Decimal) and not isinstance(score, bool):
        # float() of a whole number past a float's range overflows, of a signalling NaN
        # raises: both are bad input here, not a crash.
        finite = not isinstance(score, Decimal) or score.is_finite()
        try:
            value = float(score) if finite else float("nan")
        except OverflowError:
            value = float("inf")
        if _checks.is_finite(value):
            return value
    raise ValidationError(
        function,
        [FieldError("score", "type", f"must be a Score or a number, not {describe_value(score)}")],
    )


def _journey_view(
    record: Lead | Contact, score: float | None, activities: tuple[Activity, ...]
) -> dict[str, object]:
    """*record*'s fields with ``score`` and ``activity`` aggregates, for criteria to read."""
    view: dict[str, object] = {
        field.name: getattr(record, field.name) for field in attrs.fields(type(record))
    }
    counts: dict[str, int] = {}
    last: datetime | None = None
    for activity in activities:
        counts[activity.kind] = counts.get(activity.kind, 0) + 1
        if last is None or activity.occurred_at > last:
            last = activity.occurred_at
    # Criteria compare whole numbers and Decimals, not floats: the score reads as a Decimal.
    view["score"] = None if score is None else Decimal(repr(score))
    view["activity"] = {
        "total": len(activities),
        "count": _Counts(counts),
        "last_at": last,
        "kinds": frozenset(counts),
    }
    return view


class _Journey:
    """A record with its score and activities, for criteria; the view is built once."""

    __slots__ = ("_view", "activities", "record", "score")

    def __init__(
        self, record: Lead | Contact, score: float | None, activities: tuple[Activity, ...]
    ) -> None:
        self.record, self.score, self.activities = record, score, activities
        self._view: dict[str, object] | None = None

    def meets(self, criterion: Criterion) -> bool:
        """Whether the record meets *criterion*, with the journey paths when it reads them."""
        test = _criteria.compile(criterion)
        if not _reads_journey(criterion):
            return bool(test(self.record))
        if self._view is None:  # every rule of a run reads the same aggregates
            self._view = _journey_view(self.record, self.score, self.activities)
        return bool(test(self._view))


# -- MQL / SQL thresholds as data ---------------------------------------------------------


@attrs.frozen
class StageRule:
    """A lifecycle *stage* a record earns when it meets *criterion*.

    >>> StageRule(LifecycleStage.MARKETING_QUALIFIED, Condition("score", "gte", 50)).stage.value
    'marketing_qualified'
    """

    stage: LifecycleStage
    criterion: Criterion
    description: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _raise(
            "StageRule",
            [
                (
                    "stage",
                    None
                    if isinstance(self.stage, LifecycleStage)
                    and self.stage is not LifecycleStage.OTHER
                    else ("type", "must be a LifecycleStage in the order (not other)"),
                ),
                ("criterion", _criterion_problem(self.criterion)),
                (
                    "description",
                    None
                    if self.description is None
                    else _checks.text_problem(self.description, 255),
                ),
            ],
        )

    @property
    def label(self) -> str:
        """How reasons speak of this rule: its description, or its stage."""
        return self.description or self.stage.value


@attrs.frozen(cache_hash=True)
class LifecyclePolicy:
    """Which lifecycle stage a record has earned: stage rules in the lifecycle's order.

    Each :class:`StageRule` says what earns its stage; :func:`lifecycle_stage` moves to the
    latest stage whose rule is met, forward only. The rules are listed in the stage order
    (each stage once), so the policy reads as the funnel does.

    >>> policy = LifecyclePolicy(
    ...     [StageRule(LifecycleStage.MARKETING_QUALIFIED, Condition("score", "gte", 50))]
    ... )
    >>> policy.rules[0].stage.value
    'marketing_qualified'
    """

    rules: tuple[StageRule, ...] = attrs.field(converter=_tuple)
    name: str = attrs.field(default="lifecycle", kw_only=True)

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, _checks.Problem | None]] = [
            ("name", _checks.text_problem(self.name, 80))
        ]
        if not isinstance(self.rules, tuple) or not all(
            isinstance(rule, StageRule) for rule in self.rules
        ):
            problems.append(("rules", ("type", "must be a sequence of StageRule")))
        elif not self.rules:
            problems.append(("rules", ("empty", "needs at least one StageRule")))
        else:
            ranks = [rule.stage.rank or 0 for rule in self.rules]
            if any(b <= a for a, b in itertools.pairwise(ranks)):
                problems.append(
                    ("rules", ("order", "list each stage once, in the lifecycle's order"))
                )
        _raise("LifecyclePolicy", problems)


@attrs.frozen
class LifecycleDecision:
    """What :func:`lifecycle_stage` decided: the stage to move to (``None``: stay) and why.

    *current* is the record's stage; *earned* the latest stage its rules are met for
    (``None`` when none is); *met* every stage whose rule is met, in order. A decision
    that contradicts itself (a *stage* other than *earned*, or the current one; *earned*
    not the last of *met*; *met* out of order) is a ``ValidationError``, from JSON too.

    >>> customer = Lead(
    ...     id="L1", last_name="Ng", company="Acme", lifecycle_stage=LifecycleStage.CUSTOMER
    ... )
    >>> decision = lifecycle_stage(customer, DEFAULT_LIFECYCLE_POLICY, score=80)
    >>> decision.earned.value, decision.stage, decision.moves
    ('marketing_qualified', None, False)
    """

    _repr_html_ = result_html

    record_id: str
    current: LifecycleStage | None
    earned: LifecycleStage | None
    stage: LifecycleStage | None
    met: tuple[LifecycleStage, ...]
    reasons: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        errors: list[FieldError] = []
        ranks = [stage.rank for stage in self.met]
        if any(rank is None for rank in ranks) or any(
            b <= a for a, b in itertools.pairwise(rank or 0 for rank in ranks)
        ):
            errors.append(
                FieldError("met", "order", "stages in the lifecycle's order, each once, not other")
            )
        if self.earned is not (self.met[-1] if self.met else None):
            errors.append(FieldError("earned", "invalid", "must be the latest stage met"))
        if self.stage is not None and (self.stage is not self.earned or self.stage is self.current):
            errors.append(
                FieldError("stage", "invalid", "must be the stage earned, and not the current one")
            )
        if errors:
            raise ValidationError("LifecycleDecision", errors)

    @property
    def moves(self) -> bool:
        """Whether the record moves to a new stage."""
        return self.stage is not None


def lifecycle_stage(
    record: Lead | Contact,
    policy: LifecyclePolicy,
    *,
    score: Score | float | None = None,
    activities: Iterable[Activity] = (),
) -> LifecycleDecision:
    """The lifecycle stage *record* has earned under *policy*, forward only, with reasons.

    Every rule is checked; the latest stage met is *earned*. The record moves there only
    when that is forward (:func:`~leadmodel.advance` would take it): never back, never out
    of a converted lead. Criteria read the record's fields and the journey paths
    (``score``: *score*'s total; ``activity.count.<kind>`` … from *activities*).

    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", lifecycle_stage=LifecycleStage.LEAD)
    >>> decision = lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=62)
    >>> decision.stage.value, decision.reasons[0]
    ('marketing_qualified', 'marketing_qualified: score at least 50')

    Raises:
        ValidationError: *record* is not a Lead or Contact, *policy* not a LifecyclePolicy,
            *score* not a Score or number, or *activities* not activities.
    """
    _checks.require_instance(
        record, (Lead, Contact), "a Lead or Contact", function="lifecycle_stage", path="record"
    )
    _checks.require_instance(
        policy, LifecyclePolicy, "a LifecyclePolicy", function="lifecycle_stage", path="policy"
    )
    total = _score_value(score, "lifecycle_stage")
    items = _check_activities(activities, "lifecycle_stage")
    current = record.lifecycle_stage
    journey = _Journey(record, total, items)
    met = tuple(rule for rule in policy.rules if journey.meets(rule.criterion))
    reasons = [f"{rule.stage.value}: {rule.label}" for rule in met]
    earned = met[-1].stage if met else None
    stage: LifecycleStage | None = None
    if earned is None:
        reasons.append("no stage rule is met")
    elif isinstance(record, Lead) and record.converted is not None:
        reasons.append("a converted lead is read-only: it stays where it is")
    elif current is earned:
        reasons.append(f"already {current.value}")
    elif current is not None and current.rank is not None and (earned.rank or 0) < current.rank:
        reasons.append(f"already past it at {current.value}: stages move forward only")
    else:
        stage = earned
        reasons.append(f"moves {current.value if current else 'from no stage'} -> {earned.value}")
    return LifecycleDecision(
        record_id=record.id,
        current=current,
        earned=earned,
        stage=stage,
        met=tuple(rule.stage for rule in met),
        reasons=tuple(reasons),
    )


DEFAULT_LIFECYCLE_POLICY: Final = LifecyclePolicy(
    [
        StageRule(
            LifecycleStage.MARKETING_QUALIFIED,
            Any([Condition("score", "gte", 50), Condition("custom.score", "gte", 50)]),
            description="score at least 50",
        ),
        StageRule(
            LifecycleStage.SALES_QUALIFIED,
            Condition("status", "eq", "Working - Contacted"),
            description="sales is working it (Working - Contacted)",
        ),
    ],
    name="default lifecycle",
)
"""HubSpot-style thresholds: MQL at a score of 50 (the ``score`` given or ``custom.score``),
SQL once the lead's status is ``Working - Contacted`` (sales accepted and is working it)."""


# -- re-engagement ---------------------------------------------------------------------------

ReengageMode = Literal["lead", "episode"]


@attrs.frozen(kw_only=True)
class Reengagement:
    """What :func:`reengage` made of a contact's new buying intent.

    *lead* is the new lead (mode ``"lead"``; ``None`` for an ``"episode"``), linked to the
    contact by ``custom["reengaged_contact_id"]``; *activity* is the ``lifecycle_episode``
    activity on the contact that records the episode (its number, the contact's stage
    when it began, the reason). The contact itself is not changed. A value that
    contradicts itself (a lead in mode ``"episode"``, none in mode ``"lead"``, a lead or
    activity about another contact, an episode before 2) is a ``ValidationError``.

    >>> from datetime import UTC, datetime
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> episode = reengage(
    ...     Contact(id="C1", last_name="Ng"),
    ...     signal="pricing page, twice",
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 6, 1, tzinfo=UTC),
    ...     mode="episode",
    ... )
    >>> episode.lead is None, episode.activity.kind, episode.episode
    (True, 'lifecycle_episode', 2)
    """

    _repr_html_ = result_html

    contact_id: str
    mode: ReengageMode
    episode: int
    previous_stage: LifecycleStage | None
    lead: Lead | None
    activity: Activity
    reason: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        if self.mode not in ("lead", "episode"):
            raise ValidationError(
                "Reengagement", [FieldError("mode", "invalid", "must be 'lead' or 'episode'")]
            )
        errors: list[FieldError] = []
        if self.episode < 2:  # the first life is episode 1
            errors.append(
                FieldError("episode", "invalid", "a re-engagement starts episode 2 or later")
            )
        if (self.lead is None) is (self.mode == "lead"):
            errors.append(
                FieldError(
                    "lead", "invalid", "mode 'lead' has its new lead; mode 'episode' has none"
                )
            )
        elif self.lead is not None and self.lead.custom.get(REENGAGED_CONTACT_FIELD) != (
            self.contact_id
        ):
            errors.append(
                FieldError(
                    "lead",
                    "other_subject",
                    f"custom.{REENGAGED_CONTACT_FIELD} must be {self.contact_id!r}",
                )
            )
        if self.activity.subject_id != self.contact_id or self.activity.kind != EPISODE_ACTIVITY:
            errors.append(
                FieldError(
                    "activity",
                    "invalid",
                    f"must be the {EPISODE_ACTIVITY} activity on {self.contact_id!r}",
                )
            )
        if errors:
            raise ValidationError("Reengagement", errors)


def _episode(contact_id: str, history: tuple[Activity, ...]) -> int:
    """The next episode number: the first life of a contact is episode 1."""
    latest = 1
    for activity in history:
        if activity.subject_id == contact_id and activity.kind == EPISODE_ACTIVITY:
            number = activity.properties.get("episode")
            if isinstance(number, int) and not isinstance(number, bool):
                latest = max(latest, number)
    return latest + 1


def _signal_reason(signal: object) -> tuple[str, str | None]:
    if isinstance(signal, Activity):
        return f"{signal.kind} on {signal.occurred_at.date().isoformat()}", signal.id
    problem = _checks.text_problem(signal, 255)
    if problem is not None:
        raise ValidationError(
            "reengage",
            [FieldError("signal", problem[0], f"{problem[1]} (a reason or an Activity)")],
        )
    assert isinstance(signal, str)  # noqa: S101 - text_problem proved it
    return signal, None


def reengage(
    contact: Contact,
    *,
    signal: str | Activity,
    ids: Callable[[str], str],
    now: datetime,
    mode: ReengageMode = "lead",
    history: Iterable[Activity] = (),
    company: str | None = None,
) -> Reengagement:
    """Open a new lead (or a new lifecycle episode) for a contact showing new buying intent.

    The contact keeps its stage — a customer stays a customer — and its history; the new
    intent starts a new episode instead. *signal* is what showed it: a reason, or the
    activity itself (a ``form_submitted``, a ``demo_request``). *history* is the contact's
    activities, from which the episode number follows (its first life is episode 1).

    - ``mode="lead"``: a new lead at stage ``lead``, with the contact's name, email,
      phones, title and owner, *company* (the account's name; without one, a person
      lead), and ``custom["reengaged_contact_id"]`` / ``custom["reengagement_episode"]``
      pointing back.
    - ``mode="episode"``: no lead; the episode alone, for teams that work the contact.

    Either way a ``lifecycle_episode`` activity on the contact records ``episode``,
    ``previous_stage``, ``reason``, ``mode`` (and ``lead_id`` / ``signal_activity_id``).

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Contact
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> customer = Contact(id="C1", last_name="Ng", lifecycle_stage=LifecycleStage.CUSTOMER)
    >>> again = reengage(
    ...     customer,
    ...     signal="asked for a demo of the new module",
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 6, 1, tzinfo=UTC),
    ...     company="Acme",
    ... )
    >>> again.lead.custom["reengaged_contact_id"], again.episode, again.previous_stage.value
    ('C1', 2, 'customer')

    Raises:
        ValidationError: *contact* is not a Contact, a blank *signal* or an activity of
            another record, an unknown *mode*, a naive *now*, *ids* not a function of a
            kind, or *history* not activities.
    """
    _checks.require_instance(contact, Contact, "a Contact", function="reengage", path="contact")
    if not _checks.one_of(mode, ("lead", "episode")):
        raise ValidationError(
            "reengage",
            [FieldError("mode", "invalid", f"must be lead or episode, not {describe_value(mode)}")],
        )
    problem = _checks.aware_datetime(now)
    if problem is not None:
        raise ValidationError("reengage", [FieldError("now", *problem)])
    _checks.require_callback(ids, ("kind",), function="reengage", path="ids")
    if company is not None and _checks.text_problem(company, 255) is not None:
        raise ValidationError(
            "reengage", [FieldError("company", "type", "must be a company name or None")]
        )
    if isinstance(signal, Activity) and signal.subject_id != contact.id:
        raise ValidationError(
            "reengage",
            [FieldError("signal", "other_subject", f"the activity is not about {contact.id!r}")],
        )
    reason, signal_id = _signal_reason(signal)
    episode = _episode(contact.id, _check_activities(history, "reengage"))
    previous = contact.lifecycle_stage
    lead: Lead | None = None
    if mode == "lead":
        lead = Lead(
            id=ids("lead"),
            first_name=contact.first_name,
            last_name=contact.last_name,
            company=company,
            is_person=company is None,
            title=contact.title,
            email=contact.email,
            phone=contact.phone,
            mobile=contact.mobile,
            owner_id=contact.owner_id,
            do_not_call=contact.do_not_call,
            email_opt_out=contact.email_opt_out,
            lifecycle_stage=LifecycleStage.LEAD,
            description=reason,
            custom={REENGAGED_CONTACT_FIELD: contact.id, "reengagement_episode": episode},
            created_at=now,
            updated_at=now,
        )
    properties: dict[str, str | int | None] = {
        "episode": episode,
        "previous_stage": previous.value if previous is not None else None,
        "reason": reason,
        "mode": mode,
    }
    if lead is not None:
        properties["lead_id"] = lead.id
    if signal_id is not None:
        properties["signal_activity_id"] = signal_id
    activity = Activity(
        id=ids("activity"),
        subject_id=contact.id,
        kind=EPISODE_ACTIVITY,
        occurred_at=now,
        properties=properties,
    )
    return Reengagement(
        contact_id=contact.id,
        mode=mode,
        episode=episode,
        previous_stage=previous,
        lead=lead,
        activity=activity,
        reason=reason,
    )
