"""Criteria: conditions over a record's fields, as data.

``Condition(field, op, value)`` tests one dotted field path (standard, custom or nested:
``"source"``, ``"custom.visits"``, ``"address.country"``); ``All``, ``Any`` and ``Not``
combine them. A criterion is checked for consistency when it is built (an operator with the
wrong kind of value), and against an :class:`~leadmodel.EntitySchema` with
:func:`check_criterion` (an unknown field, a date compared with a string), never first when
it meets a record. :func:`evaluate` applies one to an entity or a mapping.

Text comparisons ignore case, as Salesforce's do. Email and phone values compare by their
normalised text, money by its amount, enums by their value, tags by membership. A value of
another type than the condition's simply does not satisfy it.
"""

from __future__ import annotations

import operator
import re
import typing
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any as AnyType
from typing import Final, Literal

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema, FieldType, FieldValues, Scalar
from leadmodel.domain.values import EmailAddress, Money, PhoneNumber
from leadmodel.rules._paths import ABSENT, MAPPING, fields_of, getter

__all__ = [
    "MAX_DEPTH",
    "OPERATORS",
    "All",
    "Any",
    "Condition",
    "Criterion",
    "Not",
    "check_criterion",
    "compile",
    "evaluate",
]

Operator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "ends_with",
    "is_blank",
    "is_not_blank",
    "changed",
]
OPERATORS: Final = frozenset(Operator.__args__)  # type: ignore[attr-defined]
"""Every condition operator."""

_NO_VALUE: Final = frozenset({"is_blank", "is_not_blank", "changed"})
_MANY: Final = frozenset({"in", "not_in"})
_ORDERED: Final = frozenset({"gt", "gte", "lt", "lte"})
_TEXT_OPS: Final = frozenset({"contains", "starts_with", "ends_with"})
_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SCALARS: Final = (str, int, Decimal, bool, date, datetime)


def _scalar_problem(value: object) -> str | None:
    if not isinstance(value, _SCALARS):
        return f"must be a str, int, Decimal, bool, date or datetime, not {type(value).__name__}"
    if isinstance(value, datetime) and value.utcoffset() is None:
        return "datetimes must be timezone-aware"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"must be a finite number, not {value}"
    if isinstance(value, str):
        problem = _checks.text_problem(value, 1000)
        if problem is not None and problem[0] != "blank":
            return problem[1]
    return None


def _order_key(value: object) -> tuple[int, object]:
    # Values of one family compare; families never mix (a date is not before a number).
    if isinstance(value, bool):
        return 0, value
    if isinstance(value, int | Decimal):
        return 1, value
    if isinstance(value, datetime):
        return 2, value
    if isinstance(value, date):
        return 3, value
    return 4, value


def _condition_problems(condition: Condition) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(condition.field, str) or _PATH.fullmatch(condition.field) is None:
        errors.append(
            FieldError(
                "field",
                "invalid",
                f"must be a dotted field path, not {describe_value(condition.field)}",
            )
        )
    op, value = condition.op, condition.value
    if not _checks.one_of(op, OPERATORS):
        errors.append(
            FieldError(
                "op",
                "unknown_operator",
                f"{describe_value(op)} is not one of {', '.join(sorted(OPERATORS))}",
            )
        )
        return errors
    if op in _NO_VALUE:
        if value is not None:
            errors.append(FieldError("value", "unexpected", f"{op} takes no value"))
        return errors
    if op in _MANY or op == "between":
        if not isinstance(value, tuple) or not value:
            errors.append(FieldError("value", "type", f"{op} takes a non-empty tuple of values"))
            return errors
        problems = [p for p in (_scalar_problem(v) for v in value) if p]
        if problems:
            errors.append(FieldError("value", "type", problems[0]))
        elif op == "between":
            if len(value) != 2:
                errors.append(FieldError("value", "type", "between takes (low, high)"))
            elif _order_key(value[0])[0] != _order_key(value[1])[0]:
                errors.append(FieldError("value", "type", "between takes two values of one type"))
            elif value[0] > value[1]:  # type: ignore[operator]
                errors.append(FieldError("value", "out_of_range", "low must not exceed high"))
        return errors
    if value is None:
        hint = " (use is_blank)" if op in ("eq", "ne") else ""
        errors.append(FieldError("value", "required", f"{op} needs a value{hint}"))
        return errors
    problem = _scalar_problem(value)
    if problem is not None:
        errors.append(FieldError("value", "type", problem))
    elif op in _TEXT_OPS and not isinstance(value, str):
        errors.append(FieldError("value", "type", f"{op} compares text"))
    elif op in _ORDERED and isinstance(value, bool):
        errors.append(FieldError("value", "type", f"{op} does not order booleans"))
    return errors


