"""Re-executing a recorded run's accepted steps and comparing them with the Chain-of-Work.

`maisa replay RUN` answers "does this code still do what the record says?":
each accepted step (the attempt of each step number that ended OK) runs again
in a fresh sandbox session with the run's recorded inputs and the spec's
tools, and its stdout, variables and (for the last) finish() result are
compared with what was recorded. `--step N` runs only step N, after restoring
the recorded variables from before it with `Session.set_variables`.

Tools run for real: a replayed `db.execute` writes again. Non-JSON variables
(bytes, objects) are recorded as their repr, so they cannot be restored; for
those, `rebuild=True` re-runs the steps before N (unreported) instead.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maisa.errors import MaisaError, SpecError, UsageError
from maisa.sandbox.base import StepOutcome
from maisa.store.base import Store
from maisa.store.records import RunRecord, StepRecord
from maisa.store.redact import Redactor

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# A recorded string that is probably the repr of a value that was not JSON.
_LOOKS_LIKE_REPR = re.compile(r"^(b['\"]|<.*>$|[A-Za-z_][\w.]*\(.*\)$)", re.DOTALL)
DIFF_LINES = 20


@dataclass
class StepComparison:
    """One replayed step against its record."""

    number: int
    description: str
    status: str  # the replay's StepStatus value
    stdout_matches: bool
    variables_matches: bool
    result_matches: bool | None = None  # None when the step did not call finish()
    stdout_diff: list[str] = field(default_factory=list)
    variable_diffs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def matches(self) -> bool:
        return (
            self.status == "OK"
            and self.stdout_matches
            and self.variables_matches
            and self.result_matches is not False
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "description": self.description,
            "matches": self.matches,
            "status": self.status,
            "stdout_matches": self.stdout_matches,
            "variables_matches": self.variables_matches,
            "result_matches": self.result_matches,
            "stdout_diff": self.stdout_diff,
            "variable_diffs": self.variable_diffs,
            "error": self.error,
        }


@dataclass
class ReplayReport:
    """Every replayed step of one run, and notes for the reader."""

    run_id: int
    worker: str
    steps: list[StepComparison]
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return bool(self.steps) and all(step.matches for step in self.steps)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "worker": self.worker,
            "matches": self.matches,
            "steps": [s.as_json() for s in self.steps],
            "notes": self.notes,
        }


def accepted_steps(run: RunRecord) -> list[StepRecord]:
    """For each step number, the attempt that ended OK (the one later steps built on)."""
    accepted: dict[int, StepRecord] = {}
    for step in run.steps:
        if step.status == "OK":
            accepted[step.number] = step
    return [accepted[n] for n in sorted(accepted)]


def replay_run(
    store: Store,
    run_id: int,
    *,
    step: int | None = None,
    sandbox: str | None = None,
    spec_path: Path | None = None,
    rebuild: bool = False,
) -> ReplayReport:
    """Replay run `run_id` (or only its step `step`) and compare with the record."""
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"no run {run_id} in the store", hint="list runs with: maisa runs")
    steps = accepted_steps(run)
    if not steps:
        raise UsageError(f"run {run_id} has no accepted step to replay (status {run.status})")
    if step is not None and step not in {s.number for s in steps}:
        numbers = ", ".join(str(s.number) for s in steps)
        raise UsageError(f"run {run_id} has no accepted step {step}; accepted: {numbers}")
    compiled, notes = _compile_recorded(store, run, spec_path)
    with _RunSession(compiled, run, sandbox) as session:
        targets = steps if step is None else [s for s in steps if s.number == step]
        if step is not None:
            before = [s for s in steps if s.number < step]
            notes += _prepare(session, targets[0], before, rebuild)
        comparisons = [_compare(session, record, run) for record in targets]
    if step is not None and not comparisons[0].matches and not rebuild:
        restored = _previous_variables(targets[0], [s for s in steps if s.number < step])
        suspects = [name for name, value in restored.items() if _looks_like_repr(value)]
        if suspects:
            notes.append(
                f"variables {', '.join(sorted(suspects))} were recorded as reprs and restored "
                "as strings; try --rebuild to recreate them by re-running the earlier steps"
            )
    return ReplayReport(run_id=run.id, worker=run.worker_name, steps=comparisons, notes=notes)


def _compile_recorded(store: Store, run: RunRecord, spec_path: Path | None) -> tuple[Any, list]:
    """The run's spec, compiled: the file given, else the text the store recorded."""
    from maisa.compiler import compile_spec
    from maisa.specs.loader import load_spec_text

    worker = store.get_worker(run.worker_id)
    if worker is None:
        raise UsageError(f"run {run.id}'s worker ({run.worker_id}) is not in the store")
    notes: list[str] = []
    try:
        if spec_path is not None:
            compiled = compile_spec(spec_path)
        else:
            # The recorded text is the truth; a path is needed only to find custom tool
            # modules, which live beside the spec: use a spec of that name found on disk.
            home = find_spec_named(worker.name, Path.cwd()) or Path.cwd() / f"{worker.name}.yaml"
            compiled = compile_spec(load_spec_text(worker.spec, home))
    except SpecError as exc:
        if spec_path is not None:
            raise
        raise SpecError(
            exc.problems,
            hint="pass the spec file with --spec PATH so its custom tools can be found",
        ) from None
    if compiled.spec.name != worker.name:
        raise UsageError(
            f"{spec_path} is the spec of worker {compiled.spec.name!r}, "
            f"but run {run.id} is of worker {worker.name!r}",
            hint=f"pass the spec of {worker.name!r}, or leave out --spec to use the recorded one",
        )
    if compiled.fingerprint != worker.fingerprint:
        notes.append(
            f"the worker's fingerprint changed since run {run.id} "
            f"({worker.fingerprint[:19]}... -> {compiled.fingerprint[:19]}...): "
            "the tools, templates or spec differ from the recorded ones"
        )
    return compiled, notes


