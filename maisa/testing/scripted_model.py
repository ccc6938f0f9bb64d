"""A scripted OpenAI-compatible chat-completions server, for tests and offline demos.

It answers `POST /v1/chat/completions` (non-streaming) from a script: a list
of replies consumed in order, one per request. A reply is a string (the
assistant's message) or an object:

    - "```python\\nx = 1\\n```"             # a plain reply
    - {reply: "...", delay: 2.0}           # answer after a delay (seconds)
    - {status: 429}                        # an HTTP error (429, 500, 503, ...)
    - {status: 500, message: "boom"}
    - {malformed: true}                    # HTTP 200 whose body is not JSON
    - {raw: "..."}                         # HTTP 200 with exactly this body
    - {refusal: "I can't help with that"}  # a refusal (content null)
    - {reply: "...", usage: false}         # omit `usage` from the response

A script file is YAML or JSON: either that list, or a mapping
`{replies: [...], loop: true}` (`loop` restarts the script when it runs out).
Running out of replies answers HTTP 500 with a message saying so. Every request
is recorded; tests read `server.requests`, other processes
`GET /_scripted/requests`. `POST /_scripted/script` (a JSON script) replaces
the script and clears the record.

    python3 -m maisa.testing.scripted_model SCRIPT.yaml [--port N] [--loop]

prints the base URL (`http://127.0.0.1:N/v1`) on stdout once it listens.
Responses name the model `scripted: SCRIPT.yaml` (or `--model-name`), not
the one requested, as a real endpoint reports the model that answered; so
a lock made with it says truthfully that it was written by a script.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from maisa.runtime.tokens import estimate_message_tokens, estimate_tokens

DEFAULT_MODEL_NAME = "scripted"


class ScriptError(ValueError):
    """A script file or entry is not in the documented format."""


@dataclass(frozen=True)
class ScriptedReply:
    """One scripted answer (see the module docstring for the forms)."""

    content: str | None = None
    status: int = 200
    message: str | None = None
    delay: float = 0.0
    malformed: bool = False
    raw: str | None = None
    refusal: str | None = None
    usage: bool = True


@dataclass
class Script:
    replies: list[ScriptedReply]
    loop: bool = False


@dataclass
class RecordedRequest:
    """A request the server received, as it arrived."""

    path: str
    body: Any  # the decoded JSON body, or None when it was not JSON
    received_at: float
    reply_index: int | None  # which script entry answered it (None: none left)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def last_user_message(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1].get("content") or "") if users else ""


_REPLY_KEYS = {"reply", "status", "message", "delay", "malformed", "raw", "refusal", "usage"}


def _parse_reply(entry: Any, index: int) -> ScriptedReply:
    if isinstance(entry, str):
        return ScriptedReply(content=entry)
    if not isinstance(entry, dict):
        raise ScriptError(f"script entry {index + 1}: expected a string or a mapping: {entry!r}")
    unknown = set(entry) - _REPLY_KEYS
    if unknown:
        raise ScriptError(
            f"script entry {index + 1}: unknown keys {sorted(unknown)}; "
            f"known: {sorted(_REPLY_KEYS)}"
        )
    status = int(entry.get("status", 200))
    reply = entry.get("reply")
    if (
        status == 200
        and reply is None
        and not (entry.get("malformed") or "raw" in entry or "refusal" in entry)
    ):
        raise ScriptError(
            f"script entry {index + 1}: needs `reply`, `status`, `malformed`, `raw` or `refusal`"
        )
    return ScriptedReply(
        content=None if reply is None else str(reply),
        status=status,
        message=entry.get("message"),
        delay=float(entry.get("delay", 0.0)),
        malformed=bool(entry.get("malformed", False)),
        raw=None if entry.get("raw") is None else str(entry["raw"]),
        refusal=entry.get("refusal"),
        usage=bool(entry.get("usage", True)),
    )


def parse_script(data: Any, *, loop: bool = False) -> Script:
    """A Script from decoded YAML/JSON: a list of replies or `{replies: [...], loop: bool}`."""
    if isinstance(data, dict):
        unknown = set(data) - {"replies", "loop"}
        if unknown:
            raise ScriptError(f"unknown script keys {sorted(unknown)}; known: ['loop', 'replies']")
        loop = bool(data.get("loop", loop))
        data = data.get("replies")
    if not isinstance(data, list):
        raise ScriptError("a script is a list of replies, or a mapping with a `replies` list")
    return Script([_parse_reply(entry, i) for i, entry in enumerate(data)], loop=loop)


def load_script(source: str | Path | list[Any] | dict[str, Any], *, loop: bool = False) -> Script:
    """A Script from a file path, or from already-decoded data."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScriptError(f"{path}: cannot read the script: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path}: not valid YAML: {exc}") from exc
        return parse_script(data, loop=loop)
    return parse_script(source, loop=loop)


