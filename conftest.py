"""Root conftest: runs the Python examples in README.md and docs/*.md, and the doctests in
src/ (Sybil)."""

import importlib.util
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path
from types import ModuleType

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser
from sybil.sybil import SybilCollection

pytest_collect_file = SybilCollection(
    [
        Sybil(
            parsers=[PythonCodeBlockParser()],
            patterns=["*.md"],
            excludes=["postgres.md"],
            path="docs",
        ),
        # Its examples talk to a server: they get the test cluster's URL, or are skipped.
        Sybil(
            parsers=[PythonCodeBlockParser()],
            patterns=["postgres.md"],
            path="docs",
            fixtures=["postgres_docs_url"],
        ),
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


def _cluster() -> ModuleType:
    """tests/postgres_cluster.py (loaded by path: docs run without tests/ on sys.path)."""
    path = Path(__file__).parent / "tests" / "postgres_cluster.py"
    spec = importlib.util.spec_from_file_location("leadmodel_postgres_cluster", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the tests: ``LEADMODEL_TEST_POSTGRES``, or a throw-away one.

    Without the variable, a cluster is started in a temporary folder (on a unix socket, as
    ``nobody`` when we are root: ``initdb`` refuses root) and stopped at the end of the
    session. Skipped, with the reason, when psycopg or the server binaries are missing.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'leadmodel[postgres]'")
    given = os.environ.get("LEADMODEL_TEST_POSTGRES")
    if given:
        yield given
        return
    cluster = _cluster()
    if cluster.binaries() is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
            "/usr/lib/postgresql/*/bin, and LEADMODEL_TEST_POSTGRES is not set"
        )
    folder = tempfile.mkdtemp(prefix="leadmodel-pg-", dir="/tmp")  # short: a socket path
    try:
        yield cluster.start(folder)
    finally:
        cluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _fresh_schema(url: str) -> Iterator[str]:
    """*url* with a new, empty schema as ``search_path``; the schema is dropped after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """The test server's URL with a fresh, empty schema of its own as ``search_path``."""
    with _fresh_schema(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_docs_url(postgres_url: str) -> Iterator[str]:
    """One fresh schema for all the examples of a docs page (they build on each other)."""
    with _fresh_schema(postgres_url) as url:
        yield url
