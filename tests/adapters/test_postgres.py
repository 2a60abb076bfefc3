"""The PostgreSQL adapter: the whole contract kit, and what is its own (issue 20)."""

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'leadmodel[postgres]'")

from leadmodel.adapters.postgres import PostgresStore, PostgresUnitOfWork
from leadmodel.testing.contracts import (
    ConsentsContract,
    KeyIndexContract,
    MergeStoreContract,
    NeighboursContract,
    PrivacyLogContract,
    StoreContract,
    TriggerStateContract,
    UnitOfWorkContract,
)


class _Stores:
    @pytest.fixture(autouse=True)
    def _database(self, postgres_schema_url):
        self.url = postgres_schema_url
        self.stores = []
        yield
        for store in self.stores:
            store.close()

    def _store(self):
        store = PostgresStore(self.url, pool_size=2)
        self.stores.append(store)
        return store


class TestPostgresContract(
    _Stores,
    UnitOfWorkContract,
    KeyIndexContract,
    MergeStoreContract,
    NeighboursContract,
    TriggerStateContract,
    ConsentsContract,
    PrivacyLogContract,
):
    """The whole kit, every unit over one store (one pool)."""

    def units(self):
        store = self._store()
        return lambda: PostgresUnitOfWork(store)


class TestPostgresStore(_Stores, StoreContract):
    """The store port (what the command line takes) on PostgreSQL."""

    def store(self):
        return self._store()


class TestPostgresContractStorePerUnit(TestPostgresContract):
    """Every unit of work over its own store (its own pool), as separate processes do.

    With ``--long`` only (it doubles the kit's time); the race and mixed-workload tests in
    tests/concurrency run separate stores in separate processes on every run.
    """

    @pytest.fixture(autouse=True)
    def _long_only(self, long_run):
        if not long_run:
            pytest.skip("the kit with a store per unit runs with --long")

    def units(self):
        return lambda: PostgresUnitOfWork(self._store())


# -- adapter-specific ------------------------------------------------------------------

import json  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta, timezone  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

