"""A writer killed mid-run loses at most its step in flight; 20 writers lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from maisa.store.factory import open_store, sqlite_path
from maisa.store.owner import new_owner_id
from maisa.store.records import RunStatus
from tests.store.helpers import a_step, raw_sql

ROOT = Path(__file__).resolve().parents[2]


def start_writer(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer", url, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_writer_killed_mid_run_leaves_its_committed_steps_intact_and_resumable(store_url):
    writer = start_writer(store_url, "--steps", "1000", "--delay", "0.02", "--heartbeat", "0.01")
    run_id = int(writer.stdout.readline().split()[1])
    committed = 0
    while committed < 8:
        line = writer.stdout.readline()
        assert line, writer.stderr.read()
        committed = int(line.split()[2])
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    writer.stdout.close()
    writer.stderr.close()

    if sqlite_path(store_url) is not None:
        assert raw_sql(store_url, "PRAGMA integrity_check") == [("ok",)]
    store = open_store(store_url)
    try:
        run = store.get_run(run_id)
        assert run.status is RunStatus.RUNNING  # nobody has noticed yet
        numbers = [step.number for step in run.steps]
        assert numbers[:committed] == list(range(1, committed + 1))
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no partial step
        assert all(len(step.tool_calls) == 2 for step in run.steps)

        assert store.reap_interrupted() == [run_id]  # its owner's process is gone
        assert store.get_run(run_id).status is RunStatus.INTERRUPTED

        resumer = new_owner_id()
        assert store.claim_run(run_id, resumer)
        store.add_step(run_id, a_step(len(numbers) + 1))
        store.finish_run(run_id, RunStatus.SUCCEEDED, result={"resumed": True})
        run = store.get_run(run_id)
        assert run.status is RunStatus.SUCCEEDED and run.owner == resumer
        assert [s.number for s in run.steps] == list(range(1, len(numbers) + 2))
    finally:
        store.close()


def test_twenty_processes_writing_at_once_lose_nothing_and_never_deadlock(store_url):
    # The database is empty: the writers also race to create the schema.
    writers = [
        start_writer(
            store_url, "--runs", "3", "--steps", "5", "--tag", f"p{i}", "--heartbeat", "0.05"
        )
        for i in range(20)
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=240)  # a deadlock fails here
        assert writer.returncode == 0, err

    store = open_store(store_url)
    try:
        runs = store.list_runs(limit=1000)
        assert len(runs) == 60
        assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
        assert {(r.result["tag"], r.result["run"]) for r in runs} == {
            (f"p{i}", r) for i in range(20) for r in range(3)
        }
        assert sum(r.model_calls for r in runs) == 60
        assert len(store.list_workers()) == 1  # 20 concurrent upserts, one row
        for summary in runs[:60]:
            run = store.get_run(summary.id)
            assert [s.number for s in run.steps] == [1, 2, 3, 4, 5]
            assert all(len(s.tool_calls) == 2 for s in run.steps)
            tag, number = run.input["tag"], run.input["run"]
            assert run.steps[4].stdout == f"{tag} {number} 5\n"
    finally:
        store.close()
