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

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from ..chat import ChatEvent, Kind, Platform, Role
from ..validators import at_least
from . import text as textlib
from .links import find_links, host_allowed
from .spam import builtin_classifier
from .words import BlockedWords, builtin_blocked_words

K = TypeVar("K")
V = TypeVar("V")

_REPEAT_MEMORY = 6  # an author's last texts kept for the repeat filter
_PLATFORM_NAME = {platform: platform.value for platform in Platform}

# Bots that post timers and command replies; names compared casefolded.
KNOWN_BOTS = ("nightbot", "streamelements", "streamlabs", "moobot", "fossabot", "wizebot", "botrix", "ssakdook")


class BoundedLRU(Generic[K, V]):
    """A dict that forgets its least recently used keys beyond `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()
        # Bound straight to the dict: a C call, not a Python frame, because
        # ranking peeks once per pending message on every push of a flood.
        self.peek: Callable[[K], V | None] = self._data.get  # like get, without counting as a use

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def seen(self, key: K, value: V) -> bool:
        """Whether `key` was here (now the most recently used, its value
        kept); if not, it is put with `value`. One call for what a filter
        asks of every message: has this id, this author been seen before?"""
        data = self._data
        if key in data:
            data.move_to_end(key)
            return True
        data[key] = value
        if len(data) > self.capacity:
            data.popitem(last=False)
        return False

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

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
        # Keyed by (platform, id), the platform as a plain string: a tuple of
        # plain strings is one the garbage collector stops tracking, and
        # these live long.
        self.lru: BoundedLRU[tuple[str, str], bool] = BoundedLRU(capacity)

    def seen_before(self, event: ChatEvent) -> bool:
        """True if this id was seen; records it either way."""
        return self.lru.seen((_PLATFORM_NAME[event.platform], event.id), True)

    def __len__(self) -> int:
        return len(self.lru)


@attrs.frozen
class FilterSettings:
    """Each filter on/off and tunable ([router.filters] in config.toml)."""

    repeat_window: float = attrs.field(default=30.0, validator=at_least(0))  # same author, same text; 0 = off
    # A raid: the same text from flood_authors distinct authors within
    # flood_window seconds. Fewer, or slower, is a crowd (the router merges it).
    flood_window: float = attrs.field(default=5.0, validator=at_least(0))
    flood_authors: int = attrs.field(default=6, validator=at_least(0))  # 0 = off
    rate_per_minute: float = attrs.field(default=6.0, validator=at_least(0))  # per-author refill; 0 = off
    rate_burst: int = attrs.field(default=3, validator=at_least(1))  # messages an author may send at once
    min_length: int = attrs.field(default=1, validator=at_least(0))  # graphemes after sanitising; 0 = off
    max_length: int = attrs.field(default=300, validator=at_least(0))  # graphemes as sent; 0 = off
    max_run: int = attrs.field(default=10, validator=at_least(0))  # a longer run of one grapheme is spam; 0 = off
    emoji_only: bool = True
    links: bool = True
    link_allow: tuple[str, ...] = ("youtube.com", "youtu.be", "chzzk.naver.com")
    blocked_words: tuple[str, ...] = ()
    blocked_words_builtin: bool = True  # slurs and hate terms, English and Korean (actors/data/blocked_words.txt)
    blocked_authors: tuple[str, ...] = ()  # author ids or names
    bots: tuple[str, ...] = KNOWN_BOTS
    commands: bool = True  # "!uptime" and friends are for bots, not the AI
    content_spam: bool = True  # promo, scam: recognised by content on a first message (router/spam.py)
    own_messages: bool = False  # True drops the streamer's (owner's) own chat
    max_authors: int = attrs.field(default=50_000, validator=at_least(1))  # per-author memory bound
    max_texts: int = attrs.field(default=10_000, validator=at_least(1))  # per-text memory bound


def _may_link(text: str) -> bool:
    return "." in text or "dot" in text.casefold()


_PAID_KINDS = frozenset({Kind.MEMBERSHIP, Kind.GIFT})  # a constant: enum lookups are slow


def spam_filterable(event: ChatEvent) -> bool:
    """Whether the spam heuristics apply: not to what the audience paid for."""
    return event.amount is None and event.kind not in _PAID_KINDS


class FilterChain:
    """The filters in order, with the little state they keep.

    `check` returns the fate reason of the first filter that rejects the
    event, or None. `flooded_key` tells the router which text started
    flooding, so it can purge copies that were already pending.
    """

    def __init__(self, settings: FilterSettings, *, dedupe_ids: int) -> None:
        self.settings = settings
        self.recent_ids = RecentIds(dedupe_ids)
        self._ids, self._ids_capacity = self.recent_ids.lru._data, self.recent_ids.lru.capacity
        self._blocked_words = BlockedWords(settings.blocked_words)
        # The built-in list is on for everyone, so it matches more strictly
        # (a Korean word not across spaces): a false positive there silences
        # chat nobody meant to block.
        self._builtin_words = (
            BlockedWords(builtin_blocked_words(), across_spaces=False) if settings.blocked_words_builtin else None
        )
        self._blocked_authors = {a.casefold() for a in settings.blocked_authors}
        # Muted by the streamer for this stream (by author id, as the
        # platform gives it): filtered as blocked_author, never saved.
        self.muted: set[str] = set()
        self._bots = {b.casefold() for b in settings.bots}
        self._allow = tuple(settings.link_allow)
        self._spam = builtin_classifier()
        # Times below are sent_at as POSIX seconds, converted once per event.
        # One record per author and one per text, so a message costs one
        # lookup in each map, not one per filter.
        self._authors: BoundedLRU[str, _AuthorMemory] = BoundedLRU(settings.max_authors)
        # A text said once is kept as its one (sent, author id); see _is_flood.
        self._texts: BoundedLRU[str, _TextMemory | tuple[float, str]] = BoundedLRU(settings.max_texts)
        self.flooded_key: str | None = None
        # Whether the event just checked is the first seen from its author
        # (for the router's score): the author memory below answers it, so
        # the audience is kept in one map, not two.
        self.first_message = False
        # What a text alone decides, remembered for the texts seen lately:
        # chat repeats itself ("ㅋㅋㅋ", "lol", a raid's slogan), and these
        # verdicts depend on nothing else.
        self._text_verdict = functools.lru_cache(maxsize=4096)(self._judge_text)

    def state_size(self) -> int:
        """How many entries the chain remembers, all maps together (bounded)."""
        return len(self.recent_ids) + len(self._authors) + len(self._texts)

    def check(self, event: ChatEvent, text: str, key: str) -> str | None:
        """`text` is the sanitised text, `key` its comparison key. Every
        author checked is remembered from here on (`first_message`)."""
        self.flooded_key = None
        author = event.author
        # The author's memory, made on their first message whatever its fate
        # (BoundedLRU's get and put, written out: every event asks).
        memories = self._authors._data
        memory = memories.get(author.id)
        if memory is None:
            self.first_message = True
            memory = _AuthorMemory(float(self.settings.rate_burst), event.sent_at.timestamp())
            self._authors.put(author.id, memory)
        else:
            self.first_message = False
            memories.move_to_end(author.id)
        # recent_ids.seen_before, written out on its LRU map: every event asks
        ids, ident = self._ids, (_PLATFORM_NAME[event.platform], event.id)
        if ident in ids:
            ids.move_to_end(ident)
            return "duplicate"
        ids[ident] = True
        if len(ids) > self._ids_capacity:
            ids.popitem(last=False)
        blocked = self._blocked_authors
        if blocked and (author.id.casefold() in blocked or author.name.casefold() in blocked):
            return "blocked_author"
        if self.muted and author.id in self.muted:
            return "blocked_author"
        if author.name != memory.name:  # first seen, or renamed: is it a bot's name?
            memory.name = author.name
            memory.bot = author.name.casefold().replace(" ", "") in self._bots
        if memory.bot:
            return "bot"
        if self.settings.own_messages and Role.OWNER in author.roles and event.kind is Kind.CHAT:
            return "own_message"
        blocked_word, text_reason = self._text_verdict(event.text, text)
        if blocked_word:
            return "blocked_word"
        if event.amount is not None or event.kind in _PAID_KINDS:  # not spam_filterable
            return None
        if self.settings.commands and text.startswith("!"):
            return "command"
        return self._spam_reason(event, key, text_reason, memory)

    def _judge_text(self, raw: str, text: str) -> tuple[bool, str | None]:
        """What the text alone says: (has a blocked word, its spam reason).
        `raw` is the text as sent, `text` the sanitised one."""
        s = self.settings
        # Each check below has an exact cheap pre-test: a text has no more
        # graphemes than code points, a link needs a dot (or the word
        # "dot"), and a run longer than max_run needs more code points.
        if s.max_length and len(raw) > s.max_length and len(textlib.graphemes(raw)) > s.max_length:
            reason: str | None = "too_long"
        elif s.min_length and (not text or (s.min_length > 1 and len(textlib.graphemes(text)) < s.min_length)):
            reason = "too_short"
        elif s.links and _may_link(text) and any(not host_allowed(h, self._allow) for h in find_links(text)):
            reason = "link"
        elif s.content_spam and (verdict := self._spam.classify(text)) is not None:
            reason = verdict.reason
        elif s.max_run and len(text) > s.max_run and textlib.has_run_over(text, s.max_run):
            reason = "char_run"
        elif s.emoji_only and textlib.is_emoji_only(text):
            reason = "emoji_only"
        else:
            reason = None
        builtin = self._builtin_words
        blocked = self._blocked_words.find(text) is not None or (builtin is not None and builtin.find(text) is not None)
        return blocked, reason

    def _spam_reason(self, event: ChatEvent, key: str, text_reason: str | None, author: _AuthorMemory) -> str | None:
        # Every spam-filterable message comes through here, so the text's
        # LRU map is used directly (the same moves as BoundedLRU's get and
        # put), and the repeat and rate checks are written out rather than
        # called. `author` is its author's memory (see check).
        s = self.settings
        # The windows remember every message, even ones rejected below, so a
        # flood keeps being recognised while it lasts.
        sent = event.sent_at.timestamp()
        author_id = event.author.id
        # repeat: this author said this text within repeat_window
        repeat = False
        window = s.repeat_window
        if window and key:
            if key in author:  # a C scan first: most messages are no repeat
                times = author.sent
                repeat = any(earlier == key and sent - times[i] <= window for i, earlier in enumerate(author))
            author.append(key)
            author.sent.append(sent)
            if len(author) > _REPEAT_MEMORY:
                del author[0]
                del author.sent[0]
        flood = self._is_flood(author_id, key, sent) if s.flood_authors and key else None
        if text_reason is not None:
            return text_reason
        if flood is not None:
            # Purging pending copies is needed once, when the flood starts:
            # every later copy is filtered here and never becomes pending.
            if not flood.flooding:
                flood.flooding = True
                self.flooded_key = key
            return "flood"
        if repeat:
            return "repeat"
        # rate_limit: the author's token bucket is empty
        rate = s.rate_per_minute
        if rate:
            elapsed = max(0.0, sent - author.at)
            tokens = min(float(s.rate_burst), author.tokens + elapsed * rate / 60.0)
            allowed = tokens >= 1.0
            author.tokens, author.at = (tokens - 1.0 if allowed else tokens), sent
            if not allowed:
                return "rate_limit"
        return None

    def _is_flood(self, author: str, key: str, sent: float) -> _TextMemory | None:
        """The text's memory if it is flooding now, else None."""
        s = self.settings
        texts = self._texts._data
        held = texts.get(key)
        if held is None:
            if s.flood_authors > 1:
                # Most texts are said once: the first time, only its (sent,
                # author) is kept, a tuple (which the garbage collector soon
                # stops tracking), and one author never floods.
                self._texts.put(key, (sent, author))
                return None
            text = _TextMemory()
            self._texts.put(key, text)
        elif isinstance(held, tuple):  # said a second time: its memory as it would be after the first
            text = _TextMemory()
            text.append(held)
            text.authors[held[1]] = 1
            texts[key] = text
            texts.move_to_end(key)
        else:
            text = held
            texts.move_to_end(key)
        authors = text.authors
        window = s.flood_window
        while text and sent - text[0][0] > window:
            text.forget_oldest()
        if not text:
            text.flooding = False  # a quiet window ends a flood
        text.append((sent, author))
        authors[author] = authors.get(author, 0) + 1
        if len(text) > 4 * s.flood_authors:
            text.forget_oldest()
        # Most texts are said once: too few to count authors at all.
        if len(authors) < s.flood_authors:
            return None
        return text


