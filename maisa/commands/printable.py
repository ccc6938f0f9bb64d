"""Recorded text made safe for a terminal: control characters shown, never obeyed.

Step output, variables, tool results and even code carry text that a prompt-injected
model or a crafted e-mail or PDF chose. Printed raw, an escape sequence could clear the
auditor's screen, recolour a failure as a success or retitle the window; a bidi override
could reorder what a line seems to say. The human views print such characters escaped
(`\\x1b`, `\\u202e`); `--json` keeps the exact bytes.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TypeVar

# C0 controls but newline and tab, DEL, C1 controls, and the Unicode bidi controls.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

T = TypeVar("T")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable_text(text: str) -> str:
    """`text` with every control character but newline and tab written as an escape."""
    return _UNSAFE.sub(_escape, text)


def printable(value: T) -> T:
    """A copy of `value` (strings, lists, dicts, dataclasses, nested) with printable strings."""
    if type(value) is str:  # not str enums (statuses, modes): they are ours, and typed
        return printable_text(value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [printable(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(printable(v) for v in value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: printable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def for_markup(value: object) -> str:
    """`value` as text to embed in a rich markup string: printable, and `[...]` kept literal."""
    from rich.markup import escape

    return escape(printable_text(str(value)))
