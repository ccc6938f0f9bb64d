"""The step validator (DESIGN §4): an AST check before any code reaches the sandbox.

It is the first layer, not the boundary (the sandbox is): it turns the common
ways model-written code goes wrong, or is pushed wrong by a prompt injection,
into a precise message the model can act on. Each rejection names its line.

Decisions where the design is silent:
- `getattr`/`setattr`/`delattr`/`hasattr` need a literal, non-dunder name: a
  computed name could be a dunder built at run time.
- Modules in NEVER_IMPORTABLE stay refused even when a spec lists them in
  `imports`: they reach the host system (files, processes, sockets, memory)
  or the interpreter's own machinery.
- `io` is refused (`io.open` is `open`); csv works on `text.splitlines()`.
- The hard-coded-input check ignores values too short to mean anything:
  strings under 4 characters, booleans, and numbers under three digits
  (e.g. 0, 1, 42), which would otherwise reject ordinary code.
- Format strings that reach attributes through dunders (`"{0.__class__}"`)
  are refused, since `str.format` walks attributes the AST cannot see; so
  are strings that name a dunder attribute (`attrgetter("__globals__")`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from maisa.runtime import validate_reach as reach

# Pure-computation standard library modules step code may import without asking.
SAFE_IMPORTS = frozenset(
    {
        "re",
        "json",
        "math",
        "cmath",
        "decimal",
        "fractions",
        "numbers",
        "statistics",
        "random",
        "datetime",
        "time",
        "calendar",
        "zoneinfo",
        "collections",
        "heapq",
        "bisect",
        "itertools",
        "functools",
        "operator",
        "copy",
        "string",
        "textwrap",
        "unicodedata",
        "difflib",
        "html",
        "typing",
        "dataclasses",
        "enum",
        "abc",
        "contextlib",
        "uuid",
        "hashlib",
        "hmac",
        "secrets",
        "base64",
        "binascii",
        "struct",
        "zlib",
        "csv",
        "pprint",
        "graphlib",
    }
)

# Never importable, whatever the spec says.
NEVER_IMPORTABLE = frozenset(
    {
        "os",
        "sys",
        "io",
        "subprocess",
        "socket",
        "ssl",
        "ctypes",
        "cffi",
        "importlib",
        "imp",
        "pkgutil",
        "runpy",
        "zipimport",
        "pickle",
        "cPickle",
        "shelve",
        "marshal",
        "builtins",
        "__builtin__",
        "shutil",
        "pathlib",
        "tempfile",
        "glob",
        "fileinput",
        "signal",
        "resource",
        "pty",
        "tty",
        "termios",
        "fcntl",
        "mmap",
        "multiprocessing",
        "threading",
        "_thread",
        "concurrent",
        "asyncio",
        "gc",
        "inspect",
        "code",
        "codeop",
        "types",
        "sysconfig",
        "platform",
        "faulthandler",
        "tracemalloc",
        "atexit",
        "posix",
        "pwd",
        "grp",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "telnetlib",
        "webbrowser",
        "select",
        "selectors",
    }
)

FORBIDDEN_NAMES = {
    "eval": "eval() runs arbitrary code",
    "exec": "exec() runs arbitrary code",
    "compile": "compile() builds code objects",
    "__import__": "__import__() bypasses the import rules; use a plain import",
    "open": "open() touches files directly; use the files tool",
    "globals": "globals() exposes the interpreter's namespace",
    "locals": "locals() exposes the interpreter's namespace",
    "vars": "vars() exposes object internals",
    "breakpoint": "breakpoint() starts a debugger",
    "input": "input() waits for a terminal that does not exist",
    "help": "help() starts an interactive pager",
    "exit": "exit() would end the interpreter; call finish(result) to end the run",
    "quit": "quit() would end the interpreter; call finish(result) to end the run",
    "memoryview": "memoryview() exposes raw memory",
}
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "delattr", "hasattr"}
# Catalogue tool names: using one the spec does not declare is a clear mistake to report.
CATALOGUE_TOOLS = frozenset({"files", "pdf", "mail", "http", "db"})
_DUNDER = re.compile(r"^__\w+__$")
_FORMAT_DUNDER = re.compile(r"\{[^{}]*\.__\w+__")
# A string naming a dunder attribute ("__globals__", "a.__class__") feeds attrgetter & co.
_DUNDER_STRING = re.compile(r"^(?:[\w.]*\.)?__\w+__(?:\.[\w.]*)?$")


@dataclass(frozen=True)
class Rejection:
    """One reason the code may not run, located at a line (and column)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class StepRules:
    """What a step may use: declared tools with their functions, extra imports, input values."""

    tools: Mapping[str, frozenset[str]]
    imports: frozenset[str] = frozenset()
    inputs: Mapping[str, Any] | None = None

    @classmethod
    def build(
        cls,
        tools: Mapping[str, Iterable[str]],
        imports: Iterable[str] = (),
        inputs: Mapping[str, Any] | None = None,
    ) -> StepRules:
        return cls(
            tools={name: frozenset(functions) for name, functions in tools.items()},
            imports=frozenset(imports),
            inputs=inputs,
        )

    @classmethod
    def for_compiled(cls, compiled: Any, inputs: Mapping[str, Any] | None = None) -> StepRules:
        """Rules from a CompiledWorker: its tools' functions, the spec's imports, the inputs."""
        tools = {doc.name: [f.name for f in doc.functions] for doc in compiled.tools}
        return cls.build(tools, compiled.spec.imports, inputs)

    @property
    def reserved(self) -> frozenset[str]:
        return frozenset(self.tools) | {"inputs", "finish"}


