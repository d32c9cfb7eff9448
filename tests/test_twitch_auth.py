"""Twitch's OAuth against the fake (tests/fakes/twitch.py) on a MockClock: the device
login and its polling rules, refresh rotation under concurrency, hourly validation,
the authorization-code alternative, and no secret in any log field or repr."""

from __future__ import annotations

import itertools
import json
import os
import stat
import string
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import attrs
import httpx
import pytest
import trio
import trio.lowlevel
import trio.testing
from fakes.twitch import DEVICE_GRANT, FakeTwitch
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.monitors.common.retry import FatalMonitorError
from actors.monitors.common.tokens import TokenPair
from actors.monitors.twitch.api import DeviceCode
from actors.monitors.twitch.auth import (
    DeviceLoginFailed,
    NeedsLogin,
    TwitchAuth,
    TwitchAuthSettings,
)

HOUR = 3600.0
TTL = 4 * HOUR  # the fake's access tokens, as Twitch's
READ_CHAT = "user:read:chat"

Log = list[tuple[str, str, dict[str, Any]]]


class Recorder(httpx.AsyncBaseTransport):
    """The real transport, noting each request's (trio time, method, path, form) and every
    secret that crossed the wire either way, so the log can be checked against them."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[tuple[float, str, str, dict[str, str]]] = []
        self.secrets: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True)) if request.content else {}
        self.seen.append((trio.current_time(), request.method, request.url.path, form))
        for key in ("refresh_token", "device_code", "client_secret", "code"):
            if form.get(key):
                self.secrets.add(form[key])
        auth = request.headers.get("authorization", "")
        if auth:
            self.secrets.add(auth.partition(" ")[2])
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("access_token", "refresh_token", "device_code"):
                if isinstance(data.get(key), str):
                    self.secrets.add(data[key])
        if response.status_code == 302:
            self.secrets.update(parse_qs(urlsplit(response.headers["location"]).query).get("code", []))
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def times(self, path: str, **form: str) -> list[float]:
        return [t for t, _, p, f in self.seen if p == path and all(f.get(k) == v for k, v in form.items())]

    def device_polls(self) -> list[float]:
        return self.times("/oauth2/token", grant_type=DEVICE_GRANT)


@attrs.define
class Env:
    fake: FakeTwitch
    auth: TwitchAuth
    log: Log
    client: httpx.AsyncClient
    wire: Recorder

    def events(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, _, fields in self.log if event == name]

    def store_granted(self, **grant: Any) -> TokenPair:
        """A pair as if a login had happened (the fake's grant()), in the token file."""
        access, refresh = self.fake.grant(**grant)
        pair = TokenPair(access, refresh, expires_at=self.auth.wall() + TTL, scope=READ_CHAT)
        self.auth.store.save(pair)
        self.wire.secrets.update((access, refresh))
        return pair

    def assert_no_secret_logged(self) -> None:
        shown = repr(self.log) + repr(self.auth) + repr(self.auth.s)
        assert self.wire.secrets, "the test saw no secret at all"
        for secret in self.wire.secrets | {self.auth.s.client_secret} - {""}:
            assert secret not in shown


@asynccontextmanager
async def twitch(tmp_path: Path, *, confidential: bool = False, **settings_: Any) -> AsyncIterator[Env]:
    """The fake serving, and a TwitchAuth for its public app (or its confidential one)."""
    fake = FakeTwitch(ping_interval=None)
    log: Log = []
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        base: dict[str, Any] = {"client_id": fake.client_id, "token_file": tmp_path / "twitch" / "token.json"}
        if confidential:
            base |= {
                "client_id": fake.confidential_client_id,
                "client_secret": "fake-secret",
                "redirect_uri": "http://localhost:17563",
                "authorize_page": "http://localhost:12394/twitch/auth",
            }
        auth = TwitchAuth(
            TwitchAuthSettings(
                **(base | settings_),
                auth_base_url=fake.auth_url,
            ),
            emit=lambda event, level="info", **fields: log.append((event, level, fields)),
            wall=trio.current_time,  # unix seconds in production; the MockClock here
        )
        wire = Recorder()
        async with httpx.AsyncClient(transport=wire) as client:
            yield Env(fake, auth, log, client, wire)
        nursery.cancel_scope.cancel()


def spacing(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


# ---- the device login -----------------------------------------------------------------------


async def test_device_login_polls_while_pending_then_stores_a_private_usable_pair(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        shown: list[DeviceCode] = []
        code_shown = trio.Event()
        woken: list[float] = []

        def on_code(code: DeviceCode) -> None:
            assert t.auth.pending_code is code  # the status can show it meanwhile
            shown.append(code)
            code_shown.set()

        async def streamer() -> None:
            await code_shown.wait()
            await trio.sleep(17)  # three polls answered "pending" meanwhile
            t.fake.approve(shown[0].user_code, "streamer")

        async def monitor_waiting() -> None:
            await t.auth.logged_in()
            woken.append(trio.current_time())

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor_waiting)
            nursery.start_soon(streamer)
            pair = await t.auth.device_login(t.client, on_code)

        polls = t.wire.device_polls()
        assert [round(p - start, 6) for p in polls] == [5, 10, 15, 20]  # never sooner than `interval`
        assert t.fake.stats.device_polls == 4 and woken == [polls[-1]]
        assert t.auth.pending_code is None and t.auth.problem is None
        path = t.auth.store.path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert t.auth.store.load() == pair
        assert pair.scope == READ_CHAT
        assert await t.auth.access_token(t.client) == pair.access_token
        validated = await t.auth.validate(t.client)
        assert (validated.login, validated.user_id) == ("streamer", "1971641")
        assert t.auth.client_headers() == {"Client-Id": t.auth.client_id} == {"Client-Id": t.fake.client_id}
        assert (t.auth.login, t.auth.user_id) == ("streamer", "1971641")

        [announced] = t.events("twitch.device_code")
        assert announced["user_code"] == shown[0].user_code
        assert announced["verification_uri"] == shown[0].verification_uri
        assert t.events("twitch.token_authorised") == [{"expires_in_s": round(TTL), "via": "device_code"}]
        t.assert_no_secret_logged()


async def test_slow_down_adds_five_seconds_to_the_interval_from_then_on(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        t.fake.strict_slow_down = True
        shown: list[DeviceCode] = []
        code_shown = trio.Event()

        def on_code(code: DeviceCode) -> None:
            shown.append(code)
            code_shown.set()

        async def intruder() -> None:
            # Someone else polls the same code a second after it was issued (a
            # stand-in for a skewed clock): our first poll is then "too soon".
            await code_shown.wait()
            await trio.sleep(1)
            [device] = t.fake.device_codes()
            form = {"client_id": t.fake.client_id, "device_code": device["device_code"], "grant_type": DEVICE_GRANT}
            async with httpx.AsyncClient() as other:
                assert (await other.post(t.fake.auth_url + "token", data=form)).status_code == 400
            await trio.sleep(20)
            t.fake.approve(shown[0].user_code)

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(intruder)
            await t.auth.device_login(t.client, on_code)
        polls = [round(p - start, 6) for p in t.wire.device_polls()]
        assert polls == [5, 15, 25]  # slow_down at 5; then every 10 s, the new interval
        assert t.fake.stats.slow_downs == 1
        assert t.events("twitch.device_poll_slow_down") == [{"interval_s": 10.0}]
        assert t.auth.has_token


async def test_server_errors_while_polling_are_retried_at_the_interval_not_taken_for_pending(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:

        def on_code(code: DeviceCode) -> None:
            t.fake.fail_next("/oauth2/token", 503)
            t.fake.fail_next("/oauth2/token", 429)
            t.fake.approve(code.user_code)

        await t.auth.device_login(t.client, on_code)
        assert spacing(t.wire.device_polls()) == [5, 5]
        assert [f["error"] for f in t.events("twitch.device_poll_retry")] == [
            "HTTP 503 Service Unavailable",
            "HTTP 429 Too Many Requests",
        ]
        assert t.auth.has_token


@pytest.mark.parametrize(("strict", "outcome"), [(True, "denied"), (False, "invalid")])
async def test_a_declined_login_ends_with_a_problem_and_no_token(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, strict: bool, outcome: str
) -> None:
    async with twitch(tmp_path) as t:
        t.fake.strict_access_denied = strict  # undocumented by Twitch: without it, "invalid device code"
        with pytest.raises(DeviceLoginFailed) as failed:
            await t.auth.device_login(t.client, lambda code: t.fake.deny(code.user_code))
        assert failed.value.outcome == outcome
        assert t.auth.problem is not None and t.auth.problem.key == f"twitch.login_{outcome}"
        assert failed.value.why == t.auth.problem
        assert not t.auth.has_token and not t.auth.store.path.exists()
        assert t.fake.stats.device_polls == 1
        t.assert_no_secret_logged()


async def test_a_code_nobody_enters_expires_and_a_new_one_can_be_asked_for(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        start = trio.current_time()
        with pytest.raises(DeviceLoginFailed) as failed:
            await t.auth.device_login(t.client, lambda code: None)
        assert failed.value.outcome == "expired"
        assert t.auth.problem is not None and t.auth.problem.key == "twitch.login_expired"
        polls = t.wire.device_polls()
        assert polls[-1] - start < 1800 <= trio.current_time() - start  # stopped at expires_in
        assert set(spacing(polls)) == {5}
        assert not t.auth.has_token

        codes: list[DeviceCode] = []

        def approve(code: DeviceCode) -> None:
            codes.append(code)
            t.fake.approve(code.user_code)

        await t.auth.device_login(t.client, approve)
        assert t.fake.stats.device_codes == 2 and t.auth.has_token and t.auth.problem is None


async def test_scopes_are_asked_for_plural_and_a_grant_without_them_is_refused(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    wanted = (READ_CHAT, "bits:read")
    async with twitch(tmp_path, scopes=wanted) as t:
        pair = await t.auth.device_login(t.client, lambda code: t.fake.approve(code.user_code))
        [device] = t.fake.device_codes()
        assert device["scopes"] == wanted  # the fake reads only `scopes`: `scope` would get nothing
        assert [f["scopes"] for _, _, _, f in t.wire.seen if f.get("grant_type") is None] == [" ".join(wanted)]
        assert set(pair.scope.split()) == set(wanted)

        # The user (or a misspelt request) granted less than asked: no token, and why.
        with pytest.raises(DeviceLoginFailed) as failed:
            await t.auth.device_login(t.client, lambda code: t.fake.approve(code.user_code, scopes=["bits:read"]))
        assert failed.value.outcome == "scope_missing"
        assert failed.value.why.params == {"scope": READ_CHAT}
        assert t.auth.store.load() == pair  # the earlier login is untouched


# ---- refreshes ---------------------------------------------------------------------------------


async def test_five_callers_after_expiry_spend_the_refresh_token_once(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        old = t.store_granted()
        assert await t.auth.access_token(t.client) == old.access_token  # fresh: no refresh
        await trio.sleep(TTL + 60)  # the access token has expired
        got: list[str] = []

        async def ask() -> None:
            got.append(await t.auth.access_token(t.client))

        async with trio.open_nursery() as askers:
            for _ in range(5):
                askers.start_soon(ask)
        assert (t.fake.stats.refreshes, t.fake.stats.refresh_reuse) == (1, 0)
        assert len(set(got)) == 1 and got[0] != old.access_token
        stored = t.auth.store.load()
        assert stored is not None and stored.access_token == got[0] and stored.refresh_token != old.refresh_token
        [refresh] = [f for _, _, _, f in t.wire.seen if f.get("grant_type") == "refresh_token"]
        assert "client_secret" not in refresh  # a public client refreshes without one
        assert (await t.auth.validate(t.client)).login == "streamer"

        # A caller whose token was refused after someone replaced it does not refresh again...
        assert await t.auth.access_token(t.client, refused=old.access_token) == got[0]
        assert t.fake.stats.refreshes == 1
        # ...and the next expiry spends the new refresh token, not the old one.
        await trio.sleep(TTL - 300)  # inside refresh_margin
        assert await t.auth.access_token(t.client) != got[0]
        assert (t.fake.stats.refreshes, t.fake.stats.refresh_reuse) == (2, 0)
        assert t.auth.refreshes == 2
        t.assert_no_secret_logged()


async def test_a_refused_refresh_clears_the_store_says_so_once_and_waits_for_a_login(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        t.store_granted()
        t.fake.reject_refresh = True
        await trio.sleep(TTL)
        for _ in range(4):  # a caller that keeps asking gets the same answer, and Twitch hears it once
            with pytest.raises(NeedsLogin) as needs:
                await t.auth.access_token(t.client)
            assert needs.value.why.key == "twitch.refresh_refused"
            assert "the dashboard" in str(needs.value)
        assert t.fake.stats.refresh_rejected == 1
        assert not t.auth.store.path.exists() and not t.auth.has_token
        assert t.auth.problem is not None and t.auth.problem.key == "twitch.refresh_refused"
        assert [e for e, level, _ in t.log if level == "error"] == ["twitch.refresh_refused"]

        t.fake.reject_refresh = False
        woken = trio.Event()

        async def monitor_waiting() -> None:
            await t.auth.logged_in()
            woken.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor_waiting)
            await t.auth.device_login(t.client, lambda code: t.fake.approve(code.user_code))
        assert woken.is_set() and t.auth.problem is None
        assert await t.auth.access_token(t.client)
        t.assert_no_secret_logged()


async def test_a_wrong_client_id_is_fatal_not_a_login_loop(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path, client_id="nobody's") as t:
        with pytest.raises(FatalMonitorError) as fatal:
            await t.auth.device_login(t.client, lambda code: None)
        assert fatal.value.said.key == "twitch.client_refused"


# ---- validation --------------------------------------------------------------------------------


async def test_validation_at_start_and_hourly_survives_a_failed_one_and_refreshes_in_time(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        t.store_granted()
        start = trio.current_time()

        async def outage() -> None:
            await trio.sleep(1.5 * HOUR)
            t.fake.fail_next("/oauth2/validate", 503)  # the 2-hour validation fails

        with trio.move_on_after(5.5 * HOUR):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(outage)
                nursery.start_soon(t.auth.validate_forever, t.client)
        hours = [round((v - start) / HOUR, 6) for v in t.fake.validate_times]
        assert hours == [0, 1, 3, 4, 5]  # and 2, refused by the outage before it was counted
        assert t.fake.stats.faults == 1
        [failed] = t.events("twitch.validate_failed")
        assert failed["error"] == "TwitchApiError: HTTP 503 Service Unavailable"
        assert len(t.events("twitch.validated")) == 5
        assert t.fake.stats.refreshes == 1  # at 4 h, before the token expired
        assert t.fake.stats.validates == 5


async def test_a_refused_token_on_validate_is_refreshed_once(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        t.store_granted()
        t.fake.expire_access_tokens()  # Twitch refused it before its time (it prefers 401 to expires_in)
        validated = await t.auth.validate(t.client)
        assert validated.user_id == "1971641"
        assert t.fake.stats.refreshes == 1 and len(t.fake.validate_times) == 2
        assert t.events("twitch.token_refused") == [{"by": "validate"}]

        # The user disconnected the app: the refresh is refused too, and it ends in a login.
        t.fake.revoke_user("streamer")
        with pytest.raises(NeedsLogin):
            await t.auth.validate(t.client)
        assert t.fake.stats.refresh_rejected == 0 and t.fake.stats.refreshes == 1
        assert t.auth.problem is not None and t.auth.problem.key == "twitch.refresh_refused"
        assert not t.auth.store.path.exists()
        t.assert_no_secret_logged()


@pytest.mark.parametrize(
    ("grant", "problem", "params"),
    [
        ({"client_id": "fake-confidential-id"}, "twitch.wrong_client", {}),
        ({"scopes": ("chat:read",)}, "twitch.scope_missing", {"scope": READ_CHAT}),
    ],
)
async def test_a_token_of_another_app_or_without_the_scope_is_a_problem(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, grant: dict[str, Any], problem: str, params: dict[str, str]
) -> None:
    async with twitch(tmp_path) as t:
        t.store_granted(**grant)
        with pytest.raises(NeedsLogin) as needs:
            await t.auth.validate(t.client)
        assert needs.value.why.key == problem and needs.value.why.params == params
        assert t.auth.problem == needs.value.why
        assert not t.auth.has_token and not t.auth.store.path.exists()
        assert t.auth.validated is None
        with pytest.raises(NeedsLogin):  # validate_forever ends too: no loop
            await t.auth.validate_forever(t.client)
        assert t.fake.stats.validates == 1


# ---- the authorization-code alternative --------------------------------------------------------


async def test_the_authorization_code_flow_end_to_end(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    async with twitch(tmp_path, confidential=True) as t:
        url = t.auth.begin()
        parts = urlsplit(url)
        assert url.startswith(t.fake.auth_url + "authorize?")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["response_type"] == "code" and query["scope"] == READ_CHAT
        assert (query["client_id"], query["redirect_uri"]) == (t.fake.confidential_client_id, "http://localhost:17563")

        consent = await t.client.get(url)  # the browser, at Twitch's consent page
        assert consent.status_code == 302
        back = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
        assert back["state"] == query["state"]
        assert t.auth.take_state(back["state"]) and not t.auth.take_state(back["state"])
        assert not t.auth.take_state("forged")

        woken = trio.Event()

        async def monitor_waiting() -> None:
            await t.auth.logged_in()
            woken.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor_waiting)
            await trio.lowlevel.checkpoint()
            pair = await t.auth.exchange(t.client, back["code"], back["state"])
        assert woken.is_set() and t.auth.store.load() == pair
        assert stat.S_IMODE(os.stat(t.auth.store.path).st_mode) == 0o600
        assert t.events("twitch.token_authorised")[0]["via"] == "authorization_code"
        assert (await t.auth.validate(t.client)).client_id == t.fake.confidential_client_id

        # A confidential client refreshes with its secret (the fake answers 403 without it).
        await trio.sleep(TTL)
        assert await t.auth.access_token(t.client) != pair.access_token
        [refresh] = [f for _, _, _, f in t.wire.seen if f.get("grant_type") == "refresh_token"]
        assert refresh["client_secret"] == "fake-secret"
        # And its NeedsLogin names the page as well as the code.
        t.fake.reject_refresh = True
        await trio.sleep(TTL)
        with pytest.raises(NeedsLogin) as needs:
            await t.auth.access_token(t.client)
        assert "http://localhost:12394/twitch/auth" in str(needs.value)
        t.assert_no_secret_logged()


async def test_a_wrong_secret_fails_the_exchange_for_good(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path, confidential=True, client_secret="not-it") as t:
        consent = await t.client.get(t.auth.begin())
        back = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
        with pytest.raises(FatalMonitorError) as fatal:
            await t.auth.exchange(t.client, back["code"], back["state"])
        assert "invalid client secret" in str(fatal.value)
        assert not t.auth.has_token
        t.assert_no_secret_logged()


# ---- a damaged file ----------------------------------------------------------------------------


async def test_a_damaged_or_unreadable_token_file_asks_for_a_login_and_never_crashes(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with twitch(tmp_path) as t:
        t.auth.store.path.parent.mkdir(parents=True)
        t.auth.store.path.write_text('{"access_token": ')
        assert not t.auth.has_token
        assert t.auth.problem is not None and t.auth.problem.key == "twitch.token_damaged"
        with pytest.raises(NeedsLogin) as needs:
            await t.auth.access_token(t.client)
        assert needs.value.why.key == "twitch.token_damaged"
        with pytest.raises(NeedsLogin):
            await t.auth.validate_forever(t.client)
        assert [e for e, level, _ in t.log if level == "error"] == ["twitch.token_file_damaged"]
        assert t.fake.stats.requests == 0

        await t.auth.device_login(t.client, lambda code: t.fake.approve(code.user_code))
        assert t.auth.problem is None and t.auth.store.load() is not None

    async with twitch(tmp_path / "other") as t:
        t.auth.store.path.mkdir(parents=True)  # a folder where the file should be
        assert not t.auth.has_token
        assert t.auth.problem is not None and t.auth.problem.key == "twitch.token_unreadable"
        with pytest.raises(NeedsLogin):
            await t.auth.access_token(t.client)


# ---- no secret anywhere ------------------------------------------------------------------------

# "@@" around each: nothing we log has it, so a short random token cannot match an event name by chance.
secrets_ = st.text(string.ascii_letters + string.digits + "-_.~", min_size=8, max_size=60).map(lambda s: f"@@{s}@@")


@settings(max_examples=25, deadline=None)
@given(st.lists(secrets_, min_size=8, max_size=8, unique=True))
def test_no_token_device_code_or_secret_reaches_a_log_field_a_repr_or_an_error(values: list[str]) -> None:
    device_code, secret, *tokens = values
    client_id = "the-client"
    issued = iter(zip(tokens[::2], tokens[1::2], strict=True))
    validates = 0

    def twitch_answers(request: httpx.Request) -> httpx.Response:
        nonlocal validates
        path = request.url.path
        form = dict(parse_qsl(request.content.decode()))
        if path.endswith("/device"):
            return httpx.Response(
                200,
                json={
                    "device_code": device_code,
                    "user_code": "ABCDEFGH",
                    "verification_uri": "https://www.twitch.tv/activate",
                    "expires_in": 1800,
                    "interval": 5,
                },
            )
        if path.endswith("/token"):
            if form["grant_type"] == "refresh_token" and form["refresh_token"] == tokens[-1]:
                return httpx.Response(400, json={"status": 400, "message": "Invalid refresh token"})
            access, refresh = next(issued)
            body = {"access_token": access, "refresh_token": refresh, "expires_in": TTL, "scope": [READ_CHAT]}
            return httpx.Response(200, json=body)
        validates += 1
        if validates == 1:
            return httpx.Response(401, json={"status": 401, "message": "invalid access token"})
        body = {"client_id": client_id, "login": "s", "user_id": "1", "scopes": [READ_CHAT], "expires_in": 3600}
        return httpx.Response(200, json=body)

    log: Log = []
    errors: list[BaseException] = []

    async def main(folder: Path) -> TwitchAuth:
        auth = TwitchAuth(
            TwitchAuthSettings(client_id=client_id, client_secret=secret, token_file=folder / "t.json"),
            emit=lambda event, level="info", **fields: log.append((event, level, fields)),
            wall=trio.current_time,
        )
        async with httpx.AsyncClient(transport=httpx.MockTransport(twitch_answers)) as client:
            await auth.device_login(client, lambda code: log.append(("shown", repr(code), {})))
            await auth.validate(client)  # 401, a refresh, then 200
            await trio.sleep(TTL)
            await auth.access_token(client)  # the last pair, whose refresh is then refused
            await trio.sleep(TTL)
            try:
                await auth.access_token(client)
            except NeedsLogin as exc:
                errors.append(exc)
        return auth

    with tempfile.TemporaryDirectory() as folder:
        auth = trio.run(main, Path(folder), clock=trio.testing.MockClock(autojump_threshold=0))
    assert len(errors) == 1
    shown = repr(log) + repr(auth) + repr(auth.s) + repr(errors) + str(errors[0]) + repr(auth.validated)
    for value in values:
        assert value not in shown
