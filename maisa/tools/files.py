"""The `files` tool: read and write files in the run's workspace (DESIGN §6)."""

from __future__ import annotations

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.paths import Confinement


class FilesTool:
    """Files of this run. Relative paths are inside the run's workspace (writable); the paths of
    `file` inputs may be read but not written. Nothing else on the machine is reachable.
    """

    def __init__(self, ctx: ToolContext) -> None:
        self._paths = Confinement(ctx)

    def read_text(self, path: str) -> str:
        """Return the contents of a UTF-8 text file."""
        data = self._paths.read(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolError(
                f"{path!r} is not UTF-8 text (byte {exc.start}); use files.read_bytes"
            ) from None

    def read_bytes(self, path: str) -> bytes:
        """Return the contents of a file as bytes."""
        return self._paths.read(path)

    def write_text(self, path: str, text: str) -> None:
        """Create or replace a workspace file with `text` (UTF-8). Missing parent dirs are made."""
        if not isinstance(text, str):
            raise ToolError(f"files.write_text needs str text, not {type(text).__name__}")
        self._paths.write(path, text.encode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file with `data`. Missing parent dirs are made."""
        if not isinstance(data, bytes | bytearray):
            raise ToolError(f"files.write_bytes needs bytes, not {type(data).__name__}")
        self._paths.write(path, bytes(data))

    def list(self, path: str = ".") -> list[str]:
        """Return the sorted names in a workspace directory; subdirectory names end with "/"."""
        return self._paths.list(path)
