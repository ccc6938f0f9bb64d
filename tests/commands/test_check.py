"""`maisa check` (DESIGN §7): for CI, specs valid and locks fresh, untampered and validator-clean.

Each test runs the real CLI in a subprocess on a small project in a temp directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from maisa.compiler import compile_spec
from maisa.runtime.lockfile import code_sha256, lock_path, make_lock, write_lock

SPEC = """\
apiVersion: maisa/v1
kind: Worker
name: {name}
goal: Greet the person named in the input.
inputs:
  who: {{type: string}}
outputs:
  greeting: {{type: string}}
steps:
  - Build the greeting and finish with it
"""
GOOD_CODE = "finish({'greeting': 'Hello ' + inputs['who']})\n"


@dataclass
class Step:
    number: int
    description: str
    code: str


@dataclass
class Result:
    run_id: int
    steps: list[Step]


def maisa(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maisa", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def worker(root: Path, name: str = "greeter", *, code: str = GOOD_CODE, lock: bool = True) -> Path:
    """A worker spec under root/<name>/worker.yaml, with a lock of `code` unless lock=False."""
    spec = root / name / "worker.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC.format(name=name))
    if lock:
        step = Step(1, "Build the greeting and finish with it", code)
        write_lock(lock_path(spec), make_lock(compile_spec(spec), Result(1, [step]), None, "m"))
    return spec


def test_a_project_whose_specs_are_valid_and_locks_fresh_passes(tmp_path: Path) -> None:
    worker(tmp_path, "greeter")
    worker(tmp_path, "other")
    (tmp_path / "notes.yaml").write_text("kind: SomethingElse\n")  # not a worker: ignored
    done = maisa(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert "2 worker(s) checked, 0 with problems" in done.stderr


def test_a_missing_lock_fails_with_exit_3_and_says_how_to_lock(tmp_path: Path) -> None:
    worker(tmp_path, lock=False)
    done = maisa(tmp_path)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        "greeter/worker.lock: missing "
        "(re-lock with: maisa lock greeter/worker.yaml --input who=...)"
    ]


def test_a_stale_lock_fails_with_exit_3(tmp_path: Path) -> None:
    spec = worker(tmp_path)
    spec.write_text(spec.read_text().replace("Greet the person", "Greet warmly the person"))
    done = maisa(tmp_path)
    assert done.returncode == 3
    assert done.stdout.startswith("greeter/worker.lock: stale: the worker's fingerprint changed")


def test_a_hand_edited_lock_fails_as_tampered_with_exit_3(tmp_path: Path) -> None:
    lock = lock_path(worker(tmp_path))
    lock.write_text(lock.read_text().replace("'Hello '", "'Bye '"))
    done = maisa(tmp_path)
    assert done.returncode == 3
    assert "greeter/worker.lock: tampered: step 1's code does not match its sha256" in done.stdout


def test_locked_code_the_validator_refuses_fails_even_with_a_matching_sha256(
    tmp_path: Path,
) -> None:
    worker(tmp_path, code="import os\nfinish({'greeting': os.getcwd()})\n")
    done = maisa(tmp_path)
    assert done.returncode == 3
    assert "greeter/worker.lock: step 1: refused by the validator: line 1:" in done.stdout


def test_an_unreadable_lock_is_reported_at_its_line(tmp_path: Path) -> None:
    lock = lock_path(worker(tmp_path))
    lock.write_text(lock.read_text().replace("lock_version: 1", "lock_version: 7"))
    done = maisa(tmp_path)
    assert done.returncode == 3
    assert done.stdout.startswith("greeter/worker.lock:1:")
    assert "newer than this maisa understands" in done.stdout


def test_an_invalid_spec_wins_exit_2_and_every_problem_is_listed(tmp_path: Path) -> None:
    broken = worker(tmp_path, "broken", lock=False)
    broken.write_text(broken.read_text().replace("goal:", "gaol:"))
    worker(tmp_path, "unlocked", lock=False)
    done = maisa(tmp_path)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert any(line.startswith("broken/worker.yaml:") and "gaol" in line for line in lines)
    assert any(line.startswith("unlocked/worker.lock: missing") for line in lines)


def test_paths_limit_the_check_to_the_named_files_and_directories(tmp_path: Path) -> None:
    worker(tmp_path, "good")
    worker(tmp_path, "unlocked", lock=False)
    assert maisa(tmp_path, "good").returncode == 0
    assert maisa(tmp_path, "good/worker.yaml").returncode == 0
    assert maisa(tmp_path, "good", "unlocked").returncode == 3


def test_json_output_describes_each_worker(tmp_path: Path) -> None:
    worker(tmp_path, "good")
    worker(tmp_path, "unlocked", lock=False)
    done = maisa(tmp_path, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3 and report["ok"] is False and report["exit_code"] == 3
    by_spec = {w["spec"]: w for w in report["workers"]}
    assert by_spec["good/worker.yaml"]["ok"] is True
    assert by_spec["good/worker.yaml"]["lock_revision"] == 1
    assert by_spec["unlocked/worker.yaml"]["lock_problems"][0].startswith("unlocked/worker.lock")
    assert report["problems"] == by_spec["unlocked/worker.yaml"]["lock_problems"]


def test_finding_no_worker_spec_is_an_error_not_a_silent_pass(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("a: 1\n")
    done = maisa(tmp_path)
    assert done.returncode == 2
    assert "no worker specs" in done.stderr


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    done = maisa(tmp_path, "nowhere")
    assert done.returncode == 2 and "nowhere: no such file or directory" in done.stderr


def test_the_sha256_in_a_lock_is_of_the_exact_code(tmp_path: Path) -> None:
    # Guards the assumption the tamper checks above rest on.
    lock = lock_path(worker(tmp_path)).read_text()
    assert code_sha256(GOOD_CODE) in lock
