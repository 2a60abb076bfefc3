"""Hypothesis strategies for leadmodel's entities and values, for your own property tests.

Every strategy produces *valid* values (they construct without error), including
non-ASCII names, internationalised email local parts and phone numbers of many countries.
With hypothesis installed, ``st.from_type(Lead)`` uses these strategies automatically
(through the ``hypothesis`` entry point).

>>> from hypothesis import given
>>> from leadmodel.testing.strategies import leads
>>> @given(leads())
... def test_every_lead_has_a_last_name(lead):
...     assert lead.last_name
>>> test_every_lead_has_a_last_name()
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Final

import phonenumbers
from hypothesis import strategies as st

from leadmodel.domain.account import Account
from leadmodel.domain.activity import Activity
from leadmodel.domain.consent import Consent, PrivacyLogEntry
from leadmodel.domain.contact import Contact
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.fields import FieldValues, Scalar
from leadmodel.domain.lead import ConversionRecord, Lead
from leadmodel.domain.opportunity import Opportunity
from leadmodel.domain.status import (
    DEFAULT_LEAD_PROCESS,
    DEFAULT_OPPORTUNITY_PROCESS,
    LifecycleStage,
)
from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
from leadmodel.rules.conversion import ConvertOptions, MergePolicy
from leadmodel.rules.criteria import OPERATORS, All, Any, Condition, Criterion, Not
from leadmodel.rules.scoring import (
    Band,
    Decay,
    EngagementRule,
    FitRule,
    ScoreGroup,
    ScoringModel,
    TimeWindow,
)
from leadmodel.testing._hypothesis_hook import registrations

__all__ = [
    "ACTIVITY_KINDS",
    "accounts",
    "activities",
    "addresses",
    "consents",
    "contacts",
    "convert_options",
    "criteria",
    "custom_values",
    "decays",
    "emails",
    "leads",
    "moneys",
    "names",
    "opportunities",
    "phones",
    "privacy_log_entries",
    "record_ids",
    "register_type_strategies",
    "scoring_models",
    "timestamps",
]

_REGIONS: Final = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "BE", "ES", "CN", "ZA")
_DOMAINS: Final = ("example.com", "acme.io", "mail.co.uk", "bücher.de", "société.fr", "gmail.com")
_LETTERS: Final = st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters="ªº")
ACTIVITY_KINDS: Final = ("page_view", "email_opened", "form_submitted", "call", "meeting")
"""The activity kinds :func:`activities` and :func:`scoring_models` use."""


_ZONES: Final = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))


def _arguments(
    function: str, strategies: dict[str, object], counts: dict[str, object] | None = None
) -> None:
    """Raise a ValidationError naming each argument that is not a strategy (or a count)."""
    errors = [
        FieldError(name, "type", f"must be a hypothesis strategy or None, not {type(v).__name__}")
        for name, v in strategies.items()
        if v is not None and not isinstance(v, st.SearchStrategy)
    ]
    errors += [
        FieldError(name, "out_of_range", "must be a whole number from 1 to 10000")
        for name, v in (counts or {}).items()
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10_000
    ]
    if errors:
        raise ValidationError(function, errors)


def names(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Person-name-like text in any script: letters joined by spaces, hyphens or apostrophes."""
    _arguments("names", {}, {"max_size": max_size})
    word = st.text(_LETTERS, min_size=1, max_size=12)
    joined = st.lists(word, min_size=1, max_size=3).flatmap(
        lambda words: st.sampled_from([" ", "-", "'"]).map(lambda sep: sep.join(words))
    )
    return joined.map(lambda text: text[:max_size].strip(" -'") or "X")


def record_ids(kind: str = "rec") -> st.SearchStrategy[str]:
    """Record ids such as ``lead-1f3a``."""
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ValidationError(
            "record_ids", [FieldError("kind", "type", "must be a word such as 'lead'")]
        )
    return st.text("0123456789abcdef", min_size=1, max_size=12).map(lambda s: f"{kind}-{s}")


