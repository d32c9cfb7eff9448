"""The HTTP/1.1 and WebSocket plumbing the loopback fakes share (Chzzk, Twitch, YouTube; OLV's standalone stop).

The fakes are servers written on pure Trio + h11 + wsproto, so that none of them depends on the client
libraries it tests. What they have in common lives here, and only that:

- the keep-alive loop of one connection (`serve_connection`), which reads each request
  (`receive_request`, `parse_request` into a `Request`) and hands it to the fake's own answer;
- writing one whole answer (`send_reply` of a `Reply`);
- taking a connection over for a WebSocket (`accept_websocket`; `close_websocket` to refuse one with a
  close code), and a TCP reset instead of a FIN (`set_linger_zero`);
- compact JSON with raw Korean (`compact_json`);
- the standalone modes' wait for Ctrl-C or SIGTERM (`stop_on_signal`).

What a platform says (its routes, envelopes, content types, headers, close codes) stays in its own fake.

A fake imports this as ``fakes._http``: tests have ``tests/`` on sys.path; a fake run as a script
(``python tests/fakes/twitch.py``) has ``tests/fakes/`` there instead, so it first puts ``tests/`` on
sys.path itself (the ``if not __package__`` lines at the top of each fake).
"""

from __future__ import annotations

import base64
import hashlib
import http
import json
import signal
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import h11
import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState as WsState
from wsproto.connection import ConnectionType
from wsproto.events import CloseConnection

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def compact_json(value: Any) -> str:
    """Compact JSON with raw (not \\u-escaped) Korean, as the real payloads have it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@attrs.frozen
class Request:
    method: str
    path: str  # without a trailing slash: "/socket.io/" is "/socket.io", "/" stays "/"
    raw_path: str
    params: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes

    def get(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.params.get(name)
        return values[0] if values else None

    @property
    def is_websocket(self) -> bool:
        # h11 takes a request as a protocol switch proposal only with "Connection: upgrade" too.
        connection = {token.strip().lower() for token in self.headers.get("connection", "").split(",")}
        return self.headers.get("upgrade", "").lower() == "websocket" and "upgrade" in connection


@attrs.frozen
class Reply:
    status: int
    body: bytes
    content_type: str  # each platform's own spelling ("application/json;charset=UTF-8", ...)
    headers: tuple[tuple[str, str], ...] = ()
    # Runs once the answer has gone out (or failed to): e.g. Chzzk's SYSTEM message follows a subscribe's reply.
    after: Callable[[], None] | None = None


def parse_request(event: h11.Request, body: bytes) -> Request:
    target = urlsplit(event.target.decode("ascii", "replace"))
    headers: dict[str, str] = {}
    for name, value in event.headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(
        method=event.method.decode("ascii", "replace"),
        path=target.path.rstrip("/") or "/",
        raw_path=target.path,
        params=parse_qs(target.query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


async def receive_request(conn: h11.Connection, stream: trio.SocketStream) -> tuple[h11.Request, bytes] | None:
    """The next request and its body; None once the client has closed the connection."""
    request = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def send_reply(
    conn: h11.Connection,
    stream: trio.SocketStream,
    reply: Reply,
    *,
    close: bool = False,
    server_headers: tuple[tuple[str, str], ...] = (),
) -> None:
    """One whole answer: content type and length, the fake's `server_headers`, the reply's own headers, and
    ``connection: close`` if `close`."""
    headers = [("content-type", reply.content_type), ("content-length", str(len(reply.body)))]
    headers += [*server_headers, *reply.headers]
    if close:
        headers.append(("connection", "close"))
    reason = http.HTTPStatus(reply.status).phrase.encode()
    await stream.send_all(conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reason)))
    await stream.send_all(conn.send(h11.Data(data=reply.body)))
    await stream.send_all(conn.send(h11.EndOfMessage()))


async def serve_connection(
    stream: trio.SocketStream,
    answer: Callable[[h11.Connection, trio.SocketStream, Request], Awaitable[bool]],
    *,
    answer_bad_requests: bool = True,
    server_headers: tuple[tuple[str, str], ...] = (),
) -> None:
    """One keep-alive connection, one request at a time, until the client closes it.

    `answer` writes the whole answer to one request (or takes the connection over for a WebSocket, or
    writes nothing at all) and returns True to end the connection with a TCP reset. The next request is
    read only if the answer left both sides of h11 DONE; otherwise the connection ends. A request h11
    cannot parse gets a plain 400 if `answer_bad_requests` (with `server_headers`), else the bare close.
    """
    conn = h11.Connection(h11.SERVER)
    rst = False
    try:
        while True:
            received = await receive_request(conn, stream)
            if received is None:
                return
            rst = await answer(conn, stream, parse_request(*received))
            if rst or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except h11.RemoteProtocolError as error:
        if answer_bad_requests and conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            reply = Reply(error.error_status_hint, b"Bad Request", "text/plain")
            try:
                await send_reply(conn, stream, reply, server_headers=server_headers)
            except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
                pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client went away
    finally:
        if rst:
            set_linger_zero(stream)
        await trio.aclose_forcefully(stream)


def set_linger_zero(stream: trio.SocketStream) -> None:
    """Make the coming close send a TCP RST instead of a FIN."""
    try:
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already closed


async def accept_websocket(conn: h11.Connection, stream: trio.SocketStream, key: str) -> WsConnection:
    """Answer 101 to a request with Sec-WebSocket-Key `key` and take the connection over with wsproto (bytes
    already read are kept)."""
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    headers = [("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-accept", accept)]
    await stream.send_all(conn.send(h11.InformationalResponse(status_code=101, headers=headers)))
    trailing, _ = conn.trailing_data
    return WsConnection(ConnectionType.SERVER, trailing_data=trailing)


async def close_websocket(stream: trio.SocketStream, ws: WsConnection, code: int, reason: str, grace: float) -> None:
    """Close an accepted WebSocket at once with `code`, waiting `grace` seconds at most for the answer."""
    try:
        await stream.send_all(ws.send(CloseConnection(code, reason)))
        with trio.move_on_after(grace):
            while ws.state is not WsState.CLOSED:
                data = await stream.receive_some(65536)
                ws.receive_data(data or None)
                if not data:
                    break
                for _ in ws.events():
                    pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def stop_on_signal(cancel_scope: trio.CancelScope) -> None:
    """Standalone modes: cancel `cancel_scope` at the first Ctrl-C or SIGTERM."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            cancel_scope.cancel()
            break
