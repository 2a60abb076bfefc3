"""Stored merges: merge records in storage, moving their dependants, and undo it.

The services :func:`merge_records` and :func:`unmerge_records` (re-exported by
:mod:`leadmodel.services`) run the pure :func:`leadmodel.merge` over stored records and keep
a :class:`~leadmodel.MergeRecord` (originals, provenance, every dependant moved) through the
optional ``uow.merges`` repository, so a merge can be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from leadmodel import intake
from leadmodel._consent_gate import move_consents, restore_consents
from leadmodel._html import result_html
from leadmodel._units import check_unit
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import Account
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    ConvertedLeadError,
    FieldError,
    LeadModelError,
    RecordNotFound,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import RecordsMerged
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.intake import ColumnMapping, ImportReport, OnDuplicate, RowOutcome
from leadmodel.ports import PrivacyKey, SupportsMerges, UnitOfWork
from leadmodel.privacy import _check_key as check_key
from leadmodel.privacy import suppression
from leadmodel.rules.layouts import RecordType
from leadmodel.rules.matching import STANDARD_LEAD_RULE, CompiledRule, MatchingRule
from leadmodel.rules.merge import MergeRecord, MergeResult, Moved, Survivorship, merge

__all__ = ["MergeOutcome", "UnmergeOutcome", "import_leads", "merge_records", "unmerge_records"]

_KINDS: Final = ("lead", "contact", "account", "opportunity")
_REPOSITORIES: Final = {
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "opportunity": "opportunities",
    "activity": "activities",
}
_ID_ROOM: Final = 200


@attrs.frozen(kw_only=True)
class MergeOutcome:
    """What :func:`merge_records` stored.

    Attributes:
        record: the stored :class:`~leadmodel.MergeRecord` (its ``id`` undoes the merge).
        events: ``RecordsMerged``, for the host to publish.
        notes: what the merge decided beyond the field values, such as an account
            hierarchy kept whole (``"A2 was a child of A1 …"``).
    """

    _repr_html_ = result_html

    record: MergeRecord
    events: tuple[RecordsMerged, ...] = ()
    notes: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def merge_id(self) -> str:
        """The id of the stored merge, for :func:`unmerge_records`."""
        return self.record.id

    @property
    def survivor(self) -> Any:
        """The merged record, as saved."""
        return self.record.result.survivor

    @property
    def moved(self) -> tuple[Moved, ...]:
        """Every dependant the merge re-pointed at the survivor."""
        return self.record.moved


_RECORDS: Final = (Lead, Contact, Account, Opportunity)


@attrs.frozen(kw_only=True)
class UnmergeOutcome:
    """What :func:`unmerge_records` restored.

    Attributes:
        record: the stored merge, now marked ``undone_at``.
        restored: the original records, as saved again (survivor first, then the
            absorbed ones).
        moved_back: the dependants pointed back where they were before the merge.
        left: the dependants the merge moved that changed since (or are gone): they are
            left as they are now.
    """

    _repr_html_ = result_html

    record: MergeRecord
    restored: tuple[Any, ...] = ()
    moved_back: tuple[Moved, ...] = ()
    left: tuple[Moved, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)
        if not all(isinstance(r, _RECORDS) for r in self.restored):
            raise _problem(
                "UnmergeOutcome",
                "restored",
                "type",
                "must be leads, contacts, accounts or opportunities",
            )


def _report(on_outcome: Callable[[RowOutcome], None], outcome: RowOutcome) -> None:
    """Call the host's *on_outcome*; what it raises stops the import as a ValidationError."""
    try:
        on_outcome(outcome)
    except LeadModelError:
        raise
    except Exception as exc:
        raise _problem(
            "import_leads",
            "on_outcome",
            "callback_failed",
            f"raised {type(exc).__name__}: {str(exc)[:200]}",
        ) from exc


def _problem(service: str, path: str, code: str, message: str) -> ValidationError:
    return ValidationError(service, [FieldError(path, code, message)])


def _check_capability(service: str, uow: object) -> None:
    check_unit(service, uow)
    if not isinstance(uow, SupportsMerges):
        raise _problem(
            service,
            "uow",
            "capability",
            f"{type(uow).__name__} does not store merges (no uow.merges, see "
            "leadmodel.ports.SupportsMerges): a merge could not be undone",
        )


def _check_now(service: str, now: object) -> None:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _problem(service, "now", "type", "must be a timezone-aware datetime")


def _check_ids(ids: object) -> list[str]:
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise _problem(
            "merge_records", "ids", "type", f"must be a sequence of ids, not {describe_value(ids)}"
        )
    items = list(ids)
    errors = [
        FieldError(f"ids[{n}]", problem[0], problem[1])
        for n, item in enumerate(items)
        if (problem := _checks.identifier(item)) is not None
    ]
    if len(items) < 2:
        errors.append(FieldError("ids", "too_few", "a merge needs at least two records"))
    if errors:
        raise ValidationError("merge_records", errors)
    return items


def _load(uow: Any, ids: Sequence[str]) -> tuple[str, list[Any]]:
    """The kind of the records named by *ids* and the records, in the order of *ids*."""
    found: dict[str, list[Any]] = {}
    for kind in _KINDS:
        repository = getattr(uow, _REPOSITORIES[kind])
        found[kind] = [repository.get(record_id) for record_id in ids]
    for kind in _KINDS:
        if all(record is not None for record in found[kind]):
            return kind, found[kind]
    for n, record_id in enumerate(ids):
        if all(found[kind][n] is None for kind in _KINDS):
            raise RecordNotFound("record", record_id)
    raise _problem(
        "merge_records",
        "ids",
        "mixed_kinds",
        "the records must all be of one kind (leads, contacts, accounts or opportunities)",
    )


