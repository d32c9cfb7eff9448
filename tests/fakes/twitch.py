"""A faithful loopback fake of Twitch (OAuth, Helix, EventSub WebSocket), for tests.

It follows §8 of the Twitch reference notes (shared/reference/twitch.md), with §1–4 as the protocol facts.
Everything is served on ONE port of 127.0.0.1 by pure Trio + h11 + wsproto; the HTTP plumbing (request
parsing, replies, the WebSocket handshake) is the fakes' shared ``fakes._http``. It imports nothing from
``actors/``, so it stays independent of the client it tests. A client takes three bases: ``auth_url``
(``…/oauth2/``), ``helix_url`` (``…/helix/``) and ``ws_url`` (``ws://…/ws``).

OAuth (``/oauth2/``; parameters from the query string and/or a form body, as T-API sends both):

- ``POST /device`` (``client_id``, ``scopes`` space-separated) → ``device_code``, ``user_code``,
  ``interval`` 5, ``expires_in`` 1800, ``verification_uri`` on this port (``GET /activate`` answers a page).
  Only ``scopes`` is read: a client that spells it ``scope`` gets a scopeless grant (the trap of §1.2).
- ``POST /token``: the device grant answers 400 ``{"status":400,"message":"authorization_pending"}`` until
  ``approve(user_code, user_login, scopes)``; spent, unknown or expired codes give ``invalid device code``.
  Strict switches (off by default, as the reference asks): ``strict_slow_down`` (a poll sooner than
  ``interval`` after the last one → ``slow_down``, interval +5 s), ``strict_expired_token``,
  ``strict_access_denied`` (after ``deny``; without it a denied code answers ``invalid device code``).
  The refresh grant rotates one-time refresh tokens (reuse → 400 ``Invalid refresh token``, counted in
  ``stats.refresh_reuse``); public refresh tokens die 30 days after issue; public apps' ``client_secret``
  is ignored (T-API sends the literal ``"None"``), confidential apps' is checked (403 ``invalid client
  secret``). ``authorization_code`` (confidential apps, after ``GET /authorize`` 302 with ``code`` +
  ``state``, or ``error=access_denied`` when ``authorize_denies``) and ``client_credentials`` (app token).
- ``GET /validate`` (``OAuth`` or ``Bearer``) → ``{client_id, login, scopes, user_id, expires_in}``
  (app tokens without ``login``/``user_id``), else 401 ``invalid access token``; every call's trio time is
  kept in ``validate_times``. ``POST /revoke`` (``client_id``, ``token``).

Helix (``/helix/``; ``/eventsub/subscriptions`` is also mounted without the prefix, like the CLI):
``Authorization: Bearer`` and a matching ``Client-Id`` on every call (401 ``{"error","status","message"}``),
``Ratelimit-Limit/Remaining/Reset`` on every answer (a per client+user bucket of ``rate_limit`` points a
minute), ``GET /users``, and ``POST|GET|DELETE /eventsub/subscriptions`` with the checks of §8.3.

EventSub WebSocket (``/ws``): ``session_welcome`` with a new opaque id; 4003 when no subscription came
``subscribe_deadline`` s after it; ``session_keepalive`` after ``keepalive_timeout_seconds`` of silence
(clamped to 10–600 unless ``min_keepalive`` is lowered); a server Ping every ``ping_interval`` s and 4002
if no Pong in ``pong_timeout`` s; 4001 on any client data frame; ``reconnect()`` sends
``session_reconnect`` (§8.4); ``revoke(sub_id, status)`` one ``revocation``; closing a session disables its
subscriptions with the CLI's status mapping (``CLOSE_STATUS``), and they stay listed for an hour.

Fidelity choices where the reference is silent (its §7 "Unknowns"):

- Carried-over subscriptions keep their ids and report the new ``transport.session_id``. The new session
  keeps the old one's keepalive unless the reconnect URL names another.
- The subscriptions move to the new session at the instant its welcome is queued: the old socket delivers
  everything injected before, the new one everything after, so the fake loses and duplicates nothing.
- A reconnect URL whose old session is already gone (the client closed it first) gives 4007, as the
  issue threads report; so does an unknown or used challenge. 4007 sockets get no welcome.
- The subscribe deadline is ``subscribe_deadline`` (10 s) whatever the keepalive. Client Ping frames are
  answered and do not count as inbound traffic unless ``count_client_pings``.
- Closing by the client (close frame or EOF) gives ``websocket_disconnected``; ``drop()`` (TCP gone without a
  close frame) ``websocket_network_error``; an old socket that never saw its successor connect gets 4004 and
  ``websocket_failed_to_reconnect``.
- A refresh leaves the access token it replaces valid; ``POST /revoke`` of an access token also revokes the
  refresh token issued with it (and the other way round).
- Cost 0 when the token's user is in the condition (chat types always), else 1; ``total``/``total_cost``
  count the enabled WebSocket subscriptions of the token's client + user.
- Errors with undocumented wording: 400 ``invalid client``, 400 ``missing or invalid condition``, 400
  ``Invalid authorization code``, 429 ``subscription limit per websocket transport exceeded`` (>300),
  429 ``total cost exceeded``.

Time: every expiry and deadline reads ``trio.current_time()``, so the fake runs on
``trio.testing.MockClock(autojump_threshold=0)`` in the same ``trio.run`` as the client. Payload timestamps
(RFC 3339 with nanoseconds) come from ``wall_ns`` (real time by default). The fake is not thread-safe: a
client running in another thread (twitchAPI) must talk to it over the socket only.

Tests use it in a nursery::

    fake = FakeTwitch()
    await nursery.start(fake.serve)
    access, refresh = fake.grant()  # the broadcaster's user token with user:read:chat
    ... the client validates, connects to fake.ws_url, subscribes via fake.helix_url ...
    await fake.wait_until(lambda: fake.subscribed("channel.chat.message"))
    fake.chat("Hi chat")
    fake.reconnect()  # session_reconnect; fake.drop() for a TCP loss

It also runs on its own and plays a scripted chat in English and Korean to whatever subscribes::

    python tests/fakes/twitch.py --port 0 [--script chat|conformance] [--min-keepalive 1]

It prints one line with its URLs, the client id and a ready-made user token, and on Ctrl-C (or SIGTERM) a
last line ``stats {...}`` with its counters. ``--script conformance`` is for tests/conformance (twitchAPI):
the printed access token is already expired (``access_token_expired=true``: the client must refresh first),
and `_script_conformance` plays a short chat around a ``session_reconnect``, printing a ``sent {...}`` line
for each event it injects.
"""

from __future__ import annotations

import argparse
import base64
import copy
import http
import json
import math
import re
import secrets
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import h11
import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState as WsState
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

if not __package__:  # run as a script: tests/fakes/ is on sys.path, and fakes._http needs tests/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fakes._http import (
    Reply,
    Request,
    accept_websocket,
    close_websocket,
    compact_json,
    send_reply,
    serve_connection,
    stop_on_signal,
)

DEVICE_CODE_TTL = 1800.0
DEVICE_INTERVAL = 5
AUTH_CODE_TTL = 600.0
ACCESS_TOKEN_TTL = 4 * 3600.0  # "4 hours" (§1.2)
REFRESH_TOKEN_TTL = 30 * 86400.0  # public clients' refresh tokens (§1.2)
DISABLED_LISTED_FOR = 3600.0  # disabled subscriptions stay in GET for an hour (§2.5)
RECONNECT_GRACE = 30.0  # session_reconnect → 4004 (§2.3)
CLOSE_GRACE = 5.0  # after our close frame, how long the client may take to answer it
MAX_TRANSPORTS = 3  # WebSocket sessions with enabled subscriptions per client + user (§2.7)
MAX_SUBS_PER_SESSION = 300
MAX_TOTAL_COST = 10
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
READ_CHAT = "user:read:chat"

# Close code → the status the session's subscriptions get (the CLI's mapping, §8.4), and the reason text.
CLOSE_STATUS = {
    1000: "websocket_disconnected",
    4000: "websocket_internal_error",
    4001: "websocket_received_inbound_traffic",
    4002: "websocket_failed_ping_pong",
    4003: "websocket_connection_unused",
    4004: "websocket_failed_to_reconnect",
    4005: "websocket_network_timeout",
    4006: "websocket_network_error",
}
CLOSE_REASON = {
    1000: "",
    4000: "internal server error",
    4001: "sent inbound traffic",
    4002: "failed ping pong",
    4003: "connection unused",
    4004: "reconnect grace time expired",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect",
}

CHAT_TYPES = frozenset(
    {
        "channel.chat.message",
        "channel.chat.notification",
        "channel.chat.message_delete",
        "channel.chat.clear_user_messages",
        "channel.chat.clear",
    }
)
# (type, version) → (condition fields, scopes: any of which suffices; None = no scope needed).
SUBSCRIPTION_TYPES: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    **{(t, "1"): (("broadcaster_user_id", "user_id"), (READ_CHAT,)) for t in CHAT_TYPES},
    ("channel.cheer", "1"): (("broadcaster_user_id",), ("bits:read",)),
    ("channel.bits.use", "1"): (("broadcaster_user_id",), ("bits:read",)),
    ("channel.subscribe", "1"): (("broadcaster_user_id",), ("channel:read:subscriptions",)),
    ("channel.subscription.message", "1"): (("broadcaster_user_id",), ("channel:read:subscriptions",)),
    ("channel.subscription.gift", "1"): (("broadcaster_user_id",), ("channel:read:subscriptions",)),
    ("channel.ban", "1"): (("broadcaster_user_id",), ("channel:moderate",)),
    ("channel.moderate", "2"): (
        ("broadcaster_user_id", "moderator_user_id"),
        (
            "moderator:read:chat_messages",
            "moderator:manage:chat_messages",
            "moderator:read:banned_users",
            "moderator:manage:banned_users",
        ),
    ),
    ("channel.shared_chat.begin", "1"): (("broadcaster_user_id",), None),
    ("channel.shared_chat.update", "1"): (("broadcaster_user_id",), None),
    ("channel.shared_chat.end", "1"): (("broadcaster_user_id",), None),
}

