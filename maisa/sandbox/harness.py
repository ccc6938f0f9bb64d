"""The in-sandbox harness: one persistent interpreter that runs a run's steps.

Runs inside the sandbox as `python3 -I -S -B harness.py`, next to `channel.py`
(stdlib only: no maisa, no third-party package exists in there). It talks to
the host over the framed channel on its original stdin/stdout; the step's
own fds 1 and 2 are memory files, so `print` and child processes' output are
captured per step, and the channel cannot be corrupted by accident.

Nothing here is trusted by the host: step code runs in this very process and
can rewrite any of it. The host enforces timeouts and limits from outside.
"""

from __future__ import annotations

import io
import linecache
import os
import resource
import signal
import sys
import time
import types

try:
    from maisa.sandbox import channel
except ImportError:  # inside the sandbox: channel.py sits next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import channel  # type: ignore[no-redef]

STEP_FILENAME = "<step>"
VALUE_CAP = 256 * 1024  # bytes of JSON (or repr) kept per variable in a snapshot
SNAPSHOT_CAP = 16 * 1024 * 1024  # beyond this, further variables are listed but not kept
TRUNCATION_MARKER = "\n[... output truncated by maisa: {dropped} more bytes not shown ...]\n"
ALARM_REPEAT = 0.05  # after the first timeout alarm, re-raise this often until the step unwinds


class ToolError(Exception):
    """A tool call failed on the host; the message says why."""


class _Finish(BaseException):
    """Raised by finish(): ends the step cleanly (BaseException so `except Exception` skips it)."""


class _StepTimeout(BaseException):
    """Raised by the alarm when the step runs past its timeout."""


class CappedWriter(io.TextIOBase):
    """A text stream on an fd that keeps at most `cap` bytes and counts the rest."""

    def __init__(self, fd: int, cap: int) -> None:
        self._fd = fd
        self.cap = cap
        self.written = 0
        self.dropped = 0

    def reset(self) -> None:
        self.written = self.dropped = 0

    def write(self, text: str | bytes) -> int:
        # bytes too: code that writes to sys.stdout.buffer gets this same object
        if isinstance(text, bytes | bytearray):
            data = bytes(text)
        else:
            data = text.encode("utf-8", "replace")
        room = self.cap - self.written
        if room > 0:
            view = memoryview(data)[:room]
            while view:
                count = os.write(self._fd, view)
                view = view[count:]
                self.written += count
        self.dropped += max(0, len(data) - max(room, 0))
        return len(text)

    @property
    def buffer(self) -> CappedWriter:  # code that writes bytes to sys.stdout.buffer
        return self

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


