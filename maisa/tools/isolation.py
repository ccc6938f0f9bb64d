"""Run a parser over untrusted bytes in a forked child with CPU, memory and time limits.

Tools run on the host, and some of their inputs come from strangers: a PDF
attached to an e-mail may be crafted to make a parser loop forever or balloon
in memory. The parse happens in a child process forked from the runtime (so no
import cost), held to rlimits and a wall-clock deadline; the host only ever
receives a JSON result or an error message.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import Any, TypeVar

from maisa.errors import ToolError

T = TypeVar("T")

CPU_SECONDS = 30
MEMORY_BYTES = 1024 * 1024 * 1024
WALL_SECONDS = 60.0
MAX_RESULT_BYTES = 256 * 1024 * 1024


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(write_fd: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        # Drop the runtime's other descriptors (sandbox channels, database sockets): the parser
        # needs none, and a lingering copy would keep a closed channel open for the other end.
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        # On top of what the fork already maps: a threaded runtime can have gigabytes of
        # address space reserved (malloc arenas, stacks) before the parser allocates anything.
        limit = _mapped_bytes() + MEMORY_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        # JSON, not pickle: the child handled hostile bytes and is not trusted to send objects.
        try:
            payload = json.dumps(["ok", function(*args)]).encode()
        except ToolError as exc:
            payload = json.dumps(["error", exc.message]).encode()
        except MemoryError:
            payload = json.dumps(["error", "ran out of memory (limit exceeded)"]).encode()
        except Exception as exc:  # the parser's failure, reported as a message
            payload = json.dumps(["error", f"{type(exc).__name__}: {exc}"]).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view) :]
    finally:
        os._exit(0)  # never run the parent's atexit handlers or flush its buffers


def run_limited(what: str, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a limited child; any failure there comes back as a ToolError.

    The result must be JSON (str, int, lists...).

    `what` names the work for error messages ("parsing the PDF").
    """
    if not hasattr(os, "fork"):  # pragma: no cover (maisa's hosts are Linux)
        return function(*args)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(write_fd, function, args)
    os.close(write_fd)
    try:
        data = _collect(read_fd, pid, what)
    finally:
        os.close(read_fd)
        _reap(pid)
    if not data:
        raise ToolError(f"{what} failed: the parser was killed (CPU or memory limit exceeded)")
    try:
        status, value = json.loads(data)
    except (ValueError, TypeError):
        raise ToolError(f"{what} failed: the parser was killed while answering") from None
    if status != "ok":
        raise ToolError(f"{what} failed: {value}")
    return value


def _collect(read_fd: int, pid: int, what: str) -> bytes:
    deadline = time.monotonic() + WALL_SECONDS
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            raise ToolError(f"{what} took longer than {WALL_SECONDS:g}s; stopped")
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 1024 * 1024)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESULT_BYTES:
            os.kill(pid, signal.SIGKILL)
            raise ToolError(f"{what} produced more than {MAX_RESULT_BYTES} bytes; refused")


def _reap(pid: int) -> None:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass
