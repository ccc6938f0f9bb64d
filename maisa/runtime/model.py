"""The model client: any OpenAI-compatible chat-completions endpoint, retried, with token counts.

Configuration comes from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
`MAISA_MODEL`) and the spec's `model:` section. Transient failures (429, 5xx,
timeouts, refused connections, a response that is not a chat completion) are
retried with exponential backoff and full jitter, bounded both in attempts and
in total time; after that the endpoint is reported unavailable (exit 4).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import openai

from maisa.errors import ModelUnavailable
from maisa.runtime.tokens import estimate_message_tokens, estimate_tokens
from maisa.specs.model import ModelConfig

DEFAULT_MODEL = "gpt-4o-mini"
# Local OpenAI-compatible servers accept any key, but the openai package insists on one.
PLACEHOLDER_API_KEY = "maisa-no-key"


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ModelUnavailable(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class ModelSettings:
    """Where and how to call the model. Retry bounds are small in tests (env overrides)."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str = PLACEHOLDER_API_KEY
    temperature: float = 0.0
    max_tokens: int | None = None
    request_timeout_s: float = 120.0
    max_attempts: int = 6
    retry_budget_s: float = 180.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0

    @classmethod
    def resolve(
        cls, config: ModelConfig | None = None, env: Mapping[str, str] | None = None
    ) -> ModelSettings:
        """Settings from the spec's `model:` and the environment (spec name wins over env)."""
        env = os.environ if env is None else env
        config = config or ModelConfig()
        return cls(
            model=config.name or env.get("MAISA_MODEL") or DEFAULT_MODEL,
            base_url=env.get("OPENAI_BASE_URL") or None,
            api_key=env.get("OPENAI_API_KEY") or PLACEHOLDER_API_KEY,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            request_timeout_s=_env_float(env, "MAISA_MODEL_TIMEOUT", 120.0),
            max_attempts=max(1, int(_env_float(env, "MAISA_MODEL_MAX_ATTEMPTS", 6))),
            retry_budget_s=_env_float(env, "MAISA_MODEL_RETRY_BUDGET", 180.0),
            backoff_base_s=_env_float(env, "MAISA_MODEL_BACKOFF", 1.0),
            backoff_max_s=_env_float(env, "MAISA_MODEL_BACKOFF_MAX", 30.0),
        )

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"


@dataclass(frozen=True)
class Completion:
    """One answered chat request."""

    text: str
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool  # the endpoint reported no usage; counts are estimates
    duration_s: float  # wall time including retries and backoff
    attempts: int  # HTTP requests made for this completion
    model: str | None = None  # the model the endpoint says answered (may differ from asked)


@dataclass
class Usage:
    """Counters over the life of a client (one run)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_s: float = 0.0
    estimated: bool = False


class _Transient(Exception):
    """A failure worth retrying; carries the description for the final error."""


class ModelClient:
    """Chat completions with bounded retries; `usage` accumulates per client (use one per run)."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.usage = Usage()
        self.served_by: str | None = None  # the model name the endpoint last reported
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.request_timeout_s,
            max_retries=0,  # retries are ours: bounded, jittered, and counted
        )

    @property
    def name(self) -> str:
        return self.settings.model

    def complete(
        self, messages: list[dict[str, str]], *, time_left: float | None = None
    ) -> Completion:
        """Send one chat request; retries transient failures, then raises ModelUnavailable.

        `time_left` (seconds) bounds the whole call, retries included: a run's deadline.
        """
        started = time.monotonic()
        budget = self.settings.retry_budget_s
        if time_left is not None:
            budget = min(budget, max(0.0, time_left))
        deadline = started + budget
        attempt = 0
        while True:
            attempt += 1
            timeout = max(0.001, min(self.settings.request_timeout_s, deadline - time.monotonic()))
            try:
                completion = self._once(messages, timeout)
            except _Transient as exc:
                delay = self._backoff(attempt)
                out_of_time = time.monotonic() + delay > deadline
                if attempt >= self.settings.max_attempts or out_of_time:
                    raise ModelUnavailable(
                        f"the model endpoint {self.settings.endpoint} failed {attempt} time(s); "
                        f"last error: {exc}",
                        hint="check OPENAI_BASE_URL / OPENAI_API_KEY and that the endpoint is up",
                    ) from None
                self._sleep(delay)
                continue
            duration = time.monotonic() - started
            result = Completion(**completion, duration_s=duration, attempts=attempt)
            self.usage.calls += 1
            self.usage.prompt_tokens += result.prompt_tokens
            self.usage.completion_tokens += result.completion_tokens
            self.usage.time_s += duration
            self.usage.estimated |= result.usage_estimated
            self.served_by = result.model or self.served_by
            return result

    def _backoff(self, attempt: int) -> float:
        # Full jitter: uniform in [0, min(cap, base * 2^(n-1))].
        settings = self.settings
        ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    def _once(self, messages: list[dict[str, str]], timeout: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "timeout": timeout,
        }
        if self.settings.max_tokens:
            kwargs["max_tokens"] = self.settings.max_tokens
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.RateLimitError as exc:
            raise _Transient(f"rate limited (HTTP 429): {_message(exc)}") from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise _Transient(f"HTTP {exc.status_code}: {_message(exc)}") from None
            raise ModelUnavailable(
                f"the model endpoint {self.settings.endpoint} refused the request "
                f"(HTTP {exc.status_code}): {_message(exc)}",
                hint="check the model name, OPENAI_API_KEY and OPENAI_BASE_URL",
            ) from None
        except openai.APITimeoutError:
            raise _Transient(f"no answer within {timeout:.3g}s") from None
        except openai.APIConnectionError as exc:
            raise _Transient(f"cannot connect: {exc.__cause__ or exc}") from None
        except (ValueError, openai.APIResponseValidationError) as exc:
            raise _Transient(f"the response was not a chat completion: {exc}") from None
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise _Transient("the response was not a chat completion (no choices)")
        message = choices[0].message
        text = message.content or ""
        refusal = getattr(message, "refusal", None)
        served = getattr(response, "model", None)
        usage = getattr(response, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return {
                "model": served if isinstance(served, str) and served else None,
                "text": text,
                "refusal": refusal,
                "prompt_tokens": int(usage.prompt_tokens),
                "completion_tokens": int(usage.completion_tokens or 0),
                "usage_estimated": False,
            }
        return {
            "model": served if isinstance(served, str) and served else None,
            "text": text,
            "refusal": refusal,
            "prompt_tokens": estimate_message_tokens(messages),
            "completion_tokens": estimate_tokens(text or refusal or ""),
            "usage_estimated": True,
        }


def _message(exc: openai.APIStatusError | openai.RateLimitError) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", exc))
