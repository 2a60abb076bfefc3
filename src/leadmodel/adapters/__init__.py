"""Implementations of :mod:`leadmodel.ports`, and :func:`open_store` to open one by name.

:mod:`leadmodel.adapters.memory` is the reference (tests, notebooks),
:mod:`leadmodel.adapters.sqlite` the embedded default and
:mod:`leadmodel.adapters.postgres` the server database (the ``postgres`` extra); host
applications write their own for their storage.
"""

from __future__ import annotations

import importlib
import inspect
import os
from typing import TYPE_CHECKING, Any

import attrs

from leadmodel.adapters._targets import POSTGRES_SCHEMES, masked, redacted, url_scheme
from leadmodel.domain.errors import (
    FieldError,
    InvalidDatabasePath,
    LeadModelError,
    ValidationError,
    _restore_error,
    describe_value,
)

if TYPE_CHECKING:
    from leadmodel.ports import Store

__all__ = ["open_store"]

_MAX_TARGET = 4096


def open_store(target: str | os.PathLike[str], **options: Any) -> Store:
    """Open the database *target* names: a ``postgresql://`` URL or a SQLite path.

    ``postgresql://…`` and ``postgres://…`` URLs (libpq's form:
    ``postgresql://user:password@host:5432/dbname?sslmode=require``) open a
    :class:`~leadmodel.adapters.postgres.PostgresStore` (the ``postgres`` extra); anything
    else is a SQLite path or ``file:`` URI opened with
    :class:`~leadmodel.adapters.sqlite.SQLiteStore` (created when missing). *options* go
    to the store's constructor (``timeout=``, ``keys=`` …). Another URL scheme
    (``mysql://``, ``http://``) is refused rather than taken for a file name. Error
    messages never show a URL's password.

    >>> from leadmodel import Lead
    >>> with open_store(":memory:") as store:
    ...     with store.unit_of_work() as uow:
    ...         uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
    ...         uow.commit()
    ...     store.count("lead")
    1
    >>> open_store("mysql://ann:s3cret@db/leads")  # the password is never shown
    Traceback (most recent call last):
    ...
    leadmodel.domain.errors.InvalidDatabasePath: database: 1 invalid field: path: ...

    Raises:
        InvalidDatabasePath: *target* is not text or a path, is empty, holds a NUL, is
            another scheme's URL, a URL with a bad port, a ``postgresql:`` URL without its
            ``//``, or (SQLite) names a directory.
        ValidationError: an option the store does not take (code ``invalid``), or a
            ``postgresql://`` URL without the ``postgres`` extra installed (code
            ``missing``).
        StorageError: what the store raises when it cannot open the database
            (:class:`~leadmodel.NotADatabase`, :class:`~leadmodel.SchemaTooNew` …).
    """
    if isinstance(target, str):
        scheme = url_scheme(target)
        if scheme is not None:
            return _open_url(target, scheme, options)
        _refuse_half_url(target)
    elif not isinstance(target, os.PathLike):
        raise InvalidDatabasePath(
            f"the database must be a SQLite path or a postgresql:// URL, not "
            f"{describe_value(target)}",
            path=describe_value(target),
        )
    from leadmodel.adapters.sqlite import SQLiteStore

    _check_options(SQLiteStore, options)
    return SQLiteStore(target, **options)


def _open_url(target: str, scheme: str, options: dict[str, Any]) -> Store:
    shown = masked(target)
    if len(target) > _MAX_TARGET or "\x00" in target:
        raise InvalidDatabasePath(
            f"the database URL is longer than {_MAX_TARGET} characters or holds a NUL",
            path=describe_value(shown),
        )
    if scheme not in POSTGRES_SCHEMES:
        raise InvalidDatabasePath(
            f"{shown!r}: leadmodel opens a SQLite path or a postgresql:// URL, not a "
            f"{scheme}:// URL",
            path=shown,
        )
    _check_port(target, shown)
    try:
        module = importlib.import_module("leadmodel.adapters.postgres")
    except ImportError:
        raise ValidationError(
            "open_store",
            [
                FieldError(
                    "postgres",
                    "missing",
                    f'{shown!r} needs the postgres extra: pip install "leadmodel[postgres]"',
                )
            ],
        ) from None
    store_class = module.PostgresStore
    _check_options(store_class, options)
    target = scheme + target[len(scheme) :]  # PostgreSQL:// as postgresql://, as libpq reads it
    try:
        store: Store = store_class(target, **options)
    except LeadModelError as exc:
        if masked(target) == target:
            raise
        raise _without_passwords(exc, target) from None
    return store


def _without_passwords(exc: LeadModelError, target: str) -> LeadModelError:
    """A copy of *exc* (same class, same attributes) in which no password of *target* shows.

    The store's own message may show the URL it was given, or libpq's reading of it; the
    copy has no ``__cause__`` (a driver's error could show the connection string).
    """

    def clean(value: object) -> object:
        if isinstance(value, str):
            return redacted(value, target)
        if isinstance(value, FieldError):
            return attrs.evolve(value, message=redacted(value.message, target))
        if isinstance(value, tuple):
            return tuple(clean(item) for item in value)
        return value

    state = {name: clean(value) for name, value in vars(exc).items()}
    return _restore_error(type(exc), tuple(clean(arg) for arg in exc.args), state)


def _refuse_half_url(target: str) -> None:
    """Refuse ``postgresql:crm`` or ``postgres:/db``: a URL mistyped, not a file to create.

    Taken for a SQLite path, it would create an empty file of that name and answer from it
    (``report`` showing no leads at all).
    """
    scheme, colon, rest = target.partition(":")
    if colon and scheme.lower() in POSTGRES_SCHEMES and not rest.startswith("//"):
        shown = describe_value(masked(f"{scheme}://{rest.lstrip('/')}"))
        raise InvalidDatabasePath(
            f"a {scheme}: URL needs // after the colon: write {shown} "
            f"(postgresql://user@host/dbname)",
            path=shown,
        )


def _check_port(target: str, shown: str) -> None:
    """Refuse a URL whose port is not a number from 1 to 65535 (libpq's message is vaguer)."""
    rest = target.split("://", 1)[1]
    netloc = rest.split("/", 1)[0]  # libpq ends the user part at "@" before any "/"
    hosts = netloc.rsplit("@", 1)[-1].split("?", 1)[0].split("#", 1)[0]
    for host in hosts.split(","):  # libpq takes host1:port1,host2:port2
        port = host.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in host else ""
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
            raise InvalidDatabasePath(
                f"{shown!r}: the port {port[:20]!r} is not a number from 1 to 65535",
                path=shown,
            )


def _check_options(store_class: type, options: dict[str, Any]) -> None:
    """Refuse options *store_class* does not take, naming the ones it does."""
    try:
        inspect.signature(store_class).bind("target", **options)
    except TypeError as exc:
        taken = [
            name
            for name, parameter in inspect.signature(store_class).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        raise ValidationError(
            "open_store",
            [
                FieldError(
                    "options",
                    "invalid",
                    f"{exc}; {store_class.__name__} takes {', '.join(taken) or 'no options'}",
                )
            ],
        ) from None
