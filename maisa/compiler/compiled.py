"""The compiler's product: everything a run needs, fixed by a fingerprint."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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

    def to_dict(self) -> dict[str, Any]:
        """The compile as plain JSON-ready data (what `maisa compile --json` prints)."""
        return {
            "name": self.spec.name,
            "version": self.spec.version,
            "fingerprint": self.fingerprint,
            "spec_path": str(self.spec_path),
            "plan": list(self.plan),
            "tools": [asdict(tool) for tool in self.tools],
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "system_prompt": self.system_prompt,
        }
