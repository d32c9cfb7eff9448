"""The Twitch monitor: one channel's chat over the EventSub WebSocket.

One connection, as the reference (§2, §2.8) prescribes:

1. log in (auth.py: a stored token, else the device code shown in the
   status and on the dashboard) and validate the token, which names the
   reading user;
2. look up the channel (`GET /helix/users`) once per run;
3. open the socket and read `session_welcome` within `connect_timeout`;
4. subscribe to the chat types at once (Twitch closes a socket with no
   subscription after 10 s: 4003);
5. live: every frame resets a watchdog of about one and a half keepalives
   (a silence longer than that means a dead socket, whatever TCP says);
   notifications become ChatEvents, deduplicated by both their ids in a
   memory that outlives reconnects and restarts (the cursor);
6. `session_reconnect`: a second socket to the given URL while the first
   keeps delivering; on the second's welcome the first is closed and
   nothing is subscribed again (the subscriptions moved with it). Nothing
   is lost, and what both sockets delivered is dropped once by the deduper;
7. any other loss (a close code, the watchdog, a revoked subscription)
   reconnects to the base URL and subscribes everything again, by the
   common retry rule. A close code is acted on by its kind (api.CLOSE_TABLE).

Reading never waits for the router: events go through the Forwarder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import trio
import trio_websocket

from supervision import ChildContext

from ...chat import ChatEvent
from ...i18n import Said, says, tell
from ..common.forward import Forwarder, first_failure, run_socket_monitor
from ..common.retry import FatalMonitorError, RetryRule, parse_retry_after, retry_fields, run_with_retries
from .api import (
    CloseAction,
    DeviceCode,
    Frame,
    Notification,
    PayloadError,
    Reconnect,
    Revocation,
    TwitchApiError,
    Welcome,
    api_error,
    close_action,
    close_reason,
    parse_frame,
)
from .auth import NeedsLogin, TwitchAuth
from .events import CHAT_SUBSCRIPTIONS, Deduper, Skip, is_stale, to_chat_event

Emit = Callable[..., None]

HANDOFF_GRACE = 3.0  # s the old socket of a hand-off is still read (Twitch allows 30 before 4004)
CLOSE_GRACE = 2.0  # s to close our sockets when a connection ends
WATCHDOG_SLACK = 0.5  # a silence of keepalive * (1 + this) (at least 2 s more) means a dead socket
DEFAULT_KEEPALIVE = 10  # Twitch's, when the welcome does not say


class SessionLost(ConnectionError):
    """The socket is gone or useless: reconnect to the base URL and subscribe again."""


@attrs.frozen
class TwitchSettings:
    channel: str  # the channel's login (or its numeric id)
    helix_base_url: str = "https://api.twitch.tv/helix"
    eventsub_url: str = "wss://eventsub.wss.twitch.tv/ws"
    shared_chat: bool = False  # take the other channels' messages in a shared chat session too
    connect_timeout: float = 10.0  # socket open to session_welcome
    request_timeout: float = 15.0
    max_retries: int = 10
    retry_interval: float = 60.0


@attrs.define
class TwitchCursor:
    """What outlives one incarnation of the monitor (and every reconnect)."""

    deduper: Deduper = attrs.field(factory=Deduper)
    emitted: int = 0
    duplicates: int = 0
    stale: int = 0
    skipped: int = 0
    connects: int = 0  # sessions that were welcomed and subscribed
    handoffs: int = 0  # session_reconnects followed
    broadcaster_id: str | None = None
    reader: str | None = None  # the login the token belongs to
    session_id: str | None = None
    live_since: float | None = None  # trio time the current session was subscribed
    subscribed: tuple[str, ...] = ()
    revoked: dict[str, str] = attrs.field(factory=dict)  # subscription type -> status
    login: DeviceCode | None = None  # the device code the streamer is asked to enter, while asked


@attrs.frozen
class _Closed:
    code: int
    reason: str


@attrs.frozen
class _NoWelcome:
    """A hand-off's new socket had no welcome by its deadline (ignored once welcomed)."""


