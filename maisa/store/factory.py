"""Choosing and opening a store from a URL (DESIGN §8)."""

from __future__ import annotations

import os
from pathlib import Path

from maisa.errors import StoreUnavailable
from maisa.store.base import Store
from maisa.store.redact import Redactor, without_password

ENV_VAR = "MAISA_DATABASE_URL"
DEFAULT_PATH = Path(".maisa") / "maisa.db"


def resolve_url(url: str | None = None, *, project_dir: Path | None = None) -> str:
    """The store URL in effect: `url`, else MAISA_DATABASE_URL, else the project's SQLite file."""
    url = url or os.environ.get(ENV_VAR) or None
    if url:
        return url
    return str((project_dir or Path.cwd()) / DEFAULT_PATH)


def sqlite_path(url: str, *, project_dir: Path | None = None) -> Path | None:
    """The SQLite file a URL or plain path names, or None for a PostgreSQL URL.

    `sqlite:///abs/path` and `/abs/path` are absolute; `sqlite:rel.db` and
    `rel.db` are relative to the project directory.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        path = Path("/" + rest.lstrip("/")) if rest.startswith("//") else Path(rest)
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreUnavailable(
            f"unsupported store URL scheme {scheme!r} in {without_password(url)}",
            hint="use a postgresql:// URL, a sqlite:///path URL or a plain file path",
        )
    else:
        path = Path(url).expanduser()
    if not path.is_absolute():
        path = (project_dir or Path.cwd()) / path
    return path


def open_store(
    url: str | None = None,
    *,
    project_dir: Path | None = None,
    redactor: Redactor | None = None,
) -> Store:
    """Open (and migrate) the store at `url`; see `resolve_url` for the default.

    Raises StoreUnavailable (exit 4) when the database cannot be reached or
    opened, StoreError when its schema is newer than this code.
    """
    url = resolve_url(url, project_dir=project_dir)
    path = sqlite_path(url, project_dir=project_dir)
    if path is None:
        from maisa.store.postgres import PostgresStore

        return PostgresStore(url, redactor=redactor)
    from maisa.store.sqlite import SqliteStore

    store = SqliteStore(path, redactor=redactor)
    _ignore_in_git(path.parent)
    return store


def _ignore_in_git(directory: Path) -> None:
    # The project's `.maisa/` holds the database and run workspaces: never something to commit.
    if directory.name != ".maisa":
        return
    ignore = directory / ".gitignore"
    try:
        if not ignore.exists():
            ignore.write_text("# created by maisa: run records and workspaces stay local\n*\n")
    except OSError:
        pass
