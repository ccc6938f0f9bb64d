"""Sandbox benchmark: session cold start, empty-step round trip and a 10-step workload, per
backend, against a plain `python3 -c pass` process and a bare `docker run --rm IMAGE python3 -c
pass`, all measured in the same run. Run: python3 bench/sandbox.py [--rounds N]

Targets (issue 3): bwrap start <= 50 ms median; round trip <= 2 ms median on both backends;
Docker start <= 1.2x a bare docker run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maisa.sandbox import registry  # noqa: E402
from maisa.sandbox.bwrap_runtime import discover  # noqa: E402
from maisa.sandbox.image import image_tag  # noqa: E402
from maisa.specs.model import Limits  # noqa: E402
from maisa.tools.broker import ToolBroker  # noqa: E402

WORKLOAD = [
    "import json, re\nrows = []",
    "text = tools.echo('Factura B12345678 total 121.00 EUR')",
    "nif = re.search(r'[A-Z]\\d{8}', text).group(0)",
    "total = float(re.search(r'total ([\\d.]+)', text).group(1))",
    "rows.append({'nif': nif, 'total': total})",
    "checksum = sum(ord(c) for c in nif) % 23",
    "data = tools.echo(b'%PDF-1.4 ' * 100)",
    "size = len(data)",
    "summary = json.dumps(rows)",
    "finish({'nif': nif, 'importe': total})",
]


class Echo:
    def echo(self, value: object) -> object:
        return value


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="cold starts per backend")
    parser.add_argument("--steps", type=int, default=300, help="empty steps timed per backend")
    args = parser.parse_args()

    python = discover().python
    baseline_python = median_ms(
        timed(lambda: subprocess.run([python, "-c", "pass"], check=True), args.rounds)
    )
    baseline_docker = None
    if shutil.which("docker"):
        command = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3",
                   image_tag(), "-c", "pass"]  # fmt: skip
        if subprocess.run(command, capture_output=True).returncode == 0:
            baseline_docker = median_ms(
                timed(lambda: subprocess.run(command, check=True), max(5, args.rounds // 2))
            )

    print(f"baseline: python3 -c pass        {baseline_python:8.1f} ms (median)")
    if baseline_docker:
        print(f"baseline: docker run --rm python {baseline_docker:8.1f} ms (median)")
    print()
    columns = ("median", "x python3 -c", "x docker run")
    header = f"{'backend':8} {'measure':22} {columns[0]:>10} {columns[1]:>13} {columns[2]:>13}"
    print(header)
    print("-" * len(header))

    def row(backend: str, measure: str, value_ms: float) -> None:
        vs_docker = f"{value_ms / baseline_docker:13.2f}" if baseline_docker else f"{'-':>13}"
        vs_python = f"{value_ms / baseline_python:13.2f}"
        print(f"{backend:8} {measure:22} {value_ms:8.2f}ms {vs_python} {vs_docker}")

    for name in registry.BACKENDS:
        sandbox = registry.make(name)
        if problem := sandbox.check():
            print(f"{name:8} unavailable: {problem}")
            continue
        limits, broker = Limits(), ToolBroker({"tools": Echo()})
        starts = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            session = sandbox.open(limits, Path("/tmp"), broker)
            starts.append(time.perf_counter() - started)
            session.close()
        session = sandbox.open(limits, Path("/tmp"), broker)
        for _ in range(20):  # warm up
            session.run("pass", 10)
        trips = timed(lambda s=session: s.run("pass", 10), args.steps)
        session.close()

        def workload(sandbox=sandbox, limits=limits, broker=broker) -> None:
            with sandbox.open(limits, Path("/tmp"), broker) as session:
                for code in WORKLOAD:
                    outcome = session.run(code, 10)
                    assert outcome.ok, outcome.error

        workloads = timed(workload, max(3, args.rounds // 3))
        row(name, "session cold start", median_ms(starts))
        row(name, "empty step round trip", median_ms(trips))
        row(name, "10-step workload", median_ms(workloads))
        if name == "bwrap":
            verdict = "meets" if median_ms(starts) <= 50 else "MISSES"
            print(f"{'':8} target: start <= 50 ms: {verdict}")
        if name == "docker" and baseline_docker:
            ratio = median_ms(starts) / baseline_docker
            verdict = "meets" if ratio <= 1.2 else "MISSES"
            print(f"{'':8} target: start <= 1.2x bare docker run ({ratio:.2f}x): {verdict}")
        verdict = "meets" if median_ms(trips) <= 2 else "MISSES"
        print(f"{'':8} target: round trip <= 2 ms: {verdict}")


if __name__ == "__main__":
    main()
