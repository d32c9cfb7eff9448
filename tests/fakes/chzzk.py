"""A faithful loopback fake of Chzzk's official Open API and its Socket.IO session server, for tests.

It follows §2 and §5 of the Chzzk reference notes (shared/reference/chzzk.md). Everything is served
on ONE port of 127.0.0.1 by pure Trio + h11 + wsproto, with its own small Engine.IO v3 framing: it
imports nothing from ``actors/``, so it stays independent of the client it tests.

REST (the envelope ``{"code":200,"message":null,"content":...}``; errors ``{"code":<status>,"message":...}``
with the same HTTP status; unknown paths 404 in the envelope):

- ``GET /account-interlock?clientId=&redirectUri=&state=``: the consent page, which consents at once:
  302 to ``redirectUri?code=...&state=...``. Codes are single-use and live 10 minutes. (The real page is
  on another host, chzzk.naver.com; here it shares the port.) The redirect URI is not checked against a
  registered one: the fake has no app registry.
- ``POST /auth/v1/token`` (authorization_code and refresh_token grants, JSON camelCase body) and
  ``POST /auth/v1/token/revoke``. Refresh tokens are single-use (§2.2).
- ``GET /open/v1/users/me``, ``GET /open/v1/sessions/auth`` (user), ``GET /open/v1/sessions/auth/client``
  (client), ``GET /open/v1/sessions[/client]`` (lists), and
  ``POST /open/v1/sessions/events/{subscribe|unsubscribe}/{chat|donation|subscription}?sessionKey=``.

Socket (``/socket.io/``, Socket.IO v2 = Engine.IO v3, ``EIO=3``):

- direct WebSocket (``transport=websocket``, no ``sid``): ``0{...,"upgrades":[]}``, ``40``, then
  ``42["SYSTEM","{\\"type\\":\\"connected\\",...}"]`` (what the official guide does);
- polling handshake + upgrade (what chzzkpy does): the handshake answers only the OPEN packet
  (``"upgrades":["websocket"]``), in the binary payload framing unless ``b64=1``; ``40`` and SYSTEM
  connected wait in the session's queue for the next long-poll or for the upgraded WebSocket
  (``2probe`` -> ``3probe``, ``5``). Long-polls (GET) and writes (POST) work too, for a client that
  never upgrades.
- heartbeat in the EIO3 direction: the client sends ``2``, the server answers ``3``; a session that
  sent no ping for pingInterval + pingTimeout is closed.
- events carry ONE JSON document encoded as a string: ``42["CHAT","{...}"]``.

Fidelity notes (things the reference marks as unverified, and the choice made here):

- The answers to a bad authorization code, an over-limit session URL request, an unknown sessionKey
  and more than 30 subscriptions are not documented: 401 ``INVALID_TOKEN`` for a bad code (the closest
  documented 401 message) and 400 with an upper-case code for the others.
- A handshake with an unknown, used or expired ``auth`` gets HTTP 401 (the real server may simply close).
  The session limits (3 per user, 10 per app) are checked when a URL is asked for and again at the
  handshake.
- A subscription takes effect when its SYSTEM ``subscribed`` is queued, just after the HTTP answer, so no
  event overtakes its confirmation.
- ``41`` ends the Chzzk session at once; the Engine.IO connection waits for ``1`` or a close frame (up to
  CLOSE_GRACE on a WebSocket), as Socket.IO v2 servers do. chzzkpy sends ``41`` then ``1``.
- A refresh does not invalidate the access token it replaces (usual OAuth behaviour; unverified).
- Sessions keep delivering after the access token that subscribed them expires (unverified).
- Dates (``connectedDate``, ``eventSentAt``) are Korean local time without a zone, as observed.
- The binary polling framing counts UTF-8 bytes (engine.io-parser 2 encodes strings as UTF-8 before
  measuring them, and chzzkpy slices bytes); the ``b64=1`` text framing counts UTF-16 code units, as
  JavaScript's ``String.length`` (the JS and Java servers) does.

Time: every expiry and deadline reads ``trio.current_time()``, so the fake runs on
``trio.testing.MockClock(autojump_threshold=0)`` in the same ``trio.run`` as the client. Only payload
timestamps (``messageTime``, ``eventSentAt``, session dates) come from ``wall_ms`` (real time by default).

Tests use it in a nursery::

    fake = FakeChzzk(ping_interval=5, ping_timeout=10)
    await nursery.start(fake.serve)
    access, refresh = fake.grant()
    ... a client gets fake.base_url + "/open/v1/sessions/auth" with the Bearer token, connects ...
    await fake.wait_until(lambda: any("CHAT" in s.subscribed for s in fake.live_sessions()))
    fake.chat("안녕하세요")
    fake.drop_sockets()  # the socket dies without a close frame

It also runs on its own::

    python tests/fakes/chzzk.py --port 9100 [--ping-interval 25] [--script chat|conformance]

It prints one line with base_url, auth_url, client id and secret, and on Ctrl-C (or SIGTERM) a last line
``stats {...}`` with its counters.
"""

from __future__ import annotations

import argparse
import http
import json
import math
import random
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
import h11
import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState as WsState
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, TextMessage

if not __package__:  # run as a script: tests/fakes/ is on sys.path, and fakes._http needs tests/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fakes._http import (
    Reply,
    Request,
    accept_websocket,
    compact_json,
    send_reply,
    serve_connection,
    stop_on_signal,
)

KST = timezone(timedelta(hours=9), "KST")

CODE_TTL = 600.0  # authorization codes: 10 minutes
REFRESH_TOKEN_TTL = 30 * 86400.0  # 30 days (§2.2)
MAX_USER_SESSIONS = 3  # per user (§2.4)
MAX_CLIENT_SESSIONS = 10  # per app (§2.4)
MAX_SUBSCRIPTIONS = 30  # per session (§2.4)
CLOSE_GRACE = 5.0  # after our WebSocket close frame, how long the client may take to answer it

