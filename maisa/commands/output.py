"""Where CLI output goes: results on stdout, logs and progress on stderr (DESIGN §9)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Progress, logs and human-readable errors; never mixed into --json output.
err = Console(stderr=True, highlight=False)
# Human-readable results.
out = Console(highlight=False)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if hasattr(value, "__fspath__"):
        return str(value)
    return repr(value)


_emitted = False


def emit_json(value: Any) -> None:
    """Print `value` as JSON alone on stdout."""
    global _emitted
    _emitted = True
    sys.stdout.write(json.dumps(value, indent=2, default=_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_json_error(
    message: str, exit_code: int, hint: str | None = None, problems: list[str] | None = None
) -> None:
    """Under --json, an error as `{"error", "hint", "exit_code"}` (and a spec's `problems`) on
    stdout, so a script reading stdout always gets one JSON document; nothing if the command
    already printed its own."""
    if _emitted:
        return
    report: dict[str, Any] = {"error": message, "hint": hint, "exit_code": exit_code}
    if problems is not None:
        report["problems"] = problems
    emit_json(report)
