"""Edits, deletes, reactions and replies, over WebSocket and REST, on both stores: what each member sees live,
what history and a resume with `since` show afterwards, who may do what, and every bad input refused with
nothing stored."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from tests.support import Client, ServerProcess, http, register, rest_events, rest_messages, unique

Account = tuple[str, str]


def _url(server: ServerProcess, room: str, seq: int | str, tail: str = "") -> str:
    return f"{server.http}/api/rooms/{room}/messages/{seq}{tail}"


async def _frame(client: Client, ref: str, *frame: dict[str, Any]) -> dict[str, Any]:
    await client.send({**frame[0], "ref": ref})
    return await client.next_where(lambda f: f.get("ref") == ref)


async def _room(server: ServerProcess, users: list[Account]) -> tuple[str, list[Client]]:
    room = unique("m")
    clients = [await Client.connect(server, token) for _, token in users]
    for c in clients:
        await c.join(room)
    return room, clients


async def test_edit_delete_react_and_reply_over_websocket_reach_every_member(shared_server: ServerProcess,
                                                                           users: list[Account]) -> None:
    room, (alice, bob) = await _room(shared_server, users[:2])
    (a_name, _), (b_name, _) = users[:2]
    first = await alice.say(room, "helo")
    seq = first["seq"]

    done = await _frame(alice, "e1", {"type": "edit", "room": room, "seq": seq, "text": "hello"})
    assert done["type"] == "done" and done["seq"] > seq
    edit = await bob.expect("edit", room=room)
    assert (edit["target"], edit["text"], edit["from"], edit["seq"]) == (seq, "hello", a_name, done["seq"])

    reacted = await _frame(bob, "r1", {"type": "react", "room": room, "seq": seq, "emoji": "👍"})
    assert reacted["type"] == "done"
    reaction = await alice.expect("reaction", room=room)
    assert (reaction["target"], reaction["emoji"], reaction["on"], reaction["from"]) == (seq, "👍", True, b_name)

    reply_ack = await _frame(bob, "s1", {"type": "send", "room": room, "text": "hi!", "client_id": unique("c"),
                                         "reply_to": seq})
    assert reply_ack["type"] == "ack"
    reply = await alice.expect("message", room=room, text="hi!")
    assert reply["reply_to"] == seq

    gone = await _frame(bob, "d1", {"type": "delete", "room": room, "seq": reply["seq"]})
    assert gone["type"] == "done"
    deleted = await alice.expect("delete", room=room)
    assert (deleted["target"], deleted["from"]) == (reply["seq"], b_name)

    token = users[0][1]
    history = {m["seq"]: m for m in rest_messages(shared_server, token, room)}
    assert history[seq]["text"] == "hello" and history[seq]["edited"] is True
    assert history[seq]["reactions"] == {"👍": [b_name]}
    assert history[reply["seq"]]["deleted"] is True and history[reply["seq"]]["text"] == ""
    assert history[reply["seq"]]["reply_to"] == seq and "reactions" not in history[reply["seq"]]
    await asyncio.gather(alice.close(), bob.close())


async def test_the_same_over_rest(shared_server: ServerProcess, users: list[Account]) -> None:
    room, (watcher,) = await _room(shared_server, users[2:3])
    (_, a_tok), (_, b_tok) = users[:2]
    status, _ = http("POST", _url(shared_server, room, 1, "/reactions"), {"emoji": "👍"}, token=b_tok)
    assert status == 403  # not a member yet: reacting needs membership, as sending does
    assert http("POST", f"{shared_server.http}/api/rooms/{room}/join", token=b_tok)[0] == 200
    status, msg = http("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "draft"}, token=a_tok)
    assert status == 201
    seq = msg["seq"]
    status, body = http("PATCH", _url(shared_server, room, seq), {"text": "final"}, token=a_tok)
    assert status == 200 and body["seq"] > seq
    assert (await watcher.expect("edit", room=room))["text"] == "final"
    status, body = http("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": ":tada:"}, token=b_tok)
    assert status == 200
    status, reply = http("POST", f"{shared_server.http}/api/rooms/{room}/messages",
                         {"text": "re", "reply_to": seq, "client_id": unique("c")}, token=b_tok)
    assert status == 201 and reply["reply_to"] == seq
    status, _ = http("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": ":tada:", "on": False},
                     token=b_tok)
    assert status == 200
    status, _ = http("DELETE", _url(shared_server, room, reply["seq"]), token=b_tok)
    assert status == 200
    history = {m["seq"]: m for m in rest_messages(shared_server, a_tok, room)}
    assert history[seq]["text"] == "final" and "reactions" not in history[seq]
    assert history[reply["seq"]]["deleted"] is True
    kinds = [e["type"] for e in rest_events(shared_server, a_tok, room) if e["seq"] > seq]
    assert kinds == ["edit", "reaction", "message", "reaction", "delete"], kinds
    await watcher.close()


async def test_resume_shows_the_final_state_and_each_change_once(shared_server: ServerProcess,
                                                                 users: list[Account]) -> None:
    """A member offline while a message was edited twice, reacted to and another deleted: the rejoin with
    `since` replays the messages as they are now and each change event once, in seq order."""
    room, (alice, bob) = await _room(shared_server, users[:2])
    one = (await alice.say(room, "one"))["seq"]
    two = (await alice.say(room, "two"))["seq"]
    await bob.messages(2, room)
    since = two
    await bob.close()
    for text in ("one!", "one!!"):
        await _frame(alice, unique("e"), {"type": "edit", "room": room, "seq": one, "text": text})
    await _frame(alice, "r", {"type": "react", "room": room, "seq": one, "emoji": "❤️"})
    await _frame(alice, "d", {"type": "delete", "room": room, "seq": two})
    bob = await Client.connect(shared_server, users[1][1])
    joined = await bob.join(room, since=since)
    replay = [await bob.next_where(lambda f: f.get("room") == room and "seq" in f)
              for _ in range(joined["last_seq"] - since)]
    assert [(f["type"], f.get("target")) for f in replay] == [("edit", one), ("edit", one), ("reaction", one),
                                                                ("delete", two)]
    assert [f["text"] for f in replay if f["type"] == "edit"] == ["one!!", "one!!"]  # no earlier text is served
    history = {m["seq"]: m for m in rest_messages(shared_server, users[1][1], room)}
    assert history[one]["text"] == "one!!" and history[one]["reactions"] == {"❤️": [users[0][0]]}
    assert history[two]["deleted"] and history[two]["text"] == ""
    await bob.nothing(0.3, "edit")
    await asyncio.gather(alice.close(), bob.close())


async def test_who_may_change_which_message(make_server: Any) -> None:
    server = make_server()
    owner, member, other = (register(server) for _ in range(3))
    room = unique("p")
    status, _ = http("POST", f"{server.http}/api/rooms", {"name": room, "visibility": "public"}, token=owner[1])
    assert status == 201
    for _, tok in (member, other):
        assert http("POST", f"{server.http}/api/rooms/{room}/join", token=tok)[0] == 200
    post = lambda tok, text: http("POST", f"{server.http}/api/rooms/{room}/messages",  # noqa: E731
                                  {"text": text, "client_id": unique("c")}, token=tok)[1]["seq"]
    mine = post(member[1], "member's")
    # only the author edits; others (even the owner) get 403 and nothing is stored
    for _, tok in (owner, other):
        assert http("PATCH", _url(server, room, mine), {"text": "x"}, token=tok)[0] == 403
    # another member may not delete it; the owner (a moderator) may
    assert http("DELETE", _url(server, room, mine), token=other[1])[0] == 403
    assert http("DELETE", _url(server, room, mine), token=owner[1])[0] == 200
    # a muted member may not edit or react but may delete their own message
    theirs = post(other[1], "other's")
    assert http("POST", f"{server.http}/api/rooms/{room}/manage", {"action": "mute", "user": other[0]},
                token=owner[1])[0] == 200
    assert http("PATCH", _url(server, room, theirs), {"text": "y"}, token=other[1])[0] == 403
    assert http("POST", _url(server, room, theirs, "/reactions"), {"emoji": "👍"}, token=other[1])[0] == 403
    assert http("DELETE", _url(server, room, theirs), token=other[1])[0] == 200
    # an outsider of a private room learns nothing: 404 as for a room that does not exist
    secret = unique("s")
    assert http("POST", f"{server.http}/api/rooms", {"name": secret, "visibility": "private"},
                token=owner[1])[0] == 201
    status, body = http("POST", f"{server.http}/api/rooms/{secret}/messages", {"text": "s", "client_id": "s1"},
                        token=owner[1])
    hidden = body["seq"]
    for method, tail, body_ in (("PATCH", "", {"text": "z"}), ("DELETE", "", None),
                                ("POST", "/reactions", {"emoji": "👍"})):
        status, answer = http(method, _url(server, secret, hidden, tail), body_, token=other[1])
        assert (status, answer["error"]) == (404, "not_found"), (method, answer)
    events = rest_events(server, owner[1], secret)
    assert [e["type"] for e in events] == ["member", "message"]  # nothing was stored by the refusals


async def test_bad_changes_are_refused_and_nothing_is_stored(shared_server: ServerProcess,
                                                            users: list[Account]) -> None:
    room, (alice,) = await _room(shared_server, users[:1])
    other_room, _ = await _room(shared_server, users[1:2])
    tok = users[0][1]
    seq = (await alice.say(room, "text"))["seq"]
    joined_seq = 1  # the room's first event is alice's `created` member event, not a message
    http("DELETE", _url(shared_server, room, seq), token=tok)
    head = len(rest_events(shared_server, tok, room))
    cases = [
        ("PATCH", _url(shared_server, room, seq), {"text": "x"}, 409),  # deleted
        ("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "👍"}, 409),  # deleted
        ("PATCH", _url(shared_server, room, joined_seq), {"text": "x"}, 404),  # not a message
        ("PATCH", _url(shared_server, room, 10**6), {"text": "x"}, 404),  # no such seq
        ("PATCH", _url(shared_server, room, "abc"), {"text": "x"}, 400),
        ("PATCH", _url(shared_server, room, 0), {"text": "x"}, 400),
        ("PATCH", _url(shared_server, room, 2**63), {"text": "x"}, 400),
        ("PATCH", _url(shared_server, room, "9" * 5000), {"text": "x"}, 400),
        ("PATCH", _url(shared_server, room, seq), {"text": ""}, 400),
        ("PATCH", _url(shared_server, room, seq), {"text": 5}, 400),
        ("PATCH", _url(shared_server, room, seq), {"text": "x" * 4001}, 400),
        ("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": ""}, 400),
        ("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "a b"}, 400),
        ("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "x" * 33}, 400),
        ("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "👍", "on": "yes"}, 400),
        ("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "r", "reply_to": 10**6}, 404),
        ("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "r", "reply_to": "1"}, 400),
        ("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "r", "reply_to": seq}, 409),
    ]
    for method, url, body, want in cases:
        status, answer = http(method, url, body, token=tok)
        assert status == want, (method, url, body, answer)
    # a reply names a seq of its own room: a message that exists only in another room is not found
    for _ in range(3):
        http("POST", f"{shared_server.http}/api/rooms/{other_room}/messages",
             {"text": "elsewhere", "client_id": unique("c")}, token=users[1][1])
    other_seq = max(m["seq"] for m in rest_messages(shared_server, users[1][1], other_room))
    assert other_seq > head
    status, answer = http("POST", f"{shared_server.http}/api/rooms/{room}/messages",
                          {"text": "r", "reply_to": other_seq}, token=tok)
    assert (status, answer["error"]) == (404, "not_found"), answer
    assert len(rest_events(shared_server, tok, room)) == head  # nothing stored by any refusal
    errors = []
    for i, frame in enumerate(({"type": "edit", "room": room, "seq": seq, "text": "x"},
                               {"type": "react", "room": room, "seq": seq, "emoji": "👍"},
                               {"type": "edit", "room": room, "seq": 0, "text": "x"},
                               {"type": "react", "room": room, "seq": seq, "emoji": "x" * 33},
                               {"type": "send", "room": room, "text": "r", "reply_to": 10**6})):
        errors.append((await _frame(alice, f"bad{i}", frame))["code"])
    assert errors == ["conflict", "conflict", "bad_request", "bad_request", "not_found"], errors
    assert len(rest_events(shared_server, tok, room)) == head
    await alice.close()


async def test_reactions_toggle_idempotently_and_keep_order(shared_server: ServerProcess,
                                                            users: list[Account]) -> None:
    room, clients = await _room(shared_server, users)
    seq = (await clients[0].say(room, "vote"))["seq"]
    names = [u for u, _ in users]
    for tok in (users[2][1], users[0][1], users[0][1]):  # the second 👍 by the same user changes nothing
        assert http("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "👍"}, token=tok)[0] == 200
    assert http("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "🎉"}, token=users[1][1])[0] == 200
    assert http("POST", _url(shared_server, room, seq, "/reactions"), {"emoji": "🎉", "on": False},
                token=users[2][1])[0] == 200  # removing what one never added changes nothing
    message = next(m for m in rest_messages(shared_server, users[0][1], room) if m["seq"] == seq)
    assert message["reactions"] == {"👍": [names[2], names[0]], "🎉": [names[1]]}
    await asyncio.gather(*(c.close() for c in clients))


async def test_read_markers_follow_the_user_to_every_device(shared_server: ServerProcess,
                                                            users: list[Account]) -> None:
    room, (phone,) = await _room(shared_server, users[:1])
    laptop = await Client.connect(shared_server, users[0][1])
    other = await Client.connect(shared_server, users[1][1])
    seq = (await phone.say(room, "read me"))["seq"]
    await phone.send({"type": "read", "room": room, "seq": seq})
    marker = await laptop.expect("read", room=room)  # no join needed: it is the user's, not the room's
    assert marker["seq"] == seq
    await other.nothing(0.3, "read")  # nobody else hears of it
    status, body = http("GET", f"{shared_server.http}/api/me/rooms", token=users[0][1])
    assert status == 200
    assert next(r for r in body["rooms"] if r["name"] == room)["last_read"] == seq
    assert http("POST", f"{shared_server.http}/api/rooms/{room}/read", {"seq": seq}, token=users[0][1])[0] == 204
    assert (await phone.expect("read", room=room))["seq"] == seq  # over REST too, to every connection
    await asyncio.gather(phone.close(), laptop.close(), other.close())


async def test_search_finds_words_in_rooms_one_may_read_and_follows_edits_and_deletes(
        make_server: Any) -> None:
    server = make_server()
    alice, bob, eve = (register(server) for _ in range(3))
    general, secret = unique("g"), unique("s")
    assert http("POST", f"{server.http}/api/rooms", {"name": secret, "visibility": "private"}, token=alice[1])[0] == 201

    def post(tok: str, room: str, text: str) -> int:
        status, body = http("POST", f"{server.http}/api/rooms/{room}/messages",
                            {"text": text, "client_id": unique("c")}, token=tok)
        assert status == 201, body
        return int(body["seq"])

    def search(tok: str, **params: Any) -> tuple[int, Any]:
        query = "&".join(f"{k}={urllib.parse.quote(str(v))}" for k, v in params.items())
        return http("GET", f"{server.http}/api/search?{query}", token=tok)

    def texts(tok: str, **params: Any) -> list[str]:
        status, body = search(tok, **params)
        assert status == 200, body
        return [m["text"] for m in body["results"]]

    post(alice[1], general, "deploy finished")
    typo = post(bob[1], general, "the deploymnet failed")
    post(alice[1], secret, "deploy the secret plan")
    gone = post(bob[1], general, "deploy again tomorrow")
    post(alice[1], general, 'SELECT * FROM users; -- "quote" AND OR NOT NEAR(a b)')
    assert texts(alice[1], q="deploy") == ["deploy again tomorrow", "deploy the secret plan", "the deploymnet failed",
                                            "deploy finished"]  # newest first; the last word is a prefix
    assert texts(bob[1], q="deploy") == ["deploy again tomorrow", "the deploymnet failed", "deploy finished"]
    assert texts(eve[1], q="deploy") == []  # only rooms one is a member of
    assert texts(alice[1], q="deploy", room=general, **{"from": bob[0]}) == ["deploy again tomorrow",
                                                                             "the deploymnet failed"]
    assert texts(alice[1], q="DEPLOY FIN") == ["deploy finished"]  # every word, any case
    # words inside addresses and numbers are words in both stores
    post(alice[1], general, "mail alice@corp.io: pi is 3.14 on example.com")
    for q in ("corp", "3.14", "example com", "pi"):
        assert texts(alice[1], q=q, room=general) == ["mail alice@corp.io: pi is 3.14 on example.com"], q
    # an edit is found by its new text only; a deleted message is found no more
    http("PATCH", f"{server.http}/api/rooms/{general}/messages/{typo}", {"text": "the rollout failed"},
         token=bob[1])
    http("DELETE", f"{server.http}/api/rooms/{general}/messages/{gone}", token=bob[1])
    assert texts(bob[1], q="deploy") == ["deploy finished"]
    assert texts(bob[1], q="rollout") == ["the rollout failed"]
    # query syntax of either store is only text
    for q in ('" OR 1=1 --', "NOT", "NEAR(a b)", "users;", "a* OR b", "'); DROP TABLE events; --"):
        status, body = search(alice[1], q=q)
        assert status == 200, (q, body)
    assert texts(alice[1], q="NEAR") == ['SELECT * FROM users; -- "quote" AND OR NOT NEAR(a b)']
    # pages
    status, first = search(alice[1], q="deploy", limit=1)
    assert status == 200 and len(first["results"]) == 1 and first["next"] == 1
    status, last = search(alice[1], q="deploy", limit=5)
    assert status == 200 and last["next"] is None
    # bad input: a clear 400 (404 for a room one may not read) and the server goes on
    for params, want in (({"q": ""}, 400), ({"q": "***"}, 400), ({"q": "x" * 201}, 400), ({}, 400),
                         ({"q": "a", "limit": 0}, 400), ({"q": "a", "limit": 101}, 400),
                         ({"q": "a", "offset": 1001}, 400), ({"q": "a", "from": "no body"}, 400),
                         ({"q": "a", "room": "bad room"}, 400), ({"q": "deploy", "room": secret}, 404)):
        status, body = search(eve[1], **params)
        assert status == want, (params, body)
    assert search(eve[1], q="deploy")[0] == 200
    assert http("GET", f"{server.http}/api/search?q=deploy")[0] == 401

    # the same over WebSocket: a `search` frame answered by `results` (or an error with its ref)
    ws = await Client.connect(server, alice[1])
    answer = await _frame(ws, "s1", {"type": "search", "q": "deploy", "limit": 2})
    assert answer["type"] == "results" and answer["next"] == 2
    assert answer["results"] == search(alice[1], q="deploy", limit=2)[1]["results"]
    answer = await _frame(ws, "s2", {"type": "search", "q": "rollout", "room": general, "from": bob[0]})
    assert ([m["text"] for m in answer["results"]], answer["next"]) == (["the rollout failed"], None)
    for i, bad in enumerate(({"q": ""}, {"q": "deploy", "limit": 0}, {"q": "deploy", "limit": 101},
                             {"q": "deploy", "offset": 1001}, {"q": "a", "from": "no body"}, {})):
        answer = await _frame(ws, f"b{i}", {"type": "search", **bad})
        assert (answer["type"], answer["code"]) == ("error", "bad_request"), (bad, answer)
    eve_ws = await Client.connect(server, eve[1])
    answer = await _frame(eve_ws, "b9", {"type": "search", "q": "deploy", "room": secret})
    assert (answer["type"], answer["code"]) == ("error", "not_found")
    await ws.close()
    await eve_ws.close()


async def test_mentions_name_members_and_are_counted_until_read(make_server: Any) -> None:
    server = make_server()
    alice, bob, carol = (register(server) for _ in range(3))
    room = unique("m")
    for _, tok in (alice, bob):
        assert http("POST", f"{server.http}/api/rooms/{room}/join", token=tok)[0] == 200
    listener = await Client.connect(server, bob[1])
    await listener.join(room)

    def post(text: str) -> dict[str, Any]:
        status, body = http("POST", f"{server.http}/api/rooms/{room}/messages", {"text": text,
                                                                                "client_id": unique("c")},
                            token=alice[1])
        assert status == 201, body
        return body

    def mine(tok: str) -> dict[str, Any]:
        status, body = http("GET", f"{server.http}/api/me/rooms", token=tok)
        assert status == 200
        return next(r for r in body["rooms"] if r["name"] == room)

    shout = post(f"hey @{bob[0].upper()}, see @{carol[0]} and @nobody. email me at a@b.c")
    assert shout["mentions"] == [bob[0]]  # a member, as registered; carol is not in the room, nobody exists not
    assert (await listener.expect("message", room=room))["mentions"] == [bob[0]]
    everyone = post("@room standup in 5")
    assert everyone["mentions"] == ["@room"]
    plain = post("no one named here")
    assert "mentions" not in plain
    assert (mine(bob[1])["unread"], mine(bob[1])["mentions"]) == (3, 2)
    assert mine(alice[1])["mentions"] == 0  # one's own @room does not count
    # the mention survives an edit; a deleted message no longer counts
    http("PATCH", f"{server.http}/api/rooms/{room}/messages/{shout['seq']}", {"text": "edited"}, token=alice[1])
    history = {m["seq"]: m for m in rest_messages(server, bob[1], room)}
    assert history[shout["seq"]]["mentions"] == [bob[0]]
    http("DELETE", f"{server.http}/api/rooms/{room}/messages/{everyone['seq']}", token=alice[1])
    assert mine(bob[1])["mentions"] == 1
    assert http("POST", f"{server.http}/api/rooms/{room}/read", {"seq": plain["seq"]}, token=bob[1])[0] == 204
    assert (mine(bob[1])["unread"], mine(bob[1])["mentions"]) == (0, 0)
    # the notification level per room
    assert mine(bob[1])["notify"] == "all"
    assert http("POST", f"{server.http}/api/rooms/{room}/notify", {"level": "mentions"}, token=bob[1])[0] == 204
    assert mine(bob[1])["notify"] == "mentions"
    for body, want in (({"level": "loud"}, 400), ({}, 400)):
        assert http("POST", f"{server.http}/api/rooms/{room}/notify", body, token=bob[1])[0] == want
    assert http("POST", f"{server.http}/api/rooms/{room}/notify", {"level": "none"}, token=carol[1])[0] == 409
    await listener.close()


async def test_a_users_messages_are_stored_in_the_order_sent_when_some_need_checking(
        shared_server: ServerProcess, users: list[Account]) -> None:
    """A mention or a reply is checked against the store before it is stored; the plain message sent right
    after it must not overtake it."""
    room, (alice,) = await _room(shared_server, users[:1])
    first = (await alice.say(room, "first"))["seq"]
    texts = ["hey @everyone look", "plain after a mention", f"a reply to {first}", "plain after a reply",
             "mail me at a@b.c", "plain again"]
    for i, text in enumerate(texts):
        frame: dict[str, Any] = {"type": "send", "room": room, "text": text, "client_id": unique("o"), "ref": i}
        if "reply" in text and "after" not in text:
            frame["reply_to"] = first
        await alice.send(frame)
    acks = [await alice.next_where(lambda f, i=i: f.get("ref") == i) for i in range(len(texts))]
    assert [a["type"] for a in acks] == ["ack"] * len(texts), acks
    stored = [m["text"] for m in rest_messages(shared_server, users[0][1], room) if m["seq"] > first]
    assert stored == texts
    await alice.close()
