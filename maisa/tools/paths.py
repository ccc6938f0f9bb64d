"""Confinement of the paths step code hands to tools: the workspace, plus the run's file inputs.

Step code may be prompt-injected and, under bwrap, shares the workspace
directory with the host, so it can plant symlinks there and swap them while a
tool runs. A lexical check is not enough: a path is resolved, checked against
the allowed roots, and then opened component by component from `/` with
`O_NOFOLLOW`, so the file opened is exactly the file checked (a symlink swapped
in afterwards makes the open fail instead of escaping).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from maisa.errors import ToolError
from maisa.tools.base import ToolContext

MAX_READ_BYTES = 64 * 1024 * 1024
MAX_WRITE_BYTES = 64 * 1024 * 1024
# Step code writes on the host's disk: bound what one run may leave there (bytes, new files and
# directories, nesting: a 2,000-deep tree breaks os.walk and shutil.rmtree).
MAX_WORKSPACE_BYTES = 1024 * 1024 * 1024
MAX_NEW_ENTRIES = 10_000
MAX_DEPTH = 32
MAX_PATH_CHARS = 1024

# O_PATH: walking needs only search (x) permission on each directory, as path lookup does.
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _as_text(path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise ToolError(f"a path must be a string, not {type(path).__name__}")
    if not path or "\x00" in path:
        raise ToolError(f"invalid path {path[:100]!r}")
    if len(path) > MAX_PATH_CHARS:
        raise ToolError(f"path of {len(path)} characters; the limit is {MAX_PATH_CHARS}")
    return path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Confinement:
    """Which host paths the tools of one run may read and write."""

    def __init__(self, ctx: ToolContext) -> None:
        self.workspace = os.path.realpath(ctx.workspace)
        self.readable = frozenset(os.path.realpath(p) for p in ctx.readable)
        # A file input given relative to the host's working directory is found by the very
        # string step code received in `inputs`, not looked up in the workspace.
        self._inputs = {os.fspath(p): os.path.abspath(p) for p in ctx.readable}
        self._written = 0  # net bytes this run added to the workspace through write()
        self._created = 0  # files and directories this run created there

    def _resolve(self, text: str) -> str:
        if text in self._inputs:
            absolute = self._inputs[text]
        else:
            absolute = os.path.join(self.workspace, text)  # an absolute `text` wins the join
        # Not strict: a missing file resolves lexically, is checked like any other path (so
        # paths outside reveal nothing about what exists there), and fails later at open().
        return os.path.realpath(absolute)

    def readable_path(self, path: object) -> Path:
        """The real path of a file or directory step code may read, or ToolError."""
        text = _as_text(path)
        real = self._resolve(text)
        if _inside(real, self.workspace) or real in self.readable:
            return Path(real)
        raise ToolError(
            f"path {text!r} is outside the run's workspace and is not one of its file inputs"
        )

    def writable_path(self, path: object) -> Path:
        """The real path a step may write (inside the workspace only), or ToolError."""
        text = _as_text(path)
        real = self._resolve(text)
        if real == self.workspace:
            raise ToolError(f"path {text!r} is the workspace directory, not a file")
        if not _inside(real, self.workspace):
            raise ToolError(f"path {text!r} is outside the run's workspace; writing is refused")
        depth = len(Path(real).relative_to(self.workspace).parts)
        if depth > MAX_DEPTH:
            raise ToolError(f"path nested {depth} deep; the limit is {MAX_DEPTH}: {text[:80]!r}")
        return Path(real)

    # -- race-free opening -------------------------------------------------------------------

    @contextmanager
    def _directory_fd(self, directory: Path, create_below: str | None = None) -> Iterator[int]:
        """An fd of `directory`, walked from `/` without following any symlink.

        Components below `create_below` (a directory inside the workspace) are
        created when missing, so writes may target new subdirectories.
        """
        fd = os.open("/", _DIR_FLAGS)
        try:
            walked = ""
            for part in directory.parts[1:]:
                walked += "/" + part
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if create_below is None or not _inside(walked, create_below):
                        raise
                    self._count_new_entry(walked)
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def read(self, path: object, limit: int | None = None) -> bytes:
        """The bytes of a readable regular file, at most `limit` of them (else ToolError)."""
        limit = MAX_READ_BYTES if limit is None else limit
        real = self.readable_path(path)
        try:
            with self._directory_fd(real.parent) as parent:
                # O_NONBLOCK so a FIFO planted in the workspace cannot hang the host.
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                fd = os.open(real.name, flags, dir_fd=parent)
        except OSError as exc:
            raise _open_error(path, exc) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            os.close(fd)
            if stat.S_ISDIR(info.st_mode):
                raise ToolError(f"{path!r} is a directory, not a file")
            if not stat.S_ISREG(info.st_mode):
                raise ToolError(f"{path!r} is not a regular file")
            raise ToolError(f"{path!r} is {info.st_size} bytes; the limit is {limit} bytes")
        with os.fdopen(fd, "rb") as handle:
            # Ask for the size fstat gave (not the limit: read(n) may allocate n bytes up front),
            # then for the rest if the file grew meanwhile.
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(limit + 1 - len(data))
        if len(data) > limit:
            raise ToolError(f"{path!r} is larger than the limit of {limit} bytes")
        return data

    def write(self, path: object, data: bytes, limit: int | None = None) -> None:
        """Create or replace a workspace file (parents made), of at most `limit` bytes."""
        limit = MAX_WRITE_BYTES if limit is None else limit
        if len(data) > limit:
            raise ToolError(
                f"refusing to write {len(data)} bytes to {path!r}; the limit is {limit}"
            )
        real = self.writable_path(path)
        if str(real) in self.readable:
            raise ToolError(f"{path!r} is a run input and is read-only")
        try:
            with self._directory_fd(real.parent, create_below=self.workspace) as parent:
                flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                try:
                    fd = os.open(real.name, flags, dir_fd=parent)
                except FileNotFoundError:
                    self._check_budget(len(data), path)
                    self._count_new_entry(str(real))
                    fd = os.open(real.name, flags | os.O_CREAT, 0o644, dir_fd=parent)
        except OSError as exc:
            raise _open_error(path, exc) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ToolError(f"{path!r} is not a regular file")
        growth = len(data) - info.st_size
        try:
            self._check_budget(growth, path)
        except ToolError:
            os.close(fd)
            raise
        # Truncate only after the checks: a refused write leaves the old contents intact.
        os.ftruncate(fd, 0)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self._written += growth

    def _check_budget(self, growth: int, path: object) -> None:
        if self._written + growth > MAX_WORKSPACE_BYTES:
            raise ToolError(
                f"writing {path!r} would take this run past {MAX_WORKSPACE_BYTES} bytes "
                "written to the workspace; refused"
            )

    def _count_new_entry(self, where: str) -> None:
        if self._created >= MAX_NEW_ENTRIES:
            raise ToolError(
                f"this run already created {MAX_NEW_ENTRIES} files and directories in the "
                f"workspace; refusing to create {where!r}"
            )
        self._created += 1

    def list(self, path: object) -> list[str]:
        """Sorted entry names of a workspace directory; subdirectories end with `/`."""
        real = self.readable_path(path)
        if not _inside(str(real), self.workspace):
            raise ToolError(f"{path!r} is not a directory inside the workspace")
        try:
            with self._directory_fd(real) as path_fd:
                fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=path_fd)
            try:
                names = []
                for name in os.listdir(fd):
                    mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
                    names.append(name + "/" if stat.S_ISDIR(mode) else name)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _open_error(path, exc) from None
        return sorted(names)


def _open_error(path: object, exc: OSError) -> ToolError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        # A component is a symlink after all: it changed after the check, or it loops.
        return ToolError(f"path {path!r} leads through a symlink that changed or loops; refused")
    if exc.errno == errno.ENOENT:
        return ToolError(f"no such file or directory: {path!r}")
    if exc.errno == errno.EISDIR:
        return ToolError(f"{path!r} is a directory, not a file")
    return ToolError(f"cannot open {path!r}: {exc.strerror}")
