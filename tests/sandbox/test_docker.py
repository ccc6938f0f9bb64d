"""Docker specifics: the confinement the engine actually applied to a session's container."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.sandbox.base import DEFAULT_PIDS_LIMIT
from maisa.specs.model import Limits
from maisa.tools.broker import ToolBroker
from tests.fixtures.sandbox import sandbox_backend


@pytest.fixture(scope="module")
def backend():
    return sandbox_backend("docker")


def test_the_container_is_confined_as_designed(backend, open_session):
    session = open_session(backend, limits=Limits(memory="96m", cpus=0.25))
    session.container.reload()
    config, host = session.container.attrs["Config"], session.container.attrs["HostConfig"]
    assert config["User"] == "65534:65534"
    assert set(config["Env"]) <= {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                                  "HOME=/work", "HOSTNAME=sandbox"}  # fmt: skip
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["Memory"] == 96 * 1024**2 and host["MemorySwap"] == 96 * 1024**2
    assert host["NanoCpus"] == 250_000_000
    assert host["PidsLimit"] == DEFAULT_PIDS_LIMIT
    assert set(host["Tmpfs"]) == {"/work", "/tmp"}
    assert all("noexec" in options and "size=" in options for options in host["Tmpfs"].values())
    assert not host.get("Binds") and not session.container.attrs.get("Mounts")
    assert {u["Name"] for u in host["Ulimits"]} >= {"fsize", "core", "nofile"}


HOST_THAT_DIES = """
import os, sys
from pathlib import Path
from maisa.sandbox.docker import DockerSandbox
from maisa.specs.model import Limits
from maisa.tools.broker import ToolBroker
from maisa.tools.broker import ToolBroker
session = DockerSandbox().open(Limits(), Path("/tmp"), ToolBroker({}))
sleeper = "[sys.executable, '-c', 'import time; time.sleep(600)']"
session.run(f"import subprocess, sys; subprocess.Popen({sleeper})", 10)
print(session.container.id, flush=True)
os._exit(0)  # no close(): like a host killed mid-run
"""


def test_a_host_that_dies_without_closing_leaves_no_running_process(backend, monkeypatch):
    import subprocess
    import sys

    import docker

    from maisa.sandbox import docker as docker_backend

    result = subprocess.run(
        [sys.executable, "-c", HOST_THAT_DIES], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    container = docker.from_env().containers.get(result.stdout.strip())
    assert container.wait(timeout=10)["StatusCode"] == 0  # stdin EOF: the harness exited
    # The next session anywhere on this engine removes the dead container.
    monkeypatch.setattr(docker_backend, "ORPHAN_GRACE_S", 0.0)
    backend.open(Limits(), Path("/tmp"), ToolBroker({})).close()
    with pytest.raises(docker.errors.NotFound):
        container.reload()
