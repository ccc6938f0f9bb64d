"""Custom tools: a Python module of typed, documented functions, named in the spec (DESIGN §6).

`{name: nif, module: tools/nif.py}` loads `tools/nif.py` relative to the spec's
directory. The module is the spec author's code and runs on the host, like the
built-in tools; its public functions (defined in it, not imported) are the tool.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from maisa.errors import ToolError

_loaded: dict[tuple[str, str], ModuleType] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class CustomModule:
    """A loaded custom tool module: its path, source hash (the tool's version) and functions."""

    path: Path
    version: str
    module: ModuleType
    functions: dict[str, Callable[..., Any]]

    def instance(self) -> object:
        """The object the broker calls: only the tool's own public functions, as attributes."""
        return SimpleNamespace(**self.functions)


def module_path(module: str, spec_dir: Path) -> Path:
    """Where a spec's `module:` entry points, resolved against the spec's directory."""
    return (Path(spec_dir) / module).resolve()


def public_functions(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The module's own public functions, in source order (imported ones are not the tool)."""
    functions = [
        member
        for name, member in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(member)
        and member.__module__ == module.__name__
    ]
    functions.sort(key=lambda f: f.__code__.co_firstlineno)
    return {f.__name__: f for f in functions}


def load_custom(name: str, module: str, spec_dir: Path) -> CustomModule:
    """Load the custom tool `name` from `module` (relative to `spec_dir`), or raise ToolError."""
    path = module_path(module, spec_dir)
    where = f"custom tool {name!r} ({module})"
    if path.suffix != ".py":
        raise ToolError(f"{where}: a tool module must be a .py file")
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ToolError(f"{where}: no such file {path}") from None
    except OSError as exc:
        raise ToolError(f"{where}: cannot read {path}: {exc.strerror}") from None
    version = hashlib.sha256(source).hexdigest()
    with _lock:
        loaded = _loaded.get((str(path), version))
        if loaded is None:
            loaded = _import(path, version, source, where)
            _loaded[(str(path), version)] = loaded
    functions = public_functions(loaded)
    if not functions:
        raise ToolError(f"{where}: the module defines no public functions")
    return CustomModule(path=path, version=version, module=loaded, functions=functions)


def _import(path: Path, version: str, source: bytes, where: str) -> ModuleType:
    # A unique name per file and content: two tools called `nif` in different specs, or an
    # edited module, never share (or shadow) a cached module.
    unique = (
        f"maisa_custom_tools.m{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{version[:12]}"
    )
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ToolError(f"{where}: cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module  # dataclasses and typing look the module up while it executes
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)  # noqa: S102 (the spec author's own module, like an import)
    except SyntaxError as exc:
        del sys.modules[unique]
        raise ToolError(f"{where}: syntax error at {path}:{exc.lineno}: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # any failure while importing is the module's
        del sys.modules[unique]
        raise ToolError(f"{where}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module
