"""The web page as a daily tool (issue 15), in Chromium via Playwright against a real `parley serve`: the
composer's length counter, a first line's indentation kept, presence shown as unknown while offline, prompt
reconnection (and "Retry now" on phones), focus after signing in, whitespace-only passwords refused, leaving
with a confirmation or an Undo, and the keyboard: quick switcher, Alt+Up/Down, Up to edit, `?` for the list.

People and rooms are made over REST on the module's shared server (one argon2 hash each, no sign-up form);
each test signs in through the page. Everything is asserted as a person sees it, waiting with `expect`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChatServer
from tests.browser.test_rooms_web import room_button
from tests.browser.test_web_client import connection, join, log, online_panel, sign_in
from tests.support import PASSWORD, ServerProcess, unique

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@dataclass
class Person:
    name: str
    token: str


@pytest.fixture(scope="module")
def srv(shared_server: ServerProcess) -> ChatServer:
    return ChatServer(shared_server)


def person(srv: ChatServer, *rooms: str, private: tuple[str, ...] = ()) -> Person:
    """A new account, member of `rooms` (public, made if new) and owner of the `private` rooms."""
    name = unique("u")
    token = srv.register(name)
    for room in rooms:
        status, _ = srv.call_status("POST", "/api/rooms", {"name": room, "visibility": "public", "topic": ""}, token)
        if status != 201:
            srv.call("POST", f"/api/rooms/{room}/join", {}, token=token)
    for room in private:
        srv.call("POST", "/api/rooms", {"name": room, "visibility": "private", "topic": ""}, token=token, expect=201)
    return Person(name, token)


def heading(page: Page, room: str):
    return page.get_by_role("heading", name=f"#{room}", exact=True)


def composer(page: Page):
    return page.get_by_label("Message", exact=True)


def signed_in_to_a_room(srv: ChatServer, new_page) -> tuple[Page, Person, str]:
    """A new person in a new room, signed in on a page of their own with that room open."""
    room = unique("r")
    me = person(srv, room)
    page = new_page()
    sign_in(page, srv, me.name)
    expect(heading(page, room)).to_be_visible()
    return page, me, room


# ---- 5: a counter near the limit, and too long text is kept and explained ----------------------------


def test_the_composer_counts_near_the_limit_and_says_why_too_long_text_cannot_be_sent(srv, new_page):
    page, me, room = signed_in_to_a_room(srv, new_page)
    box = composer(page)
    send_button = page.get_by_role("button", name="Send", exact=True)

    box.fill("x" * 3000)
    expect(page.get_by_text(re.compile(r"/ 4,000$"))).to_have_count(0)  # far from the limit: no counter
    box.fill("x" * 3950)
    near = page.get_by_text("3,950 / 4,000", exact=True)
    expect(near).to_be_visible()
    near_colour = near.evaluate("el => getComputedStyle(el).color")

    # A paste of 4,003 characters is kept whole; the counter turns to the error colour and Send says why not.
    box.fill("")
    box.focus()
    page.keyboard.insert_text("y" * 4003)
    expect(box).to_have_value("y" * 4003)
    counter = page.get_by_text("4,003 / 4,000", exact=True)
    expect(counter).to_be_visible()
    expect(page.get_by_text("3 characters too long", exact=False)).to_be_visible()
    expect(send_button).to_be_disabled()
    assert counter.evaluate("el => getComputedStyle(el).color") != near_colour  # the error colour now
    box.press("Enter")  # refused here, not cut
    expect(box).to_have_value("y" * 4003)

    for _ in range(3):
        box.press("Backspace")
    expect(page.get_by_text("4,000 / 4,000", exact=True)).to_be_visible()
    expect(send_button).to_be_enabled()
    box.press("Enter")
    expect(box).to_have_value("")
    expect(log(page).locator(".msg-text", has_text="y" * 100)).to_have_count(1)
    expect(page.get_by_text(re.compile(r"/ 4,000$"))).to_have_count(0)
    assert [len(m["text"]) for m in srv.messages(me.token, room)] == [4000]

    # The same in the inline editor: a paste past the limit is kept, explained, and cannot be saved.
    box.fill("short one")
    box.press("Enter")
    expect(log(page).locator("article.msg:not(.pending) .msg-text", has_text="short one")).to_have_count(1)
    box.press("ArrowUp")
    editor = log(page).get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill("")
    page.keyboard.insert_text("z" * 4002)
    expect(editor).to_have_value("z" * 4002)
    expect(log(page).get_by_role("alert").filter(has_text="2 characters too long: shorten it to save.")).to_be_visible()
    save = log(page).get_by_role("button", name="Save", exact=True)
    expect(save).to_be_disabled()
    editor.press("Enter")  # refused here, not cut
    expect(editor).to_have_value("z" * 4002)
    editor.press("Backspace")
    editor.press("Backspace")
    expect(save).to_be_enabled()
    editor.press("Enter")
    expect(editor).to_have_count(0)
    expect(log(page).locator(".msg-text", has_text="z" * 100)).to_have_count(1)
    assert sorted(len(m["text"]) for m in srv.messages(me.token, room)) == [4000, 4000]


# ---- 6: the first line keeps its indentation ------------------------------------------------------------


def test_the_first_line_keeps_its_indentation_from_composer_to_server_to_screen(srv, new_page):
    page, me, room = signed_in_to_a_room(srv, new_page)
    code = "    def f():\n        return 1"

    # Leading blank lines and trailing whitespace go; the first line's indentation stays.
    composer(page).fill("\n\n" + code + "  \n\n")
    composer(page).press("Enter")
    shown = log(page).locator("article.msg .msg-text", has_text="def f():")
    expect(shown).to_have_count(1)
    expect(log(page).locator("article.msg.pending")).to_have_count(0)
    assert [m["text"] for m in srv.messages(me.token, room)] == [code]
    assert shown.inner_text() == code  # rendered with white-space kept: the two lines line up as written

    # After a reload the text comes from the server: still indented.
    page.reload()
    expect(log(page).locator("article.msg .msg-text", has_text="def f():")).to_have_count(1)
    assert log(page).locator("article.msg .msg-text", has_text="def f():").inner_text() == code

    # Only whitespace is still not a message.
    composer(page).fill("   \n\t  \n")
    composer(page).press("Enter")
    expect(composer(page)).to_have_value("   \n\t  \n")
    assert len(srv.messages(me.token, room)) == 1


# ---- 9: presence is unknown while the page is not connected ---------------------------------------------


def test_the_online_list_is_greyed_and_dotless_while_the_page_is_offline(srv, new_page):
    page, me, _ = signed_in_to_a_room(srv, new_page)
    panel = online_panel(page)
    unknown = panel.get_by_text("Presence unknown while offline")
    dot = panel.locator(".presence-dot")
    expect(panel.get_by_text(me.name, exact=True)).to_be_visible()
    expect(dot).to_be_visible()
    expect(unknown).to_be_hidden()

    page.context.set_offline(True)
    expect(connection(page)).to_have_text("Offline")
    expect(unknown).to_be_visible()
    expect(dot).to_be_hidden()
    members = panel.locator(".member-list")
    assert float(members.evaluate("el => getComputedStyle(el).opacity")) <= 0.6

    page.context.set_offline(False)
    expect(connection(page)).to_have_text("Connected")
    expect(unknown).to_be_hidden()
    expect(dot).to_be_visible()
    assert float(members.evaluate("el => getComputedStyle(el).opacity")) == 1


# ---- 10: prompt reconnection, "Retry now" on phones -----------------------------------------------------


def test_the_page_reconnects_promptly_when_the_server_returns_and_retries_at_once_when_online(chat_server, new_page):
    me = person(chat_server, unique("r"))
    page = new_page()
    sign_in(page, chat_server, me.name)
    badge = connection(page)

    # Down long enough for several failed attempts ("Offline", then one more attempt): the old backoff
    # waited 8-16 s before the next attempt from there; a capped, slower-growing one tries within a few.
    chat_server.stop()
    expect(badge).to_have_text("Offline", timeout=20_000)
    expect(badge).to_have_attribute("title", re.compile("^Next attempt"))
    scheduled = badge.get_attribute("title")
    expect(badge).not_to_have_attribute("title", scheduled or "", timeout=20_000)
    expect(badge).to_have_attribute("title", re.compile("^Next attempt"))
    chat_server.start()
    expect(badge).to_have_text("Connected", timeout=6_000)

    # On a phone, "Retry now" shows beside the badge, within the screen; the browser's `online` event retries at once.
    page.set_viewport_size(PHONE)
    chat_server.stop()
    expect(badge).to_have_text("Offline", timeout=20_000)
    retry = page.get_by_role("button", name="Retry now")
    expect(retry).to_be_visible()
    box = retry.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    chat_server.start()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(badge).to_have_text("Connected", timeout=1_500)
    expect(retry).to_be_hidden()


# ---- 15: focus after signing in -------------------------------------------------------------------------


def test_after_signing_in_the_focus_is_in_the_composer_or_on_the_way_to_a_room(srv, new_page):
    page, _, _ = signed_in_to_a_room(srv, new_page)
    expect(composer(page)).to_be_focused()

    newcomer = person(srv)
    page = new_page()
    sign_in(page, srv, newcomer.name)
    expect(page.get_by_label("Room", exact=True)).to_be_focused()


# ---- 19: whitespace passwords; leaving with a confirmation or an Undo --------------------------------------


def test_a_password_of_only_spaces_is_refused_with_a_reason(srv, new_page):
    page = new_page()
    page.goto(srv.url)
    name = unique("u")
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(" " * 8)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("only spaces")
    expect(page.get_by_role("button", name="Create account", exact=True)).to_be_visible()
    assert srv.call_status("POST", "/api/login", {"username": name, "password": " " * 8})[0] == 401
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(connection(page)).to_have_text("Connected")


def test_leaving_a_public_room_can_be_undone_and_a_private_one_asks_first(srv, new_page):
    public, private = unique("pub"), unique("priv")
    owner = person(srv, public, private=(private,))  # the last owner of a room may not leave it: someone else
    me = person(srv, public)
    srv.call("POST", f"/api/rooms/{private}/manage", {"action": "invite", "user": me.name}, token=owner.token)
    srv.call("POST", f"/api/rooms/{private}/join", {}, token=me.token)
    page = new_page()
    sign_in(page, srv, me.name)
    room_button(page, public).click()
    expect(heading(page, public)).to_be_visible()

    page.get_by_role("button", name="Leave", exact=True).click()
    notice = page.get_by_role("status").filter(has_text=f"You left #{public}")
    expect(notice).to_be_visible()
    expect(room_button(page, public)).to_have_count(0)
    notice.get_by_role("button", name="Undo").click()
    expect(heading(page, public)).to_be_visible()
    expect(room_button(page, public)).to_be_visible()
    expect(notice).to_have_count(0)
    members = srv.call("GET", "/api/me/rooms", token=me.token)["rooms"]
    assert public in {r["name"] for r in members if r.get("state", "member") == "member"}

    room_button(page, private).click()
    expect(heading(page, private)).to_be_visible()
    page.get_by_role("button", name="Leave", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Leave #{private}?")
    expect(dialog).to_contain_text("invitation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(room_button(page, private)).to_be_visible()
    page.get_by_role("button", name="Leave", exact=True).click()
    dialog.get_by_role("button", name="Leave room").click()
    expect(room_button(page, private)).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)


# ---- the keyboard ------------------------------------------------------------------------------------------


def test_quick_switcher_alt_arrows_up_to_edit_and_the_shortcut_list(srv, new_page):
    tag = unique("k")
    rooms = [f"{tag}-alpha", f"{tag}-bravo", f"{tag}-charlie"]
    me = person(srv, *rooms)
    page = new_page()
    sign_in(page, srv, me.name)
    expect(heading(page, rooms[0])).to_be_visible()
    box = composer(page)

    # Alt+Down / Alt+Up: the next and previous room in the sidebar's order, also from the composer.
    box.press("Alt+ArrowDown")
    expect(heading(page, rooms[1])).to_be_visible()
    box.press("Alt+ArrowDown")
    expect(heading(page, rooms[2])).to_be_visible()
    page.keyboard.press("Alt+ArrowUp")
    expect(heading(page, rooms[1])).to_be_visible()

    # Ctrl+K: a filter over your conversations; the arrows and Enter open one; Escape closes.
    page.keyboard.press("Control+k")
    switcher = page.get_by_role("dialog", name="Switch conversation")
    expect(switcher).to_be_visible()
    field = switcher.get_by_role("combobox")
    expect(field).to_be_focused()
    options = switcher.get_by_role("option")
    expect(options).to_have_count(3)
    field.fill("chr")  # fuzzy: c-h-(a)-r
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(rooms[2])
    field.press("Enter")
    expect(switcher).to_be_hidden()
    expect(heading(page, rooms[2])).to_be_visible()
    expect(box).to_be_focused()

    page.keyboard.press("Control+k")
    field.fill(tag)
    expect(options).to_have_count(3)
    field.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(heading(page, rooms[1])).to_be_visible()
    page.keyboard.press("Control+k")
    field.fill("no-such-room-here")
    expect(switcher.get_by_text("No conversation matches")).to_be_visible()
    field.press("Escape")
    expect(switcher).to_be_hidden()
    expect(heading(page, rooms[1])).to_be_visible()

    # Up in the empty composer edits your last message.
    join(page, rooms[0])
    box.fill("first draft")
    box.press("Enter")
    expect(log(page).locator("article.msg:not(.pending) .msg-text", has_text="first draft")).to_have_count(1)
    box.press("ArrowUp")
    editor = log(page).get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("first draft")
    editor.press("Escape")
    expect(editor).to_have_count(0)

    # `?` outside a text field lists the shortcuts; typed in the composer it is just a question mark.
    box.fill("really")
    box.press("?")
    expect(box).to_have_value("really?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_hidden()
    box.fill("")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    for text in ("Ctrl+K", "Alt+↑", "Alt+↓", "↑", "?"):
        expect(help_dialog.get_by_text(text, exact=True).first).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
