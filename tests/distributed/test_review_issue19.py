"""Hostile review of leadmodel.distributed (issue 19): what it must do for any input.

Most properties run on Dask's synchronous scheduler (fast); the cluster-only paths (the
workers' collector paused and restored, the prepared partitions pinned) on a small
two-process LocalCluster. The ``_dedupe.py`` bugs it found (a bag of groups from one
partition, partitions prepared twice on a cluster, bag mappings read unlike
``find_duplicates`` or changed in place) are fixed; their tests stay as regressions.
"""

from __future__ import annotations

import copy
import gc
import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL,
    EXACT_EMAIL_OR_PHONE,
    PROBABILISTIC_LEAD_RULE,
    STANDARD_LEAD_RULE,
    ColumnMapping,
    Condition,
    EmailAddress,
    FitRule,
    Lead,
    ScoringModel,
    ValidationError,
    blocking_keys,
    cluster_edges,
    compare_block,
    find_duplicates,
    import_leads,
)
from leadmodel.distributed import import_many, score_dask, score_rows
from leadmodel.rules.matching import record_id

dask = pytest.importorskip("dask", reason="dask is not installed (the dask extra)")
pytest.importorskip("distributed", reason="dask.distributed is not installed (the dask extra)")
pd = pytest.importorskip("pandas", reason="pandas is not installed (the dask extra)")
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402

from distributed import Client, LocalCluster, get_task_stream  # noqa: E402
from leadmodel.distributed import find_duplicates_dask  # noqa: E402

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RULES = [
    STANDARD_LEAD_RULE,
    EXACT_EMAIL_OR_PHONE,
    EXACT_EMAIL,
    PROBABILISTIC_LEAD_RULE,
    attrs.evolve(STANDARD_LEAD_RULE, key_cap=None),
    attrs.evolve(STANDARD_LEAD_RULE, key_cap=2, window=2),
    attrs.evolve(STANDARD_LEAD_RULE, key_cap=2, window=3),
    attrs.evolve(EXACT_EMAIL_OR_PHONE, key_cap=2),
]


@pytest.fixture(autouse=True)
def _sync_scheduler() -> Iterator[None]:
    with dask.config.set(scheduler="sync"):
        yield


def bag_of(parts: list[list[object]]) -> Any:
    """A bag with exactly these partitions (empty ones included)."""
    return db.from_delayed([dask.delayed(list)(part) for part in parts])


# --- records of every odd kind ------------------------------------------------------------

# Ids that sort differently as UTF-16 or bytes of another encoding, long ones, a lone
# surrogate, the key separator of _dedupe and blocks.py's escapes.
odd_ids = st.one_of(
    st.text(min_size=1, max_size=6),
    st.sampled_from(
        ["\uffff", "\U00010000", "\ud800", "\udfff", "a\x1fb", "a|b", "a\\", "é", "e\u0301"]
    ),
    st.text(alphabet="ab", min_size=300, max_size=301),
)
names = st.sampled_from(["Ann", "Anne", "Bob", "Robert", "ann", "A|b", "a\x1fb", "", None])
lasts = st.sampled_from(["Lee", "Smith", "Smyth", "Lee\x1f", None])
companies = st.sampled_from(["Acme", "Acme Inc.", "Globex", "A|b", "A\\|b", None])
emails = st.sampled_from(["a@x.com", "A@x.com", "b@y.com", "a\x1f@x.com", "nope", None])
phones = st.sampled_from(["+14155550100", "(415) 555-0100", "+442071838750", None])
odd_values = st.one_of(
    st.integers(-5, 5), st.booleans(), st.just(["a@x.com"]), st.just({"x": 1}), st.just(b"a@x.com")
)