def _default_merge_id(survivor_id: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"merge-{survivor_id[:_ID_ROOM]}-{stamp}"


def _moves(uow: Any, result: MergeResult) -> dict[tuple[str, str], Moved]:  # type: ignore[type-arg]
    """The dependants to re-point, by (kind, id), from the result's reparent instructions."""
    moves: dict[tuple[str, str], Moved] = {}
    targets: dict[tuple[str, str], dict[str, str]] = {}
    for item in result.reparent:
        targets.setdefault((item.dependant, item.field), {})[item.from_id] = item.to_id
    group = {r.id for r in result.originals}
    for (dependant, field), moving in sorted(targets.items()):
        if dependant == "activity" and field == "subject_id":
            candidates: list[Any] = []
            for from_id in sorted(moving):
                candidates += uow.activities.find_by_keys([f"subject:{from_id}"])
        elif dependant in _REPOSITORIES:
            candidates = list(getattr(uow, _REPOSITORIES[dependant]))
        else:
            continue  # account-contact relations: no repository among the ports
        for record in candidates:
            current = getattr(record, field, None)
            if current not in moving or (dependant == result.kind and record.id in group):
                continue
            moves[(dependant, record.id)] = Moved(
                kind=dependant,
                record_id=record.id,
                field=field,
                previous=current,
                current=moving[current],
            )
    return moves


def _hierarchy(
    uow: Any,
    result: MergeResult,  # type: ignore[type-arg]
    moves: Mapping[tuple[str, str], Moved],
) -> tuple[Any, list[str]]:
    """The survivor with a parent that makes no cycle, and what was decided about it."""
    survivor = result.survivor
    group = {r.id for r in result.originals}
    notes = [
        f"account {r.id} was a child of {r.parent_id}, merged with it"
        for r in result.originals
        if r.parent_id in group
    ]
    parent, seen = survivor.parent_id, set()
    while parent is not None and parent not in seen:
        if parent == survivor.id:
            notes.append(
                f"parent {survivor.parent_id} would make a cycle: "
                f"account {survivor.id} is left without a parent"
            )
            return attrs.evolve(survivor, parent_id=None), notes
        seen.add(parent)
        moved = moves.get(("account", parent))
        if moved is not None:
            parent = moved.current
            continue
        stored = uow.accounts.get(parent)
        parent = None if stored is None else stored.parent_id
    if notes:
        notes.append(
            f"account {survivor.id} now has "
            + ("no parent" if survivor.parent_id is None else f"parent {survivor.parent_id}")
        )
    return survivor, notes


def _stage_merge(
    uow: Any,
    records: Sequence[Any],
    *,
    master: str | None,
    strategy: Mapping[str, Survivorship] | None,
    choices: Mapping[str, str] | None,
    merge_id: str | None,
    now: datetime,
) -> MergeOutcome:
    """Merge *records* (read through *uow*) inside the open unit of work, uncommitted."""
    from leadmodel.services import _check_write  # the one guard of lead and contact writes

    result = merge(records, master=master, choices=choices, strategy=strategy)
    original = next(r for r in result.originals if r.id == result.survivor.id)
    _check_write(original, result.survivor)
    moves = _moves(uow, result)
    notes: list[str] = []
    if result.kind == "account":
        survivor, notes = _hierarchy(uow, result, moves)
        result = attrs.evolve(result, survivor=survivor)
    record_id = merge_id if merge_id is not None else _default_merge_id(result.survivor.id, now)
    if uow.merges.get(record_id) is not None:
        raise _problem(
            "merge_records",
            "merge_id",
            "merge_id_taken",
            f"a merge with id {describe_value(record_id)} is stored already",
        )
    own = getattr(uow, _REPOSITORIES[result.kind])
    own.update(result.survivor)
    for absorbed in result.absorbed_ids:
        own.remove(absorbed)
    for (kind, dependant_id), moved in sorted(moves.items()):
        repository = getattr(uow, _REPOSITORIES[kind])
        current = repository.get(dependant_id)
        repository.update(attrs.evolve(current, **{moved.field: moved.current}))
    ordered: list[Moved] = [moves[key] for key in sorted(moves)]
    notes += move_consents(uow, result.survivor.id, result.absorbed_ids)
    stored = MergeRecord(
        id=record_id,
        result=result,
        moved=ordered,
        merged_at=now,
    )
    uow.merges.add(stored)
    event = RecordsMerged(
        survivor_id=result.survivor.id, absorbed_ids=result.absorbed_ids, occurred_at=now
    )
    return MergeOutcome(record=stored, events=(event,), notes=tuple(notes))


def merge_records(
    uow: UnitOfWork,
    ids: Sequence[str],
    *,
    master: str | None = None,
    strategy: Mapping[str, Survivorship] | None = None,
    choices: Mapping[str, str] | None = None,
    merge_id: str | None = None,
    now: datetime,
) -> MergeOutcome:
    """Merge the stored records *ids* into one, move their dependants, and keep the merge.

    The records are all leads, contacts, accounts or opportunities. They are merged with
    the pure :func:`leadmodel.merge` (*master*, *strategy* and *choices* as there), then,
    in one unit of work: the survivor is saved, the absorbed records removed, every
    dependant re-pointed at the survivor — activities (``subject_id``); for contacts,
    opportunities (``contact_id``); for accounts, contacts and opportunities
    (``account_id``) and child accounts (``parent_id``) — and a
    :class:`~leadmodel.MergeRecord` holding the originals, the provenance and each moved
    dependant is stored through ``uow.merges``, so :func:`unmerge_records` can undo it.

    Account hierarchies stay whole: a parent link that would point at the merged account
    itself or at an absorbed one becomes that account's own parent, or none when that
    would make a cycle; :attr:`MergeOutcome.notes` says so. With ``uow.consents``
    (``SupportsConsents``), the absorbed records' consents move to the survivor, each
    kept with the absorbed id added to its ``provenance`` (the most recent per channel
    and purpose decides; nothing is lost), and the notes say so; an unmerge gives them
    back. A converted lead is read-only
    and cannot be merged (:class:`~leadmodel.ConvertedLeadError`, nothing saved).
    Account–contact relations have no repository among the ports: the stored
    ``result.reparent`` lists them for the host; converted leads' ``ConversionRecord`` ids
    are history and are not rewritten (find the merge with
    ``uow.merges.find_by_keys(["record:<id>"])``).

    *merge_id* defaults to ``merge-<survivor id>-<now, UTC>`` (deterministic: the same
    merge at the same *now* gets the same id).

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Activity, Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> now = datetime(2026, 12, 1, tzinfo=UTC)
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", created_at=now))
    ...     uow.leads.add(Lead(id="L2", last_name="Ng", company="Acme Inc", title="CTO"))
    ...     uow.activities.add(
    ...         Activity(id="A1", subject_id="L2", kind="email_opened", occurred_at=now)
    ...     )
    ...     uow.commit()
    >>> outcome = merge_records(uow, ["L1", "L2"], now=now)
    >>> outcome.merge_id, outcome.survivor.title, [m.record_id for m in outcome.moved]
    ('merge-L1-20261201T000000000000Z', 'CTO', ['A1'])
    >>> with uow:
    ...     uow.leads.get("L2"), uow.activities.get("A1").subject_id
    (None, 'L1')

    Raises:
        RecordNotFound: an id names no stored lead, contact, account or opportunity.
        ValidationError: fewer than two ids, records of different kinds, a unit of work
            without ``uow.merges``, a *merge_id* in use, a naive *now*, or what
            :func:`leadmodel.merge` refuses.
        ConvertedLeadError: a converted lead among the records.
        ConcurrencyError: a record changed in storage meanwhile; nothing was saved.
    """
    _check_capability("merge_records", uow)
    _check_now("merge_records", now)
    items = _check_ids(ids)
    if merge_id is not None and (problem := _checks.identifier(merge_id)) is not None:
        raise _problem("merge_records", "merge_id", problem[0], problem[1])
    with uow:
        _, records = _load(uow, items)
        outcome = _stage_merge(
            uow,
            records,
            master=master,
            strategy=strategy,
            choices=choices,
            merge_id=merge_id,
            now=now,
        )
        uow.commit()
    return outcome


def _restore(uow: Any, stored: MergeRecord, *, force: bool) -> tuple[Any, ...]:
    """Save the originals of *stored* again: the survivor's and the absorbed ones."""
    result = stored.result
    own = getattr(uow, _REPOSITORIES[result.kind])
    current = own.get(stored.survivor_id)
    if current != result.survivor and not force:
        what = "was deleted" if current is None else "changed"
        raise _problem(
            "unmerge_records",
            "survivor",
            "survivor_changed",
            f"{result.kind} {stored.survivor_id} {what} since merge {stored.id}: "
            "force=True restores the originals anyway, discarding that change",
        )
    taken = [rid for rid in stored.absorbed_ids if own.get(rid) is not None]
    if taken:
        raise _problem(
            "unmerge_records",
            "absorbed_ids",
            "absorbed_exists",
            f"{result.kind} {', '.join(taken)} exist again: restoring would overwrite them",
        )
    by_id = {r.id: r for r in result.originals}
    original = by_id[stored.survivor_id]
    if current is None:
        own.add(original)
    else:
        own.update(original)
    for rid in stored.absorbed_ids:
        own.add(by_id[rid])
    return (original, *(by_id[rid] for rid in stored.absorbed_ids))


def unmerge_records(
    uow: UnitOfWork, merge_id: str, *, now: datetime, force: bool = False
) -> UnmergeOutcome:
    """Undo the stored merge *merge_id*: the originals come back, dependants move back.

    In one unit of work: the survivor is saved as it was before the merge, the absorbed
    records are added again, and each dependant the merge moved is pointed back — only
    where it still points where the merge put it; one changed since (or deleted) is left
    as it is and reported in :attr:`UnmergeOutcome.left`. The stored merge is marked
    ``undone_at=now``.

    The survivor must be as the merge left it: when it changed since (or was deleted),
    the unmerge is refused (``survivor_changed``) unless ``force=True``, which restores
    the original anyway and discards that change.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> now = datetime(2026, 12, 1, tzinfo=UTC)
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme"))
    ...     uow.leads.add(Lead(id="L2", last_name="Ng", company="Acme Inc"))
    ...     uow.commit()
    >>> merged = merge_records(uow, ["L1", "L2"], now=now)
    >>> undone = unmerge_records(uow, merged.merge_id, now=now)
    >>> [lead.company for lead in undone.restored], undone.record.undone_at == now
    (['Acme', 'Acme Inc'], True)

    Raises:
        RecordNotFound: no stored merge *merge_id*.
        ValidationError: the merge is undone already (``already_undone``); the survivor
            changed since (``survivor_changed``, without *force*); an absorbed id is in
            use again (``absorbed_exists``); a unit of work without ``uow.merges``; a
            naive *now*.
        ConcurrencyError: a record changed in storage meanwhile; nothing was saved.
    """
    _check_capability("unmerge_records", uow)
    _check_now("unmerge_records", now)
    if (problem := _checks.identifier(merge_id)) is not None:
        raise _problem("unmerge_records", "merge_id", problem[0], problem[1])
    with uow:
        merges: Any = uow.merges  # type: ignore[attr-defined] # checked by _check_capability
        stored = merges.get(merge_id)
        if stored is None:
            raise RecordNotFound("merge", merge_id)
        if stored.undone_at is not None:
            raise _problem(
                "unmerge_records",
                "merge_id",
                "already_undone",
                f"merge {merge_id} was undone at {stored.undone_at.isoformat()}",
            )
        restored = _restore(uow, stored, force=force)
        restore_consents(uow, stored.survivor_id, stored.absorbed_ids)
        moved_back: list[Moved] = []
        left: list[Moved] = []
        for moved in stored.moved:
            repository = getattr(uow, _REPOSITORIES[moved.kind])
            current = repository.get(moved.record_id)
            if current is None or getattr(current, moved.field) != moved.current:
                left.append(moved)
                continue
            repository.update(attrs.evolve(current, **{moved.field: moved.previous}))
            moved_back.append(moved)
        undone = attrs.evolve(stored, undone_at=now)
        merges.update(undone)
        uow.commit()
    return UnmergeOutcome(
        record=undone, restored=restored, moved_back=tuple(moved_back), left=tuple(left)
    )


def _apply(uow: Any, outcome: RowOutcome, *, ids: Callable[[str], str], now: datetime) -> None:
    """Save one outcome of the pure import in the open unit of work."""
    lead = outcome.lead
    if lead is None or outcome.status in ("skipped", "rejected"):
        return
    if outcome.status == "created":
        uow.leads.add(lead)
        return
    stored = uow.leads.get(lead.id)
    if stored is None:
        raise RecordNotFound("lead", lead.id)
    if stored.converted is not None:  # the pure import skips these; never edit one
        raise ConvertedLeadError(
            f"Lead {lead.id!r}: a converted lead is read-only", lead_id=lead.id
        )
    if outcome.status == "updated":
        from leadmodel.services import _check_write  # what save refuses, an import does too

        if _check_write(stored, lead):
            uow.leads.update(lead)
        return
    incoming = outcome.incoming
    if incoming is None:  # pragma: no cover - the pure import always sets it
        raise RecordNotFound("lead", "(the row's own lead)")
    uow.leads.add(incoming)
    _stage_merge(
        uow,
        [stored, incoming],
        master=stored.id,
        strategy=None,
        choices=None,
        merge_id=ids("merge"),
        now=now,
    )


def import_leads(
    uow: UnitOfWork,
    rows: Iterable[Mapping[str, str]],
    mapping: ColumnMapping,
    *,
    on_duplicate: OnDuplicate = "skip",
    ids: Callable[[str], str],
    now: datetime,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    on_outcome: Callable[[RowOutcome], None] | None = None,
    rule: MatchingRule | CompiledRule | None = None,
    record_type: RecordType | None = None,
    privacy_key: PrivacyKey | None = None,
) -> ImportReport:
    """Import *rows* into storage: the pure :func:`leadmodel.import_leads`, applied.

    The rows are read against the stored leads (``existing=uow.leads``, so duplicates are
    found in storage and within the file) with the matching *rule* (``None``:
    :data:`~leadmodel.STANDARD_LEAD_RULE`; a unit of work that indexes rules' keys,
    :class:`~leadmodel.ports.SupportsKeyIndex`, is asked to index it first, so stored
    leads are found by its blocking keys too), and each outcome is saved as it comes:
    ``created`` leads are added; ``updated`` ones replace the stored lead (blank fields
    filled), refused as :func:`leadmodel.services.save` refuses (a converted lead is never
    edited — the pure import skips rows matching one);
    ``merged`` rows are saved as the row's own lead and merged into the stored one
    through the same path as :func:`merge_records`, so each merge is stored (with
    ``ids("merge")`` as its id) and can be undone with :func:`unmerge_records`. Every
    *batch_size* rows the unit of work commits: an error stops the import with the
    earlier batches saved and the current one not. With *dry_run* nothing is committed.

    Returns the :class:`~leadmodel.ImportReport`; *on_outcome* sees each
    :class:`~leadmodel.RowOutcome` (rejected rows' errors, the values an update kept)
    after it is applied. The merges of an import are found with
    ``uow.merges.find_by_keys(["record:<lead id>"])``. With a lead *record_type*, new
    leads carry it and rows that do not meet it are rejected (as the pure import).
    With a *privacy_key*, a row whose email or phone belongs to a person erased at their
    request (the privacy log, :func:`leadmodel.services.is_erased`) is not stored: it
    counts as ``skipped`` with a ``"suppressed: …"`` reason, and a ``"suppressed"``
    privacy log entry is written.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import ColumnMapping, EmailAddress, Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork, SequentialIds
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(
    ...             id="L1", last_name="Ng", company="Acme", email=EmailAddress.parse("ng@acme.com")
    ...         )
    ...     )
    ...     uow.commit()
    >>> rows = [
    ...     {"Last Name": "Ng", "Email": "ng@acme.com", "Company": "Acme Inc"},
    ...     {"Last Name": "Lee", "Email": "lee@acme.com", "Company": "Acme"},
    ... ]
    >>> report = import_leads(
    ...     uow,
    ...     rows,
    ...     ColumnMapping.guess(["Last Name", "Email", "Company"]),
    ...     on_duplicate="update",
    ...     ids=SequentialIds(),
    ...     now=datetime(2026, 12, 1, tzinfo=UTC),
    ... )
    >>> report.created, report.updated, report.kept
    (1, 1, 1)

    Raises:
        ValidationError: misuse (as the pure import; a *batch_size* below 1; ``merge``
            with a unit of work that does not store merges; *on_outcome* not a function
            of one outcome), or *on_outcome* raised (code ``callback_failed``, the
            exception it raised as ``__cause__``; the current batch is not saved).
        ConcurrencyError: a lead changed in storage meanwhile; the current batch is not
            saved.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise _problem("import_leads", "batch_size", "invalid", "must be a whole number >= 1")
    check_unit("import_leads", uow)
    if privacy_key is not None:
        check_key("import_leads", privacy_key, required=True)
    if isinstance(on_duplicate, str) and on_duplicate == "merge":
        _check_capability("import_leads", uow)
    if on_outcome is not None:
        _checks.require_callback(
            on_outcome, ("outcome",), function="import_leads", path="on_outcome"
        )
    with uow:
        run = intake.import_leads(
            rows,
            mapping,
            ids=ids,
            now=now,
            existing=uow.leads,
            on_duplicate=on_duplicate,
            progress=progress,
            rule=rule,
            record_type=record_type,
        )
        index_rules = getattr(uow, "index_rules", None)  # SupportsKeyIndex
        if callable(index_rules) and on_duplicate != "create":
            chosen = STANDARD_LEAD_RULE if rule is None else rule
            index_rules([chosen.rule if isinstance(chosen, CompiledRule) else chosen])
        pending = 0
        suppressed: dict[str, int] = {}
        for row in run:
            outcome = row if privacy_key is None else _suppressed(uow, row, privacy_key, now)
            if outcome is not row:
                suppressed[row.status] = suppressed.get(row.status, 0) + 1
            _apply(uow, outcome, ids=ids, now=now)
            if on_outcome is not None:
                _report(on_outcome, outcome)
            pending += 1
            if pending >= batch_size and not dry_run:
                uow.commit()
                pending = 0
        if not dry_run:
            uow.commit()
    if not suppressed:
        return run.report
    report = run.report
    counts = {status: getattr(report, status) - n for status, n in suppressed.items()}
    return attrs.evolve(report, skipped=report.skipped + sum(suppressed.values()), **counts)


def _suppressed(uow: Any, outcome: RowOutcome, key: PrivacyKey, now: datetime) -> RowOutcome:
    """*outcome* as a skipped row when its lead belongs to an erased person."""
    lead = outcome.incoming or outcome.lead
    if outcome.status in ("skipped", "rejected") or lead is None:
        return outcome
    reason = suppression(uow, key, lead, now=now)
    if reason is None:
        return outcome
    return attrs.evolve(outcome, status="skipped", lead=None, incoming=None, reason=reason)
