"""The contract kit against both reference adapters, and a broken adapter it must catch."""

import pytest

from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.testing.contracts import (
    CONTRACT_VERSION,
    ConsentsContract,
    KeyIndexContract,
    MergeStoreContract,
    NeighboursContract,
    PrivacyLogContract,
    StoreContract,
    TriggerStateContract,
    UnitOfWorkContract,
)


class TestMemoryAdapter(
    UnitOfWorkContract,
    KeyIndexContract,
    MergeStoreContract,
    NeighboursContract,
    TriggerStateContract,
    ConsentsContract,
    PrivacyLogContract,
):
    def units(self):
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)


class _SQLiteContract(
    UnitOfWorkContract,
    KeyIndexContract,
    MergeStoreContract,
    NeighboursContract,
    TriggerStateContract,
    ConsentsContract,
    PrivacyLogContract,
):
    """The whole kit, over the SQLite adapter (the fixtures below choose the file set-up)."""


class TestSQLiteInMemory(_SQLiteContract):
    def units(self):
        store = SQLiteStore(":memory:")
        return lambda: SQLiteUnitOfWork(store)


class TestSQLiteFile(_SQLiteContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.path = tmp_path / "leads.db"

    def units(self):
        store = SQLiteStore(self.path)
        return lambda: SQLiteUnitOfWork(store)


class TestSQLiteFileTwoStores(_SQLiteContract):
    """Every unit of work opens its own connection to one file, as separate processes do."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.path = tmp_path / "leads.db"
        self.stores = []
        yield
        for store in self.stores:
            store.close()

    def units(self):
        self.path.unlink(missing_ok=True)

        def make():
            store = SQLiteStore(self.path)
            self.stores.append(store)
            return SQLiteUnitOfWork(store)

        return make


def test_the_kit_states_its_version():
    assert CONTRACT_VERSION == 6


class NoRollback(MemoryUnitOfWork):
    """Forgets to discard staged changes: they leak into the next commit.

    (Ours refuses to be entered again while it holds uncommitted changes; a host adapter
    may not, so the broken one here skips that check as well as the discarding.)
    """

    def __enter__(self):
        self.committed = False
        return self

    def __exit__(self, *exc):
        pass


class NoConcurrencyCheck(MemoryUnitOfWork):
    """Commits without checking versions: last writer wins."""

    def commit(self):
        for repo in self._repositories():
            repo._seen.clear()
        super().commit()


class BrokenRollback(UnitOfWorkContract):
    def units(self):
        store = MemoryStore()
        return lambda: NoRollback(store)


class BrokenConcurrency(UnitOfWorkContract):
    def units(self):
        store = MemoryStore()
        return lambda: NoConcurrencyCheck(store)


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (BrokenRollback, "test_a_reused_unit_starts_clean_after_leaving_without_commit"),
        (BrokenConcurrency, "test_a_stale_concurrent_update_is_rejected_and_overwrites_nothing"),
    ],
)
def test_the_kit_catches_a_broken_adapter(broken, test):
    with pytest.raises(AssertionError):
        getattr(broken(), test)()


class TestMemoryStore(StoreContract):
    def store(self):
        return MemoryStore()


class TestSQLiteStoreInMemory(StoreContract):
    def store(self):
        return SQLiteStore(":memory:")


class TestSQLiteStoreFile(StoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.folder = tmp_path

    def store(self):
        return SQLiteStore(self.folder / f"store-{len(list(self.folder.iterdir()))}.db")


class OneUnitStore(MemoryStore):
    """Hands out one shared unit of work: a unit's staged records leak into the next."""

    def unit_of_work(self):
        if not hasattr(self, "_only"):
            self._only = NoRollback(self)
        return self._only


class CountsAnything(MemoryStore):
    """Answers 0 for a kind it does not store instead of refusing it."""

    def count(self, kind):
        return len(self.tables[kind].records) if kind in self.tables else 0


class BrokenOneUnit(StoreContract):
    def store(self):
        return OneUnitStore()


class BrokenCount(StoreContract):
    def store(self):
        return CountsAnything()


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (BrokenOneUnit, "test_each_unit_of_work_is_a_new_independent_unit"),
        (BrokenCount, "test_count_refuses_a_kind_it_does_not_store"),
    ],
)
def test_the_store_kit_catches_a_broken_store(broken, test):
    with pytest.raises(AssertionError):
        getattr(broken(), test)()
