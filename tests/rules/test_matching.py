import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_ACCOUNT_RULE,
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    Account,
    Address,
    BlockingKey,
    Contact,
    EmailAddress,
    FieldMatcher,
    Lead,
    MatchingRule,
    PhoneNumber,
    ValidationError,
    compare,
    find_duplicates,
    from_json,
    to_json,
)
from leadmodel.rules.matching import METHODS
from leadmodel.testing.strategies import contacts, leads


def method(name, a, b):
    return round(METHODS[name](a, b))


class TestMethods:
    def test_reference_examples(self):
        # Salesforce's published examples.
        assert method("exact", "salesforce com", "salesforce") == 0
        assert method("acronym", "advanced micro devices", "amd") == 100
        assert method("edit_distance", "vp sales", "vp of sales") == 73
        assert method("initials", "jonathan", "j") == 100
        assert method("phone_sections", "+14155551234", "+14155555678") == 90

    def test_initials(self):
        assert method("initials", "j r r", "john ronald reuel") == 100
        assert method("initials", "j", "mary") == 0
        assert method("initials", "jo", "john") == 0

    def test_name_variant(self):
        assert method("name_variant", "bob", "robert") == 100
        assert method("name_variant", "jon", "jonathan") == 100
        assert method("name_variant", "raj", "rajesh") == 0

    def test_phonetic(self):
        assert method("phonetic", "smith", "smyth") == 100
        assert method("phonetic", "smith", "jones") == 0

    def test_string_metrics(self):
        assert method("jaro_winkler", "martha", "marhta") == 96
        assert method("token_set", "acme widgets", "widgets acme") == 100
        assert method("acronym", "ibm", "international business machines") == 100

    def test_phone_sections(self):
        assert method("phone_sections", "+14155551234", "+14155551234") == 100
        assert method("phone_sections", "+14155551234", "+16505551234") == 50
        assert method("phone_sections", "+442079460958", "+14155551234") == 0
        assert method("phone_sections", "+442079460958", "+14155460958") == 10


class TestRuleValues:
    def test_round_trip_through_json_with_a_format_key(self):
        for rule in (
            STANDARD_LEAD_RULE,
            STANDARD_CONTACT_RULE,
            STANDARD_ACCOUNT_RULE,
            EXACT_EMAIL_OR_PHONE,
        ):
            text = to_json(rule)
            assert '"format": 1' in text
            assert from_json(MatchingRule, text) == rule

    def test_an_unknown_format_is_refused(self):
        text = to_json(EXACT_EMAIL_OR_PHONE).replace('"format": 1', '"format": 99')
        with pytest.raises(ValidationError) as caught:
            from_json(MatchingRule, text)
        assert caught.value.errors[0].code == "unsupported_format"

    @pytest.mark.parametrize(
        ("logic", "fragment"),
        [
            ("1 AND", "ends too early"),
            ("(1 OR 2", "ends too early"),
            ("(1 OR 2 2", "not closed"),
            ("1 AND 3", "not a matcher number"),
            ("1 XOR 2", "unexpected"),
            ("1 2", "unexpected"),
        ],
    )
    def test_bad_logic_is_reported_when_the_rule_is_built(self, logic, fragment):
        with pytest.raises(ValidationError, match=fragment):
            MatchingRule("r", [FieldMatcher("email"), FieldMatcher("phone")], logic=logic)

    def test_logic_expands_to_clauses(self):
        rule = MatchingRule(
            "r",
            [
                FieldMatcher("first_name"),
                FieldMatcher("last_name"),
                FieldMatcher("email"),
                FieldMatcher("phone"),
            ],
            logic="1 AND 2 AND (3 OR 4)",
        )
        assert rule.clauses == (frozenset({0, 1, 2}), frozenset({0, 1, 3}))

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"field": "bad path!"},
            {"field": "email", "methods": ("soundex",)},
            {"field": "email", "methods": ()},
            {"field": "email", "threshold": 101},
            {"field": "email", "blank": "maybe"},
            {"field": "email", "normalizer": "nope"},
        ],
    )
    def test_bad_matchers_are_refused(self, kwargs):
        with pytest.raises(ValidationError):
            FieldMatcher(**kwargs)

    @pytest.mark.parametrize(
        "part", ["", "email:nope", "company:substr:5:2", "company:substr:x", "email:initial:3"]
    )
    def test_bad_blocking_keys_are_refused(self, part):
        with pytest.raises(ValidationError):
            BlockingKey((part,))

    def test_other_rule_problems(self):
        with pytest.raises(ValidationError):
            MatchingRule("r", [])
        with pytest.raises(ValidationError):
            MatchingRule("r", [FieldMatcher("email")], blank_ignored_with="phone")
        with pytest.raises(ValidationError):
            MatchingRule("r", [FieldMatcher("email")], key_cap=1)


