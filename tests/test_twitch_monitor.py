"""The Twitch monitor against the fake (tests/fakes/twitch.py) on a MockClock: chat reaches
the router exactly once through every fault the fake can make, a session_reconnect costs
no message and no subscription call, a silent or dropped socket is replaced within
about one and a half keepalives, and what retrying cannot fix stops with a clear line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from fakes.twitch import FakeTwitch

from actors.chat import ChatEvent, Kind, Role
from actors.monitors.common.retry import FatalMonitorError
from actors.monitors.common.tokens import TokenPair
from actors.monitors.twitch.auth import TwitchAuth, TwitchAuthSettings
from actors.monitors.twitch.events import CHAT_SUBSCRIPTIONS
from actors.monitors.twitch.monitor import TwitchCursor, TwitchMonitor, TwitchSettings
from supervision import ChildContext

HOUR = 3600.0
KEEPALIVE = 10  # the fake's, as Twitch's default


@attrs.define
class Rig:
    fake: FakeTwitch
    monitor: TwitchMonitor
    auth: TwitchAuth
    cursor: TwitchCursor
    received: list[ChatEvent]
    log: list[tuple[str, str, dict[str, Any]]]
    statuses: list[str]
    failure: list[BaseException] = attrs.field(factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, _, fields in self.log if event == name]

    async def until(self, predicate: Any, *, within: float = 60.0) -> None:
        """Wait (in virtual time) until `predicate()`."""
        with trio.fail_after(within):
            # Polling is fine on virtual time, and it watches state no event announces.
            while not predicate():  # noqa: ASYNC110
                await trio.sleep(0.05)

    async def live(self, connects: int = 1) -> None:
        await self.until(lambda: self.cursor.connects >= connects and self.cursor.live_since is not None)

    async def received_ids(self, n: int) -> list[str]:
        await self.until(lambda: len(self.received) >= n)
        await trio.sleep(1.0)  # and nothing more comes
        return [e.id for e in self.received]


def context(statuses: list[str]) -> ChildContext:
    return ChildContext(
        child_id="twitch",
        supervisor_id="monitors",
        incarnation=1,
        hooks=(),
        on_started=lambda: None,
        on_status=lambda text, detail: statuses.append(text),
    )


@asynccontextmanager
async def twitch(tmp_path: Path, *, logged_in: bool = True, **fake_args: Any) -> AsyncIterator[Rig]:
    # One clock for both sides: the fake's stamps and Ratelimit-Reset, the monitor's
    # replay guard and waits (unix seconds in production; the MockClock here).
    fake = FakeTwitch(ping_interval=None, wall_ns=lambda: int(trio.current_time() * 1e9), **fake_args)
    log: list[tuple[str, str, dict[str, Any]]] = []

    def emit(event: str, level: str = "info", **fields: Any) -> None:
        log.append((event, level, fields))

    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        auth = TwitchAuth(
            TwitchAuthSettings(
                client_id=fake.client_id, token_file=tmp_path / "token.json", auth_base_url=fake.auth_url
            ),
            emit=emit,
            wall=trio.current_time,
        )
        if logged_in:
            access, refresh = fake.grant()
            auth.store.save(TokenPair(access, refresh, expires_at=trio.current_time() + 4 * HOUR))
        cursor = TwitchCursor()
        send, receive = trio.open_memory_channel[ChatEvent](1000)
        settings = TwitchSettings(
            channel=fake.broadcaster.login, helix_base_url=fake.helix_url.rstrip("/"), eventsub_url=fake.ws_url
        )
        monitor = TwitchMonitor(settings, auth, send, cursor, emit=emit, wall=trio.current_time)
        statuses: list[str] = []
        rig = Rig(fake, monitor, auth, cursor, [], log, statuses)

        async def run() -> None:
            try:
                await monitor.run(context(statuses))
            except Exception as exc:  # what the supervisor would see
                rig.failure.append(exc)

        async def collect() -> None:
            async for event in receive:
                rig.received.append(event)

        nursery.start_soon(run)
        nursery.start_soon(collect)
        yield rig
        nursery.cancel_scope.cancel()


async def test_chat_reaches_the_router_with_roles_cheers_and_subs(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        assert {s["type"] for s in fake.subscriptions(enabled_only=True)} == set(CHAT_SUBSCRIPTIONS)
        assert rig.cursor.subscribed == CHAT_SUBSCRIPTIONS
        hello = fake.chat("Hi chat", chatter=fake.viewer, badges=[{"set_id": "subscriber", "id": "12", "info": "16"}])
        korean = fake.chat("미라 안녕하세요!", chatter=fake.korean_viewer)
        cheer = fake.chat("Cheer100 great stream", chatter=fake.viewer, bits=100)
        sub = fake.notification("sub", chatter=fake.korean_viewer, text="첫 구독!")
        ids = await rig.received_ids(4)
        assert ids == [hello["message_id"], korean["message_id"], cheer["message_id"], sub["message_id"]]
        first, second, third, fourth = rig.received
        assert Role.MEMBER in first.author.roles and first.text == "Hi chat"
        assert second.author.name == "민수"
        assert third.kind is Kind.DONATION and third.amount is not None and str(third.amount.value) == "1.00"
        assert fourth.kind is Kind.MEMBERSHIP
        assert fake.stats.inbound_frames == 0  # the socket is receive-only
        assert any(s.startswith("live | session ") for s in rig.statuses)


async def test_a_session_reconnect_costs_no_message_no_duplicate_and_no_subscription_call(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        posts = fake.stats.subscribe_posts
        before = [fake.chat(f"before {i}")["message_id"] for i in range(3)]
        fake.reconnect()
        during = [fake.chat(f"during {i}")["message_id"] for i in range(3)]  # the old socket still delivers
        await rig.until(lambda: rig.cursor.handoffs == 1)
        after = [fake.chat(f"after {i}")["message_id"] for i in range(3)]
        ids = await rig.received_ids(9)
        assert ids == before + during + after
        assert fake.stats.subscribe_posts == posts and fake.stats.posts_after_reconnect == 0
        assert fake.stats.reconnects_completed == 1 and rig.cursor.connects == 1
        await trio.sleep(40)  # past the old socket's 30 s grace: no 4004, no reconnect
        assert rig.cursor.connects == 1 and not rig.failure


async def test_resends_are_dropped_once_whichever_id_they_keep(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        message = fake.chat("only once please")
        fake.resend(message)  # the same metadata.message_id
        fake.resend(message, new_message_id=True)  # a new one, the same event.message_id
        ids = await rig.received_ids(1)
        assert ids == [message["message_id"]]
        assert rig.cursor.duplicates == 2


async def test_a_silent_socket_is_replaced_within_one_and_a_half_keepalives(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        fake.set_keepalives(False)
        went_quiet = trio.current_time()
        await rig.live(connects=2)
        assert trio.current_time() - went_quiet <= KEEPALIVE * 1.5 + 2 + 2  # watchdog, then the first retry (~1 s)
        assert {s["type"] for s in fake.subscriptions(enabled_only=True)} == set(CHAT_SUBSCRIPTIONS)
        message = fake.chat("back again")
        assert await rig.received_ids(1) == [message["message_id"]]


@pytest.mark.parametrize("how", ["drop", "close-4000", "close-4007", "close-1006"])
async def test_a_lost_socket_reconnects_and_subscribes_again(autojump_clock, tmp_path, how):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        first = fake.chat("first")
        await rig.until(lambda: len(rig.received) == 1)
        if how == "drop":
            fake.drop()
        else:
            fake.close(int(how.removeprefix("close-")))
        await rig.live(connects=2)
        second = fake.chat("second")
        assert await rig.received_ids(2) == [first["message_id"], second["message_id"]]
        assert not rig.failure


async def test_inbound_traffic_4001_stops_instead_of_looping(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        rig.fake.close(4001)
        await rig.until(lambda: bool(rig.failure))
        assert isinstance(rig.failure[0], FatalMonitorError)
        assert rig.cursor.connects == 1


async def test_shared_chat_from_another_channel_is_not_taken(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        fake.chat("from the partner's channel", chatter=fake.viewer, source=fake.partner)
        ours = fake.chat("from ours")
        assert await rig.received_ids(1) == [ours["message_id"]]
        assert rig.cursor.skipped == 1


async def test_a_429_on_subscribe_is_retried_and_subscribing_completes(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        too_many = "number of websocket transports limit exceeded"
        rig.fake.fail_next("/helix/eventsub/subscriptions", 429, message=too_many)
        await rig.live()
        [retry] = rig.events("twitch.retry")
        assert retry["delay_s"] <= 1.0  # not a rate limit: the retry rule's first, quick retry
        assert rig.cursor.subscribed == CHAT_SUBSCRIPTIONS


async def test_an_empty_helix_bucket_is_waited_out_until_its_reset(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        rig.fake.exhaust_rate_limit()
        rig.fake.close(4000)  # the next connection must subscribe again, into an empty bucket
        await rig.until(lambda: rig.cursor.connects == 2 and rig.cursor.live_since is not None, within=200)
        waits = [r["delay_s"] for r in rig.events("twitch.retry")]
        assert any(w > 30 for w in waits), waits  # Ratelimit-Reset obeyed (the bucket refills within a minute)
        assert len(waits) <= 3  # not hammered meanwhile


async def test_moderation_purges_reach_the_router(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        message = fake.chat("delete me", chatter=fake.viewer)
        fake.message_delete(message["message_id"], fake.viewer)
        fake.clear_user_messages(fake.viewer)
        await rig.until(lambda: len(rig.received) == 3)
        _, deleted, cleared = rig.received
        assert deleted.kind is Kind.MODERATION and deleted.target is not None
        assert deleted.target.message_id == message["message_id"]
        assert cleared.kind is Kind.MODERATION and cleared.target is not None
        assert cleared.target.author_id == fake.viewer.id


async def test_without_a_token_the_device_code_is_shown_then_chat_flows(autojump_clock, tmp_path):
    async with twitch(tmp_path, logged_in=False) as rig:
        fake = rig.fake
        await rig.until(lambda: rig.cursor.login is not None)
        code = rig.cursor.login
        assert code is not None and code.user_code in rig.statuses[-1] and code.verification_uri in rig.statuses[-1]
        fake.approve(code.user_code)
        await rig.live()
        assert rig.cursor.login is None
        message = fake.chat("hello after login")
        assert await rig.received_ids(1) == [message["message_id"]]


async def test_a_revoked_authorization_asks_for_a_new_login_once(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        sub_id = next(s["id"] for s in fake.subscriptions() if s["type"] == "channel.chat.message")
        fake.revoke_user(fake.broadcaster)  # the streamer took the consent back: tokens and subscriptions die
        fake.revoke(sub_id, "authorization_revoked")
        await rig.until(lambda: rig.cursor.login is not None)
        assert rig.fake.stats.refresh_reuse == 0
        assert not rig.failure  # no restart loop: it waits for the streamer
        polls = fake.stats.device_polls
        await trio.sleep(60)
        assert fake.stats.device_codes == 1 and fake.stats.device_polls - polls <= 60 / 5 + 1


async def test_the_token_is_validated_at_connect_and_hourly_while_live(autojump_clock, tmp_path):
    async with twitch(tmp_path) as rig:
        await rig.live()
        began = trio.current_time()
        await trio.sleep(3 * HOUR + 60)
        times = [round(t - began) for t in rig.fake.validate_times]
        # At connect (just before `began`), then every hour (an hourly validation
        # past the 4 h token lifetime refreshes it first).
        assert [t // 3600 for t in times if t > 0] == [1, 2, 3], times
        assert rig.cursor.connects == 1 and not rig.failure
        message = rig.fake.chat("still here after hours")
        assert await rig.received_ids(1) == [message["message_id"]]


# ---- what the review of the hand-off found -------------------------------------------------------


@pytest.mark.parametrize("how", ["watchdog", "revocation"])
async def test_a_lost_session_is_closed_not_left_alive_at_twitch(autojump_clock, tmp_path, how):
    """Twitch allows three connections with subscriptions: a socket left open
    after a loss would keep its session (and its subscriptions) counting."""
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        first = fake.live_sessions()[0].id
        if how == "watchdog":
            fake.set_keepalives(False, first)
        else:
            kept = next(s["id"] for s in fake.subscriptions() if s["type"] == "channel.chat.clear")
            fake.revoke(kept, "websocket_internal_error")  # not a lasting refusal: reconnect
        await rig.live(connects=2)
        await trio.sleep(5)
        assert first not in [s.id for s in fake.live_sessions()]
        assert len(fake.live_sessions()) == 1


@pytest.mark.parametrize("url", ["ws://127.0.0.1:1/ws", "ws://127.0.0.1:99999/ws"])
async def test_a_reconnect_url_that_cannot_open_leaves_the_old_socket_delivering(autojump_clock, tmp_path, url):
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        old = fake.live_sessions()[0].id
        session = {"id": old, "status": "reconnecting", "keepalive_timeout_seconds": None, "reconnect_url": url}
        fake.send_message_type("session_reconnect", {"session": session | {"connected_at": "2024-01-01T00:00:00Z"}})
        await trio.sleep(0.5)
        said = fake.chat("said on the old socket while the hand-off fails")
        assert await rig.received_ids(1) == [said["message_id"]]
        assert rig.cursor.connects == 1 and rig.events("twitch.handoff_failed")


async def test_a_frame_late_on_the_old_socket_is_still_read_after_the_new_welcome(autojump_clock, tmp_path):
    """Twitch's last events on the old socket travel on another TCP connection
    than the new welcome, and may arrive just after it: the old socket is read
    for a short grace before it is closed."""
    async with twitch(tmp_path) as rig:
        await rig.live()
        fake = rig.fake
        old = fake.live_sessions()[0].id
        subscription = next(s for s in fake.subscriptions() if s["type"] == "channel.chat.message")
        fake.reconnect()
        await rig.until(lambda: rig.cursor.handoffs == 1)
        late = dict(fake.chat("template"), message_id="late-on-the-old-socket")
        await rig.until(lambda: len(rig.received) == 1)
        envelope = {
            "metadata": {
                "message_id": "late-envelope",
                "message_type": "notification",
                "message_timestamp": "1970-01-01T00:00:10.000000000Z",
                "subscription_type": "channel.chat.message",
                "subscription_version": "1",
            },
            "payload": {"subscription": subscription, "event": late},
        }
        fake.send_raw(json.dumps(envelope), session_id=old)  # as if sent just before the welcome
        await rig.until(lambda: len(rig.received) == 2)
        assert rig.received[-1].id == "late-on-the-old-socket"
        await trio.sleep(10)
        assert old not in [s.id for s in fake.live_sessions()]  # closed after its grace
