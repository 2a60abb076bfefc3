"""MkDocs hooks for the site (``mkdocs.yml`` loads them; no part of the package).

The guide pages name the library's classes and functions in inline code, as they read on
GitHub. On the site, inline code that is exactly a public name of ``leadmodel`` (a class, or
a name with an underscore, like ``find_duplicates``: short words such as ``score`` are too
often a field or a word) or a dotted ``leadmodel.…`` path links to its API reference entry.
Links go through autorefs as optional references: a name the reference does not render is
left as plain code, never a broken link. Code blocks, headings and existing links are left
alone. The names are read from ``src/leadmodel/__init__.py`` without importing it.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

_SKIP = re.compile(r"(?s)<pre\b.*?</pre>|<h[1-6]\b.*?</h[1-6]>|<a\b.*?</a>|<autoref\b.*?</autoref>")
_CODE = re.compile(r"<code>([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)</code>")


@cache
def public_names(init: Path) -> frozenset[str]:
    """The names in ``__all__`` of the package's ``__init__.py`` (read, not imported)."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def _identifier(text: str, names: frozenset[str]) -> str | None:
    if text.startswith("leadmodel."):
        return text
    if text in names and (text[0].isupper() or "_" in text.strip("_")):
        return f"leadmodel.{text}"
    return None


def link_code(html: str, names: frozenset[str]) -> str:
    """*html* with each inline ``<code>name</code>`` outside code, headings and links linked."""

    def link(match: re.Match[str]) -> str:
        identifier = _identifier(match.group(1), names)
        if identifier is None:
            return match.group(0)
        return f'<autoref identifier="{identifier}" optional>{match.group(0)}</autoref>'

    out = []
    position = 0
    for skipped in _SKIP.finditer(html):
        out.append(_CODE.sub(link, html[position : skipped.start()]))
        out.append(skipped.group(0))
        position = skipped.end()
    out.append(_CODE.sub(link, html[position:]))
    return "".join(out)


def on_page_content(html: str, *, page: Any, config: Any, **kwargs: Any) -> str:  # noqa: ARG001
    """Link the guide pages' inline code to the reference (the reference links itself)."""
    if page.file.src_uri.startswith("reference/"):
        return html
    init = Path(config["config_file_path"]).parent / "src" / "leadmodel" / "__init__.py"
    return link_code(html, public_names(init))
