"""Lifecycle services (issue 17): workflows that save, closing deals, re-engagement."""

import copy
from datetime import UTC, date, datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    Account,
    Activity,
    Condition,
    Contact,
    FitRule,
    Lead,
    LifecycleStage,
    Opportunity,
    OpportunityClosed,
    RecordNotFound,
    ScoreChanged,
    ScoringModel,
    SetLifecycleStage,
    SetStatus,
    StageChanged,
    TransitionError,
    Trigger,
    UpdateField,
    ValidationError,
    WorkflowRule,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.services import (
    CaptureConfig,
    CloseOutcome,
    apply_workflows,
    capture_lead,
    close_opportunity,
    reengage_contact,
    rescore,
)

NOW = datetime(2026, 4, 6, 9, tzinfo=UTC)
MQL = LifecycleStage.MARKETING_QUALIFIED
FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@engines.io",
    "company": "Analytical Engines",
    "title": "Chief Engineer",
    "lead_source": "Web",
}
MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 30),
        FitRule("exec", Condition("title", "contains", "chief"), 30),
    ],
    name="inbound",
)
MQL_AT_50 = WorkflowRule(
    "MQL at 50",
    Trigger.score_crossed(50),
    Condition("score", "gte", 50),
    [SetLifecycleStage(MQL)],
)


def stored(*records):
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        for record in records:
            repository = {
                Lead: uow.leads,
                Contact: uow.contacts,
                Account: uow.accounts,
                Opportunity: uow.opportunities,
                Activity: uow.activities,
            }[type(record)]
            repository.add(record)
        uow.commit()
    return store


def snapshot(store):
    with MemoryUnitOfWork(store) as uow:
        return (
            sorted(uow.leads, key=lambda r: r.id),
            sorted(uow.contacts, key=lambda r: r.id),
            sorted(uow.opportunities, key=lambda r: r.id),
            sorted(uow.activities, key=lambda r: r.id),
        )


# -- capture and workflows: "make it an MQL when the score reaches 50", end to end ----------


def test_capture_makes_an_mql_when_the_score_reaches_50():
    store = stored()
    config = CaptureConfig(scoring=MODEL, workflows=[MQL_AT_50])
    result = capture_lead(MemoryUnitOfWork(store), FORM, config, ids=SequentialIds(), now=NOW)
    assert result.lead.lifecycle_stage is MQL
    assert result.workflow.fired == ("MQL at 50",)
    assert [type(e).__name__ for e in result.events] == [
        "LeadCaptured",
        "LeadScored",
        "StageChanged",
    ]
    assert "workflow: lifecycle stage -> marketing_qualified" in result.steps
    leads, *_ = snapshot(store)
    assert leads == [result.lead]


def test_capture_applies_a_workflow_status_and_reports_refusals_as_steps():
    rule = WorkflowRule(
        "work it",
        Trigger("created"),
        Condition("last_name", "is_not_blank"),
        [
            SetStatus("Closed - Converted"),
            SetStatus("Working - Contacted"),
            UpdateField("status", "x"),
        ],
    )
    config = CaptureConfig(workflows=[rule])
    result = capture_lead(MemoryUnitOfWork(stored()), FORM, config, ids=SequentialIds(), now=NOW)
    assert result.lead.status == "Working - Contacted"
    assert [r.code for r in result.workflow.refused] == ["converted_status", "use_set_status"]
    assert sum("refused" in step for step in result.steps) == 2
    assert result.workflow.lead == result.lead


def test_rescore_then_apply_workflows_makes_an_mql():
    lead = Lead(id="L1", last_name="Ng", company="Acme", source="Web", title="Chief of staff")
    store = stored(lead)
    run = rescore(MemoryUnitOfWork(store), MODEL, now=NOW)
    outcomes = [apply_workflows(MemoryUnitOfWork(store), e, [MQL_AT_50]) for e in run.events]
    assert [o.fired for o in outcomes] == [("MQL at 50",)]
    leads, *_ = snapshot(store)
    assert leads[0].lifecycle_stage is MQL
    assert leads[0].custom["score"] == 60


