"""regress() moves a lifecycle stage back only (issue 17: it moved a lead forward)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import Contact, Lead, LifecycleStage, TransitionError, regress

RANKED = [s for s in LifecycleStage if s.rank is not None]


def lead(stage):
    return Lead(id="L1", last_name="Ng", company="Acme", lifecycle_stage=stage)


def test_regress_to_a_later_stage_is_refused():
    with pytest.raises(TransitionError) as caught:
        regress(lead(LifecycleStage.LEAD), LifecycleStage.CUSTOMER, reason="signed")
    assert (caught.value.current, caught.value.target) == ("lead", "customer")


def test_regress_to_the_same_stage_returns_the_entity_unchanged():
    original = lead(LifecycleStage.SALES_QUALIFIED)
    result = regress(original, LifecycleStage.SALES_QUALIFIED, reason="checked")
    assert result.entity is original
    assert result.previous is LifecycleStage.SALES_QUALIFIED


def test_regress_to_other_is_always_allowed():
    result = regress(lead(LifecycleStage.CUSTOMER), LifecycleStage.OTHER, reason="partner")
    assert result.entity.lifecycle_stage is LifecycleStage.OTHER


def test_regress_from_other_or_no_stage_sets_any_stage():
    contact = Contact(id="C1", last_name="Ng")
    assert regress(contact, LifecycleStage.LEAD, reason="x").entity.lifecycle_stage.value == "lead"
    back = regress(lead(LifecycleStage.OTHER), LifecycleStage.CUSTOMER, reason="x")
    assert back.entity.lifecycle_stage is LifecycleStage.CUSTOMER


@given(st.sampled_from(RANKED), st.sampled_from(RANKED))
def test_regress_never_moves_forward(current, target):
    start = lead(current)
    if target.rank > current.rank:
        with pytest.raises(TransitionError):
            regress(start, target, reason="x")
    else:
        moved = regress(start, target, reason="x").entity
        assert moved.lifecycle_stage.rank <= current.rank
