"""services.save enforces the domain against the stored version (issue 14, DESIGN invariant 10)."""

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_LEAD_PROCESS,
    Account,
    Activity,
    Contact,
    ConversionRecord,
    ConvertedLeadError,
    ConvertOptions,
    Lead,
    LeadModelError,
    LeadProcess,
    LeadStatus,
    LifecycleStage,
    Opportunity,
    Transition,
    TransitionError,
    ValidationError,
    regress,
    transition,
    update,
)
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import StorageCheck, StorageProblem, check_storage, convert_lead, save
from leadmodel.testing.strategies import leads

NOW = datetime(2041, 1, 1, tzinfo=UTC)  # after every generated timestamp
CONVERTED = "Closed - Converted"
OPEN = "Open - Not Contacted"
RECORD = ConversionRecord(account_id="A1", contact_id="C1", converted_at=NOW, status=CONVERTED)

ADA = Lead(id="L1", first_name="Ada", last_name="Lovelace", company="Engines", title="CTO")
CONVERTED_ADA = attrs.evolve(ADA, status=CONVERTED, converted=RECORD)
GRACE = Contact(
    id="C1", last_name="Hopper", lifecycle_stage=LifecycleStage.SALES_QUALIFIED, title="Admiral"
)

# Two converted statuses, and moves only Open -> Working -> Closed - Not Converted.
STRICT = LeadProcess(
    name="Strict",
    statuses=(
        LeadStatus("Open", is_default=True, order=1),
        LeadStatus("Working", order=2),
        LeadStatus("Won", is_converted=True, is_closed=True, order=3),
        LeadStatus("Merged In", is_converted=True, is_closed=True, order=4),
        LeadStatus("Lost", is_closed=True, order=5),
    ),
    transitions=(Transition("Open", {"Working"}), Transition("Working", {"Lost"})),
)


def stored(*records):
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        for record in records:
            repository = uow.leads if isinstance(record, Lead) else uow.contacts
            repository.add(record)
        uow.commit()
    return store


def snapshot(store):
    with MemoryUnitOfWork(store) as uow:
        return (
            sorted(uow.leads, key=lambda r: r.id),
            sorted(uow.contacts, key=lambda r: r.id),
            sorted(uow.accounts, key=lambda r: r.id),
        )


def stored_lead(store, lead_id="L1"):
    with MemoryUnitOfWork(store) as uow:
        return uow.leads.get(lead_id)


def refused(store, record, error, **options):
    """Save *record*, expect *error*, and check storage did not change."""
    before = snapshot(store)
    with pytest.raises(error) as caught:
        save(MemoryUnitOfWork(store), record, **options)
    assert snapshot(store) == before
    return caught.value


# -- converted leads are read-only -------------------------------------------------------------


def test_an_edit_of_a_converted_lead_is_refused():
    store = stored(CONVERTED_ADA)
    error = refused(store, attrs.evolve(CONVERTED_ADA, title="CEO"), ConvertedLeadError)
    assert error.lead_id == "L1"
    assert "read-only" in str(error)


def test_moving_a_converted_lead_back_to_subscriber_is_refused():
    store = stored(CONVERTED_ADA)
    moved = attrs.evolve(CONVERTED_ADA, lifecycle_stage=LifecycleStage.SUBSCRIBER)
    refused(store, moved, ConvertedLeadError)


def test_unconverting_a_converted_lead_is_refused():
    store = stored(CONVERTED_ADA)
    refused(store, ADA, ConvertedLeadError)


def test_saving_an_unchanged_converted_lead_writes_nothing():
    store = stored(CONVERTED_ADA)
    before = snapshot(store)
    assert save(MemoryUnitOfWork(store), CONVERTED_ADA) is None
    assert snapshot(store) == before


# -- a converted status and a ConversionRecord come together -----------------------------------


def test_a_converted_status_without_a_conversion_record_is_refused():
    store = stored()
    error = refused(store, attrs.evolve(ADA, status=CONVERTED), ValidationError)
    assert [(e.path, e.code) for e in error.errors] == [("converted", "missing_conversion")]
    assert stored_lead(store) is None


def test_a_conversion_record_on_an_open_status_is_refused():
    error = refused(stored(), attrs.evolve(ADA, converted=RECORD), ValidationError)
    assert [e.code for e in error.errors] == ["status_mismatch", "not_converted"]


