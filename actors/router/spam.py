"""First-message spam: a small classifier that explains itself.

The repeat, flood and rate filters need history: a spammer's first "FREE V
BUCKS CLICK MY PROFILE" got through, and the AI read it out. Promotion and
scams are recognisable from their content alone, so this classifier looks at
one text and nothing else.

It is a table of regular expressions with weights (`actors/data/spam_rules.toml`,
English and Korean), grouped in categories. A category's matched weights add
up; at its threshold the text is that category's spam, and the category is
the fate reason (`filtered:promo`, `filtered:scam`). The verdict names the
rules that matched, so a streamer who finds a false positive in the archive
can see why, and remove or soften that one rule.

Texts are matched twice: as they are (casefolded, after the router's
cleaning), and with look-alike digits and symbols read as letters
("fr33 v-buck$" as "free v-bucks"). A rule that matches either counts once.
Pure: no Trio, no state; the filter chain caches verdicts per text.

Trying every rule on every text cost tens of microseconds, on chat that is
almost never spam. So each rule's regex is read, with `re`'s own parser,
for a clue: strings one of which every match contains ("free" for
`\\bfree\\W*(robux|...)`, the five nouns of `(팔로워|구독자|...)\\W*(구매|...)`).
A scan of the text for all the clues says which rules can match at all;
on most chat, none. A rule whose regex gives no clue (only classes, or
upper-case letters) is always tried. The verdicts are those of trying
every rule: property tests hold the two to it (tests/test_spam_prefilter.py).

Clues are read with every run of non-word characters as one space (the
text "t . me/" as "t me "), because the rules join their words with `\\W*`
and `\\W+`: then "message me on" is one clue, which "message number 7"
does not contain, where the word "message" alone would be found in any
chat about messages (and "me" in every "game" and "time").
"""

from __future__ import annotations

import functools
import re
import re._parser as _sre  # type: ignore[import-not-found]  # re's own parser, which has no stubs
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import attrs

from .words import _Trie

RULES_FILE = "spam_rules.toml"

# Digits and symbols that spammers put for letters. Applied only to the
# second reading, so "100x profit" still reads as a number in the first.
_LOOK_ALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_ASCII_LOOK_ALIKES = bytes.maketrans(
    "".join(map(chr, _LOOK_ALIKES)).encode(), "".join(map(str, _LOOK_ALIKES.values())).encode()
)
_HAS_LOOK_ALIKE = re.compile("[" + re.escape("".join(map(chr, _LOOK_ALIKES))) + "]")
# The look-alikes that are not word characters ("@", "$", "!"): reading them
# as letters joins words, so the two readings differ in where their spaces are.
_HAS_SYMBOL_LOOK_ALIKE = re.compile(
    "[" + re.escape("".join(chr(c) for c in _LOOK_ALIKES if not chr(c).isalnum())) + "]"
)
_NON_WORD_RUN = re.compile(r"\W+")


def _squeeze(text: str) -> str:
    """Every run of non-word characters as one space: how clues are read."""
    return _NON_WORD_RUN.sub(" ", text)


@attrs.frozen
class Rule:
    category: str
    pattern: re.Pattern[str]  # searched in the readings: casefolded, with the dotless "ı" as "i"
    weight: float
    note: str


@attrs.frozen
class Verdict:
    reason: str  # the category: the fate reason
    score: float
    notes: tuple[str, ...]  # the rules that matched, by their notes


