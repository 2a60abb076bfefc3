"""Bounded blocks (issue 16): a block over the rule's key_cap is compared with a
sorted-neighbourhood window, in find_duplicates, DuplicateIndex and capture against a store."""

import hashlib
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_ACCOUNT_RULE,
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    BlockingKey,
    DedupeRun,
    DuplicateAction,
    DuplicateIndex,
    DuplicatePolicy,
    EmailAddress,
    FieldMatcher,
    Lead,
    MatchingRule,
    OversizedBlock,
    PhoneNumber,
    ValidationError,
    find_duplicates,
    find_duplicates_report,
    from_dict,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.rules.dedupe import _PASSES, _block, _block_pairs, _ordering, _sort_keys
from leadmodel.rules.matching import DEFAULT_KEY_CAP, DEFAULT_WINDOW
from leadmodel.services import CaptureConfig, _candidates, capture_lead

FIXTURES = Path(__file__).parent.parent / "fixtures" / "release-5ff17be"
SWITCHBOARD = "+14155550100"
PHONE_ONLY = MatchingRule(
    "phone_block",
    [
        FieldMatcher("first_name", ("exact", "jaro_winkler", "name_variant"), threshold=85),
        FieldMatcher("last_name", ("exact", "jaro_winkler"), threshold=90),
        FieldMatcher("phone", ("exact",)),
    ],
    blocking=[BlockingKey(("phone",))],
    key_cap=50,
    window=3,
)


@pytest.fixture
def long(request):
    return request.config.getoption("--long")


def made_up(number, salt):
    """A name unlike the others (names with digits would all look alike to the matchers)."""
    digest = hashlib.sha256(f"{salt}{number}".encode()).digest()
    return "".join(chr(ord("a") + byte % 26) for byte in digest[:8]).capitalize()


def switchboard(people, *, every=10):
    """*people* colleagues sharing one phone, and a duplicate of every *every*-th of them.

    Duplicates are an exact copy (case changed), the names swapped, or a one-letter typo
    in the last name. Returns the leads and the true duplicate pairs.
    """
    phone = PhoneNumber.parse(SWITCHBOARD)
    leads, truth = [], set()
    for number in range(people):
        first, last = made_up(number, "first"), made_up(number, "last")
        person = Lead(
            id=f"P{number:06d}",
            first_name=first,
            last_name=last,
            company="Acme",
            phone=phone,
            email=EmailAddress.parse(f"{first}.{last}@acme.com"),
        )
        leads.append(person)
        if every and number % every == 0:
            variant = number // every % 3
            if variant == 0:
                twin = attrs.evolve(person, first_name=first.upper(), last_name=last.lower())
            elif variant == 1:
                twin = attrs.evolve(person, first_name=last, last_name=first)
            else:
                twin = attrs.evolve(person, last_name=last[:-1])
            twin = attrs.evolve(twin, id=f"D{number:06d}", email=None)
            leads.append(twin)
            truth.add((person.id, twin.id) if person.id < twin.id else (twin.id, person.id))
    return leads, truth


def found_pairs(groups):
    return {(a, b) for group in groups for a in group.ids for b in group.ids if a < b}


def bound(rule, records):
    """The documented bound: Σ over keys of size·(size−1)/2 within the cap, else
    2·size·(window−1)."""
    compiled = rule.compile()
    _, buckets = _block(compiled, list(records), None)
    total = 0
    for members in buckets.values():
        size = len(members)
        if rule.key_cap is None or size <= rule.key_cap:
            total += size * (size - 1) // 2
        else:
            total += _PASSES * size * (rule.window - 1)
    return total


# -- the policy on the rule ------------------------------------------------------------


