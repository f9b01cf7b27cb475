"""Who gets which answer (docs/protocol.md, "Membership and moderation"): every actor (outsider, invited,
member, muted member, banned, moderator, owner, server admin) x every action (join, history, send, typing,
seeing presence, invite, kick, ban, mute, set role, set topic, delete) x every way in (WebSocket frames,
REST routes; typing and presence have none), for a private room, and for a public room the rows that
differ (outsider, member, muted, banned). Each cell asserts the exact answer: the error code (and HTTP
status), or success and what it visibly did. A refused action changes nothing (the room's
info, members, invited and banned lists and last_seq are compared before and after).

To outsiders (and banned users) a private room does not exist: every answer they get is compared, code
and message text (status and body over REST), with the answer for a room name that was never used. By
default joining or REST-posting to a never-used name creates a public room, which would make those two
incomparable, so the server runs with --room-creation admins (PARLEY_ROOM_CREATION): a server admin
makes the rooms and hands them to their owner (what `--room-creation anyone` adds is tested in
tests/test_membership.py).

One server per store for the whole module; one room of each kind set up once, with every actor in place,
shared by the cells: what a successful cell changed in who is in it (a kick, an accepted invitation, an
admin who joined...) is undone before the next one, and a successful delete gets a room of its own.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.access_support import (
    api,
    ask,
    cli_user,
    create_room,
    events,
    flush,
    join_ok,
    manage_ok,
    masked,
    members,
    names,
    of_room,
    parallel,
    post_ok,
    register_many,
    room_info,
    room_state,
    running,
    store_url,
    token_of,
)
from tests.support import Client, close_all, http, unique

ACTORS = ("outsider", "invited", "member", "muted", "banned", "moderator", "owner", "admin")
EXTRAS = ("target", "peer", "bystander")  # target: the member moderated and watching; peer: comes online
# (presence); bystander: an outsider who gets invited
WS_ACTIONS = ("join", "history", "send", "typing", "presence", "invite", "kick", "ban", "mute", "role", "topic",
              "delete")
REST_ACTIONS = ("join", "history", "send", "invite", "kick", "ban", "mute", "role", "topic", "delete")
MODERATION = ("invite", "kick", "ban", "mute", "role", "topic", "delete")
MEMBERS = ("member", "muted", "moderator", "owner")  # members of both rooms before any cell
SEED = "the first message"
REASON = "access matrix"


@dataclass(frozen=True)
class Ok:
    pass


@dataclass(frozen=True)
class No:
    codes: tuple[str, ...]  # the error code (two where docs/protocol.md allows either; see below)
    status: int  # over REST
    as_never_used: bool = False  # the answer equals the one for a room name never used (code, text, status)


FORBIDDEN = No(("forbidden",), 403)


def expected(kind: str, actor: str, action: str, way: str) -> Ok | No:
    """docs/protocol.md, "Who gets which answer" and the action table.

    A WebSocket `send`, `typing` or `history` also needs the connection to have joined the room; users who
    may not join (or whose join would change their state: invited) send them unjoined, and the protocol
    allows `not_joined` there as well as the table's code: both are accepted, nothing else.
    """
    unjoined_ws = way == "ws" and action in ("history", "send", "typing")
    if kind == "private" and actor in ("outsider", "banned"):  # the room does not exist for them
        return No(("not_found", "not_joined") if unjoined_ws else ("not_found",), 404, as_never_used=True)
    if actor in ("banned", "invited"):  # banned from a public room; invited to a private one
        if actor == "invited" and action in ("join", "presence"):
            return Ok()  # the join accepts the invitation
        return No(("forbidden", "not_joined"), 403) if unjoined_ws else FORBIDDEN
    if actor == "outsider":  # public room
        if action in MODERATION:
            return FORBIDDEN
        return Ok()  # reading over REST leaves them an outsider; everything else makes them a member
    if actor in ("member", "muted"):
        if action in MODERATION:
            return FORBIDDEN
        if actor == "muted" and action in ("send", "typing"):
            return FORBIDDEN
        return Ok()
    if actor == "moderator":
        if action in ("role", "delete"):
            return FORBIDDEN
        return Ok()
    assert actor in ("owner", "admin")
    return Ok()


def joins_first(kind: str, actor: str, action: str, way: str) -> bool:
    """Whether the actor joins before the action, as a client would: over WebSocket for history, send and
    typing when they may join without it changing their state (or when it is expected to); over REST only a
    server admin's post ("after joining")."""
    if way == "rest":
        return actor == "admin" and action == "send"
    if action not in ("history", "send", "typing"):
        return False
    return actor in MEMBERS or actor == "admin" or (kind == "public" and actor == "outsider")


