"""``leadmodel privacy find|export|erase``: the command-line face of the privacy services."""

from __future__ import annotations

import json

import pytest

from leadmodel import EmailAddress, Lead, PhoneNumber
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.cli import main
from leadmodel.services import is_erased


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        uow = SQLiteUnitOfWork(store)
        with uow:
            uow.leads.add(
                Lead(
                    id="L1",
                    first_name="Ada",
                    last_name="Lovelace",
                    company="Engines",
                    email=EmailAddress.parse("ada@example.org"),
                    phone=PhoneNumber.parse("+14155550101"),
                )
            )
            uow.leads.add(Lead(id="L2", last_name="Babbage", company="Engines"))
            uow.commit()
    return path


def test_find_lists_the_records(database, capsys):
    assert main(["privacy", "find", "--db", str(database), "--email", "ADA@example.org"]) == 0
    out = capsys.readouterr().out
    assert "1 record(s)" in out
    assert "L1" in out
    assert "L2" not in out


def test_export_prints_the_document_or_writes_it(database, capsys, tmp_path):
    args = ["privacy", "export", "--db", str(database), "--phone", "415 555 0101"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["records"]["lead"][0]["id"] == "L1"
    target = tmp_path / "export.json"
    assert main([*args, "--output", str(target)]) == 0
    assert json.loads(target.read_text())["request"]["phone"] == "+14155550101"


def test_erase_needs_a_key_then_scrubs(database, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("LEADMODEL_PRIVACY_KEY", raising=False)
    args = ["privacy", "erase", "--db", str(database), "--email", "ada@example.org"]
    assert main([*args, "--mode", "delete"]) == 2
    assert "privacy key" in capsys.readouterr().err
    key = tmp_path / "key"
    key.write_bytes(b"host secret\n")
    assert main([*args, "--mode", "delete", "--key-file", str(key), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scrubbed"] is True
    assert [f["record_id"] for f in result["deleted"]] == ["L1"]
    assert b"ada@example.org" not in database.read_bytes()
    monkeypatch.setenv("LEADMODEL_PRIVACY_KEY", "host secret")
    assert main(["privacy", "find", "--db", str(database), "--email", "ada@example.org"]) == 0
    with SQLiteStore(database) as store, SQLiteUnitOfWork(store) as uow:
        assert sorted(e.kind for e in uow.privacy_log) == ["erase", "erase", "find"]
        assert is_erased(uow, _Key(), email="Ada@Example.org")
        assert is_erased(uow, _Key(), phone="+1 (415) 555-0101")
        assert not is_erased(uow, _Key(), email="babbage@example.org")


class _Key:
    def secret(self) -> bytes:
        return b"host secret"


def test_bad_requests_are_one_line_and_exit_2(database, capsys, tmp_path):
    assert main(["privacy", "find", "--db", str(database)]) == 2
    assert "name the person" in capsys.readouterr().err
    assert main(["privacy", "find", "--db", str(database), "--email", "nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    missing = tmp_path / "absent"
    args = ["privacy", "erase", "--db", str(database), "--name", "Ada Lovelace", "--mode"]
    assert main([*args, "delete", "--key-file", str(missing)]) == 2
    assert "cannot read the key file" in capsys.readouterr().err
