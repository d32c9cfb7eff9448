"""The OBS overlay in a real browser: the message being answered, on a transparent page.

The demo service runs as in `test_dashboard_browser.py` (whose helpers this
reuses); headless Chromium opens `/overlay` with a transparent default
background, as OBS's browser source does, and the test checks what the card
shows against the service's own log, keeps a screenshot for the README, counts
the transparent pixels in it, and kills and restarts the service to see the
page come back by itself.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url

from actors.i18n import catalogue
from actors.session.prompt import quoted
from tests.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    REPO,
    DevTools,
    browser_config,
    devtools_page_url,
    free_port,
    stop,
    wait_healthy,
)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium or chromium-browser executable on PATH")

KEPT = REPO / "docs" / "screenshots" / "overlay.png"

# What the overlay shows, read from its DOM (overlay.html sets the data- fields).
PROBE = """document.body && (() => {
  const d = document.body.dataset, now = document.getElementById('now');
  const amount = document.getElementById('amount');
  return {
    updates: Number(d.updates || 0),
    connected: d.connected === '1',
    shownId: d.shownId || '',
    fading: now.classList.contains('gone'),
    settled: now.getAnimations().length === 0,  // the entrance animation is over
    author: document.getElementById('author').textContent,
    text: document.getElementById('text').textContent,
    platform: document.getElementById('platform').textContent,
    amount: amount.classList.contains('hide') ? null : amount.textContent,
    next: [...document.querySelectorAll('#next-list li')].map((li) => li.textContent),
    heading: document.querySelector('#next h2').textContent,
    lang: document.documentElement.lang,
    background: getComputedStyle(document.body).backgroundColor,
    htmlBackground: getComputedStyle(document.documentElement).backgroundColor,
  };
})()"""


def on_screen(seen: dict[str, Any]) -> bool:
    """A message on the card, drawn in full (neither coming in nor fading out), and chat waiting."""
    shown = bool(seen.get("shownId")) and seen.get("settled") and not seen.get("fading")
    return shown and bool(seen.get("next"))


async def poll(devtools: DevTools, done, seconds: float) -> dict[str, Any]:
    """The page's state once `done` holds of it, or as it is after `seconds`."""
    seen: dict[str, Any] = {}
    with trio.move_on_after(seconds):
        while not done(seen):
            await trio.sleep(0.1)
            seen = await devtools.evaluate(PROBE) or {}
    return seen


async def probe_until(devtools: DevTools, done, what: str, seconds: float) -> dict[str, Any]:
    seen = await poll(devtools, done, seconds)
    assert done(seen), f"{what}: {seen}"
    return seen


