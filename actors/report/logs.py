"""What the status log adds to the report: restarts, reconnects and quota over time.

The log (`--log-format json`, one object per line) holds an event per
chat message too, so it can be as long as the archive: it is read a line
at a time, and the chat events, which the archive tells better, are
skipped before they are parsed. Read from it:

- restarts: `supervision.child.restart_scheduled`, by actor;
- reconnects: `<source>.retry` (a connection that broke and is tried
  again: youtube, chzzk, twitch, the OLV session, the replay), by source;
- give-ups: `supervision.child.gave_up`;
- YouTube quota: the units used, from the YouTube actor's status in each
  `service.status` snapshot, and each `youtube.quota_exceeded`.

A line that is not a JSON object with an `event` and a `ts` is counted
as unreadable and skipped, like an archive line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..records import BadRecord, parse_time, raw_lines
from ..router.text import sanitize
from .tally import MAX_BINS, TimeBins

_SKIPPED = (b'{"event": "router.', b'{"event": "session.turn_')  # the archive says these better
QUOTA_KEY = "status.youtube_quota"


class LogTally:
    def __init__(self) -> None:
        self.lines = 0
        self.unreadable = 0
        self.restarts: Counter[str] = Counter()  # by actor
        self.reconnects: Counter[str] = Counter()  # by source
        self.gave_up: Counter[str] = Counter()
        self.quota_exceeded = 0
        self.events = TimeBins(width=60)  # "restart", "reconnect:<source>" per bin
        self.quota: dict[int, tuple[int, int]] = {}  # minute -> (most used, daily) in it: the chart
        self.quota_max: int | None = None  # the most used in any snapshot
        self.quota_daily: int | None = None  # the daily quota in the last snapshot
        self.first: datetime | None = None
        self.last: datetime | None = None

    def feed(self, lines: Iterator[bytes]) -> LogTally:
        for raw in lines:
            self.lines += 1
            if raw.startswith(_SKIPPED):
                continue
            try:
                obj = json.loads(raw)
                event, ts = obj["event"], parse_time(obj["ts"])
            except (ValueError, KeyError, TypeError, RecursionError, BadRecord):
                event = ts = None
            if not isinstance(event, str) or ts is None:
                self.unreadable += 1
                continue
            self._event(sanitize(event, max_graphemes=80), ts, obj)
        return self

    def _event(self, event: str, ts: datetime, obj: dict[str, Any]) -> None:
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts
        if event == "supervision.child.restart_scheduled":
            actor = _name(obj.get("child"))
            self.restarts[actor] += 1
            self.events.add(ts, "restart")
        elif event == "supervision.child.gave_up":
            self.gave_up[_name(obj.get("child"))] += 1
        elif event.endswith(".retry"):
            source = _name(event.removesuffix(".retry"))
            self.reconnects[source] += 1
            self.events.add(ts, f"reconnect:{source}")
        elif event == "youtube.quota_exceeded":
            self.quota_exceeded += 1
        elif event == "service.status":
            found = _quota_of(obj.get("tree"))
            if found is None:
                return
            used, daily = found
            self.quota_max = used if self.quota_max is None else max(self.quota_max, used)
            self.quota_daily = daily
            minute = int(ts.timestamp() // 60)
            if minute in self.quota:
                self.quota[minute] = (max(used, self.quota[minute][0]), daily)
            elif len(self.quota) < MAX_BINS:
                self.quota[minute] = found

    def quota_series(self) -> list[tuple[datetime, int, int]]:
        """(minute, used, daily) in time order (UTC)."""
        return [(datetime.fromtimestamp(m * 60, UTC), *self.quota[m]) for m in sorted(self.quota)]


def _name(value: object) -> str:
    if not isinstance(value, str):
        return "?"
    return sanitize(value, max_graphemes=40) or "?"


def _quota_of(tree: object) -> tuple[int, int] | None:
    """(used, daily) from the YouTube actor's status in a status snapshot's tree."""
    if not isinstance(tree, dict):
        return None
    for child in tree.get("children") or ():
        if not isinstance(child, dict):
            continue
        if child.get("id") == "youtube":
            return _find_quota(child.get("status_detail"), depth=0)
        found = _quota_of(child.get("children"))
        if found is not None:
            return found
    return None


def _find_quota(said: object, depth: int) -> tuple[int, int] | None:
    """The quota Said, wherever the status nests it (a Said's parameter may be a Said)."""
    if not isinstance(said, dict) or depth > 8:
        return None
    params = said.get("params")
    if not isinstance(params, dict):
        return None
    if said.get("key") == QUOTA_KEY:
        used, daily = params.get("used"), params.get("daily")
        if isinstance(used, int) and isinstance(daily, int) and not isinstance(used, bool):
            return used, daily
        return None
    for value in params.values():
        found = _find_quota(value, depth + 1)
        if found is not None:
            return found
    return None


def read_log(path: Path) -> Iterator[bytes]:
    """The log's non-blank lines, one at a time (a line too long to be ours is skipped)."""
    with path.open("rb") as file:
        for _, raw, _ in raw_lines(file):
            if raw is not None and raw.strip():
                yield raw
