"""Rooms, direct messages, membership and moderation in the web client (Chromium via Playwright) against
a real `parley serve`: private rooms, the directory, invitations, DMs, kicks seen live, system lines for
membership and topic events, roles, mutes, account settings and invite-only registration.

Everything is asserted as a person would see it: headings, lines in the role="log" conversation,
alerts, buttons by their accessible names. Waiting is done with Playwright's `expect`, never with
sleeps. Invitations and new direct messages reach the other person's page when it refreshes its room
list (every few seconds while visible), so those waits allow for one refresh.
"""

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChatServer
from tests.browser.test_web_client import connection, expect_once, join, log, online_panel, send, sign_in, sign_up
from tests.support import PASSWORD

pytestmark = pytest.mark.browser

REFRESH = 25_000  # ms: the room list refreshes every 10 s; allow for one refresh and a slow machine


# ---- what a person does --------------------------------------------------------------------------


def nav(page: Page):
    return page.get_by_role("navigation", name="Your conversations")


def room_button(page: Page, label: str):
    """The sidebar entry of a room or direct message, by what it shows."""
    return nav(page).get_by_role("button", name=re.compile(rf"^#?{re.escape(label)}\b"))


def open_drawer_if_phone(page: Page) -> None:
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()


def create_room(page: Page, name: str, *, private: bool = False, topic: str = "") -> None:
    open_drawer_if_phone(page)
    nav(page).get_by_role("button", name="Create a room").click()
    dialog = page.get_by_role("dialog", name="Create a room")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("radio", name=re.compile("^Private" if private else "^Public")).check()
    if topic:
        dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_role("button", name="Create room").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name=f"#{name}", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ online$"))).to_be_visible()


def room_menu(page: Page, item: str) -> None:
    page.get_by_role("button", name="Room options").click()
    page.get_by_role("menuitem", name=item).click()


def open_members(page: Page):
    page.get_by_role("button", name="Members", exact=True).click()
    dialog = page.get_by_role("dialog", name=re.compile("^(Members of|People in)"))
    expect(dialog).to_be_visible()
    return dialog


def member_action(page: Page, dialog, user: str, item: str) -> None:
    dialog.get_by_role("button", name=f"Actions for {user}").click()
    page.get_by_role("menuitem", name=item).click()


def system_line(page: Page, text: str):
    return log(page).locator(".sys").filter(has_text=text)


def invite_code(db_url: str) -> str:
    out = subprocess.run([sys.executable, "-m", "parley", "invite", "create", "--db", db_url],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1].strip()


# ---- tests ----------------------------------------------------------------------------------------


