"""Lead conversion: a lead becomes an account, a contact and (optionally) an opportunity.

:func:`convert_lead` follows Salesforce's ``convertLead`` — new records or existing ones
named in :class:`ConvertOptions`, blank target fields filled from the lead (or every field
overwritten, by policy), owners, a default opportunity closing at the end of the quarter —
and keeps the promise none of the CRMs keeps: **conversion loses nothing and says exactly
what it did**. The :class:`ConversionResult` lists every value written
(:attr:`~ConversionResult.changes`), every lead value not written because the target kept
its own (:attr:`~ConversionResult.skipped`) and every lead value no mapping entry carries
(:attr:`~ConversionResult.unmapped`).

:func:`convert_leads` converts many at once, each lead on its own (a bad one never stops the
others), with same-company leads sharing one new account. Auto-conversion rules live in
:mod:`leadmodel.rules.auto_conversion`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal, TypeVar, overload

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._entity import to_tags
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import Account
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    AlreadyConverted,
    FieldError,
    InvalidConvertOptions,
    LeadModelError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import Notification
from leadmodel.domain.fields import EMPTY_VALUES, FieldDef, FieldType, FieldValues, Scalar
from leadmodel.domain.lead import ConversionRecord, Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.status import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LeadProcess,
    LifecycleStage,
    OpportunityProcess,
)
from leadmodel.domain.values import EmailAddress, Money, PhoneNumber
from leadmodel.rules._gc import gc_paused
from leadmodel.rules.layouts import (
    RECORD_TYPE_FIELD,
    RecordType,
    record_type_of,
    validate_layout,
)
from leadmodel.rules.mapping import (
    DEFAULT_LEAD_MAPPING,
    SYSTEM_SOURCES,
    TARGETS,
    FieldMapping,
)
from leadmodel.rules.merge import Reparent
from leadmodel.rules.normalize import normalize_company

__all__ = [
    "OPPORTUNITY_NAME_LENGTH",
    "BulkConversion",
    "ConversionFailure",
    "ConversionResult",
    "ConvertOptions",
    "ExistingRecords",
    "FieldChange",
    "FieldChanges",
    "MergePolicy",
    "SkippedValue",
    "UnmappedValue",
    "convert_lead",
    "convert_leads",
    "end_of_quarter",
    "iter_convert_leads",
]

OPPORTUNITY_NAME_LENGTH: Final = 80
"""Salesforce's limit on ``opportunityName``; a default name from the company is cut to it."""

_OVERWRITE_PATH: Final = re.compile(
    r"(?:(?:account|contact|opportunity)\.)?(?:custom\.)?[A-Za-z][A-Za-z0-9_]{0,79}"
)
_EMPTY_TAGS: Final[frozenset[str]] = frozenset()


class MergePolicy(Enum):
    """How lead values are written into an *existing* account, contact or opportunity.

    - ``fill_blanks`` (Salesforce's rule): only blank target fields are written; every
      lead value not written is reported in :attr:`ConversionResult.skipped`.
    - ``overwrite_all``: every mapped lead value replaces the target's.

    :attr:`ConvertOptions.overwrite_fields` overwrites chosen fields under ``fill_blanks``.
    Either way an existing record keeps its owner (Salesforce's rule), and a lead's
    ``False`` opt-out never clears a record's ``True`` one (a blank never overwrites).
    """

    FILL_BLANKS = "fill_blanks"
    OVERWRITE_ALL = "overwrite_all"


# -- options --------------------------------------------------------------------------------


def _overwrite_fields_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, frozenset):
        return "type", f"must be a set of field paths, not {type(value).__name__}"
    for path in value:
        if not isinstance(path, str) or _OVERWRITE_PATH.fullmatch(path) is None:
            return (
                "invalid",
                f"{describe_value(path)} is not a field path such as 'title' or 'contact.title'",
            )
    return None


_OPTION_CHECKS: Final = _checks.FieldChecks(
    "ConvertOptions",
    required=[
        ("converted_status", _checks.text(40)),
        ("create_opportunity", _checks.boolean),
        ("overwrite_lead_source", _checks.boolean),
        ("merge_policy", _checks.enum_member(MergePolicy)),
        ("overwrite_fields", _checks.Check(_overwrite_fields_problem)),
        ("notify_owner", _checks.boolean),
        ("contact_stage_with_opportunity", _checks.enum_member(LifecycleStage)),
        ("contact_stage_without_opportunity", _checks.enum_member(LifecycleStage)),
        ("person_account", _checks.boolean),
    ],
    optional=[
        ("account_id", _checks.identifier),
        ("contact_id", _checks.identifier),
        ("opportunity_id", _checks.identifier),
        ("opportunity_name", _checks.text(OPPORTUNITY_NAME_LENGTH)),
        ("owner_id", _checks.identifier),
    ],
)


def _option_problems(options: ConvertOptions) -> list[FieldError]:
    if not _OPTION_CHECKS.fast_ok(options):
        errors = _OPTION_CHECKS.problems(options)
        if errors:
            return errors
    errors = []
    if options.opportunity_id is not None and options.opportunity_name is not None:
        errors.append(
            FieldError(
                "opportunity_name",
                "opportunity_id_and_name",
                "give opportunity_id (an existing opportunity) or opportunity_name (a new "
                "one), not both",
            )
        )
    if not options.create_opportunity and options.opportunity_name is not None:
        errors.append(
            FieldError(
                "opportunity_name",
                "name_without_opportunity",
                "an opportunity name needs create_opportunity=True",
            )
        )
    if not options.create_opportunity and options.opportunity_id is not None:
        errors.append(
            FieldError(
                "opportunity_id",
                "opportunity_id_without_opportunity",
                "linking opportunity_id needs create_opportunity=True",
            )
        )
    if options.overwrite_lead_source and options.contact_id is None:
        errors.append(
            FieldError(
                "overwrite_lead_source",
                "overwrite_source_without_contact",
                "overwrite_lead_source applies to an existing contact: give contact_id",
            )
        )
    return errors


