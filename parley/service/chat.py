"""The chat service: the one way in for every transport and the REST API.

Sessions (WebSocket, later long-polling) and REST routes call ChatService — join, replay, history,
typing, post, and through `accounts` (service/accounts.py) and `rooms` (service/rooms.py) accounts,
membership and moderation — never the store, hub or broker directly. Each room operation passes the
room policy (service/policy.py, fed by the cache in service/access.py) first. Behind it: store
(durable) -> group commit -> broker (every node) -> hub (members on this node).
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from parley.broker import Broker, broker_for_url
from parley.config import Settings
from parley.files import storage_for_url
from parley.hub import Hub, Member
from parley.hub.presence import ClusterPresence
from parley.protocol import ErrorCode, Outbound, encode
from parley.protocol.events import RoomEvent, message_data
from parley.protocol.frames import Attachment, MembershipChanged
from parley.protocol.names import NUL
from parley.service.access import AccessCache
from parley.service.accounts import Accounts
from parley.service.calls import Calls
from parley.service.files import Files
from parley.service.limits import JOIN_BURST, JOIN_RATE, TYPING_BURST, TYPING_RATE, UserLimits
from parley.service.messages import Messages
from parley.service.policy import Action, Refused, decide
from parley.service.rooms import Rooms
from parley.session.registry import SessionRegistry
from parley.store import NewEvent, RoomInfo, RoomRecord, Saved, Standing, Store, StoreUnavailable, store_for_url
from parley.store.committer import GroupCommitter

log = logging.getLogger("parley")

HEALTH_CACHE = 1.0  # seconds a successful store check answers /healthz
HEALTH_TIMEOUT = 3.0  # seconds the store has to answer /healthz's check

Posted = Callable[[Saved | None, Exception | None], None]


class ChatService:
    def __init__(self, settings: Settings, store: Store | None = None, broker: Broker | None = None) -> None:
        self.settings = settings
        self._store = store or store_for_url(settings.db)
        self._broker = broker or broker_for_url(settings.broker)
        self._hub = Hub(self._store)
        self._hub.control = self
        self._committer = GroupCommitter(self._store)
        self.sessions = SessionRegistry()
        self.access = AccessCache(self._store)
        self.accounts = Accounts(settings, self._store, self._broker, self.sessions)
        self.accounts.profiles.publish = self.to_everyone  # a changed profile reaches every page at once
        self.limits = UserLimits(settings.rate, settings.burst)  # messages per user, every way in together
        self.join_limits = UserLimits(JOIN_RATE, JOIN_BURST)  # joins (and so presence changes) per user
        self.typing_limits = UserLimits(TYPING_RATE, TYPING_BURST)  # typing over REST
        self.room_limits = UserLimits(settings.new_rooms / 3600, settings.new_rooms)  # rooms a user may create
        self.rooms = Rooms(self, self._store, self._broker)
        self.messages = Messages(self, self._store, self._broker)
        self.calls = Calls(self, self._store, self._broker)
        self.files = Files(self, self._store, storage_for_url(settings.files, settings.db))
        self._account_watch: asyncio.Task[None] | None = None
        self._healthy_at = float("-inf")
        self._tasks: set[asyncio.Task[None]] = set()
        self._checking: dict[str, asyncio.Task[None]] = {}  # user -> the last of their posts being checked

    async def start(self) -> None:
        await self._store.open()
        await self.accounts.start()
        if self._broker.spans_nodes:
            self._hub.cluster = ClusterPresence(self._hub, self._broker)  # type: ignore[arg-type]
        await self._broker.start(self._hub)
        await self.files.start()
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
        self.calls.stop()
        await self._committer.stop()
        await self.files.stop()
        await self._broker.close()
        await self._store.close()

    async def open_store(self) -> None:
        """Only the store (for command-line account management)."""
        await self._store.open()

    async def close_store(self) -> None:
        await self._store.close()

    # what the broker says about access and accounts (hub.Control) ---------------------------------

    def access_changed(self, room: str, user: str, reason: str, by: str) -> None:
        """A change of who may do what in `room`, made on any node: forget what is cached, and end the live
        subscriptions of a user who is no longer a member (of everyone, for a deleted room)."""
        self.access.forget(room, user)
        if not reason:
            if user:
                self.sessions.deliver(user, Outbound(encode(MembershipChanged(room=room))))
            return
        sessions = self.sessions.of(user) if user else self.sessions.subscribed(room)
        for session in sessions:
            if room in session.rooms:
                session.removed(room, reason, by)

    def user_changed(self, user: str) -> None:
        self.accounts.user_changed(user)

    def direct(self, user: str, data: bytes) -> None:
        """A frame for `user`'s connections on this node (published to every node with `to_user`)."""
        self.sessions.deliver(user, Outbound(data))

    def to_user(self, user: str, frame: object) -> None:
        """Send `frame` to every connection of `user`, on every node (best effort)."""
        self._broker.publish_direct(user, encode(frame))

    def everyone(self, data: bytes) -> None:
        """A frame for every connection on this node (published to every node with `to_everyone`)."""
        self.sessions.deliver_all(Outbound(data))

    def to_everyone(self, frame: object) -> None:
        """Send `frame` to every connection, on every node (best effort)."""
        self._broker.publish_everyone(encode(frame))

    def reconnected(self) -> None:
        self.access.clear()

    async def _watch_accounts(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            try:
                await self.accounts.end_stale_sessions()
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

    async def authorize(self, user: str, room: str, action: Action) -> tuple[RoomRecord, Standing | None, bool]:
        """Raise Refused unless the room policy lets `user` do `action` in `room` now; what it decided on: the
        room, `user`'s standing there and whether they are an admin."""
        record, standing = await self.access.load(room, user)
        admin = await self.accounts.admin(user)
        decide(action, record, room, standing, admin)
        assert record is not None  # decide refuses a room that does not exist
        return record, standing, admin

    def allowed_now(self, user: str, room: str, action: Action) -> bool | None:
        """From memory, without waiting: raise Refused if `action` is refused, True if allowed, None if what
        the policy needs is not cached (then call `authorize`)."""
        known = self.access.cached(room, user)
        admin = self.accounts.is_admin(user)
        if known is None or admin is None:
            return None
        decide(action, known[0], room, known[1], admin)
        return True

    async def directory(self, after: str | None = None, limit: int = 100,
                        words: str = "") -> tuple[list[RoomInfo], str | None]:
        """A page of the public rooms in name order after `after` (whose name or topic contains `words`, when
        given), and the cursor of the next page (None at the end)."""
        page = await self._store.directory(after, limit, words)
        return page, page[-1].name if len(page) == limit else None

    def admit_join(self, user: str) -> None:
        """Joins are rate limited per user: each may announce presence to a whole room."""
        if not self.join_limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many joins; slow down")

    async def last_seq(self, room: str) -> int:
        """The last stored seq of `room`."""
        return await self._store.room_seq(room) or 0

    async def heads(self, rooms: list[str]) -> dict[str, int]:
        """The last stored seq of each of `rooms` (rooms without events are left out)."""
        return await self._store.room_heads(rooms) if rooms else {}

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
        await self.authorize(user, room, Action.READ)
        return await self._store.events_after(room, after, limit)

    async def history(self, user: str, room: str, before: int | None, limit: int) -> list[RoomEvent]:
        await self.authorize(user, room, Action.READ)
        return await self._store.events_before(room, before, limit)

    def typing(self, user: str, room: str, refused: Callable[[Refused], None]) -> None:
        """Publish a typing notification; Refused if the policy says no (through `refused` when what it
        needs had to be loaded first). Best effort: nothing is said if the store cannot answer."""
        if self.allowed_now(user, room, Action.TYPE):
            self._broker.publish_typing(room, user)
            return

        async def checked() -> None:
            try:
                await self.authorize(user, room, Action.TYPE)
            except Refused as exc:
                refused(exc)
                return
            except StoreUnavailable:
                return
            self._broker.publish_typing(room, user)

        self.spawn(checked())

    async def typed(self, user: str, room: str) -> None:
        """Typing from REST (long-polling clients): Refused if the policy says no; at most a few a second
        per user are passed on, the rest are dropped (typing is best effort)."""
        await self.authorize(user, room, Action.TYPE)
        if self.typing_limits.take(user):
            self._broker.publish_typing(room, user)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # posting --------------------------------------------------------------------------------------

    def check_text(self, text: str, file: Attachment | None = None) -> None:
        """The rules every way of posting shares (a file's caption may be empty)."""
        if not text and file is None:
            raise Refused(ErrorCode.BAD_REQUEST, "text must not be empty")
        if len(text) > self.settings.max_text:
            raise Refused(ErrorCode.TOO_LONG, f"text is longer than {self.settings.max_text} characters")
        if NUL in text:
            raise Refused(ErrorCode.BAD_REQUEST, "text must not contain U+0000")

    def post(self, user: str, room: str, text: str, client_id: str | None, done: Posted,
             reply_to: int | None = None, file: Attachment | None = None) -> None:
        """Store a message (group-committed), publish it to every node, then call done(saved, error).

        Raises Refused, with nothing stored, if the policy, the text rules or the user's rate limit refuse
        it (a refused message does not spend a token). When what the policy needs is not cached, or the
        message replies to another (which must be a message of the same room, still there) or names
        people, that is checked first and a refusal comes as done(None, Refused). A user's messages are
        stored in the order they were posted: while one is being checked, the ones after it wait for it.
        """
        self.check_text(text, file)
        before = self._checking.get(user)
        if before is None and reply_to is None and "@" not in text and self.allowed_now(user, room, Action.SEND):
            self._submit(user, room, text, client_id, done, file=file)
            return

        async def checked() -> None:
            if before is not None:
                await asyncio.wait([before])  # (it never raises: refusals go to its own `done`)
            try:
                await self.authorize(user, room, Action.SEND)
                if reply_to is not None:
                    await self.messages.reply_target(user, room, reply_to)
                mentions = await self.messages.mentions(room, text) if "@" in text else None
                self._submit(user, room, text, client_id, done, reply_to, mentions, file)
            except Exception as exc:
                done(None, exc)

        task = self.spawn(checked())
        self._checking[user] = task
        task.add_done_callback(lambda t: self._checking.pop(user, None) if self._checking.get(user) is t else None)

    def _submit(self, user: str, room: str, text: str, client_id: str | None, done: Posted,
                reply_to: int | None = None, mentions: list[str] | None = None, file: Attachment | None = None) -> None:
        if not self.limits.take(user):
            raise Refused(ErrorCode.RATE_LIMITED, "too many messages; slow down")
        event = NewEvent(room=room, sender=user, text=text, client_id=client_id or uuid.uuid4().hex,
                         data=message_data(reply_to, mentions=mentions, file=file))

        def stored(saved: Saved | None, error: Exception | None) -> None:
            if saved is not None and not saved.duplicate:
                self._broker.publish_event(saved.event, encode(saved.event))
            done(saved, error)

        self._committer.submit(event, stored)

    async def ready_to_post(self, user: str, room: str) -> None:
        """Posting over REST to a public room one is not a member of joins it first (creating it if it does
        not exist, as a WebSocket join would)."""
        record, standing = await self.access.load(room, user)
        if record is None or (record.visibility == "public" and (standing is None or standing.state != "member")):
            await self.rooms.become_member(user, room)

    async def post_wait(self, user: str, room: str, text: str, client_id: str | None,
                        reply_to: int | None = None, file: Attachment | None = None) -> Saved:
        """Post from REST (see `ready_to_post`) and wait until it is stored."""
        self.check_text(text, file)  # before a room is created for a message that will be refused
        await self.ready_to_post(user, room)
        fut: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()

        def done(saved: Saved | None, error: Exception | None) -> None:
            if not fut.done():
                fut.set_exception(error) if error is not None else fut.set_result(saved)  # type: ignore[arg-type]

        self.post(user, room, text, client_id, done, reply_to, file)
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
