"""The Spark recipe of docs/api/spark.md (issue 19), run on a local[2] SparkSession.

The recipe's code is read from the page itself (its ```` ```python spark ```` blocks, run in
order in one namespace), so the page and this test cannot drift. On generated CRM rows its
groups equal ``find_duplicates`` and its scores equal ``score_rows`` in one process, exactly.
Skipped, with the reason (``pytest -rs``), without PySpark or a Java runtime.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadmodel import (
    EXACT_EMAIL_OR_PHONE,
    STANDARD_LEAD_RULE,
    ColumnMapping,
    Condition,
    DuplicateGroup,
    FitRule,
    Lead,
    Outcome,
    ScoringModel,
    ValidationError,
    find_duplicates,
    from_json,
    import_leads,
    train_predictive,
)
from leadmodel.distributed import score_rows

PAGE = Path(__file__).parents[2] / "docs" / "api" / "spark.md"
BLOCK = re.compile(r"^```python spark\n(.*?)^```$", re.MULTILINE | re.DOTALL)

try:
    import pandas as pd
    import pyarrow as pa  # noqa: F401 - applyInPandas needs it
    import pyspark
except ImportError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(
        f"the Spark recipe needs PySpark, pandas and PyArrow (the spark extra): {missing}",
        allow_module_level=True,
    )
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip(
        f"the Spark recipe needs a Java runtime for PySpark {pyspark.__version__}: "
        "no java on PATH and no JAVA_HOME",
        allow_module_level=True,
    )

pytestmark = [
    # PySpark 4.x warns that it does not fully support pandas 3 yet; what we use works.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# pytest --long (the root conftest sets this): more generated tables.
LONG = bool(os.environ.get("LEADMODEL_FUZZ_LONG"))
COLUMNS = ["Lead ID", "First", "Last", "Company", "E-mail", "Phone", "Lead Source"]
MAPPING = ColumnMapping(
    [
        ("First", "first_name"),
        ("Last", "last_name"),
        ("Company", "company"),
        ("E-mail", "email"),
        ("Phone", "phone"),
        ("Lead Source", "source"),
    ]
)
MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "eq", "Web"), 10),
        FitRule("acme", Condition("company", "contains", "Acme"), 5),
    ]
)


def recipe_blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_the_recipe_blocks() -> None:
    blocks = recipe_blocks()
    assert len(blocks) >= 6
    text = "\n".join(blocks)
    for name in ("records_of", "edges_of", "groups_on_the_driver", "groups_in_spark", "scores_of"):
        assert f"def {name}(" in text


@pytest.fixture(scope="module")
def recipe() -> Iterator[dict[str, Any]]:
    """The page's namespace after running every block, on a local[2] session."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("leadmodel-test")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    spark.sparkContext.setLogLevel("ERROR")
    namespace: dict[str, Any] = {"__name__": "spark_recipe"}
    try:
        for n, block in enumerate(recipe_blocks()):
            code = compile(block, f"{PAGE}#block{n}", "exec")
            exec(code, namespace)  # noqa: S102 - the documented recipe, from our own page
        assert namespace["spark"] is spark  # the page's getOrCreate found this session
        yield namespace
    finally:
        spark.stop()


def test_the_page_runs(recipe: dict[str, Any]) -> None:
    # Its own asserts compared the example with find_duplicates and score_rows.
    assert [group.ids for group in recipe["on_driver"]] == [("a", "b")]


def test_repeated_ids_are_refused_and_rows_without_one_kept(recipe: dict[str, Any]) -> None:
    spark = recipe["spark"]
    table = pd.DataFrame(
        {
            "Lead ID": ["a", "a", None],
            "First": ["Al", "Al", "Bo"],
            "Last": ["Ng", "Ng", "Ra"],
            "Company": ["Acme", "Acme", "Bolt"],
        }
    )
    with pytest.raises(ValidationError) as raised:
        recipe["records_of"](spark.createDataFrame(table), MAPPING, STANDARD_LEAD_RULE, "Lead ID")
    assert raised.value.paths == ("Lead ID",)
    frame = spark.createDataFrame(table.iloc[1:])
    read = recipe["records_of"](frame, MAPPING, STANDARD_LEAD_RULE, "Lead ID").collect()
    assert [(row.id, row.record is None, bool(row.problem)) for row in sorted(read)] == [
        ("", True, True),
        ("a", False, False),
    ]


