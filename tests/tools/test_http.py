"""The `http` tool against a real HTTP server on 127.0.0.1: allow-list, redirects, caps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from maisa.errors import ToolError
from maisa.tools import http as http_module
from maisa.tools.base import ToolContext
from maisa.tools.http import HttpTool, host_allowed


class Handler(BaseHTTPRequestHandler):
    """Routes for the tests; `localhost` links point to the same server under a non-listed name."""

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        report = {
            "method": self.command,
            "path": url.path,
            "query": parse_qs(url.query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        self._send(200, json.dumps(report).encode(), {"Content-Type": "application/json"})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        port = self.server.server_address[1]
        route = urlsplit(self.path).path
        if route == "/hola":
            body = "¡Hola, señor Muñoz!".encode("latin-1")
            self._send(200, body, {"Content-Type": "text/plain; charset=latin-1", "X-Id": "7"})
        elif route == "/echo":
            self._echo()
        elif route == "/missing":
            self._send(404, b"not here")
        elif route == "/inside":
            self._send(302, b"", {"Location": "/hola"})
        elif route == "/outside":
            self._send(302, b"", {"Location": f"http://localhost:{port}/hola"})
        elif route == "/outside-echo":
            self._send(302, b"", {"Location": f"http://localhost:{port}/echo"})
        elif route == "/to-file":
            self._send(302, b"", {"Location": "file:///etc/passwd"})
        elif route == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif route == "/big":
            self._send(200, b"x" * 5000)
        elif route == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        elif route == "/slow":
            time.sleep(2)
            self._send(200, b"late")
        else:
            self._send(404, b"")

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == "/post-then-get":
            self._send(303, b"", {"Location": "/echo"})
        else:
            self._echo()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (the tests' timeouts) are expected here


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def http(workspace: Path) -> HttpTool:
    return HttpTool(ToolContext(workspace=workspace, allowed_hosts=["127.0.0.1"]))


def test_get_returns_status_headers_and_decoded_text(http: HttpTool, server: str) -> None:
    response = http.get(f"{server}/hola")
    assert response["status"] == 200
    assert response["text"] == "¡Hola, señor Muñoz!"
    assert response["headers"]["x-id"] == "7"
    assert response["headers"]["content-type"] == "text/plain; charset=latin-1"


def test_get_sends_params_and_headers(http: HttpTool, server: str) -> None:
    response = http.get(f"{server}/echo", params={"nif": "B12345674"}, headers={"X-Key": "k"})
    sent = json.loads(response["text"])
    assert sent["query"] == {"nif": ["B12345674"]}
    assert sent["headers"]["x-key"] == "k"


def test_an_http_error_status_is_returned_not_raised(http: HttpTool, server: str) -> None:
    assert http.get(f"{server}/missing")["status"] == 404


def test_post_sends_json_form_or_raw_bodies(http: HttpTool, server: str) -> None:
    as_json = json.loads(http.post(f"{server}/echo", json={"importe": 12.5})["text"])
    assert as_json["method"] == "POST"
    assert json.loads(as_json["body"]) == {"importe": 12.5}
    assert as_json["headers"]["content-type"] == "application/json"
    as_form = json.loads(http.post(f"{server}/echo", data={"a": "ñ"})["text"])
    assert as_form["body"] == "a=%C3%B1"
    raw = json.loads(http.post(f"{server}/echo", data="<xml/>", headers={"X-T": "1"})["text"])
    assert raw["body"] == "<xml/>"
    with pytest.raises(ToolError, match="not both"):
        http.post(f"{server}/echo", json={}, data="x")


def test_hosts_not_listed_are_refused_before_any_connection(http: HttpTool, server: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ToolError, match="'localhost' is not allowed") as error:
        http.get(f"http://localhost:{port}/hola")
    assert "limits.network" in error.value.message
    with pytest.raises(ToolError, match="not allowed"):
        http.get("http://169.254.169.254/latest/meta-data/")


def test_with_the_network_off_every_call_says_how_to_allow_it(workspace: Path, server: str) -> None:
    offline = HttpTool(ToolContext(workspace=workspace))
    for call in (lambda: offline.get(f"{server}/hola"), lambda: offline.post(f"{server}/echo")):
        with pytest.raises(ToolError, match="network access is off.*limits.network"):
            call()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "127.0.0.1/hola"]
)
def test_schemes_other_than_http_and_https_are_refused(http: HttpTool, url: str) -> None:
    with pytest.raises(ToolError, match="only http and https"):
        http.get(url)


def test_redirects_within_the_allow_list_are_followed(http: HttpTool, server: str) -> None:
    assert http.get(f"{server}/inside")["text"] == "¡Hola, señor Muñoz!"


def test_redirects_that_leave_the_allow_list_are_refused(http: HttpTool, server: str) -> None:
    with pytest.raises(ToolError, match="'localhost' is not allowed"):
        http.get(f"{server}/outside")
    with pytest.raises(ToolError, match="only http and https"):
        http.get(f"{server}/to-file")


def test_credentials_do_not_follow_a_redirect_to_another_host(workspace: Path, server: str) -> None:
    both = HttpTool(ToolContext(workspace=workspace, allowed_hosts=["127.0.0.1", "localhost"]))
    headers = {"Authorization": "Bearer s3cr3t", "Cookie": "a=b", "X-Trace": "1"}
    sent = json.loads(both.get(f"{server}/outside-echo", headers=headers)["text"])
    assert "authorization" not in sent["headers"]
    assert "cookie" not in sent["headers"]
    assert sent["headers"]["x-trace"] == "1"
    same_host = json.loads(both.get(f"{server}/echo", headers=headers)["text"])
    assert same_host["headers"]["authorization"] == "Bearer s3cr3t"


def test_a_listed_port_restricts_the_host_to_it(workspace: Path, server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    pinned = HttpTool(ToolContext(workspace=workspace, allowed_hosts=[f"127.0.0.1:{port}"]))
    assert pinned.get(f"{server}/hola")["status"] == 200
    with pytest.raises(ToolError, match="not allowed"):
        pinned.get("http://127.0.0.1/hola")


def test_redirect_loops_stop(http: HttpTool, server: str) -> None:
    with pytest.raises(ToolError, match="redirects"):
        http.get(f"{server}/loop")


def test_a_303_after_post_becomes_a_get_without_the_body(http: HttpTool, server: str) -> None:
    sent = json.loads(http.post(f"{server}/post-then-get", json={"x": 1})["text"])
    assert sent["method"] == "GET"
    assert sent["body"] == ""


def test_responses_over_the_cap_are_refused(
    http: HttpTool, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module, "MAX_RESPONSE_BYTES", 1000)
    with pytest.raises(ToolError, match="larger than 1000 bytes"):
        http.get(f"{server}/big")


def test_a_slow_server_times_out(
    workspace: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module, "TIMEOUT_S", 0.3)
    http = HttpTool(ToolContext(workspace=workspace, allowed_hosts=["127.0.0.1"]))
    with pytest.raises(ToolError, match="timed out"):
        http.get(f"{server}/slow")


def test_a_slowly_dripping_body_hits_the_total_deadline(
    http: HttpTool, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each byte arrives well within the per-read timeout; only the total deadline stops it.
    monkeypatch.setattr(http_module, "TOTAL_TIMEOUT_S", 0.5)
    started = time.monotonic()
    with pytest.raises(ToolError, match="took longer than 0.5s"):
        http.get(f"{server}/drip")
    assert time.monotonic() - started < 3


def test_a_closed_port_is_a_clear_error(http: HttpTool) -> None:
    with pytest.raises(ToolError, match="failed"):
        http.get("http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("host", "port", "allowed", "expected"),
    [
        ("api.example.com", 443, ["api.example.com"], True),
        ("API.Example.COM", 443, ["api.example.com"], True),
        ("evil-api.example.com", 443, ["api.example.com"], False),
        ("api.example.com.evil.net", 443, ["api.example.com"], False),
        ("a.example.com", 443, ["*.example.com"], True),
        ("a.b.example.com", 443, ["*.example.com"], True),
        ("example.com", 443, ["*.example.com"], False),
        ("badexample.com", 443, ["*.example.com"], False),
        ("127.0.0.1", 8080, ["127.0.0.1:8080"], True),
        ("127.0.0.1", 8081, ["127.0.0.1:8080"], False),
        ("::1", 80, ["::1"], True),
        ("::1", 80, ["[::1]:80"], True),
        ("anything", 80, [], False),
    ],
)
def test_allow_list_matching(host: str, port: int, allowed: list[str], expected: bool) -> None:
    assert host_allowed(host, port, allowed) is expected
