"""Formatted message text, mentions with their notifications, and message search in the web page
(Chromium via Playwright) against a real `parley serve`.

Other members' messages are posted over REST, as a backend would, so each test drives one browser page.
Everything is asserted as a person would see it (elements in the role="log" message list, the sidebar, the
title, the search dialog); desktop notifications are counted by wrapping `window.Notification`. The store is
tested elsewhere, so these run on SQLite only.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChatServer
from tests.browser.test_message_actions_web import edit, message
from tests.browser.test_web_client import connection, expect_once, expect_only_link, join, log, send, sign_up

pytestmark = pytest.mark.browser

# Records every desktop notification the page makes (the permission is granted by the browser context).
COUNT_NOTIFICATIONS = """(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.Notification = class extends Real {
    constructor(title, options) {
      window.__notes.push({ title, body: options && options.body });
      super(title, options);
    }
  };
})();"""


def sidebar_room(page: Page, room: str):
    return page.get_by_role("navigation").get_by_role("button", name=re.compile(rf"^#?{re.escape(room)}\b"))


def room_menu(page: Page, item: str) -> None:
    page.get_by_role("button", name="Room options").click()
    page.get_by_role("menuitem", name=item).click()


def set_notify(page: Page, room: str, level: str) -> None:
    """Open `room` and choose its notification level in the room's menu."""
    sidebar_room(page, room).click()
    expect(page.get_by_role("heading", name=f"#{room}", exact=True)).to_be_visible()
    room_menu(page, "Notifications…")
    page.get_by_role("menuitemradio", name=level).click()


def test_formatting_renders_and_html_stays_text(chat_server, new_page):
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_up(page, chat_server, "alice")
    join(page, "fmt")
    bot = chat_server.register("bot")
    chat_server.post_message(
        bot, "fmt", "**Ship** it *today* or _tomorrow_: run `make  *all*` and see https://example.com/a_b_c.", "f1")
    code = "Patch:\n```py\ndef f():\n    return '<b>'\n```\nthat's all, snake_case_name"
    chat_server.post_message(bot, "fmt", code, "f2")
    hostile = "<img src=x onerror=alert(1)> **<script>alert(2)</script>** javascript:alert(3) [x](javascript:alert(4))"
    chat_server.post_message(bot, "fmt", hostile, "f3")

    first = message(page, "Ship").locator(".msg-text")
    expect(first.locator("strong")).to_have_text("Ship")
    expect(first.locator("em")).to_have_text(["today", "tomorrow"])
    assert first.locator("code").evaluate("e => e.textContent") == "make  *all*"  # spaces and stars kept
    expect_only_link(page, "https://example.com/a_b_c")

    block = message(page, "Patch:").locator("pre.code-block")
    assert block.evaluate("e => e.textContent") == "def f():\n    return '<b>'"  # indentation and lines kept
    expect(message(page, "Patch:").locator(".msg-text")).to_contain_text("that's all, snake_case_name")
    expect(message(page, "Patch:").locator("em")).to_have_count(0)

    # HTML and script are text, bold or not; javascript: never becomes a link.
    shown = message(page, "onerror").locator(".msg-text")
    expect(shown).to_contain_text("<img src=x onerror=alert(1)>")
    expect(shown.locator("strong")).to_have_text("<script>alert(2)</script>")
    expect(shown).to_contain_text("javascript:alert(3) [x](javascript:alert(4))")
    expect(log(page).locator("img, script, b")).to_have_count(0)

    # Own messages are formatted, and so is an edit.
    send(page, "plain words")
    expect_once(page, "plain words")
    edit(page, "plain words", "now **bold** and `code`")
    edited = message(page, "now").locator(".msg-text")
    expect(edited.locator("strong")).to_have_text("bold")
    expect(edited.locator("code")).to_have_text("code")
    expect(edited).to_have_text("now bold and code (edited)")
    expect(log(page).get_by_role("link")).to_have_count(1)
    assert dialogs == []


