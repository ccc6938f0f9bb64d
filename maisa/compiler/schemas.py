"""A spec's `inputs`/`outputs` fields compiled to real JSON Schemas (draft 2020-12).

A `file` field is a string path; the schema marks it with `"x-maisa-type": "file"`
so that input handling can find it (JSON Schema ignores unknown keywords).
"""

from __future__ import annotations

from typing import Any

from maisa.specs.model import FieldSpec, WorkerSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_MARK = "x-maisa-type"

# FieldSpec keys copied as they are: they are already JSON Schema keywords.
_KEYWORDS = (
    "description",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
)


def field_schema(field: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of one field (recursing into `items` and `properties`)."""
    schema: dict[str, Any] = {}
    if field.type == "file":
        schema["type"] = "string"
        schema[FILE_MARK] = "file"
        schema["minLength"] = 1
    else:
        schema["type"] = field.type
    for keyword in _KEYWORDS:
        value = getattr(field, keyword)
        if value is not None:
            schema[keyword] = value
    if field.default is not None:
        schema["default"] = field.default
    if field.items is not None:
        schema["items"] = field_schema(field.items)
    if field.properties is not None:
        schema.update(_object_body(field.properties))
    return schema


def _object_body(fields: dict[str, FieldSpec]) -> dict[str, Any]:
    return {
        "properties": {name: field_schema(f) for name, f in fields.items()},
        "required": [name for name, f in fields.items() if f.required and f.default is None],
        "additionalProperties": False,
    }


def _object_schema(title: str, fields: dict[str, FieldSpec]) -> dict[str, Any]:
    return {"$schema": DIALECT, "title": title, "type": "object", **_object_body(fields)}


def input_schema(spec: WorkerSpec) -> dict[str, Any]:
    """The schema a run's inputs must match. A field with a default is never required."""
    return _object_schema(f"{spec.name} inputs", spec.inputs)


def output_schema(spec: WorkerSpec) -> dict[str, Any]:
    """The schema `finish(result)` must match: no keys beyond the declared outputs."""
    return _object_schema(f"{spec.name} result", spec.outputs)


def file_fields(schema: dict[str, Any]) -> list[str]:
    """Names of the top-level properties of `schema` that are `file` paths."""
    return [
        name for name, prop in schema.get("properties", {}).items() if prop.get(FILE_MARK) == "file"
    ]
