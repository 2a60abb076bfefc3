"""Finding duplicates on Dask: keys counted, only shared keys shuffled, components merged.

Dask is imported only when :func:`find_duplicates_dask` runs. The graph, for ``P`` input
partitions and ``B`` key buckets (``B = P``):

1. **prepare** (``P`` tasks): each partition's rows become records, prepared once
   (normalised values and blocking keys, as :func:`~leadmodel.find_duplicates` prepares
   them); the result stays on the worker that computed it. Each key is hashed (CRC-32 of
   its text) into one of ``B`` buckets.
2. **count** (``B`` tasks): the hashes of one bucket from every partition; those seen at
   least twice are the keys two records or more share. Ids are counted the same way
   (a repeated id is refused).
3. **ship** (``P × B`` tasks, run where their partition lives): the ``(key, id, values)``
   of one partition's *shared* keys in one bucket. Most keys belong to one record
   (an email, a phone): a record whose keys are all its own never leaves its worker, and
   a record is sent as its prepared values (text), never as the record.
4. **compare** (``B`` tasks): the blocks of one bucket, compared under the rule's
   block-size policy exactly as in one process; the matches, and their spanning forest.
5. **components**: the forests merged pairwise up a tree into "record → its group's first
   id", whose size is the number of records *in groups*: the edge list is never brought
   together in one process.
6. **assemble** (``B`` tasks): each bucket's edges sent to the bucket of their group, where
   the groups are built; they are collected on the client, in :func:`find_duplicates`'
   order (or left on the cluster as a bag with ``collect=False``).

A hash collision only sends a key that is not shared (it is then a block of one), puts
two keys in one bucket (blocks are grouped by the key itself), or counts a key within the
cap above it (it is then not a *whole* key, and a pair of its block may be compared in
another block too, alike; see :func:`_compare`): it never changes a result.
"""

from __future__ import annotations

import array
import contextlib
import functools
import gc
import math
import operator
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal, overload

from leadmodel.distributed._common import require_dask
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.intake import ColumnMapping, _Reader
from leadmodel.rules._gc import gc_paused
from leadmodel.rules.dedupe import DuplicateGroup, MatchEdge, _block_pairs
from leadmodel.rules.matching import CompiledRule, MatchingRule, MatchResult, Prepared, record_id

__all__ = ["find_duplicates_dask"]

_FUNCTION: Final = "find_duplicates_dask"
_READ_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)  # rows read with a mapping: no clock needed
_MOST_PROBLEMS: Final = 10
_FAN_IN: Final = 4  # forests merged per task on the way up the tree
_RECORD_BYTES: Final = 1_000  # a prepared record: its id and about ten normalised values
_KEY_BYTES: Final = 100  # one blocking key of a record: its text, hash and record number


def _dask() -> Any:
    return require_dask(_FUNCTION)


def _hash(text: str) -> int:
    # A stable hash: Python's hash of text differs from one worker process to the next.
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _key_text(key: tuple[Any, ...]) -> str:
    """A blocking key ``(number, *parts)`` as text, two different keys never alike.

    Parts are normalised text joined by a control character; a part holding that
    character (or not text) makes the key its ``repr``, which starts with ``(`` where
    the others start with a digit.
    """
    try:
        text = f"{key[0]}\x1f" + "\x1f".join(key[1:])
    except TypeError:
        return repr(key)
    return text if text.count("\x1f") == len(key) - 1 else repr(key)


