"""What a session does for the runtime, the same on every backend (DESIGN §3, §5, §6)."""

from __future__ import annotations

import time

import pytest

from maisa.errors import SandboxError
from maisa.sandbox.base import DEFAULT_OUTPUT_CAP, StepStatus
from maisa.sandbox.harness import TRUNCATION_MARKER
from maisa.specs.model import Limits
from maisa.tools.broker import ToolBroker
from tests.sandbox.helpers import Docs, nothing_left


@pytest.fixture
def tools() -> ToolBroker:
    return ToolBroker({"docs": Docs()})


def test_variables_persist_from_step_to_step(sandbox, open_session):
    session = open_session(sandbox)
    assert session.run("total = 40\nnames = ['a']", 10).ok
    outcome = session.run("total += 2\nnames.append('b')", 10)
    assert outcome.ok, outcome.error
    assert outcome.variables == {"total": 42, "names": ["a", "b"]}


def test_print_and_child_process_output_are_the_steps_stdout_and_stderr(sandbox, open_session):
    session = open_session(sandbox)
    code = (
        "import subprocess, sys\n"
        "print('from print')\n"
        "print('to stderr', file=sys.stderr)\n"
        "subprocess.run([sys.executable, '-c', 'print(6 * 7)'], check=True)\n"
    )
    outcome = session.run(code, 10)
    assert outcome.ok, outcome.error
    assert outcome.stdout == "from print\n42\n"
    assert outcome.stderr == "to stderr\n"
    assert session.run("pass", 10).stdout == ""  # each step starts with empty output


def test_finish_records_the_result_and_ends_the_step(sandbox, open_session):
    session = open_session(sandbox)
    outcome = session.run("finish({'nif': 'B12345678', 'importe': 12.5})\nprint('never')", 10)
    assert outcome.ok and outcome.finished
    assert outcome.result == {"nif": "B12345678", "importe": 12.5}
    assert outcome.stdout == ""
    not_finished = session.run("x = 1", 10)
    assert not not_finished.finished and not_finished.result is None


def test_finish_survives_a_step_that_catches_everything(sandbox, open_session):
    session = open_session(sandbox)
    outcome = session.run("try:\n    finish(7)\nexcept Exception:\n    print('caught')", 10)
    assert outcome.ok and outcome.finished and outcome.result == 7 and outcome.stdout == ""


def test_a_tool_call_round_trips_bytes_and_is_recorded(sandbox, open_session, tools):
    session = open_session(sandbox, tools)
    code = (
        "text = docs.extract_text(b'%PDF total 12')\n"
        "back = docs.reverse(bytes(range(256)))\n"
        "ok = back == bytes(reversed(range(256))) and isinstance(back, bytes)\n"
        "same = docs.echo({'k': [1, 2.5, None, 'x']})\n"
    )
    outcome = session.run(code, 10)
    assert outcome.ok, outcome.error
    assert outcome.variables["text"] == "%PDF TOTAL 12"
    assert outcome.variables["ok"] is True
    assert outcome.variables["same"] == {"k": [1, 2.5, None, "x"]}
    assert [(c.tool, c.function, c.ok) for c in outcome.tool_calls] == [
        ("docs", "extract_text", True),
        ("docs", "reverse", True),
        ("docs", "echo", True),
    ]
    assert outcome.tool_calls[0].arguments == "{'args': [<13 bytes>], 'kwargs': {}}"


def test_a_tool_error_is_an_exception_inside_the_step(sandbox, open_session, tools):
    session = open_session(sandbox, tools)
    caught = session.run(
        "try:\n    docs.fail('no such file')\nexcept ToolError as e:\n    msg = str(e)", 10
    )
    assert caught.ok and caught.variables["msg"] == "no such file"
    assert caught.tool_calls[0].ok is False
    uncaught = session.run("docs.fail('boom')", 10)
    assert uncaught.status is StepStatus.ERROR
    assert "ToolError: boom" in uncaught.error


