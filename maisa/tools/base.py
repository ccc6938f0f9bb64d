"""What every tool gets from the runtime, and how a tool is described to the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ToolContext:
    """The host-side world a run's tools may touch.

    `workspace` is the run's writable directory; `readable` lists extra files
    (the run's `file` inputs) that may be read but not written; `secrets`
    holds the values of the spec's declared secrets, read from the host
    environment, and never leaves the host; `allowed_hosts` is what the
    `http` tool may reach.
    """

    workspace: Path
    readable: list[Path] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionDoc:
    """One tool function as the model sees it: `name(signature) -> return`, and its docstring."""

    name: str
    signature: str  # e.g. "(path: str) -> str"
    doc: str


@dataclass(frozen=True)
class ToolDoc:
    """A tool's documentation and identity, as shown to the model and hashed into the fingerprint.

    `version` is the built-in catalogue version of the tool (bumped when its
    behaviour changes), or for a custom tool the sha256 of its module source.
    """

    name: str
    version: str
    doc: str
    functions: tuple[FunctionDoc, ...]
