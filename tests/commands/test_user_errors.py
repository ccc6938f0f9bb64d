"""A demanding new user's mistakes and mishaps, through the real CLI in a subprocess.

Each test is one defect found by using maisa from a clean clone: the message says what and
where, the exit code is DESIGN §9's, no traceback reaches the user and nothing is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures.services import unavailable
from tests.runtime.conftest import SUM_WORKER

REPO = Path(__file__).resolve().parents[2]

SUM_REPLIES = [
    "```python\ntotal = inputs['a'] + inputs['b']\nprint(total)\n```",
    "```python\nfinish({'total': total})\n```",
]


def environment_for(cwd: Path, db: str, env: dict[str, str]) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAISA_", "OPENAI_"))}
    environment.update(
        PYTHONPATH=str(REPO),
        MAISA_DATABASE_URL=db if "://" in db else str(cwd / db),
        MAISA_SANDBOX="bwrap",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # nothing listens: a test never reaches a model
        OPENAI_API_KEY="none",
    )
    environment.update(env)
    return environment


def maisa(
    cwd: Path, *args: str, db: str = "m.db", timeout: float = 90, **env: str
) -> subprocess.CompletedProcess:
    """`maisa ARGS` in `cwd`, on the bwrap sandbox, with `db` as the store (relative to cwd)."""
    return subprocess.run(
        [sys.executable, "-m", "maisa", *args],
        cwd=cwd,
        env=environment_for(cwd, db, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def no_traceback(done: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in done.stderr and "Traceback" not in done.stdout


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(SUM_WORKER, sort_keys=False))
    return path


@pytest.fixture
def locked(tmp_path: Path, spec: Path, model_env: dict[str, str], scripted_model) -> Path:
    """The sum worker with a fresh lock, generated through the scripted model."""
    scripted_model.load(SUM_REPLIES)
    done = maisa(tmp_path, "lock", spec.name, "-i", "a=1", "-i", "b=2", **model_env)
    assert done.returncode == 0, done.stderr
    return spec


def test_a_second_store_in_the_same_project_does_not_crash_on_the_workspace(tmp_path, locked):
    # Run ids restart in a new database; the first store's workspace `.maisa/workspaces/1` is
    # still there and must be neither reused nor a crash.
    first = maisa(tmp_path, "run", locked.name, "-i", "a=2", "-i", "b=3", "--lock", db="one.db")
    second = maisa(tmp_path, "run", locked.name, "-i", "a=2", "-i", "b=3", "--lock", db="two.db")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert no_traceback(second)
    assert '"total": 5' in second.stdout


DEAD_DB = "postgresql://postgres@127.0.0.1:1/x"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("show", "999", "--json"), 2),
        (("runs", "--since", "garbage", "--json"), 2),
        (("runs", "--status", "nope", "--json"), 2),
        (("compile", "nope.yaml", "--json"), 2),
        (("compile", ".", "--json"), 2),
    ],
)
def test_json_errors_are_one_json_object_on_stdout(tmp_path, args, code):
    done = maisa(tmp_path, *args)
    assert done.returncode == code and no_traceback(done)
    report = json.loads(done.stdout)
    assert report["exit_code"] == code and report["error"]
    assert "error:" in done.stderr or "Error:" in done.stderr  # people still read stderr


@pytest.mark.parametrize("command", ["show", "runs", "workers"])
def test_a_dead_database_under_json_is_exit_4_and_a_json_error(tmp_path, command):
    args = [command, "last", "--json"] if command == "show" else [command, "--json"]
    done = maisa(tmp_path, *args, db=DEAD_DB)
    assert done.returncode == 4 and no_traceback(done)
    assert "cannot reach PostgreSQL" in json.loads(done.stdout)["error"]


@pytest.mark.parametrize(
    "command", [("compile",), ("run",), ("lock", "--check"), ("lock", "-i", "a=1")]
)
def test_an_invalid_spec_under_json_lists_every_problem_as_json(tmp_path, spec, command):
    spec.write_text(spec.read_text().replace("goal:", "gaol:"))
    done = maisa(tmp_path, *command, spec.name, "--json")
    assert done.returncode == 2 and no_traceback(done)
    problems = json.loads(done.stdout)["problems"]
    assert any("unknown key 'gaol'" in p and p.startswith("worker.yaml:") for p in problems)


def interrupt_while_the_model_thinks(tmp_path, scripted_model, model_env, args, sig):
    """Start `maisa ARGS`, wait until it asks the model, send `sig`; the finished process."""
    scripted_model.load([{"reply": SUM_REPLIES[0], "delay": 30}])
    process = subprocess.Popen(
        [sys.executable, "-m", "maisa", *args],
        cwd=tmp_path,
        env=environment_for(tmp_path, "m.db", model_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not scripted_model.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scripted_model.requests, "maisa never asked the model"
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_ctrl_c_under_run_json_prints_the_interrupted_run_as_json(
    tmp_path, spec, scripted_model, model_env
):
    args = ["run", spec.name, "-i", "a=1", "-i", "b=2", "--no-lock", "--json"]
    done = interrupt_while_the_model_thinks(
        tmp_path, scripted_model, model_env, args, signal.SIGINT
    )
    assert done.returncode == 130 and no_traceback(done)
    report = json.loads(done.stdout)
    assert report["status"] == "INTERRUPTED" and report["run_id"] == 1
    shown = maisa(tmp_path, "show", "1", "--json")
    assert json.loads(shown.stdout)["status"] == "INTERRUPTED"


def test_sigterm_during_maisa_lock_records_the_run_interrupted_during_its_step(
    tmp_path, spec, scripted_model, model_env
):
    args = ["lock", spec.name, "-i", "a=1", "-i", "b=2"]
    done = interrupt_while_the_model_thinks(
        tmp_path, scripted_model, model_env, args, signal.SIGTERM
    )
    assert done.returncode == 130 and no_traceback(done)
    run = json.loads(maisa(tmp_path, "show", "1", "--json").stdout)
    assert run["status"] == "INTERRUPTED"
    assert run["error"] == "interrupted (Ctrl-C or SIGTERM) during step 1"
    assert not (tmp_path / "worker.lock").exists()


def as_a_user_who_cannot_read(path: Path) -> list[str]:
    """Make `path` unreadable to the maisa we start; the command prefix that starts it."""
    path.chmod(0)
    if os.geteuid() != 0:
        return []
    # Root reads anything; in a user namespace it cannot read a file owned by an unmapped uid.
    os.chown(path, 12345, 12345)
    if subprocess.run(["unshare", "-r", "true"], capture_output=True).returncode != 0:
        unavailable("unshare -r (user namespaces) is needed to drop root's read access")
    return ["unshare", "-r"]


def test_an_unreadable_file_input_is_a_usage_error_before_the_run(tmp_path):
    spec = {**SUM_WORKER, "inputs": {"doc": {"type": "file"}}}
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    secret = tmp_path / "payroll.pdf"
    secret.write_bytes(b"%PDF-1.4")
    prefix = as_a_user_who_cannot_read(secret)
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "maisa", "run", "worker.yaml", "-i", "doc=payroll.pdf"],
        cwd=tmp_path,
        env=environment_for(tmp_path, "m.db", {}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and no_traceback(done)
    assert "input 'doc': cannot read " in done.stderr
    assert "payroll.pdf: permission denied" in done.stderr
    assert not (tmp_path / "m.db").exists()  # refused before any run was recorded


@pytest.fixture
def number_spec(tmp_path: Path) -> Path:
    path = tmp_path / "worker.yaml"
    inputs = {"a": {"type": "number"}, "b": {"type": "integer"}}
    path.write_text(yaml.safe_dump({**SUM_WORKER, "inputs": inputs}, sort_keys=False))
    return path


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_number_input_that_json_cannot_hold_is_refused_before_the_run(
    tmp_path, number_spec, value
):
    done = maisa(tmp_path, "run", number_spec.name, "-i", f"a={value}", "-i", "b=2")
    assert done.returncode == 2 and no_traceback(done)
    assert "input 'a':" in done.stderr and "is not a JSON number" in done.stderr
    assert not (tmp_path / "m.db").exists()


def test_nan_in_an_input_file_is_refused_too(tmp_path, number_spec):
    (tmp_path / "in.json").write_text('{"a": NaN, "b": 2}')
    done = maisa(tmp_path, "run", number_spec.name, "--input-file", "in.json")
    assert done.returncode == 2 and no_traceback(done)
    assert "input 'a': nan is not a JSON number" in done.stderr


@pytest.mark.parametrize("command", ["show", "replay"])
def test_a_run_id_past_64_bits_is_no_such_run(tmp_path, command):
    maisa(tmp_path, "workers")  # creates the empty store
    done = maisa(tmp_path, command, "99999999999999999999")
    assert done.returncode == 2 and no_traceback(done)
    assert "no run 99999999999999999999" in done.stderr


def test_a_db_tool_without_its_secret_is_a_spec_error_at_compile_time(tmp_path):
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump({**SUM_WORKER, "tools": ["db"]}))
    compiled = maisa(tmp_path, "compile", "worker.yaml")
    assert compiled.returncode == 2 and no_traceback(compiled)
    assert "worker.yaml:" in compiled.stderr and "tool 'db' needs a secret" in compiled.stderr
    checked = maisa(tmp_path, "check", "worker.yaml")
    assert checked.returncode == 2 and "tool 'db' needs a secret" in checked.stdout
    ran = maisa(tmp_path, "run", "worker.yaml", "-i", "a=1", "-i", "b=2")
    assert ran.returncode == 2 and not (tmp_path / "m.db").exists()  # no FAILED run recorded


def test_a_secret_on_a_tool_that_takes_none_is_a_spec_error(tmp_path):
    spec = {**SUM_WORKER, "tools": [{"name": "mail", "secret": "TOKEN"}], "secrets": ["TOKEN"]}
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump(spec))
    done = maisa(tmp_path, "compile", "worker.yaml")
    assert done.returncode == 2 and "tool 'mail' takes no secret; only db does" in done.stderr


def test_a_malformed_run_id_is_a_usage_error_even_when_the_database_is_down(tmp_path):
    done = maisa(tmp_path, "show", "abc", db=DEAD_DB)
    assert done.returncode == 2 and no_traceback(done)
    assert "RUN must be a run id or `last`, not 'abc'" in done.stderr


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path):
    # Nine levels of nine aliases stand for 9**9 values: expanding them would hang the CLI.
    lines = ["apiVersion: maisa/v1", "kind: Worker", "name: bomb", "goal: x", "a0: &a0 [lol]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    lines.append("outputs: {x: {type: string, enum: *a9}}")
    (tmp_path / "worker.yaml").write_text("\n".join(lines) + "\n")
    for command in ("compile", "check"):
        done = maisa(tmp_path, command, "worker.yaml", timeout=20)
        assert done.returncode == 2 and no_traceback(done)
        assert "expands to more than 100000 values" in done.stderr + done.stdout


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A directory nobody can write to, not even root (chattr +i), removed cleanly afterwards."""
    path = tmp_path / "read-only"
    path.mkdir()

    def freeze() -> None:
        if os.geteuid() != 0:
            path.chmod(0o555)
        elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            unavailable("chattr +i is needed to make a directory read-only for root")

    yield path, freeze
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755)


