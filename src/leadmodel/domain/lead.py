"""The lead: a person (and usually a company) who may become a customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import (
    CUSTOM_IS_VALID,
    EMPTY_TAGS,
    EMPTY_VALUES,
    TIMESTAMPS_IN_ORDER,
    address_check,
    email_check,
    employees_check,
    lifecycle_check,
    money_check,
    phone_check,
    repr_html,
    to_custom,
    to_tags,
)
from leadmodel.domain.errors import FieldError
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType, FieldValues
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LifecycleStage
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber

__all__ = ["LEAD_SCHEMA", "ConversionRecord", "Lead"]

_CONVERSION_CHECKS: Final = _checks.FieldChecks(
    "ConversionRecord",
    required=[
        ("converted_at", _checks.aware_datetime),
        ("status", _checks.text(40)),
    ],
    optional=[
        ("account_id", _checks.identifier),
        ("contact_id", _checks.identifier),
        ("opportunity_id", _checks.identifier),
    ],
)


@attrs.frozen(kw_only=True)
class ConversionRecord:
    """What a conversion made of a lead (Salesforce's ``ConvertedAccountId`` … fields).

    A converted lead is read-only; this record is how it points at its account, contact and
    (when one was created or linked) opportunity.
    """

    account_id: str | None
    contact_id: str | None
    opportunity_id: str | None = None
    converted_at: datetime
    status: str

    def __attrs_post_init__(self) -> None:
        _CONVERSION_CHECKS.validate(self)


def _company_errors(lead: Any) -> list[FieldError]:
    if lead.company is None and lead.is_person is False:
        return [FieldError("company", "required", "is required unless is_person=True")]
    return []


_LEAD_CHECKS: Final = _checks.FieldChecks(
    "Lead",
    required=[
        ("id", _checks.identifier),
        ("last_name", _checks.text(80)),
        ("is_person", _checks.boolean),
        ("status", _checks.text(40)),
        ("owner_is_queue", _checks.boolean),
        ("tags", _checks.tag_set),
        ("do_not_call", _checks.boolean),
        ("email_opt_out", _checks.boolean),
    ],
    optional=[
        ("first_name", _checks.text(40)),
        ("company", _checks.text(255)),
        ("title", _checks.text(128)),
        ("email", email_check),
        ("phone", phone_check),
        ("mobile", phone_check),
        ("website", _checks.text(255)),
        ("industry", _checks.text(40)),
        ("annual_revenue", money_check),
        ("employees", employees_check),
        ("address", address_check),
        ("source", _checks.text(40)),
        ("campaign_id", _checks.identifier),
        ("rating", _checks.text(40)),
        ("owner_id", _checks.identifier),
        ("team_id", _checks.identifier),
        ("description", _checks.text(32_000, multiline=True)),
        ("lifecycle_stage", lifecycle_check),
        ("created_at", _checks.aware_datetime),
        ("updated_at", _checks.aware_datetime),
        ("converted", _checks.instance(ConversionRecord, "a ConversionRecord")),
    ],
    invariants=[
        _checks.Invariant("obj.company is not None or obj.is_person is True", _company_errors),
        CUSTOM_IS_VALID,
        TIMESTAMPS_IN_ORDER,
    ],
)


@attrs.frozen(kw_only=True)
class Lead:
    """A prospect: a person, usually at a company, not yet qualified into a customer.

    Frozen, slotted and keyword-only; construction checks every field and raises one
    :class:`~leadmodel.ValidationError` listing every bad one. ``last_name`` is required, and
    ``company`` too unless ``is_person=True`` (a lead for a person account). Email and phone
    fields take parsed values; ``status`` names a status of the lead's
    :class:`~leadmodel.LeadProcess` (the default process's default by default).

    >>> lead = Lead(
    ...     id="L1",
    ...     first_name="Ada",
    ...     last_name="Lovelace",
    ...     company="Analytical Engines",
    ...     email=EmailAddress.parse("Ada@Example.org"),
    ... )
    >>> lead.status, str(lead.email), lead.lifecycle_stage
    ('Open - Not Contacted', 'ada@example.org', <LifecycleStage.LEAD: 'lead'>)
    """

    id: str
    first_name: str | None = None
    last_name: str
    company: str | None = None
    is_person: bool = False
    title: str | None = None
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    mobile: PhoneNumber | None = None
    website: str | None = None
    industry: str | None = None
    annual_revenue: Money | None = None
    employees: int | None = None
    address: Address | None = None
    source: str | None = None
    campaign_id: str | None = None
    status: str = DEFAULT_LEAD_PROCESS.default.name
    rating: str | None = None
    owner_id: str | None = None
    owner_is_queue: bool = False
    team_id: str | None = None
    tags: frozenset[str] = attrs.field(default=EMPTY_TAGS, converter=to_tags)
    description: str | None = None
    do_not_call: bool = False
    email_opt_out: bool = False
    lifecycle_stage: LifecycleStage | None = LifecycleStage.LEAD
    custom: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    converted: ConversionRecord | None = None

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _LEAD_CHECKS.validate(self)

    @property
    def name(self) -> str:
        """The full name, as Salesforce's read-only ``Name`` (first name, then last name)."""
        if self.first_name is None:
            return self.last_name
        return f"{self.first_name} {self.last_name}"

    @property
    def is_converted(self) -> bool:
        """Whether the lead has been converted (and is therefore read-only)."""
        return self.converted is not None


def _text(name: str, length: int, kind: FieldType = FieldType.TEXT) -> FieldDef:
    return FieldDef(name, kind, length=length)


LEAD_SCHEMA: Final = EntitySchema(
    kind="lead",
    standard=(
        FieldDef("id", FieldType.REFERENCE, required=True),
        _text("first_name", 40),
        FieldDef("last_name", FieldType.TEXT, length=80, required=True),
        _text("company", 255),
        FieldDef("is_person", FieldType.CHECKBOX),
        _text("title", 128),
        FieldDef("email", FieldType.EMAIL, length=80),
        FieldDef("phone", FieldType.PHONE, length=40),
        FieldDef("mobile", FieldType.PHONE, length=40),
        FieldDef("website", FieldType.URL, length=255),
        _text("industry", 40, FieldType.PICKLIST),
        FieldDef("annual_revenue", FieldType.CURRENCY, length=18, decimals=0),
        FieldDef("employees", FieldType.NUMBER, length=8, decimals=0),
        FieldDef("address", FieldType.ADDRESS),
        _text("source", 40, FieldType.PICKLIST),
        FieldDef("campaign_id", FieldType.REFERENCE),
        FieldDef(
            "status",
            FieldType.PICKLIST,
            length=40,
            choices=tuple(s.name for s in DEFAULT_LEAD_PROCESS.statuses),
            required=True,
        ),
        FieldDef(
            "rating",
            FieldType.PICKLIST,
            length=40,
            choices=("Hot", "Warm", "Cold"),
            restricted=True,
        ),
        FieldDef("owner_id", FieldType.REFERENCE),
        FieldDef("owner_is_queue", FieldType.CHECKBOX),
        FieldDef("team_id", FieldType.REFERENCE),
        FieldDef("tags", FieldType.MULTI_PICKLIST),
        _text("description", 32_000, FieldType.LONG_TEXT),
        FieldDef("do_not_call", FieldType.CHECKBOX),
        FieldDef("email_opt_out", FieldType.CHECKBOX),
        FieldDef(
            "lifecycle_stage",
            FieldType.PICKLIST,
            choices=tuple(s.value for s in LifecycleStage),
            restricted=True,
        ),
        FieldDef("created_at", FieldType.DATETIME),
        FieldDef("updated_at", FieldType.DATETIME),
    ),
)
"""The standard fields of a lead, with Salesforce's types and lengths; add custom fields
with :meth:`EntitySchema.with_custom`. ``rating`` is a restricted picklist (``Hot``,
``Warm``, ``Cold``); ``status`` is checked against the lead's own process by
:meth:`EntitySchema.problems`, not against the default process's names listed here."""
