import pytest

from leadmodel import EmailAddress, PhoneNumber
from leadmodel.rules.normalize import (
    email_domain_key,
    free_email_domains,
    name_variants,
    normalize_city,
    normalize_company,
    normalize_email,
    normalize_person_name,
    normalize_postal_code,
    normalize_street,
    normalize_text,
    phone_sections,
    phonetic_key,
)


class TestEmail:
    def test_normalizes_like_the_value_object(self):
        assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
        assert normalize_email(EmailAddress.parse("JÖRG@Bücher.de")) == "JÖRG@bücher.de"

    def test_invalid_or_blank_is_none(self):
        assert normalize_email("not an email") is None
        assert normalize_email(None) is None

    @pytest.mark.parametrize(
        ("email", "key"),
        [
            ("Jane@Acme.com", "@acme.com"),
            ("jane.doe@gmail.com", "jane.doe@gmail.com"),
            ("JANE@GMAIL.COM", "jane@gmail.com"),
            ("typo@gmial.com", "typo@gmial.com"),
            ("a@sub.acme.com", "@sub.acme.com"),
            ("josé@société.fr", "@société.fr"),
        ],
    )
    def test_domain_key(self, email, key):
        assert email_domain_key(email) == key

    def test_ships_the_common_providers_and_their_typos(self):
        domains = free_email_domains()
        assert {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmai.com"} <= domains
        assert "acme.com" not in domains


class TestPhone:
    @pytest.mark.parametrize(
        ("text", "sections"),
        [
            ("+1 415 555 1234", ("1", "415", "555", "1234")),
            ("+44 20 7946 0958", ("44", "207", "946", "0958")),
            ("0032 2 555 12 12", ("32", "2", "555", "1212")),
        ],
    )
    def test_sections(self, text, sections):
        assert phone_sections(PhoneNumber.parse(text)) == sections

    def test_sections_of_e164_text_and_blank(self):
        assert phone_sections("+14155551234") == ("1", "415", "555", "1234")
        assert phone_sections(None) is None
        assert phone_sections("not a phone") is None


class TestCompany:
    @pytest.mark.parametrize(
        ("name", "normalized"),
        [
            ("Acme Inc.", "acme"),
            ("ACME, Inc", "acme"),
            ("The Acme Corporation", "acme"),
            ("Acme Corp", "acme"),
            ("Acme LLC", "acme"),
            ("Acme Ltd", "acme"),
            ("Siemens AG", "siemens"),
            ("Bosch GmbH", "bosch"),
            ("Acme Holdings GmbH & Co. KG", "acme holdings"),
            ("Société Générale S.A.", "societe generale"),
            ("Dupont SARL", "dupont"),
            ("Philips B.V.", "philips"),
            ("Müller & Söhne", "muller & sohne"),
            ("The", "the"),
            ("Inc", "inc"),
            ("北京科技", "beijingkeji"),
            ("Acme™ Inc.", "acme"),
        ],
    )
    def test_strips_legal_forms_in_many_languages(self, name, normalized):
        assert normalize_company(name) == normalized

    @pytest.mark.parametrize(
        ("name", "normalized"),
        [
            ("Golden River Group", "golden river"),
            ("Golden River Grp", "golden river"),
            ("ARROYO INSURANCE GRP.", "arroyo insurance"),
            ("Acme Group Inc", "acme"),
            ("The Group", "group"),  # a name that is only the word stays
            ("Group Health Co", "group health"),  # only a trailing word is dropped
        ],
    )
    def test_strips_a_trailing_group(self, name, normalized):
        assert normalize_company(name) == normalized

    def test_blank_is_none(self):
        assert normalize_company(None) is None
        assert normalize_company("...") is None


class TestPersonName:
    @pytest.mark.parametrize(
        ("name", "normalized"),
        [
            ("José", "jose"),
            ("Zoë O'Brien-Smith", "zoe obrien smith"),
            ("  ANNA  ", "anna"),
            ("Ørsted", "orsted"),
            ("Дмитрий", "dmitriy"),
            ("Ana 😀", "ana"),
            ("😀", None),
        ],
    )
    def test_transliterates_and_folds(self, name, normalized):
        assert normalize_person_name(name) == normalized

    @pytest.mark.parametrize(
        ("first", "other", "same"),
        [
            ("Bob", "Robert", True),
            ("Robert", "Bob", True),
            ("Jon", "Jonathan", True),
            ("Bill", "William", True),
            ("Liz", "Elizabeth", True),
            ("Raj", "Rajesh", False),
            ("Sal", "Salima", False),
            ("Anna", "Maria", False),
        ],
    )
    def test_name_variants_follow_the_nicknames_dataset(self, first, other, same):
        assert (normalize_person_name(other) in name_variants(first)) is same

    def test_phonetic_key(self):
        assert phonetic_key("Smith") == phonetic_key("Smyth")
        assert phonetic_key("Smith") != phonetic_key("Jones")
        assert phonetic_key(None) is None


class TestAddress:
    def test_street_abbreviations(self):
        assert normalize_street("123 North Main Street, Suite 4") == "123 n main st ste 4"
        assert normalize_street("123 N. Main St. Ste 4") == "123 n main st ste 4"
        assert normalize_street("Hauptstraße 5") == normalize_street("Hauptstrasse 5")

    def test_city(self):
        assert normalize_city("St. Louis") == normalize_city("Saint Louis") == "st louis"
        assert normalize_city("Zürich") == "zurich"

    def test_postal_code(self):
        assert normalize_postal_code("sw1a 1aa") == "SW1A1AA"
        assert normalize_postal_code("94105-1234") == "94105"
        assert normalize_postal_code("75001") == "75001"
        assert normalize_postal_code(" ") is None


def test_normalize_text():
    assert normalize_text("  Hello,   World! ") == "hello world"
    assert normalize_text(None) is None
