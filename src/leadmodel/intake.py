"""Web-to-lead intake: a submitted form becomes a valid Lead or a list of what is wrong.

:func:`parse_web_form` takes the form as a web framework hands it over (a mapping of field
names to a string or a list of strings) and a :class:`FormSpec`:

- field names are matched loosely (``first_name``, ``first-name``, ``FirstName`` and
  ``firstname`` are one field) through the spec's aliases, and Salesforce-style custom field
  ids (``00N5e00000AbCdE``) through its *custom_ids*;
- a single ``name`` field is split into first and last name (``nameparser``), its
  salutation, middle name, suffix and nickname kept in ``custom.salutation``,
  ``custom.middle_name``, ``custom.suffix`` and ``custom.nickname``;
- values are trimmed; email and phone are parsed, each failure reported on its field;
  control characters and line breaks in single-line fields (header injection) are refused;
  the whole form is bounded in size and field count;
- fields the spec does not know are kept, never dropped: as JSON text in the lead's custom
  field ``form_extra``; every alias target is a place a value lands (the spec refuses
  others), so no known field vanishes either;
- opt-outs (``emailOptOut``, ``HasOptedOutOfEmail``, ``DoNotCall`` …) set the lead's
  ``email_opt_out`` / ``do_not_call``; consent checkboxes (the spec's *consent_fields*)
  and opt-outs become :class:`~leadmodel.Consent` values through :func:`form_consents`;
- UTM parameters attribute the lead: ``utm_source`` becomes the source and
  ``utm_campaign`` the campaign when the form does not say, and every ``utm_*`` value is kept
  in ``custom.utm_<name>``;
- spam signals (a filled honeypot, links in names, many links, a disposable email domain,
  one value repeated in many fields) add up to ``custom.spam_score`` (0–100) with the
  signals in ``custom.spam_signals``; at the spec's threshold the lead is held with
  ``custom.pending_approval = True`` (Zoho's approval) rather than dropped.

It returns a :class:`~leadmodel.Lead` or :class:`FormErrors` — never raises on bad input.
"""

from __future__ import annotations

import csv
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from math import isfinite
from os import PathLike
from pathlib import Path
from typing import IO, Any, Final, Literal

import attrs
from nameparser import HumanName

from leadmodel._html import result_html
from leadmodel.domain import _checks, _numbers
from leadmodel.domain._typed import check_fields
from leadmodel.domain.consent import Consent
from leadmodel.domain.errors import (
    FieldError,
    InvalidValue,
    KeyNotIndexed,
    RecordNotFound,
    ValidationError,
    describe_value,
)
from leadmodel.domain.fields import EntitySchema, FieldType
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.status import LifecycleStage
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber, _currency_problem
from leadmodel.ports import lookup_keys
from leadmodel.rules.dedupe import DuplicateIndex, MatchEdge
from leadmodel.rules.layouts import (
    RecordType,
    _other_record_type,
    record_type_of,
    validate_layout,
    with_record_type,
)
from leadmodel.rules.matching import (
    STANDARD_LEAD_RULE,
    CompiledRule,
    MatchingRule,
    MatchResult,
    Prepared,
)

__all__ = [
    "DEFAULT_ALIASES",
    "DISPOSABLE_DOMAINS",
    "EXPORT_MARKER",
    "ColumnMapping",
    "FormErrors",
    "FormSpec",
    "ImportReport",
    "ImportRun",
    "IncomingValue",
    "RowOutcome",
    "export_csv",
    "form_consents",
    "import_leads",
    "parse_web_form",
    "read_csv",
]

# Targets: a Lead field, "address.<part>", "custom.<name>", "name" (split), "tags", "utm.<x>".
DEFAULT_ALIASES: Final[dict[str, str]] = {
    **dict.fromkeys(("firstname", "fname", "givenname", "forename"), "first_name"),
    **dict.fromkeys(("lastname", "lname", "surname", "familyname"), "last_name"),
    **dict.fromkeys(("name", "fullname", "yourname", "contactname"), "name"),
    **dict.fromkeys(("email", "emailaddress", "mail", "youremail"), "email"),
    **dict.fromkeys(("phone", "phonenumber", "tel", "telephone", "workphone"), "phone"),
    **dict.fromkeys(("mobile", "mobilephone", "cell", "cellphone"), "mobile"),
    **dict.fromkeys(
        ("company", "companyname", "organization", "organisation", "org", "account"), "company"
    ),
    **dict.fromkeys(("title", "jobtitle", "position", "role"), "title"),
    **dict.fromkeys(("website", "companywebsite", "web"), "website"),
    "industry": "industry",
    **dict.fromkeys(("employees", "numberofemployees", "companysize"), "employees"),
    **dict.fromkeys(("street", "address", "streetaddress"), "address.street"),
    "city": "address.city",
    **dict.fromkeys(("state", "region", "province", "stateprovince"), "address.state"),
    **dict.fromkeys(("zip", "zipcode", "postalcode", "postcode"), "address.postal_code"),
    "country": "address.country",
    **dict.fromkeys(("leadsource", "source"), "source"),
    **dict.fromkeys(("campaign", "campaignid"), "campaign_id"),
    **dict.fromkeys(("description", "message", "comments", "comment", "notes"), "description"),
    **dict.fromkeys(("tags", "interests"), "tags"),
    # Opt-outs and revenue under the names Salesforce (emailOptOut, HasOptedOutOfEmail,
    # DoNotCall), HubSpot (hs_email_optout, unsubscribed from all email) and Zoho (Email
    # Opt Out) forms post: each lands on its lead field, never in form_extra.
    **dict.fromkeys(
        (
            "emailoptout",
            "hasoptedoutofemail",
            "hsemailoptout",
            "unsubscribedfromallemail",
            "unsubscribe",
            "optout",
            "donotemail",
        ),
        "email_opt_out",
    ),
    **dict.fromkeys(("donotcall", "hasoptedoutofphone"), "do_not_call"),
    **dict.fromkeys(("annualrevenue", "revenue", "companyrevenue"), "annual_revenue"),
    "utmsource": "utm.source",
    "utmmedium": "utm.medium",
    "utmcampaign": "utm.campaign",
    "utmterm": "utm.term",
    "utmcontent": "utm.content",
    # What a web-to-lead form posts beside the lead, and is not lead data.
    **dict.fromkeys(("oid", "returl", "submit", "csrftoken", "csrfmiddlewaretoken"), "ignore"),
}
"""Normalised form field names (lower case, letters and digits only) and where they go."""

DISPOSABLE_DOMAINS: Final = frozenset(
    {
        "10minutemail.com",
        "discard.email",
        "dispostable.com",
        "fakeinbox.com",
        "getnada.com",
        "guerrillamail.com",
        "maildrop.cc",
        "mailinator.com",
        "mailnesia.com",
        "mintemail.com",
        "mytemp.email",
        "sharklasers.com",
        "spamgourmet.com",
        "temp-mail.org",
        "tempmail.com",
        "tempmailo.com",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
    }
)
"""Email domains of throw-away mailboxes, a spam signal (extend it in your FormSpec)."""

_MULTILINE: Final = frozenset({"description"})
_LINK: Final = re.compile(r"https?://|www\.", re.IGNORECASE)
_NORMAL: Final = re.compile(r"[^a-z0-9]")
_CUSTOM_ID: Final = re.compile(r"[A-Za-z0-9_]{1,80}")
_TRUE: Final = frozenset({"1", "true", "yes", "on", "y", "checked"})
_FALSE: Final = frozenset({"0", "false", "no", "off", "n", ""})


def _normal(name: str) -> str:
    return _NORMAL.sub("", name.casefold())


def _pairs(values: object) -> object:
    """A mapping or list of pairs as a tuple of pairs (FormSpec, ColumnMapping)."""
    # Only text is taken as it comes; anything else is left for the checks to name (str()
    # of a foreign value may raise or recurse).
    if isinstance(values, Mapping):
        pairs = tuple(values.items())
        text = all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
        return tuple(sorted(pairs)) if text else pairs
    if isinstance(values, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in values)
    return values


def _frozen(values: object) -> object:
    if isinstance(values, list | set | tuple):
        try:
            return frozenset(values)
        except TypeError:  # an unhashable item (a list, a dict): the check names it
            return values
    return values


_ADDRESS_TARGETS: Final = frozenset(f"address.{f.name}" for f in attrs.fields(Address))
_FORM_TARGETS: Final = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "company",
        "title",
        "website",
        "industry",
        "description",
        "email",
        "phone",
        "mobile",
        "employees",
        "source",
        "campaign_id",
        "tags",
        "ignore",
        "email_opt_out",
        "do_not_call",
        "annual_revenue",
        "rating",
    }
)
"""Where a form value can land; any other alias target would silently vanish."""
_FLAG_TARGETS: Final = ("email_opt_out", "do_not_call")
_CHANNELS: Final = ("email", "phone", "sms", "post")
_PURPOSE: Final = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def _target_problem(target: str) -> str | None:
    """Why *target* is not a place a form value lands, or ``None``."""
    if target in _FORM_TARGETS or target in _ADDRESS_TARGETS:
        return None
    prefix, _, rest = target.partition(".")
    if prefix in ("custom", "utm") and _CUSTOM_ID.fullmatch(rest) is not None:
        return None
    return (
        "targets are lead fields a form fills ("
        + ", ".join(sorted(_FORM_TARGETS - {"ignore"}))
        + "), address.<part>, custom.<name>, utm.<name> or ignore"
    )


def _consent_fields(values: object) -> object:
    """``{field: (channel, purpose[, label])}`` or 4-tuples as sorted 4-tuples."""
    if isinstance(values, Mapping):
        values = [(k, *v) if isinstance(v, list | tuple) else (k, v) for k, v in values.items()]
    if isinstance(values, list | tuple):
        out: list[object] = []
        for item in values:
            row = tuple(item) if isinstance(item, list | tuple) else item
            if isinstance(row, tuple) and len(row) == 3:
                row = (*row, row[0])
            out.append(row)
        if all(isinstance(r, tuple) and all(isinstance(x, str) for x in r) for r in out):
            return tuple(sorted(out))  # type: ignore[type-var]
        return tuple(out)
    return values


def _consent_fields_problem(value: object) -> str | None:
    if not isinstance(value, tuple) or not all(
        isinstance(r, tuple) and len(r) == 4 and all(isinstance(x, str) for x in r) for r in value
    ):
        return "must be (form field, channel, purpose, label) rows of text"
    if len(value) > 50:
        return "at most 50 consent fields"
    for field, channel, purpose, label in value:
        if not field.strip() or len(field) > 200:
            return f"a form field name {describe_value(field)}"
        if channel not in _CHANNELS:
            allowed = ", ".join(_CHANNELS)
            return f"{field}: channel {describe_value(channel)} is not one of {allowed}"
        if _PURPOSE.fullmatch(purpose) is None:
            return (
                f"{field}: purpose {describe_value(purpose)} must be a lower-case word "
                "(letters, digits, _ and -, at most 40)"
            )
        problem = _checks.text_problem(label, 255)
        if problem is not None:
            return f"{field}: label {problem[1]}"
    return None


