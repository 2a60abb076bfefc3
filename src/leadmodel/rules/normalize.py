"""Normalisers for matching: pure functions from raw field values to comparable keys.

Each is cached (names, companies and domains repeat across a table), and each is the one
place its rule lives: matching rules, blocking keys and the duplicate index all call these.
They accept ``None`` and return ``None`` (or an empty key) for blank input, so callers never
special-case blanks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from importlib import resources
from typing import Final, TypeVar

import jellyfish
import phonenumbers
from anyascii import anyascii
from cleanco import prepare_default_terms
from nicknames import NickNamer

from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.values import EmailAddress, PhoneNumber, _fast_ascii_email

__all__ = [
    "canonical_names",
    "email_domain_key",
    "free_email_domains",
    "name_variants",
    "normalize_city",
    "normalize_company",
    "normalize_email",
    "normalize_person_name",
    "normalize_postal_code",
    "normalize_street",
    "normalize_text",
    "normalize_website",
    "phone_sections",
    "phonetic_key",
]

_CACHE: Final = 1 << 18
_DROP: Final = re.compile(r"['’`.]")
_SEPARATE: Final = re.compile(r"[^0-9a-z&]+")
_NOT_LETTERS: Final = re.compile(r"[^a-z]+")
_SPACES: Final = re.compile(r"\s+")


_R = TypeVar("_R")


def _text_cache(function: Callable[[str | None], _R]) -> Callable[[str | None], _R]:
    """Cache *function* of text; refuse anything but text or ``None`` with a clear error.

    The type is checked before the cache is looked up: a dict would not hash, an int would
    fail deep inside; both are a ``ValidationError`` naming the function.
    """
    cached = functools.lru_cache(maxsize=_CACHE)(function)
    name = function.__name__
    parameter = function.__code__.co_varnames[0]

    @functools.wraps(function)
    def normalize(*args: str | None, **kwargs: str | None) -> _R:
        if len(args) == 1 and not kwargs:
            text = args[0]
        elif not args and len(kwargs) == 1 and parameter in kwargs:
            text = kwargs[parameter]
        else:
            return function(*args, **kwargs)  # Python's own error for a wrong call
        if text is None or text.__class__ is str:
            return cached(text)
        if isinstance(text, str):
            return cached(str(text))
        raise _not_text(name, text, "text or None")

    normalize.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    normalize.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return normalize


def _not_text(function: str, value: object, what: str) -> ValidationError:
    return ValidationError(
        function,
        [FieldError("", "type", f"must be {what}, not {type(value).__name__}")],
    )


def _ascii(text: str) -> str:
    """Transliterate to ASCII, dropping symbols and emoji (which anyascii would spell out)."""
    if text.isascii():
        return text
    kept = "".join(c for c in text if unicodedata.category(c)[0] != "S")
    return anyascii(kept)


@functools.cache
def free_email_domains() -> frozenset[str]:
    """The free-mail domains (and their common typos) shipped with leadmodel."""
    text = resources.files("leadmodel").joinpath("_data/free_email_domains.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def normalize_email(email: EmailAddress | str | None) -> str | None:
    """The normalised address (see :meth:`EmailAddress.parse`); ``None`` for blank or invalid."""
    if email is None:
        return None
    if isinstance(email, EmailAddress):
        return email.normalized
    if not isinstance(email, str):
        raise _not_text("normalize_email", email, "an EmailAddress, text or None")
    return _normalize_email_text(str(email))


@functools.lru_cache(maxsize=_CACHE)
def _normalize_email_text(text: str) -> str | None:
    # The common case (a plain ASCII address) is checked the way EmailAddress.parse checks
    # it first, without building the value; the rest goes through the parser.
    plain = _fast_ascii_email(text.strip())
    if plain is not None:
        return f"{plain[0]}@{plain[1]}"
    try:
        return EmailAddress.parse(text).normalized
    except ValueError:
        return None


def email_domain_key(email: EmailAddress | str | None) -> str | None:
    """The key under which email addresses count as the same organisation (Odoo's rule).

    Company mail gives ``@domain`` (anyone at the same domain); free-mail providers give
    the whole address (only the same mailbox).

    >>> email_domain_key("Jane@Acme.com"), email_domain_key("jane.doe@gmail.com")
    ('@acme.com', 'jane.doe@gmail.com')
    """
    try:
        normalized = normalize_email(email)
    except ValidationError as exc:
        raise ValidationError("email_domain_key", exc.errors) from None
    if normalized is None:
        return None
    domain = normalized.rpartition("@")[2]
    if domain in free_email_domains():
        return normalized
    return "@" + domain


_SCHEME: Final = re.compile(r"^[a-z][a-z0-9+.-]*://")
_HOST_END: Final = re.compile(r"[/?#:\\\s]")


@_text_cache
def normalize_website(url: str | None) -> str | None:
    """A website's domain: no scheme, ``www.``, port, path or case (for account matching).

    >>> normalize_website("https://WWW.Acme.com:443/about?x=1"), normalize_website("acme.com/")
    ('acme.com', 'acme.com')
    """
    if url is None:
        return None
    text = url.strip().casefold()[:2048]
    text = _SCHEME.sub("", text)
    text = text.rsplit("@", 1)[-1] if "@" in text.split("/", 1)[0] else text
    host = _HOST_END.split(text, maxsplit=1)[0].strip(".")
    for prefix in ("www.", "www1.", "www2."):
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix) :]
            break
    return host or None


@_text_cache
def normalize_text(text: str | None) -> str | None:
    """Transliterated, case-folded text with punctuation removed and spaces collapsed."""
    if text is None:
        return None
    folded = _DROP.sub("", _ascii(text).casefold())
    result = _SEPARATE.sub(" ", folded).strip()
    return result or None


@_text_cache
def normalize_person_name(name: str | None) -> str | None:
    """A person name for comparison: transliterated, case-folded, letters and single spaces.

    >>> normalize_person_name("  Zoë O'Brien-Smith ")
    'zoe obrien smith'
    """
    if name is None:
        return None
    folded = _DROP.sub("", _ascii(name).casefold())
    result = _NOT_LETTERS.sub(" ", folded).strip()
    return result or None


# Not legal forms, but as often added or dropped as one ("Acme Group", "Acme Grp").
_GROUP_WORDS: Final = (("group",), ("grp",))


@functools.cache
def _legal_terms() -> tuple[frozenset[tuple[str, ...]], int]:
    terms = frozenset(tuple(words) for _, words in prepare_default_terms()) | set(_GROUP_WORDS)
    return terms, max(len(t) for t in terms)


@_text_cache
def normalize_company(name: str | None) -> str | None:
    """A company name for comparison, with legal forms removed in many languages.

    Transliterates, case-folds, drops punctuation, a leading "the" and trailing legal
    suffixes (Inc, Corp, LLC, Ltd, GmbH, S.A., SARL, B.V. … from cleanco's term list,
    and Group or Grp, repeatedly, so "Acme Holdings GmbH & Co. KG" loses "GmbH & Co KG"
    and "Acme Group Inc" is "acme").

    >>> [normalize_company(n) for n in ("The Acme Corp.", "ACME, Inc", "Société Générale S.A.")]
    ['acme', 'acme', 'societe generale']
    >>> normalize_company("Golden River Grp") == normalize_company("GOLDEN RIVER")
    True
    """
    if name is None:
        return None
    folded = _DROP.sub("", _ascii(name).casefold()).replace("&", " & ")
    tokens = _SEPARATE.sub(" ", folded).split()
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    terms, longest = _legal_terms()
    stripped = True
    while stripped and len(tokens) > 1:
        stripped = False
        for size in range(min(longest, len(tokens) - 1), 0, -1):
            if tuple(tokens[-size:]) in terms:
                tokens = tokens[:-size]
                stripped = True
                break
    return " ".join(tokens) or None


_STREET_WORDS: Final = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "highway": "hwy",
    "parkway": "pkwy",
    "terrace": "ter",
    "suite": "ste",
    "apartment": "apt",
    "building": "bldg",
    "floor": "fl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
    "strasse": "str",
    "straße": "str",
}


@_text_cache
def normalize_street(street: str | None) -> str | None:
    """A street line for comparison: common words abbreviated (Street → st, Suite → ste).

    >>> normalize_street("123 North Main Street, Suite 4")
    '123 n main st ste 4'
    """
    text = normalize_text(street)
    if text is None:
        return None
    return " ".join(_STREET_WORDS.get(word, word) for word in text.split())


@_text_cache
def normalize_city(city: str | None) -> str | None:
    """A city name for comparison ("Saint"/"St." folded to "st").

    >>> normalize_city("St. Louis") == normalize_city("Saint Louis")
    True
    """
    text = normalize_text(city)
    if text is None:
        return None
    words = ["st" if word in ("saint", "ste", "sainte") else word for word in text.split()]
    return " ".join(words)


@_text_cache
def normalize_postal_code(code: str | None) -> str | None:
    """A postal code without spaces or dashes, upper-case; a 9-digit US ZIP+4 keeps its ZIP.

    >>> normalize_postal_code("sw1a 1aa"), normalize_postal_code("94105-1234")
    ('SW1A1AA', '94105')
    """
    if code is None:
        return None
    compact = re.sub(r"[\s\-]", "", _ascii(code)).upper()
    if len(compact) == 9 and compact.isdigit():
        return compact[:5]
    return compact or None


@_text_cache
def phonetic_key(text: str | None) -> str | None:
    """A Metaphone code of a (person) name, for "sounds like" matching and blocking.

    >>> phonetic_key("Smith") == phonetic_key("Smyth")
    True
    """
    normalized = normalize_person_name(text)
    if normalized is None:
        return None
    return jellyfish.metaphone(normalized.replace(" ", "")) or None


@functools.cache
def _namer() -> NickNamer:
    return NickNamer()


@_text_cache
def name_variants(first_name: str | None) -> frozenset[str]:
    """The name itself, the names it is a nickname of, and its own nicknames.

    From the ``nicknames`` dataset, so Bob ≈ Robert and Jon ≈ Jonathan but Raj and Rajesh
    are different names (as in Salesforce's Name Variant method).

    >>> "robert" in name_variants("Bob"), "rajesh" in name_variants("Raj")
    (True, False)
    """
    normalized = normalize_person_name(first_name)
    if normalized is None:
        return frozenset()
    namer = _namer()
    variants = {normalized}
    variants.update(namer.canonicals_of(normalized))
    variants.update(namer.nicknames_of(normalized))
    return frozenset(variants)


@_text_cache
def canonical_names(first_name: str | None) -> frozenset[str]:
    """The formal names *first_name* is a nickname of (``{"robert"}`` for "Bob").

    >>> "robert" in canonical_names("Bob"), "robert" in canonical_names("Rob")
    (True, True)
    """
    normalized = normalize_person_name(first_name)
    if normalized is None:
        return frozenset()
    return frozenset(_namer().canonicals_of(normalized))


# Phone text that is a North American number in one of its everyday spellings: digits
# with spaces, dots, dashes and parentheses, a "+1" or "1" country code at most. Matching
# it, the E.164 form is "+1" and the ten national digits; anything else (extensions,
# letters, other countries, a national number starting with 0 or 1, 00 prefixes) goes to
# phonenumbers' parser. Property tests prove both give the same E.164 where this answers.
_NANP_PUNCTUATION: Final = str.maketrans("", "", " -.()")
_NANP_LONGEST: Final = 40


def _nanp_e164(text: str) -> str | None:
    """The E.164 form of a plainly written North American number, ``None`` to not decide.

    The fast path of phone matching for the default region (US): ``"(415) 555-1234"``,
    ``"415.555.1234"``, ``"+1 415 555 1234"`` and ``"1-415-555-1234"`` are read without
    phonenumbers' general parser (about 20× faster). ``None`` means "ask the full parser",
    never "not a phone number".
    """
    if len(text) > _NANP_LONGEST:
        return None
    stripped = text.strip()
    plus = stripped.startswith("+")
    digits = (stripped[1:] if plus else stripped).translate(_NANP_PUNCTUATION)
    if not digits.isdigit() or not digits.isascii():
        return None
    if len(digits) == 11 and digits[0] == "1":
        national = digits[1:]
    elif len(digits) == 10 and not plus:
        national = digits
    else:
        return None
    if national[0] in "01":
        return None
    if plus and not stripped[1:2].isdigit():
        return None
    return "+1" + national


def _sections(e164: str) -> tuple[str, str, str, str]:
    # Not cached: numbers are nearly all distinct, so a cache would only churn.
    digits = e164.lstrip("+")
    for size in (1, 2, 3):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    country, national = digits[:size], digits[size:]
    line, rest = national[-4:], national[:-4]
    exchange, area = rest[-3:], rest[:-3]
    return country, area, exchange, line


def phone_sections(phone: PhoneNumber | str | None) -> tuple[str, str, str, str] | None:
    """A phone number as (country code, area code, exchange, line), Salesforce's sections.

    Takes a :class:`PhoneNumber` or an E.164 string. The line is the last four digits
    and the exchange the three before; the rest of the
    national number is the area code (exact for North American numbers, an approximation
    elsewhere, which is why Salesforce recommends this method for North American data).

    >>> phone_sections(PhoneNumber.parse("+1 415 555 1234"))
    ('1', '415', '555', '1234')
    """
    if phone is None:
        return None
    if not isinstance(phone, PhoneNumber | str):
        raise _not_text("phone_sections", phone, "a PhoneNumber, E.164 text or None")
    e164 = phone.e164 if isinstance(phone, PhoneNumber) else str(phone)
    if not e164.startswith("+") or not e164[1:].isdigit() or len(e164) < 4:
        return None
    return _sections(e164)