def lead(lead_id="1", **fields):
    fields.setdefault("company", "Acme")
    fields.setdefault("last_name", "Smith")
    return Lead(id=lead_id, **fields)


class TestStandardLeadRule:
    def test_nickname_typo_and_case_match_through_email(self):
        a = lead(first_name="Bob", email=EmailAddress.parse("bob@acme.com"))
        b = lead(
            "2", first_name="Robert", last_name="Smyth", email=EmailAddress.parse("BOB@ACME.COM")
        )
        result = compare(a, b, STANDARD_LEAD_RULE)
        assert result.is_match
        assert result.clause == "first_name AND last_name AND email"
        scores = {s.field: (s.score, s.method) for s in result.field_scores}
        assert scores["first_name"] == (100, "name_variant")
        assert scores["last_name"] == (100, "phonetic")

    def test_same_company_different_people_do_not_match(self):
        a = lead(first_name="Ann", last_name="Lee", title="CEO")
        b = lead("2", first_name="Tom", last_name="Ford", title="CEO")
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match

    def test_common_names_at_different_companies_do_not_match(self):
        a = lead(first_name="John", company="Acme", phone=PhoneNumber.parse("+14155551234"))
        b = lead("2", first_name="John", company="Globex", phone=PhoneNumber.parse("+12125550000"))
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match

    def test_names_are_compared_transposed(self):
        a = lead(first_name="Smith", last_name="Bob", phone=PhoneNumber.parse("+14155551234"))
        b = lead("2", first_name="Bob", last_name="Smith", phone=PhoneNumber.parse("+14155551234"))
        result = compare(a, b, STANDARD_LEAD_RULE)
        assert result.is_match
        assert result.clause is not None
        assert "transposed" in result.clause

    def test_blank_first_name_is_ignored_when_the_email_matches(self):
        a = lead(email=EmailAddress.parse("smith@acme.com"))
        b = lead("2", first_name="Jo", email=EmailAddress.parse("smith@acme.com"))
        assert compare(a, b, STANDARD_LEAD_RULE).is_match

    def test_blank_email_alone_never_matches(self):
        a = lead(first_name="Jo")
        b = lead("2", first_name="Jo")
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match

    def test_phone_sections_match(self):
        a = lead(first_name="Jo", phone=PhoneNumber.parse("+1 415 555 1234"))
        b = lead("2", first_name="Jo", phone=PhoneNumber.parse("+1 415 555 5678"))
        result = compare(a, b, STANDARD_LEAD_RULE)
        assert result.is_match
        assert result.clause == "first_name AND last_name AND company AND phone"

    def test_address_clause(self):
        a = lead(first_name="Jo", address=Address(street="1 Main Street", city="Springfield"))
        b = lead(
            "2",
            first_name="Jo",
            company="Other",
            address=Address(street="1 Main St.", city="Springfield"),
        )
        assert compare(a, b, STANDARD_LEAD_RULE).clause == (
            "first_name AND last_name AND address.street AND address.city"
        )

    def test_a_blank_name_is_never_swapped_in(self):
        # Issue 16: with both first names blank, swapping names turned "Ng" against "Stone"
        # into two blanks, which the email clauses ignore: two people, one mailbox.
        a = {"id": "1", "last_name": "Ng", "email": "team@acme.com"}
        b = {"id": "2", "last_name": "Stone", "email": "team@acme.com"}
        assert not compare(a, b, STANDARD_LEAD_RULE).is_match
        assert not compare(b, a, STANDARD_LEAD_RULE).is_match

    def test_two_formal_names_are_not_variants_through_a_shared_nickname(self):
        # The nicknames data lists William and Robert both under "Bill": not one name.
        name = STANDARD_LEAD_RULE.matchers[0]
        rule = attrs.evolve(
            STANDARD_LEAD_RULE, matchers=(name,), logic=None, blocking=(), blank_ignored_with=None
        )
        william, robert = {"id": "1", "first_name": "William"}, {"id": "2", "first_name": "Robert"}
        assert not compare(william, robert, rule).is_match
        for a, b in (("Bob", "Rob"), ("Bill", "Will"), ("Peggy", "Maggie"), ("Bob", "Robert")):
            assert compare(
                {"id": "1", "first_name": a}, {"id": "2", "first_name": b}, rule
            ).is_match


