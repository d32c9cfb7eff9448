"""The replay monitor: plays a JSON Lines chat recording at its recorded pace.

It is the embedded default (the demo chat ships with the package) and the
way to tune filters on last night's archive. Pacing follows the differences
of `sent_at`, divided by `speed` (`inf`: as fast as the router takes it).

A replay is chat happening now: every `sent_at` is moved by one offset, so
that the first record played was posted the moment it is played. The gaps
between records stay as recorded (the filters' windows, in platform time,
see the same chat, so the fates are the same), and how long a viewer waited
for an answer (posted -> started, timeline.py) means what it does live.
At a `speed` above 1 the records arrive sooner than their gaps say, and
those waits come out short.

The file is streamed, never read whole: a night's archive can be hundreds of
megabytes, and reading and parsing it all at start froze every actor for
seconds and held gigabytes. A reader task reads whole lines in chunks (the
first one inline, so a small file needs no thread and plays at once; later
ones in a worker thread, one chunk ahead of the player), and the player
paces what it hands over. Memory stays bounded by a few chunks plus the
reordering window below.

An archive is written in the order fates happened (a message is written when
it is spoken, after later chat that was filtered at once), so the player
restores `sent_at` order within a window of REORDER_WINDOW records: chat
that waited in the router for minutes on a busy stream still comes back in
the order it was sent.

Every line is its own record: a line that is not UTF-8, not JSON, holds a
number too large or nesting too deep, or is not a chat record is reported
with its line number and skipped. Only a file that cannot be read at all is a
failure, retried by the common rule, and then only while the replay makes
progress. The cursor lives outside the incarnation, so a restarted replay
continues where it stopped instead of replaying (and duplicating) the start.
"""

from __future__ import annotations

import heapq
import io
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import trio

from supervision import ChildContext

from ..chat import ChatEvent
from ..i18n import Said, says, tell
from ..records import RecordError, read_raw_records
from .common.retry import FatalMonitorError, RetryRule, retry_fields, run_with_retries

DEMO_CHAT = "demo_chat.jsonl"
FIRST_CHUNK = 64 * 1024  # read inline: enough for the demo and any small file, about a millisecond
CHUNK = 512 * 1024  # later chunks, read in a worker thread
REORDER_WINDOW = 10_000  # records held to restore sent_at order (an archive is in fate order)
LATE_SLACK = 1.0  # s: behind schedule by more than this (a slow router), the schedule restarts from now
MIN_SLEEP = 0.001  # s: a shorter wait is not slept (a timer costs a whole epoll tick, ~1 ms)
STATUS_EVERY = 0.5  # s: status updates while playing fast

Emit = Callable[..., None]
Item = tuple[int, ChatEvent | RecordError]
RunBlocking = Callable[..., Awaitable[Any]]


def demo_chat_text() -> str:
    return demo_chat_bytes().decode("utf-8")


def demo_chat_bytes() -> bytes:
    return (resources.files("actors") / "data" / DEMO_CHAT).read_bytes()


@attrs.define
class ReplayCursor:
    """How far the replay got; survives restarts of the monitor."""

    emitted: int = 0  # records handed to the router, in play order
    bad_lines: int = 0
    reported_through: int = 0  # the last line number reported as bad
    # Added to every sent_at (see the module docstring); set by the first
    # record played, kept by later incarnations so the times stay one line.
    shift: timedelta | None = None


@attrs.frozen
class ReplaySource:
    path: Path | None  # None: the bundled demo chat
    speed: float
    # How a blocking read leaves the event loop; tests on a MockClock may
    # read inline instead, so that virtual time never jumps during a read.
    run_blocking: RunBlocking = attrs.field(default=trio.to_thread.run_sync, eq=False, repr=False)

    @property
    def label(self) -> str:
        return "bundled demo chat" if self.path is None else str(self.path)

    @property
    def shown(self) -> Said | str:
        """The label for a streamer: the bundled demo's in their language."""
        return says("status.replay_demo") if self.path is None else str(self.path)

    def open(self) -> BinaryIO:
        if self.path is None:
            return io.BytesIO(demo_chat_bytes())
        try:
            return self.path.open("rb")
        except IsADirectoryError:  # retrying cannot fix that
            raise FatalMonitorError(says("status.replay_directory", path=str(self.path))) from None


