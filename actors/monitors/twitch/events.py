"""Twitch EventSub notifications -> ChatEvents, and the delivery guards, sans I/O.

`to_chat_event` maps the five `channel.chat.*` subscriptions (user:read:chat
covers them all, reference §0.3) onto the common model (reference §4.5):
messages and cheers, subscriptions and gifts, purges. Like the Chzzk parser
it never raises: a field it cannot use makes a Skip with a reason for the
log, and everything it makes goes through the house's one cleaning
(`boundary.clean_event`).

`Deduper` and `is_stale` are the two guards Twitch asks of every client
(reference §2.6): at-least-once delivery, and no replay older than 10 min.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeGuard

import attrs

from ...boundary import ANONYMOUS, clean_event, clean_id, clean_name
from ...chat import Amount, Author, ChatEvent, Kind, ModerationTarget, Platform, Role
from .api import Frame, Metadata, Notification

DEDUPE_TTL = 600.0  # seconds; Twitch's replay window (reference §2.6), twurple's too
STALE_AFTER = 600.0  # seconds; "drop messages whose message_timestamp is >10 min old"
ANONYMOUS_ID = "twitch-anonymous"  # author id of an anonymous gift
MAX_BITS = 10**9  # US$10 million in one cheer: past it, a forged number, not a cheer

# Badge set_id -> role: the one place a badge becomes a role.
BADGE_ROLES: Mapping[str, Role | None] = {
    "broadcaster": Role.OWNER,
    "moderator": Role.MODERATOR,
    "subscriber": Role.MEMBER,
    "founder": Role.MEMBER,  # a founder is a subscriber from the channel's first days
    "partner": Role.VERIFIED,
    "vip": Role.VIP,
}

# The subscriptions the monitor asks for, all under user:read:chat.
CHAT_SUBSCRIPTIONS = (
    "channel.chat.message",
    "channel.chat.notification",
    "channel.chat.message_delete",
    "channel.chat.clear_user_messages",
    "channel.chat.clear",
)

MEMBERSHIP_NOTICES = frozenset({"sub", "resub", "prime_paid_upgrade", "gift_paid_upgrade"})

# Notices that are no message for the VTuber, and why (for the log).
QUIET_NOTICES: Mapping[str, str] = {
    "raid": "a raid is no message (the raiders' own chat follows)",
    "unraid": "an unraid is no message",
    "announcement": "an announcement is the channel's own, not a viewer's",
    "bits_badge_tier": "a bits badge unlocked is no money (the cheer itself was counted)",
    "watch_streak": "a watch streak is no money and no question",
    # The gift paid forward arrives as its own sub_gift or community_sub_gift:
    # counting this too would thank it twice.
    "pay_it_forward": "a paid-forward gift is counted by its own gift notice",
}


@attrs.frozen
class Skip:
    """A frame that became no ChatEvent, and why (for the log)."""

    event: str
    reason: str


@attrs.frozen
class _Context:
    frame: Notification
    broadcaster_id: str
    received_at: float
    sent_at: datetime
    shared_chat: bool

    @property
    def event(self) -> Mapping[str, Any]:
        return self.frame.event


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _user(event: Mapping[str, Any], role: str) -> tuple[str | None, str]:
    """A role's (id, name): the display name, or the login when the display
    name cleans to nothing (a name of invisible characters)."""
    display = _str(event, f"{role}_user_name")
    if display is not None and clean_name(display, fallback=""):
        return _str(event, f"{role}_user_id"), display
    return _str(event, f"{role}_user_id"), _str(event, f"{role}_user_login") or ""


def _roles(badges: object) -> frozenset[Role]:
    roles: set[Role] = set()
    for badge in badges if isinstance(badges, list) else ():
        set_id = badge.get("set_id") if isinstance(badge, Mapping) else None
        role = BADGE_ROLES.get(set_id) if isinstance(set_id, str) else None
        if role is not None:
            roles.add(role)
    return frozenset(roles)


# An emote name router.text's ":shortcode:" form accepts: "Kappa", "cohhLUL".
_EMOTE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _render(fragments: list[Any]) -> str | None:
    """A message's fragments -> its text; None if they are malformed.

    Emotes are written ":Kappa:", the form the router already knows from
    YouTube: an emote-only message is then filtered as `emoji_only`, and in
    a sentence the VTuber reads the emote's name as a word set apart. A name
    that form cannot hold (the old ":)" or "<3") stays as typed, or becomes
    ":emote:" in an emote-only message, so that one is still recognised.
    Cheermotes ("Cheer100") go: the bits are the event's amount, shown as
    "100 bits", and a cheermote's prefix means nothing to the VTuber.
    """
    parts: list[tuple[str, str]] = []
    for fragment in fragments:
        kind = fragment.get("type") if isinstance(fragment, Mapping) else None
        text = fragment.get("text") if isinstance(fragment, Mapping) else None
        if not isinstance(kind, str) or not isinstance(text, str):
            return None
        if kind != "cheermote":
            parts.append((kind, text))
    emote_only = any(kind == "emote" for kind, _ in parts) and all(
        kind == "emote" or not text.strip() for kind, text in parts
    )
    rendered: list[str] = []
    for kind, text in parts:
        name = text.strip()
        if kind == "emote" and _EMOTE_NAME.fullmatch(name):
            rendered.append(f":{name}:")
        elif kind == "emote" and emote_only:
            rendered.append(":emote:")
        else:
            rendered.append(text)
    return "".join(rendered)


def _message_text(event: Mapping[str, Any]) -> str:
    """message.fragments rendered; message.text if the fragments are unusable."""
    message = event.get("message")
    if not isinstance(message, Mapping):
        return ""
    fragments = message.get("fragments")
    rendered = _render(fragments) if isinstance(fragments, list) else None
    if rendered is not None:
        return rendered
    text = message.get("text")
    return text if isinstance(text, str) else ""


def _foreign(ctx: _Context) -> bool:
    """From another channel of a shared chat session: never this channel's
    question or revenue. A message in this very channel carries this
    channel's id, or null, as its source."""
    source = _str(ctx.event, "source_broadcaster_user_id")
    notice = _str(ctx.event, "notice_type")
    return (source is not None and source != ctx.broadcaster_id) or (
        notice is not None and notice.startswith("shared_chat_")
    )


