"""List views and segments: which records, in which order, with which columns — as data.

A :class:`ListView` is Salesforce's list view: a criterion (any :mod:`criteria
<leadmodel.rules.criteria>` value), a sort (fields, each ascending or descending), the
columns to show and a row limit. :func:`apply_view` runs it over records (entities or
mappings) and returns the matching records in order. Views round-trip through JSON, so a
host can store a user's views and named segments ("Hot leads in Germany") beside its data.

Sorting puts blanks last whatever the direction, and never compares values of different
kinds (text sorts before numbers, numbers before dates), so a column with mixed values sorts
instead of failing. A repository with a ``select(view)`` method
(:class:`~leadmodel.ports.SupportsViews`, such as the SQLite adapter's) runs the view
itself, translating what it can to a query; otherwise :func:`apply_view` streams the
records once.

A :class:`Segment` is a named group of records, HubSpot's active list: a criterion with a
name and a description, that views start from (:meth:`Segment.view`) and
:func:`~leadmodel.funnel` can group by.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._common import criterion_problem, raise_problems, to_tuple
from leadmodel.rules._paths import ABSENT, getter
from leadmodel.rules.criteria import Criterion

__all__ = ["ListView", "Segment", "apply_view"]

Direction = Literal["asc", "desc"]


def _sort_pairs(values: object) -> object:
    values = to_tuple(values)
    if isinstance(values, tuple):
        return tuple(tuple(v) if isinstance(v, list) else v for v in values)
    return values


def _sort_problem(sort: object) -> _checks.Problem | None:
    if not isinstance(sort, tuple):
        return "type", "must be a sequence of (field, 'asc' or 'desc') pairs"
    for item in sort:
        if (
            not isinstance(item, tuple)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not _checks.one_of(item[1], ("asc", "desc"))
        ):
            return "type", f"{describe_value(item)} is not a (field, 'asc' or 'desc') pair"
    return None


@functools.cache
def _known_paths() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The fields of leads, contacts, accounts and opportunities, and of their values."""
    from leadmodel.domain.account import Account
    from leadmodel.domain.contact import Contact
    from leadmodel.domain.lead import ConversionRecord, Lead
    from leadmodel.domain.opportunity import Opportunity
    from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber

    top = frozenset(
        f.name for cls in (Lead, Contact, Account, Opportunity) for f in attrs.fields(cls)
    )
    values = {
        Address: ("address", "mailing_address", "billing_address"),
        EmailAddress: ("email",),
        PhoneNumber: ("phone", "mobile"),
        Money: ("annual_revenue", "amount"),
        ConversionRecord: ("converted",),
    }
    nested = {
        name: frozenset(f.name for f in attrs.fields(cls))
        for cls, names in values.items()
        for name in names
    }
    return top, nested


def _column_known(column: str) -> bool:
    top, nested = _known_paths()
    head, _, rest = column.partition(".")
    if head == "custom":
        return bool(rest)
    if head not in top:
        return False
    return not rest or rest in nested.get(head, ())


def _columns_problem(columns: object) -> _checks.Problem | None:
    if not isinstance(columns, tuple) or not all(isinstance(c, str) and c for c in columns):
        return "type", "must be a sequence of field paths"
    unknown = [c for c in columns if not _column_known(c)]
    if unknown:
        return (
            "unknown_field",
            (
                f"{describe_value(unknown[0])} is not a field of leads, contacts, accounts or "
                "opportunities (a field such as last_name, a part such as address.city or "
                "email.domain, or custom.<name>)"
            ),
        )
    return None


