"""The contact: a person the business has a relationship with, usually at an account."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import (
    CUSTOM_IS_VALID,
    EMPTY_TAGS,
    EMPTY_VALUES,
    TIMESTAMPS_IN_ORDER,
    address_check,
    email_check,
    lifecycle_check,
    phone_check,
    repr_html,
    to_custom,
    to_tags,
)
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType, FieldValues
from leadmodel.domain.status import LifecycleStage
from leadmodel.domain.values import Address, EmailAddress, PhoneNumber

__all__ = ["CONTACT_SCHEMA", "Contact"]

_CONTACT_CHECKS: Final = _checks.FieldChecks(
    "Contact",
    required=[
        ("id", _checks.identifier),
        ("last_name", _checks.text(80)),
        ("tags", _checks.tag_set),
        ("do_not_call", _checks.boolean),
        ("email_opt_out", _checks.boolean),
    ],
    optional=[
        ("first_name", _checks.text(40)),
        ("account_id", _checks.identifier),
        ("title", _checks.text(128)),
        ("email", email_check),
        ("phone", phone_check),
        ("mobile", phone_check),
        ("mailing_address", address_check),
        ("source", _checks.text(40)),
        ("owner_id", _checks.identifier),
        ("description", _checks.text(32_000, multiline=True)),
        ("lifecycle_stage", lifecycle_check),
        ("created_at", _checks.aware_datetime),
        ("updated_at", _checks.aware_datetime),
    ],
    invariants=[CUSTOM_IS_VALID, TIMESTAMPS_IN_ORDER],
)


@attrs.frozen(kw_only=True)
class Contact:
    """A person the business knows, usually working at an :class:`~leadmodel.Account`.

    Frozen, slotted and keyword-only; ``last_name`` is required. A contact may belong to
    further accounts through :class:`~leadmodel.AccountContactRelation`; ``account_id`` is
    its primary account.

    >>> Contact(id="C1", first_name="Grace", last_name="Hopper", account_id="A1").name
    'Grace Hopper'
    """

    id: str
    first_name: str | None = None
    last_name: str
    account_id: str | None = None
    title: str | None = None
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    mobile: PhoneNumber | None = None
    mailing_address: Address | None = None
    source: str | None = None
    owner_id: str | None = None
    description: str | None = None
    do_not_call: bool = False
    email_opt_out: bool = False
    lifecycle_stage: LifecycleStage | None = None
    tags: frozenset[str] = attrs.field(default=EMPTY_TAGS, converter=to_tags)
    custom: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _CONTACT_CHECKS.validate(self)

    @property
    def name(self) -> str:
        """The full name (first name, then last name)."""
        if self.first_name is None:
            return self.last_name
        return f"{self.first_name} {self.last_name}"


CONTACT_SCHEMA: Final = EntitySchema(
    kind="contact",
    standard=(
        FieldDef("id", FieldType.REFERENCE, required=True),
        FieldDef("first_name", FieldType.TEXT, length=40),
        FieldDef("last_name", FieldType.TEXT, length=80, required=True),
        FieldDef("account_id", FieldType.REFERENCE),
        FieldDef("title", FieldType.TEXT, length=128),
        FieldDef("email", FieldType.EMAIL, length=80),
        FieldDef("phone", FieldType.PHONE, length=40),
        FieldDef("mobile", FieldType.PHONE, length=40),
        FieldDef("mailing_address", FieldType.ADDRESS),
        FieldDef("source", FieldType.PICKLIST, length=40),
        FieldDef("owner_id", FieldType.REFERENCE),
        FieldDef("description", FieldType.LONG_TEXT, length=32_000),
        FieldDef("do_not_call", FieldType.CHECKBOX),
        FieldDef("email_opt_out", FieldType.CHECKBOX),
        FieldDef(
            "lifecycle_stage",
            FieldType.PICKLIST,
            choices=tuple(s.value for s in LifecycleStage),
            restricted=True,
        ),
        FieldDef("tags", FieldType.MULTI_PICKLIST),
        FieldDef("created_at", FieldType.DATETIME),
        FieldDef("updated_at", FieldType.DATETIME),
    ),
)
"""The standard fields of a contact, with Salesforce's types and lengths."""
