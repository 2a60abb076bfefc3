"""The fast paths of matching (issue 16) give what the slow ones give.

Plainly written North American phones are read without phonenumbers' parser, plain ASCII
emails without building an EmailAddress, normalised values and Metaphone keys are
memoised, dict records are read directly, large tables are prepared on forked workers and
most non-matching pairs are rejected on their names alone. Each is checked here against
the general path on generated input.
"""

import multiprocessing
import string
import threading

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    EmailAddress,
    Lead,
    PhoneNumber,
    ValidationError,
    compare,
    find_duplicates,
)
from leadmodel.rules import _parallel
from leadmodel.rules import matching as matching_module
from leadmodel.rules.matching import (
    MAX_COMPARED,
    NORMALIZERS,
    _field_reader,
    _phone_prefix,
    record_id,
)
from leadmodel.rules.normalize import _nanp_e164, _normalize_email_text, phone_sections
from leadmodel.testing.strategies import leads

FORK = "fork" in multiprocessing.get_all_start_methods()


def full_parse(text):
    try:
        return PhoneNumber.parse(text).e164
    except ValidationError:
        return None


# -- phones --------------------------------------------------------------------------------

separators = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", "  ", ") ", " ("])
prefixes = st.sampled_from(["", "", "+", "+1", "+1 ", "1", "1-", "+ 1", "(", "+(1)", "00", " "])


@st.composite
def written_phones(draw):
    digits = draw(st.text(string.digits, min_size=6, max_size=13))
    text = "".join(c + draw(separators) for c in digits)
    return draw(prefixes) + text + draw(st.sampled_from(["", " ", "x12", " ext. 9", "a"]))


class TestPhone:
    @settings(max_examples=400)
    @given(st.one_of(written_phones(), st.text("0123456789 -.()+1x", max_size=24)))
    def test_the_fast_path_agrees_with_the_parser_whenever_it_answers(self, text):
        fast = _nanp_e164(text)
        if fast is not None:
            assert fast == full_parse(text)
            parsed = phonenumbers.parse(text, "US")
            assert fast == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @pytest.mark.parametrize(
        "text",
        [
            "(415) 555-1234",
            "415-555-1234",
            "+1 415 555 1234",
            "4155551234",
            "415.555.1234",
            "+1-415-555-1234",
            " 1 415 555 1234 ",
        ],
    )
    def test_everyday_spellings_take_the_fast_path(self, text):
        assert _nanp_e164(text) == "+14155551234" == full_parse(text)

    @pytest.mark.parametrize(
        "text",
        [
            "+44 20 7946 0958",  # another country
            "0044 20 7946 0958",
            "415 555 1234 x12",  # an extension
            "1-800-FLOWERS",  # letters
            "115 555 1234",  # not a NANP area code
            "555 1234",  # too short
            "+1 415 555 12345",  # too long
            "４１５５５５１２３４",  # full-width digits
            "",
            "x" * 10_000,
        ],
    )
    def test_anything_else_is_left_to_the_parser(self, text):
        assert _nanp_e164(text) is None

    def test_matching_reads_other_countries_through_the_parser(self):
        phone = NORMALIZERS["phone"]
        assert phone("+44 20 7946 0958") == "+442079460958"
        assert phone("not a phone") is None
        assert phone(PhoneNumber.parse("(415) 555-1234")) == "+14155551234"

    @given(st.text(string.digits, min_size=0, max_size=15), st.sampled_from(["+1", "+44", "+"]))
    def test_the_phone_prefix_of_north_american_numbers_is_their_sections(self, digits, code):
        e164 = code + digits
        sections = phone_sections(e164)
        expected = (sections[1] + sections[2]) or None if sections else None
        assert _phone_prefix(e164) == expected


# -- emails --------------------------------------------------------------------------------

email_text = st.text(string.ascii_letters + string.digits + "@._+-<> \"'ÄéÖ,;", max_size=30)


class TestEmail:
    @settings(max_examples=200)
    @given(
        st.one_of(
            email_text,
            st.emails().map(str),
            st.emails().map(lambda e: f"  {e.upper()} "),
            st.emails().map(lambda e: f"Name <{e}>"),
        )
    )
    def test_the_fast_path_agrees_with_the_value_object(self, text):
        try:
            expected = EmailAddress.parse(text).normalized
        except ValidationError:
            expected = None
        assert _normalize_email_text.__wrapped__(text) == expected


# -- preparing records ---------------------------------------------------------------------


def reference_prepare(rule, record):
    """What prepare gives, computed the slow way: the generic reader, no memo."""
    values = []
    for matcher in rule.matchers:
        raw = _field_reader(matcher)(record)
        value = None if raw is None else NORMALIZERS[matcher.normalizer_name](raw)
        values.append(value[:MAX_COMPARED] if value is not None else None)
    return tuple(values)


def as_dict(lead):
    return {
        "id": lead.id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "title": lead.title,
        "email": None if lead.email is None else lead.email.original,
        "phone": None if lead.phone is None else lead.phone.raw or lead.phone.e164,
        "address": None
        if lead.address is None
        else {
            "street": lead.address.street,
            "city": lead.address.city,
            "postal_code": lead.address.postal_code,
        },
    }


RULES = [STANDARD_LEAD_RULE, STANDARD_CONTACT_RULE]


class TestPrepare:
    @settings(max_examples=60)
    @given(leads(), st.sampled_from(RULES))
    def test_memoised_preparation_is_the_plain_one(self, lead, rule):
        compiled = rule.compile()
        record = as_dict(lead)
        first = compiled.prepare(record)
        assert first == reference_prepare(rule, record)
        assert compiled.prepare(record) == first  # memoised now
        for memo in matching_module._MEMOS.values():
            memo.clear()
        assert compiled.prepare(record) == first
        assert compiled.prepare(lead) == reference_prepare(rule, lead)

    @settings(max_examples=60)
    @given(leads(), st.sampled_from(RULES))
    def test_keys_are_the_blocked_tuples_as_text(self, lead, rule):
        compiled = rule.compile()
        prepared, blocks = compiled.prepare_blocked(lead)
        prepared_too, keys = compiled.prepare_keyed(lead)
        assert prepared == prepared_too
        assert keys == tuple(f"{rule.name}#{b[0]}:{'|'.join(b[1:])}" for b in blocks)
        assert compiled.keys(lead) == keys

    def test_dict_records_read_nested_mappings_and_aliases(self):
        compiled = STANDARD_CONTACT_RULE.compile()
        record = {"id": "1", "address": {"street": "1 Main Street", "city": "St. Louis"}}
        prepared = compiled.prepare(record)
        assert prepared == reference_prepare(STANDARD_CONTACT_RULE, record)
        assert "1 main st" in prepared
        assert "st louis" in prepared

    def test_hostile_values_are_cut_before_the_memo(self):
        compiled = STANDARD_LEAD_RULE.compile()
        record = {"id": "1", "first_name": "a" * 5_000_000, "company": "b " * 3_000_000}
        prepared = compiled.prepare(record)
        assert all(value is None or len(value) <= MAX_COMPARED for value in prepared)
        assert all(len(key) <= 200 for memo in matching_module._MEMOS.values() for key in memo)

    def test_a_text_subclass_is_prepared_like_text(self):
        class Name(str):
            __slots__ = ()

        compiled = STANDARD_LEAD_RULE.compile()
        assert compiled.prepare({"id": "1", "first_name": Name("Zoë")})[0] == "zoe"


# -- rejecting pairs on their names --------------------------------------------------------

first_names = st.sampled_from(["Bob", "Robert", "Ann", "Anne", "J.", "", "Jon", "Smith"])
last_names = st.sampled_from(["Smith", "Smyth", "Lee", "Jones", "Bob", ""])


@st.composite
def close_records(draw, number):
    return {
        "id": str(number),
        "first_name": draw(first_names),
        "last_name": draw(last_names),
        "company": draw(st.sampled_from(["Acme", "Acme Inc", "Globex", ""])),
        "title": draw(st.sampled_from(["CEO", "", "VP Sales"])),
        "email": draw(st.sampled_from(["bob@acme.com", "BOB@acme.com", "ann@acme.com", ""])),
        "phone": draw(st.sampled_from(["(415) 555-1234", "+14155551299", "212 555 0000", ""])),
    }


@settings(max_examples=300)
@given(close_records(1), close_records(2), st.sampled_from(RULES))
def test_the_quick_rejection_never_drops_a_match(a, b, rule):
    compiled = rule.compile()
    x, y = compiled.prepare(a), compiled.prepare(b)
    quick = compiled.match_prepared(x, y)
    full = compiled.compare_prepared(x, y)
    assert (quick is not None) == full.is_match
    if quick is not None:
        assert quick == full


def reference_groups(records, rule):
    """Every pair sharing a key compared in full, clustered: the slow way."""
    compiled = rule.compile()
    keys = {record_id(r): set(compiled.keys(r)) for r in records}
    by_id = {record_id(r): r for r in records}
    ids = sorted(by_id)
    parent = {i: i for i in ids}

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for n, a in enumerate(ids):
        for b in ids[n + 1 :]:
            if keys[a] & keys[b] and compare(by_id[a], by_id[b], compiled).is_match:
                ra, rb = find(a), find(b)
                parent[max(ra, rb)] = min(ra, rb)
    groups = {}
    for i in ids:
        groups.setdefault(find(i), []).append(i)
    return sorted(tuple(g) for g in groups.values() if len(g) > 1)


@settings(max_examples=60)
@given(st.lists(st.integers(0, 10_000), max_size=14, unique=True).flatmap(
    lambda numbers: st.tuples(*[close_records(n) for n in numbers])
))  # fmt: skip
def test_find_duplicates_finds_what_comparing_every_blocked_pair_finds(records):
    records = list(records)
    groups = find_duplicates(records, STANDARD_LEAD_RULE)
    assert [g.ids for g in groups] == reference_groups(records, STANDARD_LEAD_RULE)


# -- the standard rule forgives one mistyped name ------------------------------------------


class TestStandardLeadRule:
    def test_a_mangled_first_name_with_the_same_last_name_company_and_email(self):
        a = {"id": "1", "first_name": "Andrew", "last_name": "Venulmann", "company": "Norton"}
        b = dict(a, id="2", first_name="Ndy")
        a["email"] = b["email"] = "andrew.venulmann998@icloud.com"
        result = compare(a, b, STANDARD_LEAD_RULE)
        assert result.is_match
        assert result.clause == "last_name AND company AND email"

    def test_a_mistyped_last_name_with_the_title_company_and_phone(self):
        a = {"id": "1", "first_name": "Ann", "last_name": "Luna", "title": "CEO", "company": "X"}
        b = dict(a, id="2", last_name="Runa")
        a["phone"], b["phone"] = "(415) 555-1234", "+1 415 555 1234"
        assert compare(a, b, STANDARD_LEAD_RULE).clause == (
            "first_name AND title AND company AND phone"
        )

    def test_namesakes_at_one_office_need_the_same_number_not_its_prefix(self):
        # The demo's leads: one office's numbers share the area code and exchange.
        a = {"id": "1", "first_name": "Ann", "last_name": "Lee", "title": "CEO", "company": "X"}
        b = dict(a, id="2", first_name="Tom")
        a["phone"], b["phone"] = "+1 415 555 0001", "+1 415 555 0002"
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match
        b["phone"] = "(415) 555-0001"
        # The same number, but Ann and Tom contradict each other: colleagues, not one person.
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match
        for first_name in ("Anna", "A."):
            b["first_name"] = first_name
            assert compare(a, b, STANDARD_LEAD_RULE).is_match
        b["first_name"] = None  # a blank first name contradicts nothing
        assert compare(a, b, STANDARD_LEAD_RULE).clause == (
            "last_name AND company AND phone AND first_name"
        )

    def test_colleagues_sharing_a_first_name_and_mailbox_stay_apart(self):
        # A shared "james@" mailbox: the last names differ, so the email is not enough.
        a = {"id": "1", "first_name": "James", "last_name": "Smith", "company": "Acme"}
        b = dict(a, id="2", last_name="Brown")
        a["email"] = b["email"] = "james@acme.com"
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match

    def test_a_typo_in_the_last_names_first_letter_still_meets_through_the_first_name(self):
        a = {"id": "1", "first_name": "Hannah", "last_name": "Hernandez", "title": "CEO"}
        a["company"] = "Arroyo Insurance"
        b = dict(a, id="2", last_name="Gernandez", company="Arroyo Insurance Grp")
        compiled = STANDARD_LEAD_RULE.compile()
        assert set(compiled.keys(a)) & set(compiled.keys(b)) == {
            "standard_lead#5:hannah|ceo|arroyo insurance"
        }
        assert compare(a, b, STANDARD_LEAD_RULE).is_match


# -- preparing on several cores ------------------------------------------------------------


@st.composite
def tables(draw):
    numbers = draw(st.lists(st.integers(0, 10_000), min_size=2, max_size=40, unique=True))
    return [draw(close_records(n)) for n in numbers]


class Unpicklable:
    """A record that pickle refuses (it holds a lock): workers inherit it instead."""

    def __init__(self, number):
        self.id = str(number)
        self.first_name = "Bob"
        self.last_name = "Smith"
        self.email = "bob@acme.com"
        self.lock = threading.Lock()


@pytest.mark.skipif(not FORK, reason="forked workers need the fork start method")
class TestParallel:
    @settings(max_examples=8, deadline=None)
    @given(tables())
    def test_two_workers_prepare_what_one_does(self, records):
        compiled = STANDARD_LEAD_RULE.compile()
        assert _parallel.prepare_all(compiled, records, workers=2) == _parallel.prepare_all(
            compiled, records, workers=1
        )

    def test_unpicklable_records(self):
        records = [Unpicklable(n) for n in range(50)]
        compiled = STANDARD_LEAD_RULE.compile()
        assert _parallel.prepare_all(compiled, records, workers=2) == [
            compiled.prepare_blocked(r) for r in records
        ]

    def test_find_duplicates_on_workers_gives_the_same_groups(self, monkeypatch):
        records = [dict(r, id=f"{r['id']}-{n}") for n in range(3) for r in SAMPLE_TABLE]
        alone = find_duplicates(records, STANDARD_LEAD_RULE)
        monkeypatch.setattr(_parallel, "automatic_workers", lambda _total: 2)
        assert find_duplicates(records, STANDARD_LEAD_RULE) == alone
        assert alone

    def test_progress_is_reported_to_the_end(self):
        seen = []
        records = [Unpicklable(n) for n in range(30)]
        compiled = STANDARD_LEAD_RULE.compile()
        _parallel.prepare_all(
            compiled, records, lambda *args: seen.append(args), workers=2
        )  # fmt: skip
        assert seen[-1] == ("prepare", 30, 30)

    def test_a_record_failing_in_a_worker_fails_as_it_would_alone(self):
        class Hostile(dict):
            def get(self, *_args):
                raise ValueError("unreadable")

        records = [{"id": str(n), "first_name": "Ann"} for n in range(10)]
        records.append(Hostile(id="99"))
        compiled = STANDARD_LEAD_RULE.compile()
        with pytest.raises(ValueError, match="unreadable"):
            _parallel.prepare_all(compiled, records, workers=1)
        with pytest.raises(ValueError, match="unreadable"):
            _parallel.prepare_all(compiled, records, workers=2)

    def test_small_tables_and_threaded_processes_stay_on_one_core(self):
        assert _parallel.automatic_workers(10) == 1
        started = threading.Event()
        done = threading.Event()
        worker = threading.Thread(target=lambda: (started.set(), done.wait(5)))
        worker.start()
        try:
            started.wait(5)
            assert not _parallel.can_fork()
            assert _parallel.automatic_workers(10**6) == 1
        finally:
            done.set()
            worker.join()


SAMPLE_TABLE = [
    {"id": "a", "first_name": "Bob", "last_name": "Smith", "email": "bob@acme.com"},
    {"id": "b", "first_name": "Robert", "last_name": "Smith", "email": "BOB@acme.com"},
    {"id": "c", "first_name": "Ann", "last_name": "Lee", "phone": "(415) 555-1234"},
    {"id": "d", "first_name": "Anne", "last_name": "Lee", "phone": "+1 415 555 1234"},
    {"id": "e", "first_name": "Zed", "last_name": "Zulu", "company": "Initech"},
]


def test_a_lead_entity_and_its_dict_prepare_alike():
    lead = Lead(
        id="1",
        first_name="Zoë",
        last_name="O'Brien",
        company="Acme GmbH",
        email=EmailAddress.parse("Zoe@Acme.de"),
        phone=PhoneNumber.parse("(415) 555-1234"),
    )
    compiled = STANDARD_LEAD_RULE.compile()
    assert compiled.prepare_keyed(lead) == compiled.prepare_keyed(as_dict(lead))
