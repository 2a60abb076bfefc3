"""The last-moment consent gate every message to a person goes through.

Rules (auto-response, workflow ``Notify``, time-trigger ``Notify``) decide *what* to send
when they run; the person may opt out or withdraw consent between that moment and the
send. :func:`gate` is called by every service just before ``notifier.send``
(``capture_lead``/``approve_capture``, ``convert_lead``, ``run_due``; ``apply_workflows``
on the notifications it returns for the host to send): it reads the
recipient's record and consents as stored *then* and holds back what may no longer go.
A held-back message is a :class:`Suppressed` value in the service's result (its
``suppressed`` field), never sent and never silently dropped.

What is checked, for a notification addressed to the person (its recipient is the email
address, phone or mobile number of the record it is about, of the contact that record
was converted into or of the survivor of a merge that absorbed it, or of any stored lead
or contact: in any spelling, ``ADA@Example.com``, ``Ada <ada@example.com>``,
``mailto:``/``tel:`` forms, ``+1 (415) 555-0100`` for ``+14155550100``):

- an email channel and every such record's ``email_opt_out``;
- a phone or sms channel and every such record's ``do_not_call``.
  Channels compare without case (``"SMS"``), a few aliases are understood (``"text"``,
  ``"e-mail"``, ``"call"``), and any other channel (``"whatsapp"``) counts as email when
  it goes to an email address, else as both phone and sms;
- the recorded consents (:func:`~leadmodel.consent_decision`) for the channel and the
  notification's purpose: ``Notification.data["purpose"]`` when it says, else
  :data:`DEFAULT_PURPOSE` (``"marketing"``: an auto-response or a nurture message is
  marketing). A denied, withdrawn or expired consent suppresses; no consent recorded
  leaves the opt-out flags to decide (the opt-out regime CRMs apply by default).

Messages to users and queues (an owner, a manager: their id, not the person's address)
are not gated, unless the id is a stored person's address (a host using email addresses
as user ids): then the message is that person's and gated like any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Final

import attrs

from leadmodel._html import result_html
from leadmodel.domain._typed import check_fields
from leadmodel.domain.consent import Consent, consent_decision
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import LeadModelError, ValidationError
from leadmodel.domain.events import Notification
from leadmodel.domain.lead import Lead
from leadmodel.domain.values import EmailAddress, PhoneNumber
from leadmodel.ports import SupportsConsents

__all__ = ["DEFAULT_PURPOSE", "Suppressed", "check_notification", "gate"]

CHANNELS: Final = ("email", "phone", "sms", "post")
"""The channels a :class:`~leadmodel.Consent` is recorded for (others are not checked)."""

DEFAULT_PURPOSE: Final = "marketing"
"""The purpose of a notification whose ``data`` names none."""


@attrs.frozen
class Suppressed:
    """A notification to a person that was held back at the last moment, and why.

    *reason* says which opt-out or consent stopped it; *consent_id* is the deciding
    :class:`~leadmodel.Consent` (``None`` when an opt-out flag decided).

    >>> from leadmodel import Notification
    >>> note = Notification(recipient="ng@x.io", template="thanks", subject_id="L1")
    >>> Suppressed(note, "lead L1 opted out of email (email_opt_out)").notification.template
    'thanks'
    """

    _repr_html_ = result_html

    notification: Notification
    reason: str
    consent_id: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def purpose_of(notification: Notification) -> str:
    """The purpose consent is checked for: ``data["purpose"]``, else :data:`DEFAULT_PURPOSE`."""
    purpose = notification.data.get("purpose")
    return purpose if isinstance(purpose, str) else DEFAULT_PURPOSE


def _addresses(record: Lead | Contact) -> set[str]:
    found = {str(record.email).casefold()} if record.email is not None else set()
    for phone in (record.phone, record.mobile):
        if phone is not None:
            found.add(str(phone))
    return found


_SCHEMES: Final = ("mailto:", "tel:", "sms:", "callto:")


def recipient_forms(
    recipient: str, regions: Iterable[str] = ()
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The normalised forms of *recipient*, and the lookup keys of the person it may be.

    A recipient may name the person's address in any spelling: ``ADA@Example.com``,
    ``Ada <ada@example.com>``, ``mailto:ada@example.com``, ``+1 (415) 555-0100``,
    ``tel:4155550100``, or a national number of one of *regions* (the regions of the
    person's stored numbers: ``020 7946 0958`` for ``+442079460958``). Forms are casefolded
    text, normalised email addresses and E.164 numbers; keys are ``email:`` and ``phone:``
    keys as :func:`~leadmodel.ports.lookup_keys` derives them for stored leads and contacts.
    """
    dialled = ("US", *sorted({r for r in regions if isinstance(r, str) and r}))
    text = recipient.strip()
    given = {text, parseaddr(text)[1].strip()}
    candidates = given | {
        candidate[len(scheme) :].split("?", 1)[0].strip()
        for candidate in given
        for scheme in _SCHEMES
        if candidate.casefold().startswith(scheme)
    }
    forms: set[str] = set()
    keys: list[str] = []
    for candidate in sorted(c for c in candidates if c):
        forms.add(candidate.casefold())
        try:
            if "@" in candidate:
                address = EmailAddress.parse(candidate)
                forms.add(str(address).casefold())
                keys.append(f"email:{address}")
            else:
                for region in dialled:
                    with contextlib.suppress(ValidationError):
                        number = PhoneNumber.parse(candidate, region=region)
                        forms.add(number.e164)
                        keys.append(f"phone:{number.e164}")
        except ValidationError:
            continue
    return frozenset(forms), tuple(dict.fromkeys(keys))


