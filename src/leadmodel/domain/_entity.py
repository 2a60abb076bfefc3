"""Pieces every entity shares: converters for collections and the common field checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._checks import Invariant
from leadmodel.domain.errors import FieldError
from leadmodel.domain.fields import EMPTY_VALUES, FieldValues, _scalar_problems
from leadmodel.domain.status import LifecycleStage
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber

EMPTY_TAGS: Final[frozenset[str]] = frozenset()
EMAIL_LENGTH: Final = 80


def to_tags(value: object) -> frozenset[str]:
    """Take any iterable of tags (a list, set or tuple) as a frozenset; leave the rest to checks."""
    if isinstance(value, frozenset):
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        try:
            return frozenset(value)
        except TypeError:
            pass  # unhashable members: the tag check reports the type
    return value  # type: ignore[return-value]  # the post-init check reports it


def to_custom(value: object) -> FieldValues:
    """Take a mapping of custom values as ``FieldValues``; leave bad input to the checks."""
    return FieldValues.coerce(value)  # type: ignore[return-value]  # checked after init


def custom_errors(value: object) -> list[FieldError]:
    """The problems of a ``custom`` value that did not become ``FieldValues``."""
    if value.__class__ is FieldValues:
        return []
    return _scalar_problems(value)


def _email_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, EmailAddress):
        return (
            "type",
            f"must be an EmailAddress (use EmailAddress.parse), not {type(value).__name__}",
        )
    if len(value.normalized) > EMAIL_LENGTH:
        return "too_long", f"must be at most {EMAIL_LENGTH} characters"
    return None


email_check: Final = _checks.Check(
    _email_problem,
    f"({{v}}.__class__ is {{ns}}cls and len({{v}}.normalized) <= {EMAIL_LENGTH})",
    {"cls": EmailAddress},
)
"""An ``EmailAddress`` whose normalised form fits Salesforce's 80 characters."""
phone_check: Final = _checks.instance(PhoneNumber, "a PhoneNumber (use PhoneNumber.parse)")
money_check: Final = _checks.instance(Money, "Money")
address_check: Final = _checks.instance(Address, "an Address")
lifecycle_check: Final = _checks.enum_member(LifecycleStage)
employees_check: Final = _checks.integer(0, 10**9)


def _timestamp_errors(entity: Any) -> list[FieldError]:
    created_at, updated_at = entity.created_at, entity.updated_at
    if (
        isinstance(created_at, datetime)
        and isinstance(updated_at, datetime)
        and created_at.utcoffset() is not None
        and updated_at.utcoffset() is not None
        and updated_at < created_at
    ):
        return [FieldError("updated_at", "before_created", "must not be earlier than created_at")]
    return []


TIMESTAMPS_IN_ORDER: Final = Invariant(
    "obj.created_at is None or obj.updated_at is None or obj.updated_at >= obj.created_at",
    _timestamp_errors,
)
"""``updated_at`` is never earlier than ``created_at``."""


def _custom_errors(entity: Any) -> list[FieldError]:
    return custom_errors(entity.custom)


CUSTOM_IS_VALID: Final = Invariant(
    "obj.custom.__class__ is {ns}fv", _custom_errors, {"fv": FieldValues}
)
"""``custom`` holds only scalar values under valid names."""


__all__ = [
    "CUSTOM_IS_VALID",
    "EMPTY_TAGS",
    "EMPTY_VALUES",
    "TIMESTAMPS_IN_ORDER",
    "address_check",
    "custom_errors",
    "email_check",
    "employees_check",
    "lifecycle_check",
    "money_check",
    "phone_check",
    "repr_html",
    "to_custom",
    "to_tags",
]


def repr_html(self: Any) -> str:
    """An entity as an HTML table of its non-blank fields (how Jupyter shows it)."""
    import html

    rows = []
    for field in attrs.fields(type(self)):
        value = getattr(self, field.name)
        if value is None or (isinstance(value, str | frozenset | FieldValues) and not value):
            continue
        if isinstance(value, FieldValues):
            shown = ", ".join(f"{k}={v!r}" for k, v in value.items())
        elif isinstance(value, frozenset):
            shown = ", ".join(sorted(map(str, value)))
        elif isinstance(value, Enum):
            shown = str(value.value)
        else:
            shown = str(value)
        rows.append(f"<tr><th>{html.escape(field.name)}</th><td>{html.escape(shown)}</td></tr>")
    title = html.escape(f"{type(self).__name__} {getattr(self, 'id', '')}")
    return f"<table><caption>{title}</caption>{''.join(rows)}</table>"