# A public room's rows where they differ from a private room's: moderators, owners and admins have the
# same powers in both (their private-room rows stand for both); nobody is invited to a public room.
PUBLIC_ACTORS = ("outsider", "member", "muted", "banned")
CELLS = [(kind, actor, action, way)
         for kind in ("private", "public")
         for actor in (ACTORS if kind == "private" else PUBLIC_ACTORS)
         for way, actions in (("ws", WS_ACTIONS), ("rest", REST_ACTIONS))
         for action in actions]


# --- the server, the actors and their rooms ----------------------------------------------------------


Standing = tuple[Any, ...]  # ("member", role, muted), ("invited",), ("banned",); no entry: an outsider


class World:
    """The server, every actor's account, and one shared room of each kind. A cell whose success changes
    who is in the shared room is undone before the next cell (the moderated target rejoins, an admin who
    joined leaves, an accepted invitation is made again...): a few requests instead of a new room."""

    def __init__(self, server: Any, accounts: dict[str, tuple[str, str]]) -> None:
        self.server = server
        self.accounts = accounts
        self.shared: dict[str, tuple[str, dict[str, Standing]]] = {}  # kind -> (room, standings as set up)
        self.known: dict[str, dict[str, Any] | None] = {}  # kind -> the shared room's state, when known

    def name(self, who: str) -> str:
        return self.accounts[who][0]

    def token(self, who: str) -> str:
        return self.accounts[who][1]

    def build(self, kind: str, everyone: bool = True) -> str:
        """A room of `kind` made by the server admin and handed to `owner` (the admin leaves), with moderator,
        member, muted, banned, target and peer in their places, `invited` invited (private), and one
        message; or (everyone=False) the owner alone."""
        srv, room = self.server, unique("acc")
        admin, owner = self.token("admin"), self.token("owner")
        create_room(srv, admin, room, kind)
        joining = ["owner", *(["moderator", "member", "muted", "banned", "target", "peer"] if everyone else [])]
        if kind == "private":
            parallel(*[lambda w=w: manage_ok(srv, admin, room, "invite", user=self.name(w))
                       for w in [*joining, *(["invited"] if everyone else [])]])
        parallel(*[lambda w=w: join_ok(srv, self.token(w), room) for w in joining])
        manage_ok(srv, admin, room, "role", user=self.name("owner"), role="owner")
        manage_ok(srv, admin, room, "leave")
        if everyone:
            parallel(lambda: manage_ok(srv, owner, room, "role", user=self.name("moderator"), role="moderator"),
                     lambda: manage_ok(srv, owner, room, "mute", user=self.name("muted")),
                     lambda: manage_ok(srv, owner, room, "ban", user=self.name("banned")),
                     lambda: post_ok(srv, owner, room, SEED))
        return room

    def standings(self, state: dict[str, Any]) -> dict[str, Standing]:
        found: dict[str, Standing] = {u: ("member", role, muted) for u, role, muted in state["members"]}
        found.update({u: ("invited",) for u in state["invited"]})
        found.update({u: ("banned",) for u in state["banned"]})
        by_name = {name: who for who, (name, _) in self.accounts.items()}
        return {by_name.get(u, u): st for u, st in found.items()}

    def room(self, kind: str) -> tuple[str, dict[str, Any]]:
        """The shared room of `kind`, put back as it was set up if a cell changed who is in it, and its
        state (known already when the cell before was refused and changed nothing)."""
        if kind in self.shared:
            room, as_set_up = self.shared[kind]
            if self.known.get(kind) is not None:
                return room, self.known[kind]
            with suppress(AssertionError):  # if it cannot be undone (or is gone), a new room is set up
                state = self.state(room)
                if self.standings(state) != as_set_up:
                    self.undo(kind, room, self.standings(state), as_set_up)
                    state = self.state(room)
                if self.standings(state) == as_set_up:
                    self.known[kind] = state
                    return room, state
        room = self.build(kind)
        state = self.state(room)
        self.shared[kind], self.known[kind] = (room, self.standings(state)), state
        return room, state

    def forget(self, kind: str) -> None:
        """A cell is about to run in the shared room: until it proves it changed nothing, its state is unknown."""
        self.known[kind] = None

    def undo(self, kind: str, room: str, now: dict[str, Standing], want: dict[str, Standing]) -> None:
        srv, owner = self.server, self.token("owner")
        for who in set(now) | set(want):
            have, should = now.get(who), want.get(who)
            if have == should or who not in self.accounts or who == "owner":
                continue
            name, token = self.accounts[who]
            if have and should and have[0] == should[0] == "member":
                if have[1] != should[1]:
                    manage_ok(srv, owner, room, "role", user=name, role=should[1])
                if have[2] != should[2]:
                    manage_ok(srv, owner, room, "mute" if should[2] else "unmute", user=name)
                continue
            if have and have[0] in ("member", "invited"):
                manage_ok(srv, token, room, "leave")  # leaves, or declines the invitation
            elif have and have[0] == "banned":
                manage_ok(srv, owner, room, "unban", user=name)
            if should is None:
                continue
            if kind == "private" or should[0] == "invited":
                manage_ok(srv, owner, room, "invite", user=name)
            if should[0] == "invited":
                continue
            join_ok(srv, token, room)
            if should[0] == "banned":
                manage_ok(srv, owner, room, "ban", user=name)
                continue
            if should[1] != "member":
                manage_ok(srv, owner, room, "role", user=name, role=should[1])
            if should[2]:
                manage_ok(srv, owner, room, "mute", user=name)

    def state(self, room: str) -> dict[str, Any]:
        return room_state(self.server, self.token("owner"), room)


