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
- Laughter and filler carry no meaning ("lol", "ㅋㅋ", "haha"): dropped.

At the default threshold (0.75) a name call or a "lol" more or less still
matches ("mira do you like cats" vs "do you like cats": 4/5), while another
question with the same frame does not ("do you like dogs": 3/5, "떡볶이
좋아해?" vs "치킨 좋아해?": 2/5). A line with fewer than two tokens matches
only on its comparison key, since one shared word says little.

Pure, standard library only; token sets are cached, chat repeats itself.
"""

from __future__ import annotations

import functools
import re

from .text import _fold

# Words: runs of letters and digits (the Unicode \w, without "_").
_WORD = re.compile(r"[^\W_]+")
_HANGUL_SYLLABLES = re.compile(r"[가-힣]")
# Laughter, crying and filler: letters of jamo only, or these words.
_JAMO_ONLY = re.compile(r"[\u3131-\u318e]+")
_FILLER = frozenset(
    {
        *("lol", "lmao", "lmfao", "rofl", "haha", "hahaha", "hehe", "kek", "kekw", "xd", "omg", "pls", "plz"),
        *("ngl", "fr", "tbh", "btw", "ok", "okay", "oh", "ah", "um", "uh", "hm", "hmm", "yo"),
    }
)

DEFAULT_THRESHOLD = 0.75


@functools.lru_cache(maxsize=8192)
def tokens(text: str) -> frozenset[str]:
    """The tokens of one chat line (see the module docstring)."""
    out: set[str] = set()
    for word in _WORD.findall(_fold(text).replace("'", "").replace("\u2019", "")):
        if word in _FILLER or _JAMO_ONLY.fullmatch(word):
            continue
        if _HANGUL_SYLLABLES.search(word) is None:
            out.add(word)
            continue
        stem = word[:-1] if len(word) > 1 and word[-1] == "요" else word
        if len(stem) == 1:
            out.add(stem)
        else:
            out.update(stem[i : i + 2] for i in range(len(stem) - 1))
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