def _values(value: object) -> object:
    if isinstance(value, list):
        return tuple(value)
    return value


@attrs.frozen
class Condition:
    """A test of one field: ``Condition("custom.visits", "gte", 3)``.

    Operators: ``eq``, ``ne``, ``in``, ``not_in`` (a tuple of values), ``gt``, ``gte``,
    ``lt``, ``lte``, ``between`` (a ``(low, high)`` tuple, inclusive), ``contains``,
    ``starts_with``, ``ends_with`` (text), ``is_blank``, ``is_not_blank`` and
    ``changed`` (no value; true when the field differs from the *previous* record).

    >>> Condition("source", "in", ("Web", "Partner Referral")).value
    ('Web', 'Partner Referral')
    """

    field: str
    op: Operator
    value: Scalar | tuple[Scalar, ...] = attrs.field(default=None, converter=_values)
    kind: Literal["condition"] = "condition"

    def __attrs_post_init__(self) -> None:
        errors = _condition_problems(self) + _kind_problem(self.kind, "condition")
        if errors:
            raise ValidationError(f"Condition {describe_value(self.field)}", errors)

    def compile(self) -> Callable[..., bool]:
        """A function ``(record, previous=None) -> bool`` for applying this many times."""
        return _compile(self)


def _items(values: Sequence[Criterion]) -> tuple[Criterion, ...]:
    # A list or tuple becomes a tuple; anything else is left for the check to name.
    return tuple(values) if isinstance(values, list | tuple) else values  # type: ignore[return-value]


def _kind_problem(kind: object, expected: str) -> list[FieldError]:
    """The ``kind`` tag (what JSON reads the type from) must be the class's own."""
    if _checks.one_of(kind, (expected,)):
        return []
    return [FieldError("kind", "invalid", f"must be {expected!r}, not {describe_value(kind)}")]


MAX_DEPTH: Final = 32
"""How deeply ``All``, ``Any`` and ``Not`` may nest (a condition alone has depth 1)."""


def _depth(criterion: object) -> int:
    """How deeply *criterion* nests, counting levels up to ``MAX_DEPTH + 1`` at most."""
    # Each group checked its own depth when built, so its children are at most MAX_DEPTH deep.
    if isinstance(criterion, All | Any):
        return 1 + max((_depth(item) for item in criterion.items), default=0)
    if isinstance(criterion, Not):
        return 1 + _depth(criterion.item)
    return 1


def _depth_problem(children: Sequence[object]) -> list[FieldError]:
    depth = 1 + max((_depth(c) for c in children), default=0)
    if depth > MAX_DEPTH:
        return [
            FieldError(
                "items",
                "too_deep",
                f"criteria nest at most {MAX_DEPTH} levels of All, Any and Not; "
                f"this one nests {depth}",
            )
        ]
    return []


def _group_problems(items: object, name: str) -> list[FieldError]:
    # An empty group is allowed: ``All([])`` always holds and ``Any([])`` never does, as
    # Salesforce's rule entry with no criteria matches every record.
    if not isinstance(items, tuple):
        return [
            FieldError(
                "items", "type", f"{name} takes a list of criteria, not {type(items).__name__}"
            )
        ]
    problems = [
        FieldError(
            f"items[{i}]",
            "type",
            f"must be a Condition, All, Any or Not, not {type(item).__name__}",
        )
        for i, item in enumerate(items)
        if not isinstance(item, Condition | All | Any | Not)
    ]
    return problems or _depth_problem(items)


