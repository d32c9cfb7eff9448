"""How long a viewer waits between typing and hearing the answer.

Every answered message has a timeline: posted (on the platform, by its
clock), received (by a monitor), chosen (taken from the queue by the
session), started (the VTuber began the answer) and finished. The
figure a streamer cares about is the wait, posted -> started: it is in
the archive (each record, with its own posted time: a crowd's askers
posted at different moments), in the `session.turn_ended` log line (the
leader's), and summed up per platform in `/status` and on the dashboard
as the median and the 90th percentile over the last minutes.

The service's own times are Trio's clock (monotonic); a timeline is
written in wall-clock time, converted at the moment it is written.
Percentiles are nearest-rank, over whole samples, so `bench/latency.py`
computes the very same numbers from an archive.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from .chat import ChatEvent

WINDOW_S = 600.0  # the dashboard's "last minutes"
_KEPT = 2000  # samples kept at most, whatever the window


def wall_clock(trio_time: float | None) -> datetime | None:
    """A moment of Trio's clock as a wall-clock time (now's offset)."""
    if trio_time is None:
        return None
    return datetime.now(UTC) - timedelta(seconds=trio.current_time() - trio_time)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timeline(
    event: ChatEvent, *, chosen_at: float | None, started_at: float | None, finished_at: float | None
) -> dict[str, Any]:
    """The turn's timeline for `event` (Trio times in, wall-clock ISO out),
    and its wait: seconds from posted to started (None if it never started)."""
    started = wall_clock(started_at)
    return {
        "timeline": {
            "posted": _iso(event.sent_at),
            "received": _iso(wall_clock(event.received_at)),
            "chosen": _iso(wall_clock(chosen_at)),
            "started": _iso(started),
            "finished": _iso(wall_clock(finished_at)),
        },
        "wait_s": wait_s(event.sent_at, started),
    }


def wait_s(posted: datetime, started: datetime | None) -> float | None:
    return None if started is None else round((started - posted).total_seconds(), 3)


def started_of(fields: Mapping[str, Any]) -> datetime | None:
    """The started time of a turn's timeline (as the session reported it)."""
    started = (fields.get("timeline") or {}).get("started")
    return None if not started else datetime.fromisoformat(started)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `share` of
    the values at or below it. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarise(samples: Iterable[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """Per platform: how many waits, their p50 and p90."""
    by_platform: dict[str, list[float]] = {}
    for platform, wait in samples:
        by_platform.setdefault(platform, []).append(wait)
    return {
        platform: {"n": len(waits), "p50_s": percentile(waits, 0.5), "p90_s": percentile(waits, 0.9)}
        for platform, waits in sorted(by_platform.items())
    }


class Waits:
    """The waits of the answers of the last `window` seconds (wall clock)."""

    def __init__(self, window: float = WINDOW_S) -> None:
        self.window = window
        self._samples: deque[tuple[float, str, float]] = deque(maxlen=_KEPT)  # (at, platform, wait)

    def add(self, events: Sequence[ChatEvent], fields: Mapping[str, Any]) -> None:
        """A turn ended: every message it answered waited from its own posting.
        A turn cut off and put back counts when it is answered again."""
        started = started_of(fields)
        if started is None or fields.get("put_back"):
            return
        at = time.time()
        for event in events:
            wait = wait_s(event.sent_at, started)
            if wait is not None:
                self._samples.append((at, event.platform.value, wait))

    def summary(self) -> dict[str, Any]:
        cutoff = time.time() - self.window
        recent = [(platform, wait) for at, platform, wait in self._samples if at >= cutoff]
        return {
            "window_s": self.window,
            "platforms": summarise(recent),
            "recent": [[platform, wait] for platform, wait in recent[-60:]],  # the dashboard's chart
        }
