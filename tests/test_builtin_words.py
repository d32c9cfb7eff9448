"""The built-in blocked words: slurs and hate terms out by default, ordinary chat untouched."""

from __future__ import annotations

import pytest
from test_spam import _event

from actors.router import text as textlib
from actors.router.filters import FilterChain, FilterSettings
from actors.router.words import BlockedWords, builtin_blocked_words

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
