"""A unit of work holding uncommitted changes is never entered again silently.

Entering a unit starts it clean; before issue 17's journey test found it, a service given
the caller's unit inside the caller's own ``with`` block (``services.save(uow, ...)`` after
``uow.activities.add(...)``) discarded the caller's staged activities without a word.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadmodel import Activity, Lead, ValidationError, services
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def make(request, tmp_path):
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    sqlite = SQLiteStore(str(tmp_path / "units.db"))
    yield lambda: SQLiteUnitOfWork(sqlite)
    sqlite.close()


def _lead() -> Lead:
    return Lead(id="L1", last_name="Ng", company="Acme", created_at=NOW, updated_at=NOW)


def test_a_service_called_inside_a_unit_with_staged_changes_refuses_and_writes_nothing(make):
    services.save(make(), _lead())
    uow = make()
    with uow:
        uow.activities.add(Activity(id="A1", subject_id="L1", kind="call", occurred_at=NOW))
        with pytest.raises(ValidationError) as caught:
            services.save(uow, _lead())
        assert [(e.path, e.code) for e in caught.value.errors] == [("uow", "uncommitted")]
        # The caller's change is still staged and commits.
        uow.commit()
    with make() as check:
        assert [a.id for a in check.activities] == ["A1"]


def test_entering_again_after_a_commit_or_with_nothing_staged_is_fine(make):
    uow = make()
    with uow:
        uow.leads.add(_lead())
        uow.commit()
        with uow:  # nothing staged: a nested service call is allowed
            assert uow.leads.get("L1") is not None
    with uow:
        uow.activities.add(Activity(id="A1", subject_id="L1", kind="call", occurred_at=NOW))
    # Leaving without commit discarded it, so the unit can be entered again.
    with uow:
        assert list(uow.activities) == []
