"""The streamer's hand on what waits: pin, drop, mute (the cockpit's controls).

Each keeps the books balanced (test_router's properties run them among
every other operation); these say what each one means.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import trio
from test_router import SETTINGS, chat, make_router, route_all

from actors.chat import Amount, Kind
from actors.ledger import Fate


def test_a_pinned_message_is_answered_next_whatever_its_score():
    router = make_router(attrs.evolve(SETTINGS, capacity=4))
    route_all(
        router,
        chat("low", "u1", "ok", at=0),
        chat("question", "u2", "미라는 비 오는 거 좋아해?", at=0.1),
        chat("paid", "u3", "thanks!", at=0.2, kind=Kind.DONATION, amount=Amount(Decimal("5"), "USD", "$5.00")),
    )
    assert router.buffer.pin("youtube", "low")
    assert router.buffer.pinned()[0].id == "low"
    assert [p.event.id for p in router.buffer.take(1.0)] == ["low"]
    assert [p.event.id for p in router.buffer.take(1.1)] == ["paid"]  # then ranking as usual


def test_pins_keep_their_order_and_a_pin_of_nothing_waiting_says_so():
    router = make_router(attrs.evolve(SETTINGS, capacity=4))
    route_all(router, chat("a", "u1", "first one", at=0), chat("b", "u2", "second one", at=0.1))
    assert router.buffer.pin("youtube", "b") and router.buffer.pin("youtube", "a")
    assert not router.buffer.pin("youtube", "nope")
    assert not router.buffer.pin("chzzk", "a")  # the platform is part of the id
    assert [router.buffer.take(1.0)[0].event.id, router.buffer.take(1.1)[0].event.id] == ["b", "a"]


def test_a_pinned_message_is_never_evicted_or_expired():
    router = make_router(attrs.evolve(SETTINGS, capacity=1, max_age=5.0))
    route_all(router, chat("pinned", "u1", "pick me", at=0))
    router.buffer.pin("youtube", "pinned")
    route_all(router, *(chat(f"m{i}", f"v{i}", f"other line {i}", at=1 + i) for i in range(3)))
    router.buffer.expire(60.0)
    assert router.ledger.dropped["overflow"] == 2 and router.ledger.dropped["expired"] == 1
    assert [e.id for e in router.buffer.pending()] == ["pinned"]
    assert router.ledger.balanced


def test_a_pinned_message_given_back_stays_first():
    router = make_router(attrs.evolve(SETTINGS, capacity=4))
    route_all(router, chat("a", "u1", "what game is next?", at=0), chat("b", "u2", "Mira! hello?", at=0.1))
    router.buffer.pin("youtube", "a")
    picked = router.buffer.checkout(1.0)
    router.buffer.give_back(picked, 1.1)  # OLV never started it
    assert router.buffer.pinned()[0].id == "a"
    assert router.buffer.take(1.2)[0].event.id == "a"


def test_dropping_a_waiting_message_gives_it_its_fate_and_a_crowd_goes_whole():
    fates: list = []
    router = make_router(attrs.evolve(SETTINGS, capacity=4), fates)
    route_all(
        router,
        chat("q1", "u1", "what game is next?", at=0),
        chat("q2", "u2", "what game is next", at=0.5),  # joins q1: one crowd
        chat("other", "u3", "nice stream", at=0.6),
    )
    assert router.buffer.drop("youtube", "q2") == 2
    dropped = [(e.id, reason) for e, fate, reason, _ in fates if fate is Fate.DROPPED]
    assert dropped == [("q1", "streamer"), ("q2", "streamer")]
    assert router.buffer.drop("youtube", "q1") == 0
    assert [e.id for e in router.buffer.pending()] == ["other"]
    assert router.ledger.balanced and router.ledger.pending == 1


def test_a_muted_author_loses_what_waits_and_is_filtered_until_unmuted():
    fates: list = []
    router = make_router(attrs.evolve(SETTINGS, capacity=4), fates)
    route_all(router, chat("a1", "troll", "hello there", at=0), chat("b1", "fan", "hi Mira", at=0.1))
    assert router.mute("troll") == 1
    route_all(router, chat("a2", "troll", "still here", at=1))
    assert [(e.id, fate.value, reason) for e, fate, reason, _ in fates if e.author.id == "troll"] == [
        ("a1", "dropped", "blocked_author"),
        ("a2", "filtered", "blocked_author"),
    ]
    assert router.unmute("troll") and not router.unmute("troll")
    route_all(router, chat("a3", "troll", "sorry about that", at=30))
    assert "a3" in [e.id for e in router.buffer.pending()]
    assert router.ledger.balanced


async def test_a_paused_buffer_waits_without_spinning_and_resume_hands_out(autojump_clock):
    """Paused, a session waiting for its next turn sleeps (it once spun: a
    settled line's deadline is in the past); resume wakes it at once."""
    router = make_router(attrs.evolve(SETTINGS, capacity=4))
    route_all(router, chat("a", "u1", "what game is next?", at=0))
    buffer = router.buffer
    buffer.pause()
    checkouts = 0
    original = buffer.checkout

    def counted(now, *, batch=1):
        nonlocal checkouts
        checkouts += 1
        assert checkouts < 100, "the paused session spins"  # a spin never lets the clock move: fail, not hang
        return original(now, batch=batch)

    buffer.checkout = counted  # type: ignore[method-assign]
    got = []
    async with trio.open_nursery() as nursery:

        async def session():
            got.extend(await buffer.pull_checkout())

        nursery.start_soon(session)
        await trio.sleep(30)
        assert not got and checkouts <= 2
        buffer.resume()
    assert [p.event.id for p in got] == ["a"]
