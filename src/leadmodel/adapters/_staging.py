"""The lookup-key index of a unit of work's staged records, shared by the adapters.

A unit of work sees its own uncommitted records in ``find_by_keys``; indexing their keys as
they are staged keeps each look-up proportional to what it finds, not to how much the unit
has staged (an import stages thousands of records between commits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Self, TypeVar

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._checks import require_instance
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    DatabaseDamaged,
    FieldError,
    KeyNotIndexed,
    RecordExists,
    RecordNotFound,
    ValidationError,
    describe_value,
)
from leadmodel.domain.lead import Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.ports import KeyFunction, lookup_keys, neighbour_sort_value
from leadmodel.rules.criteria import All, Condition, Criterion, Not
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.triggers import TriggerState
from leadmodel.rules.views import ListView, apply_view
from leadmodel.serialization import from_dict, to_dict

if TYPE_CHECKING:
    from leadmodel.rules.matching import CompiledRule, MatchingRule

R = TypeVar("R")


class StagedKeys:
    """Lookup keys of staged records: ``key -> ids`` and ``id -> keys``."""

    __slots__ = ("_by_id", "_by_key", "_generation", "_keys", "_stamp")

    def __init__(self, keys: KeyFunction, generation: Callable[[], int] = lambda: 0) -> None:
        self._keys = keys
        self._generation = generation
        self._by_key: dict[str, set[str]] = {}
        self._by_id: dict[str, tuple[str, ...]] = {}
        self._stamp: dict[str, int] = {}

    def keys_of(self, record_id: str) -> tuple[str, ...] | None:
        """The keys *record_id* was staged under, if still computed by the current rules."""
        if self._stamp.get(record_id) != self._generation():
            return None
        return self._by_id.get(record_id)

    def stage(self, record_id: str, record: object | None) -> None:
        """Index *record* (``None``: a deletion) under *record_id*, replacing what was."""
        for key in self._by_id.pop(record_id, ()):
            members = self._by_key.get(key)
            if members is not None:
                members.discard(record_id)
                if not members:
                    del self._by_key[key]
        if record is None:
            return
        stamp = self._generation()
        keys = tuple(self._keys(record))
        self._by_id[record_id] = keys
        self._stamp[record_id] = stamp
        for key in keys:
            self._by_key.setdefault(key, set()).add(record_id)

    def matching(self, keys: Iterable[str]) -> set[str]:
        """Ids of staged records having at least one of *keys*."""
        found: set[str] = set()
        for key in keys:
            found.update(self._by_key.get(key, ()))
        return found

    def clear(self) -> None:
        """Forget every staged record."""
        self._by_key.clear()
        self._by_id.clear()
        self._stamp.clear()


def check_id(kind: str, record_id: object) -> str:
    """*record_id* if it is a valid id, else a ValidationError of the *kind* repository."""
    problem = _checks.identifier(record_id)
    if problem is not None:
        raise ValidationError(f"{kind} repository", [FieldError("id", problem[0], problem[1])])
    assert isinstance(record_id, str)  # noqa: S101 - the check proved it
    return record_id


def check_record(kind: str, cls: type[R], record: object) -> R:
    """*record* if it is a *cls*, else a ValidationError of the *kind* repository."""
    if not isinstance(record, cls):
        raise ValidationError(
            f"{kind} repository",
            [
                FieldError(
                    "record", "type", f"must be a {cls.__name__}, not {type(record).__name__}"
                )
            ],
        )
    return record


def check_repository(store: object, store_type: type, kind: object, kinds: Iterable[str]) -> None:
    """Refuse a repository over something that is not a store, or of an unknown kind."""
    errors = []
    if not isinstance(store, store_type):
        errors.append(
            FieldError(
                "store", "type", f"must be a {store_type.__name__}, not {describe_value(store)}"
            )
        )
    if not _checks.one_of(kind, tuple(kinds)):
        errors.append(FieldError("kind", "invalid", f"must be one of {', '.join(kinds)}"))
    if errors:
        raise ValidationError("repository", errors)


def check_keys(kind: str, keys: object) -> None:
    """Refuse one string where an iterable of keys is meant (it would be read letter by letter)."""
    if isinstance(keys, str):
        raise ValidationError(
            f"{kind} repository",
            [FieldError("keys", "type", "must be an iterable of keys, not one string")],
        )
    if not isinstance(keys, Iterable):
        raise ValidationError(
            f"{kind} repository",
            [FieldError("keys", "type", f"must be an iterable of keys, not {type(keys).__name__}")],
        )


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_neighbours(kind: str, near: object, limit: object, whole: object) -> int:
    """Refuse a bad ``find_neighbours`` call; the number of records a key is read whole to."""
    errors = []
    if not isinstance(near, str):
        errors.append(FieldError("near", "type", f"must be a string, not {type(near).__name__}"))
    elif not encodable(near):
        errors.append(FieldError("near", "invalid", "must be text (lone surrogates are not)"))
    for name, value in (("limit", limit), ("whole", 1 if whole is None else whole)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**6:
            errors.append(FieldError(name, "out_of_range", "must be a whole number, 1 to 1000000"))
    if errors:
        raise ValidationError(f"{kind} repository", errors)
    assert isinstance(limit, int)  # noqa: S101 - checked above, for the type checker
    return max(2 * limit, whole if isinstance(whole, int) else 0)


class StagingUnitOfWork:
    """The ``with`` protocol of a unit of work whose repositories stage their changes.

    Entering starts clean, leaving always discards what was not committed; subclasses give
    their repositories (each with a ``_reset()``) and a ``commit()``.
    """

    committed: bool
    store: Any

    def _repositories(self) -> tuple[Any, ...]:
        """Every repository of the unit, in commit order (trigger states last)."""
        return (
            getattr(self, "leads"),  # noqa: B009 - set by the subclasses
            getattr(self, "contacts"),  # noqa: B009
            getattr(self, "accounts"),  # noqa: B009
            getattr(self, "opportunities"),  # noqa: B009
            getattr(self, "activities"),  # noqa: B009
            getattr(self, "merges"),  # noqa: B009
            getattr(self, "consents"),  # noqa: B009
            getattr(self, "privacy_log"),  # noqa: B009
            getattr(self, "trigger_states"),  # noqa: B009
        )

    def _nothing_to_write(self, repositories: tuple[Any, ...]) -> bool:
        """Commit a unit that staged nothing: it succeeds, and its reads stay remembered."""
        if any(repo._changes for repo in repositories):  # noqa: SLF001
            return False
        for repo in repositories:
            repo._committed()  # noqa: SLF001 - the unit owns its repositories
        self.committed = True
        return True

    def index_rules(self, rules: Iterable[MatchingRule]) -> None:
        """Index the blocking keys of *rules* in the store (``SupportsKeyIndex``).

        Rules are known by name; a new or redefined one is back-filled over the stored
        leads, contacts and accounts at once, outside this unit's staged changes.
        """
        self.store.index_rules(rules)

    def __enter__(self) -> Self:
        # Entering starts clean; a unit holding uncommitted changes (a service called on
        # it inside the caller's own ``with`` block, say) would lose them without a word.
        staged = sorted(
            type(repo).__name__ for repo in self._repositories() if getattr(repo, "_changes", None)
        )
        if staged:
            raise ValidationError(
                "unit of work",
                [
                    FieldError(
                        "uow",
                        "uncommitted",
                        "holds uncommitted changes; commit them before the unit is entered "
                        "again (services enter the unit they are given: call them after "
                        "your commit, or give them a unit of their own)",
                    )
                ],
            )
        self.rollback()
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def rollback(self) -> None:
        """Discard every staged change."""
        for repo in self._repositories():
            repo._reset()  # noqa: SLF001 - the unit owns its repositories


RULE_KINDS: Final = frozenset({"lead", "contact", "account"})
"""The kinds of record whose duplicate rules' blocking keys a store indexes."""

