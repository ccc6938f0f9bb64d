"""Checks a spec needs beyond its types: tools that exist, modules that import, valid regexes.

They run on the raw YAML data (not the validated model) so that their problems
are reported together with the type errors of the same file. Each check skips
what is malformed: the type validation already reports that.
"""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maisa.errors import MaisaError
from maisa.specs.messages import FieldError, dotted, suggest

_TOOL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")  # the rest is reported by the type validation
# Used only until the tool catalogue (maisa.tools.catalogue) is importable.
_FALLBACK_BUILTINS = ("files", "pdf", "mail", "http", "db")


def builtin_tool_names() -> list[str]:
    """Names of the built-in tools, from the catalogue."""
    try:
        from maisa.tools.catalogue import BUILTIN_TOOLS
    except ImportError:
        return list(_FALLBACK_BUILTINS)
    return sorted(BUILTIN_TOOLS)


def _tools_taking_a_secret() -> set[str]:
    """Built-in tools taking a `secret` (db): they need one; every other tool refuses one."""
    try:
        from maisa.tools.catalogue import BUILTIN_TOOLS
    except ImportError:
        return {"db"}
    return {n for n, cls in BUILTIN_TOOLS.items() if "secret" in inspect.signature(cls).parameters}


def check_spec_data(data: dict[str, Any], spec_dir: Path) -> list[FieldError]:
    """Every semantic problem of a spec's raw data (tools, modules, secrets, regexes, imports)."""
    problems = list(_check_tools(data, spec_dir))
    problems += _check_imports(data.get("imports"))
    problems += _check_secrets(data.get("secrets"))
    limits = data.get("limits")
    if isinstance(limits, dict):
        problems += _check_network(limits.get("network"))
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
    secret_takers = _tools_taking_a_secret()
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
            if name not in builtins and _TOOL_NAME.match(name):
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
            reason = custom_module_problem(spec_dir, name, module)
            if reason:
                yield FieldError((*loc, "module"), reason)
        secret = ref.get("secret")
        # Caught here, not when a run builds its tools (after the run is recorded).
        if module is None and name in secret_takers and secret is None:
            yield FieldError(
                name_loc,
                f"tool {name!r} needs a secret holding its URL: declare it as "
                f"{{name: {name}, secret: MY_DB_URL}} and list MY_DB_URL under `secrets`",
            )
        elif secret is not None and (module is not None or name not in secret_takers):
            takers = ", ".join(sorted(secret_takers))
            yield FieldError((*loc, "secret"), f"tool {name!r} takes no secret; only {takers} does")
        if isinstance(secret, str) and secret not in declared_secrets:
            yield FieldError(
                (*loc, "secret"),
                f"tool {name!r} reads secret {secret!r}, which is not listed in `secrets`",
            )


def custom_module_problem(spec_dir: Path, name: str, module: str) -> str | None:
    """Why the custom tool module at `module` (relative to the spec) cannot be used, or None.

    Loading goes through the tool catalogue's own loader, so a module that passes
    here is exactly the one a run will use (and it is cached for the compile).
    """
    from maisa.tools.custom import load_custom

    try:
        load_custom(name, module, spec_dir)
    except MaisaError as exc:
        return exc.message
    return None


def _check_imports(imports: Any) -> list[FieldError]:
    if not isinstance(imports, list):
        return []
    problems = []
    refused = never_importable()
    for index, name in enumerate(imports):
        if not isinstance(name, str):
            continue
        if not _is_module_name(name):
            problems.append(
                FieldError(("imports", index), f"imports[{index}]: {name!r} is not a module name")
            )
        elif name.split(".")[0] in refused:
            problems.append(
                FieldError(
                    ("imports", index),
                    f"imports[{index}]: {name!r} can never be imported by step code "
                    "(it reaches outside the sandbox); use a tool instead",
                )
            )
    return problems


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")


def _check_secrets(secrets: Any) -> list[FieldError]:
    if not isinstance(secrets, list):
        return []
    return [
        FieldError(
            ("secrets", index),
            f"secrets[{index}]: {name!r} is not an environment variable name",
        )
        for index, name in enumerate(secrets)
        if isinstance(name, str) and not _ENV_NAME.match(name)
    ]


def _check_network(network: Any) -> list[FieldError]:
    if not isinstance(network, list):
        return []
    problems = []
    for index, host in enumerate(network):
        if not isinstance(host, str) or _HOST.match(host):
            continue
        hint = ""
        if "://" in host:
            bare = host.split("://", 1)[1].split("/", 1)[0]
            hint = f"; list the host name only, e.g. {bare!r}"
        problems.append(
            FieldError(
                ("limits", "network", index),
                f"limits.network[{index}]: {host!r} is not a host name{hint}",
            )
        )
    return problems


def never_importable() -> frozenset[str]:
    """Modules the step validator refuses whatever the spec says (empty until it exists)."""
    try:
        from maisa.runtime.validate import NEVER_IMPORTABLE
    except ImportError:
        return frozenset()
    return frozenset(NEVER_IMPORTABLE)


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
        if field.get("default") is not None:
            problems += _check_default(field, here)
        if isinstance(field.get("properties"), dict):
            problems += _check_fields(field["properties"], (*here, "properties"))
        if isinstance(field.get("items"), dict):
            problems += _check_fields({"items": field["items"]}, here)
    return problems


def _check_default(field: dict[str, Any], loc: tuple[int | str, ...]) -> list[FieldError]:
    """A default must satisfy its own field's type and constraints."""
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError

    from maisa.compiler.schemas import field_schema
    from maisa.specs.model import FieldSpec

    try:
        spec = FieldSpec.model_validate(field, strict=True)
    except ValidationError:
        return []  # the type validation reports what is wrong with the field itself
    schema = field_schema(spec)
    schema.pop("default", None)
    error = next(iter(Draft202012Validator(schema).iter_errors(spec.default)), None)
    if error is None:
        return []
    where = dotted((*loc, "default"))
    return [FieldError((*loc, "default"), f"{where}: the default does not fit: {error.message}")]
