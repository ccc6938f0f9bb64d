"""Running the real `maisa` CLI against a store, for the reading commands' tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def maisa(*args: str, db: str | None = None, cwd: Path | None = None) -> Result:
    """`maisa ARGS` in a subprocess; `db` goes in MAISA_DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k != "MAISA_DATABASE_URL"}
    if db is not None:
        env["MAISA_DATABASE_URL"] = db
    done = subprocess.run(
        [sys.executable, "-m", "maisa", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Result(done.returncode, done.stdout, done.stderr)
