"""The compiler: a worker spec -> a `CompiledWorker` (plan, tool docs, schemas, prompts,
fingerprint)."""

from maisa.compiler.build import compile_spec
from maisa.compiler.compiled import CompiledWorker

__all__ = ["CompiledWorker", "compile_spec"]
