"""The Twitch fake itself (tests/fakes/twitch.py), checked with plain httpx and trio-websocket, not with the
client it is meant to test.

Tests that need time to pass run on pytest-trio's autojump MockClock: a 30-second reconnect grace or a
10-second subscribe deadline takes no real time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trio
import trio.testing
from fakes.twitch import DEVICE_GRANT, NOTICE_KEYS, FakeTwitch, badge
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

CHAT_MESSAGE_FIELDS = {
    "broadcaster_user_id",
    "broadcaster_user_login",
    "broadcaster_user_name",
    "chatter_user_id",
    "chatter_user_login",
    "chatter_user_name",
    "message_id",
    "message",
    "message_type",
    "badges",
    "cheer",
    "color",
    "reply",
    "channel_points_custom_reward_id",
    "channel_points_animation_id",
    "source_broadcaster_user_id",
    "source_broadcaster_user_login",
    "source_broadcaster_user_name",
    "source_message_id",
    "source_badges",
    "is_source_only",
}
NOTIFICATION_FIELDS = {
    "broadcaster_user_id",
    "broadcaster_user_login",
    "broadcaster_user_name",
    "chatter_user_id",
    "chatter_user_login",
    "chatter_user_name",
    "chatter_is_anonymous",
    "color",
    "badges",
    "system_message",
    "message_id",
    "message",
    "notice_type",
    "source_broadcaster_user_id",
    "source_broadcaster_user_login",
    "source_broadcaster_user_name",
    "source_message_id",
    "source_badges",
    "is_source_only",
}
FRAGMENT_FIELDS = {"type", "text", "cheermote", "emote", "mention"}


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeTwitch:
    fake = FakeTwitch(ping_interval=None)
    await nursery.start(fake.serve)
    return fake


@pytest.fixture
async def api(fake: FakeTwitch) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        yield client


def helix(token: str, client_id: str = "fake-client-id") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Client-Id": client_id}


async def recv(ws: WebSocketConnection) -> dict[str, Any]:
    return json.loads(await ws.get_message())


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[tuple[WebSocketConnection, dict[str, Any]]]:
    """A socket past its welcome; yields it and the welcome's session object."""
    async with open_websocket_url(url) as ws:
        welcome = await recv(ws)
        assert welcome["metadata"]["message_type"] == "session_welcome"
        yield ws, welcome["payload"]["session"]


def chat_body(session_id: str, sub_type: str = "channel.chat.message", **condition: str) -> dict[str, Any]:
    return {
        "type": sub_type,
        "version": "1",
        "condition": condition or {"broadcaster_user_id": "1971641", "user_id": "1971641"},
        "transport": {"method": "websocket", "session_id": session_id},
    }


async def subscribe(api: httpx.AsyncClient, token: str, session_id: str, **kwargs: Any) -> httpx.Response:
    return await api.post("/helix/eventsub/subscriptions", json=chat_body(session_id, **kwargs), headers=helix(token))


