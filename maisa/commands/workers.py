"""`maisa workers`: every worker the store has seen, its versions and how often it ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from maisa.store.records import WorkerSummary

DB_HELP = "Store URL (default: $MAISA_DATABASE_URL or .maisa/maisa.db)."


@dataclass
class WorkerGroup:
    """All rows of one worker name: one per (version, fingerprint)."""

    name: str
    rows: list[WorkerSummary] = field(default_factory=list)

    @property
    def versions(self) -> list[int]:
        return sorted({row.worker.version for row in self.rows})

    @property
    def run_count(self) -> int:
        return sum(row.run_count for row in self.rows)

    @property
    def last_run(self) -> WorkerSummary | None:
        ran = [row for row in self.rows if row.last_run_id is not None]
        return max(ran, key=lambda row: row.last_run_id) if ran else None

    def to_json(self) -> dict[str, Any]:
        last = self.last_run
        return {
            "name": self.name,
            "versions": self.versions,
            "runs": self.run_count,
            "last_run_id": last.last_run_id if last else None,
            "last_run_at": last.last_run_at if last else None,
            "fingerprints": [
                {
                    "id": row.worker.id,
                    "version": row.worker.version,
                    "fingerprint": row.worker.fingerprint,
                    "created_at": row.worker.created_at,
                    "runs": row.run_count,
                    "last_run_id": row.last_run_id,
                    "last_run_at": row.last_run_at,
                }
                for row in self.rows
            ],
        }


def group_workers(summaries: list[WorkerSummary]) -> list[WorkerGroup]:
    """Summaries grouped by worker name, names in order."""
    groups: dict[str, WorkerGroup] = {}
    for summary in summaries:
        groups.setdefault(summary.worker.name, WorkerGroup(summary.worker.name)).rows.append(
            summary
        )
    return [groups[name] for name in sorted(groups)]


@click.command("workers")
@click.option("--json", "as_json", is_flag=True, help="The workers as a JSON list on stdout.")
@click.option("--db", "db_url", metavar="URL", help=DB_HELP)
def workers_command(as_json: bool, db_url: str | None) -> None:
    """List workers: versions, fingerprints, number of runs, last run."""
    from maisa.commands.chain_view import print_plain
    from maisa.commands.output import emit_json, out
    from maisa.store.factory import open_store

    store = open_store(db_url)
    try:
        groups = group_workers(store.summarize_workers())
    finally:
        store.close()
    if as_json:
        emit_json([group.to_json() for group in groups])
        return
    if not groups:
        out.print("no workers yet (a worker is recorded when it first runs)")
        return
    print_plain(out, _table(groups), wide=True)


def _table(groups: list[WorkerGroup]):
    from rich.table import Table

    from maisa.commands.chain_view import moment

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("WORKER", "VERSIONS", "FINGERPRINTS", "RUNS", "LAST RUN"):
        table.add_column(column)
    for group in groups:
        last = group.last_run
        table.add_row(
            group.name,
            ", ".join(f"v{v}" for v in group.versions),
            "\n".join(_fingerprint(row) for row in group.rows),
            str(group.run_count),
            f"#{last.last_run_id} at {moment(last.last_run_at)}" if last else "never",
        )
    return table


def _fingerprint(row: WorkerSummary) -> str:
    value = row.worker.fingerprint.removeprefix("sha256:")
    return f"v{row.worker.version} {value[:12]} ({row.run_count} runs)"
