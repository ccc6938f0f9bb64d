"""The lockfile (DESIGN §7): a succeeded run's code, frozen beside the spec as `<spec>.lock`.

The file is YAML meant to be committed and read in code review, so each
step's code is written as a literal block (`|`). A lock is *fresh* iff its
fingerprint equals the current compile's and every step's sha256 matches its
code; anything else is reported with the reason, never silently used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from maisa.errors import LockError, SpecError
from maisa.versions import LOCK_VERSION

if TYPE_CHECKING:
    from maisa.compiler.compiled import CompiledWorker
    from maisa.specs.model import WorkerSpec


Locator = Callable[[tuple[Any, ...]], tuple[int, int]]


class NewerLockError(LockError):
    """The lock was written by a newer maisa: never use it, never overwrite it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LockedWorker(_Strict):
    name: str
    version: int = Field(ge=1)


class LockedFrom(_Strict):
    """Provenance: which run produced the code, with which model, when (UTC)."""

    run: int | None
    model: str
    at: datetime

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LockedStep(_Strict):
    number: int = Field(ge=1)
    description: str
    code: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Lock(_Strict):
    """A lockfile's content, exactly the DESIGN §7 format."""

    lock_version: int = Field(ge=1, le=LOCK_VERSION, strict=True)
    worker: LockedWorker
    fingerprint: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    revision: int = Field(ge=1)
    locked_from: LockedFrom
    steps: list[LockedStep] = Field(min_length=1)


class StepLike(Protocol):
    """What a lock freezes from a run: the orchestrator's FrozenStep has these fields."""

    number: int
    description: str
    code: str


def code_sha256(code: str) -> str:
    """The hex sha256 of a step's code (UTF-8), as stored in the lock and the Chain-of-Work."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def lock_path(spec_path: Path | str) -> Path:
    """The lock beside a spec: `worker.yaml` -> `worker.lock`."""
    return Path(spec_path).with_suffix(".lock")


# --- reading -------------------------------------------------------------------------------


def read_lock(path: Path | str) -> Lock:
    """Read and validate a lockfile. Every problem is a LockError naming path:line:col."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"{path}: no lockfile", hint=_relock_hint(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: cannot read the lockfile: {exc}") from None
    return parse_lock(text, path)


