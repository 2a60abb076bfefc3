"""Finding duplicates on Dask: keys per partition, a shuffle by key, blocks compared in parallel.

Dask is imported only when :func:`find_duplicates_dask` runs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from leadmodel.distributed._common import require_dask
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.intake import ColumnMapping, _Reader
from leadmodel.rules.blocks import blocking_keys, cluster_edges, compare_block
from leadmodel.rules.dedupe import DuplicateGroup, MatchEdge
from leadmodel.rules.matching import CompiledRule, MatchingRule, record_id

__all__ = ["find_duplicates_dask"]

_FUNCTION = "find_duplicates_dask"
_READ_AT = datetime(2000, 1, 1, tzinfo=UTC)  # rows read with a mapping: no clock needed
_MOST_PROBLEMS = 10


def _dask() -> Any:
    return require_dask(_FUNCTION)


def _cell(value: object) -> object:
    """A frame cell as a record field: pandas' missing values (NaN, NA, NaT) are blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas comes with dask.dataframe
        pass
    return value


class _RowId:
    def __init__(self, row_id: str) -> None:
        self.row_id = row_id

    def __call__(self, _kind: str) -> str:
        return self.row_id


# A partition's items are records, or FieldErrors saying why a row is not one: problems
# travel as data and are raised on the client (the error classes need not be picklable).
_Item = object


def _records(rows: Iterable[object], mapping: ColumnMapping | None, id_column: str) -> list[_Item]:
    reader = _Reader(mapping) if mapping is not None else None
    out: list[_Item] = []
    for n, row in enumerate(rows):
        record: object = row
        if isinstance(row, Mapping):
            cells = {str(k): _cell(v) for k, v in row.items()}
            if reader is not None:
                raw = cells.pop(id_column, None)
                row_id = "" if raw is None else str(raw)
                text = {k: "" if v is None else str(v) for k, v in cells.items()}
                lead, errors, _ = reader.lead(text, _RowId(row_id), _READ_AT)
                if lead is None or errors:
                    out.extend(
                        FieldError(f"rows[{describe_value(row_id)}].{e.path}", e.code, e.message)
                        for e in errors or [FieldError("row", "unreadable", "not read")]
                    )
                    continue
                record = lead
            else:
                record = cells
        elif not isinstance(row, Lead) and not hasattr(row, "id"):
            out.append(FieldError(f"records[{n}]", "type", "must be a Lead or a mapping"))
            continue
        try:
            record_id(record)
        except ValidationError as error:
            out.extend(error.errors)
            continue
        out.append(record)
    return out


def _bucket(key: str, buckets: int) -> int:
    # A stable hash: Python's hash of text differs from one worker process to the next.
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % buckets


def _keyed(
    items: Iterable[_Item], rule: MatchingRule, buckets: int
) -> list[tuple[int, str, object]]:
    compiled = rule.compile()
    out: list[tuple[int, str, object]] = []
    for item in items:
        if isinstance(item, FieldError):
            continue
        out.extend((_bucket(key, buckets), key, item) for key in blocking_keys(item, compiled))
    return out


def _compare(
    groups: Iterable[tuple[int, list[tuple[int, str, object]]]], rule: MatchingRule
) -> list[object]:
    compiled = rule.compile()
    out: list[object] = []
    for _, members in groups:
        blocks: dict[str, list[object]] = {}
        for _, key, record in members:
            blocks.setdefault(key, []).append(record)
        for block in blocks.values():
            if len(block) < 2:
                continue
            try:
                out.extend(compare_block(block, compiled))
            except ValidationError as error:
                out.extend(error.errors)
    return out


def _ids(items: Iterable[_Item]) -> list[str]:
    return [record_id(item) for item in items if not isinstance(item, FieldError)]


def _problems(items: Iterable[_Item]) -> list[FieldError]:
    return [item for item in items if isinstance(item, FieldError)][:_MOST_PROBLEMS]


