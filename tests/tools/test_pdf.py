"""The `pdf` tool on real PDFs built with fpdf2."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.pdf import PdfTool
from tests.tools.builders import make_pdf

INVOICE = (
    "FACTURA nº 2024-117\nProveedor: Construcciones Muñoz S.L.\nNIF: B12345674\nTotal: 1.234,56"
)


@pytest.fixture
def pdf(ctx: ToolContext) -> PdfTool:
    return PdfTool(ctx)


def test_extracts_spanish_text_with_accents_from_bytes(pdf: PdfTool) -> None:
    text = pdf.extract_text(make_pdf(INVOICE))
    assert "nº 2024-117" in text
    assert "Construcciones Muñoz S.L." in text
    assert "NIF: B12345674" in text
    assert "1.234,56" in text


def test_extracts_pages_in_order_from_a_workspace_path(pdf: PdfTool, workspace: Path) -> None:
    (workspace / "doc.pdf").write_bytes(make_pdf("Página uno", "Página dos", "Página tres"))
    text = pdf.extract_text("doc.pdf")
    assert text.index("Página uno") < text.index("Página dos") < text.index("Página tres")
    assert pdf.page_count("doc.pdf") == 3


def test_counts_pages_from_bytes(pdf: PdfTool) -> None:
    assert pdf.page_count(make_pdf("a")) == 1
    assert pdf.page_count(bytearray(make_pdf("a", "b"))) == 2


def test_reads_a_pdf_file_input_outside_the_workspace(workspace: Path, tmp_path: Path) -> None:
    invoice = tmp_path / "factura.pdf"
    invoice.write_bytes(make_pdf(INVOICE))
    pdf = PdfTool(ToolContext(workspace=workspace, readable=[invoice]))
    assert "B12345674" in pdf.extract_text(str(invoice))


def test_paths_are_confined_like_the_files_tool(pdf: PdfTool, tmp_path: Path) -> None:
    (tmp_path / "other.pdf").write_bytes(make_pdf("no"))
    with pytest.raises(ToolError, match="outside the run's workspace"):
        pdf.extract_text("../other.pdf")


@pytest.mark.parametrize(
    "data",
    [b"", b"hola, no soy un PDF", b"PK\x03\x04 a zip file", "texto".encode("utf-16")],
)
def test_data_that_is_not_a_pdf_is_refused(pdf: PdfTool, data: bytes) -> None:
    with pytest.raises(ToolError, match="not a PDF"):
        pdf.extract_text(data)


def test_a_truncated_pdf_is_a_clear_error(pdf: PdfTool) -> None:
    with pytest.raises(ToolError, match="PDF"):
        pdf.page_count(make_pdf(INVOICE)[:200])


def test_an_encrypted_pdf_needs_a_password(pdf: PdfTool) -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(INVOICE))))
    writer.encrypt(user_password="clave", owner_password="dueño")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ToolError, match="encrypted"):
        pdf.extract_text(out.getvalue())


def test_a_source_of_another_type_is_refused(pdf: PdfTool) -> None:
    with pytest.raises(ToolError, match="bytes or a path"):
        pdf.extract_text(42)  # type: ignore[arg-type]