def test_private_room_invitation_and_directory(chat_server, new_page):
    alice, bob, carol = new_page(), new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    sign_up(carol, chat_server, "carol")

    # A public room with a topic, and a private one.
    create_room(alice, "town-square", topic="Everyone welcome")
    expect(alice.get_by_text("Everyone welcome", exact=True)).to_be_visible()
    create_room(alice, "secret-plans", private=True, topic="Launch planning")
    expect(alice.get_by_text("Launch planning", exact=True)).to_be_visible()
    expect(system_line(alice, "alice created the room")).to_have_count(1)
    expect(room_button(alice, "secret-plans")).to_contain_text("(private)")

    # Alice invites bob, picking him from the suggestions with the keyboard.
    room_menu(alice, "Invite people…")
    members = alice.get_by_role("dialog", name="Members of #secret-plans")
    box = members.get_by_role("combobox", name="Invite someone")
    expect(box).to_be_focused()
    box.press_sequentially("bo")
    expect(members.get_by_role("option", name="bob", exact=True)).to_be_visible()
    box.press("ArrowDown")
    box.press("Enter")
    expect(members.get_by_role("status")).to_have_text("bob was invited.")
    expect(members.get_by_role("list", name="Invited")).to_contain_text("bob")
    members.get_by_role("button", name="Close").click()
    expect(system_line(alice, "alice invited bob")).to_have_count(1)

    # Bob sees the invitation (his page refreshes its room list) and accepts it.
    accept = nav(bob).get_by_role("button", name="Accept invitation to #secret-plans")
    expect(accept).to_be_visible(timeout=REFRESH)
    accept.click()
    expect(bob.get_by_role("heading", name="#secret-plans", exact=True)).to_be_visible()
    expect(bob.get_by_text("Launch planning", exact=True)).to_be_visible()
    expect(system_line(bob, "bob joined")).to_have_count(1)
    expect(system_line(alice, "bob joined")).to_have_count(1)
    expect(nav(bob).get_by_role("button", name=re.compile("^Accept"))).to_have_count(0)

    # They talk.
    send(alice, "The launch is on the 14th.")
    expect_once(bob, "The launch is on the 14th.")
    send(bob, "Noted, keeping it quiet.")
    expect_once(alice, "Noted, keeping it quiet.")

    # Carol finds the public room (topic, member count) in the directory, not the private one.
    nav(carol).get_by_role("button", name="Browse rooms").click()
    directory = carol.get_by_role("dialog", name="Browse rooms")
    rooms = directory.get_by_role("list", name="Public rooms")
    expect(rooms.get_by_text("#town-square", exact=True)).to_be_visible()
    expect(rooms).to_contain_text("Everyone welcome")
    expect(rooms).to_contain_text("1 member")
    expect(rooms.get_by_text("#secret-plans")).to_have_count(0)
    directory.get_by_role("searchbox").fill("secret")
    expect(directory.get_by_role("status")).to_contain_text("No rooms match")
    directory.get_by_role("searchbox").fill("town")
    directory.get_by_role("button", name="Join #town-square").click()
    expect(carol.get_by_role("heading", name="#town-square", exact=True)).to_be_visible()
    expect(system_line(carol, "carol joined")).to_have_count(1)

    # Nor can she open it by name: the server answers "not found" and the page says so.
    carol.get_by_label("Room", exact=True).fill("secret-plans")
    carol.get_by_role("button", name="Join", exact=True).click()
    expect(carol.get_by_role("alert").filter(has_text="no room #secret-plans you can join").first).to_be_visible()
    expect(room_button(carol, "secret-plans")).to_have_count(0)
    expect(carol.get_by_role("heading", name="#secret-plans")).to_have_count(0)
    expect(log(carol).get_by_text("The launch is on the 14th.")).to_have_count(0)
    status, _ = chat_server.call_status("POST", "/api/rooms/secret-plans/join", {}, token=chat_server.login("carol"))
    assert status == 404

    # An invitation can be declined: it goes away, and the room stays closed to her.
    status, _ = chat_server.call_status("POST", "/api/rooms/secret-plans/manage", {"action": "invite", "user": "carol"},
                                        token=chat_server.login("alice"))
    assert status == 200
    decline = nav(carol).get_by_role("button", name="Decline invitation to #secret-plans")
    expect(decline).to_be_visible(timeout=REFRESH)
    decline.click()
    expect(nav(carol).get_by_role("heading", name="Invitations")).to_be_hidden()
    expect(room_button(carol, "secret-plans")).to_have_count(0)
    members = open_members(alice)
    expect(members.get_by_role("list", name="Members")).not_to_contain_text("carol")
    expect(members.get_by_role("list", name="Invited")).to_have_count(0)


