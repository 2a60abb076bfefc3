import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import cattrs
import pytest

from leadmodel import (
    Address,
    EmailAddress,
    FieldValues,
    InvalidValue,
    Lead,
    LeadProcess,
    LifecycleStage,
    Money,
    PhoneNumber,
    ValidationError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from leadmodel.serialization import configure_converter, converter, make_converter


def lead(**changes):
    return Lead(id="L1", last_name="Ng", company="Acme", **changes)


def test_decimals_are_strings_and_keep_their_exponent():
    data = to_dict(Money(Decimal("10.50"), "EUR"))
    assert data == {"amount": "10.50", "currency": "EUR"}
    assert str(from_dict(Money, data).amount) == "10.50"


def test_datetimes_keep_their_offset():
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))
    data = to_dict(lead(created_at=moment))
    assert data["created_at"] == "2026-01-02T03:04:05.000006-05:00"
    assert from_dict(Lead, data).created_at == moment


def test_zoneinfo_datetimes_survive_as_the_same_instant():
    moment = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    back = from_json(Lead, to_json(lead(created_at=moment)))
    assert back.created_at == moment
    assert back.created_at is not None
    assert back.created_at.utcoffset() == timedelta(hours=2)


def test_values_use_their_text_form():
    data = to_dict(
        lead(
            email=EmailAddress.parse('"Ng, Al" <AL@ACME.COM>'),
            phone=PhoneNumber.parse("(415) 555-1234 x9"),
            tags={"b", "a"},
            lifecycle_stage=LifecycleStage.SALES_QUALIFIED,
        )
    )
    assert data["email"] == '"Ng, Al" <al@acme.com>'
    assert data["phone"] == "+14155551234;ext=9"
    assert data["tags"] == ["a", "b"]
    assert data["lifecycle_stage"] == "sales_qualified"


def test_custom_values_are_tagged_where_json_has_no_type():
    values = FieldValues(
        {
            "n": 3,
            "b": False,
            "s": "x",
            "d": Decimal("1.10"),
            "day": date(2026, 1, 31),
            "at": datetime(2026, 1, 31, tzinfo=UTC),
        }
    )
    data = to_dict(values)
    assert data == {
        "n": 3,
        "b": False,
        "s": "x",
        "d": {"$decimal": "1.10"},
        "day": {"$date": "2026-01-31"},
        "at": {"$datetime": "2026-01-31T00:00:00+00:00"},
    }
    assert from_dict(FieldValues, data) == values


def test_json_is_utf8_text_not_escaped():
    assert "Núñez" in to_json(lead(first_name="Núñez"))


def test_unknown_keys_are_refused():
    data = to_dict(lead())
    data["colour"] = "blue"
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, data)
    assert [(e.path, e.code) for e in caught.value.errors] == [("colour", "unknown_field")]


def test_wrong_types_are_refused_not_coerced():
    data = to_dict(lead())
    data.update(last_name=5, is_person="false", employees="12", tags="abc")
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, data)
    assert {e.path for e in caught.value.errors} == {"last_name", "is_person", "employees", "tags"}
    assert {e.code for e in caught.value.errors} == {"type"}


def test_every_nested_problem_has_its_path():
    data = to_dict(lead(address=Address(city="Paris")))
    data["address"]["city"] = "x" * 41
    data["tags"] = ["ok", 3]
    data["custom"] = {"a": 1.5, "b": {"$when": "x"}}
    data["annual_revenue"] = {"amount": "ten", "currency": "EUR"}
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, data)
    assert set(caught.value.paths) == {
        "address.city",
        "tags[1]",
        "custom.a",
        "custom.b",
        "annual_revenue.amount",
    }


def test_missing_required_fields_are_named():
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, {"id": "L1"})
    assert ("last_name", "required") in [(e.path, e.code) for e in caught.value.errors]


def test_entity_rules_apply_after_structuring():
    data = to_dict(lead())
    data["company"] = None
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, data)
    assert caught.value.paths == ("company",)


def test_an_invalid_email_in_json_is_a_field_error():
    data = to_dict(lead())
    data["email"] = "not-an-email"
    with pytest.raises(ValidationError) as caught:
        from_dict(Lead, data)
    assert caught.value.paths == ("email",)


@pytest.mark.parametrize("text", ["", "{", "[1,", "nope", "1" * 5000, "[" * 100_000])
def test_malformed_json_is_an_invalid_value(text):
    with pytest.raises(InvalidValue) as caught:
        from_json(Lead, text)
    assert caught.value.errors[0].code == "malformed"


@pytest.mark.parametrize("data", [None, [], "L1", 5, True])
def test_a_non_object_is_refused(data):
    with pytest.raises(ValidationError):
        from_dict(Lead, data)


def test_from_json_takes_bytes():
    assert from_json(Lead, to_json(lead()).encode()) == lead()


def test_from_json_refuses_other_types():
    with pytest.raises(InvalidValue):
        from_json(Lead, None)  # type: ignore[arg-type]


def test_from_dict_refuses_a_non_class():
    with pytest.raises(ValidationError):
        from_dict("Lead", {})  # type: ignore[call-overload]


def test_rules_round_trip():
    process_data = {
        "name": "P",
        "statuses": [
            {
                "name": "New",
                "is_converted": False,
                "is_default": True,
                "is_closed": False,
                "order": 0,
            },
            {
                "name": "Won",
                "is_converted": True,
                "is_default": False,
                "is_closed": True,
                "order": 1,
            },
        ],
        "transitions": [{"source": "New", "targets": ["Won"]}],
    }
    process = from_dict(LeadProcess, process_data)
    assert to_dict(process) == process_data


def test_make_converter_returns_an_independent_configured_converter():
    mine = make_converter()
    assert mine is not converter
    mine.register_unstructure_hook(Money, lambda m: f"{m.amount} {m.currency}")
    assert mine.unstructure(Money(Decimal(1), "EUR")) == "1 EUR"
    assert to_dict(Money(Decimal(1), "EUR")) == {"amount": "1", "currency": "EUR"}


def test_configure_converter_sets_up_any_converter():
    plain = cattrs.Converter()
    configure_converter(plain)
    assert plain.unstructure(Decimal("1.5")) == "1.5"


def test_json_output_is_plain_json():
    assert json.loads(to_json(lead()))["status"] == "Open - Not Contacted"
