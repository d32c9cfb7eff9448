"""What the YouTube monitor knows between calls, and how it shows it; pure.

`YouTubeCursor` outlives the monitor's incarnations (a restart by the
supervisor gets the same one), so the ids already emitted, the units spent
today, the chat with its page token, and the moment we first started looking
survive a crash. `StreamGate` decides whether to use the chat stream or poll.
`snapshot` is what `/status` and the dashboard show: the state in plain words
a streamer can act on (live, waiting for the stream, the stream ended,
quota exhausted until a time, reconnecting), not just counters.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ...router.filters import BoundedLRU
from .quota import LIST_COST, QuotaPlanner, next_reset

WallClock = Callable[[], datetime]


class Phase(enum.StrEnum):
    STARTING = "starting"
    WAITING = "waiting_for_live"  # no stream seen yet since the service started
    LIVE = "live"
    ENDED = "stream_ended"  # a stream ended: waiting for the next one
    QUOTA = "quota_exhausted"  # nothing can be read until the reset
    RETRYING = "retrying"  # a call failed; the next try is scheduled


@attrs.define
class StreamGate:
    """Stream or poll: the chat stream is used while it works, and polling
    takes over for `fallback_for` seconds when the endpoint is missing or
    refused, or when it closes `short_limit` connections in a row within
    `short_after` seconds each (a stream that closes at once is polling with
    extra latency and the same 5 units a connection, reference §2.3)."""

    short_after: float = 5.0
    short_limit: int = 3
    fallback_for: float = 600.0
    short_in_row: int = 0
    polling_until: datetime | None = None
    reason: str | None = None
    fallbacks: int = 0

    def streaming(self, now: datetime) -> bool:
        return self.polling_until is None or now >= self.polling_until

    def expired(self, now: datetime) -> bool:
        """True once when a fallback has run its course: stream again."""
        if self.polling_until is None or now < self.polling_until:
            return False
        self.polling_until, self.reason, self.short_in_row = None, None, 0
        return True

    def closed(self, lasted: float, now: datetime) -> str | None:
        """The server closed a connection after `lasted` seconds; the reason
        when that makes us fall back to polling."""
        if lasted >= self.short_after:
            self.short_in_row = 0
            return None
        self.short_in_row += 1
        if self.short_in_row < self.short_limit:
            return None
        return self.fall_back(
            f"the stream closed {self.short_in_row} connections in a row within {self.short_after:g}s", now
        )

    def fall_back(self, reason: str, now: datetime) -> str:
        self.polling_until = now + timedelta(seconds=self.fallback_for)
        self.reason, self.short_in_row = reason, 0
        self.fallbacks += 1
        return reason


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.define
class YouTubeCursor:
    """What outlives one incarnation of the monitor."""

    quota: QuotaPlanner = attrs.field(factory=QuotaPlanner)
    seen: BoundedLRU[str, bool] = attrs.field(factory=lambda: BoundedLRU(50_000))
    # Wall time the monitor FIRST started looking. The backlog is what was
    # said before it: a first page (no token) after a stream restart, a lost
    # token or a crash is not backlog, it is chat we were there for.
    watching_since: datetime | None = None
    chat_id: str | None = None
    page_token: str | None = None  # for chat_id: resuming after a retry needs no backlog
    live_since: float | None = None  # trio time the current chat was found live
    video_id: str | None = None  # the video whose chat we read (or last read)
    last_search_at: float | None = None
    searched_video: str | None = None
    unknown_logged: set[str] = attrs.field(factory=set)
    emitted: int = 0
    backlog_skipped: int = 0
    slow_factor: float = 1.0  # grows on rateLimitExceeded, shrinks back on success
    interval: float | None = None  # the current polling interval, for the status
    phase: Phase = Phase.STARTING
    phase_since: datetime | None = None
    phase_until: datetime | None = None  # quota reset, or the next retry
    ended_at: datetime | None = None  # the last stream's end, while waiting for the next
    ended_reason: str | None = None
    use_stream: bool = False  # the settings ask for the chat stream
    gate: StreamGate = attrs.field(factory=StreamGate)
    wall: WallClock = attrs.field(default=_utc_now, repr=False)  # the monitor's clock, for /status

    def set_phase(self, phase: Phase, now: datetime, *, until: datetime | None = None) -> None:
        if phase is not self.phase or self.phase_since is None:
            self.phase, self.phase_since = phase, now
        self.phase_until = until

    def chat_over(self, reason: str, now: datetime) -> None:
        """This chat is done: forget it (not its ids) and say since when."""
        self.chat_id = self.page_token = None
        self.live_since = None
        self.ended_at, self.ended_reason = now, reason
        self.set_phase(Phase.ENDED, now)

    def transport(self, now: datetime) -> str:
        if not self.use_stream:
            return "polling"
        return "streaming" if self.gate.streaming(now) else "polling_fallback"

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        """The monitor as `/status` shows it (times as ISO 8601, UTC)."""
        now = self.wall() if now is None else now
        quota = self.quota
        left = quota.left(now)
        # Spent by the API's word or by our own count: either way nothing is
        # read until the reset, and that is what the streamer must see.
        exhausted = quota.is_exhausted(now) or left < LIST_COST
        until = quota.exhausted_until or next_reset(now)
        fallback = None
        if self.use_stream and not self.gate.streaming(now):
            fallback = {"reason": self.gate.reason, "until": _iso(self.gate.polling_until)}
        return {
            "state": self.phase.value,
            "since": _iso(self.phase_since),
            "until": _iso(self.phase_until),
            "video_id": self.video_id,
            "ended_at": _iso(self.ended_at),
            "used": quota.used,
            "left": left,
            "daily_quota": quota.daily_quota,
            "exhausted": exhausted,
            "exhausted_until": _iso(until) if exhausted else None,
            "interval_s": None if self.interval is None else round(self.interval, 2),
            "transport": self.transport(now),
            "stream_fallback": fallback,
            "emitted": self.emitted,
            "backlog_skipped": self.backlog_skipped,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hhmm(moment: datetime) -> str:
    """A time for a status line: 08:00 UTC."""
    return f"{moment.astimezone(UTC):%H:%M} UTC"
