"""The chat messages sent to the model: the compiled system prompt, then the step, fix or plan.

Every request is [system, user] or, for a fix, [system, user, assistant, user]
with only the latest failed attempt: never the whole run's conversation, so
each request stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maisa.compiler.compiled import CompiledWorker
from maisa.compiler.prompts import render
from maisa.runtime.context import (
    BUDGET_LADDER,
    ContextBudget,
    StepView,
    clip,
    history,
    input_lines,
    variable_lines,
)

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed, as the fix prompt shows it."""

    kind: str  # MODEL_ERROR, REJECTED, ERROR, TIMEOUT, KILLED_OOM, CRASHED, INVALID_RESULT
    error: str
    reply: str  # the assistant message that led to it (the frozen code, when healing)
    stdout: str = ""
    discarded: tuple[str, ...] = ()


# A step prompt may grow to this multiple of the same prompt without history, so that the
# prompt of step 20 stays within 1.5x the prompt of step 1 (whose history is empty).
PROMPT_GROWTH = 1.45


def step_messages(
    compiled: CompiledWorker,
    *,
    number: int,
    total: int,
    description: str,
    inputs: dict[str, Any],
    steps: list[StepView],
    variables: dict[str, Any],
    extra: bool = False,
) -> Messages:
    """The request for a step's first attempt, its history trimmed to fit PROMPT_GROWTH."""

    def render_with(budget: ContextBudget, past: list[StepView], names: dict[str, Any]) -> str:
        return render(
            "step.j2",
            number=number,
            total=total,
            description=description,
            inputs=input_lines(inputs, compiled.input_schema, budget),
            history=history(past, budget),
            variables=variable_lines(names, budget),
            extra=extra,
        )

    system = compiled.system_prompt
    limit = PROMPT_GROWTH * (len(system) + len(render_with(BUDGET_LADDER[0], [], {})))
    for budget in BUDGET_LADDER:
        prompt = render_with(budget, steps, variables)
        if len(system) + len(prompt) <= limit:
            break
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def fix_messages(
    first: Messages,
    *,
    number: int,
    description: str,
    attempt: int,
    attempts_left: int,
    failure: Failure,
    budget: ContextBudget | None = None,
) -> Messages:
    """The request after a failed attempt: the step request, the failed reply, what went wrong."""
    budget = budget or ContextBudget()
    prompt = render(
        "fix.j2",
        number=number,
        description=description,
        attempt=attempt,
        attempts_left=attempts_left,
        kind=failure.kind,
        error=clip(failure.error.rstrip(), 3000, keep="tail"),
        stdout=clip(failure.stdout.rstrip(), budget.stdout_chars, keep="tail"),
        discarded=list(failure.discarded),
    )
    return [
        *first[:2],
        {"role": "assistant", "content": clip(failure.reply, 4000)},
        {"role": "user", "content": prompt},
    ]


def plan_messages(compiled: CompiledWorker, inputs: dict[str, Any] | None) -> Messages:
    """The request to draft a plan, for a spec without `steps` (inputs None: at compile time)."""
    budget = ContextBudget()
    if inputs is None:
        properties = compiled.input_schema.get("properties", {})
        lines = [f"inputs[{name!r}]: {p.get('description') or p.get('type', 'any')}"
                 for name, p in properties.items()]  # fmt: skip
    else:
        lines = input_lines(inputs, compiled.input_schema, budget)
    prompt = render("plan.j2", inputs=lines, max_steps=compiled.spec.limits.max_steps)
    return [
        {"role": "system", "content": compiled.system_prompt},
        {"role": "user", "content": prompt},
    ]


def transcript(messages: Messages, fingerprint: str) -> str:
    """A request as recorded in the Chain-of-Work: every message but the (compiled) system one."""
    parts = [f"[system prompt of the compiled worker {fingerprint}]"]
    for message in messages:
        if message["role"] != "system":
            parts.append(f"[{message['role']}]\n{message['content']}")
    return "\n\n".join(parts)


def as_reply(code: str) -> str:
    """Frozen code shown to the model as if it had written it (healing a locked step)."""
    return f"```python\n{code.rstrip()}\n```"