def test_a_conversion_record_on_an_open_status_of_the_same_name_is_refused():
    record = attrs.evolve(RECORD, status=OPEN)
    error = refused(stored(), attrs.evolve(ADA, converted=record), ValidationError)
    assert [e.code for e in error.errors] == ["not_converted"]


def test_a_conversion_record_with_another_converted_status_is_refused():
    lead = Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        status="Won",
        converted=attrs.evolve(RECORD, status="Merged In"),
    )
    error = refused(stored(), lead, ValidationError, process=STRICT)
    assert [(e.path, e.code) for e in error.errors] == [("converted.status", "status_mismatch")]


def test_a_new_lead_with_a_converted_status_and_its_record_is_saved():
    store = stored()
    save(MemoryUnitOfWork(store), CONVERTED_ADA)
    assert stored_lead(store) == CONVERTED_ADA


def test_a_new_converted_lead_of_another_process_is_saved_with_that_process():
    lead = Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        status="Won",
        converted=attrs.evolve(RECORD, status="Won"),
    )
    store = stored()
    refused(store, lead, ValidationError)  # "Won" is no status of the default process
    save(MemoryUnitOfWork(store), lead, process=STRICT)
    assert stored_lead(store) == lead


# -- statuses move as the process allows -------------------------------------------------------


def test_a_new_lead_with_a_status_outside_the_process_is_refused():
    error = refused(stored(), attrs.evolve(ADA, status="Nurturing"), ValidationError)
    assert [e.code for e in error.errors] == ["unknown_status"]


def test_an_edit_to_a_status_outside_the_process_is_refused_like_transition():
    store = stored(ADA)
    with pytest.raises(TransitionError):
        transition(ADA, "Nurturing")
    error = refused(store, attrs.evolve(ADA, status="Nurturing"), TransitionError)
    assert error.target == "'Nurturing'"


def test_an_edit_into_a_converted_status_is_refused_like_transition():
    store = stored(ADA)
    error = refused(store, attrs.evolve(ADA, status=CONVERTED), TransitionError)
    assert "convert_lead" in str(error)


def test_an_edit_setting_a_conversion_record_is_refused():
    store = stored(ADA)
    error = refused(store, CONVERTED_ADA, ValidationError)
    assert [(e.path, e.code) for e in error.errors] == [("converted", "managed")]


def test_a_move_the_process_forbids_is_refused():
    lead = Lead(id="L1", last_name="Ng", company="Acme", status="Open")
    store = MemoryStore()
    save(MemoryUnitOfWork(store), lead, process=STRICT)
    refused(store, attrs.evolve(lead, status="Lost"), TransitionError, process=STRICT)
    save(MemoryUnitOfWork(store), attrs.evolve(lead, status="Working"), process=STRICT)
    assert stored_lead(store).status == "Working"


def test_an_allowed_status_change_is_saved():
    store = stored(ADA)
    save(MemoryUnitOfWork(store), transition(ADA, "Working - Contacted"))
    assert stored_lead(store).status == "Working - Contacted"


def test_an_edit_keeping_a_status_outside_the_process_is_refused():
    legacy = attrs.evolve(ADA, status="Nurturing")
    store = stored(legacy)
    error = refused(store, attrs.evolve(legacy, title="CEO"), ValidationError)
    assert [e.code for e in error.errors] == ["unknown_status"]


# -- lifecycle stages move forward, or back with their regression ------------------------------


def test_a_lead_moved_back_in_the_lifecycle_is_refused():
    store = stored(ADA)
    moved = attrs.evolve(ADA, lifecycle_stage=LifecycleStage.SUBSCRIBER)
    error = refused(store, moved, TransitionError)
    assert (error.current, error.target) == ("lead", "subscriber")


def test_a_contact_moved_back_in_the_lifecycle_is_refused():
    store = stored(GRACE)
    refused(store, attrs.evolve(GRACE, lifecycle_stage=LifecycleStage.LEAD), TransitionError)


def test_a_lifecycle_stage_cleared_is_refused_like_update():
    store = stored(ADA)
    with pytest.raises(ValidationError):
        update(ADA, lifecycle_stage=None)
    refused(store, attrs.evolve(ADA, lifecycle_stage=None), ValidationError)


def test_a_move_back_with_its_regression_is_saved():
    store = stored(ADA, GRACE)
    lead_back = regress(ADA, LifecycleStage.SUBSCRIBER, reason="bounced twice")
    contact_back = regress(GRACE, LifecycleStage.LEAD, reason="budget frozen")
    save(MemoryUnitOfWork(store), lead_back.entity, regression=lead_back)
    save(MemoryUnitOfWork(store), contact_back.entity, regression=contact_back)
    leads_, contacts_, _ = snapshot(store)
    assert leads_ == [lead_back.entity]
    assert contacts_ == [contact_back.entity]


