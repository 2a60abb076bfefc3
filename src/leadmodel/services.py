"""Use cases over the ports: the only code that touches storage.

Each service takes a :class:`~leadmodel.ports.UnitOfWork` (and the other ports it needs),
runs the pure rules, and writes all or nothing: when it fails, storage is unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar

import attrs

from leadmodel._consent_gate import Suppressed, consents_of, gate, reissue_consents
from leadmodel._html import result_html
from leadmodel._journey import CloseOutcome, apply_workflows, close_opportunity, reengage_contact
from leadmodel._merging import (
    MergeOutcome,
    UnmergeOutcome,
    import_leads,
    merge_records,
    unmerge_records,
)
from leadmodel._triggers import ActionOutcome, DueRun, run_due
from leadmodel._units import check_unit
from leadmodel.domain import _checks
from leadmodel.domain import errors as _errors
from leadmodel.domain._checks import as_tuple
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.changes import (
    _check_forward,
    _refuse_converted,
    advance,
    transition,
)
from leadmodel.domain.consent import Consent
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConcurrencyError,
    FieldError,
    RecordNotFound,
    TransitionError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import (
    DomainEvent,
    LeadAssigned,
    LeadCaptured,
    LeadConverted,
    LeadScored,
    LifecycleRegression,
    Notification,
    ScoreChanged,
    StageChanged,
    StatusChanged,
)
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.status import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LeadProcess,
    OpportunityProcess,
)
from leadmodel.intake import FormErrors, FormSpec, form_consents, parse_web_form
from leadmodel.ports import Notifier, PrivacyKey, UnitOfWork, lookup_keys, neighbour_sort_value
from leadmodel.privacy import (
    Erasure,
    Finding,
    PersonFindings,
    RetentionRun,
    erase,
    export_person,
    find_person,
    is_erased,
    run_retention,
    suppression,
)
from leadmodel.privacy import _check_key as _check_privacy_key
from leadmodel.rules import conversion
from leadmodel.rules.assignment import Assignment, AssignmentRule, AssignmentState, assign
from leadmodel.rules.auto_conversion import AutoConversion, AutoConvertRule, auto_convert
from leadmodel.rules.conversion import ConversionResult, ConvertOptions, ExistingRecords
from leadmodel.rules.dedupe import MatchEdge
from leadmodel.rules.duplicate_rules import DuplicateCheck, DuplicatePolicy, check_duplicates
from leadmodel.rules.layouts import (
    RecordType,
    _other_record_type,
    validate_layout,
    with_record_type,
)
from leadmodel.rules.mapping import DEFAULT_LEAD_MAPPING, TARGETS, FieldMapping
from leadmodel.rules.matching import (
    STANDARD_ACCOUNT_RULE,
    STANDARD_CONTACT_RULE,
    CompiledRule,
    MatchingRule,
)
from leadmodel.rules.predictive import LogisticModel, NaiveBayesFrequencies, PredictiveModel
from leadmodel.rules.qualification import Qualification, QualificationPolicy, qualify
from leadmodel.rules.responses import (
    AutoResponse,
    AutoResponseRule,
    WorkflowOutcome,
    WorkflowRule,
    respond,
    run_workflows,
)
from leadmodel.rules.scoring import (
    CompiledScoringModel,
    Score,
    ScoringModel,
    _shown,  # a score in words, never rounded over a band
)
from leadmodel.rules.scoring import compile as compile_scoring

__all__ = [
    "ActionOutcome",
    "CaptureConfig",
    "CaptureResult",
    "CloseOutcome",
    "ConversionOutcome",
    "DueRun",
    "Erasure",
    "Finding",
    "MergeOutcome",
    "PersonFindings",
    "Rescore",
    "RetentionRun",
    "StorageCheck",
    "StorageProblem",
    "UnmergeOutcome",
    "apply_workflows",
    "approve_capture",
    "capture_lead",
    "check_storage",
    "close_opportunity",
    "convert_lead",
    "erase",
    "export_person",
    "find_person",
    "import_leads",
    "is_erased",
    "merge_records",
    "reengage_contact",
    "reject_capture",
    "rescore",
    "retrying",
    "run_due",
    "run_retention",
    "save",
    "suppression",
    "unmerge_records",
]

Saved = TypeVar("Saved", Lead, Contact, Account)


def _repositories(uow: UnitOfWork, record: object) -> tuple[Any, tuple[Any, ...]]:
    """The record's own repository and those its duplicates are looked for in."""
    if isinstance(record, Lead):
        return uow.leads, (uow.leads, uow.contacts)
    if isinstance(record, Contact):
        return uow.contacts, (uow.contacts, uow.leads)
    if isinstance(record, Account):
        return uow.accounts, (uow.accounts,)
    raise ValidationError(
        "save",
        [
            FieldError(
                "record", "type", f"must be a Lead, Contact or Account, not {type(record).__name__}"
            )
        ],
    )


def _candidates(
    uow: UnitOfWork,
    repositories: tuple[Any, ...],
    record: object,
    rules: DuplicatePolicy | Iterable[MatchingRule | CompiledRule],
) -> list[object]:
    """Records sharing a lookup key or a blocking key of *rules* with *record*.

    Given a policy, its rules are used, and accounts are searched too when the policy
    compares with accounts (:attr:`DuplicatePolicy.compare_with`). A unit of work that
    indexes rules' keys (:class:`~leadmodel.ports.SupportsKeyIndex`, as both shipped adapters
    do) is asked to index the rules first, so a rule's keys find records stored before the
    rule was first used.

    The search is bounded like the rules' blocks: when every rule has a ``key_cap``, a
    repository that answers :class:`~leadmodel.ports.SupportsNeighbours` (both shipped
    adapters) reads every record under a key within the largest cap, and under a larger
    key only the largest ``window`` of records on each side of the record's
    :func:`~leadmodel.ports.neighbour_sort_value`, so a key shared by thousands of records
    (a switchboard phone) costs no more than a small one. Other repositories, or a rule
    without a cap, read every record under the keys.
    """
    if isinstance(rules, DuplicatePolicy):
        if "account" in rules.objects and uow.accounts not in repositories:
            repositories = (*repositories, uow.accounts)
        rules = rules.rules
    compiled_rules = [rule if isinstance(rule, CompiledRule) else rule.compile() for rule in rules]
    index = getattr(uow, "index_rules", None)  # SupportsKeyIndex, without isinstance's cost
    if callable(index):
        index([compiled.rule for compiled in compiled_rules])
    keys: set[str] = set(lookup_keys(record))
    for compiled in compiled_rules:
        keys.update(compiled.keys(record))
    caps = [cap for compiled in compiled_rules if (cap := compiled.rule.key_cap) is not None]
    # A key within the largest cap is read whole, as the batch compares such a block pair
    # by pair; a larger one gives the largest window of records on each side.
    whole = max(caps) if caps and len(caps) == len(compiled_rules) else None
    limit = max((compiled.rule.window for compiled in compiled_rules), default=1)
    near = neighbour_sort_value(record) if whole is not None else ""
    found: dict[tuple[str, str], object] = {}
    for repository in repositories:
        bounded = getattr(repository, "find_neighbours", None)  # SupportsNeighbours
        candidates = (
            bounded(sorted(keys), near, limit, whole=whole)
            if whole is not None and callable(bounded)
            else repository.find_by_keys(sorted(keys))
        )
        for candidate in candidates:
            found[(type(candidate).__name__, candidate.id)] = candidate
    return list(found.values())


def _lead_problems(lead: Lead, process: LeadProcess) -> list[FieldError]:
    """How *lead*'s status and conversion record break *process* (empty when they agree).

    The consistency rule: the status is one of *process*; a converted status and a
    :class:`~leadmodel.ConversionRecord` come together or not at all, and the record's
    ``status`` is the lead's.
    """
    status = process.get(lead.status)
    if status is None:
        choices = ", ".join(s.name for s in process.statuses)
        return [
            FieldError(
                "status",
                "unknown_status",
                f"{describe_value(lead.status)} is not a status of {process.name!r} ({choices})",
            )
        ]
    errors = []
    if lead.converted is None:
        if status.is_converted:
            errors.append(
                FieldError(
                    "converted",
                    "missing_conversion",
                    f"{lead.status!r} is a converted status of {process.name!r} but the lead "
                    "has no ConversionRecord; convert it with convert_lead()",
                )
            )
    else:
        if lead.converted.status != lead.status:
            errors.append(
                FieldError(
                    "converted.status",
                    "status_mismatch",
                    f"the ConversionRecord says {describe_value(lead.converted.status)}, "
                    f"the lead's status is {lead.status!r}; they must be the same",
                )
            )
        if not status.is_converted:
            errors.append(
                FieldError(
                    "status",
                    "not_converted",
                    f"{lead.status!r} is not a converted status of {process.name!r} but the "
                    "lead has a ConversionRecord",
                )
            )
    return errors


def _check_lead(
    stored: object | None, lead: Lead, *, process: LeadProcess, converting: bool
) -> None:
    """Refuse *lead* replacing *stored* when the lead's rules forbid it (see _check_write)."""
    if isinstance(stored, Lead):
        _refuse_converted(stored, "update")
        if not converting:
            if lead.converted is not None:
                raise ValidationError(
                    f"Lead {lead.id!r}",
                    [FieldError("converted", "managed", "only convert_lead() converts a lead")],
                )
            if lead.status != stored.status:
                transition(stored, lead.status, process=process)
    errors = _lead_problems(lead, process)
    if errors:
        raise ValidationError(f"Lead {lead.id!r}", errors)


def _regressed(stored: Lead | Contact, record: Lead | Contact, regression: object) -> bool:
    """Whether *regression* is what :func:`~leadmodel.regress` made of this very move."""
    return (
        isinstance(regression, LifecycleRegression)
        and type(regression.entity) is type(record)
        and regression.entity.id == record.id
        and regression.stage is record.lifecycle_stage
        and regression.previous is stored.lifecycle_stage
    )


