"""Rule-based lead scoring: HubSpot's fit and engagement scores, as data.

A :class:`ScoringModel` holds

- *fit rules* (:class:`FitRule`): a criterion over the lead's fields and the points it adds
  (or takes away). They are re-evaluated on every call, so points vanish as soon as the
  criterion stops holding, as HubSpot's score properties do;
- *engagement rules* (:class:`EngagementRule`): points per activity of a kind (optionally
  only activities meeting a criterion over ``kind`` and ``properties.<name>``), with an
  optional cap for the rule and per time window, and a :class:`Decay` (none, linear to zero
  over N days, a half-life, or only the last N days);
- *groups* (:class:`ScoreGroup`) with their own caps, a total cap, and whether a total
  may be negative (otherwise it is floored at zero);
- rating *bands* (:class:`Band`): ``Hot``/``Warm``/``Cold`` (the lead's ``rating``
  picklist) by thresholds, or names of your choosing;
- a *grade matrix* (:class:`GradeMatrix`): HubSpot's fit × engagement grades beside the
  single score, a letter for fit (``A``–``D``) and a digit for engagement (``1``–``4``),
  so ``A1`` is a lead that fits and engages, ``A4`` one that fits but is quiet.

:func:`score` returns a :class:`Score` whose contributions say what each rule added after
its decay and caps, and whose adjustments say what the group and total caps took away.
:func:`compile` (or :meth:`ScoringModel.compile`) turns a model into one generated function
for scoring many leads: ``.totals(leads, ...)`` gives the totals only, ``.score(lead, ...)``
the explained score; both agree with :func:`score` exactly.

The arithmetic, fixed so that every path gives the same number: an engagement rule's
occurrences are summed with :func:`math.fsum` (so their order never matters), each time
window and then the rule capped; rules then add into their group (or the fit or engagement
remainder) in model order; groups are capped; fit and engagement are the sums of their
groups, the total their sum, capped and floored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema
from leadmodel.domain.lead import Lead
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules._common import raise_problems as _validate
from leadmodel.rules._common import to_tuple as _tuple
from leadmodel.rules.criteria import Criterion, check_criterion

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_GRADES",
    "NO_DECAY",
    "Adjustment",
    "Band",
    "CompiledScoringModel",
    "Contribution",
    "Decay",
    "EngagementRule",
    "FitRule",
    "GradeMatrix",
    "Score",
    "ScoreGroup",
    "ScoringModel",
    "TimeWindow",
    "compile",
    "score",
]

DecayMode = Literal["none", "linear", "half_life", "last"]
_DECAY_MODES: Final = ("none", "linear", "half_life", "last")
_DAY: Final = 86400.0
# Time windows are consecutive blocks of N days counted from Monday 5 January 1970 UTC, so
# a 1-day window is a UTC calendar day and a 7-day window an ISO week. Anchoring them to a
# fixed date (not to "now") keeps which events share a window fixed as time passes.
_WINDOW_EPOCH: Final = datetime(1970, 1, 5, tzinfo=UTC).timestamp()
_MAX_POINTS: Final = 1e9


def _points_problem(value: object, *, positive: bool = False) -> _checks.Problem | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "type", f"must be a number (int or float), not {type(value).__name__}"
    if not _checks.is_finite(value) or abs(value) > _MAX_POINTS:
        return "out_of_range", f"must be a finite number within ±{_MAX_POINTS:g}"
    if positive and value <= 0:
        return "out_of_range", "must be greater than zero"
    return None


def _optional_cap(value: object) -> _checks.Problem | None:
    return None if value is None else _points_problem(value, positive=True)


def _optional_name(value: object) -> _checks.Problem | None:
    return None if value is None else _checks.text_problem(value, 80)


def _days_problem(value: object) -> _checks.Problem | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "type", f"must be a whole number of days, not {type(value).__name__}"
    if not 1 <= value <= 36_500:
        return "out_of_range", "must be between 1 and 36500 days"
    return None


@attrs.frozen
class Decay:
    """How an engagement rule's points fade with the age of each activity.

    - ``none``: full points forever;
    - ``linear``: full points when it happens, falling in a straight line to zero after
      *days* days;
    - ``half_life``: half the points after *days* days, a quarter after twice that;
    - ``last``: full points for activities of the last *days* days, none before (HubSpot's
      "time frame", an alternative to decay).

    >>> Decay.linear(30).weight(15)
    0.5
    >>> Decay.half_life(7).weight(14)
    0.25
    """

    mode: DecayMode = "none"
    days: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode not in _DECAY_MODES:
            _validate(
                "Decay",
                [("mode", ("invalid", f"must be one of {', '.join(_DECAY_MODES)}"))],
            )
        if self.mode == "none":
            problem = None if self.days is None else ("unexpected", "no decay takes no days")
        else:
            problem = _days_problem(self.days)
        _validate("Decay", [("days", problem)])

    @classmethod
    def linear(cls, days: int) -> Decay:
        """Points fall in a straight line to zero over *days* days."""
        return cls("linear", days)

    @classmethod
    def half_life(cls, days: int) -> Decay:
        """Points halve every *days* days."""
        return cls("half_life", days)

    @classmethod
    def last(cls, days: int) -> Decay:
        """Only activities of the last *days* days count, at full points."""
        return cls("last", days)

    def weight(self, age_days: float) -> float:
        """The share of its points an activity *age_days* old still gives (0 to 1)."""
        return _weight(self.mode, self.days or 1, age_days)


def _weight(mode: str, days: int, age: float) -> float:
    if mode == "none":
        return 1.0
    if mode == "linear":
        return max(0.0, 1.0 - age / days)
    if mode == "half_life":
        return float(0.5 ** (age / days))
    return 1.0 if age < days else 0.0


NO_DECAY: Final = Decay()
"""Full points forever."""


@attrs.frozen
class TimeWindow:
    """At most *cap* points from one rule within each block of *days* days.

    Blocks are counted from Monday 5 January 1970 UTC: ``TimeWindow(1, 10)`` is at most 10
    points per UTC day, ``TimeWindow(7, 20)`` at most 20 per ISO week.
    """

    days: int
    cap: float

    def __attrs_post_init__(self) -> None:
        _validate(
            "TimeWindow",
            [("days", _days_problem(self.days)), ("cap", _points_problem(self.cap, positive=True))],
        )


@attrs.frozen
class FitRule:
    """*points* while the lead meets *criterion* (HubSpot's property-based fit rule).

    >>> from leadmodel import Condition
    >>> FitRule("big company", Condition("employees", "gte", 500), 15).points
    15
    """

    name: str
    criterion: Criterion
    points: float
    group: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _validate(
            "FitRule",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("criterion", _criterion_problem(self.criterion)),
                ("points", _points_problem(self.points)),
                ("group", _optional_name(self.group)),
            ],
        )


@attrs.frozen
class EngagementRule:
    """*points* for each activity of kind *activity* (HubSpot's event-based rule).

    Args:
        name: the rule's name, as contributions report it.
        activity: the activity kind counted (``"email_opened"``, ``"page_view"``, …).
        points: points per occurrence (negative to take points away).
        criterion: what the activity must meet too, over ``kind`` and
            ``properties.<name>`` (``Condition("properties.url", "contains", "/pricing")``).
        cap: at most this many points (in absolute value) from the rule in all.
        window: at most so many points per block of days (:class:`TimeWindow`).
        decay: how points fade with the activity's age (:class:`Decay`).
        group: the :class:`ScoreGroup` the points count towards.

    >>> from leadmodel import Condition
    >>> rule = EngagementRule("opens", "email_opened", 2, cap=10, decay=Decay.linear(90))
    >>> rule.decay.days
    90
    """

    name: str
    activity: str
    points: float
    criterion: Criterion | None = attrs.field(default=None, kw_only=True)
    cap: float | None = attrs.field(default=None, kw_only=True)
    window: TimeWindow | None = attrs.field(default=None, kw_only=True)
    decay: Decay = attrs.field(default=NO_DECAY, kw_only=True)
    group: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        window_problem = (
            None
            if self.window is None or isinstance(self.window, TimeWindow)
            else ("type", f"must be a TimeWindow, not {type(self.window).__name__}")
        )
        decay_problem = (
            None
            if isinstance(self.decay, Decay)
            else ("type", f"must be a Decay, not {type(self.decay).__name__}")
        )
        _validate(
            "EngagementRule",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("activity", _checks.text_problem(self.activity, 80)),
                ("points", _points_problem(self.points)),
                ("criterion", _criterion_problem(self.criterion, optional=True)),
                ("cap", _optional_cap(self.cap)),
                ("window", window_problem),
                ("decay", decay_problem),
                ("group", _optional_name(self.group)),
            ],
        )


@attrs.frozen
class ScoreGroup:
    """A named group of rules whose points together are capped at *cap*.

    HubSpot's group limit; ``None`` means uncapped.
    """

    name: str
    cap: float | None = None

    def __attrs_post_init__(self) -> None:
        _validate(
            "ScoreGroup",
            [("name", _checks.text_problem(self.name, 80)), ("cap", _optional_cap(self.cap))],
        )


@attrs.frozen
class Band:
    """A rating: totals of at least *minimum* get *name*; ``None`` catches every total."""

    name: str
    minimum: float | None = None

    def __attrs_post_init__(self) -> None:
        _validate(
            "Band",
            [
                ("name", _checks.text_problem(self.name, 40)),
                ("minimum", None if self.minimum is None else _points_problem(self.minimum)),
            ],
        )


DEFAULT_BANDS: Final = (Band("Hot", 70), Band("Warm", 40), Band("Cold"))
"""``Hot`` from 70 points, ``Warm`` from 40, ``Cold`` below: the values of the lead's
``rating`` picklist, so a band can be written to ``Lead.rating`` as it is."""


def _sorted_bands(values: object) -> object:
    values = _tuple(values)
    if isinstance(values, tuple) and all(isinstance(b, Band) for b in values):
        return tuple(sorted(values, key=lambda b: (b.minimum is None, -(b.minimum or 0), b.name)))
    return values


def _band_problems(bands: object, path: str) -> list[FieldError]:
    """The problems of one axis of bands: Bands, at least one, distinct names and minimums."""
    if not isinstance(bands, tuple) or not all(isinstance(b, Band) for b in bands):
        return [FieldError(path, "type", "must be a sequence of Bands")]
    if not bands:
        return [FieldError(path, "empty", "needs at least one band")]
    errors: list[FieldError] = []
    names = [b.name for b in bands]
    minimums = [b.minimum for b in bands]
    for i, band in enumerate(bands):
        if names.count(band.name) > 1:
            errors.append(
                FieldError(f"{path}[{i}].name", "duplicate", f"{band.name!r} names two bands")
            )
        elif minimums.count(band.minimum) > 1:
            errors.append(
                FieldError(
                    f"{path}[{i}].minimum",
                    "duplicate",
                    f"two bands start at {describe_value(band.minimum)}",
                )
            )
    return errors


def _band_of(bands: Sequence[Band], points: float) -> Band | None:
    for band in bands:
        if band.minimum is None or points >= band.minimum:
            return band
    return None


def _shown(points: float) -> str:
    """*points* in words, never rounded across a band's cut.

    ``{:g}`` alone shows 74.99999 as "75", which reads as graded wrongly, and raises
    ``OverflowError`` on a whole number too large for a float.
    """
    if isinstance(points, int) and abs(points) >= _SHOWN_WHOLE:
        # Beyond every band minimum (at most 1e9): six digits cannot cross a cut.
        return format(Decimal(points).normalize(), ".6g").lower()
    text = f"{points:g}"
    if float(text) == points:
        return text
    return repr(float(points)) if isinstance(points, float) else str(points)


_SHOWN_WHOLE: Final = 10**15


def _reaches(what: str, points: float, band: Band) -> str:
    start = "below every other band" if band.minimum is None else f"from {_shown(band.minimum)}"
    return f"{what} {_shown(points)} is {band.name} ({start})"


@attrs.frozen
class GradeMatrix:
    """HubSpot's fit × engagement grade as data: a letter for fit, a digit for engagement.

    *fit* bands grade the fit score, *engagement* bands the engagement score, each from
    the highest minimum down as :class:`Band` does; the grade is the two names together
    (``"B2"``). ``A1`` fits and engages; ``A4`` fits but is quiet (nurture it); ``D1``
    engages but does not fit. The defaults (:data:`DEFAULT_GRADES`) cut both scores at
    75, 50 and 25 points. A score that an axis has no band for (no catch-all band) has no
    grade.

    >>> matrix = GradeMatrix()
    >>> matrix.grade(60, 10)
    'B4'
    >>> matrix.explain(60, 10)
    'fit 60 is B (from 50); engagement 10 is 4 (below every other band)'
    """

    fit: tuple[Band, ...] = attrs.field(
        default=(Band("A", 75), Band("B", 50), Band("C", 25), Band("D")),
        converter=_sorted_bands,
    )
    engagement: tuple[Band, ...] = attrs.field(
        default=(Band("1", 75), Band("2", 50), Band("3", 25), Band("4")),
        converter=_sorted_bands,
    )

    def __attrs_post_init__(self) -> None:
        errors = _band_problems(self.fit, "fit") + _band_problems(self.engagement, "engagement")
        if errors:
            raise ValidationError("GradeMatrix", errors)

    def _bands(self, fit: float, engagement: float) -> tuple[Band | None, Band | None]:
        for name, value in (("fit", fit), ("engagement", engagement)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not _checks.is_finite(value)
            ):
                raise ValidationError(
                    "GradeMatrix",
                    [
                        FieldError(
                            name, "type", f"must be a finite number, not {describe_value(value)}"
                        )
                    ],
                )
        return _band_of(self.fit, fit), _band_of(self.engagement, engagement)

    def grade(self, fit: float, engagement: float) -> str | None:
        """The grade of a fit and an engagement score (``None`` when an axis has no band).

        Raises:
            ValidationError: a score is not a finite number.
        """
        fit_band, engagement_band = self._bands(fit, engagement)
        if fit_band is None or engagement_band is None:
            return None
        return fit_band.name + engagement_band.name

    def explain(self, fit: float, engagement: float) -> str:
        """Why a fit and an engagement score get their grade, in words.

        Raises:
            ValidationError: a score is not a finite number.
        """
        fit_band, engagement_band = self._bands(fit, engagement)
        parts = [
            _reaches(what, points, band)
            if band is not None
            else f"{what} {_shown(points)} reaches no band (no grade)"
            for what, points, band in (
                ("fit", fit, fit_band),
                ("engagement", engagement, engagement_band),
            )
        ]
        return "; ".join(parts)


DEFAULT_GRADES: Final = GradeMatrix()
"""Fit ``A`` from 75 points, ``B`` from 50, ``C`` from 25, ``D`` below; engagement ``1``
from 75, ``2`` from 50, ``3`` from 25, ``4`` below."""


def _model_problems(model: ScoringModel) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, cls in (("fit", FitRule), ("engagement", EngagementRule)):
        items = getattr(model, name)
        if not isinstance(items, tuple):
            errors.append(FieldError(name, "type", f"must be a sequence of {cls.__name__}s"))
            continue
        errors.extend(
            FieldError(f"{name}[{i}]", "type", f"must be a {cls.__name__}, not {type(r).__name__}")
            for i, r in enumerate(items)
            if not isinstance(r, cls)
        )
    for name, member in (("groups", ScoreGroup), ("bands", Band)):
        items = getattr(model, name)
        if not isinstance(items, tuple) or not all(isinstance(x, member) for x in items):
            errors.append(FieldError(name, "type", f"must be a sequence of {member.__name__}s"))
    if errors:
        return errors
    names: dict[str, str] = {}
    for kind in ("fit", "engagement"):
        for i, rule in enumerate(getattr(model, kind)):
            if rule.name in names:
                errors.append(
                    FieldError(f"{kind}[{i}].name", "duplicate", f"{rule.name!r} names two rules")
                )
            names[rule.name] = kind
    group_kinds: dict[str, set[str]] = {}
    group_names = [g.name for g in model.groups]
    for kind in ("fit", "engagement"):
        for i, rule in enumerate(getattr(model, kind)):
            if rule.group is None:
                continue
            if rule.group not in group_names:
                errors.append(
                    FieldError(
                        f"{kind}[{i}].group", "unknown_group", f"no ScoreGroup {rule.group!r}"
                    )
                )
            group_kinds.setdefault(rule.group, set()).add(kind)
    for i, group in enumerate(model.groups):
        if group_names.count(group.name) > 1:
            errors.append(
                FieldError(f"groups[{i}].name", "duplicate", f"{group.name!r} names two groups")
            )
        if len(group_kinds.get(group.name, ())) > 1:
            errors.append(
                FieldError(
                    f"groups[{i}]",
                    "mixed_group",
                    f"group {group.name!r} holds fit and engagement rules; keep them apart",
                )
            )
    band_names = [b.name for b in model.bands]
    minimums = [b.minimum for b in model.bands]
    for i, band in enumerate(model.bands):
        if band_names.count(band.name) > 1:
            errors.append(
                FieldError(f"bands[{i}].name", "duplicate", f"{band.name!r} names two bands")
            )
        elif minimums.count(band.minimum) > 1:
            errors.append(
                FieldError(
                    f"bands[{i}].minimum",
                    "duplicate",
                    f"two bands start at {describe_value(band.minimum)}",
                )
            )
    if model.grades is not None and not isinstance(model.grades, GradeMatrix):
        errors.append(FieldError("grades", "type", "must be a GradeMatrix or None"))
    if (problem := _optional_cap(model.total_cap)) is not None:
        errors.append(FieldError("total_cap", *problem))
    if model.allow_negative is not True and model.allow_negative is not False:
        errors.append(FieldError("allow_negative", "type", "must be True or False"))
    if (problem := _checks.text_problem(model.name, 80)) is not None:
        errors.append(FieldError("name", *problem))
    return errors


@attrs.frozen(cache_hash=True)
class ScoringModel:
    """A scoring model as data: fit rules, engagement rules, caps and rating bands.

    Rule names are unique; a rule's group must be one of *groups*, and a group holds fit
    rules or engagement rules, not both. *total_cap* caps the total (in absolute value);
    unless *allow_negative*, a negative total is floored at zero. *bands* are sorted from
    the highest minimum down; a total gets the first band it reaches. *grades* grades fit
    and engagement apart (:class:`GradeMatrix`, ``None``: no grade).

    >>> from leadmodel import Condition
    >>> model = ScoringModel(
    ...     fit=[FitRule("web", Condition("source", "eq", "Web"), 10)],
    ...     engagement=[EngagementRule("opens", "email_opened", 5, cap=20)],
    ... )
    >>> [b.name for b in model.bands]
    ['Hot', 'Warm', 'Cold']
    """

    fit: tuple[FitRule, ...] = attrs.field(default=(), converter=_tuple)
    engagement: tuple[EngagementRule, ...] = attrs.field(default=(), converter=_tuple)
    groups: tuple[ScoreGroup, ...] = attrs.field(default=(), converter=_tuple)
    total_cap: float | None = None
    allow_negative: bool = False
    bands: tuple[Band, ...] = attrs.field(default=DEFAULT_BANDS, converter=_sorted_bands)
    name: str = "score"
    grades: GradeMatrix | None = DEFAULT_GRADES

    def __attrs_post_init__(self) -> None:
        errors = _model_problems(self)
        if errors:
            raise ValidationError(f"ScoringModel {describe_value(self.name)}", errors)

    def problems(self, schema: EntitySchema | None = None) -> tuple[FieldError, ...]:
        """Every fit criterion's problem against *schema* (the lead schema by default).

        Unknown fields, and values of the wrong type for a field, reported before the model
        meets a lead.
        """
        from leadmodel.domain.lead import LEAD_SCHEMA

        bound = LEAD_SCHEMA if schema is None else schema
        _checks.require_instance(
            bound, EntitySchema, "an EntitySchema", function="ScoringModel.problems", path="schema"
        )
        return tuple(
            attrs.evolve(error, path=f"fit[{i}].{error.path}")
            for i, rule in enumerate(self.fit)
            for error in check_criterion(rule.criterion, bound)
        )

    def compile(self, *, schema: EntitySchema | None = None) -> CompiledScoringModel:
        """This model compiled for scoring many leads; see :func:`compile`."""
        return compile(self, schema=schema)


@attrs.frozen
class Contribution:
    """What one rule added to a score, after its decay and its own caps.

    *occurrences* is 1 for a fit rule and the number of counted activities for an
    engagement rule; *uncapped* is the rule's points before its own caps, when a cap cut
    them (``None`` otherwise).
    """

    rule: str
    kind: Literal["fit", "engagement"]
    points: float
    occurrences: int = 1
    group: str | None = None
    uncapped: float | None = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def reason(self) -> str:
        """The contribution in words."""
        if self.kind == "fit":
            text = f"fit rule {self.rule!r} holds: {self.points:+g}"
        else:
            text = f"{self.occurrences} × {self.rule!r}: {self.points:+g}"
            if self.uncapped is not None:
                text += f" (capped from {self.uncapped:+g})"
        return text + (f" in group {self.group!r}" if self.group else "")


@attrs.frozen
class Adjustment:
    """Points a cap or the floor took away (or gave back).

    *scope* is ``group:<name>``, ``total_cap`` or ``floor``.
    """

    scope: str
    points: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class Score:
    """A lead's score and its explanation.

    ``total`` is ``fit + engagement`` after the total cap and the floor; each of ``fit``
    and ``engagement`` is its rules' contributions plus its group adjustments. *rating* is
    the band the total reaches (``None`` when no band catches it). *grade* is the model's
    :class:`GradeMatrix` grade of fit and engagement (``"B2"``; ``None`` without a matrix
    or a band), and *grade_reason* says why.
    """

    _repr_html_ = result_html

    fit: float
    engagement: float
    total: float
    rating: str | None
    contributions: tuple[Contribution, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    model: str = "score"
    grade: str | None = None
    grade_reason: str | None = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def contribution(self, rule: str) -> Contribution | None:
        """The contribution of the rule named *rule*, or ``None`` if it added nothing."""
        for item in self.contributions:
            if item.rule == rule:
                return item
        return None


# -- compiling ---------------------------------------------------------------------------


def _clamp(value: float, cap: float | None) -> float:
    if cap is None:
        return value
    if value > cap:
        return cap
    if value < -cap:
        return -cap
    return value


class _Plan:
    """The parts of a model that do not change from lead to lead, prepared once."""

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        fit_groups = [g for g in model.groups if any(r.group == g.name for r in model.fit)]
        eng_groups = [g for g in model.groups if g not in fit_groups]
        # Slot 0 of each side holds its ungrouped rules.
        self.fit_caps: tuple[float | None, ...] = (None, *(g.cap for g in fit_groups))
        self.fit_slot_names: tuple[str | None, ...] = (None, *(g.name for g in fit_groups))
        self.eng_caps: tuple[float | None, ...] = (None, *(g.cap for g in eng_groups))
        self.eng_slot_names: tuple[str | None, ...] = (None, *(g.name for g in eng_groups))
        self.fit_slot = tuple(
            0 if r.group is None else self.fit_slot_names.index(r.group) for r in model.fit
        )
        self.eng_slot = tuple(
            0 if r.group is None else self.eng_slot_names.index(r.group) for r in model.engagement
        )
        self.fit_contributions = tuple(
            Contribution(r.name, "fit", r.points, 1, r.group) for r in model.fit
        )
        kinds: dict[str, list[tuple[int, Callable[..., bool] | None, float, str, int, int]]] = {}
        for j, rule in enumerate(model.engagement):
            # Activities are always Activity values: their criterion is inlined for that class.
            test = (
                None if rule.criterion is None else _criteria._inline(rule.criterion, Activity)  # noqa: SLF001 - the package's code generator
            )
            window_days = rule.window.days if rule.window is not None else 0
            kinds.setdefault(rule.activity, []).append(
                (j, test, rule.points, rule.decay.mode, rule.decay.days or 1, window_days)
            )
        self.by_kind = {kind: tuple(entries) for kind, entries in kinds.items()}
        self.window_caps = tuple(
            r.window.cap if r.window is not None else None for r in model.engagement
        )
        self.rule_caps = tuple(r.cap for r in model.engagement)
        self.plain = (
            len(self.fit_caps) == 1
            and len(self.eng_caps) == 1
            and model.total_cap is None
            and model.allow_negative
        )
        self._fit_functions: dict[type, tuple[Callable[..., object], ...]] = {}

    # Fit: one generated function per record class.

    def fit_functions(self, cls: type) -> tuple[Callable[..., object], ...]:
        found = self._fit_functions.get(cls)
        if found is None:
            if not (attrs.has(cls) or issubclass(cls, Mapping)):
                raise ValidationError(
                    "score",
                    [
                        FieldError(
                            "lead",
                            "type",
                            f"must be a lead (an entity or a mapping), not {cls.__name__}",
                        )
                    ],
                )
            found = self._generate(cls)
            if len(self._fit_functions) < 64:
                self._fit_functions[cls] = found
        return found

    def _generate(self, cls: type) -> tuple[Callable[..., object], ...]:
        ns: dict[str, object] = {}
        counter = [0]
        tests = [
            _criteria._expression(r.criterion, cls, ns, counter)  # noqa: SLF001 - the rules package's own code generator
            for r in self.model.fit
        ]
        slots = range(len(self.fit_caps))
        for i, rule in enumerate(self.model.fit):
            ns[f"p{i}"] = rule.points
        adds = [f"if {test}: s{self.fit_slot[i]} += p{i}" for i, test in enumerate(tests)] or [
            "pass"
        ]
        zero = "; ".join(f"s{k} = 0" for k in slots)
        slot_tuple = "(" + "".join(f"s{k}, " for k in slots) + ")"
        for i, contribution in enumerate(self.fit_contributions):
            ns[f"c{i}"] = contribution
        lines = ["def explain(r):", "    m = []", f"    {zero}"]
        lines += [
            f"    if {test}: m.append(c{i}); s{self.fit_slot[i]} += p{i}"
            for i, test in enumerate(tests)
        ]
        lines += [f"    return m, {slot_tuple}", "", "def slots(r):", f"    {zero}"]
        lines += [f"    {add}" for add in adds]
        lines += [f"    return {slot_tuple}", "", "def totals(records):", "    out = []"]
        lines += ["    append = out.append", "    for r in records:", f"        {zero}"]
        lines += [f"        {add}" for add in adds]
        lines += [f"        {line}" for line in self._finish_lines(ns)]
        lines += ["        append(float(t))", "    return out"]
        source = "\n".join(lines) + "\n"
        exec(source, ns)  # noqa: S102 - generated from validated rules; names are ours
        return ns["explain"], ns["slots"], ns["totals"]  # type: ignore[return-value]

    def _finish_lines(self, ns: dict[str, object]) -> list[str]:
        """The finish of a lead without engagement (``side_total`` and ``finish``) written out.

        The same operations in the same order, so generated totals equal :func:`score`'s
        to the last bit.
        """
        parts = ["0"]
        for k, cap in enumerate(self.fit_caps):
            if cap is None:
                parts.append(f"s{k}")
            else:
                ns[f"cap{k}"] = cap
                parts.append(
                    f"(cap{k} if s{k} > cap{k} else (-cap{k} if s{k} < -cap{k} else s{k}))"
                )
        lines = [f"t = {' + '.join(parts)} + 0.0"]
        if self.model.total_cap is not None:
            ns["total_cap"] = self.model.total_cap
            lines.append(
                "t = total_cap if t > total_cap else (-total_cap if t < -total_cap else t)"
            )
        if not self.model.allow_negative:
            lines.append("if t < 0: t = 0")
        return lines

    # The shared arithmetic.

    def side_total(
        self, slots: Sequence[float], caps: Sequence[float | None]
    ) -> tuple[float, list[tuple[int, float]]]:
        total: float = 0
        cuts: list[tuple[int, float]] = []
        for k, value in enumerate(slots):
            capped = _clamp(value, caps[k])
            if capped != value:
                cuts.append((k, capped - value))
            total = total + capped
        return total, cuts

    def finish(self, fit: float, engagement: float) -> tuple[float, list[Adjustment]]:
        model = self.model
        total = fit + engagement
        adjustments: list[Adjustment] = []
        capped = _clamp(total, model.total_cap)
        if capped != total:
            adjustments.append(Adjustment("total_cap", capped - total))
            total = capped
        if not model.allow_negative and total < 0:
            adjustments.append(Adjustment("floor", -total))
            total = 0
        return float(total), adjustments

    def engagement(
        self, activities: Iterable[Activity], now_ts: float
    ) -> list[tuple[int, int, float, float]]:
        """Per engagement rule with occurrences: (rule, occurrences, uncapped, points)."""
        by_kind = self.by_kind
        found: dict[int, dict[int, list[float]]] = {}
        counts: dict[int, int] = {}
        for activity in activities:
            entries = by_kind.get(activity.kind)
            if entries is None:
                continue
            at = activity.occurred_at.timestamp()
            age = (now_ts - at) / _DAY
            if age < 0:  # not happened yet as of now
                continue
            for j, test, points, mode, days, window_days in entries:
                if test is not None and not test(activity):
                    continue
                weight = 1.0 if mode == "none" else _weight(mode, days, age)
                if weight <= 0.0:
                    continue
                bucket = int((at - _WINDOW_EPOCH) // (window_days * _DAY)) if window_days else 0
                found.setdefault(j, {}).setdefault(bucket, []).append(points * weight)
                counts[j] = counts.get(j, 0) + 1
        results = []
        for j in sorted(found):
            buckets = found[j]
            uncapped = math.fsum(v for values in buckets.values() for v in values)
            window_cap = self.window_caps[j]
            if window_cap is None:
                windowed = uncapped
            else:
                windowed = math.fsum(
                    _clamp(math.fsum(values), window_cap) for values in buckets.values()
                )
            results.append((j, counts[j], uncapped, _clamp(windowed, self.rule_caps[j])))
        return results

    def engagement_slots(self, rows: Sequence[tuple[int, int, float, float]]) -> list[float]:
        slots: list[float] = [0] * len(self.eng_caps)
        for j, _count, _uncapped, points in rows:
            k = self.eng_slot[j]
            slots[k] = slots[k] + points
        return slots


def _now_timestamp(now: object, function: str) -> float:
    if not isinstance(now, datetime):
        raise ValidationError(
            function, [FieldError("now", "type", f"must be a datetime, not {type(now).__name__}")]
        )
    if now.utcoffset() is None:
        raise ValidationError(function, [FieldError("now", "naive", "must be timezone-aware")])
    return now.timestamp()


def _activity_list(activities: object, lead_id: str | None, function: str) -> list[Activity]:
    if isinstance(activities, str | bytes | Mapping) or not isinstance(activities, Iterable):
        raise ValidationError(
            function,
            [FieldError("activities", "type", "must be a sequence of Activity values")],
        )
    items = list(activities)
    for i, activity in enumerate(items):
        if activity.__class__ is not Activity and not isinstance(activity, Activity):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"activities[{i}]",
                        "type",
                        f"must be an Activity, not {type(activity).__name__}",
                    )
                ],
            )
        if lead_id is not None and activity.subject_id != lead_id:
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"activities[{i}]",
                        "other_subject",
                        f"activity {activity.id!r} is about {activity.subject_id!r}, "
                        f"not lead {lead_id!r}",
                    )
                ],
            )
    return items


def _rating(bands: Sequence[Band], total: float) -> str | None:
    for band in bands:
        if band.minimum is None or total >= band.minimum:
            return band.name
    return None


class CompiledScoringModel:
    """A :class:`ScoringModel` compiled for scoring many leads.

    The fit rules become one generated function per record class (criteria inlined, common
    text and number tests without a call), built on first use. Results always equal
    :func:`score`'s.
    """

    __slots__ = ("_now", "_plan", "model")

    def __init__(self, model: ScoringModel) -> None:
        _checks.require_instance(
            model, ScoringModel, "a ScoringModel", function="CompiledScoringModel", path="model"
        )
        self.model = model
        self._plan = _Plan(model)
        self._now: tuple[object, float] = (None, 0.0)

    def _timestamp(self, now: object, function: str) -> float:
        # The same now is passed for every lead of a batch: check and convert it once.
        last, stamp = self._now
        if now is last:
            return stamp
        stamp = _now_timestamp(now, function)
        self._now = (now, stamp)
        return stamp

    def score(self, lead: object, *, activities: Iterable[Activity] = (), now: datetime) -> Score:
        """The explained score of *lead* (a lead or a mapping of its fields) as of *now*.

        Raises:
            ValidationError: *now* is not an aware datetime, or an activity is not an
                :class:`Activity` of this lead.
        """
        now_ts = self._timestamp(now, "score")
        lead_id = lead.id if lead.__class__ is Lead or isinstance(lead, Lead) else None
        rows = _activity_list(activities, lead_id, "score") if activities != () else []
        plan = self._plan
        explain = plan.fit_functions(lead.__class__)[0]
        explained: tuple[list[Contribution], tuple[float, ...]] = explain(lead)  # type: ignore[assignment]
        contributions, fit_slots = explained
        fit, fit_cuts = plan.side_total(fit_slots, plan.fit_caps)
        adjustments = (
            [Adjustment(f"group:{plan.fit_slot_names[k]}", p) for k, p in fit_cuts]
            if fit_cuts
            else []
        )
        engagement: float = 0.0
        if rows:
            eng_rows = plan.engagement(rows, now_ts)
            rules = plan.model.engagement
            for j, count, uncapped, points in eng_rows:
                rule = rules[j]
                contributions.append(
                    Contribution(
                        rule.name,
                        "engagement",
                        points,
                        count,
                        rule.group,
                        None if uncapped == points else uncapped,
                    )
                )
            engagement, eng_cuts = plan.side_total(plan.engagement_slots(eng_rows), plan.eng_caps)
            adjustments += [Adjustment(f"group:{plan.eng_slot_names[k]}", p) for k, p in eng_cuts]
        total, final = plan.finish(fit, engagement)
        grades = plan.model.grades
        fit_score, engagement_score = float(fit), float(engagement)
        return Score(
            fit_score,
            engagement_score,
            total,
            _rating(plan.model.bands, total),
            tuple(contributions),
            tuple(adjustments + final),
            plan.model.name,
            None if grades is None else grades.grade(fit_score, engagement_score),
            None if grades is None else grades.explain(fit_score, engagement_score),
        )

    def total(self, lead: object, *, activities: Iterable[Activity] = (), now: datetime) -> float:
        """The total score of *lead* alone (no explanation)."""
        return self.totals([lead], activities={} if activities == () else activities, now=now)[0]

    def totals(
        self,
        leads: Iterable[object],
        *,
        activities: Mapping[str, Iterable[Activity]] | Iterable[Activity] | None = None,
        now: datetime,
    ) -> list[float]:
        """The total scores of *leads*, in order, as fast as the model allows.

        *activities* are all the leads' activities (grouped here by ``subject_id``) or a
        mapping from lead id to its activities; without them only fit rules score.

        Raises:
            ValidationError: *now* is not an aware datetime, *leads* is not an iterable of
                records, or *activities* holds something other than activities.
        """
        now_ts = self._timestamp(now, "totals")
        if isinstance(leads, str | bytes | Mapping) or not isinstance(leads, Iterable):
            raise ValidationError(
                "totals", [FieldError("leads", "type", "must be an iterable of leads")]
            )
        plan = self._plan
        by_lead = _group_activities(activities) if activities is not None else None
        if not by_lead:
            items = leads if isinstance(leads, list | tuple) else list(leads)
            if not items:
                return []
            cls = items[0].__class__
            if all(item.__class__ is cls for item in items):
                return plan.fit_functions(cls)[2](items)  # type: ignore[return-value]
            return [plan.fit_functions(item.__class__)[2]([item])[0] for item in items]  # type: ignore[index]
        out: list[float] = []
        for lead in leads:
            slots_of = plan.fit_functions(lead.__class__)[1]
            fit, _ = plan.side_total(slots_of(lead), plan.fit_caps)  # type: ignore[arg-type]
            engagement: float = 0.0
            lead_id = _record_id(lead)
            rows = by_lead.get(lead_id) if lead_id is not None else None
            if rows:
                eng_rows = plan.engagement(rows, now_ts)
                engagement, _ = plan.side_total(plan.engagement_slots(eng_rows), plan.eng_caps)
            out.append(plan.finish(fit, engagement)[0])
        return out


def _record_id(record: object) -> str | None:
    found = record.get("id") if isinstance(record, Mapping) else getattr(record, "id", None)
    return found if isinstance(found, str) else None


def _group_activities(
    activities: Mapping[str, Iterable[Activity]] | Iterable[Activity],
) -> dict[str, list[Activity]]:
    if isinstance(activities, Mapping):
        return {key: _activity_list(values, key, "totals") for key, values in activities.items()}
    grouped: dict[str, list[Activity]] = {}
    for activity in _activity_list(activities, None, "totals"):
        grouped.setdefault(activity.subject_id, []).append(activity)
    return grouped


_COMPILED: dict[ScoringModel, CompiledScoringModel] = {}
_LAST: list[CompiledScoringModel | None] = [None]


def compile(  # noqa: A001 - the rule's verb, as re.compile
    model: ScoringModel, *, schema: EntitySchema | None = None
) -> CompiledScoringModel:
    """*model* compiled for scoring many leads fast (cached per model).

    With *schema*, the fit criteria are checked against it first (unknown fields, values
    of the wrong type), so a bad model fails here rather than scoring every lead zero.

    >>> from leadmodel import Condition
    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead
    >>> scorer = compile(ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 10)]))
    >>> leads = [Lead(id="L1", last_name="Ng", company="Acme", source="Web")]
    >>> scorer.totals(leads, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    [10.0]

    Raises:
        ValidationError: *model* is not a ScoringModel, or does not fit *schema*.
    """
    _checks.require_instance(
        model, ScoringModel, "a ScoringModel", function="compile", path="model"
    )
    if schema is not None:
        problems = model.problems(schema)
        if problems:
            raise ValidationError(f"ScoringModel {model.name!r}", problems)
    last = _LAST[0]
    if last is not None and last.model is model:
        return last
    found = _COMPILED.get(model)
    if found is None:
        found = CompiledScoringModel(model)
        if len(_COMPILED) >= 256:
            _COMPILED.clear()
        _COMPILED[model] = found
    _LAST[0] = found
    return found


def score(
    lead: object, model: ScoringModel, *, activities: Iterable[Activity] = (), now: datetime
) -> Score:
    """Score *lead* with *model* as of *now*: fit, engagement, total, rating and why.

    *activities* are the lead's activities; those after *now* do not count yet.

    >>> from leadmodel import Condition
    >>> from datetime import datetime, timezone
    >>> from leadmodel import Activity, Lead
    >>> model = ScoringModel(
    ...     fit=[FitRule("web", Condition("source", "eq", "Web"), 10)],
    ...     engagement=[EngagementRule("opens", "email_opened", 5, cap=12)],
    ... )
    >>> now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> opens = [
    ...     Activity(id=f"A{i}", subject_id="L1", kind="email_opened", occurred_at=now)
    ...     for i in range(3)
    ... ]
    >>> result = score(
    ...     Lead(id="L1", last_name="Ng", company="Acme", source="Web"),
    ...     model,
    ...     activities=opens,
    ...     now=now,
    ... )
    >>> result.total, result.rating
    (22.0, 'Cold')
    >>> [c.reason for c in result.contributions]
    ["fit rule 'web' holds: +10", "3 × 'opens': +12 (capped from +15)"]

    Raises:
        ValidationError: *model* is not a ScoringModel, *now* is not an aware datetime, or
            an activity is not an :class:`Activity` of this lead.
    """
    return compile(model).score(lead, activities=activities, now=now)
