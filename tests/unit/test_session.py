"""A Session on a real ChatService (fake store, in-process broker): what a client is sent, frame by frame.

Races between a join's replay and live messages are staged with the fake store's gates, not with timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest

import parley.session.catchup
from parley.broker.memory import MemoryBroker
from parley.config import Settings
from parley.service import ChatService
from parley.session import Session
from parley.store import RoomRecord, Standing, User
from tests.unit.fakes import FakeSink, FakeStore, eventually, settle

pytestmark = pytest.mark.timeout(5)

ROOM = "lobby"


class Client:
    """One connection: a Session writing to a FakeSink."""

    def __init__(self, chat: Chat, user: str) -> None:
        self.chat = chat
        self.user = user
        self.sink = FakeSink()
        self.session = Session(chat.service, self.sink)

    def send(self, **frame: Any) -> None:
        self.session.handle(msgspec.json.encode(frame))

    def auth(self) -> None:
        self.send(type="auth", token=self.chat.token(self.user))

    async def caught_up(self, room: str = ROOM) -> None:
        await eventually(lambda: room not in self.session.catching_up, f"{self.user}'s join of {room}")

    async def join(self, room: str = ROOM, since: int | None = None) -> None:
        self.send(type="join", room=room, since=since)
        await self.caught_up(room)
        assert room in self.session.rooms, self.sink.frames

    async def next(self, type_: str, count: int = 1) -> dict[str, Any]:
        await eventually(lambda: len(self.sink.of(type_)) >= count, f"{self.user}: {count} {type_} frame(s)")
        return self.sink.of(type_)[count - 1]


class Chat:
    def __init__(self, service: ChatService, store: FakeStore) -> None:
        self.service = service
        self.store = store
        self.clients: list[Client] = []

    def token(self, user: str) -> str:
        """A token of `user`, an account of the store that the service has just seen (no store round trip)."""
        account = self.store.users.setdefault(user.lower(), User(id=len(self.store.users) + 1, name=user,
                                                                 password_hash="-"))
        self.service.accounts.remember(account)
        return self.service.accounts.issue_token(user)

    def client(self, user: str, auth: bool = True) -> Client:
        c = Client(self, user)
        self.clients.append(c)
        if auth:
            c.auth()
            assert c.sink.types() == ["ready"], c.sink.frames
        return c


MakeChat = Callable[..., Awaitable[Chat]]


@pytest.fixture
async def make_chat() -> AsyncIterator[MakeChat]:
    chats: list[Chat] = []

    async def make(**settings: Any) -> Chat:
        store = FakeStore()
        service = ChatService(Settings(**{"rate": 0, "files": "memory://", **settings}), store=store,
                              broker=MemoryBroker())
        await service.start()
        chat = Chat(service, store)
        chats.append(chat)
        return chat

    yield make
    for chat in chats:
        for gate in chat.store.gates.values():
            gate.release()
        if chat.store.commit_gate is not None:
            chat.store.commit_gate.release()
        for c in chat.clients:
            c.session.close()
        await settle()
        await chat.service.stop()


@pytest.fixture
async def chat(make_chat: MakeChat) -> Chat:
    return await make_chat()


def preload(store: FakeStore, n: int, room: str = ROOM, sender: str = "carol") -> None:
    for _ in range(n):
        store.add(room, sender)


# auth -------------------------------------------------------------------------------------------


async def test_frames_before_auth_are_unauthenticated(chat: Chat) -> None:
    c = chat.client("alice", auth=False)
    c.send(type="join", room=ROOM, ref=1)
    c.send(type="send", room=ROOM, text="hi", ref=2)
    c.send(type="history", room=ROOM, ref=3)
    c.send(type="ping", ref=4)
    await settle()
    assert [(f["type"], f["code"], f["ref"]) for f in c.sink.frames] == [
        ("error", "unauthenticated", 1), ("error", "unauthenticated", 2), ("error", "unauthenticated", 3),
        ("error", "unauthenticated", 4)]
    assert chat.service.rooms_active == 0 and chat.store.batches == []
    assert c.sink.closed is None  # the connection stays open for an auth


async def test_auth_of_an_account_not_seen_lately_is_confirmed_first(chat: Chat) -> None:
    """A validly signed token whose account the service has not seen lately: frames that follow `auth` wait
    until the store confirms the account, then run in order; a deleted account is refused."""
    assert chat.service.accounts.tokens is not None
    await chat.store.create_user("carol", "hash")
    c = chat.client("carol", auth=False)
    c.send(type="auth", token=chat.service.accounts.tokens.issue("carol")[0], ref="a")
    c.send(type="ping", ref="p1")
    c.send(type="ping", ref="p2")
    await c.next("pong", 2)
    assert [(f["type"], f.get("ref")) for f in c.sink.frames] == [("ready", "a"), ("pong", "p1"), ("pong", "p2")]
    ghost = chat.client("ghost", auth=False)
    ghost.send(type="auth", token=chat.service.accounts.tokens.issue("ghost")[0], ref="g")
    ghost.send(type="ping", ref="never")
    await eventually(lambda: ghost.sink.closed is not None, "the ghost's connection to close")
    assert [(f["type"], f.get("code")) for f in ghost.sink.frames] == [("error", "unauthenticated")]
    assert ghost.sink.closed.code == 4401 and not ghost.session.user


async def test_a_session_ended_while_its_account_is_confirmed_does_not_start(chat: Chat) -> None:
    """The store is slow to confirm the account and the connection is ended meanwhile: nothing held runs."""
    assert chat.service.accounts.tokens is not None
    await chat.store.create_user("dave", "hash")
    gate = chat.store.block("get_user")
    c = chat.client("dave", auth=False)
    c.send(type="auth", token=chat.service.accounts.tokens.issue("dave")[0], ref="a")
    c.send(type="join", room=ROOM, ref="j")
    await gate.reached()
    c.session.handle_timeout()  # as the server's auth timer would, if it fired now
    gate.release()
    await settle()
    assert not c.session.user and ROOM not in c.session.rooms
    assert [f["type"] for f in c.sink.frames] == ["error"]


async def test_auth_then_ready(chat: Chat) -> None:
    c = chat.client("alice", auth=False)
    assert chat.service.accounts.tokens is not None
    c.send(type="auth", token=chat.token("alice"), ref="a")
    assert c.sink.frames == [{"type": "ready", "user": "alice", "heartbeat": 20.0, "max_text": 4000,
                              "server": "parley", "ref": "a"}]
    c.send(type="auth", token="x", ref="b")
    assert c.sink.frames[-1]["code"] == "bad_request"
    c.send(type="ping", ref="p")
    assert c.sink.frames[-1] == {"type": "pong", "ref": "p"}
    assert [s.user for s in chat.service.sessions.of("alice")] == ["alice"]


async def test_bad_token_is_refused_and_closes(chat: Chat) -> None:
    c = chat.client("alice", auth=False)
    c.send(type="auth", token="not-a-token", ref=1)
    assert c.sink.errors() == ["unauthenticated"]
    assert c.sink.closed is not None and c.sink.closed.code == 4401 and not c.sink.closed.reconnect
    c.send(type="join", room=ROOM)
    assert c.sink.errors() == ["unauthenticated", "unauthenticated"]


async def test_registered_user_authenticates(chat: Chat) -> None:
    token, user, _ = await chat.service.accounts.register("Dora", "correct-horse-1")
    c = chat.client("x", auth=False)
    c.send(type="auth", token=token)
    assert c.sink.frames[-1]["type"] == "ready" and c.sink.frames[-1]["user"] == user == "Dora"


# join and catch-up --------------------------------------------------------------------------------


async def test_join_since_replays_stored_events_then_live(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parley.session.catchup, "REPLAY_PAGE", 2)  # several pages
    preload(chat.store, 7)
    alice = chat.client("alice")
    alice.send(type="join", room=ROOM, since=2, ref="j")
    await alice.caught_up()
    assert alice.sink.frames[1] == {"type": "joined", "room": ROOM, "last_seq": 7, "online": ["alice"], "ref": "j"}
    assert alice.sink.seqs() == [3, 4, 5, 6, 7]
    assert alice.sink.types() == ["ready", "joined"] + ["message"] * 5
    first = alice.sink.of("message")[0]
    assert first["from"] == "carol" and first["room"] == ROOM and first["text"] == f"{ROOM}-3"

    bob = chat.client("bob")
    await bob.join()  # no since: nothing replayed
    assert bob.sink.types() == ["ready", "joined"]
    bob.send(type="send", room=ROOM, text="live", client_id="b1")
    await bob.next("ack")
    await alice.next("message", 6)
    await settle()
    assert alice.sink.seqs() == [3, 4, 5, 6, 7, 8]
    assert alice.sink.types()[-2:] == ["presence", "message"]
    assert bob.sink.seqs() == [8]


async def test_join_since_zero_of_a_new_room(chat: Chat) -> None:
    alice = chat.client("alice")
    await alice.join(since=0)
    assert alice.sink.of("joined")[0]["last_seq"] == 0
    assert chat.store.calls["events_after"] == 0
    alice.send(type="send", room=ROOM, text="first")
    await alice.next("ack")
    assert alice.sink.seqs() == [1]


@pytest.mark.parametrize("poster", ["member", "outside"])
async def test_message_posted_while_the_replay_read_is_blocked(chat: Chat, poster: str) -> None:
    """Live messages that arrive while the joiner reads the store reach it once, after the replay."""
    preload(chat.store, 3)
    bob = chat.client("bob")
    if poster == "member":  # a caught-up member on this node: live delivery is "known"
        await bob.join()
    gate = chat.store.block("events_after")
    alice = chat.client("alice")
    alice.send(type="join", room=ROOM, since=0)
    await gate.reached()
    assert alice.sink.types() == ["ready", "joined"]
    for i in range(2):
        if poster == "member":
            bob.send(type="send", room=ROOM, text=f"live{i}", client_id=f"b{i}")
            await bob.next("ack", i + 1)
        else:
            await chat.service.post_wait("bob", ROOM, f"live{i}", f"b{i}")
    await settle()
    assert alice.sink.seqs() == []  # kept aside until the replay is written
    gate.release()
    await alice.caught_up()
    assert alice.sink.seqs() == [1, 2, 3, 4, 5]
    await chat.service.post_wait("bob", ROOM, "after", "b9")
    await alice.next("message", 6)
    await settle()
    assert alice.sink.seqs() == [1, 2, 3, 4, 5, 6]
    assert [f["text"] for f in alice.sink.of("message")[3:]] == ["live0", "live1", "after"]


async def test_join_while_a_commit_is_stored_but_not_yet_published(chat: Chat) -> None:
    """The joiner's replay sees an event the member on this node has not been sent yet: both get it once."""
    preload(chat.store, 2)
    bob = chat.client("bob")
    await bob.join()
    gate = chat.store.block_after_commit()
    bob.send(type="send", room=ROOM, text="in flight", client_id="b1")
    await gate.reached()  # stored as seq 3; not published, not acked
    alice = chat.client("alice")
    await alice.join(since=0)
    assert alice.sink.seqs() == [1, 2, 3]
    assert bob.sink.seqs() == [3]  # brought up to the joiner's replay from the store
    gate.release()
    await bob.next("ack")
    await settle()
    assert bob.sink.seqs() == [3] and alice.sink.seqs() == [1, 2, 3]
    assert bob.sink.of("ack")[0]["seq"] == 3
    bob.send(type="send", room=ROOM, text="next", client_id="b2")
    await alice.next("message", 4)
    await settle()
    assert alice.sink.seqs() == [1, 2, 3, 4] and bob.sink.seqs() == [3, 4]