def test_running_from_a_read_only_directory_fails_clearly_and_is_recorded(
    tmp_path, locked, read_only_dir
):
    project, freeze = read_only_dir
    for name in ("worker.yaml", "worker.lock"):
        shutil.copy(tmp_path / name, project / name)
    freeze()
    store = str(tmp_path / "store.db")
    done = maisa(project, "run", "worker.yaml", "-i", "a=1", "-i", "b=2", "--lock", db=store)
    assert done.returncode == 4 and no_traceback(done)
    assert "cannot create run 1's workspace" in done.stderr and "directory you can" in done.stderr
    run = json.loads(maisa(tmp_path, "show", "1", "--json", db=store).stdout)
    assert run["status"] == "FAILED" and "cannot create run 1's workspace" in run["error"]


def test_replay_refuses_a_spec_of_another_worker(tmp_path, locked):
    other = {**SUM_WORKER, "name": "restador"}
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    done = maisa(tmp_path, "replay", "1", "--spec", "other.yaml")
    assert done.returncode == 2 and no_traceback(done)
    assert "is the spec of worker 'restador', but run 1 is of worker 'sumador'" in done.stderr


def test_replay_with_a_broken_spec_does_not_suggest_passing_a_spec(tmp_path, locked):
    (tmp_path / "broken.yaml").write_text(locked.read_text().replace("goal:", "gaol:"))
    done = maisa(tmp_path, "replay", "1", "--spec", "broken.yaml")
    assert done.returncode == 2 and "unknown key 'gaol'" in done.stderr
    assert "pass the spec file with --spec" not in done.stderr


