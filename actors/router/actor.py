"""The router actor: takes events from the monitors' channel, routes each one.

Routing one event, in order: the ledger receives it (it is pending from now
on); its text is sanitised (what the VTuber and the log will see); the
filters decide whether the AI should never see it; moderation events purge
what they remove; a chat line that says what the AI answered lately is
`filtered:answered`; one that says what another viewer's waiting message
says joins it (a crowd: one turn, every asker credited); everything else
waits in the ranked buffer for the session.

Crowds and raids are told apart by their shape. A raid is the same text
from many accounts within seconds (`flood_authors` distinct authors within
`flood_window` s): the flood filter drops it and purges its pending copies.
A crowd is a few viewers asking the same thing over a minute: their lines
merge into one entry that ranks higher for each viewer (`crowd` points, up
to `crowd_max`), and its turn names them.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import trio

from supervision import ChildContext

from ..chat import ChatEvent, Kind, Platform
from ..i18n import says, tell
from ..ledger import Fate, Ledger
from . import text as textlib
from .answered import AnsweredTexts
from .buffer import PendingBuffer, Waiting
from .filters import FilterChain, FilterSettings, spam_filterable
from .priority import DEFAULT_RATES, Score, Weights, score_parts, total
from .similar import DEFAULT_THRESHOLD, SimilarIndex, alike, tokens

Emit = Callable[..., None]


def _no_log(event: str, level: str = "info", **fields: Any) -> None:
    pass


@attrs.frozen
class RoutingSettings:
    filters: FilterSettings = attrs.field(factory=FilterSettings)
    weights: Weights = attrs.field(factory=Weights)
    rates: Mapping[str, Decimal] = attrs.field(factory=lambda: dict(DEFAULT_RATES))
    names: tuple[str, ...] = ()  # the VTuber's names, for the mention bonus
    capacity: int = 20
    paid_capacity: int = 50  # a room of its own for paid messages, on top
    max_age: float = math.inf  # seconds a message may wait; paid ones get paid_max_age
    paid_max_age: float = math.inf
    max_graphemes: int = 200
    dedupe_ids: int = 10_000
    answered_window: float = 300.0  # seconds a chat text answered stays answered; 0 = off
    similarity: float = DEFAULT_THRESHOLD  # token-set similarity at which two lines say the same thing
    crowds: bool = True  # merge what several viewers say alike into one turn
    settle: float = 0.0  # seconds plain chat waits before it can be answered (a raid shows itself meanwhile)


class _PendingFacts:
    """What routing learnt about a pending message. A plain slotted class:
    one is made per message that waits, and a frozen attrs class costs
    several times as much to build."""

    __slots__ = ("event", "first", "joinable", "key", "tokens")

    def __init__(self, event: ChatEvent, key: str, first: bool) -> None:
        # The copy that waits (sanitised): its fate is this message's, and a
        # fate for another copy with the same id (a resend that failed in
        # routing) is not (see Router._on_fate).
        self.event = event
        self.key = key  # comparison key, for flood purges and answered purges
        self.first = first  # its author's first message, for the score
        # Its token set once routing needed it (crowds, the answered
        # memory), so a purge after a turn need not look it up again.
        self.tokens: frozenset[str] | None = None
        # Whether other lines may join it (it leads, or may lead, a crowd:
        # see Router._join); merges find its entry by its event's identity.
        self.joinable = False


@attrs.frozen
class _Waiting:
    """One message and its static score, to rank it alone (`Router.current`)."""

    event: ChatEvent
    static: float
    answered_at: float = -math.inf

    @property
    def received_at(self) -> float:
        return self.event.received_at


# Module constants: enum class attribute lookups are slow on Python 3.11,
# and these are looked at for every event.
_PLAIN_CHAT, _MODERATION = Kind.CHAT, Kind.MODERATION
_FILTERED = Fate.FILTERED


def _crowdable(event: ChatEvent) -> bool:
    """Plain chat: what the answered memory filters and crowds merge."""
    return event.kind is _PLAIN_CHAT and spam_filterable(event)


class Router:
    """Routing state that outlives router incarnations (like the buffer)."""

    def __init__(self, ledger: Ledger, settings: RoutingSettings, *, emit: Emit = _no_log) -> None:
        self.ledger = ledger
        self.buffer = PendingBuffer(
            settings.capacity,
            ledger,
            paid_capacity=settings.paid_capacity,
            ranker=self,
            max_age=settings.max_age,
            paid_max_age=settings.paid_max_age,
            settle=settings.settle,
            on_dispatch=self._answered,
        )
        self.settings = settings
        self.filters = FilterChain(settings.filters, dedupe_ids=settings.dedupe_ids)
        max_authors = settings.filters.max_authors
        self._answered_at = _RecentAnswers(settings.weights.recent_author_window, max_authors)
        self._answered_texts = AnsweredTexts(settings.answered_window, settings.similarity)
        # Pending plain chat that another line may join (its facts' joinable),
        # by comparison key (an exact match needs no scan) and by tokens.
        self._crowdable_keys: dict[str, tuple[Platform, str]] = {}
        self._crowdable_alike: SimilarIndex[tuple[Platform, str]] = SimilarIndex(settings.similarity)
        # What routing learnt about each pending message: its comparison key
        # (for flood purges) and whether it was its author's first message
        # (for the score). Kept only while the message pends.
        self._pending: dict[tuple[Platform, str], _PendingFacts] = {}
        # The event being routed as received, and as routed (its sanitised
        # copy, once there is one), and whether it has its fate yet: if a
        # step raises, it must end with exactly one.
        self._in_hand_raw: ChatEvent | None = None
        self._in_hand: ChatEvent | None = None
        self._in_hand_fated = False
        # sanitize at this cap, its argument checked once (an impossible cap
        # still fails each message, as sanitize would)
        max_graphemes = settings.max_graphemes
        self._sanitize: Callable[[str], str] = (
            textlib.sanitizer(max_graphemes)
            if max_graphemes >= 1
            else functools.partial(textlib.sanitize, max_graphemes=max_graphemes)
        )
        self.emit = emit
        ledger.listeners.append(self._on_fate)

    # ---- scoring ----------------------------------------------------------------

    def score(self, event: ChatEvent, now: float) -> Score:
        """The full score now, with its parts."""
        return self._score(event, now, self._answered_at.peek(event.author.id))

    # The buffer's Ranker: the static part once per push, then arithmetic.

    def static(self, event: ChatEvent, askers: int = 1) -> float:
        # age 0, no recent answer; the parts' total without building a Score
        return total(self._parts(event, event.received_at, None, askers))

    def _score(self, event: ChatEvent, now: float, last_answered_at: float | None, askers: int = 1) -> Score:
        parts = self._parts(event, now, last_answered_at, askers)
        return Score(total=total(parts), parts=tuple(parts))

    def _parts(
        self, event: ChatEvent, now: float, last_answered_at: float | None, askers: int
    ) -> list[tuple[str, float]]:
        s = self.settings
        facts = self._pending.get((event.platform, event.id))
        return score_parts(
            event,
            now=now,
            weights=s.weights,
            rates=s.rates,
            names=s.names,
            first_message=facts is not None and facts.first,
            last_answered_at=last_answered_at,
            askers=askers,
        )

    def current(self, event: ChatEvent, static: float, now: float) -> float:
        return self.current_many([_Waiting(event, static, self.last_answered(event.author.id))], now)[0]

    def last_answered(self, author_id: str) -> float:
        at = self._answered_at.peek(author_id)
        return -math.inf if at is None else at

    def current_many(self, waiting: Sequence[Waiting], now: float) -> list[float]:
        # Exactly what score() subtracts for age and for a recent answer, for
        # a whole room at once: eviction ranks every pending chat on each
        # push once the room is full. One comprehension, reading only the
        # entries (see buffer._Entry): on 3.11 that beats any map() of
        # operator functions, and any lookup per entry.
        w = self.settings.weights
        age_weight, recent, window = w.age_per_second, w.recent_author, w.recent_author_window
        # The recent-answer part is subtracted after the age part, as in
        # score_parts; "- 0.0" changes no float. An author never answered
        # has answered_at -inf, so now - answered_at is inf: not recent.
        if age_weight and recent:
            return [
                (e.static - age_weight * (now - e.received_at) if now > e.received_at else e.static)
                - (recent if now - e.answered_at < window else 0.0)
                for e in waiting
            ]
        if age_weight:
            return [e.static - age_weight * (now - e.received_at) if now > e.received_at else e.static for e in waiting]
        if recent:
            return [e.static - (recent if now - e.answered_at < window else 0.0) for e in waiting]
        return [e.static for e in waiting]

    def eviction_keys(self, waiting: Sequence[Waiting], now: float) -> tuple[list[float], float]:
        # A room is keyed afresh once in many pushes: one key at a time will do.
        pairs = [self.eviction_key(e, now) for e in waiting]
        return [key for key, _ in pairs], min((until for _, until in pairs), default=math.inf)

    def eviction_key(self, waiting: Waiting, now: float) -> tuple[float, float]:
        # A score is static - age_per_second * (now - received_at) - the
        # recent part: static + age_per_second * received_at - the recent
        # part is the same less what time takes from every score alike. The
        # recent part stops at answered_at + window (it starts only when a
        # turn is confirmed, and then the buffer asks again). A message
        # received after `now` has no age yet: no key (valid until now).
        w = self.settings.weights
        age_weight, received_at = w.age_per_second, waiting.received_at
        if age_weight and received_at > now:
            return 0.0, now
        key = waiting.static + age_weight * received_at
        if w.recent_author and now - waiting.answered_at < w.recent_author_window:
            return key - w.recent_author, waiting.answered_at + w.recent_author_window
        return key, math.inf

    def breakdown(self, event: ChatEvent, now: float, askers: int = 1) -> Score:
        return self._score(event, now, self._answered_at.peek(event.author.id), askers)

    def _answered(self, events: list[ChatEvent], now: float, alone: bool = True) -> None:
        """A turn started (the buffer's on_dispatch): every asker was
        answered, and so was the text. What still waits and says the same
        thing is dropped, not answered twice. In a digest (several lines,
        `alone` False) the AI picks one, so no text counts as answered."""
        for event in events:
            self._answered_at.note(event.author.id, now)
        leader = events[0]
        if not alone or not leader.text or not self.settings.answered_window:
            return
        key, toks = textlib.comparison_key(leader.text), self._tokens(leader.text)
        self._answered_texts.note(key, toks, now)
        threshold = self.settings.similarity
        pending = self._pending

        def says_the_same(e: ChatEvent) -> bool:  # asked of every waiting message
            facts = pending.get((e.platform, e.id))
            if facts is None or not _crowdable(e):
                return False
            if facts.key == key and key != "":
                return True
            other = facts.tokens
            if other is None:
                other = facts.tokens = self._tokens(e.text)
            return alike(other, toks, threshold)

        self.buffer.purge(says_the_same, reason="answered")

    def _on_fate(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        # Runs for every fate of every event: plain comparisons first.
        if event is self._in_hand or event is self._in_hand_raw:
            self._in_hand_fated = True
        # Only pending ids are kept. A filtered event never was pending, and
        # its id may be a resend of one that is: leave that one's flag alone.
        if fate is not _FILTERED:
            ident = (event.platform, event.id)
            facts = self._pending.get(ident)
            if facts is None or facts.event is not event:  # a copy that failed in routing never waited
                return
            del self._pending[ident]
            if facts.joinable:
                self._crowdable_alike.discard(ident)
                if self._crowdable_keys.get(facts.key) == ident:
                    del self._crowdable_keys[facts.key]

    # ---- routing ----------------------------------------------------------------

    def route(self, event: ChatEvent, now: float) -> None:
        """Receive one event and give it its first step: filtered, or pending.

        Never raises for one bad event: if a step fails on it (a filter, its
        score), it is dropped with reason `error` and the cause, and routing
        goes on with the next. A restart would not help: the router's state
        outlives incarnations, and a run of such events would count against
        the root's restart intensity and could stop the whole service."""
        self.ledger.receive(event)
        self._in_hand_raw = self._in_hand = event
        self._in_hand_fated = False
        try:
            reason, event, facts = self._decide(event, now)
            self._in_hand = event  # the sanitised copy is the one that gets its fate
            if reason is None:
                assert facts is not None  # what may wait has its facts
                if not self._join(event, facts):
                    self.buffer.push(event, now)
            else:
                self.ledger.filter(event, reason)
                if reason == "flood" and self.filters.flooded_key:
                    self._purge_flood(self.filters.flooded_key)
        except Exception as exc:
            self._failed(exc)
        finally:
            self._in_hand_raw = self._in_hand = None

    # ---- the streamer's hand ----------------------------------------------------------

    def mute(self, author_id: str) -> int:
        """Mute an author for this stream: what they have waiting is dropped
        (`dropped:blocked_author`, a crowd keeps its other askers) and what
        they send from now on is `filtered:blocked_author`. Returns how many
        waiting messages went."""
        self.filters.muted.add(author_id)
        return self.buffer.purge(lambda e: e.author.id == author_id, reason="blocked_author")

    def unmute(self, author_id: str) -> bool:
        """False if the author was not muted."""
        if author_id not in self.filters.muted:
            return False
        self.filters.muted.discard(author_id)
        return True

    def _purge_flood(self, key: str) -> None:
        # Only what the spam filters apply to: a paid message that happens
        # to say "ㅋㅋㅋ" is still paid for.
        self.buffer.purge(lambda e: spam_filterable(e) and self._key_of(e) == key, reason="flood")

    def _tokens(self, text: str) -> frozenset[str]:
        return tokens(text, self.settings.names)

    def _facts_tokens(self, event: ChatEvent, facts: _PendingFacts) -> frozenset[str]:
        toks = facts.tokens
        if toks is None:
            toks = facts.tokens = tokens(event.text, self.settings.names)
        return toks

    def _join(self, event: ChatEvent, facts: _PendingFacts) -> bool:
        """Merge a plain chat line into a waiting one that says the same
        thing (the same comparison key, or token sets alike): True if it
        joined. Otherwise it may be joined later, and the caller pushes it."""
        if not self.settings.crowds or not _crowdable(event):
            return False
        key = facts.key
        toks = self._facts_tokens(event, facts)
        leader: ChatEvent | None = None
        ident = self._crowdable_keys.get(key) if key else None
        if ident is not None:
            leader = self._joinable(ident)
        if leader is None and (ident := self._crowdable_alike.find(toks)) is not None:
            leader = self._joinable(ident)
        if leader is not None and self.buffer.merge(leader, event):
            return True
        if leader is not None and (ident := self._crowdable_alike.find(toks)) is not None:
            # The same key's leader is checked out (its turn is starting):
            # another waiting line may still say the same thing.
            other = self._joinable(ident)
            if other is not None and other is not leader and self.buffer.merge(other, event):
                return True
        if key or toks:
            ident = (event.platform, event.id)
            facts.joinable = True
            self._crowdable_alike.add(ident, toks)
            if key:
                # The newest waiting line leads its key: an older leader may
                # be checked out, and repeats must join one that still waits.
                self._crowdable_keys[key] = ident
        return False

    def _joinable(self, ident: tuple[Platform, str]) -> ChatEvent | None:
        facts = self._pending.get(ident)
        return None if facts is None or not facts.joinable else facts.event

    def _failed(self, exc: Exception) -> None:
        """A step raised on the event in hand: it gets `dropped:error` unless
        it already has its fate or waits in the buffer (a later step failed)."""
        error = f"{type(exc).__name__}: {exc}"
        event = self._in_hand
        assert event is not None  # route() set it
        if not self._in_hand_fated and not self.buffer.holds(event):
            self.ledger.drop(event, "error", {"error": error})
        else:
            self.emit("router.step_failed", "error", id=event.id, error=error)

    def _decide(self, event: ChatEvent, now: float) -> tuple[str | None, ChatEvent, _PendingFacts | None]:
        """(the fate reason if filtered, the event as routed, and if it may
        wait, what routing learnt about it)."""
        text = self._sanitize(event.text) if event.text else ""
        if text != event.text:
            event = attrs.evolve(event, text=text)
        if event.kind is _MODERATION:
            # An instruction, not something to answer: it removes what the
            # moderators removed from what is waiting.
            target = event.target
            if target is not None:
                self.buffer.purge(
                    lambda e: (
                        e.platform is event.platform
                        and (target.everything or e.id == target.message_id or e.author.id == target.author_id)
                    )
                )
            return ("duplicate" if self.filters.recent_ids.seen_before(event) else "moderation"), event, None
        key = textlib.comparison_key(text)
        ident = (event.platform, event.id)
        if ident in self._pending:
            # A resend of a message that still waits, although the bounded id
            # memory already forgot it: one id, one pending entry (the facts
            # below are kept per id, and the platform's id is unique).
            reason: str | None = "duplicate"
        else:
            reason = self.filters.check(event, text, key)
        facts = None
        if reason is None:
            # whether it is its author's first message: the filters remember authors
            facts = _PendingFacts(event, key, self.filters.first_message)
            # Whether it says what was answered lately. An empty memory
            # answers no without the line's tokens.
            answered = self._answered_texts
            if (
                answered
                and self.settings.answered_window
                and _crowdable(event)
                and answered.matches(key, self._facts_tokens(event, facts), now)
            ):
                reason, facts = "answered", None
            else:
                self._pending[ident] = facts
        return reason, event, facts

    def _key_of(self, event: ChatEvent) -> str | None:
        facts = self._pending.get((event.platform, event.id))
        return None if facts is None else facts.key

    def drain(self, inbox: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        """Route whatever is waiting in the channel now, without waiting."""
        while True:
            try:
                event = inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            self.route(event, trio.current_time())

    async def run(self, ctx: ChildContext, inbox: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        inbox = ctx.hold(inbox.clone())
        ctx.started()
        with ctx.cancel_on_stop():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._tend_forever, ctx)
                async for event in inbox:
                    self.route(event, trio.current_time())
                nursery.cancel_scope.cancel()
            # Every monitor is done for good (the demo replay ended): the
            # session still gets what is pending, then the run can end.
            self.buffer.finish_input()
            tell(ctx, says("status.router_ended"))

    async def _tend_forever(self, ctx: ChildContext) -> None:
        """Old messages expire even when no new one arrives to trigger it,
        and the status says how many wait. Once a second, not per message:
        the count also changes when the session takes one, and a status
        made per message would cost the hot path a rendering each."""
        shown = None
        while True:
            if (waiting := len(self.buffer)) != shown:
                shown = waiting
                tell(ctx, says("status.router_pending", n=waiting))
            await trio.sleep(1.0)
            self.buffer.expire(trio.current_time())


class _RecentAnswers:
    """Author id -> when the AI last answered them, kept only while it still
    costs them score (`window`): a handful of authors, not everyone ever
    answered, so ranking can rule them all out in one set operation.

    Answers arrive in time order, so the stale ones are at the front.
    `capacity` bounds it even with an endless window.
    """

    def __init__(self, window: float, capacity: int) -> None:
        self._window = window
        self._capacity = capacity
        self._at: OrderedDict[str, float] = OrderedDict()
        self.peek: Callable[[str], float | None] = self._at.get

    def note(self, author: str, now: float) -> None:
        at = self._at
        at.pop(author, None)
        at[author] = now
        while at and (len(at) > self._capacity or not now - next(iter(at.values())) < self._window):
            at.popitem(last=False)

    def any_of(self, authors: list[str]) -> bool:
        return bool(self._at) and not self._at.keys().isdisjoint(authors)

    def __len__(self) -> int:
        return len(self._at)
