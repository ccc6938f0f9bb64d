"""maisa: digital workers that an LLM programs step by step, run in a sandbox, audited and locked."""

__version__ = "0.1.0"