class _Sealed:
    """A value passed between tasks as one pickle.

    Dask's transfers serialise a list, tuple or dict result element by element (a
    pickle call and bookkeeping for each): for a list of a hundred thousand matches that
    cost more than comparing them. Wrapped, the value is one pickle, made in C.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return _Sealed, (self.value,)

    def __sizeof__(self) -> int:
        return 64 + sys.getsizeof(self.value) + 100 * _length(self.value)


def _length(value: object) -> int:
    return len(value) if isinstance(value, list | tuple | dict) else 0


# --- 1. prepare ---------------------------------------------------------------------------


class _RowId:
    def __init__(self, row_id: str) -> None:
        self.row_id = row_id

    def __call__(self, _kind: str) -> str:
        return self.row_id


def _cell(value: object) -> object:
    """A cell as a record field: missing values (None, NaN, pandas' NA and NaT) are blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas comes with dask.dataframe
        pass
    return value


def _is_frame(rows: object) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with dask.dataframe
        return False
    return isinstance(rows, pd.DataFrame)


def _frame_records(part: Any, id_column: str | None) -> list[dict[str, object]]:
    """A pandas partition's rows as dicts: missing cells ``None``, labels as text.

    With *id_column*, that column is the record's ``"id"``, and a column named with dots
    (``address.city``) is the nested field (``{"address": {"city": ...}}``). Built column
    by column: a row at a time through pandas costs several times more.
    """
    if part.isna().to_numpy().any():
        part = part.astype(object)
        part = part.where(part.notna(), None)
    names = [str(column) for column in part.columns]
    columns = [part.iloc[:, n].tolist() for n in range(len(names))]
    if id_column is None:
        return [dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)]
    if id_column != "id":
        names = ["" if name == "id" else "id" if name == id_column else name for name in names]
    flat = [n for n, name in enumerate(names) if name and "." not in name]
    nested: dict[str, list[int]] = {}
    for n, name in enumerate(names):
        if "." in name:
            nested.setdefault(name.partition(".")[0], []).append(n)
    flat_names = [names[n] for n in flat]
    rows = [
        dict(zip(flat_names, cells, strict=True))
        for cells in zip(*[columns[n] for n in flat], strict=True)
    ]
    for outer, members in nested.items():
        inner = [names[n].partition(".")[2] for n in members]
        deeper = any("." in name for name in inner)
        for row, *cells in zip(rows, *[columns[n] for n in members], strict=True):
            value: dict[str, object] = dict(zip(inner, cells, strict=True))
            if deeper:
                value = _nested(value, [(k, k.split(".")) for k in inner if "." in k])
            existing = row.get(outer)
            row[outer] = {**existing, **value} if isinstance(existing, dict) else value
    return rows


def _nested(row: dict[str, object], dotted: Sequence[tuple[str, list[str]]]) -> dict[str, object]:
    """*row* with its dotted columns (``address.city``) read as nested fields."""
    out = dict(row)
    for column, path in dotted:
        value = out.pop(column)
        target = out
        for part in path[:-1]:
            inner = target.get(part)
            if not isinstance(inner, dict):
                inner = {}
                target[part] = inner
            target = inner
        target[path[-1]] = value
    return out


class _Part:
    """One partition, prepared: its ids, prepared values and keys bucketed by hash."""

    __slots__ = ("entries", "hashes", "id_buckets", "ids", "prepared", "problems")

    def __init__(self, buckets: int) -> None:
        self.ids: list[str] = []
        self.prepared: list[Prepared] = []
        self.hashes = [array.array("I") for _ in range(buckets)]
        self.entries: list[list[tuple[str, int]]] = [[] for _ in range(buckets)]
        self.id_buckets: list[list[str]] = [[] for _ in range(buckets)]
        self.problems: list[FieldError] = []

    def __sizeof__(self) -> int:
        # What Dask's scheduler weighs before moving a task away from this partition (it
        # reads sys.getsizeof): about what the prepared records cost to send, so the
        # partition's tasks stay where it lives.
        keys = sum(len(entries) for entries in self.entries)
        return 64 + len(self.ids) * _RECORD_BYTES + keys * _KEY_BYTES


def _problem(part: _Part, problem: FieldError) -> None:
    if len(part.problems) < _MOST_PROBLEMS:
        part.problems.append(problem)


def _records(
    part: _Part, rows: Any, mapping: ColumnMapping | None, id_column: str
) -> Iterable[object]:
    """The records of a partition's rows; rows that are not records become problems."""
    if _is_frame(rows):
        if mapping is None:
            yield from _frame_records(rows, id_column)
            return
        items: Iterable[object] = _frame_records(rows, None)
    else:
        items = rows
    reader = _Reader(mapping) if mapping is not None else None
    for n, row in enumerate(items):
        if isinstance(row, Mapping):
            if reader is None:  # a bag's record: read as find_duplicates reads it, unchanged
                if id_column != "id" and id_column in row:
                    yield {k: v for k, v in row.items() if k != id_column} | {"id": row[id_column]}
                else:
                    yield row
                continue
            cells = {str(k): _cell(v) for k, v in row.items()}
            raw = cells.pop(id_column, None)
            row_id = "" if raw is None else str(raw)
            text = {k: "" if v is None else str(v) for k, v in cells.items()}
            lead, errors, _ = reader.lead(text, _RowId(row_id), _READ_AT)
            if lead is None or errors:
                for e in errors or [FieldError("row", "unreadable", "not read")]:
                    path = f"rows[{describe_value(row_id)}].{e.path}"
                    _problem(part, FieldError(path, e.code, e.message))
                continue
            yield lead
        elif isinstance(row, Lead) or hasattr(row, "id"):
            yield row
        else:
            _problem(part, FieldError(f"records[{n}]", "type", "must be a Lead or a mapping"))


