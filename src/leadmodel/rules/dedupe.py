"""Finding duplicates: a whole table at once, or one record against an index.

:func:`find_duplicates` blocks records on the rule's keys, compares the pairs that share a
key, and clusters matches with union-find into :class:`DuplicateGroup` values whose order
does not depend on the input order. A block larger than the rule's ``key_cap`` is compared
with a sorted-neighbourhood window instead of pair by pair, so every search costs
O(n·w) for the rule's ``window`` w; :func:`find_duplicates_report` tells which blocks were
oversized. :class:`DuplicateIndex` keeps records keyed for one-at-a-time checks (web
capture, import), under the same block-size policy.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import (
    FieldError,
    RecordExists,
    RecordNotFound,
    ValidationError,
)
from leadmodel.rules._blocking import block as _block
from leadmodel.rules._blocking import by_id
from leadmodel.rules._gc import gc_paused
from leadmodel.rules.calibration import learn_weights
from leadmodel.rules.matching import CompiledRule, MatchingRule, MatchResult, Prepared, record_id

__all__ = [
    "DedupeRun",
    "DuplicateGroup",
    "DuplicateIndex",
    "MatchEdge",
    "OversizedBlock",
    "Progress",
    "estimate_weights",
    "find_duplicates",
    "find_duplicates_report",
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


@attrs.frozen
class OversizedBlock:
    """A blocking key shared by more records than the rule's ``key_cap``.

    Its records were compared with a sorted-neighbourhood window rather than pair by pair:
    sorted on their prepared values (``passes`` orders, ties by id), each with the next
    ``window - 1`` records of each order.

    Attributes:
        key: the key's text, as :meth:`~leadmodel.rules.matching.CompiledRule.keys` gives it.
        size: how many records share it.
        method: how its records were compared: ``"sorted_neighbourhood"``.
        window: the window used.
        passes: how many sort orders were walked.
        pairs: the pairs the block proposed for comparison.
    """

    _repr_html_ = result_html

    key: str
    size: int
    method: Literal["sorted_neighbourhood"] = "sorted_neighbourhood"
    window: int = 2
    passes: int = 2
    pairs: int = 0

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class DedupeRun:
    """What :func:`find_duplicates_report` found, and what it cost.

    Attributes:
        groups: the duplicate groups, as :func:`find_duplicates` returns them.
        oversized: the blocks over the rule's ``key_cap``, sorted by key (empty when every
            block was compared pair by pair).
        records: how many records were searched.
        candidate_pairs: the pairs the blocks proposed, counted per block (a pair that
            shares two keys counts twice).
        comparisons: the distinct pairs compared (each at most once); never more than
            the sum over keys of ``size * (size - 1) / 2`` for a block within the cap and
            ``2 * size * (window - 1)`` for an oversized one.
        matches: the compared pairs the rule matched.
    """

    _repr_html_ = result_html

    groups: tuple[DuplicateGroup, ...]
    oversized: tuple[OversizedBlock, ...] = ()
    records: int = 0
    candidate_pairs: int = 0
    comparisons: int = 0
    matches: int = 0

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


def _add_pairs(pairs: set[tuple[int, int]], members: list[int]) -> None:
    """Add every pair of *members* (ascending record numbers) to *pairs*."""
    size = len(members)
    for x in range(size):
        first = members[x]
        for y in range(x + 1, size):
            pairs.add((first, members[y]))


_PASSES: Final = 2
_BLANK_LAST: Final = "\U0010ffff"  # blank values sort after every value


_Ordering = tuple[tuple[int, int] | None, tuple[int, ...]]
"""How a rule sorts an oversized block: its name fields, and the field order of pass 2."""


def _ordering(compiled: CompiledRule) -> _Ordering:
    """How *compiled* sorts an oversized block.

    The matcher numbers of the first and last name (when the rule compares them swapped),
    and the order of the fields in the second sort key: the matchers reversed, except
    that a field which is a blocking key by itself (``BlockingKey(("email",))``) goes
    last, as its equal values meet in their own block already and sorting on it would
    only put unrelated records side by side.
    """
    rule = compiled.rule
    fields = [m.field.rpartition(".")[2] for m in rule.matchers]
    names = None
    if rule.transpose_names and "first_name" in fields and "last_name" in fields:
        names = fields.index("first_name"), fields.index("last_name")
    alone = {key.parts[0] for key in rule.blocking if len(key.parts) == 1}
    keyed = [i for i, m in enumerate(rule.matchers) if m.field in alone]
    second = [i for i in reversed(range(len(fields))) if i not in keyed] + keyed
    return names, tuple(second)


def _sort_keys(values: Prepared, ordering: _Ordering) -> tuple[str, str]:
    """A record's two sort keys in an oversized block.

    Its prepared values in matcher order, and in the rule's second order (see
    :func:`_ordering`); blank values sort last. When the rule compares names swapped, the
    first and last name are put in alphabetical order, so "Ann Lee" and "Lee Ann" sort
    together.
    """
    forward = [_BLANK_LAST if value is None else value for value in values]
    names, second = ordering
    if names is not None:
        first, last = names
        if forward[last] < forward[first]:
            forward[first], forward[last] = forward[last], forward[first]
    # Joined, the values compare as their tuple would (the separator sorts before any
    # character of a normalised value), and faster.
    return "\x00".join(forward), "\x00".join([forward[i] for i in second])


def _key_text(compiled: CompiledRule, key: tuple[Any, ...]) -> str:
    return f"{compiled.rule.name}#{key[0]}:{'|'.join(key[1:])}"


def _block_pairs(
    compiled: CompiledRule,
    prepared: list[Prepared],
    buckets: dict[tuple[Any, ...], list[int]],
) -> tuple[set[tuple[int, int]], list[OversizedBlock], int]:
    """The pairs to compare under the rule's block-size policy (``key_cap``, ``window``).

    A block within the cap gives all its pairs; an oversized one gives, in each of two
    sort orders of its members, each member with the next ``window - 1``. Returns the
    pairs (``(i, j)`` with ``i < j``), the oversized blocks and the pairs proposed.
    """
    rule = compiled.rule
    cap, window = rule.key_cap, rule.window
    pairs: set[tuple[int, int]] = set()
    oversized: list[OversizedBlock] = []
    proposed = 0
    # Per sort order, each member's sort key (made once, for members of oversized blocks).
    sort_keys: tuple[dict[int, str], ...] = tuple({} for _ in range(_PASSES))
    ordering = _ordering(compiled)
    for key, members in buckets.items():
        size = len(members)
        if size < 2:
            continue
        if cap is None or size <= cap:
            _add_pairs(pairs, members)
            proposed += size * (size - 1) // 2
            continue
        known = sort_keys[0]
        for i in members:
            if i not in known:
                made = _sort_keys(prepared[i], ordering)
                for keys_of, value in zip(sort_keys, made, strict=True):
                    keys_of[i] = value
        block_pairs = 0
        for order in range(_PASSES):
            # Members are in ascending record number, and the sort is stable: ties
            # stay in id order.
            ranked = sorted(members, key=sort_keys[order].__getitem__)
            for x in range(size - 1):
                first = ranked[x]
                for second in ranked[x + 1 : x + window]:
                    pairs.add((first, second) if first < second else (second, first))
                    block_pairs += 1
        proposed += block_pairs
        oversized.append(
            OversizedBlock(
                _key_text(compiled, key), size, window=window, passes=_PASSES, pairs=block_pairs
            )
        )
    oversized.sort(key=lambda block: block.key)
    return pairs, oversized, proposed


def _find(parents: list[int], i: int) -> int:
    while parents[i] != i:
        parents[i] = parents[parents[i]]
        i = parents[i]
    return i


def _groups(
    ids: list[str], parents: list[int], edges: list[tuple[int, int, MatchResult]]
) -> tuple[DuplicateGroup, ...]:
    """The groups of *edges* (``(i, j, result)`` with ``i < j``, each pair once).

    *ids* are sorted and *parents* is the union-find forest the edges built (union by
    the smaller root), so each group's root is its first record: groups come ordered by
    their first id, their edges by their ids.
    """
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
    return tuple(
        DuplicateGroup(
            ids=tuple(ids[i] for i in sorted(members_of[root])), edges=tuple(edges_of[root])
        )
        for root in sorted(members_of)
    )


def _union(parents: list[int], i: int, j: int) -> None:
    """Join the sets of *i* and *j*, under the smaller root (any order gives the same sets)."""
    root_i, root_j = _find(parents, i), _find(parents, j)
    if root_i != root_j:
        parents[max(root_i, root_j)] = min(root_i, root_j)


def find_duplicates(
    records: Iterable[object],
    rule: MatchingRule | CompiledRule,
    *,
    progress: Progress | None = None,
) -> list[DuplicateGroup]:
    """Group the duplicates among *records* (entities or mappings with an ``"id"``).

    Records sharing a blocking key of the rule are compared: pair by pair while the key
    holds at most the rule's ``key_cap`` records, with a sorted-neighbourhood window
    (the rule's ``window``) above it, so the cost stays O(n·w) however the keys are
    distributed and no block is skipped (:func:`find_duplicates_report` names the
    oversized blocks). Matches are clustered transitively. The result does not depend on
    the order of *records*: groups are ordered by their first id and hold no single record.
    Python's cyclic garbage collector is paused during the call (and restored), as the
    work creates millions of small acyclic objects.

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
    return list(_report("find_duplicates", records, rule, progress).groups)


def find_duplicates_report(
    records: Iterable[object],
    rule: MatchingRule | CompiledRule,
    *,
    progress: Progress | None = None,
) -> DedupeRun:
    """:func:`find_duplicates`, with what the search met and did: a :class:`DedupeRun`.

    Besides the groups, it names the blocks over the rule's ``key_cap`` (compared with a
    sorted-neighbourhood window, not skipped) and counts the records, the candidate pairs
    and the comparisons.

    >>> from leadmodel import MatchingRule, FieldMatcher, BlockingKey
    >>> rule = MatchingRule(
    ...     "same_phone_and_name",
    ...     [FieldMatcher("last_name"), FieldMatcher("phone")],
    ...     blocking=[BlockingKey(("phone",))],
    ...     key_cap=3,
    ...     window=2,
    ... )
    >>> records = [
    ...     {"id": str(i), "last_name": name, "phone": "+1 415 555 0100"}
    ...     for i, name in enumerate(["Lee", "Ng", "Lee", "Ortiz", "Smith"])
    ... ]
    >>> run = find_duplicates_report(records, rule)
    >>> [group.ids for group in run.groups]
    [('0', '2')]
    >>> [(block.key, block.size, block.method) for block in run.oversized]
    [('same_phone_and_name#1:+14155550100', 5, 'sorted_neighbourhood')]
    >>> run.records, run.comparisons  # each with the next in its sort order, not 10 pairs
    (5, 4)

    Raises:
        ValidationError: as :func:`find_duplicates`.
    """
    return _report("find_duplicates_report", records, rule, progress)


def _report(
    function: str,
    records: Iterable[object],
    rule: MatchingRule | CompiledRule,
    progress: Progress | None,
) -> DedupeRun:
    compiled = _compiled(rule)
    _checks.require_iterable(records, "an iterable of records", function=function, path="records")
    if progress is not None:
        _checks.require_callback(
            progress, ("stage", "done", "total"), function=function, path="progress"
        )
    # Each run remembers its own field comparisons: its cost does not depend on the runs
    # before it.
    compiled.forget_comparisons()
    with gc_paused():
        return _find_duplicates(function, records, compiled, progress)


def _find_duplicates(
    function: str, records: Iterable[object], compiled: CompiledRule, progress: Progress | None
) -> DedupeRun:
    if isinstance(records, str | bytes) or not isinstance(records, Iterable):
        raise ValidationError(
            function,
            [
                FieldError(
                    "records",
                    "type",
                    f"must be an iterable of records, not {type(records).__name__}",
                )
            ],
        )
    # Sorting by id makes every later step independent of the input order.
    items, ids = by_id(function, records)
    total = len(items)
    prepared, buckets = _block(compiled, items, progress)
    pairs, oversized, proposed = _block_pairs(compiled, prepared, buckets)
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
    groups = _groups(ids, parents, edges)
    return DedupeRun(
        groups=groups,
        oversized=tuple(oversized),
        records=total,
        candidate_pairs=proposed,
        comparisons=pair_count,
        matches=len(edges),
    )


class DuplicateIndex:
    """Records kept by their blocking keys, for checking one record at a time.

    ``matches(record)`` compares the record only with indexed records that share one of
    its keys, so a check costs about the same against a thousand records or a million.
    A key shared by more records than the rule's ``key_cap`` is kept in its two sort
    orders (those of :func:`find_duplicates`' oversized blocks), and a record meets only
    its ``window - 1`` nearest neighbours on each side in each order, so a check costs
    O(keys · window) however large a block grows; adding or removing a record inserts it
    into those sorted lists by bisection (no re-sorting).

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
        self._by_key: dict[str, str | set[str]] = {}
        # Oversized keys only: their members in each sort order, as (sort key, id).
        self._sorted: dict[str, tuple[list[tuple[str, str]], ...]] = {}
        self._ordering = _ordering(self._rule)
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
        return isinstance(record_id_, str) and record_id_ in self._prepared

    def add(self, record: object) -> None:
        """Index *record*; :class:`~leadmodel.RecordExists` if its id is indexed already."""
        rid = record_id(record)
        if rid in self._prepared:
            raise RecordExists("record", rid)
        self._insert(rid, record)

    def _insert(self, rid: str, record: object) -> None:
        self._prepared[rid], keys = self._rule.prepare_keyed(record)
        self._keys_of[rid] = keys
        cap = self._rule.rule.key_cap
        by_key, sorted_ = self._by_key, self._sorted
        mine = None
        for key in keys:
            members = by_key.get(key)
            if members is None:
                # Most keys belong to one record: keep its id, make a set only for two.
                by_key[key] = rid
                continue
            if members.__class__ is str:
                by_key[key] = members = {members, rid}
            else:
                members.add(rid)  # type: ignore[union-attr]
            orders = sorted_.get(key)
            if orders is not None:
                if mine is None:
                    mine = self._entries(rid)
                for order, entry in zip(orders, mine, strict=True):
                    bisect.insort(order, entry)
            elif cap is not None and len(members) > cap:
                # The block just outgrew the cap: sort it once, then keep it sorted.
                entries = [self._entries(member) for member in members]
                sorted_[key] = tuple(
                    sorted(entry[order] for entry in entries) for order in range(_PASSES)
                )

    def _entries(self, rid: str) -> tuple[tuple[str, str], ...]:
        """The record's place in each sort order of an oversized block."""
        return tuple(
            (sort_key, rid) for sort_key in _sort_keys(self._prepared[rid], self._ordering)
        )

    def remove(self, record_id_: str) -> None:
        """Drop the record with this id; :class:`~leadmodel.RecordNotFound` if absent."""
        if record_id_ not in self:  # an unhashable id is absent too, not a TypeError
            raise RecordNotFound("record", str(record_id_)[:200])
        cap = self._rule.rule.key_cap
        for key in self._keys_of.pop(record_id_):
            members = self._by_key[key]
            if members.__class__ is str:
                del self._by_key[key]
                continue
            members.discard(record_id_)  # type: ignore[union-attr]
            orders = self._sorted.get(key)
            if orders is not None:
                if cap is None or len(members) <= cap:
                    del self._sorted[key]
                else:
                    for order, entry in zip(orders, self._entries(record_id_), strict=True):
                        del order[bisect.bisect_left(order, entry)]
            if not members:
                del self._by_key[key]
        del self._prepared[record_id_]

    def update(self, record: object) -> None:
        """Re-index a changed record; :class:`~leadmodel.RecordNotFound` if absent."""
        rid = record_id(record)
        self.remove(rid)
        self._insert(rid, record)

    def candidates(self, record: object) -> list[str]:
        """The ids :meth:`matches` compares *record* with, sorted.

        Every id sharing a key with *record*, except in a key over the rule's
        ``key_cap``: there, its ``window - 1`` nearest neighbours on each side in each
        sort order.
        """
        prepared, keys = self._rule.prepare_keyed(record)
        return self._candidates(prepared, keys, _optional_id(record))

    def oversized(self) -> dict[str, int]:
        """The keys shared by more records than the rule's ``key_cap``, with their sizes."""
        return {key: len(self._by_key[key]) for key in sorted(self._sorted)}

    def _candidates(self, prepared: Prepared, keys: tuple[str, ...], own: str) -> list[str]:
        found: set[str] = set()
        reach = self._rule.rule.window - 1
        places: tuple[tuple[str, str], ...] | None = None
        for key in keys:
            members = self._by_key.get(key)
            if not members:
                continue
            if members.__class__ is str:
                found.add(members)
                continue
            orders = self._sorted.get(key)
            if orders is None:
                found.update(members)
                continue
            if places is None:
                places = tuple((sort_key, own) for sort_key in _sort_keys(prepared, self._ordering))
            for order, place in zip(orders, places, strict=True):
                at = bisect.bisect_left(order, place)
                # The record's own entry, wherever its indexed (perhaps older) values put
                # it, is no neighbour: it is skipped on either side, not counted.
                before = order[max(at - reach - 1, 0) : at]
                after = order[at : at + reach + 1]
                found.update([rid for _, rid in before if rid != own][-reach:])
                found.update([rid for _, rid in after if rid != own][:reach])
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
        for candidate in self._candidates(prepared, keys, own):
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


def estimate_weights(
    records: Iterable[object],
    rule: MatchingRule,
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
    frequent_values: int = 200,
) -> MatchingRule:
    """Learn a rule's Fellegi–Sunter weights from unlabelled records (Splink's idea).

    *u* (how often each agreement level happens between unrelated records) is counted
    on a deterministic spread of record pairs, almost all of them non-matches; *m* (how
    often it happens between true matches) is found by expectation–maximisation over the
    pairs each blocking key proposes, and *prior* is the probability that two records
    taken at random match, so the match probability of a pair means what it says (check
    it with :func:`~leadmodel.calibration_report`). Each field that agrees exactly at its
    first level also keeps its *frequent_values* most frequent values
    (:class:`~leadmodel.TermFrequencies`): a shared switchboard number or a common
    surname then weighs less than a rare one. Blank fields, and fields whose
    ``gated_by`` fields all disagree, count neither way.

    Cost stays O(n·w): a block of more than 51 records (a switchboard phone shared by
    2,000 leads) pairs each record with the next 50 by id rather than with all. Records
    are taken in id order, so the result depends neither on their order nor on a clock
    or randomness. Returns the rule in probabilistic mode with *m*, *u*,
    *term_frequencies* and *prior* filled in.

    Raises:
        ValidationError: not a matching rule, records without ids or with repeated ids,
            too few records to learn from (fewer than two, or no candidate pairs), or
            *max_iterations* (1–10,000), *tolerance* (0–1) or *frequent_values*
            (0–10,000) out of range.
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
    if (
        isinstance(frequent_values, bool)
        or not isinstance(frequent_values, int)
        or not 0 <= frequent_values <= 10_000
    ):
        raise ValidationError(
            "estimate_weights",
            [FieldError("frequent_values", "out_of_range", "must be an int from 0 to 10000")],
        )
    _checks.require_iterable(
        records, "an iterable of records", function="estimate_weights", path="records"
    )
    return learn_weights(
        records,
        rule,
        max_iterations=max_iterations,
        tolerance=tolerance,
        frequent_values=frequent_values,
    )
