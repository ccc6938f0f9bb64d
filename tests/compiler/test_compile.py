"""compile_spec: the plan, tool docs, schemas and the system prompt of a worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maisa.compiler import CompiledWorker, compile_spec
from maisa.errors import SpecError
from maisa.runtime.validate import SAFE_IMPORTS
from maisa.specs.loader import load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "facturas" / "worker.yaml"


@pytest.fixture(scope="module")
def example() -> CompiledWorker:
    return compile_spec(EXAMPLE)


def test_the_plan_is_the_specs_steps(example: CompiledWorker) -> None:
    assert len(example.plan) == 5
    assert example.plan[0] == "Read the email with the mail tool and take its PDF attachment"
    assert example.plan[-1].startswith("Insert the invoice into the database")


def test_a_spec_without_steps_has_an_empty_plan(write_spec) -> None:
    text = "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\n"
    compiled = compile_spec(write_spec(text))
    assert compiled.plan == ()
    assert "No plan was given" in compiled.system_prompt


def test_tools_are_documented_in_declaration_order(example: CompiledWorker) -> None:
    assert [t.name for t in example.tools] == ["mail", "pdf", "nif", "db"]
    nif = example.tools[2]
    assert [f.name for f in nif.functions] == [
        "normalize",
        "kind",
        "expected_check",
        "validate",
        "explain",
    ]
    assert (
        nif.version
        == __import__("hashlib")
        .sha256((EXAMPLE.parent / "tools" / "nif.py").read_bytes())
        .hexdigest()
    )


def test_a_loaded_spec_compiles_the_same_as_its_path(example: CompiledWorker) -> None:
    assert compile_spec(load_spec(EXAMPLE)).fingerprint == example.fingerprint


def test_compiling_a_bad_spec_raises_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\ntools: [nope]\n")
    with pytest.raises(SpecError, match="unknown tool 'nope'"):
        compile_spec(path)


def test_the_system_prompt_states_goal_plan_and_step_contract(example: CompiledWorker) -> None:
    prompt = example.system_prompt
    assert 'digital worker called "procesador-facturas"' in prompt
    assert "Read the invoice PDF attached to the email" in prompt
    for number, step in enumerate(example.plan, 1):
        assert f"{number}. {step}" in prompt
    assert "```python" in prompt
    assert "`inputs`" in prompt and "`finish(result)`" in prompt
    assert "stay defined in later steps" in prompt
    assert "Never write a value that came from `inputs`" in prompt
    assert 'inputs["email"]' in prompt
    assert "`print` what the next step needs" in prompt


def test_the_system_prompt_documents_tools_schemas_and_imports(example: CompiledWorker) -> None:
    prompt = example.system_prompt
    assert "### nif.validate(nif: str) -> bool" in prompt
    assert "### pdf.extract_text(source: bytes | str) -> str" in prompt
    assert "### db.execute(sql: str, params: list | dict | None = None) -> int" in prompt
    for name in ("mail", "pdf", "nif", "db"):
        assert f"- `{name}`: the {name} tool" in prompt
    assert json.dumps(example.output_schema, indent=2, ensure_ascii=False) in prompt
    assert json.dumps(example.input_schema, indent=2, ensure_ascii=False) in prompt
    imports_line = next(line for line in prompt.splitlines() if "Import only" in line)
    assert all(name in imports_line for name in SAFE_IMPORTS | {"decimal", "re"})


def test_to_dict_is_json_ready(example: CompiledWorker) -> None:
    data = json.loads(json.dumps(example.to_dict()))
    assert set(data) >= {"name", "version", "fingerprint", "plan", "tools", "input_schema"}
    assert data["tools"][2]["functions"][3]["signature"] == "(nif: str) -> bool"


def test_the_system_prompt_says_which_hosts_are_reachable(write_spec) -> None:
    closed = compile_spec(write_spec()).system_prompt
    assert "There is no network access." in closed
    opened = "kind: Worker\nlimits: {network: [api.example.com, example.org]}"
    prompt = compile_spec(write_spec(_spec_with("kind: Worker", opened))).system_prompt
    assert "except for these hosts, through the http tool: api.example.com, example.org" in prompt


def _spec_with(old: str, new: str) -> str:
    from .conftest import SPEC

    return SPEC.replace(old, new)