def test_a_regressed_record_may_change_other_fields_too():
    store = stored(ADA)
    back = regress(ADA, LifecycleStage.SUBSCRIBER, reason="bounced twice")
    edited = update(back.entity, title="CEO")
    save(MemoryUnitOfWork(store), edited, regression=back)
    assert stored_lead(store) == edited


def test_a_regression_of_another_record_is_refused():
    other = attrs.evolve(ADA, id="L2")
    store = stored(ADA, other)
    back = regress(other, LifecycleStage.SUBSCRIBER, reason="bounced")
    moved = attrs.evolve(ADA, lifecycle_stage=LifecycleStage.SUBSCRIBER)
    error = refused(store, moved, TransitionError, regression=back)
    assert "another record or another move" in str(error)


def test_a_regression_to_another_stage_is_refused():
    store = stored(ADA)
    back = regress(ADA, LifecycleStage.SUBSCRIBER, reason="bounced")
    moved = attrs.evolve(ADA, lifecycle_stage=LifecycleStage.OTHER)
    refused(store, moved, TransitionError, regression=back)


def test_a_regression_from_another_stored_stage_is_refused():
    store = stored(attrs.evolve(ADA, lifecycle_stage=LifecycleStage.CUSTOMER))
    back = regress(ADA, LifecycleStage.SUBSCRIBER, reason="made from an older copy")
    refused(store, back.entity, TransitionError, regression=back)


def test_a_forward_move_is_saved():
    store = stored(GRACE)
    save(MemoryUnitOfWork(store), attrs.evolve(GRACE, lifecycle_stage=LifecycleStage.CUSTOMER))
    _, contacts_, _ = snapshot(store)
    assert contacts_[0].lifecycle_stage is LifecycleStage.CUSTOMER


# -- bad arguments are refused with leadmodel errors -------------------------------------------


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"process": "Default Lead Process"}, "process"),
        ({"regression": "bounced"}, "regression"),
        ({"policy": {"rules": []}}, "policy"),
    ],
)
def test_bad_arguments_are_refused(options, path):
    error = refused(stored(), ADA, ValidationError, **options)
    assert [e.path for e in error.errors] == [path]


def test_accounts_are_saved_as_before():
    store = MemoryStore()
    save(MemoryUnitOfWork(store), Account(id="A1", name="Acme"))
    save(MemoryUnitOfWork(store), Account(id="A1", name="Acme Inc"))
    _, _, accounts = snapshot(store)
    assert [a.name for a in accounts] == ["Acme Inc"]


# -- the property: storage never holds a lead that breaks the rule -----------------------------

STATUSES = [s.name for s in DEFAULT_LEAD_PROCESS.statuses] + ["Nurturing"]


def consistent(lead):
    status = DEFAULT_LEAD_PROCESS.get(lead.status)
    if status is None:
        return False
    if lead.converted is None:
        return not status.is_converted
    return status.is_converted and lead.converted.status == lead.status


@st.composite
def candidates(draw, lead_id):
    lead = draw(leads())
    status = draw(st.sampled_from([lead.status, *STATUSES]))
    record = draw(
        st.sampled_from(
            [
                lead.converted,
                None,
                RECORD,
                attrs.evolve(RECORD, status=status),
            ]
        )
    )
    try:
        return attrs.evolve(lead, id=lead_id, status=status, converted=record)
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=150, deadline=None)
@given(
    old=st.none() | leads(),
    data=st.data(),
)
def test_save_never_stores_an_inconsistent_lead_and_changes_nothing_when_it_refuses(old, data):
    store = stored(old) if old is not None else MemoryStore()
    lead_id = old.id if old is not None else "L1"
    record = data.draw(
        st.one_of(candidates(lead_id), st.just(old)) if old is not None else candidates(lead_id)
    )
    before = snapshot(store)
    try:
        save(MemoryUnitOfWork(store), record)
    except LeadModelError as error:
        event(f"refused: {type(error).__name__}")
        assert snapshot(store) == before
        return
    event("saved")
    after = stored_lead(store, lead_id)
    assert after == record
    if old is None or record != old:
        assert consistent(after)
    if old is not None and old.converted is not None:
        assert after == old