def parse_lock(text: str, path: Path | str = "<lock>") -> Lock:
    """Parse a lockfile's text (see read_lock)."""
    fast = _fast_mapping(text)
    if fast is None:  # something is off: the located loader says what, and where
        data, locate = _load_mapping(text, path)
    else:
        data = fast

        def locate(loc: tuple[Any, ...]) -> tuple[int, int]:
            return _load_mapping(text, path)[1](loc)

    version = data.get("lock_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
        line, col = locate(("lock_version",))
        raise NewerLockError(
            f"{path}:{line}:{col}: lock_version {version} is newer than this maisa understands "
            f"(up to {LOCK_VERSION})",
            hint="upgrade maisa (pip install -U maisa) to use this lockfile",
        )
    try:
        lock = Lock.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line, col = locate(tuple(error["loc"]))
            where = ".".join(str(p) for p in error["loc"]) or "(top level)"
            problems.append(f"{path}:{line}:{col}: {where}: {error['msg']}")
        raise LockError("\n".join(problems), hint=_relock_hint(path)) from None
    return lock


def _fast_mapping(text: str) -> dict[str, Any] | None:
    """The lock's data through libyaml when it is a clean mapping (no duplicate keys), else None.

    Every run reads the lock, so the common case skips the slower located loader,
    which is only needed to place an error.
    """
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if not isinstance(root, yaml.MappingNode):
            return None
        for node in _mappings(root):
            keys = [key.value for key, _ in node.value]
            if len(keys) != len(set(keys)) or any(k == "<<" for k in keys):
                return None
        data = loader.construct_document(root)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return data if isinstance(data, dict) else None


def _load_mapping(text: str, path: Path | str) -> tuple[dict[str, Any], Locator]:
    """YAML -> (mapping, locate), duplicate keys refused, errors as LockError at line:col."""
    from maisa.specs.loader import load_yaml_mapping

    try:
        return load_yaml_mapping(Path(path), text)
    except SpecError as exc:
        raise LockError(exc.message, hint=_relock_hint(path)) from None


def _mappings(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        yield node
        for _, value in node.value:
            yield from _mappings(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _mappings(item)


def _relock_hint(path: Path | str) -> str:
    spec = Path(path).with_suffix(".yaml")
    return f"re-lock with: maisa lock {spec} --input NAME=VALUE ..."


# --- writing -------------------------------------------------------------------------------


class _LockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so a locked step's code diffs readably in git."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML silently falls back to a quoted style when a literal block cannot hold the
    # text exactly (e.g. trailing spaces); the round trip stays exact either way.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_datetime(dumper: yaml.SafeDumper, value: datetime) -> yaml.ScalarNode:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", text)


_LockDumper.add_representer(str, _represent_str)
_LockDumper.add_representer(datetime, _represent_datetime)


def dump_lock(lock: Lock) -> str:
    """The lockfile text: keys in the DESIGN §7 order, code as literal blocks."""
    data = lock.model_dump(mode="python")
    return yaml.dump(
        data, Dumper=_LockDumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )


def write_lock(path: Path | str, lock: Lock) -> Path:
    """Write atomically: a temp file in the same directory, fsync, then os.replace."""
    path = Path(path)
    text = dump_lock(lock)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, harmless to skip.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- making --------------------------------------------------------------------------------


class RunLike(Protocol):
    """What a lock needs of a run's result: the orchestrator's RunResult has these."""

    run_id: int
    steps: Sequence[StepLike]


def make_lock(
    compiled: CompiledWorker,
    result: RunLike,
    previous: Lock | None,
    model_name: str,
    *,
    now: datetime | None = None,
) -> Lock:
    """A new lock from the steps a run accepted; revision = previous + 1, or 1."""
    steps = list(result.steps)
    at = now or datetime.now(UTC)
    if not steps:
        raise LockError("cannot lock a run that accepted no steps")
    return Lock(
        lock_version=LOCK_VERSION,
        worker=LockedWorker(name=compiled.spec.name, version=compiled.spec.version),
        fingerprint=compiled.fingerprint,
        revision=(previous.revision + 1) if previous else 1,
        locked_from=LockedFrom(run=result.run_id, model=model_name, at=at.replace(microsecond=0)),
        steps=[
            LockedStep(
                number=step.number,
                description=step.description,
                code=step.code,
                sha256=code_sha256(step.code),
            )
            for step in steps
        ],
    )


# --- freshness -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """Whether a lock may be replayed for a compile, and if not, every reason why."""

    stale: list[str] = field(default_factory=list)  # the lock was made for another compile
    tampered: list[int] = field(default_factory=list)  # steps whose code != their sha256

    @property
    def fresh(self) -> bool:
        return not self.stale and not self.tampered

    @property
    def reasons(self) -> list[str]:
        """One human sentence per problem."""
        out = list(self.stale)
        out += [
            f"step {n}'s code does not match its sha256 (edited by hand?)" for n in self.tampered
        ]
        return out

    @property
    def kind(self) -> str:
        """'fresh', 'stale' or 'tampered' (tampering wins: it is the more serious finding)."""
        if self.tampered:
            return "tampered"
        return "stale" if self.stale else "fresh"

    def describe(self) -> str:
        return "fresh" if self.fresh else f"{self.kind}: " + "; ".join(self.reasons)


def freshness(
    lock: Lock, compiled: CompiledWorker, *, recorded_spec: WorkerSpec | None = None
) -> Freshness:
    """Compare a lock with the current compile; say what changed when it can be told.

    `recorded_spec` is the spec as the store recorded it for the run that made the
    lock (when known): with it, a stale lock names the spec fields that changed, or
    says the spec did not change at all.
    """
    stale: list[str] = []
    spec = compiled.spec
    if lock.fingerprint != compiled.fingerprint:
        details = _what_changed(lock, compiled, recorded_spec)
        stale.append(
            "the worker's fingerprint changed since it was locked"
            + (f" ({'; '.join(details)})" if details else " (spec, tools, templates or harness)")
        )
    elif lock.worker.name != spec.name or lock.worker.version != spec.version:
        stale.append(
            f"the lock is for {lock.worker.name} v{lock.worker.version}, "
            f"the spec is {spec.name} v{spec.version}"
        )
    tampered = [s.number for s in lock.steps if code_sha256(s.code) != s.sha256]
    numbers = [s.number for s in lock.steps]
    if numbers != list(range(1, len(numbers) + 1)):
        stale.append(f"the lock's steps are numbered {numbers}, expected 1..{len(numbers)}")
    return Freshness(stale=stale, tampered=tampered)


def _what_changed(
    lock: Lock, compiled: CompiledWorker, recorded_spec: WorkerSpec | None
) -> list[str]:
    # The fingerprint is one hash: only what the lock (and the recorded spec) hold compares.
    spec = compiled.spec
    details = []
    if recorded_spec is not None:
        before = recorded_spec.model_dump(mode="json", by_alias=True)
        after = spec.model_dump(mode="json", by_alias=True)
        fields = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        if not fields:
            return [
                f"the spec is as it was in run {lock.locked_from.run}: a tool, a prompt "
                "template, the allowed imports or the maisa harness changed"
            ]
        details.append(f"spec fields changed since run {lock.locked_from.run}: {', '.join(fields)}")
    else:
        if lock.worker.name != spec.name:
            details.append(f"name {lock.worker.name!r} -> {spec.name!r}")
        if lock.worker.version != spec.version:
            details.append(f"version {lock.worker.version} -> {spec.version}")
    for step in lock.steps:
        index = step.number - 1
        if 0 <= index < len(compiled.plan) and compiled.plan[index] != step.description:
            details.append(f"plan step {step.number} now reads {compiled.plan[index]!r}")
    return details


def lock_content(lock: Lock) -> dict[str, Any]:
    """The lock as plain JSON-able data (for --json output)."""
    return lock.model_dump(mode="json")