def test_apply_workflows_reads_stored_activities():
    lead = Lead(id="L1", last_name="Ng", company="Acme")
    demo = Activity(id="A1", subject_id="L1", kind="demo_request", occurred_at=NOW)
    store = stored(lead, demo)
    rule = WorkflowRule(
        "demo",
        Trigger.score_crossed(10),
        Condition("activity.count.demo_request", "gte", 1),
        [SetLifecycleStage(LifecycleStage.SALES_QUALIFIED)],
    )
    event = ScoreChanged(lead_id="L1", model="m", previous=None, current=12, occurred_at=NOW)
    apply_workflows(MemoryUnitOfWork(store), event, [rule])
    assert snapshot(store)[0][0].lifecycle_stage is LifecycleStage.SALES_QUALIFIED


def test_apply_workflows_refuses_unknown_leads_and_bad_events():
    store = stored()
    event = ScoreChanged(lead_id="L9", model="m", previous=None, current=60, occurred_at=NOW)
    with pytest.raises(RecordNotFound):
        apply_workflows(MemoryUnitOfWork(store), event, [MQL_AT_50])
    with pytest.raises(ValidationError):
        apply_workflows(MemoryUnitOfWork(store), "event", [MQL_AT_50])
    with pytest.raises(ValidationError):
        apply_workflows(object(), event, [MQL_AT_50])


# -- close_opportunity ---------------------------------------------------------------------

ACME = Account(id="A1", name="Acme")
ADA = Contact(id="C1", last_name="Ng", account_id="A1", lifecycle_stage=LifecycleStage.OPPORTUNITY)
DEAL = Opportunity(
    id="O1", name="Acme - 50 seats", account_id="A1", contact_id="C1", stage="Negotiation/Review"
)


def test_a_won_deal_makes_its_contact_a_customer():
    store = stored(ACME, ADA, DEAL)
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=True, now=NOW)
    assert (outcome.opportunity.stage, outcome.opportunity.probability) == ("Closed Won", 100)
    assert outcome.opportunity.close_date == date(2026, 4, 6)
    assert outcome.contact.lifecycle_stage is LifecycleStage.CUSTOMER
    assert outcome.events == (
        OpportunityClosed(
            opportunity_id="O1",
            previous_stage="Negotiation/Review",
            stage="Closed Won",
            won=True,
            occurred_at=NOW,
        ),
        StageChanged(
            record_id="C1",
            previous=LifecycleStage.OPPORTUNITY,
            current=LifecycleStage.CUSTOMER,
            occurred_at=NOW,
        ),
    )
    _, contacts, deals, _ = snapshot(store)
    assert contacts == [outcome.contact]
    assert deals == [outcome.opportunity]


def test_a_lost_deal_keeps_its_reason_and_moves_no_contact():
    store = stored(ACME, ADA, DEAL)
    outcome = close_opportunity(
        MemoryUnitOfWork(store), "O1", won=False, now=NOW, lost_reason="Price"
    )
    assert (outcome.opportunity.stage, outcome.opportunity.lost_reason) == ("Closed Lost", "Price")
    assert outcome.contact is None
    assert snapshot(store)[1] == [ADA]


def test_without_a_contact_the_accounts_only_contact_becomes_a_customer():
    store = stored(ACME, ADA, attrs.evolve(DEAL, contact_id=None))
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=True, now=NOW)
    assert outcome.contact.id == "C1"
    assert "only contact" in outcome.reasons[-1]


def test_with_several_contacts_the_primary_one_named_by_the_account_moves():
    grace = Contact(id="C2", last_name="Hopper", account_id="A1")
    deal = attrs.evolve(DEAL, contact_id=None)
    store = stored(ACME, ADA, grace, deal)
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=True, now=NOW)
    assert outcome.contact is None
    assert "names no primary" in outcome.reasons[-1]
    named = attrs.evolve(ACME, custom={"primary_contact_id": "C2"})
    store = stored(named, ADA, grace, deal)
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=True, now=NOW)
    assert outcome.contact.id == "C2"


def test_an_evangelist_stays_an_evangelist():
    fan = attrs.evolve(ADA, lifecycle_stage=LifecycleStage.EVANGELIST)
    store = stored(ACME, fan, DEAL)
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=True, now=NOW)
    assert outcome.contact == fan
    assert [type(e).__name__ for e in outcome.events] == ["OpportunityClosed"]


