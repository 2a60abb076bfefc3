"""The services' check that they were given a unit of work (by its parts: ports are protocols)."""

from __future__ import annotations

from typing import Final

from leadmodel.domain.errors import FieldError, ValidationError

__all__ = ["check_unit"]

_UNIT_PARTS: Final = (
    "__enter__",
    "__exit__",
    "commit",
    "leads",
    "contacts",
    "accounts",
    "opportunities",
    "activities",
)


def check_unit(service: str, uow: object) -> None:
    """Raise a ``ValidationError`` of *service* unless *uow* is a unit of work (by its parts)."""
    missing = [name for name in _UNIT_PARTS if not hasattr(uow, name)]
    if missing:
        raise ValidationError(
            service,
            [
                FieldError(
                    "uow",
                    "type",
                    f"must be a unit of work (leadmodel.ports.UnitOfWork); "
                    f"{type(uow).__name__} has no {', '.join(missing)}",
                )
            ],
        )