@st.composite
def records(draw: st.DrawFn) -> list[object]:
    ids = draw(st.lists(odd_ids, max_size=14, unique=True))
    out: list[object] = []
    for rid in ids:
        fields = {
            "first_name": draw(names),
            "last_name": draw(lasts),
            "company": draw(companies),
            "email": draw(emails),
            "phone": draw(phones),
            "title": draw(st.sampled_from(["CEO", None])),
        }
        kind = draw(st.sampled_from(["dict", "dict", "odd", "lead"]))
        if kind == "lead":
            email = fields["email"]
            try:
                parsed = EmailAddress.parse(email) if email else None
            except ValidationError:
                parsed = None
            try:
                lead = Lead(
                    id=rid,
                    first_name=fields["first_name"] or None,
                    last_name=fields["last_name"] or "Unknown",
                    company=fields["company"] or "Unknown",
                    email=parsed,
                )
            except ValidationError:  # an id a Lead refuses (blank, too long): a mapping
                pass
            else:
                out.append(lead)
                continue
        if kind == "odd":
            fields[draw(st.sampled_from(sorted(fields)))] = draw(odd_values)
        out.append({"id": rid, **fields})
    return out


@st.composite
def partitions(draw: st.DrawFn, items: list[object]) -> list[list[object]]:
    """*items* cut into partitions, some of them empty, in a drawn order."""
    shuffled = draw(st.permutations(items))
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=4)))
    bounds = [0, *cuts, len(items)]
    return [list(shuffled[a:b]) for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), records(), st.sampled_from(RULES))
def test_groups_equal_find_duplicates_for_odd_records(data: Any, items: list[object], rule: Any):
    parts = data.draw(partitions(items))
    expected = find_duplicates(items, rule)
    assert find_duplicates_dask(bag_of(parts), rule) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), records(), st.sampled_from(RULES))
def test_groups_left_as_a_bag_equal_find_duplicates(data: Any, items: list[object], rule: Any):
    parts = data.draw(partitions(items))
    parts += [[]] * max(0, 2 - len(parts))  # one bucket is test_one_partition_left_as_a_bag
    bag = find_duplicates_dask(bag_of(parts), rule, collect=False)
    got = sorted(bag.compute(), key=lambda group: group.ids[0])
    assert got == find_duplicates(items, rule)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.sampled_from(RULES), st.randoms(use_true_random=False))
def test_the_engine_neutral_steps_equal_find_duplicates_for_odd_records(
    items: list[object], rule: Any, random: Any
) -> None:
    compiled = rule.compile()
    blocks: dict[str, list[object]] = {}
    for item in items:
        for key in blocking_keys(item, compiled):
            blocks.setdefault(key, []).append(item)
    edges = [edge for block in blocks.values() for edge in compare_block(block, compiled)]
    random.shuffle(edges)
    ids = [record_id(item) for item in items]
    random.shuffle(ids)
    assert list(cluster_edges(ids, edges)) == find_duplicates(items, rule)


def test_one_partition_left_as_a_bag() -> None:
    rows = [
        {"id": "b", "email": "x@a.com"},
        {"id": "c", "email": "x@a.com", "phone": "+14155550100"},
        {"id": "d", "phone": "+14155550100", "email": "y@a.com"},
        {"id": "a", "email": "y@a.com"},
    ]
    expected = find_duplicates(rows, EXACT_EMAIL_OR_PHONE)
    assert [g.ids for g in expected] == [("a", "b", "c", "d")]
    bag = find_duplicates_dask(bag_of([rows]), EXACT_EMAIL_OR_PHONE, collect=False)
    assert bag.compute() == expected


NAN_ROWS = [
    {"id": str(n), "first_name": math.nan, "last_name": math.nan, "company": math.nan}
    | {"title": "CEO"}
    for n in (1, 2)
]


def test_nan_in_a_bag_of_mappings_as_find_duplicates() -> None:
    expected = find_duplicates(NAN_ROWS, STANDARD_LEAD_RULE)
    assert [g.ids for g in expected] == [("1", "2")]
    assert find_duplicates_dask(bag_of([NAN_ROWS]), STANDARD_LEAD_RULE) == expected


