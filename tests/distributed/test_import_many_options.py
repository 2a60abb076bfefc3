"""import_many takes import_leads' options (issue 19): a record type, and a mapping per file.

Each file's result equals import_leads on that file alone with the same options, exactly;
run on Dask's synchronous scheduler (the cluster itself is tests/distributed/test_import_many.py's).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_LAYOUT,
    EXACT_EMAIL,
    STANDARD_LEAD_RULE,
    ColumnMapping,
    RecordType,
    ValidationError,
    import_leads,
    read_csv,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.distributed import import_many

dask = pytest.importorskip("dask", reason="dask is not installed (the dask extra)")

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PARTNER = RecordType("Partner", DEFAULT_LEAD_LAYOUT, picklists={"source": ["Partner", "Web"]})


@pytest.fixture(autouse=True)
def _synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="sync"):
        yield


def alone(path: Path, prefix: str, mapping: ColumnMapping | None = None, **options: object):
    header, rows = read_csv(path)
    run = import_leads(
        rows,
        mapping or ColumnMapping.guess(header),
        ids=SequentialIds(prefix=prefix),
        now=NOW,
        **options,  # type: ignore[arg-type]
    )
    return tuple(run), run.report


def test_a_record_type_stamps_and_checks_every_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "Last Name,Company,Lead Source\nNg,Acme,Partner\nLee,Globex,Trade Show\n", "utf-8"
    )
    mapping = ColumnMapping.guess(["Last Name", "Company", "Lead Source"])
    (done,) = import_many([path], mapping, now=NOW, record_type=PARTNER)
    assert done.report is not None
    assert (done.report.created, done.report.rejected) == (1, 1)
    assert done.created[0].custom["record_type"] == "Partner"
    assert (done.outcomes, done.report) == alone(path, "f0-", mapping, record_type=PARTNER)


def test_a_mapping_per_file_from_its_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Last Name,Company,Email\nNg,Acme,n@acme.com\n", "utf-8")
    (tmp_path / "b.csv").write_text("Company;Surname;E-mail\nAcme;Ng;N@acme.com\n", "utf-8")
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    done = import_many(paths, ColumnMapping.guess, now=NOW)
    assert [(lead.last_name, lead.company) for f in done for lead in f.created] == [
        ("Ng", "Acme"),
        ("Ng", "Acme"),
    ]
    for i, (path, result) in enumerate(zip(paths, done, strict=True)):
        assert (result.outcomes, result.report) == alone(path, f"f{i}-")


def _not_a_mapping(header: list[str]) -> object:
    return {"Last Name": "last_name"}


def _refusing(header: list[str]) -> ColumnMapping:
    return ColumnMapping([(header[0], "no_such_field")])


@pytest.mark.parametrize(("hook", "code"), [(_not_a_mapping, "type"), (_refusing, None)])
def test_a_mapping_hook_that_fails_is_that_files_problem(
    tmp_path: Path, hook: object, code: str | None
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("Last Name\nNg\n", "utf-8")
    (done,) = import_many([path], hook, now=NOW)  # type: ignore[arg-type]
    assert not done.ok
    assert done.report is None
    assert done.problems
    if code is not None:
        assert [(p.path, p.code) for p in done.problems] == [("mapping", code)]


@pytest.mark.parametrize("record_type", ["Partner", object()])
def test_a_wrong_record_type_is_refused(tmp_path: Path, record_type: object) -> None:
    mapping = ColumnMapping.guess(["Last Name"])
    with pytest.raises(ValidationError) as raised:
        import_many(["a.csv"], mapping, now=NOW, record_type=record_type)  # type: ignore[arg-type]
    assert raised.value.paths == ("record_type",)


def test_a_mapping_that_is_neither_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        import_many(["a.csv"], "Last Name", now=NOW)  # type: ignore[arg-type]
    assert raised.value.paths == ("mapping",)


HEADERS = [
    ("Last Name", "Company", "Email", "Lead Source"),
    ("Company", "Surname", "E-mail", "Source"),
    ("Email", "Last Name", "Company", "Lead Source"),
]
PEOPLE = [
    {"last": "Lovelace", "company": "Engines", "email": "ada@engines.io", "source": "Web"},
    {"last": "Lovelace", "company": "Engines", "email": "ADA@engines.io", "source": "Partner"},
    {"last": "Hopper", "company": "Navy", "email": "grace@navy.mil", "source": "Trade Show"},
    {"last": "", "company": "", "email": "not-an-email", "source": ""},
]
_FIELD = {
    "Last Name": "last",
    "Surname": "last",
    "Company": "company",
    "Email": "email",
    "E-mail": "email",
    "Lead Source": "source",
    "Source": "source",
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(HEADERS),
            st.sampled_from([",", ";", "\t"]),
            st.lists(st.sampled_from(PEOPLE), max_size=6),
        ),
        min_size=1,
        max_size=4,
    ),
    on_duplicate=st.sampled_from(["skip", "update", "merge", "create"]),
    rule=st.sampled_from([None, STANDARD_LEAD_RULE, EXACT_EMAIL]),
    record_type=st.sampled_from([None, PARTNER]),
)
def test_each_file_equals_import_leads_alone_with_the_same_options(
    files: list[tuple[tuple[str, ...], str, list[dict[str, str]]]],
    on_duplicate: str,
    rule: object,
    record_type: RecordType | None,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (header, delimiter, people) in enumerate(files):
            lines = [delimiter.join(header)]
            lines += [delimiter.join(p[_FIELD[c]] for c in header) for p in people]
            path = Path(folder) / f"{i}.csv"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            paths.append(path)
        done = import_many(
            paths,
            ColumnMapping.guess,
            now=NOW,
            on_duplicate=on_duplicate,
            rule=rule,  # type: ignore[arg-type]
            record_type=record_type,
        )
        for i, (path, result) in enumerate(zip(paths, done, strict=True)):
            outcomes, report = alone(
                path, f"f{i}-", on_duplicate=on_duplicate, rule=rule, record_type=record_type
            )
            assert result.outcomes == outcomes
            assert result.report == report
    # Nothing lost: a report per file, an outcome per row.
    assert [f.report.rows for f in done if f.report] == [len(people) for _, _, people in files]
