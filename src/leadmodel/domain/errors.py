"""The one error hierarchy of leadmodel.

Every error the library raises on purpose derives from :class:`LeadModelError`, and each
concrete error also subclasses the builtin it behaves like (``ValidationError`` is a
``ValueError``, ``RecordNotFound`` a ``LookupError``), so code that catches builtins keeps
working. Errors carry the offending data as attributes; messages name the entity, the field
and the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "AlreadyConverted",
    "ConcurrencyError",
    "ConversionError",
    "ConvertedLeadError",
    "DatabaseBusy",
    "DatabaseDamaged",
    "DatabaseUnwritable",
    "DuplicateBlocked",
    "FieldError",
    "InvalidConvertOptions",
    "InvalidDatabasePath",
    "InvalidValue",
    "KeyNotIndexed",
    "LeadModelError",
    "MappingError",
    "NotADatabase",
    "RecordExists",
    "RecordNotFound",
    "SchemaTooNew",
    "StorageError",
    "TransitionError",
    "ValidationError",
    "describe_value",
]

_MAX_SHOWN = 40


def describe_value(value: object) -> str:
    """Return a short, safe ``repr`` of *value* for an error message.

    Long values are cut (a 10 MB string never lands in a message) and lone surrogates are
    escaped, so the message itself can always be printed and logged.

    >>> describe_value("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' (100 characters)"
    """
    if isinstance(value, str):
        if len(value) > _MAX_SHOWN:
            shown = repr(value[:_MAX_SHOWN])[:-1] + "…" + repr(value[:1])[-1]
            return f"{shown} ({len(value)} characters)"
        return repr(value)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    if len(text) > _MAX_SHOWN * 2:
        text = text[: _MAX_SHOWN * 2] + "…"
    return text


class LeadModelError(Exception):
    """Base class of every error leadmodel raises on purpose.

    Every leadmodel error pickles whole (its message and attributes), so one raised in a
    worker process (Dask, multiprocessing) reaches the caller as itself.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


def _restore_error(
    cls: type[LeadModelError], args: tuple[Any, ...], state: dict[str, Any]
) -> LeadModelError:
    """An unpickled leadmodel error: its arguments and attributes, without ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


@attrs.frozen
class FieldError:
    """One failed check: where (*path*), what kind (*code*) and a readable *message*.

    *path* is a dotted path from the checked object (``"email"``, ``"address.city"``,
    ``"custom.visits"``); *code* is a stable machine-readable word such as ``"required"``,
    ``"too_long"``, ``"type"``, ``"blank"``, ``"control_character"`` or ``"invalid"``.
    """

    path: str
    code: str
    message: str

    def __attrs_post_init__(self) -> None:
        # Checked by hand (not by _typed.check_fields, which builds FieldErrors): a list
        # or dict here made the frozen value unhashable.
        if str is self.path.__class__ is self.code.__class__ is self.message.__class__:
            return
        errors = [
            FieldError(name, "type", f"must be a string, not {type(value).__name__}")
            for name, value in (("path", self.path), ("code", self.code), ("message", self.message))
            if not isinstance(value, str)
        ]
        if errors:
            raise ValidationError("FieldError", errors)


class ValidationError(LeadModelError, ValueError):
    """One or more values failed validation; :attr:`errors` lists every failure at once.

    Attributes:
        errors: every :class:`FieldError`, in field order.
        entity: the name of the checked class or value kind (``"Lead"``, ``"email"``).
    """

    errors: tuple[FieldError, ...]
    entity: str

    def __init__(self, entity: str, errors: Iterable[FieldError]) -> None:
        self.entity = entity
        self.errors = tuple(errors)
        details = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        count = len(self.errors)
        plural = "" if count == 1 else "s"
        super().__init__(f"{entity}: {count} invalid field{plural}: {details}")

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths of the failed fields, in order."""
        return tuple(e.path for e in self.errors)

    def prefixed(self, prefix: str) -> ValidationError:
        """Return a copy whose error paths start with ``prefix.``; for nested values."""
        errors = [
            attrs.evolve(e, path=f"{prefix}.{e.path}" if e.path else prefix) for e in self.errors
        ]
        return ValidationError(self.entity, errors)


class InvalidValue(ValidationError):  # noqa: N818 - the DESIGN.md name
    """A single value (an email address, a phone number, …) failed to parse.

    Attributes:
        kind: what was being parsed (``"email"``, ``"phone"``, ``"money"``).
        value: the offending input.
    """

    kind: str
    value: object

    def __init__(self, kind: str, value: object, code: str, message: str) -> None:
        self.kind = kind
        self.value = value
        super().__init__(kind, [FieldError("", code, f"{message} (got {describe_value(value)})")])


class TransitionError(LeadModelError, ValueError):
    """A status or lifecycle move that the process does not allow."""

    def __init__(
        self, message: str, *, entity_id: str = "", current: str = "", target: str = ""
    ) -> None:
        self.entity_id = entity_id
        self.current = current
        self.target = target
        super().__init__(message)


class ConvertedLeadError(LeadModelError, ValueError):
    """A converted lead is read-only (Salesforce: ``CANNOT_UPDATE_CONVERTED_LEAD``)."""

    def __init__(self, message: str, *, lead_id: str = "") -> None:
        self.lead_id = lead_id
        super().__init__(message)


class ConversionError(LeadModelError, ValueError):
    """A lead conversion could not be carried out."""


class AlreadyConverted(ConversionError, ConvertedLeadError):  # noqa: N818 - CRM vocabulary
    """The lead has been converted already; a lead converts once."""

    def __init__(self, message: str, *, lead_id: str = "") -> None:
        ConvertedLeadError.__init__(self, message, lead_id=lead_id)


class InvalidConvertOptions(ConversionError, ValidationError):  # noqa: N818 - CRM vocabulary
    """The conversion options contradict each other, the lead, the records or the targets.

    The records are the ones the options name; a target's limits include a value too long
    for its target field.

    A :class:`ValidationError` too: :attr:`errors` lists every problem at once, each with a
    stable code (``"opportunity_id_and_name"``, ``"contact_of_other_account"``,
    ``"queue_owner"``, ``"too_long"`` …) and a path (``"opportunity_name"``,
    ``"contact.title"``).

    Attributes:
        lead_id: the lead being converted, when known.
    """

    lead_id: str | None

    def __init__(
        self, entity: str, errors: Iterable[FieldError], *, lead_id: str | None = None
    ) -> None:
        self.lead_id = lead_id
        ValidationError.__init__(self, entity, errors)


class MappingError(ValidationError):
    """A field mapping is inconsistent with the schemas it maps between.

    A :class:`ValidationError`: :attr:`errors` lists every violation of the mapping at once
    (path ``entries[3]``, codes such as ``"incompatible"``, ``"target_shorter"``,
    ``"decimals"``, ``"duplicate_target"``, ``"unknown_field"``).
    """


class DuplicateBlocked(LeadModelError, ValueError):  # noqa: N818 - CRM vocabulary
    """A duplicate rule whose action is ``block`` refused to save a record."""


class RecordNotFound(LeadModelError, LookupError):  # noqa: N818 - CRM vocabulary
    """No record with the given id is stored.

    Attributes:
        kind: the entity kind (``"lead"``, ``"contact"`` …).
        record_id: the id that was looked up.
    """

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"no {kind} with id {describe_value(record_id)}")


