"""PostgreSQL-only behaviour: JSONB columns, surviving a dropped connection."""

from __future__ import annotations

import psycopg
import pytest

from maisa.store.factory import open_store
from tests.store.helpers import a_run, a_step, raw_sql

pytestmark = pytest.mark.postgres


def test_json_columns_are_jsonb(postgres_store_url):
    open_store(postgres_store_url).close()
    rows = raw_sql(
        postgres_store_url,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type = 'jsonb' ORDER BY 1, 2",
    )
    assert [tuple(r) for r in rows] == [
        ("runs", "input"),
        ("runs", "plan"),
        ("runs", "result"),
        ("steps", "variables_in"),
        ("steps", "variables_out"),
    ]


def test_a_connection_killed_by_the_server_is_replaced_transparently(
    postgres_store_url, postgres_url
):
    store = open_store(postgres_store_url)
    try:
        run_id = a_run(store)
        with store._read() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            pid = cur.fetchone()["pid"]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        store.add_step(run_id, a_step(1))
        assert len(store.get_run(run_id).steps) == 1
    finally:
        store.close()
