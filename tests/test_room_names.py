"""Room names are case-insensitive and kept in lower case: `General`, `GENERAL` and `general` are one room,
whichever way a name comes in (WebSocket frames, REST paths and bodies, long-polling), and the server always
answers with the lower-case name. (Usernames ignore case too, but keep their registered spelling.)"""

import urllib.parse

import pytest

from tests.support import Client, http, register, unique

SQLITE = pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)  # the rule is above the store


def _mixed(room: str) -> str:
    return room[:1].upper() + room[1:]


@SQLITE
async def test_one_room_whatever_the_case_over_websocket_rest_and_polling(shared_server):
    (_, ta), (_, tb) = register(shared_server), register(shared_server)
    room = unique("caps")
    a, b = await Client.connect(shared_server, ta), await Client.connect(shared_server, tb)
    joined = await a.join(_mixed(room))
    assert joined["room"] == room, joined
    assert (await b.join(room.upper()))["room"] == room
    ack = await a.say(room.upper(), "one room")
    got = await b.expect("message", text="one room")
    assert got["room"] == room and ack["room"] == room, (got, ack)

    # REST: the path in any case, the answer in lower case
    status, sent = http("POST", f"{shared_server.http}/api/rooms/{_mixed(room)}/messages",
                        {"text": "via rest", "client_id": unique("c")}, token=tb)
    assert status == 201 and sent["room"] == room, sent
    assert (await a.expect("message", text="via rest"))["room"] == room
    status, history = http("GET", f"{shared_server.http}/api/rooms/{room.upper()}/messages", token=ta)
    assert status == 200 and [m["text"] for m in history["messages"] if m["type"] == "message"] == [
        "one room", "via rest"], history
    status, search = http("GET", f"{shared_server.http}/api/search?q=rest&room={room.upper()}", token=ta)
    assert status == 200 and [h["room"] for h in search["results"]] == [room], search

    # long-polling: a cursor named in another case is answered under the lower-case name
    status, answer = http("GET", f"{shared_server.http}/api/poll?rooms={_mixed(room)}:0&timeout=0", token=ta)
    assert status == 200 and set(answer["cursors"]) == {room}, answer
    status, mine = http("GET", f"{shared_server.http}/api/me/rooms", token=ta)
    assert status == 200 and [r["name"] for r in mine["rooms"] if r["name"].lower() == room] == [room], mine
    await a.close()
    await b.close()


@SQLITE
def test_creating_a_room_keeps_its_name_in_lower_case_and_the_other_spelling_is_taken(shared_server):
    _, token = register(shared_server)
    room = unique("Design")
    status, made = http("POST", f"{shared_server.http}/api/rooms", {"name": room, "visibility": "public"},
                        token=token)
    assert status == 201 and made["name"] == room.lower(), made
    for spelling in (room, room.lower(), room.upper()):
        status, answer = http("POST", f"{shared_server.http}/api/rooms", {"name": spelling, "visibility": "private"},
                              token=token)
        assert status == 409 and answer["error"] == "conflict", answer
    status, view = http("GET", f"{shared_server.http}/api/rooms/{room.upper()}", token=token)
    assert status == 200 and view["name"] == room.lower() and view["visibility"] == "public", view


@SQLITE
def test_the_directory_finds_rooms_by_part_of_their_name_or_topic_with_no_messages_needed(shared_server):
    """`GET /api/rooms?q=` looks through every public room (not just the first page), by name or topic, case
    ignored; `%` and `_` are plain characters; private rooms are never found."""
    _, token = register(shared_server)
    tag = unique("dir").replace("-", "")
    made = {f"{tag}-platform-infra": "Servers and clusters", f"{tag}-design": "Mockups, UI and UX",
            f"{tag}-x_y": "100% real"}
    for name, topic in made.items():
        status, body = http("POST", f"{shared_server.http}/api/rooms",
                            {"name": name, "visibility": "public", "topic": topic}, token=token)
        assert status == 201, body
    status, body = http("POST", f"{shared_server.http}/api/rooms",
                        {"name": f"{tag}-hidden-infra", "visibility": "private"}, token=token)
    assert status == 201, body

    def find(words: str, **extra: object) -> list[str]:
        query = "&".join([f"q={words}", *(f"{k}={v}" for k, v in extra.items())])
        status, answer = http("GET", f"{shared_server.http}/api/rooms?{query}", token=token)
        assert status == 200, answer
        return [r["name"] for r in answer["rooms"]]

    assert find(f"{tag.upper()}-PLATFORM") == [f"{tag}-platform-infra"]
    assert find(f"{tag}", limit=2) == sorted(made)[:2]
    assert find("clusters") and set(find("CLUSTERS")) >= {f"{tag}-platform-infra"}
    assert f"{tag}-design" in find("mockups")
    assert find(f"{tag}-x_") == [f"{tag}-x_y"] and find(f"{tag}-x%25") == []  # _ and % are not wildcards
    assert f"{tag}-x_y" in find("100%25")
    assert find(f"{tag}-hidden") == []  # private
    for bad in ("%00", "x" * 300):
        status, answer = http("GET", f"{shared_server.http}/api/rooms?q={bad}", token=token)
        assert status == 400 and answer["error"] == "bad_request", answer


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"], indirect=True)
def test_directory_q_ignores_case_of_non_ascii_topics(shared_server):
    """Case is ignored for every letter, not only ASCII (SQLite's own lower() folds ASCII only)."""
    _, token = register(shared_server)
    name = unique("uni")
    status, body = http("POST", f"{shared_server.http}/api/rooms",
                        {"name": name, "visibility": "public", "topic": "Übersicht ÉTÉ"}, token=token)
    assert status == 201, body
    for words in ("Übersicht", "übersicht", "été"):
        status, answer = http("GET", f"{shared_server.http}/api/rooms?q={urllib.parse.quote(words)}", token=token)
        assert status == 200, answer
        assert name in [r["name"] for r in answer["rooms"]], (words, answer)
