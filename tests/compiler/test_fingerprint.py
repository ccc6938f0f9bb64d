"""The fingerprint: stable across processes and YAML layout, changed by anything that matters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

import maisa
from maisa import versions
from maisa.compiler import compile_spec, prompts
from maisa.tools import catalogue

from .conftest import NIF_TOOL, SPEC


def fp(write_spec, text: str = SPEC, tool: str = NIF_TOOL) -> str:
    return compile_spec(write_spec(text, tool)).fingerprint


def test_the_fingerprint_is_a_sha256(write_spec) -> None:
    value = fp(write_spec)
    assert value.startswith("sha256:") and len(value) == len("sha256:") + 64


def test_the_fingerprint_is_identical_in_another_process(write_spec) -> None:
    path = write_spec()
    code = (
        "import sys; from maisa.compiler import compile_spec; "
        "print(compile_spec(sys.argv[1]).fingerprint)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    assert other == compile_spec(path).fingerprint


def test_comments_key_order_and_layout_do_not_matter(write_spec) -> None:
    reordered = """\
    kind: Worker
    apiVersion: "maisa/v1"     # quoted, and after kind
    goal: 'Read the invoice and return its NIF.'
    name: demo
    steps: [Read the email, Find the NIF]
    tools:
      - mail
      - pdf
      - module: tools/nif.py
        name: nif
    imports:
      - decimal
    outputs:
      notes: {required: false, type: string}
      nif:
        pattern: "^[A-Z0-9]{9}$"
        type: string
      importe: {minimum: 0, type: number}
    inputs:
      email: {description: an .eml, type: file}
      limit: {type: integer, required: false, default: 10}
      verbose: {type: boolean, required: false}
      tags: {type: array, items: {type: string}, required: false}
    """
    assert fp(write_spec, reordered) == fp(write_spec)


def test_defaults_written_out_do_not_matter(write_spec) -> None:
    explicit = SPEC + "version: 1\nlimits: {step_timeout: 30s, memory: 256m}\n"
    assert fp(write_spec, explicit) == fp(write_spec)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("goal: Read the invoice", "goal: Read the bill"),
        ("  - Find the NIF\n", "  - Find the CIF\n"),
        ("  - Find the NIF\n", "  - Find the NIF\n  - Store it\n"),
        ("email: {type: file", "email: {type: string"),
        ("limit: {type: integer", "limit: {type: number"),
        ('pattern: "^[A-Z0-9]{9}$"', 'pattern: "^[A-Z0-9]{8}$"'),
        ("  notes: {type: string, required: false}\n", ""),
        ("tools: [mail, pdf,", "tools: [pdf, mail,"),
        ("tools: [mail, pdf,", "tools: [mail, pdf, files,"),
        ("imports: [decimal]", "imports: [decimal, statistics]"),
        ("name: demo", "name: demo2"),
        ("kind: Worker", "kind: Worker\nversion: 2"),
        ("kind: Worker", "kind: Worker\nlimits: {step_timeout: 31s}"),
        ("kind: Worker", "kind: Worker\nlimits: {network: [example.com]}"),
        ("kind: Worker", "kind: Worker\nmodel: {name: other-model}"),
        ("kind: Worker", "kind: Worker\nmodel: {temperature: 0.5}"),
    ],
)
def test_any_change_to_the_spec_changes_it(write_spec, old: str, new: str) -> None:
    assert old in SPEC
    assert fp(write_spec, SPEC.replace(old, new)) != fp(write_spec)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("def validate(nif: str) -> bool:", "def validate(nif: str, strict: bool = True) -> bool:"),
        ('"""True when the check letter is right."""', '"""True when the letter is right."""'),
        ("return len(nif) == 9", "return len(nif) == 10"),
        ('"""Check Spanish tax ids."""', '"""Check tax ids."""'),
    ],
)
def test_a_change_to_a_custom_tool_changes_it(write_spec, old: str, new: str) -> None:
    assert old in NIF_TOOL
    assert fp(write_spec, tool=NIF_TOOL.replace(old, new)) != fp(write_spec)


def test_a_builtin_tool_version_bump_changes_it(write_spec, monkeypatch) -> None:
    before = fp(write_spec)
    monkeypatch.setitem(catalogue.CATALOGUE_VERSIONS, "pdf", "999")
    assert fp(write_spec) != before


@pytest.mark.parametrize("name", ["HARNESS_VERSION", "LOCK_VERSION"])
def test_a_version_bump_changes_it(write_spec, monkeypatch, name: str) -> None:
    before = fp(write_spec)
    monkeypatch.setattr(versions, name, "bumped")
    assert fp(write_spec) != before


@pytest.mark.parametrize("template", ["system.j2", "any-other.j2"])
def test_a_template_change_changes_it(write_spec, monkeypatch, tmp_path, template: str) -> None:
    before = fp(write_spec)
    copy = tmp_path / "templates"
    shutil.copytree(Path(maisa.__file__).parent / "templates", copy)
    with (copy / template).open("a", encoding="utf-8") as handle:
        handle.write("\nOne more rule.\n")
    environment = Environment(loader=FileSystemLoader(copy), undefined=prompts.StrictUndefined)
    environment.filters["to_json"] = prompts._to_json
    monkeypatch.setattr(prompts, "environment", lambda: environment)
    assert fp(write_spec) != before


def test_moving_the_spec_directory_keeps_it(write_spec, tmp_path) -> None:
    path = write_spec()
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path, moved)
    try:
        assert compile_spec(moved / path.name).fingerprint == compile_spec(path).fingerprint
    finally:
        shutil.rmtree(moved)
