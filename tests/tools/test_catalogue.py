"""build_tools: one live instance per declared tool, secrets from the context."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.errors import ToolError, UsageError
from maisa.specs.model import WorkerSpec
from maisa.tools.base import ToolContext
from maisa.tools.catalogue import BUILTIN_TOOLS, build_tools
from maisa.tools.db import DbTool
from maisa.tools.files import FilesTool


def spec_with(tools: list[object], secrets: list[str] = ()) -> WorkerSpec:
    return WorkerSpec.model_validate(
        {
            "apiVersion": "maisa/v1",
            "kind": "Worker",
            "name": "w",
            "goal": "g",
            "tools": tools,
            "secrets": list(secrets),
        }
    )


def test_builds_every_builtin_and_a_custom_tool(tmp_path: Path, workspace: Path) -> None:
    (tmp_path / "nif.py").write_text("def valida(nif: str) -> bool:\n    return len(nif) == 9\n")
    db_file = tmp_path / "f.db"
    spec = spec_with(
        [
            "files",
            "pdf",
            "mail",
            "http",
            {"name": "db", "secret": "DB"},
            {"name": "nif", "module": "nif.py"},
        ],
        secrets=["DB"],
    )
    ctx = ToolContext(workspace=workspace, secrets={"DB": str(db_file)})
    tools = build_tools(spec, tmp_path, ctx)
    assert list(tools) == ["files", "pdf", "mail", "http", "db", "nif"]
    for name in BUILTIN_TOOLS:
        assert isinstance(tools[name], BUILTIN_TOOLS[name])
    assert tools["nif"].valida("B12345674") is True
    assert tools["db"].query("SELECT 1 AS uno") == [{"uno": 1}]
    assert db_file.exists()  # the secret's value was the database used


def test_tools_share_the_context_workspace(tmp_path: Path, workspace: Path) -> None:
    tools = build_tools(spec_with(["files"]), tmp_path, ToolContext(workspace=workspace))
    assert isinstance(tools["files"], FilesTool)
    tools["files"].write_text("x.txt", "hola")
    assert (workspace / "x.txt").read_text() == "hola"


def test_a_missing_secret_says_which_env_var_to_set(tmp_path: Path, workspace: Path) -> None:
    spec = spec_with([{"name": "db", "secret": "INVOICES_DB_URL"}], secrets=["INVOICES_DB_URL"])
    with pytest.raises(UsageError) as error:
        build_tools(spec, tmp_path, ToolContext(workspace=workspace))
    assert "INVOICES_DB_URL" in error.value.message
    assert "set the environment variable INVOICES_DB_URL" in (error.value.hint or "")
    assert error.value.exit_code == 2


def test_a_secret_the_spec_does_not_declare_is_refused(tmp_path: Path, workspace: Path) -> None:
    spec = spec_with([{"name": "db", "secret": "HOME"}])
    ctx = ToolContext(workspace=workspace, secrets={"HOME": "/root/x.db"})
    with pytest.raises(UsageError, match="does not declare"):
        build_tools(spec, tmp_path, ctx)


def test_db_without_a_secret_says_how_to_declare_one(tmp_path: Path, workspace: Path) -> None:
    with pytest.raises(UsageError, match="needs a secret") as error:
        build_tools(spec_with(["db"]), tmp_path, ToolContext(workspace=workspace))
    assert "{name: db, secret:" in (error.value.hint or "")


def test_a_secret_on_a_tool_that_takes_none_is_refused(tmp_path: Path, workspace: Path) -> None:
    spec = spec_with([{"name": "files", "secret": "X"}], secrets=["X"])
    with pytest.raises(UsageError, match="takes no secret"):
        build_tools(spec, tmp_path, ToolContext(workspace=workspace, secrets={"X": "v"}))


def test_an_unknown_tool_is_refused(tmp_path: Path, workspace: Path) -> None:
    with pytest.raises(ToolError, match="unknown tool 'gmail'") as error:
        build_tools(spec_with(["gmail"]), tmp_path, ToolContext(workspace=workspace))
    assert "module: tools/gmail.py" in (error.value.hint or "")


def test_the_db_connection_opens_lazily(tmp_path: Path, workspace: Path) -> None:
    # Building the tools of a run must not touch the database until a step uses it.
    ctx = ToolContext(workspace=workspace, secrets={"DB": "postgresql://nobody@127.0.0.1:1/x"})
    tools = build_tools(spec_with([{"name": "db", "secret": "DB"}], ["DB"]), tmp_path, ctx)
    assert isinstance(tools["db"], DbTool)
    with pytest.raises(ToolError, match="cannot connect"):
        tools["db"].query("SELECT 1")
