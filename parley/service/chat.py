"""The chat service: the one way in for every transport and the REST API.

Sessions (WebSocket, later long-polling) and REST routes call ChatService — accounts, join, replay,
history, typing, post — never the store, hub or broker directly. Each room operation passes the room
policy (service/policy.py) first. Behind it: store (durable) -> group commit -> broker (every node) ->
hub (members on this node).
"""

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from parley.auth import InvalidToken, Tokens, hash_password, verify_password
from parley.auth.throttle import ACCOUNT_FAILURES, ADDRESS_FAILURES, Busy, FailedLogins, HashPool
from parley.broker import Broker, broker_for_url
from parley.config import Settings
from parley.hub import Hub, Member
from parley.hub.presence import ClusterPresence
from parley.protocol import ErrorCode, encode
from parley.protocol.events import RoomEvent
from parley.protocol.names import NUL, password_problem, username_problem
from parley.service.limits import JOIN_BURST, JOIN_RATE, UserLimits
from parley.service.policy import Action, Refused, RoomPolicy
from parley.session.registry import SessionRegistry
from parley.store import NewEvent, RoomInfo, Saved, Store, StoreUnavailable, UserExists, store_for_url
from parley.store.committer import GroupCommitter
from parley.transports.sink import unauthenticated

log = logging.getLogger("parley")

HEALTH_CACHE = 1.0  # seconds a successful store check answers /healthz
HEALTH_TIMEOUT = 3.0  # seconds the store has to answer /healthz's check
USER_CHECK = 60.0  # seconds an account seen to exist is trusted without asking the store again

Posted = Callable[[Saved | None, Exception | None], None]