@attrs.frozen
class _Socket:
    number: int
    ws: trio_websocket.WebSocketConnection


# The monitor's mailbox: (socket number, what it read) from every socket's reader.
Mail = tuple[int, Frame | _Closed | _NoWelcome]
Outbox = trio.MemorySendChannel[Mail]
Inbox = trio.MemoryReceiveChannel[Mail]


@attrs.define
class _Link:
    """The live connection as `_live` sees it: which socket is current, which
    one a hand-off is opening, and the watchdog's reckoning."""

    current: _Socket
    keepalive: int
    heard_at: float
    pending: int | None = None  # the number of a hand-off's new socket, until its welcome

    @property
    def silence(self) -> float:
        """How long a quiet socket is given: the keepalive, and half as much again (at least 2 s)."""
        return self.keepalive + max(2.0, self.keepalive * WATCHDOG_SLACK)


class TwitchMonitor:
    def __init__(
        self,
        settings: TwitchSettings,
        auth: TwitchAuth,
        outbox: trio.MemorySendChannel[ChatEvent],
        cursor: TwitchCursor,
        *,
        emit: Emit,
        wall: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.s = settings
        self.auth = auth
        self.outbox = outbox
        self.cursor = cursor
        self.emit = emit
        self.wall = wall
        self.transport = transport
        self.forwarder = Forwarder("twitch", emit, self._sent)
        self._sockets = 0  # sockets opened so far: each one's number
        self._open_sockets: dict[int, _Socket] = {}

    def _sent(self) -> None:
        self.cursor.emitted += 1

    async def run(self, ctx: ChildContext) -> None:
        await run_socket_monitor(ctx, self.outbox, self.forwarder, self._retrying, _PRECEDENCE)

    async def _retrying(self, ctx: ChildContext) -> None:
        async with httpx.AsyncClient(timeout=self.s.request_timeout, transport=self.transport) as client:

            async def attempt(delivered: Callable[[], None]) -> None:
                while True:
                    try:
                        await self._log_in(ctx, client)
                        await self._connection(ctx, client, delivered)
                    except NeedsLogin as need:
                        self.emit("twitch.needs_login", "warning", why=str(need), why_detail=need.detail)
                        tell(ctx, need.said)
                        # A new login is the streamer's to give (the device code
                        # below, or /twitch/auth): never a loop of refused refreshes.
                        self.cursor.live_since = None

            def on_retry(attempt_no: int, delay: float, exc: Exception) -> None:
                self.emit("twitch.retry", "warning", **retry_fields(attempt_no, delay, exc))

            rule = RetryRule(self.s.max_retries, self.s.retry_interval)
            await run_with_retries(ctx, "twitch", attempt, rule, on_retry=on_retry)

    # ---- logging in ----------------------------------------------------------------------------

    async def _log_in(self, ctx: ChildContext, client: httpx.AsyncClient) -> None:
        """A token, validated: from the file, else from the streamer, by the
        device code (shown in the status and on the dashboard) or, for an app
        with a secret, the consent page on the control surface."""
        if self.auth.has_token:
            return
        cursor = self.cursor

        def show(code: DeviceCode) -> None:
            cursor.login = code
            shown = says("status.twitch_login_code", url=code.verification_uri, code=code.user_code)
            if self.auth.problem is not None:  # a login that lapsed: say why beside the new code
                shown = says("status.twitch_login_again", why=self.auth.problem, login=shown)
            tell(ctx, shown)

        try:
            # The code, or the consent page for an app with a secret: whichever comes first.
            async with trio.open_nursery() as nursery:

                async def by_code() -> None:
                    await self.auth.device_login(client, show)
                    nursery.cancel_scope.cancel()

                async def by_page() -> None:
                    await self.auth.logged_in()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(by_code)
                nursery.start_soon(by_page)
        except BaseExceptionGroup as group:
            raise first_failure(group, _PRECEDENCE) from None
        finally:
            cursor.login = None

    # ---- one connection ------------------------------------------------------------------------

    async def _connection(self, ctx: ChildContext, client: httpx.AsyncClient, delivered: Callable[[], None]) -> None:
        cursor = self.cursor
        tell(ctx, says("status.twitch_connecting"))
        validated = await self.auth.validate(client)
        if validated.user_id is None:  # an app token: chat over WebSocket needs a user's
            raise self.auth.forget(says("status.twitch_app_token"), "twitch.app_token")
        cursor.reader = validated.login
        broadcaster = await self._broadcaster(client)
        send, receive = trio.open_memory_channel[Mail](256)
        try:
            async with trio.open_nursery() as nursery:
                try:
                    await self._session(
                        ctx,
                        client,
                        nursery=nursery,
                        send=send,
                        receive=receive,
                        broadcaster=broadcaster,
                        reader=validated.user_id,
                        delivered=delivered,
                    )
                finally:
                    # A socket of ours left open would keep its session and its
                    # subscriptions alive at Twitch, and three such count as the
                    # limit of connections: close each, however this ended.
                    with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE):
                        for socket in list(self._open_sockets.values()):
                            await _close(socket)
        except BaseExceptionGroup as group:
            raise first_failure(group, _PRECEDENCE) from None
        finally:
            # However the connection ended, the status must stop saying "live".
            cursor.live_since = None
            cursor.session_id = None
            cursor.subscribed = ()

    async def _session(
        self,
        ctx: ChildContext,
        client: httpx.AsyncClient,
        *,
        nursery: trio.Nursery,
        send: Outbox,
        receive: Inbox,
        broadcaster: str,
        reader: str,
        delivered: Callable[[], None],
    ) -> None:
        cursor = self.cursor
        first = await self._open(nursery, self.s.eventsub_url, send)
        welcome = await self._welcome(receive, first)
        await self._subscribe(client, welcome.session_id, broadcaster, reader)
        cursor.connects += 1
        cursor.session_id = welcome.session_id
        cursor.live_since = trio.current_time()
        delivered()  # welcomed and subscribed: the outage is over
        nursery.start_soon(self._validate_hourly, client)
        self.emit("twitch.live", session=_short(welcome.session_id), subscribed=list(cursor.subscribed))
        keepalive = welcome.keepalive_timeout_seconds or DEFAULT_KEEPALIVE
        await self._live(
            ctx,
            nursery=nursery,
            current=first,
            keepalive=keepalive,
            send=send,
            receive=receive,
            broadcaster=broadcaster,
        )

    async def _open(self, nursery: trio.Nursery, url: str, send: Outbox) -> _Socket:
        """A socket, and its reader in `nursery`."""
        self._sockets += 1
        return await self._connect(nursery, self._sockets, url, send)

    async def _connect(self, nursery: trio.Nursery, number: int, url: str, send: Outbox) -> _Socket:
        try:
            with trio.fail_after(self.s.connect_timeout):
                ws = await trio_websocket.connect_websocket_url(nursery, url)
        except trio.TooSlowError:
            raise TimeoutError(f"the EventSub socket did not open within {self.s.connect_timeout:g} s") from None
        except trio_websocket.ConnectionRejected as exc:
            raise SessionLost(f"the EventSub socket was refused (HTTP {exc.status_code})") from None
        except (OSError, ValueError, trio_websocket.HandshakeError) as exc:
            # ValueError: a URL trio-websocket cannot read (a port out of range, say).
            raise SessionLost(f"cannot open the EventSub socket ({type(exc.__cause__ or exc).__name__})") from None
        socket = _Socket(number, ws)
        self._open_sockets[number] = socket
        nursery.start_soon(self._read, socket, send.clone())
        return socket

    async def _hand_off(self, nursery: trio.Nursery, number: int, url: str, send: Outbox) -> None:
        """The new socket of a session_reconnect, opened beside the live one,
        which reads on meanwhile. Its welcome must come within connect_timeout;
        if it fails either way, the old socket still delivers until Twitch
        closes it (4004), and that loss then reconnects in full."""
        async with send:
            try:
                await self._connect(nursery, number, url, send)
            except (SessionLost, TimeoutError) as exc:
                self.emit("twitch.handoff_failed", "warning", error=str(exc))
                await send.send((number, _Closed(1006, "the reconnect URL could not be opened")))
                return
            await trio.sleep(self.s.connect_timeout)
            await send.send((number, _NoWelcome()))  # ignored if it was welcomed meanwhile

    async def _read(self, socket: _Socket, send: Outbox) -> None:
        """One socket's frames, parsed, into the monitor's mailbox; then how it closed."""
        async with send:
            try:
                while True:
                    text = await socket.ws.get_message()
                    try:
                        frame = parse_frame(text)
                    except PayloadError as exc:
                        self.emit("twitch.bad_frame", "warning", problem=str(exc), size=len(text))
                        continue
                    await send.send((socket.number, frame))
            except trio_websocket.ConnectionClosed as exc:
                code = exc.reason.code if exc.reason is not None else 1006
                reason = (exc.reason.reason if exc.reason is not None else None) or ""
                with trio.move_on_after(1.0):  # the mailbox may be gone with the connection
                    await send.send((socket.number, _Closed(code, reason[:120])))

    async def _welcome(self, receive: Inbox, socket: _Socket) -> Welcome:
        with trio.move_on_after(self.s.connect_timeout):
            while True:
                number, item = await receive.receive()
                if number != socket.number:
                    continue
                if isinstance(item, Welcome):
                    return item
                if isinstance(item, _Closed):
                    self._closed(item, socket, current=True)
        raise TimeoutError(f"no session_welcome within {self.s.connect_timeout:g} s")

    async def _live(
        self,
        ctx: ChildContext,
        *,
        nursery: trio.Nursery,
        current: _Socket,
        keepalive: int,
        send: Outbox,
        receive: Inbox,
        broadcaster: str,
    ) -> None:
        link = _Link(current, keepalive, heard_at=trio.current_time())
        shown_at = -1.0
        while True:
            if trio.current_time() - shown_at >= 1.0:  # at most one status a second
                shown_at = trio.current_time()
                tell(ctx, self._live_status())
            with trio.move_on_at(link.heard_at + link.silence) as quiet:
                number, item = await receive.receive()
            if quiet.cancelled_caught:
                raise SessionLost(f"nothing from Twitch for {link.silence:g} s (keepalive {link.keepalive} s)")
            if isinstance(item, _NoWelcome | _Closed):
                self._lost(link, number, item, nursery)
                continue
            if number == link.current.number:
                link.heard_at = trio.current_time()  # keepalives, notifications, anything
            match item:
                case Welcome() if number == link.pending and number in self._open_sockets:
                    self._switch(link, item, nursery)
                case Reconnect() if number == link.current.number and link.pending is None:
                    # Opened beside this socket, which reads on meanwhile.
                    self.emit("twitch.reconnect_asked")
                    self._sockets += 1
                    link.pending = self._sockets
                    nursery.start_soon(self._hand_off, nursery, link.pending, item.reconnect_url, send.clone())
                case Notification():
                    self._take(item, broadcaster)
                case Revocation():
                    self._revoked(item)
                case _:
                    pass  # a keepalive, an unknown message type, a welcome we did not ask for

    def _switch(self, link: _Link, welcome: Welcome, nursery: trio.Nursery) -> None:
        """The hand-off: the new session has the subscriptions now, and nothing is subscribed again."""
        cursor = self.cursor
        old, number = link.current, link.pending
        assert number is not None  # the match in _live: this welcome came on the pending socket
        link.current, link.pending = self._open_sockets[number], None
        link.heard_at = trio.current_time()
        link.keepalive = welcome.keepalive_timeout_seconds or link.keepalive
        cursor.session_id = welcome.session_id
        cursor.handoffs += 1
        self.emit("twitch.reconnected", session=_short(welcome.session_id))
        nursery.start_soon(self._retire, old)

    def _lost(self, link: _Link, number: int, item: _Closed | _NoWelcome, nursery: trio.Nursery) -> None:
        """A socket closed, or a hand-off's new socket had no welcome in time."""
        if isinstance(item, _NoWelcome):
            if number != link.pending:
                return  # it was welcomed meanwhile
            item = _Closed(4000, "no welcome on the reconnect URL in time")
        if number == link.current.number:
            self._closed(item, link.current, current=True)  # raises: the session is lost
        if number == link.pending:
            # The new socket failed before its welcome: the old one still
            # delivers until Twitch closes it (4004), and that loss then
            # reconnects in full.
            self.emit("twitch.handoff_failed", "warning", code=item.code, reason=item.reason)
            if (failed := self._open_sockets.get(number)) is not None:
                nursery.start_soon(_close, failed)
            link.pending = None
        self._open_sockets.pop(number, None)  # gone, or being closed (an old socket after its hand-off)

    async def _retire(self, old: _Socket) -> None:
        """The old socket of a hand-off, closed after a short grace: what Twitch
        sent on it just before the new welcome may still be on its way (another
        TCP connection), and trio-websocket drops what arrives once we close.
        Its frames are read meanwhile; the deduper drops any repeat."""
        await trio.sleep(HANDOFF_GRACE)
        await _close(old)

    async def _validate_hourly(self, client: httpx.AsyncClient) -> None:
        """Twitch asks apps to validate their token hourly (and audits it); the
        connection validated it just now. A refused token ends the connection
        with NeedsLogin; any other failure is the auth's to log and retry."""
        await trio.sleep(self.auth.s.validate_every)
        await self.auth.validate_forever(client)

    # ---- what a frame means --------------------------------------------------------------------

    def _take(self, frame: Notification, broadcaster: str) -> None:
        cursor = self.cursor
        now = self.wall()
        if cursor.deduper.seen_frame(frame, now):
            cursor.duplicates += 1
            return
        if is_stale(frame.metadata, now):
            cursor.stale += 1
            self.emit("twitch.stale", "warning", id=frame.metadata.message_id, type=frame.subscription_type)
            return
        event = to_chat_event(
            frame,
            broadcaster_id=broadcaster,
            received_at=trio.current_time(),
            received_wall=datetime.fromtimestamp(now, UTC),
            shared_chat=self.s.shared_chat,
        )
        if isinstance(event, Skip):
            cursor.skipped += 1
            self.emit("twitch.skipped", type=event.event, why=event.reason)
            return
        self.forwarder.put(event)

    def _revoked(self, frame: Revocation) -> None:
        """A subscription Twitch ended. The consent taken back, the reader
        banned, the type retired: no reconnect brings it back, so the streamer
        is told what to do. Anything else: reconnect and subscribe again."""
        cursor = self.cursor
        kind = frame.subscription_type or "?"
        cursor.revoked[kind] = frame.status
        cursor.subscribed = tuple(t for t in cursor.subscribed if t != kind)
        self.emit("twitch.revoked", "warning", type=kind, status=frame.status)
        if frame.status == "authorization_revoked":
            raise self.auth.forget(says("status.twitch_revoked"), "twitch.authorization_revoked")
        if frame.status in ("user_removed", "chat_user_banned", "version_removed", "moderator_removed"):
            raise FatalMonitorError(says("status.twitch_subscription_ended", type=kind, status=frame.status))
        raise SessionLost(f"Twitch revoked {kind} ({frame.status})")

    def _closed(self, closed: _Closed, socket: _Socket, *, current: bool) -> None:
        """The live socket closed: act by the code's kind (api.CLOSE_TABLE)."""
        action = close_action(closed.code)
        self.emit("twitch.closed", "warning", code=closed.code, action=action.value, why=close_reason(closed.code))
        if action is CloseAction.STOP_BUG:
            raise FatalMonitorError(says("status.twitch_inbound", code=closed.code))
        raise SessionLost(f"the EventSub socket closed ({closed.code}: {close_reason(closed.code)})")

    # ---- Helix ---------------------------------------------------------------------------------

    async def _helix(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One Helix call with the user token; a refused token is refreshed and the call made once more."""
        token = await self.auth.access_token(client)
        response = await self._helix_once(client, method, path, token=token, params=params, json=json)
        if response.status_code == 401:
            token = await self.auth.access_token(client, refused=token)
            response = await self._helix_once(client, method, path, token=token, params=params, json=json)
        return response

    async def _helix_once(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        token: str,
        params: dict[str, str] | None,
        json: dict[str, Any] | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Client-Id": self.auth.client_id}
        try:
            return await client.request(
                method, f"{self.s.helix_base_url}{path}", params=params, json=json, headers=headers
            )
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from Helix {path} within {self.s.request_timeout:g} s") from None
        except httpx.TransportError as exc:
            raise ConnectionError(f"Helix {path}: {type(exc).__name__}") from None

    def _error(self, response: httpx.Response) -> TwitchApiError:
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        if retry_after is None and response.status_code == 429 and response.headers.get("ratelimit-remaining") == "0":
            # The Helix bucket is empty: wait for its refill, as Twitch says.
            # Other 429s (too many sockets, too many subscriptions) are the
            # retry rule's: their reset time says nothing about them.
            reset = response.headers.get("ratelimit-reset", "")
            if reset.isdigit():
                retry_after = max(0.0, float(reset) - self.wall())
        try:
            body: object = response.json()
        except ValueError:
            body = None
        return api_error(response.status_code, body, retry_after=retry_after)

    async def _broadcaster(self, client: httpx.AsyncClient) -> str:
        """The channel's user id, looked up once per run."""
        cursor = self.cursor
        if cursor.broadcaster_id is not None:
            return cursor.broadcaster_id
        channel = self.s.channel
        key = "id" if channel.isdigit() else "login"
        response = await self._helix(client, "GET", "/users", params={key: channel.lower()})
        if response.status_code != 200:
            raise self._error(response)
        try:
            users = response.json().get("data") or []
            found = str(next(u["id"] for u in users if isinstance(u, dict) and isinstance(u.get("id"), str)))
        except (ValueError, AttributeError, StopIteration):
            raise FatalMonitorError(says("status.twitch_no_channel", channel=channel)) from None
        cursor.broadcaster_id = found
        return found

    async def _subscribe(self, client: httpx.AsyncClient, session_id: str, broadcaster: str, reader: str) -> None:
        """Every chat type, at once (the socket closes 4003 ten seconds after
        its welcome if nothing was subscribed)."""
        cursor = self.cursor
        cursor.subscribed = ()
        for kind in CHAT_SUBSCRIPTIONS:
            body = {
                "type": kind,
                "version": "1",
                "condition": {"broadcaster_user_id": broadcaster, "user_id": reader},
                "transport": {"method": "websocket", "session_id": session_id},
            }
            response = await self._helix(client, "POST", "/eventsub/subscriptions", json=body)
            status = response.status_code
            if status in (200, 202, 409):  # 409: it exists already, which is what we want
                cursor.subscribed = (*cursor.subscribed, kind)
                cursor.revoked.pop(kind, None)
                continue
            error = self._error(response)
            if status == 403:
                raise FatalMonitorError(says("status.twitch_scope_refused", type=kind, error=str(error)))
            if status == 400 and "session" in str(error).lower():
                raise SessionLost(f"subscribing to {kind}: {error}")  # the session died meanwhile
            if status == 400:
                raise FatalMonitorError(says("status.twitch_subscribe_refused", type=kind, error=str(error)))
            raise error  # 429 (with its wait), 5xx: the retry rule

    def _live_status(self) -> Said:
        cursor = self.cursor
        return says(
            "status.twitch_live",
            session=_short(cursor.session_id),
            n=cursor.emitted,
            events=len(cursor.subscribed),
        )


async def _close(socket: _Socket) -> None:
    """Close a socket with 1000 (Twitch ignores what a client says on closing), within CLOSE_GRACE."""
    with trio.move_on_after(CLOSE_GRACE):
        await socket.ws.aclose()


def _short(key: str | None) -> str:
    return "-" if not key else f"{key[:8]}…"


# Which error speaks for a connection when several tasks failed at once.
_PRECEDENCE: tuple[type[Exception], ...] = (FatalMonitorError, NeedsLogin, SessionLost)