# The notice objects of channel.chat.notification (§4.2), with the fake's defaults. A shared_chat_<x>
# notice has <x>'s shape under its own key.
NOTICE_DEFAULTS: dict[str, dict[str, Any]] = {
    "sub": {"sub_tier": "1000", "is_prime": False, "duration_months": 1},
    "resub": {
        "cumulative_months": 2,
        "duration_months": 1,
        "streak_months": None,
        "sub_tier": "1000",
        "is_prime": False,
        "is_gift": False,
        "gifter_is_anonymous": None,
        "gifter_user_id": None,
        "gifter_user_name": None,
        "gifter_user_login": None,
    },
    "sub_gift": {
        "duration_months": 1,
        "cumulative_total": None,
        "recipient_user_id": "5550002",
        "recipient_user_name": "Recipient",
        "recipient_user_login": "recipient",
        "sub_tier": "1000",
        "community_gift_id": None,
    },
    "community_sub_gift": {"id": "", "total": 1, "sub_tier": "1000", "cumulative_total": None},
    "gift_paid_upgrade": {
        "gifter_is_anonymous": False,
        "gifter_user_id": None,
        "gifter_user_name": None,
        "gifter_user_login": None,
    },
    "prime_paid_upgrade": {"sub_tier": "1000"},
    "pay_it_forward": {
        "gifter_is_anonymous": False,
        "gifter_user_id": None,
        "gifter_user_name": None,
        "gifter_user_login": None,
    },
    "raid": {
        "user_id": "6660001",
        "user_name": "Raider",
        "user_login": "raider",
        "viewer_count": 10,
        "profile_image_url": "https://static-cdn.jtvnw.net/jtv_user_pictures/raider-profile_image-70x70.png",
    },
    "unraid": {},
    "announcement": {"color": "PRIMARY"},
    "bits_badge_tier": {"tier": 100},
    "charity_donation": {
        "charity_name": "Example Charity",
        "amount": {"value": 500, "decimal_place": 2, "currency": "USD"},
    },
}
SHARED_NOTICES = (
    "sub",
    "resub",
    "sub_gift",
    "community_sub_gift",
    "gift_paid_upgrade",
    "prime_paid_upgrade",
    "raid",
    "pay_it_forward",
    "announcement",
)
# Every notification carries these keys, null but for the one named by notice_type.
NOTICE_KEYS = (*NOTICE_DEFAULTS, *(f"shared_chat_{name}" for name in SHARED_NOTICES))
NOTICE_SYSTEM_MESSAGES = {
    "sub": "{name} subscribed at Tier 1.",
    "resub": "{name} subscribed at Tier 1. They've subscribed for 2 months!",
    "sub_gift": "{name} gifted a Tier 1 sub to Recipient!",
    "community_sub_gift": "{name} is gifting subs to the community!",
    "raid": "{name} is raiding!",
    "charity_donation": "{name}: Donated to Example Charity",
}
CHEER_PREFIXES = ("cheer", "anon", "corgo", "uni", "showlove", "party", "seemsgood", "pride", "biblethump")
_CHEER_RE = re.compile(r"^(" + "|".join(CHEER_PREFIXES) + r")(\d+)$", re.IGNORECASE)


def _cheer_tier(bits: int) -> int:
    return max(tier for tier in (1, 100, 1000, 5000, 10000) if bits >= tier)


def _rfc3339(ns: int) -> str:
    """Like "2023-07-19T14:56:51.634234626Z": UTC, nanoseconds."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


# ------------------------------------------------------------------------ fragment helpers


def text_fragment(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}


def emote_fragment(
    text: str, emote_id: str, *, emote_set_id: str = "0", owner_id: str = "0", animated: bool = False
) -> dict[str, Any]:
    emote = {
        "id": emote_id,
        "emote_set_id": emote_set_id,
        "owner_id": owner_id,
        "format": ["static", "animated"] if animated else ["static"],
    }
    return {"type": "emote", "text": text, "cheermote": None, "emote": emote, "mention": None}


def cheermote_fragment(prefix: str, bits: int) -> dict[str, Any]:
    cheermote = {"prefix": prefix.lower(), "bits": bits, "tier": _cheer_tier(bits)}
    return {"type": "cheermote", "text": f"{prefix}{bits}", "cheermote": cheermote, "emote": None, "mention": None}


def mention_fragment(user_id: str, login: str, name: str) -> dict[str, Any]:
    mention = {"user_id": user_id, "user_name": name, "user_login": login}
    return {"type": "mention", "text": f"@{name}", "cheermote": None, "emote": None, "mention": mention}


def badge(set_id: str, id_: str = "1", info: str = "") -> dict[str, str]:
    return {"set_id": set_id, "id": id_, "info": info}


def fragments_of(text: str, emotes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Split text into fragments: cheermotes like "Cheer100", the given emotes (word → emote id), text."""
    fragments: list[dict[str, Any]] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            fragments.append(text_fragment("".join(pending)))
            pending.clear()

    for token in re.split(r"( )", text):
        cheer = _CHEER_RE.match(token)
        if cheer:
            flush()
            fragments.append(cheermote_fragment(cheer.group(1), int(cheer.group(2))))
        elif emotes and token in emotes:
            flush()
            fragments.append(emote_fragment(token, emotes[token]))
        elif token:
            pending.append(token)
    flush()
    return fragments


# ----------------------------------------------------------------------------- state


@attrs.define
class Stats:
    """Counters for assertions. Every change wakes `FakeTwitch.wait_until`."""

    requests: int = 0  # HTTP requests, WebSocket handshakes included
    faults: int = 0  # answers forced by fail_next
    device_codes: int = 0
    device_polls: int = 0
    slow_downs: int = 0
    token_grants: int = 0  # tokens issued by /token (any grant; grant() not counted)
    refreshes: int = 0
    refresh_reuse: int = 0  # a spent refresh token presented again
    refresh_rejected: int = 0  # refused by reject_refresh
    validates: int = 0
    revokes: int = 0
    helix_requests: int = 0
    subscribe_posts: int = 0
    subscribe_accepted: int = 0
    posts_after_reconnect: int = 0  # POSTs naming a session that was told to reconnect, or born of one
    sessions_opened: int = 0
    sessions_closed: int = 0
    keepalives: int = 0
    pings: int = 0
    pongs: int = 0
    inbound_frames: int = 0  # client data frames (each closes its socket with 4001)
    notifications: int = 0
    revocations: int = 0
    reconnects_sent: int = 0
    reconnects_completed: int = 0
    invalid_reconnects: int = 0  # 4007s
    drops: int = 0


@attrs.define(eq=False)
class User:
    id: str
    login: str
    display_name: str
    broadcaster_type: str = ""
    description: str = ""
    email: str | None = None
    created_at: str = "2016-12-14T20:32:28Z"

    def triple(self, role: str) -> dict[str, str]:
        return {f"{role}_user_id": self.id, f"{role}_user_login": self.login, f"{role}_user_name": self.display_name}


@attrs.define(eq=False)
class App:
    client_id: str
    confidential: bool = False
    secret: str | None = None
    redirect_uris: tuple[str, ...] = ("http://localhost",)


@attrs.define(eq=False)
class _Access:
    client_id: str
    user_id: str | None  # None: an app token
    scopes: tuple[str, ...]
    expires_at: float
    refresh: str | None = None
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@attrs.define(eq=False)
class _Refresh:
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
    access: str
    used: bool = False
    revoked: bool = False


@attrs.define(eq=False)
class _DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    interval: int = DEVICE_INTERVAL
    last_poll: float | None = None
    state: str = "pending"  # pending | approved | denied | used
    user_id: str | None = None
    granted: tuple[str, ...] = ()


@attrs.define(eq=False)
class _AuthCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


@attrs.define(eq=False)
class _Sub:
    id: str
    type: str
    version: str
    condition: dict[str, str]
    client_id: str
    user_id: str
    session_id: str
    cost: int
    created_at: str
    connected_at: str
    status: str = "enabled"
    disabled_at: float | None = None
    disconnected_at: str | None = None

    def json(self, *, connected_at: bool = False) -> dict[str, Any]:
        transport: dict[str, Any] = {"method": "websocket", "session_id": self.session_id}
        if connected_at:
            transport["connected_at"] = self.connected_at
        if self.disconnected_at is not None:
            transport["disconnected_at"] = self.disconnected_at
        return {
            "id": self.id,
            "status": self.status,
            "type": self.type,
            "version": self.version,
            "condition": dict(self.condition),
            "transport": transport,
            "created_at": self.created_at,
            "cost": self.cost,
        }


@attrs.frozen
class SessionView:
    """An EventSub session as tests see it."""

    id: str
    live: bool
    keepalive: int
    opened_at: float  # trio time of the handshake (= of the welcome)
    first_subscribe_at: float | None  # trio time of the first accepted POST naming it
    posts: int  # subscription POSTs naming it (accepted or not)
    inbound_frames: int
    subscriptions: tuple[str, ...]  # ids of the enabled subscriptions it delivers
    reconnected_from: str | None  # the old session's id, for a session born of a session_reconnect
    reconnect_sent: bool  # it was told to reconnect
    close_code: int | None

    @property
    def subscribe_latency(self) -> float | None:
        """Welcome → first accepted subscription, in seconds."""
        return None if self.first_subscribe_at is None else self.first_subscribe_at - self.opened_at


