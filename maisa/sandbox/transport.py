"""Host-side byte transports to a harness: a pair of pipes (bwrap) or a Docker attach socket.

Every operation takes a timeout: the other end runs hostile code and may stop
reading or writing at any moment, and the host must never block on it.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from typing import Protocol

from maisa.sandbox.channel import ChannelClosed

DIAGNOSTIC_CAP = 64 * 1024  # bytes of the harness's own stderr kept to explain a crash


class Transport(Protocol):
    def send(self, data: bytes, timeout: float) -> None:
        """Write all of `data`; TimeoutError if the other end does not take it in time."""
        ...

    def receive(self, timeout: float) -> bytes | None:
        """Some channel bytes; None when nothing came in time; ChannelClosed at EOF."""
        ...

    def diagnostics(self) -> str:
        """What the harness wrote to its own stderr (startup failures, fatal errors)."""
        ...

    def close(self) -> None: ...


class PipeTransport:
    """The harness's stdin/stdout/stderr as pipes of a child process (bwrap)."""

    def __init__(self, write_fd: int, read_fd: int, stderr_fd: int | None) -> None:
        self._write_fd, self._read_fd, self._stderr_fd = write_fd, read_fd, stderr_fd
        for fd in (write_fd, read_fd, stderr_fd):
            if fd is not None:
                os.set_blocking(fd, False)
        self._stderr = bytearray()

    def send(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the sandbox stopped reading its channel")
            select.select([], [self._write_fd], [], remaining)
            try:
                view = view[os.write(self._write_fd, view) :]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError) as exc:
                raise ChannelClosed(f"channel closed: {exc}") from exc

    def receive(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            watched = [self._read_fd] + ([self._stderr_fd] if self._stderr_fd is not None else [])
            ready, _, _ = select.select(watched, [], [], remaining)
            if self._stderr_fd in ready:
                self._drain_stderr()
            if self._read_fd in ready:
                try:
                    chunk = os.read(self._read_fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise ChannelClosed("the sandbox closed its channel")
                return chunk

    def _drain_stderr(self) -> None:
        try:
            chunk = os.read(self._stderr_fd, 1 << 16)
        except (BlockingIOError, OSError):
            return
        if not chunk:
            self._stderr_fd = None
        elif len(self._stderr) < DIAGNOSTIC_CAP:
            self._stderr += chunk[: DIAGNOSTIC_CAP - len(self._stderr)]

    def diagnostics(self) -> str:
        if self._stderr_fd is not None:
            self._drain_stderr()
        return self._stderr.decode("utf-8", "replace")

    def close(self) -> None:
        for fd in (self._write_fd, self._read_fd, self._stderr_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._stderr_fd = None


_MUX_HEADER = struct.Struct(">BxxxI")  # Docker's attach stream: stream id, 3 pad, length


class DockerSocketTransport:
    """A Docker attach socket (stdin in; stdout and stderr multiplexed out, no TTY)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending = bytearray()
        self._stderr = bytearray()

    def send(self, data: bytes, timeout: float) -> None:
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise
        except OSError as exc:
            raise ChannelClosed(f"channel closed: {exc}") from exc

    def receive(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            payload = self._demux()
            if payload:
                return payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(1 << 20)
            except TimeoutError:
                return None
            except OSError as exc:
                raise ChannelClosed(f"channel closed: {exc}") from exc
            if not chunk:
                raise ChannelClosed("the sandbox closed its channel")
            self._pending += chunk

    def _demux(self) -> bytes:
        """The stdout bytes of every whole multiplexed record received so far."""
        stdout = bytearray()
        while len(self._pending) >= _MUX_HEADER.size:
            stream, size = _MUX_HEADER.unpack_from(self._pending)
            end = _MUX_HEADER.size + size
            if len(self._pending) < end:
                break
            data = self._pending[_MUX_HEADER.size : end]
            del self._pending[:end]
            if stream == 1:
                stdout += data
            elif len(self._stderr) < DIAGNOSTIC_CAP:
                self._stderr += data[: DIAGNOSTIC_CAP - len(self._stderr)]
        return bytes(stdout)

    def diagnostics(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def close(self) -> None:
        try:  # the half-close is what Docker sees as stdin EOF (the SDK holds the fd open too)
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