@attrs.frozen
class ConvertOptions:
    """How to convert one lead: Salesforce's ``LeadConvert`` options, plus a merge policy.

    Args:
        converted_status: the status the lead ends in; a converted status of the lead's
            process (Salesforce's ``convertedStatus``).
        account_id: convert into this existing account (pass the record in
            :class:`ExistingRecords`); a new account is made from the company otherwise.
        contact_id: merge into this existing contact, which must belong to *account_id*
            (a person lead, without a company, may join a contact that has no account).
        opportunity_id: relate this existing opportunity instead of creating one.
        create_opportunity: make a new opportunity (default; Salesforce's
            ``doNotCreateOpportunity`` inverted).
        opportunity_name: the new opportunity's name, at most 80 characters; the company
            by default (cut to 80 characters).
        owner_id: owner of the *new* records (the lead's owner by default); required when
            a queue owns the lead. Existing records keep their owner.
        overwrite_lead_source: overwrite the existing contact's source (needs
            *contact_id*).
        merge_policy: how lead values go into existing records (:class:`MergePolicy`).
        overwrite_fields: target fields to overwrite even under ``fill_blanks``:
            ``"contact.title"``, or a bare ``"phone"`` for every target that has it.
        notify_owner: produce a notification for the owner
            (:attr:`ConversionResult.notifications`), sent by the service.
        contact_stage_with_opportunity: the lifecycle stage the contact reaches with an
            open opportunity (``opportunity``); a won one makes it a ``customer``.
        contact_stage_without_opportunity: the stage it reaches with no opportunity:
            ``sales_qualified``, as HubSpot keeps a contact until a deal is won (an
            earlier release made it ``customer``; pass that to keep the old behaviour).
        person_account: an ``is_person`` lead converts into a new *person account*
            (``Account.is_person``, named after the person) with its contact, unless the
            options name an account or a contact (default; Salesforce with person accounts
            enabled). ``False``: the person converts into a contact without an account.

    >>> ConvertOptions("Closed - Converted", opportunity_name="Acme - 50 seats").merge_policy
    <MergePolicy.FILL_BLANKS: 'fill_blanks'>

    Raises:
        InvalidConvertOptions: listing every bad value and every contradiction: both an
            opportunity id and a name, a name with ``create_opportunity=False``,
            ``overwrite_lead_source`` without a contact, a name over 80 characters.
    """

    converted_status: str
    account_id: str | None = attrs.field(default=None, kw_only=True)
    contact_id: str | None = attrs.field(default=None, kw_only=True)
    opportunity_id: str | None = attrs.field(default=None, kw_only=True)
    create_opportunity: bool = attrs.field(default=True, kw_only=True)
    opportunity_name: str | None = attrs.field(default=None, kw_only=True)
    owner_id: str | None = attrs.field(default=None, kw_only=True)
    overwrite_lead_source: bool = attrs.field(default=False, kw_only=True)
    merge_policy: MergePolicy = attrs.field(default=MergePolicy.FILL_BLANKS, kw_only=True)
    overwrite_fields: frozenset[str] = attrs.field(
        default=_EMPTY_TAGS, converter=to_tags, kw_only=True
    )
    notify_owner: bool = attrs.field(default=False, kw_only=True)
    contact_stage_with_opportunity: LifecycleStage = attrs.field(
        default=LifecycleStage.OPPORTUNITY, kw_only=True
    )
    contact_stage_without_opportunity: LifecycleStage = attrs.field(
        default=LifecycleStage.SALES_QUALIFIED, kw_only=True
    )
    person_account: bool = attrs.field(default=True, kw_only=True)

    def __attrs_post_init__(self) -> None:
        errors = _option_problems(self)
        if errors:
            raise InvalidConvertOptions("ConvertOptions", errors)


_EXISTING_CHECKS: Final = _checks.FieldChecks(
    "ExistingRecords",
    optional=[
        ("account", _checks.instance(Account, "an Account")),
        ("contact", _checks.instance(Contact, "a Contact")),
        ("opportunity", _checks.instance(Opportunity, "an Opportunity")),
    ],
)


@attrs.frozen(kw_only=True)
class ExistingRecords:
    """The existing records a conversion merges into; their ids match the options' ids.

    >>> ExistingRecords(account=Account(id="A1", name="Acme")).account.name
    'Acme'
    """

    account: Account | None = None
    contact: Contact | None = None
    opportunity: Opportunity | None = None

    def __attrs_post_init__(self) -> None:
        _EXISTING_CHECKS.validate(self)


_NO_RECORDS: Final = ExistingRecords()


# -- results --------------------------------------------------------------------------------


@attrs.frozen
class FieldChange:
    """One value conversion wrote.

    Attributes:
        target: ``"lead"``, ``"account"``, ``"contact"`` or ``"opportunity"``.
        field: the target field (``"email"``, ``"custom.budget"``).
        old: the value before (``None`` for a new record).
        new: the value written.
        source: the lead field it came from, ``"options.<name>"`` for a value the options
            gave, or ``"conversion"`` for one the conversion rules set (links, the new
            opportunity's stage and close date, the lifecycle stage).
    """

    target: str
    field: str
    old: object
    new: object
    source: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


ChangeRow = tuple[str, str, object, object, str]
"""A change as a plain row: target, field, old, new, source."""


class FieldChanges(Sequence[FieldChange]):
    """An immutable, hashable sequence of :class:`FieldChange` values.

    A conversion writes dozens of values per lead; the changes are kept as compact rows and
    become :class:`FieldChange` values when read, so converting many leads does not pay for
    objects nobody looks at. Equal to another ``FieldChanges`` (or a tuple of
    ``FieldChange``) with the same changes in the same order.

    >>> changes = FieldChanges([FieldChange("contact", "title", None, "CTO", "title")])
    >>> changes[0].new, len(changes)
    ('CTO', 1)
    """

    __slots__ = ("_items", "_rows")

    _rows: tuple[ChangeRow, ...]
    _items: tuple[FieldChange, ...] | None

    def __init__(self, changes: Iterable[FieldChange] = ()) -> None:
        items = tuple(changes) if isinstance(changes, list | tuple | FieldChanges) else None
        if items is None or not all(isinstance(c, FieldChange) for c in items):
            raise ValidationError(
                "FieldChanges",
                [FieldError("changes", "type", "must be a list or tuple of FieldChange values")],
            )
        self._rows = tuple((c.target, c.field, c.old, c.new, c.source) for c in items)
        self._items = items

    @classmethod
    def from_rows(cls, rows: Iterable[ChangeRow]) -> FieldChanges:
        """The changes from ``(target, field, old, new, source)`` rows (no checks)."""
        changes = object.__new__(cls)
        changes._rows = tuple(rows)
        changes._items = None
        return changes

    def _materialized(self) -> tuple[FieldChange, ...]:
        if self._items is None:
            self._items = tuple(FieldChange(*row) for row in self._rows)
        return self._items

    @overload
    def __getitem__(self, index: int) -> FieldChange: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FieldChange, ...]: ...

    def __getitem__(self, index: int | slice) -> FieldChange | tuple[FieldChange, ...]:
        return self._materialized()[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[FieldChange]:
        return iter(self._materialized())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldChanges):
            return self._rows == other._rows
        if isinstance(other, tuple):
            return self._materialized() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._rows)

    def __repr__(self) -> str:
        return f"FieldChanges({list(self._materialized())!r})"


def _field_changes(value: Iterable[FieldChange]) -> FieldChanges:
    return value if isinstance(value, FieldChanges) else FieldChanges(value)


SkipReason = Literal["has_value", "owner_kept", "owner_option"]


@attrs.frozen
class SkippedValue:
    """A lead value that a mapping entry carries but the conversion did not write.

    Attributes:
        target, field: where it would have gone.
        source: the lead field.
        value: the value offered, as the target field would hold it.
        kept: the value the target keeps.
        reason: ``"has_value"`` (``fill_blanks`` keeps the existing record's value),
            ``"owner_kept"`` (an existing record keeps its owner) or ``"owner_option"``
            (``ConvertOptions.owner_id`` owns the new records instead of the lead's owner).
    """

    target: str
    field: str
    source: str
    value: object
    kept: object
    reason: SkipReason

    def __attrs_post_init__(self) -> None:
        check_fields(self)


UnmappedReason = Literal["no_entry", "no_target"]