import attrs  # noqa: E402
import psycopg  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import leadmodel.adapters.postgres as adapter  # noqa: E402
from leadmodel import (  # noqa: E402
    STANDARD_LEAD_RULE,
    ConcurrencyError,
    DatabaseBusy,
    EmailAddress,
    InvalidDatabasePath,
    Lead,
    ListView,
    NotADatabase,
    SchemaTooNew,
    StorageError,
    ValidationError,
    apply_view,
    services,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork  # noqa: E402
from leadmodel.serialization import to_dict, to_json  # noqa: E402
from leadmodel.testing import strategies  # noqa: E402
from leadmodel.testing.strategies import criteria  # noqa: E402

WORDS = ["Web", "web", "WEB", "Fair", "Straße", "STRASSE", "vip", "Acme", "ACME Inc", "ſ", "S"]
FIELDS = st.sampled_from(
    ["status", "source", "owner_id", "company", "last_name", "rating", "employees", "email"]
)


@st.composite
def stored_leads(draw):
    word = st.sampled_from(WORDS)
    return [
        Lead(
            id=f"L{i:02d}",
            last_name=draw(word),
            company=draw(word),
            source=draw(st.none() | word),
            owner_id=draw(st.none() | st.sampled_from(["u1", "U1", "u2"])),
            rating=draw(st.none() | st.sampled_from(["Hot", "hot", "Cold"])),
            employees=draw(st.none() | st.integers(0, 500)),
            status=draw(st.sampled_from(["Open - Not Contacted", "Working - Contacted"])),
        )
        for i in range(draw(st.integers(0, 10)))
    ]


views = st.builds(
    ListView,
    name=st.just("v"),
    criterion=st.none() | criteria(fields=FIELDS),
    sort=st.lists(st.tuples(FIELDS, st.sampled_from(["asc", "desc"])), max_size=2),
    limit=st.none() | st.integers(1, 5),
)


def _ids(records):
    return [r.id for r in records]


def _lead(lead_id="L1", **changes):
    return Lead(id=lead_id, last_name="Ng", company="Acme", **changes)


@pytest.fixture
def store(postgres_schema_url):
    with PostgresStore(postgres_schema_url, pool_size=3) as opened:
        yield opened


def _raw(url):
    return psycopg.connect(url, autocommit=True)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(leads=stored_leads(), view=views, source=st.sampled_from(WORDS))
def test_select_in_sql_answers_what_the_memory_adapter_answers(store, leads, view, source):
    with _raw(store._url) as raw:
        raw.execute("TRUNCATE lead_records, lookup_keys, removed_records")
    memory = MemoryStore()
    answers = []
    for make in (lambda: PostgresUnitOfWork(store), lambda: MemoryUnitOfWork(memory)):
        with make() as uow:
            for lead in leads:
                uow.leads.add(lead)
            uow.commit()
        with make() as uow:  # staged changes count: one removed, one changed, one added
            if leads:
                uow.leads.remove(leads[0].id)
            if len(leads) > 1:
                uow.leads.update(attrs.evolve(leads[1], source=source))
            uow.leads.add(Lead(id="L99", last_name="Web", company="A", source="web", owner_id="u1"))
            select = getattr(uow.leads, "select", None)  # the memory adapter has none
            answers.append(_ids(select(view) if select else apply_view(view, list(uow.leads))))
    assert answers[0] == answers[1]


def test_a_simple_view_is_filtered_by_the_database(store):
    with store.unit_of_work() as uow:
        for i in range(50):
            uow.leads.add(_lead(f"L{i:02d}", source="Web" if i % 10 == 0 else "Fair"))
        uow.commit()
    asked = []
    query = store._query

    def spy(sql, params=()):
        rows = query(sql, params)
        asked.append((sql, len(rows)))
        return rows

    store._query = spy
    with store.unit_of_work() as uow:
        view = ListView("web", criterion=adapter_condition("source", "eq", "WEB"))
        assert _ids(uow.leads.select(view)) == ["L00", "L10", "L20", "L30", "L40"]
    assert [(sql.split(" WHERE ")[1][:30], n) for sql, n in asked] == [
        ("(NOT (source IS NULL OR source", 5)
    ]


def adapter_condition(field, op, value):
    from leadmodel import Condition

    return Condition(field, op, value)


def test_documents_come_back_exactly_decimals_and_offsets_included(store):
    lead = _lead(
        email=EmailAddress.parse("ng@acme.io"),
        created_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        custom={
            "budget": Decimal("1.10"),
            "big": Decimal("1E+6"),
            "tiny": Decimal("-0.000000000000000000000001"),
            "due": date(2026, 2, 28),
            "met": datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-3))),
            "note": 'naïve ✓ "quoted" \\ back',
            "count": 10**17,
        },
    )
    with store.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.commit()
    with store.unit_of_work() as uow:
        back = uow.leads.get("L1")
    assert back == lead
    assert to_json(back) == to_json(lead)
    assert str(back.custom["budget"]) == "1.10"
    assert str(back.custom["big"]) == "1E+6"
    assert back.created_at.utcoffset() == timedelta(hours=5, minutes=30)


# -- migrations ---------------------------------------------------------------------------


def _make_v1(url, lead):
    """A database at schema 1 holding *lead*, made by hand (no store opened)."""
    data = to_dict(lead)
    with _raw(url) as raw, raw.transaction():
        for statement in adapter._schema_v1():
            raw.execute(statement)
        raw.execute("CREATE TABLE leadmodel_schema (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO leadmodel_schema VALUES (1)")
        raw.execute(
            "INSERT INTO lead_records (id, version, last_name, company, company_folded, data) "
            "VALUES (%s, 3, %s, %s, %s, %s)",
            (lead.id, lead.last_name, lead.company, lead.company.casefold(), json.dumps(data)),
        )
        raw.execute(
            "INSERT INTO lookup_keys (kind, key, id) VALUES ('lead', 'email:ng@acme.io', %s)",
            (lead.id,),
        )


