"""Chzzk OAuth2: the one place that talks to `/auth/v1/token`.

Chzzk's refresh tokens are single-use (reference §2.2), so every new pair
goes to the token file (common/tokens.py) before anyone uses it.

Refreshes are serialised by one lock, and a caller that waited for the lock
re-checks whether someone else already refreshed: two tasks that saw the
same stale token must not both spend the same refresh token (the second
would be refused and the streamer would have to authorise again).

When there is no token, or the server refuses the refresh token, retrying
cannot help: `NeedsAuthorization` says which URL the streamer must open, and
the monitor waits for `authorized()` instead of looping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import attrs
import httpx
import trio

from ...i18n import Said, SaidError, says
from ..common.oauth import PendingStates
from ..common.retry import FatalMonitorError
from ..common.tokens import TokenKeeper, TokenPair, TokenStore
from .api import ChzzkApiError, PayloadError, parse_token, unwrap

Emit = Callable[..., None]

DEFAULT_LIFETIME = 86_400.0  # an access token's documented lifetime, when an answer does not say


class NeedsAuthorization(SaidError):
    """No usable token: the streamer must open `url` and allow access."""

    def __init__(self, why: Said, url: str) -> None:
        super().__init__(says("status.chzzk_needs_auth", why=why, url=url))
        self.why = why
        self.url = url


@attrs.frozen
class ChzzkAuthSettings:
    client_id: str = attrs.field(repr=False)
    client_secret: str = attrs.field(repr=False)
    token_file: Path
    redirect_uri: str  # must equal the app's registered "로그인 리디렉션 URL"
    authorize_page: str  # our own /chzzk/auth, for the status line
    api_base_url: str = "https://openapi.chzzk.naver.com"
    auth_url: str = "https://chzzk.naver.com/account-interlock"
    refresh_margin: float = 600.0  # refresh this long before the access token expires
    request_timeout: float = 15.0


class ChzzkAuth(TokenKeeper):
    """Tokens for one Chzzk account, shared by the monitor and the control surface."""

    def __init__(
        self,
        settings: ChzzkAuthSettings,
        *,
        emit: Emit,
        wall: Callable[[], float] = time.time,
        store: TokenStore | None = None,
    ) -> None:
        texts = {"damaged": "status.chzzk_token_damaged", "unreadable": "status.chzzk_token_unreadable"}
        store = store or TokenStore(settings.token_file)
        super().__init__("chzzk", store, emit=emit, wall=wall, texts=texts)
        self.s = settings
        self._states = PendingStates()
        self.refreshes = 0

    # ---- what the others ask ---------------------------------------------------------------

    async def authorized(self) -> None:
        """Wait until a new token pair has been stored (by the OAuth callback)."""
        await self.signed_in()

    async def access_token(
        self, client: httpx.AsyncClient, *, refresh: bool = False, refused: str | None = None
    ) -> str:
        """A usable access token, refreshed first when it is about to expire,
        or when `refresh` says so, or when the server just `refused` the one
        we still hold (a refused one that was replaced meanwhile is not
        refreshed again: every refresh spends a single-use token)."""
        pair = self._current()
        if pair is None:
            raise self._needs(self.problem or says("status.chzzk_not_yet"))
        stale = refused is not None and pair.access_token == refused
        if refresh or stale or pair.expires_at - self.wall() < self.s.refresh_margin:
            pair = await self._refresh(client, pair)
        return pair.access_token

    def client_headers(self) -> dict[str, str]:
        return {"Client-Id": self.s.client_id, "Client-Secret": self.s.client_secret}

    # ---- the authorisation code flow ----------------------------------------------------------

    def begin(self) -> str:
        """A fresh `state` and the consent URL to send the browser to."""
        state = self._states.issue(trio.current_time())
        query = urlencode({"clientId": self.s.client_id, "redirectUri": self.s.redirect_uri, "state": state})
        return f"{self.s.auth_url}?{query}"

    def take_state(self, state: str) -> bool:
        """True once for a state we issued and that has not expired: the
        callback's CSRF guard (a page elsewhere cannot forge our state)."""
        return self._states.take(state, trio.current_time())

    async def exchange(self, client: httpx.AsyncClient, code: str, state: str) -> TokenPair:
        """Trade an authorisation code for tokens and store them."""
        body = {
            "grantType": "authorization_code",
            "clientId": self.s.client_id,
            "clientSecret": self.s.client_secret,
            "code": code,
            "state": state,
        }
        async with self._lock:
            # Shielded: once Chzzk answers, the code is spent and this pair is
            # the only one; a cancelled request must not throw it away.
            with trio.CancelScope(shield=True):
                pair = await self._token_call(client, body)
                self._keep(pair, why="authorised")
            self._announce_sign_in()
        return pair

    # ---- inside -------------------------------------------------------------------------------

    def _needs(self, why: Said) -> NeedsAuthorization:
        return NeedsAuthorization(why, self.s.authorize_page)

    async def _refresh(self, client: httpx.AsyncClient, stale: TokenPair) -> TokenPair:
        async with self._lock:
            current = self._pair
            if current is None:
                raise self._needs(self.problem or says("status.chzzk_not_yet"))
            if current is not stale:
                return current  # refreshed (or re-authorised) while we waited for the lock
            body = {
                "grantType": "refresh_token",
                "refreshToken": stale.refresh_token,
                "clientId": self.s.client_id,
                "clientSecret": self.s.client_secret,
            }
            try:
                # Shielded, like the exchange: a refresh answered is a refresh
                # token spent, so its answer must reach the file whatever
                # else is being cancelled (a dead socket, a stop).
                with trio.CancelScope(shield=True):
                    pair = await self._token_call(client, body)
                    self._keep(pair, why="refreshed")
            except ChzzkApiError as exc:
                if exc.invalid_client:
                    raise FatalMonitorError(says("status.chzzk_client_refused")) from None
                if exc.status in (400, 401, 403):
                    # The refresh token is spent, expired (30 days) or revoked:
                    # only the streamer can fix that, by authorising again.
                    self._pair = None
                    self.store.clear()
                    self.problem = says("status.chzzk_refresh_refused", error=str(exc))
                    self.emit("chzzk.refresh_refused", "error", error=str(exc), authorize=self.s.authorize_page)
                    raise self._needs(self.problem) from None
                raise
            self.refreshes += 1
            return pair

    async def _token_call(self, client: httpx.AsyncClient, body: dict[str, Any]) -> TokenPair:
        url = f"{self.s.api_base_url}/auth/v1/token"
        try:
            response = await client.post(url, json=body, timeout=self.s.request_timeout)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from the token endpoint within {self.s.request_timeout:g}s") from None
        except httpx.TransportError as exc:
            raise ConnectionError(f"token endpoint: {type(exc).__name__}") from None
        content = unwrap(response.status_code, response.content)
        try:
            return parse_token(content, now=self.wall())
        except PayloadError as exc:
            # The old refresh token is spent by now: if the new tokens are
            # there, keep them, whatever is odd about the rest.
            pair = _tokens_anyway(content, now=self.wall())
            if pair is None:
                raise
            self.emit("chzzk.token_odd", "warning", problem=str(exc), assumed_expires_in_s=DEFAULT_LIFETIME)
            return pair


def _tokens_anyway(content: object, *, now: float) -> TokenPair | None:
    """Both tokens from an answer whose expiresIn could not be read."""
    if not isinstance(content, dict):
        return None
    access, refresh = content.get("accessToken"), content.get("refreshToken")
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        return None
    return TokenPair(access, refresh, expires_at=now + DEFAULT_LIFETIME)
