"""Reading a model reply: the first fenced python block is the code, the rest is the thought."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ```python / ```py / ```python3, up to the next closing fence on its own line (or the end:
# a reply cut off by max_tokens still yields its code, and the validator judges it).
_FENCE = re.compile(
    r"^[ \t]*```[ \t]*(?:python3?|py)[ \t]*\r?\n(?P<code>.*?)(?:^[ \t]*```[ \t]*$|\Z)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_ANY_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


@dataclass(frozen=True)
class ParsedReply:
    """A reply split into code and thought; `problem` says why it is unusable (then no code)."""

    code: str | None
    thought: str
    problem: str | None = None


def parse_reply(text: str | None, refusal: str | None = None) -> ParsedReply:
    """Split a reply. No python block, an empty block, an empty reply or a refusal is a problem."""
    if refusal:
        return ParsedReply(None, refusal, f"the model refused: {refusal.strip()[:300]}")
    text = text or ""
    if not text.strip():
        return ParsedReply(None, "", "the reply was empty; answer with one ```python block")
    match = _FENCE.search(text)
    if match is None:
        other = _ANY_FENCE.search(text)
        hint = (
            "a fenced block was found but not marked as python; start it with ```python"
            if other
            else "the reply had no ```python block"
        )
        return ParsedReply(None, text.strip(), f"{hint}; answer with exactly one ```python block")
    code = match.group("code").rstrip()
    thought = (text[: match.start()] + text[match.end() :]).strip()
    if not code.strip():
        return ParsedReply(None, thought, "the ```python block was empty; write the step's code")
    return ParsedReply(code + "\n", thought)


_PLAN_LINE = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*])\s+(?P<text>\S.*?)\s*$")


def parse_plan(text: str | None) -> list[str]:
    """The steps of a numbered (or bulleted) list in a plan reply; [] when there is none."""
    steps = []
    for line in (text or "").splitlines():
        match = _PLAN_LINE.match(line)
        if match:
            steps.append(match.group("text").strip().strip("*").strip())
    return [s for s in steps if s]
