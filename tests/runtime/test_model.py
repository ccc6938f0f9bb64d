"""The model client against the scripted server over real HTTP: retries, limits, token counts."""

from __future__ import annotations

import time

import pytest

from maisa.errors import ModelUnavailable
from maisa.runtime.model import DEFAULT_MODEL, ModelClient, ModelSettings
from maisa.specs.model import ModelConfig

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def fast_client(url: str, **overrides) -> ModelClient:
    settings = ModelSettings(
        model="scripted",
        base_url=url,
        request_timeout_s=overrides.pop("timeout", 5.0),
        max_attempts=overrides.pop("attempts", 4),
        retry_budget_s=overrides.pop("budget", 10.0),
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    return ModelClient(settings)


def test_a_reply_counts_tokens_per_call_and_per_client(scripted_model):
    scripted_model.load(["one", "two"])
    client = fast_client(scripted_model.url)
    first = client.complete(MESSAGES)
    client.complete(MESSAGES)
    assert first.text == "one" and not first.usage_estimated and first.attempts == 1
    assert first.model == client.served_by == "scripted"  # as the endpoint names itself
    assert client.usage.calls == 2
    assert client.usage.prompt_tokens == 2 * first.prompt_tokens > 0
    assert client.usage.completion_tokens > 0


def test_missing_usage_is_estimated_and_flagged(scripted_model):
    scripted_model.load([{"reply": "x" * 40, "usage": False}])
    completion = fast_client(scripted_model.url).complete(MESSAGES)
    assert completion.usage_estimated
    assert completion.completion_tokens == 10


@pytest.mark.parametrize(
    "fault", [{"status": 429}, {"status": 500}, {"status": 503}, {"malformed": True}]
)
def test_transient_faults_are_retried(scripted_model, fault):
    scripted_model.load([fault, fault, "finally"])
    completion = fast_client(scripted_model.url).complete(MESSAGES)
    assert completion.text == "finally"
    assert completion.attempts == 3
    assert len(scripted_model.requests) == 3


def test_a_slow_reply_times_out_and_is_retried(scripted_model):
    scripted_model.load([{"delay": 1.5, "reply": "late"}, "on time"])
    completion = fast_client(scripted_model.url, timeout=0.5).complete(MESSAGES)
    assert completion.text == "on time"


def test_retries_are_bounded_by_attempts(scripted_model):
    scripted_model.load([{"status": 500}] * 10)
    with pytest.raises(ModelUnavailable, match="failed 3 time"):
        fast_client(scripted_model.url, attempts=3).complete(MESSAGES)
    assert len(scripted_model.requests) == 3


def test_retries_are_bounded_by_total_time(scripted_model):
    scripted_model.load([{"status": 500, "delay": 0.3}] * 50)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable):
        fast_client(scripted_model.url, attempts=50, budget=1.0).complete(MESSAGES)
    assert time.monotonic() - started < 3


def test_an_endpoint_that_is_down_is_unavailable_exit_4():
    client = fast_client("http://127.0.0.1:9/v1", attempts=2)
    with pytest.raises(ModelUnavailable) as caught:
        client.complete(MESSAGES)
    assert caught.value.exit_code == 4
    assert "127.0.0.1:9" in caught.value.message


def test_client_errors_are_not_retried(scripted_model):
    scripted_model.load([{"status": 401, "message": "bad key"}, "never"])
    with pytest.raises(ModelUnavailable, match="HTTP 401.*bad key"):
        fast_client(scripted_model.url).complete(MESSAGES)
    assert len(scripted_model.requests) == 1


def test_the_model_name_comes_from_spec_then_env_then_default():
    env = {"MAISA_MODEL": "from-env", "OPENAI_BASE_URL": "http://x/v1"}
    assert ModelSettings.resolve(ModelConfig(name="from-spec"), env).model == "from-spec"
    assert ModelSettings.resolve(ModelConfig(), env).model == "from-env"
    assert ModelSettings.resolve(ModelConfig(), {}).model == DEFAULT_MODEL
    assert ModelSettings.resolve(ModelConfig(), env).base_url == "http://x/v1"
    assert ModelSettings.resolve(ModelConfig(), {}).api_key  # a placeholder for local endpoints
