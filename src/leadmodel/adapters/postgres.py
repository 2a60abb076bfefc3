"""PostgreSQL adapters: every storage port over one PostgreSQL database (psycopg 3).

Install the ``postgres`` extra (``pip install 'leadmodel[postgres]'``: psycopg and
psycopg-pool). :class:`PostgresStore` opens a connection pool to a ``postgresql://`` URL and
keeps the schema current; :class:`PostgresUnitOfWork` (or ``store.unit_of_work()``) stages
changes in memory and writes them in **one transaction** on ``commit()``.

The schema holds what SQLite's does: one table per kind of record (its id, a version, the
fields people query as columns, their case-folded copies for list views, and the whole
entity as exact JSON, type ``json`` so decimals and offsets come back byte for byte), the
lookup-key index with each record's neighbour sort value, the last versions of removed
records, the indexed duplicate rules, and a ``leadmodel_schema`` row with the schema
version. Tables are created in the connection's current schema (``search_path``; put
``?options=-csearch_path%3Dcrm`` in the URL to use another). Opening a database made by an
older adapter migrates it in one transaction; a newer one raises
:class:`~leadmodel.SchemaTooNew`. Text columns use the ``"C"`` collation, so ids and sort
values order as Python orders strings whatever the database's locale.

**Concurrency.** A commit is optimistic exactly like SQLite's: every record the unit writes
must still have the version it read, and every key it searched (``find_by_keys``,
``find_neighbours``) must still find the same records, or nothing is written and
:class:`~leadmodel.ConcurrencyError` is raised. PostgreSQL runs many commits at once, so
that check is made race-free with **advisory locks**: in its transaction a commit first
takes ``pg_advisory_xact_lock`` on a 64-bit hash of every record it writes and every key it
searched or writes, in sorted order (no deadlock between two commits), then validates its
read set and writes under READ COMMITTED. Any other commit that could change what the
check reads (write the same record, give or take a searched key to a record) needs one
of those locks, so it waits until this one has committed and then finds it. That is what
makes two web workers capturing the same person at the same moment create one lead: both
searched the person's match keys; the second to lock sees the first's lead and raises
``ConcurrencyError``, and running the capture again finds that lead. All locks are
released with the transaction. Every commit also takes a shared lock that
:meth:`PostgresStore.index_rules`, :meth:`~PostgresStore.reindex` and very large commits
(over 512 locks, an import batch) take exclusively, so the lock table never overflows.
A lock held past the store's *timeout* raises :class:`~leadmodel.DatabaseBusy`.

**Connections.** Units of work hold no connection: each read borrows one from the pool
(``psycopg_pool.ConnectionPool``, autocommit) for its statement and returns it, and a commit
borrows one for its transaction. A pool of *pool_size* connections therefore serves any
number of open units. Units of one store commit one at a time (the store's lock, as its
rule index is shared); run a store per process, or per thread, for parallel commits.

**Errors.** psycopg's exceptions never escape: an unreachable server, refused credentials
or a connection lost mid-way raise :class:`~leadmodel.StorageError` naming the URL (without
its password); a lock or pool wait past the timeout :class:`~leadmodel.DatabaseBusy`; a
deadlock or serialization failure :class:`~leadmodel.ConcurrencyError` (retry the use case).

SQL is written by hand (parameterised, ``?`` marks shared with the SQLite adapter and
turned into psycopg's ``%s``): the repository logic is the SQLite adapter's
(:class:`leadmodel.adapters._staging.SQLRepository`), and only a few statements differ.

Examples that talk to a server are in ``docs/api/postgres.md``; here, what is refused
before any connection:

>>> PostgresStore("leads.db")
Traceback (most recent call last):
...
leadmodel.domain.errors.InvalidDatabasePath: database: 1 invalid field: path: a PostgreSQL store ...
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from leadmodel.adapters._staging import (
    COLUMNS,
    KINDS,
    RULE_KINDS,
    TABLES,
    TEXT_COLUMNS,
    Dialect,
    IndexedRules,
    SQLRepository,
    StagingUnitOfWork,
    T,
    encodable,
    prepare_rules,
    shown,
)
from leadmodel.adapters._targets import masked
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

try:
    import psycopg
    import psycopg.errors
    import psycopg_pool
    from psycopg.types.string import TextLoader
except ImportError as _missing:  # pragma: no cover - without the extra
    raise ImportError(
        "leadmodel.adapters.postgres needs psycopg 3 and psycopg-pool: "
        "pip install 'leadmodel[postgres]'"
    ) from _missing

if TYPE_CHECKING:
    from leadmodel.rules.matching import CompiledRule, MatchingRule

__all__ = ["SCHEMA_VERSION", "PostgresRepository", "PostgresStore", "PostgresUnitOfWork"]

SCHEMA_VERSION: Final = 1
"""The schema version this adapter writes (the ``leadmodel_schema`` row)."""

_LOCKS: Final = 512  # more locks than this in one commit: take the global lock instead
_C: Final = 'COLLATE "C"'


def _record_table(kind: str) -> str:
    columns = "".join(f", {column} TEXT" for column in COLUMNS[kind])
    folded = "".join(f", {column}_folded TEXT" for column in sorted(TEXT_COLUMNS[kind]))
    return (
        f"CREATE TABLE {TABLES[kind]} (id TEXT {_C} PRIMARY KEY, version BIGINT NOT NULL"
        f"{columns}{folded}, data JSON NOT NULL)"
    )


def _schema_v1() -> list[str]:
    """Schema 1: everything SQLite's schema 5 holds."""
    return [
        *(_record_table(kind) for kind in KINDS),
        (
            f"CREATE TABLE lookup_keys (kind TEXT {_C} NOT NULL, key TEXT {_C} NOT NULL, "
            f"id TEXT {_C} NOT NULL, sort TEXT {_C} NOT NULL DEFAULT '', "
            "PRIMARY KEY (kind, key, id))"
        ),
        "CREATE INDEX lookup_keys_by_id ON lookup_keys (kind, id)",
        "CREATE INDEX lookup_keys_by_sort ON lookup_keys (kind, key, sort, id)",
        (
            f"CREATE TABLE indexed_rules (name TEXT {_C} PRIMARY KEY, document TEXT NOT NULL, "
            "indexed_at_version INTEGER NOT NULL)"
        ),
        (
            f"CREATE TABLE removed_records (kind TEXT {_C} NOT NULL, id TEXT {_C} NOT NULL, "
            "version BIGINT NOT NULL, PRIMARY KEY (kind, id))"
        ),
        "CREATE INDEX lead_records_email ON lead_records (email)",
        "CREATE INDEX lead_records_status ON lead_records (status_folded)",
        "CREATE INDEX contact_records_account ON contact_records (account_id)",
        "CREATE INDEX activity_records_subject ON activity_records (subject_id)",
        "CREATE INDEX consent_records_subject ON consent_records (subject_id)",
        "CREATE INDEX privacy_log_records_hash ON privacy_log_records (subject_hash)",
    ]


