"""Record types and page layouts (Salesforce's words), as data.

A :class:`Layout` arranges an entity's fields in sections and says, per field, whether it
is *required* or *read-only* on that layout. A :class:`RecordType` names a layout and the
picklist values its records may take (a subset of the schema picklist per field: the lead
sources a partner lead may come from, the statuses of its lead process).
:func:`validate_layout` checks a record against its record type and returns a
:class:`LayoutCheck` with every problem as a :class:`~leadmodel.FieldError`: required fields
left blank (``required``), picklist values the record type does not allow
(``not_allowed``), read-only fields changed since *previous* (``read_only``), and a record
stamped with another record type (``record_type_mismatch``).

**Where a record's record type lives:** in its custom values, under
``custom["record_type"]`` (:data:`RECORD_TYPE_FIELD`), holding the record type's name —
so JSON and SQLite written before record types existed load unchanged, and a record
without one simply has no record type. :func:`with_record_type` stamps it and
:func:`record_type_of` reads it.

The checks run on capture (:class:`leadmodel.services.CaptureConfig` ``record_type``),
import (``import_leads(..., record_type=...)``) and conversion (``convert_lead(...,
record_types={"account": ..., ...})``). A lead layout also renders the
:class:`~leadmodel.FormSpec` of a web-to-lead form (:meth:`Layout.form_spec`) and an HTML
preview of the form (:meth:`Layout.to_html`, shown by notebooks), every text escaped.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import ACCOUNT_SCHEMA, Account
from leadmodel.domain.contact import CONTACT_SCHEMA, Contact
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.opportunity import OPPORTUNITY_SCHEMA, Opportunity
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
from leadmodel.rules._common import raise_problems
from leadmodel.rules._paths import ABSENT, getter

if TYPE_CHECKING:
    from leadmodel.intake import FormSpec

__all__ = [
    "DEFAULT_LEAD_LAYOUT",
    "RECORD_TYPE_FIELD",
    "Layout",
    "LayoutCheck",
    "LayoutField",
    "LayoutSection",
    "PicklistValues",
    "RecordType",
    "record_type_of",
    "validate_layout",
    "with_record_type",
]

RECORD_TYPE_FIELD: Final = "record_type"
"""The custom value that holds a record's record type name (``custom["record_type"]``)."""

Record = Lead | Contact | Account | Opportunity
RecordT = TypeVar("RecordT", Lead, Contact, Account, Opportunity)

_KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
}
_SCHEMAS: Final[dict[str, EntitySchema]] = {
    "lead": LEAD_SCHEMA,
    "contact": CONTACT_SCHEMA,
    "account": ACCOUNT_SCHEMA,
    "opportunity": OPPORTUNITY_SCHEMA,
}
_NOT_ON_LAYOUTS: Final = frozenset({"id", "custom", "converted"})
_CUSTOM_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_ADDRESS_PARTS: Final = frozenset(f.name for f in attrs.fields(Address))
_ADDRESS_FIELDS: Final = frozenset({"address", "mailing_address", "billing_address"})
_ADDRESS_ORDER: Final = tuple(f.name for f in attrs.fields(Address))
_PICKLISTS: Final = frozenset({FieldType.PICKLIST, FieldType.MULTI_PICKLIST})
# The record type's picklist values must come from the schema's, except the lead status:
# a lead process of the host's own defines its statuses.
_OPEN_CHOICES: Final = frozenset({"status", "stage"})
MAX_FIELDS: Final = 500
"""The most fields a layout may place (Salesforce allows a few hundred per object)."""
MAX_VALUES: Final = 1000
"""The most values a record type may allow for one picklist."""


# -- paths --------------------------------------------------------------------------------


@functools.cache
def _entity_fields(kind: str) -> dict[str, str]:
    """The layout paths of *kind*'s standard fields, each with its attrs field's name."""
    cls = _KINDS[kind]
    found: dict[str, str] = {}
    for field in attrs.fields(cls):
        if field.name in _NOT_ON_LAYOUTS:
            continue
        found[field.name] = field.name
        if field.name in _ADDRESS_FIELDS:
            for part in sorted(_ADDRESS_PARTS):
                found[f"{field.name}.{part}"] = field.name
    return found


def _path_problem(path: object, kind: str) -> _checks.Problem | None:
    """Why *path* is not a field of *kind* a layout may place, or ``None``."""
    if not isinstance(path, str):
        return "type", f"a field path is text, not {type(path).__name__}"
    if path.startswith("custom."):
        if _CUSTOM_NAME.fullmatch(path[7:]) is None:
            return "invalid", f"{describe_value(path)} is not custom.<name>"
        return None
    if path not in _entity_fields(kind):
        return (
            "unknown_field",
            (
                f"{kind} has no field {describe_value(path)} a layout can show "
                "(a field such as last_name, a part such as address.city, or custom.<name>)"
            ),
        )
    return None


