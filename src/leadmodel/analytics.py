"""Funnel analytics over leads: plain, immutable tables a notebook shows well.

Every function takes leads (entities, from a repository or a list) and returns a
:class:`Table`: a title, column names and rows of plain values. ``table.to_records()`` gives
a list of dicts, ``table.to_pandas()`` a DataFrame when pandas is installed, and Jupyter
shows it as an HTML table (``_repr_html_``).

A lead counts as converted when it has a conversion record; time to convert runs from its
``created_at`` to its ``converted.converted_at``. Time in status reads a status history:
:class:`~leadmodel.StatusChanged` events, or the ``status_changed`` activities they become
with :meth:`~leadmodel.StatusChanged.as_activity`.
"""

from __future__ import annotations

import html
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, Final, Literal

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.events import StatusChanged
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.status import DEFAULT_LEAD_PROCESS, LeadProcess, LifecycleStage
from leadmodel.rules import criteria as _criteria
from leadmodel.rules._paths import ABSENT, getter
from leadmodel.rules.views import Segment

__all__ = [
    "TOUCH_KINDS",
    "Table",
    "cohorts",
    "funnel",
    "plot_cohorts",
    "plot_funnel",
    "rating_conversion",
    "speed_to_lead",
    "time_in_status",
    "time_to_convert",
    "velocity",
]

Period = Literal["day", "week", "month"]


_CELLS: Final = frozenset({str, int, float, bool, type(None)})


@attrs.frozen
class Table:
    """An analytics result: *title*, *columns* and *rows* of plain values."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        # Plain values only (what JSON gives back as it was), one per column.
        width = len(self.columns)
        errors = [
            FieldError(
                f"rows[{index}]",
                "type",
                f"must be {width} plain values (text, numbers, True/False or None)",
            )
            for index, row in enumerate(self.rows)
            if len(row) != width or not all(cell.__class__ in _CELLS for cell in row)
        ]
        if errors:
            raise ValidationError("Table", errors[:10])

    def to_records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (needs pandas: ``pip install pandas``).

        Raises:
            ImportError: pandas is not installed.
        """
        import pandas as pd

        return pd.DataFrame.from_records(list(self.rows), columns=list(self.columns))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_show(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _leads(leads: object, function: str) -> list[Lead]:
    if isinstance(leads, str | bytes) or not isinstance(leads, Iterable):
        raise ValidationError(
            function, [FieldError("leads", "type", "must be an iterable of leads")]
        )
    items = list(leads)
    for i, lead in enumerate(items):
        if not isinstance(lead, Lead):
            raise ValidationError(
                function,
                [FieldError(f"leads[{i}]", "type", f"must be a Lead, not {type(lead).__name__}")],
            )
    return items


def _group_value(read: Callable[[object], object], lead: Lead) -> str:
    value = read(lead)
    if value is ABSENT or value is None or value == "":
        return "(none)"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, frozenset | set | tuple | list):
        # A multi-select picklist (tags): its values as Salesforce writes them, "a;b",
        # sorted (a set's own order changes from run to run); none is "(none)".
        return ";".join(sorted(str(v) for v in value)) or "(none)"
    return str(value)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _funnel_positions(by: str, process: LeadProcess) -> dict[str, int]:
    """Where each known value of *by* stands in its journey (empty: no journey order)."""
    if by == "status":
        return {status.name: i for i, status in enumerate(process.ordered())}
    if by == "lifecycle_stage":
        return {stage.value: rank for stage in LifecycleStage if (rank := stage.rank) is not None}
    if by == "rating":
        return {choice: i for i, choice in enumerate(LEAD_SCHEMA.field("rating").choices)}
    return {}


