"""Who may do what in a room: one check every operation passes through, whatever way it came in.

`ChatService` calls `RoomPolicy.check(user, room, action)` before each room operation, for WebSocket
sessions, the REST API and any later transport alike. Today every signed-in user may do everything in
every room (rooms are public and come into being on first join); private rooms, roles and bans fill in
`can` without touching the callers. A refusal is a `Refused` with the error code the client gets.
"""

from enum import StrEnum

from parley.protocol import ErrorCode


class Action(StrEnum):
    LIST = "list"  # see the room in listings
    JOIN = "join"  # subscribe to the room's live events (and create a public room)
    READ = "read"  # read its stored events: history, replay
    SEND = "send"  # append a message
    TYPE = "type"  # send typing notifications


class Refused(Exception):
    """An operation that is not allowed or not acceptable; `code` goes to the client as the error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RoomPolicy:
    def can(self, user: str, room: str, action: Action) -> bool:
        """Whether `user` may perform `action` in `room`. Must not block: it runs on every send."""
        return True

    def check(self, user: str, room: str, action: Action) -> None:
        if not self.can(user, room, action):
            raise Refused(ErrorCode.NOT_FOUND, f"room {room!r} not found")
