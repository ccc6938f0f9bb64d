"""The `pdf` tool: text and page count of PDF documents, with pypdf (DESIGN §6)."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
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
        reader = self._open(source)
        try:
            return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise ToolError(f"cannot extract text from the PDF: {exc}") from None

    def page_count(self, source: bytes | str) -> int:
        """Return the number of pages."""
        return len(self._open(source).pages)

    def _open(self, source: object) -> PdfReader:
        if isinstance(source, bytes | bytearray):
            data, name = bytes(source), f"<{len(source)} bytes>"
        elif isinstance(source, str):
            data, name = self._paths.read(source), repr(source)
        else:
            raise ToolError(f"a PDF source must be bytes or a path, not {type(source).__name__}")
        # Real PDFs may carry a little junk before the header; pypdf tolerates 1 KiB of it.
        if b"%PDF-" not in data[:1024]:
            raise ToolError(f"{name} is not a PDF (no %PDF- header)")
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
