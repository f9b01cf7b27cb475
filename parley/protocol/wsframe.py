"""RFC 6455 server-side frame encoding (unmasked, unfragmented) and close-code rules; pure functions."""

import struct

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG", "OP_TEXT", "close_payload", "encode_frame",
           "mask_in_place", "valid_close_code"]

try:  # aiohttp's C masking routine; a big-integer XOR does the same where it is missing
    from aiohttp._websocket.helpers import websocket_mask as mask_in_place
except ImportError:  # pragma: no cover
    def mask_in_place(mask: bytes, data: bytearray) -> None:
        """XOR `data` with the 4-byte `mask`, in place (RFC 6455 section 5.3)."""
        n = len(data)
        key = (mask * (n // 4 + 1))[:n]
        data[:] = (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_pack_short = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final (FIN) frame carrying `payload`, as a server sends it (no mask)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return _pack_short(first, 126, n) + payload
    return _pack_long(first, 127, n) + payload


def close_payload(code: int, reason: str = "") -> bytes:
    """The body of a close frame: a 2-byte code and a UTF-8 reason of at most 123 bytes."""
    return code.to_bytes(2, "big") + reason.encode()[:123]


def valid_close_code(code: int) -> bool:
    """Whether a peer may send `code` in a close frame (RFC 6455 section 7.4)."""
    if 3000 <= code <= 4999:
        return True
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)
