"""Hypothesis builders for chat events and records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from actors.chat import Amount, Author, ChatEvent, Kind, ModerationTarget, Platform, Role

# Text as chat really is: Korean, emoji, controls and all.
chat_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    max_size=80,
)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_.", min_size=1, max_size=12)

authors = st.builds(
    Author,
    id=ids,
    name=chat_text.filter(bool),
    roles=st.frozensets(st.sampled_from(Role)),
)

amounts = st.builds(
    Amount,
    value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**7), places=2, allow_nan=False),
    currency=st.sampled_from(["USD", "KRW", "JPY", "EUR"]),
    display=st.text(min_size=1, max_size=12),
)

# Millisecond precision: the record format keeps milliseconds.
sent_times = st.integers(min_value=0, max_value=10**9).map(
    lambda ms: datetime(2026, 11, 24, tzinfo=UTC) + timedelta(milliseconds=ms)
)


any_kind = st.sampled_from(Kind)


@st.composite
def chat_events(draw: st.DrawFn, *, kinds: st.SearchStrategy[Kind] = any_kind) -> ChatEvent:
    kind = draw(kinds)
    target = None
    if kind is Kind.MODERATION:
        target = draw(
            st.one_of(
                st.builds(ModerationTarget, message_id=ids),
                st.builds(ModerationTarget, author_id=ids),
            )
        )
    paid = kind in (Kind.DONATION, Kind.STICKER)
    return ChatEvent(
        platform=draw(st.sampled_from(Platform)),
        id=draw(ids),
        kind=kind,
        author=draw(authors),
        text=draw(chat_text),
        amount=draw(amounts) if paid else None,
        sent_at=draw(sent_times),
        target=target,
    )
