"""`maisa sandbox exec|doctor` through the real CLI, in a subprocess, on real backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import CANARY_SECRET

EXEC_KEYS = {"status", "stdout", "stderr", "duration_s", "cpu_s", "peak_memory_mb", "error",
             "output_truncated", "variables"}  # fmt: skip


def maisa(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maisa", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def exec_json(sandbox, path: Path, *options: str) -> tuple[int, dict]:
    result = maisa("sandbox", "exec", "--backend", sandbox.name, "--json", *options, str(path))
    assert result.stdout.lstrip().startswith("{"), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_exec_prints_the_outcome_as_json_alone_on_stdout(sandbox, tmp_path):
    step = tmp_path / "step.py"
    step.write_text("import os\ntotal = 6 * 7\nprint('uid', os.getuid())\n")
    code, outcome = exec_json(sandbox, step)
    assert code == 0
    assert EXEC_KEYS <= set(outcome)
    assert outcome["status"] == "OK" and outcome["stdout"] == "uid 65534\n"
    assert outcome["variables"] == {"total": 42} and outcome["backend"] == sandbox.name


def test_exec_shows_the_host_environment_is_invisible(sandbox, tmp_path):
    step = tmp_path / "env.py"
    step.write_text(
        "import os\nprint(dict(os.environ))\nprint(open('/proc/1/environ', 'rb').read())\n"
    )
    code, outcome = exec_json(sandbox, step)
    assert os.environ["MAISA_CANARY_SECRET"] == CANARY_SECRET  # the CLI process had it
    assert code == 0 and CANARY_SECRET not in json.dumps(outcome)


def test_exec_contains_a_fork_bomb_and_exits_1(sandbox, tmp_path):
    step = tmp_path / "bomb.py"
    step.write_text("import os\nwhile True:\n    os.fork()\n")
    code, outcome = exec_json(sandbox, step, "--timeout", "3s", "--memory", "64m")
    assert code == 1
    assert outcome["status"] in ("ERROR", "TIMEOUT", "KILLED_OOM")


def test_exec_reports_a_network_attempt_as_an_error(sandbox, tmp_path):
    step = tmp_path / "net.py"
    step.write_text("import socket\nsocket.create_connection(('127.0.0.1', 5432), 2)\n")
    code, outcome = exec_json(sandbox, step, "--timeout", "5s")
    assert code == 1 and outcome["status"] == "ERROR"
    assert "OSError" in outcome["error"] or "Error" in outcome["error"]


def test_exec_reports_a_memory_bomb_as_killed_oom(sandbox, tmp_path):
    step = tmp_path / "hog.py"
    step.write_text("hog = []\nwhile True:\n    hog.append(bytearray(8 * 1024 * 1024))\n")
    code, outcome = exec_json(sandbox, step, "--memory", "64m", "--timeout", "10s")
    assert code == 1 and outcome["status"] == "KILLED_OOM"


def test_exec_with_an_unavailable_backend_exits_4(tmp_path):
    step = tmp_path / "step.py"
    step.write_text("pass\n")
    result = maisa("sandbox", "exec", "--backend", "bwrap", str(step), env={"PATH": str(tmp_path)})
    assert result.returncode == 4
    assert "bubblewrap" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "expected"),
    [(["--timeout", "soon"], "bad --timeout"), (["--memory", "lots"], "bad --timeout or --memory")],
)
def test_exec_with_bad_limits_is_a_usage_error(tmp_path, options, expected):
    step = tmp_path / "step.py"
    step.write_text("pass\n")
    result = maisa("sandbox", "exec", *options, str(step))
    assert result.returncode == 2 and expected in result.stderr


def test_exec_of_a_missing_file_is_a_usage_error(tmp_path):
    result = maisa("sandbox", "exec", str(tmp_path / "nope.py"))
    assert result.returncode == 2 and "nope.py" in result.stderr


def test_doctor_reports_each_backend(sandbox):
    result = maisa("sandbox", "doctor", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert report["backends"][sandbox.name]["ok"] is True
    assert report["default"] in ("docker", "bwrap")


def test_doctor_says_what_to_do_when_nothing_works_and_exits_4(tmp_path):
    env = {"PATH": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    result = maisa("sandbox", "doctor", "--json", env=env)
    report = json.loads(result.stdout)
    assert result.returncode == 4 and report["default"] is None
    assert "apt-get install bubblewrap" in report["backends"]["bwrap"]["problem"]
    assert "not reachable" in report["backends"]["docker"]["problem"]
    human = maisa("sandbox", "doctor", env=env)
    assert human.returncode == 4 and "bwrap" in human.stdout
