"""The db tool refuses a PostgreSQL role that can reach the database server itself.

Step code is written by a model that may be prompt-injected, and it runs SQL with the
rights of the role in the secret's URL. A superuser (or a member of the `pg_*_server_*`
roles) can run `COPY ... FROM PROGRAM` (a shell on the database host) or read and write
the server's files. Membership counts even without INHERIT, because step SQL can
`SET ROLE` to any role its session user is a member of; and a CREATEROLE role can, on
PostgreSQL 15 and older, grant itself those roles. The operator may accept such a role
on purpose with MAISA_DB_ALLOW_PRIVILEGED=1 in the host's environment, which neither the
spec nor step code can set.
"""

from __future__ import annotations

import os
from typing import Any

from maisa.errors import ToolError

ALLOW_ENV = "MAISA_DB_ALLOW_PRIVILEGED"
SERVER_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")

# Every role the session user (the URL's login) or the current role is a member of, itself
# included, that makes step SQL dangerous to the server. `SET ROLE` can only reach roles
# the session user is a member of, and SET SESSION AUTHORIZATION needs a superuser session
# user, so this covers what step SQL can switch to.
_PRIVILEGES_SQL = """
SELECT r.rolname AS role,
       r.rolsuper AS superuser,
       r.rolcreaterole AS createrole,
       r.rolname = ANY(%(server_roles)s) AS server_role,
       session_user AS login_role,
       current_user AS acting_role
FROM pg_roles AS r
WHERE (pg_has_role(session_user, r.oid, 'MEMBER') OR pg_has_role(current_user, r.oid, 'MEMBER'))
  AND (r.rolsuper OR r.rolcreaterole OR r.rolname = ANY(%(server_roles)s))
ORDER BY r.rolname
"""


def privileged_allowed(environ: dict[str, str] | None = None) -> bool:
    """Whether the operator opted in to privileged roles on this host."""
    return (os.environ if environ is None else environ).get(ALLOW_ENV) == "1"


def _reason(row: dict[str, Any]) -> str:
    role = row["role"]
    own = role in (row["login_role"], row["acting_role"])
    if row["superuser"]:
        what = "a superuser" if own else f"a member of the superuser role {role!r}"
    elif row["server_role"]:
        what = f"a member of {role}"
    else:
        what = "allowed to CREATE ROLE" if own else f"a member of the CREATEROLE role {role!r}"
    return what


def refusal(rows: list[dict[str, Any]]) -> str | None:
    """The error message for a role with the privileges in `rows`, or None when there are none."""
    if not rows:
        return None
    user = rows[0]["login_role"]
    own_super = [r for r in rows if r["superuser"] and r["role"] in (user, r["acting_role"])]
    # A superuser is a member of every role: naming the rest would only add noise.
    reasons = "; ".join(dict.fromkeys(_reason(row) for row in own_super or rows))
    return (
        f"the db tool refuses the PostgreSQL role {user!r}: it is {reasons}, so SQL written "
        "by the model could run programs or read and write files on the database server "
        "(COPY ... FROM PROGRAM, pg_read_file). Create a least-privilege role for the worker "
        "(e.g. CREATE ROLE worker LOGIN PASSWORD '...'; GRANT USAGE, CREATE ON SCHEMA app "
        "TO worker; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO "
        "worker) and put it in the db secret's URL; or, if you accept the risk, set "
        f"{ALLOW_ENV}=1 in the environment of the host running maisa"
    )


def check_role(conn: Any) -> None:
    """Raise ToolError unless the connection's role is safe for step SQL (or opted in).

    `conn` is an open psycopg connection with dict rows; the check's transaction is ended
    so the tool's own transactions start clean.
    """
    if privileged_allowed():
        return
    try:
        rows = conn.execute(_PRIVILEGES_SQL, {"server_roles": list(SERVER_ROLES)}).fetchall()
    finally:
        conn.rollback()
    message = refusal(rows)
    if message:
        raise ToolError(message)
