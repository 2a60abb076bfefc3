"""Ports: what leadmodel needs from the host application, as ``typing.Protocol`` classes.

The host implements these over its own storage and messaging (Django ORM, SQLAlchemy, an
HTTP CRM …); leadmodel ships reference adapters in :mod:`leadmodel.adapters.memory`. Any
class with the right methods satisfies a port: nothing needs to inherit from it.

Repositories speak of whole entities. ``find_by_keys`` looks records up by *lookup keys*,
short strings derived from a record (``"email:ada@example.org"``, ``"phone:+14155551234"``)
that the adapter indexes; duplicate rules publish the keys they block on, so a host database
can index exactly those (see :func:`lookup_keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, TypeVar, runtime_checkable

from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity

if TYPE_CHECKING:
    from leadmodel.rules.matching import MatchingRule
    from leadmodel.rules.merge import MergeRecord  # noqa: F401 - a string base below
    from leadmodel.rules.triggers import TriggerState  # noqa: F401 - a string base below
    from leadmodel.rules.views import ListView

__all__ = [
    "AccountRepository",
    "ActivityRepository",
    "Clock",
    "ConsentRepository",
    "ContactRepository",
    "IdGenerator",
    "KeyFunction",
    "LeadRepository",
    "MergeRepository",
    "Notifier",
    "OpportunityRepository",
    "PrivacyKey",
    "PrivacyLogRepository",
    "Repository",
    "Store",
    "SupportsConsents",
    "SupportsKeyIndex",
    "SupportsMerges",
    "SupportsNeighbours",
    "SupportsPrivacyLog",
    "SupportsScrub",
    "SupportsTriggerState",
    "SupportsViews",
    "TriggerStateRepository",
    "UnitOfWork",
    "lookup_keys",
    "neighbour_sort_value",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

KeyFunction = Callable[[object], Iterable[str]]
"""Derives the lookup keys of a record, for ``find_by_keys``."""


def lookup_keys(record: object) -> tuple[str, ...]:
    """The default lookup keys of a record: its email, phone and mobile, normalised.

    >>> from leadmodel import Lead, EmailAddress
    >>> lookup_keys(
    ...     Lead(id="L1", last_name="Ng", company="Acme", email=EmailAddress.parse("NG@acme.com"))
    ... )
    ('email:ng@acme.com',)
    """
    keys: list[str] = []
    email = getattr(record, "email", None)
    if email is not None:
        keys.append(f"email:{email}")
    for name in ("phone", "mobile"):
        phone = getattr(record, name, None)
        if phone is not None:
            keys.append(f"phone:{phone}")
    subject_id = getattr(record, "subject_id", None)
    if subject_id is not None:
        keys.append(f"subject:{subject_id}")
    subject_hash = getattr(record, "subject_hash", None)
    if isinstance(subject_hash, str):  # a privacy log entry: found by whom it was about
        keys.append(f"hash:{subject_hash}")
    absorbed = getattr(record, "absorbed_ids", None)
    if isinstance(absorbed, tuple):  # a stored merge: found by the records it merged
        keys.append(f"record:{record.survivor_id}")  # type: ignore[attr-defined]
        keys += [f"record:{record_id}" for record_id in absorbed]
    return tuple(dict.fromkeys(keys))


_SORT_FIELDS: tuple[str, ...] = ("company", "email", "phone")
_SORT_LENGTH = 200


def neighbour_sort_value(record: object) -> str:
    r"""Where *record* sorts among the records sharing a lookup or blocking key.

    Stores that answer bounded duplicate searches
    (:class:`SupportsNeighbours`) keep each key's records in this order, so a record
    is compared with its nearest neighbours instead of a whole oversized block. It is the
    casefolded first and last name in alphabetical order (a swapped name sorts with the
    original) or an account's name, then the company, email and phone, joined by ``"\x1f"``
    and cut at 200 characters; identical records sort together.

    >>> from leadmodel import Lead
    >>> neighbour_sort_value(Lead(id="L1", first_name="Lee", last_name="Ann", company="Acme"))
    'ann\x1flee\x1facme'
    """
    names = sorted(
        str(value).casefold().strip()
        for value in (getattr(record, "first_name", None), getattr(record, "last_name", None))
        if value
    )
    name = getattr(record, "name", None)
    if not names and isinstance(name, str):  # an account
        names = [name.casefold().strip()]
    parts = [*names]
    for field in _SORT_FIELDS:
        value = getattr(record, field, None)
        if value:
            parts.append(str(value).casefold().strip())
    return "\x1f".join(parts)[:_SORT_LENGTH]


class Repository(Protocol[T]):
    """Stores entities of one kind by id.

    ``add`` refuses an id that exists (:class:`~leadmodel.RecordExists`); ``update`` and
    ``remove`` refuse one that does not (:class:`~leadmodel.RecordNotFound`). Changes made
    through a unit of work's repositories persist only on ``commit()``.
    """

    def get(self, record_id: str) -> T | None:
        """The record with *record_id*, or ``None``."""
        ...

    def add(self, record: T) -> None:
        """Store a new record."""
        ...

    def update(self, record: T) -> None:
        """Replace the stored record that has the same id."""
        ...

    def remove(self, record_id: str) -> None:
        """Delete the record with *record_id*."""
        ...

    def __iter__(self) -> Iterator[T]:
        """Every record, in a stable order (by id)."""
        ...

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record having at least one of *keys*, each once, ordered by id."""
        ...


