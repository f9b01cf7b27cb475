"""The chat protocol, sans I/O: frame types, parsing and validation, error and close codes, WebSocket framing.

Nothing in this package does I/O or touches asyncio; transports feed it bytes and write what it returns.
"""

from parley.protocol.codec import ProtocolError, decode_client_frame, encode
from parley.protocol.codes import CloseCode, ErrorCode
from parley.protocol.outbound import Outbound

__all__ = ["CloseCode", "ErrorCode", "Outbound", "ProtocolError", "decode_client_frame", "encode"]
