"""The embedded SQLite backend: one file, WAL, `BEGIN IMMEDIATE` for every write.

One connection per store, shared by the runtime's main thread and its
heartbeat thread under a lock; other processes are serialised by SQLite's own
write lock, waited for through `busy_timeout`, never deadlocked because every
write transaction takes the write lock up front.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maisa.errors import StoreError, StoreUnavailable
from maisa.store.migrations import pending, refuse_newer
from maisa.store.redact import Redactor
from maisa.store.serialize import dumps
from maisa.store.sql import SqlStore

# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 60.0
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"


def sqlite_time(value: datetime) -> str:
    """`value` in the fixed-width UTC text form stored timestamps use (so they compare)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class SqliteStore(SqlStore):
    dialect = "sqlite"
    NOW = _NOW

    def __init__(
        self,
        path: Path,
        *,
        redactor: Redactor | None = None,
        migrate_to: int | None = None,
    ) -> None:
        super().__init__(str(path), redactor)
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed step survives power loss too, not only a crashed process.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(migrate_to)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    # -- migrations ------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration recorded in this database (0 for an empty one)."""
        with self._lock:
            return self._version(self._conn)

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _migrate(self, target: int | None) -> None:
        current = self._version(self._conn)
        refuse_newer(current, self.url)
        if not pending(current, target):
            return
        if current == 0:
            self._refuse_foreign()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            current = self._version(self._conn)  # another process may have migrated meanwhile
            refuse_newer(current, self.url)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                f"name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT ({_NOW}))"
            )
            for migration in pending(current, target):
                for statement in migration.sqlite:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _refuse_foreign(self) -> None:
        # A file with tables but no migration record belongs to something else (say, the
        # invoices database a tool writes to): adding our tables to it would be a surprise.
        tables = [
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        if tables:
            raise StoreError(
                f"{self.path} is a SQLite database but not a maisa store "
                f"(it has tables {', '.join(sorted(tables)[:5])})",
                hint="point MAISA_DATABASE_URL (or --db) at a new file or at a maisa store",
            )

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(exc, self.url) from exc
            try:
                yield cur
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _store_error(exc, self.url) from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                cur.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN")  # one snapshot for every query of the read
                yield cur
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _store_error(exc, self.url) from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                cur.close()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- dialect ---------------------------------------------------------------------------

    def _json(self, data: Any) -> str:
        return dumps(data)

    def _from_json(self, raw: Any) -> Any:
        return None if raw is None else json.loads(raw)

    def _time(self, value: datetime) -> str:
        return sqlite_time(value)

    def _seconds_ago(self) -> str:
        return "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ? || ' seconds')"

    def _elapsed(self, column: str) -> str:
        return f"ROUND((julianday('now') - julianday({column})) * 86400.0, 3)"


def _store_error(exc: sqlite3.Error, url: str) -> Exception:
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"the store refused a write ({message})")
    if "disk is full" in message or "disk I/O error" in message:
        return StoreError(f"the store {url} cannot be written: {message}")
    if "locked" in message or "busy" in message:
        return StoreUnavailable(f"the store {url} stayed locked by another writer: {message}")
    return StoreError(f"the store {url} failed: {message}")
