"""The cockpit over the control WebSocket, on the whole service: pause,
pin, drop, mute, a test message, resume and skip, each changing what
happens next, each answered and logged, and the books balanced after all.
"""

from __future__ import annotations

import io
import json

import trio
import trio_websocket
from loopback import free_port, until_listening
from test_control import Scripted, receive, service_for

from actors.app import Service


def cockpit_service(tmp_path, port: int, script: Scripted) -> tuple[Service, io.StringIO]:
    """Turns of 30 s: one is in progress whenever the test looks (until skipped)."""
    return service_for(tmp_path, port, monitors=script.specs, speaking_time=30.0)


async def act(ws: trio_websocket.WebSocketConnection, **message: object) -> dict:
    await ws.send_message(json.dumps(message))
    return await receive(ws, "control-result")


async def turn_started(out: io.StringIO, seen: int) -> dict:
    """The next session.turn_started line after the first `seen` of them."""
    with trio.fail_after(10):
        while True:
            started = [json.loads(line) for line in out.getvalue().splitlines() if '"session.turn_started"' in line]
            if len(started) > seen:
                return started[seen]
            await trio.sleep(0.05)


async def test_the_streamer_steers_the_session_from_the_control_websocket(tmp_path):
    port = free_port()
    script = Scripted(8)
    service, out = cockpit_service(tmp_path, port, script)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
            paused = await act(ws, type="pause")
            assert paused["ok"] and paused["paused"] is True
            script.go.set()
            with trio.fail_after(5):
                while True:  # the script's 8 lines, polled: the ledger has no event to wait on
                    if service.ledger.received >= 8:
                        break
                    await trio.sleep(0.05)
            await trio.sleep(0.3)
            assert service.ledger.dispatched == 0  # paused: everything waits

            assert (await act(ws, type="pin", platform="youtube", id="m6"))["ok"]
            assert (await act(ws, type="drop", platform="youtube", id="m2"))["dropped"] == 1
            muted = await act(ws, type="mute", author_id="a4")
            assert muted["ok"] and muted["dropped"] == 1
            status = (await receive(ws, "status"))["status"]
            assert status["paused"] is True and status["muted"] == ["a4"]
            states = {p["id"]: p["state"] for p in status["pending"]}
            assert states["m6"] == "pinned" and "m2" not in states and "m4" not in states

            test = await act(ws, type="test-message", text="hello from the streamer", author="me")
            assert test["ok"] and test["platform"] == "test"

            # Mistakes are answered, the connection stays up.
            assert not (await act(ws, type="pin", platform="youtube", id="m2"))["ok"]  # dropped already
            bad = await act(ws, type="drop", platform="myspace", id="x")
            assert not bad["ok"] and "platform" in bad["message"]
            assert not (await act(ws, type="mute", author_id=""))["ok"]
            assert not (await act(ws, type="test-message", text="x" * 501))["ok"]
            assert not (await act(ws, type="skip"))["ok"]  # nothing is being answered
            await ws.send_message(json.dumps({"type": ["pause"]}))  # not a string: an error, not a crash
            assert "unknown message type" in (await receive(ws, "chat-monitor-error"))["message"]

            assert (await act(ws, type="resume"))["ok"]
            first = await turn_started(out, 0)
            assert first["id"] == "m6"  # the pinned one, first
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as late:
                # a page opened now sees what is being answered, before anything new happens
                answering = await receive(late, "turn-started")
                assert answering["ids"] == ["m6"] and answering["author"] == "viewer6"
            assert (await act(ws, type="skip"))["ok"]
            second = await turn_started(out, 1)  # the skip ended a 30 s turn at once
            assert second["id"] != "m6"
            # Paused again, and this one skipped: nothing runs, so the stop need not wait.
            assert (await act(ws, type="pause"))["ok"] and (await act(ws, type="skip"))["ok"]
        service.supervisor.stop()

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    fates = {(line.get("id"), line["event"], line.get("reason")) for line in lines}
    assert ("m2", "router.dropped", "streamer") in fates
    assert ("m4", "router.dropped", "blocked_author") in fates
    # the test line went through the router like any chat, and has its fate
    assert [line["event"] for line in lines if line.get("id") == "test-1" and line["event"].startswith("router.")]
    actions = [line for line in lines if line["event"] == "control.action"]
    assert [a["action"] for a in actions][:4] == ["pause", "pin", "drop", "mute"]
    assert all(a["origin"] == "script" for a in actions)
    ended = [line for line in lines if line["event"] == "session.turn_ended"]
    assert ended[0]["id"] == "m6" and ended[0]["outcome"] == "interrupted"
    assert any(line["event"] == "session.interrupted" and line.get("reason") == "skipped" for line in lines)
    assert service.ledger.balanced