class TestCrossObject:
    def test_leads_match_contacts(self):
        a = lead(first_name="Jo", email=EmailAddress.parse("jo@acme.com"))
        c = Contact(
            id="C1", first_name="Jo", last_name="Smith", email=EmailAddress.parse("jo@acme.com")
        )
        assert compare(a, c, STANDARD_CONTACT_RULE).is_match
        assert compare(c, a, STANDARD_LEAD_RULE).is_match

    def test_lead_company_matches_account_name(self):
        account = Account(id="A1", name="Acme Corporation", phone=PhoneNumber.parse("+14155551234"))
        a = lead(company="ACME Inc.", phone=PhoneNumber.parse("+14155551234"))
        result = compare(a, account, STANDARD_ACCOUNT_RULE)
        assert result.is_match
        assert result.clause == "name AND phone"

    def test_a_contacts_full_name_is_not_taken_for_a_company(self):
        a = lead(company="Jo Smith", phone=PhoneNumber.parse("+14155551234"))
        c = Contact(
            id="C1", first_name="Jo", last_name="Smith", phone=PhoneNumber.parse("+14155551234")
        )
        company = next(
            s for s in compare(a, c, STANDARD_LEAD_RULE).field_scores if s.field == "company"
        )
        assert company.matched is None


class TestExactEmailOrPhone:
    def test_same_address_in_any_case(self):
        a = {"id": "1", "email": "Ann@acme.com"}
        b = {"id": "2", "email": "ann@ACME.com"}
        assert compare(a, b, EXACT_EMAIL_OR_PHONE).is_match

    def test_colleagues_sharing_a_domain_stay_apart(self):
        # Issue 16: the preset once compared email domains, folding colleagues together.
        a = {"id": "1", "email": "ann@acme.com"}
        b = {"id": "2", "email": "bob@acme.com"}
        c = {"id": "3", "email": "carl@acme.com"}
        assert not compare(a, b, EXACT_EMAIL_OR_PHONE).is_match
        assert find_duplicates([a, b, c], EXACT_EMAIL_OR_PHONE) == []

    def test_free_mail_needs_the_same_mailbox(self):
        a = {"id": "1", "email": "ann@gmail.com"}
        b = {"id": "2", "email": "bob@gmail.com"}
        assert not compare(a, b, EXACT_EMAIL_OR_PHONE).is_match

    def test_phone_in_any_format(self):
        a = {"id": "1", "phone": "(415) 555-1234"}
        b = {"id": "2", "phone": "+1 415 555 1234"}
        assert compare(a, b, EXACT_EMAIL_OR_PHONE).is_match


class TestBadInput:
    def test_records_missing_every_field_do_not_match(self):
        result = compare({"id": "1"}, {"id": "2"}, STANDARD_LEAD_RULE)
        assert not result.is_match
        assert result.score == 0
        assert all(s.matched is None for s in result.field_scores)

    def test_emoji_only_names_are_blank(self):
        a = {"id": "1", "first_name": "😀", "last_name": "😀😀", "email": "a@b.com"}
        b = {"id": "2", "first_name": "😀", "last_name": "😀", "email": "a@b.com"}
        result = compare(a, b, STANDARD_LEAD_RULE)
        # Blank names are ignored when the email matches, as in Salesforce.
        assert result.is_match
        assert [s.matched for s in result.field_scores[:2]] == [None, None]

    def test_huge_values_are_compared_on_their_start(self):
        huge = {"id": "1", "first_name": "x" * 10_000_000, "last_name": "y" * 10_000_000}
        other = {"id": "2", "first_name": "x" * 10_000_001, "last_name": "y" * 9_999_999}
        result = compare(huge, other, STANDARD_LEAD_RULE)
        assert [s.score for s in result.field_scores[:2]] == [100, 100]
        assert not result.is_match

    def test_mixed_entity_kinds(self):
        account = Account(id="A1", name="Acme")
        a = lead()
        assert not compare(account, a, STANDARD_LEAD_RULE).is_match

    def test_non_rule_is_refused(self):
        with pytest.raises(ValidationError):
            compare({}, {}, "standard")  # type: ignore[arg-type]


RULES = [STANDARD_LEAD_RULE, STANDARD_CONTACT_RULE, STANDARD_ACCOUNT_RULE, EXACT_EMAIL_OR_PHONE]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
@given(a=leads(), b=leads())
def test_compare_is_symmetric(rule, a, b):
    forward, backward = compare(a, b, rule), compare(b, a, rule)
    assert (forward.is_match, forward.score, forward.clause) == (
        backward.is_match,
        backward.score,
        backward.clause,
    )


def _has_clause_fields(rule, record):
    compiled = rule.compile()
    values = compiled.prepare(record)
    return any(all(values[i] is not None for i in clause) for clause in rule.clauses)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
@given(record=st.one_of(leads(), contacts()))
def test_a_record_matches_a_copy_of_itself(rule, record):
    copy = attrs.evolve(record, id=record.id + "-copy")
    result = compare(record, copy, rule)
    if _has_clause_fields(rule, record):
        assert result.is_match
        assert result.score == 100
