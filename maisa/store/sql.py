"""The Store contract in SQL shared by both backends; a backend supplies connections and dialect.

Every timestamp is taken from the database clock (`NOW`), so heartbeats written
on one host and judged stale on another agree on time. Every write is one
transaction, committed before the method returns.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from maisa.errors import StoreError
from maisa.store.owner import owner_is_gone
from maisa.store.records import (
    LockRecord,
    RunMode,
    RunStatus,
    StepRecord,
    ToolCallRecord,
    WorkerRecord,
)
from maisa.store.redact import Redactor
from maisa.store.serialize import clean_text, dumps, input_hash, to_json_data
from maisa.store.sql_reads import SqlReads

FINAL_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED}
)
_STEP_COLUMNS = (
    "run_id, number, attempt, description, prompt, model_reply, code, code_sha256, status, "
    "stdout, stderr, duration_s, cpu_s, peak_memory_mb, variables_in, variables_out, error"
)
_TOOL_CALL_COLUMNS = (
    "step_id, sequence, tool, function, arguments, result_summary, ok, duration_s, error"
)


class SqlStore(SqlReads):
    """Store logic over a DB-API cursor whose SQL uses `?` placeholders."""

    dialect: str
    NOW: str  # SQL expression: the database clock, UTC

    def __init__(self, display_url: str, redactor: Redactor | None = None) -> None:
        self.url = display_url
        self._redactor = redactor if redactor is not None else Redactor.from_environ()

    # -- what a backend provides ---------------------------------------------------------

    def _write(self) -> AbstractContextManager[Any]:
        """A cursor inside one write transaction; driver errors become StoreError/Unavailable."""
        raise NotImplementedError

    def _json(self, data: Any) -> Any:
        """A query parameter for a JSON column holding `data` (already clean)."""
        raise NotImplementedError

    def _seconds_ago(self) -> str:
        """SQL for `NOW` minus a number of seconds given as the one `?` parameter."""
        raise NotImplementedError

    def _elapsed(self, column: str) -> str:
        """SQL for the seconds elapsed from `column` until now."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- redaction -------------------------------------------------------------------------

    def add_secrets(self, values: Iterable[str] | Mapping[str, str]) -> None:
        """Also redact these secret values (a mapping labels them by name) in every later write."""
        self._redactor.add(values)

    def _text(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):  # a caller passed data where text was expected
            value = dumps(to_json_data(value))
        return clean_text(self._redactor.text(value))

    def _data(self, value: Any) -> Any:
        return to_json_data(self._redactor.value(to_json_data(value)))

    # -- workers ---------------------------------------------------------------------------

    def upsert_worker(self, name: str, version: int, fingerprint: str, spec: str) -> WorkerRecord:
        """The worker row for (name, version, fingerprint), created if new."""
        key = (name, int(version), fingerprint)
        with self._write() as cur:
            cur.execute(
                "INSERT INTO workers (name, version, fingerprint, spec) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, version, fingerprint) DO NOTHING",
                (*key, self._text(spec)),
            )
            cur.execute(
                "SELECT * FROM workers WHERE name = ? AND version = ? AND fingerprint = ?", key
            )
            row = cur.fetchone()
        return self._worker(row)

    # -- runs ------------------------------------------------------------------------------

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
        data = self._data(inputs)
        started = self.NOW if RunStatus(status) is RunStatus.RUNNING else "NULL"
        beat = self.NOW if owner else "NULL"
        with self._write() as cur:
            cur.execute(
                "INSERT INTO runs (worker_id, input, input_hash, status, mode, lock_revision, "
                f"owner, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, {started}, {beat}) "
                "RETURNING id",
                (
                    worker_id,
                    self._json(data),
                    input_hash(data),
                    RunStatus(status).value,
                    RunMode(mode).value,
                    lock_revision,
                    owner,
                ),
            )
            return int(cur.fetchone()["id"])

    def claim_run(self, run_id: int, owner: str) -> bool:
        """QUEUED or INTERRUPTED -> RUNNING under `owner`; False if someone else has it."""
        with self._write() as cur:
            cur.execute(
                f"UPDATE runs SET status = 'RUNNING', owner = ?, heartbeat_at = {self.NOW}, "
                f"started_at = COALESCE(started_at, {self.NOW}), finished_at = NULL, "
                "duration_s = NULL, error = NULL "
                "WHERE id = ? AND status IN ('QUEUED', 'INTERRUPTED')",
                (owner, run_id),
            )
            return cur.rowcount == 1

    def claim_next(self, owner: str) -> int | None:
        """Take the oldest QUEUED run as RUNNING under `owner` (for a queue worker); its id."""
        with self._write() as cur:
            cur.execute(
                f"SELECT id FROM runs WHERE status = 'QUEUED' ORDER BY id {self._skip_locked()}"
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                f"UPDATE runs SET status = 'RUNNING', owner = ?, heartbeat_at = {self.NOW}, "
                f"started_at = {self.NOW} WHERE id = ? AND status = 'QUEUED'",
                (owner, row["id"]),
            )
            return int(row["id"]) if cur.rowcount == 1 else None

    def _skip_locked(self) -> str:
        """What to append to a one-row SELECT so concurrent claimers pass each other."""
        return "LIMIT 1"

    def set_plan(self, run_id: int, plan: list[str]) -> None:
        """Record the run's plan (drafted by the model, or extended by it)."""
        with self._write() as cur:
            cur.execute(
                "UPDATE runs SET plan = ? WHERE id = ?", (self._json(self._data(plan)), run_id)
            )
            self._expect_run(cur, run_id)

    def heartbeat(self, run_id: int, owner: str) -> bool:
        """Refresh the run's heartbeat; False if `owner` no longer holds it as RUNNING."""
        with self._write() as cur:
            cur.execute(
                f"UPDATE runs SET heartbeat_at = {self.NOW} "
                "WHERE id = ? AND owner = ? AND status = 'RUNNING'",
                (run_id, owner),
            )
            return cur.rowcount == 1

    def add_usage(
        self, run_id: int, *, model_calls: int, prompt_tokens: int, completion_tokens: int
    ) -> None:
        """Add to the run's model-call and token counters."""
        with self._write() as cur:
            cur.execute(
                "UPDATE runs SET model_calls = model_calls + ?, "
                "prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ? "
                "WHERE id = ?",
                (int(model_calls), int(prompt_tokens), int(completion_tokens), run_id),
            )
            self._expect_run(cur, run_id)

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
        status = RunStatus(status)
        if status not in FINAL_STATUSES:
            raise StoreError(f"run {run_id}: {status} is not a final status")
        result_param = None if result is None else self._json(self._data(result))
        with self._write() as cur:
            cur.execute(
                f"UPDATE runs SET status = ?, result = ?, error = ?, finished_at = {self.NOW}, "
                f"duration_s = {self._elapsed('COALESCE(started_at, created_at)')}, "
                "mode = COALESCE(?, mode), lock_revision = COALESCE(?, lock_revision) "
                "WHERE id = ?",
                (
                    status.value,
                    result_param,
                    self._text(error),
                    RunMode(mode).value if mode is not None else None,
                    lock_revision,
                    run_id,
                ),
            )
            self._expect_run(cur, run_id)

    def reap_interrupted(self, stale_after_s: float = 30.0) -> list[int]:
        """Mark RUNNING runs whose owner stopped heart-beating INTERRUPTED; returns their ids.

        An owner on this host whose process is gone is reaped at once, without
        waiting for its heartbeat to go stale.
        """
        with self._write() as cur:
            cur.execute(
                "SELECT id, owner FROM runs WHERE status = 'RUNNING' AND owner LIKE ?",
                (f"{socket.gethostname()}:%",),
            )
            gone = [
                (row["id"], row["owner"]) for row in cur.fetchall() if owner_is_gone(row["owner"])
            ]
            local = "".join(" OR (id = ? AND owner = ?)" for _ in gone)
            cur.execute(
                "UPDATE runs SET status = 'INTERRUPTED', error = COALESCE(error, "
                "'interrupted: owner ' || COALESCE(owner, 'unknown') || ' stopped heart-beating') "
                "WHERE status = 'RUNNING' AND (COALESCE(heartbeat_at, started_at, created_at) < "
                f"{self._seconds_ago()}{local}) RETURNING id",
                (float(stale_after_s), *(v for pair in gone for v in pair)),
            )
            return sorted(int(row["id"]) for row in cur.fetchall())

    # -- steps -----------------------------------------------------------------------------

    def add_step(self, run_id: int, step: StepRecord) -> int:
        """Commit one step attempt with its tool calls; returns the step id.

        If the database refuses the write (a constraint, a full disk) nothing of
        the step is kept, the run is marked FAILED with the reason where the
        database still allows it, and StoreError is raised.
        """
        sha = step.code_sha256 or hashlib.sha256(step.code.encode()).hexdigest()
        values = (
            run_id,
            step.number,
            step.attempt,
            self._text(step.description) or "",
            self._text(step.prompt),
            self._text(step.model_reply),
            self._text(step.code) or "",
            sha,
            str(step.status),
            self._text(step.stdout) or "",
            self._text(step.stderr) or "",
            float(step.duration_s),
            float(step.cpu_s),
            float(step.peak_memory_mb),
            self._json(self._data(step.variables_in or {})),
            self._json(self._data(step.variables_out or {})),
            self._text(step.error),
        )
        marks = ", ".join("?" * len(values))
        try:
            with self._write() as cur:
                cur.execute(
                    f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES ({marks}) RETURNING id", values
                )
                step_id = int(cur.fetchone()["id"])
                calls = [self._tool_call_values(step_id, call) for call in step.tool_calls]
                if calls:
                    cur.executemany(
                        f"INSERT INTO tool_calls ({_TOOL_CALL_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        calls,
                    )
                # A committed step is as good as a heartbeat.
                cur.execute(
                    f"UPDATE runs SET heartbeat_at = {self.NOW} "
                    "WHERE id = ? AND status = 'RUNNING'",
                    (run_id,),
                )
        except StoreError as exc:
            self._fail_after_write_error(run_id, step, exc)
            raise
        return step_id

    def _tool_call_values(self, step_id: int, call: ToolCallRecord) -> tuple[Any, ...]:
        return (
            step_id,
            call.sequence,
            call.tool,
            call.function,
            self._text(call.arguments) or "",
            self._text(call.result_summary) or "",
            bool(call.ok),
            float(call.duration_s),
            self._text(call.error),
        )

    def _fail_after_write_error(self, run_id: int, step: StepRecord, exc: StoreError) -> None:
        reason = f"store refused step {step.number} attempt {step.attempt}: {exc.message}"
        try:
            self.finish_run(run_id, RunStatus.FAILED, error=reason)
        except Exception:  # noqa: BLE001 - best effort: the database may be full or gone
            pass

    # -- locks -----------------------------------------------------------------------------

    def save_lock(self, lock: LockRecord) -> None:
        """Store a lock; saving a revision again replaces that revision's content."""
        with self._write() as cur:
            cur.execute(
                "INSERT INTO locks (worker_name, fingerprint, revision, content, source_run) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (worker_name, revision) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, content = excluded.content, "
                "source_run = excluded.source_run",
                (
                    lock.worker_name,
                    lock.fingerprint,
                    int(lock.revision),
                    self._text(lock.content),
                    lock.source_run,
                ),
            )

    @staticmethod
    def _expect_run(cur: Any, run_id: int) -> None:
        if cur.rowcount == 0:
            raise StoreError(f"run {run_id} does not exist")