# Standard fields the schemas leave out (conversion sets them, no mapping writes them).
_UNMAPPED_DEFINITIONS: Final = {("account", "is_person"): FieldDef("is_person", FieldType.CHECKBOX)}


def _definition(kind: str, path: str, schema: EntitySchema | None) -> FieldDef | None:
    """The schema's definition of *path*, when it has one."""
    chosen = schema if schema is not None and schema.kind == kind else _SCHEMAS[kind]
    try:
        return chosen.field(path)
    except ValidationError:
        return _UNMAPPED_DEFINITIONS.get((kind, path))


def _whole(path: str) -> str:
    """The whole address a part belongs to (``address`` for ``address.city``), or *path*."""
    head = path.partition(".")[0]
    return head if head in _ADDRESS_FIELDS else path


def _label(path: str) -> str:
    name = path.removeprefix("custom.")
    return name.replace(".", " ").replace("_", " ").capitalize()


# -- values ---------------------------------------------------------------------------------


def _one_line(value: object, limit: int) -> _checks.Problem | None:
    return _checks.text_problem(value, limit)


def _layout_field(value: object) -> object:
    """A bare path as a plain :class:`LayoutField` (``"email"``)."""
    return LayoutField(value) if isinstance(value, str) else value


def _layout_fields(values: object) -> object:
    if isinstance(values, list | tuple):
        return tuple(_layout_field(v) for v in values)
    return values


def _tuple(values: object) -> object:
    return tuple(values) if isinstance(values, list) else values


@attrs.frozen(cache_hash=True)
class LayoutField:
    """One field placed on a layout: its path, and whether it is required or read-only.

    Args:
        path: the field (``"email"``, ``"address.city"``, ``"custom.budget"``).
        required: the layout refuses a record that leaves it blank.
        read_only: the layout refuses a change to it (checked against the previous
            version of the record); a form does not ask for it.
        label: what the form shows (the path, capitalised, by default).

    >>> LayoutField("email", required=True).required
    True
    """

    path: str
    required: bool = attrs.field(default=False, kw_only=True)
    read_only: bool = attrs.field(default=False, kw_only=True)
    label: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, _checks.Problem | None]] = [
            ("path", _one_line(self.path, 120)),
            ("required", _checks.boolean(self.required)),
            ("read_only", _checks.boolean(self.read_only)),
            ("label", None if self.label is None else _one_line(self.label, 255)),
        ]
        if self.required is True and self.read_only is True:
            problems.append(
                ("read_only", ("required_and_read_only", "a field is required or read-only"))
            )
        raise_problems("LayoutField", problems)

    @property
    def shown_label(self) -> str:
        """The label a form shows."""
        return self.label if self.label is not None else _label(self.path)


@attrs.frozen(cache_hash=True)
class LayoutSection:
    """A titled group of fields on a layout (``"Lead Information"``, ``"Address"``).

    Fields are :class:`LayoutField` values or bare paths (plain, optional fields).

    >>> LayoutSection("Contact", ["email", LayoutField("last_name", required=True)]).fields[0]
    LayoutField(path='email', required=False, read_only=False, label=None)
    """

    title: str
    fields: tuple[LayoutField, ...] = attrs.field(converter=_layout_fields)

    def __attrs_post_init__(self) -> None:
        fields_problem: _checks.Problem | None = None
        if not isinstance(self.fields, tuple) or not all(
            isinstance(f, LayoutField) for f in self.fields
        ):
            fields_problem = ("type", "must be a sequence of LayoutField values or paths")
        elif not self.fields:
            fields_problem = ("empty", "a section shows at least one field")
        elif len(self.fields) > MAX_FIELDS:
            fields_problem = ("too_many", f"a section shows at most {MAX_FIELDS} fields")
        raise_problems(
            "LayoutSection",
            [("title", _one_line(self.title, 80)), ("fields", fields_problem)],
        )


def _sections_problem(sections: object) -> _checks.Problem | None:
    if not isinstance(sections, tuple) or not all(isinstance(s, LayoutSection) for s in sections):
        return "type", "must be a sequence of LayoutSection values"
    if not sections:
        return "empty", "a layout has at least one section"
    if sum(len(s.fields) for s in sections) > MAX_FIELDS:
        return "too_many", f"a layout shows at most {MAX_FIELDS} fields"
    return None


def _kind_problem(kind: object) -> _checks.Problem | None:
    if _checks.one_of(kind, tuple(_KINDS)):
        return None
    return "invalid", "must be 'lead', 'contact', 'account' or 'opportunity'"


