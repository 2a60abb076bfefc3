"""Results and events check their fields against their annotations (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

import leadmodel
from leadmodel import Contribution, FieldError, RecordsMerged, Score, Table, ValidationError
from leadmodel.services import UnmergeOutcome

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_list_where_a_result_holds_a_tuple_becomes_a_tuple():
    contribution = Contribution("web", "fit", 10)
    score = Score(10, 0, 10, None, [contribution])
    assert score.contributions == (contribution,)
    assert hash(score) == hash(Score(10, 0, 10, None, (contribution,)))


def test_a_result_round_trips_through_json_after_taking_a_list():
    event = RecordsMerged(survivor_id="L1", absorbed_ids=["L2", "L3"], occurred_at=NOW)
    assert leadmodel.from_json(RecordsMerged, leadmodel.to_json(event)) == event


def test_a_wrong_type_in_a_result_names_every_bad_field():
    with pytest.raises(ValidationError) as caught:
        Score("10", 0, {"a": 1}, None, [{"rule": "web"}])
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("fit", "type"),
        ("total", "type"),
        ("contributions", "type"),
    ]


def test_nan_is_refused_where_a_result_holds_a_number():
    with pytest.raises(ValidationError) as caught:
        Score(float("nan"), 0, 0, None)
    assert caught.value.errors[0].code == "not_finite"


def test_a_literal_field_takes_only_its_words():
    with pytest.raises(ValidationError):
        Contribution("web", "bonus", 10)  # type: ignore[arg-type]


def test_a_text_sequence_is_not_split_into_characters():
    with pytest.raises(ValidationError):
        RecordsMerged(survivor_id="L1", absorbed_ids="L2", occurred_at=NOW)  # type: ignore[arg-type]


def test_field_error_takes_only_text():
    with pytest.raises(ValidationError) as caught:
        FieldError("email", ["type"], "must be a string")  # type: ignore[arg-type]
    assert caught.value.errors[0].path == "code"


def test_a_merge_record_given_one_value_for_its_moves_names_it():
    with pytest.raises(ValidationError) as caught:
        leadmodel.MergeRecord(id="M1", result=None, moved=len, merged_at=NOW)  # type: ignore[arg-type]
    assert "moved" in [e.path for e in caught.value.errors]


@pytest.mark.parametrize("row", [(Decimal("1.5"),), (NOW.date(),), ("a", "b")])
def test_a_table_holds_one_plain_value_per_column(row):
    with pytest.raises(ValidationError):
        Table("t", ["a"], [row])


def test_an_unmerge_outcome_restores_records_only():
    with pytest.raises(ValidationError):
        UnmergeOutcome(record=None, restored=[{"id": "L1"}])  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [leadmodel.NaiveBayesFrequencies, leadmodel.LogisticModel])
def test_a_predictive_model_takes_only_its_own_kind_tag(cls):
    with pytest.raises(ValidationError) as caught:
        cls(["source"], [], kind=[])
    assert caught.value.errors[0].path == "kind"
