"""Backtesting: how well a scoring model would have sorted leads whose outcome is known.

:func:`backtest` scores closed leads (:class:`~leadmodel.Outcome`) with a
:class:`~leadmodel.ScoringModel` or a predictive model and reports the conversion rate per
rating band, the lift of each score decile, the ROC AUC, and (for rule-based models) the
rules that separate converters best — so a team can compare two models before switching.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from leadmodel._html import result_html
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.rules.predictive import LogisticModel, NaiveBayesFrequencies, Outcome, _outcomes
from leadmodel.rules.scoring import ScoringModel
from leadmodel.rules.scoring import compile as compile_model

__all__ = ["Backtest", "BandStats", "DecileStats", "RuleStats", "backtest", "roc_auc"]


@attrs.frozen
class BandStats:
    """Leads rated *band* (``None``: no band) and how many of them converted."""

    band: str | None
    leads: int
    won: int
    rate: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class DecileStats:
    """One tenth of the leads by score (decile 1 = the highest scores).

    *lift* is the decile's conversion rate over the overall rate (2.0: twice as likely).
    """

    decile: int
    leads: int
    won: int
    rate: float
    lift: float
    min_score: float
    max_score: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class RuleStats:
    """How a rule separates converters.

    *rate* is the conversion rate of leads it gave points to, *rate_without* that of the
    others, and *separation* the difference.
    """

    rule: str
    leads: int
    rate: float | None
    rate_without: float | None
    separation: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class Backtest:
    """What :func:`backtest` found. *auc* is ``None`` when every lead had one outcome."""

    _repr_html_ = result_html

    model: str
    leads: int
    won: int
    rate: float
    auc: float | None
    bands: tuple[BandStats, ...] = ()
    deciles: tuple[DecileStats, ...] = ()
    rules: tuple[RuleStats, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The area under the ROC curve (``None`` without both kinds of outcome).

    The chance a random converter outscores a random non-converter (ties count half).

    >>> roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False])
    0.75

    Raises:
        ValidationError: *scores* and *labels* differ in length or hold non-numbers.
    """
    for name, given in (("scores", scores), ("labels", labels)):
        if not isinstance(given, list | tuple):
            raise ValidationError(
                "roc_auc",
                [FieldError(name, "type", f"must be a list or tuple, not {type(given).__name__}")],
            )
    if len(scores) != len(labels):
        raise ValidationError(
            "roc_auc", [FieldError("labels", "length", "must be as many as the scores")]
        )
    for i, value in enumerate(scores):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValidationError(
                "roc_auc", [FieldError(f"scores[{i}]", "type", "must be a number")]
            )
    pairs = sorted(zip(scores, (bool(label) for label in labels), strict=True))
    positives = sum(1 for _, label in pairs if label)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _rate(won: int, leads: int) -> float:
    return won / leads if leads else 0.0


def _deciles(ranked: Sequence[tuple[float, bool, str]], overall: float) -> list[DecileStats]:
    """Tenths of the leads ranked by score (highest first), with their lift."""
    deciles: list[DecileStats] = []
    groups = min(10, len(ranked))
    for d in range(groups):
        part = ranked[d * len(ranked) // groups : (d + 1) * len(ranked) // groups]
        part_won = sum(1 for _, label, _ in part if label)
        rate = _rate(part_won, len(part))
        deciles.append(
            DecileStats(
                d + 1,
                len(part),
                part_won,
                rate,
                rate / overall if overall else 0.0,
                min(s for s, _, _ in part),
                max(s for s, _, _ in part),
            )
        )
    return deciles


def backtest(
    model: ScoringModel | NaiveBayesFrequencies | LogisticModel,
    history: Iterable[Outcome],
    *,
    now: datetime | None = None,
) -> Backtest:
    """Score *history* with *model* and measure how well the scores sort converters.

    A scoring model scores each lead with its activities as of the outcome's
    *closed_at*, or *now* when it has none; a predictive model predicts with its
    activities (its score is the probability).

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Condition, FitRule, Lead, Outcome, ScoringModel
    >>> model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 50)])
    >>> history = [
    ...     Outcome(Lead(id=f"L{i}", last_name="A", company="A", source=s), won)
    ...     for i, (s, won) in enumerate([("Web", True), ("Web", False), ("Fair", False)])
    ... ]
    >>> result = backtest(model, history, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> result.auc, result.rules[0].separation
    (0.75, 0.5)

    Raises:
        ValidationError: *model* is not a model, an item of *history* is not an Outcome,
            or a scoring model meets an outcome with no *closed_at* and no *now* is given.
    """
    if not isinstance(model, ScoringModel | NaiveBayesFrequencies | LogisticModel):
        raise ValidationError(
            "backtest",
            [
                FieldError(
                    "model",
                    "type",
                    f"must be a scoring or predictive model, not {type(model).__name__}",
                )
            ],
        )
    items = _outcomes(history, "backtest")
    scores: list[float] = []
    ratings: list[str | None] = []
    contributed: list[frozenset[str]] = []
    if isinstance(model, ScoringModel):
        scorer = compile_model(model)
        for i, outcome in enumerate(items):
            as_of = outcome.closed_at or now
            if as_of is None:
                raise ValidationError(
                    "backtest",
                    [FieldError(f"history[{i}].closed_at", "required", "no closed_at and no now")],
                )
            result = scorer.score(outcome.lead, activities=outcome.activities, now=as_of)
            scores.append(result.total)
            ratings.append(result.rating)
            contributed.append(frozenset(c.rule for c in result.contributions if c.points))
        name = model.name
    else:
        scores.extend(
            model.predict(outcome.lead, activities=outcome.activities).probability
            for outcome in items
        )
        name = model.kind
    labels = [o.won for o in items]
    won = sum(labels)
    overall = _rate(won, len(items))
    bands: list[BandStats] = []
    if isinstance(model, ScoringModel):
        names: list[str | None] = [b.name for b in model.bands]
        if None in ratings:
            names.append(None)
        for band in names:
            members = [
                label for label, rating in zip(labels, ratings, strict=True) if rating == band
            ]
            bands.append(
                BandStats(band, len(members), sum(members), _rate(sum(members), len(members)))
            )
    ranked = sorted(
        zip(scores, labels, (o.lead.id for o in items), strict=True), key=lambda x: (-x[0], x[2])
    )
    deciles = _deciles(ranked, overall)
    rules: list[RuleStats] = []
    if isinstance(model, ScoringModel):
        rule_names = [r.name for r in model.fit] + [r.name for r in model.engagement]
        for rule_name in rule_names:
            hit = [
                label
                for label, names_ in zip(labels, contributed, strict=True)
                if rule_name in names_
            ]
            miss = [
                label
                for label, names_ in zip(labels, contributed, strict=True)
                if rule_name not in names_
            ]
            with_rate = _rate(sum(hit), len(hit)) if hit else None
            without_rate = _rate(sum(miss), len(miss)) if miss else None
            separation = (with_rate or 0.0) - (without_rate or 0.0) if hit and miss else 0.0
            rules.append(RuleStats(rule_name, len(hit), with_rate, without_rate, separation))
        rules.sort(key=lambda r: (-abs(r.separation), r.rule))
    return Backtest(
        name,
        len(items),
        won,
        overall,
        roc_auc(scores, labels),
        tuple(bands),
        tuple(deciles),
        tuple(rules),
    )
