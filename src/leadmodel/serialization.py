"""The one cattrs converter: entities, values, statuses and rules to and from JSON.

Follows cattrs' preconf pattern: :func:`configure_converter` sets a converter up,
:func:`make_converter` builds a fresh configured one (with ``forbid_extra_keys=True``), and
a module-level default serves :func:`to_dict`, :func:`from_dict`, :func:`to_json` and
:func:`from_json`. The default converter is never changed after it is built.

The JSON form is plain and stable: decimals are strings (``"1250.00"``, never a float),
datetimes ISO 8601 with their offset, dates ISO 8601, enums their value, email addresses and
phone numbers their normalised text, tag sets sorted lists. Custom field values keep their
exact type: strings, integers, booleans and ``null`` are JSON's own, and the rest are tagged
(``{"$decimal": "1.50"}``, ``{"$date": "2026-01-31"}``, ``{"$datetime": "…+00:00"}``).

Structuring is strict: a wrong type is an error (``5`` is not a string, ``"true"`` is not a
boolean), unknown keys are refused, and every problem comes back at once in one
:class:`~leadmodel.ValidationError` with the path of each.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import (
    FieldError,
    InvalidValue,
    LeadModelError,
    ValidationError,
    describe_value,
)
from leadmodel.domain.events import Notification
from leadmodel.domain.fields import EMPTY_VALUES, FieldDef, FieldValues, Scalar
from leadmodel.domain.lead import ConversionRecord, Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber

__all__ = [
    "FORMAT_VERSION",
    "configure_converter",
    "converter",
    "from_dict",
    "from_json",
    "make_converter",
    "to_dict",
    "to_json",
]

T = TypeVar("T")

_MAX_JSON: Final = 64 * 1024 * 1024
_SELF_CHECKING_ENTITIES: Final = frozenset(
    {
        Lead,
        Contact,
        Account,
        Opportunity,
        Activity,
        ConversionRecord,
        Notification,
        Money,
        Address,
    }
)


def _type_error(expected: str, value: object) -> TypeError:
    return TypeError(f"must be {expected}, not {type(value).__name__} {describe_value(value)}")


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise _type_error("a string", value)
    return value


def _structure_int(value: object, _: type) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error("an integer", value)
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise _type_error("true or false", value)
    return value


def _structure_float(value: object, _: type) -> float:
    # A whole number stays an int (10 points read back as 10, as written); text is refused.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error("a number", value)
    return value


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"is not a decimal number: {describe_value(value)}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise _type_error('a decimal string such as "12.50"', value)


def _structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise _type_error("an ISO 8601 datetime string", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not an ISO 8601 datetime: {describe_value(value)}") from None


_MAX_SECONDS: Final = 10 * 366 * 86400


def _structure_timedelta(value: object, _: type) -> timedelta:
    # A duration is its number of seconds ("delay": 3600): plain JSON, exact for whole seconds.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error("a number of seconds", value)
    if not (-_MAX_SECONDS <= value <= _MAX_SECONDS):
        raise ValueError(f"is not a duration of at most ten years: {describe_value(value)}")
    return timedelta(seconds=value)


def _unstructure_timedelta(value: timedelta) -> int | float:
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def _structure_date(value: object, _: type) -> date:
    if not isinstance(value, str):
        raise _type_error("an ISO 8601 date string", value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not an ISO 8601 date: {describe_value(value)}") from None


def _structure_email(value: object, _: type) -> EmailAddress:
    return EmailAddress.parse(_structure_str(value, str))


def _structure_phone(value: object, _: type) -> PhoneNumber:
    return PhoneNumber.parse(_structure_str(value, str))


_TAGS: Final = {"$decimal": Decimal, "$date": date, "$datetime": datetime}


def _unstructure_scalar(value: Scalar) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    return value


def _structure_scalar(value: object) -> Scalar:
    if isinstance(value, dict):
        if len(value) != 1:
            raise ValueError(f"a tagged value has one key of {', '.join(_TAGS)}")
        ((tag, text),) = value.items()
        if tag == "$decimal":
            return _structure_decimal(_structure_str(text, str), Decimal)
        if tag == "$date":
            return _structure_date(text, date)
        if tag == "$datetime":
            return _structure_datetime(text, datetime)
        raise ValueError(
            f"unknown value tag {describe_value(tag)}; expected one of {', '.join(_TAGS)}"
        )
    if value is None or isinstance(value, str | int):
        return value
    raise _type_error("a string, integer, boolean, null or tagged value", value)


_JSON_NATIVE: Final = frozenset({str, int, bool})


def _unstructure_values(values: FieldValues) -> dict[str, Any]:
    return {
        key: value if value.__class__ in _JSON_NATIVE else _unstructure_scalar(value)
        for key, value in values.items()
    }


def _structure_values(value: object, _: type) -> FieldValues:
    if value == {} and value.__class__ is dict:
        return EMPTY_VALUES
    if not isinstance(value, dict):
        raise _type_error("an object of field values", value)
    errors: list[FieldError] = []
    decoded: dict[str, Scalar] = {}
    for key, item in value.items():
        try:
            decoded[key] = _structure_scalar(item)
        except (TypeError, ValueError) as exc:
            errors.append(FieldError(str(key)[:80], "type", str(exc)))
    if errors:
        raise ValidationError("values", errors)
    try:
        return FieldValues(decoded)
    except ValidationError as exc:
        # FieldValues names its paths "custom.<key>"; the caller adds the real prefix.
        raise ValidationError(
            exc.entity,
            [FieldError(e.path.removeprefix("custom."), e.code, e.message) for e in exc.errors],
        ) from None


def _is_frozenset(cls: Any) -> bool:
    return cls is frozenset or typing.get_origin(cls) is frozenset


def _is_sequence(cls: Any) -> bool:
    origin = typing.get_origin(cls)
    if origin is frozenset:
        return True
    args = typing.get_args(cls)
    return origin is tuple and len(args) == 2 and args[1] is Ellipsis


def _sequence_hook_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    item_type = typing.get_args(cls)[0]
    build: Callable[[list[Any]], Any] = frozenset if typing.get_origin(cls) is frozenset else tuple
    item_hook = conv.get_structure_hook(item_type)

    def structure(value: object, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _type_error("a JSON array", value)
        items: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as exc:  # noqa: BLE001 - collected and re-raised as a group
                exc.add_note(IterableValidationNote(f"index {index}", index, item_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError("invalid items", errors, cls)
        return build(items)

    return structure


def _is_optional(cls: Any) -> bool:
    args = typing.get_args(cls)
    return (
        typing.get_origin(cls) in (typing.Union, types.UnionType)
        and len(args) == 2
        and types.NoneType in args
    )


def _inner(cls: Any) -> Any:
    return next(arg for arg in typing.get_args(cls) if arg is not types.NoneType)


def _optional_structure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    # cattrs' generic Optional hook dispatches on every call; resolve the inner hook once.
    inner = _inner(cls)
    hook = conv.get_structure_hook(inner)

    def structure(value: object, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure


def _optional_unstructure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    hook = conv.get_unstructure_hook(_inner(cls))
    if hook is identity:
        return identity  # cattrs inlines identity hooks into the generated function

    def unstructure(value: Any) -> Any:
        return None if value is None else hook(value)

    return unstructure


_PASSTHROUGH: Final = frozenset(
    {str, int, bool, str | None, int | None, bool | None, frozenset[str]}
)


# Entity fields added after a release, left out of JSON while they hold their default: a
# record that does not use them reads exactly as that release wrote it, and that release
# (which forbids unknown keys) can still read it.
_ADDED_FIELDS: Final[dict[type, tuple[str, ...]]] = {
    Account: ("is_person",),
    FieldDef: ("personal",),
}


def _added_fields_unstructure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    overrides: dict[str, Any] = {
        name: override(omit_if_default=True) for name in _ADDED_FIELDS[cls]
    }
    return make_dict_unstructure_fn(cls, conv, **overrides)


def _entity_structure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """A fast path for entities, which check every field themselves when constructed.

    Plain JSON scalars (and tag lists, which the constructor takes as a frozenset) go
    straight to the constructor, whose checks refuse a wrong type; only dates, values,
    enums and nested records go through a hook. Any failure (a missing field, a bad value)
    re-runs cattrs' detailed structuring, which reports every problem with its path.
    """
    attrs.resolve_types(cls)
    fields = attrs.fields(cls)
    names = frozenset(f.name for f in fields)
    defaults = {f.name: f.default for f in fields if f.default is not attrs.NOTHING}
    hooked = tuple(
        (f.name, conv.get_structure_hook(f.type), f.type)
        for f in fields
        if f.type not in _PASSTHROUGH
    )
    detailed = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
    )

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is not dict or not names.issuperset(data):
            return detailed(data, cls)
        kwargs = defaults.copy()
        kwargs.update(data)
        try:
            for name, hook, kind in hooked:
                value = data.get(name)
                if value is not None:
                    kwargs[name] = hook(value, kind)
            return cls(**kwargs)
        except Exception:  # noqa: BLE001 - the detailed pass reports it properly
            return detailed(data, cls)

    return structure


def _frozenset_unstructure_factory(cls: Any, _: cattrs.Converter) -> Callable[[Any], Any]:
    # Sorted, so the same set always gives the same JSON (stable diffs and hashes).
    if typing.get_args(cls) == (str,):
        return sorted

    def unstructure(value: frozenset[Any]) -> list[Any]:
        return sorted(value, key=lambda item: (str(type(item)), str(item)))

    return unstructure


def configure_converter(conv: cattrs.Converter) -> None:
    """Register leadmodel's hooks on *conv* (cattrs' preconf pattern).

    Call it on a fresh converter before structuring anything with it: cattrs caches the
    hooks of classes it has seen.

    Raises:
        ValidationError: *conv* is not a cattrs Converter.
    """
    if not isinstance(conv, cattrs.Converter):
        raise ValidationError(
            "configure_converter",
            [FieldError("conv", "type", f"must be a cattrs.Converter, not {type(conv).__name__}")],
        )
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(timedelta, _structure_timedelta)
    conv.register_unstructure_hook(timedelta, _unstructure_timedelta)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(EmailAddress, _structure_email)
    conv.register_unstructure_hook(EmailAddress, EmailAddress.formatted)
    conv.register_structure_hook(PhoneNumber, _structure_phone)
    conv.register_unstructure_hook(PhoneNumber, PhoneNumber.formatted)
    conv.register_structure_hook(FieldValues, _structure_values)
    conv.register_unstructure_hook(FieldValues, _unstructure_values)
    conv.register_unstructure_hook_factory(_is_frozenset, _frozenset_unstructure_factory)
    conv.register_structure_hook_factory(_is_sequence, _sequence_hook_factory)
    conv.register_structure_hook_factory(_is_optional, _optional_structure_factory)
    conv.register_structure_hook_factory(
        lambda cls: cls in _SELF_CHECKING_ENTITIES, _entity_structure_factory
    )
    conv.register_structure_hook_func(_is_criterion, _structure_optional_criterion)
    conv.register_unstructure_hook_func(_is_criterion, _unstructure_optional_criterion)
    conv.register_unstructure_hook_factory(_is_document, _document_unstructure_factory)
    conv.register_structure_hook_factory(_is_document_to_structure, _document_structure_factory)
    conv.register_structure_hook_factory(
        lambda cls: cls is _merge_result(), _merge_result_structure_factory
    )
    conv.register_unstructure_hook_factory(
        lambda cls: cls in _change_records(), _change_unstructure_factory
    )
    conv.register_structure_hook_factory(
        lambda cls: cls in _change_records(), _change_structure_factory
    )
    conv.register_unstructure_hook_func(_is_field_changes, _changes_unstructure_factory(conv))
    conv.register_structure_hook_func(_is_field_changes, _changes_structure_factory(conv))
    conv.register_unstructure_hook_factory(_is_optional, _optional_unstructure_factory)
    conv.register_structure_hook_factory(_is_predictive_union, _predictive_structure_factory)
    # A scalar field of a rule (UpdateField.value) keeps its type exactly, as custom values do.
    conv.register_structure_hook_func(_is_scalar, lambda value, _: _structure_scalar(value))
    conv.register_unstructure_hook_func(_is_scalar, _unstructure_scalar)
    conv.register_unstructure_hook_factory(
        lambda cls: cls in _ADDED_FIELDS, _added_fields_unstructure_factory
    )


FORMAT_VERSION: Final = 1
"""The ``"format"`` version that serialised rule documents and results carry."""


def _is_document(cls: Any) -> bool:
    origin = typing.get_origin(cls) or cls
    return isinstance(origin, type) and origin in _documents()


def _is_document_to_structure(cls: Any) -> bool:
    # The bare generic MergeResult is left to the kind-dispatching hook below.
    return _is_document(cls) and cls is not _merge_result()


# Rules import this module's callers, so the rule classes are looked up lazily.
@functools.cache
def _documents() -> frozenset[type]:
    from leadmodel._journey import CloseOutcome
    from leadmodel.domain.consent import ConsentDecision
    from leadmodel.intake import ColumnMapping, FormSpec, ImportReport
    from leadmodel.privacy import Erasure, PersonFindings, RetentionPolicy, RetentionRun
    from leadmodel.rules.assignment import (
        Assignment,
        AssignmentBatch,
        AssignmentRule,
        AssignmentState,
    )
    from leadmodel.rules.auto_conversion import AutoConversion, AutoConvertRule
    from leadmodel.rules.backtest import Backtest
    from leadmodel.rules.conversion import BulkConversion, ConversionResult, ConvertOptions
    from leadmodel.rules.dedupe import DedupeRun, DuplicateGroup, MatchEdge, OversizedBlock
    from leadmodel.rules.duplicate_rules import DuplicateCheck, DuplicatePolicy
    from leadmodel.rules.layouts import Layout, LayoutCheck, RecordType
    from leadmodel.rules.lifecycle import LifecycleDecision, LifecyclePolicy, Reengagement
    from leadmodel.rules.mapping import FieldMapping
    from leadmodel.rules.matching import MatchingRule, MatchResult
    from leadmodel.rules.merge import MergeRecord, MergeResult
    from leadmodel.rules.predictive import (
        LogisticModel,
        NaiveBayesFrequencies,
        Outcome,
        Prediction,
    )
    from leadmodel.rules.qualification import Qualification, QualificationPolicy
    from leadmodel.rules.responses import (
        AutoResponse,
        AutoResponseRule,
        WorkflowOutcome,
        WorkflowRule,
    )
    from leadmodel.rules.scoring import Score, ScoringModel
    from leadmodel.rules.triggers import DueAction, TimeTrigger, TriggerState
    from leadmodel.rules.views import ListView, Segment

    return frozenset(
        {
            AutoConversion,
            AutoConvertRule,
            ConsentDecision,
            BulkConversion,
            ConversionResult,
            ConvertOptions,
            FieldMapping,
            MatchingRule,
            MatchResult,
            MatchEdge,
            DuplicateGroup,
            OversizedBlock,
            DedupeRun,
            MergeResult,
            MergeRecord,
            DuplicatePolicy,
            DuplicateCheck,
            ScoringModel,
            Score,
            QualificationPolicy,
            Qualification,
            NaiveBayesFrequencies,
            LogisticModel,
            Prediction,
            Outcome,
            Backtest,
            AssignmentRule,
            AssignmentState,
            Assignment,
            AssignmentBatch,
            AutoResponseRule,
            AutoResponse,
            WorkflowRule,
            WorkflowOutcome,
            LifecyclePolicy,
            CloseOutcome,
            LifecycleDecision,
            Reengagement,
            FormSpec,
            ColumnMapping,
            ImportReport,
            ListView,
            Segment,
            Layout,
            RecordType,
            LayoutCheck,
            TimeTrigger,
            TriggerState,
            DueAction,
            PersonFindings,
            Erasure,
            RetentionPolicy,
            RetentionRun,
        }
    )


@functools.cache
def _merge_result() -> type:
    from leadmodel.rules.merge import MergeResult

    return MergeResult


_MERGE_KINDS: Final[dict[str, type]] = {
    "lead": Lead,
    "contact": Contact,
    "account": Account,
    "opportunity": Opportunity,
}


def _by_kind(data: object, choices: Mapping[str, T], what: str) -> T:
    """The choice named by a tagged union's ``"kind"`` key, or a clear error."""
    if not isinstance(data, dict):
        raise _type_error("an object", data)
    kind = data.get("kind")
    choice = choices.get(kind) if isinstance(kind, str) else None
    if choice is None:
        raise ValidationError(
            what, [FieldError("kind", "invalid", f"must be one of {', '.join(choices)}")]
        )
    return choice


