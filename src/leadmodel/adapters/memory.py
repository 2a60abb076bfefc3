"""In-memory adapters: the reference implementation of every port, for tests and notebooks.

:class:`MemoryStore` holds committed records; each :class:`MemoryUnitOfWork` over it works
on its own overlay, so changes persist only on ``commit()`` and a rollback (or leaving the
``with`` block without commit) discards every change since the unit began. A commit is
optimistic: if a record this unit read or wrote changed in the store meanwhile, the commit
raises :class:`~leadmodel.ConcurrencyError` and writes nothing.

>>> from leadmodel import Lead
>>> store = MemoryStore()
>>> with MemoryUnitOfWork(store) as uow:
...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
...     uow.commit()
>>> with MemoryUnitOfWork(store) as uow:
...     uow.leads.get("L1").company
'Acme'
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from leadmodel.adapters._staging import (
    StagedKeys,
    StagingUnitOfWork,
    check_id,
    check_keys,
    check_record,
)
from leadmodel.domain import _checks
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConcurrencyError,
    FieldError,
    RecordExists,
    RecordNotFound,
    ValidationError,
)
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.rules.merge import MergeRecord
from leadmodel.ports import KeyFunction, lookup_keys

__all__ = [
    "FixedClock",
    "MemoryNotifier",
    "MemoryRepository",
    "MemoryStore",
    "MemoryUnitOfWork",
    "SequentialIds",
]

T = TypeVar("T", Lead, Contact, Account, Opportunity, Activity, MergeRecord)

_KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
    "activity": Activity,
    "merge": MergeRecord,
}


class _Table:
    """Committed records of one kind, their versions and their lookup-key index."""

    __slots__ = ("index", "keys_of", "records", "versions")

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.versions: dict[str, int] = {}
        self.index: dict[str, set[str]] = {}
        self.keys_of: dict[str, tuple[str, ...]] = {}


class MemoryStore:
    """Committed records of every kind, shared by the units of work opened on it.

    Args:
        keys: derives each record's lookup keys for ``find_by_keys`` (default
            :func:`leadmodel.ports.lookup_keys`).
    """

    def __init__(self, *, keys: KeyFunction = lookup_keys) -> None:
        self.keys = keys
        self.tables: dict[str, _Table] = {kind: _Table() for kind in _KINDS}
        self.lock = threading.Lock()

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        return len(self.tables[kind].records)


class MemoryRepository(Generic[T]):
    """One unit of work's view of one kind of record: the store plus uncommitted changes."""

    def __init__(self, store: MemoryStore, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._type: type[T] = _KINDS[kind]
        self._table = store.tables[kind]
        self._changes: dict[str, T | None] = {}
        self._staged = StagedKeys(store.keys)
        self._seen: dict[str, int | None] = {}

    def _remember(self, record_id: str) -> None:
        if record_id not in self._seen:
            self._seen[record_id] = self._table.versions.get(record_id)

    def _current(self, record_id: str) -> T | None:
        if record_id in self._changes:
            return self._changes[record_id]
        record: T | None = self._table.records.get(record_id)
        return record

    def _check_type(self, record: object) -> T:
        return check_record(self._kind, self._type, record)

    def get(self, record_id: str) -> T | None:
        """The record with *record_id* as this unit of work sees it, or ``None``."""
        record_id = check_id(self._kind, record_id)
        self._remember(record_id)
        return self._current(record_id)

    def add(self, record: T) -> None:
        """Stage a new record; :class:`~leadmodel.RecordExists` if the id is taken."""
        record = self._check_type(record)
        if self._current(record.id) is not None:
            raise RecordExists(self._kind, record.id)
        self._remember(record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def update(self, record: T) -> None:
        """Stage a replacement; :class:`~leadmodel.RecordNotFound` if there is none to replace."""
        record = self._check_type(record)
        if self._current(record.id) is None:
            raise RecordNotFound(self._kind, record.id)
        self._remember(record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def remove(self, record_id: str) -> None:
        """Stage a deletion; :class:`~leadmodel.RecordNotFound` if there is no such record."""
        record_id = check_id(self._kind, record_id)
        if self._current(record_id) is None:
            raise RecordNotFound(self._kind, record_id)
        self._remember(record_id)
        self._changes[record_id] = None
        self._staged.stage(record_id, None)

    def __iter__(self) -> Iterator[T]:
        """Every record this unit of work sees, ordered by id."""
        ids = set(self._table.records) | set(self._changes)
        for record_id in sorted(ids):
            record = self._current(record_id)
            if record is not None:
                yield record

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record with at least one of *keys*, each once, ordered by id."""
        check_keys(self._kind, keys)
        wanted = set(keys)
        ids: set[str] = set()
        index = self._table.index
        for key in wanted:
            ids.update(index.get(key, ()))
        # Committed matches whose record is staged are replaced by the staged matches.
        changes = self._changes
        ids = {record_id for record_id in ids if record_id not in changes}
        ids |= self._staged.matching(wanted)
        found = [self._current(record_id) for record_id in sorted(ids)]
        return [record for record in found if record is not None]

    # -- used by the unit of work -------------------------------------------------------

    def _conflicts(self) -> list[str]:
        versions = self._table.versions
        return [rid for rid, seen in self._seen.items() if versions.get(rid) != seen]

    def _apply(self) -> None:
        table, key_fn = self._table, self._store.keys
        for record_id, record in self._changes.items():
            for key in table.keys_of.pop(record_id, ()):
                members = table.index.get(key)
                if members is not None:
                    members.discard(record_id)
                    if not members:
                        del table.index[key]
            if record is None:
                table.records.pop(record_id, None)
                table.versions.pop(record_id, None)
                continue
            table.records[record_id] = record
            table.versions[record_id] = table.versions.get(record_id, 0) + 1
            keys = tuple(key_fn(record))
            table.keys_of[record_id] = keys
            for key in keys:
                table.index.setdefault(key, set()).add(record_id)
        self._reset()

    def _reset(self) -> None:
        self._changes.clear()
        self._staged.clear()
        self._seen.clear()


class MemoryUnitOfWork(StagingUnitOfWork):
    """A unit of work over a :class:`MemoryStore` (a new, empty store by default)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.leads: MemoryRepository[Lead] = MemoryRepository(self.store, "lead")
        self.contacts: MemoryRepository[Contact] = MemoryRepository(self.store, "contact")
        self.accounts: MemoryRepository[Account] = MemoryRepository(self.store, "account")
        self.opportunities: MemoryRepository[Opportunity] = MemoryRepository(
            self.store, "opportunity"
        )
        self.activities: MemoryRepository[Activity] = MemoryRepository(self.store, "activity")
        self.merges: MemoryRepository[MergeRecord] = MemoryRepository(self.store, "merge")
        self.committed = False

    def _repositories(self) -> tuple[MemoryRepository[Any], ...]:
        return (
            self.leads,
            self.contacts,
            self.accounts,
            self.opportunities,
            self.activities,
            self.merges,
        )

    def commit(self) -> None:
        """Persist every staged change at once, or none if another unit changed a record."""
        with self.store.lock:
            conflicts = [
                f"{repo._kind} {rid}"  # noqa: SLF001 - the unit owns its repositories
                for repo in self._repositories()
                for rid in repo._conflicts()  # noqa: SLF001
            ]
            if conflicts:
                self.rollback()
                shown = ", ".join(conflicts[:10])
                raise ConcurrencyError(f"changed in storage since this unit read them: {shown}")
            for repo in self._repositories():
                repo._apply()  # noqa: SLF001
        self.committed = True


class MemoryNotifier:
    """A :class:`~leadmodel.ports.Notifier` that keeps what it was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        """Record *notification*."""
        if not isinstance(notification, Notification):
            raise ValidationError(
                "MemoryNotifier",
                [
                    FieldError(
                        "notification",
                        "type",
                        f"must be a Notification, not {type(notification).__name__}",
                    )
                ],
            )
        self.sent.append(notification)


class FixedClock:
    """A :class:`~leadmodel.ports.Clock` at a set time, moved on only by :meth:`advance`."""

    def __init__(self, now: datetime) -> None:
        problem = _checks.aware_datetime(now)
        if problem is not None:
            raise ValidationError("FixedClock", [FieldError("now", problem[0], problem[1])])
        self._now = now

    def now(self) -> datetime:
        """The set time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by *delta*."""
        self._now += delta


class SequentialIds:
    """An :class:`~leadmodel.ports.IdGenerator` giving ``lead-000001``, ``account-000001``.

    One counter per kind, so ids are deterministic for tests and demos.

    >>> ids = SequentialIds()
    >>> ids("lead"), ids("lead"), ids("account")
    ('lead-000001', 'lead-000002', 'account-000001')
    """

    def __init__(self, *, prefix: str = "", width: int = 6) -> None:
        self._prefix = prefix
        self._width = width
        self._counters: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        """The next id for *kind*."""
        problem = _checks.text_problem(kind, 40)
        if problem is not None:
            raise ValidationError("SequentialIds", [FieldError("kind", problem[0], problem[1])])
        number = self._counters.get(kind, 0) + 1
        self._counters[kind] = number
        return f"{self._prefix}{kind}-{number:0{self._width}d}"
