"""A griffe extension for the API reference (``mkdocs.yml`` loads it; no part of the package).

leadmodel's docstrings are written for readers of the source and for doctest: Google-style
sections, Sphinx roles (``:class:`~leadmodel.Lead```) and bare ``>>>`` examples. This
extension makes them render on the site, statically (it imports nothing from leadmodel):

- **attrs classes** get the ``__init__`` attrs generates at runtime (fields in order, aliases
  of private fields, ``kw_only``, defaults and factories, ``init=False`` left out), so a
  class's signature is shown and its ``Args:`` section is checked against real parameters;
- **doctest blocks** (``>>>`` lines and their output, up to a blank line) are fenced as
  ``pycon`` code, so their output is not read as Markdown;
- **Sphinx roles** become cross-references: a target found in the loaded packages links to
  it (through autorefs; an object that exists but is documented on no page is shown as
  code), and a target that does not exist is reported as a warning, which fails
  ``mkdocs build --strict``.
"""

from __future__ import annotations

import ast
import re
from html import escape
from typing import TYPE_CHECKING, Any

from griffe import (
    Alias,
    AliasResolutionError,
    Attribute,
    Class,
    CyclicAliasError,
    Expr,
    ExprCall,
    ExprKeyword,
    Extension,
    Function,
    Module,
    Object,
    Parameter,
    ParameterKind,
    Parameters,
    logger,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_ATTRS_DECORATORS = frozenset(
    {
        "attrs.frozen",
        "attrs.define",
        "attrs.mutable",
        "attr.s",
        "attr.attrs",
        "attr.frozen",
        "attr.define",
        "attr.mutable",
    }
)
_ATTRS_FIELDS = frozenset({"attrs.field", "attr.ib", "attr.attrib", "attr.field"})
_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|data|mod|exc|obj|const):`([^`]+)`")
_EXPLICIT_TITLE = re.compile(r"(?s)(.*?)\s*<([^<>]+)>")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _call_arguments(expr: object) -> dict[str, Any]:
    """The keyword arguments of a call expression (``attrs.frozen(kw_only=True)``)."""
    if not isinstance(expr, ExprCall):
        return {}
    arguments: dict[str, Any] = {}
    for argument in expr.arguments:
        if isinstance(argument, ExprKeyword):
            arguments[argument.name] = argument.value
    return arguments


def _attrs_decorator(cls: Class) -> Expr | str | None:
    for decorator in cls.decorators:
        value = decorator.value
        path = value.function.canonical_path if isinstance(value, ExprCall) else None
        if path is None and isinstance(value, Expr):
            path = value.canonical_path
        if path in _ATTRS_DECORATORS:
            return value
    return None


def _field_call(attribute: Attribute) -> dict[str, Any] | None:
    """The arguments of ``attrs.field(...)`` when the attribute's value is such a call."""
    value = attribute.value
    if isinstance(value, ExprCall) and value.function.canonical_path in _ATTRS_FIELDS:
        return _call_arguments(value)
    return None


def _is_true(value: object) -> bool:
    return str(value) == "True"


def _attrs_parameters(cls: Class) -> list[Parameter]:
    """The parameters attrs puts in ``__init__`` for the fields *cls* itself declares."""
    decorator = _attrs_decorator(cls)
    if decorator is None:
        return []
    class_kw_only = _is_true(_call_arguments(decorator).get("kw_only"))
    parameters = []
    for member in cls.members.values():
        if not isinstance(member, Attribute) or member.annotation is None:
            continue
        if "property" in member.labels:
            continue
        if "class-attribute" in member.labels and "instance-attribute" not in member.labels:
            continue  # ClassVar
        if str(member.annotation).startswith(("ClassVar", "typing.ClassVar", "Final")):
            continue
        field = _field_call(member)
        if field is not None and str(field.get("init")) == "False":
            continue
        name = member.name
        if field is not None and "alias" in field:
            name = ast.literal_eval(str(field["alias"]))
        elif name.startswith("_"):
            name = name.lstrip("_")
        default: str | Expr | None
        if field is None:
            default = member.value
        elif "default" in field:
            default = field["default"]
        elif "factory" in field:
            default = ExprCall(function=field["factory"], arguments=[])
        else:
            default = None
        kw_only = class_kw_only or (field is not None and _is_true(field.get("kw_only")))
        parameters.append(
            Parameter(
                name,
                annotation=member.annotation,
                kind=ParameterKind.keyword_only if kw_only else ParameterKind.positional_or_keyword,
                default=default,
                docstring=member.docstring,
            )
        )
    return parameters


def _set_attrs_init(cls: Class) -> None:
    if _attrs_decorator(cls) is None or "__init__" in cls.members:
        return
    try:
        mro = cls.mro()
    except ValueError:
        mro = []
    by_name: dict[str, Parameter] = {}
    for parent in [*reversed(mro), cls]:
        for parameter in _attrs_parameters(parent):
            by_name[parameter.name] = parameter
    positional = [p for p in by_name.values() if p.kind is not ParameterKind.keyword_only]
    keyword = [p for p in by_name.values() if p.kind is ParameterKind.keyword_only]
    init = Function(
        "__init__",
        lineno=0,
        endlineno=0,
        parent=cls,
        parameters=Parameters(
            Parameter("self", kind=ParameterKind.positional_or_keyword),
            *positional,
            *keyword,
        ),
        returns="None",
    )
    cls.set_member("__init__", init)
    cls.labels.add("attrs")


def _is_doctest(line: str) -> bool:
    stripped = line.lstrip()
    return stripped == ">>>" or stripped.startswith(">>> ")


def _fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` lines (with their output) in a ``pycon`` fence.

    A run ends at a blank line or a fence line. Lines already inside a fence are left alone,
    so fencing twice changes nothing more; no line is dropped or changed, lines are only
    added (the fences, and a blank line before one that would touch a paragraph).
    """
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not _is_doctest(line):
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip() and not _FENCE.match(lines[index]):
            out.append(lines[index])
            index += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def _outside_fences(text: str, replace: Callable[[str], str]) -> str:
    """*text* with *replace* applied to each stretch of lines outside fenced code."""
    out: list[str] = []
    prose: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            if not in_fence and prose:
                out.append(replace("\n".join(prose)))
                prose = []
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        else:
            prose.append(line)
    if prose:
        out.append(replace("\n".join(prose)))
    return "\n".join(out)


def _lookup(scope: Object | Alias, parts: list[str]) -> Object | Alias:
    """Follow *parts* down from *scope*; a class's inherited members count (Sphinx's do)."""
    current = scope
    for part in parts:
        members = current.all_members if getattr(current, "is_class", False) else current.members
        current = members[part]
    return current


def _resolve(obj: Object, target: str) -> Object | Alias | None:
    """The object *target* names, looked up as Sphinx would from *obj*'s scope outwards."""
    parts = target.lstrip(".").split(".")
    scopes: list[Object | Alias] = []
    scope: Object | Alias | None = obj
    while scope is not None:
        scopes.append(scope)
        scope = scope.parent
    for candidate in [*scopes, obj.modules_collection]:
        try:
            return _lookup(candidate, parts)  # type: ignore[arg-type]
        except (KeyError, ValueError, AttributeError, AliasResolutionError, CyclicAliasError):
            continue
    return None


