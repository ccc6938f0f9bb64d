"""Human units in specs: durations (`30s`, `10m`) and sizes (`256m`, `1g`)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: object) -> float:
    """Seconds from `500ms`, `30s`, `10m`, `1h` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s or 10m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_FACTOR[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as 30s, 10m or 1h, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from `512k`, `256m`, `1g`, `1GiB` or a bare number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 256m or 1g, got {value!r}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
        size = int(float(match.group(1)) * _SIZE_FACTOR[unit])
    else:
        raise ValueError(f"expected a size such as 256m or 1g, got {value!r}")
    if size <= 0:
        raise ValueError(f"a size must be positive, got {value!r}")
    return size


def format_size(size: int) -> str:
    """The shortest exact unit form of a byte count (`268435456` -> `256m`)."""
    for unit in ("t", "g", "m", "k"):
        factor = _SIZE_FACTOR[unit]
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
