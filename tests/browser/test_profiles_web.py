"""Display names, avatars and the profile card in the web page (Chromium via Playwright) against a real
`parley serve`: one person sets a Unicode display name and an avatar in Account settings; another sees the
name beside the username on messages, in the online list and as the DM's title, the avatar image loaded,
opens the profile card from the name (Escape closes it) and starts a DM from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_message_actions_web import act
from tests.browser.test_message_actions_web import message as message_with
from tests.browser.test_web_client import join, log, online_panel, send, sign_up

pytestmark = pytest.mark.browser

ZOE = "Zoë Martín 🌿"


def image_loaded(locator: Locator) -> None:
    """The avatar shows an image that decoded (not a broken one, not initials)."""
    img = locator.locator("img")
    expect(img).to_have_count(1)
    img.evaluate("el => el.decode ? el.decode().catch(() => {}) : null")
    assert img.evaluate("el => el.complete && el.naturalWidth > 0"), "the avatar image did not load"


def set_profile(page: Page, display_name: str, picture: Path) -> None:
    page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account")
    settings.get_by_label("Display name").fill(display_name)
    settings.get_by_role("button", name="Save display name").click()
    expect(settings.get_by_role("status").first).to_have_text("Display name saved.")
    settings.locator("#profile-avatar-file").set_input_files(str(picture))
    expect(settings.get_by_role("status").first).to_have_text("Avatar updated.")
    image_loaded(settings.locator("#profile-avatar-preview .avatar"))
    expect(settings.get_by_role("button", name="Remove avatar")).to_be_visible()
    settings.get_by_role("button", name="Close").click()
    expect(settings).to_be_hidden()


def test_a_display_name_and_avatar_are_seen_by_others_and_the_card_opens_a_dm(chat_server, new_page,
                                                                                tmp_path: Path) -> None:
    picture = tmp_path / "me.png"
    Image.new("RGB", (300, 200), (20, 160, 90)).save(picture)
    alice = new_page()
    sign_up(alice, chat_server, "alice")
    join(alice, "lobby")
    set_profile(alice, ZOE, picture)

    # her own page follows at once: her messages and her entry in the online list
    send(alice, "hello from Zoë")
    mine = log(alice).locator(".msg").filter(has_text="hello from Zoë")
    expect(mine.locator(".msg-author")).to_have_text(f"{ZOE} alice")
    image_loaded(mine.locator(".avatar").first)
    expect(online_panel(alice).locator(".member-name")).to_have_text(ZOE)

    # another person sees the display name beside her username, her avatar, and her in the online list
    bob = new_page()
    sign_up(bob, chat_server, "bob")
    join(bob, "lobby")
    message = log(bob).locator(".msg").filter(has_text="hello from Zoë")
    author = message.get_by_role("button", name=re.compile(f"^{ZOE}"))
    expect(author).to_be_visible()
    expect(author.locator(".display-name")).to_have_text(ZOE)
    expect(author.locator(".username-after")).to_have_text("alice")
    assert author.locator(".display-name").evaluate("el => getComputedStyle(el).fontWeight") in ("700", "bold")
    image_loaded(message.locator(".avatar").first)
    members = online_panel(bob).locator(".member-name")
    expect(members.filter(has_text=ZOE)).to_have_count(1)
    expect(members.filter(has_text="bob")).to_have_count(1)
    # a reply quotes her by her display name too
    act(bob, "hello from Zoë", "Reply")
    send(bob, "welcome!")
    expect(message_with(bob, "welcome!").locator(".msg-quote .quote-author")).to_have_text(ZOE)

    # the profile card: by the name, with the avatar, display name and @username; Escape closes it
    author.click()
    card = bob.get_by_role("dialog", name=ZOE)
    expect(card).to_be_visible()
    expect(card.get_by_text("@alice", exact=True)).to_be_visible()
    image_loaded(card.locator(".profile-card-avatar"))
    expect(card.get_by_role("button", name="Edit profile")).to_be_hidden()
    expect(card.get_by_role("button", name="Message")).to_be_focused()
    bob.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(author).to_be_focused()

    # opened from the keyboard, "Message" lands in the DM, called by her display name
    author.press("Enter")
    expect(card).to_be_visible()
    card.get_by_role("button", name="Message").click()
    expect(card).to_be_hidden()
    expect(bob.get_by_role("heading", name=ZOE, exact=True)).to_be_visible()
    send(bob, "hi Zoë, a word in private")
    expect(log(bob).get_by_text("hi Zoë, a word in private", exact=True)).to_have_count(1)
    nav = bob.get_by_role("navigation", name="Your conversations")
    expect(nav.get_by_role("button", name=re.compile(f"^{ZOE}"))).to_be_visible()

    # her own card offers "Edit profile", which opens the settings with her name in the field
    alice.locator(".msg").filter(has_text="hello from Zoë").get_by_role("button", name=re.compile(f"^{ZOE}")).click()
    own = alice.get_by_role("dialog", name=ZOE)
    expect(own.get_by_role("button", name="Message")).to_be_hidden()
    own.get_by_role("button", name="Edit profile").click()
    settings = alice.get_by_role("dialog", name="Account")
    expect(settings.get_by_label("Display name")).to_have_value(ZOE)
    expect(settings.get_by_label("Display name")).to_be_focused()


def test_a_profile_change_shows_at_once_on_other_pages_without_reloading(chat_server, new_page,
                                                                          tmp_path: Path) -> None:
    """Issue 15: a new name or avatar reached other pages only at their 5-minute refresh. Now the server
    pushes it: bob's page and alice's second tab repaint her existing message within moments."""
    picture = tmp_path / "me.png"
    Image.new("RGB", (120, 120), (200, 60, 40)).save(picture)
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "lobby")
    join(bob, "lobby")
    send(alice, "before the change")
    tab = alice.context.new_page()  # her second tab, same sign-in
    tab.goto(chat_server.url)
    pages = (bob, tab)
    for page in pages:
        line = log(page).locator(".msg").filter(has_text="before the change")
        expect(line.locator(".msg-author")).to_have_text("alice")
        expect(line.locator(".avatar img")).to_have_count(0)
        page.evaluate("window.__notReloaded = true")

    alice.get_by_role("button", name="Account settings").click()
    settings = alice.get_by_role("dialog", name="Account")
    settings.get_by_label("Display name").fill(ZOE)
    settings.get_by_role("button", name="Save display name").click()
    expect(settings.get_by_role("status").first).to_have_text("Display name saved.")
    for page in pages:
        line = log(page).locator(".msg").filter(has_text="before the change")
        expect(line.locator(".msg-author .display-name")).to_have_text(ZOE)  # 5 s, not the 5-minute refresh
        expect(line.locator(".msg-author .username-after")).to_have_text("alice")

    settings.locator("#profile-avatar-file").set_input_files(str(picture))
    expect(settings.get_by_role("status").first).to_have_text("Avatar updated.")
    for page in pages:
        image_loaded(log(page).locator(".msg").filter(has_text="before the change").locator(".avatar").first)

    settings.get_by_role("button", name="Remove avatar").click()
    for page in pages:
        line = log(page).locator(".msg").filter(has_text="before the change")
        expect(line.locator(".avatar img")).to_have_count(0)
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
