"""Guarded changes to entities: ``update``, ``transition``, ``advance`` and ``regress``.

``attrs.evolve`` stays the raw tool (it re-validates fields and nothing more). These
functions add the business rules: a converted lead is read-only, a status moves only as the
lead's process allows, and the lifecycle stage only moves forward unless regressed with a
reason.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.account import Account
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConvertedLeadError,
    FieldError,
    TransitionError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import LifecycleRegression
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess, LifecycleStage

__all__ = ["advance", "regress", "transition", "update"]

EntityT = TypeVar("EntityT", Lead, Contact, Account, Opportunity)
StagedT = TypeVar("StagedT", Lead, Contact)

_ENTITY_TYPES: Final = (Lead, Contact, Account, Opportunity)
_MANAGED: Final = {
    "id": "an entity's id never changes; create a new record instead",
    "converted": "only convert_lead() converts a lead",
}


def _require(value: object, types: tuple[type, ...], what: str, function: str) -> None:
    _checks.require_instance(value, types, what, function=function, path="entity")


def _refuse_converted(entity: object, action: str) -> None:
    if isinstance(entity, Lead) and entity.converted is not None:
        raise ConvertedLeadError(
            f"Lead {entity.id!r}: cannot {action} a converted lead (it is read-only)",
            lead_id=entity.id,
        )


def update(entity: EntityT, /, **changes: Any) -> EntityT:
    """Return a copy of *entity* with *changes*, checked like a new record.

    The guarded way to change an entity: unknown fields are refused (not silently
    ignored), every field is re-validated, a converted lead is read-only, ``id`` and
    ``converted`` never change here, a lead's ``status`` changes only through
    :func:`transition`, and ``lifecycle_stage`` only moves forward (use :func:`regress`).

    >>> from leadmodel import Lead
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme")
    >>> update(lead, title="CTO").title
    'CTO'

    Raises:
        ValidationError: an unknown field, a bad value, or not an entity.
        ConvertedLeadError: *entity* is a converted lead.
        TransitionError: a status change or a lifecycle move backwards.
    """
    _require(entity, _ENTITY_TYPES, "a Lead, Contact, Account or Opportunity", "update")
    _refuse_converted(entity, "update")
    names = attrs.fields_dict(type(entity))
    errors = [
        FieldError(name, "unknown_field", f"{type(entity).__name__} has no field {name!r}")
        for name in changes
        if name not in names
    ]
    errors += [
        FieldError(name, "managed", reason)
        for name, reason in _MANAGED.items()
        if name in changes and changes[name] != getattr(entity, name)
    ]
    if errors:
        raise ValidationError(type(entity).__name__, errors)
    if isinstance(entity, Lead) and "status" in changes and changes["status"] != entity.status:
        raise TransitionError(
            f"Lead {entity.id!r}: change the status with transition(), which checks the process",
            entity_id=entity.id,
            current=entity.status,
            target=describe_value(changes["status"]),
        )
    if "lifecycle_stage" in changes:
        _check_forward(entity, changes["lifecycle_stage"])
    if not changes:
        return entity
    return attrs.evolve(entity, **changes)


def transition(lead: Lead, status: str, *, process: LeadProcess = DEFAULT_LEAD_PROCESS) -> Lead:
    """Move *lead* to *status* if *process* allows the move.

    A lead never moves *into* a converted status here: conversion does that. Moving to the
    status it already has returns the lead unchanged.

    >>> from leadmodel import Lead
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme")
    >>> transition(lead, "Working - Contacted").status
    'Working - Contacted'

    Raises:
        TransitionError: unknown status, a converted status, or a move the process forbids.
        ConvertedLeadError: the lead is converted.
    """
    _require(lead, (Lead,), "a Lead", "transition")
    _require(process, (LeadProcess,), "a LeadProcess", "transition")
    _refuse_converted(lead, "change the status of")
    target = process.get(status) if isinstance(status, str) else None
    if target is None:
        raise TransitionError(
            f"Lead {lead.id!r}: {describe_value(status)} is not a status of {process.name!r}",
            entity_id=lead.id,
            current=lead.status,
            target=describe_value(status),
        )
    if status == lead.status:
        return lead
    if target.is_converted:
        raise TransitionError(
            f"Lead {lead.id!r}: {status!r} is a converted status; use convert_lead()",
            entity_id=lead.id,
            current=lead.status,
            target=status,
        )
    if process.get(lead.status) is None:
        raise TransitionError(
            f"Lead {lead.id!r}: its status {lead.status!r} is not a status of {process.name!r}",
            entity_id=lead.id,
            current=lead.status,
            target=status,
        )
    if not process.allows(lead.status, status):
        raise TransitionError(
            f"Lead {lead.id!r}: {process.name!r} does not allow {lead.status!r} -> {status!r}",
            entity_id=lead.id,
            current=lead.status,
            target=status,
        )
    return attrs.evolve(lead, status=status)


def _check_forward(entity: Any, stage: object) -> None:
    if not isinstance(stage, LifecycleStage):
        raise ValidationError(
            type(entity).__name__,
            [
                FieldError(
                    "lifecycle_stage",
                    "type",
                    f"must be a LifecycleStage, not {describe_value(stage)}",
                )
            ],
        )
    current = entity.lifecycle_stage
    if current is None or current is stage:
        return
    if current is LifecycleStage.OTHER:
        return
    if stage is LifecycleStage.OTHER or (stage.rank or 0) < (current.rank or 0):
        raise TransitionError(
            f"{type(entity).__name__} {entity.id!r}: lifecycle stage moves forward only "
            f"({current.value} -> {stage.value}); use regress() with a reason",
            entity_id=entity.id,
            current=current.value,
            target=stage.value,
        )


def advance(entity: StagedT, stage: LifecycleStage) -> StagedT:
    """Move *entity*'s lifecycle stage forward to *stage*.

    From no stage or from ``other`` any stage may be reached; otherwise the stage must be
    later in the order. Advancing to the current stage returns the entity unchanged.

    >>> from leadmodel import Lead
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme")
    >>> advance(lead, LifecycleStage.MARKETING_QUALIFIED).lifecycle_stage.value
    'marketing_qualified'

    Raises:
        TransitionError: *stage* is earlier than the current stage, or is ``other`` while
            the current stage is in the order (from no stage, ``other`` may be set too).
        ConvertedLeadError: a converted lead.
    """
    _require(entity, (Lead, Contact), "a Lead or Contact", "advance")
    _refuse_converted(entity, "advance")
    _check_forward(entity, stage)
    if entity.lifecycle_stage is stage:
        return entity
    return attrs.evolve(entity, lifecycle_stage=stage)


def regress(entity: StagedT, stage: LifecycleStage, *, reason: str) -> LifecycleRegression[StagedT]:
    """Move *entity*'s lifecycle stage to *stage*, backwards on purpose, with a *reason*.

    The one way back in the lifecycle; the result carries the moved entity together with
    the previous stage and the reason, for the host to record.

    Backwards only: a *stage* later in the order than the current one is refused (that is
    :func:`advance`'s move, and needs no reason). Regressing to the current stage returns
    the entity unchanged. ``other`` stands outside the order: moving *to* it from a stage
    in the order is a regression (``advance`` refuses it), and from no stage or from
    ``other`` any stage may be set here, as nothing is later than no position.

    >>> from leadmodel import Lead
    >>> lead = Lead(
    ...     id="L1", last_name="Ng", company="Acme", lifecycle_stage=LifecycleStage.SALES_QUALIFIED
    ... )
    >>> result = regress(lead, LifecycleStage.LEAD, reason="budget frozen until Q3")
    >>> result.entity.lifecycle_stage.value, result.previous.value
    ('lead', 'sales_qualified')

    >>> try:
    ...     regress(lead, LifecycleStage.CUSTOMER, reason="signed")
    ... except TransitionError as error:
    ...     print(error.target)
    customer

    Raises:
        ValidationError: *reason* is blank or *stage* is not a ``LifecycleStage``.
        TransitionError: *stage* is later in the order than the current stage.
        ConvertedLeadError: a converted lead.
    """
    _require(entity, (Lead, Contact), "a Lead or Contact", "regress")
    _refuse_converted(entity, "regress")
    errors = []
    problem = _checks.text_problem(reason, 1000, multiline=True)
    if problem is not None:
        errors.append(FieldError("reason", problem[0], problem[1]))
    if not isinstance(stage, LifecycleStage):
        errors.append(
            FieldError("stage", "type", f"must be a LifecycleStage, not {describe_value(stage)}")
        )
    if errors:
        raise ValidationError("regress", errors)
    previous = entity.lifecycle_stage
    if (
        previous is not None
        and previous.rank is not None
        and stage.rank is not None
        and stage.rank > previous.rank
    ):
        raise TransitionError(
            f"{type(entity).__name__} {entity.id!r}: regress() moves back only "
            f"({previous.value} -> {stage.value}); use advance() to move forward",
            entity_id=entity.id,
            current=previous.value,
            target=stage.value,
        )
    moved = entity if previous is stage else attrs.evolve(entity, lifecycle_stage=stage)
    return LifecycleRegression(entity=moved, previous=previous, stage=stage, reason=reason)