def _merge_result_structure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    # MergeResult is generic over the entity; its "kind" says which entity to build.
    def structure(data: Any, _: Any) -> Any:
        entity = _by_kind(data, _MERGE_KINDS, "MergeResult")
        concrete = cls[entity]
        return conv.get_structure_hook(concrete)(data, concrete)

    return structure


# A mapping's JSON leaves out the schemas (and currency) it shares with the defaults, so a
# stored mapping holds its entries and only the schemas a host changed.
_OMITTED_DEFAULTS: Final = {
    "FieldMapping": (
        "currency",
        "lead_schema",
        "account_schema",
        "contact_schema",
        "opportunity_schema",
    )
}


def _document_unstructure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    omitted = _OMITTED_DEFAULTS.get(getattr(cls, "__name__", ""), ())
    overrides: dict[str, Any] = {name: override(omit_if_default=True) for name in omitted}
    base = make_dict_unstructure_fn(cls, conv, **overrides)

    def unstructure(value: Any) -> Any:
        return {"format": FORMAT_VERSION, **base(value)}

    if typing.get_origin(cls) is None and getattr(cls, "__parameters__", None):
        # A generic result (MergeResult) unstructured from its runtime value: its
        # entity fields follow the value's own type.
        def unstructure_generic(value: Any) -> Any:
            return {
                "format": FORMAT_VERSION,
                **{f.name: conv.unstructure(getattr(value, f.name)) for f in attrs.fields(cls)},
            }

        return unstructure_generic

    return unstructure


