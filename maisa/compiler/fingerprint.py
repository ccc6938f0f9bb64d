"""The fingerprint of a compile: one hash over everything that could change generated code.

It must be identical across processes and machines, so it hashes a canonical
JSON text (sorted keys, no whitespace, UTF-8) of plain data only: the spec as a
model dump (YAML comments, key order and layout are gone by then), the tool
docs, the template sources, the import allow-list and the version numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from maisa import versions
from maisa.specs.model import WorkerSpec
from maisa.tools.base import ToolDoc


def canonical_json(value: Any) -> str:
    """Deterministic JSON text of plain data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint_material(
    spec: WorkerSpec,
    tools: tuple[ToolDoc, ...],
    templates: dict[str, str],
    allowed_imports: tuple[str, ...],
) -> dict[str, Any]:
    """What the fingerprint hashes, as plain data (also useful to explain a difference)."""
    return {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "tools": [asdict(tool) for tool in tools],
        "templates": templates,
        "allowed_imports": list(allowed_imports),
        "harness_version": versions.HARNESS_VERSION,
        "lock_version": versions.LOCK_VERSION,
    }


def fingerprint(material: dict[str, Any]) -> str:
    """`sha256:<hex>` of the canonical JSON of `material`."""
    return "sha256:" + hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()
