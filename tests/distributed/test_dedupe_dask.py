"""find_duplicates_dask (issue 19) on a real 2-worker LocalCluster: the same groups as
find_duplicates, whatever the partitioning."""

import sys

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    ColumnMapping,
    EmailAddress,
    Lead,
    ValidationError,
    find_duplicates,
)

try:
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd
    from dask.distributed import Client, LocalCluster
except ImportError:  # pragma: no cover - CI installs the test extra
    pytest.skip("dask[distributed] is not installed", allow_module_level=True)

from leadmodel.distributed import find_duplicates_dask

RULES = [STANDARD_LEAD_RULE, EXACT_EMAIL_OR_PHONE, attrs.evolve(STANDARD_LEAD_RULE, key_cap=2)]

rows_ = st.fixed_dictionaries(
    {
        "first_name": st.sampled_from(["Ann", "Anne", "Bob", "Robert", None]),
        "last_name": st.sampled_from(["Lee", "Smith", "Smyth"]),
        "company": st.sampled_from(["Acme", "Acme Inc.", "Globex", "A|b"]),
        "email": st.sampled_from(["a@x.com", "A@x.com", "b@y.com", None]),
        "phone": st.sampled_from(["+14155550100", "(415) 555-0100", None]),
    }
)


@st.composite
def tables(draw):
    rows = draw(st.lists(rows_, min_size=1, max_size=16))
    return [dict(row, id=f"r{n:02d}") for n, row in enumerate(rows)]


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: runs may overlap
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@settings(max_examples=8, deadline=None)
@given(tables(), st.integers(1, 5), st.sampled_from(RULES), st.booleans())
def test_cluster_groups_equal_single_process_groups(client, records, parts, rule, frame):
    if frame:
        data = dd.from_pandas(pd.DataFrame(records), npartitions=min(parts, len(records)))
    else:
        data = db.from_sequence(records, npartitions=parts)
    assert find_duplicates_dask(data, rule, client=client) == find_duplicates(records, rule)


def test_leads_and_the_current_client(client):
    leads = [
        Lead(
            id="L2",
            first_name="Bob",
            last_name="Ray",
            company="Acme",
            email=EmailAddress.parse("bob@acme.com"),
        ),
        Lead(
            id="L1",
            first_name="Rob",
            last_name="Ray",
            company="Acme",
            email=EmailAddress.parse("BOB@acme.com"),
        ),
        Lead(id="L3", first_name="Ann", last_name="Lee", company="Globex"),
    ]
    groups = find_duplicates_dask(db.from_sequence(leads, npartitions=3), STANDARD_LEAD_RULE)
    assert [g.ids for g in groups] == [("L1", "L2")]
    assert groups == find_duplicates(leads, STANDARD_LEAD_RULE)


def test_frame_rows_read_with_a_column_mapping(client):
    mapping = ColumnMapping(
        [
            ("First", "first_name"),
            ("Last", "last_name"),
            ("Company", "company"),
            ("E-mail", "email"),
        ]
    )
    frame = pd.DataFrame(
        {
            "key": ["a", "b", "c"],
            "First": ["Bob", "Robert", "Ann"],
            "Last": ["Ray", "Ray", "Lee"],
            "Company": ["Acme", "Acme", "Globex"],
            "E-mail": ["bob@acme.com", "Bob@Acme.com", None],
        }
    )
    groups = find_duplicates_dask(
        dd.from_pandas(frame, npartitions=2), STANDARD_LEAD_RULE, mapping=mapping, id_column="key"
    )
    assert [g.ids for g in groups] == [("a", "b")]


def test_repeated_ids_and_rows_without_ids_are_refused(client):
    rows = [{"id": "1", "email": "a@x.com"}, {"id": "1", "email": "b@x.com"}, {"id": "2"}]
    with pytest.raises(ValidationError) as caught:
        find_duplicates_dask(db.from_sequence(rows, npartitions=2), EXACT_EMAIL_OR_PHONE)
    assert [e.code for e in caught.value.errors] == ["duplicate_id"]
    with pytest.raises(ValidationError):
        find_duplicates_dask(db.from_sequence([{"email": "a@x.com"}]), EXACT_EMAIL_OR_PHONE)


@pytest.mark.parametrize(
    ("data", "rule", "options"),
    [
        ([{"id": "1"}], STANDARD_LEAD_RULE, {}),
        (None, STANDARD_LEAD_RULE, {}),
        ("bag", "standard", {}),
        ("bag", STANDARD_LEAD_RULE, {"mapping": {"a": "b"}}),
        ("bag", STANDARD_LEAD_RULE, {"client": "tcp://localhost"}),
        ("bag", STANDARD_LEAD_RULE, {"id_column": 3}),
        ("frame", STANDARD_LEAD_RULE, {"id_column": "missing"}),
    ],
)
def test_bad_arguments_are_refused(data, rule, options):
    if data == "bag":
        data = db.from_sequence([{"id": "1"}])
    elif data == "frame":
        data = dd.from_pandas(pd.DataFrame({"id": ["1"]}), npartitions=1)
    with pytest.raises(ValidationError):
        find_duplicates_dask(data, rule, **options)