_RULE_KEY: Final = re.compile(r"(.*?)#\d+:", re.DOTALL)


def prepare_rules(rules: object) -> list[tuple[str, str, CompiledRule]]:
    """``(name, JSON document, compiled rule)`` of each rule, checked; the last of a name wins."""
    from leadmodel.rules.matching import CompiledRule, MatchingRule
    from leadmodel.serialization import to_json

    if isinstance(rules, MatchingRule | CompiledRule | str) or not isinstance(rules, Iterable):
        raise ValidationError(
            "index_rules",
            [FieldError("rules", "type", "must be an iterable of MatchingRule values")],
        )
    prepared: dict[str, tuple[str, str, CompiledRule]] = {}
    for position, item in enumerate(rules):
        if isinstance(item, CompiledRule):
            compiled, rule = item, item.rule
        elif isinstance(item, MatchingRule):
            compiled, rule = item.compile(), item
        else:
            raise ValidationError(
                "index_rules",
                [
                    FieldError(
                        f"rules[{position}]",
                        "type",
                        f"must be a MatchingRule, not {describe_value(item)}",
                    )
                ],
            )
        prepared[rule.name] = (rule.name, _document(rule, to_json), compiled)
    return list(prepared.values())


_DOCUMENTS: dict[object, str] = {}


def _document(rule: object, to_json: Callable[[object], str]) -> str:
    """The rule's JSON, remembered: services index their rules before every search."""
    try:
        found = _DOCUMENTS.get(rule)
    except TypeError:  # an unhashable rule (a hostile subclass): no memo
        return to_json(rule)
    if found is None:
        found = to_json(rule)
        if len(_DOCUMENTS) >= 256:
            _DOCUMENTS.clear()
        _DOCUMENTS[rule] = found
    return found


