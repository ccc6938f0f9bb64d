"""Pydantic models of the worker spec (`apiVersion: maisa/v1`, `kind: Worker`).

These models are the public spec format of DESIGN §1: every field here is a
contract with users' YAML files. Unknown keys are errors everywhere
(`extra="forbid"`). Durations and sizes are parsed to seconds and bytes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from maisa.specs.units import parse_duration, parse_size

API_VERSION = "maisa/v1"
KIND = "Worker"

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "A duration: 500ms, 30s, 10m, 1h, or a number of seconds.",
        }
    ),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]?|[bB])?\s*$",
                },
                {"type": "integer", "exclusiveMinimum": 0},
            ],
            "description": "A size: 512k, 256m, 1g, or a number of bytes.",
        }
    ),
]

FieldType = Literal["string", "number", "integer", "boolean", "object", "array", "file", "null"]


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldSpec(StrictModel):
    """One input or output field: JSON Schema keywords, plus the `file` type.

    A `file` input is a path (string) to an existing file, readable by the
    step only through the `files`, `pdf` and `mail` tools.
    """

    type: FieldType
    description: str | None = None
    required: bool = Field(True, description="Whether the field must be present.")
    default: Any = None
    enum: list[Any] | None = None
    pattern: str | None = None
    format: str | None = None
    minLength: int | None = Field(None, ge=0)  # noqa: N815 (JSON Schema spelling)
    maxLength: int | None = Field(None, ge=0)  # noqa: N815
    minimum: float | None = None
    maximum: float | None = None
    items: FieldSpec | None = None
    properties: dict[str, FieldSpec] | None = None
    minItems: int | None = Field(None, ge=0)  # noqa: N815
    maxItems: int | None = Field(None, ge=0)  # noqa: N815


class ToolRef(StrictModel):
    """A tool the worker may use: a catalogue name, or a custom module, or one bound to a secret."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    module: str | None = Field(
        None, description="Path of a Python module of typed, documented functions (custom tool)."
    )
    secret: str | None = Field(
        None, description="Name of the secret (env var) the tool reads its configuration from."
    )


def _tool_ref(value: object) -> object:
    # `tools: [pdf, mail]` is shorthand for `[{name: pdf}, {name: mail}]`.
    return {"name": value} if isinstance(value, str) else value


# The JSON Schema export (maisa/specs/schema.py) widens this to "string or ToolRef".
ToolEntry = Annotated[ToolRef, BeforeValidator(_tool_ref)]


class Limits(StrictModel):
    """Resource limits of a run and its steps."""

    step_timeout: Duration = 30.0
    run_timeout: Duration = 600.0
    memory: Size = 256 * 1024**2
    cpus: float = Field(0.5, gt=0, le=64)
    max_steps: int = Field(20, ge=1, le=1000)
    max_retries: int = Field(3, ge=0, le=20)
    network: bool | list[str] = Field(
        False, description="false, or the host names the http tool may reach."
    )

    @property
    def allowed_hosts(self) -> list[str]:
        """Host names the `http` tool may reach (empty when the network is off)."""
        return list(self.network) if isinstance(self.network, list) else []


class ModelConfig(StrictModel):
    """Which model writes the code. `name` defaults to $MAISA_MODEL, then gpt-4o-mini."""

    name: str | None = None
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)


class WorkerSpec(StrictModel):
    """A worker: what it must achieve, with which inputs, outputs, tools and limits."""

    api_version: Literal["maisa/v1"] = Field(alias="apiVersion")
    kind: Literal["Worker"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Slug, unique in a store.")
    version: int = Field(1, ge=1, description="Bump to invalidate locks by hand.")
    description: str = ""
    goal: str = Field(min_length=1)
    inputs: dict[str, FieldSpec] = Field(default_factory=dict)
    outputs: dict[str, FieldSpec] = Field(default_factory=dict)
    tools: list[ToolEntry] = Field(default_factory=list)
    imports: list[str] = Field(
        default_factory=list, description="Modules step code may import, besides the safe stdlib."
    )
    steps: list[str] | None = Field(
        None, description="The plan. Without it, the model drafts one at the start of a run."
    )
    limits: Limits = Field(default_factory=Limits)
    model: ModelConfig = Field(default_factory=ModelConfig)
    secrets: list[str] = Field(
        default_factory=list,
        description="Env vars tools may read; never shown to the sandbox or stored.",
    )

    def tool(self, name: str) -> ToolRef | None:
        """The declared tool called `name`, if any."""
        return next((t for t in self.tools if t.name == name), None)