def _domains_problem(value: object) -> _checks.Problem | None:
    if not isinstance(value, frozenset):
        return "type", f"must be a set of email domains, not {type(value).__name__}"
    for domain in value:
        problem = _checks.text_problem(domain, 255)
        if problem is not None:
            return problem[0], f"domain {describe_value(domain)} {problem[1]}"
    return None


@attrs.frozen(cache_hash=True)
class FormSpec:
    """How a web form maps to a lead, and how suspicious a submission may be.

    Args:
        aliases: ``(normalised form name, target)`` pairs; targets are lead fields a form
            fills (names, company, email, phones, title, website, industry, employees,
            source, campaign, description, rating, ``annual_revenue``, ``email_opt_out``,
            ``do_not_call``),
            ``address.<part>``, ``custom.<name>``, ``name`` (split into first and last),
            ``tags``, ``utm.<name>`` or ``ignore``.
        custom_ids: ``(form field id, "custom.<name>")`` pairs for Salesforce-style ids,
            matched exactly.
        schema: types custom values (a number field gets a number, a checkbox a bool).
        honeypot: a hidden field people leave empty and bots fill (``None``: none).
        region: the phone region for numbers without a country code.
        default_source: the lead source when the form and UTM say nothing.
        spam_threshold: the spam score at which a lead is held for approval.
        disposable_domains: email domains counted as throw-away.
        max_chars: the most characters in all names and values together.
        max_fields: the most fields in a form.
        currency: the currency of an ``annual_revenue`` the form posts (a number).
        consent_fields: consent checkboxes, ``(form field, channel, purpose, label)``
            rows (or a mapping ``{field: (channel, purpose[, label])}``; the label
            defaults to the field name): a ticked box is a ``granted``
            :class:`~leadmodel.Consent` and an unticked one a ``denied`` one, made by
            :func:`form_consents` (see it for opt-outs). Fields are matched loosely;
            a box named like an alias, a custom field id, the honeypot or another
            box is refused (``conflict``).

    Every alias target must be a place a value lands (see *aliases*); an alias to
    anything else (``owner_id``, ``address.planet``) is refused here, not dropped later.
    """

    aliases: tuple[tuple[str, str], ...] = attrs.field(
        default=tuple(sorted(DEFAULT_ALIASES.items())), converter=_pairs
    )
    custom_ids: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    schema: EntitySchema = LEAD_SCHEMA
    honeypot: str | None = "honeypot"
    region: str = "US"
    default_source: str | None = "Web"
    spam_threshold: int = 50
    disposable_domains: frozenset[str] = attrs.field(default=DISPOSABLE_DOMAINS, converter=_frozen)
    max_chars: int = 100_000
    max_fields: int = 200
    currency: str = "USD"
    consent_fields: tuple[tuple[str, str, str, str], ...] = attrs.field(
        default=(), converter=_consent_fields
    )

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        for name, pairs in (("aliases", self.aliases), ("custom_ids", self.custom_ids)):
            if not isinstance(pairs, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in pairs
            ):
                errors.append(FieldError(name, "type", "must be (name, target) pairs of text"))
        if not errors:
            for name, target in self.aliases:
                why = _target_problem(target)
                if why is not None:
                    errors.append(
                        FieldError(
                            "aliases",
                            "unknown_target",
                            f"{describe_value(name)} -> {describe_value(target)}: a value "
                            f"sent there would vanish; {why}",
                        )
                    )
            for name, target in self.custom_ids:
                if not target.startswith("custom.") or _CUSTOM_ID.fullmatch(name) is None:
                    errors.append(
                        FieldError(
                            "custom_ids",
                            "invalid",
                            f"{name!r} -> {target!r}: ids are letters, digits and _; "
                            "targets are custom.<name>",
                        )
                    )
        if not isinstance(self.schema, EntitySchema):
            errors.append(FieldError("schema", "type", "must be an EntitySchema"))
        for name, optional, size in (
            ("honeypot", True, 255),
            ("region", False, 8),
            ("default_source", True, 40),
        ):
            value = getattr(self, name)
            problem = None if optional and value is None else _checks.text_problem(value, size)
            if problem is not None:
                errors.append(FieldError(name, *problem))
        consent_problem = _consent_fields_problem(self.consent_fields)
        if consent_problem is not None:
            errors.append(FieldError("consent_fields", "invalid", consent_problem))
        elif not errors:
            errors += self._consent_conflicts()
        currency = _currency_problem(self.currency)
        if currency is not None:
            errors.append(FieldError("currency", *currency))
        domains = _domains_problem(self.disposable_domains)
        if domains is not None:
            errors.append(FieldError("disposable_domains", *domains))
        for name, check in (
            ("spam_threshold", _checks.integer(1, 100)),
            ("max_chars", _checks.integer(100, 10_000_000)),
            ("max_fields", _checks.integer(1, 10_000)),
        ):
            problem = check(getattr(self, name))
            if problem is not None:
                errors.append(FieldError(name, *problem))
        if errors:
            raise ValidationError("FormSpec", errors)

    def _consent_conflicts(self) -> list[FieldError]:
        """Consent boxes a form field of another meaning would be read as, or each other.

        A box named like an opt-out (``emailOptOut``) would record a *granted* consent
        when the person ticked "opt me out"; one named like a lead field (``email``)
        would refuse every submission; two boxes whose names differ only in case or
        punctuation would leave one unread.
        """
        taken: dict[str, str] = {name: f"the alias of {target}" for name, target in self.aliases}
        for name, _ in self.custom_ids:
            taken[name] = taken[_normal(name)] = "a custom field id"
        if self.honeypot is not None:
            taken[_normal(self.honeypot)] = "the honeypot"
        errors: list[FieldError] = []
        for field, *_ in self.consent_fields:
            normal = _normal(field)
            other = taken.get(field) or taken.get(normal)
            if other is not None:
                errors.append(
                    FieldError(
                        "consent_fields",
                        "conflict",
                        f"{describe_value(field)} is read as {other}: name the box otherwise",
                    )
                )
            taken[normal] = f"the consent box {field!r}"
        return errors

    @classmethod
    def default(cls) -> FormSpec:
        """The usual field names of web-to-lead forms (see :data:`DEFAULT_ALIASES`)."""
        return _DEFAULT_SPEC

    def with_custom(self, fields: Mapping[str, str]) -> FormSpec:
        """This spec with more custom fields: ``{"00N5e00000AbCdE": "custom.budget"}``.

        A key that looks like a form field name (``budget``) is also matched loosely.
        """
        ids = dict(self.custom_ids) | dict(fields)
        return attrs.evolve(self, custom_ids=ids)

    def _lookups(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Aliases, exact custom ids and loose custom ids as dicts, built once per spec."""
        found = _LOOKUPS.get(self)
        if found is None:
            found = (
                dict(self.aliases),
                dict(self.custom_ids),
                {_normal(k): v for k, v in self.custom_ids},
            )
            if len(_LOOKUPS) >= 64:
                _LOOKUPS.clear()
            _LOOKUPS[self] = found
        return found


_LOOKUPS: dict[FormSpec, tuple[dict[str, str], dict[str, str], dict[str, str]]] = {}


_DEFAULT_SPEC: Final = FormSpec()


@attrs.frozen
class FormErrors:
    """Why a form did not make a lead: every problem, each on its field."""

    _repr_html_ = result_html

    errors: tuple[FieldError, ...]

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields with a problem, in order."""
        return tuple(dict.fromkeys(e.path for e in self.errors))


_NAME_PARTS: Final = (
    ("title", "salutation"),
    ("middle", "middle_name"),
    ("suffix", "suffix"),
    ("nickname", "nickname"),
)
"""The parts of a full name beyond first and last, and the custom field each is kept in."""


def _split_name(text: str) -> tuple[str, str, dict[str, str]]:
    """First name, last name and the other parts of a full name (``nameparser``).

    A salutation (``Dr.``, ``Mr.``, ``Prof.``), a middle name, a suffix (``Jr.``, ``III``,
    ``PhD``) and a nickname (``Robert 'Bob' Smith``, ``Robert (Bob) Smith``) are returned
    by the custom field that keeps them (``salutation``, ``middle_name``, ``suffix``,
    ``nickname``): a Lead has no such fields, and nothing of the name is dropped. One word
    is the last name (Salesforce needs one).
    """
    human = HumanName(text)
    first, last = human.first, human.last
    if not last:
        first, last = "", first
    parts = {name: value for attr, name in _NAME_PARTS if (value := getattr(human, attr))}
    return first, last, parts


def _one(name: str, raw: object, errors: list[FieldError]) -> str | None:
    """The single text value of a form field, or ``None`` with an error."""
    if isinstance(raw, list | tuple):
        texts = [v for v in raw if isinstance(v, str)]
        if len(texts) != len(raw):
            errors.append(FieldError(name, "type", "values must be text"))
            return None
        distinct = {t.strip() for t in texts}
        if len(distinct) > 1:
            errors.append(FieldError(name, "multiple", "has several different values"))
            return None
        return distinct.pop() if distinct else ""
    if not isinstance(raw, str):
        errors.append(FieldError(name, "type", f"must be text, not {type(raw).__name__}"))
        return None
    return raw.strip()


def _text_problem(field: str, value: str) -> FieldError | None:
    problem = _checks.text_problem(value, 32_000, multiline=field in _MULTILINE)
    if problem is None or problem[0] == "blank":
        return None
    return FieldError(field, problem[0], problem[1])


def _typed(path: str, text: str, schema: EntitySchema) -> object:
    """A custom value as its schema field's type (text when the schema does not say)."""
    try:
        definition = schema.field(path)
    except ValidationError:
        return text
    kind = definition.type
    if kind is FieldType.CHECKBOX:
        folded = text.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ValueError("must be yes or no")
    if kind.is_numeric:
        number = _numbers.parse_number(text)
        return (
            int(number)
            if kind is FieldType.NUMBER and number == number.to_integral_value()
            else number
        )
    if kind is FieldType.DATE:
        return _numbers.parse_iso_date(text)
    if kind is FieldType.DATETIME:
        return _numbers.parse_iso_datetime(text)
    return text


def _spam(
    values: dict[str, str], honeypot: str | None, email: EmailAddress | None, spec: FormSpec
) -> tuple[int, list[str]]:
    score, signals = 0, []
    if honeypot:
        score, signals = 100, ["the hidden honeypot field was filled"]
    named = [values.get(f, "") for f in ("first_name", "last_name", "company", "title", "name")]
    if any(_LINK.search(v) for v in named):
        score += 40
        signals.append("a link in a name, company or title")
    links = sum(len(_LINK.findall(v)) for v in values.values())
    if links >= 3:
        score += 30
        signals.append(f"{links} links in the form")
    if email is not None and email.domain in spec.disposable_domains:
        score += 40
        signals.append(f"a throw-away email domain ({email.domain})")
    counts: dict[str, int] = {}
    for value in values.values():
        if len(value) > 1:
            counts[value.casefold()] = counts.get(value.casefold(), 0) + 1
    repeated = max(counts.values(), default=0)
    if repeated >= 3:
        score += 30
        signals.append(f"one value repeated in {repeated} fields")
    return min(score, 100), signals


def _check_arguments(form: object, spec: object, ids: object, now: object) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(form, Mapping):
        errors.append(FieldError("form", "type", f"must be a mapping, not {type(form).__name__}"))
    if not isinstance(spec, FormSpec):
        errors.append(FieldError("spec", "type", f"must be a FormSpec, not {type(spec).__name__}"))
    if not callable(ids):
        errors.append(FieldError("ids", "type", "must be a function of the entity kind"))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        errors.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    return errors


def parse_web_form(  # noqa: PLR0915 - one pass over a form, kept together
    form: Mapping[str, str | list[str]],
    spec: FormSpec,
    *,
    ids: Callable[[str], str],
    now: datetime,
) -> Lead | FormErrors:
    """Turn a submitted web form into a lead, or say what is wrong with it.

    >>> from datetime import datetime, timezone
    >>> form = {
    ...     "name": "Dr. Ada King-Lovelace",
    ...     "Email": " ADA@Engines.co.uk ",
    ...     "company": "Analytical Engines",
    ...     "utm_source": "newsletter",
    ...     "favourite_colour": "green",
    ... }
    >>> lead = parse_web_form(
    ...     form,
    ...     FormSpec.default(),
    ...     ids=lambda kind: "L1",
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... )
    >>> lead.first_name, lead.last_name, str(lead.email), lead.source
    ('Ada', 'King-Lovelace', 'ada@engines.co.uk', 'newsletter')
    >>> lead.custom["form_extra"]
    '{"favourite_colour": "green"}'
    >>> parse_web_form(
    ...     {"email": "not an address"},
    ...     FormSpec.default(),
    ...     ids=lambda kind: "L2",
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... ).fields
    ('email', 'last_name')

    Raises:
        ValidationError: only for misuse — *form* not a mapping, *spec* not a FormSpec,
            *ids* not callable, *now* naive. Anything wrong *in* the form is a FormErrors.
    """
    misuse = _check_arguments(form, spec, ids, now)
    if misuse:
        raise ValidationError("parse_web_form", misuse)
    errors: list[FieldError] = []
    if len(form) > spec.max_fields:
        return FormErrors(
            (
                FieldError(
                    "form", "too_many_fields", f"has {len(form)} fields; at most {spec.max_fields}"
                ),
            )
        )
    size = 0
    for key, raw in form.items():
        size += len(key) if isinstance(key, str) else 0
        if isinstance(raw, str):
            size += len(raw)
        elif isinstance(raw, list | tuple):
            size += sum(len(v) for v in raw if isinstance(v, str))
        if size > spec.max_chars:
            return FormErrors(
                (FieldError("form", "too_large", f"holds more than {spec.max_chars} characters"),)
            )
    aliases, custom_ids, loose_custom = spec._lookups()  # noqa: SLF001 - the spec's own
    consent_names = {_normal(row[0]) for row in spec.consent_fields}
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    tags: list[str] = []
    honeypot = ""
    for key, raw in form.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            errors.append(FieldError("form", "invalid_name", f"a field name {describe_value(key)}"))
            continue
        normal = _normal(key)
        if spec.honeypot is not None and normal == _normal(spec.honeypot):
            honeypot = _one(key, raw, []) or "x"  # any value, even an odd one, is a signal
            continue
        if normal in consent_names:  # read by form_consents, not lead data
            text = _one(key, raw, errors)
            if text is not None and text.casefold() not in _TRUE | _FALSE:
                errors.append(
                    FieldError(key, "invalid", "a consent box is ticked or not (1/0, on/off)")
                )
            continue
        target = custom_ids.get(key) or aliases.get(normal) or loose_custom.get(normal)
        if target == "tags" and isinstance(raw, list | tuple):
            tags += [v.strip() for v in raw if isinstance(v, str) and v.strip()]
            continue
        text = _one(key, raw, errors)
        if text is None:
            continue
        if target is None:
            problem = _text_problem(key, text)
            if problem is not None:
                errors.append(problem)
            elif text:
                extra[key] = text
            continue
        if target == "ignore":
            continue
        problem = _text_problem(target, text)
        if problem is not None:
            errors.append(problem)
            continue
        if not text:
            continue
        if target in values and values[target] != text:
            errors.append(FieldError(target, "multiple", "is given twice with different values"))
            continue
        values[target] = text
    if "tags" in values:
        tags += [t.strip() for t in re.split(r"[;,]", values.pop("tags")) if t.strip()]

    fields: dict[str, object] = {}
    name_parts: dict[str, str] = {}
    if "name" in values:
        first, last, name_parts = _split_name(values.pop("name"))
        values.setdefault("first_name", first)
        values.setdefault("last_name", last)
        for part in ("first_name", "last_name"):
            if not values[part]:
                del values[part]
    email: EmailAddress | None = None
    if "email" in values:
        try:
            email = EmailAddress.parse(values["email"])
        except ValidationError as exc:
            errors += [attrs.evolve(e, path="email") for e in exc.errors]
    fields["email"] = email
    for name in ("phone", "mobile"):
        if name in values:
            try:
                fields[name] = PhoneNumber.parse(values[name], region=spec.region)
            except ValidationError as exc:
                errors += [attrs.evolve(e, path=name) for e in exc.errors]
    if "employees" in values:
        try:
            fields["employees"] = _numbers.parse_whole_number(values["employees"])
        except ValidationError as exc:
            errors += [attrs.evolve(e, path="employees") for e in exc.errors]
    for flag in _FLAG_TARGETS:
        if flag in values:
            folded = values[flag].casefold()
            if folded in _TRUE or folded in _FALSE:
                fields[flag] = folded in _TRUE
            else:
                errors.append(
                    FieldError(flag, "invalid", "must be yes or no (1/0, true/false, on/off)")
                )
    if "annual_revenue" in values:
        try:
            amount = _numbers.parse_number(values["annual_revenue"], kind="annual_revenue")
            fields["annual_revenue"] = Money(amount, spec.currency)
        except ValidationError as exc:
            errors += [attrs.evolve(e, path="annual_revenue") for e in exc.errors]
    address = {
        path.split(".", 1)[1]: text for path, text in values.items() if path.startswith("address.")
    }
    if address:
        try:
            fields["address"] = Address(**address)
        except ValidationError as exc:
            errors += [attrs.evolve(e, path=f"address.{e.path}") for e in exc.errors]
    custom: dict[str, object] = {}
    for path, text in values.items():
        if path.startswith("custom."):
            try:
                custom[path.split(".", 1)[1]] = _typed(path, text, spec.schema)
            except ValidationError as exc:
                errors += [attrs.evolve(e, path=path) for e in exc.errors]
            except (ValueError, ArithmeticError) as exc:
                errors.append(FieldError(path, "invalid", str(exc) or "is not valid"))
        elif path.startswith("utm."):
            custom[f"utm_{path.split('.', 1)[1]}"] = text
    for part, value in name_parts.items():  # a field of their own wins
        custom.setdefault(part, value)
    for name in (
        "first_name",
        "last_name",
        "title",
        "website",
        "industry",
        "description",
        "rating",
    ):
        if name in values:
            fields[name] = values[name]
    fields["source"] = values.get("source") or values.get("utm.source") or spec.default_source
    fields["campaign_id"] = values.get("campaign_id") or values.get("utm.campaign")
    company = values.get("company")
    if "last_name" not in fields and not any(e.path in ("last_name", "name") for e in errors):
        errors.append(FieldError("last_name", "required", "a last name (or a name) is required"))
    if errors:
        return FormErrors(tuple(sorted(errors, key=lambda e: e.path)))
    score, signals = _spam(values, honeypot, email, spec)
    if extra:
        custom["form_extra"] = json.dumps(extra, ensure_ascii=False, sort_keys=True)
    if score:
        custom["spam_score"] = score
        custom["spam_signals"] = "; ".join(signals)
    if score >= spec.spam_threshold:
        custom["pending_approval"] = True
    try:
        return Lead(
            id=ids("lead"),
            company=company,
            is_person=company is None,
            tags=frozenset(tags),
            custom=custom,
            lifecycle_stage=LifecycleStage.LEAD,
            created_at=now,
            updated_at=now,
            **fields,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        return FormErrors(exc.errors)


OPT_OUT_PURPOSE: Final = "marketing"
"""The purpose of the consent an opt-out field withdraws (the gate's default purpose)."""


def form_consents(
    form: Mapping[str, str | list[str]],
    spec: FormSpec,
    *,
    subject_id: str,
    ids: Callable[[str], str],
    now: datetime,
) -> tuple[Consent, ...]:
    """The :class:`~leadmodel.Consent` values a submitted form gives, for *subject_id*.

    - each of *spec*'s ``consent_fields`` the form posts: ``granted`` when ticked
      (``1``, ``on``, ``yes``, ``true`` …), ``denied`` when posted unticked (``0``,
      ``off`` …); a box the form does not post says nothing (the same spec may serve a
      form without it);
    - each opt-out field the form posts ticked (an alias to ``email_opt_out`` or
      ``do_not_call``: ``emailOptOut``, ``DoNotCall`` …): a ``withdrawn`` consent for
      ``"marketing"`` by email (by phone and sms for ``do_not_call``); the lead's flag is
      set by :func:`parse_web_form` too.

    Every consent has ``source="web form"``, ``captured_at=now``, the lawful basis
    ``consent`` and as *proof* the field, its label and the posted value. A value that is
    not yes or no gives nothing here (:func:`parse_web_form` reports it).

    >>> from datetime import UTC, datetime
    >>> spec = FormSpec(consent_fields={"news_ok": ("email", "newsletter", "Send me news")})
    >>> form = {"last_name": "Ng", "news_ok": "on", "emailOptOut": "1"}
    >>> found = form_consents(
    ...     form, spec, subject_id="L1", ids=lambda kind: "C1", now=datetime(2026, 1, 1, tzinfo=UTC)
    ... )
    >>> [(c.channel, c.purpose, c.status) for c in found]
    [('email', 'newsletter', 'granted'), ('email', 'marketing', 'withdrawn')]
    >>> found[0].proof
    "web form field 'news_ok' (Send me news): on"

    Raises:
        ValidationError: misuse, as :func:`parse_web_form`, or a blank *subject_id*.
    """
    misuse = _check_arguments(form, spec, ids, now)
    if not isinstance(subject_id, str) or not subject_id.strip():
        misuse.append(FieldError("subject_id", "required", "must be the record's id"))
    if misuse:
        raise ValidationError("form_consents", misuse)
    if len(form) > spec.max_fields:
        return ()
    aliases, _, _ = spec._lookups()  # noqa: SLF001 - the spec's own
    boxes = {_normal(row[0]): row for row in spec.consent_fields}
    found: list[Consent] = []
    opt_outs: list[Consent] = []

    def consent(channel: str, purpose: str, status: str, proof: str) -> Consent:
        return Consent(
            id=ids("consent"),
            subject_id=subject_id,
            channel=channel,  # type: ignore[arg-type]
            purpose=purpose,
            status=status,  # type: ignore[arg-type]
            source="web form",
            captured_at=now,
            proof=proof[:1000],
        )

    for key, raw in form.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            continue
        normal = _normal(key)
        text = _one(key, raw, [])
        if text is None or text.casefold() not in _TRUE | _FALSE:
            continue
        ticked = text.casefold() in _TRUE
        row = boxes.get(normal)
        if row is not None:
            _, channel, purpose, label = row
            found.append(
                consent(
                    channel,
                    purpose,
                    "granted" if ticked else "denied",
                    f"web form field {key!r} ({label}): {text}",
                )
            )
            continue
        target = aliases.get(normal)
        if target in _FLAG_TARGETS and ticked:
            channels = ("email",) if target == "email_opt_out" else ("phone", "sms")
            opt_outs += [
                consent(
                    channel,
                    OPT_OUT_PURPOSE,
                    "withdrawn",
                    f"web form field {key!r} ({target}): {text}",
                )
                for channel in channels
            ]
    return tuple(found + opt_outs)


# -- bulk import ---------------------------------------------------------------------------

# Export headers of Salesforce, HubSpot and Zoho (normalised: lower case, letters and digits)
# and the lead fields they hold, on top of the web-form aliases.
_EXPORT_HEADERS: Final[dict[str, str]] = {
    "leadid": "ignore",
    "recordid": "ignore",
    "id": "ignore",
    "leadowner": "owner_id",
    "owner": "owner_id",
    "contactowner": "owner_id",
    "leadstatus": "status_ignored",
    "rating": "rating",
    "annualrevenue": "annual_revenue",
    "noofemployees": "employees",
    "mailingcity": "address.city",
    "mailingcountry": "address.country",
    "mailingstreet": "address.street",
    "mailingzippostalcode": "address.postal_code",
    "zippostalcode": "address.postal_code",
    "emailoptout": "email_opt_out",
    "unsubscribedfromallemail": "email_opt_out",
    "donotcall": "do_not_call",
    "originalsource": "source",
    "leadsourcedetail": "ignore",
    "createdate": "created_at",
    "createddate": "created_at",
    "createdtime": "created_at",
    "createdon": "created_at",
    "mobilephonenumber": "mobile",
    "phonenumber": "phone",
    "websiteurl": "website",
    "designation": "title",
    "jobtitle": "title",
    "companyname": "company",
    "salutation": "custom.salutation",
    "middlename": "custom.middle_name",
    "suffix": "custom.suffix",
    "nickname": "custom.nickname",
}
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "y", "on", "x", "checked"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "n", "off", ""})
_DATE_FORMATS: Final = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%b %d, %Y", "%d %b %Y")
RowStatus = Literal["created", "updated", "merged", "skipped", "rejected"]
OnDuplicate = Literal["skip", "update", "merge", "create"]


