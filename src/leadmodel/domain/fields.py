"""Field types, field definitions, entity schemas and custom field values.

Every entity carries ``custom``, an immutable :class:`FieldValues` mapping of scalars. The
constructor checks only that each value is a scalar of an allowed type; an
:class:`EntitySchema` describes the standard and custom fields of one entity kind (type,
length, decimals, choices) and :meth:`EntitySchema.validate` checks an entity's custom values
against it. Conversion mapping type-checks against these schemas too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Final, Self

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess

__all__ = [
    "EntitySchema",
    "FieldDef",
    "FieldType",
    "FieldValues",
    "Scalar",
]

Scalar = str | int | Decimal | bool | date | datetime | None
"""The types a custom field value may have."""

_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_MAX_CUSTOM_TEXT: Final = 131_072
_MAX_INT: Final = 10**18
_MAX_DECIMAL_DIGITS: Final = 38


def _scalar_problem(value: object) -> tuple[str, str] | None:
    if value is None or value is True or value is False:
        return None
    if isinstance(value, str):
        return _checks.text_problem(value, _MAX_CUSTOM_TEXT, multiline=True)
    if isinstance(value, int):
        if -_MAX_INT < value < _MAX_INT:
            return None
        return "out_of_range", "integers must have at most 18 digits"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "not_finite", "must be a finite number"
        exponent = value.as_tuple().exponent
        if len(value.as_tuple().digits) > _MAX_DECIMAL_DIGITS or not (
            isinstance(exponent, int) and -_MAX_DECIMAL_DIGITS <= exponent <= _MAX_DECIMAL_DIGITS
        ):
            return "out_of_range", "decimals must have at most 38 digits"
        return None
    if isinstance(value, datetime):
        return _checks.aware_datetime(value)
    if isinstance(value, date):
        return None
    hint = " (use Decimal for fractions)" if isinstance(value, float) else ""
    allowed = "str, int, Decimal, bool, date, datetime or None"
    return "type", f"must be {allowed}, not {type(value).__name__}{hint}"


# Valid custom field names seen so far: names repeat across records, so most checks are a
# set look-up instead of a regex match. Bounded, so hostile input cannot grow it forever.
_KNOWN_NAMES: set[str] = set()
_KNOWN_NAMES_LIMIT: Final = 10_000


def _scalar_problems(values: object, prefix: str = "custom") -> list[FieldError]:
    """Return every problem of *values* as a mapping of custom field names to scalars."""
    if isinstance(values, FieldValues):
        return []
    if values.__class__ is not dict and not isinstance(values, Mapping):
        return [
            FieldError(
                prefix,
                "type",
                f"must be a mapping of field names to values, not {type(values).__name__}",
            )
        ]
    errors: list[FieldError] = []
    for key, value in values.items():
        if key in _KNOWN_NAMES:
            pass
        elif isinstance(key, str) and _NAME.fullmatch(key) is not None:
            if len(_KNOWN_NAMES) < _KNOWN_NAMES_LIMIT:
                _KNOWN_NAMES.add(key)
        else:
            errors.append(
                FieldError(
                    f"{prefix}.{key!s:.80}" if isinstance(key, str) else prefix,
                    "invalid_name",
                    "custom field names start with a letter and hold letters, digits and _ "
                    f"(at most 80; got {describe_value(key)})",
                )
            )
            continue
        problem = _scalar_problem(value)
        if problem is not None:
            errors.append(
                FieldError(
                    f"{prefix}.{key}", problem[0], f"{problem[1]} (got {describe_value(value)})"
                )
            )
    return errors


class FieldValues(Mapping[str, Scalar]):
    """An immutable, hashable mapping of custom field names to scalar values.

    Values are ``str``, ``int``, ``Decimal``, ``bool``, ``date`` or aware ``datetime``. A
    ``None`` value means the field is blank, so it is not stored. Equality is type-exact:
    ``True`` and ``1`` differ, as they do in JSON.

    >>> values = FieldValues({"visits": 3, "vip": True, "note": None})
    >>> dict(values)
    {'visits': 3, 'vip': True}
    >>> values == FieldValues({"visits": 3, "vip": 1})
    False
    """

    __slots__ = ("_data", "_hash")

    _data: dict[str, Scalar]
    _hash: int | None

    def __init__(self, values: Mapping[str, Scalar] | None = None) -> None:
        data: object = {} if values is None else values
        errors = _scalar_problems(data)
        if errors:
            raise ValidationError("custom", errors)
        assert isinstance(data, Mapping)  # noqa: S101 - _scalar_problems proved it
        self._data = {k: v for k, v in data.items() if v is not None}
        self._hash = None

    @classmethod
    def coerce(cls, value: object) -> object:
        """Turn a valid mapping into ``FieldValues``; leave anything else for the checks."""
        if isinstance(value, FieldValues):
            return value
        if value is None:
            return EMPTY_VALUES
        if (value.__class__ is dict or isinstance(value, Mapping)) and not _scalar_problems(value):
            values = object.__new__(cls)
            values._data = {k: v for k, v in value.items() if v is not None}
            values._hash = None
            return values
        return value

    def __getitem__(self, key: str) -> Scalar:
        return self._data[key]

    def get(self, key: str, default: Scalar = None) -> Scalar:  # type: ignore[override]
        """The value of *key*, or *default* (one dict look-up, not Mapping's two steps)."""
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldValues):
            return NotImplemented
        mine, theirs = self._data, other._data
        if mine.keys() != theirs.keys():
            return False
        for key, value in mine.items():
            other_value = theirs[key]
            if type(value) is not type(other_value) or value != other_value:
                return False
        return True

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FieldValues({self._data!r})"

    def set(self, **values: Scalar) -> FieldValues:
        """Return a copy with *values* set (``None`` clears a field)."""
        return FieldValues({**self._data, **values})


