"""The spam classifier's shortcut: it tries a rule only where the rule's clue is.

Each rule's regex is read for a clue (strings one of which every match
contains), and a text is scanned for the clues before any rule is tried.
That must never change a verdict: here the classifier is held to a plain
reference that tries every rule, as the classifier did before it had
clues, on arbitrary text and on text made of the rules' own words, their
look-alike spellings, Korean, and the letters where case-insensitive
matching and casefolding part ways.
"""

from __future__ import annotations

import re
import re._parser as sre_parser
import sys
import tomllib
from functools import cache
from importlib import resources

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_spam import HAM, PROMO, SCAM

from actors.router.spam import _LOOK_ALIKES, RULES_FILE, SpamClassifier, _clue, _squeeze, builtin_classifier

TABLE = tomllib.loads((resources.files("actors") / "data" / RULES_FILE).read_text(encoding="utf-8"))


class Reference:
    """Every rule on both readings, case-insensitively: the classifier as it was."""

    def __init__(self, table):
        self.thresholds = {category: float(section["threshold"]) for category, section in table.items()}
        self.rules = [
            (category, re.compile(rule["re"], re.IGNORECASE), float(rule["weight"]), rule["note"])
            for category, section in table.items()
            for rule in section["rules"]
        ]

    def classify(self, text):
        plain = text.casefold()
        if not plain:
            return None
        folded = plain.translate(_LOOK_ALIKES)
        readings = (plain,) if folded == plain else (plain, folded)
        scores, notes = {}, {}
        for category, pattern, weight, note in self.rules:
            if any(pattern.search(reading) for reading in readings):
                scores[category] = scores.get(category, 0.0) + weight
                notes.setdefault(category, []).append(note)
        best = None
        for category, score in scores.items():
            if score >= self.thresholds[category] and (best is None or score > best[1]):
                best = (category, round(score, 3), tuple(notes[category]))
        return best


REFERENCE = Reference(TABLE)


def _verdict(text):
    verdict = builtin_classifier().classify(text)
    return None if verdict is None else (verdict.reason, verdict.score, verdict.notes)


# ---- texts worth trying ------------------------------------------------------------

# The rules' own words, from their sources with the escapes taken out.
_SOURCES = [rule["re"] for section in TABLE.values() for rule in section["rules"]]
KEYWORDS = sorted({word for source in _SOURCES for word in re.findall(r"\w+", re.sub(r"\\.", " ", source))})
# Spellings that casefold or IGNORECASE treat specially: the dotless ı (which
# IGNORECASE matches to i and casefold keeps), İ, the long ſ, the Kelvin
# sign, ß, full-width letters, and Cherokee (casefolded to upper case).
ODD_LETTERS = ["ı", "İ", "ſ", "K", "ß", "Ａ", "ｆｒｅｅ", "Ꭰ", "ꭰ", "ﬅ", "µ"]
SEPARATORS = [" ", "  ", ".", "/", "-", "_", "!", "?", ",", "\n", "😂", "~", "ㅋㅋ", " . ", "\u200b"]
KOREAN = ["미라", "방송", "오늘", "재밌어요", "해요", "들어오세요", "주세요", "드립니다", "님", "은", "는"]


def _look_alike(word: str) -> st.SearchStrategy[str]:
    """The word with some letters written as the digits and symbols that read as them."""
    back = {}
    for source, letter in _LOOK_ALIKES.items():
        back.setdefault(letter, []).append(chr(source))
    return st.tuples(*(st.sampled_from([ch, *back.get(ch, [])]) for ch in word)).map("".join)


_PIECES = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(KEYWORDS).flatmap(_look_alike),
    st.sampled_from(KEYWORDS).map(str.upper),
    st.sampled_from(SEPARATORS),
    st.sampled_from(KOREAN),
    st.sampled_from(ODD_LETTERS),
    st.text(max_size=3),
    st.from_regex(r"\d{1,4}x?", fullmatch=True),
)
BUILT = st.lists(_PIECES, max_size=12).map("".join)
# A labelled example with a piece put somewhere in it, or cut short.
NEAR_EXAMPLES = st.tuples(st.sampled_from(PROMO + SCAM + HAM), _PIECES, st.integers(0, 80), st.integers(0, 80)).map(
    lambda t: (t[0][: t[2]] + t[1] + t[0][t[2] :])[: max(t[3], 1)]
)