@pytest.fixture(scope="module")
def world(store_kind, tmp_path_factory):
    """The module's server (--room-creation admins, through PARLEY_ROOM_CREATION), a server admin made with
    `parley user add --admin` and an account for every other actor (made side by side: each costs a
    password hash)."""
    with store_url(store_kind, tmp_path_factory) as db:
        log = tmp_path_factory.mktemp("access") / "server.log"
        with running(db, "--rate", "0", env={"PARLEY_ROOM_CREATION": "admins"}, log=log) as srv:
            roles = [a for a in ACTORS if a != "admin"] + list(EXTRAS)
            accounts, admin = parallel(lambda: register_many(srv, [None] * len(roles)),
                                       lambda: cli_user(db, unique("admin"), admin=True))
            yield World(srv, {**dict(zip(roles, accounts, strict=True)), "admin": (admin, token_of(srv, admin))})


# --- doing an action ----------------------------------------------------------------------------------


@dataclass
class Got:
    answer: Any  # WebSocket: the direct answer (None: a typing that got none); REST: (status, body)
    error: str | None  # the error code, None on success
    sent: dict[str, Any] = field(default_factory=dict)  # the frame or body sent
    status: int | None = None  # REST
    seen: bool | None = None  # typing: the watcher saw it; presence: the actor saw the peer come online
    online: list[str] | None = None  # presence: joined.online

    @classmethod
    def ws(cls, reply: dict[str, Any], sent: dict[str, Any]) -> Got:
        return cls(reply, reply.get("code") if reply.get("type") == "error" else None, sent)

    def comparable(self, room: str) -> Any:
        return masked(self.answer, room)


def manage_fields(w: World, action: str) -> dict[str, Any]:
    target = w.name("target")
    return {"invite": {"action": "invite", "user": w.name("bystander")},
            "kick": {"action": "kick", "user": target, "reason": REASON},
            "ban": {"action": "ban", "user": target, "reason": REASON},
            "mute": {"action": "mute", "user": target},
            "role": {"action": "role", "user": target, "role": "moderator"},
            "topic": {"action": "topic", "topic": unique("topic ")},
            "delete": {"action": "delete"}}[action]


async def act(w: World, room: str, kind: str, actor: str, action: str, way: str, watch: bool,
              want_ok: bool) -> Got:
    """`actor` does `action` in `room` the `way` given. `watch`: with the other members' connections that
    show typing and presence (False for a name never used: there is no room for them to watch)."""
    if way == "rest":
        return act_rest(w, room, actor, action, joins_first(kind, actor, action, way))
    first = joins_first(kind, actor, action, way)
    if action == "typing":
        return await act_typing(w, room, actor, first, watch, want_ok)
    if action == "presence":
        return await act_presence(w, room, actor, watch)
    client = await Client.connect(w.server, w.token(actor))
    try:
        if first:
            joined = await ask(client, {"type": "join", "room": room})
            assert joined["type"] == "joined", joined
        frame: dict[str, Any] = {"type": action, "room": room}
        if action == "send":
            frame.update(text=unique("text "), client_id=unique("c"))
        elif action in MODERATION:
            frame = {"type": "manage", "room": room, **manage_fields(w, action)}
        return Got.ws(await ask(client, frame), frame)
    finally:
        await client.close()