def test_closing_a_closed_or_unknown_deal_is_refused_and_writes_nothing():
    store = stored(ACME, ADA, attrs.evolve(DEAL, stage="Closed Won"))
    before = snapshot(store)
    with pytest.raises(TransitionError):
        close_opportunity(MemoryUnitOfWork(store), "O1", won=False, now=NOW)
    with pytest.raises(RecordNotFound):
        close_opportunity(MemoryUnitOfWork(store), "O9", won=True, now=NOW)
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"won": "yes"},
        {"now": datetime(2026, 1, 1)},  # noqa: DTZ001 - a naive time, refused
        {"won": True, "lost_reason": "Price"},
        {"lost_reason": 5},
        {"process": "default"},
    ],
)
def test_close_opportunity_checks_its_arguments(kwargs):
    store = stored(ACME, ADA, DEAL)
    with pytest.raises(ValidationError):
        close_opportunity(MemoryUnitOfWork(store), "O1", **{"won": False, "now": NOW, **kwargs})
    assert snapshot(store)[2] == [DEAL]


def test_a_close_outcome_round_trips():
    from leadmodel import from_json, to_json

    outcome = close_opportunity(MemoryUnitOfWork(stored(ACME, ADA, DEAL)), "O1", won=True, now=NOW)
    assert from_json(CloseOutcome, to_json(outcome)) == outcome


# -- reengage_contact ----------------------------------------------------------------------


def test_a_customer_reengages_as_a_new_lead_with_history_kept():
    customer = attrs.evolve(ADA, lifecycle_stage=LifecycleStage.CUSTOMER)
    call = Activity(id="A0", subject_id="C1", kind="call", occurred_at=NOW)
    store = stored(ACME, customer, call)
    ids = SequentialIds()
    first = reengage_contact(MemoryUnitOfWork(store), "C1", signal="demo request", ids=ids, now=NOW)
    second = reengage_contact(
        MemoryUnitOfWork(store), "C1", signal="pricing page", ids=ids, now=NOW, mode="episode"
    )
    leads, contacts, _, activities = snapshot(store)
    assert contacts == [customer]  # stage and fields untouched
    assert leads == [first.lead]
    assert first.lead.company == "Acme"
    assert first.lead.custom["reengaged_contact_id"] == "C1"
    assert (first.episode, second.episode) == (2, 3)
    assert call in activities  # history kept
    assert [a.kind for a in activities if a.id != "A0"] == ["lifecycle_episode"] * 2


def test_reengaging_an_unknown_contact_is_refused():
    with pytest.raises(RecordNotFound):
        reengage_contact(MemoryUnitOfWork(stored()), "C9", signal="x", ids=SequentialIds(), now=NOW)
    with pytest.raises(ValidationError):
        reengage_contact(
            MemoryUnitOfWork(stored(ADA)), "C1", signal="x", ids=SequentialIds(), now=NOW, process=1
        )


@settings(max_examples=20)
@given(st.sampled_from(list(LifecycleStage)), st.booleans())
def test_closing_a_won_deal_never_moves_a_contact_back(stage, won):
    contact = attrs.evolve(ADA, lifecycle_stage=stage)
    store = stored(ACME, contact, DEAL)
    outcome = close_opportunity(MemoryUnitOfWork(store), "O1", won=won, now=NOW)
    after = snapshot(store)[1][0].lifecycle_stage
    if not won or (stage.rank is not None and stage.rank >= LifecycleStage.CUSTOMER.rank):
        assert after is stage
    else:
        assert after is LifecycleStage.CUSTOMER
    assert copy.deepcopy(outcome) == outcome


def test_the_services_work_on_sqlite(tmp_path):
    from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

    store = SQLiteStore(tmp_path / "crm.db")
    with SQLiteUnitOfWork(store) as uow:
        uow.accounts.add(ACME)
        uow.contacts.add(ADA)
        uow.opportunities.add(DEAL)
        uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
        uow.commit()
    won = close_opportunity(SQLiteUnitOfWork(store), "O1", won=True, now=NOW)
    again = reengage_contact(
        SQLiteUnitOfWork(store), "C1", signal="demo", ids=SequentialIds(), now=NOW
    )
    event = ScoreChanged(lead_id="L1", model="m", previous=10, current=70, occurred_at=NOW)
    apply_workflows(SQLiteUnitOfWork(store), event, [MQL_AT_50])
    with SQLiteUnitOfWork(store) as uow:
        assert uow.opportunities.get("O1") == won.opportunity
        assert uow.contacts.get("C1") == won.contact
        assert uow.leads.get(again.lead.id) == again.lead
        assert uow.activities.get(again.activity.id) == again.activity
        assert uow.leads.get("L1").lifecycle_stage is MQL
