"""The lookup-key index of a unit of work's staged records, shared by the adapters.

A unit of work sees its own uncommitted records in ``find_by_keys``; indexing their keys as
they are staged keeps each look-up proportional to what it finds, not to how much the unit
has staged (an import stages thousands of records between commits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, KeyNotIndexed, ValidationError, describe_value
from leadmodel.ports import KeyFunction

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
        """Every repository of the unit, in commit order."""
        return (
            getattr(self, "leads"),  # noqa: B009 - set by the subclasses
            getattr(self, "contacts"),  # noqa: B009
            getattr(self, "accounts"),  # noqa: B009
            getattr(self, "opportunities"),  # noqa: B009
            getattr(self, "activities"),  # noqa: B009
            getattr(self, "merges"),  # noqa: B009
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
