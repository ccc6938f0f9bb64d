"""Choosing a backend: by name, by $MAISA_SANDBOX, or automatically; never unsandboxed."""

from __future__ import annotations

import pytest

from maisa.errors import SandboxUnavailable, UsageError
from maisa.sandbox import registry
from tests.fixtures.sandbox import sandbox_backend


def test_a_backend_is_chosen_by_name(sandbox):
    assert registry.get_sandbox(sandbox.name).name == sandbox.name


def test_the_environment_variable_chooses_when_no_name_is_given(sandbox, monkeypatch):
    monkeypatch.setenv("MAISA_SANDBOX", sandbox.name)
    assert registry.get_sandbox().name == sandbox.name
    assert registry.get_sandbox(None).name == sandbox.name


def test_auto_prefers_docker_when_its_engine_and_image_are_there(monkeypatch):
    sandbox_backend("docker")
    monkeypatch.delenv("MAISA_SANDBOX", raising=False)
    assert registry.get_sandbox().name == "docker"
    assert registry.get_sandbox("auto").name == "docker"


def test_auto_falls_back_to_bwrap_when_the_docker_image_is_missing(monkeypatch):
    sandbox_backend("bwrap")
    monkeypatch.setenv("MAISA_SANDBOX_IMAGE", "maisa-sandbox:never-built")
    assert registry.get_sandbox("auto").name == "bwrap"
    with pytest.raises(SandboxUnavailable, match="not built"):
        registry.get_sandbox("docker")


def test_an_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown sandbox 'firejail'"):
        registry.get_sandbox("firejail")


def test_when_nothing_works_it_is_an_infrastructure_error_saying_what_to_install(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(SandboxUnavailable) as caught:
        registry.get_sandbox()
    assert caught.value.exit_code == 4
    message = str(caught.value)
    assert "bubblewrap" in message and "Docker engine is not reachable" in message
