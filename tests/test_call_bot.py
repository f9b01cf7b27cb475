"""The call echo bot (parley/bots/call_echo.py, `parley call-echo`): a Python peer built on aiortc answers calls
signalled through Parley and sends the caller's media back. A Python caller (aiortc too, with a generated tone
and video) hears its own tone come back; a real Chromium, with its fake camera and microphone and a few lines
of script of its own (not the page's call UI), receives audio and video RTP from the bot. Both calls leave
their record in the room's log. SQLite only (the store is tested elsewhere)."""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame

from parley.bots.call_echo import CallEcho, endpoints, to_ice_candidate
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import PASSWORD, Client, ServerProcess, http, register, rest_events, stop_process

TONE_HZ = 600
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def store_kind() -> str:
    return "sqlite"


def dm(server: ServerProcess, token: str, other: str) -> str:
    status, body = http("POST", f"{server.http}/api/dms", {"users": [other]}, token=token)
    assert status in (200, 201), body
    return str(body["name"])


def call_log(server: ServerProcess, token: str, room: str) -> list[tuple[str, str]]:
    return [(e["from"], e["action"]) for e in rest_events(server, token, room) if e.get("type") == "call"]


def wait_for_log(server: ServerProcess, token: str, room: str, expected: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + 5
    while call_log(server, token, room) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert call_log(server, token, room) == expected


class Tone(AudioStreamTrack):
    """A sine wave at TONE_HZ (aiortc's silent track paces the frames; this fills them)."""

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        rate = frame.sample_rate
        samples = array.array("h", (int(12000 * math.sin(2 * math.pi * TONE_HZ * (frame.pts + i) / rate))
                                    for i in range(frame.samples)))
        frame.planes[0].update(samples.tobytes())
        return frame


class SmallVideo(VideoStreamTrack):
    """Grey 160x120 frames at 30 fps: video to echo that costs little to encode on a loaded machine."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        for plane in frame.planes:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def frequency(frames: list[AudioFrame]) -> float:
    """The frequency of a tone in decoded frames (first channel), from its zero crossings."""
    channels = len(frames[0].layout.channels)
    samples = array.array("h")
    for frame in frames:
        samples.frombytes(bytes(frame.planes[0])[:frame.samples * channels * 2])
    mono = samples[::channels]
    crossings = sum(1 for a, b in itertools.pairwise(mono) if (a < 0) != (b < 0))
    return crossings / 2 / (len(mono) / frames[0].sample_rate)


def loudness(frame: AudioFrame) -> float:
    samples = array.array("h", bytes(frame.planes[0])[:frame.samples * len(frame.layout.channels) * 2])
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


async def signal(client: Client, ref: str, **frame: Any) -> dict[str, Any]:
    await client.send({"type": "signal", "ref": ref, **frame})
    reply = await client.next_where(lambda f: f.get("ref") == ref)
    assert reply["type"] == "signaled", reply
    return reply


async def got(client: Client, kind: str, timeout: float = 15) -> dict[str, Any]:
    return await client.next_where(lambda f: f.get("type") == "signal" and f.get("kind") == kind, timeout)


def test_urls_and_candidates_are_read_as_the_protocol_gives_them() -> None:
    assert endpoints("http://127.0.0.1:8080") == ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws")
    assert endpoints("https://chat.example.org/parley/") == ("https://chat.example.org/parley",
                                                             "wss://chat.example.org/parley/ws")
    assert endpoints("ws://h:1/ws") == ("http://h:1", "ws://h:1/ws")
    with pytest.raises(ValueError):
        endpoints("chat.example.org")
    c = to_ice_candidate({"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "sdpMid": "0",
                          "sdpMLineIndex": 0})
    assert c is not None and (c.ip, c.port, c.type, c.sdpMid) == ("192.0.2.1", 54400, "host", "0")
    assert to_ice_candidate({"candidate": ""}) is None
    with pytest.raises(ValueError):
        to_ice_candidate({"candidate": "candidate:nonsense"})


class PyCaller:
    """A caller built on aiortc, signalling over its own Parley connection: a tone, and video if asked."""

    def __init__(self, client: Client, room: str, video: bool = True) -> None:
        self.client = client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(Tone())
        if video:
            self.pc.addTrack(SmallVideo())
        self.media = "video" if video else "voice"
        self.echoed: dict[str, MediaStreamTrack] = {}
        self.pc.on("track", lambda track: self.echoed.setdefault(track.kind, track))
        self.leg = {"room": room, "call_id": uuid.uuid4().hex, "party_id": "py-caller"}

    async def invite(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await signal(self.client, "invite", **self.leg, kind="invite", media=self.media,
                     sdp={"type": "offer", "sdp": self.pc.localDescription.sdp})

    async def answered(self, bot: CallEcho) -> None:
        """Take the bot's answer (and select it), then its candidates."""
        answer = await got(self.client, "answer")
        assert (answer["from"], answer["party_id"], answer["to_party"]) == (bot.user, bot.party_id, "py-caller")
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer["sdp"]))
        await signal(self.client, "select", **self.leg, kind="select_answer", to=bot.user,
                     selected_party_id=bot.party_id)
        assert (await got(self.client, "candidates"))["candidates"] == [{"candidate": ""}]  # all in its SDP

    async def close(self) -> None:
        await self.pc.close()
        await self.client.close()


