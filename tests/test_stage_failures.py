"""Every fate is kept even when a stage fails on one message: the router's
filters or scoring, the buffer's breakdown at pull, the session's prompt.
That message is dropped with reason `error` and the cause; every other one
goes on, no actor raises, and the books balance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import test_olv_session
import trio
import trio.testing
from fakes.olv import FakeOlv
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.chat import Amount, Author, ChatEvent, Kind, Platform
from actors.ledger import Ledger
from actors.router.actor import Router, RoutingSettings
from actors.router.filters import FilterSettings
from actors.session.console import run_console_session
from actors.session.prompt import format_turn
from supervision import AutoShutdown, ChildSpec, Restart, Supervisor, SupervisorSpec

AT = datetime(2026, 11, 24, tzinfo=UTC)
OPEN = RoutingSettings(
    filters=FilterSettings(rate_per_minute=0, repeat_window=0, flood_authors=0, min_length=0, bots=()),
    capacity=100,
    paid_capacity=100,
)
STAGES = ("filter", "score", "breakdown", "format")


def event(i: int, paid: bool) -> ChatEvent:
    amount = Amount(Decimal(i + 1), "USD", f"${i + 1}.00") if paid else None
    kind = Kind.DONATION if paid else Kind.CHAT
    return ChatEvent(Platform.YOUTUBE, f"m{i}", kind, Author(f"a{i}", f"viewer {i}"), f"message number {i}", amount, AT)


def break_on(router: Router, stage: str, bad: set[str]) -> list:
    """Make `stage` raise for the events in `bad`; returns the session's format_turn."""

    def fails(e: ChatEvent) -> None:
        if e.id in bad:
            raise ArithmeticError(f"{stage} failed on {e.id}")

    if stage == "filter":
        check = router.filters.check
        router.filters.check = lambda e, text, key: fails(e) or check(e, text, key)  # type: ignore[method-assign]
    elif stage == "score":
        static = router.static
        router.static = lambda e, *rest: fails(e) or static(e, *rest)  # type: ignore[method-assign]
    elif stage == "breakdown":
        breakdown = router.breakdown
        router.breakdown = lambda e, now, *rest: fails(e) or breakdown(e, now, *rest)  # type: ignore[method-assign]

    def formatting(events: list[ChatEvent], askers: Sequence[Sequence[ChatEvent]] = ()) -> str:
        if stage == "format":
            for e in events:
                fails(e)
        return format_turn(events, askers)

    return [formatting]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=1, max_size=12),
    st.sets(st.integers(0, 11)),
    st.sampled_from(STAGES),
    st.integers(1, 3),
)
def test_a_stage_that_raises_on_chosen_messages_costs_only_those(paid, bad_indexes, stage, batch):
    events = [attrs.evolve(event(i, p), received_at=0.0) for i, p in enumerate(paid)]
    bad = {f"m{i}" for i in bad_indexes if i < len(events)}
    fates: Counter[str] = Counter()
    reasons: dict[str, str | None] = {}

    def on_fate(e, fate, reason, detail) -> None:
        fates[e.id] += 1
        reasons[e.id] = f"{fate.value}:{reason}" if reason else fate.value
        if reason == "error":
            assert detail["error"] == f"ArithmeticError: {stage} failed on {e.id}"

    ledger = Ledger(listeners=[on_fate])
    router = Router(ledger, OPEN)
    [formatting] = break_on(router, stage, bad)
    failed_children: list[str] = []

    async def main() -> None:
        send, recv = trio.open_memory_channel[ChatEvent](100)
        session = ChildSpec(
            id="session",
            target=lambda ctx: run_console_session(
                ctx, router.buffer, speaking_time=1.0, batch=batch, emit=lambda *a, **k: None, format_turn=formatting
            ),
            restart=Restart.TEMPORARY,
            significant=True,
        )
        routing = ChildSpec(id="router", target=lambda ctx: router.run(ctx, recv), restart=Restart.TEMPORARY)
        supervisor = Supervisor(
            SupervisorSpec(id="root", children=[session, routing], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT)
        )
        async with send:
            for e in events:
                await send.send(e)
        with trio.fail_after(3600):  # virtual time: a wedged session fails here, it does not hang
            await supervisor.run()
        failed_children.extend(c.id for c in supervisor.snapshot().children if c.last_exit and c.last_exit.error)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert failed_children == []  # no actor raised
    assert set(fates) == {e.id for e in events} and set(fates.values()) == {1}  # exactly one fate each
    assert ledger.balanced and ledger.pending == 0
    if stage != "format" or batch == 1:
        assert {i for i, r in reasons.items() if r == "dropped:error"} == bad
    else:  # a digest that cannot be formatted costs the messages it gathered
        assert bad <= {i for i, r in reasons.items() if r == "dropped:error"}
    assert {i for i, r in reasons.items() if r == "dispatched"} | {
        i for i, r in reasons.items() if r == "dropped:error"
    } == set(fates)


async def test_an_olv_prompt_that_cannot_be_formatted_costs_only_its_message(monkeypatch):
    """The issue's case: format_amount raised in the session, and the message
    was counted dispatched and never spoken (and the session restarted)."""

    def broken(events: list[ChatEvent], askers: Sequence[Sequence[ChatEvent]] = ()) -> str:
        if events[0].id == "m1":
            raise ValueError("cannot format m1")
        return format_turn(events, askers)

    monkeypatch.setattr(test_olv_session, "format_turn", broken)
    run = await test_olv_session.run_session(FakeOlv(test_olv_session.QUICK), test_olv_session.chats(3))
    assert run.restarts == 0
    assert run.ledger.dispatched == 2 and run.ledger.to_dict()["dropped"] == {"error": 1}
    [failed] = run.events("session.turn_failed")
    assert failed["id"] == "m1" and failed["error"] == "ValueError: cannot format m1"
    assert sorted(ids for ids, _ in run.ended) == [["m0"], ["m2"]]
    test_olv_session.assert_safe(run)
