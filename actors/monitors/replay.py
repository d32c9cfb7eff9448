"""The replay monitor: plays a JSON Lines chat recording at its recorded pace.

It is the embedded default (the demo chat ships with the package) and the
way to tune filters on last night's archive. Pacing follows the differences
of `sent_at` (records are played in `sent_at` order), divided by `speed`. A bad line is reported with its number and
skipped. The cursor lives outside the incarnation, so a restarted replay
continues where it stopped instead of replaying (and duplicating) the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

import attrs
import trio

from supervision import ChildContext

from ..chat import ChatEvent
from ..records import RecordError, read_records
from .retry import FatalMonitorError, RetryRule, run_with_retries

DEMO_CHAT = "demo_chat.jsonl"

Emit = Callable[..., None]


def _in_recorded_order(
    records: Iterable[tuple[int, ChatEvent | RecordError]],
) -> list[tuple[int, ChatEvent | RecordError]]:
    """Bad lines first (reported at once), then events by `sent_at`.

    An archive is written in the order fates happened (a message is written
    when it is spoken, after later chat that was filtered at once), so a
    replay sorts by the platform's time to play chat as it was sent. The
    sort is stable: records sent at the same moment keep their file order.
    """
    items = list(records)
    errors = [item for item in items if isinstance(item[1], RecordError)]
    events = [item for item in items if not isinstance(item[1], RecordError)]
    events.sort(key=lambda item: item[1].sent_at)  # type: ignore[union-attr]
    return errors + events


def demo_chat_text() -> str:
    return (resources.files("actors") / "data" / DEMO_CHAT).read_text(encoding="utf-8")


@attrs.define
class ReplayCursor:
    """How far the replay got; survives restarts of the monitor."""

    next_index: int = 0
    emitted: int = 0
    bad_lines: int = 0


@attrs.frozen
class ReplaySource:
    path: Path | None  # None: the bundled demo chat
    speed: float

    @property
    def label(self) -> str:
        return "bundled demo chat" if self.path is None else str(self.path)

    def read(self) -> str:
        # Synchronous on purpose: a recording is a local file read once per
        # incarnation, and the parse that follows is synchronous anyway; a
        # worker thread would only make the read race a mock clock in tests.
        if self.path is None:
            return demo_chat_text()
        try:
            return self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:  # retrying cannot fix the file's bytes
            raise FatalMonitorError(f"{self.path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except IsADirectoryError:
            raise FatalMonitorError(f"{self.path}: is a directory, not a chat recording") from None


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

    async def play(connected: Callable[[], None]) -> None:
        text = source.read()
        connected()
        items = _in_recorded_order(read_records(text.splitlines()))
        previous = None
        with ctx.cancel_on_stop():
            while cursor.next_index < len(items):
                lineno, item = items[cursor.next_index]
                if isinstance(item, RecordError):
                    cursor.bad_lines += 1
                    emit("replay.bad_line", level="warning", file=source.label, line=lineno, error=item.message)
                else:
                    if previous is not None:
                        gap = (item.sent_at - previous).total_seconds()
                        await trio.sleep(max(0.0, gap) / source.speed)
                    previous = item.sent_at
                    await outbox.send(attrs.evolve(item, received_at=trio.current_time()))
                    cursor.emitted += 1
                cursor.next_index += 1
                ctx.set_status(f"{source.label}: {cursor.next_index}/{len(items)} records")
        if cursor.next_index >= len(items):
            emit("replay.finished", file=source.label, emitted=cursor.emitted, bad_lines=cursor.bad_lines)

    def on_retry(failures: int, delay: float, exc: Exception) -> None:
        emit("replay.retry", level="warning", attempt=failures, delay_s=delay, error=f"{type(exc).__name__}: {exc}")

    await run_with_retries(ctx, "replay", play, RetryRule(max_retries, retry_interval), on_retry=on_retry)
