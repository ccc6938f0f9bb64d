"""Drafting a plan with the model, for a spec without `steps` (at run start, or `compile --plan`).

The reply must hold a numbered list; anything else is asked again, up to
`attempts` times. The caller supplies `ask` (one chat completion), so a run
can meter and time-limit it and a command can call the model client directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maisa.compiler.compiled import CompiledWorker
from maisa.errors import MaisaError
from maisa.runtime.model import Completion
from maisa.runtime.prompting import Messages, plan_messages
from maisa.runtime.reply import parse_plan

RETRY_PROMPT = (
    "That was not a numbered list. Reply with the plan as a numbered list "
    "(1. ..., 2. ...), one short step per line."
)


class PlanNotDrafted(MaisaError):
    """The model gave no usable plan (exit 1: the worker could not run)."""


@dataclass(frozen=True)
class PlanAttempt:
    """One request for a plan and what came of it (`steps` empty: no list in the reply)."""

    attempt: int
    reply: str
    steps: list[str]


def draft_plan(
    compiled: CompiledWorker,
    ask: Callable[[Messages], Completion],
    *,
    inputs: dict[str, Any] | None = None,
    attempts: int = 1,
    on_attempt: Callable[[PlanAttempt], None] | None = None,
) -> list[str]:
    """The plan the model drafts (at most `limits.max_steps` steps); PlanNotDrafted if none."""
    base = plan_messages(compiled, inputs)
    messages = base
    reply = ""
    for attempt in range(1, max(1, attempts) + 1):
        completion = ask(messages)
        reply = completion.text or ""
        steps = parse_plan(reply)[: compiled.spec.limits.max_steps]
        if on_attempt is not None:
            on_attempt(PlanAttempt(attempt, reply, steps))
        if steps:
            return steps
        messages = [
            *base,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": RETRY_PROMPT},
        ]
    raise PlanNotDrafted(
        f"the model did not draft a plan (a numbered list) after {max(1, attempts)} "
        f"attempt(s); its last reply began: {reply[:200]!r}"
    )
