"""Filters: pure decisions about one event, each with its own fate reason.

Every filter answers "should the AI never see this?" for one event, given
what came before. They are deterministic on purpose: time windows are
measured on the platform's `sent_at`, never on our clock, so re-running
last night's archive through the replay (at any speed) reproduces the same
fates, and a streamer can tune filters on it.

All state is bounded (LRU maps with a fixed number of authors and texts), so
a week-long stream cannot grow memory.

Paid messages (donations, stickers) and memberships are what the streamer's
audience pays for: only the filters that protect the stream itself apply to
them (a resent id, a blocked author or bot, a blocked word). Spam heuristics
(flood, repeat, rate, length, runs, emoji, links, commands) do not.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

import attrs

from ..chat import ChatEvent, Kind, Role
from ..validators import at_least
from . import text as textlib

K = TypeVar("K")
V = TypeVar("V")

# Bots that post timers and command replies; names compared casefolded.
_REPEAT_MEMORY = 6  # an author's last texts kept for the repeat filter

KNOWN_BOTS = ("nightbot", "streamelements", "streamlabs", "moobot", "fossabot", "wizebot", "botrix", "ssakdook")


class BoundedLRU(Generic[K, V]):
    """A dict that forgets its least recently used keys beyond `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def peek(self, key: K) -> V | None:
        """Like get, without counting as a use."""
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        data = self._data
        if key in data:
            data.move_to_end(key)
            data[key] = value
        else:  # a new key goes to the end by itself; at most one falls off
            data[key] = value
            if len(data) > self.capacity:
                data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


class RecentIds:
    """Message ids seen lately, bounded (LRU), to drop resends after reconnects.

    Platforms resend their backlog when a monitor reconnects; the id is the
    only thing that tells a resend from a new message.
    """

    def __init__(self, capacity: int) -> None:
        self._seen: BoundedLRU[tuple[str, str], bool] = BoundedLRU(capacity)

    def seen_before(self, event: ChatEvent) -> bool:
        """True if this id was seen; records it either way."""
        key = (event.platform.value, event.id)
        if key in self._seen:
            self._seen.get(key)
            return True
        self._seen.put(key, True)
        return False

    def __len__(self) -> int:
        return len(self._seen)


@attrs.frozen
class FilterSettings:
    """Each filter on/off and tunable ([router.filters] in config.toml)."""

    repeat_window: float = attrs.field(default=30.0, validator=at_least(0))  # same author, same text; 0 = off
    flood_window: float = attrs.field(default=10.0, validator=at_least(0))  # the same text from many authors...
    flood_authors: int = attrs.field(default=3, validator=at_least(0))  # ...this many of them is a flood; 0 = off
    rate_per_minute: float = attrs.field(default=6.0, validator=at_least(0))  # per-author refill; 0 = off
    rate_burst: int = attrs.field(default=3, validator=at_least(1))  # messages an author may send at once
    min_length: int = attrs.field(default=1, validator=at_least(0))  # graphemes after sanitising; 0 = off
    max_length: int = attrs.field(default=300, validator=at_least(0))  # graphemes as sent; 0 = off
    max_run: int = attrs.field(default=10, validator=at_least(0))  # a longer run of one grapheme is spam; 0 = off
    emoji_only: bool = True
    links: bool = True
    link_allow: tuple[str, ...] = ("youtube.com", "youtu.be", "chzzk.naver.com")
    blocked_words: tuple[str, ...] = ()
    blocked_authors: tuple[str, ...] = ()  # author ids or names
    bots: tuple[str, ...] = KNOWN_BOTS
    commands: bool = True  # "!uptime" and friends are for bots, not the AI
    own_messages: bool = False  # True drops the streamer's (owner's) own chat
    max_authors: int = attrs.field(default=50_000, validator=at_least(1))  # per-author memory bound
    max_texts: int = attrs.field(default=10_000, validator=at_least(1))  # per-text memory bound


def _may_link(text: str) -> bool:
    return "." in text or "dot" in text.casefold()


def spam_filterable(event: ChatEvent) -> bool:
    """Whether the spam heuristics apply: not to what the audience paid for."""
    return not (event.is_paid or event.kind in (Kind.MEMBERSHIP, Kind.GIFT))


class FilterChain:
    """The filters in order, with the little state they keep.

    `check` returns the fate reason of the first filter that rejects the
    event, or None. `flooded_key` tells the router which text started
    flooding, so it can purge copies that were already pending.
    """

    def __init__(self, settings: FilterSettings, *, dedupe_ids: int) -> None:
        self.settings = settings
        self.recent_ids = RecentIds(dedupe_ids)
        self._blocked_words = textlib.BlockedWords(settings.blocked_words)
        self._blocked_authors = {a.casefold() for a in settings.blocked_authors}
        self._bots = {b.casefold() for b in settings.bots}
        self._allow = tuple(settings.link_allow)
        # Times below are sent_at as POSIX seconds, converted once per event.
        # Short lists, trimmed by hand: a deque always allocates a 64-slot
        # block (~600 bytes), and there is one of these per author and text.
        # author id -> recent (key, time) of that author, for repeats
        self._author_texts: BoundedLRU[str, list[tuple[str, float]]] = BoundedLRU(settings.max_authors)
        # text key -> recent (time, author id), for floods
        self._text_authors: BoundedLRU[str, list[tuple[float, str]]] = BoundedLRU(settings.max_texts)
        # text keys currently flooding (their pending copies were purged)
        self._flood_started: BoundedLRU[str, bool] = BoundedLRU(settings.max_texts)
        # author id -> (tokens, at), the token bucket
        self._buckets: BoundedLRU[str, tuple[float, float]] = BoundedLRU(settings.max_authors)
        self.flooded_key: str | None = None

    def state_size(self) -> int:
        """How many entries the chain remembers, all maps together (bounded)."""
        maps = (self._author_texts, self._text_authors, self._flood_started, self._buckets)
        return len(self.recent_ids) + sum(len(m) for m in maps)

    def check(self, event: ChatEvent, text: str, key: str) -> str | None:
        """`text` is the sanitised text, `key` its comparison key."""
        self.flooded_key = None
        if self.recent_ids.seen_before(event):
            return "duplicate"
        author = event.author
        if author.id.casefold() in self._blocked_authors or author.name.casefold() in self._blocked_authors:
            return "blocked_author"
        if author.name.casefold().replace(" ", "") in self._bots:
            return "bot"
        if self.settings.own_messages and Role.OWNER in author.roles and event.kind is Kind.CHAT:
            return "own_message"
        if self._blocked_words.find(text) is not None:
            return "blocked_word"
        if not spam_filterable(event):
            return None
        return self._spam_reason(event, text, key)

    def _spam_reason(self, event: ChatEvent, text: str, key: str) -> str | None:
        s = self.settings
        if s.commands and text.startswith("!"):
            return "command"
        # The windows remember every message, even ones rejected below, so a
        # flood keeps being recognised while it lasts.
        sent = event.sent_at.timestamp()
        repeat = self._is_repeat(event, key, sent)
        flood = self._is_flood(event, key, sent)
        # Each check below has an exact cheap pre-test, because most chat is
        # short plain text and this runs for every message of a flood: a
        # text has no more graphemes than code points, a link needs a dot
        # (or the word "dot"), and a run longer than max_run needs more than
        # max_run code points.
        if s.max_length and len(event.text) > s.max_length and len(textlib.graphemes(event.text)) > s.max_length:
            return "too_long"
        if s.min_length and (not text or (s.min_length > 1 and len(textlib.graphemes(text)) < s.min_length)):
            return "too_short"
        if (
            s.links
            and _may_link(text)
            and any(not textlib.host_allowed(h, self._allow) for h in textlib.find_links(text))
        ):
            return "link"
        if s.max_run and len(text) > s.max_run and textlib.longest_run(text) > s.max_run:
            return "char_run"
        if s.emoji_only and textlib.is_emoji_only(text):
            return "emoji_only"
        if flood:
            # Purging pending copies is needed once, when the flood starts:
            # every later copy is filtered here and never becomes pending.
            if self._flood_started.get(key) is None:
                self.flooded_key = key
            self._flood_started.put(key, True)
            return "flood"
        if repeat:
            return "repeat"
        if not self._take_token(event, sent):
            return "rate_limit"
        return None

    def _is_repeat(self, event: ChatEvent, key: str, sent: float) -> bool:
        window = self.settings.repeat_window
        if not window or not key:
            return False
        history = self._author_texts.get(event.author.id)
        if history is None:
            history = []
            self._author_texts.put(event.author.id, history)
        repeat = False
        for earlier, at in history:  # a loop, not any(genexpr): it runs per message
            if earlier == key and sent - at <= window:
                repeat = True
                break
        history.append((key, sent))
        if len(history) > _REPEAT_MEMORY:
            del history[0]
        return repeat

    def _is_flood(self, event: ChatEvent, key: str, sent: float) -> bool:
        s = self.settings
        if not s.flood_authors or not key:
            return False
        recent = self._text_authors.get(key)
        if recent is None:
            recent = []
            self._text_authors.put(key, recent)
        stale = 0
        while stale < len(recent) and sent - recent[stale][0] > s.flood_window:
            stale += 1
        del recent[:stale]
        if not recent:
            self._flood_started.pop(key)  # a quiet window ends a flood
        recent.append((sent, event.author.id))
        if len(recent) > 4 * s.flood_authors:
            del recent[0]
        return len({author for _, author in recent}) >= s.flood_authors

    def _take_token(self, event: ChatEvent, sent: float) -> bool:
        s = self.settings
        if not s.rate_per_minute:
            return True
        tokens, at = self._buckets.get(event.author.id) or (float(s.rate_burst), sent)
        elapsed = max(0.0, sent - at)
        tokens = min(float(s.rate_burst), tokens + elapsed * s.rate_per_minute / 60.0)
        allowed = tokens >= 1.0
        self._buckets.put(event.author.id, (tokens - 1.0 if allowed else tokens, sent))
        return allowed
