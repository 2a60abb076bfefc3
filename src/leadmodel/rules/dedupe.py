"""Finding duplicates: a whole table at once, or one record against an index.

:func:`find_duplicates` blocks records on the rule's keys, compares the pairs that share a
key, and clusters matches with union-find into :class:`DuplicateGroup` values whose order
does not depend on the input order. :class:`DuplicateIndex` keeps records keyed for
one-at-a-time checks (web capture, import).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import (
    FieldError,
    RecordExists,
    RecordNotFound,
    ValidationError,
    describe_value,
)
from leadmodel.rules._gc import gc_paused
from leadmodel.rules._parallel import prepare_all
from leadmodel.rules.matching import CompiledRule, MatchingRule, MatchResult, Prepared, record_id

__all__ = [
    "DuplicateGroup",
    "DuplicateIndex",
    "MatchEdge",
    "Progress",
    "estimate_weights",
    "find_duplicates",
]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; stages are ``"prepare"`` and ``"compare"``."""

_PROGRESS_EVERY: Final = 10_000


@attrs.frozen
class MatchEdge:
    """Two records the rule matched, and why (``a_id`` sorts before ``b_id`` in groups)."""

    a_id: str
    b_id: str
    result: MatchResult

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class DuplicateGroup:
    """Records that are duplicates of each other, directly or through a chain of matches.

    ``ids`` is sorted and has at least two members; ``edges`` are the matches found
    between them, sorted by their ids.
    """

    _repr_html_ = result_html

    ids: tuple[str, ...]
    edges: tuple[MatchEdge, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _compiled(rule: MatchingRule | CompiledRule) -> CompiledRule:
    if isinstance(rule, CompiledRule):
        return rule
    if isinstance(rule, MatchingRule):
        return rule.compile()
    raise ValidationError(
        "find_duplicates",
        [FieldError("rule", "type", f"must be a MatchingRule, not {type(rule).__name__}")],
    )


def _block(
    compiled: CompiledRule, items: list[object], progress: Progress | None
) -> tuple[list[Prepared], dict[tuple[Any, ...], list[int]]]:
    """Prepare every record once and bucket record numbers by blocking key.

    Large tables are prepared on several cores (see :mod:`leadmodel.rules._parallel`),
    with the same result. Only the buckets of two or more records are returned.
    """
    prepared: list[Prepared] = []
    buckets: dict[tuple[Any, ...], int | list[int]] = {}
    for index, (values, keys) in enumerate(prepare_all(compiled, items, progress)):
        prepared.append(values)
        for key in keys:
            # Most keys belong to one record: keep its number, make a list only for two.
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = index
            elif bucket.__class__ is int:
                buckets[key] = [bucket, index]
            else:
                bucket.append(index)  # type: ignore[union-attr]
    shared = {key: bucket for key, bucket in buckets.items() if isinstance(bucket, list)}
    return prepared, shared


def _usable(
    buckets: dict[tuple[Any, ...], list[int]], cap: int | None
) -> dict[tuple[Any, ...], list[int]]:
    """The buckets that hold a pair and are not over the key cap."""
    return {
        key: members
        for key, members in buckets.items()
        if len(members) > 1 and (cap is None or len(members) <= cap)
    }


def _add_pairs(pairs: set[tuple[int, int]], members: list[int]) -> None:
    """Add every pair of *members* (ascending record numbers) to *pairs*."""
    size = len(members)
    for x in range(size):
        first = members[x]
        for y in range(x + 1, size):
            pairs.add((first, members[y]))


def _find(parents: list[int], i: int) -> int:
    while parents[i] != i:
        parents[i] = parents[parents[i]]
        i = parents[i]
    return i


def find_duplicates(
    records: Iterable[object],
    rule: MatchingRule | CompiledRule,
    *,
    progress: Progress | None = None,
) -> list[DuplicateGroup]:
    """Group the duplicates among *records* (entities or mappings with an ``"id"``).

    Records sharing a blocking key of the rule are compared; a key shared by more than
    the rule's ``key_cap`` records is skipped as too common. Matches are clustered
    transitively. The result does not depend on the order of *records*: groups are
    ordered by their first id and hold no single record. Python's cyclic garbage
    collector is paused during the call (and restored), as the work creates millions of
    small acyclic objects.

    >>> from leadmodel import EmailAddress, Lead, STANDARD_LEAD_RULE
    >>> leads = [
    ...     Lead(
    ...         id="3",
    ...         first_name="Bob",
    ...         last_name="Smith",
    ...         company="Acme",
    ...         email=EmailAddress.parse("bob@acme.com"),
    ...     ),
    ...     Lead(
    ...         id="1",
    ...         first_name="Robert",
    ...         last_name="Smith",
    ...         company="Acme Inc.",
    ...         email=EmailAddress.parse("Bob@Acme.com"),
    ...     ),
    ...     Lead(id="2", first_name="Ann", last_name="Lee", company="Other"),
    ... ]
    >>> [group.ids for group in find_duplicates(leads, STANDARD_LEAD_RULE)]
    [('1', '3')]

    Raises:
        ValidationError: a record without a string id, two records with the same id, or
            a rule that is not a matching rule, *records* not an iterable or *progress*
            not a function of ``(stage, done, total)``.
    """
    compiled = _compiled(rule)
    _checks.require_iterable(
        records, "an iterable of records", function="find_duplicates", path="records"
    )
    if progress is not None:
        _checks.require_callback(
            progress, ("stage", "done", "total"), function="find_duplicates", path="progress"
        )
    with gc_paused():
        return _find_duplicates(records, compiled, progress)


def _find_duplicates(
    records: Iterable[object], compiled: CompiledRule, progress: Progress | None
) -> list[DuplicateGroup]:
    if isinstance(records, str | bytes) or not isinstance(records, Iterable):
        raise ValidationError(
            "find_duplicates",
            [
                FieldError(
                    "records",
                    "type",
                    f"must be an iterable of records, not {type(records).__name__}",
                )
            ],
        )
    items = list(records)
    ids = [record_id(record) for record in items]
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)
        raise ValidationError(
            "find_duplicates",
            [
                FieldError(
                    "records",
                    "duplicate_id",
                    f"ids must be unique; repeated: {describe_value(repeated[:10])}",
                )
            ],
        )
    # Sorting by id makes every later step independent of the input order.
    order = sorted(range(len(items)), key=ids.__getitem__)
    items = [items[i] for i in order]
    ids = [ids[i] for i in order]
    total = len(items)
    prepared, buckets = _block(compiled, items, progress)
    pairs: set[tuple[int, int]] = set()
    for members in _usable(buckets, compiled.rule.key_cap).values():
        _add_pairs(pairs, members)
    parents = list(range(total))
    edges: list[tuple[int, int, MatchResult]] = []
    pair_count = len(pairs)
    # Union by the smaller root gives the same clusters in any pair order; edges are
    # sorted at the end, so the set's order never shows.
    for done, (i, j) in enumerate(pairs, start=1):
        result = compiled.match_prepared(prepared[i], prepared[j])
        if result is not None:
            edges.append((i, j, result))
            root_i, root_j = _find(parents, i), _find(parents, j)
            if root_i != root_j:
                parents[max(root_i, root_j)] = min(root_i, root_j)
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("compare", done, pair_count)
    if progress is not None:
        progress("compare", pair_count, pair_count)
    # (i, j) pairs are unique, so sorting the edge tuples never compares two results.
    edges.sort()
    members_of: dict[int, set[int]] = {}
    edges_of: dict[int, list[MatchEdge]] = {}
    for i, j, result in edges:
        root = _find(parents, i)
        group = members_of.get(root)
        if group is None:
            members_of[root] = {i, j}
            edges_of[root] = [MatchEdge(ids[i], ids[j], result)]
        else:
            group.update((i, j))
            edges_of[root].append(MatchEdge(ids[i], ids[j], result))
    return [
        DuplicateGroup(
            ids=tuple(ids[i] for i in sorted(members_of[root])), edges=tuple(edges_of[root])
        )
        for root in sorted(members_of)
    ]


