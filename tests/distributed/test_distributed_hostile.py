"""What the fuzz harness found in leadmodel.distributed (issue 19), kept as regressions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadmodel import Condition, FieldError, FitRule, ScoringModel, ValidationError
from leadmodel.distributed import FileImport, score_dask, score_rows

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 10)])


@pytest.mark.parametrize(
    "fields",
    [
        {"path": {"a": 1}, "report": None},
        {"path": "a.csv", "report": "done"},
        {"path": "a.csv", "report": None, "outcomes": [None]},
        {"path": "a.csv", "report": None, "problems": ["no such file"]},
    ],
)
def test_a_file_import_checks_its_fields(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FileImport(**fields)  # type: ignore[arg-type]


def test_a_file_import_is_hashable_and_shows_itself() -> None:
    done = FileImport("a.csv", None, problems=(FieldError("path", "missing", "no such file"),))
    assert hash(done) == hash(FileImport("a.csv", None, problems=done.problems))
    assert "a.csv" in done._repr_html_()


ROWS = [
    {"id": "\ud800", "last_name": "Ng", "company": "Acme", "source": "Web"},
    {"id": "r2", "last_name": "Ng", "company": "Acme", "email": "ab\udfffcd"},
    {"id": "r3", "last_name": "Ng", "company": "Acme", "source": "Web"},
]


def test_an_id_that_is_not_text_is_the_rows_problem() -> None:
    scored = score_rows(ROWS, MODEL, now=NOW)
    assert scored[0][:2] == (None, None)
    assert "\\ud800" in (scored[0][2] or "")
    assert scored[2] == ("r3", 10.0, None)
    for _, _, problem in scored:
        assert problem is None or problem.encode("utf-8")


def test_score_dask_carries_rows_with_lone_surrogates() -> None:
    db = pytest.importorskip("dask.bag", reason="dask is not installed (the dask extra)")
    pd = pytest.importorskip("pandas")
    result = score_dask(db.from_sequence(ROWS, npartitions=2), MODEL, now=NOW)
    frame = result.compute(scheduler="sync")
    expected = score_rows(ROWS, MODEL, now=NOW)
    assert [None if pd.isna(v) else v for v in frame["id"]] == [r[0] for r in expected]
    assert [None if pd.isna(v) else v for v in frame["problem"]] == [r[2] for r in expected]


# Found by probing find_duplicates_dask with the fuzz harness's values, when it shuffled raw
# records: a value pickle cannot carry (a lambda) or that partd garbled (a dict with a None
# key) raised PicklingError/UnpicklingError. Records are now prepared where they are read
# and only their normalised text travels.
@pytest.mark.parametrize("value", [lambda: 1, {None: 1}], ids=["lambda", "dict-with-None-key"])
def test_find_duplicates_dask_refuses_records_it_cannot_shuffle(value: object) -> None:
    db = pytest.importorskip("dask.bag", reason="dask is not installed (the dask extra)")
    from leadmodel import STANDARD_LEAD_RULE, LeadModelError
    from leadmodel.distributed import find_duplicates_dask

    records = [
        {"id": "x", "last_name": "Ng", "company": value, "email": value},
        {"id": "z", "last_name": "Ng", "company": "Acme"},
    ]
    dask = pytest.importorskip("dask")
    try:
        with dask.config.set(scheduler="sync"):
            find_duplicates_dask(db.from_sequence(records, npartitions=1), STANDARD_LEAD_RULE)
    except LeadModelError:
        return
    except Exception as error:
        raise AssertionError(f"{type(error).__name__}: {error}") from error
