"""Predictive lead scoring: two open models learned from won and lost leads.

- :class:`NaiveBayesFrequencies` is Odoo's Predictive Lead Scoring, reproduced from its
  specification: a table of won and lost counts per field value (``+0.1`` smoothing), the
  lead's status counted as Odoo counts stages (a won lead counts in every status of the
  process, a lost one in its own status and every earlier one), tags with fewer than 50
  outcomes ignored, one table per team with the all-teams table as the fallback, and the
  probability clamped to 0.01–99.99 %. One lead's outcome updates it incrementally
  (:meth:`NaiveBayesFrequencies.with_outcome` / :meth:`~NaiveBayesFrequencies.without_outcome`).
- :class:`LogisticModel` is an L2-regularised logistic regression trained in pure Python
  (AdaGrad over the examples in a seeded order, with weight averaging), with one-hot
  categories, multi-hot tags, standardised numbers and missing-value indicators.

:func:`train_predictive` builds either from closed leads (:class:`Outcome`); ``model.predict(lead)``
returns a :class:`Prediction` — a probability, Einstein's 1–99 score and the factors that
pushed it up and down. Features are dotted paths (``source``, ``address.country``,
``custom.visits``, ``status``, ``team_id``, ``tags``), Odoo's ``email_state`` and
``phone_state``, and activity counts: ``activities`` (all) or ``activities.<kind>``.
Both models are data and round-trip through JSON.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess
from leadmodel.domain.values import EmailAddress, Money, PhoneNumber
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._paths import ABSENT, getter

__all__ = [
    "TAG_MIN_OUTCOMES",
    "Factor",
    "Frequency",
    "LogisticModel",
    "NaiveBayesFrequencies",
    "Outcome",
    "Prediction",
    "PredictiveModel",
    "Weight",
    "train_predictive",
]

TAG_MIN_OUTCOMES: Final = 50
"""Odoo ignores a tag seen in fewer closed leads than this."""
_SMOOTHING: Final = 0.1
_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_STAGE: Final = "status"
_TEAM: Final = "team_id"


def _tuple(values: object) -> object:
    return tuple(values) if isinstance(values, list) else values


def _activity_tuple(values: object) -> object:
    if isinstance(values, list | tuple):
        return tuple(values)
    return values


@attrs.frozen
class Outcome:
    """A closed lead for training: the lead as it stood when it closed, won or not.

    *lead* keeps its last open status (Odoo counts the stage a lost lead reached);
    *activities* are its activities, for activity-count features.
    """

    lead: Lead
    won: bool
    activities: tuple[Activity, ...] = attrs.field(default=(), converter=_activity_tuple)
    closed_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        if not isinstance(self.lead, Lead):
            errors.append(
                FieldError("lead", "type", f"must be a Lead, not {type(self.lead).__name__}")
            )
        if self.won is not True and self.won is not False:
            errors.append(FieldError("won", "type", "must be True or False"))
        if not isinstance(self.activities, tuple) or not all(
            isinstance(a, Activity) for a in self.activities
        ):
            errors.append(FieldError("activities", "type", "must be a sequence of Activity"))
        if self.closed_at is not None and (
            not isinstance(self.closed_at, datetime) or self.closed_at.utcoffset() is None
        ):
            errors.append(FieldError("closed_at", "type", "must be a timezone-aware datetime"))
        if errors:
            raise ValidationError("Outcome", errors)


@attrs.frozen
class Factor:
    """One feature value's push on a prediction.

    *effect* is its log-odds contribution: positive raises the probability.
    """

    feature: str
    value: str
    effect: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class Prediction:
    """A predicted chance that a lead converts, and why.

    *probability* is in [0, 1]; *score* is Einstein's 1–99; *top_positive* and
    *top_negative* are the (up to three) factors that raised and lowered it most.
    """

    _repr_html_ = result_html

    probability: float
    score: int
    top_positive: tuple[Factor, ...] = ()
    top_negative: tuple[Factor, ...] = ()
    model: str = "naive_bayes"

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _score_of(probability: float) -> int:
    return min(99, max(1, round(probability * 100)))


def _top(factors: list[Factor]) -> tuple[tuple[Factor, ...], tuple[Factor, ...]]:
    positive = sorted(
        (f for f in factors if f.effect > 0), key=lambda f: (-f.effect, f.feature, f.value)
    )
    negative = sorted(
        (f for f in factors if f.effect < 0), key=lambda f: (f.effect, f.feature, f.value)
    )
    return tuple(positive[:3]), tuple(negative[:3])


# -- features ------------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, EmailAddress):
        return value.normalized
    if isinstance(value, PhoneNumber):
        return value.e164
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Money):
        return str(value.amount)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _feature_problems(features: object) -> list[FieldError]:
    if isinstance(features, str) or not isinstance(features, tuple) or not features:
        return [FieldError("features", "type", "must be a non-empty sequence of field paths")]
    errors = [
        FieldError(
            f"features[{i}]", "invalid", f"must be a dotted field path, not {describe_value(f)}"
        )
        for i, f in enumerate(features)
        if not isinstance(f, str) or _PATH.fullmatch(f) is None or len(f) > 200
    ]
    if not errors and len(set(features)) != len(features):
        errors.append(FieldError("features", "duplicate", "a feature is listed twice"))
    return errors


def _reader(feature: str) -> Callable[[object, Sequence[Activity]], object]:
    """A function ``(lead, activities) -> raw value`` for *feature*."""
    if feature == "email_state":
        return lambda lead, _acts: "correct" if _read(lead, "email") is not None else "False"
    if feature == "phone_state":
        return lambda lead, _acts: (
            "correct"
            if _read(lead, "mobile") is not None or _read(lead, "phone") is not None
            else "False"
        )
    if feature == "activities":
        return lambda _lead, acts: len(acts)
    if feature.startswith("activities."):
        kind = feature.split(".", 1)[1]
        return lambda _lead, acts: sum(1 for a in acts if a.kind == kind)
    get = getter(feature)

    def read(lead: object, _acts: Sequence[Activity]) -> object:
        value = get(lead)
        return None if value is ABSENT else value

    return read


class _Rows:
    """Reads every feature of a lead at once.

    One generated function per record class: direct attribute reads for entities, as
    compiled criteria do.
    """

    def __init__(self, features: Sequence[str]) -> None:
        self.features = tuple(features)
        self._by_class: dict[type, Callable[[object, Sequence[Activity]], tuple[object, ...]]] = {}

    def read(self, lead: object, activities: Sequence[Activity]) -> tuple[object, ...]:
        function = self._by_class.get(lead.__class__)
        if function is None:
            function = self._generate(lead.__class__)
            if len(self._by_class) < 64:
                self._by_class[lead.__class__] = function
        return function(lead, activities)

    def _generate(self, cls: type) -> Callable[[object, Sequence[Activity]], tuple[object, ...]]:
        ns: dict[str, object] = {"ABSENT": ABSENT}
        parts = []
        for k, feature in enumerate(self.features):
            special = feature in ("email_state", "phone_state") or feature == "activities"
            if special or feature.startswith("activities."):
                ns[f"F{k}"] = _reader(feature)
                parts.append(f"F{k}(r, acts)")
                continue
            expression = _criteria._read_expression(feature, cls, ns, k)  # noqa: SLF001 - the rules package's code generator
            parts.append(f"(None if (x{k} := {expression}) is ABSENT else x{k})")
        source = "def read(r, acts):\n    return (" + "".join(f"{p}, " for p in parts) + ")\n"
        exec(source, ns)  # noqa: S102 - generated from validated feature paths
        return ns["read"]  # type: ignore[return-value]


def _read(lead: object, path: str) -> object:
    value = getter(path)(lead)
    return None if value is ABSENT else value


def _values_of(raw: object) -> list[str]:
    """The categorical values of a raw field value: none for blanks, one per tag."""
    cls = raw.__class__
    if cls is str:
        return [raw] if raw else []  # type: ignore[list-item]
    if raw is None:
        return []
    if cls is bool or cls is int:
        return [str(raw)]
    if isinstance(raw, frozenset | set | tuple | list):
        return sorted(_text(v) for v in raw if v is not None and v != "")
    return [_text(raw)]


def _check_lead(lead: object, function: str) -> None:
    if not isinstance(lead, Lead | Mapping):
        raise ValidationError(
            function,
            [FieldError("lead", "type", f"must be a Lead or a mapping, not {type(lead).__name__}")],
        )


def _check_activities(activities: object, function: str) -> tuple[Activity, ...]:
    if isinstance(activities, str | bytes | Mapping) or not isinstance(activities, Iterable):
        raise ValidationError(
            function, [FieldError("activities", "type", "must be a sequence of Activity")]
        )
    items = tuple(activities)
    for i, item in enumerate(items):
        if not isinstance(item, Activity):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"activities[{i}]",
                        "type",
                        f"must be an Activity, not {type(item).__name__}",
                    )
                ],
            )
    return items


# -- Odoo's naive Bayes ------------------------------------------------------------------


_POSITIVE: Final = 1e-300


def _text_problems(*fields: tuple[str, object]) -> list[FieldError]:
    """Each ``(name, value)`` that is not a string (a feature, a category, a team id)."""
    return [
        FieldError(name, "type", f"must be a string, not {type(value).__name__}")
        for name, value in fields
        if not isinstance(value, str)
    ]


def _float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _number_problems(*fields: tuple[str, object, float | None]) -> list[FieldError]:
    """Each ``(name, value, minimum)`` that is not a finite real number of at least *minimum*.

    A model read from JSON may hold ``NaN`` or ``Infinity``; refused here, never met as a
    ``ValueError`` in the middle of a prediction.
    """
    errors = []
    for name, value, minimum in fields:
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(FieldError(name, "type", f"must be a number, not {type(value).__name__}"))
        elif not math.isfinite(value if isinstance(value, float) else _float(value)):
            errors.append(
                FieldError(
                    name, "not_finite", f"must be a finite number, not {describe_value(value)}"
                )
            )
        elif minimum is not None and value < minimum:
            bound = "positive" if minimum == _POSITIVE else f"at least {minimum:g}"
            errors.append(FieldError(name, "out_of_range", f"must be {bound}, not {value}"))
    return errors


@attrs.frozen(order=True)
class Frequency:
    """One row of the frequency table.

    Closed leads of *team_id* (``None``: no team) whose *field* had *value*, counted won
    and lost (each starting at 0.1).
    """

    field: str
    value: str
    team_id: str | None
    won: float
    lost: float

    def __attrs_post_init__(self) -> None:
        errors = _number_problems(("won", self.won, 0.0), ("lost", self.lost, 0.0))
        errors += _text_problems(("field", self.field), ("value", self.value))
        if self.team_id is not None:
            errors += _text_problems(("team_id", self.team_id))
        if errors:
            raise ValidationError("Frequency", errors)


_ALL: Final = "\x00all"  # the all-teams partition's key (a team id never holds NUL)


class _Counter:
    """Reads the (field, value) pairs closed leads count in, with readers built once."""

    def __init__(self, features: Sequence[str], process: LeadProcess) -> None:
        self.names = [f for f in features if f not in (_STAGE, _TEAM)]
        self.rows = _Rows(self.names)
        ordered = sorted(process.statuses, key=lambda s: (s.order, s.name))
        self.all_stages = [(_STAGE, s.name) for s in ordered]
        self.lost_stages = {
            s.name: [(_STAGE, t.name) for t in ordered if t.order <= s.order] for s in ordered
        }

    def pairs(self, outcome: Outcome) -> list[tuple[str, str]]:
        lead, activities = outcome.lead, outcome.activities
        if outcome.won:
            pairs = list(self.all_stages)
        else:
            pairs = list(self.lost_stages.get(lead.status, ()))
        for feature, raw in zip(self.names, self.rows.read(lead, activities), strict=True):
            if raw is None:
                continue
            pairs += [(feature, value) for value in _values_of(raw)]
        return pairs


def _nb_problems(model: NaiveBayesFrequencies) -> list[FieldError]:
    errors = _feature_problems(model.features)
    if not isinstance(model.process, LeadProcess):
        errors.append(FieldError("process", "type", "must be a LeadProcess"))
    if not isinstance(model.frequencies, tuple) or not all(
        isinstance(f, Frequency) for f in model.frequencies
    ):
        errors.append(FieldError("frequencies", "type", "must be a sequence of Frequency rows"))
    kind = _checks.kind_problem(model.kind, "naive_bayes")
    if kind is not None:
        errors.append(FieldError("kind", *kind))
    return errors


@attrs.frozen(cache_hash=True)
class NaiveBayesFrequencies:
    """Odoo's Predictive Lead Scoring: a naive Bayes over won/lost frequency tables.

    Build it with :func:`train_predictive` (``kind="naive_bayes"``); it is plain data (the
    frequency rows, sorted), so it can be stored, diffed and updated one outcome at a time.
    The lead's ``status`` is always used as Odoo uses the stage, and ``team_id`` always
    chooses the table.
    """

    features: tuple[str, ...] = attrs.field(converter=_tuple)
    frequencies: tuple[Frequency, ...] = attrs.field(default=(), converter=_tuple)
    process: LeadProcess = DEFAULT_LEAD_PROCESS
    kind: Literal["naive_bayes"] = "naive_bayes"
    # Prepared once from the rows (not part of the value): per team key, per field, the
    # counts of each value and the field's won and lost totals (tags under the threshold
    # left out); the first status; and a reader of the features.
    _index: dict[str, dict[str, tuple[dict[str, tuple[float, float]], float, float]]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _prepared: tuple[str | None, _Counter] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        errors = _nb_problems(self)
        if errors:
            raise ValidationError("NaiveBayesFrequencies", errors)
        ordered = tuple(sorted(self.frequencies, key=lambda f: (f.team_id or "", f.field, f.value)))
        object.__setattr__(self, "frequencies", ordered)
        counts: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
        for row in ordered:
            if row.field == "tags" and row.won + row.lost < TAG_MIN_OUTCOMES:
                continue  # Odoo ignores a tag with too few outcomes, in the totals too
            for team in (row.team_id or "", _ALL):
                fields = counts.setdefault(team, {}).setdefault(row.field, {})
                won, lost = fields.get(row.value, (0.0, 0.0))
                fields[row.value] = (won + row.won, lost + row.lost)
        index = {
            team: {
                field: (
                    values,
                    sum(c[0] for c in values.values()),
                    sum(c[1] for c in values.values()),
                )
                for field, values in fields.items()
            }
            for team, fields in counts.items()
        }
        object.__setattr__(self, "_index", index)
        first = min(self.process.statuses, key=lambda s: (s.order, s.name)).name
        object.__setattr__(self, "_prepared", (first, _Counter(self.features, self.process)))

    def _changed(self, outcome: Outcome, sign: int) -> NaiveBayesFrequencies:
        _checks.require_instance(
            outcome, Outcome, "an Outcome", function="NaiveBayesFrequencies", path="outcome"
        )
        team = outcome.lead.team_id
        rows = {(f.team_id, f.field, f.value): f for f in self.frequencies}
        for field, value in self._prepared[1].pairs(outcome):
            key = (team, field, value)
            row = rows.get(key)
            if row is None:
                if sign < 0:
                    continue  # nothing to take away from
                won, lost = _SMOOTHING, _SMOOTHING
            else:
                won, lost = row.won, row.lost
            if outcome.won:
                won = won + sign if won + sign > 0 else _SMOOTHING
            else:
                lost = lost + sign if lost + sign > 0 else _SMOOTHING
            rows[key] = Frequency(field, value, team, won, lost)
        return attrs.evolve(self, frequencies=tuple(rows.values()))

    def with_outcome(self, outcome: Outcome) -> NaiveBayesFrequencies:
        """The table after one more closed lead (Odoo's live increment on won or lost)."""
        return self._changed(outcome, +1)

    def without_outcome(self, outcome: Outcome) -> NaiveBayesFrequencies:
        """The table without one closed lead (a lead reopened, or its outcome changed).

        A count that would reach zero or less is floored at 0.1, as Odoo does.
        """
        return self._changed(outcome, -1)

    def probability(self, lead: object, *, activities: Sequence[Activity] = ()) -> float | None:
        """Odoo's probability in percent (0.01–99.99, rounded to 2 places).

        100 for a converted status, 0 for another closed one or a status outside the
        process; ``None`` when the table has no counts for the first status (Odoo then
        leaves the lead's probability as it was).
        """
        return self._compute(lead, activities)[0]

    def _compute(
        self, lead: object, activities: Sequence[Activity]
    ) -> tuple[float | None, list[Factor]]:
        status = _read(lead, "status")
        current = next((s for s in self.process.statuses if s.name == status), None)
        if current is None:
            return 0.0, []
        if current.is_converted:
            return 100.0, []
        if current.is_closed:
            return 0.0, []
        team = _read(lead, _TEAM)
        # The lead's team's table if it has one; else (no team, an unseen team) all teams'.
        team_key = team if isinstance(team, str) and team and team in self._index else _ALL
        table = self._index.get(team_key, {})
        first, counter = self._prepared
        stages = table[_STAGE][0] if _STAGE in table else {}
        team_won, team_lost = stages.get(first, (0.0, 0.0)) if first is not None else (0.0, 0.0)
        if team_won == 0 or team_lost == 0:
            return None, []
        s_won = team_won / (team_won + team_lost)
        s_lost = team_lost / (team_won + team_lost)
        factors: list[Factor] = []
        stage = stages.get(current.name)
        if stage is not None:
            p_won, p_lost = stage[0] / team_won, stage[1] / team_lost
            s_won *= p_won
            s_lost *= p_lost
            factors.append(Factor(_STAGE, current.name, math.log(p_won / p_lost)))
        for feature, raw in zip(counter.names, counter.rows.read(lead, activities), strict=True):
            found_field = table.get(feature)
            if found_field is None or raw is None:
                continue
            counts, won_total, lost_total = found_field
            if won_total == 0 or lost_total == 0:
                continue
            for value in _values_of(raw):
                found = counts.get(value)
                if found is None:
                    continue
                p_won, p_lost = found[0] / won_total, found[1] / lost_total
                s_won *= p_won
                s_lost *= p_lost
                factors.append(Factor(feature, value, math.log(p_won / p_lost)))
        if s_won + s_lost == 0:
            return None, factors
        percent = round(100 * s_won / (s_won + s_lost), 2)
        return min(99.99, max(0.01, percent)), factors

    def predict(self, lead: object, *, activities: Iterable[Activity] = ()) -> Prediction:
        """The chance *lead* converts, with the factors Odoo's tooltip shows.

        >>> from leadmodel import Lead
        >>> history = [
        ...     Outcome(Lead(id=f"W{i}", last_name="A", company="A", source="Web"), True)
        ...     for i in range(3)
        ... ] + [Outcome(Lead(id="X", last_name="B", company="B", source="Fair"), False)]
        >>> model = train_predictive(history, features=["source"])
        >>> lead = Lead(id="N", last_name="C", company="C", source="Web")
        >>> model.probability(lead), model.predict(lead).score
        (97.04, 97)

        Raises:
            ValidationError: *lead* is not a lead or mapping, or *activities* are not
                activities.
        """
        _check_lead(lead, "predict")
        percent, factors = self._compute(lead, _check_activities(activities, "predict"))
        probability = 0.0 if percent is None else percent / 100
        positive, negative = _top(factors)
        return Prediction(probability, _score_of(probability), positive, negative, self.kind)


def _train_naive_bayes(
    history: Sequence[Outcome], features: tuple[str, ...], process: LeadProcess
) -> NaiveBayesFrequencies:
    counts: dict[tuple[str | None, str, str], list[int]] = {}
    counter = _Counter(features, process)
    for outcome in history:
        team = outcome.lead.team_id
        side = 0 if outcome.won else 1
        for field, value in counter.pairs(outcome):
            counts.setdefault((team, field, value), [0, 0])[side] += 1
    rows = tuple(
        Frequency(field, value, team, won + _SMOOTHING, lost + _SMOOTHING)
        for (team, field, value), (won, lost) in counts.items()
    )
    return NaiveBayesFrequencies(features, rows, process)


# -- logistic regression -----------------------------------------------------------------


@attrs.frozen
class Weight:
    """One learned coefficient of a :class:`LogisticModel`.

    *feature* and *value* (a category or tag; ``""`` for a number, ``"<missing>"`` for its
    missing indicator) and its *coefficient*. Numbers are standardised with *mean* and
    *scale* first.
    """

    feature: str
    value: str
    coefficient: float
    mean: float = 0.0
    scale: float = 1.0

    def __attrs_post_init__(self) -> None:
        errors = _number_problems(
            ("coefficient", self.coefficient, None),
            ("mean", self.mean, None),
            ("scale", self.scale, _POSITIVE),
        )
        errors += _text_problems(("feature", self.feature), ("value", self.value))
        if errors:
            raise ValidationError("Weight", errors)


_MISSING: Final = "<missing>"


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float | Decimal):
        number = float(raw)
        return number if math.isfinite(number) else None
    if isinstance(raw, Money):
        return float(raw.amount)
    return None


