"""The Docker backend: one container per session, driven with the docker SDK.

The container has no network, no capabilities, no-new-privileges, a read-only
root, size-bounded noexec tmpfs for the scratch cwd and /tmp, uid 65534, a
memory cap with no swap, a CPU share, a pids cap and ulimits. The channel is
the container's stdin/stdout over a Docker attach socket; with `stdin_once`,
the harness sees EOF and exits if the host dies without closing the session.
Every container carries the label `maisa.session=<id>`, and `close()`
removes it (forced), so nothing survives.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from maisa.errors import SandboxError, SandboxUnavailable
from maisa.sandbox import cgroups
from maisa.sandbox import image as sandbox_image
from maisa.sandbox.base import DEFAULT_PIDS_LIMIT, DEFAULT_SCRATCH_SIZE, StepStatus
from maisa.sandbox.session import ChannelSession
from maisa.sandbox.transport import DockerSocketTransport
from maisa.specs.model import Limits

if TYPE_CHECKING:
    from maisa.tools.broker import ToolBroker

LABEL = "maisa.session"
# A session's container that exited this long ago belongs to a host process that died without
# closing it (its harness saw stdin EOF and exited): the next open removes it.
ORPHAN_GRACE_S = 60.0
_orphans_checked_at = 0.0  # monotonic time of the last look, so opening a session stays cheap
SCRATCH = "/work"
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": SCRATCH}
MAX_OPEN_FILES = 256


class DockerSandbox:
    """Opens Docker sessions from the sandbox image (built by `maisa sandbox build`)."""

    name = "docker"

    def __init__(self, image: str | None = None) -> None:
        self._image = image
        self._client = None

    @property
    def image(self) -> str:
        return self._image or sandbox_image.image_tag()

    def client(self):
        """A docker SDK client whose engine answers, or SandboxUnavailable."""
        if self._client is not None:
            return self._client
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SandboxUnavailable("the docker Python package is missing") from exc
        try:
            client = docker.from_env(timeout=60)
            client.ping()
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(
                f"the Docker engine is not reachable: {exc}",
                hint="start dockerd (or set DOCKER_HOST), or use --sandbox bwrap",
            ) from exc
        self._client = client
        return client

    def check(self) -> str | None:
        """None when the engine answers and the image exists, else why not and what to do."""
        import docker

        try:
            client = self.client()
        except SandboxUnavailable as exc:
            return exc.message
        try:
            client.images.get(self.image)
        except docker.errors.ImageNotFound:
            return (
                f"the sandbox image {self.image} is not built: run scripts/build-sandbox-image "
                "(or maisa sandbox build --base IMAGE)"
            )
        except docker.errors.DockerException as exc:
            return f"the Docker engine failed: {exc}"
        return None

    def open(self, limits: Limits, workspace: Path, broker: ToolBroker) -> DockerSession:
        """Start one container running the harness. `workspace` stays on the host (tools)."""
        import docker

        client = self.client()
        _remove_orphans(client)
        session_id = uuid.uuid4().hex[:12]
        try:
            config = container_config(client, self.image, limits, session_id)
            created = client.api.create_container_from_config(config)
            container = client.containers.get(created["Id"])
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"the sandbox image {self.image} is not built",
                hint="run scripts/build-sandbox-image (or maisa sandbox build --base IMAGE)",
            ) from None
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot create the sandbox container: {exc}") from exc
        session = None
        try:
            params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            sock = client.api.attach_socket(container.id, params=params)
            raw = getattr(sock, "_sock", sock)  # the SDK wraps the socket in a SocketIO
            session = DockerSession(container, DockerSocketTransport(raw), broker, session_id)
            container.start()
            session._handshake(broker.manifest(), limits.memory)
        except (docker.errors.DockerException, SandboxError, OSError) as exc:
            if session is not None:
                session.close()
            else:
                _remove(container)
            message = exc.message if isinstance(exc, SandboxError) else str(exc)
            raise SandboxUnavailable(f"the Docker sandbox did not start: {message}") from exc
        return session


def container_config(client, image: str, limits: Limits, session_id: str) -> dict:
    """The engine's create request for a session container (the SDK's `containers.create`
    cannot set StdinOnce, which makes the harness exit when the host goes away)."""
    config = client.api.create_container_config(
        image,
        None,
        stdin_open=True,
        tty=False,
        detach=True,
        labels={LABEL: session_id, "maisa.sandbox": "1"},
        hostname="sandbox",
        user="65534:65534",
        working_dir=SCRATCH,
        environment=dict(ENVIRONMENT),
        network_disabled=True,
        host_config=client.api.create_host_config(**host_options(limits)),
    )
    config["StdinOnce"] = True
    config["AttachStdin"] = config["AttachStdout"] = config["AttachStderr"] = True
    return config


def host_options(limits: Limits) -> dict:
    """Everything that confines a session's container, as create_host_config arguments."""
    from docker.types import Ulimit

    scratch = DEFAULT_SCRATCH_SIZE
    return {
        "network_mode": "none",
        "ipc_mode": "private",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {
            SCRATCH: f"rw,noexec,nosuid,nodev,size={scratch},mode=0700,uid=65534,gid=65534",
            "/tmp": f"rw,noexec,nosuid,nodev,size={scratch},mode=1777",
        },
        "mem_limit": limits.memory,
        "oom_kill_disable": False,
        "memswap_limit": limits.memory,  # equal: no swap on top of the cap
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": DEFAULT_PIDS_LIMIT,
        "ulimits": [
            # RLIMIT_DATA is set by the harness itself (runc's own setup needs more than a
            # small cap, and fails to start the container under it).
            Ulimit(name="fsize", soft=scratch, hard=scratch),
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="nofile", soft=MAX_OPEN_FILES, hard=MAX_OPEN_FILES),
        ],
    }


