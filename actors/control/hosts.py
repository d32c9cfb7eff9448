"""The Host header guard: the control surface answers only to its own address.

DNS rebinding: a page on evil.example, open in the streamer's browser, has
its name re-resolved to 127.0.0.1, and from then on its scripts reach this
service *as the same origin* (so CORS and the Origin check do not help),
with `Host: evil.example`. With no token set they could read /status and
drive the monitors. The browser always sends the name it resolved, so
refusing every Host that does not name our own address stops it.

Accepted: 127.0.0.1, localhost, [::1] and the configured `control.host`,
each with our port or none (any port when it is 0: picked by the OS). Bound to every address (0.0.0.0 or ::), any IP
literal is ours too: the LAN reaches us by the machine's address, and an IP
literal is never an attacker's name to rebind. Everything else, and a
request with no Host at all, gets 421 Misdirected Request with a short plain
reason, for HTTP and for the WebSocket handshake alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
REASON = b"421 Misdirected Request: this service answers only to its own address (Host header)\n"


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` or `[v6][:port]` as (name, port); None if malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
        rest = ":" + port
    elif ":" in value:
        return None  # a bare IPv6 address must be bracketed in a Host
    else:
        name, rest = value, ""
    if not rest:
        return (name.lower(), None) if name else None
    digits = rest.removeprefix(":")
    if not rest.startswith(":") or not digits.isdigit() or len(digits) > 5:
        return None
    return (name.lower(), int(digits)) if name else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which Host header values name this service's listening address."""

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        configured = host.strip("[]").lower()
        self.names = frozenset((*LOOPBACK_NAMES, configured)) - {""}
        self.any_ip = configured in WILDCARDS

    def allows(self, header: str | None) -> bool:
        if header is None:
            return False
        parsed = split_host(header)
        if parsed is None:
            return False
        name, port = parsed
        if port is not None and self.port and port != self.port:  # port 0: the OS picked it
            return False
        return name in self.names or (self.any_ip and _is_ip(name))


class HostGuard:
    """ASGI middleware: refuses a request whose Host is not ours, before the
    app sees it (HTTP with a 421, a WebSocket handshake with a 421 denial
    response, or a plain close where the server cannot send one)."""

    def __init__(self, app: App, policy: HostPolicy, *, on_refused: Callable[[str | None], None]) -> None:
        self.app = app
        self.policy = policy
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        host = _header(scope, b"host")
        if self.policy.allows(host):
            await self.app(scope, receive, send)
            return
        self.on_refused(host)
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(REASON)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 421, "headers": headers})
            await send({"type": "http.response.body", "body": REASON})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 421, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": REASON})
        else:
            await send({"type": "websocket.close", "code": 1008})  # refused before accept: a 403


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
