"""Reading dotted field paths (``"address.city"``, ``"custom.visits"``) on records.

Records are attrs entities (only their fields are read: a property such as
``Contact.name`` is not a field) or mappings. Shared by matching and criteria.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

ABSENT: Final = object()
"""Returned by a getter when a record has no such field (unlike a field that is None)."""

MAPPING: Final = frozenset({"<mapping>"})
FIELDS_SEEN: dict[type, frozenset[str]] = {}


def fields_of(cls: type) -> frozenset[str]:
    """The readable fields of *cls* (attrs fields only), or ``MAPPING`` for mappings."""
    found = FIELDS_SEEN.get(cls)
    if found is None:
        if issubclass(cls, Mapping):
            found = MAPPING
        elif attrs.has(cls):
            found = frozenset(f.name for f in attrs.fields(cls))
        else:
            found = frozenset(name for name in dir(cls) if not name.startswith("_"))
        if len(FIELDS_SEEN) < 1024:
            FIELDS_SEEN[cls] = found
    return found


def getter(path: str) -> Callable[[Any], object]:
    parts = path.split(".")

    def get(record: Any) -> object:
        value: Any = record
        for part in parts:
            if value is None:
                return None
            cls = value.__class__
            if cls is dict:
                value = value.get(part)
                continue
            fields = fields_of(cls)
            if fields is MAPPING:
                value = value.get(part)
            elif part in fields:
                # Fields only: a property such as Contact.name is not the company name.
                value = getattr(value, part)
            else:
                return ABSENT
        return value

    return get
