"""Assignment rules: first match, targets, round robin, capacity, availability, purity."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    AssignmentBatch,
    AssignmentRule,
    AssignmentState,
    Condition,
    Lead,
    LoadBalanced,
    Queue,
    RoundRobin,
    RuleEntry,
    User,
    ValidationError,
    assign,
    assign_many,
    from_json,
    to_json,
)

NOW = datetime(2026, 1, 7, 10, tzinfo=UTC)  # a Wednesday
ANY = Condition("last_name", "is_not_blank")


def lead(i=1, **fields):
    return Lead(id=f"L{i}", last_name="Ng", company="Acme", **fields)


def leads(n):
    return [lead(i) for i in range(n)]


RULE = AssignmentRule(
    [
        RuleEntry(Condition("address.country", "eq", "DE"), User("berlin"), "new_lead"),
        RuleEntry(Condition("industry", "eq", "Government"), Queue("public-sector")),
        RuleEntry(Condition("source", "eq", "Web"), RoundRobin(["ann", "bob"])),
    ],
    default_owner=User("fallback"),
)


@pytest.mark.parametrize(
    ("fields", "owner", "queue", "entry"),
    [
        ({"source": "Web", "industry": "Government"}, None, "public-sector", 1),
        ({"source": "Web"}, "ann", None, 2),
        ({"industry": "Government"}, None, "public-sector", 1),
        ({}, "fallback", None, None),
    ],
)
def test_the_first_matching_entry_decides(fields, owner, queue, entry):
    result = assign(lead(**fields), RULE, AssignmentState(), now=NOW)
    assert (result.owner_id, result.queue_id, result.entry) == (owner, queue, entry)


def test_an_entry_notifies_the_new_owner_with_its_template():
    from leadmodel import Address

    result = assign(lead(address=Address(country="DE")), RULE, AssignmentState(), now=NOW)
    [notice] = result.notifications
    assert (notice.recipient, notice.template, notice.subject_id) == ("berlin", "new_lead", "L1")
    assert result.reason == "entry 1 matched: user berlin"


def test_a_queue_default_owner_and_applying_an_assignment():
    rule = AssignmentRule([], default_owner=Queue("triage"))
    result = assign(lead(), rule, AssignmentState(), now=NOW)
    assert (result.owner_id, result.queue_id) == (None, "triage")
    applied = result.apply(lead())
    assert (applied.owner_id, applied.owner_is_queue) == ("triage", True)
    user = assign(lead(), RULE, AssignmentState(), now=NOW).apply(lead())
    assert (user.owner_id, user.owner_is_queue) == ("fallback", False)


def test_do_not_reassign_keeps_the_current_owner_and_still_notifies():
    rule = AssignmentRule(
        [RuleEntry(ANY, User("new"), "hello", do_not_reassign=True)], default_owner=User("x")
    )
    kept = assign(lead(owner_id="old"), rule, AssignmentState(), now=NOW)
    assert kept.owner_id == "old"
    assert "does not reassign" in kept.reason
    assert kept.notifications[0].recipient == "old"
    assert assign(lead(), rule, AssignmentState(), now=NOW).owner_id == "new"


def test_an_unavailable_group_falls_back_to_the_default_owner_with_the_reason():
    result = assign(lead(source="Web"), RULE, AssignmentState(), now=NOW, available={"carol"})
    assert result.owner_id == "fallback"
    assert "no member of round_robin:ann,bob is available" in result.reason


def test_capacity_resets_with_the_period():
    group = LoadBalanced(["ann", "bob"], capacity=1, period="week")
    rule = AssignmentRule([RuleEntry(ANY, group)], default_owner=Queue("overflow"))
    batch = assign_many(leads(3), rule, AssignmentState(), now=NOW)
    assert [a.owner_id or a.queue_id for a in batch.assignments] == ["ann", "bob", "overflow"]
    assert "2 at capacity (1 a week)" in batch.assignments[2].reason
    next_week = assign(lead(9), rule, batch.state, now=NOW + timedelta(days=5))
    assert next_week.owner_id == "ann"
    assert batch.state.assigned(group.key, "ann", now=NOW, period="week") == 1


def test_a_backlog_cap_skips_busy_members():
    group = LoadBalanced(["ann", "bob"], capacity=10, backlog_cap=3)
    rule = AssignmentRule([RuleEntry(ANY, group)], default_owner=Queue("overflow"))
    result = assign(lead(), rule, AssignmentState(), now=NOW, backlog={"ann": 3, "bob": 1})
    assert result.owner_id == "bob"
    full = assign(lead(), rule, AssignmentState(), now=NOW, backlog={"ann": 3, "bob": 3})
    assert full.queue_id == "overflow"
    assert "2 at the backlog cap (3)" in full.reason


def test_rules_states_and_assignments_round_trip_through_json():
    rule = AssignmentRule(
        [
            RuleEntry(ANY, RoundRobin(["a", "b"], [2, 1], name="inbound"), "tpl"),
            RuleEntry(ANY, LoadBalanced(["x"], 3, "month", backlog_cap=9)),
            RuleEntry(ANY, Queue("q"), do_not_reassign=True),
        ],
        default_owner=Queue("triage"),
    )
    assert from_json(AssignmentRule, to_json(rule)) == rule
    batch = assign_many(leads(4), rule, AssignmentState(), now=NOW)
    assert from_json(AssignmentBatch, to_json(batch)) == batch
    assert from_json(AssignmentState, to_json(batch.state)) == batch.state


MEMBERS = st.lists(st.sampled_from(["ann", "bob", "cem", "dia", "eve"]), min_size=1, unique=True)


@given(MEMBERS, st.integers(1, 6))
def test_equal_weights_give_each_member_exactly_k_of_k_times_n(members, k):
    rule = AssignmentRule([RuleEntry(ANY, RoundRobin(members))], default_owner=User("x"))
    batch = assign_many(leads(k * len(members)), rule, AssignmentState(), now=NOW)
    assert Counter(a.owner_id for a in batch.assignments) == dict.fromkeys(members, k)


@given(
    MEMBERS.flatmap(
        lambda m: st.tuples(
            st.just(m), st.lists(st.integers(1, 5), min_size=len(m), max_size=len(m))
        )
    ),
    st.integers(1, 3),
)
def test_weights_are_honoured_over_every_full_cycle(members_weights, cycles):
    members, weights = members_weights
    rule = AssignmentRule([RuleEntry(ANY, RoundRobin(members, weights))], default_owner=User("x"))
    batch = assign_many(leads(cycles * sum(weights)), rule, AssignmentState(), now=NOW)
    counts = Counter(a.owner_id for a in batch.assignments)
    assert counts == {m: w * cycles for m, w in zip(members, weights, strict=True)}


@given(MEMBERS, st.integers(1, 4), st.integers(0, 30), st.sampled_from(["day", "week", "month"]))
def test_capacities_are_never_exceeded(members, capacity, n, period):
    group = LoadBalanced(members, capacity, period)
    rule = AssignmentRule([RuleEntry(ANY, group)], default_owner=Queue("overflow"))
    batch = assign_many(leads(n), rule, AssignmentState(), now=NOW)
    counts = Counter(a.owner_id for a in batch.assignments if a.owner_id)
    assert all(count <= capacity for count in counts.values())
    assert sum(counts.values()) == min(n, capacity * len(members))


@given(MEMBERS, MEMBERS, st.integers(0, 20), st.booleans())
def test_an_unavailable_member_never_receives_a_lead(members, available, n, balanced):
    target = LoadBalanced(members, 3) if balanced else RoundRobin(members)
    rule = AssignmentRule([RuleEntry(ANY, target)], default_owner=Queue("overflow"))
    batch = assign_many(leads(n), rule, AssignmentState(), now=NOW, available=set(available))
    assert all(a.owner_id in available for a in batch.assignments if a.owner_id)


@given(MEMBERS, st.integers(0, 12), st.integers(0, 12))
def test_the_same_inputs_and_state_give_the_same_assignment(members, before, n):
    rule = AssignmentRule(
        [RuleEntry(Condition("source", "eq", "Web"), RoundRobin(members))],
        default_owner=User("x"),
    )
    state = assign_many(leads(before), rule, AssignmentState(), now=NOW).state
    batch = assign_many([lead(i, source="Web") for i in range(n)], rule, state, now=NOW)
    assert assign_many([lead(i, source="Web") for i in range(n)], rule, state, now=NOW) == batch
    # A batch is the same as assigning one lead at a time.
    current = state
    for expected, item in zip(
        batch.assignments, [lead(i, source="Web") for i in range(n)], strict=True
    ):
        single = assign(item, rule, current, now=NOW)
        assert single == expected
        current = single.state


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: RoundRobin([]), "type"),
        (lambda: RoundRobin(["a", "a"]), "duplicate"),
        (lambda: RoundRobin(["a", "b"], [1]), "length"),
        (lambda: RoundRobin(["a"], [0]), "type"),
        (lambda: RoundRobin(["a"], [True]), "type"),
        (lambda: LoadBalanced(["a"], 0), "out_of_range"),
        (lambda: LoadBalanced(["a"], 1, "year"), "invalid"),
        (lambda: LoadBalanced(["a"], 1, backlog_cap=-1), "out_of_range"),
        (lambda: User(""), "blank"),
        (lambda: Queue("q\n"), "control_character"),
        (lambda: RuleEntry("source = Web", User("a")), "type"),
        (lambda: RuleEntry(ANY, "ann"), "type"),
        (lambda: AssignmentRule([RuleEntry(ANY, User("a"))], default_owner="ann"), "type"),
        (lambda: AssignmentRule(["entry"], default_owner=User("a")), "type"),
        (
            lambda: AssignmentRule(
                [
                    RuleEntry(ANY, RoundRobin(["a"], name="g")),
                    RuleEntry(ANY, RoundRobin(["b"], name="g")),
                ],
                default_owner=User("a"),
            ),
            "duplicate",
        ),
    ],
)
def test_invalid_rules_are_refused_with_a_code(build, code):
    with pytest.raises(ValidationError) as caught:
        build()
    assert code in [e.code for e in caught.value.errors]


@pytest.mark.parametrize(
    "call",
    [
        lambda: assign(None, RULE, AssignmentState(), now=NOW),
        lambda: assign(lead(), "rule", AssignmentState(), now=NOW),
        lambda: assign(lead(), RULE, {}, now=NOW),
        lambda: assign(lead(), RULE, AssignmentState(), now=datetime(2026, 1, 1)),  # noqa: DTZ001
        lambda: assign(lead(), RULE, AssignmentState(), now=NOW, available="ann"),
        lambda: assign(lead(), RULE, AssignmentState(), now=NOW, backlog={"ann": -1}),
        lambda: assign_many("leads", RULE, AssignmentState(), now=NOW),
        lambda: assign_many([lead(), "L2"], RULE, AssignmentState(), now=NOW),
        lambda: AssignmentState(rounds=["x"]),
    ],
)
def test_bad_arguments_raise_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


def test_assignment_does_not_mutate_its_arguments():
    state = assign_many(leads(3), RULE, AssignmentState(), now=NOW).state
    snapshot = to_json(state)
    assign(lead(source="Web"), RULE, state, now=NOW)
    assert to_json(state) == snapshot
    assert attrs.evolve(state) == state
