"""`maisa run` usage errors, through the real CLI: each a clear message and its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.runtime.conftest import SUM_WORKER

REPO = Path(__file__).resolve().parents[2]


def maisa(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAISA_", "OPENAI_"))}
    environment.update(PYTHONPATH=str(REPO), MAISA_DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "maisa", "run", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def spec(tmp_path: Path) -> str:
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump(SUM_WORKER, sort_keys=False))
    return "worker.yaml"


def test_no_lock_cannot_be_combined_with_lock(tmp_path, spec):
    done = maisa(tmp_path, spec, "-i", "a=1", "-i", "b=2", "--no-lock", "--lock")
    assert done.returncode == 2
    assert "--no-lock and --lock cannot be combined" in done.stderr


def test_a_missing_spec_exits_2(tmp_path):
    done = maisa(tmp_path, "nope.yaml")
    assert done.returncode == 2 and "spec not found: nope.yaml" in done.stderr


def test_locked_without_a_lock_exits_3_and_says_how_to_lock(tmp_path, spec):
    done = maisa(tmp_path, spec, "-i", "a=1", "-i", "b=2", "--lock")
    assert done.returncode == 3
    assert "no lockfile" in done.stderr and "maisa lock" in done.stderr


def test_a_missing_input_exits_2_naming_it(tmp_path, spec):
    done = maisa(tmp_path, spec, "-i", "a=1")
    assert done.returncode == 2 and "'b'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_secret_exits_2_naming_the_variable(tmp_path):
    (tmp_path / "worker.yaml").write_text(
        yaml.safe_dump({**SUM_WORKER, "secrets": ["SUMADOR_TOKEN"]}, sort_keys=False)
    )
    done = maisa(tmp_path, "worker.yaml", "-i", "a=1", "-i", "b=2", "--no-lock")
    assert done.returncode == 2
    assert "SUMADOR_TOKEN" in done.stderr and "export SUMADOR_TOKEN=" in done.stderr


def test_an_unknown_sandbox_exits_2(tmp_path, spec):
    done = maisa(tmp_path, spec, "-i", "a=1", "-i", "b=2", "--no-lock", "--sandbox", "chroot")
    assert done.returncode == 2 and "unknown sandbox 'chroot'" in done.stderr


def test_json_errors_are_json_alone_on_stdout(tmp_path, spec):
    done = maisa(tmp_path, spec, "-i", "a=1", "-i", "b=2", "--lock", "--json")
    assert done.returncode == 3
    assert done.stdout.startswith("{") and '"exit_code": 3' in done.stdout
