"""The lookup-key index of a unit of work's staged records, shared by the adapters.

A unit of work sees its own uncommitted records in ``find_by_keys``; indexing their keys as
they are staged keeps each look-up proportional to what it finds, not to how much the unit
has staged (an import stages thousands of records between commits).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.ports import KeyFunction

R = TypeVar("R")


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


def check_id(kind: str, record_id: object) -> str:
    """*record_id* if it is a valid id, else a ValidationError of the *kind* repository."""
    problem = _checks.identifier(record_id)
    if problem is not None:
        raise ValidationError(f"{kind} repository", [FieldError("id", problem[0], problem[1])])
    assert isinstance(record_id, str)  # noqa: S101 - the check proved it
    return record_id


def check_record(kind: str, cls: type[R], record: object) -> R:
    """*record* if it is a *cls*, else a ValidationError of the *kind* repository."""
    if not isinstance(record, cls):
        raise ValidationError(
            f"{kind} repository",
            [
                FieldError(
                    "record", "type", f"must be a {cls.__name__}, not {type(record).__name__}"
                )
            ],
        )
    return record


def check_keys(kind: str, keys: object) -> None:
    """Refuse one string where an iterable of keys is meant (it would be read letter by letter)."""
    if isinstance(keys, str):
        raise ValidationError(
            f"{kind} repository",
            [FieldError("keys", "type", "must be an iterable of keys, not one string")],
        )


class StagingUnitOfWork:
    """The ``with`` protocol of a unit of work whose repositories stage their changes.

    Entering starts clean, leaving always discards what was not committed; subclasses give
    their repositories (each with a ``_reset()``) and a ``commit()``.
    """

    committed: bool

    def _repositories(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.rollback()
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def rollback(self) -> None:
        """Discard every staged change."""
        for repo in self._repositories():
            repo._reset()  # noqa: SLF001 - the unit owns its repositories
