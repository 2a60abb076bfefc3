"""The invariants of DESIGN.md that the foundation owns, as hypothesis properties."""

import copy

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LEAD_SCHEMA,
    Account,
    Activity,
    Address,
    Contact,
    ConvertedLeadError,
    EmailAddress,
    FieldValues,
    Lead,
    LeadProcess,
    LifecycleStage,
    Money,
    Opportunity,
    OpportunityProcess,
    PhoneNumber,
    TransitionError,
    ValidationError,
    advance,
    from_dict,
    from_json,
    regress,
    to_dict,
    to_json,
    transition,
    update,
)
from leadmodel.testing import strategies as lst

ENTITIES = [
    (Lead, lst.leads()),
    (Contact, lst.contacts()),
    (Account, lst.accounts()),
    (Opportunity, lst.opportunities()),
    (Activity, lst.activities()),
    (EmailAddress, lst.emails()),
    (PhoneNumber, lst.phones()),
    (Money, lst.moneys()),
    (Address, lst.addresses()),
    (FieldValues, lst.custom_values()),
]


@pytest.mark.parametrize(("cls", "strategy"), ENTITIES, ids=[c.__name__ for c, _ in ENTITIES])
@given(data=st.data())
def test_json_round_trip(cls, strategy, data):
    value = data.draw(strategy)
    text = to_json(value)
    back = from_json(cls, text)
    assert back == value
    assert to_json(back) == text


@pytest.mark.parametrize(
    "value",
    [DEFAULT_LEAD_PROCESS, DEFAULT_OPPORTUNITY_PROCESS, LEAD_SCHEMA],
    ids=["lead process", "opportunity process", "lead schema"],
)
def test_rule_values_round_trip(value):
    assert from_json(type(value), to_json(value)) == value


@given(lst.custom_values())
def test_custom_values_keep_their_exact_types(values):
    back = from_dict(FieldValues, to_dict(values))
    assert [type(v) for v in back.values()] == [type(v) for v in values.values()]


@pytest.mark.parametrize(
    ("cls", "strategy"), ENTITIES[:5], ids=[c.__name__ for c, _ in ENTITIES[:5]]
)
@given(data=st.data())
def test_entities_are_frozen(cls, strategy, data):
    entity = data.draw(strategy)
    field = data.draw(st.sampled_from([f.name for f in attrs.fields(cls)]))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(entity, field, None)


@given(
    lst.leads(), st.sampled_from(["id", "last_name"]), st.sampled_from(["", " ", "\x00", None, 5])
)
def test_evolve_revalidates(lead, field, bad):
    with pytest.raises(ValidationError) as caught:
        attrs.evolve(lead, **{field: bad})
    assert field in caught.value.paths


@given(lst.leads(converted=st.just(False)), st.sampled_from(list(LifecycleStage)))
def test_lifecycle_never_moves_backward_without_regress(lead, stage):
    current = lead.lifecycle_stage
    backwards = (
        current is not None
        and current is not LifecycleStage.OTHER
        and (stage is LifecycleStage.OTHER or (stage.rank or 0) < (current.rank or 0))
    )
    for move in (lambda: advance(lead, stage), lambda: update(lead, lifecycle_stage=stage)):
        if backwards:
            with pytest.raises(TransitionError):
                move()
        else:
            assert move().lifecycle_stage is stage
    forwards = (
        current is not None
        and current.rank is not None
        and stage.rank is not None
        and stage.rank > current.rank
    )
    if forwards:
        with pytest.raises(TransitionError):
            regress(lead, stage, reason="decided")
    else:
        assert regress(lead, stage, reason="decided").entity.lifecycle_stage is stage


@given(lst.leads(converted=st.just(True)), st.sampled_from(list(LifecycleStage)))
def test_converted_leads_are_read_only(lead, stage):
    for change in (
        lambda: update(lead, title="x"),
        lambda: transition(lead, "Working - Contacted"),
        lambda: advance(lead, stage),
        lambda: regress(lead, stage, reason="x"),
    ):
        with pytest.raises(ConvertedLeadError):
            change()


@given(
    lst.leads(converted=st.just(False)),
    st.sampled_from(["Working - Contacted", "Closed - Not Converted"]),
)
def test_guarded_changes_never_mutate_their_argument(lead, status):
    before = copy.deepcopy(lead)
    update(lead, title="Changed")
    transition(lead, status)
    regress(lead, LifecycleStage.SUBSCRIBER, reason="x")
    assert lead == before


@given(st.sampled_from([DEFAULT_LEAD_PROCESS]), st.data())
def test_transition_is_idempotent(process: LeadProcess, data):
    lead = data.draw(lst.leads(converted=st.just(False)))
    status = data.draw(st.sampled_from([s.name for s in process.statuses if not s.is_converted]))
    once = transition(lead, status, process=process)
    assert transition(once, status, process=process) == once


@given(lst.leads())
def test_leads_from_the_strategy_satisfy_the_standard_schema(lead):
    assert LEAD_SCHEMA.problems(attrs.evolve(lead, custom={})) == ()


def test_opportunity_process_round_trips_through_dict():
    data = to_dict(DEFAULT_OPPORTUNITY_PROCESS)
    assert from_dict(OpportunityProcess, data) == DEFAULT_OPPORTUNITY_PROCESS


@given(lst.emails())
def test_email_normalisation_is_idempotent(email):
    assert EmailAddress.parse(email.formatted()) == email
    assert EmailAddress.parse(email.normalized).normalized == email.normalized


@given(lst.phones())
def test_phone_normalisation_is_idempotent(phone):
    assert PhoneNumber.parse(phone.formatted()) == phone
    assert PhoneNumber.parse(phone.e164).e164 == phone.e164


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        st.integers(-(10**17), 10**17),
        max_size=6,
    ),
    st.randoms(),
)
def test_custom_values_do_not_depend_on_insertion_order(values, random):
    items = list(values.items())
    random.shuffle(items)
    shuffled = FieldValues(dict(items))
    assert shuffled == FieldValues(values)
    assert hash(shuffled) == hash(FieldValues(values))


@given(st.lists(lst.leads(), max_size=6, unique_by=lambda lead: lead.id), st.randoms())
def test_stored_leads_do_not_depend_on_insertion_order(records, random):
    from leadmodel.adapters.memory import MemoryUnitOfWork

    shuffled = list(records)
    random.shuffle(shuffled)
    views = []
    for batch in (records, shuffled):
        with MemoryUnitOfWork() as uow:
            for record in batch:
                uow.leads.add(record)
            views.append(list(uow.leads))
    assert views[0] == views[1]


@given(lst.leads(converted=st.just(False)), lst.names(max_size=128))
def test_update_is_idempotent(lead, title):
    once = update(lead, title=title)
    assert update(once, title=title) == once
