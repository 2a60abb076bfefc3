"""Lead statuses and processes, opportunity stages, and the lifecycle stage.

A lead's ``status`` is a name in its :class:`LeadProcess` (Salesforce's LeadStatus picklist:
several statuses may be converted ones, one is the default). ``LifecycleStage`` is HubSpot's
lifecycle, which only moves forward unless regressed on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value

__all__ = [
    "DEFAULT_LEAD_PROCESS",
    "DEFAULT_OPPORTUNITY_PROCESS",
    "LeadProcess",
    "LeadStatus",
    "LifecycleStage",
    "OpportunityProcess",
    "OpportunityStage",
    "Transition",
]

STATUS_LENGTH: Final = 40


class LifecycleStage(Enum):
    """Where a person stands in the relationship, after HubSpot's lifecycle stages.

    The stages are ordered ``subscriber < lead < marketing_qualified < sales_qualified <
    opportunity < customer < evangelist``; ``other`` stands outside the order.

    >>> LifecycleStage.LEAD.rank < LifecycleStage.CUSTOMER.rank
    True
    >>> LifecycleStage.OTHER.rank is None
    True
    """

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MARKETING_QUALIFIED = "marketing_qualified"
    SALES_QUALIFIED = "sales_qualified"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"

    @property
    def rank(self) -> int | None:
        """The stage's position in the order (0 = subscriber), ``None`` for ``other``."""
        return _RANKS[self]


_RANKS: Final[dict[LifecycleStage, int | None]] = {
    stage: (None if stage is LifecycleStage.OTHER else i) for i, stage in enumerate(LifecycleStage)
}


def _status_name_problems(name: object, path: str) -> list[FieldError]:
    problem = _checks.text_problem(name, STATUS_LENGTH)
    if problem is None:
        return []
    return [FieldError(path, problem[0], f"{problem[1]} (got {describe_value(name)})")]


@attrs.frozen
class LeadStatus:
    """One value of the lead status picklist (Salesforce's ``LeadStatus`` object).

    Args:
        name: the status name stored on the lead (``Lead.status``).
        is_converted: a lead reaches this status only by conversion.
        is_default: new leads start here; a process has exactly one default.
        is_closed: the lead is no longer worked.
        order: sort order in pick lists and funnels.
    """

    name: str
    is_converted: bool = False
    is_default: bool = False
    is_closed: bool = False
    order: int = 0

    def __attrs_post_init__(self) -> None:
        errors = _status_name_problems(self.name, "name")
        errors += [
            FieldError(flag, "type", "must be True or False")
            for flag in ("is_converted", "is_default", "is_closed")
            if not isinstance(getattr(self, flag), bool)
        ]
        if not isinstance(self.order, int) or isinstance(self.order, bool):
            errors.append(FieldError("order", "type", "must be an integer"))
        if errors:
            raise ValidationError("LeadStatus", errors)


def _as_frozenset(values: Iterable[str]) -> frozenset[str]:
    items = _checks.as_tuple(values)
    try:
        return frozenset(items)
    except TypeError:  # an unhashable item: the check names it
        return items  # type: ignore[return-value]


@attrs.frozen
class Transition:
    """The statuses a lead may move to from *source*."""

    source: str
    targets: frozenset[str] = attrs.field(converter=_as_frozenset)

    def __attrs_post_init__(self) -> None:
        errors = _status_name_problems(self.source, "source")
        errors += [
            FieldError("targets", "type", f"must be status names, not {describe_value(t)}")
            for t in self.targets
            if not isinstance(t, str)
        ]
        if errors:
            raise ValidationError("Transition", errors)


def _process_problems(name: object, items: object, cls: type, path: str) -> list[FieldError]:
    errors = _status_name_problems(name, "name")
    if not isinstance(items, tuple) or not all(isinstance(item, cls) for item in items):
        errors.append(FieldError(path, "type", f"must hold {cls.__name__} values only"))
    return errors


def _statuses(values: Iterable[LeadStatus]) -> tuple[LeadStatus, ...]:
    return _checks.as_tuple(values)


