"""SQLite adapters: every storage port over the standard library's ``sqlite3``.

:class:`SQLiteStore` opens (or creates) a database file and keeps its schema current: tables
are created and migrated by the adapter, versioned with ``PRAGMA user_version``; file
databases run in WAL mode. Each entity is one row: its id, a version, the fields people
query as columns (names, email, status, source, owner, dates …) and the whole entity as
exact JSON (custom fields, decimals and offsets round-trip unchanged). Lookup keys live in
their own indexed table, so ``find_by_keys`` is an index look-up.

:class:`SQLiteUnitOfWork` stages changes in memory and writes them in **one SQLite
transaction** on ``commit()``. The commit is optimistic: every record the unit read or
writes must still have the version it had when the unit read it (by any path: ``get``,
iteration, ``select``, ``find_by_keys``) and every key it searched must still find the same
records, or the transaction rolls back and :class:`~leadmodel.ConcurrencyError` is raised —
nothing is overwritten. Records only read are not checked, so a long read does not conflict
with every write made meanwhile. A database that another writer holds past the store's
*timeout* raises :class:`~leadmodel.DatabaseBusy` (a ``ConcurrencyError``); a damaged,
foreign, too new or unwritable file raises a :class:`~leadmodel.StorageError`. Leaving the
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

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
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
    encodable,
    not_indexed,
    prepare_rules,
)
from leadmodel.domain._checks import require_instance
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConcurrencyError,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnwritable,
    FieldError,
    InvalidDatabasePath,
    LeadModelError,
    NotADatabase,
    RecordExists,
    RecordNotFound,
    SchemaTooNew,
    StorageError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import KeyFunction, lookup_keys, neighbour_sort_value
from leadmodel.rules.criteria import All, Condition, Criterion, Not
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.triggers import TriggerState
from leadmodel.rules.views import ListView, apply_view
from leadmodel.serialization import from_dict, to_dict

if TYPE_CHECKING:
    from leadmodel.rules.matching import CompiledRule, MatchingRule

__all__ = ["SCHEMA_VERSION", "SQLiteRepository", "SQLiteStore", "SQLiteUnitOfWork"]

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

SCHEMA_VERSION: Final = 5
"""The schema version this adapter writes (``PRAGMA user_version``)."""

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
    "trigger_state": ("evaluated_at",),
    "consent": ("subject_id", "channel", "purpose", "status", "captured_at", "expires_at"),
    "privacy_log": ("kind", "subject_hash", "at", "mode"),
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
    "trigger_state": frozenset(),
    "consent": frozenset(("subject_id", "channel", "purpose", "status")),
    "privacy_log": frozenset(("kind", "subject_hash", "mode")),
}
_TABLES: Final = {kind: f"{kind}_records" for kind in _KINDS}
_BATCH: Final = 500  # keys per IN (...) query, under SQLite's variable limit
_PAGE: Final = 1000  # rows per page when a repository is iterated


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
    """Schema 2: stored merges, indexed duplicate rules, versions of removed records."""
    return [
        _record_table("merge"),
        (
            "CREATE TABLE indexed_rules (name TEXT PRIMARY KEY, document TEXT NOT NULL, "
            "indexed_at_version INTEGER NOT NULL)"
        ),
        # The last version of each removed record, so a record removed and added again
        # never restarts at version 1 (a unit that read version 1 would overwrite it).
        (
            "CREATE TABLE removed_records (kind TEXT NOT NULL, id TEXT NOT NULL, "
            "version INTEGER NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID"
        ),
    ]


def _schema_v3() -> list[str]:
    """Schema 3: each lookup key row holds its record's sort value, for find_neighbours."""
    return [
        "ALTER TABLE lookup_keys ADD COLUMN sort TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX lookup_keys_by_sort ON lookup_keys (kind, key, sort, id)",
    ]


def _schema_v4() -> list[str]:
    """Schema 4: time-trigger states (``SupportsTriggerState``)."""
    return [_record_table("trigger_state")]


def _schema_v5() -> list[str]:
    """Schema 5: consents (``SupportsConsents``) and the privacy log (``SupportsPrivacyLog``).

    From schema 5 every connection also sets ``PRAGMA secure_delete=ON`` (see
    :meth:`SQLiteStore.scrub`); that is a setting of the connection, not of the file.
    """
    return [
        _record_table("consent"),
        _record_table("privacy_log"),
        "CREATE INDEX consent_records_subject ON consent_records (subject_id)",
        "CREATE INDEX privacy_log_records_hash ON privacy_log_records (subject_hash)",
    ]


_MIGRATIONS: Final = {
    1: _schema_v1,
    2: _schema_v2,
    3: _schema_v3,
    4: _schema_v4,
    5: _schema_v5,
}
# The kinds whose tables schema 3 had, when its migration fills in the sort values.
_V3_KINDS: Final = (*_V1_KINDS, "merge")


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
    if not criterion.items:
        # All([]) holds for every record, Any([]) for none: both exactly.
        return ("1", [], True) if isinstance(criterion, All) else ("0", [], True)
    parts = [_where(item, columns) for item in criterion.items]
    exact = all(part[2] for part in parts)
    if isinstance(criterion, All):
        kept = [part for part in parts if part[0] != "1"]  # an untranslated part: re-checked
        if not kept:
            return "1", [], exact
        return _joined(" AND ", [p[0] for p in kept]), [x for p in kept for x in p[1]], exact
    if any(part[0] == "1" for part in parts):
        return _EVERYTHING
    return _joined(" OR ", [p[0] for p in parts]), [x for p in parts for x in p[1]], exact


