"""Chzzk Open API payloads, sans I/O: envelopes, tokens, session URLs, events.

Everything here is a pure function of what the server sent (reference:
shared/reference/chzzk.md §2), so it is tested with Hypothesis on generated
payloads and on the real captured one. The REST calls (httpx) and the socket
(trio-websocket, framing in `engineio.py`) live in the monitor.

What the real server taught others (reference §2.7, §4.2): it does not send
what the docs say, and a strict model that kills the connection on the first
surprise is how chzzkpy fails. So event parsing is lenient where the field is
decoration (`chatChannelId`, `eventSentAt`, `emojis`, `badges`, `profile`),
accepts both documented and observed shapes (`userRoleCode` in `profile` or
at the top level, `payAmount` as a string or a number, the argument as a JSON
string or an object), and turns anything it cannot use into a Skip with a
reason instead of raising.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from ...boundary import clean_event
from ...chat import Amount, Author, ChatEvent, Kind, Platform, Role
from ...session.prompt import format_amount
from ..common.tokens import TokenPair

MAX_ECHO = 200  # characters of a server's error message kept in an exception

ANONYMOUS = "익명"  # what Chzzk itself shows for a sender without a name
ANONYMOUS_ID = "chzzk-anonymous"  # author id of an anonymous donation


# ---- the REST envelope -------------------------------------------------------------------------------


class ChzzkApiError(Exception):
    """An error answer: the HTTP status, and the body's `code` and `message`
    (the documented 401 messages are UNAUTHORIZED, INVALID_CLIENT and
    INVALID_TOKEN; others are free text, often Korean)."""

    def __init__(self, status: int, code: int | None, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds; the caller sets it from a Retry-After header

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None and self.code != self.status else ""
        return f"HTTP {self.status}{code} {self.message}"

    def __repr__(self) -> str:
        return f"ChzzkApiError({self.status!r}, {self.code!r}, {self.message!r}, retry_after={self.retry_after!r})"

    @property
    def invalid_token(self) -> bool:
        """The access (or refresh) token is expired or unknown."""
        return self.status == 401 and self.message == "INVALID_TOKEN"

    @property
    def invalid_client(self) -> bool:
        """The client id or secret is wrong: no retry will fix it."""
        return self.status == 401 and self.message == "INVALID_CLIENT"


class PayloadError(ValueError):
    """A success answer (or a socket message) whose shape we cannot use."""


def _loads(body: bytes | str) -> Any:
    """json.loads, with every way it can fail as ValueError."""
    try:
        return json.loads(body)
    except RecursionError:  # "[[[[…" deep enough
        raise ValueError("nested too deeply") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"


def unwrap(status: int, body: bytes) -> Any:
    """An HTTP answer -> the envelope's `content` (may be None).

    ChzzkApiError for an error status, or a 2xx whose envelope `code` says
    otherwise; PayloadError for a 2xx that is not a JSON object. Any non-2xx
    status is an error here: httpx does not follow redirects for us, and a
    3xx carries no content we could use."""
    try:
        data = _loads(body)
    except ValueError:  # includes UnicodeDecodeError
        data = None
        readable = False
    else:
        readable = True
    if not 200 <= status < 300:
        code, message = None, ""
        if isinstance(data, Mapping):
            code = data["code"] if _is_int(data.get("code")) else None
            message = data["message"] if isinstance(data.get("message"), str) else ""
        # A proxy's HTML page or a long message is not echoed into our logs.
        message = " ".join(message.split())[:MAX_ECHO] or _reason(status)
        raise ChzzkApiError(status, code, message)
    if not readable:
        raise PayloadError(f"HTTP {status} answer is not JSON")
    if not isinstance(data, Mapping):
        raise PayloadError(f"HTTP {status} answer is a JSON {type(data).__name__}, not an object")
    envelope_code = data.get("code")
    if isinstance(envelope_code, int) and not isinstance(envelope_code, bool) and envelope_code != 200:
        # chzzkpy does not check this; the envelope is the more specific word.
        said = data.get("message")
        text = " ".join(said.split())[:MAX_ECHO] if isinstance(said, str) else ""
        raise ChzzkApiError(envelope_code, envelope_code, text or "error in a success answer")
    return data.get("content")


# ---- tokens ------------------------------------------------------------------------------------------


def _positive_number(value: object) -> float | None:
    """A JSON count that may be an int, a float or a string of digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        number = float(int(value))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) and number > 0 else None


