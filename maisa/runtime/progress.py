"""Live progress of a run: a small observer interface, and its rich rendering on stderr."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from maisa.runtime.orchestrator import RunResult

_STYLE = {
    "OK": "green",
    "ERROR": "red",
    "REJECTED": "yellow",
    "MODEL_ERROR": "yellow",
    "INVALID_RESULT": "yellow",
    "TIMEOUT": "red",
    "KILLED_OOM": "red",
    "CRASHED": "red",
}


class Progress:
    """Receives a run's events as they happen; every method is a no-op here."""

    def run_started(self, run_id: int, worker: str, mode: str, plan: list[str]) -> None:
        pass

    def plan_changed(self, plan: list[str], reason: str) -> None:
        pass

    def attempt_started(self, number: int, attempt: int, description: str, source: str) -> None:
        """`source` is "model" (the model writes it) or "lock" (replayed frozen code)."""

    def attempt_finished(
        self, number: int, attempt: int, status: str, duration_s: float, error: str | None
    ) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass


class ConsoleProgress(Progress):
    """One line per attempt on a rich console (stderr in the CLI)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._attempt_started = time.monotonic()

    def _print(self, text: str, **kw: Any) -> None:
        self.console.print(text, highlight=False, soft_wrap=True, **kw)

    def run_started(self, run_id: int, worker: str, mode: str, plan: list[str]) -> None:
        steps = f"{len(plan)} planned steps" if plan else "no plan yet"
        self._print(f"[bold]run {run_id}[/] {worker} · {mode} · {steps}")

    def plan_changed(self, plan: list[str], reason: str) -> None:
        self._print(f"[cyan]plan[/] {reason}:")
        for index, step in enumerate(plan, 1):
            self._print(f"  {index}. {_escape(step)}")

    def attempt_started(self, number: int, attempt: int, description: str, source: str) -> None:
        label = "step 0 (plan)" if number == 0 else f"step {number}"
        retry = f" attempt {attempt}" if attempt > 1 else ""
        origin = " [dim](locked)[/]" if source == "lock" else ""
        self._attempt_started = time.monotonic()
        self._print(f"[bold]{label}{retry}[/]{origin} {_escape(description)}")

    def attempt_finished(
        self, number: int, attempt: int, status: str, duration_s: float, error: str | None
    ) -> None:
        style = _STYLE.get(status, "white")
        wall = time.monotonic() - self._attempt_started
        line = f"  [{style}]{status}[/] in {wall:.2f}s (code {duration_s:.2f}s)"
        if error:
            first = error.strip().splitlines()[-1] if error.strip() else ""
            line += f" [dim]{_escape(first[:160])}[/]"
        self._print(line)

    def note(self, text: str) -> None:
        self._print(f"[dim]{_escape(text)}[/]")

    def run_finished(self, result: RunResult) -> None:
        style = "green" if result.status == "SUCCEEDED" else "red"
        tokens = result.prompt_tokens + result.completion_tokens
        self._print(
            f"[{style}]{result.status}[/] run {result.run_id} · {result.mode} · "
            f"{len(result.steps)} steps · {result.model_calls} model calls · {tokens} tokens"
            + (f" · [red]{_escape(result.error)}[/]" if result.error else "")
        )


def _escape(text: str) -> str:
    # Model- and step-written text: literal brackets, and escapes shown rather than obeyed.
    from maisa.commands.printable import for_markup

    return for_markup(text)
