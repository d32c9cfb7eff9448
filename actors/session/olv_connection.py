"""One OLV connection: the socket, its turn machine and its reader.

The reader drains every message at once and feeds the turn machine
(`olv_protocol.OlvTurns`). It never waits on anyone: audio frames pass
1 MiB and a stalled reader would stall ping handling too. The heartbeat
sends `heartbeat` now and then and declares the connection dead when OLV has
said nothing at all for `silence_timeout`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
import trio_websocket

from ..i18n import Said, SaidError, says
from .olv_protocol import HEARTBEAT, OlvTurns

Emit = Callable[..., None]


class OlvError(SaidError):
    """The connection is unusable: it is closed, and the session reconnects.

    `retry_after` (seconds), when set, is the wait before the next attempt,
    obeyed exactly by the retry rule (0: at once)."""

    def __init__(self, message: Said | str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class Connection:
    """One OLV session (or proxy client): the socket, the turn machine and the reader's news."""

    def __init__(
        self, ws: trio_websocket.WebSocketConnection, turns: OlvTurns, *, on_alive: Callable[[], None]
    ) -> None:
        self.ws = ws
        self.turns = turns
        self.last_heard = trio.current_time()
        # Set by whichever of send, the reader or the heartbeat first finds the
        # socket dead: a message our turn sent then may still sit in the proxy.
        self.broken = False
        self._on_alive = on_alive  # a heartbeat-ack came: the connection is proven alive
        self._news = trio.lowlevel.ParkingLot()

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self.ws.send_message(json.dumps(message, ensure_ascii=False))
        except trio_websocket.ConnectionClosed as exc:
            self.broken = True
            raise OlvError(says("status.olv_closed", reason=close_reason(exc))) from None

    async def read_forever(self, emit: Emit) -> None:
        while True:
            try:
                raw = await self.ws.get_message()
            except trio_websocket.ConnectionClosed as exc:
                self.broken = True
                raise OlvError(says("status.olv_closed", reason=close_reason(exc))) from None
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
            if message.get("type") == "heartbeat-ack":
                self._on_alive()
            self._news.unpark_all()

    async def heartbeat_forever(self, every: float, silence_timeout: float) -> None:
        while True:
            await trio.sleep(every)
            silent = trio.current_time() - self.last_heard
            if silent > silence_timeout:
                self.broken = True
                raise OlvError(says("status.olv_silent", seconds=f"{silent:.0f}"))
            await self.send(HEARTBEAT)

    def poke(self) -> None:
        """Wake whoever waits for news (e.g. a stop was requested)."""
        self._news.unpark_all()

    async def wait(self, deadline: float) -> None:
        """Until the reader brings news, or `deadline`. The caller checks the
        state just before, with no checkpoint in between, so no news is missed."""
        with trio.move_on_at(deadline):
            await self._news.park()


def close_reason(exc: trio_websocket.ConnectionClosed) -> str:
    reason = exc.reason
    if reason is None:
        return "no close frame"
    return f"code {reason.code}" + (f": {reason.reason}" if reason.reason else "")


def connect_failure(url: str, exc: BaseException, *, timeout: float) -> Said:
    """What a failed connect means to a streamer, in one line that names the
    URL. Nothing listening, or no answer, is nearly always OLV not running
    (or running on another port): say so, and keep the cause in brackets.
    A server that answered but refused the WebSocket is running, so the
    question then is the path."""
    if isinstance(exc, trio_websocket.ConnectionRejected):
        status = exc.status_code
        return says("status.olv_wrong_path", url=url, status=status)
    cause: Said | str
    if refused(exc):
        cause = says("status.olv_refused")
    elif isinstance(exc, trio_websocket.ConnectionTimeout):
        cause = says("status.olv_no_answer", seconds=f"{timeout:g}")
    else:
        # trio-websocket's HandshakeError says nothing itself; its cause does.
        cause = str(exc) or str(exc.__cause__ or "") or type(exc).__name__
    return says("status.olv_not_running", url=url, cause=cause)


def refused(exc: BaseException) -> bool:
    """Whether a failed connect was refused outright: nothing listens there."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return True
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
    return False