def _address_rows() -> list[dict[str, object]]:
    address = {"street": "1 Main St", "city": "Paris"}
    return [
        {"id": "1", "first_name": "Ann", "last_name": "Lee", "address": dict(address)}
        | {"address.city": "Rome"},
        {"id": "2", "first_name": "Ann", "last_name": "Lee", "address": dict(address)},
    ]


def test_dotted_keys_in_a_bag_of_mappings_as_find_duplicates() -> None:
    rows = _address_rows()
    expected = find_duplicates(rows, STANDARD_LEAD_RULE)
    assert [g.ids for g in expected] == [("1", "2")]
    assert find_duplicates_dask(bag_of([rows]), STANDARD_LEAD_RULE) == expected


def test_a_bag_of_mappings_is_not_mutated() -> None:
    rows = _address_rows()
    before = copy.deepcopy(rows)
    find_duplicates_dask(bag_of([rows]), STANDARD_LEAD_RULE)
    assert rows == before


# --- DataFrames ---------------------------------------------------------------------------

cells = {
    "first_name": st.sampled_from(["Ann", "Anne", "Bob", None, math.nan]),
    "last_name": st.sampled_from(["Lee", "Smith", None]),
    "company": st.sampled_from(["Acme", "Acme Inc.", None, math.nan]),
    "email": st.sampled_from(["a@x.com", "A@x.com", "b@y.com", None]),
    "phone": st.sampled_from(["+14155550100", "(415) 555-0100", None]),
    "address.city": st.sampled_from(["Paris", "paris", None]),
    "address.street": st.sampled_from(["1 Main St", None]),
}


def reference(frame: Any, id_column: str) -> list[dict[str, object]]:
    """The records the docs say a frame's rows are: blanks None, dotted columns nested."""
    out = []
    for row in frame.to_dict("records"):
        record: dict[str, Any] = {}
        for label, cell in row.items():
            name = str(label)
            if name == "id" and id_column != "id":
                continue
            blank = cell is None or cell is pd.NA or cell is pd.NaT
            blank = blank or (isinstance(cell, float) and math.isnan(cell))
            value = None if blank else cell
            if name == id_column:
                record["id"] = value
            elif "." in name:
                outer, _, inner = name.partition(".")
                record.setdefault(outer, {})[inner] = value
            else:
                record[name] = value
        out.append(record)
    return out


@st.composite
def frames(draw: st.DrawFn) -> tuple[Any, str]:
    size = draw(st.integers(0, 10))
    rows = [{name: draw(values) for name, values in cells.items()} for _ in range(size)]
    frame = pd.DataFrame(rows, columns=list(cells))
    # Arrow strings (Dask's default for text columns) cannot hold a lone surrogate.
    utf8 = st.text(st.characters(codec="utf-8"), min_size=1, max_size=4)
    ids = draw(st.lists(utf8, min_size=size, max_size=size, unique=True))
    id_column = draw(st.sampled_from(["id", "Lead ID"]))
    frame[id_column] = pd.Series(ids, dtype=object)
    if id_column != "id":
        frame["id"] = "shadowed"  # an "id" column that is not the id
    frame[7] = "a non-text column label"
    return frame, id_column


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.integers(1, 4), st.sampled_from(RULES))
def test_frame_groups_equal_find_duplicates(frame_and_id: Any, parts: int, rule: Any) -> None:
    frame, id_column = frame_and_id
    data = dd.from_pandas(frame, npartitions=parts)
    expected = find_duplicates(reference(frame, id_column), rule)
    assert find_duplicates_dask(data, rule, id_column=id_column) == expected


def test_a_frame_with_no_rows_and_an_empty_bag() -> None:
    empty = pd.DataFrame({"id": pd.Series([], dtype=object), "email": pd.Series([], dtype=object)})
    assert find_duplicates_dask(dd.from_pandas(empty, npartitions=1), EXACT_EMAIL) == []
    assert find_duplicates_dask(bag_of([]), EXACT_EMAIL) == []
    assert find_duplicates_dask(bag_of([[], []]), EXACT_EMAIL) == []
    assert find_duplicates_dask(bag_of([[], []]), EXACT_EMAIL, collect=False).compute() == []


