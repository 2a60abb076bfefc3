"""How results show in Jupyter: one escaped HTML table per result, nested for its parts.

``_repr_html_ = result_html`` on an attrs class makes a notebook show its non-blank fields
as rows; a sequence of attrs values (contributions, outcomes, matches) becomes a nested
table with one row each, at most :data:`MAX_ROWS` of them. Every text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

import attrs

MAX_ROWS: Final = 50


def _blank(value: object) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, str | tuple | list | frozenset | Mapping) and not value
    except TypeError:
        return False


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return ", ".join(sorted(map(str, value)))
    return str(value)


def _label(value: object) -> str:
    """A short name for an entity inside another result (``Lead L1``)."""
    record_id = getattr(value, "id", None)
    name = type(value).__name__
    return f"{name} {record_id}" if isinstance(record_id, str) else name


def _cell(value: object, depth: int) -> str:
    if attrs.has(type(value)):
        if hasattr(value, "id") or depth > 1:
            return html.escape(_label(value))
        return _table(value, depth + 1)
    if isinstance(value, Mapping):
        return html.escape(", ".join(f"{k}={_scalar(v)}" for k, v in value.items()))
    if isinstance(value, tuple | list):
        items = list(value)
        if items and all(attrs.has(type(item)) for item in items) and depth <= 1:
            return _rows(items, depth + 1)
        shown = [f"<li>{html.escape(_scalar(item))}</li>" for item in items[:MAX_ROWS]]
        more = len(items) - MAX_ROWS
        if more > 0:
            shown.append(f"<li>… {more} more</li>")
        return f"<ul>{''.join(shown)}</ul>"
    return html.escape(_scalar(value))


def _rows(items: list[Any], depth: int) -> str:
    """A sequence of attrs values as one table: a column per field any of them fills."""
    names: list[str] = []
    for item in items[:MAX_ROWS]:
        for field in attrs.fields(type(item)):
            if field.name not in names and not _blank(getattr(item, field.name)):
                names.append(field.name)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in names)
    body = []
    for item in items[:MAX_ROWS]:
        cells = []
        for name in names:
            value = getattr(item, name, None)
            cells.append("<td></td>" if _blank(value) else f"<td>{_cell(value, depth)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = len(items) - MAX_ROWS
    tail = f"<tr><td colspan='{len(names)}'>… {more} more</td></tr>" if more > 0 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}{tail}</tbody></table>"


def _table(result: Any, depth: int) -> str:
    rows = []
    for field in attrs.fields(type(result)):
        value = getattr(result, field.name)
        if _blank(value):
            continue
        rows.append(f"<tr><th>{html.escape(field.name)}</th><td>{_cell(value, depth)}</td></tr>")
    caption = html.escape(type(result).__name__)
    return f"<table><caption>{caption}</caption>{''.join(rows)}</table>"


def result_html(self: object) -> str:
    """A result as an HTML table of its non-blank fields (how Jupyter shows it)."""
    return _table(self, 0)
