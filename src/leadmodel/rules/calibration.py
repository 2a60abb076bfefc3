"""Learning a probabilistic matching rule, and checking that its probabilities are honest.

:func:`learn_weights` is the engine behind :func:`~leadmodel.estimate_weights`: Fellegi–Sunter
weights by expectation–maximisation over the pairs the rule's blocking proposes, *u* from a
deterministic spread of record pairs, term-frequency tables of each field's most frequent
values, and the probability that two records picked at random match. :func:`calibration_report`
says how far predicted match probabilities are from the observed rate of true matches
(reliability table, Brier score, expected and maximum calibration error).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

import attrs

from leadmodel._html import result_html
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.rules._blocking import block, by_id
from leadmodel.rules._gc import gc_paused
from leadmodel.rules.matching import (
    MatchingRule,
    MatchResult,
    TermFrequencies,
)

__all__ = ["CalibrationBin", "CalibrationReport", "calibrate", "calibration_report"]

_EPSILON: Final = 1e-4
_LOWEST_PRIOR: Final = 1e-12
_RANDOM_PAIRS: Final = 200_000
_WINDOW: Final = 50
"""Learning reads every pair of a block of up to 51 records; in a bigger block (a switchboard
phone shared by 2,000 leads) each record is paired with the next 50 by id, so learning costs
O(n·w), not O(n²), and stays deterministic."""
_LONGEST_FREQUENT: Final = 200  # longer values are never kept in a term-frequency table

Vector = tuple[int | None, ...]
Terms = tuple[float | None, ...]  # per field, log2 of the agreed value's frequency


def _clamp(values: list[float]) -> tuple[float, ...]:
    """Normalise *values* to probabilities, each kept within [1e-4, 1 - 1e-4]."""
    total = sum(values)
    shares = [min(max(v / total if total else 0.0, _EPSILON), 1 - _EPSILON) for v in values]
    scale = sum(shares)
    return tuple(min(max(v / scale, _EPSILON), 1 - _EPSILON) for v in shares)


def _window_pairs(members: list[int]) -> Iterable[tuple[int, int]]:
    """Every pair of a small block; each member with its next ``_WINDOW`` in a big one."""
    size = len(members)
    for x in range(size):
        first = members[x]
        for y in range(x + 1, min(size, x + 1 + _WINDOW)):
            yield first, members[y]


def _frequent(values: Iterable[str | None], limit: int) -> TermFrequencies | None:
    """The *limit* most frequent of *values* (seen twice or more) and the rest's frequency."""
    counts = Counter(v for v in values if v is not None)
    filled = sum(counts.values())
    if not filled or limit == 0:
        return None
    ranked = sorted(
        ((c, v) for v, c in counts.items() if c > 1 and len(v) <= _LONGEST_FREQUENT),
        key=lambda item: (-item[0], item[1]),
    )[:limit]
    if not ranked:
        return None
    kept = {v for _, v in ranked}
    tail = [c for v, c in counts.items() if v not in kept]
    # A value outside the table: the chance that a record holding it shares it with
    # another, averaged over those values (sum c^2 / (N sum c)); 1/N when all are kept.
    rest = sum(c * c for c in tail) / (filled * sum(tail)) if tail else 1 / filled
    return TermFrequencies(
        tuple(v for _, v in ranked), tuple(c / filled for c, _ in ranked), rest=rest
    )


