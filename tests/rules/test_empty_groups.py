"""``All([])`` always holds and ``Any([])`` never does, on every path (issue 17)."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    LEAD_SCHEMA,
    All,
    Any,
    AssignmentRule,
    AssignmentState,
    Condition,
    FitRule,
    Lead,
    ListView,
    Not,
    Queue,
    RoundRobin,
    RuleEntry,
    ScoringModel,
    apply_view,
    assign,
    check_criterion,
    evaluate,
    from_json,
    score,
    to_json,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.testing.strategies import criteria, leads

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LEADS = [
    Lead(id=f"L{i}", last_name="Ng", company="Acme", source="Web" if i % 2 else None)
    for i in range(6)
]
ALWAYS, NEVER = All([]), Any([])


def test_an_assignment_entry_with_no_criteria_takes_every_lead():
    # Seen: RuleEntry(All([]), RoundRobin([...])) was refused ("All needs at least one").
    rule = AssignmentRule([RuleEntry(All([]), RoundRobin(["ann", "bob"]))], Queue("q"))
    state = AssignmentState()
    owners = []
    for lead in LEADS:
        result = assign(lead, rule, state, now=NOW)
        owners.append(result.owner_id)
        state = result.state
    assert owners == ["ann", "bob"] * 3


def test_empty_all_always_holds_and_empty_any_never_does():
    for lead in LEADS:
        assert evaluate(ALWAYS, lead) is True
        assert evaluate(NEVER, lead) is False
        assert ALWAYS.compile()(lead) is True
        assert NEVER.compile()(lead) is False
        assert evaluate(Not(NEVER), lead) is True
        assert evaluate(Any([NEVER, ALWAYS]), lead) is True
        assert evaluate(All([ALWAYS, NEVER]), lead) is False


def test_empty_groups_in_a_compiled_scoring_model():
    model = ScoringModel(
        fit=[FitRule("everyone", ALWAYS, 10), FitRule("no one", NEVER, 50)], bands=()
    )
    scorer = model.compile()
    for lead in LEADS:
        assert score(lead, model, now=NOW).total == 10
        assert scorer.score(lead, now=NOW).total == 10
    assert scorer.totals(LEADS, now=NOW) == [10] * len(LEADS)


def test_empty_groups_check_and_round_trip():
    assert check_criterion(ALWAYS, LEAD_SCHEMA) == ()
    assert check_criterion(Not(NEVER), LEAD_SCHEMA) == ()
    for criterion in (ALWAYS, NEVER, Not(All([NEVER]))):
        assert from_json(All | Any | Not, to_json(criterion)) == criterion  # type: ignore[arg-type]
    assert to_json(ALWAYS) == '{"kind": "all", "items": []}'


def test_list_views_with_empty_groups_in_memory_and_in_sql():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        for lead in LEADS:
            uow.leads.add(lead)
        uow.commit()
    cases = {
        ALWAYS: 6,
        NEVER: 0,
        Not(NEVER): 6,
        Not(ALWAYS): 0,
        Any([NEVER, Condition("source", "eq", "web")]): 3,
        All([ALWAYS, Condition("source", "eq", "web")]): 3,
        Any([ALWAYS, Condition("source", "eq", "web")]): 6,
    }
    with SQLiteUnitOfWork(store) as uow:
        for criterion, count in cases.items():
            view = ListView("v", criterion)
            expected = apply_view(view, LEADS)
            assert len(expected) == count, criterion
            assert [r.id for r in uow.leads.select(view)] == [r.id for r in expected]


@given(st.lists(leads(), max_size=4), criteria(max_leaves=4))
def test_empty_groups_agree_on_every_path(records, criterion):
    for wrapped in (All([criterion, ALWAYS]), Any([criterion, NEVER])):
        for lead in records:
            assert evaluate(wrapped, lead) == evaluate(criterion, lead)
            assert wrapped.compile()(lead) == evaluate(criterion, lead)


def test_empty_groups_are_translated_to_sql_not_checked_in_python():
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        for lead in LEADS:
            uow.leads.add(lead)
        uow.commit()
    decoded = []
    with SQLiteUnitOfWork(store) as uow:
        real = uow.leads._decode
        uow.leads._decode = lambda data: decoded.append(data) or real(data)
        assert uow.leads.select(ListView("none", NEVER)) == []
        assert decoded == []  # Any([]) is SQL's 0: no row left SQLite
        web = All([ALWAYS, Condition("source", "eq", "web")])
        assert len(uow.leads.select(ListView("web", web))) == 3
        assert len(decoded) == 3  # All([]) is SQL's 1: only the web rows were read
