import pytest

from leadmodel import (
    STANDARD_CONTACT_RULE,
    STANDARD_LEAD_RULE,
    Condition,
    Contact,
    DuplicateAction,
    DuplicateBlocked,
    DuplicateCheck,
    DuplicateIndex,
    DuplicatePolicy,
    EmailAddress,
    Lead,
    ValidationError,
    check_duplicates,
    from_json,
    to_json,
    update,
)

STORED = [
    Lead(
        id="L1",
        first_name="Ann",
        last_name="Lee",
        company="Acme",
        email=EmailAddress.parse("ann@acme.com"),
    ),
    Lead(id="L2", first_name="Tom", last_name="Ford", company="Globex"),
]
CONTACTS = [
    Contact(id="C1", first_name="Anne", last_name="Lee", email=EmailAddress.parse("ann@acme.com"))
]
NEW = Lead(
    id="L9",
    first_name="Anne",
    last_name="Lee",
    company="Acme Inc",
    email=EmailAddress.parse("ANN@acme.com"),
)


def policy(**kwargs):
    kwargs.setdefault("rules", [STANDARD_LEAD_RULE])
    return DuplicatePolicy("leads", **kwargs)


def test_no_duplicates_allows():
    check = check_duplicates(STORED[1], STORED, policy())
    assert (check.decision, check.matches) == ("allow", ())


def test_defaults_alert_on_create_and_report_on_edit():
    assert check_duplicates(NEW, STORED, policy()).decision == "alert"
    previous = Lead(id="L9", first_name="Anne", last_name="Lee", company="Acme Inc")
    assert (
        check_duplicates(NEW, STORED, policy(), action="edit", previous=previous).decision
        == "report"
    )


def test_block_and_its_override():
    blocking = policy(on_create=DuplicateAction.BLOCK)
    check = check_duplicates(NEW, STORED, blocking)
    assert check.is_blocked
    assert check.rule == "standard_lead"
    with pytest.raises(DuplicateBlocked):
        check.raise_if_blocked()
    overridden = check_duplicates(NEW, STORED, blocking, allow_save=True)
    assert (overridden.decision, overridden.overridden) == ("alert", True)
    overridden.raise_if_blocked()


def test_on_edit_runs_only_when_a_matched_field_changed():
    stored = STORED[0]
    edited = update(stored, description="called back")
    check = check_duplicates(
        edited,
        [*STORED, NEW],
        policy(on_edit=DuplicateAction.BLOCK),
        action="edit",
        previous=stored,
    )
    assert check.decision == "allow"
    assert "no field" in check.reason
    renamed = update(stored, first_name="Anne")
    check = check_duplicates(
        renamed,
        [*STORED, NEW],
        policy(on_edit=DuplicateAction.BLOCK),
        action="edit",
        previous=stored,
    )
    assert check.decision == "block"


def test_condition_limits_when_the_policy_applies():
    imported = update(NEW, source="Import")
    only_web = policy(condition=Condition("source", "ne", "Import"))
    assert check_duplicates(imported, STORED, only_web).decision == "allow"
    assert check_duplicates(NEW, STORED, only_web).decision == "alert"


def test_a_lead_is_checked_against_leads_and_contacts():
    cross = policy(rules=[STANDARD_LEAD_RULE, STANDARD_CONTACT_RULE])
    check = check_duplicates(NEW, [*STORED, *CONTACTS], cross)
    assert [m.b_id for m in check.matches] == ["C1", "L1"] or [m.b_id for m in check.matches] == [
        "L1",
        "C1",
    ]
    assert {m.b_id for m in check.matches} == {"C1", "L1"}


def test_with_an_index():
    index = DuplicateIndex(STANDARD_LEAD_RULE, STORED)
    check = check_duplicates(NEW, index, policy())
    assert [m.b_id for m in check.matches] == ["L1"]
    with pytest.raises(ValidationError):
        check_duplicates(NEW, DuplicateIndex(STANDARD_CONTACT_RULE), policy())


def test_the_record_is_not_its_own_duplicate():
    assert check_duplicates(STORED[0], STORED, policy()).decision == "allow"


def test_round_trips_through_json():
    rules = policy(on_create=DuplicateAction.BLOCK, condition=Condition("source", "ne", "Import"))
    assert from_json(DuplicatePolicy, to_json(rules)) == rules
    check = check_duplicates(NEW, STORED, rules)
    assert from_json(DuplicateCheck, to_json(check)) == check


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_duplicates(NEW, STORED, "policy"),
        lambda: check_duplicates(NEW, STORED, policy(), action="delete"),
        lambda: check_duplicates(NEW, 5, policy()),
        lambda: check_duplicates(NEW, [{"first_name": "x"}], policy()),
        lambda: DuplicatePolicy("x", []),
        lambda: DuplicatePolicy("x", [STANDARD_LEAD_RULE], on_create="block"),
        lambda: DuplicatePolicy("x", [STANDARD_LEAD_RULE], condition="source = Web"),
    ],
)
def test_bad_input(call):
    with pytest.raises(ValidationError):
        call()