def _regions(records: Iterable[Lead | Contact]) -> set[str]:
    return {
        phone.region
        for record in records
        for phone in (record.phone, record.mobile)
        if phone is not None and phone.region is not None
    }


def _kind(record: Lead | Contact) -> str:
    return "lead" if isinstance(record, Lead) else "contact"


def check_notification(
    notification: Notification,
    records: Sequence[Lead | Contact],
    consents: Iterable[Consent],
    *,
    now: datetime,
) -> Suppressed | None:
    """Why *notification* must not go to the person *records* describe, or ``None``.

    Pure: *records* are the record the notification is about (and the contact it was
    converted into), *consents* theirs. A notification whose recipient is none of their
    addresses (a user or queue id) is never suppressed.

    >>> from datetime import UTC, datetime
    >>> from leadmodel import EmailAddress, Lead, Notification
    >>> lead = Lead(
    ...     id="L1",
    ...     last_name="Ng",
    ...     is_person=True,
    ...     email=EmailAddress.parse("ng@x.io"),
    ...     email_opt_out=True,
    ... )
    >>> note = Notification(recipient="ng@x.io", template="thanks", subject_id="L1")
    >>> check_notification(note, [lead], [], now=datetime(2026, 1, 1, tzinfo=UTC)).reason
    'lead L1 opted out of email (email_opt_out)'
    >>> owner = Notification(recipient="u-7", template="new_lead", subject_id="L1")
    >>> check_notification(owner, [lead], [], now=datetime(2026, 1, 1, tzinfo=UTC)) is None
    True
    """
    forms, _ = recipient_forms(notification.recipient, _regions(records))
    people = [r for r in records if forms & {a.casefold() for a in _addresses(r)}]
    if not people:
        return None
    channels = _channels(notification.channel, forms, people)
    for record in records:
        if "email" in channels and record.email_opt_out:
            return Suppressed(
                notification, f"{_kind(record)} {record.id} opted out of email (email_opt_out)"
            )
        if {"phone", "sms"} & set(channels) and record.do_not_call:
            return Suppressed(
                notification, f"{_kind(record)} {record.id} asked not to be called (do_not_call)"
            )
    purpose = purpose_of(notification)
    # A refusal the store already holds is in force even when it is dated after *now* (an
    # old event replayed, a clock behind): the message is sent now, to a person who said no.
    latest = max((c.captured_at for c in consents), default=now)
    for channel in channels:
        try:
            decision = consent_decision(consents, channel=channel, purpose=purpose, now=now)
            if decision.allowed is not False and latest > now:
                since = consent_decision(consents, channel=channel, purpose=purpose, now=latest)
                if since.allowed is False and since.reason in {"denied", "withdrawn"}:
                    decision = since
        except ValidationError as exc:  # a purpose consent cannot be checked for: not sent
            return Suppressed(
                notification, f"consent cannot be checked: {str(exc).splitlines()[0][:200]}"
            )
        if decision.allowed is False:
            return Suppressed(
                notification,
                f"consent to {channel} for {purpose} is {decision.reason} "
                f"(consent {decision.consent_id})",
                consent_id=decision.consent_id,
            )
    return None