def learn_weights(
    records: Iterable[object],
    rule: MatchingRule,
    *,
    max_iterations: int,
    tolerance: float,
    frequent_values: int,
) -> MatchingRule:
    """See :func:`leadmodel.estimate_weights` (arguments checked there)."""
    compiled = attrs.evolve(rule, mode="deterministic").compile()
    with gc_paused():
        # Sorting by id makes the result independent of the input order.
        items, _ = by_id("estimate_weights", records)
        total = len(items)
        prepared, buckets = block(compiled, items, None)
        every_pair: set[tuple[int, int]] = set()
        for members in buckets.values():
            every_pair.update(_window_pairs(members))
        if total < 2 or not every_pair:
            raise ValidationError(
                "estimate_weights",
                [FieldError("records", "too_few", "needs records whose blocking keys meet")],
            )
        tables = [
            _frequent((values[f] for values in prepared), frequent_values)
            if matcher.agreement_levels[0] == 100
            else None
            for f, matcher in enumerate(rule.matchers)
        ]
        frequency = [
            dict(zip(t.values, (math.log2(f) for f in t.frequencies), strict=True))
            if t is not None
            else None
            for t in tables
        ]
        rests = [math.log2(t.rest) if t is not None else 0.0 for t in tables]
        levels_of = compiled.levels_prepared
        oriented = compiled.oriented
        candidates: Counter[tuple[Vector, Terms]] = Counter()
        for i, j in every_pair:
            a, b = prepared[i], oriented(prepared[i], prepared[j])
            vector = levels_of(a, b)  # b is oriented already: orienting again keeps it
            terms = tuple(
                (found.get(a[f], rests[f]) if found is not None else None)  # type: ignore[arg-type]
                if vector[f] == 0 and found is not None and a[f] == b[f]
                else None
                for f, found in enumerate(frequency)
            )
            candidates[vector, terms] += 1
        # u reads fields ungated: a gate only decides whether the evidence counts.
        ungated = attrs.evolve(
            rule,
            mode="deterministic",
            matchers=tuple(attrs.evolve(m, gated_by=()) for m in rule.matchers),
        ).compile()
        spread = Counter(
            ungated.levels_prepared(prepared[i], prepared[(i * 7919 + 104_729) % total])
            for i in range(min(total, _RANDOM_PAIRS))
            if (i * 7919 + 104_729) % total != i
        )
    m, u, prior = _fit(
        rule,
        sorted(candidates.items(), key=_vector_order),
        spread,
        total * (total - 1) / 2,
        max_iterations=max_iterations,
        tolerance=tolerance,
    )
    matchers = tuple(
        attrs.evolve(matcher, m=m[f], u=u[f], term_frequencies=tables[f])
        for f, matcher in enumerate(rule.matchers)
    )
    return attrs.evolve(rule, matchers=matchers, mode="probabilistic", prior=prior)


def _fit(
    rule: MatchingRule,
    vectors: list[tuple[tuple[Vector, Terms], int]],
    spread: Counter[Vector],
    all_pairs: float,
    *,
    max_iterations: int,
    tolerance: float,
) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]], float]:
    """*m*, *u* and the prior: *u* from the spread, the others by EM over the candidates.

    One EM over every candidate pair, every field free, with the prior taken over all
    ``n(n-1)/2`` pairs (pairs the blocks do not propose are taken as non-matches): the
    share of matches among *all* pairs, so a pair's posterior is calibrated whatever its
    blocks. Where two records agree exactly on a value of a term-frequency table, the
    value's frequency stands in for *u* (the logarithm carried in *vectors*).
    """
    sizes = [len(m.agreement_levels) + 1 for m in rule.matchers]
    u: list[tuple[float, ...]] = []
    for f, size in enumerate(sizes):
        counts = [1.0] * size  # add-one smoothing
        for vector, count in spread.items():
            level = vector[f]
            if level is not None:
                counts[level] += count
        u.append(_clamp(counts))
    m = [_clamp([0.9] + [0.1 / (size - 1)] * (size - 1)) for size in sizes]
    # The non-match likelihood of each vector does not change: compute it once.
    others = []
    for (vector, terms), count in vectors:
        other = 0.0
        for f, level in enumerate(vector):
            if level is not None:
                term = terms[f]
                other += term if term is not None else math.log2(u[f][level])
        others.append((vector, other, count))
    candidates = sum(count for _, _, count in others)
    prior = min(max(0.5 * candidates / all_pairs, _LOWEST_PRIOR), 1 - _EPSILON)
    for _ in range(max_iterations):
        expected = [[0.0] * size for size in sizes]
        matched_total = 0.0
        log_m = [[math.log2(x) for x in row] for row in m]
        odds = math.log2(prior / (1 - prior))
        for vector, other, count in others:
            weight = odds - other
            for f, level in enumerate(vector):
                if level is not None:
                    weight += log_m[f][level]
            posterior = 1.0 / (1.0 + 2.0 ** min(-weight, 1000.0)) * count
            matched_total += posterior
            for f, level in enumerate(vector):
                if level is not None:
                    expected[f][level] += posterior
        new_m = [_clamp(row) if sum(row) > 0 else old for row, old in zip(expected, m, strict=True)]
        new_prior = min(max(matched_total / all_pairs, _LOWEST_PRIOR), 1 - _EPSILON)
        change = max(
            abs(new_prior - prior) / prior,
            *(
                abs(a - b)
                for old, new in zip(m, new_m, strict=True)
                for a, b in zip(old, new, strict=True)
            ),
        )
        m, prior = new_m, new_prior
        if change < tolerance:
            break
    return m, u, prior


