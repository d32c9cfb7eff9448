"""A faithful loopback fake of the YouTube Data API v3 live-chat endpoints, for tests.

It follows section 7 of the YouTube reference notes (shared/reference/youtube.md), and its JSON has
the shapes of the sample payloads kept next to them (shared/yt_samples/): ``kind``, ``etag``,
``nextPageToken``, ``pollingIntervalMillis``, ``offlineAt``, ``pageInfo``, items with ``snippet.type``,
one ``snippet.*Details`` object and ``authorDetails``, and Google's error body
``{"error": {"code", "message", "errors": [{"message", "domain", "reason", ...}], "status"?}}``.

Endpoints (all ``GET``, under ``base_url`` = ``http://HOST:PORT/youtube/v3``):

- ``/videos?part=liveStreamingDetails[,snippet]&id=V1[,V2...]`` (1 unit): ``activeLiveChatId`` only
  while the chat is live, ``actualEndTime`` once ended, ``concurrentViewers`` as a string (§3).
- ``/search?part=id|snippet&channelId=UC...&eventType=live&type=video``: by default the 2026 rule,
  a bucket of its own of 100 calls a day that costs no units; ``search_costs_units=True`` gives the
  older rule, 100 units from the daily 10,000 (§1.6, §3, and §7.5 asks for the switch).
- ``/liveChat/messages?liveChatId=...&part=id,snippet,authorDetails`` (5 units): the first call
  without ``pageToken`` returns the most recent messages only; later calls with the previous
  ``nextPageToken`` return only newer ones, oldest first, at most ``maxResults`` (§1.2, §1.3).
- ``/liveChat/messages/stream`` (5 units per connection): the REST mapping of ``streamList``, a
  chunked JSON array that grows by one list response per batch of new messages, with no
  ``pollingIntervalMillis``; closed after ``stream_lifetime`` seconds (§2.2, §2.3). With
  ``stream_endpoint`` it can be missing (HTML 404, free) or refused (403 ``forbidden``, charged).

Fidelity, with the reference's source tags where they matter:

- Quota (§1.6): "All API requests, including invalid requests, incur a quota cost of at least one
  point", so a call that fails parameter validation costs 1 unit and every other call that gets
  past the key check costs the method's full price, whatever its answer (404 liveChatNotFound,
  403 liveChatEnded, a fault's 503...). Calls rejected for their key, and calls refused with
  403 ``quotaExceeded`` (domain ``youtube.quota``), cost nothing. The day resets at midnight
  America/Los_Angeles, read from ``wall_clock``.
- Keys (§1.7): no key (and no bearer token) gives 403 ``forbidden``/``PERMISSION_DENIED``; a wrong key
  400 ``badRequest``/``INVALID_ARGUMENT`` with an ``API_KEY_INVALID`` ErrorInfo detail. Branch on
  ``error.errors[0].reason``.
- Lifecycle (§1.8, §7.1): ``end_stream()`` posts a silent ``chatEndedEvent`` and every later page
  carries ``offlineAt``; once a page holding that event has been served (or ``ended_grace``
  seconds after the end, 300 by default, the "≈5 min" hint), the chat id answers 403
  ``liveChatEnded``. ``disable_chat()`` gives 403 ``liveChatDisabled``; an id the fake never
  issued gives 404 ``liveChatNotFound``.
- Page tokens are opaque strings shaped like the real ones (base64url of a protobuf whose field 3
  is the position and field 4 the server time in µs, §1.3); a token that does not decode, or that
  points past the newest message, gives 400 ``pageTokenInvalid``.
- Parameter errors: a missing ``part`` or ``liveChatId`` gives the real 400 ``required`` body (§1.7).
  An unknown part gives 400 ``unknownPart`` (domain ``youtube.part``), and ``maxResults`` outside
  200–2000 or ``profileImageSize`` outside 16–720 give 400 ``invalidParameter`` with Google's
  usual range message. The reference could not verify those shapes; they come from memory of
  other YouTube endpoints.
- Values (§1.4, §1.5): ``amountMicros`` and ``banDurationSeconds`` are strings, ``tier``,
  ``memberMonth`` and ``giftMembershipsCount`` numbers, ``publishedAt`` reads
  ``YYYY-MM-DDThh:mm:ss.ffffff+00:00``, ``channelUrl`` uses ``http://``, avatars end in
  ``=s88-c-k-c0x00ffffff-no-rj`` (the size follows ``profileImageSize``). ``<`` and ``>`` in strings
  are escaped as ``\\u003c``/``\\u003e``, and the body is pretty-printed unless ``prettyPrint=false``.

Not emulated: OAuth-only endpoints (``liveBroadcasts.list``), ``fields=`` partial responses, the
``hl`` localisation of ``amountDisplayString``, gRPC, and the innertube endpoints of §5.

Time: every wait is a ``trio.sleep``, and every wall-clock value (``publishedAt``, ``offlineAt``, the
quota day) comes from ``wall_clock``, by default ``EPOCH + trio.current_time()`` seconds. So the
fake runs on ``trio.testing.MockClock(autojump_threshold=0)`` in the same ``trio.run`` as the
client, and an 8-hour stream takes seconds. The autojump only happens when every task is
blocked; on loopback, a request or answer written by one side is already readable by the other
before the writer blocks, so the clock never jumps in the middle of an exchange.

Tests use it in a nursery::

    fake = FakeYouTube()
    await nursery.start(fake.serve)
    chat_id = fake.go_live()
    fake.chat("Alice", "hello")
    fake.faults.append(Fault.SERVER_ERROR)  # the next liveChatMessages.list call fails once
    fake.down_until = trio.current_time() + 30  # or: every chat call fails for 30 s
    ... a client polls f"{fake.base_url}/liveChat/messages?liveChatId={chat_id}&part=..." ...

It also runs on its own, goes live at once and chats forever in English and Korean::

    python tests/fakes/youtube.py --port 8765 [--api-key test-key] [--interval-ms 2000]
"""

from __future__ import annotations

import argparse
import base64
import bisect
import copy
import enum
import hashlib
import json
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import h11
import trio

if not __package__:  # run as a script: tests/fakes/ is on sys.path, and fakes._http needs tests/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fakes._http import Reply, Request, send_reply, serve_connection, stop_on_signal

API_ROOT = "/youtube/v3"
JSON_TYPE = "application/json; charset=UTF-8"
# Every answer carries these, as Google's front ends send them.
SERVER_HEADERS = (("cache-control", "private"), ("vary", "Origin, X-Origin, Referer"))
# The default wall clock starts here: 09:00 in Los Angeles, so the first quota day ends 15 h in.
EPOCH = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)

try:
    PACIFIC: tzinfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # pragma: no cover - depends on the machine
    # No tz database (neither the system's nor the tzdata package): a fixed PST offset, which puts
    # the quota reset one hour late while daylight saving time is in force.
    PACIFIC = timezone(timedelta(hours=-8), "PST")

# Quota (§1.6).
VIDEOS_COST = 1
LIST_COST = 5
STREAM_COST = 5
INVALID_REQUEST_COST = 1
SEARCH_UNITS_COST = 100  # the pre-2026 rule
SEARCH_DAILY_CALLS = 100  # the 2026 rule: a bucket of its own

