"""RFC 6455 client-frame parser, sans I/O: feed it bytes, get whole messages and control frames back.

It enforces what a server must: masked frames, no RSV bits (no extensions are negotiated), valid
opcodes, short unfragmented control frames, sane fragmentation, UTF-8 text (checked as fragments arrive,
so a bad message fails fast), valid close codes, and a size limit checked before a payload is buffered.
A violation raises WsError carrying the close code to send.
"""

import codecs
from typing import Any

from parley.protocol.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    valid_close_code,
)
from parley.protocol.wsframe import mask_in_place as _mask_in_place

OP_CONTINUATION = 0x0
NO_STATUS = 1005  # a close frame without a code
_utf8 = codecs.getincrementaldecoder("utf-8")


class WsError(Exception):
    """A protocol violation; close the connection with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Event = tuple[int, Any]  # (OP_TEXT, str) | (OP_BINARY, bytes) | (OP_PING|OP_PONG, bytes) | (OP_CLOSE, (code, reason))


class FrameParser:
    """Call feed() with each chunk read; after the events it returns are handled, check `error`: a
    violation stops parsing, but the messages that preceded it in the same chunk are still returned."""

    __slots__ = ("_buf", "_decoder", "_op", "_parts", "_size", "error", "max_message")

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._op = -1  # opcode of the fragmented message in progress, -1 when none
        self._parts: list[bytes] = []
        self._size = 0
        self._decoder: Any = None
        self.error: WsError | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Parse what `data` completes; keep the rest for the next call. See `error`."""
        events: list[Event] = []
        if self.error is not None:
            return events
        try:
            self._parse(data, events)
        except WsError as exc:
            self.error = exc
            self._buf.clear()
        return events

    def _parse(self, data: bytes, events: list[Event]) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b0 & 0x70:
                raise WsError(1002, "reserved bits set without an extension")
            if not b1 & 0x80:
                raise WsError(1002, "client frames must be masked")
            op, fin = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            head = 6
            if n == 126:
                if end - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 8
            elif n == 127:
                if end - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                if n >> 63:
                    raise WsError(1002, "invalid payload length")
                head = 14
            if op >= 0x8:
                if op not in (OP_CLOSE, OP_PING, OP_PONG):
                    raise WsError(1002, f"reserved opcode {op}")
                if not fin or n > 125:
                    raise WsError(1002, "control frames must be whole and at most 125 bytes")
            elif op == OP_CONTINUATION:
                if self._op < 0:
                    raise WsError(1002, "continuation frame without a message to continue")
            elif op in (OP_TEXT, OP_BINARY):
                if self._op >= 0:
                    raise WsError(1002, "new message before the fragmented one ended")
            else:
                raise WsError(1002, f"reserved opcode {op}")
            if op < 0x8 and self._size + n > self.max_message:
                raise WsError(1009, f"message over {self.max_message} bytes")
            if end - pos < head + n:
                break
            payload = buf[pos + head:pos + head + n]
            _mask_in_place(bytes(buf[pos + head - 4:pos + head]), payload)
            pos += head + n
            if op >= 0x8:
                events.append(self._control(op, payload))
                if op == OP_CLOSE:
                    break
            elif fin and op != OP_CONTINUATION:
                if op == OP_TEXT:
                    try:
                        events.append((OP_TEXT, payload.decode("utf-8")))
                    except UnicodeDecodeError:
                        raise WsError(1007, "text frame is not valid UTF-8") from None
                else:
                    events.append((OP_BINARY, bytes(payload)))
            else:
                event = self._fragment(op, fin, payload)
                if event is not None:
                    events.append(event)
        del buf[:pos]

    def _fragment(self, op: int, fin: int, payload: bytearray) -> Event | None:
        if op != OP_CONTINUATION:
            self._op = op
            self._decoder = _utf8() if op == OP_TEXT else None
        self._size += len(payload)
        if self._decoder is not None:
            try:
                self._parts.append(self._decoder.decode(bytes(payload), final=bool(fin)))
            except UnicodeDecodeError:
                raise WsError(1007, "text message is not valid UTF-8") from None
        else:
            self._parts.append(bytes(payload))
        if not fin:
            return None
        parts, kind = self._parts, self._op
        self._parts, self._op, self._size, self._decoder = [], -1, 0, None
        if kind == OP_TEXT:
            return (OP_TEXT, "".join(parts))  # type: ignore[arg-type]
        return (OP_BINARY, b"".join(parts))

    @staticmethod
    def _control(op: int, payload: bytearray) -> Event:
        if op != OP_CLOSE:
            return (op, bytes(payload))
        if not payload:
            return (OP_CLOSE, (NO_STATUS, ""))
        if len(payload) == 1:
            raise WsError(1002, "close frame with a 1-byte payload")
        code = int.from_bytes(payload[:2], "big")
        if not valid_close_code(code):
            raise WsError(1002, f"invalid close code {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise WsError(1007, "close reason is not valid UTF-8") from None
        return (OP_CLOSE, (code, reason))
