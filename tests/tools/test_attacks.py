"""Attacks on the host side of tools, as prompt-injected step code would make them.

Tools run on the host with the host's rights, so each argument here is hostile:
paths that try to leave the workspace or exhaust the disk, SQL that tries to
leave the database or hang the host, URLs that try to reach local services,
and values shaped to crash the broker or the channel.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maisa.errors import ToolError
from maisa.sandbox.channel import HEADER, FrameBuffer, ProtocolViolation
from maisa.tools import db_backends, paths
from maisa.tools import http as http_module
from maisa.tools.base import ToolContext
from maisa.tools.broker import ToolBroker
from maisa.tools.db import DbTool
from maisa.tools.files import FilesTool
from maisa.tools.http import HttpTool

# -- files: the host's disk ---------------------------------------------------------------


@pytest.fixture
def files(ctx: ToolContext) -> FilesTool:
    return FilesTool(ctx)


def test_a_deep_directory_tree_is_refused_before_anything_is_created(files, workspace):
    # 2,000 levels once broke os.walk and shutil.rmtree on the host's workspace.
    with pytest.raises(ToolError, match="nested 201 deep; the limit is 32"):
        files.write_text("a/" * 200 + "x", "")
    assert os.listdir(workspace) == []


def test_a_path_longer_than_the_limit_is_refused(files):
    with pytest.raises(ToolError, match="the limit is 1024"):
        files.write_text("x" * 5000, "")
    with pytest.raises(ToolError, match="the limit is 1024"):
        files.read_text("y/" * 3000)


def test_a_run_cannot_fill_the_host_disk(files, workspace, monkeypatch):
    monkeypatch.setattr(paths, "MAX_WORKSPACE_BYTES", 1000)
    files.write_bytes("a.bin", b"x" * 600)
    files.write_bytes("a.bin", b"y" * 900)  # replacing a file counts only what it grew by
    with pytest.raises(ToolError, match="past 1000 bytes written to the workspace"):
        files.write_bytes("b.bin", b"z" * 200)
    assert (workspace / "a.bin").read_bytes() == b"y" * 900
    assert not (workspace / "b.bin").exists()


def test_a_refused_overwrite_leaves_the_old_contents(files, workspace, monkeypatch):
    monkeypatch.setattr(paths, "MAX_WORKSPACE_BYTES", 100)
    files.write_text("keep.txt", "precious")
    with pytest.raises(ToolError):
        files.write_text("keep.txt", "x" * 500)
    assert (workspace / "keep.txt").read_text() == "precious"


def test_a_run_cannot_create_unbounded_files(files, monkeypatch):
    monkeypatch.setattr(paths, "MAX_NEW_ENTRIES", 5)
    for index in range(4):
        files.write_text(f"f{index}", "")
    with pytest.raises(ToolError, match="already created 5 files and directories"):
        files.write_text("d/e", "")  # the directory is the 5th entry, the file the 6th


def test_a_symlink_planted_in_the_workspace_does_not_lead_outside(files, workspace, outside):
    (workspace / "link").symlink_to(outside / "secret.txt")
    (workspace / "dirlink").symlink_to(outside)
    for path in ("link", "dirlink/secret.txt"):
        with pytest.raises(ToolError, match="outside the run's workspace"):
            files.read_text(path)
    with pytest.raises(ToolError, match="outside the run's workspace"):
        files.write_text("dirlink/new.txt", "x")
    assert sorted(os.listdir(outside)) == ["secret.txt"]


@pytest.mark.parametrize(
    "path", ["../outside/secret.txt", "sub/../../outside/secret.txt", "/proc/self/environ"]
)
def test_dot_dot_and_absolute_paths_stay_confined(files, path):
    with pytest.raises(ToolError, match="outside the run's workspace"):
        files.read_text(path)


def test_unicode_lookalikes_of_dot_dot_are_plain_names_inside(files, workspace):
    # U+2025 (two dot leader) and fullwidth dots are ordinary characters to the kernel.
    files.write_text("\u2025/x", "a")
    files.write_text("\uff0e\uff0e/y", "b")
    assert (workspace / "\u2025" / "x").read_text() == "a"
    assert (workspace / "\uff0e\uff0e" / "y").read_text() == "b"


# -- db: SQLite runs inside the host process -----------------------------------------------


@pytest.fixture
def lite(workspace: Path, tmp_path: Path) -> Iterator[DbTool]:
    db = DbTool(ToolContext(workspace=workspace), secret=f"sqlite:///{tmp_path / 'w.db'}")
    db.execute("CREATE TABLE t (x)")
    yield db
    db._close()


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE '{dir}/evil.db' AS e",
        "VACUUM INTO '{dir}/copy.db'",
        "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libc.so.6')",
        "PRAGMA writable_schema = ON",
        "PRAGMA temp_store_directory = '{dir}'",
        "PRAGMA schema_version = 7",
        "PRAGMA trusted_schema = ON",
        "SELECT fts3_tokenizer('simple')",
    ],
)
def test_sqlite_cannot_touch_other_files_or_its_own_memory(lite, tmp_path, sql):
    with pytest.raises(ToolError, match="not authorized|authorization denied"):
        lite.query(sql.format(dir=tmp_path), None)
    assert sorted(os.listdir(tmp_path)) == ["w.db", "workspace"]


def test_sqlite_hands_out_no_host_pointer(lite):
    # fts3_tokenizer('simple') returned the address of a C struct: an ASLR leak of the host.
    with pytest.raises(ToolError, match="fts3_tokenizer"):
        lite.query("SELECT hex(fts3_tokenizer('simple')) AS p", None)


def test_a_runaway_sqlite_query_is_stopped(lite, monkeypatch):
    monkeypatch.setattr(db_backends, "STATEMENT_TIMEOUT_MS", 300)
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    started = time.monotonic()
    with pytest.raises(ToolError, match="ran past 0s and was stopped"):
        lite.query(endless, None)
    assert time.monotonic() - started < 5
    assert lite.query("SELECT 1 AS one", None) == [{"one": 1}]  # the connection still works


def test_sqlite_cannot_allocate_a_gigabyte_on_the_host(lite):
    with pytest.raises(ToolError, match="too big"):
        lite.query("SELECT randomblob(1000000000) AS b", None)


def test_a_sqlite_result_is_bounded_in_bytes(lite, monkeypatch):
    monkeypatch.setattr(db_backends, "MAX_RESULT_BYTES", 10_000)
    with pytest.raises(ToolError, match="more than 10000 bytes"):
        lite.query("SELECT randomblob(4000) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3)", None)


# -- db: PostgreSQL; what step code can do is what the URL's role can do ---------------------


@pytest.fixture
def limited_pg(workspace: Path, worker_pg_url: str) -> Iterator[DbTool]:
    """The db tool as an ordinary role (no superuser, no pg_*_server_* membership)."""
    db = DbTool(ToolContext(workspace=workspace), secret=worker_pg_url)
    yield db
    db._close()


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO PROGRAM 'touch /tmp/maisa-attack-pwned'",
        "COPY (SELECT 1) TO '/tmp/maisa-attack-copy'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_ls_dir('/')",
        "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/maisa-attack-lo')",
        "SELECT lo_import('/etc/passwd')",
        "CREATE FUNCTION s(text) RETURNS int AS '/lib/x86_64-linux-gnu/libc.so.6', 'system' "
        "LANGUAGE C",
        "SET ROLE postgres",
        "SET SESSION AUTHORIZATION postgres",
        "GRANT pg_execute_server_program TO CURRENT_USER",
        "ALTER ROLE CURRENT_USER SUPERUSER",
    ],
)
def test_an_ordinary_role_cannot_reach_the_database_servers_files_or_shell(limited_pg, sql):
    with pytest.raises(ToolError, match="PostgreSQL error: .*(permission denied|must (be|have))"):
        limited_pg.query(sql, None)
    assert not any(Path("/tmp").glob("maisa-attack-*"))


# -- http: local services stay unreachable through names --------------------------------------


def fake_dns(monkeypatch, address: str) -> None:
    def resolve(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(http_module.socket, "getaddrinfo", resolve)


def http_tool(workspace: Path, allowed: list[str]) -> HttpTool:
    return HttpTool(ToolContext(workspace=workspace, allowed_hosts=allowed))


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "0.0.0.0"]
)
def test_an_allowed_name_resolving_to_a_local_address_is_refused(workspace, monkeypatch, address):
    fake_dns(monkeypatch, address)
    with pytest.raises(ToolError, match="resolves to the local address"):
        http_tool(workspace, ["api.example.com"]).get("http://api.example.com/")


def test_a_wildcard_name_resolving_to_a_private_address_is_refused(workspace, monkeypatch):
    # e.g. `*.amazonaws.com` has names like ec2-10-0-0-1... chosen by whoever owns them.
    fake_dns(monkeypatch, "10.0.0.1")
    with pytest.raises(ToolError, match="allowed only through a wildcard"):
        http_tool(workspace, ["*.example.com"]).get("http://internal.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com@127.0.0.1/",
        "http://127.0.0.1#@api.example.com/",
        "http://api.example.com.127.0.0.1.nip.io/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_url_tricks_do_not_pass_the_allow_list(workspace, url):
    with pytest.raises(ToolError, match="is not allowed|invalid URL"):
        http_tool(workspace, ["api.example.com"]).get(url)


# -- the broker and the channel ------------------------------------------------------------


class Echo:
    def echo(self, value: object) -> object:
        return "ok"

    def leak(self) -> None:
        raise RuntimeError("connect failed for postgresql://u:hunter2-secret@db/x")


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_deeply_nested_arguments_are_a_tool_error_not_a_host_crash():
    broker = ToolBroker({"t": Echo()})
    with pytest.raises(ToolError, match="nested more than 50 deep"):
        broker.call("t", "echo", [nested(900)], {})
    (call,) = broker.take_calls()
    assert not call.ok and "nested" in (call.error or "")
    assert broker.call("t", "echo", [nested(40)], {}) == "ok"


def test_a_tool_error_message_reaching_the_step_is_redacted():
    broker = ToolBroker({"t": Echo()}, redact=lambda text: text.replace("hunter2-secret", "***"))
    with pytest.raises(ToolError) as error:
        broker.call("t", "leak", [], {})
    assert "hunter2" not in error.value.message


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 200_000 + b"]" * 200_000,  # past the JSON decoder's recursion limit
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        b'{"__bytes__": "not base64!"}',
        b"1" * 10_000,  # an int beyond Python's digit limit
        b"\xff\xfe not utf-8",
    ],
)
def test_hostile_frames_are_protocol_violations(payload):
    buffer = FrameBuffer()
    buffer.feed(frame(payload))
    with pytest.raises(ProtocolViolation):
        buffer.next_frame()


def test_a_frame_announcing_four_gigabytes_is_refused_before_buffering():
    buffer = FrameBuffer()
    buffer.feed(HEADER.pack(0xFFFFFFFF) + b"{")
    with pytest.raises(ProtocolViolation, match="exceeds"):
        buffer.next_frame()


def test_a_forged_bytes_object_is_only_bytes():
    buffer = FrameBuffer()
    buffer.feed(frame(json.dumps({"__bytes__": "aGk=", "x": 1}).encode()))
    assert buffer.next_frame() == {"__bytes__": "aGk=", "x": 1}  # two keys: stays a dict
    buffer.feed(frame(b'{"__bytes__": "aGk="}'))
    assert buffer.next_frame() == b"hi"


def test_a_deeply_nested_variable_or_result_does_not_reach_the_host_whole(sandbox, open_session):
    # The host walks snapshots and results recursively (store, schema, redaction): a 600-deep
    # list once crashed the whole run with RecursionError.
    session = open_session(sandbox)
    deep = "deep = []\nfor _ in range(600):\n    deep = [deep]\n"
    outcome = session.run(deep + "shallow = [[1]]", timeout=10)
    assert outcome.status.value == "OK", outcome.error
    assert outcome.variables["deep"] == "<not kept: nested over 64 levels>"
    assert outcome.variables["shallow"] == [[1]]
    finished = session.run("finish({'x': deep})", timeout=10)
    assert finished.status.value == "ERROR" and not finished.finished
    assert "nests over 64 levels" in (finished.error or "")


def test_a_lone_surrogate_neither_kills_the_harness_nor_reaches_the_host(sandbox, open_session):
    # `x = "\ud800"` used to crash the harness while it encoded the snapshot (session dead).
    session = open_session(sandbox)
    outcome = session.run('x = "\\ud800"\nfinish({"y": "a\\udcff"})', timeout=10)
    assert outcome.status.value == "OK" and session.alive, outcome.error
    assert outcome.variables["x"] == "?" and outcome.result == {"y": "a?"}


def test_a_hostile_harness_cannot_send_the_host_a_lone_surrogate():
    buffer = FrameBuffer()
    buffer.feed(frame(b'{"stdout": "\\ud800", "\\udfff": ["\\ud83d\\ude00"]}'))
    assert buffer.next_frame() == {"stdout": "?", "?": ["\U0001f600"]}
