"""Duplicate rules: what to do when a record being saved has duplicates.

A :class:`DuplicatePolicy` is Salesforce's duplicate rule as data: the matching rules to
apply, an action for creates and one for edits (allow, alert, report, alert and report, or
block), and an optional criterion saying when the policy applies at all.
:func:`check_duplicates` applies it to one record and returns a :class:`DuplicateCheck`
with the decision, the matches and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final, Literal

import attrs

from leadmodel._html import result_html
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import DuplicateBlocked, FieldError, ValidationError, describe_value
from leadmodel.rules.criteria import All, Any, Condition, Not, evaluate
from leadmodel.rules.dedupe import DuplicateIndex, MatchEdge
from leadmodel.rules.matching import CompiledRule, MatchingRule, record_id

__all__ = ["DuplicateAction", "DuplicateCheck", "DuplicatePolicy", "check_duplicates"]


class DuplicateAction(Enum):
    """What happens when duplicates are found.

    ``allow`` saves silently; ``alert`` saves after showing the matches (the user may
    cancel); ``report`` saves and records the matches for a duplicate report;
    ``alert_and_report`` does both; ``block`` refuses to save.
    """

    ALLOW = "allow"
    ALERT = "alert"
    REPORT = "report"
    ALERT_AND_REPORT = "alert_and_report"
    BLOCK = "block"


def _rules(values: Iterable[MatchingRule]) -> tuple[MatchingRule, ...]:
    return _checks.as_tuple(values)


OBJECTS: Final = ("lead", "contact", "account")
"""The kinds of record a duplicate policy can compare a record with."""


def _compare_with(value: object) -> Mapping[str, tuple[str, ...]]:
    """A read-only ``rule name -> object kinds``; what cannot be read is left for the checks."""
    if not isinstance(value, Mapping):
        return value  # type: ignore[return-value] # reported by __attrs_post_init__
    return MappingProxyType(
        {
            name: tuple(kinds) if isinstance(kinds, list | tuple) else kinds
            for name, kinds in sorted(value.items(), key=lambda item: str(item[0]))
        }
    )


def _kind(record: object) -> str | None:
    """``"lead"``, ``"contact"`` or ``"account"`` for those entities, else ``None``."""
    name = type(record).__name__
    return name.lower() if name in ("Lead", "Contact", "Account") else None


@attrs.frozen
class DuplicatePolicy:
    """A duplicate rule: matching rules, the action on create and on edit, and when it applies.

    Args:
        name: the policy's name, reported with its decisions.
        rules: matching rules applied to every candidate (a lead policy usually holds the
            lead and the contact rule, so a new lead is checked against both).
        on_create: the action when a new record has duplicates (Salesforce's default:
            alert).
        on_edit: the action when an edited record has duplicates (default: report); on
            edit a policy runs only when a field one of its rules reads has changed.
        condition: the policy applies only to records that satisfy it.
        compare_with: which objects each rule compares with, by rule name
            (Salesforce's "Compare Leads With: Accounts"): ``{"standard_account":
            ("account",)}`` makes a lead policy holding the account rule compare a new lead's
            company and website with stored accounts only. A rule not named compares with
            every candidate. The services search leads and contacts for a lead or contact,
            and accounts too when a rule here names them.

    >>> from leadmodel import STANDARD_ACCOUNT_RULE, STANDARD_LEAD_RULE
    >>> policy = DuplicatePolicy(
    ...     "leads",
    ...     [STANDARD_LEAD_RULE, STANDARD_ACCOUNT_RULE],
    ...     compare_with={"standard_account": ["account"]},
    ... )
    >>> policy.objects
    ('lead', 'contact', 'account')
    """

    name: str
    rules: tuple[MatchingRule, ...] = attrs.field(converter=_rules)
    on_create: DuplicateAction = DuplicateAction.ALERT
    on_edit: DuplicateAction = DuplicateAction.REPORT
    condition: Condition | All | Any | Not | None = None
    compare_with: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict, converter=_compare_with, hash=False
    )

    @property
    def objects(self) -> tuple[str, ...]:
        """The kinds of record this policy compares with.

        Leads and contacts, and accounts when :attr:`compare_with` names them.
        """
        named = {kind for kinds in self.compare_with.values() for kind in kinds}
        return tuple(kind for kind in OBJECTS if kind in {"lead", "contact"} | named)

    def applies(self, rule: MatchingRule, candidate: object) -> bool:
        """Whether *rule* compares with *candidate* under :attr:`compare_with`."""
        kinds = self.compare_with.get(rule.name)
        if kinds is None:
            return True
        kind = _kind(candidate)
        return kind is None or kind in kinds

    def __attrs_post_init__(self) -> None:
        errors = []
        problem = _checks.text_problem(self.name, 80)
        if problem is not None:
            errors.append(FieldError("name", problem[0], problem[1]))
        if not self.rules or not all(isinstance(r, MatchingRule) for r in self.rules):
            errors.append(FieldError("rules", "type", "needs one or more MatchingRule values"))
        errors.extend(
            FieldError(name, "type", "must be a DuplicateAction")
            for name in ("on_create", "on_edit")
            if not isinstance(getattr(self, name), DuplicateAction)
        )
        if self.condition is not None and not isinstance(
            self.condition, Condition | All | Any | Not
        ):
            errors.append(FieldError("condition", "type", "must be a criterion"))
        errors.extend(self._compare_with_problems())
        if errors:
            raise ValidationError(f"DuplicatePolicy {describe_value(self.name)}", errors)

    def _compare_with_problems(self) -> list[FieldError]:
        if not isinstance(self.compare_with, Mapping):
            return [FieldError("compare_with", "type", "must map rule names to object kinds")]
        names = {rule.name for rule in self.rules if isinstance(rule, MatchingRule)}
        problems = []
        for name, kinds in self.compare_with.items():
            path = f"compare_with[{describe_value(name)}]"
            if not isinstance(name, str) or name not in names:
                problems.append(
                    FieldError(path, "unknown_rule", "names none of the policy's rules")
                )
            elif not isinstance(kinds, tuple) or not kinds:
                problems.append(FieldError(path, "type", "must be a list of object kinds"))
            elif not all(_checks.one_of(kind, OBJECTS) for kind in kinds):
                problems.append(
                    FieldError(path, "invalid", f"object kinds are {', '.join(OBJECTS)}")
                )
        return problems


Decision = Literal["allow", "alert", "report", "alert_and_report", "block"]


@attrs.frozen
class DuplicateCheck:
    """The outcome of :func:`check_duplicates`.

    Attributes:
        decision: ``"allow"``, ``"alert"``, ``"report"``, ``"alert_and_report"`` or
            ``"block"``.
        matches: the matching records, best first.
        rule: the name of the matching rule behind the first match, or ``None``.
        reason: why the policy decided as it did.
        overridden: a block was overridden with ``allow_save=True``.
    """

    _repr_html_ = result_html

    decision: Decision
    matches: tuple[MatchEdge, ...]
    rule: str | None
    reason: str
    overridden: bool = False

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def is_blocked(self) -> bool:
        """Whether the save must not happen."""
        return self.decision == "block"

    def raise_if_blocked(self) -> None:
        """Raise :class:`~leadmodel.DuplicateBlocked` when the decision is ``block``."""
        if self.is_blocked:
            ids = ", ".join(m.b_id for m in self.matches[:10])
            raise DuplicateBlocked(f"{self.reason}: duplicates {ids}")


_ACTIONS: Final = ("create", "edit")


def _fields_read(rule: MatchingRule) -> set[str]:
    fields = set()
    for matcher in rule.matchers:
        for path in (matcher.field, *matcher.aliases):
            fields.add(path.split(".")[0])
    return fields


def _changed(record: object, previous: object, fields: set[str]) -> bool:
    return any(getattr(record, f, None) != getattr(previous, f, None) for f in fields)


def check_duplicates(
    record: object,
    candidates: DuplicateIndex | Iterable[object],
    policy: DuplicatePolicy,
    *,
    action: Literal["create", "edit"] = "create",
    previous: object = None,
    allow_save: bool = False,
) -> DuplicateCheck:
    """Apply *policy* to *record* about to be created or edited.

    *candidates* is a :class:`DuplicateIndex` (its rule must be one of the policy's) or
    an iterable of records to compare with every rule of the policy; the record itself
    (same id) is never its own duplicate. On edit, give *previous* (the stored record):
    the policy then runs only when a field its rules read has changed. ``allow_save=True``
    is the programmatic override of a block (Salesforce's ``allowSave``): the decision
    becomes an alert.

    >>> from leadmodel import EmailAddress, Lead, STANDARD_LEAD_RULE
    >>> stored = [
    ...     Lead(
    ...         id="L1",
    ...         first_name="Ann",
    ...         last_name="Lee",
    ...         company="Acme",
    ...         email=EmailAddress.parse("ann@acme.com"),
    ...     )
    ... ]
    >>> policy = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
    >>> new = Lead(
    ...     id="L2",
    ...     first_name="Anne",
    ...     last_name="Lee",
    ...     company="Acme",
    ...     email=EmailAddress.parse("ANN@acme.com"),
    ... )
    >>> check = check_duplicates(new, stored, policy)
    >>> check.decision, [m.b_id for m in check.matches]
    ('block', ['L1'])

    Raises:
        ValidationError: a bad policy, action, candidates or record.
    """
    if not isinstance(policy, DuplicatePolicy):
        raise ValidationError(
            "check_duplicates",
            [
                FieldError(
                    "policy", "type", f"must be a DuplicatePolicy, not {type(policy).__name__}"
                )
            ],
        )
    if action not in _ACTIONS:
        raise ValidationError(
            "check_duplicates",
            [
                FieldError(
                    "action", "invalid", f"must be 'create' or 'edit', not {describe_value(action)}"
                )
            ],
        )
    if policy.condition is not None and not evaluate(policy.condition, record, previous=previous):
        return DuplicateCheck(
            "allow", (), None, f"{policy.name}: the policy's condition is not met"
        )
    if action == "edit" and previous is not None:
        fields = set().union(*(_fields_read(rule) for rule in policy.rules))
        if not _changed(record, previous, fields):
            return DuplicateCheck(
                "allow", (), None, f"{policy.name}: no field its rules read has changed"
            )
    matches, rule_of = _find_matches(record, candidates, policy)
    if not matches:
        return DuplicateCheck("allow", (), None, f"{policy.name}: no duplicates")
    configured = policy.on_create if action == "create" else policy.on_edit
    decision: Decision = configured.value
    reason = f"{policy.name}: {len(matches)} duplicate(s) on {action}, action {configured.value}"
    overridden = False
    if decision == "block" and allow_save:
        decision, overridden = "alert", True
        reason += ", overridden with allow_save"
    return DuplicateCheck(
        decision, tuple(matches), rule_of.get(matches[0].b_id), reason, overridden
    )


def _find_matches(
    record: object, candidates: object, policy: DuplicatePolicy
) -> tuple[list[MatchEdge], dict[str, str]]:
    rule_of: dict[str, str] = {}
    if isinstance(candidates, DuplicateIndex):
        if candidates.rule not in policy.rules:
            raise ValidationError(
                "check_duplicates",
                [
                    FieldError(
                        "candidates", "rule", "the index's rule is not one of the policy's rules"
                    )
                ],
            )
        found = candidates.matches(record)
        rule_of.update({m.b_id: candidates.rule.name for m in found})
        return found, rule_of
    if isinstance(candidates, str | bytes) or not isinstance(candidates, Iterable):
        raise ValidationError(
            "check_duplicates",
            [
                FieldError(
                    "candidates", "type", "must be a DuplicateIndex or an iterable of records"
                )
            ],
        )
    try:
        own = record_id(record)
    except ValidationError:
        own = ""
    compiled: list[CompiledRule] = [rule.compile() for rule in policy.rules]
    prepared = [rule.prepare(record) for rule in compiled]
    best: dict[str, MatchEdge] = {}
    for candidate in candidates:
        candidate_id = record_id(candidate)
        if candidate_id == own:
            continue
        for rule, mine in zip(compiled, prepared, strict=True):
            if not policy.applies(rule.rule, candidate):
                continue
            result = rule.match_prepared(mine, rule.prepare(candidate))
            if result is None:
                continue
            current = best.get(candidate_id)
            if current is None or result.score > current.result.score:
                best[candidate_id] = MatchEdge(own, candidate_id, result)
                rule_of[candidate_id] = rule.rule.name
    found = sorted(best.values(), key=lambda edge: (-edge.result.score, edge.b_id))
    return found, rule_of