def _import_targets() -> tuple[str, ...]:
    """The targets a column may name: lead fields an import sets, and the special ones."""
    skipped = {"id", "converted", "custom", "address", "tags"}
    fields = [f.name for f in attrs.fields(Lead) if f.name not in skipped]
    parts = [f"address.{f.name}" for f in attrs.fields(Address)]
    return (*fields, *parts, "name", "tags", "ignore")


_TARGETS: Final = frozenset(_import_targets())
_TARGETS_SHOWN: Final = ", ".join(_import_targets()) + ", custom.<name>"


def _target_known(target: str) -> bool:
    if target.startswith("custom."):
        return _CUSTOM_ID.fullmatch(target[7:]) is not None
    return target in _TARGETS


_SHARED_TARGETS: Final = frozenset({"ignore", "tags"})
"""Targets several columns may share: skipped, or tags (the columns' tags are joined)."""


def _mapping_problems(mapping: ColumnMapping) -> list[FieldError]:
    """Every problem of a column mapping, found when it is built rather than mid-import."""
    errors: list[FieldError] = []
    columns = mapping.columns
    if not isinstance(columns, tuple) or not all(
        isinstance(p, tuple) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in columns
    ):
        errors.append(FieldError("columns", "type", "must be (column, target) pairs of text"))
    else:
        seen: set[str] = set()
        targets: dict[str, str] = {}
        for index, (column, target) in enumerate(columns):
            if not _target_known(target):
                errors.append(
                    FieldError(
                        f"columns[{index}]",
                        "unknown_target",
                        f"column {describe_value(column)} maps to {describe_value(target)}, "
                        f"which is not a lead field; targets are {_TARGETS_SHOWN}",
                    )
                )
            if column in seen:
                errors.append(
                    FieldError(
                        f"columns[{index}]", "duplicate", f"column {describe_value(column)} twice"
                    )
                )
            seen.add(column)
            # Two columns on one field: a row's second value would replace the first
            # (or, for "name", be dropped), so one of them would be lost without a word.
            if target not in _SHARED_TARGETS and target in targets:
                errors.append(
                    FieldError(
                        f"columns[{index}]",
                        "duplicate_target",
                        f"columns {describe_value(targets[target])} and {describe_value(column)} "
                        f"both map to {describe_value(target)}; map one of them elsewhere or to "
                        "'ignore'",
                    )
                )
            targets.setdefault(target, column)
    picklists = mapping.picklists
    if not isinstance(picklists, tuple) or not all(
        isinstance(p, tuple) and len(p) == 3 and all(isinstance(x, str) for x in p)
        for p in picklists
    ):
        errors.append(FieldError("picklists", "type", "must be (field, from, to) triples of text"))
    if not isinstance(mapping.day_first, bool):
        errors.append(FieldError("day_first", "type", "must be True or False"))
    for name in ("region", "currency"):
        problem = _checks.text_problem(getattr(mapping, name), 8)
        if problem is not None:
            errors.append(FieldError(name, *problem))
    if not isinstance(mapping.schema, EntitySchema):
        errors.append(FieldError("schema", "type", "must be an EntitySchema"))
    return errors


