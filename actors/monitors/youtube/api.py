"""YouTube Data API v3 live chat, sans I/O: pages in, ChatEvents out.

Everything here is a pure function of a decoded JSON response, so the
parsing is tested with Hypothesis on generated pages and on real-shaped
samples (reference: shared/reference/youtube.md §1). The monitor in
`monitor.py` does the HTTP.

Rules the API taught others the hard way:
- branch on `error.errors[0].reason`, never on the message text, which
  varies ("The live chat is no longer live." vs the documented wording);
- `amountMicros` is a JSON string (uint64): it becomes an exact Decimal;
- one bad item is skipped with its reason, never the whole page: a page is
  only rejected when its own shape is wrong (then nothing of it is used, and
  the same page token is asked again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import attrs

from ...boundary import clean_event
from ...chat import Amount, Author, ChatEvent, Kind, ModerationTarget, Platform, Role

MICROS = Decimal(1_000_000)

# Types that carry nothing for the VTuber: skipped quietly (known, not news).
SILENT_TYPES = frozenset(
    {
        "tombstone",
        "sponsorOnlyModeStartedEvent",
        "sponsorOnlyModeEndedEvent",
        "pollEvent",
        "invalidType",
    }
)


class PageError(ValueError):
    """The response is not a liveChatMessageListResponse we can trust."""


@attrs.frozen
class ApiError(Exception):
    """An error response, by its reason (`errors[0].reason`)."""

    status: int
    reason: str
    message: str
    details: tuple[str, ...] = ()  # error.details[].reason, e.g. API_KEY_INVALID
    # The body was Google's error envelope: the API itself answered (and may
    # charge for it). False for the front end's HTML 404, a proxy's page...
    from_api: bool = True
    # Seconds the server asked us to wait (Retry-After); the retry rule obeys
    # an attribute of this name exactly.
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason}: {self.message}"


@attrs.frozen
class Skip:
    """An item that became no event, and why (for the log)."""

    item_id: str
    type: str
    reason: str


@attrs.frozen
class Page:
    events: tuple[ChatEvent, ...]
    skipped: tuple[Skip, ...]
    next_page_token: str | None
    polling_interval: float | None  # seconds, the server's hint
    offline_at: datetime | None
    chat_ended: bool  # a chatEndedEvent was in it: the stream is over
    item_ids: tuple[str, ...]  # every item id in the page, events or not


def parse_error(status: int, body: object, *, retry_after: float | None = None) -> ApiError:
    """The Google JSON error envelope -> ApiError. Tolerates any body."""
    reason, message = "", ""
    details: tuple[str, ...] = ()
    from_api = False
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            from_api = True
            message = str(error.get("message") or "")
            errors = error.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
                reason = str(errors[0].get("reason") or "")
                message = message or str(errors[0].get("message") or "")
            if not reason:
                reason = str(error.get("status") or "")
            extra = error.get("details")
            if isinstance(extra, list):
                details = tuple(str(d.get("reason")) for d in extra if isinstance(d, Mapping) and d.get("reason"))
    return ApiError(status, reason or f"http{status}", message or "(no message)", details, from_api, retry_after)


def parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"publishedAt is {type(value).__name__}, not a string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"publishedAt {value!r} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+05:00" has no UTC time
        raise ValueError(f"publishedAt {value!r} is out of range") from None


def parse_page(body: object, *, received_at: float = 0.0) -> Page:
    """A liveChatMessages.list response -> Page. PageError if the page itself
    is malformed; a malformed item is a Skip."""
    if not isinstance(body, Mapping):
        raise PageError(f"response is {type(body).__name__}, not an object")
    items = body.get("items", [])
    if not isinstance(items, list):
        raise PageError(f"items is {type(items).__name__}, not a list")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise PageError(f"nextPageToken is {type(token).__name__}, not a string")
    interval = body.get("pollingIntervalMillis")
    hint = None
    if isinstance(interval, int | float) and not isinstance(interval, bool) and 0 <= interval < 3_600_000:
        hint = interval / 1000
    offline_at = None
    if body.get("offlineAt") is not None:
        try:
            offline_at = parse_time(body["offlineAt"])
        except (ValueError, TypeError):
            offline_at = None  # the stream is offline either way
    events: list[ChatEvent] = []
    skipped: list[Skip] = []
    ids: list[str] = []
    ended = False
    for index, item in enumerate(items):
        outcome = parse_item(item, received_at=received_at, index=index)
        item_id = outcome.id if isinstance(outcome, ChatEvent) else outcome.item_id
        ids.append(item_id)
        if isinstance(outcome, ChatEvent):
            events.append(outcome)
        else:
            ended = ended or outcome.type == "chatEndedEvent"
            skipped.append(outcome)
    return Page(tuple(events), tuple(skipped), token, hint, offline_at, ended or offline_at is not None, tuple(ids))


def parse_item(item: object, *, received_at: float = 0.0, index: int = 0) -> ChatEvent | Skip:
    """One liveChatMessage -> a ChatEvent, or a Skip saying why not."""
    if not isinstance(item, Mapping):
        return Skip(f"#{index}", "?", f"item is {type(item).__name__}, not an object")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        return Skip(f"#{index}", "?", "item has no id")
    snippet = item.get("snippet")
    if not isinstance(snippet, Mapping):
        return Skip(item_id, "?", "item has no snippet")
    kind = snippet.get("type")
    if not isinstance(kind, str):
        return Skip(item_id, "?", "snippet.type is missing")
    if kind == "chatEndedEvent":
        return Skip(item_id, kind, "the chat ended")
    if kind in SILENT_TYPES:
        return Skip(item_id, kind, "nothing to answer")
    convert = _CONVERTERS.get(kind)
    if convert is None:
        return Skip(item_id, kind, "unknown type")
    try:
        sent_at = parse_time(snippet.get("publishedAt"))
        author = _author(item.get("authorDetails"), snippet)
        event_kind, text, amount, target = convert(snippet)
    except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
        return Skip(item_id, kind, f"malformed: {exc}")
    event = ChatEvent(
        Platform.YOUTUBE, item_id, event_kind, author, text, amount, sent_at, received_at=received_at, target=target
    )
    # The house's one cleaning (names, ids, text, a bounded amount), as for every source.
    event, problem = clean_event(event)
    return Skip(item_id, kind, f"malformed: {problem}") if problem is not None else event


def _author(details: object, snippet: Mapping[str, Any]) -> Author:
    if not isinstance(details, Mapping):
        raise TypeError("authorDetails is missing")
    channel = details.get("channelId") or snippet.get("authorChannelId")
    name = details.get("displayName")
    if not isinstance(channel, str) or not isinstance(name, str):
        raise TypeError("authorDetails.channelId or displayName is missing")
    roles = {role for flag, role in _ROLE_FLAGS if details.get(flag) is True}
    return Author(channel, name, frozenset(roles))


_ROLE_FLAGS = (
    ("isChatOwner", Role.OWNER),
    ("isChatModerator", Role.MODERATOR),
    ("isChatSponsor", Role.MEMBER),
    ("isVerified", Role.VERIFIED),
)

Converted = tuple[Kind, str, Amount | None, ModerationTarget | None]


def _details(snippet: Mapping[str, Any], key: str, *, required: bool = True) -> Mapping[str, Any]:
    value = snippet.get(key)
    if isinstance(value, Mapping):
        return value
    if required:
        raise ValueError(f"{key} is missing")
    return {}


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"text is {type(value).__name__}, not a string")
    return value


def _amount(details: Mapping[str, Any]) -> Amount:
    micros = details.get("amountMicros")
    # uint64 travels as a JSON string; a number would have lost precision
    # somewhere on the way, so it is refused rather than guessed.
    if not isinstance(micros, str) or not micros.isdigit():
        raise ValueError(f"amountMicros {micros!r} is not a string of digits")
    currency = details.get("currency")
    if not isinstance(currency, str) or not currency:
        raise ValueError("currency is missing")
    display = details.get("amountDisplayString")
    return Amount(Decimal(micros) / MICROS, currency.upper(), display if isinstance(display, str) else "")


def _chat(snippet: Mapping[str, Any]) -> Converted:
    details = _details(snippet, "textMessageDetails", required=False)
    text = details.get("messageText", snippet.get("displayMessage"))
    return Kind.CHAT, _text(text), None, None


def _super_chat(snippet: Mapping[str, Any]) -> Converted:
    details = _details(snippet, "superChatDetails")
    return Kind.DONATION, _text(details.get("userComment")), _amount(details), None


def _super_sticker(snippet: Mapping[str, Any]) -> Converted:
    details = _details(snippet, "superStickerDetails")
    return Kind.STICKER, "", _amount(details), None


def _membership(snippet: Mapping[str, Any]) -> Converted:
    # newSponsorDetails may be absent altogether (see the NewSponsor sample).
    return Kind.MEMBERSHIP, "", None, None


def _milestone(snippet: Mapping[str, Any]) -> Converted:
    details = _details(snippet, "memberMilestoneChatDetails", required=False)
    return Kind.MEMBERSHIP, _text(details.get("userComment")), None, None


def _gift(snippet: Mapping[str, Any]) -> Converted:
    return Kind.GIFT, "", None, None


def _removes_message(details_key: str, id_key: str) -> Callable[[Mapping[str, Any]], Converted]:
    """A moderation item that removes one message (deleted, or retracted by its author)."""

    def convert(snippet: Mapping[str, Any]) -> Converted:
        target = _details(snippet, details_key).get(id_key)
        if not isinstance(target, str):
            raise TypeError(f"{id_key} is missing")
        return Kind.MODERATION, "", None, ModerationTarget(message_id=target)

    return convert


def _banned(snippet: Mapping[str, Any]) -> Converted:
    details = _details(snippet, "userBannedDetails")
    user = details.get("bannedUserDetails")
    channel = user.get("channelId") if isinstance(user, Mapping) else None
    if not isinstance(channel, str):
        raise TypeError("bannedUserDetails.channelId is missing")
    return Kind.MODERATION, "", None, ModerationTarget(author_id=channel)


_CONVERTERS = {
    "textMessageEvent": _chat,
    "superChatEvent": _super_chat,
    "superStickerEvent": _super_sticker,
    "newSponsorEvent": _membership,
    "memberMilestoneChatEvent": _milestone,
    "membershipGiftingEvent": _gift,
    "giftMembershipReceivedEvent": _gift,
    "messageDeletedEvent": _removes_message("messageDeletedDetails", "deletedMessageId"),
    "messageRetractedEvent": _removes_message("messageRetractedDetails", "retractedMessageId"),
    "userBannedEvent": _banned,
}

KNOWN_TYPES = frozenset(_CONVERTERS) | SILENT_TYPES | {"chatEndedEvent"}


class SeenIds(Protocol):
    def __contains__(self, item_id: object) -> bool: ...
    def put(self, item_id: str, value: bool) -> None: ...


def fresh_events(page: Page, seen: SeenIds) -> list[ChatEvent]:
    """The page's events not seen before, in page order; records every item
    id of the page as seen (events and skips alike). Pages overlap after a
    reconnect without a token (it returns recent history again), and a
    skipped backlog is remembered too, so this is where "never twice" lives."""
    fresh = [event for event in page.events if event.id not in seen]
    for item_id in page.item_ids:
        seen.put(item_id, True)
    return fresh


def live_chat_id_of(body: object) -> tuple[str | None, bool]:
    """A videos.list response -> (activeLiveChatId or None, whether it ended).
    PageError for a malformed one."""
    if not isinstance(body, Mapping) or not isinstance(body.get("items", []), list):
        raise PageError("videos.list response is not an object with a list of items")
    items = body.get("items") or []
    if not items:
        return None, False
    details = items[0].get("liveStreamingDetails") if isinstance(items[0], Mapping) else None
    if not isinstance(details, Mapping):
        return None, False
    chat_id = details.get("activeLiveChatId")
    ended = details.get("actualEndTime") is not None
    return (chat_id if isinstance(chat_id, str) and chat_id else None), ended


def live_video_of(body: object) -> str | None:
    """A search.list (eventType=live) response -> the live video id, if any."""
    if not isinstance(body, Mapping) or not isinstance(body.get("items", []), list):
        raise PageError("search.list response is not an object with a list of items")
    for item in body.get("items") or []:
        ident = item.get("id") if isinstance(item, Mapping) else None
        video = ident.get("videoId") if isinstance(ident, Mapping) else None
        if isinstance(video, str) and video:
            return video
    return None


class JsonArrayReader:
    """The chat stream's body, a JSON array sent an element at a time
    (reference §2.2): feed it text as it arrives, get each complete element.
    Reading the whole body with one json.loads would wait for the end of a
    stream that may last minutes (one project burned its quota that way)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._opened = False
        self.closed = False
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> list[object]:
        self._buffer += text
        out: list[object] = []
        while not self.closed:
            rest = self._buffer.lstrip()
            if not self._opened:
                if not rest:
                    break
                if rest[0] != "[":
                    raise PageError("the chat stream is not a JSON array")
                self._opened, rest = True, rest[1:].lstrip()
            if rest.startswith(","):
                rest = rest[1:].lstrip()
            if rest.startswith("]"):
                self.closed, self._buffer = True, ""
                break
            try:
                element, end = self._decoder.raw_decode(rest)
            except json.JSONDecodeError:
                self._buffer = rest  # an element still on its way
                break
            out.append(element)
            self._buffer = rest[end:]
        return out
