"""The first-message spam classifier, on labelled examples written for it.

Spam that needs no history (promotion, scams), in English and Korean, beside
ordinary chat that shares their words: a viewer asking whether a game is
free, or saying they bought bitcoin once, is not spam.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.router.spam import SpamClassifier, builtin_classifier

PROMO = [
    "FREE V BUCKS CLICK MY PROFILE",
    "fr33 v-buck$ at my channel!!",
    "free robux for everyone, check my bio",
    "Check out my profile for a surprise 😉",
    "link in bio 🔥🔥",
    "Buy real followers and viewers cheap! best prices",
    "get 1k followers today",
    "sub4sub anyone?",
    "I can promote your stream, dm me",
    "viewer bot that works, message me on discord",
    "Free nitro giveaway, DM me",
    "팔로워 구매 문의 주세요",
    "시청자 늘려드립니다 카톡 문의",
    "무료 충전 쿠폰 받아가세요",
    "제 채널 프로필 클릭해주세요 ㅎㅎ",
    "방송 홍보 해드려요",
    "구독자 늘리기 작업 해드립니다",
]
SCAM = [
    "Crypto signals group: 10x profit guaranteed, join t.me/pumpzz",
    "BTC giveaway! send 0.1 get 0.2 back",
    "double your money with my binance trading group",
    "guaranteed profit every day, telegram me",
    "hot singles in your area",
    "check my onlyfans",
    "best casino bonus code here",
    "코인 리딩방 들어오세요 수익 보장",
    "주식 리딩 무료 체험",
    "토토 사이트 추천 가입 코드 드려요",
    "고수익 부업 문의",
    "19금 방송 보러 오세요",
]
HAM = [
    "is the game free to play?",
    "what's in your bio?",
    "I bought bitcoin once lol, lost it all",
    "free hugs for the streamer ❤️",
    "my profile picture is a cat",
    "can you check the chat?",
    "how many followers do you have now?",
    "the giveaway last week was so fun",
    "I'm on Discord too!",
    "is it 100x harder on hard mode?",
    "the casino level in this game is hard",
    "congrats on 1k followers!!",
    "팔로우 했어요!",
    "구독했어요 화이팅",
    "링크 뭐에요?",
    "코인 모으는 게임인가요?",
    "무료 게임이에요?",
    "프로필 사진 바꿨어요?",
    "오늘 방송 재밌어요 ㅋㅋㅋ",
    "토토로 좋아해요?",
    "수익 얘기는 그만~",
    "what do you think about telegram vs discord?",
]


@pytest.fixture(scope="module")
def classifier() -> SpamClassifier:
    return builtin_classifier()


@pytest.mark.parametrize("text", PROMO)
def test_promotion_is_recognised_on_its_first_appearance(classifier, text):
    verdict = classifier.classify(text)
    assert verdict is not None and verdict.reason == "promo", text
    assert verdict.notes  # it says which rules matched


@pytest.mark.parametrize("text", SCAM)
def test_scams_are_recognised_on_their_first_appearance(classifier, text):
    verdict = classifier.classify(text)
    assert verdict is not None and verdict.reason == "scam", text


@pytest.mark.parametrize("text", HAM)
def test_ordinary_chat_that_shares_their_words_is_not_spam(classifier, text):
    assert classifier.classify(text) is None, classifier.classify(text)


def test_weak_signals_need_company():
    classifier = SpamClassifier.from_table(
        {
            "promo": {
                "threshold": 1.0,
                "rules": [
                    {"re": r"\bfree\b", "weight": 0.5, "note": "free"},
                    {"re": r"\bdm me\b", "weight": 0.5, "note": "dm"},
                ],
            }
        }
    )
    assert classifier.classify("free stuff") is None
    verdict = classifier.classify("free stuff, dm me")
    assert verdict is not None and verdict.score == 1.0 and verdict.notes == ("free", "dm")


@given(st.text(max_size=200))
def test_any_text_gets_a_verdict_without_raising(text):
    verdict = builtin_classifier().classify(text)
    assert verdict is None or verdict.reason in ("promo", "scam")


def _event(text: str, *, paid: bool = False):
    from datetime import UTC, datetime
    from decimal import Decimal

    from actors.chat import Amount, Author, ChatEvent, Kind, Platform

    return ChatEvent(
        Platform.YOUTUBE,
        f"id-{abs(hash(text))}-{paid}",
        Kind.DONATION if paid else Kind.CHAT,
        Author("UCspam", "spammer"),
        text,
        Amount(Decimal(5), "USD", "$5.00") if paid else None,
        datetime(2026, 11, 24, tzinfo=UTC),
    )


def test_the_filter_chain_gives_the_category_as_the_fate_reason_on_a_first_message():
    from actors.router import text as textlib
    from actors.router.filters import FilterChain, FilterSettings

    chain = FilterChain(FilterSettings(), dedupe_ids=100)
    for raw, expected in [("FREE V BUCKS CLICK MY PROFILE", "promo"), ("코인 리딩방 들어오세요", "scam")]:
        text = textlib.sanitize(raw, max_graphemes=200)
        assert chain.check(_event(raw), text, textlib.comparison_key(text)) == expected
    # What the audience paid for is never judged by content heuristics.
    text = textlib.sanitize("free robux giveaway", max_graphemes=200)
    assert chain.check(_event("free robux giveaway", paid=True), text, textlib.comparison_key(text)) is None
    # And the streamer can turn it off.
    off = FilterChain(FilterSettings(content_spam=False), dedupe_ids=100)
    text = textlib.sanitize("link in bio", max_graphemes=200)
    assert off.check(_event("link in bio"), text, textlib.comparison_key(text)) is None
