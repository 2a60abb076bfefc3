"""Field checks shared by entities and values.

A check is a small function ``check(value) -> (code, message) | None``. An entity lists its
checks once, at class creation, and ``validate`` runs all of them and raises one
:class:`ValidationError` with every failure, so a user fixing a record sees every problem at
once (the way cattrs reports a whole class). Checks are built once and reused; the hot path
is a loop over ``getattr`` and a call per non-blank field.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from leadmodel.domain.errors import FieldError, ValidationError, describe_value

Problem = tuple[str, str]

# Control characters (C0, DEL, C1) and lone surrogates. Single-line text also refuses
# tabs, line breaks and the Unicode line/paragraph separators.
_SINGLE_LINE_BAD: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTI_LINE_BAD: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")

ID_LENGTH: Final = 255
TAG_LENGTH: Final = 80


def _type_name(value: object) -> str:
    return type(value).__name__


def text_problem(value: object, max_len: int, *, multiline: bool = False) -> Problem | None:
    """Return the problem with *value* as a text field, or ``None`` when it is fine.

    Text must be a ``str``, at most *max_len* characters, not blank (``None`` is how a field
    says "no value", so blank has one spelling), and free of control characters and lone
    surrogates (which cannot be encoded as UTF-8). Line breaks are allowed in *multiline*
    fields only.
    """
    if not isinstance(value, str):
        return "type", f"must be a string, not {_type_name(value)}"
    size = len(value)
    if size > max_len:
        return "too_long", f"must be at most {max_len} characters, has {size}"
    if not value or value.isspace():
        return "blank", "must not be blank (use None for no value)"
    if not value.isprintable():
        bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
        if bad is not None:
            if _SURROGATE.match(bad.group()):
                return "surrogate", f"contains a lone surrogate at position {bad.start()}"
            return (
                "control_character",
                f"contains control character U+{ord(bad.group()):04X} at position {bad.start()}",
            )
    return None


def require_instance(
    value: object, types: type | tuple[type, ...], what: str, *, function: str, path: str
) -> None:
    """Raise a ``ValidationError`` of *function* at *path* unless *value* is one of *types*.

    The argument check of public functions, whose callers may be untyped (notebooks, JSON):
    a wrong type gets a clear error naming the argument, never an ``AttributeError`` later.
    """
    if not isinstance(value, types):
        raise ValidationError(
            function,
            [FieldError(path, "type", f"must be {what}, not {_type_name(value)}")],
        )


def kind_problem(kind: object, expected: str) -> Problem | None:
    """The problem with a ``kind`` tag (what JSON reads a union's type from), or ``None``."""
    if one_of(kind, (expected,)):
        return None
    return "invalid", f"must be {expected!r}, not {describe_value(kind)}"


def is_finite(value: float) -> bool:
    """``math.isfinite`` that takes any int (ints are finite; ``10**400`` overflows a float)."""
    return isinstance(value, int) or math.isfinite(value)


def as_tuple(values: Any) -> tuple[Any, ...]:
    """A converter to a tuple that never fails: one non-iterable value becomes ``(value,)``.

    The class's item checks then name the wrong item ("must be a FieldDef, not int"),
    where ``tuple(5)`` raised a bare ``TypeError``. Text, bytes and mappings count as one
    value, not as their characters or keys.
    """
    if isinstance(values, tuple):
        return values
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        return (values,)
    return tuple(values)


def require_iterable(value: object, what: str, *, function: str, path: str) -> None:
    """Raise a ``ValidationError`` unless *value* is an iterable of items.

    Text, bytes, a mapping or a single record is not: the check of ``records`` arguments.
    """
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(
            function,
            [FieldError(path, "type", f"must be {what}, not {_type_name(value)}")],
        )


def require_callback(value: object, parameters: Sequence[str], *, function: str, path: str) -> None:
    """Raise a ``ValidationError`` unless *value* can be called with *parameters*.

    The check of callback arguments (``progress``, ``on_outcome``): a function that cannot
    take the arguments it will be given (``len`` as a ``progress(stage, done, total)``) is
    refused before any work, not met as a ``TypeError`` halfway through.
    """
    what = f"a function of ({', '.join(parameters)})"
    if not callable(value):
        raise ValidationError(function, [FieldError(path, "type", f"must be {what}")])
    try:
        inspect.signature(value).bind(*parameters)
    except TypeError:
        raise ValidationError(
            function, [FieldError(path, "type", f"must be {what}, not {describe_value(value)}")]
        ) from None
    except ValueError:  # no signature to read (some builtins): it is called as given
        return


class Check:
    """A named field check: a detailed function and an optional fast, inlinable test.

    ``check(value)`` returns ``(code, message)`` or ``None``. *fast* is a Python expression
    over ``{v}`` (the value) and ``{ns}``-prefixed names taken from *namespace*, true when the
    value is certainly fine; :class:`FieldChecks` compiles the fast tests of a class into one
    function, so a valid record is checked without a call per field, and falls back to the
    detailed functions only to describe a failure.
    """

    __slots__ = ("fast", "function", "namespace")

    def __init__(
        self,
        function: Callable[[object], Problem | None],
        fast: str | None = None,
        namespace: dict[str, object] | None = None,
    ) -> None:
        self.function = function
        self.fast = fast
        self.namespace = namespace or {}

    def __call__(self, value: object) -> Problem | None:
        return self.function(value)


def one_of(value: object, choices: Container[str]) -> bool:
    """Whether *value* is one of the text *choices*.

    The type is checked first, so comparing never runs a foreign ``__eq__`` or ``__hash__``
    (which may raise) on a value that cannot be a choice anyway.
    """
    return isinstance(value, str) and value in choices


def text(max_len: int, *, multiline: bool = False) -> Check:
    """A check for a text field of at most *max_len* characters."""

    def check(value: object) -> Problem | None:
        return text_problem(value, max_len, multiline=multiline)

    if multiline:
        fast = (
            f"({{v}}.__class__ is str and 0 < len({{v}}) <= {max_len} and not {{v}}.isspace()"
            " and ({v}.isprintable() or {ns}bad({v}) is None))"
        )
        return Check(check, fast, {"bad": _MULTI_LINE_BAD.search})
    fast = (
        f"({{v}}.__class__ is str and 0 < len({{v}}) <= {max_len} and {{v}}.isprintable()"
        " and not {v}.isspace())"
    )
    return Check(check, fast)


def _boolean(value: object) -> Problem | None:
    if value is True or value is False:
        return None
    return "type", f"must be True or False, not {_type_name(value)}"


boolean: Final = Check(_boolean, "({v} is True or {v} is False)")
"""A check for a ``bool`` field (``0``/``1`` and strings are refused)."""


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    """A check for an ``int`` field within ``[minimum, maximum]`` (``bool`` is refused)."""

    def check(value: object) -> Problem | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return "type", f"must be an integer, not {_type_name(value)}"
        if minimum is not None and value < minimum:
            return "out_of_range", f"must be at least {minimum}"
        if maximum is not None and value > maximum:
            return "out_of_range", f"must be at most {maximum}"
        return None

    fast = "({v}.__class__ is int"
    if minimum is not None:
        fast += f" and {{v}} >= {minimum}"
    if maximum is not None:
        fast += f" and {{v}} <= {maximum}"
    return Check(check, fast + ")")


def instance(cls: type, what: str) -> Check:
    """A check that the value is an instance of *cls*, described to users as *what*."""

    def check(value: object) -> Problem | None:
        if isinstance(value, cls):
            return None
        return "type", f"must be {what}, not {_type_name(value)}"

    return Check(check, "({v}.__class__ is {ns}cls)", {"cls": cls})


def enum_member(cls: type[Enum]) -> Check:
    """A check that the value is a member of the enum *cls*."""
    names = ", ".join(str(m.value) for m in cls)

    def check(value: object) -> Problem | None:
        if isinstance(value, cls):
            return None
        return "type", f"must be a {cls.__name__} ({names}), not {_type_name(value)}"

    return Check(check, "({v}.__class__ is {ns}cls)", {"cls": cls})


def _aware_datetime(value: object) -> Problem | None:
    if not isinstance(value, datetime):
        return "type", f"must be a datetime, not {_type_name(value)}"
    if value.utcoffset() is None:
        return "naive_datetime", "must be timezone-aware (give it a tzinfo)"
    return None


aware_datetime: Final = Check(
    _aware_datetime,
    "({v}.__class__ is {ns}dt and ({v}.tzinfo.__class__ is {ns}tz or {v}.utcoffset() is not None))",
    {"dt": datetime, "tz": timezone},
)
"""A check for a timezone-aware ``datetime`` (naive datetimes are ambiguous)."""


def _plain_date(value: object) -> Problem | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return None
    return "type", f"must be a date, not {_type_name(value)}"


plain_date: Final = Check(_plain_date, "({v}.__class__ is {ns}d)", {"d": date})
"""A check for a ``date`` that is not a ``datetime``."""


def _decimal_amount(value: object) -> Problem | None:
    if not isinstance(value, Decimal):
        hint = " (floats lose cents; use Decimal)" if isinstance(value, float) else ""
        return "type", f"must be a Decimal, not {_type_name(value)}{hint}"
    if not value.is_finite():
        return "not_finite", "must be a finite number"
    if value.adjusted() >= AMOUNT_DIGITS:
        return "too_large", f"must be below 10^{AMOUNT_DIGITS}"
    return None


AMOUNT_DIGITS: Final = 30
"""Amounts are below ``10 ** 30`` (Salesforce's currency fields hold 18 digits)."""

decimal_amount: Final = Check(
    _decimal_amount,
    f"({{v}}.__class__ is {{ns}}D and {{v}}.is_finite() and {{v}}.adjusted() < {AMOUNT_DIGITS})",
    {"D": Decimal},
)
"""A check for a finite ``Decimal`` below ``10 ** 30`` (never a float)."""


def _tag_set(value: object) -> Problem | None:
    if not isinstance(value, frozenset):
        return "type", f"must be a frozenset of strings, not {_type_name(value)}"
    for tag in value:
        problem = text_problem(tag, TAG_LENGTH)
        if problem is not None:
            return problem[0], f"tag {describe_value(tag)} {problem[1]}"
    return None


def _tags_fast_ok(tags: frozenset[object]) -> bool:
    return all(
        t.__class__ is str and 0 < len(t) <= TAG_LENGTH and t.isprintable() and not t.isspace()
        for t in tags
    )


tag_set: Final = Check(
    _tag_set, "({v}.__class__ is frozenset and (not {v} or {ns}ok({v})))", {"ok": _tags_fast_ok}
)
"""A check for a ``frozenset`` of short single-line strings."""

identifier: Final = text(ID_LENGTH)
"""A check for a record id: a non-blank, single-line string of at most 255 characters."""


@dataclass(frozen=True, slots=True)
class Invariant:
    """A rule across fields: a fast expression over ``obj`` and the errors it reports.

    *fast* is true when the rule holds; it runs only after every field check passed, so it
    may rely on the field types. *errors* must cope with any field values.
    """

    fast: str
    errors: Callable[[Any], list[FieldError]]
    namespace: dict[str, object] = field(default_factory=dict)


class FieldChecks:
    """The compiled checks of one class: required fields, optional ones and invariants."""

    __slots__ = ("entity", "fast_ok", "invariants", "optional", "required")

    def __init__(
        self,
        entity: str,
        required: Sequence[tuple[str, Check]] = (),
        optional: Sequence[tuple[str, Check]] = (),
        invariants: Sequence[Invariant] = (),
    ) -> None:
        self.entity = entity
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.invariants = tuple(invariants)
        self.fast_ok = _compile_fast(self.required, self.optional, self.invariants)

    def problems(self, obj: object) -> list[FieldError]:
        """Return every failed check of *obj*, in field order, then the invariants'.

        A check that itself fails on a hostile value (a ``__eq__`` that raises, say) is
        reported as an ``invalid`` field rather than escaping.
        """
        errors: list[FieldError] = []
        for name, check in self.required:
            value = getattr(obj, name)
            if value is None:
                errors.append(FieldError(name, "required", "is required"))
            else:
                errors.extend(_run_check(name, check, value))
        for name, check in self.optional:
            value = getattr(obj, name)
            if value is not None:
                errors.extend(_run_check(name, check, value))
        for invariant in self.invariants:
            try:
                errors.extend(invariant.errors(obj))
            except Exception as exc:  # noqa: BLE001 - hostile values must not escape
                errors.append(
                    FieldError("", "invalid", f"could not be checked ({type(exc).__name__})")
                )
        return errors

    def validate(self, obj: object) -> None:
        """Raise one :class:`ValidationError` listing every failed check of *obj*."""
        if self.fast_ok(obj):
            return
        errors = self.problems(obj)
        if errors:
            raise ValidationError(self.entity, errors)


def _run_check(name: str, check: Check, value: object) -> list[FieldError]:
    try:
        problem = check(value)
    except Exception as exc:  # noqa: BLE001 - hostile values must not escape
        return [FieldError(name, "invalid", f"could not be checked ({type(exc).__name__})")]
    return [] if problem is None else [_field_error(name, problem, value)]


def _field_error(name: str, problem: Problem, value: object) -> FieldError:
    code, message = problem
    return FieldError(name, code, f"{message} (got {describe_value(value)})")


def _compile_fast(
    required: Sequence[tuple[str, Check]],
    optional: Sequence[tuple[str, Check]],
    invariants: Sequence[Invariant],
) -> Callable[[object], bool]:
    """Compile the fast tests of a class into one function (as attrs generates ``__init__``)."""
    namespace: dict[str, object] = {}
    lines = ["def fast_ok(obj):"]
    for i, (name, check) in enumerate([*required, *optional]):
        fast = check.fast if isinstance(check, Check) else None
        if fast is None:
            namespace[f"c{i}"] = check
            test = f"c{i}(v) is None"
        else:
            prefix = f"c{i}_"
            namespace.update({prefix + key: value for key, value in check.namespace.items()})
            test = fast.format(v="v", ns=prefix)
        lines.append(f"    v = obj.{name}")
        if i < len(required):
            lines.append(f"    if v is None or not {test}:")
        else:
            lines.append(f"    if v is not None and not {test}:")
        lines.append("        return False")
    for j, invariant in enumerate(invariants):
        prefix = f"i{j}_"
        namespace.update({prefix + key: value for key, value in invariant.namespace.items()})
        lines.append(f"    if not ({invariant.fast.format(ns=prefix)}):")
        lines.append("        return False")
    lines.append("    return True")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from our own checks
    function: Callable[[object], bool] = namespace["fast_ok"]  # type: ignore[assignment]
    return function
