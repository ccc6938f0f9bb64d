"""Run plans, the locks table, and an index for finding runs whose owner went silent."""

VERSION = 2
NAME = "plans_and_locks"

_NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SQLITE = [
    "ALTER TABLE runs ADD COLUMN plan TEXT NOT NULL DEFAULT '[]'",
    "CREATE INDEX runs_status_heartbeat ON runs (status, heartbeat_at)",
    f"""CREATE TABLE locks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        worker_name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        revision INTEGER NOT NULL CHECK (revision >= 1),
        content TEXT NOT NULL,
        source_run INTEGER,
        created_at TEXT NOT NULL DEFAULT {_NOW},
        UNIQUE (worker_name, revision)
    )""",
]

POSTGRES = [
    "ALTER TABLE runs ADD COLUMN plan JSONB NOT NULL DEFAULT '[]'::jsonb",
    "CREATE INDEX runs_status_heartbeat ON runs (status, heartbeat_at)",
    """CREATE TABLE locks (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        worker_name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        revision INTEGER NOT NULL CHECK (revision >= 1),
        content TEXT NOT NULL,
        source_run BIGINT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (worker_name, revision)
    )""",
]
