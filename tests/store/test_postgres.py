"""PostgreSQL-only behaviour: JSONB columns, surviving a dropped connection."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from maisa.errors import StoreUnavailable
from maisa.store.factory import open_store
from maisa.store.postgres import PostgresStore
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


class Proxy:
    """A TCP proxy to the PostgreSQL server that can be cut, as a network or server loss."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        # shutdown() first: close() alone leaves a thread blocked in accept() listening.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_losing_the_server_mid_run_is_store_unavailable_not_a_traceback(postgres_store_url):
    parts = urlsplit(postgres_store_url)
    proxy = Proxy(parts.hostname, parts.port or 5432)
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    store = PostgresStore(through_proxy, pool_timeout=2)
    try:
        run_id = a_run(store)
        store.add_step(run_id, a_step(1))
        proxy.cut()
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{proxy.port}"):
            store.add_step(run_id, a_step(2))
    finally:
        store.close()
    reopened = open_store(postgres_store_url)
    try:
        assert [s.number for s in reopened.get_run(run_id).steps] == [1]
    finally:
        reopened.close()
