"""`maisa schema`: the spec format's JSON Schema on stdout, or into a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def maisa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maisa", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_schema_prints_the_committed_schema_alone_on_stdout() -> None:
    result = maisa("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "maisa-worker.schema.json").read_text(encoding="utf-8")
    assert json.loads(result.stdout)["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_schema_writes_a_file_with_output(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = maisa("schema", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(target.read_text())["title"].startswith("maisa worker spec")


def test_schema_into_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    result = maisa("schema", "-o", str(tmp_path / "no" / "such" / "dir" / "s.json"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr
