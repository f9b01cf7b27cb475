"""The WebSocket opening handshake (RFC 6455 section 4), sans I/O: recognise a plain upgrade request
and build the 101 response. Anything unusual is left to aiohttp, which answers it in full.
"""

import base64
import hashlib
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16 * 1024  # bytes of request head we are prepared to read


@dataclass(frozen=True, slots=True)
class Upgrade:
    path: str
    key: str
    origin: str | None
    host: str
    head_size: int  # bytes of the request head, including the blank line
    forwarded_proto: str | None = None  # X-Forwarded-Proto, set by a TLS-terminating proxy


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def parse_upgrade(data: bytes | bytearray) -> Upgrade | None:
    """An Upgrade if `data` begins with a complete, plain WebSocket upgrade request; None otherwise.

    "Plain" means: GET, HTTP/1.1, Upgrade: websocket, Connection containing upgrade, version 13, a key,
    no subprotocol asked for. Extensions a client offers (browsers always offer permessage-deflate) are
    declined by not naming any in the answer (RFC 6455 section 9.1). Callers check that the head is
    complete first.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    try:
        head = bytes(data[:end]).decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        return None
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        key = name.lower()
        if key in headers:
            return None  # repeated headers: let aiohttp decide
        headers[key] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        return None
    if "upgrade" not in (t.strip().lower() for t in headers.get("connection", "").split(",")):
        return None
    if headers.get("sec-websocket-version") != "13" or "sec-websocket-protocol" in headers:
        return None
    if "content-length" in headers or "transfer-encoding" in headers:
        return None
    key = headers.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except ValueError:
        return None
    host = headers.get("host")
    if not host:
        return None
    return Upgrade(path=parts[1], key=key, origin=headers.get("origin"), host=host, head_size=end + 4,
                   forwarded_proto=headers.get("x-forwarded-proto"))


def response_101(key: str) -> bytes:
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()
