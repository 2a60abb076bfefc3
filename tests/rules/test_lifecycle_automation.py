"""Lifecycle automation (issue 17): workflow status/stage actions, journey paths, MQL/SQL
thresholds as data, and re-engagement — refusals are results, nothing is lost."""

import copy
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LIFECYCLE_POLICY,
    EPISODE_ACTIVITY,
    ActionRefused,
    Activity,
    All,
    Condition,
    Contact,
    ConversionRecord,
    EmailAddress,
    Lead,
    LeadCaptured,
    LeadProcess,
    LeadScored,
    LeadStatus,
    LifecycleDecision,
    LifecyclePolicy,
    LifecycleStage,
    Notify,
    Reengagement,
    ScoreChanged,
    SetLifecycleStage,
    SetStatus,
    StageChanged,
    StageRule,
    StatusChanged,
    Transition,
    Trigger,
    UpdateField,
    ValidationError,
    WorkflowOutcome,
    WorkflowRule,
    from_json,
    lifecycle_stage,
    reengage,
    run_workflows,
    to_json,
)
from leadmodel.adapters.memory import SequentialIds
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 2, 2, tzinfo=UTC)
ANY = Condition("last_name", "is_not_blank")
LEAD = Lead(id="L1", last_name="Ng", company="Acme", owner_id="u-7")
MQL = LifecycleStage.MARKETING_QUALIFIED
SQL = LifecycleStage.SALES_QUALIFIED


def scored(previous, current, lead_id="L1"):
    return ScoreChanged(
        lead_id=lead_id, model="m", previous=previous, current=current, occurred_at=NOW
    )


def captured(lead_id="L1"):
    return LeadCaptured(
        lead_id=lead_id, source="Web", spam_score=0, pending_approval=False, occurred_at=NOW
    )


def rule(*actions, trigger=None, criterion=ANY, name="r"):
    return WorkflowRule(name, trigger or Trigger("created"), criterion, list(actions))


def converted(lead):
    record = ConversionRecord(
        account_id="A1",
        contact_id="C1",
        opportunity_id=None,
        converted_at=NOW,
        status="Closed - Converted",
    )
    return attrs.evolve(lead, status="Closed - Converted", converted=record)


# -- the workflow actions (seen: "a workflow cannot set status or lifecycle_stage") ----------


def test_a_workflow_makes_a_lead_an_mql_when_the_score_reaches_50():
    mql = WorkflowRule(
        "MQL at 50",
        Trigger.score_crossed(50),
        Condition("score", "gte", 50),
        [SetLifecycleStage(MQL)],
    )
    outcome = run_workflows(scored(40, 55), LEAD, [mql])
    assert outcome.fired == ("MQL at 50",)
    assert outcome.lead.lifecycle_stage is MQL
    assert outcome.refused == ()
    assert outcome.events == (
        StageChanged(record_id="L1", previous=LifecycleStage.LEAD, current=MQL, occurred_at=NOW),
    )
    assert run_workflows(scored(55, 60), LEAD, [mql]).fired == ()  # crossed once


def test_set_status_goes_through_transition_and_reports_the_change():
    outcome = run_workflows(captured(), LEAD, [rule(SetStatus("Working - Contacted"))])
    assert outcome.lead.status == "Working - Contacted"
    assert outcome.events == (
        StatusChanged(
            lead_id="L1",
            previous="Open - Not Contacted",
            current="Working - Contacted",
            occurred_at=NOW,
        ),
    )


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (SetStatus("Closed - Converted"), "converted_status"),
        (SetStatus("Qualified"), "unknown_status"),
        (SetLifecycleStage(LifecycleStage.SUBSCRIBER), "backwards"),
        (SetLifecycleStage(LifecycleStage.OTHER), "backwards"),
        (UpdateField("status", "Working - Contacted"), "use_set_status"),
        (UpdateField("lifecycle_stage", "customer"), "use_set_lifecycle_stage"),
        (UpdateField("employees", "many"), "invalid_value"),
        (UpdateField("nonsense", "x"), "invalid_value"),
    ],
)
def test_a_refused_action_is_a_result_not_an_exception(action, code):
    outcome = run_workflows(captured(), LEAD, [rule(action, Notify("owner", "t"), name="auto")])
    assert outcome.refused == (ActionRefused("auto", action, code, outcome.refused[0].message),)
    assert outcome.lead == LEAD  # nothing applied
    assert outcome.notifications[0].recipient == "u-7"  # the other actions still run
    assert any(code in reason for reason in outcome.reasons)