def _remove_orphans(client) -> None:
    """Remove exited session containers left by host processes that died without closing."""
    import docker

    global _orphans_checked_at
    if ORPHAN_GRACE_S and time.monotonic() - _orphans_checked_at < ORPHAN_GRACE_S / 2:
        return
    _orphans_checked_at = time.monotonic()

    try:
        exited = client.containers.list(
            all=True, filters={"label": "maisa.sandbox=1", "status": "exited"}
        )
    except docker.errors.DockerException:
        return
    now = time.time()
    for container in exited:
        finished = container.attrs.get("State", {}).get("FinishedAt", "")
        try:
            ended = datetime.fromisoformat(finished[:26].rstrip("Z")).replace(tzinfo=UTC)
        except ValueError:
            continue
        if now - ended.timestamp() >= ORPHAN_GRACE_S:
            try:
                _remove(container)
            except docker.errors.DockerException:
                pass


def _remove(container) -> None:
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress
            raise


class DockerSession(ChannelSession):
    """One container holding the harness (as its pid 1)."""

    def __init__(self, container, transport: DockerSocketTransport, broker, session_id: str):
        super().__init__(transport, broker)
        self.container = container
        self.session_id = session_id
        self._removed = False
        self._cgroup: cgroups.SessionCgroup | None = None
        self._cgroup_looked_up = False

    def _before_step(self) -> None:
        # Peak memory measured on the host (children and tmpfs included), when the engine is
        # local; otherwise the harness's own figure is used.
        if not self._cgroup_looked_up:
            self._cgroup_looked_up = True
            self._cgroup = cgroups.of_docker_container(self.container.id)
        if self._cgroup:
            cgroups.reset_peak(self._cgroup)

    def _peak_memory_mb(self) -> float | None:
        return self._cgroup.peak_memory_mb() if self._cgroup else None

    def _death(self) -> tuple[StepStatus, str]:
        import docker

        try:
            self.container.wait(timeout=5)
            self.container.reload()
            state = self.container.attrs.get("State", {})
        except (docker.errors.DockerException, OSError) as exc:
            return StepStatus.CRASHED, f"the sandbox container vanished: {exc}"
        if state.get("OOMKilled"):
            return StepStatus.KILLED_OOM, "the session ran out of memory and was killed"
        code = state.get("ExitCode")
        if not isinstance(code, int) or not 0 <= code <= 255:  # the engine lost track of it
            code = f"unknown; engine says {state.get('Status')!r} {state.get('Error') or ''}"
        return StepStatus.CRASHED, f"the interpreter died (exit status {code})"

    def _kill(self) -> None:
        if self._removed:
            return
        self._removed = True
        _remove(self.container)
