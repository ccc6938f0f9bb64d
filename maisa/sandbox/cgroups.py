"""Per-session cgroups for the bwrap backend: a hard memory cap, a process cap and a CPU share.

rlimits alone cannot do this: RLIMIT_AS is per process (a fork multiplies it)
and RLIMIT_NPROC counts per uid, not per session. A cgroup holds every process
of the session, whatever it forks. Each session gets a child cgroup of the
host process's own cgroup (so any limits above still apply), removed on close.
Both cgroup v1 (one hierarchy per controller) and v2 (unified) are handled;
when none is writable, `create` returns None and the caller falls back to rlimits.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _write(path: Path, value: str) -> None:
    path.write_text(value)


@dataclass
class SessionCgroup:
    """The cgroup directories of one session (one per v1 controller, or one v2 directory)."""

    version: int
    dirs: dict[str, Path] = field(default_factory=dict)  # controller -> directory ("" for v2)

    @property
    def procs_files(self) -> list[str]:
        """Files a new process writes its pid to, to join every directory."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def _memory_dir(self) -> Path:
        return self.dirs["memory" if self.version == 1 else ""]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup so far."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self._memory_dir() / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def peak_memory_mb(self) -> float | None:
        """Peak memory use of the whole session (all processes, tmpfs included), if known."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self._memory_dir() / name).read_text()) / 1024**2
        except (OSError, ValueError):
            return None

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(p) for p in Path(procs).read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def destroy(self) -> None:
        """Kill every process still in the cgroup and remove it. Idempotent."""
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        for directory in self.dirs.values():
            for _ in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy: the last processes are being reaped
                    time.sleep(0.005)


def remove_stale(prefix: str, older_than: float) -> int:
    """Remove empty session cgroups (`prefix*`) left by host processes that died without
    closing; only those older than `older_than` seconds, so a session being set up right now
    by another process is never touched. Returns how many were removed."""
    removed = 0
    own = _own_paths()
    bases = (
        [ROOT / own.get("", "/").lstrip("/")]
        if (ROOT / "cgroup.controllers").exists()
        else [ROOT / c / own[c].lstrip("/") for c in ("memory", "pids", "cpu") if c in own]
    )
    now = time.time()
    for base in bases:
        try:
            children = [d for d in base.iterdir() if d.is_dir() and d.name.startswith(prefix)]
        except OSError:
            continue
        for directory in children:
            try:
                if now - directory.stat().st_mtime < older_than:
                    continue
                if (directory / "cgroup.procs").read_text().strip():
                    continue
                directory.rmdir()
                removed += 1
            except OSError:
                continue
    return removed


def create(name: str, memory: int, pids: int, cpus: float) -> SessionCgroup | None:
    """A new session cgroup with these limits, or None when cgroups are not writable here."""
    try:
        if (ROOT / "cgroup.controllers").exists():
            return _create_v2(name, memory, pids, cpus)
        return _create_v1(name, memory, pids, cpus)
    except OSError:
        return None


def _create_v1(name: str, memory: int, pids: int, cpus: float) -> SessionCgroup | None:
    own = _own_paths()
    group = SessionCgroup(version=1)
    try:
        for controller in ("memory", "pids", "cpu"):
            base = ROOT / controller
            if not (base / "cgroup.procs").exists() or controller not in own:
                raise OSError(f"cgroup v1 controller {controller} is not mounted")
            directory = base / own[controller].lstrip("/") / name
            directory.mkdir()
            group.dirs[controller] = directory
        memory_dir = group.dirs["memory"]
        _write(memory_dir / "memory.limit_in_bytes", str(memory))
        if (memory_dir / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
            _write(memory_dir / "memory.memsw.limit_in_bytes", str(memory))
        _write(group.dirs["pids"] / "pids.max", str(pids))
        _write(group.dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        _write(group.dirs["cpu"] / "cpu.cfs_quota_us", str(max(1000, int(cpus * CFS_PERIOD_US))))
    except OSError:
        group.destroy()
        return None
    return group


def _create_v2(name: str, memory: int, pids: int, cpus: float) -> SessionCgroup | None:
    own = _own_paths().get("", "/")
    directory = ROOT / own.lstrip("/") / name
    group = SessionCgroup(version=2)
    try:
        directory.mkdir()
        group.dirs[""] = directory
        _write(directory / "memory.max", str(memory))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        _write(directory / "pids.max", str(pids))
        _write(directory / "cpu.max", f"{max(1000, int(cpus * CFS_PERIOD_US))} {CFS_PERIOD_US}")
    except OSError:  # controllers not delegated to us: no cgroup rather than a partial one
        group.destroy()
        return None
    return group


def of_docker_container(container_id: str) -> SessionCgroup | None:
    """The memory cgroup a local Docker engine made for a container, if this host can see it."""
    candidates = [
        (1, ROOT / "memory" / "docker" / container_id),
        (2, ROOT / "docker" / container_id),
        (2, ROOT / "system.slice" / f"docker-{container_id}.scope"),
    ]
    for version, directory in candidates:
        if (directory / "cgroup.procs").exists():
            controller = "memory" if version == 1 else ""
            return SessionCgroup(version=version, dirs={controller: directory})
    return None


def reset_peak(group: SessionCgroup) -> None:
    """Start a new peak-memory measurement (per step); best effort, v1 only."""
    if group.version == 1:
        try:
            _write(group.dirs["memory"] / "memory.max_usage_in_bytes", "0")
        except OSError:
            pass
