"""The console session: the demo stand-in for Open-LLM-VTuber.

It behaves like the real session where it matters to the rest of the tree:
it pulls one message only when idle, holds the turn for a speaking time, and
on a stop request finishes the turn in progress (the supervisor cancels it if
that takes longer than the child's shutdown grace).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import trio

from supervision import ChildContext

from ..chat import ChatEvent
from ..i18n import says, tell
from ..router.buffer import PendingBuffer, turn_events
from ..timeline import timeline
from .failures import TurnNews, report_turn, turn_failed
from .prompt import format_turn as default_format_turn
from .steering import Skipper

Emit = Callable[..., None]


async def run_console_session(
    ctx: ChildContext,
    buffer: PendingBuffer,
    *,
    speaking_time: float,
    batch: int = 1,
    emit: Emit,
    format_turn: Callable[[list[ChatEvent], Sequence[Sequence[ChatEvent]]], str] = default_format_turn,
    on_turn_ended: TurnNews | None = None,
    skipper: Skipper | None = None,
    on_turn_started: TurnNews | None = None,
) -> None:
    """Returns when all input is finished and spoken: that ends the run."""
    speaking: list[trio.CancelScope] = []  # the turn in progress, while there is one

    def cut() -> bool:
        if not speaking:
            return False
        speaking[0].cancel()
        return True

    if skipper is not None:
        skipper.attach(cut)
    try:
        await _turns(
            ctx,
            buffer,
            speaking,
            speaking_time=speaking_time,
            batch=batch,
            emit=emit,
            format_turn=format_turn,
            on_turn_ended=on_turn_ended,
            on_turn_started=on_turn_started,
        )
    finally:
        if skipper is not None:
            skipper.detach(cut)


async def _turns(
    ctx: ChildContext,
    buffer: PendingBuffer,
    speaking: list[trio.CancelScope],
    *,
    speaking_time: float,
    batch: int,
    emit: Emit,
    format_turn: Callable[[list[ChatEvent], Sequence[Sequence[ChatEvent]]], str],
    on_turn_ended: TurnNews | None,
    on_turn_started: TurnNews | None,
) -> None:
    ctx.started()
    turns = 0
    while not ctx.stopping.is_set():
        tell(ctx, says("status.session_paused" if buffer.paused else "status.session_idle", turns=turns))
        picked = None
        with ctx.cancel_on_stop():
            try:
                # Checked out, not yet dispatched: if putting it to the VTuber
                # fails, it is dropped with the cause instead (see below).
                picked = await buffer.pull_checkout(batch=batch)
            except trio.EndOfChannel:
                tell(ctx, says("status.session_all_spoken", turns=turns))
                return
        if picked is None:
            break  # stopped while idle
        # A turn pulled just as the stop came is already ours: speak it.
        events = turn_events(picked)
        try:
            text = format_turn([p.event for p in picked], [p.askers for p in picked])
        except Exception as exc:
            # One message that cannot be put into words costs only itself.
            turn_failed(buffer, picked, exc, emit)
            continue
        buffer.confirm(picked, trio.current_time())
        turns += 1
        await _speak(
            ctx,
            events,
            text,
            turns,
            speaking,
            speaking_time=speaking_time,
            emit=emit,
            on_turn_ended=on_turn_ended,
            on_turn_started=on_turn_started,
        )
    tell(ctx, says("status.session_stopped", turns=turns))


async def _speak(
    ctx: ChildContext,
    events: list[ChatEvent],
    text: str,
    turns: int,
    speaking: list[trio.CancelScope],
    *,
    speaking_time: float,
    emit: Emit,
    on_turn_ended: TurnNews | None,
    on_turn_started: TurnNews | None,
) -> None:
    started = trio.current_time()
    fields: dict[str, Any] = {
        "id": events[0].id,
        "ids": [e.id for e in events],
        "platform": events[0].platform.value,
        "text": text,
    }
    emit("session.turn_started", **fields)
    report_turn(on_turn_started, events, fields, emit)
    tell(ctx, says("status.session_speaking", turn=turns))
    interrupted = True
    skipped = False
    try:
        with trio.CancelScope() as scope:
            speaking.append(scope)
            await trio.sleep(speaking_time)
            interrupted = False
        if scope.cancelled_caught:  # the streamer skipped it
            skipped = True
            emit("session.interrupted", "warning", reason="skipped", id=events[0].id)
    finally:
        speaking.clear()
        ended: dict[str, Any] = {
            "id": events[0].id,
            "outcome": "interrupted" if skipped else "cut_off" if interrupted else "ended",
            "reply": None,  # the console has no AI
            "duration_s": round(trio.current_time() - started, 3),
            "interrupted": interrupted,
            # the console takes a message and speaks at once: chosen is started
            **timeline(events[0], chosen_at=started, started_at=started, finished_at=trio.current_time()),
        }
        emit("session.turn_ended", "warning" if interrupted else "info", **ended)
        report_turn(on_turn_ended, events, ended, emit)
