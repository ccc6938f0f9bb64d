"""The `pdf` tool: text and page count of PDF documents, with pypdf (DESIGN §6).

PDFs usually come from strangers (mail attachments), so pypdf runs in a forked
child with CPU, memory and time limits (`maisa.tools.isolation`): a PDF made to
hang or exhaust the parser costs the host nothing but a ToolError.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.isolation import run_limited
from maisa.tools.paths import Confinement

# pypdf logs recoverable damage as warnings; they would leak onto the runtime's stderr.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class PdfTool:
    """Read PDF documents. `source` is the PDF's bytes (e.g. a mail attachment's `data`) or the
    path of a PDF file readable through `files`.
    """

    def __init__(self, ctx: ToolContext) -> None:
        self._paths = Confinement(ctx)

    def extract_text(self, source: bytes | str) -> str:
        """Return the text of every page, in order, pages separated by a blank line."""
        data, name = self._load(source)
        return run_limited(f"reading the PDF {name}", _extract_text, data, name)

    def page_count(self, source: bytes | str) -> int:
        """Return the number of pages."""
        data, name = self._load(source)
        return run_limited(f"reading the PDF {name}", _page_count, data, name)

    def _load(self, source: object) -> tuple[bytes, str]:
        if isinstance(source, bytes | bytearray):
            data, name = bytes(source), f"<{len(source)} bytes>"
        elif isinstance(source, str):
            data, name = self._paths.read(source), repr(source)
        else:
            raise ToolError(f"a PDF source must be bytes or a path, not {type(source).__name__}")
        # Real PDFs may carry a little junk before the header; pypdf tolerates 1 KiB of it.
        if b"%PDF-" not in data[:1024]:
            raise ToolError(f"{name} is not a PDF (no %PDF- header)")
        return data, name


def _open(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ToolError(f"{name} is an encrypted PDF and needs a password")
        len(reader.pages)  # forces the page tree to parse, so damage shows here
    except ToolError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise ToolError(f"{name} is not a readable PDF: {exc}") from None
    return reader


def _extract_text(data: bytes, name: str) -> str:
    reader = _open(data, name)
    try:
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except Exception as exc:
        raise ToolError(f"cannot extract text from {name}: {exc}") from None


def _page_count(data: bytes, name: str) -> int:
    return len(_open(data, name).pages)
