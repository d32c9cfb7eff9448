"""The control surface with real clients: the whole service on loopback, a
WebSocket client speaking the seed's protocol, and plain HTTP."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio
import trio_websocket
from fakes.youtube import FakeYouTube
from loopback import free_port, until_listening

from actors.app import Service
from actors.chat import Author, ChatEvent, Kind, Platform
from actors.config import ConfigError, parse_config
from actors.statuslog import StatusLog
from supervision import ChildContext, ChildSpec, ChildState, Restart

EPOCH = datetime(2026, 11, 24, 1, tzinfo=UTC)


class Scripted:
    """A monitor that says `n` chat lines once `go` is set, one every 50 ms."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.go = trio.Event()

    def specs(self, service: Service) -> list[ChildSpec]:
        async def chat(ctx: ChildContext) -> None:
            ctx.started()
            outbox = ctx.hold(service.chat_send.clone())
            await self.go.wait()
            for i in range(self.n):
                when = EPOCH + timedelta(seconds=i)
                text = f"question {i} for you?"
                author = Author(f"a{i}", f"viewer{i}")
                now = trio.current_time()
                event = ChatEvent(Platform.YOUTUBE, f"m{i}", Kind.CHAT, author, text, None, when, received_at=now)
                await outbox.send(event)
                await trio.sleep(0.05)
            await ctx.stopping.wait()

        return [ChildSpec(id="youtube", target=chat, restart=Restart.PERMANENT)]


def service_for(
    tmp_path, port: int, extra: str = "", monitors=None, *, speaking_time: float = 0.02
) -> tuple[Service, io.StringIO]:
    config = parse_config(
        f"""
[router]
capacity = 50
settle = 0.0
[router.filters]
rate_per_minute = 0.0
[session]
speaking_time = {speaking_time}
[control]
enabled = true
port = {port}
push_every = 0.2
{extra}
""",
        base_dir=tmp_path,
        env={},
    )
    out = io.StringIO()
    kwargs = {} if monitors is None else {"monitors": monitors}
    return Service(config, StatusLog(out, fmt="json"), **kwargs), out


async def receive(ws: trio_websocket.WebSocketConnection, kind: str) -> dict:
    """The next message of `kind`, skipping pushes of other kinds."""
    with trio.fail_after(10):
        while True:
            message = json.loads(await ws.get_message())
            if message["type"] == kind:
                return message


