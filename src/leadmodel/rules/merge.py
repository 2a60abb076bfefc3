"""Merging duplicates into one survivor, with full provenance, and undoing it.

:func:`merge` takes two or more records of one kind, picks a master (the oldest by
default, as Salesforce keeps the oldest creation date), and builds the survivor field by
field with a survivorship strategy. The :class:`MergeResult` keeps every original record,
says for every field which records supplied the surviving value and which values were
set aside, and lists the dependants to re-parent (activities, opportunities, contacts,
account relations) as data for the host to apply. :func:`unmerge` gives the originals back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final, Generic, TypeVar

import attrs

from leadmodel._html import result_html
from leadmodel.domain._checks import as_tuple
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import Account
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import ConvertedLeadError, FieldError, ValidationError, describe_value
from leadmodel.domain.fields import FieldValues
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.status import LifecycleStage
from leadmodel.domain.values import Address, Money

__all__ = [
    "DEFAULT_SURVIVORSHIP",
    "FieldProvenance",
    "MergeRecord",
    "MergeResult",
    "Moved",
    "Reparent",
    "Survivorship",
    "merge",
    "unmerge",
]

E = TypeVar("E", Lead, Contact, Account, Opportunity)

_KINDS: Final[dict[type, str]] = {
    Lead: "lead",
    Contact: "contact",
    Account: "account",
    Opportunity: "opportunity",
}
_DESCRIPTION_LIMIT: Final = 32_000


class Survivorship(Enum):
    """How a field's surviving value is chosen.

    - ``master``: the master's value, even blank.
    - ``first_non_blank``: the master's value, else the first non-blank one in rank order
      (master, then oldest first).
    - ``most_recent`` / ``oldest``: the non-blank value of the most recently updated /
      earliest created record.
    - ``most_complete``: the value with the most filled parts (an address as a whole,
      never mixed), else the longest.
    - ``max`` / ``min``: the largest / smallest non-blank value (``True`` over ``False``,
      later lifecycle stages over earlier ones).
    - ``concatenate``: every distinct text, in rank order, separated by a blank line.
    - ``union``: every tag of every record.
    """

    MASTER = "master"
    FIRST_NON_BLANK = "first_non_blank"
    MOST_RECENT = "most_recent"
    OLDEST = "oldest"
    MOST_COMPLETE = "most_complete"
    MAX = "max"
    MIN = "min"
    CONCATENATE = "concatenate"
    UNION = "union"


DEFAULT_SURVIVORSHIP: Final[Mapping[str, Survivorship]] = {
    "created_at": Survivorship.MIN,
    "updated_at": Survivorship.MAX,
    "description": Survivorship.CONCATENATE,
    "tags": Survivorship.UNION,
    "address": Survivorship.MOST_COMPLETE,
    "mailing_address": Survivorship.MOST_COMPLETE,
    "billing_address": Survivorship.MOST_COMPLETE,
    "do_not_call": Survivorship.MAX,
    "email_opt_out": Survivorship.MAX,
    "lifecycle_stage": Survivorship.MAX,
    "status": Survivorship.MASTER,
    "stage": Survivorship.MASTER,
    "is_person": Survivorship.MASTER,
    "owner_is_queue": Survivorship.MASTER,
}
"""The default strategy of fields that do not use ``first_non_blank``: the oldest creation
date, any opt-out wins (a person who opted out on one record opted out), the furthest
lifecycle stage, descriptions joined, tags united, an address block kept whole."""


@attrs.frozen
class FieldProvenance:
    """Where one field of the survivor came from.

    Attributes:
        field: the field (``"email"``, ``"custom.visits"``).
        sources: ids of the records whose value is (part of) the surviving value.
        discarded: ids of the records whose non-blank value was set aside; the values
            are in :attr:`MergeResult.originals`.
    """

    field: str
    sources: tuple[str, ...]
    discarded: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class Reparent:
    """An instruction for the host: move dependants from an absorbed record.

    Point *dependant* records' *field* from *from_id* to *to_id*, for example every
    activity whose ``subject_id`` is an absorbed lead.
    """

    dependant: str
    field: str
    from_id: str
    to_id: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class MergeResult(Generic[E]):
    """The outcome of :func:`merge`.

    Attributes:
        kind: ``"lead"``, ``"contact"``, ``"account"`` or ``"opportunity"``.
        survivor: the merged record, with the master's id.
        absorbed_ids: the ids of the other records, to delete (or mark merged).
        provenance: for every field with a value on any record, its sources and the
            records whose values were set aside.
        reparent: the dependants to move from absorbed records to the survivor.
        originals: every input record as it was, in input order (what :func:`unmerge`
            gives back).
    """

    _repr_html_ = result_html

    kind: str
    survivor: E
    absorbed_ids: tuple[str, ...]
    provenance: tuple[FieldProvenance, ...]
    reparent: tuple[Reparent, ...]
    originals: tuple[E, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def discarded_values(self, field: str) -> dict[str, object]:
        """The values of *field* that were set aside, by record id."""
        for item in self.provenance:
            if item.field == field:
                by_id = {record.id: record for record in self.originals}
                return {rid: _read(by_id[rid], field) for rid in item.discarded}
        return {}


@attrs.frozen(kw_only=True)
class Moved:
    """One dependant a stored merge re-pointed, so that undoing the merge can point it back.

    Attributes:
        kind: the dependant's kind (``"activity"``, ``"contact"``, ``"opportunity"``,
            ``"account"``).
        record_id: the dependant's id.
        field: the field that was changed (``"subject_id"``, ``"account_id"`` …).
        previous: its value before the merge.
        current: its value after the merge.
    """

    kind: str
    record_id: str
    field: str
    previous: str | None
    current: str | None

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _moved_tuple(moved: Iterable[Moved]) -> tuple[Moved, ...]:
    # One non-iterable value becomes (value,), which the field check then names.
    return as_tuple(moved)


@attrs.frozen(kw_only=True)
class MergeRecord:
    """A merge as storage keeps it, so that it can be undone.

    It holds the :class:`MergeResult` (originals and provenance), the dependants it
    moved, when it happened and, once undone, when.

    Stored through the optional ``uow.merges`` repository
    (:class:`leadmodel.ports.SupportsMerges`) by :func:`leadmodel.services.merge_records`;
    :func:`leadmodel.services.unmerge_records` uses it to restore the originals.
    """

    _repr_html_ = result_html

    id: str
    result: MergeResult  # type: ignore[type-arg] # the entity kind is in result.kind
    moved: tuple[Moved, ...] = attrs.field(default=(), converter=_moved_tuple)
    merged_at: datetime
    undone_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def kind(self) -> str:
        """The kind of the merged records."""
        return self.result.kind

    @property
    def survivor_id(self) -> str:
        """The id of the surviving record."""
        return str(self.result.survivor.id)

    @property
    def absorbed_ids(self) -> tuple[str, ...]:
        """The ids of the records the merge absorbed."""
        return self.result.absorbed_ids


_DEPENDANTS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "lead": (("activity", "subject_id"),),
    "contact": (
        ("activity", "subject_id"),
        ("opportunity", "contact_id"),
        ("account_contact_relation", "contact_id"),
    ),
    "account": (
        ("activity", "subject_id"),
        ("contact", "account_id"),
        ("opportunity", "account_id"),
        ("account_contact_relation", "account_id"),
        ("account", "parent_id"),
    ),
    "opportunity": (("activity", "subject_id"),),
}


def _read(record: object, path: str) -> object:
    if path.startswith("custom."):
        custom = getattr(record, "custom", None)
        return custom.get(path[7:]) if isinstance(custom, FieldValues) else None
    return getattr(record, path)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, frozenset | FieldValues) and not value)


def _completeness(value: object) -> int:
    if isinstance(value, Address):
        return sum(
            getattr(value, part) is not None
            for part in ("street", "city", "state", "postal_code", "country")
        )
    if isinstance(value, str):
        return len(value)
    return 1


def _sort_key(value: object) -> Any:
    if isinstance(value, LifecycleStage):
        return -1 if value.rank is None else value.rank
    if isinstance(value, Money):
        return value.amount
    return value


def _timestamp(record: Any, name: str) -> datetime | None:
    value = getattr(record, name, None)
    return value if isinstance(value, datetime) else None


class _Merger:
    def __init__(self, records: Sequence[Any], master_id: str) -> None:
        master = next(r for r in records if r.id == master_id)
        others = sorted(
            (r for r in records if r.id != master_id),
            key=lambda r: (
                _timestamp(r, "created_at") is None,
                _timestamp(r, "created_at") or 0,
                r.id,
            ),
        )
        self.ranked = [master, *others]

    def choose(
        self, field: str, strategy: Survivorship, chosen: str | None
    ) -> tuple[object, tuple[str, ...]]:
        """The surviving value of *field* and the ids of the records it came from."""
        values = [(r.id, _read(r, field)) for r in self.ranked]
        present = [(rid, v) for rid, v in values if not _blank(v)]
        if chosen is not None:
            value = next(v for rid, v in values if rid == chosen)
            return value, ((chosen,) if not _blank(value) else ())
        if strategy is Survivorship.MASTER:
            value = values[0][1]
            return value, ((values[0][0],) if not _blank(value) else ())
        if not present:
            return values[0][1], ()
        if strategy is Survivorship.FIRST_NON_BLANK:
            rid, value = present[0]
            return value, (rid,)
        if strategy in (Survivorship.MOST_RECENT, Survivorship.OLDEST):
            return self._by_time(field, strategy)
        if strategy is Survivorship.MOST_COMPLETE:
            rid, value = max(present, key=lambda item: _completeness(item[1]))
            return value, (rid,)
        if strategy in (Survivorship.MAX, Survivorship.MIN):
            return self._extreme(present, strategy)
        if strategy is Survivorship.CONCATENATE:
            return self._concatenate(present)
        return self._union(present)

    def _by_time(self, field: str, strategy: Survivorship) -> tuple[object, tuple[str, ...]]:
        stamp = "updated_at" if strategy is Survivorship.MOST_RECENT else "created_at"
        candidates = [(r, _read(r, field)) for r in self.ranked if not _blank(_read(r, field))]
        stamped = [
            (moment, r, v) for r, v in candidates if (moment := _timestamp(r, stamp)) is not None
        ]
        if not stamped:
            record, value = candidates[0]
            return value, (record.id,)
        pick = max if strategy is Survivorship.MOST_RECENT else min
        _, record, value = pick(stamped, key=lambda item: item[0])
        return value, (record.id,)

    def _extreme(
        self, present: list[tuple[str, object]], strategy: Survivorship
    ) -> tuple[object, tuple[str, ...]]:
        comparable = present
        first = present[0][1]
        if isinstance(first, Money):
            comparable = [
                (rid, v)
                for rid, v in present
                if isinstance(v, Money) and v.currency == first.currency
            ]
        pick = max if strategy is Survivorship.MAX else min
        try:
            rid, value = pick(comparable, key=lambda item: _sort_key(item[1]))
        except TypeError:
            rid, value = present[0]
        return value, (rid,)

    def _concatenate(self, present: list[tuple[str, object]]) -> tuple[object, tuple[str, ...]]:
        parts: list[str] = []
        sources: list[str] = []
        for rid, value in present:
            text = str(value)
            if text in parts:
                sources.append(rid)
                continue
            joined = "\n\n".join([*parts, text])
            if len(joined) > _DESCRIPTION_LIMIT:
                continue
            parts.append(text)
            sources.append(rid)
        return "\n\n".join(parts), tuple(sources)

    def _union(self, present: list[tuple[str, object]]) -> tuple[object, tuple[str, ...]]:
        union: frozenset[Any] = frozenset()
        for _, value in present:
            if isinstance(value, frozenset):
                union |= value
        return union, tuple(rid for rid, _ in present)


def _check_inputs(records: object, master: object) -> list[Any]:
    if isinstance(records, str | bytes) or not isinstance(records, Sequence | set | frozenset):
        raise ValidationError(
            "merge",
            [
                FieldError(
                    "records",
                    "type",
                    f"must be a sequence of records, not {type(records).__name__}",
                )
            ],
        )
    items = list(records)
    errors: list[FieldError] = []
    if len(items) < 2:
        errors.append(FieldError("records", "too_few", "a merge needs at least two records"))
    kinds = {type(r) for r in items}
    if not kinds <= set(_KINDS):
        errors.append(
            FieldError(
                "records", "type", "records must be leads, contacts, accounts or opportunities"
            )
        )
    elif len(kinds) > 1:
        errors.append(FieldError("records", "mixed_kinds", "records must all be of one kind"))
    elif kinds == {Account} and len({r.is_person for r in items}) > 1:
        # Salesforce merges person accounts only with person accounts: a person is no
        # company, and a person account has one contact, its person.
        errors.append(
            FieldError(
                "records",
                "mixed_account_kinds",
                "person accounts merge only with person accounts, business accounts with "
                "business accounts",
            )
        )
    ids = [getattr(r, "id", None) for r in items]
    if len(set(ids)) != len(ids):
        errors.append(FieldError("records", "duplicate_id", "each record may be merged once"))
    if master is not None and master not in ids:
        errors.append(
            FieldError("master", "unknown", f"{describe_value(master)} is not one of the records")
        )
    if errors:
        raise ValidationError("merge", errors)
    for record in items:
        if isinstance(record, Lead) and record.converted is not None:
            raise ConvertedLeadError(
                f"Lead {record.id!r}: a converted lead cannot be merged", lead_id=record.id
            )
    return items


def _default_master(records: Sequence[Any]) -> str:
    dated = [r for r in records if _timestamp(r, "created_at") is not None]
    if dated:
        return str(min(dated, key=lambda r: (_timestamp(r, "created_at"), r.id)).id)
    return str(min(r.id for r in records))


_SURVIVORSHIPS: Final = ", ".join(s.value for s in Survivorship)


def _option_problems(choices: object, strategy: object, names: Sequence[str]) -> list[FieldError]:
    """What is wrong with merge's *choices* and *strategy* arguments (their shape and fields)."""
    problems: list[FieldError] = []
    for argument, given, what in (
        ("choices", choices, "field to the id of the record whose value to keep"),
        ("strategy", strategy, "field to Survivorship, such as {'email': Survivorship.OLDEST}"),
    ):
        if given is None:
            continue
        if not isinstance(given, Mapping):
            problems.append(
                FieldError(
                    argument, "type", f"must be a mapping of {what}, not {type(given).__name__}"
                )
            )
            continue
        for field in given:
            if not isinstance(field, str) or (
                field not in names and not (field.startswith("custom.") and len(field) > 7)
            ):
                problems.append(
                    FieldError(
                        f"{argument}.{field}" if isinstance(field, str) else argument,
                        "unknown_field",
                        f"{describe_value(field)} is not a field of the records "
                        f"(one of {', '.join(names)} or custom.<name>)",
                    )
                )
            elif argument == "strategy" and not isinstance(given[field], Survivorship):
                problems.append(
                    FieldError(
                        f"strategy.{field}",
                        "type",
                        f"must be a Survivorship ({_SURVIVORSHIPS}), "
                        f"not {describe_value(given[field])}",
                    )
                )
    return problems


