"""Events on their way from a socket to the router, and which error speaks
for a connection: what the socket monitors (Chzzk, Twitch) share.

A socket's reader must never wait for the router: while it waits, the
socket's pings and keepalives go unread and the platform takes the socket
for dead. So the reader puts each event in a queue and goes back to the
socket at once; a separate task hands the queue to the router. The queue
outlives connections and restarts (it belongs to the monitor), and is
bounded: a router stuck for a long while costs the oldest events, counted
in the log, never the socket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import trio

from supervision import ChildContext

from ...chat import ChatEvent
from ...groups import leaves

Emit = Callable[..., None]

MAX_QUEUED = 10_000  # events waiting for a stuck router; the oldest go first beyond this


class Forwarder:
    def __init__(self, platform: str, emit: Emit, on_sent: Callable[[], None], *, most: int = MAX_QUEUED) -> None:
        self._platform = platform
        self._emit = emit
        self._on_sent = on_sent
        self._most = most
        self._queue: deque[ChatEvent] = deque()
        self._queued = trio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, event: ChatEvent) -> None:
        """Queue an event for the router; never waits."""
        if len(self._queue) >= self._most:
            # The router has been stuck for a long while: keep the newest.
            dropped = self._queue.popleft()
            self._emit(f"{self._platform}.queue_full", "warning", dropped=dropped.id, queued=len(self._queue))
        self._queue.append(event)
        self._queued.set()

    async def run(self, outbox: trio.MemorySendChannel[ChatEvent]) -> None:
        """Hand queued events to the router, in order, for as long as it runs.
        An event leaves the queue only once the router has taken it."""
        queue = self._queue
        while True:
            while queue:
                await outbox.send(queue[0])
                queue.popleft()
                self._on_sent()
            await self._queued.wait()
            self._queued = trio.Event()


async def run_socket_monitor(
    ctx: ChildContext,
    outbox: trio.MemorySendChannel[ChatEvent],
    forwarder: Forwarder,
    connections: Callable[[ChildContext], Awaitable[None]],
    precedence: tuple[type[Exception], ...],
) -> None:
    """One incarnation of a socket monitor: ready at once, the forwarder and
    the monitor's `connections` (its retry loop) side by side until a stop.
    A stop request cancels whatever is waited on (the socket, a retry's sleep,
    a login); the supervisor tells a fatal error from an outage by its type,
    so it gets the error that speaks for the connection, not the group."""
    ctx.started()
    outbox = ctx.hold(outbox.clone())
    with ctx.cancel_on_stop():
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(forwarder.run, outbox)
                await connections(ctx)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise first_failure(group, precedence) from None


def first_failure(group: BaseExceptionGroup[BaseException], precedence: tuple[type[Exception], ...]) -> BaseException:
    """The one error that speaks for a connection whose tasks failed together
    (the reader's, the pinger's...): the first kind in `precedence` (what
    retrying cannot fix first, then what says why the socket ended), else the
    first failure. The retry rule and the supervisor tell an outage from a
    fatal error by its type, so they must see the error, not the group."""
    every = leaves(group)
    failures = [exc for exc in every if not isinstance(exc, trio.Cancelled)] or every
    if any(not isinstance(exc, Exception) for exc in failures):
        return group  # KeyboardInterrupt and the like: not ours to pick from
    for kind in precedence:
        for exc in failures:
            if isinstance(exc, kind):
                return exc
    return failures[0]
