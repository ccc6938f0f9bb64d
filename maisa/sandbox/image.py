"""The Docker sandbox image: its content-addressed tag, and building it with the docker SDK.

The tag `maisa-sandbox:<hash>` covers the Dockerfile and the harness, so a
changed harness can never run from a stale image; `:latest` follows the
newest build. The build context is made from the package's own files (no
checkout needed), and nothing is pulled: BASE must already be local.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from maisa.errors import SandboxUnavailable, UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY = "maisa-sandbox"
CONTEXT_FILES = ("Dockerfile", "channel.py", "harness.py")
DEFAULT_BASE = "python:3.11-slim-bookworm"


def content_hash() -> str:
    """12 hex digits of sha256 over the image's inputs (Dockerfile and harness files)."""
    digest = hashlib.sha256()
    for name in CONTEXT_FILES:
        digest.update(name.encode() + b"\0" + (PACKAGE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag() -> str:
    """The image sessions use: $MAISA_SANDBOX_IMAGE, else the tag of this harness version."""
    return os.environ.get("MAISA_SANDBOX_IMAGE") or f"{REPOSITORY}:{content_hash()}"


def build_context() -> io.BytesIO:
    """A tar of the Dockerfile and harness, readable by the image's non-root user."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in CONTEXT_FILES:
            data = (PACKAGE_DIR / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build(base: str | None = None, *, client=None, log=None) -> str:
    """Build the sandbox image from BASE (must exist locally); returns the hashed tag."""
    import docker

    try:
        client = client or docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(
            f"the Docker engine is not reachable: {exc}",
            hint="start dockerd, or check DOCKER_HOST",
        ) from exc
    base = base or DEFAULT_BASE
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        raise UsageError(
            f"base image {base} is not present locally (no registry is used)",
            hint="make one with scripts/make-base-image, then: maisa sandbox build "
            "--base maisa-base:bookworm",
        ) from None
    tag = f"{REPOSITORY}:{content_hash()}"
    try:
        image, output = client.images.build(
            fileobj=build_context(),
            custom_context=True,
            tag=tag,
            buildargs={"BASE": base},
            rm=True,
            forcerm=True,
            pull=False,
            labels={"maisa.harness": content_hash()},
        )
    except docker.errors.BuildError as exc:
        lines = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
        raise UsageError(f"building the sandbox image failed: {exc}\n{lines[-2000:]}") from exc
    if log:
        for chunk in output:
            if text := str(chunk.get("stream", "")).strip():
                log(text)
    image.tag(REPOSITORY, "latest")
    _remove_stale(client, keep=tag)
    return tag


def _remove_stale(client, keep: str) -> None:
    """Untag images of older harness versions; one still used by a container stays."""
    import docker

    for old in client.images.list(name=REPOSITORY):
        for stale in old.tags:
            if stale in (keep, f"{REPOSITORY}:latest"):
                continue
            try:
                client.images.remove(stale)
            except docker.errors.APIError:
                pass  # in use by a container, or already gone
