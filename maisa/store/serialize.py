"""Turning what the runtime hands the store into values both databases accept.

PostgreSQL refuses NUL characters in text and NaN/Infinity in JSONB, and a
step's variables may hold anything the sandbox could repr; these helpers make
one canonical, storable form so both backends keep exactly the same data.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# What a NUL character becomes: visible in an audit, storable everywhere.
NUL_REPLACEMENT = "\\x00"


def clean_text(value: str | None) -> str | None:
    """Text without NUL characters (PostgreSQL cannot store them)."""
    if value is None:
        return None
    return value.replace("\0", NUL_REPLACEMENT) if "\0" in value else value


def to_json_data(value: Any) -> Any:
    """`value` as plain JSON data: dicts, lists, str, finite numbers, bools, None."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): to_json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_data(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return to_json_data(asdict(value))
    return clean_text(repr(value))


def dumps(value: Any) -> str:
    """Compact JSON text of already-cleaned data."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def input_hash(inputs: Any) -> str:
    """sha256 of the canonical JSON of a run's (redacted) input."""
    canonical = json.dumps(inputs, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def utc(value: datetime | str | None) -> datetime | None:
    """A timezone-aware UTC datetime from a database value (naive values are UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
