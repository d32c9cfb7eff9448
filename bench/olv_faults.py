"""The OLV session under the faults of issue 12, against the fake OLV.

Runs the real session actor under a supervisor with the app's session spec
(Backoff(1 s, 30 s), shutdown = turn_grace) on loopback, on the autojump
MockClock (so seconds below are the service's clock, and a run takes a few
real seconds):

1. proxy: /proxy-ws with a browser frontend playing every turn and a second
   client typing every `--type-every` s. The fake echoes each input in its
   reply, so a reply credited to the wrong message shows. Counts: replies
   credited to the wrong message, messages of ours spoken twice, and of the
   dispatched messages, how many had their turn by the time the session
   said "all spoken".
2. restart: /client-ws, OLV restarts (down `--down` s) every `--every` s,
   `--restarts` times. Seconds from OLV listening again to the session's
   new connection (median, max), and seconds disconnected in all.

`--code DIR` runs the same bench against another checkout's actors and
supervision (e.g. `git worktree add /tmp/olv-before d7532b4`), with this
tree's fake.

    python bench/olv_faults.py [--code /tmp/olv-before]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--code", default=str(HERE), help="checkout whose actors/ and supervision/ to run")
    parser.add_argument("--messages", type=int, default=21)
    parser.add_argument("--type-every", type=float, default=4.0)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--every", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.path[:0] = [str(Path(args.code).resolve()), str(HERE / "tests")]
    import random

    import trio
    import trio.testing

    random.seed(args.seed)
    proxy = trio.run(proxy_run, args, clock=trio.testing.MockClock(autojump_threshold=0))
    restart = trio.run(restart_run, args, clock=trio.testing.MockClock(autojump_threshold=0))
    figures: dict[str, Any] = {"bench": "olv_faults", "code": args.code, **proxy, **restart}
    print(
        f"proxy-ws, frontend + a client typing every {args.type_every:g} s, {args.messages} messages: "
        f"{figures['wrong_credit']} replies credited to the wrong message, "
        f"{figures['spoken_twice']} spoken twice, "
        f"{figures['had_turn_at_all_spoken']}/{figures['dispatched']} dispatched had their turn at 'all spoken'"
    )
    print(
        f"OLV restart ({args.restarts} x {args.down:g} s down): back {figures['back_s_median']} s median, "
        f"{figures['back_s_max']} s max after OLV; disconnected {figures['disconnected_s']} s "
        f"of {figures['restart_run_s']} s; supervisor restarts {figures['supervisor_restarts']}"
    )
    print(json.dumps(figures))


def events(n: int, prefix: str) -> list[Any]:
    from actors.chat import Author, ChatEvent, Kind, Platform

    epoch = datetime(2026, 11, 24, tzinfo=UTC)
    return [
        ChatEvent(
            Platform.YOUTUBE,
            f"{prefix}{i}",
            Kind.CHAT,
            Author(f"a{i}", f"viewer{i}"),
            f"question {i}?",
            None,
            epoch + timedelta(seconds=i),
            received_at=float(i),
        )
        for i in range(n)
    ]


def session_parts(url: str, mode: str, on_turn_ended: Any) -> tuple[Any, Any, Any]:
    from actors.ledger import Ledger
    from actors.router.actor import Router, RoutingSettings
    from actors.router.filters import FilterSettings
    from actors.session.olv import OlvSession, OlvSettings
    from actors.session.olv_protocol import Mode
    from actors.session.prompt import format_turn
    from supervision import AutoShutdown, Backoff, ChildSpec, Restart, Supervisor, SupervisorSpec

    ledger = Ledger()
    filters = FilterSettings(rate_per_minute=0, repeat_window=0, flood_authors=0, min_length=0, bots=())
    router = Router(ledger, RoutingSettings(filters=filters, capacity=100))
    session = OlvSession(
        router.buffer,
        OlvSettings(url=url, mode=Mode(mode)),  # the defaults a streamer gets
        format_turn=format_turn,
        emit=lambda *a, **k: None,
        on_turn_ended=on_turn_ended,
    )
    spec = ChildSpec(  # as actors/app.py builds it
        id="session",
        target=session.run,
        restart=Restart.TRANSIENT,
        significant=True,
        backoff=Backoff(min_delay=1.0, max_delay=30.0),
        shutdown=10.0,
    )
    root = SupervisorSpec(
        id="root", children=[spec], intensity=1000, period=10.0, auto_shutdown=AutoShutdown.ANY_SIGNIFICANT
    )
    return ledger, router, Supervisor(root)


async def proxy_run(args: argparse.Namespace) -> dict[str, Any]:
    import trio
    from fakes.olv import ClientLog, FakeOlv, Script, fake_frontend, proxy_typer

    from actors.ledger import Fate
    from actors.session.prompt import format_turn

    fake = FakeOlv(Script(echo=True, volumes=40, llm_delay=0.5), enable_proxy=True)  # 0.8 s per sentence
    credited: list[tuple[str, str]] = []  # (our text, reply reported for it)
    dispatched: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        ledger, router, supervisor = session_parts(
            fake.url("/proxy-ws"),
            "proxy-ws",
            lambda evs, fields: credited.append((format_turn(list(evs)), fields.get("reply") or "")),
        )
        ledger.listeners.append(
            lambda e, fate, reason, detail: fate is Fate.DISPATCHED and dispatched.append(format_turn([e]))
        )
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        await nursery.start(proxy_typer, fake.url("/proxy-ws"), args.type_every, ClientLog())
        for event in events(args.messages, "m"):
            router.route(event, trio.current_time())
        router.buffer.finish_input()
        await supervisor.run()
        all_spoken_at = trio.current_time()
        nursery.cancel_scope.cancel()
    ours = {format_turn([e]) for e in events(args.messages, "m")}
    spoken = Counter(t.text for t in fake.turns if t.text in ours)
    had_turn = {t.text for t in fake.turns if t.text in ours and t.started_at <= all_spoken_at}
    wrong = sum(1 for text, reply in credited if reply and not reply.startswith(f"You said: {text}"))
    return {
        "messages": args.messages,
        "typed_by_other_client": sum(1 for t in fake.turns if t.text and t.text.startswith("typed")),
        "dispatched": len(dispatched),
        "replies_reported": len(credited),
        "wrong_credit": wrong,
        "spoken_twice": sum(1 for n in spoken.values() if n > 1),
        "had_turn_at_all_spoken": sum(1 for text in dispatched if text in had_turn),
        "proxy_run_s": round(all_spoken_at, 1),
    }


async def restart_run(args: argparse.Namespace) -> dict[str, Any]:
    import trio
    from fakes.olv import FakeOlv, Script

    fake = FakeOlv(Script(volumes=50, llm_delay=0.5))  # 2 s of speech per turn
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        _, router, supervisor = session_parts(fake.url(), "client-ws", None)
        for event in events(400, "r"):
            router.route(event, trio.current_time())
        began = trio.current_time()
        nursery.start_soon(supervisor.run)

        for _ in range(args.restarts):
            await trio.sleep(args.every - args.down)
            fake.restart(args.down)
            await trio.sleep(args.down)
        await trio.sleep(args.every)
        ended = trio.current_time()
        restarts = supervisor.snapshot().children[0].restarts
        nursery.cancel_scope.cancel()
    backs, gone = [], 0.0
    for down, up in zip(fake.down_at, fake.up_at[1:], strict=False):
        back = min((t for t, _ in fake.accepted if t >= up), default=ended)
        backs.append(back - up)
        gone += back - down
    return {
        "back_s_median": round(statistics.median(backs), 2),
        "back_s_max": round(max(backs), 2),
        "back_s_each": [round(b, 2) for b in backs],
        "disconnected_s": round(gone, 1),
        "restart_run_s": round(ended - began, 1),
        "turns_in_restart_run": sum(1 for t in fake.turns if t.outcome == "ended"),
        "supervisor_restarts": restarts,
    }


if __name__ == "__main__":
    main()