def _transitions(values: object) -> object:
    return None if values is None else _checks.as_tuple(values)


@attrs.frozen
class LeadProcess:
    """The ordered statuses a lead goes through, and which moves between them are allowed.

    With ``transitions=None`` any move between statuses is allowed (Salesforce's
    behaviour); otherwise a lead may move from a status only to the targets listed for it.
    Moving *into* a converted status is never a transition: only conversion does that.

    >>> DEFAULT_LEAD_PROCESS.default.name
    'Open - Not Contacted'
    >>> [s.name for s in DEFAULT_LEAD_PROCESS.converted_statuses]
    ['Closed - Converted']
    """

    name: str
    statuses: tuple[LeadStatus, ...] = attrs.field(converter=_statuses)
    transitions: tuple[Transition, ...] | None = attrs.field(default=None, converter=_transitions)

    def __attrs_post_init__(self) -> None:
        errors = _process_problems(self.name, self.statuses, LeadStatus, "statuses")
        transitions = self.transitions
        if transitions is not None and (
            not isinstance(transitions, tuple)
            or not all(isinstance(t, Transition) for t in transitions)
        ):
            errors.append(FieldError("transitions", "type", "must be a tuple of Transition values"))
        if errors:
            raise ValidationError(f"LeadProcess {describe_value(self.name)}", errors)
        names = [s.name for s in self.statuses]
        if len(set(names)) != len(names):
            errors.append(FieldError("statuses", "duplicate", "status names must be unique"))
        defaults = [s.name for s in self.statuses if s.is_default]
        if len(defaults) != 1:
            errors.append(
                FieldError(
                    "statuses", "default", f"needs exactly one default status, has {len(defaults)}"
                )
            )
        if not any(s.is_converted for s in self.statuses):
            errors.append(
                FieldError("statuses", "converted", "needs at least one converted status")
            )
        errors.extend(
            FieldError("statuses", "default", f"the default status {s.name!r} cannot be converted")
            for s in self.statuses
            if s.is_default and s.is_converted
        )
        known = set(names)
        errors.extend(
            FieldError("transitions", "unknown_status", f"{describe_value(name)} is not a status")
            for t in self.transitions or ()
            for name in (t.source, *sorted(t.targets))
            if name not in known
        )
        if errors:
            raise ValidationError(f"LeadProcess {describe_value(self.name)}", errors)

    @property
    def default(self) -> LeadStatus:
        """The status new leads start in."""
        return next(s for s in self.statuses if s.is_default)

    @property
    def converted_statuses(self) -> tuple[LeadStatus, ...]:
        """The statuses a conversion may set."""
        return tuple(s for s in self.statuses if s.is_converted)

    def ordered(self) -> tuple[LeadStatus, ...]:
        """The statuses by their ``order`` (ties keep their listed order)."""
        return tuple(sorted(self.statuses, key=lambda s: s.order))

    def get(self, name: str) -> LeadStatus | None:
        """The status called *name*, or ``None``."""
        if not isinstance(name, str):
            return None
        return next((s for s in self.statuses if s.name == name), None)

    def status(self, name: str) -> LeadStatus:
        """The status called *name*.

        Raises:
            ValidationError: code ``unknown_status`` when the process has no such status.
        """
        found = self.get(name)
        if found is None:
            choices = ", ".join(s.name for s in self.statuses)
            raise ValidationError(
                f"LeadProcess {describe_value(self.name)}",
                [
                    FieldError(
                        "status",
                        "unknown_status",
                        f"{describe_value(name)} is not a status of this process ({choices})",
                    )
                ],
            )
        return found

    def allows(self, source: str, target: str) -> bool:
        """Whether a lead in *source* may move to *target* without conversion."""
        target_status = self.get(target)
        if self.get(source) is None or target_status is None or target_status.is_converted:
            return False
        if source == target or self.transitions is None:
            return True
        return any(t.source == source and target in t.targets for t in self.transitions)


