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


class TestPostgresContractStorePerUnit(TestPostgresContract):
    """Every unit of work over its own store (its own pool), as separate processes do."""

    def units(self):
        return lambda: PostgresUnitOfWork(self._store())
