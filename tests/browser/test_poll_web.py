"""The web page falls back to long-polling by itself where WebSocket does not get through, and comes back.

nginx stands in front of a real `parley serve`, as a proxy that answers every request carrying `Upgrade` with
400 ("block") or passes WebSocket through ("pass"); switching restarts it on the same port with the other
configuration, so the page's connections through it drop as they would on a network change. The other
person is a WebSocket client (tests/support.py) talking straight to Parley.

Everything is asserted as a person would see it: the connection badge, texts in the role="log" message list,
the online list, the typing line. Waiting is done with Playwright's `expect`, never with sleeps; the long
timeouts allow for the page's own schedule (backoff, the WebSocket tried again every 30 s), not for speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChatServer
from tests.browser.test_web_client import connection, expect_once, join, log, online_panel, send
from tests.scale.cluster import nginx_binary, wait_port
from tests.support import PASSWORD, Client, ServerProcess, free_port, stop_process

pytestmark = pytest.mark.browser

POLLING = "Connected · polling"
SWITCH_MS = 75_000  # a switch of transport: ~20 s of failed WebSocket attempts, or the 30 s retry, and a reconnect
RECONNECT_MS = 60_000  # the page's backoff after an outage


# ---- nginx that blocks WebSocket, or lets it through ------------------------------------------------------

CONFIG = """
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    access_log {work}/access.log;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
{block}
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            # a poll waits up to 25 s: nginx must not give up on it first, nor hold its answer back
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
            proxy_buffering off;
        }}
    }}
}}
"""

# a proxy that strips WebSocket: the upgrade request is refused, plain HTTP goes through
BLOCK = "            if ($http_upgrade) { return 400; }"


class Proxy:
    """nginx on its own port in front of `upstream`, in "block" or "pass" mode; `switch` restarts it in the other."""

    def __init__(self, upstream: ServerProcess, workdir: Path) -> None:
        self.binary = nginx_binary()
        self.upstream = upstream
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / "nginx.conf"
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, mode: str) -> Proxy:
        self.conf.write_text(CONFIG.format(work=self.workdir, port=self.port, upstream=self.upstream.port,
                                           block=BLOCK if mode == "block" else ""))
        args = [self.binary, "-p", str(self.workdir), "-c", str(self.conf), "-e", str(self.workdir / "error.log"),
                "-g", f"daemon off; pid {self.workdir}/nginx.pid;"]
        check = subprocess.run([*args[:-2], "-t"], capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t: {check.stderr}"
        out = open(self.workdir / "nginx.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=out, stderr=out)
        wait_port(self.port, 10)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def switch(self, mode: str) -> None:
        """Every connection through the proxy drops; new ones meet the other mode."""
        self.stop()
        self.start(mode)


@pytest.fixture
def proxy(chat_server: ChatServer, tmp_path: Path):
    """proxy(mode) -> nginx in front of chat_server, stopped after the test."""
    started: list[Proxy] = []

    def make(mode: str) -> Proxy:
        workdir = tmp_path / f"nginx{len(started)}"
        workdir.mkdir()
        p = Proxy(chat_server.proc, workdir)
        started.append(p)
        return p.start(mode)

    yield make
    for p in started:
        p.stop()


# ---- the other person: a WebSocket client straight to Parley -----------------------------------------


class WsUser:
    """A Parley WebSocket client (tests/support.py Client) on an event loop of its own, called from the test."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.server = server
        self.token = token
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: Client | None = None

    def _run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self) -> WsUser:
        self.client = self._run(Client.connect(self.server, self.token))
        return self

    def join(self, room: str) -> dict[str, Any]:
        assert self.client
        return self._run(self.client.join(room))

    def say(self, room: str, text: str) -> dict[str, Any]:
        assert self.client
        return self._run(self.client.say(room, text))

    def typing(self, room: str) -> None:
        assert self.client
        self._run(self.client.send({"type": "typing", "room": room}))

    def expect(self, kind: str, **match: Any) -> dict[str, Any]:
        assert self.client
        return self._run(self.client.expect(kind, timeout=20, **match))

    def disconnect(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(Exception):  # the server may have closed it already
                self._run(client.close(), timeout=10)

    def stop(self) -> None:
        self.disconnect()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def ws_user_on():
    """ws_user_on(server, name) -> a registered user with a WebSocket open to `server`; closed after the test."""
    users: list[WsUser] = []

    def make(server: ChatServer, name: str) -> WsUser:
        user = WsUser(server.proc, server.register(name))
        users.append(user)
        return user.connect()

    yield make
    for user in users:
        user.stop()


@pytest.fixture
def ws_user(chat_server: ChatServer, ws_user_on):
    """ws_user(name) -> a registered user with a WebSocket open to chat_server."""
    return lambda name: ws_user_on(chat_server, name)


# ---- what a person does --------------------------------------------------------------------------


def sign_up_via(page: Page, url: str, username: str, badge: str) -> None:
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(connection(page)).to_have_text(badge, timeout=SWITCH_MS)


def see_typing(page: Page, who: WsUser, room: str, name: str) -> None:
    """`who` types (best effort, like any typing notice: sent again while it has not shown) until the page says so."""
    notice = page.get_by_text(f"{name} is typing…", exact=True)
    for _ in range(10):
        who.typing(room)
        try:
            expect(notice).to_be_visible(timeout=3000)
            return
        except AssertionError:
            continue
    expect(notice).to_be_visible()


def shows_stored_conversation(page: Page, server: ChatServer, token: str, room: str) -> list[str]:
    """The page shows exactly what the server stored, in order, each message once, nothing left pending.
    (Pending first: a message shows while it is sent, and is stored only when the page stops saying so.)"""
    expect(log(page).get_by_text("Waiting for connection…")).to_have_count(0)
    expect(log(page).get_by_text("Sending…")).to_have_count(0)
    stored = [m["text"] for m in server.messages(token, room)]
    assert len(stored) == len(set(stored)), f"stored twice: {stored}"
    expect(log(page).locator(".msg-text")).to_have_text(stored)
    return stored


# ---- tests ----------------------------------------------------------------------------------------


def test_page_behind_a_proxy_without_websocket_chats_by_polling_and_survives_a_restart(chat_server, proxy, ws_user,
                                                                                       new_page):
    nginx = proxy("block")
    page = new_page()
    # WebSocket through this proxy fails; the page notices and polls, and says so.
    sign_up_via(page, nginx.url, "alice", POLLING)
    room = "plaza"
    join(page, room)

    bob = ws_user("bob")
    bob.join(room)
    expect(online_panel(page).get_by_text("bob", exact=True)).to_be_visible()
    expect(page.get_by_text("2 online", exact=True)).to_be_visible()

    # Both ways: the page's message reaches the WebSocket user, and his reaches the page.
    send(page, "hello from behind the proxy")
    expect_once(page, "hello from behind the proxy")
    bob.expect("message", room=room, text="hello from behind the proxy")
    bob.say(room, "hello from a websocket")
    expect_once(page, "hello from a websocket")
    expect(log(page).get_by_text("Sending…")).to_have_count(0)

    # Typing both ways.
    see_typing(page, bob, room, "bob")
    page.get_by_label("Message", exact=True).press_sequentially("typing over http")
    bob.expect("typing", room=room, user="alice")
    page.get_by_label("Message", exact=True).press("Enter")
    expect_once(page, "typing over http")
    expect(page.get_by_text("bob is typing…", exact=True)).to_have_count(0)

    # Presence: bob goes away and comes back.
    bob.disconnect()
    expect(online_panel(page).get_by_text("bob", exact=True)).to_have_count(0)
    bob.connect().join(room)
    expect(online_panel(page).get_by_text("bob", exact=True)).to_be_visible()
    expect(connection(page)).to_have_text(POLLING)

    # The server restarts (same port, same database) while alice has a message waiting in her outbox.
    chat_server.stop()
    bob.disconnect()
    expect(connection(page)).to_have_text(re.compile("Reconnecting|Offline"), timeout=RECONNECT_MS)
    send(page, "written while the server was down")
    expect(log(page).get_by_text("Waiting for connection…")).to_have_count(1)
    chat_server.start()
    bob.connect().join(room)
    bob.say(room, "bob is back")

    # The page comes back by polling, rejoins from the seq it has and sends its outbox once.
    expect(connection(page)).to_have_text(POLLING, timeout=RECONNECT_MS)
    expect_once(page, "written while the server was down")
    expect_once(page, "bob is back")
    bob.expect("message", room=room, text="written while the server was down")
    send(page, "after the restart")
    expect_once(page, "after the restart")
    stored = shows_stored_conversation(page, chat_server, bob.token, room)
    assert stored[:3] == ["hello from behind the proxy", "hello from a websocket", "typing over http"]
    assert sorted(stored[3:5]) == ["bob is back", "written while the server was down"]  # either may be first
    assert stored[5:] == ["after the restart"]


def test_switching_websocket_to_polling_and_back_loses_and_repeats_nothing(chat_server, proxy, ws_user, new_page):
    nginx = proxy("pass")
    page = new_page()
    sign_up_via(page, nginx.url + "/?switch_ms=3000", "alice", "Connected")  # switch in 3 s, not 20-30 s
    room = "relay"
    join(page, room)
    bob = ws_user("bob")
    bob.join(room)
    expect(online_panel(page).get_by_text("bob", exact=True)).to_be_visible()

    # Phase 1: WebSocket.
    bob.say(room, "ws 1")
    send(page, "alice on websocket")
    expect_once(page, "ws 1")
    expect_once(page, "alice on websocket")

    # The network starts refusing WebSocket: the page's socket drops, reconnecting fails, and it polls.
    nginx.switch("block")
    bob.say(room, "while the page switches to polling")
    send(page, "alice during the switch")
    expect(connection(page)).to_have_text(POLLING, timeout=SWITCH_MS)

    # Phase 2: polling.
    bob.say(room, "poll 1")
    send(page, "alice on polling")
    bob.say(room, "poll 2")
    for text in ("while the page switches to polling", "alice during the switch", "poll 1", "alice on polling",
                 "poll 2"):
        expect_once(page, text)
    see_typing(page, bob, room, "bob")

    # WebSocket gets through again: the page moves back by itself.
    nginx.switch("pass")
    bob.say(room, "while the page switches back")
    expect(connection(page)).to_have_text("Connected", timeout=SWITCH_MS)

    # Phase 3: WebSocket again.
    bob.say(room, "ws 2")
    send(page, "alice back on websocket")
    for text in ("while the page switches back", "ws 2", "alice back on websocket"):
        expect_once(page, text)
    bob.expect("message", room=room, text="alice back on websocket")
    stored = shows_stored_conversation(page, chat_server, bob.token, room)
    assert len(stored) == 10
    # Bob's messages in the order he sent them, and alice's: nothing of either lost or reordered.
    assert [t for t in stored if not t.startswith("alice")] == [
        "ws 1", "while the page switches to polling", "poll 1", "poll 2", "while the page switches back", "ws 2"]
    assert [t for t in stored if t.startswith("alice")] == [
        "alice on websocket", "alice during the switch", "alice on polling", "alice back on websocket"]


def test_forced_polling_follows_several_rooms_pages_history_and_hears_a_kick(make_server, ws_user_on, new_page):
    server = ChatServer(make_server("--rate", "0"))  # seeding history at once is setup, not a test
    seeder = server.register("seeder")
    for i in range(1, 121):
        server.post_message(seeder, "archive", f"seed {i:03d}", f"seed-{i}")
    bob = ws_user_on(server, "bob")
    server.call("POST", "/api/rooms", {"name": "ops", "visibility": "public"}, token=bob.token, expect=201)

    page = new_page()
    sign_up_via(page, server.url + "/?transport=poll", "alice", POLLING)
    for room in ("ops", "chatter", "archive"):
        join(page, room)
    bob.join("chatter")
    bob.join("ops")

    # Older history comes page by page as alice scrolls up, each message once, in order.
    expect(log(page).get_by_text("seed 120", exact=True)).to_be_visible()
    first = log(page).get_by_text("seed 001", exact=True)
    messages = log(page).get_by_role("article")
    for _ in range(20):
        count = messages.count()
        if first.count():
            break
        log(page).evaluate("el => { el.scrollTop = 0; }")
        # The page may fetch the last page on its own between the two counts: then seed 001 is there.
        expect(first.or_(messages.nth(count)).first).to_be_attached()
    expect(log(page).get_by_text("This is the very beginning of the room.")).to_be_visible()
    assert log(page).locator(".msg-text").all_inner_texts() == [f"seed {i:03d}" for i in range(1, 121)]

    # Live messages in a room not on screen count as unread.
    bob.say("chatter", "one for the sidebar")
    chatter = page.get_by_role("navigation").get_by_role("button", name=re.compile(r"^#?chatter"))
    expect(chatter).to_contain_text("1")
    chatter.click()
    expect_once(page, "one for the sidebar")

    # A kick reaches the page through its poll: the room goes, and alice is told why.
    server.call("POST", "/api/rooms/ops/manage", {"action": "kick", "user": "alice", "reason": "tidying up"},
                token=bob.token)
    expect(page.get_by_role("alert").filter(has_text="bob removed you from #ops: tidying up")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("button", name=re.compile(r"^#?ops"))).to_have_count(0)

    # A reload keeps polling and rejoins the rooms alice is still in.
    page.reload()
    expect(connection(page)).to_have_text(POLLING)
    expect(page.get_by_role("heading", name="#chatter", exact=True)).to_be_visible()
    bob.say("chatter", "after the reload")
    expect_once(page, "after the reload")
    expect_once(page, "one for the sidebar")
    expect(page.get_by_role("navigation").get_by_role("button", name=re.compile(r"^#?ops"))).to_have_count(0)
