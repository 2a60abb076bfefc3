"""The checker proves the memory adapter satisfies the ports (mypy reads this file too)."""

from datetime import UTC, datetime

from leadmodel.adapters.memory import FixedClock, MemoryNotifier, MemoryUnitOfWork, SequentialIds
from leadmodel.ports import Clock, IdGenerator, LeadRepository, Notifier, UnitOfWork


def test_memory_adapters_satisfy_the_ports():
    uow: UnitOfWork = MemoryUnitOfWork()
    leads: LeadRepository = uow.leads
    notifier: Notifier = MemoryNotifier()
    clock: Clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    ids: IdGenerator = SequentialIds()
    assert isinstance(notifier, Notifier)
    assert isinstance(clock, Clock)
    assert isinstance(ids, IdGenerator)
    assert list(leads) == []
