"""The sandbox contract (DESIGN §5): a Sandbox opens one Session per run; a Session runs steps.

Backends (docker, bwrap) implement these Protocols in their own modules and
are picked by name in `maisa.sandbox.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from maisa.specs.model import Limits

if TYPE_CHECKING:
    from maisa.tools.broker import ToolBroker

# Limits the spec does not set; fixed per session so every run is held to the same bounds.
DEFAULT_PIDS_LIMIT = 64
DEFAULT_OUTPUT_CAP = 1024 * 1024  # bytes of stdout (and, separately, stderr) kept per step
DEFAULT_SCRATCH_SIZE = 64 * 1024 * 1024  # bytes of the writable scratch directory inside


class StepStatus(StrEnum):
    """How a step's execution ended."""

    OK = "OK"
    ERROR = "ERROR"  # the code raised; `error` holds the traceback
    TIMEOUT = "TIMEOUT"  # killed past its timeout
    KILLED_OOM = "KILLED_OOM"  # killed for exceeding the memory cap
    CRASHED = "CRASHED"  # the interpreter died; the session must be reopened


@dataclass
class ToolCall:
    """One tool call made by a step, as recorded by the broker (arguments already summarised)."""

    sequence: int
    tool: str
    function: str
    arguments: str  # a bounded JSON-ish summary; bytes shown as <N bytes>
    result_summary: str
    ok: bool
    duration_s: float
    error: str | None = None


@dataclass
class StepOutcome:
    """Everything observed while a session ran one step."""

    status: StepStatus
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0
    variables: dict[str, Any] = field(default_factory=dict)  # JSON values; others as repr strings
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None  # traceback or reason for any status but OK
    output_truncated: bool = False
    finished: bool = False  # the step called finish(result)
    result: Any = None  # the value given to finish()

    @property
    def ok(self) -> bool:
        return self.status is StepStatus.OK


class Session(Protocol):
    """One live interpreter for one run; variables persist across `run` calls."""

    def set_variables(self, variables: dict[str, Any]) -> None:
        """Bind names in the step namespace (`inputs`; after a reopen, the last snapshot)."""
        ...

    @property
    def alive(self) -> bool:
        """False once the interpreter is gone (after a kill on TIMEOUT, KILLED_OOM or CRASHED):
        the runtime then opens a new session and restores the last snapshot."""
        ...

    def run(self, code: str, timeout: float) -> StepOutcome:
        """Execute one step's code in the persistent namespace."""
        ...

    def close(self) -> None:
        """Kill everything the session started. Idempotent."""
        ...


class Sandbox(Protocol):
    """A backend able to open sessions."""

    name: str

    def open(self, limits: Limits, workspace: Path, broker: ToolBroker) -> Session:
        """Start one isolated interpreter for a run. Raises SandboxUnavailable if it cannot."""
        ...

    def check(self) -> str | None:
        """None when this backend can run here, else why not and what to install."""
        ...
