"""Layout of the web page at phone (390 px) and desktop (1440 px) widths, in light and dark mode: the defects
of issue 15 that are about boxes and colours, each measured as a person would see it (element boxes, the
page's width against the viewport, row heights before and after a hover, contrast ratios computed from
the colours the browser uses).

One server and one set of accounts, rooms and messages (made over REST) serve the whole module; each test
signs in on a page of its own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import FloatRect, Locator, Page, expect

from tests.browser.conftest import ChatServer
from tests.browser.test_rooms_web import nav, open_drawer_if_phone, room_button
from tests.browser.test_web_client import log, online_panel, sign_in
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

LONG_ROOM = "engineering-platform-infrastructure-observability-team-2026"
LONG_USER = "maximiliana_alexandrova_petrovna"  # 32 characters, the longest a username may be
FRIEND = "bob"
NEWCOMER = "carol"  # in no room: the page shows the welcome screen
OTHER_ROOM = "random"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
AA = 4.5  # WCAG 2 level AA, normal-size text


class Seeded(ChatServer):
    """The module's server, with the tokens of the people it was seeded with."""

    tokens: dict[str, str]


@pytest.fixture(scope="module")
def server(shared_server: ServerProcess) -> Seeded:
    """The module's server with its people and rooms: LONG_USER and bob share LONG_ROOM (bob's line, then
    three of LONG_USER's in a row, shown as one group) and OTHER_ROOM; carol has no room."""
    srv = Seeded(shared_server)
    owner = srv.register(LONG_USER)
    friend = srv.register(FRIEND)
    srv.register(NEWCOMER)
    srv.call("POST", "/api/rooms", {"name": LONG_ROOM, "visibility": "public", "topic": ""}, token=owner, expect=201)
    srv.call("POST", f"/api/rooms/{LONG_ROOM}/join", {}, token=friend)
    srv.call("POST", "/api/rooms", {"name": OTHER_ROOM, "visibility": "public", "topic": ""}, token=friend, expect=201)
    srv.call("POST", f"/api/rooms/{OTHER_ROOM}/join", {}, token=owner)
    srv.post_message(friend, LONG_ROOM, "morning, team", "seed-0")
    for i, text in enumerate(("first of three", "second of three", "third of three"), 1):
        srv.post_message(owner, LONG_ROOM, text, f"seed-{i}")
    srv.tokens = {LONG_USER: owner, FRIEND: friend}
    return srv


# ---- measuring ----------------------------------------------------------------------------------


def box(locator: Locator) -> FloatRect:
    b = locator.bounding_box()
    assert b is not None, f"{locator} has no box"
    return b


def page_width(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def fits_across(page: Page, locator: Locator, width: int) -> None:
    b = box(locator)
    assert b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, f"{locator}: {b} outside 0..{width}"


def one_line(locator: Locator) -> bool:
    """The element's text is laid out on a single line (a Range gives one rectangle per line)."""
    return locator.evaluate("""el => {
        const r = document.createRange();
        r.selectNodeContents(el);
        return new Set([...r.getClientRects()].map((q) => Math.round(q.top))).size === 1;
    }""")


def whole_or_tooltip(locator: Locator, text: str) -> None:
    """`text` is shown whole, or ellipsized on one line with the whole of it in the tooltip."""
    expect(locator).to_have_text(text)
    assert one_line(locator), f"{text} wraps"
    clipped = locator.evaluate("el => el.scrollWidth > el.clientWidth")
    if clipped:
        assert locator.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"
        expect(locator).to_have_attribute("title", text)


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (channels 0..255)."""
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio, (L1 + 0.05) / (L2 + 0.05) with L1 the lighter."""
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css: str) -> tuple[float, float, float]:
    m = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    assert m, f"not an rgb() colour: {css}"
    assert m.group(4) is None or float(m.group(4)) == 1, f"translucent: {css}"
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def text_contrast(locator: Locator) -> tuple[float, str]:
    """The contrast of an element's text on its own (opaque) background, and its font size."""
    style: dict[str, Any] = locator.evaluate(
        "el => { const s = getComputedStyle(el); return {fg: s.color, bg: s.backgroundColor, size: s.fontSize}; }")
    return contrast(rgb(style["fg"]), rgb(style["bg"])), style["size"]