def act_rest(w: World, room: str, actor: str, action: str, first: bool) -> Got:
    token, path = w.token(actor), f"/api/rooms/{room}"
    if first:
        join_ok(w.server, token, room)
    body: dict[str, Any] = {}
    if action == "join":
        status, answer = api(w.server, "POST", path + "/join", token, body)
    elif action == "history":
        status, answer = api(w.server, "GET", path + "/messages", token)
    elif action == "send":
        body = {"text": unique("text "), "client_id": unique("c")}
        status, answer = api(w.server, "POST", path + "/messages", token, body)
    elif action == "delete":
        status, answer = api(w.server, "DELETE", path, token)
    else:
        body = manage_fields(w, action)
        status, answer = api(w.server, "POST", path + "/manage", token, body)
    error = answer.get("error") if status >= 400 and isinstance(answer, dict) else None
    return Got((status, answer), error if status >= 400 else None, body, status)


async def act_typing(w: World, room: str, actor: str, first: bool, watch: bool, want_ok: bool) -> Got:
    """The actor types; `target`, subscribed, shows whether it got through. When it should be refused,
    `owner` types next, and `target` sees owner's typing without the actor's before it."""
    opened: list[Client] = []
    try:
        if watch:
            watcher = await Client.connect(w.server, w.token("target"))
            opened.append(watcher)
            await watcher.join(room)
        client = await Client.connect(w.server, w.token(actor))
        opened.append(client)
        if first:
            joined = await ask(client, {"type": "join", "room": room})
            assert joined["type"] == "joined", joined
        frame = {"type": "typing", "room": room, "ref": unique("typing-")}
        await client.send(frame)
        await flush(client)  # an error for the typing frame comes before the pong
        replies = [f for f in client.pending if f.get("ref") == frame["ref"]]
        got = Got.ws(replies[0], frame) if replies else Got(None, None, frame)
        if not watch:
            return got
        me = w.name(actor)
        if want_ok:
            await watcher.expect("typing", room=room, user=me)
            got.seen = True
        else:
            marker = await Client.connect(w.server, w.token("owner"))
            opened.append(marker)
            await marker.join(room)
            await marker.send({"type": "typing", "room": room})
            await watcher.expect("typing", room=room, user=w.name("owner"))
            got.seen = any(f.get("user") == me for f in of_room(watcher, room, "typing"))
        return got
    finally:
        await close_all(*opened)


async def act_presence(w: World, room: str, actor: str, watch: bool) -> Got:
    """`target` is online in the room; the actor joins (joined.online), then `peer` comes online: does the
    actor hear of it? At the end `peer` goes offline again (seen by `target`), ready for the next cell.
    Without `watch`, only the actor's join."""
    opened = []
    try:
        if watch:
            watcher = await Client.connect(w.server, w.token("target"))
            opened.append(watcher)
            await watcher.join(room)
        client = await Client.connect(w.server, w.token(actor))
        opened.append(client)
        frame = {"type": "join", "room": room}
        got = Got.ws(await ask(client, frame), frame)
        if not watch:
            return got
        if got.error is None:
            got.online = got.answer["online"]
        peer = await Client.connect(w.server, w.token("peer"))
        opened.append(peer)
        await peer.join(room)
        peer_name = w.name("peer")
        await watcher.expect("presence", room=room, user=peer_name, online=True)
        if got.error is None:
            await client.expect("presence", room=room, user=peer_name, online=True)
            got.seen = True
        else:
            await flush(client)
            got.seen = bool(of_room(client, room, "presence"))
        await peer.close()
        await watcher.expect("presence", room=room, user=peer_name, online=False)
        return got
    finally:
        await close_all(*opened)


# --- what a success did --------------------------------------------------------------------------------

EVENT = {"invite": ("invited", "bystander"), "kick": ("kicked", "target"), "ban": ("banned", "target"),
         "mute": ("muted", "target"), "role": ("role", "target")}