def funnel(
    leads: Iterable[Lead],
    *,
    by: str | Sequence[Segment] = "status",
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
) -> Table:
    """Leads and conversions per value of *by*, in journey order.

    *by* is ``status``, ``lifecycle_stage``, ``source``, ``owner_id``, ``campaign_id`` or any
    field path; or a sequence of :class:`~leadmodel.Segment` values, giving a row per segment
    in their order (a lead counts in every segment it belongs to) and a ``(none)`` row for
    leads in none.

    Statuses come in the order of the lead *process* (its statuses' ``order``), lifecycle
    stages from subscriber to evangelist, ratings as their picklist (Hot, Warm, Cold); a
    value the order does not know (a status of another process, ``other``, ``(none)``)
    comes after them. Other fields list the largest group first (ties by name).

    >>> from leadmodel import Lead
    >>> table = funnel([Lead(id="L1", last_name="Ng", company="A", source="Web")], by="source")
    >>> table.to_records()
    [{'source': 'Web', 'leads': 1, 'converted': 0, 'conversion_rate': 0.0}]
    >>> leads = [Lead(id=f"L{i}", last_name="Ng", company="A") for i in range(3)]
    >>> leads.append(Lead(id="L9", last_name="Ng", company="A", status="Working - Contacted"))
    >>> [row[0] for row in funnel(leads).rows]
    ['Open - Not Contacted', 'Working - Contacted']

    Raises:
        ValidationError: *leads* are not leads, *by* is neither a field path nor
            segments with distinct names, or *process* is not a LeadProcess.
    """
    items = _leads(leads, "funnel")
    _checks.require_instance(
        process, LeadProcess, "a LeadProcess", function="funnel", path="process"
    )
    if not isinstance(by, str):
        return _segment_funnel(items, by)
    if not by:
        raise ValidationError("funnel", [FieldError("by", "type", "must be a field path")])
    read = getter(by)
    counts: Counter[str] = Counter()
    won: Counter[str] = Counter()
    for lead in items:
        group = _group_value(read, lead)
        counts[group] += 1
        won[group] += lead.converted is not None
    positions = _funnel_positions(by, process)
    unknown = len(positions)

    def place(item: tuple[str, int]) -> tuple[int, int, str]:
        return (positions.get(item[0], unknown), -item[1], item[0])

    rows = tuple(
        (group, n, won[group], _rate(won[group], n))
        for group, n in sorted(counts.items(), key=place)
    )
    return Table(f"Funnel by {by}", (by, "leads", "converted", "conversion_rate"), rows)


def _segment_funnel(items: list[Lead], segments: object) -> Table:
    if (
        isinstance(segments, bytes | Mapping)
        or not isinstance(segments, Iterable)
        or not (chosen := list(segments))
        or not all(isinstance(s, Segment) for s in chosen)
    ):
        raise ValidationError(
            "funnel", [FieldError("by", "type", "must be a field path or a list of segments")]
        )
    names = [s.name for s in chosen]
    if len(set(names)) != len(names) or "(none)" in names:
        raise ValidationError(
            "funnel", [FieldError("by", "duplicate", "segment names must be distinct")]
        )
    tests = [_criteria._inline(s.criterion, Lead) for s in chosen]  # noqa: SLF001 - ours
    counts = [0] * (len(chosen) + 1)
    won = [0] * (len(chosen) + 1)
    for lead in items:
        converted = lead.converted is not None
        hits = [i for i, test in enumerate(tests) if test(lead)] or [len(chosen)]
        for i in hits:
            counts[i] += 1
            won[i] += converted
    rows = tuple(
        (name, counts[i], won[i], _rate(won[i], counts[i]))
        for i, name in enumerate([*names, "(none)"])
        if i < len(chosen) or counts[i]
    )
    return Table("Funnel by segment", ("segment", "leads", "converted", "conversion_rate"), rows)


def _days_to_convert(lead: Lead) -> float | None:
    if lead.converted is None or lead.created_at is None:
        return None
    return (lead.converted.converted_at - lead.created_at).total_seconds() / 86400


def _spread(days: list[float]) -> tuple[float | None, ...]:
    """min, median, mean, 90th percentile (nearest rank) and max of *days*, sorted."""
    if not days:
        return (None, None, None, None, None)
    p90 = days[min(len(days) - 1, math.ceil(0.9 * len(days)) - 1)]
    return (days[0], statistics.median(days), statistics.fmean(days), p90, days[-1])


def time_to_convert(leads: Iterable[Lead]) -> Table:
    """How many days converted leads took: count, min, median, mean, 90th percentile, max.

    Raises:
        ValidationError: *leads* are not leads.
    """
    days = sorted(
        d for d in map(_days_to_convert, _leads(leads, "time_to_convert")) if d is not None
    )
    columns = ("converted", "min_days", "median_days", "mean_days", "p90_days", "max_days")
    return Table("Time to convert", columns, ((len(days), *_spread(days)),))


