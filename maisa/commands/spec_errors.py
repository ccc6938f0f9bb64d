"""Printing a `SpecError` for people: one `file:line:col: message` line per problem."""

from __future__ import annotations

from maisa.commands.output import err
from maisa.commands.printable import for_markup
from maisa.errors import SpecError


def print_spec_error(exc: SpecError) -> None:
    """Every problem on its own unwrapped stderr line, then a count and the hint."""
    for problem in exc.problems:
        # Plain text, never wrapped: editors and CI parse `file:line:col:` at the line start.
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    count = len(exc.problems)
    err.print(
        f"[bold red]error:[/] {count} problem{'s' if count != 1 else ''} found",
        soft_wrap=True,
    )
    if exc.hint:
        err.print(f"[yellow]hint:[/] {for_markup(exc.hint)}", soft_wrap=True)
