"""The sans-I/O WebSocket layer on its own: frame parser, frame encoder and the upgrade handshake."""

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.protocol.handshake import accept_key, parse_upgrade, response_101
from parley.protocol.wsframe import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, encode_frame
from parley.protocol.wsparser import NO_STATUS, FrameParser


def client_frame(op: int, payload: bytes, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    mask = mask or os.urandom(4)
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | op
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_text_binary_and_control_frames() -> None:
    p = FrameParser(1 << 20)
    data = client_frame(OP_TEXT, "héllo".encode()) + client_frame(OP_BINARY, b"\x00\x01") + client_frame(OP_PING, b"x")
    assert p.feed(data) == [(OP_TEXT, "héllo"), (OP_BINARY, b"\x00\x01"), (OP_PING, b"x")]


def test_fragmented_message_with_interleaved_ping() -> None:
    p = FrameParser(1 << 20)
    data = client_frame(OP_TEXT, b"ab", fin=False) + client_frame(OP_PING, b"") + client_frame(0, b"cd")
    assert p.feed(data) == [(OP_PING, b""), (OP_TEXT, "abcd")]


@pytest.mark.parametrize(("frame", "code"), [
    (client_frame(OP_TEXT, b"\xff\xfe"), 1007),
    (client_frame(OP_TEXT, b"x", rsv=0x40), 1002),
    (bytes((0x81, 0x01)) + b"x", 1002),  # unmasked
    (client_frame(0x3, b""), 1002),  # reserved opcode
    (client_frame(OP_PING, b"x" * 126), 1002),  # control frame too long
    (client_frame(OP_PING, b"", fin=False), 1002),
    (client_frame(0, b"x"), 1002),  # continuation with nothing to continue
    (client_frame(OP_CLOSE, (999).to_bytes(2, "big")), 1002),
    (client_frame(OP_CLOSE, b"\x03"), 1002),
    (client_frame(OP_CLOSE, (1000).to_bytes(2, "big") + b"\xff"), 1007),
    (client_frame(OP_TEXT, b"x" * 200), 1009),
])
def test_violations_carry_their_close_code(frame: bytes, code: int) -> None:
    p = FrameParser(100)
    assert p.feed(client_frame(OP_TEXT, b"before") + frame) == [(OP_TEXT, "before")]
    assert p.error is not None and p.error.code == code
    assert p.feed(client_frame(OP_TEXT, b"after")) == []  # nothing more is parsed after a violation


def test_size_limit_applies_before_the_payload_arrives() -> None:
    frame = client_frame(OP_BINARY, b"x" * 70_000)
    p = FrameParser(65_536)
    p.feed(frame[:14])  # the header alone announces too much
    assert p.error is not None and p.error.code == 1009


def test_close_frames() -> None:
    assert FrameParser(10).feed(client_frame(OP_CLOSE, b"")) == [(OP_CLOSE, (NO_STATUS, ""))]
    assert FrameParser(10).feed(client_frame(OP_CLOSE, (4000).to_bytes(2, "big") + b"bye")) == [
        (OP_CLOSE, (4000, "bye"))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=300)), min_size=1, max_size=8),
       st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=20))
def test_any_split_of_the_stream_gives_the_same_messages(messages: list, cuts: list[int]) -> None:
    stream = b""
    expected = []
    for op, payload in messages:
        if op == OP_TEXT:
            payload = payload.decode("utf-8", "replace").encode()
            expected.append((op, payload.decode()))
        else:
            expected.append((op, payload))
        stream += client_frame(op, payload)
    p, got, pos, i = FrameParser(1 << 20), [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got += p.feed(stream[pos:pos + step])
        pos, i = pos + step, i + 1
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_is_either_parsed_or_refused_with_a_close_code(data: bytes) -> None:
    p = FrameParser(1000)
    p.feed(data)  # raises nothing
    assert p.error is None or p.error.code in (1002, 1007, 1009)


def test_encode_frame_lengths() -> None:
    assert encode_frame(b"hi")[:2] == b"\x81\x02"
    assert encode_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert encode_frame(b"x" * 70_000)[:2] == b"\x81\x7f"


def test_handshake_accept_key_matches_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response_101("dGhlIHNhbXBsZSBub25jZQ==")


def _request(*extra: str, key: str = "dGhlIHNhbXBsZSBub25jZQ==", method: str = "GET") -> bytes:
    lines = [f"{method} /ws HTTP/1.1", "Host: h:1", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_plain_upgrade_is_recognised() -> None:
    up = parse_upgrade(_request("Origin: http://h:1") + b"tail")
    assert up is not None and up.path == "/ws" and up.origin == "http://h:1" and up.host == "h:1"
    assert _request("Origin: http://h:1")[up.head_size:] == b""


def test_offered_extensions_are_declined_on_the_fast_path() -> None:
    """Browsers always offer permessage-deflate: the server answers without it (RFC 6455 section 9.1)."""
    up = parse_upgrade(_request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                                "X-Forwarded-Proto: https"))
    assert up is not None and up.forwarded_proto == "https"
    assert b"Extensions" not in response_101(up.key)


@pytest.mark.parametrize("request_bytes", [
    _request(method="POST"),
    _request("Sec-WebSocket-Protocol: chat"),
    _request(key=base64.b64encode(b"short").decode()),
    _request("Host: twice"),
    b"GET /ws HTTP/1.1\r\nHost: h\r\n",  # incomplete
])
def test_anything_unusual_is_left_to_aiohttp(request_bytes: bytes) -> None:
    assert parse_upgrade(request_bytes) is None