MAPPING = ColumnMapping(
    [("First", "first_name"), ("Last", "last_name"), ("Company", "company"), ("E-mail", "email")]
)


def test_a_mapped_frame_and_a_mapped_bag_agree_with_import_leads() -> None:
    table = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "id": ["x", "x", "x", "x"],  # not the id column: repeated on purpose
            "First": ["Bob", "Robert", "Ann", None],
            "Last": ["Ray", "Ray", "Lee", "Lee"],
            "Company": ["Acme", "Acme", "Globex", math.nan],
            "E-mail": ["bob@acme.com", "Bob@Acme.com", None, None],
        }
    )
    leads = []
    for row in table.to_dict("records"):
        text = {k: "" if pd.isna(v) else v for k, v in row.items() if k not in ("key", "id")}
        run = import_leads(
            [text],
            MAPPING,
            ids=lambda _kind, rid=row["key"]: rid,
            now=datetime(2000, 1, 1, tzinfo=UTC),
            on_duplicate="create",
        )
        leads += [outcome.lead for outcome in run if outcome.lead is not None]
    expected = find_duplicates(leads, STANDARD_LEAD_RULE)
    assert [g.ids for g in expected] == [("a", "b")]
    frame = dd.from_pandas(table, npartitions=3)
    rows = table.drop(columns=["id"]).to_dict("records")
    for data in (frame, bag_of([rows[:1], [], rows[1:]])):
        got = find_duplicates_dask(data, STANDARD_LEAD_RULE, mapping=MAPPING, id_column="key")
        assert got == expected


@pytest.mark.parametrize("collect", [True, False])
def test_ids_repeated_across_partitions_are_refused(collect: bool) -> None:
    rows = [{"id": "1", "email": "a@x.com"}, {"id": "2"}, {"id": "1", "email": "b@x.com"}]
    bag = bag_of([rows[:1], [], rows[1:]])

    def run() -> object:
        if collect:
            return find_duplicates_dask(bag, EXACT_EMAIL)
        return find_duplicates_dask(bag, EXACT_EMAIL, collect=False).compute()  # refused here

    with pytest.raises(ValidationError) as caught:
        run()
    assert [e.code for e in caught.value.errors] == ["duplicate_id"]


# --- on a cluster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: runs may overlap
            silence_logs=50,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _collector_enabled(client: Client) -> list[bool]:
    return sorted(client.run(gc.isenabled).values())


def test_the_workers_collector_is_restored_after_a_run_and_after_a_refusal(client: Client):
    rows = [{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "A@x.com"}]
    assert _collector_enabled(client) == [True, True]
    got = find_duplicates_dask(db.from_sequence(rows, npartitions=2), EXACT_EMAIL, client=client)
    assert got == find_duplicates(rows, EXACT_EMAIL)
    assert _collector_enabled(client) == [True, True]
    with pytest.raises(ValidationError):
        find_duplicates_dask(
            db.from_sequence(rows + rows, npartitions=2), EXACT_EMAIL, client=client
        )
    assert _collector_enabled(client) == [True, True]
    assert gc.isenabled()
    # A worker whose collector was off stays off.
    client.run(gc.disable)
    try:
        find_duplicates_dask(db.from_sequence(rows, npartitions=2), EXACT_EMAIL, client=client)
        assert _collector_enabled(client) == [False, False]
    finally:
        client.run(gc.enable)


def test_each_partition_is_prepared_once_on_a_cluster(client: Client) -> None:
    rows = [{"id": str(n), "email": f"{n % 3}@x.com"} for n in range(12)]
    with get_task_stream(client) as stream:
        got = find_duplicates_dask(
            db.from_sequence(rows, npartitions=3), EXACT_EMAIL, client=client
        )
    assert got == find_duplicates(rows, EXACT_EMAIL)
    prepares = [t for t in stream.data if str(t["key"]).startswith("('_prepare-")]
    prepares += [t for t in stream.data if str(t["key"]).startswith("_prepare-")]
    assert len(prepares) == 3


