"""Tool documentation for the model, from each public function's signature and docstring.

The text is deterministic (no addresses, no dict order surprises): it is shown
to the model and hashed into the compiled worker's fingerprint.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

from maisa.specs.model import ToolRef, WorkerSpec
from maisa.tools.base import FunctionDoc, ToolDoc
from maisa.tools.custom import load_custom, public_functions


def _annotation(value: Any) -> str:
    if isinstance(value, str):  # postponed annotations (from __future__ import annotations)
        return value
    return inspect.formatannotation(value)


def render_signature(function: Any, drop_first: bool = False) -> str:
    """`(path: str, limit: int = 10) -> str`, with `self` dropped for methods."""
    signature = inspect.signature(function, eval_str=False)
    params = list(signature.parameters.values())
    if drop_first and params:
        params = params[1:]
    parts: list[str] = []
    seen_keyword_only = False
    for param in params:
        if param.kind is param.KEYWORD_ONLY and not seen_keyword_only:
            parts.append("*")
        if param.kind in (param.KEYWORD_ONLY, param.VAR_POSITIONAL):
            seen_keyword_only = True
        prefix = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        text = prefix + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += (
                f" = {param.default!r}"
                if param.annotation is not param.empty
                else f"={param.default!r}"
            )
        parts.append(text)
        if param.kind is param.POSITIONAL_ONLY and (
            params.index(param) == len(params) - 1
            or params[params.index(param) + 1].kind is not param.POSITIONAL_ONLY
        ):
            parts.append("/")
    rendered = f"({', '.join(parts)})"
    if signature.return_annotation is not signature.empty:
        rendered += f" -> {_annotation(signature.return_annotation)}"
    return rendered


def _functions_of(target: type | ModuleType) -> list[tuple[str, Any, bool]]:
    if isinstance(target, ModuleType):
        return [(name, f, False) for name, f in public_functions(target).items()]
    # A class: its own public methods, in definition order (vars() keeps source order).
    return [
        (name, member, True)
        for name, member in vars(target).items()
        if not name.startswith("_") and inspect.isfunction(member)
    ]


def describe(name: str, tool_class_or_module: type | ModuleType, version: str) -> ToolDoc:
    """The ToolDoc of a built-in tool class or a custom tool module."""
    functions = tuple(
        FunctionDoc(
            name=function_name,
            signature=render_signature(function, drop_first=is_method),
            doc=inspect.cleandoc(function.__doc__ or ""),
        )
        for function_name, function, is_method in _functions_of(tool_class_or_module)
    )
    return ToolDoc(
        name=name,
        version=version,
        doc=inspect.cleandoc(tool_class_or_module.__doc__ or ""),
        functions=functions,
    )


def describe_ref(ref: ToolRef, spec_dir: Path) -> ToolDoc:
    """The ToolDoc of one declared tool (custom when it names a module, else built-in)."""
    from maisa.tools.catalogue import BUILTIN_TOOLS, CATALOGUE_VERSIONS, unknown_tool

    if ref.module:
        custom = load_custom(ref.name, ref.module, spec_dir)
        return describe(ref.name, custom.module, custom.version)
    if ref.name not in BUILTIN_TOOLS:
        raise unknown_tool(ref.name)
    return describe(ref.name, BUILTIN_TOOLS[ref.name], CATALOGUE_VERSIONS[ref.name])


def describe_tools(spec: WorkerSpec, spec_dir: Path) -> tuple[ToolDoc, ...]:
    """The docs of every tool the spec declares, in declaration order."""
    return tuple(describe_ref(ref, spec_dir) for ref in spec.tools)


def render_tool_doc(doc: ToolDoc) -> str:
    """A ToolDoc as plain text for a prompt: the tool, then `name.fn(sig)` and its docstring."""
    lines = [f"{doc.name}: {doc.doc}".rstrip()]
    for function in doc.functions:
        lines.append(f"  {doc.name}.{function.name}{function.signature}")
        lines.extend(f"      {line}".rstrip() for line in function.doc.splitlines())
    return "\n".join(lines)