@attrs.frozen
class UnmappedValue:
    """A non-blank lead value that no record received.

    Attributes:
        field: the lead field (``"team_id"``, ``"custom.shoe_size"``).
        value: its value.
        reason: ``"no_entry"`` (the mapping has no entry for it) or ``"no_target"`` (its
            entries go to a record this conversion does not have, such as the opportunity
            with ``create_opportunity=False``).
    """

    field: str
    value: object
    reason: UnmappedReason

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class ConversionResult:
    """Everything a conversion did, for the host to save and show.

    Attributes:
        lead: the converted lead: its converted status, a ``converted`` record with the
            account, contact and opportunity ids and the time; read-only from now on.
        account: the new or updated account: a person account for an ``is_person`` lead
            (``None`` for a person lead converted with ``person_account=False``).
        contact: the new or updated contact.
        opportunity: the new or linked opportunity, or ``None``.
        created: the targets made new (``"account"``, ``"contact"``, ``"opportunity"``).
        updated: the existing targets that changed; existing targets that did not change
            are in neither.
        changes: every value written, per target and field, with its source.
        skipped: every mapped lead value not written, and why.
        unmapped: every non-blank lead value no record received.
        reparent: dependants to move from the lead (its activities go to the contact).
        notifications: the owner's notification when ``notify_owner`` was asked.
    """

    _repr_html_ = result_html

    lead: Lead
    account: Account | None
    contact: Contact
    opportunity: Opportunity | None
    created: tuple[str, ...]
    updated: tuple[str, ...]
    changes: FieldChanges = attrs.field(converter=_field_changes)
    skipped: tuple[SkippedValue, ...]
    unmapped: tuple[UnmappedValue, ...]
    reparent: tuple[Reparent, ...]
    notifications: tuple[Notification, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def changes_to(self, target: str) -> tuple[FieldChange, ...]:
        """The changes written to *target* (``"lead"``, ``"account"`` …)."""
        return tuple(c for c in self.changes if c.target == target)

    def change(self, target: str, field: str) -> FieldChange | None:
        """The change written to *target*'s *field*, or ``None``."""
        return next((c for c in self.changes if (c.target, c.field) == (target, field)), None)

    @property
    def records(self) -> tuple[Account | Contact | Opportunity, ...]:
        """The account, contact and opportunity the lead converted into (those present)."""
        return tuple(r for r in (self.account, self.contact, self.opportunity) if r is not None)


# -- the compiled mapping ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    """One mapping entry ready to apply: how to read, convert, check and write a value."""

    source: str
    field: str
    name: str
    custom: bool
    read: Callable[[Lead], object]
    convert: Callable[[object], object] | None
    definition: FieldDef
    is_owner: bool
    false_is_blank: bool  # a standard checkbox's False is its default, not a value
    tags: bool  # a set of tags, blank when empty
    checked: bool  # a value that may not fit the target (a custom field on either side)


def _custom_reader(key: str) -> Callable[[Lead], object]:
    def read(lead: Lead) -> object:
        return lead.custom.get(key)

    return read


def _whole_number(value: object) -> object:
    if isinstance(value, Decimal):
        whole = int(value)
        if whole != value:
            raise ValueError(f"{value} is not a whole number")
        return whole
    return value


def _joined_tags(value: object) -> object:
    return ";".join(sorted(value)) if isinstance(value, frozenset) else value


def _split_tags(value: object) -> object:
    return frozenset(value.split(";")) if isinstance(value, str) else value


def _email_text(value: object) -> object:
    return value.normalized if isinstance(value, EmailAddress) else value


def _phone_text(value: object) -> object:
    return value.formatted() if isinstance(value, PhoneNumber) else value


def _money_converter(currency: str, *, to_custom: bool) -> Callable[[object], object]:
    def to_amount(value: object) -> object:
        if isinstance(value, Money) and value.currency != currency:
            raise ValueError(f"{value} is not in {currency}, the currency of custom fields")
        return value.amount if isinstance(value, Money) else value

    def to_money(value: object) -> object:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return Money(Decimal(value), currency)
        return value

    return to_amount if to_custom else to_money


def _converter(step_type: FieldType, *, to_custom: bool, name: str, currency: str) -> Any:
    """How a value changes representation between a standard and a custom field."""
    if step_type is FieldType.EMAIL:
        return _email_text if to_custom else EmailAddress.parse
    if step_type is FieldType.PHONE:
        return _phone_text if to_custom else PhoneNumber.parse
    if step_type is FieldType.MULTI_PICKLIST:
        return _joined_tags if to_custom else _split_tags
    if step_type is FieldType.CURRENCY:
        return _money_converter(currency, to_custom=to_custom)
    if step_type is FieldType.NUMBER and not to_custom and name == "employees":
        return _whole_number
    return None


@dataclass(frozen=True, slots=True)
class _Plan:
    mapping: FieldMapping
    steps: dict[str, tuple[_Step, ...]]
    mapped_sources: frozenset[str]
    lead_fields: tuple[tuple[str, Callable[[Lead], object]], ...]


K = TypeVar("K")
V = TypeVar("V")
_CACHE_SIZE: Final = 256


def _per_object(cache: dict[int, tuple[Any, Any]], key: K, build: Callable[[K], V]) -> V:
    """``build(key)``, worked out once per *key* object (rules are immutable values).

    Keyed by identity, holding the key so its id cannot be reused; bounded.
    """
    found = cache.get(id(key))
    if found is not None and found[0] is key:
        value: V = found[1]
        return value
    value = build(key)
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[id(key)] = (key, value)
    return value


_PLANS: dict[int, tuple[Any, Any]] = {}
_WON: dict[int, tuple[Any, Any]] = {}
_CONVERTED: dict[int, tuple[Any, Any]] = {}


def _plan(mapping: FieldMapping) -> _Plan:
    """The compiled plan of *mapping*, built once per mapping object."""
    return _per_object(_PLANS, mapping, _build_plan)


# Every standard lead field, in declaration order ("custom" and "converted" are not values
# a conversion carries: custom values are walked one by one, the record is conversion's own).
_LEAD_VALUES: Final = tuple(
    f.name for f in attrs.fields(Lead) if f.name not in {"custom", "converted"}
)


def _build_plan(mapping: FieldMapping) -> _Plan:
    steps: dict[str, list[_Step]] = {target: [] for target in TARGETS}
    for entry in mapping.entries:
        source_custom = entry.source.startswith("custom.")
        target_custom = entry.field.startswith("custom.")
        name = entry.field[7:] if target_custom else entry.field
        read: Callable[[Lead], object] = (
            _custom_reader(entry.source[7:]) if source_custom else operator.attrgetter(entry.source)
        )
        convert = None
        if source_custom != target_custom:
            convert = _converter(
                mapping.lead_schema.field(entry.source).type,
                to_custom=target_custom,
                name=name,
                currency=mapping.currency,
            )
        source_type = mapping.lead_schema.field(entry.source).type
        steps[entry.target].append(
            _Step(
                source=entry.source,
                field=entry.field,
                name=name,
                custom=target_custom,
                read=read,
                convert=convert,
                definition=mapping.schema(entry.target).field(entry.field),
                is_owner=entry.source == "owner_id",
                false_is_blank=not source_custom and source_type is FieldType.CHECKBOX,
                tags=not source_custom and source_type is FieldType.MULTI_PICKLIST,
                # Standard to standard values fit by the mapping's length rule and the
                # lead's own checks; anything else is checked (and entities check again).
                checked=source_custom or target_custom,
            )
        )
    return _Plan(
        mapping=mapping,
        steps={target: tuple(items) for target, items in steps.items()},
        mapped_sources=mapping.sources,
        # The lead's own fields, not the schema's: a standard field the lead schema leaves
        # out cannot be mapped, and its value is still reported as unmapped.
        lead_fields=tuple(
            (name, operator.attrgetter(name)) for name in _LEAD_VALUES if name not in SYSTEM_SOURCES
        ),
    )


# -- converting -------------------------------------------------------------------------------


def end_of_quarter(day: date) -> date:
    """The last day of *day*'s calendar quarter (a new opportunity's close date).

    >>> end_of_quarter(date(2026, 11, 23)), end_of_quarter(date(2026, 2, 1))
    (datetime.date(2026, 12, 31), datetime.date(2026, 3, 31))

    Raises:
        ValidationError: *day* is not a date.
    """
    _checks.require_instance(day, date, "a date", function="end_of_quarter", path="day")
    last_month = ((day.month - 1) // 3 + 1) * 3
    if last_month == 12:
        return date(day.year, 12, 31)
    return date(day.year, last_month + 1, 1) - timedelta(days=1)


def _blank(value: object, *, custom: bool) -> bool:
    """No value: ``None``, no tags, or a standard checkbox's default ``False``."""
    return value is None or value == _EMPTY_TAGS or (value is False and not custom)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _furthest(current: LifecycleStage | None, reached: LifecycleStage) -> LifecycleStage:
    """*reached*, unless *current* is further along already (``other`` is not)."""
    rank = None if current is None else current.rank
    if current is None or rank is None or rank < (reached.rank or 0):
        return reached
    return current


_LEAD_FIELDS: Final = tuple(f.name for f in attrs.fields(Lead))
_READ_LEAD: Final = operator.attrgetter(*_LEAD_FIELDS)
_SET_LEAD: Final = tuple(Lead.__dict__[name].__set__ for name in _LEAD_FIELDS)


def _converted_lead(lead: Lead, status: str, record: ConversionRecord, now: datetime) -> Lead:
    """*lead* in *status* with its conversion *record*, without re-checking it.

    Every field is the valid lead's, and the three changed ones were checked already: the
    status is a converted status of the process, the record checked itself, and *now* is
    not before ``created_at``. Copying the slots directly costs a third of ``attrs.evolve``.
    """
    converted = object.__new__(Lead)
    for set_slot, value in zip(_SET_LEAD, _READ_LEAD(lead), strict=True):
        set_slot(converted, value)
    object.__setattr__(converted, "status", status)
    object.__setattr__(converted, "converted", record)
    object.__setattr__(converted, "updated_at", now)
    return converted


def _require(value: object, cls: type | tuple[type, ...], what: str, name: str) -> None:
    _checks.require_instance(value, cls, what, function="convert_lead", path=name)


def _settings(
    mapping: FieldMapping,
    process: LeadProcess,
    opportunity_process: OpportunityProcess,
    ids: Callable[[str], str],
    now: datetime,
    *,
    record_types: Mapping[str, RecordType] | None = None,
) -> _Settings:
    """The shared arguments of a conversion call, checked once.

    Callers converting one lead at a time pass the same objects again and again, so the
    last settings are kept and reused when every argument is the same object.
    """
    last = _LAST_SETTINGS[0]
    if (
        last is not None
        and last.plan.mapping is mapping
        and last.process is process
        and last.stages is opportunity_process
        and last.ids is ids
        and last.now is now
        and record_types is None
        and not last.record_types
    ):
        return last
    _require(mapping, FieldMapping, "a FieldMapping", "mapping")
    _require(process, LeadProcess, "a LeadProcess", "process")
    _require(
        opportunity_process, OpportunityProcess, "an OpportunityProcess", "opportunity_process"
    )
    if not callable(ids):
        raise ValidationError(
            "convert_lead",
            [FieldError("ids", "type", "must be a callable giving a new id for a kind")],
        )
    problem = _checks.aware_datetime(now)
    if problem is not None:
        raise ValidationError("convert_lead", [FieldError("now", problem[0], problem[1])])
    settings = _Settings(
        plan=_plan(mapping),
        process=process,
        stages=opportunity_process,
        ids=ids,
        now=now,
        won=_won_stages(opportunity_process),
        first_stage=opportunity_process.default.name,
        quarter_end=end_of_quarter(now.date()),
        record_types=_target_record_types(record_types),
    )
    _LAST_SETTINGS[0] = settings
    return settings


_LAST_SETTINGS: list[_Settings | None] = [None]
# Picklists a record type's default never fills: the conversion (or a guarded change) sets them.
_MANAGED_PICKLISTS: Final = frozenset({"status", "stage", "lifecycle_stage"})
_NO_RECORD_TYPES: Final[Mapping[str, RecordType]] = {}


def _target_record_types(record_types: object) -> Mapping[str, RecordType]:
    """*record_types* checked: target kind -> a record type of that kind."""
    if record_types is None:
        return _NO_RECORD_TYPES
    if not isinstance(record_types, Mapping):
        raise ValidationError(
            "convert_lead",
            [FieldError("record_types", "type", "must map a target kind to a RecordType")],
        )
    errors = []
    for kind, record_type in record_types.items():
        if kind not in TARGETS:
            errors.append(
                FieldError(
                    "record_types",
                    "unknown_target",
                    f"{describe_value(kind)} is not account, contact or opportunity",
                )
            )
        elif not isinstance(record_type, RecordType) or record_type.kind != kind:
            errors.append(
                FieldError(
                    f"record_types.{kind}", "type", f"must be a RecordType of {kind} records"
                )
            )
    if errors:
        raise ValidationError("convert_lead", errors)
    return dict(record_types)


def _won_stages(process: OpportunityProcess) -> frozenset[str]:
    """The names of *process*'s won stages."""
    return _per_object(_WON, process, lambda p: frozenset(s.name for s in p.stages if s.is_won))


def _always(_target: str, _field: str) -> bool:
    return True


def _never(_target: str, _field: str) -> bool:
    return False


def _overwrites(options: ConvertOptions) -> Callable[[str, str], bool]:
    if options.merge_policy is MergePolicy.OVERWRITE_ALL:
        return _always
    if not options.overwrite_fields and not options.overwrite_lead_source:
        return _never
    named = options.overwrite_fields
    source = options.overwrite_lead_source

    def overwrite(target: str, field: str) -> bool:
        if source and target == "contact" and field == "source":
            return True
        return field in named or f"{target}.{field}" in named

    return overwrite


def _path_exists(mapping: FieldMapping, path: str) -> bool:
    head, _, rest = path.partition(".")
    if head in TARGETS:
        return rest in mapping.schema(head).paths
    return any(path in mapping.schema(target).paths for target in TARGETS)


def _plain_case(
    lead: Lead,
    options: ConvertOptions,
    existing: ExistingRecords,
    process: LeadProcess,
    now: datetime,
) -> bool:
    """Whether this is the common conversion, which cannot contradict itself.

    New records only, a converted status, a lead owned by a user and created before *now*.
    """
    created = lead.created_at
    return (
        existing is _NO_RECORDS
        and options.account_id is None
        and options.contact_id is None
        and options.opportunity_id is None
        and not options.overwrite_fields
        and not options.notify_owner
        and not lead.owner_is_queue
        and (created is None or created <= now)
        and options.converted_status in _converted_names(process)
    )


def _converted_names(process: LeadProcess) -> frozenset[str]:
    """The names of *process*'s converted statuses."""
    return _per_object(
        _CONVERTED, process, lambda p: frozenset(s.name for s in p.converted_statuses)
    )


def _combination_problems(
    lead: Lead, options: ConvertOptions, existing: ExistingRecords, settings: _Settings
) -> list[FieldError]:
    """Every contradiction between the options, the lead, the existing records and the time."""
    mapping, process, now = settings.plan.mapping, settings.process, settings.now
    errors: list[FieldError] = []
    if _plain_case(lead, options, existing, process, now):
        return errors
    status = process.get(options.converted_status)
    if status is None or not status.is_converted:
        names = ", ".join(s.name for s in process.converted_statuses)
        errors.append(
            FieldError(
                "converted_status",
                "not_converted_status",
                f"{options.converted_status!r} is not a converted status of "
                f"{process.name!r} ({names})",
            )
        )
    for kind in TARGETS:
        wanted = getattr(options, f"{kind}_id")
        record = getattr(existing, kind)
        if wanted is not None and record is None:
            errors.append(
                FieldError(
                    f"{kind}_id",
                    "missing_record",
                    f"{kind}_id {wanted!r} needs the record: ExistingRecords({kind}=...)",
                )
            )
        elif record is not None and record.id != wanted:
            errors.append(
                FieldError(
                    f"existing.{kind}",
                    "record_mismatch",
                    f"the existing {kind} is {record.id!r}, but {kind}_id is "
                    f"{describe_value(wanted)}",
                )
            )
    contact = existing.contact
    person = lead.company is None
    if (
        options.contact_id is not None
        and options.account_id is None
        and not (person and (contact is None or contact.account_id is None))
    ):
        errors.append(
            FieldError(
                "contact_id",
                "contact_without_account",
                "an existing contact needs account_id, its account (only a person lead, "
                "without a company, may join a contact that has no account)",
            )
        )
    if (
        contact is not None
        and options.account_id is not None
        and contact.account_id not in (None, options.account_id)
    ):
        errors.append(
            FieldError(
                "contact_id",
                "contact_of_other_account",
                f"contact {contact.id!r} belongs to account {contact.account_id!r}, "
                f"not {options.account_id!r}",
            )
        )
    account = existing.account
    if (
        account is not None
        and account.is_person
        and (contact is None or contact.account_id != account.id)
    ):
        errors.append(
            FieldError(
                "account_id",
                "person_account_contact",
                f"account {account.id!r} is a person account, one person: convert into it "
                "together with its contact (contact_id), never a new contact",
            )
        )
    opportunity = existing.opportunity
    if (
        opportunity is not None
        and opportunity.account_id is not None
        and opportunity.account_id != options.account_id
    ):
        errors.append(
            FieldError(
                "opportunity_id",
                "opportunity_of_other_account",
                f"opportunity {opportunity.id!r} belongs to account "
                f"{opportunity.account_id!r}, not to the lead's account",
            )
        )
    if lead.owner_is_queue and options.owner_id is None:
        errors.append(
            FieldError(
                "owner_id",
                "queue_owner",
                f"a queue ({lead.owner_id}) owns the lead, and queues cannot own accounts or "
                "contacts: give owner_id",
            )
        )
    if options.notify_owner and (options.owner_id or lead.owner_id) is None:
        errors.append(
            FieldError("notify_owner", "no_owner", "the new records have no owner to notify")
        )
    errors.extend(
        FieldError(
            "overwrite_fields", "unknown_field", f"no target has a field {path!r} to overwrite"
        )
        for path in sorted(options.overwrite_fields)
        if not _path_exists(mapping, path)
    )
    for name, record in (("lead", lead), *((k, getattr(existing, k)) for k in TARGETS)):
        created = getattr(record, "created_at", None)
        if created is not None and created > now:
            errors.append(
                FieldError(
                    "now",
                    "before_created",
                    f"the conversion time is before the {name} was created ({created})",
                )
            )
    return errors


@dataclass(frozen=True, slots=True)
class _Settings:
    """What every conversion of a call shares: the plan, processes, ids and time."""

    plan: _Plan
    process: LeadProcess
    stages: OpportunityProcess
    ids: Callable[[str], str]
    now: datetime
    won: frozenset[str]
    first_stage: str
    quarter_end: date
    record_types: Mapping[str, RecordType]


@dataclass(slots=True)
class _Target:
    """One target's state: the existing record (if any) and the values to write."""

    kind: str
    old: Any
    present: bool
    fields: dict[str, Any]
    custom: dict[str, Any]
    changes: list[ChangeRow]

    @property
    def changed(self) -> bool:
        return self.old is not None and bool(self.fields or self.custom)


def _default_opportunity_name(lead: Lead) -> tuple[str, str]:
    if lead.company is None:
        return lead.name[:OPPORTUNITY_NAME_LENGTH].rstrip(), "conversion"
    return lead.company[:OPPORTUNITY_NAME_LENGTH].rstrip(), "company"


def _makes_person_account(lead: Lead, options: ConvertOptions, existing: ExistingRecords) -> bool:
    """Whether *lead* converts into a new person account (Salesforce's person accounts).

    An ``is_person`` lead does, unless ``person_account=False`` or the options name an
    existing account or contact to convert into.
    """
    return (
        lead.is_person
        and options.person_account
        and options.account_id is None
        and options.contact_id is None
        and existing.account is None
        and existing.contact is None
    )


class _Conversion:
    """One conversion: what is written, skipped and reported, target by target."""

    __slots__ = (
        "accounted",
        "created",
        "errors",
        "existing",
        "lead",
        "options",
        "overwrite",
        "owner",
        "person",
        "settings",
        "skipped",
        "targets",
    )

    def __init__(
        self, lead: Lead, options: ConvertOptions, existing: ExistingRecords, settings: _Settings
    ) -> None:
        self.lead = lead
        self.options = options
        self.existing = existing
        self.settings = settings
        self.owner = options.owner_id or lead.owner_id
        self.overwrite = _overwrites(options)
        self.skipped: list[SkippedValue] = []
        self.errors: list[FieldError] = []
        self.accounted: set[str] = set()
        self.created: list[str] = []
        self.person = _makes_person_account(lead, options, existing)
        self.targets = {
            "account": _Target(
                kind="account",
                old=existing.account,
                present=existing.account is not None or lead.company is not None or self.person,
                fields={},
                custom={},
                changes=[],
            ),
            "contact": _Target(
                kind="contact",
                old=existing.contact,
                present=True,
                fields={},
                custom={},
                changes=[],
            ),
            "opportunity": _Target(
                kind="opportunity",
                old=existing.opportunity,
                present=existing.opportunity is not None or options.create_opportunity,
                fields={},
                custom={},
                changes=[],
            ),
        }

    def run(self) -> ConversionResult:
        steps = self.settings.plan.steps
        for target in self.targets.values():
            if target.present:
                self._apply(target, steps[target.kind])
        if self.person:
            self._person_account()
        self._raise_errors()
        account_id = self._identify("account")
        contact_id = self._identify("contact")
        self._link("contact", "account_id", account_id)
        if self.targets["opportunity"].present:
            self._new_opportunity()
            self._link("opportunity", "account_id", account_id)
            self._link("opportunity", "contact_id", contact_id)
        self._advance_lifecycle()
        self._stamp_record_types()
        account, contact, opportunity = (self._build(kind) for kind in TARGETS)
        self._check_record_types(account, contact, opportunity)
        self._raise_errors()
        return self._result(account, contact, opportunity)

    def _raise_errors(self) -> None:
        if self.errors:
            raise InvalidConvertOptions(
                f"convert_lead {self.lead.id!r}", self.errors, lead_id=self.lead.id
            )

    # -- mapped values ----------------------------------------------------------------------

    def _apply(self, target: _Target, steps: tuple[_Step, ...]) -> None:
        """Write (or skip, and report) the value of each of *steps* into *target*."""
        lead, kind, current = self.lead, target.kind, target.old
        accounted, changes = self.accounted, target.changes
        fields, custom = target.fields, target.custom
        for step in steps:
            if self.person and kind == "account" and step.field == "name":
                continue  # a person account is named after the person, not the company
            raw = self.owner if step.is_owner else step.read(lead)
            if (
                raw is None
                or (raw is False and step.false_is_blank)
                or (step.tags and raw == _EMPTY_TAGS)
            ):
                continue
            value = raw if step.convert is None else self._converted(kind, step, raw)
            if value is None or (step.checked and not self._fits(kind, step, value)):
                continue
            accounted.add(step.source)
            old = None
            if current is None:
                if step.is_owner:
                    self._owner_option(kind, step)
            else:
                old = current.custom.get(step.name) if step.custom else getattr(current, step.name)
                if _same(old, value):
                    continue
                if not _blank(old, custom=step.custom) and (
                    step.is_owner or not self.overwrite(kind, step.field)
                ):
                    reason: SkipReason = "owner_kept" if step.is_owner else "has_value"
                    self.skipped.append(
                        SkippedValue(kind, step.field, step.source, value, old, reason)
                    )
                    continue
            (custom if step.custom else fields)[step.name] = value
            changes.append((kind, step.field, old, value, step.source))

    def _converted(self, kind: str, step: _Step, raw: object) -> object:
        assert step.convert is not None  # noqa: S101 - the caller checked
        try:
            return step.convert(raw)
        except (ValueError, TypeError) as exc:
            message = exc.errors[0].message if isinstance(exc, ValidationError) else str(exc)
            self.errors.append(
                FieldError(
                    f"{kind}.{step.field}",
                    "invalid_value",
                    f"lead.{step.source} cannot be written here: {message}",
                )
            )
            return None

    def _fits(self, kind: str, step: _Step, value: Any) -> bool:
        definition = step.definition
        limit = definition.max_length
        if step.custom:
            problem = definition.problem(value)
        elif isinstance(value, str) and limit is not None and len(value) > limit:
            problem = ("too_long", f"must be at most {limit} characters")
        else:
            return True
        if problem is None:
            return True
        self.errors.append(
            FieldError(
                f"{kind}.{step.field}",
                problem[0],
                f"lead.{step.source}: {problem[1]} (got {describe_value(value)})",
            )
        )
        return False

    def _owner_option(self, kind: str, step: _Step) -> None:
        """Report the lead's owner when the options give new records another."""
        lead_owner, option = self.lead.owner_id, self.options.owner_id
        if lead_owner is not None and option not in (None, lead_owner):
            self.skipped.append(
                SkippedValue(kind, step.field, step.source, lead_owner, option, "owner_option")
            )

    # -- what the conversion itself sets ----------------------------------------------------

    def _person_account(self) -> None:
        """Name the new person account after the person and mark it a person."""
        target = self.targets["account"]
        name = self.lead.name
        target.fields.update(name=name, is_person=True)
        target.changes.append(("account", "name", None, name, "conversion"))
        target.changes.append(("account", "is_person", None, True, "is_person"))

    def _identify(self, kind: str) -> str | None:
        """The target's id: the existing record's, or a new one (and the timestamps)."""
        target = self.targets[kind]
        if target.old is not None:
            return str(target.old.id)
        if not target.present:
            return None
        now = self.settings.now
        new_id = _new_id(self.settings.ids, kind)
        target.fields.update(id=new_id, created_at=now, updated_at=now)
        self.created.append(kind)
        return new_id

    def _link(self, kind: str, name: str, value: object) -> None:
        """Fill a conversion-managed field (a link, a stage) when it is blank."""
        target = self.targets[kind]
        old = None if target.old is None else getattr(target.old, name)
        if old is None and value is not None:
            target.fields[name] = value
            target.changes.append((kind, name, None, value, "conversion"))

    def _new_opportunity(self) -> None:
        if self.targets["opportunity"].old is not None:
            return
        self._identify("opportunity")
        fields = self.targets["opportunity"].fields
        name, source = (
            (self.options.opportunity_name, "options.opportunity_name")
            if self.options.opportunity_name is not None
            else _default_opportunity_name(self.lead)
        )
        fields["name"] = name
        if source == "company":
            self.accounted.add("company")  # a person account's lead keeps its company here
        self.targets["opportunity"].changes.append(("opportunity", "name", None, name, source))
        self._link("opportunity", "stage", self.settings.first_stage)
        if "close_date" not in fields:
            self._link("opportunity", "close_date", self.settings.quarter_end)

    def _advance_lifecycle(self) -> None:
        """Move the contact forward to the options' stage for its deal (none, open, won)."""
        deal = self.targets["opportunity"]
        stage_name = deal.fields.get("stage") or (None if deal.old is None else deal.old.stage)
        if stage_name is None:
            reached = self.options.contact_stage_without_opportunity
        elif stage_name in self.settings.won:
            reached = LifecycleStage.CUSTOMER
        else:
            reached = self.options.contact_stage_with_opportunity
        contact = self.targets["contact"]
        current = None if contact.old is None else contact.old.lifecycle_stage
        stage = _furthest(self.lead.lifecycle_stage if contact.old is None else current, reached)
        if stage is not current:
            contact.fields["lifecycle_stage"] = stage
            contact.changes.append(("contact", "lifecycle_stage", current, stage, "conversion"))

    # -- record types -----------------------------------------------------------------------

    def _stamp_record_types(self) -> None:
        """New records get the record type given for their kind (Salesforce's default).

        Like :func:`~leadmodel.with_record_type`, the picklists the lead left blank get the
        record type's defaults (status, stage and lifecycle stage are the conversion's).
        """
        for kind, record_type in self.settings.record_types.items():
            target = self.targets[kind]
            if not target.present or target.old is not None:
                continue
            if RECORD_TYPE_FIELD not in target.custom:
                target.custom[RECORD_TYPE_FIELD] = record_type.name
                target.changes.append(
                    (kind, f"custom.{RECORD_TYPE_FIELD}", None, record_type.name, "conversion")
                )
            for item in record_type.picklists:
                path, default = item.path, item.default
                if default is None or path in _MANAGED_PICKLISTS:
                    continue
                if path.startswith("custom."):
                    if path[7:] not in target.custom:
                        target.custom[path[7:]] = default
                        target.changes.append((kind, path, None, default, "conversion"))
                elif "." not in path and target.fields.get(path) in (None, _EMPTY_TAGS):
                    value = frozenset({default}) if path == "tags" else default
                    target.fields[path] = value
                    target.changes.append((kind, path, None, value, "conversion"))

    def _check_record_types(self, *records: Any) -> None:
        """Every problem of the new or changed records with their record types, as errors.

        New records are checked against the record type given for their kind; an existing
        record only when it has that record type (or none), against its stored version,
        so a read-only field the conversion would change is refused.
        """
        types = self.settings.record_types
        for kind, record in zip(TARGETS, records, strict=True):
            record_type = types.get(kind)
            if record_type is None or record is None:
                continue
            old = self.targets[kind].old
            if old is not None and record_type_of(old) not in (None, record_type.name):
                continue
            check = validate_layout(record, record_type, previous=old)
            self.errors.extend(
                FieldError(f"{kind}.{e.path}", e.code, e.message) for e in check.errors
            )

    # -- building ---------------------------------------------------------------------------

    def _build(self, kind: str) -> Any:
        """The new or changed record, its entity checks reported under *kind*."""
        target = self.targets[kind]
        if not target.present:
            return None
        record, fields, custom = target.old, target.fields, target.custom
        if record is not None and not target.changed:
            return record
        try:
            if record is None:
                values = FieldValues(custom) if custom else EMPTY_VALUES
                return _CLASSES[kind](**fields, custom=values)
            fields["updated_at"] = self.settings.now
            if custom:
                fields["custom"] = FieldValues({**record.custom, **custom})
            return _evolve(record, fields)
        except ValidationError as exc:
            self.errors.extend(exc.prefixed(kind).errors)
            return None

    def _result(
        self, account: Account | None, contact: Contact, opportunity: Opportunity | None
    ) -> ConversionResult:
        lead, options, now = self.lead, self.options, self.settings.now
        converted = ConversionRecord(
            account_id=None if account is None else account.id,
            contact_id=contact.id,
            opportunity_id=None if opportunity is None else opportunity.id,
            converted_at=now,
            status=options.converted_status,
        )
        status: ChangeRow = (
            "lead",
            "status",
            lead.status,
            options.converted_status,
            "options.converted_status",
        )
        targets = self.targets
        return ConversionResult(
            lead=_converted_lead(lead, options.converted_status, converted, now),
            account=account,
            contact=contact,
            opportunity=opportunity,
            created=tuple(self.created),
            updated=tuple(kind for kind in TARGETS if self.targets[kind].changed),
            changes=FieldChanges.from_rows(
                (
                    status,
                    *targets["account"].changes,
                    *targets["contact"].changes,
                    *targets["opportunity"].changes,
                )
            ),
            skipped=tuple(self.skipped),
            unmapped=self._unmapped(),
            reparent=(Reparent("activity", "subject_id", lead.id, contact.id),),
            notifications=self._notifications(converted),
        )

    def _notifications(self, converted: ConversionRecord) -> tuple[Notification, ...]:
        if not self.options.notify_owner or self.owner is None:
            return ()
        data: dict[str, Scalar] = {
            "lead_id": self.lead.id,
            "lead_name": self.lead.name,
            "account_id": converted.account_id,
            "contact_id": converted.contact_id,
            "opportunity_id": converted.opportunity_id,
        }
        return (
            Notification(
                recipient=self.owner, template="lead_converted", subject_id=self.lead.id, data=data
            ),
        )

    def _unmapped(self) -> tuple[UnmappedValue, ...]:
        plan, lead, accounted = self.settings.plan, self.lead, self.accounted
        mapped = plan.mapped_sources
        found: list[UnmappedValue] = []
        for name, read in plan.lead_fields:
            if name in accounted:
                continue
            value = read(lead)
            if not _blank(value, custom=False):
                reason: UnmappedReason = "no_target" if name in mapped else "no_entry"
                found.append(UnmappedValue(name, value, reason))
        for key, value in lead.custom.items():
            path = f"custom.{key}"
            if path not in accounted:
                reason = "no_target" if path in mapped else "no_entry"
                found.append(UnmappedValue(path, value, reason))
        return tuple(found)


_CLASSES: Final[dict[str, type]] = {
    "account": Account,
    "contact": Contact,
    "opportunity": Opportunity,
}
_READERS: Final = {
    cls: (names, operator.attrgetter(*names))
    for cls in _CLASSES.values()
    for names in [tuple(f.name for f in attrs.fields(cls))]
}


def _evolve(record: Any, changes: dict[str, Any]) -> Any:
    """``attrs.evolve`` for our entities: a copy with *changes*, checked by its constructor."""
    names, read = _READERS[type(record)]
    fields = dict(zip(names, read(record), strict=True))
    fields.update(changes)
    return type(record)(**fields)


def _new_id(ids: Callable[[str], str], kind: str) -> str:
    new = ids(kind)
    if (
        new.__class__ is str
        and 0 < len(new) <= _checks.ID_LENGTH
        and new.isprintable()
        and not new.isspace()
    ):
        return new
    problem = _checks.identifier(new)
    if problem is not None:
        raise ValidationError(
            "convert_lead",
            [FieldError("ids", problem[0], f"ids({kind!r}) returned a bad id: {problem[1]}")],
        )
    return new


def _convert(
    lead: Lead, options: ConvertOptions, existing: ExistingRecords, settings: _Settings
) -> ConversionResult:
    if lead.converted is not None:
        raise AlreadyConverted(
            f"Lead {lead.id!r} was converted at {lead.converted.converted_at.isoformat()}; "
            "a lead converts once",
            lead_id=lead.id,
        )
    errors = _combination_problems(lead, options, existing, settings)
    if errors:
        raise InvalidConvertOptions(f"convert_lead {lead.id!r}", errors, lead_id=lead.id)
    return _Conversion(lead, options, existing, settings).run()


def convert_lead(
    lead: Lead,
    options: ConvertOptions,
    *,
    existing: ExistingRecords | None = None,
    mapping: FieldMapping = DEFAULT_LEAD_MAPPING,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    opportunity_process: OpportunityProcess = DEFAULT_OPPORTUNITY_PROCESS,
    ids: Callable[[str], str],
    now: datetime,
    record_types: Mapping[str, RecordType] | None = None,
) -> ConversionResult:
    """Convert *lead* into an account, a contact and (optionally) an opportunity.

    Pure: the records come back as new or updated values in a :class:`ConversionResult`,
    with every value written (``changes``), every lead value not written because an
    existing record kept its own (``skipped``) and every lead value no record received
    (``unmapped``), so nothing is lost silently.

    - New records are built from the lead through *mapping*. An account is made when the
      lead has a company. An ``is_person`` lead converts into a new *person account*
      (``Account.is_person``, named after the person, with the account fields of the
      mapping) and its contact; the opportunity points at that account (with
      ``person_account=False`` it converts to a contact without an account). The new
      opportunity is named by the options or after the company (cut to 80 characters),
      closes at the end of the quarter of *now*, starts
      in the first open stage of *opportunity_process* and has no amount.
    - Existing records (named by id in *options*, passed in *existing*) are filled:
      blank fields only by default, or by ``merge_policy`` and ``overwrite_fields``. They
      keep their owner; new records are owned by ``owner_id`` or the lead's owner.
    - The contact's lifecycle stage moves forward, never back, to
      ``options.contact_stage_with_opportunity`` (``opportunity``) with an open
      opportunity, ``customer`` with a won one, and
      ``options.contact_stage_without_opportunity`` (``sales_qualified``, HubSpot's
      behaviour) without one.
    - The lead gets the converted status and a ``converted`` record, and is read-only
      from then on; its activities are to move to the contact (``reparent``).

    Args:
        lead: the lead to convert.
        options: the :class:`ConvertOptions`.
        existing: the records *options* names by id.
        mapping: lead field → target field entries (:data:`DEFAULT_LEAD_MAPPING`).
        process: the lead's process, whose converted statuses are allowed.
        opportunity_process: the stages of a new opportunity.
        ids: makes new ids, called with ``"account"``, ``"contact"``, ``"opportunity"``.
        now: the time of conversion (timezone-aware).
        record_types: the record type of each target kind (``{"account": ...}``): new
            records get it (``custom["record_type"]``, Salesforce's default record type)
            and its defaults for the picklists the lead left blank (as
            :func:`~leadmodel.with_record_type` fills them, reported as changes from
            ``"conversion"``), and are checked against it, as are existing records of that
            record type
            (read-only fields against their stored version); every problem is an
            :class:`InvalidConvertOptions` error on ``"<target>.<field>"`` (codes
            ``required``, ``not_allowed``, ``read_only``).

    >>> from datetime import UTC, datetime
    >>> from leadmodel import EmailAddress
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> lead = Lead(
    ...     id="L1",
    ...     first_name="Ada",
    ...     last_name="Lovelace",
    ...     company="Analytical Engines",
    ...     email=EmailAddress.parse("ada@engines.example"),
    ... )
    >>> result = convert_lead(
    ...     lead,
    ...     ConvertOptions("Closed - Converted"),
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 11, 23, tzinfo=UTC),
    ... )
    >>> result.created, result.account.name, str(result.contact.email)
    (('account', 'contact', 'opportunity'), 'Analytical Engines', 'ada@engines.example')
    >>> result.opportunity.close_date, result.lead.converted.contact_id
    (datetime.date(2026, 12, 31), 'contact-000001')

    Raises:
        AlreadyConverted: the lead is converted already.
        InvalidConvertOptions: every contradiction at once: not a converted status, a
            contact without its account or of another account, an id without its record,
            a queue-owned lead without ``owner_id``, a value too long or invalid for its
            target, ….
        ValidationError: an argument of the wrong type.
    """
    _require(lead, Lead, "a Lead", "lead")
    _require(options, ConvertOptions, "ConvertOptions", "options")
    _require(existing, (ExistingRecords, type(None)), "ExistingRecords or None", "existing")
    settings = _settings(mapping, process, opportunity_process, ids, now, record_types=record_types)
    return _convert(lead, options, existing or _NO_RECORDS, settings)


# -- bulk -----------------------------------------------------------------------------------


@attrs.frozen
class ConversionFailure:
    """A lead of a bulk conversion that did not convert, and why.

    Attributes:
        index: its position in the input.
        lead_id: its id, when the item held a lead.
        error: the error's class name (``"InvalidConvertOptions"``).
        message: the error's message.
        errors: the field errors, for validation errors.
    """

    _repr_html_ = result_html

    index: int
    lead_id: str | None
    error: str
    message: str
    errors: tuple[FieldError, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class BulkConversion:
    """The outcome of :func:`convert_leads`: the results and failures, in input order.

    Apply the results in order: a later result may update an account an earlier one
    created (same-company leads share it); :meth:`latest` gives each record's final state.
    """

    results: tuple[ConversionResult, ...]
    failures: tuple[ConversionFailure, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def latest(self, kind: str) -> tuple[Any, ...]:
        """The final state of every *kind* record the batch made or changed, by first use.

        *kind* is ``"lead"``, ``"account"``, ``"contact"`` or ``"opportunity"``.
        """
        found: dict[str, Any] = {}
        for result in self.results:
            record = getattr(result, kind, None)
            if record is not None and (
                kind == "lead" or kind in (*result.created, *result.updated)
            ):
                found[record.id] = record
        return tuple(found.values())


ConvertItem = tuple[Lead, ConvertOptions] | tuple[Lead, ConvertOptions, ExistingRecords | None]
"""An item of :func:`convert_leads`: a lead, its options and optionally existing records."""


def _item(item: object) -> tuple[Lead, ConvertOptions, ExistingRecords]:
    if not isinstance(item, tuple) or len(item) not in (2, 3):
        raise ValidationError(
            "convert_leads",
            [FieldError("item", "type", "must be (lead, options) or (lead, options, existing)")],
        )
    lead, options, existing = (*item, None) if len(item) == 2 else item
    _require(lead, Lead, "a Lead", "lead")
    _require(options, ConvertOptions, "ConvertOptions", "options")
    _require(existing, (ExistingRecords, type(None)), "ExistingRecords or None", "existing")
    return lead, options, existing or _NO_RECORDS


def convert_leads(
    pairs: Iterable[ConvertItem],
    *,
    mapping: FieldMapping = DEFAULT_LEAD_MAPPING,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    opportunity_process: OpportunityProcess = DEFAULT_OPPORTUNITY_PROCESS,
    ids: Callable[[str], str],
    now: datetime,
    share_accounts: bool = True,
    record_types: Mapping[str, RecordType] | None = None,
) -> BulkConversion:
    """Convert many leads, each on its own: one bad lead never stops the others.

    *pairs* are ``(lead, options)``, or ``(lead, options, existing)`` triples. With
    *share_accounts*, leads of the same company (compared by
    :func:`~leadmodel.rules.normalize.normalize_company`, so "Acme Inc" and "ACME, Inc."
    agree) that name no account reuse the account the first of them created, filling its
    blanks; a lead whose conversion fails does not create the shared account. For more
    leads than you want to hold results for, stream them with :func:`iter_convert_leads`.

    >>> from datetime import UTC, datetime
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> options = ConvertOptions("Closed - Converted", create_opportunity=False)
    >>> batch = convert_leads(
    ...     [
    ...         (Lead(id="L1", last_name="Ng", company="Acme Inc"), options),
    ...         (Lead(id="L2", last_name="Li", company="ACME, Inc."), options),
    ...         (Lead(id="L3", last_name="Oh", company="Umbrella"), ConvertOptions("Working")),
    ...     ],
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 11, 23, tzinfo=UTC),
    ... )
    >>> [r.contact.account_id for r in batch.results]
    ['account-000001', 'account-000001']
    >>> [(f.lead_id, f.errors[0].code) for f in batch.failures]
    [('L3', 'not_converted_status')]

    Raises:
        ValidationError: a shared argument of the wrong type (pairs that are wrong are
            failures, not errors).
    """
    settings = _settings(mapping, process, opportunity_process, ids, now, record_types=record_types)
    _require_pairs(pairs)
    results: list[ConversionResult] = []
    failures: list[ConversionFailure] = []
    # Every result stays alive, so the cyclic collector would rescan a growing heap over
    # and over; nothing built here is cyclic (iter_convert_leads needs no pause).
    with gc_paused():
        for outcome in _outcomes(pairs, settings, share_accounts=share_accounts):
            if isinstance(outcome, ConversionResult):
                results.append(outcome)
            else:
                failures.append(outcome)
    return BulkConversion(results=tuple(results), failures=tuple(failures))


def _outcomes(
    items: Iterable[object], settings: _Settings, *, share_accounts: bool
) -> Iterator[ConversionResult | ConversionFailure]:
    """Convert each item on its own, in order; shared accounts are remembered by company."""
    shared: dict[str, Account] = {}
    for index, item in enumerate(items):
        lead_id = (
            item[0].id if isinstance(item, tuple) and item and isinstance(item[0], Lead) else None
        )
        try:
            lead, options, existing = _item(item)
            key = (
                normalize_company(lead.company)
                if share_accounts
                and lead.company is not None
                and not _makes_person_account(lead, options, existing)
                and options.account_id is None
                and options.contact_id is None
                and existing.account is None
                else None
            )
            account = shared.get(key) if key is not None else None
            if account is not None:
                options = attrs.evolve(options, account_id=account.id)
                existing = ExistingRecords(
                    account=account, contact=existing.contact, opportunity=existing.opportunity
                )
            result = _convert(lead, options, existing, settings)
        except LeadModelError as exc:
            yield ConversionFailure(
                index=index,
                lead_id=lead_id,
                error=type(exc).__name__,
                message=str(exc),
                errors=exc.errors if isinstance(exc, ValidationError) else (),
            )
            continue
        if key is not None and result.account is not None:
            shared[key] = result.account
        yield result


def iter_convert_leads(
    pairs: Iterable[ConvertItem],
    *,
    mapping: FieldMapping = DEFAULT_LEAD_MAPPING,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    opportunity_process: OpportunityProcess = DEFAULT_OPPORTUNITY_PROCESS,
    ids: Callable[[str], str],
    now: datetime,
    share_accounts: bool = True,
    record_types: Mapping[str, RecordType] | None = None,
) -> Iterator[ConversionResult | ConversionFailure]:
    """:func:`convert_leads` one lead at a time, in constant memory.

    Yields a :class:`ConversionResult` or a :class:`ConversionFailure` per item, in input
    order, as each lead is converted: save each result before asking for the next, and a
    million leads convert without holding a million results. It keeps one account per
    shared company.

    >>> from datetime import UTC, datetime
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> stream = iter_convert_leads(
    ...     [(Lead(id="L1", last_name="Ng", company="Acme"), ConvertOptions("Closed - Converted"))],
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 11, 23, tzinfo=UTC),
    ... )
    >>> [type(outcome).__name__ for outcome in stream]
    ['ConversionResult']

    Raises:
        ValidationError: a shared argument of the wrong type, when called.
    """
    settings = _settings(mapping, process, opportunity_process, ids, now, record_types=record_types)
    _require_pairs(pairs)
    return _outcomes(pairs, settings, share_accounts=share_accounts)


def _require_pairs(pairs: object) -> None:
    if isinstance(pairs, str | bytes | Mapping) or not isinstance(pairs, Iterable):
        raise ValidationError(
            "convert_leads",
            [FieldError("pairs", "type", "must be an iterable of (lead, options) pairs")],
        )
