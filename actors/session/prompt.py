"""How a chat message is put to the VTuber, e.g. ``[YouTube] Alice (member): hi``."""

from __future__ import annotations

from ..chat import ChatEvent, Kind, Platform, Role

PLATFORM_NAMES = {Platform.YOUTUBE: "YouTube", Platform.CHZZK: "Chzzk"}

# What a paid or special message is called on each platform.
_KIND_LABELS = {
    (Platform.YOUTUBE, Kind.DONATION): "Super Chat",
    (Platform.YOUTUBE, Kind.STICKER): "Super Sticker",
    (Platform.YOUTUBE, Kind.MEMBERSHIP): "new member",
    (Platform.YOUTUBE, Kind.GIFT): "membership gift",
    (Platform.CHZZK, Kind.DONATION): "후원",
    (Platform.CHZZK, Kind.MEMBERSHIP): "구독",
    (Platform.CHZZK, Kind.GIFT): "구독권 선물",
}

_ROLE_ORDER = (Role.OWNER, Role.MODERATOR, Role.MEMBER, Role.VERIFIED)


def format_prompt(event: ChatEvent) -> str:
    """One line for the VTuber. Newlines in chat are flattened so a message
    can never start a line of its own that looks like an instruction."""
    label = PLATFORM_NAMES[event.platform]
    kind_label = _KIND_LABELS.get((event.platform, event.kind))
    if kind_label:
        label = f"{label} {kind_label}"
    if event.amount is not None:
        label = f"{label} {event.amount.display}"
    roles = [r.value for r in _ROLE_ORDER if r in event.author.roles]
    who = event.author.name + (f" ({', '.join(roles)})" if roles else "")
    text = " ".join(event.text.split())
    return f"[{label}] {who}: {text}" if text else f"[{label}] {who}"


def format_turn(events: list[ChatEvent]) -> str:
    """One message as its line; a digest (several chats) as a numbered list
    with an instruction to pick one, as other VTuber projects do."""
    if len(events) == 1:
        return format_prompt(events[0])
    lines = [f"{i}. {format_prompt(e)}" for i, e in enumerate(events, start=1)]
    return "Recent chat messages; pick the one most worth answering and reply to it:\n" + "\n".join(lines)