_MIGRATIONS: dict[int, Callable[[], list[str]]] = {1: _schema_v1}
"""The statements bringing a database from the version before to each version."""


def _upsert_record(table: str, names: str, marks: str) -> str:
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names.split(", ") if n != "id")
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608 - our names
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


_DIALECT: Final = Dialect(
    true="TRUE",
    false="FALSE",
    fold=lambda column: f"{column}_folded",
    contains=lambda expression: f"strpos({expression}, ?) > 0",
    folded=True,
    upsert_record=_upsert_record,
    upsert_removed=(
        "INSERT INTO removed_records (kind, id, version) VALUES (?, ?, ?) "
        "ON CONFLICT (kind, id) DO UPDATE SET version = EXCLUDED.version"
    ),
    insert_keys=(
        "INSERT INTO lookup_keys (kind, key, id, sort) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
    ),
    nul=False,
)


@functools.lru_cache(maxsize=512)
def _marks(sql: str) -> str:
    """*sql* with the shared ``?`` marks as psycopg's ``%s`` (our SQL has no other ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _redacted(url: str) -> str:
    """*url* without its password, for messages, masked as the command line masks it.

    ``user:pw@``, ``?password=`` and passwords holding ``?`` or ``#`` alike (see
    ``leadmodel.adapters._targets.masked``).
    """
    return masked(url)


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise InvalidDatabasePath(
            "a PostgreSQL store needs a postgresql:// (or postgres://) URL, not "
            f"{describe_value(url)}",
            path=describe_value(url),
        )
    if "\x00" in url or not encodable(url) or len(url) > 10_000:
        raise InvalidDatabasePath(
            "the URL holds a NUL character or a lone surrogate, or is over 10,000 characters",
            path=describe_value(url),
        )
    return url


def _lock_id(*parts: str) -> int:
    """A signed 64-bit advisory lock id for *parts*."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class _Connection:
    """A psycopg connection speaking the shared SQL (``?`` marks) of the repositories."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(_marks(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(_marks(sql), rows)


class PostgresStore:
    """A PostgreSQL database holding every kind of record, through a connection pool.

    Opening it checks the server, creates the tables or migrates them (a database written
    by a newer leadmodel is refused) and reads the indexed duplicate rules. See the module
    for the concurrency model.

    Args:
        url: a ``postgresql://`` (or ``postgres://``) connection URL (libpq's form:
            ``postgresql://user:password@host:5432/db``, ``postgresql:///db?host=/run/pg``).
        keys: derives each record's lookup keys (default :func:`leadmodel.ports.lookup_keys`);
            changing it needs :meth:`reindex`. Duplicate rules given to :meth:`index_rules`
            are stored in the database, so every process indexes the same keys.
        pool_size: the most connections the store opens (1 to 1000); units of work borrow
            one per statement or commit.
        timeout: seconds a commit waits for a lock, or anyone for a free connection, before
            :class:`~leadmodel.DatabaseBusy` (0 to 3600).

    Raises:
        InvalidDatabasePath: *url* is not a PostgreSQL URL.
        StorageError: the server cannot be reached or refuses the credentials.
        NotADatabase: the schema holds leadmodel's tables without its version row.
        SchemaTooNew: the database was written by a newer leadmodel.
        DatabaseUnwritable: the tables must be created or migrated and the role may not.

    >>> PostgresStore("postgresql:///crm", pool_size=0)
    Traceback (most recent call last):
    ...
    leadmodel.domain.errors.ValidationError: PostgresStore: 1 invalid field: pool_size: ...
    """

    def __init__(
        self,
        url: str,
        *,
        keys: KeyFunction = lookup_keys,
        pool_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        url = _check_url(url)
        errors = []
        if not callable(keys):
            errors.append(FieldError("keys", "type", "must be a function of a record"))
        if (
            isinstance(pool_size, bool)
            or not isinstance(pool_size, int)
            or not (1 <= pool_size <= 1000)
        ):
            errors.append(FieldError("pool_size", "invalid", "must be a whole number, 1 to 1000"))
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 <= timeout <= 3600)
        ):
            errors.append(
                FieldError("timeout", "invalid", "must be a number of seconds from 0 to 3600")
            )
        if errors:
            raise ValidationError("PostgresStore", errors)
        self.path = _redacted(url)
        """The URL without its password, as errors name it."""
        self.keys = keys
        self.timeout = float(timeout)
        self.lock = threading.RLock()
        self.rules = IndexedRules(aliasing=keys is lookup_keys)
        self.commits = 0
        self._touched: set[str] = set()
        self._url = url
        self._closed = False
        self._attempts = pool_size + 1
        schema = self._probe()
        self._schema = schema
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=max(self.timeout, 0.001),
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name=f"leadmodel {self.path}",
        )
        try:
            with self._translated():
                self.pool.open(wait=True, timeout=max(self.timeout, 5.0))
            self._migrate()
            self._load_rules()
        except BaseException:
            self.pool.close()
            raise

    # -- connections and errors -----------------------------------------------------------

    def _probe(self) -> str:
        """Connect once, outside the pool, so that a refused connection says why."""
        try:
            timeout = max(2, math.ceil(self.timeout))
            with psycopg.connect(self._url, autocommit=True, connect_timeout=timeout) as raw:
                row = raw.execute("SELECT current_schema()").fetchone()
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL
            raise InvalidDatabasePath(
                f"{shown(self.path)} is not a usable PostgreSQL URL: {exc}", path=self.path
            ) from exc
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        except (UnicodeError, ValueError) as exc:  # a host name that is no host name
            raise InvalidDatabasePath(
                f"{shown(self.path)} is not a usable PostgreSQL URL: {exc}", path=self.path
            ) from exc
        if row is None or row[0] is None:
            raise StorageError(
                f"{shown(self.path)}: the connection has no current schema (search_path names "
                "no existing schema): create it, or fix the URL's search_path",
                path=self.path,
            )
        return str(row[0])

    def _configure(self, raw: psycopg.Connection[Any]) -> None:
        # Documents are read as the text stored, decoded by the repositories.
        raw.adapters.register_loader("json", TextLoader)
        raw.adapters.register_loader("jsonb", TextLoader)
        milliseconds = max(1, int(self.timeout * 1000))
        raw.execute(f"SET lock_timeout = {milliseconds}")

    def _error(self, exc: BaseException) -> LeadModelError:
        """The leadmodel error for what psycopg (or its pool) said."""
        where = shown(self.path)
        if isinstance(exc, psycopg_pool.PoolTimeout):
            return DatabaseBusy(
                f"{where}: no connection came free (or could be opened) within the timeout; "
                "nothing was written: retry, raise the store's pool_size or timeout, or check "
                f"that the server is up ({exc})",
                path=self.path,
            )
        if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
            return DatabaseBusy(
                f"{where}: another writer held what this commit needs past the timeout; "
                "nothing was written: retry (leadmodel.services.retrying) or raise the "
                "store's timeout",
                path=self.path,
            )
        if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
            return ConcurrencyError(
                f"{where}: PostgreSQL refused the transaction as it raced another "
                f"({type(exc).__name__}); nothing was written: run the use case again"
            )
        if isinstance(
            exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.ReadOnlySqlTransaction
        ):
            return DatabaseUnwritable(
                f"{where} cannot be written by this role ({exc}): grant it the rights, or "
                "connect as the tables' owner",
                path=self.path,
            )
        if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
            return DatabaseDamaged(
                f"{where}: a leadmodel table or column is missing ({exc}): restore the "
                "database from a backup",
                path=self.path,
            )
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StorageError(
                f"{where}: cannot use the PostgreSQL server: it refused the connection or "
                f"the credentials, or went away ({str(exc).strip() or type(exc).__name__}); "
                "check that it is running and the URL",
                path=self.path,
            )
        return StorageError(f"{where}: PostgreSQL failed: {exc}", path=self.path)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Raise psycopg's errors as leadmodel's, naming this database."""
        try:
            yield
        except psycopg_pool.PoolTimeout as exc:
            # No connection within the timeout: all in use, or the server is gone?
            self._probe()  # a StorageError saying why when it cannot be reached
            raise self._error(exc) from exc
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _borrow(self, *, check: bool) -> psycopg.Connection[Any]:
        """A pooled connection; with *check*, one proven alive by a round trip.

        After a server restart every idle connection in the pool is dead: each is found
        so and dropped (the pool opens new ones), up to the pool's size.
        """
        if self._closed:
            raise StorageError(f"{shown(self.path)}: the store is closed", path=self.path)
        for _ in range(self._attempts):
            raw = self.pool.getconn()
            if not check:
                return raw
            try:
                psycopg_pool.ConnectionPool.check_connection(raw)
            except psycopg.OperationalError:
                self.pool.putconn(raw)  # closed: the pool drops it
                continue
            return raw
        return self.pool.getconn()

    @contextlib.contextmanager
    def _connection(self, *, check: bool = True) -> Iterator[_Connection]:
        """A pooled connection (checked alive) for one transaction."""
        with self._translated():
            raw = self._borrow(check=check)
            try:
                yield _Connection(raw)
            finally:
                self.pool.putconn(raw)

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """The rows of one read, on a pooled connection (again on another if it was dead)."""
        values = tuple(params)
        for attempt in range(self._attempts):
            with self._translated():
                raw = self._borrow(check=False)
                try:
                    rows: list[Any] = raw.execute(_marks(sql), values).fetchall()
                except psycopg.OperationalError:
                    if not raw.broken or attempt == self._attempts - 1:
                        raise
                    continue  # a connection the server dropped: a read is safe to repeat
                finally:
                    self.pool.putconn(raw)
                return rows
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _snapshot(self) -> tuple[int, int]:
        """Every commit re-checks what its unit read (PostgreSQL has no data_version)."""
        return 0, 0

    def _lock(self, connection: _Connection, ids: Iterable[int], *, shared: bool = False) -> None:
        """Take the transaction's advisory locks *ids*, in sorted order."""
        wanted = sorted(set(ids))
        if not wanted:
            return
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        connection.execute(
            f"SELECT count(*) FROM (SELECT {function}(k) FROM unnest(?::bigint[]) AS t(k)) s",  # noqa: S608
            (wanted,),
        ).fetchall()

    def _global_lock(self) -> int:
        return _lock_id(self._schema, "leadmodel", "global")

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._connection() as connection:
            raw = connection.raw
            with raw.transaction():
                connection.execute(
                    "SELECT pg_advisory_xact_lock(?)",
                    (_lock_id(self._schema, "leadmodel", "migrate"),),
                )
                current = self._stored_version(connection)
                if current > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"{shown(self.path)} has schema {current}; this leadmodel reads up "
                        f"to {SCHEMA_VERSION}: upgrade leadmodel to open it",
                        path=self.path,
                        found=current,
                        supported=SCHEMA_VERSION,
                    )
                if current == 0:
                    connection.execute("CREATE TABLE leadmodel_schema (version INTEGER NOT NULL)")
                    connection.execute("INSERT INTO leadmodel_schema (version) VALUES (0)")
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[version]():
                        connection.execute(statement)
                    connection.execute("UPDATE leadmodel_schema SET version = ?", (version,))

    def _stored_version(self, connection: _Connection) -> int:
        """The schema version row, 0 for a schema without leadmodel's tables."""
        tables = {
            str(row[0])
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (self._schema,),
            )
        }
        if "leadmodel_schema" not in tables:
            if tables & {*TABLES.values(), "lookup_keys"}:
                raise NotADatabase(
                    f"{shown(self.path)}: schema {self._schema!r} holds leadmodel's table "
                    "names but no leadmodel_schema row: another program's tables, or a damaged "
                    "database; use another schema (search_path)",
                    path=self.path,
                )
            return 0
        row = connection.execute("SELECT max(version) FROM leadmodel_schema").fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        return int(self._query("SELECT max(version) FROM leadmodel_schema")[0][0])

    def count(self, kind: str) -> int:
        """How many committed records of *kind* (``"lead"``, ``"contact"`` …) there are."""
        if not isinstance(kind, str) or kind not in TABLES:
            raise ValidationError(
                "PostgresStore.count",
                [FieldError("kind", "invalid", f"must be one of {', '.join(TABLES)}")],
            )
        return int(self._query(f"SELECT count(*) FROM {TABLES[kind]}")[0][0])  # noqa: S608

    def unit_of_work(self) -> PostgresUnitOfWork:
        """A new unit of work over this store."""
        return PostgresUnitOfWork(self)

    # -- keys -----------------------------------------------------------------------------

    def record_keys(self, kind: str, record: object) -> tuple[str, ...]:
        """Every key *record* is indexed under: its lookup keys and its rules' blocking keys."""
        keys = tuple(self.keys(record))
        if kind in RULE_KINDS and self.rules:
            keys += self.rules.keys(record)
        return keys

    def _load_rules(self, connection: _Connection | None = None) -> None:
        """Refresh the indexed rules from the database (another process may have added one)."""
        sql = "SELECT name, document FROM indexed_rules"
        rows = self._query(sql) if connection is None else connection.execute(sql).fetchall()
        with self.lock:
            self.rules.replace({str(name): str(document) for name, document in rows})

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of *rules* for leads, contacts and accounts.

        As :meth:`leadmodel.adapters.sqlite.SQLiteStore.index_rules`: the definitions are
        stored, a new or redefined rule is back-filled over the stored records in one
        transaction (holding the store-wide advisory lock, so no commit runs meanwhile).

        Raises:
            ValidationError: not an iterable of MatchingRule values.
            DatabaseBusy: commits held the database past the timeout.
        """
        prepared = prepare_rules(rules)
        with self.lock:
            if all(self.rules.documents.get(name) == doc for name, doc, _ in prepared):
                return
            self._load_rules()
            if all(self.rules.documents.get(name) == doc for name, doc, _ in prepared):
                return
            try:
                with self._connection() as connection, connection.raw.transaction():
                    self._lock(connection, [self._global_lock()])
                    self._load_rules(connection)
                    for name, document, compiled in prepared:
                        if self.rules.documents.get(name) != document:
                            self._backfill(connection, name, document, compiled)
                self.commits += 1
            except BaseException:
                self._load_rules()
                raise

    def _backfill(
        self, connection: _Connection, name: str, document: str, compiled: CompiledRule
    ) -> None:
        self.rules.set(name, document, compiled)  # its aliases first: keys stored once
        for kind in sorted(RULE_KINDS):
            connection.execute(
                "DELETE FROM lookup_keys WHERE kind = ? AND key >= ? AND key < ?",
                (kind, f"{name}#", f"{name}$"),
            )
            rows = []
            for record_id, record in self._records(connection, kind):
                sort = neighbour_sort_value(record)
                rows += [
                    (kind, key, record_id, sort) for key in self.rules.rule_keys(compiled, record)
                ]
            connection.executemany(_DIALECT.insert_keys, rows)
        connection.execute(
            "INSERT INTO indexed_rules (name, document, indexed_at_version) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET document = EXCLUDED.document, "
            "indexed_at_version = EXCLUDED.indexed_at_version",
            (name, document, SCHEMA_VERSION),
        )

    def _records(self, connection: _Connection, kind: str) -> Iterator[tuple[str, object]]:
        """Every stored record of *kind*, a page at a time."""
        after = ""
        while True:
            rows = connection.execute(
                f"SELECT id, data FROM {TABLES[kind]} WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
                (after, 1000),
            ).fetchall()
            for record_id, data in rows:
                yield str(record_id), from_dict(KINDS[kind], json.loads(data))
            if len(rows) < 1000:
                return
            after = rows[-1][0]

    def reindex(self) -> None:
        """Rebuild every record's lookup keys (after changing *keys*), in one transaction."""
        with self.lock, self._connection() as connection, connection.raw.transaction():
            self._lock(connection, [self._global_lock()])
            self._load_rules(connection)
            connection.execute("DELETE FROM lookup_keys")
            for kind in KINDS:
                rows = []
                for record_id, record in self._records(connection, kind):
                    sort = neighbour_sort_value(record)
                    rows += [(kind, key, record_id, sort) for key in self.record_keys(kind, record)]
                connection.executemany(_DIALECT.insert_keys, rows)
            self.commits += 1

    def scrub(self) -> None:
        """Rewrite the tables this store wrote to, so no deleted row version remains in them.

        PostgreSQL keeps a deleted or overwritten row in the table file until its space is
        reused. ``scrub`` runs ``VACUUM FULL`` on every table the store's commits touched
        since it was opened (or last scrubbed), which writes each table anew and drops the
        old files; with nothing touched it rewrites every leadmodel table. It locks each
        table while it runs. The write-ahead log, archived WAL, replicas and backups are
        not touched: they keep the old rows until recycled; erase there too.

        Raises:
            DatabaseBusy: a table stayed locked past the timeout.
            StorageError: the server failed.
        """
        with self.lock:
            tables = sorted(self._touched) or sorted(
                {*TABLES.values(), "lookup_keys", "removed_records"}
            )
            with self._connection() as connection:
                for table in tables:
                    connection.execute(f"VACUUM FULL {table}")
            self._touched.clear()
            self.commits += 1

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._closed = True
        self.pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PostgresRepository(SQLRepository[T]):
    """One unit of work's view of one kind of record in PostgreSQL, plus staged changes.

    The SQLite adapter's repository (:class:`~leadmodel.adapters.sqlite.SQLiteRepository`)
    over PostgreSQL: reads are remembered with their versions, and at commit each record
    this unit writes must still have that version and each key it searched must still find
    the same records.
    """

    _store_type: ClassVar[type] = PostgresStore
    _dialect: ClassVar[Dialect] = _DIALECT

    def _lock_ids(self, schema: str) -> set[int]:
        """The advisory locks a commit of this repository's changes and searches needs."""
        kind, store = self._kind, self._store
        ids = {_lock_id(schema, "id", kind, record_id) for record_id in self._changes}
        searched = {*self._searches, *(key for key, *_ in self._near)}
        for record_id, record in self._changes.items():
            if record is not None:
                staged = self._staged.keys_of(record_id)
                searched.update(staged if staged is not None else store.record_keys(kind, record))
        ids.update(_lock_id(schema, "key", kind, key) for key in searched)
        return ids

    def _write(self, connection: Any, current: dict[str, int]) -> None:
        if self._changes:
            self._store._touched.update(  # noqa: SLF001 - the unit owns its store
                (self._table, "lookup_keys", "removed_records")
            )
        super()._write(connection, current)


