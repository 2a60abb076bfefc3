"""Domain events and notifications: what happened, as values a host can store or send."""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import EMPTY_VALUES, to_custom
from leadmodel.domain.fields import FieldValues
from leadmodel.domain.status import LifecycleStage

__all__ = ["LifecycleRegression", "Notification"]

E = TypeVar("E")

_NOTIFICATION_CHECKS: Final = _checks.FieldChecks(
    "Notification",
    required=[
        ("recipient", _checks.text(255)),
        ("template", _checks.text(255)),
        ("subject_id", _checks.identifier),
        ("channel", _checks.text(40)),
    ],
)


@attrs.frozen(kw_only=True)
class Notification:
    """A message to send: who gets it, which template, about which record, and its data.

    Rules (auto-response, workflow, assignment) produce notifications as values; the host's
    :class:`~leadmodel.ports.Notifier` sends them. *recipient* is an email address, a user id
    or a queue id, as the channel understands it.

    >>> Notification(recipient="owner-7", template="new_lead", subject_id="L1").channel
    'email'
    """

    recipient: str
    template: str
    subject_id: str
    channel: str = "email"
    data: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)

    def __attrs_post_init__(self) -> None:
        _NOTIFICATION_CHECKS.validate(self)


@attrs.frozen(kw_only=True)
class LifecycleRegression(Generic[E]):
    """The result of :func:`~leadmodel.regress`: the moved entity and why it moved back.

    Lifecycle stages only move forward; a move back is a decision someone made, so it
    travels with its *reason* for the host to store (as an activity or an audit entry).
    """

    entity: E
    previous: LifecycleStage | None
    stage: LifecycleStage
    reason: str
