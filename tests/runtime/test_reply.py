"""Reading model replies: code from the first python block, the rest is the thought."""

from __future__ import annotations

import pytest

from maisa.runtime.reply import parse_plan, parse_reply


def test_first_python_block_is_the_code_and_the_rest_the_thought():
    reply = parse_reply("I will read it.\n```python\nx = 1\n```\nthen\n```python\ny = 2\n```")
    assert reply.code == "x = 1\n"
    assert reply.thought.startswith("I will read it.") and "y = 2" in reply.thought
    assert reply.problem is None


def test_py_tag_and_unterminated_block_are_accepted():
    assert parse_reply("```py\na = 1\n").code == "a = 1\n"


def test_no_block_is_a_problem_that_says_what_to_do():
    reply = parse_reply("Sure, here is the code: x = 1")
    assert reply.code is None and "```python" in reply.problem


def test_an_untagged_block_is_named_as_such():
    assert "not marked as python" in parse_reply("```\nx = 1\n```").problem


def test_empty_reply_empty_block_and_refusal_are_problems():
    assert "empty" in parse_reply("").problem
    assert "empty" in parse_reply("```python\n\n```").problem
    assert "refused" in parse_reply(None, refusal="I cannot do that").problem


def test_plan_is_read_from_a_numbered_list():
    text = "Here is the plan:\n1. Read the email\n2) Extract the text\n\n3. Finish\nThanks"
    assert parse_plan(text) == ["Read the email", "Extract the text", "Finish"]
    assert parse_plan("no list here") == []


def test_a_plan_can_be_drafted_without_a_run(scripted_model, tmp_path):
    from maisa.compiler import compile_spec
    from maisa.runtime.model import ModelClient, ModelSettings
    from maisa.runtime.planning import PlanNotDrafted, draft_plan

    spec = tmp_path / "w.yaml"
    spec.write_text(
        "apiVersion: maisa/v1\nkind: Worker\nname: w\ngoal: Greet.\n"
        "inputs: {who: {type: string, description: the person to greet}}\n"
    )
    compiled = compile_spec(spec)
    client = ModelClient(ModelSettings(model="scripted", base_url=scripted_model.url))
    scripted_model.load(["no list", "1. Build the greeting\n2. Finish with it"])
    assert draft_plan(compiled, client.complete, attempts=2) == [
        "Build the greeting",
        "Finish with it",
    ]
    assert "inputs['who']: the person to greet" in scripted_model.requests[0].last_user_message
    scripted_model.load(["still no list"])
    with pytest.raises(PlanNotDrafted, match="did not draft a plan"):
        draft_plan(compiled, client.complete)