def test_mentions_count_badge_and_notify_levels(chat_server, new_page):
    alice = chat_server.register("alice")
    page = new_page(permissions=["notifications"])
    page.add_init_script(COUNT_NOTIFICATIONS)
    sign_up(page, chat_server, "bob")
    for room in ("loud", "pings", "quiet", "home"):
        chat_server.call("POST", f"/api/rooms/{room}/join", token=alice)
        join(page, room)

    # Levels are chosen in each room's menu; the menu shows the level the server keeps.
    set_notify(page, "pings", "Only @mentions")
    set_notify(page, "quiet", "Nothing")
    room_menu(page, "Notifications…")
    expect(page.get_by_role("menuitemradio", name="Nothing")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("menuitemradio", name="All messages")).to_have_attribute("aria-checked", "false")
    page.keyboard.press("Escape")
    sidebar_room(page, "home").click()
    expect(page.get_by_role("heading", name="#home", exact=True)).to_be_visible()

    chat_server.post_message(alice, "loud", "anyone around?", "m1")  # all: notified
    chat_server.post_message(alice, "pings", "just chatting", "m2")  # mentions only: not this one
    chat_server.post_message(alice, "pings", "@bob can you review #42?", "m3")  # ...but this one
    chat_server.post_message(alice, "quiet", "heads up @room: release at 5", "m4")  # nothing: counted, silent
    chat_server.post_message(alice, "loud", "last one", "m5")

    # The sidebar counts mentions apart from unread messages, and the title carries the mentions.
    expect(sidebar_room(page, "quiet").locator(".mention-badge")).to_have_text("@1 mention")
    expect(sidebar_room(page, "pings").locator(".mention-badge")).to_have_text("@1 mention")
    expect(sidebar_room(page, "pings").locator(".badge:not(.mention-badge)")).to_contain_text("2")
    expect(sidebar_room(page, "loud").locator(".mention-badge")).to_be_hidden()
    expect(sidebar_room(page, "loud")).to_contain_text("2")
    expect(page).to_have_title("(@2) #home · Parley")

    page.wait_for_function("window.__notes.length >= 3")
    notes = page.evaluate("window.__notes")
    assert [n["title"] for n in notes] == ["alice in #loud", "alice in #pings", "alice in #loud"], notes
    assert notes[1]["body"] == "@bob can you review #42?"

    # Opened: the mention is a pill, the message stands out, and the counts go.
    sidebar_room(page, "pings").click()
    pill = message(page, "can you review").locator(".mention")
    expect(pill).to_have_text("@bob")
    expect(pill).to_have_class(re.compile(r"\bmention-me\b"))
    expect(message(page, "can you review")).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(message(page, "just chatting")).not_to_have_class(re.compile(r"\bmentions-me\b"))
    expect(sidebar_room(page, "pings").locator(".mention-badge")).to_be_hidden()
    expect(page).to_have_title("(@1) #pings · Parley")

    # After a reload the counts come from the server; @room is a mention of everyone.
    page.reload()
    expect(connection(page)).to_have_text("Connected")
    expect(sidebar_room(page, "quiet").locator(".mention-badge")).to_have_text("@1 mention")
    expect(page).to_have_title("(@1) #pings · Parley")
    sidebar_room(page, "quiet").click()
    expect(message(page, "heads up").locator(".mention")).to_have_text("@room")
    expect(page).to_have_title("(2) #quiet · Parley")  # only #loud's two unread messages are left
    assert page.evaluate("window.__notes.length") == 0  # replayed and history messages notify nobody


def test_search_pages_filters_and_jumps_to_an_old_hit_in_context(make_server, new_page):
    server = ChatServer(make_server("--rate", "0"))  # seeding history at once is setup, not a test
    alice, carol = server.register("alice"), server.register("carol")
    server.post_message(alice, "archive", "The deploy key lives in the vault", "needle")
    for i in range(1, 151):
        server.post_message(alice, "archive", f"filler {i:03d} about nothing", f"filler-{i}")
    server.post_message(carol, "archive", "The vault door is open", "carol-1")
    server.post_message(alice, "other", "vault closed today", "other-1")

    page = new_page()
    sign_up(page, server, "bob")
    join(page, "other")
    join(page, "archive")
    expect_once(page, "The vault door is open")
    expect(log(page).get_by_text("The deploy key lives in the vault")).to_have_count(0)  # not loaded

    page.get_by_role("button", name="Search messages").click()
    dialog = page.get_by_role("dialog", name="Search messages")
    hits = dialog.get_by_role("list", name="Search results").get_by_role("listitem")

    # Many hits come in pages.
    dialog.get_by_label("Words to find").fill("filler")
    expect(hits).to_have_count(20)
    dialog.get_by_role("button", name="More results").click()
    expect(hits).to_have_count(40)
    expect(hits.first).to_contain_text("filler 150 about nothing")  # newest first

    # Every word must match, the last as a prefix; room, author and time with each hit; words marked.
    dialog.get_by_label("Words to find").fill("vau")
    expect(hits).to_have_count(3)
    expect(hits.nth(0)).to_contain_text("alice#other")
    expect(hits.nth(1)).to_contain_text("carol#archive")
    expect(hits.nth(0).locator("time")).to_have_text(re.compile(r"\d"))
    expect(hits.locator("mark")).to_have_text(["vault", "vault", "vault"])
    dialog.get_by_label("Only in #archive").check()
    expect(hits).to_have_count(2)
    dialog.get_by_role("combobox", name="From").fill("alice")
    expect(hits).to_have_count(1)
    dialog.get_by_label("Words to find").fill("deploy vault")
    expect(hits.locator("mark")).to_have_text(["deploy", "vault"])

    # The hit opens in its room, loaded with what surrounds it, scrolled to and highlighted.
    hits.first.get_by_role("button").click()
    expect(dialog).to_be_hidden()
    hit = message(page, "The deploy key lives in the vault")
    expect(hit).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(hit).to_be_in_viewport()
    expect(message(page, "filler 001 about nothing")).to_be_visible()
    expect(log(page).get_by_text("This is the very beginning of the room.")).to_be_attached()
    texts = log(page).locator(".msg-text").all_inner_texts()
    assert texts == ["The deploy key lives in the vault"] + [f"filler {i:03d} about nothing" for i in range(1, 151)] + [
        "The vault door is open"]
