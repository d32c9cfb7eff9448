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

Units are counted by what the API charges for each answer (`answer_cost`),
not by what a call would cost if it succeeded, so that our own figure
agrees with the Cloud console's: a refused key or a spent quota costs
nothing, an invalid request one unit, and every other answer the method's
price (reference §1.6: "All API requests, including invalid requests,
incur a quota cost of at least one point").
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

LIST_COST = 5
VIDEOS_COST = 1
SEARCH_COST = 0  # search.list has its own bucket of 100 calls a day (2026), not units
STREAM_COST = 5  # liveChatMessages.streamList: per connection, however long it lives (§2.1)
INVALID_REQUEST_COST = 1  # "at least one point" for a request the API rejects as invalid

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
        """Units left today; 0 while the API says the quota is spent, whatever
        our own count says (the project's quota may be shared with another app)."""
        self._roll(now)
        if self.is_exhausted(now):
            return 0
        return max(0, self.daily_quota - self.used)

    def is_exhausted(self, now: datetime) -> bool:
        """The API said quotaExceeded and the reset has not come yet."""
        self._roll(now)
        return self.exhausted_until is not None and now < self.exhausted_until

    def can_spend(self, units: int, now: datetime) -> bool:
        if self.is_exhausted(now):
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


def answer_cost(price: int, status: int, reason: str, *, from_api: bool, key_refused: bool) -> int:
    """The units one answer costs (§1.6), for a call whose method costs `price`.

    `from_api` says the error came in Google's JSON envelope: an answer
    without it (the front end's HTML 404 for an endpoint that does not exist,
    a proxy's page) never reached an API method and costs nothing. A refused
    key costs nothing either (there is no project to charge), nor does a
    quotaExceeded; a 400 is an invalid request, one unit; anything else the
    method answered (a 5xx, liveChatEnded, rateLimitExceeded) its full price.
    """
    if status < 400:
        return price
    if not from_api or key_refused or status == 401 or reason == "quotaExceeded":
        return 0
    if status == 400:
        return INVALID_REQUEST_COST
    return price
