"""Token estimates for when an endpoint does not report usage (and for prompt budgets).

About four characters per token is the usual rule of thumb for English text
and code with OpenAI tokenizers; it is an estimate, and is always labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4  # role and separators, per chat message


def estimate_tokens(text: str) -> int:
    """An estimate of the number of tokens in `text` (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """An estimate of the prompt tokens of a chat request."""
    return sum(MESSAGE_OVERHEAD + estimate_tokens(str(m.get("content") or "")) for m in messages)