@attrs.frozen(cache_hash=True)
class ColumnMapping:
    """Which column holds which lead field, and how to read the values.

    *columns* pairs a header with a target: a lead field, ``address.<part>``,
    ``custom.<name>``, ``name`` (split into first and last; a salutation, middle name,
    suffix or nickname goes to ``custom.salutation``, ``custom.middle_name``,
    ``custom.suffix``, ``custom.nickname``), ``tags`` (``;`` or ``,`` separated) or
    ``ignore``. Dates are read ISO-first; dotted dates (``31.12.2025``) are day first;
    *day_first* decides ``03/04/2026`` (month first, US, by default). Date-times may add a
    24-hour time or an AM/PM one (``3/4/2025 10:15 AM``); a time without a zone is UTC.
    *picklists* translate values: ``(field, from, to)``, e.g. ``("source", "web form",
    "Web")``. Columns the mapping does not name are kept in ``custom.import_extra`` (JSON)
    and reported on each row, never dropped.

    >>> guessed = ColumnMapping.guess(["First Name", "E-mail", "Lead Source", "Annual Revenue"])
    >>> [target for _, target in guessed.columns]
    ['first_name', 'email', 'source', 'annual_revenue']
    """

    columns: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    day_first: bool = False
    picklists: tuple[tuple[str, str, str], ...] = attrs.field(default=(), converter=_pairs)
    region: str = "US"
    currency: str = "USD"
    schema: EntitySchema = LEAD_SCHEMA

    def __attrs_post_init__(self) -> None:
        errors = _mapping_problems(self)
        if errors:
            raise ValidationError("ColumnMapping", errors)

    @classmethod
    def guess(cls, header: Sequence[str], **options: object) -> ColumnMapping:
        """A mapping proposed from common CRM export headers (Salesforce, HubSpot, Zoho).

        Headers it cannot place are left out (they will be kept as extras on import). Each
        field gets one column: when two columns name the same field (``Email`` and
        ``E-mail``, or a header repeated), the first is mapped and the others are left out,
        so their values are kept in ``custom.import_extra`` and reported, never
        overwritten. ``Salutation``, ``Middle Name``, ``Suffix`` and ``Nickname`` go to the
        custom fields a split full name fills (``custom.salutation`` …).

        >>> [t for _, t in ColumnMapping.guess(["Email", "E-mail", "Suffix"]).columns]
        ['email', 'custom.suffix']
        """
        pairs = []
        taken: set[str] = set()
        seen: set[str] = set()
        for column in header:
            if not isinstance(column, str) or column in seen:
                continue
            seen.add(column)
            normal = _normal(column)
            target = _EXPORT_HEADERS.get(normal) or DEFAULT_ALIASES.get(normal)
            if target is None or target.startswith("utm.") or target == "status_ignored":
                continue
            if target != "ignore":
                if target in taken:
                    continue
                taken.add(target)
            pairs.append((column, target))
        return cls(tuple(pairs), **options)  # type: ignore[arg-type]


ValueFate = Literal["written", "unchanged", "kept", "provenance"]


@attrs.frozen
class IncomingValue:
    """One value an ``updated`` or ``merged`` row wanted to write, and where it went.

    *fate* is ``written`` (the record now has it), ``unchanged`` (the record had it
    already), ``kept`` (the record's own non-blank value was kept; the incoming one was not
    written, only reported here) or ``provenance`` (a merge set it aside: it stays in the
    stored merge's originals and provenance, see :func:`leadmodel.services.merge_records`).
    *stored* is the record's value before the row.
    """

    field: str
    value: object
    fate: ValueFate
    stored: object = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)


@attrs.frozen
class RowOutcome:
    """What happened to one input row (*line* counts the header as line 1).

    *status* is ``created``, ``updated``, ``merged``, ``skipped`` (with *reason*) or
    ``rejected`` (with *errors*); *lead* is the lead created, updated or merged into;
    *duplicate_of* the record it matched and *match* why (the rule's
    :class:`~leadmodel.MatchResult`: every field's score and the clause that matched);
    *unmapped* the columns no mapping named. For
    ``updated`` and ``merged`` rows, *incoming* is the lead the row itself reads into (its
    id is the one a stored merge absorbs) and *values* says, field by field, what the row
    wanted to write and where each value went (:class:`IncomingValue`).
    """

    _repr_html_ = result_html

    line: int
    status: RowStatus
    lead: Lead | None = None
    reason: str = ""
    errors: tuple[FieldError, ...] = ()
    duplicate_of: str | None = None
    unmapped: tuple[str, ...] = ()
    incoming: Lead | None = None
    values: tuple[IncomingValue, ...] = ()
    match: MatchResult | None = None

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def kept(self) -> tuple[IncomingValue, ...]:
        """The incoming values that differ from the record's and were not written."""
        return tuple(v for v in self.values if v.fate in ("kept", "provenance"))


