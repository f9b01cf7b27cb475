"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and a real `parley serve`
(from the shared harness in tests/support.py: free port, temp SQLite, stop/start on the same port and
database) with the REST calls a backend would make to seed or read messages."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support import PASSWORD, ServerProcess, http

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class ChatServer:
    """A running server plus the REST calls the tests make as a backend would."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.url = proc.http

    def stop(self) -> None:
        self.proc.stop()

    def start(self) -> None:
        self.proc.start()

    def restart(self) -> None:
        self.proc.restart()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, expect: int = 200) -> Any:
        status, payload = http(method, self.url + path, body, token=token)
        assert status == expect, f"{method} {path} -> {status}: {payload}"
        return payload

    def call_status(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        """One REST call whatever its answer: (status, body)."""
        return http(method, self.url + path, body, token=token)

    def login(self, username: str, password: str = PASSWORD) -> str:
        return self.call("POST", "/api/login", {"username": username, "password": password})["token"]

    def register(self, username: str) -> str:
        body = {"username": username, "password": PASSWORD}
        return self.call("POST", "/api/register", body, expect=201)["token"]

    def post_message(self, token: str, room: str, text: str, client_id: str) -> dict:
        body = {"text": text, "client_id": client_id}
        return self.call("POST", f"/api/rooms/{room}/messages", body, token=token, expect=201)

    def events(self, token: str, room: str, limit: int = 100) -> list[dict]:
        """Every stored event of `room` (messages, membership, topic), oldest first."""
        out: list[dict] = []
        after = 0
        while True:
            page = self.call("GET", f"/api/rooms/{room}/messages?after={after}&limit={limit}", token=token)
            out.extend(page["messages"])
            if len(page["messages"]) < limit:
                return out
            after = out[-1]["seq"]

    def messages(self, token: str, room: str, limit: int = 100) -> list[dict]:
        """Every stored message of `room`, oldest first (the room's other events left out)."""
        return [e for e in self.events(token, room, limit) if e.get("type", "message") == "message"]


@pytest.fixture(scope="module")
def store_kind() -> str:
    """The page does not depend on the store, and every store behaviour is tested on SQLite and PostgreSQL
    through REST and WebSocket (tests/*.py): the browser tests run on SQLite only, which keeps the suite
    within its time budget."""
    return "sqlite"


@pytest.fixture
def chat_server(make_server) -> ChatServer:
    return ChatServer(make_server())


# Chromium's fake camera and microphone, used without asking (modules with calls or voice messages)
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]


def launch(extra: list[str] | None = None):
    """Debian's Chromium, headless, for one test module (closed when the generator ends)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + (extra or []))
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser():
    yield from launch()


@pytest.fixture
def new_page(browser):
    """new_page(**context_options) -> a page in a browser context of its own (own localStorage)."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "en-US")
        ctx = browser.new_context(**options)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
