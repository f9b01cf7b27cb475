#!/usr/bin/env python3
"""Screenshots of every main screen of Parley's web page, for a person to look at (nothing is asserted).

Starts `parley serve` on a free port with a temporary SQLite database, seeds two people talking (alice and
a 32-character username) plus a newcomer with no room, a few rooms (one with a very long name, a plain
conversation) and a direct message, then drives Debian's Chromium through the sign-in screen, the welcome
screen, a room, the long-named room, a DM, the phone drawer, the room directory, the create-room dialog,
the online list and the search dialog, in light and dark mode at 390x844 and 1440x900.

Usage: python3 scripts/screenshots.py [folder]      (default /tmp/parley-screens; prints each PNG's path)
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support import PASSWORD, ServerProcess, http  # noqa: E402

ALICE = "alice"
LONG_USER = "maximiliana_alexandrova_petrovna"
NEWCOMER = "newcomer"
LONG_ROOM = "engineering-platform-infrastructure-observability-team-2026"
ROOM = "general"
SIZES: dict[str, ViewportSize] = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}
CONVERSATION = [
    (ALICE, "Morning! Is the deploy still on for today?"),
    (LONG_USER, "Yes, after lunch. The migration ran fine on staging."),
    (LONG_USER, "I'll post the checklist here before we start."),
    (LONG_USER, "Run `parley migrate --check` first, then:\n```\nparley serve --db $DB_URL\n```"),
    (ALICE, f"Great, thanks @{LONG_USER}. The notes are at https://example.com/deploy-notes"),
    (ALICE, "One more thing: the dashboards need the new-panel-for-observability-and-alerting-v2 id."),
]


class Seeder:
    """REST calls against the server, as a backend would make them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any, user: str | None = None) -> Any:
        status, payload = http(method, self.url + path, body, token=self.tokens.get(user or ""))
        assert status < 300, f"{method} {path} -> {status}: {payload}"
        return payload

    def seed(self) -> None:
        """People, rooms and messages."""
        for user in (ALICE, LONG_USER, NEWCOMER):
            self.tokens[user] = self.call("POST", "/api/register", {"username": user, "password": PASSWORD})["token"]
        self.call("POST", "/api/rooms", {"name": ROOM, "visibility": "public", "topic": "Everything else"}, ALICE)
        self.call("POST", "/api/rooms", {"name": LONG_ROOM, "visibility": "public",
                                         "topic": "Dashboards, alerts and the on-call rota"}, LONG_USER)
        self.call("POST", "/api/rooms", {"name": "design", "visibility": "private", "topic": ""}, ALICE)
        for room, user in ((ROOM, LONG_USER), (LONG_ROOM, ALICE)):
            self.call("POST", f"/api/rooms/{room}/join", {}, user)
        for i, (user, text) in enumerate(CONVERSATION):
            self.message(user, ROOM, text, f"seed-{i}")
        self.message(LONG_USER, LONG_ROOM, "Alert volume is down 40% since the new thresholds.", "long-1")
        dm = self.call("POST", "/api/dms", {"users": [LONG_USER]}, ALICE)["name"]
        self.message(LONG_USER, dm, "Have you got five minutes for a call later?", "dm-1")
        self.message(ALICE, dm, "Sure, after the deploy.", "dm-2")

    def message(self, user: str, room: str, text: str, client_id: str) -> None:
        self.call("POST", f"/api/rooms/{room}/messages", {"text": text, "client_id": client_id}, user)


def sign_in(page: Page, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("status", name="Connection")).to_have_text(re.compile("^Connected"))


def is_phone(page: Page) -> bool:
    return page.get_by_role("button", name="Menu").is_visible()


def drawer(page: Page, want_open: bool) -> None:
    menu = page.get_by_role("button", name="Menu")
    if not is_phone(page) or (menu.get_attribute("aria-expanded") == "true") == want_open:
        return
    if want_open:
        menu.click()
    else:
        page.keyboard.press("Escape")  # the open drawer covers the Menu button
    expect(menu).to_have_attribute("aria-expanded", str(want_open).lower())


