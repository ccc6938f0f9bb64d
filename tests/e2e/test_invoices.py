"""The invoice example end to end: every sample email, both sandboxes, both stores.

The model's replies are the committed `examples/facturas/scripted-model.yaml`;
the same five steps (reading everything from `inputs`) serve every email. The
invoices go to a real database of the same kind as the Chain-of-Work store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maisa.testing.scripted_model import load_script
from tests.e2e.conftest import REPO

EXAMPLE = REPO / "examples" / "facturas"
EXPECTED = {
    "01-suministros-levante.eml": ("B12345674", 1236.74, "Suministros Levante S.L.", True),
    "02-papeleria-martinez.eml": ("50123456Q", 85.91, "Papelería Martínez", True),
    "03-transportes-gomez.eml": ("A08123457", 12480.04, "Transportes Gómez e Hijos S.A.", True),
    "04-consultoria-novak.eml": ("X7654321J", 2385.0, "Consultoría Novak", True),
    "05-reformas-costa-brava.eml": ("B17654329", 3146.0, "Reformas Costa Brava S.L.", False),
}


@pytest.fixture
def invoice_db(cli, request) -> str:
    """A real invoice database of the same kind as the store: a SQLite file, or a PG schema
    owned by the least-privilege `maisa_worker` role (the db tool refuses a superuser)."""
    if cli.store_url.startswith("postgres"):
        return request.getfixturevalue("worker_pg_url")
    return f"sqlite:///{cli.cwd / 'facturas.db'}"


@pytest.fixture
def example(cli) -> Path:
    """A copy of the example (spec, custom tool, emails) without any lock beside it."""
    target = cli.cwd / "facturas"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("*.lock", "__pycache__"))
    return target


def stored_invoices(url: str) -> list[dict]:
    from maisa.tools.db import connect

    connection = connect(url)
    try:
        return connection.query("SELECT nif, proveedor, importe, valido FROM facturas", None)
    finally:
        connection.close()


def test_every_sample_invoice_is_extracted_validated_and_stored(
    cli, scripted_model, example, invoice_db
):
    script = load_script(EXAMPLE / "scripted-model.yaml")
    for email, (nif, importe, proveedor, valido) in EXPECTED.items():
        scripted_model.load(script)
        code, report, stderr = cli.json(
            "run",
            "facturas/worker.yaml",
            "--input",
            f"email=facturas/emails/{email}",
            "--no-lock",
            INVOICES_DB_URL=invoice_db,
        )
        assert code == 0, f"{email}: {report}\n{stderr}"
        assert report["result"] == {
            "nif": nif,
            "importe": importe,
            "proveedor": proveedor,
            "valido": valido,
        }, email
        record = cli.run_record(report["run_id"])
        assert [s.number for s in record.steps] == [1, 2, 3, 4, 5]
        assert all(s.status == "OK" for s in record.steps)
        calls = [(c.tool, c.function) for s in record.steps for c in s.tool_calls]
        assert ("mail", "read_eml") in calls and ("pdf", "extract_text") in calls
        assert ("nif", "validate") in calls and ("db", "execute") in calls
        # The secret (the invoice database URL) never reaches the Chain-of-Work.
        assert invoice_db not in str(record)
    rows = stored_invoices(invoice_db)
    assert sorted((r["nif"], float(r["importe"]), bool(r["valido"])) for r in rows) == sorted(
        (nif, importe, valido) for nif, importe, _, valido in EXPECTED.values()
    )


def test_a_hard_coded_email_path_is_rejected_and_the_model_reads_inputs_instead(
    cli, scripted_model, example, invoice_db
):
    email = example / "emails" / "02-papeleria-martinez.eml"
    hard_coded = f"```python\nmessage = mail.read_eml({str(email)!r})\n```"
    script = load_script(EXAMPLE / "scripted-model.yaml")
    scripted_model.load([hard_coded, *[r.content for r in script.replies]])
    code, report, stderr = cli.json(
        "run",
        "facturas/worker.yaml",
        "--input",
        f"email={email}",
        "--no-lock",
        INVOICES_DB_URL=invoice_db,
    )
    assert code == 0, stderr
    assert report["result"]["nif"] == "50123456Q"
    first, second = cli.run_record(report["run_id"]).steps[:2]
    assert (first.number, first.attempt, first.status) == (1, 1, "REJECTED")
    assert "read it from inputs['email']" in first.error
    assert (second.number, second.attempt, second.status) == (1, 2, "OK")
