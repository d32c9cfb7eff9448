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

A paid message whose answer was cut off (OLV crashed mid-answer) may be
`put_back` once: it is already dispatched, so it waits apart from the
rooms, first in line, holding no place in the ledger's pending column, and
nothing it does later (a second start, a purge, the close) gives it a
second fate.

A crowd (several viewers saying the same thing, see the router) waits as
one entry: the first to say it leads, the others are `merge`d into it as
askers. The entry holds one place in its room, its score counts its
distinct askers, and whatever happens to it happens to all of them: one
turn dispatches every asker, an eviction or an expiry drops every asker.
Only a purge picks askers one by one (a moderator deleted one message):
if it takes the leader, the next asker leads.

Two ways to end: `finish_input()` when no more chat will come (the session
still gets everything pending, then EndOfChannel), and `close(reason)` when
the service stops (whatever is pending is dropped with that reason).
Each method changes the buffer first and records fates after, so even a
listener that misbehaves cannot leave an event both counted and pending.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Protocol

import attrs
import trio

from ..chat import ChatEvent, Kind, one_per_viewer
from ..ledger import Ledger
from .priority import Score


class Waiting(Protocol):
    """A message waiting with its cached static score (a buffer entry)."""

    @property
    def event(self) -> ChatEvent: ...

    @property
    def static(self) -> float: ...

    # Its leader's received_at, and when its author was last answered
    # (-inf if never), copied: see _Entry.
    @property
    def received_at(self) -> float: ...

    @property
    def answered_at(self) -> float: ...


class Ranker(Protocol):
    def static(self, event: ChatEvent, askers: int = 1) -> float:
        """The part of the score that does not change while it waits
        (`askers`: how many distinct viewers said it)."""

    def current(self, event: ChatEvent, static: float, now: float) -> float:
        """The whole score now, from the cached static part."""

    def current_many(self, waiting: Sequence[Waiting], now: float) -> list[float]:
        """`current` for many at once: the hot path (a full room ranks all
        its entries on every push)."""

    def last_answered(self, author_id: str) -> float:
        """When this author was last answered (-inf if never), as ranking
        sees it. It changes only when a turn is confirmed (`on_dispatch`)."""

    def eviction_keys(self, waiting: Sequence[Waiting], now: float) -> tuple[list[float], float]:
        """(keys, until): numbers that order the waiting messages as their
        scores do (lower is lower), at every moment from `now` until
        `until`, while nothing about them changes: the scores less what
        time takes from all of them alike. `until` <= now if there are no
        such numbers now."""

    def eviction_key(self, waiting: Waiting, now: float) -> tuple[float, float]:
        """`eviction_keys` of one (a push): (key, until)."""

    def breakdown(self, event: ChatEvent, now: float, askers: int = 1) -> Score:
        """The score now with its parts, for the log (once per dispatch)."""


class ArrivalOrder:
    """The ranker without ranking: the oldest message first (FIFO)."""

    def static(self, event: ChatEvent, askers: int = 1) -> float:
        return -event.received_at

    def current(self, event: ChatEvent, static: float, now: float) -> float:
        return static

    def current_many(self, waiting: Sequence[Waiting], now: float) -> list[float]:
        return [w.static for w in waiting]

    def last_answered(self, author_id: str) -> float:
        return -math.inf

    def eviction_keys(self, waiting: Sequence[Waiting], now: float) -> tuple[list[float], float]:
        return [w.static for w in waiting], math.inf

    def eviction_key(self, waiting: Waiting, now: float) -> tuple[float, float]:
        return waiting.static, math.inf

    def breakdown(self, event: ChatEvent, now: float, askers: int = 1) -> Score:
        return Score(total=-event.received_at, parts=(("arrival", -event.received_at),))


@attrs.frozen
class Picked:
    event: ChatEvent
    score: Score
    askers: tuple[ChatEvent, ...] = ()  # the others who said the same (a crowd), in arrival order

    @property
    def events(self) -> tuple[ChatEvent, ...]:
        """Every message this turn answers: the leader first."""
        return (self.event, *self.askers)


def turn_events(picked: list[Picked]) -> list[ChatEvent]:
    """Every message a turn answers, each crowd's askers after its leader."""
    return [event for p in picked for event in p.events]


