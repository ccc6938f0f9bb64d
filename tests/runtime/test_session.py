"""A run's host side: secrets from the environment, a fresh workspace, redaction, heartbeats."""

from __future__ import annotations

import time

import pytest

from maisa.errors import UsageError
from maisa.runtime.heartbeat import Heartbeat
from maisa.runtime.session import make_workspace, read_secrets, redactor
from maisa.runtime.usage import UsageMeter
from maisa.store.factory import open_store
from maisa.store.records import RunMode


def test_secrets_are_read_by_name_and_every_missing_one_is_named(runs):
    compiled = runs.worker(secrets=["TOKEN_A", "TOKEN_B", "TOKEN_C"])
    assert read_secrets(compiled, {"TOKEN_A": "a1", "TOKEN_B": "b2", "TOKEN_C": "c3"}) == {
        "TOKEN_A": "a1",
        "TOKEN_B": "b2",
        "TOKEN_C": "c3",
    }
    with pytest.raises(UsageError) as caught:
        read_secrets(compiled, {"TOKEN_B": "b2"})
    assert "TOKEN_A, TOKEN_C" in caught.value.message
    assert caught.value.hint == "export TOKEN_A=... TOKEN_C=..."


def test_each_run_gets_a_fresh_workspace(tmp_path):
    first = make_workspace(tmp_path / "ws", 7)
    assert first.is_dir() and first.name == "7" and not any(first.iterdir())
    (first / "left-by-another-store.txt").write_text("kept")
    second = make_workspace(tmp_path / "ws", 7)
    assert second.name == "7-2" and not any(second.iterdir())
    assert (first / "left-by-another-store.txt").read_text() == "kept"


def test_the_broker_redactor_hides_secret_values_but_not_short_ones():
    redact = redactor({"DB": "postgresql://u:hunter22@db/x", "SHORT": "ab"})
    assert redact("url=postgresql://u:hunter22@db/x ab") == "url=[REDACTED] ab"


@pytest.fixture
def store_and_run(tmp_path):
    store = open_store(f"sqlite://{tmp_path / 'm.db'}")
    worker = store.upsert_worker("w", 1, "sha256:" + "0" * 64, "spec")
    run_id = store.create_run(worker.id, {}, mode=RunMode.GENERATED, owner="me")
    yield store, run_id
    store.close()


def test_usage_is_counted_at_once_and_committed_on_flush(store_and_run):
    store, run_id = store_and_run
    meter = UsageMeter(store, run_id)
    meter.add(100, 10)
    meter.add(50, 5)
    assert (meter.total.calls, meter.total.prompt_tokens) == (2, 150)
    assert store.get_run(run_id).model_calls == 0
    meter.flush()
    meter.flush()  # nothing pending: no double counting
    run = store.get_run(run_id)
    assert (run.model_calls, run.prompt_tokens, run.completion_tokens) == (2, 150, 15)


def test_the_heartbeat_beats_and_flushes_until_stopped(store_and_run):
    store, run_id = store_and_run
    meter = UsageMeter(store, run_id)
    meter.add(7, 1)
    beat = Heartbeat(store, run_id, "me", interval=0.05, also=meter.flush).start()
    time.sleep(0.4)
    beat.stop()
    assert beat.beats >= 2 and beat.failures == 0
    assert store.get_run(run_id).prompt_tokens == 7
    assert store.get_run(run_id).heartbeat_at is not None
