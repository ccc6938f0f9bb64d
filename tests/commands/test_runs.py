"""`maisa runs`: listing runs through the real CLI, on both store backends."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from maisa.commands.runs import parse_since
from maisa.errors import UsageError
from maisa.store.factory import open_store
from maisa.store.records import RunMode, RunStatus
from tests.commands.store_cli import maisa
from tests.store.helpers import raw_sql


@pytest.fixture
def five_runs(store_url) -> list[int]:
    """Runs #1..#5: facturas, nominas, facturas (FAILED), nominas, facturas (still RUNNING)."""
    store = open_store(store_url)
    ids = []
    try:
        workers = {
            name: store.upsert_worker(name, 1, f"sha256:{name}", "spec")
            for name in ("facturas", "nominas")
        }
        for i in range(5):
            worker = workers["facturas" if i % 2 == 0 else "nominas"]
            run_id = store.create_run(
                worker.id, {"i": i}, mode=RunMode.GENERATED, owner=f"far-away:1:{i:08d}"
            )
            ids.append(run_id)
            if i == 2:
                store.finish_run(run_id, RunStatus.FAILED, error="step 3 timed out\nmore")
            elif i < 4:
                store.finish_run(run_id, RunStatus.SUCCEEDED, result={"i": i})
    finally:
        store.close()
    return ids


def test_runs_are_listed_newest_first_in_a_table(store_url, five_runs):
    listed = maisa("runs", db=store_url)
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "WORKER", "STATUS", "MODE"]
    assert [line.split()[0] for line in lines[1:]] == [f"#{i}" for i in five_runs[::-1]]
    assert "❌ FAILED" in lines[3] and "step 3 timed out" in lines[3]
    assert "⏳ RUNNING" in lines[1] and "facturas v1" in lines[1]


def test_runs_filter_by_worker_status_and_age_and_paginate(store_url, five_runs):
    def ids(*args: str) -> list[int]:
        result = maisa("runs", "--json", *args, db=store_url)
        assert result.code == 0, result.stderr
        return [run["id"] for run in result.json()]

    assert ids("--worker", "nominas") == [five_runs[3], five_runs[1]]
    assert ids("--status", "failed") == [five_runs[2]]
    assert ids("--status", "FAILED", "--worker", "nominas") == []
    assert ids("--limit", "2") == [five_runs[4], five_runs[3]]
    assert ids("--limit", "2", "--offset", "3") == [five_runs[1], five_runs[0]]
    assert len(ids("--since", "1h")) == 5
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert ids("--since", tomorrow) == []


def test_runs_json_has_each_run_without_its_steps(store_url, five_runs):
    runs = maisa("runs", "--json", db=store_url).json()
    assert "steps" not in runs[0]
    assert runs[-1]["result"] == {"i": 0} and runs[-1]["worker_name"] == "facturas"


def test_runs_reaps_runs_whose_owner_stopped_heart_beating(store_url, five_runs):
    # Run #5's owner is on another host: only its heartbeat, aged past 30 s here, tells.
    raw_sql(
        store_url,
        "UPDATE runs SET heartbeat_at = ? WHERE id = ?",
        ("2000-01-01T00:00:00.000Z", five_runs[4]),
    )
    listed = maisa("runs", "--json", "--status", "interrupted", db=store_url)
    assert [run["id"] for run in listed.json()] == [five_runs[4]]


def test_runs_reports_reaping_on_stderr_only(store_url):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store = open_store(store_url)
    try:
        worker = store.upsert_worker("w", 1, "sha256:w", "spec")
        host = socket.gethostname()
        run_id = store.create_run(
            worker.id, {}, mode=RunMode.GENERATED, owner=f"{host}:{child.pid}:x"
        )
    finally:
        store.close()
    listed = maisa("runs", "--json", db=store_url)
    assert listed.json()[0]["status"] == "INTERRUPTED"
    assert f"#{run_id}" in listed.stderr


def test_an_empty_store_lists_no_runs(store_url):
    listed = maisa("runs", db=store_url)
    assert listed.code == 0 and listed.stdout.strip() == "no runs"
    assert maisa("runs", "--json", db=store_url).json() == []


def test_the_db_option_wins_over_the_environment(store_url, five_runs, tmp_path):
    listed = maisa("runs", "--json", "--db", store_url, db=str(tmp_path / "other.db"))
    assert len(listed.json()) == 5


def test_bad_filters_are_usage_errors(store_url):
    assert maisa("runs", "--since", "yesterday", db=store_url).code == 2
    assert maisa("runs", "--status", "DONE", db=store_url).code == 2
    assert maisa("runs", "--limit", "0", db=store_url).code == 2


def test_since_accepts_ages_and_iso_times():
    now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    assert parse_since("90s", now=now) == now - timedelta(seconds=90)
    assert parse_since("1h", now=now) == now - timedelta(hours=1)
    assert parse_since("2d", now=now) == now - timedelta(days=2)
    assert parse_since("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_since("2026-11-25T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    with pytest.raises(UsageError):
        parse_since("soon")


def test_a_sqlite_store_that_cannot_be_opened_exits_4(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    listed = maisa("runs", "--db", str(blocker / "maisa.db"))
    assert listed.code == 4 and "cannot open the SQLite store" in listed.stderr
    assert "Traceback" not in listed.stderr