async def until(check: Any, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.05)


async def test_the_bot_answers_a_python_caller_and_echoes_its_media(shared_server: ServerProcess) -> None:
    (bot_name, bot_token), (me, token) = register(shared_server), register(shared_server)
    room = dm(shared_server, token, bot_name)
    bot = CallEcho(shared_server.http, token=bot_token, reconnect=False)
    running = asyncio.create_task(bot.run())
    caller = PyCaller(await Client.connect(shared_server, token), room)
    try:
        await asyncio.wait_for(bot.ready.wait(), 10)
        await caller.invite()
        await caller.answered(bot)

        # what comes back is the caller's own tone: loud, at its frequency; and its video
        assert set(caller.echoed) == {"audio", "video"}
        loud: list[AudioFrame] = []
        async with asyncio.timeout(12):
            while len(loud) < 25:  # half a second of it
                frame = await caller.echoed["audio"].recv()
                if loudness(frame) > 2000 or loud:
                    loud.append(frame)
            video = await caller.echoed["video"].recv()
        assert abs(frequency(loud) - TONE_HZ) < TONE_HZ * 0.1, frequency(loud)
        assert (video.width, video.height) == (160, 120)
        assert caller.pc.connectionState == "connected" and bot.calls == 1 and bot.answered == 1

        await signal(caller.client, "bye", **caller.leg, kind="hangup", reason="user_hangup")
        await until(lambda: bot.calls == 0, 5)
        await asyncio.to_thread(wait_for_log, shared_server, token, room,
                                [(me, "started"), (bot_name, "joined"), (me, "ended")])
    finally:
        await caller.close()
        await bot.stop()
        await asyncio.wait_for(running, 10)


async def test_a_busy_bot_declines_and_hangs_up_for_a_caller_who_vanished(shared_server: ServerProcess) -> None:
    (bot_name, bot_token), (me, token), (other, other_token) = (register(shared_server) for _ in range(3))
    bot = CallEcho(shared_server.http, token=bot_token, reconnect=False, max_calls=1)
    running = asyncio.create_task(bot.run())
    first_room, second_room = dm(shared_server, token, bot_name), dm(shared_server, other_token, bot_name)
    first = PyCaller(await Client.connect(shared_server, token), first_room, video=False)
    second = PyCaller(await Client.connect(shared_server, other_token), second_room, video=False)
    try:
        await asyncio.wait_for(bot.ready.wait(), 10)
        await first.invite()
        await first.answered(bot)
        await until(lambda: first.pc.connectionState == "connected")
        assert set(first.echoed) == {"audio"}

        await second.invite()  # one call at a time: the second is declined
        declined = await got(second.client, "reject")
        assert (declined["from"], declined["reason"]) == (bot_name, "user_busy")

        await first.pc.close()  # the first caller goes without a word: the bot hangs up for it
        # (2 s after the caller's DTLS close arrives; should that UDP packet be lost, once ICE consent fails)
        bye = await got(first.client, "hangup", timeout=45)
        assert (bye["from"], bye["to_party"], bye["reason"]) == (bot_name, "py-caller", "user_hangup")
        assert bot.calls == 0
        await asyncio.to_thread(wait_for_log, shared_server, token, first_room,
                                [(me, "started"), (bot_name, "joined"), (bot_name, "ended")])
        await asyncio.to_thread(wait_for_log, shared_server, other_token, second_room,
                                [(other, "started"), (bot_name, "declined"), (bot_name, "missed")])
    finally:
        await first.close()
        await second.close()
        await bot.stop()
        await asyncio.wait_for(running, 10)


