"""The read-only runtime the bwrap sandbox sees: a system Python, its stdlib and its libraries.

Nothing else of the host is bound in: not /root, /home, /etc, the project
tree, site-packages, nor any socket. The interpreter must be a system one
(not a pyenv/virtualenv under /root or /home), since binding those trees would
expose the host's private files.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Trees that hold private host data: a runtime under them is refused, not bound.
FORBIDDEN_TREES = (Path("/root"), Path("/home"), Path("/etc"), Path("/var"), Path("/run"))
PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3")
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


class RuntimeNotFound(Exception):
    """No interpreter suitable for the sandbox exists on this machine."""


@dataclass(frozen=True)
class Runtime:
    """What to bind read-only: the interpreter, its stdlib, its library directories."""

    python: str  # real path of the interpreter on the host (bound at the same path)
    stdlib: str
    bytecode: str  # "<cache tag> <magic hex>": which .pyc files this interpreter accepts
    lib_dirs: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]  # (target, link) for merged-/usr systems: /lib -> usr/lib


def _forbidden(path: Path) -> bool:
    return any(path == tree or tree in path.parents for tree in FORBIDDEN_TREES)


@functools.lru_cache(maxsize=4)
def discover(python: str | None = None) -> Runtime:
    """Find the system interpreter ($MAISA_BWRAP_PYTHON, else /usr/bin/python3) and its files."""
    candidates = [python] if python else []
    if env := os.environ.get("MAISA_BWRAP_PYTHON"):
        candidates.append(env)
    candidates += list(PYTHON_CANDIDATES)
    errors = []
    for candidate in candidates:
        real = Path(candidate).resolve()
        if not real.is_file() or not os.access(real, os.X_OK):
            errors.append(f"{candidate}: not found")
            continue
        if _forbidden(real):
            errors.append(f"{candidate}: lives under a private tree ({real})")
            continue
        try:
            return _describe(real)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            errors.append(f"{candidate}: {exc}")
    raise RuntimeNotFound(
        "no system Python 3.11+ usable inside the bwrap sandbox ("
        + "; ".join(errors)
        + "); install one with `apt-get install python3` or set MAISA_BWRAP_PYTHON"
    )


def _describe(python: Path) -> Runtime:
    probe = (
        "import sys, sysconfig, importlib.util; p = sysconfig.get_paths(); "
        "print(sys.version_info >= (3, 11)); print(p['stdlib']); print(p['platstdlib']); "
        "print(sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex())"
    )
    result = subprocess.run(
        [str(python), "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=20, env={}
    )
    if result.returncode != 0:
        raise ValueError(f"does not run: {result.stderr.strip()[-300:]}")
    new_enough, stdlib, platstdlib, bytecode = result.stdout.split("\n")[:4]
    if new_enough != "True":
        raise ValueError("is older than Python 3.11")
    stdlib_path = Path(stdlib).resolve()
    if _forbidden(stdlib_path) or Path(platstdlib).resolve() != stdlib_path:
        raise ValueError(f"its stdlib {stdlib} is not a single system directory")
    objects = [python] + sorted((stdlib_path / "lib-dynload").glob("*.so"))
    lib_dirs: set[str] = set()
    for lib in _shared_libraries(objects):
        # Both where the file really is and where its symlink sits (/lib64/ld-linux... is a
        # link in /usr/lib64 to /usr/lib/x86_64-linux-gnu on merged-/usr Debian).
        lib_dirs.add(str(Path(lib).resolve().parent))
        lib_dirs.add(str(Path(lib).parent.resolve()))
    lib_dirs.discard(str(stdlib_path / "lib-dynload"))  # already inside the stdlib bind
    for directory in lib_dirs:
        if _forbidden(Path(directory)):
            raise ValueError(f"needs libraries from a private tree ({directory})")
    symlinks = tuple(
        (os.readlink(link), link)
        for link in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
        if os.path.islink(link)
    )
    # Non-merged systems keep the loader in /lib64 itself: bind its directory too.
    if not os.path.islink("/lib64") and os.path.isdir("/lib64"):
        lib_dirs.add("/lib64")
    return Runtime(str(python), str(stdlib_path), bytecode, tuple(sorted(lib_dirs)), symlinks)


def _shared_libraries(objects: list[Path]) -> set[str]:
    ldd = shutil.which("ldd")
    if ldd is None:
        raise ValueError("ldd is missing (it comes with libc-bin)")
    found: set[str] = set()
    # One ldd call for all objects: ~100 extension modules, still well under a second.
    result = subprocess.run(
        [ldd, *map(str, objects)], capture_output=True, text=True, timeout=60, env={}
    )
    for line in result.stdout.splitlines():
        if match := _LDD_LINE.search(line):
            found.add(match.group(1))
    return found
