"""Engine-neutral pieces of :func:`~leadmodel.find_duplicates`, for running it elsewhere.

A table search is three steps, each a pure function of plain, picklable values, so a
dataframe engine (Dask, Spark, a database) can run them where the data lives:

1. :func:`blocking_keys` — the rule's blocking keys of one record (map over records);
2. :func:`compare_block` — the matches among the records that share one key (group the
   records by key, then map over the groups);
3. :func:`cluster_edges` — the duplicate groups those matches make (collect the edges).

Together they give exactly what :func:`~leadmodel.find_duplicates` gives, groups and
edges alike, whatever the order of the records or of the blocks: the same block-size
policy (pair by pair up to the rule's ``key_cap``, a sorted-neighbourhood window above
it), the same comparisons, the same ordering. A pair sharing two keys is compared in
both blocks; :func:`cluster_edges` keeps it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.rules._blocking import by_id
from leadmodel.rules._gc import gc_paused
from leadmodel.rules.dedupe import (
    DuplicateGroup,
    MatchEdge,
    _block_pairs,
    _groups,
    _union,
)
from leadmodel.rules.matching import CompiledRule, MatchingRule, MatchResult

__all__ = ["blocking_keys", "cluster_edges", "compare_block"]


def _compiled(function: str, rule: object) -> CompiledRule:
    if isinstance(rule, CompiledRule):
        return rule
    if isinstance(rule, MatchingRule):
        return rule.compile()
    raise ValidationError(
        function,
        [FieldError("rule", "type", f"must be a MatchingRule, not {type(rule).__name__}")],
    )


def _escaped(part: object) -> str:
    return str(part).replace("\\", "\\\\").replace("|", "\\|")


def blocking_keys(record: object, rule: MatchingRule | CompiledRule) -> tuple[str, ...]:
    r"""The blocking keys of *record* under *rule*: the blocks :func:`find_duplicates` puts it in.

    Each key is text, ``"<rule name>#<key number>:<parts joined by |>"`` (a ``|`` or
    ``\\`` inside a part is escaped with ``\\``, so two different keys never share a
    text); a key with a blank part is left out. Records with an equal key are compared
    by :func:`compare_block`. Pass a compiled rule (``rule.compile()``) when calling it
    for many records.

    >>> from leadmodel import STANDARD_LEAD_RULE, blocking_keys
    >>> lead = {"id": "1", "last_name": "Lee", "email": "Ann@Acme.com", "company": "Acme"}
    >>> blocking_keys(lead, STANDARD_LEAD_RULE)
    ('standard_lead#1:ann@acme.com', 'standard_lead#3:L|acme')

    Raises:
        ValidationError: *rule* is not a matching rule, or *record* cannot be read.
    """
    compiled = _compiled("blocking_keys", rule)
    _, keys = compiled.prepare_blocked(record)
    name = compiled.rule.name
    return tuple(
        f"{name}#{key[0]}:{'|'.join([_escaped(part) for part in key[1:]])}" for key in keys
    )


def compare_block(
    records: Iterable[object], rule: MatchingRule | CompiledRule
) -> tuple[MatchEdge, ...]:
    """The matches among *records*, the members of one block (records sharing a key).

    The pairs are those :func:`find_duplicates` proposes for a block: every pair while
    the block holds at most the rule's ``key_cap`` records, a sorted-neighbourhood window
    of the rule's ``window`` above it. Only the pairs the rule matches are returned, as
    :class:`MatchEdge` values with ``a_id < b_id``, sorted by their ids; the result does
    not depend on the order of *records*. Pass a compiled rule (``rule.compile()``) when
    calling it for many blocks.

    >>> from leadmodel import STANDARD_LEAD_RULE, compare_block
    >>> block = [
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "a@x.com"},
    ...     {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "A@x.com"},
    ...     {"id": "3", "first_name": "Bob", "last_name": "Ray", "email": "a@x.com"},
    ... ]
    >>> [(edge.a_id, edge.b_id) for edge in compare_block(block, STANDARD_LEAD_RULE)]
    [('1', '2')]

    Raises:
        ValidationError: *rule* is not a matching rule, *records* is not an iterable of
            records, a record has no string id, or two have the same id.
    """
    compiled = _compiled("compare_block", rule)
    _checks.require_iterable(
        records, "an iterable of records", function="compare_block", path="records"
    )
    items, ids = by_id("compare_block", records)
    if len(items) < 2:
        return ()
    with gc_paused():
        prepared = [compiled.prepare(item) for item in items]
        pairs, _, _ = _block_pairs(compiled, prepared, {("block",): list(range(len(items)))})
        edges = []
        for i, j in sorted(pairs):
            result = compiled.match_prepared(prepared[i], prepared[j])
            if result is not None:
                edges.append(MatchEdge(ids[i], ids[j], result))
    return tuple(edges)


def _problem(path: str, code: str, message: str) -> ValidationError:
    return ValidationError("cluster_edges", [FieldError(path, code, message)])


def cluster_edges(ids: Iterable[str], edges: Iterable[MatchEdge]) -> tuple[DuplicateGroup, ...]:
    """The duplicate groups *edges* make among the records *ids*: connected components.

    As :func:`find_duplicates` orders them: groups by their first id, each with its ids
    sorted and its edges sorted by ``(a_id, b_id)``; records without an edge form no
    group. An edge given twice (a pair that shares two blocking keys) is kept once — the
    first given, as the same pair always compares alike. Neither the order of *ids* nor
    of *edges* matters.

    >>> from leadmodel import STANDARD_LEAD_RULE, cluster_edges, compare_block
    >>> block = [
    ...     {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "a@x.com"},
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "a@x.com"},
    ... ]
    >>> edges = compare_block(block, STANDARD_LEAD_RULE)
    >>> [group.ids for group in cluster_edges(["3", "2", "1"], edges + edges)]
    [('1', '2')]

    Raises:
        ValidationError: *ids* is not an iterable of unique strings, or *edges* is not an
            iterable of :class:`MatchEdge` values between two of *ids* with
            ``a_id < b_id``.
    """
    _checks.require_iterable(ids, "an iterable of ids", function="cluster_edges", path="ids")
    _checks.require_iterable(
        edges, "an iterable of MatchEdge values", function="cluster_edges", path="edges"
    )
    known = list(ids)
    for n, rid in enumerate(known):
        if not isinstance(rid, str):
            raise _problem(f"ids[{n}]", "type", f"must be a str, not {type(rid).__name__}")
    ordered = sorted(set(known))
    if len(ordered) != len(known):
        raise _problem("ids", "duplicate_id", "ids must be unique")
    number = {rid: n for n, rid in enumerate(ordered)}
    parents = list(range(len(ordered)))
    found: dict[tuple[int, int], MatchResult] = {}
    for n, edge in enumerate(edges):
        if not isinstance(edge, MatchEdge):
            raise _problem(f"edges[{n}]", "type", f"must be a MatchEdge, not {type(edge).__name__}")
        i, j = number.get(edge.a_id), number.get(edge.b_id)
        if i is None or j is None:
            unknown: Any = edge.a_id if i is None else edge.b_id
            raise _problem(
                f"edges[{n}]", "unknown_id", f"{describe_value(unknown)} is not one of ids"
            )
        if i >= j:
            raise _problem(f"edges[{n}]", "order", "a_id must sort before b_id")
        if (i, j) not in found:
            found[i, j] = edge.result
            _union(parents, i, j)
    return _groups(ordered, parents, [(i, j, result) for (i, j), result in found.items()])
