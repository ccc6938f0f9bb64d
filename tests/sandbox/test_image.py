"""The Docker sandbox image: a content-addressed tag, built with no registry."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from maisa.sandbox import image
from tests.fixtures.sandbox import sandbox_backend
from tests.fixtures.services import unavailable


def test_the_tag_changes_with_the_dockerfile_or_the_harness(tmp_path, monkeypatch):
    for name in image.CONTEXT_FILES:
        shutil.copy(image.PACKAGE_DIR / name, tmp_path / name)
    monkeypatch.setattr(image, "PACKAGE_DIR", tmp_path)
    original = image.content_hash()
    for name in image.CONTEXT_FILES:
        text = (tmp_path / name).read_text()
        (tmp_path / name).write_text(text + "\n# changed\n")
        assert image.content_hash() != original, name
        (tmp_path / name).write_text(text)
    assert image.content_hash() == original


def test_the_environment_can_pin_another_image(monkeypatch):
    monkeypatch.setenv("MAISA_SANDBOX_IMAGE", "registry.example/maisa-sandbox:v1")
    assert image.image_tag() == "registry.example/maisa-sandbox:v1"


def test_the_build_context_is_readable_by_the_sandbox_user():
    import tarfile

    with tarfile.open(fileobj=image.build_context()) as tar:
        members = {member.name: member.mode for member in tar.getmembers()}
    assert members == {name: 0o644 for name in image.CONTEXT_FILES}


def test_build_refuses_a_base_that_is_not_local_instead_of_pulling():
    sandbox_backend("docker")
    result = subprocess.run(
        [sys.executable, "-m", "maisa", "sandbox", "build", "--base", "maisa-base:never-made"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not present locally" in result.stderr and "make-base-image" in result.stderr


def test_build_from_the_local_base_gives_the_current_tag():
    import docker

    sandbox_backend("docker")
    client = docker.from_env()
    try:
        client.images.get("maisa-base:bookworm")
    except docker.errors.ImageNotFound:
        unavailable("maisa-base:bookworm is not built (scripts/make-base-image)")
    tag = image.build("maisa-base:bookworm", client=client)
    assert tag == f"{image.REPOSITORY}:{image.content_hash()}"
    built = client.images.get(tag)
    assert built.attrs["Config"]["User"] == "65534:65534"
    assert client.images.get(f"{image.REPOSITORY}:latest").id == built.id


@pytest.mark.parametrize("script", ["scripts/build-sandbox-image", "scripts/make-base-image"])
def test_the_image_scripts_are_valid_bash(script):
    assert subprocess.run(["bash", "-n", script]).returncode == 0