def parse_token(content: object, *, now: float) -> TokenPair:
    """The `/auth/v1/token` content -> TokenPair expiring at now + expiresIn.
    `expiresIn` is a string in the docs ("86400") and a number on the real
    server (86400); both are taken."""
    if not isinstance(content, Mapping):
        raise PayloadError("token content is not an object")
    access, refresh = content.get("accessToken"), content.get("refreshToken")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise PayloadError("token content has no accessToken or refreshToken")
    expires_in = _positive_number(content.get("expiresIn"))
    if expires_in is None:
        raise PayloadError("token content has no usable expiresIn")
    token_type = content.get("tokenType")
    scope = content.get("scope")  # absent on a code exchange, present on a refresh
    return TokenPair(
        access,
        refresh,
        now + expires_in,
        token_type if isinstance(token_type, str) and token_type else "Bearer",
        scope if isinstance(scope, str) else "",
    )


# ---- session URLs ------------------------------------------------------------------------------------

_WS_SCHEMES = {"https": "wss", "http": "ws"}  # http only ever comes from the loopback fake


def session_url_of(content: object) -> str:
    """The `/open/v1/sessions/auth[/client]` content -> its http(s) url."""
    url = content.get("url") if isinstance(content, Mapping) else None
    if not isinstance(url, str):
        raise PayloadError("session content has no url")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise PayloadError("session url does not parse") from None
    if parts.scheme not in _WS_SCHEMES or not parts.hostname:
        raise PayloadError(f"session url is not http(s) (scheme {parts.scheme[:10]!r})")
    return url


def socket_url(session_url: str) -> str:
    """The session URL -> the Engine.IO WebSocket URL.

    "https://ssio08.nchat.naver.com:443?auth=T" ->
    "wss://ssio08.nchat.naver.com:443/socket.io/?auth=T&EIO=3&transport=websocket".
    The query is kept byte for byte (the auth token is opaque: re-encoding
    it could change it); only EIO and transport are ours. The path is
    always /socket.io/: in Socket.IO a URL path names a namespace, not the
    endpoint."""
    try:
        parts = urlsplit(session_url)
    except ValueError:
        raise PayloadError("session url does not parse") from None
    scheme = _WS_SCHEMES.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise PayloadError(f"session url is not http(s) (scheme {parts.scheme[:10]!r})")
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ("EIO", "transport")]
    query = "&".join([*kept, "EIO=3", "transport=websocket"])
    return urlunsplit((scheme, parts.netloc, "/socket.io/", query, ""))


# ---- socket messages ---------------------------------------------------------------------------------


def decode_argument(arg: object) -> dict[str, Any]:
    """An event's single argument -> its object. Normally a JSON string
    holding an object (double-encoded, reference §2.5); an object already
    has been seen in the wild, and is taken as it is."""
    if isinstance(arg, str):
        try:
            arg = _loads(arg)
        except ValueError:
            raise PayloadError("argument is a string but not JSON") from None
    if not isinstance(arg, Mapping):
        raise PayloadError(f"argument is a {type(arg).__name__}, not an object")
    return dict(arg)


@attrs.frozen
class SystemMessage:
    """A SYSTEM event: connected, subscribed, unsubscribed, revoked, or a
    type nobody has seen yet (returned as it is, for the caller to ignore)."""

    type: str
    data: Mapping[str, Any]

    def _text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) else None

    @property
    def session_key(self) -> str | None:
        return self._text("sessionKey")

    @property
    def event_type(self) -> str | None:
        return self._text("eventType")

    @property
    def channel_id(self) -> str | None:
        return self._text("channelId")


