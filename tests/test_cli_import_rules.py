"""``--rule`` on ``leadmodel import`` and ``leadmodel dedupe`` (issue 16), run in-process."""

import json

import pytest

from leadmodel.cli import main

SWITCHBOARD_CSV = """Full Name,Email,Phone,Company
Dr. Ann Ng,ann@acme.io,+1 415 555 0100,Acme
Bob Stone,bob@acme.io,(415) 555-0100,Acme
Cy Park,cy@acme.io,415.555.0100,Acme
Ann Ng,ANN@acme.io,,Acme
"""


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leads.csv").write_text(SWITCHBOARD_CSV, encoding="utf-8")
    return tmp_path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("rule", "created", "skipped"),
    [("standard", 3, 1), ("exact-email", 3, 1), ("exact-email-or-phone", 1, 3)],
)
def test_import_rule_decides_who_is_a_duplicate(workspace, capsys, rule, created, skipped):
    code, out, _ = run(capsys, "import", "leads.csv", "--dedupe", "--rule", rule, "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["created"], report["duplicates"], report["rule"]) == (created, skipped, rule)


def test_import_defaults_to_the_standard_rule(workspace, capsys):
    code, out, _ = run(capsys, "import", "leads.csv", "--on-duplicate", "merge", "--json")
    report = json.loads(out)
    assert (code, report["rule"], report["created"], report["merged"]) == (0, "standard", 3, 1)


def test_import_says_which_columns_it_kept_aside(workspace, capsys):
    (workspace / "ragged.csv").write_text(
        "Last Name,Company,Company\nNg,Acme,Acme Ltd,surplus\n", encoding="utf-8"
    )
    code, out, _ = run(capsys, "import", "ragged.csv")
    assert code == 0
    assert "Column 4 (beyond the header), Company (2)" in out


def test_dedupe_takes_the_same_rule_names(workspace, capsys):
    run(capsys, "import", "leads.csv")  # every row created: Ann twice
    code, out, err = run(capsys, "dedupe", "--rule", "exact-email", "--json")
    assert (code, err) == (0, "")
    assert len(json.loads(out)["groups"]) == 1
    code, out, _ = run(capsys, "dedupe", "--rule", "exact-email-or-phone", "--json")
    assert [len(group) for group in json.loads(out)["groups"]] == [4]


def test_dedupe_rule_exact_still_works_with_a_one_line_notice(workspace, capsys):
    run(capsys, "import", "leads.csv")
    code, out, err = run(capsys, "dedupe", "--rule", "exact", "--json")
    assert code == 0
    assert [len(group) for group in json.loads(out)["groups"]] == [4]
    assert err.count("\n") == 1
    assert err.startswith("leadmodel: warning: --rule exact is deprecated")
    assert "exact-email-or-phone" in err


@pytest.mark.parametrize("command", ["import", "dedupe"])
def test_an_unknown_rule_is_a_usage_error(workspace, capsys, command):
    args = [command, "leads.csv"] if command == "import" else [command]
    with pytest.raises(SystemExit) as done:
        main([*args, "--rule", "fuzzy"])
    assert done.value.code == 2
    assert "--rule" in capsys.readouterr().err