@attrs.frozen
class All:
    """True when every item is (Salesforce's AND).

    An empty ``All([])`` always holds: Salesforce's rule entry with no criteria matches
    every record.

    >>> from leadmodel import Lead
    >>> evaluate(All([]), Lead(id="L1", last_name="Ng", company="Acme"))
    True
    """

    items: tuple[Criterion, ...] = attrs.field(converter=_items)
    kind: Literal["all"] = "all"

    def __attrs_post_init__(self) -> None:
        errors = _group_problems(self.items, "All") + _kind_problem(self.kind, "all")
        if errors:
            raise ValidationError("All", errors)

    def compile(self) -> Callable[..., bool]:
        """A function ``(record, previous=None) -> bool``."""
        return _compile(self)


@attrs.frozen
class Any:
    """True when at least one item is (Salesforce's OR).

    An empty ``Any([])`` never holds (no item is true).

    >>> from leadmodel import Lead
    >>> evaluate(Any([]), Lead(id="L1", last_name="Ng", company="Acme"))
    False
    """

    items: tuple[Criterion, ...] = attrs.field(converter=_items)
    kind: Literal["any"] = "any"

    def __attrs_post_init__(self) -> None:
        errors = _group_problems(self.items, "Any") + _kind_problem(self.kind, "any")
        if errors:
            raise ValidationError("Any", errors)

    def compile(self) -> Callable[..., bool]:
        """A function ``(record, previous=None) -> bool``."""
        return _compile(self)


@attrs.frozen
class Not:
    """True when its item is not."""

    item: Criterion
    kind: Literal["not"] = "not"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.item, Condition | All | Any | Not):
            raise ValidationError(
                "Not",
                [
                    FieldError(
                        "item", "type", f"must be a criterion, not {type(self.item).__name__}"
                    )
                ],
            )
        problems = [attrs.evolve(p, path="item") for p in _depth_problem((self.item,))]
        problems += _kind_problem(self.kind, "not")
        if problems:
            raise ValidationError("Not", problems)

    def compile(self) -> Callable[..., bool]:
        """A function ``(record, previous=None) -> bool``."""
        return _compile(self)


Criterion = Condition | All | Any | Not
"""Any criterion value."""

# -- reading and comparing values -------------------------------------------------------------


def _read(get: Callable[[AnyType], object], record: object) -> object:
    value = get(record)
    return None if value is ABSENT else value


def _plain(value: object) -> object:
    """A record value as the scalar criteria compare."""
    if isinstance(value, EmailAddress):
        return value.normalized
    if isinstance(value, PhoneNumber):
        return value.e164
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, Enum):
        return value.value
    return value


def _fold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, frozenset | FieldValues | tuple) and not value)
        or value == ""
    )


def _same(a: object, b: object) -> bool:
    if _order_key(a)[0] != _order_key(b)[0]:
        return False
    return _fold(a) == _fold(b)


def _compare(a: object, op: str, b: object) -> bool:
    if _order_key(a)[0] != _order_key(b)[0] or isinstance(a, bool):
        return False
    x: AnyType = _fold(a)
    y: AnyType = _fold(b)
    try:
        result = {"gt": x > y, "gte": x >= y, "lt": x < y}.get(op, x <= y)
    except TypeError:  # aware and naive datetimes, say
        return False
    return bool(result)