def _check_lifecycle(stored: Lead | Contact, record: Lead | Contact, regression: object) -> None:
    """Refuse a lifecycle move backwards, unless *regression* is the one for this move."""
    if record.lifecycle_stage is stored.lifecycle_stage or _regressed(stored, record, regression):
        return
    try:
        _check_forward(stored, record.lifecycle_stage)
    except TransitionError as error:
        if regression is None:
            raise
        raise TransitionError(
            f"{error}; the LifecycleRegression given is for another record or another move",
            entity_id=error.entity_id,
            current=error.current,
            target=error.target,
        ) from error


def _check_write(
    stored: object | None,
    record: object,
    *,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    regression: object = None,
    converting: bool = False,
) -> bool:
    """Refuse writing *record* over *stored* (``None``: a new record) against the domain.

    The one guard of every service that writes a lead or a contact, so that what
    ``update``, ``transition``, ``advance`` and ``regress`` refuse, storage never gets:

    - a stored converted lead is read-only: a different record is refused;
    - a lead's status is one of *process*; a converted status and a ``ConversionRecord``
      with that same status come together or not at all;
    - an edit changes a lead's status only as :func:`transition` allows, and never sets
      ``converted`` (``converting=True`` is for the conversion's own write);
    - an edit moves a lifecycle stage forward only, unless *regression* is the
      ``LifecycleRegression`` that ``regress`` returned for this record and stage.

    Returns whether there is anything to write: ``False`` for a record equal to *stored*.
    Raises like :func:`save`.
    """
    if stored is not None and record == stored:
        return False
    if isinstance(record, Lead):
        _check_lead(stored, record, process=process, converting=converting)
    if isinstance(record, Lead | Contact) and isinstance(stored, Lead | Contact):
        _check_lifecycle(stored, record, regression)
    return True


def _check_save_arguments(policy: object, process: object, regression: object) -> None:
    errors = []
    if policy is not None and not isinstance(policy, DuplicatePolicy):
        errors.append(
            FieldError("policy", "type", f"must be a DuplicatePolicy, not {type(policy).__name__}")
        )
    if not isinstance(process, LeadProcess):
        errors.append(
            FieldError("process", "type", f"must be a LeadProcess, not {type(process).__name__}")
        )
    if regression is not None and not isinstance(regression, LifecycleRegression):
        errors.append(
            FieldError(
                "regression",
                "type",
                "must be the LifecycleRegression regress() returned, "
                f"not {type(regression).__name__}",
            )
        )
    if errors:
        raise ValidationError("save", errors)


def _rebased(stored: Saved | None, record: Saved, base: Saved | None) -> Saved:
    """*record*'s edit laid over *stored*: the fields it changed from *base*, and no others.

    Without *base*, *record* itself, unless it is older than *stored* by ``updated_at``.
    """
    kind = type(record).__name__.lower()
    if base is None:
        mine, theirs = record.updated_at, None if stored is None else stored.updated_at
        if theirs is not None and (mine is None or mine < theirs):
            raise ConcurrencyError(
                f"{kind} {record.id} changed in storage (updated {theirs.isoformat()}) since "
                "this copy was read: reload it, or save with base= to keep both edits",
                records=[f"{kind} {record.id}"],
            )
        return record
    if stored is None:
        raise ConcurrencyError(
            f"{kind} {record.id} was removed since it was read", records=[f"{kind} {record.id}"]
        )
    if stored == base:
        return record
    changes: dict[str, Any] = {}
    clashes: list[str] = []
    for field in attrs.fields(type(record)):
        name = field.name
        mine, read, theirs = getattr(record, name), getattr(base, name), getattr(stored, name)
        if name == "custom":
            custom = dict(theirs)
            for key in set(mine) | set(read):
                if mine.get(key) == read.get(key):
                    continue
                if theirs.get(key) != read.get(key) and theirs.get(key) != mine.get(key):
                    clashes.append(f"custom.{key}")
                if key in mine:
                    custom[key] = mine[key]
                else:
                    custom.pop(key, None)
            changes[name] = custom
        elif mine != read:
            if theirs not in (read, mine) and name != "updated_at":
                clashes.append(name)
            changes[name] = mine
    if clashes:
        raise ConcurrencyError(
            f"{kind} {record.id}: {', '.join(sorted(clashes))} changed by someone else since "
            "it was read: reload and edit again",
            records=[f"{kind} {record.id}"],
        )
    merged: Saved = attrs.evolve(stored, **changes)
    return merged


def save(
    uow: UnitOfWork,
    record: Saved,
    *,
    policy: DuplicatePolicy | None = None,
    allow_save: bool = False,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    regression: LifecycleRegression[Saved] | None = None,
    base: Saved | None = None,
) -> DuplicateCheck | None:
    """Create or update *record* in one unit of work, applying the domain and a duplicate *policy*.

    A record whose id is not stored is created (the policy's create action applies),
    otherwise it replaces the stored one (edit action, against the stored version).

    No lost update: a record is read in one unit of work and saved in another, so
    others may commit in between. Give *base*, the record as it was read, and only the
    fields this edit changed (``custom`` values key by key) are applied to the stored
    record; a field someone else changed differently meanwhile raises
    :class:`~leadmodel.ConcurrencyError` (reload and edit again). Without *base*, the
    record replaces the stored one, unless its ``updated_at`` is older than the stored
    one's (it was read before another change, such as a rescore): ``ConcurrencyError``.
    Candidates come from the repositories' ``find_by_keys`` with the policy's blocking
    keys and the default lookup keys; a lead is checked against leads and contacts. A
    ``block`` decision raises :class:`~leadmodel.DuplicateBlocked` and writes nothing;
    ``allow_save=True`` overrides it. Returns the policy's :class:`DuplicateCheck`, or
    ``None`` without a policy.

    What ``update``, ``transition`` and ``advance`` refuse, ``save`` refuses too, comparing
    *record* with the stored version, and writes nothing then:

    - a stored converted lead is read-only: any different record is refused (an equal
      one is nothing to write);
    - a lead's ``status`` must be a status of *process*; a status *process* marks
      converted needs a ``ConversionRecord``, a ``ConversionRecord`` needs a converted
      status, and its ``status`` is the lead's (a new lead may be saved converted this
      way, say from another CRM);
    - an edit changes a lead's status only by a move *process* allows (not into a
      converted status: :func:`convert_lead` does that) and never sets ``converted``;
    - an edit moves a lead's or a contact's ``lifecycle_stage`` forward only, unless
      *regression* is the :class:`~leadmodel.LifecycleRegression` that
      :func:`~leadmodel.regress` returned for this record and stage.

    >>> from leadmodel import (
    ...     STANDARD_LEAD_RULE,
    ...     DuplicateAction,
    ...     DuplicateBlocked,
    ...     EmailAddress,
    ...     Lead,
    ... )
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> policy = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
    >>> save(
    ...     uow,
    ...     Lead(
    ...         id="L1",
    ...         first_name="Ann",
    ...         last_name="Lee",
    ...         company="Acme",
    ...         email=EmailAddress.parse("ann@acme.com"),
    ...     ),
    ...     policy=policy,
    ... ).decision
    'allow'
    >>> anne = Lead(
    ...     id="L2",
    ...     first_name="Anne",
    ...     last_name="Lee",
    ...     company="Acme",
    ...     email=EmailAddress.parse("ANN@acme.com"),
    ... )
    >>> try:
    ...     save(uow, anne, policy=policy)
    ... except DuplicateBlocked as blocked:
    ...     print(blocked)
    leads: 1 duplicate(s) on create, action block: duplicates L1
    >>> try:
    ...     save(uow, Lead(id="L3", last_name="Ng", company="Acme", status="Closed - Converted"))
    ... except ValidationError as error:
    ...     print(error.errors[0].code)
    missing_conversion

    Raises:
        DuplicateBlocked: the policy blocks the save.
        ConcurrencyError: the stored record changed since *record* (or *base*) was read,
            in a field this edit changes too, or it was removed; nothing was written.
        ConvertedLeadError: the stored lead is converted and *record* differs from it.
        TransitionError: a status move *process* does not allow (or into a converted
            status), or a lifecycle stage moved backwards without its regression.
        ValidationError: *uow* is not a unit of work; not a lead, contact or account, a
            bad policy, process or regression, a status not in *process*, a converted
            status without a ``ConversionRecord`` or one that disagrees with the status
            (codes ``unknown_status``, ``missing_conversion``, ``status_mismatch``,
            ``not_converted``), or an edit setting ``converted`` (code ``managed``).
    """
    check_unit("save", uow)
    own, searched = _repositories(uow, record)
    _check_save_arguments(policy, process, regression)
    if base is not None and (type(base) is not type(record) or base.id != record.id):
        raise ValidationError(
            "save",
            [FieldError("base", "type", "must be the same record as it was read (kind and id)")],
        )
    with uow:
        stored = own.get(record.id)
        record = _rebased(stored, record, base)
        changed = _check_write(stored, record, process=process, regression=regression)
        action: Literal["create", "edit"] = "create" if stored is None else "edit"
        check = None
        if policy is not None:
            candidates = _candidates(uow, searched, record, policy)
            check = check_duplicates(
                record,
                candidates,
                policy,
                action=action,
                previous=stored,
                allow_save=allow_save,
            )
            check.raise_if_blocked()
        if stored is None:
            own.add(record)
        elif changed:
            own.update(record)
        uow.commit()
    return check


@attrs.frozen
class StorageProblem:
    """One stored record that breaks a rule of the domain, as :func:`check_storage` found it.

    Attributes:
        kind: the record's kind: ``"lead"``, ``"contact"``, ``"account"``,
            ``"opportunity"`` or ``"activity"``.
        record_id: the record's id.
        code: a stable word for the rule: ``unknown_status``, ``missing_conversion``,
            ``status_mismatch``, ``not_converted``, ``missing_account``,
            ``missing_contact``, ``missing_opportunity``, ``missing_subject``,
            ``missing_parent`` or ``parent_cycle``.
        message: what is wrong, in words.

    >>> str(StorageProblem("contact", "C1", "missing_account", "no account 'A9' is stored"))
    "contact C1: missing_account: no account 'A9' is stored"
    """

    kind: str
    record_id: str
    code: str
    message: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id}: {self.code}: {self.message}"