class AccountError(Exception):
    """A register/login request that cannot succeed; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ChatService:
    def __init__(self, settings: Settings, store: Store | None = None, broker: Broker | None = None,
                 policy: RoomPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or RoomPolicy()
        self._store = store or store_for_url(settings.db)
        self._broker = broker or broker_for_url(settings.broker)
        self._hub = Hub(self._store)
        self._committer = GroupCommitter(self._store)
        self.sessions = SessionRegistry()
        self.limits = UserLimits(settings.rate, settings.burst)  # messages per user, every way in together
        self.join_limits = UserLimits(JOIN_RATE, JOIN_BURST)  # joins (and so presence changes) per user
        self.room_limits = UserLimits(settings.new_rooms / 3600, settings.new_rooms)  # rooms a user may create
        self.tokens: Tokens | None = None
        self._users_seen: dict[str, float] = {}  # user -> until when it is known to exist
        self._account_watch: asyncio.Task[None] | None = None
        self._healthy_at = float("-inf")
        self._hashing = HashPool()
        self._failed_accounts = FailedLogins(ACCOUNT_FAILURES)
        self._failed_addresses = FailedLogins(ADDRESS_FAILURES)

    async def start(self) -> None:
        await self._store.open()
        secret = await self._store.secret("token_secret", secrets.token_bytes(32))
        self.tokens = Tokens(secret, self.settings.token_ttl)
        if self._broker.spans_nodes:
            self._hub.cluster = ClusterPresence(self._hub, self._broker)  # type: ignore[arg-type]
        await self._broker.start(self._hub)
        self._committer.start()
        self._account_watch = asyncio.get_running_loop().create_task(self._watch_accounts(),
                                                                     name="parley-account-watch")

    async def drain(self, timeout: float = 10.0) -> bool:
        """Store and answer every message already received (shutdown, once transports stopped reading)."""
        return await self._committer.drain(timeout)

    async def stop(self) -> None:
        if self._account_watch is not None:
            self._account_watch.cancel()
            self._account_watch = None
        await self._committer.stop()
        await self._broker.close()
        await self._store.close()

    async def open_store(self) -> None:
        """Only the store (for command-line account management)."""
        await self._store.open()

    async def close_store(self) -> None:
        await self._store.close()

    # accounts -------------------------------------------------------------------------------------

    async def create_user(self, name: object, password: object) -> str:
        """Validate and create an account; AccountError (400 or 409) when it cannot be."""
        problem = username_problem(name) or password_problem(password)
        if problem:
            raise AccountError(400, "bad_request", problem)
        assert isinstance(name, str) and isinstance(password, str)
        try:
            async with self._hash_slot():
                hashed = await hash_password(password)
            user = await self._store.create_user(name, hashed)
        except UserExists:
            raise AccountError(409, "conflict", f"username {name!r} is taken") from None
        return user.name

    async def register(self, name: object, password: object) -> tuple[str, str, int]:
        return self._issue(await self.create_user(name, password))

    async def login(self, name: object, password: object, address: str = "") -> tuple[str, str, int]:
        """A token for `name`; AccountError 400, 401, or 429 while this account or `address` has failed too
        often lately or too many logins are being checked at once."""
        if not isinstance(name, str) or not isinstance(password, str) or not name:
            raise AccountError(400, "bad_request", "username and password are required")
        account, client = f"user:{name.lower()}", f"addr:{address}"
        wait = max(self._failed_accounts.retry_after(account), self._failed_addresses.retry_after(client))
        if wait > 0:
            raise AccountError(429, "rate_limited", f"too many failed logins; try again in {wait:.0f} s",
                               retry_after=wait)
        user = await self._store.get_user(name) if username_problem(name) is None else None
        async with self._hash_slot():
            good = await verify_password(user.password_hash if user else None, password)
        if not good or user is None:
            self._failed_accounts.failed(account)
            self._failed_addresses.failed(client)
            raise AccountError(401, "unauthorized", "wrong username or password")
        self._failed_accounts.succeeded(account)
        return self._issue(user.name)

    @asynccontextmanager
    async def _hash_slot(self) -> AsyncIterator[None]:
        try:
            async with self._hashing.slot():
                yield
        except Busy:
            raise AccountError(429, "rate_limited", "too many logins at once; try again in a moment",
                               retry_after=1.0) from None

    def issue_token(self, user: str) -> str:
        """A token for `user`, an account the caller has just created or checked (it is trusted to exist for
        USER_CHECK seconds)."""
        return self._issue(user)[0]

    def _issue(self, user: str) -> tuple[str, str, int]:
        assert self.tokens is not None
        self._users_seen[user] = time.monotonic() + USER_CHECK  # just read or written: it exists
        token, expires = self.tokens.issue(user)
        return token, user, expires

    def authenticate(self, token: object) -> str:
        """The user a token is signed for; InvalidToken if it is not valid now. Whether that account still
        exists is `user_exists` (known_user answers from memory)."""
        if not isinstance(token, str) or self.tokens is None:
            raise InvalidToken("invalid token")
        return self.tokens.verify(token)

    async def authenticate_user(self, token: object) -> str:
        """authenticate, and the account must still exist."""
        user = self.authenticate(token)
        if not await self.user_exists(user):
            raise InvalidToken("account no longer exists")
        return user

    def known_user(self, user: str) -> bool:
        """Whether `user` was seen to exist within the last USER_CHECK seconds."""
        return self._users_seen.get(user, 0.0) > time.monotonic()

    async def user_exists(self, user: str) -> bool:
        if self.known_user(user):
            return True
        if await self._store.get_user(user) is None:
            return False
        self._users_seen[user] = time.monotonic() + USER_CHECK
        if len(self._users_seen) > 100_000:
            self._users_seen.pop(next(iter(self._users_seen)))
        return True

    async def delete_user(self, name: str) -> bool:
        """Remove an account: its tokens stop working and its sessions end (within a heartbeat interval on
        every node)."""
        self._users_seen.pop(name, None)
        return await self._store.delete_user(name)

    async def end_sessions_of_deleted_users(self) -> int:
        """End the live sessions of accounts that no longer exist (deleted on any node or from the CLI)."""
        users = self.sessions.users()
        if not users:
            return 0
        gone = set(users) - await self._store.existing_users(users)
        for user in gone:
            self._users_seen.pop(user, None)
            for session in self.sessions.of(user):
                session.end(unauthenticated("account no longer exists"))
        return len(gone)

    async def _watch_accounts(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            try:
                await self.end_sessions_of_deleted_users()
            except Exception as exc:
                log.warning("cannot check accounts of live sessions now: %s", exc)

    async def health(self) -> None:
        """Raise StoreUnavailable unless the store answers and takes writes (checked at most once a second,
        so a load balancer polling /healthz does not cost a disk flush per poll)."""
        now = time.monotonic()
        if now - self._healthy_at < HEALTH_CACHE:
            return
        try:
            await asyncio.wait_for(self._store.ping(), HEALTH_TIMEOUT)
        except TimeoutError:  # a hung link (no reset, no refusal) must not hang the health check too
            raise StoreUnavailable(f"no answer within {HEALTH_TIMEOUT:g} s") from None
        self._healthy_at = time.monotonic()

    # rooms ----------------------------------------------------------------------------------------

    def authorize(self, user: str, room: str, action: Action) -> None:
        """Raise Refused unless the room policy lets `user` do `action` in `room` (every operation below
        checks it too; transports call it to refuse early, before anything is visible to others)."""
        self.policy.check(user, room, action)

    async def rooms(self, user: str, after: str | None = None, limit: int = 100) -> tuple[list[RoomInfo], str | None]:
        """A page of the rooms `user` may see, in name order after `after`, and the cursor of the next page
        (None at the end)."""
        page = await self._store.rooms(after, limit)
        following = page[-1].name if len(page) == limit else None
        return [r for r in page if self.policy.can(user, r.name, Action.LIST)], following

    def admit_join(self, user: str) -> None:
        """Joins are rate limited per user: each may announce presence to a whole room."""
        if not self.join_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many joins; slow down")

    async def open_room(self, user: str, room: str) -> int:
        """A join's first step: the room exists afterwards (public rooms come into being here); its last seq."""
        self.policy.check(user, room, Action.JOIN)
        return await self.room_seq_or_create(user, room)

    async def room_seq_or_create(self, user: str, room: str) -> int:
        """The last seq of `room`, creating it (within `user`'s room-creation limit) if it is new."""
        last = await self._store.room_seq(room)
        if last is not None:
            return last
        if not self.room_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many new rooms; join an existing one or try again later")
        return await self._store.ensure_room(room)

    def subscribe(self, member: Member, room: str) -> None:
        """Live events of `room` go to `member.backlog` until `activate` (see session/catchup.py)."""
        self._hub.join(member, room)

    def activate(self, member: Member, room: str) -> None:
        self._hub.activate(member, room)

    def unsubscribe(self, member: Member, room: str) -> None:
        self._hub.leave(member, room)

    async def align(self, room: str, seq: int) -> int:
        """Line this node's live delivery of `room` up with a replay that reached `seq` (Hub.align)."""
        return await self._hub.align(room, seq)

    def live_seq(self, room: str) -> int:
        """The highest seq of `room` delivered live on this node."""
        return self._hub.delivered_seq(room)

    async def online(self, room: str) -> list[str]:
        """Users online in `room` through any node."""
        return await self._hub.online_anywhere(room)

    async def events_after(self, user: str, room: str, after: int, limit: int) -> list[RoomEvent]:
        self.policy.check(user, room, Action.READ)
        return await self._store.events_after(room, after, limit)

    async def history(self, user: str, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        self.policy.check(user, room, Action.READ)
        return await self._store.events_before(room, before, limit)

    def typing(self, user: str, room: str) -> None:
        self.policy.check(user, room, Action.TYPE)
        self._broker.publish_typing(room, user)

    # posting --------------------------------------------------------------------------------------

    def check_text(self, text: str) -> None:
        """The rules every way of posting shares."""
        if not text:
            raise Refused(ErrorCode.BAD_REQUEST, "text must not be empty")
        if len(text) > self.settings.max_text:
            raise Refused(ErrorCode.TOO_LONG, f"text is longer than {self.settings.max_text} characters")
        if NUL in text:
            raise Refused(ErrorCode.BAD_REQUEST, "text must not contain U+0000")

    def post(self, user: str, room: str, text: str, client_id: str | None, done: Posted) -> None:
        """Store a message (group-committed), publish it to every node, then call done(saved, error).

        Raises Refused, with nothing stored, if the policy, the text rules or the user's rate limit refuse
        it (a refused message does not spend a token).
        """
        self.policy.check(user, room, Action.SEND)
        self.check_text(text)
        if not self.limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many messages; slow down")
        event = NewEvent(room=room, sender=user, text=text, client_id=client_id or uuid.uuid4().hex)

        def stored(saved: Saved | None, error: Exception | None) -> None:
            if saved is not None and not saved.duplicate:
                self._broker.publish_event(saved.event, encode(saved.event))
            done(saved, error)

        self._committer.submit(event, stored)

    async def post_wait(self, user: str, room: str, text: str, client_id: str | None) -> Saved:
        self.policy.check(user, room, Action.SEND)
        self.check_text(text)  # before a room is created for a message that will be refused
        await self.room_seq_or_create(user, room)  # (a WebSocket send needs a join, which did this)
        fut: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()

        def done(saved: Saved | None, error: Exception | None) -> None:
            if not fut.done():
                fut.set_exception(error) if error is not None else fut.set_result(saved)  # type: ignore[arg-type]

        self.post(user, room, text, client_id, done)
        return await fut

    # counters for /metrics ---------------------------------------------------------------------------

    @property
    def rooms_active(self) -> int:
        return len(self._hub.rooms)

    @property
    def deliveries(self) -> int:
        return self._hub.delivered

    @property
    def stored(self) -> int:
        return self._committer.stored

    @property
    def batches(self) -> int:
        return self._committer.batches