class DuplicateIndex:
    """Records kept by their blocking keys, for checking one record at a time.

    ``matches(record)`` compares the record only with indexed records that share one of
    its keys, so a check costs about the same against a thousand records or a million.

    >>> from leadmodel import EmailAddress, Lead, STANDARD_LEAD_RULE
    >>> index = DuplicateIndex(STANDARD_LEAD_RULE)
    >>> index.add(
    ...     Lead(
    ...         id="1",
    ...         first_name="Ann",
    ...         last_name="Lee",
    ...         company="Acme",
    ...         email=EmailAddress.parse("ann@acme.com"),
    ...     )
    ... )
    >>> new = Lead(
    ...     id="2",
    ...     first_name="Anne",
    ...     last_name="Lee",
    ...     company="Acme Corp",
    ...     email=EmailAddress.parse("ANN@acme.com"),
    ... )
    >>> [(m.b_id, m.result.clause) for m in index.matches(new)]
    [('1', 'first_name AND last_name AND email')]
    """

    def __init__(self, rule: MatchingRule | CompiledRule, records: Iterable[object] = ()) -> None:
        self._rule = _compiled(rule)
        _checks.require_iterable(
            records, "an iterable of records", function="DuplicateIndex", path="records"
        )
        self._prepared: dict[str, Prepared] = {}
        self._keys_of: dict[str, tuple[str, ...]] = {}
        self._by_key: dict[str, set[str]] = {}
        with gc_paused():
            for record in records:
                self.add(record)

    @property
    def rule(self) -> MatchingRule:
        """The matching rule the index applies."""
        return self._rule.rule

    def __len__(self) -> int:
        return len(self._prepared)

    def __contains__(self, record_id_: object) -> bool:
        return record_id_ in self._prepared

    def add(self, record: object) -> None:
        """Index *record*; :class:`~leadmodel.RecordExists` if its id is indexed already."""
        rid = record_id(record)
        if rid in self._prepared:
            raise RecordExists("record", rid)
        self._insert(rid, record)

    def _insert(self, rid: str, record: object) -> None:
        self._prepared[rid], keys = self._rule.prepare_keyed(record)
        self._keys_of[rid] = keys
        for key in keys:
            self._by_key.setdefault(key, set()).add(rid)

    def remove(self, record_id_: str) -> None:
        """Drop the record with this id; :class:`~leadmodel.RecordNotFound` if absent."""
        if record_id_ not in self._prepared:
            raise RecordNotFound("record", str(record_id_))
        del self._prepared[record_id_]
        for key in self._keys_of.pop(record_id_):
            members = self._by_key[key]
            members.discard(record_id_)
            if not members:
                del self._by_key[key]

    def update(self, record: object) -> None:
        """Re-index a changed record; :class:`~leadmodel.RecordNotFound` if absent."""
        rid = record_id(record)
        self.remove(rid)
        self._insert(rid, record)

    def candidates(self, record: object) -> list[str]:
        """The ids sharing a key with *record* (skipping keys over the cap), sorted."""
        return self._candidates(self._rule.keys(record), _optional_id(record))

    def _candidates(self, keys: tuple[str, ...], own: str) -> list[str]:
        cap = self._rule.rule.key_cap
        found: set[str] = set()
        for key in keys:
            members = self._by_key.get(key)
            if members and (cap is None or len(members) <= cap):
                found.update(members)
        found.discard(own)
        return sorted(found)

    def matches(self, record: object, *, limit: int | None = None) -> list[MatchEdge]:
        """The indexed records that match *record*, best first (then by id).

        *record* need not have an id yet (a web form submission); each edge's ``a_id``
        is its id or ``""``.
        """
        own = _optional_id(record)
        prepared, keys = self._rule.prepare_keyed(record)
        found = []
        for candidate in self._candidates(keys, own):
            result = self._rule.match_prepared(prepared, self._prepared[candidate])
            if result is not None:
                found.append(MatchEdge(own, candidate, result))
        found.sort(key=lambda edge: (-edge.result.score, edge.b_id))
        return found if limit is None else found[:limit]


