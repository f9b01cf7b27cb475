"""An encoded server frame: the bytes of one JSON frame, encoded once and shared by every recipient.

Transports add their own framing around `data`. The WebSocket transport keeps its frame header + payload
in `ws` the first time any connection writes this frame (transports/websocket.py), so a room's fan-out
builds it once however many members get it.
"""


class Outbound:
    __slots__ = ("data", "ws")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ws: bytes | None = None  # filled and read only by the WebSocket transport
