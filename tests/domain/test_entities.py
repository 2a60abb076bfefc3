from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from leadmodel import (
    Account,
    AccountContactRelation,
    Activity,
    Address,
    Contact,
    ConversionRecord,
    EmailAddress,
    FieldValues,
    Lead,
    LifecycleStage,
    Money,
    Opportunity,
    PhoneNumber,
    ValidationError,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def full_lead(**changes):
    fields = {
        "id": "L1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "title": "Founder",
        "email": EmailAddress.parse("ada@example.org"),
        "phone": PhoneNumber.parse("+442079460958"),
        "mobile": PhoneNumber.parse("+447700900123"),
        "website": "example.org",
        "industry": "Technology",
        "annual_revenue": Money(Decimal(2_500_000), "GBP"),
        "employees": 12,
        "address": Address(city="London", country="United Kingdom"),
        "source": "Web",
        "campaign_id": "C7",
        "rating": "Hot",
        "owner_id": "U1",
        "team_id": "T1",
        "tags": frozenset({"vip", "conference"}),
        "description": "Met at the conference.\nWants a demo.",
        "custom": {"visits": 3},
        "created_at": NOW,
        "updated_at": NOW + timedelta(hours=1),
    }
    fields.update(changes)
    return Lead(**fields)


class TestLead:
    def test_builds_with_every_field(self):
        lead = full_lead()
        assert lead.name == "Ada Lovelace"
        assert lead.status == "Open - Not Contacted"
        assert lead.lifecycle_stage is LifecycleStage.LEAD
        assert lead.custom == FieldValues({"visits": 3})
        assert not lead.is_converted

    def test_has_exactly_the_design_fields(self):
        names = [f.name for f in attrs.fields(Lead)]
        assert names == [
            "id", "first_name", "last_name", "company", "is_person", "title", "email", "phone",
            "mobile", "website", "industry", "annual_revenue", "employees", "address", "source",
            "campaign_id", "status", "rating", "owner_id", "owner_is_queue", "team_id", "tags",
            "description", "do_not_call", "email_opt_out", "lifecycle_stage", "custom",
            "created_at", "updated_at", "converted",
        ]  # fmt: skip

    def test_is_frozen(self):
        lead = full_lead()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            lead.company = "Other"  # type: ignore[misc]

    def test_is_slotted(self):
        assert not hasattr(full_lead(), "__dict__")

    def test_is_keyword_only(self):
        with pytest.raises(TypeError):
            Lead("L1", "Ada", "Lovelace")  # type: ignore[misc]

    def test_requires_a_company_unless_a_person(self):
        with pytest.raises(ValidationError) as caught:
            Lead(id="L1", last_name="Ng")
        assert caught.value.errors[0].path == "company"
        assert caught.value.errors[0].code == "required"
        assert Lead(id="L1", last_name="Ng", is_person=True).company is None

    def test_requires_a_last_name(self):
        with pytest.raises(ValidationError) as caught:
            Lead(id="L1", last_name=None, company="Acme")  # type: ignore[arg-type]
        assert caught.value.paths == ("last_name",)

    @pytest.mark.parametrize(
        ("field", "limit"),
        [
            ("first_name", 40),
            ("last_name", 80),
            ("company", 255),
            ("title", 128),
            ("industry", 40),
            ("source", 40),
            ("description", 32_000),
        ],
    )
    def test_enforces_salesforce_lengths(self, field, limit):
        assert getattr(full_lead(**{field: "x" * limit}), field) == "x" * limit
        with pytest.raises(ValidationError) as caught:
            full_lead(**{field: "x" * (limit + 1)})
        assert caught.value.errors[0].path == field
        assert caught.value.errors[0].code == "too_long"

    def test_email_fits_eighty_characters(self):
        long_email = EmailAddress.parse("a" * 64 + "@" + "b" * 20 + ".com")
        with pytest.raises(ValidationError) as caught:
            full_lead(email=long_email)
        assert caught.value.errors[0].code == "too_long"

    def test_reports_every_bad_field_at_once(self):
        with pytest.raises(ValidationError) as caught:
            Lead(
                id="",
                first_name="x" * 41,
                last_name="  ",
                company=None,
                email="ada@example.org",  # type: ignore[arg-type]
                employees=-1,
                tags=frozenset({""}),
                do_not_call="yes",  # type: ignore[arg-type]
                created_at=datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
                custom={"bad key": 1},
            )
        assert set(caught.value.paths) == {
            "id",
            "first_name",
            "last_name",
            "company",
            "email",
            "employees",
            "tags",
            "do_not_call",
            "created_at",
            "custom.bad key",
        }
        message = str(caught.value)
        assert message.startswith("Lead: 10 invalid fields")
        assert "first_name" in message

    def test_refuses_email_as_a_raw_string(self):
        with pytest.raises(ValidationError, match=r"EmailAddress\.parse"):
            full_lead(email="ada@example.org")

    def test_takes_tags_from_any_iterable(self):
        assert full_lead(tags=["a", "b", "a"]).tags == frozenset({"a", "b"})

    def test_refuses_updated_before_created(self):
        with pytest.raises(ValidationError) as caught:
            full_lead(updated_at=NOW - timedelta(seconds=1))
        assert caught.value.errors[0].code == "before_created"

    def test_evolve_revalidates(self):
        with pytest.raises(ValidationError):
            attrs.evolve(full_lead(), last_name="")

    def test_converted_lead_points_at_its_records(self):
        record = ConversionRecord(
            account_id="A1",
            contact_id="C1",
            converted_at=NOW,
            status="Closed - Converted",
        )
        lead = full_lead(converted=record, status="Closed - Converted")
        assert lead.is_converted
        assert lead.converted is not None
        assert lead.converted.opportunity_id is None

    def test_equality_is_structural(self):
        assert full_lead() == full_lead()
        assert hash(full_lead()) == hash(full_lead())
        assert full_lead() != full_lead(title="CEO")


class TestContact:
    def test_builds(self):
        contact = Contact(
            id="C1",
            first_name="Grace",
            last_name="Hopper",
            account_id="A1",
            email=EmailAddress.parse("grace@navy.example"),
            mailing_address=Address(city="Arlington"),
            lifecycle_stage=LifecycleStage.CUSTOMER,
        )
        assert contact.name == "Grace Hopper"

    def test_reports_every_bad_field(self):
        with pytest.raises(ValidationError) as caught:
            Contact(id="C1", last_name="", phone="+1 415", lifecycle_stage="lead")  # type: ignore[arg-type]
        assert caught.value.paths == ("last_name", "phone", "lifecycle_stage")


class TestAccount:
    def test_builds(self):
        account = Account(
            id="A1",
            name="Acme",
            annual_revenue=Money(Decimal(10**6), "USD"),
            employees=50,
            billing_address=Address(country="US"),
        )
        assert account.name == "Acme"

    def test_cannot_be_its_own_parent(self):
        with pytest.raises(ValidationError) as caught:
            Account(id="A1", name="Acme", parent_id="A1")
        assert caught.value.errors[0].code == "self_parent"

    def test_contact_may_relate_to_many_accounts(self):
        relations = [
            AccountContactRelation(account_id="A1", contact_id="C1", is_primary=True),
            AccountContactRelation(account_id="A2", contact_id="C1", role="Board member"),
        ]
        assert [r.is_primary for r in relations] == [True, False]


class TestOpportunity:
    def test_defaults_to_the_first_stage(self):
        opportunity = Opportunity(id="O1", name="Acme deal")
        assert opportunity.stage == "Prospecting"

    def test_checks_probability_and_close_date(self):
        with pytest.raises(ValidationError) as caught:
            Opportunity(
                id="O1",
                name="Deal",
                probability=101,
                close_date=datetime(2026, 1, 1, tzinfo=UTC),  # type: ignore[arg-type]
            )
        assert caught.value.paths == ("close_date", "probability")

    def test_keeps_a_lost_reason(self):
        opportunity = Opportunity(
            id="O1",
            name="Deal",
            stage="Closed Lost",
            close_date=date(2026, 3, 31),
            lost_reason="Went with a competitor",
        )
        assert opportunity.lost_reason == "Went with a competitor"


class TestActivity:
    def test_requires_an_aware_time(self):
        with pytest.raises(ValidationError) as caught:
            Activity(id="A1", subject_id="L1", kind="call", occurred_at=datetime(2026, 1, 1))  # noqa: DTZ001
        assert caught.value.errors[0].code == "naive_datetime"

    def test_properties_are_scalars(self):
        with pytest.raises(ValidationError) as caught:
            Activity(
                id="A1",
                subject_id="L1",
                kind="page_view",
                occurred_at=NOW,
                properties={"urls": ["/a", "/b"]},  # type: ignore[dict-item]
            )
        assert caught.value.paths == ("properties.urls",)
