"""The `mail` tool on real multipart .eml files built with `email.message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.mail import MailTool, html_to_text
from maisa.tools.pdf import PdfTool
from tests.tools.builders import make_eml, make_pdf


@pytest.fixture
def mail(ctx: ToolContext) -> MailTool:
    return MailTool(ctx)


def test_reads_headers_body_and_a_pdf_attachment(mail: MailTool, workspace: Path) -> None:
    invoice = make_pdf("Factura nº 7\nNIF: B12345674\nTotal: 99,90")
    (workspace / "factura.eml").write_bytes(
        make_eml(
            subject="Factura de noviembre — Muñoz",
            to="contabilidad@empresa.example, jefa@empresa.example",
            attachments=(("factura-7.pdf", "application/pdf", invoice),),
        )
    )
    message = mail.read_eml("factura.eml")
    assert message["subject"] == "Factura de noviembre — Muñoz"
    assert message["from"] == "Proveedor Muñoz <facturas@munoz.example>"
    assert message["to"] == "contabilidad@empresa.example, jefa@empresa.example"
    assert message["date"] == "2024-11-25T18:30:00+00:00"
    assert message["text"] == "Adjunto la factura de noviembre.\nUn saludo."
    assert message["attachments"] == [
        {"filename": "factura-7.pdf", "content_type": "application/pdf", "data": invoice}
    ]


def test_the_attachment_feeds_the_pdf_tool(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "m.eml").write_bytes(
        make_eml(attachments=(("f.pdf", "application/pdf", make_pdf("Total: 1.500,00")),))
    )
    attachment = MailTool(ctx).read_eml("m.eml")["attachments"][0]
    assert "Total: 1.500,00" in PdfTool(ctx).extract_text(attachment["data"])


def test_several_attachments_keep_their_order_and_types(mail: MailTool, workspace: Path) -> None:
    (workspace / "m.eml").write_bytes(
        make_eml(
            attachments=(
                ("a.pdf", "application/pdf", make_pdf("a")),
                ("notas.txt", "text/plain", "línea".encode()),
                ("foto.png", "image/png", b"\x89PNG\r\n\x1a\n"),
            )
        )
    )
    attachments = mail.read_eml("m.eml")["attachments"]
    assert [(a["filename"], a["content_type"]) for a in attachments] == [
        ("a.pdf", "application/pdf"),
        ("notas.txt", "text/plain"),
        ("foto.png", "image/png"),
    ]
    assert attachments[1]["data"] == "línea".encode()
    assert attachments[2]["data"] == b"\x89PNG\r\n\x1a\n"


def test_the_plain_part_is_preferred_over_html(mail: MailTool, workspace: Path) -> None:
    (workspace / "m.eml").write_bytes(make_eml(text="texto plano", html="<p>en <b>HTML</b></p>"))
    assert mail.read_eml("m.eml")["text"] == "texto plano"


def test_an_html_only_message_is_converted_to_text(mail: MailTool, workspace: Path) -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Estimado cliente:</p><p>Importe &amp; IVA: <b>121,00&nbsp;€</b></p>"
        "<script>alert('x')</script></body></html>"
    )
    (workspace / "m.eml").write_bytes(make_eml(text=None, html=html))
    assert mail.read_eml("m.eml")["text"] == "Estimado cliente:\nImporte & IVA: 121,00 €"


def test_html_to_text_puts_table_rows_on_lines() -> None:
    text = html_to_text("<table><tr><td>NIF</td><td>B12345674</td></tr><tr><td>Total</td></tr>")
    assert text.splitlines() == ["NIF B12345674", "Total"]


def test_a_message_without_a_date_or_body(mail: MailTool, workspace: Path) -> None:
    (workspace / "m.eml").write_bytes(b"Subject: vac\xc3\xado\r\nFrom: a@b.example\r\n\r\n")
    message = mail.read_eml("m.eml")
    assert message["date"] is None
    assert message["text"] == ""
    assert message["to"] == ""
    assert message["attachments"] == []


def test_an_empty_file_is_not_a_message(mail: MailTool, workspace: Path) -> None:
    (workspace / "empty.eml").write_bytes(b"")
    with pytest.raises(ToolError, match="empty"):
        mail.read_eml("empty.eml")


def test_paths_are_confined(mail: MailTool, tmp_path: Path) -> None:
    (tmp_path / "other.eml").write_bytes(make_eml())
    with pytest.raises(ToolError, match="outside the run's workspace"):
        mail.read_eml(str(tmp_path / "other.eml"))


def test_a_file_input_is_readable(workspace: Path, tmp_path: Path) -> None:
    email = tmp_path / "entrada.eml"
    email.write_bytes(make_eml(subject="Entrada"))
    assert (
        MailTool(ToolContext(workspace=workspace, readable=[email])).read_eml(str(email))["subject"]
        == "Entrada"
    )


def test_bytes_that_are_not_a_message_are_refused(mail: MailTool, workspace: Path) -> None:
    (workspace / "x.eml").write_bytes(make_pdf("no soy un correo"))
    with pytest.raises(ToolError, match="not an e-mail message"):
        mail.read_eml("x.eml")


def test_parsing_runs_in_the_limited_child(
    mail: MailTool, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-in for a message crafted to hang the stdlib parser.
    from maisa.tools import isolation
    from maisa.tools import mail as mail_module

    def spin(message: object) -> str:
        while True:
            pass

    monkeypatch.setattr(isolation, "CPU_SECONDS", 1)
    monkeypatch.setattr(mail_module, "_body_text", spin)
    (workspace / "m.eml").write_bytes(make_eml())
    with pytest.raises(ToolError, match="parsing the e-mail 'm.eml' failed: .*killed"):
        mail.read_eml("m.eml")


def test_attachments_of_a_forwarded_message_are_found(mail: MailTool, workspace: Path) -> None:
    from email import message_from_bytes, policy

    invoice = make_pdf("Total: 50,00")
    original = message_from_bytes(
        make_eml(attachments=(("factura.pdf", "application/pdf", invoice),)),
        policy=policy.default,
    )
    forward = message_from_bytes(
        make_eml(subject="Fwd: factura", text="Os reenvío la factura."), policy=policy.default
    )
    forward.add_attachment(original)  # message/rfc822
    (workspace / "fwd.eml").write_bytes(bytes(forward))
    message = mail.read_eml("fwd.eml")
    assert message["text"] == "Os reenvío la factura."
    assert [a["filename"] for a in message["attachments"]] == ["factura.pdf"]
    assert message["attachments"][0]["data"] == invoice
