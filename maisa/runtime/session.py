"""What a run's session needs on the host: its secrets, its workspace, its tools and broker.

Secrets are read from the host environment by name (the spec's `secrets:`),
handed to the tools through the ToolContext and to the store's redactor, and
never to the sandbox: the sandbox sees only `inputs`, the tool proxies and
`finish`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maisa.compiler.compiled import CompiledWorker
from maisa.compiler.schemas import file_fields
from maisa.errors import InfrastructureError, UsageError
from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker

REDACTED = "[REDACTED]"


def read_secrets(compiled: CompiledWorker, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the spec's declared secrets; every missing one is named in one UsageError."""
    env = os.environ if env is None else env
    missing = [name for name in compiled.spec.secrets if not env.get(name)]
    if missing:
        exports = " ".join(f"{name}=..." for name in missing)
        raise UsageError(
            f"worker {compiled.spec.name!r} needs the secret(s) {', '.join(missing)}, "
            "which are not set in the environment",
            hint=f"export {exports}",
        )
    return {name: env[name] for name in compiled.spec.secrets}


def workspace_root(project_dir: Path | None = None) -> Path:
    """Where run workspaces live: `.maisa/workspaces/` under the project (cwd by default)."""
    return (project_dir or Path.cwd()) / ".maisa" / "workspaces"


def make_workspace(root: Path, run_id: int) -> Path:
    """A fresh, empty directory for one run (the `files` tool's root).

    Named after the run; a directory of that name left by another store (another
    MAISA_DATABASE_URL, or a deleted database) is kept and a suffix is added instead.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            path = root / (str(run_id) if n == 1 else f"{run_id}-{n}")
            try:
                path.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            return path.resolve()
    except OSError as exc:
        raise InfrastructureError(
            f"cannot create run {run_id}'s workspace under {root}: {exc.strerror or exc}",
            hint="run maisa from a directory you can write to (it keeps .maisa/ there)",
        ) from None
    raise InfrastructureError(f"no free workspace name for run {run_id} under {root}")


def redactor(secrets: Mapping[str, str]):
    """A function replacing every secret value (4+ characters) in a text."""
    values = sorted((v for v in secrets.values() if len(v) >= 4), key=len, reverse=True)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    return redact


@dataclass
class RunTools:
    """The host side of a run's tools."""

    context: ToolContext
    broker: ToolBroker

    def close(self) -> None:
        self.broker.close()


def build_run_tools(
    compiled: CompiledWorker,
    inputs: Mapping[str, Any],
    workspace: Path,
    secrets: Mapping[str, str],
) -> RunTools:
    """Instantiate the declared tools for one run and put a recording broker in front of them."""
    from maisa.tools.catalogue import build_tools

    readable = [
        Path(str(inputs[name])).resolve()
        for name in file_fields(compiled.input_schema)
        if inputs.get(name)
    ]
    context = ToolContext(
        workspace=workspace,
        readable=readable,
        secrets=dict(secrets),
        allowed_hosts=compiled.spec.limits.allowed_hosts,
    )
    tools = build_tools(compiled.spec, compiled.spec_dir, context)
    return RunTools(context, ToolBroker(tools, redact=redactor(secrets)))
