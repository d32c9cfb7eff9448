"""How the Twitch monitor rides out a night of faults.

Runs the real Twitch monitor (EventSub WebSocket) under a supervisor against
the fake Twitch (tests/fakes/twitch.py) on loopback HTTP/WebSockets and
Trio's MockClock, so `--hours` of stream take seconds: steady chat (about
`--rate` messages a virtual second, English and Korean, some cheers, subs
and a little shared chat from a partner channel, which must be skipped),
and a fault every `--fault-every` minutes on average, drawn from:

- session_reconnect (Twitch moves the session: no message may be lost,
  duplicated or subscribed again);
- drop (the TCP connection gone without a close frame);
- close_4000 / close_4005 / close_4006 / close_1006 / close_4007;
- silent (no keepalive any more; chat is held back meanwhile, or its
  notifications would keep the socket looking alive);
- duplicate_same / duplicate_new (the last few notifications sent again,
  with the same or a new metadata id: twitchdev#918);
- subscribe_429 (the next subscription POST answers 429; the socket is
  dropped so that the monitor must subscribe again);
- token_expired (every access token is refused from now on; the socket is
  dropped so that the monitor must validate, hence refresh, again).

Each fault waits for its recovery before the next one is drawn. Recovery is
the virtual time from the fault to the monitor live again on a subscribed
session (after a session_reconnect: the hand-off done), and to the router's
first message injected after the fault.

Faults hit the monitor's own session (the one it reads), not every session
the fake still has open: a socket the monitor gave up on stays open unless
the monitor closes it.

The books: a message counts as sent when, at the instant it was injected,
the newest session (the monitor's: it reads the newest one it opened, a
hand-off's new one included) was subscribed to its type; the fake's socket
writes are watched too (what it actually put on a socket), as a cross-check.
Every message sent must reach the router exactly once. Messages injected
while no session was subscribed are counted apart (the real Twitch does not
replay them either), and so are those that only an older, abandoned session
was still subscribed to. Every few seconds the fake's live sessions are
compared with the monitor's: one still subscribed 35 s after the monitor
moved on (past the 30 s hand-off grace) was left open, and Twitch keeps
writing to it and counting it against the three-transport limit.

The default chat rate is 1 message a virtual second, so that 8 virtual
hours take about 25 s of real time on one core; `--rate 3` is livelier and
takes about a minute.

    python bench/twitch_faults.py                 # 8 virtual hours, seed 1
    python bench/twitch_faults.py --seed 7 --hours 2 --rate 3

The last line is one JSON object; the exit code is 0 when every goal holds
(nothing lost, nothing passed on twice, no shared chat let through, no
refresh token reused, no subscription POST after a session_reconnect,
nothing lost across one, every fault recovered within 15 virtual minutes,
no session left open), else 1.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.lowlevel
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.twitch import FakeTwitch, User
from wsproto.connection import ConnectionState as WsState
from wsproto.events import TextMessage

from actors.app import monitor_backoff
from actors.chat import ChatEvent
from actors.config import BackoffConfig
from actors.monitors.common.tokens import TokenPair
from actors.monitors.twitch.auth import TwitchAuth, TwitchAuthSettings
from actors.monitors.twitch.monitor import TwitchCursor, TwitchMonitor, TwitchSettings
from supervision import ChildSpec, Restart, Supervisor, SupervisorSpec

HOUR = 3600.0
FAULTS = (
    "session_reconnect",
    "drop",
    "close_4000",
    "close_4005",
    "close_4006",
    "close_1006",
    "close_4007",
    "silent",
    "duplicate_same",
    "duplicate_new",
    "subscribe_429",
    "token_expired",
)
DUPLICATES = ("duplicate_same", "duplicate_new")  # the session lives on: nothing to recover from
GIVE_UP_AFTER = 900.0  # virtual seconds without recovery: the fault counts as unrecovered
TAIL = 2.0  # seconds after a recovery still counted in the fault's window
AUDIT_EVERY = 5.0  # how often the fake's live sessions are compared with the monitor's
LEFT_OPEN_AFTER = 35.0  # a session not the monitor's, still subscribed this long after: left open (grace 30 s)

ENGLISH = (
    "Hi chat",
    "hello Mira!",
    "what game is this?",
    "lol that was close",
    "can you sing something?",
    "first time here, love the vibe",
    "GG",
    "how long have you been streaming?",
)
KOREAN = (
    "미라 안녕하세요!",
    "오늘 방송 재밌어요",
    "ㅋㅋㅋㅋㅋ",
    "노래 불러주세요",
    "이 게임 이름이 뭐예요?",
    "처음 왔어요 반가워요",
    "수고하셨습니다",
)
CHEERS = ("Cheer100 great stream", "Cheer500 잘 보고 있어요", "Cheer1 hi", "Cheer1000 for the song!")


def quiet(event: str, level: str = "info", **fields: object) -> None:
    pass


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


@attrs.define
class Night:
    """What one run saw."""

    sent: dict[str, float] = attrs.field(factory=dict)  # id -> trio time, injected with a subscribed session
    missed: int = 0  # injected while the monitor's session was not subscribed to it, and no other was
    to_abandoned: int = 0  # injected while only sessions the monitor had given up on were subscribed
    held_back: int = 0  # not injected while a socket was silent
    foreign: set[str] = attrs.field(factory=set)  # shared chat from the partner, sent: the monitor must skip it
    kinds: Counter[str] = attrs.field(factory=Counter)  # chat / korean / cheer / sub / shared
    on_socket: set[str] = attrs.field(factory=set)  # event ids the fake wrote on a socket
    notification_frames: int = 0  # notification frames the fake wrote on a socket
    received: list[str] = attrs.field(factory=list)  # event ids at the router, in order
    window: dict[str, str] = attrs.field(factory=dict)  # id -> the fault in progress when it was sent
    current: str | None = None  # the fault in progress
    paused: bool = False
    recent: deque[dict[str, Any]] = attrs.field(factory=lambda: deque(maxlen=3))  # for resends
    resent: int = 0  # duplicate frames the fake queued
    faults: Counter[str] = attrs.field(factory=Counter)
    live_s: dict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    message_s: dict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    unrecovered: list[tuple[str, float]] = attrs.field(factory=list)
    waiting: list[list[Any]] = attrs.field(factory=list)  # [kind, began] until a later message arrives
    log: Counter[str] = attrs.field(factory=Counter)
    transport_limit: int = 0  # retries after a 429 "number of websocket transports limit exceeded"
    restarts: int = 0
    open_since: dict[str, float] = attrs.field(factory=dict)  # session id -> first seen live but not the monitor's
    left_open: dict[str, float] = attrs.field(factory=dict)  # session id -> seconds it stayed so, past the grace


def watch_writes(fake: FakeTwitch, night: Night) -> None:
    """Record every notification the fake puts on a socket (its own counters
    count what it queued, not what it wrote). A wrapper, not a change: the
    fake has no public hook for this."""
    original = fake._ws_send

    async def sending(session: Any, event: Any) -> None:
        is_open = session.ws.state is WsState.OPEN
        await original(session, event)
        if is_open and isinstance(event, TextMessage) and '"message_type":"notification"' in event.data:
            night.notification_frames += 1
            # The event's own message_id: the first after "event" (the envelope's comes before).
            data = event.data
            at = data.find('"message_id":"', data.find('"event":'))
            if at >= 0:
                at += len('"message_id":"')
                night.on_socket.add(data[at : data.index('"', at)])

    fake._ws_send = sending  # type: ignore[method-assign]


def build(
    fake: FakeTwitch, folder: Path, cursor: TwitchCursor, send: trio.MemorySendChannel[ChatEvent], night: Night
) -> Supervisor:
    """The monitor, logged in with a granted pair, under its supervisor (the service's defaults)."""

    def emit(event: str, level: str = "info", **fields: object) -> None:
        night.log[event] += 1
        if event == "twitch.retry" and "transports limit" in str(fields.get("error", "")):
            night.transport_limit += 1

    auth = TwitchAuth(
        TwitchAuthSettings(client_id=fake.client_id, token_file=folder / "token.json", auth_base_url=fake.auth_url),
        emit=emit,
        wall=trio.current_time,
    )
    access, refresh = fake.grant()
    auth.store.save(TokenPair(access, refresh, expires_at=trio.current_time() + 4 * HOUR))
    settings = TwitchSettings(
        channel=fake.broadcaster.login, helix_base_url=fake.helix_url.rstrip("/"), eventsub_url=fake.ws_url
    )
    monitor = TwitchMonitor(settings, auth, send, cursor, emit=emit, wall=trio.current_time)
    spec = ChildSpec(
        id="twitch",
        target=monitor.run,
        restart=Restart.PERMANENT,
        backoff=monitor_backoff(BackoffConfig()),
        shutdown=3.0,
    )
    return Supervisor(SupervisorSpec(id="monitors", children=[spec], intensity=100, period=60.0))


def chatters(fake: FakeTwitch) -> tuple[list[User], list[User]]:
    english = [fake.viewer, *(fake.add_user(f"80{n:05d}", f"viewer{n}", f"Viewer{n}") for n in range(20))]
    korean = [fake.korean_viewer, *(fake.add_user(f"81{n:05d}", f"hangul{n}", f"시청자{n}") for n in range(20))]
    return english, korean


async def until(predicate: Callable[[], bool], within: float) -> bool:
    """Whether `predicate()` came true within `within` virtual seconds."""
    with trio.move_on_after(within):
        while not predicate():  # noqa: ASYNC110 -- polling is fine on virtual time
            await trio.sleep(0.05)
        return True
    return False


class Run:
    """One night: the fake, the monitor's cursor, the chat, the faults and the books."""

    def __init__(self, rate: float, fault_every: float, seed: int) -> None:
        self.seed = seed
        self.rate = rate
        self.fault_every = fault_every
        self.rng = random.Random(seed)  # the chat
        self.schedule = random.Random(seed + 1_000_003)  # the faults: the same draws whatever the chat did
        random.seed(seed)  # the retry rule's and the supervisor's jitter
        self.fake = FakeTwitch(ping_interval=None, wall_ns=lambda: int(trio.current_time() * 1e9))
        self.cursor = TwitchCursor()
        self.night = Night()
        watch_writes(self.fake, self.night)
        self.english, self.korean = chatters(self.fake)
        self.newest: str | None = None  # the newest session's id
        self.types_key: tuple[int, ...] | None = None
        self.types: frozenset[str] = frozenset()

    def live(self) -> bool:
        return self.cursor.live_since is not None and self.fake.subscribed("channel.chat.message")

    async def track_newest(self) -> None:
        """The newest session, noted as it opens (it may close before chat asks)."""
        fake, opened = self.fake, 0

        def more() -> bool:
            return fake.stats.sessions_opened != opened

        while True:
            await fake.wait_until(more)
            opened = fake.stats.sessions_opened
            sessions = fake.live_sessions()
            self.newest = max(sessions, key=lambda view: view.opened_at).id if sessions else None
            self.types_key = None

    def newest_types(self) -> frozenset[str]:
        """The types the newest session is subscribed to. The monitor reads the
        newest session it opened (a hand-off's new one included): an older one
        still open is one it gave up on. Recomputed only when the fake's
        sessions or subscriptions changed."""
        st = self.fake.stats
        key = (st.subscribe_accepted, st.sessions_opened, st.sessions_closed, st.reconnects_completed, st.revocations)
        if key != self.types_key:
            self.types_key = key
            self.types = frozenset(
                sub["type"]
                for sub in self.fake.subscriptions(enabled_only=True)
                if sub["transport"]["session_id"] == self.newest
            )
        return self.types

    def draw(self) -> tuple[str, str, User, str]:
        """What to say next: (kind, subscription type, who, text)."""
        rng, fake = self.rng, self.fake
        draw = rng.random()
        if draw < 0.03:
            who = rng.choice(self.korean if rng.random() < 0.5 else self.english)
            return "sub", "channel.chat.notification", who, rng.choice(("첫 구독!", "", "love this channel"))
        if draw < 0.08:
            return "cheer", "channel.chat.message", rng.choice(self.english), rng.choice(CHEERS)
        if draw < 0.09:
            return "shared", "channel.chat.message", fake.viewer, "from the partner's channel"
        if draw < 0.5:
            return "korean", "channel.chat.message", rng.choice(self.korean), rng.choice(KOREAN)
        return "english", "channel.chat.message", rng.choice(self.english), rng.choice(ENGLISH)

    def inject(self) -> None:
        fake, night = self.fake, self.night
        kind, sub_type, who, text = self.draw()
        to_monitor = sub_type in self.newest_types()
        subscribed = to_monitor or fake.subscribed(sub_type)
        if kind == "sub":
            event = fake.notification(self.rng.choice(("sub", "resub")), chatter=who, text=text)
        elif kind == "shared":
            event = fake.chat(text, chatter=who, source=fake.partner)
        else:
            event = fake.chat(text, chatter=who)
        night.kinds[kind] += 1
        if not to_monitor:
            if subscribed:
                night.to_abandoned += 1
            else:
                night.missed += 1
            return
        message_id = event["message_id"]
        if kind == "shared":
            night.foreign.add(message_id)
            return
        night.sent[message_id] = trio.current_time()
        if night.current is not None:
            night.window[message_id] = night.current
        night.recent.append(event)

    async def chat(self) -> None:
        while True:
            await trio.sleep(self.rng.expovariate(self.rate))
            if self.night.paused:
                self.night.held_back += 1
            else:
                self.inject()

    def fault(self, kind: str) -> None:
        # A fault hits the monitor's session, not every session the fake still has open.
        fake, night, session = self.fake, self.night, self.cursor.session_id
        if kind == "session_reconnect":
            fake.reconnect(session)
        elif kind == "drop":
            fake.drop(session)
        elif kind.startswith("close_"):
            fake.close(int(kind.removeprefix("close_")), session)
        elif kind == "silent":
            night.paused = True
            fake.set_keepalives(False, session)
        elif kind in DUPLICATES:
            for event in list(night.recent):
                night.resent += fake.resend(event, new_message_id=kind == "duplicate_new")
        elif kind == "subscribe_429":
            fake.fail_next("/helix/eventsub/subscriptions", 429, message="too many requests")
            fake.drop(session)
        elif kind == "token_expired":
            fake.expire_access_tokens()
            fake.drop(session)

    async def faults(self) -> None:
        cursor, night = self.cursor, self.night
        while True:
            await trio.sleep(self.schedule.expovariate(1 / (self.fault_every * 60)))
            if not self.live():  # the last fault is not over (an unrecovered one): wait for a live session
                await until(self.live, GIVE_UP_AFTER)
            kind = self.schedule.choice(FAULTS)
            connects, handoffs, began = cursor.connects, cursor.handoffs, trio.current_time()
            night.faults[kind] += 1
            night.current = kind
            self.fault(kind)
            if kind not in DUPLICATES:
                night.waiting.append([kind, began])
                if kind == "session_reconnect":
                    back = await until(partial(_above, lambda: cursor.handoffs, handoffs), GIVE_UP_AFTER)
                else:
                    back = await until(partial(self._live_after, connects), GIVE_UP_AFTER)
                night.paused = False
                if back:
                    night.live_s[kind].append(trio.current_time() - began)
                else:
                    night.unrecovered.append((kind, round(began, 1)))
            await trio.sleep(TAIL)
            night.current = None

    def _live_after(self, connects: int) -> bool:
        return self.cursor.connects > connects and self.live()

    async def audit(self) -> None:
        """Sessions the fake still delivers to that are not the monitor's: after a
        loss the monitor must close the socket it gave up on, or Twitch keeps the
        subscriptions enabled and writes everything twice (and the three-transport
        limit fills up). A hand-off's old socket gets the fake's grace."""
        night = self.night
        while True:
            await trio.sleep(AUDIT_EVERY)
            now = trio.current_time()
            others = {s.id for s in self.fake.live_sessions() if s.subscriptions and s.id != self.cursor.session_id}
            for key in others:
                began = night.open_since.setdefault(key, now)
                if now - began > LEFT_OPEN_AFTER:
                    night.left_open[key] = now - began
            for key in list(night.open_since):
                if key not in others:
                    del night.open_since[key]

    async def collect(self, receive: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        night = self.night
        async for event in receive:
            night.received.append(event.id)
            sent_at = night.sent.get(event.id)
            if sent_at is not None and night.waiting:
                now = trio.current_time()
                for kind, began in [w for w in night.waiting if sent_at >= w[1]]:
                    night.message_s[kind].append(now - began)
                night.waiting = [w for w in night.waiting if sent_at < w[1]]

    async def main(self, hours: float) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.fake.serve)
            send, receive = trio.open_memory_channel[ChatEvent](10_000)
            folder = Path(tempfile.mkdtemp(prefix="twitch-bench-"))
            supervisor = build(self.fake, folder, self.cursor, send, self.night)
            nursery.start_soon(self.collect, receive)
            nursery.start_soon(self.track_newest)
            await trio.lowlevel.checkpoint()  # it watches before the first session opens
            nursery.start_soon(supervisor.run)
            await until(self.live, 60)
            nursery.start_soon(self.chat)
            nursery.start_soon(self.faults)
            nursery.start_soon(self.audit)
            await trio.sleep(hours * HOUR)
            self.night.paused = True
            await trio.sleep(5)  # let the last frames land
            self.night.restarts = supervisor.snapshot().children[0].restarts
            supervisor.stop()
            nursery.cancel_scope.cancel()


def _above(value: Callable[[], int], floor: int) -> bool:
    return value() > floor


def measure(hours: float, rate: float, fault_every: float, seed: int) -> dict[str, Any]:
    run = Run(rate, fault_every, seed)
    started = time.perf_counter()
    trio.run(run.main, hours, clock=trio.testing.MockClock(autojump_threshold=0))
    elapsed = time.perf_counter() - started
    return summarise(run, hours, elapsed)


def summarise(run: Run, hours: float, elapsed: float) -> dict[str, Any]:
    night, cursor, fake = run.night, run.cursor, run.fake
    got = set(night.received)
    ours = [i for i in night.received if i in night.sent]
    lost_ids = [i for i in night.sent if i not in got]
    lost_by_fault = Counter(night.window.get(i, "none") for i in lost_ids)
    unwritten = [i for i in night.sent if i not in night.on_socket]
    figures: dict[str, Any] = {
        "seed": run.seed,
        "hours": hours,
        "rate_per_s": run.rate,
        "injected": sum(night.kinds.values()),
        "sent_on_live_socket": len(night.sent),
        "written_on_socket": len(night.on_socket & night.sent.keys()),
        "received": len(ours),
        "received_unique": len(set(ours)),
        "lost": len(lost_ids),
        "lost_by_fault": dict(sorted(lost_by_fault.items())),
        "not_written_by_fake": len(unwritten),
        "duplicates_passed_on": len(ours) - len(set(ours)),
        "foreign_passed_on": len(got & night.foreign),
        "unknown_received": len([i for i in night.received if i not in night.sent and i not in night.foreign]),
        "lost_across_reconnect": lost_by_fault.get("session_reconnect", 0),
        "sent_with_no_session": night.missed,
        "sent_only_to_abandoned_sessions": night.to_abandoned,
        "held_back_while_silent": night.held_back,
        "mix": dict(sorted(night.kinds.items())),
        "refresh_reuse": fake.stats.refresh_reuse,
        "posts_after_reconnect": fake.stats.posts_after_reconnect,
        "faults": {kind: night.faults[kind] for kind in FAULTS},
        "unrecovered": [list(u) for u in night.unrecovered],
        "recovery_live_s": {kind: spread(v) for kind, v in sorted(night.live_s.items())},
        "recovery_message_s": {kind: spread(v) for kind, v in sorted(night.message_s.items())},
        "resent_frames": night.resent,
        "notification_frames_written": night.notification_frames,
        "extra_copies_written": night.notification_frames - len(night.on_socket) - night.resent,
        "sessions_left_open": len(night.left_open),
        "left_open_s_max": round(max(night.left_open.values(), default=0.0), 1),
        "cursor": {
            "connects": cursor.connects,
            "handoffs": cursor.handoffs,
            "duplicates": cursor.duplicates,
            "skipped": cursor.skipped,
            "stale": cursor.stale,
            "emitted": cursor.emitted,
        },
        "fake": {
            "sessions_opened": fake.stats.sessions_opened,
            "reconnects_completed": fake.stats.reconnects_completed,
            "invalid_reconnects": fake.stats.invalid_reconnects,
            "subscribe_posts": fake.stats.subscribe_posts,
            "refreshes": fake.stats.refreshes,
            "validates": fake.stats.validates,
            "inbound_frames": fake.stats.inbound_frames,
        },
        "retries_on_transport_limit": night.transport_limit,
        "monitor_log": {
            name: night.log[name]
            for name in ("twitch.retry", "twitch.closed", "twitch.handoff_failed", "twitch.stale", "twitch.needs_login")
            if night.log[name]
        },
        "supervisor_restarts": night.restarts,
    }
    goals = {
        "lost": figures["lost"] == 0,
        "duplicates_passed_on": figures["duplicates_passed_on"] == 0,
        "foreign_passed_on": figures["foreign_passed_on"] == 0,
        "refresh_reuse": figures["refresh_reuse"] == 0,
        "posts_after_reconnect": figures["posts_after_reconnect"] == 0,
        "lost_across_reconnect": figures["lost_across_reconnect"] == 0,
        "unrecovered": not night.unrecovered,
        "sessions_left_open": not night.left_open,
    }
    figures["failed_goals"] = [name for name, held in goals.items() if not held]
    figures["ok"] = all(goals.values())
    figures["wall_seconds"] = round(elapsed, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=1.0, help="chat messages per virtual second, on average")
    parser.add_argument("--fault-every", type=float, default=3.0, help="mean virtual minutes between faults")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    f = measure(args.hours, args.rate, args.fault_every, args.seed)
    print(
        f"{f['received_unique']}/{f['sent_on_live_socket']} messages sent on a live socket reached the router "
        f"({f['lost']} lost, {f['duplicates_passed_on']} twice, {f['foreign_passed_on']} shared chat let through); "
        f"{f['sent_with_no_session']} sent while no session was subscribed, "
        f"{f['held_back_while_silent']} held back while silent"
    )
    print(
        f"refresh tokens reused {f['refresh_reuse']}, subscription POSTs after a reconnect "
        f"{f['posts_after_reconnect']}, lost across a session_reconnect {f['lost_across_reconnect']}, "
        f"unrecovered faults {len(f['unrecovered'])}, supervisor restarts {f['supervisor_restarts']}"
    )
    print(
        f"sessions left open and subscribed after the monitor moved on: {f['sessions_left_open']} "
        f"(longest {f['left_open_s_max']} s); {f['extra_copies_written']} extra notification copies written; "
        f"{f['sent_only_to_abandoned_sessions']} messages sent only to such sessions; "
        f"{f['retries_on_transport_limit']} retries refused by the three-transport limit"
    )
    c = f["cursor"]
    print(
        f"cursor: {c['connects']} connects, {c['handoffs']} hand-offs, {c['duplicates']} duplicates dropped "
        f"({f['resent_frames']} resent), {c['skipped']} skipped, {c['stale']} stale"
    )
    for kind in FAULTS:
        live, message = f["recovery_live_s"].get(kind), f["recovery_message_s"].get(kind)
        line = f"  {kind:18} x{f['faults'][kind]:<3}"
        if live:
            line += f" live again in median {live['median']} s, max {live['max']} s"
        if message:
            line += f"; next message in median {message['median']} s, max {message['max']} s"
        print(line)
    verdict = "every goal holds" if f["ok"] else "FAILED: " + ", ".join(f["failed_goals"])
    print(f"{verdict} ({f['wall_seconds']} s of real time)")
    print(json.dumps(f, ensure_ascii=False))
    sys.exit(0 if f["ok"] else 1)


if __name__ == "__main__":
    main()