def parse_system(arg: object) -> SystemMessage:
    """A SYSTEM argument -> SystemMessage; PayloadError if it has no type,
    or data that is not an object (missing or null data is empty)."""
    body = decode_argument(arg)
    kind = body.get("type")
    if not isinstance(kind, str):
        raise PayloadError("SYSTEM message has no type")
    data = body.get("data")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PayloadError(f"SYSTEM {kind[:40]!r} data is a {type(data).__name__}, not an object")
    return SystemMessage(kind, dict(data))


# ---- chat events -------------------------------------------------------------------------------------


@attrs.frozen
class Skip:
    """A socket event that became no ChatEvent, and why (for the log)."""

    event: str
    reason: str


_ROLES = {
    "streamer": Role.OWNER,
    "streaming_channel_manager": Role.MODERATOR,
    "streaming_chat_manager": Role.MODERATOR,
    "manager": Role.MODERATOR,
}

# `{:d_47:}`: where an emoji image goes. The VTuber cannot see the image, and
# the id means nothing to it.
_EMOJI = re.compile(r"\{:[^\s{}:]{1,64}:\}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MILLIS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z; later does not fit a datetime
MAX_PAY = Decimal(10**15)  # KRW; beyond any real donation, and safe for format_amount


def _clean(text: str) -> str:
    # A JSON "\ud800" escape decodes to a lone surrogate, which cannot be
    # written as UTF-8 later (records, the OLV socket): replace it here.
    return _SURROGATE.sub("\ufffd", text)


def _chat_text(text: str) -> str:
    return " ".join(_clean(_EMOJI.sub(" ", text)).split())


def _chat_line(text: str) -> str:
    """A chat message's text: the emote placeholders go (as for any text),
    unless there is nothing else. An emote-only message keeps its codes, so
    the router files it as `emoji_only`, not as an empty `too_short`."""
    words = _chat_text(text)
    if words or not _EMOJI.search(text):
        return words
    return " ".join(_EMOJI.findall(_clean(text)))


def _millis(value: object) -> int | None:
    """messageTime: an int of ms since the epoch, or a string of digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        millis = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        millis = value
    else:
        return None
    return millis if 0 <= millis <= _MAX_MILLIS else None


def _wall_millis(wall: datetime) -> int:
    return (wall - _EPOCH) // timedelta(milliseconds=1)


def _utc(wall: datetime) -> datetime:
    return wall.replace(tzinfo=UTC) if wall.tzinfo is None else wall.astimezone(UTC)


def _name(value: object) -> str:
    return _clean(value) if isinstance(value, str) and value.strip() else ANONYMOUS


def _pay_amount(value: object) -> Decimal | None:
    """payAmount: a string of digits (docs) or a number (maybe the real server)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        amount = Decimal(int(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float) and value.is_integer():
        amount = Decimal(int(value))
    else:
        return None
    return amount if 0 < amount < MAX_PAY else None


def _stable_id(kind: Kind, name: str, sender: str, *, millis: int, text: str, amount: str) -> str:
    """Chzzk chat has no message id: derive one from what identifies the
    message, so the same message delivered twice (after a reconnect) gets the
    same id and the router's "never twice" holds."""
    canonical = json.dumps([name, sender, millis, text, amount], separators=(",", ":"))  # ASCII: surrogates too
    return f"chzzk-{kind.value}-{hashlib.blake2b(canonical.encode('ascii'), digest_size=10).hexdigest()}"


def to_chat_event(name: str, arg: object, *, received_at: float, received_wall: datetime) -> ChatEvent | Skip:
    """One CHAT / DONATION / SUBSCRIPTION event -> a ChatEvent, or a Skip
    saying why not. Never raises: a bad message is skipped, the connection
    goes on."""
    convert = _CONVERTERS.get(name)
    if convert is None:
        return Skip(name, "unknown event")
    try:
        body = decode_argument(arg)
    except PayloadError as exc:
        return Skip(name, str(exc))
    result = convert(name, body, received_at, _utc(received_wall))
    if isinstance(result, Skip):
        return result
    # The house's one cleaning (names, ids, text, a bounded amount), as for every source.
    event, problem = clean_event(result)
    return Skip(name, problem) if problem is not None else event


def _chat(name: str, body: dict[str, Any], received_at: float, wall: datetime) -> ChatEvent | Skip:
    sender = body.get("senderChannelId")
    if not isinstance(sender, str) or not sender:
        return Skip(name, "no senderChannelId")
    content = body.get("content")
    if not isinstance(content, str):
        return Skip(name, "no content")
    profile = body.get("profile")
    if isinstance(profile, str):  # the unofficial protocol double-encodes it; cheap to allow
        try:
            profile = _loads(profile)
        except ValueError:
            profile = None
    if not isinstance(profile, Mapping):
        profile = {}  # null for anonymous senders, per chzzk4j
    # The real server puts userRoleCode in profile, the docs at the top level.
    role_code = profile.get("userRoleCode")
    if not isinstance(role_code, str):
        role_code = body.get("userRoleCode")
    roles: set[Role] = set()
    if isinstance(role_code, str) and role_code in _ROLES:
        roles.add(_ROLES[role_code])
    if profile.get("verifiedMark") is True:
        roles.add(Role.VERIFIED)
    millis = _millis(body.get("messageTime"))
    sent_at = wall if millis is None else _EPOCH + timedelta(milliseconds=millis)
    # messageTime is the server's, so a re-delivered message gets the same id.
    key_millis = _wall_millis(wall) if millis is None else millis
    return ChatEvent(
        Platform.CHZZK,
        _stable_id(Kind.CHAT, name, sender, millis=key_millis, text=content, amount=""),
        Kind.CHAT,
        Author(_clean(sender), _name(profile.get("nickname")), frozenset(roles)),
        _chat_line(content),
        None,
        sent_at,
        received_at=received_at,
    )


def _donation(name: str, body: dict[str, Any], received_at: float, wall: datetime) -> ChatEvent | Skip:
    value = _pay_amount(body.get("payAmount"))
    if value is None:
        return Skip(name, "malformed payAmount")
    sender = body.get("donatorChannelId")
    sender = sender if isinstance(sender, str) and sender else ANONYMOUS_ID
    text = body.get("donationText")
    text = text if isinstance(text, str) else ""
    # donationType (CHAT, VIDEO, or something new) changes nothing here.
    millis = _millis(body.get("messageTime"))
    sent_at = wall if millis is None else _EPOCH + timedelta(milliseconds=millis)
    # No server time in the documented payload, so the id includes when we got
    # it. Paid messages must never be merged by content alone: a viewer may
    # donate the same amount with the same words twice, and each deserves its
    # thanks. A re-delivered donation (the real server does not replay) is the
    # lesser risk.
    key_millis = _wall_millis(wall) if millis is None else millis
    amount = Amount(value, "KRW", format_amount(Amount(value, "KRW", "")))
    return ChatEvent(
        Platform.CHZZK,
        _stable_id(Kind.DONATION, name, sender, millis=key_millis, text=text, amount=str(value)),
        Kind.DONATION,
        Author(_clean(sender), _name(body.get("donatorNickname"))),
        _chat_text(text),
        amount,
        sent_at,
        received_at=received_at,
    )


def _subscription(name: str, body: dict[str, Any], received_at: float, wall: datetime) -> ChatEvent | Skip:
    sender = body.get("subscriberChannelId")
    sender = sender if isinstance(sender, str) and sender else ANONYMOUS_ID
    millis = _millis(body.get("messageTime"))
    sent_at = wall if millis is None else _EPOCH + timedelta(milliseconds=millis)
    # As for donations: each subscription is thanked, even two alike.
    key_millis = _wall_millis(wall) if millis is None else millis
    return ChatEvent(
        Platform.CHZZK,
        _stable_id(Kind.MEMBERSHIP, name, sender, millis=key_millis, text="", amount=""),
        Kind.MEMBERSHIP,
        Author(_clean(sender), _name(body.get("subscriberNickname"))),
        "",
        None,
        sent_at,
        received_at=received_at,
    )


_CONVERTERS = {"CHAT": _chat, "DONATION": _donation, "SUBSCRIPTION": _subscription}

CHAT_EVENTS = frozenset(_CONVERTERS)