@attrs.frozen
class ImportReport:
    """The counts of an import: created + updated + merged + skipped + rejected = rows.

    *kept* counts the incoming values of ``updated`` rows that differ from the record's
    own and were not written; *in_provenance* those a merge set aside (kept in the stored
    merge). Each row's :attr:`RowOutcome.values` names them.
    """

    _repr_html_ = result_html

    rows: int
    created: int
    updated: int
    merged: int
    skipped: int
    rejected: int
    unmapped_columns: tuple[str, ...] = ()
    kept: int = 0
    in_provenance: int = 0

    def __attrs_post_init__(self) -> None:
        check_fields(self)


_IMPORT_COUNTS: Final = (
    "rows",
    "created",
    "updated",
    "merged",
    "skipped",
    "rejected",
    "kept",
    "in_provenance",
)


def _type_error(path: str, what: str, value: object) -> FieldError:
    return FieldError(path, "type", f"must be {what}, not {describe_value(value)}")


class ImportRun:
    """An import in progress, read and decided one row at a time.

    Iterate it for each row's :class:`RowOutcome`; ``report`` then holds the
    :class:`ImportReport`.
    """

    def __init__(
        self, outcomes: Iterator[RowOutcome], counts: dict[str, int], extras: set[str]
    ) -> None:
        errors: list[FieldError] = []
        if isinstance(outcomes, str | bytes | bytearray | Mapping) or not isinstance(
            outcomes, Iterable
        ):
            errors.append(_type_error("outcomes", "an iterator of RowOutcome", outcomes))
        # The run fills *counts* and *extras* in as it goes: they are taken as they are.
        if not isinstance(counts, dict) or not all(
            isinstance(counts.get(name), int) for name in _IMPORT_COUNTS
        ):
            errors.append(
                _type_error("counts", f"a dict of the counts {', '.join(_IMPORT_COUNTS)}", counts)
            )
        if not isinstance(extras, set) or not all(isinstance(e, str) for e in extras):
            errors.append(_type_error("extras", "a set of column names", extras))
        if errors:
            raise ValidationError("ImportRun", errors)
        self._outcomes = outcomes
        self._counts = counts
        self._extras = extras
        self._done = False

    def __iter__(self) -> Iterator[RowOutcome]:
        yield from self._outcomes
        self._done = True

    @property
    def report(self) -> ImportReport:
        """The counts so far (complete once the run has been iterated to its end)."""
        c = self._counts
        return ImportReport(
            c["rows"],
            c["created"],
            c["updated"],
            c["merged"],
            c["skipped"],
            c["rejected"],
            tuple(sorted(self._extras)),
            c["kept"],
            c["in_provenance"],
        )


_NUMERIC_DATE: Final = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})")
# A time at the end of a date-time: "14:30", "10:15 AM", "10:15:30 p.m.", after a blank, a
# "T" or a comma. Inputs are at most 64 characters, so every match is bounded.
_TIME: Final = re.compile(
    r"(?:[ T]|,[ ]?)[ ]*([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?[ ]*(?:([AaPp])\.?[Mm]\.?)?$"
)
_LONGEST_DATE: Final = 64


def _parse_date(text: str, *, day_first: bool) -> date:
    """A date cell: ISO first, then numeric, then month names.

    ``31.12.2025`` (dots) is always day first, as everywhere dots are written;
    ``03/04/2026`` and ``03-04-2026`` are month first (US, Salesforce's US exports) unless
    *day_first*.
    """
    if len(text) > _LONGEST_DATE:  # no date is longer; strptime is not tried on a megabyte
        raise _numbers.date_error("date", text, day_first=day_first)
    # The whole cell is read: a date followed by anything but a time ("2025-12-31 10:15 PM
    # EST", "2025-12-31garbage") is refused, not cut to its first ten characters.
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()  # an ISO date-time in a date column
    except ValueError:
        pass
    clock = _TIME.search(text)
    if clock is not None and clock.start() > 0:  # a date and a time: the date
        return _parse_datetime(text, day_first=day_first).date()
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric is not None:
        a, separator, b, year = numeric.groups()
        day, month = (int(a), int(b)) if day_first or separator == "." else (int(b), int(a))
        try:
            return date(int(year), month, day)
        except ValueError:
            raise _numbers.date_error("date", text, day_first=day_first) from None
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise _numbers.date_error("date", text, day_first=day_first)


