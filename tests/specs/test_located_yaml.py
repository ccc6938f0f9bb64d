"""Located YAML: positions of keys and values, duplicate keys refused, syntax errors located."""

from __future__ import annotations

import pytest

from maisa.errors import SpecError
from maisa.specs.loader import load_yaml_mapping

TEXT = """\
# a comment
top: 1
nested:
  inner: [a, b]
  other: {x: 1}
"""


def test_values_and_keys_are_located_one_based() -> None:
    data, locate = load_yaml_mapping("f.yaml", TEXT)
    assert data == {"top": 1, "nested": {"inner": ["a", "b"], "other": {"x": 1}}}
    assert locate(("top",)) == (2, 6)
    assert locate.key(("top",)) == (2, 1)
    assert locate(("nested", "inner", 1)) == (4, 14)
    assert locate.key(("nested", "other")) == (5, 3)


def test_a_missing_path_is_located_at_its_deepest_existing_parent() -> None:
    _, locate = load_yaml_mapping("f.yaml", TEXT)
    assert locate(("nested", "other", "absent")) == (5, 10)
    assert locate(("nowhere", 3)) == (2, 1)  # where the document starts


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_mapping("f.yaml", "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    problems = caught.value.problems
    assert [(p.line, p.column) for p in problems] == [(4, 3), (5, 1)]
    assert "duplicate key 'c' (first defined at line 3)" in problems[0].message
    assert "duplicate key 'a' (first defined at line 1)" in problems[1].message


def test_merge_keys_are_resolved_and_may_be_overridden() -> None:
    text = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n"
    data, locate = load_yaml_mapping("f.yaml", text)
    assert data["child"] == {"x": 1, "y": 3}
    assert locate(("child", "y")) == (4, 6)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("a: [1, 2\nb: 3\n", 2, 2, "YAML syntax error"),
        ("a: 1\n  b: 2\n", 2, 4, "mapping values are not allowed"),
        ("a: 'unclosed\n", 2, 1, "unexpected end of stream"),
        ("---\na: 1\n---\nb: 2\n", 3, 1, "expected a single document"),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_mapping("f.yaml", text)
    [problem] = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("f.yaml", line, column)
    assert words in problem.message


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("# only a comment\n", "empty"), ("- a\n- b\n", "got list"), ("42\n", "int")],
)
def test_a_document_that_is_not_a_mapping_is_refused(text: str, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        load_yaml_mapping("f.yaml", text)


def test_a_missing_file_is_a_spec_error(tmp_path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_yaml_mapping(tmp_path / "absent.yaml")
