"""The contract kit against both reference adapters, and a broken adapter it must catch."""

import pytest

from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.testing.contracts import UnitOfWorkContract


class TestMemoryAdapter(UnitOfWorkContract):
    def units(self):
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)


class TestSQLiteInMemory(UnitOfWorkContract):
    def units(self):
        store = SQLiteStore(":memory:")
        return lambda: SQLiteUnitOfWork(store)


class TestSQLiteFile(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.path = tmp_path / "leads.db"

    def units(self):
        store = SQLiteStore(self.path)
        return lambda: SQLiteUnitOfWork(store)


class NoRollback(MemoryUnitOfWork):
    """Forgets to discard staged changes: they leak into the next commit."""

    def rollback(self):
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
