"""Voice and video calls in the web page (calls.js), with Chromium's fake camera and microphone (three fake
cameras, `device-count=3`), against a real `parley serve`: a DM video call where media flows both ways (RTP
bytes counted from getStats through `window.parleyCalls`), mute, hang-up and the call's lines in the history;
switching camera and microphone mid-call, remembered for the next call, and an ICE restart that keeps the
call; a callee on two devices (the other stops ringing), the ring sound and the desktop notification of a
hidden page, and a declined call; glare (both call at once: one call); a call between a page on
long-polling and one on WebSocket; a group call of three pages in a room. SQLite only (the store is tested
elsewhere)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FAKE_MEDIA, launch
from tests.browser.test_poll_web import POLLING, sign_up_via
from tests.browser.test_web_client import join, log, sign_in, sign_up

pytestmark = pytest.mark.browser

CONNECT = 20_000  # ms for ICE and DTLS on a loaded machine


@pytest.fixture(scope="module")
def browser():
    """Chromium with fake microphones and three fake cameras that it may use without asking. (Chromium's
    second fake camera, fake_device_1, gives Y16 depth frames that WebRTC does not encode: the test switches
    to the third, fake_device_2, an MJPEG camera like most webcams.)"""
    yield from launch([f"{f}=device-count=3" if f == "--use-fake-device-for-media-stream" else f for f in FAKE_MEDIA])


# Records every desktop notification the page makes (the permission is granted by the browser context), and
# whether the page closed it; `window.__noteObjs` keeps the notifications themselves, to click them.
RECORD_NOTIFICATIONS = """(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.__noteObjs = [];
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      this.__i = window.__notes.length;
      window.__notes.push({ title, body: options && options.body, closed: false });
      window.__noteObjs.push(this);
    }
    close() {
      window.__notes[this.__i].closed = true;
      super.close();
    }
  };
})();"""

# The page as when its tab is in the background: hidden and without focus.
HIDE_PAGE = """(() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  document.hasFocus = () => false;
  document.dispatchEvent(new Event("visibilitychange"));
})()"""


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


def state(page: Page) -> dict:
    return page.evaluate("window.parleyCalls.state()")


def ring_sound(page: Page) -> bool:
    return page.evaluate("window.parleyCalls.state().ringSound.playing")


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


def start_dm_call(alice: Page, bob: Page, media: str = "video") -> None:
    """Alice calls bob in their open DM, bob accepts, both connect."""
    alice.get_by_role("button", name=f"Start a {media} call").click()
    ring(bob).get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        wait_connected(page, 1)


def test_switching_camera_and_microphone_mid_call_and_an_ice_restart(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob})
    start_dm_call(alice, bob)
    cams = [d["label"] for d in alice.evaluate("window.parleyCalls.devices()") if d["kind"] == "videoinput"]
    assert cams == ["fake_device_0", "fake_device_1", "fake_device_2"], cams

    # The panel lists both cameras and the microphones, showing the ones in use.
    camera = panel(alice).get_by_label("Camera", exact=True)
    microphone = panel(alice).get_by_label("Microphone", exact=True)
    expect(camera.locator("option")).to_have_text(["fake_device_0", "fake_device_1", "fake_device_2"])
    expect(microphone.locator("option")).not_to_have_count(0)
    before = state(alice)["call"]
    assert before["local"]["video"]["label"] == "fake_device_0"
    assert [s["label"] for s in before["peers"][0]["senders"] if s["kind"] == "video"] == ["fake_device_0"]

    # Alice picks the other camera: the track sent to bob is the new one (same sender, no renegotiation),
    # her own tile shows it, and bob keeps receiving video.
    camera.select_option(label="fake_device_2")
    alice.wait_for_function(
        "window.parleyCalls.state().call.peers[0].senders"
        ".some((s) => s.kind === 'video' && s.label === 'fake_device_2')")
    now = state(alice)["call"]
    video = now["local"]["video"]
    assert video["label"] == "fake_device_2" and video["deviceId"] != before["local"]["video"]["deviceId"]
    assert video["readyState"] == "live"
    assert now["peers"][0]["iceUfrag"] == before["peers"][0]["iceUfrag"]  # replaceTrack: no new offer
    assert alice.evaluate("document.querySelector('.call-tile.me video').srcObject.getVideoTracks()[0].label") == \
        "fake_device_2"
    expect(camera).to_have_value(video["deviceId"])
    growing(bob, ("inboundVideoBytes",))

    # ...and another microphone: bob still hears her.
    other_mic = microphone.locator("option").nth(1).get_attribute("value")
    microphone.select_option(other_mic)
    alice.wait_for_function(
        f"window.parleyCalls.state().call.local.audio.deviceId === {other_mic!r}")
    growing(bob, ("inboundAudioBytes", "inboundAudioEnergy"))
    assert state(alice)["devices"] == {"videoinput": video["deviceId"], "audioinput": other_mic}

    # That microphone is unplugged (its track ends by itself): the page carries on with the default one,
    # and keeps her choice for when it comes back.
    alice.evaluate("document.querySelector('.call-tile.me video').srcObject.getAudioTracks()[0]"
                   ".dispatchEvent(new Event('ended'))")
    alice.wait_for_function("window.parleyCalls.state().call.local.audio.deviceId === 'default'")
    expect(microphone).to_have_value("default")
    growing(bob, ("inboundAudioEnergy",))
    assert state(alice)["devices"]["audioinput"] == other_mic

    # An ICE restart (what the page does when the network drops): new ICE credentials, renegotiated over
    # Parley; the call comes back to connected and media keeps flowing both ways.
    ufrags = [state(page)["call"]["peers"][0]["iceUfrag"] for page in (alice, bob)]
    assert alice.evaluate("window.parleyCalls.restartIce()") == 1
    alice.wait_for_function(
        f"(() => {{ const p = window.parleyCalls.state().call.peers[0]; return p.iceUfrag !== {ufrags[0]!r} && "
        "p.connectionState === 'connected' && p.restarts === 1; })()", timeout=CONNECT)
    bob.wait_for_function(  # bob answered the restart with new credentials of his own
        f"window.parleyCalls.state().call.peers[0].iceUfrag !== {ufrags[1]!r}", timeout=CONNECT)
    for page in (alice, bob):
        wait_connected(page, 1)
        expect(panel(page)).to_have_attribute("data-state", "connected")
        growing(page, ("inboundAudioBytes", "inboundVideoBytes"))
    panel(alice).get_by_role("button", name="Hang up").click()
    expect(panel(bob)).to_be_hidden()

    # The next call starts on the camera and microphone she chose.
    alice.get_by_role("button", name="Start a video call").click()
    alice.wait_for_function("(() => { const c = window.parleyCalls.state().call; return c && c.local.video; })()")
    local = state(alice)["call"]["local"]
    assert local["video"]["label"] == "fake_device_2" and local["audio"]["deviceId"] == other_mic
    expect(ring(bob)).to_be_visible()
    panel(alice).get_by_role("button", name="Hang up").click()
    expect(ring(bob)).to_have_count(0)


def test_callee_on_two_devices_ring_notification_and_a_declined_call(chat_server, new_page):
    alice = new_page()
    bob_desk, bob_phone = new_page(permissions=["notifications"]), new_page(permissions=["notifications"])
    for page in (bob_desk, bob_phone):
        page.add_init_script(RECORD_NOTIFICATIONS)
    sign_up(alice, chat_server, "alice")
    sign_up(bob_desk, chat_server, "bob")
    sign_in(bob_phone, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob_desk})
    room_button(bob_phone, "alice").click()
    expect(bob_phone.get_by_role("heading", name="alice", exact=True)).to_be_visible()
    # Bob's desk is left on another room, in a tab in the background.
    join(bob_desk, "lobby")
    bob_desk.evaluate(HIDE_PAGE)

    # Both of bob's devices ring, with sound; the hidden desk also shows a desktop notification, the phone
    # (in view) does not. He answers on his phone; his desk stops ringing and stays out of it.
    alice.get_by_role("button", name="Start a voice call").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_contain_text("alice is calling you (voice)")
        assert ring_sound(page)
        assert state(page)["ringSound"]["audio"] == "running"  # sound may play without a click (autoplay flag)
    bob_desk.wait_for_function("window.__notes.length === 1")
    assert bob_desk.evaluate("window.__notes") == [{"title": "Incoming call from alice", "body": "Voice call",
                                                   "closed": False}]
    assert bob_phone.evaluate("window.__notes") == []
    assert not ring_sound(alice)
    # Clicking the notification brings the call's conversation forward.
    bob_desk.evaluate("window.__noteObjs[0].onclick()")
    expect(bob_desk.get_by_role("heading", name="alice", exact=True)).to_be_visible()
    ring(bob_phone).get_by_role("button", name="Accept").click()
    expect(ring(bob_desk)).to_have_count(0)
    expect(ring(bob_phone)).to_have_count(0)
    for page in (bob_desk, bob_phone):
        page.wait_for_function("!window.parleyCalls.state().ringSound.playing")
    assert bob_desk.evaluate("window.__notes[0].closed")
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
    expect(ring(bob_desk)).to_be_visible()
    bob_desk.wait_for_function("window.__notes.length === 2")
    assert bob_desk.evaluate("window.__notes[1]") == {"title": "Incoming call from alice", "body": "Video call",
                                                      "closed": False}
    assert ring_sound(bob_desk) and ring_sound(bob_phone)
    ring(bob_desk).get_by_role("button", name="Decline").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_have_count(0)
        page.wait_for_function("!window.parleyCalls.state().ringSound.playing")
    assert bob_desk.evaluate("window.__notes[1].closed")
    expect(panel(alice)).to_be_hidden()
    expect(alice.get_by_text("bob declined the call").first).to_be_visible()
    for page in (alice, bob_phone):
        expect(log(page).get_by_text("Missed call").first).to_be_visible()

    # Alice gives up before bob answers: the ringing stops on both his devices and he is told he missed it.
    alice.get_by_role("button", name="Start a voice call").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_be_visible()
        assert ring_sound(page)
    panel(alice).get_by_role("button", name="Hang up").click()
    for page in (bob_desk, bob_phone):
        expect(ring(page)).to_have_count(0)
        expect(page.get_by_text("Missed call from alice")).to_be_visible()
        page.wait_for_function("!window.parleyCalls.state().ringSound.playing")
    assert bob_desk.evaluate("window.__notes.length === 3 && window.__notes[2].closed")


def click_at_the_same_moment(pages: list[Page], selector: str, delay_ms: int = 400) -> None:
    """Each page clicks `selector` at one wall-clock moment (the pages share the machine's clock)."""
    at = pages[0].evaluate("Date.now()") + delay_ms
    for page in pages:
        page.evaluate(f"setTimeout(() => document.querySelector({selector!r}).click(), {at} - Date.now())")


def test_glare_both_call_at_once_and_end_up_in_one_call(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob})
    dm = alice.evaluate("window.parleyCalls.state()")  # nothing yet
    assert dm["call"] is None and dm["ringing"] == []

    # Both press "video call" at the same moment. Either both invites cross (glare: the call with the lower
    # call_id is kept, the other side hangs its own up and answers), or one invite arrives first and the
    # other press answers it: either way one call, connected on both pages.
    click_at_the_same_moment([alice, bob], "#call-video")
    for page in (alice, bob):
        wait_connected(page, 1)
        expect(panel(page)).to_have_attribute("data-state", "connected", timeout=CONNECT)
        expect(ring(page)).to_have_count(0)
    ids = {page.evaluate("window.parleyCalls.state().call.id") for page in (alice, bob)}
    assert len(ids) == 1, ids
    (call_id,) = ids
    # The log of the DM shows that one call going on; a call given up in the race is over (missed).
    for page in (alice, bob):
        page.wait_for_function(
            f"(() => {{ const live = window.parleyCalls.state().log.filter((e) => !e.ended); "
            f"return live.length === 1 && live[0].id === {call_id!r}; }})()")
        assert len(page.evaluate("window.parleyCalls.state().log")) in (1, 2)
        assert not ring_sound(page)
    for page in (alice, bob):
        growing(page, ("inboundAudioBytes", "inboundVideoBytes"))
    panel(bob).get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(panel(page)).to_be_hidden()
        expect(log(page).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_have_count(1)

    # The race's other outcome, made certain: bob presses "video call" while alice's call rings on his
    # page (the button says so): that answers her call (no second call).
    alice.get_by_role("button", name="Start a voice call").click()
    expect(ring(bob)).to_be_visible()
    bob.get_by_role("button", name="Join the call with video").click()
    for page in (alice, bob):
        wait_connected(page, 1)
    assert alice.evaluate("window.parleyCalls.state().call.id") == bob.evaluate("window.parleyCalls.state().call.id")
    expect(ring(bob)).to_have_count(0)
    panel(alice).get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(panel(page)).to_be_hidden()
        expect(log(page).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_have_count(2)


def test_a_call_between_long_polling_and_websocket(chat_server, new_page):
    alice, bob = new_page(), new_page()
    sign_up_via(alice, chat_server.url + "/?transport=poll", "alice", POLLING)
    sign_up(bob, chat_server, "bob")
    open_dm(chat_server, "alice", {"alice": alice, "bob": bob})

    # Alice, polling, calls; bob, on WebSocket, answers: the signalling crosses both transports.
    alice.get_by_role("button", name="Start a voice call").click()
    expect(ring(bob)).to_contain_text("alice is calling you (voice)")
    ring(bob).get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        wait_connected(page, 1)
        expect(panel(page)).to_have_attribute("data-state", "connected", timeout=CONNECT)
    for page in (alice, bob):
        growing(page, ("inboundAudioBytes", "inboundAudioEnergy"))
    expect(alice.get_by_role("status", name="Connection")).to_have_text(POLLING)

    # Bob hangs up: alice hears of it through her poll; then she calls again and hangs up herself.
    panel(bob).get_by_role("button", name="Hang up").click()
    expect(panel(alice)).to_be_hidden()
    alice.get_by_role("button", name="Start a voice call").click()
    ring(bob).get_by_role("button", name="Accept").click()
    wait_connected(alice, 1)
    panel(alice).get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(panel(page)).to_be_hidden()
        expect(log(page).get_by_text(re.compile(r"^Call ended · \d+:\d\d$"))).to_have_count(2)


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
