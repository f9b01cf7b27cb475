"""Voice and video calls in the web page (calls.js), with Chromium's fake camera and microphone, against a
real `parley serve`: a DM video call where media flows both ways (RTP bytes counted from getStats through
`window.parleyCalls`), mute, hang-up and the call's lines in the history; a callee on two devices (the other
stops ringing) and a declined call; a group call of three pages in a room. SQLite only (the store is tested
elsewhere)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FAKE_MEDIA, launch
from tests.browser.test_web_client import join, log, sign_in, sign_up

pytestmark = pytest.mark.browser

CONNECT = 20_000  # ms for ICE and DTLS on a loaded machine


@pytest.fixture(scope="module")
def browser():
    """Chromium with a fake microphone and camera that it may use without asking."""
    yield from launch(FAKE_MEDIA)


def room_button(page: Page, label: str):
    return page.get_by_role("navigation", name="Your conversations").get_by_role(
        "button", name=re.compile(rf"^#?{re.escape(label)}\b"))


def open_dm(chat_server, starter: str, pages: dict[str, Page]) -> None:
    """A DM between the people of `pages`, opened on each page."""
    others = [u for u in pages if u != starter]
    status, _ = chat_server.call_status("POST", "/api/dms", {"users": others}, token=chat_server.login(starter))
    assert status in (200, 201)
    for user, page in pages.items():
        title = ", ".join(u for u in pages if u != user)
        button = room_button(page, title)
        expect(button).to_be_visible(timeout=25_000)
        button.click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def panel(page: Page):
    return page.get_by_role("region", name="Call")


def ring(page: Page):
    return page.get_by_role("alertdialog", name="Incoming call")


def stats(page: Page) -> list[dict]:
    return page.evaluate("window.parleyCalls.stats()")


def wait_connected(page: Page, peers: int) -> None:
    page.wait_for_function(
        f"(() => {{ const c = window.parleyCalls.state().call; return c && c.peers.length === {peers} && "
        "c.peers.every((p) => p.connectionState === 'connected'); })()",
        timeout=CONNECT,
    )


def growing(page: Page, keys: tuple[str, ...], seconds: float = 12.0) -> None:
    """Each of `keys` grows on every peer connection of the page, within `seconds`."""
    first = stats(page)
    deadline = time.monotonic() + seconds
    while True:
        time.sleep(0.5)
        now = stats(page)
        if len(now) == len(first) and all(n[k] > f[k] for n, f in zip(now, first, strict=True) for k in keys):
            return
        assert time.monotonic() < deadline, f"not growing {keys}: {first} -> {now}"


def test_dm_video_call_media_mute_hangup_and_history(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob})

    alice.get_by_role("button", name="Start a video call").click()
    expect(panel(alice)).to_be_visible()
    expect(panel(alice).get_by_role("status")).to_contain_text("Calling bob")
    expect(ring(bob)).to_contain_text("alice is calling you (video)")
    ring(bob).get_by_role("button", name="Accept").click()
    expect(ring(bob)).to_have_count(0)
    for page in (alice, bob):
        wait_connected(page, 1)
        expect(panel(page)).to_have_attribute("data-state", "connected", timeout=CONNECT)
    expect(panel(bob).locator(".call-tile[data-user='alice']")).to_be_visible()

    # Sound and pictures flow both ways.
    for page in (alice, bob):
        growing(page, ("inboundAudioBytes", "inboundVideoBytes", "outboundAudioBytes", "inboundAudioEnergy"))

    # Alice mutes: bob hears nothing from her any more (the audio energy he receives stops growing).
    panel(alice).get_by_role("button", name="Mute").click()
    expect(panel(alice).get_by_role("button", name="Unmute")).to_be_visible()
    time.sleep(1.0)  # what was already on the way arrives
    before = stats(bob)[0]["inboundAudioEnergy"]
    time.sleep(1.5)
    assert stats(bob)[0]["inboundAudioEnergy"] - before < 1e-4
    growing(alice, ("inboundAudioEnergy",))  # bob still speaks to her

    # Bob shares his screen in place of his camera: alice keeps receiving video.
    panel(bob).get_by_role("button", name="Share screen").click()
    expect(panel(bob).get_by_role("button", name="Stop sharing")).to_be_visible()
    growing(alice, ("inboundVideoBytes",))
    panel(bob).get_by_role("button", name="Stop sharing").click()
    expect(panel(bob).get_by_role("button", name="Share screen")).to_be_visible()

    # Alice hangs up: both pages leave the call; the history has the call's lines, with its duration.
    panel(alice).get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(panel(page)).to_be_hidden()
        expect(log(page).get_by_text("alice started a video call")).to_be_visible()
        expect(log(page).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_be_visible()
    assert alice.evaluate("window.parleyCalls.state().call") is None
    assert bob.evaluate("window.parleyCalls.state().call") is None


def test_callee_on_two_devices_and_a_declined_call(chat_server, new_page):
    alice, bob_desk, bob_phone = new_page(), new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob_desk, chat_server, "bob")
    sign_in(bob_phone, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob_desk})
    room_button(bob_phone, "alice").click()
    expect(bob_phone.get_by_role("heading", name="alice", exact=True)).to_be_visible()

    # Both of bob's devices ring; he answers on his phone; his desk stops ringing and stays out of it.
    alice.get_by_role("button", name="Start a voice call").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_contain_text("alice is calling you (voice)")
    ring(bob_phone).get_by_role("button", name="Accept").click()
    expect(ring(bob_desk)).to_have_count(0)
    expect(ring(bob_phone)).to_have_count(0)
    wait_connected(alice, 1)
    wait_connected(bob_phone, 1)
    expect(panel(bob_desk)).to_be_hidden()
    assert bob_desk.evaluate("window.parleyCalls.state().call") is None
    growing(alice, ("inboundAudioBytes",))
    panel(bob_phone).get_by_role("button", name="Hang up").click()
    expect(panel(alice)).to_be_hidden()
    expect(log(alice).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_be_visible()

    # The next call bob declines on his desk: alice is told, both his devices stop ringing, the log says so.
    alice.get_by_role("button", name="Start a video call").click()
    expect(ring(bob_phone)).to_be_visible()
    ring(bob_desk).get_by_role("button", name="Decline").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_have_count(0)
    expect(panel(alice)).to_be_hidden()
    expect(alice.get_by_text("bob declined the call").first).to_be_visible()
    for page in (alice, bob_phone):
        expect(log(page).get_by_text("Missed call").first).to_be_visible()



def test_group_call_of_three_in_a_room(chat_server, new_page):
    pages = {name: new_page() for name in ("alice", "bob", "carol")}
    for name, page in pages.items():
        sign_up(page, chat_server, name)
        join(page, "standup")
    alice, bob, carol = pages.values()

    alice.get_by_role("button", name="Start a video call").click()
    expect(panel(alice).get_by_role("status")).to_contain_text("waiting for others")
    for page in (bob, carol):
        expect(log(page).get_by_text("alice started a video call")).to_be_visible()
    log(bob).get_by_role("button", name="Join the video call").click()
    wait_connected(bob, 1)
    # Carol joins from the header (it offers to join the call going on): she connects to both.
    carol.get_by_role("button", name="Join the call with video").click()
    for page in pages.values():
        wait_connected(page, 2)
    for page in pages.values():
        growing(page, ("inboundAudioBytes", "inboundVideoBytes"))
    expect(panel(alice).locator(".call-tile")).to_have_count(3)

    # Carol leaves: the others stay connected to each other; the log says who came and went.
    panel(carol).get_by_role("button", name="Hang up").click()
    expect(panel(carol)).to_be_hidden()
    for page in (alice, bob):
        expect(panel(page).locator(".call-tile")).to_have_count(2)
        expect(log(page).get_by_text("carol left the call")).to_be_visible()
    wait_connected(alice, 1)
    panel(bob).get_by_role("button", name="Hang up").click()
    for page in pages.values():
        expect(panel(page)).to_be_hidden()
        expect(log(page).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_be_visible()