def test_a_schema_1_database_is_migrated_in_one_transaction(postgres_schema_url, monkeypatch):
    lead = _lead(email=EmailAddress.parse("ng@acme.io"))
    _make_v1(postgres_schema_url, lead)
    monkeypatch.setattr(adapter, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(
        adapter._MIGRATIONS,
        2,
        lambda: ["CREATE INDEX lead_records_company ON lead_records (company_folded)"],
    )
    with PostgresStore(postgres_schema_url) as store:
        assert store.schema_version == 2
        assert store._query("SELECT to_regclass('lead_records_company') IS NOT NULL")[0][0]
        with store.unit_of_work() as uow:
            assert uow.leads.get("L1") == lead
            assert _ids(uow.leads.find_by_keys(["email:ng@acme.io"])) == ["L1"]
            uow.leads.update(attrs.evolve(lead, title="CTO"))
            uow.commit()
        assert store._query("SELECT version FROM lead_records")[0][0] == 4


def test_a_failed_migration_leaves_the_database_as_it_was(postgres_schema_url, monkeypatch):
    PostgresStore(postgres_schema_url).close()
    monkeypatch.setattr(adapter, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(
        adapter._MIGRATIONS,
        2,
        lambda: ["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"],
    )
    with pytest.raises(StorageError):
        PostgresStore(postgres_schema_url)
    monkeypatch.setattr(adapter, "SCHEMA_VERSION", 1)
    with PostgresStore(postgres_schema_url) as store:
        assert store.schema_version == 1
        assert store._query("SELECT to_regclass('half_done') IS NULL")[0][0]


def test_a_database_from_a_newer_leadmodel_is_refused(postgres_schema_url):
    PostgresStore(postgres_schema_url).close()
    with _raw(postgres_schema_url) as raw:
        raw.execute("UPDATE leadmodel_schema SET version = 99")
    with pytest.raises(SchemaTooNew) as caught:
        PostgresStore(postgres_schema_url)
    assert (caught.value.found, caught.value.supported) == (99, adapter.SCHEMA_VERSION)


def test_leadmodel_table_names_without_a_version_row_are_refused(postgres_schema_url):
    with _raw(postgres_schema_url) as raw:
        raw.execute("CREATE TABLE lead_records (id TEXT)")
    with pytest.raises(NotADatabase):
        PostgresStore(postgres_schema_url)


def test_other_programs_tables_beside_ours_are_left_alone(postgres_schema_url):
    with _raw(postgres_schema_url) as raw:
        raw.execute("CREATE TABLE invoices (id TEXT)")
    with PostgresStore(postgres_schema_url) as store:
        assert store.count("lead") == 0


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        None,
        42,
        b"postgresql://x",
        "",
        "leads.db",
        "mysql://x/y",
        "postgresql://x\x00",
        "postgresql://\ud800",
        "postgresql://[",
        "postgresql://?bogus_param=1",
        "postgresql://" + "a" * 9000,
        "postgresql://" + "a" * 10_001,
    ],
)
def test_what_is_not_a_postgresql_url_is_refused(url):
    with pytest.raises(InvalidDatabasePath):
        PostgresStore(url)


@pytest.mark.parametrize(
    ("option", "value"),
    [("pool_size", 0), ("pool_size", True), ("pool_size", 1.5), ("timeout", -1), ("keys", 3)],
)
def test_bad_options_are_refused(option, value):
    with pytest.raises(ValidationError):
        PostgresStore("postgresql:///x", **{option: value})


def test_an_unreachable_server_is_a_storage_error_naming_the_url(tmp_path):
    url = f"postgresql://someone:secret@/crm?host={tmp_path}"
    with pytest.raises(StorageError) as caught:
        PostgresStore(url, timeout=1)
    assert not isinstance(caught.value, psycopg.Error)
    assert "secret" not in str(caught.value)
    assert "***" in str(caught.value)
    assert "running" in str(caught.value)


def test_an_unknown_role_is_a_storage_error(postgres_url):
    url = postgres_url.replace("postgresql://postgres@", "postgresql://nosuchrole@")
    with pytest.raises(StorageError, match="nosuchrole"):
        PostgresStore(url, timeout=1)


