"""The db tool refuses a PostgreSQL role that could reach the database server's shell or files.

Step SQL is written by a model that may be prompt-injected: a superuser, a member of the
pg_*_server_* roles (directly, or through a role it can SET ROLE to) or a CREATEROLE role
is refused on every call, unless the operator sets MAISA_DB_ALLOW_PRIVILEGED=1 on the host.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.db import DbTool
from maisa.tools.db_roles import ALLOW_ENV
from tests.fixtures.pgroles import as_role

REFUSED = "the db tool refuses the PostgreSQL role"


@pytest.fixture(autouse=True)
def not_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_ENV, raising=False)


@pytest.fixture
def tools(workspace: Path) -> Iterator[Callable[[str], DbTool]]:
    """Make db tools on URLs; each is closed after the test."""
    made: list[DbTool] = []

    def make(url: str) -> DbTool:
        made.append(DbTool(ToolContext(workspace=workspace), secret=url))
        return made[-1]

    yield make
    for tool in made:
        tool._close()


@pytest.fixture
def make_role(postgres_url: str) -> Iterator[Callable[..., str]]:
    """Create throwaway login roles (`make_role("CREATEROLE", member_of=[...])`); their URL."""
    created: list[str] = []

    def make(*attributes: str, member_of: tuple[str, ...] = ()) -> str:
        name = f"maisa_rolecheck_{secrets.token_hex(4)}"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {name} {' '.join(attributes)}")
            created.append(name)
            for role in member_of:
                admin.execute(f"GRANT {role} TO {name}")
        return name

    yield make
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for name in reversed(created):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [name]
            )
            admin.execute(f"DROP ROLE IF EXISTS {name}")


def test_a_superuser_url_is_refused_on_every_call_saying_why_and_what_to_do(
    tools, postgres_url, worker_pg_url
):
    db = tools(postgres_url)
    for _ in range(2):
        with pytest.raises(ToolError, match=REFUSED) as error:
            db.execute("CREATE TABLE maisa_should_not_exist (a int)")
        message = str(error.value)
        assert "'postgres': it is a superuser" in message
        assert "COPY ... FROM PROGRAM" in message
        assert "CREATE ROLE worker LOGIN" in message and "GRANT USAGE, CREATE ON SCHEMA" in message
        assert f"{ALLOW_ENV}=1" in message
    with psycopg.connect(postgres_url) as admin:
        assert admin.execute("SELECT to_regclass('public.maisa_should_not_exist')").fetchone() == (
            None,
        )


def test_the_operators_opt_in_lets_a_superuser_url_through(tools, postgres_url, monkeypatch):
    monkeypatch.setenv(ALLOW_ENV, "1")
    rows = tools(postgres_url).query("SELECT current_setting('is_superuser') AS su")
    assert rows == [{"su": "on"}]


@pytest.mark.parametrize("value", ["0", "true", "yes", ""])
def test_only_the_value_1_opts_in(tools, postgres_url, monkeypatch, value):
    monkeypatch.setenv(ALLOW_ENV, value)
    with pytest.raises(ToolError, match=REFUSED):
        tools(postgres_url).query("SELECT 1")


def test_a_least_privilege_role_works(tools, worker_pg_url):
    db = tools(worker_pg_url)
    assert db.execute("CREATE TABLE t (a int)") == 0
    assert db.execute("INSERT INTO t VALUES (1), (2)") == 2
    rows = db.query("SELECT current_user AS u, current_setting('is_superuser') AS su")
    assert rows == [{"u": "maisa_worker", "su": "off"}]


@pytest.mark.parametrize(
    "statement",
    ["SET ROLE postgres", "SET SESSION AUTHORIZATION postgres", "RESET ROLE; SET ROLE postgres"],
)
def test_a_least_privilege_role_cannot_switch_to_the_superuser(tools, worker_pg_url, statement):
    db = tools(worker_pg_url)
    with pytest.raises(ToolError, match="permission denied"):
        db.execute(statement)
    assert db.query("SELECT current_setting('is_superuser') AS su") == [{"su": "off"}]


@pytest.mark.parametrize(
    "role", ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"]
)
def test_a_member_of_a_server_access_role_is_refused(tools, make_role, postgres_url, role):
    name = make_role("LOGIN", member_of=(role,))
    with pytest.raises(ToolError, match=f"{REFUSED} '{name}': it is a member of {role}"):
        tools(as_role(postgres_url, name)).query("SELECT 1")


def test_a_noinherit_member_of_a_superuser_role_is_refused_since_set_role_would_escalate(
    tools, make_role, postgres_url, monkeypatch
):
    admin_role = make_role("SUPERUSER NOLOGIN")
    name = make_role("LOGIN NOINHERIT", member_of=(admin_role,))
    url = as_role(postgres_url, name)
    with pytest.raises(ToolError, match=f"a member of the superuser role '{admin_role}'"):
        tools(url).query("SELECT current_setting('is_superuser') AS su")
    # Why: without the check, step SQL switches to the superuser role it is a member of.
    monkeypatch.setenv(ALLOW_ENV, "1")
    db = tools(url)
    assert db.query("SELECT current_setting('is_superuser') AS su") == [{"su": "off"}]
    db.execute(f"SET ROLE {admin_role}")
    assert db.query("SELECT current_setting('is_superuser') AS su") == [{"su": "on"}]


def test_a_noinherit_member_of_a_server_access_role_is_refused(tools, make_role, postgres_url):
    name = make_role("LOGIN NOINHERIT", member_of=("pg_execute_server_program",))
    with pytest.raises(ToolError, match="a member of pg_execute_server_program"):
        tools(as_role(postgres_url, name)).query("SELECT 1")


def test_a_createrole_role_is_refused(tools, make_role, postgres_url):
    # On PostgreSQL 15 and older CREATEROLE may GRANT pg_execute_server_program to itself.
    name = make_role("LOGIN CREATEROLE")
    with pytest.raises(ToolError, match=f"{REFUSED} '{name}': it is allowed to CREATE ROLE"):
        tools(as_role(postgres_url, name)).query("SELECT 1")


def test_a_superuser_login_behind_a_role_option_in_the_url_is_refused(
    tools, postgres_url, worker_pg_role
):
    # `options=-c role=...` makes current_user ordinary, but step SQL could RESET ROLE.
    url = f"{postgres_url}?options=-crole%3D{worker_pg_role}"
    with pytest.raises(ToolError, match=f"{REFUSED} 'postgres': it is a superuser"):
        tools(url).query("SELECT 1")


def test_the_role_is_checked_again_on_reconnect(tools, make_role, postgres_url):
    name = make_role("LOGIN")
    db = tools(as_role(postgres_url, name))
    pid = db.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"GRANT pg_read_server_files TO {name}")
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(ToolError, match="PostgreSQL error"):
        db.query("SELECT 1")  # the call in flight on the lost connection
    with pytest.raises(ToolError, match="a member of pg_read_server_files"):
        db.query("SELECT pg_read_file('/etc/hostname')")
