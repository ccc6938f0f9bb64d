"""The store contract: what the runtime, CLI and API need from a Chain-of-Work backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from maisa.store.records import (
    LockRecord,
    RunMode,
    RunRecord,
    RunStatus,
    StepRecord,
    WorkerRecord,
)


class Store(Protocol):
    """A Chain-of-Work backend. Every write is committed before the method returns.

    All text written (prompts, code, stdout, stderr, variables, tool
    arguments, results, errors) passes through the store's redactor first.
    """

    def add_secrets(self, values: list[str]) -> None:
        """Also redact these secret values in every later write."""
        ...

    def upsert_worker(self, name: str, version: int, fingerprint: str, spec: str) -> WorkerRecord:
        """The worker row for (name, version, fingerprint), created if new."""
        ...

    def get_worker(self, ref: int | str) -> WorkerRecord | None:
        """A worker by id, or the latest row for a name."""
        ...

    def list_workers(self) -> list[WorkerRecord]: ...

    def create_run(
        self,
        worker_id: int,
        inputs: dict[str, Any],
        *,
        mode: RunMode,
        status: RunStatus = RunStatus.RUNNING,
        lock_revision: int | None = None,
        owner: str | None = None,
    ) -> int:
        """A new run row; returns its id."""
        ...

    def claim_run(self, run_id: int, owner: str) -> bool:
        """QUEUED or INTERRUPTED -> RUNNING under `owner`; False if someone else has it."""
        ...

    def set_plan(self, run_id: int, plan: list[str]) -> None:
        """Record the run's plan (drafted by the model, or extended by it)."""
        ...

    def heartbeat(self, run_id: int, owner: str) -> None: ...

    def add_step(self, run_id: int, step: StepRecord) -> int:
        """Commit one step attempt with its tool calls; returns the step id."""
        ...

    def add_usage(
        self, run_id: int, *, model_calls: int, prompt_tokens: int, completion_tokens: int
    ) -> None:
        """Add to the run's model-call and token counters."""
        ...

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        *,
        result: Any = None,
        error: str | None = None,
        mode: RunMode | None = None,
        lock_revision: int | None = None,
    ) -> None:
        """Close a run with its final status (and, for heals, its final mode and revision)."""
        ...

    def get_run(self, run_id: int) -> RunRecord | None:
        """A run with its steps and their tool calls, in a fixed number of queries."""
        ...

    def list_runs(
        self,
        *,
        worker: str | None = None,
        status: RunStatus | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs newest first, without steps."""
        ...

    def reap_interrupted(self, stale_after_s: float = 30.0) -> list[int]:
        """Mark RUNNING runs whose owner stopped heart-beating INTERRUPTED; returns their ids."""
        ...

    def save_lock(self, lock: LockRecord) -> None: ...

    def get_lock(self, worker_name: str, revision: int | None = None) -> LockRecord | None:
        """A stored lock, the newest revision by default."""
        ...

    def close(self) -> None: ...
