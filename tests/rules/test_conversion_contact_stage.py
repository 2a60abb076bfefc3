"""The lifecycle stage a converted contact reaches (issue 17: HubSpot keeps it at SQL)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    ConvertOptions,
    ExistingRecords,
    InvalidConvertOptions,
    Lead,
    LifecycleStage,
    Opportunity,
    convert_lead,
    from_json,
    to_json,
)
from leadmodel.adapters.memory import SequentialIds

NOW = datetime(2026, 11, 23, tzinfo=UTC)
STATUS = "Closed - Converted"


def convert(options, lead=None, existing=None):
    lead = lead or Lead(id="L1", last_name="Ng", company="Acme")
    return convert_lead(lead, options, existing=existing, ids=SequentialIds(), now=NOW)


def test_a_contact_converted_without_an_opportunity_is_sales_qualified():
    result = convert(ConvertOptions(STATUS, create_opportunity=False))
    assert result.contact.lifecycle_stage is LifecycleStage.SALES_QUALIFIED


def test_a_contact_converted_with_an_open_opportunity_is_at_opportunity():
    result = convert(ConvertOptions(STATUS))
    assert result.contact.lifecycle_stage is LifecycleStage.OPPORTUNITY


def test_a_won_opportunity_makes_a_customer():
    won = Opportunity(id="O7", name="Renewal", stage="Closed Won")
    result = convert(
        ConvertOptions(STATUS, opportunity_id="O7"), existing=ExistingRecords(opportunity=won)
    )
    assert result.contact.lifecycle_stage is LifecycleStage.CUSTOMER


def test_the_stages_are_options():
    old = ConvertOptions(
        STATUS,
        create_opportunity=False,
        contact_stage_without_opportunity=LifecycleStage.CUSTOMER,
    )
    assert convert(old).contact.lifecycle_stage is LifecycleStage.CUSTOMER
    mql = ConvertOptions(STATUS, contact_stage_with_opportunity=LifecycleStage.SALES_QUALIFIED)
    assert convert(mql).contact.lifecycle_stage is LifecycleStage.SALES_QUALIFIED


def test_a_later_lead_stage_is_kept():
    lead = Lead(id="L1", last_name="Ng", company="Acme", lifecycle_stage=LifecycleStage.EVANGELIST)
    result = convert(ConvertOptions(STATUS, create_opportunity=False), lead=lead)
    assert result.contact.lifecycle_stage is LifecycleStage.EVANGELIST


def test_a_stage_that_is_not_a_lifecycle_stage_is_refused():
    with pytest.raises(InvalidConvertOptions) as caught:
        ConvertOptions(STATUS, contact_stage_without_opportunity="customer")
    assert caught.value.paths == ("contact_stage_without_opportunity",)


def test_convert_options_of_the_previous_release_still_load():
    old = '{"format": 1, "converted_status": "Closed - Converted", "create_opportunity": false}'
    options = from_json(ConvertOptions, old)
    assert options.contact_stage_without_opportunity is LifecycleStage.SALES_QUALIFIED
    assert options.contact_stage_with_opportunity is LifecycleStage.OPPORTUNITY


@given(st.sampled_from(list(LifecycleStage)), st.sampled_from(list(LifecycleStage)))
def test_stage_options_round_trip(with_deal, without_deal):
    options = ConvertOptions(
        STATUS,
        contact_stage_with_opportunity=with_deal,
        contact_stage_without_opportunity=without_deal,
    )
    assert from_json(ConvertOptions, to_json(options)) == options


def test_the_previous_release_fixtures_still_load():
    from pathlib import Path

    from leadmodel import ConversionResult

    fixtures = Path(__file__).parent.parent / "fixtures" / "release-5ff17be"
    options = from_json(ConvertOptions, (fixtures / "convert_options.json").read_text())
    assert options.opportunity_name == "Compilers - 50 seats"
    assert options.contact_stage_without_opportunity is LifecycleStage.SALES_QUALIFIED
    result = from_json(ConversionResult, (fixtures / "conversion_result.json").read_text())
    assert result.lead.id == "L-CONV"
