"""The lockfile format (DESIGN §7): reading, writing, making, and freshness."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from maisa.compiler.compiled import CompiledWorker
from maisa.errors import LockError
from maisa.runtime.lockfile import (
    Lock,
    LockedStep,
    code_sha256,
    dump_lock,
    freshness,
    lock_path,
    make_lock,
    parse_lock,
    read_lock,
    write_lock,
)
from maisa.specs.model import WorkerSpec
from maisa.versions import LOCK_VERSION

FINGERPRINT = "sha256:" + "ab" * 32


def compiled_worker(
    tmp_path: Path, fingerprint: str = FINGERPRINT, **spec: object
) -> CompiledWorker:
    fields = {
        "apiVersion": "maisa/v1",
        "kind": "Worker",
        "name": "procesador-facturas",
        "goal": "Process invoices",
        "inputs": {"email": {"type": "file"}},
        "steps": ["Read the email", "Extract the NIF and total"],
        **spec,
    }
    worker = WorkerSpec.model_validate(fields)
    return CompiledWorker(
        spec=worker,
        spec_path=tmp_path / "worker.yaml",
        spec_text="",
        plan=tuple(worker.steps or ()),
        tools=(),
        input_schema={},
        output_schema={},
        system_prompt="",
        fingerprint=fingerprint,
    )


@dataclass
class Step:
    number: int
    description: str
    code: str


@dataclass
class Result:
    run_id: int
    steps: list[Step]


STEPS = [
    Step(1, "Read the email", "msg = mail.read_eml(inputs['email'])\nprint(msg['subject'])\n"),
    Step(2, "Extract the NIF and total", "finish({'nif': 'x'})\n"),
]
AT = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)


def a_lock(tmp_path: Path) -> Lock:
    return make_lock(compiled_worker(tmp_path), Result(41, STEPS), None, "gpt-4o-mini", now=AT)


def test_the_lock_sits_beside_the_spec_with_the_lock_suffix() -> None:
    assert lock_path(Path("examples/facturas/worker.yaml")) == Path("examples/facturas/worker.lock")


def test_a_new_lock_records_worker_fingerprint_provenance_and_each_step_with_its_sha256(
    tmp_path: Path,
) -> None:
    lock = a_lock(tmp_path)
    assert lock.lock_version == LOCK_VERSION
    assert (lock.worker.name, lock.worker.version) == ("procesador-facturas", 1)
    assert lock.fingerprint == FINGERPRINT
    assert lock.revision == 1
    assert (lock.locked_from.run, lock.locked_from.model, lock.locked_from.at) == (
        41,
        "gpt-4o-mini",
        AT,
    )
    assert [s.number for s in lock.steps] == [1, 2]
    assert lock.steps[0].sha256 == hashlib.sha256(STEPS[0].code.encode()).hexdigest()


def test_relocking_increments_the_previous_revision(tmp_path: Path) -> None:
    first = a_lock(tmp_path)
    second = make_lock(compiled_worker(tmp_path), Result(42, STEPS), first, "gpt-4o-mini")
    assert second.revision == 2
    assert second.locked_from.run == 42


def test_the_file_has_the_design_key_order_and_code_as_literal_blocks(tmp_path: Path) -> None:
    text = dump_lock(a_lock(tmp_path))
    top_keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert top_keys == ["lock_version", "worker", "fingerprint", "revision", "locked_from", "steps"]
    assert "  code: |\n    msg = mail.read_eml(inputs['email'])\n" in text
    assert "at: 2026-11-25T18:00:00Z" in text


def test_write_then_read_round_trips_exactly_even_for_awkward_code(tmp_path: Path) -> None:
    awkward = Step(1, "a: colon", "x = 1  \ny = '''\ttab\n'''\nprint('ñ €', x)")
    lock = make_lock(compiled_worker(tmp_path), Result(7, [awkward]), None, "m", now=AT)
    path = write_lock(tmp_path / "worker.lock", lock)
    assert read_lock(path) == lock


def test_writing_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "worker.lock"
    path.write_text("old content that must be replaced whole\n")
    write_lock(path, a_lock(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["worker.lock"]
    assert read_lock(path).revision == 1


def test_a_write_failing_midway_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "worker.lock"
    write_lock(path, a_lock(tmp_path))
    before = path.read_text()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_lock(path, make_lock(compiled_worker(tmp_path), Result(9, STEPS[:1]), None, "m"))
    assert path.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["worker.lock"]


def test_a_missing_lock_is_a_lock_error_that_says_how_to_relock(tmp_path: Path) -> None:
    with pytest.raises(LockError) as caught:
        read_lock(tmp_path / "worker.lock")
    assert caught.value.exit_code == 3
    assert "no lockfile" in caught.value.message
    assert "maisa lock" in (caught.value.hint or "")


def test_a_newer_lock_version_is_refused_with_advice_to_upgrade(tmp_path: Path) -> None:
    text = dump_lock(a_lock(tmp_path)).replace(
        "lock_version: 1", f"lock_version: {LOCK_VERSION + 1}"
    )
    with pytest.raises(LockError) as caught:
        parse_lock(text, "w.lock")
    assert f"lock_version {LOCK_VERSION + 1} is newer" in caught.value.message
    assert caught.value.message.startswith("w.lock:1:")
    assert "upgrade maisa" in (caught.value.hint or "")


def test_malformed_fields_are_reported_at_their_line_and_column(tmp_path: Path) -> None:
    text = dump_lock(a_lock(tmp_path)).replace("revision: 1", "revision: one")
    line = text.splitlines().index("revision: one") + 1
    with pytest.raises(LockError) as caught:
        parse_lock(text, "w.lock")
    assert f"w.lock:{line}:" in caught.value.message
    assert "revision" in caught.value.message


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    text = dump_lock(a_lock(tmp_path)) + "extra: 1\n"
    with pytest.raises(LockError, match="extra"):
        parse_lock(text, "w.lock")


def test_broken_yaml_and_duplicate_keys_are_lock_errors_with_a_location(tmp_path: Path) -> None:
    with pytest.raises(LockError, match=r"w\.lock:\d+:\d+"):
        parse_lock("lock_version: 1\nworker: [unclosed\n", "w.lock")
    text = dump_lock(a_lock(tmp_path)) + "revision: 9\n"
    with pytest.raises(LockError, match="duplicate"):
        parse_lock(text, "w.lock")


def test_a_lock_is_fresh_for_the_compile_it_was_made_from(tmp_path: Path) -> None:
    state = freshness(a_lock(tmp_path), compiled_worker(tmp_path))
    assert state.fresh and state.kind == "fresh" and state.reasons == []


def test_a_changed_fingerprint_makes_it_stale_and_says_what_changed_when_it_can(
    tmp_path: Path,
) -> None:
    lock = a_lock(tmp_path)
    edited = compiled_worker(
        tmp_path,
        fingerprint="sha256:" + "cd" * 32,
        version=2,
        steps=["Read the email", "Extract the NIF, the total and the date"],
    )
    state = freshness(lock, edited)
    assert not state.fresh and state.kind == "stale"
    reason = state.reasons[0]
    assert "fingerprint changed" in reason
    assert "version 1 -> 2" in reason
    assert "plan step 2 now reads 'Extract the NIF, the total and the date'" in reason


def test_a_hand_edited_step_is_detected_as_tampering(tmp_path: Path) -> None:
    lock = a_lock(tmp_path)
    edited = lock.steps[1].model_copy(update={"code": "finish({'nif': 'B12345674'})\n"})
    tampered = lock.model_copy(update={"steps": [lock.steps[0], edited]})
    state = freshness(tampered, compiled_worker(tmp_path))
    assert state.kind == "tampered" and state.tampered == [2]
    assert "step 2's code does not match its sha256" in state.reasons[0]


def test_tampering_survives_a_round_trip_through_the_file(tmp_path: Path) -> None:
    path = write_lock(tmp_path / "worker.lock", a_lock(tmp_path))
    path.write_text(path.read_text().replace("print(msg['subject'])", "print('pwned')"))
    assert freshness(read_lock(path), compiled_worker(tmp_path)).tampered == [1]


def test_the_file_is_plain_yaml_any_tool_can_read(tmp_path: Path) -> None:
    data = yaml.safe_load(dump_lock(a_lock(tmp_path)))
    assert data["steps"][0]["code"] == STEPS[0].code
    assert data["steps"][0]["sha256"] == code_sha256(STEPS[0].code)


def test_steps_are_numbered_from_one_without_gaps(tmp_path: Path) -> None:
    lock = a_lock(tmp_path)
    gap = lock.model_copy(
        update={"steps": [replace_number(lock.steps[0], 1), replace_number(lock.steps[1], 3)]}
    )
    assert "numbered [1, 3]" in freshness(gap, compiled_worker(tmp_path)).reasons[0]


def replace_number(step: LockedStep, number: int) -> LockedStep:
    return step.model_copy(update={"number": number})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("- a list\n", "expected a mapping"),
        ("lock_version: '1'\n", "lock_version: Input should be a valid integer"),
        ("lock_version: 0\n", "lock_version: Input should be greater than or equal to 1"),
    ],
)
def test_documents_that_are_not_a_lock_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(LockError, match=says) as caught:
        parse_lock(text, "w.lock")
    assert caught.value.message.startswith("w.lock:1:")


def test_a_lock_checked_out_with_crlf_line_endings_reads_the_same(tmp_path: Path) -> None:
    # git's autocrlf rewrites committed locks on Windows; the code and its sha256 must survive.
    text = dump_lock(a_lock(tmp_path))
    lock = parse_lock(text.replace("\n", "\r\n"), "w.lock")
    assert lock == parse_lock(text, "w.lock")
    assert freshness(lock, compiled_worker(tmp_path)).fresh