# The two memories below are lists themselves, with their other fields in
# slots, rather than objects that hold a list: one of each is made for every
# new author and every new text (most texts are said once), and each is kept
# until the LRU drops it, long enough for the garbage collector to promote
# it to its oldest generation. Fewer such objects, fewer full collections.


class _AuthorMemory(list[str]):
    """What the filters remember of one author: the comparison keys of its
    recent messages, oldest first, for repeats, with when each was sent in
    `sent` (short lists trimmed by hand: a deque always allocates a 64-slot
    block, ~600 bytes, and there is one per author). The keys alone are the
    list, so whether a key is among them is one scan at C speed."""

    __slots__ = ("at", "bot", "name", "sent", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        super().__init__()
        self.sent: list[float] = []
        self.tokens = tokens  # the token bucket, as of `at`
        self.at = at
        # The display name last seen, and whether it is a known bot's: a
        # name is casefolded once, not on every message.
        self.name: str | None = None
        self.bot = False


class _TextMemory(list[tuple[float, str]]):
    """What the filters remember of one text (by comparison key): its recent
    (sent, author id) within the flood window, oldest first."""

    __slots__ = ("authors", "flooding")

    def __init__(self) -> None:
        super().__init__()
        # How many of the list each author sent: its length is the distinct
        # authors, kept as the list changes rather than counted per message
        # (a raid's text is checked on every copy, 4 * flood_authors of them).
        self.authors: dict[str, int] = {}
        self.flooding = False  # its pending copies were purged when the flood started

    def forget_oldest(self) -> None:
        _, author = self.pop(0)
        left = self.authors[author] - 1
        if left:
            self.authors[author] = left
        else:
            del self.authors[author]
