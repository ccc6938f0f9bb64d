"""The exception hierarchy. Every error a user can see is a MaisaError.

Each class carries the CLI exit code of DESIGN §9, so the CLI maps an error to
its exit code in one place and never shows a traceback for a known failure.
"""

from __future__ import annotations

from dataclasses import dataclass


class MaisaError(Exception):
    """Base of every error maisa reports to a user. `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class UsageError(MaisaError):
    """Bad command-line usage or bad run input (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec file, located as `path:line:col`."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class SpecError(MaisaError):
    """A spec (or another YAML document) is invalid; carries every problem found (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[SpecProblem], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems), hint=hint)


class InputError(UsageError):
    """Run inputs do not match the worker's input schema (exit 2)."""


class LockError(MaisaError):
    """A lockfile is missing, stale, tampered with or unreadable (exit 3)."""

    exit_code = 3


class InfrastructureError(MaisaError):
    """Something maisa depends on is unreachable (exit 4)."""

    exit_code = 4


class SandboxUnavailable(InfrastructureError):
    """No sandbox backend can run here (engine down, image missing, bwrap absent)."""


class StoreUnavailable(InfrastructureError):
    """The Chain-of-Work database cannot be reached or opened."""


class ModelUnavailable(InfrastructureError):
    """The model endpoint cannot be reached (after retries)."""


class StoreError(MaisaError):
    """The store refused a write or a read (constraint, full disk, schema too new)."""


class SandboxError(MaisaError):
    """The sandbox failed in a way that is not the step's fault (protocol error, crash on open)."""


class ToolError(MaisaError):
    """A tool call failed; inside a step it surfaces as a Python exception."""


class RunFailed(MaisaError):
    """A run ended FAILED (exit 1)."""

    exit_code = 1
