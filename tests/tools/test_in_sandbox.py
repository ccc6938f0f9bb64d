"""End to end: step code in a real sandbox (bwrap, docker) reaches the real tools via the broker."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from maisa.sandbox.base import Session, StepStatus
from maisa.specs.model import Limits, WorkerSpec
from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker
from maisa.tools.catalogue import build_tools
from tests.fixtures.services import unavailable
from tests.tools.builders import make_eml, make_pdf

NIF_TOOL = '''
"""Spanish NIF check letters."""


def valida(nif: str) -> bool:
    """True when the DNI's check letter is right."""
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(nif[:8]) % 23] == nif[8]
'''


@pytest.fixture(scope="module", params=["bwrap", "docker"])
def sandbox(request: pytest.FixtureRequest) -> object:
    from maisa.sandbox.registry import make

    backend = make(request.param)
    reason = backend.check()
    if reason is not None:
        unavailable(f"{request.param} sandbox unavailable: {reason}")
    return backend


@pytest.fixture
def run(tmp_path: Path, workspace: Path, sandbox: object) -> Iterator[tuple[Session, ToolBroker]]:
    spec_dir = tmp_path / "spec"
    (spec_dir / "tools").mkdir(parents=True)
    (spec_dir / "tools" / "nif.py").write_text(NIF_TOOL)
    email = tmp_path / "inbox" / "factura.eml"
    email.parent.mkdir()
    invoice = make_pdf("FACTURA nº 31\nProveedor: Muñoz S.L.\nNIF: 12345678Z\nTotal: 1.234,56")
    email.write_bytes(make_eml(attachments=(("factura.pdf", "application/pdf", invoice),)))
    spec = WorkerSpec.model_validate(
        {
            "apiVersion": "maisa/v1",
            "kind": "Worker",
            "name": "facturas",
            "goal": "g",
            "tools": [
                "files",
                "mail",
                "pdf",
                {"name": "nif", "module": "tools/nif.py"},
                {"name": "db", "secret": "DB_URL"},
            ],
            "secrets": ["DB_URL"],
        }
    )
    ctx = ToolContext(
        workspace=workspace,
        readable=[email],
        secrets={"DB_URL": f"sqlite:///{tmp_path / 'facturas.db'}"},
    )
    broker = ToolBroker(build_tools(spec, spec_dir, ctx))
    session = sandbox.open(Limits(), workspace, broker)
    session.set_variables({"inputs": {"email": str(email)}})
    try:
        yield session, broker
    finally:
        session.close()
        broker.close()


def test_an_invoice_is_processed_through_every_tool(
    run: tuple[Session, ToolBroker], tmp_path: Path, workspace: Path
) -> None:
    session, broker = run
    steps = [
        'mensaje = mail.read_eml(inputs["email"])\n'
        'adjunto = mensaje["attachments"][0]["data"]\n'
        "print(mensaje['subject'], len(adjunto))",
        "import re\n"
        "texto = pdf.extract_text(adjunto)\n"
        "nif_ = re.search(r'NIF: (\\w{9})', texto)[1]\n"
        "importe = float(re.search(r'Total: ([\\d.,]+)', texto)[1]"
        ".replace('.', '').replace(',', '.'))\n"
        "valido = nif.valida(nif_)",
        'db.execute("CREATE TABLE facturas (nif TEXT, importe REAL)")\n'
        'db.execute("INSERT INTO facturas VALUES (?, ?)", [nif_, importe])\n'
        'files.write_text("resumen.txt", f"{nif_} {importe}")\n'
        'finish({"nif": nif_, "importe": importe, "valido": valido,'
        ' "pages": pdf.page_count(adjunto), "listing": files.list()})',
    ]
    outcomes = [session.run(code, 20) for code in steps]
    assert [o.status for o in outcomes] == [StepStatus.OK] * 3, [o.error for o in outcomes]
    assert outcomes[0].stdout.startswith("Factura 2024-001 ")
    assert outcomes[2].finished
    assert outcomes[2].result == {
        "nif": "12345678Z",
        "importe": 1234.56,
        "valido": True,
        "pages": 1,
        "listing": ["resumen.txt"],
    }
    # Every call was recorded under its step, bytes summarised by size.
    assert [(c.tool, c.function) for c in outcomes[0].tool_calls] == [("mail", "read_eml")]
    assert "<" in outcomes[0].tool_calls[0].result_summary
    assert [(c.tool, c.function) for c in outcomes[1].tool_calls] == [
        ("pdf", "extract_text"),
        ("nif", "valida"),
    ]
    assert (workspace / "resumen.txt").read_text() == "12345678Z 1234.56"
    with sqlite3.connect(tmp_path / "facturas.db") as conn:
        assert conn.execute("SELECT nif, importe FROM facturas").fetchall() == [
            ("12345678Z", 1234.56)
        ]


@pytest.mark.parametrize(
    ("attack", "raised"),
    [
        ('files.read_text("/etc/passwd")', "ToolError"),
        ('files.read_text("../facturas.db")', "ToolError"),
        ('files.write_text(inputs["email"], "pwned")', "ToolError"),
        ('files.write_text("../../escaped.txt", "pwned")', "ToolError"),
        ("db.execute(\"ATTACH DATABASE '../attached.db' AS x\")", "ToolError"),
        ("db.execute(\"VACUUM INTO '../vacuumed.db'\")", "ToolError"),
        ('http.get("http://127.0.0.1:5432/")', "NameError"),  # not a declared tool
        ('files._paths.read("/etc/passwd")', "AttributeError"),  # not a public function
    ],
)
def test_refused_tool_calls_surface_as_exceptions_in_the_step(
    run: tuple[Session, ToolBroker], tmp_path: Path, attack: str, raised: str
) -> None:
    session, _ = run
    code = (
        f"try:\n    {attack}\nexcept Exception as exc:\n    caught = [type(exc).__name__, str(exc)]"
    )
    outcome = session.run(code, 20)
    assert outcome.status is StepStatus.OK, outcome.error
    assert outcome.variables["caught"][0] == raised, outcome.variables["caught"]
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("../attached.db").exists() and not Path("../vacuumed.db").exists()
    assert b"pwned" not in (tmp_path / "inbox" / "factura.eml").read_bytes()
