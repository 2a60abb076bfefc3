"""The store port from the command line: ``--db`` takes a SQLite path or a postgresql:// URL.

``open_store`` routes a target to its adapter; the commands only see the
:class:`~leadmodel.ports.Store` port, so a fake PostgreSQL module (a memory store behind a
``postgresql://`` URL) runs every command here without a server. Hostile targets give one
``leadmodel: error: …`` line and exit code 2, and never print a URL's password.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import EmailAddress, InvalidDatabasePath, Lead, StorageError, ValidationError
from leadmodel.adapters import open_store
from leadmodel.adapters._targets import masked, redacted, url_scheme
from leadmodel.adapters.memory import MemoryStore
from leadmodel.adapters.sqlite import SQLiteStore
from leadmodel.cli import main
from leadmodel.ports import Store, SupportsScrub

SECRET = "s3cret-Pa55"  # noqa: S105 - a made-up password the output must never show
URL = f"postgresql://ann:{SECRET}@db.example:5432/crm"


class FakePostgresStore(MemoryStore):
    """Stands in for ``leadmodel.adapters.postgres.PostgresStore``: a memory store by URL."""

    opened: list[tuple[str, dict[str, object]]] = []  # noqa: RUF012 - shared on purpose
    shared = MemoryStore()

    def __new__(cls, url: str, *, pool_size: int = 4):
        cls.opened.append((url, {"pool_size": pool_size}))
        return cls.shared  # one "server": every open sees the same data


@pytest.fixture
def no_postgres(monkeypatch):
    """The postgres extra is not installed (or its module is absent)."""
    monkeypatch.setitem(sys.modules, "leadmodel.adapters.postgres", None)


@pytest.fixture
def fake_postgres(monkeypatch):
    """A ``leadmodel.adapters.postgres`` whose PostgresStore is a shared memory store."""
    module = types.ModuleType("leadmodel.adapters.postgres")
    module.PostgresStore = FakePostgresStore  # type: ignore[attr-defined]
    FakePostgresStore.opened = []
    FakePostgresStore.shared = MemoryStore()
    monkeypatch.setitem(sys.modules, "leadmodel.adapters.postgres", module)
    return FakePostgresStore


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# -- open_store ------------------------------------------------------------------------------


def test_a_path_opens_sqlite(tmp_path):
    for target in (str(tmp_path / "a.db"), tmp_path / "b.db", ":memory:", "file:c.db"):
        with open_store(target) as store:
            assert isinstance(store, SQLiteStore)
            assert isinstance(store, SupportsScrub)
            assert store.count("lead") == 0


def test_options_go_to_the_store_and_unknown_ones_are_refused(tmp_path):
    with open_store(tmp_path / "a.db", timeout=0.5) as store:
        assert isinstance(store, SQLiteStore)
    with pytest.raises(ValidationError) as raised:
        open_store(tmp_path / "b.db", pool_size=3)
    assert raised.value.errors[0].path == "options"
    assert "timeout" in str(raised.value)
    assert not (tmp_path / "b.db").exists()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
def test_a_postgresql_url_opens_the_postgres_store_lazily(fake_postgres, scheme):
    url = f"{scheme}://ann@db.example/crm"
    store = open_store(url, pool_size=2)
    assert store is fake_postgres.shared
    # the scheme in lower case, as PostgresStore takes it
    assert fake_postgres.opened == [(url.replace(scheme, scheme.lower(), 1), {"pool_size": 2})]


def test_a_postgresql_url_without_the_extra_names_the_extra_and_hides_the_password(
    no_postgres, tmp_path
):
    with pytest.raises(ValidationError) as raised:
        open_store(URL)
    error = raised.value.errors[0]
    assert (error.path, error.code) == ("postgres", "missing")
    assert 'pip install "leadmodel[postgres]"' in error.message
    assert SECRET not in str(raised.value)
    assert "ann:***@db.example" in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # no file named like the URL


@pytest.mark.parametrize(
    "target",
    [
        "mysql://ann:pw@db/crm",
        "http://example.org/leads.db",
        "sqlite://leads.db",
        "postgresql+psycopg://ann@db/crm",
    ],
)
def test_another_url_scheme_is_refused_and_creates_no_file(target, tmp_path):
    with pytest.raises(InvalidDatabasePath) as raised:
        open_store(target)
    assert "postgresql://" in str(raised.value)
    assert "pw@" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["notaport", "99999", "0", "-1", "5432x", "٥٤٣٢"])
def test_a_url_with_a_bad_port_is_refused_before_any_import(port, no_postgres):
    with pytest.raises(InvalidDatabasePath) as raised:
        open_store(f"postgresql://ann:{SECRET}@db:{port}/crm")
    assert "port" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_good_ports_and_several_hosts_pass_the_port_check(fake_postgres):
    for url in (
        "postgresql://db:5432/crm",
        "postgresql://[::1]:5432/crm",
        "postgresql://[::1]/crm",
        "postgresql://h1:5432,h2:5433/crm",
        "postgresql:///crm?host=/var/run/postgresql",
        "postgresql://",
    ):
        assert open_store(url) is fake_postgres.shared


@pytest.mark.parametrize("target", [None, 42, b"leads.db", ["leads.db"], "", "a\x00b"])
def test_a_target_that_is_no_path_is_refused(target):
    with pytest.raises(InvalidDatabasePath):
        open_store(target)  # type: ignore[arg-type]


def test_a_huge_url_is_refused_without_echoing_it():
    with pytest.raises(InvalidDatabasePath) as raised:
        open_store("postgresql://" + "h" * 100_000)
    assert len(str(raised.value)) < 500


# -- masking ---------------------------------------------------------------------------------

# What may stand in a URL's user part unencoded, and in a query value (no "&" there).
_PART = st.text("abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_.~%!$&'()*+;=", min_size=1)
_VALUE = st.text("abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_.~%!$'()*+;=:@/", min_size=1)
_HOST = st.from_regex(r"[a-z]{3,10}", fullmatch=True)


@given(user=_PART, password=_PART, other=_VALUE, host=_HOST)
def test_masked_hides_exactly_the_passwords(user, password, other, host):
    url = f"postgresql://{user}:{password}@{host}:5432/crm?password={other}&sslmode=require"
    assert masked(url) == f"postgresql://{user}:***@{host}:5432/crm?password=***&sslmode=require"
    said = redacted(f"cannot open {url}: refused", url)
    assert f":{password}@" not in said
    assert f"={other}&" not in said


@given(st.text(max_size=200))
def test_masked_and_redacted_never_fail_and_leave_paths_alone(text):
    if url_scheme(text) is None and not text.lower().startswith("postgres"):
        assert masked(text) == text  # (a "postgresql:" without "//" is masked, and refused)
    assert isinstance(redacted(text, text), str)


@given(st.text(max_size=200).filter(lambda t: "://" not in t))
def test_text_without_a_scheme_separator_is_never_a_url(text):
    assert url_scheme(text) is None


# -- the commands over the port --------------------------------------------------------------


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err):
    assert err.startswith("leadmodel: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert SECRET not in err


def test_every_command_runs_on_a_postgresql_url_through_the_port(fake_postgres, capsys, tmp_path):
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "First Name,Last Name,Company,Email\n"
        "Ada,Lovelace,Engines,ada@example.org\n"
        "Ada,Lovelace,Engines,ADA@example.org\n"
        "Charles,Babbage,Engines,cb@example.org\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "import", str(leads), "--db", URL, "--json")
    assert code == 0
    assert json.loads(out)["created"] == 3
    assert fake_postgres.shared.count("lead") == 3
    code, out, _ = run(capsys, "dedupe", "--db", URL, "--json", "--merge")
    assert code == 0
    assert len(json.loads(out)["merged"]) == 1
    code, out, _ = run(capsys, "report", "--db", URL, "--json")
    assert (code, json.loads(out)["leads"]) == (0, 2)
    code, out, _ = run(capsys, "check", "--db", URL, "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    key = tmp_path / "key"
    key.write_bytes(b"host secret")
    erase = ["privacy", "erase", "--db", URL, "--email", "ada@example.org", "--key-file"]
    code, out, _ = run(capsys, *erase, str(key), "--mode", "delete")
    assert code == 0
    assert "keeps nothing of deleted records to scrub" in out
    assert fake_postgres.shared.count("lead") == 1
    assert all(url == URL for url, _ in fake_postgres.opened)


def test_privacy_on_a_url_is_not_refused_as_a_missing_file(no_postgres, capsys):
    code, _, err = run(capsys, "privacy", "find", "--db", URL, "--email", "a@example.org")
    assert code == 2
    assert_one_error_line(err)
    assert "no database at" not in err
    assert "postgres extra" in err


def test_privacy_on_a_missing_file_is_still_refused(capsys, tmp_path):
    missing = tmp_path / "missing.db"
    code, _, err = run(capsys, "privacy", "find", "--db", str(missing), "--email", "a@b.org")
    assert code == 2
    assert err == f"leadmodel: error: no database at {missing}\n"
    assert not missing.exists()


@pytest.mark.parametrize(
    "target",
    [
        "",
        "postgresql://",
        f"postgresql://ann:{SECRET}@db:notaport/crm",
        f"postgresql://ann:{SECRET}@db:70000/crm",
        f"mysql://ann:{SECRET}@db/crm",
        "http://example.org/leads.db",
        ".",
    ],
)
def test_a_hostile_db_gives_one_error_line_and_exit_code_2(target, no_postgres, capsys):
    code, out, err = run(capsys, "report", "--db", target)
    assert code == 2
    assert out == ""
    assert_one_error_line(err)


def test_a_file_that_is_not_a_database_is_refused(capsys, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just some words " * 100, encoding="utf-8")
    code, _, err = run(capsys, "report", "--db", str(text))
    assert code == 2
    assert_one_error_line(err)
    assert "not a SQLite database" in err


def test_an_error_raised_by_the_store_never_prints_the_password(monkeypatch, capsys):
    module = types.ModuleType("leadmodel.adapters.postgres")

    class Refusing:
        def __init__(self, url: str) -> None:
            raise StorageError(f"cannot connect to {url}: password {SECRET} refused", path=url)

    module.PostgresStore = Refusing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leadmodel.adapters.postgres", module)
    code, _, err = run(capsys, "report", "--db", URL)
    assert code == 2
    assert_one_error_line(err)
    assert "postgresql://ann:***@db.example:5432/crm" in err


def test_the_demo_stays_on_sqlite(capsys):
    code, _, err = run(capsys, "demo", "--db", URL)
    assert code == 2
    assert "SQLite" in err
    assert SECRET not in err


def test_the_db_help_names_both_kinds(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "SQLite path or a postgresql:// URL" in " ".join(out.split())


def test_a_store_opened_by_the_command_line_is_a_store(tmp_path):
    store: Store = open_store(tmp_path / "x.db")
    with store, store.unit_of_work() as uow:
        uow.leads.add(
            Lead(id="L1", last_name="Ng", company="X", email=EmailAddress.parse("ng@x.org"))
        )
        uow.commit()
    assert Path(tmp_path / "x.db").exists()


def test_a_short_password_is_masked_where_it_stands_without_garbling_the_message():
    url = "postgresql://ann:ab@db/crm"
    said = redacted(f"database crm: cannot open {url}; user ann:ab@db refused", url)
    assert said == "database crm: cannot open postgresql://ann:***@db/crm; user ann:***@db refused"