DEFAULT_LEAD_PROCESS: Final = LeadProcess(
    name="Default Lead Process",
    statuses=(
        LeadStatus("Open - Not Contacted", is_default=True, order=1),
        LeadStatus("Working - Contacted", order=2),
        LeadStatus("Closed - Converted", is_converted=True, is_closed=True, order=3),
        LeadStatus("Closed - Not Converted", is_closed=True, order=4),
    ),
)
"""Salesforce's four standard lead statuses; any move between unconverted ones is allowed."""


@attrs.frozen
class OpportunityStage:
    """One opportunity stage with its default probability (0–100) and closed/won flags."""

    name: str
    probability: int
    is_closed: bool = False
    is_won: bool = False
    order: int = 0

    def __attrs_post_init__(self) -> None:
        errors = _status_name_problems(self.name, "name")
        problem = _checks.integer(0, 100)(self.probability)
        if problem is not None:
            errors.append(FieldError("probability", problem[0], problem[1]))
        flags = [f for f in ("is_closed", "is_won") if not isinstance(getattr(self, f), bool)]
        errors += [FieldError(f, "type", "must be True or False") for f in flags]
        problem = _checks.integer(-(10**6), 10**6)(self.order)
        if problem is not None:
            errors.append(FieldError("order", problem[0], problem[1]))
        if not flags and self.is_won and not self.is_closed:
            errors.append(FieldError("is_won", "not_closed", "a won stage must be closed"))
        if errors:
            raise ValidationError("OpportunityStage", errors)


def _stages(values: Iterable[OpportunityStage]) -> tuple[OpportunityStage, ...]:
    return _checks.as_tuple(values)


@attrs.frozen
class OpportunityProcess:
    """The ordered stages of a sales process.

    >>> DEFAULT_OPPORTUNITY_PROCESS.stage("Negotiation/Review").probability
    90
    """

    name: str
    stages: tuple[OpportunityStage, ...] = attrs.field(converter=_stages)

    def __attrs_post_init__(self) -> None:
        errors = _process_problems(self.name, self.stages, OpportunityStage, "stages")
        if errors:
            raise ValidationError(f"OpportunityProcess {describe_value(self.name)}", errors)
        names = [s.name for s in self.stages]
        if not names:
            errors.append(FieldError("stages", "empty", "needs at least one stage"))
        if len(set(names)) != len(names):
            errors.append(FieldError("stages", "duplicate", "stage names must be unique"))
        if errors:
            raise ValidationError(f"OpportunityProcess {describe_value(self.name)}", errors)

    @property
    def default(self) -> OpportunityStage:
        """The first open stage (where new opportunities start)."""
        return next((s for s in self.stages if not s.is_closed), self.stages[0])

    def stage(self, name: str) -> OpportunityStage:
        """The stage called *name*.

        Raises:
            ValidationError: code ``unknown_stage`` when the process has no such stage.
        """
        for s in self.stages:
            if isinstance(name, str) and s.name == name:
                return s
        raise ValidationError(
            f"OpportunityProcess {describe_value(self.name)}",
            [
                FieldError(
                    "stage",
                    "unknown_stage",
                    f"{describe_value(name)} is not a stage of this process",
                )
            ],
        )

    def probability(self, name: str) -> Decimal:
        """The default probability of stage *name* as a fraction in [0, 1]."""
        return Decimal(self.stage(name).probability) / 100


DEFAULT_OPPORTUNITY_PROCESS: Final = OpportunityProcess(
    name="Default Sales Process",
    stages=(
        OpportunityStage("Prospecting", 10, order=1),
        OpportunityStage("Qualification", 10, order=2),
        OpportunityStage("Needs Analysis", 20, order=3),
        OpportunityStage("Value Proposition", 50, order=4),
        OpportunityStage("Id. Decision Makers", 60, order=5),
        OpportunityStage("Perception Analysis", 70, order=6),
        OpportunityStage("Proposal/Price Quote", 75, order=7),
        OpportunityStage("Negotiation/Review", 90, order=8),
        OpportunityStage("Closed Won", 100, is_closed=True, is_won=True, order=9),
        OpportunityStage("Closed Lost", 0, is_closed=True, order=10),
    ),
)
"""Salesforce's standard opportunity stages with their default probabilities."""
