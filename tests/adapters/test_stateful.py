"""No lost update under any interleaving (DESIGN.md invariant 9), as a hypothesis state machine.

Three units of work over one :class:`MemoryStore` interleave reads by every path (``get``,
iteration, ``find_by_keys``), adds, updates, removals and commits. A model keeps the
committed records, a version per record, and what each unit read (the version it first
saw), searched (the ids a key found) and staged. At each commit the model says whether
the unit's writes are still based on what is committed:

- a commit that succeeds never discards a value another unit committed after this unit
  read the record it overwrites (the model's version check), and stores exactly the
  unit's writes;
- a commit the model finds stale raises ``ConcurrencyError`` and writes nothing;
- a commit the model finds fresh succeeds: records only read are not checked.

Reads are checked too: a unit sees its own staged changes over the committed records.
"""

from __future__ import annotations

import os

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from leadmodel import EmailAddress, Lead
from leadmodel.adapters.memory import MemoryStore, MemoryUnitOfWork
from leadmodel.domain.errors import ConcurrencyError, RecordExists, RecordNotFound

IDS = ("L1", "L2", "L3", "L4")
EMAILS = ("a@acme.io", "b@acme.io", "c@acme.io")
UNITS = 3
LONG = os.environ.get("LEADMODEL_LONG") == "1"


def _key(email: str) -> str:
    return f"email:{email}"


@attrs.define
class _Unit:
    """What the model knows of one unit of work since it last committed or rolled back."""

    seen: dict[str, int | None] = attrs.Factory(dict)
    searches: dict[str, frozenset[str]] = attrs.Factory(dict)
    writes: dict[str, Lead | None] = attrs.Factory(dict)

    def clear(self) -> None:
        self.seen.clear()
        self.searches.clear()
        self.writes.clear()