def test_missing_extra_is_a_clear_error(monkeypatch):
    for name in [m for m in sys.modules if m == "dask" or m.startswith("dask.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ValidationError) as caught:
        find_duplicates_dask([], STANDARD_LEAD_RULE)
    assert caught.value.errors[0].code == "missing"


@settings(max_examples=6, deadline=None)
@given(tables(), st.integers(1, 5), st.sampled_from(RULES))
def test_groups_left_on_the_cluster_equal_single_process_groups(client, records, parts, rule):
    bag = find_duplicates_dask(
        db.from_sequence(records, npartitions=parts), rule, client=client, collect=False
    )
    assert isinstance(bag, db.Bag)
    groups = sorted(bag.compute(), key=lambda group: group.ids[0])
    assert groups == find_duplicates(records, rule)


def test_problems_are_raised_when_a_bag_of_groups_is_computed(client):
    rows = [{"id": "1", "email": "a@x.com"}, {"id": "1", "email": "a@x.com"}]
    bag = find_duplicates_dask(
        db.from_sequence(rows, npartitions=2), EXACT_EMAIL_OR_PHONE, collect=False
    )
    with pytest.raises(ValidationError) as caught:
        bag.compute()
    assert [e.code for e in caught.value.errors] == ["duplicate_id"]


def test_dotted_columns_are_nested_fields_and_missing_cells_are_blank(client):
    frame = pd.DataFrame(
        {
            "lead": ["a", "b", "c"],
            "id": ["x", "y", "z"],  # replaced by the id column
            "first_name": ["Ann", "Ann", None],
            "last_name": ["Lee", "Lee", "Lee"],
            "company": ["Acme", "Acme", float("nan")],
            "address.city": ["Paris", "Paris", None],
            "phone": ["+14155550100", "+14155550100", pd.NA],
        }
    )
    records = [
        {
            "id": row["lead"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "company": None if row["company"] != row["company"] else row["company"],
            "address": {"city": row["address.city"]},
            "phone": None if row["phone"] is pd.NA else row["phone"],
        }
        for row in frame.to_dict("records")
    ]
    got = find_duplicates_dask(
        dd.from_pandas(frame, npartitions=2), STANDARD_LEAD_RULE, id_column="lead"
    )
    assert got == find_duplicates(records, STANDARD_LEAD_RULE)
    assert [g.ids for g in got] == [("a", "b")]


@settings(max_examples=10, deadline=None)
@given(tables(), st.integers(1, 4), st.sampled_from(RULES))
def test_hash_collisions_never_change_the_groups(records, parts, rule):
    # Every key and id hashed alike: every key counts as shared and lands in one bucket.
    from unittest import mock

    import dask

    from leadmodel.distributed import _dedupe

    with mock.patch.object(_dedupe, "_hash", return_value=7), dask.config.set(scheduler="sync"):
        got = find_duplicates_dask(db.from_sequence(records, npartitions=parts), rule)
    assert got == find_duplicates(records, rule)


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_a_bag_of_groups_from_one_bucket_holds_whole_chains(parts):
    # One bucket has one forest: it must still point every record at its group's first id.
    import dask

    person = {"first_name": "Ann", "last_name": "Lee", "company": "Acme", "email": "a@x.com"}
    records = [dict(person, id=f"r{n}") for n in range(6)]
    with dask.config.set(scheduler="sync"):
        bag = find_duplicates_dask(
            db.from_sequence(records, npartitions=parts), STANDARD_LEAD_RULE, collect=False
        )
        groups = bag.compute()
    assert groups == find_duplicates(records, STANDARD_LEAD_RULE)
    assert [len(g.edges) for g in groups] == [15]


key_parts = st.text(alphabet=st.sampled_from("ab\x1f|\\("), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1, 3), key_parts, key_parts),
    st.tuples(st.integers(1, 3), key_parts, key_parts),
)
def test_two_different_keys_never_share_a_text(a, b):
    from leadmodel.distributed._dedupe import _key_text

    assert (_key_text(a) == _key_text(b)) == (a == b)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), key_parts, key_parts), max_size=6))
def test_the_prepared_keys_are_the_key_texts(keys):
    # The keys _prepare buckets are the texts _key_text makes, each in its hash's bucket.
    from unittest import mock

    from leadmodel.distributed import _dedupe

    compiled = STANDARD_LEAD_RULE.compile()
    with mock.patch.object(
        type(compiled), "prepare_blocked", return_value=((), tuple(dict.fromkeys(keys)))
    ):
        part, _ = _dedupe._prepare([{"id": "x"}], STANDARD_LEAD_RULE, None, "id", 3)
    texts = sorted(text for bucket in part.entries for text, _ in bucket)
    assert texts == sorted(_dedupe._key_text(key) for key in dict.fromkeys(keys))
    for bucket, entries in enumerate(part.entries):
        for text, _ in entries:
            assert _dedupe._hash(text) % 3 == bucket
