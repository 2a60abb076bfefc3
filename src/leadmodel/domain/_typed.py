"""Field checks read from a class's annotations: the checks of results and events.

Results and events are built by leadmodel itself, but they are public classes a host may
build too (from its own data, in tests, from JSON). :func:`check_fields` makes their
constructors keep the promise every entity keeps: a sequence becomes a tuple (so the frozen
value hashes), and a value of the wrong type is a :class:`ValidationError` naming every bad
field at once, never a value that later fails to hash or to round-trip through JSON.

A class calls it from its ``__attrs_post_init__``; the checks are built from the class's
resolved annotations on its first instance and reused::

    @attrs.frozen
    class Adjustment:
        scope: str
        points: float

        def __attrs_post_init__(self) -> None:
            check_fields(self)
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from leadmodel.domain import _checks

__all__ = ["check_fields"]

Problem = tuple[str, str]
Test = Callable[[object], Problem | None]
Convert = Callable[[object], object]

_TEXT_LIKE: Final = (str, bytes, bytearray, Mapping)


def _type_name(value: object) -> str:
    return type(value).__name__


def _wrong(what: str, value: object) -> Problem:
    return "type", f"must be {what}, not {_type_name(value)}"


# -- tests by annotation -------------------------------------------------------------------


def _text(value: object) -> Problem | None:
    return None if isinstance(value, str) else _wrong("a string", value)


def _boolean(value: object) -> Problem | None:
    return None if value is True or value is False else _wrong("True or False", value)


def _integer(value: object) -> Problem | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    return _wrong("an integer", value)


def _number(value: object) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _wrong("a number", value)
    if isinstance(value, float) and math.isnan(value):
        return "not_finite", "must be a number, not NaN"
    return None


def _decimal(value: object) -> Problem | None:
    if not isinstance(value, Decimal):
        return _wrong("a Decimal", value)
    if not value.is_finite():
        return "not_finite", "must be a finite number"
    return None


def _datetime(value: object) -> Problem | None:
    return None if isinstance(value, datetime) else _wrong("a datetime", value)


def _date(value: object) -> Problem | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return None
    return _wrong("a date", value)


def _none(value: object) -> Problem | None:
    return None if value is None else _wrong("None", value)


def _hashable(value: object) -> Problem | None:
    """Any value the frozen result can hold: it must hash (a list or dict does not)."""
    if isinstance(value, float) and math.isnan(value):
        return "not_finite", "must not be NaN"
    if isinstance(value, Decimal) and value.is_nan():
        return "not_finite", "must not be NaN"
    try:
        hash(value)
    except TypeError:
        return _wrong("a single value (text, number, date or record)", value)
    return None


_SIMPLE: Final[dict[object, Test]] = {
    str: _text,
    bool: _boolean,
    int: _integer,
    float: _number,
    Decimal: _decimal,
    datetime: _datetime,
    date: _date,
    types.NoneType: _none,
    None: _none,
    Any: _hashable,
    object: _hashable,
}


def _instance(cls: type) -> Test:
    what = f"a {cls.__name__}"

    def test(value: object) -> Problem | None:
        return None if isinstance(value, cls) else _wrong(what, value)

    return test


def _literal(choices: tuple[object, ...]) -> Test:
    shown = ", ".join(repr(c) for c in choices)

    def test(value: object) -> Problem | None:
        # The type first: comparing never runs a foreign __eq__ on a value that cannot match.
        if any(type(value) is type(c) and value == c for c in choices):
            return None
        return "invalid", f"must be one of {shown}"

    return test


def _union(tests: list[Test]) -> Test:
    def test(value: object) -> Problem | None:
        first: Problem | None = None
        for one in tests:
            problem = one(value)
            if problem is None:
                return None
            first = first or problem
        return first

    return test


def _items(item: Test, container: type) -> Test:
    what = f"a {container.__name__}"

    def test(value: object) -> Problem | None:
        if not isinstance(value, container):
            return _wrong(what, value)
        for index, each in enumerate(value):  # type: ignore[var-annotated, arg-type]
            problem = item(each)
            if problem is not None:
                return problem[0], f"item {index} {problem[1]}"
        return None

    return test


def _fixed_tuple(tests: list[Test]) -> Test:
    def test(value: object) -> Problem | None:
        if not isinstance(value, tuple) or len(value) != len(tests):
            return _wrong(f"a tuple of {len(tests)} items", value)
        for index, (one, each) in enumerate(zip(tests, value, strict=True)):
            problem = one(each)
            if problem is not None:
                return problem[0], f"item {index} {problem[1]}"
        return None

    return test


def _test(hint: Any) -> Test:
    """The test of a value against the resolved annotation *hint*."""
    simple = _SIMPLE.get(hint) if isinstance(hint, typing.Hashable) else None
    if simple is not None:
        return simple
    if isinstance(hint, typing.TypeVar):
        return _hashable if hint.__bound__ is None else _test(hint.__bound__)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return _literal(args)
    if origin in (typing.Union, types.UnionType):
        return _union([_test(arg) for arg in args])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _items(_test(args[0]), tuple)
        return _fixed_tuple([_test(arg) for arg in args])
    if origin is frozenset:
        return _items(_test(args[0]) if args else _hashable, frozenset)
    if origin is not None and isinstance(origin, type):
        return _instance(origin)  # a generic class: MergeResult[Lead]
    if isinstance(hint, type):
        return _instance(hint)
    raise TypeError(f"no field check for the annotation {hint!r}")  # pragma: no cover


# -- converters by annotation ----------------------------------------------------------------


def _sequence(item: Convert | None) -> Convert:
    def convert(value: object) -> object:
        if isinstance(value, _TEXT_LIKE) or not isinstance(value, Iterable):
            return value  # the test names the wrong type
        if item is None:
            return value if isinstance(value, tuple) else tuple(value)
        return tuple(item(each) for each in value)

    return convert


def _set(value: object) -> object:
    if isinstance(value, _TEXT_LIKE) or not isinstance(value, Iterable):
        return value
    return value if isinstance(value, frozenset) else frozenset(value)


def _converter(hint: Any) -> Convert | None:
    """How a field of type *hint* takes a list where it holds a tuple, or ``None``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        inner = [_converter(arg) for arg in args if arg is not Ellipsis]
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(inner[0])
        if any(inner):
            fixed = [c or (lambda v: v) for c in inner]

            def convert_fixed(value: object) -> object:
                if isinstance(value, _TEXT_LIKE) or not isinstance(value, Iterable):
                    return value
                items = tuple(value)
                if len(items) != len(fixed):
                    return items
                return tuple(c(v) for c, v in zip(fixed, items, strict=True))

            return convert_fixed
        return _sequence(None)
    if origin is frozenset:
        return _set
    if origin in (typing.Union, types.UnionType):
        convertible = [c for c in (_converter(arg) for arg in args) if c is not None]
        if len(convertible) == 1:
            only = convertible[0]
            return lambda value: None if value is None else only(value)
    return None