async def closed_code(ws: WebSocketConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.get_message()
    return closed.value.reason.code


async def no_message(ws: WebSocketConnection, seconds: float) -> bool:
    with trio.move_on_after(seconds):
        await ws.get_message()
        return False
    return True


# ------------------------------------------------------------------------- OAuth


async def test_device_flow_pending_then_approved_then_spent(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    started = await api.post("/oauth2/device", data={"client_id": "fake-client-id", "scopes": "user:read:chat"})
    assert started.status_code == 200
    device = started.json()
    assert set(device) == {"device_code", "expires_in", "interval", "user_code", "verification_uri"}
    assert (device["expires_in"], device["interval"]) == (1800, 5)
    assert device["verification_uri"] == f"{fake.base_url}/activate?public=true&device-code={device['user_code']}"
    poll = {"client_id": "fake-client-id", "device_code": device["device_code"], "grant_type": DEVICE_GRANT}

    pending = await api.post("/oauth2/token", data=poll | {"scopes": "user:read:chat"})
    assert (pending.status_code, pending.json()) == (400, {"status": 400, "message": "authorization_pending"})
    fake.approve(device["user_code"], "streamer")
    granted = await api.post("/oauth2/token", params=poll)  # a bodyless POST with a query string, as T-API
    assert granted.status_code == 200
    token = granted.json()
    assert set(token) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert (token["scope"], token["token_type"], token["expires_in"]) == (["user:read:chat"], "bearer", 14400)
    spent = await api.post("/oauth2/token", data=poll)
    assert (spent.status_code, spent.json()["message"]) == (400, "invalid device code")
    unknown = await api.post("/oauth2/token", data=poll | {"device_code": "nope"})
    assert unknown.json() == {"status": 400, "message": "invalid device code"}

    # The misspelled parameter yields a scopeless grant, not an error (§1.2 trap).
    typo = (await api.post("/oauth2/device", data={"client_id": "fake-client-id", "scope": "user:read:chat"})).json()
    fake.approve(typo["user_code"], "streamer")
    scopeless = await api.post("/oauth2/token", data=poll | {"device_code": typo["device_code"]})
    assert scopeless.json()["scope"] == []
    assert (await api.post("/oauth2/device", data={"client_id": "who"})).json() == {
        "status": 400,
        "message": "invalid client",
    }


async def test_device_flow_strict_switches(autojump_clock: trio.testing.MockClock, fake: FakeTwitch) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as api:

        async def start() -> tuple[dict[str, Any], dict[str, str]]:
            device = (await api.post("/oauth2/device", data={"client_id": "fake-client-id", "scopes": "x"})).json()
            return device, {
                "client_id": "fake-client-id",
                "device_code": device["device_code"],
                "grant_type": DEVICE_GRANT,
            }

        async def poll(form: dict[str, str]) -> str:
            return (await api.post("/oauth2/token", data=form)).json()["message"]

        fake.strict_slow_down = True
        device, form = await start()
        assert await poll(form) == "authorization_pending"
        await trio.sleep(1)
        assert await poll(form) == "slow_down"
        await trio.sleep(10)  # the interval is now 10 s, counted from the refused poll
        assert await poll(form) == "authorization_pending"
        assert fake.stats.slow_downs == 1

        fake.strict_slow_down = False
        device, form = await start()
        fake.deny(device["user_code"])
        assert await poll(form) == "invalid device code"
        fake.strict_access_denied = True
        assert await poll(form) == "access_denied"

        device, form = await start()
        await trio.sleep(1801)
        assert await poll(form) == "invalid device code"
        fake.strict_expired_token = True
        assert await poll(form) == "expired_token"


async def test_refresh_tokens_rotate_and_are_single_use(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    _, refresh = fake.grant()
    form = {"grant_type": "refresh_token", "client_id": "fake-client-id", "client_secret": "None"}
    first = await api.post("/oauth2/token", data=form | {"refresh_token": refresh})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != refresh
    reused = await api.post("/oauth2/token", data=form | {"refresh_token": refresh})
    assert (reused.status_code, reused.json()) == (400, {"status": 400, "message": "Invalid refresh token"})
    assert (fake.stats.refreshes, fake.stats.refresh_reuse) == (1, 1)

    fake.reject_refresh = True
    refused = await api.post("/oauth2/token", data=form | {"refresh_token": rotated})
    assert refused.json()["message"] == "Invalid refresh token"
    fake.reject_refresh = False  # the refused token was not spent
    assert (await api.post("/oauth2/token", data=form | {"refresh_token": rotated})).status_code == 200
    assert fake.stats.refresh_rejected == 1


async def test_validate_and_revoke(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeTwitch(access_token_ttl=60, ping_interval=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with httpx.AsyncClient(base_url=fake.base_url) as api:
            access, refresh = fake.grant()
            ok = await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {access}"})
            assert ok.json() == {
                "client_id": "fake-client-id",
                "login": "streamer",
                "scopes": ["user:read:chat"],
                "user_id": "1971641",
                "expires_in": 60,
            }
            await trio.sleep(30)
            bearer = await api.get("/oauth2/validate", headers={"Authorization": f"Bearer {access}"})
            assert bearer.json()["expires_in"] == 30
            app = await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {fake.app_token()}"})
            assert set(app.json()) == {"client_id", "scopes", "expires_in"}
            await trio.sleep(31)
            late = await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {access}"})
            assert (late.status_code, late.json()) == (401, {"status": 401, "message": "invalid access token"})
            assert fake.validate_times == [0.0, 30.0, 30.0, 61.0]

            fresh, fresh_refresh = fake.grant()
            revoked = await api.post("/oauth2/revoke", data={"client_id": "fake-client-id", "token": fresh})
            assert revoked.status_code == 200
            assert (await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {fresh}"})).status_code == 401
            form = {"grant_type": "refresh_token", "client_id": "fake-client-id", "refresh_token": fresh_refresh}
            assert (await api.post("/oauth2/token", data=form)).status_code == 400
            again = await api.post("/oauth2/revoke", data={"client_id": "fake-client-id", "token": "nope"})
            assert again.json() == {"status": 400, "message": "Invalid token"}
            kept, _ = fake.grant("viewer32")
            fake.revoke_user("viewer32")
            assert (await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {kept}"})).status_code == 401
            other, _ = fake.grant()
            fake.expire_access_tokens()
            assert (await api.get("/oauth2/validate", headers={"Authorization": f"OAuth {other}"})).status_code == 401
            assert refresh
        nursery.cancel_scope.cancel()


async def test_authorization_code_flow_for_a_confidential_app(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    query = {
        "response_type": "code",
        "client_id": "fake-confidential-id",
        "redirect_uri": "http://localhost:17563",
        "scope": "user:read:chat",
        "state": "xyz",
    }
    consent = await api.get("/oauth2/authorize", params=query)
    assert consent.status_code == 302
    back = parse_qs(urlsplit(consent.headers["location"]).query)
    assert back["state"] == ["xyz"]
    form = {
        "client_id": "fake-confidential-id",
        "client_secret": "fake-secret",
        "code": back["code"][0],
        "grant_type": "authorization_code",
        "redirect_uri": "http://localhost:17563",
    }
    assert (await api.post("/oauth2/token", data=form | {"client_secret": "bad"})).status_code == 403
    token = await api.post("/oauth2/token", params=form)
    assert token.status_code == 200
    assert token.json()["scope"] == ["user:read:chat"]
    assert (await api.post("/oauth2/token", data=form)).json()["message"] == "Invalid authorization code"
    # Confidential refresh checks the secret.
    refresh = {"grant_type": "refresh_token", "client_id": "fake-confidential-id", "refresh_token": ""}
    refresh["refresh_token"] = token.json()["refresh_token"]
    assert (await api.post("/oauth2/token", data=refresh)).json()["message"] == "invalid client secret"
    assert (await api.post("/oauth2/token", data=refresh | {"client_secret": "fake-secret"})).status_code == 200

    fake.authorize_denies = True
    denied = await api.get("/oauth2/authorize", params=query)
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    wrong_uri = await api.get("/oauth2/authorize", params=query | {"redirect_uri": "http://evil"})
    assert wrong_uri.status_code == 400


# ------------------------------------------------------------------------- Helix


async def test_helix_auth_rate_limit_and_users(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    me = await api.get("/helix/users", headers=helix(access))
    assert me.status_code == 200
    assert [u["login"] for u in me.json()["data"]] == ["streamer"]
    assert set(me.json()["data"][0]) >= {"id", "login", "display_name", "type", "broadcaster_type", "created_at"}
    assert me.headers["ratelimit-limit"] == "800"
    assert me.headers["ratelimit-remaining"] == "799"
    assert int(me.headers["ratelimit-reset"]) > 1_600_000_000
    some = await api.get("/helix/users?login=viewer32&login=nobody&id=5550001", headers=helix(access))
    assert {u["display_name"] for u in some.json()["data"]} == {"viewer32", "민수"}

    missing = await api.get("/helix/users", headers={"Client-Id": "fake-client-id"})
    assert missing.status_code == 401
    assert missing.json() == {"error": "Unauthorized", "status": 401, "message": "OAuth token is missing"}
    mismatch = await api.get("/helix/users", headers=helix(access, "other"))
    assert mismatch.json()["message"] == "Client ID and OAuth token do not match"
    assert (await api.get("/helix/users", headers=helix("bogus"))).json()["message"] == "Invalid OAuth token"

    fake.exhaust_rate_limit()
    limited = await api.get("/helix/users", headers=helix(access))
    assert limited.status_code == 429
    assert limited.headers["ratelimit-remaining"] == "0"
    assert "ratelimit-reset" in limited.headers


async def test_subscribe_list_and_delete(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (_, session):
        created = await subscribe(api, access, session["id"])
        assert created.status_code == 202, created.text
        body = created.json()
        assert (body["total"], body["total_cost"], body["max_total_cost"]) == (1, 0, 10)
        sub = body["data"][0]
        assert sub["status"] == "enabled"
        assert sub["cost"] == 0
        assert sub["transport"]["session_id"] == session["id"]
        assert set(sub["transport"]) == {"method", "session_id", "connected_at"}
        assert sub["condition"] == {"broadcaster_user_id": "1971641", "user_id": "1971641"}
        await subscribe(api, access, session["id"], sub_type="channel.chat.notification")

        listed = await api.get("/helix/eventsub/subscriptions", headers=helix(access))
        assert listed.json()["data"][0]["id"] == sub["id"]
        assert listed.json()["pagination"] == {}
        fake.page_size = 1
        page = (await api.get("/helix/eventsub/subscriptions", headers=helix(access))).json()
        assert len(page["data"]) == 1
        rest = await api.get(
            "/helix/eventsub/subscriptions", params={"after": page["pagination"]["cursor"]}, headers=helix(access)
        )
        assert rest.json()["data"][0]["type"] == "channel.chat.notification"
        typed = await api.get(
            "/helix/eventsub/subscriptions", params={"type": "channel.chat.message"}, headers=helix(access)
        )
        assert len(typed.json()["data"]) == 1

        path = "/helix/eventsub/subscriptions"
        assert (await api.delete(path, params={"id": sub["id"]}, headers=helix(access))).status_code == 204
        assert (await api.delete(path, params={"id": sub["id"]}, headers=helix(access))).status_code == 404
        assert (await api.delete(path, headers=helix(access))).status_code == 400
        # The CLI-compatible alias.
        assert (await api.get("/eventsub/subscriptions", headers=helix(access))).json()["total"] == 1


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ("app_token", 401, "must specify a user access token if the transport method is WebSocket"),
        ("webhook", 400, "The value in the transport.method field is not valid"),
        ("stale", 400, "websocket transport session does not exist or has already disconnected"),
        ("bad_type", 400, "The combination of values in the type and version fields is not valid"),
        ("no_condition", 400, "missing or invalid condition"),
        ("other_reader", 403, "subscription missing proper authorization"),
        ("no_scope", 403, "subscription missing proper authorization"),
        ("banned", 403, "subscription missing proper authorization"),
        ("duplicate", 409, "subscription already exists"),
        ("fault", 503, "Service Unavailable"),
    ],
)
async def test_subscribe_errors(
    fake: FakeTwitch, api: httpx.AsyncClient, change: str, status: int, message: str
) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (_, session):
        body = chat_body(session["id"])
        token = access
        if change == "app_token":
            token = fake.app_token("fake-client-id")
        elif change == "webhook":
            body["transport"] = {"method": "webhook", "callback": "https://example.com", "secret": "s" * 10}
        elif change == "stale":
            body["transport"]["session_id"] = "AgoQnotasession"
        elif change == "bad_type":
            body["version"] = "2"
        elif change == "no_condition":
            body["condition"] = {"broadcaster_user_id": "1971641"}
        elif change == "other_reader":
            body["condition"]["user_id"] = "2914196"
        elif change == "no_scope":
            token, _ = fake.grant(scopes=["user:read:email"])
        elif change == "banned":
            fake.banned_readers.add("1971641")
        elif change == "duplicate":
            assert (await subscribe(api, access, session["id"])).status_code == 202
        elif change == "fault":
            fake.fail_next("/helix/eventsub", 503)
        answer = await api.post("/helix/eventsub/subscriptions", json=body, headers=helix(token))
        assert answer.status_code == status
        assert answer.json() == {"error": answer.reason_phrase, "status": status, "message": message}
        assert "ratelimit-remaining" in answer.headers


async def test_three_transports_per_user(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with trio.open_nursery() as nursery:
        sockets = []
        for _ in range(4):
            ws = await nursery.start(_hold_socket, fake.ws_url)
            sockets.append(ws)
        ids = [session["id"] for _, session in sockets]
        for session_id in ids[:3]:
            assert (await subscribe(api, access, session_id)).status_code == 202
        fourth = await subscribe(api, access, ids[3])
        assert (fourth.status_code, fourth.json()["message"]) == (429, "number of websocket transports limit exceeded")
        # Another user's transports do not count.
        bot, _ = fake.grant("chatbot")
        assert (await subscribe(api, bot, ids[3], broadcaster_user_id="1971641", user_id="2914196")).status_code == 202
        nursery.cancel_scope.cancel()


async def _hold_socket(url: str, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    async with connected(url) as pair:
        task_status.started(pair)
        await trio.sleep_forever()


# --------------------------------------------------------------------- WebSocket


async def test_welcome_then_4003_without_a_subscription(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch
) -> None:
    async with connected(fake.ws_url) as (ws, session):
        assert set(session) == {"id", "status", "connected_at", "keepalive_timeout_seconds", "reconnect_url"}
        assert (session["status"], session["keepalive_timeout_seconds"], session["reconnect_url"]) == (
            "connected",
            10,
            None,
        )
        assert session["connected_at"].endswith("Z")
        assert len(session["connected_at"].split(".")[1]) == 10  # nanoseconds + Z
        start = trio.current_time()
        # No keepalive comes first: the deadline (10 s) and the keepalive (10 s) coincide, the close wins.
        assert await closed_code(ws) == 4003
        assert trio.current_time() - start == pytest.approx(10.0, abs=0.01)
    assert fake.sessions()[0].close_code == 4003


async def test_keepalives_after_silence_and_clamping(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url + "?keepalive_timeout_seconds=30") as (ws, session):
        assert session["keepalive_timeout_seconds"] == 30
        assert (await subscribe(api, access, session["id"])).status_code == 202
        start = trio.current_time()
        await trio.sleep(20)
        fake.chat("resets the timer")
        assert (await recv(ws))["metadata"]["message_type"] == "notification"
        keepalive = await recv(ws)
        assert keepalive["metadata"]["message_type"] == "session_keepalive"
        assert keepalive["payload"] == {}
        assert set(keepalive["metadata"]) == {"message_id", "message_type", "message_timestamp"}
        assert trio.current_time() - start == pytest.approx(50.0, abs=0.01)
        fake.set_keepalives(False)
        assert await no_message(ws, 100)
        assert fake.live_sessions()[0].id == session["id"]  # silent, not closed
    for asked, got in (("1", 10), ("9000", 600), ("abc", 10)):
        async with connected(f"{fake.ws_url}?keepalive_timeout_seconds={asked}") as (_, session):
            assert session["keepalive_timeout_seconds"] == got
    fake.min_keepalive = 1
    async with connected(fake.ws_url + "?keepalive_timeout_seconds=2") as (_, session):
        assert session["keepalive_timeout_seconds"] == 2


async def test_inbound_frames_close_4001_and_disable_subscriptions(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (ws, session):
        sub = (await subscribe(api, access, session["id"])).json()["data"][0]
        await ws.send_message("hello?")
        assert await closed_code(ws) == 4001
    assert fake.stats.inbound_frames == 1
    listed = (await api.get("/helix/eventsub/subscriptions", headers=helix(access))).json()
    assert listed["data"][0]["id"] == sub["id"]
    assert listed["data"][0]["status"] == "websocket_received_inbound_traffic"
    assert "disconnected_at" in listed["data"][0]["transport"]
    assert listed["total"] == 0
    stale = await subscribe(api, access, session["id"])
    assert stale.json()["message"] == "websocket transport session does not exist or has already disconnected"
    await trio.sleep(3601)
    assert (await api.get("/helix/eventsub/subscriptions", headers=helix(access))).json()["data"] == []


async def test_server_pings_are_answered_by_the_client(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeTwitch(ping_interval=5, pong_timeout=3, subscribe_deadline=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with connected(fake.ws_url) as (ws, _):
            assert (await recv(ws))["metadata"]["message_type"] == "session_keepalive"  # at 10 s: pings don't reset
            assert trio.current_time() == pytest.approx(10.0, abs=0.01)
            await trio.sleep(1)
            assert (fake.stats.pings, fake.stats.pongs) == (2, 2)
            assert fake.live_sessions()
        nursery.cancel_scope.cancel()


async def test_drop_and_close_codes(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (ws, session):
        await subscribe(api, access, session["id"])
        assert fake.drop(rst=True) == 1
        assert await closed_code(ws) == 1006
    async with connected(fake.ws_url) as (ws, other):
        await subscribe(api, access, other["id"])
        fake.close(4000)
        assert await closed_code(ws) == 4000
    statuses = [s["status"] for s in fake.subscriptions()]
    assert statuses == ["websocket_network_error", "websocket_internal_error"]


async def test_session_reconnect_hand_off(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url + "?keepalive_timeout_seconds=20") as (old, first):
        sub_id = (await subscribe(api, access, first["id"])).json()["data"][0]["id"]
        fake.chat("before")
        start = trio.current_time()
        assert fake.reconnect() != []
        fake.chat("between")
        assert (await recv(old))["payload"]["event"]["message"]["text"] == "before"
        reconnect = await recv(old)
        assert reconnect["metadata"]["message_type"] == "session_reconnect"
        moving = reconnect["payload"]["session"]
        assert (moving["id"], moving["status"], moving["keepalive_timeout_seconds"]) == (
            first["id"],
            "reconnecting",
            None,
        )
        url = moving["reconnect_url"]
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(fake.ws_url + "?") and set(query) == {"challenge", "id"}
        assert (await recv(old))["payload"]["event"]["message"]["text"] == "between"  # old delivers meanwhile
        async with connected(url) as (new, second):
            assert second["id"] != first["id"]
            assert second["keepalive_timeout_seconds"] == 20  # inherited
            fake.chat("after")
            note = await recv(new)
            assert note["payload"]["event"]["message"]["text"] == "after"
            assert note["payload"]["subscription"]["id"] == sub_id
            assert note["payload"]["subscription"]["transport"]["session_id"] == second["id"]
            # The old socket gets nothing more, only 4004 30 s after the reconnect message.
            assert await closed_code(old) == 4004
            assert trio.current_time() - start == pytest.approx(30.0, abs=0.01)
            assert fake.stats.notifications == 3  # nothing lost, nothing doubled
            listed = (await api.get("/helix/eventsub/subscriptions", headers=helix(access))).json()["data"]
            assert [(s["id"], s["status"], s["transport"]["session_id"]) for s in listed] == [
                (sub_id, "enabled", second["id"])
            ]
            view = fake.session(second["id"])
            assert (view.reconnected_from, view.posts, fake.stats.posts_after_reconnect) == (first["id"], 0, 0)
            # A wrong client re-POSTs: observable.
            assert (await subscribe(api, access, second["id"])).status_code == 409
            assert fake.stats.posts_after_reconnect == 1
            fake.chat("still")
            assert (await recv(new))["metadata"]["message_type"] == "session_keepalive"  # 20 s passed
            assert (await recv(new))["payload"]["event"]["message"]["text"] == "still"
        # The challenge was spent.
        async with open_websocket_url(url) as reused:
            assert await closed_code(reused) == 4007


async def test_bad_reconnects_get_4007(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with open_websocket_url(fake.ws_url + "?challenge=nope&id=x") as ws:
        assert await closed_code(ws) == 4007
    # Closing the old socket before the new one connects (pyTwitchAPI#286).
    async with connected(fake.ws_url) as (old, session):
        await subscribe(api, access, session["id"])
        (url,) = fake.reconnect()
        await old.aclose()
    async with open_websocket_url(url) as ws:
        assert await closed_code(ws) == 4007
    assert fake.stats.invalid_reconnects == 2
    assert fake.subscriptions()[0]["status"] == "websocket_disconnected"
    # A reconnect nobody follows: 4004 and the subscriptions fail.
    async with connected(fake.ws_url) as (old, session):
        await subscribe(api, access, session["id"])
        fake.reconnect()
        assert await closed_code(old) == 4004
    assert fake.subscriptions()[1]["status"] == "websocket_failed_to_reconnect"


async def test_revocation_is_sent_once(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (ws, session):
        sub_id = (await subscribe(api, access, session["id"])).json()["data"][0]["id"]
        assert fake.revoke(sub_id, "chat_user_banned")
        assert not fake.revoke(sub_id)
        revocation = await recv(ws)
        assert revocation["metadata"]["message_type"] == "revocation"
        assert revocation["metadata"]["subscription_type"] == "channel.chat.message"
        assert revocation["payload"]["subscription"]["status"] == "chat_user_banned"
        assert fake.chat("unseen") and await no_message(ws, 0.2)


# --------------------------------------------------------------------- payloads


@asynccontextmanager
async def reading(fake: FakeTwitch, api: httpx.AsyncClient, *types: str) -> AsyncIterator[WebSocketConnection]:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (ws, session):
        for sub_type in types:
            assert (await subscribe(api, access, session["id"], sub_type=sub_type)).status_code == 202
        yield ws


async def test_chat_message_payload(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    async with reading(fake, api, "channel.chat.message") as ws:
        event = fake.chat("Hi chat", badges=[badge("moderator"), badge("subscriber", "12", "16")])
        note = await recv(ws)
        metadata = note["metadata"]
        assert set(metadata) == {
            "message_id",
            "message_type",
            "message_timestamp",
            "subscription_type",
            "subscription_version",
        }
        assert (metadata["subscription_type"], metadata["subscription_version"]) == ("channel.chat.message", "1")
        assert len(metadata["message_timestamp"]) == len("2023-07-19T14:56:51.634234626Z")
        subscription = note["payload"]["subscription"]
        assert set(subscription) == {"id", "status", "type", "version", "condition", "transport", "created_at", "cost"}
        got = note["payload"]["event"]
        assert got == event
        assert set(got) == CHAT_MESSAGE_FIELDS
        assert got["message"] == {
            "text": "Hi chat",
            "fragments": [{"type": "text", "text": "Hi chat"} | dict.fromkeys(["cheermote", "emote", "mention"])],
        }
        assert (got["cheer"], got["reply"], got["source_broadcaster_user_id"]) == (None, None, None)

        cheer = fake.chat("Cheer100 Kappa hi", emotes={"Kappa": "25"}, chatter="chatbot")
        got = (await recv(ws))["payload"]["event"]
        assert got["cheer"] == {"bits": 100}
        kinds = [f["type"] for f in got["message"]["fragments"]]
        assert kinds == ["cheermote", "text", "emote", "text"]
        assert all(set(f) == FRAGMENT_FIELDS for f in got["message"]["fragments"])
        assert got["message"]["fragments"][0]["cheermote"] == {"prefix": "cheer", "bits": 100, "tier": 100}
        assert got["message"]["fragments"][2]["emote"]["format"] == ["static"]

        fake.chat("hello back", reply_to=cheer, chatter="minsu_kr")
        got = (await recv(ws))["payload"]["event"]
        assert got["reply"]["parent_message_id"] == cheer["message_id"]
        assert got["reply"]["thread_user_login"] == "chatbot"
        assert got["message"]["fragments"][0]["type"] == "mention"
        assert got["chatter_user_name"] == "민수"

        fake.chat("from next door", source="partner")
        got = (await recv(ws))["payload"]["event"]
        assert got["source_broadcaster_user_login"] == "partner"
        assert got["source_message_id"] and got["is_source_only"] is False


async def test_notification_payloads(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    async with reading(fake, api, "channel.chat.notification") as ws:
        fake.notification("sub", sub_tier="2000")
        got = (await recv(ws))["payload"]["event"]
        assert set(got) == NOTIFICATION_FIELDS | set(NOTICE_KEYS)
        assert got["sub"] == {"sub_tier": "2000", "is_prime": False, "duration_months": 1}
        assert all(got[key] is None for key in NOTICE_KEYS if key != "sub")

        fake.notification("resub", cumulative_months=7)
        assert (await recv(ws))["payload"]["event"]["resub"]["cumulative_months"] == 7

        events = fake.community_gift(2, gifter="viewer32")
        bundle = (await recv(ws))["payload"]["event"]
        assert bundle["notice_type"] == "community_sub_gift"
        assert bundle["community_sub_gift"]["total"] == 2
        singles = [(await recv(ws))["payload"]["event"] for _ in range(2)]
        assert [s["notice_type"] for s in singles] == ["sub_gift", "sub_gift"]
        assert {s["sub_gift"]["community_gift_id"] for s in singles} == {bundle["community_sub_gift"]["id"]}
        assert len({s["sub_gift"]["recipient_user_id"] for s in singles}) == 2
        assert len(events) == 3

        fake.community_gift(1, anonymous=True)
        anonymous = (await recv(ws))["payload"]["event"]
        assert anonymous["chatter_is_anonymous"] is True
        await recv(ws)

        fake.notification("raid", viewer_count=42)
        assert (await recv(ws))["payload"]["event"]["raid"]["viewer_count"] == 42
        fake.notification("charity_donation")
        assert (await recv(ws))["payload"]["event"]["charity_donation"]["amount"] == {
            "value": 500,
            "decimal_place": 2,
            "currency": "USD",
        }
        fake.notification("charity_donation", decimal_key="decimal_places")
        assert set((await recv(ws))["payload"]["event"]["charity_donation"]["amount"]) == {
            "value",
            "decimal_places",
            "currency",
        }
        fake.notification("shared_chat_sub")
        shared = (await recv(ws))["payload"]["event"]
        assert shared["shared_chat_sub"]["sub_tier"] == "1000"
        assert shared["sub"] is None
        assert shared["source_broadcaster_user_id"] == "9990001"
        fake.notification("watch_streak", streak_count=3)
        assert (await recv(ws))["payload"]["event"]["watch_streak"] == {"streak_count": 3}


async def test_moderation_payloads(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    types = ("channel.chat.message_delete", "channel.chat.clear_user_messages", "channel.chat.clear")
    async with reading(fake, api, *types) as ws:
        fake.message_delete("abc", "viewer32")
        deleted = await recv(ws)
        assert deleted["metadata"]["subscription_type"] == "channel.chat.message_delete"
        assert deleted["payload"]["event"] == {
            "broadcaster_user_id": "1971641",
            "broadcaster_user_login": "streamer",
            "broadcaster_user_name": "Streamer",
            "target_user_id": "4145994",
            "target_user_login": "viewer32",
            "target_user_name": "viewer32",
            "message_id": "abc",
        }
        fake.clear_user_messages("chatbot")
        assert (await recv(ws))["payload"]["event"]["target_user_login"] == "chatbot"
        fake.clear()
        assert set((await recv(ws))["payload"]["event"]) == {
            "broadcaster_user_id",
            "broadcaster_user_login",
            "broadcaster_user_name",
        }


async def test_duplicates_and_malformed_frames(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    async with reading(fake, api, "channel.chat.message") as ws:
        event = fake.chat("once")
        first = await recv(ws)
        assert fake.resend(event) == 1
        same = await recv(ws)
        assert same == first
        assert fake.resend(event, new_message_id=True) == 1
        renamed = await recv(ws)
        assert renamed["metadata"]["message_id"] != first["metadata"]["message_id"]
        assert renamed["payload"]["event"]["message_id"] == event["message_id"]
        assert fake.send_raw('{"metadata": ') == 1
        assert await ws.get_message() == '{"metadata": '
        fake.send_message_type("mystery", {"x": 1})
        mystery = await recv(ws)
        assert (mystery["metadata"]["message_type"], mystery["payload"]) == ("mystery", {"x": 1})


async def test_observables(fake: FakeTwitch, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(fake.ws_url) as (_, session):
        await subscribe(api, access, session["id"])
        view = fake.session(session["id"])
        assert view.posts == 1
        assert view.subscribe_latency is not None and view.subscribe_latency >= 0
        assert len(view.subscriptions) == 1
        assert fake.subscribed("channel.chat.message")
        await fake.wait_until(lambda: fake.stats.subscribe_accepted == 1, timeout=1)


# --------------------------------------------------------------------- standalone


def test_standalone_prints_its_urls_and_plays_a_script() -> None:
    script = Path(__file__).parent / "fakes" / "twitch.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--script"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        assert fields["client_id"] == "fake-client-id"

        async def read_one() -> dict[str, Any]:
            headers = helix(fields["access_token"])
            async with httpx.AsyncClient() as api, connected(fields["ws_url"]) as (ws, session):
                body = chat_body(session["id"])
                url = fields["helix_url"] + "eventsub/subscriptions"
                assert (await api.post(url, json=body, headers=headers)).status_code == 202
                with trio.fail_after(5):
                    return await recv(ws)

        first = trio.run(read_one)
        assert first["payload"]["event"]["message"]["text"] == "Hi chat! first time here"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert output.startswith("stats ")
    assert json.loads(output.removeprefix("stats "))["subscribe_accepted"] == 1


async def test_the_conformance_script_plays_around_a_reconnect(
    autojump_clock: trio.testing.MockClock, fake: FakeTwitch, api: httpx.AsyncClient
) -> None:
    """What tests/conformance/run_twitchapi.py expects of --script conformance, with a raw client."""
    from fakes.twitch import CONFORMANCE_END, CONFORMANCE_TYPES, _script_conformance

    sent: list[dict[str, Any]] = []
    access, _ = fake.grant()

    async def notifications(ws: WebSocketConnection, until: str) -> list[dict[str, Any]]:
        got = []
        while True:
            message = await recv(ws)
            kind = message["metadata"]["message_type"]
            if kind == "notification":
                got.append(message)
                if message["payload"]["event"].get("message", {}).get("text") == until:
                    return got
            elif kind == until:
                got.append(message)
                return got

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_script_conformance, fake, sent.append)
        async with connected(fake.ws_url) as (old, session):
            for sub_type in CONFORMANCE_TYPES:
                assert (await subscribe(api, access, session["id"], sub_type=sub_type)).status_code == 202
            *before, reconnect = await notifications(old, "session_reconnect")
            async with connected(reconnect["payload"]["session"]["reconnect_url"]) as (new, _):
                await old.aclose()
                after = await notifications(new, CONFORMANCE_END)
    received = [(m["metadata"]["subscription_type"], m["payload"]["event"]["message_id"]) for m in before + after]
    assert received == [(entry["type"], entry["id"]) for entry in sent]
    texts = [entry.get("text") for entry in sent]
    assert "안녕하세요! 오늘 방송 재밌어요 ㅋㅋㅋ" in texts and texts[-1] == CONFORMANCE_END
    assert [entry["type"] for entry in sent].count("channel.chat.message_delete") == 1
    [resend] = [index for index, entry in enumerate(sent) if entry.get("resend")]
    assert after[resend - len(before)]["metadata"]["message_id"] == before[0]["metadata"]["message_id"]
    assert fake.stats.posts_after_reconnect == 0 and fake.stats.reconnects_completed == 1


def test_the_standalone_conformance_token_is_already_expired() -> None:
    script = Path(__file__).parent / "fakes" / "twitch.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--script", "conformance"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        fields = dict(part.split("=", 1) for part in process.stdout.readline().split() if "=" in part)
        assert fields["access_token_expired"] == "true"

        async def validate() -> int:
            async with httpx.AsyncClient() as client:
                headers = {"Authorization": f"OAuth {fields['access_token']}"}
                return (await client.get(fields["auth_url"] + "validate", headers=headers)).status_code

        assert trio.run(validate) == 401
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def test_a_client_that_never_pongs_gets_4002(autojump_clock: trio.testing.MockClock) -> None:
    """trio-websocket always answers Pings, so this client is raw wsproto."""
    from wsproto import WSConnection
    from wsproto.connection import ConnectionType
    from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

    fake = FakeTwitch(ping_interval=5, pong_timeout=3, subscribe_deadline=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
        ws = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(ws.send(Request(host="127.0.0.1", target="/ws")))
        seen: list[Any] = []
        while not any(isinstance(e, CloseConnection) for e in seen):
            data = await stream.receive_some(65536)
            ws.receive_data(data or None)
            seen.extend(ws.events())
            if not data:
                break
        kinds = [type(e) for e in seen]
        assert kinds[:3] == [AcceptConnection, TextMessage, Ping]  # welcome, then a Ping left unanswered
        close = seen[-1]
        assert isinstance(close, CloseConnection) and close.code == 4002
        assert trio.current_time() == pytest.approx(8.0, abs=0.01)
        await stream.aclose()
        nursery.cancel_scope.cancel()