@attrs.frozen(cache_hash=True)
class LogisticModel:
    """An L2-regularised logistic regression over one-hot, multi-hot and numeric features.

    Build it with :func:`train_predictive` (``kind="logistic"``). *weights* list every
    coefficient with its feature and value, so the model reads as a table; *intercept* is
    the log-odds of a lead with every category unseen and every number at its mean.
    """

    features: tuple[str, ...] = attrs.field(converter=_tuple)
    weights: tuple[Weight, ...] = attrs.field(converter=_tuple)
    intercept: float = 0.0
    numeric: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    kind: Literal["logistic"] = "logistic"
    _plan: tuple[
        tuple[tuple[str, Callable[[object, Sequence[Activity]], object]], ...],
        dict[tuple[str, str], Weight],
    ] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        errors = _feature_problems(self.features)
        errors += _number_problems(("intercept", self.intercept, None))
        if not isinstance(self.weights, tuple) or not all(
            isinstance(w, Weight) for w in self.weights
        ):
            errors.append(FieldError("weights", "type", "must be a sequence of Weight rows"))
        kind = _checks.kind_problem(self.kind, "logistic")
        if kind is not None:
            errors.append(FieldError("kind", *kind))
        if errors:
            raise ValidationError("LogisticModel", errors)
        readers = tuple((f, _reader(f)) for f in self.features)
        table = {(w.feature, w.value): w for w in self.weights}
        object.__setattr__(self, "_plan", (readers, table))

    def _factors(self, lead: object, activities: Sequence[Activity]) -> list[Factor]:
        readers, table = self._plan
        numeric = self.numeric
        factors: list[Factor] = []
        for feature, read in readers:
            raw = read(lead, activities)
            if feature in numeric:
                number = _number(raw)
                if number is None:
                    weight = table.get((feature, _MISSING))
                    if weight is not None:
                        factors.append(Factor(feature, _MISSING, weight.coefficient))
                    continue
                weight = table.get((feature, ""))
                if weight is not None:
                    x = (number - weight.mean) / weight.scale
                    factors.append(Factor(feature, _text(raw), weight.coefficient * x))
                continue
            for value in _values_of(raw):
                weight = table.get((feature, value))
                if weight is not None:
                    factors.append(Factor(feature, value, weight.coefficient))
        return factors

    def predict(self, lead: object, *, activities: Iterable[Activity] = ()) -> Prediction:
        """The chance *lead* converts, with the factors that moved it most.

        Raises:
            ValidationError: *lead* is not a lead or mapping, or *activities* are not
                activities.
        """
        _check_lead(lead, "predict")
        factors = self._factors(lead, _check_activities(activities, "predict"))
        z = self.intercept + math.fsum(f.effect for f in factors)
        probability = _sigmoid(z)
        positive, negative = _top(factors)
        return Prediction(probability, _score_of(probability), positive, negative, self.kind)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _train_logistic(  # noqa: PLR0915 - one training loop, kept together
    history: Sequence[Outcome],
    features: tuple[str, ...],
    *,
    l2: float,
    epochs: int,
    seed: int,
) -> LogisticModel:
    rows_of = _Rows(features)
    raw_rows = [rows_of.read(o.lead, o.activities) for o in history]
    labels = [1.0 if o.won else 0.0 for o in history]
    n = len(history)
    # A feature is numeric when every value it has is a number.
    numeric: list[str] = []
    for j, feature in enumerate(features):
        present = [row[j] for row in raw_rows if row[j] is not None and row[j] != ""]
        if present and all(_number(v) is not None for v in present):
            numeric.append(feature)
    columns: dict[tuple[str, str], int] = {}
    stats: dict[str, tuple[float, float]] = {}
    for j, feature in enumerate(features):
        if feature in numeric:
            values = [_number(row[j]) for row in raw_rows]
            known = [v for v in values if v is not None]
            mean = math.fsum(known) / len(known)
            spread = math.sqrt(math.fsum((v - mean) ** 2 for v in known) / len(known))
            stats[feature] = (mean, spread if spread > 0 else 1.0)
            columns[(feature, "")] = len(columns)
            if len(known) < n:
                columns[(feature, _MISSING)] = len(columns)
            continue
        seen = sorted({v for row in raw_rows for v in _values_of(row[j])})
        for value in seen:
            columns[(feature, value)] = len(columns)
    # Each example as the columns it sets to 1 (categories, tags, missing indicators) and
    # its (column, value) numbers: most columns are one-hot, and adding a weight is cheaper
    # than multiplying by 1.
    encoded: list[tuple[tuple[int, ...], tuple[tuple[int, float], ...]]] = []
    for row in raw_rows:
        ones: list[int] = []
        numbers: list[tuple[int, float]] = []
        for j, feature in enumerate(features):
            if feature in numeric:
                number = _number(row[j])
                if number is None:
                    ones.append(columns[(feature, _MISSING)])
                else:
                    mean, scale = stats[feature]
                    numbers.append((columns[(feature, "")], (number - mean) / scale))
                continue
            ones += [columns[(feature, value)] for value in _values_of(row[j])]
        encoded.append((tuple(ones), tuple(numbers)))
    width = len(columns)
    w = [0.0] * width
    g2 = [1e-8] * width
    bias, bias_g2 = 0.0, 1e-8
    lam = l2 / max(n, 1)  # sklearn's C = 1 / l2, per example
    rate = 0.5
    order = list(range(n))
    rng = random.Random(seed)  # noqa: S311 - the seeded order of examples, not a secret
    average = [0.0] * width
    average_bias = 0.0
    averaged = 0
    exp, sqrt = math.exp, math.sqrt
    weight_of = w.__getitem__
    for epoch in range(epochs):
        rng.shuffle(order)
        for i in order:
            ones_i, numbers_i = encoded[i]
            z = bias + sum(map(weight_of, ones_i))
            for k, x in numbers_i:
                z += w[k] * x
            p = 1.0 / (1.0 + exp(-z)) if z >= 0 else 1.0 - 1.0 / (1.0 + exp(z))
            error = p - labels[i]
            bias_g2 += error * error
            bias -= rate * error / sqrt(bias_g2)
            for k in ones_i:
                gradient = error + lam * w[k]
                g2[k] += gradient * gradient
                w[k] -= rate * gradient / sqrt(g2[k])
            for k, x in numbers_i:
                gradient = error * x + lam * w[k]
                g2[k] += gradient * gradient
                w[k] -= rate * gradient / sqrt(g2[k])
        if epoch >= epochs // 2:  # average the weights of the second half of the epochs
            for k in range(width):
                average[k] += w[k]
            average_bias += bias
            averaged += 1
    final = [a / averaged for a in average] if averaged else w
    final_bias = average_bias / averaged if averaged else bias
    weights = []
    for (feature, value), k in columns.items():
        mean, scale = stats.get(feature, (0.0, 1.0)) if value == "" else (0.0, 1.0)
        weights.append(Weight(feature, value, final[k], mean, scale))
    return LogisticModel(features, tuple(weights), final_bias, tuple(numeric))


