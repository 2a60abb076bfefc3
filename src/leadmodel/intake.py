"""Web-to-lead intake: a submitted form becomes a valid Lead or a list of what is wrong.

:func:`parse_web_form` takes the form as a web framework hands it over (a mapping of field
names to a string or a list of strings) and a :class:`FormSpec`:

- field names are matched loosely (``first_name``, ``first-name``, ``FirstName`` and
  ``firstname`` are one field) through the spec's aliases, and Salesforce-style custom field
  ids (``00N5e00000AbCdE``) through its *custom_ids*;
- a single ``name`` field is split into first and last name (``nameparser``);
- values are trimmed; email and phone are parsed, each failure reported on its field;
  control characters and line breaks in single-line fields (header injection) are refused;
  the whole form is bounded in size and field count;
- fields the spec does not know are kept, never dropped: as JSON text in the lead's custom
  field ``form_extra``;
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

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

import attrs
from nameparser import HumanName

from leadmodel.domain import _checks
from leadmodel.domain.errors import FieldError, ValidationError, describe_value
from leadmodel.domain.fields import EntitySchema, FieldType
from leadmodel.domain.lead import LEAD_SCHEMA, Lead
from leadmodel.domain.status import LifecycleStage
from leadmodel.domain.values import Address, EmailAddress, PhoneNumber

__all__ = [
    "DEFAULT_ALIASES",
    "DISPOSABLE_DOMAINS",
    "FormErrors",
    "FormSpec",
    "parse_web_form",
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
    if isinstance(values, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in values.items()))
    if isinstance(values, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in values)
    return values


def _frozen(values: object) -> object:
    if isinstance(values, list | set | tuple):
        return frozenset(values)
    return values


@attrs.frozen(cache_hash=True)
class FormSpec:
    """How a web form maps to a lead, and how suspicious a submission may be.

    Args:
        aliases: ``(normalised form name, target)`` pairs; targets are lead fields,
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

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        for name, pairs in (("aliases", self.aliases), ("custom_ids", self.custom_ids)):
            if not isinstance(pairs, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in pairs
            ):
                errors.append(FieldError(name, "type", "must be (name, target) pairs of text"))
        if not errors:
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

    errors: tuple[FieldError, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields with a problem, in order."""
        return tuple(dict.fromkeys(e.path for e in self.errors))


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
        number = Decimal(text.replace(",", ""))
        if not number.is_finite():
            raise ValueError("must be a number")
        return (
            int(number) if kind is FieldType.NUMBER and number == number.to_integral() else number
        )
    if kind is FieldType.DATE:
        return date.fromisoformat(text)
    if kind is FieldType.DATETIME:
        return datetime.fromisoformat(text)
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
    if "name" in values:
        human = HumanName(values.pop("name"))
        first = " ".join(p for p in (human.first, human.middle) if p)
        last = human.last
        if not last:  # one word: Salesforce needs a last name, so that is it
            first, last = "", first
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
        text = values["employees"].replace(",", "")
        if text.isdigit() and len(text) <= 9:
            fields["employees"] = int(text)
        else:
            errors.append(FieldError("employees", "invalid", "must be a whole number"))
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
            except (ValueError, InvalidOperation, ArithmeticError) as exc:
                errors.append(FieldError(path, "invalid", str(exc) or "is not valid"))
        elif path.startswith("utm."):
            custom[f"utm_{path.split('.', 1)[1]}"] = text
    for name in (
        "first_name",
        "last_name",
        "title",
        "website",
        "industry",
        "description",
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
