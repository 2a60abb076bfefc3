from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Activity,
    ConcurrencyError,
    EmailAddress,
    Lead,
    Notification,
    PhoneNumber,
    RecordExists,
    RecordNotFound,
    ValidationError,
    update,
)
from leadmodel.adapters.memory import (
    FixedClock,
    MemoryNotifier,
    MemoryStore,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.ports import lookup_keys
from leadmodel.testing.strategies import leads

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def lead(lead_id="L1", **changes):
    return Lead(id=lead_id, last_name="Ng", company="Acme", **changes)


def stored(*records):
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        for record in records:
            uow.leads.add(record)
        uow.commit()
    return store


class TestRepository:
    def test_add_then_get_within_the_unit(self):
        with MemoryUnitOfWork() as uow:
            uow.leads.add(lead())
            assert uow.leads.get("L1") == lead()
            assert uow.leads.get("nope") is None

    def test_add_refuses_an_existing_id(self):
        store = stored(lead())
        with MemoryUnitOfWork(store) as uow, pytest.raises(RecordExists):
            uow.leads.add(lead())

    def test_update_and_remove_refuse_a_missing_record(self):
        with MemoryUnitOfWork() as uow:
            with pytest.raises(RecordNotFound) as caught:
                uow.leads.update(lead())
            assert caught.value.record_id == "L1"
            with pytest.raises(RecordNotFound):
                uow.leads.remove("L1")

    def test_refuses_the_wrong_kind_of_record(self):
        with MemoryUnitOfWork() as uow, pytest.raises(ValidationError):
            uow.contacts.add(lead())  # type: ignore[arg-type]

    def test_iterates_in_id_order_with_staged_changes(self):
        store = stored(lead("L2"), lead("L3"))
        with MemoryUnitOfWork(store) as uow:
            uow.leads.add(lead("L1"))
            uow.leads.remove("L3")
            assert [record.id for record in uow.leads] == ["L1", "L2"]
            assert len(uow.leads) == 2

    def test_find_by_keys_uses_committed_and_staged_records(self):
        email = EmailAddress.parse("ng@acme.com")
        store = stored(lead("L1", email=email), lead("L2", phone=PhoneNumber.parse("+14155551234")))
        with MemoryUnitOfWork(store) as uow:
            uow.leads.add(lead("L3", email=email))
            found = uow.leads.find_by_keys(["email:ng@acme.com", "phone:+14155551234"])
            assert [r.id for r in found] == ["L1", "L2", "L3"]
            uow.leads.update(lead("L1"))
            assert [r.id for r in uow.leads.find_by_keys(["email:ng@acme.com"])] == ["L3"]

    def test_the_index_follows_commits(self):
        store = stored(lead("L1", email=EmailAddress.parse("a@acme.com")))
        with MemoryUnitOfWork(store) as uow:
            uow.leads.update(lead("L1", email=EmailAddress.parse("b@acme.com")))
            uow.commit()
        with MemoryUnitOfWork(store) as uow:
            assert uow.leads.find_by_keys(["email:a@acme.com"]) == []
            assert [r.id for r in uow.leads.find_by_keys(["email:b@acme.com"])] == ["L1"]
            uow.leads.remove("L1")
            uow.commit()
        assert store.tables["lead"].index == {}

    def test_activities_are_found_by_subject(self):
        activity = Activity(id="A1", subject_id="L1", kind="call", occurred_at=NOW)
        with MemoryUnitOfWork() as uow:
            uow.activities.add(activity)
            assert uow.activities.find_by_keys(["subject:L1"]) == [activity]


class TestUnitOfWork:
    def test_changes_persist_only_on_commit(self):
        store = MemoryStore()
        with MemoryUnitOfWork(store) as uow:
            uow.leads.add(lead())
        assert store.count("lead") == 0
        with MemoryUnitOfWork(store) as uow:
            uow.leads.add(lead())
            uow.commit()
        assert store.count("lead") == 1

    def test_an_exception_rolls_back(self):
        store = stored(lead())

        def fail_midway():
            with MemoryUnitOfWork(store) as uow:
                uow.leads.update(lead(title="CTO"))
                uow.leads.add(lead("L2"))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_midway()
        with MemoryUnitOfWork(store) as uow:
            assert uow.leads.get("L1") == lead()
            assert uow.leads.get("L2") is None

    def test_rollback_discards_everything_since_begin(self):
        store = stored(lead())
        with MemoryUnitOfWork(store) as uow:
            uow.leads.remove("L1")
            uow.contacts.get("C1")
            uow.rollback()
            assert uow.leads.get("L1") == lead()

    def test_a_stale_update_is_refused_and_nothing_is_written(self):
        store = stored(lead(), lead("L2"))
        first, second = MemoryUnitOfWork(store), MemoryUnitOfWork(store)
        with first, second:
            mine = first.leads.get("L1")
            theirs = second.leads.get("L1")
            assert mine is not None
            assert theirs is not None
            second.leads.update(update(theirs, title="CEO"))
            second.commit()
            first.leads.update(update(mine, title="CTO"))
            first.leads.remove("L2")
            with pytest.raises(ConcurrencyError):
                first.commit()
        with MemoryUnitOfWork(store) as uow:
            assert uow.leads.get("L1") == lead(title="CEO")
            assert uow.leads.get("L2") is not None

    def test_two_units_adding_the_same_id_conflict(self):
        store = MemoryStore()
        first, second = MemoryUnitOfWork(store), MemoryUnitOfWork(store)
        with first, second:
            first.leads.add(lead(title="first"))
            second.leads.add(lead(title="second"))
            first.commit()
            with pytest.raises(ConcurrencyError):
                second.commit()

    @given(st.lists(leads(), max_size=8, unique_by=lambda record: record.id), st.booleans())
    def test_commit_persists_exactly_what_was_staged(self, records, commit):
        store = MemoryStore()
        with MemoryUnitOfWork(store) as uow:
            for record in records:
                uow.leads.add(record)
            if commit:
                uow.commit()
        with MemoryUnitOfWork(store) as uow:
            expected = sorted(records, key=lambda r: r.id) if commit else []
            assert list(uow.leads) == expected


class TestHelpers:
    def test_notifier_keeps_what_it_sent(self):
        notifier = MemoryNotifier()
        note = Notification(recipient="u1", template="new_lead", subject_id="L1")
        notifier.send(note)
        assert notifier.sent == [note]

    def test_fixed_clock_moves_only_when_told(self):
        clock = FixedClock(NOW)
        assert clock.now() == NOW
        clock.advance(timedelta(minutes=5))
        assert clock.now() == NOW + timedelta(minutes=5)

    def test_sequential_ids_count_per_kind(self):
        ids = SequentialIds(prefix="t-", width=3)
        drawn = [ids("lead"), ids("account"), ids("lead")]
        assert drawn == ["t-lead-001", "t-account-001", "t-lead-002"]

    def test_lookup_keys_of_a_lead(self):
        record = lead(
            email=EmailAddress.parse("A@acme.com"),
            phone=PhoneNumber.parse("+14155551234"),
            mobile=PhoneNumber.parse("+1 415 555 1234"),
        )
        assert lookup_keys(record) == ("email:a@acme.com", "phone:+14155551234")