async def test_leave_during_catch_up_stops_it(chat: Chat) -> None:
    preload(chat.store, 3)
    bob = chat.client("bob")
    await bob.join()
    gate = chat.store.block("events_after")
    alice = chat.client("alice")
    alice.send(type="join", room=ROOM, since=0)
    await gate.reached()
    alice.send(type="leave", room=ROOM, ref="l")
    assert alice.sink.frames[-1] == {"type": "left", "room": ROOM, "ref": "l"}
    assert bob.sink.of("presence")[-1] == {"type": "presence", "room": ROOM, "user": "alice", "online": False}
    bob.send(type="send", room=ROOM, text="live", client_id="b1")
    await bob.next("ack")
    gate.release()
    await settle()
    assert alice.sink.types() == ["ready", "joined", "left"]
    assert alice.session.catching_up == {} and alice.session.rooms == set()
    alice.send(type="send", room=ROOM, text="x")
    assert alice.sink.errors() == ["not_joined"]


async def test_join_twice_while_catching_up_is_refused(chat: Chat) -> None:
    gate = chat.store.block("ensure_room")
    alice = chat.client("alice")
    alice.send(type="join", room=ROOM)
    alice.send(type="join", room=ROOM, ref=2)
    assert alice.sink.frames[-1]["code"] == "bad_request" and alice.sink.frames[-1]["ref"] == 2
    gate.release()
    await alice.caught_up()
    assert alice.sink.types() == ["ready", "error", "joined"]


