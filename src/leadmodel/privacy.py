"""Privacy requests: find, export and erase one person's data everywhere, and retention.

The services :func:`find_person`, :func:`export_person`, :func:`erase` and
:func:`run_retention` (re-exported by :mod:`leadmodel.services`) answer a data subject's
requests over a unit of work: every lead, contact, person account, opportunity,
activity, stored merge (survivor and originals), consent and trigger state that holds the
person's data is found with the field paths that hold it, exported as one JSON document,
then deleted or anonymised in one commit. The privacy log (``uow.privacy_log``,
:class:`~leadmodel.ports.SupportsPrivacyLog`) keeps only a keyed hash of who was asked
about, so an erased person is recognised (:func:`is_erased`) and not re-imported, without
the log holding their data. :class:`RetentionPolicy` rules are plain data; the pure
:func:`due_for_retention` says which records they reach.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar

import attrs

from leadmodel._html import result_html
from leadmodel._units import check_unit as _check_unit
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import PrivacyLogEntry, privacy_hash
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import DatabaseBusy, FieldError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema, FieldValues
from leadmodel.domain.lead import Lead
from leadmodel.domain.values import Address, EmailAddress, PhoneNumber
from leadmodel.ports import PrivacyKey, SupportsScrub, UnitOfWork
from leadmodel.rules._common import criterion_problem, raise_problems
from leadmodel.rules.criteria import Criterion
from leadmodel.rules.merge import MergeRecord
from leadmodel.rules.normalize import normalize_person_name
from leadmodel.serialization import FORMAT_VERSION, to_dict

__all__ = [
    "Erasure",
    "Finding",
    "PersonFindings",
    "RetentionDue",
    "RetentionPolicy",
    "RetentionRun",
    "due_for_retention",
    "erase",
    "export_person",
    "find_person",
    "is_erased",
    "run_retention",
    "suppression",
]

Mode = Literal["delete", "anonymise"]
FindingKind = Literal[
    "lead", "contact", "account", "opportunity", "activity", "merge", "consent", "trigger_state"
]
_MODES: Final = ("delete", "anonymise")
_PEOPLE: Final[tuple[FindingKind, ...]] = ("lead", "contact", "account")
_REPOSITORIES: Final = {
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "opportunity": "opportunities",
    "activity": "activities",
    "merge": "merges",
    "consent": "consents",
    "trigger_state": "trigger_states",
}
_KIND_ORDER: Final = tuple(_REPOSITORIES)
_MAX_QUERY: Final = 1_000
_MIN_DIGITS: Final = 7
_TOKEN: Final = re.compile(r"anon-[0-9a-f]{16}")
_TOKEN_DOMAIN: Final = "anonymised.example"  # noqa: S105 - RFC 2606: never delivered
_R = TypeVar("_R")


# --------------------------------------------------------------------------- results


def _paths(value: Iterable[str]) -> tuple[str, ...]:
    return _checks.as_tuple(value)


@attrs.frozen(kw_only=True)
class Finding:
    """One stored record that holds the person's data.

    Attributes:
        kind: ``"lead"``, ``"contact"``, ``"account"``, ``"opportunity"``, ``"activity"``,
            ``"merge"``, ``"consent"`` or ``"trigger_state"``.
        record_id: the record's id.
        paths: the field paths holding the person's data (``"email"``,
            ``"properties.note"``, ``"result.originals[1].phone"``).
        owned: the record is the person's own (their lead, contact or person account, an
            activity or consent of one of those, a merge of their records); otherwise it
            only mentions them (another record's free text, an opportunity's contact).

    >>> Finding(kind="lead", record_id="L1", paths=("email",), owned=True).paths
    ('email',)
    """

    _repr_html_ = result_html

    kind: FindingKind
    record_id: str
    paths: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    owned: bool = False

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen(kw_only=True)
class PersonFindings:
    """What :func:`find_person` found: the request and every record holding the person.

    Attributes:
        email: the normalised email asked about, or ``None``.
        phone: the E.164 phone asked about, or ``None``.
        name: the normalised full name asked about, or ``None``.
        findings: every record found, ordered by kind then id.

    >>> found = PersonFindings(
    ...     email="ada@example.org",
    ...     findings=(Finding(kind="lead", record_id="L1", paths=("email",), owned=True),),
    ... )
    >>> found.ids("lead"), found.counts
    (('L1',), {'lead': 1})
    """

    _repr_html_ = result_html

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    findings: tuple[Finding, ...] = attrs.field(default=(), converter=_checks.as_tuple)

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    def ids(self, kind: str) -> tuple[str, ...]:
        """The ids of the records of *kind* found."""
        return tuple(f.record_id for f in self.findings if f.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        """How many records of each kind were found (kinds with none left out)."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return counts


@attrs.frozen(kw_only=True)
class Erasure:
    """What :func:`erase` did, record by record.

    Attributes:
        mode: ``"delete"`` or ``"anonymise"``.
        deleted: the records removed.
        anonymised: the records kept with the person's values replaced by tokens (in
            delete mode: records of others that mentioned the person, and stored merges
            whose survivor is someone else).
        log_ids: the ids of the :class:`~leadmodel.PrivacyLogEntry` values written (none
            when the unit of work has no privacy log).
        scrubbed: the storage was scrubbed after the commit (``SQLiteStore.scrub()``), so
            no deleted byte remains in its file. ``False`` over SQLite means another
            connection was reading the file: the erasure is committed, but run
            ``store.scrub()`` again once it is done.

    >>> erasure = Erasure(mode="delete", deleted=(Finding(kind="lead", record_id="L1"),))
    >>> erasure.counts
    {'lead': 1}
    """

    _repr_html_ = result_html

    mode: Mode
    deleted: tuple[Finding, ...] = attrs.field(default=(), converter=_checks.as_tuple)
    anonymised: tuple[Finding, ...] = attrs.field(default=(), converter=_checks.as_tuple)
    log_ids: tuple[str, ...] = attrs.field(default=(), converter=_checks.as_tuple)
    scrubbed: bool = False

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def counts(self) -> dict[str, int]:
        """How many records of each kind were deleted or anonymised."""
        counts: dict[str, int] = {}
        for finding in (*self.deleted, *self.anonymised):
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return counts


# --------------------------------------------------------------------------- checks


def _problem(service: str, path: str, code: str, message: str) -> ValidationError:
    return ValidationError(service, [FieldError(path, code, message)])


def _check_now(service: str, now: object) -> datetime:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _problem(service, "now", "type", "must be a timezone-aware datetime")
    return now


def _check_key(service: str, key: object, *, required: bool) -> PrivacyKey | None:
    if key is None and not required:
        return None
    if not callable(getattr(key, "secret", None)):
        raise _problem(
            service,
            "key",
            "type",
            f"must be a PrivacyKey (an object with secret() -> bytes), not {type(key).__name__}",
        )
    privacy_hash(key, "check", "key")  # type: ignore[arg-type] # refuses a failing key
    return key  # type: ignore[return-value]


def _check_mode(service: str, mode: object) -> Mode:
    if mode not in _MODES:
        raise _problem(
            service,
            "mode",
            "invalid",
            f"must be 'delete' or 'anonymise' (got {describe_value(mode)})",
        )
    return mode


