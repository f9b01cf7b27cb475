"""The page as an installable web app that opens without the server (manifest, icons, service worker), and
emoji drawn by the page's own colour font on a machine without an emoji font (this one has none).

Asserted as a person would see it: after a reload with the server down, the app is there with its rooms and
says it is reconnecting (not the browser's error page), and connects by itself when the server is back; an
emoji in a message is drawn in colour, not as an empty box."""

import io
import json

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_rooms_web import room_button
from tests.browser.test_web_client import connection, join, log, send, sign_up
from tests.support import http

pytestmark = pytest.mark.browser


def test_the_manifest_icons_and_service_worker_are_served(chat_server):
    status, manifest = http("GET", chat_server.url + "/manifest.webmanifest")
    assert status == 200, manifest
    manifest = manifest if isinstance(manifest, dict) else json.loads(manifest)
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone" and manifest["name"] == "Parley"
    sizes = set()
    for icon in manifest["icons"]:
        status, _ = http("GET", chat_server.url + icon["src"])
        assert status == 200, icon
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes  # what browsers ask of an installable app
    status, worker = http("GET", chat_server.url + "/sw.js")
    assert status == 200 and "__SHELL__" not in worker and "__VERSION__" not in worker
    assert '"/static/app.js"' in worker and '"/static/fonts/twemoji.woff2"' in worker and '"/"' in worker


def test_the_app_opens_while_the_server_is_down_and_connects_when_it_is_back(chat_server, new_page):
    page = new_page()
    sign_up(page, chat_server, "offline_olga")
    join(page, "kitchen")
    send(page, "before the outage")
    # the worker has installed and controls the page (it claims open pages when it activates)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)

    chat_server.stop()
    page.reload()  # without the worker: the browser's "This site can't be reached"
    expect(connection(page)).to_have_text("Reconnecting…", timeout=15_000)
    expect(room_button(page, "kitchen")).to_be_visible()

    chat_server.start()
    expect(connection(page)).to_have_text("Connected", timeout=30_000)
    expect(log(page).get_by_text("before the outage")).to_be_visible()


def test_emoji_are_drawn_in_colour_without_a_system_emoji_font(chat_server, new_page):
    page = new_page()
    sign_up(page, chat_server, "emoji_emma")
    join(page, "party")
    send(page, "🎉🎉🎉🎉")
    text = log(page).locator(".msg-text").filter(has_text="🎉").first
    expect(text).to_be_visible()
    page.wait_for_function("document.fonts.check('15px \"Parley Emoji\"', '🎉')")
    page.evaluate("document.fonts.ready")
    shot = Image.open(io.BytesIO(text.screenshot())).convert("RGB")
    coloured = sum(1 for r, g, b in shot.get_flattened_data() if max(r, g, b) - min(r, g, b) > 80)
    assert coloured > 50, f"{coloured} coloured pixels: the emoji are not drawn in colour"
