"""The VTuber-session actor for Open-LLM-VTuber: one message per turn.

One incarnation runs for as long as the service: it connects, and when the
connection breaks it reconnects itself by the common retry rule
(`monitors/common/retry.py`): the first retry after about a second, then doubling
up to `retry_interval`. A connection proves itself (a finished turn, a
heartbeat-ack) and the next outage starts from a second again. Only when
`max_retries` retries in one outage have failed does the actor give up and
its supervisor's backoff take over. (It used to be the supervisor's restart
alone: a connection that had served two turns still waited 1, 2, 4 ... 30 s.)

On each connection (`olv_connection.Connection`) the turn loop pulls the
best message only when OLV is idle, sends it, and does what the turn
machine (`olv_protocol.OlvTurns`) says is due: answer playback, interrupt a
hung turn, give up on a message that never started.

A message is dispatched once, when its turn starts (its chain-start); one
that never started waits again in the router's buffer, except where it may
still start: see `_orphan`. A paid message whose answer was cut off (OLV
went away mid-answer) is put back once, first in line, and answered in full
on the next connection; its archive record carries the final answer.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
import trio_websocket

from supervision import ChildContext

from ..chat import ChatEvent, Kind
from ..groups import leaves
from ..i18n import says, tell
from ..monitors.common.retry import RetryRule, failure_said, retry_fields, run_with_retries
from ..router.buffer import PendingBuffer, Picked, turn_events
from ..timeline import timeline
from .failures import TurnNews, report_turn, turn_failed
from .olv_connection import Connection, OlvError, connect_failure, refused
from .olv_protocol import NEW_HISTORY, PLAYBACK_COMPLETE, Due, Mode, OlvTurns, Phase, Timing, Turn
from .steering import Skipper

Emit = Callable[..., None]
# (the turn's messages, and for each the others who said the same: a crowd)
FormatTurn = Callable[[list[ChatEvent], Sequence[Sequence[ChatEvent]]], str]

PAID_KINDS = frozenset({Kind.DONATION, Kind.STICKER, Kind.MEMBERSHIP, Kind.GIFT})
HARD_STOP_INTERRUPT_S = 0.5  # the longest a cancelled session spends telling OLV what was heard


def is_paid(event: ChatEvent) -> bool:
    return event.is_paid or event.kind in PAID_KINDS


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
    retry: RetryRule = attrs.field(factory=lambda: RetryRule(max_retries=10, retry_interval=30.0))
    # The supervisor's shutdown grace (session.turn_grace): a turn still
    # running just before it runs out is interrupted by us, with what was
    # heard, rather than cut by the cancellation with OLV none the wiser.
    stop_grace: float | None = None


@attrs.define(eq=False)
class _Orphan:
    """Our text-input from an earlier proxy connection that may still wait in
    the proxy's queue: handed over, never to be sent again (see `_orphan`)."""

    picked: list[Picked]
    text: str
    turn: Turn | None = None  # its turn, once it started after all


