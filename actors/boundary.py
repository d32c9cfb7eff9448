"""The one cleaning every field gets where it enters the house.

Names, ids, amounts and text come from viewers (through a platform) or from a
file, and are hostile until cleaned: an escape sequence in a name retitles
the streamer's terminal, a right-to-left override shows "admin" as "nimda"
on the dashboard, a lone surrogate crashes the first UTF-8 writer, a
10,000-character name fills the prompt, and "1e999999999" as an amount
overflows the currency conversion. Monitor parsers and the replay reader
call `clean_event` on every event they make, so nothing inside the service
(router, session, dashboard, archive) ever handles a raw string.

Strings get the router's own sanitiser (`router.text.sanitize`: invisible
and bidi controls out, controls to spaces, NFKC, capped by graphemes), so a
name and a text are cleaned alike. Amounts are bounded decimals: for an
amount that cannot be read the reason is returned, and every caller (the record reader, the Chzzk and YouTube
parsers) then skips the event with that reason, logged with its line or id.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import attrs

from .chat import Amount, Author, ChatEvent, Kind, ModerationTarget
from .router.text import sanitize

MAX_NAME = 50  # graphemes; YouTube allows 100 characters, Chzzk far fewer
MAX_TEXT = 2_000  # graphemes; the router caps again by its own max_graphemes
MAX_DISPLAY = 32
MAX_ID = 256  # characters: ids are opaque, so only unsafe characters are taken out
MAX_AMOUNT = Decimal(10) ** 12  # no donation comes near; past it the conversion to USD would be nonsense
AMOUNT_PLACES = Decimal("0.000001")
ANONYMOUS = "(anonymous)"

_UNSAFE_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")
_CURRENCY = re.compile(r"[A-Z]{3}")


def clean_name(value: str, *, fallback: str = ANONYMOUS) -> str:
    return sanitize(value, max_graphemes=MAX_NAME) or fallback


def clean_text(value: str) -> str:
    return sanitize(value, max_graphemes=MAX_TEXT)


def clean_id(value: str) -> str:
    return _UNSAFE_IN_ID.sub("", value)[:MAX_ID]


def clean_amount(value: Decimal, currency: str, display: str) -> Amount | str:
    """A bounded amount, or why it cannot be one."""
    try:
        if not value.is_finite() or value <= 0:
            return f"amount {value} is not a positive number"
        if value > MAX_AMOUNT:
            return f"amount {value:.3e} is beyond any real donation"
        if value != value.quantize(AMOUNT_PLACES):  # a millionth of a won or a dollar is nobody's money
            value = value.quantize(AMOUNT_PLACES)
            if value <= 0:
                return "amount rounds to nothing"
    except InvalidOperation:
        return "amount is not a number"
    code = currency.strip().upper()
    if not _CURRENCY.fullmatch(code):
        return f"currency {sanitize(currency, max_graphemes=8)!r} is not an ISO 4217 code"
    shown = sanitize(display, max_graphemes=MAX_DISPLAY) or f"{value:,f} {code}"
    return Amount(value, code, shown)


def clean_event(event: ChatEvent) -> tuple[ChatEvent, str | None]:
    """The event with every field cleaned, and what was wrong with it, if anything.

    An amount that cannot be read is taken off (kind `chat`, no amount) and
    the second value says why; the callers skip such an event with that
    reason rather than pass a donation off as chat.
    """
    problem: str | None = None
    amount = event.amount
    kind = event.kind
    if amount is not None:
        cleaned = clean_amount(amount.value, amount.currency, amount.display)
        if isinstance(cleaned, str):
            problem, amount, kind = cleaned, None, Kind.CHAT
        else:
            amount = cleaned
    target = event.target
    if target is not None:
        target = ModerationTarget(
            message_id=None if target.message_id is None else clean_id(target.message_id),
            author_id=None if target.author_id is None else clean_id(target.author_id),
            everything=target.everything,
        )
    author = Author(clean_id(event.author.id), clean_name(event.author.name), event.author.roles)
    cleaned_event = attrs.evolve(
        event,
        id=clean_id(event.id),
        kind=kind,
        author=author,
        text=clean_text(event.text),
        amount=amount,
        target=target,
    )
    return cleaned_event, problem
