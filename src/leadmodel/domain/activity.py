"""Activities: things that happened to or with a record (an email opened, a call, a visit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import EMPTY_VALUES, repr_html, to_custom
from leadmodel.domain.errors import FieldError
from leadmodel.domain.fields import FieldValues, _scalar_problems

__all__ = ["Activity"]


def _properties_errors(activity: Any) -> list[FieldError]:
    if activity.properties.__class__ is FieldValues:
        return []
    return _scalar_problems(activity.properties, "properties")


_ACTIVITY_CHECKS: Final = _checks.FieldChecks(
    "Activity",
    required=[
        ("id", _checks.identifier),
        ("subject_id", _checks.identifier),
        ("kind", _checks.text(80)),
        ("occurred_at", _checks.aware_datetime),
    ],
    invariants=[
        _checks.Invariant(
            "obj.properties.__class__ is {ns}fv", _properties_errors, {"fv": FieldValues}
        )
    ],
)


@attrs.frozen(kw_only=True)
class Activity:
    """Something that happened to the record *subject_id* at *occurred_at*.

    *kind* is a short word such as ``"email_opened"``, ``"page_view"``, ``"form_submitted"``,
    ``"call"`` or ``"meeting"``; *properties* holds its details as scalars. Scoring reads
    activities for engagement; conversion re-parents them.

    >>> from datetime import datetime, timezone
    >>> Activity(
    ...     id="A1",
    ...     subject_id="L1",
    ...     kind="page_view",
    ...     occurred_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...     properties={"url": "/pricing"},
    ... ).properties["url"]
    '/pricing'
    """

    id: str
    subject_id: str
    kind: str
    occurred_at: datetime
    properties: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _ACTIVITY_CHECKS.validate(self)