JSON_TYPE = "application/json;charset=UTF-8"  # Spring's spelling, as the real server sends it
EVENT_TYPES = ("CHAT", "DONATION", "SUBSCRIPTION")
# What a refresh answers in `scope`: Korean scope names separated by spaces (§2.2, observed).
SCOPE = "유저 정보 조회 채팅 메시지 조회 후원 조회 구독 조회"
DEFAULT_MESSAGES = {
    400: "BAD_REQUEST",
    401: "INVALID_TOKEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}
NON_JSON_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
BADGE_URLS = {
    "streamer": "https://ssl.pstatic.net/static/nng/glive/icon/streamer.png",
    "streaming_channel_manager": "https://ssl.pstatic.net/static/nng/glive/icon/manager.png",
    "streaming_chat_manager": "https://ssl.pstatic.net/static/nng/glive/icon/manager.png",
}
CHAT_VARIANTS = frozenset(
    {"role_top_level", "no_chat_channel_id", "profile_null", "object_argument", "no_event_sent_at"}
)
DONATION_VARIANTS = frozenset({"pay_amount_number", "object_argument"})


def _real_wall_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------ Engine.IO v3 framing


def encode_binary_payload(packets: Iterable[str]) -> bytes:
    """EIO3 binary payload: per packet ``0x00``, its UTF-8 length as one byte per decimal digit, ``0xFF``,
    then the packet."""
    out = bytearray()
    for packet in packets:
        data = packet.encode()
        out += b"\x00" + bytes(int(digit) for digit in str(len(data))) + b"\xff" + data
    return bytes(out)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def encode_text_payload(packets: Iterable[str]) -> str:
    """EIO3 text payload (``b64=1``): ``<length>:<packet>`` repeated, lengths in UTF-16 code units."""
    return "".join(f"{_utf16_len(packet)}:{packet}" for packet in packets)


def decode_payload(body: bytes) -> list[str]:
    """The packets of an EIO3 payload in either framing; ValueError if it is neither.

    Binary attachments (type byte 1) cannot occur in this protocol and are skipped.
    """
    if not body:
        return []
    if body[0] in (0, 1):
        return _decode_binary_payload(body)
    return _decode_text_payload(body.decode())


def _decode_binary_payload(body: bytes) -> list[str]:
    packets: list[str] = []
    index = 0
    while index < len(body):
        kind = body[index]
        if kind not in (0, 1):
            raise ValueError(f"bad packet type byte {kind} at {index}")
        index += 1
        length = 0
        digits = 0
        while index < len(body) and body[index] != 0xFF:
            if body[index] > 9:
                raise ValueError(f"bad length digit {body[index]} at {index}")
            length = length * 10 + body[index]
            digits += 1
            index += 1
        if index >= len(body) or digits == 0:
            raise ValueError("truncated length")
        index += 1
        chunk = body[index : index + length]
        if len(chunk) < length:
            raise ValueError("truncated packet")
        index += length
        if kind == 0:
            packets.append(chunk.decode())
    return packets


def _decode_text_payload(text: str) -> list[str]:
    packets: list[str] = []
    index = 0
    while index < len(text):
        colon = text.index(":", index)
        length = int(text[index:colon])
        end = colon + 1
        units = 0
        while units < length:
            if end >= len(text):
                raise ValueError("truncated packet")
            units += 2 if ord(text[end]) > 0xFFFF else 1
            end += 1
        packets.append(text[colon + 1 : end])
        index = end
    return packets


def _event_frame(name: str, payload: Any, *, as_object: bool = False) -> str:
    """``42["NAME","<json string>"]``: the argument is a JSON document encoded as a string (§2.5)."""
    argument = payload if as_object else compact_json(payload)
    return "42" + compact_json([name, argument])


# ---------------------------------------------------------------- observable state


@attrs.define
class Stats:
    """Counters for assertions. Every change wakes `FakeChzzk.wait_until`."""

    requests: int = 0  # HTTP requests of any kind, WebSocket handshakes included
    faults: int = 0  # answers forced by fail_next
    code_grants: int = 0  # authorization_code exchanges that succeeded (grant() is not counted)
    refreshes: int = 0  # refresh_token grants that succeeded
    refresh_reuse: int = 0  # a refresh token presented again after it was used
    refresh_rejected: int = 0  # refresh grants refused by reject_refresh
    revokes: int = 0
    session_urls: int = 0  # session URLs issued (user and client)
    expired_url_uses: int = 0  # handshakes with a session URL past session_url_ttl
    used_url_uses: int = 0  # handshakes with a session URL that had been used already
    handshakes_websocket: int = 0  # direct WebSocket handshakes
    handshakes_polling: int = 0  # polling handshakes
    upgrades: int = 0  # polling sessions moved to a WebSocket (client sent "5")
    subscribes: int = 0
    unsubscribes: int = 0
    pings: int = 0  # heartbeat "2" from clients (upgrade probes not counted)
    pongs: int = 0  # "3" answers to them
    drops: int = 0  # sessions whose socket drop_sockets() cut
    engine_closes: int = 0  # sessions engine_close() ended
    ping_timeouts: int = 0  # sessions closed for want of a ping
    sessions_closed: int = 0  # sessions that ended, any way


@attrs.frozen
class SessionView:
    """A live session as tests see it."""

    session_key: str
    transport: str  # "websocket" | "polling"
    subscribed: frozenset[str]  # of "CHAT", "DONATION", "SUBSCRIPTION"
    opened_at: float  # trio time of the handshake
    kind: str = "user"  # "user" (sessions/auth) | "client" (sessions/auth/client)
    sid: str = ""  # the Engine.IO sid


@attrs.define(eq=False)
class _Code:
    state: str
    redirect_uri: str
    expires_at: float
    used: bool = False


@attrs.define(eq=False)
class _AccessToken:
    owner: str  # channelId of the user
    expires_at: float
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@attrs.define(eq=False)
class _RefreshToken:
    owner: str
    expires_at: float
    used: bool = False
    revoked: bool = False


@attrs.define(eq=False)
class _SessionUrl:
    kind: str
    owner: str | None
    expires_at: float
    used: bool = False


@attrs.define(eq=False)
class _Fault:
    prefix: str
    status: int
    times: int
    message: str
    retry_after: float | None
    non_json: bool


@attrs.define(eq=False)
class _Link:
    """One WebSocket on the /socket.io/ path: a session's transport, or a probe before the upgrade."""

    stream: trio.SocketStream
    ws: WsConnection
    send_lock: trio.Lock = attrs.field(factory=trio.Lock)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    rst: bool = False  # end with a TCP reset (SO_LINGER 0) rather than a FIN


@attrs.define(eq=False)
class _Session:
    sid: str
    session_key: str
    kind: str  # "user" | "client"
    owner: str | None  # channelId of the user for user sessions
    transport: str  # "polling" | "websocket"
    opened_at: float
    last_ping: float
    connected_date: str
    # Engine.IO packets waiting for the transport (the WebSocket writer or the next long-poll).
    outbox: deque[str] = attrs.field(factory=deque)
    # (eventType, channelId) in subscription order.
    subscriptions: dict[tuple[str, str], None] = attrs.field(factory=dict)
    live: bool = True
    ended_how: str | None = None  # once ended: "graceful" | "client" | "abort" | "gone" (see FakeChzzk._end)
    # The Engine.IO connection outlives the session when the client leaves the Socket.IO namespace ("41")
    # before it closes the engine ("1"), as Socket.IO v2 servers do: its sid still takes requests.
    engine_open: bool = True
    reason: str | None = None
    disconnected_date: str | None = None
    link: _Link | None = None  # the WebSocket carrying the session, once it has one
    links: set[_Link] = attrs.field(factory=set)  # every WebSocket attached (a probe too)
    probing: bool = False  # a WebSocket has answered a probe: "5" may come
    noop_pending: bool = False  # the pending long-poll must return a noop (the client is upgrading)
    polling: bool = False  # a long-poll is pending
    rst: bool = False  # dropped with a TCP reset
    # Wakes the writer and the long-poll on every change (new packet, upgrade, end).
    lot: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    ended: trio.Event = attrs.field(factory=trio.Event)

    def view(self) -> SessionView:
        subscribed = frozenset(event_type for event_type, _ in self.subscriptions)
        return SessionView(self.session_key, self.transport, subscribed, self.opened_at, self.kind, self.sid)

    def push(self, packet: str) -> None:
        self.outbox.append(packet)
        self.lot.unpark_all()


class _ApiError(Exception):
    """An answer in the error envelope."""

    def __init__(self, status: int, message: str | None = None, *, headers: list[tuple[str, str]] | None = None):
        self.status = status
        self.message = message if message is not None else DEFAULT_MESSAGES.get(status, http.HTTPStatus(status).name)
        self.headers = headers or []
        super().__init__(f"{status} {self.message}")


class _Abort(Exception):
    """Close the TCP connection at once, without answering (a dropped polling session)."""

    def __init__(self, rst: bool) -> None:
        super().__init__("abort")
        self.rst = rst


def _json_reply(content: Any, *, after: Callable[[], None] | None = None) -> Reply:
    body = compact_json({"code": 200, "message": None, "content": content}).encode()
    return Reply(200, body, JSON_TYPE, after=after)


def _error_reply(error: _ApiError) -> Reply:
    body = compact_json({"code": error.status, "message": error.message}).encode()
    return Reply(error.status, body, JSON_TYPE, tuple(error.headers))


def _html_reply(status: int, text: str) -> Reply:
    body = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{status}</title></head><body>{text}</body></html>"
    return Reply(status, body.encode(), "text/html;charset=UTF-8")


def _engine_error(status: int, code: int, message: str) -> Reply:
    """Engine.IO's own error body (0 unknown transport, 1 unknown sid, 2 bad handshake method, 3 bad request,
    5 unsupported protocol version)."""
    return Reply(status, compact_json({"code": code, "message": message}).encode(), JSON_TYPE)


def _payload_reply(packets: list[str], b64: bool) -> Reply:
    if b64:
        return Reply(200, encode_text_payload(packets).encode(), "text/plain; charset=UTF-8")
    return Reply(200, encode_binary_payload(packets), "application/octet-stream")


# ------------------------------------------------------------------------ the fake


class FakeChzzk:
    """The fake server, its scripted chat, fault switches, and what it saw (`stats`, `live_sessions()`)."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        channel_id: str = "fakechannel0001",
        channel_name: str = "가짜 스트리머",
        ping_interval: float = 25.0,
        ping_timeout: float = 60.0,
        session_url_ttl: float = 45.0,
        access_token_ttl: float = 86400.0,
        expires_in_as_string: bool = False,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.session_url_ttl = session_url_ttl
        self.access_token_ttl = access_token_ttl
        self.expires_in_as_string = expires_in_as_string
        self.wall_ms: Callable[[], int] = wall_ms if wall_ms is not None else _real_wall_ms
        # The short per-broadcast chat id CHAT payloads carry (§2.7); tests may change it.
        self.chat_channel_id = "N" + secrets.token_urlsafe(4)[:5]

        # Fault switches.
        self.answer_pings = True
        self.send_connected = True
        self.reject_refresh = False

        self.stats = Stats()
        self.port: int | None = None
        self._host = "127.0.0.1"
        self._nursery: trio.Nursery | None = None
        self._changed = trio.Event()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._urls: dict[str, _SessionUrl] = {}
        self._sessions: dict[str, _Session] = {}  # by sid, ended ones too (the session lists show them)
        self._faults: list[_Fault] = []

    # -------------------------------------------------------------- serving

    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve HTTP/1.1 and WebSocket on one port until cancelled; task_status.started(the bound port)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await nursery.start(partial(trio.serve_tcp, self._serve_connection, port, host=host))
            self._host = "127.0.0.1" if host in ("", "0.0.0.0") else host
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started(self.port)

    @property
    def base_url(self) -> str:
        """E.g. "http://127.0.0.1:54321": the REST base, and the session host."""
        if self.port is None:
            raise RuntimeError("FakeChzzk.base_url is valid only once serve() has started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def auth_url(self) -> str:
        return self.base_url + "/account-interlock"

    # ------------------------------------------------------------- tokens

    def grant(self) -> tuple[str, str]:
        """An (access_token, refresh_token) pair for the channel owner, as if OAuth had happened."""
        return self._issue_tokens(self.channel_id)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 INVALID_TOKEN from now on."""
        for token in self._access.values():
            token.expires_at = -math.inf
        self._poke()

    def _issue_tokens(self, owner: str) -> tuple[str, str]:
        now = trio.current_time()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = _AccessToken(owner, now + self.access_token_ttl)
        self._refresh[refresh] = _RefreshToken(owner, now + REFRESH_TOKEN_TTL)
        return access, refresh

    def _token_content(self, access: str, refresh: str, *, scope: bool) -> dict[str, Any]:
        expires_in = round(self.access_token_ttl)
        content: dict[str, Any] = {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "Bearer",
            # The docs say String "86400"; the real server sends the number (§2.2). The switch gives the docs' form.
            "expiresIn": str(expires_in) if self.expires_in_as_string else expires_in,
        }
        if scope:  # absent on a code exchange, present on a refresh (§2.2)
            content["scope"] = SCOPE
        return content

    # ------------------------------------------------------------- events

    def chat(
        self,
        content: str,
        *,
        sender: str = "viewer0001",
        nickname: str = "시청자",
        role: str = "common_user",
        message_time: int | None = None,
        emojis: dict[str, str] | None = None,
        verified: bool = False,
        variants: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Push a CHAT to every live session subscribed to it; returns the payload.

        By default it has the real captured shape (§2.7): userRoleCode inside profile, chatChannelId,
        eventSentAt, emojis {}. `variants` give the documented or odd shapes (see CHAT_VARIANTS).
        """
        chosen = _variants(variants, CHAT_VARIANTS)
        payload: dict[str, Any] = {"channelId": self.channel_id}
        if "no_chat_channel_id" not in chosen:
            payload["chatChannelId"] = self.chat_channel_id
        payload["senderChannelId"] = sender
        if "profile_null" in chosen:
            payload["profile"] = None  # an anonymous sender, per one client's docs (§2.7)
        else:
            badges = [{"imageUrl": BADGE_URLS[role]}] if role in BADGE_URLS else []
            profile: dict[str, Any] = {"nickname": nickname, "verifiedMark": verified, "badges": badges}
            if "role_top_level" not in chosen:
                profile["userRoleCode"] = role  # where the real server puts it
            payload["profile"] = profile
        if "role_top_level" in chosen:  # the documented place (§2.7)
            payload["userRoleCode"] = role
        payload["content"] = content
        payload["emojis"] = dict(emojis) if emojis else {}
        payload["messageTime"] = self.wall_ms() if message_time is None else message_time
        if "no_event_sent_at" not in chosen:
            payload["eventSentAt"] = self._event_sent_at()
        self._emit("CHAT", payload, as_object="object_argument" in chosen)
        return payload

    def donation(
        self,
        amount: int,
        text: str = "",
        *,
        donator: str = "donor0001",
        nickname: str = "후원자",
        donation_type: str = "CHAT",
        variants: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Push a DONATION; payAmount is a string as documented, unless the "pay_amount_number" variant."""
        chosen = _variants(variants, DONATION_VARIANTS)
        payload: dict[str, Any] = {
            "donationType": donation_type,
            "channelId": self.channel_id,
            "donatorChannelId": donator,
            "donatorNickname": nickname,
            "payAmount": amount if "pay_amount_number" in chosen else str(amount),
            "donationText": text,
            "emojis": {},
        }
        self._emit("DONATION", payload, as_object="object_argument" in chosen)
        return payload

    def subscription(
        self,
        *,
        subscriber: str = "sub0001",
        nickname: str = "구독자",
        tier_no: int = 1,
        tier_name: str = "티어 1",
        month: int = 1,
    ) -> dict[str, Any]:
        """Push a SUBSCRIPTION (§2.7)."""
        payload: dict[str, Any] = {
            "channelId": self.channel_id,
            "subscriberChannelId": subscriber,
            "subscriberNickname": nickname,
            "tierNo": tier_no,
            "tierName": tier_name,
            "month": month,
        }
        self._emit("SUBSCRIPTION", payload)
        return payload

    def send_raw(self, frame: str) -> int:
        """A raw Engine.IO text frame to every live session; returns how many got it."""
        sessions = self._live()
        for session in sessions:
            session.push(frame)
        return len(sessions)

    def system(self, type_: str, data: dict[str, Any]) -> int:
        """A SYSTEM message {"type", "data"} (as a JSON string) to every live session."""
        return self.send_raw(_event_frame("SYSTEM", {"type": type_, "data": data}))

    def revoke(self, event_type: str) -> int:
        """The server withdraws `event_type` (consent or scope change) from every live session that has it:
        SYSTEM revoked, then no more of those events. Returns how many sessions lost it."""
        count = 0
        for session in self._live():
            for key in [key for key in session.subscriptions if key[0] == event_type]:
                del session.subscriptions[key]
                session.push(
                    _event_frame("SYSTEM", {"type": "revoked", "data": {"eventType": key[0], "channelId": key[1]}})
                )
                count += 1
        self._poke()
        return count

    def _emit(self, event_type: str, payload: dict[str, Any], *, as_object: bool = False) -> int:
        frame = _event_frame(event_type, payload, as_object=as_object)
        count = 0
        for session in self._live():
            if (event_type, payload["channelId"]) in session.subscriptions:
                session.push(frame)
                count += 1
        return count

    def _event_sent_at(self) -> str:
        """Like "2026-07-22T22:48:28.525460090": local time, nanoseconds, no zone (observed)."""
        ms = self.wall_ms()
        moment = datetime.fromtimestamp(ms / 1000, KST)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}000000"

    # ------------------------------------------------------- fault switches

    def drop_sockets(self, *, rst: bool = False) -> int:
        """Cut every live session's socket: no Engine.IO "1", no WebSocket close frame (a TCP RST with `rst`)."""
        sessions = self._live()
        for session in sessions:
            self._end(session, "dropped", "abort", rst=rst)
        self.stats.drops += len(sessions)
        self._poke()
        return len(sessions)

    def engine_close(self) -> int:
        """Send Engine.IO close "1" on every live session, then close the WebSocket properly."""
        sessions = self._live()
        for session in sessions:
            session.push("1")
            self._end(session, "engine close", "graceful")
        self.stats.engine_closes += len(sessions)
        self._poke()
        return len(sessions)

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
        non_json: bool = False,
    ) -> None:
        """The next `times` requests whose path starts with `path_prefix` get this error instead of an answer."""
        if message is None:
            message = DEFAULT_MESSAGES.get(status, http.HTTPStatus(status).name)
        self._faults.append(_Fault(path_prefix, status, times, message, retry_after, non_json))

    # ---------------------------------------------------------- observation

    def live_sessions(self) -> list[SessionView]:
        return [session.view() for session in self._live()]

    # The test-facing API asks for `timeout`; it is a plain trio.fail_after inside.
    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once predicate() holds; it is checked after every change of the fake's state."""
        with trio.fail_after(math.inf if timeout is None else timeout):
            while not predicate():
                await self._changed.wait()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _live(self) -> list[_Session]:
        return [session for session in self._sessions.values() if session.live]

    # ------------------------------------------------------ HTTP connection

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        """One keep-alive connection, one request at a time; a WebSocket upgrade takes the connection over."""
        await serve_connection(stream, self._answer)

    async def _answer(self, conn: h11.Connection, stream: trio.SocketStream, request: Request) -> bool:
        """Answer one request; True ends the connection with a TCP reset."""
        self.stats.requests += 1
        self._poke()
        if request.is_websocket:
            # The connection is the WebSocket's from here on, or closed if the handshake fails.
            fault = self._take_fault(request)
            if fault is not None:
                await send_reply(conn, stream, self._fault_reply(fault), close=True)
                return False
            return await self._websocket(conn, stream, request)
        try:
            reply = await self._dispatch(request)
        except _Abort as abort:
            return abort.rst  # nothing was answered, so the connection ends here
        try:
            await send_reply(conn, stream, reply)
        finally:
            if reply.after is not None:
                reply.after()
        return False

    def _take_fault(self, request: Request) -> _Fault | None:
        for fault in self._faults:
            if request.raw_path.startswith(fault.prefix) or request.path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                self.stats.faults += 1
                self._poke()
                return fault
        return None

    def _fault_reply(self, fault: _Fault) -> Reply:
        headers = () if fault.retry_after is None else (("retry-after", f"{fault.retry_after:g}"),)
        if fault.non_json:
            return Reply(fault.status, NON_JSON_BODY, "text/html", headers)
        body = compact_json({"code": fault.status, "message": fault.message}).encode()
        return Reply(fault.status, body, JSON_TYPE, headers)

    async def _dispatch(self, request: Request) -> Reply:
        fault = self._take_fault(request)
        if fault is not None:
            return self._fault_reply(fault)
        path = request.path
        try:
            if path == "/socket.io":
                return await self._engine_http(request)
            if path == "/account-interlock":
                return self._consent(request) if request.method == "GET" else _html_reply(405, "Method Not Allowed")
            route = self._route(request)
            if route is None:
                return _error_reply(_ApiError(404))
            method, handler = route
            if request.method != method:
                return _error_reply(_ApiError(405))
            return handler(request)
        except _ApiError as error:
            return _error_reply(error)

    def _route(self, request: Request) -> tuple[str, Callable[[Request], Reply]] | None:
        routes: dict[str, tuple[str, Callable[[Request], Reply]]] = {
            "/auth/v1/token": ("POST", self._token),
            "/auth/v1/token/revoke": ("POST", self._revoke_token),
            "/open/v1/users/me": ("GET", self._users_me),
            "/open/v1/sessions/auth": ("GET", partial(self._session_url, "user")),
            "/open/v1/sessions/auth/client": ("GET", partial(self._session_url, "client")),
            "/open/v1/sessions": ("GET", partial(self._session_list, "user")),
            "/open/v1/sessions/client": ("GET", partial(self._session_list, "client")),
        }
        route = routes.get(request.path)
        if route is not None:
            return route
        parts = request.path.split("/")
        # /open/v1/sessions/events/{subscribe|unsubscribe}/{chat|donation|subscription}
        if (
            len(parts) == 7
            and parts[1:5] == ["open", "v1", "sessions", "events"]
            and parts[5] in ("subscribe", "unsubscribe")
            and parts[6].upper() in EVENT_TYPES
            and parts[6].islower()
        ):
            return "POST", partial(self._subscribe, parts[5] == "subscribe", parts[6].upper())
        return None

    # ----------------------------------------------------------------- OAuth

    def _consent(self, request: Request) -> Reply:
        """The account-interlock page, consenting at once: 302 to redirectUri with a fresh code."""
        client_id, redirect_uri, state = (request.get(name) for name in ("clientId", "redirectUri", "state"))
        if not client_id or not redirect_uri or not state:
            return _html_reply(400, "clientId, redirectUri and state are required.")
        if client_id != self.client_id:
            return _html_reply(400, "등록되지 않은 애플리케이션입니다.")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(state, redirect_uri, trio.current_time() + CODE_TTL)
        separator = "&" if urlsplit(redirect_uri).query else "?"
        location = redirect_uri + separator + urlencode({"code": code, "state": state})
        return Reply(302, b"", "text/html;charset=UTF-8", (("location", location),))

    def _check_body_client(self, body: dict[str, Any]) -> None:
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            raise _ApiError(401, "INVALID_CLIENT")

    def _token(self, request: Request) -> Reply:
        body = _json_body(request)
        self._check_body_client(body)
        grant_type = body.get("grantType")
        now = trio.current_time()
        if grant_type == "authorization_code":
            code = self._codes.get(body.get("code") or "")
            state = body.get("state")
            if code is None or code.used or now >= code.expires_at or (state is not None and state != code.state):
                raise _ApiError(401, "INVALID_TOKEN")
            code.used = True
            self.stats.code_grants += 1
            access, refresh = self._issue_tokens(self.channel_id)
            self._poke()
            return _json_reply(self._token_content(access, refresh, scope=False))
        if grant_type == "refresh_token":
            if self.reject_refresh:
                self.stats.refresh_rejected += 1
                self._poke()
                raise _ApiError(401, "INVALID_TOKEN")
            old = self._refresh.get(body.get("refreshToken") or "")
            if old is not None and old.used:
                self.stats.refresh_reuse += 1
                self._poke()
            if old is None or old.used or old.revoked or now >= old.expires_at:
                raise _ApiError(401, "INVALID_TOKEN")
            old.used = True
            self.stats.refreshes += 1
            access, refresh = self._issue_tokens(old.owner)
            self._poke()
            return _json_reply(self._token_content(access, refresh, scope=True))
        raise _ApiError(400, "INVALID_GRANT_TYPE")

    def _revoke_token(self, request: Request) -> Reply:
        """Revokes every token of the same client and user (§2.2); an unknown token is no error (RFC 7009)."""
        body = _json_body(request)
        self._check_body_client(body)
        token = body.get("token") or ""
        found: _AccessToken | _RefreshToken | None = self._access.get(token) or self._refresh.get(token)
        if found is not None:
            for access in self._access.values():
                access.revoked = access.revoked or access.owner == found.owner
            for refresh in self._refresh.values():
                refresh.revoked = refresh.revoked or refresh.owner == found.owner
            self.stats.revokes += 1
            self._poke()
        return _json_reply(None)

    def _bearer_owner(self, request: Request) -> str:
        """The user behind the Bearer token; 401 INVALID_TOKEN if it is missing, unknown, expired or revoked."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        entry = self._access.get(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or not entry.valid(trio.current_time()):
            raise _ApiError(401, "INVALID_TOKEN")
        return entry.owner

    def _check_client_headers(self, request: Request, *, required: bool) -> None:
        client_id, secret = request.headers.get("client-id"), request.headers.get("client-secret")
        if client_id is None and secret is None and not required:
            return
        if client_id != self.client_id or secret != self.client_secret:
            raise _ApiError(401, "INVALID_CLIENT")

    # -------------------------------------------------------- REST: sessions

    def _users_me(self, request: Request) -> Reply:
        owner = self._bearer_owner(request)
        return _json_reply({"channelId": owner, "channelName": self.channel_name, "nickname": self.channel_name})

    def _session_url(self, kind: str, request: Request) -> Reply:
        if kind == "user":
            owner: str | None = self._bearer_owner(request)
        else:
            self._check_client_headers(request, required=True)
            owner = None
        self._check_session_limit(kind, owner)
        auth = secrets.token_urlsafe(96)  # 128 characters, like the real ones
        self._urls[auth] = _SessionUrl(kind, owner, trio.current_time() + self.session_url_ttl)
        self.stats.session_urls += 1
        self._poke()
        # Like "https://ssio08.nchat.naver.com:443?auth=...": no path; the client adds /socket.io/.
        return _json_reply({"url": f"{self.base_url}?auth={auth}"})

    def _check_session_limit(self, kind: str, owner: str | None) -> None:
        """At most 3 live user sessions per user and 10 client sessions (§2.4). The real refusal is
        unverified; a 400 here."""
        limit = MAX_USER_SESSIONS if kind == "user" else MAX_CLIENT_SESSIONS
        live = [session for session in self._live() if session.kind == kind and session.owner == owner]
        if len(live) >= limit:
            raise _ApiError(400, "SESSION_LIMIT_EXCEEDED")

    def _session_list(self, kind: str, request: Request) -> Reply:
        if kind == "user":
            owner: str | None = self._bearer_owner(request)
        else:
            self._check_client_headers(request, required=True)
            owner = None
        size = _int_param(request, "size", 20, 1, 50)
        page = _int_param(request, "page", 0, 0, 1_000_000)
        sessions = [s for s in reversed(self._sessions.values()) if s.kind == kind and s.owner == owner]
        data = []
        for session in sessions[page * size : (page + 1) * size]:
            item: dict[str, Any] = {"sessionKey": session.session_key, "connectedDate": session.connected_date}
            if session.disconnected_date is not None:
                item["disconnectedDate"] = session.disconnected_date
            item["subscribedEvents"] = [{"eventType": e, "channelId": c} for e, c in session.subscriptions]
            data.append(item)
        content = {
            "data": data,
            "page": page,
            "totalCount": len(sessions),
            "totalPages": math.ceil(len(sessions) / size),
        }
        return _json_reply(content)

    def _subscribe(self, subscribe: bool, event_type: str, request: Request) -> Reply:
        owner = self._bearer_owner(request)
        self._check_client_headers(request, required=False)  # chzzkpy sends them; the docs do not ask for them
        session_key = request.get("sessionKey")
        session = next((s for s in self._live() if s.session_key == session_key), None)
        if session is None:
            raise _ApiError(400, "INVALID_SESSION_KEY")
        key = (event_type, owner)
        if subscribe and key not in session.subscriptions and len(session.subscriptions) >= MAX_SUBSCRIPTIONS:
            # Unreachable with the fake's single channel (3 event types), kept to state the rule.
            raise _ApiError(400, "SUBSCRIPTION_LIMIT_EXCEEDED")

        def confirm() -> None:
            # The confirmation arrives on the socket after the HTTP answer (§2.6), and the subscription
            # takes effect with it, so no event overtakes its "subscribed".
            if not session.live:
                return
            if subscribe:
                session.subscriptions[key] = None
                self.stats.subscribes += 1
            else:
                session.subscriptions.pop(key, None)
                self.stats.unsubscribes += 1
            data = {"eventType": event_type, "channelId": owner}
            session.push(_event_frame("SYSTEM", {"type": "subscribed" if subscribe else "unsubscribed", "data": data}))
            self._poke()

        return _json_reply(None, after=confirm)

    # ------------------------------------------------------ Engine.IO: HTTP

    def _engine_check(self, request: Request) -> Reply | None:
        """The checks every /socket.io/ request goes through; an error reply, or None."""
        if request.get("EIO") != "3":
            return _engine_error(400, 5, "Unsupported protocol version")
        if request.get("transport") not in ("polling", "websocket"):
            return _engine_error(400, 0, "Transport unknown")
        return None

    def _take_session_url(self, request: Request) -> _SessionUrl | Reply:
        """Consume the single-use `auth` of a handshake; 401 if unknown, used or expired (the real answer is
        unverified: it may just close)."""
        url = self._urls.get(request.get("auth") or "")
        if url is not None and url.used:
            self.stats.used_url_uses += 1
        elif url is not None and trio.current_time() >= url.expires_at:
            self.stats.expired_url_uses += 1
        elif url is not None:
            url.used = True
            limit = MAX_USER_SESSIONS if url.kind == "user" else MAX_CLIENT_SESSIONS
            if sum(1 for s in self._live() if s.kind == url.kind and s.owner == url.owner) >= limit:
                return _error_reply(_ApiError(400, "SESSION_LIMIT_EXCEEDED"))
            return url
        self._poke()
        return Reply(401, compact_json({"code": 401, "message": "UNAUTHORIZED"}).encode(), JSON_TYPE)

    async def _engine_http(self, request: Request) -> Reply:
        error = self._engine_check(request)
        if error is not None:
            return error
        sid = request.get("sid")
        if sid is None:
            if request.get("transport") == "websocket":
                return _engine_error(400, 3, "Bad request")  # a websocket transport without an Upgrade
            if request.method != "GET":
                return _engine_error(400, 2, "Bad handshake method")
            url = self._take_session_url(request)
            if isinstance(url, Reply):
                return url
            opened = self._open_session(url, "polling")
            self.stats.handshakes_polling += 1
            self._poke()
            # Only the OPEN packet; "40" and SYSTEM connected wait for the next poll or the upgrade.
            return _payload_reply([self._open_packet(opened, ["websocket"])], request.get("b64") == "1")
        session = self._sessions.get(sid)
        if session is None or not session.engine_open:
            return _engine_error(400, 1, "Session ID unknown")
        if request.method == "GET":
            return await self._long_poll(session, request.get("b64") == "1")
        if request.method == "POST":
            try:
                packets = decode_payload(request.body)
            except ValueError:  # UnicodeDecodeError included
                return _engine_error(400, 3, "Bad request")
            for packet in packets:
                self._on_packet(session, packet)
            return Reply(200, b"ok", "text/html")
        return _engine_error(400, 3, "Bad request")

    async def _long_poll(self, session: _Session, b64: bool) -> Reply:
        """Queued packets at once, or wait for some; a noop after pingInterval, or when a WebSocket takes over."""
        if session.polling:
            return _engine_error(400, 3, "Bad request")  # overlapping polls
        if session.link is not None:
            return _engine_error(400, 3, "Bad request")  # upgraded: polling is over
        session.polling = True
        try:
            deadline = trio.current_time() + self.ping_interval
            while True:
                if session.ended_how == "abort":
                    raise _Abort(rst=session.rst)
                if session.outbox:
                    packets = list(session.outbox)
                    session.outbox.clear()
                    if "1" in packets:
                        session.engine_open = False  # the server's close has been delivered
                    return _payload_reply(packets, b64)
                if not session.engine_open:
                    return _payload_reply(["1"], b64)  # the client closed it meanwhile (POST "1")
                if session.noop_pending or session.link is not None:
                    session.noop_pending = False
                    return _payload_reply(["6"], b64)
                if trio.current_time() >= deadline:
                    return _payload_reply(["6"], b64)
                with trio.move_on_at(deadline):
                    await session.lot.park()
        finally:
            session.polling = False

    # ------------------------------------------------- Engine.IO: WebSocket

    async def _websocket(self, conn: h11.Connection, stream: trio.SocketStream, request: Request) -> bool:
        """Handshake (or refuse) a WebSocket on /socket.io/ and run it; returns True to end with a TCP reset."""
        refusal: Reply | None = None
        session: _Session | None = None
        url: _SessionUrl | None = None
        key = request.headers.get("sec-websocket-key")
        if request.path != "/socket.io":
            refusal = _error_reply(_ApiError(404))
        elif not key or request.method != "GET":
            refusal = _engine_error(400, 3, "Bad request")
        else:
            refusal = self._engine_check(request)
        sid = request.get("sid")
        if refusal is None and sid is not None:
            # An upgrade of a polling session: it must be live, still on polling, with no other WebSocket.
            session = self._sessions.get(sid)
            if session is None or not session.live or session.link is not None:
                refusal = _engine_error(400, 1, "Session ID unknown")
        elif refusal is None:
            taken = self._take_session_url(request)
            if isinstance(taken, Reply):
                refusal = taken
            else:
                url = taken
        if refusal is not None:
            await send_reply(conn, stream, refusal, close=True)
            return False

        assert key is not None
        link = _Link(stream, await accept_websocket(conn, stream, key))

        if url is not None:
            session = self._open_session(url, "websocket")
            session.link = link
            session.outbox.appendleft(self._open_packet(session, []))
            self.stats.handshakes_websocket += 1
            self._poke()
        assert session is not None
        session.links.add(link)
        if session.ended_how == "abort":
            link.rst = session.rst
            link.scope.cancel()  # dropped while the 101 was on its way
        try:
            with link.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._ws_reader, session, link)
                    nursery.start_soon(self._ws_writer, session, link)
        finally:
            session.links.discard(link)
        return link.rst

    async def _ws_send(self, link: _Link, event: Event) -> None:
        async with link.send_lock:
            # The state is checked under the lock: the other task may have begun the closing handshake
            # meanwhile, after which only a close frame (the answer to the client's) may still go out.
            closing_reply = isinstance(event, CloseConnection) and link.ws.state is WsState.REMOTE_CLOSING
            if link.ws.state is WsState.OPEN or closing_reply:
                await link.stream.send_all(link.ws.send(event))

    async def _ws_reader(self, session: _Session, link: _Link) -> None:
        """Read client frames until the client closes or the socket breaks; then end the session (if this
        WebSocket carried it) and the connection."""
        parts: list[str] = []
        try:
            while True:
                data = await link.stream.receive_some(65536)
                link.ws.receive_data(data or None)
                for event in link.ws.events():
                    if isinstance(event, TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            packet = "".join(parts)
                            parts.clear()
                            await self._on_ws_packet(session, link, packet)
                    elif isinstance(event, Ping):
                        await self._ws_send(link, event.response())
                    elif isinstance(event, CloseConnection):
                        if link.ws.state is WsState.REMOTE_CLOSING:
                            await self._ws_send(link, event.response())
                        return
                    elif isinstance(event, BytesMessage):
                        pass  # no binary packets in this protocol
                if not data:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if session.link is link:
                self._end(session, "client closed the socket", "gone")
                session.engine_open = False
            link.scope.cancel()

    async def _on_ws_packet(self, session: _Session, link: _Link, packet: str) -> None:
        if session.link is link:
            self._on_packet(session, packet)
            return
        # A probe WebSocket of a polling session (§2.5 variant B): answer the probe, switch on "5".
        if not session.live:
            return
        if packet.startswith("2"):
            session.probing = True
            if session.polling:
                session.noop_pending = True  # the pending long-poll answers a noop, so the client can pause polling
                session.lot.unpark_all()
            await self._ws_send(link, TextMessage(data="3" + packet[1:]))
        elif packet == "5" and session.probing:
            session.link = link
            session.transport = "websocket"
            session.probing = False
            self.stats.upgrades += 1
            session.lot.unpark_all()  # the writer flushes the queue ("40", SYSTEM connected, ...)
            self._poke()

    async def _ws_writer(self, session: _Session, link: _Link) -> None:
        """Send the session's queued packets, one per text frame, while this WebSocket carries it; when
        the session ends gracefully, a close frame, then give the client CLOSE_GRACE to answer it."""
        grace: float | None = None
        while True:
            if session.link is link:
                while session.outbox and link.ws.state is WsState.OPEN:
                    await self._ws_send(link, TextMessage(data=session.outbox.popleft()))
            if not session.live:
                if session.ended_how == "client" and session.engine_open and session.link is link:
                    # "41" only: the client's "1" or close frame should follow; close after CLOSE_GRACE if not.
                    grace = trio.current_time() + CLOSE_GRACE if grace is None else grace
                    if trio.current_time() < grace:
                        with trio.move_on_at(grace):
                            await session.lot.park()
                        continue
                if link.ws.state is WsState.OPEN:
                    await self._ws_send(link, CloseConnection(code=1000))
                await trio.sleep(CLOSE_GRACE)
                link.scope.cancel()
                return
            await session.lot.park()

    # ------------------------------------------------------- Engine.IO: sessions

    def _open_session(self, url: _SessionUrl, transport: str) -> _Session:
        assert self._nursery is not None
        now = trio.current_time()
        session = _Session(
            sid=secrets.token_urlsafe(15),
            session_key=secrets.token_urlsafe(24),
            kind=url.kind,
            owner=url.owner,
            transport=transport,
            opened_at=now,
            last_ping=now,
            connected_date=self._date(),
        )
        # Socket.IO v2 joins the default namespace by itself: the client never sends "40" (§2.5).
        session.outbox.append("40")
        if self.send_connected:
            session.outbox.append(
                _event_frame("SYSTEM", {"type": "connected", "data": {"sessionKey": session.session_key}})
            )
        self._sessions[session.sid] = session
        self._nursery.start_soon(self._watchdog, session)
        return session

    def _open_packet(self, session: _Session, upgrades: list[str]) -> str:
        body = {
            "sid": session.sid,
            "upgrades": upgrades,
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
        }
        return "0" + compact_json(body)

    def _on_packet(self, session: _Session, packet: str) -> None:
        """A client packet on the session's own transport (its WebSocket, or a polling POST)."""
        if not session.engine_open:
            return
        if packet.startswith("2"):
            session.last_ping = trio.current_time()
            self.stats.pings += 1
            if self.answer_pings:
                session.push("3" + packet[1:])  # echo a suffix such as "probe"
                self.stats.pongs += 1
            self._poke()
        elif packet == "1":
            # Engine.IO close: the session ends (if "41" has not ended it yet) and so does the connection.
            session.engine_open = False
            self._end(session, "client closed the connection", "client")
            session.lot.unpark_all()  # the writer sends its close frame; a pending poll answers "1"
        elif packet.startswith("41"):
            # Socket.IO disconnect: the Chzzk session is over; the engine waits for "1" or a close.
            self._end(session, "client left the namespace", "client")
        # Anything else ("40", client events, acks, noops) is ignored.

    async def _watchdog(self, session: _Session) -> None:
        """Close the session once no ping came for pingInterval + pingTimeout (engine.io's rule)."""
        while session.live:
            deadline = session.last_ping + self.ping_interval + self.ping_timeout
            if trio.current_time() >= deadline:
                self.stats.ping_timeouts += 1
                self._end(session, "ping timeout", "graceful")
                return
            with trio.move_on_at(deadline):
                await session.ended.wait()

    def _end(self, session: _Session, reason: str, how: str, *, rst: bool = False) -> None:
        """The session leaves live_sessions() now; its transport closes as `how` says:

        - "graceful", the server closes: a WebSocket sends what is queued, then a close frame; a polling
          client gets "1" from its next poll;
        - "client", the client sent "41" or "1": a WebSocket is closed on "1", on the client's close frame,
          or CLOSE_GRACE after "41"; polling requests are answered until "1";
        - "abort": the TCP connections are cut at once (a reset with `rst`);
        - "gone": the socket is already dead.
        """
        if not session.live:
            return
        session.live = False
        session.ended_how = how
        session.reason = reason
        session.disconnected_date = self._date()
        self.stats.sessions_closed += 1
        if how == "abort":
            session.engine_open = False
            session.rst = rst
            session.outbox.clear()
            for link in session.links:
                link.rst = rst
                link.scope.cancel()
        elif how == "gone":
            session.engine_open = False
            session.outbox.clear()  # nobody left to read it
        elif how == "graceful" and session.link is None and (not session.outbox or session.outbox[-1] != "1"):
            session.outbox.append("1")  # a polling client learns of the close from its next poll
        session.ended.set()
        session.lot.unpark_all()
        self._poke()

    def _date(self) -> str:
        """Session list dates: "2026-07-22 22:44:39", Korean local time, no zone (§2.1)."""
        return datetime.fromtimestamp(self.wall_ms() / 1000, KST).strftime("%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------------ helpers


def _variants(given: Iterable[str], allowed: frozenset[str]) -> frozenset[str]:
    chosen = frozenset(given)
    unknown = chosen - allowed
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; known: {sorted(allowed)}")
    return chosen


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _ApiError(400, "BAD_REQUEST")
    return body


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _ApiError(400, f"{name} 값이 올바르지 않습니다.")
    return int(raw)


# ---------------------------------------------------------------------- standalone

_VIEWERS = [
    ("viewer0001", "시청자"),
    ("viewer0002", "민수"),
    ("viewer0003", "지우"),
    ("viewer0004", "Alice"),
    ("viewer0005", "Bob"),
    ("viewer0006", "서연"),
]
_TEXTS = [
    "안녕하세요!",
    "오늘 방송 재밌어요 ㅋㅋㅋ",
    "처음 왔어요",
    "이거 무슨 게임이에요?",
    "화이팅!",
    "ㅋㅋㅋㅋㅋ",
    "hello from the chat",
    "first time here",
    "what game is this?",
    "GG",
    "can you say hi to Korea?",
]
CONFORMANCE_CHAT = "conformance chat 안녕"
CONFORMANCE_DONATION = "conformance donation"


async def _script_chat(fake: FakeChzzk, rng: random.Random) -> None:
    """Once a session reads CHAT: a chat every 0.3–2 s, a donation now and then, a subscription rarely."""
    while True:
        await fake.wait_until(lambda: any("CHAT" in s.subscribed for s in fake.live_sessions()))
        await trio.sleep(rng.uniform(0.3, 2.0))
        sender, nickname = rng.choice(_VIEWERS)
        roll = rng.random()
        if roll < 0.85:
            role = rng.choices(["common_user", "streaming_chat_manager", "streamer"], [0.9, 0.07, 0.03])[0]
            variants = ["role_top_level"] if rng.random() < 0.05 else []
            if role == "streamer":
                sender, nickname = fake.channel_id, fake.channel_name
            fake.chat(rng.choice(_TEXTS), sender=sender, nickname=nickname, role=role, variants=variants)
        elif roll < 0.97:
            amount = rng.choice([1000, 2000, 5000, 10000])
            fake.donation(amount, rng.choice(["응원합니다!", "thanks for the stream", ""]), nickname=nickname)
        else:
            fake.subscription(nickname=nickname, month=rng.randint(1, 24), tier_no=rng.choice([1, 2]))


async def _script_conformance(fake: FakeChzzk) -> None:
    """For tests/conformance: one CHAT and one DONATION once a session has subscribed to both."""
    await fake.wait_until(
        lambda: any({"CHAT", "DONATION"} <= s.subscribed for s in fake.live_sessions()),
    )
    fake.chat(CONFORMANCE_CHAT, sender="viewer0001", nickname="시청자")
    fake.donation(1000, CONFORMANCE_DONATION)


async def _main(args: argparse.Namespace) -> None:
    fake = FakeChzzk(
        client_id=args.client_id,
        client_secret=args.client_secret,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve, args.host, args.port)
        print(
            f"fake Chzzk: base_url={fake.base_url} auth_url={fake.auth_url} "
            f"client_id={fake.client_id} client_secret={fake.client_secret} (Ctrl-C to stop)",
            flush=True,
        )
        if args.script == "conformance":
            nursery.start_soon(_script_conformance, fake)
        else:
            nursery.start_soon(_script_chat, fake, random.Random())
        await stop_on_signal(nursery.cancel_scope)
    print("stats " + json.dumps(attrs.asdict(fake.stats)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Chzzk Open API and session server on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port (printed)")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--ping-interval", type=float, default=25.0, help="seconds, advertised in the OPEN packet")
    parser.add_argument("--ping-timeout", type=float, default=60.0, help="seconds, advertised in the OPEN packet")
    parser.add_argument("--script", choices=["chat", "conformance"], default="chat")
    trio.run(_main, parser.parse_args())


if __name__ == "__main__":
    main()
