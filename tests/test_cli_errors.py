"""The ``leadmodel`` command's error handling: one line on stderr, each documented exit code.

Issue 15: ``leadmodel … | head -1`` printed a BrokenPipeError traceback, ``leadmodel
import`` of a binary or JSON file exited 0, ``leadmodel show no-such-id`` wrote its error
to stdout.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leadmodel import cli

SCRIPT = Path(sys.executable).parent / "leadmodel"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "leadmodel"]


def run(directory, *args):
    return subprocess.run(
        [*COMMAND, *args], cwd=directory, capture_output=True, text=True, check=False, timeout=120
    )


def one_error_line(done):
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("leadmodel: ")
    assert "Traceback" not in done.stderr
    return lines[0]


def test_a_closed_pipe_ends_quietly_with_exit_code_141(tmp_path):
    process = subprocess.Popen(
        [*COMMAND, "demo"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.read(20)  # what `| head -c 20` reads, then it goes away
    process.stdout.close()
    error = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == cli.EXIT_PIPE_CLOSED == 141
    assert error == b""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (bytes(range(256)) * 4, "binary"),
        (b'[{"last_name": "Ng", "company": "Acme"}]', "JSON"),
        (b'  {"last_name": "Ng"}', "JSON"),
    ],
)
def test_importing_a_binary_or_json_file_exits_2_with_one_line(tmp_path, content, reason):
    (tmp_path / "leads.csv").write_bytes(content)
    done = run(tmp_path, "import", "leads.csv")
    assert done.returncode == 2
    assert reason in one_error_line(done)
    assert done.stdout == ""


def test_show_of_a_missing_lead_exits_1_with_the_error_on_stderr(tmp_path):
    done = run(tmp_path, "show", "no-such-id")
    assert done.returncode == 1
    assert one_error_line(done) == "leadmodel: error: no lead with id 'no-such-id'"
    assert done.stdout == ""
    as_json = run(tmp_path, "show", "no-such-id", "--json")
    assert as_json.returncode == 1
    assert as_json.stdout == ""


def test_a_mapping_with_an_unknown_target_exits_2_with_one_line(tmp_path):
    (tmp_path / "leads.csv").write_text("Last Name,Company\nNg,Acme\n", encoding="utf-8")
    (tmp_path / "mapping.json").write_text(json.dumps({"Company": "compny"}), encoding="utf-8")
    done = run(tmp_path, "import", "leads.csv", "--mapping", "mapping.json")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "'compny'" in line
    assert "targets are" in line


def test_bad_usage_exits_2(tmp_path):
    done = run(tmp_path, "no-such-command")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_success_exits_0(tmp_path):
    (tmp_path / "leads.csv").write_text("Last Name,Company\nNg,Acme\n", encoding="utf-8")
    done = run(tmp_path, "import", "leads.csv")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_an_internal_error_is_one_line_with_exit_code_3(monkeypatch, capsys, tmp_path):
    def broken(*_args):
        raise TypeError("a defect\nsecond line")

    monkeypatch.setitem(cli.COMMANDS, "report", broken)
    monkeypatch.delenv("LEADMODEL_DEBUG", raising=False)
    assert cli.main(["report", "--db", str(tmp_path / "x.db")]) == cli.EXIT_INTERNAL == 3
    captured = capsys.readouterr()
    assert captured.err == "leadmodel: internal error (please report it): TypeError: a defect\n"
    monkeypatch.setenv("LEADMODEL_DEBUG", "1")
    with pytest.raises(TypeError):
        cli.main(["report", "--db", str(tmp_path / "x.db")])


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys, tmp_path):
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "report", interrupted)
    assert cli.main(["report", "--db", str(tmp_path / "x.db")]) == cli.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "leadmodel: interrupted\n"