def validate_step(
    code: str, rules: StepRules | Any, *, inputs: Mapping[str, Any] | None = None
) -> list[Rejection]:
    """Every reason `code` may not run under `rules`; empty when it may.

    `rules` may also be a CompiledWorker, with the run's `inputs` (None or {}
    skips the hard-coded-input check, e.g. when checking a lock with no run).
    """
    if not isinstance(rules, StepRules):
        rules = StepRules.for_compiled(rules, inputs)
    try:
        tree = ast.parse(code, filename="<step>", mode="exec")
    except SyntaxError as exc:
        detail = (exc.text or "").strip()
        where = f" in `{detail}`" if detail else ""
        return [Rejection(exc.lineno or 1, exc.offset or 0, f"syntax error: {exc.msg}{where}")]
    except ValueError as exc:  # e.g. null bytes in the source
        return [Rejection(1, 0, f"the code cannot be parsed: {exc}")]
    except (RecursionError, MemoryError):  # `-----…1`, `a.a.a…` a hostile model can write
        return [Rejection(1, 0, "the code is nested too deeply to check; simplify it")]
    checker = _Checker(rules, _assigned_names(tree), tree)
    try:
        checker.visit(tree)
        for constant, parsed in reach.string_annotations(tree):
            ast.increment_lineno(parsed, constant.lineno - 1)
            checker.parents.update(reach.parents(parsed))
            checker.visit(parsed.body)
    except RecursionError:  # parsed, but deeper than the checker's recursion can follow
        return [Rejection(1, 0, "the code is nested too deeply to check; simplify it")]
    rejections = checker.rejections + list(_hard_coded_inputs(tree, rules.inputs))
    return sorted(rejections, key=lambda r: (r.line, r.column, r.message))


def format_rejections(rejections: list[Rejection]) -> str:
    """The validator's verdict as one message for the model and the Chain-of-Work."""
    lines = [f"The validator rejected the code ({len(rejections)} problem(s)):"]
    lines += [f"- {r}" for r in rejections]
    return "\n".join(lines)


def _assigned_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


