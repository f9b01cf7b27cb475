"""The web client in a real browser (Chromium via Playwright) against a real `parley serve`.

Everything is asserted as a person would see it: texts in the role="log" message list, labels,
counts of occurrences. Waiting is done with Playwright's `expect`, never with sleeps.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChatServer
from tests.support import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
XSS = "<img src=x onerror=alert(1)>"
CHANGELOG = "Changelog:\n- history paging without jumps\n- reconnects resume exactly where they left off"


# ---- what a person does --------------------------------------------------------------------------


def log(page: Page):
    return page.get_by_role("log")


def connection(page: Page):
    return page.get_by_role("status", name="Connection")


def online_panel(page: Page):
    return page.get_by_role("complementary", name="Online")


def submit_account_form(page: Page, server, username: str, button: str) -> None:
    """Open the client, fill in `username` and the test password, press `button` and wait until connected."""
    page.goto(server.url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    expect(connection(page)).to_have_text("Connected")


def sign_up(page: Page, server, username: str) -> None:
    submit_account_form(page, server, username, "Create account")


def sign_in(page: Page, server, username: str) -> None:
    submit_account_form(page, server, username, "Sign in")


def join(page: Page, room: str) -> None:
    page.get_by_label("Room", exact=True).fill(room)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.get_by_role("heading", name=f"#{room}", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ online$"))).to_be_visible()


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def expect_once(page: Page, text: str) -> None:
    expect(log(page).get_by_text(text, exact=True)).to_have_count(1)


def expect_only_link(page: Page, url: str) -> None:
    """The log holds one link, to `url`, showing it, opening a new tab with no access back to the page."""
    link = log(page).get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_have_text(url)
    expect(link).to_have_attribute("href", url)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")


def texts(page: Page) -> list[str]:
    """The message texts in the open room, top to bottom."""
    return log(page).locator(".msg-text").all_inner_texts()


# ---- tests ----------------------------------------------------------------------------------------


def test_sign_up_sign_in_reload_and_sign_out(chat_server, new_page):
    page = new_page()
    page.goto(chat_server.url)
    # Validation and server answers are shown in words.
    page.get_by_label("Username", exact=True).fill("carol")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("at least 8 characters")

    sign_up(page, chat_server, "carol")
    join(page, "lobby")
    page.reload()  # the token survives a reload, and so do the rooms
    expect(connection(page)).to_have_text("Connected")
    expect(page.get_by_role("heading", name="#lobby", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()

    page.get_by_label("Username", exact=True).fill("carol")
    page.get_by_label("Password", exact=True).fill("wrong-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert").first).to_have_text("Wrong username or password.")

    other = new_page()
    sign_up(other, chat_server, "dave")
    other.get_by_role("button", name="Sign out", exact=True).click()
    other.get_by_label("Username", exact=True).fill("carol")
    other.get_by_label("Password", exact=True).fill(PASSWORD)
    other.get_by_role("button", name="Create account", exact=True).click()
    expect(other.get_by_role("alert").first).to_contain_text("taken")

    sign_in(page, chat_server, "carol")
    expect(page.get_by_role("heading", name="#lobby", exact=True)).to_be_visible()

    # A token the server no longer accepts sends the person back to the sign-in screen, told why.
    page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem("parley.session"));
        localStorage.setItem("parley.session", JSON.stringify({ ...s, token: s.token + "x" }));
    }""")
    page.reload()
    expect(page.get_by_role("alert").first).to_have_text("Your session has expired. Please sign in again.")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_sign_out_revokes_the_token_and_every_tab_of_it_follows(chat_server, new_page):
    """Signing out in one tab: that tab and the other tab of the same browser are back at sign-in, the token
    is refused by the server from then on, and the same person's other device stays signed in and connected."""
    tab = new_page()
    sign_up(tab, chat_server, "erin")
    join(tab, "lobby")
    other_tab = tab.context.new_page()
    other_tab.goto(chat_server.url)
    expect(connection(other_tab)).to_have_text("Connected")
    phone = new_page()
    sign_in(phone, chat_server, "erin")
    token = tab.evaluate("JSON.parse(localStorage.getItem('parley.session')).token")
    assert chat_server.call_status("GET", "/api/me", token=token)[0] == 200

    tab.get_by_role("button", name="Sign out", exact=True).click()
    expect(tab.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(other_tab.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(other_tab.get_by_role("alert").first).to_contain_text("signed out")
    assert chat_server.call_status("GET", "/api/me", token=token)[0] == 401
    # the other device goes on: still connected, and it can send
    expect(connection(phone)).to_have_text("Connected")
    join(phone, "lobby")
    send(phone, "still signed in on my phone")
    expect(log(phone).get_by_text("still signed in on my phone")).to_be_visible()


def test_two_users_chat_typing_presence_and_unread(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "design")
    join(bob, "design")

    # Presence: each sees the other online.
    expect(online_panel(alice).get_by_text("bob", exact=True)).to_be_visible()
    expect(online_panel(bob).get_by_text("alice", exact=True)).to_be_visible()
    expect(alice.get_by_text("2 online", exact=True)).to_be_visible()

    # Messages both ways, with names; own messages are confirmed (no longer "Sending…").
    send(alice, "Morning Bob! Did the new build land?")
    expect_once(bob, "Morning Bob! Did the new build land?")
    expect_once(alice, "Morning Bob! Did the new build land?")
    expect(log(alice).get_by_text("Sending…")).to_have_count(0)
    expect(log(bob).get_by_text("alice", exact=True).first).to_be_visible()

    # Typing: bob types, alice sees it; it goes away when his message arrives.
    bob.get_by_label("Message", exact=True).press_sequentially("It did, 2 minutes ago")
    expect(alice.get_by_text("bob is typing…", exact=True)).to_be_visible()
    bob.get_by_label("Message", exact=True).press("Enter")
    expect_once(alice, "It did, 2 minutes ago")
    expect(alice.get_by_text("bob is typing…", exact=True)).to_have_count(0)

    # Shift+Enter makes a new line, Enter sends.
    box = bob.get_by_label("Message", exact=True)
    box.press_sequentially("Changelog:")
    box.press("Shift+Enter")
    box.press_sequentially("- history paging without jumps")
    box.press("Shift+Enter")
    box.press_sequentially("- reconnects resume exactly where they left off")
    expect(box).to_have_value(CHANGELOG)
    box.press("Enter")
    expect(log(alice).locator(".msg-text").last).to_have_text(CHANGELOG)
    expect(box).to_have_value("")

    send(alice, "Looks great. Notes are at https://example.com/notes/42")
    expect(log(bob).get_by_role("link", name="https://example.com/notes/42")).to_be_visible()
    bob.get_by_label("Message", exact=True).press_sequentially("Reading them now")
    expect(alice.get_by_text("bob is typing…", exact=True)).to_be_visible()

    # Both see the same conversation in the same order, each message once.
    expected = [
        "Morning Bob! Did the new build land?",
        "It did, 2 minutes ago",
        CHANGELOG,
        "Looks great. Notes are at https://example.com/notes/42",
    ]
    expect(log(alice).locator(".msg-text")).to_have_text(expected)
    expect(log(bob).locator(".msg-text")).to_have_text(expected)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    alice.set_viewport_size({"width": 1200, "height": 640})
    alice.screenshot(path=str(SCREENSHOT))
    bob.get_by_label("Message", exact=True).press("Enter")
    expect_once(alice, "Reading them now")

    # Unread counts: alice opens another room; bob writes in #design; the sidebar counts it.
    join(alice, "random")
    send(bob, "one more thing")
    send(bob, "and another")
    design = alice.get_by_role("navigation").get_by_role("button", name=re.compile(r"^#?design"))
    expect(design).to_contain_text("2")
    expect(alice).to_have_title(re.compile(r"^\(2\) "))
    design.click()
    expect(alice.get_by_role("separator").get_by_text("New messages")).to_be_visible()
    expect(design).not_to_contain_text("2")

    # Leaving: bob leaves the room, alice sees him go offline there.
    bob.get_by_role("button", name="Leave", exact=True).click()
    expect(online_panel(alice).get_by_text("bob", exact=True)).to_have_count(0)
    expect(bob.get_by_role("navigation").get_by_role("button", name=re.compile("design"))).to_have_count(0)


def test_text_is_never_html(chat_server, new_page):
    alice, bob = new_page(), new_page()
    dialogs = []
    for page in (alice, bob):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "sec")
    join(bob, "sec")

    send(alice, XSS)
    send(alice, "click javascript:alert(2) or https://example.com/a_(b)?q=1.")
    for page in (alice, bob):
        expect_once(page, XSS)
        expect(log(page).locator("img")).to_have_count(0)
        expect_only_link(page, "https://example.com/a_(b)?q=1")
    # A later message proves everything before it has been rendered: still no dialog.
    send(bob, "all clear")
    expect_once(alice, "all clear")
    assert dialogs == []


def test_restart_reconnects_without_gaps_or_duplicates_and_sends_outbox_once(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "ops")
    join(bob, "ops")
    join(bob, "ops-2")
    bob.get_by_role("navigation").get_by_role("button", name=re.compile("^#?ops$")).click()
    backend = chat_server.register("deploybot")

    send(alice, "before restart")
    expect_once(bob, "before restart")
    expect(log(alice).get_by_text("Sending…")).to_have_count(0)

    # A WebSocket switch per page, so the pages stay disconnected after the server is back up.
    blocked = {"on": False}

    def ws_route(ws):
        if blocked["on"]:
            ws.close()
        else:
            ws.connect_to_server()

    for page in (alice, bob):
        page.route_web_socket(re.compile(r".*/ws$"), ws_route)
    # The routes apply to new sockets: reconnect through them.
    chat_server.restart()
    for page in (alice, bob):
        expect(connection(page)).to_have_text("Connected")
    send(alice, "after first restart")
    expect_once(bob, "after first restart")
    expect(log(alice).get_by_text("Sending…")).to_have_count(0)  # acknowledged before the outage

    # The server goes away while both pages are open.
    blocked["on"] = True
    chat_server.stop()
    for page in (alice, bob):
        expect(connection(page)).not_to_have_text("Connected")
        expect(connection(page)).to_have_text(re.compile("Reconnecting|Offline"))

    # Alice writes while offline: shown at once as waiting, kept in the outbox.
    send(alice, "offline one")
    send(alice, "offline two")
    expect(log(alice).get_by_text("Waiting for connection…")).to_have_count(2)

    # The server comes back; a backend posts while the pages are still disconnected.
    chat_server.start()
    for i in range(1, 4):
        chat_server.post_message(backend, "ops", f"bot message {i}", f"bot-{i}")
    chat_server.post_message(backend, "ops-2", "bot in the other room", "bot-x")

    # The outbox survives a reload.
    alice.reload()
    expect(log(alice).get_by_text("offline two", exact=True)).to_have_count(1)
    expect(log(alice).get_by_text("Waiting for connection…")).to_have_count(2)

    for page in (alice, bob):
        expect(page.get_by_role("button", name="Retry now")).to_be_visible()

    # The way back is open: the pages reconnect by themselves (backoff), rejoin with `since`, and
    # alice's outbox goes out.
    blocked["on"] = False
    for page in (alice, bob):
        expect(connection(page)).to_have_text("Connected", timeout=45_000)

    send(bob, "after the outage")
    expected = [
        "before restart",
        "after first restart",
        "bot message 1",
        "bot message 2",
        "bot message 3",
        "offline one",
        "offline two",
        "after the outage",
    ]
    for page in (alice, bob):
        expect_once(page, "after the outage")
        for text in expected:
            expect_once(page, text)
        expect(log(page).get_by_text("Waiting for connection…")).to_have_count(0)
        expect(log(page).get_by_text("Sending…")).to_have_count(0)
    # The pages show what the server stored, in the same order, each message once
    # (alice's reload fetched the latest page; bob's page kept its log and resumed with `since`).
    stored = [m["text"] for m in chat_server.messages(backend, "ops")]
    assert sorted(stored) == sorted(expected)
    assert stored.count("offline one") == 1 and stored.count("offline two") == 1
    expect(log(bob).locator(".msg-text")).to_have_text(stored)
    expect(log(alice).locator(".msg-text")).to_have_text(stored)

    # The other room, not open on bob's screen, also resumed: one unread, and the message once.
    other = bob.get_by_role("navigation").get_by_role("button", name=re.compile("ops-2"))
    expect(other).to_contain_text("1")
    other.click()
    expect_once(bob, "bot in the other room")


def test_scroll_back_through_500_messages(make_server, new_page):
    chat_server = ChatServer(make_server("--rate", "0"))  # seeding 500 messages at once is setup, not a test
    token = chat_server.register("seeder")
    room = "archive"
    for i in range(1, 501):
        chat_server.post_message(token, room, f"seed {i:03d}", f"seed-{i}")

    page = new_page()
    sign_up(page, chat_server, "reader")
    join(page, room)
    messages = log(page).get_by_role("article")
    expect(log(page).get_by_text("seed 500", exact=True)).to_be_visible()
    first = log(page).get_by_text("seed 001", exact=True)

    for _ in range(40):
        count = messages.count()
        if first.count():
            break
        anchor = log(page).get_by_text(messages.first.locator(".msg-text").inner_text(), exact=True)
        log(page).evaluate("el => { el.scrollTop = 0; }")
        y_before = anchor.bounding_box()["y"]
        # The page may fetch the last page on its own between the two counts: then seed 001 is there.
        expect(first.or_(messages.nth(count)).first).to_be_attached()
        # No jump: the message that was at the top stays where it was on screen.
        assert abs(anchor.bounding_box()["y"] - y_before) <= 2
    expect(first).to_have_count(1)
    first.scroll_into_view_if_needed()
    expect(first).to_be_visible()
    expect(page.get_by_text("This is the very beginning of the room.")).to_be_visible()
    expect(log(page).get_by_text(re.compile(r"^seed \d{3}$"))).to_have_count(500)
    seen = texts(page)
    assert seen == [f"seed {i:03d}" for i in range(1, 501)]


def test_phone_width_is_usable(chat_server, new_page):
    page = new_page(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
    sign_up(page, chat_server, "mobile")
    # The rooms drawer is closed (and out of the focus order) until the menu opens it.
    expect(page.get_by_label("Room", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    join(page, "pocket")
    send(page, "typed on a phone")
    expect_once(page, "typed on a phone")
    for name in ("Send", "Room options"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # Leave is in the room menu on a phone (the header has no room for it).
    expect(page.get_by_role("button", name="Leave", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Room options").click()
    expect(page.get_by_role("menuitem", name="Leave room")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
