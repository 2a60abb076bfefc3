from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from leadmodel import (
    CONTACT_SCHEMA,
    LEAD_SCHEMA,
    FieldDef,
    FieldType,
    FieldValues,
    Lead,
    ValidationError,
)


def lead(**custom):
    return Lead(id="L1", last_name="Ng", company="Acme", custom=custom)


class TestFieldValues:
    def test_drops_none(self):
        assert dict(FieldValues({"a": None, "b": 1})) == {"b": 1}

    def test_equality_is_type_exact(self):
        assert FieldValues({"a": 1}) != FieldValues({"a": True})
        assert FieldValues({"a": 1}) != FieldValues({"a": Decimal(1)})
        assert FieldValues({"a": 1}) == FieldValues({"a": 1})

    def test_is_hashable_and_immutable(self):
        values = FieldValues({"a": 1})
        assert hash(values) == hash(FieldValues({"a": 1}))
        with pytest.raises(TypeError):
            values["a"] = 2  # type: ignore[index]

    def test_set_returns_a_new_mapping(self):
        values = FieldValues({"a": 1})
        assert values.set(b=2, a=None) == FieldValues({"b": 2})
        assert values == FieldValues({"a": 1})

    @pytest.mark.parametrize(
        ("values", "code"),
        [
            ({"a": 1.5}, "type"),
            ({"a": [1]}, "type"),
            ({"a": {"b": 1}}, "type"),
            ({"a": datetime(2026, 1, 1)}, "naive_datetime"),  # noqa: DTZ001
            ({"a": Decimal("NaN")}, "not_finite"),
            ({"a": 10**19}, "out_of_range"),
            ({"a": ""}, "blank"),
            ({"a": "x\x07"}, "control_character"),
            ({"1a": 1}, "invalid_name"),
            ({"a.b": 1}, "invalid_name"),
        ],
    )
    def test_refuses_non_scalars_and_bad_names(self, values, code):
        with pytest.raises(ValidationError) as caught:
            FieldValues(values)
        assert caught.value.errors[0].code == code

    def test_refuses_a_non_mapping(self):
        with pytest.raises(ValidationError):
            FieldValues([("a", 1)])  # type: ignore[arg-type]


class TestFieldDef:
    def test_type_defaults_give_a_length(self):
        assert FieldDef("note", FieldType.TEXT).max_length == 255
        assert FieldDef("when", FieldType.DATE).max_length is None

    @pytest.mark.parametrize(
        ("kwargs", "path"),
        [
            ({"name": "1x", "type": FieldType.TEXT}, "name"),
            ({"name": "x", "type": "text"}, "type"),
            ({"name": "x", "type": FieldType.TEXT, "length": 0}, "length"),
            ({"name": "x", "type": FieldType.TEXT, "decimals": 2}, "decimals"),
            ({"name": "x", "type": FieldType.NUMBER, "decimals": 20}, "decimals"),
            ({"name": "x", "type": FieldType.TEXT, "choices": ("a",)}, "choices"),
            ({"name": "x", "type": FieldType.PICKLIST, "choices": ("a", "a")}, "choices"),
            ({"name": "x", "type": FieldType.PICKLIST, "restricted": True}, "restricted"),
        ],
    )
    def test_refuses_inconsistent_definitions(self, kwargs, path):
        with pytest.raises(ValidationError) as caught:
            FieldDef(**kwargs)
        assert path in caught.value.paths


