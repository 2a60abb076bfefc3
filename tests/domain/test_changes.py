from datetime import UTC, datetime

import pytest

from leadmodel import (
    DEFAULT_LEAD_PROCESS,
    Account,
    Contact,
    ConversionRecord,
    ConvertedLeadError,
    Lead,
    LeadProcess,
    LeadStatus,
    LifecycleStage,
    Transition,
    TransitionError,
    ValidationError,
    advance,
    regress,
    transition,
    update,
)

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def lead(**changes):
    return Lead(id="L1", last_name="Ng", company="Acme", **changes)


def converted_lead():
    record = ConversionRecord(
        account_id="A1", contact_id="C1", converted_at=NOW, status="Closed - Converted"
    )
    return lead(status="Closed - Converted", converted=record)


class TestUpdate:
    def test_returns_a_new_entity_and_leaves_the_old_one(self):
        original = lead()
        changed = update(original, title="CTO", rating="Hot")
        assert (changed.title, changed.rating) == ("CTO", "Hot")
        assert original.title is None

    def test_without_changes_returns_the_same_entity(self):
        original = lead()
        assert update(original) is original

    def test_revalidates(self):
        with pytest.raises(ValidationError) as caught:
            update(lead(), first_name="x" * 41)
        assert caught.value.paths == ("first_name",)

    def test_refuses_unknown_fields(self):
        with pytest.raises(ValidationError) as caught:
            update(lead(), emial="typo")
        assert caught.value.errors[0].code == "unknown_field"

    def test_refuses_changing_the_id_or_conversion(self):
        with pytest.raises(ValidationError) as caught:
            update(lead(), id="L2")
        assert caught.value.errors[0].code == "managed"

    def test_refuses_a_converted_lead(self):
        with pytest.raises(ConvertedLeadError) as caught:
            update(converted_lead(), title="CTO")
        assert caught.value.lead_id == "L1"

    def test_status_goes_through_transition(self):
        with pytest.raises(TransitionError, match="transition"):
            update(lead(), status="Working - Contacted")

    def test_lifecycle_moves_forward_only(self):
        qualified = lead(lifecycle_stage=LifecycleStage.SALES_QUALIFIED)
        assert update(qualified, lifecycle_stage=LifecycleStage.CUSTOMER).lifecycle_stage is (
            LifecycleStage.CUSTOMER
        )
        with pytest.raises(TransitionError, match="regress"):
            update(qualified, lifecycle_stage=LifecycleStage.LEAD)

    def test_works_on_every_entity(self):
        assert update(Account(id="A1", name="Acme"), name="Acme Corp").name == "Acme Corp"
        assert update(Contact(id="C1", last_name="Ng"), title="CEO").title == "CEO"

    def test_refuses_non_entities(self):
        with pytest.raises(ValidationError):
            update({"id": "L1"}, title="x")  # type: ignore[type-var]


class TestTransition:
    def test_moves_between_statuses(self):
        assert transition(lead(), "Working - Contacted").status == "Working - Contacted"

    def test_same_status_is_a_no_op(self):
        original = lead()
        assert transition(original, original.status) is original

    def test_never_into_a_converted_status(self):
        with pytest.raises(TransitionError, match="convert_lead"):
            transition(lead(), "Closed - Converted")

    def test_refuses_an_unknown_status(self):
        with pytest.raises(TransitionError, match="not a status"):
            transition(lead(), "Nope")

    def test_refuses_a_converted_lead(self):
        with pytest.raises(ConvertedLeadError):
            transition(converted_lead(), "Working - Contacted")

    def test_follows_the_process(self):
        process = LeadProcess(
            name="Strict",
            statuses=[
                LeadStatus("New", is_default=True),
                LeadStatus("Working"),
                LeadStatus("Won", is_converted=True),
            ],
            transitions=[Transition("New", {"Working"})],
        )
        working = transition(lead(status="New"), "Working", process=process)
        with pytest.raises(TransitionError, match="does not allow"):
            transition(working, "New", process=process)
        with pytest.raises(TransitionError, match="not a status"):
            transition(lead(), "Working", process=process)

    def test_refuses_a_lead_whose_status_is_not_in_the_process(self):
        odd = lead(status="Legacy")
        with pytest.raises(TransitionError, match="Legacy"):
            transition(odd, "Working - Contacted", process=DEFAULT_LEAD_PROCESS)


class TestLifecycle:
    def test_advance_moves_forward(self):
        assert advance(lead(), LifecycleStage.CUSTOMER).lifecycle_stage is LifecycleStage.CUSTOMER

    def test_advance_refuses_to_move_back(self):
        customer = lead(lifecycle_stage=LifecycleStage.CUSTOMER)
        with pytest.raises(TransitionError) as caught:
            advance(customer, LifecycleStage.LEAD)
        assert (caught.value.current, caught.value.target) == ("customer", "lead")

    def test_advance_from_nothing_or_other_reaches_any_stage(self):
        contact = Contact(id="C1", last_name="Ng")
        assert (
            advance(contact, LifecycleStage.SUBSCRIBER).lifecycle_stage is LifecycleStage.SUBSCRIBER
        )
        other = lead(lifecycle_stage=LifecycleStage.OTHER)
        assert advance(other, LifecycleStage.LEAD).lifecycle_stage is LifecycleStage.LEAD

    def test_other_is_not_forward(self):
        with pytest.raises(TransitionError):
            advance(lead(), LifecycleStage.OTHER)

    def test_advance_to_the_current_stage_is_a_no_op(self):
        original = lead()
        assert advance(original, LifecycleStage.LEAD) is original

    def test_regress_records_the_reason(self):
        customer = lead(lifecycle_stage=LifecycleStage.CUSTOMER)
        result = regress(customer, LifecycleStage.LEAD, reason="churned")
        assert result.entity.lifecycle_stage is LifecycleStage.LEAD
        assert result.previous is LifecycleStage.CUSTOMER
        assert result.reason == "churned"

    def test_regress_needs_a_reason(self):
        with pytest.raises(ValidationError) as caught:
            regress(lead(), LifecycleStage.SUBSCRIBER, reason="  ")
        assert caught.value.paths == ("reason",)

    def test_refuse_converted_leads(self):
        with pytest.raises(ConvertedLeadError):
            advance(converted_lead(), LifecycleStage.CUSTOMER)
        with pytest.raises(ConvertedLeadError):
            regress(converted_lead(), LifecycleStage.SUBSCRIBER, reason="x")

    def test_refuse_bad_stages(self):
        with pytest.raises(ValidationError):
            advance(lead(), "customer")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            regress(lead(), "lead", reason="x")  # type: ignore[arg-type]
