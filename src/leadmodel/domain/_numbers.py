"""Numbers and dates typed by people (form values, CSV cells), read at a bounded cost.

``Decimal("1E+9999999")`` is instant, but turning it into an ``int`` (or printing it
as one) never finishes; ``int("9" * 100_000)`` is quadratic. So a number is checked
*before* it is converted: ASCII digits with an optional sign, decimal point and exponent,
at most :data:`NUMBER_MAX_CHARS` characters, and a magnitude below
``10 ** NUMBER_MAX_DIGITS``. Every failure is an :class:`~leadmodel.InvalidValue` whose
message says what the value was and what was expected, in the words of a CRM user.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from leadmodel.domain.errors import InvalidValue

NUMBER_MAX_CHARS: Final = 100
"""The longest number text read (after grouping separators and a currency sign are removed)."""

NUMBER_MAX_DIGITS: Final = 30
"""Numbers read from text are below ``10 ** 30``: at most 30 digits before the point."""

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPING: Final = str.maketrans("", "", ",  \u202f_'")
_CURRENCY: Final = "$€£¥"


def parse_number(text: str, *, kind: str = "number") -> Decimal:
    """Read a number a person typed: ``"1,200.50"``, ``"$ 3 000"``, ``"-2.5e3"``.

    Grouping separators (``,``, spaces, ``'``, ``_``) and a leading currency sign are
    ignored. Only ASCII digits count (``"²"`` and ``"①"`` are not numbers).

    >>> parse_number("$1,200.50")
    Decimal('1200.50')
    >>> parse_number("1e999999")
    Traceback (most recent call last):
    ...
    leadmodel.domain.errors.InvalidValue: number: 1 invalid field: : expected a number below
    10^30 (30 digits before the decimal point) (got '1e999999')

    Raises:
        InvalidValue: code ``type`` (not text), ``too_long``, ``invalid`` (not a number)
            or ``too_large``; *kind* names the value in the error.
    """
    if not isinstance(text, str):
        raise InvalidValue(
            kind, text, "type", f"expected a number as text, not {type(text).__name__}"
        )
    if len(text) > NUMBER_MAX_CHARS * 4:
        raise InvalidValue(
            kind, text, "too_long", f"expected a number of at most {NUMBER_MAX_CHARS} characters"
        )
    cleaned = text.strip().translate(_GROUPING).lstrip(_CURRENCY)
    if len(cleaned) > NUMBER_MAX_CHARS:
        raise InvalidValue(
            kind, text, "too_long", f"expected a number of at most {NUMBER_MAX_CHARS} characters"
        )
    if _NUMBER.fullmatch(cleaned) is None:
        raise InvalidValue(kind, text, "invalid", "expected a number such as 1200 or 1,200.50")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise InvalidValue(
            kind, text, "invalid", "expected a number such as 1200 or 1,200.50"
        ) from None
    if number and number.adjusted() >= NUMBER_MAX_DIGITS:
        raise InvalidValue(
            kind,
            text,
            "too_large",
            f"expected a number below 10^{NUMBER_MAX_DIGITS} "
            f"({NUMBER_MAX_DIGITS} digits before the decimal point)",
        )
    return number


def parse_whole_number(text: str, *, kind: str = "number") -> int:
    """Read a whole number a person typed (``"1,200"``, ``"3e3"``); see :func:`parse_number`.

    >>> parse_whole_number("1,200")
    1200

    Raises:
        InvalidValue: as :func:`parse_number`, or code ``not_whole`` for ``"2.5"``.
    """
    number = parse_number(text, kind=kind)
    if number != number.to_integral_value():
        raise InvalidValue(kind, text, "not_whole", "expected a whole number such as 250")
    return int(number)


def plain_number(number: Decimal | float) -> str:
    """A finite number as plain text (``1E+3`` as ``1000``, ``0.1`` as ``0.1``)."""
    decimal = Decimal(repr(number)) if isinstance(number, float) else number
    if decimal == decimal.to_integral_value() and decimal.adjusted() < NUMBER_MAX_DIGITS:
        return str(decimal.quantize(Decimal(1)))
    return str(decimal)


def date_error(kind: str, text: str, *, day_first: bool = False) -> InvalidValue:
    """The error for *text* that is not a date, naming the forms that are."""
    example = "31/03/2026" if day_first else "03/31/2026"
    return InvalidValue(
        kind, text, "invalid", f"expected a date such as 2026-03-31, {example} or Mar 31, 2026"
    )


def parse_iso_date(text: str, *, kind: str = "date") -> date:
    """Read an ISO 8601 date (``2026-03-31``).

    Raises:
        InvalidValue: code ``invalid``, saying which form was expected.
    """
    try:
        return date.fromisoformat(text)
    except (ValueError, TypeError):
        raise InvalidValue(kind, text, "invalid", "expected a date such as 2026-03-31") from None


def parse_iso_datetime(text: str, *, kind: str = "date and time") -> datetime:
    """Read an ISO 8601 date and time (``2026-03-31T09:30:00+02:00``).

    Raises:
        InvalidValue: code ``invalid``, saying which form was expected.
    """
    try:
        return datetime.fromisoformat(text)
    except (ValueError, TypeError):
        raise InvalidValue(
            kind, text, "invalid", "expected a date and time such as 2026-03-31T09:30:00+02:00"
        ) from None
