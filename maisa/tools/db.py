"""The `db` tool: SQL on one SQLite or PostgreSQL database named by a secret (DESIGN §6)."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.db_backends import Connection, PostgresConnection, SqliteConnection


def connect(url: str) -> Connection:
    """Open the database a URL names: `postgresql://…`, `sqlite:///abs/path.db`, or a file path.

    A plain path ending in .db, .sqlite or .sqlite3 is a SQLite file (relative to the
    current directory). Anything else is refused, naming the accepted forms.
    """
    url = url.strip()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresConnection(url)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path.startswith("/"):
            raise ToolError("a sqlite URL needs an absolute path: sqlite:///abs/path.db")
        return SqliteConnection(Path("/" + path.lstrip("/")))
    if url.endswith((".db", ".sqlite", ".sqlite3")) and "://" not in url:
        return SqliteConnection(Path(url).absolute())
    raise ToolError(
        "the db secret must be a postgresql:// URL, a sqlite:///abs/path.db URL, "
        "or a path ending in .db, .sqlite or .sqlite3"
    )


def _params(params: Any) -> Any:
    if params is None or isinstance(params, dict):
        return params
    if isinstance(params, list | tuple):
        return tuple(params)
    raise ToolError(
        f"params must be a list (positional) or a dict (named), not {type(params).__name__}"
    )


class DbTool:
    """SQL on the worker's database. Each call is its own transaction, committed on success.
    Placeholders follow the database: SQLite takes `?` with a list or `:name` with a dict;
    PostgreSQL takes `%s` with a list or `%(name)s` with a dict. Never format values into SQL.
    Result values: numbers, strings, None; DECIMAL/NUMERIC as float; dates and times as
    ISO 8601 strings; BLOB/BYTEA as bytes.
    """

    def __init__(self, ctx: ToolContext, secret: str | None = None) -> None:
        if not secret:
            raise ToolError("the db tool needs a database URL from a secret: {name: db, secret: X}")
        self._url = secret
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = connect(self._url)
            weakref.finalize(self, self._conn.close)
        return self._conn

    def query(self, sql: str, params: list | dict | None = None) -> list[dict]:
        """Run a statement that returns rows (SELECT, or INSERT … RETURNING); one dict per row,
        keyed by column name.
        """
        return self._connection().query(_sql(sql), _params(params))

    def execute(self, sql: str, params: list | dict | None = None) -> int:
        """Run a statement that changes data (INSERT, UPDATE, DELETE, CREATE …) and commit it.
        Returns the number of rows affected (0 when not applicable).
        """
        return self._connection().execute(_sql(sql), _params(params))

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _sql(sql: Any) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise ToolError("sql must be a non-empty string")
    return sql
