"""Lead qualification: requirements as data, and a decision that says why.

A :class:`QualificationPolicy` lists requirements (:class:`Requirement`: a criterion and a weight),
the names that are *required*, a minimum weighted score, optional *disqualifiers* (a met
disqualifier closes the lead: a competitor, a student) and an optional minimum lead score.
:func:`qualify` returns a :class:`Qualification`: qualified or not, which requirements were
met and unmet, the reasons in words, and the status and lifecycle stage it suggests —
qualified → ``Working - Contacted`` / ``sales_qualified``, disqualified → ``Closed - Not
Converted``, otherwise nothing changes (the lead is nurtured). :func:`bant_policy` builds
the classic BANT policy (budget, authority, need, timeline) over standard and custom fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.domain.status import STATUS_LENGTH, LifecycleStage
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _raise
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import Any as AnyOf
from leadmodel.rules.criteria import Condition, Criterion
from leadmodel.rules.scoring import (
    Score,
    _shown,  # the scores' own wording, never rounded
)

__all__ = [
    "BANT_POLICY",
    "Qualification",
    "QualificationPolicy",
    "Requirement",
    "bant_policy",
    "qualify",
]

Decision = Literal["qualified", "nurture", "disqualified"]


def _number_problem(value: object, *, minimum: float | None = None) -> _checks.Problem | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "type", f"must be a number, not {type(value).__name__}"
    if not _checks.is_finite(value):
        return "out_of_range", "must be finite"
    if minimum is not None and value < minimum:
        return "out_of_range", f"must be at least {minimum}"
    return None


@attrs.frozen
class Requirement:
    """One thing a qualified lead has: ``Requirement("budget", Condition(...), 2)``.

    *description* is how reasons speak of it (default: its name).

    >>> Requirement("budget", Condition("custom.budget", "gt", 0)).weight
    1
    """

    name: str
    criterion: Criterion
    weight: float = 1
    description: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _raise(
            "Requirement",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("criterion", _criterion_problem(self.criterion)),
                ("weight", _number_problem(self.weight, minimum=0)),
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
        """The requirement in words."""
        return self.description or self.name


def _policy_problems(policy: QualificationPolicy) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("requirements", "disqualifiers"):
        items = getattr(policy, name)
        if not isinstance(items, tuple) or not all(isinstance(r, Requirement) for r in items):
            errors.append(FieldError(name, "type", "must be a sequence of Requirements"))
    if errors:
        return errors
    names = [r.name for r in (*policy.requirements, *policy.disqualifiers)]
    errors += [
        FieldError("requirements", "duplicate", f"{name!r} names two requirements")
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    if not isinstance(policy.required, tuple) or not all(
        isinstance(n, str) for n in policy.required
    ):
        errors.append(FieldError("required", "type", "must be a sequence of requirement names"))
    else:
        known = {r.name for r in policy.requirements}
        errors += [
            FieldError("required", "unknown_requirement", f"no requirement named {name!r}")
            for name in policy.required
            if name not in known
        ]
    total = sum(r.weight for r in policy.requirements)
    if policy.min_score is not None:
        problem = _number_problem(policy.min_score, minimum=0)
        if problem is not None:
            errors.append(FieldError("min_score", *problem))
        elif policy.min_score > total:
            errors.append(
                FieldError(
                    "min_score",
                    "unreachable",
                    f"{policy.min_score:g} is more than all requirements weigh ({total:g})",
                )
            )
    if policy.min_lead_score is not None:
        problem = _number_problem(policy.min_lead_score)
        if problem is not None:
            errors.append(FieldError("min_lead_score", *problem))
    for name in ("qualified_status", "disqualified_status"):
        problem = _checks.text_problem(getattr(policy, name), STATUS_LENGTH)
        if problem is not None:
            errors.append(FieldError(name, *problem))
    if not isinstance(policy.qualified_stage, LifecycleStage | None):
        errors.append(FieldError("qualified_stage", "type", "must be a LifecycleStage or None"))
    if policy.close_unqualified is not True and policy.close_unqualified is not False:
        errors.append(FieldError("close_unqualified", "type", "must be True or False"))
    if (problem := _checks.text_problem(policy.name, 80)) is not None:
        errors.append(FieldError("name", *problem))
    return errors


@attrs.frozen(cache_hash=True)
class QualificationPolicy:
    """What a qualified lead must have, as data.

    Args:
        requirements: what counts towards qualification, each with a weight.
        min_score: the weight of met requirements needed (default: all of them).
        required: names of requirements that must be met whatever the score.
        disqualifiers: requirements that, when met, disqualify the lead outright.
        min_lead_score: the lead score (a :class:`~leadmodel.Score` or a number passed to
            :func:`qualify`) needed too.
        qualified_status: the status a qualified lead should move to.
        qualified_stage: the lifecycle stage a qualified lead should move to.
        disqualified_status: what a disqualified lead should move to.
        close_unqualified: disqualify every lead that does not qualify (a strict gate),
            instead of leaving it to nurture.
        name: the policy's name.

    >>> policy = QualificationPolicy(
    ...     requirements=[
    ...         Requirement("budget", Condition("custom.budget", "gt", 0)),
    ...         Requirement("need", Condition("custom.need", "is_not_blank")),
    ...     ],
    ...     min_score=1,
    ...     required=["need"],
    ... )
    >>> policy.required
    ('need',)
    """

    requirements: tuple[Requirement, ...] = attrs.field(converter=_tuple)
    min_score: float | None = None
    required: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    disqualifiers: tuple[Requirement, ...] = attrs.field(default=(), converter=_tuple)
    min_lead_score: float | None = None
    qualified_status: str = "Working - Contacted"
    qualified_stage: LifecycleStage | None = LifecycleStage.SALES_QUALIFIED
    disqualified_status: str = "Closed - Not Converted"
    close_unqualified: bool = False
    name: str = "qualification"

    def __attrs_post_init__(self) -> None:
        errors = _policy_problems(self)
        if errors:
            raise ValidationError(f"QualificationPolicy {describe_value(self.name)}", errors)

    @property
    def threshold(self) -> float:
        """The weight of met requirements needed (*min_score*, or every requirement)."""
        if self.min_score is not None:
            return self.min_score
        return sum(r.weight for r in self.requirements)

    @property
    def fields_read(self) -> tuple[str, ...]:
        """The field paths the policy reads, each once, in the order its rules name them.

        Requirements first, then disqualifiers; the decision reads no other field (the
        lead score, for *min_lead_score*, is passed to :func:`qualify`). The suggestions
        beside it also look at the lead's ``status`` and ``lifecycle_stage``, only to leave
        out a move to where the lead already is (or backwards).

        >>> BANT_POLICY.fields_read
        ('custom.budget', 'title', 'custom.need', 'custom.timeline')
        """
        paths = (
            condition.field
            for rule in (*self.requirements, *self.disqualifiers)
            for condition in _criteria._conditions(rule.criterion)  # noqa: SLF001 - the package's own walk
        )
        return tuple(dict.fromkeys(paths))

    def compile(self) -> Callable[..., Qualification]:
        """A function ``(lead, *, score=None) -> Qualification`` for many leads."""
        tests = [(r, _criteria.compile(r.criterion)) for r in self.requirements]
        knockouts = [(r, _criteria.compile(r.criterion)) for r in self.disqualifiers]
        fields = self.fields_read

        def run(lead: object, *, score: Score | float | None = None) -> Qualification:
            return _decide(self, tests, knockouts, lead, score, fields=fields)

        return run


@attrs.frozen
class Qualification:
    """The decision of :func:`qualify`, with its reasons.

    *decision* is ``qualified``, ``nurture`` (not yet: keep working it) or
    ``disqualified``; *score* is the weight of the met requirements. The suggestions are
    ``None`` when nothing should change (the lead already has that status, or the stage
    would move backwards). *fields_read* names every field path the policy read to decide
    (BANT reads ``custom.budget``, ``title``, ``custom.need`` and ``custom.timeline``).
    """

    _repr_html_ = result_html

    qualified: bool
    met: tuple[str, ...]
    unmet: tuple[str, ...]
    reasons: tuple[str, ...]
    suggested_status: str | None
    suggested_stage: LifecycleStage | None
    decision: Decision = "nurture"
    score: float = 0
    disqualified_by: tuple[str, ...] = ()
    fields_read: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _lead_score(score: object) -> float | None:
    if score is None:
        return None
    if isinstance(score, Score):
        return score.total
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not _checks.is_finite(score)
    ):
        raise ValidationError(
            "qualify",
            [
                FieldError(
                    "score", "type", f"must be a Score or a number, not {describe_value(score)}"
                )
            ],
        )
    return score


def _decide(
    policy: QualificationPolicy,
    tests: Sequence[tuple[Requirement, Callable[..., bool]]],
    knockouts: Sequence[tuple[Requirement, Callable[..., bool]]],
    lead: object,
    score: object,
    *,
    fields: tuple[str, ...] = (),
) -> Qualification:
    if not isinstance(lead, Lead) and not isinstance(lead, dict):
        raise ValidationError(
            "qualify",
            [FieldError("lead", "type", f"must be a Lead or a mapping, not {type(lead).__name__}")],
        )
    lead_score = _lead_score(score)
    if policy.min_lead_score is not None and lead_score is None:
        raise ValidationError(
            "qualify",
            [
                FieldError(
                    "score",
                    "required",
                    f"policy {policy.name!r} needs the lead score (min_lead_score)",
                )
            ],
        )
    met: list[str] = []
    unmet: list[str] = []
    reasons: list[str] = []
    points: float = 0
    for requirement, test in tests:
        if test(lead):
            met.append(requirement.name)
            points += requirement.weight
            reasons.append(f"met {requirement.label} (+{requirement.weight:g})")
        else:
            unmet.append(requirement.name)
            reasons.append(f"missing {requirement.label}")
    knocked = [r.name for r, test in knockouts if test(lead)]
    reasons += [f"disqualified: {r.label}" for r, _ in knockouts if r.name in knocked]
    missing_required = [name for name in policy.required if name in unmet]
    reasons += [f"{name} is required" for name in missing_required]
    enough = points >= policy.threshold
    if not enough:
        reasons.append(f"requirements weigh {points:g} of the {policy.threshold:g} needed")
    scored = True
    if policy.min_lead_score is not None and lead_score is not None:
        scored = lead_score >= policy.min_lead_score
        reasons.append(
            f"lead score {_shown(lead_score)} {'reaches' if scored else 'is below'} "
            f"{_shown(policy.min_lead_score)}"
        )
    qualified = not knocked and not missing_required and enough and scored
    decision: Decision
    if qualified:
        decision = "qualified"
    elif knocked or policy.close_unqualified:
        decision = "disqualified"
    else:
        decision = "nurture"
    status, stage = _suggestions(policy, decision, lead)
    return Qualification(
        qualified,
        tuple(met),
        tuple(unmet),
        tuple(reasons),
        status,
        stage,
        decision,
        points,
        tuple(knocked),
        fields,
    )


def _suggestions(
    policy: QualificationPolicy, decision: Decision, lead: object
) -> tuple[str | None, LifecycleStage | None]:
    if decision == "nurture" or (isinstance(lead, Lead) and lead.converted is not None):
        return None, None
    current_status = lead.status if isinstance(lead, Lead) else lead.get("status")  # type: ignore[attr-defined]
    if decision == "disqualified":
        target = policy.disqualified_status
        return (None if current_status == target else target), None
    status = None if current_status == policy.qualified_status else policy.qualified_status
    stage = policy.qualified_stage
    current = lead.lifecycle_stage if isinstance(lead, Lead) else None
    if (
        stage is not None
        and current is not None
        and (current.rank is None or stage.rank is None or current.rank >= stage.rank)
    ):
        stage = None  # stages only move forward
    return status, stage


def qualify(
    lead: Lead, policy: QualificationPolicy, *, score: Score | float | None = None
) -> Qualification:
    """Decide whether *lead* is qualified under *policy*, and why.

    *score* is the lead's score (a :class:`~leadmodel.Score` or its total), needed when
    the policy has a *min_lead_score*.

    >>> from leadmodel import Lead
    >>> lead = Lead(
    ...     id="L1",
    ...     last_name="Ng",
    ...     company="Acme",
    ...     title="VP Sales",
    ...     custom={"budget": 50000, "need": "CRM", "timeline": "Q3"},
    ... )
    >>> result = qualify(lead, BANT_POLICY)
    >>> result.qualified, result.suggested_status, result.suggested_stage.value
    (True, 'Working - Contacted', 'sales_qualified')
    >>> result.fields_read
    ('custom.budget', 'title', 'custom.need', 'custom.timeline')

    Raises:
        ValidationError: *lead* is not a lead, *policy* not a policy, *score* not a score,
            or the policy needs a score and none is given.
    """
    _checks.require_instance(
        policy, QualificationPolicy, "a QualificationPolicy", function="qualify", path="policy"
    )
    return policy.compile()(lead, score=score)


_AUTHORITY_WORDS: Final = (
    "chief",
    "vp",
    "vice president",
    "president",
    "director",
    "head of",
    "owner",
    "founder",
    "partner",
)
_AUTHORITY_TITLES: Final = ("CEO", "CFO", "CTO", "COO", "CMO", "CIO", "CRO", "Managing Director")


_BUDGET: Final = Condition("custom.budget", "gt", 0)
_AUTHORITY: Final = AnyOf(
    [
        Condition("title", "in", _AUTHORITY_TITLES),
        *(Condition("title", "contains", word) for word in _AUTHORITY_WORDS),
    ]
)
_NEED: Final = Condition("custom.need", "is_not_blank")
_TIMELINE: Final = Condition("custom.timeline", "is_not_blank")


def bant_policy(
    *,
    budget: Criterion = _BUDGET,
    authority: Criterion = _AUTHORITY,
    need: Criterion = _NEED,
    timeline: Criterion = _TIMELINE,
    min_met: int = 3,
    required: Sequence[str] = (),
    disqualifiers: Sequence[Requirement] = (),
) -> QualificationPolicy:
    """The BANT policy (budget, authority, need, timeline), each requirement weighing 1.

    The defaults read ``custom.budget`` (more than zero), the title (a decision maker:
    C-level, VP, director, head of, owner, founder), ``custom.need`` and
    ``custom.timeline``; pass your own criteria for your fields. *min_met* of the four
    must hold, *required* ones always.

    >>> [r.name for r in bant_policy(min_met=4).requirements]
    ['budget', 'authority', 'need', 'timeline']
    """
    return QualificationPolicy(
        requirements=[
            Requirement("budget", budget, description="a budget"),
            Requirement("authority", authority, description="a decision maker"),
            Requirement("need", need, description="a stated need"),
            Requirement("timeline", timeline, description="a buying timeline"),
        ],
        min_score=min_met,
        required=required,
        disqualifiers=disqualifiers,
        name="BANT",
    )


BANT_POLICY: Final = bant_policy()
"""BANT with three of the four requirements met (see :func:`bant_policy`)."""
