"""`maisa replay RUN [--step N]`: re-execute a recorded run and compare it with its record."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup, printable_text


@click.command("replay")
@click.argument("run_id", metavar="RUN", type=int)
@click.option(
    "--step", "step", type=int, help="Replay only this step, from the variables before it."
)
@click.option("--sandbox", "sandbox", help="Sandbox backend: docker, bwrap or auto.")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The worker's spec file (default: the spec text the store recorded).",
)
@click.option("--rebuild", is_flag=True, help="With --step: re-run earlier steps, not restore.")
@click.option("--db", "db_url", help="Store URL (default: $MAISA_DATABASE_URL or .maisa/maisa.db).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
def replay_command(
    run_id: int,
    step: int | None,
    sandbox: str | None,
    spec_path: Path | None,
    rebuild: bool,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Re-execute RUN's accepted steps in a fresh sandbox and compare with the record.

    Each step's stdout and variables (and the final result) are compared with
    the Chain-of-Work. Tools run for real. Exit 0 when everything matches,
    1 otherwise.
    """
    from maisa.runtime.replay import replay_run
    from maisa.store.factory import open_store

    store = open_store(db_url)
    try:
        if not as_json:
            err.print(f"replaying run {run_id}" + (f" step {step}" if step else "") + " ...")
        report = replay_run(
            store, run_id, step=step, sandbox=sandbox, spec_path=spec_path, rebuild=rebuild
        )
    finally:
        store.close()
    if as_json:
        emit_json(report.as_json())
    else:
        for note in report.notes:
            err.print(f"[yellow]note:[/] {for_markup(note)}", soft_wrap=True)
        for comparison in report.steps:
            mark = "[green]match[/]" if comparison.matches else "[red]DIFFERS[/]"
            out.print(
                f"step {comparison.number}: {mark}  {for_markup(comparison.description)}",
                soft_wrap=True,
            )
            if comparison.status != "OK":
                reason = for_markup(comparison.error or "")
                out.print(f"  status {comparison.status}: {reason}".rstrip())
            for line in [*comparison.stdout_diff, *comparison.variable_diffs]:
                out.print(f"  {printable_text(line)}", markup=False)
            if comparison.result_matches is False:
                out.print("  the finish() result differs from the recorded result")
        verdict = "all steps match" if report.matches else "the replay differs from the record"
        out.print(f"run {report.run_id} ({for_markup(report.worker)}): {verdict}")
    # sys.exit: see maisa/commands/check.py (ctx.exit's code is lost by maisa.cli.main).
    sys.exit(0 if report.matches else 1)
