"""Importing into storage: services.import_leads, and what each row's values became."""

from datetime import UTC, datetime

import pytest

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    ColumnMapping,
    ConversionRecord,
    EmailAddress,
    ImportReport,
    Lead,
    PhoneNumber,
    ValidationError,
    from_json,
    import_leads,
    to_json,
)
from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
from leadmodel.services import import_leads as import_into
from leadmodel.services import unmerge_records

NOW = datetime(2026, 12, 1, tzinfo=UTC)
HEADER = ["Last Name", "Email", "Company", "Title", "Do Not Call"]
MAPPING = ColumnMapping.guess(HEADER)


def stored_lead(**fields):
    return Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        title="CEO",
        email=EmailAddress.parse("ng@acme.com"),
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def row(**cells):
    return {"Last Name": "Ng", "Email": "ng@acme.com", "Company": "Acme", **cells}


def storage(*leads):
    uow = MemoryUnitOfWork()
    with uow:
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    return uow


def leads_of(uow):
    with uow:
        return {lead.id: lead for lead in uow.leads}


# -- the pure import reports every value it did not write (issue 14) ---------------------


@pytest.mark.parametrize(("mode", "fate"), [("update", "kept"), ("merge", "provenance")])
def test_a_differing_incoming_value_is_reported_not_dropped(mode, fate):
    uow = storage(stored_lead())
    with uow:
        run = import_leads(
            [row(Title="CTO")],
            MAPPING,
            ids=SequentialIds(),
            now=NOW,
            existing=uow.leads,
            on_duplicate=mode,
        )
        [outcome] = list(run)
    title = next(v for v in outcome.values if v.field == "title")
    assert (title.value, title.fate, title.stored) == ("CTO", fate, "CEO")
    assert outcome.kept == (title,)
    assert outcome.incoming.title == "CTO"
    assert (run.report.kept, run.report.in_provenance) == ((1, 0) if mode == "update" else (0, 1))


def test_update_reports_written_unchanged_and_kept_values():
    uow = storage(stored_lead())
    with uow:
        [outcome] = import_leads(
            [row(Title="CTO", **{"Do Not Call": "yes"}, Phone="+1 415 555 0199")],
            ColumnMapping.guess([*HEADER, "Phone"]),
            ids=SequentialIds(),
            now=NOW,
            existing=uow.leads,
            on_duplicate="update",
        )
    fates = {v.field: v.fate for v in outcome.values}
    assert fates == {
        "last_name": "unchanged",
        "company": "unchanged",
        "email": "unchanged",
        "title": "kept",
        "do_not_call": "kept",  # False is a value: an update fills blanks only
        "phone": "written",
    }


def test_a_row_matching_a_converted_lead_is_skipped_not_merged():
    converted = stored_lead(
        status="Closed - Converted",
        converted=ConversionRecord(
            account_id="A1", contact_id="C1", converted_at=NOW, status="Closed - Converted"
        ),
    )
    uow = storage(converted)
    for mode in ("update", "merge"):
        with uow:
            [outcome] = import_leads(
                [row(Title="CTO")],
                MAPPING,
                ids=SequentialIds(),
                now=NOW,
                existing=uow.leads,
                on_duplicate=mode,
            )
        assert outcome.status == "skipped"
        assert "converted lead L1" in outcome.reason


def test_the_report_round_trips_with_its_new_counts():
    report = ImportReport(3, 1, 1, 1, 0, 0, (), kept=2, in_provenance=1)
    assert from_json(ImportReport, to_json(report)) == report


# -- services.import_leads ----------------------------------------------------------------


def test_import_creates_updates_and_reports_kept_values():
    uow = storage(stored_lead())
    seen = []
    report = import_into(
        uow,
        [row(Title="CTO"), {"Last Name": "Lee", "Email": "lee@acme.com"}, {"Email": "x"}],
        MAPPING,
        on_duplicate="update",
        ids=SequentialIds(),
        now=NOW,
        on_outcome=seen.append,
    )
    assert (report.rows, report.created, report.updated, report.rejected) == (3, 1, 1, 1)
    assert report.kept == 1
    assert [o.status for o in seen] == ["updated", "created", "rejected"]
    stored = leads_of(uow)
    assert stored["L1"].title == "CEO"
    assert {lead.last_name for lead in stored.values()} == {"Ng", "Lee"}


