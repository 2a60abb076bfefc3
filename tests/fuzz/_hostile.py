"""What the fuzz harness feeds the public API: hostile values, plausible values, the catalogue.

The catalogue is built from ``__all__`` of ``leadmodel`` and of every public submodule found
by walking the package, so a new public name is fuzzed without anyone adding it here.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import signal
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

from hypothesis import strategies as st

import leadmodel
from leadmodel.testing import strategies as lst

# Modules left out, each with its reason; everything else public is walked.
EXCLUDED_MODULES = {
    "leadmodel.cli": "the process entry point, run as a command by tests/test_cli_errors.py",
    "leadmodel.__main__": "the process entry point",
    "leadmodel.testing.contracts": "test base classes for adapters, not functions to call",
    "leadmodel.adapters.sqlite": "opens files named by its argument (its owner fuzzes paths)",
    "leadmodel.adapters.postgres": "needs a server",
}
# Names left out, each with its reason.
EXCLUDED_NAMES = {
    "plot_funnel": "draws with matplotlib (seconds per call); its arguments are funnel's",
    "plot_cohorts": "draws with matplotlib (seconds per call); its arguments are cohorts'",
    "register_type_strategies": "changes hypothesis' global registry",
    "retrying": "a decorator that retries its function; nothing to parse",
}


def public_modules() -> list[str]:
    """``leadmodel`` and each submodule whose dotted name has no part starting with ``_``."""
    names = ["leadmodel"]
    for info in pkgutil.walk_packages(leadmodel.__path__, "leadmodel."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name in EXCLUDED_MODULES:
            continue
        names.append(info.name)
    return sorted(names)


def entry_points() -> dict[str, Callable[..., object]]:
    """Every public callable by its shortest public name (``module:name``), once each."""
    found: dict[int, tuple[str, Callable[..., object]]] = {}
    for module_name in public_modules():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional extra that is not installed
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if name in EXCLUDED_NAMES or not callable(obj) or id(obj) in found:
                continue
            if type(obj).__module__ == "typing":
                continue  # a type alias such as Target = Literal[...], not a callable
            if inspect.isclass(obj) and (
                issubclass(obj, BaseException | Enum) or getattr(obj, "_is_protocol", False)
            ):
                continue  # errors are raised, not called; Enum look-up is Python's own
            found[id(obj)] = (f"{module_name}:{name}", obj)
    return dict(sorted(found.values()))


# -- hostile values ----------------------------------------------------------------------


class HostileError(Exception):
    """Raised by the caller's own hostile objects: it may pass through leadmodel unchanged."""


class Raising:
    """An object whose every comparison, hash, ``str``, length and iteration raises."""

    def __eq__(self, other: object) -> bool:
        raise HostileError("__eq__")

    def __ne__(self, other: object) -> bool:
        raise HostileError("__ne__")

    def __lt__(self, other: object) -> bool:
        raise HostileError("__lt__")

    def __hash__(self) -> int:
        raise HostileError("__hash__")

    def __str__(self) -> str:
        raise HostileError("__str__")

    def __repr__(self) -> str:
        return "<Raising>"  # reports show the example; __str__ and __format__ raise

    def __format__(self, spec: str) -> str:
        raise HostileError("__format__")

    def __len__(self) -> int:
        raise HostileError("__len__")

    def __iter__(self) -> Iterator[object]:
        raise HostileError("__iter__")

    def __bool__(self) -> bool:
        raise HostileError("__bool__")

    def __getattr__(self, name: str) -> object:
        raise HostileError(f"__getattr__({name})")


