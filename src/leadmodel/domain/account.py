"""The account: a company (or household) the business deals with."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import (
    CUSTOM_IS_VALID,
    EMPTY_VALUES,
    TIMESTAMPS_IN_ORDER,
    address_check,
    employees_check,
    money_check,
    phone_check,
    repr_html,
    to_custom,
)
from leadmodel.domain.errors import FieldError
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType, FieldValues
from leadmodel.domain.values import Address, Money, PhoneNumber

__all__ = ["ACCOUNT_SCHEMA", "Account", "AccountContactRelation"]


def _self_parent_errors(account: Any) -> list[FieldError]:
    parent_id, own_id = account.parent_id, account.id
    if isinstance(parent_id, str) and isinstance(own_id, str) and parent_id == own_id:
        return [FieldError("parent_id", "self_parent", "an account cannot be its own parent")]
    return []


_ACCOUNT_CHECKS: Final = _checks.FieldChecks(
    "Account",
    required=[
        ("id", _checks.identifier),
        ("name", _checks.text(255)),
    ],
    optional=[
        ("website", _checks.text(255)),
        ("industry", _checks.text(40)),
        ("annual_revenue", money_check),
        ("employees", employees_check),
        ("phone", phone_check),
        ("billing_address", address_check),
        ("rating", _checks.text(40)),
        ("owner_id", _checks.identifier),
        ("parent_id", _checks.identifier),
        ("source", _checks.text(40)),
        ("is_person", _checks.boolean),
        ("created_at", _checks.aware_datetime),
        ("updated_at", _checks.aware_datetime),
    ],
    invariants=[
        _checks.Invariant("obj.parent_id is None or obj.parent_id != obj.id", _self_parent_errors),
        CUSTOM_IS_VALID,
        TIMESTAMPS_IN_ORDER,
    ],
)


@attrs.frozen(kw_only=True)
class Account:
    """A company (or household) the business sells to; ``name`` is required.

    ``is_person`` marks a *person account* (Salesforce): an account that is one person, not a
    company. Its ``name`` is the person's full name and its person contact (the contact whose
    ``account_id`` is this account) holds the person's own fields — email, mobile, title;
    an ``is_person`` lead converts into one (see :func:`~leadmodel.convert_lead`).

    >>> Account(id="A1", name="Acme Corporation", industry="Manufacturing").name
    'Acme Corporation'
    >>> Account(id="A2", name="Søren Kierkegaard", is_person=True).is_person
    True
    """

    id: str
    name: str
    website: str | None = None
    industry: str | None = None
    annual_revenue: Money | None = None
    employees: int | None = None
    phone: PhoneNumber | None = None
    billing_address: Address | None = None
    rating: str | None = None
    owner_id: str | None = None
    parent_id: str | None = None
    source: str | None = None
    is_person: bool = False
    custom: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _ACCOUNT_CHECKS.validate(self)


_RELATION_CHECKS: Final = _checks.FieldChecks(
    "AccountContactRelation",
    required=[
        ("account_id", _checks.identifier),
        ("contact_id", _checks.identifier),
        ("is_primary", _checks.boolean),
    ],
    optional=[("role", _checks.text(255))],
)


@attrs.frozen(kw_only=True)
class AccountContactRelation:
    """A contact's relation to one more account, with a role.

    Salesforce's "Contacts to Multiple Accounts"; ``is_primary`` marks the contact's own
    ``account_id``.

    >>> AccountContactRelation(account_id="A2", contact_id="C1", role="Advisor").is_primary
    False
    """

    account_id: str
    contact_id: str
    role: str | None = None
    is_primary: bool = False

    def __attrs_post_init__(self) -> None:
        _RELATION_CHECKS.validate(self)


ACCOUNT_SCHEMA: Final = EntitySchema(
    kind="account",
    standard=(
        FieldDef("id", FieldType.REFERENCE, required=True),
        FieldDef("name", FieldType.TEXT, length=255, required=True),
        FieldDef("website", FieldType.URL, length=255),
        FieldDef("industry", FieldType.PICKLIST, length=40),
        FieldDef("annual_revenue", FieldType.CURRENCY, length=18, decimals=0),
        FieldDef("employees", FieldType.NUMBER, length=8, decimals=0),
        FieldDef("phone", FieldType.PHONE, length=40),
        FieldDef("billing_address", FieldType.ADDRESS),
        FieldDef("rating", FieldType.PICKLIST, length=40, choices=("Hot", "Warm", "Cold")),
        FieldDef("owner_id", FieldType.REFERENCE),
        FieldDef("parent_id", FieldType.REFERENCE),
        FieldDef("source", FieldType.PICKLIST, length=40),
        FieldDef("created_at", FieldType.DATETIME),
        FieldDef("updated_at", FieldType.DATETIME),
    ),
)
"""The standard fields of an account, with Salesforce's types and lengths.

``is_person`` is left out: conversion alone sets it (no mapping entry may write it), and
field mappings stored with this schema keep loading equal to the ones built today."""
