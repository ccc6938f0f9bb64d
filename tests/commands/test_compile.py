"""`maisa compile`: a readable summary, JSON alone with --json, files with -o, located errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
EXAMPLE = "examples/facturas/worker.yaml"
LOCATED = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def maisa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maisa", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONPATH": str(ROOT)},
    )


def test_compile_prints_plan_tools_schemas_and_fingerprint() -> None:
    result = maisa("compile", EXAMPLE)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("procesador-facturas version 1")
    assert "1. Read the email with the mail tool and take its PDF attachment" in text
    assert "5. Insert the invoice into the database" in text
    assert "nif (custom, tools/nif.py, version " in text
    assert "nif.validate(nif: str) -> bool" in text
    assert "mail.read_eml(path: str) -> dict" in text
    assert re.search(r"email\s+│ file\s+│ yes", text)
    assert re.search(r"nif\s+│ string\s+│ yes\s+│ pattern=", text)
    assert re.search(r"Fingerprint sha256:[0-9a-f]{64}\n", text)


def test_compile_json_is_alone_on_stdout_and_matches_the_summary() -> None:
    result = maisa("compile", EXAMPLE, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {
        "name",
        "version",
        "fingerprint",
        "plan",
        "tools",
        "input_schema",
        "output_schema",
        "system_prompt",
    }
    assert data["name"] == "procesador-facturas" and data["version"] == 1
    assert len(data["plan"]) == 5
    assert [t["name"] for t in data["tools"]] == ["mail", "pdf", "nif", "db"]
    assert data["fingerprint"] in maisa("compile", EXAMPLE).stdout


def test_compile_output_dir_gets_compiled_json_and_the_system_prompt(tmp_path: Path) -> None:
    out = tmp_path / "build" / "facturas"
    result = maisa("compile", EXAMPLE, "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    written = json.loads((out / "compiled.json").read_text(encoding="utf-8"))
    assert written == json.loads(result.stdout)
    assert (out / "system_prompt.md").read_text(encoding="utf-8") == written["system_prompt"]
    assert "wrote" in result.stderr


def test_five_mistakes_give_five_located_errors_and_exit_2() -> None:
    result = maisa("compile", "tests/specs/data/five_mistakes.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    located = [m for line in result.stderr.splitlines() if (m := LOCATED.match(line))]
    assert len(located) == 5, result.stderr
    assert {m["path"] for m in located} == {"tests/specs/data/five_mistakes.yaml"}
    messages = " | ".join(m["message"] for m in located)
    for words in (
        "unknown key 'descripton' (did you mean 'description'?)",
        "duplicate key 'email'",
        "unknown tool 'pdff' (did you mean 'pdf'?)",
        "tools/missing.py",
        "limits.step_timeout: expected a duration",
    ):
        assert words in messages
    assert "5 problems found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_spec_file_is_exit_2_without_traceback() -> None:
    result = maisa("compile", "no/such/worker.yaml")
    assert result.returncode == 2
    assert "no/such/worker.yaml:1:1: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("apiVersion: maisa/v1\nkind: [Worker\nname: x\n")
    result = maisa("compile", "w.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert LOCATED.match(result.stderr.splitlines()[0])["message"].startswith("YAML syntax error")


def test_compile_help_describes_the_options() -> None:
    result = maisa("compile", "--help")
    assert result.returncode == 0
    assert "--json" in result.stdout and "-o, --output" in result.stdout
