"""Issue 5's criteria property: a compiled criterion always agrees with evaluate."""

from hypothesis import given
from hypothesis import strategies as st

from leadmodel import EmailAddress, Lead, ValidationError, evaluate, to_dict
from leadmodel.rules.criteria import compile as compile_criterion
from leadmodel.testing import strategies as lst

CUSTOM = st.fixed_dictionaries(
    {},
    optional={
        "visits": st.integers(min_value=-5, max_value=50),
        "plan": st.sampled_from(["pro", "free", "PRO"]),
        "signed": st.dates(),
        "vip": st.booleans(),
    },
)
LEADS = lst.leads(custom=CUSTOM)
RECORDS = LEADS | LEADS.map(to_dict)  # entities, and plain dicts with lists and strings


@given(lst.criteria(), RECORDS, st.none() | RECORDS)
def test_a_compiled_criterion_agrees_with_evaluate(criterion, record, previous):
    compiled = compile_criterion(criterion)
    assert compiled(record, previous) == evaluate(criterion, record, previous=previous)
    assert criterion.compile() is compiled


@given(lst.criteria())
def test_criteria_round_trip_through_json(criterion):
    from leadmodel import Criterion, from_json, to_json

    assert from_json(Criterion, to_json(criterion)) == criterion


def test_compile_refuses_what_is_not_a_criterion():
    for bad in (None, "source = Web", {"field": "source"}):
        try:
            compile_criterion(bad)
        except ValidationError as error:
            assert error.errors[0].code == "type"
        else:
            raise AssertionError(bad)


def test_compiled_text_tests_ignore_case_and_types():
    from leadmodel import Condition

    lead = Lead(id="L1", last_name="Ng", company="Acme", email=EmailAddress.parse("NG@acme.com"))
    assert compile_criterion(Condition("email", "ends_with", "@ACME.COM"))(lead)
    assert not compile_criterion(Condition("company", "gt", 3))(lead)
    assert compile_criterion(Condition("company", "ne", 3))(lead)


def test_compiled_criteria_tell_numbers_from_booleans():
    from leadmodel import Condition

    lead = Lead(id="L1", last_name="Ng", company="Acme", custom={"visits": 1, "vip": True})
    # Equal as Python values (1 == True), different criteria: neither may reuse the other.
    assert compile_criterion(Condition("custom.vip", "eq", True))(lead)
    assert not compile_criterion(Condition("custom.vip", "eq", 1))(lead)
    assert compile_criterion(Condition("custom.visits", "eq", 1))(lead)
    assert not compile_criterion(Condition("custom.visits", "eq", True))(lead)
    assert compile_criterion(Condition("custom.visits", "not_in", (False,)))(lead)
