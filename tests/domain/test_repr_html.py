"""Entities show as HTML tables in notebooks: non-blank fields, escaped."""

from datetime import UTC, datetime

import pytest

from leadmodel import Account, Activity, Contact, EmailAddress, Lead, Opportunity


@pytest.mark.parametrize(
    "entity",
    [
        Lead(
            id="L1",
            last_name="<b>Ng</b>",
            company="Acme & Co",
            email=EmailAddress.parse("ng@acme.io"),
            tags={"vip"},
            custom={"visits": 3},
        ),
        Contact(id="C1", last_name="Ng"),
        Account(id="A1", name="Acme"),
        Opportunity(id="O1", name="Deal"),
        Activity(
            id="X1", subject_id="L1", kind="call", occurred_at=datetime(2026, 1, 1, tzinfo=UTC)
        ),
    ],
)
def test_entities_render_as_html_tables(entity):
    page = entity._repr_html_()
    assert page.startswith(f"<table><caption>{type(entity).__name__} {entity.id}</caption>")
    assert "<script" not in page
    assert "<th>id</th>" in page


def test_values_are_escaped_and_blanks_left_out():
    page = Lead(
        id="L1", last_name="<b>Ng</b>", company="Acme & Co", custom={"visits": 3}
    )._repr_html_()
    assert "&lt;b&gt;Ng&lt;/b&gt;" in page
    assert "Acme &amp; Co" in page
    assert "visits=3" in page
    assert "<th>title</th>" not in page
    assert "<td>lead</td>" in page  # the lifecycle stage's value, not its repr