@attrs.frozen(cache_hash=True)
class Layout:
    """A page layout: an entity's fields in sections, each required, read-only or neither.

    Args:
        name: the layout's name.
        sections: its :class:`LayoutSection` values, in order; a field appears once.
        kind: the entity it lays out: ``"lead"`` (default), ``"contact"``, ``"account"``
            or ``"opportunity"``; every path must be a field of it.

    >>> layout = Layout(
    ...     "Partner lead",
    ...     [
    ...         LayoutSection("Lead", [LayoutField("last_name", required=True), "company"]),
    ...         LayoutSection("Deal", [LayoutField("status", read_only=True), "rating"]),
    ...     ],
    ... )
    >>> layout.required, layout.read_only
    (('last_name',), ('status',))

    Raises:
        ValidationError: a bad name or kind, no sections, a path that is not a field of
            *kind* (``unknown_field``), or a field placed twice (``duplicate``; a whole
            address and one of its parts count as twice).
    """

    name: str
    sections: tuple[LayoutSection, ...] = attrs.field(converter=_tuple)
    kind: str = attrs.field(default="lead", kw_only=True)

    def __attrs_post_init__(self) -> None:
        raise_problems(
            "Layout",
            [
                ("name", _one_line(self.name, 80)),
                ("kind", _kind_problem(self.kind)),
                ("sections", _sections_problem(self.sections)),
            ],
        )
        errors: list[FieldError] = []
        seen: set[str] = set()
        for i, section in enumerate(self.sections):
            for j, field in enumerate(section.fields):
                where = f"sections[{i}].fields[{j}]"
                problem = _path_problem(field.path, self.kind)
                if problem is not None:
                    errors.append(FieldError(where, *problem))
                elif field.path in seen or _whole(field.path) in seen:
                    errors.append(
                        FieldError(where, "duplicate", f"{field.path!r} is on the layout twice")
                    )
                elif field.path in _ADDRESS_FIELDS and any(
                    p.startswith(f"{field.path}.") for p in seen
                ):
                    errors.append(
                        FieldError(
                            where,
                            "duplicate",
                            f"{field.path!r} is on the layout already, part by part",
                        )
                    )
                seen.add(field.path)
        if errors:
            raise ValidationError(f"Layout {describe_value(self.name)}", errors)

    @property
    def fields(self) -> tuple[LayoutField, ...]:
        """Every field of the layout, section by section."""
        return tuple(field for section in self.sections for field in section.fields)

    @property
    def paths(self) -> tuple[str, ...]:
        """The path of every field, section by section."""
        return tuple(field.path for field in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """The paths of the required fields."""
        return tuple(field.path for field in self.fields if field.required)

    @property
    def read_only(self) -> tuple[str, ...]:
        """The paths of the read-only fields."""
        return tuple(field.path for field in self.fields if field.read_only)

    def field(self, path: str) -> LayoutField | None:
        """The layout's field at *path*, or ``None`` when the layout does not show it."""
        return next((f for f in self.fields if f.path == path), None)

    def form_spec(self, base: FormSpec | None = None) -> FormSpec:
        """The :class:`~leadmodel.FormSpec` of a web-to-lead form with this layout's fields.

        The form accepts the layout's editable fields that a web form can fill (names,
        company, email, phones, title, website, industry, employees, source, campaign,
        description, tags, address parts and custom fields): each under its own path
        (``address.city`` as ``address_city`` too), its label and *base*'s aliases for it
        (``FormSpec.default()`` by default: ``fname``, ``zip`` …). The names the layout's
        own HTML form posts (each path, each part of a whole address) always reach their
        field: a label or a custom field's bare name never takes another field's name.
        Read-only fields and fields a form cannot set (status, owner, rating …) are not
        form fields; a value posted for them is kept in ``custom.form_extra`` like any
        unknown field, never lost. Opt-outs (``emailOptOut``, ``DoNotCall`` …) always reach
        their flags, whatever the layout. *base*'s other settings (honeypot, spam threshold,
        schema …) carry over. Pair it with ``CaptureConfig(record_type=...)`` so required
        fields and picklist values are enforced on capture.

        >>> spec = DEFAULT_LEAD_LAYOUT.form_spec()
        >>> dict(spec.aliases)["fname"], dict(spec.aliases)["city"]
        ('first_name', 'address.city')

        Raises:
            ValidationError: not a lead layout, or *base* is not a FormSpec.
        """
        from leadmodel.intake import FormSpec, _normal

        if self.kind != "lead":
            raise ValidationError(
                "Layout.form_spec",
                [FieldError("kind", "not_lead", f"a web form makes leads; this is {self.kind}")],
            )
        spec = FormSpec.default() if base is None else base
        if not isinstance(spec, FormSpec):
            raise ValidationError(
                "Layout.form_spec",
                [FieldError("base", "type", f"must be a FormSpec, not {type(spec).__name__}")],
            )
        wanted = {f.path for f in self.fields if not f.read_only and _form_fills(f.path)}
        if "address" in wanted:
            wanted |= {f"address.{part}" for part in _ADDRESS_PARTS}
        aliases = {
            name: target
            for name, target in spec.aliases
            if target in wanted
            or target in ("ignore", "email_opt_out", "do_not_call")  # opt-outs always land
            or target.startswith("utm.")
            or (target == "name" and "last_name" in wanted)
        }
        # The names the layout's own HTML form posts (each path, each part of a whole
        # address) always reach their field; a custom field's bare name and a label
        # name it unless that name is another field's own.
        # The whole "address" is no place a value lands (its parts are): never a target.
        wanted.discard("address")
        own: dict[str, str] = {}
        for path in sorted(wanted):
            own[_normal(path)] = path
        for path in sorted(wanted):
            if path.startswith("custom."):
                own.setdefault(_normal(path[7:]), path)
        for field in self.fields:
            label = "" if field.label is None else _normal(field.label)
            if field.path in wanted and label and label not in own:
                aliases[label] = field.path
        aliases.update(own)
        custom_ids = [(key, target) for key, target in spec.custom_ids if target in wanted]
        return attrs.evolve(spec, aliases=sorted(aliases.items()), custom_ids=custom_ids)

    def to_html(self, record: Record | None = None, *, schema: EntitySchema | None = None) -> str:
        """An HTML ``<form>`` previewing the layout, filled with *record*'s values.

        Sections become fieldsets; each field an input of its type (a select for a
        picklist with its schema choices), marked ``required`` or ``readonly``. Every
        name, label and value is escaped. *schema* types custom fields.

        >>> layout = Layout("L", [LayoutSection("<b>Who</b>", [LayoutField("last_name")])])
        >>> "&lt;b&gt;Who&lt;/b&gt;" in layout.to_html()
        True
        """
        return _form_html(self, None, record, schema)

    def _repr_html_(self) -> str:
        return self.to_html()


# Lead fields parse_web_form fills (beside address parts and custom fields).
_FORM_FIELDS: Final = frozenset(
    {
        "first_name",
        "last_name",
        "company",
        "email",
        "phone",
        "mobile",
        "title",
        "website",
        "industry",
        "employees",
        "source",
        "campaign_id",
        "description",
        "tags",
        "address",
    }
)


def _form_fills(path: str) -> bool:
    return path in _FORM_FIELDS or path.startswith(("address.", "custom."))


def _values_problem(values: object) -> _checks.Problem | None:
    if not isinstance(values, tuple):
        return "type", "must be a sequence of picklist values"
    if not values:
        return "empty", "a record type allows at least one value"
    if len(values) > MAX_VALUES:
        return "too_many", f"at most {MAX_VALUES} values"
    for value in values:
        problem = _one_line(value, 255)
        if problem is not None:
            return problem[0], f"value {describe_value(value)}: {problem[1]}"
    if len(set(values)) != len(values):
        return "duplicate", "repeats a value"
    return None


@attrs.frozen(cache_hash=True)
class PicklistValues:
    """The values of one picklist a record type allows, and its default.

    >>> PicklistValues("source", ["Partner", "Web"], default="Partner").values
    ('Partner', 'Web')
    """

    path: str
    values: tuple[str, ...] = attrs.field(converter=_tuple)
    default: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        values = _values_problem(self.values)
        default: _checks.Problem | None = None
        if self.default is not None:
            default = _one_line(self.default, 255)
            if default is None and values is None and self.default not in self.values:
                default = ("not_allowed", "the default must be one of the values")
        raise_problems(
            "PicklistValues",
            [("path", _one_line(self.path, 120)), ("values", values), ("default", default)],
        )


def _picklist_problem(item: PicklistValues, kind: str) -> _checks.Problem | None:
    path = item.path
    if path.startswith("custom."):
        return _path_problem(path, kind)
    definition = _definition(kind, path, None)
    if definition is None or definition.type not in _PICKLISTS:
        names = sorted(
            fd.name for fd in _SCHEMAS[kind].standard if fd.type in _PICKLISTS and fd.name
        )
        return (
            "not_picklist",
            (
                f"{describe_value(path)} is not a picklist of {kind} "
                f"({', '.join(names)} or custom.<name>)"
            ),
        )
    limit = definition.max_length
    too_long = next((v for v in item.values if limit is not None and len(v) > limit), None)
    if too_long is not None:
        return (
            "too_long",
            f"{describe_value(too_long)} is longer than the {path} field ({limit} characters)",
        )
    if definition.choices and path not in _OPEN_CHOICES:
        outside = [v for v in item.values if v not in definition.choices]
        if outside:
            return (
                "unknown_choice",
                (
                    f"{outside[0]!r} is not a value of the {path} picklist "
                    f"({', '.join(definition.choices)})"
                ),
            )
    return None


def _picklist_item(path: str, value: object) -> object:
    """``{path: values}`` or ``{path: PicklistValues(...)}`` as PicklistValues at *path*."""
    if isinstance(value, list | tuple):
        return PicklistValues(path, value)
    if isinstance(value, PicklistValues) and value.path != path:
        return attrs.evolve(value, path=path)
    return value


def _picklists(values: object) -> object:
    if isinstance(values, Mapping):
        items = list(values.items())
        if all(isinstance(k, str) for k, _ in items):
            return tuple(_picklist_item(k, v) for k, v in items)
        return values
    return _tuple(values)


@attrs.frozen(cache_hash=True)
class RecordType:
    """A record type: its layout and the picklist values its records may take.

    Args:
        name: the record type's name; records carry it in ``custom["record_type"]``.
        layout: the :class:`Layout` of its records (its ``kind`` is the record type's).
        picklists: per picklist field, the :class:`PicklistValues` allowed (a mapping
            ``{"source": ["Web", "Partner"]}`` is accepted too). The values must be the
            schema picklist's when it has fixed ones (``rating``: Hot, Warm, Cold); the
            lead ``status`` takes any names (the statuses of the record type's process).
        description: what it is for.

    >>> partner = RecordType(
    ...     "Partner",
    ...     DEFAULT_LEAD_LAYOUT,
    ...     picklists={"source": ["Partner", "Partner Referral"], "rating": ["Hot", "Warm"]},
    ... )
    >>> partner.allowed("source"), partner.allowed("industry")
    (('Partner', 'Partner Referral'), None)

    Raises:
        ValidationError: a bad name, layout or description; more than 500 picklists
            (``too_many``, one per field a layout may show); a picklist given twice, a
            field that is not a picklist of the layout's kind (``not_picklist``), a value
            longer than its field (``too_long``) or outside a fixed schema picklist
            (``unknown_choice``).
    """

    name: str
    layout: Layout
    picklists: tuple[PicklistValues, ...] = attrs.field(default=(), converter=_picklists)
    description: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        layout_ok = isinstance(self.layout, Layout)
        picklists: _checks.Problem | None = None
        if not isinstance(self.picklists, tuple) or not all(
            isinstance(p, PicklistValues) for p in self.picklists
        ):
            picklists = ("type", "must be PicklistValues values (or a mapping of values)")
        elif len(self.picklists) > MAX_FIELDS:
            picklists = ("too_many", f"at most {MAX_FIELDS} picklists (one per field)")
        raise_problems(
            "RecordType",
            [
                ("name", _one_line(self.name, 80)),
                ("layout", None if layout_ok else ("type", "must be a Layout")),
                ("picklists", picklists),
                (
                    "description",
                    None
                    if self.description is None
                    else _checks.text_problem(self.description, 1000, multiline=True),
                ),
            ],
        )
        errors: list[FieldError] = []
        seen: set[str] = set()
        for i, item in enumerate(self.picklists):
            problem = _picklist_problem(item, self.layout.kind)
            if problem is not None:
                errors.append(FieldError(f"picklists[{i}]", *problem))
            elif item.path in seen:
                errors.append(
                    FieldError(f"picklists[{i}]", "duplicate", f"{item.path!r} is given twice")
                )
            seen.add(item.path)
        if errors:
            raise ValidationError(f"RecordType {describe_value(self.name)}", errors)

    @property
    def kind(self) -> str:
        """The entity kind of its records (its layout's)."""
        return self.layout.kind

    def allowed(self, path: str) -> tuple[str, ...] | None:
        """The values allowed at *path*, or ``None`` when the record type does not limit it."""
        found = next((p for p in self.picklists if p.path == path), None)
        return None if found is None else found.values

    def default(self, path: str) -> str | None:
        """The record type's default value at *path*, or ``None``."""
        found = next((p for p in self.picklists if p.path == path), None)
        return None if found is None else found.default

    def form_spec(self, base: FormSpec | None = None) -> FormSpec:
        """The web-to-lead :class:`~leadmodel.FormSpec` of its layout (:meth:`Layout.form_spec`).

        When the record type limits ``source``, a form's lead source defaults to the
        record type's default source (none when it has no default) instead of *base*'s.

        >>> partner = RecordType(
        ...     "Partner",
        ...     DEFAULT_LEAD_LAYOUT,
        ...     {"source": PicklistValues("source", ["Partner", "Referral"], default="Partner")},
        ... )
        >>> partner.form_spec().default_source, partner.form_spec().honeypot
        ('Partner', 'honeypot')
        """
        spec = self.layout.form_spec(base)
        if self.allowed("source") is not None:
            spec = attrs.evolve(spec, default_source=self.default("source"))
        return spec

    def to_html(self, record: Record | None = None, *, schema: EntitySchema | None = None) -> str:
        """An HTML form previewing its layout, picklists limited to the allowed values.

        >>> partner = RecordType("Partner", DEFAULT_LEAD_LAYOUT, {"rating": ["Hot"]})
        >>> '<option value="Warm"' in partner.to_html()
        False
        """
        return _form_html(self.layout, self, record, schema)

    def _repr_html_(self) -> str:
        return self.to_html()


# -- validation ----------------------------------------------------------------------------


@attrs.frozen
class LayoutCheck:
    """Whether a record meets its record type and layout, and every reason it does not.

    Attributes:
        record_type: the record type's (or layout's) name.
        record_id: the record checked.
        errors: one :class:`~leadmodel.FieldError` per problem, on the field's path, with
            the code ``required``, ``not_allowed``, ``read_only`` or
            ``record_type_mismatch``.
    """

    _repr_html_ = result_html

    record_type: str
    record_id: str | None
    errors: tuple[FieldError, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def ok(self) -> bool:
        """Whether the record meets the record type (no errors)."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise the errors as one :class:`~leadmodel.ValidationError` (nothing when ok).

        Raises:
            ValidationError: carrying every error.
        """
        if self.errors:
            raise ValidationError(f"record type {self.record_type!r}", self.errors)


def _blank(value: object) -> bool:
    return (
        value is None
        or value is ABSENT
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, frozenset | tuple) and not value)
    )


