"""The invoice example: it compiles, its fixtures are reproducible, realistic and readable
with the real mail and pdf tools, and their expected outputs satisfy the worker's schema."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import sys
from pathlib import Path

import pytest

from maisa.compiler import compile_spec
from maisa.compiler.inputs import validate_inputs, validate_result
from maisa.tools.base import ToolContext
from maisa.tools.mail import MailTool
from maisa.tools.pdf import PdfTool

EXAMPLE = Path(__file__).parents[2] / "examples" / "facturas"
EMAILS = EXAMPLE / "emails"

_spec = importlib.util.spec_from_file_location("facturas_fixtures", EXAMPLE / "make_fixtures.py")
assert _spec and _spec.loader
make_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = make_fixtures  # dataclasses look their module up while it executes
_spec.loader.exec_module(make_fixtures)
INVOICES = {invoice.slug: invoice for invoice in make_fixtures.INVOICES}


@pytest.fixture(scope="module")
def compiled():
    return compile_spec(EXAMPLE / "worker.yaml")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fixtures")
    make_fixtures.write_fixtures(out)
    return out


def read(path: Path) -> tuple[dict, str]:
    ctx = ToolContext(workspace=path.parent, readable=[path])
    message = MailTool(ctx).read_eml(str(path))
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "application/pdf"
    return message, PdfTool(ctx).extract_text(attachment["data"])


def test_there_are_five_committed_emails_with_their_pdfs() -> None:
    assert sorted(p.stem for p in EMAILS.glob("*.eml")) == sorted(INVOICES)
    assert sorted(p.stem for p in (EMAILS / "pdf").glob("*.pdf")) == sorted(INVOICES)


@pytest.mark.parametrize("slug", sorted(INVOICES))
def test_regenerating_gives_the_committed_content(regenerated: Path, slug: str) -> None:
    committed = email.message_from_bytes(
        (EMAILS / f"{slug}.eml").read_bytes(), policy=email.policy.default
    )
    fresh = email.message_from_bytes(
        (regenerated / f"{slug}.eml").read_bytes(), policy=email.policy.default
    )
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert fresh[header] == committed[header]
    assert read(regenerated / f"{slug}.eml") == read(EMAILS / f"{slug}.eml")


def test_regenerating_gives_the_committed_readme(regenerated: Path) -> None:
    assert (regenerated / "README.md").read_text() == (EMAILS / "README.md").read_text(), (
        "regenerate with `python3 examples/facturas/make_fixtures.py`"
    )


@pytest.mark.parametrize("slug", sorted(INVOICES))
def test_each_email_is_a_realistic_spanish_invoice(slug: str) -> None:
    invoice = INVOICES[slug]
    message, text = read(EMAILS / f"{slug}.eml")
    assert message["subject"] == f"Factura {invoice.number}"
    assert invoice.number in message["text"]
    assert f"{invoice.nif_label}: {invoice.nif_written}" in text
    assert f"TOTAL FACTURA {make_fixtures.euros(invoice.total)}" in text
    assert f"Base imponible {make_fixtures.euros(invoice.base)}" in text
    assert "CIF B87654323" in text  # the client's, which the worker must not take
    assert invoice.supplier in text.splitlines()[0]


def test_totals_are_written_spanish_style() -> None:
    from decimal import Decimal

    assert make_fixtures.euros(Decimal("1236.74")) == "1.236,74 €"
    assert make_fixtures.euros(Decimal("12480.04")) == "12.480,04 €"
    assert make_fixtures.euros(Decimal("85.91")) == "85,91 €"
    assert make_fixtures.euros(Decimal("-337.50")) == "-337,50 €"


def test_the_fixtures_cover_nif_formats_and_an_invalid_one() -> None:
    written = {i.nif_written for i in INVOICES.values()}
    assert any("-" in w for w in written) and any(" " in w for w in written)
    kinds = {make_fixtures.expected(i)["nif"][0].isdigit() for i in INVOICES.values()}
    assert kinds == {True, False}  # a DNI-based NIF and letter-led CIF/NIE
    assert [make_fixtures.expected(i)["valido"] for i in INVOICES.values()].count(False) == 1


@pytest.mark.parametrize("slug", sorted(INVOICES))
def test_expected_outputs_satisfy_the_output_schema(compiled, slug: str) -> None:
    expected = make_fixtures.expected(INVOICES[slug])
    assert validate_result(compiled, expected) == []
    row = next(line for line in (EMAILS / "README.md").read_text().splitlines() if slug in line)
    assert f"`{expected['nif']}`" in row and f"{expected['importe']:.2f}" in row


@pytest.mark.parametrize("slug", sorted(INVOICES))
def test_each_email_is_a_valid_input(compiled, slug: str) -> None:
    path = EMAILS / f"{slug}.eml"
    assert validate_inputs(compiled, {"email": str(path)}) == {"email": str(path.resolve())}
