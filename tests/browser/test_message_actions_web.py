"""Editing, deleting, reacting to and replying to messages in the web page (Chromium via Playwright) against a
real `parley serve`, over WebSocket and over long-polling (`?transport=poll`).

Everything is asserted as a person would see it: message texts in the role="log" message list, "(edited)",
the tombstone, reaction chips with their counts, the quote of a reply. Waiting is done with Playwright's
`expect`, never with sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_poll_web import POLLING, sign_up_via
from tests.browser.test_web_client import connection, expect_once, join, log, send, sign_up

pytestmark = pytest.mark.browser


def message(page: Page, text: str):
    """The message whose own text (not a quote of it) contains `text`."""
    return log(page).locator("article.msg").filter(has=page.locator(".msg-text", has_text=text))


def act(page: Page, text: str, action: str) -> None:
    """Hover the message and press one of its actions ("Edit", "Reply", "Add reaction", "More actions")."""
    msg = message(page, text)
    msg.hover()
    msg.get_by_role("button", name=action, exact=True).click()


def edit(page: Page, text: str, new_text: str) -> None:
    act(page, text, "Edit")
    box = message(page, text).get_by_role("textbox", name="Edit message")
    box.fill(new_text)
    box.press("Enter")
    expect(box).to_have_count(0)


def react(page: Page, text: str, name: str) -> None:
    act(page, text, "Add reaction")
    page.get_by_role("menu", name="Add reaction").get_by_role("menuitem", name=name).click()


def chip(page: Page, text: str, emoji: str):
    return message(page, text).locator(".reaction", has_text=emoji)


def delete(page: Page, text: str) -> None:
    act(page, text, "More actions")
    page.get_by_role("menuitem", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete message?")
    dialog.get_by_role("button", name="Delete message").click()
    expect(dialog).to_be_hidden()


def two_in_a_room(page_a: Page, page_b: Page, room: str) -> None:
    join(page_a, room)
    join(page_b, room)


def test_edit_react_reply_delete_live_and_after_a_reload(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    two_in_a_room(alice, bob, "team")
    send(alice, "Lunch at noon?")
    send(alice, "Oops, wrong room")
    expect_once(bob, "Oops, wrong room")

    # Edit: inline, Enter saves; the other member sees the new text marked "(edited)".
    edit(alice, "Lunch at noon?", "Lunch at 12:30?")
    for page in (alice, bob):
        expect(message(page, "Lunch at 12:30?").locator(".msg-text")).to_have_text("Lunch at 12:30? (edited)")
    expect(message(bob, "Lunch at noon?")).to_have_count(0)
    # Up in the empty composer edits the last own message; Escape cancels and nothing changes.
    alice.get_by_label("Message", exact=True).press("ArrowUp")
    editor = message(alice, "Oops, wrong room").get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(message(alice, "Oops, wrong room").locator(".msg-text")).to_have_text("Oops, wrong room")

    # Reactions: bob's 👍 reaches alice as a chip with a count and who reacted; his chip toggles it off.
    react(bob, "Lunch at 12:30?", "React with thumbs up")
    expect(chip(alice, "Lunch at 12:30?", "👍")).to_have_text("👍1")
    expect(chip(alice, "Lunch at 12:30?", "👍")).to_have_attribute("title", "bob reacted with 👍")
    expect(chip(bob, "Lunch at 12:30?", "👍")).to_have_attribute("aria-pressed", "true")
    expect(chip(alice, "Lunch at 12:30?", "👍")).to_have_attribute("aria-pressed", "false")
    chip(bob, "Lunch at 12:30?", "👍").click()
    expect(chip(alice, "Lunch at 12:30?", "👍")).to_have_count(0)
    # By keyboard: alice tabs to the message's "More actions", and reacts 🎉 from its menu.
    more = message(alice, "Lunch at 12:30?").get_by_role("button", name="More actions")
    more.focus()
    more.press("Enter")
    alice.get_by_role("menuitem", name="Add reaction…").press("Enter")
    alice.get_by_role("menuitem", name="React with party").press("Enter")
    expect(chip(bob, "Lunch at 12:30?", "🎉")).to_have_text("🎉1")

    # Reply: a quote bar above the composer, then the reply quotes the original; the quote leads to it.
    act(bob, "Lunch at 12:30?", "Reply")
    expect(bob.locator("#reply-bar")).to_have_text(re.compile(r"Replying to alice: Lunch at 12:30\?"))
    send(bob, "Works for me")
    expect(bob.locator("#reply-bar")).to_be_hidden()
    quote = message(alice, "Works for me").locator(".msg-quote")
    expect(quote).to_have_text("alice Lunch at 12:30?")
    quote.click()
    expect(message(alice, "Lunch at 12:30?")).to_have_class(re.compile(r"\bhighlighted\b"))

    # Delete (confirmed): a tombstone in its place for everyone.
    delete(alice, "Oops, wrong room")
    expect(log(bob).get_by_text("This message was deleted", exact=True)).to_have_count(1)
    expect(log(bob).get_by_text("Oops, wrong room")).to_have_count(0)
    # bob may not delete alice's message: his menu has no Delete.
    act(bob, "Lunch at 12:30?", "More actions")
    expect(bob.get_by_role("menuitem", name="Reply")).to_be_visible()
    expect(bob.get_by_role("menuitem", name="Delete…")).to_have_count(0)
    bob.keyboard.press("Escape")

    # A reload shows the same final state, from history.
    for page in (alice, bob):
        page.reload()
        expect(connection(page)).to_have_text("Connected")
        expect(message(page, "Lunch at 12:30?").locator(".msg-text")).to_have_text("Lunch at 12:30? (edited)")
        expect(chip(page, "Lunch at 12:30?", "🎉")).to_have_text("🎉1")
        expect(chip(page, "Lunch at 12:30?", "👍")).to_have_count(0)
        expect(message(page, "Works for me").locator(".msg-quote")).to_have_text("alice Lunch at 12:30?")
        expect(log(page).get_by_text("This message was deleted", exact=True)).to_have_count(1)
        expect(log(page).locator(".msg-text")).to_have_text(
            ["Lunch at 12:30? (edited)", "This message was deleted", "Works for me"])


def test_the_same_through_long_polling(chat_server, new_page):
    alice = new_page()
    sign_up_via(alice, chat_server.url + "/?transport=poll", "alice", POLLING)
    bob = new_page()
    sign_up(bob, chat_server, "bob")
    two_in_a_room(alice, bob, "polled")
    send(bob, "Deploy at five")
    send(alice, "Ship it on Friday")
    expect_once(bob, "Ship it on Friday")

    edit(alice, "Ship it on Friday", "Ship it on Thursday")
    expect(message(bob, "Ship it on Thursday").locator(".msg-text")).to_have_text("Ship it on Thursday (edited)")

    react(bob, "Ship it on Thursday", "React with eyes")
    expect(chip(alice, "Ship it on Thursday", "👀")).to_have_text("👀1")
    chip(alice, "Ship it on Thursday", "👀").click()  # alice joins in: her own chip is highlighted
    expect(chip(bob, "Ship it on Thursday", "👀")).to_have_text("👀2")
    expect(chip(alice, "Ship it on Thursday", "👀")).to_have_attribute("aria-pressed", "true")
    chip(alice, "Ship it on Thursday", "👀").click()
    expect(chip(bob, "Ship it on Thursday", "👀")).to_have_text("👀1")

    act(alice, "Deploy at five", "Reply")
    send(alice, "Fine by me")
    expect(message(bob, "Fine by me").locator(".msg-quote")).to_have_text("bob Deploy at five")

    delete(alice, "Fine by me")
    expect(log(bob).get_by_text("This message was deleted", exact=True)).to_have_count(1)

    alice.reload()
    expect(connection(alice)).to_have_text(POLLING)
    expect(message(alice, "Ship it on Thursday").locator(".msg-text")).to_have_text("Ship it on Thursday (edited)")
    expect(chip(alice, "Ship it on Thursday", "👀")).to_have_text("👀1")
    expect(log(alice).get_by_text("This message was deleted", exact=True)).to_have_count(1)