async def test_join_when_the_store_is_down_is_unavailable(chat: Chat) -> None:
    alice = chat.client("alice")
    chat.store.fail_next["room"] = 1
    alice.send(type="join", room=ROOM, ref=1)
    await alice.caught_up()
    assert alice.sink.errors() == ["unavailable"]
    assert alice.session.rooms == set() and chat.service.rooms_active == 0
    await alice.join()
    assert alice.sink.types()[-1] == "joined"


# send -------------------------------------------------------------------------------------------


async def test_send_is_acked_with_its_seq_and_duplicates_are_not_stored_twice(chat: Chat) -> None:
    preload(chat.store, 2)
    alice = chat.client("alice")
    await alice.join()
    alice.send(type="send", room=ROOM, text="hello", client_id="c1", ref=9)
    ack = await alice.next("ack")
    assert {k: ack[k] for k in ("room", "client_id", "seq", "ref")} == {"room": ROOM, "client_id": "c1", "seq": 3,
                                                                       "ref": 9}
    assert "duplicate" not in ack  # omitted when false
    assert alice.sink.types()[-2:] == ["message", "ack"]  # her own message, then the ack
    assert alice.sink.of("message")[0]["ts"] == ack["ts"]
    alice.send(type="send", room=ROOM, text="hello", client_id="c1", ref=10)  # a retry of the same message
    again = await alice.next("ack", 2)
    assert again["duplicate"] is True and again["seq"] == 3 and again["ref"] == 10
    await settle()
    assert alice.sink.seqs() == [3]
    assert chat.store.seqs(ROOM) == [1, 2, 3]