SUCCESS_STATUS = {"join": 200, "history": 200, "send": 201, "delete": 204}
SUCCESS_FRAME = {"join": "joined", "history": "history", "send": "ack"}


def state_of(w: World, actor: str, room: str) -> str | None:
    status, info = room_info(w.server, w.token(actor), room)
    assert status == 200, info
    return info["state"]


def check_success(w: World, room: str, kind: str, actor: str, action: str, way: str, got: Got) -> None:
    me, srv, owner = w.name(actor), w.server, w.token("owner")
    if action == "typing":
        assert got.answer is None and got.seen, got
        return
    if action == "presence":
        assert w.name("target") in got.online and got.seen, got
        return
    if way == "rest":
        status, answer = got.answer
        assert status == SUCCESS_STATUS.get(action, 200), got
    else:
        answer = got.answer
        assert answer["type"] == SUCCESS_FRAME.get(action, "managed") and answer["room"] == room, got
    if action == "join":
        if way == "rest":
            assert answer["name"] == room and answer["state"] == "member", answer
        assert state_of(w, actor, room) == "member"
    elif action == "history":  # the latest events of the room, oldest first
        seqs = [m["seq"] for m in answer["messages"]]
        last_seq = room_info(srv, owner, room)[1]["last_seq"]
        assert seqs and seqs == list(range(seqs[0], last_seq + 1)), answer
        if actor == "outsider" and way == "rest":  # reading a public room does not make a member
            assert state_of(w, actor, room) is None
    elif action == "send":
        seq = answer["seq"]
        (stored,) = events(srv, owner, room, after=seq - 1, limit=1)
        assert (stored["type"], stored["seq"], stored["from"], stored["text"]) == \
            ("message", seq, me, got.sent["text"]), stored
        if actor == "outsider":  # a REST post (or a join before a WebSocket send) made a member
            assert state_of(w, actor, room) == "member"
    elif action == "delete":
        if way == "ws":
            assert answer["action"] == "delete" and answer["seq"] == 0, answer
        for who in ("owner", actor):
            status, info = room_info(srv, w.token(who), room)
            assert status == 404 and info["error"] == "not_found", info
        status, taken = api(srv, "POST", "/api/rooms", w.token("admin"), {"name": room, "visibility": kind})
        assert status == 409 and taken["error"] == "conflict", taken  # the name stays taken
    else:
        seq = answer["seq"]
        if way == "ws":
            assert answer["action"] == action, answer
        (event,) = events(srv, owner, room, after=seq - 1, limit=1)
        assert event["seq"] == seq and event["room"] == room and event["from"] == me, event
        m = members(srv, owner, room)
        who = {x["user"]: x for x in m["members"]}
        target = w.name("target")
        if action == "topic":
            assert event["type"] == "topic" and event["topic"] == got.sent["topic"], event
            info = room_info(srv, owner, room)[1]
            assert info["topic"] == got.sent["topic"], ("GET /api/rooms/{room} after the topic changed", info)
            return
        member_action, whom = EVENT[action]
        assert (event["type"], event["action"], event["user"]) == ("member", member_action, w.name(whom)), event
        if action in ("kick", "ban"):
            assert event["reason"] == REASON, event
            assert target not in who
            assert (target in names(m["banned"])) == (action == "ban"), m
        elif action == "invite":
            assert w.name("bystander") in names(m["invited"]), m
        elif action == "mute":
            assert who[target]["muted"] is True, m
        elif action == "role":
            assert event["role"] == "moderator" and who[target]["role"] == "moderator", (event, m)


# --- the matrix ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "actor", "action", "way"), [pytest.param(*c, id="-".join(c)) for c in CELLS])
async def test_who_gets_which_answer(world, kind, actor, action, way):
    want = expected(kind, actor, action, way)
    ok = isinstance(want, Ok)
    if ok and action == "delete":
        room = world.build(kind, everyone=False)
    else:
        room, before = world.room(kind)
        world.forget(kind)
    got = await act(world, room, kind, actor, action, way, watch=True, want_ok=ok)
    if ok:
        assert got.error is None, got
        check_success(world, room, kind, actor, action, way, got)
        return
    assert got.error in want.codes, got
    if way == "rest":
        status, body = got.answer
        assert status == want.status and set(body) == {"error", "message"}, got
    else:
        assert set(got.answer) == {"type", "code", "message", "ref"}, got
    if action == "typing":
        assert got.seen is False, "the refused typing reached the room"
    if action == "presence":
        assert got.seen is False, "a user refused the room still hears its presence"
    after = world.state(room)
    assert after == before, "a refused action changed the room"
    world.known[kind] = after
    if want.as_never_used:
        never = unique("acc")
        unused = await act(world, never, kind, actor, action, way, watch=False, want_ok=False)
        assert got.comparable(room) == unused.comparable(never), "a private room answers unlike a name never used"


