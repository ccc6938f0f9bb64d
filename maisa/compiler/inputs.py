"""Run inputs from the command line, and validation of inputs and results against the schemas.

`--input k=v` values are text; they are coerced by the type the input schema
declares (integer, number, boolean; object and array as JSON). `file` inputs
become absolute paths that must name existing files. Every problem is
reported at once, each naming the field.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from maisa.compiler.compiled import CompiledWorker
from maisa.compiler.schemas import file_fields
from maisa.errors import InputError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(name: str, text: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(text.strip())
        if kind == "number":
            number = float(text.strip())
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "boolean":
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError
        if kind in ("object", "array"):
            return json.loads(text)
        if kind == "null" and text.strip() in ("", "null"):
            return None
    except (ValueError, json.JSONDecodeError) as exc:
        detail = f" ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        article = "an" if kind in ("integer", "object", "array") else "a"
        raise InputError(
            f"input {name!r}: expected {article} {kind}, got {text!r}{detail}"
        ) from None
    return text


def _read_input_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read input file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}: input file is not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the input file must hold a JSON object of inputs")
    return data


def parse_cli_inputs(
    pairs: list[str], input_file: Path | None, compiled: CompiledWorker
) -> dict[str, Any]:
    """Inputs from `--input-file F.json` (a JSON object) and `--input k=v` pairs (which win).

    Relative `file` paths in pairs resolve against the current directory; in the
    input file, against the input file's directory.
    """
    properties = compiled.input_schema.get("properties", {})
    files = set(file_fields(compiled.input_schema))
    inputs: dict[str, Any] = {}
    if input_file is not None:
        for name, value in _read_input_file(input_file).items():
            if name in files and isinstance(value, str) and value:
                value = str((input_file.parent / Path(value).expanduser()).absolute())
            inputs[name] = value
    given: set[str] = set()
    problems: list[str] = []
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"--input {pair!r}: expected NAME=VALUE")
            continue
        if name in given:
            problems.append(f"input {name!r}: given twice")
            continue
        given.add(name)
        try:
            value = _coerce(name, text, properties.get(name, {}))
        except InputError as exc:
            problems.append(exc.message)
            continue
        if name in files and value:
            value = str(Path(value).expanduser().absolute())
        inputs[name] = value
    if problems:
        raise InputError("\n".join(problems), hint=_usage_hint(compiled))
    return inputs


def _usage_hint(compiled: CompiledWorker) -> str:
    names = list(compiled.input_schema.get("properties", {}))
    if not names:
        return "this worker takes no inputs"
    return "inputs of this worker: " + ", ".join(names) + " (pass them as --input NAME=VALUE)"


def _describe(error: ValidationError, label: str, known: list[str]) -> list[str]:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    field = path.lstrip(".")
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in error.validator_value if n not in error.instance]
        where = f" in {field}" if field else ""
        return [f"{label} {n!r}: missing (required){where}" for n in missing]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        choices = known if not field else sorted(allowed)
        messages = []
        for extra in (k for k in error.instance if k not in allowed):
            close = difflib.get_close_matches(str(extra), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            messages.append(
                f"{label} {(field + '.' if field else '') + str(extra)!r}: not declared{hint}"
            )
        return messages
    if not field:
        return [f"{label}: {error.message}"]
    return [f"{label} {field!r}: {error.message}"]


def schema_problems(schema: dict[str, Any], value: Any, label: str) -> list[str]:
    """Every way `value` fails `schema`, one message per problem, each naming the field."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    known = list(schema.get("properties", {}))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [message for error in errors for message in _describe(error, label, known)]


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def validate_inputs(compiled: CompiledWorker, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs with defaults applied and `file` paths resolved; raises `InputError`."""
    schema = compiled.input_schema
    result = dict(inputs)
    for name, prop in schema.get("properties", {}).items():
        if name not in result and "default" in prop:
            result[name] = prop["default"]
    problems = [
        f"input {name!r}: {value!r} is not a JSON number (NaN and infinity cannot be stored)"
        for name, value in result.items()
        if _has_non_finite(value)
    ]
    problems += schema_problems(schema, result, "input")
    for name in file_fields(schema):
        value = result.get(name)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser()
        if not path.exists():
            problems.append(f"input {name!r}: file not found: {value}")
        elif not path.is_file():
            problems.append(f"input {name!r}: not a regular file: {value}")
        elif not os.access(path, os.R_OK):
            # Caught here, not by the tool inside a step: that would fail every attempt.
            problems.append(f"input {name!r}: cannot read {value}: permission denied")
        else:
            result[name] = str(path.resolve())
    if problems:
        raise InputError("\n".join(problems), hint=_usage_hint(compiled))
    return result


def validate_result(compiled: CompiledWorker, result: Any) -> list[str]:
    """Why `result` (what step code passed to `finish`) does not match the outputs; [] if valid."""
    if not isinstance(result, dict):
        outputs = ", ".join(compiled.output_schema.get("properties", {})) or "no keys"
        return [f"result: expected a dict with {outputs}, got {type(result).__name__}"]
    return schema_problems(compiled.output_schema, result, "output")
