"""Cost of loading and compiling a spec, as ratios against the least any loader must do.

Run: python3 bench/compiler.py [--rounds N]

Baseline (same run, same spec): `yaml.safe_load` of the invoice example plus
`WorkerSpec.model_validate`. Measured against it:
- `load_spec`: located YAML (marks, duplicate keys), strict validation, tool and
  module checks (the custom tool module is cached after the first load);
- `compile_spec`: the above plus tool docs, JSON Schemas, the rendered system
  prompt and the fingerprint;
- `fingerprint` alone (canonical JSON + sha256 of the compile's material).
Medians of N rounds. A compile runs once per `maisa run`, so anything under a few
milliseconds is invisible next to a sandbox start; the ratios show where time goes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from maisa.compiler import compile_spec
from maisa.compiler.fingerprint import fingerprint, fingerprint_material
from maisa.compiler.imports import allowed_imports
from maisa.compiler.prompts import template_texts
from maisa.specs.loader import load_spec
from maisa.specs.model import WorkerSpec

SPEC = Path(__file__).resolve().parents[1] / "examples" / "facturas" / "worker.yaml"


def median_ms(operation: Callable[[], object], rounds: int) -> float:
    operation()  # warm caches (imports, template compilation, custom tool module)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    text = SPEC.read_text(encoding="utf-8")
    compiled = compile_spec(SPEC)
    material = fingerprint_material(
        compiled.spec, compiled.tools, template_texts(), allowed_imports(compiled.spec)
    )

    baseline = median_ms(lambda: WorkerSpec.model_validate(yaml.safe_load(text)), rounds)
    rows = [
        ("load_spec", median_ms(lambda: load_spec(SPEC), rounds)),
        ("compile_spec", median_ms(lambda: compile_spec(SPEC), rounds)),
        ("fingerprint", median_ms(lambda: fingerprint(material), rounds)),
    ]
    print(f"spec: {SPEC} ({len(text)} bytes), {rounds} rounds, medians")
    print(f"{'operation':<16}{'ms':>10}{'x baseline':>14}")
    print(f"{'baseline':<16}{baseline:>10.3f}{1.0:>14.2f}")
    for name, ms in rows:
        print(f"{name:<16}{ms:>10.3f}{ms / baseline:>14.2f}")


if __name__ == "__main__":
    main()