def merge(
    records: Sequence[E],
    *,
    master: str | None = None,
    choices: Mapping[str, str] | None = None,
    strategy: Mapping[str, Survivorship] | None = None,
) -> MergeResult[E]:
    """Merge duplicate *records* of one kind into one survivor.

    Args:
        records: two or more leads, contacts, accounts or opportunities.
        master: the id whose record survives (its id and, by default, its values); the
            oldest record (by ``created_at``, then id) when not given.
        choices: explicit picks, field → id of the record whose value to keep
            (``{"email": "L2", "custom.tier": "L3"}``).
        strategy: per-field :class:`Survivorship`, over :data:`DEFAULT_SURVIVORSHIP`;
            every other field uses ``first_non_blank``.

    Custom fields merge key by key. The survivor keeps the master's id, the oldest
    ``created_at`` and is checked like any new record.

    >>> from leadmodel import EmailAddress, Lead
    >>> a = Lead(id="L1", last_name="Ng", company="Acme", tags={"a"})
    >>> b = Lead(
    ...     id="L2",
    ...     first_name="Al",
    ...     last_name="Ng",
    ...     company="Acme Inc",
    ...     email=EmailAddress.parse("al@acme.com"),
    ...     tags={"b"},
    ... )
    >>> result = merge([a, b], master="L1")
    >>> result.survivor.first_name, str(result.survivor.email), sorted(result.survivor.tags)
    ('Al', 'al@acme.com', ['a', 'b'])
    >>> result.discarded_values("company")
    {'L2': 'Acme Inc'}

    Raises:
        ValidationError: fewer than two records, mixed kinds (a person account and a
            business account too: ``mixed_account_kinds``), repeated ids, an unknown
            master or choice, or a survivor that fails its checks.
        ConvertedLeadError: a converted lead among the records.
    """
    items = _check_inputs(records, master)
    cls = type(items[0])
    ids = [r.id for r in items]
    names: list[str] = [f.name for f in attrs.fields(cls) if f.name not in ("id", "custom")]
    problems = _option_problems(choices, strategy, names)
    if problems:
        raise ValidationError("merge", problems)
    choices = dict(choices or {})
    strategies = {**DEFAULT_SURVIVORSHIP, **(strategy or {})}
    problems = [
        FieldError(
            f"choices.{field}", "unknown", f"{describe_value(rid)} is not one of the records"
        )
        for field, rid in choices.items()
        if not isinstance(rid, str) or rid not in ids
    ]
    if problems:
        raise ValidationError("merge", problems)
    master_id = master if master is not None else _default_master(items)
    merger = _Merger(items, master_id)
    custom_keys: list[str] = sorted({key for r in items for key in r.custom})
    changes: dict[str, object] = {}
    custom: dict[str, object] = {}
    provenance: list[FieldProvenance] = []
    for field in [*names, *(f"custom.{key}" for key in custom_keys)]:
        rule = strategies.get(field, Survivorship.FIRST_NON_BLANK)
        value, sources = merger.choose(field, rule, choices.get(field))
        if field.startswith("custom."):
            custom[field[7:]] = value
        else:
            changes[field] = value
        discarded = tuple(
            r.id
            for r in merger.ranked
            if r.id not in sources
            and not _blank(_read(r, field))
            and not _contains(value, _read(r, field))
        )
        if sources or discarded:
            provenance.append(FieldProvenance(field, tuple(sources), discarded))
    master_record = merger.ranked[0]
    kind = _KINDS[cls]
    if kind == "account":
        _lift_parent(items, changes, provenance)
    survivor = attrs.evolve(master_record, **changes, custom=FieldValues(custom))  # type: ignore[arg-type]
    absorbed = tuple(rid for rid in ids if rid != master_id)
    reparent = tuple(
        Reparent(dependant, field, rid, master_id)
        for rid in absorbed
        for dependant, field in _DEPENDANTS[kind]
    )
    return MergeResult(
        kind=kind,
        survivor=survivor,
        absorbed_ids=absorbed,
        provenance=tuple(provenance),
        reparent=reparent,
        originals=tuple(items),
    )


