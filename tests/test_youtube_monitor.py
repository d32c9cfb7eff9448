"""The YouTube monitor against the fake Data API (tests/fakes/youtube.py), on
real loopback HTTP and Trio's MockClock: hours of stream in seconds.

Whatever happens, no message is emitted twice and the order is kept; the
quota is never overspent; faults are recovered from or given up on cleanly.
"""

from __future__ import annotations

import functools
import io
import json
from datetime import UTC, datetime, timedelta

import attrs
import trio
import trio.testing
from fakes.youtube import FakeYouTube, Fault

from actors.app import Service, monitor_backoff
from actors.chat import ChatEvent, Kind
from actors.config import BackoffConfig, parse_config, secret_values
from actors.monitors.youtube.monitor import YouTubeCursor, YouTubeMonitor, YouTubeSettings
from actors.statuslog import StatusLog
from supervision import ChildContext, ChildSpec, ChildState, Restart, Supervisor, SupervisorSpec

# 09:00 Pacific: a quota day has 15 hours left, more than the 8-hour stream.
EPOCH = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


@attrs.define
class Outcome:
    fake: FakeYouTube
    events: list[ChatEvent]
    log: list[tuple[str, str, dict]]
    cursor: YouTubeCursor
    youtube_state: ChildState
    sibling_restarts: int
    restarts: int
    statuses: list[str]  # the monitor's status line, every five virtual minutes
    youtube_error: str | None

    def named(self, name: str) -> list[dict]:
        return [f for event, _, f in self.log if event == name]