def test_import_merges_are_stored_and_can_be_undone():
    uow = storage(stored_lead())
    before = leads_of(uow)
    ids = SequentialIds()
    report = import_into(
        uow, [row(Title="CTO", Company="Acme Inc")], MAPPING, on_duplicate="merge", ids=ids, now=NOW
    )
    assert (report.merged, report.in_provenance) == (1, 2)
    with uow:
        [merge] = uow.merges.find_by_keys(["record:L1"])
    assert merge.survivor_id == "L1"
    assert [r.title for r in merge.result.originals] == ["CEO", "CTO"]
    assert list(leads_of(uow)) == ["L1"]
    unmerge_records(uow, merge.id, now=NOW)
    restored = leads_of(uow)
    assert restored["L1"] == before["L1"]
    [incoming] = [lead for lead in restored.values() if lead.id != "L1"]
    assert (incoming.title, incoming.company) == ("CTO", "Acme Inc")


def test_import_never_edits_a_converted_lead():
    converted = stored_lead(
        status="Closed - Converted",
        converted=ConversionRecord(
            account_id="A1", contact_id="C1", converted_at=NOW, status="Closed - Converted"
        ),
    )
    uow = storage(converted)
    report = import_into(
        uow, [row(Title="CTO")], MAPPING, on_duplicate="update", ids=SequentialIds(), now=NOW
    )
    assert report.skipped == 1
    assert leads_of(uow)["L1"] == converted


def test_every_batch_is_committed():
    uow = storage()
    rows = [{"Last Name": f"N{n}", "Email": f"n{n}@acme.com"} for n in range(5)]
    commits = []
    report = import_into(
        uow,
        rows,
        MAPPING,
        ids=SequentialIds(),
        now=NOW,
        batch_size=2,
        on_outcome=lambda _outcome: commits.append(len(uow.store.tables["lead"].records)),
    )
    assert report.created == 5
    assert commits == [0, 0, 2, 2, 4]  # seen before its batch commits
    assert len(leads_of(uow)) == 5


def test_a_dry_run_saves_nothing():
    uow = storage(stored_lead())
    report = import_into(
        uow,
        [row(Title="CTO"), {"Last Name": "Lee", "Email": "lee@acme.com"}],
        MAPPING,
        on_duplicate="merge",
        ids=SequentialIds(),
        now=NOW,
        dry_run=True,
    )
    assert (report.created, report.merged) == (1, 1)
    assert leads_of(uow) == {"L1": stored_lead()}
    with uow:
        assert list(uow.merges) == []


def test_a_repeated_row_in_the_file_builds_on_the_first():
    uow = storage()
    report = import_into(
        uow,
        [row(), row(Title="CTO"), row(Title="VP")],
        MAPPING,
        on_duplicate="merge",
        ids=SequentialIds(),
        now=NOW,
        batch_size=1,
    )
    assert (report.created, report.merged, report.in_provenance) == (1, 2, 1)
    [lead] = leads_of(uow).values()
    assert lead.title == "CTO"


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "10"])
def test_a_bad_batch_size_is_refused(batch_size):
    with pytest.raises(ValidationError):
        import_into(storage(), [], MAPPING, ids=SequentialIds(), now=NOW, batch_size=batch_size)


class WithoutMerges:
    """A host's unit of work written against the five core repositories only."""

    def __init__(self):
        self._inner = MemoryUnitOfWork()
        for name in ("leads", "contacts", "accounts", "opportunities", "activities"):
            setattr(self, name, getattr(self._inner, name))

    def __enter__(self):
        self._inner.__enter__()
        return self

    def __exit__(self, *exc):
        self._inner.__exit__(*exc)

    def commit(self):
        self._inner.commit()


def test_merge_needs_a_unit_of_work_that_stores_merges():
    with pytest.raises(ValidationError) as caught:
        import_into(
            WithoutMerges(), [], MAPPING, on_duplicate="merge", ids=SequentialIds(), now=NOW
        )
    assert caught.value.errors[0].code == "capability"
    report = import_into(WithoutMerges(), [row()], MAPPING, ids=SequentialIds(), now=NOW)
    assert report.created == 1


@pytest.mark.parametrize("uow", [None, object()])
def test_something_else_than_a_unit_of_work_is_a_validation_error(uow):
    with pytest.raises(ValidationError) as caught:
        import_into(uow, [], MAPPING, ids=SequentialIds(), now=NOW)
    assert caught.value.errors[0].code == "type"


