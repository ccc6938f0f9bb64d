"""Opening a store: which URL wins, where the default file goes, and clean failures."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from maisa.errors import StoreError, StoreUnavailable
from maisa.store.factory import open_store, resolve_url, sqlite_path
from maisa.store.postgres import PostgresStore
from maisa.store.records import RunStatus
from maisa.store.sqlite import SqliteStore
from tests.store.helpers import a_run, a_step, raw_sql


def test_without_a_url_the_store_is_a_sqlite_file_under_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("MAISA_DATABASE_URL", raising=False)
    store = open_store(project_dir=tmp_path)
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / ".maisa" / "maisa.db"
        assert store.path.exists()
        assert raw_sql(str(store.path), "PRAGMA journal_mode") == [("wal",)]
        assert (tmp_path / ".maisa" / ".gitignore").read_text().splitlines()[-1] == "*"
    finally:
        store.close()


def test_the_environment_variable_is_used_when_no_url_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("MAISA_DATABASE_URL", str(tmp_path / "env.db"))
    assert resolve_url(project_dir=tmp_path) == str(tmp_path / "env.db")
    assert resolve_url("other.db", project_dir=tmp_path) == "other.db"


def test_sqlite_urls_and_plain_paths_name_files(tmp_path):
    assert sqlite_path("sqlite:///abs/dir/x.db") == Path("/abs/dir/x.db")
    assert sqlite_path("sqlite:rel.db", project_dir=tmp_path) == tmp_path / "rel.db"
    assert sqlite_path("rel/x.db", project_dir=tmp_path) == tmp_path / "rel" / "x.db"
    assert sqlite_path("/abs/x.db") == Path("/abs/x.db")
    assert sqlite_path("postgresql://h/db") is None and sqlite_path("postgres://h/db") is None


def test_postgres_urls_open_the_postgres_backend(postgres_store_url):
    store = open_store(postgres_store_url.replace("postgresql://", "postgres://"))
    try:
        assert isinstance(store, PostgresStore)
    finally:
        store.close()


def test_an_unknown_url_scheme_is_refused(tmp_path):
    with pytest.raises(StoreUnavailable, match="unsupported store URL scheme 'mysql'") as error:
        open_store("mysql://root:topsecret@h/db")
    assert "topsecret" not in str(error.value)


def test_an_unreachable_postgres_names_the_url_without_its_password():
    with pytest.raises(StoreUnavailable) as error:
        open_store("postgresql://maisa:hunter2-secret@127.0.0.1:1/nowhere")
    message = str(error.value)
    assert error.value.exit_code == 4
    assert "postgresql://maisa:***@127.0.0.1:1/nowhere" in message
    assert "hunter2-secret" not in message
    assert "refused" in message.lower() or "failed" in message.lower()


def test_a_file_that_is_not_a_database_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes, not a database\n" * 100)
    with pytest.raises(StoreUnavailable, match="notes.txt"):
        open_store(str(path))
    assert path.read_text().startswith("my notes")


def test_a_store_path_that_cannot_be_created_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable, match="cannot open the SQLite store"):
        open_store(str(blocker / "sub" / "maisa.db"))


def test_a_full_disk_during_a_step_keeps_nothing_of_it_and_fails_the_run(sqlite_store_url):
    store = open_store(sqlite_store_url)
    try:
        run_id = a_run(store)
        store.add_step(run_id, a_step(1, calls=1))
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the "disk" is now full
        with pytest.raises(StoreError, match="full"):
            store.add_step(run_id, a_step(2, calls=50, stdout="x" * 200_000))
        run = store.get_run(run_id)
        assert [(s.number, len(s.tool_calls)) for s in run.steps] == [(1, 1)]
        assert run.status is RunStatus.FAILED
        assert "store refused step 2 attempt 1" in run.error and "full" in run.error
    finally:
        store.close()


def test_a_sqlite_database_of_another_application_is_not_taken_over(tmp_path):
    path = tmp_path / "invoices.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE facturas (nif TEXT, importe REAL)")
    with pytest.raises(StoreError, match="not a maisa store .*facturas"):
        open_store(str(path))
    with closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert names == ["facturas"]