EMPTY_VALUES: Final = FieldValues()


class FieldType(Enum):
    """The type of a field, after Salesforce's field types.

    ``ADDRESS`` and ``REFERENCE`` (an id of another record) describe standard fields only.
    """

    TEXT = "text"
    TEXTAREA = "textarea"
    LONG_TEXT = "long_text"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    NUMBER = "number"
    CURRENCY = "currency"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    CHECKBOX = "checkbox"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    ADDRESS = "address"
    REFERENCE = "reference"

    @property
    def is_textual(self) -> bool:
        """Whether values of this type are text (text, picklists, email, phone, URL, ids)."""
        return self in _TEXTUAL

    @property
    def is_numeric(self) -> bool:
        """Whether values of this type are numbers (number, currency, percent)."""
        return self in _NUMERIC


_TEXTUAL: Final = frozenset(
    {
        FieldType.TEXT,
        FieldType.TEXTAREA,
        FieldType.LONG_TEXT,
        FieldType.PICKLIST,
        FieldType.MULTI_PICKLIST,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.REFERENCE,
    }
)
_NUMERIC: Final = frozenset({FieldType.NUMBER, FieldType.CURRENCY, FieldType.PERCENT})
_MULTILINE: Final = frozenset({FieldType.TEXTAREA, FieldType.LONG_TEXT})
_DEFAULT_LENGTH: Final = {
    FieldType.TEXT: 255,
    FieldType.TEXTAREA: 255,
    FieldType.LONG_TEXT: 32_768,
    FieldType.PICKLIST: 255,
    FieldType.MULTI_PICKLIST: 4_099,
    FieldType.EMAIL: 80,
    FieldType.PHONE: 40,
    FieldType.URL: 255,
    FieldType.REFERENCE: 255,
    FieldType.NUMBER: 18,
    FieldType.CURRENCY: 18,
    FieldType.PERCENT: 18,
}
_URL: Final = re.compile(r"(?:(?:https?|ftp)://)?[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def _field_def_problems(fd: FieldDef) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(fd.name, str) or _NAME.fullmatch(fd.name) is None:
        errors.append(
            FieldError(
                "name", "invalid_name", f"must be a field name (got {describe_value(fd.name)})"
            )
        )
    if not isinstance(fd.type, FieldType):
        errors.append(
            FieldError("type", "type", f"must be a FieldType (got {describe_value(fd.type)})")
        )
        return errors
    if fd.length is not None and (
        not isinstance(fd.length, int)
        or isinstance(fd.length, bool)
        or not 0 < fd.length <= 131_072
    ):
        errors.append(FieldError("length", "out_of_range", "must be an int from 1 to 131072"))
    if fd.decimals is not None:
        if fd.type not in _NUMERIC:
            errors.append(FieldError("decimals", "not_numeric", "only number fields have decimals"))
        elif (
            not isinstance(fd.decimals, int)
            or isinstance(fd.decimals, bool)
            or not 0 <= fd.decimals <= 17
        ):
            errors.append(FieldError("decimals", "out_of_range", "must be an int from 0 to 17"))
    if not isinstance(fd.choices, tuple) or not all(isinstance(c, str) for c in fd.choices):
        errors.append(FieldError("choices", "type", "must be a tuple of strings"))
    elif fd.choices:
        if fd.type not in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST):
            errors.append(FieldError("choices", "not_picklist", "only picklists have choices"))
        if len(set(fd.choices)) != len(fd.choices):
            errors.append(FieldError("choices", "duplicate", "must not repeat a choice"))
        length_ok = not any(e.path == "length" for e in errors)
        for choice in fd.choices:
            problem = _checks.text_problem(choice, (fd.max_length if length_ok else None) or 255)
            if problem is not None:
                errors.append(
                    FieldError(
                        "choices", problem[0], f"choice {describe_value(choice)} {problem[1]}"
                    )
                )
    if fd.restricted and not fd.choices:
        errors.append(FieldError("restricted", "no_choices", "a restricted picklist needs choices"))
    errors.extend(
        FieldError(flag, "type", "must be True or False")
        for flag in ("restricted", "required", "personal")
        if not isinstance(getattr(fd, flag), bool)
    )
    return errors


