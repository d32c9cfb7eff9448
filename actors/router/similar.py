"""When two chat lines say the same thing: words in common, not letters.

The router's comparison key already makes "KEKW!!" and "kekw" one text. Chat
that asks the same question rarely types it the same way, though: "do you
like cats?", "Mira do you like cats", "ok do you like cats lol". Here a line
becomes a set of tokens, and two lines are the same thing said when their
token sets overlap enough (Jaccard similarity, |A ∩ B| / |A ∪ B|):

- English (and any script with spaces between words): each word, casefolded.
- Korean: particles and endings attach to the word ("고양이를", "고양이는"),
  so a Hangul word gives its two-syllable pieces instead ("좋아해" -> 좋아,
  아해); a one-syllable word is its own token ("밥"). The polite "요" at
  a word's end is dropped first, so "좋아해요?" and "좋아해?" are one
  thing, and "밥 먹었어?" and "밥 먹었어요?" too.
- An apostrophe joins ("what's" is one word, "whats"), so a contraction
  does not leave an "s" or a "t" behind.
- Laughter and filler carry no meaning ("lol", "ㅋㅋ", "haha"): dropped,
  and so are emote codes (":_miraHeart:", "{:d_47:}") and the VTuber's own
  names with what Korean attaches to a name called ("미라야", "미라님"):
  "미라님 굿즈 언제 나와요?" asks what "굿즈 언제 나와?" asks.

At the default threshold (0.75) a name call or a "lol" more or less still
matches ("mira do you like cats" vs "do you like cats": 4/5), while another
question with the same frame does not ("do you like dogs": 3/5, "떡볶이
좋아해?" vs "치킨 좋아해?": 2/5). A line with fewer than two tokens matches
only on its comparison key, since one shared word says little.

Pure, standard library only; token sets are cached, chat repeats itself.
"""

from __future__ import annotations

import functools
import math
import re
from operator import add
from typing import Generic, TypeVar

from .text import _fold

# Words: runs of letters and digits (the Unicode \w, without "_").
_WORD = re.compile(r"[^\W_]+")
_HANGUL_SYLLABLES = re.compile(r"[가-힣]")
# Filler: words that carry no meaning of their own in a chat line.
_JAMO_RUN = re.compile(r"[\u3131-\u318e]+")
_FILLER = frozenset(
    {
        *("lol", "lmao", "lmfao", "rofl", "haha", "hahaha", "hehe", "kek", "kekw", "xd", "omg", "pls", "plz"),
        *("hi", "hey", "hello"),  # a greeting before a question is not what it asks
        *("ngl", "fr", "tbh", "btw", "ok", "okay", "oh", "ah", "um", "uh", "hm", "hmm", "yo", "wait", "honestly"),
        # Korean interjections and fillers that open a line: "헐 거기 날씨 어때요?"
        *("헐", "와", "오", "아", "어", "음", "근데", "진짜", "솔직히", "그냥", "혹시", "대박", "ㄹㅇ"),
    }
)

DEFAULT_THRESHOLD = 0.75
K = TypeVar("K")


_WORD_CHAR = re.compile(r"\w")
# ASCII bytes that are no part of a word (_WORD on ASCII text: letters and
# digits), as spaces: on ASCII text a bytes translate then split finds the
# words at C speed, 3x faster than findall.
_ASCII_WORD_BREAKS = bytes(b if chr(b).isascii() and chr(b).isalnum() else 0x20 for b in range(256))
_EMOTE_CODE = re.compile(r":[A-Za-z0-9_-]+:|\{:[^\s{}:]{1,64}:\}")
# What follows a name called in Korean: vocative and honorific endings.
_NAME_SUFFIX = r"(?:\s?님|씨|쨩|짱|야|아|이|여)?"