class TestPolicy:
    def test_every_preset_is_bounded(self):
        for rule in (STANDARD_LEAD_RULE, STANDARD_CONTACT_RULE, STANDARD_ACCOUNT_RULE):
            assert (rule.key_cap, rule.window) == (DEFAULT_KEY_CAP, DEFAULT_WINDOW)
        assert (EXACT_EMAIL_OR_PHONE.key_cap, EXACT_EMAIL_OR_PHONE.window) == (20, 2)

    def test_the_default_is_bounded_and_no_cap_is_allowed_when_asked(self):
        rule = MatchingRule("r", [FieldMatcher("email")])
        assert (rule.key_cap, rule.window) == (DEFAULT_KEY_CAP, DEFAULT_WINDOW)
        assert MatchingRule("r", [FieldMatcher("email")], key_cap=None).key_cap is None

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("window", 1),
            ("window", 0),
            ("window", -3),
            ("window", 10_001),
            ("window", True),
            ("window", "3"),
            ("window", 2.5),
            ("window", None),
            ("key_cap", 1),
            ("key_cap", "50"),
            ("key_cap", 10**10),
        ],
    )
    def test_bad_policy_values_are_refused(self, field, value):
        with pytest.raises(ValidationError) as caught:
            MatchingRule("r", [FieldMatcher("email")], **{field: value})
        assert [error.path for error in caught.value.errors] == [field]

    def test_the_policy_round_trips_through_json(self):
        rule = attrs.evolve(STANDARD_LEAD_RULE, key_cap=7, window=5)
        assert from_json(MatchingRule, to_json(rule)) == rule
        document = json.loads(to_json(rule))
        assert (document["key_cap"], document["window"]) == (7, 5)

    def test_json_without_a_window_is_refused_never_when_it_is_from_the_previous_release(self):
        text = (FIXTURES / "matching_rule.json").read_text(encoding="utf-8")
        assert "window" not in json.loads(text)
        rule = from_json(MatchingRule, text)
        assert (rule.key_cap, rule.window) == (50, DEFAULT_WINDOW)  # the cap now bounds blocks
        document = json.loads(text)
        document["window"] = 1
        with pytest.raises(ValidationError):
            from_json(MatchingRule, json.dumps(document))


# -- find_duplicates and its report ------------------------------------------------------


class TestReport:
    def test_an_oversized_block_is_reported_and_its_duplicates_found(self):
        leads, truth = switchboard(300)
        run = find_duplicates_report(leads, PHONE_ONLY)
        assert isinstance(run, DedupeRun)
        assert run.records == len(leads)
        assert [(b.key, b.size, b.method, b.window) for b in run.oversized] == [
            (f"phone_block#1:{SWITCHBOARD}", len(leads), "sorted_neighbourhood", 3)
        ]
        assert truth <= found_pairs(run.groups)
        assert run.comparisons <= bound(PHONE_ONLY, leads) == 2 * len(leads) * 2
        assert run.candidate_pairs == run.oversized[0].pairs >= run.comparisons
        assert run.matches == sum(len(group.edges) for group in run.groups)

    def test_find_duplicates_returns_the_reports_groups(self):
        leads, _ = switchboard(120)
        assert find_duplicates(leads, PHONE_ONLY) == list(
            find_duplicates_report(leads, PHONE_ONLY).groups
        )

    def test_without_a_cap_every_pair_is_compared_and_nothing_is_oversized(self):
        leads, truth = switchboard(60)
        rule = attrs.evolve(PHONE_ONLY, key_cap=None)
        run = find_duplicates_report(leads, rule)
        assert run.oversized == ()
        assert run.comparisons == len(leads) * (len(leads) - 1) // 2
        assert truth <= found_pairs(run.groups)

    def test_the_report_round_trips_through_json(self):
        leads, _ = switchboard(80)
        run = find_duplicates_report(leads, PHONE_ONLY)
        assert run.groups
        assert run.oversized
        assert from_json(DedupeRun, to_json(run)) == run
        block = run.oversized[0]
        assert from_json(OversizedBlock, to_json(block)) == block

    def test_bad_input_is_a_validation_error(self):
        for records, rule in (
            (None, PHONE_ONLY),
            ("text", PHONE_ONLY),
            ([{"id": "1"}], "rule"),
            ([{"id": "1"}, {"id": "1"}], PHONE_ONLY),
            ([{"name": "no id"}], PHONE_ONLY),
        ):
            with pytest.raises(ValidationError):
                find_duplicates_report(records, rule)
        with pytest.raises(ValidationError):
            find_duplicates_report([], PHONE_ONLY, progress="not callable")
        with pytest.raises(ValidationError):
            OversizedBlock(key=3, size="many")
        with pytest.raises(ValidationError):
            DedupeRun(groups="none")

    def test_empty_input_reports_nothing(self):
        assert find_duplicates_report([], STANDARD_LEAD_RULE) == DedupeRun(groups=())


# -- what was seen (issue 16) ------------------------------------------------------------


