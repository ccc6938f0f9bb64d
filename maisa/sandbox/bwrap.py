"""The bubblewrap backend: one bwrap process per session, no daemon needed.

Isolation, outermost first:
- a per-session cgroup (memory hard cap, pids cap, CPU quota) when cgroups are writable;
- when the host runs as root, bwrap itself runs as a fresh, unused uid/gid per session, so
  RLIMIT_NPROC is a per-session process cap, and no two sessions (nor the host) share a uid;
- rlimits: data (a MemoryError before the cgroup's kill), file size, no core dumps, few fds;
- bwrap: every namespace unshared (network included), uid/gid 65534 inside, no capabilities,
  no nested user namespaces, new session (no TTY injection), dies with its parent, and a
  seccomp deny list (`seccomp.py`) like Docker's default profile;
- a filesystem made only of the read-only Python runtime, synthesised /etc/passwd and
  /etc/group, fresh /proc, /dev and size-bounded tmpfs for /tmp and the scratch cwd /work.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import py_compile
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from maisa.errors import SandboxError, SandboxUnavailable
from maisa.sandbox import bwrap_runtime, cgroups, seccomp
from maisa.sandbox.base import DEFAULT_PIDS_LIMIT, DEFAULT_SCRATCH_SIZE, StepStatus
from maisa.sandbox.session import ChannelSession
from maisa.sandbox.transport import PipeTransport
from maisa.specs.model import Limits

if TYPE_CHECKING:
    from maisa.tools.broker import ToolBroker

PACKAGE_DIR = Path(__file__).resolve().parent
INSIDE_DIR = "/opt/maisa"
SCRATCH = "/work"
SANDBOX_UID = 65534
CGROUP_PREFIX = "maisa-"
# A session cgroup left empty this long belongs to a host process that died without closing.
STALE_CGROUP_S = 60.0
_stale_checked_at = 0.0
# Outer uids for sessions when the host is root: far above any real account or subuid range.
SESSION_UID_BASE = 2_000_000_000  # bwrap formats uids as signed ints: stay below 2**31
SESSION_UID_SPAN = 1_000_000
MAX_OPEN_FILES = 256
PASSWD = "nobody:x:65534:65534:sandbox:/work:/usr/sbin/nologin\n"
GROUP = "nogroup:x:65534:\n"
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": SCRATCH}


class BwrapSandbox:
    """Opens bwrap sessions. `check()` says whether this machine can."""

    name = "bwrap"

    def __init__(self, python: str | None = None) -> None:
        self._python = python

    def check(self) -> str | None:
        """None when bwrap can run sessions here, else why not and what to do."""
        if shutil.which("bwrap") is None:
            return "bubblewrap is not installed: apt-get install bubblewrap"
        try:
            bwrap_runtime.discover(self._python)
        except bwrap_runtime.RuntimeNotFound as exc:
            return str(exc)
        try:
            with self.open(Limits(), Path("/nonexistent"), _NoTools()) as session:
                outcome = session.run("pass", 10)
        except SandboxUnavailable as exc:
            return exc.message
        if not outcome.ok:
            return f"a trial step failed: {outcome.error}"
        return None

    def open(self, limits: Limits, workspace: Path, broker: ToolBroker) -> BwrapSession:
        """Start one bwrap sandbox running the harness. `workspace` stays on the host (tools)."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed", hint="apt-get install bubblewrap"
            )
        try:
            runtime = bwrap_runtime.discover(self._python)
        except bwrap_runtime.RuntimeNotFound as exc:
            raise SandboxUnavailable(str(exc)) from exc
        return BwrapSession.start(bwrap, runtime, limits, broker)


class _NoTools:
    def manifest(self) -> dict[str, list[str]]:
        return {}

    def take_calls(self) -> list:
        return []


