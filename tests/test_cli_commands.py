"""The database commands of the ``leadmodel`` console script, run in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leadmodel import (
    BANT_POLICY,
    Condition,
    FitRule,
    QualificationPolicy,
    Requirement,
    ScoringModel,
    to_json,
)

SCRIPT = Path(sys.executable).parent / "leadmodel"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "leadmodel"]
CSV = """First Name,Last Name,Email,Phone,Company,Lead Source,Title,Budget
Ada,Lovelace,ada@engines.io,+44 20 7946 0958,Analytical Engines,Web,Chief Engineer,50000
Grace,Hopper,grace@navy.mil,(415) 555-0199,Cobol Systems,Partner Referral,VP Engineering,
Ada,Lovelace,ADA@engines.io,,Analytical Engines Ltd,Web,Chief Engineer,
Bob,,bob@@x,12,Nameless,Web,,
"""


def run(directory, *args):
    return subprocess.run(
        [*COMMAND, *args],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "leads.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "mapping.json").write_text('{"Budget": "custom.budget"}', encoding="utf-8")
    model = ScoringModel(
        fit=[
            FitRule("web", Condition("source", "eq", "Web"), 40),
            FitRule("exec", Condition("title", "contains", "chief"), 40),
        ],
        name="inbound",
    )
    (tmp_path / "model.json").write_text(to_json(model), encoding="utf-8")
    policy = QualificationPolicy(
        requirements=[Requirement("email", Condition("email", "is_not_blank"))]
    )
    (tmp_path / "policy.json").write_text(to_json(policy), encoding="utf-8")
    return tmp_path


def imported(workspace):
    result = run(
        workspace, "import", "leads.csv", "--mapping", "mapping.json", "--dedupe", "--json"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_reports_created_duplicates_and_rejected_rows(workspace):
    report = imported(workspace)
    assert (report["rows"], report["created"], report["duplicates"], report["rejected"]) == (
        4,
        2,
        1,
        1,
    )
    assert report["problems"][0]["line"] == 5
    assert (workspace / "leadmodel.db").exists()


def test_a_dry_run_saves_nothing(workspace):
    result = run(workspace, "import", "leads.csv", "--dry-run")
    assert result.returncode == 0
    assert "would create 3 leads" in result.stdout
    report = run(workspace, "report", "--json")
    assert json.loads(report.stdout)["leads"] == 0


def test_score_qualify_convert_show_and_report(workspace):
    imported(workspace)
    scored = run(workspace, "score", "--model", "model.json", "--rating")
    assert scored.returncode == 0, scored.stderr
    assert "2 leads scored, 2 changed" in scored.stdout
    qualified = run(workspace, "qualify", "--policy", "policy.json", "--json")
    decisions = json.loads(qualified.stdout)["decisions"]
    assert {d["decision"] for d in decisions.values()} == {"qualified"}
    converted = run(workspace, "convert", "--qualified", "--policy", "policy.json")
    assert converted.returncode == 0, converted.stderr
    assert "2 lead(s) converted" in converted.stdout
    lead_id = next(iter(decisions))
    shown = run(workspace, "show", lead_id, "--json")
    assert json.loads(shown.stdout)["lead"]["converted"] is not None
    report = json.loads(run(workspace, "report", "--json").stdout)
    assert (report["leads"], report["converted"]) == (2, 2)


def test_dedupe_finds_and_merges_groups(workspace):
    result = run(workspace, "import", "leads.csv", "--json")  # no --dedupe: Ada twice
    assert json.loads(result.stdout)["created"] == 3
    found = run(workspace, "dedupe", "--json")
    assert len(json.loads(found.stdout)["groups"]) == 1
    merged = run(workspace, "dedupe", "--merge")
    assert "merged into 1 survivor(s)" in merged.stdout
    assert json.loads(run(workspace, "report", "--json").stdout)["leads"] == 2


def test_values_beyond_the_header_are_kept_not_refused(workspace):
    (workspace / "ragged.csv").write_text("Last Name,Company\nNg,Acme,surplus\n", encoding="utf-8")
    report = json.loads(run(workspace, "import", "ragged.csv", "--json").stdout)
    assert report["created"] == 1
    lead_id = json.loads(run(workspace, "report", "--json").stdout)
    assert lead_id["leads"] == 1


def test_an_unknown_lead_exits_1(workspace):
    result = run(workspace, "show", "L404")
    assert result.returncode == 1
    assert "no lead with id 'L404'" in result.stderr
    assert result.stdout == ""
    result = run(workspace, "convert", "L404")
    assert result.returncode == 1
    assert "no lead with id 'L404'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "missing.csv"), "cannot read missing.csv"),
        (("import", "empty.csv"), "has no header row"),
        (("import", "leads.csv", "--mapping", "broken.json"), "is not JSON"),
        (("import", "leads.csv", "--mapping", "list.json"), "must map column names"),
        (("score", "--model", "broken.json"), "is not a valid scoring model"),
        (("score", "--model", "missing.json"), "cannot read scoring model"),
        (("qualify", "--policy", "list.json"), "is not a valid qualification policy"),
        (("convert",), "give a LEAD_ID"),
        (("convert", "--qualified"), "--qualified needs --policy"),
        (("report", "--db", "notadb.db"), "cannot open notadb.db"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(workspace, args, message):
    (workspace / "empty.csv").write_text("", encoding="utf-8")
    (workspace / "ragged.csv").write_text("a,b\n1,2,3\n", encoding="utf-8")
    (workspace / "broken.json").write_text('{"fit": [', encoding="utf-8")
    (workspace / "list.json").write_text("[1, 2]", encoding="utf-8")
    (workspace / "notadb.db").write_text("this is not a database" * 100, encoding="utf-8")
    result = run(workspace, *args)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_bant_policy_file_round_trips_through_the_command(workspace):
    (workspace / "bant.json").write_text(to_json(BANT_POLICY), encoding="utf-8")
    imported(workspace)
    result = run(workspace, "qualify", "--policy", "bant.json")
    assert result.returncode == 0
    assert "nurture" in result.stdout
