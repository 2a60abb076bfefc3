"""score_dask on a real 2-worker LocalCluster equals single-process scoring, whatever the
partitioning (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    ColumnMapping,
    Condition,
    EngagementRule,
    FitRule,
    Lead,
    Outcome,
    ScoringModel,
    ValidationError,
    score,
    train_predictive,
)
from leadmodel.distributed import score_dask, score_rows

dask = pytest.importorskip("dask", reason="dask is not installed (the dask extra)")
pytest.importorskip("distributed", reason="dask.distributed is not installed (the dask extra)")
pd = pytest.importorskip("pandas", reason="pandas is not installed (the dask extra)")
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402

from distributed import Client, LocalCluster  # noqa: E402

NAIVE = datetime(2026, 1, 1)  # noqa: DTZ001 - refused
NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 10),
        FitRule("big", Condition("employees", "gte", 500), 15),
        FitRule("cto", Condition("title", "contains", "CTO"), 7),
    ],
    engagement=[EngagementRule("opens", "email_opened", 5, cap=12)],
)
SOURCES = ["Web", "Fair", "Partner", None]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, Client(cluster) as c:
        yield c


def _lead(i: int, source: str | None, employees: int | None, title: str | None) -> Lead:
    return Lead(
        id=f"L{i}",
        last_name=f"Name{i}",
        company=f"Co{i}",
        source=source,
        employees=employees,
        title=title,
    )


leads_strategy = st.lists(
    st.tuples(
        st.sampled_from(SOURCES),
        st.one_of(st.none(), st.integers(0, 5_000)),
        st.sampled_from([None, "CTO", "Sales rep", "Deputy CTO"]),
    ),
    min_size=1,
    max_size=40,
).map(lambda rows: [_lead(i, *row) for i, row in enumerate(rows)])


def _single(leads: list[Lead], activities: dict[str, list[Activity]] | None = None) -> list[Any]:
    found = activities or {}
    return [
        (lead.id, score(lead, MODEL, activities=found.get(lead.id, ()), now=NOW).total)
        for lead in leads
    ]


def _pairs(frame: Any) -> list[Any]:
    return list(zip(frame["id"].tolist(), frame["score"].tolist(), strict=True))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(leads=leads_strategy, partitions=st.integers(1, 7), opens=st.integers(0, 4))
def test_bag_scores_equal_single_process_whatever_the_partitioning(
    client: Client, leads: list[Lead], partitions: int, opens: int
) -> None:
    activities = {
        leads[0].id: [
            Activity(
                id=f"A{k}",
                subject_id=leads[0].id,
                kind="email_opened",
                occurred_at=NOW - timedelta(days=k),
            )
            for k in range(opens)
        ]
    }
    bag = db.from_sequence(leads, npartitions=partitions)
    result = score_dask(bag, MODEL, now=NOW, activities=activities).compute()
    assert _pairs(result) == _single(leads, activities)
    assert result["problem"].isna().all()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(leads=leads_strategy, partitions=st.integers(1, 5))
def test_frame_of_lead_fields_equals_single_process(
    client: Client, leads: list[Lead], partitions: int
) -> None:
    table = pd.DataFrame(
        {
            "id": [lead.id for lead in leads],
            "last_name": [lead.last_name for lead in leads],
            "company": [lead.company for lead in leads],
            "source": [lead.source for lead in leads],
            "title": [lead.title for lead in leads],
        }
    )
    frame = dd.from_pandas(table, npartitions=partitions)
    result = score_dask(frame, MODEL, now=NOW).compute()
    plain = [
        Lead(id=x.id, last_name=x.last_name, company=x.company, source=x.source, title=x.title)
        for x in leads
    ]
    assert _pairs(result) == _single(plain)


def test_csv_columns_mapped_with_a_column_mapping(client: Client) -> None:
    table = pd.DataFrame(
        {
            "Lead ID": ["A", "B", "C"],
            "Last Name": ["Ng", "Lo", ""],
            "Company": ["Acme", "Bolt", "Crate"],
            "Lead Source": ["Web", "Fair", "Web"],
            "Employees": ["2000", "10", "5"],
        }
    )
    mapping = ColumnMapping.guess(["Last Name", "Company", "Lead Source", "Employees"])
    frame = dd.from_pandas(table, npartitions=2)
    result = score_dask(frame, MODEL, now=NOW, mapping=mapping, id_column="Lead ID").compute()
    assert result["id"].tolist() == ["A", "B", "C"]
    assert result["score"].tolist()[:2] == [25.0, 0.0]
    # A row the mapping cannot read is kept, with no score and the reason.
    assert pd.isna(result["score"].tolist()[2])
    assert "last_name" in result["problem"].tolist()[2]


def test_predictive_probabilities_per_partition(client: Client) -> None:
    history = [
        Outcome(Lead(id=f"W{i}", last_name="A", company="A", source="Web"), True) for i in range(4)
    ] + [
        Outcome(Lead(id=f"F{i}", last_name="B", company="B", source="Fair"), False)
        for i in range(3)
    ]
    for kind in ("naive_bayes", "logistic"):
        model = train_predictive(history, features=["source"], kind=kind)
        leads = [_lead(i, s, None, None) for i, s in enumerate(SOURCES * 3)]
        result = score_dask(db.from_sequence(leads, npartitions=4), model).compute()
        expected = [(lead.id, model.predict(lead).probability) for lead in leads]
        assert _pairs(result) == expected


def test_score_rows_is_the_reference_and_keeps_every_row() -> None:
    rows: list[object] = [_lead(1, "Web", None, None), {"id": "M", "source": "Web"}, 42]
    out = score_rows(rows, MODEL, now=NOW)
    assert [r[0] for r in out] == ["L1", "M", None]
    assert out[0][1] == 10.0
    assert out[2][1] is None
    assert out[2][2]


@pytest.mark.parametrize(
    ("frame", "kwargs", "path"),
    [
        ([1, 2], {"now": NOW}, "frame"),
        (None, {}, "now"),
        (None, {"now": NAIVE}, "now"),
        (None, {"now": NOW, "activities": ["x"]}, "activities"),
        (None, {"now": NOW, "activities": {"L1": "abc"}}, "activities"),
        (None, {"now": NOW, "mapping": {"a": "b"}}, "mapping"),
        (None, {"now": NOW, "id_column": ""}, "id_column"),
        ("frame", {"now": NOW, "id_column": "nope"}, "id_column"),
    ],
)
def test_bad_arguments_raise_validation_errors(
    frame: object, kwargs: dict[str, Any], path: str
) -> None:
    if frame is None:
        frame = db.from_sequence([_lead(1, "Web", None, None)])
    elif frame == "frame":
        frame = dd.from_pandas(pd.DataFrame({"id": ["x"]}), npartitions=1)
    with pytest.raises(ValidationError) as raised:
        score_dask(frame, MODEL, **kwargs)
    assert path in raised.value.paths


def test_a_wrong_model_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        score_dask(db.from_sequence([1]), "model", now=NOW)  # type: ignore[arg-type]
    assert raised.value.paths == ("model",)


@pytest.mark.parametrize("rows", [5, "abc", {"id": "x"}, None])
def test_score_rows_refuses_what_is_no_iterable_of_rows(rows: object) -> None:
    with pytest.raises(ValidationError) as raised:
        score_rows(rows, MODEL, now=NOW)  # type: ignore[arg-type]
    assert raised.value.paths == ("rows",)


def test_hostile_rows_are_kept_with_their_problem() -> None:
    rows = [{"id": "A", "source": object()}, {"id": "B", "employees": "many"}, {1: 2}]
    out = score_rows(rows, MODEL, now=NOW)
    assert len(out) == 3
    assert all(isinstance(r[2], (str, type(None))) for r in out)