def test_rows_without_an_id_are_problems_not_repeats(recipe: dict[str, Any]) -> None:
    # Review of issue 19: two rows without an id (null, or blank text) were refused as
    # "repeated: [None, '']" instead of each being kept with its problem.
    spark = recipe["spark"]
    table = pd.DataFrame(
        {
            "Lead ID": [None, None, "", " ", "a"],
            "First": ["Al", "Bo", "Cy", "Di", "Ed"],
            "Last": ["Ng"] * 5,
            "Company": ["Acme"] * 5,
        }
    )
    frame = spark.createDataFrame(table)
    read = recipe["records_of"](frame, MAPPING, STANDARD_LEAD_RULE, "Lead ID").collect()
    assert sorted((row.id, row.record is None, bool(row.problem)) for row in read) == [
        ("", True, True),
        ("", True, True),
        ("", True, True),
        (" ", True, True),
        ("a", False, False),
    ]


people = st.fixed_dictionaries(
    {
        "First": st.sampled_from(["Ann", "Anne", "Bob", "Robert", ""]),
        "Last": st.sampled_from(["Lee", "Smith", "Smyth", ""]),
        "Company": st.sampled_from(["Acme", "Acme Inc.", "Globex", "A|b", ""]),
        "E-mail": st.sampled_from(["a@x.com", "A@x.com", "b@y.com", "not-an-email", ""]),
        "Phone": st.sampled_from(["+14155550100", "(415) 555-0100", "+442071838750", ""]),
        "Lead Source": st.sampled_from(["Web", "Trade Show", ""]),
    }
)

# A chain: each matches the next, none the one after (email, phone, email in turn), so
# the labels need several rounds to settle.
CHAIN = [
    ("Zed", "Quill", "", "z1@q.io", "+12025550101", "Web"),
    ("Zed", "Quill", "", "z1@q.io", "+12025550102", ""),
    ("Zed", "Quill", "", "z2@q.io", "+12025550102", ""),
    ("Zed", "Quill", "", "z2@q.io", "+12025550103", "Web"),
    ("Zed", "Quill", "", "z3@q.io", "+12025550103", ""),
]


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.lists(people, max_size=24))
    rows += [dict(zip(COLUMNS[1:], person, strict=True)) for person in CHAIN]
    rows = draw(st.permutations(rows))
    frame = pd.DataFrame(rows, columns=COLUMNS[1:])
    frame.insert(0, "Lead ID", [f"r{n:03d}" for n in range(len(rows))])
    return frame.replace("", None)


def leads_in_one_process(table: pd.DataFrame) -> list[Lead]:
    """The leads importing each row alone makes, with the row's id."""
    out: list[Lead] = []
    for row in table.to_dict("records"):
        cells = {k: "" if pd.isna(v) else v for k, v in row.items() if k != "Lead ID"}
        run = import_leads(
            [cells],
            MAPPING,
            ids=lambda _kind, row_id=row["Lead ID"]: row_id,
            now=datetime(2000, 1, 1, tzinfo=UTC),
            on_duplicate="create",
        )
        out.extend(outcome.lead for outcome in run if outcome.lead is not None)
    return out


def predictive_model() -> Any:
    history = [
        Outcome(Lead(id=f"H{i}", last_name="A", company="A", source=s), won)
        for i, (s, won) in enumerate([("Web", True), ("Web", True), ("Trade Show", False)])
    ]
    return train_predictive(history, features=["source"], kind="naive_bayes")


@settings(
    max_examples=10 if LONG else 1,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example runs Spark jobs
    suppress_health_check=list(HealthCheck),
)
@given(
    table=tables(),
    parts=st.integers(1, 3),
    rule=st.sampled_from([STANDARD_LEAD_RULE, EXACT_EMAIL_OR_PHONE]),
)
def test_generated_rows_group_and_score_as_one_process(
    recipe: dict[str, Any], table: pd.DataFrame, parts: int, rule: Any
) -> None:
    spark = recipe["spark"]
    frame = spark.createDataFrame(table).repartition(parts)
    records = recipe["records_of"](frame, MAPPING, rule, id_column="Lead ID").cache()
    edges = recipe["edges_of"](records, rule).cache()
    expected = find_duplicates(leads_in_one_process(table), rule)
    assert any(len(group.ids) >= 5 for group in expected)  # the chain is there
    assert recipe["groups_on_the_driver"](edges) == expected
    in_spark = recipe["groups_in_spark"](edges).orderBy("first_id").collect()
    assert [from_json(DuplicateGroup, row.group) for row in in_spark] == expected
    # Nothing lost: each row is a record or a problem.
    read = records.collect()
    assert sorted(row.id for row in read) == sorted(table["Lead ID"])
    assert sum(row.problem is None for row in read) == len(leads_in_one_process(table))

    for model in (MODEL, predictive_model()):
        scores = recipe["scores_of"](frame, model, now=NOW, mapping=MAPPING, id_column="Lead ID")
        alone = score_rows(
            table.to_dict("records"), model, now=NOW, mapping=MAPPING, id_column="Lead ID"
        )
        assert sorted(tuple(row) for row in scores.collect()) == sorted(alone)