_CHANNEL_ALIASES: Final = {
    "e-mail": "email",
    "mail": "email",
    "text": "sms",
    "mms": "sms",
    "call": "phone",
    "voice": "phone",
    "letter": "post",
}


def _channels(
    channel: str, forms: frozenset[str], people: Sequence[Lead | Contact]
) -> tuple[str, ...]:
    """The consent channels a notification on *channel* to the matched *people* uses.

    Case and spacing do not matter (``"SMS"`` is ``"sms"``); a few common names are
    understood (``"text"``, ``"e-mail"``, ``"call"``); any other channel (``"whatsapp"``)
    is judged by the address it goes to: an email address is ``email``, a number both
    ``phone`` and ``sms`` (the more restrictive answer holds).
    """
    name = channel.strip().casefold()
    name = _CHANNEL_ALIASES.get(name, name)
    if name in CHANNELS:
        return (name,)
    emails = {str(r.email).casefold() for r in people if r.email is not None}
    if forms & emails:
        return ("email",)
    return ("phone", "sms")


def _records(uow: Any, subject_id: str) -> list[Lead | Contact]:
    lead = uow.leads.get(subject_id)
    if isinstance(lead, Lead):
        found: list[Lead | Contact] = [lead]
        contact_id = lead.converted.contact_id if lead.converted is not None else None
        contact = uow.contacts.get(contact_id) if contact_id else None
        if isinstance(contact, Contact):
            found.append(contact)
        return found
    contact = uow.contacts.get(subject_id)
    return [contact] if isinstance(contact, Contact) else []


def _survivors(uow: Any, subject_id: str) -> list[Lead | Contact]:
    """The merged-away *subject_id* as it was, and the survivor it lives on in.

    Read from ``uow.merges`` when the unit of work stores merges: the absorbed record's
    original (its addresses and opt-outs at the merge) and the survivor's records (its
    consents moved there).
    """
    merges = getattr(uow, "merges", None)
    if merges is None:
        return []
    found: list[Lead | Contact] = []
    for merge in merges.find_by_keys([f"record:{subject_id}"]):
        if merge.undone_at is not None or subject_id not in merge.absorbed_ids:
            continue
        found += [
            original
            for original in merge.result.originals
            if isinstance(original, Lead | Contact) and original.id == subject_id
        ]
        found += _records(uow, merge.survivor_id)
    return found


def _person(uow: Any, notification: Notification) -> list[Lead | Contact]:
    """The stored records of the person *notification* is addressed to (maybe none).

    The notification's record (the contact a converted lead became, the survivor of a
    merge that absorbed it) when its recipient is one of their addresses, and every lead
    and contact stored with the recipient's address, however the recipient spells it.
    """
    subject = _records(uow, notification.subject_id) or _survivors(uow, notification.subject_id)
    forms, keys = recipient_forms(notification.recipient, _regions(subject))
    if not any(forms & {a.casefold() for a in _addresses(r)} for r in subject):
        subject = []
    found: dict[tuple[str, str], Lead | Contact] = {(_kind(r), r.id): r for r in subject}
    if keys:
        for record in [*uow.leads.find_by_keys(keys), *uow.contacts.find_by_keys(keys)]:
            if isinstance(record, Lead | Contact):
                for related in _records(uow, record.id) if isinstance(record, Lead) else [record]:
                    found.setdefault((_kind(related), related.id), related)
    return list(found.values())


def consents_of(uow: Any) -> Any | None:
    """The unit of work's consent repository (``SupportsConsents``), or ``None``."""
    return uow.consents if isinstance(uow, SupportsConsents) else None


def consents_for(repository: Any, subject_id: str) -> list[Consent]:
    """The consents *repository* holds for *subject_id*, in id order."""
    found = repository.find_by_keys([f"subject:{subject_id}"])
    return sorted(
        (c for c in found if isinstance(c, Consent) and c.subject_id == subject_id),
        key=lambda c: c.id,
    )


