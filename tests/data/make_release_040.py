"""Fill a fresh release 0.4.0 server (commit 623eece) over its public API: the data of release-0.4.0.* (README.md).

Run with that release's code, against a server started with `--rate 0` on an empty store:

    PYTHONPATH=/tmp/rel040 python3 tests/data/make_release_040.py http://127.0.0.1:PORT DB_URL RECORD.json

DB_URL is the server's `--db` (for `parley user admin`). Every request and its answer is checked; what the
server then serves (each room's log as each member sees it, each user's rooms, the files' bytes) is written
to RECORD.json, which the upgrade tests compare the current release's answers with. Not a test module: it
is not collected (no `test_` prefix) and imports nothing of Parley.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import wave
from typing import Any

import aiohttp

USERS = ["alice", "Bob", "carol", "Dana.Lee"]  # passwords: the name in lower case + "-password"
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATES = [{"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "sdpMid": "0",
               "sdpMLineIndex": 0}, {"candidate": ""}]
CALL_ANSWERED = "call040answered"
CALL_DECLINED = "call040declined"


def png() -> bytes:
    """A 64x48 RGB gradient, as Pillow writes it."""
    from PIL import Image

    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wav() -> bytes:
    """0.5 s of 8 kHz 16-bit mono: a 440 Hz square wave."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join((8000 if (i // 9) % 2 else -8000).to_bytes(2, "little", signed=True)
                               for i in range(4000)))
    return out.getvalue()


