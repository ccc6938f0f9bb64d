"""The built-in tool catalogue (DESIGN §6) and the building of a run's tool instances."""

from __future__ import annotations

import inspect
from pathlib import Path

from maisa.errors import ToolError, UsageError
from maisa.specs.model import ToolRef, WorkerSpec
from maisa.tools.base import ToolContext
from maisa.tools.custom import load_custom
from maisa.tools.db import DbTool
from maisa.tools.files import FilesTool
from maisa.tools.http import HttpTool
from maisa.tools.mail import MailTool
from maisa.tools.pdf import PdfTool

BUILTIN_TOOLS: dict[str, type] = {
    "files": FilesTool,
    "pdf": PdfTool,
    "mail": MailTool,
    "http": HttpTool,
    "db": DbTool,
}

# Bump a tool's version whenever its behaviour changes: it feeds the fingerprint,
# so every lock that relied on the old behaviour becomes stale.
CATALOGUE_VERSIONS: dict[str, str] = {
    "files": "1",
    "pdf": "1",
    "mail": "1",
    "http": "1",
    "db": "1",
}


def unknown_tool(name: str) -> ToolError:
    """The error for a tool name that is neither built in nor given a module."""
    return ToolError(
        f"unknown tool {name!r}; built-in tools are {', '.join(sorted(BUILTIN_TOOLS))}",
        hint=f"for a custom tool write {{name: {name}, module: tools/{name}.py}}",
    )


def _secret_value(ref: ToolRef, spec: WorkerSpec, ctx: ToolContext) -> str | None:
    if ref.secret is None:
        return None
    if ref.secret not in spec.secrets:
        raise UsageError(
            f"tool {ref.name!r} reads secret {ref.secret!r}, which the spec does not declare",
            hint=f"add {ref.secret} to the spec's `secrets:` list",
        )
    value = ctx.secrets.get(ref.secret)
    if not value:
        raise UsageError(
            f"tool {ref.name!r} needs the secret {ref.secret}, which is not set",
            hint=f"set the environment variable {ref.secret} (e.g. export {ref.secret}=...)",
        )
    return value


def build_tool(ref: ToolRef, spec: WorkerSpec, spec_dir: Path, ctx: ToolContext) -> object:
    """One live tool object for a declared tool."""
    if ref.module:
        if ref.secret:
            raise UsageError(f"custom tool {ref.name!r} cannot take a secret; only db does")
        return load_custom(ref.name, ref.module, spec_dir).instance()
    cls = BUILTIN_TOOLS.get(ref.name)
    if cls is None:
        raise unknown_tool(ref.name)
    takes_secret = "secret" in inspect.signature(cls).parameters
    if ref.secret and not takes_secret:
        raise UsageError(f"tool {ref.name!r} takes no secret; only db does")
    if takes_secret:
        if ref.secret is None:
            raise UsageError(
                f"tool {ref.name!r} needs a secret holding its URL",
                hint=f"declare it as {{name: {ref.name}, secret: MY_DB_URL}} and list "
                "MY_DB_URL under `secrets:`",
            )
        return cls(ctx, secret=_secret_value(ref, spec, ctx))
    return cls(ctx)


def build_tools(spec: WorkerSpec, spec_dir: Path, ctx: ToolContext) -> dict[str, object]:
    """One instance per declared tool, by name, ready for a ToolBroker."""
    return {ref.name: build_tool(ref, spec, spec_dir, ctx) for ref in spec.tools}
