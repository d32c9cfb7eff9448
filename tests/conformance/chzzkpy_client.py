"""Drive chzzkpy 2.2.0, the reference Python client, against the fake Chzzk server (tests/fakes/chzzk.py).

It runs in a SEPARATE virtualenv that has only ``chzzkpy==2.2.0`` (and what it pins: aiohttp, pydantic,
yarl, ...), never in the project's, because chzzkpy pins 17 dependencies exactly::

    python chzzkpy_client.py --base-url http://127.0.0.1:PORT --client-id ID --client-secret SECRET

The fake must run with ``--script conformance``. The flow is chzzkpy's own, end to end:

1. chzzkpy's consent URL, re-pointed at the fake; the 302 it answers carries the code (the redirect is
   read, not followed);
2. ``Client.generate_user_client(code, state)``: the code exchange and ``/open/v1/users/me``;
3. ``UserClient.connect(UserPermission.all())``: session URL, Engine.IO polling handshake, upgrade to a
   WebSocket, SYSTEM connected, three subscribe calls;
4. one ``on_chat`` with the conformance text and one ``on_donation`` of 1000 (20 s at most);
5. ``UserClient.refresh()``, then the used refresh token again, which must be refused (single use);
6. ``UserClient.disconnect()``.

chzzkpy hard-codes the production hosts and TLS (reference §4.1), so three things are patched: the REST
base URL in ``ChzzkOpenAPISession.__init__``, ``ssl=False`` for ``ChzzkGateway.connect``, and a guard on
every aiohttp session that refuses any host but 127.0.0.1, so nothing outside the machine is contacted.

The last line printed is a one-line JSON summary; the exit status is 0 on success, 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
import chzzkpy
from ahttp_client import Session
from chzzkpy.gateway import ChzzkGateway
from chzzkpy.http import ChzzkOpenAPISession
from yarl import URL

# What the fake's --script conformance sends.
CHAT_TEXT = "conformance chat 안녕"
DONATION_TEXT = "conformance donation"
DONATION_AMOUNT = 1000
EVENT_TIMEOUT = 20.0
LOOPBACK = "127.0.0.1"


class Failure(Exception):
    """A step went wrong; the message says which."""


def patch_chzzkpy(base_url: str) -> None:
    """Point chzzkpy at the fake, without TLS, and make any other host an error."""

    async def refuse_non_loopback(_session: Any, _context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.url.host != LOOPBACK:
            raise Failure(f"chzzkpy tried to reach {params.url.host!r}: only {LOOPBACK} is allowed")

    guard = aiohttp.TraceConfig()
    guard.on_request_start.append(refuse_non_loopback)
    original_session_init = aiohttp.ClientSession.__init__

    def guarded_session_init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        kwargs["trace_configs"] = [*(kwargs.get("trace_configs") or []), guard]
        original_session_init(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = guarded_session_init  # type: ignore[method-assign]

    # ChzzkOpenAPISession.__init__ passes base_url="https://openapi.chzzk.naver.com" to ahttp_client.Session.
    def session_init(
        self: ChzzkOpenAPISession,
        client_id: str,
        client_secret: str,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        Session.__init__(self, base_url=base_url, loop=loop)

    ChzzkOpenAPISession.__init__ = session_init  # type: ignore[method-assign]

    # ChzzkGateway.connect(..., ssl=True) rewrites the session URL to https/wss; the fake speaks plain HTTP.
    original_connect = ChzzkGateway.connect.__func__  # type: ignore[attr-defined]

    async def connect(cls: type[ChzzkGateway], *args: Any, **kwargs: Any) -> ChzzkGateway:
        kwargs["ssl"] = False
        return await original_connect(cls, *args, **kwargs)

    ChzzkGateway.connect = classmethod(connect)  # type: ignore[method-assign, assignment]


async def authorization_code(client: chzzkpy.Client, base_url: str, state: str) -> str:
    """chzzkpy's consent URL on the fake's host; the fake consents at once and redirects with a code."""
    consent = URL(client.generate_authorization_token_url(redirect_url="http://127.0.0.1:9/callback", state=state))
    consent = URL(base_url).with_path(consent.path).with_query(consent.query)
    async with aiohttp.ClientSession() as http, http.get(consent, allow_redirects=False) as response:
        if response.status != 302:
            raise Failure(f"consent page answered {response.status}, not 302")
        location = URL(response.headers["Location"])
    if location.query.get("state") != state:
        raise Failure(f"consent redirect lost the state: {location}")
    code = location.query.get("code")
    if not code:
        raise Failure(f"consent redirect has no code: {location}")
    return code


async def run(base_url: str, client_id: str, client_secret: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    patch_chzzkpy(base_url)
    summary: dict[str, Any] = {"chzzkpy": chzzkpy.__version__}

    client = chzzkpy.Client(client_id, client_secret)
    chat: asyncio.Future[chzzkpy.Message] = loop.create_future()
    donation: asyncio.Future[chzzkpy.Donation] = loop.create_future()
    errors: list[str] = []

    @client.event
    async def on_chat(message: chzzkpy.Message) -> None:
        if message.content == CHAT_TEXT and not chat.done():
            chat.set_result(message)

    @client.event
    async def on_donation(message: chzzkpy.Donation) -> None:
        if message.pay_amount == DONATION_AMOUNT and message.donation_text == DONATION_TEXT and not donation.done():
            donation.set_result(message)

    @client.event
    async def on_error(exc: BaseException, *_: Any) -> None:
        errors.append(repr(exc))

    state = "conformance-state"
    code = await authorization_code(client, base_url, state)
    user = await client.generate_user_client(code, state)
    summary["channel_id"] = user.channel_id
    summary["expires_in"] = user.access_token.expires_in

    session_key = await asyncio.wait_for(user.connect(chzzkpy.UserPermission.all(), addition_connect=True), 20)
    gateway = user._gateway  # chzzkpy never closes this gateway's aiohttp session; we do, at the end
    summary["session_key"] = session_key
    summary["transport"] = gateway.current_transport if gateway is not None else None

    try:
        got_chat, got_donation = await asyncio.wait_for(asyncio.gather(chat, donation), EVENT_TIMEOUT)
    except TimeoutError:
        raise Failure(
            f"no chat and donation within {EVENT_TIMEOUT:g} s (chat {chat.done()}, donation {donation.done()})"
        ) from None
    summary["chat"] = {
        "content": got_chat.content,
        "sender": got_chat.user_id,
        "nickname": got_chat.profile.nickname,
        "chat_channel": got_chat.chat_channel,
    }
    summary["donation"] = {"pay_amount": got_donation.pay_amount, "text": got_donation.donation_text}

    # Refresh tokens are single-use: chzzkpy's refresh works once, the same token again is refused.
    used = user.access_token.refresh_token
    await user.refresh()
    if user.access_token.refresh_token == used:
        raise Failure("the refresh returned the same refresh token")
    summary["scope"] = user.access_token.scope
    try:
        await client.refresh_access_token(used)
    except chzzkpy.UnauthorizedException as exc:
        summary["reused_refresh"] = str(exc)
    else:
        raise Failure("a used refresh token was accepted again")
    await user.fetch_self()  # the new access token works

    await user.disconnect()
    if gateway is not None:
        await gateway.session.close()
    if client.http is not None:
        await client.http.close()
    if errors:
        raise Failure(f"chzzkpy reported errors: {errors}")
    summary["elapsed_s"] = round(time.monotonic() - started, 3)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the fake's base URL, http://127.0.0.1:PORT")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args()
    if URL(args.base_url).host != LOOPBACK:
        print(json.dumps({"ok": False, "error": f"--base-url must be on {LOOPBACK}"}))
        return 1
    try:
        summary = asyncio.run(run(args.base_url, args.client_id, args.client_secret))
    except Exception as exc:  # any failure, chzzkpy's included, is reported the same way
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False))
        return 1
    print(json.dumps({"ok": True, **summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