def _document_structure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    base = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
    )

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            raise _type_error("an object", data)
        if data.get("format") != FORMAT_VERSION:
            raise ValidationError(
                cls.__name__,
                [
                    FieldError(
                        "format",
                        "unsupported_format",
                        f"must be {FORMAT_VERSION} (got {describe_value(data.get('format'))})",
                    )
                ],
            )
        return base({k: v for k, v in data.items() if k != "format"}, cls)

    return structure


# -- conversion change records: values typed by the field they belong to --------------------

_RECORD_CLASSES: Final[dict[str, type]] = {
    "lead": Lead,
    "account": Account,
    "contact": Contact,
    "opportunity": Opportunity,
}


@functools.cache
def _change_records() -> dict[type, tuple[str, ...]]:
    """The conversion records whose values take the type of their target field."""
    from leadmodel.rules.conversion import FieldChange, SkippedValue, UnmappedValue

    return {FieldChange: ("old", "new"), SkippedValue: ("value", "kept"), UnmappedValue: ("value",)}


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    attrs.resolve_types(cls)
    return {f.name: f.type for f in attrs.fields(cls)}


def _value_type(target: object, field: object) -> Any:
    """The type of *target*'s *field*, or ``None`` for a custom field (a tagged scalar)."""
    cls = _RECORD_CLASSES.get(target) if isinstance(target, str) else None
    if cls is None:
        raise ValueError(f"unknown target {describe_value(target)}")
    if not isinstance(field, str):
        raise _type_error("a field name", field)
    if field.startswith("custom."):
        return None
    kind = _field_types(cls).get(field)
    if kind is None:
        raise ValueError(f"{target} has no field {describe_value(field)}")
    return kind


