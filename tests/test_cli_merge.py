"""``leadmodel dedupe --merge`` and ``leadmodel unmerge``, through ``leadmodel.cli.main``."""

import json
from datetime import UTC, datetime

import pytest

from leadmodel import Activity, EmailAddress, Lead
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.cli import main

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def lead(lead_id, email, **fields):
    return Lead(
        id=lead_id,
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
        email=EmailAddress.parse(email),
        **fields,
    )


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        uow.leads.add(lead("L1", "ada@engines.io", created_at=NOW))
        uow.leads.add(lead("L2", "ADA@engines.io", title="Chief Engineer"))
        uow.leads.add(Lead(id="L3", last_name="Hopper", company="Navy"))
        uow.activities.add(Activity(id="A1", subject_id="L2", kind="email_opened", occurred_at=NOW))
        uow.commit()
    return str(path)


def read(database):
    with SQLiteStore(database) as store, SQLiteUnitOfWork(store) as uow:
        return list(uow.leads), list(uow.activities)


def cli_json(capsys, *args):
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_dedupe_merge_moves_activities_and_prints_merge_ids(database, capsys):
    code = main(["dedupe", "--merge", "--db", database])
    out = capsys.readouterr().out
    assert code == 0
    leads, activities = read(database)
    assert [x.id for x in leads] == ["L1", "L3"]
    assert activities[0].subject_id == "L1"
    assert "merged into L1 as merge-L1-" in out


def test_dedupe_merge_then_unmerge_restores_everything(database, capsys):
    before = read(database)
    code, report, _ = cli_json(capsys, "dedupe", "--merge", "--db", database)
    assert code == 0
    [merged] = report["merged"]
    assert (merged["survivor"], merged["absorbed"], merged["moved"]) == ("L1", ["L2"], 1)
    code, undone, err = cli_json(capsys, "unmerge", merged["merge_id"], "--db", database)
    assert (code, err) == (0, "")
    assert undone["restored"] == ["L1", "L2"]
    assert read(database) == before


def test_unmerge_twice_exits_2_with_one_line(database, capsys):
    _, report, _ = cli_json(capsys, "dedupe", "--merge", "--db", database)
    merge_id = report["merged"][0]["merge_id"]
    assert main(["unmerge", merge_id, "--db", database]) == 0
    capsys.readouterr()
    assert main(["unmerge", merge_id, "--db", database]) == 2
    err = capsys.readouterr().err
    assert "was undone at" in err
    assert len(err.strip().splitlines()) == 1


def test_unmerge_of_an_unknown_merge_exits_1(database, capsys):
    assert main(["unmerge", "merge-nope", "--db", database]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "leadmodel: error: no merge with id 'merge-nope'"


def test_unmerge_refuses_a_changed_survivor_unless_forced(database, capsys):
    _, report, _ = cli_json(capsys, "dedupe", "--merge", "--db", database)
    merge_id = report["merged"][0]["merge_id"]
    with SQLiteStore(database) as store, SQLiteUnitOfWork(store) as uow:
        survivor = uow.leads.get("L1")
        uow.leads.update(survivor.__class__(**{**_fields(survivor), "rating": "Hot"}))
        uow.commit()
    assert main(["unmerge", merge_id, "--db", database]) == 2
    assert "force=True" in capsys.readouterr().err
    assert main(["unmerge", merge_id, "--force", "--db", database]) == 0
    leads, _ = read(database)
    assert [x.id for x in leads] == ["L1", "L2", "L3"]


def _fields(record):
    import attrs

    return attrs.asdict(record, recurse=False)


def test_dedupe_without_merge_changes_nothing(database, capsys):
    before = read(database)
    code, report, _ = cli_json(capsys, "dedupe", "--db", database)
    assert code == 0
    assert report["groups"] == [["L1", "L2"]]
    assert report["merged"] == []
    assert read(database) == before


def test_import_merge_reports_set_aside_values_and_can_be_undone(database, tmp_path, capsys):
    csv_file = tmp_path / "more.csv"
    csv_file.write_text(
        "Last Name,Email,Company,Title\nLovelace,ada@engines.io,Engines Ltd,Countess\n",
        encoding="utf-8",
    )
    code, report, err = cli_json(
        capsys, "import", str(csv_file), "--on-duplicate", "merge", "--db", database
    )
    assert (code, err) == (0, "")
    assert (report["rows"], report["merged"], report["in_provenance"]) == (1, 1, 1)
    with SQLiteStore(database) as store, SQLiteUnitOfWork(store) as uow:
        [merge] = uow.merges.find_by_keys(["record:L1"])
    assert main(["unmerge", merge.id, "--db", database]) == 0
    leads, _ = read(database)
    assert sorted(x.company for x in leads) == [
        "Analytical Engines",
        "Analytical Engines",
        "Engines Ltd",
        "Navy",
    ]


def test_import_update_says_how_many_values_were_kept(database, tmp_path, capsys):
    csv_file = tmp_path / "more.csv"
    csv_file.write_text(
        "Last Name,Email,Company\nLovelace,ada@engines.io,Engines Ltd\n", encoding="utf-8"
    )
    code = main(["import", str(csv_file), "--on-duplicate", "update", "--db", database])
    assert code == 0
    assert "1 leads updated (1 differing values kept, not written)" in capsys.readouterr().out