class IndexedRules:
    """The duplicate rules whose blocking keys a store indexes, by rule name."""

    __slots__ = ("aliases", "aliasing", "compiled", "documents", "generation")

    def __init__(self, *, aliasing: bool = False) -> None:
        self.documents: dict[str, str] = {}
        self.compiled: dict[str, CompiledRule] = {}
        self.generation = 0  # moves on whenever the rules change
        # With the default lookup keys, a rule's key on the bare email or phone holds the
        # same value as the lookup key ``email:``/``phone:``: it is not stored twice, and a
        # search for it asks for the lookup key (phone: also finds mobiles, a superset).
        self.aliasing = aliasing
        self.aliases: dict[str, str] = {}

    def _alias(self, name: str, compiled: CompiledRule) -> None:
        for prefix in [p for p in self.aliases if p.startswith(f"{name}#")]:
            del self.aliases[prefix]
        if not self.aliasing:
            return
        for number, key in enumerate(compiled.rule.blocking, start=1):
            if key.parts in (("email",), ("phone",)):
                self.aliases[f"{name}#{number}:"] = f"{key.parts[0]}:"

    def rule_keys(self, compiled: CompiledRule, record: object) -> tuple[str, ...]:
        """The blocking keys of *record* under *compiled* that are stored (not aliases)."""
        keys = compiled.keys(record)
        if not self.aliases:
            return keys
        aliases = self.aliases
        return tuple(key for key in keys if key[: key.find(":") + 1] not in aliases)

    def translate(self, keys: Iterable[str]) -> list[str]:
        """*keys* with aliased rule keys asked as the lookup keys that hold them."""
        if not self.aliases:
            return list(keys)
        aliases = self.aliases
        found = []
        for key in keys:
            prefix = key[: key.find(":") + 1]
            target = aliases.get(prefix)
            found.append(key if target is None else target + key[len(prefix) :])
        return sorted(set(found))

    def __bool__(self) -> bool:
        return bool(self.documents)

    def set(self, name: str, document: str, compiled: CompiledRule | None = None) -> None:
        """Index *name* as *document* (compiled from it unless given)."""
        if compiled is None:
            from leadmodel.rules.matching import MatchingRule
            from leadmodel.serialization import from_json

            compiled = from_json(MatchingRule, document).compile()
        self.documents[name] = document
        self.compiled[name] = compiled
        self._alias(name, compiled)
        self.generation += 1

    def replace(self, documents: dict[str, str]) -> None:
        """Make the indexed rules exactly *documents* (name → JSON), compiling what is new."""
        for name in [n for n in self.documents if n not in documents]:
            del self.documents[name]
            del self.compiled[name]
            self.aliases = {p: t for p, t in self.aliases.items() if not p.startswith(f"{name}#")}
            self.generation += 1
        for name, document in documents.items():
            if self.documents.get(name) != document:
                self.set(name, document)

    def keys(self, record: object) -> tuple[str, ...]:
        """The blocking keys of *record* under every indexed rule."""
        return tuple(key for rule in self.compiled.values() for key in self.rule_keys(rule, record))

    def unknown(self, keys: Iterable[str]) -> list[str]:
        """The rule keys among *keys* whose rule is not indexed."""
        missing = []
        documents = self.documents
        for key in keys:
            prefix = key[: key.find(":") + 1]
            if "#" not in prefix or prefix[: prefix.rfind("#")] in documents:
                continue  # a lookup key, or the key of an indexed rule: no pattern needed
            found = _RULE_KEY.match(key)
            if found is not None and found.group(1) not in documents:
                missing.append(key)
        return missing


def not_indexed(kind: str, keys: Sequence[str], where: str) -> KeyNotIndexed:
    """The error for a look-up by rule keys that *where* does not index."""
    names = sorted({match.group(1) for key in keys if (match := _RULE_KEY.match(key))})
    shown = ", ".join(describe_value(name) for name in names[:5])
    return KeyNotIndexed(
        f"{kind} look-up by the blocking keys of rule(s) {shown}, which {where} does not "
        "index: call index_rules([rule]) on the store or unit of work first (the services "
        "do it for their duplicate policies)",
        path=where,
    )


# -- shared by the SQL adapters (SQLite, PostgreSQL) ------------------------------------

T = TypeVar(
    "T",
    Lead,
    Contact,
    Account,
    Opportunity,
    Activity,
    MergeRecord,
    TriggerState,
    Consent,
    PrivacyLogEntry,
)

KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
    "activity": Activity,
    "merge": MergeRecord,
    "trigger_state": TriggerState,
    "consent": Consent,
    "privacy_log": PrivacyLogEntry,
}
"""Every kind of record a SQL store holds, one table each."""

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "lead": (
        "first_name",
        "last_name",
        "company",
        "email",
        "status",
        "source",
        "owner_id",
        "rating",
        "created_at",
        "updated_at",
    ),
    "contact": ("first_name", "last_name", "account_id", "email", "owner_id", "created_at"),
    "account": ("name", "website", "industry", "owner_id", "created_at"),
    "opportunity": ("name", "account_id", "stage", "close_date", "owner_id", "created_at"),
    "activity": ("subject_id", "kind", "occurred_at"),
    "merge": ("merged_at", "undone_at"),
    "trigger_state": ("evaluated_at",),
    "consent": ("subject_id", "channel", "purpose", "status", "captured_at", "expires_at"),
    "privacy_log": ("kind", "subject_hash", "at", "mode"),
}
# The columns holding a plain text field as it is, so list views may filter on them in SQL.
TEXT_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "lead": frozenset(
        ("first_name", "last_name", "company", "status", "source", "owner_id", "rating")
    ),
    "contact": frozenset(("first_name", "last_name", "account_id", "owner_id")),
    "account": frozenset(("name", "website", "industry", "owner_id")),
    "opportunity": frozenset(("name", "account_id", "stage", "owner_id")),
    "activity": frozenset(("subject_id", "kind")),
    "merge": frozenset(),
    "trigger_state": frozenset(),
    "consent": frozenset(("subject_id", "channel", "purpose", "status")),
    "privacy_log": frozenset(("kind", "subject_hash", "mode")),
}
TABLES: Final = {kind: f"{kind}_records" for kind in KINDS}
BATCH: Final = 500  # keys per IN (...) query, under SQLite's variable limit
PAGE: Final = 1000  # rows per page when a repository is iterated

MAX_PARAMETERS: Final = 10_000
"""The most values a view's WHERE clause binds; beyond, every row is read and checked in
Python (SQLite refuses more than its SQLITE_MAX_VARIABLE_NUMBER)."""


def column_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def shown(path: str) -> str:
    """A database path for a message: whole, quoted, within reason."""
    return repr(path if len(path) <= 400 else path[:400] + "…")


def present_version(version: int | None) -> int | None:
    """A stored record's version, or ``None`` for an absent one (removed: negative)."""
    return version if version is not None and version > 0 else None


Where = tuple[str, list[str], bool]  # SQL that is never NULL, its parameters, exact?


def everything(dialect: Dialect) -> Where:
    """Every record (a part left to Python)."""
    return dialect.true, [], False


def condition_sql(condition: Condition, columns: frozenset[str], dialect: Dialect) -> Where:
    column, op, expected = condition.field, condition.op, condition.value
    if column not in columns:
        return everything(dialect)
    blank = f"({column} IS NULL OR {column} = '')"
    if op == "is_blank":
        return blank, [], True
    if op == "is_not_blank":
        return f"(NOT {blank})", [], True
    if op in ("eq", "ne", "in", "not_in"):
        wanted = expected if isinstance(expected, tuple) else (expected,)
        # A text column holds text: only text values can equal it.
        texts = sorted({w.casefold() for w in wanted if isinstance(w, str)})
        folded = dialect.fold(column)
        marks = ", ".join("?" * len(texts))
        member = f"{folded} IN ({marks})" if texts else dialect.false
        if op in ("eq", "in"):
            return f"(NOT {blank} AND {member})", texts, True
        return f"({blank} OR NOT ({member}))", texts, True
    if op in ("contains", "starts_with", "ends_with") and isinstance(expected, str):
        # A superset: starting or ending with a text contains it.
        return (
            f"(NOT {blank} AND {dialect.contains(dialect.fold(column))})",
            [expected.casefold()],
            False,
        )
    return everything(dialect)


def where_sql(criterion: Criterion, columns: frozenset[str], dialect: Dialect) -> Where:
    """SQL selecting a superset of the records *criterion* matches (exactly them if exact)."""
    if isinstance(criterion, Condition):
        return condition_sql(criterion, columns, dialect)
    if isinstance(criterion, Not):
        sql, params, exact = where_sql(criterion.item, columns, dialect)
        return (f"(NOT {sql})", params, True) if exact else everything(dialect)
    if not criterion.items:
        # All([]) holds for every record, Any([]) for none: both exactly.
        return (dialect.true if isinstance(criterion, All) else dialect.false), [], True
    parts = [where_sql(item, columns, dialect) for item in criterion.items]
    exact = all(part[2] for part in parts)
    if isinstance(criterion, All):
        kept = [
            part for part in parts if part[0] != dialect.true
        ]  # an untranslated part: re-checked
        if not kept:
            return dialect.true, [], exact
        return joined(" AND ", [p[0] for p in kept]), [x for p in kept for x in p[1]], exact
    if any(part[0] == dialect.true for part in parts):
        return everything(dialect)
    return joined(" OR ", [p[0] for p in parts]), [x for p in parts for x in p[1]], exact


JOINED: Final = 16  # terms joined flat; more are nested in halves


def joined(operator: str, terms: list[str]) -> str:
    """*terms* joined by *operator*, parenthesised as a balanced tree.

    SQLite nests ``a OR b OR c ...`` one level per term and refuses more than 1,000
    levels ("Expression tree is too large"): a group of 1,500 conditions would fail where
    the memory adapter answers. Halves nest only log2(n) levels.
    """
    if len(terms) <= JOINED:
        return "(" + operator.join(terms) + ")"
    middle = len(terms) // 2
    return (
        "(" + joined(operator, terms[:middle]) + operator + joined(operator, terms[middle:]) + ")"
    )


def fold(value: str | None) -> str | None:
    """Text compared the way criteria compare it (case-folded); SQLite's ``leadmodel_fold``."""
    return value.casefold() if isinstance(value, str) else value


