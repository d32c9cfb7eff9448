"""The pending buffer between the router and the session.

The router pushes, the session pulls when it is idle and gets the message
that scores best *at that moment*. Scores move with time (age, an author
just answered), so they are ranked at pull time. That stays cheap because a
score splits in two: a static part computed once at push (kind, money,
roles, mention, question, newcomer) and a dynamic part that is plain
arithmetic (minus age, minus a recent answer). The buffer is small (tens of
messages): a scan of cached numbers beats keeping a heap honest.

It is bounded and *never blocks the producer*: when it is full, the
lowest-scored message is evicted (dropped:overflow), because a slow VTuber
must never slow a monitor into losing its platform connection. Paid
messages have a room of their own (`paid_capacity`, on top of `capacity`):
a busy chat never pushes out a donation, and a burst of donations never
pushes out each other until that room too is full. Messages
older than `max_age` expire (dropped:expired); paid ones get their own,
longer `paid_max_age`, since a Super Chat read late is still better than
one never read.

It is created once by the app and outlives router and session incarnations,
so a restart of either loses nothing that was waiting.

Two ways to end: `finish_input()` when no more chat will come (the session
still gets everything pending, then EndOfChannel), and `close(reason)` when
the service stops (whatever is pending is dropped with that reason).
Each method changes the buffer first and records fates after, so even a
listener that misbehaves cannot leave an event both counted and pending.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from ..chat import ChatEvent, Kind
from ..ledger import Ledger
from .priority import Score


class Ranker(Protocol):
    def static(self, event: ChatEvent) -> float:
        """The part of the score that does not change while it waits."""

    def current(self, event: ChatEvent, static: float, now: float) -> float:
        """The whole score now, from the cached static part."""

    def current_many(self, items: list[tuple[ChatEvent, float]], now: float) -> list[float]:
        """`current` for many (event, static) pairs at once: the hot path."""

    def breakdown(self, event: ChatEvent, now: float) -> Score:
        """The score now with its parts, for the log (once per dispatch)."""


class ArrivalOrder:
    """The ranker without ranking: the oldest message first (FIFO)."""

    def static(self, event: ChatEvent) -> float:
        return -event.received_at

    def current(self, event: ChatEvent, static: float, now: float) -> float:
        return static

    def current_many(self, items: list[tuple[ChatEvent, float]], now: float) -> list[float]:
        return [static for _, static in items]

    def breakdown(self, event: ChatEvent, now: float) -> Score:
        return Score(total=-event.received_at, parts=(("arrival", -event.received_at),))


@attrs.frozen
class Picked:
    event: ChatEvent
    score: Score


@attrs.define(eq=False)
class _Entry:
    event: ChatEvent
    seq: int  # arrival order, the tie-breaker
    static: float  # the cached static part of its score
    paid: bool  # which room it waits in


class PendingBuffer:
    def __init__(
        self,
        capacity: int,
        ledger: Ledger,
        *,
        paid_capacity: int = 0,
        ranker: Ranker | None = None,
        max_age: float = math.inf,
        paid_max_age: float = math.inf,
        on_dispatch: Callable[[ChatEvent, float], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.paid_capacity = paid_capacity
        self._ledger = ledger
        self._ranker: Ranker = ranker if ranker is not None else ArrivalOrder()
        self._max_age = max_age
        self._paid_max_age = paid_max_age
        self._on_dispatch = on_dispatch  # (event, now): e.g. the router noting who was answered
        self._entries: list[_Entry] = []
        self._seq = 0
        self._changed = trio.lowlevel.ParkingLot()
        self._input_finished = False
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def input_finished(self) -> bool:
        return self._input_finished or self._closed

    def pending(self) -> list[ChatEvent]:
        return [entry.event for entry in self._entries]

    def push(self, event: ChatEvent, now: float) -> None:
        """Add an event the ledger has received (it is already pending)."""
        if self.input_finished:
            self._ledger.drop(event, "shutdown")
            return
        self._seq += 1
        self._entries.append(_Entry(event, self._seq, self._ranker.static(event), event.is_paid))
        expired = self._take_expired(now)
        evicted = self._over_capacity(now)
        if evicted is not None:
            self._entries.remove(evicted)
        self._changed.unpark_all()
        self._record_drops(expired, "expired")
        if evicted is not None:
            self._ledger.drop(evicted.event, "overflow")

    def take(self, now: float, *, batch: int = 1) -> list[Picked]:
        """The next turn, counted as dispatched: the best message, or in digest
        mode (batch > 1) the best ordinary chats together. A paid message, or
        anything but plain chat, always goes alone. Empty if nothing pends."""
        expired = self._take_expired(now)
        picked: list[Picked] = []
        if self._entries:
            ranked = self._ranked(self._entries, now)
            best = ranked[0]
            group = [best]
            if batch > 1 and _is_plain(best.event):
                group += [e for e in ranked[1:] if _is_plain(e.event)][: batch - 1]
            for entry in group:
                self._entries.remove(entry)
                picked.append(Picked(entry.event, self._ranker.breakdown(entry.event, now)))
            self._changed.unpark_all()
        self._record_drops(expired, "expired")
        for p in picked:
            if self._on_dispatch is not None:
                self._on_dispatch(p.event, now)
            self._ledger.dispatch(p.event, p.score.to_dict())
        return picked

    async def pull(self, *, batch: int = 1) -> list[Picked]:
        """Wait for the next turn. Raises trio.EndOfChannel once the input is
        finished (or the buffer closed) and nothing is pending."""
        while True:
            picked = self.take(trio.current_time(), batch=batch)
            if picked:
                return picked
            if self.input_finished:
                raise trio.EndOfChannel
            await self._changed.park()

    def expire(self, now: float) -> int:
        """Drop what is too old now; the router calls it between events too."""
        expired = self._take_expired(now)
        if expired:
            self._changed.unpark_all()
        self._record_drops(expired, "expired")
        return len(expired)

    def purge(self, matches: Callable[[ChatEvent], bool], reason: str = "purged") -> int:
        """Drop every pending event that `matches`; returns how many."""
        purged: list[_Entry] = []
        kept: list[_Entry] = []
        for entry in self._entries:
            (purged if matches(entry.event) else kept).append(entry)
        if purged:
            self._entries = kept
            self._changed.unpark_all()
        self._record_drops(purged, reason)
        return len(purged)

    def finish_input(self) -> None:
        """No more input: the session gets what is pending, then EndOfChannel."""
        self._input_finished = True
        self._changed.unpark_all()

    def close(self, reason: str = "shutdown") -> None:
        """Stop: whatever is still pending is dropped with `reason`."""
        self._closed = True
        dropped, self._entries = self._entries, []
        self._changed.unpark_all()
        self._record_drops(dropped, reason)

    def _over_capacity(self, now: float) -> _Entry | None:
        """The entry to evict, if a room is over its bound."""
        unpaid = [e for e in self._entries if not e.paid]
        paid = len(self._entries) - len(unpaid)
        if paid > self.paid_capacity and len(unpaid) + paid - self.paid_capacity > self.capacity:
            # Both rooms are full: paid ones beyond their room compete with chat.
            return self._lowest(self._entries, now)
        if len(unpaid) > self.capacity:
            return self._lowest(unpaid, now)
        return None

    def _lowest(self, entries: list[_Entry], now: float) -> _Entry:
        """The one to evict: the lowest score, and among equals the older."""
        scores = self._ranker.current_many([(e.event, e.static) for e in entries], now)
        return min(zip(scores, [e.seq for e in entries], entries, strict=True))[2]

    def _ranked(self, entries: list[_Entry], now: float) -> list[_Entry]:
        """Best first. Among equal scores the newer message ranks higher (it
        wins a pull, the older one is evicted first): of two equal chat
        lines, the newer is the one the conversation is still about."""
        scores = self._ranker.current_many([(e.event, e.static) for e in entries], now)
        order = sorted(range(len(entries)), key=lambda i: (scores[i], entries[i].seq), reverse=True)
        return [entries[i] for i in order]

    def _take_expired(self, now: float) -> list[_Entry]:
        if self._max_age == math.inf and self._paid_max_age == math.inf:
            return []
        # Inline (no call per entry): this runs on every push of a flood.
        chat_limit, paid_limit = self._max_age, self._paid_max_age
        expired = [e for e in self._entries if now - e.event.received_at > (paid_limit if e.paid else chat_limit)]
        if expired:
            gone = set(map(id, expired))
            self._entries = [e for e in self._entries if id(e) not in gone]
        return expired

    def _record_drops(self, entries: list[_Entry], reason: str) -> None:
        for entry in entries:
            self._ledger.drop(entry.event, reason)


def _is_plain(event: ChatEvent) -> bool:
    return event.kind is Kind.CHAT and not event.is_paid
