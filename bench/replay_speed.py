"""How fast and how lightly the replay monitor plays a big recording.

Writes a recording of `--megabytes` of chat (one archive-shaped record per
line, in fate order: shuffled within a few hundred records), then plays it
with the real replay monitor at `--speed` (default `inf`: as fast as the
consumer takes it) into a channel, on the real clock, and prints:

- seconds from the start to the first record handed over (the file is
  streamed: this must not grow with the file);
- records per second over the whole file;
- the longest the event loop was stalled (a 10 ms ticker's worst lateness),
  which is what every other actor would feel;
- peak resident memory of the process, and its growth over the run.

    python bench/replay_speed.py --megabytes 200
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.monitors.replay import ReplayCursor, ReplaySource, run_replay
from supervision import ChildContext

EPOCH = datetime(2026, 11, 24, 1, tzinfo=UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_recording(path: Path, megabytes: float, seed: int) -> int:
    rng = random.Random(seed)
    target = megabytes * 2**20
    written = count = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            block = list(range(count, count + 300))
            rng.shuffle(block)
            for i in block:
                sent = EPOCH + timedelta(milliseconds=50 * i)
                line = json.dumps(
                    {
                        "platform": "chzzk" if i % 3 else "youtube",
                        "id": f"rec-{i}",
                        "kind": "chat",
                        "author": {"id": f"u{i % 5000}", "name": f"viewer {i % 5000} 민수", "roles": []},
                        "text": f"message number {i}: 안녕하세요 how is the stream going tonight?",
                        "amount": None,
                        "sent_at": sent.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "fate": "filtered",
                        "reason": "rate_limit",
                        "score": 1.25,
                    },
                    ensure_ascii=False,
                )
                out.write(line + "\n")
                written += len(line.encode()) + 1
            count += len(block)
    return count


def ctx() -> ChildContext:
    return ChildContext(
        child_id="replay",
        supervisor_id="bench",
        incarnation=1,
        hooks=(),
        on_started=lambda: None,
        on_status=lambda text: None,
    )


def measure(path: Path, speed: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    rss_before = peak_rss_mb()

    async def main() -> None:
        send, receive = trio.open_memory_channel[object](1000)
        got = 0
        first_at: float | None = None
        worst_stall = 0.0
        started = time.perf_counter()

        async def consume() -> None:
            nonlocal got, first_at
            async for _ in receive:
                got += 1
                if first_at is None:
                    first_at = time.perf_counter() - started

        async def ticker() -> None:
            nonlocal worst_stall
            while True:
                before = time.perf_counter()
                await trio.sleep(0.01)
                worst_stall = max(worst_stall, time.perf_counter() - before - 0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            nursery.start_soon(ticker)
            c = ctx()
            cursor = ReplayCursor()
            source = ReplaySource(path, speed)
            await run_replay(c, source, send, cursor, max_retries=0, retry_interval=1.0, emit=lambda *a, **k: None)
            c._close_held()
            send.close()
            elapsed = time.perf_counter() - started
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        figures.update(
            records=got,
            seconds=round(elapsed, 2),
            first_record_s=round(first_at or math.nan, 3),
            records_per_s=round(got / elapsed),
            worst_loop_stall_ms=round(worst_stall * 1000, 1),
        )

    trio.run(main)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    figures["rss_growth_mb"] = round(peak_rss_mb() - rss_before, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--speed", type=float, default=math.inf)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as folder:
        path = Path(folder) / "recording.jsonl"
        count = write_recording(path, args.megabytes, args.seed)
        size_mb = path.stat().st_size / 2**20
        figures = measure(path, args.speed)
    print(
        f"{figures['records']}/{count} records of a {size_mb:.0f} MB recording in {figures['seconds']} s "
        f"({figures['records_per_s']} records/s at speed {args.speed}); first record after "
        f"{figures['first_record_s']} s; event loop stalled at most {figures['worst_loop_stall_ms']} ms; "
        f"peak RSS {figures['peak_rss_mb']} MB (+{figures['rss_growth_mb']} MB during the run)"
    )
    speed = args.speed if math.isfinite(args.speed) else "inf"  # strict JSON has no Infinity
    print(json.dumps({"megabytes": round(size_mb, 1), "speed": speed, **figures}))


if __name__ == "__main__":
    main()