@runtime_checkable
class SupportsViews(Protocol[T_co]):
    """A repository that runs a :class:`~leadmodel.ListView` itself (optional).

    :func:`~leadmodel.apply_view` hands a view to any records object with a ``select``
    method, so a repository may translate the view's criterion to its own query language
    (SQL ``WHERE``, an ORM filter, a search API) instead of streaming every record through
    Python. ``select`` must return exactly what ``apply_view(view, list(repository))``
    returns, in the same order. The safe recipe, used by
    :class:`~leadmodel.adapters.sqlite.SQLiteRepository`: translate what you can into a
    query that returns a *superset* of the matching records (the untranslatable parts of an
    ``All`` are left out; an ``Any`` or ``Not`` with an untranslatable part is not
    translated), keep the repository's iteration order, then run ``apply_view`` on the
    candidates, which re-checks the criterion, sorts and limits.
    """

    def select(self, view: ListView) -> Sequence[T_co]:
        """The records *view* shows, in its order, at most its limit."""
        ...


@runtime_checkable
class SupportsNeighbours(Protocol[T_co]):
    """A repository that answers bounded duplicate searches (optional capability).

    A lookup or blocking key shared by thousands of records (a company's switchboard
    phone) would make every duplicate check read them all. ``find_neighbours`` reads a
    bounded number of records a key: the services use it when a repository has it, and
    fall back to ``find_by_keys`` otherwise. Both shipped adapters implement it (SQLite
    with an index on the key and the sort value).
    """

    def find_neighbours(
        self, keys: Iterable[str], near: str, limit: int, *, whole: int | None = None
    ) -> Sequence[T_co]:
        """The records nearest *near* under each of *keys*, each once, ordered by id.

        For each key: every record under it when it holds at most *whole* (default
        ``2 * limit``; never less than that); otherwise
        the *limit* records sorting before *near* and the *limit* sorting at or after it,
        in the order of :func:`neighbour_sort_value` (ties by id). Records this unit of
        work staged under a key are always included. As with ``find_by_keys``, the search
        is re-checked at commit: if it would now find other records, the commit raises
        :class:`~leadmodel.ConcurrencyError`.
        """
        ...


class LeadRepository(Repository[Lead], Protocol):
    """Stores :class:`~leadmodel.Lead` records."""


class ContactRepository(Repository[Contact], Protocol):
    """Stores :class:`~leadmodel.Contact` records."""


class AccountRepository(Repository[Account], Protocol):
    """Stores :class:`~leadmodel.Account` records."""


class OpportunityRepository(Repository[Opportunity], Protocol):
    """Stores :class:`~leadmodel.Opportunity` records."""


class ActivityRepository(Repository[Activity], Protocol):
    """Stores :class:`~leadmodel.Activity` records.

    ``find_by_keys(["subject:L1"])`` finds the activities of record ``L1``.
    """


class MergeRepository(Repository["MergeRecord"], Protocol):
    """Stores :class:`~leadmodel.MergeRecord` values (merges with their originals).

    ``find_by_keys(["record:L1"])`` finds the merges that kept or absorbed record ``L1``.
    """


@runtime_checkable
class SupportsMerges(Protocol):
    """A unit of work that stores merges (optional capability), so they can be undone.

    :func:`leadmodel.services.merge_records` needs it; both shipped adapters have it.
    """

    @property
    def merges(self) -> MergeRepository:
        """The stored merges, as this unit of work sees them."""
        ...


