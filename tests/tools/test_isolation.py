"""Parsers of untrusted bytes run in a forked child held to CPU, memory and time limits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools import isolation
from maisa.tools import pdf as pdf_module
from maisa.tools.base import ToolContext
from maisa.tools.isolation import run_limited
from maisa.tools.pdf import PdfTool
from tests.tools.builders import make_pdf


def spin() -> None:
    while True:
        pass


def hog() -> int:
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def sleep_long() -> None:
    time.sleep(60)


def fail() -> None:
    raise ValueError("bad xref table")


def shout() -> str:
    return "x" * 5000


def test_the_result_comes_back(tmp_path: Path) -> None:
    assert run_limited("adding", lambda a, b: a + b, 2, 3) == 5
    assert run_limited("echo", lambda s: s, "Señor Muñoz") == "Señor Muñoz"


def test_the_child_cannot_change_the_parent() -> None:
    state = {"touched": False}

    def touch() -> bool:
        state["touched"] = True
        return True

    assert run_limited("touching", touch) is True
    assert state == {"touched": False}


def test_an_exception_becomes_a_tool_error() -> None:
    with pytest.raises(ToolError, match="parsing failed: ValueError: bad xref table"):
        run_limited("parsing", fail)


def test_a_cpu_spin_is_killed_by_the_cpu_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "CPU_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(ToolError, match="killed"):
        run_limited("spinning", spin)
    assert time.monotonic() - started < 10


def test_a_memory_hog_hits_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "MEMORY_BYTES", 256 * 1024 * 1024)
    with pytest.raises(ToolError, match="memory"):
        run_limited("hogging", hog)


def test_a_sleeper_is_stopped_at_the_wall_clock_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "WALL_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(ToolError, match="longer than 0.5s"):
        run_limited("sleeping", sleep_long)
    assert time.monotonic() - started < 5


def test_an_oversized_result_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "MAX_RESULT_BYTES", 1000)
    with pytest.raises(ToolError, match="more than 1000 bytes"):
        run_limited("shouting", shout)


def test_no_child_process_is_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    forked: list[int] = []
    real_fork = os.fork

    def recording_fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    monkeypatch.setattr(isolation, "WALL_SECONDS", 0.3)
    with pytest.raises(ToolError):
        run_limited("sleeping", sleep_long)
    run_limited("adding", lambda: 1)
    assert len(forked) == 2
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: not running, not even a zombie


def test_the_memory_limit_counts_from_what_the_fork_already_maps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A runtime may already map more than the limit; the parser still gets its full budget.
    monkeypatch.setattr(isolation, "MEMORY_BYTES", 64 * 1024 * 1024)
    reserved = bytearray(128 * 1024 * 1024)
    assert run_limited("allocating", lambda: len(bytearray(32 * 1024 * 1024))) == 32 * 1024 * 1024
    del reserved


def test_the_pdf_tool_parses_in_the_limited_child(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-in for a PDF crafted to hang pypdf: the parse itself never returns.
    monkeypatch.setattr(isolation, "CPU_SECONDS", 1)
    monkeypatch.setattr(pdf_module, "_open", lambda data, name: spin())
    with pytest.raises(ToolError, match="reading the PDF .* killed"):
        PdfTool(ctx).extract_text(make_pdf("hola"))