class ScriptedModelServer:
    """The server: start it, `load()` a script, point OPENAI_BASE_URL at `url`, read `requests`."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str = DEFAULT_MODEL_NAME,
    ) -> None:
        self.model_name = model_name
        self._lock = threading.Lock()
        self._script = script or Script([])
        self._next = 0
        self._requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL an OpenAI client needs (`.../v1`)."""
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> ScriptedModelServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scripted-model", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def load(self, script: Script | str | Path | list[Any] | dict[str, Any], **kw: Any) -> None:
        """Replace the script and forget the recorded requests."""
        parsed = script if isinstance(script, Script) else load_script(script, **kw)
        with self._lock:
            self._script = parsed
            self._next = 0
            self._requests = []

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat-completion requests received since the last `load()`."""
        with self._lock:
            return list(self._requests)

    @property
    def remaining(self) -> int:
        """Replies not yet used (0 for a looping script that wrapped around is never reached)."""
        with self._lock:
            return max(0, len(self._script.replies) - self._next)

    def _take(self, path: str, body: Any) -> tuple[int | None, ScriptedReply | None]:
        with self._lock:
            replies = self._script.replies
            if self._next >= len(replies) and self._script.loop and replies:
                self._next = 0
            index: int | None = self._next if self._next < len(replies) else None
            if index is not None:
                self._next += 1
            self._requests.append(RecordedRequest(path, body, time.time(), index))
            return index, (replies[index] if index is not None else None)

    def _used(self) -> int:
        with self._lock:
            return self._next


def _completion_body(server: ScriptedModelServer, request: Any, reply: ScriptedReply) -> dict:
    messages = request.get("messages", []) if isinstance(request, dict) else []
    text = reply.content if reply.refusal is None else None
    body: dict[str, Any] = {
        "id": f"chatcmpl-scripted-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": server.model_name,  # who really answered, as a real endpoint reports it
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": reply.refusal},
                "finish_reason": "stop",
            }
        ],
    }
    if reply.usage:
        prompt = estimate_message_tokens(messages)
        completion = estimate_tokens(text or reply.refusal or "")
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return body


def _handler_for(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per response, sent at once: headers and body in separate small writes
        # meet the client's delayed ACK (~40 ms per request on loopback).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
            pass  # tests read `requests`; stderr stays quiet

        def _send(self, status: int, payload: bytes, content_type: str = "application/json"):
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout); nothing to answer

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode())

        def _error(self, status: int, message: str) -> None:
            kind = "rate_limit_error" if status == 429 else "server_error"
            self._json(status, {"error": {"message": message, "type": kind, "code": status}})

        def _body(self) -> tuple[bytes, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return raw, json.loads(raw) if raw else None
            except ValueError:
                return raw, None

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            if self.path.rstrip("/") == "/_scripted/requests":
                self._json(200, [r.__dict__ for r in server.requests])
            elif self.path.rstrip("/") in ("/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [{"id": server.model_name}]})
            elif self.path.rstrip("/") == "/_scripted/health":
                self._json(200, {"ok": True, "remaining": server.remaining})
            else:
                self._error(404, f"scripted model: no such path {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            _, body = self._body()
            path = self.path.rstrip("/")
            if path == "/_scripted/script":
                try:
                    server.load(parse_script(body))
                except ScriptError as exc:
                    self._error(400, f"scripted model: {exc}")
                    return
                self._json(200, {"ok": True, "replies": server.remaining})
                return
            if path not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"scripted model: no such path {self.path}")
                return
            index, reply = server._take(self.path, body)
            if reply is None:
                self._error(
                    500,
                    f"scripted model: the script has no reply left for request "
                    f"{len(server.requests)} (it had {server._used()} replies)",
                )
                return
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._error(
                    reply.status,
                    reply.message or f"scripted model: scripted HTTP {reply.status} (#{index})",
                )
            elif reply.malformed:
                self._send(200, b"{this is not json", "application/json")
            elif reply.raw is not None:
                self._send(200, reply.raw.encode())
            else:
                self._json(200, _completion_body(server, body, reply))

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m maisa.testing.scripted_model",
        description="Serve a scripted OpenAI-compatible chat-completions endpoint.",
    )
    parser.add_argument("script", type=Path, help="YAML or JSON script of replies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--loop", action="store_true", help="restart the script when it runs out")
    parser.add_argument(
        "--model-name", help="the model name to report (default: scripted: SCRIPT's file name)"
    )
    args = parser.parse_args(argv)
    try:
        script = load_script(args.script, loop=args.loop)
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = args.model_name or f"{DEFAULT_MODEL_NAME}: {args.script.name}"
    server = ScriptedModelServer(script, host=args.host, port=args.port, model_name=name)
    print(server.url, flush=True)
    print(
        f"scripted model: {len(script.replies)} replies from {args.script} at {server.url}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
