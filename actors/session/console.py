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
from ..router.buffer import PendingBuffer
from .prompt import format_turn as default_format_turn

Emit = Callable[..., None]
TurnEnded = Callable[[Sequence[ChatEvent], dict[str, Any]], None]


async def run_console_session(
    ctx: ChildContext,
    buffer: PendingBuffer,
    *,
    speaking_time: float,
    batch: int = 1,
    emit: Emit,
    format_turn: Callable[[list[ChatEvent]], str] = default_format_turn,
    on_turn_ended: TurnEnded | None = None,
) -> None:
    """Returns when all input is finished and spoken: that ends the run."""
    ctx.started()
    turns = 0
    while not ctx.stopping.is_set():
        ctx.set_status(f"idle after {turns} turns")
        picked = None
        with ctx.cancel_on_stop():
            try:
                picked = await buffer.pull(batch=batch)
            except trio.EndOfChannel:
                ctx.set_status(f"all input spoken after {turns} turns")
                return
        if picked is None:
            break  # stopped while idle
        # A turn pulled just as the stop came is already dispatched: speak it.
        turns += 1
        started = trio.current_time()
        events = [p.event for p in picked]
        fields: dict[str, Any] = {
            "id": events[0].id,
            "ids": [e.id for e in events],
            "platform": events[0].platform.value,
            "text": format_turn(events),
        }
        emit("session.turn_started", **fields)
        ctx.set_status(f"speaking (turn {turns})")
        interrupted = True
        try:
            await trio.sleep(speaking_time)
            interrupted = False
        finally:
            ended: dict[str, Any] = {
                "id": events[0].id,
                "outcome": "cut_off" if interrupted else "ended",
                "reply": None,  # the console has no AI
                "duration_s": round(trio.current_time() - started, 3),
                "interrupted": interrupted,
            }
            emit("session.turn_ended", "warning" if interrupted else "info", **ended)
            if on_turn_ended is not None:
                on_turn_ended(events, ended)
    ctx.set_status(f"stopped after {turns} turns")
