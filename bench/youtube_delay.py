"""How late a YouTube message reaches the router, at the planned interval.

Runs the real YouTube monitor against the fake Data API (tests/fakes/youtube.py)
on loopback HTTP and Trio's MockClock: `--hours` of stream in seconds, with a
message posted every few seconds at random. For each message it measures the
virtual time from appearing in the fake to its ChatEvent arriving on the
router's channel, and prints the spread, the interval the quota planner chose,
and the units spent against the day's quota.

    python bench/youtube_delay.py --hours 8
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.youtube import FakeYouTube

from actors.chat import ChatEvent
from actors.monitors.youtube.monitor import YouTubeCursor, YouTubeMonitor, YouTubeSettings
from supervision import ChildSpec, Restart, Supervisor, SupervisorSpec

EPOCH = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 09:00 Pacific


def wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(hours: float, mean_gap: float, seed: int, stream_hours: float) -> dict[str, object]:
    rng = random.Random(seed)
    fake = FakeYouTube(wall_clock=wall)
    posted_at: dict[str, float] = {}
    delays: list[float] = []
    delivered: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            send, receive = trio.open_memory_channel[ChatEvent](1000)
            monitor = YouTubeMonitor(
                YouTubeSettings(
                    api_key=fake.api_key, video_id=fake.video_id, api_base_url=fake.base_url, stream_hours=stream_hours
                ),
                send,
                YouTubeCursor(),
                emit=lambda *a, **k: None,
                wall_clock=wall,
            )
            supervisor = Supervisor(
                SupervisorSpec(
                    id="monitors", children=[ChildSpec(id="youtube", target=monitor.run, restart=Restart.PERMANENT)]
                )
            )
            fake.go_live()
            nursery.start_soon(supervisor.run)

            async def collect() -> None:
                async for event in receive:
                    delivered.append(event.id)
                    delays.append(event.received_at - posted_at[event.id])

            async def post() -> None:
                await trio.sleep(30)  # after the backlog page
                n = 0
                while trio.current_time() < hours * 3600:
                    item = fake.chat(f"viewer{n % 40}", f"message {n}")
                    posted_at[item["id"]] = trio.current_time()
                    n += 1
                    await trio.sleep(rng.expovariate(1 / mean_gap))

            nursery.start_soon(collect)
            await post()
            await trio.sleep(120)  # the last ones arrive
            supervisor.stop()
            await supervisor.wait_finished()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    list_calls = [c for c in fake.calls if c[1] == "liveChatMessages.list"]
    span = hours * 3600
    return {
        "bench": "youtube_delay",
        "hours": hours,
        "messages": len(posted_at),
        "delivered": len(delays),
        "duplicates": len(delivered) - len(set(delivered)),
        "list_calls": len(list_calls),
        "interval_s_mean": round(span / max(1, len(list_calls)), 2),
        "delay_s_mean": round(statistics.fmean(delays), 2),
        "delay_s_p50": round(statistics.median(delays), 2),
        "delay_s_p95": round(percentile(delays, 0.95), 2),
        "delay_s_max": round(max(delays), 2),
        "units_used": fake.units_used,
        "daily_quota": fake.daily_quota,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--stream-hours", type=float, default=8.0, help="what the planner is told")
    parser.add_argument("--mean-gap", type=float, default=3.0, help="mean seconds between messages")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = measure(args.hours, args.mean_gap, args.seed, args.stream_hours)
    f = figures
    print(
        f"{f['delivered']}/{f['messages']} messages; delay to the router: mean {f['delay_s_mean']} s, "
        f"p50 {f['delay_s_p50']} s, p95 {f['delay_s_p95']} s, max {f['delay_s_max']} s; "
        f"polling every {f['interval_s_mean']} s; {f['units_used']}/{f['daily_quota']} units"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
