"""The framed JSON channel: what crosses between host and harness, and what is refused."""

from __future__ import annotations

import os

import pytest

from maisa.sandbox import channel


def test_bytes_survive_a_round_trip_base64_encoded():
    message = {"data": b"\x00\xff%PDF", "nested": [b"", {"x": b"abc"}], "text": "ñ"}
    encoded = channel.dumps(message)
    assert b"__bytes__" in encoded and b"%PDF" not in encoded
    assert channel.loads(encoded) == message


def test_a_frame_is_rebuilt_from_chunks_of_any_size():
    frames = channel.encode_frame({"a": 1}) + channel.encode_frame({"b": [2, 3]})
    buffer = channel.FrameBuffer()
    received = []
    for byte in frames:
        buffer.feed(bytes([byte]))
        while (message := buffer.next_frame()) is not None:
            received.append(message)
    assert received == [{"a": 1}, {"b": [2, 3]}]


def test_an_oversized_frame_header_is_a_protocol_violation_not_an_allocation():
    buffer = channel.FrameBuffer()
    buffer.feed(channel.HEADER.pack(channel.MAX_FRAME + 1))
    with pytest.raises(channel.ProtocolViolation):
        buffer.next_frame()


def test_garbage_payload_is_a_protocol_violation():
    buffer = channel.FrameBuffer()
    buffer.feed(channel.HEADER.pack(3) + b"{{{")
    with pytest.raises(channel.ProtocolViolation):
        buffer.next_frame()


def test_values_that_are_not_json_are_refused_on_encoding():
    with pytest.raises(TypeError):
        channel.dumps({"f": object()})
    with pytest.raises(ValueError):
        channel.dumps(float("nan"))


def test_blocking_reader_and_writer_agree_over_a_pipe():
    read_fd, write_fd = os.pipe()
    try:
        channel.write_frame(write_fd, {"type": "ready", "blob": b"\x01" * 1000})
        assert channel.read_frame(read_fd) == {"type": "ready", "blob": b"\x01" * 1000}
        os.close(write_fd)
        write_fd = -1
        with pytest.raises(channel.ChannelClosed):
            channel.read_frame(read_fd)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_the_channel_module_imports_with_the_stdlib_alone(tmp_path):
    import subprocess
    import sys

    CODE = "import sys; sys.path.insert(0, '.'); import channel; assert 'maisa' not in sys.modules"
    source = (channel.__file__, tmp_path / "channel.py")
    source[1].write_text(open(source[0]).read())
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CODE], cwd=tmp_path, capture_output=True
    )
    assert result.returncode == 0, result.stderr
