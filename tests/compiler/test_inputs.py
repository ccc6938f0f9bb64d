"""Run inputs: parsed from the command line by the input schema, validated with every problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maisa.compiler import compile_spec
from maisa.compiler.inputs import parse_cli_inputs, validate_inputs, validate_result
from maisa.errors import InputError


@pytest.fixture
def compiled(write_spec):
    return compile_spec(write_spec())


def test_pairs_are_coerced_by_the_declared_types(compiled, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = parse_cli_inputs(
        ["email=mail/x.eml", "limit=5", "verbose=yes", 'tags=["a", "b"]'], None, compiled
    )
    assert inputs == {
        "email": str(tmp_path / "mail" / "x.eml"),
        "limit": 5,
        "verbose": True,
        "tags": ["a", "b"],
    }


def test_a_value_may_contain_equals_signs(compiled) -> None:
    assert parse_cli_inputs(["unknown=a=b"], None, compiled) == {"unknown": "a=b"}


def test_bad_pairs_are_all_reported(compiled) -> None:
    with pytest.raises(InputError) as caught:
        pairs = ["limit=ten", "verbose=perhaps", "tags=[1,", "oops", "limit=3"]
        parse_cli_inputs(pairs, None, compiled)
    assert caught.value.message.splitlines() == [
        "input 'limit': expected an integer, got 'ten'",
        "input 'verbose': expected a boolean, got 'perhaps'",
        "input 'tags': expected an array, got '[1,' (Expecting value)",
        "--input 'oops': expected NAME=VALUE",
        "input 'limit': given twice",
    ]
    assert "email, limit, verbose, tags" in caught.value.hint


def test_an_input_file_is_read_and_pairs_override_it(compiled, tmp_path: Path) -> None:
    data = tmp_path / "inputs" / "run.json"
    data.parent.mkdir()
    data.write_text(json.dumps({"email": "x.eml", "limit": 7, "verbose": False}))
    inputs = parse_cli_inputs(["limit=8"], data, compiled)
    assert inputs == {"email": str(tmp_path / "inputs" / "x.eml"), "limit": 8, "verbose": False}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ("{oops", "run.json:1:2: input file is not valid JSON"),
    ],
)
def test_a_bad_input_file_is_an_input_error(compiled, tmp_path, content, words) -> None:
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(InputError, match=words):
        parse_cli_inputs([], path, compiled)


def test_validation_applies_defaults_and_resolves_files(compiled, tmp_path: Path) -> None:
    eml = tmp_path / "x.eml"
    eml.write_text("Subject: hi\n\nbody\n")
    assert validate_inputs(compiled, {"email": str(eml)}) == {"email": str(eml), "limit": 10}


def test_validation_reports_every_problem_naming_the_field(compiled, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        validate_inputs(compiled, {"limt": 3, "verbose": "yes", "tags": [1]})
    assert caught.value.message.splitlines() == [
        "input 'email': missing (required)",
        "input 'limt': not declared (did you mean 'limit'?)",
        "input 'tags[0]': 1 is not of type 'string'",
        "input 'verbose': 'yes' is not of type 'boolean'",
    ]


def test_a_file_input_must_exist_and_be_a_file(compiled, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input 'email': file not found: x.eml"):
        validate_inputs(compiled, {"email": "x.eml"})
    with pytest.raises(InputError, match="input 'email': not a regular file"):
        validate_inputs(compiled, {"email": str(tmp_path)})


def test_a_valid_result_has_no_problems(compiled) -> None:
    assert validate_result(compiled, {"nif": "B12345674", "importe": 12.5}) == []


def test_result_problems_name_the_output(compiled) -> None:
    assert validate_result(compiled, {"nif": "B-1", "importe": "12", "extra": 1}) == [
        "output 'extra': not declared",
        "output 'importe': '12' is not of type 'number'",
        "output 'nif': 'B-1' does not match '^[A-Z0-9]{9}$'",
    ]
    missing = validate_result(compiled, {"nif": "B12345674"})
    assert missing == ["output 'importe': missing (required)"]
    assert validate_result(compiled, [1]) == [
        "result: expected a dict with nif, importe, notes, got list"
    ]
