"""The tool broker: runs declared functions on the host and records every call."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker, summarize
from maisa.tools.custom import load_custom
from maisa.tools.db import DbTool
from maisa.tools.files import FilesTool
from maisa.tools.pdf import PdfTool
from tests.tools.builders import make_pdf

CUSTOM = '''
import decimal


def valida(nif: str) -> bool:
    """True for a well-formed NIF."""
    if not nif:
        raise ValueError("empty NIF")
    return len(nif) == 9


def importe(text: str):
    """Returns a Decimal: not JSON, so the broker must refuse it."""
    return decimal.Decimal(text)
'''


@pytest.fixture
def broker(tmp_path: Path, ctx: ToolContext) -> ToolBroker:
    (tmp_path / "nif.py").write_text(CUSTOM)
    return ToolBroker(
        {
            "files": FilesTool(ctx),
            "pdf": PdfTool(ctx),
            "nif": load_custom("nif", "nif.py", tmp_path).instance(),
        }
    )


def test_the_manifest_lists_exactly_the_public_functions(broker: ToolBroker) -> None:
    assert broker.manifest() == {
        "files": ["list", "read_bytes", "read_text", "write_bytes", "write_text"],
        "pdf": ["extract_text", "page_count"],
        "nif": ["importe", "valida"],
    }


def test_calls_are_recorded_in_order_with_summaries(broker: ToolBroker) -> None:
    data = make_pdf("Total: 10,00")
    broker.call("files", "write_bytes", ["f.pdf", data], {})
    assert broker.call("pdf", "page_count", [], {"source": "f.pdf"}) == 1
    assert broker.call("nif", "valida", ["B12345674"], {}) is True
    calls = broker.take_calls()
    assert [(c.sequence, c.tool, c.function, c.ok) for c in calls] == [
        (1, "files", "write_bytes", True),
        (2, "pdf", "page_count", True),
        (3, "nif", "valida", True),
    ]
    assert calls[0].arguments == f"{{'args': ['f.pdf', <{len(data)} bytes>], 'kwargs': {{}}}}"
    assert calls[1].arguments == "{'args': [], 'kwargs': {'source': 'f.pdf'}}"
    assert calls[1].result_summary == "1"
    assert calls[2].result_summary == "True"
    assert all(c.duration_s >= 0 and c.error is None for c in calls)
    assert broker.take_calls() == []  # taken once: the next step starts empty
    broker.call("nif", "valida", ["x"], {})
    assert [c.sequence for c in broker.take_calls()] == [4]  # numbering continues per run


def test_results_with_bytes_are_summarised_by_size(broker: ToolBroker) -> None:
    broker.call("files", "write_bytes", ["b.bin", b"\x00" * 5000], {})
    assert broker.call("files", "read_bytes", ["b.bin"], {}) == b"\x00" * 5000
    assert broker.take_calls()[-1].result_summary == "<5000 bytes>"


def test_summaries_are_bounded() -> None:
    assert len(summarize("x" * 10_000)) == 300
    assert summarize("x" * 10_000).endswith("... (10000 chars)")
    assert len(summarize(list(range(100_000)))) == 300
    assert summarize(list(range(100_000))).endswith("... (100000 items)")
    assert summarize("short") == "'short'"
    assert summarize({"data": b"abc", "n": [1, 2]}) == "{'data': <3 bytes>, 'n': [1, 2]}"


def test_a_tool_exception_becomes_a_recorded_tool_error(broker: ToolBroker) -> None:
    with pytest.raises(ToolError, match="ValueError: empty NIF"):
        broker.call("nif", "valida", [""], {})
    with pytest.raises(ToolError, match="no such file"):
        broker.call("files", "read_text", ["missing.txt"], {})
    failed = broker.take_calls()
    assert [(c.ok, c.result_summary) for c in failed] == [(False, ""), (False, "")]
    assert failed[0].error == "ValueError: empty NIF"
    assert "missing.txt" in (failed[1].error or "")


def test_undeclared_tools_and_functions_are_refused(broker: ToolBroker) -> None:
    with pytest.raises(ToolError, match="db.query is not a declared tool function"):
        broker.call("db", "query", ["SELECT 1"], {})
    with pytest.raises(ToolError, match="files._paths is not a declared"):
        broker.call("files", "_paths", [], {})
    with pytest.raises(ToolError, match="not a declared"):
        broker.call("files", "__init__", [], {})
    assert [c.ok for c in broker.take_calls()] == [False, False, False]


def test_a_wrong_call_is_explained_with_the_documented_signature(broker: ToolBroker) -> None:
    with pytest.raises(ToolError) as error:
        broker.call("files", "write_text", ["a.txt"], {"txt": "x"})
    assert error.value.message.startswith("files.write_text(path: str, text: str) -> None: ")


def test_a_result_that_cannot_cross_the_channel_is_refused(broker: ToolBroker) -> None:
    with pytest.raises(ToolError, match="nif.importe returned a Decimal"):
        broker.call("nif", "importe", ["1.5"], {})


def test_secrets_are_redacted_from_the_record(ctx: ToolContext) -> None:
    broker = ToolBroker({"files": FilesTool(ctx)}, redact=lambda s: s.replace("s3cr3t", "***"))
    broker.call("files", "write_text", ["k.txt", "key=s3cr3t"], {})
    assert broker.call("files", "read_text", ["k.txt"], {}) == "key=s3cr3t"  # the step sees it
    with pytest.raises(ToolError):
        broker.call("files", "read_text", ["s3cr3t.txt"], {})
    calls = broker.take_calls()
    assert "s3cr3t" not in repr(calls)
    assert calls[1].result_summary == "'key=***'"


def test_close_releases_database_connections(ctx: ToolContext, tmp_path: Path) -> None:
    db = DbTool(ctx, secret=str(tmp_path / "x.db"))
    broker = ToolBroker({"db": db})
    broker.call("db", "execute", ["CREATE TABLE t (a)"], {})
    broker.close()
    broker.close()  # idempotent
    assert db._conn is None
    assert broker.call("db", "query", ["SELECT count(*) AS n FROM t"], {}) == [{"n": 0}]