def test_undeclared_tools_and_functions_do_not_exist(sandbox, open_session, tools):
    session = open_session(sandbox, tools)
    missing_tool = session.run("db.query('select 1')", 10)
    assert missing_tool.status is StepStatus.ERROR and "NameError" in missing_tool.error
    missing_function = session.run("docs.delete_everything()", 10)
    assert "AttributeError" in missing_function.error
    assert missing_function.tool_calls == []


def test_tool_arguments_must_be_json_or_bytes(sandbox, open_session, tools):
    session = open_session(sandbox, tools)
    outcome = session.run("docs.echo(object())", 10)
    assert outcome.status is StepStatus.ERROR and "TypeError" in outcome.error
    assert session.alive


def test_the_snapshot_keeps_step_values_only(sandbox, open_session, tools):
    session = open_session(sandbox, tools)
    session.set_variables({"inputs": {"email": "a.eml"}})
    code = (
        "import re\ndef helper():\n    return 1\n"
        "seen = inputs['email']\nblob = b'xy'\nnan = float('nan')"
    )
    outcome = session.run(code, 10)
    assert outcome.ok, outcome.error
    assert set(outcome.variables) == {"helper", "seen", "blob", "nan"}
    assert outcome.variables["seen"] == "a.eml"
    assert outcome.variables["blob"] == "b'xy'"  # not JSON: its repr
    assert outcome.variables["helper"].startswith("<function helper")
    assert outcome.variables["nan"] == "nan"


def test_set_variables_restores_a_snapshot_in_a_new_session(sandbox, open_session):
    first = open_session(sandbox)
    snapshot = first.run("count = 3\nrows = [{'a': 1}]", 10).variables
    second = open_session(sandbox)
    second.set_variables({**snapshot, "inputs": {"n": 1}, "data": b"\x00\x01"})
    outcome = second.run("count += inputs['n']\nsize = len(data)", 10)
    assert outcome.variables["count"] == 4 and outcome.variables["rows"] == [{"a": 1}]
    assert outcome.variables["size"] == 2


def test_an_error_carries_the_steps_traceback_only(sandbox, open_session):
    session = open_session(sandbox)
    outcome = session.run("a = 1\nb = {}\nc = b['missing']", 10)
    assert outcome.status is StepStatus.ERROR
    assert 'File "<step>", line 3' in outcome.error and "KeyError: 'missing'" in outcome.error
    assert "harness.py" not in outcome.error
    syntax = session.run("def (:", 10)
    assert syntax.status is StepStatus.ERROR and "SyntaxError" in syntax.error
    assert session.run("a", 10).ok  # an error does not lose earlier variables


def test_metrics_measure_cpu_memory_and_wall_time(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(cpus=1))
    busy = session.run(
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass", 10
    )
    assert busy.ok and 0.25 <= busy.cpu_s <= 1.0
    assert busy.duration_s >= busy.cpu_s * 0.9
    big = session.run(
        "block = bytearray(60 * 1024 * 1024)\nblock[::4096] = b'x' * len(block[::4096])", 10
    )
    assert big.ok, big.error
    assert big.peak_memory_mb >= 55
    session.run("del block", 10)
    small = session.run("pass", 10)
    assert small.peak_memory_mb < big.peak_memory_mb - 40  # the peak is per step


def test_output_beyond_the_cap_is_truncated_and_marked(sandbox, open_session):
    session = open_session(sandbox)
    outcome = session.run(f"print('x' * {DEFAULT_OUTPUT_CAP * 2})", 10)
    assert outcome.ok and outcome.output_truncated
    assert outcome.stdout.startswith("x" * 1000)
    assert len(outcome.stdout) <= DEFAULT_OUTPUT_CAP + 200
    assert TRUNCATION_MARKER.split("{")[0] in outcome.stdout
    assert not session.run("print('short')", 10).output_truncated


