"""Test helpers for the sandbox suites: a small tool, and what a closed session left behind."""

from __future__ import annotations

import time
from pathlib import Path

from maisa.errors import ToolError


class Docs:
    """A test tool: deterministic functions over text and bytes."""

    def extract_text(self, data: bytes) -> str:
        """The bytes, decoded and upper-cased."""
        return data.decode("latin-1").upper()

    def reverse(self, data: bytes) -> bytes:
        """The bytes reversed."""
        return data[::-1]

    def echo(self, value: object) -> object:
        """The value itself."""
        return value

    def fail(self, why: str) -> None:
        """Always fails with `why`."""
        raise ToolError(why)


def nothing_left(session: object, within: float = 5.0) -> list[str]:
    """Wait (killed processes take a moment to be reaped) and return what is still left."""
    deadline = time.monotonic() + within
    while (found := leftovers(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def leftovers(session: object) -> list[str]:
    """What of a session still exists on the host: processes, cgroups, containers."""
    from maisa.sandbox.bwrap import BwrapSession
    from maisa.sandbox.docker import LABEL, DockerSession

    found: list[str] = []
    if isinstance(session, BwrapSession):
        dirs = list(session.cgroup.dirs.values()) if session.cgroup else []
        found += bwrap_leftovers(session.pid, session.outer_uid, dirs)
    elif isinstance(session, DockerSession):
        import docker

        client = docker.from_env()
        containers = client.containers.list(
            all=True, filters={"label": f"{LABEL}={session.session_id}"}
        )
        found += [f"container {c.short_id} ({c.status})" for c in containers]
    else:
        raise TypeError(f"unknown session type {type(session).__name__}")
    return found


def bwrap_leftovers(pid: int | None, outer_uid: int | None, cgroup_dirs: list[Path]) -> list[str]:
    """What still exists of a bwrap session: its bwrap process, its uid's processes, cgroups."""
    found: list[str] = []
    if pid is not None and Path(f"/proc/{pid}").exists():
        found.append(f"bwrap process {pid}")
    if outer_uid is not None:
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            uid_line = next(line for line in text.splitlines() if line.startswith("Uid:"))
            if str(outer_uid) in uid_line.split():
                found.append(f"process {status.parent.name} of uid {outer_uid}")
    return found + [f"cgroup {d}" for d in cgroup_dirs if Path(d).exists()]
