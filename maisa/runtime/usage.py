"""A run's model usage (calls, tokens), counted at once and committed to the store in batches.

Every completion is counted in memory immediately; the counts reach the store
with each heartbeat and when the run ends, so a step costs one store commit
(its own record) rather than two. A crash loses at most one heartbeat
interval of counts, never a step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from maisa.store.base import Store


@dataclass
class Counts:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __bool__(self) -> bool:
        return bool(self.calls or self.prompt_tokens or self.completion_tokens)


class UsageMeter:
    """Totals of one run; `flush()` commits what the store has not seen yet (thread-safe)."""

    def __init__(self, store: Store, run_id: int) -> None:
        self._store = store
        self._run_id = run_id
        self._lock = threading.Lock()
        self.total = Counts()
        self._pending = Counts()

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        with self._lock:
            for counts in (self.total, self._pending):
                counts.calls += 1
                counts.prompt_tokens += prompt_tokens
                counts.completion_tokens += completion_tokens

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counts()
            if not pending:
                return
            try:
                self._store.add_usage(
                    self._run_id,
                    model_calls=pending.calls,
                    prompt_tokens=pending.prompt_tokens,
                    completion_tokens=pending.completion_tokens,
                )
            except Exception:
                # Not lost: added back, and committed with the next flush.
                self._pending.calls += pending.calls
                self._pending.prompt_tokens += pending.prompt_tokens
                self._pending.completion_tokens += pending.completion_tokens
                raise