def _prepare(
    rows: Any, rule: MatchingRule, mapping: ColumnMapping | None, id_column: str, buckets: int
) -> tuple[_Part, _Sealed]:
    """Prepare one partition's records and bucket their keys (step 1)."""
    part = _Part(buckets)
    compiled = rule.compile()
    prepare = compiled.prepare_blocked
    ids, values = part.ids, part.prepared
    hashes, entries, id_buckets = part.hashes, part.entries, part.id_buckets
    with gc_paused():
        for record in _records(part, rows, mapping, id_column):
            try:
                rid = record_id(record)
                prepared, keys = prepare(record)
            except ValidationError as error:
                for problem in error.errors:
                    _problem(part, problem)
                continue
            index = len(ids)
            ids.append(rid)
            values.append(prepared)
            id_buckets[_hash(rid) % buckets].append(rid)
            for key in keys:
                text = _key_text(key)
                code = _hash(text)
                bucket = code % buckets
                hashes[bucket].append(code)
                entries[bucket].append((text, index))
    return part, _Sealed((part.hashes, part.id_buckets, part.problems))


# --- 2. count and 3. ship -----------------------------------------------------------------


def _count(bucket: int, *summaries: _Sealed) -> _Sealed:
    """The key hashes of one bucket seen twice or more, and its repeated ids (step 2)."""
    import numpy as np

    pieces: list[tuple[array.array[int], list[str]]] = [
        (summary.value[0][bucket], summary.value[1][bucket]) for summary in summaries
    ]
    hashes = [np.frombuffer(codes, dtype=np.uint32) for codes, _ in pieces if len(codes)]
    if hashes:
        codes, counts = np.unique(np.concatenate(hashes), return_counts=True)
        shared, sizes = codes[counts > 1], counts[counts > 1]
    else:
        shared, sizes = np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    seen: set[str] = set()
    repeated: set[str] = set()
    for _, ids in pieces:
        for rid in ids:
            if rid in seen:
                repeated.add(rid)
            else:
                seen.add(rid)
    return _Sealed((shared, sorted(repeated), sizes))


def _shared(counted: _Sealed) -> Any:
    return counted.value[0]


def _whole(counted: _Sealed, cap: int | None) -> Any:
    """The shared hashes of one bucket whose keys are compared pair by pair (within the cap).

    A hash's count is at least the size of each key with that hash, so a key counted
    within the cap is one: its block proposes every pair of its members.
    """
    shared, _, sizes = counted.value
    return shared if cap is None else shared[sizes <= cap]


def _whole_keys(part: _Part, *whole: Any) -> _Sealed:
    """The records of *part* with keys compared pair by pair: their number -> those keys.

    See :func:`_compare`; a record not in the mapping has none.
    """
    import numpy as np

    found: dict[int, tuple[str, ...]] = {}
    for bucket, codes in enumerate(part.hashes):
        if not len(codes) or not len(whole[bucket]):
            continue
        entries = part.entries[bucket]
        wanted = np.isin(np.frombuffer(codes, dtype=np.uint32), whole[bucket])
        for n in np.flatnonzero(wanted).tolist():
            text, index = entries[n]
            found[index] = (*found.get(index, ()), text)
    return _Sealed(found)


def _repeated(counted: _Sealed) -> list[str]:
    repeated: list[str] = counted.value[1]
    return repeated


def _ship(part: _Part, whole: _Sealed, bucket: int, shared: Any) -> _Sealed:
    """*part*'s members of shared keys in *bucket* (step 3).

    As ``(key, (id, values, whole keys))``: the record's keys compared pair by pair go along,
    so that a pair is compared in one bucket only (see :func:`_compare`).
    """
    import numpy as np

    codes = part.hashes[bucket]
    if not len(codes) or not len(shared):
        return _Sealed([])
    wanted = np.flatnonzero(np.isin(np.frombuffer(codes, dtype=np.uint32), shared))
    entries, ids, values, keys = part.entries[bucket], part.ids, part.prepared, whole.value
    out = []
    member: dict[int, tuple[str, Prepared, tuple[str, ...]]] = {}
    for n in wanted.tolist():
        key, index = entries[n]
        found = member.get(index)
        if found is None:
            found = member[index] = (ids[index], values[index], keys.get(index, ()))
        out.append((key, found))
    return _Sealed(out)


