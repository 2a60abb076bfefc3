"""The SQLite repository runs list views in SQL and answers exactly what apply_view does."""

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import All, Any, Condition, Lead, ListView, Not, Segment, apply_view
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.ports import SupportsViews
from leadmodel.testing.strategies import criteria

WORDS = ["Web", "web", "WEB", "Fair", "Straße", "STRASSE", "vip", "Acme", "ACME Inc"]
FIELDS = st.sampled_from(
    ["status", "source", "owner_id", "company", "last_name", "rating", "employees", "email"]
)


@st.composite
def stored_leads(draw):
    count = draw(st.integers(0, 12))
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
        for i in range(count)
    ]


views = st.builds(
    ListView,
    name=st.just("v"),
    criterion=st.none() | criteria(fields=FIELDS),
    sort=st.lists(st.tuples(FIELDS, st.sampled_from(["asc", "desc"])), max_size=2),
    limit=st.none() | st.integers(1, 5),
)


def ids(records):
    return [r.id for r in records]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(stored_leads(), views, st.data())
def test_select_is_apply_view(leads, view, data):
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    with SQLiteUnitOfWork(store) as uow:
        # Staged changes count: one lead removed, one changed, one added.
        if leads:
            uow.leads.remove(leads[0].id)
        if len(leads) > 1:
            uow.leads.update(attrs.evolve(leads[1], source=data.draw(st.sampled_from(WORDS))))
        uow.leads.add(Lead(id="L99", last_name="Web", company="A", source="web", owner_id="u1"))
        expected = apply_view(view, list(uow.leads))
        assert ids(uow.leads.select(view)) == ids(expected)
        assert ids(apply_view(view, uow.leads)) == ids(expected)  # handed to select


def test_simple_views_are_filtered_in_sql():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        for i in range(200):
            uow.leads.add(
                Lead(
                    id=f"L{i:03d}",
                    last_name="Ng",
                    company="A",
                    source="Web" if i % 50 == 0 else "Fair",
                )
            )
        uow.commit()
    decoded = []
    with SQLiteUnitOfWork(store) as uow:
        assert isinstance(uow.leads, SupportsViews)
        real = uow.leads._decode
        uow.leads._decode = lambda data: decoded.append(data) or real(data)
        web = Segment(
            "Web", All([Condition("source", "eq", "web"), Not(Condition("rating", "eq", "Cold"))])
        )
        found = uow.leads.select(web.view(sort=[("id", "desc")]))
        assert ids(found) == ["L150", "L100", "L050", "L000"]
        assert len(decoded) == 4  # the other 196 rows never left SQLite
        decoded.clear()
        mixed = ListView(
            "v", Any([Condition("source", "eq", "web"), Condition("employees", "gt", 5)])
        )
        assert len(uow.leads.select(mixed)) == 4
        # An untranslatable branch of an Any: every row is checked in Python.
        assert len(decoded) == 200


def test_select_refuses_what_is_not_a_view():
    with SQLiteUnitOfWork(SQLiteStore(":memory:")) as uow, pytest.raises(Exception) as error:
        uow.leads.select("source = 'Web'")
    assert type(error.value).__name__ == "ValidationError"


def test_hostile_values_stay_parameters():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="A", source="x') OR 1=1 --"))
        uow.leads.add(Lead(id="L2", last_name="Ro", company="A", source="Web"))
        uow.commit()
    with SQLiteUnitOfWork(store) as uow:
        view = ListView("v", Condition("source", "in", ("x') OR 1=1 --",)))
        assert ids(uow.leads.select(view)) == ["L1"]
