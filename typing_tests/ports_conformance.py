"""mypy checks that each reference adapter satisfies its port (run: mypy --strict typing_tests)."""

from datetime import UTC, datetime

from leadmodel.adapters import open_store
from leadmodel.adapters.memory import (
    FixedClock,
    MemoryNotifier,
    MemoryRepository,
    MemoryStore,
    MemoryUnitOfWork,
    SequentialIds,
)
from leadmodel.adapters.postgres import PostgresRepository, PostgresStore, PostgresUnitOfWork
from leadmodel.adapters.sqlite import SQLiteRepository, SQLiteStore, SQLiteUnitOfWork
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import (
    AccountRepository,
    ActivityRepository,
    Clock,
    ConsentRepository,
    ContactRepository,
    IdGenerator,
    LeadRepository,
    MergeRepository,
    Notifier,
    OpportunityRepository,
    PrivacyLogRepository,
    Store,
    SupportsConsents,
    SupportsKeyIndex,
    SupportsMerges,
    SupportsPrivacyLog,
    SupportsScrub,
    SupportsTriggerState,
    TriggerStateRepository,
    UnitOfWork,
)
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.triggers import TriggerState

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

# The SQLite adapter satisfies the same ports.
_sqlite = SQLiteStore(":memory:")
sqlite_uow: UnitOfWork = SQLiteUnitOfWork(_sqlite)
sqlite_leads: LeadRepository = SQLiteRepository[Lead](_sqlite, "lead")
sqlite_contacts: ContactRepository = SQLiteRepository[Contact](_sqlite, "contact")
sqlite_accounts: AccountRepository = SQLiteRepository[Account](_sqlite, "account")
sqlite_opportunities: OpportunityRepository = SQLiteRepository[Opportunity](_sqlite, "opportunity")
sqlite_activities: ActivityRepository = SQLiteRepository[Activity](_sqlite, "activity")

# Both satisfy the optional capabilities the services check for.
merging: SupportsMerges = MemoryUnitOfWork()
sqlite_merging: SupportsMerges = SQLiteUnitOfWork(_sqlite)
keyed: SupportsKeyIndex = MemoryUnitOfWork()
sqlite_keyed: SupportsKeyIndex = SQLiteUnitOfWork(_sqlite)
merges: MergeRepository = MemoryRepository[MergeRecord](MemoryUnitOfWork().store, "merge")
sqlite_merges: MergeRepository = SQLiteRepository[MergeRecord](_sqlite, "merge")
triggering: SupportsTriggerState = MemoryUnitOfWork()
sqlite_triggering: SupportsTriggerState = SQLiteUnitOfWork(_sqlite)
trigger_states: TriggerStateRepository = MemoryRepository[TriggerState](
    MemoryUnitOfWork().store, "trigger_state"
)
sqlite_trigger_states: TriggerStateRepository = SQLiteRepository[TriggerState](
    _sqlite, "trigger_state"
)
consenting: SupportsConsents = MemoryUnitOfWork()
sqlite_consenting: SupportsConsents = SQLiteUnitOfWork(_sqlite)
consents: ConsentRepository = MemoryRepository[Consent](MemoryUnitOfWork().store, "consent")
sqlite_consents: ConsentRepository = SQLiteRepository[Consent](_sqlite, "consent")
logging: SupportsPrivacyLog = MemoryUnitOfWork()
sqlite_logging: SupportsPrivacyLog = SQLiteUnitOfWork(_sqlite)
privacy_log: PrivacyLogRepository = MemoryRepository[PrivacyLogEntry](
    MemoryUnitOfWork().store, "privacy_log"
)
sqlite_privacy_log: PrivacyLogRepository = SQLiteRepository[PrivacyLogEntry](_sqlite, "privacy_log")

# Both stores satisfy the store port (what the command line takes); SQLite's scrubs.
memory_store: Store = MemoryStore()
sqlite_store: Store = _sqlite
opened: Store = open_store(":memory:")
scrubbing: SupportsScrub = _sqlite
store_unit: UnitOfWork = memory_store.unit_of_work()


def _postgres(store: PostgresStore) -> None:
    """The PostgreSQL adapter satisfies the same ports and capabilities (checked, not run)."""
    pg_store: Store = store
    pg_scrubbing: SupportsScrub = store
    pg_uow: UnitOfWork = PostgresUnitOfWork(store)
    pg_leads: LeadRepository = PostgresRepository[Lead](store, "lead")
    pg_contacts: ContactRepository = PostgresRepository[Contact](store, "contact")
    pg_accounts: AccountRepository = PostgresRepository[Account](store, "account")
    pg_opportunities: OpportunityRepository = PostgresRepository[Opportunity](store, "opportunity")
    pg_activities: ActivityRepository = PostgresRepository[Activity](store, "activity")
    pg_merging: SupportsMerges = PostgresUnitOfWork(store)
    pg_keyed: SupportsKeyIndex = PostgresUnitOfWork(store)
    pg_triggering: SupportsTriggerState = PostgresUnitOfWork(store)
    pg_consenting: SupportsConsents = PostgresUnitOfWork(store)
    pg_logging: SupportsPrivacyLog = PostgresUnitOfWork(store)
    pg_merges: MergeRepository = PostgresRepository[MergeRecord](store, "merge")
    pg_states: TriggerStateRepository = PostgresRepository[TriggerState](store, "trigger_state")
    pg_consents: ConsentRepository = PostgresRepository[Consent](store, "consent")
    pg_log: PrivacyLogRepository = PostgresRepository[PrivacyLogEntry](store, "privacy_log")
    del pg_store, pg_scrubbing, pg_uow
    del pg_leads, pg_contacts, pg_accounts, pg_opportunities, pg_activities
    del pg_merging, pg_keyed, pg_triggering, pg_consenting, pg_logging
    del pg_merges, pg_states, pg_consents, pg_log
