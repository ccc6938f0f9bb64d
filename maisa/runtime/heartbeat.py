"""The run's heartbeat: a daemon thread telling the store the run's owner is alive."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from maisa.store.base import Store

DEFAULT_INTERVAL_S = 5.0


def heartbeat_interval() -> float:
    """Seconds between heartbeats ($MAISA_HEARTBEAT_S, default 5; the reaper waits 30)."""
    try:
        return max(0.05, float(os.environ.get("MAISA_HEARTBEAT_S", DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class Heartbeat:
    """Beats every `interval` seconds until stopped; a failed beat is retried at the next one."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        owner: str,
        interval: float | None = None,
        also: Callable[[], None] | None = None,
    ):
        self._store = store
        self._also = also  # run with each beat (the usage meter's flush)
        self._run_id = run_id
        self._owner = owner
        self._interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)
        self.beats = 0
        self.failures = 0

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._store.heartbeat(self._run_id, self._owner)
                if self._also is not None:
                    self._also()
                self.beats += 1
            except Exception:  # noqa: BLE001 (the store may blip; the run goes on)
                self.failures += 1