def _choices(values: Iterable[str]) -> tuple[str, ...]:
    return _checks.as_tuple(values)


@attrs.frozen
class FieldDef:
    """The definition of one standard or custom field.

    Args:
        name: the field name (for custom fields, the key in ``entity.custom``).
        type: its :class:`FieldType`.
        length: maximum characters for text types; total digits for number types.
        decimals: digits after the point for number, currency and percent fields.
        choices: the picklist values.
        restricted: a restricted picklist refuses values outside *choices*.
        required: a value must be present.
        personal: the field holds personal data (a private phone, a birthday, free text
            about a person); :func:`leadmodel.services.erase` replaces it with a token
            when it anonymises a person.

    >>> FieldDef("budget", FieldType.CURRENCY, length=16, decimals=2).max_length
    16
    """

    name: str
    type: FieldType
    length: int | None = None
    decimals: int | None = None
    choices: tuple[str, ...] = attrs.field(default=(), converter=_choices)
    restricted: bool = False
    required: bool = False
    personal: bool = False

    def __attrs_post_init__(self) -> None:
        errors = _field_def_problems(self)
        if errors:
            raise ValidationError(f"FieldDef {describe_value(self.name)}", errors)

    @property
    def max_length(self) -> int | None:
        """The effective maximum length: *length*, or the type's default."""
        if self.length is not None:
            return self.length
        return _DEFAULT_LENGTH.get(self.type)

    @property
    def scale(self) -> int:
        """Digits after the point for number types (0 when not given)."""
        return self.decimals or 0

    def canonical(self, value: Scalar) -> Scalar:
        """*value* spelled as the picklist choice it names regardless of case.

        Where the library writes a picklist value (a scoring band to ``rating``, an
        imported cell), it writes the choice's own spelling: ``"hot"`` becomes ``"Hot"``.
        Anything that is not a case-variant of a choice is returned unchanged, for the
        schema to report; stored records are never rewritten.

        >>> rating = FieldDef("rating", FieldType.PICKLIST, choices=("Hot", "Warm"))
        >>> rating.canonical("HOT"), rating.canonical("Lukewarm"), rating.canonical(3)
        ('Hot', 'Lukewarm', 3)
        """
        if not isinstance(value, str) or not self.choices or value in self.choices:
            return value
        folded = value.casefold()
        for choice in self.choices:
            if choice.casefold() == folded:
                return choice
        return value

    def problem(self, value: Scalar) -> tuple[str, str] | None:
        """Check one custom *value* against this definition; ``None`` when it fits."""
        if value is None:
            return ("required", "is required") if self.required else None
        kind = self.type
        if kind in _TEXTUAL:
            if not isinstance(value, str):
                return "type", f"a {kind.value} field holds text, not {type(value).__name__}"
            return self._text_problem(value)
        if kind in _NUMERIC:
            return self._number_problem(value)
        if kind is FieldType.CHECKBOX:
            return _checks.boolean(value)
        if kind is FieldType.DATE:
            return _checks.plain_date(value)
        if kind is FieldType.DATETIME:
            return _checks.aware_datetime(value)
        return "type", f"{kind.value} fields cannot be custom fields"

    def _text_problem(self, value: str) -> tuple[str, str] | None:
        limit = self.max_length or _MAX_CUSTOM_TEXT
        problem = _checks.text_problem(value, limit, multiline=self.type in _MULTILINE)
        if problem is not None:
            return problem
        if self.type is FieldType.PICKLIST and self.restricted and value not in self.choices:
            return "unknown_choice", f"must be one of {', '.join(self.choices)}"
        if self.type is FieldType.MULTI_PICKLIST:
            picked = value.split(";")
            if len(set(picked)) != len(picked):
                return "duplicate", "repeats a value"
            if self.restricted:
                unknown = [p for p in picked if p not in self.choices]
                if unknown:
                    return (
                        "unknown_choice",
                        f"{unknown[0]!r} is not one of {', '.join(self.choices)}",
                    )
        if self.type is FieldType.EMAIL:
            from leadmodel.domain.values import EmailAddress

            try:
                EmailAddress.parse(value)
            except ValidationError as exc:
                return "invalid", f"is not an email address: {exc.errors[0].message}"
        if self.type is FieldType.PHONE:
            from leadmodel.domain.values import PhoneNumber

            try:
                PhoneNumber.parse(value)
            except ValidationError as exc:
                return "invalid", f"is not a phone number: {exc.errors[0].message}"
        if self.type is FieldType.URL and _URL.fullmatch(value) is None:
            return "invalid", "is not a URL"
        return None

    def _number_problem(self, value: Scalar) -> tuple[str, str] | None:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return (
                "type",
                f"a {self.type.value} field holds int or Decimal, not {type(value).__name__}",
            )
        number = Decimal(value)
        sign_digits_exp = number.as_tuple()
        exponent = sign_digits_exp.exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if places > self.scale:
            return "too_many_decimals", f"must have at most {self.scale} decimal places"
        precision = self.max_length or 18
        integer_digits = max(number.adjusted() + 1, 0)
        if integer_digits > precision - self.scale:
            return "too_long", f"must have at most {precision - self.scale} digits before the point"
        return None


def _field_defs(values: Iterable[FieldDef]) -> tuple[FieldDef, ...]:
    return _checks.as_tuple(values)


def _unique_names(defs: Iterable[FieldDef], where: str) -> list[FieldError]:
    seen: set[str] = set()
    errors = []
    for fd in defs:
        if fd.name in seen:
            errors.append(FieldError(f"{where}.{fd.name}", "duplicate", "is defined twice"))
        seen.add(fd.name)
    return errors


@attrs.frozen
class EntitySchema:
    """The standard and custom fields of one entity kind.

    The library ships one per entity (``LEAD_SCHEMA``, ``CONTACT_SCHEMA``,
    ``ACCOUNT_SCHEMA``, ``OPPORTUNITY_SCHEMA``); a host adds its custom fields with
    :meth:`with_custom` and checks records with :meth:`validate`.

    >>> from leadmodel import LEAD_SCHEMA, Lead
    >>> schema = LEAD_SCHEMA.with_custom(FieldDef("visits", FieldType.NUMBER, decimals=0))
    >>> schema.field("custom.visits").type
    <FieldType.NUMBER: 'number'>
    >>> schema.validate(Lead(id="1", last_name="Ng", company="Acme", custom={"visits": 3}))
    """

    kind: str
    standard: tuple[FieldDef, ...] = attrs.field(converter=_field_defs)
    custom: tuple[FieldDef, ...] = attrs.field(default=(), converter=_field_defs)

    def __attrs_post_init__(self) -> None:
        wrong = [
            FieldError(f"{where}[{i}]", "type", f"must be a FieldDef, not {type(fd).__name__}")
            for where, defs in (("standard", self.standard), ("custom", self.custom))
            for i, fd in enumerate(defs)
            if not isinstance(fd, FieldDef)
        ]
        if not _checks.one_of(self.kind, ("lead", "contact", "account", "opportunity")) and (
            not isinstance(self.kind, str) or _checks.text_problem(self.kind, 40) is not None
        ):
            wrong.append(FieldError("kind", "type", "must be an entity kind such as 'lead'"))
        if wrong:
            raise ValidationError("EntitySchema", wrong)
        errors = _unique_names(self.standard, "standard") + _unique_names(self.custom, "custom")
        errors += [
            FieldError(
                f"custom.{fd.name}", "not_custom", f"{fd.type.value} fields cannot be custom"
            )
            for fd in self.custom
            if fd.type is FieldType.ADDRESS
        ]
        if errors:
            raise ValidationError(f"{self.kind} schema", errors)

    def with_custom(self, *fields: FieldDef) -> Self:
        """Return a schema with *fields* added to (or replacing same-named) custom fields."""
        names = {fd.name for fd in fields}
        kept = tuple(fd for fd in self.custom if fd.name not in names)
        return attrs.evolve(self, custom=kept + tuple(fields))

    @property
    def paths(self) -> tuple[str, ...]:
        """Every field path: standard names, then ``custom.<name>``."""
        return tuple(fd.name for fd in self.standard) + tuple(
            f"custom.{fd.name}" for fd in self.custom
        )

    def field(self, path: str) -> FieldDef:
        """The definition at *path* (``"email"`` or ``"custom.visits"``).

        Raises:
            ValidationError: code ``unknown_field`` when the schema has no such field.
        """
        if isinstance(path, str):
            group, name = (
                (self.custom, path[7:]) if path.startswith("custom.") else (self.standard, path)
            )
            for fd in group:
                if fd.name == name:
                    return fd
        raise ValidationError(
            f"{self.kind} schema",
            [
                FieldError(
                    path[:200] if isinstance(path, str) else "path",
                    "unknown_field",
                    f"{self.kind} has no field {describe_value(path)}",
                )
            ],
        )

    def problems(
        self, entity: object, *, process: LeadProcess | None = None
    ) -> tuple[FieldError, ...]:
        """Every problem of *entity* against this schema (empty when valid).

        Checked: the value of each restricted standard picklist (the lead's ``rating`` is
        one of ``Hot``, ``Warm``, ``Cold``), a lead's ``status`` against *its own* process
        (*process*, :data:`~leadmodel.DEFAULT_LEAD_PROCESS` when not given: a custom
        process's statuses are valid when that process is passed) and the custom values.
        Constructors do not check picklists, so records written before a picklist was
        restricted still load; this reports them (``unknown_choice``, naming the choice a
        case-variant stands for).

        >>> from leadmodel import LEAD_SCHEMA, Lead
        >>> lead = Lead(id="L1", last_name="Ng", company="Acme", rating="Lukewarm")
        >>> [(e.path, e.code) for e in LEAD_SCHEMA.problems(lead)]
        [('rating', 'unknown_choice')]

        Raises:
            ValidationError: *process* is not a LeadProcess.
        """
        if process is not None:
            _checks.require_instance(
                process,
                LeadProcess,
                "a LeadProcess",
                function="EntitySchema.problems",
                path="process",
            )
        custom = getattr(entity, "custom", None)
        if not isinstance(custom, Mapping):
            return (FieldError("custom", "type", f"{type(entity).__name__} has no custom fields"),)
        standard = self._standard_problems(entity, process)
        errors: list[FieldError] = list(_scalar_problems(custom))
        if errors:
            return (*standard, *errors)
        errors = standard + errors
        defined = {fd.name: fd for fd in self.custom}
        errors.extend(
            FieldError(f"custom.{key}", "unknown_field", f"{self.kind} has no custom field {key!r}")
            for key in custom
            if key not in defined
        )
        for name, fd in defined.items():
            problem = fd.problem(custom.get(name))
            if problem is not None:
                value = custom.get(name)
                errors.append(
                    FieldError(
                        f"custom.{name}", problem[0], f"{problem[1]} (got {describe_value(value)})"
                    )
                )
        return tuple(errors)

    def _standard_problems(self, entity: object, process: LeadProcess | None) -> list[FieldError]:
        errors: list[FieldError] = []
        for fd in self.standard:
            if fd.type is not FieldType.PICKLIST or not fd.restricted:
                continue
            value = getattr(entity, fd.name, None)
            if isinstance(value, Enum):
                value = value.value
            if not isinstance(value, str) or value in fd.choices:
                continue
            canonical = fd.canonical(value)
            hint = f"; {canonical!r} is the picklist's spelling" if canonical != value else ""
            errors.append(
                FieldError(
                    fd.name,
                    "unknown_choice",
                    f"must be one of {', '.join(fd.choices)} (got {describe_value(value)}{hint})",
                )
            )
        if self.kind == "lead" and isinstance(getattr(entity, "status", None), str):
            chosen = DEFAULT_LEAD_PROCESS if process is None else process
            status: str = getattr(entity, "status")  # noqa: B009 - any entity with a status
            if chosen.get(status) is None:
                names = ", ".join(s.name for s in chosen.statuses)
                errors.append(
                    FieldError(
                        "status",
                        "unknown_status",
                        f"{describe_value(status)} is not a status of {chosen.name!r} ({names})",
                    )
                )
        return errors

    def validate(self, entity: object, *, process: LeadProcess | None = None) -> None:
        """Check *entity* against this schema: see :meth:`problems`.

        Raises:
            ValidationError: listing every unknown field, wrong type, value too long,
                too many decimals, unknown choice of a restricted picklist, status not in
                the lead's process or missing required field.
        """
        errors = self.problems(entity, process=process)
        if errors:
            raise ValidationError(type(entity).__name__, errors)