class _Checker(ast.NodeVisitor):
    def __init__(self, rules: StepRules, assigned: set[str], tree: ast.AST) -> None:
        self.rules = rules
        self.assigned = assigned
        self.rejections: list[Rejection] = []
        self.parents = reach.parents(tree)
        self.modules = reach.module_aliases(tree)

    def _allowed_module(self, module: str) -> bool:
        root = module.split(".")[0]
        if root in NEVER_IMPORTABLE or module in NEVER_IMPORTABLE:
            return False
        return any(
            module == allowed or module.startswith(allowed + ".")
            for allowed in SAFE_IMPORTS | self.rules.imports
        )

    def _called_directly(self, node: ast.AST) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Call) and parent.func is node

    def _is_attribute_base(self, node: ast.AST) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Attribute) and parent.value is node

    def reject(self, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1)
        self.rejections.append(Rejection(line, getattr(node, "col_offset", 0), message))

    # imports -------------------------------------------------------------------------------
    def _check_module(self, node: ast.AST, module: str) -> None:
        root = module.split(".")[0]
        if root in NEVER_IMPORTABLE or module in NEVER_IMPORTABLE:
            self.reject(node, f"import of '{module}' is not allowed in step code; use the tools")
        elif not self._allowed_module(module):
            self.reject(
                node,
                f"import of '{module}' is not allowed; allowed modules: "
                f"{', '.join(sorted(SAFE_IMPORTS | self.rules.imports))}",
            )

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802 (ast visitor naming)
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
        if node.level:
            self.reject(node, "relative imports are not allowed in step code")
        else:
            self._check_module(node, node.module or "")
        for alias in node.names:
            problem = reach.attribute_problem(alias.name)
            if problem is None and alias.name.startswith("_"):
                problem = f"importing the private name '{alias.name}' is not allowed"
            if problem is None and alias.name in reach.STRING_ATTRIBUTE_CALLABLES and alias.asname:
                problem = f"'{alias.name}' may not be renamed"
            if problem:
                self.reject(node, problem)

    # names and attributes --------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802
        if node.id in FORBIDDEN_NAMES:
            self.reject(node, f"'{node.id}' is not allowed: {FORBIDDEN_NAMES[node.id]}")
        elif _DUNDER.match(node.id):
            self.reject(node, f"the dunder name '{node.id}' is not allowed")
        elif isinstance(node.ctx, ast.Store | ast.Del) and node.id in self.rules.reserved:
            self.reject(node, f"'{node.id}' is provided by maisa; do not rebind or delete it")
        elif isinstance(node.ctx, ast.Load):
            # Aliased or passed on, these escape the literal-name and module-attribute checks.
            if node.id in reach.STRING_ATTRIBUTE_CALLABLES and not self._called_directly(node):
                self.reject(node, f"'{node.id}' may only be called directly, with literal names")
            elif node.id in self.modules and not self._is_attribute_base(node):
                self.reject(node, f"the module '{node.id}' may only be used as `{node.id}.<name>`")

    def visit_Attribute(self, node: ast.Attribute) -> None:  # noqa: N802
        problem = reach.attribute_problem(node.attr)
        if problem:
            self.reject(node, problem)
        elif node.attr in reach.STRING_ATTRIBUTE_CALLABLES and not self._called_directly(node):
            self.reject(node, f"'{node.attr}' may only be called directly, with literal names")
        if not self._is_attribute_base(node):
            self._check_module_chain(node)
        base = node.value
        if isinstance(base, ast.Name):
            functions = self.rules.tools.get(base.id)
            if functions is not None and node.attr not in functions:
                listed = ", ".join(sorted(functions)) or "none"
                self.reject(
                    node,
                    f"the tool '{base.id}' has no function '{node.attr}'; its functions: {listed}",
                )
            elif (
                functions is None
                and base.id in CATALOGUE_TOOLS
                and base.id not in self.assigned
                and not base.id.startswith("_")
            ):
                self.reject(
                    node,
                    f"the tool '{base.id}' is not declared in this worker's tools; "
                    f"declared: {', '.join(sorted(self.rules.tools)) or 'none'}",
                )
        self.generic_visit(node)

    def _check_module_chain(self, node: ast.Attribute) -> None:
        chain = reach.module_chain(node, self.modules)
        if chain is None:
            return
        module, attrs = chain
        private = [a for a in attrs if a.startswith("_") and not a.startswith("__")]
        if private:
            self.reject(node, f"the private module attribute '{private[0]}' is not allowed")
            return
        for index, value in reach.leaked_modules(module, attrs):
            if not self._allowed_module(value.__name__):
                self.reject(node, f"'{attrs[index]}' is the module '{value.__name__}': not allowed")
                return
            if index == len(attrs) - 1:
                self.reject(node, "a module may only be used as `module.<name>`, not as a value")

    def _check_string_names(self, node: ast.Call, name: str) -> None:
        if name in ("attrgetter", "methodcaller"):
            names = node.args if name == "attrgetter" else node.args[:1]
            for arg in names:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    self.reject(node, f"{name}() needs literal attribute names")
                elif problem := reach.dotted_problem(arg.value):
                    self.reject(node, f"{name}(): {problem}")
            if name == "methodcaller" and not node.args:
                self.reject(node, "methodcaller() needs a literal method name")
            return
        if len(node.args) < 2:
            return
        target, attr = node.args[0], node.args[1]
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            self.reject(node, f"{name}() needs a literal attribute name")
        elif attr.value.startswith("__"):
            self.reject(node, f"{name}() with the dunder name '{attr.value}' is not allowed")
        elif problem := reach.attribute_problem(attr.value):
            self.reject(node, f"{name}(): {problem}")
        elif isinstance(target, ast.Name) and target.id in self.modules:
            self.reject(node, f"{name}() on a module is not allowed; use `module.<name>`")

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called in reach.STRING_ATTRIBUTE_CALLABLES:
            self._check_string_names(node, called)
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
            target = func.value
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                if _FORMAT_DUNDER.search(target.value):
                    self.reject(node, "format fields that reach dunder attributes are not allowed")
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:  # noqa: N802
        # `case C(attr=x)` is getattr(subject, "attr") with a name the Attribute check never sees.
        for attr in node.kwd_attrs:
            if problem := reach.attribute_problem(attr):
                self.reject(node, f"class pattern: {problem}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:  # noqa: N802
        if not isinstance(node.value, str):
            return
        if _FORMAT_DUNDER.search(node.value):
            self.reject(node, "format fields that reach dunder attributes are not allowed")
        elif _DUNDER_STRING.match(node.value.strip()):
            self.reject(node, f"the string {node.value!r} names a dunder attribute; not allowed")


def _input_values(value: Any, path: str) -> Iterator[tuple[str, Any, str]]:
    """(path, value, what) for every input value long enough to be worth checking."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _input_values(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _input_values(item, f"{path}[{index}]")
    elif isinstance(value, str):
        if len(value.strip()) >= 4:
            yield path, value, "is a run input"
            base = value.replace("\\", "/").rsplit("/", 1)[-1]
            if base != value and len(base) >= 4 and "." in base:
                yield path, base, "is the file name of a run input"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if len(str(abs(value)).replace(".", "").lstrip("0")) >= 3:
            yield path, value, "is a run input"


def _hard_coded_inputs(tree: ast.AST, inputs: Mapping[str, Any] | None) -> Iterator[Rejection]:
    if not inputs:
        return
    known = [item for key, v in inputs.items() for item in _input_values(v, f"inputs[{key!r}]")]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            continue
        for path, value, what in known:
            if isinstance(node.value, str) != isinstance(value, str) or node.value != value:
                continue
            shown = repr(node.value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            yield Rejection(
                node.lineno,
                node.col_offset,
                f"the literal {shown} {what}: read it from {path} instead of hard-coding it",
            )
            break
