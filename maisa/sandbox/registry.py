"""Choosing a sandbox backend by name: `docker`, `bwrap`, or `auto` (DESIGN §5).

auto (the default, or $MAISA_SANDBOX) is docker when an engine answers and
the image exists, else bwrap when it works here; when neither does, it is an
error (exit 4) saying what to install. There is no unsandboxed fallback.
"""

from __future__ import annotations

import os

from maisa.errors import SandboxUnavailable, UsageError
from maisa.sandbox.base import Sandbox

BACKENDS = ("docker", "bwrap")


def make(name: str) -> Sandbox:
    """The backend called `name`, unchecked."""
    if name == "docker":
        from maisa.sandbox.docker import DockerSandbox

        return DockerSandbox()
    if name == "bwrap":
        from maisa.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox()
    raise UsageError(f"unknown sandbox {name!r}: expected one of docker, bwrap, auto")


def get_sandbox(name: str | None = None) -> Sandbox:
    """A working backend: `name`, else $MAISA_SANDBOX, else auto. Raises SandboxUnavailable."""
    name = (name or os.environ.get("MAISA_SANDBOX") or "auto").strip().lower()
    if name != "auto":
        sandbox = make(name)
        if problem := sandbox.check():
            raise SandboxUnavailable(f"the {name} sandbox cannot run here: {problem}")
        return sandbox
    problems = []
    for candidate in BACKENDS:
        sandbox = make(candidate)
        problem = sandbox.check()
        if problem is None:
            return sandbox
        problems.append(f"{candidate}: {problem}")
    raise SandboxUnavailable(
        "no sandbox backend works here:\n  " + "\n  ".join(problems),
        hint="start Docker and run scripts/build-sandbox-image, or apt-get install bubblewrap",
    )
