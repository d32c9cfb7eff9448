"""The Chzzk monitor against the fake Chzzk (tests/fakes/chzzk.py): real
loopback HTTP and WebSockets, Trio's MockClock, so pings, timeouts and token
lifetimes run in virtual time and are measured exactly.

Whatever the fault, no message is emitted twice; a dead socket is found by
its pings and replaced by a fresh session with fresh subscriptions; a
refresh token is never used twice; a refused one ends in one clear status
and a wait, not a loop.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
import trio.testing
from fakes.chzzk import FakeChzzk

from actors.app import monitor_backoff
from actors.chat import ChatEvent, Kind, Platform, Role
from actors.config import BackoffConfig
from actors.monitors.chzzk.auth import ChzzkAuth, ChzzkAuthSettings
from actors.monitors.chzzk.monitor import ChzzkCursor, ChzzkMonitor, ChzzkSettings
from actors.monitors.common.tokens import TokenPair, TokenStore
from supervision import ChildContext, ChildSpec, ChildState, ChildStatus, Restart, Supervisor, SupervisorSpec

EPOCH = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
AUTHORIZE_PAGE = "http://localhost:12394/chzzk/auth"
PING_INTERVAL = 5.0
PING_TIMEOUT = 10.0


def wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def wall_seconds() -> float:
    return wall().timestamp()


def wall_ms() -> int:
    return int(wall_seconds() * 1000)


@attrs.define
class Rig:
    fake: FakeChzzk
    auth: ChzzkAuth
    cursor: ChzzkCursor
    supervisor: Supervisor
    token_file: Path
    events: list[ChatEvent] = attrs.field(factory=list)
    log: list[tuple[str, str, dict[str, Any]]] = attrs.field(factory=list)
    final: dict[str, ChildStatus] | None = None  # the children as the run ended
    consuming: trio.Event = attrs.field(factory=trio.Event)  # the router reads while this is set
    stop_took: float | None = None  # virtual seconds from stop() to the supervisor's end

    def child(self, name: str = "chzzk") -> ChildStatus:
        if self.final is not None:
            return self.final[name]
        return next(c for c in self.supervisor.snapshot().children if c.id == name)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [f for event, _, f in self.log if event == name]

    async def until(self, predicate: Callable[[], bool], *, within: float = 600.0) -> float:
        """Wait (in virtual time) until `predicate()`; returns how long it took."""
        began = trio.current_time()
        with trio.fail_after(within):
            # Polling is fine on virtual time, and it watches state no event announces.
            while not predicate():  # noqa: ASYNC110
                await trio.sleep(0.05)
        return trio.current_time() - began

    async def live(self, connects: int = 1) -> None:
        await self.until(lambda: self.cursor.connects >= connects and self.cursor.live_since is not None)

    def texts(self) -> list[str]:
        return [e.text for e in self.events]


def run(
    scenario: Callable[[Rig], Awaitable[None]],
    tmp_path: Path,
    *,
    fake: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    authorised: bool = True,
    client_secret: str | None = None,
    outbox_size: int = 1000,
) -> Rig:
    """Serve the fake, run the monitor (and a bystander sibling) under a
    supervisor, and let `scenario(rig)` drive it."""
    box: dict[str, Rig] = {}

    async def bystander(ctx: ChildContext) -> None:
        ctx.started()
        with ctx.cancel_on_stop():
            await trio.sleep_forever()

    async def main() -> None:
        options = {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT} | (fake or {})
        chzzk = FakeChzzk(wall_ms=wall_ms, **options)
        async with trio.open_nursery() as nursery:
            await nursery.start(chzzk.serve)
            token_file = tmp_path / "chzzk-token.json"
            log: list[tuple[str, str, dict[str, Any]]] = []

            def emit(event: str, level: str = "info", **fields: Any) -> None:
                log.append((event, level, fields))

            auth = ChzzkAuth(
                ChzzkAuthSettings(
                    client_id=chzzk.client_id,
                    client_secret=chzzk.client_secret if client_secret is None else client_secret,
                    token_file=token_file,
                    redirect_uri="http://localhost:12394/chzzk/callback",
                    authorize_page=AUTHORIZE_PAGE,
                    api_base_url=chzzk.base_url,
                    auth_url=chzzk.auth_url,
                ),
                emit=emit,
                wall=wall_seconds,
            )
            if authorised:
                access, refresh = chzzk.grant()
                TokenStore(token_file).save(TokenPair(access, refresh, expires_at=wall_seconds() + 86400))
            send, receive = trio.open_memory_channel[ChatEvent](outbox_size)
            cursor = ChzzkCursor()
            options = {
                "api_base_url": chzzk.base_url,
                "retry_interval": 5.0,
                "max_retries": 3,
                "connect_timeout": 5.0,
                "subscribe_timeout": 5.0,
            } | (settings or {})
            monitor = ChzzkMonitor(ChzzkSettings(**options), auth, send, cursor, emit=emit, wall_clock=wall)
            backoff = monitor_backoff(BackoffConfig(min_delay=2.0, max_delay=60.0, jitter=0.0))
            spec = SupervisorSpec(
                id="monitors",
                children=[
                    ChildSpec(id="chzzk", target=monitor.run, restart=Restart.PERMANENT, backoff=backoff),
                    ChildSpec(id="bystander", target=bystander, restart=Restart.PERMANENT),
                ],
                intensity=50,
                period=60.0,
            )
            supervisor = Supervisor(spec)
            rig = Rig(chzzk, auth, cursor, supervisor, token_file, log=log)
            box["rig"] = rig

            rig.consuming.set()

            async def collect() -> None:
                async for event in receive:
                    rig.events.append(event)
                    await rig.consuming.wait()

            supervised = trio.Event()

            async def supervise() -> None:
                await supervisor.run()
                supervised.set()

            nursery.start_soon(collect)
            nursery.start_soon(supervise)
            await scenario(rig)
            # Nothing may be left unsaid: a frame in flight reaches the channel.
            await trio.sleep(1.0)
            rig.final = {c.id: c for c in supervisor.snapshot().children}
            assert rig.child("bystander").restarts == 0, "a sibling was restarted"
            assert chzzk.stats.refresh_reuse == 0, "a refresh token was used twice"
            assert len({e.id for e in rig.events}) == len(rig.events), "an event was emitted twice"
            # A graceful stop ends whatever the monitor waits on at once (the
            # socket gets its goodbye), never by the supervisor's timeout.
            stopping = trio.current_time()
            supervisor.stop()
            await supervised.wait()
            rig.stop_took = trio.current_time() - stopping
            assert rig.stop_took < 1.5, f"the stop took {rig.stop_took:.1f}s"
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return box["rig"]


# ---- the happy path ------------------------------------------------------------------------


def test_chat_donations_and_subscriptions_arrive_as_events(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        fake = rig.fake
        assert {s.subscribed for s in fake.live_sessions()} == {frozenset({"CHAT", "DONATION", "SUBSCRIPTION"})}
        fake.chat("안녕하세요!", sender="viewer0001", nickname="민수")
        fake.chat("welcome everyone", sender=fake.channel_id, nickname="스트리머", role="streamer")
        fake.chat("please be nice", sender="mod0001", nickname="매니저", role="streaming_chat_manager")
        fake.donation(1000, "항상 잘 보고 있어요", donator="donor0001", nickname="후원자")
        fake.subscription(subscriber="sub0001", nickname="구독자", month=3)
        await rig.until(lambda: len(rig.events) == 5)

    rig = run(scenario, tmp_path)
    chat, owner, manager, donation, subscription = rig.events
    assert all(e.platform is Platform.CHZZK for e in rig.events)
    assert (chat.kind, chat.author.id, chat.author.name, chat.text) == (Kind.CHAT, "viewer0001", "민수", "안녕하세요!")
    assert chat.author.roles == frozenset()
    assert owner.author.roles == {Role.OWNER}
    assert manager.author.roles == {Role.MODERATOR}
    assert donation.kind is Kind.DONATION and donation.text == "항상 잘 보고 있어요"
    assert donation.amount is not None
    amount = donation.amount
    assert (amount.value, amount.currency, amount.display) == (Decimal(1000), "KRW", "₩1,000")
    assert subscription.kind is Kind.MEMBERSHIP and subscription.author.name == "구독자"
    assert rig.cursor.connects == 1 and rig.child().restarts == 0
    assert rig.child().status_text.startswith("live | session ")
    assert rig.fake.stats.session_urls == 1


def test_payload_variants_are_read_and_unreadable_ones_skipped(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        fake = rig.fake
        canonical = fake.chat("same text", sender="viewer0002", nickname="지우", role="streaming_channel_manager")
        await rig.until(lambda: len(rig.events) == 1)
        for n, variants in enumerate(
            (("role_top_level",), ("no_chat_channel_id",), ("object_argument",), ("no_event_sent_at",)), start=1
        ):
            fake.chat(
                "same text",
                sender="viewer0002",
                nickname="지우",
                role="streaming_channel_manager",
                message_time=canonical["messageTime"] + n,  # a new message each time, not a replay
                variants=variants,
            )
            await rig.until(lambda n=n: len(rig.events) == n + 1)
        fake.chat("no profile at all", sender="viewer0003", variants=("profile_null",))
        fake.donation(5000, "number amount", variants=("pay_amount_number",))
        fake.donation(2000, "object argument", variants=("object_argument",))
        fake.send_raw('42["CHAT","{not json"]')
        fake.send_raw('42["CHAT","{\\"content\\":\\"no sender\\"}"]')
        fake.send_raw('42["MISSION_DONATION","{}"]')
        fake.send_raw('42["SYSTEM","{\\"type\\":\\"maintenance\\",\\"data\\":{}}"]')
        fake.send_raw("4{broken socket.io")
        fake.send_raw("9what")
        fake.chat("still reading", sender="viewer0004")
        await rig.until(lambda: "still reading" in rig.texts())

    rig = run(scenario, tmp_path)
    variants = [e for e in rig.events if e.text == "same text"]
    assert len(variants) == 5
    assert {e.author.roles for e in variants} == {frozenset({Role.MODERATOR})}
    anonymous = next(e for e in rig.events if e.text == "no profile at all")
    assert anonymous.author.name == "익명"
    amounts = [e.amount.value for e in rig.events if e.amount is not None]
    assert amounts == [Decimal(5000), Decimal(2000)]
    assert rig.cursor.connects == 1 and rig.child().restarts == 0  # nothing unreadable was fatal
    bad = rig.named("chzzk.bad_payload")
    # Not JSON, no sender, a broken Socket.IO packet, an unknown Engine.IO type.
    assert [b["problem"] for b in bad][:2] == ["argument is a string but not JSON", "no senderChannelId"]
    assert len(bad) == 4
    assert rig.named("chzzk.unknown_event") == [{"name": "MISSION_DONATION"}]
    assert rig.named("chzzk.unknown_system") == [{"type": "maintenance"}]


# ---- sockets that end -------------------------------------------------------------------------


def test_dropped_socket_is_replaced_with_a_fresh_session_and_nothing_twice(tmp_path: Path) -> None:
    timings: dict[str, float] = {}

    async def scenario(rig: Rig) -> None:
        await rig.live()
        fake = rig.fake
        first = fake.chat("before the drop", sender="viewer0001")
        await rig.until(lambda: len(rig.events) == 1)
        await trio.sleep(60)  # a healthy minute; but the rule is the same for a young connection
        old_key = rig.cursor.session_key
        assert fake.drop_sockets() == 1
        timings["reconnect"] = await rig.until(lambda: rig.cursor.connects == 2 and rig.cursor.live_since is not None)
        assert rig.cursor.session_key != old_key
        # A server that replays a message on the new session: same sender, time, text.
        fake.chat("before the drop", sender="viewer0001", message_time=first["messageTime"])
        fake.chat("after the drop", sender="viewer0001")
        await rig.until(lambda: "after the drop" in rig.texts())

    rig = run(scenario, tmp_path)
    assert rig.texts() == ["before the drop", "after the drop"]
    assert rig.cursor.duplicates == 1
    assert rig.fake.stats.session_urls == 2  # a fresh URL for the new connection
    assert rig.fake.stats.subscribes == 6  # and the three subscriptions again
    assert timings["reconnect"] < 1.5  # the first retry of an outage: about a second
    assert rig.child().restarts == 0
    assert [f["attempt"] for f in rig.named("chzzk.retry")] == [1]


def test_a_silent_socket_is_found_by_its_pings(tmp_path: Path) -> None:
    timings: dict[str, float] = {}

    async def scenario(rig: Rig) -> None:
        await rig.live()
        await trio.sleep(60)
        rig.fake.answer_pings = False
        timings["noticed"] = await rig.until(lambda: rig.cursor.live_since is None)
        rig.fake.answer_pings = True
        await rig.live(connects=2)
        rig.fake.chat("hello again")
        await rig.until(lambda: rig.texts() == ["hello again"])

    rig = run(scenario, tmp_path)
    # The next ping goes out within pingInterval; its pong is owed within pingTimeout.
    assert timings["noticed"] <= PING_INTERVAL + PING_TIMEOUT + 0.1
    assert any("no pong" in f["error"] for f in rig.named("chzzk.retry"))


def test_engine_close_and_a_revoked_subscription_reconnect(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        await trio.sleep(60)
        assert rig.fake.engine_close() == 1
        await rig.live(connects=2)
        await trio.sleep(60)
        assert rig.fake.revoke("CHAT") == 1
        await rig.live(connects=3)
        rig.fake.chat("subscribed again")
        await rig.until(lambda: rig.texts() == ["subscribed again"])

    rig = run(scenario, tmp_path)
    assert rig.child().restarts == 0
    assert rig.fake.stats.subscribes == 9


def test_a_drop_every_15_seconds_costs_about_a_second_each(tmp_path: Path) -> None:
    """The issue's schedule: a socket dropped every 15 s, young or not, is
    back within seconds each time (it went live, so each drop is the first
    failure of a new outage), and chat sent while it is up is never lost."""
    outages: list[float] = []

    async def scenario(rig: Rig) -> None:
        await rig.live()
        for round_no in range(6):
            for i in range(3):
                rig.fake.chat(f"r{round_no} m{i}", sender=f"viewer{i:04d}")
                await trio.sleep(5)
            assert rig.fake.drop_sockets() == 1
            outages.append(await rig.until(partial(live_after, rig, rig.cursor.connects)))

    rig = run(scenario, tmp_path)
    assert len(rig.texts()) == 18  # every message sent while a socket was up
    assert max(outages) < 1.5
    assert {f["attempt"] for f in rig.named("chzzk.retry")} == {1}
    assert rig.child().restarts == 0


def live_after(rig: Rig, connects: int) -> bool:
    return rig.cursor.connects > connects and rig.cursor.live_since is not None


def test_failures_in_a_row_wait_longer_each_time(tmp_path: Path) -> None:
    """An outage that goes on backs off: about 1, 2, 4 s, never more than `retry_interval`."""

    async def scenario(rig: Rig) -> None:
        rig.fake.fail_next("/open/v1/sessions/auth", 500, times=3)
        await rig.live()

    rig = run(scenario, tmp_path)
    delays = [f["delay_s"] for f in rig.named("chzzk.retry")]
    assert [f["attempt"] for f in rig.named("chzzk.retry")] == [1, 2, 3]
    for n, delay in enumerate(delays, start=1):
        base = min(5.0, 2 ** (n - 1))
        assert 0.8 * base - 0.001 <= delay <= base + 0.001


def test_withheld_connected_times_out_and_retries(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.send_connected = False
        await rig.until(lambda: len(rig.named("chzzk.retry")) >= 2)
        rig.fake.send_connected = True
        await rig.live()

    rig = run(scenario, tmp_path)
    assert all("connected" in f["error"] for f in rig.named("chzzk.retry"))
    assert rig.child().restarts == 0


# ---- REST faults ------------------------------------------------------------------------------


def test_server_errors_and_rate_limits_are_ridden_out(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.fail_next("/open/v1/sessions/auth", 500, times=2)
        rig.fake.fail_next("/open/v1/sessions/events/subscribe", 429, retry_after=7)
        await rig.live()
        rig.fake.chat("made it")
        await rig.until(lambda: rig.texts() == ["made it"])

    rig = run(scenario, tmp_path)
    assert rig.child().restarts == 0
    # Two 500s cost about 1 and 2 s; the 429 said when to ask again, and is obeyed exactly.
    assert [f["delay_s"] for f in rig.named("chzzk.retry")][2:] == [7.0]
    assert rig.named("chzzk.rate_limited") == [{"path": "/open/v1/sessions/events/subscribe/chat", "wait_s": 7.0}]


def test_a_long_outage_is_handed_to_the_supervisor_then_recovered(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.fail_next("/open/v1/sessions/auth", 503, times=6, non_json=True)
        await rig.live()

    rig = run(scenario, tmp_path)
    assert rig.child().restarts == 1  # 1 try + 3 retries, then a restart, then 2 more failures
    assert rig.child().state is ChildState.RUNNING


def test_a_missing_chat_scope_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.fail_next("/open/v1/sessions/events/subscribe/chat", 403)
        await rig.until(lambda: rig.child().state is ChildState.FAILED)

    rig = run(scenario, tmp_path)
    error = rig.child().last_exit.error
    assert "scope" in error and "/chat" in error


def test_a_missing_donation_scope_costs_donations_not_the_evening(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.fail_next("/open/v1/sessions/events/subscribe/donation", 403)
        await rig.live()
        rig.fake.chat("chat still comes")
        await rig.until(lambda: rig.texts() == ["chat still comes"])

    rig = run(scenario, tmp_path)
    assert rig.cursor.refused == {"DONATION"}
    assert rig.child().status_text.endswith("| refused (scope): donation")
    assert [f["event_type"] for f in rig.named("chzzk.subscription_refused")] == ["DONATION"]


# ---- tokens -----------------------------------------------------------------------------------


def test_a_refused_access_token_is_refreshed_and_the_new_pair_stored_first(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        before = TokenStore(rig.token_file).load()
        rig.fake.expire_access_tokens()
        await trio.sleep(60)
        rig.fake.drop_sockets()
        await rig.live(connects=2)
        after = TokenStore(rig.token_file).load()
        assert before is not None and after is not None
        assert after.refresh_token != before.refresh_token
        rig.fake.chat("fresh token")
        await rig.until(lambda: rig.texts() == ["fresh token"])

    rig = run(scenario, tmp_path)
    assert rig.fake.stats.refreshes == 1
    assert rig.auth.refreshes == 1
    assert stat.S_IMODE(os.stat(rig.token_file).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [rig.token_file.name]  # no temp file left behind


def test_the_token_is_refreshed_before_it_expires_even_on_a_quiet_socket(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    async def scenario(rig: Rig) -> None:
        await rig.live()
        # Within `refresh_margin` (600 s) of the day's end the token is refreshed
        # with no call needing it, and the socket stays up.
        await trio.sleep(86400 - 300)
        seen["refreshes"] = rig.fake.stats.refreshes
        seen["connects"] = rig.cursor.connects
        rig.fake.drop_sockets()
        await rig.live(connects=2)  # and the reconnect uses the fresh token as it is

    # Pings an hour apart: a virtual day of them stays cheap.
    rig = run(scenario, tmp_path, fake={"ping_interval": 3600.0, "ping_timeout": 60.0, "expires_in_as_string": True})
    assert seen == {"refreshes": 1, "connects": 1}
    assert rig.fake.stats.refreshes == 1
    assert not rig.named("chzzk.token_refused")  # refreshed before the server had to refuse it


def test_a_refused_refresh_token_asks_once_for_authorisation_and_waits(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def scenario(rig: Rig) -> None:
        await rig.live()
        rig.fake.expire_access_tokens()
        rig.fake.reject_refresh = True
        await trio.sleep(60)
        rig.fake.drop_sockets()
        await rig.until(lambda: (rig.child().status_text or "").startswith("not authorised"))
        urls_then = rig.fake.stats.session_urls
        await trio.sleep(3600)  # an hour of waiting costs nothing and says it once
        seen["status"] = rig.child().status_text
        seen["calls"] = rig.fake.stats.session_urls - urls_then
        seen["file"] = rig.token_file.exists()
        # The streamer authorises again: the fake consents, the code is exchanged.
        rig.fake.reject_refresh = False
        async with httpx.AsyncClient() as client:
            consent = await client.get(rig.auth.begin())
            location = httpx.URL(consent.headers["location"])
            await rig.auth.exchange(client, location.params["code"], location.params["state"])
        await rig.live(connects=2)

    rig = run(scenario, tmp_path)
    assert seen["status"].startswith("not authorised") and AUTHORIZE_PAGE in seen["status"]
    assert seen["calls"] == 0 and seen["file"] is False
    assert len(rig.named("chzzk.needs_authorization")) == 1
    assert rig.child().restarts == 0 and rig.child().state is ChildState.RUNNING


def test_no_token_at_all_waits_for_authorisation(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.until(lambda: (rig.child().status_text or "").startswith("not authorised"))
        assert rig.fake.stats.session_urls == 0

    rig = run(scenario, tmp_path, authorised=False)
    assert rig.child().state is ChildState.RUNNING


def test_a_wrong_client_secret_is_fatal_not_a_loop(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fake.expire_access_tokens()
        await rig.until(lambda: rig.child().state is ChildState.FAILED)

    rig = run(scenario, tmp_path, client_secret="not-the-secret")
    error = rig.child().last_exit.error
    assert "INVALID_CLIENT" in error and "not-the-secret" not in error
    assert rig.fake.stats.refreshes == 0


def test_a_stuck_router_never_makes_the_socket_look_dead(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        rig.consuming = trio.Event()  # the router stops reading for ten minutes
        for n in range(50):
            rig.fake.chat(f"message {n}", sender=f"viewer{n:04d}")
            await trio.sleep(12.0)
        assert rig.cursor.connects == 1  # pongs kept coming: the reader never blocked
        rig.consuming.set()
        await rig.until(lambda: len(rig.events) == 50)

    rig = run(scenario, tmp_path, outbox_size=1)
    assert rig.texts() == [f"message {n}" for n in range(50)]
    assert not rig.named("chzzk.reconnecting") and not rig.named("chzzk.retry")


def test_an_unasked_unsubscribe_is_subscribed_again(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.live()
        await trio.sleep(60)
        rig.fake.system("unsubscribed", {"eventType": "CHAT", "channelId": rig.fake.channel_id})
        await rig.live(connects=2)
        rig.fake.chat("still here")
        await rig.until(lambda: rig.texts() == ["still here"])

    rig = run(scenario, tmp_path)
    assert rig.named("chzzk.subscription_ended") == [{"how": "unsubscribed", "event_type": "CHAT"}]
