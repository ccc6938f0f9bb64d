"""What step prompts show of the past, and that they stay bounded however long the run is."""

from __future__ import annotations

from pathlib import Path

import pytest

from maisa.compiler import compile_spec
from maisa.runtime.context import ContextBudget, StepView, clip, describe_value, history
from maisa.runtime.prompting import step_messages
from maisa.runtime.tokens import estimate_message_tokens

REPO = Path(__file__).resolve().parents[2]


def long_run(steps: int) -> tuple[list[StepView], dict]:
    views = [
        StepView(
            number=n,
            description=f"Do part {n} of the work",
            code=f"part_{n} = compute({n})\n" + f"# step {n} detail\n" * 100,
            stdout=f"step {n} says hello\n" * 300,
            defined=[f"part_{n}", f"extra_{n}"],
        )
        for n in range(1, steps + 1)
    ]
    variables = {f"value_{i}": "x" * 500 for i in range(60)}
    return views, variables


def prompt_tokens(compiled, number: int, views, variables) -> int:
    messages = step_messages(
        compiled,
        number=number,
        total=20,
        description=f"Do part {number} of the work",
        inputs={"email": "/data/mail.eml"} if "email" in compiled.spec.inputs else {},
        steps=views,
        variables=variables,
    )
    return estimate_message_tokens(messages)


@pytest.mark.parametrize(
    "spec", [REPO / "examples" / "facturas" / "worker.yaml", "tests/runtime/minimal"]
)
def test_the_prompt_of_step_20_is_at_most_one_and_a_half_times_step_1(spec, tmp_path):
    if str(spec).endswith("minimal"):
        spec = tmp_path / "w.yaml"
        spec.write_text(
            "apiVersion: maisa/v1\nkind: Worker\nname: tiny\ngoal: Say hi.\n"
            "outputs: {msg: {type: string}}\n"
        )
    compiled = compile_spec(spec)
    views, variables = long_run(19)
    first = prompt_tokens(compiled, 1, [], {})
    tenth = prompt_tokens(compiled, 10, views[:9], variables)
    twentieth = prompt_tokens(compiled, 20, views, variables)
    assert twentieth <= 1.5 * first, (first, tenth, twentieth)
    assert tenth <= 1.5 * first


def test_recent_steps_are_shown_in_full_older_ones_summarised_the_oldest_counted():
    views, _ = long_run(12)
    shown = history(views, ContextBudget(full_steps=3, summary_steps=4))
    assert [s["number"] for s in shown.recent] == [10, 11, 12]
    assert shown.summaries[0].startswith("Step 6: Do part 6 of the work (defined: part_6")
    assert len(shown.summaries) == 4 and shown.omitted == 5


def test_the_last_steps_code_survives_the_tightest_budget():
    compiled_views, variables = long_run(19)
    spec = REPO / "examples" / "facturas" / "worker.yaml"
    messages = step_messages(
        compile_spec(spec),
        number=20,
        total=20,
        description="Finish",
        inputs={"email": "/data/mail.eml"},
        steps=compiled_views,
        variables=variables,
    )
    assert "part_19 = compute(19)" in messages[1]["content"]


def test_long_text_is_clipped_with_a_visible_marker():
    assert clip("abcdef", 3) == "abc\n[... 3 more characters not shown ...]"
    assert clip("abcdef", 3, keep="tail").endswith("def")
    assert clip("abc", 3) == "abc"


def test_variables_are_described_by_type_and_short_value():
    assert describe_value({"a": 1}, 80) == ("dict[1]", '{"a": 1}')
    assert describe_value("b'%PDF-1.4 ...'", 80)[0] == "bytes"
    kind, text = describe_value("y" * 500, 20)
    assert kind == "str[500]" and len(text) == 20
    assert describe_value("short", 20) == ("str", '"short"')
