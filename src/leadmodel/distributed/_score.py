"""Scoring on Dask: a model's score per partition of a Dask DataFrame or bag of leads.

Dask is imported only when a function runs, so the module imports without the ``dask``
extra; the functions then raise a :class:`~leadmodel.ValidationError` saying what to install.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadmodel.distributed._common import require_dask
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.lead import Lead
from leadmodel.intake import ColumnMapping, _Reader
from leadmodel.rules.predictive import LogisticModel, NaiveBayesFrequencies
from leadmodel.rules.scoring import ScoringModel
from leadmodel.rules.scoring import compile as compile_model

__all__ = ["score_dask", "score_rows"]

#: The columns of :func:`score_dask`'s result, in order.
SCORE_COLUMNS = ("id", "score", "problem")

# Never used to score: _check requires now for a ScoringModel and for mapped rows.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_Model = ScoringModel | NaiveBayesFrequencies | LogisticModel
_Activities = Mapping[str, Sequence[Activity]]


def _dask() -> Any:
    return require_dask("score_dask")


def _problem_text(errors: Iterable[FieldError]) -> str:
    text = "; ".join(f"{e.path}: {e.message}" for e in errors)
    # A message may quote a cell with a lone surrogate: escaped, as a frame must hold it.
    return text if _is_text(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _missing(value: object) -> bool:
    """Whether *value* is a missing cell: None, NaN, or pandas' and NumPy's NA and NaT."""
    if value is None:
        return True
    if isinstance(value, float):  # NumPy's float64 too
        return math.isnan(value)
    if not type(value).__module__.startswith(("pandas", "numpy")):
        return False
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - a NumPy value without pandas
        return False
    try:
        found = pd.isna(value)
    except (TypeError, ValueError):  # pragma: no cover - not a scalar pandas can test
        return False
    return getattr(found, "ndim", 0) == 0 and bool(found)


def _is_pandas_frame(rows: object) -> bool:
    return type(rows).__module__.startswith("pandas") and type(rows).__name__ == "DataFrame"


def _cell(value: object) -> str:
    """A CSV-like cell: missing values (None, NaN, pandas' NA and NaT) read as blank."""
    if _missing(value):
        return ""
    return value if isinstance(value, str) else str(value)


def _is_text(value: str) -> bool:
    """Whether *value* is valid Unicode text (no lone surrogates), as Arrow and UTF-8 need."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field(value: object) -> object:
    """A lead field from a frame cell: missing values (NaN, pandas' NA, NaT) become ``None``."""
    return None if _missing(value) else value


def _check(
    model: object, now: object, activities: object, mapping: object, id_column: object
) -> None:
    problems: list[FieldError] = []
    if not isinstance(model, (ScoringModel, NaiveBayesFrequencies, LogisticModel)):
        problems.append(FieldError("model", "type", "must be a ScoringModel or a predictive model"))
    needs_now = isinstance(model, ScoringModel) or mapping is not None
    if now is None and needs_now:
        problems.append(FieldError("now", "required", "is required to score and to map rows"))
    elif now is not None and (not isinstance(now, datetime) or now.utcoffset() is None):
        problems.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    if activities is not None and not isinstance(activities, Mapping):
        problems.append(
            FieldError("activities", "type", "must map lead ids to sequences of activities")
        )
    elif activities is not None:
        for key, value in activities.items():
            if (
                not isinstance(key, str)
                or isinstance(value, (str, bytes))
                or not all(
                    isinstance(a, Activity)
                    for a in (value if isinstance(value, Sequence) else [None])
                )
            ):
                problems.append(
                    FieldError("activities", "type", "must map lead ids to sequences of activities")
                )
                break
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        problems.append(FieldError("mapping", "type", "must be a ColumnMapping"))
    if not isinstance(id_column, str) or not id_column:
        problems.append(FieldError("id_column", "type", "must be a column name"))
    if problems:
        raise ValidationError("score_dask", problems)


def score_rows(
    rows: Iterable[object],
    model: _Model,
    *,
    now: datetime | None = None,
    activities: _Activities | None = None,
    mapping: ColumnMapping | None = None,
    id_column: str = "id",
) -> list[tuple[str | None, float | None, str | None]]:
    """``(id, score, problem)`` for each of *rows*, in order: the single-process reference.

    A row is a :class:`~leadmodel.Lead`, or a mapping: of lead fields, or — with *mapping*
    — of CSV-style columns read with the :class:`~leadmodel.ColumnMapping` (the lead id
    taken from *id_column*); a pandas DataFrame is taken as its rows. Missing cells (None,
    NaN, pandas' ``NA`` and ``NaT``) are blank. The score is a
    :class:`~leadmodel.ScoringModel`'s total as of *now*, or a predictive model's
    probability (0–1). A row that cannot be read or scored
    gets ``score=None`` and says why in *problem*; nothing is dropped. A row whose id is
    not valid text (a lone surrogate, which no Arrow frame or UTF-8 file can hold) gets
    ``id=None`` too, its problem showing the id escaped.
    :func:`score_dask` runs this on every partition.

    >>> from datetime import UTC, datetime, timezone
    >>> from leadmodel import Condition, FitRule, Lead, ScoringModel
    >>> model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 10)])
    >>> now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> score_rows([Lead(id="L1", last_name="Ng", company="Acme", source="Web")], model, now=now)
    [('L1', 10.0, None)]

    Raises:
        ValidationError: *rows* is not an iterable of rows, or a wrong *model*, *now*,
            *activities*, *mapping* or *id_column*.
    """
    _check(model, now, activities, mapping, id_column)
    if _is_pandas_frame(rows):  # iterated, a frame gives its column labels, not its rows
        rows = rows.to_dict("records")  # type: ignore[attr-defined]
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise ValidationError(
            "score_rows", [FieldError("rows", "type", "must be an iterable of leads or rows")]
        )
    compiled = compile_model(model) if isinstance(model, ScoringModel) else None
    reader = _Reader(mapping) if mapping is not None else None
    found: _Activities = activities or {}
    out: list[tuple[str | None, float | None, str | None]] = []
    when: datetime = now if now is not None else _EPOCH
    for row in rows:
        lead: object
        lead_id: str | None
        if isinstance(row, Lead):
            lead, lead_id = row, row.id
        elif isinstance(row, Mapping):
            raw_id = row.get(id_column)
            lead_id = None if _field(raw_id) is None else _cell(raw_id)
            if lead_id is not None and not _is_text(lead_id):
                # Not Unicode (a lone surrogate): no frame or file could carry it.
                out.append((None, None, f"{id_column}: {lead_id!r} is not valid text"))
                continue
            if reader is not None:
                cells = {str(k): _cell(v) for k, v in row.items() if k != id_column}
                read = reader.lead(cells, _FixedId(lead_id or "unnamed"), when)
                made, errors = read[0], read[1]
                if made is None or errors:
                    out.append((lead_id, None, _problem_text(errors) or "row not read"))
                    continue
                lead = made
            else:
                lead = {str(k): _field(v) for k, v in row.items()}
        else:
            out.append((None, None, "row: must be a Lead or a mapping"))
            continue
        acts = found.get(lead_id, ()) if lead_id is not None else ()
        try:
            if compiled is not None:
                value = compiled.score(lead, activities=acts, now=when).total
            else:
                value = model.predict(lead, activities=acts).probability  # type: ignore[union-attr]
        except ValidationError as error:
            out.append((lead_id, None, _problem_text(error.errors) or "row: cannot be scored"))
            continue
        except (TypeError, AttributeError, KeyError, ValueError) as error:
            # A field of the wrong type in a frame row: the row's problem, not the run's.
            out.append((lead_id, None, f"row: cannot be scored ({type(error).__name__})"))
            continue
        out.append((lead_id, float(value), None))
    return out


class _FixedId:
    """The id of the row being read, whatever the kind asked for."""

    def __init__(self, lead_id: str) -> None:
        self.lead_id = lead_id

    def __call__(self, _kind: str) -> str:
        return self.lead_id


def _meta() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "id": pd.Series(dtype=object),
            "score": pd.Series(dtype="float64"),
            "problem": pd.Series(dtype=object),
        }
    )


