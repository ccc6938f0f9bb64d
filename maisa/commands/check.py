"""`maisa check [PATHS...]`: for CI, every worker spec valid and every lock fresh and sound.

Exit codes: 0 when there is no problem; 2 when any spec is invalid (a lock
cannot be judged against a spec that does not compile, so spec problems take
precedence even when other workers have lock problems); otherwise 3 when any
lock is missing, stale, tampered, unreadable or holds code the validator
refuses.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup
from maisa.errors import LockError, MaisaError, SpecError, UsageError

if TYPE_CHECKING:
    from maisa.compiler.compiled import CompiledWorker

# Directories never searched: VCS data, maisa's own state, environments, caches.
SKIP_DIRS = {".git", ".hg", ".svn", ".maisa", "node_modules", "__pycache__", ".venv", "venv"}
_WORKER_KIND = re.compile(r"^kind:\s*[\"']?Worker[\"']?\s*(#.*)?$", re.MULTILINE)


@dataclass
class WorkerCheck:
    """What `check` found for one spec: its problems, as `path: problem` lines."""

    spec: Path
    lock: Path
    spec_problems: list[str] = field(default_factory=list)
    lock_problems: list[str] = field(default_factory=list)
    lock_revision: int | None = None

    @property
    def ok(self) -> bool:
        return not self.spec_problems and not self.lock_problems

    def as_json(self) -> dict[str, object]:
        return {
            "spec": str(self.spec),
            "lock": str(self.lock),
            "ok": self.ok,
            "lock_revision": self.lock_revision,
            "spec_problems": self.spec_problems,
            "lock_problems": self.lock_problems,
        }


def find_specs(paths: list[Path]) -> list[Path]:
    """Worker specs named or found under `paths`: YAML files whose top level has kind: Worker."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in _yaml_files(path) if _looks_like_worker(p)]
        else:
            raise UsageError(f"{path}: no such file or directory")
    unique = dict.fromkeys(p.resolve() for p in found)
    return sorted(unique, key=str)


def _yaml_files(root: Path) -> list[Path]:
    files = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                files += _yaml_files(entry)
        elif entry.suffix in (".yaml", ".yml") and entry.is_file():
            files.append(entry)
    return files


def _looks_like_worker(path: Path) -> bool:
    # A text match, not a YAML parse, so a spec too broken to parse is still found and reported.
    try:
        return bool(_WORKER_KIND.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def check_worker(spec_path: Path) -> WorkerCheck:
    """Check one spec and its lock; never raises for a problem in them."""
    from maisa.compiler import compile_spec
    from maisa.runtime.lockfile import lock_path, read_lock
    from maisa.runtime.modes import explained_freshness

    result = WorkerCheck(spec=_shown(spec_path), lock=_shown(lock_path(spec_path)))
    lock = result.lock
    try:
        compiled = compile_spec(result.spec)
    except SpecError as exc:
        result.spec_problems = [str(problem) for problem in exc.problems]
        return result
    except MaisaError as exc:
        result.spec_problems = [f"{result.spec}: {exc.message}"]
        return result
    if not lock.exists():
        result.lock_problems = [f"{result.lock}: missing (re-lock with: {_relock(compiled)})"]
        return result
    try:
        locked = read_lock(lock)
    except LockError as exc:
        result.lock_problems = [_prefixed(result.lock, line) for line in exc.message.splitlines()]
        return result
    result.lock_revision = locked.revision
    state = explained_freshness(locked, compiled)
    result.lock_problems = [f"{result.lock}: {state.kind}: {reason}" for reason in state.reasons]
    for step in locked.steps:
        for message in validate_locked_code(compiled, step.code):
            result.lock_problems.append(
                f"{result.lock}: step {step.number}: refused by the validator: {message}"
            )
    return result


def validate_locked_code(compiled: CompiledWorker, code: str) -> list[str]:
    """The runtime validator's rejections of one locked step (empty when it passes)."""
    from maisa.runtime.validate import validate_step

    return [str(problem) for problem in validate_step(code, compiled, inputs={})]


def _relock(compiled: CompiledWorker) -> str:
    from maisa.runtime.modes import relock_hint

    return relock_hint(compiled).removeprefix("re-lock with: ")


def _prefixed(lock: Path, line: str) -> str:
    # LockError lines usually start with the lock's own path:line:col already.
    return line if line.startswith(str(lock)) else f"{lock}: {line}"


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
def check_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check worker specs and their locks, for CI.

    Every spec under PATHS (default: the current directory) must be valid, its
    lock present, fresh and untampered, and every locked step must pass the
    validator. One line per problem; exit 0 only when there is none
    (2: an invalid spec, 3: a lock problem).
    """
    specs = find_specs(list(paths) or [Path(".")])
    if not specs:
        where = ", ".join(str(p) for p in paths) or "the current directory"
        raise UsageError(f"no worker specs (YAML with kind: Worker) found under {where}")
    checks = [check_worker(spec) for spec in specs]
    problems = [line for c in checks for line in c.spec_problems + c.lock_problems]
    code = 2 if any(c.spec_problems for c in checks) else 3 if problems else 0
    if as_json:
        emit_json(
            {
                "ok": code == 0,
                "exit_code": code,
                "problems": problems,
                "workers": [c.as_json() for c in checks],
            }
        )
    else:
        for line in problems:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        for c in checks:
            mark = "[green]ok[/]" if c.ok else "[red]FAIL[/]"
            revision = f" (lock revision {c.lock_revision})" if c.lock_revision else ""
            err.print(f"{mark} {for_markup(c.spec)}{revision}")
        bad = sum(not c.ok for c in checks)
        err.print(
            f"{len(checks)} worker(s) checked, {bad} with problems, {len(problems)} problem(s)"
        )
    # sys.exit, not ctx.exit: maisa.cli.main runs click with standalone_mode=False,
    # which turns ctx.exit's code into a return value that main() drops.
    sys.exit(code)