# ---- what a person does -------------------------------------------------------------------------


def signed_in(new_page, server: ChatServer, user: str, viewport: dict[str, int], **options: Any) -> Page:
    options.setdefault("reduced_motion", "reduce")  # boxes are measured where they end, not mid-slide
    if viewport["width"] <= 760:
        options.setdefault("is_mobile", True)
        options.setdefault("has_touch", True)
    page = new_page(viewport=viewport, **options)
    sign_in(page, server, user)
    return page


def open_room(page: Page, room: str) -> None:
    open_drawer_if_phone(page)
    room_button(page, room).click()
    expect(page.get_by_role("heading", name=f"#{room}", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ online$"))).to_be_visible()


# ---- tests ----------------------------------------------------------------------------------------


def test_a_long_room_name_is_ellipsized_in_the_header_at_every_width(server, new_page):
    """Issue 15.2: the name ran under the connection badge and Leave, and the page became 619 px wide."""
    page = signed_in(new_page, server, LONG_USER, PHONE)
    open_room(page, LONG_ROOM)
    heading = page.get_by_role("heading", name=f"#{LONG_ROOM}", exact=True)
    controls = page.locator(".room-header .header-right")
    buttons = ["Start a voice call", "Start a video call", "Room options"]
    wide_only = ["Search messages", "Members", "Leave"]  # in the room menu on a phone
    for width in (390, 800, 1024, 1440):
        page.set_viewport_size({"width": width, "height": 844})
        assert page_width(page) <= width, f"the page scrolls sideways at {width} px"
        title, right = box(heading), box(controls)
        assert title["x"] >= 0 and title["x"] + title["width"] <= right["x"] + 0.5, f"under the controls at {width}"
        assert title["width"] >= (180 if width <= 760 else 60), f"the title has {title['width']} px at {width} px"
        assert one_line(heading)
        if heading.evaluate("el => el.scrollWidth > el.clientWidth"):
            assert heading.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"
        fits_across(page, page.get_by_role("status", name="Connection"), width)
        for name in wide_only:
            if width <= 760:
                expect(page.get_by_role("button", name=name, exact=True)).to_be_hidden()
        for name in buttons + (wide_only if width > 760 else []):
            fits_across(page, page.get_by_role("button", name=name, exact=True), width)
            b = box(page.get_by_role("button", name=name, exact=True))
            assert b["height"] <= 44, f"{name} wraps at {width} px"
    # The whole name is still there for assistive technology.
    expect(heading).to_have_text(f"#{LONG_ROOM}")


def test_a_phone_header_leaves_the_title_room_and_its_menu_has_search_members_and_leave(server, new_page):
    """Issue 15: at 390 px the header held eight controls and left a long room name about 90 px. On a phone
    Search, Members and Leave are in the room menu ("Room options"), reached by touch and by keyboard, and
    they work from there; wider, the header keeps them and the menu is as it was."""
    room = "quarterly-planning-and-roadmap-review-for-the-platform-team"
    friend, me = server.tokens[FRIEND], server.tokens[LONG_USER]
    server.call("POST", "/api/rooms", {"name": room, "visibility": "public", "topic": ""}, token=friend, expect=201)
    server.call("POST", f"/api/rooms/{room}/join", {}, token=me)
    server.post_message(friend, room, "roadmap draft is up", "phone-menu-1")
    page = signed_in(new_page, server, LONG_USER, PHONE)
    open_room(page, room)
    heading = page.get_by_role("heading", name=f"#{room}", exact=True)
    title = box(heading)
    assert title["width"] >= 180, f"the title has {title['width']:.0f} px of 390"
    assert page_width(page) <= PHONE["width"]
    for name in ("Search messages", "Members", "Leave"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_hidden()
    options = page.get_by_role("button", name="Room options")
    expect(options).to_be_visible()
    fits_across(page, options, PHONE["width"])
    fits_across(page, page.get_by_role("status", name="Connection"), PHONE["width"])
    menu = page.get_by_role("menu", name=f"#{room} options")

    # Search, by touch: the dialog opens and finds the room's message; closing it gives the focus back.
    options.click()
    expect(menu).to_be_visible()
    fits_across(page, menu, PHONE["width"])
    menu.get_by_role("menuitem", name="Search messages…").click()
    search = page.get_by_role("dialog", name="Search messages")
    expect(search).to_be_visible()
    page.keyboard.type("roadmap")
    expect(search.get_by_role("list", name="Search results")).to_contain_text("roadmap draft is up")
    search.get_by_role("button", name="Close").click()
    expect(search).to_be_hidden()
    expect(options).to_be_focused()

    # Members, by keyboard: Enter opens the menu, arrows move, Enter chooses.
    page.keyboard.press("Enter")
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Members")).to_be_focused()
    page.keyboard.press("Enter")
    members = page.get_by_role("dialog", name=f"Members of #{room}")
    expect(members).to_be_visible()
    expect(members.get_by_role("list", name="Members")).to_contain_text(FRIEND)
    members.get_by_role("button", name="Close").click()
    expect(members).to_be_hidden()

    # Wider, the header has the buttons again and the menu no Search item.
    page.set_viewport_size(DESKTOP)
    for name in ("Search messages", "Members", "Leave"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    options.click()
    expect(menu.get_by_role("menuitem", name="Members")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Search messages…")).to_have_count(0)
    page.keyboard.press("Escape")
    page.set_viewport_size(PHONE)

    # Leave, by keyboard (a first letter jumps to it): the room leaves the list.
    options.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("l")
    expect(menu.get_by_role("menuitem", name="Leave room")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text=f"You left #{room}")).to_be_visible()
    open_drawer_if_phone(page)
    expect(room_button(page, room)).to_have_count(0)
    mine = server.call("GET", "/api/me/rooms", token=me)["rooms"]
    assert room not in {r["name"] for r in mine}


def test_hovering_a_follow_on_message_does_not_move_the_list(server, new_page):
    """Issue 15.3: the hover time of a follow-on message wrapped ("5:11 / AM") and the row grew by 13 px."""
    for viewport in (DESKTOP, PHONE):
        page = signed_in(new_page, server, LONG_USER, viewport)
        open_room(page, LONG_ROOM)
        expect(log(page).get_by_text("third of three", exact=True)).to_be_visible()
        row = log(page).locator(".msg.cont").filter(has_text="second of three")
        below = log(page).locator(".msg").filter(has_text="third of three")
        page.mouse.move(0, 0)
        before, below_before = box(row), box(below)
        row.hover()
        time = row.locator(".msg-side-time")
        expect(time).to_be_visible()
        assert one_line(time), "the time wraps"
        after, below_after = box(row), box(below)
        assert after["height"] == pytest.approx(before["height"], abs=0.5), viewport
        assert below_after["y"] == pytest.approx(below_before["y"], abs=0.5), viewport
        fits_across(page, time, viewport["width"])


def test_the_welcome_screen_fills_the_pane_and_says_where_to_join(server, new_page):
    """Issue 15.4 and the first point of 15.19: the welcome card sat in the lower half, a 236 px strip
    stayed empty on the right at 1440 px, and phones were told to look "in the sidebar"."""
    page = signed_in(new_page, server, NEWCOMER, DESKTOP)
    welcome = page.get_by_role("heading", name="Welcome to Parley")
    expect(welcome).to_be_visible()
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        width, height = viewport["width"], viewport["height"]
        assert page_width(page) <= width
        pane = box(page.locator("#chat-main"))
        assert pane["x"] + pane["width"] == pytest.approx(width, abs=1), "an empty strip beside the pane"
        body, card = box(page.locator(".room-body")), box(page.locator(".welcome-card"))
        middle = body["y"] + body["height"] / 2
        assert abs(card["y"] + card["height"] / 2 - middle) <= 24, f"the card is off centre at {width} px"
        assert card["y"] >= body["y"] and card["y"] + card["height"] <= height
    text = page.locator(".welcome-card p").first
    expect(text).to_contain_text("from the Menu")
    assert "sidebar" not in text.inner_text()
    page.set_viewport_size(DESKTOP)
    expect(text).to_contain_text("in the sidebar")


def test_a_32_character_username_never_wraps_buttons_and_is_shown_whole_or_with_a_tooltip(server, new_page):
    """Issue 15.7: "Sign out" wrapped onto two lines; the name was cut short in the footer and the online list."""
    page = signed_in(new_page, server, LONG_USER, DESKTOP)
    open_room(page, LONG_ROOM)
    for viewport in (DESKTOP, {"width": 1024, "height": 768}, PHONE):
        page.set_viewport_size(viewport)
        open_drawer_if_phone(page)
        sign_out = page.get_by_role("button", name="Sign out", exact=True)
        expect(sign_out).to_be_visible()
        assert one_line(sign_out), f"Sign out wraps at {viewport['width']} px"
        footer = page.locator(".sidebar-bottom")
        fits_across(page, sign_out, int(box(footer)["x"] + box(footer)["width"]))
        name = page.locator("#me-name")
        whole_or_tooltip(name, LONG_USER)
        actions = box(page.locator(".me-actions"))
        assert box(name)["x"] + box(name)["width"] <= actions["x"], "the name runs under the buttons"
        if viewport["width"] > 1100:
            member = online_panel(page).locator(".member-name").filter(has_text=LONG_USER)
            whole_or_tooltip(member, LONG_USER)


def test_unread_and_mention_badges_meet_wcag_aa_in_light_and_dark_mode(server, new_page):
    """Issue 15.16: the unread badge was white on red at 3.72:1 for 12 px text."""
    page = signed_in(new_page, server, LONG_USER, DESKTOP)
    open_room(page, LONG_ROOM)
    server.post_message(server.tokens[FRIEND], OTHER_ROOM, f"@{LONG_USER} have a look", "badge-1")
    server.post_message(server.tokens[FRIEND], OTHER_ROOM, "and another thing", "badge-2")
    entry = room_button(page, OTHER_ROOM)
    unread = entry.locator(".badge:not(.mention-badge)")
    mention = entry.locator(".mention-badge")
    expect(unread).to_be_visible()
    expect(mention).to_be_visible()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for badge in (unread, mention):
            ratio, size = text_contrast(badge)
            assert ratio >= AA, f"{scheme}: {badge} text at {ratio:.2f}:1 ({size})"


def test_below_1100_px_the_online_count_opens_the_online_list(server, new_page):
    """Issue 15.17: below 1100 px only "N online" was shown, with no way to see who."""
    friend = signed_in(new_page, server, FRIEND, DESKTOP)
    open_room(friend, LONG_ROOM)
    page = signed_in(new_page, server, LONG_USER, {"width": 1024, "height": 768})
    open_room(page, LONG_ROOM)
    panel = online_panel(page)
    count = page.get_by_role("button", name="2 online", exact=True)
    expect(count).to_be_visible()
    for width in (1024, 390):
        page.set_viewport_size({"width": width, "height": 768})
        expect(panel).to_be_hidden()
        expect(count).to_have_attribute("aria-expanded", "false")
        # Keyboard: Enter opens it, focus moves in, Tab reaches its button, Escape closes it and goes back.
        count.focus()
        page.keyboard.press("Enter")
        expect(panel).to_be_visible()
        expect(count).to_have_attribute("aria-expanded", "true")
        expect(panel.get_by_text(FRIEND, exact=True)).to_be_visible()
        expect(panel.get_by_text(LONG_USER, exact=True)).to_be_visible()
        fits_across(page, panel, width)
        assert page_width(page) <= width
        page.keyboard.press("Tab")
        expect(panel.get_by_role("button", name="All members")).to_be_focused()
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        expect(count).to_be_focused()
        # Mouse: a click opens it, a click elsewhere closes it.
        count.click()
        expect(panel).to_be_visible()
        log(page).click(position={"x": 20, "y": 20})
        expect(panel).to_be_hidden()
    # Wide enough, the list is beside the conversation all the time.
    page.set_viewport_size({"width": 1280, "height": 768})
    expect(panel).to_be_visible()
    expect(nav(page)).to_be_visible()
