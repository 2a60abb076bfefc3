"""import_many: one Dask task per CSV file, a report per file, ids unique across files."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import ColumnMapping, ValidationError, import_leads, read_csv
from leadmodel.adapters.memory import SequentialIds
from leadmodel.distributed import FileImport, import_many

pytest.importorskip("dask", reason="dask is not installed (the dask extra)")
pytest.importorskip("distributed", reason="dask.distributed is not installed (the dask extra)")
from distributed import Client, LocalCluster

NAIVE = datetime(2026, 1, 1)  # noqa: DTZ001 - refused
NOW = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = ["First Name", "Last Name", "Company", "Email"]
MAPPING = ColumnMapping.guess(HEADER)
FILES = {
    "a.csv": "First Name,Last Name,Company,Email\n"
    "Ada,Lovelace,Engines,ada@engines.io\n"
    "Ada,Lovelace,Engines,ADA@engines.io\n",
    "b.csv": "First Name,Last Name,Company,Email\n"
    "Ada,Lovelace,Engines,ada@engines.io\n"
    "Grace,Hopper,Navy,grace@navy.mil\n"
    ",,,not-an-email\n",
    "c.csv": "First Name,Last Name,Company,Email\nAlan,Turing,Bletchley,alan@b.uk\n",
}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, Client(cluster) as c:
        yield c


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    out = []
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        out.append(tmp_path / name)
    return out


def test_three_files_one_report_each_in_order(client: Client, paths: list[Path]) -> None:
    done = import_many(paths, MAPPING, client=client, now=NOW)
    assert [Path(f.path).name for f in done] == ["a.csv", "b.csv", "c.csv"]
    assert all(isinstance(f, FileImport) and f.ok for f in done)
    reports = [f.report for f in done]
    assert [(r.rows, r.created, r.skipped, r.rejected) for r in reports if r] == [
        (2, 1, 1, 0),
        (3, 2, 0, 1),
        (1, 1, 0, 0),
    ]
    ids = [lead.id for f in done for lead in f.created]
    assert ids == ["f0-lead-000001", "f1-lead-000001", "f1-lead-000002", "f2-lead-000001"]
    assert len(set(ids)) == len(ids)


def test_each_file_equals_a_single_process_import(client: Client, paths: list[Path]) -> None:
    done = import_many(paths, MAPPING, client=client, now=NOW, ids_prefix="x")
    for i, (path, result) in enumerate(zip(paths, done, strict=True)):
        _, rows = read_csv(path)
        run = import_leads(rows, MAPPING, ids=SequentialIds(prefix=f"x{i}-"), now=NOW)
        assert result.outcomes == tuple(run)
        assert result.report == run.report


def test_without_a_client_and_a_missing_file(paths: list[Path], tmp_path: Path) -> None:
    done = import_many([*paths, tmp_path / "missing.csv"], MAPPING, now=NOW)
    assert [f.ok for f in done] == [True, True, True, False]
    assert done[3].report is None
    assert done[3].problems
    assert done[0].report is not None
    assert done[0].report.created == 1


@pytest.mark.parametrize(
    ("paths_arg", "kwargs", "path"),
    [
        ([], {}, "paths"),
        ("a.csv", {}, "paths"),
        ([1], {}, "paths[0]"),
        (["a.csv", "a.csv"], {}, "paths"),
        (["a.csv"], {"mapping": None}, "mapping"),
        (["a.csv"], {"now": NAIVE}, "now"),
        (["a.csv"], {"ids_prefix": ""}, "ids_prefix"),
        (["a.csv"], {"rule": "strict"}, "rule"),
        (["a.csv"], {"client": object()}, "client"),
        (["a.csv"], {"on_duplicate": "drop"}, "on_duplicate"),
    ],
)
def test_bad_arguments(paths_arg: object, kwargs: dict[str, object], path: str) -> None:
    arguments: dict[str, object] = {"mapping": MAPPING, "now": NOW, **kwargs}
    mapping = arguments.pop("mapping")
    with pytest.raises(ValidationError) as raised:
        import_many(paths_arg, mapping, **arguments)  # type: ignore[arg-type]
    assert path in raised.value.paths


PEOPLE = [
    ("Ada", "Lovelace", "Engines", "ada@engines.io"),
    ("Grace", "Hopper", "Navy", "grace@navy.mil"),
    ("Alan", "Turing", "Bletchley", "alan@b.uk"),
    ("", "", "", "not-an-email"),
]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(st.lists(st.sampled_from(PEOPLE), max_size=6), min_size=1, max_size=4),
    prefix=st.sampled_from(["f", "batch-", "x"]),
)
def test_files_import_as_alone_with_ids_unique_and_no_row_lost(
    files: list[list[tuple[str, str, str, str]]], prefix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, people in enumerate(files):
            path = Path(folder) / f"{i}.csv"
            lines = [",".join(HEADER)] + [",".join(p) for p in people]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            paths.append(path)
        done = import_many(paths, MAPPING, now=NOW, ids_prefix=prefix)
        width = len(str(len(paths) - 1))
        for i, (path, result) in enumerate(zip(paths, done, strict=True)):
            _, rows = read_csv(path)
            run = import_leads(
                rows, MAPPING, ids=SequentialIds(prefix=f"{prefix}{i:0{width}d}-"), now=NOW
            )
            assert result.outcomes == tuple(run)
            assert result.report == run.report
    assert sum(f.report.rows for f in done if f.report) == sum(len(p) for p in files)
    ids = [lead.id for f in done for lead in f.created]
    assert len(set(ids)) == len(ids)
