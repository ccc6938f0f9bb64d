"""Loading a worker spec from YAML, with every problem located as `file:line:col`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from maisa.errors import SpecError, SpecProblem
from maisa.specs.checks import check_spec_data
from maisa.specs.located_yaml import Locator, YamlProblems, load_located
from maisa.specs.messages import FieldError, translate
from maisa.specs.model import WorkerSpec

SPEC_HINT = "fix the problems above; `maisa schema` prints the full spec format"


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, the resolved path it came from, and its exact text."""

    spec: WorkerSpec
    path: Path
    text: str

    @property
    def spec_dir(self) -> Path:
        return self.path.parent


def _read(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecProblem(display, 1, 1, "file not found")]) from None
    except IsADirectoryError:
        raise SpecError([SpecProblem(display, 1, 1, "is a directory, not a file")]) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
        raise SpecError([SpecProblem(display, 1, 1, message)]) from None
    except OSError as exc:
        raise SpecError([SpecProblem(display, 1, 1, f"cannot read: {exc.strerror}")]) from None


def load_yaml_mapping(path: Path | str, text: str | None = None) -> tuple[dict[str, Any], Locator]:
    """A YAML file whose top level is a mapping, plus a locator `loc -> (line, col)`.

    Duplicate keys, syntax errors and a non-mapping document raise `SpecError`.
    Reusable for any maisa YAML file (specs, lockfiles).
    """
    display = str(path)
    if text is None:
        text = _read(Path(path), display)
    data, locate, problems = _parse(text, display)
    if problems:
        raise SpecError(sorted(problems, key=lambda p: (p.line, p.column)))
    return data, locate


def _parse(text: str, display: str) -> tuple[dict[str, Any], Locator, list[SpecProblem]]:
    try:
        data, locate, problems = load_located(text, display)
    except YamlProblems as exc:
        raise SpecError(exc.problems) from None
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "nothing"
        raise SpecError([SpecProblem(display, 1, 1, f"expected a mapping of keys, got {found}")])
    return data, locate, problems


def _locate(error: FieldError, locate: Locator, display: str) -> SpecProblem:
    line, column = locate.key(error.loc) if error.at_key else locate(error.loc)
    return SpecProblem(display, line, column, error.message)


def load_spec_text(text: str, path: Path | str) -> LoadedSpec:
    """Validate spec `text` as if read from `path` (custom tool modules resolve beside it)."""
    display = str(path)
    resolved = Path(path).resolve()
    data, locate, problems = _parse(text, display)
    errors: list[FieldError] = []
    spec: WorkerSpec | None = None
    try:
        # Strict: YAML already types its scalars, so `version: "2"` is a mistake, not a 2.
        spec = WorkerSpec.model_validate(data, strict=True)
    except ValidationError as exc:
        errors += translate(exc, data, WorkerSpec)
    errors += check_spec_data(data, resolved.parent)
    problems += [_locate(e, locate, display) for e in errors]
    if problems or spec is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise SpecError(problems, hint=SPEC_HINT)
    return LoadedSpec(spec=spec, path=resolved, text=text)


def load_spec(path: Path | str) -> LoadedSpec:
    """Load and validate the worker spec at `path`; raises `SpecError` with every problem."""
    display = str(path)
    return load_spec_text(_read(Path(path), display), display)
