"""Turning bytes into client frames and server frames into bytes, with clear error messages.

Pure functions: no I/O, no asyncio, so they can be fuzzed on their own (tests/test_protocol_fuzz.py).
"""

import re

import msgspec

from parley.protocol.codes import ErrorCode
from parley.protocol.frames import ClientFrame, Error, Ref
from parley.protocol.names import room_key

_decoder = msgspec.json.Decoder(ClientFrame)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
encode = _encoder.encode

TOO_DEEP = "frame is nested too deeply"
_AT = re.compile(r" - at `\$\.(\w+)`$")
_FRIENDLY = {
    "room": "room must be 1-64 characters of letters, digits, '.', '_' or '-'",
    "client_id": "client_id must be a string of 1-128 characters, without U+0000",
    "since": "since must be an integer from 0 to 2^63-1",
    "before": "before must be an integer from 0 to 2^63-1",
    "limit": "limit must be an integer >= 1",
}


class ProtocolError(Exception):
    """A client frame that cannot be accepted; becomes an `error` frame, the connection stays open."""

    def __init__(self, code: ErrorCode, message: str, ref: Ref = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def frame(self) -> bytes:
        return encode(Error(code=self.code.value, message=self.message, ref=self.ref))


def decode_client_frame(data: bytes | str) -> ClientFrame:
    """Parse one client frame; raise ProtocolError(bad_request) with a readable reason."""
    try:
        frame = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _explain(exc, data), _salvage_ref(data)) from None
    except UnicodeDecodeError:  # bytes with invalid UTF-8 inside a JSON string
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid UTF-8") from None
    except RecursionError:  # msgspec's depth limit: thousands of nested arrays or objects
        raise ProtocolError(ErrorCode.BAD_REQUEST, TOO_DEEP) from None
    room = getattr(frame, "room", None)
    if room is not None and not room.islower() and room != room.lower():  # islower: the common case, fast
        frame = msgspec.structs.replace(frame, room=room_key(room))
    return frame


def _explain(exc: msgspec.DecodeError, data: bytes | str) -> str:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return "frame is not valid JSON"
    if text.startswith("Expected `object`"):
        return "frame must be a JSON object"
    if text == "Object missing required field `type`":
        return 'frame must have a "type"'
    m = _AT.search(text)
    field = m.group(1) if m else None
    if field == "type":
        return f"unknown frame type {_field_repr(data, 'type')}"
    if field in _FRIENDLY and "missing" not in text:
        return _FRIENDLY[field]
    if text.startswith("Object missing required field"):
        return text.replace("Object missing required field", "missing field").replace("`", '"')
    return text.replace("`", '"').replace('$.', "")


def _field_repr(data: bytes | str, key: str) -> str:
    try:
        obj = _any_decoder.decode(data)
        return repr(obj.get(key))[:80]  # (a frame nested too deeply never gets here: it is not valid JSON)
    except Exception:
        return "?"


def _salvage_ref(data: bytes | str) -> Ref:
    """The "ref" of a frame that failed validation, so the error can still be matched by the client."""
    try:
        obj = _any_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict):
        ref = obj.get("ref")
        if isinstance(ref, str | int) and not isinstance(ref, bool):
            return ref[:128] if isinstance(ref, str) else ref
    return None
