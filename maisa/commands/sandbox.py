"""`maisa sandbox build|doctor|exec`: build the image, diagnose the backends, try a step."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from maisa.commands.output import emit_json, err, out
from maisa.commands.printable import for_markup
from maisa.errors import SandboxUnavailable, UsageError


@click.group("sandbox")
def sandbox_group() -> None:
    """Build, diagnose and try the sandboxes that run step code."""


@sandbox_group.command("build")
@click.option("--base", metavar="IMAGE", help="Local base image with python3 (no pull).")
def build_command(base: str | None) -> None:
    """Build the Docker sandbox image from the packaged Dockerfile and harness."""
    from maisa.sandbox import image

    tag = f"{image.REPOSITORY}:{image.content_hash()}"
    err.print(f"building {tag} from {for_markup(base or image.DEFAULT_BASE)}")
    tag = image.build(base, log=lambda line: err.print(line, markup=False, highlight=False))
    err.print(f"built {tag} (also tagged {image.REPOSITORY}:latest)")
    out.print(tag)


def _details(name: str) -> dict:
    if name == "bwrap":
        import os

        from maisa.sandbox import bwrap_runtime, cgroups

        details: dict = {"host_root": os.geteuid() == 0}
        try:
            details["python"] = bwrap_runtime.discover().python
        except bwrap_runtime.RuntimeNotFound:
            details["python"] = None
        details["cgroup"] = "v2" if (cgroups.ROOT / "cgroup.controllers").exists() else "v1"
        return details
    from maisa.sandbox import image

    return {"image": image.image_tag()}


@sandbox_group.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="JSON alone on stdout.")
def doctor_command(as_json: bool) -> None:
    """Report which sandbox backends work here, and what to do about those that do not."""
    from maisa.sandbox import registry

    report = {}
    for name in registry.BACKENDS:
        problem = registry.make(name).check()
        report[name] = {"ok": problem is None, "problem": problem, **_details(name)}
    default = next((name for name in registry.BACKENDS if report[name]["ok"]), None)
    if as_json:
        emit_json({"backends": report, "default": default})
    else:
        for name, entry in report.items():
            if entry["ok"]:
                out.print(f"[green]✓[/] {name}: works")
            else:
                out.print(f"[red]✗[/] {name}: {for_markup(entry['problem'])}", soft_wrap=True)
        out.print(f"default backend: {default or 'none'}")
    if default is None:
        sys.exit(4)


@sandbox_group.command("exec")
@click.option("--backend", type=click.Choice(["docker", "bwrap", "auto"]), default=None,
              help="Sandbox backend (default: $MAISA_SANDBOX, else auto).")  # fmt: skip
@click.option("--timeout", "timeout", default="30s", show_default=True,
              help="Step timeout (30s, 500ms, or seconds).")  # fmt: skip
@click.option("--memory", default="256m", show_default=True, help="Memory cap (256m, 1g).")
@click.option("--json", "as_json", is_flag=True, help="JSON alone on stdout.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def exec_command(backend: str | None, timeout: str, memory: str, as_json: bool, file: Path) -> None:
    """Run FILE as one step in a fresh session (no tools, no validator); print the outcome."""
    from maisa.sandbox import registry
    from maisa.specs.model import Limits
    from maisa.specs.units import parse_duration, parse_size
    from maisa.tools.broker import ToolBroker

    try:
        seconds, size = parse_duration(timeout), parse_size(memory)
        limits = Limits(step_timeout=seconds, memory=size)
    except ValueError as exc:
        raise UsageError(f"bad --timeout or --memory: {exc}") from None
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None
    sandbox = registry.make(backend) if backend and backend != "auto" else registry.get_sandbox()
    session = sandbox.open(limits, Path.cwd(), ToolBroker({}))
    try:
        outcome = session.run(code, seconds)
    finally:
        session.close()
    if as_json:
        emit_json({"backend": sandbox.name, **dataclasses.asdict(outcome)})
    else:
        _print_outcome(sandbox.name, outcome)
    sys.exit(0 if outcome.ok else 1)


def _print_outcome(backend: str, outcome) -> None:
    colour = "green" if outcome.ok else "red"
    out.print(
        f"[{colour}]{outcome.status}[/] on {backend}: {outcome.duration_s:.3f}s wall, "
        f"{outcome.cpu_s:.3f}s CPU, {outcome.peak_memory_mb:.1f} MB peak"
        + (" (output truncated)" if outcome.output_truncated else "")
    )
    for title, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if text:
            out.rule(title)
            out.print(text, markup=False, highlight=False, end="")
    if outcome.error:
        out.rule("error")
        out.print(outcome.error, markup=False, highlight=False)
    if outcome.finished:
        out.print(f"finished with: {outcome.result!r}", markup=False)


__all__ = ["sandbox_group", "SandboxUnavailable"]
