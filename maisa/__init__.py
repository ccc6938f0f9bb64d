"""maisa: digital workers that an LLM programs step by step, sandboxed, audited and locked."""

__version__ = "0.1.0"
