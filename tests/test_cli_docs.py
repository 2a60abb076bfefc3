"""Run every command-line example of docs/cli.md and check what it prints (issue 20).

The page is run like a shell session, top to bottom, in one new directory (so ``--db``
defaults to a new ``./leadmodel.db`` there), with the command line's clock set to
:data:`NOW` so ids and times come out as the page shows them:

- a block right after ``<!-- file: NAME -->`` is written to the file NAME;
- a ```` ```console ```` block holds ``$ leadmodel …`` commands, each followed by what it
  prints (stdout, then stderr), compared line by line with trailing spaces dropped and
  ``...`` matching anything (doctest's ELLIPSIS); the command must exit 0, or the code a
  ``# exit N`` comment names;
- a ```` ```bash ```` block is one command a line (``#`` comments ignored), each of which
  must exit 0 (or its ``# exit N``);
- ``<!-- cli-docs: skip REASON -->`` before a block skips it with that reason (shown by
  ``pytest -rs``), ``<!-- cli-docs: long -->`` runs it only with ``pytest --long``;
- ``<!-- cli-docs: postgres -->`` runs the block against a fresh schema of the server that
  ``LEADMODEL_TEST_POSTGRES`` names (``.ci/run`` starts one), its URL in place of
  :data:`PAGE_URL`, and skips it with the reason when there is none.

A command added early shifts the ids of every later one: ``python tests/test_cli_docs.py >
page.md`` prints the page with what each ```` ```console ```` command prints now, to read
through and compare (``diff docs/cli.md page.md``) before copying it over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from doctest import ELLIPSIS, OutputChecker
from pathlib import Path

import pytest

from leadmodel import cli

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The time the command line reads at the page's first command; each later one runs a
minute after the one before, as in a shell session (so ids and times are the page's)."""

PAGE_URL = "postgresql://ann@db.example/crm"
"""The PostgreSQL URL the page's examples show; the test server's stands in for it."""

_FENCE = re.compile(
    r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)
_MARKER = re.compile(r"<!--\s*(?P<kind>file|cli-docs):\s*(?P<value>.*?)\s*-->\s*$")
_EXIT = re.compile(r"#.*\bexits? (?P<code>\d+)\b")  # "# exits 2" or "# exit 2"
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class Command:
    """One command of the page: where it is, its arguments, environment and expectations."""

    line: int
    text: str
    argv: list[str]
    env: dict[str, str]
    exit_code: int
    expected: str | None  # None: the output is not checked (a bash block)


@dataclass(frozen=True)
class Block:
    """One fenced block of the page and what to do with it."""

    line: int
    lang: str
    body: str
    file: str | None = None
    skip: str | None = None
    long: bool = False
    postgres: bool = False

    @property
    def runs(self) -> bool:
        return self.lang in ("console", "bash")


def blocks(text: str) -> list[Block]:
    """Every fenced block of *text*, with the marker on the line before it."""
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        file = skip = None
        long = postgres = False
        if marker and marker["kind"] == "file":
            file = marker["value"]
        elif marker and marker["value"] in ("long", "postgres"):
            long, postgres = marker["value"] == "long", marker["value"] == "postgres"
        elif marker and marker["value"].startswith("skip"):
            skip = marker["value"].removeprefix("skip").strip(" :") or "marked skip"
        found.append(Block(line, match["lang"], match["body"], file, skip, long, postgres))
    return found


def _command(line: int, text: str, expected: str | None) -> Command:
    words = shlex.split(text, comments=True)
    env = {}
    while words and _ENV.match(words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if not words or words[0] != "leadmodel":
        raise ValueError(f"docs/cli.md line {line}: not a leadmodel command: {text!r}")
    code = _EXIT.search(text)
    return Command(line, text, words[1:], env, int(code["code"]) if code else 0, expected)


def commands(block: Block) -> list[Command]:
    """The commands of a console or bash block, each with what it must print and exit."""
    lines = block.body.splitlines()
    found: list[Command] = []
    if block.lang == "bash":
        for n, text in enumerate(lines, start=block.line + 1):
            if text.strip() and not text.lstrip().startswith("#"):
                found.append(_command(n, text, None))
        return found
    current: tuple[int, str] | None = None
    output: list[str] = []
    for n, text in enumerate(lines, start=block.line + 1):
        if text.startswith("$ "):
            if current is not None:
                found.append(_command(*current, "\n".join(output)))
            current, output = (n, text[2:]), []
        elif current is None:
            raise ValueError(f"docs/cli.md line {n}: output before any $ command")
        else:
            output.append(text)
    if current is not None:
        found.append(_command(*current, "\n".join(output)))
    return found


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines()) + "\n"


