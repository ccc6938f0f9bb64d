"""Versioned migrations: applied once, upgrading old databases, refusing newer ones."""

from __future__ import annotations

import pytest

from maisa.errors import StoreError
from maisa.store.factory import open_store, sqlite_path
from maisa.store.migrations import LATEST, MIGRATIONS
from maisa.store.postgres import PostgresStore
from maisa.store.records import LockRecord, RunStatus
from maisa.store.sqlite import SqliteStore
from tests.store.helpers import raw_sql


def open_at(url: str, version: int):
    path = sqlite_path(url)
    if path is not None:
        return SqliteStore(path, migrate_to=version)
    return PostgresStore(url, migrate_to=version)


def test_migrations_are_numbered_from_one_without_gaps():
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    assert all(m.sqlite and m.postgres for m in MIGRATIONS)


def test_opening_an_empty_database_applies_every_migration_once(store_url):
    open_store(store_url).close()
    open_store(store_url).close()
    rows = raw_sql(store_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [tuple(r) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]


def test_a_database_created_at_migration_one_is_upgraded_with_its_data_intact(store_url):
    old = open_at(store_url, 1)
    assert old.schema_version() == 1
    old.close()
    with pytest.raises(Exception):  # noqa: B017 - the locks table does not exist yet
        raw_sql(store_url, "SELECT * FROM locks")
    raw_sql(
        store_url,
        "INSERT INTO workers (name, version, fingerprint, spec) VALUES (?, ?, ?, ?)",
        ("facturas", 1, "sha256:old", "spec"),
    )
    raw_sql(
        store_url,
        "INSERT INTO runs (worker_id, input, input_hash, status, mode) "
        "VALUES (1, '{\"email\": \"a.eml\"}', 'sha256:x', 'SUCCEEDED', 'generated')",
    )

    store = open_store(store_url)
    try:
        assert store.schema_version() == LATEST
        run = store.get_run(1)
        assert run.input == {"email": "a.eml"} and run.status is RunStatus.SUCCEEDED
        assert run.plan == []  # the column migration 2 added, with its default
        store.set_plan(1, ["read", "extract"])
        assert store.get_run(1).plan == ["read", "extract"]
        store.save_lock(LockRecord("facturas", "sha256:old", 1, "steps: []", 1))
        assert store.get_lock("facturas").source_run == 1
    finally:
        store.close()


def test_a_database_newer_than_the_code_is_refused_with_a_clear_message(store_url):
    open_store(store_url).close()
    raw_sql(store_url, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (99, "x"))
    with pytest.raises(StoreError) as refused:
        open_store(store_url)
    assert "schema version 99" in refused.value.message
    assert f"({LATEST})" in refused.value.message
    assert "upgrade maisa" in refused.value.hint
