"""The lookup-key index of a unit of work's staged records, shared by the adapters.

A unit of work sees its own uncommitted records in ``find_by_keys``; indexing their keys as
they are staged keeps each look-up proportional to what it finds, not to how much the unit
has staged (an import stages thousands of records between commits).
"""

from __future__ import annotations

from collections.abc import Iterable

from leadmodel.ports import KeyFunction


class StagedKeys:
    """Lookup keys of staged records: ``key -> ids`` and ``id -> keys``."""

    __slots__ = ("_by_id", "_by_key", "_keys")

    def __init__(self, keys: KeyFunction) -> None:
        self._keys = keys
        self._by_key: dict[str, set[str]] = {}
        self._by_id: dict[str, tuple[str, ...]] = {}

    def stage(self, record_id: str, record: object | None) -> None:
        """Index *record* (``None``: a deletion) under *record_id*, replacing what was."""
        for key in self._by_id.pop(record_id, ()):
            members = self._by_key.get(key)
            if members is not None:
                members.discard(record_id)
                if not members:
                    del self._by_key[key]
        if record is None:
            return
        keys = tuple(self._keys(record))
        self._by_id[record_id] = keys
        for key in keys:
            self._by_key.setdefault(key, set()).add(record_id)

    def matching(self, keys: Iterable[str]) -> set[str]:
        """Ids of staged records having at least one of *keys*."""
        found: set[str] = set()
        for key in keys:
            found.update(self._by_key.get(key, ()))
        return found

    def clear(self) -> None:
        """Forget every staged record."""
        self._by_key.clear()
        self._by_id.clear()