def test_a_move_the_process_forbids_is_refused():
    process = LeadProcess(
        "strict",
        [
            LeadStatus("New", is_default=True),
            LeadStatus("Working"),
            LeadStatus("Won", is_converted=True),
        ],
        transitions=[Transition("New", {"Working"})],
    )
    working = attrs.evolve(LEAD, status="Working")
    outcome = run_workflows(captured(), working, [rule(SetStatus("New"))], process=process)
    assert [r.code for r in outcome.refused] == ["not_allowed"]
    assert outcome.lead.status == "Working"


def test_a_converted_lead_refuses_every_change_but_notifications():
    lead = converted(LEAD)
    actions = [SetStatus("Working - Contacted"), SetLifecycleStage(MQL), UpdateField("title", "x")]
    outcome = run_workflows(captured(), lead, [rule(*actions, Notify("owner", "t"))])
    assert [r.code for r in outcome.refused] == ["converted_lead"] * 3
    assert outcome.lead is lead
    assert len(outcome.notifications) == 1


def test_actions_apply_in_order_on_the_changed_lead():
    actions = [
        SetLifecycleStage(SQL),
        SetLifecycleStage(MQL),  # now backwards: refused
        UpdateField("owner_id", "u-9"),
        Notify("owner", "t"),  # goes to the new owner
    ]
    outcome = run_workflows(captured(), LEAD, [rule(*actions)])
    assert outcome.lead.lifecycle_stage is SQL
    assert [r.code for r in outcome.refused] == ["backwards"]
    assert outcome.notifications[0].recipient == "u-9"
    assert [u.field for u in outcome.updates] == ["owner_id"]


def test_two_rules_chain_their_changes():
    first = rule(SetStatus("Working - Contacted"), name="work it")
    second = rule(SetLifecycleStage(SQL), name="sql")
    outcome = run_workflows(captured(), LEAD, [first, second])
    assert (outcome.lead.status, outcome.lead.lifecycle_stage) == ("Working - Contacted", SQL)
    assert [type(e).__name__ for e in outcome.events] == ["StatusChanged", "StageChanged"]


def test_workflow_rules_with_status_and_stage_actions_round_trip():
    original = rule(
        SetStatus("Working - Contacted"), SetLifecycleStage(MQL), UpdateField("rating", "Hot")
    )
    assert from_json(WorkflowRule, to_json(original)) == original


def test_an_outcome_with_refusals_round_trips():
    outcome = run_workflows(captured(), LEAD, [rule(SetStatus("Nope"), SetLifecycleStage(SQL))])
    assert from_json(WorkflowOutcome, to_json(outcome)) == outcome


def test_an_outcome_saved_by_the_previous_release_still_loads():
    old = '{"format": 1, "fired": ["r"], "notifications": [], "updates": [], "reasons": ["x"]}'
    outcome = from_json(WorkflowOutcome, old)
    assert (outcome.refused, outcome.lead, outcome.events) == ((), None, ())


def test_action_refused_checks_its_code():
    with pytest.raises(ValidationError):
        ActionRefused("r", SetStatus("x"), "whatever", "m")


def test_run_workflows_checks_its_new_arguments():
    for kwargs in (
        {"process": "default"},
        {"score": "high"},
        {"activities": [1]},
        {"activities": "x"},
    ):
        with pytest.raises(ValidationError):
            run_workflows(captured(), LEAD, [rule(Notify("owner", "t"))], **kwargs)


