"""The run loop, in-process: real bwrap sandbox, real SQLite store, scripted model over HTTP."""

from __future__ import annotations

import time

import pytest

from maisa.errors import ModelUnavailable, UsageError
from maisa.runtime.loop import EXTRA_STEP
from maisa.runtime.orchestrator import FrozenStep
from maisa.runtime.progress import Progress
from maisa.store.records import RunMode, RunStatus
from tests.runtime.conftest import code

SUM = code("total = inputs['a'] + inputs['b']\nprint('total is', total)")
FINISH = code("finish({'total': total})")


def test_a_run_that_succeeds_first_time_records_every_step(runs):
    result = runs.run(runs.worker(), [SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED and result.result == {"total": 1234}
    assert result.mode is RunMode.GENERATED
    assert (result.model_name, result.served_by) == ("scripted", "scripted")
    assert [s.code for s in result.steps] == [
        "total = inputs['a'] + inputs['b']\nprint('total is', total)\n",
        "finish({'total': total})\n",
    ]
    record = runs.record(result.run_id)
    assert record.status is RunStatus.SUCCEEDED and record.result == {"total": 1234}
    assert record.model_calls == 2 == result.model_calls
    assert record.prompt_tokens == result.prompt_tokens > 0
    first, second = record.steps
    assert (first.number, first.attempt, first.status) == (1, 1, "OK")
    assert first.stdout == "total is 1234\n"
    assert first.variables_out == {"total": 1234} and first.variables_in == {}
    assert second.variables_in == {"total": 1234}
    assert len(first.code_sha256) == 64
    assert "Step 1 of 2: Compute the sum" in first.prompt
    assert first.model_reply == SUM


def test_the_next_prompt_shows_the_previous_steps_code_output_and_variables(runs):
    runs.run(runs.worker(), [SUM, FINISH])
    prompt = runs.server.requests[1].last_user_message
    assert "total = inputs['a'] + inputs['b']" in prompt
    assert "total is 1234" in prompt
    assert "total: int = 1234" in prompt
    assert runs.server.requests[1].messages[0]["role"] == "system"


def test_a_failing_step_is_fixed_with_the_error_shown_to_the_model(runs):
    broken = code("total = inputs['a'] + inputs['c']")
    result = runs.run(runs.worker(), [broken, SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    assert runs.attempts(result.run_id) == [(1, 1, "ERROR"), (1, 2, "OK"), (2, 1, "OK")]
    fix = runs.server.requests[1]
    assert [m["role"] for m in fix.messages] == ["system", "user", "assistant", "user"]
    assert "KeyError: 'c'" in fix.last_user_message
    assert "inputs['c']" in fix.messages[2]["content"]
    failed = runs.record(result.run_id).steps[0]
    assert "KeyError" in failed.error


def test_a_rejected_step_counts_as_an_attempt_and_the_model_is_told_why(runs):
    hard_coded = code("total = 1200 + inputs['b']\nprint(total)")
    result = runs.run(runs.worker(), [hard_coded, SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    assert runs.attempts(result.run_id)[:2] == [(1, 1, "REJECTED"), (1, 2, "OK")]
    told = runs.server.requests[1].last_user_message
    assert "validator refused" in told and "read it from inputs['a']" in told


def test_a_reply_without_code_is_a_model_error_attempt(runs):
    result = runs.run(runs.worker(), ["I would add the numbers.", SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    step = runs.record(result.run_id).steps[0]
    assert (step.status, step.model_reply) == ("MODEL_ERROR", "I would add the numbers.")
    assert "```python" in runs.server.requests[1].last_user_message


def test_a_step_that_keeps_failing_fails_the_run_after_max_retries(runs):
    broken = code("total = 1 / 0")
    result = runs.run(runs.worker(), [broken] * 3)
    assert result.status is RunStatus.FAILED
    assert result.error == (
        "step 1 failed after 3 attempt(s); last error (ERROR): ZeroDivisionError: division by zero"
    )
    record = runs.record(result.run_id)
    assert record.status is RunStatus.FAILED and record.error == result.error
    assert len(record.steps) == 3 and len(runs.server.requests) == 3


def test_a_run_that_never_finishes_stops_at_max_steps(runs):
    compiled = runs.worker(limits={"max_steps": 3})
    result = runs.run(compiled, [code(f"x{i} = {i}") for i in range(5)])
    assert result.status is RunStatus.FAILED
    assert "limits.max_steps (3)" in result.error
    assert len(runs.server.requests) == 3
    assert runs.record(result.run_id).plan[-1] == EXTRA_STEP


def test_the_model_may_add_a_step_when_the_plan_is_done(runs):
    result = runs.run(runs.worker(), [SUM, code("doubled = total * 2"), FINISH])
    assert result.status is RunStatus.SUCCEEDED and len(result.steps) == 3
    record = runs.record(result.run_id)
    assert record.plan == ["Compute the sum and print it", "Finish with the total", EXTRA_STEP]
    assert "finish(result)` has not been called" in runs.server.requests[2].last_user_message


def test_the_model_may_finish_early(runs):
    both = code("finish({'total': inputs['a'] + inputs['b']})")
    result = runs.run(runs.worker(), [both])
    assert result.status is RunStatus.SUCCEEDED and len(result.steps) == 1


def test_a_result_that_does_not_match_the_outputs_is_a_failed_attempt(runs):
    wrong = code("finish({'total': 'many'})")
    result = runs.run(runs.worker(), [SUM, wrong, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    assert runs.attempts(result.run_id)[1:] == [(2, 1, "INVALID_RESULT"), (2, 2, "OK")]
    assert "total" in runs.record(result.run_id).steps[1].error


def test_variables_of_a_failed_attempt_are_discarded_before_the_fix(runs):
    half_done = code("partial = inputs['a']\ntotal = partial + inputs['c']")
    leaning = code("total = partial + inputs['b']")
    result = runs.run(runs.worker(), [half_done, leaning, SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    assert runs.attempts(result.run_id)[:3] == [(1, 1, "ERROR"), (1, 2, "ERROR"), (1, 3, "OK")]
    assert "NameError: name 'partial' is not defined" in runs.record(result.run_id).steps[1].error
    assert "discarded (partial)" in runs.server.requests[1].last_user_message


def test_without_steps_the_model_drafts_the_plan_first(runs):
    compiled = runs.worker(steps=None)
    plan = "Here is the plan:\n1. Compute the sum\n2. Finish with it"
    result = runs.run(compiled, [plan, SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    record = runs.record(result.run_id)
    assert record.plan == ["Compute the sum", "Finish with it"]
    assert [(s.number, s.description) for s in record.steps] == [
        (1, "Compute the sum"),
        (2, "Finish with it"),
    ]
    assert "Draft the plan" not in runs.server.requests[0].last_user_message
    assert "numbered list" in runs.server.requests[0].last_user_message


def test_a_model_that_never_drafts_a_plan_fails_the_run(runs):
    result = runs.run(runs.worker(steps=None), ["no idea"] * 3)
    assert result.status is RunStatus.FAILED
    assert "did not draft a plan" in result.error


def test_frozen_steps_replay_without_any_model_call(runs):
    first = runs.run(runs.worker(), [SUM, FINISH])
    frozen = first.steps
    result = runs.run(runs.worker(), [], {"a": 5000, "b": 6000}, frozen=frozen, with_model=False)
    assert result.status is RunStatus.SUCCEEDED and result.result == {"total": 11000}
    assert result.mode is RunMode.LOCKED and result.model_calls == 0
    assert result.model_name is None
    assert runs.server.requests == []
    record = runs.record(result.run_id)
    assert record.steps[0].prompt is None and record.lock_revision == 1


def test_a_failing_frozen_step_fails_the_run_unless_healing(runs):
    frozen = [FrozenStep(1, "Compute the sum", "total = inputs['a'] + inputs['c']\n")]
    result = runs.run(runs.worker(), [], frozen=frozen, with_model=False)
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("locked step 1 failed (ERROR): KeyError")


def test_healing_regenerates_from_the_failing_frozen_step(runs):
    frozen = [
        FrozenStep(1, "Compute the sum and print it", "total = inputs['a'] + inputs['c']\n"),
        FrozenStep(2, "Finish with the total", "finish({'total': total})\n"),
    ]
    result = runs.run(runs.worker(), [SUM, FINISH], frozen=frozen, heal=True)
    assert result.status is RunStatus.SUCCEEDED and result.mode is RunMode.HEALED
    assert runs.attempts(result.run_id) == [(1, 1, "ERROR"), (1, 2, "OK"), (2, 1, "OK")]
    assert "inputs['c']" in runs.server.requests[0].messages[2]["content"]
    assert runs.record(result.run_id).mode is RunMode.HEALED


def test_a_step_that_needs_the_model_in_a_model_less_run_fails_clearly(runs):
    frozen = [FrozenStep(1, "Compute the sum and print it", "total = inputs['a'] + inputs['b']\n")]
    result = runs.run(runs.worker(), [], frozen=frozen, with_model=False)
    assert result.status is RunStatus.FAILED
    assert result.error == (
        "step 2 needs the model, but this run has none (a locked run makes no model calls)"
    )


def test_a_step_past_its_timeout_is_retried(runs):
    compiled = runs.worker(limits={"step_timeout": "1s"})
    result = runs.run(compiled, [code("while True:\n    pass"), SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    assert runs.attempts(result.run_id)[0] == (1, 1, "TIMEOUT")


def test_a_crashed_session_is_reopened_with_the_variables_restored(runs):
    compiled = runs.worker(limits={"memory": "64m"})
    bomb = code("chunks = []\nwhile True:\n    chunks.append(' ' * 1000000)")
    result = runs.run(compiled, [SUM, bomb, FINISH])
    assert result.status is RunStatus.SUCCEEDED and result.result == {"total": 1234}
    assert runs.attempts(result.run_id)[1][2] in ("CRASHED", "KILLED_OOM")


def test_the_run_timeout_ends_the_run(runs):
    compiled = runs.worker(limits={"run_timeout": "2s", "step_timeout": "5s"})
    result = runs.run(compiled, [code("while True:\n    pass")] * 3)
    assert result.status is RunStatus.FAILED
    assert "limits.run_timeout (2s)" in result.error


class _CtrlCAtStep2(Progress):
    def attempt_started(self, number, attempt, description, source):
        if number == 2:
            raise KeyboardInterrupt


def test_ctrl_c_marks_the_run_interrupted(runs):
    with pytest.raises(KeyboardInterrupt):
        runs.run(runs.worker(), [SUM, FINISH], progress=_CtrlCAtStep2())
    (run,) = runs.store.list_runs()
    assert run.status is RunStatus.INTERRUPTED
    assert run.error == "interrupted (Ctrl-C or SIGTERM) during step 2"


def test_a_model_endpoint_that_is_down_fails_the_run_and_raises(runs):
    with pytest.raises(ModelUnavailable):
        runs.run(runs.worker(), [{"status": 503}] * 5)
    (run,) = runs.store.list_runs()
    assert run.status is RunStatus.FAILED and "failed 2 time(s)" in run.error


def test_a_missing_secret_is_a_usage_error_before_any_run_is_recorded(runs, monkeypatch):
    monkeypatch.delenv("SUMADOR_TOKEN", raising=False)
    with pytest.raises(UsageError, match="SUMADOR_TOKEN"):
        runs.run(runs.worker(secrets=["SUMADOR_TOKEN"]), [SUM, FINISH])
    assert runs.store.list_runs() == []


def test_tool_calls_are_recorded_under_their_step(runs):
    compiled = runs.worker(tools=["files"])
    write = code(
        "files.write_text('note.txt', str(inputs['a']))\ntotal = inputs['a'] + inputs['b']"
    )
    result = runs.run(compiled, [write, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    (call,) = runs.record(result.run_id).steps[0].tool_calls
    assert (call.tool, call.function, call.ok) == ("files", "write_text", True)
    assert (runs.tmp_path / ".maisa" / "workspaces" / str(result.run_id) / "note.txt").exists()


def test_a_slow_model_is_cut_off_by_the_run_timeout(runs):
    compiled = runs.worker(limits={"run_timeout": "1s"})
    started = time.monotonic()
    result = runs.run(compiled, [{"delay": 5, "reply": SUM}] * 3)
    assert result.status is RunStatus.FAILED
    assert "limits.run_timeout (1s)" in result.error
    assert time.monotonic() - started < 4


def test_locked_code_that_the_validator_refuses_is_not_run(runs):
    frozen = [FrozenStep(1, "Compute the sum", "import os\ntotal = len(os.listdir('/'))\n")]
    result = runs.run(runs.worker(), [], frozen=frozen, with_model=False)
    assert result.status is RunStatus.FAILED
    assert result.error == (
        "locked step 1 failed (REJECTED): line 1: import of 'os' is not allowed in step code; "
        "use the tools"
    )
    (step,) = runs.record(result.run_id).steps
    assert (step.status, step.stdout, step.variables_out) == ("REJECTED", "", {})


def test_a_refusal_is_a_model_error_attempt_and_the_model_is_asked_again(runs):
    result = runs.run(runs.worker(), [{"refusal": "I can't help with that."}, SUM, FINISH])
    assert result.status is RunStatus.SUCCEEDED
    step = runs.record(result.run_id).steps[0]
    assert step.status == "MODEL_ERROR"
    assert step.error == "the model refused: I can't help with that."


def test_replaying_a_lock_of_a_spec_without_steps_records_the_locked_plan(runs):
    frozen = [
        FrozenStep(1, "Add them", "total = inputs['a'] + inputs['b']\n"),
        FrozenStep(2, "Finish", "finish({'total': total})\n"),
    ]
    result = runs.run(runs.worker(steps=None), [], frozen=frozen, with_model=False)
    assert result.status is RunStatus.SUCCEEDED
    assert runs.record(result.run_id).plan == ["Add them", "Finish"]


def test_healing_gets_one_model_attempt_even_without_retries(runs):
    frozen = [FrozenStep(1, "Compute the sum", "total = inputs['a'] + inputs['c']\n")]
    compiled = runs.worker(limits={"max_retries": 0})
    result = runs.run(compiled, [SUM, FINISH], frozen=frozen, heal=True)
    assert result.status is RunStatus.SUCCEEDED and result.mode is RunMode.HEALED
