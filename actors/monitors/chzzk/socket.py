"""One Chzzk session socket: Engine.IO v3 over a WebSocket, read and pinged.

The monitor (`monitor.py`) opens the socket and subscribes; this side reads
every frame and keeps the socket honest (reference §2.5–2.6):

- EIO3 heartbeats go the other way round from EIO4: the client sends `2`,
  the server answers `3`. A pong must come within the server's
  `pingTimeout`, or the socket is dead even if TCP never said so;
- SYSTEM `connected` carries the session key, `subscribed` confirms a
  subscription (on the socket, not in the HTTP answer), `unsubscribed` and
  `revoked` end one;
- CHAT, DONATION and SUBSCRIPTION become ChatEvents; whatever cannot be read
  is logged and skipped, never fatal.

The reader never waits on the router: events go to `enqueue`, which only
appends to a queue. A reader blocked on a full channel would leave pongs
unread, and a healthy socket would be declared dead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import trio
import trio_websocket

from ...chat import ChatEvent
from .api import PayloadError, Skip, parse_system, to_chat_event
from .engineio import EngineType, FramingError, OpenInfo, decode_packet, decode_socket, parse_event, parse_open

if TYPE_CHECKING:
    from .monitor import ChzzkCursor

Emit = Callable[..., None]


class SessionLost(ConnectionError):
    """The socket ended (closed, dropped, silent, or a subscription revoked)."""


class ChzzkSocket:
    """The state of one socket, shared by its reader, its pinger and the monitor."""

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        info: OpenInfo,
        *,
        cursor: ChzzkCursor,
        wanted: tuple[str, ...],
        enqueue: Callable[[ChatEvent], None],
        emit: Emit,
        wall: Callable[[], datetime],
    ) -> None:
        self.ws = ws
        self.info = info
        self.cursor = cursor
        self.wanted = wanted
        self.enqueue = enqueue
        self.emit = emit
        self.wall = wall
        self.session_key: str | None = None
        self.connected = trio.Event()
        self.confirmed: set[str] = set()
        self.confirmations = trio.Event()  # replaced after each confirmation
        self.pong = trio.Event()
        self.activity = trio.Event()  # set when a message arrived

    async def ping(self) -> None:
        """Ping every pingInterval; a pong must come within pingTimeout."""
        interval = min(max(self.info.ping_interval, 1.0), 3600.0)  # a server's odd numbers stay sane
        timeout = min(max(self.info.ping_timeout, 1.0), 300.0)
        while True:
            await trio.sleep(interval)
            self.pong = trio.Event()
            try:
                await self.ws.send_message("2")
            except trio_websocket.ConnectionClosed as exc:
                raise SessionLost(f"the socket closed ({close_text(exc)})") from None
            with trio.move_on_after(timeout):
                await self.pong.wait()
            if not self.pong.is_set():
                raise SessionLost(f"no pong within {timeout:g}s: the socket is dead")

    async def read(self) -> None:
        """Every frame until the socket ends, which raises SessionLost."""
        while True:
            text = await receive(self.ws)
            try:
                packet = decode_packet(text)
            except FramingError as exc:
                self._bad("frame", str(exc), text)
                continue
            if packet.type is EngineType.PONG:
                self.pong.set()
            elif packet.type is EngineType.CLOSE:
                raise SessionLost("the server closed the session (Engine.IO close)")
            elif packet.type is EngineType.MESSAGE:
                self._message(packet.data)
                self.activity.set()
            # OPEN again, NOOP, UPGRADE: nothing to do on a direct WebSocket

    async def goodbye(self) -> None:
        """Socket.IO disconnect, then Engine.IO close, as chzzkpy does: the
        server frees the session at once instead of holding it (3 per user)."""
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            for frame in ("41", "1"):
                try:
                    await self.ws.send_message(frame)
                except trio_websocket.ConnectionClosed:
                    return

    # ---- one frame ------------------------------------------------------------------------------

    def _message(self, data: str) -> None:
        try:
            socket_packet = decode_socket(data)
        except FramingError as exc:
            self._bad("socket packet", str(exc), data)
            return
        kind = socket_packet.type.name
        if kind == "DISCONNECT":
            raise SessionLost("the server disconnected the namespace")
        if kind == "ERROR":
            raise SessionLost(f"the server refused the namespace: {str(socket_packet.data)[:100]}")
        if kind != "EVENT":
            return  # CONNECT ("40") and the rest carry nothing for us
        try:
            name, args = parse_event(socket_packet)
        except FramingError as exc:
            self._bad("event", str(exc), data)
            return
        argument = args[0] if args else None
        if name == "SYSTEM":
            self._system(argument, data)
            return
        cursor = self.cursor
        result = to_chat_event(name, argument, received_at=trio.current_time(), received_wall=self.wall())
        if isinstance(result, Skip):
            cursor.skipped += 1
            if result.reason == "unknown event":
                if name not in cursor.unknown_logged:
                    cursor.unknown_logged.add(name)
                    self.emit("chzzk.unknown_event", "warning", name=name)
            else:
                self._bad(name, result.reason, data)
            return
        if cursor.seen.get(result.id) is not None:
            cursor.duplicates += 1  # delivered again after a reconnect
            return
        cursor.seen.put(result.id, True)
        self.enqueue(result)

    def _system(self, argument: object, raw: str) -> None:
        try:
            message = parse_system(argument)
        except PayloadError as exc:
            self._bad("SYSTEM", str(exc), raw)
            return
        if message.type == "connected":
            if message.session_key and self.session_key is None:
                self.session_key = message.session_key
                self.connected.set()
        elif message.type == "subscribed":
            if message.event_type:
                self.confirmed.add(message.event_type)
                self.confirmations.set()
                self.confirmations = trio.Event()
        elif message.type in ("unsubscribed", "revoked"):
            event_type = message.event_type or "?"
            self.confirmed.discard(event_type)
            self.cursor.subscribed = tuple(sorted(self.confirmed))
            self.emit("chzzk.subscription_ended", "warning", how=message.type, event_type=event_type)
            if event_type in self.wanted or event_type == "?":
                # We never unsubscribe, so either way the server ended one we
                # want (consent withdrawn, a scope changed): a new session
                # subscribes again, and says whether we may still read it.
                raise SessionLost(f"Chzzk {message.type} the {event_type} subscription")
        elif f"SYSTEM:{message.type}" not in self.cursor.unknown_logged:
            self.cursor.unknown_logged.add(f"SYSTEM:{message.type}")
            self.emit("chzzk.unknown_system", "warning", type=message.type)

    def _bad(self, what: str, problem: str, raw: str) -> None:
        self.cursor.skipped += 1
        self.emit("chzzk.bad_payload", "warning", what=what, problem=problem, payload=raw[:200])


async def read_open(ws: trio_websocket.WebSocketConnection) -> OpenInfo:
    """The Engine.IO OPEN packet, the first frame of a direct WebSocket."""
    while True:
        packet = decode_packet(await receive(ws))
        if packet.type is EngineType.OPEN:
            return parse_open(packet.data)
        if packet.type is EngineType.CLOSE:
            raise SessionLost("the server closed the session before it opened")


async def receive(ws: trio_websocket.WebSocketConnection) -> str:
    try:
        message = await ws.get_message()
    except trio_websocket.ConnectionClosed as exc:
        raise SessionLost(f"the socket closed ({close_text(exc)})") from None
    return message if isinstance(message, str) else message.decode("utf-8", "replace")


def close_text(exc: trio_websocket.ConnectionClosed) -> str:
    reason = exc.reason
    if reason is None:
        return "no reason"
    return f"code {reason.code}" + (f": {reason.reason}" if reason.reason else "")
