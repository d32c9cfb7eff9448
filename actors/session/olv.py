"""The VTuber-session actor for Open-LLM-VTuber: one message per turn.

Each incarnation opens one WebSocket (one OLV session) and runs three tasks:

- the reader drains every message at once and feeds the turn machine
  (`olv_protocol.OlvTurns`). It never waits on anyone: audio frames pass
  1 MiB and a stalled reader would stall ping handling too;
- the heartbeat sends `heartbeat` now and then and declares the connection
  dead when OLV has said nothing at all for `silence_timeout`;
- the turn loop pulls the best message only when OLV is idle, sends it, and
  does what the machine says is due (answer playback, interrupt a hung
  turn, give up on a message that never started) until the turn is over.

Any connection problem raises out of the incarnation; its supervisor
restarts it with backoff, which is the reconnect. A message whose turn
started is dispatched exactly once (confirmed at `conversation-chain-start`);
one that never started goes back to the router's buffer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
import trio_websocket

from supervision import ChildContext

from ..chat import ChatEvent
from ..groups import leaves
from ..router.buffer import PendingBuffer, Picked
from .olv_protocol import HEARTBEAT, NEW_HISTORY, PLAYBACK_COMPLETE, Due, Mode, OlvTurns, Phase, Timing, Turn

Emit = Callable[..., None]
TurnEnded = Callable[[Sequence[ChatEvent], dict[str, Any]], None]  # (events answered, fields)
FormatTurn = Callable[[list[ChatEvent]], str]


class OlvError(Exception):
    """The connection is unusable: this incarnation ends, the supervisor reconnects."""


@attrs.frozen
class OlvSettings:
    url: str = "ws://127.0.0.1:12393/client-ws"
    mode: Mode = Mode.CLIENT_WS
    timing: Timing = attrs.field(factory=Timing)
    connect_timeout: float = 10.0
    heartbeat_every: float = 20.0
    silence_timeout: float = 65.0  # > heartbeat_every: an ack is always due before this
    max_message_size: int = 32 * 2**20  # audio frames pass trio-websocket's 1 MiB default
    new_history_every: int = 0  # turns; 0 = never reset the LLM's memory
    idle_speak_after: float = 0.0  # seconds idle with no chat before an ai-speak-signal; 0 = never
    batch: int = 1


class _Connection:
    """One OLV session: the socket, the turn machine and the reader's news."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, turns: OlvTurns) -> None:
        self.ws = ws
        self.turns = turns
        self.last_heard = trio.current_time()
        self.sent: list[str] = []  # message types sent, for the log
        self._news = trio.lowlevel.ParkingLot()

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self.ws.send_message(json.dumps(message, ensure_ascii=False))
        except trio_websocket.ConnectionClosed as exc:
            raise OlvError(f"OLV closed the connection ({_close_reason(exc)})") from None

    async def read_forever(self, emit: Emit) -> None:
        while True:
            try:
                raw = await self.ws.get_message()
            except trio_websocket.ConnectionClosed as exc:
                raise OlvError(f"OLV closed the connection ({_close_reason(exc)})") from None
            now = trio.current_time()
            self.last_heard = now
            try:
                message = json.loads(raw)
            except (json.JSONDecodeError, TypeError):
                emit("session.bad_message", "warning", problem="not JSON", size=len(raw))
                continue
            if not isinstance(message, dict):
                emit("session.bad_message", "warning", problem="not a JSON object", size=len(raw))
                continue
            self.turns.receive(message, now)
            self._news.unpark_all()

    async def heartbeat_forever(self, every: float, silence_timeout: float) -> None:
        while True:
            await trio.sleep(every)
            silent = trio.current_time() - self.last_heard
            if silent > silence_timeout:
                raise OlvError(f"OLV said nothing for {silent:.0f} s: the connection is dead")
            await self.send(HEARTBEAT)

    async def wait(self, deadline: float) -> None:
        """Until the reader brings news, or `deadline`. The caller checks the
        state just before, with no checkpoint in between, so no news is missed."""
        with trio.move_on_at(deadline):
            await self._news.park()


def _close_reason(exc: trio_websocket.ConnectionClosed) -> str:
    reason = exc.reason
    if reason is None:
        return "no close frame"
    return f"code {reason.code}" + (f": {reason.reason}" if reason.reason else "")