# -- fast tests: one compiled expression per class, as _checks.FieldChecks does --------------


class _Names:
    """The objects a fast expression refers to, named ``{ns}n0``, ``{ns}n1`` and so on."""

    def __init__(self) -> None:
        self.namespace: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        key = f"n{len(self.namespace)}"
        self.namespace[key] = value
        return "{ns}" + key


_FAST_CLASSES: Final[dict[object, str]] = {
    str: "{x}.__class__ is str",
    int: "{x}.__class__ is int",
    bool: "({x} is True or {x} is False)",
    float: "({x}.__class__ is float and {x} == {x} or {x}.__class__ is int)",
    types.NoneType: "{x} is None",
    None: "{x} is None",
}


def _fast(hint: Any, var: str, names: _Names, depth: int) -> str:
    """A Python expression over *var* that is true when it certainly fits *hint*.

    False sends the value to the detailed test (which also accepts subclasses), so the
    expression may be strict; it only has to be fast for what leadmodel itself builds.
    """
    simple = _FAST_CLASSES.get(hint) if isinstance(hint, typing.Hashable) else None
    if simple is not None:
        return simple.replace("{x}", var)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal and all(arg.__class__ is str for arg in args):
        return f"({var}.__class__ is str and {var} in {names(frozenset(args))})"
    if origin in (typing.Union, types.UnionType):
        return "(" + " or ".join(_fast(arg, var, names, depth) for arg in args) + ")"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if isinstance(args[0], type) and args[0] not in (
            Any,
            object,
            bool,
            int,
            float,
            Decimal,
            date,
        ):
            # At C speed (subclasses included, as the detailed test accepts them).
            each = names(args[0].__instancecheck__)
            return f"({var}.__class__ is tuple and all(map({each}, {var})))"
        item = f"x{depth}"
        inner = _fast(args[0], item, names, depth + 1)
        return f"({var}.__class__ is tuple and all({inner} for {item} in {var}))"
    if hint is datetime or hint is date:
        return f"{var}.__class__ is {names(hint)}"
    if isinstance(hint, type) and hint not in _SIMPLE:
        return f"{var}.__class__ is {names(hint)}"
    return f"{names(_test(hint))}({var}) is None"


def _allows_none(hint: Any) -> bool:
    if hint in (Any, object, None, types.NoneType) or isinstance(hint, typing.TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_allows_none(arg) for arg in typing.get_args(hint))
    return False


def _check(hint: Any) -> _checks.Check:
    names = _Names()
    fast = _fast(hint, "{v}", names, 0)
    return _checks.Check(_test(hint), fast, names.namespace)


# -- the plan of a class -----------------------------------------------------------------------


class _Plan:
    """A class's converters and its compiled checks."""

    __slots__ = ("checks", "converters")

    def __init__(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        fields = [f for f in attrs.fields(cls) if f.name in hints]
        self.converters = tuple(
            (f.name, convert)
            for f in fields
            if f.converter is None and (convert := _converter(hints[f.name])) is not None
        )
        self.checks = _checks.FieldChecks(
            cls.__name__,
            required=[
                (f.name, _check(hints[f.name])) for f in fields if not _allows_none(hints[f.name])
            ],
            optional=[
                (f.name, _check(hints[f.name])) for f in fields if _allows_none(hints[f.name])
            ],
        )

    def run(self, obj: object) -> None:
        if self.checks.fast_ok(obj):
            return
        for name, convert in self.converters:
            value = getattr(obj, name)
            converted = convert(value)
            if converted is not value:
                object.__setattr__(obj, name, converted)
        self.checks.validate(obj)


_PLANS: dict[type, _Plan] = {}
_FAST: dict[type, Callable[[object], bool]] = {}


def check_fields(obj: object) -> None:
    """Convert *obj*'s sequences to tuples and check every field against its annotation.

    Raises:
        ValidationError: every field whose value does not have its annotated type.
    """
    cls = obj.__class__
    fast = _FAST.get(cls)
    if fast is not None and fast(obj):
        return  # the common case: one compiled test of every field
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
        _FAST[cls] = plan.checks.fast_ok
    plan.run(obj)
