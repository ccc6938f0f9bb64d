"""Containment: every attack snippet, on every backend, stays inside (issue 3 item 7)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maisa.sandbox.base import DEFAULT_OUTPUT_CAP, DEFAULT_SCRATCH_SIZE, StepStatus
from maisa.specs.model import Limits
from maisa.tools.broker import ToolBroker
from tests.fixtures.sandbox import CANARY_SECRET
from tests.sandbox.attacks import ATTACKS, Attack
from tests.sandbox.helpers import nothing_left

PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"
FILE_SECRET = "file-canary-41d0c8a5"


class Listener:
    """A TCP server on the host's loopback that records every connection it accepts."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.servers = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.servers[0].getsockname()[1]
        try:
            self.servers.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass
        for server in self.servers:
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                connection, address = server.accept()
            except OSError:
                return
            self.accepted.append(str(address))
            connection.close()

    def close(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Things on the host that must stay out of reach: files, a listener, a nobody process."""
    canary_file = Path("/tmp") / f"maisa-canary-{os.getpid()}.txt"
    canary_file.write_text(FILE_SECRET)
    canary_file.chmod(0o644)
    other = tmp_path_factory.mktemp("other-run-workspace")
    (other / "secret.txt").write_text(FILE_SECRET)
    listener = Listener()
    sentinel = None
    if os.geteuid() == 0:  # a host process of the sandbox's own inside uid, 65534
        sentinel = subprocess.Popen(["sleep", "3600"], user=65534, group=65534)
    yield {
        "canary_file": str(canary_file),
        "project_file": str(PROJECT_FILE),
        "other_workspace": str(other),
        "workspace": str(tmp_path_factory.mktemp("this-run-workspace")),
        "port": listener.port,
        "host_pid": os.getpid(),
        "canary": CANARY_SECRET,
        "listener": listener,
        "sentinel": sentinel,
    }
    listener.close()
    canary_file.unlink()
    if sentinel:
        sentinel.kill()
        sentinel.wait()


@pytest.fixture(scope="module")
def shared_sessions() -> Iterator[dict]:
    """One long-lived session per backend for the attacks that do not need a fresh one."""
    sessions: dict = {}
    yield sessions
    for session in sessions.values():
        session.close()


def _session_for(attack: Attack, sandbox, shared: dict, host: dict, open_session):
    limits = Limits(memory=attack.memory, step_timeout=attack.timeout)
    workspace = Path(host["workspace"])
    if attack.fresh:
        return open_session(sandbox, limits=limits, workspace=workspace)
    session = shared.get(sandbox.name)
    if session is None or not session.alive:
        session = sandbox.open(Limits(memory="128m"), workspace, ToolBroker({}))
        shared[sandbox.name] = session
    return session


def test_there_are_at_least_25_attacks():
    assert len(ATTACKS) >= 25
    assert len({attack.name for attack in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_attack_is_contained(attack: Attack, sandbox, shared_sessions, host, open_session):
    session = _session_for(attack, sandbox, shared_sessions, host, open_session)
    values = {k: v for k, v in host.items() if k not in ("listener", "sentinel")}
    outcomes = []
    for step in attack.steps:
        started = time.monotonic()
        outcome = session.run(step.format(**values), attack.timeout)
        elapsed = time.monotonic() - started
        outcomes.append(outcome)
        assert elapsed < 2 * attack.timeout + 1, f"step took {elapsed:.1f}s"
        if not session.alive:
            break
    last = outcomes[-1]
    shown = (
        f"{last.status}\nstdout: {last.stdout[:3000]}\nstderr: {last.stderr[:2000]}\n{last.error}"
    )
    assert last.status in attack.statuses, shown
    for outcome in outcomes:
        everything = json.dumps(
            [outcome.stdout, outcome.stderr, outcome.error, outcome.variables], default=str
        )
        assert CANARY_SECRET not in everything, shown
        assert FILE_SECRET not in everything, shown
        assert "ESCAPED" not in outcome.stdout, shown
        assert len(outcome.stdout) <= DEFAULT_OUTPUT_CAP + 200
    for expected in attack.expect:
        assert expected in last.stdout, shown
    assert host["listener"].accepted == [], "a sandbox reached the host's loopback listener"
    if host["sentinel"] is not None:
        assert host["sentinel"].poll() is None, "a host process of uid 65534 was killed"


def test_cpu_share_holds_against_many_threads(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(cpus=0.5))
    code = (
        "import threading, time\ndef spin():\n    end = time.monotonic() + 1.5\n"
        "    while time.monotonic() < end:\n        pass\n"
        "threads = [threading.Thread(target=spin) for _ in range(4)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]"
    )
    outcome = session.run(code, 10)
    assert outcome.ok, outcome.error
    # 4 spinning threads for 1.5 s would use ~3 CPU seconds on this 2-core machine unbounded.
    assert outcome.cpu_s <= outcome.duration_s * 0.5 + 0.3, (outcome.cpu_s, outcome.duration_s)


def test_scratch_space_is_bounded_and_per_session(sandbox, open_session):
    first = open_session(sandbox, limits=Limits(memory="512m"))
    second = open_session(sandbox)
    assert first.run("open('mine.txt', 'w').write('first session only')", 10).ok
    peek = second.run("import os\nprint(sorted(os.listdir('.')), os.getcwd())", 10)
    assert peek.stdout.strip() == "[] /work"
    fill = first.run(
        "import os\nst = os.statvfs('.')\nprint(st.f_blocks * st.f_frsize, st.f_bavail)",
        10,
    )
    total, _ = map(int, fill.stdout.split())
    assert total <= DEFAULT_SCRATCH_SIZE


def test_a_bomb_session_leaves_nothing_behind(sandbox, open_session):
    session = open_session(sandbox, limits=Limits(memory="64m"))
    outcome = session.run(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", 2
    )
    # Whichever cap bites first (pids, memory, time), the bomb is stopped.
    assert outcome.status in (StepStatus.TIMEOUT, StepStatus.ERROR, StepStatus.KILLED_OOM)
    session.close()
    assert nothing_left(session) == []
