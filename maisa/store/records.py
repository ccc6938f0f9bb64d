"""Rows of the Chain-of-Work store (DESIGN §8), as typed dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"


class RunMode(StrEnum):
    GENERATED = "generated"  # every step written by the model
    LOCKED = "locked"  # every step replayed from the lockfile
    HEALED = "healed"  # replayed, then regenerated from the first failing step


@dataclass
class WorkerRecord:
    id: int
    name: str
    version: int
    fingerprint: str
    spec: str  # the spec file's text
    created_at: datetime | None = None


@dataclass
class ToolCallRecord:
    sequence: int
    tool: str
    function: str
    arguments: str
    result_summary: str
    ok: bool
    duration_s: float
    error: str | None = None


@dataclass
class StepRecord:
    """One attempt at one step. A step retried twice is three StepRecords with attempts 1..3."""

    number: int
    attempt: int
    description: str
    status: str  # a StepStatus value, or REJECTED (validator), or MODEL_ERROR (malformed reply)
    prompt: str | None = None
    model_reply: str | None = None
    code: str = ""
    code_sha256: str = ""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0
    variables_in: dict[str, Any] = field(default_factory=dict)
    variables_out: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    id: int | None = None
    run_id: int | None = None
    created_at: datetime | None = None


@dataclass
class RunRecord:
    id: int
    worker_id: int
    worker_name: str
    worker_version: int
    input: dict[str, Any]
    input_hash: str
    status: RunStatus
    mode: RunMode
    lock_revision: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    result: Any = None
    error: str | None = None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    owner: str | None = None
    heartbeat_at: datetime | None = None
    plan: list[str] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)


@dataclass
class LockRecord:
    worker_name: str
    fingerprint: str
    revision: int
    content: str
    source_run: int | None
    created_at: datetime | None = None


@dataclass
class WorkerSummary:
    """A worker row with how often it ran: what `maisa workers` and `GET /workers` list."""

    worker: WorkerRecord
    run_count: int = 0
    last_run_id: int | None = None
    last_run_at: datetime | None = None