def _bits(bits: int) -> Amount:
    # 1 bit = US$0.01, the project's convention; scaleb is exact, no division.
    return Amount(Decimal(bits).scaleb(-2), "USD", f"{bits:,} bit{'s' if bits != 1 else ''}")


def _chat(ctx: _Context, name: str) -> ChatEvent | Skip:
    event = ctx.event
    message_id = _str(event, "message_id")
    chatter_id, chatter_name = _user(event, "chatter")
    if message_id is None or chatter_id is None:
        return Skip(name, "no message_id or chatter_user_id")
    kind, amount = Kind.CHAT, None
    cheer = event.get("cheer")
    if cheer is not None:  # null on every message that is no cheer
        bits = cheer.get("bits") if isinstance(cheer, Mapping) else None
        if not _is_int(bits) or not 0 < bits <= MAX_BITS:
            return Skip(name, "malformed cheer bits")
        kind, amount = Kind.DONATION, _bits(bits)
    return ChatEvent(
        Platform.TWITCH,
        message_id,
        kind,
        Author(chatter_id, chatter_name, _roles(event.get("badges"))),
        _message_text(event),
        amount,
        ctx.sent_at,
        received_at=ctx.received_at,
    )


def _charity(detail: Mapping[str, Any]) -> Amount | str:
    """`amount {value, decimal_place(s), currency}` -> an Amount in its own
    currency, value / 10**places (550, 2 -> 5.50); or why not. The docs
    spell it decimal_place, twurple decimal_places: both are read."""
    amount = detail.get("amount")
    if not isinstance(amount, Mapping):
        return "charity donation without an amount"
    value, currency = amount.get("value"), amount.get("currency")
    places = next((p for p in (amount.get("decimal_place"), amount.get("decimal_places")) if _is_int(p)), None)
    if not _is_int(value) or places is None or not 0 <= places <= 18 or not isinstance(currency, str):
        return "malformed charity amount"
    if not 0 < value <= 10**24:  # exact in Decimal's 28 digits after scaling
        return "charity amount out of range"
    return Amount(Decimal(value).scaleb(-places), currency, "")  # boundary writes the display


