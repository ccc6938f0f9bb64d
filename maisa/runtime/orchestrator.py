"""The orchestrator: one run from its request to its recorded end (DESIGN §3, seed module 6).

`execute_run` opens one sandbox session for the run, binds `inputs`, replays
the frozen steps of a lock (no model), then has the model write each
remaining plan step, validating, executing and recording every attempt and
asking for fixes up to `max_retries`. The run always ends SUCCEEDED, FAILED
or INTERRUPTED with a reason, never stuck RUNNING: infrastructure errors and
Ctrl-C are recorded before they propagate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maisa.compiler.compiled import CompiledWorker
from maisa.errors import MaisaError
from maisa.runtime.heartbeat import Heartbeat
from maisa.runtime.loop import RunFailure, RunLoop
from maisa.runtime.model import ModelClient
from maisa.runtime.progress import Progress
from maisa.runtime.session import (
    RunTools,
    build_run_tools,
    make_workspace,
    read_secrets,
    workspace_root,
)
from maisa.runtime.usage import UsageMeter
from maisa.sandbox.base import Sandbox
from maisa.store.base import Store
from maisa.store.owner import new_owner_id
from maisa.store.records import RunMode, RunStatus


@dataclass
class FrozenStep:
    """A step's code that succeeded before: what a lock freezes and a replay runs."""

    number: int
    description: str
    code: str


@dataclass
class RunRequest:
    """What to run: a compiled worker, validated inputs, and how (mode, frozen steps, heal)."""

    compiled: CompiledWorker
    inputs: dict[str, Any]
    mode: RunMode = RunMode.GENERATED
    frozen: list[FrozenStep] = field(default_factory=list)  # replayed first, in order
    heal: bool = False  # a frozen step failing -> the model regenerates from it
    lock_revision: int | None = None
    sandbox: str | None = None  # backend name; None: $MAISA_SANDBOX or auto
    project_dir: Path | None = None  # where `.maisa/workspaces/` lives (default: cwd)


@dataclass
class RunResult:
    """How a run ended, and the code that succeeded (what a lock freezes)."""

    run_id: int
    status: RunStatus
    result: Any
    error: str | None
    mode: RunMode
    steps: list[FrozenStep]
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    model_name: str | None = None  # the model asked to write code (None: no model call)
    served_by: str | None = None  # the model the endpoint says answered (e.g. a dated version)
    lock_revision: int | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED


def execute_run(
    request: RunRequest,
    *,
    store: Store,
    model: ModelClient | None,
    progress: Progress | None = None,
    sandbox: Sandbox | None = None,
) -> RunResult:
    """Execute one run and record it; returns its result (SUCCEEDED or FAILED).

    Raises the MaisaError of an infrastructure failure (model endpoint, store,
    sandbox) and re-raises KeyboardInterrupt, in both cases after recording
    the run as FAILED or INTERRUPTED. `sandbox` overrides `request.sandbox`.
    """
    progress = progress or Progress()
    compiled = request.compiled
    if sandbox is None:
        from maisa.sandbox.registry import get_sandbox

        sandbox = get_sandbox(request.sandbox)
    secrets = read_secrets(compiled)  # before the run row: a missing secret is a usage error
    store.add_secrets(list(secrets.values()))
    worker = store.upsert_worker(
        compiled.spec.name, compiled.spec.version, compiled.fingerprint, compiled.spec_text
    )
    owner = new_owner_id()
    run_id = store.create_run(
        worker.id,
        request.inputs,
        mode=request.mode,
        lock_revision=request.lock_revision,
        owner=owner,
    )
    started = time.monotonic()
    usage = UsageMeter(store, run_id)
    heartbeat = Heartbeat(store, run_id, owner, also=usage.flush).start()
    progress.run_started(run_id, compiled.spec.name, str(request.mode), list(compiled.plan))
    tools: RunTools | None = None
    loop: RunLoop | None = None
    try:
        workspace = make_workspace(workspace_root(request.project_dir), run_id)
        tools = build_run_tools(compiled, request.inputs, workspace, secrets)
        run_tools = tools

        def open_session():
            return sandbox.open(compiled.spec.limits, workspace, run_tools.broker)

        loop = RunLoop(
            compiled=compiled,
            inputs=request.inputs,
            run_id=run_id,
            store=store,
            model=model,
            progress=progress,
            open_session=open_session,
            take_calls=run_tools.broker.take_calls,
            mode=request.mode,
            usage=usage,
            started=started,
        )
        try:
            value = loop.run(list(request.frozen), request.heal)
            status, result, error = RunStatus.SUCCEEDED, value, None
        except RunFailure as failure:
            status, result, error = RunStatus.FAILED, None, failure.reason
    except KeyboardInterrupt:
        heartbeat.stop()
        _record_end(store, usage, run_id, RunStatus.INTERRUPTED, _interrupted(loop), loop, request)
        raise
    except MaisaError as exc:
        heartbeat.stop()
        _record_end(store, usage, run_id, RunStatus.FAILED, _infra(exc, loop), loop, request)
        raise
    except Exception as exc:
        heartbeat.stop()
        reason = f"internal error: {type(exc).__name__}: {exc}"
        _record_end(store, usage, run_id, RunStatus.FAILED, reason, loop, request)
        raise
    finally:
        heartbeat.stop()
        if loop is not None:
            loop.close()
        if tools is not None:
            tools.close()
    mode = loop.mode
    usage.flush()
    store.finish_run(
        run_id, status, result=result, error=error, mode=mode, lock_revision=request.lock_revision
    )
    outcome = RunResult(
        run_id=run_id,
        status=status,
        result=result,
        error=error,
        mode=mode,
        steps=[FrozenStep(s.number, s.description, s.code) for s in loop.accepted],
        model_calls=usage.total.calls,
        prompt_tokens=usage.total.prompt_tokens,
        completion_tokens=usage.total.completion_tokens,
        model_name=model.name if model and usage.total.calls else None,
        served_by=model.served_by if model and usage.total.calls else None,
        lock_revision=request.lock_revision,
        duration_s=time.monotonic() - started,
    )
    progress.run_finished(outcome)
    return outcome


def _where(loop: RunLoop | None) -> str:
    if loop is None or not loop.current_step:
        return "before the first step"
    return f"during step {loop.current_step}"


def _interrupted(loop: RunLoop | None) -> str:
    return f"interrupted (Ctrl-C or SIGTERM) {_where(loop)}"


def _infra(exc: MaisaError, loop: RunLoop | None) -> str:
    return f"{exc.message} ({_where(loop)})"


def _record_end(
    store: Store,
    usage: UsageMeter,
    run_id: int,
    status: RunStatus,
    reason: str,
    loop: RunLoop | None,
    request: RunRequest,
) -> None:
    """Close the run row on an abnormal end; a store that is itself down cannot be helped."""
    try:
        usage.flush()
    except Exception:  # noqa: BLE001 (the run's end matters more than its token counts)
        pass
    try:
        store.finish_run(
            run_id,
            status,
            error=reason,
            mode=loop.mode if loop is not None else request.mode,
            lock_revision=request.lock_revision,
        )
    except Exception:  # noqa: BLE001 (the original error is the one to report)
        pass