class Harness:
    """The step loop: reads host messages, runs steps in one namespace, reports outcomes."""

    def __init__(self, chan_in: int, chan_out: int) -> None:
        self.chan_in = chan_in
        self.chan_out = chan_out
        self.pid = os.getpid()
        # A process the step forks (without exec) must not speak on the channel.
        os.register_at_fork(after_in_child=self._forget_channel)
        self.namespace: dict = {"__name__": "__step__", "__builtins__": __builtins__}
        self.reserved: set[str] = {"finish", "ToolError", "inputs"}
        self.output_cap = 1024 * 1024
        self.call_id = 0
        self.armed = False
        self.finished = False
        self.result: object = None

    # -- setup ---------------------------------------------------------------------------

    def capture_output(self) -> None:
        """Point fds 0/1/2 away from the channel: /dev/null in, memory files out."""
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            mem = os.memfd_create(name, 0)
            os.dup2(mem, fd)
            os.close(mem)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (lives forever)
        self.stdout = CappedWriter(1, self.output_cap)
        self.stderr = CappedWriter(2, self.output_cap)
        sys.stdout, sys.stderr = self.stdout, self.stderr

    def init(self, message: dict) -> None:
        self.output_cap = int(message.get("output_cap", self.output_cap))
        if memory := message.get("memory"):
            # The step gets a MemoryError before the backend's hard cap kills the whole session.
            resource.setrlimit(resource.RLIMIT_DATA, (int(memory), int(memory)))
        self.stdout.cap = self.stderr.cap = self.output_cap
        self.namespace["finish"] = self.finish
        self.namespace["ToolError"] = ToolError
        for tool, functions in message.get("manifest", {}).items():
            self.namespace[tool] = self._tool(tool, functions)
            self.reserved.add(tool)
        signal.signal(signal.SIGALRM, self._alarm)

    def _tool(self, tool: str, functions: list[str]) -> object:
        # Only the declared functions exist: anything else is a plain AttributeError.
        members = {f: staticmethod(self._tool_function(tool, f)) for f in functions}
        members.update(__slots__=(), __repr__=lambda _: f"<tool {tool}>")
        return type(tool, (), members)()

    def _tool_function(self, tool: str, function: str):
        def call(*args, **kwargs):
            return self.call_tool(tool, function, list(args), kwargs)

        call.__name__ = call.__qualname__ = f"{tool}.{function}"
        return call

    def _forget_channel(self) -> None:
        for fd in (self.chan_in, self.chan_out):
            try:
                os.close(fd)
            except OSError:
                pass
        self.chan_in = self.chan_out = -1

    # -- what step code calls -------------------------------------------------------------

    def finish(self, result: object = None) -> None:
        """End the run with `result` (a JSON value, bytes allowed)."""
        try:
            channel.dumps(result)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"finish() needs a JSON-serialisable result: {exc}") from None
        self.finished, self.result = True, result
        raise _Finish

    def call_tool(self, tool: str, function: str, args: list, kwargs: dict) -> object:
        self.call_id += 1
        request = {"type": "call", "id": self.call_id, "tool": tool, "function": function}
        request.update(args=args, kwargs=kwargs)
        try:
            frame = channel.encode_frame(request)
        except (TypeError, ValueError) as exc:
            message = f"arguments of {tool}.{function} must be JSON values or bytes: {exc}"
            raise TypeError(message) from None
        self._write(frame)
        while True:
            reply = channel.read_frame(self.chan_in)
            # A reply to an earlier call abandoned by a timeout is stale: skip it.
            if reply.get("type") == "result" and reply.get("id") == self.call_id:
                break
        if not reply.get("ok"):
            raise ToolError(reply.get("error") or f"{tool}.{function} failed")
        return reply.get("value")

    # -- the loop --------------------------------------------------------------------------

    def _write(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            view = view[os.write(self.chan_out, view) :]

    def send(self, message: dict) -> None:
        self._write(channel.encode_frame(message))

    def serve(self) -> None:
        self.send({"type": "ready", "pid": os.getpid(), "python": sys.version.split()[0]})
        while True:
            try:
                message = channel.read_frame(self.chan_in)
            except channel.ChannelClosed:
                return
            kind = message.get("type")
            if kind == "init":
                self.init(message)
                self.send({"type": "ok"})
            elif kind == "set":
                self.namespace.update(message.get("variables") or {})
                self.send({"type": "ok"})
            elif kind == "run":
                self.send(self.run(message.get("code", ""), float(message.get("timeout", 30))))
            elif kind == "close":
                return
            else:
                self.send({"type": "error", "error": f"unknown message type {kind!r}"})

    def _alarm(self, signum, frame) -> None:
        if self.armed:
            raise _StepTimeout

    def _disarm(self) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def run(self, code: str, timeout: float) -> dict:
        """Run one step; the message describing its outcome."""
        sys.stdout, sys.stderr = self.stdout, self.stderr  # in case the last step replaced them
        for writer in (self.stdout, self.stderr):
            writer.reset()
            os.ftruncate(writer.fileno(), 0)
            os.lseek(writer.fileno(), 0, os.SEEK_SET)
        self.finished, self.result = False, None
        _reset_peak_memory()
        usage = _cpu_seconds()
        try:
            status, error = self._execute(code, timeout)
        except _StepTimeout:  # a late alarm escaped while the step was unwinding
            self._disarm()
            status, error = "TIMEOUT", f"the step ran past its {timeout:g}s timeout"
        if os.getpid() != self.pid:  # a child the step forked finished the step's code
            os._exit(0)
        cpu = _cpu_seconds() - usage
        _kill_stray_processes()
        stdout, out_cut = self._collect(self.stdout)
        stderr, err_cut = self._collect(self.stderr)
        return {
            "type": "done",
            "status": status,
            "error": error,
            "stdout": stdout,
            "stderr": stderr,
            "output_truncated": out_cut or err_cut,
            "cpu_s": cpu,
            "peak_memory_mb": _peak_memory_mb(),
            "variables": self.snapshot(),
            "finished": self.finished,
            "result": self.result if self.finished else None,
        }

    def _execute(self, code: str, timeout: float) -> tuple[str, str | None]:
        lines = code.splitlines(keepends=True)
        linecache.cache[STEP_FILENAME] = (len(code), None, lines, STEP_FILENAME)
        try:
            try:
                compiled = compile(code, STEP_FILENAME, "exec")
                self.armed = True
                signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001), ALARM_REPEAT)
                exec(compiled, self.namespace)
            finally:
                self._disarm()
        except _Finish:
            return "OK", None
        except _StepTimeout:
            return "TIMEOUT", f"the step ran past its {timeout:g}s timeout"
        except MemoryError:
            return "KILLED_OOM", "MemoryError: the step exceeded its memory limit"
        except BaseException as exc:  # noqa: BLE001 (SystemExit too: the step failed)
            if self.finished:  # finish() was called, then the step swallowed _Finish and failed
                return "OK", None
            return "ERROR", _format_error(exc)
        return "OK", None

    def _collect(self, writer: CappedWriter) -> tuple[str, bool]:
        fd = writer.fileno()
        size = os.fstat(fd).st_size
        data = os.pread(fd, min(size, writer.cap), 0)
        dropped = writer.dropped + max(0, size - writer.cap)
        text = data.decode("utf-8", "replace")
        if dropped:
            text += TRUNCATION_MARKER.format(dropped=dropped)
        return text, bool(dropped)

    def snapshot(self) -> dict:
        """The step-assigned variables: JSON values as themselves, anything else as a repr."""
        variables: dict = {}
        size = 0
        for name, value in list(self.namespace.items()):
            if name in self.reserved or name.startswith("__"):
                continue
            if isinstance(value, types.ModuleType):
                continue
            if size > SNAPSHOT_CAP:  # the whole snapshot must fit in one channel frame
                variables[name] = f"<{type(value).__name__}: omitted, snapshot over its cap>"
                continue
            variables[name] = _snapshot_value(value)
            size += len(str(variables[name])) + len(name)
        return variables