def _test(op: str, expected: object, actual: object) -> bool:
    if op == "is_blank":
        return _blank(actual)
    if op == "is_not_blank":
        return not _blank(actual)
    if _blank(actual):
        return op in ("ne", "not_in")
    if isinstance(actual, frozenset):  # tags: membership
        members = [_plain(m) for m in actual]
        if op in ("eq", "contains", "in"):
            wanted = expected if isinstance(expected, tuple) else (expected,)
            return any(_same(m, w) for m in members for w in wanted)
        if op in ("ne", "not_in"):
            wanted = expected if isinstance(expected, tuple) else (expected,)
            return not any(_same(m, w) for m in members for w in wanted)
        return False
    value = _plain(actual)
    if op == "eq":
        return _same(value, expected)
    if op == "ne":
        return not _same(value, expected)
    if op == "in":
        return any(_same(value, e) for e in expected)  # type: ignore[attr-defined]
    if op == "not_in":
        return not any(_same(value, e) for e in expected)  # type: ignore[attr-defined]
    if op in _ORDERED:
        return _compare(value, op, expected)
    if op == "between":
        bounds: tuple[object, ...] = expected  # type: ignore[assignment]
        return _compare(value, "gte", bounds[0]) and _compare(value, "lte", bounds[1])
    if not isinstance(value, str) or not isinstance(expected, str):
        return False
    text, part = value.casefold(), expected.casefold()
    if op == "contains":
        return part in text
    if op == "starts_with":
        return text.startswith(part)
    return text.endswith(part)


# -- the reference interpreter and the compiler ----------------------------------------------


def _interpret(criterion: Criterion, record: object, previous: object) -> bool:
    """The meaning of a criterion, step by step: what every compiled form must agree with."""
    if isinstance(criterion, Condition):
        get = getter(criterion.field)
        if criterion.op == "changed":
            if previous is None:
                return False
            return _plain(_read(get, record)) != _plain(_read(get, previous))
        return _test(criterion.op, criterion.value, _read(get, record))
    if isinstance(criterion, All):
        return all(_interpret(item, record, previous) for item in criterion.items)
    if isinstance(criterion, Any):
        return any(_interpret(item, record, previous) for item in criterion.items)
    return not _interpret(criterion.item, record, previous)


def _family(value: object) -> int:
    """``_order_key``'s family, with the common classes first."""
    cls = value.__class__
    if cls is str:
        return 4
    if cls is int or cls is Decimal:
        return 1
    return _order_key(value)[0]


_ORDER_TESTS: Final = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _value_test(op: str, expected: object) -> Callable[[object], bool]:
    """A test of one non-blank, non-tag value, with *expected* prepared once."""
    if op in ("eq", "ne", "in", "not_in"):
        wanted = expected if isinstance(expected, tuple) else (expected,)
        keys = frozenset((_family(w), _fold(w)) for w in wanted)
        positive = op in ("eq", "in")

        def listed(value: object) -> bool:
            try:
                hit = (_family(value), _fold(value)) in keys
            except TypeError:  # an unhashable value (a list in a dict record)
                hit = any(_same(value, w) for w in wanted)
            return hit is positive

        return listed
    if op in _ORDER_TESTS or op == "between":
        bounds = (
            ((_ORDER_TESTS["gte"], expected[0]), (_ORDER_TESTS["lte"], expected[1]))  # type: ignore[index]
            if op == "between"
            else ((_ORDER_TESTS[op], expected),)
        )
        family = _family(bounds[0][1])
        prepared: tuple[tuple[Callable[[AnyType, AnyType], bool], AnyType], ...] = tuple(
            (compare, _fold(bound)) for compare, bound in bounds
        )

        def ordered(value: object) -> bool:
            if isinstance(value, bool) or _family(value) != family:
                return False
            folded: AnyType = _fold(value)
            try:
                return all(compare(folded, bound) for compare, bound in prepared)
            except TypeError:  # aware and naive datetimes, say
                return False

        return ordered
    part = expected.casefold() if isinstance(expected, str) else ""
    check = {"contains": str.__contains__, "starts_with": str.startswith}.get(op, str.endswith)

    def text(value: object) -> bool:
        return isinstance(value, str) and bool(check(value.casefold(), part))

    return text


def _tag_test(op: str, expected: object) -> Callable[[frozenset[object]], bool]:
    """A test of a set of tags, false for operators other than eq, contains, in, ne, not_in.

    Membership for eq, contains and in; its absence for ne and not_in.
    """
    if op not in ("eq", "contains", "in", "ne", "not_in"):
        return lambda _tags: False
    wanted = expected if isinstance(expected, tuple) else (expected,)
    positive = op in ("eq", "contains", "in")

    def member(tags: frozenset[object]) -> bool:
        hit = any(_same(_plain(tag), w) for tag in tags for w in wanted)
        return hit is positive

    return member


def _compile_condition(condition: Condition) -> Callable[..., bool]:
    get = getter(condition.field)
    op, expected = condition.op, condition.value
    if op == "changed":

        def changed(record: object, previous: object = None) -> bool:
            if previous is None:
                return False
            return _plain(_read(get, record)) != _plain(_read(get, previous))

        return changed
    if op in ("is_blank", "is_not_blank"):
        blank_is = op == "is_blank"

        def blankness(record: object, previous: object = None) -> bool:  # noqa: ARG001
            return _blank(_read(get, record)) is blank_is

        return blankness
    when_blank = op in ("ne", "not_in")
    tags = _tag_test(op, expected)
    value_test = _value_test(op, expected)

    def condition_test(record: object, previous: object = None) -> bool:  # noqa: ARG001
        value = get(record)
        if value is None or value is ABSENT or _blank(value):
            return when_blank
        if value.__class__ is frozenset:
            return tags(value)
        return value_test(_plain(value))

    return condition_test


def _typed_key(criterion: Criterion) -> Hashable:
    """*criterion* as a cache key that tells ``1`` from ``True`` and ``0`` from ``False``.

    Criteria compare equal when Python's ``==`` does, but a condition on ``1`` and one on
    ``True`` mean different things (a number never equals a boolean here), so compiled
    functions are cached under the values' classes too.
    """
    if isinstance(criterion, Condition):
        value = criterion.value
        values = value if isinstance(value, tuple) else (value,)
        typed = tuple((item.__class__, item) for item in values)
        return ("condition", criterion.field, criterion.op, isinstance(value, tuple), typed)
    if isinstance(criterion, Not):
        return ("not", _typed_key(criterion.item))
    return (criterion.kind, tuple(_typed_key(item) for item in criterion.items))


_COMPILED: dict[Hashable, Callable[..., bool]] = {}
_COMPILED_LIMIT: Final = 4096


def _compile(criterion: Criterion) -> Callable[..., bool]:
    """The compiled form of *criterion*, built once per distinct criterion (bounded)."""
    key = _typed_key(criterion)
    found = _COMPILED.get(key)
    if found is None:
        found = _build(criterion)
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def _build(criterion: Criterion) -> Callable[..., bool]:
    if isinstance(criterion, Condition):
        return _compile_condition(criterion)
    if isinstance(criterion, All | Any):
        tests = tuple(_compile(item) for item in criterion.items)
        if isinstance(criterion, All):

            def every(record: object, previous: object = None) -> bool:
                for test in tests:  # noqa: SIM110 - a loop is faster than all() over a generator
                    if not test(record, previous):
                        return False
                return True

            return every

        def some(record: object, previous: object = None) -> bool:
            for test in tests:  # noqa: SIM110 - a loop is faster than any() over a generator
                if test(record, previous):
                    return True
            return False

        return some
    inner = _compile(criterion.item)

    def negation(record: object, previous: object = None) -> bool:
        return not inner(record, previous)

    return negation


def _require_criterion(criterion: object, function: str) -> None:
    if not isinstance(criterion, Condition | All | Any | Not):
        raise ValidationError(
            function,
            [
                FieldError(
                    "criterion", "type", f"must be a criterion, not {type(criterion).__name__}"
                )
            ],
        )


