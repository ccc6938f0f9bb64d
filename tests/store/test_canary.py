"""A canary secret written everywhere a run can write never reaches the database."""

from __future__ import annotations

import base64
import secrets

import psycopg

from maisa.store.factory import open_store, sqlite_path
from maisa.store.records import LockRecord, RunStatus, ToolCallRecord
from tests.store.helpers import a_run, a_step


def database_bytes(url: str) -> bytes:
    """Every byte the database holds: the SQLite files, or every row of every table."""
    path = sqlite_path(url)
    if path is not None:
        return b"".join(p.read_bytes() for p in sorted(path.parent.iterdir()) if p.is_file())
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        assert len(tables) >= 5
        dump = [
            conn.execute(
                f"SELECT coalesce(string_agg(t::text, ' '), '') FROM \"{name}\" t"
            ).fetchone()[0]
            for (name,) in tables
        ]
    return "\n".join(dump).encode()


def test_secrets_written_in_every_field_never_reach_the_database(store_url, monkeypatch):
    env_token = "tok-" + secrets.token_hex(16)
    declared = "decl-" + secrets.token_hex(12)
    url_pw = "urlpw-" + secrets.token_hex(8)
    monkeypatch.setenv("MAISA_CANARY_TOKEN", env_token)
    monkeypatch.setenv("PAYMENTS_ENDPOINT", f"https://svc:{url_pw}@payments.example/api")
    canaries = (env_token, declared, url_pw)
    leak = " ".join(canaries) + " " + base64.b64encode(env_token.encode()).decode()

    store = open_store(store_url)
    try:
        store.add_secrets({"INVOICES_DB_URL": declared})
        worker = store.upsert_worker("canary", 1, "sha256:c", f"spec {leak}")
        run_id = a_run(store, "canary", inputs={"token": leak, leak: [leak]})
        store.set_plan(run_id, [f"use {leak}"])
        step = a_step(
            1,
            description=leak,
            prompt=f"prompt {leak}",
            model_reply=f"reply {leak}",
            code=f"x = '{leak}'",
            stdout=leak,
            stderr=leak,
            error=leak,
            variables_in={"k": leak},
            variables_out={leak: {"deep": [leak, {"deeper": leak}]}},
        )
        step.tool_calls = [ToolCallRecord(1, "http", "get", f"('{leak}',)", leak, False, 0.1, leak)]
        store.add_step(run_id, step)
        store.finish_run(run_id, RunStatus.FAILED, result={"r": leak}, error=leak)
        store.save_lock(LockRecord(worker.name, "sha256:c", 1, f"code: {leak}", run_id))

        stored = store.get_run(run_id).steps[0]
        assert "[REDACTED:MAISA_CANARY_TOKEN]" in stored.stdout
        assert "[REDACTED:INVOICES_DB_URL]" in stored.code
        assert "[REDACTED:PAYMENTS_ENDPOINT:password]" in stored.tool_calls[0].arguments
        raw_while_open = database_bytes(store_url)
    finally:
        store.close()
    raw = raw_while_open + database_bytes(store_url)
    assert b"REDACTED:MAISA_CANARY_TOKEN" in raw  # we did look at the written data
    for canary in canaries:
        assert canary.encode() not in raw
    assert base64.b64encode(env_token.encode()) not in raw