def _frame_of(scored: list[tuple[str | None, float | None, str | None]]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "id": pd.Series([r[0] for r in scored], dtype=object),
            "score": pd.Series(
                [math.nan if r[1] is None else r[1] for r in scored], dtype="float64"
            ),
            "problem": pd.Series([r[2] for r in scored], dtype=object),
        }
    )


def _score_partition(part: Any, options: dict[str, Any]) -> Any:
    if hasattr(part, "to_dict"):  # a pandas partition
        rows: Iterable[object] = part.to_dict("records")
    else:
        rows = part
    return _frame_of(score_rows(rows, **options))


def score_dask(
    frame: object,
    model: _Model,
    *,
    now: datetime | None = None,
    activities: _Activities | None = None,
    mapping: ColumnMapping | None = None,
    id_column: str = "id",
) -> Any:
    """Score every row of a Dask DataFrame or bag, one task per partition; lazy.

    *frame* is a ``dask.dataframe.DataFrame`` (rows of lead fields, or CSV export columns
    read with *mapping*; the id in *id_column*) or a ``dask.bag.Bag`` of
    :class:`~leadmodel.Lead` s or such mappings. *model* is a
    :class:`~leadmodel.ScoringModel` (its total as of *now*, which it requires) or a
    predictive model (``predict``'s probability). *activities* map a lead id to its
    activities; it travels with every task, so keep it to what the leads need.

    Returns a lazy Dask DataFrame with columns ``id``, ``score`` (float, NaN when the row
    could not be scored) and ``problem`` (why, or ``None``), one row per input row in
    partition order. Each value equals :func:`score_rows` (single-process) on the same
    row, whatever the partitioning. Call ``.compute()`` on it (with a
    ``dask.distributed.Client`` open to run on a cluster).

    >>> import dask.bag as db
    >>> from datetime import UTC, datetime, timezone
    >>> from leadmodel import Condition, FitRule, Lead, ScoringModel
    >>> model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 10)])
    >>> leads = [
    ...     Lead(id=f"L{i}", last_name="Ng", company="Acme", source=s)
    ...     for i, s in enumerate(["Web", "Fair", "Web"])
    ... ]
    >>> now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> result = score_dask(db.from_sequence(leads, npartitions=2), model, now=now)
    >>> result.compute(scheduler="sync")["score"].tolist()
    [10.0, 0.0, 10.0]

    Raises:
        ValidationError: *frame* is neither a Dask DataFrame nor a bag, *id_column* is not
            one of its columns, or a wrong *model*, *now*, *activities* or *mapping*.
    """
    dask = _dask()
    _check(model, now, activities, mapping, id_column)
    options = {
        "model": model,
        "now": now,
        "activities": activities,
        "mapping": mapping,
        "id_column": id_column,
    }
    meta = _meta()
    if isinstance(frame, dask.dataframe.DataFrame):
        if id_column not in frame.columns:
            raise ValidationError(
                "score_dask",
                [FieldError("id_column", "missing", f"{id_column!r} is not a column of frame")],
            )
        return frame.map_partitions(
            _score_partition, options, meta=meta, enforce_metadata=False, align_dataframes=False
        ).clear_divisions()
    if isinstance(frame, dask.bag.Bag):
        # Each partition straight to a pandas frame: no round trip through records.
        from dask.delayed import delayed

        scored = delayed(_score_partition, pure=True)
        return dask.dataframe.from_delayed(
            [scored(part, options) for part in frame.to_delayed()], meta=meta, verify_meta=False
        )
    raise ValidationError(
        "score_dask",
        [FieldError("frame", "type", "must be a Dask DataFrame or a Dask bag")],
    )