def _vector_order(
    item: tuple[tuple[Vector, Terms], int],
) -> tuple[tuple[int, ...], tuple[float, ...], int]:
    """A total order of level vectors (blank sorts first), so sums add up the same way."""
    (vector, terms), count = item
    return (
        tuple(-1 if level is None else level for level in vector),
        tuple(1.0 if term is None else term for term in terms),
        count,
    )


# -- calibration report ---------------------------------------------------------------


@attrs.frozen
class CalibrationBin:
    """One bin of a reliability table: predictions from *lower* up to *upper*.

    *mean_predicted* is the mean predicted probability of its *count* pairs and
    *observed_rate* the share of them that truly match; a calibrated model has the two
    close in every bin.
    """

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class CalibrationReport:
    """How far predicted match probabilities are from how often pairs truly match.

    Attributes:
        bins: the reliability table, non-empty bins only, lowest first.
        count: how many predictions were scored.
        matches: how many of them were true matches.
        brier_score: the mean squared difference between prediction and truth (0 is
            perfect).
        expected_calibration_error: the count-weighted mean, over bins, of the gap between
            mean prediction and observed rate (0 to 1; 0 is perfectly calibrated).
        max_calibration_error: the largest such gap of a bin.
    """

    _repr_html_ = result_html

    bins: tuple[CalibrationBin, ...]
    count: int
    matches: int
    brier_score: float
    expected_calibration_error: float
    max_calibration_error: float

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def explain(self) -> str:
        """The report as text: one line of totals, then one line per bin."""
        head = (
            f"{self.count} predictions, {self.matches} true matches: "
            f"ECE {self.expected_calibration_error:.4f}, "
            f"max {self.max_calibration_error:.4f}, Brier {self.brier_score:.4f}"
        )
        lines = [head]
        lines.extend(
            f"  [{b.lower:.2f}, {b.upper:.2f}{']' if b.upper == 1 else ')'} {b.count:>8} "
            f"predicted {b.mean_predicted:.3f} observed {b.observed_rate:.3f}"
            for b in self.bins
        )
        return "\n".join(lines)


def _probability_of(item: object, index: int, function: str) -> float:
    value: object = item
    if not isinstance(item, int | float) or isinstance(item, bool):
        result = getattr(item, "result", None)
        if isinstance(result, MatchResult):
            value = result.probability
        elif isinstance(item, MatchResult):
            value = item.probability
        else:
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"pairs[{index}]",
                        "type",
                        "must be a probability, a MatchResult or a MatchEdge, "
                        f"not {type(item).__name__}",
                    )
                ],
            )
        if not isinstance(value, float | int) or isinstance(value, bool):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"pairs[{index}]",
                        "no_probability",
                        "carries no probability (compare under a probabilistic rule)",
                    )
                ],
            )
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 <= number <= 1.0:  # also refuses NaN
        raise ValidationError(
            function,
            [
                FieldError(
                    f"pairs[{index}]",
                    "out_of_range",
                    f"a probability is from 0 to 1, not {describe_value(value)}",
                )
            ],
        )
    return number


