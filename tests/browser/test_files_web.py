"""Files, images and voice messages in the web page (Chromium via Playwright, with its fake microphone)
against a real `parley serve`: what one person sends, the other sees, opens, downloads and plays back, and
it is all still there after a reload. The store is tested elsewhere, so this runs on SQLite only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import FAKE_MEDIA, launch
from tests.browser.test_web_client import join, log, sign_up

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def browser():
    """Chromium with a fake microphone and camera that it may use without asking."""
    yield from launch(FAKE_MEDIA)


def attach(page: Page, path: Path) -> None:
    page.locator("#file-input").set_input_files(str(path))


def test_an_image_a_file_and_a_voice_message_reach_the_other_page(chat_server, new_page, tmp_path):
    alice, bob = new_page(), new_page()
    sign_up(alice, chat_server, "alice")
    sign_up(bob, chat_server, "bob")
    join(alice, "media")
    join(bob, "media")

    # An image with the composer's text as its caption: bob sees the server's thumbnail, then the full image.
    picture = tmp_path / "sunset.png"
    Image.new("RGB", (800, 600), (240, 120, 30)).save(picture)
    alice.get_by_label("Message", exact=True).fill("the view from here")
    attach(alice, picture)
    image = log(bob).get_by_role("button", name="Open image sunset.png")
    expect(image.locator("img")).to_have_js_property("naturalWidth", 320)
    expect(log(bob).get_by_text("the view from here", exact=True)).to_be_visible()
    expect(alice.get_by_label("Message", exact=True)).to_have_value("")
    expect(log(alice).locator(".msg.pending")).to_have_count(0)
    image.click()
    full = bob.locator("#image-dialog img")
    expect(full).to_have_js_property("naturalWidth", 800)
    bob.locator("#image-dialog").get_by_role("button", name="Close").click()
    expect(full).to_be_hidden()

    # A plain file: its name and size, and a download of exactly its bytes.
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting at 10")
    attach(alice, notes)
    chip = log(bob).locator(".att-file")
    expect(chip).to_contain_text("notes.txt")
    expect(chip).to_contain_text("13 bytes")
    with bob.expect_download() as download:
        chip.get_by_role("button", name="Download notes.txt").click()
    assert Path(download.value.path()).read_text() == "meeting at 10"

    # An empty file is refused by the page before it is sent.
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    attach(alice, empty)
    expect(alice.get_by_text("empty.txt is empty.")).to_be_visible()

    # A voice message from the fake microphone: a cancelled recording sends nothing; a sent one plays back.
    record = alice.get_by_role("button", name="Record a voice message")
    record.click()
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"0:0[1-9]"))
    alice.get_by_role("button", name="Cancel", exact=True).click()
    expect(alice.get_by_label("Message", exact=True)).to_be_visible()
    record.click()
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"0:0[2-9]"))
    alice.get_by_role("button", name="Send voice message").click()
    voice = log(bob).locator(".att-voice")
    expect(voice).to_have_count(1)
    expect(voice).to_contain_text(re.compile(r"Voice message · 0:0[2-9]"))
    audio = voice.locator("audio")
    expect(audio).to_have_attribute("src", re.compile(r"^blob:"))
    played = audio.evaluate("""async (el) => {
        await el.play();
        await new Promise((resolve) => setTimeout(resolve, 700));
        el.pause();
        return el.currentTime;
    }""")
    assert played > 0.3, played

    # After a reload the history shows the three of them again, and nothing else was sent.
    bob.reload()
    expect(log(bob).locator(".att")).to_have_count(3)
    expect(log(bob).get_by_role("button", name="Open image sunset.png").locator("img")).to_have_js_property(
        "naturalWidth", 320)
    expect(log(alice).locator(".att")).to_have_count(3)
