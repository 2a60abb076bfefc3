"""Match results cross process boundaries (forked preparation, Dask, Spark) as pickles."""

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import PROBABILISTIC_LEAD_RULE, STANDARD_LEAD_RULE, MatchResult, compare

people = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["1", "2"]),
        "first_name": st.sampled_from(["Ann", "Anne", "Bob", None, ""]),
        "last_name": st.sampled_from(["Lee", "Leigh", None]),
        "email": st.sampled_from(["a@x.com", "A@x.com", "b@y.org", None]),
        "company": st.sampled_from(["Acme", "Acme Inc.", None]),
        "phone": st.sampled_from(["+14155550100", "(415) 555-0101", None]),
    }
)


@settings(max_examples=60, deadline=None)
@given(people, people, st.sampled_from([STANDARD_LEAD_RULE, PROBABILISTIC_LEAD_RULE]))
def test_a_pickled_result_comes_back_equal_and_whole(a, b, rule):
    result = compare(a, b, rule)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(result, protocol=protocol))  # noqa: S301 - our own bytes
        assert type(back) is MatchResult
        assert back == result
        assert hash(back) == hash(result)
        assert back.field_scores == result.field_scores
