"""The pending buffer between the router and the session.

The router pushes, the session pulls when it is idle. The buffer is bounded
and *never blocks the producer*: when it is full the oldest message is
evicted and counted (dropped:overflow), because a slow VTuber must never slow
a monitor into losing its platform connection. (For now the order is FIFO;
ranking replaces it, with the same seams.)

It is created once by the app and outlives router and session incarnations,
so a restart of either loses nothing that was waiting.

Two ways to end: `finish_input()` when no more chat will come (the session
still gets everything pending, then EndOfChannel), and `close(reason)` when
the service stops (whatever is pending is dropped with that reason).
Each method changes the buffer first and records fates after, so even a
listener that misbehaves cannot leave an event both counted and pending.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import trio

from ..chat import ChatEvent
from ..ledger import Ledger


class PendingBuffer:
    def __init__(self, capacity: int, ledger: Ledger) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ledger = ledger
        self._items: deque[ChatEvent] = deque()
        self._changed = trio.lowlevel.ParkingLot()
        self._input_finished = False
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def input_finished(self) -> bool:
        return self._input_finished or self._closed

    def push(self, event: ChatEvent) -> None:
        """Add an event the ledger has received (it is already pending)."""
        if self.input_finished:
            self._ledger.drop(event, "shutdown")
            return
        self._items.append(event)
        evicted = self._items.popleft() if len(self._items) > self.capacity else None
        self._changed.unpark_all()
        if evicted is not None:
            self._ledger.drop(evicted, "overflow")

    def take(self) -> ChatEvent | None:
        """The next event for the session, counted as dispatched; None if empty."""
        if not self._items:
            return None
        event = self._items.popleft()
        self._changed.unpark_all()
        self._ledger.dispatch(event)
        return event

    async def pull(self) -> ChatEvent:
        """Wait for the next event. Raises trio.EndOfChannel once the input
        is finished (or the buffer closed) and nothing is pending."""
        while True:
            event = self.take()
            if event is not None:
                return event
            if self.input_finished:
                raise trio.EndOfChannel
            await self._changed.park()

    def purge(self, matches: Callable[[ChatEvent], bool], reason: str = "purged") -> int:
        """Drop every pending event that `matches`; returns how many."""
        purged = [event for event in self._items if matches(event)]
        if purged:
            self._items = deque(event for event in self._items if not matches(event))
            self._changed.unpark_all()
        for event in purged:
            self._ledger.drop(event, reason)
        return len(purged)

    def finish_input(self) -> None:
        """No more input: the session gets what is pending, then EndOfChannel."""
        self._input_finished = True
        self._changed.unpark_all()

    def close(self, reason: str = "shutdown") -> None:
        """Stop: whatever is still pending is dropped with `reason`."""
        self._closed = True
        dropped, self._items = self._items, deque()
        self._changed.unpark_all()
        for event in dropped:
            self._ledger.drop(event, reason)