class RaisingStr(str):
    """A ``str`` subclass whose methods raise (a str to ``isinstance``, hostile inside)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        raise HostileError("__eq__")

    def __hash__(self) -> int:
        raise HostileError("__hash__")

    def strip(self, _chars: str | None = None) -> str:
        raise HostileError("strip")


class RaisingMapping(Mapping[str, object]):
    """A mapping that says it has a key, then raises reading it."""

    def __getitem__(self, key: str) -> object:
        raise HostileError("__getitem__")

    def __iter__(self) -> Iterator[str]:
        return iter(["last_name", "email"])

    def __len__(self) -> int:
        return 2


class HugeInt(int):
    """An int too long to print (Python refuses str() past 4,300 digits); reports show this."""

    def __repr__(self) -> str:
        return f"<int of {self.bit_length()} bits>"


def raising_iterator() -> Iterator[object]:
    yield leadmodel.Lead(id="L-it", last_name="Ng", company="Acme")
    raise HostileError("next")


class DeepList(list):  # type: ignore[type-arg]
    """A list nested thousands deep, shown briefly (a report would recurse past the limit)."""

    def __repr__(self) -> str:
        return "<list nested 5000 deep>"


class DeepDict(dict):  # type: ignore[type-arg]
    """A dict nested thousands deep, shown briefly."""

    def __repr__(self) -> str:
        return "<dict nested 5000 deep>"


def _deep_list(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return DeepList([value])


def _deep_dict(depth: int) -> object:
    value: object = {}
    for _ in range(depth):
        value = {"kind": "not", "item": value}
    return DeepDict({"kind": "not", "item": value})


MEGABYTE = "x" * 1_000_000
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "ab\udfffcd",
    "\u202eevil\u202c",
    "\u2028",
    "=cmd|' /C calc'!A0",
    "Ng;=1+1",
    "＝1",
    "1e999999",
    "1E+9999999",
    "9" * 5000,
    "²",
    "①",
    "NaN",
    "sNaN",
    "-Infinity",
    "\r\n",
    "'" * 50,
    "\\" * 50,
    '"' * 50,
    ',"' * 5000,
    "@" * 5000,
    "a@" * 5000,
    "<" * 5000 + "a@b.co" + ">" * 5000,
    MEGABYTE,
    *(["y" * 10_000_000] if os.environ.get("LEADMODEL_FUZZ_LONG") else []),
    "é" * 100_000,
    "custom." + "a" * 1000,
    "a." * 5000,
]
HOSTILE_OTHER = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64),
    10**400,
    HugeInt(10**5000),
    float("nan"),
    float("inf"),
    -float("inf"),
    -0.0,
    1e308,
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("1E+999999"),
    Decimal("-1E-999999"),
    b"bytes",
    bytearray(b"\x00\xff"),
    [],
    (),
    {},
    set(),
    frozenset(),
    [None],
    ["x", 1, None],
    {"": None},
    {None: 1},
    {1: 2},
    _deep_list(5000),
    _deep_dict(5000),
    object(),
    Raising(),
    RaisingStr("Ng"),
    RaisingMapping(),
    datetime(2026, 1, 1),  # naive  # noqa: DTZ001
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    date.min,
    date.max,
    len,
    lambda *_a, **_k: None,
    lambda *_a, **_k: Raising(),
    type,
    NotImplemented,
    Ellipsis,
]


def hostile() -> st.SearchStrategy[object]:
    """One hostile value; a fresh raising iterator or a list of hostile values sometimes."""
    pool = HOSTILE_TEXT + HOSTILE_OTHER
    # An index, not sampled_from: hypothesis would hash the values, and some refuse.
    base = st.integers(0, len(pool) - 1).map(pool.__getitem__)
    return st.one_of(
        base,
        base,
        base,
        st.builds(raising_iterator),
        st.lists(base, max_size=3),
        st.dictionaries(st.sampled_from(HOSTILE_TEXT[:12]), base, max_size=3),
    )


# -- plausible values --------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _ids(kind: str) -> str:
    _ids.count += 1  # type: ignore[attr-defined]
    return f"{kind}-{_ids.count}"  # type: ignore[attr-defined]


_ids.count = 0  # type: ignore[attr-defined]


def _lead() -> leadmodel.Lead:
    return leadmodel.Lead(
        id="L1",
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
        email=leadmodel.EmailAddress.parse("ada@engines.io"),
        source="Web",
        employees=50,
        tags=frozenset({"vip"}),
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=1),
    )


def _dask_collections() -> list[object]:
    """Small Dask bags and DataFrames (run on the synchronous scheduler by the harness).

    Empty without the dask extra: ``leadmodel.distributed``'s names are then fuzzed with
    hostile values only (and say what to install).
    """
    try:
        import dask.bag as db
        import dask.dataframe as dd
        import pandas as pd
    except ImportError:
        return []
    lead = _lead()
    twin = leadmodel.Lead(
        id="L2", first_name="Ada", last_name="Lovelace", company="Engines", email=lead.email
    )
    fields = [
        {"id": "r1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.io"},
        {"id": "r2", "first_name": "Ada", "last_name": "Lovelace", "email": "ADA@engines.io"},
    ]
    return [
        db.from_sequence([lead, twin], npartitions=2),
        db.from_sequence(fields, npartitions=1),
        db.from_sequence([{"id": None}, 5, "x", {"id": "r1"}, {"id": "r1"}], npartitions=2),
        db.from_sequence(
            [{"id": "\ud800", "last_name": "Ng"}, {"id": "r9", "email": "ab\udfffcd"}],
            npartitions=1,
        ),
        dd.from_pandas(pd.DataFrame(fields), npartitions=2),
        dd.from_pandas(
            pd.DataFrame({"id": ["a", "b"], "Last Name": ["Ng", None], "Email": ["a@b.co", ""]}),
            npartitions=1,
        ),
    ]


#: A CSV file the fuzz test writes into its scratch directory for each example.
CSV_NAME = "leads.csv"
CSV_TEXT = "Last Name,Company,Email\nNg,Acme,a@b.co\nNg,Acme,A@b.co\n,,nope\n"


def _fixed() -> dict[str, list[object]]:
    """Hand-made plausible values for the type names that annotations mention."""
    lead = _lead()
    condition = leadmodel.Condition("source", "eq", "Web")
    from leadmodel.adapters.memory import MemoryUnitOfWork

    return {
        "str": ["Web", "L1", "email", "last_name", "Ada Lovelace", "ada@engines.io"],
        "int": [0, 3, 100],
        "float": [0.5, 1.0],
        "bool": [True, False],
        "Decimal": [Decimal("2.5"), Decimal(100)],
        "datetime": [NOW],
        "date": [NOW.date()],
        "timedelta": [timedelta(days=30)],
        "Callable": [_ids, len],
        "Lead": [lead],
        "Condition": [condition],
        "Criterion": [condition, leadmodel.All([condition])],
        "MatchingRule": [leadmodel.STANDARD_LEAD_RULE, leadmodel.EXACT_EMAIL_OR_PHONE],
        "EntitySchema": [leadmodel.LEAD_SCHEMA],
        "LeadProcess": [leadmodel.DEFAULT_LEAD_PROCESS],
        "OpportunityProcess": [leadmodel.DEFAULT_OPPORTUNITY_PROCESS],
        "QualificationPolicy": [leadmodel.BANT_POLICY],
        "FieldMapping": [leadmodel.DEFAULT_LEAD_MAPPING],
        "FormSpec": [leadmodel.FormSpec()],
        "ColumnMapping": [leadmodel.ColumnMapping([("Last Name", "last_name")])],
        "ConvertOptions": [leadmodel.ConvertOptions(converted_status="Closed - Converted")],
        "Survivorship": list(leadmodel.Survivorship),
        "LifecycleStage": list(leadmodel.LifecycleStage),
        "FieldType": list(leadmodel.FieldType),
        "UnitOfWork": [MemoryUnitOfWork()],
        "MemoryUnitOfWork": [MemoryUnitOfWork()],
        "Mapping": [{"last_name": "Ng", "company": "Acme"}, {"email": "a@b.co"}],
        "dict": [{"last_name": "Ng"}],
        "type": [leadmodel.Lead, leadmodel.Condition, leadmodel.ScoringModel],
        "DaskCollection": _dask_collections(),
        "CsvPaths": [[CSV_NAME], [CSV_NAME, "missing.csv"]],
        "IdColumn": ["id", "Lead ID"],
        "Activities": [
            {},
            {
                "L1": [
                    leadmodel.Activity(
                        id="X1", subject_id="L1", kind="email_opened", occurred_at=NOW
                    )
                ]
            },
        ],
    }


_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[object]]] = {
    "Lead": lst.leads,
    "Contact": lst.contacts,
    "Account": lst.accounts,
    "Opportunity": lst.opportunities,
    "Activity": lst.activities,
    "EmailAddress": lst.emails,
    "PhoneNumber": lst.phones,
    "Money": lst.moneys,
    "Address": lst.addresses,
    "ScoringModel": lst.scoring_models,
    "Criterion": lambda: lst.criteria(max_leaves=3),
    "Decay": lst.decays,
    "FieldValues": lst.custom_values,
}
_NAME_HINTS = {
    "now": "datetime",
    "ids": "Callable",
    "uow": "UnitOfWork",
    "lead": "Lead",
    "leads": "Lead",
    "records": "Lead",
    "record": "Lead",
    "text": "str",
    "kind": "str",
    # leadmodel.distributed: parameters annotated object or with private aliases
    "frame": "DaskCollection",
    "frame_or_bag": "DaskCollection",
    "paths": "CsvPaths",
    "model": "ScoringModel",
    "id_column": "IdColumn",
    "activities": "Activities",
    "rows": "Mapping",
}
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COLLECTIONS = ("Sequence", "Iterable", "list", "tuple", "frozenset", "Collection")

# What a call accepted, kept by type name to feed later calls ("use what it accepted").
ACCEPTED: dict[str, list[object]] = {}


def remember(value: object) -> None:
    kind = type(value).__name__
    kept = ACCEPTED.setdefault(kind, [])
    if len(kept) < 20:
        kept.append(value)


def plausible(annotation: str, name: str) -> st.SearchStrategy[object] | None:
    """A strategy of well-formed values for a parameter, from its annotation and name."""
    fixed = _fixed()
    tokens = _TOKEN.findall(annotation) if annotation else []
    hint = _NAME_HINTS.get(name)
    if hint is not None:
        tokens.append(hint)
    options: list[st.SearchStrategy[object]] = []
    for token in tokens:
        if fixed.get(token):
            values = fixed[token]  # by index: sampled_from would compare Dask collections
            options.append(st.integers(0, len(values) - 1).map(values.__getitem__))
        if token in _STRATEGIES:
            options.append(_STRATEGIES[token]())
        if ACCEPTED.get(token):
            kept = list(ACCEPTED[token])  # by index: sampled_from would hash them
            options.append(st.integers(0, len(kept) - 1).map(kept.__getitem__))
    if not options:
        return None
    single = st.one_of(options)
    if any(t in _COLLECTIONS for t in tokens) or name in ("leads", "records", "history"):
        return st.one_of(single, st.lists(single, max_size=4))
    return single


def annotation_text(parameter: inspect.Parameter) -> str:
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else repr(annotation)


# -- the per-call time bound -------------------------------------------------------------


class CallTimedOut(BaseException):
    """A call ran past its time bound (raised by the interval timer)."""


class time_bound:  # noqa: N801 - used as a context manager, like a function
    """Raise :class:`CallTimedOut` in the block after *seconds* (Python code only)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _expired(self, _signum: int, _frame: Any) -> None:
        raise CallTimedOut(f"over {self.seconds} s")

    def __enter__(self) -> None:
        self.previous = signal.signal(signal.SIGALRM, self._expired)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *_exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
