"""Validator bypasses found by red-teaming: each reached something DESIGN §4 forbids.

Every case here was accepted before the fix and would have let step code reach a
forbidden module, a frame, a dunder attribute, or evaluate a string as code.
"""

from __future__ import annotations

import importlib
import types

import pytest

from maisa.runtime import validate_reach
from maisa.runtime.validate import NEVER_IMPORTABLE, SAFE_IMPORTS, StepRules, validate_step

RULES = StepRules.build({"files": ["read_text"]})


def messages(code: str) -> list[str]:
    return [str(r) for r in validate_step(code, RULES)]


@pytest.mark.parametrize(
    "code",
    [
        # forbidden modules handed out as attributes of allowed ones
        "import uuid\nuuid.os.system('id')",
        "import contextlib\ncontextlib.sys.modules['os']",
        "from random import _os\n_os.listdir('/')",
        "import typing\ntyping.sys.modules",
        "import dataclasses\ndataclasses.inspect.currentframe()",
        "import copy\ncopy.copyreg",
        "import json.decoder\njson.decoder.re.sys",
        "import uuid as u\nu._uuid",
        "import random\nrandom._urandom(8)",
        "import uuid\ngetattr(uuid, 'os')",
        # a module passed on as a value escapes the chain check
        "import uuid\nm = uuid\nm.os",
        "import uuid\ndef f(m):\n    return m.os\nf(uuid)",
        "import json\nx = [json][0]",
        # computed attribute names
        "g = getattr\nc = g((), '_' + '_class__')",
        "import functools\nfunctools.reduce(getattr, ['_' + '_class__'], ())",
        "import operator\noperator.attrgetter('_' + '_class__')(())",
        "import operator\noperator.methodcaller('_' + '_subclasses__')(object)",
        "from operator import attrgetter as ag\nag('x')",
        "import operator\nf = operator.attrgetter",
        "import string\nstring.Formatter().get_field('0._' + '_class__', [()], {})",
        "from string import Formatter",
        "@getattr\ndef f():\n    pass",
        # match class patterns are getattr with names the Attribute check never sees
        "match ():\n    case object(__class__=c):\n        pass",
        "match finish:\n    case object(__self__=h):\n        pass",
        # string evaluation
        "import typing\nclass C:\n    x: 'open(\"/etc/passwd\").read()'\ntyping.get_type_hints(C)",
        "import functools\n@functools.singledispatch\ndef f(x):\n    pass\n"
        '@f.register\ndef _(x: \'__import__("os").system("id")\'):\n    pass',
        "import typing\ntyping.ForwardRef('1 + 1')._evaluate({}, {}, frozenset())",
        "import typing\ntyping._eval_type",
        # frames and code
        "def g():\n    yield 1\ng().gi_code",
        "x.tb_frame.f_locals",
        "x.cr_frame",
        "x.ag_frame",
        "x.f_back",
    ],
)
def test_bypass_is_rejected(code):
    assert messages(code), f"accepted: {code!r}"


@pytest.mark.parametrize(
    "code",
    [
        "import json\njson.dumps({})",
        "import collections.abc\nisinstance({}, collections.abc.Mapping)",
        "import datetime\ndatetime.datetime.now()",
        "import operator\nsorted([], key=operator.attrgetter('price'))",
        "from operator import itemgetter\nitemgetter(1)",
        "import re\nre.compile('a')",
        "from typing import NamedTuple\nclass P(NamedTuple):\n    x: int\n    y: 'str'",
        "def f(a: 'list[int]') -> 'dict':\n    return {}",
        "from json import decoder\ndecoder.JSONDecodeError",
        "match {'a': 1}:\n    case {'a': x}:\n        pass\n    case str(real=r):\n        pass",
        "x = getattr(inputs, 'get')",
    ],
)
def test_ordinary_code_still_passes(code):
    assert messages(code) == []


def _allowed(name: str) -> bool:
    if name.split(".")[0] in NEVER_IMPORTABLE:
        return False
    return any(name == a or name.startswith(a + ".") for a in SAFE_IMPORTS)


def test_no_allowed_module_exposes_a_forbidden_one_under_a_name_the_validator_lets_through():
    # Walk this interpreter's allowed modules: a new Python version adding `foo.os2` fails here.
    seen: set[str] = set()
    pending = [importlib.import_module(m) for m in sorted(SAFE_IMPORTS)]
    leaks: list[str] = []
    while pending:
        module = pending.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        for name, value in vars(module).items():
            if not isinstance(value, types.ModuleType):
                continue
            if _allowed(value.__name__):
                pending.append(value)
            elif not name.startswith("_") and validate_reach.attribute_problem(name) is None:
                leaks.append(f"{module.__name__}.{name} is {value.__name__}")
    assert leaks == []


@pytest.mark.parametrize(
    "code",
    [
        "x = " + "-" * 100_000 + "1",  # MemoryError in the parser
        "x = " + "+".join(["1"] * 100_000),  # RecursionError building the AST
        "x = y" + ".a" * 100_000,
        "x = f" + "()" * 100_000,
        "x = " + "not " * 5_000 + "1",  # parses, but deeper than the checker can recurse
    ],
)
def test_code_nested_to_crash_the_host_is_a_rejection_not_a_crash(code):
    # A hostile model's reply used to kill the run with RecursionError or MemoryError.
    assert messages(code) == ["line 1: the code is nested too deeply to check; simplify it"]
