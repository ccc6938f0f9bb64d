"""Tool documentation: exact signatures of the public catalogue, custom tools, determinism."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.specs.model import WorkerSpec
from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker
from maisa.tools.catalogue import BUILTIN_TOOLS, CATALOGUE_VERSIONS
from maisa.tools.docs import describe, describe_tools, render_signature, render_tool_doc

# DESIGN §6: the names, parameters and defaults are a public contract; the types are ours.
CATALOGUE_SIGNATURES = {
    "files": {
        "read_text": "(path: str) -> str",
        "read_bytes": "(path: str) -> bytes",
        "write_text": "(path: str, text: str) -> None",
        "write_bytes": "(path: str, data: bytes) -> None",
        "list": "(path: str = '.') -> list[str]",
    },
    "pdf": {
        "extract_text": "(source: bytes | str) -> str",
        "page_count": "(source: bytes | str) -> int",
    },
    "mail": {"read_eml": "(path: str) -> dict"},
    "http": {
        "get": "(url: str, params: dict | None = None, headers: dict | None = None) -> dict",
        "post": (
            "(url: str, json: Any = None, data: dict | str | None = None,"
            " headers: dict | None = None) -> dict"
        ),
    },
    "db": {
        "query": "(sql: str, params: list | dict | None = None) -> list[dict]",
        "execute": "(sql: str, params: list | dict | None = None) -> int",
    },
}


def spec_with(tools: list[object]) -> WorkerSpec:
    return WorkerSpec.model_validate(
        {"apiVersion": "maisa/v1", "kind": "Worker", "name": "w", "goal": "g", "tools": tools}
    )


@pytest.mark.parametrize("name", sorted(BUILTIN_TOOLS))
def test_builtin_docs_show_the_exact_signatures_of_the_design(name: str) -> None:
    doc = describe(name, BUILTIN_TOOLS[name], CATALOGUE_VERSIONS[name])
    assert {f.name: f.signature for f in doc.functions} == CATALOGUE_SIGNATURES[name]
    assert doc.version == CATALOGUE_VERSIONS[name]
    assert doc.doc, f"{name} has no tool docstring"
    assert all(f.doc for f in doc.functions), f"{name} has an undocumented function"


@pytest.mark.parametrize("name", sorted(BUILTIN_TOOLS))
def test_the_documented_functions_are_exactly_what_the_broker_exposes(
    name: str, tmp_path: Path
) -> None:
    ctx = ToolContext(workspace=tmp_path, secrets={})
    tool = BUILTIN_TOOLS[name](ctx, secret="x.db") if name == "db" else BUILTIN_TOOLS[name](ctx)
    documented = sorted(f.name for f in describe(name, BUILTIN_TOOLS[name], "1").functions)
    assert ToolBroker({name: tool}).manifest() == {name: documented}


def test_every_builtin_has_a_catalogue_version() -> None:
    assert set(CATALOGUE_VERSIONS) == set(BUILTIN_TOOLS) == set(CATALOGUE_SIGNATURES)


def test_custom_module_docs_come_from_its_signatures_and_docstrings(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "nif.py").write_text(
        textwrap.dedent(
            '''
            """Spanish tax identifiers."""
            from typing import Optional

            def valida(nif: str, tipo: Optional[str] = None, *, estricto: bool = True) -> bool:
                """True when the check character is right.

                    tipo: "DNI", "NIE" or "CIF"; guessed when None.
                """
                return True

            def sin_tipos(a, b=2, *rest, **extra):
                return a
            '''
        )
    )
    (doc,) = describe_tools(spec_with([{"name": "nif", "module": "tools/nif.py"}]), tmp_path)
    assert doc.name == "nif"
    assert doc.doc == "Spanish tax identifiers."
    assert len(doc.version) == 64
    valida, sin_tipos = doc.functions
    assert valida.signature == (
        "(nif: str, tipo: Optional[str] = None, *, estricto: bool = True) -> bool"
    )
    assert valida.doc.splitlines() == [
        "True when the check character is right.",
        "",
        'tipo: "DNI", "NIE" or "CIF"; guessed when None.',
    ]
    assert sin_tipos.signature == "(a, b=2, *rest, **extra)"
    assert sin_tipos.doc == ""


def test_positional_only_parameters_keep_their_marker() -> None:
    def f(a: int, /, b: int) -> int:
        return a

    assert render_signature(f) == "(a: int, /, b: int) -> int"


def test_describe_tools_keeps_declaration_order(tmp_path: Path) -> None:
    docs = describe_tools(spec_with(["pdf", {"name": "db", "secret": "X"}, "files"]), tmp_path)
    assert [d.name for d in docs] == ["pdf", "db", "files"]


def test_an_unknown_tool_is_a_tool_error_with_the_catalogue(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="unknown tool 'gmail'; built-in tools are db, files"):
        describe_tools(spec_with(["gmail"]), tmp_path)


def test_the_rendered_docs_are_identical_in_a_fresh_process() -> None:
    script = (
        "from maisa.tools.catalogue import BUILTIN_TOOLS, CATALOGUE_VERSIONS\n"
        "from maisa.tools.docs import describe, render_tool_doc\n"
        "for n in sorted(BUILTIN_TOOLS):\n"
        "    print(render_tool_doc(describe(n, BUILTIN_TOOLS[n], CATALOGUE_VERSIONS[n])))\n"
    )
    here = "\n".join(
        render_tool_doc(describe(n, BUILTIN_TOOLS[n], CATALOGUE_VERSIONS[n]))
        for n in sorted(BUILTIN_TOOLS)
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert fresh == here + "\n"
    assert "0x" not in here  # no object addresses


def test_rendered_docs_show_calls_as_step_code_writes_them() -> None:
    text = render_tool_doc(describe("pdf", BUILTIN_TOOLS["pdf"], "1"))
    assert "  pdf.extract_text(source: bytes | str) -> str\n" in text
