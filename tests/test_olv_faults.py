"""The OLV session against the fake OLV's faults of issue 12, on loopback
sockets and the autojump MockClock: OLV restarting or crashing mid-answer,
a second client typing into the proxy while a browser frontend plays, a
proxy that holds our message, and a stop that outlasts the grace.

Throughout: never two turns at once, never an interrupt to an idle OLV,
never a message spoken twice, and the books balance.
"""

from __future__ import annotations

import functools
from collections import Counter
from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing
from fakes.olv import ClientLog, FakeOlv, Fault, Script, fake_frontend, proxy_typer
from test_olv_session import OPEN_ROUTER, QUICK, chats, supervised

from actors.chat import Amount, Kind
from actors.ledger import Ledger
from actors.monitors.common.retry import RetryRule
from actors.router.actor import Router
from actors.session.olv import OlvSession, OlvSettings
from actors.session.olv_protocol import Mode, Timing
from actors.session.prompt import format_turn
from supervision import AutoShutdown, ChildSpec, Restart, Supervisor, SupervisorSpec

TIMING = Timing(start_timeout=2.0, llm_budget=20.0, turn_margin=2.0, resend_every=1.0, watchdog_margin=3.0)
ECHO = attrs.evolve(QUICK, echo=True, volumes=25, llm_delay=0.3)  # half a second per sentence


@attrs.define
class Harness:
    fake: FakeOlv
    ledger: Ledger
    router: Router
    log: list[tuple[str, str, dict]] = attrs.field(factory=list)
    ended: list[tuple[list[str], dict]] = attrs.field(factory=list)

    hooks: dict = attrs.field(factory=dict)  # event name -> called at once, before anything else runs
    waiters: dict = attrs.field(factory=dict)  # event name -> trio.Event

    def emit(self, event: str, level: str = "info", **fields) -> None:
        self.log.append((event, level, fields))
        if event in self.hooks:
            self.hooks[event]()
        if event in self.waiters:
            self.waiters[event].set()

    async def until(self, name: str) -> None:
        """Until the session has emitted `name` (at least once)."""
        if not self.events(name):
            await self.waiters.setdefault(name, trio.Event()).wait()

    def events(self, name: str) -> list[dict]:
        return [fields for event, _, fields in self.log if event == name]

    def session(self, mode: Mode = Mode.CLIENT_WS, **settings) -> OlvSession:
        path = "/proxy-ws" if mode is Mode.PROXY_WS else "/client-ws"
        settings = {"timing": TIMING, "heartbeat_every": 5.0, "silence_timeout": 30.0} | settings
        return OlvSession(
            self.router.buffer,
            OlvSettings(url=self.fake.url(path), mode=mode, **settings),
            format_turn=format_turn,
            emit=self.emit,
            on_turn_ended=lambda evs, fields: self.ended.append(([e.id for e in evs], fields)),
        )


def harness(fake: FakeOlv) -> Harness:
    ledger = Ledger()
    return Harness(fake, ledger, Router(ledger, OPEN_ROUTER))


def paid(event, kind=Kind.DONATION):
    return attrs.evolve(event, kind=kind, amount=Amount(Decimal(5), "USD", "$5.00"))


async def test_after_olv_restarts_the_session_is_back_within_seconds(autojump_clock):
    """A: OLV goes away for 5 s mid-stream. The session reconnects by the
    common rule (about 1, 2, 4 s after the drop), not by the supervisor's
    restart backoff, and is live again about a second after OLV is."""
    fake = FakeOlv(QUICK)
    h = harness(fake)
    for event in chats(30):
        h.router.route(event, trio.current_time())
    h.router.buffer.finish_input()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        supervisor = supervised(h.session())

        async def restart_twice() -> None:
            for _ in range(2):
                await trio.sleep(2.0)
                fake.restart(5.0)
                await trio.sleep(5.0)

        nursery.start_soon(restart_twice)
        with trio.fail_after(120):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    assert supervisor.snapshot().children[0].restarts == 0
    assert len(fake.up_at) == 3
    for up in fake.up_at[1:]:
        back = min(t for t, _ in fake.accepted if t >= up)
        assert back - up < 3.0
    assert fake.overlaps == 0 and h.ledger.dispatched == 30
    h.router.buffer.close()
    assert h.ledger.balanced