def emails() -> st.SearchStrategy[EmailAddress]:
    """Parsed email addresses, sometimes with a display name.

    Local parts are mixed case, dotted or internationalised; some domains are too.
    """
    ascii_local = st.from_regex(
        r"[A-Za-z0-9]{1,10}(\.[A-Za-z0-9]{1,8})?(\+[a-z]{1,5})?", fullmatch=True
    )
    intl_local = st.sampled_from(["josé", "müller", "用户", "θσερ", "ñandú"])
    local = st.one_of(ascii_local, ascii_local, intl_local)
    display = st.one_of(st.none(), names(max_size=30))

    def build(parts: tuple[str, str, str | None]) -> EmailAddress:
        loc, domain, name = parts
        text = f"{loc}@{domain}" if name is None else f'"{name}" <{loc}@{domain}>'
        return EmailAddress.parse(text)

    return st.tuples(local, st.sampled_from(_DOMAINS), display).map(build)


def _phone_from(region: str, digits: str, extension: str | None) -> PhoneNumber:
    example = phonenumbers.example_number(region)
    if example is None:  # pragma: no cover - every region listed has an example
        raise ValueError(region)
    national = str(example.national_number)
    national = national[: -len(digits)] + digits if len(national) > len(digits) else national
    text = f"+{example.country_code} {national}"
    if extension:
        text += f" ext. {extension}"
    return PhoneNumber.parse(text)


def phones() -> st.SearchStrategy[PhoneNumber]:
    """Parsed phone numbers of a dozen countries, some with an extension."""
    return st.builds(
        _phone_from,
        st.sampled_from(_REGIONS),
        st.text("0123456789", min_size=4, max_size=4),
        st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=4)),
    )


def moneys() -> st.SearchStrategy[Money]:
    """Amounts with up to two decimal places in a few currencies."""
    amounts = st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e12"), places=2, allow_nan=False
    )
    return st.builds(Money, amounts, st.sampled_from(["USD", "EUR", "GBP", "JPY", "INR"]))


def addresses() -> st.SearchStrategy[Address]:
    """Addresses with at least one part; streets may span two lines."""
    street = st.one_of(
        st.none(),
        names(max_size=60),
        st.tuples(names(max_size=40), names(max_size=40)).map("\n".join),
    )
    return st.builds(
        Address,
        street=street,
        city=st.one_of(st.none(), names(max_size=40)),
        state=st.one_of(st.none(), names(max_size=40)),
        postal_code=st.one_of(
            st.none(), st.from_regex(r"[0-9A-Z]{3,6}( [0-9A-Z]{3})?", fullmatch=True)
        ),
        country=st.sampled_from(["France", "United States", "Deutschland", "日本"]),
    )