def _notice(ctx: _Context, name: str) -> ChatEvent | Skip:
    event = ctx.event
    notice = _str(event, "notice_type")
    if notice is None:
        return Skip(name, "no notice_type")
    name = f"{name} {clean_id(notice)[:40]}"
    base = notice.removeprefix("shared_chat_")  # only here if shared_chat=True: read as its own kind
    message_id = _str(event, "message_id")
    if message_id is None:
        return Skip(name, "no message_id")
    if base in QUIET_NOTICES:
        return Skip(name, QUIET_NOTICES[base])
    detail = event.get(notice)  # the object named after the notice type; the others are null
    detail = detail if isinstance(detail, Mapping) else {}
    amount: Amount | None = None
    if base in MEMBERSHIP_NOTICES:
        kind = Kind.MEMBERSHIP
    elif base == "sub_gift":
        if not detail:  # cannot tell a single gift from one of a bundle: never count twice
            return Skip(name, "sub_gift without its details")
        if _str(detail, "community_gift_id") is not None:
            return Skip(name, "part of a community gift")  # counted once, as the community_sub_gift
        kind = Kind.GIFT
    elif base == "community_sub_gift":
        kind = Kind.GIFT
    elif base == "charity_donation":
        charity = _charity(detail)
        if isinstance(charity, str):
            return Skip(name, charity)
        kind, amount = Kind.DONATION, charity
    else:
        return Skip(name, "unknown notice type")
    chatter_id, chatter_name = _user(event, "chatter")
    # The gifter is the chatter; an anonymous one has no name to thank.
    if event.get("chatter_is_anonymous") is True or (chatter_id is None and kind is Kind.GIFT):
        author = Author(ANONYMOUS_ID, ANONYMOUS)
    elif chatter_id is None:
        return Skip(name, "no chatter_user_id")
    else:
        author = Author(chatter_id, chatter_name, _roles(event.get("badges")))
    text = _message_text(event)
    if not text.strip():
        system = event.get("system_message")
        text = system if isinstance(system, str) else ""
    return ChatEvent(Platform.TWITCH, message_id, kind, author, text, amount, ctx.sent_at, received_at=ctx.received_at)


def _purge(ctx: _Context, target: ModerationTarget, user: tuple[str | None, str]) -> ChatEvent:
    # The id is the frame's: a purge has none of its own, and a resend keeps it.
    user_id, user_name = user
    author = Author(user_id or ctx.broadcaster_id, user_name)
    message_id = ctx.frame.metadata.message_id
    return ChatEvent(
        Platform.TWITCH, message_id, Kind.MODERATION, author, "", None, ctx.sent_at, ctx.received_at, target
    )


def _message_delete(ctx: _Context, name: str) -> ChatEvent | Skip:
    message_id = _str(ctx.event, "message_id")
    if message_id is None:
        return Skip(name, "no message_id")
    return _purge(ctx, ModerationTarget(message_id=message_id), _user(ctx.event, "target"))


def _clear_user(ctx: _Context, name: str) -> ChatEvent | Skip:
    user = _user(ctx.event, "target")
    if user[0] is None:
        return Skip(name, "no target_user_id")
    return _purge(ctx, ModerationTarget(author_id=user[0]), user)


def _clear(ctx: _Context, name: str) -> ChatEvent | Skip:
    # The moderators cleared the whole chat: nothing of Twitch's that waits is answered.
    return _purge(ctx, ModerationTarget(everything=True), (ctx.broadcaster_id, ""))


_CONVERTERS: Mapping[str, Callable[[_Context, str], ChatEvent | Skip]] = {
    "channel.chat.message": _chat,
    "channel.chat.notification": _notice,
    "channel.chat.message_delete": _message_delete,
    "channel.chat.clear_user_messages": _clear_user,
    "channel.chat.clear": _clear,
}
# The two whose events are messages: shared chat applies, and their event.message_id is the message's own.
_SHARED = frozenset({"channel.chat.message", "channel.chat.notification"})


