"""The streamer's live controls: the same actions from the dashboard's
buttons and from any client of the control WebSocket.

    {"type": "skip"}                                   cut the answer in progress short
    {"type": "pause"} / {"type": "resume"}             stop / start handing out turns
    {"type": "pin", "platform": p, "id": i}            answer this waiting message next
    {"type": "drop", "platform": p, "id": i}           drop this waiting message
    {"type": "mute", "author_id": a}                   mute an author for this stream
    {"type": "unmute", "author_id": a}
    {"type": "test-message", "text": t, "author": n}   a chat line from platform "test"

Each gets one reply, {"type": "control-result", "action", "ok", "message", ...},
and a `control.action` log line naming where it came from (the page's Origin,
or "script" for a client that sent none). Every action keeps the books
balanced: what it removes gets a fate (`dropped:streamer`,
`dropped:blocked_author`), and a test message is received like any chat.

Fields come from a browser or a script: each is checked here, where it
enters, for its type and length, and a bad one is answered with what is
wrong, never raised.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio

from ..chat import Author, ChatEvent, Kind, Platform
from ..i18n import text

if TYPE_CHECKING:
    from ..app import Service

Emit = Callable[..., None]

ACTIONS = frozenset({"skip", "pause", "resume", "pin", "drop", "mute", "unmute", "test-message"})
_MAX_ID = 200  # platform ids are far shorter; anything longer is not one
_MAX_TEST_TEXT = 500
_MAX_NAME = 50


class Cockpit:
    def __init__(self, service: Service, *, emit: Emit) -> None:
        self.service = service
        self.emit = emit
        self._test_ids = itertools.count(1)

    def handle(self, message: Mapping[str, Any], origin: str | None, language: str = "en") -> dict[str, Any]:
        """One action, answered in `language` (a field that is wrong is
        answered in English: only a script can send one)."""
        action = str(message.get("type"))
        try:
            ok, key, extra = self._act(action, message)
            said = text(f"cockpit.{key}", language, n=extra.get("dropped", 0))
        except _Refused as refused:
            ok, said, extra = False, str(refused), {}
        self.emit(
            "control.action",
            "info" if ok else "warning",
            action=action,
            origin="script" if origin is None else ascii(origin[:80]),
            ok=ok,
            **extra,
        )
        return {"type": "control-result", "action": action, "ok": ok, "message": said, **extra}

    def _act(self, action: str, message: Mapping[str, Any]) -> tuple[bool, str, dict[str, Any]]:
        """(done, the catalogue key of what to say, fields for the reply)"""
        service = self.service
        buffer = service.buffer
        if action == "skip":
            if service.skipper.skip():
                return True, "skipping", {}
            return False, "nothing_to_skip", {}
        if action == "pause":
            buffer.pause()
            return True, "paused", {"paused": True}
        if action == "resume":
            buffer.resume()
            return True, "resumed", {"paused": False}
        if action in ("pin", "drop"):
            platform, message_id = _platform(message), _text_field(message, "id", _MAX_ID)
            fields = {"platform": platform, "id": message_id}
            if action == "pin":
                if buffer.pin(platform, message_id):
                    return True, "pinned", fields
                return False, "not_waiting", fields
            dropped = buffer.drop(platform, message_id)
            if dropped:
                return True, "dropped", {**fields, "dropped": dropped}
            return False, "not_waiting", fields
        if action in ("mute", "unmute"):
            author_id = _text_field(message, "author_id", _MAX_ID)
            if action == "mute":
                dropped = service.router.mute(author_id)
                return True, "muted", {"author_id": author_id, "dropped": dropped}
            if service.router.unmute(author_id):
                return True, "unmuted", {"author_id": author_id}
            return False, "not_muted", {"author_id": author_id}
        if action == "test-message":
            return self._test_message(message)
        raise _Refused(f"unknown action {action!r}")

    def _test_message(self, message: Mapping[str, Any]) -> tuple[bool, str, dict[str, Any]]:
        text = _text_field(message, "text", _MAX_TEST_TEXT)
        name = message.get("author", "test")
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
            raise _Refused(f"author: a name of 1 to {_MAX_NAME} characters")
        message_id = f"test-{next(self._test_ids)}"
        event = ChatEvent(
            Platform.TEST,
            message_id,
            Kind.CHAT,
            Author(f"test:{name.strip()}", name.strip()),
            text,
            None,
            datetime.now(UTC),
            received_at=trio.current_time(),
        )
        try:
            self.service.chat_send.send_nowait(event)
        except trio.WouldBlock:
            return False, "busy", {}
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False, "closed", {}
        return True, "test_sent", {"platform": Platform.TEST.value, "id": message_id}


class _Refused(Exception):
    """A field that cannot be what the action needs: the reply says which."""


def _text_field(message: Mapping[str, Any], name: str, limit: int) -> str:
    value = message.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _Refused(f"{name}: a text of 1 to {limit} characters")
    return value


def _platform(message: Mapping[str, Any]) -> str:
    value = message.get("platform")
    known = [p.value for p in Platform]
    if value not in known:
        raise _Refused(f"platform: one of {', '.join(known)}")
    assert isinstance(value, str)
    return value