_SKIP_DIRS = {".git", ".maisa", "node_modules", "__pycache__", ".venv", "venv"}


def find_spec_named(name: str, root: Path, depth: int = 4) -> Path | None:
    """A worker spec under `root` (a few levels deep) whose `name:` is `name`, if any."""
    pattern = re.compile(rf"^name:\s*[\"']?{re.escape(name)}[\"']?\s*(#.*)?$", re.MULTILINE)
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return None
    for entry in entries:
        if entry.suffix in (".yaml", ".yml") and entry.is_file():
            try:
                text = entry.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if pattern.search(text) and re.search(r"^kind:\s*[\"']?Worker", text, re.MULTILINE):
                return entry
    if depth > 0:
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink() and entry.name not in _SKIP_DIRS:
                found = find_spec_named(name, entry, depth - 1)
                if found is not None:
                    return found
    return None


class _RunSession:
    """A fresh sandbox session with the run's inputs and the spec's tools (a context manager)."""

    def __init__(self, compiled: Any, run: RunRecord, sandbox: str | None) -> None:
        self.compiled = compiled
        self.run = run
        self.sandbox_name = sandbox
        self.redactor = Redactor.from_environ()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._session: Any = None
        self._tools: Any = None

    def __enter__(self) -> _RunSession:
        from maisa.compiler.schemas import file_fields
        from maisa.runtime.session import build_run_tools, read_secrets
        from maisa.sandbox.registry import get_sandbox

        compiled = self.compiled
        secrets = read_secrets(compiled)
        self.redactor.add(list(secrets.values()))  # as the store did when it recorded the run
        files = [self.run.input.get(name) for name in file_fields(compiled.input_schema)]
        missing = [str(f) for f in files if isinstance(f, str) and not Path(f).is_file()]
        if missing:
            raise UsageError(
                f"run {self.run.id}'s file inputs no longer exist: {', '.join(missing)}"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix=f"maisa-replay-{self.run.id}-")
        workspace = Path(self._tmp.name)
        try:
            self._tools = build_run_tools(compiled, self.run.input, workspace, secrets)
            sandbox = get_sandbox(self.sandbox_name)
            self._session = sandbox.open(compiled.spec.limits, workspace, self._tools.broker)
            self._session.set_variables({"inputs": self.run.input})
        except BaseException:
            self.__exit__()  # nothing half-open survives a failed start
            raise
        return self

    def run_step(self, code: str) -> StepOutcome:
        outcome = self._session.run(code, self.compiled.spec.limits.step_timeout)
        self._tools.broker.take_calls()
        return outcome

    def set_variables(self, variables: dict[str, Any]) -> None:
        self._session.set_variables(variables)

    def __exit__(self, *exc: object) -> None:
        try:
            if self._session is not None:
                self._session.close()
            if self._tools is not None:
                self._tools.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()