def _lift_parent(
    items: Sequence[Any], changes: dict[str, object], provenance: list[FieldProvenance]
) -> None:
    """Keep an account hierarchy whole: a parent inside the merge is replaced by its parent.

    The merged account cannot be its own parent, nor keep a link to an account the merge
    absorbs: a ``parent_id`` naming one of the merged accounts becomes that account's own
    parent (walking up while it stays inside the merge), or ``None`` when the walk never
    leaves it. The provenance names the record the lifted parent came from.
    """
    by_id = {r.id: r for r in items}
    parent = changes.get("parent_id")
    if parent not in by_id:
        return
    source: str | None = None
    seen: set[object] = set()
    while parent in by_id and parent not in seen:
        seen.add(parent)
        source = str(parent)
        parent = by_id[parent].parent_id
    if parent in by_id:
        parent, source = None, None
    changes["parent_id"] = parent
    sources = (source,) if parent is not None and source is not None else ()
    discarded = tuple(r.id for r in items if r.parent_id is not None and r.parent_id != parent)
    lifted = FieldProvenance("parent_id", sources, discarded)
    at = next((n for n, item in enumerate(provenance) if item.field == "parent_id"), None)
    if at is not None:
        provenance[at] = lifted
    elif sources or discarded:
        provenance.append(lifted)