def _choices_of(value: object) -> tuple[str, ...]:
    """The picklist values in *value*: each tag of a set, an enum's value, or the value."""
    if isinstance(value, frozenset):
        return tuple(sorted(str(v) for v in value))
    if isinstance(value, Enum):
        return (str(value.value),)
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v) if ";" in value else (value,)
    return (str(value),)


def _outside(value: object, item: PicklistValues, kind: str) -> list[str]:
    """The values of *value* the record type does not allow at *item*'s path.

    A text value is one value when it is allowed whole or its field is a standard
    single-select picklist (a source may be ``"Partner; Reseller"``); otherwise each
    ``;``-separated value of a multi-select is checked.
    """
    if isinstance(value, str):
        if value in item.values:
            return []
        definition = None if item.path.startswith("custom.") else _definition(kind, item.path, None)
        if definition is not None and definition.type is not FieldType.MULTI_PICKLIST:
            return [value]
    return [v for v in _choices_of(value) if v not in item.values]


@functools.lru_cache(maxsize=512)
def _reader(path: str) -> Any:
    return getter(path)


def _read(record: object, path: str) -> object:
    read: Any = _reader(path)
    return read(record)


def record_type_of(record: Record) -> str | None:
    """The name of *record*'s record type (``custom["record_type"]``), or ``None``.

    >>> from leadmodel import Lead
    >>> record_type_of(Lead(id="L1", last_name="Ng", company="A", custom={"record_type": "Web"}))
    'Web'

    Raises:
        ValidationError: *record* is not a lead, contact, account or opportunity.
    """
    _require_record(record, "record_type_of")
    value = record.custom.get(RECORD_TYPE_FIELD)
    return value if isinstance(value, str) else None


