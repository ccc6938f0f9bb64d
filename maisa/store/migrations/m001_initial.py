"""Workers, runs, steps and tool calls: the Chain-of-Work (DESIGN §8)."""

VERSION = 1
NAME = "initial"

_STATUSES = "('QUEUED','RUNNING','SUCCEEDED','FAILED','CANCELLED','INTERRUPTED')"
_MODES = "('generated','locked','healed')"
_NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SQLITE = [
    f"""CREATE TABLE workers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT {_NOW},
        UNIQUE (name, version, fingerprint)
    )""",
    f"""CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        worker_id INTEGER NOT NULL REFERENCES workers(id),
        input TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {_STATUSES}),
        mode TEXT NOT NULL CHECK (mode IN {_MODES}),
        lock_revision INTEGER,
        created_at TEXT NOT NULL DEFAULT {_NOW},
        started_at TEXT,
        finished_at TEXT,
        duration_s REAL,
        result TEXT,
        error TEXT,
        model_calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        heartbeat_at TEXT
    )""",
    "CREATE INDEX runs_worker_created ON runs (worker_id, created_at)",
    "CREATE INDEX runs_created ON runs (created_at)",
    f"""CREATE TABLE steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        number INTEGER NOT NULL CHECK (number >= 1),
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        description TEXT NOT NULL,
        prompt TEXT,
        model_reply TEXT,
        code TEXT NOT NULL,
        code_sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        stdout TEXT NOT NULL,
        stderr TEXT NOT NULL,
        duration_s REAL NOT NULL,
        cpu_s REAL NOT NULL,
        peak_memory_mb REAL NOT NULL,
        variables_in TEXT NOT NULL,
        variables_out TEXT NOT NULL,
        error TEXT,
        created_at TEXT NOT NULL DEFAULT {_NOW},
        UNIQUE (run_id, number, attempt)
    )""",
    """CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        step_id INTEGER NOT NULL REFERENCES steps(id),
        sequence INTEGER NOT NULL,
        tool TEXT NOT NULL,
        function TEXT NOT NULL,
        arguments TEXT NOT NULL,
        result_summary TEXT NOT NULL,
        ok INTEGER NOT NULL,
        duration_s REAL NOT NULL,
        error TEXT,
        UNIQUE (step_id, sequence)
    )""",
]

POSTGRES = [
    """CREATE TABLE workers (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (name, version, fingerprint)
    )""",
    f"""CREATE TABLE runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        worker_id BIGINT NOT NULL REFERENCES workers(id),
        input JSONB NOT NULL,
        input_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {_STATUSES}),
        mode TEXT NOT NULL CHECK (mode IN {_MODES}),
        lock_revision INTEGER,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        duration_s DOUBLE PRECISION,
        result JSONB,
        error TEXT,
        model_calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens BIGINT NOT NULL DEFAULT 0,
        completion_tokens BIGINT NOT NULL DEFAULT 0,
        owner TEXT,
        heartbeat_at TIMESTAMPTZ
    )""",
    "CREATE INDEX runs_worker_created ON runs (worker_id, created_at)",
    "CREATE INDEX runs_created ON runs (created_at)",
    """CREATE TABLE steps (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id BIGINT NOT NULL REFERENCES runs(id),
        number INTEGER NOT NULL CHECK (number >= 1),
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        description TEXT NOT NULL,
        prompt TEXT,
        model_reply TEXT,
        code TEXT NOT NULL,
        code_sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        stdout TEXT NOT NULL,
        stderr TEXT NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        cpu_s DOUBLE PRECISION NOT NULL,
        peak_memory_mb DOUBLE PRECISION NOT NULL,
        variables_in JSONB NOT NULL,
        variables_out JSONB NOT NULL,
        error TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (run_id, number, attempt)
    )""",
    """CREATE TABLE tool_calls (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        step_id BIGINT NOT NULL REFERENCES steps(id),
        sequence INTEGER NOT NULL,
        tool TEXT NOT NULL,
        function TEXT NOT NULL,
        arguments TEXT NOT NULL,
        result_summary TEXT NOT NULL,
        ok BOOLEAN NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        error TEXT,
        UNIQUE (step_id, sequence)
    )""",
]
