"""`maisa compile SPEC [--json] [-o DIR]`: compile a spec and show what a run will use."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup
from maisa.commands.spec_errors import print_spec_error
from maisa.compiler import CompiledWorker, compile_spec
from maisa.errors import SpecError, UsageError


@click.command("compile")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the compile as JSON alone on stdout.")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write compiled.json and system_prompt.md into this directory.",
)
def compile_command(spec: Path, as_json: bool, out_dir: Path | None) -> None:
    """Compile the worker spec SPEC: plan, tools, input/output schemas and fingerprint.

    No model is needed: a spec without `steps` compiles with an empty plan and
    the model drafts one at the start of each generated run.
    """
    try:
        compiled = compile_spec(spec)
    except SpecError as exc:
        print_spec_error(exc)
        if as_json:
            problems = [str(p) for p in exc.problems]
            emit_json({"error": exc.message, "problems": problems, "exit_code": exc.exit_code})
        # sys.exit, not click's Exit: maisa.cli.main (standalone_mode=False) drops Exit codes.
        sys.exit(exc.exit_code)
    if out_dir is not None:
        _write(compiled, out_dir)
    if as_json:
        emit_json(compiled.to_dict())
    else:
        _print_summary(compiled)
    if out_dir is not None:
        written = (for_markup(out_dir / name) for name in ("compiled.json", "system_prompt.md"))
        err.print("wrote {} and {}".format(*written))


def _write(compiled: CompiledWorker, out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(compiled.to_dict(), indent=2, ensure_ascii=False) + "\n"
        (out_dir / "compiled.json").write_text(text, encoding="utf-8")
        (out_dir / "system_prompt.md").write_text(compiled.system_prompt, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None


def _fields_table(title: str, schema: dict) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, expand=False)
    for column in ("field", "type", "required", "constraints", "description"):
        table.add_column(column)
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("x-maisa-type") or prop.get("type", "")
        shown = {"type", "x-maisa-type", "description", "minLength"} if kind == "file" else set()
        shown |= {"type", "description"}
        constraints = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in prop.items() if k not in shown
        )
        table.add_row(
            escape(name),
            escape(str(kind)),
            "yes" if name in required else "no",
            escape(constraints),
            escape(prop.get("description", "")),
        )
    if not schema.get("properties"):
        table.add_row("(none)", "", "", "", "")
    return table


def _print_summary(compiled: CompiledWorker) -> None:
    spec = compiled.spec
    out.print(f"[bold]{escape(spec.name)}[/] version {spec.version}")
    if spec.description:
        out.print(escape(spec.description.strip()))
    out.print()
    out.print("[bold]Plan[/]")
    if compiled.plan:
        for number, step in enumerate(compiled.plan, 1):
            out.print(f"  {number}. {escape(step)}")
    else:
        out.print("  (none: the model drafts a plan at the start of each generated run)")
    out.print()
    out.print("[bold]Tools[/]")
    if not compiled.tools:
        out.print("  (none)")
    for tool in compiled.tools:
        ref = spec.tool(tool.name)
        origin = f"custom, {ref.module}" if ref and ref.module else "built-in"
        version = tool.version[:12] if ref and ref.module else tool.version
        out.print(f"  [bold]{escape(tool.name)}[/] ({escape(origin)}, version {version})")
        for function in tool.functions:
            out.print(escape(f"    {tool.name}.{function.name}{function.signature}"))
    out.print()
    out.print(_fields_table("Inputs", compiled.input_schema))
    out.print()
    out.print(_fields_table("Outputs", compiled.output_schema))
    out.print()
    out.print(f"[bold]Fingerprint[/] {compiled.fingerprint}", soft_wrap=True)
