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
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from leadmodel.adapters._staging import (
    BATCH,
    COLUMNS,
    KINDS,
    RULE_KINDS,
    TABLES,
    Dialect,
    IndexedRules,
    SQLRepository,
    StagingUnitOfWork,
    T,
    fold,
    prepare_rules,
    shown,
)
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
    SchemaTooNew,
    StorageError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import KeyFunction, lookup_keys, neighbour_sort_value
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.triggers import TriggerState
from leadmodel.serialization import from_dict

if TYPE_CHECKING:
    from leadmodel.rules.matching import CompiledRule, MatchingRule

__all__ = ["SCHEMA_VERSION", "SQLiteRepository", "SQLiteStore", "SQLiteUnitOfWork"]

SCHEMA_VERSION: Final = 5
"""The schema version this adapter writes (``PRAGMA user_version``)."""

_KINDS: Final = KINDS
_COLUMNS: Final = COLUMNS
_TABLES: Final = TABLES
_BATCH: Final = BATCH


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


_shown = shown


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
        self.timeout = float(timeout)
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
                self._wal(connection)
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA wal_autocheckpoint=8000")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages
            connection.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        connection.create_function("leadmodel_fold", 1, fold, deterministic=True)

    def _wal(self, connection: sqlite3.Connection) -> None:
        """Switch to WAL mode, waiting up to the store's timeout for other openers.

        Switching needs the file to itself, and SQLite answers "database is locked" at
        once, without its busy handler, while another process is opening the same new
        file: several workers starting together must all open it.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL").fetchone()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)
            else:
                return

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


_DIALECT: Final = Dialect(
    true="1",
    false="0",
    fold=lambda column: f"leadmodel_fold({column})",
    contains=lambda expression: f"instr({expression}, ?) > 0",
    folded=False,
    upsert_record=lambda table, names, marks: (
        f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - our names
    ),
    upsert_removed="INSERT OR REPLACE INTO removed_records (kind, id, version) VALUES (?, ?, ?)",
    insert_keys="INSERT OR IGNORE INTO lookup_keys (kind, key, id, sort) VALUES (?, ?, ?, ?)",
)


class SQLiteRepository(SQLRepository[T]):
    """One unit of work's view of one kind of record: the database plus staged changes.

    Every record read (by :meth:`get`, iteration, :meth:`select` or :meth:`find_by_keys`)
    is remembered with the version it had; at commit, each record this unit writes must
    still have that version, and each key it searched must still find the same records.
    """

    _store_type: ClassVar[type] = SQLiteStore
    _dialect: ClassVar[Dialect] = _DIALECT


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