def _other_record_type(record: Record, record_type: RecordType) -> FieldError | None:
    """The ``record_type_mismatch`` error when *record* already carries another record type.

    Import and capture stamp new records with their record type; a row or form that names
    another one is refused rather than silently restamped (its value would be lost).
    """
    stamped = record.custom.get(RECORD_TYPE_FIELD)
    if stamped is None or stamped == record_type.name:
        return None
    return FieldError(
        f"custom.{RECORD_TYPE_FIELD}",
        "record_type_mismatch",
        f"the record is of record type {describe_value(stamped)}, not {record_type.name!r}",
    )


def with_record_type(record: RecordT, record_type: RecordType) -> RecordT:
    """*record* stamped with *record_type*: its name in ``custom["record_type"]``.

    Blank picklists the record type has a default for get that default (Salesforce fills
    them from the record type). The record is checked like any update.

    >>> from leadmodel import Lead
    >>> web = RecordType(
    ...     "Web",
    ...     DEFAULT_LEAD_LAYOUT,
    ...     {"source": PicklistValues("source", ["Web", "Partner"], default="Web")},
    ... )
    >>> lead = with_record_type(Lead(id="L1", last_name="Ng", company="A"), web)
    >>> lead.custom["record_type"], lead.source
    ('Web', 'Web')

    Raises:
        ValidationError: *record* is not an entity of the record type's kind.
        ConvertedLeadError: *record* is a converted lead (read-only).
    """
    from leadmodel.domain.changes import update

    _require_type(record_type, "with_record_type")
    _require_record(record, "with_record_type", record_type.kind)
    changes: dict[str, Any] = {}
    for item in record_type.picklists:
        if item.default is None or item.path.startswith("custom.") or "." in item.path:
            continue
        if item.path in ("status", "lifecycle_stage", "stage"):
            continue  # managed: set through transition/advance, never filled here
        if _blank(getattr(record, item.path, None)):
            changes[item.path] = frozenset({item.default}) if item.path == "tags" else item.default
    custom = dict(record.custom)
    custom[RECORD_TYPE_FIELD] = record_type.name
    for item in record_type.picklists:
        if item.default is not None and item.path.startswith("custom."):
            custom.setdefault(item.path[7:], item.default)
    if custom != dict(record.custom):
        changes["custom"] = custom
    if not changes:
        return record
    return update(record, **changes)