def _text_argument(service: str, name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _problem(service, name, "type", f"must be text, not {type(value).__name__}")
    if len(value) > _MAX_QUERY:
        raise _problem(service, name, "too_long", f"must be at most {_MAX_QUERY} characters")
    if not value.strip():
        raise _problem(service, name, "blank", "must not be blank")
    return value


def _query(
    service: str, email: object, phone: object, name: object
) -> tuple[str | None, str | None, str | None]:
    errors: list[FieldError] = []
    found: dict[str, str | None] = {"email": None, "phone": None, "name": None}
    for field, value in (("email", email), ("phone", phone), ("name", name)):
        try:
            text = _text_argument(service, field, value)
        except ValidationError as exc:
            errors.extend(exc.errors)
            continue
        if text is None:
            continue
        try:
            if field == "email":
                found[field] = EmailAddress.parse(text).normalized
            elif field == "phone":
                found[field] = PhoneNumber.parse(text).e164
            else:
                found[field] = normalize_person_name(text)
                if found[field] is None:
                    errors.append(FieldError("name", "invalid", "has no letters"))
        except ValidationError as exc:
            errors.extend(exc.prefixed(field).errors)
    if errors:
        raise ValidationError(service, errors)
    if not any(found.values()):
        raise _problem(service, "", "missing", "give an email, a phone or a name")
    return found["email"], found["phone"], found["name"]


# --------------------------------------------------------------------------- matching


def _untagged(email: str) -> str:
    """The mailbox of a normalised *email*: ``ada+news@x.io`` is ``ada@x.io``."""
    local, at, domain = email.rpartition("@")
    if not at or "+" not in local or local.startswith("+"):
        return email
    return f"{local.split('+', 1)[0]}@{domain}"


def _mailboxes(emails: Iterable[str]) -> frozenset[str]:
    """*emails* and their mailboxes without a ``+tag``."""
    return frozenset(form for email in emails for form in (email, _untagged(email)))


@functools.lru_cache(maxsize=64)
def _email_pattern(emails: frozenset[str]) -> re.Pattern[str] | None:
    """Matches any of *emails* (or its mailbox with any ``+tag``) as a whole address."""
    parts = []
    for email in sorted(emails):
        local, _, domain = _untagged(email).rpartition("@")
        parts.append(rf"{re.escape(local)}(?:\+[^@\s]*)?@{re.escape(domain)}")
    if not parts:
        return None
    return re.compile(rf"(?<![\w.+-])(?:{'|'.join(parts)})(?![\w-]|\.\w)")


_POSSESSIVE: Final = re.compile(r"['\u2019\u02bc]s\b", re.IGNORECASE)


# One written number: digits with at most a few spaces, dots, dashes, slashes or
# parentheses between them ("(415) 555-0101", "+44 20 7946 0958").
_NUMBER: Final = re.compile(r"\d(?:[\s().\-/]{0,3}\d)*")


def _numbers(text: str) -> list[str]:
    """The digits of each number written in *text*."""
    return [re.sub(r"\D", "", match) for match in _NUMBER.findall(text)]


@attrs.frozen
class _Needles:
    """The person's values, ready to be looked for in records and free text."""

    emails: frozenset[str]
    phones: frozenset[str]
    names: frozenset[str]
    texts: frozenset[str]  # other personal strings (address lines, …), casefolded

    def with_record(self, record: object) -> _Needles:
        emails, phones, names, texts = _personal_values(record)
        return _Needles(
            self.emails | emails, self.phones | phones, self.names | names, self.texts | texts
        )

    def loosened(self) -> _Needles:
        """These needles, also matching each part of a name alone.

        For the person's own records, where "Hello Ada" is about them.
        """
        parts = {word for name in self.names for word in name.split() if len(word) >= 3}
        return attrs.evolve(self, names=self.names | parts)

    def identifies(self, record: object) -> list[str]:
        """The identity fields of *record* that equal the person's values."""
        paths: list[str] = []
        email = getattr(record, "email", None)
        if isinstance(email, EmailAddress) and self.has_email(email):
            paths.append("email")
        for field in ("phone", "mobile"):
            phone = getattr(record, field, None)
            if isinstance(phone, PhoneNumber) and phone.e164 in self.phones:
                paths.append(field)
        if self.names and _full_name(record) & self.names:
            paths += [f for f in ("first_name", "last_name", "name") if _has(record, f)]
        return paths

    def has_email(self, email: EmailAddress) -> bool:
        """Whether *email* is one of the person's (``+tag`` or not)."""
        return _untagged(email.normalized) in _mailboxes(self.emails)

    def mentioned(self, text: str) -> bool:
        """Whether free *text* holds one of the person's values."""
        folded = text.casefold()
        pattern = _email_pattern(self.emails)
        if pattern is not None and pattern.search(folded):
            return True
        if any(value in folded for value in self.texts):
            return True
        if self.phones and any(
            phone.lstrip("+") in digits or _national(phone) in digits
            for digits in _numbers(text)
            if len(digits) >= _MIN_DIGITS
            for phone in self.phones
        ):
            return True
        if self.names:
            # "Ada Lovelace's" (or "Zoe O'Brien's") is a mention too.
            variants = {
                f" {normalize_person_name(variant) or ''} "
                for variant in (text, _POSSESSIVE.sub(" ", text))
            }
            return any(f" {name} " in words for words in variants for name in self.names)
        return False


def _national(e164: str) -> str:
    # The last ten digits: a national number written without its country code.
    digits = e164.lstrip("+")
    return digits[-10:] if len(digits) > 10 else digits


def _has(record: object, field: str) -> bool:
    return bool(getattr(record, field, None)) and field in _field_names(record)


def _field_names(record: object) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(type(record)))  # type: ignore[arg-type]


def _full_name(record: object) -> frozenset[str]:
    names: set[str] = set()
    first = getattr(record, "first_name", None)
    last = getattr(record, "last_name", None)
    if isinstance(last, str):
        for text in (f"{first or ''} {last}", f"{last} {first or ''}"):
            normal = normalize_person_name(text)
            if normal:
                names.add(normal)
    if isinstance(record, Account) and record.is_person:
        surname, comma, given = record.name.partition(",")
        # "Ada Lovelace", and either order of "Lovelace, Ada", as a lead's name matches
        for written in (record.name, f"{given} {surname}" if comma else None):
            normal = normalize_person_name(written)
            if normal:
                names.add(normal)
    return frozenset(names)


def _personal_values(
    record: object,
) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    emails: set[str] = set()
    phones: set[str] = set()
    texts: set[str] = set()
    email = getattr(record, "email", None)
    if isinstance(email, EmailAddress):
        emails |= _mailboxes([email.normalized])
    for field in ("phone", "mobile"):
        phone = getattr(record, field, None)
        if isinstance(phone, PhoneNumber):
            phones.add(phone.e164)
    for field in ("address", "mailing_address", "billing_address"):
        address = getattr(record, field, None)
        if isinstance(address, Address) and address.street and len(address.street) >= 4:
            texts.add(address.street.casefold())
    return frozenset(emails), frozenset(phones), _full_name(record), frozenset(texts)


def _text_paths(record: object, needles: _Needles, prefix: str = "") -> list[str]:
    """The free-text fields of *record* that mention the person (text, custom, address)."""
    paths: list[str] = []
    for attribute in attrs.fields(type(record)):  # type: ignore[arg-type]
        value = getattr(record, attribute.name)
        path = f"{prefix}{attribute.name}"
        if isinstance(value, str) and attribute.name not in _KEPT_TEXT:
            if needles.mentioned(value):
                paths.append(path)
        elif isinstance(value, FieldValues):
            paths += [
                f"{path}.{name}"
                for name, item in value.items()
                if isinstance(item, str) and needles.mentioned(item)
            ]
        elif isinstance(value, frozenset):  # tags, by their place in sorted order
            paths += [
                f"{path}[{index}]"
                for index, item in enumerate(_sorted_texts(value))
                if needles.mentioned(item)
            ]
        elif isinstance(value, Address):
            paths += [
                f"{path}.{part}"
                for part in ("street", "city", "postal_code")
                if isinstance(getattr(value, part), str) and needles.mentioned(getattr(value, part))
            ]
    return paths


def _sorted_texts(values: frozenset[Any]) -> list[str]:
    """The text items of a set in the order :func:`leadmodel.to_dict` writes them."""
    return sorted(item for item in values if isinstance(item, str))