def _outcomes(history: object, function: str) -> list[Outcome]:
    """*history* as a list of :class:`Outcome`, or a ``ValidationError`` of *function*.

    Shared by training and backtesting, whose callers may be untyped (notebooks).
    """
    if isinstance(history, str | bytes | Mapping) or not isinstance(history, Iterable):
        raise ValidationError(
            function, [FieldError("history", "type", "must be an iterable of Outcome")]
        )
    items = list(history)
    for i, item in enumerate(items):
        if not isinstance(item, Outcome):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"history[{i}]", "type", f"must be an Outcome, not {type(item).__name__}"
                    )
                ],
            )
    return items


PredictiveModel = NaiveBayesFrequencies | LogisticModel
"""Either predictive model: both have ``features`` and ``predict(lead, *, activities=())``."""


def train_predictive(
    history: Iterable[Outcome],
    *,
    features: Sequence[str],
    kind: Literal["naive_bayes", "logistic"] = "naive_bayes",
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    l2: float = 1.0,
    epochs: int | None = None,
    seed: int = 0,
) -> PredictiveModel:
    """Learn a predictive model from closed leads.

    Args:
        history: the closed leads, won or lost (:class:`Outcome`).
        features: dotted field paths, ``email_state``/``phone_state``, ``activities`` or
            ``activities.<kind>``.
        kind: ``naive_bayes`` (Odoo's PLS) or ``logistic``.
        process: the lead process whose status order the naive Bayes counts by.
        l2: the logistic model's L2 strength (scikit-learn's ``C`` is ``1 / l2``).
        epochs: passes over the history for the logistic model (default: enough for
            about 300,000 steps, between 4 and 20 passes).
        seed: the order in which the logistic model sees the examples (the only
            randomness, so the same seed gives the same model).

    >>> from leadmodel import Lead
    >>> history = [
    ...     Outcome(Lead(id=f"L{i}", last_name="A", company="A", source=s), won)
    ...     for i, (s, won) in enumerate([("Web", True), ("Web", True), ("Fair", False)])
    ... ]
    >>> model = train_predictive(history, features=["source"], kind="logistic")
    >>> model.predict(Lead(id="N", last_name="B", company="B", source="Web")).probability > 0.5
    True

    Raises:
        ValidationError: an item of *history* is not an Outcome, *features* or *kind* are
            invalid, or a logistic model gets no history or only one outcome.
    """
    feature_tuple = tuple(features) if isinstance(features, list | tuple) else features
    errors = _feature_problems(feature_tuple)
    if not _checks.one_of(kind, ("naive_bayes", "logistic")):
        errors.append(FieldError("kind", "invalid", "must be 'naive_bayes' or 'logistic'"))
    if not isinstance(process, LeadProcess):
        errors.append(FieldError("process", "type", "must be a LeadProcess"))
    checked = [("l2", l2, 0.0), ("seed", seed, None)]
    if epochs is not None:
        checked.append(("epochs", epochs, 1))
    for name, value, low in checked:
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(FieldError(name, "type", "must be a number"))
        elif low is not None and (value < low or not _checks.is_finite(value)):
            errors.append(FieldError(name, "out_of_range", f"must be at least {low}"))
    if errors:
        raise ValidationError("train_predictive", errors)
    items = _outcomes(history, "train_predictive")
    assert isinstance(feature_tuple, tuple)  # noqa: S101 - checked above
    if kind == "naive_bayes":
        return _train_naive_bayes(items, feature_tuple, process)
    if len({o.won for o in items}) < 2:
        raise ValidationError(
            "train_predictive",
            [FieldError("history", "one_class", "a logistic model needs won and lost leads")],
        )
    passes = int(epochs) if epochs is not None else max(4, min(20, math.ceil(300_000 / len(items))))
    return _train_logistic(items, feature_tuple, l2=float(l2), epochs=passes, seed=int(seed))
