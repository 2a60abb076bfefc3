"""Consent values, consent decisions, the privacy log entry and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadmodel import (
    Consent,
    ConsentDecision,
    PrivacyLogEntry,
    ValidationError,
    consent_decision,
    from_json,
    privacy_hash,
    to_json,
)
from leadmodel.ports import PrivacyKey
from leadmodel.testing.strategies import consents, privacy_log_entries, timestamps

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Key:
    def __init__(self, secret: bytes = b"s3cret") -> None:
        self._secret = secret

    def secret(self) -> bytes:
        return self._secret


def _consent(**changes: object) -> Consent:
    fields: dict[str, object] = {
        "id": "C1",
        "subject_id": "L1",
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "captured_at": T0,
    }
    fields.update(changes)
    return Consent(**fields)  # type: ignore[arg-type]


@given(consents())
def test_consent_round_trips_through_json(consent: Consent) -> None:
    assert from_json(Consent, to_json(consent)) == consent


@given(privacy_log_entries())
def test_privacy_log_entry_round_trips_through_json(entry: PrivacyLogEntry) -> None:
    assert from_json(PrivacyLogEntry, to_json(entry)) == entry


def test_consent_decision_round_trips_with_its_format() -> None:
    decision = ConsentDecision(allowed=False, consent_id="C2", reason="withdrawn")
    assert '"format": 1' in to_json(decision)
    assert from_json(ConsentDecision, to_json(decision)) == decision


# Few channels, purposes and instants, so histories overlap and tie often.
_HISTORY_TIMES = st.sampled_from([T0 + timedelta(days=d) for d in range(4)])
_histories = st.lists(
    consents().flatmap(
        lambda c: st.builds(
            lambda at, channel, purpose: attrs.evolve(
                c, captured_at=at, expires_at=None, channel=channel, purpose=purpose
            ),
            _HISTORY_TIMES,
            st.sampled_from(["email", "sms"]),
            st.sampled_from(["marketing", "sales"]),
        )
    ),
    max_size=10,
    unique_by=lambda c: c.id,
)


@given(_histories, st.permutations(range(10)), _HISTORY_TIMES)
def test_decision_does_not_depend_on_the_order_of_consents(
    history: list[Consent], order: list[int], now: datetime
) -> None:
    shuffled = [history[i] for i in order if i < len(history)]
    for channel, purpose in (("email", "marketing"), ("sms", "sales")):
        assert consent_decision(
            history, channel=channel, purpose=purpose, now=now
        ) == consent_decision(shuffled, channel=channel, purpose=purpose, now=now)


@given(_histories, _HISTORY_TIMES)
def test_decision_follows_the_most_recent_known_consent(
    history: list[Consent], now: datetime
) -> None:
    decision = consent_decision(history, channel="sms", purpose="sales", now=now)
    known = [
        c for c in history if c.channel == "sms" and c.purpose == "sales" and c.captured_at <= now
    ]
    if not known:
        assert decision == ConsentDecision(allowed=None, consent_id=None, reason="not_recorded")
        return
    latest = max(c.captured_at for c in known)
    winner = next(c for c in known if c.id == decision.consent_id)
    assert winner.captured_at == latest
    assert decision.allowed is winner.is_active(now)
    if winner.status == "granted":  # a grant wins a tie only when nothing else was said
        assert all(c.status == "granted" for c in known if c.captured_at == latest)


@given(st.lists(consents(), max_size=8), timestamps())
def test_expiry_decides_only_for_grants(history: list[Consent], now: datetime) -> None:
    for consent in history:
        decision = consent_decision(
            [consent], channel=consent.channel, purpose=consent.purpose, now=now
        )
        if consent.captured_at > now:
            assert decision.reason == "not_recorded"
        elif consent.status != "granted":
            assert decision.reason == consent.status
        else:
            assert decision.allowed is consent.is_active(now)


def test_a_withdrawal_at_the_same_instant_as_a_grant_wins() -> None:
    grant = _consent(id="C9")
    withdrawal = _consent(id="C1", status="withdrawn")
    decision = consent_decision([grant, withdrawal], channel="email", purpose="marketing", now=T0)
    assert decision == ConsentDecision(allowed=False, consent_id="C1", reason="withdrawn")


def test_an_expired_grant_is_not_allowed_and_says_so() -> None:
    consent = _consent(expires_at=T0 + timedelta(days=1))
    later = T0 + timedelta(days=2)
    decision = consent_decision([consent], channel="email", purpose="marketing", now=later)
    assert decision == ConsentDecision(allowed=False, consent_id="C1", reason="expired")


def test_a_consent_captured_after_now_is_not_known_yet() -> None:
    consent = _consent(captured_at=T0 + timedelta(days=1))
    assert not consent.is_active(T0)
    decision = consent_decision([consent], channel="email", purpose="marketing", now=T0)
    assert decision.reason == "not_recorded"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"channel": "fax"}, "channel"),
        ({"status": "maybe"}, "status"),
        ({"lawful_basis": "whim"}, "lawful_basis"),
        ({"purpose": ""}, "purpose"),
        ({"captured_at": datetime(2026, 1, 1)}, "captured_at"),  # noqa: DTZ001 - naive on purpose
        ({"expires_at": T0 - timedelta(seconds=1)}, "expires_at"),
        ({"provenance": ("ok", 5)}, "provenance"),
        ({"provenance": 5}, "provenance"),
        ({"proof": "x" * 1001}, "proof"),
    ],
)
def test_consent_refuses_bad_fields(changes: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _consent(**changes)
    assert path in caught.value.paths


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"consents": [], "channel": "fax", "purpose": "m", "now": T0}, "channel"),
        ({"consents": [], "channel": "email", "purpose": "", "now": T0}, "purpose"),
        ({"consents": [], "channel": "email", "purpose": "m", "now": "today"}, "now"),
        ({"consents": "C1", "channel": "email", "purpose": "m", "now": T0}, "consents"),
        ({"consents": [1], "channel": "email", "purpose": "m", "now": T0}, "consents[0]"),
    ],
)
def test_consent_decision_refuses_bad_arguments(arguments: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        consent_decision(**arguments)  # type: ignore[arg-type]
    assert caught.value.paths == (path,)


def test_is_active_refuses_a_naive_now() -> None:
    with pytest.raises(ValidationError):
        _consent().is_active(datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"subject_hash": "ABC"}, "subject_hash"),
        ({"kind": "peek"}, "kind"),
        ({"counts": {"lead": -1}}, "counts.lead"),
        ({"counts": {"lead": True}}, "counts.lead"),
        ({"counts": {"lead": "2"}}, "counts.lead"),
        ({"counts": [1]}, "counts"),
    ],
)
def test_privacy_log_entry_refuses_bad_fields(changes: dict[str, object], path: str) -> None:
    fields: dict[str, object] = {"id": "P1", "kind": "find", "subject_hash": "0" * 64, "at": T0}
    fields.update(changes)
    with pytest.raises(ValidationError) as caught:
        PrivacyLogEntry(**fields)  # type: ignore[arg-type]
    assert path in caught.value.paths


def test_privacy_hash_is_hmac_sha256_of_kind_and_normalised_value() -> None:
    expected = hmac.new(b"s3cret", b"email\0ada@example.org", hashlib.sha256).hexdigest()
    assert privacy_hash(Key(), "email", "  Ada@EXAMPLE.org ") == expected


@pytest.mark.parametrize(
    ("kind", "one", "other"),
    [
        ("email", "Ada@Example.org", "ada@example.org"),
        ("phone", "(415) 555-1234", "+1 415 555 1234"),
        ("name", "Zoë O'Brien", "zoe obrien"),
    ],
)
def test_privacy_hash_normalises_like_matching(kind: str, one: str, other: str) -> None:
    assert privacy_hash(Key(), kind, one) == privacy_hash(Key(), kind, other)


@given(st.text(min_size=1).filter(str.strip))
def test_privacy_hash_depends_on_key_and_kind(value: str) -> None:
    value = value.encode("utf-8", "ignore").decode() or "x"
    if not value.strip():
        value = "x"
    one = privacy_hash(Key(), "lead.note", value)
    assert len(one) == 64
    assert one == privacy_hash(Key(), "lead.note", value)
    assert one != privacy_hash(Key(b"other"), "lead.note", value)
    assert one != privacy_hash(Key(), "contact.note", value)


def test_a_host_key_satisfies_the_port() -> None:
    assert isinstance(Key(), PrivacyKey)


class BrokenKey:
    def secret(self) -> bytes:
        raise RuntimeError("vault down")


class EmptyKey:
    def secret(self) -> str:
        return ""


@pytest.mark.parametrize(
    ("key", "kind", "value", "path"),
    [
        (object(), "email", "a@b.c", "key"),
        (BrokenKey(), "email", "a@b.c", "key"),
        (EmptyKey(), "email", "a@b.c", "key"),
        (Key(), "", "a@b.c", "kind"),
        (Key(), "email", 5, "value"),
        (Key(), "email", "  ", "value"),
        (Key(), "email", "\ud800", "value"),
        (Key(), "email", "x" * 10_001, "value"),
    ],
)
def test_privacy_hash_refuses_bad_input(
    key: object, kind: object, value: object, path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        privacy_hash(key, kind, value)  # type: ignore[arg-type]
    assert caught.value.paths == (path,)


def test_the_module_exports_exactly_its_public_names() -> None:
    import inspect

    from leadmodel.domain import consent

    defined_here = {
        name
        for name, value in vars(consent).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == consent.__name__
    }
    assert defined_here <= set(consent.__all__)
    for name in consent.__all__:
        assert hasattr(consent, name), name


@pytest.mark.parametrize(
    ("allowed", "consent_id", "reason", "path"),
    [
        (True, "C1", "denied", "allowed"),
        (None, "C1", "granted", "allowed"),
        (None, "C1", "not_recorded", "consent_id"),
        ("yes", "C1", "granted", "allowed"),
        (True, "C1", "maybe", "reason"),
    ],
)
def test_a_decision_that_contradicts_itself_is_refused(
    allowed: object, consent_id: object, reason: object, path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ConsentDecision(allowed=allowed, consent_id=consent_id, reason=reason)  # type: ignore[arg-type]
    assert path in caught.value.paths


def test_from_type_draws_consents_and_log_entries() -> None:
    @given(st.from_type(Consent), st.from_type(PrivacyLogEntry))
    def check(consent: Consent, entry: PrivacyLogEntry) -> None:
        assert isinstance(consent, Consent)
        assert isinstance(entry, PrivacyLogEntry)

    check()
