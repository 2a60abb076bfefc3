"""Speed-to-lead analytics: time to first touch and SLA breaches per owner, source, queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import Activity, Lead, ValidationError, speed_to_lead

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


def lead(lead_id: str, owner: str, **fields: object) -> Lead:
    values: dict[str, object] = {"last_name": "Ng", "company": "A", "created_at": T0}
    values.update(fields)
    return Lead(id=lead_id, owner_id=owner, **values)  # type: ignore[arg-type]


def touch(activity_id: str, lead_id: str, minutes: float, kind: str = "call") -> Activity:
    return Activity(
        id=activity_id,
        subject_id=lead_id,
        kind=kind,
        occurred_at=T0 + timedelta(minutes=minutes),
    )


LEADS = [
    lead("L1", "ann", source="Web"),
    lead("L2", "ann", source="Web"),
    lead("L3", "bob", source="Fair"),
    lead("L4", "inbound", owner_is_queue=True, source="Web"),
    lead("L5", "bob", source="Fair", created_at=T0 + timedelta(hours=2, minutes=30)),
    lead("L6", "bob", created_at=None),
]
TOUCHES = [
    touch("A1", "L1", 10),
    touch("A2", "L1", 5, kind="email"),  # the first touch, listed second
    touch("A3", "L2", 90),  # late: a breach
    touch("A4", "L3", 30, kind="page_view"),  # not a touch
    touch("A5", "L3", -30),  # before the lead existed
]


def test_time_to_first_touch_and_breaches_per_owner() -> None:
    table = speed_to_lead(LEADS, TOUCHES, sla=HOUR, now=T0 + timedelta(hours=3))
    assert table.to_records() == [
        {
            "owner_id": "ann",
            "leads": 2,
            "touched": 2,
            "pending": 0,
            "breached": 1,
            "breach_rate": 0.5,
            "min_minutes": 5.0,
            "median_minutes": 47.5,
            "mean_minutes": 47.5,
            "p90_minutes": 90.0,
            "max_minutes": 90.0,
        },
        {
            "owner_id": "bob",
            "leads": 2,  # L6 has no created_at: left out
            "touched": 0,
            "pending": 1,  # L5 is 30 minutes old
            "breached": 1,
            "breach_rate": 1.0,
            "min_minutes": None,
            "median_minutes": None,
            "mean_minutes": None,
            "p90_minutes": None,
            "max_minutes": None,
        },
        {
            "owner_id": "inbound",
            "leads": 1,
            "touched": 0,
            "pending": 0,
            "breached": 1,
            "breach_rate": 1.0,
            "min_minutes": None,
            "median_minutes": None,
            "mean_minutes": None,
            "p90_minutes": None,
            "max_minutes": None,
        },
    ]


def test_by_source_and_custom_touch_kinds() -> None:
    table = speed_to_lead(
        LEADS, TOUCHES, sla=HOUR, now=T0 + timedelta(hours=3), by="source", touches={"page_view"}
    )
    rows = {r["source"]: (r["leads"], r["touched"], r["breached"]) for r in table.to_records()}
    assert rows == {"Web": (3, 0, 3), "Fair": (2, 1, 0)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sla": timedelta(0), "now": T0},
        {"sla": 60, "now": T0},
        {"sla": HOUR, "now": datetime(2026, 1, 1)},  # noqa: DTZ001
        {"sla": HOUR, "now": T0, "by": ""},
        {"sla": HOUR, "now": T0, "touches": []},
        {"sla": HOUR, "now": T0, "touches": "call"},
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        speed_to_lead(LEADS, TOUCHES, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        speed_to_lead(LEADS, ["call"], sla=HOUR, now=T0)  # type: ignore[list-item]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Lead], list[Activity]]:
    count = draw(st.integers(0, 8))
    leads = [
        lead(
            f"L{i}",
            draw(st.sampled_from(["ann", "bob", "q"])),
            created_at=T0 + timedelta(minutes=draw(st.integers(0, 600))),
        )
        for i in range(count)
    ]
    acts = [
        touch(
            f"A{j}",
            f"L{draw(st.integers(0, max(count - 1, 0)))}",
            draw(st.integers(-60, 900)),
            kind=draw(st.sampled_from(["call", "email", "page_view"])),
        )
        for j in range(draw(st.integers(0, 12)))
    ]
    return leads, acts


@settings(max_examples=60)
@given(worlds())
def test_every_lead_is_touched_in_time_breached_or_pending_whatever_the_order(
    world: tuple[list[Lead], list[Activity]],
) -> None:
    leads, acts = world
    now = T0 + timedelta(hours=20)
    table = speed_to_lead(leads, acts, sla=HOUR, now=now)
    assert speed_to_lead(leads[::-1], acts[::-1], sla=HOUR, now=now) == table
    assert sum(r["leads"] for r in table.to_records()) == len(leads)
    for row in table.to_records():
        assert row["breached"] + row["pending"] <= row["leads"]
        assert row["touched"] + row["pending"] <= row["leads"]
        assert 0.0 <= row["breach_rate"] <= 1.0
