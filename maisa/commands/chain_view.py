"""The Chain-of-Work as a person reads it (the seed plan, module 4.3), built from rich renderables.

A run's header (status, duration, mode, input, result, model usage), then each
step: failed attempts first, marked as such, then the accepted attempt, each
with its code, output, the variables it produced and its tool calls.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from maisa.commands.printable import for_markup, printable
from maisa.store.records import RunRecord, RunStatus, StepRecord, ToolCallRecord

STATUS_MARKS = {
    RunStatus.SUCCEEDED: ("✅", "green"),
    RunStatus.FAILED: ("❌", "red"),
    RunStatus.RUNNING: ("⏳", "cyan"),
    RunStatus.QUEUED: ("🕒", "blue"),
    RunStatus.CANCELLED: ("⛔", "yellow"),
    RunStatus.INTERRUPTED: ("⚠️ ", "yellow"),
}
# How much of a long value the human view shows; --json always has everything.
VALUE_CHARS = 300
OUTPUT_LINES = 40


def status_text(status: RunStatus) -> Text:
    """`✅ SUCCEEDED` and friends, coloured."""
    mark, style = STATUS_MARKS.get(status, ("•", "white"))
    return Text(f"{mark} {status.value}", style=f"bold {style}")


def seconds(value: float | None) -> str:
    """A duration as people write it: 0.25s, 8.7s, 2m05s, 1h02m."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s" if value < 1 else f"{value:.1f}s"
    if value < 3600:
        minutes, secs = divmod(int(round(value)), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    hours, rest = divmod(int(round(value)), 3600)
    return f"{hours}h{rest // 60:02d}m"


def moment(value: datetime | None) -> str:
    """A UTC timestamp to the second."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: Any, limit: int = VALUE_CHARS) -> str:
    """A value as compact JSON (or text), cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    text = text.replace("\n", "\\n") if not isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reap(store: Any) -> list[int]:
    """Mark runs whose owner died INTERRUPTED, if the store lets us write (it may be a
    read-only copy): reading commands still work, with a warning."""
    from maisa.commands.output import err
    from maisa.errors import StoreError

    try:
        reaped = store.reap_interrupted()
    except StoreError as exc:
        reason = for_markup(exc.message)
        err.print(f"[yellow]warning:[/] could not check for interrupted runs: {reason}")
        return []
    if reaped:
        err.print(f"marked INTERRUPTED (owner gone): {', '.join(f'#{i}' for i in reaped)}")
    return reaped


def run_header(run: RunRecord) -> RenderableType:
    """Everything about the run before its steps."""
    lines: list[RenderableType] = [
        Text(f"RUN #{run.id} - {run.worker_name} v{run.worker_version}", style="bold"),
        Text.assemble("Status: ", status_text(run.status)),
    ]
    mode = run.mode.value
    if run.lock_revision is not None:
        mode += f" (lock revision {run.lock_revision})"
    lines.append(Text(f"Duration: {seconds(run.duration_s)}    Mode: {mode}"))
    lines.append(Text(f"Started: {moment(run.started_at or run.created_at)}"))
    lines.append(Text("Input: ") + Text(_inputs(run.input)))
    if run.status is RunStatus.SUCCEEDED or run.result is not None:
        lines.append(Text("Result: ", style="bold") + Text(short(run.result)))
    if run.error:
        lines.append(Text("Error: ", style="bold red") + Text(run.error))
    lines.append(
        Text(
            f"Model: {run.model_calls} calls, {run.prompt_tokens} prompt + "
            f"{run.completion_tokens} completion tokens"
        )
    )
    if run.owner and run.status in (RunStatus.RUNNING, RunStatus.INTERRUPTED):
        lines.append(Text(f"Owner: {run.owner} (last heartbeat {moment(run.heartbeat_at)})"))
    if run.plan:
        lines.append(Text("Plan:"))
        lines.extend(Text(f"  {i}. {item}") for i, item in enumerate(run.plan, 1))
    return Group(*lines)


def _inputs(inputs: Any) -> str:
    if isinstance(inputs, dict) and inputs:
        return ", ".join(f"{k}={short(v, 120)}" for k, v in inputs.items())
    return short(inputs)


def chain_of_work(run: RunRecord, *, prompts: bool = False) -> RenderableType:
    """The whole Chain-of-Work of a run: header, rule, then every step attempt."""
    run = printable(run)
    parts: list[RenderableType] = [run_header(run), Text(""), Text("CHAIN-OF-WORK:", style="bold")]
    parts.append(Rule(style="dim", characters="━"))
    if not run.steps:
        parts.append(Text("(no steps recorded)", style="dim"))
    for step, accepted, previous in _attempts(run.steps):
        parts.append(step_view(step, accepted=accepted, previous=previous, prompts=prompts))
    return Group(*parts)


def _attempts(steps: list[StepRecord]) -> Iterator[tuple[StepRecord, bool, dict[str, Any]]]:
    """Each attempt, whether it is its step's accepted one, and the variables before it."""
    last_attempt: dict[int, int] = {}
    for step in steps:
        last_attempt[step.number] = max(step.attempt, last_attempt.get(step.number, 0))
    previous: dict[str, Any] = {}
    for step in steps:
        accepted = step.attempt == last_attempt[step.number] and step.status == "OK"
        yield step, accepted, step.variables_in or previous
        if accepted:
            previous = step.variables_out or previous


def step_view(
    step: StepRecord, *, accepted: bool, previous: dict[str, Any], prompts: bool = False
) -> RenderableType:
    """One attempt at one step."""
    title = Text(f"Step {step.number}", style="bold")
    if step.attempt > 1 or not accepted:
        title.append(f", attempt {step.attempt}")
    title.append(f" ({seconds(step.duration_s)}) - {step.description}")
    if not accepted:
        failed = step.status != "OK"
        label = f"  [failed attempt: {step.status}]" if failed else "  [not accepted]"
        title.append(label, style="bold red" if failed else "yellow")
    body: list[RenderableType] = []
    if prompts and step.prompt:
        body += [Text("Prompt:", style="dim"), _indent(Text(step.prompt, style="dim"))]
    if prompts and step.model_reply:
        body += [Text("Model reply:", style="dim"), _indent(Text(step.model_reply, style="dim"))]
    body.append(Text("Code:"))
    body.append(_indent(_code(step.code)))
    if step.stdout:
        body += [Text("Output:"), _indent(Text(_tail(step.stdout)))]
    if step.stderr:
        body += [Text("Stderr:", style="yellow"), _indent(Text(_tail(step.stderr)))]
    produced = _produced(step.variables_out or {}, previous)
    if produced:
        body.append(Text("Variables:"))
        body.append(_indent(Group(*(Text(f"{k} = {short(v)}") for k, v in produced.items()))))
    if step.tool_calls:
        body.append(Text("Tool calls:"))
        body.append(_indent(Group(*(tool_call_line(c) for c in step.tool_calls))))
    body.append(Text("Result:"))
    body.append(_indent(_outcome(step)))
    return Group(Text(""), title, _indent(Group(*body)))


def tool_call_line(call: ToolCallRecord) -> Text:
    """`✅ pdf.extract_text('a.pdf') -> str (120 chars)  0.01s`."""
    mark = Text("✅ ", style="green") if call.ok else Text("❌ ", style="red")
    line = mark + Text(f"{call.tool}.{call.function}{_call_args(call.arguments)}")
    outcome = call.result_summary if call.ok else (call.error or call.result_summary)
    line.append(f" -> {short(outcome, 160)}", style=None if call.ok else "red")
    line.append(f"  {seconds(call.duration_s)}", style="dim")
    return line


def _call_args(arguments: str) -> str:
    text = short(arguments, 160)
    return text if text.startswith("(") else f"({text})"


def _outcome(step: StepRecord) -> Text:
    if step.status == "OK":
        return Text(f"✅ ok (cpu {seconds(step.cpu_s)}, peak {step.peak_memory_mb:.0f} MB)")
    error = (step.error or "no error recorded").rstrip()
    return Text(f"❌ {step.status}: {error}", style="red")


def _produced(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Variables that are new or changed by a step."""
    return {k: v for k, v in after.items() if k not in before or before[k] != v}


def _tail(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= OUTPUT_LINES:
        return "\n".join(lines)
    hidden = len(lines) - OUTPUT_LINES
    return "\n".join([f"… {hidden} earlier lines (see --json)", *lines[-OUTPUT_LINES:]])


def _code(code: str) -> Syntax:
    # Wrapped, never cropped: an auditor must see every character of the code that ran.
    return Syntax(
        code.rstrip() or "# (no code)",
        "python",
        theme="ansi_dark",
        background_color="default",
        word_wrap=True,
    )


def _indent(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2), expand=False)


def print_plain(console: Console, renderable: RenderableType, *, wide: bool = False) -> None:
    """Print to a terminal as rich does; to a pipe or file without trailing blanks, and (with
    `wide`) as wide as the content needs, so tables are never cut."""
    if console.is_terminal:
        console.print(renderable)
        return
    width = console.width
    if wide:
        options = console.options.update(width=10_000, max_width=10_000)
        width = max(width, Measurement.get(console, options, renderable).maximum)
    plain = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    plain.print(renderable, crop=False)
    text = "\n".join(line.rstrip() for line in plain.file.getvalue().splitlines())
    console.file.write(text + "\n")
    console.file.flush()