@attrs.frozen(kw_only=True)
class StorageCheck:
    """What :func:`check_storage` found: every problem, and how many records it read.

    Attributes:
        problems: every :class:`StorageProblem`, by kind (leads, contacts, accounts,
            opportunities, activities), then record id, then code.
        records: how many records were read.
    """

    _repr_html_ = result_html

    problems: tuple[StorageProblem, ...] = ()
    records: int = 0

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def ok(self) -> bool:
        """Whether storage holds no problem."""
        return not self.problems


_KINDS: Final = ("lead", "contact", "account", "opportunity", "activity")
_RATING: Final = LEAD_SCHEMA.field("rating")


def _dangling(
    kind: str, record_id: str, links: Iterable[tuple[str, str, str | None, Collection[str]]]
) -> list[StorageProblem]:
    """A problem for each link ``(field, target kind, id, stored ids)`` to no stored record."""
    return [
        StorageProblem(
            kind,
            record_id,
            f"missing_{target}",
            f"{field} {describe_value(value)}: no {target} with this id is stored",
        )
        for field, target, value, stored in links
        if value is not None and value not in stored
    ]


def _account_problems(parents: Mapping[str, str | None]) -> list[StorageProblem]:
    """Accounts whose parent is not stored, and accounts whose parents loop back."""
    problems = [
        StorageProblem(
            "account",
            account_id,
            "missing_parent",
            f"parent_id {describe_value(parent)}: no account with this id is stored",
        )
        for account_id, parent in parents.items()
        if parent is not None and parent not in parents
    ]
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parents and node not in done and node not in path:
            path.append(node)
            node = parents[node]
        if node is not None and node in path:
            loop = path[path.index(node) :]
            shown = " -> ".join([*loop, node])
            problems.extend(
                StorageProblem("account", member, "parent_cycle", f"its parents loop: {shown}")
                for member in loop
            )
        done.update(path)
    return problems


def check_storage(uow: UnitOfWork, *, process: LeadProcess = DEFAULT_LEAD_PROCESS) -> StorageCheck:
    """Report every stored record that breaks a rule of the domain; change nothing.

    Rows written before a rule existed, or by a host around the services, still load
    (``Lead(...)`` does not refuse them), so this check finds them instead:

    - leads whose status is not one of *process*, whose status *process* marks converted
      without a ``ConversionRecord``, whose ``ConversionRecord`` has another status or
      sits on a status that is not converted, and whose ``ConversionRecord`` names an
      account, contact or opportunity that is not stored;
    - contacts whose account, and opportunities whose account or contact, is not stored;
    - accounts whose parent is not stored, or whose parents loop back to them;
    - activities whose ``subject_id`` is no stored lead, contact, account or opportunity.

    Reads everything in one unit of work and never commits.

    >>> from leadmodel import Contact, Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(id="L1", last_name="Ng", company="Acme", status="Closed - Converted")
    ...     )
    ...     uow.contacts.add(Contact(id="C1", last_name="Ng", account_id="A9"))
    ...     uow.commit()
    >>> result = check_storage(uow)
    >>> result.ok, [(p.record_id, p.code) for p in result.problems]
    (False, [('L1', 'missing_conversion'), ('C1', 'missing_account')])

    Raises:
        ValidationError: *uow* is not a unit of work, or *process* is not a
            :class:`~leadmodel.LeadProcess`.
    """
    check_unit("check_storage", uow)
    if not isinstance(process, LeadProcess):
        raise ValidationError(
            "check_storage",
            [FieldError("process", "type", f"must be a LeadProcess, not {type(process).__name__}")],
        )
    problems: list[StorageProblem] = []
    with uow:
        parents = {account.id: account.parent_id for account in uow.accounts}
        contacts = [(c.id, c.account_id) for c in uow.contacts]
        contact_ids = {contact_id for contact_id, _ in contacts}
        for contact_id, account_id in contacts:
            problems += _dangling(
                "contact", contact_id, [("account_id", "account", account_id, parents)]
            )
        opportunity_ids: set[str] = set()
        for opportunity in uow.opportunities:
            opportunity_ids.add(opportunity.id)
            problems += _dangling(
                "opportunity",
                opportunity.id,
                [
                    ("account_id", "account", opportunity.account_id, parents),
                    ("contact_id", "contact", opportunity.contact_id, contact_ids),
                ],
            )
        lead_ids: set[str] = set()
        for lead in uow.leads:
            lead_ids.add(lead.id)
            problems += [
                StorageProblem("lead", lead.id, error.code, f"{error.path}: {error.message}")
                for error in _lead_problems(lead, process)
            ]
            if lead.converted is not None:
                record = lead.converted
                problems += _dangling(
                    "lead",
                    lead.id,
                    [
                        ("converted.account_id", "account", record.account_id, parents),
                        ("converted.contact_id", "contact", record.contact_id, contact_ids),
                        (
                            "converted.opportunity_id",
                            "opportunity",
                            record.opportunity_id,
                            opportunity_ids,
                        ),
                    ],
                )
        activities = 0
        for activity in uow.activities:
            activities += 1
            subject = activity.subject_id
            if not any(subject in ids for ids in (lead_ids, contact_ids, parents, opportunity_ids)):
                problems.append(
                    StorageProblem(
                        "activity",
                        activity.id,
                        "missing_subject",
                        f"subject_id {describe_value(subject)}: no lead, contact, account or "
                        "opportunity with this id is stored",
                    )
                )
    problems += _account_problems(parents)
    problems.sort(key=lambda p: (_KINDS.index(p.kind), p.record_id, p.code))
    records = len(lead_ids) + len(contact_ids) + len(parents) + len(opportunity_ids) + activities
    return StorageCheck(problems=tuple(problems), records=records)


