"""The live dashboard in a real browser: the demo service, headless Chromium, live updates.

Chromium's `--dump-dom` with `--virtual-time-budget` or `--timeout` does not
wait for real network I/O (the dump comes after the first status), so the
test drives the browser over the DevTools protocol instead: it opens the page,
reads the DOM every quarter second until live updates have arrived, and takes
a screenshot. Skipped when no Chromium is installed (`.ci/run` installs it).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium or chromium-browser executable on PATH")

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--hide-scrollbars",
    "--window-size=1280,1000",
    "--remote-debugging-port=0",  # Chromium picks a port and writes it to the profile's DevToolsActivePort
)

# What the page shows, read from its DOM (dashboard.html sets these); null while it loads.
PROBE = """document.body && ({
  updates: Number(document.body.dataset.updates || 0),
  statusUpdates: Number(document.body.dataset.statusUpdates || 0),
  chatRows: document.querySelectorAll('#chat li.msg').length,
  dispatched: Number((document.getElementById('dispatched') || {}).textContent || 0),
  actors: document.querySelectorAll('#tree .node').length,
  chzzkLink: (() => {
    const box = document.getElementById('chzzk'), auth = document.getElementById('chzzk-auth');
    const shown = box && auth && !box.hidden && !auth.hidden;
    return shown ? document.getElementById('chzzk-link').getAttribute('href') : null;
  })(),
})"""


def live_enough(seen: dict[str, int]) -> bool:
    """A few status pushes, and chat with a dispatched message: the page is live."""
    return seen.get("statusUpdates", 0) >= 3 and seen.get("chatRows", 0) > 0 and seen.get("dispatched", 0) > 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_config(tmp_path: Path, port: int, extra: dict[tuple[str, str], str] | None = None) -> Path:
    """The shipped config.toml, sped up, with the control surface on `port`,
    and Chzzk enabled but not authorised (so it never calls out: it waits).
    The bundled demo is refused beside a live monitor, so the demo chat is
    played as a recording of its own that does not end the run."""
    shutil.copy(REPO / "actors" / "data" / "demo_chat.jsonl", tmp_path / "demo_chat.jsonl")
    wanted = {
        ("monitors.replay", "path"): '"demo_chat.jsonl"',
        ("monitors.replay", "ends_run"): "false",
        ("monitors.replay", "speed"): "20.0",
        ("session", "speaking_time"): "0.3",
        ("control", "port"): str(port),
        ("monitors.chzzk", "enabled"): "true",
        ("monitors.chzzk", "client_id"): '"dashboard-test"',
        ("monitors.chzzk", "client_secret"): '"dashboard-test"',
        **(extra or {}),
    }
    section, done, lines = "", set(), []
    for original in (REPO / "config.toml").read_text(encoding="utf-8").splitlines():
        line = original.strip()
        if line.startswith("["):
            section = line[1 : line.index("]")]
        key = line.split("=")[0].strip() if "=" in line else None
        if (section, key) in wanted:
            lines.append(f"{key} = {wanted[section, key]}")
            done.add((section, key))
        else:
            lines.append(original)
    assert done == set(wanted), f"config.toml no longer has {set(wanted) - done}"
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def tail(log: Path) -> str:
    return (await trio.Path(log).read_text(encoding="utf-8", errors="replace"))[-3000:]


async def wait_healthy(url: str, service: trio.Process, log: Path) -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        with trio.move_on_after(20):
            while True:
                assert service.poll() is None, f"the service exited early:\n{await tail(log)}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await trio.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 within 20 s:\n{await tail(log)}")


async def devtools_page_url(profile: Path, browser: trio.Process) -> str:
    """The DevTools WebSocket of the browser's first tab (Chromium writes its port to the profile)."""
    port_file = trio.Path(profile / "DevToolsActivePort")
    async with httpx.AsyncClient(timeout=2.0) as client:
        with trio.move_on_after(15):
            while True:
                assert browser.poll() is None, "chromium exited at start-up"
                if await port_file.exists() and (lines := (await port_file.read_text()).split()):
                    with contextlib.suppress(httpx.HTTPError):
                        targets = (await client.get(f"http://127.0.0.1:{lines[0]}/json/list")).json()
                        pages = [t for t in targets if t.get("type") == "page"]
                        if pages:
                            return str(pages[0]["webSocketDebuggerUrl"])
                await trio.sleep(0.1)
    pytest.fail("chromium's DevTools endpoint did not come up within 15 s")