def _contains(merged: object, value: object) -> bool:
    """Whether *value* survives in *merged* (equal, a subset of tags, part of a text)."""
    if merged == value:
        return True
    if isinstance(merged, frozenset) and isinstance(value, frozenset):
        return value <= merged
    if isinstance(merged, str) and isinstance(value, str):
        return value in merged.split("\n\n")
    return False


def unmerge(result: MergeResult[E]) -> tuple[E, ...]:
    """The records as they were before :func:`merge`, in their input order.

    Raises:
        ValidationError: *result* is not a merge result, or its survivor is not one of
            its originals' ids.
    """
    if not isinstance(result, MergeResult):
        raise ValidationError(
            "unmerge",
            [FieldError("result", "type", f"must be a MergeResult, not {type(result).__name__}")],
        )
    originals = result.originals
    if not isinstance(originals, tuple) or not all(
        isinstance(r, Lead | Contact | Account | Opportunity) for r in originals
    ):
        raise ValidationError(
            "unmerge",
            [FieldError("originals", "type", "must be the merged leads, contacts or accounts")],
        )
    if getattr(result.survivor, "id", None) not in {r.id for r in originals}:
        raise ValidationError(
            "unmerge",
            [FieldError("survivor", "inconsistent", "the survivor is not one of the originals")],
        )
    return result.originals
