"""Chzzk through the whole service, as a streamer meets it: the config, the
OAuth consent on the control surface, the fake's consent redirect, the tokens
stored, then chat reaching the VTuber. Real clock, real loopback."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import httpx
import trio
from fakes.chzzk import FakeChzzk
from loopback import free_port, until_listening

from actors.app import Service
from actors.config import parse_config
from actors.statuslog import StatusLog
from supervision import ChildState


def chzzk_service(tmp_path: Path, fake: FakeChzzk, port: int, control: str = "") -> tuple[Service, io.StringIO]:
    config = parse_config(
        f"""
[session]
speaking_time = 0.02
[control]
enabled = true
port = {port}
{control}
[monitors.replay]
enabled = false
[monitors.chzzk]
enabled = true
api_base_url = "{fake.base_url}"
auth_url = "{fake.auth_url}"
token_file = "secrets/chzzk.json"
retry_interval = 0.5
""",
        base_dir=tmp_path,
        env={"CHZZK_CLIENT_ID": fake.client_id, "CHZZK_CLIENT_SECRET": fake.client_secret},
    )
    out = io.StringIO()
    return Service(config, StatusLog(out, fmt="json")), out


async def until(predicate, *, within: float = 10.0) -> None:
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - watching state that no event announces
            await trio.sleep(0.02)


async def status(port: int) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/status")).json()


async def test_the_oauth_flow_end_to_end_then_chat_reaches_the_vtuber(tmp_path: Path) -> None:
    fake = FakeChzzk(ping_interval=1.0, ping_timeout=2.0)
    port = free_port()
    stored: dict[str, str] = {}
    async with trio.open_nursery() as outer:
        await outer.start(fake.serve)
        service, out = chzzk_service(tmp_path, fake, port)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.run)
                stored.update(await consent_then_chat(service, fake, port, tmp_path))
                service.supervisor.stop()  # the nursery waits for the service to end
        outer.cancel_scope.cancel()
    log = out.getvalue()
    assert "₩1,000" in log and "치지직에서 인사드려요" in log
    for secret in (fake.client_secret, stored["access_token"], stored["refresh_token"]):
        assert secret not in log


async def consent_then_chat(service: Service, fake: FakeChzzk, port: int, tmp_path: Path) -> dict[str, str]:
    await until_listening(port)
    before = (await status(port))["chzzk"]
    assert before["authorized"] is False
    assert before["authorize_at"] == f"http://localhost:{port}/chzzk/auth"

    async with httpx.AsyncClient() as browser:
        # A forged callback is refused before any code is exchanged.
        forged = await browser.get(f"http://127.0.0.1:{port}/chzzk/callback?code=stolen&state=forged")
        assert forged.status_code == 400 and "state does not match" in forged.text
        assert fake.stats.code_grants == 0

        start = await browser.get(f"http://127.0.0.1:{port}/chzzk/auth")
        assert start.status_code == 302
        consent_url = httpx.URL(start.headers["location"])
        assert str(consent_url).startswith(fake.auth_url)
        assert consent_url.params["redirectUri"] == f"http://localhost:{port}/chzzk/callback"
        consent = await browser.get(consent_url)
        assert consent.status_code == 302
        back = httpx.URL(consent.headers["location"])
        assert back.params["state"] == consent_url.params["state"]
        callback = await browser.get(back.copy_with(host="127.0.0.1"))
        assert callback.status_code == 200 and "Chzzk connected" in callback.text
        # The same answer again is refused: a state is good once.
        again = await browser.get(back.copy_with(host="127.0.0.1"))
        assert again.status_code == 400

    token_file = tmp_path / "secrets" / "chzzk.json"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    stored = json.loads(token_file.read_text())
    await until(lambda: service.platforms["chzzk"].cursor.live_since is not None)
    fake.chat("치지직에서 인사드려요", nickname="민수")
    fake.donation(1000, "맛있는 거 사 드세요", nickname="후원자")
    await until(lambda: service.ledger.dispatched == 2)
    after = (await status(port))["chzzk"]
    assert after["authorized"] is True and after["live"] is True and after["emitted"] == 2
    assert after["subscribed"] == ["CHAT", "DONATION", "SUBSCRIPTION"]
    return stored


async def test_with_a_control_token_consent_needs_it_and_a_refusal_is_shown(tmp_path: Path) -> None:
    fake = FakeChzzk()
    port = free_port()
    async with trio.open_nursery() as outer:
        await outer.start(fake.serve)
        service, out = chzzk_service(tmp_path, fake, port, control='token = "control-secret"')
        assert service.platforms["chzzk"].auth is not None
        assert service.platforms["chzzk"].auth.s.authorize_page.endswith("/chzzk/auth?token=<your control token>")
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.run)
                async with httpx.AsyncClient() as browser:
                    with trio.fail_after(10):
                        while True:  # /healthz wants the token too
                            try:
                                url = f"http://127.0.0.1:{port}/healthz?token=control-secret"
                                if (await browser.get(url)).status_code == 200:
                                    break
                            except httpx.TransportError:
                                pass
                            await trio.sleep(0.05)
                    refused = await browser.get(f"http://127.0.0.1:{port}/chzzk/auth")
                    assert refused.status_code == 401 and "?token=" in refused.text
                    start = await browser.get(f"http://127.0.0.1:{port}/chzzk/auth?token=control-secret")
                    assert start.status_code == 302 and start.headers["referrer-policy"] == "no-referrer"
                    state = httpx.URL(start.headers["location"]).params["state"]
                    # The streamer clicks "cancel" on Chzzk's page: the error comes back, no code.
                    denied = await browser.get(
                        f"http://127.0.0.1:{port}/chzzk/callback?error=access_denied&state={state}"
                    )
                    assert denied.status_code == 400 and "access_denied" in denied.text
                assert fake.stats.code_grants == 0 and not service.platforms["chzzk"].auth.has_token
                service.supervisor.stop()
        outer.cancel_scope.cancel()
    assert "control-secret" not in out.getvalue()


async def test_consent_again_restarts_a_monitor_that_gave_up_on_a_refused_scope(tmp_path: Path) -> None:
    fake = FakeChzzk()
    port = free_port()
    access, refresh = fake.grant()
    token_file = tmp_path / "secrets" / "chzzk.json"
    token_file.parent.mkdir()
    token_file.write_text(json.dumps({"access_token": access, "refresh_token": refresh, "expires_at": 4e9}))
    async with trio.open_nursery() as outer:
        await outer.start(fake.serve)
        fake.fail_next("/open/v1/sessions/events/subscribe/chat", 403)  # the app lacked the chat scope
        service, _ = chzzk_service(tmp_path, fake, port)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.run)
                await until_listening(port)
                monitors = service.supervisor.child_supervisor("monitors")
                assert monitors is not None

                def chzzk_state() -> ChildState:
                    return next(c.state for c in monitors.snapshot().children if c.id == "chzzk")

                await until(lambda: chzzk_state() is ChildState.FAILED)
                # The streamer fixes the app's scopes and authorises again.
                async with httpx.AsyncClient() as browser:
                    start = await browser.get(f"http://127.0.0.1:{port}/chzzk/auth")
                    consent = await browser.get(start.headers["location"])
                    back = httpx.URL(consent.headers["location"]).copy_with(host="127.0.0.1")
                    assert (await browser.get(back)).status_code == 200
                await until(lambda: service.platforms["chzzk"].cursor.live_since is not None)
                assert chzzk_state() is ChildState.RUNNING
                service.supervisor.stop()
        outer.cancel_scope.cancel()
