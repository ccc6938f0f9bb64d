"""The Store contract for workers, runs and steps, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maisa.errors import StoreError
from maisa.store.records import LockRecord, RunMode, RunStatus
from tests.store.helpers import a_run, a_step


def test_upserting_the_same_worker_twice_returns_the_same_row(store):
    first = store.upsert_worker("facturas", 1, "sha256:aa", "spec text")
    again = store.upsert_worker("facturas", 1, "sha256:aa", "spec text")
    assert again.id == first.id
    assert again.created_at.tzinfo is not None


def test_a_new_fingerprint_is_a_new_worker_row_and_the_name_finds_the_latest(store):
    old = store.upsert_worker("facturas", 1, "sha256:aa", "v1")
    new = store.upsert_worker("facturas", 1, "sha256:bb", "v1 edited")
    assert new.id != old.id
    assert store.get_worker("facturas").id == new.id
    assert store.get_worker(old.id).fingerprint == "sha256:aa"
    assert store.get_worker("nobody") is None
    assert [w.fingerprint for w in store.list_workers()] == ["sha256:aa", "sha256:bb"]


def test_a_run_reads_back_with_its_input_plan_usage_and_result(store):
    run_id = a_run(store, inputs={"email": "a.eml", "n": 3}, lock_revision=2, owner="me")
    store.set_plan(run_id, ["read", "extract", "store"])
    store.add_usage(run_id, model_calls=2, prompt_tokens=100, completion_tokens=40)
    store.add_usage(run_id, model_calls=1, prompt_tokens=10, completion_tokens=5)
    store.finish_run(run_id, RunStatus.SUCCEEDED, result={"nif": "B12345678", "importe": 1500.5})

    run = store.get_run(run_id)
    assert run.worker_name == "facturas" and run.worker_version == 1
    assert run.input == {"email": "a.eml", "n": 3}
    assert run.input_hash.startswith("sha256:")
    assert run.plan == ["read", "extract", "store"]
    assert (run.model_calls, run.prompt_tokens, run.completion_tokens) == (3, 110, 45)
    assert run.status is RunStatus.SUCCEEDED and run.mode is RunMode.GENERATED
    assert run.lock_revision == 2
    assert run.result == {"nif": "B12345678", "importe": 1500.5}
    assert run.started_at <= run.finished_at and run.duration_s >= 0
    for moment in (run.created_at, run.started_at, run.finished_at, run.heartbeat_at):
        assert moment.utcoffset() == timedelta(0)


def test_equal_inputs_have_equal_hashes_whatever_the_key_order(store):
    a = store.get_run(a_run(store, inputs={"x": 1, "y": [1, 2]}))
    b = store.get_run(a_run(store, inputs={"y": [1, 2], "x": 1}))
    c = store.get_run(a_run(store, inputs={"x": 2, "y": [1, 2]}))
    assert a.input_hash == b.input_hash != c.input_hash


def test_a_healed_run_finishes_with_its_new_mode_and_revision(store):
    run_id = a_run(store, mode=RunMode.LOCKED, lock_revision=1)
    store.finish_run(run_id, RunStatus.SUCCEEDED, mode=RunMode.HEALED, lock_revision=2)
    run = store.get_run(run_id)
    assert (run.mode, run.lock_revision) == (RunMode.HEALED, 2)


def test_a_scalar_result_and_a_failed_run_keep_their_values(store):
    ok = a_run(store)
    store.finish_run(ok, RunStatus.SUCCEEDED, result="hello")
    failed = a_run(store)
    store.finish_run(failed, RunStatus.FAILED, error="step 2 raised KeyError: 'nif'")
    assert store.get_run(ok).result == "hello"
    assert store.get_run(failed).error == "step 2 raised KeyError: 'nif'"
    assert store.get_run(failed).result is None


def test_steps_come_back_ordered_by_number_then_attempt_with_their_tool_calls(store):
    run_id = a_run(store)
    store.add_step(run_id, a_step(1, calls=2))
    store.add_step(run_id, a_step(2, 1, status="FAILED", error="KeyError: 'nif'"))
    store.add_step(run_id, a_step(3, calls=1))
    store.add_step(run_id, a_step(2, 2, calls=3))

    steps = store.get_run(run_id).steps
    assert [(s.number, s.attempt) for s in steps] == [(1, 1), (2, 1), (2, 2), (3, 1)]
    assert [len(s.tool_calls) for s in steps] == [2, 0, 3, 1]
    assert [c.sequence for c in steps[2].tool_calls] == [1, 2, 3]
    failed = steps[1]
    assert (failed.status, failed.error) == ("FAILED", "KeyError: 'nif'")
    first = steps[0]
    assert first.variables_out == {"x1": 1, "nested": {"list": [1, 2.5, None, True]}}
    assert first.code_sha256 and first.created_at.tzinfo is not None
    call = first.tool_calls[0]
    assert (call.tool, call.function, call.ok) == ("pdf", "extract_text", True)


def test_text_a_database_cannot_hold_is_stored_in_a_visible_form(store):
    run_id = a_run(store)
    store.add_step(
        run_id,
        a_step(1, stdout="a\0b", variables_out={"inf": float("inf"), "b": b"\x00\x01"}),
    )
    step = store.get_run(run_id).steps[0]
    assert step.stdout == "a\\x00b"
    assert step.variables_out == {"inf": "inf", "b": "<2 bytes>"}


def test_reading_a_run_takes_three_queries_however_many_steps_it_has(store, monkeypatch):
    run_id = a_run(store)
    for number in range(1, 31):
        store.add_step(run_id, a_step(number, calls=2))
    executed: list[str] = []
    real_read = store._read

    class Counting:
        def __init__(self, cur):
            self._cur = cur

        def execute(self, sql, params=()):
            executed.append(sql)
            return self._cur.execute(sql, params)

        def __getattr__(self, name):
            return getattr(self._cur, name)

    class CountingRead:
        def __enter__(self):
            self._cm = real_read()
            return Counting(self._cm.__enter__())

        def __exit__(self, *exc):
            return self._cm.__exit__(*exc)

    monkeypatch.setattr(store, "_read", CountingRead)
    run = store.get_run(run_id)
    assert len(run.steps) == 30 and sum(len(s.tool_calls) for s in run.steps) == 60
    assert len([sql for sql in executed if sql.lstrip().upper().startswith("SELECT")]) == 3


def test_an_unknown_run_reads_as_none_and_cannot_be_written(store):
    assert store.get_run(9999) is None
    with pytest.raises(StoreError, match="9999"):
        store.finish_run(9999, RunStatus.SUCCEEDED)
    with pytest.raises(StoreError):
        store.add_step(9999, a_step(1))


def test_a_run_cannot_be_finished_with_a_status_that_is_not_final(store):
    run_id = a_run(store)
    with pytest.raises(StoreError, match="not a final status"):
        store.finish_run(run_id, RunStatus.RUNNING)


def test_a_duplicate_step_is_refused_whole_and_fails_the_run_with_the_reason(store):
    run_id = a_run(store)
    store.add_step(run_id, a_step(1, calls=1))
    with pytest.raises(StoreError, match="refused"):
        store.add_step(run_id, a_step(1, calls=4, description="again"))
    run = store.get_run(run_id)
    assert len(run.steps) == 1 and run.steps[0].description == "step 1"
    assert len(run.steps[0].tool_calls) == 1  # nothing of the refused step was kept
    assert run.status is RunStatus.FAILED
    assert "store refused step 1 attempt 1" in run.error


def test_runs_are_listed_newest_first_filtered_and_paginated(store):
    ids = []
    for i in range(5):
        run_id = a_run(store, "facturas" if i % 2 == 0 else "nominas")
        ids.append(run_id)
    store.finish_run(ids[0], RunStatus.FAILED, error="boom")
    store.add_step(ids[0], a_step(1))

    listed = store.list_runs()
    assert [r.id for r in listed] == ids[::-1]
    assert all(r.steps == [] for r in listed)
    assert [r.id for r in store.list_runs(worker="nominas")] == [ids[3], ids[1]]
    assert [r.id for r in store.list_runs(status=RunStatus.FAILED)] == [ids[0]]
    assert [r.id for r in store.list_runs(limit=2, offset=1)] == [ids[3], ids[2]]
    assert store.list_runs(limit=2, offset=10) == []
    assert len(store.list_runs(since=datetime.now(UTC) - timedelta(hours=1))) == 5
    assert store.list_runs(since=datetime.now(UTC) + timedelta(minutes=5)) == []
    with pytest.raises(StoreError):
        store.list_runs(limit=-1)


def test_workers_are_summarised_with_their_run_counts(store):
    run_id = a_run(store, "facturas")
    last = a_run(store, "facturas")
    store.upsert_worker("idle", 1, "sha256:idle", "spec")
    summaries = {s.worker.name: s for s in store.summarize_workers()}
    assert summaries["facturas"].run_count == 2
    assert summaries["facturas"].last_run_id == last != run_id
    assert summaries["facturas"].last_run_at.tzinfo is not None
    assert (summaries["idle"].run_count, summaries["idle"].last_run_id) == (0, None)


def test_locks_are_kept_per_revision_and_the_newest_is_the_default(store):
    for revision in (1, 2):
        store.save_lock(
            LockRecord("facturas", f"sha256:{revision}", revision, f"rev {revision}", 7)
        )
    assert store.get_lock("facturas").revision == 2
    assert store.get_lock("facturas", 1).content == "rev 1"
    assert store.get_lock("facturas", 1).source_run == 7
    assert store.get_lock("facturas", 3) is None and store.get_lock("nobody") is None
    store.save_lock(LockRecord("facturas", "sha256:x", 2, "rev 2 again", None))
    assert store.get_lock("facturas").content == "rev 2 again"


def test_tool_call_arguments_given_as_data_are_stored_as_json_text(store):
    run_id = a_run(store)
    step = a_step(1, calls=1)
    step.tool_calls[0].arguments = {"path": "a.pdf", "pages": [1, 2]}
    store.add_step(run_id, step)
    call = store.get_run(run_id).steps[0].tool_calls[0]
    assert call.arguments == '{"path":"a.pdf","pages":[1,2]}'
