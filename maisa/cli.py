"""The `maisa` command. Commands live in `maisa.commands.*` and are imported only when used,
so `maisa --help` stays fast and a broken optional dependency breaks only its own command."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from maisa import __version__
from maisa.errors import MaisaError, SpecError

# name -> (module, attribute, one-line help). Keep in the order `--help` shows them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "compile": ("maisa.commands.compile", "compile_command", "Compile a worker spec."),
    "run": ("maisa.commands.run", "run_command", "Run a worker."),
    "lock": ("maisa.commands.lock", "lock_command", "Generate or check a worker's lockfile."),
    "check": ("maisa.commands.check", "check_command", "Check specs and locks (for CI)."),
    "show": ("maisa.commands.show", "show_command", "Show a run's Chain-of-Work."),
    "runs": ("maisa.commands.runs", "runs_command", "List runs."),
    "workers": ("maisa.commands.workers", "workers_command", "List workers."),
    "replay": ("maisa.commands.replay", "replay_command", "Re-execute a recorded run."),
    "serve": ("maisa.commands.serve", "serve_command", "Serve the HTTP API."),
    "worker": ("maisa.commands.queue_worker", "worker_command", "Process queued runs."),
    "schema": ("maisa.commands.schema", "schema_command", "Print the spec JSON Schema."),
    "sandbox": ("maisa.commands.sandbox", "sandbox_group", "Build, diagnose and try sandboxes."),
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maisa")
def cli() -> None:
    """maisa: digital workers that a model programs step by step, run in a sandbox,
    record as an auditable Chain-of-Work, and freeze into a lockfile."""


def _wants_json(argv: list[str] | None) -> bool:
    return "--json" in (sys.argv[1:] if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning a MaisaError into its message and exit code.

    Under `--json` an error is also one JSON object on stdout (the message stays on stderr)."""
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="maisa", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except MaisaError as exc:
        from maisa.commands.output import emit_json_error, err
        from maisa.commands.printable import for_markup

        err.print(f"[bold red]error:[/] {for_markup(exc.message)}", markup=True, soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]hint:[/] {for_markup(exc.hint)}", markup=True, soft_wrap=True)
        if _wants_json(argv):
            problems = [str(p) for p in exc.problems] if isinstance(exc, SpecError) else None
            emit_json_error(exc.message, exc.exit_code, exc.hint, problems)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        if _wants_json(argv):
            from maisa.commands.output import emit_json_error

            emit_json_error("interrupted (Ctrl-C or SIGTERM)", 130)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
        if _wants_json(argv):
            from maisa.commands.output import emit_json_error

            emit_json_error(exc.format_message(), code)
        sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
