"""The storage contract every adapter must meet, as pytest tests a host adapter inherits.

Subclass :class:`UnitOfWorkContract` in a test module whose class name starts with
``Test``, and return a factory of units of work over one fresh, empty storage from
:meth:`~UnitOfWorkContract.units`; pytest then runs every contract test against your
adapter (the eventsourcing pattern)::

    from leadmodel.testing.contracts import UnitOfWorkContract


    class TestMyAdapter(UnitOfWorkContract):
        def units(self):
            database = make_empty_test_database()
            return lambda: MyUnitOfWork(database)

leadmodel's own memory and SQLite adapters subclass it exactly so. The core tests cover
add/get/update/remove for every kind, ``find_by_keys``, rollback and commit, exact round
trips of custom fields, decimals and offsets, 10,000 records, and the integrity promises
of optimistic concurrency: a record a unit of work read by *any* path (``get``, iteration,
``find_by_keys``, ``select`` when the repository has it) and writes after another unit
committed a change to it raises :class:`~leadmodel.ConcurrencyError` and writes nothing;
records only read are not checked; a key a unit searched must still find the same records
at commit (no phantom duplicate); the services' guards (a converted lead is read-only,
duplicates found by a rule's blocking keys) hold over the adapter.

Optional capabilities (:mod:`leadmodel.ports`) have contract classes of their own, so an
adapter without them still passes the core kit; inherit the ones your adapter has::

    class TestMyAdapter(UnitOfWorkContract, KeyIndexContract, MergeStoreContract): ...

- :class:`KeyIndexContract` for :class:`~leadmodel.ports.SupportsKeyIndex` (``index_rules``),
- :class:`MergeStoreContract` for :class:`~leadmodel.ports.SupportsMerges` (``uow.merges``),
- :class:`NeighboursContract` for :class:`~leadmodel.ports.SupportsNeighbours`
  (``find_neighbours``, bounded duplicate searches),
- :class:`TriggerStateContract` for :class:`~leadmodel.ports.SupportsTriggerState`
  (``uow.trigger_states``, what :func:`leadmodel.services.run_due` needs),
- :class:`ConsentsContract` for :class:`~leadmodel.ports.SupportsConsents`
  (``uow.consents``),
- :class:`PrivacyLogContract` for :class:`~leadmodel.ports.SupportsPrivacyLog`
  (``uow.privacy_log``).

The database object itself (:class:`~leadmodel.ports.Store`: ``unit_of_work()``,
``count``, ``index_rules``, ``close``) has :class:`StoreContract`, with its own factory
:meth:`StoreContract.store`.

The kit states its version in :data:`CONTRACT_VERSION`; a host adapter that passed one
version may pin it (``assert CONTRACT_VERSION == 2``) to notice when new promises arrive.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self

import attrs

from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConcurrencyError,
    ConvertedLeadError,
    DuplicateBlocked,
    KeyNotIndexed,
    RecordExists,
    RecordNotFound,
    ValidationError,
)
from leadmodel.domain.lead import ConversionRecord, Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
from leadmodel.ports import (
    Store,
    SupportsConsents,
    SupportsKeyIndex,
    SupportsMerges,
    SupportsNeighbours,
    SupportsPrivacyLog,
    SupportsScrub,
    SupportsTriggerState,
    UnitOfWork,
    neighbour_sort_value,
)

__all__ = [
    "CONTRACT_VERSION",
    "ConsentsContract",
    "KeyIndexContract",
    "MergeStoreContract",
    "NeighboursContract",
    "PrivacyLogContract",
    "StoreContract",
    "TriggerStateContract",
    "UnitOfWorkContract",
]

CONTRACT_VERSION: Final = 6
"""The version of the promises this kit holds an adapter to; it grows when the kit does.

1. Records of every kind stored, read, updated and removed exactly; ``find_by_keys``;
   commit and rollback; a stale update by ``get`` refused; 10,000 records.
2. No lost update by any read path (``get``, iteration, ``find_by_keys``, ``select``);
   records only read are not checked; a key searched with ``find_by_keys`` must find the
   same records at commit, whichever repository the unit writes (no phantom duplicate); a
   failed commit writes nothing; :func:`leadmodel.services.save` refuses an edit of a
   converted lead, even one converted while the save ran; duplicates found by a rule's
   blocking keys (or :class:`~leadmodel.KeyNotIndexed`, never a silent duplicate);
   :func:`leadmodel.services.rescore` never overwrites an edit made while it ran, even
   between its batches (a record read before the unit's own commit, even one that wrote
   nothing, is still checked).
   New capability classes :class:`KeyIndexContract` and :class:`MergeStoreContract`.
3. New capability class :class:`NeighboursContract`: ``find_neighbours`` reads at most
   ``2 * limit`` records a key, the nearest in :func:`~leadmodel.ports.neighbour_sort_value`
   order, includes staged records, refuses a bad sort value or limit, and is re-checked at
   commit; a duplicate inside a key shared by hundreds of records is still blocked.
4. New capability class :class:`TriggerStateContract`: trigger states stored and read
   back exactly by id, rolled back with their unit, refused when stale (two runs of
   :func:`leadmodel.services.run_due` racing fire each action once), and written in the
   same commit as the changes the triggers made.
5. New capability classes :class:`ConsentsContract` and :class:`PrivacyLogContract`:
   consents and privacy log entries stored and read back exactly, found by
   ``subject:<id>`` and ``hash:<subject_hash>`` (staged ones too, removed ones no longer),
   rolled back with their unit, refused when stale, and a search for a person's hash that
   found nothing is re-checked at commit (an erasure and an import racing cannot both win
   unseen).
6. New class :class:`StoreContract` for :class:`~leadmodel.ports.Store`, the database a
   process opens once: ``unit_of_work()`` gives independent units, a commit is seen by
   every later unit and a rollback by none, ``count`` counts committed records of each
   kind and refuses an unknown one, ``index_rules`` back-fills records stored before and
   ``find_by_keys`` finds them, ``schema_version`` is a positive ``int``, closing twice or
   after an error is safe (and the error goes on, never swallowed by ``__exit__``), and
   ``scrub`` (:class:`~leadmodel.ports.SupportsScrub`) keeps every remaining record.