async def _read(source: ReplaySource, file: BinaryIO, out: trio.MemorySendChannel[list[Item]]) -> None:
    """Send the file's records in chunks; the channel holds one chunk ahead."""
    async with out:
        items, lineno, eof = read_raw_records(file, first_lineno=1, max_bytes=FIRST_CHUNK)
        await out.send(items)
        while not eof:
            items, lineno, eof = await source.run_blocking(
                lambda n=lineno: read_raw_records(file, first_lineno=n, max_bytes=CHUNK)
            )
            await out.send(items)


class _Schedule:
    """When each record is due: the gaps of `sent_at` over `speed`, from the
    moment the previous record went out (a paused router pauses the replay,
    it does not make it burst afterwards)."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.previous: datetime | None = None
        self.due = -math.inf

    async def wait_for(self, sent_at: datetime) -> None:
        now = trio.current_time()
        if self.previous is None or self.due < now - LATE_SLACK:
            self.due = now
        else:
            gap = max(0.0, (sent_at - self.previous).total_seconds())
            self.due += gap / self.speed if math.isfinite(self.speed) else 0.0
        self.previous = max(sent_at, self.previous) if self.previous is not None else sent_at
        if self.due - now >= MIN_SLEEP:
            await trio.sleep_until(self.due)
        else:
            await trio.lowlevel.checkpoint()


async def run_replay(
    ctx: ChildContext,
    source: ReplaySource,
    outbox: trio.MemorySendChannel[ChatEvent],
    cursor: ReplayCursor,
    *,
    max_retries: int,
    retry_interval: float,
    emit: Emit,
) -> None:
    outbox = ctx.hold(outbox.clone())
    ctx.started()

    async def play(delivered: Callable[[], None]) -> None:
        to_skip = cursor.emitted  # played by an earlier incarnation
        schedule = _Schedule(source.speed)
        window: list[tuple[datetime, int, ChatEvent]] = []
        status_at = -math.inf

        async def hand_over(event: ChatEvent) -> None:
            nonlocal to_skip, status_at
            if to_skip > 0:
                to_skip -= 1
                return
            await schedule.wait_for(event.sent_at)
            if cursor.shift is None:
                cursor.shift = datetime.now(UTC) - event.sent_at
            await outbox.send(
                attrs.evolve(event, sent_at=event.sent_at + cursor.shift, received_at=trio.current_time())
            )
            cursor.emitted += 1
            delivered()  # progress: a failure after this is a new outage
            if trio.current_time() - status_at >= STATUS_EVERY:
                status_at = trio.current_time()
                tell(ctx, says("status.replay_playing", file=source.shown, n=cursor.emitted))

        try:
            file = source.open()
        except OSError as exc:
            raise OSError(f"{source.label}: cannot open it ({exc.strerror or exc})") from None
        with file, ctx.cancel_on_stop() as stop:
            send, receive = trio.open_memory_channel[list[Item]](1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_read, source, file, send)
                async with receive:
                    async for items in receive:
                        for lineno, item in items:
                            if isinstance(item, RecordError):
                                if lineno > cursor.reported_through:
                                    cursor.reported_through = lineno
                                    cursor.bad_lines += 1
                                    emit(
                                        "replay.bad_line",
                                        level="warning",
                                        file=source.label,
                                        line=lineno,
                                        error=item.message,
                                    )
                                continue
                            heapq.heappush(window, (item.sent_at, lineno, item))
                            if len(window) > REORDER_WINDOW:
                                await hand_over(heapq.heappop(window)[2])
                while window:
                    await hand_over(heapq.heappop(window)[2])
        if stop.cancelled_caught:
            return  # stopped midway: the file did not end
        tell(ctx, says("status.replay_finished", file=source.shown, n=cursor.emitted, bad=cursor.bad_lines))
        emit("replay.finished", file=source.label, emitted=cursor.emitted, bad_lines=cursor.bad_lines)

    def on_retry(failures: int, delay: float, exc: Exception) -> None:
        emit("replay.retry", level="warning", **retry_fields(failures, delay, exc))

    await run_with_retries(ctx, "replay", play, RetryRule(max_retries, retry_interval), on_retry=on_retry)
