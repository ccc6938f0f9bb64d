"""The compiler's product: everything a run needs, fixed by a fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maisa.specs.model import WorkerSpec
from maisa.tools.base import ToolDoc


@dataclass(frozen=True)
class CompiledWorker:
    """A compiled spec. Same fingerprint <=> same generated code is valid (DESIGN §2)."""

    spec: WorkerSpec
    spec_path: Path
    spec_text: str
    plan: tuple[str, ...]  # empty when the spec has no steps and none was drafted
    tools: tuple[ToolDoc, ...]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    system_prompt: str
    fingerprint: str  # "sha256:<hex>"

    @property
    def spec_dir(self) -> Path:
        return self.spec_path.parent
