"""The modules step code may import: the validator's safe stdlib set plus the spec's `imports`."""

from __future__ import annotations

from maisa.specs.model import WorkerSpec

# Shown to the model only while the runtime's validator (maisa.runtime.validate) is absent;
# the validator's own set is the authority, since it is what accepts or rejects the code.
_FALLBACK_SAFE = frozenset(
    {
        "base64", "collections", "csv", "dataclasses", "datetime", "decimal", "enum",
        "fractions", "functools", "hashlib", "itertools", "json", "math", "operator", "re",
        "statistics", "string", "textwrap", "typing", "unicodedata", "uuid",
    }
)  # fmt: skip


def safe_modules() -> frozenset[str]:
    """The stdlib modules every worker's step code may import."""
    try:
        from maisa.runtime import validate
    except ImportError:
        return _FALLBACK_SAFE
    for name in ("SAFE_MODULES", "SAFE_IMPORTS"):
        if isinstance(getattr(validate, name, None), set | frozenset):
            return frozenset(getattr(validate, name))
    return _FALLBACK_SAFE


def allowed_imports(spec: WorkerSpec) -> tuple[str, ...]:
    """Sorted names step code of `spec` may import (it feeds the prompt and the fingerprint)."""
    return tuple(sorted(safe_modules() | set(spec.imports)))
