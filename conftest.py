"""Root conftest: runs the Python examples in README.md and docs/*.md, and the doctests in
src/ (Sybil)."""

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

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
