"""services.capture_lead end to end with the memory adapters."""

from datetime import UTC, datetime

import pytest

from leadmodel import (
    STANDARD_LEAD_RULE,
    AssignmentRule,
    AssignmentState,
    AutoResponseRule,
    Condition,
    Contact,
    DuplicateAction,
    DuplicatePolicy,
    EmailAddress,
    FitRule,
    Lead,
    LifecycleStage,
    Notify,
    QualificationPolicy,
    Queue,
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
from leadmodel.services import CaptureConfig, capture_lead

NOW = datetime(2026, 4, 6, 9, tzinfo=UTC)
FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@engines.io",
    "company": "Analytical Engines",
    "title": "Chief Engineer",
    "lead_source": "Web",
}
ANY = Condition("last_name", "is_not_blank")
EMAIL_RULE = DuplicatePolicy("email", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT)
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
        [RuleEntry(ANY, RoundRobin(["ann", "bob"]), "new_lead")], default_owner=Queue("triage")
    ),
    auto_response=AutoResponseRule([], default_template="thanks", default_sender="sales@x.io"),
    workflows=[
        WorkflowRule(
            "hot",
            Trigger.score_crossed(70),
            ANY,
            [Notify("owner", "hot"), UpdateField("rating", "Hot")],
        )
    ],
)


def stored(*records):
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        for record in records:
            (uow.contacts if isinstance(record, Contact) else uow.leads).add(record)
        uow.commit()
    return store


def test_the_whole_pipeline_explains_each_step_and_sends_its_messages():
    store, notifier = stored(), MemoryNotifier()
    result = capture_lead(
        MemoryUnitOfWork(store), FORM, FULL, ids=SequentialIds(), now=NOW, notifier=notifier
    )
    assert result.status == "created"
    lead = result.lead
    assert (lead.owner_id, lead.rating, lead.status) == ("ann", "Hot", "Working - Contacted")
    assert lead.lifecycle_stage is LifecycleStage.SALES_QUALIFIED
    assert lead.custom["score"] == 80
    assert [type(e).__name__ for e in result.events] == [
        "LeadCaptured",
        "LeadScored",
        "StatusChanged",
        "StageChanged",
        "LeadAssigned",
    ]
    assert [(n.recipient, n.template) for n in notifier.sent] == [
        ("ann", "new_lead"),
        ("ann", "hot"),
        ("ada@engines.io", "thanks"),
    ]
    assert result.failed == ()
    assert any(step.startswith("score: 80") for step in result.steps)
    with MemoryUnitOfWork(store) as uow:
        assert uow.leads.get(lead.id) == lead
    # The assignment state comes back for the next capture: bob's turn.
    second = capture_lead(
        MemoryUnitOfWork(store),
        {**FORM, "email": "grace@navy.mil", "last_name": "Hopper"},
        FULL,
        ids=SequentialIds(prefix="b"),
        now=NOW,
        state=result.state,
        notifier=notifier,
    )
    assert second.lead.owner_id == "bob"


