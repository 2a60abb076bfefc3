from decimal import Decimal

import pytest

from leadmodel import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LeadProcess,
    LeadStatus,
    LifecycleStage,
    OpportunityProcess,
    OpportunityStage,
    Transition,
    ValidationError,
)


def test_default_lead_process_is_salesforces_four():
    assert [s.name for s in DEFAULT_LEAD_PROCESS.ordered()] == [
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
    ]
    assert DEFAULT_LEAD_PROCESS.default.name == "Open - Not Contacted"
    assert [s.name for s in DEFAULT_LEAD_PROCESS.converted_statuses] == ["Closed - Converted"]


def test_default_process_allows_moves_between_unconverted_statuses():
    assert DEFAULT_LEAD_PROCESS.allows("Closed - Not Converted", "Open - Not Contacted")
    assert not DEFAULT_LEAD_PROCESS.allows("Open - Not Contacted", "Closed - Converted")
    assert not DEFAULT_LEAD_PROCESS.allows("Open - Not Contacted", "Nope")


def test_a_process_may_limit_transitions():
    process = LeadProcess(
        name="Strict",
        statuses=[
            LeadStatus("New", is_default=True),
            LeadStatus("Nurturing"),
            LeadStatus("Qualified", is_converted=True, is_closed=True),
            LeadStatus("Unqualified", is_closed=True),
        ],
        transitions=[
            Transition("New", {"Nurturing", "Unqualified"}),
            Transition("Nurturing", {"Unqualified"}),
        ],
    )
    assert process.allows("New", "Nurturing")
    assert not process.allows("Nurturing", "New")
    assert not process.allows("Unqualified", "New")


def test_several_converted_statuses_are_allowed():
    process = LeadProcess(
        name="Two ways out",
        statuses=[
            LeadStatus("New", is_default=True),
            LeadStatus("Converted - Sale", is_converted=True),
            LeadStatus("Converted - Partner", is_converted=True),
        ],
    )
    assert len(process.converted_statuses) == 2


@pytest.mark.parametrize(
    "statuses",
    [
        [LeadStatus("A"), LeadStatus("B", is_converted=True)],
        [LeadStatus("A", is_default=True), LeadStatus("B", is_default=True, is_converted=True)],
        [LeadStatus("A", is_default=True)],
        [LeadStatus("A", is_default=True), LeadStatus("A", is_converted=True)],
    ],
)
def test_refuses_inconsistent_processes(statuses):
    with pytest.raises(ValidationError):
        LeadProcess(name="Bad", statuses=statuses)


def test_refuses_transitions_naming_unknown_statuses():
    with pytest.raises(ValidationError) as caught:
        LeadProcess(
            name="Bad",
            statuses=[LeadStatus("A", is_default=True), LeadStatus("B", is_converted=True)],
            transitions=[Transition("A", {"Z"})],
        )
    assert caught.value.errors[0].code == "unknown_status"


def test_status_lookup_names_the_choices():
    with pytest.raises(ValidationError, match="Working - Contacted"):
        DEFAULT_LEAD_PROCESS.status("Nope")


def test_lifecycle_order():
    ordered = [s for s in LifecycleStage if s.rank is not None]
    assert [s.value for s in ordered] == [
        "subscriber",
        "lead",
        "marketing_qualified",
        "sales_qualified",
        "opportunity",
        "customer",
        "evangelist",
    ]
    assert [s.rank for s in ordered] == list(range(7))


def test_default_opportunity_process_mirrors_salesforce():
    names = [s.name for s in DEFAULT_OPPORTUNITY_PROCESS.stages]
    assert names[0] == "Prospecting"
    assert names[-2:] == ["Closed Won", "Closed Lost"]
    won = DEFAULT_OPPORTUNITY_PROCESS.stage("Closed Won")
    assert (won.is_closed, won.is_won, won.probability) == (True, True, 100)
    assert DEFAULT_OPPORTUNITY_PROCESS.probability("Value Proposition") == Decimal("0.5")
    with pytest.raises(ValidationError):
        DEFAULT_OPPORTUNITY_PROCESS.stage("Nope")


def test_refuses_bad_stages():
    with pytest.raises(ValidationError):
        OpportunityStage("Won", 100, is_won=True)
    with pytest.raises(ValidationError):
        OpportunityStage("Odd", 120)
    with pytest.raises(ValidationError):
        OpportunityProcess(name="Empty", stages=[])
