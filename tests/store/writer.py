"""A separate process that writes runs through the store, for durability and concurrency tests.

    python3 -m tests.store.writer URL --runs N --steps M [--delay S] [--tag T] [--heartbeat S]

Prints `run <id>` when a run is created and `step <id> <number>` after each step
is committed, flushing each line, so a parent can kill it at a known point.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from maisa.store.factory import open_store
from maisa.store.owner import new_owner_id
from maisa.store.records import RunMode, RunStatus
from tests.store.helpers import a_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--tag", default="w")
    parser.add_argument("--heartbeat", type=float, default=0.0)
    args = parser.parse_args()

    store = open_store(args.url)
    owner = new_owner_id()
    worker = store.upsert_worker("concurrent", 1, "sha256:same", "spec")
    for r in range(args.runs):
        run_id = store.create_run(
            worker.id, {"tag": args.tag, "run": r}, mode=RunMode.GENERATED, owner=owner
        )
        print(f"run {run_id}", flush=True)
        stop = threading.Event()
        if args.heartbeat:
            threading.Thread(
                target=_beat, args=(store, run_id, owner, args.heartbeat, stop), daemon=True
            ).start()
        for number in range(1, args.steps + 1):
            store.add_step(run_id, a_step(number, calls=2, stdout=f"{args.tag} {r} {number}\n"))
            print(f"step {run_id} {number}", flush=True)
            if args.delay:
                time.sleep(args.delay)
        stop.set()
        store.add_usage(run_id, model_calls=1, prompt_tokens=10, completion_tokens=5)
        store.finish_run(run_id, RunStatus.SUCCEEDED, result={"tag": args.tag, "run": r})
    store.close()
    sys.stdout.flush()


def _beat(store, run_id: int, owner: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        store.heartbeat(run_id, owner)


if __name__ == "__main__":
    main()