# liveChatMessages.list parameters (§1.2).
MAX_RESULTS = (200, 2000)
DEFAULT_MAX_RESULTS = 500
PROFILE_IMAGE_SIZE = (16, 720)
DEFAULT_PROFILE_IMAGE_SIZE = 88
STREAM_MAX_RESULTS = 2000  # maxResults is "not used in the streaming RPC": any later batch is sent whole

CHAT_PARTS = frozenset({"id", "snippet", "authorDetails"})
VIDEO_PARTS = frozenset(
    {
        "contentDetails",
        "fileDetails",
        "id",
        "liveStreamingDetails",
        "localizations",
        "player",
        "processingDetails",
        "recordingDetails",
        "snippet",
        "statistics",
        "status",
        "suggestions",
        "topicDetails",
    }
)
SEARCH_PARTS = frozenset({"id", "snippet"})
SEARCH_EVENT_TYPES = frozenset({"completed", "live", "upcoming"})

# Items without displayMessage (§1.4: "at the moment only messages of type TOMBSTONE and
# CHAT_ENDED_EVENT are silent").
SILENT_TYPES = frozenset({"chatEndedEvent", "tombstone"})

QUOTA_MESSAGE = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)
UNREGISTERED_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
RATE_LIMIT_MESSAGE = (
    "The request was sent too quickly after the previous request. This error occurs when API requests "
    "to retrieve messages are being sent more frequently than YouTube's refresh rates, which "
    "unnecessarily wastes bandwidth."
)
CHAT_NOT_FOUND_MESSAGE = (
    "The live chat that you are trying to retrieve cannot be found. Check the value of the "
    "request's liveChatId parameter to ensure that it is correct."
)
CHAT_ENDED_MESSAGE = "The live chat is no longer live."  # the real body; the docs say "The specified ..."
CHAT_DISABLED_MESSAGE = "Live chat is not enabled for the specified broadcast."

AVATAR_SUFFIX = "=s88-c-k-c0x00ffffff-no-rj"
# Symbol and decimals for amountDisplayString; others read "XYZ 1.50".
CURRENCIES: dict[str, tuple[str, int]] = {
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "KRW": ("₩", 0),
    "CAD": ("CA$", 2),
    "AUD": ("A$", 2),
    "TWD": ("NT$", 0),
    "BRL": ("R$", 2),
    "INR": ("₹", 2),
}
# What Fault.MALFORMED_JSON sends: the start of a list response, cut short.
MALFORMED_BODY = (
    b'{\n  "kind": "youtube#liveChatMessageListResponse",\n  "etag": "trunc",\n  "items": [\n    {"kind": "you'
)


class Fault(enum.Enum):
    """What goes wrong in a liveChatMessages.list call. `FakeYouTube.faults` is a FIFO: each list call
    that passes the key, quota and parameter checks takes the first one (it is charged as usual).
    """

    SERVER_ERROR = "server_error"  # one 503 backendError (Google error body, status UNAVAILABLE)
    SLOW = "slow"  # the answer comes `FakeYouTube.slow_delay` seconds late (and is computed then)
    MALFORMED_JSON = "malformed_json"  # 200, application/json, a truncated body
    # 200 JSON of the right overall shape with wrong types in places; the variants take turns (see
    # `_wrong_types_body`). Its nextPageToken is the position the call started from, so no real
    # message is lost: the next call gets them.
    WRONG_TYPES = "wrong_types"
    RATE_LIMITED = "rate_limited"  # 403 rateLimitExceeded, domain youtube.liveChat


class StreamEndpoint(enum.Enum):
    """How `/liveChat/messages/stream` behaves (`FakeYouTube.stream_endpoint`). The reference cannot
    say whether every project may use it (§2.3: one field report, unresolved), so a client must cope
    with all three."""

    OPEN = "open"  # works (and closes after `stream_lifetime`)
    # Not there: Google's front end answers an unknown URL with its HTML 404 page, before any API
    # method runs, so nothing is charged.
    MISSING = "missing"
    # There but refused to this project: 403 ``forbidden``/``PERMISSION_DENIED`` as a one-element array
    # (§2.1 lists 403 forbidden for the web transport). The key passed, so it is charged like any call.
    REFUSED = "refused"


def _virtual_wall_clock() -> datetime:
    """EPOCH plus Trio's clock: virtual time under a MockClock."""
    return EPOCH + timedelta(seconds=trio.current_time())


class _ApiError(Exception):
    """An answer in Google's JSON error envelope."""

    def __init__(
        self,
        code: int,
        reason: str,
        domain: str,
        message: str,
        *,
        status: str | None = None,
        location: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.domain = domain
        self.message = message
        self.status = status
        self.location = location
        self.details = details

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location is not None:
            entry |= {"locationType": "parameter", "location": self.location}
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [entry]}
        if self.status is not None:
            error["status"] = self.status
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def _required(parameter: str) -> _ApiError:
    return _ApiError(400, "required", "global", f"Required parameter: {parameter}", location=parameter)


def _unknown_part(part: str) -> _ApiError:
    return _ApiError(400, "unknownPart", "youtube.part", f"'{part}'", location="part")


def _quota_exceeded() -> _ApiError:
    return _ApiError(403, "quotaExceeded", "youtube.quota", QUOTA_MESSAGE)


def _server_error() -> _ApiError:
    return _ApiError(503, "backendError", "global", "The service is currently unavailable.", status="UNAVAILABLE")


def _rate_limited() -> _ApiError:
    return _ApiError(403, "rateLimitExceeded", "youtube.liveChat", RATE_LIMIT_MESSAGE)


def _stream_refused() -> _ApiError:
    return _ApiError(403, "forbidden", "global", "The caller does not have permission", status="PERMISSION_DENIED")


@attrs.frozen
class _Streamed:
    """A chunked answer: `run` writes the body through the send function it is given."""

    run: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]
    content_type: str = "application/json; charset=UTF-8"


@attrs.frozen
class _ListArgs:
    chat_id: str
    parts: frozenset[str]
    max_results: int
    profile_image_size: int
    cursor: int | None  # None: no pageToken, the first call
    token: str | None


@attrs.frozen
class _Page:
    items: list[dict[str, Any]]
    start: int  # position before the first item of this page
    next: int  # position for nextPageToken
    has_end: bool  # the page holds the chatEndedEvent


@attrs.define(eq=False)
class _Chat:
    chat_id: str
    video_id: str
    items: list[dict[str, Any]] = attrs.field(factory=list)
    seqs: list[int] = attrs.field(factory=list)  # the global position of each item, increasing
    end_seq: int | None = None  # position of the chatEndedEvent
    ended_at: float | None = None  # trio time of end_stream()
    offline_at: datetime | None = None
    end_served: bool = False  # a page holding the chatEndedEvent has gone out
    disabled: bool = False
    active_poll: dict[str, Any] | None = None
    last_list_at: float | None = None  # trio time of the last 200, for enforce_polling_interval