_JOINED: Final = 16  # terms joined flat; more are nested in halves


def _joined(operator: str, terms: list[str]) -> str:
    """*terms* joined by *operator*, parenthesised as a balanced tree.

    SQLite nests ``a OR b OR c ...`` one level per term and refuses more than 1,000
    levels ("Expression tree is too large"): a group of 1,500 conditions would fail where
    the memory adapter answers. Halves nest only log2(n) levels.
    """
    if len(terms) <= _JOINED:
        return "(" + operator.join(terms) + ")"
    middle = len(terms) // 2
    return (
        "(" + _joined(operator, terms[:middle]) + operator + _joined(operator, terms[middle:]) + ")"
    )


_MAX_PARAMETERS: Final = 10_000
"""The most values a view's WHERE clause binds; beyond, every row is read and checked in
Python (SQLite refuses more than its SQLITE_MAX_VARIABLE_NUMBER)."""


def _column_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _shown(path: str) -> str:
    """A database path for a message: whole, quoted, within reason."""
    return repr(path if len(path) <= 400 else path[:400] + "…")


def _storage_error(exc: sqlite3.Error, path: str) -> LeadModelError:
    """The leadmodel error for what SQLite said about *path*."""
    text = str(exc).lower()
    shown = _shown(path)
    if "locked" in text or "busy" in text:
        return DatabaseBusy(
            f"{shown} stayed locked by another writer past the timeout; nothing was written: "
            "retry (leadmodel.services.retrying) or raise the store's timeout",
            path=path,
        )
    if "not a database" in text or "encrypted" in text:
        return NotADatabase(
            f"{shown} is not a SQLite database (or its header is damaged): open a leadmodel "
            "database, or give a new file name to create one",
            path=path,
        )
    if "malformed" in text or "corrupt" in text or "disk i/o" in text:
        return DatabaseDamaged(
            f"{shown} is damaged ({exc}): restore it from a backup; `sqlite3 {path} .recover` "
            "may save what is left",
            path=path,
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return DatabaseUnwritable(
            f"{shown} cannot be written ({exc}): make the file and its directory writable "
            "(SQLite writes -wal and -shm files beside it), or copy it somewhere writable",
            path=path,
        )
    return StorageError(f"{shown}: SQLite failed: {exc}", path=path)


def _present(version: int | None) -> int | None:
    """A stored record's version, or ``None`` for an absent one (removed: negative)."""
    return version if version is not None and version > 0 else None


def _database_path(path: object) -> str:
    """*path* as text, or an :class:`InvalidDatabasePath`."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes) or not isinstance(path, str):
        raise InvalidDatabasePath(
            f"the database path must be text or a path, not {describe_value(path)}",
            path=describe_value(path),
        )
    if not path or "\x00" in path:
        raise InvalidDatabasePath(
            "the database path is empty or holds a NUL character", path=describe_value(path)
        )
    if path == ":memory:" or path.startswith("file:"):
        return path
    try:
        is_dir, folder_exists = Path(path).is_dir(), Path(path).absolute().parent.is_dir()
    except OSError as exc:  # a name too long, a folder that cannot be searched …
        raise InvalidDatabasePath(
            f"{_shown(path)} cannot be used: {exc.strerror or type(exc).__name__}",
            path=_shown(path),
        ) from None
    if is_dir:
        raise InvalidDatabasePath(
            f"{_shown(path)} is a directory: give a database file inside it",
            path=path,
        )
    if not folder_exists:
        raise InvalidDatabasePath(
            f"the folder of {_shown(path)} does not exist: create it first", path=path
        )
    return path


class SQLiteStore:
    """A SQLite database holding every kind of record (``":memory:"`` for a scratch one).

    Opening a file created by an older version migrates it; a file from a newer version is
    refused. Units of work over one store share its connection, one at a time; processes
    share the file through SQLite's locking (WAL mode). The connection deletes securely
    (``PRAGMA secure_delete=ON``); :meth:`scrub` clears what deleted records left in the
    write-ahead log and free pages.

    Args:
        path: the database file (created when missing), ``":memory:"``, or a SQLite
            ``file:`` URI (``file:leads.db?mode=ro``).
        keys: derives each record's lookup keys (default
            :func:`leadmodel.ports.lookup_keys`); changing it needs :meth:`reindex`. The
            blocking keys of the duplicate rules given to :meth:`index_rules` are indexed
            too; those definitions are stored in the database, so every process opening
            it indexes the same keys.
        timeout: seconds a commit waits for another writer before
            :class:`~leadmodel.DatabaseBusy`.

    Raises:
        InvalidDatabasePath: *path* is not a path, is a directory, or its folder is missing.
        NotADatabase: the file is not a SQLite database, or another program's database.
        DatabaseDamaged: the file is truncated or corrupted.
        SchemaTooNew: the database was written by a newer leadmodel.
        DatabaseUnwritable: the database needs writing (creation, migration) and cannot be.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "leadmodel.db",
        *,
        keys: KeyFunction = lookup_keys,
        timeout: float = 5.0,
    ) -> None:
        self.path = _database_path(path)
        if not callable(keys):
            raise ValidationError(
                "SQLiteStore", [FieldError("keys", "type", "must be a function of a record")]
            )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 <= timeout <= 3600)
        ):
            raise ValidationError(
                "SQLiteStore",
                [FieldError("timeout", "invalid", "must be a number of seconds from 0 to 3600")],
            )
        self.keys = keys
        self.lock = threading.RLock()
        self.rules = IndexedRules(aliasing=keys is lookup_keys)
        self.commits = 0
        try:
            self.connection = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=float(timeout),
                uri=self.path.startswith("file:"),
            )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        try:
            self._configure()
            self._migrate()
            self._load_rules()
        except BaseException:
            self.connection.close()
            raise

    def _configure(self) -> None:
        connection = self.connection
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # reads the header
            # Deleted content is overwritten with zeros, not left in free space: an erased
            # person's data must not survive in the file (see scrub()).
            connection.execute("PRAGMA secure_delete=ON").fetchone()
            if self.path != ":memory:":
                connection.execute("PRAGMA journal_mode=WAL").fetchone()
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA wal_autocheckpoint=8000")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages
            connection.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        connection.create_function("leadmodel_fold", 1, _fold, deterministic=True)

    def _migrate(self) -> None:
        with self.lock, self._translated():
            current = self.connection.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{_shown(self.path)} has schema {current}; this leadmodel reads "
                    f"up to {SCHEMA_VERSION}: upgrade leadmodel to open it",
                    path=self.path,
                    found=current,
                    supported=SCHEMA_VERSION,
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self.connection.execute("BEGIN IMMEDIATE")
                try:
                    # Read again under the write lock: another process opening the file at
                    # the same moment may have migrated it since (or created it).
                    found = self.connection.execute("PRAGMA user_version").fetchone()[0]
                    if found >= version:
                        self.connection.execute("ROLLBACK")
                        continue
                    if found == 0:
                        self._refuse_foreign()
                    for statement in _MIGRATIONS[version]():
                        self.connection.execute(statement)
                    if version == 3 and current:  # the sort values came in schema 3
                        self._fill_sorts()
                    self.connection.execute(f"PRAGMA user_version = {int(version)}")
                except BaseException:
                    self.connection.execute("ROLLBACK")
                    raise
                self.connection.execute("COMMIT")

    def _refuse_foreign(self) -> None:
        """Refuse a file without leadmodel's schema that has tables: another program's."""
        foreign = self.connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if foreign:
            raise NotADatabase(
                f"{_shown(self.path)} is another program's SQLite database "
                "(it has tables but no leadmodel schema): give a new file name",
                path=self.path,
            )

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Raise SQLite's errors as leadmodel's, naming this database."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def _snapshot(self) -> tuple[int, int]:
        """What tells whether anyone committed since.

        SQLite's ``data_version`` (commits by other connections) and this store's own commit
        count (units sharing this connection).
        """
        with self.lock, self._translated():
            version = int(self.connection.execute("PRAGMA data_version").fetchone()[0])
        return version, self.commits

    def _rollback_quietly(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """The rows of a read, SQLite's errors translated."""
        with self.lock:
            try:
                return self.connection.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path) from exc

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        return int(self._query("PRAGMA user_version")[0][0])

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        if not isinstance(kind, str) or kind not in _TABLES:
            raise ValidationError(
                "SQLiteStore.count",
                [FieldError("kind", "invalid", f"must be one of {', '.join(_TABLES)}")],
            )
        row = self._query(f"SELECT COUNT(*) FROM {_TABLES[kind]}")[0]  # noqa: S608
        return int(row[0])

    def unit_of_work(self) -> SQLiteUnitOfWork:
        """A new unit of work over this store (:class:`~leadmodel.ports.Store`).

        >>> from leadmodel import Lead
        >>> with SQLiteStore(":memory:") as store:
        ...     with store.unit_of_work() as uow:
        ...         uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        ...         uow.commit()
        ...     [lead.id for lead in store.unit_of_work().leads]
        ['L1']
        """
        return SQLiteUnitOfWork(self)

    # -- keys ----------------------------------------------------------------------------

    def record_keys(self, kind: str, record: object) -> tuple[str, ...]:
        """Every key *record* is indexed under: its lookup keys and its rules' blocking keys."""
        keys = tuple(self.keys(record))
        if kind in RULE_KINDS and self.rules:
            keys += self.rules.keys(record)
        return keys

    def _load_rules(self) -> None:
        """Refresh the indexed rules from the database (another process may have added one)."""
        rows = self._query("SELECT name, document FROM indexed_rules")
        self.rules.replace({str(name): str(document) for name, document in rows})

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of *rules* for leads, contacts and accounts.

        The rule definitions are stored in the database, so every process indexes the same
        keys. A rule indexed already under the same definition costs one small query; a new
        or redefined one (rules are known by name) is back-filled over every stored lead,
        contact and account in one transaction.

        Raises:
            ValidationError: not an iterable of MatchingRule values.
            DatabaseBusy: another writer held the database past the timeout.
        """
        prepared = prepare_rules(rules)
        with self.lock:
            if all(self.rules.documents.get(name) == doc for name, doc, _ in prepared):
                return  # indexed already (the definitions are read again at every commit)
            self._load_rules()
            if all(self.rules.documents.get(name) == doc for name, doc, _ in prepared):
                return
            connection = self.connection
            with self._translated():
                connection.execute("BEGIN IMMEDIATE")
                try:
                    self._load_rules()  # under the write lock: what is stored now
                    changed = [i for i in prepared if self.rules.documents.get(i[0]) != i[1]]
                    for name, document, compiled in changed:
                        self._backfill(name, document, compiled)
                    connection.execute("COMMIT")
                    self.commits += 1
                except BaseException:
                    self._rollback_quietly()
                    self._load_rules()
                    raise

    def _fill_sorts(self) -> None:
        """Give every lookup key row its record's sort value (upgrading to schema 3)."""
        connection = self.connection
        for kind in _V3_KINDS:
            cls = _KINDS[kind]
            cursor = connection.execute(f"SELECT id, data FROM {_TABLES[kind]}")  # noqa: S608
            while rows := cursor.fetchmany(1000):
                connection.executemany(
                    "UPDATE lookup_keys SET sort = ? WHERE kind = ? AND id = ?",
                    [
                        (neighbour_sort_value(from_dict(cls, json.loads(data))), kind, record_id)
                        for record_id, data in rows
                    ],
                )

    def _backfill(self, name: str, document: str, compiled: CompiledRule) -> None:
        connection = self.connection
        self.rules.set(name, document, compiled)  # its aliases first: keys stored once
        for kind in sorted(RULE_KINDS):
            connection.execute(
                "DELETE FROM lookup_keys WHERE kind = ? AND key >= ? AND key < ?",
                (kind, f"{name}#", f"{name}$"),
            )
            query = f"SELECT id, data FROM {_TABLES[kind]}"  # noqa: S608 - our table names
            cursor = connection.execute(query)
            while rows := cursor.fetchmany(1000):
                keys = []
                for record_id, data in rows:
                    record: object = from_dict(_KINDS[kind], json.loads(data))
                    sort = neighbour_sort_value(record)
                    keys += [
                        (kind, key, record_id, sort)
                        for key in self.rules.rule_keys(compiled, record)
                    ]
                connection.executemany(
                    "INSERT OR IGNORE INTO lookup_keys (kind, key, id, sort) VALUES (?, ?, ?, ?)",
                    keys,
                )
        connection.execute(
            "INSERT OR REPLACE INTO indexed_rules (name, document, indexed_at_version) "
            "VALUES (?, ?, ?)",
            (name, document, SCHEMA_VERSION),
        )

    def reindex(self) -> None:
        """Rebuild every record's lookup keys (after changing *keys*), in one transaction."""
        with self.lock, self._translated():
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                self._load_rules()
                self.connection.execute("DELETE FROM lookup_keys")
                for kind, cls in _KINDS.items():
                    query = f"SELECT id, data FROM {_TABLES[kind]}"  # noqa: S608 - our table names
                    rows = self.connection.execute(query).fetchall()
                    for record_id, data in rows:
                        record: object = from_dict(cls, json.loads(data))
                        sort = neighbour_sort_value(record)
                        self.connection.executemany(
                            "INSERT OR IGNORE INTO lookup_keys (kind, key, id, sort) "
                            "VALUES (?, ?, ?, ?)",
                            [
                                (kind, key, record_id, sort)
                                for key in self.record_keys(kind, record)
                            ],
                        )
            except BaseException:
                self._rollback_quietly()
                raise
            self.connection.execute("COMMIT")
            self.commits += 1

    def scrub(self) -> None:
        """Make sure no byte of a deleted or overwritten record remains in the database files.

        Run it after an erasure (:func:`leadmodel.services.erase` does). The store's connection
        always runs with ``PRAGMA secure_delete=ON``, so SQLite overwrites deleted content
        with zeros as it deletes; but the write-ahead log still holds the pages as they
        were before, and freed pages stay in the file. ``scrub`` checkpoints the WAL into
        the database and truncates it (``PRAGMA wal_checkpoint(TRUNCATE)``), rebuilds the
        file without free pages (``VACUUM``), and checkpoints and truncates again, so the
        rebuilt pages replace every old one and the ``-wal`` file is left empty. It takes
        as long as copying the database once, and needs that much free disk space.

        It must run outside a unit of work's commit (it writes nothing of its own). If
        another connection holds a read open on the file, the WAL cannot be emptied and
        :class:`~leadmodel.DatabaseBusy` is raised: retry when the readers are done.
        Copies the database made before (backups, replicas) are not touched: erase there too.

        >>> store = SQLiteStore(":memory:")
        >>> store.scrub()

        Raises:
            DatabaseBusy: another connection reads or writes the file past the timeout.
            StorageError: the database is damaged or cannot be written.
        """
        with self.lock, self._translated():
            connection = self.connection
            if connection.in_transaction:
                raise ValidationError(
                    "SQLiteStore.scrub",
                    [FieldError("store", "in_transaction", "a transaction is open: end it first")],
                )
            self._checkpoint()
            connection.execute("VACUUM")
            self._checkpoint()
            self.commits += 1

    def _checkpoint(self) -> None:
        """Checkpoint the whole WAL into the database and truncate it, or DatabaseBusy."""
        row = self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        # (busy, frames in the log, frames checkpointed); -1s when not in WAL mode.
        if row is not None and (row[0] != 0 or row[1] != row[2]):
            raise DatabaseBusy(
                f"{_shown(self.path)}: another connection is reading or writing, so its "
                "write-ahead log could not be emptied; nothing was scrubbed: retry when it "
                "is done",
                path=self.path,
            )

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
    """One unit of work's view of one kind of record: the database plus staged changes.

    Every record read (by :meth:`get`, iteration, :meth:`select` or :meth:`find_by_keys`)
    is remembered with the version it had; at commit, each record this unit writes must
    still have that version, and each key it searched must still find the same records.
    """

    def __init__(self, store: SQLiteStore, kind: str) -> None:
        check_repository(store, SQLiteStore, kind, _KINDS)
        self._store = store
        self._kind = kind
        self._type: type[T] = _KINDS[kind]
        self._table = _TABLES[kind]
        self._changes: dict[str, T | None] = {}
        self._staged = StagedKeys(
            lambda record: store.record_keys(kind, record), lambda: store.rules.generation
        )
        # The unit's (data_version, commits) at its first read; the unit shares one list
        # among its repositories. Unchanged at commit: nobody committed since, nothing
        # this unit read can be stale.
        self._snapshot: list[tuple[int, int] | None] = [None]
        self._seen: dict[str, int | None] = {}
        self._loaded: dict[str, T] = {}
        self._searches: dict[str, frozenset[str]] = {}
        self._near: dict[tuple[str, str, int, int], frozenset[str]] = {}

    def _check_type(self, record: object) -> T:
        return check_record(self._kind, self._type, record)

    def _read(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """The rows of a read, after noting the unit's snapshot at its first read."""
        if self._snapshot[0] is None:
            self._snapshot[0] = self._store._snapshot()  # noqa: SLF001
        return self._store._query(sql, params)  # noqa: SLF001

    def _decode(self, data: str) -> T:
        try:
            record: T = from_dict(self._type, json.loads(data))
        except (ValueError, TypeError) as exc:
            raise DatabaseDamaged(
                f"{_shown(self._store.path)} holds a {self._kind} that does not "
                f"decode ({type(exc).__name__}): run `leadmodel check` and restore it from a "
                "backup",
                path=self._store.path,
            ) from exc
        return record

    def _saw(self, record_id: str, version: int | None) -> None:
        if record_id not in self._seen:
            self._seen[record_id] = version

    def _stored(self, record_id: str) -> T | None:
        """The committed record, remembering the version this unit saw."""
        if record_id in self._loaded:
            return self._loaded[record_id]
        rows = self._read(
            f"SELECT version, data FROM {self._table} WHERE id = ?",  # noqa: S608
            (record_id,),
        )
        if not rows:  # absent (never stored, or removed: either way there is nothing)
            self._saw(record_id, None)
            return None
        row = rows[0]
        self._saw(record_id, int(row[0]))
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

    def _merged(self, rows: list[Any]) -> Iterator[T]:
        """Stored rows ``(id, version, data)`` with the staged changes laid over them.

        Lazy: a record's version is remembered when it is yielded, so a caller that commits
        between records (``rescore`` does, batch by batch) has every later record checked
        against the version it was read at.
        """
        changes = self._changes
        stored = {row[0]: row for row in rows}
        extra = [rid for rid, record in changes.items() if record is not None]
        for record_id in sorted(stored.keys() | set(extra)):
            if record_id in changes:
                staged = changes[record_id]
                if staged is not None:
                    yield staged
                continue
            row = stored.get(record_id)
            if row is None:
                continue
            self._saw(record_id, int(row[1]))
            cached = self._loaded.get(record_id)
            yield cached if cached is not None else self._decode(row[2])

    def __iter__(self) -> Iterator[T]:
        """Every record this unit of work sees, ordered by id.

        Read a page of rows at a time (memory stays bounded over a million leads), with
        the changes staged when the iteration began laid over them. Each record's version
        is remembered as it is yielded, so a caller may commit between records.
        """
        staged = dict(sorted(self._changes.items()))
        pending = iter(staged.items())
        waiting = next(pending, None)
        sql = f"SELECT id, version, data FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
        after = ""
        while True:
            rows = self._read(sql, (after, _PAGE))
            for record_id, version, data in rows:
                while waiting is not None and waiting[0] <= record_id:
                    if waiting[1] is not None:
                        yield waiting[1]
                    waiting = next(pending, None)
                if record_id in staged:
                    continue  # yielded (or removed) above, as staged
                self._saw(record_id, int(version))
                cached = self._loaded.get(record_id)
                yield cached if cached is not None else self._decode(data)
            if len(rows) < _PAGE:
                break
            after = rows[-1][0]
        while waiting is not None:
            if waiting[1] is not None:
                yield waiting[1]
            waiting = next(pending, None)

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
            if len(params) > _MAX_PARAMETERS:
                where, params = "1", []  # a superset: apply_view below decides
        rows = self._read(
            f"SELECT id, version, data FROM {self._table} WHERE {where} ORDER BY id",  # noqa: S608 - our columns, values as parameters
            params,
        )
        return apply_view(view, list(self._merged(rows)))  # type: ignore[return-value]

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record with at least one of *keys*, each once, ordered by id.

        Raises:
            KeyNotIndexed: a key is the blocking key of a rule the database does not index
                (a store built with its own *keys* function answers every key).
        """
        wanted = self._wanted(keys)
        found, fetched = self._keyed_rows(wanted)
        ids: set[str] = set()
        for key in wanted:
            ids |= self._searches.setdefault(key, found.get(key, frozenset()))
        return self._found(ids, wanted, fetched)

    def find_neighbours(
        self, keys: Iterable[str], near: str, limit: int, *, whole: int | None = None
    ) -> list[T]:
        """The records nearest *near* under each of *keys*, each once, ordered by id.

        Every committed record of a key that holds at most *whole* (default
        ``2 * limit``), else ``2 * limit`` of them, in the order of
        :func:`~leadmodel.ports.neighbour_sort_value` (see
        :class:`~leadmodel.ports.SupportsNeighbours`), read through an index on the key
        and the sort value; re-checked at commit.

        Raises:
            KeyNotIndexed: as :meth:`find_by_keys`.
            ValidationError: *near* not a string, or *limit* or *whole* not a whole number
                from 1.
        """
        whole = check_neighbours(self._kind, near, limit, whole)
        wanted = self._wanted(keys)
        ids: set[str] = set()
        fetched: dict[str, tuple[int, str]] = {}
        for key in wanted:
            rows = self._neighbour_rows(key, near, limit, whole, self._read)
            found = frozenset(row[0] for row in rows)
            for record_id, version, data in rows:
                fetched[record_id] = (int(version), data)
            ids |= self._near.setdefault((key, near, limit, whole), found)
        return self._found(ids, wanted, fetched)

    def _neighbour_rows(
        self, key: str, near: str, limit: int, whole: int, read: Callable[..., list[Any]]
    ) -> list[Any]:
        """``(id, version, data)`` of the committed records under *key* nearest *near*."""
        table, kind = self._table, self._kind
        select = (
            f"SELECT r.id, r.version, r.data FROM lookup_keys k JOIN {table} r "  # noqa: S608
            "ON r.id = k.id WHERE k.kind = ? AND k.key = ?"
        )
        rows = read(f"{select} LIMIT ?", (kind, key, whole + 1))
        if len(rows) <= whole:
            return rows
        before = read(
            f"{select} AND k.sort < ? ORDER BY k.sort DESC, k.id DESC LIMIT ?",
            (kind, key, near, limit),
        )
        after = read(
            f"{select} AND k.sort >= ? ORDER BY k.sort, k.id LIMIT ?", (kind, key, near, limit)
        )
        return before + after

    def _wanted(self, keys: Iterable[str]) -> list[str]:
        """*keys* as the database holds them (checked, rule keys translated), sorted."""
        check_keys(self._kind, keys)
        # A key that is not text (lone surrogates) is under no stored record: never asked.
        wanted = sorted({text for key in keys if encodable(text := str(key))})
        store = self._store
        if self._kind in RULE_KINDS and store.keys is lookup_keys and store.rules.unknown(wanted):
            store._load_rules()  # noqa: SLF001 - another process may have indexed it
            unknown = store.rules.unknown(wanted)
            if unknown:
                raise not_indexed(self._kind, unknown, _shown(store.path))
        return store.rules.translate(wanted)

    def _found(
        self, ids: set[str], wanted: list[str], fetched: dict[str, tuple[int, str]]
    ) -> list[T]:
        """The records of committed *ids* (rows in *fetched*) and staged ones under *wanted*."""
        # Committed matches whose record is staged are replaced by the staged matches.
        changes = self._changes
        ids = {record_id for record_id in ids if record_id not in changes}
        ids |= self._staged.matching(wanted)
        records = []
        for record_id in sorted(ids):
            row = fetched.get(record_id)
            if row is None or record_id in changes or record_id in self._loaded:
                record = self._current(record_id)
            else:
                self._saw(record_id, row[0])
                record = self._loaded[record_id] = self._decode(row[1])
            if record is not None:
                records.append(record)
        return records

    def _keyed_rows(
        self, keys: list[str]
    ) -> tuple[dict[str, frozenset[str]], dict[str, tuple[int, str]]]:
        """The committed ids under each of *keys*, and their rows ``id -> (version, data)``.

        Read together: one statement per 500 keys, not one more per record found.
        """
        found: dict[str, set[str]] = {}
        fetched: dict[str, tuple[int, str]] = {}
        for start in range(0, len(keys), _BATCH):
            part: list[str] = keys[start : start + _BATCH]
            marks = ", ".join("?" * len(part))
            sql = (
                f"SELECT k.key, r.id, r.version, r.data FROM lookup_keys k JOIN {self._table} r "  # noqa: S608
                f"ON r.id = k.id WHERE k.kind = ? AND k.key IN ({marks})"
            )
            for key, record_id, version, data in self._read(sql, (self._kind, *part)):
                found.setdefault(key, set()).add(record_id)
                fetched[record_id] = (int(version), data)
        return {key: frozenset(ids) for key, ids in found.items()}, fetched

    def _committed_ids(
        self, keys: list[str], connection: sqlite3.Connection
    ) -> dict[str, frozenset[str]]:
        """The committed ids under each of *keys* (keys with none are left out), at commit."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(keys), _BATCH):
            part: list[str] = keys[start : start + _BATCH]
            marks = ", ".join("?" * len(part))
            sql = f"SELECT key, id FROM lookup_keys WHERE kind = ? AND key IN ({marks})"  # noqa: S608
            for key, record_id in connection.execute(sql, (self._kind, *part)):
                found.setdefault(key, set()).add(record_id)
        return {key: frozenset(ids) for key, ids in found.items()}

    # -- used by the unit of work -------------------------------------------------------

    def _versions(self, connection: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
        """The committed versions of *ids*, a batch at a time.

        A removed record has its last version, negative; an id never stored is left out.
        """
        versions: dict[str, int] = {}
        for start in range(0, len(ids), _BATCH):
            part: list[str] = ids[start : start + _BATCH]
            marks = ", ".join("?" * len(part))
            query = (
                f"SELECT -version, id FROM removed_records WHERE kind = ? AND id IN ({marks}) "  # noqa: S608
                f"UNION ALL SELECT version, id FROM {self._table} WHERE id IN ({marks})"
            )
            for version, record_id in connection.execute(query, (self._kind, *part, *part)):
                if record_id not in versions or version > 0:
                    versions[record_id] = int(version)
        return versions

    def _stale(
        self, connection: sqlite3.Connection, *, check: bool = True
    ) -> tuple[list[str], dict[str, int]]:
        """What went stale since this unit read it, and the current versions of its writes.

        Each record this unit writes must still have the version it read (``None``: it did
        not exist); each key it searched must still find the same records.
        """
        seen = self._seen
        if not check:
            # Nobody committed since this unit's first read: what it saw is what is stored;
            # only the records it saw absent need their last version (a removed one's).
            present = {rid: v for rid in self._changes if (v := seen.get(rid)) is not None}
            absent = [rid for rid in self._changes if rid not in present]
            return [], {**self._versions(connection, absent), **present} if absent else present
        current = self._versions(connection, list(self._changes)) if self._changes else {}
        # A removed record is absent, as one never stored: a unit that saw it absent may
        # add it; a unit that saw it present finds it changed. Versions never go back, so
        # a record removed and added again is never mistaken for the one that was read.
        stale = [
            f"{self._kind} {rid}"
            for rid in self._changes
            if _present(current.get(rid)) != seen.get(rid, _present(current.get(rid)))
        ]
        if self._searches:
            now_found = self._committed_ids(sorted(self._searches), connection)
            stale += [
                f"{self._kind} look-up {key}"
                for key, found in self._searches.items()
                if now_found.get(key, frozenset()) != found
            ]

        def read(sql: str, params: Iterable[object]) -> list[Any]:
            return connection.execute(sql, tuple(params)).fetchall()

        stale += [
            f"{self._kind} look-up {key} near {near!r}"
            for (key, near, limit, whole), found in self._near.items()
            if frozenset(row[0] for row in self._neighbour_rows(key, near, limit, whole, read))
            != found
        ]
        return stale, current

    def _write(self, connection: sqlite3.Connection, current: dict[str, int]) -> None:
        """Write the staged changes inside the open transaction."""
        if not self._changes:
            return
        columns: tuple[str, ...] = _COLUMNS[self._kind]
        names = ", ".join(("id", "version", *columns, "data"))
        marks = ", ".join("?" * (len(columns) + 3))
        changed = list(self._changes.items())
        had_keys = [(self._kind, rid) for rid, _ in changed if current.get(rid, 0) > 0]
        if had_keys:
            connection.executemany("DELETE FROM lookup_keys WHERE kind = ? AND id = ?", had_keys)
        removed = [record_id for record_id, record in changed if record is None]
        if removed:
            connection.executemany(
                f"DELETE FROM {self._table} WHERE id = ?",  # noqa: S608 - our table name
                [(record_id,) for record_id in removed],
            )
            connection.executemany(
                "INSERT OR REPLACE INTO removed_records (kind, id, version) VALUES (?, ?, ?)",
                [(self._kind, rid, abs(current.get(rid) or 0) + 1) for rid in removed],
            )
        revived = [
            (self._kind, rid)
            for rid, record in changed
            if record is not None and current.get(rid, 0) < 0
        ]
        if revived:
            connection.executemany("DELETE FROM removed_records WHERE kind = ? AND id = ?", revived)
        rows = []
        keys = []
        store, kind = self._store, self._kind
        for record_id, record in changed:
            if record is None:
                continue
            data: dict[str, Any] = to_dict(record)
            rows.append(
                (
                    record_id,
                    abs(current.get(record_id) or 0) + 1,
                    *(_column_value(data.get(column)) for column in columns),
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                )
            )
            staged = self._staged.keys_of(record_id)
            record_keys = staged if staged is not None else store.record_keys(kind, record)
            sort = neighbour_sort_value(record)
            keys += [(kind, key, record_id, sort) for key in record_keys]
        connection.executemany(
            f"INSERT OR REPLACE INTO {self._table} ({names}) VALUES ({marks})",  # noqa: S608
            rows,
        )
        connection.executemany(
            "INSERT OR IGNORE INTO lookup_keys (kind, key, id, sort) VALUES (?, ?, ?, ?)", keys
        )

    def _committed(self) -> None:
        """Forget what this commit wrote and searched; remember the other reads.

        A record read before the unit's own commit and written after it is still checked
        against the version it was read at (``rescore`` commits batch by batch).
        """
        for record_id in self._changes:
            self._seen.pop(record_id, None)
            self._loaded.pop(record_id, None)
        self._changes.clear()
        self._staged.clear()
        self._searches.clear()
        self._near.clear()

    def _reset(self) -> None:
        self._changes.clear()
        self._staged.clear()
        self._seen.clear()
        self._loaded.clear()
        self._searches.clear()
        self._near.clear()
        self._snapshot[0] = None


class SQLiteUnitOfWork(StagingUnitOfWork):
    """A unit of work over a :class:`SQLiteStore` (or a path to open one at).

    Changes are staged and written in one transaction on :meth:`commit`; see the module.
    Besides the five core repositories it stores merges (``merges``,
    :class:`~leadmodel.ports.SupportsMerges`), time-trigger state (``trigger_states``,
    :class:`~leadmodel.ports.SupportsTriggerState`), consents (``consents``,
    :class:`~leadmodel.ports.SupportsConsents`) and the privacy log (``privacy_log``,
    :class:`~leadmodel.ports.SupportsPrivacyLog`), and indexes duplicate rules' keys
    (:meth:`index_rules`, :class:`~leadmodel.ports.SupportsKeyIndex`).
    """

    def __init__(self, store: SQLiteStore | str | os.PathLike[str] = "leadmodel.db") -> None:
        self.store = store if isinstance(store, SQLiteStore) else SQLiteStore(store)
        self.leads: SQLiteRepository[Lead] = SQLiteRepository(self.store, "lead")
        self.contacts: SQLiteRepository[Contact] = SQLiteRepository(self.store, "contact")
        self.accounts: SQLiteRepository[Account] = SQLiteRepository(self.store, "account")
        self.opportunities: SQLiteRepository[Opportunity] = SQLiteRepository(
            self.store, "opportunity"
        )
        self.activities: SQLiteRepository[Activity] = SQLiteRepository(self.store, "activity")
        self.merges: SQLiteRepository[MergeRecord] = SQLiteRepository(self.store, "merge")
        self.trigger_states: SQLiteRepository[TriggerState] = SQLiteRepository(
            self.store, "trigger_state"
        )
        self.consents: SQLiteRepository[Consent] = SQLiteRepository(self.store, "consent")
        self.privacy_log: SQLiteRepository[PrivacyLogEntry] = SQLiteRepository(
            self.store, "privacy_log"
        )
        shared: list[tuple[int, int] | None] = [None]
        for repo in self._repositories():
            repo._snapshot = shared  # noqa: SLF001 - one snapshot for the whole unit
        self._first_read = shared
        self.committed = False

    def _repositories(self) -> tuple[Any, ...]:
        """Every repository of the unit, in commit order (trigger states last)."""
        return (*super()._repositories(), self.consents, self.privacy_log, self.trigger_states)

    def commit(self) -> None:
        """Write every staged change in one transaction, or none.

        Raises:
            ConcurrencyError: a record this unit writes changed in the database since this
                unit read it, or a key it searched finds other records now; nothing is
                written and the staged changes are discarded.
            DatabaseBusy: another writer held the database past the store's timeout
                (a :class:`~leadmodel.ConcurrencyError` too); nothing is written.
            StorageError: the database is damaged or cannot be written.
        """
        repositories = self._repositories()
        if self._nothing_to_write(repositories):
            return
        store = self.store
        connection = store.connection
        with store.lock:
            try:
                with store._translated():  # noqa: SLF001 - the unit owns its store
                    connection.execute("BEGIN IMMEDIATE")
                    # Nobody committed since this unit's first read: nothing it read can be
                    # stale and the indexed rules are the ones it knows; only the versions
                    # of what it writes are needed.
                    quiet = self._first_read[0] is not None and (
                        self._first_read[0] == store._snapshot()  # noqa: SLF001
                    )
                    if not quiet:
                        store._load_rules()  # noqa: SLF001 - index what every process indexes
                    stale: list[str] = []
                    versions = []
                    for repo in repositories:
                        found, current = repo._stale(connection, check=not quiet)  # noqa: SLF001
                        stale += found
                        versions.append(current)
                    if not stale:
                        for repo, current in zip(repositories, versions, strict=True):
                            repo._write(connection, current)  # noqa: SLF001
                        connection.execute("COMMIT")
            except BaseException:
                store._rollback_quietly()  # noqa: SLF001
                self.rollback()
                raise
            if stale:
                store._rollback_quietly()  # noqa: SLF001
                self.rollback()
                shown = ", ".join(stale[:10])
                raise ConcurrencyError(
                    f"changed in storage since this unit read them: {shown}", records=stale
                )
            store.commits += 1
        for repo in repositories:
            repo._committed()  # noqa: SLF001
        self.committed = True
