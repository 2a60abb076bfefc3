"""Consent as data, the privacy log, and keyed hashes of personal data.

A :class:`Consent` records that a person (a lead, contact or account, by *subject_id*) said
yes or no to being contacted on one channel for one purpose, when, on what lawful basis and
with what proof, in the spirit of Salesforce's ``ContactPointTypeConsent`` and HubSpot's
subscription types. :func:`consent_decision` reads a person's consents: the most recent one
per channel and purpose wins.

A :class:`PrivacyLogEntry` records that a privacy request (a lookup, an export, an erasure)
was carried out, keeping only a keyed hash of whom it was about
(:func:`privacy_hash`): enough to recognise the same person asking again or being
re-imported, never enough to read who they are without the host's secret key. Such a
hash is still *pseudonymous* personal data under the GDPR (recital 26): whoever holds the
key can link it to a person, so guard the key and the log accordingly.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import attrs

from leadmodel.domain import _checks
from leadmodel.domain._entity import EMPTY_VALUES, repr_html, to_custom
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.fields import FieldValues, _scalar_problems
from leadmodel.domain.values import EmailAddress, PhoneNumber

if TYPE_CHECKING:
    from leadmodel.ports import PrivacyKey

__all__ = [
    "Channel",
    "Consent",
    "ConsentDecision",
    "ConsentStatus",
    "DecisionReason",
    "LawfulBasis",
    "PrivacyLogEntry",
    "PrivacyRequest",
    "consent_decision",
    "privacy_hash",
]

Channel = Literal["email", "phone", "sms", "post"]
"""The channels a consent covers."""
ConsentStatus = Literal["granted", "denied", "withdrawn"]
"""What the person said: yes, no, or no more."""
LawfulBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
"""The GDPR article 6 bases for processing personal data."""
DecisionReason = Literal["granted", "denied", "withdrawn", "expired", "not_recorded"]
"""Why a :class:`ConsentDecision` came out as it did."""
PrivacyRequest = Literal["find", "export", "erase", "suppressed"]
"""The kinds of privacy log entry."""

_CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
_STATUSES: Final[tuple[str, ...]] = get_args(ConsentStatus)
_LAWFUL_BASES: Final[tuple[str, ...]] = get_args(LawfulBasis)
_PRIVACY_REQUESTS: Final[tuple[str, ...]] = get_args(PrivacyRequest)

_PURPOSE_LENGTH: Final = 80
_SOURCE_LENGTH: Final = 255
_PROOF_LENGTH: Final = 1000
_KIND_LENGTH: Final = 80
_HASH: Final = re.compile(r"[0-9a-f]{64}")
_MAX_HASHED_VALUE: Final = 10_000
_MAX_COUNT: Final = 10**12
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def _choice(choices: tuple[str, ...]) -> _checks.Check:
    listed = ", ".join(choices)

    def check(value: object) -> _checks.Problem | None:
        if _checks.one_of(value, choices):
            return None
        return "invalid", f"must be one of {listed}"

    return _checks.Check(
        check, "({v}.__class__ is str and {v} in {ns}choices)", {"choices": choices}
    )


def _provenance_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, tuple):
        return "type", f"must be a tuple of record ids, not {type(value).__name__}"
    for position, item in enumerate(value):
        problem = _checks.identifier(item)
        if problem is not None:
            return problem[0], f"item {position} {problem[1]}"
    return None


def _expiry_errors(consent: Any) -> list[FieldError]:
    times = (consent.captured_at, consent.expires_at)
    if any(_checks.aware_datetime(t) is not None for t in times):
        return []  # the field checks report a time that is not an aware datetime
    if consent.expires_at < consent.captured_at:
        return [FieldError("expires_at", "before_captured", "must not be earlier than captured_at")]
    return []


_CONSENT_CHECKS: Final = _checks.FieldChecks(
    "Consent",
    required=[
        ("id", _checks.identifier),
        ("subject_id", _checks.identifier),
        ("channel", _choice(_CHANNELS)),
        ("purpose", _checks.text(_PURPOSE_LENGTH)),
        ("status", _choice(_STATUSES)),
        ("lawful_basis", _choice(_LAWFUL_BASES)),
        ("captured_at", _checks.aware_datetime),
        ("provenance", _checks.Check(_provenance_problem)),
    ],
    optional=[
        ("source", _checks.text(_SOURCE_LENGTH)),
        ("expires_at", _checks.aware_datetime),
        ("proof", _checks.text(_PROOF_LENGTH, multiline=True)),
    ],
    invariants=[
        _checks.Invariant(
            "obj.expires_at is None or obj.expires_at >= obj.captured_at",
            lambda consent: [] if consent.expires_at is None else _expiry_errors(consent),
        )
    ],
)


def _aware_now(now: object, function: str) -> datetime:
    problem = _checks.aware_datetime(now)
    if problem is not None:
        raise ValidationError(function, [FieldError("now", problem[0], problem[1])])
    assert isinstance(now, datetime)  # noqa: S101 - checked above
    return now


@attrs.frozen(kw_only=True)
class Consent:
    """A person's yes or no to contact on one *channel* for one *purpose*.

    *subject_id* is the lead, contact or account it belongs to; *status* is ``"granted"``,
    ``"denied"`` or ``"withdrawn"``; *lawful_basis* is the GDPR article 6 basis the
    contact relies on; *source* where it was captured (a form, an import, a call);
    *proof* free text that shows it (a form id, an IP hash, the checkbox label). A consent
    may expire (*expires_at*). *provenance* lists the ids of the consents or records it came
    from when conversion or a merge carried it to another record.

    >>> from datetime import datetime, timezone
    >>> consent = Consent(
    ...     id="C1",
    ...     subject_id="L1",
    ...     channel="email",
    ...     purpose="newsletter",
    ...     status="granted",
    ...     captured_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...     expires_at=datetime(2027, 1, 5, tzinfo=timezone.utc),
    ...     proof="form F1, box 'Send me the newsletter'",
    ... )
    >>> consent.is_active(datetime(2026, 6, 1, tzinfo=timezone.utc))
    True
    >>> consent.is_active(datetime(2027, 2, 1, tzinfo=timezone.utc))
    False
    """

    id: str
    subject_id: str
    channel: Channel
    purpose: str
    status: ConsentStatus
    lawful_basis: LawfulBasis = "consent"
    source: str | None = None
    captured_at: datetime
    expires_at: datetime | None = None
    proof: str | None = None
    provenance: tuple[str, ...] = attrs.field(default=(), converter=_checks.as_tuple)

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _CONSENT_CHECKS.validate(self)

    def is_active(self, now: datetime) -> bool:
        """Whether the consent is granted and not expired at *now* (an aware datetime).

        A consent captured after *now* is not known yet, so it is not active either.
        """
        now = _aware_now(now, "Consent.is_active")
        return (
            self.status == "granted"
            and self.captured_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )


def _allowed_problem(value: object) -> _checks.Problem | None:
    if value is None or value is True or value is False:
        return None
    return "type", f"must be True, False or None, not {type(value).__name__}"


_ALLOWED_BY_REASON: Final[dict[str, bool | None]] = {
    "granted": True,
    "denied": False,
    "withdrawn": False,
    "expired": False,
    "not_recorded": None,
}


def _decision_errors(decision: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    if not _checks.one_of(decision.reason, _ALLOWED_BY_REASON):
        return errors  # the field check reports it
    expected = _ALLOWED_BY_REASON[decision.reason]
    if decision.allowed is not expected:
        errors.append(
            FieldError("allowed", "inconsistent", f"must be {expected} for {decision.reason!r}")
        )
    if decision.reason == "not_recorded" and decision.consent_id is not None:
        errors.append(
            FieldError("consent_id", "inconsistent", "must be None when no consent is recorded")
        )
    return errors


_DECISION_CHECKS: Final = _checks.FieldChecks(
    "ConsentDecision",
    required=[("reason", _choice(get_args(DecisionReason)))],
    optional=[
        ("allowed", _checks.Check(_allowed_problem)),
        ("consent_id", _checks.identifier),
    ],
    invariants=[
        _checks.Invariant("not {ns}errors(obj)", _decision_errors, {"errors": _decision_errors})
    ],
)


@attrs.frozen(kw_only=True)
class ConsentDecision:
    """Whether contact on a channel for a purpose is allowed, and which consent says so.

    *allowed* is ``True`` (an active granted consent), ``False`` (denied, withdrawn or
    expired) or ``None`` (no consent recorded: the caller's policy decides, for example
    the opt-out flags). *consent_id* is the deciding consent; *reason* is one of
    ``"granted"``, ``"denied"``, ``"withdrawn"``, ``"expired"`` and ``"not_recorded"``,
    and must agree with *allowed* (a decision that contradicts itself is refused).

    >>> ConsentDecision(allowed=None, consent_id=None, reason="not_recorded").allowed is None
    True
    """

    allowed: bool | None
    consent_id: str | None
    reason: DecisionReason

    def __attrs_post_init__(self) -> None:
        _DECISION_CHECKS.validate(self)


def _tie_rank(consent: Consent) -> tuple[datetime, int, str]:
    # Most recent wins; on the same instant the more restrictive answer wins (a
    # withdrawal recorded in the same second as a grant stands), then the id decides.
    return (consent.captured_at, _STATUSES.index(consent.status), consent.id)


def _purpose_key(purpose: str) -> str:
    """How purposes compare: without case, outer or repeated spaces."""
    return " ".join(purpose.split()).casefold()


def consent_decision(
    consents: Iterable[Consent], *, channel: str, purpose: str, now: datetime
) -> ConsentDecision:
    """Decide from *consents* whether contact on *channel* for *purpose* is allowed at *now*.

    The most recent consent (by ``captured_at``) for that channel and purpose wins;
    consents captured after *now* are not known yet and are ignored. On the same instant a
    denial or withdrawal wins over a grant, so the answer does not depend on the order of
    *consents*. Purposes compare without case or extra spaces (a withdrawal recorded for
    ``"Marketing"`` stops a ``"marketing"`` message).

    >>> from datetime import datetime, timezone
    >>> def at(day):
    ...     return datetime(2026, 1, day, tzinfo=timezone.utc)
    >>> consents = [
    ...     Consent(
    ...         id="C1",
    ...         subject_id="L1",
    ...         channel="email",
    ...         purpose="marketing",
    ...         status="granted",
    ...         captured_at=at(1),
    ...     ),
    ...     Consent(
    ...         id="C2",
    ...         subject_id="L1",
    ...         channel="email",
    ...         purpose="marketing",
    ...         status="withdrawn",
    ...         captured_at=at(9),
    ...     ),
    ... ]
    >>> consent_decision(consents, channel="email", purpose="marketing", now=at(5))
    ConsentDecision(allowed=True, consent_id='C1', reason='granted')
    >>> consent_decision(consents, channel="email", purpose="marketing", now=at(10))
    ConsentDecision(allowed=False, consent_id='C2', reason='withdrawn')
    >>> consent_decision(consents, channel="sms", purpose="marketing", now=at(10)).reason
    'not_recorded'
    """
    errors: list[FieldError] = []
    if not _checks.one_of(channel, _CHANNELS):
        errors.append(
            FieldError(
                "channel",
                "invalid",
                f"must be one of {', '.join(_CHANNELS)} (got {describe_value(channel)})",
            )
        )
    problem = _checks.text_problem(purpose, _PURPOSE_LENGTH)
    if problem is not None:
        errors.append(FieldError("purpose", problem[0], problem[1]))
    problem = _checks.aware_datetime(now)
    if problem is not None:
        errors.append(FieldError("now", problem[0], problem[1]))
    if errors:
        raise ValidationError("consent_decision", errors)
    _checks.require_iterable(
        consents, "an iterable of Consent", function="consent_decision", path="consents"
    )
    best: Consent | None = None
    wanted = _purpose_key(purpose)
    for position, consent in enumerate(consents):
        if not isinstance(consent, Consent):
            raise ValidationError(
                "consent_decision",
                [
                    FieldError(
                        f"consents[{position}]",
                        "type",
                        f"must be a Consent, not {type(consent).__name__}",
                    )
                ],
            )
        if (
            consent.channel != channel
            or _purpose_key(consent.purpose) != wanted
            or consent.captured_at > now
        ):
            continue
        if best is None or _tie_rank(consent) > _tie_rank(best):
            best = consent
    if best is None:
        return ConsentDecision(allowed=None, consent_id=None, reason="not_recorded")
    if best.status != "granted":
        return ConsentDecision(allowed=False, consent_id=best.id, reason=best.status)
    if best.is_active(now):
        return ConsentDecision(allowed=True, consent_id=best.id, reason="granted")
    return ConsentDecision(allowed=False, consent_id=best.id, reason="expired")


def _hash_problem(value: object) -> _checks.Problem | None:
    if isinstance(value, str) and _HASH.fullmatch(value) is not None:
        return None
    return "invalid", "must be 64 lowercase hex digits (a privacy_hash)"


def _counts_errors(entry: Any) -> list[FieldError]:
    counts = entry.counts
    if counts.__class__ is not FieldValues:
        return _scalar_problems(counts, "counts")
    return [
        FieldError(
            f"counts.{name}",
            "invalid",
            f"must be a whole number from 0 to {_MAX_COUNT} (got {describe_value(value)})",
        )
        for name, value in counts.items()
        if value.__class__ is not int or not 0 <= value <= _MAX_COUNT
    ]


_LOG_CHECKS: Final = _checks.FieldChecks(
    "PrivacyLogEntry",
    required=[
        ("id", _checks.identifier),
        ("kind", _choice(_PRIVACY_REQUESTS)),
        ("subject_hash", _checks.Check(_hash_problem)),
        ("at", _checks.aware_datetime),
    ],
    optional=[("mode", _checks.text(_KIND_LENGTH))],
    invariants=[
        _checks.Invariant("not {ns}errors(obj)", _counts_errors, {"errors": _counts_errors})
    ],
)


@attrs.frozen(kw_only=True)
class PrivacyLogEntry:
    """A privacy request carried out: what *kind*, about whom (a keyed hash) and when.

    *kind* is ``"find"``, ``"export"``, ``"erase"`` or ``"suppressed"`` (a record of an
    erased person refused at import or capture); *mode* says how (``"delete"`` or
    ``"anonymise"`` for an erasure); *counts* how many records of each kind were touched.
    No personal data is kept: *subject_hash* is a :func:`privacy_hash`, which is
    pseudonymous data (whoever holds the key can test a guess), not anonymous data.

    >>> from datetime import datetime, timezone
    >>> entry = PrivacyLogEntry(
    ...     id="P1",
    ...     kind="erase",
    ...     subject_hash="0" * 64,
    ...     at=datetime(2026, 3, 1, tzinfo=timezone.utc),
    ...     mode="anonymise",
    ...     counts={"lead": 2, "activity": 5},
    ... )
    >>> dict(entry.counts)
    {'lead': 2, 'activity': 5}
    """

    id: str
    kind: PrivacyRequest
    subject_hash: str
    at: datetime
    mode: str | None = None
    counts: FieldValues = attrs.field(default=EMPTY_VALUES, converter=to_custom)

    _repr_html_ = repr_html

    def __attrs_post_init__(self) -> None:
        _LOG_CHECKS.validate(self)


def _normalised(kind: str, value: str) -> str:
    # Imported here: the normalisers live with the matching rules, above the domain layer.
    from leadmodel.rules.normalize import normalize_email, normalize_person_name

    if kind == "email":
        return normalize_email(value) or value.strip().casefold()
    if kind == "phone":
        try:
            return PhoneNumber.parse(value).e164
        except ValidationError:
            return value.strip()
    if kind == "name":
        return normalize_person_name(value) or value.strip().casefold()
    return value


def privacy_hash(key: PrivacyKey, kind: str, value: str | EmailAddress | PhoneNumber) -> str:
    r"""The keyed hash (HMAC-SHA256, hex) of a personal *value* of *kind*, normalised first.

    ``kind`` ``"email"``, ``"phone"`` and ``"name"`` values are normalised the way
    matching normalises them, so ``"Ada@Example.org"`` and ``"ada@example.org"`` hash
    alike; any other *kind* (``"lead.first_name"``, ``"token"``) hashes the text as given.
    The message is ``kind + "\0" + value``, so equal text of different kinds never
    collides. Without the host's secret (:class:`~leadmodel.ports.PrivacyKey`) a hash
    cannot be reversed or recomputed; with it, a guess can be checked, which is why the
    hash is pseudonymous data, not anonymous data. Anonymisation tokens are
    ``"anon-" + privacy_hash(...)[:16]``.

    >>> class Key:
    ...     def secret(self) -> bytes:
    ...         return b"host secret"
    >>> a = privacy_hash(Key(), "email", "Ada@Example.org")
    >>> a == privacy_hash(Key(), "email", " ada@example.org")
    True
    >>> len(a), a == privacy_hash(Key(), "name", "ada@example.org")
    (64, False)
    """
    errors: list[FieldError] = []
    try:
        secret_of = getattr(key, "secret", None)
    except Exception:  # noqa: BLE001 - a hostile key object is reported, not leaked
        secret_of = None
    if not callable(secret_of):
        errors.append(FieldError("key", "type", f"must be a PrivacyKey, not {type(key).__name__}"))
    kind_problem = _checks.text_problem(kind, _KIND_LENGTH)
    if kind_problem is not None:
        errors.append(FieldError("kind", kind_problem[0], kind_problem[1]))
    if isinstance(value, EmailAddress):
        value = value.normalized
    elif isinstance(value, PhoneNumber):
        value = value.e164
    if not isinstance(value, str):
        errors.append(FieldError("value", "type", f"must be text, not {type(value).__name__}"))
    elif len(value) > _MAX_HASHED_VALUE:
        errors.append(
            FieldError("value", "too_long", f"must be at most {_MAX_HASHED_VALUE} characters")
        )
    elif not value.strip() or _SURROGATE.search(value) is not None:
        errors.append(
            FieldError("value", "invalid", "must be non-blank text without lone surrogates")
        )
    if errors:
        raise ValidationError("privacy_hash", errors)
    assert callable(secret_of)  # noqa: S101 - checked above
    try:
        secret = secret_of()
    except Exception as exc:  # noqa: BLE001 - a host key that fails is reported, not leaked
        raise ValidationError(
            "privacy_hash",
            [FieldError("key", "invalid", f"secret() failed ({type(exc).__name__})")],
        ) from None
    if not isinstance(secret, bytes) or not secret:
        raise ValidationError(
            "privacy_hash",
            [FieldError("key", "invalid", "secret() must return non-empty bytes")],
        )
    message = f"{kind}\0{_normalised(kind, value)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
