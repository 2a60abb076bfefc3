"""Properties of the store port over both reference stores (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import Lead
from leadmodel.adapters import open_store
from leadmodel.adapters.memory import MemoryStore

# Batches of lead numbers, each committed (True) or left without commit (False).
BATCHES = st.lists(st.tuples(st.sets(st.integers(0, 30), max_size=6), st.booleans()), max_size=6)


def _lead(number: int) -> Lead:
    return Lead(id=f"L{number:02d}", last_name=f"Name{number}", company="Acme")


@pytest.mark.parametrize("make", [MemoryStore, lambda: open_store(":memory:")])
@settings(max_examples=25)
@given(batches=BATCHES)
def test_count_and_a_new_unit_see_exactly_what_was_committed(make, batches):
    committed: set[str] = set()
    with make() as store:
        for numbers, commit in batches:
            with store.unit_of_work() as uow:
                fresh = [n for n in sorted(numbers) if f"L{n:02d}" not in committed]
                for number in fresh:
                    uow.leads.add(_lead(number))
                if commit:
                    uow.commit()
                    committed |= {f"L{n:02d}" for n in fresh}
            assert store.count("lead") == len(committed)
        with store.unit_of_work() as uow:
            assert [lead.id for lead in uow.leads] == sorted(committed)
        assert store.count("contact") == 0
