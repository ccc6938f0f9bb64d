"""`maisa lock SPEC --input ...`: generate with the model and freeze the code; `--check`."""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup
from maisa.errors import LockError, UsageError

if TYPE_CHECKING:
    from maisa.compiler.compiled import CompiledWorker


@click.command("lock")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option("--input", "-i", "pairs", multiple=True, metavar="NAME=VALUE", help="A run input.")
@click.option(
    "--input-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON object of inputs (--input values win).",
)
@click.option("--sandbox", help="Sandbox backend: docker, bwrap or auto.")
@click.option(
    "--model",
    "model_name",
    metavar="NAME",
    help="Model to ask (overrides the spec's model.name and $MAISA_MODEL); recorded in the lock.",
)
@click.option("--db", "db_url", help="Store URL (default: $MAISA_DATABASE_URL or .maisa/maisa.db).")
@click.option("--check", "check_only", is_flag=True, help="Write nothing: exit 0 if fresh, else 3.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout.")
def lock_command(
    spec_path: Path,
    pairs: tuple[str, ...],
    input_file: Path | None,
    sandbox: str | None,
    model_name: str | None,
    db_url: str | None,
    check_only: bool,
    as_json: bool,
) -> None:
    """Generate SPEC's code with the model on one input and write SPEC's lockfile.

    The lock (`worker.lock` beside `worker.yaml`) then serves every input with
    no model: `maisa run SPEC --lock`. With --check, nothing is written: exit 0
    when the lock is fresh, 3 when it is missing, stale or tampered (and why).
    """
    from maisa.compiler import compile_spec

    compiled = compile_spec(spec_path)
    if check_only:
        if pairs or input_file:
            raise UsageError("--check takes no inputs: it only compares the lock with the spec")
        _check(compiled, as_json)
        return
    _generate(compiled, list(pairs), input_file, sandbox, model_name, db_url, as_json)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check(compiled: CompiledWorker, as_json: bool) -> None:
    from maisa.runtime.lockfile import lock_path, read_lock
    from maisa.runtime.modes import explained_freshness, missing_error, stale_error

    path = lock_path(compiled.spec_path)
    if not path.exists():
        error = missing_error(path, compiled)
        if as_json:
            emit_json(
                {"lock": str(path), "fresh": False, "state": "missing", "reasons": [error.message]}
            )
            sys.exit(3)
        raise error
    try:
        lock = read_lock(path)
    except LockError as exc:
        if as_json:
            emit_json(
                {"lock": str(path), "fresh": False, "state": "unreadable", "reasons": [exc.message]}
            )
            sys.exit(3)
        raise
    state = explained_freshness(lock, compiled)
    if as_json:
        emit_json(
            {
                "lock": str(path),
                "fresh": state.fresh,
                "state": state.kind,
                "revision": lock.revision,
                "reasons": state.reasons,
            }
        )
        sys.exit(0 if state.fresh else 3)
    if not state.fresh:
        raise stale_error(path, state, compiled)
    out.print(f"{path}: fresh (revision {lock.revision})", markup=False)


def _generate(
    compiled: CompiledWorker,
    pairs: list[str],
    input_file: Path | None,
    sandbox: str | None,
    model_name: str | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    from maisa.compiler.inputs import parse_cli_inputs, validate_inputs
    from maisa.runtime.lockfile import NewerLockError, lock_path, read_lock
    from maisa.runtime.model import ModelClient, ModelSettings
    from maisa.runtime.modes import RunPlan, after_run
    from maisa.runtime.orchestrator import RunRequest, execute_run
    from maisa.runtime.progress import ConsoleProgress
    from maisa.store.factory import open_store
    from maisa.store.records import RunMode

    inputs = validate_inputs(compiled, parse_cli_inputs(pairs, input_file, compiled))
    path = lock_path(compiled.spec_path)
    previous = None
    if path.exists():
        try:
            previous = read_lock(path)
        except NewerLockError:
            raise  # written by a newer maisa: this one must not replace it
        except LockError as exc:
            reason = for_markup(exc.message)
            err.print(f"[yellow]warning:[/] replacing an unreadable lock: {reason}")
    settings = ModelSettings.resolve(compiled.spec.model)
    if model_name:
        settings = dataclasses.replace(settings, model=model_name)
    model = ModelClient(settings)
    plan = RunPlan(RunMode.GENERATED, lock=previous, path=path, reason="maisa lock: generating")
    store = open_store(db_url)
    # SIGTERM ends the run as Ctrl-C does: recorded INTERRUPTED, not left RUNNING.
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = execute_run(
            RunRequest(compiled=compiled, inputs=inputs, mode=RunMode.GENERATED, sandbox=sandbox),
            store=store,
            model=model,
            progress=ConsoleProgress(err),
        )
        written = after_run(compiled, plan, result, store, model_name=result.model_name)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        store.close()
    lock = read_lock(written) if written else None
    if as_json:
        emit_json(
            {
                "lock": str(written) if written else None,
                "revision": lock.revision if lock else None,
                "run_id": result.run_id,
                "status": str(result.status),
                "error": result.error,
                "model": lock.locked_from.model if lock else None,
                "steps": len(lock.steps) if lock else 0,
                "model_calls": result.model_calls,
            }
        )
    elif lock is not None:
        out.print(
            f"locked {written}: revision {lock.revision}, {len(lock.steps)} steps, "
            f"from run {result.run_id} ({lock.locked_from.model})",
            markup=False,
            soft_wrap=True,
        )
    if lock is None:
        if not as_json:
            reason = for_markup(result.error or "")
            err.print(f"[red]run {result.run_id} failed; no lock written:[/] {reason}")
        sys.exit(1)
