"""Auto-conversion: Zoho's "convert when …" workflow action as data.

An :class:`AutoConvertRule` says when a lead converts by itself — when it first meets a
criterion, or when an activity of a given kind happens to it ("convert when a lead books a
demo or buys") — and with which :class:`~leadmodel.ConvertOptions`. :func:`auto_convert`
decides, purely, which conversion an event calls for; :func:`~leadmodel.convert_lead`
performs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import to_tags
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.lead import Lead
from leadmodel.rules._common import criterion_problem as _criterion_problem
from leadmodel.rules.conversion import ConvertOptions
from leadmodel.rules.criteria import Criterion, evaluate

__all__ = ["AutoConversion", "AutoConvertRule", "auto_convert"]

_NO_KINDS: Final[frozenset[str]] = frozenset()


def _require(value: object, cls: type | tuple[type, ...], what: str, name: str) -> None:
    _checks.require_instance(value, cls, what, function="auto_convert", path=name)


def _kinds_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, frozenset):
        return "type", f"must be a set of activity kinds, not {type(value).__name__}"
    for kind in value:
        problem = _checks.text_problem(kind, 80)
        if problem is not None:
            return problem[0], f"activity kind {describe_value(kind)} {problem[1]}"
    return None


_RULE_CHECKS: Final = _checks.FieldChecks(
    "AutoConvertRule",
    required=[
        ("name", _checks.text(80)),
        ("criterion", _checks.Check(lambda v: _criterion_problem(v, optional=False))),
        ("options", _checks.instance(ConvertOptions, "ConvertOptions")),
        ("activity_kinds", _checks.Check(_kinds_problem)),
    ],
    optional=[
        ("activity_criterion", _checks.Check(lambda v: _criterion_problem(v, optional=True))),
    ],
)


@attrs.frozen
class AutoConvertRule:
    """Zoho's "convert" workflow action as data: when a lead converts by itself.

    A *field rule* (no *activity_kinds*) fires when a lead is created or edited and meets
    *criterion* for the first time (it did not before the edit), as Zoho's rule fires
    only the first time its criteria are met. An *activity rule* fires when an activity of
    one of *activity_kinds* happens to a lead that meets *criterion* (and the activity
    meets *activity_criterion*, over ``kind`` and ``properties.<name>``): "convert when a
    lead books a demo or buys".

    Args:
        criterion: what the lead must meet.
        options: the conversion to perform (a template: the same options for every lead).
        name: the rule's name, reported with its decisions.
        activity_kinds: the activity kinds that trigger the rule.
        activity_criterion: what the triggering activity must meet.

    >>> from leadmodel import Condition
    >>> rule = AutoConvertRule(
    ...     Condition("email", "is_not_blank"),
    ...     ConvertOptions("Closed - Converted"),
    ...     name="buyers",
    ...     activity_kinds={"purchase"},
    ... )
    >>> sorted(rule.activity_kinds)
    ['purchase']
    """

    criterion: Criterion
    options: ConvertOptions
    name: str = attrs.field(default="auto-convert", kw_only=True)
    activity_kinds: frozenset[str] = attrs.field(default=_NO_KINDS, converter=to_tags, kw_only=True)
    activity_criterion: Criterion | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _RULE_CHECKS.validate(self)


@attrs.frozen
class AutoConversion:
    """What :func:`auto_convert` decided: convert *lead_id* with *options*, and why."""

    rule: str
    lead_id: str
    options: ConvertOptions
    reason: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _rules(rules: object) -> tuple[AutoConvertRule, ...]:
    items = (rules,) if isinstance(rules, AutoConvertRule) else rules
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ValidationError(
            "auto_convert",
            [FieldError("rules", "type", "must be an AutoConvertRule or a sequence of them")],
        )
    found = tuple(items)
    if not all(isinstance(r, AutoConvertRule) for r in found):
        raise ValidationError(
            "auto_convert",
            [FieldError("rules", "type", "must hold AutoConvertRule values only")],
        )
    return found


def auto_convert(
    lead: Lead,
    rules: AutoConvertRule | Sequence[AutoConvertRule],
    *,
    activity: Activity | None = None,
    previous: Lead | None = None,
) -> AutoConversion | None:
    """The conversion an event calls for, or ``None``; the first rule that fires wins.

    The event is an *activity* that happened to *lead*, or else a create (*previous* is
    ``None``) or an edit (*previous* is the lead before it). A converted lead never
    converts again (``None``). Pure: perform the conversion with :func:`convert_lead`.

    >>> from leadmodel import Condition
    >>> from datetime import UTC, datetime
    >>> rule = AutoConvertRule(
    ...     Condition("company", "is_not_blank"),
    ...     ConvertOptions("Closed - Converted"),
    ...     name="demo bookers",
    ...     activity_kinds={"demo_booked"},
    ... )
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme")
    >>> demo = Activity(
    ...     id="A1",
    ...     subject_id="L1",
    ...     kind="demo_booked",
    ...     occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
    ... )
    >>> auto_convert(lead, [rule], activity=demo).reason
    "rule 'demo bookers': activity 'demo_booked' (A1) on a lead that meets the criterion"
    >>> auto_convert(lead, [rule]) is None
    True

    Raises:
        ValidationError: arguments of the wrong type, or an activity of another record.
    """
    _require(lead, Lead, "a Lead", "lead")
    _require(activity, (Activity, type(None)), "an Activity or None", "activity")
    _require(previous, (Lead, type(None)), "a Lead or None", "previous")
    found = _rules(rules)
    if activity is not None and activity.subject_id != lead.id:
        raise ValidationError(
            "auto_convert",
            [
                FieldError(
                    "activity",
                    "other_record",
                    f"activity {activity.id!r} is about {activity.subject_id!r}, not {lead.id!r}",
                )
            ],
        )
    if previous is not None and previous.id != lead.id:
        raise ValidationError(
            "auto_convert",
            [
                FieldError(
                    "previous", "other_record", f"previous is {previous.id!r}, not {lead.id!r}"
                )
            ],
        )
    if lead.converted is not None:
        return None
    for rule in found:
        reason = _fires(rule, lead, activity, previous)
        if reason is not None:
            return AutoConversion(
                rule=rule.name, lead_id=lead.id, options=rule.options, reason=reason
            )
    return None


def _fires(
    rule: AutoConvertRule, lead: Lead, activity: Activity | None, previous: Lead | None
) -> str | None:
    if rule.activity_kinds:
        if activity is None or activity.kind not in rule.activity_kinds:
            return None
        if rule.activity_criterion is not None and not evaluate(rule.activity_criterion, activity):
            return None
        if not evaluate(rule.criterion, lead):
            return None
        return (
            f"rule {rule.name!r}: activity {activity.kind!r} ({activity.id}) on a lead that "
            "meets the criterion"
        )
    if activity is not None or not evaluate(rule.criterion, lead):
        return None
    if previous is None:
        return f"rule {rule.name!r}: the new lead meets the criterion"
    if evaluate(rule.criterion, previous):
        return None
    return f"rule {rule.name!r}: the edit made the lead meet the criterion for the first time"