# --- 4. compare and 5. components ---------------------------------------------------------

_Edge = tuple[str, str, MatchResult]
_Forest = dict[str, str]


def _root(parents: _Forest, node: str) -> str:
    root = node
    while (up := parents[root]) != root:
        root = up
    while node != root:  # path compression
        parents[node], node = root, parents[node]
    return root


def _join(parents: _Forest, a: str, b: str) -> None:
    """Union of *a* and *b*'s trees, rooted at the smaller id (their group's first id)."""
    ra = _root(parents, parents.setdefault(a, a))
    rb = _root(parents, parents.setdefault(b, b))
    if ra != rb:
        if ra < rb:
            parents[rb] = ra
        else:
            parents[ra] = rb


def _compare(rule: MatchingRule, *shipped: _Sealed) -> _Sealed:
    """The matches among one bucket's blocks (step 4).

    Records are numbered in id order, so each block's members are in id order as in
    one process, and the block-size policy proposes the same pairs: every pair of a
    block within the cap, a sorted-neighbourhood window of a larger one.

    Two records sharing several keys meet in several blocks, often in several buckets;
    one process compares them once. A key counted within the cap (one of the records'
    *whole* keys) proposes every pair of its block, so a pair is compared in the block
    of the smallest whole key its records share, and skipped in the others; a pair
    sharing none (met only in oversized blocks) is compared wherever it is proposed.
    The same pair always compares alike, so a pair compared twice only costs time.
    """
    compiled = rule.compile()
    cap = rule.key_cap
    blocks: dict[str, list[tuple[str, Prepared, tuple[str, ...]]]] = {}
    for piece in shipped:
        for key, member in piece.value:
            members = blocks.get(key)
            if members is None:
                blocks[key] = [member]
            else:
                members.append(member)
    oversized: list[tuple[str, list[tuple[str, Prepared, tuple[str, ...]]]]] = []
    edges: list[_Edge] = []
    match = compiled.match_prepared
    by_id = operator.itemgetter(0)
    with gc_paused():
        for key, members in blocks.items():
            if len(members) < 2:
                continue
            members.sort(key=by_id)  # id order, as in one process: a_id < b_id
            if cap is not None and len(members) > cap:
                oversized.append((key, members))
                continue
            for x, (a, values, whole) in enumerate(members):
                smaller = [other for other in whole if other < key]
                for b, other_values, other_whole in members[x + 1 :]:
                    if smaller and any(other in other_whole for other in smaller):
                        continue  # a smaller key they share compares them
                    result = match(values, other_values)
                    if result is not None:
                        edges.append((a, b, result))
        for key, members in oversized:
            prepared = [values for _, values, _ in members]
            pairs, _, _ = _block_pairs(compiled, prepared, {(key,): list(range(len(members)))})
            for i, j in sorted(pairs):
                (a, _, whole), (b, _, other_whole) = members[i], members[j]
                if set(whole).isdisjoint(other_whole):  # else a block within the cap has it
                    result = match(prepared[i], prepared[j])
                    if result is not None:
                        edges.append((a, b, result))
    return _Sealed(edges)


def _forest(edges: list[_Edge]) -> _Forest:
    """The spanning forest of *edges*: each record's parent, roots at their smallest id."""
    parents: _Forest = {}
    for a, b, _ in edges:
        _join(parents, a, b)
    return parents


def _merge_forests(*forests: _Forest) -> _Forest:
    """One forest of the groups *forests* make together, every node pointing at its root."""
    parents: _Forest = {}
    for forest in forests:
        for node, up in forest.items():
            _join(parents, node, up)
    return {node: _root(parents, node) for node in parents}


def _bucket_forest(edges: _Sealed) -> _Sealed:
    return _Sealed(_forest(edges.value))


def _merged_forests(*forests: _Sealed) -> _Sealed:
    return _Sealed(_merge_forests(*[forest.value for forest in forests]))


# --- 6. assemble --------------------------------------------------------------------------


