"""The documentation site: every public name has a place in the API reference, and
``mkdocs build --strict`` passes (when the ``docs`` extra is installed).

`.ci/run` builds the site itself after the tests and sets ``LEADMODEL_SITE_BUILT=1`` so the
build is not run twice; the reference check needs no MkDocs and always runs.
"""

import functools
import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leadmodel

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
BLOCK = re.compile(r"^::: ([\w.]+)\n((?:    .*\n|\n(?=    ))*)", re.MULTILINE)
MEMBER = re.compile(r"^        - (\w+)$", re.MULTILINE)
# Public modules the API reference leaves out, each with its reason.
NOT_IN_REFERENCE = {
    "leadmodel.cli": "the command line; docs/cli.md documents its commands, not main()",
}


def reference_blocks() -> list[tuple[str, str, list[str] | None]]:
    """What each ``::: identifier`` line of docs/reference renders: (page, module, names).

    ``::: leadmodel.services`` renders the module's ``__all__`` (names ``None``, or the
    ``members:`` it lists); ``::: leadmodel.Lead`` renders one name of a module.
    """
    blocks = []
    for page in sorted(REFERENCE.glob("*.md")):
        for match in BLOCK.finditer(page.read_text(encoding="utf-8")):
            identifier, options = match.group(1), match.group(2)
            try:
                importlib.import_module(identifier)
            except ModuleNotFoundError:
                module_name, _, name = identifier.rpartition(".")
                blocks.append((page.name, module_name, [name]))
                continue
            members = MEMBER.findall(options) if "members:" in options else None
            blocks.append((page.name, identifier, members))
    return blocks


