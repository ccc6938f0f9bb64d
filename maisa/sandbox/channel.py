"""The framed JSON channel between the host and the in-sandbox harness.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8
JSON. Bytes values travel as `{"__bytes__": "<base64>"}`, both ways.

This module is shared by the host and the harness, so it must stay
stdlib-only and importable on its own (the harness runs it from a bare
interpreter with no maisa installed).
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct

HEADER = struct.Struct(">I")
# A frame bigger than this is a protocol violation: the host must never buffer without bound
# what a possibly hostile step sends it.
MAX_FRAME = 64 * 1024 * 1024
BYTES_KEY = "__bytes__"
# A lone surrogate written as a JSON escape ("\ud800"): valid JSON, but not Unicode.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class ChannelClosed(Exception):
    """The other end went away (EOF) before a whole frame arrived."""


class ProtocolViolation(Exception):
    """The other end sent something that is not a valid frame."""


def _default(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {BYTES_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _hook(obj: dict) -> object:
    if len(obj) == 1 and BYTES_KEY in obj and isinstance(obj[BYTES_KEY], str):
        return base64.b64decode(obj[BYTES_KEY])
    return obj


def dumps(value: object) -> bytes:
    """JSON bytes for `value`, with bytes as base64 objects. Raises TypeError if not encodable.

    Lone surrogates (text that is not Unicode, e.g. `"\\ud800"` or bytes decoded with
    surrogateescape) become "?": one such variable used to kill the harness mid-snapshot.
    """
    text = json.dumps(value, default=_default, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "replace")


def loads(data: bytes | str) -> object:
    """The value encoded by `dumps`; lone surrogates sent as JSON escapes become "?"."""
    value = json.loads(data, object_hook=_hook)
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    if _SURROGATE_ESCAPE.search(raw):
        # The other end may be hostile: a string the host cannot encode must not reach it
        # (the store, PostgreSQL and the terminal all refuse lone surrogates).
        value = _scrub(value)
    return value


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def encode_frame(message: object) -> bytes:
    """One frame (header + payload) for `message`."""
    payload = dumps(message)
    if len(payload) > MAX_FRAME:
        raise ValueError(f"message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte frame cap")
    return HEADER.pack(len(payload)) + payload


class FrameBuffer:
    """Accumulates received bytes and yields whole frames; for non-blocking readers."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def next_frame(self) -> object | None:
        """The next complete message, or None until more bytes arrive."""
        if len(self._data) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._data)
        if size > MAX_FRAME:
            raise ProtocolViolation(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte cap")
        if len(self._data) < HEADER.size + size:
            return None
        payload = bytes(self._data[HEADER.size : HEADER.size + size])
        del self._data[: HEADER.size + size]
        try:
            return loads(payload)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested past limit
            raise ProtocolViolation(f"frame is not valid JSON: {exc!r}"[:500]) from None


def _read_exact(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ChannelClosed("channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> object:
    """Blocking read of one message from a file descriptor (the harness side)."""
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolViolation(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte cap")
    return loads(_read_exact(fd, size))


def write_frame(fd: int, message: object) -> None:
    """Blocking write of one message to a file descriptor."""
    view = memoryview(encode_frame(message))
    while view:
        written = os.write(fd, view)
        view = view[written:]
