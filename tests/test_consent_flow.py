"""Consent in the flow: web-form opt-outs and consent boxes, the last-moment gate (issue 18)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Self

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    DEFAULT_ALIASES,
    AutoResponseRule,
    Condition,
    Consent,
    EmailAddress,
    FormSpec,
    Lead,
    LeadCaptured,
    Money,
    Notification,
    Notify,
    Suppressed,
    TimeTrigger,
    Trigger,
    TriggerClock,
    ValidationError,
    WorkflowRule,
    consent_decision,
    form_consents,
    parse_web_form,
)
from leadmodel._consent_gate import check_notification
from leadmodel.adapters.memory import MemoryNotifier, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.services import CaptureConfig, _deliver, apply_workflows, capture_lead, run_due

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
THANKS = AutoResponseRule([], default_template="thanks", default_sender="sales@acme.com")
FORM = {"name": "Ada Lovelace", "email": "ada@engines.io", "company": "Engines"}


class NoConsents:
    """A unit of work without ``SupportsConsents``: a memory unit hiding its consents."""

    def __init__(self) -> None:
        self._unit = MemoryUnitOfWork()

    def __getattr__(self, name: str) -> Any:
        if name == "consents":
            raise AttributeError(name)
        return getattr(self._unit, name)

    def __enter__(self) -> Self:
        self._unit.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._unit.__exit__(*exc)


def new_unit(kind: str) -> Any:
    """A fresh unit of work of *kind* (``memory`` or ``sqlite``), each on its own store."""
    if kind == "memory":
        return MemoryUnitOfWork()
    return SQLiteUnitOfWork(SQLiteStore(":memory:"))


KINDS = pytest.mark.parametrize("kind", ["memory", "sqlite"])


def store(uow: Any, *records: Any) -> None:
    with uow:
        for record in records:
            repository = uow.consents if isinstance(record, Consent) else uow.leads
            repository.add(record)
        uow.commit()


def stored_consents(uow: Any) -> list[Consent]:
    with uow:
        return sorted(uow.consents, key=lambda c: c.id)


def consent(subject: str, status: str, *, day: int = 1, **fields: Any) -> Consent:
    values: dict[str, Any] = {"channel": "email", "purpose": "marketing"} | fields
    return Consent(
        id=f"C-{subject}-{status}-{day}-{values['channel']}-{values['purpose']}",
        subject_id=subject,
        status=status,  # type: ignore[arg-type]
        captured_at=datetime(2026, 3, day, tzinfo=UTC),
        **values,
    )


# -- web forms ----------------------------------------------------------------------------


def test_email_opt_out_on_a_web_form_sets_the_flag_and_no_auto_response_is_sent():
    # Before issue 18: emailOptOut went to form_extra, email_opt_out stayed False, and
    # the auto-response was sent.
    uow, notifier = MemoryUnitOfWork(), MemoryNotifier()
    form = FORM | {"emailOptOut": "1"}
    result = capture_lead(
        uow,
        form,
        CaptureConfig(auto_response=THANKS),
        ids=SequentialIds(),
        now=NOW,
        notifier=notifier,
    )
    assert result.lead is not None
    assert result.lead.email_opt_out is True
    assert "form_extra" not in result.lead.custom
    assert notifier.sent == []
    assert [(c.channel, c.purpose, c.status) for c in result.consents] == [
        ("email", "marketing", "withdrawn")
    ]


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("emailOptOut", "email_opt_out"),
        ("email_opt_out", "email_opt_out"),
        ("HasOptedOutOfEmail", "email_opt_out"),
        ("hs_email_optout", "email_opt_out"),
        ("Unsubscribed from all email", "email_opt_out"),
        ("DoNotCall", "do_not_call"),
        ("do_not_call", "do_not_call"),
    ],
)
def test_opt_out_fields_of_each_crm_land_on_their_flag(name, flag):
    lead = parse_web_form({"last_name": "Ng", name: "on"}, FormSpec(), ids=str, now=NOW)
    assert isinstance(lead, Lead)
    assert getattr(lead, flag) is True
    unticked = parse_web_form({"last_name": "Ng", name: "0"}, FormSpec(), ids=str, now=NOW)
    assert isinstance(unticked, Lead)
    assert getattr(unticked, flag) is False


def test_form_aliases_to_email_opt_out_and_annual_revenue_land():
    # Before issue 18 both were read and then silently dropped.
    spec = FormSpec(
        aliases={**DEFAULT_ALIASES, "nomail": "email_opt_out", "turnover": "annual_revenue"}
    )
    lead = parse_web_form(
        {"last_name": "Ng", "nomail": "yes", "turnover": "$1,200,000"}, spec, ids=str, now=NOW
    )
    assert isinstance(lead, Lead)
    assert lead.email_opt_out is True
    assert lead.annual_revenue == Money(Decimal(1_200_000), "USD")
    eur = parse_web_form(
        {"last_name": "Ng", "AnnualRevenue": "5000"}, FormSpec(currency="EUR"), ids=str, now=NOW
    )
    assert isinstance(eur, Lead)
    assert eur.annual_revenue == Money(Decimal(5000), "EUR")


def test_an_alias_to_a_place_a_value_cannot_land_is_refused_by_the_spec():
    with pytest.raises(ValidationError) as caught:
        FormSpec(aliases={"boss": "owner_id", "planet": "address.planet", "x": "custom."})
    assert sorted(e.code for e in caught.value.errors) == ["unknown_target"] * 3


def test_a_bad_opt_out_or_revenue_is_reported_on_its_field():
    got = parse_web_form(
        {"last_name": "Ng", "emailOptOut": "maybe", "revenue": "lots"}, FormSpec(), ids=str, now=NOW
    )
    assert not isinstance(got, Lead)
    assert got.fields == ("annual_revenue", "email_opt_out")


def test_consent_boxes_give_granted_and_denied_consents_with_their_proof():
    spec = FormSpec(
        consent_fields={
            "newsletter_ok": ("email", "newsletter", "Send me the newsletter"),
            "sms_ok": ("sms", "marketing"),
            "post_ok": ("post", "marketing"),
        }
    )
    form = {"last_name": "Ng", "Newsletter-OK": "on", "sms_ok": "0"}
    lead = parse_web_form(form, spec, ids=str, now=NOW)
    assert isinstance(lead, Lead)
    assert "form_extra" not in lead.custom  # the boxes are consents, not extra lead data
    found = form_consents(form, spec, subject_id="L1", ids=SequentialIds(), now=NOW)
    assert [(c.channel, c.purpose, c.status) for c in found] == [
        ("email", "newsletter", "granted"),
        ("sms", "marketing", "denied"),
    ]
    assert all(c.source == "web form" and c.captured_at == NOW for c in found)
    assert found[0].proof == "web form field 'Newsletter-OK' (Send me the newsletter): on"
    assert found[1].proof == "web form field 'sms_ok' (sms_ok): 0"


def test_a_consent_box_that_is_neither_ticked_nor_not_is_reported():
    spec = FormSpec(consent_fields={"ok": ("email", "marketing")})
    got = parse_web_form({"last_name": "Ng", "ok": "perhaps"}, spec, ids=str, now=NOW)
    assert not isinstance(got, Lead)
    assert got.fields == ("ok",)


@pytest.mark.parametrize(
    "rows",
    [
        {"ok": ("fax", "marketing")},
        {"ok": ("email", "Not A Purpose!")},
        {"ok": ("email",)},
        [("ok", "email", "marketing", 7)],
        "ok",
    ],
)
def test_bad_consent_fields_are_refused(rows):
    with pytest.raises(ValidationError) as caught:
        FormSpec(consent_fields=rows)
    assert caught.value.errors[0].path == "consent_fields"


def test_consent_fields_round_trip_through_json():
    from leadmodel.serialization import from_json, to_json

    spec = FormSpec(consent_fields={"ok": ("email", "newsletter", "Yes please")}, currency="EUR")
    assert from_json(FormSpec, to_json(spec)) == spec


def test_form_consents_refuses_misuse():
    with pytest.raises(ValidationError):
        form_consents({}, FormSpec(), subject_id=" ", ids=str, now=NOW)
    with pytest.raises(ValidationError):
        form_consents([], FormSpec(), subject_id="L1", ids=str, now=NOW)  # type: ignore[arg-type]


# -- the last-moment gate -----------------------------------------------------------------


@KINDS
def test_an_unticked_consent_box_suppresses_the_auto_response_with_its_reason(kind):
    uow, notifier = new_unit(kind), MemoryNotifier()
    spec = FormSpec(consent_fields={"marketing_ok": ("email", "marketing")})
    config = CaptureConfig(spec=spec, auto_response=THANKS)
    result = capture_lead(
        uow, FORM | {"marketing_ok": "off"}, config, ids=SequentialIds(), now=NOW, notifier=notifier
    )
    assert notifier.sent == []
    assert result.sent == ()
    [held] = result.suppressed
    assert held.notification.template == "thanks"
    assert held.consent_id == result.consents[0].id
    assert "denied" in held.reason
    assert stored_consents(uow) == list(result.consents)  # stored through uow.consents
    assert any(step.startswith("not sent: thanks") for step in result.steps)


def test_without_consent_storage_the_form_consents_still_gate_and_a_step_says_so():
    uow, notifier = NoConsents(), MemoryNotifier()
    spec = FormSpec(consent_fields={"marketing_ok": ("email", "marketing")})
    result = capture_lead(
        uow,
        FORM | {"marketing_ok": "0"},
        CaptureConfig(spec=spec, auto_response=THANKS),
        ids=SequentialIds(),
        now=NOW,
        notifier=notifier,
    )
    assert notifier.sent == []
    assert len(result.suppressed) == 1
    assert any("not stored" in step for step in result.steps)


def test_a_ticked_box_lets_the_auto_response_go():
    uow, notifier = MemoryUnitOfWork(), MemoryNotifier()
    spec = FormSpec(consent_fields={"marketing_ok": ("email", "marketing")})
    result = capture_lead(
        uow,
        FORM | {"marketing_ok": "1"},
        CaptureConfig(spec=spec, auto_response=THANKS),
        ids=SequentialIds(),
        now=NOW,
        notifier=notifier,
    )
    assert [n.template for n in notifier.sent] == ["thanks"]
    assert result.suppressed == ()


@KINDS
def test_workflow_notify_to_the_lead_is_gated_but_the_owner_alert_is_not(kind):
    uow, notifier = new_unit(kind), MemoryNotifier()
    rule = WorkflowRule(
        "welcome",
        Trigger("created"),
        Condition("last_name", "is_not_blank"),
        [Notify("lead", "welcome"), Notify("manager-1", "new_lead")],
    )
    spec = FormSpec(consent_fields={"marketing_ok": ("email", "marketing")})
    result = capture_lead(
        uow,
        FORM | {"marketing_ok": "no"},
        CaptureConfig(spec=spec, workflows=[rule]),
        ids=SequentialIds(),
        now=NOW,
        notifier=notifier,
    )
    assert [n.template for n in notifier.sent] == ["new_lead"]
    assert [s.notification.template for s in result.suppressed] == ["welcome"]


@KINDS
def test_apply_workflows_holds_back_a_notification_after_a_withdrawal(kind):
    uow = new_unit(kind)
    ada = Lead(
        id="L1", last_name="Lovelace", company="Engines", email=EmailAddress.parse("ada@engines.io")
    )
    store(uow, ada, consent("L1", "granted", day=1), consent("L1", "withdrawn", day=2))
    rule = WorkflowRule(
        "hi", Trigger("created"), Condition("last_name", "is_not_blank"), [Notify("lead", "hi")]
    )
    event = LeadCaptured(
        lead_id="L1", source=None, spam_score=0, pending_approval=False, occurred_at=NOW
    )
    outcome = apply_workflows(uow, event, [rule])
    assert outcome.notifications == ()
    [held] = outcome.suppressed
    assert held.consent_id == "C-L1-withdrawn-2-email-marketing"
    # A withdrawal the store holds is in force even for an event dated before it (an old
    # event replayed): the message would be sent now, to a person who said no.
    early = apply_workflows(uow, event, [rule], now=datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert early.notifications == ()
    assert [s.consent_id for s in early.suppressed] == ["C-L1-withdrawn-2-email-marketing"]


def test_apply_workflows_refuses_a_naive_now():
    uow = MemoryUnitOfWork()
    event = LeadCaptured(
        lead_id="L1", source=None, spam_score=0, pending_approval=False, occurred_at=NOW
    )
    with pytest.raises(ValidationError):
        apply_workflows(uow, event, [], now=datetime(2026, 1, 1))  # noqa: DTZ001


@KINDS
def test_a_time_trigger_notify_is_gated_at_the_moment_it_is_sent(kind):
    uow, notifier = new_unit(kind), MemoryNotifier()
    ada = Lead(
        id="L1",
        last_name="Lovelace",
        company="Engines",
        email=EmailAddress.parse("ada@engines.io"),
        created_at=NOW,
        updated_at=NOW,
    )
    store(uow, ada, consent("L1", "withdrawn", day=2, purpose="nurture"))
    trigger = TimeTrigger(
        "nurture after a day",
        Condition("last_name", "is_not_blank"),
        TriggerClock.created(),
        timedelta(days=1),
        [Notify("lead", "nurture_1"), Notify("ann", "follow_up")],
    )
    # a trigger's message is for "marketing" (no purpose in its data): a withdrawal
    # for "nurture" does not stop it ...
    run = run_due(
        uow, [trigger], ids=SequentialIds(), now=NOW + timedelta(days=2), notifier=notifier
    )
    assert sorted(n.template for n in notifier.sent) == ["follow_up", "nurture_1"]
    assert run.suppressed == ()
    # ... a marketing withdrawal does.
    uow2, notifier2 = new_unit(kind), MemoryNotifier()
    store(uow2, ada, consent("L1", "withdrawn", day=2))
    run2 = run_due(
        uow2, [trigger], ids=SequentialIds(), now=NOW + timedelta(days=2), notifier=notifier2
    )
    assert [n.template for n in notifier2.sent] == ["follow_up"]
    assert [s.notification.template for s in run2.suppressed] == ["nurture_1"]
    assert any(step.startswith("not sent: nurture_1") for step in run2.steps)


def test_a_notification_naming_its_purpose_is_checked_for_that_purpose():
    lead = Lead(id="L1", last_name="Ng", company="Acme", email=EmailAddress.parse("ng@x.io"))
    note = Notification(
        recipient="ng@x.io", template="digest", subject_id="L1", data={"purpose": "newsletter"}
    )
    denied = [consent("L1", "denied", purpose="newsletter")]
    assert check_notification(note, [lead], denied, now=NOW) is not None
    assert check_notification(note, [lead], [consent("L1", "denied")], now=NOW) is None


def test_do_not_call_suppresses_sms_and_phone_to_the_person():
    lead = Lead(id="L1", last_name="Ng", company="Acme", mobile=None, do_not_call=True)
    from leadmodel import PhoneNumber

    lead = Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        mobile=PhoneNumber.parse("+14155550100"),
        do_not_call=True,
    )
    sms = Notification(recipient="+14155550100", template="t", subject_id="L1", channel="sms")
    assert "do_not_call" in check_notification(sms, [lead], [], now=NOW).reason
    to_owner = Notification(recipient="ann", template="t", subject_id="L1", channel="sms")
    assert check_notification(to_owner, [lead], [], now=NOW) is None


# -- the property: nothing suppressed reaches the notifier, nothing is lost -------------------

CHANNELS = ("email", "sms", "phone", "post")
PURPOSES = ("marketing", "newsletter")
EMAIL, MOBILE = "ng@x.io", "+14155550100"


@st.composite
def consents_st(draw: Callable[..., Any]) -> list[Consent]:
    found = []
    for index in range(draw(st.integers(0, 6))):
        at = NOW - timedelta(days=draw(st.integers(-2, 30)))
        expires = draw(st.none() | st.integers(0, 40).map(lambda d, at=at: at + timedelta(days=d)))
        found += [
            Consent(
                id=f"C{index}",
                subject_id="L1",
                channel=draw(st.sampled_from(CHANNELS)),
                purpose=draw(st.sampled_from(PURPOSES)),
                status=draw(st.sampled_from(("granted", "denied", "withdrawn"))),
                captured_at=at,
                expires_at=expires,
            )
        ]
    return found


@st.composite
def notifications_st(draw: Callable[..., Any]) -> list[Notification]:
    return [
        Notification(
            recipient=draw(st.sampled_from((EMAIL, MOBILE, "ann"))),
            template=f"t{index}",
            subject_id="L1",
            channel=draw(st.sampled_from(CHANNELS)),
            data=draw(st.sampled_from(({}, {"purpose": "newsletter"}))),
        )
        for index in range(draw(st.integers(0, 5)))
    ]


@KINDS
@settings(max_examples=40, deadline=None)
@given(consents_st(), notifications_st(), st.booleans(), st.booleans())
def test_no_suppressed_notification_reaches_the_notifier(kind, consents, outgoing, opt_out, dnc):
    from leadmodel import PhoneNumber

    uow, notifier = new_unit(kind), MemoryNotifier()
    lead = Lead(
        id="L1",
        last_name="Ng",
        company="Acme",
        email=EmailAddress.parse(EMAIL),
        mobile=PhoneNumber.parse(MOBILE),
        email_opt_out=opt_out,
        do_not_call=dnc,
    )
    store(uow, lead, *consents)
    sent, failed, suppressed = _deliver(uow, outgoing, notifier, now=NOW)
    assert failed == ()
    assert list(sent) == notifier.sent
    # nothing lost: every notification was sent or suppressed, in order
    assert sorted(
        [*sent, *(s.notification for s in suppressed)], key=lambda n: n.template
    ) == sorted(outgoing, key=lambda n: n.template)
    for note in notifier.sent:
        if note.recipient == "ann":
            continue  # to a user: never gated
        if note.channel == "email":
            assert not opt_out
        if note.channel in ("sms", "phone"):
            assert not dnc
        purpose = note.data.get("purpose", "marketing")
        decision = consent_decision(consents, channel=note.channel, purpose=purpose, now=NOW)
        assert decision.allowed is not False
    for held in suppressed:
        assert isinstance(held, Suppressed)
        assert held.notification.recipient != "ann"
        assert held.reason


# -- conversion and merge carry consents --------------------------------------------------


@KINDS
def test_conversion_issues_the_leads_consents_again_for_the_contact(kind):
    from leadmodel import ConvertOptions
    from leadmodel.services import convert_lead

    uow = new_unit(kind)
    ada = Lead(
        id="L1", last_name="Lovelace", company="Engines", email=EmailAddress.parse("ada@engines.io")
    )
    granted, withdrawn = consent("L1", "granted", day=1), consent("L1", "withdrawn", day=2)
    store(uow, ada, granted, withdrawn)
    outcome = convert_lead(
        uow, "L1", ConvertOptions("Closed - Converted"), ids=SequentialIds(), now=NOW
    )
    contact = outcome.result.contact
    assert contact is not None
    assert sorted(c.provenance for c in outcome.consents) == [(granted.id,), (withdrawn.id,)]
    assert {c.subject_id for c in outcome.consents} == {contact.id}
    assert {c.id for c in stored_consents(uow)} >= {granted.id, withdrawn.id}  # the lead's stay
    # the contact's messages are gated by the carried withdrawal
    note = Notification(recipient="ada@engines.io", template="hi", subject_id=contact.id)
    _, held = _gate(uow, [note])
    assert held[0].consent_id in {c.id for c in outcome.consents}


def _gate(uow, outgoing):
    from leadmodel._consent_gate import gate

    return gate(uow, outgoing, now=NOW)


def _merge_unit(kind: str, spread: dict[str, list[Consent]]) -> Any:
    uow = new_unit(kind)
    leads = [Lead(id=i, last_name="Ng", company="Acme", created_at=NOW) for i in ("L1", "L2", "L3")]
    store(uow, *leads, *(c for items in spread.values() for c in items))
    return uow


@st.composite
def spread_consents(draw: Callable[..., Any]) -> dict[str, list[Consent]]:
    spread: dict[str, list[Consent]] = {"L1": [], "L2": [], "L3": []}
    for index in range(draw(st.integers(0, 8))):
        owner = draw(st.sampled_from(sorted(spread)))
        spread[owner].append(
            Consent(
                id=f"C{index}",
                subject_id=owner,
                channel=draw(st.sampled_from(CHANNELS)),
                purpose=draw(st.sampled_from(PURPOSES)),
                status=draw(st.sampled_from(("granted", "denied", "withdrawn"))),
                captured_at=NOW - timedelta(days=draw(st.integers(0, 30))),
            )
        )
    return spread


@KINDS
@settings(max_examples=30, deadline=None)
@given(spread_consents())
def test_a_merge_moves_every_consent_to_the_survivor_and_an_unmerge_gives_them_back(kind, spread):
    from leadmodel.services import merge_records, unmerge_records

    uow = _merge_unit(kind, spread)
    everything = [c for items in spread.values() for c in items]
    outcome = merge_records(uow, ["L1", "L2", "L3"], master="L1", now=NOW)
    after = {c.id: c for c in stored_consents(uow)}
    assert set(after) == {c.id for c in everything}  # nothing lost
    assert {c.subject_id for c in after.values()} <= {"L1"}
    for item in everything:
        moved = after[item.id]
        expected = item.provenance if item.subject_id == "L1" else (item.subject_id,)
        assert moved.provenance == expected
    for channel in CHANNELS:
        for purpose in PURPOSES:
            union = consent_decision(everything, channel=channel, purpose=purpose, now=NOW)
            merged = consent_decision(after.values(), channel=channel, purpose=purpose, now=NOW)
            assert merged == union  # the most recent per channel and purpose wins
    if any(spread[k] for k in ("L2", "L3")):
        assert any("consent" in note for note in outcome.notes)
    unmerge_records(uow, outcome.merge_id, now=NOW + timedelta(minutes=1))
    assert stored_consents(uow) == sorted(everything, key=lambda c: c.id)


def test_a_layout_form_keeps_opt_outs_and_a_posted_address_line():
    # Before issue 18 a layout's form_spec dropped the opt-out aliases (the value went to
    # form_extra) and mapped "address" to the whole address, where a value vanished.
    from leadmodel import Layout, LayoutSection

    layout = Layout("Web", [LayoutSection("Lead", ["last_name", "email", "address"])])
    form = {"last_name": "Ng", "address": "1 Main St", "emailOptOut": "1"}
    lead = parse_web_form(form, layout.form_spec(), ids=str, now=NOW)
    assert isinstance(lead, Lead)
    assert lead.email_opt_out is True
    assert lead.address is not None
    assert lead.address.street == "1 Main St"
    assert "form_extra" not in lead.custom


def test_a_submission_attached_to_an_existing_contact_gives_it_the_consents():
    from leadmodel import STANDARD_LEAD_RULE, Contact, DuplicateAction, DuplicatePolicy

    uow = MemoryUnitOfWork()
    with uow:
        uow.contacts.add(
            Contact(id="C1", last_name="Lovelace", email=EmailAddress.parse("ada@engines.io"))
        )
        uow.commit()
    config = CaptureConfig(
        spec=FormSpec(consent_fields={"news": ("email", "newsletter")}),
        duplicates=DuplicatePolicy("p", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT),
        attach_duplicates=True,
    )
    result = capture_lead(uow, FORM | {"news": "1"}, config, ids=SequentialIds(), now=NOW)
    assert result.status == "attached"
    assert [(c.subject_id, c.status) for c in result.consents] == [("C1", "granted")]
    assert stored_consents(uow) == list(result.consents)


@settings(max_examples=30, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and t.isprintable()),
    st.none() | st.sampled_from(("C1", "consent-9")),
    st.sampled_from(CHANNELS),
)
def test_suppressed_and_results_round_trip_through_json(reason, consent_id, channel):
    from leadmodel.serialization import from_json, to_json
    from leadmodel.services import CaptureResult

    note = Notification(recipient=EMAIL, template="t", subject_id="L1", channel=channel)
    held = Suppressed(note, reason, consent_id=consent_id)
    assert from_json(Suppressed, to_json(held)) == held
    result = CaptureResult(status="created", suppressed=(held,))
    assert from_json(CaptureResult, to_json(result)) == result


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
        st.tuples(st.sampled_from(CHANNELS), st.sampled_from(PURPOSES)),
        max_size=5,
    )
)
def test_consent_fields_are_order_independent_and_round_trip(rows):
    from leadmodel.serialization import from_json, to_json

    spec = FormSpec(consent_fields=rows)
    assert FormSpec(consent_fields=dict(reversed(list(rows.items())))) == spec
    assert from_json(FormSpec, to_json(spec)) == spec


@KINDS
@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(("1", "0", "on", "off", None)),
    st.sampled_from(("1", "0", None)),
    st.sampled_from(("marketing", "newsletter")),
)
def test_a_captured_person_who_said_no_gets_no_message(kind, box, opt_out, purpose):
    spec = FormSpec(consent_fields={"ok": ("email", purpose)})
    form = dict(FORM)
    if box is not None:
        form["ok"] = box
    if opt_out is not None:
        form["emailOptOut"] = opt_out
    welcome = WorkflowRule(
        "welcome", Trigger("created"), Condition("last_name", "is_not_blank"), [Notify("lead", "w")]
    )
    config = CaptureConfig(spec=spec, auto_response=THANKS, workflows=[welcome])
    uow, notifier = new_unit(kind), MemoryNotifier()
    result = capture_lead(uow, form, config, ids=SequentialIds(), now=NOW, notifier=notifier)
    said_no = opt_out == "1" or (purpose == "marketing" and box in ("0", "off"))
    to_person = [n for n in notifier.sent if n.recipient == "ada@engines.io"]
    assert (to_person == []) is said_no
    assert len(to_person) + len(result.suppressed) + (2 if opt_out == "1" else 0) == 2