def move_consents(uow: Any, survivor_id: str, absorbed_ids: Sequence[str]) -> list[str]:
    """Re-point the absorbed records' consents at the survivor (a merge); notes of it.

    Every consent is kept (nothing lost), its ``provenance`` gaining the absorbed
    record's id; the most recent per channel and purpose decides, as
    :func:`~leadmodel.consent_decision` always does. :func:`restore_consents` undoes it.
    """
    repository = consents_of(uow)
    if repository is None:
        return []
    notes: list[str] = []
    for absorbed in absorbed_ids:
        theirs = consents_for(repository, absorbed)
        for consent in theirs:
            repository.update(
                attrs.evolve(
                    consent, subject_id=survivor_id, provenance=(*consent.provenance, absorbed)
                )
            )
        if theirs:
            notes.append(
                f"{len(theirs)} consent(s) of {absorbed} moved to {survivor_id} "
                "(kept with provenance; the most recent per channel and purpose decides)"
            )
    return notes


def restore_consents(uow: Any, survivor_id: str, absorbed_ids: Sequence[str]) -> None:
    """Give the consents :func:`move_consents` moved back to their records (an unmerge)."""
    repository = consents_of(uow)
    if repository is None:
        return
    absorbed = set(absorbed_ids)
    for consent in consents_for(repository, survivor_id):
        if consent.provenance and consent.provenance[-1] in absorbed:
            repository.update(
                attrs.evolve(
                    consent,
                    subject_id=consent.provenance[-1],
                    provenance=consent.provenance[:-1],
                )
            )


def reissue_consents(
    uow: Any, lead_id: str, contact_id: str, ids: Callable[[str], str]
) -> tuple[Consent, ...]:
    """The lead's consents issued again for the contact it became (a conversion).

    Each copy has a new id, ``subject_id=contact_id`` and ``provenance=(original id,)``;
    the lead keeps its own. A consent issued for the contact before (a conversion into
    the same contact again) is not issued twice.
    """
    repository = consents_of(uow)
    if repository is None:
        return ()
    already = {p for c in consents_for(repository, contact_id) for p in c.provenance}
    issued = tuple(
        attrs.evolve(c, id=ids("consent"), subject_id=contact_id, provenance=(c.id,))
        for c in consents_for(repository, lead_id)
        if c.id not in already
    )
    for consent in issued:
        repository.add(consent)
    return issued


def _stored_consents(uow: Any, subject_ids: Iterable[str]) -> list[Consent]:
    repository = consents_of(uow)
    if repository is None:
        return []
    wanted = set(subject_ids)
    keys = [f"subject:{s}" for s in sorted(wanted)]
    return [
        c
        for c in repository.find_by_keys(keys)
        if isinstance(c, Consent) and c.subject_id in wanted
    ]


def gate(
    uow: Any,
    outgoing: Sequence[Notification],
    *,
    now: datetime,
    consents: Iterable[Consent] = (),
) -> tuple[tuple[Notification, ...], tuple[Suppressed, ...]]:
    """Split *outgoing* into what may be sent now and what is :class:`Suppressed`.

    Each notification's record (lead or contact, and the contact a converted lead became)
    and its consents are read from *uow* as stored now; *consents* adds ones not stored
    (a unit of work without ``SupportsConsents``). Called by every service right before
    ``notifier.send``, outside any other unit of work. When storage fails while it reads
    (a :class:`~leadmodel.LeadModelError` such as ``DatabaseBusy``), nothing is sent:
    every notification is :class:`Suppressed` with the error as its reason (the records
    are committed already, so the service reports rather than raises).
    """
    if not outgoing:
        return (), ()
    extra = list(consents)
    decided: list[tuple[Notification, Suppressed | None]] = []
    try:
        with uow:
            for notification in outgoing:
                records = _person(uow, notification)
                ids = {r.id for r in records}
                theirs = _stored_consents(uow, ids) + [c for c in extra if c.subject_id in ids]
                decided.append(
                    (notification, check_notification(notification, records, theirs, now=now))
                )
    except LeadModelError as exc:  # storage failed after the commit: hold, report, not raise
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        reason = f"consent could not be checked ({type(exc).__name__}: {first}): not sent"
        decided = [(n, Suppressed(n, reason)) for n in outgoing]
    allowed = tuple(n for n, held in decided if held is None)
    return allowed, tuple(held for _, held in decided if held is not None)
