"""Auto-response and workflow rules: first match, defaults, triggers, actions as values."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Address,
    AutoResponseRule,
    Condition,
    EmailAddress,
    Lead,
    LeadAssigned,
    LeadCaptured,
    LeadConverted,
    LeadScored,
    LifecycleStage,
    Notify,
    ResponseEntry,
    ScoreChanged,
    StageChanged,
    StatusChanged,
    Trigger,
    UpdateField,
    ValidationError,
    WorkflowOutcome,
    WorkflowRule,
    from_json,
    respond,
    run_workflows,
    to_json,
)

NOW = datetime(2026, 2, 2, tzinfo=UTC)
ANY = Condition("last_name", "is_not_blank")
LEAD = Lead(
    id="L1",
    last_name="Ng",
    company="Acme",
    email=EmailAddress.parse("ng@acme.io"),
    owner_id="u-7",
    address=Address(country="FR"),
)
RULE = AutoResponseRule(
    [
        ResponseEntry(Condition("address.country", "eq", "FR"), "merci", "ventes@acme.fr"),
        ResponseEntry(Condition("source", "eq", "Web"), "thanks_web", "web@acme.com"),
    ],
    default_template="thanks",
    default_sender="sales@acme.com",
)


@pytest.mark.parametrize(
    ("lead", "template", "entry"),
    [
        (LEAD, "merci", 0),
        (
            Lead(id="L1", last_name="Ng", company="A", email=LEAD.email, source="Web"),
            "thanks_web",
            1,
        ),
        (Lead(id="L1", last_name="Ng", company="A", email=LEAD.email), "thanks", None),
    ],
)
def test_the_first_matching_entry_answers_and_the_default_takes_the_rest(lead, template, entry):
    response = respond(lead, RULE)
    assert (response.notification.template, response.entry) == (template, entry)
    assert response.notification.recipient == "ng@acme.io"


def test_no_answer_without_an_address_an_opt_in_or_a_default():
    no_email = Lead(id="L2", last_name="Ng", company="A")
    assert respond(no_email, RULE).reason == "no email address to answer"
    opted_out = Lead(id="L3", last_name="Ng", company="A", email=LEAD.email, email_opt_out=True)
    assert respond(opted_out, RULE).notification is None
    bare = AutoResponseRule([])
    assert respond(LEAD, bare).reason == "no entry matched and there is no default"


EVENTS = {
    "created": LeadCaptured(
        lead_id="L1", source="Web", spam_score=0, pending_approval=False, occurred_at=NOW
    ),
    "status_changed": StatusChanged(
        lead_id="L1",
        previous="Open - Not Contacted",
        current="Working - Contacted",
        occurred_at=NOW,
    ),
    "stage_changed": StageChanged(
        record_id="L1",
        previous=LifecycleStage.LEAD,
        current=LifecycleStage.MARKETING_QUALIFIED,
        occurred_at=NOW,
    ),
    "converted": LeadConverted(
        lead_id="L1", account_id="A1", contact_id="C1", opportunity_id=None, occurred_at=NOW
    ),
    "assigned": LeadAssigned(
        lead_id="L1", owner_id="u-7", queue_id=None, reason="entry 1", occurred_at=NOW
    ),
}


@pytest.mark.parametrize("trigger", sorted(EVENTS))
def test_each_trigger_fires_on_its_own_event_only(trigger):
    rule = WorkflowRule("r", Trigger(trigger), ANY, [Notify("owner", "tpl")])
    for kind, event in EVENTS.items():
        outcome = run_workflows(event, LEAD, [rule])
        assert (outcome.fired == ("r",)) == (kind == trigger)


def test_score_crossed_fires_when_the_score_rises_to_the_threshold():
    rule = WorkflowRule("hot", Trigger.score_crossed(70), ANY, [UpdateField("rating", "Hot")])

    def changed(before, after):
        return ScoreChanged(
            lead_id="L1", model="m", previous=before, current=after, occurred_at=NOW
        )

    assert run_workflows(changed(60, 70), LEAD, [rule]).fired == ("hot",)
    assert run_workflows(changed(None, 90), LEAD, [rule]).fired == ("hot",)
    assert run_workflows(changed(75, 90), LEAD, [rule]).fired == ()
    assert run_workflows(changed(80, 60), LEAD, [rule]).fired == ()
    first = LeadScored(lead_id="L1", model="m", total=72, rating="hot", occurred_at=NOW)
    outcome = run_workflows(first, LEAD, [rule])
    assert outcome.updates[0].field == "rating"


def test_the_criterion_gates_and_actions_become_values():
    rule = WorkflowRule(
        "french",
        Trigger("created"),
        Condition("address.country", "eq", "FR"),
        [
            Notify("owner", "owner_alert"),
            Notify("lead", "welcome"),
            UpdateField("custom.lang", "fr"),
        ],
    )
    outcome = run_workflows(EVENTS["created"], LEAD, [rule])
    assert [(n.recipient, n.template) for n in outcome.notifications] == [
        ("u-7", "owner_alert"),
        ("ng@acme.io", "welcome"),
    ]
    assert [(u.field, u.value, u.rule) for u in outcome.updates] == [
        ("custom.lang", "fr", "french")
    ]
    other = Lead(id="L1", last_name="Ng", company="A")
    skipped = run_workflows(EVENTS["created"], other, [rule])
    assert skipped.fired == ()
    assert "does not meet its criterion" in skipped.reasons[0]


def test_a_missing_recipient_is_reported_not_sent():
    rule = WorkflowRule("r", Trigger("created"), ANY, [Notify("owner", "x"), Notify("lead", "y")])
    bare = Lead(id="L1", last_name="Ng", company="A")
    outcome = run_workflows(EVENTS["created"], bare, [rule])
    assert outcome.notifications == ()
    assert "r: no owner to send x to" in outcome.reasons


def test_rules_and_outcomes_round_trip_through_json():
    rule = WorkflowRule(
        "r", Trigger.score_crossed(55.5), ANY, [Notify("u-1", "t", "sms"), UpdateField("x", 3)]
    )
    assert from_json(WorkflowRule, to_json(rule)) == rule
    assert from_json(AutoResponseRule, to_json(RULE)) == RULE
    outcome = run_workflows(
        EVENTS["created"],
        LEAD,
        [WorkflowRule("c", Trigger("created"), ANY, [UpdateField("flag", True)])],
    )
    assert from_json(WorkflowOutcome, to_json(outcome)) == outcome


@given(st.lists(st.sampled_from(sorted(EVENTS)), max_size=6, unique=True))
def test_workflows_fire_in_rule_order_and_decide_the_same_every_time(triggers):
    rules = [
        WorkflowRule(f"r{i}", Trigger(t), ANY, [Notify("owner", t)]) for i, t in enumerate(triggers)
    ]
    for event in EVENTS.values():
        outcome = run_workflows(event, LEAD, rules)
        assert outcome == run_workflows(event, LEAD, rules)
        assert list(outcome.fired) == [r.name for r in rules if r.trigger.event == _kind(event)]


def _kind(event):
    return {
        LeadCaptured: "created",
        StatusChanged: "status_changed",
        StageChanged: "stage_changed",
        LeadConverted: "converted",
        LeadAssigned: "assigned",
    }[type(event)]


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: Trigger("deleted"), "invalid"),
        (lambda: Trigger("score_crossed"), "required"),
        (lambda: Trigger("created", 5), "unexpected"),
        (lambda: WorkflowRule("r", Trigger("created"), ANY, []), "type"),
        (lambda: WorkflowRule("r", "created", ANY, [Notify("owner", "t")]), "type"),
        (lambda: WorkflowRule("r", Trigger("created"), "x", [Notify("owner", "t")]), "type"),
        (lambda: UpdateField("x", 1.5), "type"),
        (lambda: Notify("", "t"), "blank"),
        (lambda: ResponseEntry(ANY, "t", "a\nb"), "control_character"),
        (lambda: AutoResponseRule([], default_template="t"), "required"),
        (lambda: AutoResponseRule(["entry"]), "type"),
    ],
)
def test_invalid_rules_are_refused_with_a_code(build, code):
    with pytest.raises(ValidationError) as caught:
        build()
    assert code in [e.code for e in caught.value.errors]


@pytest.mark.parametrize(
    "call",
    [
        lambda: respond(None, RULE),
        lambda: respond(LEAD, "rule"),
        lambda: run_workflows("created", LEAD, []),
        lambda: run_workflows(EVENTS["created"], None, []),
        lambda: run_workflows(EVENTS["created"], LEAD, "rules"),
        lambda: run_workflows(EVENTS["created"], LEAD, ["rule"]),
        lambda: run_workflows(EVENTS["created"], Lead(id="L9", last_name="Ng", company="A"), []),
    ],
)
def test_bad_arguments_raise_validation_errors(call):
    with pytest.raises(ValidationError):
        call()
