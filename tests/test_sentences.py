"""OLV's sentences joined into one reply: a space where English or Korean
puts one, none inside Japanese or Chinese (actors/session/sentences.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.session.olv_protocol import Mode, OlvTurns, Timing
from actors.session.sentences import is_unspaced, join_sentences


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (["Hello there!", "Nice to meet you."], "Hello there! Nice to meet you."),
        (["[joy] Hi there! ", "Nice to see you."], "[joy] Hi there! Nice to see you."),  # no double space
        (["One.", " Two."], "One. Two."),
        (["안녕하세요!", "반가워요."], "안녕하세요! 반가워요."),  # Korean spaces its sentences
        (["こんにちは。", "元気ですか？"], "こんにちは。元気ですか？"),
        (["你好！", "很高兴认识你。"], "你好！很高兴认识你。"),
        (["はい。", "OK, let's go."], "はい。 OK, let's go."),  # a seam between scripts gets its space
        (["Only one."], "Only one."),
        (["", "a.", "", "b."], "a. b."),
        ([], ""),
    ],
)
def test_sentences_are_joined_as_the_language_writes(parts, joined):
    assert join_sentences(parts) == joined


@given(st.lists(st.text(max_size=8)))
def test_joining_only_ever_adds_single_spaces_at_bare_seams(parts):
    joined = join_sentences(parts)
    # Nothing is lost or reordered: taking the added spaces out gives OLV's own text.
    assert joined.replace(" ", "") == "".join(parts).replace(" ", "")
    assert len(joined) - len("".join(parts)) <= max(0, len([p for p in parts if p]) - 1)


@given(st.lists(st.text(alphabet="こ漢。！", min_size=1, max_size=4)))
def test_japanese_and_chinese_sentences_are_never_spaced(parts):
    assert join_sentences(parts) == "".join(parts)
    assert all(is_unspaced(c) for c in "".join(parts))


def test_the_interrupt_carries_the_same_spaced_text_as_the_reply():
    """What the audience heard becomes the AI's memory: spaced like the log."""
    m = OlvTurns(Mode.CLIENT_WS, Timing(start_timeout=5.0, llm_budget=30.0, turn_margin=5.0))
    m.text_input("hi", 0.0)
    m.receive({"type": "control", "text": "conversation-chain-start"}, 0.1)
    for at, sentence in ((0.2, "Hello there!"), (0.3, "Nice to meet you.")):
        payload = {"text": sentence, "name": "Mao", "avatar": "mao.png"}
        m.receive({"type": "audio", "audio": None, "volumes": [], "slice_length": 20, "display_text": payload}, at)
    turn = m.mine
    assert turn is not None and turn.reply == "Hello there! Nice to meet you."
    assert m.interrupt(1.0) == {"type": "interrupt-signal", "text": "Hello there! Nice to meet you."}


def test_a_number_cut_at_its_comma_stays_one_number():
    """OLV's faster_first_response cut "₩1,000" after the comma (real OLV 1.2.1)."""
    assert join_sentences(["[Chzzk 후원 ₩1,", "000] 고마워요."]) == "[Chzzk 후원 ₩1,000] 고마워요."
    assert join_sentences(["It costs 3.", "5 dollars."]) == "It costs 3.5 dollars."
    assert join_sentences(["Hello,", "world."]) == "Hello, world."
    assert join_sentences(["I have 2.", "Cats are nice."]) == "I have 2. Cats are nice."