def _parse_datetime(text: str, *, day_first: bool) -> datetime:
    """A date-time cell, timezone-aware: a time without a zone is taken as UTC.

    ISO 8601 (``2026-03-31T14:30:00+02:00``), or any date :func:`_parse_date` reads
    followed by a 24-hour time (``31.12.2025 14:30``) or a 12-hour one with AM/PM
    (Salesforce's ``3/4/2025 10:15 AM``); a date alone is midnight UTC.
    """
    if len(text) > _LONGEST_DATE:
        raise _numbers.date_error("date", text, day_first=day_first)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        clock = _TIME.search(text)
        day = _parse_date(text[: clock.start()] if clock else text, day_first=day_first)
        hour = minute = second = 0
        if clock is not None:
            hour, minute = int(clock.group(1)), int(clock.group(2))
            second = int(clock.group(3) or 0)
            meridiem = clock.group(4)
            if meridiem is not None:
                if not 1 <= hour <= 12:
                    raise InvalidValue(
                        "datetime", text, "invalid", "an AM/PM time has hours 1 to 12"
                    ) from None
                hour = hour % 12 + (12 if meridiem in "Pp" else 0)
        try:
            moment = datetime(day.year, day.month, day.day, hour, minute, second)  # noqa: DTZ001 - UTC below
        except ValueError:
            raise InvalidValue(
                "datetime", text, "invalid", "expected a time such as 14:30 or 2:30 PM"
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_bool(text: str) -> bool:
    folded = text.strip().casefold()
    if folded in _TRUE_WORDS:
        return True
    if folded in _FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not yes or no")


def _parse_number(text: str) -> Decimal:
    # Bounded before converting: "1E+9999999" is refused, never turned into an int.
    return _numbers.parse_number(text)


_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
EXPORT_MARKER: Final = "#leadmodel-export-v1"
"""The last header cell of a file :func:`export_csv` wrote: its cells are read back exactly."""
# A formula can start a cell, or start after any separator a spreadsheet may split on
# (, ; tab |), after blanks; full-width signs are formulas too in CJK spreadsheets.
_FORMULA: Final = re.compile(r"(?:^|[,;\t|])[ \t\r\n]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]")
_CELL_TYPES: Final = "text, a number, a date or true/false"


def _cell_text(raw: object, *, own: bool) -> str | FieldError:
    """The text of one imported cell, or why it cannot be read.

    Cells of other CRMs' files are trimmed, and a ``'`` a spreadsheet put before a
    formula character is removed; cells of leadmodel's own exports are exact, less the
    one ``'`` :func:`export_csv` adds. Values that are not text (rows built in Python) are
    converted only when that is unambiguous: whole numbers, finite decimals, dates and
    booleans; ``nan``, bytes and other objects are refused.
    """
    if isinstance(raw, str):
        if own:
            return raw[1:] if raw[:1] == "'" else raw
        text = raw.strip()
        if text[:1] == "'" and (text[1:2] in _FORMULA_START or _FORMULA.match(text[1:])):
            return text[1:]  # a cell export_csv (or a spreadsheet) neutralised
        return text
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        if abs(raw) >= 10**_numbers.NUMBER_MAX_DIGITS:
            return FieldError("", "too_large", f"{_numbers.NUMBER_MAX_DIGITS}+ digit number")
        return str(raw)
    if (isinstance(raw, Decimal) and raw.is_finite()) or (isinstance(raw, float) and isfinite(raw)):
        return _numbers.plain_number(raw)
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    hint = " (decode bytes to text first)" if isinstance(raw, bytes | bytearray) else ""
    return FieldError(
        "",
        "type",
        f"a cell must be {_CELL_TYPES}, not {describe_value(raw)}{hint}",
    )


def _tags(text: str) -> list[str]:
    """Tags of another CRM's cell: separated by ``;`` or ``,``, trimmed."""
    return [t.strip() for t in re.split(r"[;,]", text) if t.strip()]


def _own_tags(text: str) -> list[str]:
    r"""Tags of leadmodel's own cell: separated by ``;``, ``\\`` escaping ``;`` and itself."""
    tags, current, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ";":
            tags.append("".join(current))
            current = []
        else:
            current.append(char)
    tags.append("".join(current))
    return [t for t in tags if t]


_CACHE_LIMIT: Final = 100_000
_BOOL_FIELDS: Final = frozenset({"do_not_call", "email_opt_out", "is_person", "owner_is_queue"})
_FIXED: Final = frozenset({"id", "converted", "created_at", "updated_at", "custom", "status"})
_BLANKS: Final[tuple[object, ...]] = (None, "", frozenset())


def _beyond(position: int) -> str:
    """The name a cell beyond the header is kept under: its column number, from 1."""
    return f"Column {position} (beyond the header)"


class _Reader:
    """Reads one row into lead fields, with the mapping's parsers and caches built once."""

    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.targets = dict(mapping.columns)
        # Restricted standard picklists take their own spelling ("hot" -> "Hot"); the
        # mapping's own translations win.
        self.picklists = {
            (fd.name, choice.casefold()): choice
            for fd in mapping.schema.standard
            if fd.restricted and fd.type is FieldType.PICKLIST
            for choice in fd.choices
        }
        self.picklists |= {(f, v.casefold()): to for f, v, to in mapping.picklists}
        # A restricted picklist refuses a cell that is none of its choices (a row error),
        # as Salesforce's import does, instead of storing a value the schema refuses.
        self.restricted = {
            fd.name: fd.choices
            for fd in mapping.schema.standard
            if fd.restricted and fd.type is FieldType.PICKLIST
        }
        self.emails: dict[str, EmailAddress | ValidationError] = {}
        self.phones: dict[str, PhoneNumber | ValidationError] = {}

    def _cached(self, cache: dict[str, Any], text: str, parse: Callable[[str], Any]) -> Any:
        found = cache.get(text)
        if found is None:
            try:
                found = parse(text)
            except ValidationError as exc:
                found = exc
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = found
        if isinstance(found, ValidationError):
            raise found
        return found

    def value(self, target: str, text: str) -> object:
        text = self.picklists.get((target, text.casefold()), text)
        choices = self.restricted.get(target)
        if choices is not None:
            if text not in choices:
                raise ValidationError(
                    "import",
                    [
                        FieldError(
                            target,
                            "unknown_choice",
                            f"must be one of {', '.join(choices)} (got {describe_value(text)})",
                        )
                    ],
                )
            if target == "lifecycle_stage":
                return LifecycleStage(text)
        if target == "email":
            return self._cached(self.emails, text, EmailAddress.parse)
        if target in ("phone", "mobile"):
            region = self.mapping.region
            return self._cached(self.phones, text, lambda t: PhoneNumber.parse(t, region=region))
        if target == "employees":
            return _numbers.parse_whole_number(text, kind="employees")
        if target == "annual_revenue":
            return Money(_parse_number(text), self.mapping.currency)
        if target in _BOOL_FIELDS:
            return _parse_bool(text)
        if target in ("created_at", "updated_at"):
            return _parse_datetime(text, day_first=self.mapping.day_first)
        if target.startswith("custom."):
            return self.custom(target, text)
        return text

    def custom(self, target: str, text: str) -> object:
        try:
            kind = self.mapping.schema.field(target).type
        except ValidationError:
            return text
        if kind is FieldType.CHECKBOX:
            return _parse_bool(text)
        if kind.is_numeric:
            number = _parse_number(text)
            return (
                int(number)
                if kind is FieldType.NUMBER and number == number.to_integral_value()
                else number
            )
        if kind is FieldType.DATE:
            return _parse_date(text, day_first=self.mapping.day_first)
        if kind is FieldType.DATETIME:
            return _parse_datetime(text, day_first=self.mapping.day_first)
        return text

    def lead(  # noqa: PLR0915 - one pass over a row's columns, kept together
        self, row: Mapping[str, object], ids: Callable[[str], str], now: datetime
    ) -> tuple[Lead | None, tuple[FieldError, ...], tuple[str, ...]]:
        if isinstance(row, _UnreadableRow):
            return None, row.errors, ()
        errors: list[FieldError] = []
        fields: dict[str, object] = {}
        address: dict[str, str] = {}
        custom: dict[str, object] = {}
        extra: dict[str, str] = {}
        tags: list[str] = []
        own = EXPORT_MARKER in row  # leadmodel's own export: exact cells, no trimming
        for column, raw in row.items():
            if column is None and isinstance(raw, list):  # csv.DictReader's cells beyond the header
                width = sum(1 for key in row if isinstance(key, str))
                for offset, value in enumerate(raw, start=width + 1):
                    if isinstance(value, str) and value.strip():
                        extra[_beyond(offset)] = value.strip()
                continue
            if not isinstance(column, str) or raw is None:
                continue
            text = _cell_text(raw, own=own)
            if isinstance(text, FieldError):
                errors.append(attrs.evolve(text, path=self.targets.get(column) or column))
                continue
            target = self.targets.get(column)
            if target is None:
                if text:
                    extra[column] = text
                continue
            if not text or target == "ignore":
                continue
            problem = _text_problem(target, text)
            if problem is not None:
                errors.append(problem)
                continue
            try:
                if target == "name":
                    first, last, name_parts = _split_name(text)
                    if last:
                        fields.setdefault("last_name", last)
                    if first:
                        fields.setdefault("first_name", first)
                    for part, value in name_parts.items():
                        custom.setdefault(part, value)
                elif target == "tags":
                    tags += _own_tags(text) if own else _tags(text)
                elif target.startswith("address."):
                    address[target.split(".", 1)[1]] = text
                elif target.startswith("custom."):
                    custom[target.split(".", 1)[1]] = self.value(target, text)
                else:
                    fields[target] = self.value(target, text)
            except ValidationError as exc:
                errors += [attrs.evolve(e, path=target) for e in exc.errors]
            except (ValueError, ArithmeticError) as exc:
                errors.append(FieldError(target, "invalid", str(exc)))
        if address:
            try:
                fields["address"] = Address(**address)
            except ValidationError as exc:
                errors += [attrs.evolve(e, path=f"address.{e.path}") for e in exc.errors]
        if "last_name" not in fields:
            errors.append(FieldError("last_name", "required", "a last name (or a name) is needed"))
        if errors:
            return None, tuple(errors), tuple(extra)
        if extra:
            custom["import_extra"] = json.dumps(extra, ensure_ascii=False, sort_keys=True)
        fields.setdefault("created_at", now)
        created = fields["created_at"]
        fields.setdefault(
            "updated_at", created if isinstance(created, datetime) and created > now else now
        )
        if fields.get("company") is None:
            fields["is_person"] = True
        try:
            lead = Lead(id=ids("lead"), tags=frozenset(tags), custom=custom, **fields)  # type: ignore[arg-type]
        except ValidationError as exc:
            return None, exc.errors, tuple(extra)
        return lead, (), tuple(extra)


def _fill_blanks(target: Lead, source: Lead) -> Lead:
    """*target* with *source*'s values where *target* has none (an update by import)."""
    changes: dict[str, object] = {}
    for field in attrs.fields(Lead):
        name = field.name
        if name in _FIXED:
            continue
        mine, theirs = getattr(target, name), getattr(source, name)
        if mine in _BLANKS and theirs not in _BLANKS:
            changes[name] = theirs
    extra = {k: v for k, v in source.custom.items() if k not in target.custom}
    if extra:
        changes["custom"] = {**target.custom, **extra}
    return attrs.evolve(target, **changes) if changes else target  # type: ignore[arg-type]


class _RowRule(CompiledRule):
    """An import's compiled rule, remembering the prepared values and keys of the last row.

    Each new row is looked up (:meth:`DuplicateIndex.matches`) and then indexed
    (:meth:`DuplicateIndex.add`): both prepare it, and preparing (normalising every
    matcher's field, building the keys) is most of a look-up's cost. Rows are frozen
    leads, so the same object always prepares the same.
    """

    __slots__ = ("_row", "_row_blocks")

    def __init__(self, rule: MatchingRule) -> None:
        super().__init__(rule)
        self._row: tuple[object, tuple[Prepared, tuple[str, ...]]] | None = None
        self._row_blocks: tuple[object, tuple[Prepared, tuple[tuple[Any, ...], ...]]] | None = None

    def prepare_keyed(self, record: object) -> tuple[Prepared, tuple[str, ...]]:
        row = self._row
        if row is not None and row[0] is record:
            return row[1]
        found = super().prepare_keyed(record)
        self._row = (record, found)
        return found

    def prepare_blocked(self, record: object) -> tuple[Prepared, tuple[tuple[Any, ...], ...]]:
        row = self._row_blocks
        if row is not None and row[0] is record:
            return row[1]
        found = super().prepare_blocked(record)
        self._row_blocks = (record, found)
        return found


def _matching_rule(rule: object) -> CompiledRule | FieldError:
    """The compiled *rule* of an import (``None``: the standard lead rule), or what is wrong."""
    if rule is None:
        return _RowRule(STANDARD_LEAD_RULE)
    if isinstance(rule, CompiledRule):
        return _RowRule(rule.rule)
    if isinstance(rule, MatchingRule):
        return _RowRule(rule)
    return _type_error("rule", "a MatchingRule or CompiledRule (None: STANDARD_LEAD_RULE)", rule)


class _Stored:
    """The records of *existing* an import compares a row with, found by keys."""

    def __init__(self, existing: object, compiled: CompiledRule) -> None:
        self.existing = existing
        self.compiled = compiled
        # Asked by the rule's blocking keys too, until the store says it does not index them.
        self.rule_keys = True

    def query_keys(self, lead: Lead) -> list[str]:
        keys = set(lookup_keys(lead))
        if self.rule_keys:
            keys.update(self.compiled.keys(lead))
        return sorted(keys)

    def find(self, lead: Lead) -> list[object]:
        """The stored records sharing a lookup key, or a blocking key of the rule, with *lead*.

        A store that does not index the rule's keys (:class:`~leadmodel.KeyNotIndexed`) is
        asked by lookup keys (email, phone) only from then on.
        """
        keys = self.query_keys(lead)
        if not keys:
            return []
        try:
            found = self.existing.find_by_keys(keys)  # type: ignore[attr-defined]
        except KeyNotIndexed:
            self.rule_keys = False
            keys = sorted(lookup_keys(lead))
            found = self.existing.find_by_keys(keys) if keys else []  # type: ignore[attr-defined]
        return list(found)

    def best(
        self, lead: Lead, prepared: Prepared, *, leads_only: bool
    ) -> tuple[object, MatchResult] | None:
        """The stored record *lead* matches best under the rule (highest score, then id)."""
        best: tuple[object, MatchResult] | None = None
        for record in self.find(lead):
            if leads_only and not isinstance(record, Lead):
                continue
            result = self.compiled.match_prepared(prepared, self.compiled.prepare(record))
            if result is None:
                continue
            if best is None or result.score > best[1].score:
                best = (record, result)
        return best

    def get(self, lead_id: str, lead: Lead, line: int) -> Lead:
        """The lead *lead_id* an earlier row made, read back from the store."""
        getter = getattr(self.existing, "get", None)
        found: object = None
        if callable(getter):
            found = getter(lead_id)
        else:
            found = next((r for r in self.find(lead) if getattr(r, "id", None) == lead_id), None)
        if not isinstance(found, Lead):
            raise ValidationError(
                "import_leads",
                [
                    FieldError(
                        "existing",
                        "not_applied",
                        f"line {line} repeats lead {lead_id} of an earlier row, which is not "
                        "in existing: save each outcome to it before reading the next",
                    )
                ],
            )
        return found


def _best_edge(index: DuplicateIndex, lead: Lead) -> MatchEdge | None:
    """The earlier row's lead that *lead* matches best (the index sorts best first)."""
    found = index.matches(lead, limit=1)
    return found[0] if found else None


def _of_record_type(
    lead: Lead, record_type: RecordType
) -> tuple[Lead | None, tuple[FieldError, ...]]:
    """*lead* stamped with *record_type*, and why it does not meet it as a new lead.

    The lead is ``None`` when the record type's defaults do not fit it.
    """
    other = _other_record_type(lead, record_type)
    if other is not None:  # the row names another record type: never silently restamped
        return None, (other,)
    try:
        stamped = with_record_type(lead, record_type)
    except ValidationError as exc:
        return None, exc.errors
    return stamped, validate_layout(stamped, record_type).errors


def _update_refused(
    match: Lead, merged: Lead, record_type: RecordType | None
) -> tuple[FieldError, ...]:
    """Why *merged*, the stored *match* updated by a row, breaks *record_type*.

    Checked like an edit (:func:`~leadmodel.validate_layout` with the stored version as
    *previous*, so read-only fields stay as stored) when *match* has the record type or
    none; a lead of another record type is not held to this one.
    """
    if record_type is None or record_type_of(match) not in (None, record_type.name):
        return ()
    return validate_layout(merged, record_type, previous=match).errors


def import_leads(  # noqa: PLR0915 - checks, then the row loop as one generator
    rows: Iterable[Mapping[str, str]],
    mapping: ColumnMapping,
    *,
    ids: Callable[[str], str],
    now: datetime,
    existing: object = None,
    on_duplicate: OnDuplicate = "skip",
    progress: Callable[[int], None] | None = None,
    rule: MatchingRule | CompiledRule | None = None,
    record_type: RecordType | None = None,
) -> ImportRun:
    """Read *rows* into leads with *mapping*, one outcome per row, streaming.

    A row is a duplicate when the matching *rule* says so (``None``:
    :data:`~leadmodel.STANDARD_LEAD_RULE`, Salesforce's rule — a name *and* an email,
    phone, company or address; a shared switchboard phone alone never makes two people
    one), of an earlier row of the file (kept in a :class:`~leadmodel.DuplicateIndex`) or
    of a record of *existing* (anything with ``find_by_keys``, such as a repository: asked
    by the row's lookup keys and the rule's blocking keys, or by lookup keys only when it
    does not index the rule — :func:`leadmodel.services.import_leads` has its unit of
    work index it). Pass :data:`~leadmodel.EXACT_EMAIL` or
    :data:`~leadmodel.EXACT_EMAIL_OR_PHONE` to match on keys alone. *on_duplicate*
    decides: ``skip`` the row, ``update`` the matched record's blank fields, ``merge`` the
    two, or ``create`` a new lead anyway (no duplicate checks at all: the run then keeps
    nothing between rows and reads any number of rows in constant memory). A duplicate's
    outcome says why: ``duplicate_of``, ``match`` (the :class:`~leadmodel.MatchResult`,
    with the clause that matched) and a *reason* naming the clause. A converted lead is
    read-only: a row matching one is ``skipped`` under ``update`` and ``merge``. Each
    ``updated`` or ``merged`` outcome lists every value the row wanted to write and its
    fate (:class:`IncomingValue`): nothing that differs is dropped without a word, and the
    report counts the values ``kept``. Nothing is saved: apply the outcomes in order (add
    ``created`` leads, update ``updated`` and ``merged`` ones) —
    :func:`leadmodel.services.import_leads` does, merges included, so they can be undone.
    Iterate the run, then read ``run.report``.

    With a lead *record_type*, each row's lead is stamped with it
    (:func:`~leadmodel.with_record_type`: ``custom["record_type"]`` and the record type's
    picklist defaults) and checked against it (:func:`~leadmodel.validate_layout`); a row
    that leaves a required field blank or has a picklist value the record type does not
    allow is ``rejected`` with those errors. Under ``update`` and ``merge`` a row that
    matches a lead is checked as the updated lead instead, against the stored version (a
    read-only field it would fill or change rejects the row); a matched lead of another
    record type is not held to this one.

    >>> from datetime import datetime, timezone
    >>> from leadmodel.adapters.memory import SequentialIds
    >>> rows = [
    ...     {"First Name": "Ada", "Last Name": "Lovelace", "Email": "ada@engines.io"},
    ...     {"First Name": "Ada", "Last Name": "Lovelace", "Email": "ADA@engines.io"},
    ...     {"First Name": "", "Last Name": "", "Email": "nope"},
    ... ]
    >>> mapping = ColumnMapping.guess(["First Name", "Last Name", "Email"])
    >>> run_now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> run = import_leads(rows, mapping, ids=SequentialIds(), now=run_now)
    >>> [(o.line, o.status) for o in run]
    [(2, 'created'), (3, 'skipped'), (4, 'rejected')]
    >>> run_outcomes = list(import_leads(rows, mapping, ids=SequentialIds(), now=run_now))
    >>> run_outcomes[1].reason
    'duplicate of lead-000001 (first_name AND last_name AND email)'
    >>> run.report.rows, run.report.created, run.report.skipped, run.report.rejected
    (3, 1, 1, 1)

    Raises:
        ValidationError: misuse — a wrong mapping, *on_duplicate*, *ids* (also while
            iterating, code ``repeated``: an id given twice), *now*, *existing* or *rule*.
            What is wrong in a row is that row's ``rejected`` outcome.
    """
    problems: list[FieldError] = []
    if not isinstance(mapping, ColumnMapping):
        problems.append(FieldError("mapping", "type", "must be a ColumnMapping"))
    if not _checks.one_of(on_duplicate, ("skip", "update", "merge", "create")):
        problems.append(
            FieldError("on_duplicate", "invalid", "must be skip, update, merge or create")
        )
    if not callable(ids):
        problems.append(FieldError("ids", "type", "must be a function of the entity kind"))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        problems.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    if existing is not None and not callable(getattr(existing, "find_by_keys", None)):
        problems.append(FieldError("existing", "type", "must have find_by_keys (a repository)"))
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        problems.append(FieldError("rows", "type", "must be an iterable of mappings"))
    if progress is not None and not callable(progress):
        problems.append(FieldError("progress", "type", "must be a function of the row count"))
    compiled = _matching_rule(rule)
    if isinstance(compiled, FieldError):
        problems.append(compiled)
    if record_type is not None and (
        not isinstance(record_type, RecordType) or record_type.kind != "lead"
    ):
        problems.append(FieldError("record_type", "type", "must be a RecordType of leads"))
    if problems:
        raise ValidationError("import_leads", problems)
    assert isinstance(compiled, CompiledRule)  # noqa: S101 - narrowed by the checks above
    counts = dict.fromkeys(_IMPORT_COUNTS, 0)
    extras: set[str] = set()
    reader = _Reader(mapping)

    def outcomes() -> Iterator[RowOutcome]:  # noqa: PLR0915 - each policy's branch, in order
        from leadmodel.rules.merge import merge

        # The file's own leads, as the rule prepared them (no whole leads: flat memory).
        index = DuplicateIndex(compiled)
        stored = _Stored(existing, compiled) if existing is not None else None
        recent: OrderedDict[str, Lead] = OrderedDict()  # update/merge: leads to build on
        for position, row in enumerate(rows):
            line = position + 2
            counts["rows"] += 1
            if progress is not None and counts["rows"] % 1000 == 0:
                progress(counts["rows"])
            if not isinstance(row, Mapping):
                counts["rejected"] += 1
                yield RowOutcome(
                    line, "rejected", errors=(FieldError("row", "type", "not a mapping"),)
                )
                continue
            lead, errors, unmapped = reader.lead(row, ids, now)
            # A row that breaks the record type as a new lead may still update a stored
            # one (update, merge): then the updated lead is what is checked.
            refused: tuple[FieldError, ...] = ()
            if lead is not None and record_type is not None:
                stamped, refused = _of_record_type(lead, record_type)
                if stamped is None or (refused and on_duplicate not in ("update", "merge")):
                    lead, errors, refused = None, (*errors, *refused), ()
                else:
                    lead = stamped
            extras.update(unmapped)
            if lead is None:
                counts["rejected"] += 1
                yield RowOutcome(line, "rejected", errors=errors, unmapped=unmapped)
                continue
            if on_duplicate == "create":
                # No duplicate checks: nothing is remembered, so memory stays flat.
                counts["created"] += 1
                yield RowOutcome(line, "created", lead, unmapped=unmapped)
                continue
            if lead.id in index:
                raise ValidationError(
                    "import_leads",
                    [
                        FieldError(
                            "ids",
                            "repeated",
                            f"line {line}: ids gave {describe_value(lead.id)} again; each "
                            "lead needs a new id",
                        )
                    ],
                )
            edge = _best_edge(index, lead)
            found: tuple[object, MatchResult] | None = None
            if edge is None and stored is not None:
                found = stored.best(
                    lead, compiled.prepare_keyed(lead)[0], leads_only=on_duplicate != "skip"
                )
            if edge is None and found is None and refused:
                counts["rejected"] += 1
                yield RowOutcome(line, "rejected", errors=refused, unmapped=unmapped)
                continue
            if edge is None and found is None:
                counts["created"] += 1
                index.add(lead)
                if on_duplicate != "skip":
                    _remember(recent, lead, bounded=existing is not None)
                yield RowOutcome(line, "created", lead, unmapped=unmapped)
                continue
            if edge is not None:
                match_id, result = edge.b_id, edge.result
            else:
                assert found is not None  # noqa: S101 - one of the two matched
                match_id, result = getattr(found[0], "id", ""), found[1]
            why = result.clause or "the rule's probability"
            if on_duplicate == "skip":
                counts["skipped"] += 1
                yield RowOutcome(
                    line,
                    "skipped",
                    None,
                    f"duplicate of {match_id} ({why})",
                    duplicate_of=match_id,
                    unmapped=unmapped,
                    match=result,
                )
                continue
            if edge is not None:
                match = recent.get(match_id)
                if match is None:
                    if stored is None:  # pragma: no cover - without existing all are kept
                        raise RecordNotFound("lead", match_id)
                    match = stored.get(match_id, lead, line)
            else:
                assert found is not None and isinstance(found[0], Lead)  # noqa: S101, PT018
                match = found[0]
            if match.converted is not None:
                counts["skipped"] += 1
                yield RowOutcome(
                    line,
                    "skipped",
                    None,
                    f"duplicate of converted lead {match.id} ({why}), which is read-only",
                    duplicate_of=match.id,
                    unmapped=unmapped,
                    match=result,
                )
                continue
            status: RowStatus
            if on_duplicate == "update":
                merged, status = _fill_blanks(match, lead), "updated"
            else:
                merged, status = merge([match, lead], master=match.id).survivor, "merged"
            breaks = _update_refused(match, merged, record_type)
            if breaks:
                counts["rejected"] += 1
                yield RowOutcome(
                    line,
                    "rejected",
                    None,
                    f"{on_duplicate} into {match.id} ({why}) breaks its record type",
                    errors=breaks,
                    duplicate_of=match.id,
                    unmapped=unmapped,
                    match=result,
                )
                continue
            values = _fates(lead, match, merged, merged=status == "merged")
            counts[status] += 1
            counts["kept"] += sum(1 for v in values if v.fate == "kept")
            counts["in_provenance"] += sum(1 for v in values if v.fate == "provenance")
            if merged.id in index:
                index.update(merged)
            else:
                index.add(merged)
            _remember(recent, merged, bounded=existing is not None)
            yield RowOutcome(
                line,
                status,
                merged,
                f"{status} into {match.id} ({why})",
                duplicate_of=match.id,
                unmapped=unmapped,
                incoming=lead,
                values=values,
                match=result,
            )

    return ImportRun(outcomes(), counts, extras)


_NOT_REPORTED: Final = frozenset({"id", "created_at", "updated_at", "converted", "custom"})


def _fates(
    incoming: Lead, stored: Lead, result: Lead, *, merged: bool
) -> tuple[IncomingValue, ...]:
    """Every value *incoming* brings (not blank, not a default) and where it went."""
    from leadmodel.rules.merge import _contains

    pairs: list[tuple[str, object, object, object]] = []
    for field in attrs.fields(Lead):
        name = field.name
        if name in _NOT_REPORTED or (name == "is_person" and incoming.company is None):
            continue  # is_person without a company is derived, not read from the row
        value = getattr(incoming, name)
        default = field.default
        if value in _BLANKS or (not isinstance(default, attrs.Factory) and value == default):  # type: ignore[arg-type]
            continue
        pairs.append((name, value, getattr(stored, name), getattr(result, name)))
    for key, value in incoming.custom.items():
        if value is not None and value != "":
            pairs.append((f"custom.{key}", value, stored.custom.get(key), result.custom.get(key)))
    fates: list[IncomingValue] = []
    for name, value, before, after in pairs:
        fate: ValueFate
        if before == value:
            fate = "unchanged"
        elif after == value or (merged and _contains(after, value)):
            fate = "written"
        else:
            fate = "provenance" if merged else "kept"
        fates.append(IncomingValue(name, value, fate, before))
    return tuple(fates)


_RECENT_LEADS: Final = 10_000
"""With ``existing``, how many of the latest leads an update/merge import keeps at hand."""


def _remember(recent: OrderedDict[str, Lead], lead: Lead, *, bounded: bool) -> None:
    recent[lead.id] = lead
    recent.move_to_end(lead.id)
    if bounded and len(recent) > _RECENT_LEADS:
        recent.popitem(last=False)


_QUOTED_TEXT: Final = re.compile(r'"[^"]*"')


def _delimiter(line: str) -> str:
    """The delimiter of a header line: the most frequent of ``,`` ``;`` tab ``|`` outside quotes.

    Linear in the line (``csv.Sniffer`` is quadratic: a 64 KB header of ``,"`` pairs took a
    minute), ``,`` when none occurs.
    """
    bare = _QUOTED_TEXT.sub("", line)
    counts = [(bare.count(d), -i, d) for i, d in enumerate(",;\t|")]
    count, _, delimiter = max(counts)
    return delimiter if count else ","


_SAMPLE: Final = 65536  # bytes read to detect the encoding and delimiter


def _sniff(sample: bytes) -> tuple[str, str]:
    """The encoding (UTF-8 with or without BOM, else Latin-1) and delimiter of a CSV sample."""
    if sample.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            sample.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            # A sample cut inside a character is still UTF-8; a whole small file ending in
            # a Latin-1 letter ("José\n") is not cut.
            cut = len(sample) == _SAMPLE and exc.reason == "unexpected end of data"
            encoding = "utf-8" if cut else "latin-1"
    text = sample.decode(encoding, errors="ignore")
    return encoding, _delimiter(text.split("\n", 1)[0])


def _not_csv(sample: bytes) -> str | None:
    """Why a file that starts with *sample* is not a CSV text file, or ``None``."""
    if b"\x00" in sample:
        return "is a binary file, not CSV text"
    start = sample.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"["):
        return "holds JSON, not CSV (export the records as CSV first)"
    return None


