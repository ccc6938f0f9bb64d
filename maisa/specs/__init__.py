"""The worker spec format: models, YAML loading with located errors, JSON Schema export."""

from maisa.specs.loader import LoadedSpec, load_spec, load_spec_text, load_yaml_mapping
from maisa.specs.model import FieldSpec, Limits, ModelConfig, ToolRef, WorkerSpec

__all__ = [
    "FieldSpec",
    "Limits",
    "LoadedSpec",
    "ModelConfig",
    "ToolRef",
    "WorkerSpec",
    "load_spec",
    "load_spec_text",
    "load_yaml_mapping",
]
