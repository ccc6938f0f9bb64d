"""Run modes (DESIGN §7): which mode a run takes from `--lock` and the lockfile, and re-locking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maisa.compiler import compile_spec
from maisa.compiler.compiled import CompiledWorker
from maisa.errors import LockError, UsageError
from maisa.runtime.lockfile import code_sha256, lock_path, make_lock, read_lock, write_lock
from maisa.runtime.modes import after_run, plan_run
from maisa.runtime.orchestrator import FrozenStep
from maisa.store.records import LockRecord, RunMode, RunStatus

SPEC = """\
apiVersion: maisa/v1
kind: Worker
name: greeter
goal: Greet the person named in the input.
inputs:
  who: {type: string}
outputs:
  greeting: {type: string}
steps:
  - Build the greeting
  - Finish with it
"""
STEPS = [
    FrozenStep(number=1, description="Build the greeting", code="g = 'Hello ' + inputs['who']\n"),
    FrozenStep(number=2, description="Finish with it", code="finish({'greeting': g})\n"),
]


@dataclass
class Result:
    """The fields of the orchestrator's RunResult that after_run reads."""

    run_id: int
    status: RunStatus
    mode: RunMode
    steps: list[FrozenStep] = field(default_factory=lambda: list(STEPS))
    model_name: str = "scripted"


class LockShelf:
    """The store's locks table, the only part of the Store after_run touches."""

    def __init__(self) -> None:
        self.saved: list[LockRecord] = []

    def save_lock(self, lock: LockRecord) -> None:
        self.saved.append(lock)

    def get_lock(self, worker_name: str, revision: int | None = None) -> LockRecord | None:
        mine = [r for r in self.saved if r.worker_name == worker_name]
        return max(mine, key=lambda r: r.revision) if mine else None


@pytest.fixture
def compiled(tmp_path: Path) -> CompiledWorker:
    spec = tmp_path / "worker.yaml"
    spec.write_text(SPEC)
    return compile_spec(spec)


def locked(compiled: CompiledWorker, revision: int = 1) -> Path:
    lock = make_lock(compiled, Result(1, RunStatus.SUCCEEDED, RunMode.GENERATED), None, "m")
    return write_lock(lock_path(compiled.spec_path), lock.model_copy(update={"revision": revision}))


def written(path: Path | None) -> Path:
    assert path is not None, "after_run wrote no lock"
    return path


def tamper(path: Path) -> None:
    path.write_text(path.read_text().replace("'Hello '", "'Bye '"))


def edit_spec(compiled: CompiledWorker) -> CompiledWorker:
    compiled.spec_path.write_text(SPEC.replace("Greet the person", "Warmly greet the person"))
    return compile_spec(compiled.spec_path)


# --- plan_run ------------------------------------------------------------------------------


def test_auto_without_a_lock_generates_and_will_lock(compiled: CompiledWorker) -> None:
    plan = plan_run(compiled, lock="auto")
    assert (plan.mode, plan.frozen, plan.write_lock, plan.lock) == (
        RunMode.GENERATED,
        [],
        True,
        None,
    )


def test_auto_with_a_fresh_lock_replays_its_steps(compiled: CompiledWorker) -> None:
    locked(compiled, revision=3)
    plan = plan_run(compiled, lock="auto")
    assert plan.mode is RunMode.LOCKED and plan.lock_revision == 3 and not plan.heal
    assert plan.frozen == STEPS


@pytest.mark.parametrize("damage", ["stale", "tampered"])
def test_auto_with_an_unusable_lock_generates_and_keeps_it_as_the_revision_base(
    compiled: CompiledWorker, damage: str
) -> None:
    path = locked(compiled, revision=2)
    if damage == "tampered":
        tamper(path)
    else:
        compiled = edit_spec(compiled)
    plan = plan_run(compiled, lock="auto")
    assert plan.mode is RunMode.GENERATED and plan.frozen == []
    assert plan.lock is not None and plan.lock.revision == 2
    assert damage in plan.reason


@pytest.mark.parametrize("choice", ["locked", "heal"])
def test_locked_and_heal_refuse_a_missing_lock_with_exit_3_and_the_relock_command(
    compiled: CompiledWorker, choice: str
) -> None:
    with pytest.raises(LockError) as caught:
        plan_run(compiled, lock=choice)
    assert caught.value.exit_code == 3
    assert "does not exist" in caught.value.message
    assert caught.value.hint and "maisa lock" in caught.value.hint
    assert "--input who=" in caught.value.hint


