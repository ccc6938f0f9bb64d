"""Orchestration overhead per step, and prompt growth over a long run.

Run: python3 bench/runtime.py [--steps N] [--rounds R] [--sandbox bwrap|docker]

A worker of N plan steps (default 20) runs on the sandbox (bwrap by default)
against the scripted model at zero delay, with the default SQLite store in a
temporary directory. Each step assigns a variable and prints ~2 KB; the last
calls finish(). Per round:

    overhead = run wall time - model time - step time - session start

where model time is the client's own wall time per completion (HTTP to the
local scripted server), step time is each StepOutcome's duration (the
sandbox round trip of the step's code), and session start is the sandbox's
cold start. What remains is the orchestrator: prompt rendering, reply
parsing, validation, result checks, store writes (shown apart: SQLite with
synchronous=FULL fsyncs each step's commit), progress. Target: <= 5 ms
per step. Baseline in the same run: the median round trip of an empty step
on an open session (the least a step can cost), printed as a ratio.

Prompt size: the estimated tokens of the requests for steps 1, 10 and 20.
Target: step 20 <= 1.5x step 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maisa.compiler import compile_spec  # noqa: E402
from maisa.runtime.model import ModelClient, ModelSettings  # noqa: E402
from maisa.runtime.orchestrator import RunRequest, execute_run  # noqa: E402
from maisa.runtime.tokens import estimate_message_tokens  # noqa: E402
from maisa.sandbox.registry import get_sandbox  # noqa: E402
from maisa.store.factory import open_store  # noqa: E402
from maisa.testing.scripted_model import ScriptedModelServer  # noqa: E402
from maisa.tools.broker import ToolBroker  # noqa: E402


class TimedSandbox:
    """The real backend, timing each session start and each step's round trip."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.open_s = 0.0
        self.step_s = 0.0

    def check(self):
        return self.inner.check()

    def open(self, limits, workspace, broker):
        started = time.perf_counter()
        session = self.inner.open(limits, workspace, broker)
        self.open_s += time.perf_counter() - started
        bench = self

        class Timed:
            def __getattr__(self, name):
                return getattr(session, name)

            def run(self, code, timeout):
                outcome = session.run(code, timeout)
                bench.step_s += outcome.duration_s
                return outcome

        return Timed()


class TimedStore:
    """The real store, timing every call made on the run's thread (writes commit inside)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.spent_s = 0.0

    def __getattr__(self, name):
        member = getattr(self.inner, name)
        if not callable(member) or name in ("heartbeat", "add_usage"):
            return member  # the heartbeat thread's calls are not on the run's path

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return member(*args, **kwargs)
            finally:
                self.spent_s += time.perf_counter() - started

        return timed


def worker_spec(steps: int) -> dict:
    return {
        "apiVersion": "maisa/v1",
        "kind": "Worker",
        "name": "bench-runtime",
        "goal": "Walk through many small steps and report how many ran.",
        "inputs": {"label": {"type": "string"}},
        "outputs": {"count": {"type": "integer"}},
        "steps": [f"Compute part {n} and print a report of it" for n in range(1, steps + 1)],
        "limits": {"max_steps": steps, "max_retries": 0, "step_timeout": "10s"},
    }


def replies(steps: int) -> list[str]:
    out = []
    for n in range(1, steps + 1):
        body = f"part_{n} = [{n} * i for i in range(50)]\nprint(inputs['label'], {n}, part_{n})\n"
        body += "print('detail ' * 300)\n"
        if n == steps:
            body += f"finish({{'count': {n}}})\n"
        out.append(f"Step {n}.\n```python\n{body}```\n")
    return out


def empty_step_ms(sandbox, workdir: Path, rounds: int = 50) -> float:
    compiled_limits = compile_spec(workdir / "worker.yaml").spec.limits
    session = sandbox.inner.open(compiled_limits, workdir, ToolBroker({}))
    try:
        session.run("pass", 5)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            session.run("pass", 5)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sandbox", default="bwrap")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="maisa-bench-runtime-"))
    spec_path = workdir / "worker.yaml"
    spec_path.write_text(yaml.safe_dump(worker_spec(args.steps), sort_keys=False))
    compiled = compile_spec(spec_path)
    sandbox = TimedSandbox(get_sandbox(args.sandbox))
    server = ScriptedModelServer().start()
    store = TimedStore(open_store(f"sqlite://{workdir / 'maisa.db'}"))
    overheads, totals, store_ms = [], [], []
    prompt_sizes: list[int] = []
    try:
        for round_ in range(args.rounds + 1):  # round 0 warms imports and caches
            server.load(replies(args.steps))
            sandbox.open_s = sandbox.step_s = store.spent_s = 0.0
            model = ModelClient(ModelSettings(model="scripted", base_url=server.url))
            started = time.perf_counter()
            result = execute_run(
                RunRequest(compiled, {"label": "bench"}, project_dir=workdir),
                store=store,
                model=model,
                sandbox=sandbox,
            )
            total = time.perf_counter() - started
            assert result.ok, result.error
            overhead = total - model.usage.time_s - sandbox.step_s - sandbox.open_s
            if round_:
                overheads.append(overhead / args.steps * 1000)
                store_ms.append(store.spent_s / args.steps * 1000)
                totals.append(total)
            prompt_sizes = [estimate_message_tokens(r.messages) for r in server.requests]
        empty_ms = empty_step_ms(sandbox, workdir)
    finally:
        store.close()
        server.stop()

    per_step = statistics.median(overheads)
    print(f"runtime bench: {args.steps}-step run on {args.sandbox}, {args.rounds} rounds")
    print(f"  run wall time (median)          {statistics.median(totals) * 1000:8.1f} ms")
    print(f"  orchestration overhead per step {per_step:8.2f} ms   (target <= 5 ms)")
    print(f"    of which store calls          {statistics.median(store_ms):8.2f} ms")
    print(f"  baseline: empty step round trip {empty_ms:8.2f} ms")
    print(f"  ratio overhead / empty step     {per_step / empty_ms:8.2f}x")
    picks = [n for n in (1, 10, 20) if n <= len(prompt_sizes)]
    for n in picks:
        print(f"  prompt tokens (estimate) step {n:>2} {prompt_sizes[n - 1]:8d}")
    if len(picks) == 3:
        ratio = prompt_sizes[19] / prompt_sizes[0]
        print(f"  ratio step 20 / step 1          {ratio:8.2f}x   (target <= 1.5x)")


if __name__ == "__main__":
    main()