def compile(criterion: Criterion) -> Callable[..., bool]:  # noqa: A001 - the rule's verb, as re.compile
    """A fast function ``(record, previous=None) -> bool`` for applying *criterion* many times.

    Each condition is turned into a specialised test once (its operator chosen, its values
    case-folded and grouped), so a record is tested without re-reading the criterion. It
    always agrees with :func:`evaluate`. Compiled functions are cached per criterion.

    >>> from leadmodel import Lead
    >>> hot = compile(
    ...     All([Condition("source", "in", ("Web", "Referral")), Condition("employees", "gte", 50)])
    ... )
    >>> hot(Lead(id="L1", last_name="Ng", company="Acme", source="web", employees=120))
    True

    Raises:
        ValidationError: *criterion* is not a criterion.
    """
    _require_criterion(criterion, "compile")
    return _compile(criterion)


def evaluate(criterion: Criterion, record: object, *, previous: object = None) -> bool:
    """Whether *record* (an entity or a mapping) satisfies *criterion*.

    *previous* is the record before an edit, for ``changed`` conditions (which are false
    without it).

    >>> from leadmodel import Lead
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", source="Web", custom={"visits": 4})
    >>> evaluate(
    ...     All([Condition("source", "eq", "web"), Condition("custom.visits", "gte", 3)]), lead
    ... )
    True

    Raises:
        ValidationError: *criterion* is not a criterion.
    """
    _require_criterion(criterion, "evaluate")
    return _interpret(criterion, record, previous)


# -- checking against a schema ---------------------------------------------------------------


def _fits(field_type: FieldType, value: object) -> bool:
    if field_type.is_textual:
        return isinstance(value, str)
    if field_type.is_numeric:
        return isinstance(value, int | Decimal) and not isinstance(value, bool)
    if field_type is FieldType.CHECKBOX:
        return isinstance(value, bool)
    if field_type is FieldType.DATE:
        return isinstance(value, date) and not isinstance(value, datetime)
    if field_type is FieldType.DATETIME:
        return isinstance(value, datetime)
    return False


def _conditions(criterion: Criterion) -> list[Condition]:
    if isinstance(criterion, Condition):
        return [criterion]
    if isinstance(criterion, Not):
        return _conditions(criterion.item)
    return [c for item in criterion.items for c in _conditions(item)]


def check_criterion(criterion: Criterion, schema: EntitySchema) -> tuple[FieldError, ...]:
    """Every problem of *criterion* against *schema*.

    Unknown fields and values of the wrong type (a date compared with text, a choice a
    restricted picklist does not have).

    >>> from leadmodel import LEAD_SCHEMA
    >>> [e.code for e in check_criterion(Condition("employees", "gt", "many"), LEAD_SCHEMA)]
    ['type']

    Raises:
        ValidationError: *criterion* is not a criterion or *schema* not an EntitySchema.
    """
    _checks.require_instance(
        criterion,
        (Condition, All, Any, Not),
        "a criterion",
        function="check_criterion",
        path="criterion",
    )
    _checks.require_instance(
        schema, EntitySchema, "an EntitySchema", function="check_criterion", path="schema"
    )
    errors: list[FieldError] = []
    for condition in _conditions(criterion):
        path = condition.field
        head = path.split(".")[0]
        try:
            field = schema.field(path if path.startswith("custom.") else head)
        except ValidationError:
            errors.append(FieldError(path, "unknown_field", f"{schema.kind} has no field {path!r}"))
            continue
        if field.type is FieldType.ADDRESS and "." in path:
            field_type = FieldType.TEXT  # a part of an address is text
        else:
            field_type = field.type
        if condition.op in _NO_VALUE:
            continue
        values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        if condition.op in _TEXT_OPS and not field_type.is_textual:
            errors.append(
                FieldError(
                    path, "type", f"{condition.op} needs a text field, {path} is {field_type.value}"
                )
            )
            continue
        for value in values:
            if not _fits(field_type, value):
                errors.append(
                    FieldError(
                        path,
                        "type",
                        f"{describe_value(value)} cannot be compared with a {field_type.value}",
                    )
                )
                break
            listed = condition.op in ("eq", "ne", "in", "not_in")
            if field.restricted and field.choices and listed and value not in field.choices:
                errors.append(
                    FieldError(
                        path,
                        "unknown_choice",
                        f"{value!r} is not one of {', '.join(field.choices)}",
                    )
                )
                break
    return tuple(errors)