async def test_send_to_a_room_not_joined(chat: Chat) -> None:
    alice = chat.client("alice")
    alice.send(type="send", room=ROOM, text="hi", ref=1)
    alice.send(type="typing", room=ROOM, ref=2)
    alice.send(type="history", room=ROOM, ref=3)
    assert [(f["code"], f["ref"]) for f in alice.sink.of("error")] == [("not_joined", 1), ("not_joined", 2),
                                                                       ("not_joined", 3)]
    await settle()
    assert chat.store.batches == []


async def test_text_rules(make_chat: MakeChat) -> None:
    chat = await make_chat(max_text=10)
    alice = chat.client("alice")
    await alice.join()
    alice.send(type="send", room=ROOM, text="x" * 11, ref=1)
    alice.send(type="send", room=ROOM, text="", ref=2)
    alice.send(type="send", room=ROOM, text="x" * 10, ref=3)
    await alice.next("ack")
    assert [(f["code"], f["ref"]) for f in alice.sink.of("error")] == [("too_long", 1), ("bad_request", 2)]
    assert chat.store.seqs(ROOM) == [1]


async def test_rate_limit_and_refused_text_spends_no_token(make_chat: MakeChat) -> None:
    chat = await make_chat(rate=1, burst=1)
    alice = chat.client("alice")
    await alice.join()
    alice.send(type="send", room=ROOM, text="x" * 5000, ref=1)  # refused before the bucket
    alice.send(type="send", room=ROOM, text="one", ref=2)  # the one token
    alice.send(type="send", room=ROOM, text="two", ref=3)  # none left (1 per second)
    assert [(f["code"], f["ref"]) for f in alice.sink.of("error")] == [("too_long", 1), ("rate_limited", 3)]
    ack = await alice.next("ack")
    assert ack["ref"] == 2
    await settle()
    assert chat.store.seqs(ROOM) == [1]
    assert [e.text for e in chat.store.logs[ROOM]] == ["one"]


async def test_send_when_the_store_is_down_is_unavailable_then_works(chat: Chat) -> None:
    alice = chat.client("alice")
    await alice.join()
    chat.store.fail_next["save_events"] = 1
    alice.send(type="send", room=ROOM, text="lost?", client_id="c1", ref=1)
    err = await alice.next("error")
    assert (err["code"], err["ref"]) == ("unavailable", 1)
    alice.send(type="send", room=ROOM, text="lost?", client_id="c1", ref=2)  # the client retries
    ack = await alice.next("ack")
    assert ack["seq"] == 1 and ack["ref"] == 2 and "duplicate" not in ack
    assert alice.sink.seqs() == [1]


async def test_history_pages(chat: Chat) -> None:
    preload(chat.store, 5)
    alice = chat.client("alice")
    await alice.join()
    alice.send(type="history", room=ROOM, before=4, limit=2, ref="h")
    page = await alice.next("history")
    assert page["ref"] == "h" and [m["seq"] for m in page["messages"]] == [2, 3]
    alice.send(type="history", room=ROOM)
    page = await alice.next("history", 2)
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5]


async def test_typing_reaches_the_others_once_per_interval(chat: Chat) -> None:
    alice, bob = chat.client("alice"), chat.client("bob")
    await alice.join()
    await bob.join()
    alice.send(type="typing", room=ROOM)
    alice.send(type="typing", room=ROOM)  # within the interval: dropped
    assert bob.sink.of("typing") == [{"type": "typing", "room": ROOM, "user": "alice"}]
    assert alice.sink.of("typing") == []