# --- scoring ------------------------------------------------------------------------------

MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 10),
        FitRule("big", Condition("employees", "gte", 500), 15),
    ]
)
MISSING = [None, math.nan, pd.NA, pd.NaT]


@pytest.mark.parametrize("missing", MISSING, ids=["None", "nan", "NA", "NaT"])
def test_pandas_missing_cells_are_blank_when_scoring(missing: object) -> None:
    blank = score_rows([{"id": "a", "last_name": "Ng", "company": "A"}], MODEL, now=NOW)
    assert blank == [("a", 0.0, None)]
    row = {"id": "a", "last_name": "Ng", "company": "A", "source": missing, "employees": missing}
    assert score_rows([row], MODEL, now=NOW) == blank
    mapping = ColumnMapping(
        [("Last", "last_name"), ("Company", "company"), ("Email", "email"), ("Src", "source")]
    )
    mapped = {"key": "a", "Last": "Ng", "Company": "A", "Email": missing, "Src": missing}
    assert score_rows([mapped], MODEL, now=NOW, mapping=mapping, id_column="key") == blank
    # A missing id is no id, not the text "<NA>".
    assert score_rows([row | {"id": missing}], MODEL, now=NOW)[0][0] is None


score_cells = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["Web", "Fair", None]),
        "employees": st.sampled_from([None, 10, 900]),
        "last_name": st.sampled_from(["Ng", None]),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(score_cells, max_size=12), st.integers(1, 4), st.booleans())
def test_score_dask_equals_score_rows_on_the_frames_rows(rows: Any, parts: int, nullable: bool):
    frame = pd.DataFrame(rows, columns=["source", "employees", "last_name"])
    frame.insert(0, "id", [f"L{n}" for n in range(len(rows))])
    if nullable:
        frame["employees"] = frame["employees"].astype("Int64")
    data = dd.from_pandas(frame, npartitions=parts)
    got = score_dask(data, MODEL, now=NOW).compute()
    expected = score_rows(data.compute().to_dict("records"), MODEL, now=NOW)
    assert list(got["id"]) == [r[0] for r in expected]
    assert [None if math.isnan(v) else v for v in got["score"]] == [r[1] for r in expected]
    assert [None if pd.isna(p) else p for p in got["problem"]] == [r[2] for r in expected]
    assert all(r[2] is None for r in expected)  # a blank cell is no problem


def test_a_frame_with_nullable_columns_scores_its_blank_cells_as_blank() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "source": ["Web", None],
            "employees": pd.array([900, None], dtype="Int64"),
        }
    )
    got = score_dask(dd.from_pandas(frame, npartitions=2), MODEL, now=NOW).compute()
    assert got["score"].tolist() == [25.0, 0.0]
    assert got["problem"].isna().all()


def test_score_rows_takes_a_pandas_frame_as_its_rows() -> None:
    # Iterated, a frame gives its column labels: each was a "must be a Lead" problem.
    frame = pd.DataFrame({"id": ["a", "b"], "source": ["Web", None], "employees": [1, 900]})
    expected = score_rows(frame.to_dict("records"), MODEL, now=NOW)
    assert expected == [("a", 10.0, None), ("b", 15.0, None)]
    assert score_rows(frame, MODEL, now=NOW) == expected


# --- import -------------------------------------------------------------------------------


class _OddPath:
    def __init__(self, name: object) -> None:
        self.name = name

    def __fspath__(self) -> Any:
        return self.name


@pytest.mark.parametrize("name", [b"leads.csv", 3], ids=["bytes", "int"])
def test_a_path_not_naming_text_is_refused_before_anything_runs(name: object) -> None:
    with pytest.raises(ValidationError) as caught:
        import_many([_OddPath(name)], MAPPING, now=NOW)  # type: ignore[list-item]
    assert (caught.value.entity, caught.value.paths) == ("import_many", ("paths[0]",))