# -- check_storage: reports what storage holds against the rules, never rewrites ---------------


@pytest.fixture(params=["memory", "sqlite"])
def make_uow(request, tmp_path):
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    sqlite_store = SQLiteStore(tmp_path / "x.db")
    with sqlite_store:
        yield lambda: SQLiteUnitOfWork(sqlite_store)


def plant(make_uow, *records):
    """Store *records* bypassing the services, as an old release or a host might have."""
    with make_uow() as uow:
        for record in records:
            repository = {
                Lead: uow.leads,
                Contact: uow.contacts,
                Account: uow.accounts,
                Opportunity: uow.opportunities,
                Activity: uow.activities,
            }[type(record)]
            repository.add(record)
        uow.commit()


def everything(make_uow):
    with make_uow() as uow:
        return [
            sorted(repository, key=lambda r: r.id)
            for repository in (
                uow.leads,
                uow.contacts,
                uow.accounts,
                uow.opportunities,
                uow.activities,
            )
        ]


def found(result):
    return [(p.kind, p.record_id, p.code) for p in result.problems]


def activity(activity_id, subject_id):
    return Activity(id=activity_id, subject_id=subject_id, kind="page_view", occurred_at=NOW)


def test_clean_storage_is_ok(make_uow):
    plant(
        make_uow,
        Account(id="A1", name="Acme"),
        Account(id="A2", name="Acme EMEA", parent_id="A1"),
        Contact(id="C1", last_name="Ng", account_id="A1"),
        Opportunity(id="O1", name="Deal", account_id="A1", contact_id="C1"),
        CONVERTED_ADA,
        attrs.evolve(ADA, id="L2"),
        activity("E1", "L1"),
        activity("E2", "C1"),
        activity("E3", "A2"),
        activity("E4", "O1"),
    )
    result = check_storage(make_uow())
    assert result == StorageCheck(problems=(), records=10)
    assert result.ok


def test_converted_statuses_and_conversion_records_that_disagree_are_reported(make_uow):
    plant(
        make_uow,
        Account(id="A1", name="Acme"),
        Contact(id="C1", last_name="Ng", account_id="A1"),
        attrs.evolve(ADA, id="L1", status=CONVERTED),
        attrs.evolve(ADA, id="L2", converted=RECORD),
        attrs.evolve(ADA, id="L3", status="Nurturing"),
        attrs.evolve(ADA, id="L4", status=CONVERTED, converted=attrs.evolve(RECORD, status="Won")),
    )
    result = check_storage(make_uow())
    assert not result.ok
    assert found(result) == [
        ("lead", "L1", "missing_conversion"),
        ("lead", "L2", "not_converted"),
        ("lead", "L2", "status_mismatch"),
        ("lead", "L3", "unknown_status"),
        ("lead", "L4", "status_mismatch"),
    ]


def test_the_process_decides_which_statuses_are_converted(make_uow):
    lead = Lead(id="L1", last_name="Ng", company="Acme", status="Won")
    plant(make_uow, lead)
    assert found(check_storage(make_uow())) == [("lead", "L1", "unknown_status")]
    assert found(check_storage(make_uow(), process=STRICT)) == [
        ("lead", "L1", "missing_conversion")
    ]


def test_conversion_records_pointing_at_missing_records_are_reported(make_uow):
    record = attrs.evolve(RECORD, account_id="A9", contact_id="C9", opportunity_id="O9")
    plant(make_uow, attrs.evolve(CONVERTED_ADA, converted=record))
    result = check_storage(make_uow())
    assert found(result) == [
        ("lead", "L1", "missing_account"),
        ("lead", "L1", "missing_contact"),
        ("lead", "L1", "missing_opportunity"),
    ]
    assert "converted.account_id 'A9'" in result.problems[0].message


def test_activities_about_no_stored_record_are_reported(make_uow):
    plant(make_uow, ADA, activity("E1", "L1"), activity("E2", "L404"))
    result = check_storage(make_uow())
    assert found(result) == [("activity", "E2", "missing_subject")]
    assert str(result.problems[0]).startswith("activity E2: missing_subject: subject_id 'L404'")


def test_contacts_and_opportunities_pointing_at_missing_records_are_reported(make_uow):
    plant(
        make_uow,
        Contact(id="C1", last_name="Ng", account_id="A9"),
        Opportunity(id="O1", name="Deal", account_id="A9", contact_id="C9"),
        Opportunity(id="O2", name="Deal", contact_id="C1"),
    )
    assert found(check_storage(make_uow())) == [
        ("contact", "C1", "missing_account"),
        ("opportunity", "O1", "missing_account"),
        ("opportunity", "O1", "missing_contact"),
    ]