_Change = tuple[datetime, str, str]  # when, the status entered, the status left ("" unknown)


def _changes(history: object) -> dict[str, list[_Change]]:
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise ValidationError(
            "time_in_status",
            [FieldError("history", "type", "must be an iterable of StatusChanged or activities")],
        )
    found: dict[str, list[_Change]] = {}
    for i, item in enumerate(history):
        if isinstance(item, StatusChanged):
            lead_id, when = item.lead_id, item.occurred_at
            current: object = item.current
            previous: object = item.previous
        elif isinstance(item, Activity):
            if item.kind != "status_changed":
                continue
            lead_id, when = item.subject_id, item.occurred_at
            current, previous = item.properties.get("current"), item.properties.get("previous")
        else:
            raise ValidationError(
                "time_in_status",
                [
                    FieldError(
                        f"history[{i}]",
                        "type",
                        f"must be a StatusChanged or an Activity, not {type(item).__name__}",
                    )
                ],
            )
        if not isinstance(current, str) or not current or not isinstance(when, datetime):
            raise ValidationError(
                "time_in_status",
                [FieldError(f"history[{i}]", "invalid", "a status change needs its new status")],
            )
        left = previous if isinstance(previous, str) else ""
        found.setdefault(lead_id, []).append((when, current, left))
    return {lead_id: _in_order(changes) for lead_id, changes in found.items()}


def _in_order(changes: list[_Change]) -> list[_Change]:
    """The changes by time; changes at the same moment follow each other's statuses.

    Ties are chained (the change leaving the status the last one entered goes next; first,
    the one leaving a status none of them enters), then by status, so the same history in
    any order gives the same sequence.
    """
    if len(changes) < 2:  # one change needs no ordering
        return changes
    changes = sorted(changes)
    if len({change[0] for change in changes}) == len(changes):
        return changes  # no two at the same moment
    ordered: list[_Change] = []
    start = 0
    while start < len(changes):
        end = start
        while end < len(changes) and changes[end][0] == changes[start][0]:
            end += 1
        pool = changes[start:end]
        while pool:
            if ordered:
                status = ordered[-1][1]
            else:  # the chain's head: the change leaving a status no other one enters
                entered = {c[1] for c in pool}
                status = next((c[2] for c in pool if c[2] not in entered), pool[0][2])
            chosen = next((c for c in pool if c[2] == status), pool[0])
            ordered.append(chosen)
            pool.remove(chosen)
        start = end
    return ordered


def _stays(
    lead: Lead, changes: list[_Change], now: datetime, closed: frozenset[str]
) -> Iterator[tuple[str, float, bool]]:
    """(status, days, still there) for each stay of *lead* whose start is known."""
    start = lead.created_at
    status = changes[0][2] if changes else lead.status
    for when, current, _previous in changes:
        if start is not None and status and when >= start:
            yield status, (when - start).total_seconds() / 86400, False
        start, status = when, current
    if start is None or status in closed:
        return  # a closed status is where a lead ends, not a stay
    if lead.converted is not None:  # converted without its change in the history
        end, still = lead.converted.converted_at, False
    else:
        end, still = now, True
    if end >= start:
        yield status, (end - start).total_seconds() / 86400, still


