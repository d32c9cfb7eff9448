"""What a restart costs: a flapping child restarted many times, wall clock.

The child fails immediately after ctx.started(); backoff delays are virtual
(MockClock with autojump), so the figure is the supervisor's own work per
restart: the decision, the events, spawning the next incarnation.

    python bench/supervision_overhead.py --restarts 20000
"""

from __future__ import annotations

import argparse
import json
import time

import trio
import trio.testing

from supervision import Backoff, ChildContext, ChildSpec, Event, Supervisor, SupervisorSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20_000)
    args = parser.parse_args()
    events = 0
    restarts = 0
    enough = trio.Event()

    def count(event: Event) -> None:
        nonlocal events, restarts
        events += 1
        if event.name == "child.restart_scheduled":
            restarts += 1
            if restarts >= args.restarts:
                enough.set()

    async def flapping(ctx: ChildContext) -> None:
        ctx.started()
        raise RuntimeError("flap")

    async def steady(ctx: ChildContext) -> None:
        ctx.started()
        await ctx.stopping.wait()

    spec = SupervisorSpec(
        id="bench",
        children=[
            ChildSpec(id="steady", target=steady),
            ChildSpec(id="flapping", target=flapping, backoff=Backoff(min_delay=1, max_delay=1, jitter=0)),
        ],
        intensity=args.restarts * 2,
        period=1.0,
    )
    sup = Supervisor(spec, hooks=[count])

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await enough.wait()
            sup.stop()

    began = time.perf_counter()
    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    elapsed = time.perf_counter() - began
    figures = {
        "bench": "supervision_overhead",
        "restarts": args.restarts,
        "seconds": round(elapsed, 3),
        "microseconds_per_restart": round(elapsed / args.restarts * 1e6, 1),
        "events": events,
    }
    print(f"{args.restarts} restarts in {elapsed:.2f}s: {figures['microseconds_per_restart']} µs each")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