class OlvSession:
    """The session actor's target: `run` is one incarnation."""

    def __init__(
        self,
        buffer: PendingBuffer,
        settings: OlvSettings,
        *,
        format_turn: FormatTurn,
        emit: Emit,
        on_turn_ended: TurnEnded | None = None,
    ) -> None:
        self.buffer = buffer
        self.settings = settings
        self.format_turn = format_turn
        self.emit = emit
        self.on_turn_ended = on_turn_ended
        self.turns_done = 0  # over all incarnations
        self._history_reset_at = 0  # turns_done at the last create-new-history

    async def run(self, ctx: ChildContext) -> None:
        """Returns when all input is finished and spoken: that ends the run."""
        s = self.settings
        # Ready at once: the router and the monitors must not wait for OLV,
        # and a failed connection is this actor's own restart, with backoff.
        ctx.started()
        ctx.set_status(f"connecting to {s.url}")
        try:
            async with trio_websocket.open_websocket_url(
                s.url,
                max_message_size=s.max_message_size,
                connect_timeout=s.connect_timeout,
                disconnect_timeout=1.0,
            ) as ws:
                conn = _Connection(ws, OlvTurns(s.mode, s.timing))
                self.emit("session.connected", url=s.url, mode=s.mode.value)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.read_forever, self.emit)
                    nursery.start_soon(conn.heartbeat_forever, s.heartbeat_every, s.silence_timeout)
                    await self._turn_loop(ctx, conn)
                    nursery.cancel_scope.cancel()
        except (OSError, trio_websocket.HandshakeError) as exc:
            # trio-websocket's HandshakeError says nothing itself; the cause
            # does ("all attempts to connect ... failed", a 403, a timeout).
            why = str(exc) or str(exc.__cause__ or "") or type(exc).__name__
            raise OlvError(f"cannot connect to {s.url}: {why}") from None
        except BaseExceptionGroup as group:
            # The reader's or the heartbeat's OlvError comes wrapped by the
            # nursery; the supervisor's log should say what went wrong.
            olv_errors, rest = group.split(OlvError)
            if olv_errors is not None and rest is None:
                raise leaves(olv_errors)[0] from None
            raise

    async def _turn_loop(self, ctx: ChildContext, conn: _Connection) -> None:
        s = self.settings
        while not ctx.stopping.is_set():
            if conn.turns.phase is not Phase.IDLE:
                ctx.set_status("waiting: a turn we did not start is running")
                await self._drive(conn, None)
                continue
            if s.new_history_every and self.turns_done - self._history_reset_at >= s.new_history_every:
                # Bounds the LLM's memory on a long stream. Sent before the
                # next turn: OLV handles one client's messages in order.
                await conn.send(NEW_HISTORY)
                self._history_reset_at = self.turns_done
                self.emit("session.history_reset", after_turns=self.turns_done)
            ctx.set_status(f"idle after {self.turns_done} turns")
            picked: list[Picked] | None = None
            idle_for = s.idle_speak_after if s.idle_speak_after > 0 else math.inf
            with ctx.cancel_on_stop(), trio.move_on_after(idle_for) as idle:
                # Wake for a foreign chain-start too: then we must not send.
                try:
                    picked = await self._pull_unless_busy(conn)
                except trio.EndOfChannel:
                    ctx.set_status(f"all input spoken after {self.turns_done} turns")
                    return
            if picked is None:
                quiet = idle.cancelled_caught and not len(self.buffer)  # nothing came in after all
                if quiet and not ctx.stopping.is_set() and conn.turns.phase is Phase.IDLE:
                    await self._idle_speech(ctx, conn)
                continue
            if not picked:
                continue  # a foreign turn began: serve it first
            await self._turn(ctx, conn, picked)

    async def _pull_unless_busy(self, conn: _Connection) -> list[Picked]:
        """The next message, or [] if a foreign turn started while we waited.
        Raises trio.EndOfChannel when all input is finished and spoken."""
        result: list[Picked] = []
        finished = False
        try:
            async with trio.open_nursery() as nursery:

                async def pull() -> None:
                    nonlocal finished
                    try:
                        result.extend(await self.buffer.pull_checkout(batch=self.settings.batch))
                    except trio.EndOfChannel:
                        finished = True
                    nursery.cancel_scope.cancel()

                async def watch() -> None:
                    while conn.turns.phase is Phase.IDLE:
                        await conn.wait(math.inf)
                    nursery.cancel_scope.cancel()

                nursery.start_soon(pull)
                nursery.start_soon(watch)
        except BaseException:
            # Cancelled (a stop, the idle timer) just after a message was
            # checked out: it was never sent, so it waits again.
            if result:
                self.buffer.give_back(result, trio.current_time())
            raise
        if finished:
            raise trio.EndOfChannel
        if result and conn.turns.phase is not Phase.IDLE:
            # Both at once: the foreign turn wins, the message waits again.
            self.buffer.give_back(result, trio.current_time())
            return []
        return result

    async def _turn(self, ctx: ChildContext, conn: _Connection, picked: list[Picked]) -> None:
        events = [p.event for p in picked]
        text = self.format_turn(events)
        now = trio.current_time()
        confirmed = False

        def on_start(turn: Turn) -> None:
            nonlocal confirmed
            confirmed = True
            self.buffer.confirm(picked, trio.current_time())
            self.emit(
                "session.turn_started",
                id=events[0].id,
                ids=[e.id for e in events],
                platform=events[0].platform.value,
                text=text,
                start_latency_s=_seconds(turn.started_at, turn.sent_at),
            )
            ctx.set_status(f"speaking (turn {self.turns_done + 1})")

        turn: Turn | None = None
        try:
            message = conn.turns.text_input(text, now)
            turn = conn.turns.turn
            await conn.send(message)
            ctx.set_status("waiting for OLV to start the turn")
            await self._drive(conn, on_start)
        finally:
            if not confirmed:
                # It never started: OLV did not take it, so it may wait again.
                self.buffer.give_back(picked, trio.current_time())
            if turn is not None and confirmed:
                if turn.outcome == "running":
                    turn.outcome = "cut_off"  # the connection dropped, or a hard stop
                self.turns_done += 1
                self._turn_ended(events, turn)
        assert turn is not None
        if turn.outcome == "lost":
            self.emit("session.turn_lost", "warning", id=events[0].id, waited_s=self.settings.timing.start_timeout)
            raise OlvError(
                f"no conversation-chain-start within {self.settings.timing.start_timeout:g} s: "
                "the message waits again; reconnecting so a late start cannot overlap the next one"
            )

    async def _idle_speech(self, ctx: ChildContext, conn: _Connection) -> None:
        self.emit("session.idle_speech", idle_s=self.settings.idle_speak_after)
        conn.turns.speak_signal(trio.current_time())
        turn = conn.turns.turn
        await conn.send({"type": "ai-speak-signal"})
        ctx.set_status("idle speech")
        await self._drive(conn, None)
        assert turn is not None
        if turn.outcome == "lost":
            raise OlvError("no conversation-chain-start for the idle speech: reconnecting")
        self._turn_ended([], turn)

    async def _drive(self, conn: _Connection, on_start: Callable[[Turn], None] | None) -> None:
        """Do what is due until the current turn is over (OLV idle again)."""
        machine = conn.turns
        turn = machine.turn
        assert turn is not None
        while True:
            if on_start is not None and turn.started_at is not None:
                on_start(turn)
                on_start = None
            if machine.phase is Phase.IDLE:
                return
            due = machine.due(trio.current_time())
            if due is Due.PLAYBACK_COMPLETE:
                await conn.send(PLAYBACK_COMPLETE)
            elif due is Due.INTERRUPT:
                message = machine.interrupt()
                await conn.send(message)
                self.emit(
                    "session.interrupted",
                    "warning",
                    reason="failed" if turn.outcome == "failed" else "over budget",
                    heard=message["text"],
                )
            elif due is Due.LOST:
                return
            else:
                await conn.wait(machine.deadline())

    def _turn_ended(self, events: Sequence[ChatEvent], turn: Turn) -> None:
        fields: dict[str, Any] = {
            "id": events[0].id if events else None,
            "outcome": turn.outcome,
            "reply": turn.reply,
            "start_latency_s": _seconds(turn.started_at, turn.sent_at),
            "duration_s": _seconds(turn.ended_at or trio.current_time(), turn.started_at),
            "audio_s": round(turn.audio_s, 3),
            "playback_completes_sent": turn.playback_sent,
            "errors": turn.errors,
            "interrupted": turn.outcome != "ended",
        }
        self.emit("session.turn_ended", "info" if turn.outcome == "ended" else "warning", **fields)
        if self.on_turn_ended is not None and events:
            self.on_turn_ended(events, fields)


def _seconds(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round(later - earlier, 3)