class RecordExists(LeadModelError, ValueError):  # noqa: N818 - CRM vocabulary
    """A record with the same id is stored already (``add`` never overwrites)."""

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"a {kind} with id {describe_value(record_id)} exists already")


class ConcurrencyError(LeadModelError, RuntimeError):
    """A record changed in storage since this unit of work read it; nothing was written."""

    def __init__(self, message: str, *, records: Iterable[str] = ()) -> None:
        self.records: tuple[str, ...] = tuple(records)
        super().__init__(message)


class DatabaseBusy(ConcurrencyError):  # noqa: N818 - names a CRM admin reads
    """The database stayed locked by another writer past its timeout; nothing was written.

    Retry the unit of work (see :func:`leadmodel.services.retrying`).
    """

    def __init__(self, message: str, *, path: str = "", records: Iterable[str] = ()) -> None:
        self.path = path
        super().__init__(message, records=records)


class StorageError(LeadModelError):
    """The storage cannot be used as it is: damaged, foreign, too new or unwritable.

    Attributes:
        path: the database the error is about.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(message)


class DatabaseDamaged(StorageError):  # noqa: N818 - names a CRM admin reads
    """The database file is truncated or corrupted; restore it from a backup."""


class NotADatabase(StorageError):  # noqa: N818 - names a CRM admin reads
    """The file is not a leadmodel database (another file, or another program's database)."""


class SchemaTooNew(StorageError):  # noqa: N818 - names a CRM admin reads
    """The database was written by a newer leadmodel; upgrade leadmodel to open it.

    Attributes:
        found: the database's schema version.
        supported: the newest schema version this leadmodel reads.
    """

    def __init__(self, message: str, *, path: str = "", found: int = 0, supported: int = 0) -> None:
        self.found = found
        self.supported = supported
        super().__init__(message, path=path)


class DatabaseUnwritable(StorageError, PermissionError):  # noqa: N818 - names a CRM admin reads
    """The database file or its directory cannot be written (read-only, no permission)."""


class InvalidDatabasePath(StorageError, ValidationError):  # noqa: N818 - names a CRM admin reads
    """The database path is not a path (``None``, a number …) or names a directory."""

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        ValidationError.__init__(self, "database", [FieldError("path", "invalid", message)])


class KeyNotIndexed(StorageError, LookupError):  # noqa: N818 - names a CRM admin reads
    """``find_by_keys`` was asked for a rule's blocking key that the storage does not index.

    Index the rule first (``store.index_rules([rule])``, done by the services for their
    duplicate policies); a look-up never silently returns nothing for a key it cannot see.
    """