def run(command: Command, monkeypatch: pytest.MonkeyPatch, now: datetime) -> tuple[int, str]:
    """Run *command* in-process at *now*; its exit code and stdout followed by stderr."""
    monkeypatch.setattr("leadmodel._commands._now", lambda: now)
    for name, value in command.env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(command.argv)
        except SystemExit as exited:  # argparse's usage errors and --help
            code = exited.code if isinstance(exited.code, int) else 1
    for name in command.env:
        monkeypatch.delenv(name)
    return code, out.getvalue() + err.getvalue()


def check(command: Command, code: int, printed: str) -> None:
    where = f"docs/cli.md line {command.line}: $ {command.text}"
    assert code == command.exit_code, f"{where}\nexit code {code}, printed:\n{printed}"
    if command.expected is None:
        return
    want, got = _tidy(command.expected), _tidy(printed)
    if not OutputChecker().check_output(want, got, ELLIPSIS):
        pytest.fail(f"{where}\n--- the page shows:\n{want}--- it printed:\n{got}", pytrace=False)


# -- the page, block by block ----------------------------------------------------------------

BLOCKS = [block for block in blocks(PAGE.read_text(encoding="utf-8")) if block.runs or block.file]


@dataclass
class Session:
    """The directory the whole page runs in, and how many commands ran there so far."""

    folder: Path
    commands: int = 0

    def now(self) -> datetime:
        """The time of the next command (a minute after the one before)."""
        self.commands += 1
        return NOW + timedelta(minutes=self.commands - 1)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return Session(tmp_path_factory.mktemp("cli-docs"))


