"""Helpers for running the orchestrator in-process: real bwrap, real SQLite, scripted model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from maisa.compiler import compile_spec
from maisa.compiler.compiled import CompiledWorker
from maisa.runtime.model import ModelClient, ModelSettings
from maisa.runtime.orchestrator import FrozenStep, RunRequest, RunResult, execute_run
from maisa.runtime.progress import Progress
from maisa.store.factory import open_store
from maisa.store.records import RunMode, RunRecord
from maisa.testing.scripted_model import ScriptedModelServer
from tests.fixtures.sandbox import sandbox_backend


def code(text: str, thought: str = "") -> str:
    """A model reply holding `text` as its python block."""
    return f"{thought}\n```python\n{text.strip()}\n```\n"


SUM_WORKER = {
    "apiVersion": "maisa/v1",
    "kind": "Worker",
    "name": "sumador",
    "goal": "Add the two input numbers and return the total.",
    "inputs": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "outputs": {"total": {"type": "integer"}},
    "steps": ["Compute the sum and print it", "Finish with the total"],
    "limits": {"max_steps": 5, "max_retries": 2, "step_timeout": "5s"},
}


@pytest.fixture(scope="session")
def bwrap_sandbox():
    """The orchestrator's own tests run on bwrap (fast to start); e2e tests cover docker too."""
    return sandbox_backend("bwrap")


@dataclass
class Runs:
    """Runs workers in-process and reads back what was recorded."""

    tmp_path: Path
    server: ScriptedModelServer
    sandbox: Any

    def __post_init__(self) -> None:
        self.store = open_store(f"sqlite://{self.tmp_path / 'maisa.db'}")

    def worker(self, **changes: Any) -> CompiledWorker:
        spec = {**SUM_WORKER, **changes}
        spec["limits"] = {**SUM_WORKER["limits"], **changes.get("limits", {})}
        if spec.get("steps") is None:
            spec.pop("steps", None)
        path = self.tmp_path / f"{spec['name']}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return compile_spec(path)

    def model(self) -> ModelClient:
        return ModelClient(
            ModelSettings(
                model="scripted",
                base_url=self.server.url,
                max_attempts=2,
                backoff_base_s=0.01,
                backoff_max_s=0.02,
                request_timeout_s=10,
            )
        )

    def run(
        self,
        compiled: CompiledWorker,
        replies: list[Any],
        inputs: dict[str, Any] | None = None,
        *,
        frozen: list[FrozenStep] | None = None,
        heal: bool = False,
        with_model: bool = True,
        progress: Progress | None = None,
    ) -> RunResult:
        self.server.load(replies)
        request = RunRequest(
            compiled=compiled,
            inputs=inputs if inputs is not None else {"a": 1200, "b": 34},
            mode=RunMode.LOCKED if frozen else RunMode.GENERATED,
            frozen=frozen or [],
            heal=heal,
            lock_revision=1 if frozen else None,
            project_dir=self.tmp_path,
        )
        return execute_run(
            request,
            store=self.store,
            model=self.model() if with_model else None,
            progress=progress,
            sandbox=self.sandbox,
        )

    def record(self, run_id: int) -> RunRecord:
        record = self.store.get_run(run_id)
        assert record is not None
        return record

    def attempts(self, run_id: int) -> list[tuple[int, int, str]]:
        return [(s.number, s.attempt, s.status) for s in self.record(run_id).steps]


@pytest.fixture
def runs(tmp_path, scripted_model, bwrap_sandbox):
    runner = Runs(tmp_path, scripted_model, bwrap_sandbox)
    yield runner
    runner.store.close()
