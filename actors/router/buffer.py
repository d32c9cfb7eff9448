"""The pending buffer between the router and the session.

The router pushes, the session pulls when it is idle. The buffer is bounded
and *never blocks the producer*: when it is full the oldest message is
evicted and counted (dropped:overflow), because a slow VTuber must never slow
a monitor into losing its platform connection. (For now the order is FIFO;
ranking replaces it, with the same seams.)

It is created once by the app and outlives router and session incarnations,
so a restart of either loses nothing that was waiting.
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
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, event: ChatEvent) -> None:
        """Add a newly received event (counted as accepted, then pending)."""
        if self._closed:
            self._ledger.accept(event)
            self._ledger.drop(event, "shutdown")
            return
        self._ledger.accept(event)
        self._items.append(event)
        if len(self._items) > self.capacity:
            self._ledger.drop(self._items.popleft(), "overflow")
        self._changed.unpark_all()

    def take(self) -> ChatEvent | None:
        """The next event for the session, counted as dispatched; None if empty."""
        if not self._items:
            return None
        event = self._items.popleft()
        self._ledger.dispatch(event)
        self._changed.unpark_all()
        return event

    async def pull(self) -> ChatEvent:
        """Wait for the next event. Raises trio.EndOfChannel once closed and empty."""
        while True:
            event = self.take()
            if event is not None:
                return event
            if self._closed:
                raise trio.EndOfChannel
            await self._changed.park()

    def purge(self, matches: Callable[[ChatEvent], bool], reason: str = "purged") -> int:
        """Drop every pending event that `matches`; returns how many."""
        keep: deque[ChatEvent] = deque()
        purged = 0
        for event in self._items:
            if matches(event):
                self._ledger.drop(event, reason)
                purged += 1
            else:
                keep.append(event)
        self._items = keep
        if purged:
            self._changed.unpark_all()
        return purged

    async def wait_empty(self) -> None:
        while self._items:
            await self._changed.park()

    def close(self, reason: str = "shutdown") -> None:
        """No more input: whatever is still pending is dropped with `reason`."""
        self._closed = True
        while self._items:
            self._ledger.drop(self._items.popleft(), reason)
        self._changed.unpark_all()
