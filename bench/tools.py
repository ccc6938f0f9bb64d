"""Cost of the tool layer on the host, as ratios against doing the same work directly.

Run: python3 bench/tools.py [--rounds N]

Each row times one operation through the tool (and through the ToolBroker,
which adds argument checking, result checking and the call record) against
the plain stdlib/library call it wraps, measured in the same run. Medians of
N rounds; the ratio is what the tool layer costs per call. The pdf row includes
a fork: PDFs are parsed in a limited child process (maisa/tools/isolation.py),
a few milliseconds bought on purpose so a hostile PDF cannot hang the host.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfReader

from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker
from maisa.tools.db import DbTool
from maisa.tools.files import FilesTool
from maisa.tools.pdf import PdfTool


def medians_us(operations: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median µs of each operation, interleaved round by round so machine noise hits all alike."""
    samples: list[list[float]] = [[] for _ in operations]
    for _ in range(rounds):
        for operation, times in zip(operations, samples, strict=True):
            started = time.perf_counter()
            operation()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) * 1e6 for times in samples]


def invoice_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "FACTURA nº 31\nProveedor: Muñoz S.L.\nNIF: 12345678Z\nTotal: 1.234,56")
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "workspace"
        workspace.mkdir()
        ctx = ToolContext(workspace=workspace)
        (workspace / "data.bin").write_bytes(b"x" * 4096)
        db_path = Path(tmp) / "bench.db"
        pdf_bytes = invoice_pdf()
        files, pdf = FilesTool(ctx), PdfTool(ctx)
        db = DbTool(ctx, secret=str(db_path))
        db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        broker = ToolBroker({"files": files, "pdf": pdf, "db": db})
        direct = sqlite3.connect(Path(tmp) / "direct.db")
        direct.execute("CREATE TABLE t (a INTEGER, b TEXT)")

        def direct_insert() -> None:
            with direct:
                direct.execute("INSERT INTO t VALUES (?, ?)", (1, "x"))

        def direct_extract() -> str:
            return "\n\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes)).pages)

        rows = [
            (
                "read 4 KiB file",
                lambda: (workspace / "data.bin").read_bytes(),
                lambda: files.read_bytes("data.bin"),
                lambda: broker.call("files", "read_bytes", ["data.bin"], {}),
            ),
            (
                "write 4 KiB file",
                lambda: (workspace / "out.bin").write_bytes(b"y" * 4096),
                lambda: files.write_bytes("out.bin", b"y" * 4096),
                lambda: broker.call("files", "write_bytes", ["out.bin", b"y" * 4096], {}),
            ),
            (
                "pdf text (1 page)",
                direct_extract,
                lambda: pdf.extract_text(pdf_bytes),
                lambda: broker.call("pdf", "extract_text", [pdf_bytes], {}),
            ),
            (
                "sqlite insert+commit",
                direct_insert,
                lambda: db.execute("INSERT INTO t VALUES (?, ?)", [1, "x"]),
                lambda: broker.call("db", "execute", ["INSERT INTO t VALUES (?, ?)", [1, "x"]], {}),
            ),
        ]
        print(
            f"{'operation':<22}{'direct µs':>11}{'tool µs':>10}{'broker µs':>11}"
            f"{'tool/direct':>13}{'broker/direct':>15}"
        )
        for name, baseline, tool, brokered in rows:
            n = rounds if "pdf" not in name else max(rounds // 20, 20)
            base_us, tool_us, broker_us = medians_us([baseline, tool, brokered], n)
            broker.take_calls()
            print(
                f"{name:<22}{base_us:>11.1f}{tool_us:>10.1f}{broker_us:>11.1f}"
                f"{tool_us / base_us:>12.2f}x{broker_us / base_us:>14.2f}x"
            )
        broker.close()
        direct.close()


if __name__ == "__main__":
    main()
