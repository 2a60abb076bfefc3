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

leadmodel's own memory and SQLite adapters subclass it exactly so. The tests cover
add/get/update/remove for every kind, ``find_by_keys``, rollback and commit, a stale
concurrent update, exact round trips of custom fields, decimals and offsets, and 10,000
records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import ConcurrencyError, RecordExists, RecordNotFound
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
from leadmodel.ports import UnitOfWork

__all__ = ["UnitOfWorkContract"]

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


class UnitOfWorkContract:
    """The port contract as tests; subclass it and implement :meth:`units`."""

    def units(self) -> Callable[[], UnitOfWork]:
        """A factory of units of work over one fresh, empty storage (override this)."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------

    def _stored(self, make: Callable[[], UnitOfWork], *records: Any) -> None:
        with make() as uow:
            for record in records:
                _repository(uow, record).add(record)
            uow.commit()

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


def _repository(uow: UnitOfWork, record: object) -> Any:
    for name, cls in (
        ("leads", Lead),
        ("contacts", Contact),
        ("accounts", Account),
        ("opportunities", Opportunity),
        ("activities", Activity),
    ):
        if isinstance(record, cls):
            return getattr(uow, name)
    raise TypeError(type(record).__name__)


def _raises(error: type[BaseException], call: Callable[[], object]) -> None:
    try:
        call()
    except error:
        return
    raise AssertionError(f"expected {error.__name__}")