"""

_NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
_INDIA = timezone(timedelta(hours=5, minutes=30))


def _records() -> dict[str, Any]:
    """One record of each kind, with values that are easy to lose on the way to storage."""
    return {
        "leads": Lead(
            id="L1",
            first_name="José",
            last_name="Núñez",
            company="Compañía Andina",
            email=EmailAddress.parse('"Núñez, José" <JOSE@andina.example>'),
            phone=PhoneNumber.parse("+34 912 345 678"),
            annual_revenue=Money(Decimal("750000.50"), "EUR"),
            address=Address(city="Madrid", country="ES"),
            tags=frozenset({"vip", "fair"}),
            custom={
                "visits": 12,
                "budget": Decimal("0.10"),
                "signed": date(2026, 2, 3),
                "seen": datetime(
                    2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))
                ),
                "vip": True,
                "note": "naïve ✓",
            },
            created_at=_NOW,
        ),
        "contacts": Contact(id="C1", last_name="Ng", email=EmailAddress.parse("ng@acme.io")),
        "accounts": Account(id="A1", name="Acme", annual_revenue=Money(Decimal("1E+6"), "USD")),
        "opportunities": Opportunity(id="O1", name="Acme deal", account_id="A1"),
        "activities": Activity(id="ACT1", subject_id="L1", kind="call", occurred_at=_NOW),
    }


class _Contract:
    """What every contract class needs: the factory a host adapter implements."""

    def units(self) -> Callable[[], UnitOfWork]:
        """A factory of units of work over one fresh, empty storage (override this)."""
        raise NotImplementedError

    def _stored(self, make: Callable[[], UnitOfWork], *records: Any) -> None:
        with make() as uow:
            for record in records:
                _repository(uow, record).add(record)
            uow.commit()


class UnitOfWorkContract(_Contract):
    """The port contract as tests; subclass it and implement :meth:`units`."""

    # -- the contract ---------------------------------------------------------------------

    def test_add_then_get_returns_an_equal_record_of_every_kind(self) -> None:
        make = self.units()
        records = _records()
        self._stored(make, *records.values())
        with make() as uow:
            for name, record in records.items():
                assert getattr(uow, name).get(record.id) == record, name

    def test_custom_fields_decimals_and_offsets_round_trip_exactly(self) -> None:
        make = self.units()
        lead = _records()["leads"]
        self._stored(make, lead)
        with make() as uow:
            stored = uow.leads.get("L1")
        assert stored is not None
        assert stored.custom == lead.custom
        for name, value in lead.custom.items():
            assert type(stored.custom[name]) is type(value), name
        assert str(stored.custom["budget"]) == "0.10"
        assert stored.custom["seen"].utcoffset() == timedelta(hours=5, minutes=30)  # type: ignore[union-attr]
        assert stored.annual_revenue == Money(Decimal("750000.50"), "EUR")

    def test_update_and_remove_change_what_is_stored(self) -> None:
        make = self.units()
        lead = _records()["leads"]
        self._stored(make, lead)
        with make() as uow:
            uow.leads.update(attrs.evolve(lead, company="Andina SA"))
            uow.commit()
        with make() as uow:
            assert uow.leads.get("L1").company == "Andina SA"  # type: ignore[union-attr]
            uow.leads.remove("L1")
            uow.commit()
        with make() as uow:
            assert uow.leads.get("L1") is None
            assert list(uow.leads) == []

    def test_ids_that_exist_or_do_not_are_refused(self) -> None:
        make = self.units()
        lead = _records()["leads"]
        self._stored(make, lead)
        with make() as uow:
            _raises(RecordExists, lambda: uow.leads.add(lead))
            _raises(RecordNotFound, lambda: uow.leads.update(attrs.evolve(lead, id="L404")))
            _raises(RecordNotFound, lambda: uow.leads.remove("L404"))

    def test_find_by_keys_finds_each_record_once_in_id_order(self) -> None:
        make = self.units()
        email = EmailAddress.parse("shared@acme.io")
        phone = PhoneNumber.parse("+14155550100")
        leads = [
            Lead(id="L3", last_name="C", company="A", email=email),
            Lead(id="L1", last_name="A", company="A", email=email, phone=phone),
            Lead(id="L2", last_name="B", company="A", phone=phone),
            Lead(id="L4", last_name="D", company="A"),
        ]
        self._stored(make, *leads)
        with make() as uow:
            found = uow.leads.find_by_keys(["email:shared@acme.io", "phone:+14155550100"])
            assert [lead.id for lead in found] == ["L1", "L2", "L3"]
            assert uow.leads.find_by_keys([]) == []
            # Staged changes are seen: a new key, and a key a record no longer has.
            uow.leads.add(Lead(id="L5", last_name="E", company="A", email=email))
            uow.leads.update(attrs.evolve(leads[0], email=None))
            assert [lead.id for lead in uow.leads.find_by_keys(["email:shared@acme.io"])] == [
                "L1",
                "L5",
            ]

    def test_activities_are_found_by_their_subject(self) -> None:
        make = self.units()
        calls = [
            Activity(id=f"A{i}", subject_id="L1" if i % 2 else "L2", kind="call", occurred_at=_NOW)
            for i in range(6)
        ]
        self._stored(make, *calls)
        with make() as uow:
            found = uow.activities.find_by_keys(["subject:L1"])
            assert [a.id for a in found] == ["A1", "A3", "A5"]

    def test_leaving_without_commit_discards_every_change(self) -> None:
        make = self.units()
        self._stored(make, _records()["accounts"])
        with make() as uow:
            uow.leads.add(_records()["leads"])
            uow.accounts.remove("A1")
        with make() as uow:
            assert uow.leads.get("L1") is None
            assert uow.accounts.get("A1") is not None

    def test_a_reused_unit_starts_clean_after_leaving_without_commit(self) -> None:
        make = self.units()
        uow = make()
        with uow:
            uow.leads.add(_records()["leads"])
        with uow:
            uow.accounts.add(_records()["accounts"])
            uow.commit()
        with make() as check:
            assert check.leads.get("L1") is None
            assert check.accounts.get("A1") is not None

    def test_an_exception_rolls_back(self) -> None:
        make = self.units()
        try:
            with make() as uow:
                uow.leads.add(_records()["leads"])
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with make() as uow:
            assert uow.leads.get("L1") is None

    def test_commit_persists_for_every_later_unit(self) -> None:
        make = self.units()
        with make() as uow:
            uow.leads.add(_records()["leads"])
            uow.contacts.add(_records()["contacts"])
            uow.commit()
        with make() as other:
            assert other.leads.get("L1") is not None
            assert other.contacts.get("C1") is not None

    def test_a_stale_concurrent_update_is_rejected_and_overwrites_nothing(self) -> None:
        make = self.units()
        lead = _records()["leads"]
        self._stored(make, lead)
        first, second = make(), make()
        with first, second:
            mine = first.leads.get("L1")
            theirs = second.leads.get("L1")
            assert mine is not None and theirs is not None
            second.leads.update(attrs.evolve(theirs, company="Theirs"))
            second.commit()
            first.leads.update(attrs.evolve(mine, company="Mine"))
            _raises(ConcurrencyError, first.commit)
        with make() as uow:
            assert uow.leads.get("L1").company == "Theirs"  # type: ignore[union-attr]

    def test_two_units_adding_one_id_cannot_both_win(self) -> None:
        make = self.units()
        lead = _records()["leads"]
        first, second = make(), make()
        with first, second:
            first.leads.add(lead)
            second.leads.add(attrs.evolve(lead, company="Other"))
            first.commit()
            _raises(ConcurrencyError, second.commit)
        with make() as uow:
            assert uow.leads.get("L1") == lead

    # -- no lost update, whichever path read the record (version 2) -----------------------

    def _lost_update(self, read: Callable[[UnitOfWork], Lead | None], path: str) -> None:
        """A reads L1 by *read*; B changes L1's title and commits; A's write is refused."""
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            mine = read(first)
            assert mine is not None and mine.id == "L1", f"reading by {path} must find L1"
            theirs = second.leads.get("L1")
            assert theirs is not None
            second.leads.update(attrs.evolve(theirs, title="Theirs"))
            second.commit()
            first.leads.update(attrs.evolve(mine, custom={**mine.custom, "score": 80}))
            first.leads.add(Lead(id="L9", last_name="Extra", company="Acme"))
            _raises(
                ConcurrencyError,
                first.commit,
                f"a write of a record read by {path} after another unit changed it",
            )
        with make() as uow:
            stored = uow.leads.get("L1")
            assert stored is not None
            assert stored.title == "Theirs", f"the other unit's title was lost (read by {path})"
            assert "score" not in stored.custom, "the refused commit wrote its change"
            assert uow.leads.get("L9") is None, "a refused commit must write nothing"

    def test_a_write_after_reading_by_get_is_checked(self) -> None:
        self._lost_update(lambda uow: uow.leads.get("L1"), "get")

    def test_a_write_after_reading_by_iteration_is_checked(self) -> None:
        self._lost_update(
            lambda uow: next((x for x in list(uow.leads) if x.id == "L1"), None), "iteration"
        )

    def test_a_write_after_reading_by_find_by_keys_is_checked(self) -> None:
        self._lost_update(
            lambda uow: next(iter(uow.leads.find_by_keys(["email:l1@acme.io"])), None),
            "find_by_keys",
        )

    def test_a_write_after_reading_by_select_is_checked(self) -> None:
        make = self.units()
        with make() as uow:
            if not callable(getattr(uow.leads, "select", None)):
                _skip("the lead repository has no select (SupportsViews)")
        from leadmodel.rules.criteria import Condition
        from leadmodel.rules.views import ListView

        view = ListView("Acme leads", criterion=Condition("company", "eq", "Acme"))
        self._lost_update(
            lambda uow: next(iter(uow.leads.select(view)), None),  # type: ignore[attr-defined]
            "select",
        )

    def test_records_only_read_are_not_checked(self) -> None:
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            everything = {lead.id: lead for lead in first.leads}
            other = second.leads.get("L2")
            assert other is not None
            second.leads.update(attrs.evolve(other, title="Changed meanwhile"))
            second.commit()
            first.leads.update(attrs.evolve(everything["L1"], title="Mine"))
            first.commit()  # L2 was only read: no conflict
        with make() as uow:
            assert uow.leads.get("L1").title == "Mine"  # type: ignore[union-attr]
            assert uow.leads.get("L2").title == "Changed meanwhile"  # type: ignore[union-attr]

    def test_a_removal_after_reading_is_checked(self) -> None:
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            assert first.leads.get("L1") is not None
            theirs = _get(second, "L1")
            second.leads.update(attrs.evolve(theirs, title="Theirs"))
            second.commit()
            first.leads.remove("L1")
            _raises(ConcurrencyError, first.commit, "removing a record changed meanwhile")
        with make() as uow:
            assert uow.leads.get("L1").title == "Theirs"  # type: ignore[union-attr]

    def test_a_record_removed_and_added_again_meanwhile_is_checked(self) -> None:
        # unmerge_records adds absorbed records back under their old ids.
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            mine = _get(first, "L1")
            second.leads.remove("L1")
            second.commit()
            second.leads.add(attrs.evolve(mine, title="Added again"))
            second.commit()
            first.leads.update(attrs.evolve(mine, custom={"score": 80}))
            _raises(
                ConcurrencyError,
                first.commit,
                "a write over a record removed and added again since it was read",
            )
        with make() as uow:
            assert _get(uow, "L1").title == "Added again", "the record added again was lost"

    def test_a_record_read_before_the_units_own_commit_is_still_checked(self) -> None:
        # Services that commit batch by batch (rescore) write records read before a commit.
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            mine, other = _get(first, "L1"), _get(first, "L2")
            first.leads.update(attrs.evolve(mine, title="First batch"))
            first.commit()
            theirs = _get(second, "L2")
            second.leads.update(attrs.evolve(theirs, title="Theirs"))
            second.commit()
            first.leads.update(attrs.evolve(other, custom={"score": 80}))
            _raises(
                ConcurrencyError,
                first.commit,
                "a write of a record read before this unit's previous commit, changed since",
            )
        with make() as uow:
            assert _get(uow, "L2").title == "Theirs", "the other unit's title was lost"
            assert _get(uow, "L1").title == "First batch"

    def test_a_record_read_before_a_commit_that_wrote_nothing_is_still_checked(self) -> None:
        # A rescore batch whose scores did not change commits nothing.
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            other = _get(first, "L2")
            first.commit()  # nothing to write
            theirs = _get(second, "L2")
            second.leads.update(attrs.evolve(theirs, title="Theirs"))
            second.commit()
            first.leads.update(attrs.evolve(other, custom={"score": 80}))
            _raises(
                ConcurrencyError,
                first.commit,
                "a write of a record read before this unit's empty commit, changed since",
            )
        with make() as uow:
            assert _get(uow, "L2").title == "Theirs", "the other unit's title was lost"

    def test_a_refused_commit_carries_what_went_stale(self) -> None:
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            mine = _get(first, "L1")
            theirs = _get(second, "L1")
            second.leads.update(attrs.evolve(theirs, title="Theirs"))
            second.commit()
            first.leads.update(attrs.evolve(mine, title="Mine"))
            error = _raises(ConcurrencyError, first.commit, "a stale update")
            assert any("L1" in item for item in error.records), error.records  # type: ignore[attr-defined]
        # The unit is usable again, and sees what is stored now.
        with first:
            assert first.leads.get("L1").title == "Theirs"  # type: ignore[union-attr]

    # -- no phantom duplicate: keys searched are re-validated at commit (version 2) -------

    def test_a_key_searched_for_nothing_cannot_gain_a_record_meanwhile(self) -> None:
        make = self.units()
        first, second = make(), make()
        with first, second:
            assert first.leads.find_by_keys(["email:new@acme.io"]) == []
            second.leads.add(_person("L1", "Robert", email="new@acme.io"))
            second.commit()
            first.leads.add(_person("L2", "Bob", email="new@acme.io"))
            _raises(
                ConcurrencyError,
                first.commit,
                "a record added after a search that found nothing for its key (phantom)",
            )
        with make() as uow:
            found = uow.leads.find_by_keys(["email:new@acme.io"])
            assert [lead.id for lead in found] == ["L1"], "two leads for one email"

    def test_a_key_searched_is_checked_when_the_unit_writes_another_repository(self) -> None:
        # services.save looks for a lead's duplicates among leads and contacts.
        make = self.units()
        first, second = make(), make()
        with first, second:
            assert first.leads.find_by_keys(["email:new@acme.io"]) == []
            assert first.contacts.find_by_keys(["email:new@acme.io"]) == []
            second.contacts.add(
                Contact(id="C1", last_name="Smith", email=EmailAddress.parse("new@acme.io"))
            )
            second.commit()
            first.leads.add(_person("L1", "Bob", email="new@acme.io"))
            _raises(
                ConcurrencyError,
                first.commit,
                "a contacts search that finds a new contact now, in a unit writing a lead",
            )
        with make() as uow:
            assert uow.leads.get("L1") is None, "the refused commit wrote its lead"

    def test_a_search_finding_a_record_removed_meanwhile_is_checked(self) -> None:
        # merge_records finds an absorbed record's activities, then moves them.
        make = self.units()
        self._stored(make, *_pair())
        first, second = make(), make()
        with first, second:
            found = first.leads.find_by_keys(["email:l2@acme.io"])
            assert [lead.id for lead in found] == ["L2"]
            second.leads.remove("L2")
            second.commit()
            first.activities.add(
                Activity(id="ACT1", subject_id="L2", kind="call", occurred_at=_NOW)
            )
            _raises(
                ConcurrencyError,
                first.commit,
                "an activity for a record whose search finds nothing now",
            )
        with make() as uow:
            assert uow.activities.get("ACT1") is None

    # -- the services' guards hold over the adapter (version 2) ---------------------------

    def test_save_refuses_an_edit_of_a_converted_lead_and_stores_nothing(self) -> None:
        from leadmodel import services

        make = self.units()
        converted = _converted(_pair()[0])
        self._stored(make, converted)
        _raises(
            ConvertedLeadError,
            lambda: services.save(make(), attrs.evolve(converted, title="Edited")),
            "an edit of a converted lead through services.save",
        )
        _raises(
            ValidationError,
            lambda: services.save(
                make(), Lead(id="L7", last_name="Ng", company="Acme", status=converted.status)
            ),
            "a converted status without a ConversionRecord through services.save",
        )
        with make() as uow:
            assert uow.leads.get("L1") == converted, "a refused save changed storage"
            assert uow.leads.get("L7") is None, "a refused save stored a lead"

    def test_save_never_edits_a_lead_converted_while_it_ran(self) -> None:
        from leadmodel import services

        make = self.units()
        lead = _pair()[0]
        self._stored(make, lead)

        def convert_meanwhile() -> None:
            with make() as other:
                other.leads.update(_converted(lead))
                other.commit()

        editing = _Interleaved(make(), before_commit=convert_meanwhile)
        _raises(
            ConcurrencyError,
            lambda: services.save(editing, attrs.evolve(lead, title="Edited")),
            "an edit saved over a lead converted after the save read it",
        )
        with make() as uow:
            assert uow.leads.get("L1") == _converted(lead), "the converted lead was overwritten"
        _raises(
            ConvertedLeadError,
            lambda: services.save(make(), attrs.evolve(lead, title="Edited")),
            "the retried edit of the now converted lead",
        )

    def test_save_never_stores_a_duplicate_the_policy_blocks_by_its_keys(self) -> None:
        """Bob Smith is blocked next to Robert Smith: found by the rule's blocking keys.

        An adapter that indexes the rule's keys (``SupportsKeyIndex``, or a key function
        covering them) blocks him; one that cannot must refuse the look-up with
        :class:`~leadmodel.KeyNotIndexed`. Finding nothing and saving him is the bug.
        """
        from leadmodel import services

        make = self.units()
        self._stored(make, _robert())
        try:
            services.save(make(), _bob(), policy=_blocking_policy())
        except (DuplicateBlocked, KeyNotIndexed):
            pass
        else:
            raise AssertionError(
                "Bob Smith (Acme, CTO) was saved beside Robert Smith: the rule's blocking "
                "keys found no candidate and no KeyNotIndexed was raised"
            )
        with make() as uow:
            assert uow.leads.get("L2") is None, "the blocked lead was stored"

    def test_rescore_never_overwrites_an_edit_made_while_it_ran(self) -> None:
        from leadmodel import services
        from leadmodel.rules.criteria import Condition
        from leadmodel.rules.scoring import FitRule, ScoringModel

        make = self.units()
        self._stored(make, *_pair())

        def edit_meanwhile() -> None:
            with make() as other:
                stored = _get(other, "L1")
                other.leads.update(attrs.evolve(stored, title="Edited meanwhile"))
                other.commit()

        model = ScoringModel(fit=[FitRule("acme", Condition("company", "eq", "Acme"), 80)])
        scoring = _Interleaved(make(), before_commit=edit_meanwhile)
        # Refused (ConcurrencyError) is fine: nothing is overwritten, a retry scores it.
        with contextlib.suppress(ConcurrencyError):
            services.rescore(scoring, model, now=_NOW)
        with make() as uow:
            stored = uow.leads.get("L1")
            assert stored is not None
            assert stored.title == "Edited meanwhile", "rescore overwrote a concurrent edit"

    def test_rescore_of_named_leads_never_overwrites_an_edit_made_between_batches(
        self,
    ) -> None:
        from leadmodel import services
        from leadmodel.rules.criteria import Condition
        from leadmodel.rules.scoring import FitRule, ScoringModel

        make = self.units()
        self._stored(make, *_pair())

        def edit_meanwhile() -> None:
            with make() as other:
                stored = _get(other, "L2")
                other.leads.update(attrs.evolve(stored, title="Edited meanwhile"))
                other.commit()

        model = ScoringModel(fit=[FitRule("any", Condition("last_name", "is_not_blank"), 80)])
        scoring = _Interleaved(make(), before_commit=edit_meanwhile)
        # Batches of one: the edit of L2 lands when L1's batch commits.
        with contextlib.suppress(ConcurrencyError):
            services.rescore(scoring, model, now=_NOW, lead_ids=["L1", "L2"], batch_size=1)
        with make() as uow:
            assert _get(uow, "L2").title == "Edited meanwhile", "rescore overwrote an edit"

    def test_rescore_never_overwrites_an_edit_made_after_an_unchanged_batch(self) -> None:
        from leadmodel import services
        from leadmodel.rules.criteria import Condition
        from leadmodel.rules.scoring import FitRule, ScoringModel

        make = self.units()
        model = ScoringModel(fit=[FitRule("any", Condition("last_name", "is_not_blank"), 80)])
        first, second = _pair()
        self._stored(make, attrs.evolve(first, custom={"score": Decimal(80)}), second)

        def edit_meanwhile() -> None:
            with make() as other:
                stored = _get(other, "L2")
                other.leads.update(attrs.evolve(stored, title="Edited meanwhile"))
                other.commit()

        scoring = _Interleaved(make(), before_commit=edit_meanwhile)
        # L1's batch has nothing to save; the edit of L2 lands when it commits.
        with contextlib.suppress(ConcurrencyError):
            services.rescore(scoring, model, now=_NOW, lead_ids=["L1", "L2"], batch_size=1)
        with make() as uow:
            assert _get(uow, "L2").title == "Edited meanwhile", "rescore overwrote an edit"

    def test_rescore_survives_a_lead_removed_while_it_ran(self) -> None:
        from leadmodel import services
        from leadmodel.rules.criteria import Condition
        from leadmodel.rules.scoring import FitRule, ScoringModel

        make = self.units()
        self._stored(make, *_pair())

        def merged_away_meanwhile() -> None:
            with make() as other:
                other.leads.remove("L2")
                other.commit()

        model = ScoringModel(fit=[FitRule("any", Condition("last_name", "is_not_blank"), 80)])
        scoring = _Interleaved(make(), before_commit=merged_away_meanwhile)
        # Batches of one: the removal lands between L1's commit and L2's scoring.
        with contextlib.suppress(ConcurrencyError):
            services.rescore(scoring, model, now=_NOW, batch_size=1)
        with make() as uow:
            assert [lead.id for lead in uow.leads] == ["L1"], "a removed lead came back"

    def test_ten_thousand_records_are_stored_and_listed_in_id_order(self) -> None:
        make = self.units()
        leads = [
            Lead(
                id=f"L{i:05d}",
                last_name=f"Name{i}",
                company="Acme",
                email=EmailAddress.parse(f"person{i}@acme.io"),
            )
            for i in range(10_000)
        ]
        self._stored(make, *reversed(leads))
        with make() as uow:
            assert list(uow.leads) == leads
            assert [x.id for x in uow.leads.find_by_keys(["email:person9999@acme.io"])] == [
                "L09999"
            ]


class KeyIndexContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsKeyIndex`: duplicate rules' keys.

    Inherit it beside :class:`UnitOfWorkContract` when your unit of work has
    ``index_rules``; the same :meth:`units` factory serves both.
    """

    def _indexing(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow, SupportsKeyIndex), "the unit of work has no index_rules"
        return make

    def test_index_rules_back_fills_records_stored_before(self) -> None:
        from leadmodel.rules.matching import STANDARD_LEAD_RULE

        make = self._indexing()
        self._stored(make, _robert())
        keys = list(STANDARD_LEAD_RULE.compile().keys(_bob()))
        with make() as uow:
            uow.index_rules([STANDARD_LEAD_RULE])  # type: ignore[attr-defined]
        with make() as uow:
            found = uow.leads.find_by_keys(keys)
            assert [lead.id for lead in found] == ["L1"], "Robert was not back-filled"

    def test_a_rule_never_indexed_is_refused_not_found_empty(self) -> None:
        from leadmodel.rules.matching import STANDARD_LEAD_RULE

        make = self._indexing()
        self._stored(make, _robert())
        stranger = attrs.evolve(STANDARD_LEAD_RULE, name="never_indexed_rule")
        keys = list(stranger.compile().keys(_bob()))
        with make() as uow:
            _raises(
                KeyNotIndexed,
                lambda: uow.leads.find_by_keys(keys),
                "a look-up by the keys of a rule never indexed",
            )

    def test_save_blocks_a_duplicate_found_only_by_the_rules_keys(self) -> None:
        from leadmodel import services

        make = self._indexing()
        self._stored(make, _robert())
        _raises(
            DuplicateBlocked,
            lambda: services.save(make(), _bob(), policy=_blocking_policy()),
            "Bob Smith saved next to Robert Smith under a blocking policy",
        )
        with make() as uow:
            assert [lead.id for lead in uow.leads] == ["L1"]

    def test_a_rules_key_searched_for_nothing_cannot_gain_a_record_meanwhile(self) -> None:
        from leadmodel.rules.matching import STANDARD_LEAD_RULE

        make = self._indexing()
        with make() as uow:
            uow.index_rules([STANDARD_LEAD_RULE])  # type: ignore[attr-defined]
        keys = list(STANDARD_LEAD_RULE.compile().keys(_bob()))
        first, second = make(), make()
        with first, second:
            assert first.leads.find_by_keys(keys) == []
            second.leads.add(_robert())
            second.commit()
            first.leads.add(_bob())
            _raises(ConcurrencyError, first.commit, "Bob added after Robert appeared (phantom)")
        with make() as uow:
            assert [lead.id for lead in uow.leads] == ["L1"]

    def test_two_saves_of_one_person_at_once_store_one_lead(self) -> None:
        from leadmodel import services

        make = self._indexing()
        policy = _blocking_policy()

        def robert_meanwhile() -> None:
            services.save(make(), _robert(), policy=policy)

        saving = _Interleaved(make(), before_commit=robert_meanwhile)
        with contextlib.suppress(ConcurrencyError, DuplicateBlocked):
            services.save(saving, _bob(), policy=policy)
        with make() as uow:
            assert [lead.id for lead in uow.leads] == ["L1"], "one person stored twice"
        _raises(
            DuplicateBlocked,
            lambda: services.save(make(), _bob(), policy=policy),
            "the retried save of Bob Smith",
        )


