"""The YouTube monitor: Data API v3 live chat on an API key, all stream long.

It finds the live chat (`videos.list`, 1 unit, for a known video; a cached
`search.list` for a channel), then polls `liveChatMessages.list` with the
page token, never sooner than the server's hint and never faster than the
quota planner allows (`quota.py`). The first page after connecting is the
backlog: its ids are remembered but, by default, not emitted. When the
stream ends it goes back to finding the next one.

Errors are told apart by reason (reference §1.7):
- `liveChatEnded`, `liveChatNotFound`, `liveChatDisabled`: this chat is over,
  find the next;
- `rateLimitExceeded`: poll slower;
- `quotaExceeded`: wait for the reset at midnight Pacific, saying so;
- a bad or missing key, `forbidden`: FatalMonitorError, no restart loop;
- 5xx, timeouts, connection errors, malformed pages: the monitor's own
  `max_retries`/`retry_interval`, then the supervisor's backoff. Each try
  is one call, so an outage costs at most `max_retries` calls of quota.

State that must survive a restart (the ids already emitted, the units
spent today, the chat and its page token) lives in `YouTubeCursor`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import trio

from supervision import ChildContext

from ..chat import ChatEvent
from ..router.filters import BoundedLRU
from .quota import LIST_COST, SEARCH_COST, VIDEOS_COST, QuotaPlanner, next_reset
from .retry import FatalMonitorError, RetryRule, run_with_retries
from .youtube_api import (
    KNOWN_TYPES,
    ApiError,
    JsonArrayReader,
    Page,
    PageError,
    fresh_events,
    live_chat_id_of,
    live_video_of,
    parse_error,
    parse_page,
)

Emit = Callable[..., None]
WallClock = Callable[[], datetime]

CHAT_OVER = frozenset({"liveChatEnded", "liveChatNotFound", "liveChatDisabled"})
# A key that is wrong, missing or not allowed: retrying cannot fix it. A wrong
# key comes back as a plain 400 badRequest; its detail says API_KEY_INVALID.
BAD_KEY = frozenset({"keyInvalid", "forbidden", "accessNotConfigured", "keyExpired", "PERMISSION_DENIED"})
BAD_KEY_DETAILS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED"})
PARTS = "id,snippet,authorDetails"


@attrs.frozen
class YouTubeSettings:
    api_key: str = attrs.field(repr=False)
    video_id: str = ""
    channel_id: str = ""
    api_base_url: str = "https://www.googleapis.com/youtube/v3"
    daily_quota: int = 10_000
    stream_hours: float = 8.0
    skip_backlog: bool = True
    live_check_every: float = 120.0  # videos.list while waiting for the stream to go live
    search_every: float = 600.0  # search.list at most this often (100 calls a day)
    request_timeout: float = 30.0
    use_stream: bool = False  # liveChat/messages/stream instead of polling (see _stream)
    stream_max: float = 600.0  # a stream connection is renewed after this long
    max_retries: int = 10
    retry_interval: float = 60.0


@attrs.define
class YouTubeCursor:
    """What outlives one incarnation of the monitor."""

    quota: QuotaPlanner = attrs.field(factory=QuotaPlanner)
    seen: BoundedLRU[str, bool] = attrs.field(factory=lambda: BoundedLRU(50_000))
    chat_id: str | None = None
    page_token: str | None = None  # for chat_id: resuming after a retry needs no backlog
    live_since: float | None = None  # trio time the current chat was found live
    last_search_at: float | None = None
    searched_video: str | None = None
    unknown_logged: set[str] = attrs.field(factory=set)
    emitted: int = 0
    backlog_skipped: int = 0
    slow_factor: float = 1.0  # grows on rateLimitExceeded, shrinks back on success
    interval: float | None = None  # the current polling interval, for the status


class _ChatOver(Exception):
    """This chat id is done (ended, gone, disabled): find the next."""


class YouTubeMonitor:
    def __init__(
        self,
        settings: YouTubeSettings,
        outbox: trio.MemorySendChannel[ChatEvent],
        cursor: YouTubeCursor,
        *,
        emit: Emit,
        wall_clock: WallClock = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.s = settings
        self.outbox = outbox
        self.cursor = cursor
        self.emit = emit
        self.wall = wall_clock
        self.transport = transport
        cursor.quota.daily_quota = settings.daily_quota
        cursor.quota.stream_hours = settings.stream_hours

    async def run(self, ctx: ChildContext) -> None:
        ctx.started()
        outbox = ctx.hold(self.outbox.clone())
        async with httpx.AsyncClient(timeout=self.s.request_timeout, transport=self.transport) as client:

            async def attempt(connected: Callable[[], None]) -> None:
                while True:
                    # connected() only after a good page: a retry that resumes the
                    # known chat has made no call yet, and must not reset the budget.
                    chat_id = await self._find_chat(ctx, client)
                    try:
                        await self._poll(ctx, client, outbox, chat_id, connected)
                    except _ChatOver as over:
                        self.emit("youtube.chat_over", reason=str(over))
                        self.cursor.chat_id = self.cursor.page_token = None
                        self.cursor.live_since = None

            def on_retry(attempt_no: int, delay: float, exc: Exception) -> None:
                self.emit("youtube.retry", "warning", attempt=attempt_no, delay_s=delay, error=f"{exc}")

            with ctx.cancel_on_stop():  # a stop cancels the wait or the call in flight, at once
                await run_with_retries(
                    ctx,
                    "youtube",
                    attempt,
                    RetryRule(self.s.max_retries, self.s.retry_interval),
                    on_retry=on_retry,
                )

    # ---- HTTP -----------------------------------------------------------------------------------

    async def _spend(self, ctx: ChildContext, units: int) -> None:
        """Charge `units`, first waiting for the quota reset if they are not there."""
        quota = self.cursor.quota
        while (wait := quota.wait_for_units(units, self.wall())) > 0:
            until = quota.exhausted_until or next_reset(self.wall())
            ctx.set_status(f"quota exhausted: waiting for the reset at {until:%H:%M} UTC (midnight Pacific)")
            self.emit("youtube.quota_wait", "warning", wait_s=round(wait), until=until.isoformat())
            await trio.sleep(wait + 1.0)
        quota.charge(units, self.wall())

    def _refusal(self, status: int, body: object) -> ApiError:
        """An error response as an ApiError; a refused key is fatal, and a
        spent quota is noted (the next `_spend` waits for the reset)."""
        error = parse_error(status, body)
        if error.reason == "quotaExceeded":
            until = self.cursor.quota.exhausted(self.wall())
            self.emit("youtube.quota_exceeded", "warning", until=until.isoformat(), used=self.cursor.quota.used)
        elif error.reason in BAD_KEY or BAD_KEY_DETAILS.intersection(error.details) or status == 401:
            raise FatalMonitorError(f"YouTube refused the API key or access ({error}); check monitors.youtube")
        return error

    async def _get(
        self, ctx: ChildContext, client: httpx.AsyncClient, path: str, params: dict[str, str], units: int
    ) -> Any:
        """One API call, its units charged first; quota waits happen here."""
        while True:
            await self._spend(ctx, units)
            try:
                response = await client.get(f"{self.s.api_base_url}{path}", params={**params, "key": self.s.api_key})
            except httpx.TimeoutException:
                raise TimeoutError(f"no answer from {path} within {self.s.request_timeout:g}s") from None
            except httpx.TransportError as exc:
                raise ConnectionError(f"{path}: {type(exc).__name__}") from None
            body = _json_or_none(response.content)
            if response.status_code >= 400:
                error = self._refusal(response.status_code, body)
                if error.reason == "quotaExceeded":
                    continue  # _spend waits for the reset
                raise error
            if body is None:
                raise PageError(f"{path}: the response is not JSON")
            return body

    # ---- finding the chat -------------------------------------------------------------------------

    async def _find_chat(self, ctx: ChildContext, client: httpx.AsyncClient) -> str:
        cursor = self.cursor
        if cursor.chat_id is not None:
            return cursor.chat_id  # a retry within the same chat: resume with its page token
        while True:
            video = self.s.video_id or await self._search(ctx, client)
            if video:
                body = await self._get(
                    ctx, client, "/videos", {"part": "liveStreamingDetails", "id": video}, VIDEOS_COST
                )
                chat_id, ended = live_chat_id_of(body)
                if chat_id is not None:
                    cursor.chat_id, cursor.page_token = chat_id, None
                    cursor.live_since = trio.current_time()
                    self.emit("youtube.live", video_id=video, chat_id=chat_id)
                    return chat_id
                if ended and not self.s.video_id:
                    cursor.searched_video = None  # that one is over: search again later
            what = f"video {video}" if video else f"channel {self.s.channel_id}"
            ctx.set_status(f"waiting for live ({what}); {self._quota_text()}")
            await trio.sleep(self.s.live_check_every)

    async def _search(self, ctx: ChildContext, client: httpx.AsyncClient) -> str | None:
        cursor = self.cursor
        now = trio.current_time()
        if cursor.last_search_at is not None and now - cursor.last_search_at < self.s.search_every:
            return cursor.searched_video  # cached: search.list has a small daily allowance
        params = {"part": "id", "channelId": self.s.channel_id, "eventType": "live", "type": "video", "maxResults": "1"}
        cursor.last_search_at = now
        cursor.searched_video = live_video_of(await self._get(ctx, client, "/search", params, SEARCH_COST))
        return cursor.searched_video

    # ---- polling ------------------------------------------------------------------------------------

    async def _poll(
        self,
        ctx: ChildContext,
        client: httpx.AsyncClient,
        outbox: trio.MemorySendChannel[ChatEvent],
        chat_id: str,
        connected: Callable[[], None],
    ) -> None:
        cursor = self.cursor
        backlog = cursor.page_token is None

        async def take(body: object) -> float | None:
            """One response: emit what is new; returns the server's hint."""
            nonlocal backlog
            page = parse_page(body, received_at=trio.current_time())
            connected()
            cursor.slow_factor = max(1.0, cursor.slow_factor / 2)
            await self._take_page(page, outbox, backlog=backlog)
            backlog = False
            if page.next_page_token:
                cursor.page_token = page.next_page_token
            if page.chat_ended:
                raise _ChatOver("chatEndedEvent" if not page.offline_at else "offlineAt")
            return page.polling_interval

        while True:
            params = {"liveChatId": chat_id, "part": PARTS}
            if cursor.page_token:
                params["pageToken"] = cursor.page_token
            began = trio.current_time()
            hint: float | None = None
            try:
                if self.s.use_stream:
                    await self._stream(ctx, client, params, take)
                else:
                    hint = await take(await self._get(ctx, client, "/liveChat/messages", params, LIST_COST))
            except ApiError as error:
                if error.reason in CHAT_OVER:
                    raise _ChatOver(error.reason) from None
                if error.reason == "rateLimitExceeded":
                    cursor.slow_factor = min(cursor.slow_factor * 2, 16.0)
                    self.emit("youtube.rate_limited", "warning", slow_factor=cursor.slow_factor)
                    await trio.sleep(self._interval(None))
                    continue
                raise
            interval = self._interval(hint)
            cursor.interval = interval
            how = "streaming, reconnecting every" if self.s.use_stream else "polling every"
            ctx.set_status(f"live | {cursor.emitted} messages | {how} {interval:.1f}s | {self._quota_text()}")
            # Measured from the call's start: a stream connection that lasted
            # less than the planned interval must not cost more than polling.
            await trio.sleep_until(began + interval)

    async def _take_page(self, page: Page, outbox: trio.MemorySendChannel[ChatEvent], *, backlog: bool) -> None:
        cursor = self.cursor
        fresh = fresh_events(page, cursor.seen)
        for skip in page.skipped:
            if skip.type not in KNOWN_TYPES and skip.type not in cursor.unknown_logged:
                cursor.unknown_logged.add(skip.type)
                self.emit("youtube.unknown_type", "warning", type=skip.type, id=skip.item_id)
            elif skip.reason.startswith("malformed") or skip.type == "?":
                self.emit("youtube.bad_item", "warning", id=skip.item_id, type=skip.type, problem=skip.reason)
        if backlog and self.s.skip_backlog:
            cursor.backlog_skipped += len(fresh)
            if fresh:
                self.emit("youtube.backlog_skipped", count=len(fresh))
            return
        for event in fresh:
            await outbox.send(event)
        cursor.emitted += len(fresh)

    async def _stream(
        self,
        ctx: ChildContext,
        client: httpx.AsyncClient,
        params: dict[str, str],
        take: Callable[[object], Awaitable[float | None]],
    ) -> None:
        """One streamList connection (5 units), each response handed to `take`
        as it arrives, until the server closes it (or `stream_max` passes)."""
        while True:
            await self._spend(ctx, LIST_COST)
            url = f"{self.s.api_base_url}/liveChat/messages/stream"
            # No read timeout: a quiet chat sends nothing for a while.
            timeout = httpx.Timeout(self.s.request_timeout, read=None)
            with trio.move_on_after(self.s.stream_max):
                try:
                    async with client.stream(
                        "GET", url, params={**params, "key": self.s.api_key}, timeout=timeout
                    ) as response:
                        if response.status_code >= 400:
                            raw = await response.aread()
                            body = _json_or_none(raw)
                            error = self._refusal(
                                response.status_code, body[0] if isinstance(body, list) and body else body
                            )
                            if error.reason == "quotaExceeded":
                                continue
                            raise error
                        reader = JsonArrayReader()
                        async for text in response.aiter_text():
                            for element in reader.feed(text):
                                if isinstance(element, dict) and "error" in element:
                                    error = self._refusal(int(element["error"].get("code") or 500), element)
                                    if error.reason == "quotaExceeded":
                                        break
                                    raise error
                                await take(element)
                except httpx.TimeoutException:
                    raise TimeoutError(f"no answer from the chat stream within {self.s.request_timeout:g}s") from None
                except httpx.TransportError as exc:
                    raise ConnectionError(f"chat stream: {type(exc).__name__}") from None
            return

    def _interval(self, hint: float | None) -> float:
        cursor = self.cursor
        live_for = 0.0 if cursor.live_since is None else trio.current_time() - cursor.live_since
        planned = cursor.quota.interval(live_for, hint, self.wall())
        if planned == float("inf"):
            return max(1.0, cursor.quota.wait_for_units(LIST_COST, self.wall()))
        return planned * cursor.slow_factor

    def _quota_text(self) -> str:
        quota = self.cursor.quota
        return f"quota {quota.used}/{quota.daily_quota} units used, {quota.left(self.wall())} left"


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
