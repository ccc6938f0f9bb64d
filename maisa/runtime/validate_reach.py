"""What step code can reach without a dunder: module attributes, frames, string-named access.

The validator's import rules mean little if an allowed module hands out a
forbidden one as an attribute (`uuid.os`, `contextlib.sys`, `from random
import _os`), if a module object can be passed where the checker cannot follow
it, or if an attribute name arrives as a computed string (`getattr` aliased,
`operator.attrgetter`, `string.Formatter.get_field`, `match` class patterns,
string annotations that `typing.get_type_hints` evaluates). This module holds
those rules; `validate.py` applies them.
"""

from __future__ import annotations

import ast
import importlib
import types
from collections.abc import Iterator

# Attribute names under which an allowed stdlib module exposes a module the validator
# refuses (found by walking every allowed module; tests/runtime/test_validate_attacks.py
# re-walks them so a new Python version cannot add one silently).
MODULE_LEAKS = frozenset(
    {
        "os",
        "sys",
        "builtins",
        "bltns",
        "codecs",
        "copyreg",
        "inspect",
        "keyword",
        "platform",
        "sysconfig",
        "types",
        "warnings",
        "linecache",
        "tokenize",
        "traceback",
        "weakref",
        "importlib",
        "subprocess",
        "socket",
        "signal",
        "threading",
        "locale",
    }
)

# Attributes that reach frames, code, other scopes, or evaluate strings as code.
FORBIDDEN_ATTRIBUTES = {
    **dict.fromkeys(
        (
            "gi_frame",
            "gi_code",
            "cr_frame",
            "cr_code",
            "ag_frame",
            "ag_code",
            "tb_frame",
            "tb_next",
            "f_back",
            "f_globals",
            "f_locals",
            "f_builtins",
            "f_code",
            "co_code",
            "co_consts",
            "func_globals",
        ),
        "it reaches interpreter frames or code objects",
    ),
    "ForwardRef": "a ForwardRef evaluates a string as code",
    "get_type_hints": "get_type_hints() evaluates annotations as code",
    "_evaluate": "it evaluates a string as code",
    "_eval_type": "it evaluates a string as code",
    "Formatter": "string.Formatter walks attribute names given as strings",
}

# Callables that take attribute names as strings: only direct calls with literal names.
STRING_ATTRIBUTE_CALLABLES = frozenset(
    {"getattr", "setattr", "delattr", "hasattr", "attrgetter", "methodcaller"}
)


def attribute_problem(name: str) -> str | None:
    """Why step code may not use the attribute `name` (literal or in an AST), or None."""
    if name.startswith("__"):
        return f"access to the attribute '{name}' is not allowed"
    if name in FORBIDDEN_ATTRIBUTES:
        return f"access to the attribute '{name}' is not allowed: {FORBIDDEN_ATTRIBUTES[name]}"
    if name.lstrip("_") in MODULE_LEAKS:
        return f"access to the attribute '{name}' is not allowed: it names a forbidden module"
    return None


def dotted_problem(text: str) -> str | None:
    """attribute_problem for every component of a dotted name ("a.b.__class__")."""
    for part in text.split("."):
        problem = attribute_problem(part)
        if problem:
            return problem
    return None


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent, for rules that depend on where a name is used."""
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def module_aliases(tree: ast.AST) -> dict[str, str]:
    """Names the code binds to modules: `import a.b` (a), `import a as x`, `from a import sub`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if isinstance(_host_attribute(node.module, alias.name), types.ModuleType):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _host_attribute(module: str, name: str) -> object:
    """`module.name` as the host sees it, for stdlib modules only (importing is side-effect free
    there); None when unknown."""
    from maisa.runtime.validate import SAFE_IMPORTS

    if module.split(".")[0] not in SAFE_IMPORTS:
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def module_chain(node: ast.Attribute, aliases: dict[str, str]) -> tuple[str, list[str]] | None:
    """For `alias.a.b`: (module name, ["a", "b"]) when the chain is rooted at a module alias."""
    attrs: list[str] = []
    base: ast.AST = node
    while isinstance(base, ast.Attribute):
        attrs.append(base.attr)
        base = base.value
    if isinstance(base, ast.Name) and base.id in aliases:
        return aliases[base.id], attrs[::-1]
    return None


def leaked_modules(module: str, attrs: list[str]) -> Iterator[tuple[int, types.ModuleType]]:
    """(index, module) for every attribute of the chain that is a module on the host."""
    current = module
    for index, attr in enumerate(attrs):
        value = _host_attribute(current, attr)
        if not isinstance(value, types.ModuleType):
            return
        yield index, value
        current = value.__name__


def string_annotations(tree: ast.AST) -> Iterator[tuple[ast.Constant, ast.Expression]]:
    """Annotations written as strings, parsed: libraries (singledispatch, typing) evaluate them."""
    for node in ast.walk(tree):
        found: list[ast.AST | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for annotation in found:
            for constant in ast.walk(annotation) if annotation else ():
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    try:
                        parsed = ast.parse(constant.value.strip(), mode="eval")
                    except (SyntaxError, ValueError):
                        continue
                    yield constant, parsed