def time_in_status(
    leads: Iterable[Lead],
    history: Iterable[StatusChanged | Activity] = (),
    *,
    now: datetime,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
) -> Table:
    """How long leads stay in each status: stays, those still there, and their spread in days.

    *history* holds the status changes (:class:`~leadmodel.StatusChanged` events or their
    ``status_changed`` activities, in any order; other activities are skipped). A lead's
    first stay runs from its ``created_at`` in the status its first change left (its current
    status when it never changed); each change ends one stay and starts the next. A lead's
    current stay runs to *now* and counts as ``open``, except in a closed status (converted
    or closed in *process*), where a lead ends rather than waits; a converted lead's last
    stay ends at its conversion. A stay whose start is
    unknown (no ``created_at``, or a change dated before it) is left out. Rows follow the
    process's order, then any other status by name.

    Raises:
        ValidationError: *leads* are not leads, *history* holds something else than status
            changes, or *now* is not an aware datetime.
    """
    items = _leads(leads, "time_in_status")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValidationError(
            "time_in_status", [FieldError("now", "type", "must be an aware datetime")]
        )
    if not isinstance(process, LeadProcess):
        raise ValidationError(
            "time_in_status", [FieldError("process", "type", "must be a LeadProcess")]
        )
    changes = _changes(history)
    closed = frozenset(s.name for s in process.statuses if s.is_closed or s.is_converted)
    days: dict[str, list[float]] = {}
    still: Counter[str] = Counter()
    for lead in items:
        for status, length, current in _stays(lead, changes.get(lead.id, []), now, closed):
            days.setdefault(status, []).append(length)
            still[status] += current
    order = {s.name: i for i, s in enumerate(process.ordered())}
    rows = tuple(
        (status, len(days[status]), still[status], *_spread(sorted(days[status])))
        for status in sorted(days, key=lambda s: (order.get(s, len(order)), s))
    )
    columns = (
        "status",
        "stays",
        "open",
        "min_days",
        "median_days",
        "mean_days",
        "p90_days",
        "max_days",
    )
    return Table("Time in status", columns, rows)


def _period_of(moment: datetime | date, period: Period) -> str:
    day = moment.date() if isinstance(moment, datetime) else moment
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def velocity(leads: Iterable[Lead], *, period: Period = "month") -> Table:
    """New leads per period (by ``created_at``) and the change on the period before.

    Raises:
        ValidationError: *leads* are not leads, or *period* is not day, week or month.
    """
    if not _checks.one_of(period, ("day", "week", "month")):
        raise ValidationError("velocity", [FieldError("period", "invalid", "day, week or month")])
    counts = Counter(
        _period_of(lead.created_at, period)
        for lead in _leads(leads, "velocity")
        if lead.created_at is not None
    )
    rows = []
    previous: int | None = None
    for key in sorted(counts):
        n = counts[key]
        change = None if not previous else (n - previous) / previous
        rows.append((key, n, change))
        previous = n
    return Table(f"Lead velocity per {period}", (period, "created", "change"), tuple(rows))


def cohorts(leads: Iterable[Lead]) -> Table:
    """Conversion by creation month: each month's leads, how many converted, the rate.

    Raises:
        ValidationError: *leads* are not leads.
    """
    counts: Counter[str] = Counter()
    won: Counter[str] = Counter()
    for lead in _leads(leads, "cohorts"):
        if lead.created_at is None:
            continue
        month = _period_of(lead.created_at, "month")
        counts[month] += 1
        won[month] += lead.converted is not None
    rows = tuple((m, counts[m], won[m], _rate(won[m], counts[m])) for m in sorted(counts))
    return Table(
        "Conversion by creation month", ("cohort", "leads", "converted", "conversion_rate"), rows
    )


def rating_conversion(leads: Iterable[Lead], *, field: str = "rating") -> Table:
    """Conversion per score band (the lead's ``rating``, or another field holding it).

    Raises:
        ValidationError: *leads* are not leads.
    """
    table = funnel(_leads(leads, "rating_conversion"), by=field)
    return attrs.evolve(table, title=f"Conversion by {field}")


# -- plots (the ``plot`` extra: matplotlib) ---------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'leadmodel[plot]'") from error
    return plt


def _table_or(
    data: Table | Iterable[Lead], function: str, make: Callable[[], Table], wanted: tuple[str, ...]
) -> Table:
    table = data if isinstance(data, Table) else make()
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise ValidationError(
            function,
            [FieldError("data", "invalid", f"the table has no {', '.join(missing)} column")],
        )
    return table