@pytest.mark.parametrize("choice", ["locked", "heal"])
def test_locked_and_heal_refuse_a_stale_lock_saying_why(
    compiled: CompiledWorker, choice: str
) -> None:
    locked(compiled)
    with pytest.raises(LockError) as caught:
        plan_run(edit_spec(compiled), lock=choice)
    assert "is stale" in caught.value.message and "fingerprint changed" in caught.value.message


@pytest.mark.parametrize("choice", ["locked", "heal"])
def test_locked_and_heal_refuse_a_tampered_lock_naming_the_step(
    compiled: CompiledWorker, choice: str
) -> None:
    tamper(locked(compiled))
    with pytest.raises(LockError) as caught:
        plan_run(compiled, lock=choice)
    assert "is tampered" in caught.value.message and "step 1's code" in caught.value.message


def test_heal_replays_a_fresh_lock_and_allows_regeneration(compiled: CompiledWorker) -> None:
    locked(compiled)
    plan = plan_run(compiled, lock="heal")
    assert plan.mode is RunMode.LOCKED and plan.heal and plan.frozen == STEPS


def test_none_ignores_even_a_fresh_lock_and_will_not_write_one(compiled: CompiledWorker) -> None:
    locked(compiled)
    plan = plan_run(compiled, lock="none")
    assert plan.mode is RunMode.GENERATED and plan.frozen == [] and not plan.write_lock


def test_an_unreadable_lock_is_never_overwritten_by_auto(compiled: CompiledWorker) -> None:
    path = lock_path(compiled.spec_path)
    path.write_text("lock_version: 99\n")
    with pytest.raises(LockError, match="newer"):
        plan_run(compiled, lock="auto")
    assert path.read_text() == "lock_version: 99\n"


def test_an_unknown_choice_is_a_usage_error(compiled: CompiledWorker) -> None:
    with pytest.raises(UsageError):
        plan_run(compiled, lock="sometimes")


# --- after_run -----------------------------------------------------------------------------


def test_a_succeeded_generated_run_writes_revision_1_and_records_it(
    compiled: CompiledWorker,
) -> None:
    shelf = LockShelf()
    plan = plan_run(compiled, lock="auto")
    path = after_run(compiled, plan, Result(7, RunStatus.SUCCEEDED, RunMode.GENERATED), shelf)
    lock = read_lock(written(path))
    assert (lock.revision, lock.locked_from.run, lock.locked_from.model) == (1, 7, "scripted")
    assert [s.sha256 for s in lock.steps] == [code_sha256(s.code) for s in STEPS]
    assert [(r.worker_name, r.revision, r.source_run) for r in shelf.saved] == [("greeter", 1, 7)]
    assert shelf.saved[0].content == written(path).read_text()
    assert shelf.saved[0].fingerprint == compiled.fingerprint


def test_relocking_a_stale_lock_writes_the_next_revision(compiled: CompiledWorker) -> None:
    locked(compiled, revision=4)
    compiled = edit_spec(compiled)
    plan = plan_run(compiled, lock="auto")
    path = after_run(compiled, plan, Result(8, RunStatus.SUCCEEDED, RunMode.GENERATED), None)
    lock = read_lock(written(path))
    assert lock.revision == 5 and lock.fingerprint == compiled.fingerprint


def test_the_revision_also_follows_the_store_when_the_file_was_deleted(
    compiled: CompiledWorker,
) -> None:
    shelf = LockShelf()
    shelf.save_lock(LockRecord("greeter", "sha256:" + "0" * 64, 6, "...", 3))
    plan = plan_run(compiled, lock="auto")
    path = after_run(compiled, plan, Result(9, RunStatus.SUCCEEDED, RunMode.GENERATED), shelf)
    assert read_lock(written(path)).revision == 7


def test_a_healed_run_writes_revision_plus_one(compiled: CompiledWorker) -> None:
    locked(compiled, revision=2)
    plan = plan_run(compiled, lock="heal")
    result = Result(10, RunStatus.SUCCEEDED, RunMode.HEALED)
    assert read_lock(written(after_run(compiled, plan, result, None))).revision == 3


@pytest.mark.parametrize(
    ("choice", "status", "mode"),
    [
        ("auto", RunStatus.FAILED, RunMode.GENERATED),  # failed runs freeze nothing
        ("heal", RunStatus.SUCCEEDED, RunMode.LOCKED),  # heal that needed no model
        ("locked", RunStatus.SUCCEEDED, RunMode.LOCKED),  # replay only
        ("none", RunStatus.SUCCEEDED, RunMode.GENERATED),  # --no-lock
    ],
)
def test_runs_that_must_not_touch_the_lock_leave_it_byte_identical(
    compiled: CompiledWorker, choice: str, status: RunStatus, mode: RunMode
) -> None:
    path = locked(compiled)
    before = path.read_bytes()
    plan = plan_run(compiled, lock=choice)
    shelf = LockShelf()
    assert after_run(compiled, plan, Result(11, status, mode), shelf) is None
    assert path.read_bytes() == before and shelf.saved == []


