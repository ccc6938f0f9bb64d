"""The host side of a session: the step protocol over a transport, shared by every backend.

A backend starts the isolated harness, hands over a Transport, and implements
`_kill()` and `_death()`; this class does the rest: the handshake, steps,
tool calls through the broker, timeouts enforced from outside, and turning a
dead harness into TIMEOUT, KILLED_OOM or CRASHED.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from maisa.errors import SandboxError, ToolError
from maisa.sandbox.base import DEFAULT_OUTPUT_CAP, StepOutcome, StepStatus
from maisa.sandbox.channel import ChannelClosed, FrameBuffer, ProtocolViolation, encode_frame
from maisa.sandbox.transport import Transport

if TYPE_CHECKING:
    from maisa.tools.broker import ToolBroker

STARTUP_TIMEOUT = 30.0
CONTROL_TIMEOUT = 10.0  # for messages that are not steps (set_variables)
MAX_GRACE = 5.0


def grace(timeout: float) -> float:
    """How long past a step's timeout the host waits for the harness to stop it itself.

    Half the timeout (at most 5 s), so even with the kill the step is reported within 2x.
    """
    return min(timeout * 0.5, MAX_GRACE)


# JSON values from the harness nested deeper than this are not passed on: the host walks them
# recursively (serialisation, schema validation, redaction).
MAX_VALUE_DEPTH = 64


class ChannelSession:
    """A live harness behind a transport. Subclasses kill it and explain its death."""

    def __init__(self, transport: Transport, broker: ToolBroker) -> None:
        self._transport = transport
        self._broker = broker
        self._frames = FrameBuffer()
        self._alive = True
        self._closed = False

    # -- backend hooks ------------------------------------------------------------------

    def _kill(self) -> None:
        """Stop every process of the session at once."""
        raise NotImplementedError

    def _death(self) -> tuple[StepStatus, str]:
        """Why the harness died: KILLED_OOM or CRASHED, and a message."""
        raise NotImplementedError

    def _before_step(self) -> None:
        """Hook run before each step (e.g. reset a cgroup's peak memory)."""

    def _peak_memory_mb(self) -> float | None:
        """Host-measured peak memory of the step, when the backend can see it."""
        return None

    # -- protocol -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False once the harness is gone (killed, crashed, closed): reopen a session."""
        return self._alive and not self._closed

    def _send(self, message: dict[str, Any], timeout: float = CONTROL_TIMEOUT) -> None:
        self._transport.send(encode_frame(message), timeout)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or None when the deadline passes first."""
        while True:
            frame = self._frames.next_frame()
            if frame is not None:
                if not isinstance(frame, dict):
                    raise ProtocolViolation("a message must be a JSON object")
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            chunk = self._transport.receive(remaining)
            if chunk is None:
                return None
            self._frames.feed(chunk)

    def _expect(self, kind: str, timeout: float, doing: str) -> dict[str, Any]:
        try:
            message = self._receive(time.monotonic() + timeout)
        except (ChannelClosed, ProtocolViolation) as exc:
            message = None
            reason = str(exc)
        else:
            reason = f"no answer within {timeout:g}s"
        if message is None or message.get("type") != kind:
            if message is not None:
                reason = f"unexpected message {message.get('type')!r}"
            self._die()
            details = self._transport.diagnostics().strip()
            raise SandboxError(
                f"the sandbox failed while {doing}: {reason}"
                + (f"\n{details[-2000:]}" if details else "")
            )
        return message

    def _handshake(
        self, manifest: dict[str, list[str]], memory: int, timeout: float = STARTUP_TIMEOUT
    ) -> None:
        """Send the tool manifest and limits, and wait until the harness is ready."""
        init = {"type": "init", "manifest": manifest, "output_cap": DEFAULT_OUTPUT_CAP}
        self._send({**init, "memory": memory})
        self._expect("ready", timeout, "starting")
        self._expect("ok", CONTROL_TIMEOUT, "starting")

    def _die(self) -> None:
        self._alive = False
        self._kill()

    # -- the Session protocol ----------------------------------------------------------------

    def set_variables(self, variables: dict[str, Any]) -> None:
        """Bind names in the step namespace (`inputs`; after a reopen, the last snapshot)."""
        self._require_alive()
        try:
            self._send({"type": "set", "variables": variables})
        except TypeError as exc:
            raise SandboxError(f"variables must be JSON values or bytes: {exc}") from exc
        self._expect("ok", CONTROL_TIMEOUT, "setting variables")

    def run(self, code: str, timeout: float) -> StepOutcome:
        """Execute one step's code in the persistent namespace."""
        self._require_alive()
        self._before_step()
        started = time.monotonic()
        hard_deadline = started + timeout + grace(timeout)
        try:
            self._send({"type": "run", "code": code, "timeout": timeout}, timeout=CONTROL_TIMEOUT)
            outcome = self._serve_step(hard_deadline, timeout)
        except (ChannelClosed, ProtocolViolation, TimeoutError, OSError) as exc:
            outcome = self._outcome_of_death(exc, timed_out=time.monotonic() >= hard_deadline)
        outcome.duration_s = time.monotonic() - started
        outcome.tool_calls = self._broker.take_calls()
        return outcome

    def _serve_step(self, hard_deadline: float, timeout: float) -> StepOutcome:
        while True:
            message = self._receive(hard_deadline)
            if message is None:  # the harness did not stop the step itself: kill the session
                self._die()
                return StepOutcome(
                    status=StepStatus.TIMEOUT,
                    error=f"the step ran past its {timeout:g}s timeout and was killed",
                )
            kind = message.get("type")
            if kind == "call":
                self._answer_call(message, hard_deadline)
            elif kind == "done":
                return self._outcome(message)
            else:
                raise ProtocolViolation(f"unexpected message {kind!r} during a step")

    def _answer_call(self, message: dict[str, Any], deadline: float) -> None:
        tool, function = str(message.get("tool")), str(message.get("function"))
        args, kwargs = message.get("args") or [], message.get("kwargs") or {}
        reply: dict[str, Any] = {"type": "result", "id": message.get("id")}
        try:
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ToolError(f"malformed call of {tool}.{function}")
            reply.update(ok=True, value=self._broker.call(tool, function, args, kwargs))
            frame = encode_frame(reply)
        except ToolError as exc:
            frame = encode_frame({**reply, "ok": False, "error": exc.message})
        except (TypeError, ValueError) as exc:  # the tool returned something not encodable
            frame = encode_frame({**reply, "ok": False, "error": f"{tool}.{function}: {exc}"})
        # A harness that stops reading is not waited for past the step's own deadline.
        self._transport.send(frame, max(0.05, deadline - time.monotonic()))

    def _outcome(self, message: dict[str, Any]) -> StepOutcome:
        try:
            status = StepStatus(message.get("status"))
        except ValueError as exc:
            raise ProtocolViolation(f"unknown step status {message.get('status')!r}") from exc
        peak = self._peak_memory_mb()
        variables = message.get("variables")
        variables = _shallow_variables(variables) if isinstance(variables, dict) else {}
        result, finished = message.get("result"), bool(message.get("finished"))
        if _depth_over(result, MAX_VALUE_DEPTH):
            status, finished, result = StepStatus.ERROR, False, None
            message["error"] = f"the result given to finish() nests over {MAX_VALUE_DEPTH} levels"
        return StepOutcome(
            status=status,
            stdout=str(message.get("stdout", "")),
            stderr=str(message.get("stderr", "")),
            cpu_s=_number(message.get("cpu_s")),
            peak_memory_mb=peak if peak is not None else _number(message.get("peak_memory_mb")),
            variables=variables,
            error=message.get("error") if status is not StepStatus.OK else None,
            output_truncated=bool(message.get("output_truncated")),
            finished=finished,
            result=result,
        )

    def _outcome_of_death(self, exc: Exception, *, timed_out: bool) -> StepOutcome:
        self._alive = False
        peak = self._peak_memory_mb() or 0.0
        if isinstance(exc, ProtocolViolation | TimeoutError):
            # The harness is alive but broken (garbage frames, or it stopped reading).
            self._kill()
            status = StepStatus.TIMEOUT if timed_out else StepStatus.CRASHED
            reason = str(exc)
            if isinstance(exc, ProtocolViolation):
                reason = f"protocol violation: {reason}"
            return StepOutcome(status=status, error=reason, peak_memory_mb=peak)
        status, reason = self._death()
        if timed_out and status is StepStatus.CRASHED:
            status, reason = StepStatus.TIMEOUT, "the step ran past its timeout and was killed"
        details = self._transport.diagnostics().strip()
        if details and status is StepStatus.CRASHED:
            reason += "\n" + details[-2000:]
        self._kill()
        return StepOutcome(status=status, error=reason, peak_memory_mb=peak)

    def _require_alive(self) -> None:
        if not self.alive:
            raise SandboxError(
                "this sandbox session is no longer alive",
                hint="open a new session and restore the last variables snapshot",
            )

    def close(self) -> None:
        """Kill everything the session started. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._alive:
            try:  # a polite goodbye lets the harness exit; the kill follows regardless
                self._send({"type": "close"}, timeout=0.1)
            except (ChannelClosed, TimeoutError, OSError):
                pass
        self._alive = False
        self._kill()
        self._transport.close()

    def __enter__(self) -> ChannelSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _depth_over(value: Any, limit: int) -> bool:
    """Whether a JSON value nests deeper than `limit` (iteratively: no recursion limit)."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def _shallow_variables(variables: dict[str, Any]) -> dict[str, Any]:
    # A snapshot comes from the (untrusted) harness and is walked recursively on the host
    # (store serialisation, redaction): a 600-deep list crashed the run with RecursionError.
    return {
        str(name): f"<not kept: nested over {MAX_VALUE_DEPTH} levels>"
        if _depth_over(value, MAX_VALUE_DEPTH)
        else value
        for name, value in variables.items()
    }


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
