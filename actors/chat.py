"""The one message model every actor speaks.

A ChatEvent carries what the router and the session need, never the raw
platform payload: monitors translate at the edge, so nothing downstream has
to know which platform a message came from except to print it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs


class Platform(enum.StrEnum):
    YOUTUBE = "youtube"
    CHZZK = "chzzk"
    TWITCH = "twitch"
    TEST = "test"  # a line the streamer sent from the cockpit, to try the whole chain


class Kind(enum.StrEnum):
    CHAT = "chat"
    DONATION = "donation"  # Super Chat, Chzzk donation
    STICKER = "sticker"  # Super Sticker
    MEMBERSHIP = "membership"  # new member, milestone, Chzzk subscription
    GIFT = "gift"  # gifted memberships
    MODERATION = "moderation"  # a message deleted or a user banned


class Role(enum.StrEnum):
    OWNER = "owner"
    MODERATOR = "moderator"
    MEMBER = "member"
    VIP = "vip"  # Twitch's VIP badge: the streamer's chosen regulars
    VERIFIED = "verified"


@attrs.frozen
class Author:
    id: str
    name: str
    roles: frozenset[Role] = frozenset()


@attrs.frozen
class Amount:
    """Money, exact: `value` is a Decimal, never a float."""

    value: Decimal
    currency: str  # ISO 4217, e.g. "USD", "KRW"
    display: str  # as the platform shows it, e.g. "$5.00", "₩1,000"


@attrs.frozen
class ModerationTarget:
    """What a moderation event removes: one message, all of an author's, or
    (`everything`) all of its platform's chat, as Twitch's "clear chat" does."""

    message_id: str | None = None
    author_id: str | None = None
    everything: bool = False


@attrs.frozen
class ChatEvent:
    platform: Platform
    id: str  # the platform's message id; stable across reconnects
    kind: Kind
    author: Author
    text: str
    amount: Amount | None
    sent_at: datetime  # platform time, timezone-aware UTC
    # trio.current_time() when the monitor received it: ages and rate limits
    # use this clock, because platform clocks and ours disagree.
    received_at: float = 0.0
    target: ModerationTarget | None = None  # only for Kind.MODERATION

    @property
    def is_paid(self) -> bool:
        return self.amount is not None


def one_per_viewer(events: Iterable[ChatEvent]) -> list[ChatEvent]:
    """Each viewer's first message among `events`, in order: a crowd's askers
    are counted, named and archived by viewer, not by message."""
    seen: dict[tuple[Platform, str], ChatEvent] = {}
    for event in events:
        seen.setdefault((event.platform, event.author.id), event)
    return list(seen.values())
