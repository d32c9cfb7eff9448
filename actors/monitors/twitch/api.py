"""Twitch EventSub and OAuth answers, sans I/O: frames, dedupe, tokens, close codes.

Everything here is a pure function of what Twitch sent (reference:
shared/reference/twitch.md §1-2), tested with Hypothesis on the doc examples
and on hostile input. The socket (trio-websocket) and the HTTP calls live in
the monitor; the mapping of notifications to ChatEvents is in `events.py`.

The envelope is parsed strictly where the client needs the field to work (a
welcome without a session id, a reconnect without a URL) and leniently where
it is decoration (timestamps, whose doc examples are sometimes malformed).
Either way the only exception is PayloadError, with a short reason for the
log: a surprise from the server is a line in the log, not a traceback.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

from ...boundary import clean_id
from ..common.tokens import TokenPair

MAX_ECHO = 200  # characters of a server's error message kept in an exception


class PayloadError(ValueError):
    """A frame or an answer whose shape we cannot use."""


def _loads(body: str | bytes) -> Any:
    """json.loads, with every way it can fail as PayloadError."""
    try:
        return json.loads(body)
    except RecursionError:  # "[[[[…" deep enough
        raise PayloadError("nested too deeply") from None
    except ValueError:  # includes UnicodeDecodeError and 4300-digit integers
        raise PayloadError("not JSON") from None


def _object(body: object, what: str) -> Mapping[str, Any]:
    """An answer (bytes, text or already decoded) that must be a JSON object."""
    if isinstance(body, str | bytes):
        body = _loads(body)
    if not isinstance(body, Mapping):
        raise PayloadError(f"{what} is a {type(body).__name__}, not an object")
    return body


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _ident(data: Mapping[str, Any], key: str, what: str) -> str:
    """A required opaque id, cleaned like every id that enters the house."""
    value = _str(data, key)
    cleaned = clean_id(value) if value is not None else ""
    if not cleaned:
        raise PayloadError(f"{what} has no {key}")
    return cleaned


def _words(value: object) -> tuple[str, ...]:
    """A scope list: a JSON list of strings (anything else in it is dropped)."""
    if isinstance(value, str):  # a space-separated string, as OAuth itself spells it
        value = value.split()
    if not isinstance(value, list):
        return ()
    return tuple(clean_id(v) for v in value if isinstance(v, str) and clean_id(v))


# ---- timestamps ------------------------------------------------------------------------------------

# RFC 3339 with any number of fraction digits (Twitch sends nanoseconds);
# no offset is read as UTC. Doc examples like "2020-11-10T20:08:464757833Z"
# do not match, and give None.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,30}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp -> an aware UTC datetime (microseconds, the
    rest truncated), or None for anything else: the time is decoration,
    never a reason to drop a frame."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    try:
        tz = UTC
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz)
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError):  # month 13, second 60, year 1 at +05:00
        return None


# ---- frames ----------------------------------------------------------------------------------------


@attrs.frozen
class Metadata:
    message_id: str
    message_type: str
    timestamp: datetime | None  # None when Twitch's was missing or malformed
    subscription_type: str | None = None  # only on notification and revocation
    subscription_version: str | None = None


@attrs.frozen
class Welcome:
    metadata: Metadata
    session_id: str
    keepalive_timeout_seconds: int | None  # None: use what the connect URL asked for (10 by default)
    reconnect_url: str | None  # null in every welcome seen; kept if a future one carries it


@attrs.frozen
class Keepalive:
    metadata: Metadata


@attrs.frozen
class Reconnect:
    metadata: Metadata
    reconnect_url: str  # used as is: its query (challenge, id) is opaque


@attrs.frozen
class Notification:
    metadata: Metadata
    subscription_id: str
    subscription_type: str
    subscription_version: str | None
    event: Mapping[str, Any] = attrs.field(repr=False)  # raw: events.py reads it field by field


@attrs.frozen
class Revocation:
    metadata: Metadata
    subscription_id: str
    subscription_type: str | None
    status: str  # authorization_revoked, user_removed, version_removed, or one nobody documented


@attrs.frozen
class Unknown:
    """A message_type nobody has seen yet: returned, for the caller to ignore."""

    metadata: Metadata


Frame = Welcome | Keepalive | Reconnect | Notification | Revocation | Unknown

_WS_SCHEMES = ("wss", "ws")  # ws only ever comes from the loopback fake


def _plain(url: str) -> bool:
    """A URL we will connect to or show: printable ASCII, no spaces (Twitch's are)."""
    return url.isascii() and url.isprintable() and " " not in url


def _ws_url(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > 4096:
        raise PayloadError(f"{what} is not a URL")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise PayloadError(f"{what} does not parse") from None
    if parts.scheme not in _WS_SCHEMES or not parts.hostname or not _plain(value):
        raise PayloadError(f"{what} is not a WebSocket URL (scheme {parts.scheme[:10]!r})")
    return value


def _lenient_url(value: object) -> str | None:
    """A welcome's reconnect_url: null in every welcome seen, and nothing the
    client needs, so a strange one is dropped rather than the welcome."""
    try:
        return None if value is None else _ws_url(value, "reconnect_url")
    except PayloadError:
        return None


def _session(payload: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    session = payload.get("session")
    if not isinstance(session, Mapping):
        raise PayloadError(f"{what} has no session")
    return session


def _subscription(payload: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    subscription = payload.get("subscription")
    if not isinstance(subscription, Mapping):
        raise PayloadError(f"{what} has no subscription")
    return subscription


def parse_frame(text: str | bytes) -> Frame:
    """One WebSocket text frame -> its Frame; PayloadError if malformed.
    Unknown fields are ignored, unknown message types returned as Unknown."""
    data = _object(text, "frame")
    metadata, payload = data.get("metadata"), data.get("payload")
    if not isinstance(metadata, Mapping):
        raise PayloadError("frame has no metadata")
    message_type = _str(metadata, "message_type")
    if message_type is None:
        raise PayloadError("frame has no message_type")
    meta = Metadata(
        _ident(metadata, "message_id", "frame"),
        clean_id(message_type),
        parse_timestamp(metadata.get("message_timestamp")),
        _optional_id(metadata, "subscription_type"),
        _optional_id(metadata, "subscription_version"),
    )
    what = meta.message_type[:40]
    if meta.message_type == "session_keepalive":
        return Keepalive(meta)  # its payload is {} and nothing in it matters
    if meta.message_type not in ("session_welcome", "session_reconnect", "notification", "revocation"):
        return Unknown(meta)
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{what} has no payload")
    if meta.message_type == "session_welcome":
        session = _session(payload, what)
        keepalive = _int(session.get("keepalive_timeout_seconds"))
        url = session.get("reconnect_url")
        return Welcome(
            meta,
            _ident(session, "id", what),
            keepalive if keepalive is not None and 0 < keepalive <= 3600 else None,
            _lenient_url(url),
        )
    if meta.message_type == "session_reconnect":
        return Reconnect(meta, _ws_url(_session(payload, what).get("reconnect_url"), "reconnect_url"))
    subscription = _subscription(payload, what)
    sub_type = _optional_id(subscription, "type") or meta.subscription_type
    sub_id = _ident(subscription, "id", f"{what} subscription")
    if meta.message_type == "revocation":
        return Revocation(meta, sub_id, sub_type, _ident(subscription, "status", "revocation subscription"))
    event = payload.get("event")
    if sub_type is None:
        raise PayloadError("notification has no subscription type")
    if not isinstance(event, Mapping):
        raise PayloadError("notification has no event")
    version = _optional_id(subscription, "version") or meta.subscription_version
    return Notification(meta, sub_id, sub_type, version, event)


def _optional_id(data: Mapping[str, Any], key: str) -> str | None:
    value = _str(data, key)
    return (clean_id(value) or None) if value is not None else None


# ---- OAuth and Helix answers -----------------------------------------------------------------------


class TwitchApiError(Exception):
    """An error answer: the HTTP status and Twitch's message (the envelope
    is {"error", "status", "message"} on Helix, {"status", "message"} on
    id.twitch.tv). The message is the server's, trimmed; never a token."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds; the caller sets it from Ratelimit-Reset or Retry-After

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.message}"

    def __repr__(self) -> str:
        return f"TwitchApiError({self.status!r}, {self.message!r}, retry_after={self.retry_after!r})"


def _said(data: Mapping[str, Any]) -> str:
    """The message an error body carries (Twitch's `message`, else RFC 6749's `error`), one line, short."""
    for key in ("message", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(clean_id(value).split())[:MAX_ECHO]
    return ""


def api_error(status: int, body: object, *, retry_after: float | None = None) -> TwitchApiError:
    """An error answer (Helix or id.twitch.tv) -> TwitchApiError. A body that
    is not an envelope (a proxy's HTML page) is not echoed into our logs."""
    try:
        data = _object(body, "error answer")
    except PayloadError:
        data = {}
    return TwitchApiError(status, _said(data) or f"HTTP {status}", retry_after=retry_after)


def _positive(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


@attrs.frozen
class DeviceCode:
    """POST /oauth2/device's answer. The user types `user_code` at
    `verification_uri`; `device_code` is what we poll with, and stays out of reprs."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: float  # seconds
    interval: float  # seconds between polls, at least


def parse_device_code(body: object) -> DeviceCode:
    data = _object(body, "device answer")
    device_code = _str(data, "device_code")
    if device_code is None:
        raise PayloadError("device answer has no device_code")
    user_code, uri = _str(data, "user_code"), _str(data, "verification_uri")
    if user_code is None or uri is None or clean_id(user_code) != user_code:
        raise PayloadError("device answer has no usable user_code or verification_uri")
    try:
        scheme = urlsplit(uri).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("https", "http") or not _plain(uri):  # http only from the loopback fake
        raise PayloadError("device answer's verification_uri is not a web address")
    expires_in = _positive(data.get("expires_in"))
    if expires_in is None:
        raise PayloadError("device answer has no usable expires_in")
    interval = _positive(data.get("interval"))
    return DeviceCode(device_code, user_code, uri, expires_in, 5.0 if interval is None else interval)


def parse_token(body: object, now: float) -> TokenPair:
    """POST /oauth2/token's success (device grant or refresh) -> TokenPair
    expiring at now + expires_in. Both tokens are required: a public
    client's refresh token rotates, and losing the new one means a new login."""
    data = _object(body, "token answer")
    access, refresh = _str(data, "access_token"), _str(data, "refresh_token")
    if access is None or refresh is None:
        raise PayloadError("token answer has no access_token or refresh_token")
    expires_in = _positive(data.get("expires_in"))
    if expires_in is None:
        raise PayloadError("token answer has no usable expires_in")
    # The common pair (one token file format for every platform); scopes space-separated, as OAuth writes them.
    return TokenPair(access, refresh, now + expires_in, scope=" ".join(_words(data.get("scope"))))


PollOutcome = Literal["pending", "slow_down", "denied", "expired", "invalid"]

# What a device-flow poll's error says, lower-cased: Twitch's envelope
# ({"status":400,"message":"authorization_pending"}) and RFC 8628's
# ({"error":"authorization_pending"}) carry the same words. Only the first
# and "invalid device code" are documented by Twitch (reference §1.2).
_POLL_OUTCOMES: Mapping[str, PollOutcome] = {
    "authorization_pending": "pending",
    "slow_down": "slow_down",  # RFC: wait 5 s longer between polls from now on
    "access_denied": "denied",
    "expired_token": "expired",
    "invalid device code": "invalid",  # used already, or (reportedly) expired
    "invalid_grant": "invalid",  # RFC 6749's word for the same
}


def device_poll_outcome(status: int, body: object) -> PollOutcome:
    """A non-2xx answer to a device-flow poll -> what it means. Anything
    else (429, a 5xx, a message nobody documented) raises TwitchApiError:
    an error to retry or report, never mistaken for "pending"."""
    if 200 <= status < 300:
        raise PayloadError("a 2xx poll answer carries the token: parse_token reads it")
    try:
        data = _object(body, "poll answer")
    except PayloadError:
        data = {}
    for key in ("message", "error"):
        value = data.get(key)
        outcome = _POLL_OUTCOMES.get(value.strip().lower()) if isinstance(value, str) else None
        if outcome is not None and status < 500 and status != 429:
            return outcome
    raise api_error(status, data)


@attrs.frozen
class Validated:
    """GET /oauth2/validate's answer. App tokens have no login or user_id."""

    client_id: str
    login: str | None
    user_id: str | None
    scopes: tuple[str, ...]
    expires_in: float  # seconds; 0 for a token that does not expire


def parse_validate(body: object) -> Validated:
    data = _object(body, "validate answer")
    client_id = _ident(data, "client_id", "validate answer")
    expires_in = data.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or not 0 <= expires_in < math.inf:
        raise PayloadError("validate answer has no usable expires_in")
    return Validated(
        client_id,
        _optional_id(data, "login"),
        _optional_id(data, "user_id"),
        _words(data.get("scopes")),
        float(expires_in),
    )


# ---- close codes -----------------------------------------------------------------------------------


class CloseAction(enum.StrEnum):
    RECONNECT = "reconnect"  # back off, connect to the base URL, resubscribe everything (no replay)
    FULL_RECONNECT = "full_reconnect"  # as reconnect, but rebuild from the desired set; stop if it is empty
    IGNORE_OLD = "ignore_old"  # the old socket of a hand-off closing: nothing lost
    STOP_BUG = "stop_bug"  # our bug: reconnecting would loop; stop and report
    BASE_URL = "base_url"  # forget the reconnect_url, connect to the base URL


# Each row: code -> (action, why). The table is the decision; the monitor
# only carries it out (reference §2.4, from the docs and four libraries).
CLOSE_TABLE: Mapping[int, tuple[CloseAction, str]] = {
    4000: (CloseAction.RECONNECT, "internal server error: Twitch's fault, transient"),
    4001: (
        CloseAction.STOP_BUG,
        "we sent something other than a Pong: the socket is receive-only, and sending again would loop"
        " (TwitchIO stops)",
    ),
    4002: (CloseAction.RECONNECT, "a Ping went unanswered: a stall on our side or the network's; check Pong handling"),
    4003: (
        CloseAction.FULL_RECONNECT,
        "no subscription within the deadline: the desired set was lost or the subscribe was slow"
        " (pyTwitchAPI's endless 4003 loop); with nothing to subscribe, stop (twitch4j)",
    ),
    4004: (
        CloseAction.IGNORE_OLD,
        "reconnect grace expired: on the old socket after a hand-off it is expected (twitch4j ignores it);"
        " on the live socket it means the hand-off failed, and the monitor reconnects in full",
    ),
    4005: (CloseAction.RECONNECT, "network timeout: transient"),
    4006: (CloseAction.RECONNECT, "network error: transient"),
    4007: (
        CloseAction.BASE_URL,
        "invalid reconnect URL (often from closing the old socket first, pyTwitchAPI#286): it will not work again",
    ),
    1000: (CloseAction.RECONNECT, "a normal close we did not ask for: the session is gone"),
    1006: (CloseAction.RECONNECT, "the connection dropped without a close frame"),
}
_UNKNOWN_CLOSE = (CloseAction.RECONNECT, "a close code nobody documented: treated as a loss")


def close_action(code: int) -> CloseAction:
    """What to do when the socket closes with `code` (a StrEnum: compares equal to its string)."""
    return CLOSE_TABLE.get(code, _UNKNOWN_CLOSE)[0]


def close_reason(code: int) -> str:
    """Why close_action answers what it does, for the log."""
    return CLOSE_TABLE.get(code, _UNKNOWN_CLOSE)[1]
