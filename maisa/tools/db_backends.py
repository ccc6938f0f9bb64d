"""The database connections behind the `db` tool: one small class per engine.

Each call is one transaction: committed when it succeeds, rolled back when it
fails, so a failed step never leaves a half-applied change behind.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from maisa.errors import ToolError
from maisa.tools.db_roles import check_role

STATEMENT_TIMEOUT_MS = 30_000
MAX_ROWS = 100_000
# SQLite runs inside the host process: one value may not be larger than this (randomblob(1e9)
# would allocate a gigabyte on the host), and a result may not hold more in total.
SQLITE_MAX_VALUE_BYTES = 32 * 1024 * 1024
MAX_RESULT_BYTES = 64 * 1024 * 1024
# Pragmas that corrupt the schema (a classic way into SQLite's memory bugs), move temp files
# elsewhere on the host, or switch off the untrusted-schema defences.
_DENIED_PRAGMAS = frozenset(
    {"writable_schema", "temp_store_directory", "data_store_directory", "schema_version"}
    | {"trusted_schema", "mmap_size"}
)
# fts3_tokenizer() hands out (and with two arguments takes) raw C pointers of the host process.
_DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension"})

Params = Sequence[Any] | dict[str, Any] | None


class Connection(Protocol):
    """One database the `db` tool talks to."""

    def query(self, sql: str, params: Params) -> list[dict[str, Any]]: ...
    def execute(self, sql: str, params: Params) -> int: ...
    def close(self) -> None: ...


def plain(value: Any) -> Any:
    """A database value as a JSON-friendly one: Decimal -> float, dates -> ISO text, bytes stay."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _check_rows(rows: list[Any]) -> None:
    if len(rows) > MAX_ROWS:
        raise ToolError(f"the query returned more than {MAX_ROWS} rows; add a LIMIT")


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    # ATTACH (and VACUUM INTO, which attaches) would let step code create or read any file the
    # host user can reach, as an SQLite database: the tool's one database is all it may touch.
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _DENIED_PRAGMAS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _value_bytes(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else 8


def _sqlite_error(exc: Exception) -> ToolError:
    if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
        seconds = STATEMENT_TIMEOUT_MS // 1000
        return ToolError(f"the SQL statement ran past {seconds}s and was stopped")
    return ToolError(f"SQLite error: {exc}")


class SqliteConnection:
    """A SQLite database file; `?` and `:name` placeholders."""

    def __init__(self, path: Path) -> None:
        if not path.parent.is_dir():
            raise ToolError(f"the SQLite database's directory does not exist: {path.parent}")
        # One connection shared by the broker's calls; the lock serialises them.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, timeout=STATEMENT_TIMEOUT_MS / 1000, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.set_authorizer(_sqlite_authorizer)
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_VALUE_BYTES)
        # SQLite has no statement timeout, and the host waits for the tool: a recursive CTE
        # that never ends would hang the run past every step deadline.
        self._deadline = float("inf")
        self._conn.set_progress_handler(self._past_deadline, 10_000)

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        self._deadline = time.monotonic() + STATEMENT_TIMEOUT_MS / 1000
        return self._conn.execute(sql, () if params is None else params)

    def _fetch(self, cursor: sqlite3.Cursor) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        size = 0
        while batch := cursor.fetchmany(1000):
            rows += batch
            size += sum(_value_bytes(value) for row in batch for value in row)
            if size > MAX_RESULT_BYTES:
                raise ToolError(f"the query returned more than {MAX_RESULT_BYTES} bytes")
            if len(rows) > MAX_ROWS:
                break
        return rows

    def query(self, sql: str, params: Params) -> list[dict[str, Any]]:
        with self._lock:
            try:
                with self._conn:  # commits on success, rolls back on error
                    rows = self._fetch(self._run(sql, params))
            except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
                raise _sqlite_error(exc) from None
        _check_rows(rows)
        return [{key: plain(row[key]) for key in row.keys()} for row in rows]

    def execute(self, sql: str, params: Params) -> int:
        with self._lock:
            try:
                with self._conn:
                    count = self._run(sql, params).rowcount
            except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
                raise _sqlite_error(exc) from None
        return max(count, 0)

    def close(self) -> None:
        self._conn.close()


class PostgresConnection:
    """A PostgreSQL database via psycopg 3; `%s` and `%(name)s` placeholders."""

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row

        self._psycopg = psycopg
        self._dict_row = dict_row
        self._lock = threading.Lock()
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            # The parser's message quotes the URL, password included: do not repeat it.
            raise ToolError("the PostgreSQL URL in the db secret is malformed") from None
        self._url = url
        self._secrets = [v for v in (url, info.get("password")) if v]
        # Keep any `options` the URL carries (e.g. a search_path) and add the timeout.
        self._options = f"{info.get('options') or ''} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
        self._conn = self._connect()

    def _connect(self) -> Any:
        try:
            conn = self._psycopg.connect(
                self._url,
                row_factory=self._dict_row,
                connect_timeout=10,
                options=self._options.strip(),
            )
        except self._psycopg.Error as exc:
            raise ToolError(self._scrub(f"cannot connect to PostgreSQL: {exc}")) from None
        # Checked on every (re)connect: a role that can reach the server's shell or files
        # never runs step SQL unless the operator opted in.
        try:
            check_role(conn)
        except self._psycopg.Error as exc:
            conn.close()
            raise ToolError(self._scrub(f"cannot check the PostgreSQL role: {exc}")) from None
        except ToolError:
            conn.close()
            raise
        return conn

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(str(secret), "***")
        return message.strip()

    def _transaction(self, sql: str, params: Params, fetch: bool) -> tuple[list[Any], int]:
        with self._lock:
            if self._conn.closed or self._conn.broken:  # e.g. the server restarted
                self._conn = self._connect()
            try:
                with self._conn.transaction(), self._conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    rows = cursor.fetchmany(MAX_ROWS + 1) if fetch and cursor.description else []
                    return rows, cursor.rowcount
            except self._psycopg.Error as exc:
                raise ToolError(self._scrub(f"PostgreSQL error: {exc}")) from None
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise ToolError(f"bad SQL parameters: {exc}") from None

    def query(self, sql: str, params: Params) -> list[dict[str, Any]]:
        rows, _ = self._transaction(sql, params, fetch=True)
        _check_rows(rows)
        return [{key: plain(value) for key, value in row.items()} for row in rows]

    def execute(self, sql: str, params: Params) -> int:
        _, count = self._transaction(sql, params, fetch=False)
        return max(count, 0)

    def close(self) -> None:
        self._conn.close()