def _optional_id(record: object) -> str:
    try:
        return record_id(record)
    except ValidationError:
        return ""


_EPSILON: Final = 1e-4
_RANDOM_PAIRS: Final = 200_000


def _clamp(values: list[float]) -> tuple[float, ...]:
    total = sum(values)
    shares = [min(max(v / total if total else 0.0, _EPSILON), 1 - _EPSILON) for v in values]
    scale = sum(shares)
    return tuple(min(max(v / scale, _EPSILON), 1 - _EPSILON) for v in shares)


def estimate_weights(
    records: Iterable[object],
    rule: MatchingRule,
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> MatchingRule:
    """Learn a rule's Fellegi–Sunter weights from unlabelled records (Splink's idea).

    *u* (how often each agreement level happens between unrelated records) is counted
    on a deterministic spread of record pairs, almost all of them non-matches; *m* (how
    often it happens between true matches) and the share of matches among the pairs the
    blocking keys propose are found by expectation–maximisation over those pairs. Blank
    fields count neither way. Returns the rule in probabilistic mode with *m*, *u* and
    *prior* filled in; no labels, clock or randomness are involved.

    Raises:
        ValidationError: not a matching rule, records without ids, or too few records to
            learn from (fewer than two, or no candidate pairs).
    """
    if not isinstance(rule, MatchingRule):
        raise ValidationError(
            "estimate_weights",
            [FieldError("rule", "type", f"must be a MatchingRule, not {type(rule).__name__}")],
        )
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or not 1 <= max_iterations <= 10_000
    ):
        raise ValidationError(
            "estimate_weights",
            [FieldError("max_iterations", "out_of_range", "must be an int from 1 to 10000")],
        )
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not 0 <= tolerance <= 1  # also refuses NaN
    ):
        raise ValidationError(
            "estimate_weights",
            [FieldError("tolerance", "out_of_range", "must be a number from 0 to 1")],
        )
    _checks.require_iterable(
        records, "an iterable of records", function="estimate_weights", path="records"
    )
    compiled = attrs.evolve(rule, mode="deterministic").compile()
    with gc_paused():
        items = list(records)
        for record in items:
            record_id(record)
        prepared, buckets = _block(compiled, items, None)
        # Pairs per blocking key: the fields a key is made of agree on its pairs by
        # construction, so each key's pairs teach only about the other fields.
        pairs_by_key: dict[int, set[tuple[int, int]]] = {}
        for key, members in _usable(buckets, rule.key_cap).items():
            _add_pairs(pairs_by_key.setdefault(key[0], set()), members)
        total = len(items)
        if total < 2 or not pairs_by_key:
            raise ValidationError(
                "estimate_weights",
                [FieldError("records", "too_few", "needs records whose blocking keys meet")],
            )
        by_key = {
            number: Counter(compiled.levels_prepared(prepared[i], prepared[j]) for i, j in pairs)
            for number, pairs in pairs_by_key.items()
        }
        every_pair = set().union(*pairs_by_key.values())
        candidates = Counter(
            compiled.levels_prepared(prepared[i], prepared[j]) for i, j in every_pair
        )
        spread = Counter(
            compiled.levels_prepared(prepared[i], prepared[(i * 7919 + 104_729) % total])
            for i in range(min(total, _RANDOM_PAIRS))
            if (i * 7919 + 104_729) % total != i
        )
    blocked_fields = {
        number: {
            f
            for f, matcher in enumerate(rule.matchers)
            for part in rule.blocking[number - 1].parts
            if part.split(":")[0] in (matcher.field, *matcher.aliases)
        }
        for number in by_key
    }
    return _fit(
        rule,
        by_key,
        blocked_fields,
        candidates,
        spread,
        max_iterations=max_iterations,
        tolerance=tolerance,
    )