@given(lst.leads(), st.lists(st.sampled_from(list(LifecycleStage)), min_size=1, max_size=6))
def test_workflow_stage_actions_never_move_back_nor_mutate(lead, stages):
    before = copy.deepcopy(lead)
    event = captured(lead.id)
    outcome = run_workflows(event, lead, [rule(*[SetLifecycleStage(s) for s in stages])])
    assert lead == before
    ranks = [lead.lifecycle_stage] + [e.current for e in outcome.events]
    known = [s.rank for s in ranks if s is not None and s.rank is not None]
    assert known == sorted(known)
    assert len(outcome.events) + len(outcome.refused) <= len(stages)
    # every action is accounted for: applied (an event), unchanged, or refused
    assert from_json(WorkflowOutcome, to_json(outcome)) == outcome


# -- journey paths: score and activities in criteria -------------------------------------


def activity(kind, days=0, subject="L1", n=1):
    return Activity(
        id=f"A{kind}{days}{n}",
        subject_id=subject,
        kind=kind,
        occurred_at=NOW - timedelta(days=days),
    )


def test_criteria_read_activity_counts_and_the_score():
    demo = rule(
        SetLifecycleStage(SQL),
        criterion=All(
            [Condition("activity.count.demo_request", "gte", 1), Condition("score", "gte", 30)]
        ),
    )
    history = [activity("demo_request"), activity("email_open", 2)]
    assert (
        run_workflows(captured(), LEAD, [demo], activities=history, score=31).lead.lifecycle_stage
        is SQL
    )
    assert run_workflows(captured(), LEAD, [demo], activities=history, score=29).fired == ()
    assert run_workflows(captured(), LEAD, [demo], score=90).fired == ()


def test_a_kind_never_seen_counts_zero():
    quiet = rule(
        SetStatus("Working - Contacted"), criterion=Condition("activity.count.call", "eq", 0)
    )
    assert run_workflows(captured(), LEAD, [quiet], activities=[activity("email_open")]).fired == (
        "r",
    )
    total = rule(SetStatus("Working - Contacted"), criterion=Condition("activity.total", "gte", 2))
    assert run_workflows(
        captured(), LEAD, [total], activities=[activity("a"), activity("b")]
    ).fired == ("r",)


def test_the_score_event_gives_the_score():
    at_least = rule(SetLifecycleStage(MQL), criterion=Condition("score", "gte", 50))
    event = LeadScored(lead_id="L1", model="m", total=64.5, rating=None, occurred_at=NOW)
    assert run_workflows(
        event, LEAD, [attrs.evolve(at_least, trigger=Trigger.score_crossed(50))]
    ).fired


# -- LifecyclePolicy: MQL/SQL thresholds as data -----------------------------------------


def test_the_default_policy_makes_an_mql_at_50_and_an_sql_when_worked():
    assert lifecycle_stage(LEAD, DEFAULT_LIFECYCLE_POLICY, score=49).stage is None
    assert lifecycle_stage(LEAD, DEFAULT_LIFECYCLE_POLICY, score=50).stage is MQL
    from decimal import Decimal

    stored = attrs.evolve(LEAD, custom={"score": Decimal(72)})
    assert lifecycle_stage(stored, DEFAULT_LIFECYCLE_POLICY).stage is MQL
    worked = attrs.evolve(LEAD, status="Working - Contacted")
    decision = lifecycle_stage(worked, DEFAULT_LIFECYCLE_POLICY, score=80)
    assert decision.stage is SQL
    assert decision.met == (MQL, SQL)


