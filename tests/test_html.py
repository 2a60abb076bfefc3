"""How results show in Jupyter (``_repr_html_``): escaped, nested, bounded."""

import html
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    BANT_POLICY,
    STANDARD_LEAD_RULE,
    Condition,
    FitRule,
    ImportReport,
    Lead,
    RowOutcome,
    ScoringModel,
    compare,
    qualify,
    score,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LEAD = Lead(id="L1", last_name="<b>Ng</b>", company="Acme & Co", title="CEO", source="Web")


def test_a_score_shows_its_contributions_as_a_nested_table():
    model = ScoringModel(fit=[FitRule("web <form>", Condition("source", "eq", "Web"), 10)])
    page = score(LEAD, model, now=NOW)._repr_html_()
    assert page.startswith("<table><caption>Score</caption>")
    assert page.count("<table>") == 2  # the score and its contributions
    assert "web &lt;form&gt;" in page
    assert "<form>" not in page


def test_qualification_and_match_results_render():
    assert "<caption>Qualification</caption>" in qualify(LEAD, BANT_POLICY)._repr_html_()
    page = compare(LEAD, LEAD, STANDARD_LEAD_RULE)._repr_html_()
    assert "<caption>MatchResult</caption>" in page
    assert "<b>" not in page


def test_entities_inside_results_show_as_their_id():
    outcome = RowOutcome(line=2, status="created", lead=LEAD)
    page = outcome._repr_html_()
    assert "<td>Lead L1</td>" in page
    assert "Acme" not in page


def test_long_sequences_are_cut_with_a_count():
    report = ImportReport(
        rows=0,
        created=0,
        updated=0,
        merged=0,
        skipped=0,
        rejected=0,
        unmapped_columns=tuple(f"c{i}" for i in range(80)),
    )
    page = report._repr_html_()
    assert page.count("<li>") == 51
    assert "… 30 more" in page


@given(st.text(min_size=1, max_size=40))
def test_any_text_is_escaped_and_shown_whole(text):
    page = RowOutcome(line=1, status="skipped", reason=text)._repr_html_()
    cell = page.split("<th>reason</th><td>", 1)[1].split("</td>", 1)[0]
    assert "<" not in cell
    assert html.unescape(cell) == text
