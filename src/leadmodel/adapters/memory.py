"""In-memory adapters: the reference implementation of every port, for tests and notebooks.

:class:`MemoryStore` holds committed records; each :class:`MemoryUnitOfWork` over it works
on its own overlay, so changes persist only on ``commit()`` and a rollback (or leaving the
``with`` block without commit) discards every change since the unit began. A commit is
optimistic: if a record this unit writes changed in the store since the unit read it (by
any path: ``get``, iteration, ``find_by_keys``), or a key it searched finds other records
now, the commit raises :class:`~leadmodel.ConcurrencyError` and writes nothing. Records
only read are not checked.

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

import bisect
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

from leadmodel.adapters._staging import (
    RULE_KINDS,
    IndexedRules,
    StagedKeys,
    StagingUnitOfWork,
    check_id,
    check_keys,
    check_neighbours,
    check_record,
    check_repository,
    not_indexed,
    prepare_rules,
)
from leadmodel.adapters.sqlite import SCHEMA_VERSION
from leadmodel.domain import _checks
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConcurrencyError,
    FieldError,
    RecordExists,
    RecordNotFound,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import KeyFunction, lookup_keys, neighbour_sort_value
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.triggers import TriggerState

if TYPE_CHECKING:
    from leadmodel.rules.matching import MatchingRule

__all__ = [
    "FixedClock",
    "MemoryNotifier",
    "MemoryRepository",
    "MemoryStore",
    "MemoryUnitOfWork",
    "SequentialIds",
]

T = TypeVar(
    "T",
    Lead,
    Contact,
    Account,
    Opportunity,
    Activity,
    MergeRecord,
    TriggerState,
    Consent,
    PrivacyLogEntry,
)

_KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
    "activity": Activity,
    "merge": MergeRecord,
    "trigger_state": TriggerState,
    "consent": Consent,
    "privacy_log": PrivacyLogEntry,
}


_ORDERED_FROM: Final = 32  # keys with more records keep them sorted too


class _Table:
    """Committed records of one kind, their versions and their lookup-key index.

    A key holding more than 32 records also keeps them sorted by
    :func:`~leadmodel.ports.neighbour_sort_value`, for ``find_neighbours``.
    """

    __slots__ = ("index", "keys_of", "ordered", "records", "sorts", "versions")

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.versions: dict[str, int] = {}  # removed records keep theirs
        self.index: dict[str, set[str]] = {}
        self.keys_of: dict[str, tuple[str, ...]] = {}
        self.sorts: dict[str, str] = {}
        self.ordered: dict[str, list[tuple[str, str]]] = {}

    def unindex(self, record_id: str) -> None:
        place = (self.sorts.pop(record_id, ""), record_id)
        for key in self.keys_of.pop(record_id, ()):
            members = self.index.get(key)
            if members is not None:
                members.discard(record_id)
                ordered = self.ordered.get(key)
                if ordered is not None:
                    if len(members) <= _ORDERED_FROM:
                        del self.ordered[key]
                    else:
                        at = bisect.bisect_left(ordered, place)
                        if at < len(ordered) and ordered[at] == place:
                            del ordered[at]
                if not members:
                    del self.index[key]

    def reindex(self, record_id: str, keys: tuple[str, ...]) -> None:
        self.keys_of[record_id] = keys
        sort = self.sorts[record_id] = neighbour_sort_value(self.records.get(record_id))
        for key in keys:
            members = self.index.setdefault(key, set())
            members.add(record_id)
            ordered = self.ordered.get(key)
            if ordered is not None:
                bisect.insort(ordered, (sort, record_id))
            elif len(members) > _ORDERED_FROM:
                self.ordered[key] = sorted((self.sorts[rid], rid) for rid in members)

    def neighbours(self, key: str, near: str, limit: int, whole: int) -> frozenset[str]:
        """The committed ids under *key* nearest *near* (see ``find_neighbours``)."""
        members = self.index.get(key)
        if not members:
            return frozenset()
        if len(members) <= whole:
            return frozenset(members)
        ordered = self.ordered.get(key)
        if ordered is None:
            ordered = sorted((self.sorts[rid], rid) for rid in members)
        at = bisect.bisect_left(ordered, (near, ""))
        return frozenset(rid for _, rid in ordered[max(at - limit, 0) : at + limit])


class MemoryStore:
    """Committed records of every kind, shared by the units of work opened on it.

    Args:
        keys: derives each record's lookup keys for ``find_by_keys`` (default
            :func:`leadmodel.ports.lookup_keys`). The blocking keys of the duplicate rules
            given to :meth:`index_rules` are indexed for leads, contacts and accounts too.
    """

    def __init__(self, *, keys: KeyFunction = lookup_keys) -> None:
        self.keys = keys
        self.tables: dict[str, _Table] = {kind: _Table() for kind in _KINDS}
        self.lock = threading.RLock()
        self.rules = IndexedRules(aliasing=keys is lookup_keys)

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A new unit of work over this store (:class:`~leadmodel.ports.Store`).

        >>> from leadmodel import Lead
        >>> store = MemoryStore()
        >>> with store.unit_of_work() as uow:
        ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        ...     uow.commit()
        >>> store.count("lead")
        1
        """
        return MemoryUnitOfWork(self)

    @property
    def schema_version(self) -> int:
        """The schema version of the records' shape: the current one (nothing is stored)."""
        return SCHEMA_VERSION

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        if not isinstance(kind, str) or kind not in self.tables:
            raise ValidationError(
                "MemoryStore.count",
                [FieldError("kind", "invalid", f"must be one of {', '.join(self.tables)}")],
            )
        return len(self.tables[kind].records)

    def close(self) -> None:
        """Nothing to release: the records stay for units of work still holding the store."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def record_keys(self, kind: str, record: object) -> tuple[str, ...]:
        """Every key *record* is indexed under: its lookup keys and its rules' blocking keys."""
        keys = tuple(self.keys(record))
        if kind in RULE_KINDS and self.rules:
            keys += self.rules.keys(record)
        return keys

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of *rules* for leads, contacts and accounts.

        Rules are known by name: a rule indexed already under the same definition costs
        nothing, a new or redefined one is back-filled over every stored record at once.
        """
        prepared = prepare_rules(rules)
        with self.lock:
            changed = [item for item in prepared if self.rules.documents.get(item[0]) != item[1]]
            if not changed:
                return
            # Keys are computed before anything changes, so a failing rule changes nothing.
            rekeyed: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
            trial = IndexedRules(aliasing=self.rules.aliasing)
            for name, document in self.rules.documents.items():
                trial.set(name, document, self.rules.compiled[name])
            for name, document, compiled in changed:
                trial.set(name, document, compiled)
            for kind in RULE_KINDS:
                table = self.tables[kind]
                rekeyed[kind] = [
                    (record_id, tuple(self.keys(record)) + trial.keys(record))
                    for record_id, record in table.records.items()
                ]
            self.rules = trial
            for kind, entries in rekeyed.items():
                table = self.tables[kind]
                for record_id, keys in entries:
                    table.unindex(record_id)
                    table.reindex(record_id, keys)


class MemoryRepository(Generic[T]):
    """One unit of work's view of one kind of record: the store plus uncommitted changes.

    Every record read (by :meth:`get`, iteration or :meth:`find_by_keys`) is remembered
    with the version it had; at commit, each record this unit writes must still have that
    version, and each key it searched must still find the same records.
    """

    def __init__(self, store: MemoryStore, kind: str) -> None:
        check_repository(store, MemoryStore, kind, _KINDS)
        self._store = store
        self._kind = kind
        self._type: type[T] = _KINDS[kind]
        self._table = store.tables[kind]
        self._changes: dict[str, T | None] = {}
        self._staged = StagedKeys(lambda record: store.record_keys(kind, record))
        self._seen: dict[str, int | None] = {}
        self._searches: dict[str, frozenset[str]] = {}
        self._near: dict[tuple[str, str, int, int], frozenset[str]] = {}

    def _remember(self, record_id: str) -> None:
        if record_id not in self._seen:
            self._seen[record_id] = self._table.versions.get(record_id)

    def _current(self, record_id: str) -> T | None:
        if record_id in self._changes:
            return self._changes[record_id]
        self._remember(record_id)
        record: T | None = self._table.records.get(record_id)
        return record

    def _check_type(self, record: object) -> T:
        return check_record(self._kind, self._type, record)

    def get(self, record_id: str) -> T | None:
        """The record with *record_id* as this unit of work sees it, or ``None``."""
        record_id = check_id(self._kind, record_id)
        return self._current(record_id)

    def add(self, record: T) -> None:
        """Stage a new record; :class:`~leadmodel.RecordExists` if the id is taken."""
        record = self._check_type(record)
        if self._current(record.id) is not None:
            raise RecordExists(self._kind, record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def update(self, record: T) -> None:
        """Stage a replacement; :class:`~leadmodel.RecordNotFound` if there is none to replace."""
        record = self._check_type(record)
        if self._current(record.id) is None:
            raise RecordNotFound(self._kind, record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def remove(self, record_id: str) -> None:
        """Stage a deletion; :class:`~leadmodel.RecordNotFound` if there is no such record."""
        record_id = check_id(self._kind, record_id)
        if self._current(record_id) is None:
            raise RecordNotFound(self._kind, record_id)
        self._changes[record_id] = None
        self._staged.stage(record_id, None)

    def __iter__(self) -> Iterator[T]:
        """Every record this unit of work sees, ordered by id."""
        with self._store.lock:
            ids = set(self._table.records) | set(self._changes)
        for record_id in sorted(ids):
            record = self._current(record_id)
            if record is not None:
                yield record

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record with at least one of *keys*, each once, ordered by id.

        Raises:
            KeyNotIndexed: a key is the blocking key of a rule the store does not index
                (a store built with its own *keys* function answers every key).
        """
        wanted = self._wanted(keys)
        ids: set[str] = set()
        index = self._table.index
        searches = self._searches
        with self._store.lock:
            for key in wanted:
                found = frozenset(index.get(key, ()))
                searches.setdefault(key, found)
                ids |= found
        return self._found(ids, wanted)

    def find_neighbours(
        self, keys: Iterable[str], near: str, limit: int, *, whole: int | None = None
    ) -> list[T]:
        """The records nearest *near* under each of *keys*, each once, ordered by id.

        Every committed record of a key that holds at most *whole* (default
        ``2 * limit``), else ``2 * limit`` of them, in the order of
        :func:`~leadmodel.ports.neighbour_sort_value` (see
        :class:`~leadmodel.ports.SupportsNeighbours`); re-checked at commit.

        Raises:
            KeyNotIndexed: as :meth:`find_by_keys`.
            ValidationError: *near* not a string, or *limit* or *whole* not a whole number
                from 1.
        """
        whole = check_neighbours(self._kind, near, limit, whole)
        wanted = self._wanted(keys)
        ids: set[str] = set()
        table, near_searches = self._table, self._near
        with self._store.lock:
            for key in wanted:
                found = table.neighbours(key, near, limit, whole)
                near_searches.setdefault((key, near, limit, whole), found)
                ids |= found
        return self._found(ids, wanted)

    def _wanted(self, keys: Iterable[str]) -> set[str]:
        """*keys* as the index holds them (checked, rule keys translated)."""
        check_keys(self._kind, keys)
        wanted = {str(key) for key in keys}
        if self._kind in RULE_KINDS and self._store.keys is lookup_keys:
            unknown = self._store.rules.unknown(wanted)
            if unknown:
                raise not_indexed(self._kind, unknown, "this MemoryStore")
            wanted = set(self._store.rules.translate(wanted))
        return wanted

    def _found(self, ids: set[str], wanted: set[str]) -> list[T]:
        """The records of committed *ids* and staged records under *wanted*, by id."""
        # Committed matches whose record is staged are replaced by the staged matches.
        changes = self._changes
        ids = {record_id for record_id in ids if record_id not in changes}
        ids |= self._staged.matching(wanted)
        found_records = [self._current(record_id) for record_id in sorted(ids)]
        return [record for record in found_records if record is not None]

    # -- used by the unit of work -------------------------------------------------------

    def _conflicts(self) -> list[str]:
        versions, seen = self._table.versions, self._seen
        stale = [
            f"{self._kind} {rid}"
            for rid in self._changes
            if versions.get(rid) != seen.get(rid, versions.get(rid))
        ]
        index = self._table.index
        stale += [
            f"{self._kind} look-up {key}"
            for key, found in self._searches.items()
            if frozenset(index.get(key, ())) != found
        ]
        table = self._table
        stale += [
            f"{self._kind} look-up {key} near {near!r}"
            for (key, near, limit, whole), found in self._near.items()
            if table.neighbours(key, near, limit, whole) != found
        ]
        return stale

    def _prepare(self) -> list[tuple[str, T | None, tuple[str, ...]]]:
        """The staged changes with the keys each will be indexed under (may raise)."""
        kind, store = self._kind, self._store
        return [
            (record_id, record, () if record is None else store.record_keys(kind, record))
            for record_id, record in self._changes.items()
        ]

    def _apply(self, prepared: list[tuple[str, T | None, tuple[str, ...]]]) -> None:
        table = self._table
        for record_id, record, keys in prepared:
            table.unindex(record_id)
            if record is None:
                table.records.pop(record_id, None)
                # The version lives on (a tombstone): a record removed and added again
                # meanwhile never looks unchanged to a unit that read it before.
                table.versions[record_id] = table.versions.get(record_id, 0) + 1
                continue
            table.records[record_id] = record
            table.versions[record_id] = table.versions.get(record_id, 0) + 1
            table.reindex(record_id, keys)
        self._committed()

    def _committed(self) -> None:
        """Forget what this commit wrote and searched; remember the other reads.

        A record read before the unit's own commit and written after it is still checked
        against the version it was read at (``rescore`` commits batch by batch).
        """
        for record_id in self._changes:
            self._seen.pop(record_id, None)
        self._changes.clear()
        self._staged.clear()
        self._searches.clear()
        self._near.clear()

    def _reset(self) -> None:
        self._changes.clear()
        self._staged.clear()
        self._seen.clear()
        self._searches.clear()
        self._near.clear()


