"""Hostile review of find_duplicates_dask's final algorithm: exactly find_duplicates.

Pairs are compared once, in the block of the smallest *whole* key (hash count within
the rule's key_cap) they share; here hashes are forced to collide (tiny ranges), caps
and windows are small so blocks straddle the cap, records share many keys, and the
table is cut into 1-5 partitions, collected or left as a bag.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    PROBABILISTIC_LEAD_RULE,
    STANDARD_LEAD_RULE,
    BlockingKey,
    FieldMatcher,
    MatchingRule,
    ValidationError,
    find_duplicates,
)

dask = pytest.importorskip("dask", reason="dask is not installed (the dask extra)")
pytest.importorskip("distributed", reason="dask.distributed is not installed (the dask extra)")
import dask.bag as db  # noqa: E402

from leadmodel.distributed import _dedupe, find_duplicates_dask  # noqa: E402


@pytest.fixture(autouse=True)
def _sync_scheduler() -> Iterator[None]:
    with dask.config.set(scheduler="sync"):
        yield


MANY_KEYS = MatchingRule(
    "many_keys",
    [
        FieldMatcher("first_name"),
        FieldMatcher("last_name"),
        FieldMatcher("email"),
        FieldMatcher("company"),
    ],
    logic="(1 AND 2) OR 3 OR (2 AND 4)",
    blocking=[
        BlockingKey(("last_name",)),
        BlockingKey(("email",)),
        BlockingKey(("first_name:initial", "last_name:initial")),
        BlockingKey(("company",)),
        BlockingKey(("company:substr:1:2",)),
        BlockingKey(("phone",)),  # read from the record: no matcher on the phone
        BlockingKey(("title",)),  # raw values of any kind, normalised as text
        BlockingKey(("last_name",)),  # twice: the same block under two keys
    ],
)
RULES = [
    *(
        attrs.evolve(rule, key_cap=cap, window=window)
        for rule in (MANY_KEYS, STANDARD_LEAD_RULE, EXACT_EMAIL_OR_PHONE, PROBABILISTIC_LEAD_RULE)
        for cap, window in ((2, 2), (2, 4), (3, 2), (3, 3))
    ),
    attrs.evolve(MANY_KEYS, key_cap=None),
    PROBABILISTIC_LEAD_RULE,
]


def _crc_mod(k: int) -> Callable[[str], int]:
    return lambda text: zlib.crc32(text.encode("utf-8", "surrogatepass")) % k


HASHES: list[Callable[[str], int] | None] = [
    None,
    lambda _text: 7,
    lambda text: len(text) % 3,
    _crc_mod(2),
    _crc_mod(5),
    lambda text: ord(text[-1]) % 4 if text else 0,
]

first_names = st.sampled_from(["Ann", "Anne", "Bob", "Robert", "ann", "a\x1fb", None])
last_names = st.sampled_from(["Lee", "Li", "Smith", "Smyth", None])
companies = st.sampled_from(["Acme", "Acme Inc.", "Acne", "Globex", None])
emails = st.sampled_from(["a@x.com", "A@x.com", "b@x.com", "a\x1f@x.com", None])
phones = st.sampled_from(["+14155550100", "(415) 555-0100", "+442071838750", None])
titles = st.one_of(
    st.sampled_from(["CEO", "ceo", "1", "1.0", None]),
    st.integers(0, 2),
    st.sampled_from([1.0, True]),
    st.decimals(min_value=0, max_value=2, places=1, allow_nan=False),
)


@st.composite
def tables(draw: st.DrawFn, *, repeats: bool = False) -> list[dict[str, object]]:
    pool = [f"r{n:02d}" for n in range(40)] + ["\ud800", "Z"]
    size = draw(st.integers(0, 30))
    ids = draw(st.lists(st.sampled_from(pool), min_size=size, max_size=size, unique=True))
    if repeats and ids and draw(st.integers(0, 9)) == 0:
        ids.append(draw(st.sampled_from(ids)))  # a repeated id: refused by both
    return [
        {
            "id": rid,
            "first_name": draw(first_names),
            "last_name": draw(last_names),
            "company": draw(companies),
            "email": draw(emails),
            "phone": draw(phones),
            "title": draw(titles),
            "website": f"{rid}.example.com",  # one per record: a compared pair's name
        }
        for rid in ids
    ]


@st.composite
def partitions(draw: st.DrawFn, items: list[Any]) -> list[list[Any]]:
    shuffled = draw(st.permutations(items))
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=4)))
    bounds = [0, *cuts, len(items)]
    return [list(shuffled[a:b]) for a, b in itertools.pairwise(bounds)]


def bag_of(parts: list[list[Any]]) -> Any:
    return db.from_delayed([dask.delayed(list)(part) for part in parts])


def _run(parts: list[list[Any]], rule: MatchingRule, hashed: Any, collect: bool) -> Any:
    patch = (
        mock.patch.object(_dedupe, "_hash", hashed) if hashed is not None else mock.patch.dict({})
    )
    with patch:
        if collect:
            return find_duplicates_dask(bag_of(parts), rule)
        got = find_duplicates_dask(bag_of(parts), rule, collect=False).compute()
        return sorted(got, key=lambda group: group.ids[0])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.data(),
    tables(repeats=True),
    st.sampled_from(RULES),
    st.sampled_from(HASHES),
    st.booleans(),
)
def test_colliding_hashes_and_straddled_caps_change_nothing(
    data: Any, items: list[dict[str, object]], rule: MatchingRule, hashed: Any, collect: bool
) -> None:
    parts = data.draw(partitions(items))
    try:
        expected = find_duplicates(items, rule)
    except ValidationError:  # an id find_duplicates refuses: refused here too
        with pytest.raises(ValidationError):
            _run(parts, rule, hashed, collect)
        return
    assert _run(parts, rule, hashed, collect) == expected


WITH_WEBSITE = MatchingRule(
    "with_website",
    [*MANY_KEYS.matchers, FieldMatcher("website")],
    logic="(1 AND 2) OR 3 OR (2 AND 4) OR 5",
    blocking=MANY_KEYS.blocking,
)


def _compared(run: Callable[[], object]) -> set[frozenset[Any]]:
    """The pairs (by their prepared values, unique per record) *run* compares."""
    from leadmodel.rules.matching import CompiledRule

    seen: set[frozenset[Any]] = set()
    original = CompiledRule.match_prepared

    def spy(self: Any, a: Any, b: Any) -> Any:
        seen.add(frozenset((a, b)))
        return original(self, a, b)

    with mock.patch.object(CompiledRule, "match_prepared", spy):
        run()
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.data(),
    tables(),
    st.sampled_from([(2, 2), (2, 3), (3, 2), (3, 4), (None, 2)]),
    st.sampled_from(HASHES),
)
def test_the_pairs_compared_are_the_pairs_find_duplicates_compares(
    data: Any, items: list[dict[str, object]], policy: tuple[int | None, int], hashed: Any
) -> None:
    # Stronger than equal groups: no pair lost (even one that does not match), none added.
    rule = attrs.evolve(WITH_WEBSITE, key_cap=policy[0], window=policy[1])
    parts = data.draw(partitions(items))
    expected = _compared(lambda: find_duplicates(items, rule))
    assert _compared(lambda: _run(parts, rule, hashed, collect=True)) == expected


def test_a_worker_s_frozen_objects_stay_frozen_after_a_run() -> None:
    # A worker may freeze what it loaded (gc.freeze() after a preload, to keep the pages
    # shared): the collector's resume must not unfreeze them.
    import gc

    was_enabled = gc.isenabled()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        _dedupe._pause_collector()
        assert not gc.isenabled()
        _dedupe._resume_collector()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
