"""The step validator: each rule is one behaviour with a precise, located message."""

from __future__ import annotations

import pytest

from maisa.runtime.validate import StepRules, format_rejections, validate_step

RULES = StepRules.build(
    {"pdf": ["extract_text", "page_count"], "mail": ["read_eml"], "db": ["query", "execute"]},
    imports=["decimal"],
    inputs={"email": "/data/in/factura-001.eml", "nif": "B12345674", "amount": 1500, "n": 1},
)


def messages(code: str, rules: StepRules = RULES) -> list[str]:
    return [str(r) for r in validate_step(code, rules)]


def test_good_code_passes():
    code = """
import re
from decimal import Decimal
msg = mail.read_eml(inputs['email'])
text = pdf.extract_text(msg['attachments'][0]['data'])
m = re.search(r'NIF[: ]+([A-Z0-9-]+)', text)
total = Decimal('12.50')
print(m.group(1) if m else None, len(text))
if getattr(total, 'is_zero')():
    finish({'nif': inputs['nif'], 'importe': float(total)})
"""
    assert messages(code) == []


def test_syntax_errors_name_the_line():
    (message,) = messages("x = 1\ny = (\n")
    assert message.startswith("line 2: syntax error")


@pytest.mark.parametrize(
    "code, expected",
    [
        ("import os", "line 1: import of 'os' is not allowed in step code"),
        ("import os.path", "import of 'os.path' is not allowed in step code"),
        ("from subprocess import run", "import of 'subprocess' is not allowed"),
        ("import socket", "import of 'socket' is not allowed"),
        ("import ctypes", "import of 'ctypes' is not allowed"),
        ("import importlib", "import of 'importlib' is not allowed"),
        ("import pickle", "import of 'pickle' is not allowed"),
        ("import marshal", "import of 'marshal' is not allowed"),
        ("import io", "import of 'io' is not allowed"),
        ("import sys", "import of 'sys' is not allowed"),
        ("import numpy", "import of 'numpy' is not allowed; allowed modules:"),
        ("from . import x", "relative imports are not allowed"),
    ],
)
def test_imports_outside_the_safe_set_are_rejected(code, expected):
    assert any(expected in m for m in messages(code)), messages(code)


def test_spec_imports_extend_the_safe_set_but_never_to_dangerous_modules():
    rules = StepRules.build({}, imports=["yaml", "os"])
    assert messages("import yaml", rules) == []
    assert "not allowed in step code" in messages("import os", rules)[0]


@pytest.mark.parametrize(
    "name", ["eval", "exec", "compile", "__import__", "open", "globals", "locals", "vars"]
)
def test_dangerous_builtins_are_rejected_even_when_not_called(name):
    assert messages(f"f = {name}")[0].startswith(f"line 1: '{name}' is not allowed")


def test_breakpoint_and_input_are_rejected():
    assert messages("breakpoint()") and messages("x = input()")


@pytest.mark.parametrize(
    "code, expected",
    [
        ("x = ().__class__", "attribute '__class__' is not allowed"),
        ("x = inputs.__class__.__mro__", "attribute '__class__'"),
        ("x = getattr(inputs, '__class__')", "getattr() with the dunder name '__class__'"),
        ("setattr(x, '__dict__', 1)", "setattr() with the dunder name"),
        ("n = 'x'\ngetattr(inputs, n)", "getattr() needs a literal attribute name"),
        ("x = __builtins__", "dunder name '__builtins__'"),
        ("s = '{0.__class__}'.format(1)", "format fields that reach dunder attributes"),
        (
            "import operator\ng = operator.attrgetter('__globals__')",
            "the string '__globals__' names a dunder attribute",
        ),
        ("g = operator.attrgetter('f.__code__.co_consts')", "names a dunder attribute"),
    ],
)
def test_dunder_access_is_rejected(code, expected):
    assert any(expected in m for m in messages(code)), messages(code)


def test_calling_an_undeclared_function_of_a_declared_tool_is_rejected():
    (message,) = messages("pdf.nope(b'')")
    assert message == (
        "line 1: the tool 'pdf' has no function 'nope'; its functions: extract_text, page_count"
    )


def test_using_an_undeclared_catalogue_tool_is_rejected():
    (message,) = messages("r = http.get('https://example.com')")
    assert "the tool 'http' is not declared in this worker's tools" in message


def test_a_local_variable_named_like_a_catalogue_tool_is_fine():
    assert messages("http = {'a': 1}\nprint(http.get('a'))") == []


def test_tool_names_inputs_and_finish_cannot_be_rebound():
    assert "provided by maisa" in messages("pdf = None")[0]
    assert "provided by maisa" in messages("inputs = {}")[0]
    assert "provided by maisa" in messages("finish = print")[0]


def test_a_literal_equal_to_an_input_value_is_rejected_with_where_to_read_it():
    (message,) = messages("nif = 'B12345674'")
    assert message == (
        "line 1: the literal 'B12345674' is a run input: "
        "read it from inputs['nif'] instead of hard-coding it"
    )
    assert "read it from inputs['amount']" in messages("x = 1500")[0]
    assert (
        "read it from inputs['email']"
        in messages("m = mail.read_eml('/data/in/factura-001.eml')")[0]
    )


def test_a_file_inputs_name_is_also_an_input():
    assert "file name of a run input" in messages("m = mail.read_eml('factura-001.eml')")[0]


def test_trivially_short_input_values_are_ignored():
    # inputs['n'] == 1: ordinary code uses 1 everywhere.
    assert messages("x = [1, 2][1]") == []


def test_nested_input_values_are_checked():
    rules = StepRules.build({}, inputs={"customer": {"name": "ACME Iberia SL", "ids": [98765]}})
    assert "inputs['customer']['name']" in messages("n = 'ACME Iberia SL'", rules)[0]
    assert "inputs['customer']['ids'][0]" in messages("n = 98765", rules)[0]


def test_every_problem_is_reported_in_line_order():
    found = validate_step("import os\nx = eval('1')\npdf.nope()", RULES)
    assert [r.line for r in found] == [1, 2, 3]
    assert format_rejections(found).startswith("The validator rejected the code (3 problem(s)):")