@attrs.frozen(cache_hash=True)
class ListView:
    """A saved list: records meeting *criterion* (all, when ``None``), sorted, limited.

    >>> from leadmodel import Condition, Lead
    >>> view = ListView(
    ...     "Web leads by size",
    ...     Condition("source", "eq", "Web"),
    ...     sort=[("employees", "desc"), ("last_name", "asc")],
    ...     columns=["last_name", "company", "employees"],
    ...     limit=2,
    ... )
    >>> leads = [
    ...     Lead(id="L1", last_name="Ng", company="A", source="Web", employees=10),
    ...     Lead(id="L2", last_name="Ito", company="B", source="Web", employees=500),
    ...     Lead(id="L3", last_name="Ro", company="C", source="Fair", employees=900),
    ...     Lead(id="L4", last_name="Abe", company="D", source="Web"),
    ... ]
    >>> [lead.id for lead in apply_view(view, leads)]
    ['L2', 'L1']
    """

    name: str
    criterion: Criterion | None = None
    sort: tuple[tuple[str, Direction], ...] = attrs.field(default=(), converter=_sort_pairs)
    columns: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    limit: int | None = None

    def __attrs_post_init__(self) -> None:
        raise_problems(
            "ListView",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("criterion", criterion_problem(self.criterion, optional=True)),
                ("sort", _sort_problem(self.sort)),
                ("columns", _columns_problem(self.columns)),
                (
                    "limit",
                    None if self.limit is None else _checks.integer(1, 10**9)(self.limit),
                ),
            ],
        )

    def rows(self, records: Iterable[object]) -> list[dict[str, Any]]:
        """The view's records as rows of its columns (every field when it names none)."""
        readers = [(column, getter(column)) for column in self.columns]
        out = []
        for record in apply_view(self, records):
            if readers:
                out.append({c: _plain(read(record)) for c, read in readers})
            else:
                out.append(dict(record) if isinstance(record, Mapping) else attrs.asdict(record))  # type: ignore[arg-type]
        return out


@attrs.frozen(cache_hash=True)
class Segment:
    """A named group of records: *criterion* with a *name*, kept as data and reused.

    >>> from leadmodel import Condition, Lead
    >>> german = Segment("Germany", Condition("address.country", "eq", "DE"), "Leads in DE")
    >>> german.matches(Lead(id="L1", last_name="Ng", company="A"))
    False
    >>> german.view(sort=[("last_name", "asc")], limit=50).name
    'Germany'
    """

    name: str
    criterion: Criterion
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        raise_problems(
            "Segment",
            [
                ("name", _checks.text_problem(self.name, 80)),
                ("criterion", criterion_problem(self.criterion, optional=False)),
                (
                    "description",
                    None
                    if self.description is None
                    else _checks.text_problem(self.description, 2000, multiline=True),
                ),
            ],
        )

    def matches(self, record: object) -> bool:
        """Whether *record* (an entity or a mapping) belongs to the segment."""
        return _criteria.compile(self.criterion)(record)

    def view(
        self,
        *,
        sort: Iterable[tuple[str, Direction]] = (),
        columns: Iterable[str] = (),
        limit: int | None = None,
    ) -> ListView:
        """A list view of the segment's records, named after it."""
        return ListView(self.name, self.criterion, sort=sort, columns=columns, limit=limit)


def _plain(value: object) -> object:
    # The scalar criteria compare (a missing field reads as blank).
    return None if value is ABSENT else _criteria._plain(value)  # noqa: SLF001 - the package's own helper


def _rank(value: object) -> tuple[int, Any]:
    """A sort key comparable across kinds: (kind, value), blanks handled by the caller."""
    value = _plain(value)
    if isinstance(value, bool):
        return 0, value
    if isinstance(value, str):
        return 1, value.casefold()
    if isinstance(value, int | float | Decimal):
        return 2, value
    if isinstance(value, datetime):
        return 3, value.timestamp()
    if isinstance(value, date):
        return 4, value.toordinal()
    return 5, str(value)


def apply_view(view: ListView, records: Iterable[object]) -> list[object]:
    """The records of *records* that *view* shows, in its order, at most its limit.

    When *records* is a repository that runs views itself (a ``select`` method,
    :class:`~leadmodel.ports.SupportsViews`), the view is handed to it; the answer is the
    same.

    Raises:
        ValidationError: *view* is not a ListView or *records* not an iterable.
    """
    _checks.require_instance(view, ListView, "a ListView", function="apply_view", path="view")
    select = getattr(records, "select", None)
    if callable(select) and not isinstance(records, Mapping):
        return list(select(view))
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Iterable):
        raise ValidationError(
            "apply_view", [FieldError("records", "type", "must be an iterable of records")]
        )
    test = _criteria.compile(view.criterion) if view.criterion is not None else None
    chosen = [record for record in records if test is None or test(record)]
    # Stable sorts from the last key to the first give the multi-key order; blanks last.
    for field, direction in reversed(view.sort):
        read = getter(field)
        keyed = [(read(record), record) for record in chosen]
        filled = [(v, r) for v, r in keyed if v not in (None, ABSENT, "")]
        blank = [r for v, r in keyed if v in (None, ABSENT, "")]
        filled.sort(key=lambda pair: _rank(pair[0]), reverse=direction == "desc")
        chosen = [r for _, r in filled] + blank
    return chosen[: view.limit] if view.limit is not None else chosen
