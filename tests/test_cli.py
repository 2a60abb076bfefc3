import json
import shutil
import subprocess
import sys

import pytest

from leadmodel.cli import main


def test_demo_walks_the_sample_leads(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "4 leads built, 1 rejected" in out
    assert "last_name [blank]" in out
    assert "4/4 leads survive" in out
    assert "created account account-000001" in out
    assert "lead-000001: 80 (Hot, grade A4)" in out
    assert "4 scores saved, 4 ScoreChanged events" in out
    assert "not carried (no mapping entry), reported: custom.visits" in out
    assert "2,023 leads imported, 0 rows rejected" in out
    assert "218 groups merged" in out
    assert "10 converted: 10 accounts, 10 contacts, 10 opportunities created" in out


def test_the_demo_numbers_add_up(capsys):
    # Seen: "1,829 scored: 216 Hot, 476 Warm, 1,138 Cold" summed to 1,830.
    assert main(["demo", "--json"]) == 0
    pipeline = json.loads(capsys.readouterr().out)["pipeline"]
    assert sum(pipeline["ratings"].values()) == pipeline["scored"]
    assert sum(pipeline["qualification"].values()) == pipeline["scored"]
    assert sum(pipeline["owners"].values()) == pipeline["scored"]
    assert set(pipeline["ratings"]) <= {"Hot", "Warm", "Cold"}


def test_the_demo_reads_as_a_newcomer_expects(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # Seen: the funnel listed statuses alphabetically ("Closed - Converted" first).
    line = next(x for x in out.splitlines() if "funnel" in x)
    assert line.index("Open - Not Contacted") < line.index("Closed - Converted")
    # Seen: "custom.score = Decimal('80')", and BANT silently read custom.budget.
    assert "Decimal(" not in out
    assert "datetime.date" not in out
    assert "reported: custom.score = 80" in out
    assert "it reads custom.budget, title, custom.need, custom.timeline" in out


def test_demo_json_is_machine_readable(capsys):
    assert main(["demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["round_trip_ok"] is True
    assert report["converted_ok"] is True
    assert report["scored_ok"] is True
    assert report["pipeline"]["converted"] == 10
    assert report["pipeline"]["imported"] == 2023
    assert len(report["leads"]) == 4
    assert report["rejected"][0]["row"]["first_name"] == "Bob"
    # Issue 17: one lead's whole journey, run by the rules, with its timeline.
    journey = report["journey"]
    assert (journey["converted"], journey["customer"], journey["won"]) == (True, True, True)
    steps = [row[1] for row in journey["timeline"]]
    assert steps[0] == "captured"
    assert steps.index("assigned") < steps.index("call") < steps.index("converted")
    assert steps[-2:] == ["deal_closed", "stage_changed"]
    assert journey["sent"] == ["sla_missed"]


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_command_exits_2():
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2


@pytest.mark.skipif(shutil.which("leadmodel") is None, reason="console script not installed")
def test_console_script_runs():
    result = subprocess.run(
        ["leadmodel", "demo"], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Done." in result.stdout


def test_python_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "leadmodel", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("leadmodel ")


def test_the_demo_can_keep_its_sqlite_database(tmp_path, capsys):
    from leadmodel import Lead
    from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

    path = tmp_path / "demo.db"
    assert main(["demo", "--db", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        leads = list(uow.leads)
    assert len(leads) > 1790  # the samples and the 1,800 demo people, after merging
    assert all(isinstance(lead, Lead) for lead in leads)
    assert any(lead.is_converted for lead in leads)


def test_the_demo_refuses_to_reuse_an_existing_file(tmp_path, capsys):
    path = tmp_path / "taken.db"
    path.write_text("precious")
    assert main(["demo", "--db", str(path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert path.read_text() == "precious"