def validate_layout(
    record: Record,
    record_type: RecordType | Layout,
    *,
    previous: Record | None = None,
) -> LayoutCheck:
    """Check *record* against *record_type* (or a bare layout): every problem, explained.

    - ``required``: a field the layout requires is blank (``None``, empty text, no tags).
    - ``not_allowed``: a picklist value the record type does not allow (each tag of a
      multi-select, each ``;``-separated value of a custom one; a standard single
      picklist's value is one value; enum values by their value).
    - ``read_only``: a field read-only on the layout differs from *previous* (the stored
      version); without *previous* (a new record) read-only fields are not checked.
    - ``record_type_mismatch``: the record carries another record type's name.

    >>> from leadmodel import Lead
    >>> partner = RecordType(
    ...     "Partner",
    ...     Layout(
    ...         "P",
    ...         [
    ...             LayoutSection(
    ...                 "Lead",
    ...                 [
    ...                     LayoutField("last_name", required=True),
    ...                     LayoutField("email", required=True),
    ...                     LayoutField("company", read_only=True),
    ...                 ],
    ...             )
    ...         ],
    ...     ),
    ...     {"source": ["Partner"]},
    ... )
    >>> before = Lead(id="L1", last_name="Ng", company="Acme", source="Partner")
    >>> after = Lead(id="L1", last_name="Ng", company="Umbrella", source="Web")
    >>> check = validate_layout(after, partner, previous=before)
    >>> check.ok, [(e.path, e.code) for e in check.errors]
    (False, [('email', 'required'), ('company', 'read_only'), ('source', 'not_allowed')])

    Raises:
        ValidationError: misuse: *record* is not an entity of the layout's kind,
            *previous* is not the same kind of record with the same id.
    """
    layout, picklists, name = _layout_parts(record_type)
    _require_record(record, "validate_layout", layout.kind)
    if previous is not None:
        _require_record(previous, "validate_layout", layout.kind, path="previous")
        if previous.id != record.id:
            raise ValidationError(
                "validate_layout",
                [
                    FieldError(
                        "previous",
                        "not_same_record",
                        f"previous is {previous.id!r}, the record {record.id!r}",
                    )
                ],
            )
    errors: list[FieldError] = []
    for field in layout.fields:
        if field.required and _blank(_read(record, field.path)):
            errors.append(
                FieldError(field.path, "required", f"is required on layout {layout.name!r}")
            )
        if field.read_only and previous is not None:
            before, after = _read(previous, field.path), _read(record, field.path)
            if before != after:
                errors.append(
                    FieldError(
                        field.path,
                        "read_only",
                        f"is read-only on layout {layout.name!r}: was "
                        f"{describe_value(_shown(before))}, now {describe_value(_shown(after))}",
                    )
                )
    for item in picklists:
        value = _read(record, item.path)
        if _blank(value):
            continue
        outside = _outside(value, item, layout.kind)
        if outside:
            errors.append(
                FieldError(
                    item.path,
                    "not_allowed",
                    f"{describe_value(outside[0])} is not allowed for record type {name!r} "
                    f"({', '.join(item.values[:20])}{' …' if len(item.values) > 20 else ''})",
                )
            )
    stamped = record.custom.get(RECORD_TYPE_FIELD)
    if isinstance(record_type, RecordType) and stamped is not None and stamped != name:
        errors.append(
            FieldError(
                f"custom.{RECORD_TYPE_FIELD}",
                "record_type_mismatch",
                f"the record is of record type {describe_value(stamped)}, not {name!r}",
            )
        )
    return LayoutCheck(record_type=name, record_id=record.id, errors=tuple(errors))