_SWITCHBOARD: Final = "+14155550100"


def _name(number: int, salt: str) -> str:
    """A made-up name, unlike the others (names with digits would all look alike)."""
    digest = hashlib.sha256(f"{salt}{number}".encode()).digest()
    return "".join(chr(ord("a") + byte % 26) for byte in digest[:8]).capitalize()


def _switchboard(count: int) -> list[Lead]:
    """*count* colleagues sharing one switchboard phone, each with a name of their own."""
    return [
        Lead(
            id=f"S{number:04d}",
            first_name=_name(number, "first"),
            last_name=_name(number, "last"),
            company="Acme",
            phone=PhoneNumber.parse(_SWITCHBOARD),
        )
        for number in range(count)
    ]


class NeighboursContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsNeighbours`: bounded key searches.

    Inherit it beside :class:`UnitOfWorkContract` when your repositories have
    ``find_neighbours``; the same :meth:`units` factory serves both.
    """

    def _neighbouring(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow.leads, SupportsNeighbours), "leads have no find_neighbours"
        return make

    def test_a_small_key_finds_all_its_records(self) -> None:
        make = self._neighbouring()
        leads = _switchboard(6)
        self._stored(make, *leads)
        with make() as uow:
            found = uow.leads.find_neighbours([f"phone:{_SWITCHBOARD}"], "zzz", 3)  # type: ignore[attr-defined]
            assert [lead.id for lead in found] == [lead.id for lead in leads]

    def test_a_large_key_finds_the_nearest_records_on_each_side(self) -> None:
        make = self._neighbouring()
        leads = _switchboard(150)
        self._stored(make, *leads)
        ranked = sorted(leads, key=lambda lead: (neighbour_sort_value(lead), lead.id))
        near = neighbour_sort_value(ranked[70])
        at = next(i for i, lead in enumerate(ranked) if neighbour_sort_value(lead) >= near)
        expected = sorted(lead.id for lead in ranked[at - 4 : at + 4])
        with make() as uow:
            found = uow.leads.find_neighbours([f"phone:{_SWITCHBOARD}"], near, 4)  # type: ignore[attr-defined]
            assert [lead.id for lead in found] == expected
            assert uow.leads.find_neighbours(["phone:+10000000000"], near, 4) == []  # type: ignore[attr-defined]

    def test_a_key_within_whole_is_read_whole(self) -> None:
        make = self._neighbouring()
        leads = _switchboard(40)
        self._stored(make, *leads)
        with make() as uow:
            find = uow.leads.find_neighbours  # type: ignore[attr-defined]
            assert len(find([f"phone:{_SWITCHBOARD}"], "m", 2, whole=40)) == 40
            assert len(find([f"phone:{_SWITCHBOARD}"], "m", 2, whole=39)) == 4

    def test_records_staged_under_a_key_are_found(self) -> None:
        make = self._neighbouring()
        self._stored(make, *_switchboard(80))
        staged = Lead(
            id="Z1", last_name="Zed", company="Acme", phone=PhoneNumber.parse(_SWITCHBOARD)
        )
        with make() as uow:
            uow.leads.add(staged)
            found = uow.leads.find_neighbours([f"phone:{_SWITCHBOARD}"], "a", 2)  # type: ignore[attr-defined]
            assert "Z1" in [lead.id for lead in found]
            assert len(found) <= 5  # 2 on each side and the staged one

    def test_a_bad_sort_value_or_limit_is_refused(self) -> None:
        make = self._neighbouring()
        with make() as uow:
            find = uow.leads.find_neighbours  # type: ignore[attr-defined]
            for near, limit, whole in (
                (None, 3, None),
                ("a", 0, None),
                ("a", True, None),
                ("a", "3", None),
                ("a", 3, 0),
                ("a", 3, "all"),
            ):
                _raises(
                    ValidationError,
                    lambda: find(["phone:+1"], near, limit, whole=whole),  # noqa: B023
                    f"near={near!r}, limit={limit!r}, whole={whole!r}",
                )

    def test_a_neighbour_search_is_checked_at_commit(self) -> None:
        make = self._neighbouring()
        leads = _switchboard(120)
        self._stored(make, *leads)
        copy = attrs.evolve(leads[60], id="T1")
        near = neighbour_sort_value(copy)
        first, second = make(), make()
        with first, second:
            first.leads.find_neighbours([f"phone:{_SWITCHBOARD}"], near, 3)  # type: ignore[attr-defined]
            second.leads.add(attrs.evolve(leads[60], id="T2"))
            second.commit()
            first.leads.add(copy)
            _raises(ConcurrencyError, first.commit, "a copy added beside another (phantom)")

    def test_save_blocks_a_duplicate_inside_a_key_shared_by_hundreds(self) -> None:
        from leadmodel import services

        make = self._neighbouring()
        leads = _switchboard(300)
        self._stored(make, *leads)
        copy = attrs.evolve(leads[123], id="T1", first_name=str(leads[123].first_name).upper())
        _raises(
            DuplicateBlocked,
            lambda: services.save(make(), copy, policy=_blocking_policy()),
            "a copy of a colleague saved inside a 300-lead switchboard block",
        )


class MergeStoreContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsMerges`: stored, undoable merges.

    Inherit it beside :class:`UnitOfWorkContract` when your unit of work has ``merges``.
    """

    def _merging(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow, SupportsMerges), "the unit of work has no merges"
        lead, other = _pair()
        self._stored(
            make,
            lead,
            attrs.evolve(other, last_name=lead.last_name, company=lead.company),
            Activity(id="ACT1", subject_id="L1", kind="call", occurred_at=_NOW),
        )
        return make

    def test_a_merge_is_stored_and_found_by_the_records_it_merged(self) -> None:
        from leadmodel import services

        make = self._merging()
        outcome = services.merge_records(make(), ["L2", "L1"], master="L2", now=_NOW)
        with make() as uow:
            stored = uow.merges.get(outcome.merge_id)  # type: ignore[attr-defined]
            assert stored == outcome.record
            for record_id in ("L1", "L2"):
                found = uow.merges.find_by_keys([f"record:{record_id}"])  # type: ignore[attr-defined]
                assert [m.id for m in found] == [outcome.merge_id], record_id
            assert uow.leads.get("L1") is None
            assert uow.activities.get("ACT1").subject_id == "L2"  # type: ignore[union-attr]

    def test_unmerge_restores_the_records_and_their_activities(self) -> None:
        from leadmodel import services

        make = self._merging()
        with make() as uow:
            before = {lead.id: lead for lead in uow.leads}
        outcome = services.merge_records(make(), ["L2", "L1"], master="L2", now=_NOW)
        services.unmerge_records(make(), outcome.merge_id, now=_NOW + timedelta(hours=1))
        with make() as uow:
            assert {lead.id: lead for lead in uow.leads} == before
            assert uow.activities.get("ACT1").subject_id == "L1"  # type: ignore[union-attr]

    def test_an_activity_added_to_a_record_while_it_is_merged_is_never_orphaned(self) -> None:
        from leadmodel import services

        make = self._merging()

        def call_logged_meanwhile() -> None:
            with make() as other:
                # Found as capture_lead finds an existing person: by a lookup key.
                (found,) = other.leads.find_by_keys(["email:l2@acme.io"])
                other.activities.add(
                    Activity(id="ACT2", subject_id=found.id, kind="call", occurred_at=_NOW)
                )
                other.commit()

        merging = _Interleaved(make(), before_commit=call_logged_meanwhile)
        try:
            services.merge_records(merging, ["L1", "L2"], master="L1", now=_NOW)
        except ConcurrencyError:
            services.merge_records(make(), ["L1", "L2"], master="L1", now=_NOW)
        with make() as uow:
            leads = {lead.id for lead in uow.leads}
            orphans = [a.id for a in uow.activities if a.subject_id not in leads]
            assert orphans == [], f"activities point at a merged-away lead: {orphans}"


def _trigger_state() -> Any:
    from leadmodel.rules.assignment import AssignmentState, RoundState
    from leadmodel.rules.triggers import TriggerMark, TriggerState

    return TriggerState(
        id="sla",
        marks=(
            TriggerMark("speed to lead", "L1", _NOW, _NOW + timedelta(hours=1), 2),
            TriggerMark(
                "stale", "L2", _NOW.astimezone(_INDIA), _NOW + timedelta(days=14), left=True
            ),
        ),
        assignment=AssignmentState(rounds=(RoundState("sales", "ann", -1),)),
        evaluated_at=_NOW + timedelta(days=20),
        since=_NOW,
    )


def _sla_trigger() -> Any:
    from leadmodel.rules.assignment import RoundRobin
    from leadmodel.rules.responses import Notify
    from leadmodel.rules.triggers import Reassign, TimeTrigger, TriggerClock

    return TimeTrigger(
        "speed to lead",
        _criteria_open(),
        TriggerClock.assignment(),
        timedelta(hours=1),
        [Reassign(RoundRobin(["ann", "bob"], name="sales")), Notify("manager", "sla_missed")],
        until={"call", "email"},
    )


def _criteria_open() -> Any:
    from leadmodel.rules.criteria import Condition

    return Condition("status", "eq", "Open - Not Contacted")


class TriggerStateContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsTriggerState`: stored trigger state.

    Inherit it beside :class:`UnitOfWorkContract` when your unit of work has
    ``trigger_states``::

        class TestMyAdapter(UnitOfWorkContract, TriggerStateContract):
            def units(self):
                return lambda: MyUnitOfWork(database)
    """

    def _triggering(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow, SupportsTriggerState), "the unit of work has no trigger_states"
        return make

    def test_a_state_is_stored_and_read_back_exactly(self) -> None:
        make = self._triggering()
        state = _trigger_state()
        with make() as uow:
            uow.trigger_states.add(state)  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            assert uow.trigger_states.get("sla") == state  # type: ignore[attr-defined]
            assert uow.trigger_states.get("other") is None  # type: ignore[attr-defined]
            assert list(uow.trigger_states) == [state]  # type: ignore[attr-defined]

    def test_a_state_not_committed_is_not_stored(self) -> None:
        make = self._triggering()
        with make() as uow:
            uow.trigger_states.add(_trigger_state())  # type: ignore[attr-defined]
        with make() as uow:
            assert uow.trigger_states.get("sla") is None  # type: ignore[attr-defined]

    def test_a_stale_state_is_refused(self) -> None:
        make = self._triggering()
        state = _trigger_state()
        self._stored_state(make, state)
        first, second = make(), make()
        with first, second:
            a = first.trigger_states.get("sla")  # type: ignore[attr-defined]
            b = second.trigger_states.get("sla")  # type: ignore[attr-defined]
            first.trigger_states.update(attrs.evolve(a, since=None))  # type: ignore[attr-defined]
            first.commit()
            second.trigger_states.update(attrs.evolve(b, marks=()))  # type: ignore[attr-defined]
            with contextlib.suppress(ConcurrencyError):
                second.commit()
                raise AssertionError("a stale trigger state was written")
        with make() as uow:
            assert uow.trigger_states.get("sla") == attrs.evolve(state, since=None)  # type: ignore[attr-defined]

    def _stored_state(self, make: Callable[[], UnitOfWork], state: Any) -> None:
        with make() as uow:
            uow.trigger_states.add(state)  # type: ignore[attr-defined]
            uow.commit()

    def test_racing_runs_fire_each_action_once(self) -> None:
        from leadmodel import services
        from leadmodel.adapters.memory import MemoryNotifier, SequentialIds

        make = self._triggering()
        self._stored(
            make, Lead(id="L1", last_name="Ng", company="Acme", owner_id="ann", created_at=_NOW)
        )
        later = _NOW + timedelta(hours=2)
        notifier = MemoryNotifier()

        def other_run() -> None:
            services.run_due(
                make(),
                [_sla_trigger()],
                notifier=notifier,
                ids=SequentialIds(prefix="b"),
                now=later,
            )

        racing = _Interleaved(make(), before_commit=other_run)
        with contextlib.suppress(ConcurrencyError):
            services.run_due(
                racing,
                [_sla_trigger()],
                notifier=notifier,
                ids=SequentialIds(prefix="a"),
                now=later,
            )
        services.run_due(
            make(), [_sla_trigger()], notifier=notifier, ids=SequentialIds(prefix="c"), now=later
        )
        assert [n.template for n in notifier.sent] == ["sla_missed"]
        with make() as uow:
            assert uow.leads.get("L1").owner_id == "bob"  # type: ignore[union-attr]
            assigned = [a for a in uow.activities if a.kind == "assigned"]
            assert len(assigned) == 1

    def test_the_state_and_the_changes_commit_together(self) -> None:
        from leadmodel import services
        from leadmodel.adapters.memory import SequentialIds

        make = self._triggering()
        self._stored(
            make, Lead(id="L1", last_name="Ng", company="Acme", owner_id="ann", created_at=_NOW)
        )
        run = services.run_due(
            make(), [_sla_trigger()], ids=SequentialIds(), now=_NOW + timedelta(hours=1)
        )
        with make() as uow:
            assert uow.trigger_states.get("triggers") == run.state  # type: ignore[attr-defined]
            assert uow.leads.get("L1").owner_id == "bob"  # type: ignore[union-attr]