class SpamClassifier:
    def __init__(self, rules: Iterable[Rule], thresholds: Mapping[str, float]) -> None:
        self.rules = tuple(rules)
        self.thresholds = dict(thresholds)
        clues = [_clue(rule.pattern) for rule in self.rules]
        self._always = frozenset(i for i, clue in enumerate(clues) if clue is None)
        rules_for: dict[str, set[int]] = {}  # a string -> the rules whose clue holds it
        for i, clue in enumerate(clues):
            for string in clue or ():
                rules_for.setdefault(string, set()).add(i)
        # A scan reports, at each position, the longest string found there;
        # a shorter one found there is a prefix of it, and its rules count too.
        self._rules_for = {
            s: frozenset(i for t, rules in rules_for.items() if s.startswith(t) for i in rules) for s in rules_for
        }
        # ASCII text (most English chat) can hold only ASCII strings, and a
        # scan for those alone is 2x faster: `re` tries fewer branches at each
        # position. Text with other letters gets a second scan for the rest.
        self._scan_ascii = _scanner(s for s in rules_for if s.isascii())
        self._scan_other = _scanner(s for s in rules_for if not s.isascii())
        # The second reading differs from the first only where the first has a
        # look-alike: a string without one that is in the first is in the
        # second too, and only strings with one ("sub4sub") need the first.
        # That holds while the look-alikes are digits; a symbol one ("fr$e")
        # moves a space, and then the first reading is scanned for everything.
        self._scan_look_alikes = _scanner(s for s in rules_for if _HAS_LOOK_ALIKE.search(s))

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> SpamClassifier:
        """From the TOML shape: [category] threshold = ..., rules = [{re, weight, note}]."""
        rules: list[Rule] = []
        thresholds: dict[str, float] = {}
        for category, section in table.items():
            thresholds[category] = float(section["threshold"])
            for rule in section["rules"]:
                # On the readings a lower-case regex matches as it would with
                # IGNORECASE (see _lowercase), and 10-30% faster.
                flags = 0 if _lowercase(_sre.parse(rule["re"])) else re.IGNORECASE
                pattern = re.compile(rule["re"], flags)
                rules.append(Rule(category, pattern, float(rule["weight"]), str(rule["note"])))
        return cls(rules, thresholds)

    def classify(self, text: str) -> Verdict | None:
        """The spam category `text` belongs to, with why; None for chat."""
        plain = text.casefold()
        if not plain:
            return None
        if "ı" in plain:  # the one letter IGNORECASE equates to another that casefold keeps (see _lowercase)
            plain = plain.replace("ı", "i")
        readings = _readings(plain)
        candidates = self._candidates(readings)
        if not candidates:
            return None
        scores: dict[str, float] = {}
        notes: dict[str, list[str]] = {}
        first, *second = readings  # one or two
        for i in sorted(candidates):  # table order, the order of the notes
            rule = self.rules[i]
            search = rule.pattern.search
            if search(first) or (second and search(second[0])):
                scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
                notes.setdefault(rule.category, []).append(rule.note)
        best: Verdict | None = None
        for category, score in scores.items():
            if score >= self.thresholds[category] and (best is None or score > best.score):
                best = Verdict(category, round(score, 3), tuple(notes[category]))
        return best

    def _candidates(self, readings: tuple[str, ...]) -> frozenset[int]:
        """The rules (by index) whose clue is in a reading, and those that have none."""
        *first, last = readings  # the last: with look-alikes read as letters, if there were any
        found = self._always | self._found(self._scan_ascii, last)
        if not last.isascii():
            found |= self._found(self._scan_other, last)
        if first:
            if _HAS_SYMBOL_LOOK_ALIKE.search(first[0]):
                found |= self._found(self._scan_ascii, first[0])
                if not first[0].isascii():
                    found |= self._found(self._scan_other, first[0])
            found |= self._found(self._scan_look_alikes, first[0])
        return found

    def _found(self, scan: re.Pattern[str] | None, reading: str) -> frozenset[int]:
        found: frozenset[int] = frozenset()
        if scan is None:
            return found
        rules_for = self._rules_for
        match = scan.search(reading)
        while match is not None:
            string = match[0]  # as written: squeezed, unless its non-word runs are single spaces already
            found |= rules_for.get(string) or rules_for[_squeeze(string)]
            match = scan.search(reading, match.start() + 1)  # not from its end: clues may overlap
        return found


