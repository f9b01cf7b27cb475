"""The live sessions of this process by user, whatever transport carries them.

For what must reach a user's connections rather than a room's: a kick or a revoked token ends them,
and per-user delivery (e.g. call signalling to one user's devices) looks them up here, as does what goes
to every connection (a changed profile). A session is registered once it has authenticated and removed
when it ends.
"""

from typing import Protocol

from parley.protocol import Outbound
from parley.transports.sink import Disconnect


class LiveSession(Protocol):
    @property
    def user(self) -> str: ...

    @property
    def gen(self) -> int:
        """The token generation the session authenticated with."""

    @property
    def token_id(self) -> str:
        """The id of the token it authenticated with ("" for tokens made before ids)."""

    @property
    def rooms(self) -> set[str]:
        """Rooms it is subscribed to."""

    def removed(self, room: str, reason: str, by: str) -> None:
        """Its user is no longer a member of `room`: end the subscription and say so."""

    def push(self, out: Outbound) -> None: ...

    def end(self, disconnect: Disconnect) -> None: ...


class SessionRegistry:
    def __init__(self) -> None:
        self._by_user: dict[str, dict[LiveSession, None]] = {}

    def add(self, session: LiveSession) -> None:
        self._by_user.setdefault(session.user, {})[session] = None

    def remove(self, session: LiveSession) -> None:
        sessions = self._by_user.get(session.user)
        if sessions is not None:
            sessions.pop(session, None)
            if not sessions:
                del self._by_user[session.user]

    def users(self) -> list[str]:
        """Users with a session on this node."""
        return list(self._by_user)

    def of(self, user: str) -> list[LiveSession]:
        """`user`'s sessions on this node."""
        return list(self._by_user.get(user, ()))

    def subscribed(self, room: str) -> list[LiveSession]:
        """Every session on this node subscribed to `room`."""
        return [s for sessions in self._by_user.values() for s in sessions if room in s.rooms]

    def deliver(self, user: str, out: Outbound) -> int:
        """Queue `out` on every session of `user` on this node; how many got it."""
        sessions = self._by_user.get(user, {})
        for session in sessions:
            session.push(out)
        return len(sessions)

    def deliver_all(self, out: Outbound) -> int:
        """Queue `out` on every session on this node; how many got it."""
        count = 0
        for sessions in self._by_user.values():
            for session in sessions:
                session.push(out)
            count += len(sessions)
        return count

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_user.values())
