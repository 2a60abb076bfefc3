"""Hostile review of the store port and the command line on any store (issue 20, item 4).

Every test here failed before its fix: a URL's password reached stderr through argparse's
own error messages, through the internal-error line, and through a message cut at 500
characters in the middle of the password; ``privacy`` refused an existing database named
by a ``file:`` URI.
"""

from __future__ import annotations

import functools
import multiprocessing
import sqlite3
import sys
import types

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadmodel import FieldError, InvalidDatabasePath, Lead, StorageError, ValidationError
from leadmodel.adapters import open_store
from leadmodel.adapters._targets import masked, redacted
from leadmodel.adapters.memory import MemoryStore
from leadmodel.adapters.sqlite import SQLiteStore
from leadmodel.cli import EXIT_INTERNAL, main
from leadmodel.testing.contracts import StoreContract

SECRET = "Xq9-s3cret-Pa55word"  # noqa: S105 - a made-up password the output must never show
URL = f"postgresql://ann:{SECRET}@db.example:5432/crm"


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADMODEL_DEBUG", raising=False)


def postgres_module(monkeypatch, store_class: type) -> None:
    module = types.ModuleType("leadmodel.adapters.postgres")
    module.PostgresStore = store_class  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leadmodel.adapters.postgres", module)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def no_fragment_of_the_secret(text: str) -> bool:
    """Not even 6 characters of the password in a row."""
    return all(SECRET[i : i + 6] not in text for i in range(len(SECRET) - 5))


