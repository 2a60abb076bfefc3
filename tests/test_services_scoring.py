"""services.rescore: scores saved in batches, ScoreChanged events, all or nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leadmodel import (
    Activity,
    Band,
    Condition,
    ConversionRecord,
    EngagementRule,
    FitRule,
    Lead,
    Outcome,
    RecordNotFound,
    ScoringModel,
    ValidationError,
    train_predictive,
    update,
)
from leadmodel.adapters.memory import MemoryUnitOfWork
from leadmodel.services import rescore

NOW = datetime(2026, 4, 1, tzinfo=UTC)
MODEL = ScoringModel(
    fit=[FitRule("web", Condition("source", "eq", "Web"), 30)],
    engagement=[EngagementRule("demo", "demo", 50)],
    bands=[Band("Hot", 70), Band("Warm", 30), Band("Cold")],
    name="inbound",
)


def stored(*leads, activities=()):
    uow = MemoryUnitOfWork()
    with uow:
        for lead in leads:
            uow.leads.add(lead)
        for activity in activities:
            uow.activities.add(activity)
        uow.commit()
    return uow


def lead(i, **fields):
    return Lead(id=f"L{i}", last_name="Ng", company="Acme", **fields)


def get(uow, lead_id):
    with uow:
        return uow.leads.get(lead_id)


def test_scores_are_saved_with_events_and_unchanged_scores_are_left_alone():
    demo = Activity(id="A1", subject_id="L1", kind="demo", occurred_at=NOW - timedelta(1))
    uow = stored(lead(1, source="Web"), lead(2), activities=[demo])
    report = rescore(uow, MODEL, now=NOW)
    assert (report.scored, report.changed) == (2, 2)
    assert get(uow, "L1").custom["score"] == Decimal(80)
    assert get(uow, "L1").updated_at == NOW
    first = {e.lead_id: e for e in report.events}
    assert first["L1"].previous is None
    assert first["L1"].current == 80
    assert first["L1"].rating == "Hot"
    assert first["L1"].model == "inbound"
    again = rescore(uow, MODEL, now=NOW + timedelta(1))
    assert (again.scored, again.changed, again.events) == (2, 0, ())


def test_an_edited_lead_changes_score_and_the_event_says_from_what():
    uow = stored(lead(1, source="Web"))
    rescore(uow, MODEL, now=NOW)
    with uow:
        uow.leads.update(update(uow.leads.get("L1"), source="Fair"))
        uow.commit()
    [event] = rescore(uow, MODEL, now=NOW).events
    assert (event.previous, event.current) == (30, 0)
    assert event.crossed(10)


def test_the_rating_is_written_when_asked():
    uow = stored(lead(1, source="Web"))
    [event] = rescore(uow, MODEL, now=NOW, write_rating=True).events
    assert get(uow, "L1").rating == "Warm"
    assert (event.previous_rating, event.rating) == (None, "Warm")


def test_a_predictive_model_stores_its_1_to_99_score():
    history = [Outcome(lead(10 + i, source="Web"), i % 4 != 0) for i in range(8)]
    history += [Outcome(lead(30 + i, source="Fair"), i % 4 == 0) for i in range(8)]
    model = train_predictive(history, features=["source"])
    uow = stored(lead(1, source="Web"))
    [event] = rescore(uow, model, now=NOW, field="pls").events
    assert get(uow, "L1").custom["pls"] == model.predict(lead(1, source="Web")).score
    assert event.model == "naive_bayes"


def test_converted_leads_are_skipped_and_batches_do_not_change_results():
    converted = lead(
        3,
        source="Web",
        converted=ConversionRecord(
            account_id="A1", contact_id="C1", converted_at=NOW, status="Closed - Converted"
        ),
    )
    leads = [lead(i, source="Web" if i % 2 else None) for i in range(1, 3)] + [converted]
    one = rescore(stored(*leads), MODEL, now=NOW, batch_size=1)
    many = rescore(stored(*leads), MODEL, now=NOW, batch_size=500)
    assert one.skipped == many.skipped == ("L3",)
    assert one.events == many.events


def test_a_subset_by_id_and_an_unknown_id_leaves_storage_unchanged():
    uow = stored(lead(1, source="Web"), lead(2, source="Web"))
    assert rescore(uow, MODEL, now=NOW, lead_ids=["L2"]).scored == 1
    assert "score" not in get(uow, "L1").custom
    with pytest.raises(RecordNotFound):
        rescore(uow, MODEL, now=NOW, lead_ids=["L1", "L404"])
    assert "score" not in get(uow, "L1").custom


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "inbound"},
        {"now": "2026-01-01"},
        {"now": datetime(2026, 1, 1)},  # noqa: DTZ001
        {"batch_size": 0},
        {"batch_size": True},
        {"field": "not a name"},
        {"field": ""},
        {"lead_ids": "L1"},
    ],
)
def test_bad_arguments_raise_validation_errors(kwargs):
    arguments = {"model": MODEL, "now": NOW} | kwargs
    uow = stored(lead(1))
    with pytest.raises(ValidationError):
        rescore(uow, arguments.pop("model"), **arguments)
    assert "score" not in get(uow, "L1").custom
