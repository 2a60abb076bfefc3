"""Analytics on a small dataset computed by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from leadmodel import (
    ConversionRecord,
    Lead,
    Table,
    ValidationError,
    cohorts,
    funnel,
    rating_conversion,
    time_to_convert,
    velocity,
)

JAN = datetime(2026, 1, 10, tzinfo=UTC)
FEB = datetime(2026, 2, 10, tzinfo=UTC)


def lead(i, created, *, source=None, rating=None, converted_after=None):
    record = None
    if converted_after is not None:
        record = ConversionRecord(
            account_id="A",
            contact_id="C",
            converted_at=created + timedelta(days=converted_after),
            status="Closed - Converted",
        )
    return Lead(
        id=f"L{i}",
        last_name="Ng",
        company="Acme",
        source=source,
        rating=rating,
        created_at=created,
        status="Closed - Converted" if record else "Open - Not Contacted",
        converted=record,
    )


LEADS = [
    lead(1, JAN, source="Web", rating="Hot", converted_after=2),
    lead(2, JAN, source="Web", rating="Hot", converted_after=10),
    lead(3, JAN, source="Web", rating="Cold"),
    lead(4, JAN, source="Fair", rating="Warm", converted_after=30),
    lead(5, FEB, source="Fair", rating="Cold"),
    lead(6, FEB, rating="Cold"),
]


def test_funnel_by_source():
    assert funnel(LEADS, by="source").to_records() == [
        {"source": "Web", "leads": 3, "converted": 2, "conversion_rate": 2 / 3},
        {"source": "Fair", "leads": 2, "converted": 1, "conversion_rate": 0.5},
        {"source": "(none)", "leads": 1, "converted": 0, "conversion_rate": 0.0},
    ]


def test_funnel_by_status():
    rows = {r["status"]: r["leads"] for r in funnel(LEADS).to_records()}
    assert rows == {"Closed - Converted": 3, "Open - Not Contacted": 3}


def test_time_to_convert():
    [row] = time_to_convert(LEADS).to_records()
    assert row == {
        "converted": 3,
        "min_days": 2,
        "median_days": 10,
        "mean_days": 14,
        "p90_days": 30,
        "max_days": 30,
    }
    assert time_to_convert([])._repr_html_().count("<td>") == 6


def test_velocity_and_cohorts_by_month():
    assert velocity(LEADS).rows == (("2026-01", 4, None), ("2026-02", 2, -0.5))
    assert cohorts(LEADS).rows == (("2026-01", 4, 3, 0.75), ("2026-02", 2, 0, 0.0))
    weekly = velocity(LEADS, period="week").rows
    assert [row[0] for row in weekly] == ["2026-W02", "2026-W07"]


def test_conversion_by_rating_band():
    rows = {
        r["rating"]: (r["leads"], r["converted"]) for r in rating_conversion(LEADS).to_records()
    }
    assert rows == {"Hot": (2, 2), "Cold": (3, 0), "Warm": (1, 1)}


def test_tables_render_for_notebooks():
    page = funnel(LEADS, by="source")._repr_html_()
    assert page.startswith("<table><caption>Funnel by source</caption>")
    assert "<td>0.667</td>" in page
    assert isinstance(funnel([]), Table)
    assert funnel([]).rows == ()


@pytest.mark.parametrize(
    "call",
    [
        lambda: funnel("leads"),
        lambda: funnel([object()]),
        lambda: funnel(LEADS, by=""),
        lambda: velocity(LEADS, period="year"),
        lambda: cohorts(None),
    ],
)
def test_bad_input_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()
