"""`maisa run SPEC --input k=v ...`: run a worker, with live progress on stderr (DESIGN §7, §9).

Exit codes: 0 succeeded, 1 the run failed, 2 bad spec/usage/input, 3 lock
missing or stale (`--lock`), 4 infrastructure (model endpoint, database,
sandbox). With `--json`, stdout holds one JSON object and nothing else, also
when the run fails or the infrastructure gives out mid-run.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup
from maisa.errors import MaisaError, SpecError, UsageError
from maisa.runtime.progress import ConsoleProgress


class _RunWatcher(ConsoleProgress):
    """The console progress, also remembering the run id for a JSON error report."""

    run_id: int | None = None

    def run_started(self, run_id: int, worker: str, mode: str, plan: list[str]) -> None:
        self.run_id = run_id
        super().run_started(run_id, worker, mode, plan)


def _lock_choice(lock: bool, no_lock: bool, heal: bool) -> str:
    """The lock mode from the flags; --heal implies replaying the lock, so --lock --heal heals."""
    if no_lock and (lock or heal):
        other = "--heal" if heal else "--lock"
        raise UsageError(f"--no-lock and {other} cannot be combined")
    if heal:
        return "heal"
    if lock:
        return "locked"
    return "none" if no_lock else "auto"


def _modes_available() -> bool:
    return importlib.util.find_spec("maisa.runtime.modes") is not None


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@click.command("run")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--input", "-i", "pairs", multiple=True, metavar="NAME=VALUE", help="A run input.")
@click.option(
    "--input-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON object of inputs (--input values win).",
)
@click.option("--sandbox", "sandbox_name", metavar="BACKEND", help="docker, bwrap or auto.")
@click.option("--lock", "--locked", "locked", is_flag=True, help="Replay the lock only; no model.")
@click.option("--no-lock", is_flag=True, help="Always generate; write no lock.")
@click.option("--heal", is_flag=True, help="Replay the lock; regenerate from a failing step.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--db", "db_url", metavar="URL", help="Store URL (default $MAISA_DATABASE_URL).")
def run_command(
    spec: Path,
    pairs: tuple[str, ...],
    input_file: Path | None,
    sandbox_name: str | None,
    locked: bool,
    no_lock: bool,
    heal: bool,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Run the worker SPEC: replay its lock when fresh, else let the model write each step."""
    started = time.monotonic()
    progress = _RunWatcher(err)
    try:
        choice = _lock_choice(locked, no_lock, heal)
        result, written = _run(
            spec, list(pairs), input_file, sandbox_name, choice, db_url, progress
        )
    except MaisaError as exc:
        if not as_json:
            raise
        emit_json(_error_report(progress.run_id, exc, time.monotonic() - started))
        err.print(f"[bold red]error:[/] {for_markup(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]hint:[/] {for_markup(exc.hint)}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if as_json:
            emit_json(_interrupted_report(progress.run_id, time.monotonic() - started))
        raise
    if as_json:
        emit_json(_report(result, written, time.monotonic() - started))
    elif result.ok:
        out.print_json(data=result.result)
    if not result.ok:
        if not as_json:
            reason = for_markup(result.error)
            err.print(f"[bold red]run {result.run_id} failed:[/] {reason}", soft_wrap=True)
            err.print(f"[yellow]hint:[/] see every attempt with: maisa show {result.run_id}")
        sys.exit(1)


def _run(
    spec: Path,
    pairs: list[str],
    input_file: Path | None,
    sandbox_name: str | None,
    choice: str,
    db_url: str | None,
    progress: _RunWatcher,
) -> tuple[Any, Path | None]:
    from maisa.compiler import compile_spec
    from maisa.compiler.inputs import parse_cli_inputs, validate_inputs
    from maisa.runtime.model import ModelClient, ModelSettings
    from maisa.runtime.orchestrator import RunRequest, execute_run
    from maisa.runtime.session import read_secrets
    from maisa.sandbox.registry import get_sandbox
    from maisa.store.factory import open_store
    from maisa.store.records import RunMode

    if not spec.exists():
        raise UsageError(f"spec not found: {spec}")
    compiled = compile_spec(spec)
    inputs = validate_inputs(compiled, parse_cli_inputs(pairs, input_file, compiled))
    plan = None
    if _modes_available():
        from maisa.runtime import modes

        plan = modes.plan_run(compiled, lock=choice)
    elif choice in ("locked", "heal"):
        raise UsageError(f"--{choice} needs lockfile support, which this maisa lacks")
    read_secrets(compiled)  # a missing secret is a usage error, before any engine is touched
    sandbox = get_sandbox(sandbox_name)
    if plan is not None and plan.reason:
        progress.note(plan.reason)
    needs_model = plan is None or plan.mode is not RunMode.LOCKED or plan.heal
    model = ModelClient(ModelSettings.resolve(compiled.spec.model)) if needs_model else None
    request = RunRequest(
        compiled=compiled,
        inputs=inputs,
        mode=plan.mode if plan else RunMode.GENERATED,
        frozen=list(plan.frozen) if plan else [],
        heal=plan.heal if plan else False,
        lock_revision=plan.lock_revision if plan else None,
    )
    store = open_store(db_url)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = execute_run(request, store=store, model=model, progress=progress, sandbox=sandbox)
        written = None
        if plan is not None:
            from maisa.runtime import modes

            written = modes.after_run(compiled, plan, result, store)
            if written is not None:
                progress.note(f"wrote {written}")
        return result, written
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()


def _interrupted_report(run_id: int | None, duration: float) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "status": "INTERRUPTED" if run_id is not None else None,
        "error": "interrupted (Ctrl-C or SIGTERM)",
        "exit_code": 130,
        "duration_s": round(duration, 3),
    }


def _report(result: Any, written: Path | None, duration: float) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "status": str(result.status),
        "mode": str(result.mode),
        "lock_revision": result.lock_revision,
        "result": result.result,
        "error": result.error,
        "model_calls": result.model_calls,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "tokens": result.prompt_tokens + result.completion_tokens,
        "steps": len(result.steps),
        "duration_s": round(duration, 3),
        "lock_written": str(written) if written else None,
    }


def _error_report(run_id: int | None, exc: MaisaError, duration: float) -> dict[str, Any]:
    report: dict[str, Any] = {
        "run_id": run_id,
        "status": "FAILED",
        "error": exc.message,
        "exit_code": exc.exit_code,
        "duration_s": round(duration, 3),
    }
    if isinstance(exc, SpecError):
        report["problems"] = [str(p) for p in exc.problems]
    return report