def open_room(page: Page, label: str, heading: str) -> None:
    drawer(page, True)
    nav = page.get_by_role("navigation", name="Your conversations")
    nav.get_by_role("button", name=re.compile(rf"^#?{re.escape(label)}\b")).first.click()
    drawer(page, False)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("log").locator(".msg").first).to_be_visible()


def dialog_shot(page: Page, opener: Callable[[], None], name: str, shot: Callable[[str], None],
                fill: tuple[str, str] | None = None) -> None:
    opener()
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog).to_be_visible()
    if fill:
        dialog.get_by_label(fill[0], exact=True).fill(fill[1])
        expect(dialog.locator(".search-hit").first).to_be_visible()
    shot(name.lower().replace(" ", "-"))
    dialog.locator("[data-close]").first.click()  # Close or Cancel
    expect(dialog).to_be_hidden()


def screens(browser: Browser, url: str, scheme: str, size: str, out: Path) -> list[Path]:
    viewport = SIZES[size]
    options: dict[str, Any] = {"viewport": viewport, "color_scheme": scheme, "locale": "en-US",
                               "reduced_motion": "reduce"}
    if size == "phone":
        options.update(is_mobile=True, has_touch=True)
    written: list[Path] = []

    def shooter(page: Page) -> Callable[[str], None]:
        def shot(name: str) -> None:
            path = out / f"{scheme}-{size}-{len(written) + 1:02d}-{name}.png"
            page.mouse.move(0, 0)
            page.screenshot(path=str(path))
            written.append(path)
            print(path, flush=True)
        return shot

    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    shot = shooter(page)
    page.goto(url)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    shot("sign-in")
    sign_in(page, url, NEWCOMER)
    expect(page.get_by_role("heading", name="Welcome to Parley")).to_be_visible()
    shot("welcome")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    shot = shooter(page)
    sign_in(page, url, ALICE)
    open_room(page, ROOM, f"#{ROOM}")
    shot("room")
    if is_phone(page):
        drawer(page, True)
        shot("drawer")
        drawer(page, False)
    page.get_by_role("button", name=re.compile(r"^\d+ online$")).click()
    expect(page.get_by_role("complementary", name="Online")).to_be_visible()
    shot("online-list")
    page.keyboard.press("Escape")
    open_room(page, LONG_ROOM, f"#{LONG_ROOM}")
    shot("long-room-name")
    open_room(page, LONG_USER, LONG_USER)
    shot("direct-message")

    def from_sidebar(button: str) -> Callable[[], None]:
        def click() -> None:
            drawer(page, True)
            page.get_by_role("navigation", name="Your conversations").get_by_role("button", name=button).click()
        return click

    dialog_shot(page, from_sidebar("Browse rooms"), "Browse rooms", shot)
    dialog_shot(page, from_sidebar("Create a room"), "Create a room", shot)
    dialog_shot(page, lambda: page.get_by_role("button", name="Search messages").click(), "Search messages", shot,
                fill=("Words to find", "deploy"))
    context.close()
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "/tmp/parley-screens")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-screens-") as tmp:
        server = ServerProcess(f"sqlite:///{tmp}/parley.db", log=Path(tmp) / "server.log")
        server.start()
        try:
            Seeder(server.http).seed()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                # LONG_USER stays signed in elsewhere, so the online list has two people in it.
                friend = browser.new_context(viewport=SIZES["desktop"]).new_page()
                friend.set_default_timeout(20_000)
                sign_in(friend, server.http, LONG_USER)
                written: list[Path] = []
                for scheme in ("light", "dark"):
                    for size in SIZES:
                        written += screens(browser, server.http, scheme, size, out)
                browser.close()
        finally:
            server.stop()
    print(f"{len(written)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
