"""Custom tools: a module of functions loaded from a path relative to the spec's directory."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools.custom import load_custom

NIF_TOOL = '''
"""Spanish tax identifiers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from os.path import join  # imported: not part of the tool

LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@dataclass
class _Parsed:
    number: int
    letter: str


def valida_nif(nif: str) -> bool:
    """True when the DNI check letter is right."""
    parsed = _parse(nif)
    return parsed is not None and LETTERS[parsed.number % 23] == parsed.letter


def normaliza(nif: str, *, upper: bool = True) -> str:
    """Remove spaces, dots and dashes."""
    cleaned = re.sub(r"[\\s.-]", "", nif)
    return cleaned.upper() if upper else cleaned


def _parse(nif: str) -> _Parsed | None:
    match = re.fullmatch(r"(\\d{8})([A-Z])", nif)
    return _Parsed(int(match[1]), match[2]) if match else None


class Helper:
    pass
'''


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def test_public_functions_defined_in_the_module_are_the_tool(tmp_path: Path) -> None:
    write(tmp_path / "tools" / "nif.py", NIF_TOOL)
    custom = load_custom("nif", "tools/nif.py", tmp_path)
    assert list(custom.functions) == ["valida_nif", "normaliza"]  # source order
    tool = custom.instance()
    assert tool.valida_nif("12345678Z") is True
    assert tool.valida_nif("12345678A") is False
    assert tool.normaliza("12.345.678-z") == "12345678Z"
    assert not hasattr(tool, "join") and not hasattr(tool, "Helper")


def test_the_version_is_the_sha256_of_the_source(tmp_path: Path) -> None:
    path = write(tmp_path / "nif.py", NIF_TOOL)
    assert (
        load_custom("nif", "nif.py", tmp_path).version
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_an_edited_module_is_reloaded_not_served_from_cache(tmp_path: Path) -> None:
    write(tmp_path / "t.py", "def f() -> int:\n    return 1\n")
    first = load_custom("t", "t.py", tmp_path)
    write(tmp_path / "t.py", "def f() -> int:\n    return 2\n")
    second = load_custom("t", "t.py", tmp_path)
    assert first.version != second.version
    assert (first.instance().f(), second.instance().f()) == (1, 2)


def test_same_named_tools_of_two_specs_do_not_collide(tmp_path: Path) -> None:
    write(tmp_path / "a" / "tools" / "nif.py", "def which() -> str:\n    return 'a'\n")
    write(tmp_path / "b" / "tools" / "nif.py", "def which() -> str:\n    return 'b'\n")
    a = load_custom("nif", "tools/nif.py", tmp_path / "a").instance()
    b = load_custom("nif", "tools/nif.py", tmp_path / "b").instance()
    assert (a.which(), b.which()) == ("a", "b")


def test_the_path_is_relative_to_the_spec_directory_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "spec" / "tools" / "x.py", "def f() -> None:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert list(load_custom("x", "tools/x.py", tmp_path / "spec").functions) == ["f"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", r"syntax error at .*bad\.py:1"),
        ("import no_such_module_anywhere\n", "ModuleNotFoundError: No module named"),
        ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
        ("X = 1\ndef _private():\n    pass\n", "defines no public functions"),
        ("from os.path import join\n", "defines no public functions"),
    ],
)
def test_a_bad_module_is_a_tool_error_naming_the_tool_and_path(
    tmp_path: Path, source: str, message: str
) -> None:
    write(tmp_path / "tools" / "bad.py", source)
    with pytest.raises(ToolError, match=message) as error:
        load_custom("bad", "tools/bad.py", tmp_path)
    assert "custom tool 'bad' (tools/bad.py)" in error.value.message


def test_a_missing_module_names_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such file") as error:
        load_custom("nif", "tools/nif.py", tmp_path)
    assert str(tmp_path / "tools" / "nif.py") in error.value.message


def test_only_python_files_are_modules(tmp_path: Path) -> None:
    write(tmp_path / "nif.txt", "def f(): pass\n")
    with pytest.raises(ToolError, match=r"must be a \.py file"):
        load_custom("nif", "nif.txt", tmp_path)