def transparent_share(png: bytes) -> tuple[float, float]:
    """(fully transparent, fully opaque) shares of an 8-bit RGBA PNG's pixels,
    read with the standard library: IHDR, the inflated IDAT, the row filters undone."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (8, 6, 0), "expected 8-bit RGBA, not interlaced"
    raw, bpp, stride = zlib.decompress(idat), 4, width * 4
    previous = bytearray(stride)
    clear = opaque = 0
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        alphas = row[3::4]
        clear += alphas.count(0)
        opaque += alphas.count(255)
        previous = row
    return clear / (width * height), opaque / (width * height)


async def start_service(config: Path, log: Path) -> trio.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOUTUBE_", "CHZZK_"))}
    with log.open("ab") as out:
        return await trio.lowlevel.open_process(
            [sys.executable, "-m", "actors", str(config), "--log-format", "json"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def turn_started_line(log: Path, message_id: str) -> dict[str, Any]:
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "session.turn_started" and entry["id"] == message_id:
            return dict(entry)
    pytest.fail(f"no session.turn_started for {message_id} in the log")


async def test_the_overlay_shows_the_answered_message_on_a_transparent_page(tmp_path):
    port = free_port()
    config = browser_config(tmp_path, port)
    # Each turn stays on screen for a while, so chat queues up behind it.
    text = config.read_text(encoding="utf-8").replace("speaking_time = 0.3", "speaking_time = 2.5")
    config.write_text(text, encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    service_log = tmp_path / "service.log"
    profile = tmp_path / "chromium-profile"
    screenshot = tmp_path / "overlay.png"
    service = browser = None
    with (tmp_path / "chromium.log").open("wb") as browser_out:
        try:
            with trio.fail_after(40):
                service = await start_service(config, service_log)
                browser = await trio.lowlevel.open_process(
                    # English unless a page asks otherwise (the service's language is "auto").
                    [str(CHROMIUM), *CHROMIUM_FLAGS, "--lang=en-US", f"--user-data-dir={profile}", "about:blank"],
                    stdout=browser_out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                await wait_healthy(f"{base}/healthz", service, service_log)
                page_ws = await devtools_page_url(profile, browser)
                async with open_websocket_url(page_ws, max_message_size=64 * 2**20) as ws:
                    devtools = DevTools(ws)
                    await devtools.call("Runtime.enable")
                    # A 720p canvas, and no white behind the page: what OBS composites.
                    await devtools.call(
                        "Emulation.setDeviceMetricsOverride", width=1280, height=720, deviceScaleFactor=1, mobile=False
                    )
                    await devtools.call(
                        "Emulation.setDefaultBackgroundColorOverride", color={"r": 0, "g": 0, "b": 0, "a": 0}
                    )
                    await devtools.call("Page.navigate", url=f"{base}/overlay?next=3&reply=1")

                    seen = await probe_until(devtools, on_screen, "a turn on screen, chat waiting", 15)
                    # A paid message makes the better picture (the demo has some early on); not required.
                    paid = await poll(devtools, lambda s: on_screen(s) and bool(s.get("amount")), 6)
                    seen = paid if on_screen(paid) else seen
                    shot = await devtools.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
                    png = base64.b64decode(shot["data"])
                    await trio.Path(screenshot).write_bytes(png)

                    logged = turn_started_line(service_log, seen["shownId"])
                    # The session logs the prompt it answers: this author and text, quoted as JSON strings.
                    assert seen["platform"].lower() == logged["platform"], (seen, logged)
                    assert quoted(seen["author"]) in logged["text"], (seen, logged)
                    assert quoted(seen["text"]) in logged["text"], (seen, logged)
                    assert len(seen["next"]) <= 3, seen
                    assert (seen["lang"], seen["heading"]) == ("en", catalogue("en")["overlay.up_next"]), seen
                    for background in (seen["background"], seen["htmlBackground"]):
                        assert background in ("rgba(0, 0, 0, 0)", "transparent"), seen

                    clear, opaque = transparent_share(png)
                    assert clear > 0.3, f"only {clear:.0%} of the pixels are transparent"
                    assert opaque > 0.001, "nothing opaque: the card is not drawn"
                    KEPT.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(screenshot, KEPT)  # for the README

                    # Recovery: the service dies hard and comes back on the same port.
                    service.kill()
                    await service.wait()
                    await probe_until(devtools, lambda s: s.get("connected") is False, "noticed the service gone", 5)
                    before = (await devtools.evaluate(PROBE))["updates"]
                    service = await start_service(config, service_log)
                    await wait_healthy(f"{base}/healthz", service, service_log)
                    await probe_until(
                        devtools, lambda s: s.get("connected") and s["updates"] > before, "reconnected", 15
                    )

                    # The page's language: ?lang=ko puts the Korean catalogue in and sets <html lang>.
                    await devtools.call("Page.navigate", url=f"{base}/overlay?next=3&lang=ko")
                    korean = catalogue("ko")["overlay.up_next"]
                    seen = await probe_until(
                        devtools, lambda s: s.get("lang") == "ko" and s.get("connected"), "the Korean overlay", 10
                    )
                    assert seen["heading"] == korean, seen
                    errors = [e["params"] for e in devtools.events if e["method"] == "Runtime.exceptionThrown"]
                    assert not errors, errors
        finally:
            if browser is not None:
                await stop(browser, group=True)
            if service is not None:
                await stop(service)
