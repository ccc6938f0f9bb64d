"""Helpers for compiler tests: write a spec (and its custom tools) into a temporary directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

NIF_TOOL = '''\
"""Check Spanish tax ids."""


def validate(nif: str) -> bool:
    """True when the check letter is right."""
    return len(nif) == 9
'''

SPEC = """\
# a comment that must not matter
apiVersion: maisa/v1
kind: Worker
name: demo
goal: Read the invoice and return its NIF.
inputs:
  email: {type: file, description: an .eml}
  limit: {type: integer, required: false, default: 10}
  verbose: {type: boolean, required: false}
  tags: {type: array, items: {type: string}, required: false}
outputs:
  nif: {type: string, pattern: "^[A-Z0-9]{9}$"}
  importe: {type: number, minimum: 0}
  notes: {type: string, required: false}
tools: [mail, pdf, {name: nif, module: tools/nif.py}]
imports: [decimal]
steps:
  - Read the email
  - Find the NIF
"""


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write `text` (default: a demo spec) as worker.yaml with its custom tool beside it."""

    def write(text: str = SPEC, tool: str = NIF_TOOL, name: str = "worker.yaml") -> Path:
        (tmp_path / "tools").mkdir(exist_ok=True)
        (tmp_path / "tools" / "nif.py").write_text(tool, encoding="utf-8")
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
