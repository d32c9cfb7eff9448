"""The Chzzk monitor: the official Open API session, on Trio, all stream long.

One connection (reference §2.4–2.6, §4.4):

1. an access token (refreshed when close to expiry, or when refused);
2. a fresh session URL (`GET /open/v1/sessions/auth`): an unused one
   expires within a minute, so every connect asks for a new one;
3. the socket: Engine.IO v3 over a WebSocket (`EIO=3`), the OPEN packet
   with the server's `pingInterval`/`pingTimeout`, `40`, then SYSTEM
   `connected` with a new `sessionKey`;
4. subscribe chat, donation and subscription with that key, and wait for
   the SYSTEM `subscribed` confirmations (they come on the socket, not in
   the HTTP answer);
5. read and ping (`socket.py`): events become ChatEvents, queued for
   the router by a task of their own; a pong must come within
   `pingTimeout`, so a socket that died silently is found.

Why not chzzkpy: it is asyncio-only, and when the server drops the socket
without a close packet it spins a core in a loop that never yields; under
trio-asyncio that would freeze every actor. Here a dead socket is an
exception like any other, and the end of the connection is the end of a
nursery.

Any end of a connection is retried with a fresh URL and new subscriptions,
by the common rule (`retry.py`): about a second after the first failure,
longer after each further one, up to `retry_interval`; a connection that
went live ends the outage, so a socket dropped after a minute of chat is
back within seconds (Chzzk does not replay what was missed). A `Retry-After`
is obeyed exactly. No token, or a refused refresh token, is not retried at
all: the status says which URL to open, and the monitor waits for the
callback.

Chzzk chat has no message ids; `api.py` derives stable ones, and the ids
already emitted live in `ChzzkCursor`, which outlives restarts, so a
message delivered again after a reconnect is not emitted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import trio
import trio_websocket

from supervision import ChildContext

from ...chat import ChatEvent
from ...i18n import Param, Said, says, tell
from ...router.filters import BoundedLRU
from ..common.forward import Forwarder, first_failure, run_socket_monitor
from ..common.retry import FatalMonitorError, RetryRule, parse_retry_after, retry_fields, run_with_retries
from .api import ChzzkApiError, PayloadError, session_url_of, socket_url, unwrap
from .auth import ChzzkAuth, NeedsAuthorization
from .socket import ChzzkSocket, SessionLost, read_open

Emit = Callable[..., None]
WallClock = Callable[[], datetime]

EVENT_TYPES = {"chat": "CHAT", "donation": "DONATION", "subscription": "SUBSCRIPTION"}


@attrs.frozen
class ChzzkSettings:
    api_base_url: str = "https://openapi.chzzk.naver.com"
    events: tuple[str, ...] = ("chat", "donation", "subscription")
    connect_timeout: float = 10.0  # socket open to SYSTEM connected
    subscribe_timeout: float = 10.0  # subscribe calls to their confirmations
    request_timeout: float = 15.0
    max_retries: int = 10
    retry_interval: float = 60.0


@attrs.define
class ChzzkCursor:
    """What outlives one incarnation of the monitor."""

    seen: BoundedLRU[str, bool] = attrs.field(factory=lambda: BoundedLRU(50_000))
    emitted: int = 0
    duplicates: int = 0
    skipped: int = 0
    connects: int = 0  # sockets that reached SYSTEM connected
    session_key: str | None = None
    live_since: float | None = None  # trio time the current session was subscribed
    subscribed: tuple[str, ...] = ()
    refused: set[str] = attrs.field(factory=set)  # event types Chzzk would not let us subscribe to (403)
    unknown_logged: set[str] = attrs.field(factory=set)


class ChzzkMonitor:
    def __init__(
        self,
        settings: ChzzkSettings,
        auth: ChzzkAuth,
        outbox: trio.MemorySendChannel[ChatEvent],
        cursor: ChzzkCursor,
        *,
        emit: Emit,
        wall_clock: WallClock = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.s = settings
        self.auth = auth
        self.outbox = outbox
        self.cursor = cursor
        self.emit = emit
        self.wall = wall_clock
        self.transport = transport
        self.wanted = tuple(EVENT_TYPES[name] for name in settings.events)
        # Events on their way to the router; outlives connections and restarts.
        self.forwarder = Forwarder("chzzk", emit, self._sent)
        self._enqueue = self.forwarder.put

    async def run(self, ctx: ChildContext) -> None:
        # Leaving the socket says goodbye on the way out (see _converse).
        await run_socket_monitor(ctx, self.outbox, self.forwarder, self._retrying, _PRECEDENCE)

    def _sent(self) -> None:
        self.cursor.emitted += 1

    async def _retrying(self, ctx: ChildContext) -> None:
        async with httpx.AsyncClient(timeout=self.s.request_timeout, transport=self.transport) as client:

            async def attempt(delivered: Callable[[], None]) -> None:
                while True:
                    try:
                        await self._connection(ctx, client, delivered)
                    except NeedsAuthorization as need:
                        await self._wait_for_authorization(ctx, need)

            def on_retry(attempt_no: int, delay: float, exc: Exception) -> None:
                self.emit("chzzk.retry", "warning", **retry_fields(attempt_no, delay, exc))

            rule = RetryRule(self.s.max_retries, self.s.retry_interval)
            await run_with_retries(ctx, "chzzk", attempt, rule, on_retry=on_retry)

    async def _wait_for_authorization(self, ctx: ChildContext, need: NeedsAuthorization) -> None:
        # Said once, clearly; then nothing until the callback stores a token.
        # The check comes first: the consent may have landed while the old
        # socket was still closing.
        if self.auth.has_token:
            return
        tell(ctx, need.said)
        self.emit(
            "chzzk.needs_authorization", "warning", why=str(need.why), why_detail=need.why.to_dict(), open=need.url
        )
        while not self.auth.has_token:
            await self.auth.authorized()
        self.emit("chzzk.authorized")

    # ---- REST ---------------------------------------------------------------------------------

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, params: dict[str, str] | None) -> Any:
        """One user-authenticated call; a refused access token is refreshed and the call made once more."""
        token = await self.auth.access_token(client)
        try:
            return await self._call_once(client, method, path, params, token)
        except ChzzkApiError as exc:
            if exc.status != 401:  # INVALID_TOKEN, or UNAUTHORIZED; INVALID_CLIENT was fatal already
                raise
        self.emit("chzzk.token_refused", "warning", path=path)
        token = await self.auth.access_token(client, refused=token)
        return await self._call_once(client, method, path, params, token)

    async def _call_once(
        self, client: httpx.AsyncClient, method: str, path: str, params: dict[str, str] | None, token: str
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if "/events/" in path:
            headers |= self.auth.client_headers()  # what chzzkpy sends there, against the real server
        try:
            response = await client.request(method, f"{self.s.api_base_url}{path}", params=params, headers=headers)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from {path} within {self.s.request_timeout:g}s") from None
        except httpx.TransportError as exc:
            raise ConnectionError(f"{path}: {type(exc).__name__}") from None
        try:
            return unwrap(response.status_code, response.content)
        except ChzzkApiError as exc:
            if exc.invalid_client:
                raise FatalMonitorError(says("status.chzzk_client_refused")) from None
            if exc.status == 403:
                raise FatalMonitorError(says("status.chzzk_scope_refused", path=path, error=str(exc))) from None
            # A server that says when to come back is obeyed exactly, by the retry rule.
            exc.retry_after = parse_retry_after(response.headers.get("retry-after"), self.wall())
            if exc.retry_after is not None:
                self.emit("chzzk.rate_limited", "warning", path=path, wait_s=exc.retry_after)
            raise

    # ---- one connection -----------------------------------------------------------------------

    async def _connection(self, ctx: ChildContext, client: httpx.AsyncClient, delivered: Callable[[], None]) -> None:
        tell(ctx, says("status.chzzk_connecting"))
        url = socket_url(session_url_of(await self._call(client, "GET", "/open/v1/sessions/auth", None)))
        # Never the URL in an error: its `auth` query is a credential.
        try:
            async with trio_websocket.open_websocket_url(
                url, connect_timeout=self.s.connect_timeout, disconnect_timeout=2.0
            ) as ws:
                await self._converse(ctx, client, delivered, ws)
        except trio_websocket.ConnectionTimeout:
            raise TimeoutError(f"the session socket did not open within {self.s.connect_timeout:g}s") from None
        except trio_websocket.DisconnectionTimeout as exc:
            # trio-websocket raises this from its `finally`: what ended the
            # connection (a refused scope, a dead socket) is its context.
            if isinstance(exc.__context__, Exception):
                raise exc.__context__ from None
            raise SessionLost("the socket did not close within 2s") from None
        except trio_websocket.ConnectionRejected as exc:
            raise ConnectionError(f"the session socket was refused (HTTP {exc.status_code})") from None
        except trio_websocket.HandshakeError as exc:
            cause = exc.__cause__
            raise ConnectionError(f"cannot open the session socket ({type(cause or exc).__name__})") from None

    async def _converse(
        self,
        ctx: ChildContext,
        client: httpx.AsyncClient,
        delivered: Callable[[], None],
        ws: trio_websocket.WebSocketConnection,
    ) -> None:
        try:
            with trio.fail_after(self.s.connect_timeout):
                info = await read_open(ws)
        except trio.TooSlowError:
            raise TimeoutError(f"no Engine.IO OPEN within {self.s.connect_timeout:g}s") from None
        sock = ChzzkSocket(
            ws, info, cursor=self.cursor, wanted=self.wanted, enqueue=self._enqueue, emit=self.emit, wall=self.wall
        )
        try:
            await self._session(ctx, client, delivered, sock)
        except BaseExceptionGroup as group:
            # The reader's or the pinger's error comes wrapped by the nursery;
            # the retry loop and the status want the error itself.
            raise first_failure(group, _PRECEDENCE) from None
        finally:
            await sock.goodbye()

    async def _session(
        self, ctx: ChildContext, client: httpx.AsyncClient, delivered: Callable[[], None], sock: ChzzkSocket
    ) -> None:
        cursor = self.cursor
        try:
            await self._live(ctx, client, delivered, sock)
        finally:
            # However the connection ended, the status must stop saying "live".
            cursor.live_since = None
            cursor.session_key = None
            cursor.subscribed = ()

    async def _live(
        self, ctx: ChildContext, client: httpx.AsyncClient, delivered: Callable[[], None], sock: ChzzkSocket
    ) -> None:
        cursor = self.cursor
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sock.read)
            with trio.move_on_after(self.s.connect_timeout) as waiting:
                await sock.connected.wait()
            if waiting.cancelled_caught:
                raise TimeoutError(f"no SYSTEM connected within {self.s.connect_timeout:g}s")
            nursery.start_soon(sock.ping)
            nursery.start_soon(self._keep_token_fresh, client)
            cursor.connects += 1
            cursor.session_key = sock.session_key
            await self._subscribe(client, sock)
            cursor.subscribed = tuple(sorted(sock.confirmed))
            cursor.live_since = trio.current_time()
            delivered()  # subscribed and confirmed on the socket: the outage is over
            self.emit("chzzk.live", session=_short(sock.session_key), subscribed=list(cursor.subscribed))
            while True:  # the reader or the pinger ends this, by raising
                tell(ctx, self._live_status())
                await sock.activity.wait()
                sock.activity = trio.Event()
                await trio.sleep(1.0)  # at most one status update a second, none while quiet

    async def _keep_token_fresh(self, client: httpx.AsyncClient) -> None:
        """Refresh before expiry even while no call needs the token: a socket
        can outlive its access token (a day), and an unused refresh token
        dies after 30 days. A failure here never ends a working socket."""
        auth = self.auth
        while (expires_at := auth.expires_at) is not None:
            await trio.sleep(max(60.0, expires_at - auth.wall() - auth.s.refresh_margin + 1.0))
            try:
                await auth.access_token(client)
            except NeedsAuthorization:
                # The socket still works (ChzzkAuth logged the refusal); the
                # next connect says where to authorise, and waits.
                return
            except (OSError, ChzzkApiError, PayloadError) as exc:
                self.emit("chzzk.refresh_failed", "warning", error=f"{type(exc).__name__}: {exc}", retry_in_s=300)
                await trio.sleep(300.0)

    async def _subscribe(self, client: httpx.AsyncClient, sock: ChzzkSocket) -> None:
        key = sock.session_key or ""
        wanted = []
        for event_type in self.wanted:
            path = f"/open/v1/sessions/events/subscribe/{event_type.lower()}"
            try:
                await self._call(client, "POST", path, {"sessionKey": key})
            except FatalMonitorError as refused:
                if event_type == "CHAT" or "INVALID_CLIENT" in str(refused):
                    raise  # without chat there is nothing to monitor
                # A missing donation or subscription scope (Chzzk approves
                # them separately) costs that event, not the whole evening.
                if event_type not in self.cursor.refused:
                    self.emit("chzzk.subscription_refused", "error", event_type=event_type, why=str(refused))
                self.cursor.refused.add(event_type)
                continue
            self.cursor.refused.discard(event_type)
            wanted.append(event_type)
        with trio.move_on_after(self.s.subscribe_timeout):
            while not sock.confirmed.issuperset(wanted):
                await sock.confirmations.wait()
        missing = sorted(set(wanted) - sock.confirmed)
        if missing:
            raise TimeoutError(f"no SYSTEM subscribed for {', '.join(missing)} within {self.s.subscribe_timeout:g}s")

    def _live_status(self) -> Said:
        cursor = self.cursor
        events = ", ".join(e.lower() for e in cursor.subscribed)
        refused = ", ".join(sorted(e.lower() for e in cursor.refused))
        said: dict[str, Param] = {"session": _short(cursor.session_key), "events": events, "n": cursor.emitted}
        if refused:
            return says("status.chzzk_live_refused", refused=refused, **said)
        return says("status.chzzk_live", **said)


# Which error speaks for a connection when several tasks failed at once:
# what retrying cannot fix first, then what says why the socket ended.
_PRECEDENCE = (FatalMonitorError, NeedsAuthorization, SessionLost)


def _short(key: str | None) -> str:
    return "-" if not key else f"{key[:8]}…"