class DevTools:
    """The few DevTools calls the test needs, one at a time; events are kept."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_message(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.get_message())
            if message.get("id") == call_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


async def stop(proc: trio.Process, *, group: bool = False) -> None:
    """Make sure a process we started is gone (and, for the browser, its helpers)."""
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, signal.SIGKILL)  # the group outlives a browser that already exited
        elif proc.poll() is None:
            proc.kill()
    with trio.CancelScope(shield=True), trio.move_on_after(10):
        await proc.wait()


@contextlib.asynccontextmanager
async def service_and_page(
    tmp_path: Path, config: Path, base: str, *args: str
) -> AsyncIterator[tuple[trio.Process, DevTools]]:
    """The service on `config` (its output in tmp_path/service.log, `args`
    added to its command line) and a headless Chromium with one blank page,
    English unless a page asks otherwise, its DevTools ready and reporting
    page errors once the service answers at `base`. Both are gone when the
    block ends, however it ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOUTUBE_", "CHZZK_", "TWITCH_"))}
    log, profile = tmp_path / "service.log", tmp_path / "chromium-profile"
    service = browser = None
    with log.open("wb") as out, (tmp_path / "chromium.log").open("wb") as browser_out:
        try:
            service = await trio.lowlevel.open_process(
                [sys.executable, "-m", "actors", str(config), *args],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            browser = await trio.lowlevel.open_process(
                [str(CHROMIUM), *CHROMIUM_FLAGS, "--lang=en-US", f"--user-data-dir={profile}", "about:blank"],
                stdout=browser_out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its helper processes go with it in `stop`
            )
            await wait_healthy(f"{base}/healthz", service, log)
            page_ws = await devtools_page_url(profile, browser)
            async with open_websocket_url(page_ws, max_message_size=64 * 2**20) as ws:
                devtools = DevTools(ws)
                await devtools.call("Runtime.enable")  # from now on, uncaught page errors are events
                yield service, devtools
        finally:
            if browser is not None:
                await stop(browser, group=True)
            if service is not None:
                await stop(service)


def page_errors(devtools: DevTools) -> list[dict[str, Any]]:
    return [e["params"] for e in devtools.events if e["method"] == "Runtime.exceptionThrown"]


async def sigterm(service: trio.Process) -> None:
    """Stop the service as Ctrl-C would, if it has not ended by itself."""
    if service.poll() is None:
        service.send_signal(signal.SIGTERM)
    with trio.move_on_after(15):
        await service.wait()


async def test_the_dashboard_shows_live_updates_in_a_browser(tmp_path):
    port = free_port()
    config = browser_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    screenshot = tmp_path / "dashboard.png"
    # The sped-up demo lasts about ten seconds: the browser starts alongside.
    with trio.fail_after(50):
        async with service_and_page(tmp_path, config, base) as (service, devtools):
            await devtools.call("Page.navigate", url=f"{base}/")
            seen: dict[str, int] = {}
            with trio.move_on_after(15):
                while not live_enough(seen):
                    await trio.sleep(0.25)
                    seen = await devtools.evaluate(PROBE) or {}
            assert seen.get("statusUpdates", 0) >= 2, seen
            assert seen.get("chatRows", 0) >= 1, seen
            assert seen.get("dispatched", 0) > 0, seen
            assert seen.get("actors", 0) >= 4, seen  # the tree: root, session, router, monitors, ...
            assert seen["updates"] > seen["statusUpdates"], seen  # fates and turns too
            assert seen.get("chzzkLink") == "/chzzk/auth", seen  # not authorised: the way to do it
            errors = page_errors(devtools)
            assert not errors, errors
            shot = await devtools.call("Page.captureScreenshot", format="png")
            png = base64.b64decode(shot["data"])
            await trio.Path(screenshot).write_bytes(png)
            assert png.startswith(b"\x89PNG")
            assert (await trio.Path(screenshot).stat()).st_size > 10_000

            # The demo may have run to its end already (exit 0 by itself); if not, stop it.
            await sigterm(service)
            assert service.returncode == 0, await tail(tmp_path / "service.log")


COCKPIT_PROBE = """document.body && ({
  statusUpdates: Number(document.body.dataset.statusUpdates || 0),
  pause: document.getElementById('pause').textContent,
  waiting: [...document.querySelectorAll('#pending li[data-state="waiting"]')].map((li) => li.dataset.id),
  pinned: [...document.querySelectorAll('#pending li[data-state="pinned"]')].map((li) => li.dataset.id),
  notice: document.getElementById('notice').textContent,
  latency: [...document.querySelectorAll('#latency-figures [data-platform]')].map((d) => d.dataset.platform),
  chatRows: document.querySelectorAll('#chat li.msg').length,
  history: Number(document.body.dataset.history || 0),
  now: document.getElementById('now').hidden ? null
    : [document.getElementById('now-author').textContent, document.getElementById('now-why').textContent],
})"""
KEPT = REPO / "docs" / "screenshots" / "dashboard.png"  # the README shows it
KEPT_KO = REPO / "docs" / "screenshots" / "dashboard-ko.png"  # and README.ko.md this one
KEPT_TWITCH = REPO / "docs" / "screenshots" / "twitch-login.png"  # the Twitch sections, both languages


async def probe_until(devtools: DevTools, done, what: str, seconds: float = 10) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with trio.move_on_after(seconds):
        while not done(seen):
            await trio.sleep(0.2)
            seen = await devtools.evaluate(COCKPIT_PROBE) or {}
    assert done(seen), f"{what}: {seen}"
    return seen


async def test_the_cockpit_steers_the_service_from_the_browser(tmp_path):
    """Pause, pin a waiting message, send a test message and resume, by
    clicking the dashboard: the pinned message is the next one answered,
    every action is logged with the page's origin, and the books balance."""
    port = free_port()
    config = browser_config(tmp_path, port)
    # At the recorded pace, so the waits on the screenshot are what they would be live.
    text = config.read_text(encoding="utf-8").replace("speaking_time = 0.3", "speaking_time = 1.5")
    text = text.replace("speed = 20.0", "speed = 1.0")
    config.write_text(text, encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    service_log = tmp_path / "service.log"
    with trio.fail_after(60):
        async with service_and_page(tmp_path, config, base, "--log-format", "json") as (service, devtools):
            await devtools.call("Page.navigate", url=f"{base}/")
            await probe_until(devtools, lambda s: s.get("statusUpdates", 0) >= 2, "the page went live")
            await devtools.evaluate("document.getElementById('pause').click()")
            await probe_until(devtools, lambda s: s.get("pause") == "Resume", "paused")
            seen = await probe_until(devtools, lambda s: len(s.get("waiting", [])) >= 3, "chat waits")
            chosen = seen["waiting"][-1]  # the lowest on the list
            button = f'#pending li[data-id="{chosen}"] button[data-action="pin"]'
            await devtools.evaluate(f"document.querySelector('{button}').click()")
            await probe_until(devtools, lambda s: s.get("pinned") == [chosen], "pinned")
            await devtools.evaluate(
                "document.getElementById('test-text').value = '테스트 메시지: can you hear me?';"
                "document.getElementById('test-form').requestSubmit()"
            )
            await probe_until(devtools, lambda s: s.get("notice") == "sent as if from chat", "the test line")
            shot = await devtools.call("Page.captureScreenshot", format="png")
            await trio.Path(tmp_path / "cockpit.png").write_bytes(base64.b64decode(shot["data"]))
            await devtools.evaluate("document.getElementById('pause').click()")
            await probe_until(devtools, lambda s: s.get("pause") == "Pause", "resumed")
            # What is being answered, and why it won (its score's parts).
            now = await probe_until(devtools, lambda s: bool(s.get("now") and s["now"][1]), "now answering")
            author, why = now["now"]
            assert author and any(part in why for part in ("mention", "question", "first message", "age")), why
            # Answers go on: the waits per platform show up (posted -> answer started).
            await probe_until(devtools, lambda s: len(s.get("latency", [])) >= 1, "the waits", 15)
            # A page opened now gets the history at once, not an empty chat list.
            await devtools.call("Page.reload")
            reopened = await probe_until(devtools, lambda s: s.get("statusUpdates", 0) >= 1, "reopened")
            assert reopened["history"] > 0 and reopened["chatRows"] > 0, reopened
            await devtools.evaluate("document.getElementById('pause').click()")  # still, for the picture
            await probe_until(devtools, lambda s: s.get("pause") == "Resume" and s.get("latency"), "paused")
            shot = await devtools.call("Page.captureScreenshot", format="png")
            await trio.Path(tmp_path / "dashboard.png").write_bytes(base64.b64decode(shot["data"]))
            # The README's picture: the cockpit half, down to the waits (the
            # actor tree below shows this run's temporary paths).
            bottom = await devtools.evaluate("document.getElementById('latency').getBoundingClientRect().bottom")
            clip = {"x": 0, "y": 0, "width": 1280, "height": int(bottom) + 12, "scale": 1}
            kept = await devtools.call("Page.captureScreenshot", format="png", clip=clip)
            KEPT.parent.mkdir(parents=True, exist_ok=True)
            KEPT.write_bytes(base64.b64decode(kept["data"]))
            # The same, in Korean, for README.ko.md.
            await devtools.call("Page.navigate", url=f"{base}/?lang=ko")
            await probe_until(devtools, lambda s: s.get("statusUpdates", 0) >= 1 and s.get("latency"), "in Korean")
            bottom = await devtools.evaluate("document.getElementById('latency').getBoundingClientRect().bottom")
            clip["height"] = int(bottom) + 12
            kept = await devtools.call("Page.captureScreenshot", format="png", clip=clip)
            KEPT_KO.write_bytes(base64.b64decode(kept["data"]))
            errors = page_errors(devtools)
            assert not errors, errors
            with trio.move_on_after(10):
                while True:  # its turn, in the log
                    if f'"id": "{chosen}"' in await tail(service_log):
                        break
                    await trio.sleep(0.2)
            await sigterm(service)
            assert service.returncode == 0, await tail(service_log)
    lines = [json.loads(line) for line in service_log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]
    actions = [line for line in lines if line["event"] == "control.action"]
    assert [a["action"] for a in actions] == ["pause", "pin", "test-message", "resume", "pause"]
    assert all(a["ok"] and a["origin"] == ascii(base) for a in actions), actions
    resumed = lines.index(actions[3])
    after = [line for line in lines[resumed:] if line["event"] == "session.turn_started"]
    assert after and after[0]["id"] == chosen  # the pinned message was answered next
    assert any(line.get("id") == "test-1" and line["event"].startswith("router.") for line in lines)
    assert lines[-1]["event"] == "service.stopped" and lines[-1]["balanced"] is True


LANGUAGE_PROBE = """(() => {
  const shown = {};
  for (const e of document.querySelectorAll('[data-i18n]')) shown[e.dataset.i18n] = e.textContent;
  return {
    lang: document.documentElement.lang,
    title: document.title,
    shown,
    titles: [...document.querySelectorAll('[data-i18n-title]')].map((e) => [e.dataset.i18nTitle, e.title]),
    placeholder: document.getElementById('test-text').placeholder,
    waitingButtons: [...document.querySelectorAll('#pending button')].map((b) => b.textContent),
    pause: document.getElementById('pause').textContent,
    notice: document.getElementById('notice').textContent,
    statusUpdates: Number(document.body.dataset.statusUpdates || 0),
    actorStatuses: [...document.querySelectorAll('#tree li > div.muted.small')].map((e) => e.textContent),
    chzzkProblem: document.getElementById('chzzk-problem').textContent,
  };
})()"""


def status_patterns(language: str) -> list[re.Pattern[str]]:
    """Every actor status this language can show, as a pattern (a
    placeholder matches any text); the bare-error one is left out."""
    from actors.i18n import catalogue

    patterns = []
    for key, template in catalogue(language).items():
        if key.startswith("status.") and key != "status.error":
            parts = re.split(r"\{\w+\}", template)
            patterns.append(re.compile(".+?".join(re.escape(part) for part in parts) + r"\Z", re.S))
    return patterns


async def test_switching_language_switches_every_visible_string(tmp_path):
    """The page in Korean and in English (?lang=, over the browser's
    Accept-Language): every labelled text, title and placeholder is the
    catalogue's, the controls answer in that language, and the switch link
    leads to the other one."""
    from actors.i18n import catalogue

    port = free_port()
    config = browser_config(tmp_path, port)
    config.write_text(
        config.read_text(encoding="utf-8").replace("speaking_time = 0.3", "speaking_time = 2.0"), encoding="utf-8"
    )
    base = f"http://127.0.0.1:{port}"
    with trio.fail_after(60):
        async with service_and_page(tmp_path, config, base) as (service, devtools):
            for language in ("ko", "en"):
                strings = {
                    k.removeprefix("dashboard."): v
                    for k, v in catalogue(language).items()
                    if k.startswith("dashboard.")
                }
                await devtools.call("Page.navigate", url=f"{base}/?lang={language}")
                seen: dict[str, Any] = {}
                with trio.move_on_after(10):
                    while not (seen.get("statusUpdates", 0) >= 1 and seen.get("waitingButtons")):
                        await trio.sleep(0.2)
                        seen = await devtools.evaluate(LANGUAGE_PROBE) or {}
                assert seen["lang"] == language and seen["title"] == strings["title"]
                # What each actor says of itself is in this language too.
                statuses = seen["actorStatuses"]
                assert len(statuses) >= 4, statuses  # replay, chzzk, router, session, control...
                for line in statuses:
                    assert any(p.match(line) for p in status_patterns(language)), (language, line)
                waiting_for_login = catalogue(language)["status.chzzk_not_yet"]
                assert any(waiting_for_login in line for line in statuses), statuses
                assert waiting_for_login in seen["chzzkProblem"] or not seen["chzzkProblem"], seen["chzzkProblem"]
                for key, shown in seen["shown"].items():
                    # the labelled texts the page did not change since (the pause button, live)
                    if key not in ("pause", "connecting", "no_answer", "first_status", "no_chat", "yt_poll"):
                        assert shown == strings[key], (language, key, shown)
                assert all(title == strings[key] for key, title in seen["titles"]), seen["titles"]
                assert seen["placeholder"] == strings["test_placeholder"]
                assert set(seen["waitingButtons"]) <= {strings["pin"], strings["drop"], strings["mute"]}
                assert seen["pause"] in (strings["pause"], strings["resume"])
                await devtools.evaluate("document.getElementById('skip').click()")
                answers = (
                    catalogue(language)["cockpit.skipping"],
                    catalogue(language)["cockpit.nothing_to_skip"],
                )
                with trio.move_on_after(5):
                    while seen.get("notice") not in answers:
                        await trio.sleep(0.1)
                        seen = await devtools.evaluate(LANGUAGE_PROBE) or {}
                assert seen["notice"] in answers, seen["notice"]
                shot = await devtools.call("Page.captureScreenshot", format="png")
                await trio.Path(tmp_path / f"dashboard-{language}.png").write_bytes(base64.b64decode(shot["data"]))
            errors = page_errors(devtools)
            assert not errors, errors
            await sigterm(service)


TWITCH_PROBE = """(() => ({
  shown: !document.getElementById('twitch').hidden,
  loginShown: !document.getElementById('twitch-login').hidden,
  url: document.getElementById('twitch-login-url').href,
  code: document.getElementById('twitch-code').textContent,
  live: document.getElementById('twitch-live').textContent,
}))()"""


@contextlib.asynccontextmanager
async def fake_twitch(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The Twitch fake, standalone as a streamer would try it, with the words it prints."""
    out = tmp_path / "twitch.log"
    with out.open("wb") as file:
        fake = await trio.lowlevel.open_process(
            [sys.executable, str(REPO / "tests" / "fakes" / "twitch.py"), "--port", "0"],
            stdout=file,
            stderr=subprocess.STDOUT,
        )
        try:
            with trio.fail_after(20):
                # Polling a file: no event says when a process has printed.
                while "auth_url=" not in (text := out.read_text(encoding="utf-8")):  # noqa: ASYNC110
                    await trio.sleep(0.1)
            words = dict(w.split("=", 1) for w in text.splitlines()[0].split() if "=" in w)
            yield words
        finally:
            await stop(fake)


async def test_the_twitch_box_shows_the_device_code_then_the_live_socket(tmp_path):
    """Twitch enabled without a token: the box shows where to log in and the
    code, as /status says them. With a token, the same box goes live and
    counts the fake's chat."""
    async with fake_twitch(tmp_path) as twitch:
        for phase in ("login", "live"):
            run = tmp_path / phase
            run.mkdir()
            port = free_port()
            section = "monitors.twitch"
            config = browser_config(
                run,
                port,
                {
                    (section, "enabled"): "true",
                    (section, "channel"): f'"{twitch["login"]}"',
                    (section, "client_id"): f'"{twitch["client_id"]}"',
                },
            )
            # The fake's addresses (settings config.toml leaves at their defaults, so not listed there).
            text = config.read_text(encoding="utf-8").replace(
                "[monitors.twitch]\n",
                f'[monitors.twitch]\nauth_base_url = "{twitch["auth_url"]}"\n'
                f'helix_base_url = "{twitch["helix_url"]}"\neventsub_url = "{twitch["ws_url"]}"\n',
            )
            config.write_text(text, encoding="utf-8")
            if phase == "live":
                token = {"access_token": twitch["access_token"], "refresh_token": twitch["refresh_token"]}
                token |= {"expires_at": 4e9, "token_type": "Bearer", "scope": "user:read:chat"}
                (run / ".twitch-token.json").write_text(json.dumps(token), encoding="utf-8")
            base = f"http://127.0.0.1:{port}"
            with trio.fail_after(60):
                async with service_and_page(run, config, base) as (service, devtools):
                    await devtools.call("Page.navigate", url=f"{base}/")
                    seen: dict[str, Any] = {}
                    with trio.move_on_after(15):
                        while not (seen.get("loginShown") if phase == "login" else "messages" in seen.get("live", "")):
                            await trio.sleep(0.2)
                            seen = await devtools.evaluate(TWITCH_PROBE) or {}
                    async with httpx.AsyncClient() as client:
                        status = (await client.get(f"{base}/status")).json()["twitch"]
                    if phase == "login":
                        code = status["login_code"]
                        assert seen["shown"] and seen["loginShown"], seen
                        assert (seen["url"], seen["code"]) == (code["url"], code["code"]), (seen, code)
                        assert not status["authorized"] and not status["live"]
                    else:
                        assert status["authorized"] and status["live"], status
                        assert seen["shown"] and not seen["loginShown"] and "live" in seen["live"], seen
                    box = await devtools.evaluate(
                        "(() => { const r = document.getElementById('twitch').getBoundingClientRect();"
                        " return {x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height}; })()"
                    )
                    clip = {k: float(box[k]) for k in ("x", "y", "width", "height")} | {"scale": 1}
                    shot = await devtools.call(
                        "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
                    )
                    (run / "twitch.png").write_bytes(base64.b64decode(shot["data"]))
                    if phase == "login":  # the README's picture of the device login
                        KEPT_TWITCH.write_bytes(base64.b64decode(shot["data"]))
                    errors = page_errors(devtools)
                    assert not errors, errors
                    await sigterm(service)
