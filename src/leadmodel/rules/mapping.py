"""Field mappings for lead conversion: which lead field goes to which target field.

A :class:`FieldMapping` is Salesforce's "Map Lead Fields" as data: entries from a lead field
(standard or custom) to an account, contact or opportunity field. It is checked against the
:class:`~leadmodel.EntitySchema` of each side **when it is built**, with Salesforce's
compatibility matrix, and every violation comes back at once in one
:class:`~leadmodel.MappingError`. :data:`DEFAULT_LEAD_MAPPING` reproduces Salesforce's
standard mapping table.

Compatibility (after Salesforce's "Mapping Custom Lead Fields" guidelines):

- checkbox, currency, date, date/time, email, number, percent, phone, multi-select
  picklist, long text, URL and address fields map only to a field of the same type;
- text and text area map to text, text area, long text or an *unrestricted* picklist;
- a picklist maps to text, text area or an unrestricted picklist (not long text);
- a reference maps only to the reference of the same name (a lookup of the same object);
- the target is at least as long as the source, and number, currency and percent fields
  have the same decimal places;
- each target field has one source.

Unlike Salesforce, a standard field may feed a custom one and the other way round; values
change representation on the way (an ``EmailAddress`` becomes its normalised text in a
custom email field, a custom text is parsed into an ``EmailAddress``, tags become a
``;``-separated multi-select value, a custom currency amount becomes ``Money`` in the
mapping's :attr:`~FieldMapping.currency`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.account import ACCOUNT_SCHEMA, Account
from leadmodel.domain.contact import CONTACT_SCHEMA, Contact
from leadmodel.domain.errors import FieldError, MappingError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.opportunity import OPPORTUNITY_SCHEMA, Opportunity
from leadmodel.domain.values import Money

__all__ = [
    "DEFAULT_LEAD_MAPPING",
    "MANAGED_TARGETS",
    "SYSTEM_SOURCES",
    "TARGETS",
    "FieldMapping",
    "MappingEntry",
    "Target",
    "compatibility_problem",
]

Target = Literal["account", "contact", "opportunity"]
"""The records a lead converts into."""

TARGETS: Final[tuple[Target, ...]] = ("account", "contact", "opportunity")
"""Every conversion target, in the order conversion fills them."""


# Lead fields that describe the lead itself, not the person or company: conversion sets
# or keeps them, they are never carried to a target and never reported as unmapped.
SYSTEM_SOURCES: Final = frozenset(
    {"id", "status", "created_at", "updated_at", "is_person", "owner_is_queue", "lifecycle_stage"}
)
# Target fields that conversion itself sets (ids, links, the new opportunity's name and
# stage, the contact's lifecycle stage, timestamps): no entry may write them.
MANAGED_TARGETS: Final[dict[str, frozenset[str]]] = {
    "account": frozenset({"id", "is_person", "created_at", "updated_at"}),
    "contact": frozenset({"id", "account_id", "lifecycle_stage", "created_at", "updated_at"}),
    "opportunity": frozenset(
        {"id", "name", "stage", "account_id", "contact_id", "created_at", "updated_at"}
    ),
}
# New accounts need a name and new contacts a last name: a mapping must feed them.
_REQUIRED_TARGETS: Final = (("account", "name"), ("contact", "last_name"))

_SAME_TYPE_ONLY: Final = frozenset(
    {
        FieldType.CHECKBOX,
        FieldType.CURRENCY,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.EMAIL,
        FieldType.NUMBER,
        FieldType.PERCENT,
        FieldType.PHONE,
        FieldType.MULTI_PICKLIST,
        FieldType.LONG_TEXT,
        FieldType.URL,
        FieldType.ADDRESS,
    }
)
_FROM_TEXT: Final = frozenset(
    {FieldType.TEXT, FieldType.TEXTAREA, FieldType.LONG_TEXT, FieldType.PICKLIST}
)
_FROM_PICKLIST: Final = frozenset({FieldType.TEXT, FieldType.TEXTAREA, FieldType.PICKLIST})


@attrs.frozen
class MappingEntry:
    """One line of a field mapping: lead field *source* → *target* record's *field*.

    Paths name a standard field (``"phone"``) or a custom one (``"custom.budget"``).

    >>> MappingEntry("custom.budget", "opportunity", "custom.budget").target
    'opportunity'
    """

    source: str
    target: Target
    field: str

    def __attrs_post_init__(self) -> None:
        errors = [
            FieldError(name, problem[0], problem[1])
            for name in ("source", "target", "field")
            if (problem := _checks.text_problem(getattr(self, name), 120)) is not None
        ]
        if not errors and self.target not in TARGETS:
            errors.append(
                FieldError(
                    "target",
                    "unknown_target",
                    f"must be one of {', '.join(TARGETS)}, not {describe_value(self.target)}",
                )
            )
        if errors:
            raise ValidationError("MappingEntry", errors)


EntryLike = MappingEntry | tuple[str, str] | tuple[str, str, str]
"""A mapping entry, or its shorthand: ``("email", "contact.email")`` or
``("email", "contact", "email")``."""


def _entry_from(value: object) -> object:
    """*value* as a :class:`MappingEntry` when it is one or a shorthand of one."""
    if isinstance(value, MappingEntry):
        return value
    if isinstance(value, tuple | list) and all(isinstance(part, str) for part in value):
        if len(value) == 2 and "." in value[1]:
            target, _, field = value[1].partition(".")
            value = (value[0], target, field)
        if len(value) == 3:
            try:
                return MappingEntry(*value)
            except ValidationError:
                pass  # the post-init check reports the entry
    return value


def _entries(values: Iterable[EntryLike] | Mapping[str, str | Sequence[str]]) -> tuple[Any, ...]:
    if isinstance(values, Mapping):
        # Source to one target path, or to a list of them.
        entries: list[object] = []
        for source, targets in values.items():
            many = targets if isinstance(targets, list | tuple) else (targets,)
            entries.extend(_entry_from((source, target)) for target in many)
        return tuple(entries)
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        return values  # the post-init check reports it
    return tuple(_entry_from(value) for value in values)


def compatibility_problem(source: FieldDef, target: FieldDef) -> tuple[str, str] | None:
    """Why a value of *source*'s type cannot be mapped into *target*, or ``None``.

    >>> compatibility_problem(FieldDef("a", FieldType.PICKLIST), FieldDef("b", FieldType.LONG_TEXT))
    ('incompatible', 'picklist maps to text, textarea or an unrestricted picklist, not long_text')

    Raises:
        ValidationError: *source* or *target* is not a FieldDef.
    """
    for path, given in (("source", source), ("target", target)):
        _checks.require_instance(
            given, FieldDef, "a FieldDef", function="compatibility_problem", path=path
        )
    kind, into = source.type, target.type
    if kind in _SAME_TYPE_ONLY:
        if into is not kind:
            return "incompatible", f"{kind.value} maps only to {kind.value}, not {into.value}"
    elif kind is FieldType.REFERENCE:
        if into is not FieldType.REFERENCE or target.name != source.name:
            return (
                "other_object",
                f"a reference maps only to the reference of the same object ({source.name})",
            )
    else:
        allowed = _FROM_PICKLIST if kind is FieldType.PICKLIST else _FROM_TEXT
        if into not in allowed:
            wanted = (
                "text, textarea or an unrestricted picklist"
                if kind is FieldType.PICKLIST
                else "text, textarea, long_text or an unrestricted picklist"
            )
            return "incompatible", f"{kind.value} maps to {wanted}, not {into.value}"
        if into is FieldType.PICKLIST and target.restricted:
            return "restricted_picklist", "the target picklist is restricted to its choices"
    if into.is_numeric and source.scale != target.scale:
        return (
            "decimals",
            f"needs the same decimal places ({source.scale} here, {target.scale} there)",
        )
    if (
        source.max_length is not None
        and target.max_length is not None
        and target.max_length < source.max_length
    ):
        return (
            "target_shorter",
            f"the target holds {target.max_length}, shorter than the source's {source.max_length}",
        )
    return None


def _field_def(schema: EntitySchema, path: str) -> FieldDef | None:
    try:
        return schema.field(path)
    except ValidationError:
        return None


# Each side of a mapping: the entity class its schema describes and the library's schema,
# whose standard field types a host's schema keeps (lengths and choices may differ).
_SIDES: Final = {
    "lead_schema": (Lead, LEAD_SCHEMA),
    "account_schema": (Account, ACCOUNT_SCHEMA),
    "contact_schema": (Contact, CONTACT_SCHEMA),
    "opportunity_schema": (Opportunity, OPPORTUNITY_SCHEMA),
}


def _standard_problems(name: str, schema: EntitySchema) -> list[FieldError]:
    """Standard fields of *schema* that its entity does not have, or has with another type.

    Conversion reads and writes standard fields as attributes of the entity, so a schema
    that names a field the entity lacks would fail there; it fails here, when built.
    """
    cls, library = _SIDES[name]
    attributes = {f.name for f in attrs.fields(cls)} - {"custom", "converted"}
    errors: list[FieldError] = []
    for i, fd in enumerate(schema.standard):
        where = f"{name}.standard[{i}]"
        if fd.name not in attributes:
            errors.append(
                FieldError(
                    where,
                    "unknown_field",
                    f"{cls.__name__} has no field {describe_value(fd.name)}: a schema's "
                    "standard fields are the entity's own; add yours with with_custom()",
                )
            )
            continue
        expected = library.field(fd.name).type
        if fd.type is not expected:
            errors.append(
                FieldError(
                    where,
                    "standard_type",
                    f"{cls.__name__}.{fd.name} is a {expected.value} field, not {fd.type.value}",
                )
            )
    return errors


def _schema_problems(mapping: FieldMapping) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in _SIDES:
        value = getattr(mapping, name)
        if isinstance(value, EntitySchema):
            errors.extend(_standard_problems(name, value))
        else:
            errors.append(
                FieldError(name, "type", f"must be an EntitySchema, not {type(value).__name__}")
            )
    problem = _checks.text_problem(mapping.currency, 3)
    if problem is not None or not str(mapping.currency).isupper():
        errors.append(FieldError("currency", "invalid", "must be an ISO 4217 code such as USD"))
    else:
        try:
            Money(Decimal(0), mapping.currency)
        except ValidationError:
            errors.append(FieldError("currency", "invalid", "must be an ISO 4217 code"))
    if not isinstance(mapping.entries, tuple):
        errors.append(FieldError("entries", "type", "must be a sequence of mapping entries"))
        return errors
    errors.extend(
        FieldError(
            f"entries[{i}]",
            "type",
            "must be a MappingEntry, (source, 'target.field') or (source, target, field) "
            f"with a target of {', '.join(TARGETS)}, not {describe_value(entry)}",
        )
        for i, entry in enumerate(mapping.entries)
        if not isinstance(entry, MappingEntry)
    )
    return errors


def _mapping_problems(mapping: FieldMapping) -> list[FieldError]:
    """Every violation of *mapping* against its schemas (empty when it is valid)."""
    errors = _schema_problems(mapping)
    if errors:
        return errors
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(mapping.entries):
        where = f"entries[{i}]"
        before = len(errors)
        source = _field_def(mapping.lead_schema, entry.source)
        target = _field_def(mapping.schema(entry.target), entry.field)
        if source is None:
            errors.append(FieldError(where, "unknown_field", f"lead has no field {entry.source!r}"))
        elif entry.source in SYSTEM_SOURCES:
            errors.append(
                FieldError(
                    where, "not_mappable", f"{entry.source} describes the lead; it is not mapped"
                )
            )
        if target is None:
            errors.append(
                FieldError(where, "unknown_field", f"{entry.target} has no field {entry.field!r}")
            )
        elif entry.field in MANAGED_TARGETS[entry.target]:
            errors.append(
                FieldError(
                    where,
                    "managed",
                    f"{entry.target}.{entry.field} is set by the conversion itself",
                )
            )
        key = (entry.target, entry.field)
        if key in seen:
            errors.append(
                FieldError(
                    where,
                    "duplicate_target",
                    f"{entry.target}.{entry.field} already has a source (entries[{seen[key]}]); "
                    "a target field has one source",
                )
            )
        else:
            seen[key] = i
        if source is None or target is None or len(errors) > before:
            continue
        problem = compatibility_problem(source, target)
        if problem is not None:
            errors.append(
                FieldError(
                    where,
                    problem[0],
                    f"lead.{entry.source} -> {entry.target}.{entry.field}: {problem[1]}",
                )
            )
    errors.extend(
        FieldError(
            "entries",
            "required_target",
            f"new {target}s need a {field}: map a lead field to {target}.{field}",
        )
        for target, field in _REQUIRED_TARGETS
        if (target, field) not in seen
    )
    return errors


@attrs.frozen(cache_hash=True)
class FieldMapping:
    """Lead field → account, contact and opportunity fields, checked when built.

    Args:
        entries: the :class:`MappingEntry` lines; one lead field may feed several targets
            (Salesforce's phone goes to the account and the contact). Shorthands work
            too: ``("email", "contact.email")``, ``("email", "contact", "email")``, or a
            mapping ``{"phone": ["account.phone", "contact.phone"]}``.
        currency: the currency of custom currency fields, which hold a bare ``Decimal``
            (a standard currency field holds :class:`~leadmodel.Money`).
        lead_schema: the lead schema the entries are checked against; give yours (and
            the three below) to map custom fields.
        account_schema: the account schema the entries are checked against.
        contact_schema: the contact schema the entries are checked against.
        opportunity_schema: the opportunity schema the entries are checked against.

    >>> from leadmodel import LEAD_SCHEMA, CONTACT_SCHEMA, FieldDef, FieldType
    >>> mapping = DEFAULT_LEAD_MAPPING.extend(
    ...     MappingEntry("custom.shoe_size", "contact", "custom.shoe_size"),
    ...     lead_schema=LEAD_SCHEMA.with_custom(FieldDef("shoe_size", FieldType.NUMBER)),
    ...     contact_schema=CONTACT_SCHEMA.with_custom(FieldDef("shoe_size", FieldType.NUMBER)),
    ... )
    >>> mapping.targets_of("custom.shoe_size")
    ('contact.custom.shoe_size',)

    A schema's standard fields are its entity's own: a schema naming a standard field the
    entity does not have, or giving one another type, is refused. A lead schema may leave
    standard fields out (they cannot be mapped then); conversion still reports their
    values in :attr:`~leadmodel.ConversionResult.unmapped`, so nothing is lost silently.

    Raises:
        MappingError: listing every entry that breaks the compatibility rules, names an
            unknown or conversion-managed field, or gives a target a second source, a
            missing source for the account name or the contact's last name, and a
            schema's standard field its entity does not have (code ``unknown_field``) or
            has with another type (code ``standard_type``).
    """

    entries: tuple[MappingEntry, ...] = attrs.field(converter=_entries)
    currency: str = "USD"
    lead_schema: EntitySchema = LEAD_SCHEMA
    account_schema: EntitySchema = ACCOUNT_SCHEMA
    contact_schema: EntitySchema = CONTACT_SCHEMA
    opportunity_schema: EntitySchema = OPPORTUNITY_SCHEMA

    def __attrs_post_init__(self) -> None:
        errors = _mapping_problems(self)
        if errors:
            raise MappingError("FieldMapping", errors)

    def schema(self, target: str) -> EntitySchema:
        """The schema of *target* (``"account"``, ``"contact"`` or ``"opportunity"``)."""
        schemas = {
            "account": self.account_schema,
            "contact": self.contact_schema,
            "opportunity": self.opportunity_schema,
            "lead": self.lead_schema,
        }
        found = schemas.get(target) if isinstance(target, str) else None
        if found is None:
            raise ValidationError(
                "FieldMapping",
                [FieldError("target", "unknown_target", f"no target {describe_value(target)}")],
            )
        return found

    def extend(
        self,
        *entries: MappingEntry,
        lead_schema: EntitySchema | None = None,
        account_schema: EntitySchema | None = None,
        contact_schema: EntitySchema | None = None,
        opportunity_schema: EntitySchema | None = None,
    ) -> FieldMapping:
        """A mapping with *entries* added, and the schemas given replaced; checked anew."""
        return FieldMapping(
            entries=(*self.entries, *entries),
            currency=self.currency,
            lead_schema=lead_schema or self.lead_schema,
            account_schema=account_schema or self.account_schema,
            contact_schema=contact_schema or self.contact_schema,
            opportunity_schema=opportunity_schema or self.opportunity_schema,
        )

    def without(self, *targets: str) -> FieldMapping:
        """A mapping without the entries into *targets* (``"contact.description"``)."""
        dropped = set(targets)
        return attrs.evolve(
            self,
            entries=tuple(e for e in self.entries if f"{e.target}.{e.field}" not in dropped),
        )

    def targets_of(self, source: str) -> tuple[str, ...]:
        """Where the lead field *source* goes, as ``"target.field"`` paths."""
        return tuple(f"{e.target}.{e.field}" for e in self.entries if e.source == source)

    @property
    def sources(self) -> frozenset[str]:
        """Every lead field some entry reads."""
        return frozenset(e.source for e in self.entries)


def _entry(source: str, *targets: str) -> tuple[MappingEntry, ...]:
    entries = []
    for target in targets:
        kind, _, field = target.partition(".")
        entries.append(MappingEntry(source, kind, field))  # type: ignore[arg-type]
    return tuple(entries)


DEFAULT_LEAD_MAPPING: Final = FieldMapping(
    entries=(
        *_entry("company", "account.name"),
        *_entry("website", "account.website"),
        *_entry("industry", "account.industry"),
        *_entry("annual_revenue", "account.annual_revenue"),
        *_entry("employees", "account.employees"),
        *_entry("rating", "account.rating"),
        *_entry("phone", "account.phone", "contact.phone"),
        *_entry("address", "account.billing_address", "contact.mailing_address"),
        *_entry("owner_id", "account.owner_id", "contact.owner_id", "opportunity.owner_id"),
        *_entry("first_name", "contact.first_name"),
        *_entry("last_name", "contact.last_name"),
        *_entry("title", "contact.title"),
        *_entry("email", "contact.email"),
        *_entry("mobile", "contact.mobile"),
        *_entry("description", "contact.description"),
        *_entry("do_not_call", "contact.do_not_call"),
        *_entry("email_opt_out", "contact.email_opt_out"),
        *_entry("tags", "contact.tags"),
        *_entry("source", "contact.source", "opportunity.source"),
        *_entry("campaign_id", "opportunity.campaign_id"),
    )
)
"""Salesforce's standard lead mapping: company, website, industry, revenue, employees and
rating to the account; names, title, email, mobile, description, opt-outs to the contact;
phone to both; the address to the account's billing and the contact's mailing address;
source to the contact and the opportunity; the campaign to the opportunity (its primary
campaign source); the owner to all three. Tags go to the contact too (Salesforce has
none). The company also names a new opportunity unless the options name it."""