def test_the_policy_moves_forward_only_and_says_why():
    customer = attrs.evolve(LEAD, lifecycle_stage=LifecycleStage.CUSTOMER)
    decision = lifecycle_stage(customer, DEFAULT_LIFECYCLE_POLICY, score=90)
    assert (decision.earned, decision.stage, decision.moves) == (MQL, None, False)
    assert "forward only" in decision.reasons[-1]
    same = attrs.evolve(LEAD, lifecycle_stage=MQL)
    assert (
        lifecycle_stage(same, DEFAULT_LIFECYCLE_POLICY, score=90).reasons[-1]
        == "already marketing_qualified"
    )


def test_a_converted_lead_stays():
    decision = lifecycle_stage(converted(LEAD), DEFAULT_LIFECYCLE_POLICY, score=90)
    assert decision.stage is None


def test_a_policy_reads_activities_and_works_on_contacts():
    policy = LifecyclePolicy(
        [
            StageRule(LifecycleStage.LEAD, Condition("activity.count.form_submitted", "gte", 1)),
            StageRule(
                SQL,
                Condition("activity.count.demo_request", "gte", 1),
                description="asked for a demo",
            ),
        ]
    )
    contact = Contact(id="C1", last_name="Ng")
    history = [activity("form_submitted", subject="C1"), activity("demo_request", subject="C1")]
    decision = lifecycle_stage(contact, policy, activities=history)
    assert decision.stage is SQL
    assert decision.reasons[1] == "sales_qualified: asked for a demo"


@pytest.mark.parametrize(
    "rules",
    [
        [],
        [StageRule(SQL, ANY), StageRule(MQL, ANY)],
        [StageRule(MQL, ANY), StageRule(MQL, ANY)],
        ["MQL"],
    ],
)
def test_a_policy_lists_each_stage_once_in_order(rules):
    with pytest.raises(ValidationError):
        LifecyclePolicy(rules)


def test_a_stage_rule_never_earns_other():
    with pytest.raises(ValidationError):
        StageRule(LifecycleStage.OTHER, ANY)


def test_lifecycle_stage_checks_its_arguments():
    for call in (
        lambda: lifecycle_stage("L1", DEFAULT_LIFECYCLE_POLICY),
        lambda: lifecycle_stage(LEAD, "policy"),
        lambda: lifecycle_stage(LEAD, DEFAULT_LIFECYCLE_POLICY, score=float("nan")),
        lambda: lifecycle_stage(LEAD, DEFAULT_LIFECYCLE_POLICY, activities=5),
    ):
        with pytest.raises(ValidationError):
            call()


@given(lst.leads(), st.one_of(st.none(), st.integers(0, 100)))
def test_policy_decisions_are_forward_only_and_round_trip(lead, score):
    decision = lifecycle_stage(lead, DEFAULT_LIFECYCLE_POLICY, score=score)
    if decision.stage is not None:
        current = lead.lifecycle_stage
        assert current is None or current.rank is None or decision.stage.rank > current.rank
    assert from_json(LifecycleDecision, to_json(decision)) == decision
    assert from_json(LifecyclePolicy, to_json(DEFAULT_LIFECYCLE_POLICY)) == DEFAULT_LIFECYCLE_POLICY


# -- re-engagement -----------------------------------------------------------------------

CUSTOMER = Contact(
    id="C1",
    first_name="Ada",
    last_name="Ng",
    email=EmailAddress.parse("ada@acme.io"),
    owner_id="u-3",
    lifecycle_stage=LifecycleStage.CUSTOMER,
    account_id="A1",
)


def test_a_customer_showing_intent_opens_a_new_linked_lead():
    again = reengage(
        CUSTOMER, signal="asked for a demo", ids=SequentialIds(), now=NOW, company="Acme"
    )
    lead = again.lead
    assert lead.custom["reengaged_contact_id"] == "C1"
    assert (lead.email, lead.owner_id, lead.company, lead.lifecycle_stage) == (
        CUSTOMER.email,
        "u-3",
        "Acme",
        LifecycleStage.LEAD,
    )
    assert again.activity.subject_id == "C1"
    assert again.activity.kind == EPISODE_ACTIVITY
    assert dict(again.activity.properties) == {
        "episode": 2,
        "previous_stage": "customer",
        "reason": "asked for a demo",
        "mode": "lead",
        "lead_id": lead.id,
    }