def _merge_paths(record: MergeRecord, needles: _Needles) -> tuple[list[str], bool]:
    paths: list[str] = []
    survivor = record.result.survivor
    owned = bool(needles.identifies(survivor))
    paths += [f"result.survivor.{p}" for p in needles.identifies(survivor)]
    paths += _text_paths(survivor, needles, "result.survivor.")
    for index, original in enumerate(record.result.originals):
        prefix = f"result.originals[{index}]."
        paths += [prefix + p for p in needles.identifies(original)]
        paths += _text_paths(original, needles, prefix)
    return list(dict.fromkeys(paths)), owned


def _repository(uow: object, kind: str) -> Any:
    return getattr(uow, _REPOSITORIES[kind], None)


def _each(uow: object, kind: str) -> Iterator[Any]:
    repository = _repository(uow, kind)
    if repository is None:
        return iter(())
    return iter(repository)


def _find(
    uow: UnitOfWork, email: str | None, phone: str | None, name: str | None
) -> tuple[list[Finding], _Needles]:
    needles = _Needles(
        _mailboxes([email] if email else ()),
        frozenset({phone} if phone else ()),
        frozenset({name} if name else ()),
        frozenset(),
    )
    owners: dict[str, object] = {}  # id -> the person's own lead/contact/account
    mentions: dict[tuple[str, str], list[str]] = {}
    people: dict[str, list[Any]] = {kind: list(_each(uow, kind)) for kind in _PEOPLE}
    for kind in _PEOPLE:
        for record in people[kind]:
            paths = needles.identifies(record)
            if paths and (kind != "account" or record.is_person):
                owners[record.id] = record
            elif paths:
                mentions[(kind, record.id)] = paths
    # A name is looked for in free text only as the name of one of their records: a name
    # that is nobody's ("call me") must not turn into a search of other people's notes.
    expanded = attrs.evolve(needles, names=frozenset())
    for record in owners.values():
        expanded = expanded.with_record(record)
    # One step further: the same email as one of their records, or the same phone and
    # name, is the same person (a contact made from their lead, a second lead).
    for kind in _PEOPLE:
        for record in people[kind]:
            if record.id in owners or (kind == "account" and not record.is_person):
                continue
            paths = expanded.identifies(record)
            same_name = bool(_full_name(record) & expanded.names)
            if "email" in paths or (same_name and {"phone", "mobile"} & set(paths)):
                owners[record.id] = record
    # Person accounts of the person's contacts are theirs too.
    linked = {getattr(owner, "account_id", None) for owner in owners.values()}
    for record in people["account"]:
        if record.is_person and record.id in linked:
            owners[record.id] = record
    for record in owners.values():
        expanded = expanded.with_record(record)
    loose = expanded.loosened()
    findings: list[Finding] = []
    for kind in _PEOPLE:
        for record in people[kind]:
            identity = expanded.identifies(record) if record.id in owners else []
            paths = list(
                dict.fromkeys(
                    [
                        *identity,
                        *mentions.get((kind, record.id), []),
                        *_text_paths(record, loose if record.id in owners else expanded),
                    ]
                )
            )
            if record.id in owners:
                findings.append(Finding(kind=kind, record_id=record.id, paths=paths, owned=True))
            elif paths:
                findings.append(Finding(kind=kind, record_id=record.id, paths=paths))
    for opportunity in _each(uow, "opportunity"):
        paths = _text_paths(opportunity, expanded)
        for field in ("contact_id", "account_id"):
            if getattr(opportunity, field) in owners:
                paths.append(field)
        if paths:
            findings.append(Finding(kind="opportunity", record_id=opportunity.id, paths=paths))
    for activity in _each(uow, "activity"):
        owned = activity.subject_id in owners
        paths = _text_paths(activity, loose if owned else expanded)
        if owned or paths:
            findings.append(
                Finding(kind="activity", record_id=activity.id, paths=paths, owned=owned)
            )
    for merged in _each(uow, "merge"):
        paths, owned = _merge_paths(merged, expanded)
        owned = owned or merged.survivor_id in owners
        if paths or owned:
            findings.append(Finding(kind="merge", record_id=merged.id, paths=paths, owned=owned))
    for consent in _each(uow, "consent"):
        owned = consent.subject_id in owners
        paths = _text_paths(consent, loose if owned else expanded)
        if owned or paths:
            findings.append(Finding(kind="consent", record_id=consent.id, paths=paths, owned=owned))
    for state in _each(uow, "trigger_state"):
        marks = [
            f"marks[{index}].record_id"
            for index, mark in enumerate(state.marks)
            if mark.record_id in owners
        ]
        if marks:
            findings.append(Finding(kind="trigger_state", record_id=state.id, paths=marks))
    findings.sort(key=lambda f: (_KIND_ORDER.index(f.kind), f.record_id))
    return findings, expanded


# --------------------------------------------------------------------------- log


def _log_capable(uow: object) -> Any:
    return getattr(uow, "privacy_log", None)


