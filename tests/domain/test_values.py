from decimal import Decimal

import pytest

from leadmodel import Address, EmailAddress, InvalidValue, Money, PhoneNumber, ValidationError


class TestEmailAddress:
    @pytest.mark.parametrize(
        ("text", "normalized"),
        [
            ("jane.doe@example.com", "jane.doe@example.com"),
            ("  Jane.Doe@Example.COM \n", "jane.doe@example.com"),
            ("JANE+crm@EXAMPLE.com", "jane+crm@example.com"),
            ("Jörg@Bücher.DE", "Jörg@bücher.de"),
            ("用户@例子.广告", "用户@例子.广告"),
            ("x@xn--bcher-kva.de", "x@bücher.de"),
        ],
    )
    def test_normalizes(self, text, normalized):
        assert EmailAddress.parse(text).normalized == normalized

    def test_keeps_an_internationalised_local_part_as_written(self):
        email = EmailAddress.parse("JÖRG@example.com")
        assert email.local == "JÖRG"
        assert email.domain == "example.com"

    def test_takes_the_name_and_address_form(self):
        email = EmailAddress.parse("Jane Doe <Jane@Example.com>")
        assert email.display_name == "Jane Doe"
        assert str(email) == "jane@example.com"

    def test_takes_a_quoted_display_name_with_a_comma(self):
        email = EmailAddress.parse('"Doe, Jane \\"JD\\"" <jane@example.com>')
        assert email.display_name == 'Doe, Jane "JD"'

    def test_formatted_round_trips_the_display_name(self):
        email = EmailAddress.parse('"Doe, Jane" <jane@example.com>')
        assert EmailAddress.parse(email.formatted()) == email

    def test_keeps_the_original_text_outside_equality(self):
        a = EmailAddress.parse("JANE@example.com")
        b = EmailAddress.parse("jane@EXAMPLE.com")
        assert a == b
        assert hash(a) == hash(b)
        assert a.original == "JANE@example.com"

    @pytest.mark.parametrize(
        "text",
        [
            "a@example.com, b@example.com",
            "a@example.com; b@example.com",
            "a@b@example.com",
            "Jane <a@example.com>, Joe <b@example.com>",
        ],
    )
    def test_refuses_two_addresses(self, text):
        with pytest.raises(InvalidValue) as caught:
            EmailAddress.parse(text)
        assert caught.value.errors[0].code in {"multiple", "invalid"}
        assert caught.value.kind == "email"

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("", "blank"),
            ("   ", "blank"),
            ("no-at-sign", "invalid"),
            ("a@localhost", "invalid"),
            ("a..b@example.com", "invalid"),
            ("a@exa mple.com", "invalid"),
            ("a\x00@example.com", "control_character"),
            ("a\ud800@example.com", "surrogate"),
            ("a" * 2000 + "@example.com", "too_long"),
        ],
    )
    def test_refuses_invalid_text(self, text, code):
        with pytest.raises(InvalidValue) as caught:
            EmailAddress.parse(text)
        assert caught.value.errors[0].code == code

    @pytest.mark.parametrize("value", [None, 42, b"a@example.com", ["a@example.com"]])
    def test_refuses_non_strings(self, value):
        with pytest.raises(InvalidValue) as caught:
            EmailAddress.parse(value)
        assert caught.value.errors[0].code == "type"

    def test_invalid_value_is_a_validation_error_and_a_value_error(self):
        with pytest.raises(ValueError, match="email"):
            EmailAddress.parse("nope")
        assert issubclass(InvalidValue, ValidationError)


