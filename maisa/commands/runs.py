"""`maisa runs`: the runs in the store, newest first, after reaping runs whose owner died."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import click

from maisa.errors import UsageError
from maisa.store.records import RunStatus

DB_HELP = "Store URL (default: $MAISA_DATABASE_URL or .maisa/maisa.db)."
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """`2026-11-25`, `2026-11-25T18:00:00Z` (UTC when no zone), or an age: `90s`, `1h`, `2d`."""
    text = value.strip().lower()
    match = _AGO.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--since {value!r} is neither an ISO date/time nor an age like 30m, 1h, 2d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("runs")
@click.option("--worker", "-w", help="Only runs of this worker (by name).")
@click.option(
    "--status",
    "-s",
    type=click.Choice([s.value for s in RunStatus], case_sensitive=False),
    help="Only runs with this status.",
)
@click.option(
    "--since", metavar="WHEN", help="Only runs created since an ISO date/time or an age (1h, 2d)."
)
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True, help="At most N."
)
@click.option(
    "--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Skip the first N."
)
@click.option("--json", "as_json", is_flag=True, help="The runs as a JSON list on stdout.")
@click.option("--db", "db_url", metavar="URL", help=DB_HELP)
def runs_command(
    worker: str | None,
    status: str | None,
    since: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    db_url: str | None,
) -> None:
    """List runs, newest first. Runs whose owner stopped heart-beating become INTERRUPTED."""
    from maisa.commands.chain_view import print_plain, reap
    from maisa.commands.output import emit_json, out
    from maisa.store.factory import open_store

    since_at = parse_since(since) if since else None
    store = open_store(db_url)
    try:
        reap(store)
        runs = store.list_runs(
            worker=worker,
            status=RunStatus(status.upper()) if status else None,
            since=since_at,
            limit=limit,
            offset=offset,
        )
    finally:
        store.close()
    if as_json:
        emit_json([{k: v for k, v in asdict(run).items() if k != "steps"} for run in runs])
        return
    if not runs:
        out.print("no runs" + (" match" if worker or status or since else ""))
        return
    print_plain(out, _table(runs), wide=True)


def _table(runs):
    from rich.table import Table

    from maisa.commands.chain_view import moment, seconds, short, status_text
    from maisa.commands.printable import printable_text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("RUN", "WORKER", "STATUS", "MODE", "STARTED", "DURATION", "MODEL", "ERROR"):
        table.add_column(column, no_wrap=column != "ERROR")
    for run in runs:
        mode = run.mode.value + (f" r{run.lock_revision}" if run.lock_revision else "")
        table.add_row(
            f"#{run.id}",
            f"{run.worker_name} v{run.worker_version}",
            status_text(run.status),
            mode,
            moment(run.started_at or run.created_at),
            seconds(run.duration_s),
            f"{run.model_calls} calls" if run.model_calls else "-",
            short(printable_text(run.error.splitlines()[0]), 60) if run.error else "",
        )
    return table