@attrs.define(eq=False)
class _Session:
    id: str
    stream: trio.SocketStream
    ws: WsConnection
    keepalive: int
    opened_at: float
    connected_at: str
    last_sent: float
    next_ping: float
    live: bool = True
    client_id: str | None = None  # the owner, set by the first accepted subscription
    user_id: str | None = None
    subscribed_once: bool = False
    first_subscribe_at: float | None = None
    posts: int = 0
    inbound_frames: int = 0
    keepalives: bool = True
    pong_deadline: float | None = None
    reconnected_from: str | None = None
    reconnect_sent: bool = False
    reconnect_deadline: float | None = None
    successor: str | None = None
    close_code: int | None = None  # once closing or closed
    close_reason: str = ""
    aborted: bool = False
    rst: bool = False
    outbox: deque[str] = attrs.field(factory=deque)
    send_lock: trio.Lock = attrs.field(factory=trio.Lock)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    lot: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    peer_closed: trio.Event = attrs.field(factory=trio.Event)

    def push(self, text: str) -> None:
        self.outbox.append(text)
        self.lot.unpark_all()


@attrs.define(eq=False)
class _Fault:
    prefix: str
    status: int
    times: int
    message: str


class _TwitchError(Exception):
    """An answer in one of Twitch's error envelopes: ``{"status","message"}`` (id.twitch.tv) or
    ``{"error","status","message"}`` (Helix)."""

    def __init__(
        self, status: int, message: str, *, helix: bool = False, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.helix = helix
        self.headers = headers  # e.g. the emptied bucket's Ratelimit-* on its 429


def _error_reply(error: _TwitchError, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body: dict[str, Any] = {"status": error.status, "message": error.message}
    if error.helix:
        body = {"error": _status_phrase(error.status), **body}
    return Reply(error.status, compact_json(body).encode(), "application/json", headers)


def _status_phrase(status: int) -> str:
    return http.HTTPStatus(status).phrase


def _json(value: Any, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, compact_json(value).encode(), "application/json", headers)


# -------------------------------------------------------------------------- the fake


class FakeTwitch:
    """The fake server, its registries, injectors, fault switches and what it saw (`stats`, `sessions()`)."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        confidential_client_id: str = "fake-confidential-id",
        confidential_secret: str = "fake-secret",
        redirect_uri: str = "http://localhost:17563",
        access_token_ttl: float = ACCESS_TOKEN_TTL,
        subscribe_deadline: float | None = 10.0,
        min_keepalive: int = 10,
        ping_interval: float | None = 30.0,
        pong_timeout: float = 10.0,
        rate_limit: int = 800,
        page_size: int = 100,
        wall_ns: Callable[[], int] | None = None,
    ) -> None:
        self.client_id = client_id
        self.apps: dict[str, App] = {}
        self.add_app(client_id)
        self.add_app(
            confidential_client_id, confidential=True, secret=confidential_secret, redirect_uris=(redirect_uri,)
        )
        self.confidential_client_id = confidential_client_id
        self.users: dict[str, User] = {}
        self.broadcaster = self.add_user("1971641", "streamer", "Streamer")
        self.viewer = self.add_user("4145994", "viewer32", "viewer32")
        self.bot = self.add_user("2914196", "chatbot", "ChatBot")
        self.korean_viewer = self.add_user("5550001", "minsu_kr", "민수")
        self.partner = self.add_user("9990001", "partner", "Partner")  # a shared-chat participant

        self.access_token_ttl = access_token_ttl
        self.subscribe_deadline = subscribe_deadline
        self.min_keepalive = min_keepalive  # 10 as in production; lower it for fast watchdog tests
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.rate_limit = rate_limit
        self.page_size = page_size
        self.wall_ns: Callable[[], int] = wall_ns if wall_ns is not None else time.time_ns

        # Fault switches.
        self.strict_slow_down = False
        self.strict_expired_token = False
        self.strict_access_denied = False
        self.reject_refresh = False
        self.authorize_denies = False
        self.authorize_user = self.broadcaster
        self.count_client_pings = False
        self.banned_readers: set[str] = set()  # user ids whose chat subscriptions get 403

        self.stats = Stats()
        self.validate_times: list[float] = []
        self.port: int | None = None
        self._nursery: trio.Nursery | None = None
        self._changed = trio.Event()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._devices: dict[str, _DeviceCode] = {}  # by device_code
        self._auth_codes: dict[str, _AuthCode] = {}
        self._sessions: dict[str, _Session] = {}
        self._subs: dict[str, _Sub] = {}
        self._challenges: dict[str, tuple[str, bool]] = {}  # challenge → (old session id, used)
        self._buckets: dict[tuple[str, str | None], list[float]] = {}  # → [remaining, reset_at]
        self._faults: list[_Fault] = []
        self._sent: list[tuple[dict[str, Any], _Sub]] = []  # notifications, for resend()

    # ------------------------------------------------------------------ registries

    def add_app(
        self,
        client_id: str,
        *,
        confidential: bool = False,
        secret: str | None = None,
        redirect_uris: Iterable[str] = ("http://localhost",),
    ) -> App:
        app = App(client_id, confidential, secret, tuple(redirect_uris))
        self.apps[client_id] = app
        return app

    def add_user(self, id_: str, login: str, display_name: str, **extra: Any) -> User:
        user = User(id_, login, display_name, **extra)
        self.users[id_] = user
        return user

    def user(self, who: str | User) -> User:
        """A user by id, login or itself."""
        if isinstance(who, User):
            return who
        if who in self.users:
            return self.users[who]
        for user in self.users.values():
            if user.login == who.lower():
                return user
        raise KeyError(who)

    # ---------------------------------------------------------------------- serving

    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve HTTP/1.1 and WebSocket on one port until cancelled; task_status.started(the bound port)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await nursery.start(partial(trio.serve_tcp, self._serve_connection, port, host=host))
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started(self.port)

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTwitch URLs are valid only once serve() has started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        """``http://127.0.0.1:<p>/oauth2/`` (trailing slash: T-API concatenates)."""
        return self.base_url + "/oauth2/"

    @property
    def helix_url(self) -> str:
        return self.base_url + "/helix/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    # ------------------------------------------------------------------------ tokens

    def grant(
        self,
        user: str | User | None = None,
        scopes: Iterable[str] = (READ_CHAT,),
        *,
        client_id: str | None = None,
    ) -> tuple[str, str]:
        """An (access_token, refresh_token) pair as if OAuth had happened (the broadcaster's by default)."""
        who = self.broadcaster if user is None else self.user(user)
        return self._issue(client_id or self.client_id, who.id, tuple(scopes))

    def app_token(self, client_id: str | None = None) -> str:
        token = secrets.token_hex(15)
        cid = client_id or self.confidential_client_id
        self._access[token] = _Access(cid, None, (), trio.current_time() + self.access_token_ttl)
        return token

    def approve(
        self, user_code: str, user_login: str | User | None = None, scopes: Iterable[str] | None = None
    ) -> None:
        """The user enters user_code on the activation page and consents (to `scopes`, by default those asked)."""
        device = self._device_by_user_code(user_code)
        who = self.broadcaster if user_login is None else self.user(user_login)
        device.state, device.user_id = "approved", who.id
        device.granted = device.scopes if scopes is None else tuple(scopes)
        self._poke()

    def deny(self, user_code: str) -> None:
        self._device_by_user_code(user_code).state = "denied"
        self._poke()

    def device_codes(self) -> list[dict[str, Any]]:
        return [attrs.asdict(device) for device in self._devices.values()]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 (validate and Helix) from now on."""
        for token in self._access.values():
            token.expires_at = -math.inf
        self._poke()

    def revoke_user(self, user: str | User) -> None:
        """The user disconnects the app (or changes password): all their tokens die."""
        who = self.user(user)
        for access in self._access.values():
            access.revoked = access.revoked or access.user_id == who.id
        for refresh in self._refresh.values():
            refresh.revoked = refresh.revoked or refresh.user_id == who.id
        self._poke()

    password_change = revoke_user

    def _issue(self, client_id: str, user_id: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        now = trio.current_time()
        access, refresh = secrets.token_hex(15), secrets.token_hex(25)
        self._access[access] = _Access(client_id, user_id, scopes, now + self.access_token_ttl, refresh)
        self._refresh[refresh] = _Refresh(client_id, user_id, scopes, now + REFRESH_TOKEN_TTL, access)
        return access, refresh

    def _token_body(self, access: str, refresh: str) -> dict[str, Any]:
        entry = self._access[access]
        return {
            "access_token": access,
            "expires_in": round(self.access_token_ttl),
            "refresh_token": refresh,
            "scope": list(entry.scopes),
            "token_type": "bearer",
        }

    def _device_by_user_code(self, user_code: str) -> _DeviceCode:
        for device in self._devices.values():
            if device.user_code == user_code:
                return device
        raise KeyError(user_code)

    # --------------------------------------------------------------------- injectors

    def chat(
        self,
        text: str = "Hi chat",
        *,
        chatter: str | User | None = None,
        fragments: list[dict[str, Any]] | None = None,
        emotes: dict[str, str] | None = None,
        badges: list[dict[str, str]] | None = None,
        bits: int | None = None,
        reply_to: dict[str, Any] | None = None,
        source: str | User | None = None,
        is_source_only: bool | None = None,
        message_type: str = "text",
        color: str = "#00FF7F",
        reward_id: str | None = None,
        message_id: str | None = None,
        broadcaster: str | User | None = None,
    ) -> dict[str, Any]:
        """A ``channel.chat.message`` (§4.1) to every session subscribed to it; returns the event.

        Fragments come from `text` (cheermotes such as "Cheer100", `emotes` word → id) unless given.
        `bits` sets ``cheer`` (by default the sum of the cheermotes, null without any). `reply_to` is an
        event returned earlier. `source` (a shared-chat partner) fills the ``source_*`` fields.
        """
        who = self.viewer if chatter is None else self.user(chatter)
        host = self.broadcaster if broadcaster is None else self.user(broadcaster)
        frags = fragments_of(text, emotes) if fragments is None else fragments
        if bits is None:
            cheered = sum(f["cheermote"]["bits"] for f in frags if f["type"] == "cheermote")
            bits = cheered or None
        reply = None
        if reply_to is not None:
            reply = {
                "parent_message_id": reply_to["message_id"],
                "parent_message_body": reply_to["message"]["text"],
                "parent_user_id": reply_to["chatter_user_id"],
                "parent_user_name": reply_to["chatter_user_name"],
                "parent_user_login": reply_to["chatter_user_login"],
                "thread_message_id": (reply_to.get("reply") or {}).get("thread_message_id") or reply_to["message_id"],
                "thread_user_id": (reply_to.get("reply") or {}).get("thread_user_id") or reply_to["chatter_user_id"],
                "thread_user_name": (reply_to.get("reply") or {}).get("thread_user_name")
                or reply_to["chatter_user_name"],
                "thread_user_login": (reply_to.get("reply") or {}).get("thread_user_login")
                or reply_to["chatter_user_login"],
            }
            if fragments is None:
                parent = reply_to["chatter_user_name"]
                mention = mention_fragment(reply_to["chatter_user_id"], reply_to["chatter_user_login"], parent)
                frags = [mention, text_fragment(" "), *frags]
                text = f"@{parent} {text}"
        event: dict[str, Any] = {
            **host.triple("broadcaster"),
            **who.triple("chatter"),
            "message_id": message_id or str(uuid.uuid4()),
            "message": {"text": text, "fragments": frags},
            "message_type": message_type,
            "badges": list(badges) if badges is not None else [],
            "cheer": {"bits": bits} if bits else None,
            "color": color,
            "reply": reply,
            "channel_points_custom_reward_id": reward_id,
            "channel_points_animation_id": None,
            **self._source_fields(source, is_source_only),
        }
        self._notify("channel.chat.message", event, host.id)
        return event

    def notification(
        self,
        notice_type: str,
        *,
        chatter: str | User | None = None,
        anonymous: bool = False,
        text: str = "",
        system_message: str | None = None,
        badges: list[dict[str, str]] | None = None,
        source: str | User | None = None,
        is_source_only: bool | None = None,
        decimal_key: str = "decimal_place",
        message_id: str | None = None,
        broadcaster: str | User | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A ``channel.chat.notification`` (§4.2); `fields` override the notice object's defaults.

        ``shared_chat_<x>`` notices have <x>'s shape and come from `source` (the partner by default).
        ``charity_donation`` takes ``decimal_key="decimal_places"`` for twurple's spelling. An unknown
        notice type gets an object of just `fields` under its name.
        """
        who = self.viewer if chatter is None else self.user(chatter)
        host = self.broadcaster if broadcaster is None else self.user(broadcaster)
        base = notice_type.removeprefix("shared_chat_")
        obj = copy.deepcopy(NOTICE_DEFAULTS.get(base, {})) | fields
        if base == "charity_donation" and decimal_key != "decimal_place":
            amount = dict(obj["amount"])
            amount[decimal_key] = amount.pop("decimal_place", 2)
            obj["amount"] = amount
        if base == "community_sub_gift" and not obj["id"]:
            obj["id"] = str(secrets.randbelow(10**19))
        if notice_type.startswith("shared_chat_") and source is None:
            source = self.partner
        chatter_fields = who.triple("chatter")
        if anonymous:
            chatter_fields = {"chatter_user_id": "274598607", "chatter_user_login": "ananonymousgifter"}
            chatter_fields["chatter_user_name"] = "AnAnonymousGifter"
        name = chatter_fields["chatter_user_name"]
        event: dict[str, Any] = {
            **host.triple("broadcaster"),
            **chatter_fields,
            "chatter_is_anonymous": anonymous,
            "color": "" if anonymous else "#FF4500",
            "badges": list(badges) if badges is not None else [],
            "system_message": system_message
            if system_message is not None
            else NOTICE_SYSTEM_MESSAGES.get(base, "{name}: " + notice_type).format(name=name),
            "message_id": message_id or str(uuid.uuid4()),
            "message": {"text": text, "fragments": fragments_of(text) if text else []},
            "notice_type": notice_type,
            **dict.fromkeys(NOTICE_KEYS),
            **self._source_fields(source, is_source_only),
        }
        event[notice_type] = obj
        self._notify("channel.chat.notification", event, host.id)
        return event

    def community_gift(
        self,
        total: int,
        *,
        gifter: str | User | None = None,
        anonymous: bool = False,
        sub_tier: str = "1000",
        recipients: Iterable[str | User] | None = None,
        cumulative_total: int | None = None,
    ) -> list[dict[str, Any]]:
        """A ``community_sub_gift`` and its `total` ``sub_gift``s sharing its ``community_gift_id`` (§4.5)."""
        gift_id = str(secrets.randbelow(10**19))
        bundle = self.notification(
            "community_sub_gift",
            chatter=gifter,
            anonymous=anonymous,
            id=gift_id,
            total=total,
            sub_tier=sub_tier,
            cumulative_total=None if anonymous else cumulative_total,
        )
        people = [self.user(r) for r in recipients] if recipients is not None else []
        while len(people) < total:
            n = len(people) + 1
            people.append(User(f"70000{n:02d}", f"giftee{n}", f"Giftee{n}"))
        events = [bundle]
        for person in people[:total]:
            events.append(
                self.notification(
                    "sub_gift",
                    chatter=gifter,
                    anonymous=anonymous,
                    recipient_user_id=person.id,
                    recipient_user_name=person.display_name,
                    recipient_user_login=person.login,
                    sub_tier=sub_tier,
                    community_gift_id=gift_id,
                )
            )
        return events

    def message_delete(self, message_id: str, target: str | User | None = None) -> dict[str, Any]:
        who = self.viewer if target is None else self.user(target)
        event = {**self.broadcaster.triple("broadcaster"), **who.triple("target"), "message_id": message_id}
        self._notify("channel.chat.message_delete", event, self.broadcaster.id)
        return event

    def clear_user_messages(self, target: str | User) -> dict[str, Any]:
        event = {**self.broadcaster.triple("broadcaster"), **self.user(target).triple("target")}
        self._notify("channel.chat.clear_user_messages", event, self.broadcaster.id)
        return event

    def clear(self) -> dict[str, Any]:
        event = self.broadcaster.triple("broadcaster")
        self._notify("channel.chat.clear", event, self.broadcaster.id)
        return event

    def event(self, sub_type: str, event: dict[str, Any], *, version: str = "1") -> dict[str, Any]:
        """Any other event (channel.cheer, channel.ban, …) as given, to the broadcaster's subscribers."""
        self._notify(sub_type, event, event.get("broadcaster_user_id", self.broadcaster.id), version)
        return event

    def resend(self, event: dict[str, Any], *, new_message_id: bool = False) -> int:
        """Deliver an injected event again: the same envelope (same ``metadata.message_id``), or with a new
        ``metadata.message_id`` and timestamp (the duplicates of twitchdev/issues#918). Returns how many."""
        count = 0
        for envelope, sub in list(self._sent):
            if envelope["payload"]["event"] is not event or sub.status != "enabled":
                continue
            session = self._sessions.get(sub.session_id)
            if session is None or not session.live:
                continue
            again = copy.deepcopy(envelope)
            if new_message_id:
                again["metadata"]["message_id"] = str(uuid.uuid4())
                again["metadata"]["message_timestamp"] = _rfc3339(self.wall_ns())
            again["payload"]["subscription"] = sub.json()
            session.push(compact_json(again))
            self.stats.notifications += 1
            count += 1
        self._poke()
        return count

    def send_raw(self, text: str, session_id: str | None = None) -> int:
        """A raw text frame (malformed JSON, say) to one or every live session."""
        sessions = self._targets(session_id)
        for session in sessions:
            session.push(text)
        return len(sessions)

    def send_message_type(self, message_type: str, payload: Any = None, session_id: str | None = None) -> int:
        """A well-formed envelope with any ``message_type`` (an unknown one, say)."""
        return self.send_raw(compact_json(self._envelope(message_type, {} if payload is None else payload)), session_id)

    def _source_fields(self, source: str | User | None, is_source_only: bool | None) -> dict[str, Any]:
        if source is None:
            return {
                "source_broadcaster_user_id": None,
                "source_broadcaster_user_login": None,
                "source_broadcaster_user_name": None,
                "source_message_id": None,
                "source_badges": None,
                "is_source_only": is_source_only,
            }
        return {
            **self.user(source).triple("source_broadcaster"),
            "source_message_id": str(uuid.uuid4()),
            "source_badges": [],
            "is_source_only": False if is_source_only is None else is_source_only,
        }

    def _envelope(self, message_type: str, payload: Any, sub: _Sub | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "message_id": str(uuid.uuid4()),
            "message_type": message_type,
            "message_timestamp": _rfc3339(self.wall_ns()),
        }
        if sub is not None:
            metadata["subscription_type"] = sub.type
            metadata["subscription_version"] = sub.version
        return {"metadata": metadata, "payload": payload}

    def _notify(self, sub_type: str, event: dict[str, Any], broadcaster_id: str, version: str = "1") -> int:
        count = 0
        for sub in self._subs.values():
            if sub.status != "enabled" or sub.type != sub_type or sub.version != version:
                continue
            if sub.condition.get("broadcaster_user_id") != broadcaster_id:
                continue
            session = self._sessions.get(sub.session_id)
            if session is None or not session.live:
                continue
            envelope = self._envelope("notification", {"subscription": sub.json(), "event": event}, sub)
            session.push(compact_json(envelope))
            self._sent.append((envelope, sub))
            count += 1
        del self._sent[:-2000]
        self.stats.notifications += count
        self._poke()
        return count

    # ------------------------------------------------------------ sessions and faults

    def reconnect(self, session_id: str | None = None) -> list[str]:
        """Send ``session_reconnect`` to one or every live session; returns the reconnect URLs."""
        urls = []
        now = trio.current_time()
        for session in self._targets(session_id):
            if session.reconnect_sent:
                continue
            challenge = str(uuid.uuid4())
            self._challenges[challenge] = (session.id, False)
            url = f"{self.ws_url}?{urlencode({'challenge': challenge, 'id': secrets.token_urlsafe(18)})}"
            payload = {
                "session": {
                    "id": session.id,
                    "status": "reconnecting",
                    "keepalive_timeout_seconds": None,
                    "reconnect_url": url,
                    "connected_at": session.connected_at,
                }
            }
            session.reconnect_sent = True
            session.reconnect_deadline = now + RECONNECT_GRACE
            session.push(compact_json(self._envelope("session_reconnect", payload)))
            self.stats.reconnects_sent += 1
            urls.append(url)
        self._poke()
        return urls

    def revoke(self, sub_id: str, status: str = "authorization_revoked") -> bool:
        """Disable a subscription and send one ``revocation`` to its session (if live)."""
        sub = self._subs.get(sub_id)
        if sub is None or sub.status != "enabled":
            return False
        sub.status = status
        sub.disabled_at = trio.current_time()
        session = self._sessions.get(sub.session_id)
        if session is not None and session.live:
            session.push(compact_json(self._envelope("revocation", {"subscription": sub.json()}, sub)))
            self.stats.revocations += 1
        self._poke()
        return True

    def close(self, code: int = 4000, session_id: str | None = None, reason: str | None = None) -> int:
        """Close one or every live session with a close frame bearing `code`."""
        sessions = self._targets(session_id)
        for session in sessions:
            self._close(session, code, reason)
        return len(sessions)

    def drop(self, session_id: str | None = None, *, rst: bool = False) -> int:
        """Cut one or every live session's TCP connection without a close frame (a reset with `rst`)."""
        sessions = self._targets(session_id)
        for session in sessions:
            self._end(session, "websocket_network_error")
            session.aborted, session.rst = True, rst
            session.scope.cancel()
        self.stats.drops += len(sessions)
        self._poke()
        return len(sessions)

    def set_keepalives(self, enabled: bool, session_id: str | None = None) -> None:
        """Silence (or resume) keepalives: a socket that stays open but says nothing."""
        for session in self._targets(session_id):
            session.keepalives = enabled
            if enabled:
                session.last_sent = trio.current_time()
            session.lot.unpark_all()

    def fail_next(self, path_prefix: str, status: int, *, times: int = 1, message: str | None = None) -> None:
        """The next `times` requests whose path starts with `path_prefix` get this error (Helix envelope under
        /helix, the id.twitch.tv one elsewhere); e.g. ``fail_next("/helix/eventsub", 429)``."""
        self._faults.append(_Fault(path_prefix, status, times, message or _status_phrase(status)))

    def exhaust_rate_limit(self) -> None:
        """Every bucket is empty until its reset: Helix answers 429 with Ratelimit-Remaining 0."""
        for bucket in self._buckets.values():
            bucket[0] = 0
        self._poke()

    # --------------------------------------------------------------------- observation

    def sessions(self) -> list[SessionView]:
        return [self._view(session) for session in self._sessions.values()]

    def live_sessions(self) -> list[SessionView]:
        return [self._view(session) for session in self._sessions.values() if session.live]

    def session(self, session_id: str) -> SessionView:
        return self._view(self._sessions[session_id])

    def subscriptions(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        return [sub.json() for sub in self._subs.values() if not enabled_only or sub.status == "enabled"]

    def subscribed(self, sub_type: str) -> bool:
        """Whether a live session delivers `sub_type`."""
        return any(
            sub.status == "enabled"
            and sub.type == sub_type
            and sub.session_id in self._sessions
            and self._sessions[sub.session_id].live
            for sub in self._subs.values()
        )

    # The test-facing API asks for `timeout`; it is a plain trio.fail_after inside.
    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once predicate() holds; it is checked after every change of the fake's state."""
        with trio.fail_after(math.inf if timeout is None else timeout):
            while not predicate():
                await self._changed.wait()

    def _view(self, session: _Session) -> SessionView:
        subs = tuple(s.id for s in self._subs.values() if s.session_id == session.id and s.status == "enabled")
        return SessionView(
            id=session.id,
            live=session.live,
            keepalive=session.keepalive,
            opened_at=session.opened_at,
            first_subscribe_at=session.first_subscribe_at,
            posts=session.posts,
            inbound_frames=session.inbound_frames,
            subscriptions=subs,
            reconnected_from=session.reconnected_from,
            reconnect_sent=session.reconnect_sent,
            close_code=session.close_code,
        )

    def _targets(self, session_id: str | None) -> list[_Session]:
        return [s for s in self._sessions.values() if s.live and (session_id is None or s.id == session_id)]

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ------------------------------------------------------------------- HTTP plumbing

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        # A request h11 cannot parse ends the connection unanswered.
        await serve_connection(stream, self._answer, answer_bad_requests=False)

    async def _answer(self, conn: h11.Connection, stream: trio.SocketStream, request: Request) -> bool:
        """Answer one request; True ends the connection with a TCP reset."""
        self.stats.requests += 1
        self._poke()
        if request.is_websocket:
            return await self._websocket(conn, stream, request)
        await send_reply(conn, stream, self._dispatch(request))
        return False

    def _dispatch(self, request: Request) -> Reply:
        path = request.path
        for fault in self._faults:
            if path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                self.stats.faults += 1
                helix = path.startswith(("/helix", "/eventsub"))
                return _error_reply(_TwitchError(fault.status, fault.message, helix=helix), self._rate_headers(None))
        routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
            ("POST", "/oauth2/device"): self._device,
            ("POST", "/oauth2/token"): self._token,
            ("GET", "/oauth2/validate"): self._validate,
            ("POST", "/oauth2/revoke"): self._revoke,
            ("GET", "/oauth2/authorize"): self._authorize,
            ("GET", "/activate"): self._activate,
            ("GET", "/helix/users"): self._users,
        }
        for prefix in ("/helix/eventsub/subscriptions", "/eventsub/subscriptions"):
            routes[("POST", prefix)] = self._subscribe
            routes[("GET", prefix)] = self._list_subs
            routes[("DELETE", prefix)] = self._delete_sub
        handler = routes.get((request.method, path))
        helix = path.startswith(("/helix", "/eventsub"))
        if handler is None:
            known = any(route_path == path for _, route_path in routes)
            status = 405 if known else 404
            return _error_reply(_TwitchError(status, _status_phrase(status), helix=helix))
        try:
            return handler(request)
        except _TwitchError as error:
            return _error_reply(error, error.headers or (self._rate_headers(None) if error.helix else ()))

    # ------------------------------------------------------------------------ OAuth

    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        """Query string and form body (T-API posts query strings on bodyless POSTs)."""
        merged = {k: v[0] for k, v in request.params.items()}
        if request.body and "json" not in request.headers.get("content-type", ""):
            form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            merged |= {k: v[0] for k, v in form.items()}
        elif request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                body = None
            if isinstance(body, dict):
                merged |= {k: str(v) for k, v in body.items()}
        return merged

    def _app(self, params: dict[str, str]) -> App:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise _TwitchError(400, "invalid client")
        return app

    def _device(self, request: Request) -> Reply:
        params = self._params(request)
        app = self._app(params)
        device_code = secrets.token_urlsafe(30)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
        scopes = tuple(params.get("scopes", "").split())
        now = trio.current_time()
        self._devices[device_code] = _DeviceCode(device_code, user_code, app.client_id, scopes, now + DEVICE_CODE_TTL)
        self.stats.device_codes += 1
        self._poke()
        return _json(
            {
                "device_code": device_code,
                "expires_in": round(DEVICE_CODE_TTL),
                "interval": DEVICE_INTERVAL,
                "user_code": user_code,
                "verification_uri": f"{self.base_url}/activate?public=true&device-code={user_code}",
            }
        )

    def _activate(self, request: Request) -> Reply:
        code = request.get("device-code") or ""
        body = f"<!DOCTYPE html><html><body><p>Activate your device: {code}</p></body></html>"
        return Reply(200, body.encode(), "text/html; charset=utf-8")

    def _token(self, request: Request) -> Reply:
        params = self._params(request)
        grant_type = params.get("grant_type")
        app = self._app(params)
        if grant_type == DEVICE_GRANT:
            return self._device_grant(app, params)
        if grant_type == "refresh_token":
            return self._refresh_grant(app, params)
        if grant_type == "authorization_code":
            self._check_secret(app, params, confidential_only=True)
            code = self._auth_codes.get(params.get("code", ""))
            if (
                code is None
                or code.used
                or trio.current_time() >= code.expires_at
                or code.client_id != app.client_id
                or code.redirect_uri != params.get("redirect_uri")
            ):
                raise _TwitchError(400, "Invalid authorization code")
            code.used = True
            return self._tokens_reply(app.client_id, code.user_id, code.scopes)
        if grant_type == "client_credentials":
            self._check_secret(app, params, confidential_only=True)
            token = self.app_token(app.client_id)
            self.stats.token_grants += 1
            self._poke()
            return _json({"access_token": token, "expires_in": round(self.access_token_ttl), "token_type": "bearer"})
        raise _TwitchError(400, "unsupported grant type")

    def _check_secret(self, app: App, params: dict[str, str], *, confidential_only: bool) -> None:
        if not app.confidential:
            if confidential_only:
                raise _TwitchError(400, "invalid client")
            return  # public clients refresh without a secret (T-API sends "None")
        if params.get("client_secret") != app.secret:
            raise _TwitchError(403, "invalid client secret")

    def _tokens_reply(self, client_id: str, user_id: str, scopes: tuple[str, ...]) -> Reply:
        access, refresh = self._issue(client_id, user_id, scopes)
        self.stats.token_grants += 1
        self._poke()
        return _json(self._token_body(access, refresh))

    def _device_grant(self, app: App, params: dict[str, str]) -> Reply:
        now = trio.current_time()
        device = self._devices.get(params.get("device_code", ""))
        self.stats.device_polls += 1
        self._poke()
        if device is None or device.state == "used" or device.client_id != app.client_id:
            raise _TwitchError(400, "invalid device code")
        if now >= device.expires_at:
            raise _TwitchError(400, "expired_token" if self.strict_expired_token else "invalid device code")
        if self.strict_slow_down and device.last_poll is not None and now - device.last_poll < device.interval:
            device.last_poll = now
            device.interval += 5
            self.stats.slow_downs += 1
            raise _TwitchError(400, "slow_down")
        device.last_poll = now
        if device.state == "denied":
            raise _TwitchError(400, "access_denied" if self.strict_access_denied else "invalid device code")
        if device.state == "pending":
            raise _TwitchError(400, "authorization_pending")
        device.state = "used"
        assert device.user_id is not None
        return self._tokens_reply(app.client_id, device.user_id, device.granted)

    def _refresh_grant(self, app: App, params: dict[str, str]) -> Reply:
        self._check_secret(app, params, confidential_only=False)
        if self.reject_refresh:
            self.stats.refresh_rejected += 1
            self._poke()
            raise _TwitchError(400, "Invalid refresh token")
        old = self._refresh.get(params.get("refresh_token", ""))
        if old is not None and old.used:
            self.stats.refresh_reuse += 1
            self._poke()
        expired = old is not None and not app.confidential and trio.current_time() >= old.expires_at
        if old is None or old.used or old.revoked or expired or old.client_id != app.client_id:
            raise _TwitchError(400, "Invalid refresh token")
        old.used = True
        self.stats.refreshes += 1
        return self._tokens_reply(app.client_id, old.user_id, old.scopes)

    def _validate(self, request: Request) -> Reply:
        self.validate_times.append(trio.current_time())
        self.stats.validates += 1
        self._poke()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        entry = self._access.get(token.strip()) if scheme.lower() in ("oauth", "bearer") else None
        now = trio.current_time()
        if entry is None or not entry.valid(now):
            return _error_reply(_TwitchError(401, "invalid access token"))
        body: dict[str, Any] = {"client_id": entry.client_id}
        if entry.user_id is not None:
            user = self.users[entry.user_id]
            body |= {"login": user.login, "scopes": list(entry.scopes), "user_id": user.id}
        else:
            body["scopes"] = list(entry.scopes)
        body["expires_in"] = max(0, math.floor(entry.expires_at - now))
        return _json(body)

    def _revoke(self, request: Request) -> Reply:
        params = self._params(request)
        app = self._app(params)
        token = params.get("token", "")
        access, refresh = self._access.get(token), self._refresh.get(token)
        if access is not None and access.client_id == app.client_id:
            access.revoked = True
            if access.refresh in self._refresh:
                self._refresh[access.refresh].revoked = True
        elif refresh is not None and refresh.client_id == app.client_id:
            refresh.revoked = True
            if refresh.access in self._access:
                self._access[refresh.access].revoked = True
        else:
            raise _TwitchError(400, "Invalid token")
        self.stats.revokes += 1
        self._poke()
        return Reply(200, b"", "text/plain")

    def _authorize(self, request: Request) -> Reply:
        params = self._params(request)
        app = self.apps.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if app is None or redirect_uri not in app.redirect_uris or params.get("response_type") != "code":
            return Reply(400, b"<html><body>invalid request</body></html>", "text/html")
        state = params.get("state")
        separator = "&" if urlsplit(redirect_uri).query else "?"
        query: dict[str, str]
        if self.authorize_denies or not app.confidential:
            query = {"error": "access_denied", "error_description": "The user denied you access"}
        else:
            code = secrets.token_hex(15)
            scopes = tuple(params.get("scope", "").split())
            self._auth_codes[code] = _AuthCode(
                app.client_id, redirect_uri, self.authorize_user.id, scopes, trio.current_time() + AUTH_CODE_TTL
            )
            query = {"code": code, "scope": " ".join(scopes)}
        if state is not None:
            query["state"] = state
        return Reply(302, b"", "text/html", (("location", redirect_uri + separator + urlencode(query)),))

    # ------------------------------------------------------------------------ Helix

    def _helix_auth(self, request: Request) -> _Access:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token or scheme.lower() != "bearer":
            raise _TwitchError(401, "OAuth token is missing", helix=True)
        entry = self._access.get(token.strip())
        if entry is None or not entry.valid(trio.current_time()):
            raise _TwitchError(401, "Invalid OAuth token", helix=True)
        client_id = request.headers.get("client-id")
        if client_id is None:
            raise _TwitchError(401, "Client ID is missing", helix=True)
        if client_id != entry.client_id:
            raise _TwitchError(401, "Client ID and OAuth token do not match", helix=True)
        self.stats.helix_requests += 1
        bucket = self._bucket(entry)
        bucket[0] -= 1
        if bucket[0] < 0:
            bucket[0] = 0
            # Its own bucket's headers: Remaining 0 and when it refills, which a client waits for.
            raise _TwitchError(429, "Too Many Requests", helix=True, headers=self._rate_headers(entry))
        return entry

    def _bucket(self, entry: _Access | None) -> list[float]:
        key = ("", None) if entry is None else (entry.client_id, entry.user_id)
        now = trio.current_time()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket[1]:
            remaining = bucket[0] if bucket is not None and bucket[1] > now else self.rate_limit
            bucket = [remaining, now + 60.0]
            self._buckets[key] = bucket
        return bucket

    def _rate_headers(self, entry: _Access | None) -> tuple[tuple[str, str], ...]:
        bucket = self._bucket(entry)
        reset_epoch = self.wall_ns() // 1_000_000_000 + math.ceil(bucket[1] - trio.current_time())
        return (
            ("ratelimit-limit", str(self.rate_limit)),
            ("ratelimit-remaining", str(int(bucket[0]))),
            ("ratelimit-reset", str(reset_epoch)),
        )

    def _helix_call(self, request: Request, body: Callable[[_Access], Reply]) -> Reply:
        entry: _Access | None = None
        try:
            entry = self._helix_auth(request)
            reply = body(entry)
        except _TwitchError as error:
            error.helix = True
            return _error_reply(error, error.headers or self._rate_headers(entry))
        return attrs.evolve(reply, headers=(*reply.headers, *self._rate_headers(entry)))

    def _users(self, request: Request) -> Reply:
        def body(entry: _Access) -> Reply:
            ids = request.params.get("id", [])
            logins = [login.lower() for login in request.params.get("login", [])]
            if len(ids) + len(logins) > 100:
                raise _TwitchError(400, "The sum of the id and login parameters may not exceed 100")
            if not ids and not logins:
                if entry.user_id is None:
                    raise _TwitchError(400, "Must provide an ID, Login or OAuth Token")
                ids = [entry.user_id]
            found = [u for u in self.users.values() if u.id in ids or u.login in logins]
            return _json({"data": [self._user_json(u, entry) for u in found]})

        return self._helix_call(request, body)

    def _user_json(self, user: User, entry: _Access) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": user.id,
            "login": user.login,
            "display_name": user.display_name,
            "type": "",
            "broadcaster_type": user.broadcaster_type,
            "description": user.description,
            "profile_image_url": f"https://static-cdn.jtvnw.net/jtv_user_pictures/{user.login}-profile_image-300x300.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": user.created_at,
        }
        if entry.user_id == user.id and "user:read:email" in entry.scopes:
            data["email"] = user.email or f"{user.login}@example.com"
        return data

    def _subscribe(self, request: Request) -> Reply:
        self.stats.subscribe_posts += 1
        self._poke()
        return self._helix_call(request, partial(self._subscribe_checked, request))

    def _subscribe_checked(self, request: Request, entry: _Access) -> Reply:
        try:
            body = json.loads(request.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _TwitchError(400, "Malformed request body")
        transport: dict[str, Any] = body["transport"] if isinstance(body.get("transport"), dict) else {}
        session_id = transport.get("session_id")
        session = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if session is not None:
            session.posts += 1
            if session.reconnect_sent or session.reconnected_from is not None:
                self.stats.posts_after_reconnect += 1
        if entry.user_id is None and transport.get("method") == "websocket":
            raise _TwitchError(401, "must specify a user access token if the transport method is WebSocket")
        if transport.get("method") != "websocket":
            raise _TwitchError(400, "The value in the transport.method field is not valid")
        if not session_id:
            raise _TwitchError(400, "The transport.session_id field is required")
        if session is None or not session.live:
            raise _TwitchError(400, "websocket transport session does not exist or has already disconnected")
        sub_type, version = body.get("type"), body.get("version")
        spec = SUBSCRIPTION_TYPES.get((sub_type, version))  # type: ignore[arg-type]
        if spec is None:
            raise _TwitchError(400, "The combination of values in the type and version fields is not valid")
        fields, scopes = spec
        condition = body.get("condition")
        if not isinstance(condition, dict) or any(not isinstance(condition.get(f), str) for f in fields):
            raise _TwitchError(400, "missing or invalid condition")
        condition = {f: condition[f] for f in fields}
        if any(condition[f] not in self.users for f in fields):
            raise _TwitchError(400, "The condition's user is not valid")
        if sub_type in CHAT_TYPES:
            authorized = condition["user_id"] == entry.user_id and entry.user_id not in self.banned_readers
        elif "moderator_user_id" in condition:
            authorized = condition["moderator_user_id"] == entry.user_id
        elif scopes is not None:
            authorized = condition["broadcaster_user_id"] == entry.user_id
        else:
            authorized = True
        if not authorized or (scopes is not None and not set(scopes) & set(entry.scopes)):
            raise _TwitchError(403, "subscription missing proper authorization")
        assert isinstance(sub_type, str) and isinstance(version, str) and entry.user_id is not None
        owned = [s for s in self._subs.values() if s.session_id == session.id and s.status == "enabled"]
        if any(s.type == sub_type and s.version == version and s.condition == condition for s in owned):
            raise _TwitchError(409, "subscription already exists")
        if not owned:
            transports = {
                s.session_id
                for s in self._subs.values()
                if s.status == "enabled" and s.client_id == entry.client_id and s.user_id == entry.user_id
            }
            if len(transports - {session.id}) >= MAX_TRANSPORTS:
                raise _TwitchError(429, "number of websocket transports limit exceeded")
        if len(owned) >= MAX_SUBS_PER_SESSION:
            raise _TwitchError(429, "subscription limit per websocket transport exceeded")
        cost = 0 if entry.user_id in condition.values() else 1
        totals = self._totals(entry)
        if totals[1] + cost > MAX_TOTAL_COST:
            raise _TwitchError(429, "total cost exceeded")
        now_wall = _rfc3339(self.wall_ns())
        sub = _Sub(
            id=str(uuid.uuid4()),
            type=sub_type,
            version=version,
            condition=condition,
            client_id=entry.client_id,
            user_id=entry.user_id,
            session_id=session.id,
            cost=cost,
            created_at=now_wall,
            connected_at=session.connected_at,
        )
        self._subs[sub.id] = sub
        if not session.subscribed_once:
            session.subscribed_once = True
            session.first_subscribe_at = trio.current_time()
            session.lot.unpark_all()
        session.client_id, session.user_id = entry.client_id, entry.user_id
        self.stats.subscribe_accepted += 1
        self._poke()
        total, total_cost = self._totals(entry)
        data = {"data": [sub.json(connected_at=True)], "total": total, "total_cost": total_cost}
        return _json(data | {"max_total_cost": MAX_TOTAL_COST}, 202)

    def _totals(self, entry: _Access) -> tuple[int, int]:
        mine = [
            s
            for s in self._subs.values()
            if s.status == "enabled" and s.client_id == entry.client_id and s.user_id == entry.user_id
        ]
        return len(mine), sum(s.cost for s in mine)

    def _list_subs(self, request: Request) -> Reply:
        def body(entry: _Access) -> Reply:
            filters = {name: request.get(name) for name in ("status", "type", "user_id", "subscription_id")}
            given = {k: v for k, v in filters.items() if v}
            if len(given) > 1:
                raise _TwitchError(400, "only one filter may be given")
            now = trio.current_time()
            subs = []
            for sub in self._subs.values():
                if sub.client_id != entry.client_id or sub.user_id != entry.user_id:
                    continue
                if sub.disabled_at is not None and now - sub.disabled_at >= DISABLED_LISTED_FOR:
                    continue
                if given.get("status") not in (None, sub.status) or given.get("type") not in (None, sub.type):
                    continue
                if given.get("subscription_id") not in (None, sub.id):
                    continue
                if "user_id" in given and given["user_id"] not in sub.condition.values():
                    continue
                subs.append(sub)
            start = 0
            after = request.get("after")
            if after:
                try:
                    start = int(base64.urlsafe_b64decode(after.encode()).decode())
                except ValueError as error:
                    raise _TwitchError(400, "invalid cursor") from error
            page = subs[start : start + self.page_size]
            pagination = {}
            if start + self.page_size < len(subs):
                pagination["cursor"] = base64.urlsafe_b64encode(str(start + self.page_size).encode()).decode()
            total, total_cost = self._totals(entry)
            return _json(
                {
                    "data": [s.json() for s in page],
                    "total": total,
                    "total_cost": total_cost,
                    "max_total_cost": MAX_TOTAL_COST,
                    "pagination": pagination,
                }
            )

        return self._helix_call(request, body)

    def _delete_sub(self, request: Request) -> Reply:
        def body(entry: _Access) -> Reply:
            sub_id = request.get("id")
            if not sub_id:
                raise _TwitchError(400, 'Missing required parameter "id"')
            sub = self._subs.get(sub_id)
            if sub is None or sub.client_id != entry.client_id:
                raise _TwitchError(404, "subscription not found")
            del self._subs[sub_id]
            self._poke()
            return Reply(204, b"", "application/json")

        return self._helix_call(request, body)

    # -------------------------------------------------------------------- WebSocket

    def _keepalive_param(self, raw: str | None) -> int:
        try:
            wanted = int(raw) if raw is not None else 10
        except ValueError:
            return 10
        return min(600, max(self.min_keepalive, wanted))

    async def _websocket(self, conn: h11.Connection, stream: trio.SocketStream, request: Request) -> bool:
        """Handshake a WebSocket on /ws and run its session; returns True to end with a TCP reset."""
        key = request.headers.get("sec-websocket-key")
        if request.path != "/ws" or request.method != "GET" or not key:
            reply = _error_reply(_TwitchError(404 if request.path != "/ws" else 400, "Bad Request"))
            await send_reply(conn, stream, reply, close=True)
            return False
        ws = await accept_websocket(conn, stream, key)
        now = trio.current_time()
        challenge = request.get("challenge")
        old: _Session | None = None
        if challenge is not None:
            old_id, used = self._challenges.get(challenge, ("", True))
            old = self._sessions.get(old_id)
            if used or old is None or not old.live:
                self.stats.invalid_reconnects += 1
                self._poke()
                await close_websocket(stream, ws, 4007, CLOSE_REASON[4007], CLOSE_GRACE)
                return False
            self._challenges[challenge] = (old_id, True)
        keepalive = self._keepalive_param(request.get("keepalive_timeout_seconds"))
        if old is not None and request.get("keepalive_timeout_seconds") is None:
            keepalive = old.keepalive
        session = _Session(
            id="AgoQ" + secrets.token_urlsafe(24),
            stream=stream,
            ws=ws,
            keepalive=keepalive,
            opened_at=now,
            connected_at=_rfc3339(self.wall_ns()),
            last_sent=now,
            next_ping=now + (self.ping_interval or 0),
        )
        self._sessions[session.id] = session
        self.stats.sessions_opened += 1
        welcome = {
            "session": {
                "id": session.id,
                "status": "connected",
                "connected_at": session.connected_at,
                "keepalive_timeout_seconds": keepalive,
                "reconnect_url": None,
            }
        }
        session.push(compact_json(self._envelope("session_welcome", welcome)))
        if old is not None:
            # The hand-off: from this welcome on, the new socket delivers and the old one only lingers.
            session.reconnected_from = old.id
            session.subscribed_once = True
            session.client_id, session.user_id = old.client_id, old.user_id
            old.successor = session.id
            for sub in self._subs.values():
                if sub.session_id == old.id:
                    sub.session_id = session.id
                    sub.connected_at = session.connected_at
            self.stats.reconnects_completed += 1
        self._poke()
        try:
            with session.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._ws_reader, session)
                    nursery.start_soon(self._ws_writer, session)
        finally:
            self._end(session, "websocket_disconnected")
        return session.rst

    async def _ws_send(self, session: _Session, event: Event) -> None:
        async with session.send_lock:
            closing_reply = isinstance(event, CloseConnection) and session.ws.state is WsState.REMOTE_CLOSING
            if session.ws.state is WsState.OPEN or closing_reply:
                await session.stream.send_all(session.ws.send(event))

    async def _ws_reader(self, session: _Session) -> None:
        try:
            while True:
                data = await session.stream.receive_some(65536)
                session.ws.receive_data(data or None)
                for event in session.ws.events():
                    if isinstance(event, TextMessage | BytesMessage):
                        if event.message_finished:
                            session.inbound_frames += 1
                            self.stats.inbound_frames += 1
                            self._close(session, 4001)
                    elif isinstance(event, Ping):
                        if self.count_client_pings:
                            session.inbound_frames += 1
                            self.stats.inbound_frames += 1
                            self._close(session, 4001)
                        else:
                            await self._ws_send(session, event.response())
                    elif isinstance(event, Pong):
                        session.pong_deadline = None
                        self.stats.pongs += 1
                        session.lot.unpark_all()
                    elif isinstance(event, CloseConnection):
                        session.peer_closed.set()
                        if session.ws.state is WsState.REMOTE_CLOSING:
                            await self._ws_send(session, event.response())
                        self._end(session, CLOSE_STATUS[1000])
                        session.scope.cancel()
                        return
                if not data:
                    self._end(session, CLOSE_STATUS[1000])
                    session.scope.cancel()
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._end(session, CLOSE_STATUS[1000])
            session.scope.cancel()

    async def _ws_writer(self, session: _Session) -> None:
        try:
            await self._ws_write_loop(session)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._end(session, CLOSE_STATUS[1000])
            session.scope.cancel()

    async def _ws_write_loop(self, session: _Session) -> None:
        while True:
            if session.close_code is not None:
                await self._ws_send(session, CloseConnection(session.close_code, session.close_reason))
                with trio.move_on_after(CLOSE_GRACE):
                    await session.peer_closed.wait()
                session.scope.cancel()
                return
            while session.outbox and session.ws.state is WsState.OPEN:
                await self._ws_send(session, TextMessage(data=session.outbox.popleft()))
                session.last_sent = trio.current_time()
            now = trio.current_time()
            deadlines = [math.inf]
            if session.keepalives:
                due = session.last_sent + session.keepalive
                if now >= due:
                    session.push(compact_json(self._envelope("session_keepalive", {})))
                    self.stats.keepalives += 1
                    self._poke()
                    continue
                deadlines.append(due)
            if not session.subscribed_once and self.subscribe_deadline is not None:
                due = session.opened_at + self.subscribe_deadline
                if now >= due:
                    self._close(session, 4003)
                    continue
                deadlines.append(due)
            if session.reconnect_deadline is not None:
                if now >= session.reconnect_deadline:
                    self._close(session, 4004)
                    continue
                deadlines.append(session.reconnect_deadline)
            if self.ping_interval is not None:
                if session.pong_deadline is not None:
                    if now >= session.pong_deadline:
                        self._close(session, 4002)
                        continue
                    deadlines.append(session.pong_deadline)
                elif now >= session.next_ping:
                    await self._ws_send(session, Ping(secrets.token_bytes(8)))
                    self.stats.pings += 1
                    session.pong_deadline = now + self.pong_timeout
                    session.next_ping = now + self.ping_interval
                    continue
                else:
                    deadlines.append(session.next_ping)
            with trio.move_on_at(min(deadlines)):
                await session.lot.park()

    def _close(self, session: _Session, code: int, reason: str | None = None) -> None:
        """The session ends now; its writer sends a close frame with `code` and waits for the answer."""
        if not session.live:
            return
        status = CLOSE_STATUS.get(code, "websocket_internal_error")
        if code == 4004 and session.successor is not None:
            status = "websocket_disconnected"  # nothing left to disable: the subscriptions moved on
        self._end(session, status)
        session.close_code = code
        session.close_reason = CLOSE_REASON.get(code, "") if reason is None else reason
        session.lot.unpark_all()

    def _end(self, session: _Session, status: str) -> None:
        """The session leaves live_sessions(); the subscriptions it still delivers are disabled with `status`."""
        if not session.live:
            return
        session.live = False
        self.stats.sessions_closed += 1
        now = trio.current_time()
        wall = _rfc3339(self.wall_ns())
        for sub in self._subs.values():
            if sub.session_id == session.id and sub.status == "enabled":
                sub.status = status
                sub.disabled_at = now
                sub.disconnected_at = wall
        session.lot.unpark_all()
        self._poke()


# ------------------------------------------------------------------------- standalone


async def _script_chat(fake: FakeTwitch, *, loop: bool = True) -> None:
    """Once a session reads chat: English and Korean lines, a cheer, a sub, a gift bundle, a delete."""
    kr = fake.korean_viewer
    while True:
        await fake.wait_until(lambda: fake.subscribed("channel.chat.message"))
        first = fake.chat("Hi chat! first time here", badges=[badge("subscriber", "12", "16")])
        await trio.sleep(1.0)
        fake.chat("안녕하세요! 오늘 방송 재밌어요 ㅋㅋㅋ", chatter=kr)
        await trio.sleep(1.0)
        fake.chat("Cheer100 great stream!", chatter=fake.bot, badges=[badge("bits", "100")])
        await trio.sleep(1.0)
        fake.notification("sub", chatter=kr, sub_tier="1000")
        await trio.sleep(1.0)
        fake.chat("what game is this?", reply_to=first, chatter=kr)
        await trio.sleep(1.0)
        fake.community_gift(3, gifter=fake.viewer)
        await trio.sleep(1.0)
        spam = fake.chat("buy followers at example.com", chatter=fake.bot)
        await trio.sleep(0.5)
        fake.message_delete(spam["message_id"], fake.bot)
        await trio.sleep(1.0)
        fake.chat("화이팅! Kappa", chatter=kr, emotes={"Kappa": "25"})
        await trio.sleep(2.0)
        if not loop:
            return


CONFORMANCE_TYPES = ("channel.chat.message", "channel.chat.notification", "channel.chat.message_delete")
CONFORMANCE_END = "conformance done 끝"  # the last scripted line: a conformance client stops on it
CONFORMANCE_GAP = 0.2  # seconds between two scripted events


def _print_sent(sent: dict[str, Any]) -> None:
    print("sent " + compact_json(sent), flush=True)


async def _script_conformance(fake: FakeTwitch, report: Callable[[dict[str, Any]], None] = _print_sent) -> None:
    """For tests/conformance (twitchAPI): a scripted chat in two halves around a ``session_reconnect``.

    Once one live session delivers the three chat types of CONFORMANCE_TYPES: an English line, a Korean
    line, a cheer and a sub notification; then ``session_reconnect``, and once the client has moved to the
    new session and closed the old one, a reply, a spam line and its ``message_delete``, the English line
    delivered again with the same ``metadata.message_id`` (a redelivery a client should drop), and the
    CONFORMANCE_END line. Each event is `report`-ed as it is injected (``sent {...}`` lines on stdout when run
    as a script): ``type``, ``id`` (the event's ``message_id``: the deleted message's for a delete), ``text``
    and ``resend`` for the redelivery.
    """

    def sent(sub_type: str, event: dict[str, Any], *, resend: bool = False) -> None:
        entry: dict[str, Any] = {"type": sub_type, "id": event["message_id"]}
        if "message" in event:
            entry["text"] = event["message"]["text"]
        if resend:
            entry["resend"] = True
        report(entry)

    await fake.wait_until(lambda: all(fake.subscribed(sub_type) for sub_type in CONFORMANCE_TYPES))
    kr = fake.korean_viewer
    hello = fake.chat("Hi chat! first time here", badges=[badge("subscriber", "12", "16")])
    sent("channel.chat.message", hello)
    await trio.sleep(CONFORMANCE_GAP)
    sent("channel.chat.message", fake.chat("안녕하세요! 오늘 방송 재밌어요 ㅋㅋㅋ", chatter=kr))
    await trio.sleep(CONFORMANCE_GAP)
    cheer = fake.chat("Cheer100 great stream!", chatter=fake.bot, badges=[badge("bits", "100")])
    sent("channel.chat.message", cheer)
    await trio.sleep(CONFORMANCE_GAP)
    sent("channel.chat.notification", fake.notification("sub", chatter=kr, sub_tier="1000"))
    await trio.sleep(CONFORMANCE_GAP)

    [old] = fake.live_sessions()
    fake.reconnect(old.id)
    await fake.wait_until(lambda: fake.stats.reconnects_completed >= 1 and not fake.session(old.id).live)

    sent("channel.chat.message", fake.chat("what game is this?", reply_to=hello, chatter=kr))
    await trio.sleep(CONFORMANCE_GAP)
    spam = fake.chat("buy followers at example.com", chatter=fake.bot)
    sent("channel.chat.message", spam)
    await trio.sleep(CONFORMANCE_GAP)
    sent("channel.chat.message_delete", fake.message_delete(spam["message_id"], fake.bot))
    await trio.sleep(CONFORMANCE_GAP)
    fake.resend(hello)
    sent("channel.chat.message", hello, resend=True)
    await trio.sleep(CONFORMANCE_GAP)
    sent("channel.chat.message", fake.chat(CONFORMANCE_END, chatter=kr))


async def _main(args: argparse.Namespace) -> None:
    fake = FakeTwitch(client_id=args.client_id, min_keepalive=args.min_keepalive)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve, args.host, args.port)
        access, refresh = fake.grant()
        if args.script == "conformance":
            fake.expire_access_tokens()  # the client must refresh before anything else works
        print(
            f"fake Twitch: auth_url={fake.auth_url} helix_url={fake.helix_url} ws_url={fake.ws_url} "
            f"client_id={fake.client_id} user_id={fake.broadcaster.id} login={fake.broadcaster.login} "
            f"access_token={access} refresh_token={refresh} "
            f"access_token_expired={str(args.script == 'conformance').lower()} (Ctrl-C to stop)",
            flush=True,
        )
        if args.script == "conformance":
            nursery.start_soon(_script_conformance, fake)
        else:
            nursery.start_soon(_script_chat, fake)
        await stop_on_signal(nursery.cancel_scope)
    print("stats " + json.dumps(attrs.asdict(fake.stats)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Twitch (OAuth, Helix, EventSub WebSocket) on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200, help="0 picks a free port (printed)")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--min-keepalive", type=int, default=10, help="lowest keepalive_timeout_seconds allowed")
    parser.add_argument("--script", nargs="?", const="chat", choices=["chat", "conformance"], default="chat")
    trio.run(_main, parser.parse_args())


if __name__ == "__main__":
    main()
