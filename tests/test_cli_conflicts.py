"""The CLI under concurrency: a database another writer holds exits 4, never a traceback."""

import functools
import json
import sqlite3

from leadmodel import Condition, FitRule, Lead, ScoringModel, to_json
from leadmodel.adapters import open_store
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.cli import EXIT_CONFLICT, main


def stored(path):
    with SQLiteUnitOfWork(SQLiteStore(path)) as uow:
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", source="Web"))
        uow.commit()


def test_score_on_a_database_held_by_another_writer_exits_4_and_saves_nothing(
    tmp_path, capsys, monkeypatch
):
    path = tmp_path / "leads.db"
    stored(path)
    model = tmp_path / "model.json"
    model.write_text(
        to_json(ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 80)]))
    )
    monkeypatch.setattr("leadmodel.cli.open_store", functools.partial(open_store, timeout=0.05))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code = main(["score", "--db", str(path), "--model", str(model), "--json"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    captured = capsys.readouterr()
    assert code == EXIT_CONFLICT == 4
    assert json.loads(captured.out)["conflicts"] == ["L1"]
    assert captured.err.startswith("leadmodel: conflict: 1 lead(s) changed by someone else")
    assert "Traceback" not in captured.err
    with SQLiteUnitOfWork(SQLiteStore(path)) as uow:
        assert "score" not in uow.leads.get("L1").custom
    # Once the other writer is done, running again saves the score.
    assert main(["score", "--db", str(path), "--model", str(model)]) == 0