@functools.lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for name in sorted({_fold(n).strip() for n in names} - {""}, key=len, reverse=True):
        escaped = re.escape(name)
        if _HANGUL_SYLLABLES.search(name):
            parts.append(escaped + _NAME_SUFFIX)
        else:
            # \bNAME\b, written to begin with the name itself (the left \b
            # as a lookbehind after it), so `re` can skip ahead to the
            # name's first letter instead of trying every position
            left = f"(?<!\\w{escaped})" if _WORD_CHAR.fullmatch(name[0]) else f"(?<=\\w{escaped})"
            parts.append(escaped + left + r"\b")
    return re.compile("|".join(parts)) if parts else None


@functools.lru_cache(maxsize=8192)
def tokens(text: str, names: tuple[str, ...] = ()) -> frozenset[str]:
    """The tokens of one chat line (see the module docstring); `names` are
    the VTuber's, left out."""
    # Each step below is skipped where it cannot change the text (an emote
    # code has colons, jamo and Hangul are not ASCII): most lines are new
    # to the cache, and this runs once for each.
    if ":" in text:
        text = _EMOTE_CODE.sub(" ", text)
    # Apostrophes join ("what's"); jamo (ㅋㅋ, ㅠㅠ) part words, as a space
    # would: "귀여움ㅋㅋㅋ" is "귀여움".
    folded = _fold(text)
    if "'" in folded or "\u2019" in folded:
        folded = folded.replace("'", "").replace("\u2019", "")
    plain = folded.isascii()
    if not plain:
        folded = _JAMO_RUN.sub(" ", folded)
    pattern = _names_pattern(names)
    if pattern is not None:
        folded = pattern.sub(" ", folded)
    if plain:  # no Hangul: every word is a token, but filler
        return frozenset(folded.encode().translate(_ASCII_WORD_BREAKS).decode().split()).difference(_FILLER)
    out: set[str] = set()
    for word in _WORD.findall(folded):
        if word in _FILLER:
            continue
        if word.isascii() or _HANGUL_SYLLABLES.search(word) is None:
            out.add(word)
            continue
        stem = word[:-1] if len(word) > 1 and word[-1] == "요" else word
        if len(stem) == 1:
            out.add(stem)
        else:  # its two-syllable pieces, stem[i : i + 2] for each i
            out.update(map(add, stem, stem[1:]))
    return frozenset(out)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two token sets; 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def alike(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Whether two token sets say the same thing at `threshold`.

    Sets of fewer than two tokens never do (their comparison keys may).
    The sizes alone bound the similarity (at most small/large), which rules
    out most pairs before any set is built."""
    small, large = (len(a), len(b)) if len(a) <= len(b) else (len(b), len(a))
    if small < 2 or small < threshold * large:
        return False
    return similarity(a, b) >= threshold


def _overlap(n: int, m: int, threshold: float) -> int:
    """The fewest tokens two sets of sizes n and m share if they are alike:
    |A ∩ B| / (n + m - |A ∩ B|) >= t  <=>  |A ∩ B| >= t (n + m) / (1 + t)."""
    return math.ceil(threshold * (n + m) / (1 + threshold) - 1e-9)


def _sizes(n: int, threshold: float) -> range:
    """The sizes a set alike one of size n can have (at most small/large apart)."""
    return range(max(2, math.ceil(threshold * n - 1e-9)), math.floor(n / threshold + 1e-9) + 1)


@functools.lru_cache(maxsize=1024)
def _probes(n: int, threshold: float) -> tuple[tuple[int, int], ...]:
    """For a set of size n: (m, p) for each size m a set alike it can have,
    with p the length of its prefix to probe for that size. The same few
    sizes come back all the time: worked out once each."""
    return tuple((m, n - _overlap(n, m, threshold) + 1) for m in _sizes(n, threshold))


@functools.lru_cache(maxsize=1024)
def _indexed_prefix(m: int, threshold: float) -> int:
    """How many of its first tokens a set of size m is indexed under: its
    longest prefix, the one probed for the smallest set alike it."""
    return m - _overlap(m, _sizes(m, threshold).start, threshold) + 1


# The last token set put in order, and its order. The router looks the same
# line up in two indexes and adds it to one: its set is sorted once, not
# three times. Held, so its id cannot be reused by another set meanwhile.
_last_sorted: tuple[frozenset[str], list[str]] = (frozenset(), [])


def _in_order(toks: frozenset[str]) -> list[str]:
    """sorted(toks), not to be changed by the caller."""
    global _last_sorted  # noqa: PLW0603  # a one-entry cache, see above
    held, ordered = _last_sorted
    if toks is not held:
        ordered = sorted(toks)
        _last_sorted = (toks, ordered)
    return ordered


class SimilarIndex(Generic[K]):
    """Token sets by key, to find one alike (at `threshold`) without comparing
    against them all: on a busy stream the router asks this for every line,
    against every waiting line and every recent answer.

    Prefix filtering, as in set-similarity joins: with the tokens in one
    fixed order, two sets of sizes n and m that share at least o tokens
    share one among the first n - o + 1 of the one and the first m - o + 1
    of the other. A set is indexed under (its size, token) for its longest
    such prefix; a lookup probes, for each size that could be alike, its own
    prefix for that size. "message number 12 for Mira" then meets only the
    sets that could be alike, not every line that says "message number".
    The index is by size first, so a size nothing has is skipped at once.

    Insertion-ordered throughout, so which of several alike sets is found
    does not depend on string hashing, and a replay finds the same one."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        # key -> (its set, the tokens it is indexed under)
        self._sets: dict[K, tuple[frozenset[str], list[str]]] = {}
        self._by_size: dict[int, dict[str, dict[K, None]]] = {}  # size -> token -> keys
        # _probes and _indexed_prefix at this threshold, by size: a dict
        # lookup by an int, where the module's caches hash a float too.
        self._probes: dict[int, tuple[tuple[int, int], ...]] = {}
        self._prefix: dict[int, int] = {}

    def add(self, key: K, toks: frozenset[str]) -> None:
        """Index `toks` under `key` (replacing what `key` had). Sets of fewer
        than two tokens are never alike anything, so they are not kept."""
        self.discard(key)
        m = len(toks)
        if m < 2:
            return
        length = self._prefix.get(m)
        if length is None:
            length = self._prefix[m] = _indexed_prefix(m, self.threshold)
        prefix = _in_order(toks)[:length]
        self._sets[key] = (toks, prefix)
        by_token = self._by_size.get(m)
        if by_token is None:
            by_token = self._by_size[m] = {}
        for token in prefix:
            keys = by_token.get(token)
            if keys is None:
                by_token[token] = {key: None}
            else:
                keys[key] = None

    def discard(self, key: K) -> None:
        held = self._sets.pop(key, None)
        if held is None:
            return
        toks, prefix = held
        m = len(toks)
        by_token = self._by_size[m]
        for token in prefix:
            keys = by_token[token]
            del keys[key]
            if not keys:
                del by_token[token]
        if not by_token:
            del self._by_size[m]

    def find(self, toks: frozenset[str]) -> K | None:
        """The first key found whose set is alike `toks`, or None."""
        n = len(toks)
        if n < 2 or not self._sets:
            return None
        threshold, sets, by_size = self.threshold, self._sets, self._by_size
        probes = self._probes.get(n)
        if probes is None:
            probes = self._probes[n] = _probes(n, threshold)
        ordered: list[str] | None = None
        for m, p in probes:
            by_token = by_size.get(m)
            if by_token is None:
                continue
            if ordered is None:
                ordered = _in_order(toks)
            for token in ordered[:p]:
                keys = by_token.get(token)
                if keys is not None:
                    for key in keys:
                        if alike(toks, sets[key][0], threshold):
                            return key
        return None

    def __len__(self) -> int:
        return len(self._sets)
