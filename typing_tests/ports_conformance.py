"""mypy checks that each reference adapter satisfies its port (run: mypy --strict typing_tests)."""

from datetime import UTC, datetime

from leadmodel.adapters.memory import (
    FixedClock,
    MemoryNotifier,
    MemoryRepository,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.contact import Contact
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import (
    AccountRepository,
    ActivityRepository,
    Clock,
    ContactRepository,
    IdGenerator,
    LeadRepository,
    Notifier,
    OpportunityRepository,
    UnitOfWork,
)

uow: UnitOfWork = MemoryUnitOfWork()
leads: LeadRepository = MemoryRepository[Lead](MemoryUnitOfWork().store, "lead")
contacts: ContactRepository = MemoryRepository[Contact](MemoryUnitOfWork().store, "contact")
accounts: AccountRepository = MemoryRepository[Account](MemoryUnitOfWork().store, "account")
opportunities: OpportunityRepository = MemoryRepository[Opportunity](
    MemoryUnitOfWork().store, "opportunity"
)
activities: ActivityRepository = MemoryRepository[Activity](MemoryUnitOfWork().store, "activity")
notifier: Notifier = MemoryNotifier()
clock: Clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
ids: IdGenerator = SequentialIds()
