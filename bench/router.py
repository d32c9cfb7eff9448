"""The router's cost per event against the floor: a bare Trio channel hop.

Pushes a million synthetic mixed events (English and Korean chat, questions,
mentions, Super Chats and donations, bots, commands, links, floods, resends)
through the real routing path, sanitise + filters + ranking + buffer, with
the session taking one turn every `--turn-every` events; and, interleaved
with it, times the same number of bare hops through a Trio memory channel
between two tasks, which is the least any actor-to-actor step costs. Events
are made a chunk at a time, so peak RSS is the router's own (bounded) state,
not the input.

    python bench/router.py --events 1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import trio

from actors.chat import Amount, Author, ChatEvent, Kind, Platform, Role
from actors.ledger import Ledger
from actors.router.actor import Router, RoutingSettings

TEXTS = [
    "hello Mira!",
    "미라 안녕하세요~",
    "what game is this?",
    "미라는 비 오는 거 좋아해?",
    "ㅋㅋㅋㅋㅋㅋ",
    "KEKW",
    "lol that was close",
    "!uptime",
    "free robux at http://free-robux.example/x",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "😂😂😂",
    "오늘 방송 몇 시까지 해요?",
    "this song is so good, what is it called? 🎵",
    "배경음악 뭐에요?",
]


def synthetic(n: int, seed: int) -> Iterator[ChatEvent]:
    rng = random.Random(seed)
    authors = [
        Author(
            f"UC{i:06d}",
            "Nightbot" if i == 7 else f"viewer{i}",
            frozenset({Role.MEMBER}) if i % 9 == 0 else frozenset(),
        )
        for i in range(20_000)
    ]
    start = datetime(2026, 11, 24, tzinfo=UTC)
    recent: list[ChatEvent] = []
    for i in range(n):
        at = i * 0.01  # 100 events/s of platform time
        roll = rng.random()
        if roll < 0.03 and recent:
            yield rng.choice(recent)  # a resend after a reconnect
            continue
        kind, amount = Kind.CHAT, None
        if roll > 0.995:
            kind, amount = Kind.DONATION, Amount(Decimal(rng.choice(["1000", "5000", "10000"])), "KRW", "₩")
        elif roll > 0.99:
            kind, amount = Kind.DONATION, Amount(Decimal("5.00"), "USD", "$5.00")
        event = ChatEvent(
            Platform.YOUTUBE if i % 2 else Platform.CHZZK,
            f"m{i}",
            kind,
            rng.choice(authors),
            rng.choice(TEXTS) if rng.random() < 0.7 else f"message number {i} for Mira",
            amount,
            start + timedelta(seconds=at),
            received_at=at,
        )
        recent = [*recent[-99:], event]
        yield event


def measure(n: int, seed: int, turn_every: int, chunk: int) -> tuple[float, float, Router]:
    """Seconds spent routing n events, and sending n bare hops, interleaved.

    Both run in the same Trio run, a chunk of each in turn: this VM's speed
    drifts by tens of percent over a minute, and interleaving makes a slow
    spell hit both sides of the ratio alike. Each chunk of events is made
    before its clock starts, so only routing is timed, and small chunks
    keep the input out of the peak RSS.
    """
    router = Router(Ledger(), RoutingSettings(names=("Mira", "미라"), capacity=20, max_age=60.0, paid_max_age=600.0))
    spent = {"routing": 0.0, "hops": 0.0}

    async def main() -> None:
        send, receive = trio.open_memory_channel[int](256)

        async def consume() -> None:
            async for _ in receive:
                pass

        events = synthetic(n, seed)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            async with send:
                done = 0
                while done < n:
                    batch = list(itertools.islice(events, min(chunk, n - done)))
                    began = time.perf_counter()
                    for i, event in enumerate(batch, start=done + 1):
                        router.route(event, event.received_at)
                        if i % turn_every == 0:
                            router.buffer.take(event.received_at)
                    spent["routing"] += time.perf_counter() - began
                    began = time.perf_counter()
                    for i in range(len(batch)):
                        await send.send(i)
                    spent["hops"] += time.perf_counter() - began
                    done += len(batch)

    trio.run(main)
    return spent["routing"], spent["hops"], router


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--turn-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=10_000, help="events routed (then hops sent) in one go")
    args = parser.parse_args()
    n = args.events

    routing, hops, router = measure(n, args.seed, args.turn_every, args.chunk)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ledger = router.ledger
    router.buffer.close()
    assert ledger.balanced
    figures = {
        "bench": "router",
        "events": n,
        "router_ns_per_event": round(routing / n * 1e9),
        "router_events_per_second": round(n / routing),
        "bare_hop_ns": round(hops / n * 1e9),
        "ratio_router_to_hop": round(routing / hops, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "remembered_state_entries": router.filters.state_size(),
        "counts": ledger.to_dict(),
    }
    print(
        f"router: {figures['router_ns_per_event']} ns/event ({figures['router_events_per_second']}/s); "
        f"bare channel hop: {figures['bare_hop_ns']} ns; ratio {figures['ratio_router_to_hop']}x (goal <= 3x); "
        f"peak RSS {figures['peak_rss_mb']} MB (goal < 100 MB)"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
