"""Twitch through the whole service, as a streamer with a "Confidential" app
meets it: the config, the consent on the control surface (/twitch/auth, the
fake's authorize redirect, /twitch/callback with its state checked), the
tokens stored 0600, then chat reaching the VTuber; meanwhile the device code
was on offer too, and the first login to land wins. Real clock, real loopback."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import httpx
import trio
from fakes.twitch import FakeTwitch
from loopback import free_port, until_listening

from actors.app import Service
from actors.config import parse_config
from actors.statuslog import StatusLog

SECRET = "fake-secret"


def twitch_service(tmp_path: Path, fake: FakeTwitch, port: int) -> tuple[Service, io.StringIO]:
    config = parse_config(
        f"""
[session]
speaking_time = 0.02
[control]
enabled = true
port = {port}
[monitors.replay]
enabled = false
[monitors.twitch]
enabled = true
channel = "{fake.broadcaster.login}"
auth_base_url = "{fake.auth_url}"
helix_base_url = "{fake.helix_url}"
eventsub_url = "{fake.ws_url}"
token_file = "secrets/twitch.json"
retry_interval = 0.5
""",
        base_dir=tmp_path,
        env={"TWITCH_CLIENT_ID": fake.confidential_client_id, "TWITCH_CLIENT_SECRET": SECRET},
    )
    out = io.StringIO()
    return Service(config, StatusLog(out, fmt="json")), out


async def until(predicate, *, within: float = 10.0) -> None:
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - watching state that no event announces
            await trio.sleep(0.02)


async def test_the_consent_page_logs_in_then_chat_reaches_the_vtuber(tmp_path: Path) -> None:
    port = free_port()
    callback = f"http://localhost:{port}/twitch/callback"
    fake = FakeTwitch(ping_interval=None, confidential_secret=SECRET, redirect_uri=callback)
    async with trio.open_nursery() as outer:
        await outer.start(fake.serve)
        service, out = twitch_service(tmp_path, fake, port)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.run)
                await until_listening(port)
                async with httpx.AsyncClient() as browser:
                    status = (await browser.get(f"http://127.0.0.1:{port}/status")).json()["twitch"]
                    assert status["authorized"] is False
                    await until(lambda: service.platforms["twitch"].cursor.login is not None)  # the code is offered

                    forged = await browser.get(f"http://127.0.0.1:{port}/twitch/callback?code=stolen&state=forged")
                    assert forged.status_code == 400
                    start = await browser.get(f"http://127.0.0.1:{port}/twitch/auth")
                    assert start.status_code == 302
                    consent_url = httpx.URL(start.headers["location"])
                    assert str(consent_url).startswith(fake.auth_url + "authorize")
                    assert consent_url.params["redirect_uri"] == callback
                    consent = await browser.get(consent_url)
                    assert consent.status_code == 302
                    back = httpx.URL(consent.headers["location"])
                    answered = await browser.get(back.copy_with(host="127.0.0.1"))
                    assert answered.status_code == 200 and "Twitch connected" in answered.text, answered.text
                    again = await browser.get(back.copy_with(host="127.0.0.1"))
                    assert again.status_code == 400  # a state is good once

                token_file = tmp_path / "secrets" / "twitch.json"
                assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
                stored = json.loads(token_file.read_text())
                cursor = service.platforms["twitch"].cursor
                await until(lambda: cursor.live_since is not None)
                assert cursor.login is None  # the device code is withdrawn once logged in
                fake.chat("트위치에서 인사드려요", chatter=fake.korean_viewer)
                await until(lambda: "트위치에서 인사드려요" in out.getvalue())
                service.supervisor.stop()
        outer.cancel_scope.cancel()
    log = out.getvalue()
    assert '"session.turn_started"' in log
    for secret in (SECRET, stored["access_token"], stored["refresh_token"]):
        assert secret not in log
