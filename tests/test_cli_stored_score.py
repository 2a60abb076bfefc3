"""``leadmodel qualify`` and ``convert --qualified`` read the score ``leadmodel score`` stored."""

import json

import pytest

from leadmodel import Condition, FitRule, QualificationPolicy, Requirement, ScoringModel, to_json
from leadmodel.cli import main

CSV = """First Name,Last Name,Email,Company,Lead Source,Title
Ada,Lovelace,ada@engines.io,Analytical Engines,Web,Chief Engineer
Grace,Hopper,grace@navy.mil,Cobol Systems,Partner Referral,VP Engineering
"""


@pytest.fixture
def db(tmp_path):
    (tmp_path / "leads.csv").write_text(CSV, encoding="utf-8")
    model = ScoringModel(
        fit=[
            FitRule("web", Condition("source", "eq", "Web"), 40),
            FitRule("exec", Condition("title", "contains", "chief"), 40),
        ]
    )
    (tmp_path / "model.json").write_text(to_json(model), encoding="utf-8")
    policy = QualificationPolicy(
        requirements=[Requirement("email", Condition("email", "is_not_blank"))],
        min_lead_score=50,
    )
    (tmp_path / "policy.json").write_text(to_json(policy), encoding="utf-8")
    path = str(tmp_path / "leads.db")
    assert main(["import", str(tmp_path / "leads.csv"), "--db", path, "--json"]) == 0
    return tmp_path, path


def command(capsys, *args):
    capsys.readouterr()
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_qualify_reads_the_stored_score(db, capsys):
    # Seen: a policy with min_lead_score failed even after `leadmodel score`.
    folder, path = db
    assert command(capsys, "score", "--model", str(folder / "model.json"), "--db", path)[0] == 0
    code, result = command(capsys, "qualify", "--policy", str(folder / "policy.json"), "--db", path)
    assert code == 0
    decisions = sorted((d["decision"], d["reasons"][-1]) for d in result["decisions"].values())
    assert decisions == [
        ("nurture", "lead score 0 is below 50"),
        ("qualified", "lead score 80 reaches 50"),
    ]
    assert result["unscored"] == []
    assert result["fields_read"] == ["email"]


def test_convert_qualified_reads_the_stored_score(db, capsys):
    folder, path = db
    command(capsys, "score", "--model", str(folder / "model.json"), "--db", path)
    code, result = command(
        capsys, "convert", "--qualified", "--policy", str(folder / "policy.json"), "--db", path
    )
    assert code == 0
    assert len(result["converted"]) == 1


def test_leads_never_scored_are_listed_not_decided(db, capsys):
    folder, path = db
    code, result = command(capsys, "qualify", "--policy", str(folder / "policy.json"), "--db", path)
    assert code == 0
    assert result["decisions"] == {}
    assert len(result["unscored"]) == 2
    main(["qualify", "--policy", str(folder / "policy.json"), "--db", path])
    out = capsys.readouterr().out
    assert "2 unscored" in out
    assert "run `leadmodel score --model FILE` first" in out
    code, result = command(
        capsys, "convert", "--qualified", "--policy", str(folder / "policy.json"), "--db", path
    )
    assert (code, result["converted"]) == (0, [])
