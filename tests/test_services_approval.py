"""Held web-to-lead captures: approve_capture / reject_capture, and auto-conversion on capture."""

import string
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    AssignmentRule,
    AutoConvertRule,
    AutoResponseRule,
    Condition,
    ConvertedLeadError,
    ConvertOptions,
    FitRule,
    LeadProcess,
    LeadStatus,
    Notify,
    QualificationPolicy,
    Queue,
    RecordNotFound,
    Requirement,
    RoundRobin,
    RuleEntry,
    ScoringModel,
    Trigger,
    UpdateField,
    ValidationError,
    WorkflowRule,
)
from leadmodel.adapters.memory import MemoryNotifier, MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.services import (
    CaptureConfig,
    approve_capture,
    capture_lead,
    convert_lead,
    reject_capture,
)

NOW = datetime(2026, 4, 6, 9, tzinfo=UTC)
FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@engines.io",
    "company": "Analytical Engines",
    "title": "Chief Engineer",
    "lead_source": "Web",
}
ANY_LEAD = Condition("last_name", "is_not_blank")
FULL = CaptureConfig(
    scoring=ScoringModel(
        fit=[
            FitRule("web", Condition("source", "eq", "Web"), 40),
            FitRule("exec", Condition("title", "contains", "chief"), 40),
        ],
        name="inbound",
    ),
    qualification=QualificationPolicy(
        requirements=[Requirement("email", Condition("email", "is_not_blank"))],
        min_lead_score=50,
    ),
    assignment=AssignmentRule(
        [RuleEntry(ANY_LEAD, RoundRobin(["ann", "bob"]), "new_lead")],
        default_owner=Queue("triage"),
    ),
    auto_response=AutoResponseRule([], default_template="thanks", default_sender="sales@x.io"),
    workflows=[
        WorkflowRule(
            "hot",
            Trigger.score_crossed(70),
            ANY_LEAD,
            [Notify("owner", "hot"), UpdateField("rating", "Hot")],
        )
    ],
)
LATER = NOW + timedelta(hours=3)
SPAM = {**FORM, "honeypot": "http://buy.example"}
BUYERS = AutoConvertRule(
    Condition("title", "contains", "chief"), ConvertOptions("Closed - Converted"), name="execs"
)


def held(store, config=FULL, form=SPAM):
    result = capture_lead(MemoryUnitOfWork(store), form, config, ids=SequentialIds(), now=NOW)
    assert result.status == "pending_approval"
    return result.lead


def snapshot(store):
    with MemoryUnitOfWork(store) as uow:
        return sorted((lead.id, lead) for lead in uow.leads)


def test_approving_runs_the_steps_a_held_capture_skipped():
    # Seen: held (spam) captures had no approve step.
    store, notifier = MemoryStore(), MemoryNotifier()
    lead = held(store)
    assert lead.owner_id is None
    result = approve_capture(
        MemoryUnitOfWork(store),
        lead.id,
        FULL,
        ids=SequentialIds(prefix="a"),
        now=LATER,
        notifier=notifier,
    )
    assert result.status == "approved"
    approved = result.lead
    assert (approved.owner_id, approved.rating, approved.status) == (
        "ann",
        "Hot",
        "Working - Contacted",
    )
    assert "pending_approval" not in approved.custom
    assert approved.custom["approval"] == "approved"
    assert approved.custom["approval_at"] == LATER
    assert approved.custom["spam_score"] == lead.custom["spam_score"]  # the history stays
    assert result.qualification.qualified
    assert [(n.recipient, n.template) for n in notifier.sent] == [
        ("ann", "new_lead"),
        ("ann", "hot"),
        ("ada@engines.io", "thanks"),
    ]
    assert result.events[0].pending_approval is False
    assert result.steps[0] == f"held lead {lead.id} approved: running the steps it skipped"
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get(lead.id) == approved
    assert store.count("lead") == 1