@attrs.define(eq=False)
class _Video:
    video_id: str
    title: str
    scheduled_start: datetime
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    chat_id: str | None = None  # activeLiveChatId, while live

    @property
    def content(self) -> str:
        """snippet.liveBroadcastContent."""
        if self.actual_end is not None:
            return "none"
        return "live" if self.actual_start is not None else "upcoming"


@attrs.define
class FakeYouTube:
    """The fake server, its scripted stream, and what it saw, for assertions.

    Observable state: `units_used` and `search_calls_today` (both reset at Pacific midnight),
    `calls` (wall time, endpoint, HTTP status, units charged) in the order answers went out,
    `posted` (wall time, item) for every item ever posted, `state` and `live_chat_id`.
    """

    api_key: str = "test-key"
    daily_quota: int = 10_000
    polling_interval_ms: int = 2_000
    wall_clock: Callable[[], datetime] = _virtual_wall_clock
    video_id: str = "dQw4w9WgXcQ"
    channel_id: str = "UCfakeChannel000000000000"
    slow_delay: float = 30.0
    faults: list[Fault] = attrs.field(factory=list)
    # Knobs beyond the required API.
    channel_title: str = "Fake Streamer"  # display name of the channel owner (moderation, chatEndedEvent)
    title: str = "Fake live stream"
    oauth_token: str | None = None  # a bearer token accepted in place of the key, if set
    search_costs_units: bool = False  # True: the pre-2026 rule, search.list = 100 units
    search_daily_calls: int = SEARCH_DAILY_CALLS
    search_lag: float = 0.0  # seconds after go_live before search.list finds the stream
    backlog_limit: int = DEFAULT_MAX_RESULTS  # the most a first call (no pageToken) returns
    ended_grace: float = 300.0  # seconds after end_stream() when the chat answers liveChatEnded anyway
    enforce_polling_interval: bool = False  # True: polling sooner than the hint gives rateLimitExceeded
    stream_lifetime: float | None = 10.0  # the server closes a /stream connection after this; None = never
    stream_endpoint: StreamEndpoint = StreamEndpoint.OPEN
    # The chat backend is down until this trio time: every liveChatMessages call (list or stream)
    # answers 503 backendError, charged like the SERVER_ERROR fault. For outages of a given length.
    down_until: float | None = None
    # Not in the reference: when set, 503 and rateLimitExceeded answers carry `Retry-After: N`
    # (seconds), as Google's front end sometimes sends; a client should wait exactly that.
    retry_after: int | None = None
    concurrent_viewers: int = 1234
    seed: int = 0

    # Observable state.
    calls: list[tuple[datetime, str, int, int]] = attrs.field(factory=list, init=False)
    live_chat_id: str | None = attrs.field(default=None, init=False)
    state: str = attrs.field(default="upcoming", init=False)  # "upcoming" | "live" | "ended"
    posted: list[tuple[datetime, dict[str, Any]]] = attrs.field(factory=list, init=False)

    _units_used: int = attrs.field(default=0, init=False)
    _search_calls: int = attrs.field(default=0, init=False)
    _quota_day: date | None = attrs.field(default=None, init=False)
    _rng: random.Random = attrs.field(init=False, repr=False)
    _seq: int = attrs.field(default=0, init=False, repr=False)  # global position of the newest item
    _chats: dict[str, _Chat] = attrs.field(factory=dict, init=False, repr=False)
    _videos: dict[str, _Video] = attrs.field(factory=dict, init=False, repr=False)
    _generation: int = attrs.field(default=0, init=False, repr=False)
    _live_since: float | None = attrs.field(default=None, init=False, repr=False)
    _last_gifting: dict[str, str] = attrs.field(factory=dict, init=False, repr=False)
    _wrong_types_served: int = attrs.field(default=0, init=False, repr=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    _host: str = attrs.field(default="127.0.0.1", init=False, repr=False)
    _port: int | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # ------------------------------------------------------------------ quota

    @property
    def units_used(self) -> int:
        """Quota units spent today (the day ends at midnight America/Los_Angeles)."""
        self._roll_quota_day()
        return self._units_used

    @units_used.setter
    def units_used(self, value: int) -> None:
        self._roll_quota_day()
        self._units_used = value

    @property
    def search_calls_today(self) -> int:
        """search.list calls counted against its own bucket today (the 2026 rule)."""
        self._roll_quota_day()
        return self._search_calls

    @search_calls_today.setter
    def search_calls_today(self, value: int) -> None:
        self._roll_quota_day()
        self._search_calls = value

    def exhaust_quota(self) -> None:
        """Spend the day's units: every call that costs units gets 403 quotaExceeded until Pacific midnight."""
        self.units_used = self.daily_quota

    def exhaust_search_quota(self) -> None:
        """Spend today's search.list bucket (with search_costs_units, the units instead)."""
        if self.search_costs_units:
            self.exhaust_quota()
        else:
            self.search_calls_today = self.search_daily_calls

    def quota_resets_at(self) -> datetime:
        """The next midnight in Los Angeles, in UTC."""
        local = self._now().astimezone(PACIFIC)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
        return midnight.astimezone(UTC)

    def _roll_quota_day(self) -> None:
        try:
            today = self._now().astimezone(PACIFIC).date()
        except RuntimeError:
            return  # read outside trio.run with the default clock: keep the last day's figures
        if today != self._quota_day:
            self._quota_day = today
            self._units_used = 0
            self._search_calls = 0

    def _charge(self, endpoint: str, cost: int) -> int:
        """Spend quota for one call, or raise 403 quotaExceeded (nothing spent). Returns the units charged."""
        self._roll_quota_day()
        if endpoint == "search.list" and not self.search_costs_units:
            if self._search_calls >= self.search_daily_calls:
                raise _quota_exceeded()
            self._search_calls += 1
            return 0
        if self._units_used + cost > self.daily_quota:
            raise _quota_exceeded()
        self._units_used += cost
        return cost

    # ------------------------------------------------------- the scripted stream

    def go_live(self, *, video_id: str | None = None) -> str:
        """Start the broadcast (of `video_id`, if given, as a new video) with a fresh chat; returns its liveChatId."""
        if self.state == "live":
            raise RuntimeError("the stream is already live")
        if video_id is not None:
            self.video_id = video_id
        now = self._now()
        video = self._current_video()
        if video.actual_end is not None:
            # Live again on a video that had ended: a new broadcast on the same id.
            video.actual_start, video.actual_end = None, None
        if video.actual_start is None:
            video.actual_start = now
        self._generation += 1
        chat_id = self._new_chat_id(video.video_id)
        self._chats[chat_id] = _Chat(chat_id, video.video_id)
        video.chat_id = chat_id
        self.live_chat_id = chat_id
        self.state = "live"
        self._live_since = trio.current_time()
        self._poke()
        return chat_id

    def end_stream(self) -> None:
        """End the broadcast: a chatEndedEvent, offlineAt from now on, then 403 liveChatEnded (see the module doc)."""
        if self.state != "live":
            raise RuntimeError(f"end_stream() needs a live stream, not {self.state!r}")
        self._end_chat()
        video = self._current_video()
        video.actual_end = self._now()
        video.chat_id = None
        self.live_chat_id = None
        self.state = "ended"
        self._live_since = None
        self._poke()

    def restart_stream(self, *, new_video_id: str | None = None) -> str:
        """The stream drops and comes back with a NEW chat id; returns it.

        The old chat ends as in end_stream() (chatEndedEvent, then liveChatEnded). By default the
        video stays the same and only its activeLiveChatId changes; with `new_video_id`, the old
        video ends (actualEndTime) and the new one goes live, as a new event broadcast does (§6).
        """
        if self.state != "live":
            raise RuntimeError(f"restart_stream() needs a live stream, not {self.state!r}")
        if new_video_id is None:
            self._end_chat()
            self.state = "upcoming"  # for the instant before go_live()
            return self.go_live()
        self.end_stream()
        return self.go_live(video_id=new_video_id)

    def disable_chat(self) -> None:
        """Turn the chat off (or delete the broadcast): its id answers 403 liveChatDisabled and
        videos.list drops activeLiveChatId. The stream itself stays live."""
        chat = self._live_chat()
        chat.disabled = True
        self._current_video().chat_id = None
        self.live_chat_id = None
        self._poke()

    def _end_chat(self) -> None:
        if self.live_chat_id is None:
            return  # disabled: nothing to end
        chat = self._live_chat()
        self._post("chatEndedEvent", self._owner(), display=None, author_channel=False)
        chat.end_seq = self._seq
        chat.ended_at = trio.current_time()
        chat.offline_at = self._now()

    # ----------------------------------------------------------------- builders

    def author_id(self, name: str) -> str:
        """The channelId the builders give a display name (stable across runs and fakes)."""
        digest = base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode()
        return "UC" + digest[:22]

    def chat(
        self,
        name: str,
        text: str,
        *,
        channel_id: str | None = None,
        owner: bool = False,
        moderator: bool = False,
        member: bool = False,
        verified: bool = False,
    ) -> dict[str, Any]:
        """A textMessageEvent. `owner` without `channel_id` writes as the channel itself."""
        author = self._author(
            name, channel_id=channel_id, owner=owner, moderator=moderator, member=member, verified=verified
        )
        return self._post(
            "textMessageEvent", author, display=text, details=("textMessageDetails", {"messageText": text})
        )

    def super_chat(
        self,
        name: str,
        text: str,
        amount_micros: int,
        currency: str,
        *,
        display: str | None = None,
        tier: int = 2,
        channel_id: str | None = None,
    ) -> dict[str, Any]:
        shown = display if display is not None else _money(amount_micros, currency)
        details = {
            "amountMicros": str(amount_micros),
            "currency": currency,
            "amountDisplayString": shown,
            "userComment": text,
            "tier": tier,
        }
        message = f'{shown} from {name}: "{text}"' if text else f"{shown} from {name}"
        author = self._author(name, channel_id=channel_id)
        return self._post("superChatEvent", author, display=message, details=("superChatDetails", details))

    def super_sticker(
        self,
        name: str,
        amount_micros: int,
        currency: str,
        *,
        display: str | None = None,
        sticker_id: str = "sticker_1",
        tier: int = 1,
        alt_text: str = "A waving cat",
        channel_id: str | None = None,
    ) -> dict[str, Any]:
        shown = display if display is not None else _money(amount_micros, currency)
        details = {
            "superStickerMetadata": {"stickerId": sticker_id, "altText": alt_text, "language": "en"},
            "amountMicros": str(amount_micros),
            "currency": currency,
            "amountDisplayString": shown,
            "tier": tier,
        }
        author = self._author(name, channel_id=channel_id)
        message = f"Super Sticker {shown} from {name}: {alt_text}"
        return self._post("superStickerEvent", author, display=message, details=("superStickerDetails", details))

    def new_sponsor(
        self, name: str, level: str = "Member", *, upgrade: bool = False, channel_id: str | None = None
    ) -> dict[str, Any]:
        author = self._author(name, channel_id=channel_id, member=True)
        message = f"UPGRADED! {name} is now {level}!" if upgrade else f"NEW MEMBER! Welcome {name}!"
        details = {"memberLevelName": level, "isUpgrade": upgrade}
        return self._post("newSponsorEvent", author, display=message, details=("newSponsorDetails", details))

    def milestone(
        self, name: str, months: int, text: str = "", level: str = "Member", *, channel_id: str | None = None
    ) -> dict[str, Any]:
        author = self._author(name, channel_id=channel_id, member=True)
        details = {"userComment": text, "memberMonth": months, "memberLevelName": level}
        message = text or f"{name} has been a member for {months} months!"
        return self._post(
            "memberMilestoneChatEvent", author, display=message, details=("memberMilestoneChatDetails", details)
        )

    def gifting(self, name: str, count: int, level: str = "Member", *, channel_id: str | None = None) -> dict[str, Any]:
        """A membershipGiftingEvent; gift_received() items from this gifter point back at it."""
        author = self._author(name, channel_id=channel_id, member=True)
        details = {"giftMembershipsCount": count, "giftMembershipsLevelName": level}
        message = f"{name} gifted {count} {level} memberships"
        item = self._post(
            "membershipGiftingEvent", author, display=message, details=("membershipGiftingDetails", details)
        )
        self._last_gifting[author["channelId"]] = item["id"]
        return item

    def gift_received(
        self, name: str, gifter_channel_id: str, level: str = "Member", *, channel_id: str | None = None
    ) -> dict[str, Any]:
        author = self._author(name, channel_id=channel_id, member=True)
        details = {
            "memberLevelName": level,
            "gifterChannelId": gifter_channel_id,
            "associatedMembershipGiftingMessageId": self._last_gifting.get(gifter_channel_id, ""),
        }
        message = f"{name} received a gift membership"
        return self._post(
            "giftMembershipReceivedEvent", author, display=message, details=("giftMembershipReceivedDetails", details)
        )

    def delete_message(self, message_id: str) -> dict[str, Any]:
        """A messageDeletedEvent by the channel owner (§1.4: newer docs say it may never arrive)."""
        details = {"deletedMessageId": message_id}
        return self._post(
            "messageDeletedEvent",
            self._owner(),
            display="A message was deleted",
            details=("messageDeletedDetails", details),
        )

    def ban(self, channel_id: str, name: str, *, temporary_seconds: int | None = None) -> dict[str, Any]:
        """A userBannedEvent by the channel owner: permanent, or a timeout of `temporary_seconds`."""
        banned = {
            "channelId": channel_id,
            "channelUrl": f"http://www.youtube.com/channel/{channel_id}",
            "displayName": name,
            "profileImageUrl": _avatar(channel_id),
        }
        details: dict[str, Any] = {"bannedUserDetails": banned}
        if temporary_seconds is None:
            details["banType"] = "permanent"
            message = f"{name} has been removed from the chat"
        else:
            details |= {"banType": "temporary", "banDurationSeconds": str(temporary_seconds)}
            message = f"{name} has been put in a timeout for {temporary_seconds} seconds"
        return self._post("userBannedEvent", self._owner(), display=message, details=("userBannedDetails", details))

    def unknown(self, type_name: str = "pollEvent") -> dict[str, Any]:
        """An item of a type a client will not know: by default an active poll (which also shows up as
        activePollItem), "giftEvent" a gift, anything else an item with no details object."""
        if type_name == "pollEvent":
            metadata = {
                "questionText": "Which game next?",
                "options": [{"optionText": "Tetris", "tally": "3"}, {"optionText": "테트리스", "tally": "5"}],
            }
            item = self._post(
                type_name,
                self._owner(),
                display="Poll: Which game next?",
                details=("pollDetails", {"metadata": metadata, "status": "active"}),
            )
            self._live_chat().active_poll = self._live_chat().items[-1]
            return item
        if type_name == "giftEvent":
            details = {
                "giftName": "Heart",
                "giftDuration": "5s",
                "jewelsAmount": 100,
                "giftUrl": "https://www.gstatic.com/youtube/img/gifts/heart.png",
                "altText": "Heart",
                "language": "en",
                "hasVisualEffect": False,
                "comboCount": 1,
            }
            author = self._author("Gift Giver")
            return self._post(type_name, author, display="Gift Giver sent a Heart", details=("giftDetails", details))
        display = None if type_name in SILENT_TYPES else f"({type_name})"
        return self._post(type_name, self._owner(), display=display)

    def _author(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        owner: bool = False,
        moderator: bool = False,
        member: bool = False,
        verified: bool = False,
    ) -> dict[str, Any]:
        cid = channel_id or (self.channel_id if owner else self.author_id(name))
        return {
            "channelId": cid,
            "channelUrl": f"http://www.youtube.com/channel/{cid}",
            "displayName": name,
            "profileImageUrl": _avatar(cid),
            "isVerified": verified,
            "isChatOwner": owner,
            "isChatSponsor": member,
            "isChatModerator": moderator,
        }

    def _owner(self) -> dict[str, Any]:
        return self._author(self.channel_title, owner=True)

    def _post(
        self,
        kind: str,
        author: dict[str, Any],
        *,
        display: str | None,
        details: tuple[str, dict[str, Any]] | None = None,
        author_channel: bool = True,
    ) -> dict[str, Any]:
        chat = self._live_chat()
        now = self._now()
        snippet: dict[str, Any] = {"type": kind, "liveChatId": chat.chat_id}
        if author_channel:
            snippet["authorChannelId"] = author["channelId"]
        snippet["publishedAt"] = _micro_time(now)
        snippet["hasDisplayContent"] = display is not None
        if display is not None:
            snippet["displayMessage"] = display
        if details is not None:
            snippet[details[0]] = details[1]
        item = {
            "kind": "youtube#liveChatMessage",
            "etag": self._etag(),
            "id": self._message_id(),
            "snippet": snippet,
            "authorDetails": author,
        }
        self._seq += 1
        chat.items.append(item)
        chat.seqs.append(self._seq)
        self.posted.append((now, copy.deepcopy(item)))
        self._poke()
        return copy.deepcopy(item)

    def _live_chat(self) -> _Chat:
        if self.state != "live" or self.live_chat_id is None:
            raise RuntimeError("no live chat to post in: call go_live() first (and not disable_chat())")
        return self._chats[self.live_chat_id]

    def _current_video(self) -> _Video:
        video = self._videos.get(self.video_id)
        if video is None:
            # Scheduled for the moment the fake first hears of it.
            video = _Video(self.video_id, self.title, scheduled_start=self._now().replace(microsecond=0))
            self._videos[self.video_id] = video
        return video

    def _poke(self) -> None:
        """Wake the /stream connections."""
        self._changed.set()
        self._changed = trio.Event()

    # --------------------------------------------------------------------- ids

    def _now(self) -> datetime:
        now = self.wall_clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _etag(self) -> str:
        return base64.urlsafe_b64encode(self._rng.randbytes(21)).decode()[:27]

    def _message_id(self) -> str:
        # The 2024 form: base64url of a protobuf wrapping the 26-character innertube item id (§1.5).
        inner = ("CI" + base64.urlsafe_b64encode(self._rng.randbytes(18)).decode())[:26].encode()
        return "LCC." + _b64(_pb_bytes(2, _pb_bytes(1, inner)))

    def _new_chat_id(self, video_id: str) -> str:
        # {1:{1:video}, 5:{1:channel, 2:video}} as in §1.5, so the id starts "Cg0KC"; restarts on the
        # same video add a generation number, so that every go_live() has a fresh id.
        raw = _pb_bytes(1, _pb_bytes(1, video_id.encode()))
        raw += _pb_bytes(5, _pb_bytes(1, self.channel_id.encode()) + _pb_bytes(2, video_id.encode()))
        if self._generation > 1:
            raw += bytes([7 << 3]) + _varint(self._generation)
        return _b64(raw)

    # ------------------------------------------------------------------ serving

    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve HTTP/1.1 until cancelled; task_status.started(the bound port)."""
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, self._serve_connection, port, host=host))
            self._host, self._port = host, listeners[0].socket.getsockname()[1]
            task_status.started(self._port)

    @property
    def base_url(self) -> str:
        """E.g. "http://127.0.0.1:54321/youtube/v3"; valid once serve() has started."""
        if self._port is None:
            raise RuntimeError("FakeYouTube.base_url is valid only once serve() has started")
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}{API_ROOT}"

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        """One keep-alive connection, one request at a time."""
        await serve_connection(stream, self._answer, server_headers=SERVER_HEADERS)

    async def _answer(self, conn: h11.Connection, stream: trio.SocketStream, request: Request) -> bool:
        """Answer one request, whole or streamed in chunks; never a TCP reset."""
        answer = await self._dispatch(request)
        if isinstance(answer, Reply):
            await send_reply(conn, stream, answer, server_headers=SERVER_HEADERS)
            return False
        headers = [("content-type", answer.content_type), ("transfer-encoding", "chunked")]
        await stream.send_all(conn.send(h11.Response(status_code=200, headers=headers, reason=b"OK")))

        async def send(data: bytes) -> None:
            await stream.send_all(conn.send(h11.Data(data=data)))

        await answer.run(send)
        await stream.send_all(conn.send(h11.EndOfMessage()))
        return False

    async def _dispatch(self, request: Request) -> Reply | _Streamed:
        routes = {
            f"{API_ROOT}/videos": ("videos.list", VIDEOS_COST, self._videos_list),
            f"{API_ROOT}/search": ("search.list", SEARCH_UNITS_COST, self._search_list),
            f"{API_ROOT}/liveChat/messages": ("liveChatMessages.list", LIST_COST, self._messages_list),
            f"{API_ROOT}/liveChat/messages/stream": ("liveChatMessages.streamList", STREAM_COST, self._messages_stream),
        }
        if self.stream_endpoint is StreamEndpoint.MISSING:
            del routes[f"{API_ROOT}/liveChat/messages/stream"]
        route = routes.get(request.path)
        if route is None or request.method != "GET":
            # Google's front end answers an unknown URL with an HTML 404 page.
            return Reply(404, b"<!DOCTYPE html><title>Error 404 (Not Found)!!1</title>", "text/html; charset=UTF-8")
        endpoint, cost, handler = route
        streaming = endpoint == "liveChatMessages.streamList"
        pretty = (request.get("prettyPrint") or "true").lower() != "false"
        arrived = self._now()
        units = 0
        try:
            self._authenticate(request)
            try:
                prepared = self._validate(endpoint, request)
            except _ApiError:
                units = self._charge(endpoint, INVALID_REQUEST_COST)
                raise
            units = self._charge(endpoint, cost)
            answer = await handler(request, prepared, pretty)
        except _ApiError as error:
            # On /stream, errors come as a one-element array (§2.2, §7.2).
            body = [error.body()] if streaming else error.body()
            wait = self.retry_after is not None and error.reason in ("backendError", "rateLimitExceeded")
            headers = (("retry-after", str(self.retry_after)),) if wait else ()
            answer = Reply(error.code, _dumps(body, pretty), JSON_TYPE, headers)
        self.calls.append((arrived, endpoint, answer.status if isinstance(answer, Reply) else 200, units))
        return answer

    def _authenticate(self, request: Request) -> None:
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.oauth_token is not None:
            if bearer[7:].strip() == self.oauth_token:
                return
            # Not in the reference: Google's usual answer to a bad OAuth token.
            raise _ApiError(
                401,
                "authError",
                "global",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
                status="UNAUTHENTICATED",
            )
        key = request.get("key")
        if key is None or key == "":
            raise _ApiError(403, "forbidden", "global", UNREGISTERED_MESSAGE, status="PERMISSION_DENIED")
        if key != self.api_key:
            raise _ApiError(
                400,
                "badRequest",
                "global",
                "API key not valid. Please pass a valid API key.",
                status="INVALID_ARGUMENT",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )

    def _validate(self, endpoint: str, request: Request) -> Any:
        if endpoint == "videos.list":
            parts = _parts(request, VIDEO_PARTS)
            ids = request.get("id")
            if not ids:
                raise _ApiError(
                    400,
                    "missingRequiredParameter",
                    "youtube.parameter",
                    "No filter selected. Expected one of: chart, id, myRated",
                )
            return parts, [v for v in ids.split(",") if v]
        if endpoint == "search.list":
            parts = _parts(request, SEARCH_PARTS)
            event_type = request.get("eventType")
            if event_type is not None and (event_type not in SEARCH_EVENT_TYPES or request.get("type") != "video"):
                raise _ApiError(
                    400,
                    "invalidSearchFilter",
                    "youtube.search",
                    "The request contains an invalid combination of search filters and/or restrictions. Note "
                    "that you must set the type parameter to video if you set a value for the eventType, ...",
                )
            max_results = _uint(request, "maxResults", (0, 50), 5)
            return parts, event_type, request.get("channelId"), max_results
        return self._validate_messages(request, streaming=endpoint == "liveChatMessages.streamList")

    def _validate_messages(self, request: Request, *, streaming: bool) -> _ListArgs:
        if not any(v.strip(", ") for v in request.params.get("part", [])):
            raise _required("part")
        chat_id = request.get("liveChatId")
        if not chat_id:
            raise _required("liveChatId")
        parts = _parts(request, CHAT_PARTS)
        if streaming:
            max_results = STREAM_MAX_RESULTS  # "Not used in the streaming RPC."
        else:
            max_results = _uint(request, "maxResults", MAX_RESULTS, DEFAULT_MAX_RESULTS)
        size = _uint(request, "profileImageSize", PROFILE_IMAGE_SIZE, DEFAULT_PROFILE_IMAGE_SIZE)
        token = request.get("pageToken") or None
        cursor = None
        if token is not None:
            cursor = _decode_token(token)
            if cursor is None or cursor > self._seq:
                raise _ApiError(400, "pageTokenInvalid", "youtube.liveChat", "The page token is not valid.")
        return _ListArgs(chat_id, parts, max_results, size, cursor, token)

    # ------------------------------------------------------------- endpoints

    async def _videos_list(self, request: Request, prepared: Any, pretty: bool) -> Reply:
        parts, ids = prepared
        self._current_video()
        items = [self._render_video(self._videos[v], parts) for v in ids if v in self._videos]
        body = {
            "kind": "youtube#videoListResponse",
            "etag": self._etag(),
            "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        }
        return Reply(200, _dumps(body, pretty), JSON_TYPE)

    def _render_video(self, video: _Video, parts: frozenset[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"kind": "youtube#video", "etag": self._etag(), "id": video.video_id}
        if "snippet" in parts:
            item["snippet"] = self._video_snippet(video)
        if "liveStreamingDetails" in parts:
            details: dict[str, Any] = {}
            if video.actual_start is not None:
                details["actualStartTime"] = _second_time(video.actual_start)
            if video.actual_end is not None:
                details["actualEndTime"] = _second_time(video.actual_end)
            details["scheduledStartTime"] = _second_time(video.scheduled_start)
            if video.content == "live":
                details["concurrentViewers"] = str(self.concurrent_viewers)
                if video.chat_id is not None:
                    details["activeLiveChatId"] = video.chat_id
            item["liveStreamingDetails"] = details
        return item

    def _video_snippet(self, video: _Video) -> dict[str, Any]:
        return {
            "publishedAt": _second_time(video.scheduled_start - timedelta(days=1)),
            "channelId": self.channel_id,
            "title": video.title,
            "description": "",
            "thumbnails": {
                "default": {
                    "url": f"https://i.ytimg.com/vi/{video.video_id}/default_live.jpg",
                    "width": 120,
                    "height": 90,
                }
            },
            "channelTitle": self.channel_title,
            "liveBroadcastContent": video.content,
        }

    async def _search_list(self, request: Request, prepared: Any, pretty: bool) -> Reply:
        parts, event_type, channel_id, max_results = prepared
        self._current_video()
        found = []
        if channel_id in (None, self.channel_id):
            for video in self._videos.values():
                content = "completed" if video.content == "none" else video.content
                if event_type is not None and content != event_type:
                    continue
                if content == "live" and not self._searchable():
                    continue
                found.append(video)
        items = []
        for video in found[:max_results]:
            item: dict[str, Any] = {
                "kind": "youtube#searchResult",
                "etag": self._etag(),
                "id": {"kind": "youtube#video", "videoId": video.video_id},
            }
            if "snippet" in parts:
                snippet = self._video_snippet(video)
                snippet["publishTime"] = snippet["publishedAt"]
                item["snippet"] = snippet
            items.append(item)
        body = {
            "kind": "youtube#searchListResponse",
            "etag": self._etag(),
            "regionCode": "US",
            "pageInfo": {"totalResults": len(found), "resultsPerPage": max_results},
            "items": items,
        }
        return Reply(200, _dumps(body, pretty), JSON_TYPE)

    def _searchable(self) -> bool:
        """The search index lags: a live stream is found `search_lag` seconds after go_live()."""
        return self._live_since is not None and trio.current_time() - self._live_since >= self.search_lag

    def _open_chat(self, chat_id: str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _ApiError(404, "liveChatNotFound", "youtube.liveChat", CHAT_NOT_FOUND_MESSAGE)
        if chat.disabled:
            raise _ApiError(403, "liveChatDisabled", "youtube.liveChat", CHAT_DISABLED_MESSAGE)
        if chat.ended_at is not None and (chat.end_served or trio.current_time() >= chat.ended_at + self.ended_grace):
            raise _ApiError(403, "liveChatEnded", "youtube.liveChat", CHAT_ENDED_MESSAGE)
        return chat

    def _down(self) -> bool:
        return self.down_until is not None and trio.current_time() < self.down_until

    async def _messages_list(self, request: Request, args: _ListArgs, pretty: bool) -> Reply:
        if self._down():
            raise _server_error()
        fault = self.faults.pop(0) if self.faults else None
        if fault is Fault.SERVER_ERROR:
            raise _server_error()
        if fault is Fault.RATE_LIMITED:
            raise _rate_limited()
        if fault is Fault.SLOW:
            await trio.sleep(self.slow_delay)
        if fault is Fault.MALFORMED_JSON:
            return Reply(200, MALFORMED_BODY, JSON_TYPE)
        if fault is Fault.WRONG_TYPES:
            chat = self._chats.get(args.chat_id)
            if chat is not None:
                start = self._page(chat, args.cursor, args.max_results).start
            else:
                start = args.cursor if args.cursor is not None else self._seq
            return Reply(200, _dumps(self._wrong_types_body(start), pretty), JSON_TYPE)
        chat = self._open_chat(args.chat_id)
        now = trio.current_time()
        if (
            self.enforce_polling_interval
            and chat.last_list_at is not None
            and now - chat.last_list_at < self.polling_interval_ms / 1000
        ):
            raise _rate_limited()
        page = self._page(chat, args.cursor, args.max_results)
        chat.last_list_at = now
        if page.has_end:
            chat.end_served = True
        return Reply(200, _dumps(self._page_body(chat, page, args, polling=True), pretty), JSON_TYPE)

    async def _messages_stream(self, request: Request, args: _ListArgs, pretty: bool) -> _Streamed:
        if self.stream_endpoint is StreamEndpoint.REFUSED:
            raise _stream_refused()
        if self._down():
            raise _server_error()
        chat = self._open_chat(args.chat_id)

        async def run(send: Callable[[bytes], Awaitable[None]]) -> None:
            lifetime = self.stream_lifetime
            deadline = trio.current_time() + lifetime if lifetime is not None else float("inf")
            cursor = args.cursor
            first = True
            while True:
                changed = self._changed
                if chat.disabled:
                    error = _ApiError(403, "liveChatDisabled", "youtube.liveChat", CHAT_DISABLED_MESSAGE)
                    await send(b",\n" + _dumps(error.body(), pretty))
                    break
                page = self._page(chat, cursor, args.max_results)
                if first or page.items:
                    await send((b"[" if first else b",\n") + _dumps(self._page_body(chat, page, args), pretty))
                    first = False
                    cursor = page.next
                    if page.has_end:
                        chat.end_served = True
                        break
                with trio.move_on_at(deadline):
                    await changed.wait()
                if trio.current_time() >= deadline:
                    break
            await send(b"]")

        return _Streamed(run)

    def _page(self, chat: _Chat, cursor: int | None, max_results: int) -> _Page:
        if cursor is None:
            # The first call: only the most recent messages (§1.2).
            count = min(max_results, self.backlog_limit)
            first = max(0, len(chat.items) - count)
            last = len(chat.items)
            start = chat.seqs[first] - 1 if first < last else self._seq
        else:
            first = bisect.bisect_right(chat.seqs, cursor)
            last = min(len(chat.items), first + max_results)
            start = cursor
        items = chat.items[first:last]
        end = chat.seqs[last - 1] if first < last else start
        has_end = chat.end_seq is not None and first < last and chat.seqs[first] <= chat.end_seq <= end
        return _Page(items, start, end, has_end)

    def _page_body(self, chat: _Chat, page: _Page, args: _ListArgs, *, polling: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "youtube#liveChatMessageListResponse",
            "etag": self._etag(),
            "nextPageToken": self._token(page.next),
        }
        if polling:
            body["pollingIntervalMillis"] = self.polling_interval_ms
        if chat.offline_at is not None:
            body["offlineAt"] = _micro_time(chat.offline_at)
        body["pageInfo"] = {"totalResults": len(page.items), "resultsPerPage": len(page.items)}
        body["items"] = [_render_item(item, args) for item in page.items]
        if chat.active_poll is not None:
            body["activePollItem"] = _render_item(chat.active_poll, args)
        return body

    def _token(self, cursor: int) -> str:
        micros = int(self._now().timestamp() * 1_000_000)
        return _b64(bytes([3 << 3]) + _varint(cursor) + bytes([4 << 3]) + _varint(micros))

    def _wrong_types_body(self, start: int) -> dict[str, Any]:
        """Fault.WRONG_TYPES: variant n % 3 for the n-th such fault (0-based)."""
        variant = self._wrong_types_served % 3
        self._wrong_types_served += 1
        owner = self._owner()
        chat_id = self.live_chat_id or "Cg0KC"
        stamp = _micro_time(self._now())
        bogus_text = {
            "kind": "youtube#liveChatMessage",
            "etag": "bogus",
            "id": "LCC.bogus-text",
            "snippet": {
                "type": "textMessageEvent",
                "liveChatId": chat_id,
                "authorChannelId": owner["channelId"],
                "publishedAt": stamp,
                "hasDisplayContent": True,
                "displayMessage": "bogus",
                "textMessageDetails": {"messageText": "bogus"},
            },
            "authorDetails": owner,
        }
        body: dict[str, Any] = {
            "kind": "youtube#liveChatMessageListResponse",
            "etag": self._etag(),
            "nextPageToken": self._token(start),
            "pollingIntervalMillis": self.polling_interval_ms,
            "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
        }
        if variant == 0:
            # items is an object, not a list.
            body["items"] = {"0": bogus_text}
            return body
        if variant == 1:
            # Per-item type errors: a number for amountMicros, a non-date publishedAt, no authorDetails;
            # and a string for pollingIntervalMillis.
            super_chat = copy.deepcopy(bogus_text)
            super_chat["id"] = "LCC.bogus-super-chat"
            super_chat["snippet"]["type"] = "superChatEvent"
            del super_chat["snippet"]["textMessageDetails"]
            super_chat["snippet"]["superChatDetails"] = {
                "amountMicros": 5000000,
                "currency": "USD",
                "amountDisplayString": "$5.00",
                "userComment": "bogus",
                "tier": "2",
            }
            bad_date = copy.deepcopy(bogus_text)
            bad_date["id"] = "LCC.bogus-date"
            bad_date["snippet"]["publishedAt"] = "yesterday"
            no_author = copy.deepcopy(bogus_text)
            no_author["id"] = "LCC.bogus-no-author"
            del no_author["authorDetails"]
            body["pollingIntervalMillis"] = str(self.polling_interval_ms)
            body["items"] = [super_chat, bad_date, no_author]
            body["pageInfo"] = {"totalResults": 3, "resultsPerPage": 3}
            return body
        # Entries that are not objects, and a snippet whose type and text are numbers.
        odd = copy.deepcopy(bogus_text)
        odd["id"] = "LCC.bogus-types"
        odd["snippet"]["type"] = 7
        odd["snippet"]["displayMessage"] = 42
        odd["snippet"]["textMessageDetails"] = ["bogus"]
        body["items"] = ["bogus", None, 42, odd]
        body["pageInfo"] = {"totalResults": "4", "resultsPerPage": None}
        return body


# ------------------------------------------------------------------- helpers


def _parts(request: Request, allowed: frozenset[str]) -> frozenset[str]:
    """The `part` parameter: comma-separated, and repeatable (discovery marks it repeated)."""
    parts = [p.strip() for value in request.params.get("part", []) for p in value.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        raise _required("part")
    for part in parts:
        if part not in allowed:
            raise _unknown_part(part)
    return frozenset(parts)


def _uint(request: Request, name: str, bounds: tuple[int, int], default: int) -> int:
    raw = request.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise _ApiError(400, "invalidParameter", "global", f"Invalid unsigned integer value: '{raw}'.", location=name)
    value = int(raw)
    low, high = bounds
    if not low <= value <= high:
        message = f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]"
        raise _ApiError(400, "invalidParameter", "global", message, location=name)
    return value


def _render_item(item: dict[str, Any], args: _ListArgs) -> dict[str, Any]:
    """The item as the requested parts show it: kind and etag always, the rest by part."""
    shown: dict[str, Any] = {"kind": item["kind"], "etag": item["etag"]}
    if "id" in args.parts:
        shown["id"] = item["id"]
    if "snippet" in args.parts:
        shown["snippet"] = copy.deepcopy(item["snippet"])
        if args.profile_image_size != DEFAULT_PROFILE_IMAGE_SIZE and "userBannedDetails" in shown["snippet"]:
            banned = shown["snippet"]["userBannedDetails"]["bannedUserDetails"]
            banned["profileImageUrl"] = _sized(banned["profileImageUrl"], args.profile_image_size)
    if "authorDetails" in args.parts and "authorDetails" in item:
        author = dict(item["authorDetails"])
        author["profileImageUrl"] = _sized(author["profileImageUrl"], args.profile_image_size)
        shown["authorDetails"] = author
    return shown


def _sized(url: str, size: int) -> str:
    return url.replace("=s88-", f"=s{size}-")


def _avatar(channel_id: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha1(channel_id.encode()).digest()).decode().rstrip("=")
    return f"https://yt3.ggpht.com/ytc/AIdro_{digest}{AVATAR_SUFFIX}"


def _money(micros: int, currency: str) -> str:
    symbol, decimals = CURRENCIES.get(currency, (f"{currency} ", 2))
    return f"{symbol}{micros / 1_000_000:,.{decimals}f}"


def _micro_time(moment: datetime) -> str:
    """publishedAt/offlineAt: 2024-07-31T16:15:44.767727+00:00 (§1.5)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _second_time(moment: datetime) -> str:
    """videos.list times: 2026-11-24T17:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(body: Any, pretty: bool) -> bytes:
    text = json.dumps(body, ensure_ascii=False, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    # Google escapes these (§1.7: "the `<`/`>` arrive JSON-escaped"); they only occur inside strings.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _pb_bytes(field: int, data: bytes) -> bytes:
    return bytes([field << 3 | 2]) + _varint(len(data)) + data


def _decode_token(token: str) -> int | None:
    """The position in a token made by `_token`, or None if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    fields: dict[int, int] = {}
    index = 0
    while index < len(raw):
        tag = raw[index]
        index += 1
        if tag & 7 != 0:
            return None
        value = shift = 0
        while True:
            if index >= len(raw) or shift > 63:
                return None
            byte = raw[index]
            index += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        fields[tag >> 3] = value
    if set(fields) != {3, 4}:
        return None
    return fields[3]


# ---------------------------------------------------------------- standalone

_NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "민수", "지우", "서연", "하준", "김철수", "이영희", "박지민"]
_TEXTS = [
    "hello!",
    "first time here",
    "what game is this?",
    "lol",
    "GG",
    "안녕하세요!",
    "오늘 방송 재밌어요 ㅋㅋㅋ",
    "처음 왔어요",
    "이거 무슨 게임이에요?",
    "화이팅!",
    "ㅋㅋㅋㅋㅋ",
    "can you say hi to Korea?",
]


