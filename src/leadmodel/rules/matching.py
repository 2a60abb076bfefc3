"""Matching rules: when are two records the same person or company?

A :class:`MatchingRule` is data: :class:`FieldMatcher` items (a field, the comparison
methods, a threshold, what a blank means) combined with Salesforce's filter logic
(``"(1 AND 2 AND 3) OR (1 AND 2 AND 4)"``), plus the :class:`BlockingKey` specs that say
which records are worth comparing at all. :func:`compare` applies a rule to two records and
returns a :class:`MatchResult` that explains itself: the score of every field, the method
that gave it, and the clause that matched.

Comparison methods return 0–100 and work on normalised values (see
:mod:`leadmodel.rules.normalize`): ``exact``, ``jaro_winkler``, ``edit_distance``,
``initials``, ``name_variant``, ``phonetic``, ``acronym``, ``phone_sections`` and
``token_set``. String metrics come from rapidfuzz.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.values import EmailAddress, PhoneNumber
from leadmodel.rules import normalize as norm
from leadmodel.rules._paths import ABSENT as _ABSENT
from leadmodel.rules._paths import fields_of as _fields_of
from leadmodel.rules._paths import getter as _getter
from leadmodel.rules.normalize import _nanp_e164

__all__ = [
    "EXACT_EMAIL",
    "EXACT_EMAIL_OR_PHONE",
    "METHODS",
    "NORMALIZERS",
    "PROBABILISTIC_LEAD_RULE",
    "STANDARD_ACCOUNT_RULE",
    "STANDARD_CONTACT_RULE",
    "STANDARD_LEAD_RULE",
    "BlockingKey",
    "CompiledRule",
    "FieldMatcher",
    "FieldScore",
    "MatchResult",
    "MatchingRule",
    "TermFrequencies",
    "compare",
    "record_id",
]

# -- comparison methods ----------------------------------------------------------------


def _exact(a: str, b: str) -> float:
    return 100.0 if a == b else 0.0


def _jaro_winkler(a: str, b: str) -> float:
    return float(JaroWinkler.normalized_similarity(a, b) * 100)


def _edit_distance(a: str, b: str) -> float:
    return float(Levenshtein.normalized_similarity(a, b) * 100)


def _initials(a: str, b: str) -> float:
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    short_words, long_words = short.split(), long.split()
    if not short_words or any(len(word) != 1 for word in short_words):
        return 0.0
    if len(short_words) > len(long_words):
        return 0.0
    letters = [word[0] for word in long_words[: len(short_words)]]
    return 100.0 if letters == short_words else 0.0


@functools.lru_cache(maxsize=1 << 16)
def _name_variant(a: str, b: str) -> float:
    # Memoised by pair: first names repeat (a few thousand in a table), and a sorted
    # block compares the same neighbouring names again and again.
    # The same name, a nickname of the other, or two nicknames of one name (Bob ≈ Rob).
    if a == b:
        return 100.0
    variants_a, variants_b = norm.name_variants(a), norm.name_variants(b)
    if b in variants_a or a in variants_b:
        return 100.0
    # Two nicknames meet in a formal name at least as long as either: the nicknames data
    # also lists formal names under short ones (William and Robert both under "Bill").
    longest = max(len(a), len(b))
    shared = norm.canonical_names(a) & norm.canonical_names(b)
    return 100.0 if any(len(name) >= longest for name in shared) else 0.0


@functools.lru_cache(maxsize=1 << 16)
def _phonetic(a: str, b: str) -> float:
    key_a, key_b = norm.phonetic_key(a), norm.phonetic_key(b)
    return 100.0 if key_a is not None and key_a == key_b else 0.0


def _acronym(a: str, b: str) -> float:
    if a == b:
        return 100.0
    for short, long in ((a, b), (b, a)):
        words = long.split()
        letters = short.replace(" ", "")
        is_acronym = len(words) >= 2 and len(letters) == len(words)
        if is_acronym and "".join(word[0] for word in words) == letters:
            return 100.0
    return 0.0


_PHONE_WEIGHTS: Final = (10, 50, 30, 10)


def _phone_sections(a: str, b: str) -> float:
    sections_a, sections_b = norm.phone_sections(a), norm.phone_sections(b)
    if sections_a is None or sections_b is None:
        return 0.0
    return float(
        sum(
            weight
            for weight, x, y in zip(_PHONE_WEIGHTS, sections_a, sections_b, strict=True)
            if x == y
        )
    )


def _token_set(a: str, b: str) -> float:
    return float(fuzz.token_set_ratio(a, b))


METHODS: Final[Mapping[str, Callable[[str, str], float]]] = {
    "exact": _exact,
    "jaro_winkler": _jaro_winkler,
    "edit_distance": _edit_distance,
    "initials": _initials,
    "name_variant": _name_variant,
    "phonetic": _phonetic,
    "acronym": _acronym,
    "phone_sections": _phone_sections,
    "token_set": _token_set,
}
"""The comparison methods by name; each takes two normalised values and returns 0–100."""

# -- normalisers -------------------------------------------------------------------------


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, EmailAddress):
        return value.normalized
    if isinstance(value, PhoneNumber):
        return value.e164
    if isinstance(value, str):
        return value
    return str(value)


def _email(value: object) -> str | None:
    if isinstance(value, EmailAddress):
        return value.normalized
    return norm.normalize_email(value) if isinstance(value, str) else None


def _email_domain(value: object) -> str | None:
    if isinstance(value, EmailAddress | str):
        return norm.email_domain_key(value)
    return None


def _phone(value: object) -> str | None:
    if isinstance(value, PhoneNumber):
        return value.e164
    if isinstance(value, str):
        # Most phones are plainly written North American numbers, read without
        # phonenumbers' parser (it costs about 160 µs a number); the rest are parsed.
        return _nanp_e164(value) or _parsed_phone(str(value))
    return None


@functools.lru_cache(maxsize=1 << 16)
def _parsed_phone(text: str) -> str | None:
    try:
        return PhoneNumber.parse(text).e164
    except ValidationError:
        return None


def _text_normalizer(
    function: Callable[[str | None], str | None],
) -> Callable[[object], str | None]:
    def normalize(value: object) -> str | None:
        return function(_as_text(value))

    return normalize


NORMALIZERS: Final[Mapping[str, Callable[[object], str | None]]] = {
    "text": _text_normalizer(norm.normalize_text),
    "person_name": _text_normalizer(norm.normalize_person_name),
    "company": _text_normalizer(norm.normalize_company),
    "street": _text_normalizer(norm.normalize_street),
    "city": _text_normalizer(norm.normalize_city),
    "postal_code": _text_normalizer(norm.normalize_postal_code),
    "email": _email,
    "email_domain": _email_domain,
    "phone": _phone,
    "website": _text_normalizer(norm.normalize_website),
}
"""The normalisers by name; each turns a raw field value into a comparable string."""

_MEMO_LIMIT: Final = 1 << 17
_MEMO_LONGEST: Final = 200  # longer text is rare: normalised each time, never kept
_UNSEEN: Final = object()
# Per normaliser, its prepared value of each text seen (bounded: forgotten when full).
# Names, companies, titles and cities repeat across a table, so each distinct value is
# normalised once. Phones and email addresses are nearly all distinct and have their own
# fast paths: a memo would only churn.
_MEMOS: Final[Mapping[str, dict[str, str | None]]] = {
    name: {} for name in NORMALIZERS if name not in ("phone", "email")
}


_DEFAULT_NORMALIZER: Final = {
    "first_name": "person_name",
    "last_name": "person_name",
    "company": "company",
    "name": "company",
    "email": "email",
    "phone": "phone",
    "mobile": "phone",
    "street": "street",
    "city": "city",
    "postal_code": "postal_code",
    "website": "website",
}


def _default_normalizer(field: str) -> str:
    return _DEFAULT_NORMALIZER.get(field.rpartition(".")[2], "text")


# -- rule values -------------------------------------------------------------------------

_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _matcher_problems(matcher: FieldMatcher) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("field", *[f"aliases[{i}]" for i in range(len(matcher.aliases))]):
        value = matcher.field if name == "field" else matcher.aliases[int(name[8:-1])]
        if not isinstance(value, str) or _PATH.fullmatch(value) is None:
            errors.append(
                FieldError(
                    name, "invalid", f"must be a dotted field path, not {describe_value(value)}"
                )
            )
    if not matcher.methods:
        errors.append(FieldError("methods", "empty", "needs at least one method"))
    errors.extend(
        FieldError(
            "methods", "unknown_method", f"{describe_value(m)} is not one of {', '.join(METHODS)}"
        )
        for m in matcher.methods
        if not _checks.one_of(m, METHODS)
    )
    problem = _checks.integer(0, 100)(matcher.threshold)
    if problem is not None:
        errors.append(FieldError("threshold", problem[0], problem[1]))
    if not _checks.one_of(matcher.blank, ("no_match", "match")):
        errors.append(FieldError("blank", "invalid", "must be 'no_match' or 'match'"))
    errors.extend(_weight_problems(matcher))
    if matcher.normalizer is not None and not _checks.one_of(matcher.normalizer, NORMALIZERS):
        errors.append(
            FieldError(
                "normalizer",
                "unknown_normalizer",
                f"{describe_value(matcher.normalizer)} is not one of {', '.join(NORMALIZERS)}",
            )
        )
    return errors


def _strings(values: Sequence[str]) -> tuple[str, ...]:
    return _checks.as_tuple(values)


def _ints(values: Sequence[int]) -> tuple[int, ...]:
    return _checks.as_tuple(values)


def _floats(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else _checks.as_tuple(values)


_MAX_FREQUENT_VALUES: Final = 10_000  # a TermFrequencies table's size bound


def _term_problems(table: TermFrequencies) -> list[FieldError]:
    errors: list[FieldError] = []
    values, frequencies = table.values, table.frequencies
    if len(values) > _MAX_FREQUENT_VALUES:
        errors.append(
            FieldError("values", "too_long", f"holds at most {_MAX_FREQUENT_VALUES} values")
        )
    if not all(isinstance(v, str) and v for v in values):
        errors.append(FieldError("values", "type", "values are non-empty normalised strings"))
    elif len(set(values)) != len(values):
        errors.append(FieldError("values", "duplicate", "values must be distinct"))
    if len(frequencies) != len(values):
        errors.append(FieldError("frequencies", "length", "needs one frequency per value"))
    for name, items in (("frequencies", frequencies), ("rest", (table.rest,))):
        if not all(
            isinstance(f, float | int) and not isinstance(f, bool) and 0 < f <= 1 for f in items
        ):
            errors.append(FieldError(name, "out_of_range", "frequencies are in (0, 1]"))
    return errors


@attrs.frozen
class TermFrequencies:
    """How often a field's most frequent values occur (term-frequency adjustments).

    In probabilistic mode, two records agreeing *exactly* on a frequent value are weaker
    evidence than two agreeing on a rare one: a shared switchboard number or a common
    surname says less than a shared mobile. The exact-agreement weight becomes
    ``log2(m / frequency)`` for a value in the table and ``log2(m / rest)`` for any other
    (Splink's term-frequency adjustment). :func:`~leadmodel.estimate_weights` learns the
    table; it is plain data, so :func:`~leadmodel.compare` stays pure.

    Args:
        values: normalised values (as :meth:`CompiledRule.prepare` gives them), at most
            10,000.
        frequencies: each value's share of the records with the field filled in.
        rest: the frequency used for values not in the table (the chance that a record
            with such a value shares it with another, on average).

    >>> table = TermFrequencies(("smith", "lee"), (0.02, 0.01), rest=0.0001)
    >>> table.frequency("smith"), table.frequency("zapata")
    (0.02, 0.0001)
    """

    values: tuple[str, ...] = attrs.field(converter=_checks.as_tuple)
    frequencies: tuple[float, ...] = attrs.field(converter=_checks.as_tuple)
    rest: float

    def __attrs_post_init__(self) -> None:
        errors = _term_problems(self)
        if errors:
            raise ValidationError("TermFrequencies", errors)

    def frequency(self, value: str) -> float:
        """The frequency of *value*: its own when in the table, else :attr:`rest`."""
        try:
            return self.frequencies[self.values.index(value)]
        except ValueError:
            return self.rest


def _weight_problems(matcher: FieldMatcher) -> list[FieldError]:
    errors: list[FieldError] = []
    levels = matcher.levels
    if any(isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= 100 for x in levels):
        errors.append(FieldError("levels", "type", "levels are scores from 0 to 100"))
    elif list(levels) != sorted(set(levels), reverse=True):
        errors.append(FieldError("levels", "order", "levels must be distinct, highest first"))
    count = len(matcher.agreement_levels) + 1
    for name in ("m", "u"):
        values = getattr(matcher, name)
        if values is None:
            continue
        if len(values) != count or not all(
            isinstance(v, float | int) and not isinstance(v, bool) and 0 < v < 1 for v in values
        ):
            errors.append(
                FieldError(name, "invalid", f"needs {count} probabilities strictly between 0 and 1")
            )
    if (matcher.m is None) != (matcher.u is None):
        errors.append(FieldError("m", "incomplete", "give m and u together"))
    if matcher.term_frequencies is not None and not isinstance(
        matcher.term_frequencies, TermFrequencies
    ):
        errors.append(
            FieldError(
                "term_frequencies",
                "type",
                f"must be TermFrequencies or None, not {type(matcher.term_frequencies).__name__}",
            )
        )
    if not all(isinstance(g, str) and _PATH.fullmatch(g) for g in matcher.gated_by):
        errors.append(FieldError("gated_by", "invalid", "names the fields of other matchers"))
    elif matcher.field in matcher.gated_by:
        errors.append(FieldError("gated_by", "self", "a field cannot gate itself"))
    return errors


@attrs.frozen
class FieldMatcher:
    """One field of a matching rule (Salesforce's matching rule item).

    Args:
        field: a dotted path (``"email"``, ``"address.city"``, ``"custom.date_of_birth"``).
        methods: comparison methods by name; the best score counts ("maximum" scoring).
        threshold: the score (0–100) at which the field matches.
        blank: what a blank value on either side means: ``"no_match"`` (Salesforce's
            default) or ``"match"``.
        normalizer: how values are normalised before comparing; by default inferred from
            the field name (names, company, email, phone, street, city, postal code, text).
        aliases: other paths to read on records that lack *field*, for cross-object
            rules (``FieldMatcher("company", aliases=("name",))`` compares a lead's
            company with an account's name).
        levels: probabilistic mode: score floors of the agreement levels, highest first
            (``(100, 90, 75)``: exact, close, similar, else different); default: the
            threshold alone (agree or disagree).
        m: probabilistic mode: for each agreement level (and the last, disagreement),
            the probability of that level among true matches — Fellegi and Sunter's
            *m* weights; learn them with ``estimate_weights``.
        u: probabilistic mode: the same among non-matches (the *u* weights).
        term_frequencies: probabilistic mode: the field's most frequent values, which
            weaken an exact agreement on them (see :class:`TermFrequencies`); learnt by
            ``estimate_weights``.
        gated_by: probabilistic mode: fields of other matchers that must all agree (reach
            an agreement level, blank does not) for this field to count at all; otherwise
            it counts as blank. ``FieldMatcher("company", gated_by=("first_name",
            "last_name"))`` keeps colleagues — one company and title, different names —
            from adding up company and title evidence into a match.
    """

    field: str
    methods: tuple[str, ...] = attrs.field(default=("exact",), converter=_strings)
    threshold: int = 100
    blank: Literal["no_match", "match"] = "no_match"
    normalizer: str | None = None
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    levels: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    m: tuple[float, ...] | None = attrs.field(default=None, converter=_floats)
    u: tuple[float, ...] | None = attrs.field(default=None, converter=_floats)
    term_frequencies: TermFrequencies | None = None
    gated_by: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        errors = _matcher_problems(self)
        if errors:
            raise ValidationError(f"FieldMatcher {describe_value(self.field)}", errors)

    @property
    def agreement_levels(self) -> tuple[int, ...]:
        """The score floors of the agreement levels (probabilistic mode).

        *levels*, or just the threshold. A score at or above ``levels[k]`` is level *k*;
        below all, the last level, disagreement.
        """
        return self.levels or (self.threshold,)

    def level(self, score: float) -> int:
        """The agreement level of *score*."""
        for index, floor in enumerate(self.agreement_levels):
            if score >= floor:
                return index
        return len(self.agreement_levels)

    @property
    def normalizer_name(self) -> str:
        """The normaliser used: the given one, or the one the field name implies."""
        return self.normalizer or _default_normalizer(self.field)


_BLOCKING_TRANSFORMS: Final = (
    "value",
    "initial",
    "metaphone",
    "substr",
    "phone_prefix",
    "email_domain",
)


def _blocking_part_problem(part: object) -> str | None:
    if not isinstance(part, str):
        return f"must be a string, not {describe_value(part)}"
    pieces = part.split(":")
    if _PATH.fullmatch(pieces[0]) is None:
        return f"{part!r} does not start with a field path"
    transform = pieces[1] if len(pieces) > 1 else "value"
    if transform not in _BLOCKING_TRANSFORMS:
        return f"{part!r}: transform must be one of {', '.join(_BLOCKING_TRANSFORMS)}"
    if transform == "substr":
        if len(pieces) != 4 or not pieces[2].isdigit() or not pieces[3].isdigit():
            return f"{part!r}: substr takes start and end, e.g. company:substr:2:5"
        if not 1 <= int(pieces[2]) <= int(pieces[3]):
            return f"{part!r}: substr positions count from 1 and end >= start"
    elif len(pieces) > 2:
        return f"{part!r}: {transform} takes no arguments"
    return None


@attrs.frozen
class BlockingKey:
    """A match key: records sharing a key are compared, others are not.

    *parts* are ``"field"`` or ``"field:transform"`` specs, joined into one key; a record
    gets the key only when every part is non-blank. Transforms: ``value`` (the normalised
    value), ``initial`` (its first letter), ``metaphone`` (its phonetic code),
    ``substr:START:END`` (characters START to END, from 1, as Salesforce's
    ``Company(2,5)``), ``phone_prefix`` (the national number without its last four
    digits) and ``email_domain`` (the email domain key: ``@domain``, or the whole
    address for free-mail providers). Fields are normalised as a :class:`FieldMatcher`
    on them would be.

    >>> BlockingKey(("first_name:initial", "last_name:metaphone", "email")).parts[1]
    'last_name:metaphone'
    """

    parts: tuple[str, ...] = attrs.field(converter=_strings)

    def __attrs_post_init__(self) -> None:
        errors = [FieldError("parts", "empty", "needs at least one part")] if not self.parts else []
        for i, part in enumerate(self.parts):
            problem = _blocking_part_problem(part)
            if problem is not None:
                errors.append(FieldError(f"parts[{i}]", "invalid", problem))
        if errors:
            raise ValidationError("BlockingKey", errors)


_LOGIC_TOKEN: Final = re.compile(r"\s*(?:(\d+)|(AND|OR)\b|([()]))", re.IGNORECASE)
_MAX_CLAUSES: Final = 256


def _parse_logic(logic: str, count: int) -> tuple[frozenset[int], ...]:
    """Salesforce filter logic over 1-based matcher numbers, as clauses (OR of ANDs)."""
    tokens: list[str] = []
    position = 0
    text = logic.strip()
    while position < len(text):
        match = _LOGIC_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(
                f"unexpected text at position {position}: {text[position : position + 10]!r}"
            )
        tokens.append((match.group(1) or match.group(2) or match.group(3)).upper())
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    index = 0

    def peek() -> str | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> str:
        nonlocal index
        if index >= len(tokens):
            raise ValueError("ends too early")
        index += 1
        return tokens[index - 1]

    def expression() -> list[frozenset[int]]:
        clauses = term()
        while peek() == "OR":
            take()
            clauses = clauses + term()
        return clauses

    def term() -> list[frozenset[int]]:
        clauses = factor()
        while peek() == "AND":
            take()
            right = factor()
            clauses = [a | b for a in clauses for b in right]
            if len(clauses) > _MAX_CLAUSES:
                raise ValueError(f"expands to more than {_MAX_CLAUSES} clauses")
        return clauses

    def factor() -> list[frozenset[int]]:
        token = take()
        if token == "(":  # noqa: S105 - a parenthesis, not a password
            inner = expression()
            if take() != ")":
                raise ValueError("a '(' is not closed")
            return inner
        if token.isdigit():
            number = int(token)
            if not 1 <= number <= count:
                raise ValueError(f"{number} is not a matcher number (1 to {count})")
            return [frozenset({number - 1})]
        raise ValueError(f"unexpected {token!r}")

    clauses = expression()
    if index != len(tokens):
        raise ValueError(f"unexpected {tokens[index]!r}")
    unique = list(dict.fromkeys(clauses))
    return tuple(unique)


DEFAULT_KEY_CAP: Final = 20
"""A :class:`MatchingRule`'s default block-size limit (``key_cap``): larger blocks are
compared with a sorted-neighbourhood window."""

DEFAULT_WINDOW: Final = 2
"""A :class:`MatchingRule`'s default sorted-neighbourhood window for oversized blocks."""

MAX_WINDOW: Final = 10_000
"""The largest ``window`` a :class:`MatchingRule` accepts."""


def _rule_problems(rule: MatchingRule) -> list[FieldError]:
    errors: list[FieldError] = []
    problem = _checks.text_problem(rule.name, 80)
    if problem is not None:
        errors.append(FieldError("name", problem[0], problem[1]))
    wrong = [
        FieldError(f"{path}[{i}]", "type", f"must be a {cls.__name__}, not {type(item).__name__}")
        for path, items, cls in (
            ("matchers", rule.matchers, FieldMatcher),
            ("blocking", rule.blocking, BlockingKey),
        )
        for i, item in enumerate(items)
        if not isinstance(item, cls)
    ]
    if wrong:
        return errors + wrong  # the checks below read the matchers' fields
    if not rule.matchers:
        errors.append(FieldError("matchers", "empty", "needs at least one field matcher"))
    if rule.logic is not None:
        try:
            _parse_logic(rule.logic, len(rule.matchers))
        except (ValueError, TypeError, AttributeError) as exc:
            errors.append(FieldError("logic", "invalid", f"{describe_value(rule.logic)}: {exc}"))
    fields = {m.field for m in rule.matchers}
    if rule.blank_ignored_with is not None and not _checks.one_of(rule.blank_ignored_with, fields):
        errors.append(
            FieldError(
                "blank_ignored_with", "unknown_field", "must be the field of one of the matchers"
            )
        )
    errors.extend(
        FieldError(
            f"matchers[{i}].gated_by",
            "unknown_field",
            f"{describe_value(gate)} is not the field of another matcher",
        )
        for i, m in enumerate(rule.matchers)
        for gate in m.gated_by
        if gate not in fields or gate == m.field
    )
    if not _checks.one_of(rule.mode, ("deterministic", "probabilistic")):
        errors.append(FieldError("mode", "invalid", "must be 'deterministic' or 'probabilistic'"))
    elif rule.mode == "probabilistic" and (
        rule.prior is None or any(m.m is None for m in rule.matchers)
    ):
        errors.append(
            FieldError(
                "mode",
                "no_weights",
                "probabilistic mode needs a prior and every matcher's m and u "
                "(see estimate_weights)",
            )
        )
    errors.extend(_calibration_problems(rule.calibration))
    if rule.prior is not None and not (isinstance(rule.prior, float | int) and 0 < rule.prior < 1):
        errors.append(FieldError("prior", "out_of_range", "must be strictly between 0 and 1"))
    if not (isinstance(rule.match_probability, float | int) and 0 < rule.match_probability < 1):
        errors.append(
            FieldError("match_probability", "out_of_range", "must be strictly between 0 and 1")
        )
    if rule.key_cap is not None:
        problem = _checks.integer(2, 10**9)(rule.key_cap)
        if problem is not None:
            errors.append(FieldError("key_cap", problem[0], problem[1]))
    problem = _checks.integer(2, MAX_WINDOW)(rule.window)
    if problem is not None:
        errors.append(FieldError("window", problem[0], problem[1]))
    return errors


def _calibration_problems(calibration: object) -> list[FieldError]:
    if calibration is None:
        return []
    if (
        not isinstance(calibration, tuple)
        or len(calibration) != 2  # a slope and an intercept
        or not all(
            isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)
            for x in calibration
        )
    ):
        return [FieldError("calibration", "invalid", "must be (slope, intercept): two numbers")]
    slope, intercept = calibration
    if not 0 < slope <= 1_000 or abs(intercept) > 1_000_000:
        return [
            FieldError(
                "calibration",
                "out_of_range",
                "the slope is from 0 (excluded) to 1000, the intercept within ±1e6",
            )
        ]
    return []


def _pair(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else _checks.as_tuple(values)


def _matchers(values: Sequence[FieldMatcher]) -> tuple[FieldMatcher, ...]:
    return _checks.as_tuple(values)


def _keys(values: Sequence[BlockingKey]) -> tuple[BlockingKey, ...]:
    return _checks.as_tuple(values)


@attrs.frozen(cache_hash=True)
class MatchingRule:
    """When two records are duplicates: field matchers, filter logic and blocking keys.

    Args:
        name: the rule's name (it prefixes its blocking keys).
        matchers: the fields compared; numbered from 1 in *logic*.
        logic: Salesforce filter logic such as ``"(1 AND 2 AND 3) OR (1 AND 2 AND 4)"``
            (``AND``, ``OR``, parentheses); ``None`` means all matchers must match.
        transpose_names: also compare first and last names swapped (Salesforce does).
        blank_ignored_with: in clauses that include the matcher of this field, blank
            values of the other fields are ignored (Salesforce's rule for email).
        blocking: the keys that pick the records worth comparing.
        key_cap: the block-size limit. Records sharing a blocking key are compared pair
            by pair while the key holds at most this many records; a larger (oversized)
            block is compared with a sorted neighbourhood instead: its members are sorted
            on their prepared values (twice: fields in matcher order, then in reverse
            order with the fields that are blocking keys by themselves last; ties by id)
            and each is compared with the next ``window - 1`` of each order, so a block
            of *n* records costs at most ``2 * n * (window - 1)`` comparisons, and
            nothing is dropped. ``None`` compares every pair of every
            block, whatever its size (cost grows with the square of the largest block:
            only for data known to have small blocks). Before this release an oversized
            key was skipped altogether; stored rules keep their cap, which now bounds the
            pairwise blocks instead.
        window: the sorted-neighbourhood window of oversized blocks (see *key_cap*): each
            record is compared with its ``window - 1`` nearest neighbours on each side in
            each sort order, 2 to 10,000 (default 2: the nearest record on each side, in
            two orders; identical records sort together, so copies chain into one group).
        mode: ``"deterministic"`` (thresholds and logic) or ``"probabilistic"``
            (Fellegi–Sunter: every matcher's agreement level adds its weight, and the
            total gives a match probability; *logic* is not used).
        prior: probabilistic mode: the probability that two records taken at random
            match (``estimate_weights`` learns it so; the blocking fields' agreement then
            adds their weight, and posteriors mean what they say on the pairs compared).
        match_probability: probabilistic mode: the probability at which a pair matches.
        calibration: probabilistic mode: ``(slope, intercept)`` applied to the match
            weight before it becomes a probability (``slope * weight + intercept``, in
            bits; Platt scaling), fitted on labelled pairs by
            :func:`~leadmodel.calibrate`; ``None`` leaves the weight as it is.
    """

    name: str
    matchers: tuple[FieldMatcher, ...] = attrs.field(converter=_matchers)
    logic: str | None = None
    transpose_names: bool = True
    blank_ignored_with: str | None = None
    blocking: tuple[BlockingKey, ...] = attrs.field(default=(), converter=_keys)
    key_cap: int | None = DEFAULT_KEY_CAP
    window: int = DEFAULT_WINDOW
    mode: Literal["deterministic", "probabilistic"] = "deterministic"
    prior: float | None = None
    match_probability: float = 0.5
    calibration: tuple[float, float] | None = attrs.field(default=None, converter=_pair)

    def __attrs_post_init__(self) -> None:
        errors = _rule_problems(self)
        if errors:
            raise ValidationError(f"MatchingRule {describe_value(self.name)}", errors)

    @property
    def clauses(self) -> tuple[frozenset[int], ...]:
        """The logic as clauses: each a set of 0-based matcher indexes that must all match."""
        if self.logic is None:
            return (frozenset(range(len(self.matchers))),)
        return _parse_logic(self.logic, len(self.matchers))

    def compile(self) -> CompiledRule:
        """Resolve fields, normalisers, methods and keys once, for comparing many records.

        The compiled rule is remembered per rule (a bounded cache), so services that compile
        the same rule for every record they save pay for it once.
        """
        found = _COMPILED_RULES.get(self)
        if found is None:
            found = CompiledRule(self)
            if len(_COMPILED_RULES) >= _COMPILED_LIMIT:
                _COMPILED_RULES.clear()
            _COMPILED_RULES[self] = found
        return found


_COMPILED_RULES: dict[MatchingRule, CompiledRule] = {}
_COMPILED_LIMIT: Final = 256


@attrs.frozen
class FieldScore:
    """How one field compared.

    Its best score, the method that gave it, and whether it matched (``None`` when a side
    was blank).
    """

    field: str
    score: int
    method: str | None
    matched: bool | None

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class MatchResult:
    """The outcome of comparing two records under a rule, with its reasons.

    Attributes:
        is_match: whether the rule says the records are duplicates.
        score: 0–100, the mean field score of the matched clause (or of every compared
            field when nothing matched).
        probability: the match probability in probabilistic mode, else ``None``.
        field_scores: every field's score, in matcher order.
        clause: the clause that matched, in field names (``"first_name AND last_name AND
            email"``), or ``None``.
    """

    _repr_html_ = result_html

    is_match: bool
    score: int
    probability: float | None
    field_scores: tuple[FieldScore, ...]
    clause: str | None

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as a tuple of its fields, restored without checking them again (as
        # attrs' own pickling does), in C rather than attrs' per-field Python loop:
        # distributed runs send matches between processes by the hundred thousand.
        return _restored_result, (
            self.is_match,
            self.score,
            self.probability,
            self.field_scores,
            self.clause,
        )


def _restored_result(
    is_match: bool,
    score: int,
    probability: float | None,
    field_scores: tuple[FieldScore, ...],
    clause: str | None,
) -> MatchResult:
    """A pickled :class:`MatchResult` back (see ``MatchResult.__reduce__``)."""
    result = object.__new__(MatchResult)
    for name, value in (
        ("is_match", is_match),
        ("score", score),
        ("probability", probability),
        ("field_scores", field_scores),
        ("clause", clause),
    ):
        object.__setattr__(result, name, value)
    return result


# -- compiled rules ----------------------------------------------------------------------


_MAX_READ: Final = 2_000


def _entity_accessor(cls: type, path: str) -> Callable[[Any], object] | None:
    """A fast reader of *path* on instances of the attrs class *cls*.

    ``None`` when the class has no such field (the path is absent on it).
    """
    first, _, rest = path.partition(".")
    if first not in _fields_of(cls):
        return None
    top = operator.attrgetter(first)
    if not rest:
        return top
    nested = _getter(rest)

    def read(record: Any) -> object:
        value = top(record)
        if value is None:
            return None
        found = nested(value)
        return None if found is _ABSENT else found

    return read


def _dict_path(path: str) -> _DictPath:
    """How :meth:`CompiledRule.prepare` reads *path* on a plain dict.

    The top key; for a two-level path its inner key, read directly when the value is a
    dict; and for nested paths the generic getter of the rest.
    """
    first, _, rest = path.partition(".")
    if not rest:
        return first, None, None
    return first, (rest if "." not in rest else None), _getter(rest)


def _class_accessors(cls: type, paths: Sequence[str]) -> tuple[Callable[[Any], object], ...]:
    """Fast readers of those of *paths* that the attrs class *cls* has, in order."""
    found = (_entity_accessor(cls, path) for path in paths)
    return tuple(accessor for accessor in found if accessor is not None)


def _field_reader(matcher: FieldMatcher) -> Callable[[Any], object]:
    paths = (matcher.field, *matcher.aliases)
    getters = [_getter(path) for path in paths]
    # Per attrs class, the accessors of the paths it has, resolved once.
    by_class: dict[type, tuple[Callable[[Any], object], ...]] = {}

    def read(record: Any) -> object:
        cls = record.__class__
        accessors = by_class.get(cls)
        if accessors is None:
            if cls is dict or not attrs.has(cls):
                accessors = ()
            else:
                accessors = _class_accessors(cls, paths) or (_none,)
                if len(by_class) < 64:
                    by_class[cls] = accessors
        values = (
            (a(record) for a in accessors)
            if accessors
            else (None if (v := get(record)) is _ABSENT else v for get in getters)
        )
        for value in values:
            if value is not None:
                # Raw text is cut before normalising, so hostile 10 MB values neither
                # cost time nor fill the normalisers' caches.
                if value.__class__ is str and len(value) > _MAX_READ:
                    return value[:_MAX_READ]
                return value
        return None

    return read


def _none(_: object) -> None:
    return None


def record_id(record: object) -> str:
    """The id of an entity or of a mapping with an ``"id"`` key.

    Raises:
        ValidationError: the record has no string id.
    """
    cls = record.__class__
    if cls is dict or (not attrs.has(cls) and isinstance(record, Mapping)):
        value = record.get("id")  # type: ignore[attr-defined]
    else:
        value = getattr(record, "id", None)
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "record",
            [
                FieldError(
                    "id", "required", f"records need a string id (got {describe_value(value)})"
                )
            ],
        )
    return value


Prepared = tuple[str | None, ...]
_Plan = tuple[
    tuple[
        tuple[Callable[[Any], object], ...],
        Callable[[object], str | None],
        dict[str, str | None] | None,
    ],
    ...,
]
_DictPath = tuple[str, str | None, Callable[[Any], object] | None]
_DictPlan = tuple[
    tuple[tuple[_DictPath, ...], Callable[[object], str | None], dict[str, str | None] | None],
    ...,
]
_KeyPart = tuple[int | None, Callable[[Any], str | None], Callable[[str], str | None] | None]
MAX_COMPARED: Final = 500
"""Values are compared on at most this many (normalised) characters."""


def _normalized(normalize: Callable[[object], str | None], raw: object) -> str | None:
    value = normalize(raw)
    return value[:MAX_COMPARED] if value is not None and len(value) > MAX_COMPARED else value


def _prepared_value(
    raw: object, normalize: Callable[[object], str | None], memo: dict[str, str | None] | None
) -> str | None:
    """The normalised *raw* value; for text, cut first and looked up in *memo* if given."""
    if raw.__class__ is not str:
        return _normalized(normalize, raw)
    text: str = raw
    if len(text) > _MAX_READ:
        text = text[:_MAX_READ]
    if memo is None or len(text) > _MEMO_LONGEST:
        return _normalized(normalize, text)
    value = memo.get(text, _UNSEEN)
    if value is _UNSEEN:
        value = _normalized(normalize, text)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = value
    return value  # type: ignore[return-value]


_MATCHED_MEMO: Final = 1 << 17
"""At most this many field comparisons are remembered per compiled rule."""

_BLANK_SCORE: Final[tuple[float, None, None]] = (0.0, None, None)
_UNKNOWN: Final = object()


class CompiledRule:
    """A :class:`MatchingRule` ready to apply to many records.

    Fields, normalisers and methods are resolved once. Build it with
    :meth:`MatchingRule.compile`.
    """

    __slots__ = (
        "_calibration",
        "_clause_order",
        "_clause_plan",
        "_clause_text",
        "_clauses",
        "_comparators",
        "_dict_plan",
        "_exact_scores",
        "_field_scores_seen",
        "_fields",
        "_first",
        "_gated",
        "_gates",
        "_key_parts",
        "_last",
        "_memos",
        "_normalizers",
        "_plans",
        "_prior_weight",
        "_probabilistic",
        "_readers",
        "_score_memo",
        "_term_weights",
        "_thresholds",
        "_weights",
        "rule",
    )

    def __init__(self, rule: MatchingRule) -> None:
        if not isinstance(rule, MatchingRule):
            raise ValidationError(
                "CompiledRule",
                [FieldError("rule", "type", f"must be a MatchingRule, not {type(rule).__name__}")],
            )
        self.rule = rule
        matchers = rule.matchers
        self._readers = tuple(_field_reader(m) for m in matchers)
        self._plans: dict[type, _Plan] = {}
        self._normalizers = tuple(NORMALIZERS[m.normalizer_name] for m in matchers)
        self._memos = tuple(_MEMOS.get(m.normalizer_name) for m in matchers)
        self._dict_plan: _DictPlan = tuple(
            (tuple(_dict_path(path) for path in (m.field, *m.aliases)), normalize, memo)
            for m, normalize, memo in zip(matchers, self._normalizers, self._memos, strict=True)
        )
        self._comparators = tuple(
            tuple((name, METHODS[name]) for name in m.methods) for m in matchers
        )
        self._thresholds = tuple(m.threshold for m in matchers)
        self._score_memo: dict[tuple[int, str, str], tuple[float, str | None, bool]] = {}
        # Equal values score 100 by the first method, whatever the methods.
        self._exact_scores = tuple(
            (100.0, methods[0][0], threshold <= 100.0)
            for methods, threshold in zip(self._comparators, self._thresholds, strict=True)
        )
        ignored = next(
            (i for i, m in enumerate(matchers) if m.field == rule.blank_ignored_with), None
        )
        # Per clause, the matchers whose blank counts as a match: those marked so, plus
        # (in clauses with the blank_ignored_with field) every other field of the clause.
        blank_ok = {i for i, m in enumerate(matchers) if m.blank == "match"}
        self._clauses = tuple(
            (
                clause,
                frozenset(
                    blank_ok | (clause - {ignored})
                    if ignored is not None and ignored in clause
                    else blank_ok
                ),
            )
            for clause in rule.clauses
        )
        # The clauses as the fast test walks them: (matcher, blank counts as a match).
        self._clause_plan = tuple(
            tuple((i, i in blank) for i in clause) for clause, blank in self._clauses
        )
        names = [m.field.rpartition(".")[2] for m in matchers]
        self._probabilistic = rule.mode == "probabilistic"
        self._weights = tuple(
            tuple(math.log2(m / u) for m, u in zip(mt.m, mt.u, strict=True))
            if mt.m is not None and mt.u is not None
            else ()
            for mt in matchers
        )
        self._prior_weight = (
            math.log2(rule.prior / (1 - rule.prior)) if rule.prior is not None else 0.0
        )
        # Exact agreement on a frequent value weighs log2(m / frequency): per matcher, the
        # weights of its table's values and of any other value.
        self._term_weights = tuple(
            (
                {
                    value: math.log2(mt.m[0] / frequency)
                    for value, frequency in zip(
                        mt.term_frequencies.values, mt.term_frequencies.frequencies, strict=True
                    )
                },
                math.log2(mt.m[0] / mt.term_frequencies.rest),
            )
            if mt.term_frequencies is not None and mt.m is not None
            else None
            for mt in matchers
        )
        self._calibration = rule.calibration or (1.0, 0.0)
        index_of = {m.field: i for i, m in enumerate(matchers)}
        self._gates = tuple(tuple(index_of[g] for g in m.gated_by) for m in matchers)
        self._gated = any(self._gates)
        self._fields = tuple(m.field for m in matchers)
        self._clause_order = {clause: sorted(clause) for clause, _ in self._clauses}
        self._clause_text = {
            clause: " AND ".join(matchers[i].field for i in sorted(clause))
            for clause, _ in self._clauses
        }
        # Keyed by (field, its score tuple); a score's value is rounded in the FieldScore.
        self._field_scores_seen: dict[
            tuple[str, tuple[float, str | None, bool | None]], FieldScore
        ] = {}
        self._first = names.index("first_name") if "first_name" in names else None
        self._last = names.index("last_name") if "last_name" in names else None
        if not rule.transpose_names:
            self._first = self._last = None
        self._key_parts: tuple[tuple[str, tuple[_KeyPart, ...]], ...] = tuple(
            (f"{rule.name}#{number}:", tuple(_key_part(part, matchers) for part in key.parts))
            for number, key in enumerate(rule.blocking, start=1)
        )

    # -- preparing records ---------------------------------------------------------------

    def prepare(self, record: object) -> Prepared:
        """The normalised value of every matcher's field for *record* (``None`` = blank).

        Values are compared on their first 500 characters, so a hostile 10 MB value costs
        no more than a long one.
        """
        if record.__class__ is dict:
            return self._prepare_dict(record)
        plan = self._plans.get(record.__class__)
        if plan is None:
            plan = self._plan_for(record.__class__)
        values: list[str | None] = []
        append = values.append
        for accessors, normalize, memo in plan:
            raw = None
            for access in accessors:
                raw = access(record)
                if raw is not None:
                    break
            append(None if raw is None else _prepared_value(raw, normalize, memo))
        return tuple(values)

    def _prepare_dict(self, record: dict[str, Any]) -> Prepared:
        """:meth:`prepare` for a plain dict, its fields read without a call each."""
        get = record.get
        values: list[str | None] = []
        append = values.append
        for paths, normalize, memo in self._dict_plan:
            raw = None
            for top, inner, nested in paths:
                raw = get(top)
                if raw is not None and nested is not None:
                    if inner is not None and raw.__class__ is dict:
                        raw = raw.get(inner)
                    else:
                        raw = nested(raw)
                        if raw is _ABSENT:
                            raw = None
                if raw is not None:
                    break
            append(None if raw is None else _prepared_value(raw, normalize, memo))
        return tuple(values)

    def _plan_for(self, cls: type) -> _Plan:
        """How to read and normalise every matcher's field on records of *cls*."""
        readers: tuple[tuple[Callable[[Any], object], ...], ...]
        if not attrs.has(cls):
            readers = tuple((read,) for read in self._readers)
        else:
            readers = tuple(
                _class_accessors(cls, (m.field, *m.aliases)) for m in self.rule.matchers
            )
        plan = tuple(zip(readers, self._normalizers, self._memos, strict=True))
        if len(self._plans) < 64:
            self._plans[cls] = plan
        return plan

    def keys(self, record: object) -> tuple[str, ...]:
        """The blocking keys of *record*, each prefixed with the rule name and key number."""
        return self.prepare_keyed(record)[1]

    def prepare_keyed(self, record: object) -> tuple[Prepared, tuple[str, ...]]:
        """:meth:`prepare` and :meth:`keys` at once, reading each field once."""
        prepared = self.prepare(record)
        keys: list[str] = []
        for prefix, parts in self._key_parts:
            values: list[str] = []
            for index, read, transform in parts:
                value = prepared[index] if index is not None else read(record)
                if value and transform is not None:
                    value = transform(value)
                if not value:
                    break
                values.append(value)
            else:
                keys.append(prefix + "|".join(values))
        return prepared, tuple(keys)

    def prepare_blocked(self, record: object) -> tuple[Prepared, tuple[tuple[Any, ...], ...]]:
        """:meth:`prepare`, and the keys as tuples ``(key number, *parts)``.

        The same keys as :meth:`keys` without building their text: for in-memory
        blocking, where only equality matters.
        """
        prepared = self.prepare(record)
        blocks = []
        for number, (_, parts) in enumerate(self._key_parts, start=1):
            values: list[Any] = [number]
            for index, read, transform in parts:
                value = prepared[index] if index is not None else read(record)
                if value and transform is not None:
                    value = transform(value)
                if not value:
                    break
                values.append(value)
            else:
                blocks.append(tuple(values))
        return prepared, tuple(blocks)

    # -- comparing -----------------------------------------------------------------------

    def _field_scores(
        self, a: Prepared, b: Prepared
    ) -> list[tuple[float, str | None, bool | None]]:
        scores: list[tuple[float, str | None, bool | None]] = []
        append = scores.append
        exact = self._exact_scores
        for i in range(len(exact)):
            x, y = a[i], b[i]
            if x is None or y is None:
                append(_BLANK_SCORE)
            elif x == y:
                append(exact[i])
            else:
                append(self._field_score(i, x, y))
        return scores

    def _field_score(self, i: int, x: str, y: str) -> tuple[float, str | None, bool]:
        """Field *i*'s best score, method and verdict for two different non-blank values.

        Memoised by value pair (bounded): names and companies repeat, and a sorted block
        compares the same neighbouring values again and again; the clause test and the
        full scores of a match share the memo.
        """
        memo = self._score_memo
        key = (i, x, y)
        found = memo.get(key)
        if found is None:
            methods = self._comparators[i]
            best, best_method = -1.0, methods[0][0]
            for method_name, method in methods:
                value = method(x, y)
                if value > best:
                    best, best_method = value, method_name
                    if best >= 100:
                        break
            found = (best, best_method, best >= self._thresholds[i])
            if len(memo) < _MATCHED_MEMO:
                memo[key] = found
        return found

    def _matched_clause(
        self, scores: list[tuple[float, str | None, bool | None]]
    ) -> frozenset[int] | None:
        for clause, blank_ok in self._clauses:
            for i in clause:
                matched = scores[i][2]
                if matched is True or (matched is None and i in blank_ok):
                    continue
                break
            else:
                if any(scores[i][2] is True for i in clause):
                    return clause
        return None

    def _transposed(self, b: Prepared, a: Prepared) -> Prepared | None:
        """*b* with first and last names swapped, to compare with *a*; ``None`` when moot.

        Only when both records have both names: swapping a blank name in would turn a
        disagreement into a blank that the email clauses ignore (Ng and Stone with one
        mailbox are not one person), and the test must be symmetric.
        """
        first, last = self._first, self._last
        if first is None or last is None or b[first] == b[last]:
            return None
        if b[first] is None or b[last] is None or a[first] is None or a[last] is None:
            return None
        swapped = list(b)
        swapped[first], swapped[last] = b[last], b[first]
        return tuple(swapped)

    def forget_comparisons(self) -> None:
        """Drop the remembered field comparisons (a bounded memo; results never change)."""
        self._score_memo = {}

    def _some_clause_matches(self, a: Prepared, b: Prepared) -> bool:
        """Whether a clause matches, comparing each field only when a clause needs it.

        The same decision as :meth:`_matched_clause` over every field's score; a field
        that fails ends each clause that needs it, so most non-matching pairs cost a
        comparison or two of names. (The field test is written out here, not called: this
        loop runs for every candidate pair.)
        """
        known: list[object] = [_UNKNOWN] * len(a)
        memo = self._score_memo
        for clause in self._clause_plan:
            agreed = False
            for i, blank_ok in clause:
                matched = known[i]
                if matched is _UNKNOWN:
                    x, y = a[i], b[i]
                    if x is None or y is None:
                        matched = None
                    elif x == y:
                        matched = True
                    else:
                        found = memo.get((i, x, y))
                        matched = (found if found is not None else self._field_score(i, x, y))[2]
                    known[i] = matched
                if matched is True:
                    agreed = True
                elif matched is not None or not blank_ok:
                    break
            else:
                if agreed:
                    return True
        return False

    def match_prepared(self, a: Prepared, b: Prepared) -> MatchResult | None:
        """The result when two prepared records match, else ``None`` (a faster test).

        In deterministic mode the clauses are tried first with each field compared only
        when a clause needs it, so most non-matching pairs cost one or two comparisons.
        """
        if not self._probabilistic and not self._some_clause_matches(a, b):
            pair = self._swapped_pair(a, b)
            if pair is None or not self._some_clause_matches(*pair):
                return None
        result = self.compare_prepared(a, b)
        return result if result.is_match else None

    def levels_prepared(self, a: Prepared, b: Prepared) -> tuple[int | None, ...]:
        """Each matcher's agreement level for two prepared records.

        ``None`` when a side is blank, or when the matcher is gated and one of its gate
        fields does not agree (see ``FieldMatcher.gated_by``). With ``transpose_names``, *b*
        is read with first and last names swapped when that agrees better (see
        :meth:`oriented`), as comparing does.
        """
        return self._levels(self._field_scores(a, self.oriented(a, b)))

    def oriented(self, a: Prepared, b: Prepared) -> Prepared:
        """*b*, or *b* with first and last names swapped when that agrees better with *a*."""
        swapped = self._transposed(b, a)
        first, last = self._first, self._last
        if swapped is None or first is None or last is None:
            return b
        x_first, x_last, y_first, y_last = a[first], a[last], b[first], b[last]
        # Equal names decide at once, and names whose initials do not cross (almost every
        # pair of strangers) are not swapped: few pairs reach the comparison methods.
        if x_first == y_first or x_last == y_last:
            return b
        if x_first == y_last or x_last == y_first:
            return swapped
        if not (x_first and x_last and y_first and y_last) or (
            x_first[0] != y_last[0] or x_last[0] != y_first[0]
        ):
            return b

        def agreement(other: Prepared) -> float:
            total = 0.0
            for i in (first, last):
                x, y = a[i], other[i]
                if x is not None and y is not None:
                    total += max(method(x, y) for _, method in self._comparators[i])
            return total

        return swapped if agreement(swapped) > agreement(b) else b

    def _levels(
        self, scores: list[tuple[float, str | None, bool | None]]
    ) -> tuple[int | None, ...]:
        levels = [
            None if matched is None else matcher.level(score)
            for matcher, (score, _, matched) in zip(self.rule.matchers, scores, strict=True)
        ]
        matchers = self.rule.matchers
        # A gated field counts only when all its gate fields reach an agreement level
        # (below the last level, disagreement); gates read the ungated levels.
        gated = [
            i
            for i, gates in enumerate(self._gates)
            if gates
            and not all(
                (level := levels[g]) is not None and level < len(matchers[g].agreement_levels)
                for g in gates
            )
        ]
        for i in gated:
            levels[i] = None
        return tuple(levels)

    def _weight(
        self, scores: list[tuple[float, str | None, bool | None]], a: Prepared, b: Prepared
    ) -> float:
        total = self._prior_weight
        levels = self._levels(scores) if self._gated else None
        terms_of = self._term_weights
        for i, (matcher, weights, (score, _, matched)) in enumerate(
            zip(self.rule.matchers, self._weights, scores, strict=True)
        ):
            level = matcher.level(score) if levels is None and matched is not None else None
            if levels is not None:
                level = levels[i]
            if level is None:
                continue
            terms = terms_of[i]
            if level == 0 and terms is not None and a[i] == b[i]:
                total += terms[0].get(a[i], terms[1])  # type: ignore[arg-type]
            else:
                total += weights[level]
        return total

    def _names_after(self, a: Prepared, b: Prepared) -> bool:
        """Whether *a*'s (first, last) names sort after *b*'s (blank as empty)."""
        first, last = self._first, self._last
        if first is None or last is None:
            return False
        return (a[first] or "", a[last] or "") > (b[first] or "", b[last] or "")

    def _swapped_pair(self, a: Prepared, b: Prepared) -> tuple[Prepared, Prepared] | None:
        """*a* and *b* with the names of the side whose names sort last swapped.

        Swapping the same side whichever way round the pair comes makes ``compare(a, b)``
        and ``compare(b, a)`` test the same pairing (first name and last name are
        compared by different methods, so swapping *b* in one and *a* in the other is
        not the same test). ``None`` when there is nothing to swap.
        """
        if self._names_after(a, b):
            x = self._transposed(a, b)
            return None if x is None else (x, b)
        y = self._transposed(b, a)
        return None if y is None else (a, y)

    def _compare_probabilistic(self, a: Prepared, b: Prepared) -> MatchResult:
        scores = self._field_scores(a, b)
        weight = self._weight(scores, a, b)
        transposed = False
        # The names of the side whose names sort last are swapped, so compare(a, b) and
        # compare(b, a) weigh the same pairing even when first and last name weigh
        # differently.
        x, y = (
            (self._transposed(a, b), b) if self._names_after(a, b) else (a, self._transposed(b, a))
        )
        if x is not None and y is not None:
            swapped_scores = self._field_scores(x, y)
            swapped_weight = self._weight(swapped_scores, x, y)
            if swapped_weight > weight:
                scores, weight, transposed = swapped_scores, swapped_weight, True
        slope, intercept = self._calibration
        weight = slope * weight + intercept
        probability = 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -1000 else 0.0
        is_match = probability >= self.rule.match_probability
        clause = None
        if is_match:
            clause = f"match weight {weight:+.2f}"
            if transposed:
                clause += " (first and last names transposed)"
        matchers = self.rule.matchers
        return MatchResult(
            is_match=is_match,
            score=round(probability * 100),
            probability=probability,
            field_scores=tuple(
                FieldScore(
                    m.field,
                    round(s[0]),
                    s[1],
                    None if s[2] is None else m.level(s[0]) < len(m.agreement_levels),
                )
                for m, s in zip(matchers, scores, strict=True)
            ),
            clause=clause,
        )

    def compare_prepared(self, a: Prepared, b: Prepared) -> MatchResult:
        """Compare two prepared records (see :meth:`prepare`)."""
        if self._probabilistic:
            return self._compare_probabilistic(a, b)
        scores = self._field_scores(a, b)
        clause = self._matched_clause(scores)
        transposed = False
        if clause is None:
            pair = self._swapped_pair(a, b)
            if pair is not None:
                swapped_scores = self._field_scores(*pair)
                swapped_clause = self._matched_clause(swapped_scores)
                if swapped_clause is not None:
                    scores, clause, transposed = swapped_scores, swapped_clause, True
        return self._result(scores, clause, transposed)

    def _result(
        self,
        scores: list[tuple[float, str | None, bool | None]],
        clause: frozenset[int] | None,
        transposed: bool,
    ) -> MatchResult:
        fields = self._fields
        counted = self._clause_order[clause] if clause is not None else range(len(scores))
        compared = [scores[i][0] for i in counted if scores[i][2] is not None]
        score = round(sum(compared) / len(compared)) if compared else 0
        clause_text = None
        if clause is not None:
            clause_text = self._clause_text[clause]
            if transposed:
                clause_text += " (first and last names transposed)"
        # Field scores are small immutable values that repeat (a field, a whole-number
        # score, a method); sharing them saves millions of allocations in a table run.
        interned = self._field_scores_seen
        field_scores = []
        for key in zip(fields, scores, strict=True):
            found = interned.get(key)
            if found is None:
                field, (value, method, matched) = key
                found = FieldScore(field, round(value), method, matched)
                if len(interned) < 100_000:
                    interned[key] = found
            field_scores.append(found)
        return MatchResult(
            is_match=clause is not None,
            score=score,
            probability=None,
            field_scores=tuple(field_scores),
            clause=clause_text,
        )

    def compare(self, a: object, b: object) -> MatchResult:
        """Compare two records (entities or mappings)."""
        return self.compare_prepared(self.prepare(a), self.prepare(b))


def _domain_key_of_normalized(email: str) -> str | None:
    domain = email.rpartition("@")[2]
    return email if domain in norm.free_email_domains() else "@" + domain


def _phone_prefix(e164: str) -> str | None:
    if e164.startswith("+1") and len(e164) >= 4 and e164[1:].isdigit():
        # Country code 1: the area code and exchange are the national number's start.
        return e164[2:-4] or None
    sections = norm.phone_sections(e164)
    return (sections[1] + sections[2]) or None if sections else None


def _memoized_transform(transform: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """*transform* of prepared values, remembering its results (bounded)."""
    memo: dict[str, str | None] = {}

    def run(value: str) -> str | None:
        found = memo.get(value, _UNSEEN)
        if found is _UNSEEN:
            found = transform(value)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = found
        return found  # type: ignore[return-value]

    return run


def _substring(start: int, end: int) -> Callable[[str], str | None]:
    def cut(value: str) -> str | None:
        return value.replace(" ", "")[start:end] or None

    return cut


_KEY_NORMALIZER: Final = {"phone_prefix": "phone", "email_domain": "email"}


def _key_part(spec: str, matchers: Sequence[FieldMatcher]) -> _KeyPart:
    """How to compute one part of a key.

    From a matcher's prepared value when a matcher reads the same field the same way, else
    by reading the record; then a transform.
    """
    pieces = spec.split(":")
    path, transform_name = pieces[0], (pieces[1] if len(pieces) > 1 else "value")
    wanted = _KEY_NORMALIZER.get(transform_name) or FieldMatcher(path).normalizer_name
    index = next(
        (i for i, m in enumerate(matchers) if m.field == path and m.normalizer_name == wanted),
        None,
    )
    reader, normalizer = _field_reader(FieldMatcher(path)), NORMALIZERS[wanted]

    def read(record: Any) -> str | None:
        return normalizer(reader(record))

    transform: Callable[[str], str | None] | None
    if transform_name == "initial":
        transform = operator.itemgetter(0)
    elif transform_name == "metaphone":
        transform = _memoized_transform(norm.phonetic_key)
    elif transform_name == "substr":
        transform = _substring(int(pieces[2]) - 1, int(pieces[3]))
    elif transform_name == "phone_prefix":
        transform = _phone_prefix
    elif transform_name == "email_domain":
        transform = _domain_key_of_normalized
    else:
        transform = None  # the value itself
    return index, read, transform


def compare(a: object, b: object, rule: MatchingRule | CompiledRule) -> MatchResult:
    """Compare two records (entities or mappings with the rule's fields) under *rule*.

    Symmetric: ``compare(a, b, rule)`` and ``compare(b, a, rule)`` agree on the match,
    the score and the clause.

    >>> from leadmodel import EmailAddress, Lead
    >>> a = Lead(
    ...     id="1",
    ...     first_name="Bob",
    ...     last_name="Smith",
    ...     company="Acme Inc",
    ...     email=EmailAddress.parse("bob@acme.com"),
    ... )
    >>> b = Lead(
    ...     id="2",
    ...     first_name="Robert",
    ...     last_name="Smyth",
    ...     company="ACME",
    ...     email=EmailAddress.parse("BOB@acme.com"),
    ... )
    >>> result = compare(a, b, STANDARD_LEAD_RULE)
    >>> result.is_match, result.clause
    (True, 'first_name AND last_name AND email')
    """
    compiled = rule if isinstance(rule, CompiledRule) else CompiledRule(rule)
    return compiled.compare(a, b)


# -- presets -----------------------------------------------------------------------------

_FIRST: Final = FieldMatcher(
    "first_name", ("exact", "initials", "jaro_winkler", "name_variant"), threshold=85
)
_LAST: Final = FieldMatcher(
    "last_name", ("exact", "edit_distance", "jaro_winkler", "phonetic"), threshold=90
)
_TITLE: Final = FieldMatcher("title", ("acronym", "exact", "token_set"), threshold=50)
_EMAIL: Final = FieldMatcher("email", ("exact",), threshold=100)
_PHONE: Final = FieldMatcher("phone", ("phone_sections",), threshold=80)
# Salesforce's match keys start with the first initial; ours leave it out, so nicknames
# with another initial (Bob and Robert, Peggy and Margaret) still meet for comparison, and
# use the whole normalised company (legal forms and "Group" dropped) rather than
# Company(2,5), whose blocks grow with the table (every "Acme …" company shares "cme");
# the exact phone is a key of its own, and the first name with the title and company
# catches a typo that changes the last name's sound (the clauses it can serve need the
# title and company; without the title, a big account's Johns would all meet). There is no
# Metaphone(last name) + phone-prefix key: on every benchmark it found no pair the other
# keys missed, and at a switchboard it turns into a last-name key over the whole office,
# doubling the comparisons (issue 16); a rule that wants it adds
# BlockingKey(("last_name:metaphone", "phone:phone_prefix")).
_PERSON_KEYS: Final = (
    BlockingKey(("email",)),
    BlockingKey(("phone",)),
    BlockingKey(("last_name:metaphone", "company")),
    BlockingKey(("last_name:metaphone", "address.street:substr:1:6")),
    BlockingKey(("first_name", "title", "company")),
)
# Salesforce's seven clauses, then three that forgive one mistyped name when the rest
# agrees: the last name, company and email; the last name, company and the same phone
# number; the first name, title, company and the same phone number. The same number, not
# Salesforce's phone sections: an office's numbers share their area code and exchange.
_PERSON_LOGIC: Final = (
    "(1 AND 2 AND 3 AND 4) OR (1 AND 2 AND 5) OR (1 AND 2 AND 6 AND 4) OR "
    "(1 AND 2 AND 7 AND (8 OR 9 OR 6)) OR (1 AND 2 AND 7 AND 3) OR (1 AND 2 AND 3 AND 5) OR "
    "(1 AND 2 AND 6) OR (2 AND 4 AND 5) OR (2 AND 4 AND 10 AND 11) OR (1 AND 3 AND 4 AND 10)"
)
_SAME_PHONE: Final = FieldMatcher("phone", ("exact",), threshold=100)
# The clause that forgives a mistyped first name on a shared phone still needs first names
# that do not contradict each other: colleagues Mary and John Smith share a switchboard.
_FIRST_NOT_CONTRADICTED: Final = FieldMatcher(
    "first_name", ("exact", "initials", "jaro_winkler", "name_variant"), threshold=80,
    blank="match",
)  # fmt: skip

STANDARD_LEAD_RULE: Final = MatchingRule(
    name="standard_lead",
    matchers=(
        _FIRST,
        _LAST,
        _TITLE,
        FieldMatcher(
            "company", ("acronym", "exact", "edit_distance"), threshold=70, aliases=("name",)
        ),
        _EMAIL,
        _PHONE,
        FieldMatcher(
            "address.street", ("exact", "edit_distance"), threshold=80,
            aliases=("mailing_address.street", "billing_address.street"),
        ),
        FieldMatcher(
            "address.city", ("exact", "edit_distance"), threshold=85,
            aliases=("mailing_address.city", "billing_address.city"),
        ),
        FieldMatcher(
            "address.postal_code", ("exact",), threshold=100,
            aliases=("mailing_address.postal_code", "billing_address.postal_code"),
        ),
        _SAME_PHONE,
        _FIRST_NOT_CONTRADICTED,
    ),
    logic=_PERSON_LOGIC,
    blank_ignored_with="email",
    blocking=_PERSON_KEYS,
    key_cap=DEFAULT_KEY_CAP,
    window=DEFAULT_WINDOW,
)  # fmt: skip
"""Salesforce's standard lead matching rule: fuzzy first and last name (compared
transposed too) with title, company, email, phone or mailing address, blanks ignored in the
email clauses; and, forgiving one mistyped name, the last name with the company and the
email, or the same phone number with a first name that does not contradict (a blank one, or
one scoring 80), or the first name with the title, company and the same phone number (a
tenth matcher, ``phone`` compared exactly, and an eleventh, the looser first name, serve
these). Match keys on email,
phone, Metaphone(last name) with the company or the street, and the first name with the
title and company. Blocks of up to 20 records are compared pair by
pair, larger ones (a switchboard phone shared by a whole company) with a sorted-neighbourhood
window of 2."""

STANDARD_CONTACT_RULE: Final = attrs.evolve(
    STANDARD_LEAD_RULE,
    name="standard_contact",
    matchers=tuple(
        attrs.evolve(m, field=m.aliases[0], aliases=(m.field, *m.aliases[1:]))
        if m.field.startswith("address.")
        else m
        for m in STANDARD_LEAD_RULE.matchers
    ),
    blocking=(
        *_PERSON_KEYS[:3],
        BlockingKey(("last_name:metaphone", "mailing_address.street:substr:1:6")),
        *_PERSON_KEYS[4:],
    ),
)
"""Salesforce's standard contact rule: the lead rule's equation over a contact's fields
(mailing address); it reads a lead's address too, so leads and contacts cross-match."""

STANDARD_ACCOUNT_RULE: Final = MatchingRule(
    name="standard_account",
    matchers=(
        FieldMatcher("name", ("acronym", "exact", "token_set"), threshold=70, aliases=("company",)),
        FieldMatcher(
            "billing_address.street", ("exact", "edit_distance"), threshold=80,
            aliases=("address.street",),
        ),
        FieldMatcher(
            "billing_address.city", ("exact", "edit_distance"), threshold=85,
            aliases=("address.city",),
        ),
        FieldMatcher(
            "billing_address.postal_code", ("exact",), threshold=100,
            aliases=("address.postal_code",),
        ),
        FieldMatcher("phone", ("phone_sections",), threshold=80),
        FieldMatcher("website", ("exact",), threshold=100),
    ),
    logic="(1 AND 2) OR (1 AND 3 AND 4) OR (1 AND 5) OR (1 AND 6)",
    blocking=(
        BlockingKey(("name:substr:1:6", "billing_address.postal_code")),
        BlockingKey(("name:substr:1:6", "billing_address.city")),
        BlockingKey(("name:substr:1:6", "phone:phone_prefix")),
        BlockingKey(("website",)),
        BlockingKey(("name",)),
    ),
    key_cap=DEFAULT_KEY_CAP,
    window=DEFAULT_WINDOW,
)  # fmt: skip
"""Salesforce's standard account rule, approximated: a fuzzy account name with the billing
street, city and postal code, the phone or the website. Blocks over 20 records are compared
with a sorted-neighbourhood window of 2."""

EXACT_EMAIL_OR_PHONE: Final = MatchingRule(
    name="exact_email_or_phone",
    matchers=(
        FieldMatcher("email", ("exact",)),
        FieldMatcher("phone", ("exact",)),
        FieldMatcher("mobile", ("exact",)),
    ),
    logic="1 OR 2 OR 3",
    transpose_names=False,
    blocking=(
        BlockingKey(("email",)),
        BlockingKey(("phone",)),
        BlockingKey(("mobile",)),
    ),
    key_cap=20,
    window=DEFAULT_WINDOW,
)
"""The same normalised email address, or the same E.164 phone or mobile (Odoo's and
Frappe's lead rule). Whole addresses are compared: colleagues at one company share a
domain, not a mailbox — domain matching belongs to account rules
(:data:`STANDARD_ACCOUNT_RULE`, or a matcher with ``normalizer="email_domain"``). Blocks of
up to 20 records are compared pair by pair and larger ones with a sorted-neighbourhood
window of 2 (the previous release skipped them)."""

EXACT_EMAIL: Final = MatchingRule(
    name="exact_email",
    matchers=(FieldMatcher("email", ("exact",), threshold=100),),
    transpose_names=False,
    blocking=(BlockingKey(("email",)),),
)
"""The same normalised email address, and nothing else: phones are ignored, so people who
share a company switchboard stay apart (``leadmodel import --rule exact-email``)."""

_NAMES: Final = ("first_name", "last_name")

PROBABILISTIC_LEAD_RULE: Final = MatchingRule(
    name="probabilistic_lead",
    matchers=(
        FieldMatcher(
            "first_name", ("exact", "jaro_winkler", "name_variant", "initials"), levels=(100, 88)
        ),
        FieldMatcher("last_name", ("exact", "jaro_winkler", "phonetic"), levels=(100, 90)),
        FieldMatcher("email", ("exact",)),
        FieldMatcher("phone", ("exact",)),
        FieldMatcher(
            "company", ("exact", "edit_distance"), levels=(100, 80), aliases=("name",),
            gated_by=_NAMES,
        ),
        FieldMatcher("title", ("exact",), gated_by=_NAMES),
    ),
    blocking=(
        BlockingKey(("email",)),
        BlockingKey(("phone",)),
        BlockingKey(("last_name:metaphone", "company")),
        BlockingKey(("first_name:metaphone", "company")),
    ),
)  # fmt: skip
"""The template to learn a probabilistic lead rule from: ``estimate_weights(leads,
PROBABILISTIC_LEAD_RULE)``. Names with agreement levels, email and phone compared exactly
(term frequencies make a switchboard weak evidence), company and title gated on both names
(colleagues share them). Unlearnt it is a strict deterministic rule (every field must
agree); :data:`STANDARD_LEAD_RULE`'s Salesforce clauses are not meant for learning."""
