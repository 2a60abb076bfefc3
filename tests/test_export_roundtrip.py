"""Issue 15: leadmodel's own CSV export imports back exactly, ``import(export(x)) == x``.

The escaping scheme (``export_csv``'s docstring, docs/api/import.md): every cell quoted, one
``'`` before a cell a spreadsheet could run or that starts with ``'``, tags joined by ``;``
with ``\\`` escapes, and a marker header cell that tells the import to read cells exactly.
"""

import csv
import io
from datetime import UTC, datetime

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import ColumnMapping, export_csv, import_leads
from leadmodel.intake import EXPORT_MARKER
from leadmodel.testing import strategies as lst

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = [
    "first_name",
    "last_name",
    "company",
    "is_person",
    "title",
    "email",
    "phone",
    "mobile",
    "website",
    "industry",
    "employees",
    "source",
    "campaign_id",
    "owner_id",
    "team_id",
    "rating",
    "tags",
    "description",
    "do_not_call",
    "email_opt_out",
    "created_at",
    "updated_at",
]
# What a hostile or unlucky value holds: formula signs, separators, quotes, escapes, blanks.
TRICKY = st.sampled_from(list("=+-@;,|'\"\\ ＝＋－＠aZ1é"))


def tricky_text(max_size):
    return st.text(TRICKY, min_size=1, max_size=max_size).filter(lambda s: not s.isspace())


@st.composite
def tricky_leads(draw):
    lead = draw(lst.leads(converted=st.just(False)))
    created, updated = draw(lst.timestamps()), draw(lst.timestamps())
    return attrs.evolve(
        lead,
        first_name=draw(st.none() | tricky_text(40)),
        last_name=draw(tricky_text(80)),
        company=draw(tricky_text(60)),
        title=draw(st.none() | tricky_text(60)),
        tags=draw(st.frozensets(tricky_text(20), max_size=4)),
        description=draw(
            st.none()
            | st.text(
                st.sampled_from(list("=+-@;,|'\"\\ \t\n\r＝a")), min_size=1, max_size=80
            ).filter(lambda s: not s.isspace())
        ),
        custom={},
        created_at=created,
        updated_at=max(created, updated),
    )


def round_trip(leads):
    out = io.StringIO()
    export_csv(leads, FIELDS, out)
    mapping = ColumnMapping([(f, f) for f in FIELDS])
    rows = csv.DictReader(io.StringIO(out.getvalue()))
    given_ids = iter([lead.id for lead in leads])
    return list(
        import_leads(
            rows, mapping, ids=lambda _kind: next(given_ids), now=NOW, on_duplicate="create"
        )
    )


@settings(max_examples=60)
@given(st.lists(tricky_leads(), max_size=3))
def test_import_of_an_export_gives_every_value_back(leads):
    outcomes = round_trip(leads)
    assert [o.status for o in outcomes] == ["created"] * len(leads), [o.errors for o in outcomes]
    for lead, outcome in zip(leads, outcomes, strict=True):
        back = outcome.lead
        assert {f: getattr(back, f) for f in FIELDS} == {f: getattr(lead, f) for f in FIELDS}


def test_a_file_without_the_marker_is_trimmed_as_another_crm_file():
    rows = [{"Last Name": "  Ng  ", "Company": "'=1+1", "Tags": "a, b;c"}]
    mapping = ColumnMapping([("Last Name", "last_name"), ("Company", "company"), ("Tags", "tags")])
    [outcome] = import_leads(rows, mapping, ids=lambda _kind: "L1", now=NOW)
    assert outcome.lead.last_name == "Ng"
    assert outcome.lead.company == "=1+1"
    assert outcome.lead.tags == {"a", "b", "c"}


def test_a_file_with_the_marker_is_read_exactly():
    rows = [{"Last Name": "  Ng  ", "Company": "''=1", "Tags": "a\\;b;c", EXPORT_MARKER: ""}]
    mapping = ColumnMapping([("Last Name", "last_name"), ("Company", "company"), ("Tags", "tags")])
    [outcome] = import_leads(rows, mapping, ids=lambda _kind: "L1", now=NOW)
    assert outcome.lead.last_name == "  Ng  "
    assert outcome.lead.company == "'=1"
    assert outcome.lead.tags == {"a;b", "c"}
