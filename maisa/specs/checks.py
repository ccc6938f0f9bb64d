"""Checks a spec needs beyond its types: tools that exist, modules that import, valid regexes.

They run on the raw YAML data (not the validated model) so that their problems
are reported together with the type errors of the same file. Each check skips
what is malformed: the type validation already reports that.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maisa.specs.messages import FieldError, dotted, suggest

# Used only until the tool catalogue (maisa.tools.catalogue) is importable.
_FALLBACK_BUILTINS = ("files", "pdf", "mail", "http", "db")


def builtin_tool_names() -> list[str]:
    """Names of the built-in tools, from the catalogue."""
    try:
        from maisa.tools.catalogue import BUILTIN_TOOLS
    except ImportError:
        return list(_FALLBACK_BUILTINS)
    return sorted(BUILTIN_TOOLS)


def check_spec_data(data: dict[str, Any], spec_dir: Path) -> list[FieldError]:
    """Every semantic problem of a spec's raw data (tools, modules, secrets, regexes, imports)."""
    problems = list(_check_tools(data, spec_dir))
    problems += _check_imports(data.get("imports"))
    for section in ("inputs", "outputs"):
        fields = data.get(section)
        if isinstance(fields, dict):
            problems += _check_fields(fields, (section,))
    return problems


def _check_tools(data: dict[str, Any], spec_dir: Path) -> Iterator[FieldError]:
    tools = data.get("tools")
    if not isinstance(tools, list):
        return
    builtins = builtin_tool_names()
    declared_secrets = data.get("secrets") if isinstance(data.get("secrets"), list) else []
    seen: set[str] = set()
    for index, entry in enumerate(tools):
        loc: tuple[int | str, ...] = ("tools", index)
        ref = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            continue
        name = ref["name"]
        name_loc = loc if isinstance(entry, str) else (*loc, "name")
        if name in seen:
            yield FieldError(name_loc, f"tool {name!r} is declared twice")
        seen.add(name)
        module = ref.get("module")
        if module is None:
            if name not in builtins:
                yield FieldError(
                    name_loc,
                    f"unknown tool {name!r}{suggest(name, builtins)}; built-in tools are "
                    f"{', '.join(builtins)}; a custom tool needs `module: path/to/tool.py`",
                )
        elif isinstance(module, str):
            if name in builtins:
                yield FieldError(
                    name_loc, f"{name!r} is a built-in tool; give the custom tool another name"
                )
            reason = custom_module_problem(spec_dir, module)
            if reason:
                yield FieldError((*loc, "module"), f"tool {name!r}: {reason}")
        secret = ref.get("secret")
        if isinstance(secret, str) and secret not in declared_secrets:
            yield FieldError(
                (*loc, "secret"),
                f"tool {name!r} reads secret {secret!r}, which is not listed in `secrets`",
            )


def custom_module_problem(spec_dir: Path, module: str) -> str | None:
    """Why the custom tool module at `module` (relative to the spec) cannot be used, or None."""
    path = (spec_dir / module).resolve()
    if not path.exists():
        return f"module file not found: {module} (looked for {path})"
    if not path.is_file() or path.suffix != ".py":
        return f"module must be a .py file: {module}"
    name = f"_maisa_spec_check_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return f"cannot load module {module}"
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses and typing need the module registered while it runs
    try:
        spec.loader.exec_module(loaded)
    except SyntaxError as exc:
        return f"module {module} does not import: syntax error at line {exc.lineno}: {exc.msg}"
    except (Exception, SystemExit) as exc:
        line = _failing_line(exc, path)
        at = f" (line {line})" if line else ""
        return f"module {module} does not import{at}: {type(exc).__name__}: {exc}"
    finally:
        sys.modules.pop(name, None)
    return None


def _failing_line(exc: BaseException, path: Path) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def _check_imports(imports: Any) -> list[FieldError]:
    if not isinstance(imports, list):
        return []
    problems = []
    for index, name in enumerate(imports):
        if isinstance(name, str) and not _is_module_name(name):
            problems.append(
                FieldError(("imports", index), f"imports[{index}]: {name!r} is not a module name")
            )
    return problems


def _is_module_name(name: str) -> bool:
    parts = name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _check_fields(fields: dict[str, Any], loc: tuple[int | str, ...]) -> list[FieldError]:
    problems = []
    for name, field in fields.items():
        if not isinstance(field, dict):
            continue
        here = (*loc, name)
        pattern = field.get("pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(
                    FieldError(
                        (*here, "pattern"),
                        f"{dotted((*here, 'pattern'))}: invalid regular expression: {exc}",
                    )
                )
        if isinstance(field.get("properties"), dict):
            problems += _check_fields(field["properties"], (*here, "properties"))
        if isinstance(field.get("items"), dict):
            problems += _check_fields({"items": field["items"]}, here)
    return problems
