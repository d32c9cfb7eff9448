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
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import attrs

RULES_FILE = "spam_rules.toml"

# Digits and symbols that spammers put for letters. Applied only to the
# second reading, so "100x profit" still reads as a number in the first.
_LOOK_ALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})


@attrs.frozen
class Rule:
    category: str
    pattern: re.Pattern[str]
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

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> SpamClassifier:
        """From the TOML shape: [category] threshold = ..., rules = [{re, weight, note}]."""
        rules: list[Rule] = []
        thresholds: dict[str, float] = {}
        for category, section in table.items():
            thresholds[category] = float(section["threshold"])
            for rule in section["rules"]:
                pattern = re.compile(rule["re"], re.IGNORECASE)
                rules.append(Rule(category, pattern, float(rule["weight"]), str(rule["note"])))
        return cls(rules, thresholds)

    def classify(self, text: str) -> Verdict | None:
        """The spam category `text` belongs to, with why; None for chat."""
        plain = text.casefold()
        if not plain:
            return None
        folded = plain.translate(_LOOK_ALIKES)
        readings = (plain,) if folded == plain else (plain, folded)
        scores: dict[str, float] = {}
        notes: dict[str, list[str]] = {}
        for rule in self.rules:
            if any(rule.pattern.search(reading) for reading in readings):
                scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
                notes.setdefault(rule.category, []).append(rule.note)
        best: Verdict | None = None
        for category, score in scores.items():
            if score >= self.thresholds[category] and (best is None or score > best.score):
                best = Verdict(category, round(score, 3), tuple(notes[category]))
        return best


@functools.cache
def builtin_classifier() -> SpamClassifier:
    """The rules that ship with the package."""
    text = (resources.files("actors") / "data" / RULES_FILE).read_text(encoding="utf-8")
    return SpamClassifier.from_table(tomllib.loads(text))
