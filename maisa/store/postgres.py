"""The PostgreSQL backend: psycopg 3 with a connection pool, JSONB columns, TIMESTAMPTZ.

Tables live in the connection's current schema, so a `search_path` in the URL
(`?options=-csearch_path%3Dname`) gives a separate store in the same database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from maisa.errors import StoreError, StoreUnavailable
from maisa.store.migrations import pending, refuse_newer
from maisa.store.redact import Redactor, url_password, without_password
from maisa.store.sql import SqlStore

CONNECT_TIMEOUT_S = 10
POOL_SIZE = 4
# How long a call waits for a connection when the server is gone, before StoreUnavailable.
POOL_TIMEOUT_S = 15.0


class _Cursor:
    """A psycopg cursor taking the `?` placeholders the shared SQL is written with."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PostgresStore(SqlStore):
    dialect = "postgres"
    NOW = "clock_timestamp()"

    def __init__(
        self,
        url: str,
        *,
        redactor: Redactor | None = None,
        migrate_to: int | None = None,
        pool_size: int = POOL_SIZE,
        pool_timeout: float = POOL_TIMEOUT_S,
    ) -> None:
        super().__init__(without_password(url), redactor)
        self._password = url_password(url)
        try:
            with psycopg.connect(
                url, connect_timeout=CONNECT_TIMEOUT_S, row_factory=dict_row
            ) as conn:
                self._migrate(conn, migrate_to)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.url}: {self._why(exc)}"
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the store {self.url}: {self._why(exc)}") from exc
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
            check=ConnectionPool.check_connection,
            open=False,
            timeout=pool_timeout,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S + 5)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.url}: {self._why(exc)}"
            ) from exc

    def _why(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return text.replace(self._password, "***") if self._password else text

    # -- migrations ------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration recorded in this database (0 for an empty one)."""
        with self._read() as cur:
            return _version(cur)

    def _migrate(self, conn: psycopg.Connection[Any], target: int | None) -> None:
        with conn.cursor() as raw:
            cur = _Cursor(raw)
            current = _version(cur)
            refuse_newer(current, self.url)
            if not pending(current, target):
                conn.commit()
                return
            cur.execute("SELECT current_schema() AS schema")
            if cur.fetchone()["schema"] is None:
                raise StoreError(
                    f"no schema of the search_path exists in {self.url}",
                    hint="create the schema first, or drop search_path from the URL",
                )
            # One migrator at a time per schema; the others wait, then find nothing to do.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('maisa:' || current_schema()))")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
            )
            current = _version(cur)
            refuse_newer(current, self.url)
            for migration in pending(current, target):
                for statement in migration.postgres:
                    raw.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
        conn.commit()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[_Cursor]:
        # The pool commits when the block ends and rolls back if it raises.
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield _Cursor(cur)
        except psycopg.errors.IntegrityError as exc:
            raise StoreError(f"the store refused a write ({self._why(exc)})") from exc
        except psycopg.errors.DiskFull as exc:
            raise StoreError(f"the store {self.url} cannot be written: {self._why(exc)}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"lost PostgreSQL at {self.url}: {self._why(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"the store {self.url} failed: {self._why(exc)}") from exc

    _read = _write

    def claim_run(self, run_id: int, owner: str) -> bool:
        """QUEUED or INTERRUPTED -> RUNNING under `owner`; False if someone else has it.

        A row another transaction is claiming right now is skipped, not waited for.
        """
        with self._write() as cur:
            cur.execute(
                "SELECT id FROM runs WHERE id = ? AND status IN ('QUEUED', 'INTERRUPTED') "
                "FOR UPDATE SKIP LOCKED",
                (run_id,),
            )
            if cur.fetchone() is None:
                return False
            cur.execute(
                "UPDATE runs SET status = 'RUNNING', owner = ?, heartbeat_at = clock_timestamp(), "
                "started_at = COALESCE(started_at, clock_timestamp()), finished_at = NULL, "
                "duration_s = NULL, error = NULL WHERE id = ?",
                (owner, run_id),
            )
            return True

    def _skip_locked(self) -> str:
        return "LIMIT 1 FOR UPDATE SKIP LOCKED"

    def close(self) -> None:
        self._pool.close()

    # -- dialect ---------------------------------------------------------------------------

    def _json(self, data: Any) -> Jsonb:
        return Jsonb(data)

    def _from_json(self, raw: Any) -> Any:
        return raw

    def _time(self, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def _seconds_ago(self) -> str:
        return "clock_timestamp() - make_interval(secs => ?)"

    def _elapsed(self, column: str) -> str:
        return f"EXTRACT(EPOCH FROM clock_timestamp() - {column})::float8"


def _version(cur: Any) -> int:
    cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
    if not cur.fetchone()["present"]:
        return 0
    cur.execute("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")
    return int(cur.fetchone()["version"])