def _role(obj: Object, match: re.Match[str]) -> str:
    role, content = match.group(1), match.group(2)
    explicit = _EXPLICIT_TITLE.fullmatch(content)
    if explicit:
        title, target = explicit.group(1), explicit.group(2)
    else:
        target = content
        title = content.lstrip("~!.")
        if content.startswith("~"):
            title = title.rsplit(".", 1)[-1]
    target = target.lstrip("~!")
    found = _resolve(obj, target)
    if (
        found is None
        and "." in target
        and target.split(".")[0] not in obj.modules_collection.members
    ):
        return f"`{title}`"  # the standard library or another package: no page here
    if found is None:
        logger.warning(
            "%s: :%s:`%s` names nothing leadmodel defines (fix or drop the role)",
            obj.path,
            role,
            content,
        )
        return f"`{title}`"
    try:
        identifier = found.canonical_path
    except (AliasResolutionError, CyclicAliasError):  # an alias to another package
        identifier = found.path
    code = f"<code>{escape(title)}</code>"
    return f'<autoref identifier="{escape(identifier)}" optional>{code}</autoref>'


def _rewrite(obj: Object) -> None:
    docstring = obj.docstring
    if docstring is None:
        return
    docstring.value = _outside_fences(
        _fence_doctests(docstring.value),
        lambda prose: _ROLE.sub(lambda match: _role(obj, match), prose),
    )


def _walk(obj: Object, seen: set[str]) -> Iterator[Object]:
    if obj.path in seen:
        return
    seen.add(obj.path)
    yield obj
    for member in obj.members.values():
        if isinstance(member, Alias):
            continue
        yield from _walk(member, seen)


class LeadmodelDocstrings(Extension):
    """attrs ``__init__``, fenced doctests and Sphinx roles, for every object of a package."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite the loaded package once it is complete (aliases can then be resolved)."""
        objects = list(_walk(pkg, set()))
        for obj in objects:
            if isinstance(obj, Class):
                _set_attrs_init(obj)
        for obj in objects:
            _rewrite(obj)