@attrs.frozen
class Dialect:
    """What differs between the SQL of the adapters sharing :class:`SQLRepository`.

    Attributes:
        true: SQL that holds for every row; false: for none.
        fold: the SQL of a text column's case-folded value.
        contains: the SQL testing that a (folded) column expression contains ``?``.
        folded: whether each text column has a stored case-folded copy (``fold`` names it).
        upsert_record: the statement writing a record row ``(table, names, marks)``.
        upsert_removed: the statement noting a removed record's last version.
        insert_keys: the statement adding lookup key rows, ignoring those already there.
        nul: whether text values may hold NUL characters (PostgreSQL's may not).
    """

    true: str
    false: str
    fold: Callable[[str], str]
    contains: Callable[[str], str]
    folded: bool
    upsert_record: Callable[[str, str, str], str]
    upsert_removed: str
    insert_keys: str
    nul: bool = True


class SQLRepository(Generic[T]):
    """One unit of work's view of one kind of record in a SQL database, plus staged changes.

    Shared by the SQLite and PostgreSQL adapters: a subclass names its store type and its
    :class:`Dialect`; its store gives ``_query(sql, params)`` (``?`` marks), ``_snapshot()``,
    ``record_keys``, ``rules``, ``keys``, ``_load_rules()`` and ``path``.

    Every record read (by :meth:`get`, iteration, :meth:`select` or :meth:`find_by_keys`)
    is remembered with the version it had; at commit, each record this unit writes must
    still have that version, and each key it searched must still find the same records.
    """

    _store_type: ClassVar[type]
    _dialect: ClassVar[Dialect]

    def __init__(self, store: Any, kind: str) -> None:
        check_repository(store, self._store_type, kind, KINDS)
        self._store = store
        self._kind = kind
        self._type: type[T] = KINDS[kind]
        self._table = TABLES[kind]
        self._changes: dict[str, T | None] = {}
        self._staged = StagedKeys(
            lambda record: store.record_keys(kind, record), lambda: store.rules.generation
        )
        # The unit's (data_version, commits) at its first read; the unit shares one list
        # among its repositories. Unchanged at commit: nobody committed since, nothing
        # this unit read can be stale.
        self._snapshot: list[tuple[int, int] | None] = [None]
        self._seen: dict[str, int | None] = {}
        self._loaded: dict[str, T] = {}
        self._searches: dict[str, frozenset[str]] = {}
        self._near: dict[tuple[str, str, int, int], frozenset[str]] = {}

    def _check_type(self, record: object) -> T:
        return check_record(self._kind, self._type, record)

    def _read(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """The rows of a read, after noting the unit's snapshot at its first read."""
        if self._snapshot[0] is None:
            self._snapshot[0] = self._store._snapshot()  # noqa: SLF001
        rows: list[Any] = self._store._query(sql, params)  # noqa: SLF001
        return rows

    def _decode(self, data: str) -> T:
        try:
            record: T = from_dict(self._type, json.loads(data))
        except (ValueError, TypeError) as exc:
            raise DatabaseDamaged(
                f"{shown(self._store.path)} holds a {self._kind} that does not "
                f"decode ({type(exc).__name__}): run `leadmodel check` and restore it from a "
                "backup",
                path=self._store.path,
            ) from exc
        return record

    def _saw(self, record_id: str, version: int | None) -> None:
        if record_id not in self._seen:
            self._seen[record_id] = version

    def _stored(self, record_id: str) -> T | None:
        """The committed record, remembering the version this unit saw."""
        if record_id in self._loaded:
            return self._loaded[record_id]
        rows = self._read(
            f"SELECT version, data FROM {self._table} WHERE id = ?",  # noqa: S608
            (record_id,),
        )
        if not rows:  # absent (never stored, or removed: either way there is nothing)
            self._saw(record_id, None)
            return None
        row = rows[0]
        self._saw(record_id, int(row[0]))
        record = self._decode(row[1])
        self._loaded[record_id] = record
        return record

    def _current(self, record_id: str) -> T | None:
        if record_id in self._changes:
            return self._changes[record_id]
        return self._stored(record_id)

    def get(self, record_id: str) -> T | None:
        """The record with *record_id* as this unit of work sees it, or ``None``."""
        return self._current(check_id(self._kind, record_id))

    def add(self, record: T) -> None:
        """Stage a new record; :class:`~leadmodel.RecordExists` if the id is taken."""
        record = self._check_type(record)
        if self._current(record.id) is not None:
            raise RecordExists(self._kind, record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def update(self, record: T) -> None:
        """Stage a replacement; :class:`~leadmodel.RecordNotFound` if there is none."""
        record = self._check_type(record)
        if self._current(record.id) is None:
            raise RecordNotFound(self._kind, record.id)
        self._changes[record.id] = record
        self._staged.stage(record.id, record)

    def remove(self, record_id: str) -> None:
        """Stage a deletion; :class:`~leadmodel.RecordNotFound` if there is no such record."""
        record_id = check_id(self._kind, record_id)
        if self._current(record_id) is None:
            raise RecordNotFound(self._kind, record_id)
        self._changes[record_id] = None
        self._staged.stage(record_id, None)

    def _merged(self, rows: list[Any]) -> Iterator[T]:
        """Stored rows ``(id, version, data)`` with the staged changes laid over them.

        Lazy: a record's version is remembered when it is yielded, so a caller that commits
        between records (``rescore`` does, batch by batch) has every later record checked
        against the version it was read at.
        """
        changes = self._changes
        stored = {row[0]: row for row in rows}
        extra = [rid for rid, record in changes.items() if record is not None]
        for record_id in sorted(stored.keys() | set(extra)):
            if record_id in changes:
                staged = changes[record_id]
                if staged is not None:
                    yield staged
                continue
            row = stored.get(record_id)
            if row is None:
                continue
            self._saw(record_id, int(row[1]))
            cached = self._loaded.get(record_id)
            yield cached if cached is not None else self._decode(row[2])

    def __iter__(self) -> Iterator[T]:
        """Every record this unit of work sees, ordered by id.

        Read a page of rows at a time (memory stays bounded over a million leads), with
        the changes staged when the iteration began laid over them. Each record's version
        is remembered as it is yielded, so a caller may commit between records.
        """
        staged = dict(sorted(self._changes.items()))
        pending = iter(staged.items())
        waiting = next(pending, None)
        sql = f"SELECT id, version, data FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
        after = ""
        while True:
            rows = self._read(sql, (after, PAGE))
            for record_id, version, data in rows:
                while waiting is not None and waiting[0] <= record_id:
                    if waiting[1] is not None:
                        yield waiting[1]
                    waiting = next(pending, None)
                if record_id in staged:
                    continue  # yielded (or removed) above, as staged
                self._saw(record_id, int(version))
                cached = self._loaded.get(record_id)
                yield cached if cached is not None else self._decode(data)
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
        while waiting is not None:
            if waiting[1] is not None:
                yield waiting[1]
            waiting = next(pending, None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def select(self, view: ListView) -> list[T]:
        """The records *view* shows, as :func:`~leadmodel.apply_view` would, filtered in SQL.

        The view's criterion is translated to a ``WHERE`` clause over the text columns
        (names, company, status, source, owner, rating …: ``eq``, ``ne``, ``in``,
        ``not_in``, ``is_blank``, ``is_not_blank`` exactly, case-insensitively;
        ``contains``, ``starts_with`` and ``ends_with`` as a pre-filter), combined through
        ``All``, ``Any`` and ``Not``. Conditions on other fields are checked in Python on the
        rows SQL returns, and the sort and limit are applied there too, so the result is
        always exactly ``apply_view(view, list(repository))``. Staged changes are seen.

        Raises:
            ValidationError: *view* is not a ListView.
        """
        require_instance(view, ListView, "a ListView", function="select", path="view")
        where, params = self._dialect.true, list[str]()
        if view.criterion is not None:
            where, params, _exact = where_sql(
                view.criterion, TEXT_COLUMNS[self._kind], self._dialect
            )
            if len(params) > MAX_PARAMETERS:
                where, params = self._dialect.true, []  # a superset: apply_view below decides
        rows = self._read(
            f"SELECT id, version, data FROM {self._table} WHERE {where} ORDER BY id",  # noqa: S608 - our columns, values as parameters
            params,
        )
        return apply_view(view, list(self._merged(rows)))  # type: ignore[return-value]

    def find_by_keys(self, keys: Iterable[str]) -> list[T]:
        """Every record with at least one of *keys*, each once, ordered by id.

        Raises:
            KeyNotIndexed: a key is the blocking key of a rule the database does not index
                (a store built with its own *keys* function answers every key).
        """
        wanted = self._wanted(keys)
        found, fetched = self._keyed_rows(wanted)
        ids: set[str] = set()
        for key in wanted:
            ids |= self._searches.setdefault(key, found.get(key, frozenset()))
        return self._found(ids, wanted, fetched)

    def find_neighbours(
        self, keys: Iterable[str], near: str, limit: int, *, whole: int | None = None
    ) -> list[T]:
        """The records nearest *near* under each of *keys*, each once, ordered by id.

        Every committed record of a key that holds at most *whole* (default
        ``2 * limit``), else ``2 * limit`` of them, in the order of
        :func:`~leadmodel.ports.neighbour_sort_value` (see
        :class:`~leadmodel.ports.SupportsNeighbours`), read through an index on the key
        and the sort value; re-checked at commit.

        Raises:
            KeyNotIndexed: as :meth:`find_by_keys`.
            ValidationError: *near* not a string, or *limit* or *whole* not a whole number
                from 1.
        """
        whole = check_neighbours(self._kind, near, limit, whole)
        wanted = self._wanted(keys)
        ids: set[str] = set()
        fetched: dict[str, tuple[int, str]] = {}
        for key in wanted:
            rows = self._neighbour_rows(key, near, limit, whole, self._read)
            found = frozenset(row[0] for row in rows)
            for record_id, version, data in rows:
                fetched[record_id] = (int(version), data)
            ids |= self._near.setdefault((key, near, limit, whole), found)
        return self._found(ids, wanted, fetched)

    def _neighbour_rows(
        self, key: str, near: str, limit: int, whole: int, read: Callable[..., list[Any]]
    ) -> list[Any]:
        """``(id, version, data)`` of the committed records under *key* nearest *near*."""
        table, kind = self._table, self._kind
        select = (
            f"SELECT r.id, r.version, r.data FROM lookup_keys k JOIN {table} r "  # noqa: S608
            "ON r.id = k.id WHERE k.kind = ? AND k.key = ?"
        )
        rows = read(f"{select} LIMIT ?", (kind, key, whole + 1))
        if len(rows) <= whole:
            return rows
        below, above = "<", ">="
        if not self._dialect.nul and "\x00" in near:
            # No stored sort value holds NUL: one sorts before ``p + "\x00" + rest`` exactly
            # when it is at most ``p``, which the database can be asked.
            near, below, above = near[: near.index("\x00")], "<=", ">"
        before = read(
            f"{select} AND k.sort {below} ? ORDER BY k.sort DESC, k.id DESC LIMIT ?",
            (kind, key, near, limit),
        )
        after = read(
            f"{select} AND k.sort {above} ? ORDER BY k.sort, k.id LIMIT ?",
            (kind, key, near, limit),
        )
        return before + after

    def _wanted(self, keys: Iterable[str]) -> list[str]:
        """*keys* as the database holds them (checked, rule keys translated), sorted."""
        check_keys(self._kind, keys)
        # A key that is not text (lone surrogates) is under no stored record: never asked.
        nul = self._dialect.nul  # else no stored key holds NUL, nor can be asked for one
        wanted = sorted(
            {text for key in keys if encodable(text := str(key)) and (nul or "\x00" not in text)}
        )
        store = self._store
        if self._kind in RULE_KINDS and store.keys is lookup_keys and store.rules.unknown(wanted):
            store._load_rules()  # noqa: SLF001 - another process may have indexed it
            unknown = store.rules.unknown(wanted)
            if unknown:
                raise not_indexed(self._kind, unknown, shown(store.path))
        translated: list[str] = store.rules.translate(wanted)
        return translated

    def _found(
        self, ids: set[str], wanted: list[str], fetched: dict[str, tuple[int, str]]
    ) -> list[T]:
        """The records of committed *ids* (rows in *fetched*) and staged ones under *wanted*."""
        # Committed matches whose record is staged are replaced by the staged matches.
        changes = self._changes
        ids = {record_id for record_id in ids if record_id not in changes}
        ids |= self._staged.matching(wanted)
        records = []
        for record_id in sorted(ids):
            row = fetched.get(record_id)
            if row is None or record_id in changes or record_id in self._loaded:
                record = self._current(record_id)
            else:
                self._saw(record_id, row[0])
                record = self._loaded[record_id] = self._decode(row[1])
            if record is not None:
                records.append(record)
        return records

    def _keyed_rows(
        self, keys: list[str]
    ) -> tuple[dict[str, frozenset[str]], dict[str, tuple[int, str]]]:
        """The committed ids under each of *keys*, and their rows ``id -> (version, data)``.

        Read together: one statement per 500 keys, not one more per record found.
        """
        found: dict[str, set[str]] = {}
        fetched: dict[str, tuple[int, str]] = {}
        for start in range(0, len(keys), BATCH):
            part: list[str] = keys[start : start + BATCH]
            marks = ", ".join("?" * len(part))
            sql = (
                f"SELECT k.key, r.id, r.version, r.data FROM lookup_keys k JOIN {self._table} r "  # noqa: S608
                f"ON r.id = k.id WHERE k.kind = ? AND k.key IN ({marks})"
            )
            for key, record_id, version, data in self._read(sql, (self._kind, *part)):
                found.setdefault(key, set()).add(record_id)
                fetched[record_id] = (int(version), data)
        return {key: frozenset(ids) for key, ids in found.items()}, fetched

    def _committed_ids(self, keys: list[str], connection: Any) -> dict[str, frozenset[str]]:
        """The committed ids under each of *keys* (keys with none are left out), at commit."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(keys), BATCH):
            part: list[str] = keys[start : start + BATCH]
            marks = ", ".join("?" * len(part))
            sql = f"SELECT key, id FROM lookup_keys WHERE kind = ? AND key IN ({marks})"  # noqa: S608
            for key, record_id in connection.execute(sql, (self._kind, *part)):
                found.setdefault(key, set()).add(record_id)
        return {key: frozenset(ids) for key, ids in found.items()}

    # -- used by the unit of work -------------------------------------------------------

    def _versions(self, connection: Any, ids: list[str]) -> dict[str, int]:
        """The committed versions of *ids*, a batch at a time.

        A removed record has its last version, negative; an id never stored is left out.
        """
        versions: dict[str, int] = {}
        for start in range(0, len(ids), BATCH):
            part: list[str] = ids[start : start + BATCH]
            marks = ", ".join("?" * len(part))
            query = (
                f"SELECT -version, id FROM removed_records WHERE kind = ? AND id IN ({marks}) "  # noqa: S608
                f"UNION ALL SELECT version, id FROM {self._table} WHERE id IN ({marks})"
            )
            for version, record_id in connection.execute(query, (self._kind, *part, *part)):
                if record_id not in versions or version > 0:
                    versions[record_id] = int(version)
        return versions

    def _stale(self, connection: Any, *, check: bool = True) -> tuple[list[str], dict[str, int]]:
        """What went stale since this unit read it, and the current versions of its writes.

        Each record this unit writes must still have the version it read (``None``: it did
        not exist); each key it searched must still find the same records.
        """
        seen = self._seen
        if not check:
            # Nobody committed since this unit's first read: what it saw is what is stored;
            # only the records it saw absent need their last version (a removed one's).
            present = {rid: v for rid in self._changes if (v := seen.get(rid)) is not None}
            absent = [rid for rid in self._changes if rid not in present]
            return [], {**self._versions(connection, absent), **present} if absent else present
        current = self._versions(connection, list(self._changes)) if self._changes else {}
        # A removed record is absent, as one never stored: a unit that saw it absent may
        # add it; a unit that saw it present finds it changed. Versions never go back, so
        # a record removed and added again is never mistaken for the one that was read.
        stale = [
            f"{self._kind} {rid}"
            for rid in self._changes
            if present_version(current.get(rid)) != seen.get(rid, present_version(current.get(rid)))
        ]
        if self._searches:
            now_found = self._committed_ids(sorted(self._searches), connection)
            stale += [
                f"{self._kind} look-up {key}"
                for key, found in self._searches.items()
                if now_found.get(key, frozenset()) != found
            ]

        def read(sql: str, params: Iterable[object]) -> list[Any]:
            rows: list[Any] = connection.execute(sql, tuple(params)).fetchall()
            return rows

        stale += [
            f"{self._kind} look-up {key} near {near!r}"
            for (key, near, limit, whole), found in self._near.items()
            if frozenset(row[0] for row in self._neighbour_rows(key, near, limit, whole, read))
            != found
        ]
        return stale, current

    def _write(self, connection: Any, current: dict[str, int]) -> None:
        """Write the staged changes inside the open transaction."""
        if not self._changes:
            return
        columns: tuple[str, ...] = COLUMNS[self._kind]
        dialect: Dialect = self._dialect
        folded: list[str] = sorted(TEXT_COLUMNS[self._kind]) if dialect.folded else []
        names = ", ".join(("id", "version", *columns, *map(dialect.fold, folded), "data"))
        marks = ", ".join("?" * (len(columns) + len(folded) + 3))
        changed = list(self._changes.items())
        had_keys = [(self._kind, rid) for rid, _ in changed if current.get(rid, 0) > 0]
        if had_keys:
            connection.executemany("DELETE FROM lookup_keys WHERE kind = ? AND id = ?", had_keys)
        removed = [record_id for record_id, record in changed if record is None]
        if removed:
            connection.executemany(
                f"DELETE FROM {self._table} WHERE id = ?",  # noqa: S608 - our table name
                [(record_id,) for record_id in removed],
            )
            connection.executemany(
                self._dialect.upsert_removed,
                [(self._kind, rid, abs(current.get(rid) or 0) + 1) for rid in removed],
            )
        revived = [
            (self._kind, rid)
            for rid, record in changed
            if record is not None and current.get(rid, 0) < 0
        ]
        if revived:
            connection.executemany("DELETE FROM removed_records WHERE kind = ? AND id = ?", revived)
        rows = []
        keys = []
        store, kind = self._store, self._kind
        for record_id, record in changed:
            if record is None:
                continue
            data: dict[str, Any] = to_dict(record)
            rows.append(
                (
                    record_id,
                    abs(current.get(record_id) or 0) + 1,
                    *(column_value(data.get(column)) for column in columns),
                    *(fold(column_value(data.get(column))) for column in folded),
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                )
            )
            staged = self._staged.keys_of(record_id)
            record_keys = staged if staged is not None else store.record_keys(kind, record)
            sort = neighbour_sort_value(record)
            keys += [(kind, key, record_id, sort) for key in record_keys]
        connection.executemany(dialect.upsert_record(self._table, names, marks), rows)
        connection.executemany(dialect.insert_keys, keys)

    def _committed(self) -> None:
        """Forget what this commit wrote and searched; remember the other reads.

        A record read before the unit's own commit and written after it is still checked
        against the version it was read at (``rescore`` commits batch by batch).
        """
        for record_id in self._changes:
            self._seen.pop(record_id, None)
            self._loaded.pop(record_id, None)
        self._changes.clear()
        self._staged.clear()
        self._searches.clear()
        self._near.clear()

    def _reset(self) -> None:
        self._changes.clear()
        self._staged.clear()
        self._seen.clear()
        self._loaded.clear()
        self._searches.clear()
        self._near.clear()
        self._snapshot[0] = None
