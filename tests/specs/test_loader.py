"""Loading specs: a valid spec becomes a WorkerSpec; every mistake is reported, located."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from maisa.errors import SpecError, SpecProblem
from maisa.specs.loader import load_spec

DATA = Path(__file__).parent / "data"
EXAMPLE = Path(__file__).parents[2] / "examples" / "facturas" / "worker.yaml"

HEADER = """\
apiVersion: maisa/v1
kind: Worker
name: demo
goal: Do the thing.
"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[SpecProblem]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value.problems


def only_problem(path: Path) -> SpecProblem:
    [problem] = problems_of(path)
    return problem


def test_the_invoice_example_loads_with_units_parsed() -> None:
    loaded = load_spec(EXAMPLE)
    spec = loaded.spec
    assert loaded.path == EXAMPLE.resolve()
    assert loaded.text == EXAMPLE.read_text(encoding="utf-8")
    assert spec.name == "procesador-facturas"
    assert spec.limits.step_timeout == 30.0
    assert spec.limits.run_timeout == 600.0
    assert spec.limits.memory == 256 * 1024**2
    assert [t.name for t in spec.tools] == ["mail", "pdf", "nif", "db"]
    assert spec.tool("db").secret == "INVOICES_DB_URL"
    assert spec.inputs["email"].type == "file"


def test_a_minimal_spec_gets_the_defaults() -> None:
    spec = load_spec(DATA / "valid_minimal.yaml").spec
    assert spec.version == 1
    assert spec.steps is None
    assert spec.tools == []
    assert spec.limits.max_steps == 20


def test_an_unknown_key_is_named_with_the_closest_valid_key(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "limits:\n  step_timout: 30s\n"))
    assert (problem.line, problem.column) == (6, 3)
    assert problem.message == "unknown key 'step_timout' (did you mean 'step_timeout'?)"


def test_an_unknown_key_without_a_close_match_lists_the_valid_keys(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "model: {name: x, zzz: 1}\n"))
    assert "unknown key 'zzz'; valid keys here: name, temperature, max_tokens" in problem.message


def test_unknown_keys_inside_input_fields_are_reported(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "inputs:\n  email: {type: file, requird: true}\n"))
    assert (problem.line, problem.column) == (6, 23)
    assert "did you mean 'required'?" in problem.message


def test_a_missing_required_key_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("apiVersion: maisa/v1\nkind: Worker\nname: demo\n", encoding="utf-8")
    problem = only_problem(path)
    assert problem.message == "missing required key 'goal'"
    assert (problem.line, problem.column) == (1, 1)


def test_wrong_types_are_not_coerced(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, 'version: "2"\nlimits: {cpus: "1", max_steps: many}\n'))
    messages = [p.message for p in problems]
    assert messages == [
        "version: expected an integer, got '2'",
        "limits.cpus: expected a number, got '1'",
        "limits.max_steps: expected an integer, got 'many'",
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("limits: {step_timeout: 30 seconds}\n", "expected a duration such as 30s"),
        ("limits: {run_timeout: -5}\n", "a duration must be positive"),
        ("limits: {memory: lots}\n", "expected a size such as 256m or 1g, got 'lots'"),
        ("limits: {network: 3}\n", "expected true or false or a list, got 3"),
        ("apiVersion: maisa/v2\n", "expected 'maisa/v1'"),
        ("name: Not A Slug\n", "does not match"),
    ],
)
def test_bad_values_say_what_was_expected(tmp_path: Path, body: str, words: str) -> None:
    header = HEADER.replace("apiVersion: maisa/v1\n", "") if "apiVersion" in body else HEADER
    header = header.replace("name: demo\n", "") if body.startswith("name") else header
    problem = only_problem(write(tmp_path, body, header))
    assert words in problem.message
    assert problem.line == header.count("\n") + 1


def test_an_unknown_tool_is_named_with_a_suggestion(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "tools: [mail, pdff]\n"))
    assert (problem.line, problem.column) == (5, 15)
    assert problem.message.startswith("unknown tool 'pdff' (did you mean 'pdf'?)")
    assert "module:" in problem.message


def test_a_missing_custom_tool_module_is_located_at_its_module_value(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "tools:\n  - {name: nif, module: tools/nif.py}\n"))
    assert (problem.line, problem.column) == (6, 25)
    assert "tools/nif.py" in problem.message and "no such file" in problem.message


