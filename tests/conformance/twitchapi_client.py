"""Drive twitchAPI 4.5.0, the most used Python Twitch client, against the fake Twitch (tests/fakes/twitch.py).

It runs in a SEPARATE virtualenv that has only ``twitchAPI==4.5.0`` (and what it pulls in: aiohttp, ...),
never in the project's::

    python twitchapi_client.py --auth-url http://127.0.0.1:P/oauth2/ --helix-url http://127.0.0.1:P/helix/ \\
        --ws-url ws://127.0.0.1:P/ws --client-id ID --login LOGIN --access-token A --refresh-token R

The fake must run with ``--script conformance``. The flow is twitchAPI's own (reference §8.7):

1. ``Twitch(client_id, app_secret=None, authenticate_app=False, base_url=…, auth_base_url=…)``;
2. ``set_user_authentication(access, [USER_READ_CHAT], refresh)``: the access token is already expired, so
   twitchAPI's validation fails and it refreshes by itself (``client_secret`` "None": a public app), which
   ``user_auth_refresh_callback`` records;
3. ``get_users(logins=[LOGIN])``;
4. ``EventSubWebsocket(twitch, connection_url=WS, subscription_url=HELIX).start()`` and three listeners:
   ``channel.chat.message``, ``channel.chat.notification``, ``channel.chat.message_delete`` (twitchAPI
   validates the token before each POST);
5. the scripted chat, across the fake's ``session_reconnect`` (twitchAPI follows it itself), until the line
   END_TEXT (30 s at most); then ``stop()``.

Each event received is printed as one JSON line ``{"event": {...}}``; the last line is a one-line JSON
summary. Every aiohttp request (HTTP and WebSocket) to a host other than 127.0.0.1 is refused. The exit
status is 0 on success, 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from importlib.metadata import version
from typing import Any

import aiohttp
from twitchAPI.eventsub.websocket import EventSubWebsocket
from twitchAPI.helper import first
from twitchAPI.object.eventsub import (
    ChannelChatMessageDeleteEvent,
    ChannelChatMessageEvent,
    ChannelChatNotificationEvent,
)
from twitchAPI.twitch import Twitch
from twitchAPI.type import AuthScope
from yarl import URL

END_TEXT = "conformance done 끝"  # the fake's last scripted line (CONFORMANCE_END)
EVENT_TIMEOUT = 30.0
LOOPBACK = "127.0.0.1"


class Failure(Exception):
    """A step went wrong; the message says which."""


def guard_loopback() -> None:
    """Make every aiohttp request (twitchAPI's HTTP and its WebSocket) to a host but 127.0.0.1 an error."""

    async def refuse(_session: Any, _context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.url.host != LOOPBACK:
            raise Failure(f"twitchAPI tried to reach {params.url.host!r}: only {LOOPBACK} is allowed")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(refuse)
    original = aiohttp.ClientSession.__init__

    def init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        kwargs["trace_configs"] = [*(kwargs.get("trace_configs") or []), trace]
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = init  # type: ignore[method-assign]


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    guard_loopback()
    summary: dict[str, Any] = {"twitchAPI": version("twitchAPI")}
    loop = asyncio.get_running_loop()

    twitch = await Twitch(
        args.client_id,
        app_secret=None,
        authenticate_app=False,
        base_url=args.helix_url,
        auth_base_url=args.auth_url,
    )
    refreshes: list[str] = []

    async def on_refresh(token: str, refresh_token: str) -> None:
        refreshes.append(token)

    twitch.user_auth_refresh_callback = on_refresh
    await twitch.set_user_authentication(args.access_token, [AuthScope.USER_READ_CHAT], args.refresh_token)
    if twitch.get_user_auth_token() == args.access_token:
        raise Failure("the expired access token was kept: twitchAPI did not refresh it")
    summary["refreshes"] = len(refreshes)

    user = await first(twitch.get_users(logins=[args.login]))
    if user is None:
        raise Failure(f"get_users(logins=[{args.login!r}]) found nobody")
    summary["user"] = {"id": user.id, "login": user.login, "display_name": user.display_name}

    events: list[dict[str, Any]] = []
    done = asyncio.Event()

    def record(kind: str, metadata: Any, fields: dict[str, Any]) -> None:
        line = {"type": kind, "message_id": metadata.message_id, **fields}
        events.append(line)
        emit({"event": line})

    async def on_message(data: ChannelChatMessageEvent) -> None:
        event = data.event
        fields = {
            "id": event.message_id,
            "text": event.message.text,
            "chatter": event.chatter_user_login,
            "bits": event.cheer.bits if event.cheer is not None else None,
            "reply_to": event.reply.parent_message_id if event.reply is not None else None,
        }
        record("channel.chat.message", data.metadata, fields)
        if event.message.text == END_TEXT:
            loop.call_soon_threadsafe(done.set)

    async def on_notification(data: ChannelChatNotificationEvent) -> None:
        event = data.event
        fields = {
            "id": event.message_id,
            "text": event.message.text,
            "notice_type": event.notice_type,
            "chatter": event.chatter_user_login,
        }
        record("channel.chat.notification", data.metadata, fields)

    async def on_delete(data: ChannelChatMessageDeleteEvent) -> None:
        record("channel.chat.message_delete", data.metadata, {"id": data.event.message_id})

    # The WebSocket and the callbacks run in twitchAPI's own thread and loop. (Not callback_loop=this loop:
    # twitchAPI calls its create_task from that thread, which does not wake this loop up.)
    eventsub = EventSubWebsocket(twitch, connection_url=args.ws_url, subscription_url=args.helix_url)
    eventsub.start()  # blocks (briefly) until the welcome
    try:
        first_session = eventsub.active_session.id if eventsub.active_session else None
        subscriptions = [
            await eventsub.listen_channel_chat_message(user.id, user.id, on_message),
            await eventsub.listen_channel_chat_notification(user.id, user.id, on_notification),
            await eventsub.listen_channel_chat_message_delete(user.id, user.id, on_delete),
        ]
        summary["subscriptions"] = subscriptions
        try:
            await asyncio.wait_for(done.wait(), EVENT_TIMEOUT)
        except TimeoutError:
            raise Failure(f"no {END_TEXT!r} within {EVENT_TIMEOUT:g} s ({len(events)} events)") from None
        last_session = eventsub.active_session.id if eventsub.active_session else None
        summary["sessions"] = [first_session, last_session]
        summary["reconnected"] = first_session != last_session
    finally:
        await eventsub.stop()
        await twitch.close()
    summary["events"] = len(events)
    summary["elapsed_s"] = round(time.monotonic() - started, 3)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth-url", required=True, help="http://127.0.0.1:P/oauth2/")
    parser.add_argument("--helix-url", required=True, help="http://127.0.0.1:P/helix/")
    parser.add_argument("--ws-url", required=True, help="ws://127.0.0.1:P/ws")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--login", required=True, help="the broadcaster's login, looked up with get_users")
    parser.add_argument("--access-token", required=True)
    parser.add_argument("--refresh-token", required=True)
    args = parser.parse_args()
    for url in (args.auth_url, args.helix_url, args.ws_url):
        if URL(url).host != LOOPBACK:
            emit({"ok": False, "error": f"{url} is not on {LOOPBACK}"})
            return 1
    try:
        summary = asyncio.run(run(args))
    except Exception as exc:  # any failure, twitchAPI's included, is reported the same way
        emit({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit({"ok": True, **summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
