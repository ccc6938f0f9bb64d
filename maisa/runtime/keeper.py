"""The run's one sandbox session: running code in it, reopening it, cleaning up after failures.

After a TIMEOUT, KILLED_OOM or CRASHED step the session may be dead
(`alive` False): it is reopened and the last accepted step's variables
snapshot is restored (JSON values as themselves; values the harness could
only snapshot as a repr come back as that repr string). After a failed
attempt in a live session, the names that attempt created are deleted, so a
fix cannot lean on a half-done step that a later replay would not have.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from maisa.runtime.progress import Progress
from maisa.sandbox.base import Session, StepOutcome, StepStatus, ToolCall

CLEANUP_TIMEOUT_S = 5.0


class SessionKeeper:
    """Owns the session of a run; `snapshot` is what a reopened session gets back."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        take_calls: Callable[[], list[ToolCall]],
        inputs: dict[str, Any],
        progress: Progress,
    ) -> None:
        self._open_session = open_session
        self._take_calls = take_calls
        self._inputs = inputs
        self._progress = progress
        self.snapshot: dict[str, Any] = {}
        self.session = open_session()
        self.session.set_variables({"inputs": inputs})

    @property
    def alive(self) -> bool:
        return bool(getattr(self.session, "alive", True))

    def run(self, code: str, timeout: float) -> tuple[StepOutcome, list[ToolCall]]:
        """Execute code; the step's tool calls come with it. A dead session is reopened."""
        outcome = self.session.run(code, timeout)
        recorded = self._take_calls()
        calls = list(outcome.tool_calls) or recorded
        if not self.alive:
            self.reopen()
        return outcome, calls

    def reopen(self) -> None:
        self.close()
        self.session = self._open_session()
        self.session.set_variables({"inputs": self._inputs, **self.snapshot})
        self._progress.note(
            "the sandbox session ended; reopened it with the last accepted step's variables"
        )

    def discard(self, outcome: StepOutcome) -> tuple[str, ...]:
        """Delete the names a failed attempt created (not in the snapshot); returns them."""
        if not self.alive or outcome.status is StepStatus.CRASHED:
            return ()
        new = [
            name
            for name in outcome.variables
            if name not in self.snapshot and name.isidentifier() and not keyword.iskeyword(name)
        ]
        if not new:
            return ()
        self.session.run("del " + ", ".join(new) + "\n", CLEANUP_TIMEOUT_S)
        self._take_calls()
        if not self.alive:
            self.reopen()
        return tuple(new)

    def close(self) -> None:
        try:
            self.session.close()
        except Exception:  # noqa: BLE001 (closing must never mask the run's own outcome)
            pass
