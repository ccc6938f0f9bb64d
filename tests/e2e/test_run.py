"""`maisa run` end to end: the real CLI, scripted model over HTTP, both sandboxes and stores."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import yaml

from maisa.store.factory import open_store
from tests.runtime.conftest import SUM_WORKER, code

SUM = code("total = inputs['a'] + inputs['b']\nprint('total is', total)")
FINISH = code("finish({'total': total})")


def write_worker(cli, **changes) -> str:
    spec = {**SUM_WORKER, **changes}
    spec["limits"] = {**SUM_WORKER["limits"], **changes.get("limits", {})}
    (cli.cwd / "worker.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "worker.yaml"


def run_json(cli, scripted_model, replies, *extra, spec=None):
    scripted_model.load(replies)
    spec = spec or write_worker(cli)
    return cli.json("run", spec, "--input", "a=1200", "--input", "b=34", "--no-lock", *extra)


def test_a_run_that_succeeds_first_time(cli, scripted_model):
    code_, report, _ = run_json(cli, scripted_model, [SUM, FINISH])
    assert code_ == 0, report
    assert report["status"] == "SUCCEEDED" and report["result"] == {"total": 1234}
    assert report["mode"] == "generated" and report["steps"] == 2
    assert report["model_calls"] == 2 and report["tokens"] > 0
    record = cli.run_record(report["run_id"])
    assert [(s.number, s.attempt, s.status) for s in record.steps] == [(1, 1, "OK"), (2, 1, "OK")]
    assert record.steps[0].stdout == "total is 1234\n"
    assert record.model_calls == 2


def test_human_output_is_the_result_on_stdout_and_progress_on_stderr(cli, scripted_model):
    scripted_model.load([SUM, FINISH])
    done = cli("run", write_worker(cli), "--input", "a=1200", "--input", "b=34", "--no-lock")
    assert done.returncode == 0, done.stderr
    assert '"total": 1234' in done.stdout and "step" not in done.stdout
    assert "step 1" in done.stderr and "OK" in done.stderr and "SUCCEEDED" in done.stderr


def test_a_run_whose_step_2_fails_and_is_fixed(cli, scripted_model):
    broken = code("finish({'total': totl})")
    code_, report, _ = run_json(cli, scripted_model, [SUM, broken, FINISH])
    assert code_ == 0 and report["result"] == {"total": 1234}
    steps = cli.run_record(report["run_id"]).steps
    assert [(s.number, s.attempt, s.status) for s in steps] == [
        (1, 1, "OK"),
        (2, 1, "ERROR"),
        (2, 2, "OK"),
    ]
    assert "NameError" in steps[1].error
    assert "NameError" in scripted_model.requests[2].last_user_message


def test_a_run_the_validator_rejects_then_accepts(cli, scripted_model):
    sneaky = code("import os\ntotal = inputs['a'] + inputs['b']")
    code_, report, _ = run_json(cli, scripted_model, [sneaky, SUM, FINISH])
    assert code_ == 0
    steps = cli.run_record(report["run_id"]).steps
    assert (steps[0].status, steps[1].status) == ("REJECTED", "OK")
    assert "line 1: import of 'os' is not allowed" in steps[0].error


def test_a_run_that_exceeds_max_steps_fails_with_exit_1(cli, scripted_model):
    spec = write_worker(cli, limits={"max_steps": 2})
    code_, report, _ = run_json(cli, scripted_model, [SUM, SUM, SUM], spec=spec)
    assert code_ == 1
    assert report["status"] == "FAILED" and "limits.max_steps (2)" in report["error"]
    assert cli.run_record(report["run_id"]).status == "FAILED"


def test_a_model_endpoint_that_is_down_exits_4(cli):
    code_, report, stderr = cli.json(
        "run",
        write_worker(cli),
        "--input",
        "a=1",
        "--input",
        "b=2",
        "--no-lock",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert code_ == 4
    assert report["status"] == "FAILED" and "127.0.0.1:9" in report["error"]
    assert cli.run_record(report["run_id"]).status == "FAILED"
    assert "error:" in stderr


def test_a_malformed_reply_then_a_good_one(cli, scripted_model):
    replies = [{"malformed": True}, SUM, "Let me think about it.", FINISH]
    code_, report, _ = run_json(cli, scripted_model, replies)
    assert code_ == 0 and report["result"] == {"total": 1234}
    steps = cli.run_record(report["run_id"]).steps
    assert [(s.number, s.status) for s in steps] == [(1, "OK"), (2, "MODEL_ERROR"), (2, "OK")]
    assert len(scripted_model.requests) == 4


def test_bad_input_exits_2_and_records_no_run(cli, scripted_model):
    done = cli("run", write_worker(cli), "--input", "a=many", "--input", "b=2")
    assert done.returncode == 2
    assert "input 'a': expected an integer, got 'many'" in done.stderr
    assert "Traceback" not in done.stderr
    assert scripted_model.requests == []


def test_sigterm_mid_run_records_the_run_as_interrupted(cli, scripted_model):
    scripted_model.load([code("import time\nwhile True:\n    time.sleep(0.05)")])
    spec = write_worker(cli, limits={"step_timeout": "60s"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "maisa", "run", spec, "-i", "a=1", "-i", "b=2", "--no-lock"],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not scripted_model.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the step is now sleeping in the sandbox
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    (run,) = _runs(cli)
    assert run.status == "INTERRUPTED"
    assert run.error == "interrupted (Ctrl-C or SIGTERM) during step 1"


def _runs(cli):
    store = open_store(cli.store_url)
    try:
        return store.list_runs()
    finally:
        store.close()