async def test_the_budget_is_per_outage_and_then_the_supervisor_takes_over(autojump_clock):
    """Past max_retries failed retries the actor gives up (RetriesExhausted)
    and its supervisor's backoff restarts it."""
    fake = FakeOlv(QUICK)
    h = harness(fake)
    h.router.route(chats(1)[0], 0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        fake.restart(40.0)
        session = h.session(retry=RetryRule(max_retries=2, retry_interval=2.0))
        supervisor = supervised(session)
        h.router.buffer.finish_input()
        with trio.fail_after(120):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    assert supervisor.snapshot().children[0].restarts >= 1
    assert len(h.events("session.retry")) >= 4  # 2 per incarnation
    assert h.ledger.dispatched == 1


async def test_through_the_proxy_other_clients_turns_are_never_taken_for_ours(autojump_clock):
    """B: a browser frontend plays every turn and a second client types every
    4 s. Each archived reply answers its own message (the fake echoes the
    input), nothing is spoken twice, and when the session says all is
    spoken, every message of ours has had its turn."""
    fake = FakeOlv(ECHO, enable_proxy=True)
    h = harness(fake)
    events = chats(10)
    for event in events:
        h.router.route(event, trio.current_time())
    h.router.buffer.finish_input()
    typer = ClientLog()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        await nursery.start(proxy_typer, fake.url("/proxy-ws"), 4.0, typer)
        supervisor = supervised(h.session(Mode.PROXY_WS))
        with trio.fail_after(300):
            await supervisor.run()
        done_at = trio.current_time()
        nursery.cancel_scope.cancel()
    assert typer.sent  # the other client did type, and its turns ran in between
    assert any(t.text and t.text.startswith("typed") and t.outcome == "ended" for t in fake.turns)
    ours = {format_turn([e]): e.id for e in events}
    spoken = Counter(t.text for t in fake.turns if t.text in ours)
    assert set(spoken) == set(ours) and set(spoken.values()) == {1}  # each once
    assert all(t.started_at <= done_at for t in fake.turns if t.text in ours)
    assert len(h.ended) == 10
    for ids, fields in h.ended:
        assert fields["reply"].startswith(f"You said: {format_turn([events[int(ids[0][1:])]])}")
    assert fake.overlaps == 0 and fake.proxy_idle_interrupts == 0
    assert h.ledger.dispatched == 10


async def test_a_message_queued_behind_long_foreign_turns_is_not_sent_again(autojump_clock):
    """B: foreign turns keep the proxy busy far longer than start_timeout;
    our message waits in the proxy's queue and is spoken once."""
    slow = attrs.evolve(ECHO, volumes=200)  # 4 s per sentence: longer than start_timeout
    fake = FakeOlv(slow, enable_proxy=True)
    h = harness(fake)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        supervisor = supervised(h.session(Mode.PROXY_WS))
        nursery.start_soon(supervisor.run)
        await trio.sleep(0.5)
        # Three typed lines are queued first; ours comes while the first is spoken.
        await nursery.start(functools.partial(proxy_typer, fake.url("/proxy-ws"), 0.01, ClientLog(), count=3))
        await trio.sleep(0.5)
        h.router.route(chats(1)[0], trio.current_time())
        h.router.buffer.finish_input()
        with trio.fail_after(300):
            await h.until("session.turn_ended")
        nursery.cancel_scope.cancel()
    texts = [t.text for t in fake.turns]
    assert texts[:3] == [f"typed line {i}" for i in range(3)]
    assert texts.count(format_turn(chats(1))) == 1
    assert not h.events("session.turn_lost") and not h.events("session.turn_orphaned")
    assert h.ended[0][1]["reply"].startswith("You said: " + format_turn(chats(1)))


async def test_a_message_the_proxy_holds_is_never_sent_twice_and_is_credited_when_it_starts(autojump_clock):
    """B: the proxy sits on our message while looking idle. We do not send it
    again: we reconnect, and when it starts after all, its transcription
    (which now reaches our new connection) tells us it is ours."""
    fake = FakeOlv(ECHO, enable_proxy=True)
    h = harness(fake)
    events = chats(2)
    for event in events:
        h.router.route(event, trio.current_time())
    h.router.buffer.finish_input()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        fake.proxy_paused = True

        async def unpause() -> None:
            await h.until("session.turn_orphaned")
            await trio.sleep(1.0)
            fake.proxy_paused = False

        nursery.start_soon(unpause)
        supervisor = supervised(h.session(Mode.PROXY_WS))
        with trio.fail_after(300):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    texts = Counter(t.text for t in fake.turns)
    assert texts == Counter(format_turn([e]) for e in events)  # each spoken once
    assert h.events("session.turn_orphaned")
    assert [f for f in h.events("session.turn_started") if f.get("late")]
    assert sorted(ids[0] for ids, _ in h.ended) == ["m0", "m1"]
    for ids, fields in h.ended:
        assert fields["reply"].startswith("You said: " + format_turn([events[int(ids[0][1:])]]))
    assert h.ledger.dispatched == 2 and h.ledger.pending == 0


async def test_a_message_that_never_starts_is_dropped_as_lost_not_sent_again(autojump_clock):
    """B: if the proxy never gives our message back, a later message of ours
    starting first proves it gone (first in, first out): dropped:lost."""
    fake = FakeOlv(ECHO, enable_proxy=True)
    h = harness(fake)
    events = chats(2)
    for event in events:
        h.router.route(event, trio.current_time())
    h.router.buffer.finish_input()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        fake.proxy_paused = True

        def forget_it() -> None:
            fake.proxy_forget_queue()
            fake.proxy_paused = False

        h.hooks["session.turn_orphaned"] = forget_it
        supervisor = supervised(h.session(Mode.PROXY_WS))
        with trio.fail_after(300):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    lost = [f["id"] for f in h.events("session.turn_lost") if "why" in f]
    assert len(lost) == 1
    assert [t.text for t in fake.turns] == [format_turn([e]) for e in events if e.id != lost[0]]
    assert h.ledger.dispatched == 1 and h.ledger.dropped == {"lost": 1} and h.ledger.balanced


@pytest.mark.parametrize("kind", [Kind.DONATION, Kind.MEMBERSHIP])
async def test_a_paid_answer_cut_off_by_a_crash_is_answered_again_once(autojump_clock, tmp_path, kind):
    """D: OLV crashes after the first sentence of a paid message's answer.
    It is put back first in line and answered in full on the next
    connection; dispatched once, reported (archived) once with the full
    reply. A chat message cut off the same way is not put back."""
    fake = FakeOlv(attrs.evolve(ECHO, crash_down_for=2.0))
    fake.faults = [Fault.CRASH, None, Fault.CRASH]  # paid, chat (fine), chat cut off
    h = harness(fake)
    donation = paid(chats(1)[0], kind)
    others = chats(3)[1:]
    h.router.route(donation, trio.current_time())
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        session = h.session()
        supervisor = supervised(session)

        async def the_rest_later() -> None:
            await h.until("session.turn_ended")
            for event in others:
                h.router.route(event, trio.current_time())
            h.router.buffer.finish_input()

        nursery.start_soon(the_rest_later)
        with trio.fail_after(120):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    texts = [t.text for t in fake.turns]
    paid_text = format_turn([donation])
    assert texts[:2] == [paid_text, paid_text]  # cut off, then again first on the next connection
    assert [t.outcome for t in fake.turns][:2] == ["crashed", "ended"]
    put_back = [f for f in h.events("session.turn_ended") if f.get("put_back")]
    assert len(put_back) == 1 and put_back[0]["outcome"] == "cut_off"
    # The pages heard of the cut-off one (the overlay takes its card down) ...
    assert [f["outcome"] for ids, f in h.ended if f.get("put_back")] == ["cut_off"]
    answers = [(ids, f) for ids, f in h.ended if not f.get("put_back")]
    assert [ids for ids, _ in answers].count([donation.id]) == 1  # ... the answer is reported once ...
    final = next(fields for ids, fields in answers if ids == [donation.id])
    assert final["outcome"] == "ended" and final["reply"].startswith("You said: " + paid_text)  # ... in full
    cut_chat = [fields for ids, fields in answers if fields["outcome"] == "cut_off"]
    assert len(cut_chat) == 1  # the chat one: reported as it was, not put back
    assert texts.count(format_turn([others[1]])) == 1
    assert h.ledger.dispatched == 3 and h.ledger.pending == 0 and h.ledger.balanced
    assert h.router.buffer.redo_waiting == 0


async def test_a_stop_that_outlasts_the_grace_interrupts_with_what_was_heard(autojump_clock):
    """C: the turn is far longer than the grace: just before the supervisor
    would cancel, the session sends interrupt-signal with the text heard so
    far, so OLV's memory holds what the audience heard."""
    long = Script(sentences=["First part. ", "Second part. ", "Third part."], volumes=250, llm_delay=0.1)
    fake = FakeOlv(long)
    h = harness(fake)
    h.router.route(chats(1)[0], trio.current_time())
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        session = h.session(stop_grace=4.0)
        child = ChildSpec(id="session", target=session.run, restart=Restart.TRANSIENT, significant=True, shutdown=4.0)
        supervisor = Supervisor(SupervisorSpec(id="root", children=[child], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT))

        async def stop_mid_turn() -> None:
            await h.until("session.turn_started")
            await trio.sleep(1.0)
            supervisor.stop()

        nursery.start_soon(stop_mid_turn)
        with trio.fail_after(60):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    assert len(fake.interrupts) == 1
    heard, during = fake.interrupts[0]
    assert during and heard.startswith("First part.")
    assert fake.turns[0].outcome == "interrupted"
    assert h.ended[0][1]["outcome"] == "interrupted"
    assert fake.idle_interrupts == 0


async def test_a_stop_at_once_still_tells_olv_what_was_heard(autojump_clock):
    """C: cancelled with no grace at all (a second signal): one shielded,
    short interrupt-signal goes out before the socket closes."""
    long = Script(sentences=["First part. ", "Second part."], volumes=250, llm_delay=0.1)
    fake = FakeOlv(long)
    h = harness(fake)
    h.router.route(chats(1)[0], trio.current_time())
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        session = h.session()
        with trio.CancelScope() as scope:

            async def cancel_mid_turn() -> None:
                await h.until("session.turn_started")
                await trio.sleep(1.0)
                scope.cancel()

            nursery.start_soon(cancel_mid_turn)
            await supervised(session).run()
        await trio.sleep(1.0)  # the fake reads the last message
        nursery.cancel_scope.cancel()
    assert [during for _, during in fake.interrupts] == [True]
    assert fake.interrupts[0][0].startswith("First part.")
    assert fake.turns[0].outcome == "interrupted"


async def test_a_break_first_seen_by_a_send_while_queued_never_speaks_the_message_twice(autojump_clock, monkeypatch):
    """Found in review: through the proxy, our message waits QUEUED behind
    another client's turn; the socket breaks and the first to notice is our
    own send (the watchdog's playback-complete), before the reader. The
    message still sits in the proxy's queue, so it must be an orphan, never
    given back and sent again."""
    import json

    from trio_websocket import CloseReason, ConnectionClosed, open_websocket_url

    from actors.session import olv_connection
    from actors.session.olv_protocol import PLAYBACK_COMPLETE, Phase

    fake = FakeOlv(attrs.evolve(ECHO, volumes=200), enable_proxy=True)
    h = harness(fake)
    real_send = olv_connection.Connection.send
    failed: list[float] = []

    async def send(self, message):
        if message == PLAYBACK_COMPLETE and self.turns.phase is Phase.QUEUED and not failed:
            failed.append(trio.current_time())

            async def reset(data):  # what trio-websocket raises on a write to a dead socket
                raise ConnectionClosed(CloseReason(1006, None))

            self.ws.send_message = reset
        await real_send(self, message)

    monkeypatch.setattr(olv_connection.Connection, "send", send)

    async def typer(url, task_status=trio.TASK_STATUS_IGNORED):
        async with open_websocket_url(url, max_message_size=64 * 2**20) as ws, trio.open_nursery() as inner:

            async def drain():
                while True:
                    await ws.get_message()

            inner.start_soon(drain)
            task_status.started()
            for i in range(3):
                await trio.sleep(0.01)
                await ws.send_message(json.dumps({"type": "text-input", "text": f"typed line {i}", "images": []}))
            await trio.sleep_forever()  # stays connected: the proxy keeps its queue

    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        await nursery.start(fake_frontend, fake.url("/proxy-ws"))
        supervisor = supervised(h.session(Mode.PROXY_WS, timing=attrs.evolve(TIMING, watchdog_margin=0.0)))
        nursery.start_soon(supervisor.run)
        await trio.sleep(0.5)
        await nursery.start(typer, fake.url("/proxy-ws"))
        await trio.sleep(0.5)
        h.router.route(chats(1)[0], trio.current_time())
        h.router.buffer.finish_input()
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    assert failed, "the scenario did not happen: no send while QUEUED"
    assert Counter(t.text for t in fake.turns)[format_turn(chats(1))] == 1
    assert h.ledger.balanced