def _change_unstructure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    typed = _change_records()[cls]
    names = tuple(f.name for f in attrs.fields(cls))

    def unstructure(record: Any) -> dict[str, Any]:
        kind = _value_type(getattr(record, "target", "lead"), record.field)
        data: dict[str, Any] = {}
        for name in names:
            value = getattr(record, name)
            if name not in typed or value is None:
                data[name] = value
            elif kind is None:
                data[name] = _unstructure_scalar(value)
            else:
                data[name] = conv.unstructure(value, unstructure_as=kind)
        return data

    return unstructure


def _change_structure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    typed = _change_records()[cls]
    names = tuple(f.name for f in attrs.fields(cls))

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            raise _type_error("an object", data)
        errors = [
            FieldError(str(key)[:80], "unknown_field", f"{cls.__name__} has no field {key!r:.80}")
            for key in data
            if key not in names
        ]
        errors += [
            FieldError(name, "required", "is required") for name in names if name not in data
        ]
        if errors:
            raise ValidationError(cls.__name__, errors)
        kind = _value_type(data.get("target", "lead"), data["field"])
        kwargs: dict[str, Any] = {}
        for name in names:
            value = data[name]
            if name not in typed:
                kwargs[name] = _structure_str(value, str)
            elif kind is None:
                kwargs[name] = _structure_scalar(value)
            else:
                kwargs[name] = None if value is None else conv.structure(value, kind)
        return cls(**kwargs)

    return structure


