"""Twitch OAuth: the one place that talks to id.twitch.tv (reference: shared/reference/twitch.md §1).

The login is the Device Code Grant Flow with a public client (no secret, no
redirect server): the streamer opens Twitch's activation page, types the
code the dashboard shows, and we poll until they have. A confidential app
(with a secret) may use the authorization-code flow through the control
surface's `/twitch/auth` and `/twitch/callback` instead.

Twitch's refresh tokens rotate and are single-use, like Chzzk's: every new
pair goes to the token file (common/tokens.py, 0600, atomic) before anyone
uses it, and refreshes are serialised by one lock, after which a waiting
caller re-checks whether someone else already refreshed (two tasks must
never spend one refresh token: the second would be refused, and the
streamer would have to log in again).

When there is no token, or Twitch refuses the refresh token (30 days
unused, disconnected, password changed), retrying cannot help: `NeedsLogin`
says what to do, and the monitor waits on `logged_in()` instead of looping.

Twitch requires validating the token at start and hourly (`validate_forever`).

Secrets (tokens, the device code, the client secret) never enter a log
field, a repr or an exception's text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

import attrs
import httpx
import trio

from ...i18n import Said, SaidError, says
from ..common.oauth import PendingStates
from ..common.retry import FatalMonitorError, parse_retry_after
from ..common.tokens import TokenKeeper, TokenPair, TokenStore
from .api import (
    DeviceCode,
    PayloadError,
    PollOutcome,
    TwitchApiError,
    Validated,
    api_error,
    device_poll_outcome,
    parse_device_code,
    parse_token,
    parse_validate,
)

Emit = Callable[..., None]
OnCode = Callable[[DeviceCode], object]  # may return an awaitable, which is awaited

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5.0  # RFC 8628: "slow_down" adds 5 s to the interval, from then on
DEFAULT_LIFETIME = 4 * 3600.0  # Twitch's documented access-token lifetime, when an answer does not say


class NeedsLogin(SaidError):
    """No usable token: the streamer must log in (again). `why` says why, `how` what to do."""

    def __init__(self, why: Said, how: Said) -> None:
        super().__init__(says("twitch.needs_login", why=why, how=how))
        self.why = why
        self.how = how


class DeviceLoginFailed(NeedsLogin):
    """A device login that ended without a token: declined, the code expired,
    Twitch no longer accepts it, or the grant lacks a scope we need.
    Calling `device_login` again asks for a new code."""

    def __init__(self, outcome: str, why: Said, how: Said) -> None:
        super().__init__(why, how)
        self.outcome = outcome  # denied | expired | invalid | scope_missing


@attrs.frozen(kw_only=True)
class TwitchAuthSettings:
    client_id: str = attrs.field(repr=False)
    token_file: Path
    client_secret: str = attrs.field(default="", repr=False)  # empty: a public client
    scopes: tuple[str, ...] = ("user:read:chat",)
    auth_base_url: str = "https://id.twitch.tv/oauth2"
    # The authorization-code alternative (a confidential client only):
    redirect_uri: str = ""  # must equal one registered for the app
    authorize_page: str = ""  # our own /twitch/auth, for the status line
    refresh_margin: float = 600.0  # refresh this long before the access token expires
    validate_every: float = 3600.0  # Twitch: "at start and on an hourly basis thereafter"
    request_timeout: float = 15.0

    @property
    def confidential(self) -> bool:
        return bool(self.client_secret)


class TwitchAuth(TokenKeeper):
    """Tokens for one Twitch account, shared by the monitor and the control surface."""

    def __init__(
        self,
        settings: TwitchAuthSettings,
        *,
        emit: Emit,
        wall: Callable[[], float] = time.time,
        store: TokenStore | None = None,
    ) -> None:
        texts = {"damaged": "twitch.token_damaged", "unreadable": "twitch.token_unreadable"}
        super().__init__("twitch", store or TokenStore(settings.token_file), emit=emit, wall=wall, texts=texts)
        self.s = settings
        self._base = settings.auth_base_url.rstrip("/")
        self._states = PendingStates()
        self.pending_code: DeviceCode | None = None  # the code the streamer should enter, while polling
        self.validated: Validated | None = None  # the last good /validate answer
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TwitchAuth(token_file={str(self.s.token_file)!r}, has_token={self._pair is not None})"

    # ---- what the others ask ---------------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        return None if self.validated is None else self.validated.user_id

    @property
    def login(self) -> str | None:
        return None if self.validated is None else self.validated.login

    @property
    def client_id(self) -> str:
        """Helix's `Client-Id` header: it must be the app the token was issued to."""
        return self.s.client_id

    def client_headers(self) -> dict[str, str]:
        """What Helix wants beside the bearer token."""
        return {"Client-Id": self.s.client_id}

    async def logged_in(self) -> None:
        """Wait until a new token pair has been stored (by a device login or the OAuth callback)."""
        await self.signed_in()

    async def access_token(self, client: httpx.AsyncClient, *, refused: str | None = None) -> str:
        """A usable access token, refreshed first when it is about to expire,
        or when the server just `refused` the one we still hold (a refused one
        that was replaced meanwhile is not refreshed again: every refresh
        spends a single-use token). NeedsLogin when there is none."""
        pair = self._current()
        if pair is None:
            raise self.needs_login(self.problem or says("twitch.not_yet"))
        stale = refused is not None and pair.access_token == refused
        if stale or pair.expires_at - self.wall() < self.s.refresh_margin:
            pair = await self._refresh(client, pair)
        return pair.access_token

    # ---- the device code flow ---------------------------------------------------------------

    async def device_login(self, client: httpx.AsyncClient, on_code: OnCode) -> TokenPair:
        """Log in with a device code: ask Twitch for one, hand it to `on_code`
        (for the status and the dashboard), then poll until the streamer has
        entered it. DeviceLoginFailed when they declined, the code expired or
        Twitch stopped accepting it; call again for a new code."""
        # `scopes`, plural: spelt `scope`, Twitch grants a token with no scope at all (reference §1.2).
        form = {"client_id": self.s.client_id, "scopes": " ".join(self.s.scopes)}
        response = await self._call(client, "POST", "device", data=form)
        if response.status_code != 200:
            error = self._error(response)
            raise self._refused_client(error) or error
        code = parse_device_code(response.content)
        self.pending_code = code
        try:
            self.emit(
                "twitch.device_code",
                user_code=code.user_code,
                verification_uri=code.verification_uri,
                expires_in_s=round(code.expires_in),
                interval_s=code.interval,
            )
            shown = on_code(code)
            if isinstance(shown, Awaitable):
                await shown
            return await self._poll(client, code)
        finally:
            self.pending_code = None

    async def _poll(self, client: httpx.AsyncClient, code: DeviceCode) -> TokenPair:
        deadline = trio.current_time() + code.expires_in
        interval = code.interval
        form = {
            "client_id": self.s.client_id,
            "scopes": " ".join(self.s.scopes),
            "device_code": code.device_code,
            "grant_type": DEVICE_GRANT,
        }
        if self.s.client_secret:  # a confidential app proves itself on every token call (RFC 8628 §3.4)
            form["client_secret"] = self.s.client_secret
        wait = interval
        while True:
            await trio.sleep(wait)  # never sooner than `interval` after the last poll
            wait = interval
            if trio.current_time() >= deadline:
                raise self._device_failed("expired")
            async with self._lock:
                # Shielded: once Twitch answers with tokens the code is spent,
                # and this answer is the only copy of them.
                with trio.CancelScope(shield=True):
                    try:
                        response = await self._call(client, "POST", "token", data=form)
                    except (TimeoutError, ConnectionError) as exc:
                        self.emit("twitch.device_poll_retry", "warning", error=str(exc), retry_in_s=interval)
                        continue
                    if response.status_code == 200:
                        pair = self._tokens(response)
                        missing = self._missing(_scope_words(pair.scope))
                        if missing:
                            raise self._device_failed("scope_missing", scope=" ".join(missing))
                        self._keep(pair, why="authorised", via="device_code")
                        self._logged_in_now()
                        return pair
            outcome: PollOutcome
            try:
                outcome = device_poll_outcome(response.status_code, response.content)
            except TwitchApiError as exc:
                fatal = self._refused_client(exc)
                if fatal is not None:
                    raise fatal from None
                # 429, a 5xx, or words nobody documented: an error, not "pending".
                wait = max(interval, exc.retry_after or 0.0)
                self.emit("twitch.device_poll_retry", "warning", error=str(exc), retry_in_s=wait)
                continue
            if outcome == "pending":
                continue
            if outcome == "slow_down":
                interval += SLOW_DOWN_STEP
                wait = interval
                self.emit("twitch.device_poll_slow_down", "warning", interval_s=interval)
                continue
            raise self._device_failed(outcome)

    def _device_failed(self, outcome: str, **params: str) -> DeviceLoginFailed:
        self.problem = says(f"twitch.login_{outcome}", **params)
        self.emit("twitch.device_login_failed", "warning", outcome=outcome, why=str(self.problem))
        return DeviceLoginFailed(outcome, self.problem, self._how())

    # ---- validation -------------------------------------------------------------------------

    async def validate(self, client: httpx.AsyncClient) -> Validated:
        """GET /validate: who the token is for, and what it may do. A refused
        token is refreshed once and validated again; a token of another app,
        or one without a scope we need, is forgotten (NeedsLogin)."""
        token = await self.access_token(client)
        response = await self._validate_call(client, token)
        if response.status_code == 401:
            self.emit("twitch.token_refused", "warning", by="validate")
            token = await self.access_token(client, refused=token)
            response = await self._validate_call(client, token)
            if response.status_code == 401:
                # Refused even freshly refreshed: the login was revoked.
                raise self.forget(says("twitch.token_refused"), "twitch.token_revoked")
        if response.status_code != 200:
            raise self._error(response)
        validated = parse_validate(response.content)
        if validated.client_id != self.s.client_id:
            raise self.forget(says("twitch.wrong_client"), "twitch.wrong_client")
        missing = self._missing(validated.scopes)
        if missing:
            scope = " ".join(missing)
            raise self.forget(says("twitch.scope_missing", scope=scope), "twitch.scope_missing", missing=scope)
        self.validated = validated
        self.problem = None
        self.emit(
            "twitch.validated",
            login=validated.login or "",
            user_id=validated.user_id or "",
            scopes=" ".join(validated.scopes),
            expires_in_s=round(validated.expires_in),
        )
        return validated

    async def validate_forever(self, client: httpx.AsyncClient) -> NoReturn:
        """Validate now and every `validate_every` seconds (Twitch audits it).
        A failed validation (network, 5xx) is reported and tried again at the
        next tick: it never ends a working socket. NeedsLogin (and a refused
        client) end it."""
        next_at = trio.current_time()
        while True:
            await trio.sleep_until(next_at)
            try:
                await self.validate(client)
            except (NeedsLogin, FatalMonitorError):
                raise
            except Exception as exc:
                self.emit(
                    "twitch.validate_failed",
                    "warning",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=self.s.validate_every,
                )
            next_at += self.s.validate_every
            next_at = max(next_at, trio.current_time())  # a slow call does not make the next come early

    async def _validate_call(self, client: httpx.AsyncClient, token: str) -> httpx.Response:
        return await self._call(client, "GET", "validate", headers={"Authorization": f"OAuth {token}"})

    # ---- the authorization-code flow (a confidential client) ---------------------------------

    def begin(self) -> str:
        """A fresh `state` and the consent URL to send the browser to."""
        state = self._states.issue(trio.current_time())
        query = {
            "response_type": "code",
            "client_id": self.s.client_id,
            "redirect_uri": self.s.redirect_uri,
            "scope": " ".join(self.s.scopes),
            "state": state,
        }
        return f"{self._base}/authorize?{urlencode(query)}"

    def take_state(self, state: str) -> bool:
        """True once for a state we issued and that has not expired: the
        callback's CSRF guard (a page elsewhere cannot forge our state)."""
        return self._states.take(state, trio.current_time())

    async def exchange(self, client: httpx.AsyncClient, code: str, state: str) -> TokenPair:
        """Trade an authorisation code for tokens and store them."""
        form = {
            "client_id": self.s.client_id,
            "client_secret": self.s.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.s.redirect_uri,
        }
        async with self._lock:
            # Shielded: once Twitch answers, the code is spent and this pair is the only one.
            with trio.CancelScope(shield=True):
                response = await self._call(client, "POST", "token", data=form)
                if response.status_code != 200:
                    error = self._error(response)
                    raise self._refused_client(error) or error
                pair = self._tokens(response)
                self._keep(pair, why="authorised", via="authorization_code")
            self._logged_in_now()
        return pair

    # ---- inside -------------------------------------------------------------------------------

    def _how(self) -> Said:
        if self.s.confidential and self.s.authorize_page:
            return says("twitch.how_device_or_page", url=self.s.authorize_page)
        return says("twitch.how_device")

    def needs_login(self, why: Said) -> NeedsLogin:
        """The NeedsLogin to raise for `why`, saying how to log in with this app."""
        return NeedsLogin(why, self._how())

    def _missing(self, granted: tuple[str, ...]) -> list[str]:
        return [scope for scope in self.s.scopes if scope not in granted]

    def forget(self, why: Said, event: str, **fields: str) -> NeedsLogin:
        """The pair cannot work: drop it (file and memory), say why once, ask for a login."""
        self._pair = None
        self._loaded = True
        self.validated = None
        try:
            self.store.clear()
        except OSError as exc:
            self.emit("twitch.token_file_unwritable", "error", error=f"{exc.strerror}: {self.store.path}")
        self.problem = why
        self.emit(event, "error", why=str(why), **fields)
        return self.needs_login(why)

    def _logged_in_now(self) -> None:
        self.validated = None  # a new login may be another account: validate again
        self._announce_sign_in()

    async def _refresh(self, client: httpx.AsyncClient, stale: TokenPair) -> TokenPair:
        async with self._lock:
            current = self._pair
            if current is None:
                raise self.needs_login(self.problem or says("twitch.not_yet"))
            if current is not stale:
                return current  # refreshed (or logged in again) while we waited for the lock
            form = {
                "grant_type": "refresh_token",
                "refresh_token": stale.refresh_token,
                "client_id": self.s.client_id,
            }
            if self.s.client_secret:  # a public client refreshes without one
                form["client_secret"] = self.s.client_secret
            # Shielded: a refresh answered is a refresh token spent, so its
            # answer must reach the file whatever else is being cancelled.
            with trio.CancelScope(shield=True):
                response = await self._call(client, "POST", "token", data=form)
                if response.status_code == 200:
                    pair = self._tokens(response)
                    self._keep(pair, why="refreshed")
            if response.status_code != 200:
                error = self._error(response)
                fatal = self._refused_client(error)
                if fatal is not None:
                    raise fatal from None
                if error.status in (400, 401):
                    # Spent, expired (30 days unused), disconnected or revoked:
                    # only the streamer can fix that, by logging in again.
                    raise self.forget(
                        says("twitch.refresh_refused", error=str(error)), "twitch.refresh_refused", error=str(error)
                    ) from None
                raise error  # 429, a 5xx: the caller's retry rule
            self.refreshes += 1
            return pair

    def _refused_client(self, error: TwitchApiError) -> FatalMonitorError | None:
        """Twitch's "invalid client" (a wrong client id) or "invalid client
        secret": no retry fixes that, only the config."""
        if error.status in (400, 401, 403) and "invalid client" in error.message.lower():
            self.emit("twitch.client_refused", "error", error=str(error))
            return FatalMonitorError(says("twitch.client_refused", error=str(error)))
        return None

    def _tokens(self, response: httpx.Response) -> TokenPair:
        """A 200 token answer -> the pair; odd but usable answers are kept
        (the old refresh token or the code is spent by now)."""
        try:
            return parse_token(response.content, now=self.wall())
        except PayloadError as exc:
            pair = _tokens_anyway(response.content, now=self.wall())
            if pair is None:
                raise
            self.emit("twitch.token_odd", "warning", problem=str(exc), assumed_expires_in_s=DEFAULT_LIFETIME)
            return pair

    def _error(self, response: httpx.Response) -> TwitchApiError:
        now = datetime.fromtimestamp(self.wall(), UTC)
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        return api_error(response.status_code, response.content, retry_after=retry_after)

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to id.twitch.tv. Transport failures lose their detail
        on purpose: httpx's would carry the URL and, with it, nothing we want
        in a log."""
        url = f"{self._base}/{path}"
        try:
            return await client.request(method, url, timeout=self.s.request_timeout, **kwargs)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from /{path} within {self.s.request_timeout:g}s") from None
        except httpx.TransportError as exc:
            raise ConnectionError(f"/{path}: {type(exc).__name__}") from None


def _scope_words(scope: str) -> tuple[str, ...]:
    return tuple(scope.split())


def _tokens_anyway(content: bytes, *, now: float) -> TokenPair | None:
    """Both tokens from an answer whose expires_in (or scope) could not be read."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, Mapping):
        return None
    access, refresh = data.get("access_token"), data.get("refresh_token")
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        return None
    scope = data.get("scope")
    words = scope if isinstance(scope, list) else str(scope or "").split()
    return TokenPair(access, refresh, now + DEFAULT_LIFETIME, scope=" ".join(w for w in words if isinstance(w, str)))
