"""Locked runs: what replaying a lock costs against running the same code as a plain script.

Run: python3 bench/locked.py [--repeat N] [--runs N] [--backends bwrap,docker]

On the invoice example (its committed 5-step lock, the sample emails, a throwaway
SQLite invoice database and Chain-of-Work store), for each sandbox backend, in the
same run:
- plain: the 5 locked steps concatenated into one Python script, executed with
  the real tool objects and no sandbox, validator, broker or store; in-process
  (`exec`) and as a process (`python3 plain.py`);
- session: opening and closing one sandbox session (no step);
- locked: `execute_run` of the lock in-process (mode LOCKED, no model), and the
  CLI `maisa run ... --lock` as a process;
and prints the ratios, checks the target (locked in-process on bwrap <=
1.5 x plain + session start), and locked CLI runs per second with 1 and 2
processes in parallel.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "examples" / "facturas" / "worker.yaml"
EMAILS = sorted((REPO / "examples" / "facturas" / "emails").glob("*.eml"))
TARGET = 1.5


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: imports, page cache, image layers
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plain_script(lock: Any) -> str:
    """The locked steps as one script (what a developer would write by hand)."""
    body = "\n\n".join(f"# step {s.number}: {s.description}\n{s.code}" for s in lock.steps)
    return body


PLAIN_MAIN = """
import sys
from pathlib import Path
from maisa.compiler import compile_spec
from maisa.tools.base import ToolContext
from maisa.tools.catalogue import build_tools

class Finished(Exception):
    pass

def finish(result):
    raise Finished(result)

compiled = compile_spec(Path(sys.argv[1]))
email = Path(sys.argv[2])
ctx = ToolContext(workspace=Path(sys.argv[3]), readable=[email],
                  secrets={"INVOICES_DB_URL": sys.argv[4]})
names = dict(build_tools(compiled.spec, compiled.spec_dir, ctx))
names.update(inputs={"email": str(email)}, finish=finish)
try:
    exec(compile(Path(sys.argv[5]).read_text(), "plain.py", "exec"), names)
except Finished as done:
    print(done.args[0])