def test_missing_parents_and_parent_loops_are_reported(make_uow):
    plant(
        make_uow,
        Account(id="A1", name="One", parent_id="A2"),
        Account(id="A2", name="Two", parent_id="A1"),
        Account(id="A3", name="Three", parent_id="A7"),
        Account(id="A7", name="Seven", parent_id="A8"),
        Account(id="A8", name="Eight", parent_id="A3"),
        Account(id="A4", name="Four", parent_id="A1"),  # under a loop, not in it
        Account(id="A5", name="Five", parent_id="A9"),
        Account(id="A6", name="Six", parent_id="A4"),
    )
    result = check_storage(make_uow())
    assert found(result) == [
        ("account", "A1", "parent_cycle"),
        ("account", "A2", "parent_cycle"),
        ("account", "A3", "parent_cycle"),
        ("account", "A5", "missing_parent"),
        ("account", "A7", "parent_cycle"),
        ("account", "A8", "parent_cycle"),
    ]
    assert result.problems[0].message == "its parents loop: A1 -> A2 -> A1"
    assert result.problems[-1].message == "its parents loop: A3 -> A7 -> A8 -> A3"


def test_check_storage_changes_nothing(make_uow):
    plant(
        make_uow,
        attrs.evolve(ADA, status=CONVERTED),
        Contact(id="C1", last_name="Ng", account_id="A9"),
        activity("E1", "L404"),
    )
    before = everything(make_uow)
    assert len(check_storage(make_uow()).problems) == 3
    assert everything(make_uow) == before


def test_a_lead_refused_by_save_is_one_check_storage_reports(make_uow):
    bad = attrs.evolve(ADA, converted=attrs.evolve(RECORD, account_id=None, contact_id=None))
    with pytest.raises(ValidationError) as refused_:
        save(make_uow(), bad)
    plant(make_uow, bad)
    reported = {p.code for p in check_storage(make_uow()).problems}
    assert reported == {e.code for e in refused_.value.errors}


def test_check_storage_refuses_a_bad_process():
    with pytest.raises(ValidationError) as caught:
        check_storage(MemoryUnitOfWork(), process="Default")  # type: ignore[arg-type]
    assert caught.value.paths == ("process",)


def test_a_storage_check_shows_as_html():
    result = StorageCheck(problems=(StorageProblem("lead", "L1", "x", "<b>"),), records=1)
    html = result._repr_html_()
    assert "&lt;b&gt;" in html
    assert "StorageCheck" in html


def test_problems_of_a_large_store_are_in_a_stable_order(make_uow):
    leads_ = [
        attrs.evolve(ADA, id=f"L{i:03}", status=CONVERTED, created_at=NOW - timedelta(days=i))
        for i in range(30)
    ]
    plant(make_uow, *reversed(leads_))
    result = check_storage(make_uow())
    assert [p.record_id for p in result.problems] == [lead.id for lead in leads_]


@pytest.mark.parametrize("uow", [None, "store.db", {"leads": []}, MemoryStore()])
@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("save", lambda uow: save(uow, ADA)),
        ("check_storage", check_storage),
        (
            "convert_lead",
            lambda uow: convert_lead(
                uow, "L1", ConvertOptions(converted_status=CONVERTED), ids=str, now=NOW
            ),
        ),
    ],
)
def test_a_service_given_something_other_than_a_unit_of_work_says_so(service, call, uow):
    with pytest.raises(ValidationError) as caught:
        call(uow)
    assert caught.value.entity == service
    assert [(e.path, e.code) for e in caught.value.errors] == [("uow", "type")]


@pytest.mark.parametrize("service", ["rescore", "capture_lead"])
def test_rescore_and_capture_refuse_what_is_not_a_unit_of_work(service):
    from datetime import UTC, datetime

    from leadmodel import ScoringModel
    from leadmodel.services import CaptureConfig, capture_lead, rescore

    now = datetime(2026, 1, 1, tzinfo=UTC)
    calls = {
        "rescore": lambda: rescore([], ScoringModel(), now=now),
        "capture_lead": lambda: capture_lead(
            [], {"last_name": "Ng", "company": "A"}, CaptureConfig(), ids=str, now=now
        ),
    }
    with pytest.raises(ValidationError, match="unit of work"):
        calls[service]()
