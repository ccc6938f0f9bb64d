"""Prompt rendering: the package's templates, strict about undefined names."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from maisa.compiler.prompts import environment, render, template_texts


def test_an_undefined_name_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UndefinedError):
        render("system.j2", spec=None)


def test_templates_keep_their_trailing_newline() -> None:
    template = environment().from_string("{{ x }}\n")
    assert template.render(x="a") == "a\n"


def test_to_json_keeps_regexes_readable() -> None:
    text = environment().from_string("{{ v | to_json }}").render(v={"p": "^<a>&'$", "e": "€"})
    assert text == '{\n  "p": "^<a>&\'$",\n  "e": "€"\n}'


def test_template_texts_lists_every_template_sorted() -> None:
    texts = template_texts()
    assert "system.j2" in texts
    assert list(texts) == sorted(texts)
    assert all(name.endswith(".j2") for name in texts)
