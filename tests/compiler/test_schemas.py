"""Inputs and outputs compile to real JSON Schemas."""

from __future__ import annotations

import jsonschema

from maisa.compiler import compile_spec


def test_inputs_compile_to_a_closed_object_schema(write_spec) -> None:
    schema = compile_spec(write_spec()).input_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["email"]  # `limit` has a default, the others are optional
    assert schema["properties"]["email"] == {
        "type": "string",
        "x-maisa-type": "file",
        "minLength": 1,
        "description": "an .eml",
    }
    assert schema["properties"]["limit"] == {"type": "integer", "default": 10}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}


def test_outputs_compile_with_required_fields_and_constraints(write_spec) -> None:
    schema = compile_spec(write_spec()).output_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["nif", "importe"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["nif"] == {"type": "string", "pattern": "^[A-Z0-9]{9}$"}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"nif": "B12345674", "importe": 10.5})
    assert not validator.is_valid({"nif": "B-1234567", "importe": 10.5})
    assert not validator.is_valid({"nif": "B12345674", "importe": -1})
    assert not validator.is_valid({"nif": "B12345674", "importe": 1, "other": 1})


def test_nested_objects_are_closed_and_honour_required(write_spec) -> None:
    spec = """\
    apiVersion: maisa/v1
    kind: Worker
    name: nested
    goal: g
    outputs:
      invoice:
        type: object
        properties:
          number: {type: string}
          lines: {type: array, items: {type: object, properties: {amount: {type: number}}}}
          note: {type: string, required: false}
    """
    schema = compile_spec(write_spec(spec)).output_schema
    invoice = schema["properties"]["invoice"]
    assert invoice["required"] == ["number", "lines"]
    assert invoice["additionalProperties"] is False
    assert invoice["properties"]["lines"]["items"]["properties"]["amount"] == {"type": "number"}