def _is_field_changes(cls: Any) -> bool:
    from leadmodel.rules.conversion import FieldChanges

    return cls is FieldChanges


def _changes_unstructure_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    def unstructure(changes: Any) -> list[Any]:
        from leadmodel.rules.conversion import FieldChange

        hook = conv.get_unstructure_hook(FieldChange)
        return [hook(change) for change in changes]

    return unstructure


def _changes_structure_factory(conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    def structure(data: Any, _: Any) -> Any:
        from leadmodel.rules.conversion import FieldChange, FieldChanges

        return FieldChanges(conv.structure(data, tuple[FieldChange, ...]))

    return structure


_CRITERION_KEYS: Final = {
    "condition": frozenset({"kind", "field", "op", "value"}),
    "all": frozenset({"kind", "items"}),
    "any": frozenset({"kind", "items"}),
    "not": frozenset({"kind", "item"}),
}


def _unstructure_criterion(criterion: Any) -> dict[str, Any]:
    from leadmodel.rules import criteria

    if isinstance(criterion, criteria.Condition):
        value = criterion.value
        encoded = (
            [_unstructure_scalar(v) for v in value]
            if isinstance(value, tuple)
            else _unstructure_scalar(value)
        )
        return {"kind": "condition", "field": criterion.field, "op": criterion.op, "value": encoded}
    if isinstance(criterion, criteria.Not):
        return {"kind": "not", "item": _unstructure_criterion(criterion.item)}
    return {"kind": criterion.kind, "items": [_unstructure_criterion(i) for i in criterion.items]}


def _structure_criterion(data: object, _: Any = None) -> Any:
    # Criteria are a tagged union on "kind"; each class checks its own values.
    from leadmodel.rules import criteria

    allowed = _by_kind(data, _CRITERION_KEYS, "criterion")
    assert isinstance(data, dict)  # noqa: S101 - _by_kind proved it
    kind = data["kind"]
    extra = sorted(str(key) for key in data if key not in allowed)
    if extra:
        raise ValidationError(
            "criterion",
            [
                FieldError(key[:80], "unknown_field", f"a {kind} has no field {key!r:.80}")
                for key in extra
            ],
        )
    if kind == "condition":
        value = data.get("value")
        decoded = (
            tuple(_structure_scalar(v) for v in value)
            if isinstance(value, list)
            else _structure_scalar(value)
        )
        return criteria.Condition(data.get("field"), data.get("op"), decoded)  # type: ignore[arg-type]
    if kind == "not":
        return criteria.Not(_structure_criterion(data.get("item")))
    items = data.get("items")
    if not isinstance(items, list):
        raise _type_error("a list of criteria", items)
    group = criteria.All if kind == "all" else criteria.Any
    return group([_structure_criterion(item) for item in items])


def _is_criterion(cls: Any) -> bool:
    from leadmodel.rules import criteria

    kinds = {criteria.Condition, criteria.All, criteria.Any, criteria.Not}
    if cls in kinds:
        return True
    args = set(typing.get_args(cls)) if isinstance(cls, types.UnionType) else set()
    return bool(args) and args - {types.NoneType} == kinds


def _structure_optional_criterion(data: object, cls: Any) -> Any:
    if data is None and types.NoneType in typing.get_args(cls):
        return None
    return _structure_criterion(data)


def _unstructure_optional_criterion(value: Any) -> Any:
    return None if value is None else _unstructure_criterion(value)


def _is_scalar(cls: Any) -> bool:
    return bool(cls == Scalar)


def _is_predictive_union(cls: Any) -> bool:
    from leadmodel.rules.predictive import PredictiveModel

    return bool(cls == PredictiveModel)


def _predictive_structure_factory(_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    # Either predictive model, chosen by its "kind" key.
    from leadmodel.rules.predictive import LogisticModel, NaiveBayesFrequencies

    kinds = {"naive_bayes": NaiveBayesFrequencies, "logistic": LogisticModel}

    def structure(data: Any, _: Any) -> Any:
        chosen = _by_kind(data, kinds, "PredictiveModel")
        return conv.structure(data, chosen)

    return structure


def make_converter() -> cattrs.Converter:
    """Return a new converter configured for leadmodel, strict about extra keys.

    Use it when you need to add hooks of your own; the default converter is never mutated.
    """
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    configure_converter(conv)
    return conv


converter: Final = make_converter()
"""The default converter behind :func:`to_dict` and :func:`from_dict`. Do not register
hooks on it; build your own with :func:`make_converter`."""


def _collect(exc: BaseException, path: str, into: list[FieldError]) -> None:
    """Flatten cattrs' exception groups (and our own errors) into field errors with paths."""

    def join(part: str) -> str:
        return f"{path}.{part}" if path else part

    if isinstance(exc, ValidationError):
        into.extend(
            FieldError(join(e.path) if e.path else path, e.code, e.message) for e in exc.errors
        )
        return
    if isinstance(exc, ForbiddenExtraKeysError):
        into.extend(
            FieldError(
                join(str(key)[:80]), "unknown_field", f"{exc.cl.__name__} has no field {key!r:.80}"
            )
            for key in sorted(exc.extra_fields, key=str)
        )
        return
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    sub_path = join(note.name)
                elif isinstance(note, IterableValidationNote):
                    sub_path = f"{path}[{note.index}]"
            _collect(sub, sub_path, into)
        return
    if isinstance(exc, KeyError):
        into.append(FieldError(path, "required", "is required"))
        return
    if isinstance(exc, TypeError | ValueError | LeadModelError):
        into.append(FieldError(path, "type" if isinstance(exc, TypeError) else "invalid", str(exc)))
        return
    into.append(FieldError(path, "invalid", f"{type(exc).__name__}: {exc}"))


_HOOKS: dict[object, Callable[[Any, Any], Any]] = {}
"""Structure hooks of the default converter, looked up once per class."""


def to_dict(value: object) -> Any:
    """Turn an entity, value, status or rule into plain JSON-ready data.

    >>> from leadmodel import Lead
    >>> to_dict(Lead(id="L1", last_name="Ng", company="Acme"))["last_name"]
    'Ng'

    Raises:
        ValidationError: code ``unserializable``, when *value* holds something with no JSON
            form (a value built with ``attrs.evolve`` around the checks, a foreign object).
    """
    try:
        return converter.unstructure(value)
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise _unserializable(value, exc) from None


def _unserializable(value: object, exc: BaseException) -> ValidationError:
    reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
    return ValidationError(
        type(value).__name__,
        [FieldError("", "unserializable", f"has no JSON form: {type(exc).__name__}: {reason}")],
    )


@typing.overload
def from_dict(cls: type[T], data: object) -> T: ...
@typing.overload
def from_dict(cls: types.UnionType, data: object) -> object: ...


def from_dict(cls: type[T] | types.UnionType, data: object) -> T | object:
    """Build a *cls* from plain data, checking every field.

    Raises:
        ValidationError: listing every unknown key, missing field and wrong or invalid
            value, each with its path (``"address.city"``, ``"tags[2]"``).
    """
    if not (isinstance(cls, type | types.UnionType) or typing.get_origin(cls) is not None):
        raise ValidationError(
            "from_dict", [FieldError("cls", "type", f"must be a class, not {describe_value(cls)}")]
        )
    name = getattr(cls, "__name__", None) or str(cls)[:80]
    if not isinstance(data, dict) and not isinstance(data, Mapping) and _is_record_class(cls):
        raise ValidationError(
            name, [FieldError("", "type", f"must be an object, not {type(data).__name__}")]
        )
    try:
        hook = _HOOKS.get(cls)
        if hook is None:
            hook = _HOOKS[cls] = converter.get_structure_hook(cls)
        return hook(data, cls)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ValidationError(name, exc.errors) from None
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        errors: list[FieldError] = []
        _collect(exc, "", errors)
        raise ValidationError(name, errors) from None
    except RecursionError:
        raise ValidationError(
            name, [FieldError("", "too_deep", "data is nested too deeply")]
        ) from None
    except cattrs.errors.StructureHandlerNotFoundError as exc:  # pragma: no cover - defensive
        raise ValidationError(name, [FieldError("", "type", str(exc))]) from None


def _is_record_class(cls: Any) -> bool:
    """Classes whose JSON form is an object (values with a text form are not)."""
    return hasattr(cls, "__attrs_attrs__") and cls not in (EmailAddress, PhoneNumber)


def to_json(value: object, *, indent: int | None = None) -> str:
    """Serialise *value* to a JSON string (UTF-8 text, keys in field order).

    >>> from leadmodel import Money
    >>> to_json(Money(Decimal("9.90"), "EUR"))
    '{"amount": "9.90", "currency": "EUR"}'
    """
    data = to_dict(value)
    if indent is not None and (
        isinstance(indent, bool) or not isinstance(indent, int) or not 0 <= indent <= 16
    ):
        raise ValidationError(
            "to_json", [FieldError("indent", "type", "must be None or a whole number 0–16")]
        )
    try:
        return json.dumps(data, ensure_ascii=False, indent=indent)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _unserializable(value, exc) from None


@typing.overload
def from_json(cls: type[T], text: str | bytes) -> T: ...
@typing.overload
def from_json(cls: types.UnionType, text: str | bytes) -> object: ...


def from_json(cls: type[T] | types.UnionType, text: str | bytes) -> T | object:
    """Build a *cls* from JSON text.

    Raises:
        InvalidValue: the text is not JSON (code ``malformed``) or too large.
        ValidationError: the JSON does not describe a valid *cls* (see :func:`from_dict`).
    """
    if not isinstance(text, str | bytes | bytearray):
        raise InvalidValue("json", text, "type", "must be str or bytes")
    if len(text) > _MAX_JSON:
        raise InvalidValue("json", text, "too_long", f"must be at most {_MAX_JSON} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidValue("json", text, "malformed", f"is not valid JSON: {exc}") from None
    return from_dict(cls, data)