class OlvSession:
    """The session actor's target: `run` is one incarnation."""

    def __init__(
        self,
        buffer: PendingBuffer,
        settings: OlvSettings,
        *,
        format_turn: FormatTurn,
        emit: Emit,
        on_turn_ended: TurnNews | None = None,
        skipper: Skipper | None = None,
        on_turn_started: TurnNews | None = None,
        on_turn_progress: TurnNews | None = None,
    ) -> None:
        self.buffer = buffer
        # The overlay and the dashboard: a turn of ours started, and its
        # reply so far each time it grows ({"reply": ...}).
        self.on_turn_started = on_turn_started
        self.on_turn_progress = on_turn_progress
        self.skipper = skipper
        # The turn of ours the streamer asked to skip: _drive interrupts it
        # as soon as it is under way (see _cut). A turn, not a flag: a skip
        # asked of a turn that ends before it started is for no other turn.
        self._skip: Turn | None = None
        self.settings = settings
        self.format_turn = format_turn
        self.emit = emit
        self.on_turn_ended = on_turn_ended
        self.turns_done = 0  # over all connections and incarnations
        self._history_reset_at = 0  # turns_done at the last create-new-history
        self._orphans: list[_Orphan] = []  # outlive connections, like the proxy's queue
        self._conn: Connection | None = None
        self._stop_deadline = math.inf

    async def run(self, ctx: ChildContext) -> None:
        """Returns when all input is finished and spoken (that ends the run),
        or on a stop."""
        # Ready at once: the router and the monitors must not wait for OLV.
        ctx.started()
        self._stop_deadline = math.inf
        if self.skipper is not None:
            self.skipper.attach(self._cut)
        try:
            with trio.CancelScope() as everything:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch_stop, ctx, everything)
                    await run_with_retries(
                        ctx,
                        "OLV",
                        functools.partial(self._connection, ctx),
                        self.settings.retry,
                        on_retry=self._on_retry,
                    )
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The supervisor's log should say what went wrong, not "1 sub-exception".
            errors = leaves(group)
            if len(errors) == 1 and isinstance(errors[0], Exception):
                raise errors[0] from None
            raise
        finally:
            if self.skipper is not None:
                self.skipper.detach(self._cut)

    def _cut(self) -> bool:
        """The streamer's skip: True if a turn of ours is in progress (its
        answer is interrupted, OLV told what the audience heard, as soon as
        it is under way: at once if it is)."""
        conn = self._conn
        if conn is None or conn.turns.mine is None:
            return False
        self._skip = conn.turns.mine
        conn.poke()
        return True

    def _on_retry(self, attempt: int, delay: float, exc: Exception) -> None:
        self.emit("session.retry", "warning", **retry_fields(attempt, delay, exc))

    async def _watch_stop(self, ctx: ChildContext, everything: trio.CancelScope) -> None:
        await ctx.stopping.wait()
        grace = self.settings.stop_grace
        if grace is not None:
            # Just before the supervisor's cancellation: leave time to send.
            self._stop_deadline = trio.current_time() + grace - min(1.0, grace / 4)
        if self._conn is None:
            everything.cancel()  # between connections there is no turn to finish
        else:
            self._conn.poke()

    # ---- one connection ----------------------------------------------------------------------

    async def _connection(self, ctx: ChildContext, delivered: Callable[[], None]) -> None:
        if ctx.stopping.is_set():
            return
        try:
            await self._connect_and_serve(ctx, delivered)
        except OlvError:
            if ctx.stopping.is_set():
                return  # no reconnecting once a stop was asked for
            raise

    async def _connect_and_serve(self, ctx: ChildContext, delivered: Callable[[], None]) -> None:
        s = self.settings
        tell(ctx, says("status.olv_connecting", url=s.url))
        try:
            async with trio_websocket.open_websocket_url(
                s.url,
                max_message_size=s.max_message_size,
                connect_timeout=s.connect_timeout,
                disconnect_timeout=1.0,
            ) as ws:
                conn = Connection(ws, OlvTurns(s.mode, s.timing), on_alive=delivered)
                self._conn = conn
                connected_at = trio.current_time()
                self.emit("session.connected", url=s.url, mode=s.mode.value, orphans=len(self._orphans))
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(conn.read_forever, self.emit)
                        nursery.start_soon(conn.heartbeat_forever, s.heartbeat_every, s.silence_timeout)
                        await self._turn_loop(ctx, conn, delivered)
                        nursery.cancel_scope.cancel()
                finally:
                    self._conn = None
                    conn.turns.closed(trio.current_time())
                    self._settle_orphans(conn)
                    self.emit("session.disconnected", connected_s=round(trio.current_time() - connected_at, 3))
        except trio_websocket.DisconnectionTimeout as exc:
            # Raised from the socket's exit when OLV is slow to answer our
            # close (it subclasses HandshakeError, but this is no failure to
            # connect). With nothing in flight the work had ended normally.
            if exc.__context__ is None:
                return
            raise OlvError(says("status.olv_ended", error=failure_said(exc.__context__))) from None
        except (OSError, trio_websocket.HandshakeError) as exc:
            if refused(exc) and self._orphans:
                # Nobody listens: OLV itself is down, and its proxy's queue
                # went with it. What waited there can never start now.
                self._give_back_orphans("OLV was down, and its proxy's queue with it")
            raise OlvError(connect_failure(s.url, exc, timeout=s.connect_timeout)) from None
        except BaseExceptionGroup as group:
            # The reader's or the heartbeat's OlvError comes wrapped by the nursery.
            olv_errors, rest = group.split(OlvError)
            if olv_errors is not None and rest is None:
                raise leaves(olv_errors)[0] from None
            raise

    async def _turn_loop(self, ctx: ChildContext, conn: Connection, delivered: Callable[[], None]) -> None:
        s = self.settings
        while not ctx.stopping.is_set():
            self._settle_orphans(conn)
            if conn.turns.phase is not Phase.IDLE:
                tell(ctx, says("status.olv_foreign_turn"))
                await self._drive(ctx, conn, None)
                continue
            if s.new_history_every and self.turns_done - self._history_reset_at >= s.new_history_every:
                # Bounds the LLM's memory on a long stream. Sent before the
                # next turn: OLV handles one client's messages in order.
                await conn.send(NEW_HISTORY)
                self._history_reset_at = self.turns_done
                self.emit("session.history_reset", after_turns=self.turns_done)
            idle_key = "status.session_paused" if self.buffer.paused else "status.session_idle"
            tell(ctx, says(idle_key, turns=self.turns_done))
            picked: list[Picked] | None = None
            finished = False
            idle_for = s.idle_speak_after if s.idle_speak_after > 0 else math.inf
            with ctx.cancel_on_stop(), trio.move_on_after(idle_for) as idle:
                # Wake for a foreign chain-start too: then we must not send.
                try:
                    picked = await self._pull_unless_busy(conn)
                except trio.EndOfChannel:
                    finished = True
            if finished:
                await self._await_orphans(ctx, conn)
                tell(ctx, says("status.session_all_spoken", turns=self.turns_done))
                return
            if picked is None:
                quiet = idle.cancelled_caught and not len(self.buffer)  # nothing came in after all
                if quiet and not ctx.stopping.is_set() and conn.turns.phase is Phase.IDLE and not self.buffer.paused:
                    await self._idle_speech(ctx, conn)
                continue
            if not picked:
                continue  # a foreign turn began: serve it first
            if await self._turn(ctx, conn, picked):
                delivered()

    async def _pull_unless_busy(self, conn: Connection) -> list[Picked]:
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

    # ---- one turn of ours ----------------------------------------------------------------------

    async def _turn(self, ctx: ChildContext, conn: Connection, picked: list[Picked]) -> bool:
        """One message's turn; True if it ended as it should (OLV is proven alive)."""
        events = turn_events(picked)
        try:
            text = self.format_turn([p.event for p in picked], [p.askers for p in picked])
        except Exception as exc:
            # Nothing was sent: the message costs only itself (dropped:error).
            turn_failed(self.buffer, picked, exc, self.emit)
            return False
        machine = conn.turns
        confirmed = sent = False

        def on_start(turn: Turn) -> None:
            nonlocal confirmed
            confirmed = True
            self.buffer.confirm(picked, trio.current_time())
            # The proxy's queue is first in, first out: anything of ours from
            # an earlier connection that has not started by now never will.
            self._lose_orphans("a later message of ours started first")
            started = {
                "id": events[0].id,
                "ids": [e.id for e in events],
                "platform": events[0].platform.value,
                "text": text,
                "start_latency_s": _seconds(turn.started_at, turn.sent_at),
            }
            self.emit("session.turn_started", **started)
            report_turn(self.on_turn_started, events, started, self.emit)
            tell(ctx, says("status.session_speaking", turn=self.turns_done + 1))

        message = machine.text_input(text, trio.current_time())
        turn = machine.mine
        assert turn is not None
        try:
            await conn.send(message)
            sent = True
            tell(ctx, says("status.olv_waiting_start"))
            await self._drive(ctx, conn, turn, on_start, events)
        except BaseException:
            if machine.mine is turn and machine.phase is Phase.IN_TURN and not conn.broken:
                await self._interrupt_at_once(conn)
            raise
        finally:
            if not confirmed and turn.started_at is not None:
                # OLV started it (the reader saw our chain-start) but the
                # break or the stop came before _drive looked: the machine,
                # not our loop, says whether it started.
                on_start(turn)
            self._turn_over(ctx, conn, picked, turn, text, confirmed=confirmed, sent=sent)
        if turn.outcome == "lost" and not ctx.stopping.is_set():
            self.emit("session.turn_lost", "warning", id=events[0].id, waited_s=self.settings.timing.start_timeout)
            raise OlvError(
                says("status.olv_lost_turn", seconds=f"{self.settings.timing.start_timeout:g}"),
                retry_after=0.0 if self.settings.mode is Mode.PROXY_WS else None,
            )
        return turn.outcome == "ended"

    async def _interrupt_at_once(self, conn: Connection) -> None:
        """Cancelled mid-turn (a stop at once, or the grace ran out): the
        socket is about to close, and OLV would keep in its memory the whole
        answer the audience never heard. One short, shielded send fixes that."""
        turn = conn.turns.mine
        message = conn.turns.interrupt(trio.current_time())
        delivered = False
        with trio.move_on_after(HARD_STOP_INTERRUPT_S, shield=True), contextlib.suppress(OlvError):
            await conn.send(message)
            delivered = True
            self.emit("session.interrupted", "warning", reason="stopped", heard=message["text"])
        if not delivered and turn is not None and turn.outcome == "interrupted":
            turn.outcome = "running"  # OLV never heard the interrupt: the turn was cut off, not interrupted

    def _turn_over(
        self,
        ctx: ChildContext,
        conn: Connection,
        picked: list[Picked],
        turn: Turn,
        text: str,
        *,
        confirmed: bool,
        sent: bool,
    ) -> None:
        """Give every message of the turn its due, however the turn ended."""
        events = turn_events(picked)
        if not confirmed:
            if sent and (turn.outcome == "lost" or conn.broken) and not ctx.stopping.is_set():
                self._orphan(picked, turn, text)
            else:
                # It never started and cannot start any more (a direct
                # session dies with its connection): it may wait again.
                self.buffer.give_back(picked, trio.current_time())
            return
        if turn.outcome == "running":
            conn.turns.closed(trio.current_time())  # cut off, unless every sentence had played
        if turn.outcome == "running":
            turn.outcome = "cut_off"
            turn.ended_at = trio.current_time()
        self.turns_done += 1
        if (
            turn.outcome == "cut_off"
            and all(is_paid(e) for e in events)
            and not ctx.stopping.is_set()
            and self.buffer.put_back(picked)
        ):
            # Someone paid for an answer and heard half of one: once more,
            # first thing on the next connection. It stays dispatched once,
            # and is archived and timed once, when that answer ends; the
            # pages are told now, so the overlay does not show it meanwhile.
            fields = {**self._fields(events, turn), "put_back": True}
            self.emit("session.turn_ended", "warning", **fields)
            report_turn(self.on_turn_ended, events, fields, self.emit)
            return
        self._turn_ended(events, turn)

    def _orphan(self, picked: list[Picked], turn: Turn, text: str) -> None:
        """Our text-input went out and never started. In direct `client-ws`
        mode the session dies with the connection, so it can simply wait
        again. Through the proxy it cannot: the proxy keeps its queue until
        its *last* client leaves, so while a browser frontend stays
        connected, our message may still sit there and be spoken later,
        whatever we do. The options, and why this one:

        - send it again, on this or a new connection: spoken twice if it
          was still queued (which is what happened);
        - interrupt-signal to re-arm the proxy: while OLV is idle it
          rewrites the AI's last answer in memory, and does nothing for a
          message the proxy dropped;
        - keep waiting on this connection: never twice, but if it was
          dropped (a failed forward) we wait forever, and every later
          chain-start without a transcription would be ambiguous;
        - what we do: never send it again, and reconnect. A new connection
          is a new client to the proxy, so if the old message is still
          queued, its `user-input-transcription` now reaches us, with its
          text: we recognise it and credit its turn to it (dispatched then,
          with its reply). The queue is first in, first out, so once a
          later message of ours starts, the old one is gone for good: it is
          dropped as `lost`, and never spoken twice. If OLV itself turns
          out to be down (connection refused), the queue died with it, and
          the message waits again in our buffer.
        """
        if self.settings.mode is not Mode.PROXY_WS:
            self.buffer.give_back(picked, trio.current_time())
            return
        self._orphans.append(_Orphan(picked, text))
        self.emit(
            "session.turn_orphaned",
            "warning",
            id=picked[0].event.id,
            why="not started within start_timeout" if turn.outcome == "lost" else "the connection broke",
        )

    def _settle_orphans(self, conn: Connection) -> None:
        """Credit each foreign turn that answers an orphan, and report the
        orphans whose turn is over."""
        now = trio.current_time()
        for foreign in conn.turns.started_foreign():
            orphan = next((o for o in self._orphans if o.turn is None and o.text == foreign.input_text), None)
            if orphan is None:
                continue
            orphan.turn = foreign
            self.buffer.confirm(orphan.picked, now)
            event = orphan.picked[0].event
            self.emit("session.turn_started", id=event.id, ids=[p.event.id for p in orphan.picked], late=True)
        for orphan in [o for o in self._orphans if o.turn is not None and o.turn.outcome != "running"]:
            self._orphans.remove(orphan)
            assert orphan.turn is not None
            self.turns_done += 1
            self._turn_ended(turn_events(orphan.picked), orphan.turn)

    def _lose_orphans(self, why: str) -> None:
        for orphan in [o for o in self._orphans if o.turn is None]:
            self._orphans.remove(orphan)
            self.buffer.lose(orphan.picked, "lost")
            self.emit("session.turn_lost", "warning", id=orphan.picked[0].event.id, why=why)

    def _give_back_orphans(self, why: str) -> None:
        for orphan in [o for o in self._orphans if o.turn is None]:
            self._orphans.remove(orphan)
            self.buffer.give_back(orphan.picked, trio.current_time())
            self.emit("session.turn_given_back", "warning", id=orphan.picked[0].event.id, why=why)

    async def _await_orphans(self, ctx: ChildContext, conn: Connection) -> None:
        """All input is spoken but for orphans: give each the proxy's idle
        start_timeout to show up before it is declared lost."""
        machine = conn.turns
        idle_since = trio.current_time()
        while self._orphans and not ctx.stopping.is_set():
            self._settle_orphans(conn)
            if machine.phase is not Phase.IDLE:
                await self._drive(ctx, conn, None)
                idle_since = trio.current_time()
                continue
            deadline = idle_since + self.settings.timing.start_timeout
            if trio.current_time() >= deadline:
                self._lose_orphans("OLV stayed idle and it never started")
            else:
                await conn.wait(deadline)

    async def _idle_speech(self, ctx: ChildContext, conn: Connection) -> None:
        self.emit("session.idle_speech", idle_s=self.settings.idle_speak_after)
        message = conn.turns.speak_signal(trio.current_time())
        turn = conn.turns.mine
        assert turn is not None
        await conn.send(message)
        tell(ctx, says("status.olv_idle_speech"))
        await self._drive(ctx, conn, turn)
        if turn.outcome == "lost":
            raise OlvError(says("status.olv_idle_lost"))
        self._turn_ended([], turn)

    async def _drive(
        self,
        ctx: ChildContext,
        conn: Connection,
        mine: Turn | None,
        on_start: Callable[[Turn], None] | None = None,
        events: Sequence[ChatEvent] = (),
    ) -> None:
        """Do what is due until our turn `mine` is over, or with None, until
        OLV is idle (a foreign turn ended). `events`: what `mine` answers,
        for the listeners of its reply as it grows."""
        machine = conn.turns
        told = ""  # the reply as the progress listener last heard it
        while True:
            self._settle_orphans(conn)
            if mine is not None:
                if on_start is not None and mine.started_at is not None:
                    on_start(mine)
                    on_start = None
                if events and mine.started_at is not None and mine.reply and mine.reply != told:
                    told = mine.reply
                    report_turn(self.on_turn_progress, events, {"reply": told}, self.emit)
                if machine.mine is not mine:
                    return  # ended, failed, taken over or lost
            elif machine.phase is Phase.IDLE or ctx.stopping.is_set():
                return  # a stop does not wait for someone else's turn
            now = trio.current_time()
            if mine is not None and self._skip is mine and machine.mine is mine and machine.phase is Phase.IN_TURN:
                self._skip = None
                message = machine.interrupt(now)
                await conn.send(message)
                self.emit("session.interrupted", "warning", reason="skipped", heard=message["text"])
                continue
            if mine is not None and now >= self._stop_deadline:
                if machine.phase is not Phase.IN_TURN:
                    return  # stopping, and it has not even started: it waits again
                message = machine.interrupt(now)
                await conn.send(message)
                self.emit("session.interrupted", "warning", reason="stopping", heard=message["text"])
                continue
            due = machine.due(now)
            running = machine.running
            if due is Due.PLAYBACK_COMPLETE:
                await conn.send(PLAYBACK_COMPLETE)
            elif due is Due.INTERRUPT:
                failed = running is not None and running.unblock
                message = machine.interrupt(now)
                await conn.send(message)
                reason = "failed" if failed else "over budget"
                self.emit("session.interrupted", "warning", reason=reason, heard=message["text"])
            elif due is None:
                deadline = machine.deadline()
                await conn.wait(min(deadline, self._stop_deadline) if mine is not None else deadline)

    def _fields(self, events: Sequence[ChatEvent], turn: Turn) -> dict[str, Any]:
        # Chosen: when its text went to OLV, the moment it was taken from the queue.
        times = (
            timeline(
                events[0],
                chosen_at=turn.sent_at,
                started_at=turn.started_at,
                finished_at=turn.ended_at or trio.current_time(),
            )
            if events
            else {}
        )
        return {
            "id": events[0].id if events else None,
            "outcome": turn.outcome,
            "reply": turn.reply,
            "start_latency_s": _seconds(turn.started_at, turn.sent_at),
            "duration_s": _seconds(turn.ended_at or trio.current_time(), turn.started_at),
            "audio_s": round(turn.audio_s, 3),
            "playback_completes_sent": turn.playback_sent,
            "errors": turn.errors,
            "interrupted": turn.outcome != "ended",
            **times,
        }

    def _turn_ended(self, events: Sequence[ChatEvent], turn: Turn) -> None:
        fields = self._fields(events, turn)
        self.emit("session.turn_ended", "info" if turn.outcome == "ended" else "warning", **fields)
        report_turn(self.on_turn_ended, events, fields, self.emit)


def _seconds(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round(later - earlier, 3)
