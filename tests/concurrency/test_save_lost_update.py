"""``services.save`` of a record read earlier must not drop what others committed meanwhile.

The read-modify-save cycle of every form, notebook and CLI edit: read a lead (one unit of
work), change a field, ``services.save`` it (a new unit of work). The save checks the
version it read itself, so a change committed between the user's read and the save —
a rescore, another user's edit — is overwritten without a ``ConcurrencyError``
(DESIGN.md invariant 9 at the service layer).

``save(uow, record, base=read_record)`` applies only the fields the edit changed to the
stored record and refuses a field someone else changed differently meanwhile; without
``base``, a record older than the stored one by ``updated_at`` (a rescore stamps it) is
refused.
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


def test_a_save_of_a_record_read_before_another_edit_keeps_that_edit(units):
    with units() as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        uow.commit()
    with units() as uow:
        mine = uow.leads.get("L1")
        theirs = uow.leads.get("L1")
    services.save(
        units(), attrs.evolve(theirs, phone=None, description="Called on Monday"), base=theirs
    )
    services.save(units(), attrs.evolve(mine, title="CTO"), base=mine)
    with units() as uow:
        lead = uow.leads.get("L1")
        assert lead.description == "Called on Monday", "an edit was lost"
        assert lead.title == "CTO"


def test_the_same_field_changed_by_two_edits_is_a_conflict(units):
    with units() as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", custom={"budget": 5}))
        uow.commit()
    with units() as uow:
        mine = theirs = uow.leads.get("L1")
    edited = attrs.evolve(theirs, title="CFO", custom={"budget": 7, "need": True})
    services.save(units(), edited, base=theirs)
    with pytest.raises(ConcurrencyError, match=r"custom\.budget"):
        services.save(units(), attrs.evolve(mine, custom={"budget": 9}), base=mine)
    # A different custom value of the same record merges key by key.
    services.save(units(), attrs.evolve(mine, custom={"budget": 5, "visits": 3}), base=mine)
    with units() as uow:
        lead = uow.leads.get("L1")
        assert (lead.title, dict(lead.custom)) == ("CFO", {"budget": 7, "need": True, "visits": 3})