def _predictions(pairs: Any, labels: Any, function: str) -> tuple[list[float], list[bool]]:
    """The probabilities and labels, checked (see :func:`calibration_report`)."""
    for name, given in (("pairs", pairs), ("labels", labels)):
        if isinstance(given, str | bytes) or not isinstance(given, Iterable):
            raise ValidationError(
                function,
                [FieldError(name, "type", f"must be an iterable, not {type(given).__name__}")],
            )
    predicted = [_probability_of(item, i, function) for i, item in enumerate(pairs)]
    truth = list(labels)
    for i, label in enumerate(truth):
        if not isinstance(label, bool):
            raise ValidationError(
                function,
                [
                    FieldError(
                        f"labels[{i}]", "type", f"must be a bool, not {describe_value(label)}"
                    )
                ],
            )
    if len(predicted) != len(truth):
        raise ValidationError(
            function,
            [
                FieldError(
                    "labels",
                    "length",
                    f"needs one label per pair ({len(predicted)} pairs, {len(truth)} labels)",
                )
            ],
        )
    if not predicted:
        raise ValidationError(function, [FieldError("pairs", "empty", "needs at least one pair")])
    return predicted, truth


def calibration_report(
    pairs: Iterable[float | MatchResult | Any], labels: Iterable[bool], *, bins: int = 10
) -> CalibrationReport:
    """Check predicted match probabilities against the truth (reliability table).

    *pairs* are probabilities from 0 to 1, or :class:`~leadmodel.MatchResult` /
    :class:`~leadmodel.MatchEdge` values of a probabilistic rule; *labels* say, in the same
    order, whether each pair truly matches. Predictions fall into *bins* equal-width bins;
    sums are exact (``math.fsum``), so the report does not depend on the order of the
    pairs.

    >>> report = calibration_report([0.9, 0.8, 0.1, 0.2], [True, True, False, False])
    >>> report.count, report.matches, round(report.expected_calibration_error, 3)
    (4, 2, 0.15)
    >>> round(report.brier_score, 3)
    0.025

    Raises:
        ValidationError: *pairs* or *labels* not iterables (or text), of different
            lengths or empty; a prediction not a number from 0 to 1 (NaN included) or a
            result without a probability; a label not a bool; *bins* not an int from 1 to
            1,000.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 1_000:
        raise ValidationError(
            "calibration_report",
            [FieldError("bins", "out_of_range", "must be an int from 1 to 1000")],
        )
    predicted, truth = _predictions(pairs, labels, "calibration_report")
    count = len(predicted)
    members: dict[int, list[tuple[float, bool]]] = {}
    for p, label in zip(predicted, truth, strict=True):
        members.setdefault(min(int(p * bins), bins - 1), []).append((p, label))
    table = []
    for number in sorted(members):
        inside = members[number]
        table.append(
            CalibrationBin(
                lower=number / bins,
                upper=(number + 1) / bins,
                count=len(inside),
                mean_predicted=min(math.fsum(p for p, _ in inside) / len(inside), 1.0),
                observed_rate=sum(label for _, label in inside) / len(inside),
            )
        )
    gaps = [abs(b.mean_predicted - b.observed_rate) for b in table]
    return CalibrationReport(
        bins=tuple(table),
        count=count,
        matches=sum(truth),
        brier_score=math.fsum((p - label) ** 2 for p, label in zip(predicted, truth, strict=True))
        / count,
        # A weighted mean of the gaps never exceeds the largest (rounding aside).
        expected_calibration_error=min(
            math.fsum(b.count * gap for b, gap in zip(table, gaps, strict=True)) / count,
            max(gaps),
        ),
        max_calibration_error=max(gaps),
    )


# -- calibrating on labelled pairs ------------------------------------------------------

_MAX_BITS: Final = 60.0  # log-odds of a probability of exactly 0 or 1


def _bits(probability: float) -> float:
    if probability <= 0.0:
        return -_MAX_BITS
    if probability >= 1.0:
        return _MAX_BITS
    return max(-_MAX_BITS, min(_MAX_BITS, math.log2(probability / (1 - probability))))


def calibrate(
    rule: MatchingRule, pairs: Iterable[float | MatchResult | Any], labels: Iterable[bool]
) -> MatchingRule:
    """Fit *rule*'s probabilities to a labelled sample (Platt scaling); returns the new rule.

    *pairs* are what the probabilistic *rule* said about some pairs (its probabilities, or
    the :class:`~leadmodel.MatchResult` / :class:`~leadmodel.MatchEdge` values) and
    *labels* whether each pair truly matches. A logistic curve on the match weight
    (``slope * weight + intercept``, fitted by Newton's method with Platt's smoothed
    targets, so a sample that the rule already separates perfectly still gives finite
    values) is stored in the rule's ``calibration``: the rule stays plain data and
    :func:`~leadmodel.compare` stays pure. A rule calibrated before is recalibrated on
    top. The result depends neither on the order of the pairs nor on a clock or
    randomness.

    >>> from leadmodel import FieldMatcher, MatchingRule
    >>> rule = MatchingRule(
    ...     "p",
    ...     [FieldMatcher("email", m=(0.9, 0.1), u=(0.01, 0.99))],
    ...     mode="probabilistic",
    ...     prior=0.5,
    ... )
    >>> fitted = calibrate(rule, [0.99, 0.99, 0.99, 0.99, 0.09], [True, True, True, False, False])
    >>> slope, intercept = fitted.calibration
    >>> slope > 0
    True

    Raises:
        ValidationError: *rule* not a matching rule in probabilistic mode; the pairs and
            labels refused as :func:`calibration_report` refuses them; or labels that are
            all true or all false (nothing to fit).
    """
    if not isinstance(rule, MatchingRule) or rule.mode != "probabilistic":
        raise ValidationError(
            "calibrate",
            [
                FieldError(
                    "rule",
                    "type",
                    "must be a MatchingRule in probabilistic mode, "
                    f"not {describe_value(rule)[:80]}",
                )
            ],
        )
    predicted, truth = _predictions(pairs, labels, "calibrate")
    positives = sum(truth)
    if positives in {0, len(truth)}:
        raise ValidationError(
            "calibrate",
            [FieldError("labels", "one_class", "needs true matches and non-matches both")],
        )
    # Platt's targets: (N+ + 1) / (N+ + 2) for matches, 1 / (N- + 2) for the others.
    high = (positives + 1) / (positives + 2)
    low = 1 / (len(truth) - positives + 2)
    samples = sorted(
        (_bits(p) * math.log(2), high if label else low)
        for p, label in zip(predicted, truth, strict=True)
    )
    slope, intercept = _platt(samples)
    # In bits, on top of any calibration the rule had: w' = a (s w + b) + c.
    old_slope, old_intercept = rule.calibration or (1.0, 0.0)
    new_slope = min(max(slope * old_slope, 1e-6), 1_000.0)
    new_intercept = max(-1e6, min(1e6, slope * old_intercept + intercept / math.log(2)))
    return attrs.evolve(rule, calibration=(new_slope, new_intercept))


def _loss(samples: list[tuple[float, float]], a: float, b: float) -> float:
    """The cross-entropy of the logistic curve ``(a, b)`` against the targets."""
    total = []
    for x, t in samples:
        z = a * x + b
        # log(1 + e^z) - t z, computed without overflow.
        softplus = z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
        total.append(softplus - t * z)
    return math.fsum(total)


def _platt(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Slope and intercept (natural log-odds) of the logistic fit of targets on *x*.

    Newton's method with step halving, so the loss never rises; at most 100 steps.
    """
    a, b = 1.0, 0.0
    loss = _loss(samples, a, b)
    for _ in range(100):
        terms = []
        for x, t in samples:
            z = a * x + b
            p = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
            d, w = p - t, max(p * (1 - p), 1e-12)
            terms.append((d * x, d, w * x * x, w * x, w))
        g_a, g_b, h_aa, h_ab, h_bb = (math.fsum(column) for column in zip(*terms, strict=True))
        h_aa += 1e-9  # a tiny ridge keeps the system solvable when x barely varies
        h_bb += 1e-9
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        scale = 1.0
        while scale > 1e-6:
            new_loss = _loss(samples, a - scale * step_a, b - scale * step_b)
            if new_loss <= loss:
                break
            scale /= 2
        else:
            break
        a, b, loss = a - scale * step_a, b - scale * step_b, new_loss
        if abs(scale * step_a) < 1e-10 and abs(scale * step_b) < 1e-10:
            break
    return max(a, 1e-6), b