_MAX_UNREADABLE: Final = 1000


class _UnreadableRow(dict[str, str]):
    """A row ``csv`` could not read (a cell over its size limit): no cells, and why."""

    __slots__ = ("errors",)

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__()
        self.errors = errors


def _unique_header(cells: list[str]) -> list[str]:
    """*cells* with repeated names made unique: the second ``Email`` is ``Email (2)``.

    Deterministic, and never equal to another cell of the header (``Email (2)`` given as
    well makes the repeat ``Email (3)``).
    """
    taken = set(cells)
    header: list[str] = []
    seen: set[str] = set()
    numbers: dict[str, int] = {}  # per name, the next number to try: linear, not quadratic
    for cell in cells:
        name = cell
        if name in seen:
            number = numbers.get(cell, 2)
            while f"{cell} ({number})" in taken:
                number += 1
            name = f"{cell} ({number})"
            numbers[cell] = number + 1
            taken.add(name)
        seen.add(name)
        header.append(name)
    return header


def read_csv(path: str | Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    """Open a CSV export: its header and a stream of rows (the file closes when the stream ends).

    The encoding (UTF-8, UTF-8 with a BOM, or Latin-1) and the delimiter (``,`` ``;``
    tab ``|``, the most frequent outside quotes in the header line) are detected from the
    start of the file. No cell is dropped: a header repeated is made unique (the second
    ``Email`` is ``Email (2)``, the returned header says so), and the cells of a row longer
    than the header come under ``Column 9 (beyond the header)`` (their column number);
    columns a mapping does not name are kept in ``custom.import_extra`` and reported by
    :func:`import_leads` (``RowOutcome.unmapped``, ``ImportReport.unmapped_columns``). A row
    shorter than the header has no cells for the columns it lacks. A row that cannot be
    read (a cell over 131,072 characters, the ``csv`` module's limit) comes out as a row
    :func:`import_leads` rejects, with the reason; the rows after it are read as usual.
    Bytes that are not text in the detected encoding are kept as lone surrogates, which
    the import refuses on their row.

    Raises:
        ValidationError: the path is not a path; the file cannot be read, is binary or
            JSON, or has no header (codes ``type``, ``unreadable``, ``not_csv``,
            ``no_header``, ``too_long``).
    """
    if not isinstance(path, str | Path) or not str(path):
        raise ValidationError(
            "read_csv",
            [FieldError("path", "type", f"must be a file path, not {describe_value(path)}")],
        )
    try:
        with Path(path).open("rb") as probe:
            sample = probe.read(_SAMPLE)
        reason = _not_csv(sample)
        if reason is not None:
            raise ValidationError("read_csv", [FieldError("path", "not_csv", f"{path} {reason}")])
        encoding, delimiter = _sniff(sample)
        handle = Path(path).open(  # noqa: SIM115 - closed by the stream
            newline="", encoding=encoding, errors="surrogateescape"
        )
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError("read_csv", [FieldError("path", "unreadable", str(exc))]) from None
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        first = next(reader, [])
    except csv.Error as exc:
        handle.close()
        raise ValidationError(
            "read_csv", [FieldError("path", "too_long", f"{path}: the header row: {exc}")]
        ) from None
    header = _unique_header(first)
    if not header:
        handle.close()
        raise ValidationError(
            "read_csv", [FieldError("path", "no_header", f"{path} has no header row")]
        )
    width = len(header)

    def stream() -> Iterator[dict[str, str]]:
        failures = 0  # in a row; csv reads on after a bad line, but never loop forever
        with handle:
            while failures < _MAX_UNREADABLE:
                before = reader.line_num
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    failures += 1
                    yield _UnreadableRow(
                        (FieldError("row", "unreadable", f"line {before + 1}: {exc}"),)
                    )
                    continue
                failures = 0
                if not cells:
                    continue  # a blank line is no row (as csv.DictReader reads it)
                row = dict(zip(header, cells, strict=False))
                for position in range(width, len(cells)):
                    name = base = _beyond(position + 1)
                    number = 2
                    while name in row:  # a header may hold that name itself
                        name = f"{base} ({number})"
                        number += 1
                    row[name] = cells[position]
                yield row

    return header, stream()


def _escape(text: str) -> str:
    """A cell as leadmodel exports it: a ``'`` before text a spreadsheet could run.

    Added when the text starts with ``'`` itself, or when a formula could start at its
    beginning or after any separator (see :data:`EXPORT_MARKER`); import removes exactly
    that one ``'``, so every value reads back as it was.
    """
    return "'" + text if text[:1] == "'" or _FORMULA.search(text) else text


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, frozenset | set | tuple | list):
        # Tags: sorted, joined by ";", with "\" escaping ";" and itself inside a tag.
        parts = sorted(str(v) for v in value)
        text = ";".join(p.replace("\\", "\\\\").replace(";", "\\;") for p in parts)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, EmailAddress):
        text = value.formatted()  # with its display name, which import reads back
    elif isinstance(value, PhoneNumber):
        text = value.e164 if value.extension is None else f"{value.e164};ext={value.extension}"
    elif isinstance(value, Money):
        text = str(value.amount)
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, Enum):
        text = str(value.value)
    else:
        text = str(value)
    return _escape(text)


def export_csv(
    records: Iterable[object], fields: Sequence[str], file: IO[str] | str | PathLike[str]
) -> int:
    r"""Write *records* (entities or mappings) as CSV with one column per field path.

    *file* is an open text file (opened with ``newline=""``) or a path, written as UTF-8.
    The escaping is one reversible scheme, so that :func:`import_leads` reads an export
    back exactly:

    - every cell is quoted, so a spreadsheet splitting on another separator (``;``, tab,
      ``|``) never cuts a cell in two;
    - a cell (header cells too) gets a leading ``'`` when a formula could start in it — at
      its beginning or after any ``,`` ``;`` tab or ``|``, after blanks, with ``=`` ``+``
      ``-`` ``@`` or their full-width forms — or when it starts with ``'`` itself;
    - tags are sorted and joined by ``;``, a ``\\`` escaping ``;`` and ``\\`` in a tag;
    - the last header cell is :data:`EXPORT_MARKER`, with empty cells: an import that sees
      it reads the file's cells exactly (removing one leading ``'``, unescaping tags),
      where it trims other CRMs' files.

    >>> import io
    >>> out = io.StringIO()
    >>> export_csv([{"last_name": "Ng;=cmd|' /C calc'!A0"}], ["last_name"], out)
    1
    >>> print(out.getvalue(), end="")
    "last_name","#leadmodel-export-v1"
    "'Ng;=cmd|' /C calc'!A0",""

    Returns the number of records written.

    Raises:
        ValidationError: *fields* is empty or not field paths, *file* is neither a file
            nor a path, or the path cannot be written.
    """
    from leadmodel.rules._paths import ABSENT, getter

    if (
        not isinstance(fields, Sequence)
        or isinstance(fields, str)
        or not fields
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise ValidationError("export_csv", [FieldError("fields", "type", "must be field paths")])
    if isinstance(file, str | PathLike):
        try:
            handle = Path(file).open("w", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
        except (OSError, ValueError) as exc:  # ValueError: a NUL or a lone surrogate in it
            reason = exc.strerror if isinstance(exc, OSError) else None
            raise ValidationError(
                "export_csv",
                [FieldError("file", "unwritable", f"{describe_value(file)}: {reason or exc}")],
            ) from None
        with handle:
            return export_csv(records, fields, handle)
    if not callable(getattr(file, "write", None)):
        raise ValidationError(
            "export_csv",
            [
                FieldError(
                    "file", "type", f"must be a text file or a path, not {type(file).__name__}"
                )
            ],
        )
    _checks.require_iterable(
        records, "an iterable of records", function="export_csv", path="records"
    )
    readers = [getter(f) for f in fields]
    writer = csv.writer(file, quoting=csv.QUOTE_ALL)
    count, header = 0, False
    try:
        writer.writerow([*(_escape(f) for f in fields), EXPORT_MARKER])
        header = True
        for record in records:
            values = [read(record) for read in readers]
            writer.writerow([*(_cell(None if v is ABSENT else v) for v in values), ""])
            count += 1
    except UnicodeEncodeError as exc:  # a lone surrogate (in a mapping's value or a header)
        where = f"record {count + 1}" if header else "the header"
        raise ValidationError(
            "export_csv",
            [
                FieldError(
                    "records", "surrogate", f"{where} cannot be written as text: {exc.reason}"
                )
            ],
        ) from None
    return count
