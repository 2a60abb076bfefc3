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
