"""`maisa schema`: print the JSON Schema of the worker spec format (draft-07)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from maisa.errors import UsageError
from maisa.specs.schema import SCHEMA_FILE, spec_json_schema_text


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Write the schema to this file (e.g. {SCHEMA_FILE}) instead of stdout.",
)
def schema_command(output: Path | None) -> None:
    """Print the JSON Schema of the worker spec format.

    Editors use it through yaml-language-server: put
    `# yaml-language-server: $schema=<path>/maisa-worker.schema.json` on a spec's first line.
    """
    text = spec_json_schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