# -- argparse echoes what it did not understand ----------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["report", URL],  # --db forgotten
        ["--db", URL, "report"],  # --db before the command
        [URL],
        ["report", "--db", URL, "--nosuch"],
        ["report", f"--db={URL}", "--json", "extra", URL],
        ["privacy", "erase", "--db", URL, "--email", "a@b.org", "--mode", URL],
    ],
)
def test_a_usage_error_never_echoes_a_password(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    out, err = capsys.readouterr()
    assert raised.value.code == 2
    assert no_fragment_of_the_secret(out + err), err
    if "--nosuch" not in argv:  # the URL itself was not understood: shown masked
        assert "ann:***@db.example" in err


# -- the internal-error line ------------------------------------------------------------------


class ExplodingStore(MemoryStore):
    """A store whose driver fails with a non-leadmodel error naming the URL (as drivers do)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def unit_of_work(self):  # type: ignore[override]
        cause = OSError(f"socket to {self.url} reset")
        raise RuntimeError(f"driver failed on {self.url}") from cause


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_an_internal_error_never_prints_the_password(as_json, monkeypatch, capsys):
    postgres_module(monkeypatch, ExplodingStore)
    code, out, err = run(capsys, "report", "--db", URL, *as_json)
    assert code == EXIT_INTERNAL
    assert out == ""
    assert err.startswith("leadmodel: internal error (please report it): RuntimeError: ")
    assert "ann:***@db.example" in err
    assert no_fragment_of_the_secret(err)


# -- a message cut in the middle of the password ----------------------------------------------


@pytest.mark.parametrize("cut", range(480, 520, 3))
def test_a_long_message_is_never_cut_inside_the_password(cut, monkeypatch, capsys):
    class Refusing:
        def __init__(self, url: str) -> None:
            raise StorageError("x" * (cut - len("postgresql://ann:")) + f"{url} refused")

    postgres_module(monkeypatch, Refusing)
    code, _, err = run(capsys, "report", "--db", URL)
    assert code == 2
    assert no_fragment_of_the_secret(err), err


def test_an_error_while_a_command_runs_is_never_cut_inside_the_password(monkeypatch, capsys):
    class FailingStore(MemoryStore):
        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

        def unit_of_work(self):  # type: ignore[override]
            raise StorageError("y" * 490 + f"{self.url} went away")

    postgres_module(monkeypatch, FailingStore)
    code, _, err = run(capsys, "check", "--db", URL)
    assert code == 2
    assert no_fragment_of_the_secret(err), err


# -- file: URIs ------------------------------------------------------------------------------


def test_privacy_opens_an_existing_database_named_by_a_file_uri(tmp_path, capsys):
    sqlite3.connect(tmp_path / "crm.db").close()
    code, _, err = run(capsys, "privacy", "find", "--db", "file:crm.db", "--email", "a@b.org")
    assert "no database at" not in err
    assert code == 0, err


def test_privacy_still_refuses_a_file_uri_naming_no_file(tmp_path, capsys):
    code, _, err = run(
        capsys, "privacy", "find", "--db", "file:none.db?mode=rwc", "--email", "a@b.org"
    )
    assert code == 2
    assert "no database at file:none.db" in err
    assert not (tmp_path / "none.db").exists()


# -- a password holding "?" or "#" (libpq ends the user part at "@" before any "/") ----------


@pytest.mark.parametrize("password", ["pa?ss-word", "pa#ss-word", "pa?s#s:w@rd"])
def test_a_password_with_a_query_or_fragment_sign_is_masked_and_not_taken_for_a_port(
    password, monkeypatch, capsys
):
    url = f"postgresql://ann:{password}@db.example:5432/crm"
    opened: list[str] = []

    class Recording(MemoryStore):
        def __init__(self, target: str) -> None:
            super().__init__()
            opened.append(target)

    assert masked(url) == "postgresql://ann:***@db.example:5432/crm"
    assert redacted(f"cannot reach {url} ({password})", url) == (
        "cannot reach postgresql://ann:***@db.example:5432/crm (***)"
    )
    postgres_module(monkeypatch, Recording)
    code, _, err = run(capsys, "report", "--db", url)
    assert (code, err) == (0, "")
    assert opened == [url]


def test_a_query_password_right_after_the_host_is_still_masked():
    assert masked("postgresql://db?password=s3cret&sslmode=require") == (
        "postgresql://db?password=***&sslmode=require"
    )


def test_an_absolute_file_uri_opens_sqlite(tmp_path, capsys):
    uri = f"file://{tmp_path}/crm.db"
    with open_store(uri) as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "crm.db").exists()
    code, _, err = run(capsys, "privacy", "find", "--db", uri, "--email", "a@b.org")
    assert (code, err) == (0, "")
    code, _, err = run(capsys, "report", "--db", f"file://localhost{tmp_path}/crm.db?mode=rw")
    assert (code, err) == (0, "")


# -- StoreContract against broken stores (mutation test of the kit) --------------------------


class _SwallowingStore(MemoryStore):
    """``__exit__`` returns True: every error inside ``with store:`` vanishes."""

    def __exit__(self, *exc_info: object) -> bool:  # type: ignore[override]
        self.close()
        return True


class _SameUnitStore(MemoryStore):
    def unit_of_work(self):  # type: ignore[override]
        if not hasattr(self, "unit"):
            self.unit = super().unit_of_work()
        return self.unit


class _CountingAnythingStore(MemoryStore):
    def count(self, kind: str) -> int:
        return super().count(kind) if kind in self.tables else 0


class _ForgetfulStore(MemoryStore):
    """Each unit of work over a store of its own: commits are never seen again."""

    def unit_of_work(self):  # type: ignore[override]
        return MemoryStore().unit_of_work()


class _ScrubbingTooMuchStore(MemoryStore):
    def scrub(self) -> None:
        for table in self.tables.values():
            table.records.clear()


class _TextVersionStore(MemoryStore):
    @property
    def schema_version(self) -> int:
        return "6"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (_SwallowingStore, "test_closing_twice_and_closing_after_an_error_are_safe"),
        (_SameUnitStore, "test_each_unit_of_work_is_a_new_independent_unit"),
        (_CountingAnythingStore, "test_count_refuses_a_kind_it_does_not_store"),
        (_ForgetfulStore, "test_a_commit_is_seen_by_every_later_unit_and_a_rollback_by_none"),
        (_ScrubbingTooMuchStore, "test_scrub_keeps_every_remaining_record"),
        (_TextVersionStore, "test_schema_version_is_a_positive_number"),
    ],
)
def test_the_store_contract_catches_a_broken_store(broken, test):
    class Contract(StoreContract):
        def store(self):
            return broken()

    with pytest.raises(AssertionError):
        getattr(Contract(), test)()


# -- control characters in --db ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["report", "--db", "no\nsuch/dir\x1b[31m/x.db"], "no\\nsuch/dir\\x1b[31m/x.db"),
        (["privacy", "find", "--email", "a@b.org", "--db", "gone\r\n.db"], "gone\\r\\n.db"),
        (["report", "--db", "postgresql://ann:pw\u2028xx@db/crm\x07"], "postgresql://ann:***@"),
    ],
)
def test_an_error_about_a_db_with_control_characters_is_one_line(argv, shown, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("leadmodel: error: ")
    assert err.endswith("\n")
    assert len(err[:-1].splitlines()) == 1, err
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in err[:-1]), err
    assert shown in err


def test_the_debug_traceback_never_shows_the_password(monkeypatch, capsys):
    postgres_module(monkeypatch, ExplodingStore)
    monkeypatch.setenv("LEADMODEL_DEBUG", "1")
    code, out, err = run(capsys, "report", "--db", URL, "--json")
    assert code == EXIT_INTERNAL
    assert out == ""
    assert "Traceback (most recent call last)" in err
    assert "OSError: socket to postgresql://ann:***@db.example:5432/crm reset" in err  # the cause
    assert "RuntimeError: driver failed on postgresql://ann:***@db.example:5432/crm" in err
    assert no_fragment_of_the_secret(err)


# -- a name longer than the file system takes --------------------------------------------------


@pytest.mark.parametrize("length", [300, 100_000])
def test_a_name_too_long_is_an_invalid_database_path(length, tmp_path, capsys):
    name = "a" * length + ".db"
    with pytest.raises(InvalidDatabasePath) as raised:
        open_store(name)
    assert len(str(raised.value)) < 1000
    code, _, err = run(capsys, "report", "--db", name)
    assert code == 2
    assert err.startswith("leadmodel: error: cannot open ")
    assert len(err) < 1200
    assert list(tmp_path.iterdir()) == []


def test_privacy_on_a_name_too_long_says_there_is_no_database(capsys):
    code, _, err = run(capsys, "privacy", "find", "--db", "b" * 5000, "--email", "a@b.org")
    assert code == 2
    assert err.startswith("leadmodel: error: no database at bbbb")
    assert len(err) < 500


# -- a PostgreSQL URL without its "//" is no file name -----------------------------------------


@pytest.mark.parametrize(
    "target", ["postgresql:crm", "postgres:/db/crm", "PostgreSQL:ann:s3cret-pw@db/crm"]
)
def test_a_postgresql_url_missing_its_slashes_creates_no_file(target, tmp_path, capsys):
    with pytest.raises(InvalidDatabasePath) as raised:
        open_store(target)
    assert "postgresql://" in str(raised.value).lower()
    code, out, err = run(capsys, "report", "--db", target)
    assert (code, out) == (2, "")
    assert err.startswith("leadmodel: error: cannot open ")
    assert "s3cret-pw" not in str(raised.value) + err
    assert list(tmp_path.iterdir()) == []


def test_privacy_on_a_postgresql_url_missing_its_slashes_says_so(capsys):
    argv = ["privacy", "find", "--email", "a@b.org", "--db", "postgresql:ann:pw12345@db/crm"]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "needs // after the colon" in err
    assert "pw12345" not in err


def test_a_file_whose_name_merely_starts_like_a_scheme_still_opens(tmp_path):
    for name in ("postgresql.db", "postgres-backup.db", "pg:crm.db"):
        with open_store(name) as store:
            assert isinstance(store, SQLiteStore)


# -- two processes creating one new SQLite file at once -----------------------------------------


class _Cursor:
    def __init__(self, rows: list[tuple[object, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[object, ...] | None:
        return self.rows[0] if self.rows else None


def _racing_connect(path, monkeypatch):
    """``sqlite3.connect`` whose first ``PRAGMA user_version`` lets another open of *path*
    create the schema right after it was read: what a second process does at that moment.
    """
    real_connect = sqlite3.connect
    raced: list[bool] = []

    class Racing(sqlite3.Connection):
        def execute(self, sql, *args):  # type: ignore[override]
            cursor = super().execute(sql, *args)
            if sql == "PRAGMA user_version" and not raced:
                raced.append(True)
                rows = cursor.fetchall()
                SQLiteStore(path).close()  # the other process, all the way through
                return _Cursor(rows)
            return cursor

    monkeypatch.setattr(sqlite3, "connect", functools.partial(real_connect, factory=Racing))
    return raced


def test_a_new_file_created_by_another_process_meanwhile_opens(tmp_path, monkeypatch, capsys):
    path = tmp_path / "new.db"
    raced = _racing_connect(path, monkeypatch)
    with SQLiteStore(path) as store:
        assert raced
        assert store.schema_version >= 1
        with store.unit_of_work() as uow:
            uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
            uow.commit()
        assert store.count("lead") == 1


def test_the_command_line_on_a_new_file_another_process_creates_meanwhile(
    tmp_path, monkeypatch, capsys
):
    _racing_connect(tmp_path / "crm.db", monkeypatch)
    code, out, err = run(capsys, "report", "--db", str(tmp_path / "crm.db"))
    assert (code, err) == (0, "")
    assert "0 leads" in out


def _open(path: str) -> None:
    SQLiteStore(path).close()


def test_processes_opening_one_new_file_at_once_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(3):
        path = str(tmp_path / f"race{round_}.db")
        with context.Pool(6) as pool:
            pool.map(_open, [path] * 6)  # an error in any process is raised here
        with SQLiteStore(path) as store:
            assert store.count("lead") == 0


def test_a_query_password_holding_a_hash_sign_is_masked_whole():
    url = "postgresql://db/crm?password=pa#zz9qq&sslmode=require"  # libpq: "pa#zz9qq"
    assert masked(url) == "postgresql://db/crm?password=***&sslmode=require"
    assert "zz9qq" not in redacted(f"cannot reach {url}", url)


# -- the docs/cli.md runner ---------------------------------------------------------------------


def test_the_cli_docs_runner_reads_exit_as_its_docstring_says():
    from test_cli_docs import _command

    assert _command(1, "leadmodel show NOPE  # exit 1", None).exit_code == 1  # as documented
    assert _command(2, "leadmodel show NOPE  # exits 1", None).exit_code == 1
    assert _command(3, "leadmodel check  # (exit code 1 if any)", None).exit_code == 0


# -- the demo's --db ---------------------------------------------------------------------------


def _a_database_with_one_lead(path) -> None:
    with SQLiteStore(path) as store, store.unit_of_work() as uow:
        uow.leads.add(Lead(id="MINE", last_name="Ng", company="Acme"))
        uow.commit()


@pytest.mark.parametrize("uri", ["file:mine.db", "file:mine.db?mode=rw", "file://{tmp}/mine.db"])
def test_the_demo_never_writes_into_an_existing_database_named_by_a_file_uri(uri, tmp_path, capsys):
    _a_database_with_one_lead(tmp_path / "mine.db")
    before = (tmp_path / "mine.db").read_bytes()
    code, out, err = run(capsys, "demo", "--db", uri.format(tmp=tmp_path))
    assert code == 2
    assert out == ""
    assert err.startswith("leadmodel demo: file:")
    assert "exists; give a new file name" in err
    assert (tmp_path / "mine.db").read_bytes() == before


@pytest.mark.parametrize("target", ["nosuchdir/demo.db", ".", "postgresql:crm", "a" * 300])
def test_the_demo_on_a_database_it_cannot_open_is_one_line_and_exit_2(target, capsys):
    code, out, err = run(capsys, "demo", "--db", target)
    assert code == 2
    assert out == ""
    assert err.startswith("leadmodel demo: ")
    assert err.count("\n") == 1
    assert "internal error" not in err


# -- masking against libpq's own reading of a URL ------------------------------------------------

_URL_CHARS = "abcXYZ019-_.~!$&'()+,;=:@?#%[]"


@settings(max_examples=300, deadline=None)
@given(
    user=st.text("abcdef", min_size=1, max_size=5),
    password=st.text(_URL_CHARS, min_size=1, max_size=12),
    in_query=st.booleans(),
    rest=st.sampled_from(["db/crm", "db:5432/crm", "db", "db?sslmode=require", "[::1]:5432/crm"]),
)
@example(user="a", password="0000@", in_query=False, rest="db/crm")  # noqa: S106 - libpq: "0000"
@example(user="a", password="pa#zz9qq", in_query=True, rest="db")  # noqa: S106
def test_the_password_libpq_reads_is_never_shown(user, password, in_query, rest):
    conninfo = pytest.importorskip("psycopg.conninfo")
    psycopg = pytest.importorskip("psycopg")
    if in_query:
        url = f"postgresql://db/crm?sslmode=require&password={password}"
    else:
        url = f"postgresql://{user}:{password}@{rest}"
    try:
        real = conninfo.conninfo_to_dict(url).get("password")
    except (psycopg.Error, UnicodeDecodeError):
        return  # libpq refuses the URL
    words = f"postgresql://db/crm?sslmode=require&password=:5432[::1] {user}"
    if not real or len(real) < 4 or real in words:
        return  # too short to mask in every word, or a word of the URL anyway
    assert real not in masked(url).replace(user, "")
    assert real not in redacted(f"cannot connect: {url} (password {real!r})", url)


# -- open_store hides the password whatever the PostgreSQL store says ----------------------------


def _refusing_with(error_of):
    class Refusing:
        def __init__(self, url: str) -> None:
            raise error_of(url)

    return Refusing


@pytest.mark.parametrize(
    "error_of",
    [
        lambda url: StorageError(f"{url!r}: cannot use the server", path=url),
        lambda url: InvalidDatabasePath(f"not {url!r}", path=url),
        lambda url: ValidationError("PostgresStore", [FieldError("url", "invalid", url)]),
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        URL,
        f"postgresql://db.example/crm?password={SECRET}&connect_timeout=1",
        f"postgresql://ann:pa?{SECRET}@db.example/crm",
    ],
)
def test_open_store_never_lets_the_stores_error_show_the_password(error_of, url, monkeypatch):
    postgres_module(monkeypatch, _refusing_with(error_of))
    expected = type(error_of(url))
    with pytest.raises(expected) as raised:
        open_store(url)
    error = raised.value
    assert type(error) is expected
    shown = str(error) + repr(error) + repr(vars(error))
    assert no_fragment_of_the_secret(shown), shown
    assert "***" in shown
    assert error.__cause__ is None


def test_open_store_hands_the_store_a_lower_case_scheme(monkeypatch):
    opened: list[str] = []

    class Recording(MemoryStore):
        def __init__(self, url: str) -> None:
            super().__init__()
            opened.append(url)

    postgres_module(monkeypatch, Recording)
    open_store("PostgreSQL://ann@db/crm")
    open_store("POSTGRES://ann@db/crm")
    assert opened == ["postgresql://ann@db/crm", "postgres://ann@db/crm"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:pa?ss@db/crm",
        "postgresql://ann:pa#ss@db/crm",
        "postgresql://ann@db/crm?password=s3cret&sslmode=require",
    ],
)
def test_the_postgres_adapter_names_a_url_without_its_password(url):
    pytest.importorskip("psycopg")
    from leadmodel.adapters.postgres import _redacted

    assert "pa?ss" not in _redacted(url)
    assert "pa#ss" not in _redacted(url)
    assert "s3cret" not in _redacted(url)
