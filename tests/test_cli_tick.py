"""``leadmodel tick``: the command-line face of run_due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadmodel import (
    AutoConvertRule,
    Condition,
    ConvertOptions,
    Lead,
    Notify,
    Reassign,
    RoundRobin,
    TimeTrigger,
    TriggerClock,
    to_dict,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.cli import main

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SLA = TimeTrigger(
    "speed to lead",
    Condition("status", "eq", "Open - Not Contacted"),
    TriggerClock.assignment(),
    timedelta(hours=1),
    [Reassign(RoundRobin(["ann", "bob"], name="sales")), Notify("manager-1", "sla_missed")],
    until={"call", "email"},
)
HOT = AutoConvertRule(
    Condition("rating", "eq", "Hot"), ConvertOptions("Closed - Converted"), name="hot"
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "leads.db"
    with SQLiteStore(path) as store, SQLiteUnitOfWork(store) as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="A", owner_id="ann", created_at=T0))
        uow.leads.add(Lead(id="L2", last_name="Ro", company="B", rating="Hot", created_at=T0))
        uow.commit()
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps({"triggers": [to_dict(SLA)], "auto_convert": [to_dict(HOT)]}), "utf-8"
    )
    return path


def test_tick_applies_the_due_triggers_once(
    db: Path, rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = (T0 + timedelta(hours=2)).isoformat()
    args = ["tick", "--db", str(db), "--rules", str(rules), "--now", now]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(o["action"]["record_id"], o["applied"]) for o in out["outcomes"]] == [
        ("L1", True),
        ("L1", True),
    ]
    assert [c["lead_id"] for c in out["conversions"]] == ["L2"]
    assert [n["recipient"] for n in out["outbox"]] == ["manager-1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "0 action(s) applied" in text
    with SQLiteStore(db) as store, SQLiteUnitOfWork(store) as uow:
        assert uow.leads.get("L1").owner_id == "bob"  # type: ignore[union-attr]


BAD = [
    ("[1, 2]", None, "must be a JSON object"),
    ("{nope", None, "is not JSON"),
    ('{"triggers": [{"name": "x"}]}', None, "triggers[0] is not valid"),
    ('{"triggers": []}', "yesterday", "is not an ISO 8601 time"),
    ('{"triggers": []}', "2026-03-02T09:00:00", "needs a UTC offset"),
]


@pytest.mark.parametrize("case", BAD)
def test_bad_rules_or_times_are_usage_errors(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str | None, str]
) -> None:
    content, now, message = case
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    args = ["tick", "--db", str(db), "--rules", str(path)]
    if now is not None:
        args += ["--now", now]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_a_missing_rules_file_is_a_usage_error(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tick", "--db", str(db), "--rules", str(db.parent / "none.json")]) == 2
    assert "cannot read rules" in capsys.readouterr().err
