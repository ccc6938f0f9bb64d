"""End-to-end helpers: the real `maisa` CLI in a subprocess, against real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from maisa.store.factory import open_store
from maisa.store.records import RunRecord

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cli:
    """Runs `maisa ...` in `cwd` with an environment pointing at the test's services."""

    cwd: Path
    env: dict[str, str]
    store_url: str

    def __call__(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "maisa", *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def json(self, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
        """Run with --json: (exit code, the JSON on stdout, stderr)."""
        done = self(*args, "--json", **env)
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"stdout is not JSON alone:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done.returncode, data, done.stderr

    def run_record(self, run_id: int) -> RunRecord:
        store = open_store(self.store_url)
        try:
            record = store.get_run(run_id)
        finally:
            store.close()
        assert record is not None, f"run {run_id} is not in the store"
        return record


@pytest.fixture
def cli(tmp_path, model_env, store_url, sandbox) -> Cli:
    """The CLI on each sandbox backend and each store backend, with the scripted model."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "MAISA_")) or key == "MAISA_CANARY_SECRET"
    }
    env.update(model_env)
    env.update(
        MAISA_DATABASE_URL=store_url,
        MAISA_SANDBOX=sandbox.name,
        PYTHONPATH=str(REPO),
        COLUMNS="200",
    )
    return Cli(tmp_path, env, store_url)
