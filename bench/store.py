"""Chain-of-Work store: step-write latency and throughput, and reading back a 100-step run.

Run: python3 bench/store.py [--steps N] [--reads N] [--postgres URL]

For each backend (SQLite in a temp dir; PostgreSQL in a throw-away schema of the
test database) it measures, in the same run:
- `add_step` (one step, two tool calls, redaction, one committed transaction):
  p50/p95 latency and steps per second, against a baseline of one bare driver
  INSERT + COMMIT of a row of the same size (the ratio is what the store adds);
- `get_run` of a 100-step run with 200 tool calls: p50/p95 (target < 50 ms);
then prints PostgreSQL / SQLite ratios.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from maisa.store.factory import open_store
from maisa.store.records import RunMode, StepRecord, ToolCallRecord

READ_TARGET_MS = 50.0
DEFAULT_PG = os.environ.get("MAISA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def realistic_step(number: int) -> StepRecord:
    """A step the size of a real one: ~0.6 KB of code, ~1 KB of stdout, ~2 KB of variables."""
    code = "\n".join(f"line_{i} = inputs['email'] + str({i})  # {'x' * 20}" for i in range(12))
    return StepRecord(
        number=number,
        attempt=1,
        description=f"Extract the fields of part {number}",
        status="OK",
        prompt="You are writing step code. " * 40,
        model_reply="```python\n" + code + "\n```",
        code=code,
        stdout="Total: 1.234,56 EUR\n" * 50,
        duration_s=0.4,
        cpu_s=0.1,
        peak_memory_mb=21.0,
        variables_in={f"v{i}": "value " * 8 for i in range(20)},
        variables_out={f"v{i}": "value " * 8 for i in range(25)},
        tool_calls=[
            ToolCallRecord(
                1, "pdf", "extract_text", "(<2048 bytes>,)", "str (1800 chars)", True, 0.02
            ),
            ToolCallRecord(2, "db", "query", "('SELECT 1', None)", "list (1 items)", True, 0.01),
        ],
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(operation: Callable[[], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def sqlite_baseline(path: Path, rounds: int) -> list[float]:
    """One bare INSERT + COMMIT of a ~4 KB row, with the store's pragmas (WAL, FULL sync)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS bare (id INTEGER PRIMARY KEY, body TEXT)")
        body = "x" * 4096

        def insert() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bare (body) VALUES (?)", (body,))
            conn.execute("COMMIT")

        return timed(insert, rounds)


def postgres_baseline(url: str, rounds: int) -> list[float]:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bare (id BIGSERIAL PRIMARY KEY, body TEXT)")
        conn.commit()
        body = "x" * 4096

        def insert() -> None:
            conn.execute("INSERT INTO bare (body) VALUES (%s)", (body,))
            conn.commit()

        return timed(insert, rounds)


def measure(url: str, baseline: Callable[[int], list[float]], steps: int, reads: int) -> dict:
    store = open_store(url)
    try:
        worker = store.upsert_worker("bench", 1, "sha256:bench", "spec")
        run_id = store.create_run(worker.id, {"email": "a.eml"}, mode=RunMode.GENERATED)
        numbers = iter(range(1, steps + 1))
        prepared = [realistic_step(n) for n in range(1, steps + 1)]
        started = time.perf_counter()
        writes = timed(lambda: store.add_step(run_id, prepared[next(numbers) - 1]), steps)
        throughput = steps / (time.perf_counter() - started)

        hundred = store.create_run(worker.id, {"email": "b.eml"}, mode=RunMode.GENERATED)
        for n in range(1, 101):
            store.add_step(hundred, realistic_step(n))
        store.get_run(hundred)  # warm caches, as a long-lived API process has them
        read = timed(lambda: store.get_run(hundred), reads)
    finally:
        store.close()
    return {
        "write": percentiles(writes),
        "throughput": throughput,
        "baseline": percentiles(baseline(steps)),
        "read": percentiles(read),
    }


def postgres_schema(base: str) -> tuple[str, Callable[[], None]] | None:
    import psycopg

    schema = f"maisa_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL at {base} unavailable ({exc}); measuring SQLite only")
        return None

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", drop


def report(name: str, result: dict) -> None:
    w50, w95 = result["write"]
    b50, b95 = result["baseline"]
    r50, r95 = result["read"]
    verdict = "ok" if r95 < READ_TARGET_MS else f"OVER the {READ_TARGET_MS:.0f} ms target"
    print(f"\n{name}")
    print(
        f"  add_step        p50 {w50:7.2f} ms   p95 {w95:7.2f} ms   "
        f"{result['throughput']:8.0f} steps/s"
    )
    print(f"  bare insert     p50 {b50:7.2f} ms   p95 {b95:7.2f} ms   (baseline)")
    print(f"  store / bare    p50 {w50 / b50:7.2f} x")
    print(f"  get_run(100)    p50 {r50:7.2f} ms   p95 {r95:7.2f} ms   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "maisa.db"
        results["SQLite"] = measure(
            str(db), lambda n: sqlite_baseline(Path(tmp) / "bare.db", n), args.steps, args.reads
        )
    pg = postgres_schema(args.postgres)
    if pg is not None:
        url, drop = pg
        try:
            results["PostgreSQL"] = measure(
                url, lambda n: postgres_baseline(url, n), args.steps, args.reads
            )
        finally:
            drop()

    print(f"store benchmark: {args.steps} step writes, {args.reads} reads of a 100-step run")
    for name, result in results.items():
        report(name, result)
    if len(results) == 2:
        sq, pg_result = results["SQLite"], results["PostgreSQL"]
        print("\nPostgreSQL / SQLite")
        print(f"  add_step p50     {pg_result['write'][0] / sq['write'][0]:6.2f} x")
        print(f"  throughput       {pg_result['throughput'] / sq['throughput']:6.2f} x")
        print(f"  get_run(100) p50 {pg_result['read'][0] / sq['read'][0]:6.2f} x")


if __name__ == "__main__":
    main()
