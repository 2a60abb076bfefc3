"""Engine-neutral dedupe (issue 19): blocking_keys + compare_block + cluster_edges give
exactly find_duplicates, groups and edges, whatever the order of records and blocks."""

from collections import defaultdict

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    DuplicateGroup,
    MatchEdge,
    ValidationError,
    blocking_keys,
    cluster_edges,
    compare_block,
    find_duplicates,
)
from leadmodel.testing.strategies import leads

RULES = [
    STANDARD_LEAD_RULE,
    EXACT_EMAIL_OR_PHONE,
    # Small caps, so generated blocks are oversized (sorted neighbourhood) too.
    attrs.evolve(STANDARD_LEAD_RULE, key_cap=2),
    attrs.evolve(EXACT_EMAIL_OR_PHONE, key_cap=2),
]


def _pool(*values):
    return st.sampled_from(values)


records_ = st.fixed_dictionaries(
    {
        "first_name": _pool("Ann", "Anne", "Bob", "Robert", "Lee", None),
        "last_name": _pool("Lee", "Li", "Smith", "Smyth", "Ann"),
        "company": _pool("Acme", "Acme Inc.", "Globex", "A|b", "A\\|b", "A\\", None),
        "title": _pool("CEO", "ceo", None),
        "email": _pool("a@x.com", "A@x.com", "b@y.com", None),
        "phone": _pool("+14155550100", "(415) 555-0100", "+14155550199", None),
    }
)


@st.composite
def tables(draw):
    rows = draw(st.lists(records_, max_size=14))
    ids = draw(
        st.lists(
            st.text(min_size=1, max_size=3), min_size=len(rows), max_size=len(rows), unique=True
        )
    )
    records = [dict(row, id=rid) for row, rid in zip(rows, ids, strict=True)]
    entities = draw(st.lists(leads(), max_size=3, unique_by=lambda lead: lead.id))
    taken = set(ids)
    return records + [e for e in entities if e.id not in taken]


def _by_blocks(records, rule, random):
    compiled = rule.compile()
    blocks = defaultdict(list)
    for record in records:
        for key in blocking_keys(record, compiled):
            blocks[key].append(record)
    members = list(blocks.values())
    random.shuffle(members)
    edges = [edge for block in members for edge in compare_block(block, compiled)]
    random.shuffle(edges)
    ids = [r["id"] if isinstance(r, dict) else r.id for r in records]
    random.shuffle(ids)
    return list(cluster_edges(ids, edges))


@settings(max_examples=60, deadline=None)
@given(tables(), st.sampled_from(RULES), st.randoms(use_true_random=False))
def test_blocks_give_exactly_find_duplicates(records, rule, random):
    expected = find_duplicates(records, rule)
    shuffled = list(records)
    random.shuffle(shuffled)
    assert _by_blocks(shuffled, rule, random) == expected


@settings(max_examples=30, deadline=None)
@given(tables(), st.randoms(use_true_random=False))
def test_compare_block_ignores_record_order(records, random):
    shuffled = list(records)
    random.shuffle(shuffled)
    rule = RULES[2]
    assert compare_block(records, rule) == compare_block(shuffled, rule)


def test_keys_with_separator_characters_stay_apart():
    rule = attrs.evolve(STANDARD_LEAD_RULE, blocking=[attrs.evolve(STANDARD_LEAD_RULE.blocking[4])])
    a = {"id": "1", "first_name": "ann", "title": "x|y", "company": "z"}
    b = {"id": "2", "first_name": "ann", "title": "x", "company": "y|z"}
    assert blocking_keys(a, rule) != blocking_keys(b, rule)


def test_small_blocks():
    assert compare_block([], STANDARD_LEAD_RULE) == ()
    assert compare_block([{"id": "1", "email": "a@x.com"}], EXACT_EMAIL_OR_PHONE) == ()
    assert cluster_edges([], []) == ()
    assert cluster_edges(["1", "2"], []) == ()


def _edge():
    records = [{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "a@x.com"}]
    (edge,) = compare_block(records, EXACT_EMAIL_OR_PHONE)
    return edge


def test_duplicate_edges_are_kept_once():
    edge = _edge()
    assert cluster_edges(["2", "1"], [edge, edge]) == (
        DuplicateGroup(ids=("1", "2"), edges=(edge,)),
    )


@pytest.mark.parametrize(
    ("ids", "edges", "code"),
    [
        ("12", [], "type"),
        ([1, 2], [], "type"),
        (["1", "1"], [], "duplicate_id"),
        (["1", "2"], ["edge"], "type"),
        (["1"], "edges", "type"),
        (["1", "3"], "E", "type"),
        (["1", "3"], [None], "type"),
        (["1", "3"], ["E"], "type"),
        (["1", "3"], [0], "type"),
    ],
)
def test_cluster_edges_refuses_bad_input(ids, edges, code):
    with pytest.raises(ValidationError) as caught:
        cluster_edges(ids, edges)
    assert caught.value.errors[0].code == code


def test_cluster_edges_refuses_unknown_and_reversed_edges():
    edge = _edge()
    with pytest.raises(ValidationError) as caught:
        cluster_edges(["1"], [edge])
    assert caught.value.errors[0].code == "unknown_id"
    reversed_ = MatchEdge(edge.b_id, edge.a_id, edge.result)
    with pytest.raises(ValidationError) as caught:
        cluster_edges(["1", "2"], [reversed_])
    assert caught.value.errors[0].code == "order"


def test_bad_rule_and_records_are_refused():
    with pytest.raises(ValidationError):
        blocking_keys({"id": "1"}, "standard")
    with pytest.raises(ValidationError):
        compare_block([{"id": "1"}], None)
    with pytest.raises(ValidationError):
        compare_block("records", STANDARD_LEAD_RULE)
    with pytest.raises(ValidationError):
        compare_block([{"id": "1"}, {"id": "1"}], STANDARD_LEAD_RULE)