def run(
    script,
    *,
    hours: float,
    settings: dict | None = None,
    fake: FakeYouTube | None = None,
    cursor: YouTubeCursor | None = None,
) -> Outcome:
    """Serve the fake, run the monitor (and a bystander sibling) under a
    supervisor for `hours` of virtual time while `script(fake)` drives the
    stream; returns what reached the router's side of the channel."""
    fake = fake if fake is not None else FakeYouTube(wall_clock=wall)
    events: list[ChatEvent] = []
    log: list[tuple[str, str, dict]] = []
    cursor = cursor if cursor is not None else YouTubeCursor()
    result: dict = {}
    statuses: list[str] = []

    async def bystander(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep_forever()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            send, receive = trio.open_memory_channel[ChatEvent](1000)

            async def collect() -> None:
                async for event in receive:
                    events.append(event)

            nursery.start_soon(collect)
            options = {
                "api_key": "test-key",
                "video_id": fake.video_id,
                "api_base_url": fake.base_url,
                "retry_interval": 5.0,
                "max_retries": 3,
                "request_timeout": 10.0,
                "live_check_every": 60.0,
            } | (settings or {})
            monitor = YouTubeMonitor(
                YouTubeSettings(**options),
                send,
                cursor,
                emit=lambda event, level="info", **f: log.append((event, level, f)),
                wall_clock=wall,
            )
            backoff = monitor_backoff(BackoffConfig(min_delay=2.0, max_delay=60.0, jitter=0.0))
            spec = SupervisorSpec(
                id="monitors",
                children=[
                    ChildSpec(id="youtube", target=monitor.run, restart=Restart.PERMANENT, backoff=backoff),
                    ChildSpec(id="bystander", target=bystander, restart=Restart.PERMANENT),
                ],
                intensity=50,
                period=60.0,
            )
            supervisor = Supervisor(spec)
            nursery.start_soon(supervisor.run)

            async def watch_status() -> None:
                while True:
                    await trio.sleep(300)
                    child = next(c for c in supervisor.snapshot().children if c.id == "youtube")
                    statuses.append(child.status_text or "")

            nursery.start_soon(watch_status)
            await script(fake, nursery)
            await trio.sleep_until(hours * 3600)
            snapshot = {c.id: c for c in supervisor.snapshot().children}
            result["state"] = snapshot["youtube"].state
            result["restarts"] = snapshot["youtube"].restarts
            result["sibling"] = snapshot["bystander"].restarts
            last_exit = snapshot["youtube"].last_exit
            result["error"] = last_exit.error if last_exit else None
            supervisor.stop()
            await supervisor.wait_finished()
            await send.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return Outcome(
        fake, events, log, cursor, result["state"], result["sibling"], result["restarts"], statuses, result["error"]
    )


def posted_ids(fake: FakeYouTube, after: datetime | None = None) -> list[str]:
    return [item["id"] for at, item in fake.posted if after is None or at > after]


def assert_once_in_order(outcome: Outcome) -> None:
    ids = [e.id for e in outcome.events]
    assert len(ids) == len(set(ids)), "a message was emitted twice"
    order = {item_id: i for i, item_id in enumerate(posted_ids(outcome.fake))}
    assert [order[i] for i in ids] == sorted(order[i] for i in ids), "order not kept"


async def chatter(fake: FakeYouTube, *, every: float, until: float, start: int = 0) -> None:
    await trio.sleep(60)  # after the monitor's first (backlog) page
    n = start
    while trio.current_time() < until:
        fake.chat(f"viewer{n % 50}", f"message {n}")
        n += 1
        await trio.sleep(every)


def test_an_eight_hour_stream_stays_within_the_daily_quota():
    """The seed's 2 s poll would spend the day in 67 minutes; ours lasts."""
    ends_at = 8 * 3600

    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()
        for i in range(5):  # backlog: said before we connected
            fake.chat("early", f"before {i}")
        nursery.start_soon(functools.partial(chatter, fake, every=7.0, until=ends_at))

    outcome = run(script, hours=8.05, settings={"daily_quota": 10_000, "stream_hours": 8.0})
    fake = outcome.fake
    list_calls = [c for c in fake.calls if c[1] == "liveChatMessages.list"]
    intervals = [f for f in outcome.named("youtube.live")]
    assert intervals, "never found the chat"
    print(f"units spent: {fake.units_used}; list calls: {len(list_calls)}; interval ~{8 * 3600 / len(list_calls):.1f}s")
    assert fake.units_used <= 10_000
    assert len(list_calls) * 5 >= 9_000  # and it did not starve itself either
    assert_once_in_order(outcome)
    assert not any(e.text.startswith("before") for e in outcome.events)  # backlog skipped...
    assert outcome.cursor.backlog_skipped == 5  # ...but remembered
    said = [
        item["id"]
        for at, item in fake.posted
        if item["snippet"]["textMessageDetails"]["messageText"].startswith("message")
    ]
    assert [e.id for e in outcome.events] == said[: len(outcome.events)]
    assert len(outcome.events) >= len(said) - 3  # the last few may be said after the final poll


def test_quota_exhaustion_waits_for_the_reset_instead_of_looping():
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()

        async def later() -> None:
            await trio.sleep(600)
            fake.exhaust_quota()
            fake.chat("during", "said while we wait")

        nursery.start_soon(later)

    # 09:00 PT + 10 min, exhausted until midnight PT: 15 hours of waiting, then on.
    outcome = run(script, hours=16.0)
    refused = [c for c in outcome.fake.calls if c[2] == 403]
    assert len(refused) <= 2, refused  # one to learn it, no hammering
    assert outcome.named("youtube.quota_exceeded")
    assert any(e.text == "said while we wait" for e in outcome.events)  # delivered after the reset
    assert any(
        status.startswith("quota exhausted (0 of 10000 units left): waiting for the reset at 08:00 UTC")
        for status in outcome.statuses
    )
    assert_once_in_order(outcome)
    assert outcome.youtube_state is ChildState.RUNNING


def fault_run(fault: Fault, count: int = 1) -> Outcome:
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()

        async def later() -> None:
            await trio.sleep(120)
            fake.faults.extend([fault] * count)

        nursery.start_soon(later)
        nursery.start_soon(functools.partial(chatter, fake, every=5.0, until=1800))

    return run(script, hours=0.6)


def test_each_fault_is_recovered_from_without_duplicates():
    for fault, count in [
        (Fault.SERVER_ERROR, 3),
        (Fault.SLOW, 1),
        (Fault.MALFORMED_JSON, 2),
        (Fault.WRONG_TYPES, 2),
        (Fault.RATE_LIMITED, 2),
        (Fault.SERVER_ERROR, 8),  # more than max_retries: the supervisor's backoff takes over
    ]:
        outcome = fault_run(fault, count)
        assert_once_in_order(outcome)
        assert outcome.youtube_state is ChildState.RUNNING, fault
        assert outcome.sibling_restarts == 0
        said = [item_id for item_id in posted_ids(outcome.fake)]
        assert len(outcome.events) >= len(said) - 3, (fault, len(outcome.events), len(said))
        if fault is Fault.SERVER_ERROR and count > 3:
            assert outcome.restarts >= 1


def test_a_new_chat_after_the_stream_restarts_and_after_it_ends():
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()

        async def later() -> None:
            await trio.sleep(300)
            fake.chat("a", "first stream")
            await trio.sleep(120)
            fake.restart_stream()
            await trio.sleep(300)
            fake.chat("b", "second stream")
            await trio.sleep(120)
            fake.end_stream()
            await trio.sleep(600)
            fake.go_live()
            await trio.sleep(400)
            fake.chat("c", "third stream")

        nursery.start_soon(later)

    outcome = run(script, hours=1.0)
    texts = [e.text for e in outcome.events]
    assert texts == ["first stream", "second stream", "third stream"]
    assert len(outcome.named("youtube.chat_over")) >= 2
    assert outcome.youtube_state is ChildState.RUNNING


def test_moderation_and_paid_items_reach_the_router():
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()

        async def later() -> None:
            await trio.sleep(60)
            bad = fake.chat("troll", "buy followers")
            fake.delete_message(bad["id"])
            fake.ban(fake.author_id("troll"), "troll")
            fake.super_chat("fan", "love it", 5_000_000, "USD", display="$5.00")
            fake.unknown("pollEvent")
            fake.unknown("someNewEvent")
            fake.unknown("someNewEvent")

        nursery.start_soon(later)

    outcome = run(script, hours=0.2)
    kinds = [e.kind for e in outcome.events]
    assert kinds == [Kind.CHAT, Kind.MODERATION, Kind.MODERATION, Kind.DONATION]
    assert len(outcome.named("youtube.unknown_type")) == 1  # logged once, skipped


def test_a_bad_key_gives_up_at_once_and_the_others_go_on():
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()

    outcome = run(script, hours=0.5, settings={"api_key": "wrong"})
    assert outcome.youtube_state is ChildState.FAILED
    assert "refused the API key" in (outcome.youtube_error or "")
    assert "wrong" not in (outcome.youtube_error or "")  # the key itself is never shown
    assert outcome.restarts == 0
    assert len(outcome.fake.calls) == 1  # no loop burning quota
    assert outcome.sibling_restarts == 0


def test_waiting_for_live_says_so_and_spends_little():
    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        async def later() -> None:
            await trio.sleep(1800)
            fake.go_live()
            await trio.sleep(300)
            fake.chat("x", "finally")

        nursery.start_soon(later)

    outcome = run(script, hours=0.75)
    videos_calls = [c for c in outcome.fake.calls if c[1] == "videos.list"]
    assert len(videos_calls) <= 1800 / 60 + 2
    assert [e.text for e in outcome.events] == ["finally"]
    assert outcome.statuses[0].startswith(f"waiting for live (video {outcome.fake.video_id})")
    assert outcome.statuses[-1].startswith("live | 1 messages | polling every")


def test_the_service_reads_youtube_chat_from_the_config(tmp_path):
    """`python -m actors` with [monitors.youtube]: chat goes through the
    router to the session; a secret key never reaches the log."""
    fake = FakeYouTube(wall_clock=wall, api_key="s3cret-key-123")
    out = io.StringIO()
    result = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            fake.go_live()
            config = parse_config(
                f"""
[session]
speaking_time = 2.0
[monitors.replay]
enabled = false
[monitors.youtube]
enabled = true
video_id = "{fake.video_id}"
api_base_url = "{fake.base_url}"
""",
                base_dir=tmp_path,
                env={"YOUTUBE_API_KEY": "s3cret-key-123"},
            )
            service = Service(config, StatusLog(out, fmt="json", wall_clock=wall, redact=secret_values(config)))

            async def stream() -> None:
                await trio.sleep(60)
                fake.chat("Alice", "hello Mira, what are we playing?")
                fake.super_chat("Bob", "for the stream!", 5_000_000, "USD", display="$5.00")
                await trio.sleep(120)
                service.supervisor.stop()

            nursery.start_soon(stream)
            result["code"] = await service.run()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert result["code"] == 0
    spoken = [line["text"] for line in lines if line["event"] == "session.turn_started"]
    assert sorted(spoken) == [
        '[YouTube Super Chat $5.00] "Bob": "for the stream!"',
        '[YouTube] "Alice": "hello Mira, what are we playing?"',
    ]
    assert "s3cret-key-123" not in out.getvalue()
    assert lines[-1]["counts"]["received"] == 2


def test_a_channel_is_searched_sparingly_until_it_goes_live():
    """search.list has a small allowance of its own: looked up at most every
    `search_every` seconds, the answer cached."""

    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        async def later() -> None:
            await trio.sleep(3600)
            fake.go_live()
            await trio.sleep(900)
            fake.chat("x", "found you")

        nursery.start_soon(later)

    fake = FakeYouTube(wall_clock=wall)
    outcome = run(script, hours=1.5, fake=fake, settings={"video_id": "", "channel_id": fake.channel_id})
    searches = [c for c in outcome.fake.calls if c[1] == "search.list"]
    assert 6 <= len(searches) <= 3600 / 600 + 3
    assert [e.text for e in outcome.events] == ["found you"]
    assert outcome.named("youtube.live")


def test_the_stream_endpoint_delivers_sooner_at_no_more_quota():
    """use_stream: each connection costs 5 units like a poll and is renewed
    no sooner than the planned interval, so the quota is the same; messages
    said while a connection is open arrive at once."""

    async def script(fake: FakeYouTube, nursery: trio.Nursery) -> None:
        fake.go_live()
        nursery.start_soon(functools.partial(chatter, fake, every=3.0, until=2 * 3600))

    polled = run(script, hours=2.0)
    streamed = run(script, hours=2.0, settings={"use_stream": True})
    for outcome in (polled, streamed):
        assert_once_in_order(outcome)
        assert outcome.youtube_state is ChildState.RUNNING
    assert streamed.fake.units_used <= polled.fake.units_used + 5
    posted = {item["id"]: at for at, item in streamed.fake.posted}

    def mean_delay(outcome: Outcome) -> float:
        at = {item["id"]: when for when, item in outcome.fake.posted}
        delays = [(EPOCH + timedelta(seconds=e.received_at) - at[e.id]).total_seconds() for e in outcome.events]
        return sum(delays) / len(delays)

    assert len(streamed.events) >= len(posted) - 5
    assert mean_delay(streamed) < mean_delay(polled)
    assert [c for c in streamed.fake.calls if c[1] == "liveChatMessages.streamList"]
