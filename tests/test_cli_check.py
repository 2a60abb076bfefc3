"""``leadmodel check --db PATH``: one line per stored record that breaks a rule (issue 14)."""

import json
from datetime import UTC, datetime

from leadmodel import Activity, Contact, Lead
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.cli import main

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def plant(path, *records):
    """Store *records* bypassing the services, as an old release might have."""
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        for record in records:
            if isinstance(record, Lead):
                uow.leads.add(record)
            elif isinstance(record, Contact):
                uow.contacts.add(record)
            else:
                uow.activities.add(record)
        uow.commit()


def test_a_clean_database_exits_0_and_prints_no_problem(tmp_path, capsys):
    db = tmp_path / "x.db"
    plant(db, Lead(id="L1", last_name="Ng", company="Acme"))
    assert main(["check", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "0 problem(s) in 1 records" in err


def test_problems_are_printed_one_per_line_and_exit_1(tmp_path, capsys):
    db = tmp_path / "x.db"
    plant(
        db,
        Lead(id="L1", last_name="Ng", company="Acme", status="Closed - Converted"),
        Contact(id="C1", last_name="Ng", account_id="A9"),
        Activity(id="E1", subject_id="L404", kind="page_view", occurred_at=NOW),
    )
    assert main(["check", "--db", str(db)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        (
            "lead L1: missing_conversion: converted: 'Closed - Converted' is a converted status of "
            "'Default Lead Process' but the lead has no ConversionRecord; convert it with "
            "convert_lead()"
        ),
        "contact C1: missing_account: account_id 'A9': no account with this id is stored",
        (
            "activity E1: missing_subject: subject_id 'L404': no lead, contact, account or "
            "opportunity with this id is stored"
        ),
    ]
    assert "3 problem(s) in 3 records" in err


def test_json_lists_the_problems(tmp_path, capsys):
    db = tmp_path / "x.db"
    plant(db, Contact(id="C1", last_name="Ng", account_id="A9"))
    assert main(["check", "--db", str(db), "--json"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {
        "ok": False,
        "records": 1,
        "problems": [
            {
                "kind": "contact",
                "record_id": "C1",
                "code": "missing_account",
                "message": "account_id 'A9': no account with this id is stored",
            }
        ],
    }


def test_check_changes_nothing(tmp_path, capsys):
    db = tmp_path / "x.db"
    lead = Lead(id="L1", last_name="Ng", company="Acme", status="Closed - Converted")
    plant(db, lead)
    main(["check", "--db", str(db)])
    main(["check", "--db", str(db)])
    capsys.readouterr()
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        assert list(uow.leads) == [lead]
