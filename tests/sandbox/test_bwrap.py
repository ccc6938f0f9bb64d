"""bwrap specifics: what is bound, the per-session uid, and the rlimit fallback without cgroups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maisa.sandbox import bwrap, bwrap_runtime, cgroups
from maisa.sandbox.base import StepStatus
from maisa.specs.model import Limits
from tests.fixtures.sandbox import sandbox_backend
from tests.sandbox.helpers import bwrap_leftovers, nothing_left


@pytest.fixture(scope="module")
def backend():
    return sandbox_backend("bwrap")


def test_the_runtime_is_a_system_python_and_nothing_private(backend):
    runtime = bwrap_runtime.discover()
    bound = [runtime.python, runtime.stdlib, *runtime.lib_dirs]
    for path in bound:
        assert not any(
            Path(path) == tree or tree in Path(path).parents
            for tree in (Path("/root"), Path("/home"), Path("/etc"), Path.cwd())
        ), path
    assert "dist-packages" not in " ".join(bound) and "site-packages" not in " ".join(bound)


def test_an_interpreter_under_a_private_tree_is_refused(backend, monkeypatch):
    import shutil
    import tempfile

    private = Path(tempfile.mkdtemp(dir="/var/tmp")) / "python3"  # /var is a private tree
    shutil.copy2(bwrap_runtime.discover().python, private)
    monkeypatch.setattr(bwrap_runtime, "PYTHON_CANDIDATES", ())
    bwrap_runtime.discover.cache_clear()
    try:
        with pytest.raises(bwrap_runtime.RuntimeNotFound, match="private tree"):
            bwrap_runtime.discover(str(private))
    finally:
        bwrap_runtime.discover.cache_clear()
        shutil.rmtree(private.parent)


def test_the_command_line_asks_for_every_isolation(backend):
    args = bwrap._bwrap_args(bwrap_runtime.discover(), [(10, "/opt/maisa/harness.py")])
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--as-pid-1", "--clearenv", "--remount-ro"):  # fmt: skip
        assert flag in args
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert args[args.index("--uid") + 1] == "65534" and args[args.index("--gid") + 1] == "65534"
    binds = [args[i + 1] for i, a in enumerate(args) if a in ("--bind", "--ro-bind")]
    assert "--bind" not in args  # nothing of the host is writable
    assert all(not b.startswith(("/root", "/home", "/var", "/run", "/etc", "/tmp")) for b in binds)


@pytest.mark.skipif(os.geteuid() != 0, reason="per-session uids need a root host")
def test_each_session_runs_as_its_own_host_uid(backend, open_session):
    first, second = open_session(backend), open_session(backend)
    assert first.outer_uid != second.outer_uid
    assert first.outer_uid >= bwrap.SESSION_UID_BASE
    status = Path(f"/proc/{first.pid}/status").read_text()
    assert str(first.outer_uid) in next(
        line for line in status.splitlines() if line.startswith("Uid:")
    )


def test_without_a_writable_cgroup_rlimits_still_bound_memory_and_processes(
    backend, open_session, monkeypatch
):
    monkeypatch.setattr(cgroups, "create", lambda *args, **kwargs: None)
    session = open_session(backend, limits=Limits(memory="64m"))
    assert session.cgroup is None
    hog = session.run("hog = []\nwhile True:\n    hog.append(bytearray(8 * 1024 * 1024))", 10)
    assert hog.status is StepStatus.KILLED_OOM
    if os.geteuid() == 0:  # RLIMIT_NPROC is per uid: only a per-session uid makes it a cap
        bomb = session.run(
            "import os, time\nn = 0\ntry:\n    while n < 500:\n        if os.fork() == 0:\n"
            "            time.sleep(20)\n            os._exit(0)\n        n += 1\n"
            "except OSError:\n    pass\nprint(n)",
            10,
        )
        assert bomb.ok and int(bomb.stdout) < 100
    session.close()
    assert nothing_left(session) == []


def test_the_harness_is_shipped_precompiled_only_to_an_interpreter_that_accepts_it(backend):
    import dataclasses

    runtime = bwrap_runtime.discover()
    foreign = dataclasses.replace(runtime, bytecode="cpython-399 00000000")
    assert [p for p, _ in bwrap._inside_files(foreign) if p.endswith(".pyc")] == []
    assert bwrap._harness_command(foreign)[-1].endswith("/harness.py")
    if bwrap._bytecode(runtime.bytecode):  # the system Python matches the host's here
        assert bwrap._harness_command(runtime)[-1].endswith("/harness.pyc")


HOST_THAT_DIES = """
import os
from pathlib import Path
from maisa.sandbox.bwrap import BwrapSandbox
from maisa.specs.model import Limits
from maisa.tools.broker import ToolBroker
session = BwrapSandbox().open(Limits(), Path("/tmp"), ToolBroker({}))
sleeper = "[sys.executable, '-c', 'import time; time.sleep(600)']"
session.run(f"import subprocess, sys; subprocess.Popen({sleeper}, start_new_session=True)", 10)
dirs = [str(d) for d in session.cgroup.dirs.values()] if session.cgroup else []
print(session.outer_uid, " ".join(dirs), flush=True)
os._exit(0)  # no close(): like a host killed mid-run
"""


def test_a_host_that_dies_without_closing_leaves_no_process_and_no_cgroup(backend, monkeypatch):
    import subprocess
    import sys
    import time

    result = subprocess.run(
        [sys.executable, "-c", HOST_THAT_DIES], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    uid, *dirs = result.stdout.split()
    outer_uid = None if uid == "None" else int(uid)
    deadline = time.monotonic() + 5
    while bwrap_leftovers(None, outer_uid, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bwrap_leftovers(None, outer_uid, []) == []  # --die-with-parent took them all down
    # The empty cgroups stay until a later session sweeps them (after a grace period).
    monkeypatch.setattr(bwrap, "STALE_CGROUP_S", 0.0)
    time.sleep(0.01)
    open_and_close = backend.open(Limits(), Path("/tmp"), bwrap._NoTools())
    open_and_close.close()
    assert [d for d in dirs if Path(d).exists()] == []