def test_connections_the_server_dropped_are_replaced(store):
    with store.unit_of_work() as uow:
        uow.leads.add(_lead())
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.leads.get("L1") is not None  # the pool holds open connections now
    with _raw(store._url) as raw:
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND backend_type = 'client backend'"
        )
    with store.unit_of_work() as uow:
        lead = uow.leads.get("L1")
        uow.leads.update(attrs.evolve(lead, title="CTO"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.leads.get("L1").title == "CTO"


def test_a_closed_store_says_so(postgres_schema_url):
    store = PostgresStore(postgres_schema_url)
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.count("lead")


def test_a_lock_held_past_the_timeout_is_database_busy(postgres_schema_url):
    with PostgresStore(postgres_schema_url, timeout=0.2) as store:
        lock = adapter._lock_id(store._schema, "id", "lead", "L1")
        with _raw(postgres_schema_url) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (lock,))
            with store.unit_of_work() as uow:
                uow.leads.add(_lead())
                started = time.monotonic()
                with pytest.raises(DatabaseBusy) as caught:
                    uow.commit()
                waited = time.monotonic() - started
        assert isinstance(caught.value, ConcurrencyError)
        assert not isinstance(caught.value, psycopg.Error)
        assert 0.1 < waited < 5
        with store.unit_of_work() as uow:  # the holder is gone: the same store commits
            assert uow.leads.get("L1") is None
            uow.leads.add(_lead())
            uow.commit()
        assert store.count("lead") == 1


# -- pool, rules, scrub -------------------------------------------------------------------


def test_open_units_hold_no_connection(postgres_schema_url):
    with PostgresStore(postgres_schema_url, pool_size=1, timeout=1) as store:
        units = [store.unit_of_work() for _ in range(20)]
        for n, uow in enumerate(units):
            uow.__enter__()
            uow.leads.add(_lead(f"L{n:02d}"))
        for uow in units:
            uow.commit()
            uow.__exit__(None, None, None)
        assert store.count("lead") == 20
        assert store.pool.get_stats()["pool_max"] == 1


def test_rules_indexed_by_one_store_are_used_by_another(postgres_schema_url):
    bob = Lead(id="L1", first_name="Robert", last_name="Hopper", company="Company 1", title="CTO")
    with PostgresStore(postgres_schema_url) as first, first.unit_of_work() as uow:
        uow.leads.add(bob)
        uow.commit()
        first.index_rules([STANDARD_LEAD_RULE])
    keys = STANDARD_LEAD_RULE.compile().keys(bob)
    assert keys
    with PostgresStore(postgres_schema_url) as second, second.unit_of_work() as uow:
        assert _ids(uow.leads.find_by_keys(keys)) == ["L1"]


def test_reindex_and_scrub_keep_every_record(store):
    with store.unit_of_work() as uow:
        for n in range(5):
            uow.leads.add(_lead(f"L{n}", email=EmailAddress.parse(f"p{n}@acme.io")))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.leads.remove("L0")
        uow.commit()
    store.scrub()
    store.reindex()
    with store.unit_of_work() as uow:
        assert _ids(uow.leads.find_by_keys(["email:p3@acme.io", "email:p0@acme.io"])) == ["L3"]
    assert store.count("lead") == 4
    with pytest.raises(ValidationError):
        store.count("nothing")


def test_the_store_port_surface(store):
    assert isinstance(store.unit_of_work(), PostgresUnitOfWork)
    assert store.schema_version == adapter.SCHEMA_VERSION
    with PostgresUnitOfWork(store._url) as uow:  # a URL opens its own store
        assert uow.leads.get("L1") is None
    uow.store.close()


def _one_key(record):
    return ("everyone",)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    near=st.text(st.sampled_from(["a", "b", "n", "\x00", "\x1f", "é"]), max_size=4),
    keys=st.lists(st.sampled_from(["everyone", "every\x00one", "\x00", "nobody"]), max_size=3),
)
def test_nul_characters_ask_what_sqlite_answers(postgres_schema_url, near, keys):
    """PostgreSQL text cannot hold NUL: keys and *near* values with one still answer alike."""
    from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

    leads = [
        Lead(id=f"L{i:02d}", last_name=f"{chr(97 + i % 26)}n{i}", company="A") for i in range(30)
    ]
    answers = []
    with PostgresStore(postgres_schema_url, keys=_one_key) as pg:
        with _raw(postgres_schema_url) as raw:
            raw.execute("TRUNCATE lead_records, lookup_keys")
        for make in (
            pg.unit_of_work,
            lambda: SQLiteUnitOfWork(SQLiteStore(":memory:", keys=_one_key)),
        ):
            uow = make()
            with uow:
                for lead in leads:
                    uow.leads.add(lead)
                uow.commit()
            with uow:
                answers.append(
                    (
                        _ids(uow.leads.find_by_keys(keys)),
                        _ids(uow.leads.find_neighbours(keys, near, 3, whole=4)),
                    )
                )
    assert answers[0] == answers[1]


