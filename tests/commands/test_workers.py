"""`maisa workers`: the workers a store has seen, through the real CLI, on both backends."""

from __future__ import annotations

from maisa.store.factory import open_store
from maisa.store.records import RunMode
from tests.commands.store_cli import maisa


def test_workers_lists_versions_fingerprints_runs_and_last_run(store_url):
    store = open_store(store_url)
    try:
        v1 = store.upsert_worker("facturas", 1, "sha256:" + "a" * 64, "spec v1")
        v2 = store.upsert_worker("facturas", 2, "sha256:" + "b" * 64, "spec v2")
        store.upsert_worker("nominas", 1, "sha256:" + "c" * 64, "spec")
        for worker in (v1, v1, v2):
            last = store.create_run(worker.id, {}, mode=RunMode.GENERATED)
    finally:
        store.close()

    table = maisa("workers", db=store_url)
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["WORKER", "VERSIONS", "FINGERPRINTS", "RUNS", "LAST", "RUN"]
    assert lines[1].split()[:4] == ["facturas", "v1,", "v2", "v1"]
    assert "aaaaaaaaaaaa (2 runs)" in lines[1] and f"#{last} at" in lines[1]
    assert "bbbbbbbbbbbb (1 runs)" in table.stdout
    assert "nominas" in table.stdout and "never" in table.stdout

    listed = maisa("workers", "--json", db=store_url).json()
    assert [w["name"] for w in listed] == ["facturas", "nominas"]
    facturas = listed[0]
    assert facturas["versions"] == [1, 2] and facturas["runs"] == 3
    assert facturas["last_run_id"] == last
    assert [f["runs"] for f in facturas["fingerprints"]] == [2, 1]
    assert listed[1]["runs"] == 0 and listed[1]["last_run_id"] is None


def test_an_empty_store_has_no_workers(store_url):
    assert maisa("workers", "--json", db=store_url).json() == []
    assert "no workers yet" in maisa("workers", db=store_url).stdout