def plot_funnel(
    data: Table | Iterable[Lead], *, by: str = "status", ax: Any = None, title: str | None = None
) -> Any:
    """Draw a funnel table (or the funnel of *data*'s leads by *by*) as horizontal bars.

    Each group's bar is its leads, the darker part its conversions, labelled with the
    conversion rate; groups run top to bottom in the table's order. Draws on *ax* (a
    matplotlib Axes) or a new figure, and returns the Axes. Needs the ``plot`` extra
    (``pip install 'leadmodel[plot]'``).

    Raises:
        ValidationError: *data* is neither leads nor a table with ``leads`` and
            ``converted`` columns.
        ImportError: matplotlib is not installed.
    """
    table = _table_or(
        data,
        "plot_funnel",
        lambda: funnel(data, by=by),  # type: ignore[arg-type]
        ("leads", "converted"),
    )
    plt = _pyplot()
    if ax is None:
        _figure, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(table.rows))))
    records = table.to_records()
    labels = [str(r[table.columns[0]]) for r in records]
    positions = list(range(len(records)))[::-1]
    ax.barh(positions, [r["leads"] for r in records], color="#c6dbef", label="leads")
    ax.barh(positions, [r["converted"] for r in records], color="#2171b5", label="converted")
    for y, r in zip(positions, records, strict=True):
        rate = _rate(r["converted"], r["leads"])
        ax.text(r["leads"], y, f" {rate:.0%}", va="center", fontsize=9)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("leads")
    ax.set_title(title or table.title)
    ax.legend(loc="lower right")
    return ax


def plot_cohorts(data: Table | Iterable[Lead], *, ax: Any = None, title: str | None = None) -> Any:
    """Draw cohort conversion: leads per creation month as bars, the rate as a line.

    *data* is a :func:`cohorts` table or leads to compute it from. Draws on *ax* or a new
    figure and returns the Axes (the rate is on a twin axis). Needs the ``plot`` extra.

    Raises:
        ValidationError: *data* is neither leads nor a cohort table.
        ImportError: matplotlib is not installed.
    """
    table = _table_or(
        data,
        "plot_cohorts",
        lambda: cohorts(data),  # type: ignore[arg-type]
        ("cohort", "leads", "conversion_rate"),
    )
    plt = _pyplot()
    if ax is None:
        _figure, ax = plt.subplots(figsize=(7, 3.5))
    records = table.to_records()
    months = [str(r["cohort"]) for r in records]
    ax.bar(months, [r["leads"] for r in records], color="#c6dbef", label="leads")
    ax.set_ylabel("leads")
    rate_axis = ax.twinx()
    rate_axis.plot(months, [r["conversion_rate"] for r in records], color="#2171b5", marker="o")
    rate_axis.set_ylabel("conversion rate")
    rate_axis.set_ylim(0, 1)
    ax.set_title(title or table.title)
    ax.tick_params(axis="x", labelrotation=45)
    return ax


# -- speed to lead -------------------------------------------------------------------------

TOUCH_KINDS: Final = frozenset({"call", "email", "meeting"})
"""The activity kinds that count as touching a lead in :func:`speed_to_lead` by default."""


def _check_speed(  # noqa: PLR0917 - speed_to_lead's arguments, checked together
    activities: object, sla: object, by: object, touches: object, now: object, function: str
) -> tuple[list[Activity], frozenset[str]]:
    errors: list[FieldError] = []
    found: list[Activity] = []
    if isinstance(activities, str | bytes | Mapping) or not isinstance(activities, Iterable):
        errors.append(FieldError("activities", "type", "must be an iterable of activities"))
    else:
        found = list(activities)
        bad = next((i for i, a in enumerate(found) if not isinstance(a, Activity)), None)
        if bad is not None:
            errors.append(FieldError(f"activities[{bad}]", "type", "must be an Activity"))
    if not isinstance(sla, timedelta) or sla <= timedelta(0):
        errors.append(FieldError("sla", "type", "must be a positive timedelta"))
    if not isinstance(by, str) or not by or len(by) > 120:
        errors.append(FieldError("by", "type", "must be a field path"))
    kinds: frozenset[str] = frozenset()
    if isinstance(touches, str | bytes | Mapping) or not isinstance(touches, Iterable):
        errors.append(FieldError("touches", "type", "must be a set of activity kinds"))
    else:
        kinds = frozenset(touches)
        if not kinds or not all(isinstance(k, str) for k in kinds):
            errors.append(FieldError("touches", "type", "must be a non-empty set of kinds"))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        errors.append(FieldError("now", "type", "must be an aware datetime"))
    if errors:
        raise ValidationError(function, errors)
    return found, kinds


