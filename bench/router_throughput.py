"""How fast the router routes, and whether its memory stays bounded.

Routes a synthetic stream (a pool of authors, 5% resends, 1% moderation) through
Router + PendingBuffer + Ledger, with the session taking one message every
`--take-every` events, and reports events per second and the peak memory the
routing state held (tracemalloc). Run it twice with different --events to see
that memory does not grow with the length of the stream.

    python bench/router_throughput.py --events 200000
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from actors.chat import Author, ChatEvent, Kind, ModerationTarget, Platform
from actors.ledger import Ledger
from actors.router.actor import Router
from actors.router.buffer import PendingBuffer


def synthetic_stream(n: int, seed: int) -> list[ChatEvent]:
    rng = random.Random(seed)
    authors = [Author(f"UC{i:06d}", f"viewer{i}") for i in range(5000)]
    start = datetime(2026, 11, 24, tzinfo=UTC)
    events: list[ChatEvent] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.05 and events:
            events.append(rng.choice(events[-200:]))  # a resend after a reconnect
            continue
        author = rng.choice(authors)
        kind, target = Kind.CHAT, None
        if roll > 0.99:
            kind, target = Kind.MODERATION, ModerationTarget(author_id=rng.choice(authors).id)
        events.append(
            ChatEvent(
                Platform.YOUTUBE if i % 2 else Platform.CHZZK,
                f"m{i}",
                kind,
                author,
                f"message number {i}",
                None,
                start + timedelta(milliseconds=10 * i),
                target=target,
            )
        )
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--dedupe-ids", type=int, default=10_000)
    parser.add_argument("--take-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    events = synthetic_stream(args.events, args.seed)
    tracemalloc.start()
    ledger = Ledger()
    buffer = PendingBuffer(args.capacity, ledger)
    router = Router(buffer, ledger, dedupe_ids=args.dedupe_ids)
    baseline, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    began = time.perf_counter()
    for i, event in enumerate(events, start=1):
        router.route(event)
        if i % args.take_every == 0:
            buffer.take()
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ledger.balanced
    figures = {
        "bench": "router_throughput",
        "events": args.events,
        "seconds": round(elapsed, 3),
        "events_per_second": round(args.events / elapsed),
        "peak_routing_state_kib": round((peak - baseline) / 1024, 1),
        "remembered_ids": len(router.recent_ids),
        "counts": ledger.to_dict(),
    }
    print(
        f"routed {args.events} events in {elapsed:.2f}s ({figures['events_per_second']}/s), "
        f"routing state peaked at {figures['peak_routing_state_kib']} KiB"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