def test_a_failing_import_keeps_earlier_batches_only():
    uow = storage()

    def rows():
        yield {"Last Name": "A", "Email": "a@acme.com"}
        yield {"Last Name": "B", "Email": "b@acme.com"}
        yield {"Last Name": "C", "Email": "c@acme.com"}
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        import_into(uow, rows(), MAPPING, ids=SequentialIds(), now=NOW, batch_size=2)
    assert sorted(lead.last_name for lead in leads_of(uow).values()) == ["A", "B"]


def test_an_on_outcome_that_fails_stops_the_import_with_a_validation_error():
    def broken(outcome):
        raise KeyError(outcome.line)

    uow = MemoryUnitOfWork()
    mapping = ColumnMapping([("Last Name", "last_name"), ("Company", "company")])
    with pytest.raises(ValidationError) as caught:
        import_into(
            uow,
            [{"Last Name": "Ng", "Company": "Acme"}],
            mapping,
            ids=SequentialIds(),
            now=datetime(2026, 1, 1, tzinfo=UTC),
            on_outcome=broken,
        )
    assert caught.value.errors[0].code == "callback_failed"
    assert isinstance(caught.value.__cause__, KeyError)
    with uow:
        assert list(uow.leads) == []


def test_an_on_outcome_that_cannot_take_an_outcome_is_refused_before_any_row():
    with pytest.raises(ValidationError) as caught:
        import_into(
            MemoryUnitOfWork(),
            [],
            ColumnMapping([("Last Name", "last_name")]),
            ids=SequentialIds(),
            now=datetime(2026, 1, 1, tzinfo=UTC),
            on_outcome=lambda: None,
        )
    assert caught.value.errors[0].path == "on_outcome"


# -- issue 16: the service passes the matching rule through ------------------------------


def colleague(lead_id, first, last, email):
    return Lead(
        id=lead_id,
        first_name=first,
        last_name=last,
        company="Acme",
        title="Engineer",
        email=EmailAddress.parse(email),
        phone=PhoneNumber.parse("+1 415 555 0100"),
        created_at=NOW,
        updated_at=NOW,
    )


SHARED = ColumnMapping.guess(["First Name", "Last Name", "Email", "Phone", "Company", "Title"])


def shared_row(first, last, email, title="Engineer"):
    return {
        "First Name": first,
        "Last Name": last,
        "Email": email,
        "Phone": "(415) 555-0100",
        "Company": "Acme",
        "Title": title,
    }


@pytest.mark.parametrize("policy", ["skip", "merge"])
def test_the_service_keeps_colleagues_who_share_the_switchboard(policy):
    uow = storage(colleague("L1", "Ann", "Ng", "ann@acme.io"))
    seen = []
    report = import_into(
        uow,
        [shared_row("Bob", "Stone", "bob@acme.io"), shared_row("Ann", "Ng", "ANN@acme.io")],
        SHARED,
        on_duplicate=policy,
        ids=SequentialIds(),
        now=NOW,
        on_outcome=seen.append,
    )
    assert (report.created, report.skipped + report.merged) == (1, 1)
    assert seen[1].duplicate_of == "L1"
    assert seen[1].match.clause.startswith("first_name AND last_name AND")
    assert {lead.last_name for lead in leads_of(uow).values()} >= {"Ng", "Stone"}


def test_the_service_passes_an_exact_rule_through():
    uow = storage(colleague("L1", "Ann", "Ng", "ann@acme.io"))
    report = import_into(
        uow,
        [shared_row("Bob", "Stone", "bob@acme.io")],
        SHARED,
        ids=SequentialIds(),
        now=NOW,
        rule=EXACT_EMAIL_OR_PHONE,
    )
    assert (report.created, report.skipped) == (0, 1)


def test_the_service_finds_stored_leads_by_the_rules_blocking_keys():
    # No email or phone in common: the stored lead is found by name and company only
    # because the service has the unit of work index the rule's keys.
    uow = storage(Lead(id="L1", first_name="Ann", last_name="Ng", company="Acme", title="Engineer"))
    report = import_into(
        uow,
        [{"First Name": "Ann", "Last Name": "Ng", "Company": "Acme", "Title": "Engineer"}],
        SHARED,
        ids=SequentialIds(),
        now=NOW,
    )
    assert (report.created, report.skipped) == (0, 1)


def test_the_service_refuses_a_rule_that_is_not_one():
    with pytest.raises(ValidationError) as caught:
        import_into(storage(), [], MAPPING, ids=SequentialIds(), now=NOW, rule="exact")
    assert [e.path for e in caught.value.errors] == ["rule"]