class TestWhatWasSeen:
    def test_3000_leads_sharing_a_switchboard_phone_stay_linear(self):
        # 2,000 took 23–36 s with STANDARD_LEAD_RULE: every pair of the block was compared.
        leads, truth = switchboard(3000)
        run = find_duplicates_report(leads, STANDARD_LEAD_RULE)
        assert truth <= found_pairs(run.groups)
        assert run.comparisons <= bound(STANDARD_LEAD_RULE, leads)
        assert run.comparisons < 10 * len(leads)  # was len(leads)**2 / 2 = 5 million
        assert f"standard_lead#2:{SWITCHBOARD}" in [block.key for block in run.oversized]

    def test_the_true_duplicates_inside_a_block_are_found_by_its_window_alone(self):
        leads, truth = switchboard(3000)
        run = find_duplicates_report(leads, PHONE_ONLY)
        assert truth <= found_pairs(run.groups)
        assert run.comparisons <= 4 * len(leads)

    def test_25_records_with_one_email_are_grouped_not_dropped(self):
        records = [{"id": f"{i:02d}", "email": "user@acme.com"} for i in range(25)]
        run = find_duplicates_report(records, EXACT_EMAIL_OR_PHONE)
        assert [group.ids for group in run.groups] == [tuple(f"{i:02d}" for i in range(25))]
        assert [(b.size, b.method) for b in run.oversized] == [(25, "sorted_neighbourhood")]

    def test_capture_against_a_store_reads_a_bounded_neighbourhood(self):
        leads, _ = switchboard(3000, every=0)
        for make in (memory_units, sqlite_units):
            units = make(leads)
            probe = attrs.evolve(leads[1234], id="NEW")
            with units() as uow:
                rule = STANDARD_LEAD_RULE
                found = _candidates(uow, (uow.leads, uow.contacts), probe, (rule,))
            assert leads[1234] in found  # the copy's original sorts next to it
            assert len(found) <= 2 * rule.key_cap * len(rule.blocking)

    def test_capture_attaches_a_copy_inside_a_3000_lead_block(self):
        leads, _ = switchboard(3000, every=0)
        original = leads[2024]
        form = {
            "first_name": original.first_name,
            "last_name": original.last_name,
            "company": "Acme",
            "phone": SWITCHBOARD,
        }
        policy = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT)
        config = CaptureConfig(duplicates=policy, attach_duplicates=True)
        for make in (memory_units, sqlite_units):
            result = capture_lead(
                make(leads)(), form, config, ids=SequentialIds(prefix="c"), now=NOW
            )
            assert (result.status, result.attached_to) == ("attached", original.id)

    def test_a_rule_without_a_cap_reads_every_record_under_its_keys(self):
        leads, _ = switchboard(200, every=0)
        units = memory_units(leads)
        rule = attrs.evolve(STANDARD_LEAD_RULE, key_cap=None)
        with units() as uow:
            found = _candidates(uow, (uow.leads,), attrs.evolve(leads[0], id="NEW"), (rule,))
        assert len(found) == 200

    def test_a_store_without_find_neighbours_still_finds_the_copy(self):
        leads, _ = switchboard(200, every=0)
        units = memory_units(leads)
        with units() as uow:
            plain = PlainRepository(uow.leads)
            found = _candidates(
                uow, (plain,), attrs.evolve(leads[7], id="NEW"), (STANDARD_LEAD_RULE,)
            )
        assert len(found) == 200
        assert leads[7] in found

    def test_long_20000_leads_in_one_block_and_capture_against_10000(self, long):
        if not long:
            pytest.skip("--long")
        leads, truth = switchboard(20_000)
        run = find_duplicates_report(leads, STANDARD_LEAD_RULE)
        assert truth <= found_pairs(run.groups)
        assert run.comparisons <= bound(STANDARD_LEAD_RULE, leads)
        base, _ = switchboard(10_000, every=0)
        for make in (memory_units, sqlite_units):
            units = make(base)
            with units() as uow:
                probe = attrs.evolve(base[5000], id="NEW")
                found = _candidates(uow, (uow.leads,), probe, (STANDARD_LEAD_RULE,))
            assert base[5000] in found
            assert len(found) <= 2 * DEFAULT_KEY_CAP * len(STANDARD_LEAD_RULE.blocking)


NOW = datetime(2026, 4, 6, 9, tzinfo=UTC)


class PlainRepository:
    """A host repository with find_by_keys only (no SupportsNeighbours)."""

    def __init__(self, inner):
        self._inner = inner

    def find_by_keys(self, keys):
        return self._inner.find_by_keys(keys)


def memory_units(leads):
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        uow.index_rules([STANDARD_LEAD_RULE])
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    return lambda: MemoryUnitOfWork(store)


def sqlite_units(leads):
    store = SQLiteStore(":memory:")
    with SQLiteUnitOfWork(store) as uow:
        uow.index_rules([STANDARD_LEAD_RULE])
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    return lambda: SQLiteUnitOfWork(store)


