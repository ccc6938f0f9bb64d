"""A demanding new user's mistakes and mishaps, through the real CLI in a subprocess.

Each test is one defect found by using maisa from a clean clone: the message says what and
where, the exit code is DESIGN §9's, no traceback reaches the user and nothing is lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.runtime.conftest import SUM_WORKER

REPO = Path(__file__).resolve().parents[2]

SUM_REPLIES = [
    "```python\ntotal = inputs['a'] + inputs['b']\nprint(total)\n```",
    "```python\nfinish({'total': total})\n```",
]


def maisa(cwd: Path, *args: str, db: str = "m.db", **env: str) -> subprocess.CompletedProcess:
    """`maisa ARGS` in `cwd`, on the bwrap sandbox, with `db` as the store (relative to cwd)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAISA_", "OPENAI_"))}
    environment.update(
        PYTHONPATH=str(REPO),
        MAISA_DATABASE_URL=db if "://" in db else str(cwd / db),
        MAISA_SANDBOX="bwrap",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # nothing listens: a test never reaches a model
        OPENAI_API_KEY="none",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "maisa", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )


def no_traceback(done: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in done.stderr and "Traceback" not in done.stdout


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(SUM_WORKER, sort_keys=False))
    return path


@pytest.fixture
def locked(tmp_path: Path, spec: Path, model_env: dict[str, str], scripted_model) -> Path:
    """The sum worker with a fresh lock, generated through the scripted model."""
    scripted_model.load(SUM_REPLIES)
    done = maisa(tmp_path, "lock", spec.name, "-i", "a=1", "-i", "b=2", **model_env)
    assert done.returncode == 0, done.stderr
    return spec


def test_a_second_store_in_the_same_project_does_not_crash_on_the_workspace(tmp_path, locked):
    # Run ids restart in a new database; the first store's workspace `.maisa/workspaces/1` is
    # still there and must be neither reused nor a crash.
    first = maisa(tmp_path, "run", locked.name, "-i", "a=2", "-i", "b=3", "--lock", db="one.db")
    second = maisa(tmp_path, "run", locked.name, "-i", "a=2", "-i", "b=3", "--lock", db="two.db")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert no_traceback(second)
    assert '"total": 5' in second.stdout