# The browser's side of a call, in the page's own origin but without the page's call UI: its own WebSocket,
# getUserMedia (Chromium's fake camera and microphone) and a peer connection that invites the bot.
CALL_SCRIPT = """async ({token, room, bot, callId}) => {
  const backlog = [];
  const waiters = [];
  let applyLive = null;
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
  ws.onmessage = (e) => {
    const f = JSON.parse(e.data);
    if (applyLive && f.type === "signal" && f.kind === "candidates") return applyLive(f);
    const i = waiters.findIndex((w) => w.wanted(f));
    if (i >= 0) waiters.splice(i, 1)[0].ok(f); else backlog.push(f);
  };
  const next = (wanted) => new Promise((ok, bad) => {
    const i = backlog.findIndex(wanted);
    if (i >= 0) return ok(backlog.splice(i, 1)[0]);
    waiters.push({wanted, ok});
    setTimeout(() => bad(new Error("no frame in time; got " + JSON.stringify(backlog))), 15000);
  });
  await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("no WebSocket")); });
  ws.send(JSON.stringify({type: "auth", token}));
  await next((f) => f.type === "ready");

  const ice = await (await fetch("/api/ice", {headers: {Authorization: "Bearer " + token}})).json();
  const pc = new RTCPeerConnection({iceServers: ice.ice_servers});
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  const party = "browser-1";
  const send = (f) => ws.send(JSON.stringify({type: "signal", room, call_id: callId, party_id: party, ...f}));
  const early = [];
  let invited = false;
  pc.onicecandidate = (e) => {
    const c = e.candidate ? e.candidate.toJSON() : {candidate: ""};
    if (invited) send({kind: "candidates", to: bot, candidates: [c]}); else early.push(c);
  };
  await pc.setLocalDescription(await pc.createOffer());
  send({kind: "invite", media: "video", sdp: {type: "offer", sdp: pc.localDescription.sdp}, ref: "invite"});
  const ok = await next((f) => f.ref === "invite");
  if (ok.type !== "signaled") throw new Error("invite refused: " + JSON.stringify(ok));
  invited = true;
  if (early.length) send({kind: "candidates", to: bot, candidates: early.splice(0)});

  const answer = await next((f) => f.type === "signal" && f.kind === "answer");
  await pc.setRemoteDescription(answer.sdp);
  send({kind: "select_answer", to: bot, selected_party_id: answer.party_id});
  applyLive = async (f) => { for (const c of f.candidates) await pc.addIceCandidate(c.candidate ? c : null); };
  for (const f of backlog.splice(0)) if (f.type === "signal" && f.kind === "candidates") await applyLive(f);
  window.call = {pc, ws, send};
  return {from: answer.from, to_party: answer.to_party};
}"""

INBOUND = """async () => {
  const got = {state: window.call.pc.connectionState, audio: 0, video: 0};
  (await window.call.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp") got[r.kind] = r.bytesReceived; });
  return got;
}"""

HANG_UP = """() => new Promise((ok) => {
  window.call.ws.addEventListener("message", (e) => { if (JSON.parse(e.data).ref === "bye") ok(JSON.parse(e.data)); });
  window.call.send({kind: "hangup", reason: "user_hangup", ref: "bye"});
  window.call.pc.close();
})"""


@pytest.fixture
def echo_bot(shared_server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`parley call-echo` for a new account, started (not yet waited for): (its name, process, log)."""
    name, _ = register(shared_server)
    log = tmp_path / "call-echo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "parley", "call-echo", "--url", shared_server.http,
                                 "--user", name, "--password", PASSWORD], stdout=out, stderr=out)
    try:
        yield name, proc, log
    finally:
        stop_process(proc)


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while "Ctrl-C to stop" not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"call-echo not ready: {log.read_text(errors='replace')}"
        time.sleep(0.1)


@pytest.mark.browser
def test_a_browser_calls_the_bot_and_gets_audio_and_video_back(shared_server: ServerProcess, echo_bot) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    bot_name, proc, log = echo_bot
    me, token = register(shared_server)
    room = dm(shared_server, token, bot_name)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_MEDIA)
        try:
            page = browser.new_page()
            page.goto(shared_server.http + "/healthz")  # the server's origin: its WebSocket and REST are same-origin
            wait_ready(proc, log)
            answer = page.evaluate(CALL_SCRIPT, {"token": token, "room": room, "bot": bot_name,
                                                 "callId": uuid.uuid4().hex})
            assert answer == {"from": bot_name, "to_party": "browser-1"}

            # inbound RTP of both kinds grows: the bot echoes Chromium's fake microphone and camera
            first: dict[str, Any] = {}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                stats = page.evaluate(INBOUND)
                if not first and stats["audio"] > 0 and stats["video"] > 0:
                    first = stats
                elif first and stats["audio"] > first["audio"] and stats["video"] > first["video"] + 1000:
                    break
                time.sleep(0.25)
            assert first and stats["state"] == "connected", (first, stats, log.read_text(errors="replace"))
            assert stats["audio"] > first["audio"] and stats["video"] > first["video"] + 1000, (first, stats)

            assert page.evaluate(HANG_UP)["type"] == "signaled"
        finally:
            browser.close()
    wait_for_log(shared_server, token, room, [(me, "started"), (bot_name, "joined"), (me, "ended")])
    proc.terminate()  # Ctrl-C's SIGINT or SIGTERM: the bot hangs up and exits cleanly
    assert proc.wait(10) == 0, log.read_text(errors="replace")
    assert "answered call" in log.read_text(errors="replace")