async def test_the_seed_protocol_and_a_stopped_monitor_stays_stopped(tmp_path):
    port = free_port()
    script = Scripted(0)
    service, _ = service_for(tmp_path, port, monitors=script.specs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
            status = await receive(ws, "status")
            assert status["status"]["service"]["balanced"] is True

            await ws.send_message(json.dumps({"type": "chat-monitor-status"}))
            assert await receive(ws, "chat-monitor-status") == {
                "type": "chat-monitor-status",
                "enabled": True,
                "running": True,
                "platforms": {"youtube": True},
            }
            await ws.send_message(json.dumps({"type": "stop-chat-monitor", "platform": "youtube"}))
            assert await receive(ws, "chat-monitor-stopped") == {"type": "chat-monitor-stopped", "success": True}
            await trio.sleep(1.0)  # long enough for any restart to have happened
            monitors = service.supervisor.child_supervisor("monitors")
            assert monitors is not None
            youtube = monitors.snapshot().children[0]
            assert youtube.state is ChildState.STOPPED and youtube.restarts == 0  # not a failure
            await ws.send_message(json.dumps({"type": "chat-monitor-status"}))
            assert (await receive(ws, "chat-monitor-status"))["platforms"] == {"youtube": False}

            await ws.send_message(json.dumps({"type": "start-chat-monitor"}))
            started = await receive(ws, "chat-monitor-started")
            assert started == {"type": "chat-monitor-started", "success": True, "status": {"youtube": True}}

            # Mistakes get an error and the connection stays up.
            await ws.send_message("{not json")
            assert (await receive(ws, "chat-monitor-error"))["message"] == "not JSON"
            await ws.send_message(json.dumps({"type": "reboot-the-world"}))
            assert "unknown message type" in (await receive(ws, "chat-monitor-error"))["message"]
            await ws.send_message(json.dumps({"type": "stop-chat-monitor", "platform": "twitch"}))
            assert "no monitor 'twitch'" in (await receive(ws, "chat-monitor-error"))["message"]
            await ws.send_message(json.dumps({"type": "chat-monitor-status"}))
            assert (await receive(ws, "chat-monitor-status"))["running"] is True
        service.supervisor.stop()


async def test_chat_message_pushes_match_the_dispatched_messages_one_to_one(tmp_path):
    port = free_port()
    script = Scripted(12)
    service, out = service_for(tmp_path, port, monitors=script.specs)
    pushed: list[tuple[str, str]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
            script.go.set()
            with trio.move_on_after(5):
                while len(pushed) < 12:
                    message = json.loads(await ws.get_message())
                    if message["type"] == "chat-message":
                        pushed.append((message["author"], message["message"]))
                        assert message["platform"] == "youtube"
                        assert message["formatted_text"] == f'[YouTube] "{message["author"]}": "{message["message"]}"'
        service.supervisor.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    dispatched = [(line["author"], line["text"]) for line in lines if line["event"] == "router.dispatched"]
    assert len(dispatched) == 12
    assert pushed == dispatched  # the same messages, in the same order, each once


async def test_status_and_healthz_over_http(tmp_path):
    port = free_port()
    service, _ = service_for(tmp_path, port)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        async with httpx.AsyncClient() as client:
            status = (await client.get(f"http://127.0.0.1:{port}/status")).json()
            assert {"service", "tree", "pending", "youtube"} <= status.keys()
            assert [c["id"] for c in status["tree"]["children"]] == ["session", "router", "monitors", "control"]
            assert status["service"]["counts"]["received"] >= 0
            page = await client.get(f"http://127.0.0.1:{port}/")
            assert page.status_code == 200 and "<html" in page.text.lower()
        service.supervisor.stop()


async def test_status_says_plainly_that_the_youtube_quota_is_spent_and_until_when(tmp_path):
    """The API said quotaExceeded (another app on the same project, say): our
    own count is small, yet /status must show 0 left and the reset, and the
    monitor's status what it waits for, without a call to the API."""
    fake = FakeYouTube()
    port = free_port()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        youtube = f"""
[monitors.replay]
enabled = false
[monitors.youtube]
enabled = true
api_key = "test-key"
video_id = "{fake.video_id}"
api_base_url = "{fake.base_url}"
"""
        service, _ = service_for(tmp_path, port, extra=youtube)
        until = service.platforms["youtube"].cursor.quota.exhausted(datetime.now(UTC))
        nursery.start_soon(service.run)
        await until_listening(port)
        async with httpx.AsyncClient() as client:
            with trio.fail_after(10):
                while True:
                    yt = (await client.get(f"http://127.0.0.1:{port}/status")).json()["youtube"]
                    if yt["state"] == "quota_exhausted":
                        break
                    await trio.sleep(0.05)
        assert yt["left"] == 0 and yt["used"] == 0 and yt["exhausted"] is True
        assert yt["exhausted_until"] == yt["until"] == until.isoformat().replace("+00:00", "Z")
        monitors = service.supervisor.child_supervisor("monitors")
        assert monitors is not None
        text = next(c.status_text for c in monitors.snapshot().children if c.id == "youtube") or ""
        assert text.startswith(f"quota exhausted (0 of 10000 units left): waiting for the reset at {until:%H:%M} UTC")
        assert fake.calls == []  # it waits; it does not knock
        service.supervisor.stop()
        nursery.cancel_scope.cancel()


async def test_a_bad_origin_is_refused_and_the_dashboard_origin_is_not(tmp_path):
    port = free_port()
    service, _ = service_for(tmp_path, port)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        url = f"ws://127.0.0.1:{port}/ws"
        with pytest.raises(trio_websocket.HandshakeError):
            async with trio_websocket.open_websocket_url(url, extra_headers=[(b"origin", b"http://evil.example")]):
                pass
        own = f"http://127.0.0.1:{port}".encode()
        async with trio_websocket.open_websocket_url(url, extra_headers=[(b"origin", own)]) as ws:
            assert (await receive(ws, "status"))["type"] == "status"
        service.supervisor.stop()


async def test_a_token_is_checked_on_every_request(tmp_path):
    port = free_port()
    service, out = service_for(tmp_path, port, extra='token = "let-me-in-42"')
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        with trio.fail_after(10):
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        answer = await client.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.TransportError:
                        await trio.sleep(0.05)
                assert answer.status_code == 401
                ok = await client.get(
                    f"http://127.0.0.1:{port}/status", headers={"Authorization": "Bearer let-me-in-42"}
                )
                assert ok.status_code == 200
                assert (await client.get(f"http://127.0.0.1:{port}/?token=let-me-in-42")).status_code == 200
        with pytest.raises(trio_websocket.HandshakeError):
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws"):
                pass
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws?token=let-me-in-42") as ws:
            assert (await receive(ws, "status"))["type"] == "status"
        service.supervisor.stop()
    assert "let-me-in-42" not in out.getvalue()


def test_listening_beyond_loopback_needs_a_token():
    with pytest.raises(ConfigError, match=r"control.token: needed to listen on 0.0.0.0"):
        parse_config('[control]\nenabled = true\nhost = "0.0.0.0"', env={})
    parse_config('[control]\nenabled = true\nhost = "0.0.0.0"', env={"CONTROL_TOKEN": "t0ken"})
    with pytest.raises(ConfigError, match="12393 is Open-LLM-VTuber's port"):
        parse_config("[control]\nport = 12393", env={})


async def test_a_page_that_opens_late_gets_the_history_and_the_turn_in_progress(tmp_path):
    """The dashboard once opened to an empty chat list after 49 messages: a
    client now gets the latest fates and turns, in the order they happened,
    then the turn being answered; and every turn's start is pushed."""
    port = free_port()
    script = Scripted(6)
    service, out = service_for(tmp_path, port, monitors=script.specs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as early:
            script.go.set()
            started = await receive(early, "turn-started")
            assert started["platform"] == "youtube" and started["author"].startswith("viewer")
            assert started["text"].startswith("question") and started["amount"] is None
            with trio.fail_after(10):
                while True:  # every line answered (turns of 20 ms)
                    if service.ledger.dispatched == 6:
                        break
                    await trio.sleep(0.05)
        await trio.sleep(0.2)  # the last turn's end
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as late:
            await receive(late, "status")
            history = json.loads(await late.get_message())
            assert history["type"] == "history"
        service.supervisor.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    fated = [
        line["id"] for line in lines if line["event"].startswith("router.") and line["event"] != "router.step_failed"
    ]
    assert [f["id"] for f in history["fates"]] == [i for i in fated if i in {f["id"] for f in history["fates"]}]
    assert sorted(f["id"] for f in history["fates"]) == sorted(f"m{i}" for i in range(6))
    assert all(f["fate"] == "dispatched" for f in history["fates"])
    ended = [line["id"] for line in lines if line["event"] == "session.turn_ended"]
    assert [t["ids"][0] for t in history["turns"]] == ended