# --- every REST route, for those a private room does not exist to -----------------------------------------

ROUTES = {  # route: (method, path after /api/rooms/{room}, body, the answer: 404 not_found unless noted)
    "room": ("GET", "", None),
    "members": ("GET", "/members", None),
    "messages": ("GET", "/messages", None),
    "messages-after": ("GET", "/messages?after=0", None),
    "messages-before": ("GET", "/messages?before=3&limit=2", None),
    "read": ("POST", "/read", {"seq": 1}),
    "manage-leave": ("POST", "/manage", {"action": "leave"}),
    "manage-unban": ("POST", "/manage", {"action": "unban", "user": "nobody"}),
    "manage-unknown-action": ("POST", "/manage", {"action": "explode"}),  # 400 would do as well: see below
    "delete": ("DELETE", "", None),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("actor", ["outsider", "banned"])
def test_a_private_room_answers_like_a_name_never_used(world, actor, route):
    method, tail, body = ROUTES[route]
    (room, before), never = world.room("private"), unique("acc")
    world.forget("private")
    status, answer = http(method, f"{world.server.http}/api/rooms/{room}{tail}", body, token=world.token(actor))
    unused = http(method, f"{world.server.http}/api/rooms/{never}{tail}", body, token=world.token(actor))
    error = answer.get("error") if isinstance(answer, dict) else answer
    if route == "manage-unknown-action":  # checking the body before the room tells nothing about the room
        assert (status, error) in ((404, "not_found"), (400, "bad_request")), answer
    else:
        assert (status, error) == (404, "not_found"), answer
    assert masked((status, answer), room) == masked(unused, never)
    assert world.state(room) == before
    world.known["private"] = before


def test_me_says_who_is_a_server_admin(world):
    for who, admin in (("admin", True), ("owner", False)):
        status, me = api(world.server, "GET", "/api/me", world.token(who))
        assert status == 200 and (me["user"], me["admin"]) == (world.name(who), admin), me


def test_members_list_shows_invited_and_banned_to_moderators_only(world):
    room, _ = world.room("private")
    for who in ("owner", "moderator", "admin"):
        m = members(world.server, world.token(who), room)
        assert world.name("invited") in names(m["invited"]) and world.name("banned") in names(m["banned"]), m
    m = members(world.server, world.token("member"), room)
    assert not m.get("invited") and not m.get("banned"), m
    who = {x["user"]: (x["role"], x["muted"]) for x in m["members"]}
    assert who[world.name("owner")] == ("owner", False) and who[world.name("moderator")] == ("moderator", False)
    assert who[world.name("muted")] == ("member", True) and who[world.name("member")] == ("member", False)
    assert world.name("invited") not in who and world.name("banned") not in who


# --- --room-creation admins ---------------------------------------------------------------------------


def test_info_reports_room_creation_admins(world):
    status, info = http("GET", world.server.http + "/api/info")
    assert status == 200 and (info["registration"], info["room_creation"], info["max_text"]) == \
        ("open", "admins", 4000), info


async def test_only_admins_make_rooms(world):
    srv, admin, token = world.server, world.token("admin"), world.token("outsider")
    room = unique("acc")
    for visibility in ("public", "private"):
        status, answer = api(srv, "POST", "/api/rooms", token, {"name": room, "visibility": visibility})
        assert status == 403 and answer["error"] == "forbidden", answer
    client = await Client.connect(srv, token)
    refused = await ask(client, {"type": "join", "room": room})
    await client.close()
    assert refused["type"] == "error" and refused["code"] == "not_found", refused  # no room made by joining
    status, answer = api(srv, "POST", f"/api/rooms/{room}/messages", token, {"text": "hi", "client_id": "c-1"})
    assert status == 404 and answer["error"] == "not_found", answer  # nor by posting
    assert room_info(srv, admin, room)[0] == 404
    assert create_room(srv, admin, room, "public")["name"] == room
    assert join_ok(srv, token, room)["state"] == "member"  # a public room made by an admin: anyone joins