class NoLostUpdate(RuleBasedStateMachine):
    # A record removed and added again under its id is not the one read before: ids are
    # reused (issue 14 found both adapters restarting such a record at version 1).
    REUSE_REMOVED_IDS = True

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.units = [MemoryUnitOfWork(self.store) for _ in range(UNITS)]
        self.model = [_Unit() for _ in range(UNITS)]
        self.committed: dict[str, Lead] = {}
        # The commit that last changed each id (added, updated or removed it): never
        # reused, so a record removed and added again is not the one read before.
        self.stamps: dict[str, int] = {}
        self.commits = 0
        self.removed: set[str] = set()
        self.counter = 0

    # -- the model ------------------------------------------------------------------------

    def _visible(self, n: int, record_id: str) -> Lead | None:
        writes = self.model[n].writes
        return writes[record_id] if record_id in writes else self.committed.get(record_id)

    def _remember(self, n: int, record_id: str) -> None:
        unit = self.model[n]
        if record_id not in unit.writes and record_id not in unit.seen:
            unit.seen[record_id] = self.stamps.get(record_id)

    def _committed_with(self, email: str) -> frozenset[str]:
        return frozenset(
            record_id
            for record_id, lead in self.committed.items()
            if lead.email is not None and str(lead.email) == email
        )

    def _stale(self, n: int) -> list[str]:
        unit = self.model[n]
        stale = [
            record_id
            for record_id in unit.writes
            if self.stamps.get(record_id) != unit.seen.get(record_id)
        ]
        stale += [
            key
            for key, found in unit.searches.items()
            if self._committed_with(key.removeprefix("email:")) != found
        ]
        return stale

    def _value(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    # -- setup ----------------------------------------------------------------------------

    @initialize()
    def enter_and_seed(self) -> None:
        with MemoryUnitOfWork(self.store) as uow:
            for n, record_id in enumerate(IDS[:2]):
                lead = Lead(
                    id=record_id,
                    last_name="Seed",
                    company="Acme",
                    email=EmailAddress.parse(EMAILS[n]),
                )
                uow.leads.add(lead)
                self.committed[record_id] = lead
                self.stamps[record_id] = 0
            uow.commit()
        for uow in self.units:
            uow.__enter__()

    def teardown(self) -> None:
        for uow in self.units:
            uow.__exit__(None, None, None)

    # -- reads ----------------------------------------------------------------------------

    @rule(n=st.integers(0, UNITS - 1), record_id=st.sampled_from(IDS))
    def read_by_get(self, n: int, record_id: str) -> None:
        got = self.units[n].leads.get(record_id)
        assert got == self._visible(n, record_id)
        self._remember(n, record_id)

    @rule(n=st.integers(0, UNITS - 1))
    def read_by_iteration(self, n: int) -> None:
        got = list(self.units[n].leads)
        ids = sorted(set(self.committed) | set(self.model[n].writes))
        expected = [lead for i in ids if (lead := self._visible(n, i)) is not None]
        assert got == expected
        for record_id in self.committed:
            self._remember(n, record_id)

    @rule(n=st.integers(0, UNITS - 1), email=st.sampled_from(EMAILS))
    def read_by_find_by_keys(self, n: int, email: str) -> None:
        got = self.units[n].leads.find_by_keys([_key(email)])
        unit = self.model[n]
        ids = sorted(set(self.committed) | set(unit.writes))
        expected = [
            lead
            for i in ids
            if (lead := self._visible(n, i)) is not None
            and lead.email is not None
            and str(lead.email) == email
        ]
        assert got == expected
        unit.searches.setdefault(_key(email), self._committed_with(email))
        for lead in got:
            self._remember(n, lead.id)

    # -- writes ---------------------------------------------------------------------------

    @rule(n=st.integers(0, UNITS - 1), record_id=st.sampled_from(IDS))
    def update_title(self, n: int, record_id: str) -> None:
        current = self._visible(n, record_id)
        self._remember(n, record_id)
        if current is None:
            try:
                self.units[n].leads.update(Lead(id=record_id, last_name="X", company="X"))
            except RecordNotFound:
                return
            raise AssertionError("update of a record the unit cannot see")
        changed = attrs.evolve(current, title=self._value())
        self.units[n].leads.update(changed)
        self.model[n].writes[record_id] = changed

    @rule(
        n=st.integers(0, UNITS - 1), record_id=st.sampled_from(IDS), email=st.sampled_from(EMAILS)
    )
    def add(self, n: int, record_id: str, email: str) -> None:
        if record_id in self.removed and not self.REUSE_REMOVED_IDS:
            return
        current = self._visible(n, record_id)
        self._remember(n, record_id)
        lead = Lead(
            id=record_id,
            last_name=self._value(),
            company="Acme",
            email=EmailAddress.parse(email),
        )
        if current is not None:
            try:
                self.units[n].leads.add(lead)
            except RecordExists:
                return
            raise AssertionError("add of an id the unit sees taken")
        self.units[n].leads.add(lead)
        self.model[n].writes[record_id] = lead

    @rule(n=st.integers(0, UNITS - 1), record_id=st.sampled_from(IDS))
    def remove(self, n: int, record_id: str) -> None:
        current = self._visible(n, record_id)
        self._remember(n, record_id)
        if current is None:
            try:
                self.units[n].leads.remove(record_id)
            except RecordNotFound:
                return
            raise AssertionError("removal of a record the unit cannot see")
        self.units[n].leads.remove(record_id)
        self.model[n].writes[record_id] = None

    # -- ends of units --------------------------------------------------------------------

    @rule(n=st.integers(0, UNITS - 1))
    def commit(self, n: int) -> None:
        unit = self.model[n]
        stale = self._stale(n)
        before = dict(self.committed)
        try:
            self.units[n].commit()
        except ConcurrencyError:
            assert self._read_committed() == before, "a refused commit wrote something"
            if unit.writes:
                assert stale, "a commit refused although nothing it writes went stale"
        else:
            assert not (stale and unit.writes), (
                f"a commit overwrote what another unit committed after it read: {stale}"
            )
            self.commits += 1
            for record_id, record in unit.writes.items():
                self.stamps[record_id] = self.commits
                if record is None:
                    self.committed.pop(record_id, None)
                    self.removed.add(record_id)
                else:
                    self.committed[record_id] = record
        unit.clear()

    @rule(n=st.integers(0, UNITS - 1))
    def rollback(self, n: int) -> None:
        self.units[n].rollback()
        self.model[n].clear()

    # -- always -----------------------------------------------------------------------------

    def _read_committed(self) -> dict[str, Lead]:
        with MemoryUnitOfWork(self.store) as uow:
            return {lead.id: lead for lead in uow.leads}

    @invariant()
    def storage_is_what_the_model_committed(self) -> None:
        assert self._read_committed() == self.committed


NoLostUpdate.TestCase.settings = settings(
    max_examples=1000 if LONG else 60,
    stateful_step_count=60 if LONG else 30,
    deadline=None,
)
TestNoLostUpdate = NoLostUpdate.TestCase
