"""The fast paths for common email and phone input agree with the full parsers."""

import email_validator
import phonenumbers
from hypothesis import example, given
from hypothesis import strategies as st

from leadmodel import EmailAddress, InvalidValue
from leadmodel.domain.values import _fast_ascii_email, _fast_e164

ATEXT = "a-zA-Z0-9!#$%&'*+/=?^_`{|}~-"


def full_parse(address):
    """What the email-validator path gives for *address*, or None when it refuses."""
    try:
        valid = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except email_validator.EmailNotValidError:
        return None
    local = valid.local_part.lower() if valid.local_part.isascii() else valid.local_part
    return local, valid.domain.lower()


@given(
    st.from_regex(
        rf"[{ATEXT}]{{1,70}}(\.[{ATEXT}]{{1,10}})?@([a-zA-Z0-9-]{{1,64}}\.){{1,3}}[a-zA-Z]{{2,8}}",
        fullmatch=True,
    )
)
@example("a@b.test")
@example("a@b.localhost")
@example("a@xn--bcher-kva.de")
@example("a" * 65 + "@example.com")
@example("a@" + "b" * 64 + ".com")
@example("a@a--b.com")
@example("Jane.Doe@Example.COM")
def test_fast_email_path_agrees_with_email_validator(address):
    fast = _fast_ascii_email(address)
    if fast is not None:
        assert fast == full_parse(address)


@given(st.emails())
def test_parse_agrees_with_email_validator_on_any_email(address):
    expected = full_parse(address)
    try:
        parsed = EmailAddress.parse(address)
    except InvalidValue:
        assert expected is None
    else:
        assert expected == (parsed.local, parsed.domain)


@given(
    st.from_regex(r"\+[1-9][0-9]{6,16}(;ext=[0-9]{1,6})?", fullmatch=True),
)
@example("+14155551234")
@example("+390612345678")
@example("+5491123456789")
@example("+114155551234")
@example("+80012345678")
@example("+442079460958;ext=12")
def test_fast_e164_path_agrees_with_phonenumbers(text):
    fast = _fast_e164(text)
    if fast is None:
        return
    slow = phonenumbers.parse(text, "US")
    assert (fast.country_code, fast.national_number, fast.extension or None) == (
        slow.country_code,
        slow.national_number,
        slow.extension or None,
    )
    assert phonenumbers.is_possible_number(fast) == phonenumbers.is_possible_number(slow)
    assert phonenumbers.format_number(
        fast, phonenumbers.PhoneNumberFormat.E164
    ) == phonenumbers.format_number(slow, phonenumbers.PhoneNumberFormat.E164)
