"""The host side of tool calls: runs the real function and records the call (DESIGN §6)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from maisa.errors import ToolError
from maisa.sandbox.base import ToolCall

SUMMARY_LIMIT = 300
SUMMARY_DEPTH = 8
# Arguments come from step code: nesting deeper than this is refused before anything walks it
# (summarize, the tool itself), so no recursion limit is reached on the host.
MAX_ARGUMENT_DEPTH = 50


def summarize(value: Any, limit: int = SUMMARY_LIMIT, _depth: int = 0) -> str:
    """A short, bounded, human-readable rendering of a value for the Chain-of-Work."""
    if _depth >= SUMMARY_DEPTH and isinstance(value, dict | list | tuple):
        return "{...}" if isinstance(value, dict) else "[...]"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and len(value) > limit:
        # Cut before repr: a 64 MiB tool result must not be rendered whole to keep 300 chars.
        text, size = repr(value[:limit]), len(value)
        suffix = f"... ({size} chars)"
        return text[: limit - len(suffix)] + suffix
    if isinstance(value, dict):
        items = list(value.items())[:limit]
        text = "{" + ", ".join(f"{k!r}: {summarize(v, 80, _depth + 1)}" for k, v in items) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(summarize(v, 80, _depth + 1) for v in list(value)[:limit]) + "]"
    else:
        text = repr(value)
    if len(text) <= limit:
        return text
    suffix = f"... ({len(value) if isinstance(value, list | tuple | dict) else len(text)} "
    suffix += "items)" if isinstance(value, list | tuple | dict) else "chars)"
    return text[: limit - len(suffix)] + suffix


def public_functions(tool: object) -> dict[str, Callable[..., Any]]:
    """The functions of a tool object that step code may call: public callables, by name."""
    return {
        name: member
        for name, member in inspect.getmembers(tool, callable)
        if not name.startswith("_") and not inspect.isclass(member)
    }


def check_result(value: Any, where: str, depth: int = 0) -> None:
    """Refuse a tool result the sandbox channel cannot carry: only JSON values and bytes travel."""
    if depth > 50:
        raise ToolError(f"{where} returned a value nested too deeply")
    if value is None or isinstance(value, bool | int | str | bytes | bytearray):
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ToolError(f"{where} returned {value!r}, which JSON cannot carry")
        return
    if isinstance(value, list | tuple):
        for item in value:
            check_result(item, where, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ToolError(f"{where} returned a dict with a {type(key).__name__} key")
            check_result(item, where, depth + 1)
        return
    raise ToolError(
        f"{where} returned a {type(value).__name__}; tools must return JSON values or bytes"
    )


def check_arguments(value: Any, where: str) -> None:
    """Refuse arguments nested deeper than MAX_ARGUMENT_DEPTH (iteratively: no recursion)."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            raise ToolError(f"{where}: arguments nested more than {MAX_ARGUMENT_DEPTH} deep")
        if isinstance(item, dict):
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            pending.extend((v, depth + 1) for v in item)


def _signature(target: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have none; their own errors will do
        return None


def _bind(
    target: Callable[..., Any],
    signature: inspect.Signature | None,
    where: str,
    args: list[Any],
    kwargs: dict[str, Any],
) -> None:
    # A wrong call is the step's mistake: say so in terms of the documented signature.
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        from maisa.tools.docs import render_signature

        raise ToolError(f"{where}{render_signature(target)}: {exc}") from None


class ToolBroker:
    """Executes the declared tools' functions for a session and keeps a log of the calls.

    `redact` is applied to the recorded argument and result summaries, so a
    secret a tool returns never reaches the Chain-of-Work.
    """

    def __init__(self, tools: dict[str, object], redact: Callable[[str], str] = str) -> None:
        self._tools = dict(tools)
        self._functions = {name: public_functions(tool) for name, tool in tools.items()}
        self._signatures = {
            (tool, name): _signature(function)
            for tool, functions in self._functions.items()
            for name, function in functions.items()
        }
        self._redact = redact
        self._calls: list[ToolCall] = []
        self._sequence = 0

    def manifest(self) -> dict[str, list[str]]:
        """Tool name -> callable function names; the harness builds its proxies from this."""
        return {tool: sorted(functions) for tool, functions in self._functions.items()}

    def call(self, tool: str, function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run `tool.function(*args, **kwargs)` on the host and record it (errors: ToolError)."""
        self._sequence += 1
        started = time.perf_counter()
        arguments = "<not recorded: nested too deeply>"
        target = self._functions.get(tool, {}).get(function)
        try:
            check_arguments([args, kwargs], f"{tool}.{function}")
            arguments = self._redact(summarize({"args": list(args), "kwargs": kwargs}))
            if target is None:
                raise ToolError(f"{tool}.{function} is not a declared tool function")
            where = f"{tool}.{function}"
            _bind(target, self._signatures[(tool, function)], where, args, kwargs)
            value = target(*args, **kwargs)
            check_result(value, where)
        except Exception as exc:
            message = exc.message if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
            self._calls.append(
                ToolCall(
                    sequence=self._sequence,
                    tool=tool,
                    function=function,
                    arguments=arguments,
                    result_summary="",
                    ok=False,
                    duration_s=time.perf_counter() - started,
                    error=self._redact(message),
                )
            )
            raise ToolError(self._redact(message)) from exc
        self._calls.append(
            ToolCall(
                sequence=self._sequence,
                tool=tool,
                function=function,
                arguments=arguments,
                result_summary=self._redact(summarize(value)),
                ok=True,
                duration_s=time.perf_counter() - started,
            )
        )
        return value

    def take_calls(self) -> list[ToolCall]:
        """The calls recorded since the last take (one step's calls)."""
        calls, self._calls = self._calls, []
        return calls

    def close(self) -> None:
        """Release what the tools hold (database connections). Idempotent."""
        for tool in self._tools.values():
            release = getattr(tool, "_close", None)
            if callable(release):
                release()