def _split(edges: _Sealed, roots: _Sealed, parts: int) -> _Sealed:
    """*edges* labelled with their group's first id and sent to that group's bucket."""
    out: list[list[tuple[str, _Edge]]] = [[] for _ in range(parts)]
    first_ids: _Forest = roots.value
    for edge in edges.value:
        root = first_ids[edge[0]]
        out[_hash(root) % parts].append((root, edge))
    return _Sealed(out)


def _piece(split: _Sealed, bucket: int) -> _Sealed:
    return _Sealed(split.value[bucket])


def _check(problems: list[_Sealed], repeated: list[list[str]]) -> None:
    """Raise what made the input unusable: unreadable rows, repeated ids."""
    found = [problem for part in problems for problem in part.value][:_MOST_PROBLEMS]
    again = sorted(rid for bucket in repeated for rid in bucket)
    if again:
        shown = describe_value(again[:_MOST_PROBLEMS])
        found.append(
            FieldError("records", "duplicate_id", f"ids must be unique; repeated: {shown}")
        )
    if found:
        raise ValidationError(_FUNCTION, found)


def _problems(summary: _Sealed) -> _Sealed:
    return _Sealed(summary.value[2])


def _assemble(_checked: None, *pieces: _Sealed) -> list[DuplicateGroup]:
    """The groups whose first id falls in one bucket, in :func:`find_duplicates`' order."""
    members: dict[str, set[str]] = {}
    found: dict[str, dict[tuple[str, str], MatchResult]] = {}
    for piece in pieces:
        for root, (a, b, result) in piece.value:
            group = members.get(root)
            if group is None:
                members[root] = {a, b}
                found[root] = {(a, b): result}
            else:
                group.update((a, b))
                found[root].setdefault((a, b), result)  # a pair from two blocks: kept once
    return [
        DuplicateGroup(
            tuple(sorted(members[root])),
            tuple(MatchEdge(a, b, result) for (a, b), result in sorted(found[root].items())),
        )
        for root in sorted(members)
    ]


# --- the entry point ----------------------------------------------------------------------


def _arguments(  # noqa: PLR0917 - one check of every argument of the entry point
    dask: Any,
    frame_or_bag: object,
    rule: object,
    client: object,
    mapping: object,
    id_column: object,
    collect: object,
) -> tuple[MatchingRule, list[Any]]:
    problems: list[FieldError] = []
    if isinstance(rule, CompiledRule):
        rule = rule.rule
    if not isinstance(rule, MatchingRule):
        problems.append(
            FieldError("rule", "type", f"must be a MatchingRule, not {type(rule).__name__}")
        )
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        problems.append(FieldError("mapping", "type", "must be a ColumnMapping or None"))
    if not isinstance(id_column, str) or not id_column:
        problems.append(FieldError("id_column", "type", "must be a column name (text)"))
    if not isinstance(collect, bool):
        problems.append(FieldError("collect", "type", "must be True or False"))
    if client is not None:
        from distributed import Client

        if not isinstance(client, Client):
            problems.append(
                FieldError("client", "type", "must be a dask.distributed.Client or None")
            )
    parts: list[Any] = []
    if isinstance(frame_or_bag, dask.dataframe.DataFrame):
        if isinstance(id_column, str) and id_column not in frame_or_bag.columns:
            problems.append(FieldError("id_column", "missing", f"{id_column!r} is not a column"))
        parts = list(frame_or_bag.to_delayed())
    elif isinstance(frame_or_bag, dask.bag.Bag):
        parts = list(frame_or_bag.to_delayed())
    else:
        problems.append(FieldError("frame_or_bag", "type", "must be a Dask bag or DataFrame"))
    if problems:
        raise ValidationError(_FUNCTION, problems)
    assert isinstance(rule, MatchingRule)  # noqa: S101 - checked above
    return rule, parts


@overload
def find_duplicates_dask(
    frame_or_bag: object,
    rule: MatchingRule | CompiledRule,
    *,
    client: object = ...,
    mapping: ColumnMapping | None = ...,
    id_column: str = ...,
    collect: Literal[True] = ...,
) -> list[DuplicateGroup]: ...


@overload
def find_duplicates_dask(
    frame_or_bag: object,
    rule: MatchingRule | CompiledRule,
    *,
    client: object = ...,
    mapping: ColumnMapping | None = ...,
    id_column: str = ...,
    collect: Literal[False],
) -> Any: ...