def _prepare(
    session: _RunSession, target: StepRecord, before: list[StepRecord], rebuild: bool
) -> list[str]:
    """Bring the session to the state before `target`: rebuilt by re-running, or restored."""
    if rebuild:
        for record in before:
            outcome = session.run_step(record.code)
            if not outcome.ok:
                raise MaisaError(
                    f"rebuilding: step {record.number} failed ({outcome.status}): "
                    f"{(outcome.error or '').strip()[-500:]}"
                )
        return [f"steps {', '.join(str(s.number) for s in before)} re-run to rebuild the state"]
    variables = _previous_variables(target, before)
    variables.pop("inputs", None)  # already bound from the run's recorded input
    if variables:
        session.set_variables(variables)
    return []


def _previous_variables(target: StepRecord, before: list[StepRecord]) -> dict[str, Any]:
    if target.variables_in:
        return dict(target.variables_in)
    return dict(before[-1].variables_out) if before else {}


def _compare(session: _RunSession, record: StepRecord, run: RunRecord) -> StepComparison:
    outcome = session.run_step(record.code)
    redact = session.redactor
    stdout = redact.text(outcome.stdout)
    variables = _normalise(redact.value(outcome.variables))
    recorded_vars = _normalise(record.variables_out)
    result_matches = None
    if outcome.finished:
        result_matches = _normalise(redact.value(outcome.result)) == _normalise(run.result)
    return StepComparison(
        number=record.number,
        description=record.description,
        status=str(outcome.status),
        stdout_matches=stdout == record.stdout,
        variables_matches=variables == recorded_vars,
        result_matches=result_matches,
        stdout_diff=_diff(record.stdout, stdout),
        variable_diffs=_variable_diffs(recorded_vars, variables),
        error=(outcome.error or None) if not outcome.ok else None,
    )


def _normalise(value: Any) -> Any:
    """Drop what legitimately differs between two executions: object addresses in reprs."""
    if isinstance(value, str):
        return _ADDRESS.sub("", value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def _diff(recorded: str, replayed: str) -> list[str]:
    if recorded == replayed:
        return []
    lines = list(
        difflib.unified_diff(
            recorded.splitlines(),
            replayed.splitlines(),
            "recorded",
            "replayed",
            lineterm="",
            n=1,
        )
    )
    return lines[:DIFF_LINES] + (
        [f"... ({len(lines) - DIFF_LINES} more lines)"] if len(lines) > DIFF_LINES else []
    )


def _variable_diffs(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    diffs = []
    for name in sorted(set(recorded) | set(replayed)):
        if name not in replayed:
            diffs.append(f"{name}: recorded but not set by the replay")
        elif name not in recorded:
            diffs.append(f"{name}: set by the replay but not recorded")
        elif recorded[name] != replayed[name]:
            diffs.append(
                f"{name}: recorded {_short(recorded[name])}, replayed {_short(replayed[name])}"
            )
    return diffs


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _looks_like_repr(value: Any) -> bool:
    return isinstance(value, str) and bool(_LOOKS_LIKE_REPR.match(value))