class TestPhoneNumber:
    @pytest.mark.parametrize(
        ("text", "region", "e164"),
        [
            ("(415) 555-1234", "US", "+14155551234"),
            ("+1 415 555 1234", "GB", "+14155551234"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("+44 20 7946 0958", "US", "+442079460958"),
            ("0044 20 7946 0958", "US", "+442079460958"),
            ("0032 2 555 12 12", "US", "+3225551212"),
            ("tel:+1-415-555-1234", "US", "+14155551234"),
            ("030 123456", "de", "+4930123456"),
        ],
    )
    def test_formats_e164(self, text, region, e164):
        assert PhoneNumber.parse(text, region=region).e164 == e164

    def test_keeps_the_extension_and_raw_text(self):
        phone = PhoneNumber.parse("(415) 555-1234 ext. 77")
        assert phone.extension == "77"
        assert phone.raw == "(415) 555-1234 ext. 77"
        assert phone.formatted() == "+14155551234;ext=77"
        assert PhoneNumber.parse(phone.formatted()) == phone

    def test_knows_the_region_of_the_number(self):
        assert PhoneNumber.parse("+44 20 7946 0958").region == "GB"

    def test_equality_ignores_the_raw_text(self):
        assert PhoneNumber.parse("415.555.1234") == PhoneNumber.parse("+1 (415) 555 1234")

    @pytest.mark.parametrize("text", ["12", "+999 1234 5678", "phone me", "1" * 30])
    def test_refuses_impossible_numbers(self, text):
        with pytest.raises(InvalidValue) as caught:
            PhoneNumber.parse(text)
        assert caught.value.errors[0].code == "impossible"

    def test_refuses_an_unknown_region(self):
        with pytest.raises(InvalidValue) as caught:
            PhoneNumber.parse("415 555 1234", region="XX")
        assert caught.value.errors[0].code == "region"

    @pytest.mark.parametrize(
        ("value", "code"),
        [(None, "type"), (4155551234, "type"), ("", "blank"), ("x" * 300, "too_long")],
    )
    def test_refuses_bad_input(self, value, code):
        with pytest.raises(InvalidValue) as caught:
            PhoneNumber.parse(value)
        assert caught.value.errors[0].code == code

    def test_is_valid_is_stricter_than_possible(self):
        assert PhoneNumber.parse("+14155551234").is_valid
        assert not PhoneNumber.parse("+1 011 555 1234").is_valid


class TestMoney:
    def test_takes_int_amounts_as_decimal(self):
        assert Money(5, "USD").amount == Decimal(5)

    def test_refuses_floats(self):
        with pytest.raises(ValidationError, match="use Decimal"):
            Money(1.5, "USD")  # type: ignore[arg-type]

    @pytest.mark.parametrize("currency", ["usd", "XYZ", "US", "", None])
    def test_refuses_unknown_currencies(self, currency):
        with pytest.raises(ValidationError) as caught:
            Money(Decimal(1), currency)  # type: ignore[arg-type]
        assert caught.value.paths == ("currency",)

    def test_refuses_nan_and_infinity(self):
        for amount in (Decimal("NaN"), Decimal("Infinity")):
            with pytest.raises(ValidationError):
                Money(amount, "EUR")

    def test_reports_amount_and_currency_at_once(self):
        with pytest.raises(ValidationError) as caught:
            Money("12", "euro")  # type: ignore[arg-type]
        assert caught.value.paths == ("amount", "currency")

    def test_arithmetic_keeps_the_currency(self):
        a, b = Money(Decimal("10.50"), "EUR"), Money(Decimal("0.25"), "EUR")
        assert a + b == Money(Decimal("10.75"), "EUR")
        assert a - b == Money(Decimal("10.25"), "EUR")
        assert -a == Money(Decimal("-10.50"), "EUR")
        assert a * 2 == 2 * a == Money(Decimal("21.00"), "EUR")
        assert b < a
        assert a >= b

    def test_mixing_currencies_is_a_type_error(self):
        with pytest.raises(TypeError):
            _ = Money(Decimal(1), "EUR") + Money(Decimal(1), "USD")
        with pytest.raises(TypeError):
            _ = Money(Decimal(1), "EUR") < Money(Decimal(1), "USD")

    def test_adding_a_number_is_a_type_error(self):
        with pytest.raises(TypeError):
            _ = Money(Decimal(1), "EUR") + 1  # type: ignore[operator]
        with pytest.raises(TypeError):
            _ = Money(Decimal(1), "EUR") * 1.5  # type: ignore[operator]


class TestAddress:
    def test_a_street_may_span_lines(self):
        assert Address(street="1 Main St\nSuite 4").street == "1 Main St\nSuite 4"

    def test_other_parts_are_single_line(self):
        with pytest.raises(ValidationError) as caught:
            Address(city="Paris\nCedex")
        assert caught.value.errors[0].code == "control_character"

    def test_an_empty_address_is_refused(self):
        with pytest.raises(ValidationError) as caught:
            Address()
        assert caught.value.errors[0].code == "empty"

    def test_reports_every_bad_part(self):
        with pytest.raises(ValidationError) as caught:
            Address(city="x" * 41, postal_code="", country=3)  # type: ignore[arg-type]
        assert caught.value.paths == ("city", "postal_code", "country")


class TestDirectConstruction:
    def test_an_inconsistent_email_is_refused(self):
        with pytest.raises(ValidationError) as caught:
            EmailAddress(normalized="a@b.com", local="x", domain="b.com")
        assert caught.value.errors[0].code == "inconsistent"

    @pytest.mark.parametrize("e164", ["4155551234", "+0123", 5, None, "+1 415"])
    def test_a_phone_that_is_not_e164_is_refused(self, e164):
        with pytest.raises(ValidationError):
            PhoneNumber(e164=e164)

    def test_a_phone_extension_is_digits(self):
        with pytest.raises(ValidationError):
            PhoneNumber(e164="+14155551234", extension="12a")
        assert PhoneNumber(e164="+14155551234", extension="12").extension == "12"
