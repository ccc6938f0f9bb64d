"""Small builders for store tests."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import psycopg

from maisa.store.factory import sqlite_path
from maisa.store.records import RunMode, StepRecord, ToolCallRecord


def a_step(number: int, attempt: int = 1, *, calls: int = 0, **fields: Any) -> StepRecord:
    """A plausible step attempt with `calls` tool calls."""
    values: dict[str, Any] = {
        "description": f"step {number}",
        "status": "OK",
        "code": f"x{number} = {number}\nprint(x{number})",
        "stdout": f"{number}\n",
        "duration_s": 0.25,
        "cpu_s": 0.1,
        "peak_memory_mb": 12.5,
        "variables_in": {"n": number - 1},
        "variables_out": {f"x{number}": number, "nested": {"list": [1, 2.5, None, True]}},
    }
    values.update(fields)
    step = StepRecord(number=number, attempt=attempt, **values)
    step.tool_calls = [
        ToolCallRecord(
            sequence=i + 1,
            tool="pdf",
            function="extract_text",
            arguments=f"('invoice-{i}.pdf',)",
            result_summary="str (120 chars)",
            ok=True,
            duration_s=0.01,
        )
        for i in range(calls)
    ]
    return step


def a_run(store: Any, name: str = "facturas", inputs: dict | None = None, **kwargs: Any) -> int:
    """A RUNNING run of a worker called `name`."""
    worker = store.upsert_worker(name, 1, f"sha256:{name}", f"name: {name}\n")
    kwargs.setdefault("mode", RunMode.GENERATED)
    return store.create_run(worker.id, inputs or {"email": "a.eml"}, **kwargs)


def raw_sql(url: str, sql: str, params: tuple = ()) -> list[Any]:
    """Run SQL (`?` placeholders) on the database behind a store URL, bypassing the store."""
    path = sqlite_path(url)
    if path is not None:
        with closing(sqlite3.connect(path)) as conn, conn:
            return conn.execute(sql, params).fetchall()
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