def test_only_held_leads_can_be_approved_or_rejected():
    store = MemoryStore()
    normal = capture_lead(MemoryUnitOfWork(store), FORM, FULL, ids=SequentialIds(), now=NOW)
    before = snapshot(store)
    for attempt in (
        lambda: approve_capture(
            MemoryUnitOfWork(store), normal.lead.id, FULL, ids=SequentialIds(), now=LATER
        ),
        lambda: reject_capture(MemoryUnitOfWork(store), normal.lead.id, reason="x", now=LATER),
    ):
        with pytest.raises(ValidationError) as caught:
            attempt()
        assert caught.value.errors[0].code == "not_held"
    with pytest.raises(RecordNotFound):
        approve_capture(MemoryUnitOfWork(store), "L404", FULL, ids=SequentialIds(), now=LATER)
    with pytest.raises(RecordNotFound):
        reject_capture(MemoryUnitOfWork(store), "L404", reason="spam", now=LATER)
    assert snapshot(store) == before


def test_a_decided_capture_cannot_be_decided_again():
    store = MemoryStore()
    lead = held(store)
    approve_capture(
        MemoryUnitOfWork(store), lead.id, FULL, ids=SequentialIds(prefix="a"), now=LATER
    )
    with pytest.raises(ValidationError) as caught:
        reject_capture(MemoryUnitOfWork(store), lead.id, reason="late", now=LATER)
    assert "approved already" in caught.value.errors[0].message


def test_rejecting_closes_the_held_lead_and_keeps_the_reason():
    store, notifier = MemoryStore(), MemoryNotifier()
    lead = held(store)
    result = reject_capture(MemoryUnitOfWork(store), lead.id, reason="bot traffic", now=LATER)
    assert result.status == "rejected"
    closed = result.lead
    assert closed.status == "Closed - Not Converted"
    assert closed.custom["approval"] == "rejected"
    assert closed.custom["approval_reason"] == "bot traffic"
    assert "pending_approval" not in closed.custom
    assert [(e.previous, e.current) for e in result.events] == [
        ("Open - Not Contacted", "Closed - Not Converted")
    ]
    assert notifier.sent == []
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get(lead.id) == closed
    with pytest.raises(ValidationError):
        approve_capture(MemoryUnitOfWork(store), lead.id, FULL, ids=SequentialIds(), now=LATER)


def test_rejecting_refuses_a_blank_reason_and_a_process_with_nowhere_to_close():
    store = MemoryStore()
    lead = held(store)
    before = snapshot(store)
    for reason in ("", "   ", None, "x" * 300):
        with pytest.raises(ValidationError):
            reject_capture(MemoryUnitOfWork(store), lead.id, reason=reason, now=LATER)
    open_only = LeadProcess(
        "open",
        [LeadStatus("Open - Not Contacted", is_default=True), LeadStatus("Won", is_converted=True)],
    )
    with pytest.raises(ValidationError) as caught:
        reject_capture(
            MemoryUnitOfWork(store), lead.id, reason="spam", now=LATER, process=open_only
        )
    assert caught.value.errors[0].code == "no_closed_status"
    assert snapshot(store) == before


def test_a_converted_lead_is_neither_approved_nor_rejected():
    store = MemoryStore()
    lead = held(store)
    convert_lead(
        MemoryUnitOfWork(store),
        lead.id,
        ConvertOptions("Closed - Converted"),
        ids=SequentialIds(prefix="c"),
        now=LATER,
    )
    with pytest.raises(ConvertedLeadError):
        approve_capture(MemoryUnitOfWork(store), lead.id, FULL, ids=SequentialIds(), now=LATER)
    with pytest.raises(ConvertedLeadError):
        reject_capture(MemoryUnitOfWork(store), lead.id, reason="spam", now=LATER)


# -- auto-conversion on capture ------------------------------------------------------------


def test_auto_conversion_runs_on_capture():
    # Seen: auto-conversion rules existed but no service ran them.
    store = MemoryStore()
    config = attrs.evolve(FULL, auto_convert=[BUYERS])
    result = capture_lead(MemoryUnitOfWork(store), FORM, config, ids=SequentialIds(), now=NOW)
    assert result.status == "created"
    assert result.auto_conversion.rule == "execs"
    assert result.conversion is not None
    assert result.lead.is_converted
    assert result.lead.status == "Closed - Converted"
    assert any(s.startswith("auto-conversion: rule 'execs'") for s in result.steps)
    assert "LeadConverted" in [type(e).__name__ for e in result.events]
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get(result.lead.id).is_converted
        assert len(list(uow.contacts)) == 1


