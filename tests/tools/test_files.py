"""The `files` tool: confined to the workspace and the run's file inputs, on a real filesystem."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools import paths
from maisa.tools.base import ToolContext
from maisa.tools.files import FilesTool


@pytest.fixture
def files(ctx: ToolContext) -> FilesTool:
    return FilesTool(ctx)


def test_text_and_bytes_round_trip_inside_the_workspace(files: FilesTool, workspace: Path) -> None:
    files.write_text("informe.txt", "Señor Muñoz: 1.234,56 €")
    files.write_bytes("datos/crudo.bin", b"\x00\xffPDF")
    assert files.read_text("informe.txt") == "Señor Muñoz: 1.234,56 €"
    assert files.read_bytes("datos/crudo.bin") == b"\x00\xffPDF"
    assert (workspace / "datos" / "crudo.bin").read_bytes() == b"\x00\xffPDF"


def test_write_replaces_an_existing_file(files: FilesTool) -> None:
    files.write_text("a.txt", "a long first version")
    files.write_text("a.txt", "short")
    assert files.read_text("a.txt") == "short"


def test_list_is_sorted_and_marks_directories(files: FilesTool) -> None:
    files.write_text("b.txt", "")
    files.write_text("a.txt", "")
    files.write_text("sub/c.txt", "")
    assert files.list() == ["a.txt", "b.txt", "sub/"]
    assert files.list("sub") == ["c.txt"]


def test_absolute_paths_inside_the_workspace_are_allowed(files: FilesTool, workspace: Path) -> None:
    files.write_text(str(workspace / "x.txt"), "x")
    assert files.read_text(str(workspace / "x.txt")) == "x"


def test_a_file_input_outside_the_workspace_is_readable_but_not_writable(
    workspace: Path, outside: Path
) -> None:
    email = outside / "factura.eml"
    email.write_text("Subject: hola\n\ncuerpo")
    files = FilesTool(ToolContext(workspace=workspace, readable=[email]))
    assert files.read_text(str(email)) == "Subject: hola\n\ncuerpo"
    with pytest.raises(ToolError, match="outside the run's workspace"):
        files.write_text(str(email), "overwritten")
    with pytest.raises(ToolError, match="secret.txt"):
        files.read_text(str(outside / "secret.txt"))  # its neighbour is not an input
    with pytest.raises(ToolError):
        files.list(str(outside))
    assert email.read_text() == "Subject: hola\n\ncuerpo"


def test_a_relative_file_input_is_found_by_the_string_the_step_received(
    workspace: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (outside / "entrada.eml").write_text("Subject: x")
    monkeypatch.chdir(outside.parent)
    files = FilesTool(ToolContext(workspace=workspace, readable=[Path("outside/entrada.eml")]))
    assert files.read_text("outside/entrada.eml") == "Subject: x"
    with pytest.raises(ToolError, match="outside"):
        files.read_text("outside/secret.txt")


def test_a_file_input_below_a_search_only_directory_is_readable() -> None:
    # Like /home/someone (drwx--x--x): path lookup may pass through, listing may not. Root
    # ignores permissions, so the check runs with the effective uid of nobody.
    base = Path(tempfile.mkdtemp(prefix="maisa-search-only-"))
    try:
        base.chmod(0o755)
        (base / "workspace").mkdir(mode=0o777)
        email = base / "locked" / "inbox" / "m.eml"
        email.parent.mkdir(parents=True)
        email.write_text("Subject: x")
        email.chmod(0o644)
        (base / "locked").chmod(0o111)
        with effective_uid(65534):
            files = FilesTool(ToolContext(workspace=base / "workspace", readable=[email]))
            assert files.read_text(str(email)) == "Subject: x"
            with pytest.raises(PermissionError):
                os.listdir(base / "locked")  # the directory really is search-only
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


@contextmanager
def effective_uid(uid: int) -> Iterator[None]:
    if os.geteuid() != 0:
        yield  # already unprivileged: permissions apply as they are
        return
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.parametrize("escape", ["../outside/secret.txt", "sub/../../outside/secret.txt"])
def test_dot_dot_escapes_are_refused_naming_the_path(
    files: FilesTool, outside: Path, escape: str
) -> None:
    with pytest.raises(ToolError, match="outside the run's workspace") as error:
        files.read_text(escape)
    assert escape in error.value.message
    with pytest.raises(ToolError, match="outside the run's workspace"):
        files.write_text(escape, "pwned")
    assert (outside / "secret.txt").read_text() == "top secret"


@pytest.mark.parametrize("target", ["/etc/passwd", "/etc/shadow", "/proc/self/environ"])
def test_absolute_paths_elsewhere_are_refused(files: FilesTool, target: str) -> None:
    with pytest.raises(ToolError, match="outside the run's workspace"):
        files.read_bytes(target)


def test_a_symlink_pointing_out_is_refused_for_reading_and_writing(
    files: FilesTool, workspace: Path, outside: Path
) -> None:
    (workspace / "link.txt").symlink_to(outside / "secret.txt")
    (workspace / "linkdir").symlink_to(outside)
    with pytest.raises(ToolError, match="link.txt"):
        files.read_text("link.txt")
    with pytest.raises(ToolError, match="outside"):
        files.read_text("linkdir/secret.txt")
    with pytest.raises(ToolError, match="outside"):
        files.write_text("link.txt", "pwned")
    with pytest.raises(ToolError, match="outside"):
        files.write_text("linkdir/new.txt", "pwned")
    with pytest.raises(ToolError):
        files.list("linkdir")
    assert (outside / "secret.txt").read_text() == "top secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_symlink_to_the_root_directory_gives_nothing(files: FilesTool, workspace: Path) -> None:
    (workspace / "root").symlink_to("/")
    with pytest.raises(ToolError):
        files.read_text("root/etc/passwd")


def test_a_symlink_that_stays_inside_the_workspace_works(files: FilesTool, workspace: Path) -> None:
    files.write_text("real/data.txt", "dentro")
    (workspace / "alias").symlink_to(workspace / "real")
    assert files.read_text("alias/data.txt") == "dentro"
    assert files.list() == ["alias", "real/"]


def test_a_directory_swapped_for_a_symlink_after_the_check_is_not_followed(
    files: FilesTool, workspace: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Step code under bwrap shares the workspace and may race the host: it swaps a checked
    # directory for a symlink between the path check and the open.
    files.write_text("dir/secret.txt", "harmless")
    checked = paths.Confinement.readable_path

    def check_then_swap(self: paths.Confinement, path: object) -> Path:
        real = checked(self, path)
        os.rename(workspace / "dir", workspace / "old")
        (workspace / "dir").symlink_to(outside)
        return real

    monkeypatch.setattr(paths.Confinement, "readable_path", check_then_swap)
    with pytest.raises(ToolError, match="symlink that changed"):
        files.read_text("dir/secret.txt")


def test_a_fifo_in_the_workspace_does_not_hang_the_host(files: FilesTool, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    result: list[BaseException] = []

    def read() -> None:
        try:
            files.read_bytes("pipe")
        except ToolError as exc:
            result.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO blocked the host"
    assert "not a regular file" in result[0].message


def test_writing_to_a_fifo_fails_instead_of_blocking(files: FilesTool, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    with pytest.raises(ToolError, match="pipe"):
        files.write_text("pipe", "x")


def test_writes_over_the_size_limit_are_refused(files: FilesTool, workspace: Path) -> None:
    with pytest.raises(ToolError, match="limit"):
        files.write_bytes("huge.bin", bytes(paths.MAX_WRITE_BYTES + 1))
    assert not (workspace / "huge.bin").exists()


def test_reads_over_the_size_limit_are_refused(
    files: FilesTool, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "big.bin").write_bytes(bytes(2048))
    monkeypatch.setattr(paths, "MAX_READ_BYTES", 1024)
    with pytest.raises(ToolError, match="2048 bytes; the limit is 1024"):
        files.read_bytes("big.bin")


def test_clear_errors_for_missing_files_directories_and_binary_text(
    files: FilesTool, workspace: Path
) -> None:
    with pytest.raises(ToolError, match="no such file"):
        files.read_text("nope.txt")
    (workspace / "d").mkdir()
    with pytest.raises(ToolError, match="directory"):
        files.read_text("d")
    with pytest.raises(ToolError, match="workspace directory"):
        files.write_text(".", "x")
    files.write_bytes("bin", b"\xff\xfe\x00")
    with pytest.raises(ToolError, match="read_bytes"):
        files.read_text("bin")


@pytest.mark.parametrize("bad", [None, 3, b"bytes-path", ""])
def test_a_path_that_is_not_a_string_is_refused(files: FilesTool, bad: object) -> None:
    with pytest.raises(ToolError, match="path"):
        files.read_text(bad)  # type: ignore[arg-type]


def test_writes_need_the_right_type(files: FilesTool) -> None:
    with pytest.raises(ToolError, match="str"):
        files.write_text("a.txt", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="bytes"):
        files.write_bytes("a.bin", "text")  # type: ignore[arg-type]