@settings(max_examples=400)
@given(st.text(max_size=80))
@example("FREE V BUCKS CLICK MY PROFILE")
@example("bıtcoin sıgnals")  # IGNORECASE reads ı as i
@example("ſub4ſub")
@example("")
def test_any_text_gets_the_reference_verdict(text):
    assert _verdict(text) == REFERENCE.classify(text)


@settings(max_examples=800)
@given(st.one_of(BUILT, NEAR_EXAMPLES))
@example("message me on discord")
@example("t.me/pumpzz and telegram group")
@example("fr33 v-buck$ 4 u")
@example("0nlyfans")
@example("19금 방송")
def test_texts_made_of_the_rules_words_get_the_reference_verdict(text):
    assert _verdict(text) == REFERENCE.classify(text)


@pytest.mark.parametrize("text", PROMO + SCAM + HAM)
def test_the_labelled_examples_get_the_reference_verdict(text):
    assert _verdict(text) == REFERENCE.classify(text)


@settings(max_examples=400)
@given(st.one_of(BUILT, NEAR_EXAMPLES, st.text(max_size=40)))
def test_a_rule_matches_only_where_its_clue_is(text):
    """Stronger than equal verdicts, which a missed weak rule might leave alike."""
    classifier = builtin_classifier()
    plain = text.casefold().replace("ı", "i")
    for reading in {plain, plain.translate(_LOOK_ALIKES)}:
        for rule in classifier.rules:
            if rule.pattern.search(reading):
                clue = _clue(rule.pattern)
                assert clue is None or any(s in _squeeze(reading) for s in clue), (rule.note, reading)


# Any table, not only the shipped one: small regexes over a few letters, so
# that clues overlap, contain one another, and hold look-alikes ("1" reads "i").
_ATOMS = st.sampled_from(["a", "i", "o", "ai", "ia", "1", "0!", r"\W", r"\d", "[ai]", "[1o]", r"\b", "."])
REGEXES = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(" + "|".join(parts) + ")"),
        inner.map(lambda part: f"(?:{part})?"),
        inner.map(lambda part: f"(?:{part})+"),
        inner.map(lambda part: f"(?:{part})*"),
        inner.map(lambda part: f"(?={part})"),
    ),
    max_leaves=8,
)
TABLES = st.lists(st.tuples(REGEXES, st.sampled_from([0.5, 1.0])), min_size=1, max_size=4).map(
    lambda rules: {
        "x": {
            "threshold": 1.0,
            "rules": [{"re": regex, "weight": weight, "note": str(i)} for i, (regex, weight) in enumerate(rules)],
        }
    }
)


@settings(max_examples=800)
@given(TABLES, st.text(alphabet="aio01! .ı", max_size=12))
@example(
    {
        "x": {
            "threshold": 1.0,
            "rules": [{"re": "aii", "weight": 0.5, "note": "0"}, {"re": "iia", "weight": 0.5, "note": "1"}],
        }
    },
    "aiia",
)
def test_any_table_gets_the_reference_verdict(table, text):
    verdict = SpamClassifier.from_table(table).classify(text)
    assert (None if verdict is None else (verdict.reason, verdict.score, verdict.notes)) == Reference(table).classify(
        text
    )


# ---- the clues ----------------------------------------------------------------------


def test_every_shipped_rule_has_a_clue():
    """Else it would be tried on every text, which is what the clues save."""
    for rule in builtin_classifier().rules:
        clue = _clue(rule.pattern)
        assert clue, rule.note
        assert all(s and s == s.casefold() for s in clue), (rule.note, clue)