# -- DuplicateIndex ----------------------------------------------------------------------


class TestIndex:
    def test_an_oversized_key_gives_a_window_of_candidates(self):
        leads, truth = switchboard(400)
        index = DuplicateIndex(PHONE_ONLY, leads)
        assert index.oversized() == {f"phone_block#1:{SWITCHBOARD}": len(leads)}
        for lead in leads[::37]:
            assert len(index.candidates(lead)) <= _PASSES * 2 * (PHONE_ONLY.window - 1)
        for a, b in sorted(truth):
            twin = next(lead for lead in leads if lead.id == b)
            assert a in [edge.b_id for edge in index.matches(twin)]

    def test_a_new_record_without_id_meets_its_copy(self):
        leads, _ = switchboard(400, every=0)
        index = DuplicateIndex(STANDARD_LEAD_RULE, leads)
        probe = {
            "first_name": leads[99].first_name,
            "last_name": leads[99].last_name,
            "company": "Acme",
            "phone": SWITCHBOARD,
        }
        assert [edge.b_id for edge in index.matches(probe)] == [leads[99].id]

    def test_removing_below_the_cap_compares_the_block_pair_by_pair_again(self):
        leads, _ = switchboard(60, every=0)
        index = DuplicateIndex(PHONE_ONLY, leads)
        assert index.oversized()
        for lead in leads[:15]:
            index.remove(lead.id)
        assert index.oversized() == {}
        assert len(index.candidates(leads[20])) == 44

    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("ghij")), max_size=40),
        st.lists(st.integers(0, 39), max_size=15),
        st.lists(st.tuples(st.integers(0, 39), st.sampled_from("abcdef")), max_size=10),
        st.integers(2, 4),
    )
    def test_candidates_are_the_window_in_each_order_after_any_edits(
        self, names, removed, renamed, window
    ):
        rule = attrs.evolve(PHONE_ONLY, key_cap=5, window=window)
        records = {
            f"r{i:02d}": {"id": f"r{i:02d}", "first_name": a, "last_name": b, "phone": SWITCHBOARD}
            for i, (a, b) in enumerate(names)
        }
        index = DuplicateIndex(rule, records.values())
        for i in removed:
            rid = f"r{i:02d}"
            if rid in index:
                index.remove(rid)
                del records[rid]
        for i, first in renamed:
            rid = f"r{i:02d}"
            if rid in index:
                records[rid] = {**records[rid], "first_name": first}
                index.update(records[rid])
        compiled = rule.compile()
        prepared = {rid: compiled.prepare(record) for rid, record in records.items()}
        for rid, record in records.items():
            if len(records) <= rule.key_cap:
                expected = set(records) - {rid}
            else:
                expected = set()
                names_at = _ordering(compiled)
                for order in range(_PASSES):
                    ranked = sorted(
                        records, key=lambda r: (_sort_keys(prepared[r], names_at)[order], r)
                    )
                    at = ranked.index(rid)
                    expected |= set(ranked[max(at - window + 1, 0) : at + window]) - {rid}
            assert set(index.candidates(record)) == expected


# -- properties --------------------------------------------------------------------------

people = st.lists(
    st.tuples(
        st.sampled_from(["ann", "bob", "cyd", "dee"]), st.sampled_from(["lee", "ng", "ortiz"])
    ),
    min_size=0,
    max_size=30,
)
SMALL_CAP = attrs.evolve(PHONE_ONLY, key_cap=4, window=2)


def to_records(pairs):
    return [
        {"id": f"x{i:02d}", "first_name": first, "last_name": last, "phone": SWITCHBOARD}
        for i, (first, last) in enumerate(pairs)
    ]