"""


class Bench:
    def __init__(self, scratch: Path, repeat: int) -> None:
        from maisa.compiler import compile_spec
        from maisa.runtime.lockfile import lock_path, read_lock

        self.scratch = scratch
        self.repeat = repeat
        self.compiled = compile_spec(SPEC)
        self.lock = read_lock(lock_path(SPEC))
        self.invoices = f"sqlite://{scratch / 'invoices.db'}"
        self.store_url = f"sqlite://{scratch / 'store' / 'maisa.db'}"
        os.environ["INVOICES_DB_URL"] = self.invoices
        self.script = scratch / "steps.py"
        self.script.write_text(plain_script(self.lock))
        self.main = scratch / "plain_main.py"
        self.main.write_text(PLAIN_MAIN)
        (scratch / "ws").mkdir()
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MAISA_MODEL"))
        }
        self.env["MAISA_DATABASE_URL"] = self.store_url
        self._sandboxes: dict[str, Any] = {}

    # --- baselines ---
    def plain_in_process(self) -> None:
        from maisa.tools.base import ToolContext
        from maisa.tools.catalogue import build_tools

        class Finished(Exception):
            pass

        def finish(result: Any) -> None:
            raise Finished(result)

        email = EMAILS[1]
        ctx = ToolContext(
            workspace=self.scratch / "ws",
            readable=[email],
            secrets={"INVOICES_DB_URL": self.invoices},
        )
        names: dict[str, Any] = dict(build_tools(self.compiled.spec, self.compiled.spec_dir, ctx))
        names.update(inputs={"email": str(email)}, finish=finish)
        code = compile(self.script.read_text(), "plain.py", "exec")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, names)  # the baseline: the same code, unsandboxed
        except Finished:
            pass
        for tool in names.values():
            close = getattr(tool, "close", None)
            if callable(close) and not isinstance(tool, type):
                close()

    def plain_process(self) -> None:
        args = [str(SPEC), str(EMAILS[1]), str(self.scratch / "ws"), self.invoices]
        subprocess.run(
            [sys.executable, str(self.main), *args, str(self.script)],
            check=True,
            capture_output=True,
            env=self.env,
        )

    # --- maisa ---
    def sandbox(self, backend: str) -> Any:
        """One backend object per benchmark, as a long-lived `maisa worker` or API holds it."""
        from maisa.sandbox.registry import make

        if backend not in self._sandboxes:
            self._sandboxes[backend] = make(backend)
        return self._sandboxes[backend]

    def availability_check(self, backend: str) -> None:
        from maisa.sandbox.registry import get_sandbox

        get_sandbox(backend)

    def session_start(self, backend: str) -> None:
        from maisa.tools.broker import ToolBroker

        session = self.sandbox(backend).open(
            self.compiled.spec.limits, self.scratch / "ws", ToolBroker({})
        )
        session.close()

    def locked_in_process(self, backend: str) -> None:
        from maisa.runtime.modes import plan_run
        from maisa.runtime.orchestrator import RunRequest, execute_run
        from maisa.store.factory import open_store
        from maisa.store.records import RunStatus

        plan = plan_run(self.compiled, lock="locked")
        store = open_store(self.store_url)
        try:
            result = execute_run(
                RunRequest(
                    compiled=self.compiled,
                    inputs={"email": str(EMAILS[1])},
                    mode=plan.mode,
                    frozen=plan.frozen,
                    lock_revision=plan.lock_revision,
                    sandbox=backend,
                    project_dir=self.scratch,
                ),
                store=store,
                model=None,
                sandbox=self.sandbox(backend),
            )
        finally:
            store.close()
        if result.status is not RunStatus.SUCCEEDED or result.model_calls:
            raise SystemExit(f"locked run failed on {backend}: {result.error}")

    def store_writes(self) -> None:
        """What a locked run writes: worker, run, 5 steps (as big as the real ones), finish."""
        from maisa.store.factory import open_store
        from maisa.store.records import RunMode, RunStatus, StepRecord

        store = open_store(f"sqlite://{self.scratch / 'writes' / 'maisa.db'}")
        try:
            worker = store.upsert_worker("bench", 1, self.compiled.fingerprint, "spec")
            run_id = store.create_run(worker.id, {"email": "x.eml"}, mode=RunMode.LOCKED)
            for step in self.lock.steps:
                store.add_step(
                    run_id,
                    StepRecord(
                        number=step.number,
                        attempt=1,
                        description=step.description,
                        status="OK",
                        code=step.code,
                        code_sha256=step.sha256,
                        stdout="x" * 200,
                        variables_out={"v": "y" * 2000},
                    ),
                )
            store.finish_run(run_id, RunStatus.SUCCEEDED, result={"ok": True})
        finally:
            store.close()

    def empty_steps(self, backend: str) -> None:
        """One session running 5 steps that do nothing: the sandbox's own per-step cost."""
        from maisa.tools.broker import ToolBroker

        session = self.sandbox(backend).open(
            self.compiled.spec.limits, self.scratch / "ws", ToolBroker({})
        )
        try:
            for _ in self.lock.steps:
                session.run("pass", 10.0)
        finally:
            session.close()

    def locked_cli(self, backend: str, email: Path | None = None) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "maisa", "run", str(SPEC), "--lock", "--sandbox", backend]
            + ["--input", f"email={email or EMAILS[1]}"],
            capture_output=True,
            text=True,
            cwd=self.scratch,
            env=self.env,
        )
        if done.returncode != 0:
            raise SystemExit(f"maisa run --lock failed on {backend}:\n{done.stderr}")

    def throughput(self, backend: str, runs: int, parallel: int) -> float:
        emails = [EMAILS[i % len(EMAILS)] for i in range(runs)]
        started = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda e: self.locked_cli(backend, e), emails))
        return runs / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions per measure")
    parser.add_argument("--runs", type=int, default=8, help="CLI runs per throughput measure")
    parser.add_argument("--backends", default="bwrap,docker")
    args = parser.parse_args()

    from maisa.sandbox.registry import make

    with tempfile.TemporaryDirectory(prefix="maisa-bench-locked-") as tmp:
        bench = Bench(Path(tmp), args.repeat)
        print(f"invoice example, {len(bench.lock.steps)} locked steps, median of {args.repeat}")
        plain = median_s(bench.plain_in_process, args.repeat)
        plain_proc = median_s(bench.plain_process, args.repeat)
        print(f"plain script, in-process:   {plain * 1000:8.1f} ms   (baseline)")
        print(f"plain script, as a process: {plain_proc * 1000:8.1f} ms   (baseline)")
        writes = median_s(bench.store_writes, args.repeat)
        print(f"store writes of a run (SQLite): {writes * 1000:6.1f} ms   (part of every run)")
        for backend in args.backends.split(","):
            problem = make(backend).check()
            if problem:
                print(f"\n[{backend}] skipped: {problem}")
                continue
            check = median_s(lambda b=backend: bench.availability_check(b), args.repeat)
            session = median_s(lambda b=backend: bench.session_start(b), args.repeat)
            empty = median_s(lambda b=backend: bench.empty_steps(b), args.repeat)
            locked = median_s(lambda b=backend: bench.locked_in_process(b), args.repeat)
            cli = median_s(lambda b=backend: bench.locked_cli(b), args.repeat)
            budget = TARGET * plain + session
            print(f"\n[{backend}]")
            print(f"get_sandbox (its check):    {check * 1000:8.1f} ms   (paid once per CLI run)")
            print(f"session open+close:         {session * 1000:8.1f} ms")
            print(
                f"5 empty steps in a session: {(empty - session) * 1000:8.1f} ms   "
                "(the channel's per-step cost, session excluded)"
            )
            print(
                f"locked run, in-process:     {locked * 1000:8.1f} ms   "
                f"{locked / plain:5.1f}x plain; "
                f"{locked / (plain + session):4.2f}x (plain + session)"
            )
            print(
                f"locked run, CLI process:    {cli * 1000:8.1f} ms   "
                f"{cli / plain_proc:5.1f}x plain process"
            )
            print(
                f"overhead beyond the session: {(locked - session - plain) * 1000:6.1f} ms "
                f"for {len(bench.lock.steps)} steps"
            )
            one = bench.throughput(backend, args.runs, 1)
            two = bench.throughput(backend, args.runs, 2)
            print(f"locked CLI runs/s: {one:5.2f} (1 process), {two:5.2f} (2 in parallel)")
            if backend == "bwrap":
                ok = locked <= budget
                print(
                    f"target locked <= {TARGET} x plain + session = {budget * 1000:.1f} ms: "
                    + ("MET" if ok else "MISSED")
                )
    return 0  # a missed target is a finding printed above, not a crash


if __name__ == "__main__":
    sys.exit(main())
