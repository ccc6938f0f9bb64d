"""Pydantic validation errors rewritten as messages a person can act on.

Each error becomes `(loc, message, at_key)`: the path in the YAML data, a
sentence naming the key and what was expected, and whether the error is best
pointed at the key (unknown key) rather than the value.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class FieldError:
    """One validation error, located by its path in the YAML data."""

    loc: Loc
    message: str
    at_key: bool = False


def dotted(loc: Loc) -> str:
    """`("tools", 2, "name")` -> `tools[2].name`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation one level down from `annotation` along `part`, or None."""
    for candidate in _unwrap(annotation):
        origin = typing.get_origin(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, info in candidate.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        elif origin is dict and isinstance(part, str):
            return typing.get_args(candidate)[1]
        elif origin is list and isinstance(part, int):
            return typing.get_args(candidate)[0]
    return None


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping found at `loc`, if there is one."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    for candidate in _unwrap(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def valid_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def suggest(word: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` when a choice is close to `word`, else empty."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(error: dict[str, Any], loc: Loc, root: type[BaseModel]) -> FieldError:
    kind = error["type"]
    value = error.get("input")
    where = dotted(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = model_at(root, loc[:-1])
        choices = valid_keys(model) if model else []
        hint = suggest(key, choices)
        if not hint and choices:
            hint = f"; valid keys here: {', '.join(choices)}"
        return FieldError(loc, f"unknown key {key!r}{hint}", at_key=True)
    if kind == "missing":
        parent = dotted(loc[:-1])
        inside = f" in {parent}" if loc[:-1] else ""
        return FieldError(loc, f"missing required key {loc[-1]!r}{inside}")
    if kind in ("model_type", "model_attributes_type") and len(loc) == 2 and loc[0] == "tools":
        expected = "a tool name or a mapping such as {name: nif, module: tools/nif.py}"
        return FieldError(loc, f"{where}: expected {expected}, got {_short(value)}")
    if kind in _TYPE_NAMES:
        return FieldError(loc, f"{where}: expected {_TYPE_NAMES[kind]}, got {_short(value)}")
    if kind == "value_error":
        text = str(error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Value error, ")
        return FieldError(loc, f"{where}: {text}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return FieldError(loc, f"{where}: expected {expected}, got {_short(value)}")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        return FieldError(loc, f"{where}: {_short(value)} does not match {pattern!r}")
    msg = error["msg"]
    return FieldError(loc, f"{where}: {msg[0].lower() + msg[1:]}, got {_short(value)}")


def _data_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop the parts pydantic adds for union members (`bool`, `list[str]`, `function-...`)."""
    kept: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            kept.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            kept.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_union_tag(part):
            kept.append(part)  # a missing key: keep it, so the message can name it
            node = None
        # Anything else is a union member tag or a path into a shorthand (`tools: [pdf]`).
    return tuple(kept)


def _is_union_tag(part: str) -> bool:
    return any(c in part for c in "[]-,") or part in {"bool", "str", "int", "float", "dict"}


_EXPECTED = re.compile(r"expected (.*), got (.*)")


def translate(exc: ValidationError, data: Any, root: type[BaseModel]) -> list[FieldError]:
    """Every error of `exc`, located in `data`, with union alternatives merged into one."""
    by_loc: dict[Loc, list[FieldError]] = {}
    for error in exc.errors(include_url=False):
        loc = _data_loc(error["loc"], data)
        if "[key]" in error["loc"]:
            # A mapping key of the wrong type (e.g. `inputs: {1: ...}`): name the key.
            where = dotted(loc[:-1])
            message = f"{where}: key {_short(error.get('input'))} must be a string"
            by_loc.setdefault(loc, []).append(FieldError(loc, message, at_key=True))
            continue
        by_loc.setdefault(loc, []).append(_message(error, loc, root))
    merged: list[FieldError] = []
    for loc, errors in by_loc.items():
        if len(errors) == 1 or any(e.at_key or "missing" in e.message for e in errors):
            merged.extend(dict.fromkeys(errors))
            continue
        # One value that matched none of a union's members: say it once.
        prefix = f"{dotted(loc)}: "
        reasons = list(dict.fromkeys(e.message.removeprefix(prefix) for e in errors))
        matches = [_EXPECTED.fullmatch(r) for r in reasons]
        if all(matches) and len({m.group(2) for m in matches if m}) == 1:
            expected = " or ".join(m.group(1) for m in matches if m)
            reasons = [f"expected {expected}, got {matches[0].group(2)}"]  # type: ignore[union-attr]
        merged.append(FieldError(loc, prefix + "; or ".join(reasons)))
    return merged