def _layout_parts(
    record_type: object,
) -> tuple[Layout, tuple[PicklistValues, ...], str]:
    if isinstance(record_type, RecordType):
        return record_type.layout, record_type.picklists, record_type.name
    if isinstance(record_type, Layout):
        return record_type, (), record_type.name
    raise ValidationError(
        "validate_layout",
        [
            FieldError(
                "record_type",
                "type",
                f"must be a RecordType or a Layout, not {type(record_type).__name__}",
            )
        ],
    )


def _require_type(record_type: object, function: str) -> None:
    _checks.require_instance(
        record_type, RecordType, "a RecordType", function=function, path="record_type"
    )


def _require_record(
    record: object, function: str, kind: str | None = None, *, path: str = "record"
) -> None:
    cls: type | tuple[type, ...] = _KINDS[kind] if kind is not None else tuple(_KINDS.values())
    what = (
        f"a {cls.__name__}" if isinstance(cls, type) else "a Lead, Contact, Account or Opportunity"
    )
    _checks.require_instance(record, cls, what, function=function, path=path)


def _shown(value: object) -> object:
    """A value as text for a message (no reprs of our value objects)."""
    if value is ABSENT:
        return None
    if isinstance(value, EmailAddress | PhoneNumber | Money | Enum):
        return str(value.value) if isinstance(value, Enum) else str(value)
    return value


# -- HTML ---------------------------------------------------------------------------------

