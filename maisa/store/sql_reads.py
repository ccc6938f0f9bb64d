"""The reading half of the SQL store: runs with their steps, listings, workers, locks.

Reads never write, and a run is read in three queries however many steps it
has (run, steps, tool calls), each query in one snapshot where the backend
allows it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from maisa.errors import StoreError
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
from maisa.store.serialize import utc

RUN_SELECT = (
    "SELECT r.*, w.name AS worker_name, w.version AS worker_version "
    "FROM runs r JOIN workers w ON w.id = r.worker_id"
)


def _is_row_id(value: int) -> bool:
    """Whether `value` fits an id column; SQLite raises OverflowError past 64 bits."""
    return -(2**63) <= value < 2**63


class SqlReads:
    """Read queries over `_read()` cursors whose SQL uses `?` placeholders."""

    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for reads (one consistent snapshot where the backend allows)."""
        raise NotImplementedError

    def _from_json(self, raw: Any) -> Any:
        raise NotImplementedError

    def _time(self, value: datetime) -> Any:
        """A query parameter comparable with stored timestamps."""
        raise NotImplementedError

    # -- workers ---------------------------------------------------------------------------

    def get_worker(self, ref: int | str) -> WorkerRecord | None:
        """A worker by id, or the latest row for a name."""
        if isinstance(ref, int) and not _is_row_id(ref):
            return None
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

    def get_run(self, run_id: int) -> RunRecord | None:
        """A run with its steps and their tool calls, in three queries."""
        if not _is_row_id(run_id):
            return None
        with self._read() as cur:
            cur.execute(f"{RUN_SELECT} WHERE r.id = ?", (run_id,))
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
                f"{RUN_SELECT}{clause} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
                (*params, int(limit), int(offset)),
            )
            return [self._run(row) for row in cur.fetchall()]

    # -- locks -----------------------------------------------------------------------------

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
