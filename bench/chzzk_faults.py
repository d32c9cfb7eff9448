"""How the Chzzk monitor rides out a night of faults.

Runs the real Chzzk monitor under a supervisor against the fake Chzzk
(tests/fakes/chzzk.py) on loopback HTTP/WebSockets and Trio's MockClock, with
the real server's ping timing (25 s / 60 s): `--hours` of chat, a message
every `--mean-gap` seconds on average, and a fault every `--fault-every`
minutes on average, drawn from: the socket dropped (FIN or RST, no close
packet), the socket gone silent, an Engine.IO close, a revoked subscription,
an expired access token, 5xx on the session URL, 429 on a subscribe.

For each fault it measures the virtual time until the monitor is live again,
and it checks the books: every message the fake delivered to a subscribed
session reached the router's channel exactly once. Messages sent while no
session was subscribed are counted apart: the real Chzzk does not replay
them either.

    python bench/chzzk_faults.py --hours 4
    python bench/chzzk_faults.py --hours 1 --drop-every 15   # the socket dropped every 15 s

With `--drop-every`, the random faults give way to a plain schedule: the
socket is dropped (FIN, no close packet) that many seconds after each
reconnect, and the share of chat lost while no session was up is printed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.chzzk import FakeChzzk

from actors.app import monitor_backoff
from actors.chat import ChatEvent
from actors.config import BackoffConfig
from actors.monitors.chzzk.auth import ChzzkAuth, ChzzkAuthSettings
from actors.monitors.chzzk.monitor import ChzzkCursor, ChzzkMonitor, ChzzkSettings
from actors.monitors.common.tokens import TokenPair, TokenStore
from supervision import ChildSpec, Restart, Supervisor, SupervisorSpec

EPOCH = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
FAULTS = ("drop_fin", "drop_rst", "silence", "engine_close", "revoke", "token_expired", "session_5xx", "subscribe_429")


def wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build(fake: FakeChzzk, folder: Path, cursor: ChzzkCursor, send: trio.MemorySendChannel[ChatEvent]) -> Supervisor:
    """The monitor, authorised with a granted pair, under its supervisor."""
    access, refresh = fake.grant()
    token_file = folder / "token.json"
    TokenStore(token_file).save(TokenPair(access, refresh, expires_at=wall().timestamp() + 86400))
    auth = ChzzkAuth(
        ChzzkAuthSettings(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            token_file=token_file,
            redirect_uri="http://localhost:12394/chzzk/callback",
            authorize_page="http://localhost:12394/chzzk/auth",
            api_base_url=fake.base_url,
            auth_url=fake.auth_url,
        ),
        emit=quiet,
        wall=lambda: wall().timestamp(),
    )
    # The defaults: the common retry rule, 10 retries at most 60 s apart.
    monitor = ChzzkMonitor(ChzzkSettings(api_base_url=fake.base_url), auth, send, cursor, emit=quiet, wall_clock=wall)
    backoff = monitor_backoff(BackoffConfig())
    spec = ChildSpec(id="chzzk", target=monitor.run, restart=Restart.PERMANENT, backoff=backoff)
    return Supervisor(SupervisorSpec(id="monitors", children=[spec], intensity=100, period=60.0))


def quiet(event: str, level: str = "info", **fields: object) -> None:
    pass


def inject(fake: FakeChzzk, kind: str) -> None:
    if kind in ("drop_fin", "drop_rst"):
        fake.drop_sockets(rst=kind == "drop_rst")
    elif kind == "silence":
        fake.answer_pings = False
    elif kind == "engine_close":
        fake.engine_close()
    elif kind == "revoke":
        fake.revoke("CHAT")
    elif kind == "token_expired":
        fake.expire_access_tokens()
        fake.drop_sockets()
    elif kind == "session_5xx":
        fake.fail_next("/open/v1/sessions/auth", 503, times=3)
        fake.drop_sockets()
    elif kind == "subscribe_429":
        fake.fail_next("/open/v1/sessions/events/subscribe", 429, retry_after=2)
        fake.drop_sockets()


@attrs.define
class Night:
    """What one run saw."""

    received: list[ChatEvent] = attrs.field(factory=list)
    delivered: list[str] = attrs.field(factory=list)  # texts the fake sent to a subscribed session
    missed: int = 0  # texts sent while no session was subscribed
    recoveries: dict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    restarts: int = 0


def measure(hours: float, mean_gap: float, fault_every: float, seed: int, drop_every: float = 0.0) -> dict[str, object]:
    rng = random.Random(seed)
    fake = FakeChzzk(ping_interval=25.0, ping_timeout=60.0, wall_ms=lambda: int(wall().timestamp() * 1000))
    cursor = ChzzkCursor()
    night = Night()

    async def live_again(before: int) -> None:
        while not (cursor.connects > before and cursor.live_since is not None):  # noqa: ASYNC110
            await trio.sleep(0.1)

    async def chat() -> None:
        n = 0
        while True:
            await trio.sleep(rng.expovariate(1 / mean_gap))
            n += 1
            if any("CHAT" in s.subscribed for s in fake.live_sessions()):
                night.delivered.append(f"message {n}")
            else:
                night.missed += 1
            fake.chat(f"message {n}", sender=f"viewer{rng.randrange(200):04d}")

    async def faults() -> None:
        while True:
            if drop_every > 0:
                await trio.sleep(drop_every)
                kind = "drop_fin"
            else:
                await trio.sleep(rng.expovariate(1 / (fault_every * 60)))
                kind = rng.choice(FAULTS)
            before, began = cursor.connects, trio.current_time()
            inject(fake, kind)
            await live_again(before)
            fake.answer_pings = True
            night.recoveries[kind].append(trio.current_time() - began)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            send, receive = trio.open_memory_channel[ChatEvent](10_000)
            supervisor = build(fake, Path(tempfile.mkdtemp(prefix="chzzk-bench-")), cursor, send)

            async def collect() -> None:
                async for event in receive:
                    night.received.append(event)

            nursery.start_soon(collect)
            nursery.start_soon(supervisor.run)
            await live_again(0)
            nursery.start_soon(chat)
            nursery.start_soon(faults)
            await trio.sleep(hours * 3600)
            await trio.sleep(5)  # let the last frames land
            night.restarts = supervisor.snapshot().children[0].restarts
            supervisor.stop()
            nursery.cancel_scope.cancel()

    started = time.perf_counter()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return summarise(hours, night, cursor, fake, time.perf_counter() - started)


def summarise(hours: float, night: Night, cursor: ChzzkCursor, fake: FakeChzzk, elapsed: float) -> dict[str, object]:
    texts = [e.text for e in night.received]
    got = set(texts)
    recoveries = night.recoveries
    every = [s for values in recoveries.values() for s in values]
    return {
        "hours": hours,
        "sent": len(night.delivered) + night.missed,
        "delivered_by_fake": len(night.delivered),
        "received": len(night.received),
        "lost": sum(1 for t in night.delivered if t not in got),
        "duplicates": len(texts) - len(got),
        "sent_with_no_session": night.missed,
        "lost_with_no_session_pct": round(100 * night.missed / max(1, len(night.delivered) + night.missed), 1),
        "faults": {kind: len(v) for kind, v in sorted(recoveries.items())},
        "recovery_s": {
            kind: {"median": round(statistics.median(v), 2), "max": round(max(v), 2)}
            for kind, v in sorted(recoveries.items())
        },
        "recovery_s_p50_all": round(statistics.median(every), 2) if every else None,
        "connects": cursor.connects,
        "supervisor_restarts": night.restarts,
        "refreshes": fake.stats.refreshes,
        "refresh_reuse": fake.stats.refresh_reuse,
        "wall_seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--mean-gap", type=float, default=1.0, help="mean seconds between messages")
    parser.add_argument("--fault-every", type=float, default=10.0, help="mean minutes between faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--drop-every", type=float, default=0.0, help="drop the socket this many seconds after each reconnect"
    )
    args = parser.parse_args()
    f = measure(args.hours, args.mean_gap, args.fault_every, args.seed, args.drop_every)
    print(
        f"{f['received']}/{f['delivered_by_fake']} delivered messages reached the router "
        f"({f['lost']} lost, {f['duplicates']} twice); {f['sent_with_no_session']} sent while no session was up "
        f"({f['lost_with_no_session_pct']}%); "
        f"{sum(f['faults'].values())} faults, back live in a median {f['recovery_s_p50_all']} s; "  # type: ignore[union-attr]
        f"{f['supervisor_restarts']} supervisor restarts; {f['refreshes']} refreshes, {f['refresh_reuse']} reused"
    )
    for kind, figures in f["recovery_s"].items():  # type: ignore[union-attr]
        print(f"  {kind:14} x{f['faults'][kind]:<3} back live in median {figures['median']} s, max {figures['max']} s")  # type: ignore[index]
    print(json.dumps(f, ensure_ascii=False))


if __name__ == "__main__":
    main()
