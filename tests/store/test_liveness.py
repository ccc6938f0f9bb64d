"""Owners, heartbeats, reaping and claiming runs, on both backends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from maisa.store.owner import new_owner_id, owner_is_gone
from maisa.store.records import RunStatus
from tests.store.helpers import a_run, a_step


def test_owner_ids_name_host_process_and_a_random_part():
    host, pid, rand = new_owner_id().split(":")
    assert pid.isdigit() and len(rand) == 8 and host
    assert new_owner_id() != new_owner_id()


def test_an_owner_is_gone_once_its_process_has_exited():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = new_owner_id().split(":")[0]
    assert owner_is_gone(f"{host}:{child.pid}:abcd1234")
    assert not owner_is_gone(new_owner_id())  # this process
    assert not owner_is_gone(f"elsewhere:{child.pid}:abcd1234")  # not ours to judge
    assert not owner_is_gone("not an owner id")


def test_a_live_owner_keeps_its_run_by_heart_beating(store):
    owner = new_owner_id()
    run_id = a_run(store, owner=owner)
    time.sleep(0.3)
    assert store.heartbeat(run_id, owner)
    assert store.reap_interrupted(stale_after_s=0.25) == []
    assert store.get_run(run_id).status is RunStatus.RUNNING


def test_a_run_whose_heartbeat_went_stale_is_reaped_interrupted(store):
    run_id = a_run(store, owner="other-host:1:deadbeef")
    time.sleep(0.3)
    assert store.reap_interrupted(stale_after_s=0.2) == [run_id]
    run = store.get_run(run_id)
    assert run.status is RunStatus.INTERRUPTED
    assert "other-host:1:deadbeef stopped heart-beating" in run.error
    assert store.reap_interrupted(stale_after_s=0.2) == []  # once


def test_a_run_whose_local_owner_died_is_reaped_at_once(store):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = new_owner_id().split(":")[0]
    run_id = a_run(store, owner=f"{host}:{child.pid}:00000000")
    assert store.reap_interrupted(stale_after_s=3600) == [run_id]


def test_finished_and_queued_runs_are_never_reaped(store):
    done = a_run(store, owner="gone:1:x")
    store.finish_run(done, RunStatus.SUCCEEDED)
    queued = a_run(store, status=RunStatus.QUEUED)
    time.sleep(0.2)
    assert store.reap_interrupted(stale_after_s=0.1) == []
    assert store.get_run(queued).started_at is None


def test_an_interrupted_run_is_claimed_by_exactly_one_resumer(store):
    run_id = a_run(store, owner="gone:1:x")
    store.add_step(run_id, a_step(1))
    time.sleep(0.2)
    store.reap_interrupted(stale_after_s=0.1)

    winners: list[str] = []
    barrier = threading.Barrier(4)

    def resume(owner: str) -> None:
        barrier.wait()
        if store.claim_run(run_id, owner):
            winners.append(owner)

    threads = [threading.Thread(target=resume, args=(f"h:{i}:r",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    run = store.get_run(run_id)
    assert (run.status, run.owner, run.error) == (RunStatus.RUNNING, winners[0], None)
    store.add_step(run_id, a_step(2))  # resumes after its last committed step
    assert [s.number for s in store.get_run(run_id).steps] == [1, 2]


def test_a_queued_run_is_claimed_and_started(store):
    run_id = a_run(store, status=RunStatus.QUEUED)
    assert store.claim_run(run_id, "worker:1:a")
    assert not store.claim_run(run_id, "worker:2:b")
    run = store.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.started_at is not None


def test_a_heartbeat_from_an_owner_that_lost_the_run_changes_nothing(store):
    run_id = a_run(store, owner="first:1:a")
    time.sleep(0.2)
    store.reap_interrupted(stale_after_s=0.1)
    store.claim_run(run_id, "second:1:b")
    assert not store.heartbeat(run_id, "first:1:a")
    assert store.heartbeat(run_id, "second:1:b")


def test_heartbeats_from_another_thread_interleave_with_step_writes(store):
    owner = new_owner_id()
    run_id = a_run(store, owner=owner)
    stop = threading.Event()
    beats = []

    def beat() -> None:
        while not stop.is_set():
            beats.append(store.heartbeat(run_id, owner))

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        for number in range(1, 41):
            store.add_step(run_id, a_step(number, calls=1))
    finally:
        stop.set()
        thread.join()
    assert beats and all(beats)
    assert len(store.get_run(run_id).steps) == 40


def test_queued_runs_are_handed_out_oldest_first_each_to_one_claimer(store):
    queued = [a_run(store, status=RunStatus.QUEUED) for _ in range(6)]
    a_run(store)  # RUNNING: never handed out
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def claimer(n: int) -> None:
        barrier.wait()
        while (run_id := store.claim_next(f"h:{n}:q")) is not None:
            with lock:
                claimed.append(run_id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == queued
    assert store.claim_next("h:9:q") is None
    assert {store.get_run(i).status for i in queued} == {RunStatus.RUNNING}