def speed_to_lead(
    leads: Iterable[Lead],
    activities: Iterable[Activity],
    *,
    sla: timedelta,
    now: datetime,
    by: str = "owner_id",
    touches: Iterable[str] = TOUCH_KINDS,
) -> Table:
    """Time to first touch per value of *by*, and how often the *sla* was missed.

    A lead's first touch is its earliest activity of a *touches* kind at or after its
    ``created_at`` and not after *now* (a later one has not happened yet; for a converted
    lead, also its contact's activities up to the conversion, where conversion moved the
    lead's own); its wait runs from ``created_at`` to that touch. It *breached* the SLA
    when the touch came later than *sla* after creation, or when it was never touched and
    *sla* has passed by *now*; an untouched lead still inside its SLA is ``pending`` and not
    in the breach rate (``breached / (leads - pending)``). Leads without ``created_at`` are
    left out. *by* is a field path: ``owner_id`` (users and queues), ``source``,
    ``team_id`` …; rows go by most leads first. Minutes are the spread of the waits of
    touched leads.

    >>> from datetime import UTC, datetime, timedelta
    >>> from leadmodel import Activity, Lead
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> leads = [
    ...     Lead(id="L1", last_name="Ng", company="A", owner_id="ann", created_at=t0),
    ...     Lead(id="L2", last_name="Ito", company="B", owner_id="ann", created_at=t0),
    ... ]
    >>> calls = [
    ...     Activity(id="A1", subject_id="L1", kind="call", occurred_at=t0 + timedelta(minutes=5))
    ... ]
    >>> table = speed_to_lead(leads, calls, sla=timedelta(hours=1), now=t0 + timedelta(hours=2))
    >>> row = table.to_records()[0]
    >>> row["owner_id"], row["touched"], row["median_minutes"], row["breach_rate"]
    ('ann', 1, 5.0, 0.5)

    Raises:
        ValidationError: *leads* or *activities* of the wrong type, a non-positive *sla*,
            an empty *by* or *touches*, or a naive *now*.
    """
    items = _leads(leads, "speed_to_lead")
    found, kinds = _check_speed(activities, sla, by, touches, now, "speed_to_lead")
    first: dict[str, datetime] = {}
    # Whose touch an activity can be: its subject's, and, for a converted lead, its
    # contact's up to the conversion (conversion moves the lead's activities there).
    windows: dict[str, list[tuple[str, datetime, datetime | None]]] = {}
    for lead in items:
        if lead.created_at is None:
            continue
        windows.setdefault(lead.id, []).append((lead.id, lead.created_at, None))
        record = lead.converted
        if record is not None and record.contact_id is not None:
            windows.setdefault(record.contact_id, []).append(
                (lead.id, lead.created_at, record.converted_at)
            )
    for activity in found:
        if activity.kind not in kinds or activity.occurred_at > now:
            continue  # a touch after *now* has not happened yet
        at = activity.occurred_at
        for lead_id, start, end in windows.get(activity.subject_id, ()):
            if at < start or (end is not None and at > end):
                continue
            seen = first.get(lead_id)
            if seen is None or at < seen:
                first[lead_id] = at
    read = getter(by)
    waits: dict[str, list[float]] = {}
    counts: Counter[str] = Counter()
    breached: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    for lead in items:
        if lead.created_at is None:
            continue
        group = _group_value(read, lead)
        counts[group] += 1
        waits.setdefault(group, [])
        touch = first.get(lead.id)
        if touch is None:
            if now - lead.created_at > sla:
                breached[group] += 1
            else:
                pending[group] += 1
            continue
        wait = touch - lead.created_at
        waits[group].append(wait.total_seconds() / 60)
        breached[group] += wait > sla
    rows = tuple(
        (
            group,
            n,
            len(waits[group]),
            pending[group],
            breached[group],
            _rate(breached[group], n - pending[group]),
            *_spread(sorted(waits[group])),
        )
        for group, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )
    columns = (
        by,
        "leads",
        "touched",
        "pending",
        "breached",
        "breach_rate",
        "min_minutes",
        "median_minutes",
        "mean_minutes",
        "p90_minutes",
        "max_minutes",
    )
    return Table(f"Speed to lead by {by} (SLA {sla})", columns, rows)