class TestProperties:
    @settings(max_examples=40, deadline=None)
    @given(people, st.randoms(use_true_random=False))
    def test_groups_do_not_depend_on_input_order(self, pairs, rng):
        records = to_records(pairs)
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert find_duplicates_report(shuffled, SMALL_CAP) == find_duplicates_report(
            records, SMALL_CAP
        )

    @settings(max_examples=40, deadline=None)
    @given(people, st.integers(0, 29))
    def test_a_copy_of_a_record_groups_with_it_inside_an_oversized_block(self, pairs, which):
        records = to_records(pairs)
        if not records:
            return
        original = records[which % len(records)]
        records.append({**original, "id": "copy"})
        groups = find_duplicates(records, SMALL_CAP)
        assert any({"copy", original["id"]} <= set(group.ids) for group in groups)

    @settings(max_examples=40, deadline=None)
    @given(people, st.integers(2, 5), st.integers(2, 6))
    def test_comparisons_stay_within_the_documented_bound(self, pairs, cap, window):
        rule = attrs.evolve(PHONE_ONLY, key_cap=cap, window=window)
        records = to_records(pairs)
        run = find_duplicates_report(records, rule)
        assert run.comparisons <= bound(rule, records)
        assert run.comparisons <= run.candidate_pairs

    @settings(max_examples=40, deadline=None)
    @given(people, st.integers(2, 5))
    def test_nothing_is_dropped_every_member_meets_its_neighbours(self, pairs, window):
        rule = attrs.evolve(PHONE_ONLY, key_cap=3, window=window)
        compiled = rule.compile()
        records = sorted(to_records(pairs), key=lambda r: r["id"])
        prepared, buckets = _block(compiled, records, None)
        pairs_compared, oversized, _ = _block_pairs(compiled, prepared, buckets)
        for members in buckets.values():
            if len(members) <= 3:
                assert all((a, b) in pairs_compared for a in members for b in members if a < b)
                continue
            for order in range(_PASSES):
                ranked = sorted(
                    members, key=lambda i: (_sort_keys(prepared[i], _ordering(compiled))[order], i)
                )
                for x, first in enumerate(ranked[:-1]):
                    for second in ranked[x + 1 : x + window]:
                        assert (min(first, second), max(first, second)) in pairs_compared
        assert len(oversized) == sum(1 for m in buckets.values() if len(m) > 3)


def test_shuffled_big_block_gives_the_same_report():
    leads, _ = switchboard(500)
    shuffled = leads[:]
    random.Random(5).shuffle(shuffled)  # noqa: S311 - a fixed shuffle, not a secret
    assert find_duplicates_report(shuffled, STANDARD_LEAD_RULE) == find_duplicates_report(
        leads, STANDARD_LEAD_RULE
    )


def test_a_database_of_the_previous_release_gets_its_sort_values(tmp_path):
    """Opening a schema-1 file migrates it: every key row gets its record's sort value."""
    import shutil
    import sqlite3

    from leadmodel.ports import neighbour_sort_value

    copy = tmp_path / "old.db"
    shutil.copyfile(FIXTURES.parent / "release-5ff17be.db", copy)
    with SQLiteStore(copy) as store, SQLiteUnitOfWork(store) as uow:
        leads = list(uow.leads)
        assert leads
        key = next(f"email:{lead.email}" for lead in leads if lead.email is not None)
        found = uow.leads.find_neighbours([key], "", 1, whole=1)
        assert found
        assert {lead.id for lead in found} <= {lead.id for lead in leads}
    connection = sqlite3.connect(copy)
    try:
        rows = connection.execute(
            "SELECT k.sort, r.data FROM lookup_keys k JOIN lead_records r ON r.id = k.id "
            "WHERE k.kind = 'lead'"
        ).fetchall()
    finally:
        connection.close()
    assert rows
    for sort, data in rows:
        assert sort == neighbour_sort_value(from_dict(Lead, json.loads(data)))
    assert any(sort for sort, _ in rows)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.sampled_from(["Ng", "Lee", "Ito", "Kim", "Ma", "Wu", "Ortiz"]), max_size=45),
    st.sampled_from(["", "kim", "lee\x1facme", "zz", "m"]),
    st.integers(1, 4),
    st.sampled_from([None, 1, 10, 40]),
)
def test_find_neighbours_is_the_nearest_by_sort_value_in_both_adapters(names, near, limit, whole):
    from leadmodel.ports import neighbour_sort_value

    phone = PhoneNumber.parse(SWITCHBOARD)
    leads = [
        Lead(id=f"L{i:02d}", last_name=name, company="Acme", phone=phone)
        for i, name in enumerate(names)
    ]
    ranked = sorted(leads, key=lambda lead: (neighbour_sort_value(lead), lead.id))
    if len(leads) <= max(2 * limit, whole or 0):
        expected = {lead.id for lead in leads}
    else:
        at = sum(1 for lead in ranked if neighbour_sort_value(lead) < near)
        expected = {lead.id for lead in ranked[max(at - limit, 0) : at + limit]}
    for units in (memory_units(leads), sqlite_units(leads)):
        with units() as uow:
            found = uow.leads.find_neighbours([f"phone:{SWITCHBOARD}"], near, limit, whole=whole)
        assert [lead.id for lead in found] == sorted(expected)