def _consent(consent_id: str, subject_id: str, **changes: Any) -> Consent:
    fields: dict[str, Any] = {
        "id": consent_id,
        "subject_id": subject_id,
        "channel": "email",
        "purpose": "newsletter",
        "status": "granted",
        "captured_at": _NOW,
    }
    fields.update(changes)
    return Consent(**fields)


def _exact_consent() -> Consent:
    """A consent with every field set, to values that are easy to lose on the way."""
    return _consent(
        "CONS1",
        "L1",
        channel="sms",
        purpose="événements ✓",
        status="withdrawn",
        lawful_basis="legitimate_interests",
        source="web form «contact»",
        captured_at=_NOW.astimezone(_INDIA),
        expires_at=_NOW + timedelta(days=365, microseconds=7),
        proof="checkbox 'Text me'\nform F-12, IP hash 9f86d0",
        provenance=("CONS0", "L0"),
    )


class ConsentsContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsConsents`: stored consents.

    Inherit it beside :class:`UnitOfWorkContract` when your unit of work has
    ``consents``::

        class TestMyAdapter(UnitOfWorkContract, ConsentsContract):
            def units(self):
                return lambda: MyUnitOfWork(database)
    """

    def _consenting(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow, SupportsConsents), "the unit of work has no consents"
        return make

    def test_a_consent_is_stored_and_read_back_exactly(self) -> None:
        make = self._consenting()
        consent = _exact_consent()
        with make() as uow:
            uow.consents.add(consent)  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            stored = uow.consents.get("CONS1")  # type: ignore[attr-defined]
            assert stored == consent
            assert stored.captured_at.utcoffset() == consent.captured_at.utcoffset()
            assert list(uow.consents) == [consent]  # type: ignore[attr-defined]

    def test_a_subjects_consents_are_found_by_its_subject_key(self) -> None:
        make = self._consenting()
        mine = [_consent("CONS2", "L1"), _consent("CONS1", "L1", purpose="sales")]
        with make() as uow:
            for consent in [*mine, _consent("CONS3", "L2")]:
                uow.consents.add(consent)  # type: ignore[attr-defined]
            staged = _consent("CONS4", "L1", channel="post")
            uow.consents.add(staged)  # type: ignore[attr-defined]
            found = uow.consents.find_by_keys(["subject:L1"])  # type: ignore[attr-defined]
            assert [c.id for c in found] == ["CONS1", "CONS2", "CONS4"], "staged ones too"
            uow.commit()
        with make() as uow:
            found = uow.consents.find_by_keys(["subject:L1"])  # type: ignore[attr-defined]
            assert [c.id for c in found] == ["CONS1", "CONS2", "CONS4"]
            assert uow.consents.find_by_keys(["subject:L9"]) == []  # type: ignore[attr-defined]

    def test_a_removed_consent_is_no_longer_found(self) -> None:
        make = self._consenting()
        with make() as uow:
            uow.consents.add(_consent("CONS1", "L1"))  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            uow.consents.remove("CONS1")  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            assert uow.consents.get("CONS1") is None  # type: ignore[attr-defined]
            assert uow.consents.find_by_keys(["subject:L1"]) == []  # type: ignore[attr-defined]
            assert list(uow.consents) == []  # type: ignore[attr-defined]

    def test_a_consent_not_committed_is_not_stored(self) -> None:
        make = self._consenting()
        with make() as uow:
            uow.consents.add(_consent("CONS1", "L1"))  # type: ignore[attr-defined]
        with make() as uow:
            assert uow.consents.get("CONS1") is None  # type: ignore[attr-defined]

    def test_a_stale_consent_update_is_refused(self) -> None:
        make = self._consenting()
        with make() as uow:
            uow.consents.add(_consent("CONS1", "L1"))  # type: ignore[attr-defined]
            uow.commit()
        first, second = make(), make()
        with first, second:
            a = first.consents.get("CONS1")  # type: ignore[attr-defined]
            b = second.consents.get("CONS1")  # type: ignore[attr-defined]
            first.consents.update(attrs.evolve(a, status="withdrawn"))  # type: ignore[attr-defined]
            first.commit()
            second.consents.update(attrs.evolve(b, proof="re-confirmed"))  # type: ignore[attr-defined]
            _raises(ConcurrencyError, second.commit, "a stale consent overwrote a withdrawal")
        with make() as uow:
            assert uow.consents.get("CONS1").status == "withdrawn"  # type: ignore[attr-defined]

    def test_a_wrong_record_or_id_is_refused(self) -> None:
        make = self._consenting()
        with make() as uow:
            _raises(ValidationError, lambda: uow.consents.add(_records()["leads"]))  # type: ignore[attr-defined]
            _raises(ValidationError, lambda: uow.consents.get(5))  # type: ignore[attr-defined]
            _raises(RecordNotFound, lambda: uow.consents.remove("CONS9"))  # type: ignore[attr-defined]


def _entry(entry_id: str, subject_hash: str, **changes: Any) -> PrivacyLogEntry:
    fields: dict[str, Any] = {"id": entry_id, "kind": "erase", "subject_hash": subject_hash}
    fields["at"] = _NOW
    fields.update(changes)
    return PrivacyLogEntry(**fields)


_ADA: Final = hashlib.sha256(b"ada").hexdigest()
_BOB: Final = hashlib.sha256(b"bob").hexdigest()


class PrivacyLogContract(_Contract):
    """The contract of :class:`~leadmodel.ports.SupportsPrivacyLog`: the stored privacy log.

    Inherit it beside :class:`UnitOfWorkContract` when your unit of work has
    ``privacy_log``::

        class TestMyAdapter(UnitOfWorkContract, PrivacyLogContract):
            def units(self):
                return lambda: MyUnitOfWork(database)
    """

    def _logging(self) -> Callable[[], UnitOfWork]:
        make = self.units()
        with make() as uow:
            assert isinstance(uow, SupportsPrivacyLog), "the unit of work has no privacy_log"
        return make

    def test_an_entry_is_stored_and_read_back_exactly(self) -> None:
        make = self._logging()
        entry = _entry(
            "P1",
            _ADA,
            at=_NOW.astimezone(_INDIA),
            mode="anonymise",
            counts={"lead": 2, "activity": 10**9, "merge": 0},
        )
        with make() as uow:
            uow.privacy_log.add(entry)  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            stored = uow.privacy_log.get("P1")  # type: ignore[attr-defined]
            assert stored == entry
            assert stored.at.utcoffset() == entry.at.utcoffset()
            assert list(uow.privacy_log) == [entry]  # type: ignore[attr-defined]

    def test_entries_are_found_by_their_hash_key(self) -> None:
        make = self._logging()
        with make() as uow:
            for entry in (_entry("P2", _ADA), _entry("P1", _ADA, kind="find"), _entry("P3", _BOB)):
                uow.privacy_log.add(entry)  # type: ignore[attr-defined]
            uow.commit()
        with make() as uow:
            found = uow.privacy_log.find_by_keys([f"hash:{_ADA}"])  # type: ignore[attr-defined]
            assert [e.id for e in found] == ["P1", "P2"]
            both = uow.privacy_log.find_by_keys([f"hash:{_ADA}", f"hash:{_BOB}"])  # type: ignore[attr-defined]
            assert [e.id for e in both] == ["P1", "P2", "P3"]

    def test_an_entry_not_committed_is_not_stored(self) -> None:
        make = self._logging()
        with make() as uow:
            uow.privacy_log.add(_entry("P1", _ADA))  # type: ignore[attr-defined]
        with make() as uow:
            assert uow.privacy_log.get("P1") is None  # type: ignore[attr-defined]

    def test_a_hash_searched_for_nothing_cannot_gain_an_entry_meanwhile(self) -> None:
        # An import checks the log for an erased person while an erasure records one:
        # the import's commit must notice, or the person comes back unseen.
        make = self._logging()
        first, second = make(), make()
        with first, second:
            assert first.privacy_log.find_by_keys([f"hash:{_ADA}"]) == []  # type: ignore[attr-defined]
            second.privacy_log.add(_entry("P1", _ADA))  # type: ignore[attr-defined]
            second.commit()
            first.leads.add(_person("L1", "Ada", email="ada@acme.io"))
            _raises(ConcurrencyError, first.commit, "an import raced an erasure unseen")
        with make() as uow:
            assert uow.leads.get("L1") is None


class StoreContract:
    """The contract of :class:`~leadmodel.ports.Store`: a database that opens units of work.

    Subclass it in a test module and return one fresh, empty store from :meth:`store`;
    the tests close every store they open. It is separate from the unit-of-work classes
    (whose factory makes units), so a host adapter inherits both with two factories::

        class TestMyStore(StoreContract):
            def store(self):
                return MyStore(make_empty_test_database())

    It checks that ``unit_of_work()`` gives independent units over the same data, that a
    commit is visible to every later unit and a rollback to none, ``count`` of each kind,
    ``index_rules`` followed by ``find_by_keys`` (records stored before the rule back-filled),
    ``schema_version``, closing (twice, and by ``with`` even when the block raised, whose
    exception must go on), and,
    for a store with :class:`~leadmodel.ports.SupportsScrub`, that ``scrub`` after a
    removal keeps every remaining record.
    """

    def store(self) -> Store:
        """One fresh, empty store (override this)."""
        raise NotImplementedError

    def test_each_unit_of_work_is_a_new_independent_unit(self) -> None:
        with self.store() as store:
            first, second = store.unit_of_work(), store.unit_of_work()
            assert first is not second, "unit_of_work() handed out one unit twice"
            with first, second:
                first.leads.add(_robert())
                assert second.leads.get("L1") is None, "a staged record leaked to another unit"
                first.commit()
            with store.unit_of_work() as uow:
                assert uow.leads.get("L1") == _robert()

    def test_a_commit_is_seen_by_every_later_unit_and_a_rollback_by_none(self) -> None:
        with self.store() as store:
            with store.unit_of_work() as uow:
                uow.leads.add(_robert())
                uow.commit()
            with store.unit_of_work() as uow:
                uow.leads.add(_bob())  # left without commit
            with store.unit_of_work() as uow:
                uow.leads.add(_person("L3", "Carla"))
                uow.rollback()
            for _ in range(2):
                with store.unit_of_work() as uow:
                    assert [lead.id for lead in uow.leads] == ["L1"]

    def test_count_counts_the_committed_records_of_each_kind(self) -> None:
        with self.store() as store:
            assert store.count("lead") == store.count("contact") == 0
            with store.unit_of_work() as uow:
                uow.leads.add(_robert())
                uow.leads.add(_bob())
                uow.contacts.add(Contact(id="C1", last_name="Ng"))
                uow.commit()
            with store.unit_of_work() as uow:
                uow.leads.add(_person("L3", "Carla"))  # not committed: not counted
                assert store.count("lead") == 2, "count() saw a record not committed"
            assert (store.count("lead"), store.count("contact"), store.count("account")) == (
                2,
                1,
                0,
            )

    def test_count_refuses_a_kind_it_does_not_store(self) -> None:
        with self.store() as store:
            for kind in ("no such kind", "", "lead; DROP TABLE leads"):
                _raises(ValidationError, functools.partial(store.count, kind), f"count({kind!r})")
            assert store.count("lead") == 0

    def test_index_rules_then_find_by_keys_finds_records_stored_before(self) -> None:
        from leadmodel.rules.matching import STANDARD_LEAD_RULE

        with self.store() as store:
            with store.unit_of_work() as uow:
                uow.leads.add(_robert())
                uow.commit()
            store.index_rules([STANDARD_LEAD_RULE])
            store.index_rules([STANDARD_LEAD_RULE])  # again: nothing changes
            keys = list(STANDARD_LEAD_RULE.compile().keys(_bob()))
            with store.unit_of_work() as uow:
                found = uow.leads.find_by_keys(keys)
                assert [lead.id for lead in found] == ["L1"], "Robert was not back-filled"
                uow.leads.add(_bob())
                uow.commit()
            with store.unit_of_work() as uow:
                assert [lead.id for lead in uow.leads.find_by_keys(keys)] == ["L1", "L2"]

    def test_index_rules_refuses_what_is_not_a_rule(self) -> None:
        with self.store() as store:
            hostile: tuple[Any, ...] = (["standard"], [None], 42)
            for rules in hostile:
                _raises(
                    ValidationError,
                    functools.partial(store.index_rules, rules),
                    f"index_rules({rules!r})",
                )

    def test_schema_version_is_a_positive_number(self) -> None:
        with self.store() as store:
            version = store.schema_version
            assert isinstance(version, int), "schema_version is a property giving an int"
            assert version >= 1

    def test_closing_twice_and_closing_after_an_error_are_safe(self) -> None:
        store = self.store()
        with store as entered:
            assert entered is store, "with store as s: s must be the store"
        store.close()  # closing again is harmless
        failing = self.store()
        try:
            with failing:
                raise _BlockError
        except _BlockError:
            pass
        else:
            raise AssertionError("the store's __exit__ swallowed the with block's exception")
        failing.close()

    def test_scrub_keeps_every_remaining_record(self) -> None:
        with self.store() as store:
            if not isinstance(store, SupportsScrub):
                return  # an optional capability: nothing to check
            with store.unit_of_work() as uow:
                uow.leads.add(_robert())
                uow.leads.add(_bob())
                uow.commit()
            with store.unit_of_work() as uow:
                uow.leads.remove("L2")
                uow.commit()
            store.scrub()
            with store.unit_of_work() as uow:
                assert [lead.id for lead in uow.leads] == ["L1"]
                assert uow.leads.get("L1") == _robert()


class _BlockError(Exception):
    """Raised inside a ``with store`` block by the contract."""


class _Interleaved:
    """A unit of work that lets another one commit just before its own commit.

    Services open and commit their unit themselves; handing them this wrapper runs
    *before_commit* (a whole other unit of work) between their reads and their commit,
    the moment a concurrent writer does the most harm.
    """

    def __init__(self, inner: UnitOfWork, *, before_commit: Callable[[], object]) -> None:
        self._inner = inner
        self._before_commit: Callable[[], object] | None = before_commit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        hook, self._before_commit = self._before_commit, None
        if hook is not None:
            hook()
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


def _person(record_id: str, first_name: str, *, email: str | None = None) -> Lead:
    return Lead(
        id=record_id,
        first_name=first_name,
        last_name="Smith",
        company="Acme",
        title="CTO",
        email=None if email is None else EmailAddress.parse(email),
    )


def _pair() -> tuple[Lead, Lead]:
    """L1 (Acme, found by ``email:l1@acme.io``) and L2 (Globex, ``email:l2@acme.io``)."""
    return (
        Lead(
            id="L1",
            first_name="Ada",
            last_name="Lovelace",
            company="Acme",
            email=EmailAddress.parse("l1@acme.io"),
        ),
        Lead(
            id="L2",
            first_name="Grace",
            last_name="Hopper",
            company="Globex",
            email=EmailAddress.parse("l2@acme.io"),
        ),
    )


def _robert() -> Lead:
    return _person("L1", "Robert", email="robert@acme.com")


def _bob() -> Lead:
    """Robert Smith's duplicate by name, company and title; another email, no phone."""
    return _person("L2", "Bob", email="bob.smith@gmail.com")


def _blocking_policy() -> Any:
    from leadmodel.rules.duplicate_rules import DuplicateAction, DuplicatePolicy
    from leadmodel.rules.matching import STANDARD_LEAD_RULE

    return DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)


def _converted(lead: Lead) -> Lead:
    status = "Closed - Converted"
    return attrs.evolve(
        lead,
        status=status,
        converted=ConversionRecord(
            account_id="A1", contact_id="C1", converted_at=_NOW, status=status
        ),
    )


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)


def _repository(uow: UnitOfWork, record: object) -> Any:
    for name, cls in (
        ("leads", Lead),
        ("contacts", Contact),
        ("accounts", Account),
        ("opportunities", Opportunity),
        ("activities", Activity),
        ("consents", Consent),
        ("privacy_log", PrivacyLogEntry),
    ):
        if isinstance(record, cls):
            return getattr(uow, name)
    raise TypeError(type(record).__name__)


def _get(uow: UnitOfWork, lead_id: str) -> Lead:
    lead = uow.leads.get(lead_id)
    assert lead is not None, f"lead {lead_id} is missing"
    return lead


def _raises(
    error: type[BaseException], call: Callable[[], object], what: str = ""
) -> BaseException:
    try:
        call()
    except error as raised:
        return raised
    raise AssertionError(f"expected {error.__name__}" + (f": {what}" if what else ""))