def to_chat_event(
    frame: Frame, *, broadcaster_id: str, received_at: float, received_wall: datetime, shared_chat: bool = False
) -> ChatEvent | Skip:
    """A notification -> a ChatEvent, or a Skip saying why not. Never raises.

    `received_wall` stands in for a missing or malformed message_timestamp.
    With `shared_chat` the messages and notices of the other channels in a
    shared chat session are taken too (as this channel's: tag them before
    ever turning it on)."""
    name = frame.metadata.subscription_type or frame.metadata.message_type
    if not isinstance(frame, Notification):
        return Skip(name[:60], "not a notification")
    name = frame.subscription_type[:60]
    convert = _CONVERTERS.get(frame.subscription_type)
    if convert is None:
        return Skip(name, "not a chat subscription")
    wall = received_wall.replace(tzinfo=UTC) if received_wall.tzinfo is None else received_wall.astimezone(UTC)
    ctx = _Context(frame, broadcaster_id, received_at, frame.metadata.timestamp or wall, shared_chat)
    channel = _str(ctx.event, "broadcaster_user_id")
    if channel is not None and channel != broadcaster_id:
        return Skip(name, "another channel's event")
    if not shared_chat and frame.subscription_type in _SHARED and _foreign(ctx):
        return Skip(name, "shared chat from another channel")
    result = convert(ctx, name)
    if isinstance(result, Skip):
        return result
    # The house's one cleaning (names, ids, text, a bounded amount), as for every source.
    event, problem = clean_event(result)
    if problem is not None:
        return Skip(name, problem)
    if not event.id or not event.author.id or (event.target is not None and not any(attrs.astuple(event.target))):
        return Skip(name, "an id cleans to nothing")
    return event


# ---- dedupe and the replay guard -------------------------------------------------------------------


class Deduper:
    """The ids of the frames seen lately, to drop Twitch's resends.

    Delivery is at least once, and a resend keeps its `metadata.message_id`;
    but duplicates with a new metadata id were reported too (twitchdev#918),
    so a chat message's `event.message_id` is remembered as well, and either
    one seen before makes a duplicate. Pure (`now` is given, unix seconds,
    so a restart can carry it over in the cursor via `dump` and `load`),
    time-bounded (TTL) and size-bounded.
    """

    def __init__(self, *, ttl: float = DEDUPE_TTL, capacity: int = 20_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> when first seen, oldest first

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            at = next(iter(seen.values()))
            # A clock that went back (a restart on another machine) makes an
            # entry "from the future": it is kept until the TTL from then.
            if now - at < self.ttl and len(seen) <= self.capacity:
                break
            seen.popitem(last=False)

    def seen(self, ids: Iterable[str | None], now: float) -> bool:
        """Whether any of `ids` was seen within the TTL; all are remembered
        from now either way (first sight counts: a resend does not extend it)."""
        self._expire(now)
        keys = [i for i in ids if i]
        duplicate = any(k in self._seen for k in keys)
        for key in keys:
            self._seen.setdefault(key, now)
        self._expire(now)
        return duplicate

    def seen_frame(self, frame: Frame, now: float) -> bool:
        """`seen` for a frame: its metadata id, and its event's message_id if any."""
        ids: list[str | None] = [frame.metadata.message_id]
        # A message_delete's message_id is the deleted message's: never a key here.
        if isinstance(frame, Notification) and frame.subscription_type in _SHARED:
            inner = frame.event.get("message_id")
            ids.append(clean_id(inner) if isinstance(inner, str) else None)
        return self.seen(ids, now)

    def dump(self) -> list[list[object]]:
        """[[id, first seen], …] oldest first, for the cursor file."""
        return [[key, at] for key, at in self._seen.items()]

    def load(self, data: object, now: float) -> None:
        """The inverse of dump, forgiving: entries that are not [str, number] are dropped."""
        if not isinstance(data, list):
            return
        for entry in data:
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and entry[0]:
                at = entry[1]
                if isinstance(at, int | float) and not isinstance(at, bool) and math.isfinite(at):
                    self._seen.setdefault(clean_id(entry[0]), float(at))
        self._expire(now)


def is_stale(metadata: Metadata, now: float, *, max_age: float = STALE_AFTER) -> bool:
    """The replay guard: a message stamped more than `max_age` seconds
    before `now` (unix seconds) is dropped. An unreadable stamp is not stale:
    we cannot tell, and the deduper still guards. A stamp in the future is
    not stale either (the clocks disagree; the message is new to us)."""
    if metadata.timestamp is None:
        return False
    return now - metadata.timestamp.timestamp() > max_age