def _scanner(strings: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all the strings: a prefix tree, so `re` tries only the
    branch of the character in front of it at each position. A space in a
    (squeezed) string is a run of non-word characters in the text."""
    trie = _Trie()
    for string in strings:
        trie.add(r"\W+" if ch == " " else re.escape(ch) for ch in string)
    return re.compile(trie.pattern()) if trie.children else None


def _readings(plain: str) -> tuple[str, ...]:
    """The text as it is, and with look-alikes read as letters if it has any."""
    if plain.isascii():  # bytes translate 5x faster than str, and then comparing is cheaper than searching
        second = plain.encode().translate(_ASCII_LOOK_ALIKES).decode()
    elif _HAS_LOOK_ALIKE.search(plain):
        second = plain.translate(_LOOK_ALIKES)
    else:
        return (plain,)
    return (plain,) if second == plain else (plain, second)


@functools.cache
def builtin_classifier() -> SpamClassifier:
    """The rules that ship with the package."""
    text = (resources.files("actors") / "data" / RULES_FILE).read_text(encoding="utf-8")
    return SpamClassifier.from_table(tomllib.loads(text))


# ---- the strings a match needs -------------------------------------------------------
#
# Read from `re`'s parse tree: a list of (opcode, argument) items, matched
# one after another. Each item gives the exact strings it can match, when
# there are few (a literal, [$s], a group of literal alternatives), and
# strings one of which any match of it contains. A run of exact items
# contains one of their concatenations. A sequence contains what each of
# its runs and other items contains: any of those is a clue, and the best
# is the one whose shortest string has the most word characters. An
# alternation contains what one of its branches does. A class or a long
# repeat contains nothing that can be named.
#
# Strings are read squeezed (see _squeeze): "." and \W+ are exactly " ",
# \W* and \W? are "" or " ", and a concatenation is squeezed again, so
# "t", \W*, ".", \W*, "me" is exactly "t me". A text that a regex matches
# holds, squeezed, the squeezed match: a space at either end of it merges
# into the text's own run, and a clue string is still found there.

_ZERO_WIDTH = frozenset({""})  # what \b or a lookaround adds to the match
_MAX_EXACT = 64  # past this many alternatives, concatenating exact strings is not worth it

_Strings = frozenset[str] | None  # None: unknown (exact strings) or nothing to name (a clue)
_Analysis = tuple[_Strings, _Strings]  # (the exact strings an item matches, a clue to it)


def _clue(pattern: re.Pattern[str]) -> _Strings:
    """Strings one of which occurs in every text `pattern` matches, as
    `classify` reads it; None if no such strings can be named."""
    tree = _sre.parse(pattern.pattern, pattern.flags)
    return _as_clue(*_sequence(tree)) if _lowercase(tree) else None


def _as_clue(exact: _Strings, clue: _Strings) -> _Strings:
    """The exact strings if they cannot be empty, else the clue; without the
    strings that hold another ("bucks" holds "buck")."""
    strings = exact if exact is not None and "" not in exact else clue
    return None if strings is None else frozenset(s for s in strings if not any(t != s and t in s for t in strings))


def _sequence(items: Any) -> _Analysis:
    clues: list[_Strings] = []
    run = _ZERO_WIDTH  # the exact strings of the items since the last inexact one, concatenated
    all_exact = True
    for op, arg in items:
        exact, clue = _item(op, arg)
        if exact is not None and len(run) * len(exact) <= _MAX_EXACT:
            run = frozenset(_squeeze(a + b) for a in run for b in exact)
            continue
        all_exact = False
        clues += [_as_clue(run, None), clue]
        run = exact if exact is not None else _ZERO_WIDTH
    clues.append(_as_clue(run, None))
    named = [clue for clue in clues if clue is not None]
    best = max(named, key=lambda strings: (min(map(_word_length, strings)), -len(strings)), default=None)
    return (run if all_exact else None), best


def _word_length(string: str) -> int:
    return len(string) - string.count(" ")


_SPACE = frozenset({" "})
_MAYBE_SPACE = frozenset({"", " "})


def _item(op: Any, arg: Any) -> _Analysis:
    if op is _sre.LITERAL:
        return frozenset({_squeeze(chr(arg))}), None
    if op is _sre.IN and all(kind is _sre.LITERAL for kind, _ in arg):  # [$s]: not negated, no ranges
        return frozenset(_squeeze(chr(code)) for _, code in arg), None
    if op is _sre.IN and arg == [(_sre.CATEGORY, _sre.CATEGORY_NOT_WORD)]:  # \W
        return _SPACE, None
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return _ZERO_WIDTH, None
    if op is _sre.SUBPATTERN:
        return _sequence(arg[-1])
    if op is _sre.ATOMIC_GROUP:
        return _sequence(arg)
    if op is _sre.BRANCH:
        branches = [_sequence(branch) for branch in arg[1]]
        exacts = [exact for exact, _ in branches]
        clues = [_as_clue(*branch) for branch in branches]
        union = frozenset[str]().union(*(exact for exact in exacts if exact is not None))
        return (
            union if None not in exacts and len(union) <= _MAX_EXACT else None,
            None if None in clues else frozenset[str]().union(*(clue for clue in clues if clue is not None)),
        )
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, high, body = arg
        exact, clue = _sequence(body)
        if exact is not None and exact <= _MAYBE_SPACE:  # \W*, \W+, [.\-]*: a run, squeezed
            return (exact if low >= 1 else exact | {""}), None
        if exact is not None and high <= 1:  # x?
            return (exact | {""} if low == 0 else exact), None
        return None, (_as_clue(exact, clue) if low >= 1 else None)
    return None, None  # a class, any character, a backreference: nothing to name


def _lowercase(node: Any) -> bool:
    """Whether every character the parse tree names (literals, class members,
    ranges) is one that casefold leaves as it is, other than "ı".

    On casefolded text IGNORECASE then changes one thing only: `re` matches
    "i" to the dotless "ı", which casefold keeps. The readings have "ı" as
    "i", so such a regex matches them the same with IGNORECASE or without,
    and the strings it needs occur in them exactly as written.
    """
    op = node[0] if isinstance(node, tuple) and len(node) == 2 else None
    if op is _sre.LITERAL or op is _sre.NOT_LITERAL:
        return _stays(chr(node[1]))
    if op is _sre.RANGE:
        return all(_stays(chr(code)) for code in range(node[1][0], node[1][1] + 1))
    if isinstance(node, tuple | list | _sre.SubPattern):
        return all(_lowercase(child) for child in node)
    return True


def _stays(ch: str) -> bool:
    return ch.casefold() == ch and ch != "ı"
