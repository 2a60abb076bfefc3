from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Account,
    Address,
    ConversionRecord,
    ConvertedLeadError,
    Lead,
    LifecycleStage,
    MergeResult,
    Money,
    Survivorship,
    ValidationError,
    from_json,
    merge,
    to_json,
    unmerge,
)
from leadmodel.testing.strategies import accounts, contacts, leads

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def lead(lead_id, days=0, **fields):
    fields.setdefault("last_name", "Ng")
    fields.setdefault("company", "Acme")
    return Lead(id=lead_id, created_at=T0 + timedelta(days=days), **fields)


class TestMerge:
    def test_the_oldest_record_is_the_master_by_default(self):
        result = merge([lead("L2", days=5), lead("L1", days=9), lead("L3", days=1)])
        assert result.survivor.id == "L3"
        assert result.absorbed_ids == ("L2", "L1")
        assert result.survivor.created_at == T0 + timedelta(days=1)

    def test_master_values_win_then_the_first_non_blank(self):
        result = merge(
            [
                lead("L1", title=None, company="Acme"),
                lead("L2", days=1, title="CTO", company="Acme Inc"),
                lead("L3", days=2, title="CEO"),
            ],
            master="L1",
        )
        assert (result.survivor.company, result.survivor.title) == ("Acme", "CTO")
        assert result.discarded_values("title") == {"L3": "CEO"}
        assert result.discarded_values("company") == {"L2": "Acme Inc"}

    def test_explicit_choices_override(self):
        result = merge(
            [lead("L1", title="CTO"), lead("L2", days=1, title="CEO")],
            choices={"title": "L2"},
        )
        assert result.survivor.title == "CEO"

    def test_created_at_comes_from_the_oldest_even_with_another_master(self):
        result = merge([lead("L1", days=3), lead("L2", days=1)], master="L1")
        assert result.survivor.id == "L1"
        assert result.survivor.created_at == T0 + timedelta(days=1)

    def test_descriptions_are_joined_and_tags_united(self):
        result = merge(
            [
                lead("L1", description="Met at fair.", tags={"fair"}),
                lead("L2", days=1, description="Asked for pricing.", tags={"pricing", "fair"}),
                lead("L3", days=2, description="Met at fair."),
            ]
        )
        assert result.survivor.description == "Met at fair.\n\nAsked for pricing."
        assert result.survivor.tags == frozenset({"fair", "pricing"})

    def test_any_opt_out_wins_and_the_furthest_stage(self):
        result = merge(
            [
                lead("L1", email_opt_out=False, lifecycle_stage=LifecycleStage.LEAD),
                lead("L2", days=1, email_opt_out=True, lifecycle_stage=LifecycleStage.CUSTOMER),
            ]
        )
        assert result.survivor.email_opt_out is True
        assert result.survivor.lifecycle_stage is LifecycleStage.CUSTOMER

    def test_the_most_complete_address_is_kept_whole(self):
        result = merge(
            [
                lead("L1", address=Address(city="Paris")),
                lead(
                    "L2",
                    days=1,
                    address=Address(street="1 rue de Rivoli", city="Paris", country="France"),
                ),
            ]
        )
        assert result.survivor.address == Address(
            street="1 rue de Rivoli", city="Paris", country="France"
        )

    def test_strategies_can_be_changed_per_field(self):
        result = merge(
            [
                lead("L1", title="Old title", updated_at=T0 + timedelta(days=1)),
                lead("L2", days=1, title="New title", updated_at=T0 + timedelta(days=30)),
            ],
            strategy={"title": Survivorship.MOST_RECENT},
        )
        assert result.survivor.title == "New title"

    def test_max_money_keeps_the_masters_currency(self):
        result = merge(
            [
                lead("L1", annual_revenue=Money(Decimal(10), "USD")),
                lead("L2", days=1, annual_revenue=Money(Decimal(99), "EUR")),
                lead("L3", days=2, annual_revenue=Money(Decimal(20), "USD")),
            ],
            strategy={"annual_revenue": Survivorship.MAX},
        )
        assert result.survivor.annual_revenue == Money(Decimal(20), "USD")

    def test_custom_fields_merge_key_by_key(self):
        result = merge(
            [
                lead("L1", custom={"visits": 3}),
                lead("L2", days=1, custom={"visits": 9, "tier": "Gold"}),
            ]
        )
        assert dict(result.survivor.custom) == {"visits": 3, "tier": "Gold"}
        assert result.discarded_values("custom.visits") == {"L2": 9}

    def test_reparent_instructions(self):
        result = merge(
            [
                Account(id="A1", name="Acme", created_at=T0),
                Account(id="A2", name="Acme Inc", created_at=T0 + timedelta(days=1)),
            ]
        )
        assert {(r.dependant, r.field) for r in result.reparent} == {
            ("activity", "subject_id"),
            ("contact", "account_id"),
            ("opportunity", "account_id"),
            ("account_contact_relation", "account_id"),
            ("account", "parent_id"),
        }
        assert all((r.from_id, r.to_id) == ("A2", "A1") for r in result.reparent)

    def test_result_round_trips_through_json(self):
        result = merge([lead("L1", title="CTO"), lead("L2", days=1, title="CEO")])
        assert from_json(MergeResult, to_json(result)) == result

    def test_unmerge_gives_back_the_originals(self):
        records = (lead("L2", days=1, title="CEO"), lead("L1", title="CTO"))
        assert unmerge(merge(records)) == records