class PostgresUnitOfWork(StagingUnitOfWork):
    """A unit of work over a :class:`PostgresStore` (or a URL to open one at).

    Changes are staged and written in one transaction on :meth:`commit`; see the module.
    Besides the five core repositories it stores merges, time-trigger states, consents and
    the privacy log, and indexes duplicate rules' keys (:meth:`index_rules`).
    """

    def __init__(self, store: PostgresStore | str) -> None:
        self.store = store if isinstance(store, PostgresStore) else PostgresStore(store)
        self.leads: PostgresRepository[Lead] = PostgresRepository(self.store, "lead")
        self.contacts: PostgresRepository[Contact] = PostgresRepository(self.store, "contact")
        self.accounts: PostgresRepository[Account] = PostgresRepository(self.store, "account")
        self.opportunities: PostgresRepository[Opportunity] = PostgresRepository(
            self.store, "opportunity"
        )
        self.activities: PostgresRepository[Activity] = PostgresRepository(self.store, "activity")
        self.merges: PostgresRepository[MergeRecord] = PostgresRepository(self.store, "merge")
        self.trigger_states: PostgresRepository[TriggerState] = PostgresRepository(
            self.store, "trigger_state"
        )
        self.consents: PostgresRepository[Consent] = PostgresRepository(self.store, "consent")
        self.privacy_log: PostgresRepository[PrivacyLogEntry] = PostgresRepository(
            self.store, "privacy_log"
        )
        self.committed = False

    def commit(self) -> None:
        """Write every staged change in one transaction, or none.

        Raises:
            ConcurrencyError: a record this unit writes changed since this unit read it, or
                a key it searched finds other records now; nothing is written and the
                staged changes are discarded.
            DatabaseBusy: another commit held a lock this one needs past the timeout.
            StorageError: the server cannot be reached or failed.
        """
        repositories = self._repositories()
        if self._nothing_to_write(repositories):
            return
        store = self.store
        stale: list[str] = []
        with store.lock:
            try:
                with store._connection() as connection, connection.raw.transaction():  # noqa: SLF001
                    self._lock_and_check(connection, repositories, stale)
            except _Stale:
                pass
            except BaseException:
                self.rollback()
                raise
            if stale:
                self.rollback()
                shown_ = ", ".join(stale[:10])
                raise ConcurrencyError(
                    f"changed in storage since this unit read them: {shown_}", records=stale
                )
            store.commits += 1
        for repo in repositories:
            repo._committed()  # noqa: SLF001
        self.committed = True

    def _lock_and_check(
        self, connection: _Connection, repositories: tuple[Any, ...], stale: list[str]
    ) -> None:
        """Lock, validate and write, inside the transaction; _Stale when *stale* is not empty."""
        store = self.store
        schema = store._schema  # noqa: SLF001

        def needed() -> set[int]:
            locks: set[int] = set()
            for repo in repositories:
                locks |= repo._lock_ids(schema)  # noqa: SLF001
            return locks

        # The store-wide lock first: shared, or exclusive for a commit too large to lock
        # key by key. Rule indexing holds it exclusively, so the rules read next are the
        # ones in force until this commit ends, and the keys locked are the ones written.
        exclusive = len(needed()) > _LOCKS
        store._lock(connection, [store._global_lock()], shared=not exclusive)  # noqa: SLF001
        store._load_rules(connection)  # noqa: SLF001 - index what every process indexes
        if not exclusive:
            store._lock(connection, needed())  # noqa: SLF001
        versions = []
        for repo in repositories:
            found, current = repo._stale(connection, check=True)  # noqa: SLF001
            stale += found
            versions.append(current)
        if stale:
            raise _Stale  # rolls the transaction back
        for repo, current in zip(repositories, versions, strict=True):
            repo._write(connection, current)  # noqa: SLF001


class _Stale(Exception):  # noqa: N818 - private: rolls the transaction back
    """Raised inside the transaction so that it rolls back."""
