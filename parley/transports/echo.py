"""The echo handler: sends every message back unchanged, on the chat's own write path.

Served at --echo-path for the Autobahn conformance suite (tests/test_conformance.py).
"""

from parley.protocol import Outbound
from parley.protocol.wsframe import OP_BINARY, encode_frame
from parley.transports.websocket import WsConnection


class Echo:
    user = None

    def __init__(self, conn: WsConnection) -> None:
        self.conn = conn

    def handle(self, data: str) -> None:
        self.conn.write(Outbound(data.encode()))

    def handle_binary(self, data: bytes) -> None:
        self.conn.write_raw(encode_frame(data, OP_BINARY))

    def close(self) -> None:
        pass