class TestMergeRefusals:
    def test_needs_two_records_of_one_kind(self):
        with pytest.raises(ValidationError):
            merge([lead("L1")])
        with pytest.raises(ValidationError):
            merge([lead("L1"), Account(id="A1", name="Acme")])  # type: ignore[list-item]
        with pytest.raises(ValidationError):
            merge([lead("L1"), lead("L1")])
        with pytest.raises(ValidationError):
            merge("L1 L2")  # type: ignore[arg-type]

    def test_master_and_choices_must_name_a_record(self):
        with pytest.raises(ValidationError):
            merge([lead("L1"), lead("L2")], master="L9")
        with pytest.raises(ValidationError):
            merge([lead("L1"), lead("L2")], choices={"title": "L9"})
        with pytest.raises(ValidationError):
            merge([lead("L1"), lead("L2")], strategy={"title": "max"})  # type: ignore[dict-item]

    def test_converted_leads_cannot_be_merged(self):
        converted = lead(
            "L2",
            status="Closed - Converted",
            converted=ConversionRecord(
                account_id="A1", contact_id="C1", converted_at=T0, status="Closed - Converted"
            ),
        )
        with pytest.raises(ConvertedLeadError):
            merge([lead("L1"), converted])

    def test_unmerge_refuses_other_values(self):
        with pytest.raises(ValidationError):
            unmerge("result")  # type: ignore[arg-type]


def _distinct(records):
    return [attrs.evolve(r, id=f"{r.id}-{i}") for i, r in enumerate(records)]


record_lists = st.one_of(
    st.lists(leads(converted=st.just(False)), min_size=2, max_size=4).map(_distinct),
    st.lists(contacts(), min_size=2, max_size=4).map(_distinct),
    # person accounts merge only with person accounts (mixed_account_kinds otherwise)
    st.tuples(st.lists(accounts(), min_size=2, max_size=4), st.booleans()).map(
        lambda pair: _distinct([attrs.evolve(a, is_person=pair[1]) for a in pair[0]])
    ),
)


def _value_survives(result, record, field, value):
    survivor = result.survivor
    merged = (
        survivor.custom.get(field[7:]) if field.startswith("custom.") else getattr(survivor, field)
    )
    if merged == value:
        return True
    if isinstance(merged, frozenset) and value <= merged:
        return True
    if isinstance(merged, str) and isinstance(value, str) and value in merged.split("\n\n"):
        return True
    provenance = {p.field: p for p in result.provenance}
    item = provenance.get(field)
    return item is not None and (record.id in item.sources or record.id in item.discarded)


@given(record_lists, st.data())
def test_merge_loses_nothing(records, data):
    master = data.draw(st.sampled_from([r.id for r in records]))
    result = merge(records, master=master)
    for record in records:
        for field in attrs.fields_dict(type(record)):
            if field in ("id", "custom"):
                continue
            value = getattr(record, field)
            if value is None or value == frozenset():
                continue
            assert _value_survives(result, record, field, value), field
        for key, value in record.custom.items():
            assert _value_survives(result, record, f"custom.{key}", value), key


@given(record_lists)
def test_unmerge_of_merge_is_the_input(records):
    assert unmerge(merge(records)) == tuple(records)


@given(record_lists)
def test_merge_does_not_depend_on_input_order_given_a_master(records):
    master = records[0].id
    forward = merge(records, master=master)
    backward = merge(list(reversed(records)), master=master)
    assert forward.survivor == backward.survivor
