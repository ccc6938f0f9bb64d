"""Writes the invoice example's sample emails: Spanish invoices as PDFs, each attached to an .eml.

    python3 examples/facturas/make_fixtures.py [--out DIR]

Writes `DIR/NN-name.eml` (a multipart message: a plain-text body and the PDF
attachment), `DIR/pdf/NN-name.pdf` and `DIR/README.md` (the expected outputs).
DIR defaults to `emails/` beside this script. The output is deterministic
(fixed dates, boundaries and PDF metadata), so regenerating changes nothing.
Needs fpdf2 (a dev dependency of maisa).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from email.policy import default as email_policy
from email.utils import format_datetime
from pathlib import Path
from types import ModuleType

from fpdf import FPDF

HERE = Path(__file__).resolve().parent


def _load_nif_tool() -> ModuleType:
    # The example's own custom tool, loaded by path (it is not an installed package).
    spec = importlib.util.spec_from_file_location("facturas_nif_tool", HERE / "tools" / "nif.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nif_tool = _load_nif_tool()

CLIENT = ("Maisa Demo S.L.", "B87654323", "Calle de Alcalá 48, 28014 Madrid")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Invoice:
    slug: str
    supplier: str
    nif_label: str  # "CIF", "NIF" or "NIE", as the supplier prints it
    nif_written: str  # as printed on the invoice: dashes, dots, spaces, VAT prefix
    address: str
    sender: str
    number: str
    date: dt.date
    lines: tuple[tuple[str, int, str], ...]  # description, quantity, unit price
    irpf: Decimal = Decimal(0)  # withholding of professionals (autónomos), e.g. 0.15
    holder: str = ""  # the person behind a trade name (autónomos)

    @property
    def base(self) -> Decimal:
        return sum((q * Decimal(p) for _, q, p in self.lines), Decimal(0)).quantize(CENT)

    @property
    def iva(self) -> Decimal:
        return (self.base * Decimal("0.21")).quantize(CENT, ROUND_HALF_UP)

    @property
    def retention(self) -> Decimal:
        return (self.base * self.irpf).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.base + self.iva - self.retention


INVOICES = (
    Invoice(
        slug="01-suministros-levante",
        supplier="Suministros Levante S.L.",
        nif_label="CIF",
        nif_written="B-12345674",
        address="Avenida del Puerto 112, 46023 Valencia",
        sender="facturacion@suministroslevante.es",
        number="SL-2026/0412",
        date=dt.date(2026, 11, 3),
        lines=(
            ("Papel A4 80 g, caja de 5 paquetes", 12, "24.90"),
            ("Tóner láser negro HP 59A", 4, "89.95"),
            ("Archivadores de palanca, lomo ancho", 30, "3.45"),
            ("Silla de oficina ergonómica", 1, "260.00"),
        ),
    ),
    Invoice(
        slug="02-papeleria-martinez",
        supplier="Papelería Martínez",
        holder="Lucía Martínez Pérez",
        nif_label="NIF",
        nif_written="50.123.456-Q",
        address="Calle Mayor 7, 50001 Zaragoza",
        sender="lucia@papeleriamartinez.es",
        number="2026-118",
        date=dt.date(2026, 11, 10),
        lines=(
            ("Bolígrafos azules, caja de 50", 2, "18.50"),
            ("Cuadernos espiral A5", 10, "3.40"),
        ),
    ),
    Invoice(
        slug="03-transportes-gomez",
        supplier="Transportes Gómez e Hijos S.A.",
        nif_label="CIF",
        nif_written="ES A08123457",
        address="Polígono Industrial Can Roca, nave 14, 08107 Martorelles (Barcelona)",
        sender="administracion@transportesgomez.com",
        number="TG-26-00977",
        date=dt.date(2026, 11, 14),
        lines=(
            ("Transporte de mercancía Barcelona - Madrid, camión completo", 8, "1150.00"),
            ("Seguro de mercancía", 8, "139.26"),
        ),
    ),
    Invoice(
        slug="04-consultoria-novak",
        supplier="Consultoría Novak",
        holder="Jana Novak",
        nif_label="NIE",
        nif_written="X-7654321-J",
        address="Calle San Fernando 21, 3º B, 41004 Sevilla",
        sender="jana@novakconsulting.eu",
        number="N-2026-031",
        date=dt.date(2026, 11, 18),
        lines=(("Consultoría de protección de datos (RGPD), horas", 25, "90.00"),),
        irpf=Decimal("0.15"),
    ),
    Invoice(
        slug="05-reformas-costa-brava",
        supplier="Reformas Costa Brava S.L.",
        nif_label="CIF",
        nif_written="B 1765432 9",
        address="Carrer de la Riera 5, 17310 Lloret de Mar (Girona)",
        sender="oficina@reformascostabrava.cat",
        number="RCB-0385",
        date=dt.date(2026, 11, 21),
        lines=(
            ("Pintura de oficina, m²", 120, "14.50"),
            ("Sustitución de puerta cortafuegos", 1, "860.00"),
        ),
    ),
)


def euros(amount: Decimal) -> str:
    """Spanish style: 1.234,56 € (and -337,50 €)."""
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{'.'.join(groups)},{cents} €"


def invoice_pdf(invoice: Invoice) -> bytes:
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"  # accents and the euro sign in the core fonts
    pdf.set_creation_date(dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC))
    pdf.set_producer("maisa examples/facturas/make_fixtures.py")
    pdf.set_title(f"Factura {invoice.number}")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 9, invoice.supplier, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    if invoice.holder:
        pdf.cell(0, 5, invoice.holder, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, invoice.address, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, f"{invoice.nif_label}: {invoice.nif_written}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, invoice.sender, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("helvetica", "B", 13)
    pdf.cell(0, 7, f"FACTURA Nº {invoice.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 5, f"Fecha de emisión: {invoice.date:%d/%m/%Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(0, 5, "Cliente", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    client, client_cif, client_address = CLIENT
    pdf.cell(0, 5, f"{client} - CIF {client_cif}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, client_address, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (95, 20, 27, 28)
    pdf.set_font("helvetica", "B", 10)
    for width, title in zip(widths, ("Concepto", "Cant.", "Precio", "Importe"), strict=True):
        pdf.cell(width, 7, title, border="B", align="L" if title == "Concepto" else "R")
    pdf.ln()
    pdf.set_font("helvetica", "", 9)
    for description, quantity, price in invoice.lines:
        amount = (quantity * Decimal(price)).quantize(CENT)
        cells = (description, str(quantity), euros(Decimal(price)), euros(amount))
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text, align="L" if text == description else "R")
        pdf.ln()
    pdf.ln(4)
    totals = [("Base imponible", invoice.base), ("IVA 21%", invoice.iva)]
    if invoice.retention:
        totals.append((f"Retención IRPF {invoice.irpf * 100:.0f}%", -invoice.retention))
    pdf.set_font("helvetica", "", 10)
    for label, amount in totals:
        pdf.cell(142, 6, label, align="R")
        pdf.cell(28, 6, euros(amount), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(142, 8, "TOTAL FACTURA", align="R")
    pdf.cell(28, 8, euros(invoice.total), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("helvetica", "", 8)
    pdf.multi_cell(
        0, 4, "Forma de pago: transferencia bancaria a 30 días. IBAN ES91 2100 0418 4502 0005 1332."
    )
    return bytes(pdf.output())


def invoice_email(invoice: Invoice, pdf: bytes, index: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"{invoice.supplier} <{invoice.sender}>"
    message["To"] = "Cuentas a pagar <facturas@maisa-demo.es>"
    message["Subject"] = f"Factura {invoice.number}"
    sent = dt.datetime.combine(invoice.date, dt.time(9, 30), tzinfo=dt.UTC)
    message["Date"] = format_datetime(sent)
    message["Message-ID"] = f"<{invoice.slug}@maisa-demo.example>"
    message.set_content(
        "Buenos días:\n\n"
        f"Les adjuntamos la factura {invoice.number} con fecha {invoice.date:%d/%m/%Y}.\n"
        "Quedamos a su disposición para cualquier consulta.\n\n"
        f"Un saludo,\n{invoice.supplier}\n"
    )
    filename = f"factura-{invoice.number.replace('/', '-')}.pdf"
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    message.set_boundary(f"=-=-=maisa-fixture-{index:02d}=-=-=")
    return message.as_bytes(policy=email_policy)


def expected(invoice: Invoice) -> dict[str, object]:
    """What the worker should finish with for this invoice."""
    return {
        "nif": nif_tool.normalize(invoice.nif_written),
        "importe": float(invoice.total),
        "proveedor": invoice.supplier,
        "valido": nif_tool.validate(invoice.nif_written),
    }


def readme() -> str:
    rows = [
        "| email | proveedor | NIF as printed | nif | importe | valido |",
        "|---|---|---|---|---|---|",
    ]
    for invoice in INVOICES:
        e = expected(invoice)
        rows.append(
            f"| `{invoice.slug}.eml` | {e['proveedor']} | `{invoice.nif_written}` | "
            f"`{e['nif']}` | {e['importe']:.2f} ({euros(invoice.total)}) | "
            f"{str(e['valido']).lower()} |"
        )
    return (
        "# Sample invoice emails\n\n"
        "Generated by `python3 examples/facturas/make_fixtures.py`; do not edit by hand.\n"
        "Each `.eml` is a multipart message with a text body and the invoice PDF attached\n"
        f"(also in `pdf/`). Every invoice is addressed to the client {CLIENT[0]} "
        f"(CIF `{CLIENT[1]}`),\nwhose CIF is not the one to extract. Expected outputs of the "
        "worker:\n\n" + "\n".join(rows) + "\n\n"
        "`05-reformas-costa-brava` carries a CIF with a wrong check digit: the worker still\n"
        "stores the invoice, with `valido: false`.\n"
    )


def write_fixtures(out: Path) -> list[Path]:
    """Write every fixture under `out`; returns the written paths."""
    (out / "pdf").mkdir(parents=True, exist_ok=True)
    written = []
    for index, invoice in enumerate(INVOICES, 1):
        pdf = invoice_pdf(invoice)
        pdf_path = out / "pdf" / f"{invoice.slug}.pdf"
        pdf_path.write_bytes(pdf)
        eml_path = out / f"{invoice.slug}.eml"
        eml_path.write_bytes(invoice_email(invoice, pdf, index))
        written += [pdf_path, eml_path]
    (out / "README.md").write_text(readme(), encoding="utf-8")
    return [*written, out / "README.md"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "emails", help="output directory")
    args = parser.parse_args()
    for path in write_fixtures(args.out):
        print(path)


if __name__ == "__main__":
    main()
