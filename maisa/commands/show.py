"""`maisa show RUN`: one run's Chain-of-Work, for people or (with --json) for programs."""

from __future__ import annotations

from dataclasses import asdict

import click

from maisa.errors import UsageError

DB_HELP = "Store URL (default: $MAISA_DATABASE_URL or .maisa/maisa.db)."


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="The whole run record as JSON on stdout.")
@click.option("--prompts", is_flag=True, help="Also show each step's prompt and model reply.")
@click.option("--db", "db_url", metavar="URL", help=DB_HELP)
def show_command(run_ref: str, as_json: bool, prompts: bool, db_url: str | None) -> None:
    """Show a run's Chain-of-Work. RUN is a run id, or `last` for the newest run."""
    from maisa.commands.chain_view import reap
    from maisa.commands.output import emit_json, out
    from maisa.store.factory import open_store

    wanted = _parse_ref(run_ref)  # a bad RUN is a usage error even when the store is down
    store = open_store(db_url)
    try:
        reap(store)
        run_id = _latest(store) if wanted is None else wanted
        run = store.get_run(run_id)
        if run is None:
            raise UsageError(f"no run {run_id} in the store {store.url}", hint="see: maisa runs")
    finally:
        store.close()
    if as_json:
        emit_json(asdict(run))
        return
    from maisa.commands.chain_view import chain_of_work, print_plain

    print_plain(out, chain_of_work(run, prompts=prompts))


def _parse_ref(ref: str) -> int | None:
    """RUN as a run id, or None for `last`."""
    if ref == "last":
        return None
    try:
        value = int(ref.lstrip("#"))
    except ValueError:
        raise UsageError(f"RUN must be a run id or `last`, not {ref!r}") from None
    if value < 1:
        raise UsageError(f"RUN must be a positive run id, not {ref!r}")
    return value


def _latest(store) -> int:
    latest = store.latest_run_id()
    if latest is None:
        raise UsageError(f"there are no runs in the store {store.url}")
    return latest
