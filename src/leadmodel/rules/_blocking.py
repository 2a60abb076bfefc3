"""Records in id order, prepared and bucketed by blocking key: the start of every table run.

Shared by :func:`~leadmodel.find_duplicates` and :func:`~leadmodel.estimate_weights`, so
both refuse repeated ids alike and neither depends on the order of its input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.rules._parallel import prepare_all
from leadmodel.rules.matching import CompiledRule, Prepared, record_id


def by_id(function: str, records: Iterable[object]) -> tuple[list[object], list[str]]:
    """*records* and their ids, sorted by id.

    Raises:
        ValidationError: a record without a string id, or two with the same id.
    """
    items = list(records)
    ids = [record_id(record) for record in items]
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)
        raise ValidationError(
            function,
            [
                FieldError(
                    "records",
                    "duplicate_id",
                    f"ids must be unique; repeated: {describe_value(repeated[:10])}",
                )
            ],
        )
    order = sorted(range(len(items)), key=ids.__getitem__)
    return [items[i] for i in order], [ids[i] for i in order]


def block(
    compiled: CompiledRule,
    items: list[object],
    progress: Callable[[str, int, int], None] | None,
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