# -- inlining: criteria as Python expressions, for rules compiled into one function ----------


def _read_expression(path: str, cls: type, ns: dict[str, object], k: int) -> str:
    """An expression over ``r`` reading *path* on records of class *cls*."""
    parts = path.split(".")
    if cls is dict and len(parts) == 1:
        return f"r.get({parts[0]!r})"
    fields = fields_of(cls) if cls is not dict else MAPPING
    if fields is not MAPPING and attrs.has(cls):
        if len(parts) == 1 and parts[0] in fields:
            return f"r.{parts[0]}"
        if len(parts) == 2 and parts[0] in fields:
            default = attrs.fields_dict(cls)[parts[0]].default
            if default.__class__ is FieldValues:  # custom / properties: never None
                # The entity's converter always makes a FieldValues: read its dict.
                return f"r.{parts[0]}._data.get({parts[1]!r})"
            inner = _attrs_class_of(cls, parts[0])
            if inner is not None and parts[1] in fields_of(inner):
                # address.country: read directly when the part is the declared class.
                ns[f"C{k}"] = inner
                ns[f"G{k}"] = getter(path)
                return (
                    f"(a{k}.{parts[1]} if (a{k} := r.{parts[0]}).__class__ is C{k}"
                    f" else (None if a{k} is None else G{k}(r)))"
                )
    ns[f"G{k}"] = getter(path)
    return f"G{k}(r)"


def _attrs_class_of(cls: type, name: str) -> type | None:
    """The attrs class a field of *cls* holds (``Address`` for ``address``), if it is one."""
    try:
        hint = typing.get_type_hints(cls).get(name)
    except (NameError, TypeError):  # an annotation that does not resolve here
        return None
    found = [t for t in typing.get_args(hint) or (hint,) if isinstance(t, type) and attrs.has(t)]
    return found[0] if len(found) == 1 else None


def _tag_memo(op: str, expected: object) -> Callable[[frozenset[object]], bool]:
    """A tag-set test (blank sets included) remembering its answers: tag sets repeat."""
    test = _tag_test(op, expected)
    when_blank = op in ("ne", "not_in")
    memo: dict[frozenset[object], bool] = {}

    def tags(value: frozenset[object]) -> bool:
        found = memo.get(value)
        if found is None:
            found = test(value) if value else when_blank
            if len(memo) >= 4096:
                memo.clear()
            memo[value] = found
        return found

    return tags