TEXT_FILE = "Release 0.4.0 notes\nfiles ✔ calls ✔\n".encode()


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.s = session
        self.base = base
        self.tokens: dict[str, str] = {}

    async def call(self, method: str, path: str, who: str | None = None, body: Any = None,
                   expect: int = 200, data: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        async with self.s.request(method, self.base + path, json=body, data=data, headers=headers) as r:
            payload = await r.read()
            assert r.status == expect, (method, path, who, r.status, payload)
            print(method, path, who, r.status, payload[:200].decode(errors="replace"))
            return json.loads(payload) if payload and r.content_type == "application/json" else payload

    async def post(self, who: str, room: str, client_id: str, text: str, reply_to: int | None = None) -> dict:
        body: dict[str, Any] = {"text": text, "client_id": client_id}
        if reply_to is not None:
            body["reply_to"] = reply_to
        return await self.call("POST", f"/api/rooms/{room}/messages", who, body, 201)

    async def upload(self, who: str, room: str, client_id: str, name: str, data: bytes, content_type: str,
                     **fields: str) -> dict:
        form = aiohttp.FormData()
        form.add_field("client_id", client_id)
        for key, value in fields.items():
            form.add_field(key, value)
        form.add_field("file", data, filename=name, content_type=content_type)
        return await self.call("POST", f"/api/rooms/{room}/files", who, data=form, expect=201)


async def ws(api: Api, who: str) -> aiohttp.ClientWebSocketResponse:
    sock = await api.s.ws_connect(api.base.replace("http", "ws", 1) + "/ws")
    await sock.send_json({"type": "auth", "token": api.tokens[who]})
    await until(sock, lambda f: f["type"] == "ready")
    return sock


async def until(sock: aiohttp.ClientWebSocketResponse, match: Any) -> dict:
    while True:
        frame = await asyncio.wait_for(sock.receive_json(), 10)
        if match(frame):
            return frame


async def signal(sock: aiohttp.ClientWebSocketResponse, ref: str, **frame: Any) -> None:
    await sock.send_json({"type": "signal", "ref": ref, **frame})
    answer = await until(sock, lambda f: f.get("ref") == ref)
    assert answer["type"] == "signaled", answer
    print("signal", frame["kind"], frame["call_id"], answer["type"])


async def main(base: str, db_url: str, record_path: str) -> None:
    async with aiohttp.ClientSession() as s:
        api = Api(s, base)
        # 1. accounts
        for name in USERS:
            body = await api.call("POST", "/api/register", None,
                                  {"username": name, "password": f"{name.lower()}-password"}, 201)
            api.tokens[name] = body["token"]
        # 2. alice becomes a server admin with the release's CLI
        out = subprocess.run([sys.executable, "-m", "parley", "user", "admin", "alice", "--db", db_url],
                             check=True, capture_output=True, text=True)
        print("cli:", out.stdout.strip(), out.stderr.strip()[-200:])

        # 3. a public room with messages (Unicode, a newline), joined by posting
        await api.call("POST", "/api/rooms", "alice", {"name": "general", "visibility": "public"}, 201)  # seq 1
        await api.post("alice", "general", "g1", "hello everyone")  # 2
        await api.post("Bob", "general", "g2", "héllo 👋")  # 3 joined, 4
        await api.post("alice", "general", "g3", "line one\nline two")  # 5
        await api.post("carol", "general", "g4", "日本語もOK ✅")  # 6 joined, 7
        await api.post("Dana.Lee", "general", "g5", "typo here, to be deleted")  # 8 joined, 9
        # 4. an edit, a delete, reactions, a reply, a mention
        assert await api.call("PATCH", "/api/rooms/general/messages/2", "alice",
                              {"text": "hello everyone (edited) ✏️"}) == {"seq": 10}
        assert await api.call("DELETE", "/api/rooms/general/messages/9", "Dana.Lee") == {"seq": 11}
        assert await api.call("POST", "/api/rooms/general/messages/4/reactions", "alice",
                              {"emoji": "👍", "on": True}) == {"seq": 12}
        assert await api.call("POST", "/api/rooms/general/messages/4/reactions", "carol",
                              {"emoji": "🎉", "on": True}) == {"seq": 13}
        reply = await api.post("Bob", "general", "g6", "yes, two lines 👍", reply_to=5)  # 14
        assert reply["reply_to"] == 5, reply
        mention = await api.post("alice", "general", "g7", "@Bob @carol have a look at the picture below")  # 15
        assert mention["mentions"] == ["Bob", "carol"], mention
        # 5. an image with a caption (a thumbnail is made) and a text file
        image = await api.upload("alice", "general", "f1", "gradient.png", png(), "image/png",
                                 text="a gradient 🌈")  # 16
        assert image["file"]["kind"] == "image" and image["file"]["thumb"] is True, image

        # 6. a private room; Bob is invited and joins; a file and a message there
        await api.call("POST", "/api/rooms", "alice", {"name": "secret", "visibility": "private"}, 201)  # 1
        assert await api.call("POST", "/api/rooms/secret/manage", "alice",
                              {"action": "invite", "user": "Bob"}) == {"seq": 2}
        await api.call("POST", "/api/rooms/secret/join", "Bob")  # 3
        await api.post("Bob", "secret", "s1", "psst: launch is on Friday 🤫")  # 4
        notes = await api.upload("Bob", "secret", "f2", "notes.txt", TEXT_FILE, "text/plain",
                                 text="the notes", reply_to="4")  # 5
        assert notes["file"]["kind"] == "file", notes

        # 7. a DM alice-Bob: a message, a voice message, a call answered and ended, a call declined
        dm = await api.call("POST", "/api/dms", "alice", {"users": ["Bob"]}, 201)
        room = dm["name"]  # seq 1: created
        await api.post("alice", room, "m1", "call you in a minute? 📞")  # 2
        voice = await api.upload("Bob", room, "v1", "voice.wav", wav(), "audio/wav", voice="1",
                                 duration_ms="500")  # 3
        assert voice["file"]["kind"] == "voice" and voice["file"]["duration_ms"] == 500, voice
        caller, callee = await ws(api, "alice"), await ws(api, "Bob")
        await signal(caller, "i1", room=room, call_id=CALL_ANSWERED, party_id="alice-1", kind="invite",
                     media="video", sdp=OFFER)  # 4 started
        await until(callee, lambda f: f.get("type") == "signal" and f.get("kind") == "invite")
        await signal(caller, "c1", room=room, call_id=CALL_ANSWERED, party_id="alice-1", kind="candidates",
                     to="Bob", candidates=CANDIDATES)
        await signal(callee, "a1", room=room, call_id=CALL_ANSWERED, party_id="bob-1", kind="answer", to="alice",
                     to_party="alice-1", sdp=ANSWER)  # 5 joined
        await until(caller, lambda f: f.get("type") == "signal" and f.get("kind") == "answer")
        await signal(caller, "s1", room=room, call_id=CALL_ANSWERED, party_id="alice-1", kind="select_answer",
                     to="Bob", selected_party_id="bob-1")
        await asyncio.sleep(1.0)
        await signal(caller, "h1", room=room, call_id=CALL_ANSWERED, party_id="alice-1", kind="hangup",
                     reason="user_hangup")  # 6 ended
        await until(callee, lambda f: f.get("type") == "signal" and f.get("kind") == "hangup")
        await signal(callee, "i2", room=room, call_id=CALL_DECLINED, party_id="bob-1", kind="invite",
                     media="voice", sdp=OFFER)  # 7 started (Bob calls)
        await until(caller, lambda f: f.get("type") == "signal" and f.get("kind") == "invite")
        await signal(caller, "r2", room=room, call_id=CALL_DECLINED, party_id="alice-1", kind="reject",
                     to="Bob")  # 8 declined, 9 missed
        await until(callee, lambda f: f.get("type") == "signal" and f.get("kind") == "reject")
        await caller.close()
        await callee.close()

        # 8. read markers (REST and WebSocket) and notification levels
        await api.call("POST", "/api/rooms/general/read", "Bob", {"seq": 7}, 204)
        await api.call("POST", f"/api/rooms/{room}/read", "Bob", {"seq": 2}, 204)
        sock = await ws(api, "carol")
        await sock.send_json({"type": "read", "room": "general", "seq": 12})
        await until(sock, lambda f: f["type"] == "read")  # stored: the user's devices are told
        await sock.close()
        await api.call("POST", "/api/rooms/general/notify", "Bob", {"level": "mentions"}, 204)
        await api.call("POST", "/api/rooms/general/notify", "carol", {"level": "none"}, 204)
        await api.call("POST", f"/api/rooms/{room}/notify", "alice", {"level": "mentions"}, 204)
        await asyncio.sleep(0.5)

        # what the release serves now
        rooms = {"general": "Dana.Lee", "secret": "Bob", room: "Bob"}
        record: dict[str, Any] = {"dm": room, "logs": {}, "me_rooms": {}, "files": {}}
        for name, who in rooms.items():
            body = await api.call("GET", f"/api/rooms/{name}/messages?after=0&limit=100", who)
            record["logs"][name] = body["messages"]
        for name in USERS:
            record["me_rooms"][name] = (await api.call("GET", "/api/me/rooms", name))["rooms"]
        for message, room_name in ((image, "general"), (notes, "secret"), (voice, room)):
            file = message["file"]
            who = rooms[room_name]
            data = await api.call("GET", f"/api/files/{file['id']}", who)
            entry = {"room": room_name, "seq": message["seq"], "size": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()}
            if file.get("thumb"):
                thumb = await api.call("GET", f"/api/files/{file['id']}/thumb", who)
                entry |= {"thumb_size": len(thumb), "thumb_sha256": hashlib.sha256(thumb).hexdigest()}
            record["files"][file["id"]] = entry
        record["uploaded_sha256"] = {"gradient.png": hashlib.sha256(png()).hexdigest(),
                                     "notes.txt": hashlib.sha256(TEXT_FILE).hexdigest(),
                                     "voice.wav": hashlib.sha256(wav()).hexdigest()}
        with open(record_path, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.write("\n")
        print("record:", record_path, os.path.getsize(record_path), "bytes")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