class BwrapSession(ChannelSession):
    """One bwrap process tree holding the harness."""

    def __init__(
        self,
        process: subprocess.Popen,
        group: cgroups.SessionCgroup | None,
        broker: ToolBroker,
        outer_uid: int | None,
    ) -> None:
        streams = (process.stdin, process.stdout, process.stderr)
        stdin, stdout, stderr = (os.dup(stream.fileno()) for stream in streams)
        for stream in streams:
            stream.close()
        super().__init__(PipeTransport(stdin, stdout, stderr), broker)
        self._process = process
        self._group = group
        self._oom_baseline = 0
        self.outer_uid = outer_uid  # the host uid of every process of the session (when root)

    @property
    def pid(self) -> int:
        """Host pid of the session's bwrap process."""
        return self._process.pid

    @property
    def cgroup(self) -> cgroups.SessionCgroup | None:
        return self._group

    @classmethod
    def start(cls, bwrap: str, runtime, limits: Limits, broker) -> BwrapSession:
        _remove_stale_cgroups()
        name = f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        group = cgroups.create(name, limits.memory, DEFAULT_PIDS_LIMIT, limits.cpus)
        outer_uid = None
        if os.geteuid() == 0:
            outer_uid = SESSION_UID_BASE + random.randrange(SESSION_UID_SPAN)
        files = _inside_files(runtime)
        data_fds = [_data_fd(data) for _, data in files]
        paths = [path for path, _ in files]
        args = _bwrap_args(runtime, list(zip(data_fds, paths, strict=True)))
        if (program := seccomp.program()) is not None:
            data_fds.append(_data_fd(program))
            args += ["--seccomp", str(data_fds[-1])]
        command = [bwrap, *args, *_harness_command(runtime)]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=data_fds,
                env=dict(ENVIRONMENT),  # bwrap's own environ is readable as /proc/1/environ inside
                cwd="/",
                start_new_session=True,
                preexec_fn=_confine(group, limits, outer_uid),
            )
        except OSError as exc:
            if group:
                group.destroy()
            raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
        finally:
            for fd in data_fds:
                os.close(fd)
        session = cls(process, group, broker, outer_uid)
        try:
            session._handshake(broker.manifest(), limits.memory)
        except SandboxError as exc:
            session.close()
            raise SandboxUnavailable(
                f"the bwrap sandbox did not start: {exc.message}",
                hint="run `maisa sandbox doctor`; bwrap needs user namespaces "
                "(sysctl user.max_user_namespaces > 0)",
            ) from exc
        return session

    def _before_step(self) -> None:
        if self._group:
            cgroups.reset_peak(self._group)
            self._oom_baseline = self._group.oom_kills()

    def _peak_memory_mb(self) -> float | None:
        return self._group.peak_memory_mb() if self._group else None

    def _death(self) -> tuple[StepStatus, str]:
        try:
            code = self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        if self._group and self._group.oom_kills() > self._oom_baseline:
            return StepStatus.KILLED_OOM, "the session ran out of memory and was killed"
        if code is not None and code < 0:
            return StepStatus.CRASHED, f"the interpreter was killed by {signal.Signals(-code).name}"
        return StepStatus.CRASHED, f"the interpreter died (exit status {code})"

    def _kill(self) -> None:
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._group:
            self._group.destroy()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _remove_stale_cgroups() -> None:
    global _stale_checked_at
    if time.monotonic() - _stale_checked_at < STALE_CGROUP_S / 2:
        return
    _stale_checked_at = time.monotonic()
    cgroups.remove_stale(CGROUP_PREFIX, STALE_CGROUP_S)


def _inside_files(runtime: bwrap_runtime.Runtime) -> list[tuple[str, bytes]]:
    """(path inside, content) of every file made in the sandbox (none is bound from the host)."""
    files = [
        (f"{INSIDE_DIR}/channel.py", (PACKAGE_DIR / "channel.py").read_bytes()),
        (f"{INSIDE_DIR}/harness.py", (PACKAGE_DIR / "harness.py").read_bytes()),
        ("/etc/passwd", PASSWD.encode()),
        ("/etc/group", GROUP.encode()),
    ]
    if compiled := _bytecode(runtime.bytecode):
        tag = runtime.bytecode.split()[0]
        files += [
            (f"{INSIDE_DIR}/harness.pyc", compiled["harness"]),
            (f"{INSIDE_DIR}/__pycache__/channel.{tag}.pyc", compiled["channel"]),
        ]
    return files


