"""The chat service: what sessions and the REST API share — accounts, storing and publishing messages.

It ties the parts together: store (durable) -> group commit -> broker (every node) -> hub (members).
"""

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable

from parley.auth import InvalidToken, Tokens, hash_password, verify_password
from parley.broker import Broker, broker_for_url
from parley.config import Settings
from parley.hub import Hub
from parley.protocol import encode
from parley.protocol.names import password_problem, username_problem
from parley.store import NewMessage, Saved, Store, UserExists, store_for_url
from parley.store.committer import GroupCommitter

log = logging.getLogger("parley")

Posted = Callable[[Saved | None, Exception | None], None]


class AccountError(Exception):
    """A register/login request that cannot succeed; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ChatService:
    def __init__(self, settings: Settings, store: Store | None = None, broker: Broker | None = None) -> None:
        self.settings = settings
        self.store = store or store_for_url(settings.db)
        self.broker = broker or broker_for_url(settings.broker)
        self.hub = Hub()
        self.committer = GroupCommitter(self.store)
        self.tokens: Tokens | None = None

    async def start(self) -> None:
        await self.store.open()
        secret = await self.store.secret("token_secret", secrets.token_bytes(32))
        self.tokens = Tokens(secret, self.settings.token_ttl)
        self.hub.fill_gap = self._fill_gap
        self.hub.room_heads = self.store.room_heads
        self.hub.on_presence = self.broker.publish_presence
        await self.broker.start(self.hub)
        self.committer.start()

    async def stop(self) -> None:
        await self.committer.stop()
        await self.broker.close()
        await self.store.close()

    async def _fill_gap(self, room: str, after: int, upto: int) -> list:
        return await self.store.messages_after(room, after, upto - after)

    # accounts -------------------------------------------------------------------------------------

    async def create_user(self, name: object, password: object) -> str:
        """Validate and create an account; AccountError (400 or 409) when it cannot be."""
        problem = username_problem(name) or password_problem(password)
        if problem:
            raise AccountError(400, "bad_request", problem)
        assert isinstance(name, str) and isinstance(password, str)
        try:
            user = await self.store.create_user(name, await hash_password(password))
        except UserExists:
            raise AccountError(409, "conflict", f"username {name!r} is taken") from None
        return user.name

    async def register(self, name: object, password: object) -> tuple[str, str, int]:
        return self._issue(await self.create_user(name, password))

    async def login(self, name: object, password: object) -> tuple[str, str, int]:
        if not isinstance(name, str) or not isinstance(password, str) or not name:
            raise AccountError(400, "bad_request", "username and password are required")
        user = await self.store.get_user(name) if username_problem(name) is None else None
        if not await verify_password(user.password_hash if user else None, password) or user is None:
            raise AccountError(401, "unauthorized", "wrong username or password")
        return self._issue(user.name)

    def _issue(self, user: str) -> tuple[str, str, int]:
        assert self.tokens is not None
        token, expires = self.tokens.issue(user)
        return token, user, expires

    def authenticate(self, token: object) -> str:
        """The user a token belongs to; InvalidToken if it is not valid now."""
        if not isinstance(token, str) or self.tokens is None:
            raise InvalidToken("invalid token")
        return self.tokens.verify(token)

    # messages -------------------------------------------------------------------------------------

    def post(self, room: str, sender: str, text: str, client_id: str | None, done: Posted) -> None:
        """Store a message (group-committed), publish it to every node, then call done(saved, error)."""
        message = NewMessage(room=room, sender=sender, text=text, client_id=client_id or uuid.uuid4().hex)

        def stored(saved: Saved | None, error: Exception | None) -> None:
            if saved is not None and not saved.duplicate:
                self.broker.publish_message(saved.message, encode(saved.message))
            done(saved, error)

        self.committer.submit(message, stored)

    async def post_wait(self, room: str, sender: str, text: str, client_id: str | None) -> Saved:
        fut: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()

        def done(saved: Saved | None, error: Exception | None) -> None:
            if not fut.done():
                fut.set_exception(error) if error is not None else fut.set_result(saved)  # type: ignore[arg-type]

        self.post(room, sender, text, client_id, done)
        return await fut
