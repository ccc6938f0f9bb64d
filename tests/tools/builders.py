"""Real documents for the tool tests: PDFs made with fpdf2 and MIME messages made with email."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from fpdf import FPDF


def make_pdf(*pages: str) -> bytes:
    """A PDF with one page per text (core font: Latin-1, so Spanish accents work)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_eml(
    *,
    subject: str = "Factura 2024-001",
    sender: str = "Proveedor Muñoz <facturas@munoz.example>",
    to: str = "contabilidad@empresa.example",
    text: str | None = "Adjunto la factura de noviembre.\nUn saludo.",
    html: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    """A multipart message: text and/or HTML body, plus (filename, mime type, data) attachments."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(datetime(2024, 11, 25, 18, 30, tzinfo=UTC))
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)