def test_no_rule_fires_and_the_lead_stays_a_lead():
    store = MemoryStore()
    rule = AutoConvertRule(Condition("title", "eq", "Buyer"), ConvertOptions("Closed - Converted"))
    config = attrs.evolve(FULL, auto_convert=[rule])
    result = capture_lead(MemoryUnitOfWork(store), FORM, config, ids=SequentialIds(), now=NOW)
    assert (result.auto_conversion, result.conversion) == (None, None)
    assert not result.lead.is_converted
    assert "auto-conversion: none of 1 rule(s) fired" in result.steps


def test_a_failed_auto_conversion_keeps_the_captured_lead_and_says_why():
    store = MemoryStore()
    rule = AutoConvertRule(ANY_LEAD, ConvertOptions("Closed - Converted", account_id="A404"))
    config = attrs.evolve(FULL, auto_convert=[rule])
    result = capture_lead(MemoryUnitOfWork(store), FORM, config, ids=SequentialIds(), now=NOW)
    assert result.status == "created"
    assert result.auto_conversion is not None
    assert result.conversion is None
    assert any("not converted" in s and "A404" in s for s in result.steps)
    with MemoryUnitOfWork(store) as uow:
        assert not uow.leads.get(result.lead.id).is_converted


def test_a_held_capture_converts_when_approved_not_before():
    store = MemoryStore()
    config = attrs.evolve(FULL, auto_convert=[BUYERS])
    lead = held(store, config)
    assert not lead.is_converted
    result = approve_capture(
        MemoryUnitOfWork(store), lead.id, config, ids=SequentialIds(prefix="a"), now=LATER
    )
    assert result.status == "approved"
    assert result.lead.is_converted
    assert result.lead.custom["approval"] == "approved"


NAMES = st.text(alphabet=string.ascii_letters + " -'", min_size=1, max_size=20).filter(
    lambda t: t.strip()
)


@given(NAMES, st.text(min_size=1, max_size=80).filter(lambda t: t.strip() and t.isprintable()))
def test_a_rejection_keeps_everything_and_a_decision_is_final(last_name, reason):
    store = MemoryStore()
    form = {**SPAM, "last_name": last_name}
    lead = held(store, CaptureConfig(), form)
    result = reject_capture(MemoryUnitOfWork(store), lead.id, reason=reason, now=LATER)
    closed = result.lead
    assert closed.custom["approval_reason"] == reason
    # Nothing lost: every field but the status, the approval marks and updated_at is kept.
    kept = {k: v for k, v in lead.custom.items() if k != "pending_approval"}
    assert {k: v for k, v in closed.custom.items() if not k.startswith("approval")} == kept
    assert (
        attrs.evolve(closed, status=lead.status, custom=lead.custom, updated_at=lead.updated_at)
        == lead
    )
    before = snapshot(store)
    with pytest.raises(ValidationError):
        reject_capture(MemoryUnitOfWork(store), lead.id, reason=reason, now=LATER)
    with pytest.raises(ValidationError):
        approve_capture(
            MemoryUnitOfWork(store), lead.id, CaptureConfig(), ids=SequentialIds(), now=LATER
        )
    assert snapshot(store) == before


def test_approve_and_reject_through_sqlite():
    from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

    store = SQLiteStore(":memory:")
    ids = SequentialIds()
    first = capture_lead(SQLiteUnitOfWork(store), SPAM, FULL, ids=ids, now=NOW)
    second = capture_lead(
        SQLiteUnitOfWork(store), {**SPAM, "email": "bob@x.io"}, FULL, ids=ids, now=NOW
    )
    approved = approve_capture(SQLiteUnitOfWork(store), first.lead.id, FULL, ids=ids, now=LATER)
    rejected = reject_capture(SQLiteUnitOfWork(store), second.lead.id, reason="spam", now=LATER)
    with SQLiteUnitOfWork(store) as uow:
        assert uow.leads.get(first.lead.id) == approved.lead
        assert uow.leads.get(second.lead.id) == rejected.lead
    assert approved.lead.owner_id == "ann"
    assert rejected.lead.status == "Closed - Not Converted"
