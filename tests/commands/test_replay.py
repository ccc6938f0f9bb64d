"""`maisa replay RUN [--step N]`: re-execute a recorded run and compare it with the record.

Runs are generated for real (scripted model over HTTP, real sandbox, real store) by the
`maisa run` CLI; replay is then the CLI again, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from maisa.sandbox.base import Sandbox
from maisa.testing.scripted_model import ScriptedModelServer
from tests.fixtures.sandbox import sandbox_backend

SPEC = """\
apiVersion: maisa/v1
kind: Worker
name: pricer
goal: Price the order in the input with the rates tool.
inputs:
  quantity: {type: integer}
outputs:
  total: {type: number}
tools:
  - {name: rates, module: tools/rates.py}
imports: [decimal]
steps:
  - Look up the unit price and compute the total
  - Finish with the total
"""
RATES = '''"""Unit prices."""


def unit_price() -> str:
    """The price of one unit, as a decimal string."""
    return "{price}"
'''
STEP_1 = """Compute.
```python
from decimal import Decimal
price = Decimal(rates.unit_price())
total = price * inputs['quantity']
print('total', total)
```"""
STEP_2 = "Finish.\n```python\nfinish({'total': float(total)})\n```"


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    model: ScriptedModelServer

    def maisa(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maisa", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    def generate(self, quantity: int) -> int:
        """A real generated run; returns its id."""
        self.model.load([STEP_1, STEP_2])
        done = self.maisa("run", "worker.yaml", "--input", f"quantity={quantity}", "--json")
        assert done.returncode == 0, done.stderr
        self.model.load([])
        return int(json.loads(done.stdout)["run_id"])

    def replay(self, *args: str) -> tuple[int, dict[str, Any], str]:
        done = self.maisa("replay", *args, "--json")
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError:
            report = {}
        return done.returncode, report, done.stderr


def make_project(
    root: Path,
    backend: str,
    store_url: str,
    model: ScriptedModelServer,
    model_env: dict[str, str],
) -> Project:
    (root / "tools").mkdir(parents=True)
    (root / "worker.yaml").write_text(SPEC)
    (root / "tools" / "rates.py").write_text(RATES.format(price="2.50"))
    env = {**os.environ, **model_env, "MAISA_SANDBOX": backend, "MAISA_DATABASE_URL": store_url}
    return Project(root, env, model)


@pytest.fixture
def project(
    tmp_path: Path,
    scripted_model: ScriptedModelServer,
    model_env: dict[str, str],
    sqlite_store_url: str,
) -> Project:
    """The pricer worker on bwrap and SQLite (replay's logic does not depend on the backend)."""
    sandbox_backend("bwrap")
    return make_project(tmp_path / "p", "bwrap", sqlite_store_url, scripted_model, model_env)


def test_a_replayed_run_matches_its_record_on_every_backend(
    tmp_path: Path,
    sandbox: Sandbox,
    store_url: str,
    scripted_model: ScriptedModelServer,
    model_env: dict[str, str],
) -> None:
    project = make_project(tmp_path / "p", sandbox.name, store_url, scripted_model, model_env)
    run_id = project.generate(4)
    code, report, stderr = project.replay(str(run_id))
    assert code == 0, stderr
    assert report["matches"] is True and report["run_id"] == run_id
    assert [(s["number"], s["matches"]) for s in report["steps"]] == [(1, True), (2, True)]
    assert report["steps"][1]["result_matches"] is True
    assert scripted_model.requests == []  # replay never asks the model


def test_human_output_says_step_by_step_whether_it_matches(project: Project) -> None:
    run_id = project.generate(3)
    done = project.maisa("replay", str(run_id))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("step 1: match")
    assert lines[1].startswith("step 2: match")
    assert lines[-1] == f"run {run_id} (pricer): all steps match"


def test_one_step_replays_from_the_recorded_variables_before_it(project: Project) -> None:
    run_id = project.generate(2)
    code, report, stderr = project.replay(str(run_id), "--step", "1")
    assert code == 0, stderr
    assert [s["number"] for s in report["steps"]] == [1]


def test_a_value_recorded_only_as_a_repr_is_flagged_and_rebuild_recreates_it(
    project: Project,
) -> None:
    # `price` and `total` are Decimals: the record holds their repr, which cannot be restored.
    run_id = project.generate(2)
    code, report, _ = project.replay(str(run_id), "--step", "2")
    assert code == 1 and report["matches"] is False
    assert any("recorded as reprs" in note and "--rebuild" in note for note in report["notes"])
    code, report, stderr = project.replay(str(run_id), "--step", "2", "--rebuild")
    assert code == 0, stderr
    assert report["steps"][0]["result_matches"] is True


def test_a_changed_tool_makes_the_replay_differ_and_shows_how(project: Project) -> None:
    run_id = project.generate(4)
    (project.root / "tools" / "rates.py").write_text(RATES.format(price="3.00"))
    code, report, _ = project.replay(str(run_id), "--spec", "worker.yaml")
    assert code == 1 and report["matches"] is False
    first = report["steps"][0]
    assert first["stdout_matches"] is False
    assert "-total 10.00" in first["stdout_diff"] and "+total 12.00" in first["stdout_diff"]
    assert any(d.startswith("total: recorded") for d in first["variable_diffs"])
    assert report["steps"][1]["result_matches"] is False
    assert any("fingerprint changed" in note for note in report["notes"])


def test_the_human_output_of_a_difference_shows_the_diff(project: Project) -> None:
    run_id = project.generate(1)
    (project.root / "tools" / "rates.py").write_text(RATES.format(price="9.99"))
    done = project.maisa("replay", str(run_id))
    assert done.returncode == 1
    assert "step 1: DIFFERS" in done.stdout and "+total 9.99" in done.stdout
    assert done.stdout.rstrip().endswith("the replay differs from the record")


def test_an_unknown_run_or_step_is_a_usage_error(project: Project) -> None:
    run_id = project.generate(1)
    done = project.maisa("replay", "999")
    assert done.returncode == 2 and "no run 999" in done.stderr
    done = project.maisa("replay", str(run_id), "--step", "7")
    assert done.returncode == 2 and "no accepted step 7" in done.stderr


FILE_SPEC = """\
apiVersion: maisa/v1
kind: Worker
name: counter
goal: Count the lines of the text file in the input.
inputs:
  doc: {type: file}
outputs:
  lines: {type: integer}
tools: [files]
steps:
  - Count the lines and finish
"""
COUNT = "Count.\n```python\nn = len(files.read_text(inputs['doc']).splitlines())\nfinish({'lines': n})\n```"  # noqa: E501


def test_a_run_with_a_file_input_started_in_its_project_directory_replays(
    project: Project,
) -> None:
    (project.root / "worker.yaml").write_text(FILE_SPEC)
    (project.root / "doc.txt").write_text("a\nb\nc\n")
    project.env["PWD"] = str(project.root)  # what a shell sets when the user cds there
    project.model.load([COUNT])
    done = project.maisa("run", "worker.yaml", "--input", "doc=doc.txt", "--json")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    code, report, stderr = project.replay(str(run_id))
    assert code == 0, stderr
    assert report["matches"] is True


def test_replay_from_elsewhere_finds_the_spec_by_name_for_its_custom_tools(
    project: Project,
) -> None:
    run_id = project.generate(2)
    done = subprocess.run(
        [sys.executable, "-m", "maisa", "replay", str(run_id), "--json"],
        cwd=project.root.parent,  # the spec is in ./p/, its custom tool in ./p/tools/
        env=project.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matches"] is True
