"""``services.save`` of a record read earlier must not drop what others committed meanwhile.

The read-modify-save cycle of every form, notebook and CLI edit: read a lead (one unit of
work), change a field, ``services.save`` it (a new unit of work). The save checks the
version it read itself, so a change committed between the user's read and the save —
a rescore, another user's edit — is overwritten without a ``ConcurrencyError``
(DESIGN.md invariant 9 at the service layer).

BUG (issue 14, reported to the lead engineer): services.save (src/leadmodel/services.py,
``save``: ``stored = own.get(record.id)`` then ``own.update(record)``) writes the whole
record it is handed; it has no base version to compare with. Strict xfail until save
can tell (e.g. ``save(uow, record, base=read_record)`` or a version carried by the
record), then it raises ConcurrencyError or keeps the other change.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from leadmodel import ConcurrencyError, Condition, FitRule, Lead, ScoringModel, services
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MODEL = ScoringModel(fit=[FitRule("any", Condition("last_name", "is_not_blank"), 80)])


@pytest.fixture(params=["memory", "sqlite"])
def units(request, tmp_path):
    if request.param == "memory":
        memory = MemoryStore()
        yield lambda: MemoryUnitOfWork(memory)
        return
    with SQLiteStore(tmp_path / "leads.db") as store:
        yield lambda: SQLiteUnitOfWork(store)


@pytest.mark.xfail(strict=True, reason="BUG services.save: no base version, overwrites")
def test_a_save_of_a_record_read_before_a_rescore_keeps_the_score(units):
    with units() as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        uow.commit()
    with units() as uow:
        shown = uow.leads.get("L1")  # what the edit form shows
    services.rescore(units(), MODEL, now=NOW)
    try:
        services.save(units(), attrs.evolve(shown, title="CTO"))
    except ConcurrencyError:
        return  # refused: the user reloads and edits again
    with units() as uow:
        assert uow.leads.get("L1").custom.get("score") == 80, "the rescore was overwritten"


@pytest.mark.xfail(strict=True, reason="BUG services.save: no base version, overwrites")
def test_a_save_of_a_record_read_before_another_edit_keeps_that_edit(units):
    with units() as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        uow.commit()
    with units() as uow:
        mine = uow.leads.get("L1")
        theirs = uow.leads.get("L1")
    services.save(units(), attrs.evolve(theirs, phone=None, description="Called on Monday"))
    try:
        services.save(units(), attrs.evolve(mine, title="CTO"))
    except ConcurrencyError:
        return
    with units() as uow:
        assert uow.leads.get("L1").description == "Called on Monday", "an edit was lost"