async def test_close_leaves_every_room(chat: Chat) -> None:
    alice, bob = chat.client("alice"), chat.client("bob")
    await alice.join()
    await alice.join("other")
    await bob.join()
    alice.session.close()
    assert bob.sink.of("presence")[-1]["online"] is False
    assert chat.service.rooms_active == 1 and chat.service.sessions.of("alice") == []


# room policy ------------------------------------------------------------------------------------


def private(store: FakeStore, room: str = "secret", **standings: Standing) -> None:
    """Make `room` a private room with the given standings (bob a plain member unless given)."""
    store.records[room] = RoomRecord(name=room, visibility="private", topic="", last_seq=0)
    for user, standing in {"bob": Standing(state="member"), **standings}.items():
        store.standings[(room, user)] = standing


async def test_outsider_join_of_a_private_room_is_not_found(chat: Chat) -> None:
    private(chat.store)
    mallory = chat.client("mallory")
    mallory.send(type="join", room="secret", ref="j")
    await mallory.caught_up("secret")
    assert [(f["code"], f["ref"], f["message"]) for f in mallory.sink.of("error")] == [
        ("not_found", "j", "room 'secret' not found")]
    assert mallory.sink.of("joined") == [] and mallory.session.rooms == set()
    mallory.send(type="send", room="secret", text="hi")
    assert mallory.sink.errors()[-1] == "not_joined"
    assert chat.store.calls["create_room"] == 0 and chat.service.rooms_active == 0
    await mallory.join("open")  # other rooms are not affected
    assert mallory.sink.of("joined")[0]["room"] == "open"


async def test_banned_user_may_not_join_a_public_room(chat: Chat) -> None:
    chat.store.standings[(ROOM, "mallory")] = Standing(state="banned")
    bob, mallory = chat.client("bob"), chat.client("mallory")
    await bob.join()
    mallory.send(type="join", room=ROOM, since=0, ref="j")
    await mallory.caught_up()
    assert [(f["code"], f["ref"]) for f in mallory.sink.of("error")] == [("forbidden", "j")]
    assert mallory.sink.seqs() == [] and bob.sink.of("presence") == []


async def test_muted_member_cannot_send_or_type(chat: Chat) -> None:
    private(chat.store, mallory=Standing(state="member", muted=True))
    bob, mallory = chat.client("bob"), chat.client("mallory")
    await bob.join("secret")
    await mallory.join("secret")
    mallory.send(type="send", room="secret", text="hi", ref=1)
    await mallory.next("error")
    mallory.send(type="typing", room="secret", ref=2)
    await settle()
    assert [(f["code"], f["ref"]) for f in mallory.sink.of("error")] == [("forbidden", 1), ("forbidden", 2)]
    assert chat.store.batches == [] and mallory.sink.of("ack") == []
    assert bob.sink.seqs() == [] and bob.sink.of("typing") == []


async def test_outsider_join_is_not_seen_by_members(chat: Chat) -> None:
    private(chat.store)
    bob = chat.client("bob")
    await bob.join("secret")
    mallory = chat.client("mallory")
    mallory.send(type="join", room="secret")
    await mallory.caught_up("secret")
    assert mallory.sink.errors() == ["not_found"]
    assert bob.sink.of("presence") == []


async def test_invited_user_joins_and_everyone_sees_the_event(chat: Chat) -> None:
    private(chat.store, carol=Standing(state="invited"))
    bob, carol = chat.client("bob"), chat.client("carol")
    await bob.join("secret")
    await carol.join("secret")
    event = await bob.next("member")
    assert (event["user"], event["action"], event["seq"]) == ("carol", "joined", 1)
    assert chat.store.standings[("secret", "carol")] == Standing(state="member")


async def test_kicked_member_is_removed_and_gets_nothing_more(chat: Chat) -> None:
    private(chat.store, alice=Standing(state="member", role="owner"))
    alice, bob = chat.client("alice"), chat.client("bob")
    await alice.join("secret")
    await bob.join("secret")
    alice.send(type="manage", room="secret", action="kick", user="bob", reason="spam", ref="k")
    done = await alice.next("managed")
    assert (done["ref"], done["seq"]) == ("k", 1)
    removed = await bob.next("removed")
    assert removed == {"type": "removed", "room": "secret", "reason": "kicked", "by": "alice"}
    assert [f["type"] for f in bob.sink.frames][-2:] == ["member", "removed"]
    assert "secret" not in bob.session.rooms
    alice.send(type="send", room="secret", text="after the kick")
    await alice.next("ack")
    await settle()
    assert [f["type"] for f in bob.sink.frames][-2:] == ["member", "removed"]  # nothing after