def find_duplicates_dask(
    frame_or_bag: object,
    rule: MatchingRule | CompiledRule,
    *,
    client: object = None,
    mapping: ColumnMapping | None = None,
    id_column: str = "id",
    collect: bool = True,
) -> list[DuplicateGroup] | Any:
    """:func:`~leadmodel.find_duplicates` on a Dask cluster: the same groups, edges and order.

    *frame_or_bag* is a ``dask.bag.Bag`` of :class:`~leadmodel.Lead` s or mappings with an
    ``"id"``, or a ``dask.dataframe.DataFrame`` whose rows are lead fields (blank cells —
    ``None``, NaN — are blank fields; a column named with dots, ``address.city``, is that
    nested field), or, with *mapping*, CSV-style columns read with that
    :class:`~leadmodel.ColumnMapping` (the id in *id_column*).

    Each partition is prepared where it lives; only the records sharing a blocking key
    with another record are sent across the cluster (as their normalised values), blocks
    are compared in parallel with the rule's block-size policy, and the groups are found
    by merging per-bucket spanning forests — the list of matches is never gathered in one
    process (the module describes the graph; ``docs/api/sizing.md`` its costs). With
    ``collect=True`` the groups are returned as a list in ``find_duplicates``' order;
    with ``collect=False`` they stay on the cluster as a ``dask.bag.Bag`` of
    :class:`~leadmodel.DuplicateGroup` s (each partition in order of first id) to write
    out, and problems with the input are raised when it is computed. With a
    ``dask.distributed.Client`` as *client* the graph runs on its cluster; without one,
    on Dask's current scheduler (an open client's, or ``dask.config.set(scheduler=...)``'s).

    >>> import dask
    >>> import dask.bag as db
    >>> from leadmodel import STANDARD_LEAD_RULE, find_duplicates
    >>> records = [
    ...     {"id": "3", "first_name": "Bob", "last_name": "Ray", "email": "bob@acme.com"},
    ...     {"id": "1", "first_name": "Robert", "last_name": "Ray", "email": "Bob@Acme.com"},
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "ann@acme.com"},
    ... ]
    >>> with dask.config.set(scheduler="sync"):
    ...     groups = find_duplicates_dask(
    ...         db.from_sequence(records, npartitions=2), STANDARD_LEAD_RULE
    ...     )
    >>> [group.ids for group in groups]
    [('1', '3')]
    >>> groups == find_duplicates(records, STANDARD_LEAD_RULE)
    True

    Raises:
        ValidationError: the ``dask`` extra is not installed; *frame_or_bag* is neither a
            Dask bag nor a DataFrame; *rule*, *mapping*, *client*, *id_column* or *collect*
            is of the wrong kind; a record has no string id (or a mapped row cannot be
            read), or two records have the same id (at most ten problems are named).
    """
    dask = _dask()
    checked_rule, inputs = _arguments(dask, frame_or_bag, rule, client, mapping, id_column, collect)
    delayed = dask.delayed
    buckets = max(len(inputs), 1)
    prepared = [
        delayed(_prepare, nout=2, pure=True)(rows, checked_rule, mapping, id_column, buckets)
        for rows in inputs
    ]
    parts = [part for part, _ in prepared]
    summaries = [summary for _, summary in prepared]
    near = [contextlib.nullcontext] * len(parts)
    # The workers hold millions of small objects from here on: their collectors pause
    # (for collect=False, until the partitions are prepared and kept).
    paused = _collector_paused(client) if client is not None else contextlib.nullcontext()
    with paused:
        if client is not None and parts:
            parts, summaries, near = _placed(dask, client, parts, summaries)
        counted = [delayed(_count, pure=True)(b, *summaries) for b in range(buckets)]
        shared = [delayed(_shared)(c) for c in counted]
        whole = [delayed(_whole)(c, checked_rule.key_cap) for c in counted]
        ships: list[list[Any]] = [[] for _ in range(buckets)]
        for part, where in zip(parts, near, strict=True):
            with where():
                keys = delayed(_whole_keys, pure=True)(part, *whole)
                for b in range(buckets):
                    ships[b].append(delayed(_ship, pure=True)(part, keys, b, shared[b]))
        found = [delayed(_compare, pure=True)(checked_rule, *ships[b]) for b in range(buckets)]
        checked = delayed(_check, pure=True)(
            [delayed(_problems)(summary) for summary in summaries],
            [delayed(_repeated)(c) for c in counted],
        )
        if collect:
            return _collected(dask, client, found, checked)
    forests = [delayed(_bucket_forest, pure=True)(edges) for edges in found]
    while True:  # at least once: a merge also points every record straight at its root
        forests = [
            delayed(_merged_forests, pure=True)(*forests[n : n + _FAN_IN])
            for n in range(0, len(forests), _FAN_IN)
        ]
        if len(forests) == 1:
            break
    splits = [delayed(_split, pure=True)(edges, forests[0], buckets) for edges in found]
    groups = [
        delayed(_assemble, pure=True)(checked, *[delayed(_piece)(s, b) for s in splits])
        for b in range(buckets)
    ]
    return dask.bag.from_delayed(groups) if groups else dask.bag.from_sequence([])


