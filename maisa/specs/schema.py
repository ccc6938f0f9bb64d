"""The JSON Schema of the spec format (`maisa schema`), draft-07 for yaml-language-server.

Pydantic emits draft 2020-12 style `$defs`; editors that speak draft-07 want
`definitions`. The shorthands the loader accepts are widened here too: a tool
may be a plain name, and durations/sizes may be strings or numbers.
"""

from __future__ import annotations

import json
from typing import Any

from maisa.specs.model import WorkerSpec

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILE = "maisa-worker.schema.json"


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/definitions/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def spec_json_schema() -> dict[str, Any]:
    """The spec format as a draft-07 JSON Schema (plain data)."""
    generated = WorkerSpec.model_json_schema(by_alias=True, mode="validation")
    definitions = generated.pop("$defs", {})
    tool_name = definitions["ToolRef"]["properties"]["name"]
    generated["properties"]["tools"]["items"] = {
        "anyOf": [
            {**tool_name, "description": "A built-in tool name (files, pdf, mail, http, db)."},
            {"$ref": "#/$defs/ToolRef"},
        ]
    }
    schema = {
        "$schema": DRAFT_07,
        **generated,
        "title": "maisa worker spec (apiVersion maisa/v1, kind Worker)",
        "definitions": definitions,
    }
    return _rewrite_refs(schema)


def spec_json_schema_text() -> str:
    """The schema as the exact text committed in `maisa-worker.schema.json`."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