def timestamps() -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes (UTC and fixed offsets), to the microsecond."""
    return st.builds(
        lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),  # noqa: DTZ001
        st.sampled_from(_ZONES),
    )


def custom_values() -> st.SearchStrategy[FieldValues]:
    """Custom field values of every scalar type."""
    scalars: st.SearchStrategy[Scalar] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**17), max_value=10**17),
        st.decimals(
            allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
        ),
        st.dates(),
        timestamps(),
        names(max_size=60),
    )
    keys = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
    return st.dictionaries(keys, scalars, max_size=5).map(FieldValues)


def _optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), strategy)


def _created_updated() -> st.SearchStrategy[tuple[datetime | None, datetime | None]]:
    def pair(
        created: datetime | None, delta: timedelta | None
    ) -> tuple[datetime | None, datetime | None]:
        if created is None:
            return None, None
        return created, (None if delta is None else created + delta)

    return st.builds(
        pair,
        st.one_of(st.none(), timestamps()),
        st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=900))),
    )


_TEXT: Final = names


def _conversions() -> st.SearchStrategy[ConversionRecord]:
    return st.builds(
        ConversionRecord,
        account_id=record_ids("account"),
        contact_id=record_ids("contact"),
        opportunity_id=_optional(record_ids("opportunity")),
        converted_at=timestamps(),
        status=st.sampled_from([s.name for s in DEFAULT_LEAD_PROCESS.converted_statuses]),
    )


def leads(
    *,
    ids: st.SearchStrategy[str] | None = None,
    custom: st.SearchStrategy[FieldValues] | None = None,
    converted: st.SearchStrategy[bool] | None = None,
) -> st.SearchStrategy[Lead]:
    """Valid leads with most fields filled at random.

    Args:
        ids: strategy for ids (default ``lead-<hex>``).
        custom: strategy for custom values (default :func:`custom_values`).
        converted: whether the lead is converted (default: sometimes).
    """
    _arguments("leads", {"ids": ids, "custom": custom, "converted": converted})
    unconverted = [s.name for s in DEFAULT_LEAD_PROCESS.statuses if not s.is_converted]

    def build(
        fields: dict[str, object],
        stamps: tuple[datetime | None, datetime | None],
        conversion: ConversionRecord | None,
    ) -> Lead:
        created, updated = stamps
        if conversion is not None:
            fields["status"] = conversion.status
        return Lead(created_at=created, updated_at=updated, converted=conversion, **fields)  # type: ignore[arg-type]

    fields = st.fixed_dictionaries(
        {
            "id": ids if ids is not None else record_ids("lead"),
            "first_name": _optional(names()),
            "last_name": names(max_size=80),
            "company": names(max_size=255),
            "is_person": st.booleans(),
            "title": _optional(names(max_size=128)),
            "email": _optional(emails()),
            "phone": _optional(phones()),
            "mobile": _optional(phones()),
            "website": _optional(st.sampled_from(["acme.com", "https://www.example.org/about"])),
            "industry": _optional(
                st.sampled_from(["Technology", "Retail", "Banking", "Education"])
            ),
            "annual_revenue": _optional(moneys()),
            "employees": _optional(st.integers(min_value=0, max_value=500_000)),
            "address": _optional(addresses()),
            "source": _optional(
                st.sampled_from(["Web", "Phone Inquiry", "Partner Referral", "Other"])
            ),
            "campaign_id": _optional(record_ids("campaign")),
            "status": st.sampled_from(unconverted),
            "rating": _optional(st.sampled_from(["Hot", "Warm", "Cold"])),
            "owner_id": _optional(record_ids("user")),
            "owner_is_queue": st.booleans(),
            "team_id": _optional(record_ids("team")),
            "tags": st.frozensets(names(max_size=20), max_size=4),
            "description": _optional(
                st.text(_LETTERS | st.sampled_from(" \n.,"), min_size=1, max_size=200).filter(
                    lambda s: not s.isspace()
                )
            ),
            "do_not_call": st.booleans(),
            "email_opt_out": st.booleans(),
            "lifecycle_stage": _optional(st.sampled_from(list(LifecycleStage))),
            "custom": custom if custom is not None else custom_values(),
        }
    )
    converted_flags = converted if converted is not None else st.sampled_from([False, False, True])
    conversion = converted_flags.flatmap(lambda yes: _conversions() if yes else st.none())
    return st.builds(build, fields, _created_updated(), conversion)


def contacts(
    *,
    ids: st.SearchStrategy[str] | None = None,
    custom: st.SearchStrategy[FieldValues] | None = None,
) -> st.SearchStrategy[Contact]:
    """Valid contacts with most fields filled at random."""
    _arguments("contacts", {"ids": ids, "custom": custom})

    def build(
        fields: dict[str, object], stamps: tuple[datetime | None, datetime | None]
    ) -> Contact:
        return Contact(created_at=stamps[0], updated_at=stamps[1], **fields)  # type: ignore[arg-type]

    fields = st.fixed_dictionaries(
        {
            "id": ids if ids is not None else record_ids("contact"),
            "first_name": _optional(names()),
            "last_name": names(max_size=80),
            "account_id": _optional(record_ids("account")),
            "title": _optional(names(max_size=128)),
            "email": _optional(emails()),
            "phone": _optional(phones()),
            "mobile": _optional(phones()),
            "mailing_address": _optional(addresses()),
            "source": _optional(st.sampled_from(["Web", "Trade Show", "Other"])),
            "owner_id": _optional(record_ids("user")),
            "description": _optional(names(max_size=200)),
            "do_not_call": st.booleans(),
            "email_opt_out": st.booleans(),
            "lifecycle_stage": _optional(st.sampled_from(list(LifecycleStage))),
            "tags": st.frozensets(names(max_size=20), max_size=4),
            "custom": custom if custom is not None else custom_values(),
        }
    )
    return st.builds(build, fields, _created_updated())


def accounts(
    *,
    ids: st.SearchStrategy[str] | None = None,
    custom: st.SearchStrategy[FieldValues] | None = None,
) -> st.SearchStrategy[Account]:
    """Valid accounts with most fields filled at random."""
    _arguments("accounts", {"ids": ids, "custom": custom})

    def build(
        fields: dict[str, object], stamps: tuple[datetime | None, datetime | None]
    ) -> Account:
        return Account(created_at=stamps[0], updated_at=stamps[1], **fields)  # type: ignore[arg-type]

    fields = st.fixed_dictionaries(
        {
            "id": ids if ids is not None else record_ids("account"),
            "name": names(max_size=255),
            "website": _optional(st.sampled_from(["acme.com", "https://example.org"])),
            "industry": _optional(st.sampled_from(["Technology", "Retail", "Banking"])),
            "annual_revenue": _optional(moneys()),
            "employees": _optional(st.integers(min_value=0, max_value=500_000)),
            "phone": _optional(phones()),
            "billing_address": _optional(addresses()),
            "rating": _optional(st.sampled_from(["Hot", "Warm", "Cold"])),
            "owner_id": _optional(record_ids("user")),
            "parent_id": _optional(record_ids("parent")),
            "source": _optional(st.sampled_from(["Web", "Other"])),
            "is_person": st.booleans(),
            "custom": custom if custom is not None else custom_values(),
        }
    )
    return st.builds(build, fields, _created_updated())


def opportunities(
    *,
    ids: st.SearchStrategy[str] | None = None,
    custom: st.SearchStrategy[FieldValues] | None = None,
) -> st.SearchStrategy[Opportunity]:
    """Valid opportunities at any stage of the default sales process."""
    _arguments("opportunities", {"ids": ids, "custom": custom})

    def build(
        fields: dict[str, object], stamps: tuple[datetime | None, datetime | None]
    ) -> Opportunity:
        return Opportunity(created_at=stamps[0], updated_at=stamps[1], **fields)  # type: ignore[arg-type]

    fields = st.fixed_dictionaries(
        {
            "id": ids if ids is not None else record_ids("opportunity"),
            "name": names(max_size=120),
            "account_id": _optional(record_ids("account")),
            "contact_id": _optional(record_ids("contact")),
            "stage": st.sampled_from([s.name for s in DEFAULT_OPPORTUNITY_PROCESS.stages]),
            "amount": _optional(moneys()),
            "close_date": _optional(
                st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1))
            ),
            "probability": _optional(st.integers(min_value=0, max_value=100)),
            "source": _optional(st.sampled_from(["Web", "Other"])),
            "campaign_id": _optional(record_ids("campaign")),
            "owner_id": _optional(record_ids("user")),
            "lost_reason": _optional(names(max_size=255)),
            "custom": custom if custom is not None else custom_values(),
        }
    )
    return st.builds(build, fields, _created_updated())


def activities(
    *,
    ids: st.SearchStrategy[str] | None = None,
    subject_ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Activity]:
    """Valid activities (page views, email opens, calls …) of some record."""
    _arguments("activities", {"ids": ids, "subject_ids": subject_ids})
    return st.builds(
        Activity,
        id=ids if ids is not None else record_ids("activity"),
        subject_id=subject_ids if subject_ids is not None else record_ids("lead"),
        kind=st.sampled_from(ACTIVITY_KINDS),
        occurred_at=timestamps(),
        properties=custom_values(),
    )


def convert_options(
    *,
    statuses: st.SearchStrategy[str] | None = None,
    into_existing: st.SearchStrategy[bool] | None = None,
) -> st.SearchStrategy[ConvertOptions]:
    """Valid :class:`~leadmodel.ConvertOptions`, with or without an opportunity.

    Args:
        statuses: strategy for ``converted_status`` (default: the default process's
            converted statuses).
        into_existing: whether the options name an existing account (``A-1``) and
            sometimes a contact (``C-1``); pass the records as ``ExistingRecords``.
            Default: never.
    """
    _arguments("convert_options", {"statuses": statuses, "into_existing": into_existing})
    status = (
        statuses
        if statuses is not None
        else st.sampled_from([s.name for s in DEFAULT_LEAD_PROCESS.converted_statuses])
    )
    existing = into_existing if into_existing is not None else st.just(value=False)

    def build(
        *,
        converted_status: str,
        into: bool,
        with_contact: bool,
        create: bool,
        name: str | None,
        owner: str | None,
        policy: MergePolicy,
        overwrite: frozenset[str],
        notify: bool,
    ) -> ConvertOptions:
        contact = "C-1" if into and with_contact else None
        return ConvertOptions(
            converted_status,
            account_id="A-1" if into else None,
            contact_id=contact,
            create_opportunity=create,
            opportunity_name=name if create else None,
            owner_id=owner,
            merge_policy=policy,
            overwrite_fields=overwrite,
            overwrite_lead_source=contact is not None and "source" in overwrite,
            notify_owner=notify,
        )

    return st.builds(
        build,
        converted_status=status,
        into=existing,
        with_contact=st.booleans(),
        create=st.booleans(),
        name=st.none() | names(max_size=80),
        owner=st.none() | record_ids("user"),
        policy=st.sampled_from(MergePolicy),
        overwrite=st.frozensets(
            st.sampled_from(["title", "phone", "contact.email", "account.website"])
        ),
        notify=st.booleans(),
    )


CRITERION_FIELDS: Final = (
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "source",
    "status",
    "rating",
    "industry",
    "employees",
    "annual_revenue",
    "created_at",
    "tags",
    "do_not_call",
    "lifecycle_stage",
    "address.country",
    "address.city",
    "custom.visits",
    "custom.plan",
    "custom.signed",
    "custom.vip",
    "no_such_field",
)
"""Lead field paths :func:`criteria` draws from by default (one is unknown on purpose)."""

_WORDS: Final = ("Web", "web", "US", "vip", "Hot", "lead", "Acme", "pro", "ACME Inc", "")


def _scalars(family: str) -> st.SearchStrategy[object]:
    strategies: dict[str, st.SearchStrategy[object]] = {
        "text": st.sampled_from(_WORDS) | names(max_size=12),
        "int": st.integers(min_value=-1000, max_value=10**6),
        "decimal": st.decimals(
            min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
        ),
        "date": st.dates(),
        "datetime": timestamps(),
        "bool": st.booleans(),
    }
    return strategies[family]


@st.composite
def _conditions(draw: st.DrawFn, fields: st.SearchStrategy[str]) -> Condition:
    field = draw(fields)
    op = draw(st.sampled_from(sorted(OPERATORS)))
    one = _scalars(draw(st.sampled_from(["text", "int", "decimal", "date", "datetime", "bool"])))
    value: object = None
    if op in ("in", "not_in"):
        value = tuple(draw(st.lists(one, min_size=1, max_size=3)))
    elif op == "between":
        value = tuple(sorted((draw(one), draw(one))))  # type: ignore[type-var]
    elif op in ("contains", "starts_with", "ends_with"):
        value = draw(_scalars("text"))
    elif op not in ("is_blank", "is_not_blank", "changed"):
        value = draw(one)
    try:
        return Condition(field, op, value)
    except ValidationError:  # a blank text for eq, say: a condition that always builds
        return Condition(field, "is_not_blank")


def criteria(
    *, fields: st.SearchStrategy[str] | None = None, max_leaves: int = 6
) -> st.SearchStrategy[Criterion]:
    """Valid criteria: every operator, values of every type, nested in ``All``/``Any``/``Not``.

    Groups may be empty (``All([])`` always holds, ``Any([])`` never does).

    Values are often of another type than their field's, which a criterion simply does not
    match; one field path is unknown on purpose.

    Args:
        fields: strategy for field paths (default: :data:`CRITERION_FIELDS`).
        max_leaves: the most conditions in one criterion.
    """
    _arguments("criteria", {"fields": fields}, {"max_leaves": max_leaves})
    paths = fields if fields is not None else st.sampled_from(CRITERION_FIELDS)
    leaves: st.SearchStrategy[Criterion] = _conditions(paths)
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, min_size=0, max_size=3).map(All)
            | st.lists(inner, min_size=0, max_size=3).map(Any)
            | inner.map(Not)
        ),
        max_leaves=max_leaves,
    )


def decays() -> st.SearchStrategy[Decay]:
    """Every kind of engagement decay: none, linear, half-life and a time frame."""
    days = st.integers(min_value=1, max_value=400)
    return st.just(Decay()) | st.builds(
        Decay, st.sampled_from(["linear", "half_life", "last"]), days
    )


_POINTS: Final = st.integers(min_value=-50, max_value=50) | st.floats(
    min_value=-50, max_value=50, allow_nan=False
)
_CAPS: Final = (
    st.none() | st.integers(min_value=1, max_value=200) | st.floats(min_value=0.5, max_value=200)
)


def scoring_models(
    *,
    fit: st.SearchStrategy[Criterion] | None = None,
    points: st.SearchStrategy[float] | None = None,
    max_rules: int = 6,
) -> st.SearchStrategy[ScoringModel]:
    """Valid scoring models: fit and engagement rules, groups, caps, decay, bands.

    Args:
        fit: strategy for fit criteria (default: :func:`criteria`).
        points: strategy for rule points (default: whole and fractional, ±50).
        max_rules: the most rules of each kind.
    """
    _arguments("scoring_models", {"fit": fit, "points": points}, {"max_rules": max_rules})
    return _scoring_models(fit=fit, points=points, max_rules=max_rules)


@st.composite
def _scoring_models(
    draw: st.DrawFn,
    *,
    fit: st.SearchStrategy[Criterion] | None = None,
    points: st.SearchStrategy[float] | None = None,
    max_rules: int = 6,
) -> ScoringModel:
    """Valid scoring models: fit and engagement rules, groups, caps, decay, bands.

    Args:
        draw: supplied by hypothesis.
        fit: strategy for fit criteria (default: :func:`criteria`).
        points: strategy for rule points (default: whole and fractional, ±50).
        max_rules: the most rules of each kind.
    """
    criteria_ = fit if fit is not None else criteria(max_leaves=3)
    points_ = points if points is not None else _POINTS
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3))
    group_caps = {g: draw(_CAPS) for g in groups}
    # A group holds one kind of rule: "a" fit, the others engagement.
    fit_groups = st.sampled_from([None, *(g for g in groups if g == "a")])
    eng_groups = st.sampled_from([None, *(g for g in groups if g != "a")])
    fit_rules = [
        FitRule(f"fit {i}", draw(criteria_), draw(points_), group=draw(fit_groups))
        for i in range(draw(st.integers(0, max_rules)))
    ]
    engagement_rules = [
        EngagementRule(
            f"engagement {i}",
            draw(st.sampled_from(ACTIVITY_KINDS)),
            draw(points_),
            criterion=draw(
                st.none() | criteria(fields=st.sampled_from(["kind", "properties.url"]))
            ),
            cap=draw(_CAPS),
            window=draw(st.none() | st.builds(TimeWindow, st.integers(1, 30), st.integers(1, 100))),
            decay=draw(decays()),
            group=draw(eng_groups),
        )
        for i in range(draw(st.integers(0, max_rules)))
    ]
    minimums = draw(st.lists(st.integers(-50, 150), unique=True, max_size=3))
    bands = [Band(f"band {m}", m) for m in minimums]
    if draw(st.booleans()):
        bands.append(Band("rest"))
    return ScoringModel(
        fit=fit_rules,
        engagement=engagement_rules,
        groups=[ScoreGroup(g, group_caps[g]) for g in groups],
        total_cap=draw(_CAPS),
        allow_negative=draw(st.booleans()),
        bands=bands,
    )


def consents(
    *,
    ids: st.SearchStrategy[str] | None = None,
    subject_ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Consent]:
    """Valid consents of some record: every channel, status and lawful basis, some expiring.

    >>> from hypothesis import given
    >>> @given(consents())
    ... def test_expiry_is_never_before_capture(consent):
    ...     assert consent.expires_at is None or consent.expires_at >= consent.captured_at
    >>> test_expiry_is_never_before_capture()
    """
    _arguments("consents", {"ids": ids, "subject_ids": subject_ids})

    def build(fields: dict[str, object], captured: datetime, lasts: timedelta | None) -> Consent:
        expires = None if lasts is None else captured + lasts
        return Consent(captured_at=captured, expires_at=expires, **fields)  # type: ignore[arg-type]

    fields = st.fixed_dictionaries(
        {
            "id": ids if ids is not None else record_ids("consent"),
            "subject_id": subject_ids if subject_ids is not None else record_ids("lead"),
            "channel": st.sampled_from(["email", "phone", "sms", "post"]),
            "purpose": st.sampled_from(["marketing", "newsletter", "sales", "événements"]),
            "status": st.sampled_from(["granted", "denied", "withdrawn"]),
            "lawful_basis": st.sampled_from(
                [
                    "consent",
                    "contract",
                    "legal_obligation",
                    "vital_interests",
                    "public_task",
                    "legitimate_interests",
                ]
            ),
            "source": st.none() | st.sampled_from(["web form", "import", "call"]),
            "proof": st.none() | st.sampled_from(["box 'Email me'", "form F-1\nIP hash 9f86d0"]),
            "provenance": st.lists(record_ids("consent"), max_size=2).map(tuple),
        }
    )
    lasts = st.none() | st.timedeltas(timedelta(0), timedelta(days=3 * 365))
    return st.builds(build, fields, timestamps(), lasts)


def privacy_log_entries(
    *, ids: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[PrivacyLogEntry]:
    """Valid privacy log entries: every kind, a keyed hash, counts of records touched."""
    _arguments("privacy_log_entries", {"ids": ids})
    return st.builds(
        PrivacyLogEntry,
        id=ids if ids is not None else record_ids("privacy"),
        kind=st.sampled_from(["find", "export", "erase", "suppressed"]),
        subject_hash=st.text("0123456789abcdef", min_size=64, max_size=64),
        at=timestamps(),
        mode=st.none() | st.sampled_from(["delete", "anonymise"]),
        counts=st.dictionaries(
            st.sampled_from(["lead", "contact", "account", "activity", "merge", "consent"]),
            st.integers(0, 10**6),
            max_size=4,
        ).map(FieldValues),
    )


def register_type_strategies() -> None:
    """Register these strategies with ``st.from_type`` (the entry point does this lazily)."""
    strategies = globals()
    for cls, name in registrations():
        st.register_type_strategy(cls, strategies[name]())