class TriggerStateRepository(Repository["TriggerState"], Protocol):
    """Stores :class:`~leadmodel.TriggerState` values by their ``id`` (one per rule set).

    Its ``find_by_keys`` finds nothing: states are read by id.

    >>> from leadmodel import TriggerState
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> with MemoryUnitOfWork() as uow:
    ...     uow.trigger_states.add(TriggerState(id="sla"))
    ...     uow.trigger_states.get("sla").id
    'sla'
    """


@runtime_checkable
class SupportsTriggerState(Protocol):
    """A unit of work that stores time-trigger state (optional capability).

    :func:`leadmodel.services.run_due` reads the :class:`~leadmodel.TriggerState` through
    it and writes the next one in the same commit as the changes the triggers made, so a
    trigger never fires twice for one episode, even when two ticks race (the second
    commit raises :class:`~leadmodel.ConcurrencyError`). Both shipped adapters have it.

    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> isinstance(MemoryUnitOfWork(), SupportsTriggerState)
    True
    """

    @property
    def trigger_states(self) -> TriggerStateRepository:
        """The stored trigger states, as this unit of work sees them."""
        ...


@runtime_checkable
class SupportsKeyIndex(Protocol):
    """A unit of work whose storage indexes duplicate rules' blocking keys (optional).

    ``index_rules`` makes the storage index the blocking keys of *rules* for leads,
    contacts and accounts: the definitions are stored with the data, so every process
    indexes the same keys, and records stored before a rule appeared are back-filled.
    Afterwards ``find_by_keys`` finds records by those keys; asking for the blocking key of
    a rule that was never indexed raises :class:`~leadmodel.KeyNotIndexed` instead of
    finding nothing. The services call it with their duplicate policies' rules.
    """

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of *rules* (a no-op for rules indexed already)."""
        ...


class ConsentRepository(Repository[Consent], Protocol):
    """Stores :class:`~leadmodel.Consent` values.

    ``find_by_keys(["subject:L1"])`` finds the consents of record ``L1``.
    """


class PrivacyLogRepository(Repository[PrivacyLogEntry], Protocol):
    """Stores :class:`~leadmodel.PrivacyLogEntry` values.

    ``find_by_keys(["hash:" + privacy_hash(key, "email", address)])`` finds the requests
    about that address.
    """


@runtime_checkable
class SupportsConsents(Protocol):
    """A unit of work that stores consents (optional capability): ``uow.consents``.

    The privacy services and the notification checks read a person's consents through it;
    both shipped adapters have it.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Consent
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> with MemoryUnitOfWork() as uow:
    ...     uow.consents.add(
    ...         Consent(
    ...             id="C1",
    ...             subject_id="L1",
    ...             channel="email",
    ...             purpose="newsletter",
    ...             status="granted",
    ...             captured_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...         )
    ...     )
    ...     [c.id for c in uow.consents.find_by_keys(["subject:L1"])]
    ['C1']
    """

    @property
    def consents(self) -> ConsentRepository:
        """The stored consents, as this unit of work sees them."""
        ...


@runtime_checkable
class SupportsPrivacyLog(Protocol):
    """A unit of work that stores the privacy log (optional capability): ``uow.privacy_log``.

    Each :class:`~leadmodel.PrivacyLogEntry` keeps a keyed hash of whom a request was
    about, never the personal data itself; ``find_by_keys(["hash:" + subject_hash])``
    finds the requests about one person (how an erased person is recognised at import).
    Both shipped adapters have it.

    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> isinstance(MemoryUnitOfWork(), SupportsPrivacyLog)
    True
    """

    @property
    def privacy_log(self) -> PrivacyLogRepository:
        """The stored privacy log, as this unit of work sees it."""
        ...


class UnitOfWork(Protocol):
    """One atomic use case: repositories whose changes persist together or not at all.

    Use it as a context manager; changes persist only on :meth:`commit`, and leaving the
    ``with`` block without committing (or with an exception) rolls back::

        with uow:
            uow.leads.add(lead)
            uow.commit()
    """

    @property
    def leads(self) -> LeadRepository:
        """The leads, as this unit of work sees them."""
        ...

    @property
    def contacts(self) -> ContactRepository:
        """The contacts, as this unit of work sees them."""
        ...

    @property
    def accounts(self) -> AccountRepository:
        """The accounts, as this unit of work sees them."""
        ...

    @property
    def opportunities(self) -> OpportunityRepository:
        """The opportunities, as this unit of work sees them."""
        ...

    @property
    def activities(self) -> ActivityRepository:
        """The activities, as this unit of work sees them."""
        ...

    def __enter__(self) -> Self:
        """Begin the unit of work."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Persist every change made since the unit of work began (or last committed).

        Raises:
            ConcurrencyError: a record changed in storage since it was read; nothing persists.
        """
        ...

    def rollback(self) -> None:
        """Discard every change made since the unit of work began (or last committed)."""
        ...


class Store(Protocol):
    """A database that opens units of work: what the command line and long-running hosts take.

    A process opens its store once (:func:`leadmodel.adapters.open_store` opens a SQLite
    path or a ``postgresql://`` URL) and asks it for a new :class:`UnitOfWork` per use
    case; the units share the store's connection (or pool) and see each other's commits.
    :class:`~leadmodel.adapters.sqlite.SQLiteStore` and
    :class:`~leadmodel.adapters.memory.MemoryStore` satisfy it, and
    :class:`leadmodel.testing.contracts.StoreContract` holds an adapter's store to it.

    >>> from leadmodel import Lead
    >>> from leadmodel.adapters.sqlite import SQLiteStore
    >>> def leads_in(store: Store) -> int:
    ...     with store.unit_of_work() as uow:
    ...         uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
    ...         uow.commit()
    ...     return store.count("lead")
    >>> with SQLiteStore(":memory:") as store:
    ...     leads_in(store)
    1
    """

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work over this store."""
        ...

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of duplicate *rules* (see :class:`SupportsKeyIndex`)."""
        ...

    @property
    def schema_version(self) -> int:
        """The version of the schema the stored data is in."""
        ...

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        ...

    def close(self) -> None:
        """Release the connection (or pool); the store is not used afterwards."""
        ...

    def __enter__(self) -> Self:
        """The store itself, closed when the ``with`` block ends."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        ...


@runtime_checkable
class SupportsScrub(Protocol):
    """A store that can clear what deleted records left behind (optional capability).

    Deleting a row rarely removes its bytes at once: SQLite keeps old pages in its
    write-ahead log and free pages, PostgreSQL keeps dead tuples until ``VACUUM``. After an
    erasure, :func:`leadmodel.services.erase` calls ``scrub()`` on the unit of work's store
    when it has one, so an erased person's data does not survive in the files. A store that
    cannot finish now (another connection reading) raises
    :class:`~leadmodel.DatabaseBusy`, and the erasure reports ``scrubbed=False``.

    >>> from leadmodel.adapters.memory import MemoryStore
    >>> from leadmodel.adapters.sqlite import SQLiteStore
    >>> with SQLiteStore(":memory:") as store:
    ...     isinstance(store, SupportsScrub)
    True
    >>> isinstance(MemoryStore(), SupportsScrub)  # nothing of a removed record remains
    False
    """

    def scrub(self) -> None:
        """Remove every remaining byte of deleted or overwritten records."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Sends :class:`~leadmodel.Notification` values (email, chat, a task queue …)."""

    def send(self, notification: Notification) -> None:
        """Send one notification."""
        ...


@runtime_checkable
class PrivacyKey(Protocol):
    """The host's secret key for keyed hashes and anonymisation tokens.

    :func:`~leadmodel.privacy_hash` computes HMAC-SHA256 with it, so hashes and tokens
    need no randomness and cannot be recomputed (or a guess checked) without it. Keep it
    out of the database it protects, and keep it stable: a new key no longer recognises
    the people the privacy log recorded under the old one.

    >>> class HostKey:
    ...     def secret(self) -> bytes:
    ...         return b"from the host's secret store"
    >>> isinstance(HostKey(), PrivacyKey)
    True
    """

    def secret(self) -> bytes:
        """The secret key, as non-empty bytes."""
        ...


@runtime_checkable
class Clock(Protocol):
    """Tells the time; services read it, pure functions take ``now`` as an argument."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@runtime_checkable
class IdGenerator(Protocol):
    """Makes new record ids; called with the entity kind (``ids("account")``).

    Any ``Callable[[str], str]`` qualifies, so pure functions take it as ``ids``.
    """

    def __call__(self, kind: str) -> str:
        """A new, unused id for a record of *kind*."""
        ...
