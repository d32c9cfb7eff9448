"""Every field from outside is cleaned where it enters: properties over hostile records."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

from hypothesis import given

from actors.boundary import MAX_AMOUNT, MAX_ID, MAX_NAME, clean_amount, clean_event
from actors.chat import ChatEvent, Kind
from actors.records import RecordError, format_record, parse_line
from actors.router.text import graphemes
from strategies import chat_events, hostile_records

# What must never survive into a name, a text or a display string: controls
# (escape sequences), bidi and other invisible formats, lone surrogates.
FORBIDDEN = {"Cc", "Cs"}  # private-use characters stay: some fonts draw emotes with them


def assert_clean(event: ChatEvent) -> None:
    for text in (event.author.name, event.text, event.amount.display if event.amount else ""):
        assert not {unicodedata.category(c) for c in text} & FORBIDDEN, text
        assert not any(unicodedata.category(c) == "Cf" and c != "\u200d" for c in text), text
        assert text == text.strip()
        text.encode("utf-8")  # a lone surrogate would raise here
    assert event.author.name and len(graphemes(event.author.name)) <= MAX_NAME
    assert len(event.id) <= MAX_ID and len(event.author.id) <= MAX_ID
    if event.amount is not None:
        assert Decimal(0) < event.amount.value <= MAX_AMOUNT
        assert event.amount.currency.isascii() and len(event.amount.currency) == 3
        assert event.amount.display


@given(chat_events())
def test_a_cleaned_event_is_clean_and_cleaning_twice_changes_nothing(event):
    cleaned, problem = clean_event(event)
    assert problem is None  # the strategy's amounts are all readable
    assert_clean(cleaned)
    assert clean_event(cleaned) == (cleaned, None)


@given(hostile_records())
def test_any_hostile_record_becomes_a_clean_event_or_a_numbered_error(record):
    line = json.dumps(record, ensure_ascii=True)  # \\ud800 escapes survive as JSON
    result = parse_line(line, 7)
    if isinstance(result, RecordError):
        assert result.line == 7 and result.message
        return
    assert_clean(result)
    assert parse_line(format_record(result), 1) == result  # and it round-trips through the archive


def test_the_issue_s_hostile_fields():
    cases = {
        "bad\ud800name": "bad\ufffdname",
        "\x1b]0;pwned\x07\x1b[2Jviewer": "]0;pwned [2Jviewer",
        "\u202enimda": "nimda",
        "x" * 10_000: "x" * (MAX_NAME - 1) + "\u2026",
        "": "(anonymous)",
        "\u200b": "(anonymous)",
    }
    for raw, shown in cases.items():
        record = {
            "platform": "youtube",
            "id": "LCC.1",
            "kind": "chat",
            "author": {"id": "UC1", "name": raw, "roles": []},
            "text": "hi",
            "amount": None,
            "sent_at": "2026-11-24T01:00:00.000Z",
        }
        event = parse_line(json.dumps(record), 1)
        assert isinstance(event, ChatEvent)
        assert event.author.name == shown


def test_amounts_are_bounded_decimals():
    assert isinstance(clean_amount(Decimal("1e999999999"), "USD", "$"), str)
    assert isinstance(clean_amount(Decimal("NaN"), "USD", "$"), str)
    assert isinstance(clean_amount(Decimal("-5"), "USD", "$"), str)
    assert isinstance(clean_amount(Decimal("5"), "dollars", "$5"), str)
    big = clean_amount(Decimal("9" * 12), "KRW", "")
    assert not isinstance(big, str) and big.display == "999,999,999,999 KRW"  # an empty display is made up
    tiny = clean_amount(Decimal("1e-30"), "USD", "$0")
    assert isinstance(tiny, str)  # rounds to nothing: not a donation
    assert clean_amount(Decimal("5.00"), "usd", " $5.00 ") == clean_amount(Decimal("5.00"), "USD", "$5.00")


def test_a_donation_whose_amount_cannot_be_read_keeps_its_words_as_chat():
    from datetime import UTC, datetime

    from actors.chat import Amount, Author

    event = ChatEvent(
        platform=__import__("actors.chat", fromlist=["Platform"]).Platform.CHZZK,
        id="c-1",
        kind=Kind.DONATION,
        author=Author("d9", "민수"),
        text="thank you!",
        amount=Amount(Decimal("1e999999999"), "KRW", "₩∞"),
        sent_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    cleaned, problem = clean_event(event)
    assert cleaned.kind is Kind.CHAT and cleaned.amount is None and cleaned.text == "thank you!"
    assert problem is not None and "beyond any real donation" in problem
