"""A deliberately naive adapter, to prove the contract kit catches what issue 14 fixed.

``NaiveUnitOfWork`` is what a host might write first: a dict per kind, changes staged and
applied on commit, last writer wins (no versions, no re-validated searches), and
``find_by_keys`` indexing only what :func:`leadmodel.ports.lookup_keys` gives (email,
phone, subject). It keeps every promise of contract version 1 except the stale-update
ones, so each version-2 test that fails on it fails for the promise it is about. The same
tests pass on both shipped adapters.
"""

from __future__ import annotations

import pytest

from leadmodel import Account, Activity, Contact, Lead, Opportunity
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.domain.errors import RecordExists, RecordNotFound
from leadmodel.ports import SupportsKeyIndex, SupportsMerges, lookup_keys
from leadmodel.testing.contracts import (
    KeyIndexContract,
    MergeStoreContract,
    UnitOfWorkContract,
)


class NaiveRepository:
    def __init__(self, table: dict, cls: type) -> None:
        self._table = table
        self._cls = cls
        self._changes: dict = {}

    def _current(self, record_id):
        if record_id in self._changes:
            return self._changes[record_id]
        return self._table.get(record_id)

    def get(self, record_id):
        return self._current(record_id)

    def add(self, record):
        if self._current(record.id) is not None:
            raise RecordExists(self._cls.__name__.lower(), record.id)
        self._changes[record.id] = record

    def update(self, record):
        if self._current(record.id) is None:
            raise RecordNotFound(self._cls.__name__.lower(), record.id)
        self._changes[record.id] = record

    def remove(self, record_id):
        if self._current(record_id) is None:
            raise RecordNotFound(self._cls.__name__.lower(), record_id)
        self._changes[record_id] = None

    def __iter__(self):
        for record_id in sorted(set(self._table) | set(self._changes)):
            record = self._current(record_id)
            if record is not None:
                yield record

    def find_by_keys(self, keys):
        wanted = set(keys)
        return [record for record in self if wanted & set(lookup_keys(record))]

    def _apply(self):
        for record_id, record in self._changes.items():
            if record is None:
                self._table.pop(record_id, None)
            else:
                self._table[record_id] = record
        self._changes.clear()


class NaiveUnitOfWork:
    """Stages changes and applies them on commit: last writer wins."""

    _KINDS = (
        ("leads", Lead),
        ("contacts", Contact),
        ("accounts", Account),
        ("opportunities", Opportunity),
        ("activities", Activity),
    )

    def __init__(self, tables: dict) -> None:
        for name, cls in self._KINDS:
            setattr(self, name, NaiveRepository(tables.setdefault(name, {}), cls))

    def _repositories(self):
        return [getattr(self, name) for name, _ in self._KINDS]

    def __enter__(self):
        self.rollback()
        return self

    def __exit__(self, *exc_info):
        self.rollback()

    def commit(self):
        for repository in self._repositories():
            repository._apply()

    def rollback(self):
        for repository in self._repositories():
            repository._changes.clear()


class NaiveContract(UnitOfWorkContract, KeyIndexContract, MergeStoreContract):
    """Not collected (no ``Test`` prefix): the tests below run its methods one by one."""

    def units(self):
        tables: dict = {}
        return lambda: NaiveUnitOfWork(tables)


class MemoryContract(UnitOfWorkContract, KeyIndexContract, MergeStoreContract):
    def units(self):
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)


class SQLiteContract(UnitOfWorkContract, KeyIndexContract, MergeStoreContract):
    def units(self):
        store = SQLiteStore(":memory:")
        return lambda: SQLiteUnitOfWork(store)


# The version-2 promises a last-writer-wins, email/phone-only adapter breaks.
CAUGHT = [
    "test_a_write_after_reading_by_get_is_checked",
    "test_a_write_after_reading_by_iteration_is_checked",
    "test_a_write_after_reading_by_find_by_keys_is_checked",
    "test_a_removal_after_reading_is_checked",
    "test_a_record_removed_and_added_again_meanwhile_is_checked",
    "test_a_refused_commit_carries_what_went_stale",
    "test_a_key_searched_for_nothing_cannot_gain_a_record_meanwhile",
    "test_a_key_searched_is_checked_when_the_unit_writes_another_repository",
    "test_a_search_finding_a_record_removed_meanwhile_is_checked",
    "test_save_never_edits_a_lead_converted_while_it_ran",
    "test_save_never_stores_a_duplicate_the_policy_blocks_by_its_keys",
    "test_rescore_never_overwrites_an_edit_made_while_it_ran",
    "test_a_record_read_before_the_units_own_commit_is_still_checked",
    "test_rescore_of_named_leads_never_overwrites_an_edit_made_between_batches",
    "test_a_record_read_before_a_commit_that_wrote_nothing_is_still_checked",
    "test_rescore_never_overwrites_an_edit_made_after_an_unchanged_batch",
    # and version 1's own stale-update tests
    "test_a_stale_concurrent_update_is_rejected_and_overwrites_nothing",
    "test_two_units_adding_one_id_cannot_both_win",
]


def test_the_naive_adapter_is_a_unit_of_work_without_capabilities():
    uow = NaiveUnitOfWork({})
    assert not isinstance(uow, SupportsKeyIndex)
    assert not isinstance(uow, SupportsMerges)


@pytest.mark.parametrize("test", CAUGHT)
def test_the_kit_fails_the_naive_adapter(test):
    with pytest.raises(AssertionError):
        getattr(NaiveContract(), test)()


@pytest.mark.parametrize(
    "test",
    [
        "test_add_then_get_returns_an_equal_record_of_every_kind",
        "test_find_by_keys_finds_each_record_once_in_id_order",
        "test_leaving_without_commit_discards_every_change",
        "test_records_only_read_are_not_checked",
        "test_save_refuses_an_edit_of_a_converted_lead_and_stores_nothing",
    ],
)
def test_the_naive_adapter_keeps_the_promises_it_does_not_break(test):
    """So each failure above is about concurrency or keys, not a broken adapter."""
    getattr(NaiveContract(), test)()


@pytest.mark.parametrize(
    "test",
    [name for name in dir(KeyIndexContract) + dir(MergeStoreContract) if name.startswith("test_")],
)
def test_capability_contracts_fail_an_adapter_without_the_capability(test):
    with pytest.raises(AssertionError, match="has no"):
        getattr(NaiveContract(), test)()


@pytest.mark.parametrize(
    ("adapter", "test"),
    [(adapter, test) for adapter in (MemoryContract, SQLiteContract) for test in CAUGHT],
)
def test_both_shipped_adapters_pass_what_the_naive_adapter_fails(adapter, test):
    getattr(adapter(), test)()