class TestEntitySchema:
    schema = LEAD_SCHEMA.with_custom(
        FieldDef("visits", FieldType.NUMBER, length=6, decimals=0),
        FieldDef("budget", FieldType.CURRENCY, length=10, decimals=2),
        FieldDef("tier", FieldType.PICKLIST, choices=("Gold", "Silver"), restricted=True),
        FieldDef("topics", FieldType.MULTI_PICKLIST, choices=("a", "b"), restricted=True),
        FieldDef("nickname", FieldType.TEXT, length=10),
        FieldDef("notes", FieldType.TEXTAREA),
        FieldDef("first_seen", FieldType.DATE),
        FieldDef("last_seen", FieldType.DATETIME),
        FieldDef("vip", FieldType.CHECKBOX),
        FieldDef("alt_email", FieldType.EMAIL),
        FieldDef("alt_phone", FieldType.PHONE),
        FieldDef("homepage", FieldType.URL),
        FieldDef("region", FieldType.TEXT, required=True),
    )

    def test_accepts_values_that_fit(self):
        self.schema.validate(
            lead(
                visits=3,
                budget=Decimal("1234.50"),
                tier="Gold",
                topics="a;b",
                nickname="Addy",
                notes="line one\nline two",
                first_seen=date(2026, 1, 1),
                last_seen=datetime(2026, 1, 1, tzinfo=UTC),
                vip=True,
                alt_email="ada@example.org",
                alt_phone="+14155551234",
                homepage="https://example.org/about",
                region="EMEA",
            )
        )

    @pytest.mark.parametrize(
        ("custom", "path", "code"),
        [
            ({"visits": "3"}, "custom.visits", "type"),
            ({"visits": True}, "custom.visits", "type"),
            ({"visits": 1_000_000}, "custom.visits", "too_long"),
            ({"budget": Decimal("1.234")}, "custom.budget", "too_many_decimals"),
            ({"tier": "Bronze"}, "custom.tier", "unknown_choice"),
            ({"topics": "a;c"}, "custom.topics", "unknown_choice"),
            ({"topics": "a;a"}, "custom.topics", "duplicate"),
            ({"nickname": "x" * 11}, "custom.nickname", "too_long"),
            ({"nickname": "a\nb"}, "custom.nickname", "control_character"),
            ({"first_seen": datetime(2026, 1, 1, tzinfo=UTC)}, "custom.first_seen", "type"),
            ({"vip": "yes"}, "custom.vip", "type"),
            ({"alt_email": "nope"}, "custom.alt_email", "invalid"),
            ({"alt_phone": "12"}, "custom.alt_phone", "invalid"),
            ({"homepage": "not a url"}, "custom.homepage", "invalid"),
            ({"unknown": 1}, "custom.unknown", "unknown_field"),
        ],
    )
    def test_reports_values_that_do_not_fit(self, custom, path, code):
        with pytest.raises(ValidationError) as caught:
            self.schema.validate(lead(region="EMEA", **custom))
        assert (path, code) in [(e.path, e.code) for e in caught.value.errors]

    def test_reports_a_missing_required_field(self):
        errors = self.schema.problems(lead())
        assert [(e.path, e.code) for e in errors] == [("custom.region", "required")]

    def test_looks_up_standard_and_custom_fields(self):
        assert self.schema.field("email").type is FieldType.EMAIL
        assert self.schema.field("custom.tier").restricted
        with pytest.raises(ValidationError) as caught:
            self.schema.field("custom.nope")
        assert caught.value.errors[0].code == "unknown_field"

    def test_with_custom_replaces_a_same_named_field(self):
        schema = self.schema.with_custom(FieldDef("visits", FieldType.TEXT))
        assert schema.field("custom.visits").type is FieldType.TEXT
        assert len(schema.custom) == len(self.schema.custom)

    def test_refuses_duplicate_and_address_custom_fields(self):
        with pytest.raises(ValidationError):
            CONTACT_SCHEMA.with_custom(FieldDef("a", FieldType.TEXT), FieldDef("a", FieldType.DATE))
        with pytest.raises(ValidationError):
            CONTACT_SCHEMA.with_custom(FieldDef("home", FieldType.ADDRESS))

    def test_lists_every_path(self):
        assert "custom.visits" in self.schema.paths
        assert "email" in self.schema.paths

    def test_problems_of_something_without_custom_fields(self):
        assert self.schema.problems(object())[0].code == "type"
