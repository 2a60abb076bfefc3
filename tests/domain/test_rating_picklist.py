"""The rating picklist is restricted and checked; status follows the lead's own process."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_BANDS,
    LEAD_SCHEMA,
    Band,
    ColumnMapping,
    Condition,
    FitRule,
    Lead,
    LeadProcess,
    LeadStatus,
    ScoringModel,
    ValidationError,
    from_json,
    import_leads,
    to_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import rescore

NOW = datetime(2026, 5, 1, tzinfo=UTC)
RATING = LEAD_SCHEMA.field("rating")
CUSTOM = LeadProcess(
    "inbound",
    [
        LeadStatus("New", is_default=True),
        LeadStatus("Nurturing"),
        LeadStatus("Won", is_converted=True),
    ],
)


def lead(**fields):
    return Lead(id="L1", last_name="Ng", company="Acme", **fields)


def test_an_unknown_rating_is_reported_by_the_schema():
    # Seen: Lead(rating="Lukewarm") passed LEAD_SCHEMA.problems.
    problems = LEAD_SCHEMA.problems(lead(rating="Lukewarm"))
    assert [(e.path, e.code) for e in problems] == [("rating", "unknown_choice")]
    with pytest.raises(ValidationError):
        LEAD_SCHEMA.validate(lead(rating="Lukewarm"))
    assert RATING.restricted
    for rating in (None, "Hot", "Warm", "Cold"):
        assert LEAD_SCHEMA.problems(lead(rating=rating)) == ()


def test_a_previous_release_rating_still_loads_and_is_reported_with_its_spelling():
    old = to_json(lead()).replace('"rating": null', '"rating": "hot"')
    loaded = from_json(Lead, old)
    assert loaded.rating == "hot"  # never rewritten silently
    (problem,) = LEAD_SCHEMA.problems(loaded)
    assert problem.code == "unknown_choice"
    assert "'Hot'" in problem.message


def test_status_is_checked_against_the_leads_own_process():
    nurturing = lead(status="Nurturing")
    assert LEAD_SCHEMA.problems(nurturing, process=CUSTOM) == ()
    assert [e.code for e in LEAD_SCHEMA.problems(nurturing)] == ["unknown_status"]
    assert LEAD_SCHEMA.problems(lead()) == ()  # the default process's default
    assert [e.code for e in LEAD_SCHEMA.problems(lead(), process=CUSTOM)] == ["unknown_status"]
    with pytest.raises(ValidationError):
        LEAD_SCHEMA.problems(lead(), process="inbound")  # type: ignore[arg-type]


def test_default_bands_write_the_picklist_values():
    assert [b.name for b in DEFAULT_BANDS] == ["Hot", "Warm", "Cold"]


def test_rescore_writes_a_bands_picklist_spelling():
    model = ScoringModel(
        fit=[FitRule("all", Condition("last_name", "is_not_blank"), 80)],
        bands=[Band("hot", 70), Band("cold")],
    )
    uow = MemoryUnitOfWork()
    with uow:
        uow.leads.add(lead())
        uow.commit()
    report = rescore(uow, model, now=NOW, write_rating=True)
    with uow:
        assert uow.leads.get("L1").rating == "Hot"
    assert report.events[0].rating == "Hot"


def test_import_writes_a_ratings_picklist_spelling():
    mapping = ColumnMapping([("Last", "last_name"), ("Co", "company"), ("Rating", "rating")])
    rows = [{"Last": "Ng", "Co": "Acme", "Rating": "WARM"}, {"Last": "Li", "Co": "B", "Rating": ""}]
    outcomes = list(import_leads(rows, mapping, ids=SequentialIds(), now=NOW))
    assert [o.lead.rating for o in outcomes] == ["Warm", None]


@given(st.sampled_from(RATING.choices), st.data())
def test_canonical_is_case_blind_and_idempotent(choice, data):
    variant = "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in choice)
    assert RATING.canonical(variant) == choice
    assert RATING.canonical(RATING.canonical(variant)) == choice


@given(st.text(max_size=12))
def test_canonical_never_invents_a_choice(text):
    result = RATING.canonical(text)
    assert result == text or (result in RATING.choices and result.casefold() == text.casefold())
    assert RATING.canonical(result) == result