def test_a_custom_tool_module_that_does_not_import_is_reported(tmp_path: Path) -> None:
    broken = "def ok() -> int:\n    return 1\n\nraise RuntimeError('boom')\n"
    (tmp_path / "broken.py").write_text(broken)
    (tmp_path / "syntax.py").write_text("def nope(:\n")
    body = "tools:\n  - {name: a, module: broken.py}\n  - {name: b, module: syntax.py}\n"
    first, second = problems_of(write(tmp_path, body))
    assert "RuntimeError: boom" in first.message and first.line == 6
    assert "syntax error" in second.message and second.line == 7


def test_a_tool_secret_must_be_declared(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "tools: [{name: db, secret: DB_URL}]\n"))
    assert "reads secret 'DB_URL', which is not listed in `secrets`" in problem.message


def test_duplicate_tools_and_builtin_names_for_custom_tools_are_refused(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("def f() -> int:\n    '''Doc.'''\n    return 1\n")
    problems = problems_of(write(tmp_path, "tools: [mail, mail, {name: pdf, module: t.py}]\n"))
    assert [p.message for p in problems] == [
        "tool 'mail' is declared twice",
        "'pdf' is a built-in tool; give the custom tool another name",
    ]


def test_invalid_patterns_and_forbidden_imports_are_reported(tmp_path: Path) -> None:
    body = 'outputs:\n  nif: {type: string, pattern: "^[A-Z"}\nimports: [re, os, "1x"]\n'
    messages = [p.message for p in problems_of(write(tmp_path, body))]
    assert any("outputs.nif.pattern: invalid regular expression" in m for m in messages)
    assert any("'os' can never be imported" in m for m in messages)
    assert any("'1x' is not a module name" in m for m in messages)


def test_every_problem_in_a_file_is_reported_in_line_order() -> None:
    problems = problems_of(DATA / "five_mistakes.yaml")
    assert [(p.line, p.column) for p in problems] == [(5, 1), (9, 3), (10, 15), (10, 41), (12, 17)]
    assert all(p.path == str(DATA / "five_mistakes.yaml") for p in problems)


def test_problems_carry_the_path_as_given() -> None:
    problem = problems_of(Path("tests/specs/data/five_mistakes.yaml"))[0]
    assert str(problem).startswith("tests/specs/data/five_mistakes.yaml:5:1: unknown key")


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\ntools: 3\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\ntools: [[a], {}, 4, {name: 5}]\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\ninputs: [a, b]\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\ninputs: {a: 1, b: {type: [x]}}\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\nlimits: null\nsteps: {a: 1}\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\n? [a, b]\n: 1\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\nsecrets: [1, null]\n",
        "apiVersion: maisa/v1\nkind: Worker\nname: x\ngoal: g\na: &a [*a]\n",
        "apiVersion: !!binary AAAA\nkind: Worker\n",
        "apiVersion: !python/object:os.system x\n",
        "1: 2\n3: 4\n",
        "\t- not yaml\n",
    ],
)
def test_malformed_specs_give_spec_errors_never_exceptions(tmp_path: Path, text: str) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(text, encoding="utf-8")
    problems = problems_of(path)
    assert problems and all(p.line >= 1 and p.column >= 1 and p.message for p in problems)


def test_a_file_that_is_not_utf8_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    assert "not UTF-8" in only_problem(path).message


def test_a_default_must_fit_its_field(tmp_path: Path) -> None:
    body = "inputs:\n  limit: {type: integer, default: ten, required: false}\n"
    problem = only_problem(write(tmp_path, body))
    assert (problem.line, problem.column) == (6, 35)
    assert problem.message == (
        "inputs.limit.default: the default does not fit: 'ten' is not of type 'integer'"
    )


def test_network_entries_must_be_host_names_and_secrets_env_names(tmp_path: Path) -> None:
    body = (
        "limits: {network: [api.example.com, 'localhost:8080', '*.example.org', "
        "'https://x.example.com/v1']}\nsecrets: [DB_URL, not-an-env]\n"
    )
    messages = [p.message for p in problems_of(write(tmp_path, body))]
    assert messages == [
        "limits.network[3]: 'https://x.example.com/v1' is not a host name; "
        "list the host name only, e.g. 'x.example.com'",
        "secrets[1]: 'not-an-env' is not an environment variable name",
    ]


def test_a_mapping_key_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "inputs: {1: {type: string}}\n"))
    assert (problem.line, problem.column) == (5, 10)
    assert problem.message == "inputs: key 1 must be a string"
