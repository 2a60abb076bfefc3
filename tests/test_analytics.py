"""Analytics on a small dataset computed by hand."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    ConversionRecord,
    Lead,
    StatusChanged,
    Table,
    ValidationError,
    cohorts,
    funnel,
    plot_cohorts,
    plot_funnel,
    rating_conversion,
    time_in_status,
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


OPEN, WORKING = "Open - Not Contacted", "Working - Contacted"


def day(n):
    return JAN + timedelta(days=n)


def moved(lead_id, n, previous, current):
    return StatusChanged(lead_id=lead_id, previous=previous, current=current, occurred_at=day(n))


STAY_LEADS = [
    Lead(id="A", last_name="A", company="A", created_at=JAN, status="Closed - Not Converted"),
    Lead(id="B", last_name="B", company="B", created_at=JAN, status=WORKING),
    Lead(id="C", last_name="C", company="C", created_at=JAN),
    lead(4, JAN, converted_after=7),
    lead(5, JAN, converted_after=3),
]
HISTORY = [
    moved("A", 2, OPEN, WORKING),
    moved("A", 5, WORKING, "Closed - Not Converted"),
    moved("B", 4, OPEN, WORKING),
    moved("L5", 1, OPEN, WORKING).as_activity(id="ACT1"),  # its conversion is not in it
]


def test_time_in_status():
    table = time_in_status(STAY_LEADS, HISTORY, now=day(10))
    # Open: A 2, B 4, C 10 (still open), L5 1 day. Working: A 3, B 6 (still), L5 2 to its
    # conversion. Closed statuses are where leads end, so they have no stays.
    assert table.to_records() == [
        {
            "status": OPEN,
            "stays": 4,
            "open": 1,
            "min_days": 1,
            "median_days": 3,
            "mean_days": 4.25,
            "p90_days": 10,
            "max_days": 10,
        },
        {
            "status": WORKING,
            "stays": 3,
            "open": 1,
            "min_days": 2,
            "median_days": 3,
            "mean_days": 11 / 3,
            "p90_days": 6,
            "max_days": 6,
        },
    ]


def test_time_in_status_skips_unknown_starts_and_other_activities():
    undated = Lead(id="U", last_name="U", company="U", status=WORKING)
    early = Lead(id="E", last_name="E", company="E", created_at=day(5))
    table = time_in_status(
        [undated, early],
        [moved("U", 1, OPEN, WORKING), moved("E", 1, OPEN, WORKING), *LEADS_ACTIVITIES],
        now=day(10),
    )
    # U's first stay has no start; E's change predates its creation: both count from day 1.
    assert table.rows == ((WORKING, 2, 2, 9.0, 9.0, 9.0, 9.0, 9.0),)


LEADS_ACTIVITIES = [Activity(id="Y", subject_id="E", kind="page_view", occurred_at=day(3))]


@given(st.permutations(HISTORY))
def test_time_in_status_does_not_depend_on_history_order(history):
    assert time_in_status(STAY_LEADS, history, now=day(10)) == time_in_status(
        STAY_LEADS, HISTORY, now=day(10)
    )


def test_status_changes_and_their_activities_give_the_same_table():
    as_activities = [
        e.as_activity(id=f"H{i}") if isinstance(e, StatusChanged) else e
        for i, e in enumerate(HISTORY)
    ]
    assert time_in_status(STAY_LEADS, as_activities, now=day(10)) == time_in_status(
        STAY_LEADS, HISTORY, now=day(10)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: funnel("leads"),
        lambda: funnel([object()]),
        lambda: funnel(LEADS, by=""),
        lambda: velocity(LEADS, period="year"),
        lambda: cohorts(None),
        lambda: time_in_status(LEADS, now=JAN.replace(tzinfo=None)),
        lambda: time_in_status(LEADS, "history", now=JAN),
        lambda: time_in_status(LEADS, [object()], now=JAN),
        lambda: time_in_status(LEADS, now=JAN, process="default"),
    ],
)
def test_bad_input_raises_validation_errors(call):
    with pytest.raises(ValidationError):
        call()


def test_plot_funnel_draws_leads_and_conversions():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert plot_funnel(funnel(LEADS, by="source"), ax=ax) is ax
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [3, 2, 1, 2, 1, 0]  # leads, then conversions, in the table's order
    assert [t.get_text() for t in ax.texts] == [" 67%", " 50%", " 0%"]
    ticks = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert ticks == {"Web": 2, "Fair": 1, "(none)": 0}  # the largest group on top
    assert ax.get_title() == "Funnel by source"


def test_plot_funnel_and_cohorts_take_leads_too():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = plot_funnel(LEADS, by="rating", ax=Figure().subplots(), title="By band")
    assert ax.get_title() == "By band"
    ax = plot_cohorts(LEADS, ax=Figure().subplots())
    assert [bar.get_height() for bar in ax.patches] == [4, 2]
    [line] = ax.figure.axes[1].get_lines()
    assert list(line.get_ydata()) == [0.75, 0.0]


def test_plots_refuse_tables_of_another_kind():
    with pytest.raises(ValidationError):
        plot_funnel(velocity(LEADS))
    with pytest.raises(ValidationError):
        plot_cohorts(funnel(LEADS))


@given(st.booleans())
def test_changes_at_the_same_moment_follow_each_other(reverse):
    # Worked and converted in the same second: Open 1 day, Working 0, nothing after.
    converted = lead(7, JAN, converted_after=1)
    both = [
        moved("L7", 1, OPEN, WORKING),
        moved("L7", 1, WORKING, "Closed - Converted"),
    ]
    table = time_in_status([converted], both[::-1] if reverse else both, now=day(10))
    assert [(row[0], row[1], row[3]) for row in table.rows] == [(OPEN, 1, 1.0), (WORKING, 1, 0.0)]


STATUSES = st.sampled_from([OPEN, WORKING, "Nurturing", "Closed - Not Converted"])
histories = st.lists(
    st.builds(
        StatusChanged,
        lead_id=st.sampled_from(["A", "B", "C", "L4"]),
        previous=st.none() | STATUSES,
        current=STATUSES,
        occurred_at=st.integers(0, 12).map(day),  # few moments: many ties
    ),
    max_size=12,
)


@given(histories, st.randoms(use_true_random=False))
def test_time_in_status_is_the_same_for_any_order_of_any_history(history, rng):
    shuffled = list(history)
    rng.shuffle(shuffled)
    expected = time_in_status(STAY_LEADS, history, now=day(10))
    assert time_in_status(STAY_LEADS, shuffled, now=day(10)) == expected
    # Nothing invented: never more stays than the changes plus one per lead.
    assert sum(row[1] for row in expected.rows) <= len(history) + len(STAY_LEADS)


class Hostile:
    def __repr__(self):
        raise RuntimeError("no repr")

    def __eq__(self, other):
        raise RuntimeError("no eq")

    __hash__ = None


HOSTILE = [None, "", "x" * 1_000_000, 42, b"leads", {"a": 1}, [object()], [None], Hostile()]
CALLS = {
    "funnel leads": funnel,
    "funnel by": lambda v: funnel(LEADS, by=v),
    "cohorts": cohorts,
    "velocity leads": velocity,
    "velocity period": lambda v: velocity(LEADS, period=v),
    "time_to_convert": time_to_convert,
    "rating_conversion": rating_conversion,
    "time_in_status leads": lambda v: time_in_status(v, now=JAN),
    "time_in_status history": lambda v: time_in_status(LEADS, v, now=JAN),
    "time_in_status now": lambda v: time_in_status(LEADS, now=v),
    "plot_funnel": plot_funnel,
    "plot_cohorts": plot_cohorts,
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_arguments_raise_validation_errors_only(call, value):
    try:
        result = call(value)
    except ValidationError:
        return
    # A long text is a field path for funnel: it finds nothing and says so.
    assert isinstance(result, Table)


def test_the_funnel_follows_the_lead_process_with_unknown_statuses_after():
    # Seen: the demo's funnel listed statuses alphabetically.
    from leadmodel import DEFAULT_LEAD_PROCESS, LeadProcess, LeadStatus

    def lead(i, status):
        return Lead(id=f"F{i}", last_name="Ng", company="A", status=status)

    leads = [lead(1, "Working - Contacted"), lead(2, "Legacy"), lead(3, "Legacy")]
    leads += [lead(i, "Open - Not Contacted") for i in range(4, 6)]
    leads += [lead(9, "Closed - Not Converted"), lead(10, "Archived")]
    order = [row[0] for row in funnel(leads).rows]
    known = [s.name for s in DEFAULT_LEAD_PROCESS.ordered() if s.name in order]
    assert order == [*known, "Legacy", "Archived"]  # unknown: largest first, then by name
    custom = LeadProcess(
        "p", [LeadStatus("Legacy", is_default=True), LeadStatus("Won", is_converted=True)]
    )
    assert funnel(leads, process=custom).rows[0][0] == "Legacy"
    stages = funnel(leads, by="lifecycle_stage").rows
    assert [row[0] for row in stages] == ["lead"]
    with pytest.raises(ValidationError):
        funnel(leads, process="p")
