"""The Chain-of-Work store (DESIGN §8): every run, step attempt and tool call, kept for audit.

- `factory.open_store(url)`: SQLite (`.maisa/maisa.db`, WAL) by default, PostgreSQL for
  `postgresql://` URLs; the contract is `base.Store`, the rows are `records`.
- `sql.SqlStore` / `sql_reads.SqlReads`: the contract in SQL, shared by `sqlite.SqliteStore`
  and `postgres.PostgresStore`, which bring connections, transactions and dialect.
- `migrations/`: versioned schema, applied once on open, refused when newer than the code.
- `redact.Redactor`: secrets are replaced before anything is written.
- `owner`: owner ids and telling a dead local owner, for reaping interrupted runs.
"""
