"""The YouTube quota planner, pure: how slowly to poll so the day's quota
lasts the whole stream.

A `liveChatMessages.list` call costs 5 units and a project gets 10,000 a day,
reset at midnight Pacific time (reference §1.6). Polling every 2 s spends
that in 67 minutes, which is the complaint this exists for. The planner
spreads the units left over the part of the stream still to come:

    interval = stream_left * cost / (units_left - reserve)

where `stream_left` is `stream_hours` minus how long we have been live, never
less than `min_stream_left` (a stream that runs long keeps going, slower).
The server's `pollingIntervalMillis` is a floor: we never poll sooner.
`reserve` keeps a few units for finding the chat again after a restart.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

LIST_COST = 5
VIDEOS_COST = 1
SEARCH_COST = 0  # search.list has its own bucket of 100 calls a day (2026), not units

try:
    PACIFIC: tzinfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # no tz database on this machine: standard time all year
    PACIFIC = timezone(timedelta(hours=-8), "PST")


def quota_day(now: datetime) -> date:
    """The quota day `now` falls in (days turn at midnight Pacific)."""
    return now.astimezone(PACIFIC).date()


def next_reset(now: datetime) -> datetime:
    """The next midnight Pacific after `now`, in UTC."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=PACIFIC)
    return midnight.astimezone(UTC)


@attrs.define
class QuotaPlanner:
    daily_quota: int = 10_000
    stream_hours: float = 8.0
    reserve: int = 50
    min_stream_left: float = 900.0
    used: int = 0  # units spent on the current quota day, by our own count
    day: date | None = None
    exhausted_until: datetime | None = None  # the API said quotaExceeded

    def _roll(self, now: datetime) -> None:
        today = quota_day(now)
        if self.day != today:
            self.day, self.used = today, 0
            if self.exhausted_until is not None and now >= self.exhausted_until:
                self.exhausted_until = None

    def charge(self, units: int, now: datetime) -> None:
        self._roll(now)
        self.used += units

    def left(self, now: datetime) -> int:
        self._roll(now)
        return max(0, self.daily_quota - self.used)

    def can_spend(self, units: int, now: datetime) -> bool:
        self._roll(now)
        if self.exhausted_until is not None and now < self.exhausted_until:
            return False
        return self.used + units <= self.daily_quota

    def exhausted(self, now: datetime) -> datetime:
        """The API said quotaExceeded: nothing more until the reset."""
        self.exhausted_until = next_reset(now)
        return self.exhausted_until

    def wait_for_units(self, units: int, now: datetime) -> float:
        """Seconds until `units` can be spent (0 if now)."""
        if self.can_spend(units, now):
            return 0.0
        return max(0.0, (next_reset(now) - now).total_seconds())

    def interval(self, live_for: float, hint: float | None, now: datetime) -> float:
        """Seconds until the next list call."""
        stream_left = max(self.stream_hours * 3600 - live_for, self.min_stream_left)
        spendable = self.left(now) - self.reserve
        planned = math.inf if spendable < LIST_COST else stream_left * LIST_COST / spendable
        floor = hint if hint is not None else 0.0
        return max(planned, floor)

    def planned_at_start(self) -> float:
        """The interval a fresh day gives a whole stream (for the status and docs)."""
        return self.stream_hours * 3600 * LIST_COST / max(self.daily_quota - self.reserve, LIST_COST)
