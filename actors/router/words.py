"""Blocked words: NFKC, case-insensitive and Korean-aware (see BlockedWords).

Split from text.py, whose Unicode tables and folding it reuses: spam spells
a blocked word out ("s.p.a.m", "시 발", full-width, zero-width joiners), so
matching works on the folded letters, not on the raw text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

from .text import _CATEGORY, _VARIATION_SELECTORS, _class, _fold

# Scripts written without spaces between words (Hangul, kana, Han): a word
# there is matched as a substring, because particles attach to nouns.
_UNSPACED_SCRIPT = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc\U00020000-\U0003ffff]"
)
_SEPARATOR = r"[\W\d_]"  # anything but a letter: spaces, punctuation, digits, marks, emoji, invisibles
_SEPARATOR_NOT_SPACE = r"(?:[^\w\s]|[\d_])"
_NON_LETTERS = re.compile(_SEPARATOR + "+")
_INVISIBLE_POINTS = [*_CATEGORY["Cf"], *_VARIATION_SELECTORS]
_INVISIBLE = re.compile(_class(_INVISIBLE_POINTS) + "+")
# A superset that `re` finds 3x faster: most texts have no invisibles to remove.
_MAYBE_INVISIBLE = re.compile(_class(_INVISIBLE_POINTS, loose=True))
_SPACES = re.compile(r"\s+")


class _Trie:
    """Alternatives as a prefix tree, emitted as one regex.

    `re` tries every branch of "a|b|c" at every position; a tree checks one
    branch per distinct next token, which keeps a long word list cheap.
    """

    __slots__ = ("children", "end")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.end = False

    def add(self, tokens: Iterable[str]) -> None:
        node = self
        for token in tokens:
            node = node.children.setdefault(token, _Trie())
        node.end = True

    def pattern(self) -> str:
        parts, node = [], self
        while len(node.children) == 1 and not node.end:  # a chain: no group, no recursion
            ((token, node),) = node.children.items()
            parts.append(token)
        if node.children:
            branches = "|".join(token + child.pattern() for token, child in node.children.items())
            parts.append(f"(?:{branches})?" if node.end else f"(?:{branches})")  # greedy: longest word first
        return "".join(parts)


def _whole(tokens: list[str], first: str, last: str) -> list[str]:
    """Tokens that match only as a whole word: no letter (no alphanumeric,
    for a digit: "18" is not in "2018") may touch either end.

    The left check is a lookbehind placed after the first character, so the
    regex still starts with a literal and `re` can skip ahead at C speed.
    """
    before = r"[^\W_]" if first.isdigit() else r"[^\W\d_]"
    after = r"[^\W_]" if last.isdigit() else r"[^\W\d_]"
    tokens = tokens.copy()
    tokens[0] += f"(?<!{before}.)"
    tokens[-1] += f"(?!{after})"
    return tokens


def _spread(letters: str, separator: str) -> list[str]:
    """Tokens for the letters with `separator` between every two: s[sep]p[sep]a[sep]m."""
    tokens = [re.escape(letters[0])]
    for letter in letters[1:]:
        tokens += [separator, re.escape(letter)]
    return tokens


class BlockedWords:
    """A blocked-word list, compiled once; `find` returns the word a text contains.

    Matching is on NFKC + casefold; zero-width and format characters count
    as absent.
    - Hangul, kana or Han words match as substrings of the text's letters,
      so spaces, punctuation, digits or emoji between them do not help:
      "시 발" and "시1발" match "시발".
    - Other words (Latin, Cyrillic...) match as whole words ("class" does
      not contain "ass"), or spelled out with separators between every
      letter ("s.p.a.m", "s p a m").
    - A word with digits ("18") matches only as it is written, as a whole word.
    When a text holds several, which one is reported is deterministic but
    unspecified.
    """

    def __init__(self, words: Iterable[str], *, across_spaces: bool = True) -> None:
        """`across_spaces=False`: a Hangul, kana or Han word must be written
        without spaces inside it (other separators still count as absent).
        For a list that is on by default: "맘 충분히" must not read as "맘충"."""
        self._unspaced: dict[str, str] = {}  # letters -> word
        self._literal: dict[str, str] = {}  # folded word -> word
        self._spelled: dict[str, str] = {}  # letters -> word
        unspaced, spaced = _Trie(), _Trie()
        for word in words:
            folded = _SPACES.sub(" ", _INVISIBLE.sub("", _fold(word))).strip()
            letters = _NON_LETTERS.sub("", folded)
            has_digit = any(ch.isdigit() for ch in folded)
            if letters and not has_digit and _UNSPACED_SCRIPT.search(letters):
                self._unspaced.setdefault(letters, word)
                unspaced.add(_spread(letters, (_SEPARATOR if across_spaces else _SEPARATOR_NOT_SPACE) + "*"))
            elif folded:
                self._literal.setdefault(folded, word)
                literal = [r"\s+" if ch == " " else re.escape(ch) for ch in folded]
                spaced.add(_whole(literal, folded[0], folded[-1]))
                if len(letters) >= 2 and not has_digit:
                    self._spelled.setdefault(letters, word)
                    spaced.add(_whole(_spread(letters, _SEPARATOR + "+"), letters[0], letters[-1]))
        self._unspaced_re = re.compile(unspaced.pattern()) if self._unspaced else None
        self._spaced_re = re.compile(spaced.pattern()) if self._literal else None

    def find(self, text: str) -> str | None:
        if self._spaced_re is None and self._unspaced_re is None:
            return None
        folded = _fold(text)
        is_ascii = folded.isascii()  # then it has no Hangul, kana or Han, and no invisibles
        if not is_ascii and self._unspaced_re is not None and (m := self._unspaced_re.search(folded)):
            return self._unspaced[_NON_LETTERS.sub("", m[0])]
        if self._spaced_re is not None:
            plain = folded if is_ascii or not _MAYBE_INVISIBLE.search(folded) else _INVISIBLE.sub("", folded)
            if m := self._spaced_re.search(plain):
                found = _SPACES.sub(" ", m[0])
                return self._literal.get(found) or self._spelled.get(_NON_LETTERS.sub("", found), found)
        return None


@functools.lru_cache(maxsize=8)
def _compiled(words: tuple[str, ...]) -> BlockedWords:
    return BlockedWords(words)


def find_blocked_word(text: str, words: Iterable[str]) -> str | None:
    """The blocked word `text` contains, or None; see `BlockedWords`."""
    return _compiled(tuple(words)).find(text)


BUILTIN_FILE = "blocked_words.txt"


@functools.cache
def builtin_blocked_words() -> tuple[str, ...]:
    """The slurs and hate terms that ship with the package, one per line, # for comments."""
    text = (resources.files("actors") / "data" / BUILTIN_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
