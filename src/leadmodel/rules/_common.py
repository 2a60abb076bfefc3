"""Small checks shared by the rule modules (criteria fields, tuples, collected problems)."""

from __future__ import annotations

from collections.abc import Sequence

from leadmodel.domain._checks import Problem
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.rules.criteria import All, Any, Condition, Not


def to_tuple(values: object) -> object:
    """A list as a tuple (rules take lists from users and JSON); anything else unchanged."""
    return tuple(values) if isinstance(values, list) else values


def criterion_problem(value: object, *, optional: bool = False) -> Problem | None:
    """The problem with *value* as a criterion field (``None`` allowed when *optional*)."""
    if value is None and optional:
        return None
    if isinstance(value, Condition | All | Any | Not):
        return None
    return "type", f"must be a criterion (Condition, All, Any, Not), not {type(value).__name__}"


def raise_problems(what: str, checks: Sequence[tuple[str, Problem | None]]) -> None:
    """Raise one ValidationError of *what* with every ``(path, problem)`` that is a problem."""
    errors = [FieldError(path, *problem) for path, problem in checks if problem is not None]
    if errors:
        raise ValidationError(what, errors)