@pytest.fixture
def in_session(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.chdir(session.folder)
    monkeypatch.delenv("LEADMODEL_PRIVACY_KEY", raising=False)
    monkeypatch.delenv("LEADMODEL_DEBUG", raising=False)
    return session


def _server(block: Block, request: pytest.FixtureRequest) -> str:
    """A fresh schema on the test server (the postgres_schema_url fixture), or a skip."""
    where = f"docs/cli.md line {block.line}"
    if not os.environ.get("LEADMODEL_TEST_POSTGRES"):
        pytest.skip(f"{where}: needs a PostgreSQL server: set LEADMODEL_TEST_POSTGRES (.ci/run)")
    pytest.importorskip("leadmodel.adapters.postgres", reason=f"{where}: no postgres adapter")
    try:
        return str(request.getfixturevalue("postgres_schema_url"))
    except pytest.FixtureLookupError:
        pytest.skip(f"{where}: the postgres_schema_url fixture is not defined")


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line-{b.line}" for b in BLOCKS])
def test_the_example(
    block: Block, in_session: Session, monkeypatch, long_run: bool, request
) -> None:
    if block.file:
        (in_session.folder / block.file).write_text(block.body, encoding="utf-8")
        return
    if block.skip:
        pytest.skip(f"docs/cli.md line {block.line}: {block.skip}")
    if block.long and not long_run:
        pytest.skip(f"docs/cli.md line {block.line}: runs with --long (it takes seconds)")
    found = commands(block)
    if block.postgres:
        url = _server(block, request)
        found = [
            dataclasses.replace(c, argv=[url if a == PAGE_URL else a for a in c.argv])
            for c in found
        ]
    # Each command's time is fixed before any runs, so a failing one does not shift the
    # ids of later blocks. A --long block runs on a database of its own: it leaves the
    # session's clock be, so the page's ids are the same with and without --long.
    times = [NOW if block.long else in_session.now() for _ in found]
    for command, now in zip(found, times, strict=True):
        code, printed = run(command, monkeypatch, now)
        check(command, code, printed)


# -- the runner itself -----------------------------------------------------------------------


def test_every_block_of_the_page_is_closed():
    for block in blocks(PAGE.read_text(encoding="utf-8")):
        opened = [line for line in block.body.splitlines() if line.startswith("```")]
        assert not opened, f"docs/cli.md line {block.line}: a fence inside the block"


def test_the_page_has_examples_of_every_command_and_a_skipped_postgresql_one():
    ran = [c for b in BLOCKS if b.runs and not b.skip for c in commands(b)]
    assert {c.argv[0] for c in ran} >= {
        "import", "dedupe", "unmerge", "score", "qualify", "convert", "show", "report",
        "check", "tick", "privacy", "demo",
    }  # fmt: skip
    assert sum(c.expected is not None for c in ran) >= 10, "too few outputs checked"
    on_postgres = [b for b in BLOCKS if b.postgres]
    assert on_postgres, "the postgresql:// example is marked to run on the test server"
    assert all(PAGE_URL in c.argv for b in on_postgres for c in commands(b))


def test_the_parser_reads_commands_outputs_and_markers():
    page = (
        "<!-- file: a.csv -->\n```text\nx,y\n```\n\n"
        "```console\n$ leadmodel report --db a.db\nline one\n\n"
        "$ LEADMODEL_PRIVACY_KEY=k leadmodel show NOPE  # exits 1\n```\n\n"
        "<!-- cli-docs: skip needs a server -->\n```bash\nleadmodel report --db x\n```\n"
        "<!-- cli-docs: postgres -->\n```console\n$ leadmodel report --db x\n```\n"
    )
    file, console, bash, server = blocks(page)
    assert server.postgres
    assert (file.file, file.body) == ("a.csv", "x,y\n")
    first, second = commands(console)
    assert (first.argv, first.expected, first.exit_code) == (
        ["report", "--db", "a.db"],
        "line one\n",
        0,
    )
    assert (second.argv, second.env, second.exit_code) == (
        ["show", "NOPE"],
        {"LEADMODEL_PRIVACY_KEY": "k"},
        1,
    )
    assert bash.skip == "needs a server"


def test_the_checker_fails_on_a_difference_and_allows_ellipsis():
    command = Command(1, "leadmodel report", ["report"], {}, 0, "a ... c\n")
    check(command, 0, "a b c\n")
    with pytest.raises(pytest.fail.Exception):
        check(command, 0, "a b d\n")
    with pytest.raises(AssertionError):
        check(command, 1, "a b c\n")
    with pytest.raises(ValueError, match="not a leadmodel command"):
        _command(3, "rm -rf /", None)


def _page_as_printed() -> str:
    """The page with every console block's output replaced by what its commands print now."""
    import tempfile

    page = PAGE.read_text(encoding="utf-8")
    session = Session(Path(tempfile.mkdtemp()))
    os.chdir(session.folder)
    patch = pytest.MonkeyPatch()
    patch.delenv("LEADMODEL_PRIVACY_KEY", raising=False)
    pieces, end = [], 0
    for match, block in zip(_FENCE.finditer(page), blocks(page), strict=True):
        if block.file:
            Path(block.file).write_text(block.body, encoding="utf-8")
        if not block.runs or block.skip or block.long or block.postgres:
            continue
        lines = []
        for command in commands(block):
            code, printed = run(command, patch, session.now())
            lines += [f"$ {command.text}", *(_tidy(printed).splitlines() if printed else [])]
            if code != command.exit_code:
                sys.stderr.write(f"line {command.line}: exit code {code}\n")
        if block.lang == "console":
            pieces += [page[end : match.start("body")], "\n".join(lines) + "\n"]
            end = match.end("body")
    patch.undo()
    return "".join([*pieces, page[end:]])


if __name__ == "__main__":
    sys.stdout.write(_page_as_printed())
