"""leadmodel: an embeddable lead-and-contact domain library.

Immutable entities (:class:`Lead`, :class:`Contact`, :class:`Account`,
:class:`Opportunity`), value objects, statuses, custom fields and pure rules, with storage
and notification reached through ports (:mod:`leadmodel.ports`).

>>> import leadmodel
>>> lead = leadmodel.Lead(id="L1", last_name="Ng", company="Acme")
>>> leadmodel.from_json(leadmodel.Lead, leadmodel.to_json(lead)) == lead
True
"""

from leadmodel.domain.account import ACCOUNT_SCHEMA, Account, AccountContactRelation
from leadmodel.domain.activity import Activity
from leadmodel.domain.changes import advance, regress, transition, update
from leadmodel.domain.contact import CONTACT_SCHEMA, Contact
from leadmodel.domain.errors import (
    AlreadyConverted,
    ConcurrencyError,
    ConversionError,
    ConvertedLeadError,
    DuplicateBlocked,
    FieldError,
    InvalidConvertOptions,
    InvalidValue,
    LeadModelError,
    MappingError,
    RecordExists,
    RecordNotFound,
    TransitionError,
    ValidationError,
)
from leadmodel.domain.events import LifecycleRegression, Notification
from leadmodel.domain.fields import EntitySchema, FieldDef, FieldType, FieldValues, Scalar
from leadmodel.domain.lead import LEAD_SCHEMA, ConversionRecord, Lead
from leadmodel.domain.opportunity import OPPORTUNITY_SCHEMA, Opportunity
from leadmodel.domain.status import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LeadProcess,
    LeadStatus,
    LifecycleStage,
    OpportunityProcess,
    OpportunityStage,
    Transition,
)
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
from leadmodel.rules.auto_conversion import AutoConversion, AutoConvertRule, auto_convert
from leadmodel.rules.conversion import (
    OPPORTUNITY_NAME_LENGTH,
    BulkConversion,
    ConversionFailure,
    ConversionResult,
    ConvertOptions,
    ExistingRecords,
    FieldChange,
    FieldChanges,
    MergePolicy,
    SkippedValue,
    UnmappedValue,
    convert_lead,
    convert_leads,
    end_of_quarter,
    iter_convert_leads,
)
from leadmodel.rules.criteria import All, Any, Condition, Criterion, Not, check_criterion, evaluate
from leadmodel.rules.dedupe import (
    DuplicateGroup,
    DuplicateIndex,
    MatchEdge,
    estimate_weights,
    find_duplicates,
)
from leadmodel.rules.duplicate_rules import (
    DuplicateAction,
    DuplicateCheck,
    DuplicatePolicy,
    check_duplicates,
)
from leadmodel.rules.mapping import (
    DEFAULT_LEAD_MAPPING,
    FieldMapping,
    MappingEntry,
    compatibility_problem,
)
from leadmodel.rules.matching import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_ACCOUNT_RULE,
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    BlockingKey,
    FieldMatcher,
    FieldScore,
    MatchingRule,
    MatchResult,
    compare,
)
from leadmodel.rules.merge import (
    DEFAULT_SURVIVORSHIP,
    FieldProvenance,
    MergeResult,
    Reparent,
    Survivorship,
    merge,
    unmerge,
)
from leadmodel.serialization import from_dict, from_json, to_dict, to_json

__all__ = [
    "ACCOUNT_SCHEMA",
    "CONTACT_SCHEMA",
    "DEFAULT_LEAD_MAPPING",
    "DEFAULT_LEAD_PROCESS",
    "DEFAULT_OPPORTUNITY_PROCESS",
    "DEFAULT_SURVIVORSHIP",
    "EXACT_EMAIL_OR_PHONE",
    "LEAD_SCHEMA",
    "OPPORTUNITY_NAME_LENGTH",
    "OPPORTUNITY_SCHEMA",
    "STANDARD_ACCOUNT_RULE",
    "STANDARD_CONTACT_RULE",
    "STANDARD_LEAD_RULE",
    "Account",
    "AccountContactRelation",
    "Activity",
    "Address",
    "All",
    "AlreadyConverted",
    "Any",
    "AutoConversion",
    "AutoConvertRule",
    "BlockingKey",
    "BulkConversion",
    "ConcurrencyError",
    "Condition",
    "Contact",
    "ConversionError",
    "ConversionFailure",
    "ConversionRecord",
    "ConversionResult",
    "ConvertOptions",
    "ConvertedLeadError",
    "Criterion",
    "DuplicateAction",
    "DuplicateBlocked",
    "DuplicateCheck",
    "DuplicateGroup",
    "DuplicateIndex",
    "DuplicatePolicy",
    "EmailAddress",
    "EntitySchema",
    "ExistingRecords",
    "FieldChange",
    "FieldChanges",
    "FieldDef",
    "FieldError",
    "FieldMapping",
    "FieldMatcher",
    "FieldProvenance",
    "FieldScore",
    "FieldType",
    "FieldValues",
    "InvalidConvertOptions",
    "InvalidValue",
    "Lead",
    "LeadModelError",
    "LeadProcess",
    "LeadStatus",
    "LifecycleRegression",
    "LifecycleStage",
    "MappingEntry",
    "MappingError",
    "MatchEdge",
    "MatchResult",
    "MatchingRule",
    "MergePolicy",
    "MergeResult",
    "Money",
    "Not",
    "Notification",
    "Opportunity",
    "OpportunityProcess",
    "OpportunityStage",
    "PhoneNumber",
    "RecordExists",
    "RecordNotFound",
    "Reparent",
    "Scalar",
    "SkippedValue",
    "Survivorship",
    "Transition",
    "TransitionError",
    "UnmappedValue",
    "ValidationError",
    "advance",
    "auto_convert",
    "check_criterion",
    "check_duplicates",
    "compare",
    "compatibility_problem",
    "convert_lead",
    "convert_leads",
    "end_of_quarter",
    "estimate_weights",
    "evaluate",
    "find_duplicates",
    "from_dict",
    "from_json",
    "iter_convert_leads",
    "merge",
    "regress",
    "to_dict",
    "to_json",
    "transition",
    "unmerge",
    "update",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
