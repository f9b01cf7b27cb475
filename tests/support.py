"""Test helpers: a real `parley serve` in a subprocess on a free port, and small real clients for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import websockets

PASSWORD = "correct-horse-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m parley serve` on a free port; start, stop (SIGTERM), kill -9 and restart on the same port."""

    def __init__(self, db: str, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.db = db
        self.args = list(args)
        self.port = port or free_port()
        self.env = {**os.environ, "PARLEY_RATE": os.environ.get("PARLEY_TEST_RATE", "20"), **(env or {})}
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--db", self.db, "--log-level", "info", *self.args]

    def start(self, timeout: float = 30) -> ServerProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.http + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer /healthz within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def http(method: str, url: str, body: Any = None, token: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One HTTP request; returns (status, decoded JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def register(server: ServerProcess, name: str | None = None) -> tuple[str, str]:
    """A new account on `server`; returns (username, token)."""
    name = name or unique()
    status, body = http("POST", server.http + "/api/register", {"username": name, "password": PASSWORD})
    assert status == 201, body
    return body["user"], body["token"]


class Client:
    """A real WebSocket client speaking Parley's protocol."""

    def __init__(self, ws: websockets.ClientConnection, user: str | None = None) -> None:
        self.ws = ws
        self.user = user

    @classmethod
    async def connect(cls, server: ServerProcess, token: str | None = None, user: str | None = None,
                      **kwargs: Any) -> Client:
        ws = await websockets.connect(server.ws_url, max_size=None, **kwargs)
        client = cls(ws, user)
        if token is not None:
            await client.send({"type": "auth", "token": token})
            ready = await client.expect("ready")
            client.user = ready["user"]
        return client

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The next frame of type `kind` (and matching fields); frames of other types are skipped."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            frame = await self.recv(max(left, 0.01))
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def join(self, room: str, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "join", "room": room}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.expect("joined", room=room)

    async def say(self, room: str, text: str, client_id: str | None = None) -> dict[str, Any]:
        """Send a message and return its ack."""
        cid = client_id or unique("c")
        await self.send({"type": "send", "room": room, "text": text, "client_id": cid})
        return await self.expect("ack", client_id=cid)

    async def messages(self, n: int, room: str | None = None, timeout: float = 10) -> list[dict[str, Any]]:
        """The next n `message` frames (of `room`, when given)."""
        out = []
        while len(out) < n:
            frame = await self.expect("message", timeout=timeout)
            if room is None or frame["room"] == room:
                out.append(frame)
        return out

    async def nothing(self, seconds: float = 0.5, kind: str | None = None) -> list[dict[str, Any]]:
        """Frames that arrive within `seconds` (of type `kind`, when given); used to show something did not."""
        got = []
        try:
            while True:
                frame = await self.recv(seconds)
                if kind is None or frame.get("type") == kind:
                    got.append(frame)
        except (TimeoutError, asyncio.TimeoutError):
            return got

    async def close(self) -> None:
        await self.ws.close()
