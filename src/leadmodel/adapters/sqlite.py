"""SQLite adapters: every storage port over the standard library's ``sqlite3``.

:class:`SQLiteStore` opens (or creates) a database file and keeps its schema current: tables
are created and migrated by the adapter, versioned with ``PRAGMA user_version``; file
databases run in WAL mode. Each entity is one row: its id, a version, the fields people
query as columns (names, email, status, source, owner, dates …) and the whole entity as
exact JSON (custom fields, decimals and offsets round-trip unchanged). Lookup keys live in
their own indexed table, so ``find_by_keys`` is an index look-up.

:class:`SQLiteUnitOfWork` stages changes in memory and writes them in **one SQLite
transaction** on ``commit()``. The commit is optimistic: every record the unit read or
wrote must still have the version it had, or the transaction rolls back and
:class:`~leadmodel.ConcurrencyError` is raised — nothing is overwritten. Leaving the
``with`` block without committing, or with an exception, discards the staged changes.
All SQL is parameterised.

>>> from leadmodel import Lead
>>> store = SQLiteStore(":memory:")
>>> with SQLiteUnitOfWork(store) as uow:
...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
...     uow.commit()
>>> with SQLiteUnitOfWork(store) as uow:
...     uow.leads.get("L1").company
'Acme'
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

from leadmodel.adapters._staging import (
    StagedKeys,
    StagingUnitOfWork,
    check_id,
    check_keys,
    check_record,
)
from leadmodel.domain._checks import require_instance
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
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.rules.merge import MergeRecord
from leadmodel.ports import KeyFunction, lookup_keys
from leadmodel.rules.criteria import All, Condition, Criterion, Not
from leadmodel.rules.views import ListView, apply_view
from leadmodel.serialization import from_dict, to_dict

__all__ = ["SCHEMA_VERSION", "SQLiteRepository", "SQLiteStore", "SQLiteUnitOfWork"]

T = TypeVar("T", Lead, Contact, Account, Opportunity, Activity, MergeRecord)

SCHEMA_VERSION: Final = 2
"""The schema version this adapter writes (``PRAGMA user_version``)."""

_KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
    "activity": Activity,
    "merge": MergeRecord,
}
# The fields stored as columns beside the JSON, for people querying the database.
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "lead": (
        "first_name",
        "last_name",
        "company",
        "email",
        "status",
        "source",
        "owner_id",
        "rating",
        "created_at",
        "updated_at",
    ),
    "contact": ("first_name", "last_name", "account_id", "email", "owner_id", "created_at"),
    "account": ("name", "website", "industry", "owner_id", "created_at"),
    "opportunity": ("name", "account_id", "stage", "close_date", "owner_id", "created_at"),
    "activity": ("subject_id", "kind", "occurred_at"),
    "merge": ("merged_at", "undone_at"),
}
# The columns holding a plain text field as it is, so list views may filter on them in SQL.
_TEXT_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "lead": frozenset(
        ("first_name", "last_name", "company", "status", "source", "owner_id", "rating")
    ),
    "contact": frozenset(("first_name", "last_name", "account_id", "owner_id")),
    "account": frozenset(("name", "website", "industry", "owner_id")),
    "opportunity": frozenset(("name", "account_id", "stage", "owner_id")),
    "activity": frozenset(("subject_id", "kind")),
    "merge": frozenset(),
}
_TABLES: Final = {kind: f"{kind}_records" for kind in _KINDS}
_BATCH: Final = 500  # keys per IN (...) query, under SQLite's variable limit


_V1_KINDS: Final = ("lead", "contact", "account", "opportunity", "activity")


def _record_table(kind: str) -> str:
    extra = "".join(f", {column} TEXT" for column in _COLUMNS[kind])
    return (
        f"CREATE TABLE {_TABLES[kind]} ("
        f"id TEXT PRIMARY KEY, version INTEGER NOT NULL{extra}, data TEXT NOT NULL)"
    )


def _schema_v1() -> list[str]:
    statements = [_record_table(kind) for kind in _V1_KINDS]
    statements += [
        (
            "CREATE TABLE lookup_keys (kind TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL, "
            "PRIMARY KEY (kind, key, id)) WITHOUT ROWID"
        ),
        "CREATE INDEX lookup_keys_by_id ON lookup_keys (kind, id)",
        "CREATE INDEX lead_records_email ON lead_records (email)",
        "CREATE INDEX lead_records_status ON lead_records (status)",
        "CREATE INDEX contact_records_account ON contact_records (account_id)",
        "CREATE INDEX activity_records_subject ON activity_records (subject_id)",
    ]
    return statements


def _schema_v2() -> list[str]:
    """Stored merges (with their originals) and the duplicate rules whose keys are indexed."""
    return [
        _record_table("merge"),
        (
            "CREATE TABLE indexed_rules (name TEXT PRIMARY KEY, document TEXT NOT NULL, "
            "indexed_at_version INTEGER NOT NULL)"
        ),
    ]


_MIGRATIONS: Final = {1: _schema_v1, 2: _schema_v2}


def _fold(value: str | None) -> str | None:
    """SQL ``leadmodel_fold``: text compared the way criteria compare it (case-folded)."""
    return value.casefold() if isinstance(value, str) else value


_Where = tuple[str, list[str], bool]  # SQL that is never NULL, its parameters, exact?
_EVERYTHING: Final[_Where] = ("1", [], False)


def _condition_sql(condition: Condition, columns: frozenset[str]) -> _Where:
    column, op, expected = condition.field, condition.op, condition.value
    if column not in columns:
        return _EVERYTHING
    blank = f"({column} IS NULL OR {column} = '')"
    if op == "is_blank":
        return blank, [], True
    if op == "is_not_blank":
        return f"(NOT {blank})", [], True
    if op in ("eq", "ne", "in", "not_in"):
        wanted = expected if isinstance(expected, tuple) else (expected,)
        # A text column holds text: only text values can equal it.
        texts = sorted({w.casefold() for w in wanted if isinstance(w, str)})
        member = f"leadmodel_fold({column}) IN ({', '.join('?' * len(texts))})" if texts else "0"
        if op in ("eq", "in"):
            return f"(NOT {blank} AND {member})", texts, True
        return f"({blank} OR NOT ({member}))", texts, True
    if op in ("contains", "starts_with", "ends_with") and isinstance(expected, str):
        # A superset: starting or ending with a text contains it.
        return (
            f"(NOT {blank} AND instr(leadmodel_fold({column}), ?) > 0)",
            [expected.casefold()],
            False,
        )
    return _EVERYTHING


def _where(criterion: Criterion, columns: frozenset[str]) -> _Where:
    """SQL selecting a superset of the records *criterion* matches (exactly them if exact)."""
    if isinstance(criterion, Condition):
        return _condition_sql(criterion, columns)
    if isinstance(criterion, Not):
        sql, params, exact = _where(criterion.item, columns)
        return (f"(NOT {sql})", params, True) if exact else _EVERYTHING
    parts = [_where(item, columns) for item in criterion.items]
    exact = all(part[2] for part in parts)
    if isinstance(criterion, All):
        kept = [part for part in parts if part[0] != "1"]  # an untranslated part: re-checked
        if not kept:
            return "1", [], exact
        return (
            "(" + " AND ".join(p[0] for p in kept) + ")",
            [x for p in kept for x in p[1]],
            exact,
        )
    if any(part[0] == "1" for part in parts):
        return _EVERYTHING
    return "(" + " OR ".join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]], exact


def _column_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


class SQLiteStore:
    """A SQLite database holding every kind of record (``":memory:"`` for a scratch one).

    Opening a file created by an older version migrates it; a file from a newer version is
    refused. Units of work over one store share its connection, one at a time.

    Args:
        path: the database file (created when missing).
        keys: derives each record's lookup keys (default
            :func:`leadmodel.ports.lookup_keys`); changing it needs :meth:`reindex`.
    """

    def __init__(
        self, path: str | Path = "leadmodel.db", *, keys: KeyFunction = lookup_keys
    ) -> None:
        self.path = str(path)
        self.keys = keys
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if self.path != ":memory:":
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        self.connection.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages
        self.connection.execute("PRAGMA temp_store=MEMORY")
        self.connection.create_function("leadmodel_fold", 1, _fold, deterministic=True)
        self._migrate()

    def _migrate(self) -> None:
        with self.lock:
            current = self.connection.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise ValidationError(
                    "SQLiteStore",
                    [
                        FieldError(
                            "path",
                            "newer_schema",
                            f"{self.path} has schema {current}; this leadmodel reads up to "
                            f"{SCHEMA_VERSION}",
                        )
                    ],
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self.connection.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _MIGRATIONS[version]():
                        self.connection.execute(statement)
                    self.connection.execute(f"PRAGMA user_version = {int(version)}")
                except BaseException:
                    self.connection.execute("ROLLBACK")
                    raise
                self.connection.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        with self.lock:
            return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        if kind not in _TABLES:
            raise ValidationError(
                "SQLiteStore.count",
                [FieldError("kind", "invalid", f"must be one of {', '.join(_TABLES)}")],
            )
        with self.lock:
            row = self.connection.execute(f"SELECT COUNT(*) FROM {_TABLES[kind]}").fetchone()  # noqa: S608
        return int(row[0])

    def reindex(self) -> None:
        """Rebuild every record's lookup keys (after changing *keys*), in one transaction."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                self.connection.execute("DELETE FROM lookup_keys")
                for kind, cls in _KINDS.items():
                    query = f"SELECT id, data FROM {_TABLES[kind]}"  # noqa: S608 - our table names
                    rows = self.connection.execute(query).fetchall()
                    for record_id, data in rows:
                        record: object = from_dict(cls, json.loads(data))
                        self.connection.executemany(
                            "INSERT OR IGNORE INTO lookup_keys (kind, key, id) VALUES (?, ?, ?)",
                            [(kind, key, record_id) for key in self.keys(record)],
                        )
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SQLiteRepository(Generic[T]):
    """One unit of work's view of one kind of record: the database plus staged changes."""

    def __init__(self, store: SQLiteStore, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._type: type[T] = _KINDS[kind]
        self._table = _TABLES[kind]
        self._changes: dict[str, T | None] = {}
        self._staged = StagedKeys(store.keys)
        self._seen: dict[str, int | None] = {}
        self._loaded: dict[str, T] = {}

    def _check_type(self, record: object) -> T:
        return check_record(self._kind, self._type, record)

    def _decode(self, data: str) -> T:
        record: T = from_dict(self._type, json.loads(data))
        return record

    def _stored(self, record_id: str) -> T | None:
        """The committed record, remembering the version this unit saw."""
        if record_id in self._loaded:
            return self._loaded[record_id]
        with self._store.lock:
            row = self._store.connection.execute(
                f"SELECT version, data FROM {self._table} WHERE id = ?",  # noqa: S608
                (record_id,),
            ).fetchone()
        if record_id not in self._seen:
            self._seen[record_id] = None if row is None else int(row[0])
        if row is None:
            return None
        record = self._decode(row[1])
        self._loaded[record_id] = record
        return record

    def _current(self, record_id: str) -> T | None:
        if record_id in self._changes:
            return self._changes[record_id]
        return self._stored(record_id)

    def get(self, record_id: str) -> T | None:
        """The record with *record_id* as this unit of work sees it, or ``None``."""
        return self._current(check_id(self._kind, record_id))

    def add(self, record: T) -> None:
        """Stage a new record; :class:`~leadmodel.RecordExists` if the id is taken."""
        record = self._check_type(record)
        if self._current(record.id) is not None:
            raise RecordExists(self._kind, record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def update(self, record: T) -> None:
        """Stage a replacement; :class:`~leadmodel.RecordNotFound` if there is none."""
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
            rows = self._store.connection.execute(
                f"SELECT id, data FROM {self._table} ORDER BY id"  # noqa: S608
            ).fetchall()
        staged = sorted(self._changes)
        merged = sorted({row[0] for row in rows} | set(staged))
        stored = dict(rows)
        for record_id in merged:
            if record_id in self._changes:
                record = self._changes[record_id]
                if record is not None:
                    yield record
            else:
                yield self._decode(stored[record_id])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def select(self, view: ListView) -> list[T]:
        """The records *view* shows, as :func:`~leadmodel.apply_view` would, filtered in SQL.

        The view's criterion is translated to a ``WHERE`` clause over the text columns
        (names, company, status, source, owner, rating …: ``eq``, ``ne``, ``in``,
        ``not_in``, ``is_blank``, ``is_not_blank`` exactly, case-insensitively;
        ``contains``, ``starts_with`` and ``ends_with`` as a pre-filter), combined through
        ``All``, ``Any`` and ``Not``. Conditions on other fields are checked in Python on the
        rows SQL returns, and the sort and limit are applied there too, so the result is
        always exactly ``apply_view(view, list(repository))``. Staged changes are seen.

        Raises:
            ValidationError: *view* is not a ListView.
        """
        require_instance(view, ListView, "a ListView", function="select", path="view")
        where, params = "1", list[str]()
        if view.criterion is not None:
            where, params, _exact = _where(view.criterion, _TEXT_COLUMNS[self._kind])
        with self._store.lock:
            rows = self._store.connection.execute(
                f"SELECT id, data FROM {self._table} WHERE {where} ORDER BY id",  # noqa: S608 - our columns, values as parameters
                params,
            ).fetchall()
        changes = self._changes
        stored = {row[0]: row[1] for row in rows if row[0] not in changes}
        staged = {rid: record for rid, record in changes.items() if record is not None}
        candidates = [
            staged[rid] if rid in staged else self._decode(stored[rid])
            for rid in sorted(stored.keys() | staged.keys())
        ]
        return apply_view(view, candidates)  # type: ignore[return-value]

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record with at least one of *keys*, each once, ordered by id."""
        check_keys(self._kind, keys)
        wanted = sorted({str(key) for key in keys})
        ids: set[str] = set()
        with self._store.lock:
            for start in range(0, len(wanted), _BATCH):
                part: list[str] = wanted[start : start + _BATCH]
                marks = ", ".join("?" * len(part))
                ids.update(
                    row[0]
                    for row in self._store.connection.execute(
                        f"SELECT id FROM lookup_keys WHERE kind = ? AND key IN ({marks})",  # noqa: S608
                        (self._kind, *part),
                    )
                )
        # Committed matches whose record is staged are replaced by the staged matches.
        changes = self._changes
        ids = {record_id for record_id in ids if record_id not in changes}
        ids |= self._staged.matching(wanted)
        found = [self._current(record_id) for record_id in sorted(ids)]
        return [record for record in found if record is not None]

    # -- used by the unit of work -------------------------------------------------------

    def _versions(self, connection: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
        """The committed versions of *ids* (absent ids are left out), a batch at a time."""
        versions: dict[str, int] = {}
        for start in range(0, len(ids), _BATCH):
            part = ids[start : start + _BATCH]
            marks = ", ".join("?" * len(part))
            query = f"SELECT id, version FROM {self._table} WHERE id IN ({marks})"  # noqa: S608
            versions.update((row[0], int(row[1])) for row in connection.execute(query, part))
        return versions

    def _write(self, connection: sqlite3.Connection) -> list[str]:
        """Write the staged changes inside the open transaction; the stale ids, if any.

        Every record this unit read must still have the version it read (``None``: it did
        not exist), and every record it adds must still be absent.
        """
        expected = dict(self._seen)
        for record_id in self._changes:
            expected.setdefault(record_id, None)
        if not expected:
            return []
        current = self._versions(connection, list(expected))
        stale = [rid for rid, seen in expected.items() if current.get(rid) != seen]
        if stale:
            return stale
        columns: tuple[str, ...] = _COLUMNS[self._kind]
        names = ", ".join(("id", "version", *columns, "data"))
        marks = ", ".join("?" * (len(columns) + 3))
        changed = list(self._changes.items())
        connection.executemany(
            "DELETE FROM lookup_keys WHERE kind = ? AND id = ?",
            [(self._kind, record_id) for record_id, _ in changed],
        )
        connection.executemany(
            f"DELETE FROM {self._table} WHERE id = ?",  # noqa: S608 - our table name
            [(record_id,) for record_id, record in changed if record is None],
        )
        rows = []
        keys = []
        key_fn = self._store.keys
        for record_id, record in changed:
            if record is None:
                continue
            data: dict[str, Any] = to_dict(record)
            rows.append(
                (
                    record_id,
                    (current.get(record_id) or 0) + 1,
                    *(_column_value(data.get(column)) for column in columns),
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                )
            )
            keys += [(self._kind, key, record_id) for key in key_fn(record)]
        connection.executemany(
            f"INSERT OR REPLACE INTO {self._table} ({names}) VALUES ({marks})",  # noqa: S608
            rows,
        )
        connection.executemany(
            "INSERT OR IGNORE INTO lookup_keys (kind, key, id) VALUES (?, ?, ?)", keys
        )
        return []

    def _reset(self) -> None:
        self._changes.clear()
        self._staged.clear()
        self._seen.clear()
        self._loaded.clear()


class SQLiteUnitOfWork(StagingUnitOfWork):
    """A unit of work over a :class:`SQLiteStore` (or a path to open one at).

    Changes are staged and written in one transaction on :meth:`commit`; see the module.
    """

    def __init__(self, store: SQLiteStore | str | Path = "leadmodel.db") -> None:
        self.store = store if isinstance(store, SQLiteStore) else SQLiteStore(store)
        self.leads: SQLiteRepository[Lead] = SQLiteRepository(self.store, "lead")
        self.contacts: SQLiteRepository[Contact] = SQLiteRepository(self.store, "contact")
        self.accounts: SQLiteRepository[Account] = SQLiteRepository(self.store, "account")
        self.opportunities: SQLiteRepository[Opportunity] = SQLiteRepository(
            self.store, "opportunity"
        )
        self.activities: SQLiteRepository[Activity] = SQLiteRepository(self.store, "activity")
        self.merges: SQLiteRepository[MergeRecord] = SQLiteRepository(self.store, "merge")
        self.committed = False

    def _repositories(self) -> tuple[SQLiteRepository[Any], ...]:
        return (
            self.leads,
            self.contacts,
            self.accounts,
            self.opportunities,
            self.activities,
            self.merges,
        )

    def commit(self) -> None:
        """Write every staged change in one transaction, or none if a record went stale."""
        connection = self.store.connection
        with self.store.lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                stale = [
                    f"{repo._kind} {rid}"  # noqa: SLF001 - the unit owns its repositories
                    for repo in self._repositories()
                    for rid in repo._write(connection)  # noqa: SLF001
                ]
            except BaseException:
                connection.execute("ROLLBACK")
                self.rollback()
                raise
            if stale:
                connection.execute("ROLLBACK")
                self.rollback()
                shown = ", ".join(stale[:10])
                raise ConcurrencyError(f"changed in storage since this unit read them: {shown}")
            connection.execute("COMMIT")
        self.rollback()
        self.committed = True
