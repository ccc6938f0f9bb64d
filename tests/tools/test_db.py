"""The `db` tool against a real SQLite file and the real PostgreSQL test server."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.db import DbTool


def make_db(workspace: Path, url: str) -> DbTool:
    return DbTool(ToolContext(workspace=workspace), secret=url)


# -- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "facturas.db"


@pytest.fixture
def lite(workspace: Path, sqlite_path: Path) -> Iterator[DbTool]:
    db = make_db(workspace, f"sqlite:///{sqlite_path}")
    db.execute("CREATE TABLE facturas (nif TEXT UNIQUE, importe REAL, pdf BLOB)")
    yield db
    db._close()


def test_sqlite_execute_commits_and_counts_rows(lite: DbTool, sqlite_path: Path) -> None:
    assert lite.execute("INSERT INTO facturas (nif, importe) VALUES (?, ?)", ["B1", 10.5]) == 1
    assert lite.execute("INSERT INTO facturas (nif, importe) VALUES (:n, :i)", {"n": "B2", "i": 3})
    assert lite.execute("UPDATE facturas SET importe = importe * 2") == 2
    with sqlite3.connect(sqlite_path) as other:  # committed: another connection sees it
        assert other.execute("SELECT nif, importe FROM facturas ORDER BY nif").fetchall() == [
            ("B1", 21.0),
            ("B2", 6),
        ]


def test_sqlite_query_returns_dicts_by_column_name(lite: DbTool) -> None:
    lite.execute("INSERT INTO facturas VALUES (?, ?, ?)", ("B12345674", 1234.56, b"%PDF-1"))
    rows = lite.query("SELECT nif, importe, pdf FROM facturas WHERE nif = ?", ["B12345674"])
    assert rows == [{"nif": "B12345674", "importe": 1234.56, "pdf": b"%PDF-1"}]
    assert lite.query("SELECT count(*) AS n FROM facturas WHERE importe > :m", {"m": 5}) == [
        {"n": 1}
    ]
    assert lite.query("SELECT * FROM facturas WHERE nif = 'nadie'") == []


def test_sqlite_a_failing_statement_changes_nothing(lite: DbTool) -> None:
    lite.execute("INSERT INTO facturas (nif) VALUES ('B1')")
    with pytest.raises(ToolError, match="UNIQUE"):
        lite.execute("INSERT INTO facturas (nif) VALUES ('B2'), ('B1')")
    assert lite.query("SELECT nif FROM facturas") == [{"nif": "B1"}]


def test_sqlite_errors_are_tool_errors(lite: DbTool) -> None:
    with pytest.raises(ToolError, match="SQLite error: no such table"):
        lite.query("SELECT * FROM nada")
    with pytest.raises(ToolError, match="SQLite error"):
        lite.execute("INSERT INTO facturas (nif) VALUES (?)", [])
    with pytest.raises(ToolError, match="one statement"):
        lite.execute("DELETE FROM facturas; DROP TABLE facturas")
    with pytest.raises(ToolError, match="list .* or a dict"):
        lite.query("SELECT 1", "B1")  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="non-empty string"):
        lite.query("  ")


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE '{dir}/other.db' AS other",
        "VACUUM INTO '{dir}/copy.db'",
    ],
)
def test_sqlite_cannot_reach_other_files(lite: DbTool, tmp_path: Path, sql: str) -> None:
    with pytest.raises(ToolError, match="not authorized|authorization denied"):
        lite.execute(sql.format(dir=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facturas.db", "workspace"]


def test_sqlite_a_plain_db_path_is_accepted(workspace: Path, sqlite_path: Path) -> None:
    db = make_db(workspace, str(sqlite_path))
    assert db.query("SELECT 1 + 1 AS dos") == [{"dos": 2}]


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "sqlite://relative.db", "/tmp/x.csv", "just words"],
)
def test_unsupported_urls_are_refused_with_the_accepted_forms(workspace: Path, url: str) -> None:
    with pytest.raises(ToolError, match="sqlite"):
        make_db(workspace, url).query("SELECT 1")


def test_a_missing_sqlite_directory_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="directory does not exist"):
        make_db(workspace, f"sqlite:///{tmp_path}/nope/x.db").query("SELECT 1")


def test_the_db_tool_needs_a_url(workspace: Path) -> None:
    with pytest.raises(ToolError, match="secret"):
        DbTool(ToolContext(workspace=workspace))


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg(workspace: Path, worker_pg_url: str) -> Iterator[DbTool]:
    # A least-privilege role, as a worker should be given; its schema is chosen through the
    # URL's options, which the tool must keep.
    db = make_db(workspace, worker_pg_url)
    db.execute(
        "CREATE TABLE facturas (id serial PRIMARY KEY, nif text UNIQUE, importe numeric(12,2),"
        " fecha date, creada timestamptz, pdf bytea, extra jsonb, ref uuid, tags text[])"
    )
    yield db
    db._close()


def test_postgres_execute_commits_and_counts_rows(pg: DbTool, worker_pg_url: str) -> None:
    assert pg.execute("INSERT INTO facturas (nif) VALUES (%s), (%s)", ["B1", "B2"]) == 2
    assert pg.execute("UPDATE facturas SET importe = %(i)s WHERE nif = %(n)s", {"i": 5, "n": "B1"})
    with psycopg.connect(worker_pg_url) as other:
        rows = other.execute("SELECT nif, importe FROM facturas ORDER BY nif").fetchall()
    assert [(nif, None if v is None else float(v)) for nif, v in rows] == [
        ("B1", 5.0),
        ("B2", None),
    ]


def test_postgres_values_come_back_json_friendly(pg: DbTool) -> None:
    ref = uuid.uuid4()
    rows = pg.query(
        "INSERT INTO facturas (nif, importe, fecha, creada, pdf, extra, ref, tags) VALUES"
        " (%s, %s, %s, %s, %s, %s::jsonb, %s, %s) RETURNING nif, importe, fecha, creada, pdf,"
        " extra, ref, tags",
        [
            "B12345674",
            "1234.56",
            "2024-11-25",
            "2024-11-25T18:30:00+00:00",
            b"%PDF-1",
            '{"proveedor": "Muñoz"}',
            str(ref),
            ["a", "b"],
        ],
    )
    assert rows == [
        {
            "nif": "B12345674",
            "importe": 1234.56,
            "fecha": "2024-11-25",
            "creada": rows[0]["creada"],
            "pdf": b"%PDF-1",
            "extra": {"proveedor": "Muñoz"},
            "ref": str(ref),
            "tags": ["a", "b"],
        }
    ]
    assert rows[0]["creada"].startswith("2024-11-25T")
    # RETURNING through query() is committed too.
    assert pg.query("SELECT count(*) AS n FROM facturas") == [{"n": 1}]


def test_postgres_a_failed_statement_rolls_back_and_the_next_one_works(pg: DbTool) -> None:
    pg.execute("INSERT INTO facturas (nif) VALUES (%s)", ["B1"])
    with pytest.raises(ToolError, match="duplicate key"):
        pg.execute("INSERT INTO facturas (nif) VALUES (%s), (%s)", ["B2", "B1"])
    with pytest.raises(ToolError, match="syntax error"):
        pg.query("SELEC nif FROM facturas")
    assert pg.query("SELECT nif FROM facturas") == [{"nif": "B1"}]


def test_postgres_wrong_parameters_are_tool_errors(pg: DbTool) -> None:
    with pytest.raises(ToolError):
        pg.query("SELECT %s, %s", ["only one"])
    with pytest.raises(ToolError):
        pg.query("SELECT %(a)s", {"b": 1})


def test_postgres_ddl_returns_zero_rows(pg: DbTool) -> None:
    assert pg.execute("CREATE INDEX facturas_fecha ON facturas (fecha)") == 0


def test_postgres_reconnects_after_losing_its_connection(pg: DbTool, postgres_url: str) -> None:
    pg.execute("INSERT INTO facturas (nif) VALUES (%s)", ["B1"])
    backend_pid = pg.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    with pytest.raises(ToolError, match="PostgreSQL error"):
        pg.query("SELECT nif FROM facturas")  # the call in flight fails...
    assert pg.query("SELECT nif FROM facturas") == [{"nif": "B1"}]  # ...the next one reconnects


def test_postgres_unreachable_server_hides_the_password(workspace: Path) -> None:
    db = make_db(workspace, "postgresql://postgres:hunter2@127.0.0.1:1/test")
    with pytest.raises(ToolError, match="cannot connect to PostgreSQL") as error:
        db.query("SELECT 1")
    assert "hunter2" not in str(error.value)