class MemoryUnitOfWork(StagingUnitOfWork):
    """A unit of work over a :class:`MemoryStore` (a new, empty store by default).

    Besides the five core repositories it stores merges (``merges``,
    :class:`~leadmodel.ports.SupportsMerges`), time-trigger state (``trigger_states``,
    :class:`~leadmodel.ports.SupportsTriggerState`), consents (``consents``,
    :class:`~leadmodel.ports.SupportsConsents`) and the privacy log (``privacy_log``,
    :class:`~leadmodel.ports.SupportsPrivacyLog`), and indexes duplicate rules' keys
    (:meth:`index_rules`, :class:`~leadmodel.ports.SupportsKeyIndex`). A record removed
    from a memory store is gone with its last reference: nothing needs scrubbing.
    """

    def __init__(self, store: MemoryStore | None = None) -> None:
        if store is not None and not isinstance(store, MemoryStore):
            raise ValidationError(
                "MemoryUnitOfWork",
                [
                    FieldError(
                        "store", "type", f"must be a MemoryStore, not {describe_value(store)}"
                    )
                ],
            )
        self.store = store if store is not None else MemoryStore()
        self.leads: MemoryRepository[Lead] = MemoryRepository(self.store, "lead")
        self.contacts: MemoryRepository[Contact] = MemoryRepository(self.store, "contact")
        self.accounts: MemoryRepository[Account] = MemoryRepository(self.store, "account")
        self.opportunities: MemoryRepository[Opportunity] = MemoryRepository(
            self.store, "opportunity"
        )
        self.activities: MemoryRepository[Activity] = MemoryRepository(self.store, "activity")
        self.merges: MemoryRepository[MergeRecord] = MemoryRepository(self.store, "merge")
        self.trigger_states: MemoryRepository[TriggerState] = MemoryRepository(
            self.store, "trigger_state"
        )
        self.consents: MemoryRepository[Consent] = MemoryRepository(self.store, "consent")
        self.privacy_log: MemoryRepository[PrivacyLogEntry] = MemoryRepository(
            self.store, "privacy_log"
        )
        self.committed = False

    def commit(self) -> None:
        """Persist every staged change at once, or none.

        Raises:
            ConcurrencyError: a record this unit writes changed in the store since this
                unit read it, or a key this unit searched finds other records now;
                nothing is written and the staged changes are discarded.
        """
        repositories = self._repositories()
        if self._nothing_to_write(repositories):
            return
        with self.store.lock:
            conflicts = [
                item
                for repo in repositories
                for item in repo._conflicts()  # noqa: SLF001 - the unit owns its repositories
            ]
            if conflicts:
                self.rollback()
                shown = ", ".join(conflicts[:10])
                raise ConcurrencyError(
                    f"changed in storage since this unit read them: {shown}", records=conflicts
                )
            try:
                prepared = [repo._prepare() for repo in repositories]  # noqa: SLF001
            except BaseException:
                self.rollback()
                raise
            for repo, changes in zip(repositories, prepared, strict=True):
                repo._apply(changes)  # noqa: SLF001
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
