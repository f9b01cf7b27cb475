"""Error codes carried in `error` frames and the WebSocket close codes Parley uses."""

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """The `code` of an `{"type":"error"}` frame; documented in docs/protocol.md."""

    BAD_REQUEST = "bad_request"  # not JSON, not an object, unknown type, missing/wrong field, bad name
    UNAUTHENTICATED = "unauthenticated"  # a frame before `auth`, or a bad/expired token
    UNSUPPORTED = "unsupported"  # a binary frame
    TOO_LONG = "too_long"  # message text over the length limit
    TOO_LARGE = "too_large"  # an upload over --max-upload or the user's daily quota (REST only)
    NOT_JOINED = "not_joined"  # send/typing/history to a room this connection has not joined
    NOT_FOUND = "not_found"  # a room the user may not see (answered as if it did not exist), or no such user
    FORBIDDEN = "forbidden"  # a room the user sees but may not do that in (banned, muted, not a moderator)
    CONFLICT = "conflict"  # does not fit the current state (the last owner leaving, inviting a member)
    RATE_LIMITED = "rate_limited"  # over the per-connection message rate; nothing stored
    UNAVAILABLE = "unavailable"  # the store cannot be reached; nothing stored, retry later
    INTERNAL = "internal"  # a server bug; the connection stays usable


class CloseCode(IntEnum):
    """WebSocket close codes (RFC 6455 section 7.4 plus Parley's 4xxx application codes)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007  # invalid UTF-8 in a text frame
    POLICY = 1008
    TOO_BIG = 1009  # a frame over the size limit
    INTERNAL = 1011
    UNAUTHENTICATED = 4401  # bad or expired token, or no `auth` in time
    SLOW_CONSUMER = 4408  # pending output stayed over the per-connection cap
    HEARTBEAT = 4000  # missed two pongs (seen only in server logs: the peer is gone)