def test_a_server_that_goes_away_and_comes_back(tmp_path_factory):
    """Its own cluster, stopped under an open store: StorageError, then working again."""
    import shutil
    import tempfile

    import postgres_cluster

    if postgres_cluster.binaries() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) to start a second server")
    folder = tempfile.mkdtemp(prefix="leadmodel-pg-", dir="/tmp")
    try:
        url = postgres_cluster.start(folder)
        with PostgresStore(url, pool_size=2, timeout=1) as store:
            with store.unit_of_work() as uow:
                uow.leads.add(_lead())
                uow.commit()
            with store.unit_of_work() as uow:
                uow.leads.add(_lead("L2"))
                postgres_cluster.stop(folder, mode="fast")
                with pytest.raises(StorageError) as commit:
                    uow.commit()
            with store.unit_of_work() as uow, pytest.raises(StorageError) as read:
                uow.leads.get("L1")
            for caught in (read, commit):
                assert not isinstance(caught.value, psycopg.Error)
                assert "running" in str(caught.value)
            postgres_cluster.restart(folder)

            def add_again():
                with store.unit_of_work() as uow:
                    assert uow.leads.get("L1") == _lead()
                    uow.leads.add(_lead("L2"))
                    uow.commit()

            # The pool reconnects in the background: until it has, DatabaseBusy (retry).
            services.retrying(add_again, attempts=8, backoff=0.1)
            assert store.count("lead") == 2
    finally:
        postgres_cluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _table_bytes(url, table):
    """The bytes of *table*'s file on the server (after a checkpoint), or None if remote."""
    with _raw(url) as raw:
        raw.execute("CHECKPOINT")
        folder = raw.execute("SHOW data_directory").fetchone()[0]
        relative = raw.execute("SELECT pg_relation_filepath(%s)", (table,)).fetchone()[0]
    path = Path(folder) / relative
    try:
        return path.read_bytes()
    except OSError:
        return None


def test_erase_scrubs_the_deleted_rows_out_of_the_table_files(store):
    from leadmodel.privacy import erase

    class Key:
        def secret(self):
            return b"a secret"

    email = "qazuvwxy.erased@example.org"
    with store.unit_of_work() as uow:
        uow.leads.add(_lead(email=EmailAddress.parse(email)))
        uow.leads.add(_lead("L2"))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.leads.remove("L1")
        uow.commit()
    before = _table_bytes(store._url, "lead_records")
    if before is None:
        pytest.skip("the server's files are not readable from here")
    assert email.encode() in before  # a deleted row stays in the file until rewritten
    with store.unit_of_work() as uow:
        uow.leads.add(_lead("L3", email=EmailAddress.parse(email)))
        uow.commit()
    erasure = erase(
        store.unit_of_work(),
        {"email": email},
        mode="delete",
        now=datetime(2026, 12, 1, tzinfo=UTC),
        key=Key(),
    )
    assert erasure.scrubbed
    assert email.encode() not in _table_bytes(store._url, "lead_records")
    assert email.encode() not in _table_bytes(store._url, "lookup_keys")
    assert store.count("lead") == 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lead=strategies.leads(),
    contact=strategies.contacts(),
    account=strategies.accounts(),
    consent=strategies.consents(),
)
def test_every_record_comes_back_exactly_as_stored(store, lead, contact, account, consent):
    """Nothing lost or changed on the way through PostgreSQL: equal, and the same JSON."""
    with _raw(store._url) as raw:
        raw.execute(
            "TRUNCATE lead_records, contact_records, account_records, consent_records, "
            "lookup_keys, removed_records"
        )
    with store.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.contacts.add(contact)
        uow.accounts.add(account)
        uow.consents.add(consent)
        uow.commit()
    with store.unit_of_work() as uow:
        back = [
            uow.leads.get(lead.id),
            uow.contacts.get(contact.id),
            uow.accounts.get(account.id),
            uow.consents.get(consent.id),
        ]
    for stored, original in zip(back, (lead, contact, account, consent), strict=True):
        assert stored == original
        assert to_json(stored) == to_json(original)
