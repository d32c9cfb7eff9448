"""What YouTube faults cost: messages lost, messages repeated, and seconds to recover.

Runs the real YouTube monitor under its supervisor against the fake Data API
(tests/fakes/youtube.py) on loopback HTTP and Trio's MockClock, so an hour of
stream takes seconds. Chat arrives every few seconds (at random) while a fault
schedule plays:

- three outages of the chat backend (every liveChatMessages call answers 503
  backendError) of 10, 30 and 60 s;
- a stream restart (the broadcast drops and comes back with a new chat id);
- an outage of 30 s during which the stream ends, and a new stream 5 minutes
  later (with `ended_grace` seconds after the end before the old chat answers
  liveChatEnded; the reference's hint is ~5 min, unverified, so it is a flag).

For each fault it measures the virtual seconds from the fault's end (the
outage's end, the restart) to the next good chat page (a 200 from
liveChatMessages.list, or a stream connection; after a restart, one of the
new chat), and over the run the
messages posted after the monitor first looked that never reached the
router, and those that reached it twice. The monitor runs with the settings
a streamer gets by default (max_retries 10, retry_interval 60).

    python bench/youtube_faults.py [--runs 5] [--stream] [--code /tmp/yt-before]

`--code` runs the monitor of another checkout (e.g. a `git worktree` of an
older commit) against this tree's fake and schedule, for before/after
figures. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio
import trio.testing

HERE = Path(__file__).resolve().parent.parent
EPOCH = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 09:00 Pacific: the quota day has 15 h left
OUTAGES = ((300.0, 10.0), (900.0, 30.0), (1500.0, 60.0))  # (start, seconds down)
RESTART_AT = 2100.0
ENDING_OUTAGE = (2700.0, 30.0)  # the stream ends 10 s into it
NEXT_STREAM_AT = 3000.0
CHAT_UNTIL = 3480.0
RUN_FOR = 3600.0
LEAD = 30.0  # a lost message is blamed on a fault that began up to this long after it was said


def wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def at(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


async def chat(fake: Any, rng: random.Random, mean_gap: float) -> None:
    """A message every `mean_gap` seconds on average, while a stream is live."""
    await trio.sleep(30)
    n = 0
    while trio.current_time() < CHAT_UNTIL:
        if fake.state == "live":
            fake.chat(f"viewer{n % 40}", f"message {n}")
            n += 1
        await trio.sleep(rng.expovariate(1 / mean_gap))


async def play_faults(fake: Any, faults: list[tuple[str, float]]) -> None:
    """The fault schedule; each fault is noted with the moment it ended."""
    for start, seconds in OUTAGES:
        await trio.sleep_until(start)
        fake.down_until = start + seconds
        faults.append(("outage", start + seconds))
    await trio.sleep_until(RESTART_AT)
    fake.restart_stream()
    faults.append(("restart", RESTART_AT))
    start, seconds = ENDING_OUTAGE
    await trio.sleep_until(start)
    fake.down_until = start + seconds
    await trio.sleep(10)
    fake.end_stream()
    faults.append(("end_in_outage", start + seconds))
    await trio.sleep_until(NEXT_STREAM_AT)
    fake.go_live()


def one_run(seed: int, use_stream: bool, ended_grace: float, mean_gap: float) -> dict[str, Any]:
    from fakes.youtube import FakeYouTube

    from actors.chat import ChatEvent
    from actors.monitors.youtube.monitor import YouTubeCursor, YouTubeMonitor, YouTubeSettings
    from supervision import ChildSpec, Restart, Supervisor, SupervisorSpec

    rng = random.Random(seed)
    random.seed(seed)  # the retry rule's jitter draws from the module's generator: reproducible figures
    fake = FakeYouTube(wall_clock=wall, ended_grace=ended_grace, seed=seed)
    delivered: list[str] = []
    found_live: list[float] = []  # trio times the monitor found a (new) live chat
    faults: list[tuple[str, float]] = []  # (what, when it ended)

    def emit(event: str, level: str = "info", **fields: Any) -> None:
        if event == "youtube.live":
            found_live.append(trio.current_time())

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            send, receive = trio.open_memory_channel[ChatEvent](10_000)
            settings = YouTubeSettings(
                api_key=fake.api_key, video_id=fake.video_id, api_base_url=fake.base_url, use_stream=use_stream
            )
            monitor = YouTubeMonitor(settings, send, YouTubeCursor(), emit=emit, wall_clock=wall)
            supervisor = Supervisor(
                SupervisorSpec(
                    id="monitors", children=[ChildSpec(id="youtube", target=monitor.run, restart=Restart.PERMANENT)]
                )
            )
            fake.go_live()
            for i in range(5):
                fake.chat("early", f"backlog {i}")  # said before the monitor looked
            await trio.sleep(1)
            nursery.start_soon(supervisor.run)

            async def collect() -> None:
                async for event in receive:
                    delivered.append(event.id)

            nursery.start_soon(collect)
            nursery.start_soon(chat, fake, rng, mean_gap)
            nursery.start_soon(play_faults, fake, faults)
            await trio.sleep_until(RUN_FOR)
            supervisor.stop()
            await supervisor.wait_finished()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return {
        "posted": len(wanted := wanted_ids(fake)),
        "lost": len(wanted - set(delivered)),
        "lost_after": lost_after(fake, wanted - set(delivered)),
        "duplicates": len(delivered) - len(set(delivered)),
        "backlog_emitted": len(backlog_ids(fake) & set(delivered)),
        "recovery_s": recovery(fake, faults, found_live),
        "units_used": fake.units_used,
    }


def lost_after(fake: Any, lost: set[str]) -> dict[str, int]:
    """The lost messages by fault: the last one that began at most a poll
    interval (LEAD) after each was posted, since what was said just before an
    outage is read after it."""
    starts = [*((start, f"outage_{i}") for i, (start, _) in enumerate(OUTAGES))]
    starts += [(RESTART_AT, "restart"), (ENDING_OUTAGE[0], "end_in_outage"), (NEXT_STREAM_AT, "next_stream")]
    out: dict[str, int] = {}
    for when, item in fake.posted:
        if item["id"] in lost:
            posted = at(when) + LEAD
            label = max(((start, name) for start, name in starts if start <= posted), default=(0.0, "none"))[1]
            out[label] = out.get(label, 0) + 1
    return out


def backlog_ids(fake: Any) -> set[str]:
    return {item["id"] for when, item in fake.posted if at(when) < 1.0}


def wanted_ids(fake: Any) -> set[str]:
    """The chat messages posted after the monitor first looked."""
    texts = {item["id"] for when, item in fake.posted if item["snippet"]["type"] == "textMessageEvent"}
    return texts - backlog_ids(fake)


def recovery(fake: Any, faults: list[tuple[str, float]], found_live: list[float]) -> dict[str, float]:
    """Seconds from each fault's end to the next good chat page."""
    pages = [(when, endpoint) for when, endpoint, status, _ in fake.calls if status == 200]
    good = [at(when) for when, endpoint in pages if endpoint.startswith("liveChatMessages")]
    out: dict[str, float] = {}
    for what, ended in faults:
        since = ended
        if what == "restart":
            # A good page of the NEW chat: after the monitor found it.
            since = next((t for t in found_live if t >= ended), float("inf"))
        following = [t for t in good if t >= since - 1e-3]  # the fake's times are whole microseconds
        out[what if what != "outage" else f"outage_{len(out)}"] = (
            round(following[0] - ended, 2) if following else float("inf")
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs with different seeds (the retry waits are jittered)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stream", action="store_true", help="use_stream = true (the chat stream endpoint)")
    parser.add_argument("--ended-grace", type=float, default=60.0, help="seconds before an ended chat is gone")
    parser.add_argument("--mean-gap", type=float, default=2.0, help="mean seconds between messages")
    parser.add_argument("--code", type=Path, default=HERE, help="the checkout whose monitor runs (default: this one)")
    args = parser.parse_args()
    # The fake and the schedule are always this tree's; the monitor is --code's.
    sys.path[:0] = [str(args.code.resolve()), str(HERE / "tests")]
    importlib.invalidate_caches()
    runs = [one_run(args.seed + i, args.stream, args.ended_grace, args.mean_gap) for i in range(args.runs)]
    waits = [s for run in runs for s in run["recovery_s"].values()]
    by_fault: dict[str, list[float]] = {}
    for run in runs:
        for what, seconds in run["recovery_s"].items():
            by_fault.setdefault(what, []).append(seconds)
    figures = {
        "bench": "youtube_faults",
        "code": str(args.code.resolve()) if args.code != HERE else "this tree",
        "transport": "stream" if args.stream else "polling",
        "runs": args.runs,
        "ended_grace_s": args.ended_grace,
        "posted": sum(r["posted"] for r in runs),
        "lost": sum(r["lost"] for r in runs),
        "duplicates": sum(r["duplicates"] for r in runs),
        "lost_after": {
            k: sum(r["lost_after"].get(k, 0) for r in runs) for k in sorted({k for r in runs for k in r["lost_after"]})
        },
        "backlog_emitted": sum(r["backlog_emitted"] for r in runs),
        "recovery_s_median": round(statistics.median(waits), 2),
        "recovery_s_max": max(waits),
        "recovery_s_by_fault_max": {what: max(values) for what, values in by_fault.items()},
        "units_used_mean": round(statistics.fmean(r["units_used"] for r in runs)),
    }
    f = figures
    print(f"monitor: {f['code']} ({f['transport']}); {f['runs']} runs of {RUN_FOR / 3600:g} h virtual")
    for i, run in enumerate(runs):
        print(
            f"  run {i}: {run['lost']}/{run['posted']} lost {run['lost_after']}, {run['duplicates']} twice, "
            f"recovery {run['recovery_s']}, {run['units_used']} units"
        )
    print(
        f"lost {f['lost']}/{f['posted']}, duplicates {f['duplicates']}, backlog emitted {f['backlog_emitted']}; "
        f"fault end -> next good page: median {f['recovery_s_median']} s, max {f['recovery_s_max']} s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
