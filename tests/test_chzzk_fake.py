"""The Chzzk fake itself (tests/fakes/chzzk.py), checked with plain httpx, trio-websocket and hand-written
Engine.IO frames, not with the client it is meant to test.

Tests that need time to pass run on pytest-trio's autojump MockClock: an 85-second heartbeat timeout or a
10-minute code expiry takes no real time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trio
import trio.testing
from fakes.chzzk import FakeChzzk
from trio_websocket import ConnectionClosed, ConnectionRejected, WebSocketConnection, open_websocket_url

CLIENT_HEADERS = {"Client-Id": "fake-client-id", "Client-Secret": "fake-client-secret"}


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeChzzk:
    fake = FakeChzzk(ping_interval=5.0, ping_timeout=10.0, session_url_ttl=45.0)
    await nursery.start(fake.serve)
    return fake


@pytest.fixture
async def api(fake: FakeChzzk) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def session_url(api: httpx.AsyncClient, token: str) -> str:
    response = await api.get("/open/v1/sessions/auth", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["content"]["url"]


def engine_url(url: str, *, scheme: str = "ws", transport: str = "websocket", **extra: str) -> str:
    """The session URL ("http://host:port?auth=...") as the socket URL a client builds from it."""
    parts = urlsplit(url)
    query = "&".join([parts.query, f"EIO=3&transport={transport}", *(f"{k}={v}" for k, v in extra.items())])
    return f"{scheme}://{parts.netloc}/socket.io/?{query}"


def event(frame: str) -> tuple[str, Any]:
    """42["NAME", arg] -> (NAME, arg)."""
    assert frame.startswith("42"), frame
    name, argument = json.loads(frame[2:])
    return name, argument


def system(frame: str) -> dict[str, Any]:
    name, argument = event(frame)
    assert name == "SYSTEM"
    assert isinstance(argument, str), "SYSTEM's argument is a JSON string"
    return json.loads(argument)


@asynccontextmanager
async def connected(api: httpx.AsyncClient, token: str) -> AsyncIterator[tuple[WebSocketConnection, str]]:
    """A direct WebSocket session past its handshake; yields it and its sessionKey."""
    async with open_websocket_url(engine_url(await session_url(api, token))) as ws:
        assert (await ws.get_message()).startswith("0{")
        assert await ws.get_message() == "40"
        yield ws, system(await ws.get_message())["data"]["sessionKey"]


async def subscribe(api: httpx.AsyncClient, token: str, session_key: str, event_type: str) -> httpx.Response:
    return await api.post(
        f"/open/v1/sessions/events/subscribe/{event_type}",
        params={"sessionKey": session_key},
        headers=bearer(token) | CLIENT_HEADERS,
    )


async def no_message(ws: WebSocketConnection, seconds: float) -> bool:
    with trio.move_on_after(seconds):
        await ws.get_message()
        return False
    return True


def binary_payload(*packets: str) -> bytes:
    out = b""
    for packet in packets:
        data = packet.encode()
        out += b"\x00" + bytes(int(digit) for digit in str(len(data))) + b"\xff" + data
    return out


def parse_binary_payload(body: bytes) -> list[str]:
    packets = []
    while body:
        assert body[0] == 0
        end = body.index(b"\xff")
        length = int("".join(str(digit) for digit in body[1:end]))
        packets.append(body[end + 1 : end + 1 + length].decode())
        body = body[end + 1 + length :]
    return packets


# ------------------------------------------------------------------------- REST


async def test_envelope_on_success_and_errors(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    me = await api.get("/open/v1/users/me", headers=bearer(access))
    assert me.status_code == 200
    assert me.json() == {
        "code": 200,
        "message": None,
        "content": {"channelId": "fakechannel0001", "channelName": "가짜 스트리머", "nickname": "가짜 스트리머"},
    }
    missing = await api.get("/open/v1/users/me")
    assert (missing.status_code, missing.json()) == (401, {"code": 401, "message": "INVALID_TOKEN"})
    unknown = await api.get("/open/v1/nothing", headers=bearer(access))
    assert (unknown.status_code, unknown.json()) == (404, {"code": 404, "message": "NOT_FOUND"})
    assert unknown.headers["content-type"].startswith("application/json")

    client_session = await api.get("/open/v1/sessions/auth/client", headers=CLIENT_HEADERS)
    assert client_session.json()["content"]["url"].startswith(fake.base_url + "?auth=")
    no_client = await api.get("/open/v1/sessions/auth/client")
    assert (no_client.status_code, no_client.json()["message"]) == (401, "INVALID_CLIENT")


async def test_consent_redirects_with_a_single_use_code(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    params = {"clientId": "fake-client-id", "redirectUri": "http://127.0.0.1:9/cb?from=test", "state": "xyz"}
    consent = await api.get("/account-interlock", params=params)
    assert consent.status_code == 302
    location = urlsplit(consent.headers["location"])
    assert location.path == "/cb"
    query = parse_qs(location.query)
    assert query["from"] == ["test"]
    assert query["state"] == ["xyz"]
    code = query["code"][0]

    assert (await api.get("/account-interlock", params=params | {"clientId": "other"})).status_code == 400
    assert (await api.get("/account-interlock", params={"clientId": "fake-client-id"})).status_code == 400

    # As chzzkpy sends it: JSON camelCase with null extras, and the client headers too.
    body = {"grantType": "authorization_code", "clientId": "fake-client-id", "clientSecret": "fake-client-secret"}
    body |= {"code": code, "state": "xyz", "refreshToken": None}
    token = await api.post("/auth/v1/token", json=body, headers=CLIENT_HEADERS)
    assert token.status_code == 200
    content = token.json()["content"]
    assert content["tokenType"] == "Bearer"
    assert content["expiresIn"] == 86400
    assert "scope" not in content
    assert (await api.get("/open/v1/users/me", headers=bearer(content["accessToken"]))).status_code == 200

    again = await api.post("/auth/v1/token", json=body)
    assert (again.status_code, again.json()["message"]) == (401, "INVALID_TOKEN")
    wrong = await api.post("/auth/v1/token", json=body | {"clientSecret": "nope"})
    assert (wrong.status_code, wrong.json()["message"]) == (401, "INVALID_CLIENT")
    assert fake.stats.code_grants == 1


async def test_codes_expire_and_expires_in_can_be_a_string(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeChzzk(expires_in_as_string=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with httpx.AsyncClient(base_url=fake.base_url) as api:
            params = {"clientId": "fake-client-id", "redirectUri": "http://127.0.0.1:9/cb", "state": "s"}
            codes = []
            for _ in range(2):
                location = (await api.get("/account-interlock", params=params)).headers["location"]
                codes.append(parse_qs(urlsplit(location).query)["code"][0])
            body = {
                "grantType": "authorization_code",
                "clientId": "fake-client-id",
                "clientSecret": "fake-client-secret",
            }
            token = await api.post("/auth/v1/token", json=body | {"code": codes[0], "state": "s"})
            assert token.json()["content"]["expiresIn"] == "86400"
            await trio.sleep(601)
            late = await api.post("/auth/v1/token", json=body | {"code": codes[1], "state": "s"})
            assert late.status_code == 401
        nursery.cancel_scope.cancel()


async def test_refresh_tokens_are_single_use(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    _, refresh = fake.grant()
    body = {"grantType": "refresh_token", "clientId": "fake-client-id", "clientSecret": "fake-client-secret"}
    body |= {"code": None, "state": None}

    first = await api.post("/auth/v1/token", json=body | {"refreshToken": refresh})
    assert first.status_code == 200
    content = first.json()["content"]
    assert content["refreshToken"] != refresh
    assert "채팅 메시지 조회" in content["scope"]

    reused = await api.post("/auth/v1/token", json=body | {"refreshToken": refresh})
    assert (reused.status_code, reused.json()) == (401, {"code": 401, "message": "INVALID_TOKEN"})
    assert (fake.stats.refreshes, fake.stats.refresh_reuse) == (1, 1)

    fake.reject_refresh = True
    refused = await api.post("/auth/v1/token", json=body | {"refreshToken": content["refreshToken"]})
    assert refused.status_code == 401
    fake.reject_refresh = False  # the refused token was not consumed
    assert (await api.post("/auth/v1/token", json=body | {"refreshToken": content["refreshToken"]})).status_code == 200


async def test_revoking_a_token_revokes_the_users_tokens(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, refresh = fake.grant()
    other, _ = fake.grant()
    body = {"clientId": "fake-client-id", "clientSecret": "fake-client-secret", "token": access}
    revoked = await api.post("/auth/v1/token/revoke", json=body | {"tokenTypeHint": "access_token"})
    assert revoked.json() == {"code": 200, "message": None, "content": None}
    assert (await api.get("/open/v1/users/me", headers=bearer(other))).status_code == 401
    refresh_body = {"grantType": "refresh_token", "clientId": "fake-client-id", "clientSecret": "fake-client-secret"}
    assert (await api.post("/auth/v1/token", json=refresh_body | {"refreshToken": refresh})).status_code == 401


async def test_access_tokens_expire(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeChzzk(access_token_ttl=60)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with httpx.AsyncClient(base_url=fake.base_url) as api:
            early, _ = fake.grant()
            await trio.sleep(61)
            assert (await api.get("/open/v1/users/me", headers=bearer(early))).status_code == 401
            fresh, _ = fake.grant()
            assert (await api.get("/open/v1/users/me", headers=bearer(fresh))).status_code == 200
            fake.expire_access_tokens()
            assert (await api.get("/open/v1/sessions/auth", headers=bearer(fresh))).status_code == 401
        nursery.cancel_scope.cancel()


async def test_fail_next(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    fake.fail_next("/open/v1/sessions", 429, times=2, retry_after=3)
    for _ in range(2):
        limited = await api.get("/open/v1/sessions/auth", headers=bearer(access))
        assert (limited.status_code, limited.json()) == (429, {"code": 429, "message": "TOO_MANY_REQUESTS"})
        assert limited.headers["retry-after"] == "3"
    assert (await api.get("/open/v1/sessions/auth", headers=bearer(access))).status_code == 200

    fake.fail_next("/open/v1/users/me", 500, non_json=True)
    broken = await api.get("/open/v1/users/me", headers=bearer(access))
    assert broken.status_code == 500
    assert broken.headers["content-type"].startswith("text/html")
    fake.fail_next("/open/v1/users/me", 403, message="스코프가 필요합니다.")
    assert (await api.get("/open/v1/users/me", headers=bearer(access))).json()["message"] == "스코프가 필요합니다."


# ----------------------------------------------------------------------- socket


async def test_direct_websocket_handshake_sequence(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    url = await session_url(api, access)
    assert url.startswith(fake.base_url + "?auth=")
    assert len(parse_qs(urlsplit(url).query)["auth"][0]) >= 100
    async with open_websocket_url(engine_url(url)) as ws:
        opening = await ws.get_message()
        assert opening[0] == "0"
        info = json.loads(opening[1:])
        assert (info["upgrades"], info["pingInterval"], info["pingTimeout"]) == ([], 5000, 10000)
        assert await ws.get_message() == "40"
        connected_message = system(await ws.get_message())
        assert connected_message["type"] == "connected"
        [view] = fake.live_sessions()
        assert connected_message["data"] == {"sessionKey": view.session_key}
        assert (view.transport, view.subscribed, view.sid) == ("websocket", frozenset(), info["sid"])
    assert fake.stats.handshakes_websocket == 1


async def test_connected_can_be_withheld_and_sent_by_hand(
    autojump_clock: trio.testing.MockClock, fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    fake.send_connected = False
    async with open_websocket_url(engine_url(await session_url(api, access))) as ws:
        assert (await ws.get_message()).startswith("0{")
        assert await ws.get_message() == "40"
        assert await no_message(ws, 3.0)
        [view] = fake.live_sessions()
        assert fake.system("connected", {"sessionKey": view.session_key}) == 1
        assert system(await ws.get_message())["data"]["sessionKey"] == view.session_key


async def test_session_urls_are_single_use_and_expire(
    autojump_clock: trio.testing.MockClock, fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    url = await session_url(api, access)
    async with open_websocket_url(engine_url(url)) as ws:
        assert (await ws.get_message()).startswith("0{")
    with pytest.raises(ConnectionRejected) as reused:
        async with open_websocket_url(engine_url(url)):
            pass
    assert reused.value.status_code == 401

    stale = await session_url(api, access)
    await trio.sleep(46)
    with pytest.raises(ConnectionRejected):
        async with open_websocket_url(engine_url(stale)):
            pass
    assert (fake.stats.used_url_uses, fake.stats.expired_url_uses, fake.stats.session_urls) == (1, 1, 2)

    wrong_version = engine_url(await session_url(api, access)).replace("EIO=3", "EIO=4")
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(wrong_version):
            pass
    assert rejected.value.status_code == 400


async def test_subscribe_confirms_on_the_socket_and_chat_arrives_as_a_string(
    fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, session_key):
        reply = await subscribe(api, access, session_key, "chat")
        assert reply.json() == {"code": 200, "message": None, "content": None}
        assert system(await ws.get_message()) == {
            "type": "subscribed",
            "data": {"eventType": "CHAT", "channelId": "fakechannel0001"},
        }
        assert fake.live_sessions()[0].subscribed == {"CHAT"}

        payload = fake.chat("안녕하세요", role="streaming_chat_manager")
        fake.donation(1000, "not subscribed: not delivered")
        name, argument = event(await ws.get_message())
        assert name == "CHAT"
        assert isinstance(argument, str)
        assert json.loads(argument) == payload
        assert payload["profile"]["userRoleCode"] == "streaming_chat_manager"
        assert {"chatChannelId", "eventSentAt", "messageTime"} <= payload.keys()
        assert payload["emojis"] == {}

        odd = fake.chat("odd", variants=["object_argument", "role_top_level", "no_chat_channel_id"])
        name, argument = event(await ws.get_message())
        assert argument == odd
        assert odd["userRoleCode"] == "common_user"
        assert "userRoleCode" not in odd["profile"]
        assert "chatChannelId" not in odd

        assert (await subscribe(api, access, "no-such-session", "chat")).status_code == 400
        unauthorized = await api.post(f"/open/v1/sessions/events/subscribe/chat?sessionKey={session_key}")
        assert unauthorized.status_code == 401
        assert fake.stats.subscribes == 1


async def test_pings_are_answered_unless_switched_off(
    autojump_clock: trio.testing.MockClock, fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, _):
        await ws.send_message("2")
        assert await ws.get_message() == "3"
        fake.answer_pings = False
        await ws.send_message("2")
        assert await no_message(ws, 4.0)
        assert len(fake.live_sessions()) == 1  # silent, not closed
        assert (fake.stats.pings, fake.stats.pongs) == (2, 1)


async def test_a_session_without_pings_is_closed(
    autojump_clock: trio.testing.MockClock, fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, _):
        start = trio.current_time()
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
        assert trio.current_time() - start == pytest.approx(15.0, abs=0.01)  # pingInterval + pingTimeout
        assert fake.live_sessions() == []
        assert fake.stats.ping_timeouts == 1


@pytest.mark.parametrize("rst", [False, True])
async def test_drop_sockets_cuts_the_connection(fake: FakeChzzk, api: httpx.AsyncClient, rst: bool) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, _):
        assert fake.drop_sockets(rst=rst) == 1
        assert fake.live_sessions() == []  # at once
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
        assert closed.value.reason.code == 1006  # no close frame
    assert fake.stats.drops == 1


async def test_engine_close_sends_close_then_a_close_frame(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, _):
        assert fake.engine_close() == 1
        assert await ws.get_message() == "1"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
        assert closed.value.reason.code == 1000


async def test_the_client_ends_its_session_with_41(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, _):
        await ws.send_message("41")
        await fake.wait_until(lambda: not fake.live_sessions(), timeout=5)
        await ws.send_message("1")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
    assert fake.stats.sessions_closed == 1


async def test_revoke_and_raw_frames(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(api, access) as (ws, session_key):
        await subscribe(api, access, session_key, "chat")
        await ws.get_message()  # subscribed
        assert fake.send_raw('42["CHAT","{not json"]') == 1
        assert await ws.get_message() == '42["CHAT","{not json"]'
        assert fake.revoke("CHAT") == 1
        assert system(await ws.get_message())["type"] == "revoked"
        await subscribe(api, access, session_key, "donation")
        await ws.get_message()  # subscribed
        gone = await api.post(
            "/open/v1/sessions/events/unsubscribe/donation", params={"sessionKey": session_key}, headers=bearer(access)
        )
        assert gone.status_code == 200
        assert system(await ws.get_message())["type"] == "unsubscribed"
        assert fake.live_sessions()[0].subscribed == frozenset()
        fake.donation(1000)
        fake.chat("after the revoke")
        fake.system("mystery", {"x": 1})
        assert system(await ws.get_message()) == {"type": "mystery", "data": {"x": 1}}


async def test_user_sessions_are_limited_to_three(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    async with connected(api, access), connected(api, access), connected(api, access):
        refused = await api.get("/open/v1/sessions/auth", headers=bearer(access))
        assert refused.status_code == 400
        listed = (await api.get("/open/v1/sessions", params={"size": 2}, headers=bearer(access))).json()["content"]
        assert (listed["totalCount"], listed["totalPages"], len(listed["data"])) == (3, 2, 2)
        assert len(listed["data"][0]["connectedDate"]) == len("2026-07-22 22:44:39")
    await fake.wait_until(lambda: not fake.live_sessions(), timeout=5)
    assert (await api.get("/open/v1/sessions/auth", headers=bearer(access))).status_code == 200


async def test_polling_handshake_binary_framing_and_upgrade(fake: FakeChzzk, api: httpx.AsyncClient) -> None:
    access, _ = fake.grant()
    url = await session_url(api, access)
    polling = engine_url(url, scheme="http", transport="polling", t="1795481936.0575833")
    handshake = await api.get(polling)
    assert handshake.status_code == 200
    assert handshake.content[:1] == b"\x00"  # binary framing without b64=1
    [opening] = parse_binary_payload(handshake.content)
    info = json.loads(opening[1:])
    assert info["upgrades"] == ["websocket"]
    sid = info["sid"]
    assert fake.live_sessions()[0].transport == "polling"

    first = parse_binary_payload((await api.get(f"{polling}&sid={sid}")).content)
    assert first[0] == "40"
    assert system(first[1])["type"] == "connected"

    assert (await api.post(f"{polling}&sid={sid}", content=binary_payload("2"))).text == "ok"
    text = await api.get(f"{polling}&sid={sid}&b64=1")
    assert text.text == "1:3"  # text framing with b64=1

    async with open_websocket_url(engine_url(url, sid=sid)) as ws:
        await ws.send_message("2probe")
        assert await ws.get_message() == "3probe"
        await ws.send_message("5")
        await fake.wait_until(lambda: fake.live_sessions()[0].transport == "websocket", timeout=5)
        session_key = fake.live_sessions()[0].session_key
        await subscribe(api, access, session_key, "donation")
        assert system(await ws.get_message())["data"]["eventType"] == "DONATION"
        payload = fake.donation(5000, "후원합니다")
        assert payload["payAmount"] == "5000"
        assert json.loads(event(await ws.get_message())[1]) == payload
    assert (fake.stats.handshakes_polling, fake.stats.upgrades) == (1, 1)


async def test_dropping_a_polling_session_cuts_its_long_poll(
    autojump_clock: trio.testing.MockClock, fake: FakeChzzk, api: httpx.AsyncClient
) -> None:
    access, _ = fake.grant()
    polling = engine_url(await session_url(api, access), scheme="http", transport="polling")
    sid = json.loads(parse_binary_payload((await api.get(polling)).content)[0][1:])["sid"]
    assert len(parse_binary_payload((await api.get(f"{polling}&sid={sid}")).content)) == 2  # 40, connected

    async def long_poll() -> None:
        with pytest.raises(httpx.TransportError):
            await api.get(f"{polling}&sid={sid}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(long_poll)
        await trio.testing.wait_all_tasks_blocked()
        assert fake.drop_sockets() == 1
    assert (await api.get(f"{polling}&sid={sid}")).status_code == 400  # the sid is gone