class _Entry:
    """One place in a room: a message (or a crowd) and its cached score.

    A plain slotted class: one is made per push. Ranking a full room reads
    every entry on each push, so what ranking needs of its leader (when it
    was received, when its author was last answered) is copied here:
    reading it through the event and the ranker's memory of answers cost a
    lookup per entry, and objects that are likely cache misses on a long
    stream. `answered_at` is kept true by the buffer: it changes only when
    a turn is confirmed, and then the buffer asks the ranker again."""

    __slots__ = ("also", "answered_at", "author_id", "event", "paid", "pinned", "received_at", "redo", "seq", "static")

    def __init__(
        self, event: ChatEvent, seq: int, static: float, *, paid: bool, answered_at: float, redo: bool = False
    ) -> None:
        self.seq = seq  # arrival order, the tie-breaker
        self.static = static  # the cached static part of its score
        self.paid = paid  # which room it waits in
        self.redo = redo  # put back after its dispatch: it has its fate already
        self.pinned = False  # the streamer asked for it next (see PendingBuffer.pin)
        # Merged askers (a crowd), pending with it. A tuple, replaced when it
        # changes: most entries never have one, and share the empty tuple.
        self.also: tuple[ChatEvent, ...] = ()
        self.lead(event, answered_at)

    def lead(self, event: ChatEvent, answered_at: float) -> None:
        """Make `event` the one this entry is ranked and answered by."""
        self.event = event
        self.received_at = event.received_at
        self.author_id = event.author.id
        self.answered_at = answered_at

    @property
    def events(self) -> list[ChatEvent]:
        return [self.event, *self.also]

    @property
    def askers(self) -> int:
        """Distinct viewers among its messages."""
        if not self.also:
            return 1
        return len(one_per_viewer(self.events))


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
        settle: float = 0.0,
        on_dispatch: Callable[[list[ChatEvent], float, bool], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.paid_capacity = paid_capacity
        self._ledger = ledger
        self._ranker: Ranker = ranker if ranker is not None else ArrivalOrder()
        self._max_age = max_age
        self._paid_max_age = paid_max_age
        # Plain chat is not handed out before it is `settle` seconds old: a
        # raid shows itself within a second or two (the flood filter purges
        # it), and until then its first lines look like a crowd. Paid
        # messages never wait for this.
        self._settle = settle
        # (the events of one answered entry, now, whether it went alone): the
        # router notes who was answered, and what, unless a digest left the
        # AI to pick one of several
        self._on_dispatch = on_dispatch
        # The two rooms, each in arrival order. Kept apart so that counting
        # a room, and finding the chat to evict, never walks the other one:
        # on a long stream the paid room sits full while chat floods by.
        self._chat: list[_Entry] = []
        self._paid: list[_Entry] = []
        # The chat room in eviction order, a heap of (key, seq, entry), valid
        # until _order_until (see _lowest_chat); None when it must be made
        # anew. Any change to the room but a push or an eviction drops it.
        self._order: list[tuple[float, int, _Entry]] | None = None
        self._order_until = -math.inf
        # Lower bounds of each room's oldest received_at: while nothing is
        # old enough even measured from these, expiry has nothing to scan.
        self._oldest_chat = math.inf
        self._oldest_paid = math.inf
        # Pinned by the streamer ("answer this one next"): out of the rooms,
        # in the order pinned, still pending; never evicted or expired.
        self._next: list[_Entry] = []
        # Checked out, not yet confirmed or given back (see checkout).
        self._in_flight: dict[int, _Entry] = {}
        # Dispatched, cut off, put back to be answered again: first in line.
        self._redo: list[_Entry] = []
        self._put_back: set[tuple[str, str]] = set()  # (platform, id): once each
        self._seq = 0
        self._changed = trio.lowlevel.ParkingLot()
        self._input_finished = False
        self._closed = False
        self._paused = False

    def __len__(self) -> int:
        """Entries waiting, in the rooms or pinned (a crowd is one entry)."""
        return len(self._chat) + len(self._paid) + len(self._next)

    @property
    def input_finished(self) -> bool:
        return self._input_finished or self._closed

    def pending(self) -> list[ChatEvent]:
        """What is waiting in the rooms, in arrival order (a crowd's askers after its leader)."""
        return [event for entry in sorted(self._all(), key=lambda e: e.seq) for event in entry.events]

    def unfated(self) -> list[tuple[ChatEvent, bool]]:
        """Everything the ledger counts as pending, as (event, handed_over):
        what waits in the rooms, and what is checked out to the session but
        has not started yet (handed_over). Exactly `ledger.pending` of them
        once the router is between events, so a status that lists these
        agrees with its own count (the dashboard once showed "pending 1"
        beside "nothing waiting": a message sent to OLV, not yet started)."""
        waiting = [(ev, False) for e in sorted(self._all(), key=lambda e: e.seq) for ev in e.events]
        handed = sorted((e for e in self._in_flight.values() if not e.redo), key=lambda e: e.seq)
        return [(ev, True) for e in handed for ev in e.events] + waiting

    # ---- the streamer's hand -------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Hand nothing out until resume(): the monitors keep reading, and
        what waits ages, is evicted and expires as usual. A turn in progress
        finishes."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake()

    def pin(self, platform: str, message_id: str) -> bool:
        """The streamer's "answer this one next": the waiting entry holding
        that message (a crowd with all its askers) leaves its room and goes
        first, after what is pinned already. It keeps its place until its
        turn: no eviction, no expiry. False if no such message waits."""
        entry = self._find(platform, message_id, (*self._chat, *self._paid))
        if entry is None:
            return False
        self._remove(entry)
        entry.pinned = True
        self._next.append(entry)
        self._wake()
        return True

    def pinned(self) -> list[ChatEvent]:
        """The leaders of what is pinned, in the order they will be answered."""
        return [e.event for e in self._next]

    def drop(self, platform: str, message_id: str, reason: str = "streamer") -> int:
        """The streamer drops a waiting message: its entry, every asker of
        a crowd with it, gets `dropped:<reason>`. Returns how many."""
        entry = self._find(platform, message_id, self._all())
        if entry is None:
            return 0
        doomed = {id(e) for e in entry.events}
        return self.purge(lambda e: id(e) in doomed, reason=reason)

    @staticmethod
    def _find(platform: str, message_id: str, entries: Sequence[_Entry]) -> _Entry | None:
        for entry in entries:
            if any(e.id == message_id and e.platform.value == platform for e in entry.events):
                return entry
        return None

    def answering_again(self) -> list[ChatEvent]:
        """Paid messages put back after a cut-off answer: already dispatched
        (not pending), waiting to be answered once more, first in line."""
        return [e.event for e in self._redo]

    def push(self, event: ChatEvent, now: float) -> None:
        """Add an event the ledger has received (it is already pending)."""
        if self._input_finished or self._closed:
            self._ledger.drop(event, "shutdown")
            return
        # Scored before anything changes: if scoring raises, the event is
        # not here and the caller gives it its fate (dropped:error).
        ranker = self._ranker
        entry = _Entry(
            event,
            self._seq + 1,
            ranker.static(event),
            paid=event.is_paid,
            answered_at=ranker.last_answered(event.author.id),
        )
        self._seq += 1
        if entry.paid:
            self._paid.append(entry)
            self._oldest_paid = min(self._oldest_paid, event.received_at)
        else:
            self._chat.append(entry)
            self._oldest_chat = min(self._oldest_chat, event.received_at)
            if self._order is not None:
                self._add_to_order(entry, now)
        # _take_expired's own first test, inline: on a busy stream nothing
        # is due on most pushes
        due = now - self._oldest_chat > self._max_age or now - self._oldest_paid > self._paid_max_age
        expired = self._take_expired(now) if due else []
        evicted = None
        try:
            evicted = self._over_capacity(now)
            if evicted is not None:
                self._evict(evicted)
        finally:  # what expired has left the rooms: its fate is recorded whatever happens
            if self._changed:  # _wake, inline: once the room is full, every push evicts
                self._changed.unpark_all()
            if expired:
                self._record_drops(expired, "expired")
        if evicted is not None:
            for dropped in evicted.events:
                self._ledger.drop(dropped, "overflow")

    def merge(self, leader: ChatEvent, event: ChatEvent) -> bool:
        """Add `event` (received, pending in the ledger) to the entry that
        `leader` leads, as one more asker; its score is ranked anew. False,
        and nothing changes, if that entry is not waiting in a room (it was
        checked out, or has its fate): the caller then pushes `event`."""
        entry = next((e for e in self._all() if e.event is leader), None)
        if entry is None or self.input_finished:
            return False
        # Scored before anything changes, like push.
        static = self._ranker.static(leader, len(one_per_viewer((*entry.events, event))))
        entry.also = (*entry.also, event)
        entry.static = static
        self._order = None
        self._wake()
        return True

    def holds(self, event: ChatEvent) -> bool:
        """Whether this very event waits in a room or is checked out."""
        return any(ev is event for e in (*self._all(), *self._in_flight.values()) for ev in e.events)

    def take(self, now: float, *, batch: int = 1) -> list[Picked]:
        """The next turn, counted as dispatched: the best message, or in digest
        mode (batch > 1) the best ordinary chats together. A paid message, or
        anything but plain chat, always goes alone. Empty if nothing pends."""
        picked = self.checkout(now, batch=batch)
        self.confirm(picked, now)
        return picked

    async def pull(self, *, batch: int = 1) -> list[Picked]:
        """Wait for the next turn, counted as dispatched. Raises
        trio.EndOfChannel once the input is finished (or the buffer closed)
        and nothing is pending."""
        picked = await self.pull_checkout(batch=batch)
        self.confirm(picked, trio.current_time())
        return picked

    # A session that can lose a message before its turn starts (the OLV
    # client) takes it in two steps: checkout, then confirm once the turn
    # started (dispatched, exactly once) or give_back if it never did. In
    # between it is in flight: out of the rooms, still pending in the ledger.

    def checkout(self, now: float, *, batch: int = 1) -> list[Picked]:
        """Like take, but the turn stays in flight until confirm or give_back.
        Nothing while paused."""
        expired = self._take_expired(now)
        picked: list[Picked] = []
        if self._paused:
            self._record_drops(expired, "expired")
            return picked
        if self._redo:
            # Put back after a cut-off answer: it goes before anything else,
            # alone (only paid messages are put back, and they go alone).
            entry = self._redo.pop(0)
            self._in_flight[id(entry.event)] = entry
            picked.append(Picked(entry.event, self._ranker.breakdown(entry.event, now, entry.askers)))
            self._wake()
        failed: list[tuple[_Entry, str]] = []
        while not picked and self._next:
            # Pinned by the streamer: next, alone, before any ranking.
            entry = self._next.pop(0)
            try:
                breakdown = self._ranker.breakdown(entry.event, now, entry.askers)
            except Exception as exc:
                failed.append((entry, f"{type(exc).__name__}: {exc}"))
                continue
            self._in_flight[id(entry.event)] = entry
            picked.append(Picked(entry.event, breakdown, entry.also))
            self._wake()
        while not picked and (ready := self._ready(now)):
            ranked = self._ranked(ready, now)
            best = ranked[0]
            group = [best]
            if batch > 1 and _is_plain(best.event):
                group += [e for e in ranked[1:] if _is_plain(e.event)][: batch - 1]
            for entry in group:
                self._remove(entry)
                try:
                    breakdown = self._ranker.breakdown(entry.event, now, entry.askers)
                except Exception as exc:  # one message that cannot be scored costs only itself
                    failed.append((entry, f"{type(exc).__name__}: {exc}"))
                    continue
                self._in_flight[id(entry.event)] = entry
                picked.append(Picked(entry.event, breakdown, entry.also))
            self._wake()
        self._record_drops(expired, "expired")
        for entry, error in failed:
            for event in entry.events:
                self._ledger.drop(event, "error", {"error": error})
        return picked

    async def pull_checkout(self, *, batch: int = 1) -> list[Picked]:
        """Wait for the next turn and check it out (see checkout)."""
        while True:
            now = trio.current_time()
            picked = self.checkout(now, batch=batch)
            if picked:
                return picked
            if self.input_finished and not self._chat and not self._paid and not self._next and not self._redo:
                raise trio.EndOfChannel
            if self._paused:
                # Nothing is handed out until resume(), which wakes us: no
                # deadline (a settled line's is in the past: it would spin).
                await self._changed.park()
                continue
            # Nothing ready: wait for a change, or until the first plain
            # chat has settled.
            with trio.move_on_at(self._settled_at()):
                await self._changed.park()

    def _ready(self, now: float) -> list[_Entry]:
        """What may be handed out now: everything but plain chat younger than `settle`."""
        if not self._settle:
            return self._chat + self._paid
        settle = self._settle  # the same sum as _settled_at, so the two always agree
        return self._paid + [e for e in self._chat if now >= e.event.received_at + settle or not _is_plain(e.event)]

    def _settled_at(self) -> float:
        """When the first unsettled plain chat settles (inf if none waits)."""
        return min((e.event.received_at + self._settle for e in self._chat), default=math.inf)

    def confirm(self, picked: list[Picked], now: float) -> None:
        """The turn started: its messages are dispatched, once. A crowd's
        askers are dispatched with its leader, each with `merged_into`."""
        confirmed: list[_Entry] = []
        for p in picked:
            entry = self._in_flight.pop(id(p.event), None)
            if entry is None or entry.redo:
                continue  # already has its fate (confirmed before, dropped at close, or put back)
            confirmed.append(entry)
            self._ledger.dispatch(p.event, p.score.to_dict())
            for asker in entry.also:
                self._ledger.dispatch(asker, {"merged_into": p.event.id})
        # Last, once every fate is recorded: the callback may purge the rooms
        # (the router drops what this turn has just answered).
        if self._on_dispatch is not None:
            alone = len(confirmed) == 1
            for entry in confirmed:
                self._on_dispatch(entry.events, now, alone)
            if confirmed:
                self._answers_changed()

    def _answers_changed(self) -> None:
        """A turn was confirmed, so the ranker's memory of answers may have
        changed: every entry's copy is read anew (a few dozen, once a turn)."""
        last_answered = self._ranker.last_answered
        for entry in (*self._chat, *self._paid, *self._next, *self._in_flight.values(), *self._redo):
            entry.answered_at = last_answered(entry.author_id)
        self._order = None

    def give_back(self, picked: list[Picked], now: float) -> None:
        """The turn never started: its messages wait again, ranked as before
        (arrival order and cached score kept). If the rooms filled up in the
        meantime, the lowest is evicted as usual."""
        returned = [e for e in (self._in_flight.pop(id(p.event), None) for p in picked) if e is not None]
        redone = [e for e in returned if e.redo]
        returned = [e for e in returned if not e.redo]
        if redone and not self._closed:
            self._redo[:0] = redone  # still first in line
            self._wake()
        if not returned:
            return
        if self._closed:  # too late to wait again
            self._record_drops(returned, "shutdown")
            return
        self._order = None
        pinned = [e for e in returned if e.pinned]
        if pinned:  # still first
            self._next[:0] = pinned
            returned = [e for e in returned if not e.pinned]
        for entry in returned:
            if entry.paid:
                self._paid.append(entry)
                self._oldest_paid = min(self._oldest_paid, entry.event.received_at)
            else:
                self._chat.append(entry)
                self._oldest_chat = min(self._oldest_chat, entry.event.received_at)
        expired = self._take_expired(now)
        evicted: list[_Entry] = []
        while (lowest := self._over_capacity(now)) is not None:
            self._remove(lowest)
            evicted.append(lowest)
        self._wake()
        self._record_drops(expired, "expired")
        self._record_drops(evicted, "overflow")

    def put_back(self, picked: list[Picked]) -> bool:
        """Dispatched messages whose answer was cut off: answer them again,
        first, once. False (and nothing changes) if one of them was put back
        before, or the buffer is closed. Their fate stays `dispatched`: the
        ledger counts them once, whatever happens next."""
        keys = [(p.event.platform.value, p.event.id) for p in picked]
        if self._closed or not picked or any(k in self._put_back for k in keys):
            return False
        self._put_back.update(keys)
        ranker = self._ranker
        self._redo[:0] = [
            _Entry(
                p.event,
                0,
                ranker.static(p.event),
                paid=p.event.is_paid,
                answered_at=ranker.last_answered(p.event.author.id),
                redo=True,
            )
            for p in picked
        ]
        self._wake()
        return True

    @property
    def redo_waiting(self) -> int:
        """Put back after a cut-off answer, not yet answered again."""
        return len(self._redo)

    def lose(self, picked: list[Picked], reason: str, detail: dict[str, str] | None = None) -> None:
        """Checked out, and its turn can no longer be seen (see the OLV
        session's orphans) or never can be (the session failed to put it
        to the VTuber: reason `error`, with `detail`): dropped with `reason`."""
        lost = [e for e in (self._in_flight.pop(id(p.event), None) for p in picked) if e is not None]
        for entry in lost:
            if not entry.redo:
                for event in entry.events:
                    self._ledger.drop(event, reason, detail)

    @property
    def in_flight(self) -> int:
        """Turns checked out, with no fate yet."""
        return len(self._in_flight)

    @property
    def events_pending(self) -> int:
        """Messages with no fate yet, each asker of a crowd counted: what
        waits and what is checked out. `len()` counts entries (places in
        the rooms); this equals the ledger's pending once routing is idle."""
        waiting = sum(len(e.also) + 1 for e in self._all())
        return waiting + sum(len(e.also) + 1 for e in self._in_flight.values() if not e.redo)

    def expire(self, now: float) -> int:
        """Drop what is too old now; the router calls it between events too."""
        expired = self._take_expired(now)
        if expired:
            self._wake()
        self._record_drops(expired, "expired")
        return len(expired)

    def purge(self, matches: Callable[[ChatEvent], bool], reason: str = "purged") -> int:
        """Drop every pending event that `matches`; returns how many. In a
        crowd only the askers that match go; if the leader goes, the next
        asker that stays leads."""
        # Each turn purges what it answered from the whole room: the entries
        # are asked in the rooms' order, the few that match then put in
        # arrival order, rather than the room sorted first.
        hits: list[tuple[int, _Entry, list[ChatEvent]]] = []
        for entry in self._all():
            if entry.also:
                gone = [e for e in entry.events if matches(e)]
            elif matches(entry.event):
                gone = [entry.event]
            else:
                continue
            if gone:
                hits.append((entry.seq, entry, gone))
        hits.sort(key=_first)
        purged: list[ChatEvent] = []
        emptied: set[int] = set()
        rescored: list[_Entry] = []
        for _, entry, gone in hits:
            events = entry.events
            purged += gone
            if len(gone) == len(events):
                emptied.add(id(entry))
            else:
                stay = [e for e in events if not any(e is g for g in gone)]
                entry.lead(stay[0], self._ranker.last_answered(stay[0].author.id))
                entry.also = tuple(stay[1:])
                rescored.append(entry)
        for entry in rescored:
            try:
                entry.static = self._ranker.static(entry.event, entry.askers)
            except Exception:  # keeps its old score: a purge must not fail on a ranking
                continue
        # A put-back message already has its fate: it is only forgotten.
        self._redo = [e for e in self._redo if not matches(e.event)]
        if hits:
            self._order = None
        if emptied:
            self._chat = [e for e in self._chat if id(e) not in emptied]
            self._paid = [e for e in self._paid if id(e) not in emptied]
            self._next = [e for e in self._next if id(e) not in emptied]
        if purged:
            self._wake()
        for event in purged:
            self._ledger.drop(event, reason)
        return len(purged)

    def finish_input(self) -> None:
        """No more input: the session gets what is pending, then EndOfChannel."""
        self._input_finished = True
        self._wake()

    def close(self, reason: str = "shutdown") -> None:
        """Stop: whatever is still pending is dropped with `reason`."""
        self._closed = True
        in_flight = [e for e in self._in_flight.values() if not e.redo]  # a put-back one has its fate
        dropped = sorted([*self._all(), *in_flight], key=lambda e: e.seq)
        self._chat, self._paid, self._next, self._in_flight, self._redo = [], [], [], {}, []
        self._order = None
        self._wake()
        self._record_drops(dropped, reason)

    def _all(self) -> list[_Entry]:
        """Every entry waiting: in the rooms, and pinned."""
        return self._chat + self._paid + self._next

    def _wake(self) -> None:
        """Tell a session waiting in pull that the rooms changed. Most
        changes find nobody waiting: then not even the call is made."""
        if self._changed:
            self._changed.unpark_all()

    def _remove(self, entry: _Entry) -> None:
        if entry.paid:
            self._paid.remove(entry)
        else:
            self._chat.remove(entry)
            self._order = None

    def _evict(self, entry: _Entry) -> None:
        """Remove what _over_capacity chose: the chat room's order keeps
        if it was its lowest."""
        order = self._order
        if order and order[0][2] is entry:
            heapq.heappop(order)
            self._chat.remove(entry)
        else:
            self._remove(entry)

    def _over_capacity(self, now: float) -> _Entry | None:
        """The entry to evict, if a room is over its bound."""
        chat, paid = len(self._chat), len(self._paid)
        if paid > self.paid_capacity and chat + paid - self.paid_capacity > self.capacity:
            # Both rooms are full: paid ones beyond their room compete with chat.
            return self._lowest(self._chat + self._paid, now)
        if chat > self.capacity:
            return self._lowest_chat(now)
        return None

    # A full chat room evicts on every push of a busy stream. Ranking the
    # whole room each time was a tenth of the router's cost, so the room is
    # kept in eviction order instead, a heap: the ranker gives each entry a
    # key that orders it as its score does for as long as the entries do
    # not change (every score loses the same to time; an author's recent
    # answer stops counting at a known moment). A push adds its key, an
    # eviction pops the lowest, and anything else (a turn taken, a merge, a
    # purge, an expiry, an answer) makes the heap anew at the next eviction.

    def _lowest_chat(self, now: float) -> _Entry:
        order = self._order
        if order is None or not now < self._order_until:
            chat = self._chat
            keys, until = self._ranker.eviction_keys(chat, now)
            if not now < until:  # no such keys now (a message from the future): rank the room
                self._order = None
                return self._lowest(chat, now)
            order = self._order = list(zip(keys, [e.seq for e in chat], chat, strict=True))
            heapq.heapify(order)
            self._order_until = until
        return order[0][2]

    def _add_to_order(self, entry: _Entry, now: float) -> None:
        assert self._order is not None
        key, until = self._ranker.eviction_key(entry, now)
        if not now < until:
            self._order = None
            return
        heapq.heappush(self._order, (key, entry.seq, entry))
        self._order_until = min(self._order_until, until)

    def _lowest(self, entries: list[_Entry], now: float) -> _Entry:
        """The one to evict: the lowest score, and among equals the older.
        A full room ranks on every push: the lowest score is found at C
        speed, and only a tie compares arrival order."""
        scores = self._ranker.current_many(entries, now)
        low = min(scores)
        if scores.count(low) == 1:
            return entries[scores.index(low)]
        return min(zip(scores, [e.seq for e in entries], entries, strict=True))[2]

    def _ranked(self, entries: list[_Entry], now: float) -> list[_Entry]:
        """Best first. Among equal scores the newer message ranks higher (it
        wins a pull, the older one is evicted first): of two equal chat
        lines, the newer is the one the conversation is still about."""
        scores = self._ranker.current_many(entries, now)
        # (score, seq) pairs compared at C speed; seq is unique, so the
        # index after it only carries the position along
        order = sorted(zip(scores, [e.seq for e in entries], range(len(entries)), strict=True), reverse=True)
        return [entries[i] for _, _, i in order]

    def _take_expired(self, now: float) -> list[_Entry]:
        """Remove and return what is too old now, in arrival order."""
        # This runs on every push of a flood, so first the cheap exact no:
        # subtraction is monotonic, so if even the oldest bound is young
        # enough, every entry is.
        chat_due = now - self._oldest_chat > self._max_age
        paid_due = now - self._oldest_paid > self._paid_max_age
        if not (chat_due or paid_due):
            return []
        expired: list[_Entry] = []
        if chat_due:
            limit = self._max_age
            expired += [e for e in self._chat if now - e.event.received_at > limit]
            self._chat = [e for e in self._chat if not now - e.event.received_at > limit]
            self._order = None
            self._oldest_chat = min((e.event.received_at for e in self._chat), default=math.inf)
        if paid_due:
            limit = self._paid_max_age
            expired += [e for e in self._paid if now - e.event.received_at > limit]
            self._paid = [e for e in self._paid if not now - e.event.received_at > limit]
            self._oldest_paid = min((e.event.received_at for e in self._paid), default=math.inf)
        expired.sort(key=lambda e: e.seq)
        return expired

    def _record_drops(self, entries: list[_Entry], reason: str) -> None:
        for entry in entries:
            for event in entry.events:
                self._ledger.drop(event, reason)


_first = itemgetter(0)


def _is_plain(event: ChatEvent) -> bool:
    return event.kind is Kind.CHAT and not event.is_paid