def test_a_step_past_its_timeout_is_stopped_and_the_session_carries_on(sandbox, open_session):
    session = open_session(sandbox)
    session.run("kept = 'yes'", 10)
    outcome = session.run("while True:\n    pass", 1)
    assert outcome.status is StepStatus.TIMEOUT
    assert outcome.duration_s < 2
    assert session.alive
    assert session.run("print(kept)", 10).stdout == "yes\n"


def test_a_step_that_disarms_the_timeout_is_killed_within_twice_the_timeout(sandbox, open_session):
    session = open_session(sandbox)
    code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    started = time.monotonic()
    outcome = session.run(code, 1)
    assert outcome.status is StepStatus.TIMEOUT
    assert time.monotonic() - started < 2
    assert not session.alive
    with pytest.raises(SandboxError):
        session.run("pass", 1)
    assert nothing_left(session) == []


def test_memory_over_the_cap_is_killed_oom_and_the_host_carries_on(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(memory="64m"))
    soft = session.run("hog = bytearray(512 * 1024 * 1024)", 10)
    assert soft.status is StepStatus.KILLED_OOM and session.alive  # MemoryError: still usable
    # Memory no rlimit sees (tmpfs pages) still hits the hard cap: the session is killed.
    hard = session.run(
        "chunk = b'x' * (1024 * 1024)\nwith open('/tmp/fill', 'wb') as f:\n"
        "    for _ in range(60):\n        f.write(chunk)\nprint('survived')",
        20,
    )
    assert hard.status is StepStatus.KILLED_OOM, (hard.status, hard.error, hard.stdout)
    assert not session.alive
    assert open_session(sandbox).run("print('fine')", 10).stdout == "fine\n"


def test_a_crashed_interpreter_is_reported_and_the_session_is_dead(sandbox, open_session):
    session = open_session(sandbox)
    session.run("before = 1", 10)
    outcome = session.run("import ctypes\nctypes.string_at(0)", 10)
    assert outcome.status is StepStatus.CRASHED and outcome.error
    assert not session.alive
    exited = open_session(sandbox).run("import os\nos._exit(3)", 10)
    assert exited.status is StepStatus.CRASHED and "3" in exited.error


def test_close_leaves_nothing_running(sandbox, open_session):
    session = open_session(sandbox)
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        "pid = p.pid"
    )
    assert session.run(code, 10).ok
    session.close()
    session.close()  # idempotent
    assert nothing_left(session) == []
    assert not session.alive


def test_a_step_may_write_bytes_and_replace_its_streams(sandbox, open_session):
    session = open_session(sandbox)
    code = "import sys, io\nsys.stdout.buffer.write(b'raw\\n')\n"
    code += "sys.stdout = io.StringIO()\nprint('lost')"
    first = session.run(code, 10)
    assert first.ok and first.stdout == "raw\n", first.error
    assert session.run("print('back')", 10).stdout == "back\n"


def test_huge_values_are_bounded_in_the_snapshot(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(memory="512m"))
    code = "big = 'x' * (4 * 1024 * 1024)\nmany = {f'k{i}': 'y' * 200 for i in range(50_000)}"
    outcome = session.run(code, 20)
    assert outcome.ok, outcome.error
    assert outcome.variables["big"].startswith("'xxx") and outcome.variables["big"].endswith(
        f"... ({4 * 1024 * 1024} chars)"
    )
    assert len(outcome.variables["many"]) < 300 * 1024
    assert session.run("print(len(big), len(many))", 10).stdout == f"{4 * 1024 * 1024} 50000\n"


def test_peak_memory_counts_the_steps_child_processes(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(memory="256m"))
    child = "x = bytearray(80 * 1024 * 1024); x[::4096] = b'y' * len(x[::4096])"
    outcome = session.run(
        f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])", 20
    )
    assert outcome.ok, outcome.error
    assert outcome.peak_memory_mb >= 70
