"""The built-in blocked words: slurs and hate terms out by default, ordinary chat untouched."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_spam import _event

from actors.router import text as textlib
from actors.router.filters import FilterChain, FilterSettings
from actors.router.text import _fold
from actors.router.words import _INVISIBLE, _NON_LETTERS, _SPACES, BlockedWords, builtin_blocked_words

BLOCKED = [
    "you chink",
    "짱깨 꺼져",
    "짱.깨",
    "병1신아",
    "병신아",
    "n i g g e r",
    "r e t a r d",
    "짱깨들",
    "faggots lol",
]
# Everyday chat that contains a built-in word's letters: across a space in
# Korean, inside a longer word in English, or mild swearing (not a slur).
ALLOWED = [
    "방이 짱 깨끗하다",
    "맘 충분히 쉬세요",
    "병 신고 하세요",
    "틀 딱 맞다",
    "김치 녀석",
    "급식 충분해",
    "된장 녀석들",
    "감자 튀기는 중",
    "spicy food",
    "a raccoon!",
    "fire retardant",
    "skyscraper",
    "damn that was close",
    "shit, I died",
    "아 씨 졌다",
    "ㅅㅂ 어렵네",
]


@pytest.fixture(scope="module")
def builtin() -> BlockedWords:
    return BlockedWords(builtin_blocked_words(), across_spaces=False)


@pytest.mark.parametrize("text", BLOCKED)
def test_slurs_are_blocked(builtin, text):
    assert builtin.find(text) is not None


@pytest.mark.parametrize("text", ALLOWED)
def test_ordinary_chat_and_mild_swearing_are_not(builtin, text):
    assert builtin.find(text) is None


def test_on_by_default_and_off_by_the_setting():
    text = textlib.sanitize("짱깨 꺼져", max_graphemes=200)
    key = textlib.comparison_key(text)
    assert FilterChain(FilterSettings(), dedupe_ids=10).check(_event(text), text, key) == "blocked_word"
    off = FilterChain(FilterSettings(blocked_words_builtin=False), dedupe_ids=10)
    assert off.check(_event(text), text, key) is None


def test_a_streamer_s_own_words_still_match_across_spaces():
    assert BlockedWords(["시발"]).find("시 발") == "시발"


# ---- find's shortcuts change no answer ------------------------------------------------
#
# `find` skips the Hangul/kana/Han regex on ASCII text and the removal of
# invisibles where a quick search finds none. The reference below does
# neither: every regex on every text.


def _reference_find(words: BlockedWords, text: str) -> str | None:
    folded = _fold(text)
    if words._unspaced_re is not None and (m := words._unspaced_re.search(folded)):
        return words._unspaced[_NON_LETTERS.sub("", m[0])]
    if words._spaced_re is not None and (m := words._spaced_re.search(_INVISIBLE.sub("", folded))):
        found = _SPACES.sub(" ", m[0])
        return words._literal.get(found) or words._spelled.get(_NON_LETTERS.sub("", found), found)
    return None


# Zero-width and format characters, in the BMP and beyond it, and a variation selector.
_INVISIBLES = ["\u200b", "\u200d", "\u2060", "\u00ad", "\ufe0f", "\U000e0001", "\U0001d173", "\U000e0100"]
_PIECES = st.one_of(
    st.sampled_from(builtin_blocked_words()),
    st.sampled_from(builtin_blocked_words()).map(str.upper),
    st.sampled_from(builtin_blocked_words()).map(" ".join),
    st.sampled_from([" ", ".", "1", "_", "-", "😂", "ㅋ", "님", "충분히", "spicy", "class", "Ｎ", "ｉ"]),
    st.sampled_from(_INVISIBLES),
    st.text(max_size=3),
)
_TEXTS = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=10).map("".join))
_BUILTIN = BlockedWords(builtin_blocked_words(), across_spaces=False)
_STREAMER_S = BlockedWords(["시발", "spam", "18", "ｆｏｏ bar", "맘충"])  # across spaces, a digit, two words


@settings(max_examples=500)
@given(_TEXTS)
@example("n\u200bigger")
@example("짱\ufe0f깨")
@example("shit")
def test_the_builtin_words_find_what_every_regex_on_every_text_finds(text):
    assert _BUILTIN.find(text) == _reference_find(_BUILTIN, text)


@settings(max_examples=200)
@given(_TEXTS)
def test_a_streamer_s_words_find_what_every_regex_on_every_text_finds(text):
    assert _STREAMER_S.find(text) == _reference_find(_STREAMER_S, text)