def test_an_episode_opens_no_lead_and_counts_up():
    first = reengage(CUSTOMER, signal="x", ids=SequentialIds(), now=NOW, mode="episode")
    assert first.lead is None
    assert first.episode == 2
    second = reengage(
        CUSTOMER,
        signal="y",
        ids=lambda kind: f"{kind}-2",
        now=NOW,
        mode="episode",
        history=[first.activity, activity("call", subject="C1")],
    )
    assert second.episode == 3


def test_a_signal_activity_is_named():
    demo = activity("demo_request", subject="C1")
    again = reengage(CUSTOMER, signal=demo, ids=SequentialIds(), now=NOW)
    assert again.activity.properties["signal_activity_id"] == demo.id
    assert again.lead.is_person  # no company given
    with pytest.raises(ValidationError):
        reengage(
            CUSTOMER, signal=activity("demo_request", subject="C2"), ids=SequentialIds(), now=NOW
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"signal": "  "},
        {"signal": 5},
        {"mode": "regress"},
        {"now": datetime(2026, 1, 1)},  # noqa: DTZ001 - a naive time, refused
        {"ids": "lead-1"},
        {"history": [1]},
        {"company": 7},
    ],
)
def test_reengage_checks_its_arguments(kwargs):
    arguments = {"signal": "x", "ids": SequentialIds(), "now": NOW, **kwargs}
    with pytest.raises(ValidationError):
        reengage(CUSTOMER, **arguments)


@given(
    lst.contacts(), st.sampled_from(["lead", "episode"]), st.lists(st.integers(1, 50), max_size=4)
)
def test_reengagement_loses_nothing(contact, mode, episodes):
    history = [
        Activity(
            id=f"E{i}",
            subject_id=contact.id,
            kind=EPISODE_ACTIVITY,
            occurred_at=NOW,
            properties={"episode": n},
        )
        for i, n in enumerate(episodes)
    ]
    before = copy.deepcopy(contact)
    again = reengage(
        contact, signal="new intent", ids=SequentialIds(), now=NOW, mode=mode, history=history
    )
    assert contact == before  # the contact, its stage included, is untouched
    assert again.episode == max([1, *episodes]) + 1
    assert again.previous_stage is contact.lifecycle_stage
    assert (again.lead is None) is (mode == "episode")
    if again.lead is not None:
        assert again.lead.custom["reengaged_contact_id"] == contact.id
    assert from_json(Reengagement, to_json(again)) == again


def test_the_lifecycle_module_exports_what_it_defines():
    import importlib
    import inspect

    module = importlib.import_module("leadmodel.rules.lifecycle")
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert defined <= set(module.__all__)
    import leadmodel

    assert all(hasattr(leadmodel, name) for name in module.__all__)


@given(
    lst.leads(converted=st.just(False)),
    st.lists(st.sampled_from(["demo_request", "email_open", "call"]), max_size=8),
    st.randoms(use_true_random=False),
)
def test_policy_decisions_ignore_activity_order_and_are_idempotent(lead, kinds, rnd):
    policy = LifecyclePolicy(
        [
            StageRule(MQL, Condition("activity.total", "gte", 2)),
            StageRule(SQL, Condition("activity.count.demo_request", "gte", 1)),
        ]
    )
    history = [activity(kind, days=i, subject=lead.id, n=i) for i, kind in enumerate(kinds)]
    shuffled = list(history)
    rnd.shuffle(shuffled)
    decision = lifecycle_stage(lead, policy, activities=history)
    assert lifecycle_stage(lead, policy, activities=shuffled) == decision
    if decision.stage is not None:
        from leadmodel import advance

        moved = advance(lead, decision.stage)
        assert lifecycle_stage(moved, policy, activities=history).stage is None