def _condition_expression(condition: Condition, cls: type, ns: dict[str, object], k: int) -> str:
    """*condition* as an expression over ``r`` that agrees with ``_interpret(…, None)``.

    Common cases (text and whole numbers) are tested inline; any other value falls back to
    the condition's compiled test ``T<k>``, so the meaning never differs.
    """
    op, expected = condition.op, condition.value
    if op == "changed":
        return "False"  # needs the previous record, which a single-record rule never has
    ns[f"T{k}"] = _compile(condition)
    v = f"v{k}"
    read = f"({v} := {_read_expression(condition.field, cls, ns, k)})"
    fallback = f"T{k}(r)"
    if op == "is_blank":
        return (
            f"(True if {read} is None else ((not {v}) if {v}.__class__ is str"
            f" else (False if {v}.__class__ is int else {fallback})))"
        )
    if op == "is_not_blank":
        return (
            f"(False if {read} is None else ({v} != '' if {v}.__class__ is str"
            f" else (True if {v}.__class__ is int else {fallback})))"
        )
    when_blank = op in ("ne", "not_in")
    values = expected if isinstance(expected, tuple) else (expected,)
    texts = all(value.__class__ is str for value in values)
    numbers = all(value.__class__ in (int, Decimal) for value in values)
    flags = all(value.__class__ is bool for value in values)
    rest = f"({when_blank} if {v} is None else {fallback})"
    if op in ("eq", "ne", "in", "not_in", "contains"):
        # Tags: a set's answer is remembered, as the same sets come back again and again.
        ns[f"M{k}"] = _tag_memo(op, expected)
        rest = (
            f"(M{k}({v}) if {v}.__class__ is frozenset"
            f" else ({when_blank} if {v} is None else {fallback}))"
        )
    if flags and op in ("eq", "ne", "in", "not_in"):
        ns[f"K{k}"] = frozenset(values)
        test = "in" if op in ("eq", "in") else "not in"
        return f"(({v} {test} K{k}) if {read}.__class__ is bool else {rest})"
    if not (texts or numbers):
        tail = (
            f"(M{k}({v}) if {v}.__class__ is frozenset else {fallback})"
            if f"M{k}" in ns
            else fallback
        )
        return f"({when_blank} if {read} is None else {tail})"
    if op in ("eq", "ne", "in", "not_in"):
        ns[f"K{k}"] = frozenset(_fold(value) for value in values)
        test = "in" if op in ("eq", "in") else "not in"
        if texts:
            folded = f"(({v}.casefold() {test} K{k}) if {v} else {when_blank})"
            return f"({folded} if {read}.__class__ is str else {rest})"
        return f"(({v} {test} K{k}) if {read}.__class__ is int else {rest})"
    if op in _ORDER_TESTS or op == "between":
        bounds = values if op == "between" else (values[0],)
        for i, bound in enumerate(bounds):
            ns[f"B{k}_{i}"] = _fold(bound)
        symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        if op == "between":
            body = f"B{k}_0 <= {v} <= B{k}_1"
            folded = f"B{k}_0 <= {v}.casefold() <= B{k}_1"
        else:
            body = f"{v} {symbol[op]} B{k}_0"
            folded = f"{v}.casefold() {symbol[op]} B{k}_0"
        if texts:
            return f"((({folded}) if {v} else False) if {read}.__class__ is str else {rest})"
        return f"(({body}) if {read}.__class__ is int else {rest})"
    if not texts:
        return fallback
    ns[f"P{k}"] = values[0].casefold()  # type: ignore[union-attr]
    text_test = {
        "contains": f"P{k} in {v}.casefold()",
        "starts_with": f"{v}.casefold().startswith(P{k})",
    }.get(op, f"{v}.casefold().endswith(P{k})")
    return f"((({text_test}) if {v} else False) if {read}.__class__ is str else {rest})"


def _expression(criterion: Criterion, cls: type, ns: dict[str, object], counter: list[int]) -> str:
    """*criterion* as one Python expression over the record ``r`` of class *cls*.

    Names the expression needs are put in *ns*; *counter* numbers the conditions so that
    several criteria can share one namespace (a scoring model compiles into one function).
    """
    if isinstance(criterion, Condition):
        counter[0] += 1
        return _condition_expression(criterion, cls, ns, counter[0])
    if isinstance(criterion, Not):
        return f"(not {_expression(criterion.item, cls, ns, counter)})"
    if not criterion.items:
        return "True" if isinstance(criterion, All) else "False"
    joiner = " and " if isinstance(criterion, All) else " or "
    return "(" + joiner.join(_expression(item, cls, ns, counter) for item in criterion.items) + ")"


def _inline(criterion: Criterion, cls: type) -> Callable[[object], bool]:
    """*criterion* compiled into one function for records of class *cls* (no ``previous``)."""
    ns: dict[str, object] = {}
    body = _expression(criterion, cls, ns, [0])
    source = f"def inline(r):\n    return bool({body})\n"
    exec(source, ns)  # noqa: S102 - source built from validated criteria, names are ours
    return ns["inline"]  # type: ignore[return-value]
