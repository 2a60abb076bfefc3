"""Domain events and notifications: what happened, as values a host can store or send."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Generic, TypeVar

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import EMPTY_VALUES, custom_errors, to_custom
from leadmodel.domain._typed import check_fields
from leadmodel.domain.activity import Activity
from leadmodel.domain.errors import ValidationError
from leadmodel.domain.fields import FieldValues
from leadmodel.domain.status import LifecycleStage

__all__ = [
    "DomainEvent",
    "LeadAssigned",
    "LeadCaptured",
    "LeadConverted",
    "LeadScored",
    "LifecycleRegression",
    "Notification",
    "OpportunityClosed",
    "RecordsMerged",
    "ScoreChanged",
    "StageChanged",
    "StatusChanged",
]

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
        problems = custom_errors(self.data)
        if problems:
            errors = [
                attrs.evolve(e, path="data" + e.path.removeprefix("custom")) for e in problems
            ]
            raise ValidationError("Notification", errors)


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

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class ScoreChanged:
    """A stored lead's score moved: what it was, what it is, and when it was recomputed.

    Emitted by :func:`leadmodel.services.rescore`; a host turns threshold crossings into
    notifications (:meth:`crossed`) or an audit trail. *previous* is ``None`` for a lead
    scored for the first time.

    >>> from datetime import datetime, timezone
    >>> event = ScoreChanged(
    ...     lead_id="L1",
    ...     model="inbound",
    ...     previous=35,
    ...     current=72,
    ...     previous_rating="warm",
    ...     rating="hot",
    ...     occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... )
    >>> event.crossed(70), event.crossed(20), event.rating_changed
    (True, False, True)
    """

    lead_id: str
    model: str
    previous: float | None
    current: float
    previous_rating: str | None = None
    rating: str | None = None
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def rating_changed(self) -> bool:
        """Whether the rating band changed."""
        return self.previous_rating != self.rating

    def crossed(self, threshold: float) -> bool:
        """Whether the score went from below *threshold* to at least it, or back."""
        before = self.previous if self.previous is not None else float("-inf")
        return (before < threshold) != (self.current < threshold)


@attrs.frozen(kw_only=True)
class LeadCaptured:
    """A lead came in through a form (:func:`leadmodel.services.capture_lead`).

    *pending_approval* is true when its spam signals held it for a person to approve.
    """

    lead_id: str
    source: str | None
    spam_score: int
    pending_approval: bool
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class LeadAssigned:
    """A lead got an owner: a user (*owner_id*) or a queue (*queue_id*), and why."""

    lead_id: str
    owner_id: str | None
    queue_id: str | None
    reason: str
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class LeadScored:
    """A lead was scored (its first score, as :class:`ScoreChanged` reports later moves)."""

    lead_id: str
    model: str
    total: float
    rating: str | None
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class StatusChanged:
    """A lead's status moved from *previous* to *current*."""

    lead_id: str
    previous: str | None
    current: str
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def as_activity(self, *, id: str) -> Activity:  # noqa: A002 - the entity's own name
        """This change as a ``status_changed`` activity on the lead, to keep its history.

        Store it through ``uow.activities`` and :func:`leadmodel.analytics.time_in_status`
        reads it back.

        >>> from datetime import datetime, timezone
        >>> event = StatusChanged(
        ...     lead_id="L1",
        ...     previous="Open - Not Contacted",
        ...     current="Working - Contacted",
        ...     occurred_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
        ... )
        >>> event.as_activity(id="A1").properties["current"]
        'Working - Contacted'
        """
        properties = {"current": self.current}
        if self.previous is not None:
            properties["previous"] = self.previous
        return Activity(
            id=id,
            subject_id=self.lead_id,
            kind="status_changed",
            occurred_at=self.occurred_at,
            properties=properties,
        )


@attrs.frozen(kw_only=True)
class StageChanged:
    """A record's lifecycle stage moved from *previous* to *current*."""

    record_id: str
    previous: LifecycleStage | None
    current: LifecycleStage | None
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class LeadConverted:
    """A lead became an account, a contact and (perhaps) an opportunity."""

    lead_id: str
    account_id: str | None
    contact_id: str | None
    opportunity_id: str | None
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class RecordsMerged:
    """Records were merged into *survivor_id*; *absorbed_ids* are gone."""

    survivor_id: str
    absorbed_ids: tuple[str, ...]
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class OpportunityClosed:
    """An opportunity closed, won or lost (:func:`leadmodel.services.close_opportunity`).

    *previous_stage* and *stage* are its stages before and after; *lost_reason* is why a
    lost deal was lost, when given.

    >>> from datetime import datetime, timezone
    >>> OpportunityClosed(
    ...     opportunity_id="O1",
    ...     previous_stage="Negotiation/Review",
    ...     stage="Closed Won",
    ...     won=True,
    ...     occurred_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
    ... ).won
    True
    """

    opportunity_id: str
    previous_stage: str
    stage: str
    won: bool
    lost_reason: str | None = None
    occurred_at: datetime

    def __attrs_post_init__(self) -> None:
        check_fields(self)


DomainEvent = (
    LeadCaptured
    | LeadAssigned
    | LeadScored
    | ScoreChanged
    | StatusChanged
    | StageChanged
    | LeadConverted
    | RecordsMerged
)
"""Any event a service returns for a host to publish."""
