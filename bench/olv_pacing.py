"""How fast the OLV session moves from one turn to the next.

Runs the real session actor (under the real supervisor) against the fake OLV
server (tests/fakes/olv.py) on loopback for `--turns` turns, with the router's
buffer kept full (capacity 20), and reads the fake's own clock:

- gap: from the fake sending `conversation-chain-end` to the next turn's
  `conversation-chain-start`, which the fake sends the moment the next
  `text-input` arrives. That is the whole hand-over: our reader, the turn
  machine, the buffer's ranking and checkout, formatting, and two loopback
  hops. Goal: p99 under 5 ms.
- overhead: a turn's length as the fake saw it, minus what the fake itself
  spends (its scripted LLM delay, then the audio we wait out before
  answering `backend-synth-complete`).

    python bench/olv_pacing.py --turns 300
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.olv import FakeOlv, Script

from actors.chat import Author, ChatEvent, Kind, Platform
from actors.ledger import Ledger
from actors.router.actor import Router, RoutingSettings
from actors.router.filters import FilterSettings
from actors.session.olv import OlvSession, OlvSettings
from actors.session.prompt import format_turn
from supervision import AutoShutdown, ChildSpec, Restart, Supervisor, SupervisorSpec

EPOCH = datetime(2026, 11, 24, tzinfo=UTC)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(turns: int, script: Script) -> dict[str, object]:
    fake = FakeOlv(script)
    ledger = Ledger()
    router = Router(ledger, RoutingSettings(filters=FilterSettings(rate_per_minute=0, repeat_window=0), capacity=20))
    made = 0

    def route_one() -> None:
        nonlocal made
        event = ChatEvent(
            Platform.YOUTUBE,
            f"m{made}",
            Kind.CHAT,
            Author(f"a{made % 500}", f"viewer{made % 500}"),
            f"question number {made} for you?",
            None,
            EPOCH + timedelta(seconds=made),
            received_at=trio.current_time(),
        )
        made += 1
        router.route(event, trio.current_time())

    enough = trio.Event()

    def refill(events: object, fields: object) -> None:
        if len([t for t in fake.turns if t.outcome == "ended"]) >= turns:
            enough.set()
        if made < turns + 20:
            route_one()
        elif made == turns + 20:
            router.buffer.finish_input()

    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        olv = OlvSession(
            router.buffer,
            OlvSettings(url=fake.url()),
            format_turn=format_turn,
            emit=lambda *a, **k: None,
            on_turn_ended=refill,
        )
        supervisor = Supervisor(
            SupervisorSpec(
                id="root",
                children=[ChildSpec(id="session", target=olv.run, restart=Restart.TRANSIENT, significant=True)],
                auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
            )
        )
        for _ in range(20):
            route_one()
        began = trio.current_time()
        async with trio.open_nursery() as run:
            run.start_soon(supervisor.run)

            async def stop_after_enough() -> None:
                await enough.wait()
                supervisor.stop()

            run.start_soon(stop_after_enough)
        elapsed = trio.current_time() - began
        nursery.cancel_scope.cancel()

    done = [t for t in fake.turns if t.outcome == "ended"][:turns]
    gaps_ms = [(b.started_at - a.ended_at) * 1000 for a, b in itertools.pairwise(done) if a.ended_at]
    # The fake's LLM delay, then the audio, which plays while later sentences
    # are still being sent (each sentence delay is shorter than a sentence).
    scripted = script.llm_delay + len(script.sentences) * script.volumes * 0.020
    lengths = [t.ended_at - t.started_at for t in done if t.ended_at is not None]
    overhead_ms = [(length - scripted) * 1000 for length in lengths]
    return {
        "bench": "olv_pacing",
        "turns": len(done),
        "overlaps": fake.overlaps,
        "idle_interrupts": fake.idle_interrupts,
        "gap_ms_p50": round(statistics.median(gaps_ms), 3),
        "gap_ms_p99": round(percentile(gaps_ms, 0.99), 3),
        "gap_ms_max": round(max(gaps_ms), 3),
        "turn_s_mean": round(statistics.fmean(lengths), 4),
        "scripted_turn_s": round(scripted, 4),
        "overhead_ms_p50": round(statistics.median(overhead_ms), 3),
        "overhead_ms_p99": round(percentile(overhead_ms, 0.99), 3),
        "turns_per_second": round(len(done) / elapsed, 1),
        "goal_gap_p99_under_5ms": percentile(gaps_ms, 0.99) < 5.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--volumes", type=int, default=5, help="audio slices (20 ms) per sentence")
    args = parser.parse_args()
    script = Script(sentences=["[joy] Hello there!", "Nice to meet you."], volumes=args.volumes, llm_delay=0.005)
    figures = trio.run(measure, args.turns, script)
    print(
        f"chain-end -> next turn: p50 {figures['gap_ms_p50']} ms, p99 {figures['gap_ms_p99']} ms "
        f"(goal < 5 ms); per-turn overhead p50 {figures['overhead_ms_p50']} ms over a scripted "
        f"{figures['scripted_turn_s']} s turn; overlaps {figures['overlaps']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
