"""Root conftest: runs the Python examples in README.md and docs/*.md, and the doctests in
src/ (Sybil)."""

import os
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser
from sybil.sybil import SybilCollection

pytest_collect_file = SybilCollection(
    [
        Sybil(parsers=[PythonCodeBlockParser()], patterns=["*.md"], path="docs"),
        Sybil(parsers=[PythonCodeBlockParser()], patterns=["README.md"]),
        Sybil(
            parsers=[DocTestParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE)],
            patterns=["*.py"],
            path="src",
        ),
    ]
).pytest()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--long``: the fuzz harness and complexity checks with many more examples and sizes."""
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run tests/fuzz with many examples and the 1M-character complexity checks",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Tell the fuzz harness's value pool (built at import) that this is a --long run."""
    if config.getoption("--long", default=False):
        os.environ["LEADMODEL_FUZZ_LONG"] = "1"


@pytest.fixture
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    """How many examples each fuzzed entry point gets: a few in CI, many with --long."""
    return 300 if request.config.getoption("--long") else 6


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """Whether ``--long`` was given."""
    return bool(request.config.getoption("--long"))
