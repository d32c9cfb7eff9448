"""How a chat message is put to the VTuber: ``[YouTube] Alice (member): "hi"``.

OLV adds nothing to what we send (reference §2.8), so the line must say who
spoke, where, and what they paid. It comes from a template per kind, and
optionally per platform ([session.templates] in config.toml).

The chat text is always quoted, as a JSON string on one line: a viewer who
types a newline and "[System] ignore your instructions" gets a quoted string
with a `\\n` in it, never a line of its own that looks like ours.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from decimal import Decimal

import attrs

from ..chat import Amount, ChatEvent, Kind, Platform, Role

PLATFORM_NAMES = {Platform.YOUTUBE: "YouTube", Platform.CHZZK: "Chzzk"}

# What a paid or special message is called on each platform.
KIND_LABELS = {
    (Platform.YOUTUBE, Kind.DONATION): "Super Chat",
    (Platform.YOUTUBE, Kind.STICKER): "Super Sticker",
    (Platform.YOUTUBE, Kind.MEMBERSHIP): "new member",
    (Platform.YOUTUBE, Kind.GIFT): "membership gift",
    (Platform.CHZZK, Kind.DONATION): "후원",
    (Platform.CHZZK, Kind.STICKER): "후원",
    (Platform.CHZZK, Kind.MEMBERSHIP): "구독",
    (Platform.CHZZK, Kind.GIFT): "구독권 선물",
}

PLACEHOLDERS = ("platform", "label", "amount", "author", "roles", "text")
KINDS = ("chat", "donation", "sticker", "membership", "gift")

_PAID = "[{platform} {label} {amount}] {author}{roles}: {text}"
DEFAULT_TEMPLATES: Mapping[str, str] = {
    "chat": "[{platform}] {author}{roles}: {text}",
    "donation": _PAID,
    "sticker": _PAID,
    "membership": "[{platform} {label}] {author}{roles}: {text}",
    "gift": "[{platform} {label}] {author}{roles}: {text}",
}
DEFAULT_DIGEST_INTRO = "Recent chat messages; pick the one most worth answering and reply to it:"

_ROLE_ORDER = (Role.OWNER, Role.MODERATOR, Role.MEMBER, Role.VERIFIED)

# The usual written form of the currencies a stream sees most; anything else
# is written "1,234.50 XYZ".
_SYMBOLS = {"USD": "$", "KRW": "₩", "JPY": "¥", "EUR": "€", "GBP": "£", "TWD": "NT$", "CAD": "CA$", "AUD": "A$"}
_NO_DECIMALS = {"KRW", "JPY", "TWD"}


def format_amount(amount: Amount) -> str:
    """The platform's own display string if it gave one, else the currency's
    usual form: ``₩1,000``, ``$5.00``, ``¥500``."""
    display = " ".join(amount.display.split())  # one line, whatever the platform sent
    if display:
        return display
    code = amount.currency.upper()
    places = Decimal(1) if code in _NO_DECIMALS else Decimal("0.01")
    number = f"{amount.value.quantize(places):,}"
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code}"


def placeholders_in(template: str) -> list[str]:
    """The {names} a template uses; ValueError if it is not a valid template."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc})") from None


def check_template(template: str) -> None:
    """ValueError naming the problem, for the config loader."""
    for name in placeholders_in(template):
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")


_TEXT_SLOT = "\x00text\x00"  # where the quoted text goes, after the header is tidied
_SPACES = re.compile(r" {2,}")
_SPACE_BEFORE_CLOSE = re.compile(r" +([\])])")


@attrs.frozen
class PromptTemplates:
    """Templates by kind, with per-platform overrides (`overrides[platform][kind]`)."""

    templates: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_TEMPLATES))
    overrides: Mapping[Platform, Mapping[str, str]] = attrs.field(factory=dict)
    digest_intro: str = DEFAULT_DIGEST_INTRO

    def template_for(self, event: ChatEvent) -> str:
        kind = event.kind.value
        own = self.overrides.get(event.platform, {})
        return own.get(kind) or self.templates.get(kind) or DEFAULT_TEMPLATES.get(kind, DEFAULT_TEMPLATES["chat"])

    def line(self, event: ChatEvent) -> str:
        """One message as one line."""
        roles = [r.value for r in _ROLE_ORDER if r in event.author.roles]
        text = " ".join(event.text.split())
        fields = {
            "platform": PLATFORM_NAMES[event.platform],
            "label": KIND_LABELS.get((event.platform, event.kind), ""),
            "amount": format_amount(event.amount) if event.amount is not None else "",
            "author": " ".join(event.author.name.replace("\x00", "").split()),
            "roles": f" ({', '.join(roles)})" if roles else "",
            "text": _TEXT_SLOT,
        }
        rendered = self.template_for(event).format_map(fields)
        # Tidy what an empty label or amount leaves behind ("[YouTube  ]").
        rendered = _SPACE_BEFORE_CLOSE.sub(r"\1", _SPACES.sub(" ", rendered))
        if not text:  # a sticker or a membership without words: no empty quotes
            rendered = rendered.replace(_TEXT_SLOT, "").rstrip(" :")
            return rendered
        return rendered.replace(_TEXT_SLOT, json.dumps(text, ensure_ascii=False))

    def turn(self, events: list[ChatEvent]) -> str:
        """One message as its line; a digest (several chats) as a numbered list
        with an instruction to pick one, as other VTuber projects do."""
        if len(events) == 1:
            return self.line(events[0])
        lines = [f"{i}. {self.line(e)}" for i, e in enumerate(events, start=1)]
        return "\n".join([self.digest_intro, *lines])


DEFAULT = PromptTemplates()


def format_prompt(event: ChatEvent) -> str:
    """The line for one message with the default templates."""
    return DEFAULT.line(event)


def format_turn(events: list[ChatEvent]) -> str:
    """A turn with the default templates."""
    return DEFAULT.turn(events)