def _log(
    uow: object,
    key: PrivacyKey,
    kind: str,
    hashes: Iterable[str],
    *,
    now: datetime,
    mode: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> list[str]:
    log = _log_capable(uow)
    if log is None:
        return []
    written: list[str] = []
    for subject_hash in dict.fromkeys(hashes):
        entry_id = (
            "privacy-"
            + privacy_hash(key, "log-entry", f"{kind}\0{subject_hash}\0{now.isoformat()}")[:24]
        )
        base, repeat = entry_id, 1
        while log.get(entry_id) is not None:  # the same request again at the same moment
            repeat += 1
            entry_id = f"{base}-{repeat}"
        log.add(
            PrivacyLogEntry(
                id=entry_id,
                kind=kind,  # type: ignore[arg-type]
                subject_hash=subject_hash,
                at=now,
                mode=mode,
                counts=dict(counts or {}),
            )
        )
        written.append(entry_id)
    return written


def _request_hashes(
    key: PrivacyKey, email: str | None, phone: str | None, name: str | None
) -> list[str]:
    return [
        privacy_hash(key, kind, value)
        for kind, value in (("email", email), ("phone", phone), ("name", name))
        if value
    ]


# --------------------------------------------------------------------------- find, export


def find_person(
    uow: UnitOfWork,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    key: PrivacyKey | None = None,
    now: datetime | None = None,
) -> PersonFindings:
    """Every stored record that holds one person's data (a privacy lookup).

    The person is named by *email*, *phone* and/or *name*, normalised the way matching
    normalises them (``"Ada@Example.ORG"``, ``"(415) 555-0101"``, ``"Lovelace, Ada"`` all
    match; ``"ada+news@example.org"`` is the same mailbox). Their own records are the leads
    and contacts whose email, phone or mobile equals a given one or whose full name (either
    order) equals *name*, and the person accounts (``Account.is_person``) so named or linked
    to their contacts. Then every record mentioning any of their values (the given ones and
    those their own records hold: other emails, phones, street) in free text, tags, custom
    values or address lines is found too: opportunities (also by ``contact_id``), activities
    (all of their records' activities), stored merges (survivor and originals), consents and
    time-trigger marks. A name alone matches every namesake: give an email or phone to
    tell people apart. A name is looked for in other records' text only as the name of one
    of the person's records, so a name that is nobody's finds nothing (no full-text search
    of others).

    It reads every record (privacy requests are rare; no index is needed). With a *key*
    and a unit of work that keeps a privacy log, a ``"find"``
    :class:`~leadmodel.PrivacyLogEntry` (keyed hashes only) is written and committed at
    *now* (required then); otherwise nothing is written.

    Raises:
        ValidationError: no email, phone or name, one that does not parse, a bad *uow*,
            *key* or *now*.

    >>> from leadmodel import Lead, EmailAddress
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(
    ...             id="L1",
    ...             last_name="Lovelace",
    ...             company="Engines",
    ...             email=EmailAddress.parse("ada@example.org"),
    ...         )
    ...     )
    ...     uow.commit()
    >>> found = find_person(uow, email="ADA@example.org")
    >>> [(f.kind, f.record_id, f.paths) for f in found.findings]
    [('lead', 'L1', ('email', 'last_name'))]
    """
    service = "find_person"
    _check_unit(service, uow)
    query = _query(service, email, phone, name)
    checked_key = _check_key(service, key, required=False)
    logging = checked_key is not None and _log_capable(uow) is not None
    moment = _check_now(service, now) if logging else None
    with uow:
        findings, _ = _find(uow, *query)
        result = PersonFindings(
            email=query[0], phone=query[1], name=query[2], findings=tuple(findings)
        )
        if logging and checked_key is not None and moment is not None:
            _log(
                uow,
                checked_key,
                "find",
                _request_hashes(checked_key, *query),
                now=moment,
                counts=result.counts,
            )
            uow.commit()
    return result


_STEP: Final = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def _pick(data: Any, path: str) -> Any:
    """The value at *path* (``properties.note``, ``result.originals[1].email``) in *data*."""
    for match in _STEP.finditer(path):
        data = data.get(match.group(1)) if isinstance(data, dict) else None
        for index in re.findall(r"\d+", match.group(2)):
            data = data[int(index)] if isinstance(data, list) and int(index) < len(data) else None
    return data


# The identity fields that make a merged entity the person's own record (a phone alone
# may have been copied into the person's survivor from someone else's record).
_OWN_FIELDS: Final = frozenset({"email", "first_name", "last_name", "name"})


def _own_parts(data: dict[str, Any], finding: Finding, owned: set[str]) -> tuple[list[str], int]:
    """The parts of a stored merge that are the person's own record, and how many parts."""
    result = data.get("result")
    result = result if isinstance(result, dict) else {}
    originals = result.get("originals")
    parts = [("result.survivor", result.get("survivor"))]
    parts += [
        (f"result.originals[{index}]", original)
        for index, original in enumerate(originals if isinstance(originals, list) else [])
    ]
    own: list[str] = []
    for prefix, entity in parts:
        fields = {
            path[len(prefix) + 1 :] for path in finding.paths if path.startswith(prefix + ".")
        }
        if (isinstance(entity, dict) and entity.get("id") in owned) or fields & _OWN_FIELDS:
            own.append(prefix)
    return own, len(parts)


def _document(uow: UnitOfWork, found: PersonFindings) -> dict[str, Any]:
    records: dict[str, list[Any]] = {}
    mentions: list[dict[str, Any]] = []
    owned = {f.record_id for f in found.findings if f.owned and f.kind in _PEOPLE}
    for finding in found.findings:
        record = _repository(uow, finding.kind).get(finding.record_id)
        if record is None:
            continue
        data = to_dict(record)
        own: list[str] = []
        if finding.kind == "merge" and finding.owned:
            own, parts = _own_parts(data, finding, owned)
            whole = len(own) == parts
        else:
            whole = finding.owned
        if whole:
            records.setdefault(finding.kind, []).append(data)
        else:  # another's record: only the values that are about the person
            # (of a merge with someone else's record: the person's parts whole)
            values = {part: _pick(data, part) for part in own}
            values.update(
                (path, _pick(data, path))
                for path in finding.paths
                if not any(path.startswith(part + ".") for part in own)
            )
            mentions.append({"kind": finding.kind, "id": finding.record_id, "values": values})
    return {
        "format": FORMAT_VERSION,
        "document": "person_export",
        "request": {"email": found.email, "phone": found.phone, "name": found.name},
        "findings": [to_dict(f) for f in found.findings],
        "records": records,
        "mentions": mentions,
    }


def export_person(
    uow: UnitOfWork,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    key: PrivacyKey | None = None,
    now: datetime | None = None,
) -> str:
    """One JSON document with everything stored about a person (the right of access).

    It holds the request, the :class:`Finding` list of :func:`find_person`, by kind every
    record of the person's own, each as :func:`leadmodel.to_dict` writes it (so each one
    reads back with :func:`leadmodel.from_dict`), and under ``"mentions"`` only the values
    of other people's records that are about them (by field path): the export never
    discloses someone else's data. A stored merge of the person's record with someone
    else's is a mention too: its survivor and originals that are the person's appear
    whole (under ``"result.survivor"``, ``"result.originals[0]"``), the others only by
    the paths about the person. With a *key* and a privacy log, an
    ``"export"`` entry is logged (keyed hashes only) at *now*.

    Raises:
        ValidationError: as :func:`find_person`.

    >>> import json
    >>> from leadmodel import Lead, EmailAddress
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(
    ...             id="L1",
    ...             last_name="Lovelace",
    ...             company="Engines",
    ...             email=EmailAddress.parse("ada@example.org"),
    ...         )
    ...     )
    ...     uow.commit()
    >>> document = json.loads(export_person(uow, email="ada@example.org"))
    >>> document["records"]["lead"][0]["email"]
    'ada@example.org'
    """
    service = "export_person"
    _check_unit(service, uow)
    query = _query(service, email, phone, name)
    checked_key = _check_key(service, key, required=False)
    logging = checked_key is not None and _log_capable(uow) is not None
    moment = _check_now(service, now) if logging else None
    with uow:
        findings, _ = _find(uow, *query)
        found = PersonFindings(
            email=query[0], phone=query[1], name=query[2], findings=tuple(findings)
        )
        document = _document(uow, found)
        if logging and checked_key is not None and moment is not None:
            _log(
                uow,
                checked_key,
                "export",
                _request_hashes(checked_key, *query),
                now=moment,
                counts=found.counts,
            )
            uow.commit()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- erase

# The facts analytics and models read, never taken for a mention of the person (a person
# called "Web Partner" leaves the lead's source "Web" alone).
_KEPT_TEXT: Final = frozenset(
    {
        "id",
        "status",
        "stage",
        "kind",
        "channel",
        "purpose",
        "lawful_basis",
        "currency",
        "source",
        "rating",
        "industry",
    }
)


@attrs.frozen
class _Anonymiser:
    """Replaces the person's values with irreversible keyed tokens."""

    key: PrivacyKey
    needles: _Needles
    personal: Mapping[str, frozenset[str]]  # entity kind -> custom fields marked personal

    def token(self, path: str, value: str) -> str:
        if _TOKEN.fullmatch(value):  # anonymised already: erasing again changes nothing
            return value
        return "anon-" + privacy_hash(self.key, path, value)[:16]

    def email(self, value: EmailAddress) -> EmailAddress:
        if value.domain == _TOKEN_DOMAIN:
            return value
        return EmailAddress.parse(f"{self.token('email', value.normalized)}@{_TOKEN_DOMAIN}")

    def address(self, address: Address | None, *, whole: bool) -> Address | None:
        if address is None:
            return None
        parts = {
            part: getattr(address, part) for part in ("street", "city", "state", "postal_code")
        }
        changed: dict[str, str | None] = {}
        for part, value in parts.items():
            if value is not None and (whole or self.needles.mentioned(value)):
                changed[part] = self.token("street", value) if part == "street" else None
        if not changed:
            return address
        kept = attrs.evolve(address, **changed)
        if all(getattr(kept, part) is None for part in (*parts, "country")):
            return None
        return kept

    def custom(self, kind: str, values: FieldValues, *, whole: bool) -> FieldValues:
        personal = self.personal.get(kind, frozenset())
        changed: dict[str, Any] = {}
        for name, value in values.items():
            if name in personal and value is not None:
                # A number or date cannot hold a token and still fit its field: cleared.
                changed[name] = (
                    self.token(f"custom.{name}", value) if isinstance(value, str) else None
                )
            elif isinstance(value, str) and (
                self.needles.mentioned(value) or (whole and name in personal)
            ):
                changed[name] = self.token(f"custom.{name}", value)
        if not changed:
            return values
        return FieldValues({**dict(values), **changed})

    def mentions(self, record: _R, kind: str) -> _R:
        """*record* with every field mentioning the person replaced (another's record)."""
        changes: dict[str, Any] = {}
        for attribute in attrs.fields(type(record)):  # type: ignore[arg-type]
            name = attribute.name
            value = getattr(record, name)
            if isinstance(value, str):
                if (
                    name not in _KEPT_TEXT
                    and not name.endswith("_id")
                    and (self.needles.mentioned(value))
                ):
                    changes[name] = self.token(f"{kind}.{name}", value)
            elif isinstance(value, EmailAddress):
                if self.needles.has_email(value):
                    changes[name] = self.email(value)
            elif isinstance(value, PhoneNumber):
                if value.e164 in self.needles.phones:
                    changes[name] = None
            elif isinstance(value, Address):
                kept = self.address(value, whole=False)
                if kept is not value:
                    changes[name] = kept
            elif isinstance(value, FieldValues):
                kept_values = self.custom(kind, value, whole=False)
                if kept_values is not value:
                    changes[name] = kept_values
            elif isinstance(value, frozenset):  # tags
                tags = frozenset(
                    self.token(f"{kind}.{name}", item)
                    if isinstance(item, str) and self.needles.mentioned(item)
                    else item
                    for item in value
                )
                if tags != value:
                    changes[name] = tags
        return attrs.evolve(record, **changes) if changes else record  # type: ignore[misc]

    def owned(self, record: _R, kind: str) -> _R:
        """The person's own lead, contact or account with every personal field replaced.

        Source, status, dates, scores, amounts, country, flags and the tags that do not
        mention the person stay.
        """
        changes: dict[str, Any] = {}
        for name in ("first_name", "last_name", "title", "description"):
            value = getattr(record, name, None)
            if isinstance(value, str):
                changes[name] = self.token(f"{kind}.{name}", value)
        if isinstance(record, Account):
            changes["name"] = self.token("account.name", record.name)
            changes["website"] = None
        if isinstance(record, Lead) and record.is_person:
            changes["website"] = None
        email = getattr(record, "email", None)
        if isinstance(email, EmailAddress):
            changes["email"] = self.email(email)
        for name in ("phone", "mobile"):
            if _has(record, name):
                changes[name] = None
        for name in ("address", "mailing_address", "billing_address"):
            if _has(record, name):
                changes[name] = self.address(getattr(record, name), whole=True)
        changes["custom"] = self.custom(kind, record.custom, whole=True)  # type: ignore[attr-defined]
        anonymised = attrs.evolve(record, **changes)  # type: ignore[misc]
        return self.loosened().mentions(anonymised, kind)

    def loosened(self) -> _Anonymiser:
        """This anonymiser, matching each part of the person's name alone too."""
        return attrs.evolve(self, needles=self.needles.loosened())

    def activity(self, activity: Activity, *, owned: bool) -> Activity:
        """An activity with the properties mentioning the person replaced.

        On the person's own activity, properties marked personal are replaced too.
        """
        return self.mentions(activity, "activity") if not owned else self._owned_activity(activity)

    def _owned_activity(self, activity: Activity) -> Activity:
        personal = self.personal.get("activity", frozenset())
        needles = self.needles.loosened()
        changed: dict[str, str | None] = {
            # A number or date cannot hold a token and still fit its field: cleared.
            name: self.token(f"activity.{name}", value) if isinstance(value, str) else None
            for name, value in activity.properties.items()
            if value is not None
            and (name in personal or (isinstance(value, str) and needles.mentioned(value)))
        }
        if not changed:
            return activity
        return attrs.evolve(activity, properties={**dict(activity.properties), **changed})

    def merge(self, record: MergeRecord) -> MergeRecord:
        """A stored merge with the person erased from its survivor and originals."""
        result = record.result

        def one(entity: Any) -> Any:
            if self.needles.identifies(entity):
                return self.owned(entity, result.kind)
            return self.mentions(entity, result.kind)

        survivor = one(result.survivor)
        originals = tuple(one(original) for original in result.originals)
        if survivor is result.survivor and all(
            a is b for a, b in zip(originals, result.originals, strict=True)
        ):
            return record
        return attrs.evolve(
            record, result=attrs.evolve(result, survivor=survivor, originals=originals)
        )

    def consent(self, consent: Any, *, owned: bool) -> Any:
        """A consent with its proof replaced when it is the person's (the decision stays)."""
        kept = (self.loosened() if owned else self).mentions(consent, "consent")
        if owned and kept.proof is not None:
            kept = attrs.evolve(kept, proof=self.token("consent.proof", kept.proof))
        return kept


def _watch(uow: UnitOfWork, emails: Iterable[str], phones: Iterable[str]) -> set[str]:
    """Search the person's lookup keys, so a record of theirs stored meanwhile conflicts.

    A SQLite unit of work re-checks at commit that every key it searched still finds the
    same records: a lead with the person's email committed by another process while
    erase runs makes the commit fail (``ConcurrencyError``, nothing erased) instead of
    surviving an erasure that reports success. Returns the ids found.
    """
    keys = [f"email:{email}" for email in sorted(emails)]
    keys += [f"phone:{phone}" for phone in sorted(phones)]
    found: set[str] = set()
    if not keys:
        return found
    for kind in _PEOPLE:
        repository = _repository(uow, kind)
        search = getattr(repository, "find_by_keys", None)
        if callable(search):
            found |= {record.id for record in search(keys)}
    return found


def _refuse_namesakes(service: str, uow: UnitOfWork, findings: Sequence[Finding]) -> None:
    """Refuse to erase by a name alone when it names people with different emails."""
    mailboxes: set[str] = set()
    for finding in findings:
        if finding.owned and finding.kind in _PEOPLE:
            record = _repository(uow, finding.kind).get(finding.record_id)
            email = getattr(record, "email", None)
            if isinstance(email, EmailAddress):
                mailboxes.add(_untagged(email.normalized))
    if len(mailboxes) > 1:
        raise _problem(
            service,
            "subject",
            "ambiguous",
            f"the name alone matches {len(mailboxes)} namesakes with different emails: give "
            "an email or phone, or pass the reviewed PersonFindings of find_person",
        )


def _refuse_stale(
    service: str, uow: UnitOfWork, email: str | None, findings: Sequence[Finding]
) -> None:
    """Refuse findings that miss a record with the very email asked about (stored since)."""
    if email is None:
        return
    listed = {(f.kind, f.record_id) for f in findings}
    mailbox = _untagged(email)
    missed = sorted(
        record.id
        for kind in _PEOPLE
        for record in _each(uow, kind)
        if (kind, record.id) not in listed
        and isinstance(getattr(record, "email", None), EmailAddress)
        and _untagged(record.email.normalized) == mailbox
    )
    if missed:
        raise _problem(
            service,
            "subject",
            "stale",
            f"{len(missed)} record(s) with the email asked about are not in the findings "
            "(stored since, or dropped: that email makes them the person's): run "
            "find_person again",
        )


def _subject(
    service: str, uow: UnitOfWork, subject: object
) -> tuple[list[Finding], _Needles, PersonFindings]:
    if isinstance(subject, PersonFindings):
        try:
            query = _query(service, subject.email, subject.phone, subject.name)
        except ValidationError as exc:
            raise exc.prefixed("subject") from None
        _watch(uow, [query[0]] if query[0] else [], [query[1]] if query[1] else [])
        # Only the values given and those of the owned records kept in the findings: a
        # namesake dropped from them is neither tokenised elsewhere nor logged as erased.
        email, phone, name = query
        needles = _Needles(
            _mailboxes([email] if email else ()),
            frozenset({phone} if phone else ()),
            frozenset({name} if name else ()),
            frozenset(),
        )
        findings = list(subject.findings)
        _refuse_stale(service, uow, query[0], findings)
        for finding in findings:  # the person's own records, as stored now
            if finding.owned and finding.kind in _PEOPLE:
                record = _repository(uow, finding.kind).get(finding.record_id)
                if record is not None:
                    needles = needles.with_record(record)
        return findings, needles, subject
    if not isinstance(subject, Mapping):
        raise _problem(
            service,
            "subject",
            "type",
            "must be PersonFindings or a mapping of email, phone and name, "
            f"not {type(subject).__name__}",
        )
    unknown = sorted(str(k) for k in subject if k not in ("email", "phone", "name"))
    if unknown:
        raise _problem(service, "subject", "unknown", f"unknown keys: {', '.join(unknown)}")
    query = _query(service, subject.get("email"), subject.get("phone"), subject.get("name"))
    _watch(uow, [query[0]] if query[0] else [], [query[1]] if query[1] else [])
    findings, needles = _find(uow, *query)
    owned = {f.record_id for f in findings if f.owned and f.kind in _PEOPLE}
    if _watch(uow, needles.emails, needles.phones) - owned:  # stored since: look again
        findings, needles = _find(uow, *query)
    if not query[0] and not query[1]:
        _refuse_namesakes(service, uow, findings)
    found = PersonFindings(email=query[0], phone=query[1], name=query[2], findings=tuple(findings))
    return findings, needles, found


def _personal_fields(service: str, schemas: object) -> dict[str, frozenset[str]]:
    if isinstance(schemas, EntitySchema):
        schemas = (schemas,)
    if isinstance(schemas, str | bytes) or not isinstance(schemas, Iterable):
        raise _problem(service, "schemas", "type", "must be EntitySchema values")
    personal: dict[str, frozenset[str]] = {}
    for index, schema in enumerate(schemas):
        if not isinstance(schema, EntitySchema):
            raise _problem(
                service,
                f"schemas[{index}]",
                "type",
                f"must be an EntitySchema, not {type(schema).__name__}",
            )
        personal[schema.kind] = personal.get(schema.kind, frozenset()) | frozenset(
            fd.name for fd in schema.custom if fd.personal
        )
    return personal


def _apply(
    uow: UnitOfWork,
    findings: Sequence[Finding],
    anonymiser: _Anonymiser,
    mode: Mode,
) -> tuple[list[Finding], list[Finding]]:
    deleted: list[Finding] = []
    anonymised: list[Finding] = []
    gone: set[str] = set()  # the deleted leads, contacts and accounts
    if mode == "delete":
        for finding in findings:
            if finding.owned and finding.kind in (*_PEOPLE, "activity", "consent", "merge"):
                repository = _repository(uow, finding.kind)
                if repository is not None and repository.get(finding.record_id) is not None:
                    repository.remove(finding.record_id)
                    deleted.append(finding)
                    if finding.kind in _PEOPLE:
                        gone.add(finding.record_id)
    for finding in findings:  # a deleted record is not found again here
        repository = _repository(uow, finding.kind)
        record = None if repository is None else repository.get(finding.record_id)
        if record is None:
            continue
        updated = _anonymised(record, finding, anonymiser, mode, gone)
        if updated != record:
            repository.update(updated)
            anonymised.append(finding)
    if mode == "delete":  # records pointing at a deleted person account or contact
        for contact in list(_each(uow, "contact")):
            if contact.account_id in gone:
                uow.contacts.update(attrs.evolve(contact, account_id=None))
    return deleted, anonymised


def _anonymised(
    record: Any, finding: Finding, anonymiser: _Anonymiser, mode: Mode, gone: set[str]
) -> Any:
    kind = finding.kind
    if kind in _PEOPLE:
        if finding.owned:
            return anonymiser.owned(record, kind)
        return anonymiser.mentions(record, kind)
    if kind == "opportunity":
        kept = anonymiser.mentions(record, kind)
        pointers = {f: None for f in ("contact_id", "account_id") if getattr(kept, f) in gone}
        return attrs.evolve(kept, **pointers) if pointers else kept
    if kind == "activity":
        return anonymiser.activity(record, owned=finding.owned)
    if kind == "merge":
        return anonymiser.merge(record)
    if kind == "consent":
        return anonymiser.consent(record, owned=finding.owned)
    if kind == "trigger_state" and mode == "delete":
        marks = tuple(mark for mark in record.marks if mark.record_id not in gone)
        return attrs.evolve(record, marks=marks) if len(marks) != len(record.marks) else record
    return record


def _scrub(uow: object) -> bool:
    """Scrub the unit's store after a commit; ``False`` when it has none or is busy.

    The erasure is committed by then: another connection reading the file (so the WAL
    cannot be emptied) is reported as ``scrubbed=False`` for the caller to run
    ``store.scrub()`` again later, never raised as if nothing had been erased.
    """
    store = getattr(uow, "store", None)
    if not isinstance(store, SupportsScrub):
        return False
    try:
        store.scrub()
    except DatabaseBusy:
        return False
    return True


def _erased_hashes(key: PrivacyKey, found: PersonFindings, needles: _Needles) -> list[str]:
    hashes = _request_hashes(key, found.email, found.phone, found.name)
    hashes += [privacy_hash(key, "email", email) for email in sorted(needles.emails)]
    hashes += [privacy_hash(key, "phone", phone) for phone in sorted(needles.phones)]
    return list(dict.fromkeys(hashes))


def erase(
    uow: UnitOfWork,
    subject: PersonFindings | Mapping[str, str],
    *,
    mode: Mode,
    now: datetime,
    key: PrivacyKey,
    schemas: Iterable[EntitySchema] = (),
) -> Erasure:
    """Erase one person everywhere: delete their records or anonymise them, in one commit.

    *subject* is the :class:`PersonFindings` of :func:`find_person` (drop a finding from it
    to spare a namesake; findings missing a record with the email asked about, one stored
    since, are refused as ``stale``) or a mapping of ``email``, ``phone`` and ``name`` to look up. A
    mapping with a name alone that matches records with different emails is refused
    (``ambiguous``): erasure cannot be undone, so namesakes are told apart first.

    ``mode="anonymise"`` keeps the person's leads, contacts and person accounts with every
    personal field replaced: names, title, description and address lines become
    irreversible tokens ``"anon-"`` + 16 hex digits of :func:`~leadmodel.privacy_hash`
    under the host's *key* (the same value gives the same token, so counts by value still
    add up), the email becomes ``anon-…@anonymised.example``, phones, website, city, state
    and postal code are cleared, custom fields marked ``personal`` in *schemas* are
    tokenised; source, status, dates, scores, amounts, country, flags, the tags
    that do not mention the person and conversion records stay, so funnels and models
    keep working. ``mode="delete"`` removes those records, their activities and
    consents, and their stored merges.

    In both modes every other record that mentions the person's values (free text, tags,
    custom values, activity properties, a merge's survivor and originals, a consent's
    proof) has those fields tokenised; opportunities and contacts pointing at a deleted record lose
    the pointer; time-trigger marks of deleted records go. Then, with a unit of work that
    keeps a privacy log, an ``"erase"`` :class:`~leadmodel.PrivacyLogEntry` is written
    per keyed hash of the person's emails, phones and name (so :func:`is_erased` knows
    them) and everything commits together. Over a SQLite unit of work the store is then
    scrubbed (``SQLiteStore.scrub()``): no deleted byte stays in the file. When another
    connection is reading the file, the scrub cannot finish: the committed erasure comes
    back with ``scrubbed=False`` (never an error), and ``store.scrub()`` must run again.

    Raises:
        ValidationError: a bad *subject*, *mode*, *now*, *key* or *schemas*; a name alone
            shared by people with different emails (``ambiguous``); findings that miss a
            record with the email asked about, stored since (``stale``).
        ConcurrencyError: a record changed meanwhile, or another process stored a
            record with the person's email or phone meanwhile (a SQLite unit re-checks
            the searched keys at commit); nothing is erased: run it again.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead, EmailAddress
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> class Key:
    ...     def secret(self) -> bytes:
    ...         return b"host secret"
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(
    ...         Lead(
    ...             id="L1",
    ...             first_name="Ada",
    ...             last_name="Lovelace",
    ...             company="Engines",
    ...             email=EmailAddress.parse("ada@example.org"),
    ...         )
    ...     )
    ...     uow.commit()
    >>> now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    >>> erasure = erase(uow, {"email": "ada@example.org"}, mode="anonymise", now=now, key=Key())
    >>> with uow:
    ...     lead = uow.leads.get("L1")
    >>> lead.last_name.startswith("anon-"), lead.company, str(lead.email).endswith(".example")
    (True, 'Engines', True)
    """
    service = "erase"
    _check_unit(service, uow)
    checked_mode = _check_mode(service, mode)
    moment = _check_now(service, now)
    checked_key = _check_key(service, key, required=True)
    assert checked_key is not None  # noqa: S101 - required above
    personal = _personal_fields(service, schemas)
    with uow:
        findings, needles, found = _subject(service, uow, subject)
        anonymiser = _Anonymiser(checked_key, needles, personal)
        deleted, anonymised = _apply(uow, findings, anonymiser, checked_mode)
        erasure = Erasure(mode=checked_mode, deleted=tuple(deleted), anonymised=tuple(anonymised))
        log_ids = _log(
            uow,
            checked_key,
            "erase",
            _erased_hashes(checked_key, found, needles),
            now=moment,
            mode=checked_mode,
            counts=erasure.counts,
        )
        uow.commit()
    scrubbed = _scrub(uow)
    return attrs.evolve(erasure, log_ids=tuple(log_ids), scrubbed=scrubbed)


def is_erased(
    uow: UnitOfWork, key: PrivacyKey, *, email: str | None = None, phone: str | None = None
) -> bool:
    """Whether the privacy log says a person with this *email* or *phone* was erased.

    Reads ``uow.privacy_log`` (by ``hash:<keyed hash>``) inside the caller's unit of work,
    without opening one: import and capture ask it before storing a record, and report a
    suppression instead. A unit of work without a privacy log knows no erasure (``False``).
    Unparseable values are simply not found.

    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> class Key:
    ...     def secret(self) -> bytes:
    ...         return b"host secret"
    >>> with MemoryUnitOfWork() as uow:
    ...     is_erased(uow, Key(), email="ada@example.org")
    False
    """
    checked_key = _check_key("is_erased", key, required=True)
    log = _log_capable(uow)
    if log is None:
        return False
    hashes: list[str] = []
    texts: list[tuple[str, str]] = []
    if email is not None:
        texts.append(("email", str(email)))
        with contextlib.suppress(ValidationError):  # unparseable: simply not found
            texts.append(("email", _untagged(EmailAddress.parse(str(email)).normalized)))
    if phone is not None:
        texts.append(("phone", str(phone)))
    for kind, text in texts:
        try:
            hashes.append(privacy_hash(checked_key, kind, text))  # type: ignore[arg-type]
        except ValidationError:
            continue
    if not hashes:
        return False
    entries = log.find_by_keys([f"hash:{h}" for h in hashes])
    return any(entry.kind == "erase" for entry in entries)


# --------------------------------------------------------------------------- retention

_RETENTION_KINDS: Final = ("lead", "contact")
_MAX_DAYS: Final = 36_500


@attrs.frozen(kw_only=True)
class RetentionPolicy:
    """A retention rule as data: records of *kind* untouched for *inactive_days* are erased.

    "Untouched" means no activity, no update and no creation in that time (the latest of
    the record's ``updated_at``, ``created_at`` and its activities' ``occurred_at``);
    a record with none of these dates is never due. *criterion*, when given, narrows the
    policy (``Condition("status", "eq", "Unqualified")``). *action* is the
    :func:`erase` mode. Records already anonymised (a last name that is a token) are not
    due again.

    >>> policy = RetentionPolicy(name="stale leads", inactive_days=730)
    >>> policy.kind, policy.action
    ('lead', 'anonymise')
    """

    _repr_html_ = result_html

    name: str
    kind: Literal["lead", "contact"] = "lead"
    inactive_days: int
    action: Mode = "anonymise"
    criterion: Criterion | None = None

    def __attrs_post_init__(self) -> None:
        raise_problems(
            "RetentionPolicy",
            [
                ("name", _checks.text_problem(self.name, 255)),
                (
                    "kind",
                    None
                    if self.kind in _RETENTION_KINDS
                    else ("invalid", "must be 'lead' or 'contact'"),
                ),
                (
                    "inactive_days",
                    None
                    if type(self.inactive_days) is int and 0 < self.inactive_days <= _MAX_DAYS
                    else ("out_of_range", f"must be a whole number from 1 to {_MAX_DAYS}"),
                ),
                (
                    "action",
                    None
                    if self.action in _MODES
                    else ("invalid", "must be 'delete' or 'anonymise'"),
                ),
                ("criterion", criterion_problem(self.criterion, optional=True)),
            ],
        )


@attrs.frozen(kw_only=True)
class RetentionDue:
    """One record a retention policy reaches, and why.

    Attributes:
        policy: the policy's name (the first policy, in order, that reaches the record).
        kind: ``"lead"`` or ``"contact"``.
        record_id: the record's id.
        action: ``"anonymise"`` or ``"delete"``.
        last_seen: the latest of its update, creation and activities.
        reason: why, in words.
    """

    _repr_html_ = result_html

    policy: str
    kind: Literal["lead", "contact"]
    record_id: str
    action: Mode
    last_seen: datetime
    reason: str

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _last_seen(record: Any, activities: Sequence[Activity], now: datetime) -> datetime | None:
    moments = [
        moment
        for moment in (
            getattr(record, "updated_at", None),
            getattr(record, "created_at", None),
            *(a.occurred_at for a in activities),
        )
        if moment is not None and moment <= now
    ]
    return max(moments, default=None)


def _is_token(record: Any) -> bool:
    last_name = getattr(record, "last_name", None)
    return isinstance(last_name, str) and _TOKEN.fullmatch(last_name) is not None


def due_for_retention(
    records: Iterable[Lead | Contact],
    activities: Iterable[Activity],
    policies: Sequence[RetentionPolicy],
    *,
    now: datetime,
) -> tuple[RetentionDue, ...]:
    """The records *policies* reach at *now* (pure): the first matching policy wins.

    A record is due when its last sign of life (latest update, creation or activity up
    to *now*) is at least the policy's ``inactive_days`` old and it meets the policy's
    criterion. Results are ordered by kind then id; the input order does not matter.

    Raises:
        ValidationError: *policies* not policies, *now* naive, records or activities of
            the wrong type.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead
    >>> old = datetime(2023, 1, 1, tzinfo=timezone.utc)
    >>> lead = Lead(id="L1", last_name="Ng", company="Acme", created_at=old, updated_at=old)
    >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> due = due_for_retention(
    ...     [lead], [], [RetentionPolicy(name="2y", inactive_days=730)], now=now
    ... )
    >>> [(d.record_id, d.action) for d in due]
    [('L1', 'anonymise')]
    """
    service = "due_for_retention"
    _check_now(service, now)
    if isinstance(policies, str | bytes) or not isinstance(policies, Sequence):
        raise _problem(service, "policies", "type", "must be a sequence of RetentionPolicy")
    for index, policy in enumerate(policies):
        if not isinstance(policy, RetentionPolicy):
            raise _problem(
                service,
                f"policies[{index}]",
                "type",
                f"must be a RetentionPolicy, not {type(policy).__name__}",
            )
    if isinstance(records, str | bytes) or not isinstance(records, Iterable):
        raise _problem(service, "records", "type", "must be leads or contacts")
    if isinstance(activities, str | bytes) or not isinstance(activities, Iterable):
        raise _problem(service, "activities", "type", "must be activities")
    by_subject: dict[str, list[Activity]] = {}
    for index, activity in enumerate(activities):
        if not isinstance(activity, Activity):
            raise _problem(
                service,
                f"activities[{index}]",
                "type",
                f"must be an Activity, not {type(activity).__name__}",
            )
        by_subject.setdefault(activity.subject_id, []).append(activity)
    compiled = [
        (policy, None if policy.criterion is None else policy.criterion.compile())
        for policy in policies
    ]
    due: list[RetentionDue] = []
    for index, record in enumerate(records):
        if not isinstance(record, Lead | Contact):
            raise _problem(
                service,
                f"records[{index}]",
                "type",
                f"must be a Lead or Contact, not {type(record).__name__}",
            )
        kind = "lead" if isinstance(record, Lead) else "contact"
        if _is_token(record):
            continue
        seen = _last_seen(record, by_subject.get(record.id, []), now)
        if seen is None:
            continue
        for policy, test in compiled:
            if policy.kind != kind or now - seen < timedelta(days=policy.inactive_days):
                continue
            if test is not None and not test(record):
                continue
            due.append(
                RetentionDue(
                    policy=policy.name,
                    kind=kind,
                    record_id=record.id,
                    action=policy.action,
                    last_seen=seen,
                    reason=f"no activity or update since {seen.isoformat()} "
                    f"(at least {policy.inactive_days} days)",
                )
            )
            break
    due.sort(key=lambda d: (d.kind, d.record_id))
    return tuple(due)


@attrs.frozen(kw_only=True)
class RetentionRun:
    """What :func:`run_retention` did.

    Attributes:
        due: every record the policies reached, with its reason.
        erasures: one :class:`Erasure` per action that had records (delete, anonymise).
    """

    _repr_html_ = result_html

    due: tuple[RetentionDue, ...] = attrs.field(default=(), converter=_checks.as_tuple)
    erasures: tuple[Erasure, ...] = attrs.field(default=(), converter=_checks.as_tuple)

    def __attrs_post_init__(self) -> None:
        check_fields(self)


def _retention_findings(
    uow: UnitOfWork, due: Sequence[RetentionDue]
) -> tuple[list[Finding], _Needles]:
    targets = {d.record_id: d.kind for d in due}
    needles = _Needles(frozenset(), frozenset(), frozenset(), frozenset())
    findings: list[Finding] = []
    for record_id, kind in targets.items():
        record = _repository(uow, kind).get(record_id)
        if record is not None:
            needles = needles.with_record(record)
            findings.append(Finding(kind=kind, record_id=record_id, owned=True))
    findings += [
        Finding(kind=kind, record_id=item.id, owned=True)
        for kind in ("activity", "consent")
        for item in _each(uow, kind)
        if item.subject_id in targets
    ]
    for merged in _each(uow, "merge"):
        ids = {merged.survivor_id, *merged.absorbed_ids}
        if ids & set(targets):
            owned = merged.survivor_id in targets
            findings.append(Finding(kind="merge", record_id=merged.id, owned=owned))
    findings += [  # their opportunities: pointers to a deleted record go, mentions too
        Finding(kind="opportunity", record_id=opportunity.id)
        for opportunity in _each(uow, "opportunity")
        if opportunity.contact_id in targets or opportunity.account_id in targets
    ]
    findings += [
        Finding(kind="trigger_state", record_id=state.id)
        for state in _each(uow, "trigger_state")
        if any(mark.record_id in targets for mark in state.marks)
    ]
    return findings, needles


def run_retention(
    uow: UnitOfWork,
    policies: Sequence[RetentionPolicy],
    *,
    now: datetime,
    key: PrivacyKey,
    schemas: Iterable[EntitySchema] = (),
) -> RetentionRun:
    """Apply retention *policies* at *now*: erase every record they reach, in one commit.

    Each due record (see :func:`due_for_retention`) is anonymised or deleted the way
    :func:`erase` treats a person's own record, with its activities, consents and the
    stored merges it survived (its values are also erased from merges it was absorbed
    by); the opportunities pointing at a due record have its values tokenised, and lose
    the pointer when it is deleted. Unlike :func:`erase`, other records' free text is not
    searched. Retention is not a person's request: nothing is written to the privacy
    log, so the person may come back through a form or an import. Over SQLite the store is
    scrubbed afterwards.

    Raises:
        ValidationError: bad *policies*, *now*, *key* or *schemas*.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> class Key:
    ...     def secret(self) -> bytes:
    ...         return b"host secret"
    >>> old = datetime(2023, 1, 1, tzinfo=timezone.utc)
    >>> uow = MemoryUnitOfWork()
    >>> with uow:
    ...     uow.leads.add(Lead(id="L1", last_name="Ng", company="Acme", created_at=old))
    ...     uow.commit()
    >>> run = run_retention(
    ...     uow,
    ...     [RetentionPolicy(name="2y", inactive_days=730)],
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...     key=Key(),
    ... )
    >>> [d.record_id for d in run.due], run.erasures[0].counts
    (['L1'], {'lead': 1})
    """
    service = "run_retention"
    _check_unit(service, uow)
    moment = _check_now(service, now)
    checked_key = _check_key(service, key, required=True)
    assert checked_key is not None  # noqa: S101 - required above
    personal = _personal_fields(service, schemas)
    erasures: list[Erasure] = []
    with uow:
        records = [*_each(uow, "lead"), *_each(uow, "contact")]
        due = due_for_retention(records, list(_each(uow, "activity")), policies, now=moment)
        for mode in _MODES:
            chosen = [d for d in due if d.action == mode]
            if not chosen:
                continue
            findings, needles = _retention_findings(uow, chosen)
            anonymiser = _Anonymiser(checked_key, needles, personal)
            deleted, anonymised = _apply(uow, findings, anonymiser, mode)
            erasures.append(
                Erasure(mode=mode, deleted=tuple(deleted), anonymised=tuple(anonymised))
            )
        uow.commit()
    scrubbed = _scrub(uow) if erasures else False
    return RetentionRun(
        due=due, erasures=tuple(attrs.evolve(e, scrubbed=scrubbed) for e in erasures)
    )


def suppression(uow: UnitOfWork, key: PrivacyKey, record: object, *, now: datetime) -> str | None:
    """Why *record* must not be stored (its person was erased), or ``None``.

    Import and capture call it inside their unit of work before storing a record: when
    the record's email, phone or mobile belongs to an erased person (:func:`is_erased`),
    a ``"suppressed"`` :class:`~leadmodel.PrivacyLogEntry` (the keyed hash only) is
    staged and the reason is returned, for the caller to report instead of storing.

    >>> from datetime import datetime, timezone
    >>> from leadmodel import Lead, EmailAddress
    >>> from leadmodel.adapters.memory import MemoryUnitOfWork
    >>> class Key:
    ...     def secret(self) -> bytes:
    ...         return b"host secret"
    >>> lead = Lead(
    ...     id="L9", last_name="Ng", company="Acme", email=EmailAddress.parse("ng@acme.com")
    ... )
    >>> with MemoryUnitOfWork() as uow:
    ...     suppression(uow, Key(), lead, now=datetime(2026, 1, 1, tzinfo=timezone.utc)) is None
    True
    """
    checked_key = _check_key("suppression", key, required=True)
    assert checked_key is not None  # noqa: S101 - required above
    log = _log_capable(uow)
    if log is None:
        return None
    candidates: list[tuple[str, str]] = []
    email = getattr(record, "email", None)
    if isinstance(email, EmailAddress):
        candidates += [("email", form) for form in sorted(_mailboxes([email.normalized]))]
    for field in ("phone", "mobile"):
        phone = getattr(record, field, None)
        if isinstance(phone, PhoneNumber):
            candidates.append(("phone", phone.e164))
    for kind, value in candidates:
        subject_hash = privacy_hash(checked_key, kind, value)
        entries = log.find_by_keys([f"hash:{subject_hash}"])
        if any(entry.kind == "erase" for entry in entries):
            _log(uow, checked_key, "suppressed", [subject_hash], now=_check_now("suppression", now))
            return f"suppressed: the {kind} belongs to a person erased at their request"
    return None
