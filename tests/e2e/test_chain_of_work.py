"""The reading commands on a real run: `maisa run` generates it (scripted model, real sandbox,
real store), then `maisa show`, `maisa runs` and `maisa workers` read it back."""

from __future__ import annotations

import yaml

from tests.runtime.conftest import SUM_WORKER, code

SUM = code("total = inputs['a'] + inputs['b']\nprint('total is', total)")
BROKEN = code("finish({'total': totl})")
FINISH = code("finish({'total': total})")


def a_real_run(cli, scripted_model) -> int:
    (cli.cwd / "worker.yaml").write_text(yaml.safe_dump(SUM_WORKER, sort_keys=False))
    scripted_model.load([SUM, BROKEN, FINISH])
    status, report, stderr = cli.json(
        "run", "worker.yaml", "--input", "a=1200", "--input", "b=34", "--no-lock"
    )
    assert status == 0, stderr
    return report["run_id"]


def test_show_runs_and_workers_read_back_a_generated_run(cli, scripted_model):
    run_id = a_real_run(cli, scripted_model)
    name = SUM_WORKER["name"]

    shown = cli("show", str(run_id))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"RUN #{run_id} - {name} v" in text and "✅ SUCCEEDED" in text
    assert "Input: a=1200, b=34" in text and 'Result: {"total": 1234}' in text
    assert "Model: 3 calls" in text
    assert (
        text.index("Step 1 (") < text.index("Step 2, attempt 1") < text.index("Step 2, attempt 2")
    )
    assert "[failed attempt: ERROR]" in text and "NameError" in text
    assert "total = inputs['a'] + inputs['b']" in text and "total is 1234" in text
    assert "total = 1234" in text  # the variable step 1 produced

    status, record, _ = cli.json("show", str(run_id))
    assert status == 0 and record["status"] == "SUCCEEDED"
    assert [(s["number"], s["attempt"]) for s in record["steps"]] == [(1, 1), (2, 1), (2, 2)]
    assert record["prompt_tokens"] > 0

    status, runs, _ = cli.json("runs", "--worker", name)
    assert [r["id"] for r in runs] == [run_id] and runs[0]["model_calls"] == 3

    status, workers, _ = cli.json("workers")
    assert [(w["name"], w["runs"], w["last_run_id"]) for w in workers] == [(name, 1, run_id)]
    assert workers[0]["fingerprints"][0]["fingerprint"].startswith("sha256:")