def public_modules() -> list[str]:
    """``leadmodel`` and each submodule with an ``__all__`` and no ``_`` part in its name."""
    names = []
    for info in pkgutil.walk_packages(leadmodel.__path__, "leadmodel."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name in NOT_IN_REFERENCE:
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        if hasattr(module, "__all__"):
            names.append(info.name)
    return ["leadmodel", *sorted(names)]


@functools.cache
def documented() -> frozenset[tuple[str, int]]:
    """(name, id of the object) for everything a reference block renders."""
    found = set()
    for _page, module_name, members in reference_blocks():
        module = importlib.import_module(module_name)
        for name in module.__all__ if members is None else members:
            found.add((name, id(getattr(module, name))))
    return frozenset(found)


def test_each_reference_block_names_a_module_and_its_public_members():
    blocks = reference_blocks()
    assert len(blocks) > 10
    for page, module_name, members in blocks:
        module = importlib.import_module(module_name)
        exported = set(getattr(module, "__all__", ()))
        assert exported, f"{page}: {module_name} has no __all__ to document"
        unknown = sorted(set(members or ()) - exported)
        assert not unknown, f"{page}: ::: {module_name} lists names it does not export: {unknown}"


def test_every_name_of_leadmodel_is_on_exactly_one_reference_page():
    pages: dict[str, list[str]] = {}
    for page, module_name, members in reference_blocks():
        if module_name == "leadmodel":
            assert members is not None, f"{page}: document leadmodel's names one by one"
            for name in members:
                pages.setdefault(name, []).append(page)
    missing = sorted(set(leadmodel.__all__) - set(pages))
    assert not missing, f"add a ::: leadmodel.NAME line to a docs/reference page for {missing}"
    twice = {name: where for name, where in pages.items() if len(where) > 1}
    assert not twice, f"documented on more than one page: {twice}"


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_of_every_module_is_in_the_reference(module_name):
    module = importlib.import_module(module_name)
    seen = documented()
    missing = [name for name in module.__all__ if (name, id(getattr(module, name))) not in seen]
    assert not missing, (
        f"{module_name} exports {missing}, which no docs/reference page renders: add a "
        f"::: {module_name}.NAME line (::: leadmodel.NAME if leadmodel re-exports it)"
    )


def test_every_reference_page_and_guide_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")]
    missing = sorted(page for page in pages if page not in nav)
    assert not missing, f"mkdocs.yml's nav leaves out {missing}"


@pytest.mark.skipif(
    os.environ.get("LEADMODEL_SITE_BUILT") == "1",
    reason="LEADMODEL_SITE_BUILT=1: the caller (.ci/run) builds the site with --strict itself",
)
@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="MkDocs is not installed (pip install -e '.[docs]')",
)
def test_the_site_builds_strictly_with_the_reference_pages(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (site / "index.html").is_file()
    assert (site / "api" / "duplicates" / "index.html").is_file()
    assert (site / "notebooks" / "tour.ipynb").is_file()
    entities = (site / "reference" / "entities" / "index.html").read_text(encoding="utf-8")
    assert 'id="leadmodel.Lead"' in entities
    assert '<span class="n">last_name</span>' in entities  # the signature attrs generates
    assert "language-pycon" in entities or '<span class="gp">&gt;&gt;&gt; </span>' in entities
    duplicates = (site / "reference" / "duplicates" / "index.html").read_text(encoding="utf-8")
    assert 'id="leadmodel.find_duplicates"' in duplicates
    services = (site / "reference" / "services" / "index.html").read_text(encoding="utf-8")
    assert 'id="leadmodel.services.save"' in services
    # Every name a reference block renders has its heading (an anchor to link to).
    for page, module_name, members in reference_blocks():
        html = (site / "reference" / Path(page).stem / "index.html").read_text(encoding="utf-8")
        names = importlib.import_module(module_name).__all__ if members is None else members
        absent = [name for name in names if f'id="{module_name}.{name}"' not in html]
        assert not absent, f"{page} renders no heading for {absent} of {module_name}"


# -- the griffe extension (docs/griffe_leadmodel.py) ---------------------------------------

DOC_LINES = st.sampled_from(
    [
        "",
        "Some prose.",
        "    indented prose",
        ">>> x = 1",
        ">>>",
        "... continued",
        "    >>> indented()",
        "output",
        "```",
        "```python",
        "~~~",
        "See :func:`find_duplicates`.",
    ]
)


@pytest.fixture(scope="module")
def extension():
    pytest.importorskip("griffe", reason="griffe comes with the docs extra")
    spec = importlib.util.spec_from_file_location(
        "griffe_leadmodel", ROOT / "docs" / "griffe_leadmodel.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(DOC_LINES, max_size=12))
def test_fencing_doctests_adds_fences_only_and_is_idempotent(extension, lines):
    text = "\n".join(lines)
    fenced = extension._fence_doctests(text)
    # Nothing lost or changed: the original lines are a subsequence of the result, and
    # every line added is a blank line or a fence.
    added = list(fenced.split("\n"))
    for line in lines:
        while added and added[0] != line:
            assert added.pop(0).strip() in {"", "```", "```pycon"}
        assert added, f"{line!r} was lost"
        added.pop(0)
    assert all(line.strip() in {"", "```", "```pycon"} for line in added)
    assert extension._fence_doctests(fenced) == fenced
    # Every >>> line outside a fence of the original is now inside a pycon fence.
    in_fence = False
    for line in fenced.split("\n"):
        if extension._FENCE.match(line):
            in_fence = not in_fence
        elif extension._is_doctest(line):
            assert in_fence


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(DOC_LINES, max_size=12))
def test_prose_rewriting_never_touches_fenced_code(extension, lines):
    text = "\n".join(lines)
    assert extension._outside_fences(text, lambda prose: prose) == text
    marked = extension._outside_fences(text, lambda prose: prose.replace("x", "X"))
    in_fence = False
    for before, after in zip(text.split("\n"), marked.split("\n"), strict=True):
        if extension._FENCE.match(before):
            in_fence = not in_fence
            assert after == before
        elif in_fence:
            assert after == before
        else:
            assert after == before.replace("x", "X")


def load_with_extension(extension, name, search_path):
    import griffe

    return griffe.load(
        name,
        search_paths=[search_path],
        extensions=griffe.load_extensions(extension.LeadmodelDocstrings),
        resolve_aliases=True,
    )


ATTRS_MODULE = '''
"""Roles: :class:`Keyword`, :func:`~pkgdoc.plain`, :mod:`the module <pkgdoc>`, :func:`math.fsum`."""
import attrs


@attrs.frozen(kw_only=True)
class Keyword:
    """Keyword-only fields.

    >>> Keyword(x=1)
    Keyword(x=1, _y='a', z=[], vee=1)
    """

    x: int
    _y: str = "a"
    z: list[int] = attrs.field(factory=list)
    w: int = attrs.field(init=False, default=0)
    v: int = attrs.field(alias="vee", default=1)

    @property
    def p(self) -> int:
        """Not a field."""
        return self.x


@attrs.frozen
class Positional:
    """Positional fields."""

    a: int
    b: str = "b"


def plain() -> None:
    """A function."""
'''


def test_attrs_classes_get_the_init_attrs_generates(extension, tmp_path):
    (tmp_path / "pkgdoc").mkdir()
    (tmp_path / "pkgdoc" / "__init__.py").write_text(ATTRS_MODULE, encoding="utf-8")
    package = load_with_extension(extension, "pkgdoc", tmp_path)
    keyword = package["Keyword"].members["__init__"].parameters
    assert [p.name for p in keyword] == ["self", "x", "y", "z", "vee"]
    assert {p.kind.value for p in list(keyword)[1:]} == {"keyword-only"}
    assert [str(p.default) for p in list(keyword)[1:]] == ["None", "'a'", "list()", "1"]
    positional = package["Positional"].members["__init__"].parameters
    assert [(p.name, p.kind.value) for p in positional][1:] == [
        ("a", "positional or keyword"),
        ("b", "positional or keyword"),
    ]
    doc = package["Keyword"].docstring.value
    assert "```pycon\n>>> Keyword(x=1)\nKeyword(x=1, _y='a', z=[], vee=1)\n```" in doc
    roles = package.docstring.value
    assert '<autoref identifier="pkgdoc.Keyword" optional><code>Keyword</code></autoref>' in roles
    assert '<autoref identifier="pkgdoc.plain" optional><code>plain</code></autoref>' in roles
    assert '<autoref identifier="pkgdoc" optional><code>the module</code></autoref>' in roles
    assert "`math.fsum`" in roles  # another package: shown as code, not linked


def test_a_role_naming_nothing_is_reported(extension, tmp_path, caplog):
    (tmp_path / "pkgbad").mkdir()
    (tmp_path / "pkgbad" / "__init__.py").write_text(
        '"""See :func:`nothing_here` and :class:`pkgbad.Missing`."""\n', encoding="utf-8"
    )
    with caplog.at_level("WARNING"):
        package = load_with_extension(extension, "pkgbad", tmp_path)
    assert package.docstring.value == "See `nothing_here` and `pkgbad.Missing`."
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert ":func:`nothing_here`" in warned
    assert ":class:`pkgbad.Missing`" in warned


def test_leadmodel_docstrings_link_their_roles(extension):
    package = load_with_extension(extension, "leadmodel", ROOT / "src")
    doc = package["find_duplicates"].docstring.value
    assert '<autoref identifier="leadmodel.rules.dedupe.find_duplicates_report"' in doc
    assert "```pycon" in doc
    lead = package["Lead"].members["__init__"].parameters
    assert "last_name" in [p.name for p in lead]


# -- the hooks that link the guide pages' inline code (docs/mkdocs_hooks.py) --------------


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "docs" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NAMES = frozenset({"Lead", "find_duplicates", "score", "_private"})
HTML_PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        " text ",
        "<code>Lead</code>",
        "<code>find_duplicates</code>",
        "<code>score</code>",
        "<code>Unknown</code>",
        "<code>leadmodel.services.save</code>",
        '<pre><code class="language-python">',
        "</code></pre>",
        '<h2 id="x">',
        "</h2>",
        '<a href="#y">',
        "</a>",
    ]
)
AUTOREF = re.compile(r'<autoref identifier="[^"]*" optional>|</autoref>')


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(HTML_PIECES, max_size=12))
def test_linking_inline_code_only_wraps_it(hooks, pieces):
    html = "".join(pieces)
    linked = hooks.link_code(html, NAMES)
    assert AUTOREF.sub("", linked) == html  # nothing but the autoref tags added
    assert hooks.link_code(linked, NAMES) == linked  # linked code is not linked again


def test_inline_code_naming_a_public_name_links_to_it(hooks):
    html = (
        "<p><code>Lead</code>, <code>find_duplicates</code>, <code>score</code>, "
        "<code>Unknown</code>, <code>leadmodel.services.save</code></p>"
        '<pre><code class="language-python">Lead</code></pre>'
        '<h2 id="lead"><code>Lead</code></h2><a href="#x"><code>Lead</code></a>'
    )
    assert hooks.link_code(html, NAMES) == (
        '<p><autoref identifier="leadmodel.Lead" optional><code>Lead</code></autoref>, '
        '<autoref identifier="leadmodel.find_duplicates" optional>'
        "<code>find_duplicates</code></autoref>, <code>score</code>, <code>Unknown</code>, "
        '<autoref identifier="leadmodel.services.save" optional>'
        "<code>leadmodel.services.save</code></autoref></p>"
        '<pre><code class="language-python">Lead</code></pre>'
        '<h2 id="lead"><code>Lead</code></h2><a href="#x"><code>Lead</code></a>'
    )


def test_the_hooks_read_the_names_leadmodel_exports(hooks):
    names = hooks.public_names(ROOT / "src" / "leadmodel" / "__init__.py")
    assert names == frozenset(leadmodel.__all__)
