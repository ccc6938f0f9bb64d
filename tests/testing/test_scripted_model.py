"""The scripted model server speaks enough of the OpenAI API for the real `openai` client."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import openai
import pytest

from maisa.testing.scripted_model import ScriptedModelServer, ScriptError, load_script


def client(server: ScriptedModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="k", max_retries=0, timeout=5)


def ask(server: ScriptedModelServer, text: str = "hi"):
    return client(server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}]
    )


def test_replies_come_in_script_order_with_usage(scripted_model):
    scripted_model.load(["first", "second"])
    one, two = ask(scripted_model, "a"), ask(scripted_model, "b")
    assert [one.choices[0].message.content, two.choices[0].message.content] == ["first", "second"]
    assert one.usage.prompt_tokens > 0 and one.usage.completion_tokens > 0


def test_every_request_is_recorded(scripted_model):
    scripted_model.load(["ok"])
    ask(scripted_model, "the question")
    (request,) = scripted_model.requests
    assert request.last_user_message == "the question"
    assert request.body["model"] == "m"
    assert request.reply_index == 0


def test_running_out_of_script_is_http_500_saying_so(scripted_model):
    scripted_model.load([])
    with pytest.raises(openai.InternalServerError, match="no reply left"):
        ask(scripted_model)


@pytest.mark.parametrize("status, error", [(429, openai.RateLimitError), (503, openai.APIError)])
def test_scripted_http_errors(scripted_model, status, error):
    scripted_model.load([{"status": status}])
    with pytest.raises(error):
        ask(scripted_model)


def test_malformed_reply_is_not_json(scripted_model):
    scripted_model.load([{"malformed": True}])
    with pytest.raises(ValueError):
        ask(scripted_model)


def test_refusal_and_missing_usage(scripted_model):
    scripted_model.load([{"refusal": "no"}, {"reply": "x", "usage": False}])
    assert ask(scripted_model).choices[0].message.refusal == "no"
    assert ask(scripted_model).usage is None


def test_looping_script_restarts(scripted_model):
    scripted_model.load({"replies": ["a"], "loop": True})
    assert [ask(scripted_model).choices[0].message.content for _ in range(3)] == ["a"] * 3


def test_bad_script_entries_are_named():
    with pytest.raises(ScriptError, match="entry 2: unknown keys"):
        load_script(["ok", {"reply": "x", "sttaus": 500}])
    with pytest.raises(ScriptError, match="list of replies"):
        load_script({"replies": "nope"})


def test_admin_endpoints_load_a_script_and_list_requests(scripted_model):
    base = scripted_model.url.removesuffix("/v1")
    body = json.dumps(["from admin"]).encode()
    request = urllib.request.Request(f"{base}/_scripted/script", data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).read()
    assert ask(scripted_model).choices[0].message.content == "from admin"
    with urllib.request.urlopen(f"{base}/_scripted/requests", timeout=5) as response:
        assert len(json.loads(response.read())) == 1


def test_command_line_server_prints_its_url_and_answers(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("- hello from a file\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "maisa.testing.scripted_model", str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        reply = openai.OpenAI(base_url=url, api_key="k", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == "hello from a file"
        assert reply.model == "scripted: script.yaml"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