def _snapshot_value(value: object) -> object:
    import json

    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError, MemoryError):
        text = None
    if text is not None and len(text) <= VALUE_CAP:
        return json.loads(text)
    shown = _bounded_repr(value)
    if len(shown) > VALUE_CAP:
        shown = shown[:VALUE_CAP] + f"... ({len(shown)} chars)"
    return shown


def _bounded_repr(value: object) -> str:
    # Big builtins are cut before repr() so a 100 MB value costs no 400 MB string.
    if isinstance(value, bytes | bytearray | memoryview):
        head = bytes(value[:200])
        return repr(head) if len(value) <= 200 else f"{head!r}... ({len(value)} bytes)"
    if isinstance(value, str) and len(value) > VALUE_CAP:
        return repr(value[: VALUE_CAP - 100]) + f"... ({len(value)} chars)"
    try:
        import reprlib

        limits = reprlib.Repr()
        limits.maxlevel, limits.maxstring, limits.maxother = 4, 2000, 2000
        limits.maxlist = limits.maxtuple = limits.maxdict = limits.maxset = 100
        shown = limits.repr(value)
        return shown if len(shown) <= VALUE_CAP else shown[:VALUE_CAP] + "..."
    except Exception as exc:  # noqa: BLE001 (a step's __repr__ may raise anything)
        return f"<{type(value).__name__}: repr failed: {type(exc).__name__}: {exc}>"


def _format_error(exc: BaseException) -> str:
    # Only the step's own frames: the harness's are noise to the model and the reader.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != STEP_FILENAME:
        tb = tb.tb_next
    import traceback  # only on errors: it costs milliseconds of every session's start

    return "".join(traceback.format_exception(type(exc), exc, tb))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _reset_peak_memory() -> None:
    try:  # "5" resets the peak resident set size (VmHWM) so each step gets its own peak
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_memory_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _kill_stray_processes() -> None:
    """Processes the step started must not outlive it.

    Only inside a fresh pid namespace (we are pid 1 or 2 there), where kill(-1)
    reaches exactly the sandbox's other processes; never on a shared host.
    """
    if os.getpid() > 2:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.001)  # killed children not yet reaped


def main() -> None:
    # dup'ed fds are close-on-exec: the step's child processes do not inherit the channel.
    chan_in, chan_out, diagnostics = os.dup(0), os.dup(1), os.dup(2)
    harness = Harness(chan_in, chan_out)
    harness.capture_output()
    try:
        harness.serve()
    except BaseException:  # a harness bug (or a step that broke it): tell the host why
        import traceback

        os.write(diagnostics, traceback.format_exc().encode("utf-8", "replace")[-8000:])
        raise SystemExit(70) from None


if __name__ == "__main__":
    main()
