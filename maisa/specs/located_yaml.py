"""YAML loading that remembers where every value came from and refuses duplicate keys.

PyYAML silently keeps the last of two equal keys and forgets line numbers once
a document is constructed. Here the document is composed into nodes (which
carry marks), then built into plain Python data while recording the mark of
every key and value by its path, so later validation errors can point at
`file:line:col`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from maisa.errors import SpecProblem

Loc = tuple[int | str, ...]
Position = tuple[int, int]  # (line, column), both 1-based


@dataclass
class Locator:
    """Maps a path into the loaded data (`("limits", "memory")`) to its `(line, column)`.

    Calling it gives the position of the value at that path, or of the deepest
    existing parent when the path does not exist (e.g. a missing key).
    `key()` gives the position of the key itself, for unknown-key errors.
    """

    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)

    def __call__(self, loc: Loc | list[Any]) -> Position:
        return self._nearest(self.values, tuple(loc))

    def key(self, loc: Loc | list[Any]) -> Position:
        """Where the key of the entry at `loc` is written (its value's position for list items)."""
        loc = tuple(loc)
        if loc in self.keys:
            return self.keys[loc]
        return self._nearest(self.values, loc)

    def exists(self, loc: Loc | list[Any]) -> bool:
        return tuple(loc) in self.values

    @staticmethod
    def _nearest(table: dict[Loc, Position], loc: Loc) -> Position:
        for end in range(len(loc), -1, -1):
            if loc[:end] in table:
                return table[loc[:end]]
        return (1, 1)


class YamlProblems(Exception):
    """Raised by `load_located` with every problem found in the document."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# Aliases are expanded into copies, so a few lines of nested aliases can stand for billions of
# values ("billion laughs"); no spec or lock comes near this many.
MAX_VALUES = 100_000


class _TooBig(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def _position(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node tree into plain data, recording positions and duplicate keys."""

    def __init__(self, display_path: str) -> None:
        self.display_path = display_path
        self.locator = Locator()
        self.problems: list[SpecProblem] = []
        self.values = 0
        # A SafeLoader is only used for its constructor: scalar tags (int, bool, null, dates).
        self._constructor = yaml.SafeLoader("")

    def problem(self, position: Position, message: str) -> None:
        self.problems.append(SpecProblem(self.display_path, position[0], position[1], message))

    def build(self, node: Node, loc: Loc, active: frozenset[int] = frozenset()) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooBig(node)
        self.locator.values.setdefault(loc, _position(node))
        if id(node) in active:
            self.problem(_position(node), "recursive YAML alias")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, loc, active | {id(node)})
        if isinstance(node, SequenceNode):
            inner = active | {id(node)}
            return [self.build(item, (*loc, i), inner) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError) as exc:
            self.problem(_position(node), f"invalid value: {getattr(exc, 'problem', exc)}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc, active: frozenset[int]) -> dict[Any, Any]:
        seen: dict[Hashable, Position] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._scalar(key_node)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                first = seen[key]
                self.problem(
                    _position(key_node),
                    f"duplicate key {key!r} (first defined at line {first[0]}); "
                    "YAML would silently keep only the last one",
                )
            else:
                seen[key] = _position(key_node)
        try:
            # Resolves `<<: *anchor` merge keys in place; explicit keys override merged ones.
            self._constructor.flatten_mapping(node)
        except ConstructorError as exc:
            self.problem(_position(node), f"invalid merge key: {exc.problem}")
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(_position(key_node), "a mapping key must be a plain value")
                continue
            key = self._scalar(key_node)
            if not isinstance(key, Hashable):
                continue
            self.locator.keys[(*loc, key)] = _position(key_node)
            self.locator.values.pop((*loc, key), None)  # a later key overrides a merged one
            result[key] = self.build(value_node, (*loc, key), active)
        return result


def _syntax_problem(display_path: str, exc: yaml.YAMLError) -> SpecProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}"
    if context:
        message += f" ({context})"
    return SpecProblem(display_path, line, column, message)


def load_located(text: str, display_path: str) -> tuple[Any, Locator, list[SpecProblem]]:
    """Parse one YAML document into plain data, a `Locator` and the structural problems found.

    Duplicate keys and bad scalars are returned as problems alongside the data (so
    a caller can report them together with its own validation problems); a
    syntax error or an empty document, which leave no data, raise `YamlProblems`.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise YamlProblems([_syntax_problem(display_path, exc)]) from None
    if node is None:
        raise YamlProblems([SpecProblem(display_path, 1, 1, "the document is empty")])
    builder = _Builder(display_path)
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        line, column = _position(exc.node)
        message = f"the document expands to more than {MAX_VALUES} values (nested YAML aliases?)"
        raise YamlProblems([SpecProblem(display_path, line, column, message)]) from None
    return data, builder.locator, builder.problems
