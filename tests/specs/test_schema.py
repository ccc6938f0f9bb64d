"""The spec format's JSON Schema: committed, current, draft-07, and agreeing with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from maisa.specs.schema import SCHEMA_FILE, spec_json_schema, spec_json_schema_text

ROOT = Path(__file__).parents[2]
EXAMPLE_SPECS = sorted(ROOT.glob("examples/*/worker.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((ROOT / SCHEMA_FILE).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def test_the_committed_schema_is_up_to_date() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == spec_json_schema_text(), (
        f"{SCHEMA_FILE} is out of date: regenerate it with `maisa schema -o {SCHEMA_FILE}`"
    )


def test_the_schema_is_a_valid_draft_07_schema_without_2020_keywords() -> None:
    schema = spec_json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    text = json.dumps(schema)
    assert "$defs" not in text and "prefixItems" not in text
    assert {"FieldSpec", "Limits", "ModelConfig", "ToolRef"} <= set(schema["definitions"])


def test_the_example_specs_validate(validator: jsonschema.Draft7Validator) -> None:
    assert EXAMPLE_SPECS, "no example specs found"
    for path in EXAMPLE_SPECS:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], f"{path}: {errors}"


def test_the_example_points_editors_at_the_schema() -> None:
    first_line = (ROOT / "examples/facturas/worker.yaml").read_text().splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=../../{SCHEMA_FILE}"


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"tools": ["pdf", {"name": "nif", "module": "t.py"}]}, True),
        ({"limits": {"step_timeout": "30s", "run_timeout": 90, "memory": "1g"}}, True),
        ({"limits": {"network": ["api.example.com"]}}, True),
        ({"limits": {"step_timeout": "30 seconds"}}, False),
        ({"limits": {"memroy": "1g"}}, False),
        ({"tools": [{"name": "nif", "modul": "t.py"}]}, False),
        ({"inputs": {"email": {"type": "fiel"}}}, False),
        ({"kind": "Job"}, False),
        ({"extra": 1}, False),
    ],
)
def test_the_schema_agrees_with_the_format(
    validator: jsonschema.Draft7Validator, change: dict, valid: bool
) -> None:
    spec = {"apiVersion": "maisa/v1", "kind": "Worker", "name": "demo", "goal": "g", **change}
    assert validator.is_valid(spec) is valid