def test_runs_finishing_at_once_get_distinct_consecutive_revisions(
    compiled: CompiledWorker,
) -> None:
    shelf = LockShelf()
    plan = plan_run(compiled, lock="auto")
    results = [Result(n, RunStatus.SUCCEEDED, RunMode.GENERATED) for n in range(1, 9)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: after_run(compiled, plan, r, shelf), results))
    assert sorted(r.revision for r in shelf.saved) == list(range(1, 9))
    assert read_lock(lock_path(compiled.spec_path)).revision == 8


def test_a_lock_replaced_by_a_newer_maisa_during_the_run_is_not_overwritten(
    compiled: CompiledWorker,
) -> None:
    plan = plan_run(compiled, lock="auto")
    path = lock_path(compiled.spec_path)
    path.write_text("lock_version: 2\n")
    with pytest.raises(LockError, match="newer"):
        after_run(compiled, plan, Result(1, RunStatus.SUCCEEDED, RunMode.GENERATED), None)
    assert path.read_text() == "lock_version: 2\n"


# --- explaining a stale lock from the store's record of the run that made it ---------------


def recorded_lock(compiled: CompiledWorker, store_url: str, fingerprint: str) -> Path:
    """A lock made by a run the store recorded, with the spec text and fingerprint of then."""
    from maisa.store.factory import open_store

    store = open_store(store_url)
    try:
        worker = store.upsert_worker("greeter", 1, fingerprint, compiled.spec_path.read_text())
        run_id = store.create_run(worker.id, {"who": "Ana"}, mode=RunMode.GENERATED)
    finally:
        store.close()
    lock = make_lock(compiled, Result(run_id, RunStatus.SUCCEEDED, RunMode.GENERATED), None, "m")
    lock = lock.model_copy(update={"fingerprint": fingerprint})
    return write_lock(lock_path(compiled.spec_path), lock)


def test_a_stale_lock_names_the_spec_fields_that_changed_since_its_run(
    compiled: CompiledWorker, sqlite_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAISA_DATABASE_URL", sqlite_store_url)
    recorded_lock(compiled, sqlite_store_url, compiled.fingerprint)
    edited = edit_spec(compiled)
    with pytest.raises(LockError) as caught:
        plan_run(edited, lock="locked")
    assert "spec fields changed since run 1: goal" in caught.value.message


def test_a_stale_lock_whose_spec_did_not_change_blames_tools_templates_or_harness(
    compiled: CompiledWorker, sqlite_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAISA_DATABASE_URL", sqlite_store_url)
    recorded_lock(compiled, sqlite_store_url, "sha256:" + "1" * 64)  # made under other templates
    with pytest.raises(LockError) as caught:
        plan_run(compiled, lock="locked")
    assert "the spec is as it was in run 1: a tool, a prompt template" in caught.value.message


def test_without_a_store_the_stale_reason_stays_generic(
    compiled: CompiledWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAISA_DATABASE_URL", raising=False)
    monkeypatch.chdir(compiled.spec_dir)  # no .maisa/maisa.db here: nothing is opened or created
    locked(compiled)
    with pytest.raises(LockError) as caught:
        plan_run(edit_spec(compiled), lock="locked")
    assert "(spec, tools, templates or harness)" in caught.value.message
    assert not (compiled.spec_dir / ".maisa").exists()


@pytest.mark.parametrize("choice", ["auto", "locked", "heal"])
def test_a_fresh_lock_with_code_the_validator_refuses_is_not_replayed(
    compiled: CompiledWorker, choice: str
) -> None:
    # Hashes match: written on purpose, e.g. in a pull request. Exit 3, never replayed.
    sneaky = FrozenStep(1, "Build the greeting", "import os\ng = os.environ['HOME']\n")
    result = Result(1, RunStatus.SUCCEEDED, RunMode.GENERATED, steps=[sneaky, STEPS[1]])
    write_lock(lock_path(compiled.spec_path), make_lock(compiled, result, None, "m"))
    with pytest.raises(LockError) as caught:
        plan_run(compiled, lock=choice)
    assert "holds code the validator refuses: step 1: line 1:" in caught.value.message
