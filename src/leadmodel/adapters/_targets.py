"""What a database target names (a path or a URL), and how to show it without its password."""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["POSTGRES_SCHEMES", "masked", "redacted", "url_scheme"]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
"""The URL schemes :func:`leadmodel.adapters.open_store` opens with PostgreSQL."""

# Two characters at least, so that a Windows drive (C:/…) is never taken for a scheme.
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]+)://")
# A PostgreSQL URL missing its "//" (postgresql:ann:pw@db/crm): refused, but masked too.
_HALF_URL = re.compile(r"(?i)postgres(?:ql)?:/?(?!/)")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&]*")  # libpq: "#" is no separator
_BARE = 4  # passwords this long or longer are masked wherever they appear in a message


def url_scheme(target: str) -> str | None:
    """The scheme of *target* when it is a URL (``"postgresql"``), else ``None``.

    >>> url_scheme("postgresql://ann@db/leads"), url_scheme("leads.db")
    ('postgresql', None)
    >>> url_scheme("file:leads.db?mode=ro") is None  # a SQLite URI is a path to SQLite
    True
    >>> url_scheme("file:///srv/leads.db") is None  # an absolute one too
    True
    """
    match = _URL.match(target)
    scheme = match.group(1).lower() if match else None
    return None if scheme == "file" else scheme


def _passwords(target: str) -> list[str]:
    """The passwords *target* holds (in its user part or as a ``password=`` parameter)."""
    found: list[str] = []
    match = _URL.match(target) or _HALF_URL.match(target)
    if match is None:
        return found
    rest = target[match.end() :]
    netloc = _netloc(rest)
    # libpq ends the user part at the first "@" (ann:pw@@db is password "pw"); masked()
    # hides up to the last one: both are passwords for a message.
    if "@" in netloc:
        found += [
            userinfo.split(":", 1)[1]
            for userinfo in (netloc.split("@", 1)[0], netloc.rsplit("@", 1)[0])
            if ":" in userinfo
        ]
    found += [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(rest)]
    found += [unquote(secret) for secret in found]
    return [secret for secret in dict.fromkeys(found) if secret]


def masked(target: str) -> str:
    """*target* with the password of a URL replaced by ``***`` (a path is left as it is).

    >>> masked("postgresql://ann:s3cret@db:5432/leads?sslmode=require&password=s3cret")
    'postgresql://ann:***@db:5432/leads?sslmode=require&password=***'
    >>> masked("leads.db"), masked("postgresql:ann:s3cret@db/crm")  # "//" forgotten
    ('leads.db', 'postgresql:ann:***@db/crm')
    """
    match = _URL.match(target) or _HALF_URL.match(target)
    if match is None:
        return target
    head, rest = target[: match.end()], target[match.end() :]
    netloc = _netloc(rest)
    tail = rest[len(netloc) :]
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    return head + _QUERY_PASSWORD.sub(r"\g<1>***", netloc + tail)


def _netloc(rest: str) -> str:
    """What follows ``scheme://`` up to the path: user, password, hosts, maybe a query.

    libpq looks for the ``@`` ending the user part up to the first ``/`` only, so a
    password may hold ``?`` and ``#`` (``postgresql://ann:pa?ss@db/crm`` is user ``ann``,
    password ``pa?ss``): the user part is never cut at them.
    """
    return rest.split("/", 1)[0]


def redacted(text: str, target: str) -> str:
    """*text* (an error message) with every password of *target* in it replaced by ``***``.

    >>> redacted(
    ...     "cannot connect to postgresql://ann:pw12@db/x (pw12)", "postgresql://ann:pw12@db/x"
    ... )
    'cannot connect to postgresql://ann:***@db/x (***)'
    """
    text = text.replace(target, masked(target))
    for secret in sorted(_passwords(target), key=len, reverse=True):
        if len(secret) >= _BARE:
            text = text.replace(secret, "***")
        else:  # a very short one would garble every word holding it: only where it stands
            text = text.replace(f":{secret}@", ":***@").replace(f"={secret}", "=***")
    return text
