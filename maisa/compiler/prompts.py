"""Prompt templates: one Jinja2 environment over the package's `maisa/templates/`.

Undefined names are errors (`StrictUndefined`), so a template can never
silently render an empty hole into a prompt. `trim_blocks`/`lstrip_blocks`
let block tags sit on their own lines without leaving blank lines behind.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


def _to_json(value: Any, indent: int | None = 2) -> str:
    # Jinja's own `tojson` escapes <, >, & and ' for HTML, which would garble regexes in prompts.
    return json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=False)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared template environment (autoescape off: these are prompts, not HTML)."""
    env = Environment(
        loader=PackageLoader("maisa", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["to_json"] = _to_json
    return env


def render(name: str, **context: Any) -> str:
    """Render template `name` (e.g. "system.j2") with `context`; undefined names raise."""
    return environment().get_template(name).render(**context)


def template_texts() -> dict[str, str]:
    """Every `*.j2` template's source by name, sorted; hashed into the fingerprint."""
    env = environment()
    assert env.loader is not None
    names = sorted(env.list_templates(filter_func=lambda n: n.endswith(".j2")))
    return {name: env.loader.get_source(env, name)[0] for name in names}
