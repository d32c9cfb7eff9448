"""What a session does when putting one message to the VTuber fails.

A session step that raises on one message (formatting its prompt, say)
must cost that message only: it is dropped with reason `error` and the
cause, and the session goes on with the next. Left to the supervisor, the
exception would restart the session, and the message, checked out but never
dispatched, would sit in flight with no fate until the service stopped.
A listener told of a turn (the archive, the dashboard, the overlay: that
it started, how its reply grows, that it ended) that fails is reported;
the message already has its fate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..chat import ChatEvent
from ..router.buffer import PendingBuffer, Picked

Emit = Callable[..., None]
# A listener of a turn's news: (the turn's messages, what is new), for its
# start, its reply as it grows, and its end.
TurnNews = Callable[[Sequence[ChatEvent], dict[str, Any]], None]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def turn_failed(buffer: PendingBuffer, picked: list[Picked], exc: Exception, emit: Emit) -> None:
    """The checked-out messages could not be put to the VTuber: dropped:error."""
    error = describe(exc)
    buffer.lose(picked, "error", {"error": error})
    emit("session.turn_failed", "error", id=picked[0].event.id, ids=[p.event.id for p in picked], error=error)


def report_turn(listener: TurnNews | None, events: Sequence[ChatEvent], fields: dict[str, Any], emit: Emit) -> None:
    """Tell a listener about a turn; a listener that fails is reported."""
    if listener is None or not events:
        return
    try:
        listener(events, fields)
    except Exception as exc:  # the archive or the dashboard; the turn itself is done
        emit("session.listener_failed", "error", id=events[0].id, error=describe(exc))