def _em(
    vectors: list[tuple[tuple[int | None, ...], int]],
    m: list[tuple[float, ...]],
    u: list[tuple[float, ...]],
    free: set[int],
    *,
    iterations: int,
    tolerance: float,
) -> tuple[list[tuple[float, ...]], list[float]]:
    """EM over level vectors: *m* of the *free* fields, and each field's evidence."""
    sizes = [len(levels) for levels in m]
    prior = 0.1
    observed = [0.0] * len(sizes)
    for _ in range(iterations):
        expected = [[0.0] * size for size in sizes]
        observed = [0.0] * len(sizes)
        matched_total = pair_total = 0.0
        for vector, count in vectors:
            match_p, other_p = prior, 1 - prior
            for f in free:
                level = vector[f]
                if level is not None:
                    match_p *= m[f][level]
                    other_p *= u[f][level]
            weight = match_p / (match_p + other_p) * count
            matched_total += weight
            pair_total += count
            for f in free:
                level = vector[f]
                if level is not None:
                    expected[f][level] += weight
                    observed[f] += weight
        new_m = [
            _clamp(expected[f]) if f in free and observed[f] > 0 else m[f]
            for f in range(len(sizes))
        ]
        new_prior = min(max(matched_total / pair_total, _EPSILON), 1 - _EPSILON)
        moves = [
            abs(a - b)
            for old, new in zip(m, new_m, strict=True)
            for a, b in zip(old, new, strict=True)
        ]
        change = max(abs(new_prior - prior), *moves)
        m, prior = new_m, new_prior
        if change < tolerance:
            break
    return m, observed