_INPUT_TYPES: Final = {
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.URL: "url",
    FieldType.NUMBER: "number",
    FieldType.CURRENCY: "number",
    FieldType.PERCENT: "number",
    FieldType.CHECKBOX: "checkbox",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
}
_TEXTAREAS: Final = frozenset({FieldType.TEXTAREA, FieldType.LONG_TEXT})


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _value_text(value: object) -> str:
    if value is None or value is ABSENT:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Money):
        return str(value.amount)
    if isinstance(value, frozenset):
        return ";".join(sorted(str(v) for v in value))
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")  # what a datetime-local input takes
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PhoneNumber):
        return value.formatted()  # str() leaves out an extension
    if isinstance(value, Decimal | int | str | EmailAddress):
        return str(value)
    return describe_value(value)


def _options(choices: Iterable[str], current: str, *, multiple: bool) -> str:
    """The options of a select, the record's values selected.

    A stored value the choices lack is shown too (selected), so the preview never hides
    what the record holds and a form posted back from it loses nothing.
    """
    listed = tuple(choices)
    if not current:
        picked: tuple[str, ...] = ()
    elif multiple:
        picked = tuple(v for v in current.split(";") if v)
    else:
        picked = (current,)
    out = ['<option value="">--None--</option>']
    out += [
        f'<option value="{_e(c)}"{" selected" if c in picked else ""}>{_e(c)}</option>'
        for c in (*listed, *(v for v in dict.fromkeys(picked) if v not in listed))
    ]
    return "".join(out)


def _part(field: LayoutField, part: str) -> LayoutField:
    """One part of a whole-address field (a required address needs some part, not each)."""
    return LayoutField(f"{field.path}.{part}", read_only=field.read_only)


def _control(
    layout: Layout,
    field: LayoutField,
    record_type: RecordType | None,
    record: Record | None,
    schema: EntitySchema | None,
) -> str:
    path = field.path
    if path in _ADDRESS_FIELDS:  # the whole address: one input per part
        return " ".join(
            _control(layout, _part(field, part), None, record, schema) for part in _ADDRESS_ORDER
        )
    value = "" if record is None else _value_text(_read(record, path))
    flags = (" required" if field.required else "") + (" readonly" if field.read_only else "")
    definition = _definition(layout.kind, path, schema)
    allowed = None if record_type is None else record_type.allowed(path)
    choices: tuple[str, ...] | None = allowed
    if choices is None and definition is not None and definition.choices:
        choices = definition.choices
    if choices is not None:
        multiple = definition is not None and definition.type is FieldType.MULTI_PICKLIST
        disabled = " disabled" if field.read_only else ""
        return (
            f'<select name="{_e(path)}"{" multiple" if multiple else ""}'
            f"{' required' if field.required else ''}{disabled}>"
            f"{_options(choices, value, multiple=multiple)}</select>"
        )
    kind = None if definition is None else definition.type
    if kind in _TEXTAREAS:
        return f'<textarea name="{_e(path)}"{flags}>{_e(value)}</textarea>'
    input_type = _INPUT_TYPES.get(kind, "text") if kind is not None else "text"
    if input_type == "checkbox":
        checked = " checked" if value else ""
        return f'<input type="checkbox" name="{_e(path)}"{checked}{flags}>'
    return f'<input type="{input_type}" name="{_e(path)}" value="{_e(value)}"{flags}>'


def _form_html(
    layout: Layout,
    record_type: RecordType | None,
    record: Record | None,
    schema: EntitySchema | None,
) -> str:
    if record is not None:
        _require_record(record, "to_html", layout.kind)
    if schema is not None and not isinstance(schema, EntitySchema):
        raise ValidationError("to_html", [FieldError("schema", "type", "must be an EntitySchema")])
    title = layout.name if record_type is None else f"{record_type.name} ({layout.name})"
    parts = [f'<form class="leadmodel-layout" data-kind="{_e(layout.kind)}">']
    parts.append(f"<h4>{_e(title)}</h4>")
    for section in layout.sections:
        parts.append(f"<fieldset><legend>{_e(section.title)}</legend>")
        for field in section.fields:
            mark = " *" if field.required else ""
            control = _control(layout, field, record_type, record, schema)
            parts.append(f"<div><label>{_e(field.shown_label)}{_e(mark)} {control}</label></div>")
        parts.append("</fieldset>")
    parts.append("</form>")
    return "".join(parts)


DEFAULT_LEAD_LAYOUT: Final = Layout(
    "Lead Layout",
    [
        LayoutSection(
            "Lead Information",
            [
                "first_name",
                LayoutField("last_name", required=True),
                "company",
                "title",
                "email",
                "phone",
                "mobile",
                "website",
                LayoutField("status", required=True),
                "source",
                "rating",
                "industry",
                "annual_revenue",
                "employees",
            ],
        ),
        LayoutSection(
            "Address Information",
            [
                "address.street",
                "address.city",
                "address.state",
                "address.postal_code",
                "address.country",
            ],
        ),
        LayoutSection("Additional Information", ["description", "do_not_call", "email_opt_out"]),
    ],
)
"""Salesforce's standard lead layout: last name and status required, nothing read-only."""
