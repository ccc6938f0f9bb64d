"""`compile_spec`: a spec in, a `CompiledWorker` out (DESIGN §2). No model is involved."""

from __future__ import annotations

from pathlib import Path

from maisa.compiler.compiled import CompiledWorker
from maisa.compiler.fingerprint import fingerprint, fingerprint_material
from maisa.compiler.imports import allowed_imports
from maisa.compiler.prompts import render, template_texts
from maisa.compiler.schemas import input_schema, output_schema
from maisa.errors import MaisaError, SpecError, SpecProblem
from maisa.specs.loader import LoadedSpec, load_spec
from maisa.tools.base import ToolDoc


def _tool_docs(loaded: LoadedSpec) -> tuple[ToolDoc, ...]:
    from maisa.tools.docs import describe_tools

    try:
        return describe_tools(loaded.spec, loaded.spec_dir)
    except MaisaError as exc:
        # load_spec already checked the tools; this only happens if a module changed since.
        raise SpecError([SpecProblem(str(loaded.path), 1, 1, exc.message)]) from None


def compile_spec(source: Path | str | LoadedSpec) -> CompiledWorker:
    """Compile a spec (a path, or an already loaded spec) into a `CompiledWorker`."""
    loaded = source if isinstance(source, LoadedSpec) else load_spec(source)
    spec = loaded.spec
    plan = tuple(step.strip() for step in spec.steps or ())
    tools = _tool_docs(loaded)
    inputs_schema = input_schema(spec)
    outputs_schema = output_schema(spec)
    imports = allowed_imports(spec)
    system_prompt = render(
        "system.j2",
        spec=spec,
        plan=plan,
        tools=tools,
        input_schema=inputs_schema,
        output_schema=outputs_schema,
        allowed_imports=imports,
    )
    material = fingerprint_material(spec, tools, template_texts(), imports)
    return CompiledWorker(
        spec=spec,
        spec_path=loaded.path,
        spec_text=loaded.text,
        plan=plan,
        tools=tools,
        input_schema=inputs_schema,
        output_schema=outputs_schema,
        system_prompt=system_prompt,
        fingerprint=fingerprint(material),
    )
