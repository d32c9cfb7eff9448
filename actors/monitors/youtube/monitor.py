"""The YouTube monitor: Data API v3 live chat on an API key, all stream long.

It finds the live chat (`videos.list`, 1 unit, for a known video; a cached
`search.list` for a channel), then polls `liveChatMessages.list` with the
page token, never sooner than the server's hint and never faster than the
quota planner allows (`quota.py`). When the stream ends it goes back to
finding the next one, checking again within seconds at first (a restarted
broadcast comes back quickly) and then every `live_check_every`.

The backlog is what was said before the monitor FIRST started looking
(`YouTubeCursor.watching_since`): on a first page (no page token) only items
published before it (or at that very instant) are skipped, by default. A
first page after a stream restart, a crash or a lost token is chat we were
there for, and is emitted; ids already emitted are never emitted again
(`fresh_events`).

Errors are told apart by reason (reference §1.7):
- `liveChatEnded`, `liveChatNotFound`, `liveChatDisabled`: this chat is over,
  find the next;
- `rateLimitExceeded`: poll slower;
- `quotaExceeded`: wait for the reset at midnight Pacific, saying so;
- `pageTokenInvalid`: start again without a token (the backlog rule and the
  ids keep it from losing or repeating anything);
- a bad or missing key, `forbidden`: FatalMonitorError, no restart loop;
- 5xx, timeouts, connection errors, malformed pages: the common retry rule
  (`retry.py`: about a second first, doubling to `retry_interval`; a good
  page ends the outage; a `Retry-After` is obeyed), then the supervisor's
  backoff. Each try is one call, so an outage costs few units.

Units are counted as the API charges each answer (`quota.answer_cost`), so
our figure matches the console's. The chat stream (`use_stream`) lives in
`stream.py`, with its fallback to polling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import trio

from supervision import ChildContext

from ...chat import ChatEvent
from ...i18n import Said, says, tell
from ..common.retry import FIRST_DELAY, FatalMonitorError, RetryRule, parse_retry_after, retry_fields, run_with_retries
from .api import (
    KNOWN_TYPES,
    ApiError,
    Page,
    PageError,
    fresh_events,
    live_chat_id_of,
    live_video_of,
    parse_error,
    parse_page,
)
from .quota import LIST_COST, SEARCH_COST, VIDEOS_COST, answer_cost, next_reset
from .state import Phase, StreamGate, YouTubeCursor, hhmm
from .stream import StreamUnavailable, stream_once

__all__ = ["YouTubeCursor", "YouTubeMonitor", "YouTubeSettings"]

Emit = Callable[..., None]
WallClock = Callable[[], datetime]

CHAT_OVER = frozenset({"liveChatEnded", "liveChatNotFound", "liveChatDisabled"})
# A key that is wrong, missing or not allowed: retrying cannot fix it. A wrong
# key comes back as a plain 400 badRequest; its detail says API_KEY_INVALID.
BAD_KEY = frozenset({"keyInvalid", "forbidden", "accessNotConfigured", "keyExpired", "PERMISSION_DENIED"})
BAD_KEY_DETAILS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED"})
PARTS = "id,snippet,authorDetails"
# After a stream ends, look for the next one this soon, then twice as late
# each time up to live_check_every: a restarted broadcast is back in seconds,
# and each look is one videos.list unit.
FIRST_LIVE_CHECK = 5.0


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
    use_stream: bool = False  # liveChat/messages/stream instead of polling (stream.py)
    stream_max: float = 600.0  # a stream connection is renewed after this long
    stream_fallback_for: float = 600.0  # poll this long when the stream does not work, then try it again
    stream_short: float = 5.0  # a connection closed sooner than this is "short"...
    stream_short_limit: int = 3  # ...and this many in a row mean the stream does not work
    max_retries: int = 10
    retry_interval: float = 60.0


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
        cursor.use_stream = settings.use_stream
        cursor.wall = wall_clock
        gate = cursor.gate
        cursor.gate = StreamGate(
            settings.stream_short,
            settings.stream_short_limit,
            settings.stream_fallback_for,
            gate.short_in_row,
            gate.polling_until,
            gate.reason,
            gate.fallbacks,
        )

    async def run(self, ctx: ChildContext) -> None:
        ctx.started()
        cursor = self.cursor
        if cursor.watching_since is None:
            cursor.watching_since = self.wall()
        outbox = ctx.hold(self.outbox.clone())
        async with httpx.AsyncClient(timeout=self.s.request_timeout, transport=self.transport) as client:

            async def attempt(delivered: Callable[[], None]) -> None:
                while True:
                    # delivered() only after a good page: a retry that resumes the
                    # known chat has made no call yet, and must not end the outage.
                    chat_id = await self._find_chat(ctx, client)
                    try:
                        await self._poll(ctx, client, outbox, chat_id, delivered)
                    except _ChatOver as over:
                        self.emit("youtube.chat_over", reason=str(over), video_id=cursor.video_id)
                        cursor.chat_over(str(over), self.wall())

            def on_retry(attempt_no: int, delay: float, exc: Exception) -> None:
                now = self.wall()
                cursor.set_phase(Phase.RETRYING, now, until=now + timedelta(seconds=delay))
                self.emit("youtube.retry", "warning", **retry_fields(attempt_no, delay, exc))

            # A polled API never needs a retry later than the next planned
            # poll: waiting longer only loses chat when the outage ends (and a
            # chat that ended meanwhile may no longer be readable), and trying
            # that often costs no more quota than polling would have.
            ceiling = min(self.s.retry_interval, max(FIRST_DELAY, self._interval(None)))
            with ctx.cancel_on_stop():  # a stop cancels the wait or the call in flight, at once
                await run_with_retries(
                    ctx, "youtube", attempt, RetryRule(self.s.max_retries, ceiling), on_retry=on_retry
                )

    # ---- HTTP -----------------------------------------------------------------------------------

    async def wait_for_units(self, ctx: ChildContext, units: int) -> None:
        """Wait for the quota reset if `units` are not there, saying so."""
        quota = self.cursor.quota
        while (wait := quota.wait_for_units(units, now := self.wall())) > 0:
            until = quota.exhausted_until or next_reset(now)
            self.cursor.set_phase(Phase.QUOTA, now, until=until)
            tell(ctx, says("status.youtube_quota_wait", daily=quota.daily_quota, at=hhmm(until)))
            self.emit("youtube.quota_wait", "warning", wait_s=round(wait), until=until.isoformat())
            await trio.sleep(wait + 1.0)

    def charge(self, units: int) -> None:
        self.cursor.quota.charge(units, self.wall())

    def refusal(self, response: httpx.Response, body: object, price: int, *, stream: bool = False) -> ApiError:
        """An error answer as an ApiError, charged as the API charges it. A
        refused key is fatal, and a spent quota is noted (the next
        `wait_for_units` waits for the reset). On the stream endpoint only an
        unambiguous key error is fatal: a `forbidden` there may be about the
        endpoint, and the list call after the fallback will tell."""
        retry_after = parse_retry_after(response.headers.get("retry-after"), self.wall())
        error = parse_error(response.status_code, body, retry_after=retry_after)
        key_refused = error.status == 401 or bool(BAD_KEY_DETAILS.intersection(error.details))
        self.charge(answer_cost(price, error.status, error.reason, from_api=error.from_api, key_refused=key_refused))
        if error.reason == "quotaExceeded":
            self.quota_exceeded()
        elif key_refused or (error.reason in BAD_KEY and not stream):
            raise FatalMonitorError(says("status.youtube_key_refused", error=str(error)))
        return error

    def quota_exceeded(self) -> None:
        until = self.cursor.quota.exhausted(self.wall())
        self.emit("youtube.quota_exceeded", "warning", until=until.isoformat(), used=self.cursor.quota.used)

    async def _get(
        self, ctx: ChildContext, client: httpx.AsyncClient, path: str, params: dict[str, str], units: int
    ) -> Any:
        """One API call, charged by its answer; quota waits happen here."""
        while True:
            await self.wait_for_units(ctx, units)
            try:
                response = await client.get(f"{self.s.api_base_url}{path}", params={**params, "key": self.s.api_key})
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise ConnectionError(f"{path}: {type(exc).__name__}") from None  # never sent: nothing charged
            except httpx.TimeoutException:
                self.charge(units)  # it reached the API, which charges whatever happens next
                raise TimeoutError(f"no answer from {path} within {self.s.request_timeout:g}s") from None
            except httpx.TransportError as exc:
                self.charge(units)
                raise ConnectionError(f"{path}: {type(exc).__name__}") from None
            body = _json_or_none(response.content)
            if response.status_code >= 400:
                error = self.refusal(response, body, units)
                if error.reason == "quotaExceeded":
                    continue  # wait_for_units waits for the reset
                raise error
            self.charge(units)
            if body is None:
                raise PageError(f"{path}: the response is not JSON")
            return body

    # ---- finding the chat -------------------------------------------------------------------------

    async def _find_chat(self, ctx: ChildContext, client: httpx.AsyncClient) -> str:
        cursor = self.cursor
        if cursor.chat_id is not None:
            return cursor.chat_id  # a retry within the same chat: resume with its page token
        looks = 0
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
                    cursor.video_id = video
                    self.emit("youtube.live", video_id=video, chat_id=chat_id)
                    return chat_id
                if ended and not self.s.video_id:
                    cursor.searched_video = None  # that one is over: search again later
            if video:
                what = says("status.youtube_video", id=video)
            else:
                what = says("status.youtube_channel", id=self.s.channel_id)
            wait = self.s.live_check_every
            now = self.wall()
            if cursor.ended_at is not None:
                wait = min(wait, FIRST_LIVE_CHECK * 2**looks)
                cursor.set_phase(Phase.ENDED, cursor.ended_at)
                over = says(
                    "status.youtube_ended",
                    at=hhmm(cursor.ended_at),
                    why=cursor.ended_reason or "",
                    what=what,
                    quota=self._quota_said(),
                )
                tell(ctx, over)
            else:
                cursor.set_phase(Phase.WAITING, now)
                tell(ctx, says("status.youtube_waiting", what=what, quota=self._quota_said()))
            looks += 1
            await trio.sleep(wait)

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
        delivered: Callable[[], None],
    ) -> None:
        cursor = self.cursor
        first = True  # the next response is a first page (asked without a token)

        async def take(body: object) -> float | None:
            """One response: emit what is new; returns the server's hint."""
            nonlocal first
            page = parse_page(body, received_at=trio.current_time())
            delivered()
            cursor.slow_factor = max(1.0, cursor.slow_factor / 2)
            cursor.set_phase(Phase.LIVE, self.wall())
            await self._take_page(page, outbox, first=first)
            first = False
            if page.next_page_token:
                cursor.page_token = page.next_page_token
            if page.chat_ended:
                raise _ChatOver("chatEndedEvent" if not page.offline_at else "offlineAt")
            return page.polling_interval

        while True:
            params = {"liveChatId": chat_id, "part": PARTS}
            if cursor.page_token:
                params["pageToken"] = cursor.page_token
            first = cursor.page_token is None
            began = trio.current_time()
            hint: float | None = None
            streaming = self._streaming()
            try:
                if streaming:
                    await stream_once(self, ctx, client, params, take)
                else:
                    hint = await take(await self._get(ctx, client, "/liveChat/messages", params, LIST_COST))
            except StreamUnavailable as refused:
                self._fall_back(str(refused))
                continue  # poll at once: nothing was read
            except ApiError as error:
                if error.reason in CHAT_OVER:
                    raise _ChatOver(error.reason) from None
                if error.reason == "pageTokenInvalid" and cursor.page_token is not None:
                    self.emit("youtube.token_refused", "warning")
                    cursor.page_token = None
                    continue
                if error.reason == "rateLimitExceeded":
                    cursor.slow_factor = min(cursor.slow_factor * 2, 16.0)
                    self.emit("youtube.rate_limited", "warning", slow_factor=cursor.slow_factor)
                    await trio.sleep(max(self._interval(None), error.retry_after or 0.0))
                    continue
                raise
            interval = self._interval(hint)
            cursor.interval = interval
            live = says(
                "status.youtube_live",
                n=cursor.emitted,
                how=self._how(streaming),
                interval=f"{interval:.1f}",
                quota=self._quota_said(),
            )
            tell(ctx, live)
            # Measured from the call's start: a stream connection that lasted
            # less than the planned interval must not cost more than polling.
            await trio.sleep_until(began + interval)

    def _streaming(self) -> bool:
        if not self.s.use_stream:
            return False
        gate, now = self.cursor.gate, self.wall()
        if gate.expired(now):
            self.emit("youtube.stream_retry", fallbacks=gate.fallbacks)
        return gate.streaming(now)

    def _fall_back(self, reason: str) -> None:
        self.cursor.gate.fall_back(reason, self.wall())
        self.stream_fell_back()

    def stream_fell_back(self) -> None:
        """Log a fallback the gate has just made (here or in stream.py)."""
        gate = self.cursor.gate
        until = gate.polling_until or self.wall()
        self.emit("youtube.stream_fallback", "warning", reason=gate.reason, until=until.isoformat())

    def _how(self, streaming: bool) -> Said:
        if streaming:
            return says("status.youtube_streaming")
        gate = self.cursor.gate
        if self.s.use_stream and gate.polling_until is not None:
            return says("status.youtube_polling_fallback", why=gate.reason or "", at=hhmm(gate.polling_until))
        return says("status.youtube_polling")

    async def _take_page(self, page: Page, outbox: trio.MemorySendChannel[ChatEvent], *, first: bool) -> None:
        cursor = self.cursor
        fresh = fresh_events(page, cursor.seen)
        for skip in page.skipped:
            if skip.type not in KNOWN_TYPES and skip.type not in cursor.unknown_logged:
                cursor.unknown_logged.add(skip.type)
                self.emit("youtube.unknown_type", "warning", type=skip.type, id=skip.item_id)
            elif skip.reason.startswith("malformed") or skip.type == "?":
                self.emit("youtube.bad_item", "warning", id=skip.item_id, type=skip.type, problem=skip.reason)
        if first and self.s.skip_backlog and cursor.watching_since is not None:
            since = cursor.watching_since
            # "At or before": one that shares our start's microsecond was
            # there when we came, as far as anyone can tell.
            backlog = [event for event in fresh if event.sent_at <= since]
            fresh = [event for event in fresh if event.sent_at > since]
            cursor.backlog_skipped += len(backlog)
            if backlog:
                self.emit("youtube.backlog_skipped", count=len(backlog))
        sent = 0
        try:
            for event in fresh:
                await outbox.send(event)
                sent += 1
        finally:
            # Cancelled while the router was full (a stop, a stream renewal):
            # what was not handed over is not "seen", and since the page token
            # moves on only after this page, the next read delivers it again.
            for event in fresh[sent:]:
                cursor.seen.pop(event.id)
            cursor.emitted += sent

    def _interval(self, hint: float | None) -> float:
        cursor = self.cursor
        live_for = 0.0 if cursor.live_since is None else trio.current_time() - cursor.live_since
        planned = cursor.quota.interval(live_for, hint, self.wall())
        if planned == float("inf"):
            return max(1.0, cursor.quota.wait_for_units(LIST_COST, self.wall()))
        return planned * cursor.slow_factor

    def _quota_said(self) -> Said:
        quota = self.cursor.quota
        return says("status.youtube_quota", used=quota.used, daily=quota.daily_quota, left=quota.left(self.wall()))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
