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
from datetime import datetime
from typing import Any

from maisa.errors import StoreError
from maisa.store.owner import owner_is_gone
from maisa.store.records import (
    LockRecord,
    RunMode,
    RunRecord,
    RunStatus,
    StepRecord,
    ToolCallRecord,
    WorkerRecord,
    WorkerSummary,
)
from maisa.store.redact import Redactor
from maisa.store.serialize import clean_text, dumps, input_hash, to_json_data, utc

FINAL_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED}
)
_RUN_SELECT = (
    "SELECT r.*, w.name AS worker_name, w.version AS worker_version "
    "FROM runs r JOIN workers w ON w.id = r.worker_id"
)
_STEP_COLUMNS = (
    "run_id, number, attempt, description, prompt, model_reply, code, code_sha256, status, "
    "stdout, stderr, duration_s, cpu_s, peak_memory_mb, variables_in, variables_out, error"
)
_TOOL_CALL_COLUMNS = (
    "step_id, sequence, tool, function, arguments, result_summary, ok, duration_s, error"
)


class SqlStore:
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

    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for reads (one consistent snapshot where the backend allows)."""
        raise NotImplementedError

    def _json(self, data: Any) -> Any:
        """A query parameter for a JSON column holding `data` (already clean)."""
        raise NotImplementedError

    def _from_json(self, raw: Any) -> Any:
        raise NotImplementedError

    def _time(self, value: datetime) -> Any:
        """A query parameter comparable with stored timestamps."""
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

    def get_worker(self, ref: int | str) -> WorkerRecord | None:
        """A worker by id, or the latest row for a name."""
        with self._read() as cur:
            if isinstance(ref, int):
                cur.execute("SELECT * FROM workers WHERE id = ?", (ref,))
            else:
                cur.execute("SELECT * FROM workers WHERE name = ? ORDER BY id DESC LIMIT 1", (ref,))
            row = cur.fetchone()
        return self._worker(row) if row else None

    def list_workers(self) -> list[WorkerRecord]:
        with self._read() as cur:
            cur.execute("SELECT * FROM workers ORDER BY name, version, id")
            return [self._worker(row) for row in cur.fetchall()]

    def summarize_workers(self) -> list[WorkerSummary]:
        """Every worker row with its number of runs and its latest run."""
        with self._read() as cur:
            cur.execute(
                "SELECT w.*, COUNT(r.id) AS run_count, MAX(r.id) AS last_run_id, "
                "MAX(r.created_at) AS last_run_at "
                "FROM workers w LEFT JOIN runs r ON r.worker_id = w.id "
                "GROUP BY w.id, w.name, w.version, w.fingerprint, w.spec, w.created_at "
                "ORDER BY w.name, w.version, w.id"
            )
            rows = cur.fetchall()
        return [
            WorkerSummary(
                worker=self._worker(row),
                run_count=int(row["run_count"]),
                last_run_id=row["last_run_id"],
                last_run_at=utc(row["last_run_at"]),
            )
            for row in rows
        ]

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

    # -- reading ---------------------------------------------------------------------------

    def get_run(self, run_id: int) -> RunRecord | None:
        """A run with its steps and their tool calls, in three queries."""
        with self._read() as cur:
            cur.execute(f"{_RUN_SELECT} WHERE r.id = ?", (run_id,))
            row = cur.fetchone()
            if row is None:
                return None
            run = self._run(row)
            cur.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY number, attempt, id", (run_id,)
            )
            run.steps = [self._step(r) for r in cur.fetchall()]
            cur.execute(
                "SELECT tc.* FROM tool_calls tc JOIN steps s ON s.id = tc.step_id "
                "WHERE s.run_id = ? ORDER BY tc.step_id, tc.sequence",
                (run_id,),
            )
            calls = cur.fetchall()
        by_id = {step.id: step for step in run.steps}
        for call in calls:
            step = by_id.get(call["step_id"])
            if step is not None:  # a step committed between our queries is not shown
                step.tool_calls.append(self._tool_call(call))
        return run

    def latest_run_id(self) -> int | None:
        """The id of the newest run, if any."""
        with self._read() as cur:
            cur.execute("SELECT MAX(id) AS id FROM runs")
            row = cur.fetchone()
        return None if row is None or row["id"] is None else int(row["id"])

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
        if limit < 0 or offset < 0:
            raise StoreError("limit and offset must not be negative")
        where, params = [], []
        if worker is not None:
            where.append("w.name = ?")
            params.append(worker)
        if status is not None:
            where.append("r.status = ?")
            params.append(RunStatus(status).value)
        if since is not None:
            where.append("r.created_at >= ?")
            params.append(self._time(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._read() as cur:
            cur.execute(
                f"{_RUN_SELECT}{clause} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
                (*params, int(limit), int(offset)),
            )
            return [self._run(row) for row in cur.fetchall()]

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

    def get_lock(self, worker_name: str, revision: int | None = None) -> LockRecord | None:
        """A stored lock, the newest revision by default."""
        with self._read() as cur:
            if revision is None:
                cur.execute(
                    "SELECT * FROM locks WHERE worker_name = ? ORDER BY revision DESC LIMIT 1",
                    (worker_name,),
                )
            else:
                cur.execute(
                    "SELECT * FROM locks WHERE worker_name = ? AND revision = ?",
                    (worker_name, int(revision)),
                )
            row = cur.fetchone()
        if row is None:
            return None
        return LockRecord(
            worker_name=row["worker_name"],
            fingerprint=row["fingerprint"],
            revision=int(row["revision"]),
            content=row["content"],
            source_run=row["source_run"],
            created_at=utc(row["created_at"]),
        )

    # -- rows to records -------------------------------------------------------------------

    @staticmethod
    def _expect_run(cur: Any, run_id: int) -> None:
        if cur.rowcount == 0:
            raise StoreError(f"run {run_id} does not exist")

    def _worker(self, row: Any) -> WorkerRecord:
        return WorkerRecord(
            id=int(row["id"]),
            name=row["name"],
            version=int(row["version"]),
            fingerprint=row["fingerprint"],
            spec=row["spec"],
            created_at=utc(row["created_at"]),
        )

    def _run(self, row: Any) -> RunRecord:
        return RunRecord(
            id=int(row["id"]),
            worker_id=int(row["worker_id"]),
            worker_name=row["worker_name"],
            worker_version=int(row["worker_version"]),
            input=self._from_json(row["input"]),
            input_hash=row["input_hash"],
            status=RunStatus(row["status"]),
            mode=RunMode(row["mode"]),
            lock_revision=row["lock_revision"],
            created_at=utc(row["created_at"]),
            started_at=utc(row["started_at"]),
            finished_at=utc(row["finished_at"]),
            duration_s=row["duration_s"],
            result=self._from_json(row["result"]),
            error=row["error"],
            model_calls=int(row["model_calls"]),
            prompt_tokens=int(row["prompt_tokens"]),
            completion_tokens=int(row["completion_tokens"]),
            owner=row["owner"],
            heartbeat_at=utc(row["heartbeat_at"]),
            plan=self._from_json(row["plan"]) or [],
        )

    def _step(self, row: Any) -> StepRecord:
        return StepRecord(
            id=int(row["id"]),
            run_id=int(row["run_id"]),
            number=int(row["number"]),
            attempt=int(row["attempt"]),
            description=row["description"],
            status=row["status"],
            prompt=row["prompt"],
            model_reply=row["model_reply"],
            code=row["code"],
            code_sha256=row["code_sha256"],
            stdout=row["stdout"],
            stderr=row["stderr"],
            duration_s=float(row["duration_s"]),
            cpu_s=float(row["cpu_s"]),
            peak_memory_mb=float(row["peak_memory_mb"]),
            variables_in=self._from_json(row["variables_in"]),
            variables_out=self._from_json(row["variables_out"]),
            error=row["error"],
            created_at=utc(row["created_at"]),
        )

    @staticmethod
    def _tool_call(row: Any) -> ToolCallRecord:
        return ToolCallRecord(
            sequence=int(row["sequence"]),
            tool=row["tool"],
            function=row["function"],
            arguments=row["arguments"],
            result_summary=row["result_summary"],
            ok=bool(row["ok"]),
            duration_s=float(row["duration_s"]),
            error=row["error"],
        )
