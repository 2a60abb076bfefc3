"""The opportunity: a deal in progress with an account."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import (
    CUSTOM_IS_VALID,
    EMPTY_VALUES,
    TIMESTAMPS_IN_ORDER,
    money_check,
    repr_html,
    to_custom,
)
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType, FieldValues
from leadmodel.domain.status import DEFAULT_OPPORTUNITY_PROCESS

__all__ = ["OPPORTUNITY_SCHEMA", "Opportunity"]

from leadmodel.domain.values import Money

_OPPORTUNITY_CHECKS: Final = _checks.FieldChecks(
    "Opportunity",
    required=[
        ("id", _checks.identifier),
        ("name", _checks.text(120)),
        ("stage", _checks.text(40)),
    ],
    optional=[
        ("account_id", _checks.identifier),
        ("contact_id", _checks.identifier),
        ("amount", money_check),
        ("close_date", _checks.plain_date),
        ("probability", _checks.integer(0, 100)),
        ("source", _checks.text(40)),
        ("campaign_id", _checks.identifier),
        ("owner_id", _checks.identifier),
        ("lost_reason", _checks.text(255)),
        ("created_at", _checks.aware_datetime),
        ("updated_at", _checks.aware_datetime),
    ],
    invariants=[CUSTOM_IS_VALID, TIMESTAMPS_IN_ORDER],
)


@attrs.frozen(kw_only=True)
class Opportunity:
    """A potential deal; ``stage`` names a stage of the :class:`~leadmodel.OpportunityProcess`.

    ``probability`` is a whole percentage (0–100); ``None`` means "the stage's default"
    (see :meth:`OpportunityProcess.probability`). ``lost_reason`` says why a closed-lost deal
    was lost.

    >>> Opportunity(id="O1", name="Acme - 500 widgets", account_id="A1").stage
    'Prospecting'
    """

    id: str
    name: str
    account_id: str | None = None
    contact_id: str | None = None
    stage: str = DEFAULT_OPPORTUNITY_PROCESS.default.name
    amount: Money | None = None
    close_date: date | None = None
    probability: int | None = None
    source: str | None = None
    campaign_id: str | None = None
    owner_id: str | None = None
    lost_reason: str | None = None
    custom: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _OPPORTUNITY_CHECKS.validate(self)


OPPORTUNITY_SCHEMA: Final = EntitySchema(
    kind="opportunity",
    standard=(
        FieldDef("id", FieldType.REFERENCE, required=True),
        FieldDef("name", FieldType.TEXT, length=120, required=True),
        FieldDef("account_id", FieldType.REFERENCE),
        FieldDef("contact_id", FieldType.REFERENCE),
        FieldDef(
            "stage",
            FieldType.PICKLIST,
            length=40,
            choices=tuple(s.name for s in DEFAULT_OPPORTUNITY_PROCESS.stages),
            required=True,
        ),
        FieldDef("amount", FieldType.CURRENCY, length=18, decimals=2),
        FieldDef("close_date", FieldType.DATE),
        FieldDef("probability", FieldType.PERCENT, length=3, decimals=0),
        FieldDef("source", FieldType.PICKLIST, length=40),
        FieldDef("campaign_id", FieldType.REFERENCE),
        FieldDef("owner_id", FieldType.REFERENCE),
        FieldDef("lost_reason", FieldType.TEXT, length=255),
        FieldDef("created_at", FieldType.DATETIME),
        FieldDef("updated_at", FieldType.DATETIME),
    ),
)
"""The standard fields of an opportunity, with Salesforce's types and lengths."""
