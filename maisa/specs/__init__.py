"""The worker spec format: models, YAML loading with located errors, JSON Schema export."""

from maisa.specs.model import FieldSpec, Limits, ModelConfig, ToolRef, WorkerSpec

__all__ = ["FieldSpec", "Limits", "ModelConfig", "ToolRef", "WorkerSpec"]