@pytest.mark.parametrize(
    ("regex", "clue"),
    [
        (r"\bfree\b", {"free"}),
        # Non-word runs read as one space, so words joined by \W* or \W+ are one clue:
        (
            r"\bfree\W*(v\W*bucks?|robux)\b",
            {"free v buck", "freev buck", "free vbuck", "freevbuck", "free robux", "freerobux"},
        ),
        (
            r"(v\W*bucks?|robux)\W*free",
            {f"{w}{s}free" for w in ("v buck", "vbuck", "v bucks", "vbucks", "robux") for s in ("", " ")},
        ),
        (r"\bfree\W*(v\W*bucks?|robux|[a-z]+)\b", {"free"}),  # one branch names nothing
        (r"x\.?y", {"xy", "x y"}),  # an optional item is exact
        (r"x[.!/-]+y", {"x y"}),
        (r"bucks?", {"buck"}),  # "buck" is in "bucks"
        (
            r"(팔로워|구독자)\W*(구매|판매)",
            {f"{a}{s}{b}" for a in ("팔로워", "구독자") for s in ("", " ") for b in ("구매", "판매")},
        ),
        (
            r"(promo|promotion)\W+(your|ur)\W+stream",
            {f"{p} {y} stream" for p in ("promo", "promotion") for y in ("your", "ur")},
        ),
        (r"[$s]ub", {" ub", "sub"}),  # a small class is a set of literals; "$" is not a word character
        (r"(?=abc)d", {"d"}),  # a lookahead adds no characters
        (r"x+", {"x"}),
        (r"ab|cd", {"ab", "cd"}),
        (
            r"\bt\W*\.\W*me\W*/|\btelegram\W+(group|channel|me)\b",
            {"t me ", "telegram group", "telegram channel", "telegram me"},
        ),
        # Nothing every match must contain:
        (r"\w+", None),
        (r"(ab)?c*", None),
        (r"ab|\d", None),
        (r"[a-z]+", None),
        # Upper case: the rule keeps IGNORECASE, and is always tried.
        (r"FREE", None),
        (r"free|[A-Z]", None),
        (r"bıtcoin", None),
    ],
)
def test_the_clue_of_a_regex(regex, clue):
    assert _clue(re.compile(regex)) == (None if clue is None else frozenset(clue))


def test_a_rule_in_upper_case_still_matches_any_case():
    classifier = SpamClassifier.from_table(
        {"promo": {"threshold": 1.0, "rules": [{"re": r"\bFREE\s+Robux\b", "weight": 1.0, "note": "robux"}]}}
    )
    assert classifier.rules[0].pattern.flags & re.IGNORECASE
    verdict = classifier.classify("free robux")
    assert verdict is not None and verdict.notes == ("robux",)


def test_lower_case_rules_drop_ignorecase():
    assert not any(rule.pattern.flags & re.IGNORECASE for rule in builtin_classifier().rules)


@cache
def _casefolded_letters() -> str:
    """Every character that casefolding any character can produce."""
    return "".join(sorted({ch for cp in range(sys.maxunicode + 1) for ch in chr(cp).casefold()}))


def test_without_ignorecase_the_rules_letters_match_what_they_matched_in_casefolded_text():
    """Why the rules can drop IGNORECASE: in casefolded text, a rule's letter
    matches case-insensitively only itself, except i, which also matches the
    dotless ı (and classify reads ı as i)."""
    letters = set()

    def walk(node):
        if isinstance(node, tuple) and len(node) == 2 and node[0] is sre_parser.LITERAL:
            letters.add(chr(node[1]))
        elif isinstance(node, tuple | list | sre_parser.SubPattern):
            for child in node:
                walk(child)

    for source in _SOURCES:
        walk(sre_parser.parse(source))
    assert {"f", "i", "팔"} <= letters
    image = _casefolded_letters()
    for letter in letters:
        matched = set(re.findall(re.escape(letter), image, re.IGNORECASE))
        assert matched == ({"i", "ı"} if letter == "i" else {letter}), letter