async def _scripted_chat(fake: FakeYouTube, rng: random.Random) -> None:
    """A few messages a second, every type now and then, forever."""
    recent: list[str] = []
    while True:
        await trio.sleep(rng.uniform(0.15, 0.6))
        name = rng.choice(_NAMES)
        roll = rng.random()
        if roll < 0.72:
            item = fake.chat(
                name,
                rng.choice(_TEXTS),
                moderator=rng.random() < 0.05,
                member=rng.random() < 0.2,
                verified=rng.random() < 0.02,
            )
            recent = [*recent[-19:], item["id"]]
        elif roll < 0.80:
            currency, amount = rng.choice([("USD", 5_000_000), ("KRW", 10_000_000_000), ("JPY", 500_000_000)])
            fake.super_chat(name, rng.choice(_TEXTS), amount, currency, tier=rng.randint(1, 5))
        elif roll < 0.83:
            fake.super_sticker(name, 2_000_000, "USD")
        elif roll < 0.86:
            fake.new_sponsor(name, upgrade=rng.random() < 0.2)
        elif roll < 0.89:
            fake.milestone(name, rng.choice([2, 6, 12, 24]), rng.choice(["", "1년 됐어요!", "still here"]))
        elif roll < 0.91:
            count = rng.randint(1, 5)
            fake.gifting(name, count)
            for receiver in rng.sample(_NAMES, count):
                fake.gift_received(receiver, fake.author_id(name))
        elif roll < 0.94 and recent:
            fake.delete_message(recent.pop(rng.randrange(len(recent))))
        elif roll < 0.96:
            victim = rng.choice(_NAMES)
            fake.ban(fake.author_id(victim), victim, temporary_seconds=rng.choice([None, 300]))
        elif roll < 0.97:
            fake.unknown(rng.choice(["pollEvent", "giftEvent", "sponsorOnlyModeStartedEvent"]))
        else:
            fake.chat(fake.channel_title, "thanks for watching!", owner=True)


async def _main(host: str, port: int, api_key: str, interval_ms: int) -> None:
    fake = FakeYouTube(api_key=api_key, polling_interval_ms=interval_ms, wall_clock=lambda: datetime.now(UTC))
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve, host, port)
        chat_id = fake.go_live()
        print(
            f"fake YouTube Data API at {fake.base_url} (key {api_key!r}): video {fake.video_id}, "
            f"live chat {chat_id} (Ctrl-C to stop)",
            flush=True,
        )
        nursery.start_soon(_scripted_chat, fake, random.Random())
        await stop_on_signal(nursery.cancel_scope)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake YouTube Data API v3 live chat that chats forever.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--interval-ms", type=int, default=2000, help="pollingIntervalMillis in list responses")
    args = parser.parse_args()
    trio.run(_main, args.host, args.port, args.api_key, args.interval_ms)


if __name__ == "__main__":
    main()
