"""One connection to YouTube's chat stream (`liveChat/messages/stream`).

The REST mapping of `streamList` (reference §2.2): a JSON array sent an
element at a time, each element a list response; errors may come as the
answer's status with a one-element array, or inside the array after a 200.
A connection costs 5 units however long it lives (§2.1), and one field
report saw every connection closed after ~10 s (§2.3), so the stream is
only worth it while it works. It stops being used for a while
(`StreamGate`) when:

- the endpoint is missing (a 404 that is not `liveChatNotFound`) or refused
  (another 4xx that is not about the chat, the quota or the rate): raised as
  StreamUnavailable, and the monitor polls at once. A 403 `forbidden` here
  may be about the endpoint rather than the key; if it was the key, the list
  call that follows says so, and that is fatal there;
- it closes `stream_short_limit` connections in a row sooner than
  `stream_short` seconds (the gate counts; the monitor logs it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import trio

from supervision import ChildContext

from .api import ApiError, JsonArrayReader, parse_error
from .quota import STREAM_COST

if TYPE_CHECKING:
    from .monitor import YouTubeMonitor

# Not about the endpoint: these are handled as on the list endpoint.
ABOUT_THE_CHAT = frozenset(
    {"liveChatEnded", "liveChatNotFound", "liveChatDisabled", "rateLimitExceeded", "quotaExceeded", "pageTokenInvalid"}
)

Take = Callable[[object], Awaitable[float | None]]


class StreamUnavailable(Exception):
    """The stream endpoint is missing or refused: poll instead, for a while."""


def unavailable(error: ApiError) -> StreamUnavailable | None:
    """The error as StreamUnavailable when it is about the endpoint itself."""
    if error.reason in ABOUT_THE_CHAT or not 400 <= error.status < 500 or error.status == 429:
        return None
    what = "missing" if error.status in (404, 405) else "refused"
    return StreamUnavailable(f"the chat stream endpoint is {what} (HTTP {error.status} {error.reason})")


async def stream_once(
    monitor: YouTubeMonitor,
    ctx: ChildContext,
    client: httpx.AsyncClient,
    params: dict[str, str],
    take: Take,
) -> None:
    """One connection, each response handed to `take` as it arrives, until
    the server closes it (or `stream_max` passes and we renew it)."""
    s = monitor.s
    url = f"{s.api_base_url}/liveChat/messages/stream"
    # No read timeout: a quiet chat sends nothing for a while.
    timeout = httpx.Timeout(s.request_timeout, read=None)
    while True:
        await monitor.wait_for_units(ctx, STREAM_COST)
        opened = trio.current_time()
        renew_at = opened + s.stream_max
        renewed = False
        try:
            async with client.stream("GET", url, params={**params, "key": s.api_key}, timeout=timeout) as response:
                if response.status_code >= 400:
                    body = _json_or_none(await response.aread())
                    first = body[0] if isinstance(body, list) and body else body
                    error = monitor.refusal(response, first, STREAM_COST, stream=True)
                    if error.reason == "quotaExceeded":
                        continue  # wait_for_units waits for the reset
                    raise unavailable(error) or error
                monitor.charge(STREAM_COST)
                ended, renewed = await _read(monitor, response, take, renew_at)
                if ended:
                    return  # quotaExceeded inside the stream: the next call waits
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectionError(f"chat stream: {type(exc).__name__}") from None
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from the chat stream within {s.request_timeout:g}s") from None
        except httpx.TransportError as exc:
            raise ConnectionError(f"chat stream: {type(exc).__name__}") from None
        # The server closed it (we did not renew it): a stream that keeps
        # closing at once is no stream.
        lasted = trio.current_time() - opened
        if not renewed and monitor.cursor.gate.closed(lasted, monitor.wall()) is not None:
            monitor.stream_fell_back()
        return


async def _read(monitor: YouTubeMonitor, response: httpx.Response, take: Take, renew_at: float) -> tuple[bool, bool]:
    """The body's elements to `take`, until the server closes the connection
    or `renew_at`. Returns (ended on a spent quota, renewed by us). The
    connection is already paid for, so an error in it costs nothing more.

    The renewal deadline covers only the wait for the next chunk, never
    `take`: cancelling a page half handed to a full router would lose its
    tail (its ids are already remembered as seen)."""
    reader = JsonArrayReader()
    chunks = response.aiter_text()
    while True:
        with trio.move_on_at(renew_at) as renewal:
            try:
                text = await anext(chunks)
            except StopAsyncIteration:
                return False, False
        if renewal.cancelled_caught:
            return False, True
        for element in reader.feed(text):
            if isinstance(element, dict) and "error" in element:
                error = parse_error(_code(element), element)
                if error.reason == "quotaExceeded":
                    monitor.quota_exceeded()
                    return True, False
                raise unavailable(error) or error
            await take(element)


def _code(element: dict[str, Any]) -> int:
    error = element.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and 400 <= code < 600 else 500


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