@functools.lru_cache(maxsize=2)
def _bytecode(accepted: str) -> dict[str, bytes] | None:
    """The harness compiled on the host, when the sandbox's interpreter takes our bytecode.

    Compiling the harness costs every session start ~5 ms inside; unchecked-hash .pyc files
    (PEP 552) are used as they are, whatever the sources' mtimes.
    """
    if accepted != f"{sys.implementation.cache_tag} {importlib.util.MAGIC_NUMBER.hex()}":
        return None
    compiled = {}
    with tempfile.TemporaryDirectory() as directory:
        for name in ("harness", "channel"):
            target = Path(directory) / f"{name}.pyc"
            py_compile.compile(
                str(PACKAGE_DIR / f"{name}.py"),
                cfile=str(target),
                dfile=f"{INSIDE_DIR}/{name}.py",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            compiled[name] = target.read_bytes()
    return compiled


def _data_fd(data: bytes) -> int:
    """A pipe's read end holding `data`, for bwrap's --ro-bind-data and --seccomp."""
    read_fd, write_fd = os.pipe()
    if len(data) > 60_000:  # must fit in the pipe buffer: nobody reads before bwrap starts
        raise SandboxError(f"internal: a sandbox file of {len(data)} bytes is too large")
    os.write(write_fd, data)
    os.close(write_fd)
    return read_fd


def _bwrap_args(runtime: bwrap_runtime.Runtime, files: list[tuple[int, str]]) -> list[str]:
    """bwrap's options; `files` are (fd, path inside) of the files made from pipes."""
    args = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",  # no bwrap init inside: nothing there for the step to ptrace or signal
        "--clearenv",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--hostname", "sandbox",
        "--cap-drop", "ALL",
        "--ro-bind", runtime.python, runtime.python,
        "--ro-bind", runtime.stdlib, runtime.stdlib,
    ]  # fmt: skip
    for directory in runtime.lib_dirs:
        args += ["--ro-bind", directory, directory]
    for target, link in runtime.symlinks:
        args += ["--symlink", target, link]
    if runtime.python != "/usr/bin/python3":
        args += ["--symlink", runtime.python, "/usr/bin/python3"]
    size = str(DEFAULT_SCRATCH_SIZE)
    args += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
        "--perms", "0700", "--size", size, "--tmpfs", SCRATCH,
    ]  # fmt: skip
    for fd, path in files:
        args += ["--ro-bind-data", str(fd), path]
    args += ["--remount-ro", "/", "--chdir", SCRATCH]
    for key, value in ENVIRONMENT.items():
        args += ["--setenv", key, value]
    return args


def _harness_command(runtime: bwrap_runtime.Runtime) -> list[str]:
    script = "harness.pyc" if _bytecode(runtime.bytecode) else "harness.py"
    return ["--", runtime.python, "-I", "-S", "-B", f"{INSIDE_DIR}/{script}"]


def _confine(group: cgroups.SessionCgroup | None, limits: Limits, outer_uid: int | None):
    """The pre-exec step of bwrap: join the cgroup, set rlimits, drop to the session's uid."""
    procs_files = group.procs_files if group else []
    memory = limits.memory
    if outer_uid is not None:
        nproc: int | None = DEFAULT_PIDS_LIMIT
    elif group is None:
        # Shared uid and no pids cgroup: RLIMIT_NPROC counts every task of this user, so the
        # cap is what already runs plus the session's allowance. Coarse, but a fork bomb stops.
        nproc = _tasks_of(os.getuid()) + DEFAULT_PIDS_LIMIT
    else:
        nproc = None  # the pids cgroup caps the session; a per-user cap would hit the host

    def confine() -> None:
        pid = str(os.getpid()).encode()
        for path in procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)
        if not procs_files:  # no cgroup: the address-space cap is the only memory bound
            cap = memory + 128 * 1024**2  # the interpreter's own mappings on top
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_FSIZE, (DEFAULT_SCRATCH_SIZE, DEFAULT_SCRATCH_SIZE))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if outer_uid is not None:
            os.setgroups([])
            os.setresgid(outer_uid, outer_uid, outer_uid)
            os.setresuid(outer_uid, outer_uid, outer_uid)

    return confine


def _tasks_of(uid: int) -> int:
    """How many tasks (threads count, as for RLIMIT_NPROC) the user `uid` runs now."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count