_PAUSES: list[tuple[bool, bool]] = []
"""On a worker, for each run that paused its cyclic collector: whether the collector was
enabled, and whether the worker held frozen objects (``gc.freeze``) of its own."""


def _pause_collector() -> None:
    _PAUSES.append((gc.isenabled(), gc.get_freeze_count() > 0))
    gc.disable()


def _resume_collector() -> None:
    if not _PAUSES:
        return
    enabled, frozen = _PAUSES.pop()
    if enabled and not _PAUSES:
        if frozen:
            # Objects the worker froze itself stay frozen: no unfreeze, a plain resume.
            gc.enable()
            return
        # What was made during the pause joins the oldest generation as if it had
        # survived there (freeze, then unfreeze), instead of being rescanned whole by the
        # first young collection: that took most of a second on a million leads. Nothing
        # is lost: the next full collection looks at everything, as always.
        gc.freeze()
        gc.enable()
        gc.unfreeze()


@contextlib.contextmanager
def _collector_paused(client: Any) -> Iterator[None]:
    """The workers' cyclic garbage collector paused for a run, as ``find_duplicates`` does.

    A worker holds its prepared partitions (millions of small acyclic objects) while
    records are shipped and compared; each collection rescans them all, which measured
    a fifth of the workers' time on a million leads. Runs may nest; each worker is set
    back as it was by the last run to end (a worker that joins meanwhile is untouched).
    """
    client.run(_pause_collector)
    try:
        yield
    finally:
        client.run(_resume_collector)


def _placed(
    dask: Any, client: Any, parts: list[Any], summaries: list[Any]
) -> tuple[list[Any], list[Any], list[Any]]:
    """*parts* and their *summaries* computed on the cluster, and where each part lies.

    Both are kept (one preparation gives both: keeping one only would prepare every
    partition again for the other). A prepared partition is the largest value of the
    run; its ship tasks are pinned to the worker holding it (unless that worker is
    gone), so only what they select moves.
    """
    from distributed import futures_of, wait

    kept = client.persist([*parts, *summaries])
    held, summaries = kept[: len(parts)], kept[len(parts) :]
    futures = [futures_of(part)[0] for part in held]  # type: ignore[no-untyped-call]
    wait(futures)  # type: ignore[no-untyped-call]
    who = client.who_has(futures)
    near = []
    for future in futures:
        workers = list(who.get(future.key, ()))
        near.append(
            functools.partial(dask.annotate, workers=workers, allow_other_workers=True)
            if workers
            else contextlib.nullcontext
        )
    return held, summaries, near


def _collected(dask: Any, client: Any, found: list[Any], checked: Any) -> list[DuplicateGroup]:
    """The groups, built on the client from every bucket's matches (which they hold)."""
    if not found:
        return []
    # The matches arrive as hundreds of thousands of small acyclic objects: the cyclic
    # collector would rescan them over and over.
    with gc_paused():
        edges: list[_Edge] = []
        parents: _Forest = {}
        for part in _as_they_come(dask, client, checked, found):
            for edge in part.value:  # joined while the other buckets are still compared
                edges.append(edge)
                _join(parents, edge[0], edge[1])
        roots = {node: _root(parents, node) for node in parents}
        return _assemble(None, _Sealed([(roots[edge[0]], edge) for edge in edges]))


def _as_they_come(dask: Any, client: Any, checked: Any, found: list[Any]) -> Iterator[_Sealed]:
    """Each bucket's matches as soon as it is compared (after the input was checked)."""
    if client is None:
        _, *results = dask.compute(checked, *found)
        yield from results
        return
    from distributed import as_completed

    futures = client.compute([checked, *found])
    futures[0].result()  # raises what made the input unusable
    for future in as_completed(futures[1:]):  # type: ignore[no-untyped-call]
        yield future.result()
        future.release()
