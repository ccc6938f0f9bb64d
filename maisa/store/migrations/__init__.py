"""Versioned schema migrations, one module per version, each with SQLite and PostgreSQL DDL.

A store applies every pending migration when it opens, inside one transaction
that also records them in `schema_migrations`; a database that records a
version newer than `LATEST` was written by newer code and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from maisa.errors import StoreError
from maisa.store.migrations import m001_initial, m002_plans_and_locks


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(m.VERSION, m.NAME, tuple(m.SQLITE), tuple(m.POSTGRES))
    for m in (m001_initial, m002_plans_and_locks)
)
LATEST = MIGRATIONS[-1].version

assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1)), "versions must be 1..N"


def pending(current: int, target: int | None = None) -> list[Migration]:
    """The migrations after `current`, up to `target` (default: all)."""
    target = LATEST if target is None else target
    return [m for m in MIGRATIONS if current < m.version <= target]


def refuse_newer(current: int, where: str) -> None:
    """Raise StoreError if a database records a schema version this code does not know."""
    if current > LATEST:
        raise StoreError(
            f"the store {where} has schema version {current}, newer than this maisa "
            f"understands ({LATEST})",
            hint="upgrade maisa, or point MAISA_DATABASE_URL at another database",
        )