def test_show_prints_terminal_escapes_from_a_step_escaped_never_raw(
    tmp_path, spec, scripted_model, model_env
):
    # A crafted PDF or a prompt-injected model can make a step print escape sequences: raw,
    # they would clear the auditor's screen or repaint a failure; show must display them.
    hostile = r'print("\x1b[2J\x1b[32mALL OK\x1b[0m\u202egnp.exe")'
    scripted_model.load([f"```python\n{hostile}\ntotal = 3\n```", SUM_REPLIES[1]])
    ran = maisa(tmp_path, "run", spec.name, "-i", "a=1", "-i", "b=2", "--no-lock", **model_env)
    assert ran.returncode == 0, ran.stderr
    shown = maisa(tmp_path, "show", "1")
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert r"\x1b[2J\x1b[32mALL OK\x1b[0m\u202egnp.exe" in shown.stdout
    recorded = json.loads(maisa(tmp_path, "show", "1", "--json").stdout)
    assert "\x1b[2J" in recorded["steps"][0]["stdout"]  # the record itself is exact


@pytest.mark.parametrize("value", ["[/x]", "[bold]5"])
def test_square_brackets_in_user_text_are_printed_not_parsed_as_markup(tmp_path, spec, value):
    done = maisa(tmp_path, "run", spec.name, "-i", f"a={value}", "-i", "b=2")
    assert done.returncode == 2 and no_traceback(done)
    assert f"input 'a': expected an integer, got '{value}'" in done.stderr


def test_a_step_error_with_square_brackets_ends_the_run_with_its_message(
    tmp_path, spec, scripted_model, model_env
):
    scripted_model.load(['```python\nraise ValueError("[/oops] [bold]x")\n```'] * 3)
    done = maisa(tmp_path, "run", spec.name, "-i", "a=1", "-i", "b=2", "--no-lock", **model_env)
    assert done.returncode == 1 and no_traceback(done)
    assert "run 1 failed:" in done.stderr and "ValueError: [/oops] [bold]x" in done.stderr


def test_run_progress_shows_a_step_errors_escapes_escaped(
    tmp_path, spec, scripted_model, model_env
):
    scripted_model.load(['```python\nraise ValueError("\\x1b[2Jgone")\n```'] * 3)
    done = maisa(tmp_path, "run", spec.name, "-i", "a=1", "-i", "b=2", "--no-lock", **model_env)
    assert done.returncode == 1 and no_traceback(done)
    assert "\x1b" not in done.stderr
    assert r"ValueError: \x1b[2Jgone" in done.stderr
