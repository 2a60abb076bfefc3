import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    DuplicateIndex,
    EmailAddress,
    Lead,
    PhoneNumber,
    RecordExists,
    RecordNotFound,
    ValidationError,
    find_duplicates,
    from_json,
    to_json,
)
from leadmodel.rules.dedupe import DuplicateGroup
from leadmodel.testing.strategies import leads


def lead(lead_id, first, last, company="Acme", *, email=None, phone=None):
    return Lead(
        id=lead_id,
        first_name=first,
        last_name=last,
        company=company,
        email=EmailAddress.parse(email) if email else None,
        phone=PhoneNumber.parse(phone) if phone else None,
    )


SAMPLE = [
    lead("L5", "Bob", "Smith", email="bob@acme.com"),
    lead("L2", "Robert", "Smith", company="ACME Inc.", email="BOB@acme.com"),
    lead("L9", "Bobby", "Smyth", phone="+1 415 555 1234"),
    lead("L3", "Rob", "Smith", phone="(415) 555-1234"),
    lead("L1", "Ann", "Lee", company="Globex", email="ann@globex.com"),
    lead("L4", "Anne", "Lee", company="Globex Corporation", email="ann@globex.com"),
    lead("L7", "Zed", "Zulu", company="Initech"),
]


class TestFindDuplicates:
    def test_groups_transitive_matches(self):
        groups = find_duplicates(SAMPLE, STANDARD_LEAD_RULE)
        assert [g.ids for g in groups] == [("L1", "L4"), ("L2", "L5"), ("L3", "L9")]
        assert groups[2].edges[0].result.clause == "first_name AND last_name AND company AND phone"
        assert [(e.a_id, e.b_id) for e in groups[0].edges] == [("L1", "L4")]
        assert groups[0].edges[0].result.clause == "first_name AND last_name AND email"

    def test_accepts_mappings(self):
        records = [
            {"id": "1", "email": "Ann@Acme.com"},
            {"id": "2", "email": "ann@acme.com"},
            {"id": "3", "email": "carl@gmail.com"},
        ]
        assert [g.ids for g in find_duplicates(records, EXACT_EMAIL_OR_PHONE)] == [("1", "2")]

    def test_a_key_over_the_cap_is_windowed_not_dropped(self):
        # Issue 16: 25 records with one email address were not grouped at all.
        records = [{"id": str(i), "email": "user@acme.com"} for i in range(25)]
        groups = find_duplicates(records, EXACT_EMAIL_OR_PHONE)
        assert [len(group.ids) for group in groups] == [25]
        assert len(find_duplicates(records[:20], EXACT_EMAIL_OR_PHONE)) == 1

    def test_reports_progress(self):
        calls = []
        find_duplicates(SAMPLE, STANDARD_LEAD_RULE, progress=lambda *args: calls.append(args))
        assert calls[0] == ("prepare", 7, 7)
        assert calls[-1][0] == "compare"

    def test_refuses_repeated_or_missing_ids(self):
        with pytest.raises(ValidationError, match="repeated"):
            find_duplicates([SAMPLE[0], SAMPLE[0]], STANDARD_LEAD_RULE)
        with pytest.raises(ValidationError):
            find_duplicates([{"email": "a@b.com"}], EXACT_EMAIL_OR_PHONE)

    def test_refuses_bad_arguments(self):
        with pytest.raises(ValidationError):
            find_duplicates("records", STANDARD_LEAD_RULE)
        with pytest.raises(ValidationError):
            find_duplicates(SAMPLE, "standard")  # type: ignore[arg-type]

    def test_empty_input_has_no_groups(self):
        assert find_duplicates([], STANDARD_LEAD_RULE) == []

    def test_records_without_keys_are_never_grouped(self):
        assert find_duplicates([{"id": "1"}, {"id": "2"}], STANDARD_LEAD_RULE) == []

    def test_groups_round_trip_through_json(self):
        group = find_duplicates(SAMPLE, STANDARD_LEAD_RULE)[0]
        assert from_json(DuplicateGroup, to_json(group)) == group


@given(st.lists(leads(), max_size=12, unique_by=lambda lead: lead.id), st.randoms())
def test_groups_do_not_depend_on_input_order(records, random):
    # Duplicate a few records under new ids so there is something to find.
    import attrs

    records = records + [attrs.evolve(r, id=r.id + "-dup") for r in records[:4]]
    shuffled = list(records)
    random.shuffle(shuffled)
    assert find_duplicates(records, STANDARD_LEAD_RULE) == find_duplicates(
        shuffled, STANDARD_LEAD_RULE
    )


@given(st.lists(leads(), max_size=10, unique_by=lambda lead: lead.id))
def test_groups_are_sorted_and_never_single(records):
    groups = find_duplicates(records, STANDARD_LEAD_RULE)
    assert [g.ids for g in groups] == sorted(g.ids for g in groups)
    for group in groups:
        assert len(group.ids) >= 2
        assert list(group.ids) == sorted(group.ids)
        assert all(edge.a_id < edge.b_id for edge in group.edges)


class TestDuplicateIndex:
    def test_matches_are_ranked(self):
        index = DuplicateIndex(STANDARD_LEAD_RULE, SAMPLE)
        query = lead("new", "Robert", "Smith", email="bob@acme.com", phone="+14155551234")
        found = index.matches(query)
        assert [m.b_id for m in found] == ["L2", "L3", "L5", "L9"]
        assert all(m.a_id == "new" for m in found)
        assert index.matches(query, limit=1)[0].b_id == "L2"

    def test_a_query_without_id(self):
        index = DuplicateIndex(EXACT_EMAIL_OR_PHONE, [{"id": "1", "phone": "+14155551234"}])
        assert [(m.a_id, m.b_id) for m in index.matches({"phone": "415-555-1234"})] == [("", "1")]

    def test_add_remove_update(self):
        index = DuplicateIndex(STANDARD_LEAD_RULE)
        index.add(SAMPLE[0])
        assert len(index) == 1
        assert "L5" in index
        with pytest.raises(RecordExists):
            index.add(SAMPLE[0])
        query = lead("q", "Bob", "Smith", email="bob@acme.com")
        assert [m.b_id for m in index.matches(query)] == ["L5"]
        index.update(lead("L5", "Bob", "Smith", email="other@acme.com"))
        assert index.matches(query) == []
        index.remove("L5")
        assert len(index) == 0
        with pytest.raises(RecordNotFound):
            index.remove("L5")
        with pytest.raises(RecordNotFound):
            index.update(SAMPLE[0])

    def test_the_record_itself_is_not_its_own_match(self):
        index = DuplicateIndex(STANDARD_LEAD_RULE, SAMPLE)
        assert "L5" not in [m.b_id for m in index.matches(SAMPLE[0])]

    def test_agrees_with_find_duplicates(self):
        index = DuplicateIndex(STANDARD_LEAD_RULE, SAMPLE)
        pairs = {(min(r.id, m.b_id), max(r.id, m.b_id)) for r in SAMPLE for m in index.matches(r)}
        batch = {
            (e.a_id, e.b_id) for g in find_duplicates(SAMPLE, STANDARD_LEAD_RULE) for e in g.edges
        }
        assert pairs == batch


@pytest.mark.parametrize("progress", [len, lambda: None, "print"])
def test_a_progress_that_cannot_take_stage_done_total_is_refused(progress):
    with pytest.raises(ValidationError) as caught:
        find_duplicates([], STANDARD_LEAD_RULE, progress=progress)
    assert caught.value.errors[0].path == "progress"