def _fit(
    rule: MatchingRule,
    by_key: dict[int, Counter[tuple[int | None, ...]]],
    blocked_fields: dict[int, set[int]],
    candidates: Counter[tuple[int | None, ...]],
    spread: Counter[tuple[int | None, ...]],
    *,
    max_iterations: int,
    tolerance: float,
) -> MatchingRule:
    sizes = [len(m.agreement_levels) + 1 for m in rule.matchers]
    u: list[tuple[float, ...]] = []
    for f, size in enumerate(sizes):
        counts = [1.0] * size  # add-one smoothing
        for vector, count in spread.items():
            level = vector[f]
            if level is not None:
                counts[level] += count
        u.append(_clamp(counts))
    start = [_clamp([0.9] + [0.1 / (size - 1)] * (size - 1)) for size in sizes]
    # The m of each field: the evidence-weighted mean of its estimates from the keys that
    # do not contain it.
    sums = [[0.0] * size for size in sizes]
    evidence = [0.0] * len(sizes)
    for number, key_vectors in sorted(by_key.items()):
        free = set(range(len(sizes))) - blocked_fields[number]
        if not free:
            continue
        m, observed = _em(
            list(key_vectors.items()),
            start,
            u,
            free,
            iterations=max_iterations,
            tolerance=tolerance,
        )
        for f in free:
            evidence[f] += observed[f]
            for level, value in enumerate(m[f]):
                sums[f][level] += value * observed[f]
    m = [_clamp(sums[f]) if evidence[f] > 0 else start[f] for f in range(len(sizes))]
    prior = _prior_with(m, u, list(candidates.items()), max_iterations, tolerance)
    matchers = tuple(
        attrs.evolve(matcher, m=m[f], u=u[f]) for f, matcher in enumerate(rule.matchers)
    )
    return attrs.evolve(rule, matchers=matchers, mode="probabilistic", prior=prior)


def _prior_with(
    m: list[tuple[float, ...]],
    u: list[tuple[float, ...]],
    vectors: list[tuple[tuple[int | None, ...], int]],
    max_iterations: int,
    tolerance: float,
) -> float:
    """The share of matches among candidate pairs, with *m* and *u* fixed (EM on it)."""
    prior = 0.1
    for _ in range(max_iterations):
        matched = total = 0.0
        for vector, count in vectors:
            match_p, other_p = prior, 1 - prior
            for f, level in enumerate(vector):
                if level is not None:
                    match_p *= m[f][level]
                    other_p *= u[f][level]
            matched += match_p / (match_p + other_p) * count
            total += count
        new_prior = min(max(matched / total, _EPSILON), 1 - _EPSILON)
        if abs(new_prior - prior) < tolerance:
            return new_prior
        prior = new_prior
    return prior