def find_duplicates_dask(
    frame_or_bag: object,
    rule: MatchingRule | CompiledRule,
    *,
    client: object = None,
    mapping: ColumnMapping | None = None,
    id_column: str = "id",
) -> list[DuplicateGroup]:
    """:func:`~leadmodel.find_duplicates` on a Dask cluster: the same groups, edges and order.

    *frame_or_bag* is a ``dask.bag.Bag`` of :class:`~leadmodel.Lead` s or mappings with an
    ``"id"``, or a ``dask.dataframe.DataFrame`` whose rows are lead fields (blank cells —
    ``None``, NaN — are blank fields), or, with *mapping*, CSV-style columns read with
    that :class:`~leadmodel.ColumnMapping` (the id in *id_column*). The work runs as
    :mod:`leadmodel.rules.blocks` describes: each partition computes its records'
    :func:`~leadmodel.blocking_keys`; records are shuffled by key (a stable hash of the key
    picks the partition); each block is compared with :func:`~leadmodel.compare_block` in
    parallel; the matches are **collected on the client** and clustered there with
    :func:`~leadmodel.cluster_edges` (connected components in one process: the edges must
    fit in the client's memory, the records need not). With a ``dask.distributed.Client``
    as *client* the graph runs on its cluster; without one, on Dask's current scheduler
    (an open client's, or ``dask.config.set(scheduler=...)``'s).

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
            Dask bag nor a DataFrame; *rule*, *mapping*, *client* or *id_column* is of the
            wrong kind; a record has no string id (or a mapped row cannot be read), or two
            records have the same id (at most ten problems are named).
    """
    dask = _dask()
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
    if client is not None:
        from distributed import Client

        if not isinstance(client, Client):
            problems.append(
                FieldError("client", "type", "must be a dask.distributed.Client or None")
            )
    if isinstance(frame_or_bag, dask.dataframe.DataFrame):
        if isinstance(id_column, str) and id_column not in frame_or_bag.columns:
            problems.append(FieldError("id_column", "missing", f"{id_column!r} is not a column"))
        rows = frame_or_bag.to_bag(format="dict")
    elif isinstance(frame_or_bag, dask.bag.Bag):
        rows = frame_or_bag
    else:
        problems.append(FieldError("frame_or_bag", "type", "must be a Dask bag or DataFrame"))
    if problems:
        raise ValidationError(_FUNCTION, problems)
    if mapping is None and id_column != "id":
        rows = rows.map(_renamed_id, id_column)
    buckets = max(rows.npartitions, 1)
    items = rows.map_partitions(_records, mapping, id_column)
    keyed = items.map_partitions(_keyed, rule, buckets)
    found = keyed.groupby(_first, npartitions=buckets).map_partitions(_compare, rule)
    ids = items.map_partitions(_ids)
    repeated = ids.frequencies().filter(_more_than_once).map(_first)
    bad = items.map_partitions(_problems)
    graph = (found, repeated, bad, ids)
    if client is not None:
        results = client.gather(client.compute(list(graph)))  # type: ignore[attr-defined]
    else:
        results = dask.compute(*graph)
    edges_or_problems, repeated_ids, bad_rows, all_ids = (list(r) for r in results)
    problems = bad_rows[:_MOST_PROBLEMS]
    if repeated_ids:
        shown = describe_value(sorted(repeated_ids)[:_MOST_PROBLEMS])
        problems.append(
            FieldError("records", "duplicate_id", f"ids must be unique; repeated: {shown}")
        )
    problems += [p for p in edges_or_problems if isinstance(p, FieldError)][:_MOST_PROBLEMS]
    if problems:
        raise ValidationError(_FUNCTION, problems)
    edges = [edge for edge in edges_or_problems if isinstance(edge, MatchEdge)]
    return list(cluster_edges(all_ids, edges))


def _renamed_id(row: object, id_column: str) -> object:
    if isinstance(row, Mapping) and id_column in row:
        out = {k: v for k, v in row.items() if k != id_column}
        out["id"] = row[id_column]
        return out
    return row


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _more_than_once(item: tuple[str, int]) -> bool:
    return item[1] > 1