def test_a_duplicate_is_blocked_and_nothing_is_saved():
    existing = Lead(
        id="L1",
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
        email=EmailAddress.parse("ada@engines.io"),
    )
    store = stored(existing)
    block = CaptureConfig(
        duplicates=DuplicatePolicy("email", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
    )
    result = capture_lead(MemoryUnitOfWork(store), FORM, block, ids=SequentialIds(), now=NOW)
    assert result.status == "blocked"
    assert result.duplicates.decision == "block"
    assert store.count("lead") == 1


def test_a_duplicate_is_attached_to_an_existing_contact_as_an_activity():
    contact = Contact(
        id="C1", first_name="Ada", last_name="Lovelace", email=EmailAddress.parse("ada@engines.io")
    )
    store = stored(contact)
    attach = CaptureConfig(duplicates=EMAIL_RULE, attach_duplicates=True)
    result = capture_lead(MemoryUnitOfWork(store), FORM, attach, ids=SequentialIds(), now=NOW)
    assert (result.status, result.attached_to, result.lead) == ("attached", "C1", None)
    with MemoryUnitOfWork(store) as uow:
        [activity] = uow.activities.find_by_keys(["subject:C1"])
    assert activity.kind == "form_submitted"
    assert activity.properties["email"] == "ada@engines.io"
    assert store.count("lead") == 0


def test_a_duplicate_alert_still_creates_the_lead():
    existing = Lead(
        id="L1",
        last_name="Lovelace",
        first_name="Ada",
        company="Analytical Engines",
        email=EmailAddress.parse("ada@engines.io"),
    )
    store = stored(existing)
    result = capture_lead(
        MemoryUnitOfWork(store),
        FORM,
        CaptureConfig(duplicates=EMAIL_RULE),
        ids=SequentialIds(),
        now=NOW,
    )
    assert result.status == "created"
    assert result.duplicates.decision == "alert"
    assert store.count("lead") == 2


def test_spam_is_saved_and_held_for_approval_without_routing_or_messages():
    store, notifier = stored(), MemoryNotifier()
    result = capture_lead(
        MemoryUnitOfWork(store),
        {**FORM, "honeypot": "http://buy.example"},
        FULL,
        ids=SequentialIds(),
        now=NOW,
        notifier=notifier,
    )
    assert result.status == "pending_approval"
    assert result.lead.custom["pending_approval"] is True
    assert (result.assignment, result.auto_response, notifier.sent) == (None, None, [])
    assert store.count("lead") == 1


class Broken:
    def send(self, _notification):
        raise ConnectionError("smtp down")


def test_a_notifier_that_raises_never_loses_the_lead():
    store = stored()
    result = capture_lead(
        MemoryUnitOfWork(store), FORM, FULL, ids=SequentialIds(), now=NOW, notifier=Broken()
    )
    assert result.status == "created"
    assert [reason for _, reason in result.failed] == ["ConnectionError: smtp down"] * 3
    assert store.count("lead") == 1


def test_without_a_notifier_messages_are_returned_unsent():
    result = capture_lead(MemoryUnitOfWork(), FORM, FULL, ids=SequentialIds(), now=NOW)
    assert {reason for _, reason in result.failed} == {"no notifier"}


def test_a_bad_form_is_rejected_and_nothing_is_saved():
    store = stored()
    result = capture_lead(
        MemoryUnitOfWork(store), {"email": "nope"}, FULL, ids=SequentialIds(), now=NOW
    )
    assert result.status == "rejected"
    assert result.errors.fields == ("email", "last_name")
    assert store.count("lead") == 0


def test_a_failure_before_the_commit_saves_nothing():
    store = stored()

    def failing_ids(kind):
        raise RuntimeError("id service down")

    with pytest.raises(RuntimeError):
        capture_lead(MemoryUnitOfWork(store), FORM, FULL, ids=failing_ids, now=NOW)
    assert store.count("lead") == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: capture_lead(MemoryUnitOfWork(), FORM, "config", ids=SequentialIds(), now=NOW),
        lambda: capture_lead(MemoryUnitOfWork(), "a=b", FULL, ids=SequentialIds(), now=NOW),
        lambda: capture_lead(
            MemoryUnitOfWork(), FORM, FULL, ids=SequentialIds(), now=NOW, notifier="smtp"
        ),
        lambda: capture_lead(
            MemoryUnitOfWork(),
            FORM,
            FULL,
            ids=SequentialIds(),
            now=datetime(2026, 1, 1),  # noqa: DTZ001
        ),
    ],
)
def test_misuse_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


def test_state_defaults_to_a_fresh_one():
    result = capture_lead(MemoryUnitOfWork(), FORM, FULL, ids=SequentialIds(), now=NOW)
    assert result.state != AssignmentState()
