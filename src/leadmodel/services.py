"""Use cases over the ports: the only code that touches storage.

Each service takes a :class:`~leadmodel.ports.UnitOfWork` (and the other ports it needs),
runs the pure rules, and writes all or nothing: when it fails, storage is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from leadmodel.domain.account import Account
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.lead import Lead
from leadmodel.ports import UnitOfWork, lookup_keys
from leadmodel.rules.duplicate_rules import DuplicateCheck, DuplicatePolicy, check_duplicates

__all__ = ["save"]

Saved = TypeVar("Saved", Lead, Contact, Account)


def _repositories(uow: UnitOfWork, record: object) -> tuple[Any, tuple[Any, ...]]:
    """The record's own repository and those its duplicates are looked for in."""
    if isinstance(record, Lead):
        return uow.leads, (uow.leads, uow.contacts)
    if isinstance(record, Contact):
        return uow.contacts, (uow.contacts, uow.leads)
    if isinstance(record, Account):
        return uow.accounts, (uow.accounts,)
    raise ValidationError(
        "save",
        [
            FieldError(
                "record", "type", f"must be a Lead, Contact or Account, not {type(record).__name__}"
            )
        ],
    )


def _candidates(
    repositories: Iterable[Any], record: object, policy: DuplicatePolicy
) -> list[object]:
    keys: set[str] = set(lookup_keys(record))
    for rule in policy.rules:
        keys.update(rule.compile().keys(record))
    found: dict[tuple[str, str], object] = {}
    for repository in repositories:
        for candidate in repository.find_by_keys(sorted(keys)):
            found[(type(candidate).__name__, candidate.id)] = candidate
    return list(found.values())


def save(
    uow: UnitOfWork,
    record: Saved,
    *,
    policy: DuplicatePolicy | None = None,
    allow_save: bool = False,
) -> DuplicateCheck | None:
    """Create or update *record* in one unit of work, applying a duplicate *policy* first.

    A record whose id is not stored is created (the policy's create action applies),
    otherwise it replaces the stored one (edit action, against the stored version).
    Candidates come from the repositories' ``find_by_keys`` with the policy's blocking
    keys and the default lookup keys; a lead is checked against leads and contacts. A
    ``block`` decision raises :class:`~leadmodel.DuplicateBlocked` and writes nothing;
    ``allow_save=True`` overrides it. Returns the policy's :class:`DuplicateCheck`, or
    ``None`` without a policy.

    >>> from leadmodel import (
    ...     STANDARD_LEAD_RULE,
    ...     DuplicateAction,
    ...     DuplicateBlocked,
    ...     EmailAddress,
    ...     Lead,
    ... )
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> policy = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
    >>> save(
    ...     uow,
    ...     Lead(
    ...         id="L1",
    ...         first_name="Ann",
    ...         last_name="Lee",
    ...         company="Acme",
    ...         email=EmailAddress.parse("ann@acme.com"),
    ...     ),
    ...     policy=policy,
    ... ).decision
    'allow'
    >>> anne = Lead(
    ...     id="L2",
    ...     first_name="Anne",
    ...     last_name="Lee",
    ...     company="Acme",
    ...     email=EmailAddress.parse("ANN@acme.com"),
    ... )
    >>> try:
    ...     save(uow, anne, policy=policy)
    ... except DuplicateBlocked as blocked:
    ...     print(blocked)
    leads: 1 duplicate(s) on create, action block: duplicates L1

    Raises:
        DuplicateBlocked: the policy blocks the save.
        ValidationError: not a lead, contact or account, or a bad policy.
    """
    own, searched = _repositories(uow, record)
    with uow:
        stored = own.get(record.id)
        action: Literal["create", "edit"] = "create" if stored is None else "edit"
        check = None
        if policy is not None:
            candidates = _candidates(searched, record, policy)
            check = check_duplicates(
                record,
                candidates,
                policy,
                action=action,
                previous=stored,
                allow_save=allow_save,
            )
            check.raise_if_blocked()
        if stored is None:
            own.add(record)
        else:
            own.update(record)
        uow.commit()
    return check
