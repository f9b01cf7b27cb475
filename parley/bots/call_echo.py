"""An echo bot for calls: it signs in as an ordinary user, answers every call addressed to it, and sends each
caller's own audio and video back to them.

It speaks only the public protocol (docs/protocol.md sections 1-2 and "Calls"): POST /api/login for a token,
the WebSocket /ws (`auth` -> `ready`), GET /api/ice for the operator's STUN/TURN servers, and `signal` frames.
Media is WebRTC through aiortc, peer to peer with the caller: so it is the proof that Parley's signalling is
usable outside the web page, and a partner for testing calls by hand (`parley call-echo`: call its user from
the page and hear and see yourself).

Per call leg (one caller device) it makes one RTCPeerConnection: the caller's offer (`invite`, or `negotiate`
later) is answered with every received track relayed back (aiortc's MediaRelay). aiortc gathers its ICE
candidates before setLocalDescription returns, so the answer's SDP already holds them and an end-of-candidates
`candidates` frame follows; the caller's trickled candidates are applied as they come. `hangup`/`reject`,
a `select_answer` naming another device of the bot's user, or a failed connection end the leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp

log = logging.getLogger("parley.call_echo")

Frame = dict[str, Any]
RECONNECT_MAX = 30.0  # seconds between attempts to reconnect, at most
HANGUP_GRACE = 2.0  # seconds a connection that failed or was closed by the caller waits for the caller's hangup


class EchoError(Exception):
    """The bot cannot go on: the server refused its credentials."""


def endpoints(url: str) -> tuple[str, str]:
    """(HTTP base URL, WebSocket URL) of the server at `url`: http(s)://host[:port][/prefix], or its
    ws(s)://.../ws URL."""
    parts = urlsplit(url)
    scheme = {"http": "http", "https": "https", "ws": "http", "wss": "https"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a server URL: {url!r} (expected http://host:port)")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/ws")
    return (urlunsplit((scheme, parts.netloc, path, "", "")),
            urlunsplit(("wss" if scheme == "https" else "ws", parts.netloc, f"{path}/ws", "", "")))


def ice_servers(body: Frame) -> list[RTCIceServer]:
    """GET /api/ice's `ice_servers` as aiortc's RTCIceServer list (empty when the operator configured none:
    then aiortc must not fall back on its default public STUN server)."""
    return [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in body.get("ice_servers") or [] if isinstance(s, dict) and s.get("urls")]


def to_ice_candidate(init: Frame) -> RTCIceCandidate | None:
    """WebRTC's RTCIceCandidateInit (as a `candidates` frame carries it) as aiortc's RTCIceCandidate; None for
    the end-of-candidates marker (an empty `candidate`). ValueError if it cannot be read."""
    text = init.get("candidate")
    if not isinstance(text, str):
        raise ValueError("candidate is not a string")
    if not text:
        return None
    try:
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    except (AssertionError, IndexError, ValueError) as exc:
        raise ValueError(f"unreadable candidate {text!r}") from exc
    mid, index = init.get("sdpMid"), init.get("sdpMLineIndex")
    candidate.sdpMid = mid if isinstance(mid, str) else None
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    return candidate


@dataclass(eq=False)
class _Leg:
    """The bot's part in one call with one caller device."""

    room: str
    call_id: str
    user: str  # the caller
    party: str  # the caller's device
    pc: RTCPeerConnection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one change of the connection at a time, in order
    answered: bool = False
    closed: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return self.call_id, self.user, self.party


class CallEcho:
    """Answers every call to its user (given a token, or a user name and password to log in with) and echoes
    the caller's media back. `run()` until `stop()`; `ready` is set while it is connected and signed in."""

    def __init__(self, url: str, *, token: str | None = None, user: str | None = None, password: str | None = None,
                 max_calls: int = 4, reconnect: bool = True) -> None:
        if token is None and (user is None or password is None):
            raise ValueError("CallEcho needs a token, or a user name and a password")
        self.http_url, self.ws_url = endpoints(url)
        self.user = user
        self.party_id = f"echo-{secrets.token_hex(6)}"
        self.max_calls = max_calls
        self.reconnect = reconnect
        self.ready = asyncio.Event()
        self.answered = 0  # call legs answered since the start
        self._token = token
        self._password = password
        self._legs: dict[tuple[str, str, str], _Leg] = {}
        self._relay = MediaRelay()
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()  # work on the legs
        self._closing: set[asyncio.Task[None]] = set()  # peer connections being closed
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def calls(self) -> int:
        """Call legs under way (or being answered)."""
        return len(self._legs)

    # connection ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, sign in and answer calls until `stop()`. After a dropped connection it connects again
        (backing off up to RECONNECT_MAX seconds) unless `reconnect` is false; calls under way go on, their
        media does not pass through the server. EchoError if the server refuses the credentials."""
        delay = 1.0
        async with aiohttp.ClientSession() as http:
            self._http = http
            try:
                while not self._stopping:
                    try:
                        if await self._connect(http):
                            delay = 1.0  # it was signed in: a fresh drop, not a server still away
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        if not self.reconnect:
                            raise
                        log.warning("call-echo: cannot reach %s: %s", self.ws_url, exc or type(exc).__name__)
                    if self._stopping or not self.reconnect:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), delay)
                    delay = min(delay * 2, RECONNECT_MAX)
            finally:
                self.ready.clear()
                await self._close_all()
                self._http = None

    async def stop(self) -> None:
        """Hang up every call and disconnect; `run()` returns."""
        self._stopping = True
        self._stopped.set()
        for leg in list(self._legs.values()):
            await self._signal(leg, "hangup", to_party=leg.party, reason="user_hangup")
        await self._close_all()
        if self._ws is not None:
            await self._ws.close()

    async def _login(self, http: aiohttp.ClientSession) -> str:
        if self._password is None:
            assert self._token is not None
            return self._token
        async with http.post(f"{self.http_url}/api/login",
                             json={"username": self.user, "password": self._password}) as resp:
            if resp.status in (400, 401, 403):
                raise EchoError(f"cannot log in as {self.user!r}: {resp.status} {await resp.text()}")
            resp.raise_for_status()
            body = await resp.json()
        self._token = str(body["token"])
        return self._token

    async def _connect(self, http: aiohttp.ClientSession) -> bool:
        """One connection, until it closes; whether it got as far as `ready`."""
        token = await self._login(http)
        signed_in = False
        async with http.ws_connect(self.ws_url, autoping=True) as ws:
            self._ws = ws
            try:
                await ws.send_str(json.dumps({"type": "auth", "token": token}))
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self._on_frame(json.loads(msg.data))
                        signed_in = signed_in or self.ready.is_set()
            finally:
                self._ws = None
                self.ready.clear()
            if ws.close_code == 4401:
                raise EchoError(f"the server refused the bot's token: {ws.close_code} ({self.ws_url})")
            if not self._stopping:
                log.warning("call-echo: connection closed (%s)", ws.close_code)
        return signed_in

    def _on_frame(self, frame: Any) -> None:
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "ready":
            self.user = str(frame.get("user"))
            self.ready.set()
            log.info("call-echo: signed in as %s (party %s), answering calls", self.user, self.party_id)
        elif kind == "error":
            log.warning("call-echo: the server said %s: %s", frame.get("code"), frame.get("message"))
        elif kind == "signal":
            self._on_signal(frame)

    async def _send(self, frame: Frame) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            log.warning("call-echo: not connected; %s for call %s not sent", frame.get("kind"), frame.get("call_id"))
            return
        async with self._send_lock:
            await ws.send_str(json.dumps(frame))

    async def _signal(self, leg: _Leg, kind: str, **fields: Any) -> None:
        await self._send({"type": "signal", "room": leg.room, "call_id": leg.call_id, "party_id": self.party_id,
                          "kind": kind, "to": leg.user, **fields})

    async def _ice_servers(self) -> list[RTCIceServer]:
        if self._http is None or self._token is None:
            return []
        async with self._http.get(f"{self.http_url}/api/ice",
                                  headers={"Authorization": f"Bearer {self._token}"}) as resp:
            resp.raise_for_status()
            return ice_servers(await resp.json())

    # signalling ----------------------------------------------------------------------------------------

    def _on_signal(self, frame: Frame) -> None:
        kind, room, call_id = frame.get("kind"), frame.get("room"), frame.get("call_id")
        sender, party = frame.get("from"), frame.get("party_id")
        if not (isinstance(room, str) and isinstance(call_id, str) and isinstance(sender, str)
                and isinstance(party, str)):
            return
        to_party = frame.get("to_party")
        if to_party is not None and to_party != self.party_id:
            return  # meant for another device of this user
        leg = self._legs.get((call_id, sender, party))
        if kind == "invite":
            if leg is not None or self._stopping:
                return
            leg = _Leg(room=room, call_id=call_id, user=sender, party=party)
            if len(self._legs) >= self.max_calls:
                log.info("call-echo: call %s from %s refused: %d calls under way", call_id, sender, self.calls)
                self._background(self._signal(leg, "reject", to_party=party, reason="user_busy"))
                return
            self._legs[leg.key] = leg
            sdp = frame.get("sdp")
            self._spawn(leg, lambda: self._answer(leg, sdp, "answer"))
        elif leg is None:
            if kind == "hangup" and party == "server":  # the call was not answered in time
                for other in [g for g in self._legs.values() if g.call_id == call_id]:
                    self._close(other)
        elif kind == "candidates":
            candidates = frame.get("candidates")
            self._spawn(leg, lambda: self._add_candidates(leg, candidates if isinstance(candidates, list) else []))
        elif kind == "negotiate":
            sdp = frame.get("sdp")
            if isinstance(sdp, dict) and sdp.get("type") == "offer":
                self._spawn(leg, lambda: self._answer(leg, sdp, "negotiate"))
        elif kind == "select_answer":
            if frame.get("selected_party_id") != self.party_id:
                log.info("call-echo: call %s from %s taken on another device", call_id, sender)
                self._close(leg)
        elif kind in ("hangup", "reject"):
            log.info("call-echo: call %s from %s: %s (%s)", call_id, sender, kind, frame.get("reason"))
            self._close(leg)

    def _spawn(self, leg: _Leg, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for `leg` after what is already under way for it (frames of a leg apply in order)."""
        async def run() -> None:
            async with leg.lock:
                if leg.closed:
                    return
                try:
                    await work()
                except Exception as exc:
                    if leg.closed:
                        log.debug("call-echo: call %s ended meanwhile", leg.call_id, exc_info=True)
                        return
                    log.warning("call-echo: call %s from %s: %s: %s", leg.call_id, leg.user, type(exc).__name__, exc)
                    if not leg.answered:
                        await self._leave(leg, "unknown_error")

        self._background(run())

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, leg: _Leg, sdp: Any, kind: str) -> None:
        """Apply the caller's offer and send the answer (as `answer`, or as `negotiate` mid-call)."""
        if not (isinstance(sdp, dict) and sdp.get("type") == "offer" and isinstance(sdp.get("sdp"), str)):
            raise ValueError("the offer has no sdp of type offer")
        if leg.pc is None:
            leg.pc = self._peer_connection(leg, await self._ice_servers())
            if leg.closed:
                await leg.pc.close()
                return
        pc = leg.pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        if leg.closed:
            return
        await self._signal(leg, kind, to_party=leg.party, sdp={"type": answer.type, "sdp": answer.sdp})
        # aiortc gathered every candidate before setLocalDescription returned: they are in the SDP already
        await self._signal(leg, "candidates", to_party=leg.party, candidates=[{"candidate": ""}])
        if kind == "answer":
            leg.answered = True
            self.answered += 1
            log.info("call-echo: answered call %s from %s (party %s) in room %s", leg.call_id, leg.user, leg.party,
                     leg.room)

    def _peer_connection(self, leg: _Leg, servers: list[RTCIceServer]) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))

        def on_track(track: MediaStreamTrack) -> None:
            # video unbuffered: under load, late frames are dropped rather than echoed ever later
            pc.addTrack(self._relay.subscribe(track, buffered=track.kind == "audio"))

        def on_state() -> None:
            state = pc.connectionState
            log.info("call-echo: call %s from %s: %s", leg.call_id, leg.user, state)
            if state in ("failed", "closed") and not leg.closed:
                self._background(self._gone(leg, state))

        pc.on("track", on_track)
        pc.on("connectionstatechange", on_state)
        return pc

    async def _add_candidates(self, leg: _Leg, candidates: list[Any]) -> None:
        if leg.pc is None:
            return
        for init in candidates:
            try:
                candidate = to_ice_candidate(init) if isinstance(init, dict) else None
            except ValueError as exc:
                log.info("call-echo: call %s from %s: %s", leg.call_id, leg.user, exc)
                continue
            if candidate is not None:
                await leg.pc.addIceCandidate(candidate)
            elif isinstance(init, dict):  # the caller's last candidate
                with contextlib.suppress(AttributeError):  # aiortc 1.11 and older take no end-of-candidates
                    await leg.pc.addIceCandidate(candidate)

    async def _gone(self, leg: _Leg, state: str) -> None:
        """The connection failed, or the caller closed it (ending DTLS): its `hangup` normally follows at once;
        without one, the bot leaves the call itself."""
        await asyncio.sleep(HANGUP_GRACE)
        if not leg.closed:
            await self._leave(leg, "ice_failed" if state == "failed" else "user_hangup")

    async def _leave(self, leg: _Leg, reason: str) -> None:
        await self._signal(leg, "hangup", to_party=leg.party, reason=reason)
        self._close(leg)

    def _close(self, leg: _Leg) -> None:
        leg.closed = True
        if self._legs.get(leg.key) is leg:
            del self._legs[leg.key]
        if leg.pc is not None:
            pc, leg.pc = leg.pc, None
            task = asyncio.create_task(pc.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close_all(self) -> None:
        """End every leg and wait for their connections to close."""
        for leg in list(self._legs.values()):
            self._close(leg)
        work = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in work:
            task.cancel()
        await asyncio.gather(*work, *self._closing, return_exceptions=True)