def test_direct_message_between_two_people(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")

    nav(alice).get_by_role("button", name="New direct message").click()
    dialog = alice.get_by_role("dialog", name="New direct message")
    to = dialog.get_by_role("combobox", name="To")
    to.press_sequentially("b")
    option = dialog.get_by_role("option", name="bob", exact=True)
    expect(option).to_be_visible()
    option.click()
    expect(dialog.get_by_role("list", name="Recipients")).to_contain_text("bob")
    dialog.get_by_role("button", name="Start conversation").click()

    # The conversation is called by the other person's name, never by its dm.… room name.
    expect(alice.get_by_role("heading", name="bob", exact=True)).to_be_visible()
    expect(room_button(alice, "bob")).to_be_visible()
    send(alice, "Hi Bob, a word in private?")
    expect_once(alice, "Hi Bob, a word in private?")

    # Bob's page finds the new conversation, with the message unread.
    dm = room_button(bob, "alice")
    expect(dm).to_contain_text("1", timeout=REFRESH)
    dm.click()
    expect(bob.get_by_role("heading", name="alice", exact=True)).to_be_visible()
    expect_once(bob, "Hi Bob, a word in private?")
    expect(dm).not_to_contain_text("1")
    send(bob, "Sure, go ahead.")
    expect_once(alice, "Sure, go ahead.")
    for page in (alice, bob):
        expect(page.get_by_text(re.compile(r"dm\."))).to_have_count(0)

    # Starting a DM with the same person again opens the same conversation.
    nav(alice).get_by_role("button", name="New direct message").click()
    dialog.get_by_role("combobox", name="To").fill("bob")
    dialog.get_by_role("button", name="Start conversation").click()
    expect(alice.get_by_role("heading", name="bob", exact=True)).to_be_visible()
    expect(nav(alice).get_by_role("button", name=re.compile("^bob"))).to_have_count(1)
    expect_once(alice, "Sure, go ahead.")

    # A name that does not exist is refused in words.
    nav(alice).get_by_role("button", name="New direct message").click()
    dialog.get_by_role("combobox", name="To").fill("nobody-here")
    dialog.get_by_role("button", name="Start conversation").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Couldn't start the conversation")


def test_kick_is_seen_live_and_the_room_is_not_rejoined(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "dev")
    join(bob, "dev")
    join(bob, "watercooler")
    room_button(bob, "dev").click()
    expect(online_panel(alice).get_by_text("bob", exact=True)).to_be_visible()

    # Alice kicks bob from the Members dialog, keyboard only for the menu, with a reason.
    members = open_members(alice)
    expect(members.get_by_role("list", name="Members")).to_contain_text("Owner")
    actions = members.get_by_role("button", name="Actions for bob")
    actions.focus()
    actions.press("Enter")
    menu = alice.get_by_role("menu", name="Actions for bob")
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    alice.keyboard.press("End")
    alice.keyboard.press("ArrowUp")  # Kick… is above Ban…
    expect(menu.get_by_role("menuitem", name="Kick…")).to_be_focused()
    alice.keyboard.press("Enter")
    confirm = alice.get_by_role("dialog", name="Remove bob from #dev?")
    confirm.get_by_label(re.compile("^Reason")).fill("spam")
    confirm.get_by_role("button", name="Kick", exact=True).click()
    expect(confirm).to_be_hidden()
    expect(members.get_by_role("status")).to_have_text("bob was removed from the room.")
    expect(members.get_by_role("list", name="Members")).not_to_contain_text("bob")
    members.get_by_role("button", name="Close").click()

    # Both see it in the conversation; bob's page drops the room and tells him why.
    expect(system_line(alice, "alice kicked bob: spam")).to_have_count(1)
    expect(bob.get_by_role("alert").filter(has_text="alice removed you from #dev: spam")).to_be_visible()
    expect(room_button(bob, "dev")).to_have_count(0)
    expect(bob.get_by_role("heading", name="#dev", exact=True)).to_have_count(0)
    expect(online_panel(alice).get_by_text("bob", exact=True)).to_have_count(0)

    # Nothing brings it back by itself: not a reconnect, not a reload.
    send(alice, "after the kick")
    bob.reload()
    expect(connection(bob)).to_have_text("Connected")
    expect(room_button(bob, "watercooler")).to_be_visible()
    expect(room_button(bob, "dev")).to_have_count(0)
    expect(log(bob).get_by_text("after the kick")).to_have_count(0)

    # A ban keeps him out: joining again is refused in words (public room: forbidden).
    status, _ = chat_server.call_status("POST", "/api/rooms/dev/manage", {"action": "ban", "user": "bob"},
                                        token=chat_server.login("alice"))
    assert status == 200
    open_drawer_if_phone(bob)
    bob.get_by_label("Room", exact=True).fill("dev")
    bob.get_by_role("button", name="Join", exact=True).click()
    expect(bob.get_by_role("alert").filter(has_text="can't join #dev").first).to_be_visible()
    expect(room_button(bob, "dev")).to_have_count(0)


def test_membership_lines_topic_roles_mute_and_history(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "release")
    join(bob, "release")
    expect(system_line(alice, "bob joined")).to_have_count(1)

    # Topic: set from the room menu, shown in the header and as a line, on both pages.
    room_menu(alice, "Set topic…")
    dialog = alice.get_by_role("dialog", name="Set the topic of #release")
    dialog.get_by_label("Topic", exact=True).fill("Release on Friday")
    dialog.get_by_role("button", name="Save topic").click()
    for page in (alice, bob):
        expect(system_line(page, "alice set the topic to “Release on Friday”")).to_have_count(1)
        expect(page.locator("#room-topic")).to_have_text("Release on Friday")

    # Bob, a plain member, is offered no moderation.
    bob.get_by_role("button", name="Room options").click()
    expect(bob.get_by_role("menuitem", name="Set topic…")).to_have_count(0)
    expect(bob.get_by_role("menuitem", name="Delete room…")).to_have_count(0)
    bob.keyboard.press("Escape")
    members = open_members(bob)
    expect(members.get_by_role("button", name=re.compile("^Actions for"))).to_have_count(0)
    members.get_by_role("button", name="Close").click()

    # Roles: alice makes bob a moderator; both see the line and the tag.
    members = open_members(alice)
    member_action(alice, members, "bob", "Make moderator")
    expect(members.get_by_role("status")).to_have_text("bob is now a moderator.")
    expect(members.get_by_role("listitem").filter(has_text="bob")).to_contain_text("Moderator")
    members.get_by_role("button", name="Close").click()
    expect(system_line(bob, "alice made bob a moderator")).to_have_count(1)
    bob.get_by_role("button", name="Room options").click()
    expect(bob.get_by_role("menuitem", name="Set topic…")).to_be_visible()
    bob.keyboard.press("Escape")

    # Mute: bob can read but not write, and is told so; unmute gives the box back.
    members = open_members(alice)
    member_action(alice, members, "bob", "Mute")
    expect(members.get_by_role("listitem").filter(has_text="bob")).to_contain_text("Muted")
    expect(system_line(bob, "alice muted bob")).to_have_count(1)
    expect(bob.get_by_label("Message", exact=True)).to_be_disabled()
    expect(bob.get_by_text("you can read, but not send")).to_be_visible()
    member_action(alice, members, "bob", "Unmute")
    members.get_by_role("button", name="Close").click()
    expect(system_line(bob, "alice unmuted bob")).to_have_count(1)
    expect(bob.get_by_label("Message", exact=True)).to_be_enabled()
    send(bob, "Back on air")
    expect_once(alice, "Back on air")

    # The last owner cannot leave: the page says why, and the room stays.
    alice.get_by_role("button", name="Leave", exact=True).click()
    expect(alice.get_by_role("alert").filter(has_text="last owner")).to_be_visible()
    expect(room_button(alice, "release")).to_be_visible()

    # Bob leaves for good: alice sees the line; his list no longer has the room.
    bob.get_by_role("button", name="Leave", exact=True).click()
    expect(room_button(bob, "release")).to_have_count(0)
    expect(system_line(alice, "bob left")).to_have_count(1)

    # A newcomer reads it all in the history, system lines included, in order.
    carol = new_page()
    sign_up(carol, chat_server, "carol")
    join(carol, "release")
    expect(system_line(carol, "carol joined")).to_have_count(1)
    expected = [
        "alice created the room",
        "bob joined",
        "alice set the topic to “Release on Friday”",
        "alice made bob a moderator",
        "alice muted bob",
        "alice unmuted bob",
        "bob left",
        "carol joined",
    ]
    expect(log(carol).locator(".sys .sys-text")).to_have_text(expected)
    expect(carol.locator("#room-topic")).to_have_text("Release on Friday")
    expect(log(carol).locator(".msg-text")).to_have_text(["Back on air"])

    # The owner deletes the room: it goes from every list, and its members are told.
    room_menu(alice, "Delete room…")
    confirm = alice.get_by_role("dialog", name="Delete #release?")
    confirm.get_by_role("button", name="Delete room").click()
    expect(room_button(alice, "release")).to_have_count(0)
    expect(alice.get_by_role("status").filter(has_text="#release was deleted.")).to_be_visible()
    expect(carol.get_by_role("alert").filter(has_text="#release was deleted by alice.")).to_be_visible()
    expect(room_button(carol, "release")).to_have_count(0)


def test_room_list_comes_from_the_server_with_unread_counts(chat_server, new_page):
    laptop, phone, bob = new_page(), new_page(), new_page()
    sign_up(laptop, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(bob, "gamma")  # bob's room: alice, not its last owner, may leave it
    join(laptop, "alpha")
    join(laptop, "beta")
    join(laptop, "gamma")
    join(bob, "beta")

    # A second device shows the same rooms, with what came in since alice last read counted.
    room_button(laptop, "alpha").click()
    expect(laptop.get_by_role("heading", name="#alpha", exact=True)).to_be_visible()
    send(bob, "one for alice")
    send(bob, "two for alice")
    expect(room_button(laptop, "beta")).to_contain_text("2")
    sign_in(phone, chat_server, "alice")
    expect(room_button(phone, "alpha")).to_be_visible()
    expect(room_button(phone, "beta")).to_contain_text("2")

    # Reading on one device clears the count for the others (on their next refresh).
    room_button(phone, "beta").click()
    expect_once(phone, "two for alice")
    expect(room_button(phone, "beta")).not_to_contain_text("2")
    expect(room_button(laptop, "beta")).not_to_contain_text("2", timeout=REFRESH)

    # Leaving on one device removes the room from the other at once.
    room_button(phone, "gamma").click()
    phone.get_by_role("button", name="Leave", exact=True).click()
    expect(room_button(phone, "gamma")).to_have_count(0)
    expect(room_button(laptop, "gamma")).to_have_count(0)
    expect(laptop.get_by_role("alert").filter(has_text="You left #gamma on another device.")).to_be_visible()
    expect(room_button(laptop, "alpha")).to_be_visible()


def test_change_password_keeps_this_page_and_signs_out_the_others(chat_server, new_page):
    page, other = new_page(), new_page()
    sign_up(page, chat_server, "alice")
    sign_in(other, chat_server, "alice")
    join(page, "notes")

    page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account")
    settings.get_by_label("Current password").fill("not-my-password")
    settings.get_by_label("New password", exact=True).fill("a-brand-new-secret")
    settings.get_by_label("Confirm new password").fill("a-brand-new-secret")
    settings.get_by_role("button", name="Change password").click()
    expect(settings.get_by_role("alert").first).to_have_text("Your current password is not right.")

    settings.get_by_label("Current password").fill(PASSWORD)
    settings.get_by_label("New password", exact=True).fill("a-brand-new-secret")
    settings.get_by_label("Confirm new password").fill("a-brand-new-secret")
    settings.get_by_role("button", name="Change password").click()
    expect(settings.get_by_role("status")).to_contain_text("Password changed")
    settings.get_by_role("button", name="Close").click()

    # This page reconnects with its new token; the other device is sent to the sign-in screen.
    expect(connection(page)).to_have_text("Connected")
    send(page, "still here")
    expect_once(page, "still here")
    expect(log(page).get_by_text("Sending…")).to_have_count(0)
    expect(other.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    page.reload()
    expect(connection(page)).to_have_text("Connected")
    expect(page.get_by_role("heading", name="#notes", exact=True)).to_be_visible()

    # Sign out everywhere: back to the sign-in screen, told why; the new password signs in.
    page.get_by_role("button", name="Account settings").click()
    settings.get_by_role("button", name="Sign out everywhere").click()
    page.get_by_role("dialog", name="Sign out everywhere?").get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("alert").first).to_have_text("You are signed out on every device.")
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill("a-brand-new-secret")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(connection(page)).to_have_text("Connected")
    expect(page.get_by_role("heading", name="#notes", exact=True)).to_be_visible()


def test_invite_only_and_closed_registration(make_server, db_url, new_page):
    from tests.browser.conftest import ChatServer

    server = ChatServer(make_server("--registration", "invite"))
    page = new_page()
    page.goto(server.url)
    code_box = page.get_by_label("Invite code")
    expect(code_box).to_be_visible()
    page.get_by_label("Username", exact=True).fill("newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("invite-only")
    code_box.fill("not-a-real-code")
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("invite code is not valid")
    code_box.fill(invite_code(db_url))
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(connection(page)).to_have_text("Connected")
    server.stop()

    closed = ChatServer(make_server("--registration", "closed"))
    page = new_page()
    page.goto(closed.url)
    expect(page.get_by_text("Registration is closed on this server")).to_be_visible()
    expect(page.get_by_role("button", name="Create account")).to_have_count(0)
    expect(page.get_by_label("Invite code")).to_be_hidden()
    # Accounts made by an administrator still sign in.
    sign_in(page, closed, "newcomer")


def test_phone_width_dark_mode_dialogs_and_drawer(chat_server, new_page):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, color_scheme="dark")
    other = new_page()
    sign_up(page, chat_server, "mobile")
    sign_up(other, chat_server, "friend")
    create_room(page, "pocket-private", private=True, topic="Small screen, big plans")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # Dark colours are in use.
    bg = page.evaluate("() => getComputedStyle(document.querySelector('.room-pane')).backgroundColor")
    assert bg != "rgb(255, 255, 255)"

    # The header keeps the room menu on screen; Search, Members and Leave are in that menu.
    box = page.get_by_role("button", name="Room options", exact=True).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    for name in ("Search messages", "Members", "Leave"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_hidden()
    page.get_by_role("button", name="Room options").click()
    for item in ("Search messages…", "Members", "Leave room"):
        expect(page.get_by_role("menuitem", name=item)).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)

    # The members dialog fits the screen, and inviting works there.
    room_menu(page, "Invite people…")
    dialog = page.get_by_role("dialog", name="Members of #pocket-private")
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    dialog.get_by_role("combobox", name="Invite someone").fill("friend")
    dialog.get_by_role("button", name="Invite", exact=True).click()
    expect(dialog.get_by_role("status")).to_have_text("friend was invited.")
    dialog.get_by_role("button", name="Close").click()

    # The invitation shows on the other page; accepting it from the drawer works at any width.
    accept = other.get_by_role("button", name="Accept invitation to #pocket-private")
    expect(accept).to_be_visible(timeout=REFRESH)
    accept.click()
    expect(other.get_by_role("heading", name="#pocket-private", exact=True)).to_be_visible()
    send(other, "hello from a big screen")
    expect_once(page, "hello from a big screen")

    # The drawer has the room list and the new-conversation buttons.
    page.get_by_role("button", name="Menu").click()
    expect(room_button(page, "pocket-private")).to_be_visible()
    expect(nav(page).get_by_role("button", name="New direct message")).to_be_visible()
    nav(page).get_by_role("button", name="New direct message").click()
    dm = page.get_by_role("dialog", name="New direct message")
    expect(dm).to_be_visible()
    dm.get_by_role("combobox", name="To").fill("friend")
    dm.get_by_role("button", name="Start conversation").click()
    expect(page.get_by_role("heading", name="friend", exact=True)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_room_names_ignore_case_and_past_the_room_limit_the_page_says_what_to_do(make_server, new_page):
    """`General` typed in the join box is the room `general` (one room, shown in lower case); with the server's
    room limit reached (--max-rooms 3 here; 1000 by default), joining one more says in words what to do,
    never the server's raw text, and leaving a room makes room for it."""
    server = ChatServer(make_server("--max-rooms", "3"))
    page = new_page()
    sign_up(page, server, "casey")
    join(page, "general")
    page.get_by_label("Room", exact=True).fill("#General")
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.get_by_role("heading", name="#general", exact=True)).to_be_visible()
    expect(room_button(page, "general")).to_have_count(1)
    expect(nav(page).get_by_role("button", name=re.compile("General"))).to_have_count(0)
    join(page, "design")
    join(page, "ops")

    page.get_by_label("Room", exact=True).fill("overflow")
    page.get_by_role("button", name="Join", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="overflow").first
    expect(alert).to_contain_text("You are in 3 rooms")
    expect(alert).to_contain_text("leave a room you no longer read")
    expect(page.get_by_text("a connection may be in at most")).to_have_count(0)
    expect(room_button(page, "overflow")).to_have_count(0)


def test_every_public_room_can_be_found_and_the_busiest_are_suggested(make_server, new_page):
    """With 230 public rooms (more than a page of the directory), Browse rooms finds one named late in the
    alphabet by part of its topic, the join box suggests it as one types, and the welcome screen suggests
    the busiest rooms first, a room without a single message among them."""
    server = ChatServer(make_server("--new-rooms", "0", "--rate", "0"))
    owner = server.register("mayor")
    for i in range(229):
        server.call("POST", "/api/rooms", {"name": f"street-{i:03d}", "visibility": "public"}, token=owner, expect=201)
    server.call("POST", "/api/rooms", {"name": "zz-observatory", "visibility": "public",
                                       "topic": "Telescopes at night"}, token=owner, expect=201)
    for name in ("quiet-but-crowded", "busy"):
        server.call("POST", "/api/rooms", {"name": name, "visibility": "public"}, token=owner, expect=201)
    for i in range(3):  # three more members, and not one message, in quiet-but-crowded
        server.call("POST", "/api/rooms/quiet-but-crowded/join", {}, token=server.register(f"resident{i}"))

    page = new_page()
    sign_up(page, server, "newcomer")
    chips = page.locator("#welcome-rooms").get_by_role("button")
    expect(chips.first).to_have_text("#quiet-but-crowded")

    nav(page).get_by_role("button", name="Browse rooms").click()
    directory = page.get_by_role("dialog", name="Browse rooms")
    rooms = directory.get_by_role("list", name="Public rooms")
    expect(rooms.get_by_text("#street-000", exact=True)).to_be_visible()
    expect(rooms.get_by_text("#zz-observatory", exact=True)).to_have_count(0)  # past the first page
    directory.get_by_role("searchbox").fill("telescopes")
    expect(rooms.get_by_text("#zz-observatory", exact=True)).to_be_visible()
    expect(directory.get_by_role("status")).to_contain_text("1 of 1")
    directory.get_by_role("button", name="Close").first.click()

    page.get_by_label("Room", exact=True).fill("zz-obs")
    expect(page.locator("#room-suggestions option[value='zz-observatory']")).to_have_count(1)
