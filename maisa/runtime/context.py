"""What the model is shown of the run so far, within a budget.

A prompt must stay bounded however long the run is (the prompt for step 20
is not 20x the prompt for step 1): the last few steps are shown in full
(code, printed output), older ones as one line each (what they defined), the
oldest beyond that only counted; variables as name, type and a short value.
When even that is too long for the prompt's size limit, the budget steps down
BUDGET_LADDER (fewer and shorter steps, fewer variables) until it fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from maisa.compiler.schemas import FILE_MARK

# Reprs of non-JSON values the harness snapshotted, e.g. "b'%PDF-1.4...'" or "<object at 0x..>".
_REPR_PREFIXES = ("b'", 'b"', "<", "bytearray(", "Decimal(", "datetime.")


@dataclass(frozen=True)
class ContextBudget:
    """How much of the past a step prompt may carry."""

    full_steps: int = 3  # the most recent steps shown with code and output
    code_chars: int = 1500  # per fully shown step
    stdout_chars: int = 1000  # per fully shown step (its tail is kept)
    summary_steps: int = 6  # older steps shown as one line each; the rest only counted
    max_variables: int = 25
    value_chars: int = 80  # per variable's shown value
    input_chars: int = 120  # per input's shown value


# From generous to terse; the prompt builder takes the first that fits its size limit.
BUDGET_LADDER = (
    ContextBudget(),
    ContextBudget(code_chars=800, stdout_chars=500, max_variables=20, value_chars=60),
    ContextBudget(2, 600, 300, 4, 15, 50),
    ContextBudget(1, 600, 300, 3, 12, 40),
    ContextBudget(1, 300, 200, 2, 10, 30),
    ContextBudget(1, 200, 120, 0, 8, 24, 60),
)


@dataclass
class StepView:
    """An accepted step as later prompts see it."""

    number: int
    description: str
    code: str
    stdout: str = ""
    defined: list[str] = field(default_factory=list)  # names it assigned or changed


def clip(text: str, limit: int, *, keep: str = "head") -> str:
    """`text` cut to about `limit` characters with a visible marker (head or tail kept)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    if keep == "tail":
        return f"[... {dropped} earlier characters not shown ...]\n" + text[-limit:]
    return text[:limit] + f"\n[... {dropped} more characters not shown ...]"


def describe_value(value: Any, limit: int) -> tuple[str, str]:
    """(type name, short text) of a snapshotted variable value."""
    if isinstance(value, str) and value.startswith(_REPR_PREFIXES):
        kind = "bytes" if value[:2] in ("b'", 'b"') else "object"
        text = value if len(value) <= limit else value[: max(0, limit - 3)] + "..."
        return kind, text.replace("\n", " ")
    kind = "None" if value is None else type(value).__name__
    if isinstance(value, list | dict):
        kind = f"{kind}[{len(value)}]"
    elif isinstance(value, str):
        kind = f"str[{len(value)}]" if len(value) > limit else "str"
        value = value[: limit + 1]  # no need to encode a long text to show its start
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return kind, text


def variable_lines(variables: dict[str, Any], budget: ContextBudget) -> list[str]:
    """`name: type = value` lines, the newest-defined names last, capped in count."""
    names = list(variables)
    shown = names[-budget.max_variables :]
    lines = []
    if len(names) > len(shown):
        hidden = names[: len(names) - len(shown)]
        lines.append(f"(and {len(hidden)} older variables: {', '.join(hidden[:20])})")
    for name in shown:
        kind, text = describe_value(variables[name], budget.value_chars)
        lines.append(f"{name}: {kind} = {text}")
    return lines


def input_lines(inputs: dict[str, Any], schema: dict[str, Any], budget: ContextBudget) -> list[str]:
    """`inputs['name']` lines with the schema type and a short preview of the value."""
    properties = schema.get("properties", {})
    lines = []
    for name, value in inputs.items():
        declared = properties.get(name, {})
        kind = "file path" if declared.get(FILE_MARK) == "file" else declared.get("type", "any")
        _, text = describe_value(value, budget.input_chars)
        lines.append(f"inputs[{name!r}] ({kind}) = {text}")
    return lines


@dataclass(frozen=True)
class History:
    """The past steps, arranged for a prompt."""

    omitted: int  # oldest steps only counted
    summaries: list[str]  # one line per older step
    recent: list[dict[str, Any]]  # number, description, code, stdout


def history(steps: list[StepView], budget: ContextBudget) -> History:
    """The accepted steps so far, arranged within `budget`."""
    recent = steps[-budget.full_steps :] if budget.full_steps else []
    older = steps[: len(steps) - len(recent)]
    summarised = older[-budget.summary_steps :] if budget.summary_steps else []
    summaries = [
        f"Step {s.number}: {s.description}"
        + (f" (defined: {', '.join(s.defined[:12])})" if s.defined else "")
        for s in summarised
    ]
    return History(
        omitted=len(older) - len(summarised),
        summaries=summaries,
        recent=[
            {
                "number": s.number,
                "description": s.description,
                "code": clip(s.code.rstrip("\n"), budget.code_chars),
                "stdout": clip(s.stdout.rstrip("\n"), budget.stdout_chars, keep="tail"),
            }
            for s in recent
        ],
    )


def defined_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names a step assigned: new ones, and ones whose snapshotted value changed."""
    return [name for name, value in after.items() if name not in before or before[name] != value]
