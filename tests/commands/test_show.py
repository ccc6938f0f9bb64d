"""`maisa show RUN`: the Chain-of-Work through the real CLI, on both store backends."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from maisa.store.factory import open_store
from maisa.store.records import RunMode, RunStatus, StepRecord, ToolCallRecord
from tests.commands.store_cli import maisa


@pytest.fixture
def invoice_run(store_url) -> int:
    """A succeeded invoice run whose step 2 needed a second attempt."""
    store = open_store(store_url)
    try:
        worker = store.upsert_worker("facturas", 3, "sha256:abc", "name: facturas")
        run_id = store.create_run(
            worker.id, {"email": "inbox/a.eml"}, mode=RunMode.LOCKED, lock_revision=2
        )
        store.set_plan(run_id, ["Read the email", "Extract the NIF"])
        store.add_step(
            run_id,
            StepRecord(
                1,
                1,
                "Read the email",
                "OK",
                prompt="PROMPT-ONE",
                code="msg = mail.read_eml(inputs['email'])\nprint(msg['subject'])",
                stdout="Factura 2024-17\n",
                duration_s=0.8,
                variables_out={"msg": {"subject": "Factura 2024-17"}},
                tool_calls=[
                    ToolCallRecord(
                        1, "mail", "read_eml", "('inbox/a.eml',)", "dict (6 keys)", True, 0.05
                    )
                ],
            ),
        )
        store.add_step(
            run_id,
            StepRecord(
                2,
                1,
                "Extract the NIF",
                "ERROR",
                code="nif = text.split('NIF')[1]",
                stderr="NameError: name 'text' is not defined",
                error="NameError: name 'text' is not defined",
                duration_s=0.1,
            ),
        )
        store.add_step(
            run_id,
            StepRecord(
                2,
                2,
                "Extract the NIF",
                "OK",
                code="text = pdf.extract_text(msg['attachments'][0]['data'])\nnif = 'B' + '1' * 8",
                duration_s=2.1,
                variables_in={"msg": {"subject": "Factura 2024-17"}},
                variables_out={"msg": {"subject": "Factura 2024-17"}, "nif": "B11111111"},
                tool_calls=[
                    ToolCallRecord(
                        1,
                        "pdf",
                        "extract_text",
                        "(<2048 bytes>,)",
                        "",
                        False,
                        0.2,
                        "PdfReadError: EOF marker not found",
                    ),
                ],
            ),
        )
        store.add_usage(run_id, model_calls=3, prompt_tokens=1200, completion_tokens=300)
        store.finish_run(run_id, RunStatus.SUCCEEDED, result={"nif": "B11111111"})
    finally:
        store.close()
    return run_id


def in_order(text: str, *parts: str) -> bool:
    position = 0
    for part in parts:
        found = text.find(part, position)
        if found < 0:
            raise AssertionError(f"{part!r} not found after position {position} in:\n{text}")
        position = found + len(part)
    return True


def test_show_renders_the_run_then_each_step_with_failed_attempts_first(store_url, invoice_run):
    shown = maisa("show", str(invoice_run), db=store_url)
    assert shown.code == 0, shown.stderr
    assert in_order(
        shown.stdout,
        f"RUN #{invoice_run} - facturas v3",
        "Status: ✅ SUCCEEDED",
        "Mode: locked (lock revision 2)",
        "Input: email=inbox/a.eml",
        'Result: {"nif": "B11111111"}',
        "Model: 3 calls, 1200 prompt + 300 completion tokens",
        "1. Read the email",
        "CHAIN-OF-WORK",
        "Step 1 (0.80s) - Read the email",
        "msg = mail.read_eml(inputs['email'])",
        "Factura 2024-17",
        "✅ mail.read_eml('inbox/a.eml',) -> dict (6 keys)",
        "Step 2, attempt 1 (0.10s) - Extract the NIF  [failed attempt: ERROR]",
        "NameError: name 'text' is not defined",
        "Step 2, attempt 2 (2.1s) - Extract the NIF",
        "Variables:",
        "nif = B11111111",
        "❌ pdf.extract_text(<2048 bytes>,) -> PdfReadError: EOF marker not found",
        "✅ ok",
    )
    accepted = shown.stdout.split("Step 2, attempt 2")[1]
    assert "msg =" not in accepted  # only what the step produced or changed
    assert "PROMPT-ONE" not in shown.stdout
    assert shown.stderr == ""


def test_show_with_prompts_includes_what_the_model_was_asked(store_url, invoice_run):
    shown = maisa("show", str(invoice_run), "--prompts", db=store_url)
    assert "PROMPT-ONE" in shown.stdout


def test_show_json_is_the_whole_record_alone_on_stdout(store_url, invoice_run):
    shown = maisa("show", str(invoice_run), "--json", db=store_url)
    assert shown.code == 0, shown.stderr
    record = shown.json()
    assert record["id"] == invoice_run and record["status"] == "SUCCEEDED"
    assert record["mode"] == "locked" and record["lock_revision"] == 2
    assert [(s["number"], s["attempt"]) for s in record["steps"]] == [(1, 1), (2, 1), (2, 2)]
    assert record["steps"][0]["tool_calls"][0]["function"] == "read_eml"
    assert record["steps"][0]["prompt"] == "PROMPT-ONE"
    assert record["created_at"].endswith("+00:00")


def test_show_last_is_the_newest_run(store_url, invoice_run):
    assert maisa("show", "last", "--json", db=store_url).json()["id"] == invoice_run


def test_an_unknown_run_is_a_usage_error_not_a_traceback(store_url, invoice_run):
    shown = maisa("show", "999", db=store_url)
    assert shown.code == 2 and shown.stdout == ""
    assert "no run 999" in shown.stderr and "Traceback" not in shown.stderr
    bad = maisa("show", "abc", db=store_url)
    assert bad.code == 2 and "RUN must be a run id" in bad.stderr


def test_show_on_an_empty_store_says_there_is_nothing_to_show(store_url):
    shown = maisa("show", "last", db=store_url)
    assert shown.code == 2 and "there are no runs" in shown.stderr


def test_show_marks_a_run_whose_owner_died_interrupted(store_url):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store = open_store(store_url)
    try:
        worker = store.upsert_worker("w", 1, "sha256:w", "spec")
        host = socket.gethostname()
        run_id = store.create_run(
            worker.id, {}, mode=RunMode.GENERATED, owner=f"{host}:{child.pid}:dead0000"
        )
    finally:
        store.close()
    shown = maisa("show", str(run_id), db=store_url)
    assert "INTERRUPTED" in shown.stdout and "stopped heart-beating" in shown.stdout


def test_an_unreachable_database_exits_4_naming_it_without_the_password():
    shown = maisa("show", "1", "--db", "postgresql://me:s3cret-pw@127.0.0.1:1/none")
    assert shown.code == 4
    assert "postgresql://me:***@127.0.0.1:1/none" in shown.stderr
    assert "s3cret-pw" not in shown.stderr and "Traceback" not in shown.stderr


def test_show_wraps_long_code_lines_instead_of_cutting_them(store_url):
    long_line = "total = " + " + ".join(f"part_{i}" for i in range(40)) + "  # END-OF-LINE"
    store = open_store(store_url)
    try:
        worker = store.upsert_worker("wide", 1, "sha256:w", "name: wide")
        run_id = store.create_run(worker.id, {}, mode=RunMode.GENERATED)
        store.add_step(run_id, StepRecord(1, 1, "Add it all up", "OK", code=long_line))
        store.finish_run(run_id, RunStatus.SUCCEEDED, result={})
    finally:
        store.close()
    shown = maisa("show", str(run_id), db=store_url)
    assert shown.code == 0, shown.stderr
    assert "part_39" in shown.stdout and "# END-OF-LINE" in shown.stdout