@attrs.frozen(kw_only=True)
class ConversionOutcome:
    """What :func:`convert_lead` did: the conversion, the matches and the notifications.

    Attributes:
        result: the :class:`~leadmodel.ConversionResult`, as saved.
        account_match: the match that chose the existing account, when
            ``match_existing`` found one.
        contact_match: the match that chose the existing contact, likewise.
        sent: the notifications the notifier accepted, after the commit.
        failed: the notifications the notifier refused, each with its error; the
            conversion is saved regardless.
        events: ``LeadConverted`` and the lead's ``StatusChanged``, for the host to publish
            (and to run workflow rules on).
        consents: the lead's consents issued again for the contact (``subject_id`` the
            contact, ``provenance`` the lead's consent id), when the unit of work stores
            consents (``uow.consents``); the lead keeps its own.
        suppressed: notifications held back by the last-moment consent gate (one to the
            person who opted out); the owner's notification is never held back.
    """

    _repr_html_ = result_html

    result: ConversionResult
    account_match: MatchEdge | None = None
    contact_match: MatchEdge | None = None
    sent: tuple[Notification, ...] = ()
    failed: tuple[tuple[Notification, str], ...] = ()
    events: tuple[DomainEvent, ...] = ()
    consents: tuple[Consent, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _load(repository: Any, kind: str, record_id: str | None) -> Any:
    if record_id is None:
        return None
    record = repository.get(record_id)
    if record is None:
        raise RecordNotFound(kind, record_id)
    return record


def _best_match(
    uow: UnitOfWork,
    repository: Any,
    probe: object,
    *,
    rule: MatchingRule,
    lead_id: str,
    accept: Callable[[Any], bool] = lambda _: True,
) -> tuple[Any, MatchEdge] | None:
    """The accepted candidate that *rule* matches best with *probe* (ties: lowest id)."""
    compiled = rule.compile()
    best: tuple[float, str, Any, MatchEdge] | None = None
    for candidate in _candidates(uow, (repository,), probe, (compiled,)):
        if not accept(candidate):
            continue
        result = compiled.compare(probe, candidate)
        candidate_id = getattr(candidate, "id", "")
        if result.is_match and (
            best is None or (-result.score, candidate_id) < (-best[0], best[1])
        ):
            best = (result.score, candidate_id, candidate, MatchEdge(lead_id, candidate_id, result))
    return None if best is None else (best[2], best[3])


def _matched_options(
    uow: UnitOfWork,
    lead: Lead,
    options: ConvertOptions,
    rules: tuple[MatchingRule, MatchingRule],
) -> tuple[ConvertOptions, MatchEdge | None, MatchEdge | None]:
    """The options with the existing contact and account the duplicate rules find.

    Zoho's order: a contact that matches the lead (and with it, its account), else an
    account that matches the lead's company: a business account (a person account is one
    person), and none for a person lead that converts into a new person account. Ids the
    options name already are kept; with an account named, only that account's contacts
    are candidates.
    """
    contact_rule, account_rule = rules
    contact_match = account_match = None
    account_id, contact_id = options.account_id, options.contact_id
    if contact_id is None:
        person = lead.company is None
        named = account_id

        def belongs(contact: Contact) -> bool:
            if named is not None:
                return contact.account_id == named
            return contact.account_id is not None or person

        found = _best_match(
            uow, uow.contacts, lead, rule=contact_rule, lead_id=lead.id, accept=belongs
        )
        if found is not None:
            contact, contact_match = found
            contact_id, account_id = contact.id, contact.account_id
    # A person lead that becomes a person account is no company's contact; a person
    # account is one person, never the account of another (Salesforce).
    if (
        account_id is None
        and lead.company is not None
        and not (lead.is_person and options.person_account and contact_id is None)
    ):
        found = _best_match(
            uow,
            uow.accounts,
            lead,
            rule=account_rule,
            lead_id=lead.id,
            accept=lambda account: not account.is_person,
        )
        if found is not None:
            account_id, account_match = found[0].id, found[1]
    if (account_id, contact_id) == (options.account_id, options.contact_id):
        return options, None, None
    matched = attrs.evolve(options, account_id=account_id, contact_id=contact_id)
    return matched, account_match, contact_match


def convert_lead(
    uow: UnitOfWork,
    lead_id: str,
    options: ConvertOptions,
    *,
    ids: Callable[[str], str],
    now: datetime,
    mapping: FieldMapping = DEFAULT_LEAD_MAPPING,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
    opportunity_process: OpportunityProcess = DEFAULT_OPPORTUNITY_PROCESS,
    match_existing: bool = False,
    rules: Sequence[MatchingRule] = (STANDARD_CONTACT_RULE, STANDARD_ACCOUNT_RULE),
    notifier: Notifier | None = None,
    record_types: Mapping[str, RecordType] | None = None,
) -> ConversionOutcome:
    """Convert the stored lead *lead_id* and save every record in one unit of work.

    Loads the lead and the records *options* names; with *match_existing*, finds the
    existing contact and account with the duplicate *rules* (a contact rule, then an
    account rule: the contact that matches the lead brings its account, else an account
    that matches the company — a business account, and none for a person lead that
    becomes a person account); converts with the pure
    :func:`leadmodel.convert_lead`; then, in the same unit of work, adds the new records,
    updates the changed ones and the lead, and moves the lead's activities to the
    contact (with *record_types*, new records get the record type of their kind and every
    record is checked against it: see :func:`leadmodel.convert_lead`). Nothing is saved
    if anything fails. After the commit, the owner's
    notification (``notify_owner``) goes to *notifier*; a notifier that fails is reported
    in :attr:`ConversionOutcome.failed` and never undoes the conversion.

    Candidates come from the repositories' ``find_by_keys`` with the rules' blocking keys
    and the default lookup keys (email, phone): an adapter finds by company name only if it
    indexes those keys.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import ConvertOptions, Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
    ...     uow.commit()
    >>> outcome = convert_lead(
    ...     uow,
    ...     "L1",
    ...     ConvertOptions("Closed - Converted"),
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 11, 23, tzinfo=UTC),
    ... )
    >>> with uow:
    ...     uow.leads.get("L1").converted.account_id, uow.accounts.get("account-000001").name
    ('account-000001', 'Acme')

    Raises:
        RecordNotFound: no such lead, or no record with an id the options name.
        AlreadyConverted: the lead is converted already.
        InvalidConvertOptions: the options contradict the lead or the records.
        ConcurrencyError: a record changed in storage meanwhile; nothing was saved.
        ValidationError: arguments of the wrong type (*uow* not a unit of work …);
            ``notify_owner`` without a notifier.
    """
    check_unit("convert_lead", uow)
    if not isinstance(options, ConvertOptions):
        raise ValidationError(
            "convert_lead",
            [
                FieldError(
                    "options", "type", f"must be ConvertOptions, not {describe_value(options)}"
                )
            ],
        )
    if options.notify_owner and not isinstance(notifier, Notifier):
        raise ValidationError(
            "convert_lead",
            [FieldError("notifier", "required", "notify_owner=True needs a Notifier")],
        )
    contact_rule, account_rule = _two_rules(rules)
    with uow:
        lead = _load(uow.leads, "lead", lead_id)
        account_match = contact_match = None
        if match_existing:
            options, account_match, contact_match = _matched_options(
                uow, lead, options, (contact_rule, account_rule)
            )
        existing = ExistingRecords(
            account=_load(uow.accounts, "account", options.account_id),
            contact=_load(uow.contacts, "contact", options.contact_id),
            opportunity=_load(uow.opportunities, "opportunity", options.opportunity_id),
        )
        result = conversion.convert_lead(
            lead,
            options,
            existing=existing,
            mapping=mapping,
            process=process,
            opportunity_process=opportunity_process,
            ids=ids,
            now=now,
            record_types=record_types,
        )
        consents = _save(uow, result, lead=lead, process=process, ids=ids)
        uow.commit()
    sent, failed, suppressed = _deliver(uow, result.notifications, notifier, now=now)
    events: list[DomainEvent] = [
        LeadConverted(
            lead_id=lead.id,
            account_id=result.account.id if result.account is not None else None,
            contact_id=result.contact.id if result.contact is not None else None,
            opportunity_id=result.opportunity.id if result.opportunity is not None else None,
            occurred_at=now,
        )
    ]
    if result.lead.status != lead.status:
        events.append(
            StatusChanged(
                lead_id=lead.id, previous=lead.status, current=result.lead.status, occurred_at=now
            )
        )
    return ConversionOutcome(
        result=result,
        account_match=account_match,
        contact_match=contact_match,
        sent=sent,
        failed=failed,
        events=tuple(events),
        consents=consents,
        suppressed=suppressed,
    )


def _two_rules(rules: object) -> tuple[MatchingRule, MatchingRule]:
    if (
        not isinstance(rules, Sequence)
        or len(rules) != 2
        or not all(isinstance(rule, MatchingRule) for rule in rules)
    ):
        raise ValidationError(
            "convert_lead",
            [FieldError("rules", "type", "must be (contact rule, account rule) MatchingRules")],
        )
    return rules[0], rules[1]


def _save(
    uow: UnitOfWork,
    result: ConversionResult,
    *,
    lead: Lead,
    process: LeadProcess,
    ids: Callable[[str], str],
) -> tuple[Consent, ...]:
    """Stage every record of *result*: new ones added, changed ones updated, the lead.

    The converted lead goes through the save guard like any other write, as the
    conversion's own write of its ``ConversionRecord``. The lead's consents are issued
    again for the contact (when the unit of work stores consents): returned.
    """
    repositories: dict[str, Any] = {
        "account": uow.accounts,
        "contact": uow.contacts,
        "opportunity": uow.opportunities,
    }
    for kind in TARGETS:
        record = getattr(result, kind)
        if kind in result.created:
            repositories[kind].add(record)
        elif kind in result.updated:
            repositories[kind].update(record)
    _check_write(lead, result.lead, process=process, converting=True)
    uow.leads.update(result.lead)
    for move in result.reparent:
        for activity in uow.activities.find_by_keys([f"subject:{move.from_id}"]):
            if activity.subject_id == move.from_id:
                uow.activities.update(attrs.evolve(activity, subject_id=move.to_id))
    if result.contact is None:
        return ()
    return reissue_consents(uow, lead.id, result.contact.id, ids)


@attrs.frozen(kw_only=True)
class Rescore:
    """What :func:`rescore` did: leads scored, changed (saved) and skipped, and the events.

    *conflicts* are the leads whose new score could not be saved because someone kept
    changing them while their batch was scored (after every attempt); run again later.
    """

    _repr_html_ = result_html

    scored: int
    changed: int
    skipped: tuple[str, ...]
    events: tuple[ScoreChanged, ...]
    conflicts: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _stored_score(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return float(value)


def _score_decimal(total: float) -> Decimal:
    """A total as the Decimal a custom field stores: two places at most, 80 not 80.0."""
    value = Decimal(repr(round(total, 2)))
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _uses_activities(model: ScoringModel | PredictiveModel) -> bool:
    if isinstance(model, ScoringModel):
        return bool(model.engagement)
    return any(f == "activities" or f.startswith("activities.") for f in model.features)


def _rescore_one(
    uow: UnitOfWork,
    item: Lead,
    model: ScoringModel | PredictiveModel,
    scorer: CompiledScoringModel | None,
    *,
    now: datetime,
    field: str,
    write_rating: bool,
) -> ScoreChanged | None:
    """Score one stored lead; save it and return the event when its score or rating moved."""
    activities = (
        uow.activities.find_by_keys([f"subject:{item.id}"]) if _uses_activities(model) else []
    )
    value: int | Decimal
    if scorer is not None:
        result = scorer.score(item, activities=activities, now=now)
        value = _score_decimal(result.total)
        rating: str | None = result.rating
    else:
        value = model.predict(item, activities=activities).score  # type: ignore[union-attr]
        rating = None
    before = item.custom.get(field)
    if rating is not None:
        # A band named "hot" is written as the picklist's own "Hot".
        rating = _RATING.canonical(rating)  # type: ignore[assignment]
    new_rating = rating if write_rating and scorer is not None else item.rating
    same_value = before == value and before.__class__ is value.__class__
    if same_value and new_rating == item.rating:
        return None
    saved = attrs.evolve(
        item, custom={**item.custom, field: value}, rating=new_rating, updated_at=now
    )
    uow.leads.update(saved)
    return ScoreChanged(
        lead_id=item.id,
        model=model.name if isinstance(model, ScoringModel) else model.kind,
        previous=_stored_score(before),
        current=float(value),
        previous_rating=item.rating if write_rating else None,
        rating=rating,
        occurred_at=now,
    )


def _check_rescore(
    model: object,
    *,
    now: object,
    lead_ids: object,
    batch_size: object,
    field: object,
    attempts: object,
    write_rating: object = False,
) -> None:
    errors: list[FieldError] = []
    if not isinstance(model, ScoringModel | NaiveBayesFrequencies | LogisticModel):
        errors.append(
            FieldError(
                "model",
                "type",
                f"must be a scoring or predictive model, not {type(model).__name__}",
            )
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        errors.append(FieldError("batch_size", "out_of_range", "must be a whole number from 1"))
    if not isinstance(field, str) or not field.isidentifier() or len(field) > 80:
        errors.append(FieldError("field", "invalid", "must be a custom field name"))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        errors.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    if lead_ids is not None and (isinstance(lead_ids, str) or not isinstance(lead_ids, Iterable)):
        errors.append(FieldError("lead_ids", "type", "must be an iterable of lead ids"))
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        errors.append(FieldError("attempts", "out_of_range", "must be a whole number, 1 to 100"))
    if write_rating and isinstance(model, ScoringModel):
        # The rating picklist is restricted: a band it has no choice for would be written
        # to every lead in that band, a value LEAD_SCHEMA refuses.
        errors.extend(
            FieldError(
                f"model.bands[{i}].name",
                "unknown_choice",
                f"band {band.name!r} is not a rating ({', '.join(_RATING.choices)}): "
                "rename it, or score without write_rating",
            )
            for i, band in enumerate(model.bands)
            if _RATING.canonical(band.name) not in _RATING.choices
        )
    if errors:
        raise ValidationError("rescore", errors)


def rescore(
    uow: UnitOfWork,
    model: ScoringModel | PredictiveModel,
    *,
    now: datetime,
    lead_ids: Iterable[str] | None = None,
    batch_size: int = 1000,
    field: str = "score",
    write_rating: bool = False,
    attempts: int = 3,
) -> Rescore:
    """Re-score stored leads with *model*, save the scores that changed, report the changes.

    Each lead's score goes to its custom field *field*: a scoring model's total (a
    ``Decimal`` with two places), or a predictive model's 1–99 score. With
    *write_rating*, a scoring model's rating band also goes to ``Lead.rating``, spelled as
    the restricted rating picklist spells it (a band ``hot`` writes ``Hot``); a model with
    a band the picklist has no choice for (``Lukewarm``) is refused before anything is
    written. Leads are read and
    scored *batch_size* at a time with the compiled model, their activities fetched from
    ``uow.activities`` when the model reads activities. Converted leads are read-only and
    are skipped.

    Each batch is committed on its own, so a long run holds no lock and loses nothing: a
    lead edited by someone else while its batch was scored makes that batch's commit
    fail with a :class:`~leadmodel.ConcurrencyError` (the edit is never overwritten); the
    batch is then read and scored again, up to *attempts* times, and the leads still in
    conflict are reported in :attr:`Rescore.conflicts`, unsaved. A refused commit rolls
    the unit back, which forgets the versions it read, so the later batches of *lead_ids*
    (all read before the first batch) are read again too. A failure other than a
    conflict stops the run: the batches committed before it stay saved, the failing
    batch is not.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Condition, FitRule, Lead, ScoringModel
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", source="Web"))
    ...     uow.commit()
    >>> model = ScoringModel(fit=[FitRule("web", Condition("source", "eq", "Web"), 80)])
    >>> report = rescore(uow, model, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> report.changed, report.events[0].current, report.events[0].rating
    (1, 80.0, 'Hot')
    >>> rescore(uow, model, now=datetime(2026, 1, 2, tzinfo=timezone.utc)).changed
    0

    Raises:
        ValidationError: a wrong model, field, batch size or time; with *write_rating*,
            a band that is not a rating (code ``unknown_choice``).
        RecordNotFound: an id of *lead_ids* is not stored.
    """
    check_unit("rescore", uow)
    _check_rescore(
        model,
        now=now,
        lead_ids=lead_ids,
        batch_size=batch_size,
        field=field,
        attempts=attempts,
        write_rating=write_rating,
    )
    scorer = compile_scoring(model) if isinstance(model, ScoringModel) else None
    events: list[ScoreChanged] = []
    skipped: list[str] = []
    conflicts: list[str] = []
    scored = 0
    # A rollback (a refused commit) makes the unit forget the versions of what it read,
    # so a lead read before it would be written over whatever was committed meanwhile.
    rolled_back = False

    def score_batch(batch: list[Lead]) -> list[ScoreChanged]:
        found = []
        for item in batch:
            event = _rescore_one(
                uow, item, model, scorer, now=now, field=field, write_rating=write_rating
            )
            if event is not None:
                found.append(event)
        return found

    def save_batch(batch: list[Lead], *, read_before: bool) -> None:
        nonlocal scored, rolled_back
        for attempt in range(attempts):
            # Read the batch again when someone changed it while it was scored, or when it
            # was read before a rollback (lead_ids are all read before the first batch).
            if attempt or (read_before and rolled_back):
                fresh = [uow.leads.get(item.id) for item in batch]
                batch = [item for item in fresh if item is not None and item.converted is None]
            try:
                found = score_batch(batch)
            except RecordNotFound:  # a lead was removed after it was read: read again
                uow.rollback()
                rolled_back = True
                found = []
                if attempt + 1 < attempts:
                    continue
                conflicts.extend(item.id for item in batch)
                return
            try:
                uow.commit()
            except ConcurrencyError:  # the commit rolled the unit back
                rolled_back = True
                if attempt + 1 == attempts:
                    conflicts.extend(event.lead_id for event in found)
                    return
                continue
            scored += len(batch)
            events.extend(found)
            return

    with uow:
        leads: Iterable[Lead] = (
            uow.leads  # each lead read as its batch is filled
            if lead_ids is None
            else [_load(uow.leads, "lead", lead_id) for lead_id in lead_ids]
        )
        batch: list[Lead] = []
        for lead in leads:
            if lead.converted is not None:
                skipped.append(lead.id)
                continue
            batch.append(lead)
            if len(batch) == batch_size:
                save_batch(batch, read_before=lead_ids is not None)
                batch = []
        if batch:
            save_batch(batch, read_before=lead_ids is not None)
    return Rescore(
        scored=scored,
        changed=len(events),
        skipped=tuple(skipped),
        events=tuple(events),
        conflicts=tuple(conflicts),
    )


R = TypeVar("R")


def retrying(
    operation: Callable[[], R],
    *,
    attempts: int = 5,
    backoff: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> R:
    """Run *operation*, again after a :class:`~leadmodel.ConcurrencyError`, up to *attempts* times.

    Optimistic concurrency refuses a write based on a stale read (or a database another
    writer held past its timeout, :class:`~leadmodel.DatabaseBusy`); the remedy is to run
    the use case again, so that it reads what is stored now. Every service opens its unit
    of work afresh, so a service call is safe to repeat: ``retrying(lambda: save(uow,
    lead))``. Waits ``backoff``, then twice as long each time, between attempts (pass
    ``sleep`` to wait otherwise, e.g. in tests). Other errors are raised at once.

    >>> from leadmodel import ConcurrencyError
    >>> tries = []
    >>> def flaky():
    ...     tries.append(1)
    ...     if len(tries) < 3:
    ...         raise ConcurrencyError("changed in storage since this unit read them: lead L1")
    ...     return "saved"
    >>> retrying(flaky, sleep=lambda seconds: None), len(tries)
    ('saved', 3)

    Raises:
        ConcurrencyError: the last attempt's, when every attempt conflicted.
        ValidationError: *operation* is not callable, or bad *attempts*/*backoff*.
    """
    errors = []
    if not callable(operation):
        errors.append(FieldError("operation", "type", "must be a function of no arguments"))
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        errors.append(FieldError("attempts", "out_of_range", "must be a whole number, 1 to 100"))
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or not 0 <= backoff <= 60:
        errors.append(FieldError("backoff", "out_of_range", "must be 0 to 60 seconds"))
    if errors:
        raise ValidationError("retrying", errors)
    for attempt in range(attempts):
        try:
            return operation()
        except ConcurrencyError:
            if attempt + 1 == attempts:
                raise
            sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


# -- capture: a submitted form, all the way in --------------------------------------------

CaptureStatus = Literal[
    "created", "attached", "pending_approval", "approved", "blocked", "rejected", "suppressed"
]


_CAPTURE_FIELDS: Final = frozenset(
    ("pending_approval", "approval", "approval_reason", "approval_at", "spam_score", "spam_signals")
)
"""Custom fields the capture pipeline writes itself; a score must not go to one."""
_CUSTOM_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


@attrs.frozen(kw_only=True)
class CaptureConfig:
    """The rules a captured lead goes through; leave out a step by leaving it ``None``.

    Args:
        spec: how the form maps to a lead.
        duplicates: the duplicate policy (a ``block`` decision saves nothing).
        attach_duplicates: a submission from someone already stored is recorded as a
            ``form_submitted`` activity on the existing lead or contact instead of a new lead.
        scoring: the scoring model; the total goes to ``custom.<score_field>`` (a custom
            field name, and not one the capture writes itself: ``pending_approval``,
            ``approval*``, ``spam_score``, ``spam_signals``).
        qualification: the qualification policy; its suggested status and stage apply.
        assignment: the assignment rule.
        auto_response: the auto-response rule.
        workflows: workflow rules, run on the capture's events.
        auto_convert: auto-conversion rules (:class:`~leadmodel.AutoConvertRule`): the
            first field rule the new lead meets converts it, through
            :func:`convert_lead` (existing contacts and accounts matched), right after
            the capture is saved. A held lead converts when it is approved; a lead the
            capture closed (disqualified by *qualification*, closed by a workflow) never
            does.
        process: the lead process statuses are checked against.
        record_type: the lead record type of captured leads: the lead is stamped with it
            (``custom["record_type"]``, picklist defaults) and checked against it just
            before it is saved; a lead that breaks it (a required field blank, a picklist
            value it does not allow) is ``rejected`` with those errors and nothing is
            saved. A capture held for approval is only stamped, and checked when
            approved (after the assignment it skipped); an approval that breaks it is
            ``rejected`` and the lead stays held. Render the form from it with
            ``record_type.form_spec()``.
    """

    spec: FormSpec = attrs.field(factory=FormSpec.default)
    duplicates: DuplicatePolicy | None = None
    attach_duplicates: bool = False
    scoring: ScoringModel | None = None
    score_field: str = "score"
    qualification: QualificationPolicy | None = None
    assignment: AssignmentRule | None = None
    auto_response: AutoResponseRule | None = None
    workflows: tuple[WorkflowRule, ...] = attrs.field(default=(), converter=as_tuple)
    auto_convert: tuple[AutoConvertRule, ...] = attrs.field(default=(), converter=as_tuple)
    process: LeadProcess = DEFAULT_LEAD_PROCESS
    record_type: RecordType | None = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        if self.record_type is not None and self.record_type.kind != "lead":
            raise ValidationError(
                "CaptureConfig",
                [FieldError("record_type", "not_lead", "must be a record type of leads")],
            )
        if self.score_field in _CAPTURE_FIELDS:
            raise ValidationError(
                "CaptureConfig",
                [
                    FieldError(
                        "score_field",
                        "reserved",
                        f"custom.{self.score_field} is written by the capture itself (spam "
                        "hold and approval): the score would overwrite it",
                    )
                ],
            )
        if _CUSTOM_NAME.fullmatch(self.score_field) is None:
            raise ValidationError(
                "CaptureConfig",
                [
                    FieldError(
                        "score_field",
                        "invalid_name",
                        "must be a custom field name: a letter, then letters, digits and _ "
                        f"(at most 80; got {describe_value(self.score_field)})",
                    )
                ],
            )


@attrs.frozen(kw_only=True)
class CaptureResult:
    """What :func:`capture_lead` did, step by step.

    *status* is ``created``, ``attached`` (recorded on an existing record, *attached_to*),
    ``pending_approval`` (saved, held for a person: no assignment, no messages),
    ``approved`` (a held lead let in by :func:`approve_capture`), ``blocked`` (a
    duplicate; nothing saved), ``rejected`` (*errors*, nothing saved; or a held lead
    closed by :func:`reject_capture`) or ``suppressed`` (the person was erased at their
    request; nothing saved or sent). *steps* says what each step decided; *events* are
    for the host to publish; *state* is the assignment state to pass to the next capture.
    *auto_conversion* is the auto-conversion rule that fired (``None`` when none did) and
    *conversion* what converting did (``None`` too when it failed: *steps* says why).
    *suppressed* are the messages to the person the last-moment consent gate held back
    (an opt-out or a withdrawn consent), each with its reason: never sent. *consents* are
    the :class:`~leadmodel.Consent` values the form gave (checkboxes and opt-outs, see
    :func:`~leadmodel.form_consents`), stored through ``uow.consents`` when the unit of
    work supports consents.
    """

    _repr_html_ = result_html

    status: CaptureStatus
    lead: Lead | None = None
    attached_to: str | None = None
    errors: FormErrors | None = None
    duplicates: DuplicateCheck | None = None
    score: Score | None = None
    qualification: Qualification | None = None
    assignment: Assignment | None = None
    auto_response: AutoResponse | None = None
    workflow: WorkflowOutcome | None = None
    sent: tuple[Notification, ...] = ()
    failed: tuple[tuple[Notification, str], ...] = ()
    events: tuple[DomainEvent, ...] = ()
    state: AssignmentState = attrs.field(factory=AssignmentState)
    steps: tuple[str, ...] = ()
    auto_conversion: AutoConversion | None = None
    conversion: ConversionOutcome | None = None
    suppressed: tuple[Suppressed, ...] = ()
    consents: tuple[Consent, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _apply_updates(
    lead: Lead,
    events: Sequence[DomainEvent],
    config: CaptureConfig,
    score: Score | None,
    steps: list[str],
) -> tuple[Lead, WorkflowOutcome]:
    """Run the workflows on each of the capture's *events*, each on the lead as changed.

    Field, status and stage actions apply through the guarded changes (run_workflows);
    refusals become steps, and the status and stage changes become events.
    """
    found: list[WorkflowOutcome] = []
    changes: list[DomainEvent] = []
    for event in events:
        outcome = run_workflows(event, lead, config.workflows, process=config.process, score=score)
        found.append(outcome)
        lead = outcome.lead if outcome.lead is not None else lead
        changes += outcome.events
        steps += [f"workflow {u.rule}: {u.field} = {u.value!r}" for u in outcome.updates]
        steps += [
            f"workflow {r.rule}: {r.action.kind} refused ({r.code}): {r.message}"
            for r in outcome.refused
        ]
    workflow = WorkflowOutcome(
        tuple(name for f in found for name in f.fired),
        tuple(n for f in found for n in f.notifications),
        tuple(u for f in found for u in f.updates),
        tuple(r for f in found for r in f.reasons),
        refused=tuple(r for f in found for r in f.refused),
        lead=lead,
        events=tuple(e for f in found for e in f.events),
    )
    for change in changes:
        if isinstance(change, StatusChanged):
            steps.append(f"workflow: status {change.previous} -> {change.current}")
        elif isinstance(change, StageChanged) and change.current is not None:
            steps.append(f"workflow: lifecycle stage -> {change.current.value}")
    return lead, workflow


def _qualify_and_move(
    lead: Lead,
    config: CaptureConfig,
    score: Score | None,
    *,
    now: datetime,
    steps: list[str],
    events: list[DomainEvent],
) -> tuple[Lead, Qualification | None]:
    policy = config.qualification
    if policy is None:
        return lead, None
    result = qualify(lead, policy, score=score)
    steps.append(f"qualification: {result.decision}")
    if result.suggested_status is not None:
        moved = transition(lead, result.suggested_status, process=config.process)
        events.append(
            StatusChanged(
                lead_id=lead.id,
                previous=lead.status,
                current=moved.status,
                occurred_at=now,
            )
        )
        lead = moved
    if result.suggested_stage is not None:
        previous = lead.lifecycle_stage
        lead = advance(lead, result.suggested_stage)
        events.append(
            StageChanged(
                record_id=lead.id, previous=previous, current=lead.lifecycle_stage, occurred_at=now
            )
        )
    return lead, result


def capture_lead(
    uow: UnitOfWork,
    form: Mapping[str, str | list[str]],
    config: CaptureConfig,
    *,
    ids: Callable[[str], str],
    now: datetime,
    state: AssignmentState | None = None,
    available: Collection[str] | None = None,
    notifier: Notifier | None = None,
    attempts: int = 3,
    privacy_key: PrivacyKey | None = None,
) -> CaptureResult:
    """A submitted form, all the way in.

    Parse, check duplicates, score, qualify, assign, save, then answer and notify.
    Everything up to the save is pure and happens in one unit of work: a failure before
    the commit saves nothing. Notifications (the auto-response, the assignment entry's
    template, workflow messages) go through *notifier* after the commit; one that fails is
    reported in ``failed`` and never loses the lead. Without a notifier they are returned
    in ``CaptureResult`` unsent, in ``failed`` with the reason "no notifier".

    Two processes capturing the same person at the same moment make one lead: the
    duplicate search is re-checked at commit, so the second commit fails with a
    :class:`~leadmodel.ConcurrencyError` and the capture runs again (up to *attempts*
    times, new ids each time), now finding the first lead — blocked, attached or alerted
    as the policy says. Nothing is sent before a commit succeeds.

    With a *privacy_key*, a form from a person erased at their request (their email or
    phone is in the privacy log, :func:`is_erased`) is ``suppressed``: nothing is saved
    or sent, and a ``"suppressed"`` privacy log entry (a keyed hash) is written.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import AssignmentRule, User
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> config = CaptureConfig(assignment=AssignmentRule([], default_owner=User("u-1")))
    >>> result = capture_lead(
    ...     MemoryUnitOfWork(),
    ...     {"name": "Ada Lovelace", "email": "ada@engines.io", "company": "Engines"},
    ...     config,
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ... )
    >>> result.status, result.lead.owner_id, [type(e).__name__ for e in result.events]
    ('created', 'u-1', ['LeadCaptured', 'LeadAssigned'])

    Raises:
        ValidationError: misuse — a wrong argument type or a naive *now*. What is wrong in
            the form is a ``rejected`` result.
        ConcurrencyError: every attempt conflicted with other writers; nothing was saved.
    """
    check_unit("capture_lead", uow)
    _check_capture_arguments("capture_lead", config, notifier, attempts)
    if privacy_key is not None:
        _check_privacy_key("capture_lead", privacy_key, required=True)
    return retrying(
        lambda: _capture(
            uow,
            form,
            config,
            ids=ids,
            now=now,
            state=state,
            available=available,
            notifier=notifier,
            privacy_key=privacy_key,
        ),
        attempts=attempts,
        backoff=0.01,
    )


def _check_capture_arguments(
    function: str, config: object, notifier: object, attempts: object
) -> None:
    if not isinstance(config, CaptureConfig):
        raise ValidationError(
            function,
            [FieldError("config", "type", f"must be a CaptureConfig, not {type(config).__name__}")],
        )
    if notifier is not None and not isinstance(notifier, Notifier):
        raise ValidationError(function, [FieldError("notifier", "type", "must be a Notifier")])
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise ValidationError(
            function,
            [FieldError("attempts", "out_of_range", "must be a whole number, 1 to 100")],
        )


def _capture(  # noqa: PLR0915 - the pipeline's steps, in order, in one place
    uow: UnitOfWork,
    form: Mapping[str, str | list[str]],
    config: CaptureConfig,
    *,
    ids: Callable[[str], str],
    now: datetime,
    state: AssignmentState | None,
    available: Collection[str] | None,
    notifier: Notifier | None,
    approving: str | None = None,
    privacy_key: PrivacyKey | None = None,
) -> CaptureResult:
    """The capture pipeline; with *approving*, the steps a held lead of that id skipped."""
    current_state = state if state is not None else AssignmentState()
    steps: list[str] = []
    stored: Lead | None = None
    lead = Lead(id="-", last_name="-", company="-")  # replaced below, before any use
    consents: tuple[Consent, ...] = ()
    pending = False
    events: list[DomainEvent] = []
    if approving is None:
        parsed = parse_web_form(form, config.spec, ids=ids, now=now)
        if isinstance(parsed, FormErrors):
            steps.append(
                f"form rejected: {len(parsed.errors)} problem(s) in {', '.join(parsed.fields)}"
            )
            return CaptureResult(
                status="rejected", errors=parsed, state=current_state, steps=tuple(steps)
            )
        lead = parsed
        consents = form_consents(form, config.spec, subject_id=lead.id, ids=ids, now=now)
        pending = lead.custom.get("pending_approval") is True
        steps.append(
            f"form parsed into lead {lead.id}"
            + (
                f"; held for approval (spam score {lead.custom.get('spam_score')})"
                if pending
                else ""
            )
        )
        events.append(_captured(lead, pending=pending, now=now))
    with uow:
        if approving is not None:
            stored = _held(uow, approving, "approve_capture")
            lead = _approved(stored, now=now)
            steps.append(f"held lead {lead.id} approved: running the steps it skipped")
            events.append(_captured(lead, pending=False, now=now))
        refusal = None if privacy_key is None else suppression(uow, privacy_key, lead, now=now)
        if refusal is not None:
            uow.commit()  # the "suppressed" privacy log entry only
            steps.append(refusal)
            return CaptureResult(status="suppressed", state=current_state, steps=tuple(steps))
        check: DuplicateCheck | None = None
        if config.duplicates is not None and approving is None:
            candidates = _candidates(uow, (uow.leads, uow.contacts), lead, config.duplicates)
            check = check_duplicates(lead, candidates, config.duplicates, action="create")
            steps.append(f"duplicates: {check.reason}")
            if check.decision == "block":
                return CaptureResult(
                    status="blocked",
                    duplicates=check,
                    state=current_state,
                    steps=tuple(steps),
                )
            if check.matches and config.attach_duplicates:
                other = next((e.b_id if e.a_id == lead.id else e.a_id) for e in check.matches)
                existing = next(c for c in candidates if getattr(c, "id", None) == other)
                activity = Activity(
                    id=ids("activity"),
                    subject_id=other,
                    kind="form_submitted",
                    occurred_at=now,
                    properties=_submission(lead),
                )
                uow.activities.add(activity)
                consents = tuple(attrs.evolve(c, subject_id=other) for c in consents)
                _store_consents(uow, consents, steps)
                _attach_opt_outs(uow, existing, lead, config.process, now=now, steps=steps)
                uow.commit()
                steps.append(
                    f"attached to existing {type(existing).__name__.lower()} {other} as "
                    f"activity {activity.id}"
                )
                return CaptureResult(
                    status="attached",
                    consents=consents,
                    attached_to=other,
                    duplicates=check,
                    state=current_state,
                    steps=tuple(steps),
                )
        score: Score | None = None
        if config.scoring is not None:
            score = compile_scoring(config.scoring).score(lead, now=now)
            lead = attrs.evolve(
                lead, custom={**lead.custom, config.score_field: _score_decimal(score.total)}
            )
            steps.append(
                f"score: {_shown(score.total)} ({score.rating}"
                + (f", grade {score.grade}" if score.grade else "")
                + ")"
            )
            events.append(
                LeadScored(
                    lead_id=lead.id,
                    model=config.scoring.name,
                    total=score.total,
                    rating=score.rating,
                    occurred_at=now,
                )
            )
        qualification: Qualification | None = None
        assignment: Assignment | None = None
        response: AutoResponse | None = None
        workflow: WorkflowOutcome | None = None
        outgoing: list[Notification] = []
        if not pending:
            lead, qualification = _qualify_and_move(
                lead, config, score, now=now, steps=steps, events=events
            )
            if config.assignment is not None:
                assignment = assign(
                    lead, config.assignment, current_state, now=now, available=available
                )
                lead = assignment.apply(lead)
                current_state = assignment.state
                steps.append(f"assignment: {assignment.reason}")
                events.append(
                    LeadAssigned(
                        lead_id=lead.id,
                        owner_id=assignment.owner_id,
                        queue_id=assignment.queue_id,
                        reason=assignment.reason,
                        occurred_at=now,
                    )
                )
                outgoing += assignment.notifications
            if config.workflows:
                lead, workflow = _apply_updates(lead, tuple(events), config, score, steps)
                events += workflow.events
                outgoing += workflow.notifications
            if config.auto_response is not None:
                response = respond(lead, config.auto_response)
                steps.append(f"auto-response: {response.reason}")
                if response.notification is not None:
                    outgoing.append(response.notification)
        else:
            steps.append("held for approval: no qualification, assignment or messages")
        if config.record_type is not None:
            # A held capture skipped the steps that may fill required fields (assignment
            # gives the owner): it is stamped now and checked when approved.
            lead, refused = _of_record_type(lead, config.record_type, steps, check=not pending)
            if refused is not None:
                return CaptureResult(
                    status="rejected",
                    errors=refused,
                    state=state if state is not None else AssignmentState(),
                    steps=tuple(steps),
                )
        _check_write(None, lead, process=config.process)
        _store_captured(uow, stored, lead, process=config.process)
        _store_consents(uow, consents, steps)
        uow.commit()
    steps.append(f"saved lead {lead.id}")
    fired, conversion = (
        _auto_convert(uow, lead, config, ids=ids, now=now, notifier=notifier, steps=steps)
        if config.auto_convert and not pending
        else (None, None)
    )
    if conversion is not None:
        lead = conversion.result.lead
        events += conversion.events
    sent, failed, suppressed = _deliver(uow, outgoing, notifier, now=now, consents=consents)
    steps += [f"not sent: {h.notification.template} ({h.reason})" for h in suppressed]
    return CaptureResult(
        status="approved"
        if approving is not None
        else "pending_approval"
        if pending
        else "created",
        auto_conversion=fired,
        conversion=conversion,
        lead=lead,
        duplicates=check,
        score=score,
        qualification=qualification,
        assignment=assignment,
        auto_response=response,
        workflow=workflow,
        sent=sent,
        failed=failed,
        suppressed=suppressed,
        consents=consents,
        events=tuple(events),
        state=current_state,
        steps=tuple(steps),
    )


def _captured(lead: Lead, *, pending: bool, now: datetime) -> LeadCaptured:
    return LeadCaptured(
        lead_id=lead.id,
        source=lead.source,
        spam_score=_spam_score(lead.custom.get("spam_score")),
        pending_approval=pending,
        occurred_at=now,
    )


def _spam_score(value: object) -> int:
    """The stored ``custom.spam_score`` as a whole number; ``0`` for anything not a number.

    A held lead is stored: a person may have written a note over its spam score ("high")
    before approving it, and approving it must not fail on that.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return 0
    return int(value)


def _check_now(function: str, now: object) -> None:
    """Refuse a *now* that is not a timezone-aware datetime, before anything is written."""
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValidationError(
            function,
            [
                FieldError(
                    "now",
                    "type",
                    f"must be a timezone-aware datetime, not {describe_value(now)}",
                )
            ],
        )


def _store_consents(uow: UnitOfWork, consents: Sequence[Consent], steps: list[str]) -> None:
    """Add the form's *consents* through ``uow.consents``; say so in *steps* either way."""
    if not consents:
        return
    repository = consents_of(uow)
    if repository is None:
        steps.append(
            f"consents: {len(consents)} captured, not stored (the unit of work does not "
            "support consents): they are in the result"
        )
        return
    for consent in consents:
        repository.add(consent)
    steps.append(
        f"consents: {len(consents)} stored ("
        + ", ".join(f"{c.channel}/{c.purpose} {c.status}" for c in consents)
        + ")"
    )


def _store_captured(
    uow: UnitOfWork, stored: Lead | None, lead: Lead, *, process: LeadProcess
) -> None:
    """Add a captured lead, or update the held lead it was (checked against *stored*)."""
    if stored is None:
        uow.leads.add(lead)
        return
    _check_write(stored, lead, process=process)
    uow.leads.update(lead)


def _auto_convert(
    uow: UnitOfWork,
    lead: Lead,
    config: CaptureConfig,
    *,
    ids: Callable[[str], str],
    now: datetime,
    notifier: Notifier | None,
    steps: list[str],
) -> tuple[AutoConversion | None, ConversionOutcome | None]:
    """Convert the saved *lead* when an auto-conversion rule fires; report it in *steps*.

    The capture is committed already: a conversion that fails is a step, never undoes it.
    A lead the capture closed (disqualified by the qualification policy, or closed by a
    workflow) is not converted: no rule is run.
    """
    status = config.process.get(lead.status)
    if status is not None and status.is_closed and lead.converted is None:
        steps.append(
            f"auto-conversion: not run, the lead is closed ({lead.status}): a disqualified "
            "lead is not converted"
        )
        return None, None
    fired = auto_convert(lead, config.auto_convert)
    if fired is None:
        steps.append(f"auto-conversion: none of {len(config.auto_convert)} rule(s) fired")
        return None, None
    try:
        outcome = convert_lead(
            uow,
            lead.id,
            fired.options,
            ids=ids,
            now=now,
            process=config.process,
            match_existing=True,
            notifier=notifier,
        )
    except _errors.LeadModelError as exc:
        first = str(exc).splitlines()[0][:300]
        steps.append(f"auto-conversion: {fired.reason}; not converted ({first})")
        return fired, None
    made = ", ".join(f"{type(r).__name__.lower()} {r.id}" for r in outcome.result.records)
    steps.append(f"auto-conversion: {fired.reason}; converted into {made}")
    return fired, outcome


def _attach_opt_outs(
    uow: UnitOfWork,
    existing: object,
    submitted: Lead,
    process: LeadProcess,
    *,
    now: datetime,
    steps: list[str],
) -> None:
    """Turn on the existing record's opt-out flags a submission attached to it set.

    "Unsubscribe from all email" and "do not call" hold for every purpose, not only the
    marketing the withdrawn consents name, so they land on the record the submission was
    attached to (the contact a converted lead became, a converted lead being read-only).
    Flags are only turned on here, never off.
    """
    target = existing
    if isinstance(existing, Lead) and existing.converted is not None:
        contact_id = existing.converted.contact_id
        target = uow.contacts.get(contact_id) if contact_id else None
    if not isinstance(target, Lead | Contact):
        return
    flags = [
        name
        for name in ("email_opt_out", "do_not_call")
        if getattr(submitted, name) is True and getattr(target, name) is not True
    ]
    if not flags:
        return
    last = target.updated_at
    stamp = now if last is None or last < now else last + timedelta(microseconds=1)
    changed = attrs.evolve(
        target,
        email_opt_out=target.email_opt_out or submitted.email_opt_out,
        do_not_call=target.do_not_call or submitted.do_not_call,
        updated_at=stamp,
    )
    kind = "lead" if isinstance(target, Lead) else "contact"
    try:
        _check_write(target, changed, process=process)
    except _errors.LeadModelError as exc:  # reported: the consents are stored regardless
        steps.append(f"opt-out not set on {kind} {target.id}: {str(exc).splitlines()[0][:200]}")
        return
    if isinstance(changed, Lead):
        uow.leads.update(changed)
    else:
        uow.contacts.update(changed)
    steps.append(f"opt-out set on {kind} {target.id}: {', '.join(flags)}")


_APPROVAL_FIELDS: Final = ("pending_approval", "approval", "approval_reason", "approval_at")


def _held(uow: UnitOfWork, lead_id: str, function: str) -> Lead:
    """The stored lead *lead_id*, held for approval; refused otherwise."""
    if not isinstance(lead_id, str):
        raise ValidationError(
            function,
            [FieldError("lead_id", "type", f"must be a lead id, not {describe_value(lead_id)}")],
        )
    lead: Lead = _load(uow.leads, "lead", lead_id)
    _refuse_converted(lead, function.removesuffix("_capture"))
    if lead.custom.get("pending_approval") is not True:
        decided = lead.custom.get("approval")
        already = f" (it was {decided} already)" if isinstance(decided, str) else ""
        raise ValidationError(
            function,
            [
                FieldError(
                    "lead_id",
                    "not_held",
                    f"lead {lead_id!r} is not held for approval{already}: only a capture "
                    "held for its spam signals (custom.pending_approval) can be approved "
                    "or rejected",
                )
            ],
        )
    return lead


def _decided(lead: Lead, decision: str, *, now: datetime, reason: str | None = None) -> Lead:
    """*lead* marked *decision* (``approved``/``rejected``): no longer pending, and when."""
    custom = {k: v for k, v in lead.custom.items() if k not in _APPROVAL_FIELDS}
    custom |= {"approval": decision, "approval_at": now}
    if reason is not None:
        custom["approval_reason"] = reason
    return attrs.evolve(lead, custom=custom, updated_at=now)


def _approved(lead: Lead, *, now: datetime) -> Lead:
    return _decided(lead, "approved", now=now)


def approve_capture(
    uow: UnitOfWork,
    lead_id: str,
    config: CaptureConfig,
    *,
    ids: Callable[[str], str],
    now: datetime,
    state: AssignmentState | None = None,
    available: Collection[str] | None = None,
    notifier: Notifier | None = None,
    attempts: int = 3,
) -> CaptureResult:
    """Let in a capture held for approval, running the steps it skipped (Zoho's approval).

    A lead :func:`capture_lead` held for its spam signals was saved, scored and nothing
    else. Approving it re-scores it (as it is now: a reviewer may have corrected it),
    then runs qualification, assignment, workflows (on a ``LeadCaptured`` event that now
    says ``pending_approval=False``), the auto-response and auto-conversion with
    *config*, as :func:`capture_lead` would have; the lead is marked
    ``custom.approval = "approved"`` with ``custom.approval_at``, and
    ``custom.pending_approval`` is cleared (its ``spam_score`` and ``spam_signals`` stay).
    The status of the result is ``approved``. The duplicate check is not run again.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import AssignmentRule, User
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> uow, ids = MemoryUnitOfWork(), SequentialIds()
    >>> config = CaptureConfig(assignment=AssignmentRule([], default_owner=User("u-1")))
    >>> spam = {
    ...     "name": "Ada Lovelace",
    ...     "email": "ada@engines.io",
    ...     "company": "Engines",
    ...     "honeypot": "filled by a bot",
    ... }
    >>> held = capture_lead(
    ...     uow, spam, config, ids=ids, now=datetime(2026, 1, 5, tzinfo=timezone.utc)
    ... )
    >>> held.status, held.lead.owner_id
    ('pending_approval', None)
    >>> result = approve_capture(
    ...     uow, held.lead.id, config, ids=ids, now=datetime(2026, 1, 6, tzinfo=timezone.utc)
    ... )
    >>> result.status, result.lead.owner_id, result.lead.custom["approval"]
    ('approved', 'u-1', 'approved')

    Raises:
        RecordNotFound: no lead *lead_id*.
        ValidationError: code ``not_held`` — the lead is not held for approval (never
            held, or approved or rejected already); or arguments of the wrong type (a
            *now* that is not a timezone-aware datetime, *ids* that are not callable:
            nothing is written).
        ConvertedLeadError: the lead is converted.
        ConcurrencyError: every attempt conflicted with other writers; nothing was saved.
    """
    check_unit("approve_capture", uow)
    _check_capture_arguments("approve_capture", config, notifier, attempts)
    _check_now("approve_capture", now)
    if not callable(ids):
        # Only a conversion uses them, after the approval is saved: refuse them first.
        raise ValidationError(
            "approve_capture",
            [FieldError("ids", "type", "must be a callable giving a new id for a kind")],
        )
    return retrying(
        lambda: _capture(
            uow,
            {},
            config,
            ids=ids,
            now=now,
            state=state,
            available=available,
            notifier=notifier,
            approving=lead_id,
        ),
        attempts=attempts,
        backoff=0.01,
    )


def reject_capture(
    uow: UnitOfWork,
    lead_id: str,
    *,
    reason: str,
    now: datetime,
    process: LeadProcess = DEFAULT_LEAD_PROCESS,
) -> CaptureResult:
    """Turn down a capture held for approval: close it, keeping it and the reason.

    The lead is kept, not removed (so a later submission from the same sender is still
    recognised, and the decision can be audited or undone by a person): it moves to the
    first closed, unconverted status of *process* (``Closed - Not Converted``) with
    ``custom.approval = "rejected"``, ``custom.approval_reason`` and
    ``custom.approval_at``; ``custom.pending_approval`` is cleared. Nothing is sent. To
    delete it instead, remove it from the repository afterwards. The result's status is
    ``rejected`` with the closed lead and its ``StatusChanged`` event.

    >>> from datetime import datetime, timezone
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> uow = MemoryUnitOfWork()
    >>> spam = {
    ...     "name": "Buy Now",
    ...     "email": "x@mailinator.com",
    ...     "company": "http://x.example",
    ...     "honeypot": "filled by a bot",
    ... }
    >>> held = capture_lead(
    ...     uow,
    ...     spam,
    ...     CaptureConfig(),
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ... )
    >>> result = reject_capture(
    ...     uow, held.lead.id, reason="spam", now=datetime(2026, 1, 6, tzinfo=timezone.utc)
    ... )
    >>> result.status, result.lead.status, result.lead.custom["approval_reason"]
    ('rejected', 'Closed - Not Converted', 'spam')

    Raises:
        RecordNotFound: no lead *lead_id*.
        ValidationError: code ``not_held`` — the lead is not held for approval; a blank
            or overlong *reason*; a *process* without a closed, unconverted status; or
            arguments of the wrong type (a *now* that is not a timezone-aware datetime:
            nothing is written).
        ConvertedLeadError: the lead is converted.
        TransitionError: *process* does not allow the move to its closed status.
        ConcurrencyError: the lead changed in storage meanwhile; nothing was saved.
    """
    check_unit("reject_capture", uow)
    _check_now("reject_capture", now)
    problem = _checks.text_problem(reason, 255) if isinstance(reason, str) else None
    if not isinstance(reason, str) or problem is not None:
        message = (
            problem[1] if problem is not None else f"must be text, not {describe_value(reason)}"
        )
        raise ValidationError("reject_capture", [FieldError("reason", "invalid", message)])
    _checks.require_instance(
        process, LeadProcess, "a LeadProcess", function="reject_capture", path="process"
    )
    closed = next((s for s in process.ordered() if s.is_closed and not s.is_converted), None)
    if closed is None:
        raise ValidationError(
            "reject_capture",
            [
                FieldError(
                    "process",
                    "no_closed_status",
                    f"process {process.name!r} has no closed, unconverted status to reject into",
                )
            ],
        )
    with uow:
        stored = _held(uow, lead_id, "reject_capture")
        moved = (
            stored
            if stored.status == closed.name
            else transition(stored, closed.name, process=process)
        )
        lead = _decided(moved, "rejected", now=now, reason=reason)
        _check_write(stored, lead, process=process)
        uow.leads.update(lead)
        uow.commit()
    events: tuple[DomainEvent, ...] = ()
    if stored.status != lead.status:
        events = (
            StatusChanged(
                lead_id=lead.id, previous=stored.status, current=lead.status, occurred_at=now
            ),
        )
    return CaptureResult(
        status="rejected",
        lead=lead,
        events=events,
        steps=(
            f"held lead {lead.id} rejected: {reason}",
            f"status {stored.status} -> {lead.status}; kept, with the reason",
        ),
    )


def _of_record_type(
    lead: Lead, record_type: RecordType, steps: list[str], *, check: bool = True
) -> tuple[Lead, FormErrors | None]:
    """*lead* stamped with *record_type*, or the errors it does not meet it with.

    Without *check* (a capture held for approval) the lead is only stamped.
    """
    other = _other_record_type(lead, record_type)
    if other is not None:  # the form names another record type: never silently restamped
        steps.append(f"record type {record_type.name}: rejected, {other.message}")
        return lead, FormErrors((other,))
    try:
        stamped = with_record_type(lead, record_type)
    except ValidationError as exc:  # a picklist default that does not fit the field
        steps.append(f"record type {record_type.name}: rejected, its defaults do not fit")
        return lead, FormErrors(exc.errors)
    if not check:
        steps.append(f"record type {record_type.name}: stamped, checked when approved")
        return stamped, None
    result = validate_layout(stamped, record_type)
    if result.ok:
        steps.append(f"record type {record_type.name}: ok")
        return stamped, None
    steps.append(
        f"record type {record_type.name}: rejected, "
        + ", ".join(f"{e.path} {e.code}" for e in result.errors)
    )
    return lead, FormErrors(result.errors)


def _submission(lead: Lead) -> dict[str, str]:
    """What a repeated submission said, for the activity it becomes."""
    found = {
        "name": lead.name if hasattr(lead, "name") else lead.last_name,
        "email": str(lead.email) if lead.email is not None else "",
        "source": lead.source or "",
        "description": (lead.description or "")[:1000],
    }
    return {key: value for key, value in found.items() if isinstance(value, str) and value}


def _deliver(
    uow: UnitOfWork,
    outgoing: Sequence[Notification],
    notifier: Notifier | None,
    *,
    now: datetime,
    consents: Sequence[Consent] = (),
) -> tuple[tuple[Notification, ...], tuple[tuple[Notification, str], ...], tuple[Suppressed, ...]]:
    """The last-moment consent gate, then :func:`_send`: sent, failed and suppressed.

    Every send point of the services goes through here, so no message to a person who
    opted out or withdrew consent reaches *notifier* (see :mod:`leadmodel._consent_gate`).
    """
    allowed, suppressed = gate(uow, outgoing, now=now, consents=consents)
    sent, failed = _send(allowed, notifier)
    return sent, failed, suppressed


def _send(
    outgoing: Sequence[Notification], notifier: Notifier | None
) -> tuple[tuple[Notification, ...], tuple[tuple[Notification, str], ...]]:
    """Send *outgoing* after a commit: what went, and what failed with its error.

    A failure is reported, never raised: the records are saved already.
    """
    sent: list[Notification] = []
    failed: list[tuple[Notification, str]] = []
    for notification in outgoing:
        if notifier is None:
            failed.append((notification, "no notifier"))
            continue
        try:
            notifier.send(notification)
        except Exception as exc:  # noqa: BLE001 - the lead is saved; report, not raise
            failed.append((notification, f"{type(exc).__name__}: {exc}"))
        else:
            sent.append(notification)
    return tuple(sent), tuple(failed)
