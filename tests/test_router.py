"""The first router and its pending buffer: the conservation law and its friends.

Driven synchronously (route/take/close are plain methods), so Hypothesis can
try many interleavings without an event loop; the async pull is tested on a
MockClock.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from datetime import UTC, datetime

import attrs
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.chat import Author, ChatEvent, Kind, ModerationTarget, Platform
from actors.ledger import Fate, Ledger
from actors.router.actor import Router
from actors.router.buffer import PendingBuffer
from strategies import chat_events

# Small pools of ids and authors, so duplicates and purge targets really occur.
small_ids = st.sampled_from([f"m{i}" for i in range(8)])
small_authors = st.sampled_from([f"u{i}" for i in range(4)])


@st.composite
def routed_events(draw: st.DrawFn) -> ChatEvent:
    event = draw(chat_events())
    event = attrs.evolve(event, id=draw(small_ids), author=attrs.evolve(event.author, id=draw(small_authors)))
    if event.kind is Kind.MODERATION:
        target = draw(
            st.builds(ModerationTarget, message_id=small_ids) | st.builds(ModerationTarget, author_id=small_authors)
        )
        event = attrs.evolve(event, target=target)
    return event


# ("route", event) hands an event to the router; ("take", None) is the session pulling.
operations = st.lists(
    st.tuples(st.just("route"), routed_events()) | st.tuples(st.just("take"), st.none()),
    max_size=60,
)


def play(ops, capacity, dedupe_ids):
    """Run ops, checking the invariants after every step; returns what happened."""
    fates: list[tuple[str, Fate, str | None]] = []
    ledger = Ledger(listeners=[lambda e, fate, reason: fates.append((e.id, fate, reason))])
    buffer = PendingBuffer(capacity, ledger)
    router = Router(buffer, ledger, dedupe_ids=dedupe_ids)
    taken = []
    for op, event in ops:
        if op == "route":
            router.route(event)
        elif (got := buffer.take()) is not None:
            taken.append(got)
        assert ledger.balanced, ledger.to_dict()
        assert len(buffer) == ledger.pending <= capacity
        assert len(router.recent_ids) <= dedupe_ids
    buffer.close()
    assert ledger.pending == 0
    assert ledger.balanced
    return ledger, fates, taken


@given(operations, st.integers(1, 5), st.integers(1, 10))
def test_conservation_after_any_sequence(ops, capacity, dedupe_ids):
    """received == dispatched + filtered + dropped + pending, at every step and at the end."""
    ledger, fates, _ = play(ops, capacity, dedupe_ids)
    assert ledger.received == sum(1 for op, _ in ops if op == "route")
    assert len(fates) == ledger.received  # exactly one fate each, once closed


@given(operations, st.integers(1, 5))
def test_a_duplicate_id_is_never_dispatched_twice(ops, capacity):
    """With the id memory large enough, no (platform, id) reaches the session twice."""
    _, _, taken = play(ops, capacity, dedupe_ids=1000)
    keys = [(e.platform, e.id) for e in taken]
    assert len(keys) == len(set(keys))


@given(operations, st.integers(1, 5), st.integers(1, 10))
def test_filtered_events_are_never_dispatched(ops, capacity, dedupe_ids):
    ledger, fates, taken = play(ops, capacity, dedupe_ids)
    assert all(e.kind is not Kind.MODERATION for e in taken)
    assert ledger.dispatched == len(taken)
    assert [fate for fate in fates if fate[1] is Fate.DISPATCHED] == [(e.id, Fate.DISPATCHED, None) for e in taken]


@given(operations, st.integers(1, 5))
def test_take_returns_the_oldest_pending_message(ops, capacity):
    """FIFO for now: a model queue with the same evictions and purges predicts every take."""
    ledger = Ledger()
    buffer = PendingBuffer(capacity, ledger)
    router = Router(buffer, ledger, dedupe_ids=1000)
    model: deque[ChatEvent] = deque()
    seen = set()
    for op, event in ops:
        if op == "take":
            assert buffer.take() == (model.popleft() if model else None)
            continue
        router.route(event)
        key = (event.platform, event.id)
        if key in seen:
            continue  # filtered: duplicate
        seen.add(key)
        if event.kind is Kind.MODERATION:
            t = event.target
            model = deque(
                e
                for e in model
                if not (e.platform is event.platform and (e.id == t.message_id or e.author.id == t.author_id))
            )
        else:
            model.append(event)
            if len(model) > capacity:
                model.popleft()


@given(operations, st.integers(1, 5), st.integers(1, 10))
def test_the_same_input_gives_the_same_fates(ops, capacity, dedupe_ids):
    """Filters are deterministic: re-running an archive reproduces its fates."""
    assert play(ops, capacity, dedupe_ids)[1] == play(ops, capacity, dedupe_ids)[1]


def chat(message_id: str, author: str, kind: Kind = Kind.CHAT, target: ModerationTarget | None = None) -> ChatEvent:
    return ChatEvent(
        Platform.YOUTUBE, message_id, kind, Author(author, author), "hi", None, datetime.now(UTC), target=target
    )


def test_a_moderation_event_purges_pending_messages_of_its_target():
    ledger = Ledger()
    buffer = PendingBuffer(10, ledger)
    router = Router(buffer, ledger, dedupe_ids=100)
    for i, author in enumerate(["spammer", "alice", "spammer", "bob"]):
        router.route(chat(f"m{i}", author))
    router.route(chat("ban", "mod", Kind.MODERATION, ModerationTarget(author_id="spammer")))
    router.route(chat("del", "mod", Kind.MODERATION, ModerationTarget(message_id="m3")))
    taken = buffer.take()
    assert taken is not None and taken.author.id == "alice"
    assert buffer.take() is None
    assert ledger.to_dict() == {
        "received": 6,
        "dispatched": 1,
        "filtered": {"moderation": 2},
        "dropped": {"purged": 3},
        "pending": 0,
    }


async def test_pull_waits_for_a_message_and_ends_after_close(autojump_clock):
    ledger = Ledger()
    buffer = PendingBuffer(2, ledger)
    got = []

    async def session():
        try:
            while True:
                event = await buffer.pull()
                got.append((trio.current_time(), event.id))
        except trio.EndOfChannel:
            got.append((trio.current_time(), "end"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(session)
        await trio.sleep(5)
        ledger.receive(event := chat("x", "a"))
        buffer.push(event)
        await trio.sleep(5)
        buffer.finish_input()
    assert got == [(5.0, "x"), (10.0, "end")]
    assert ledger.dispatched == 1


def test_finish_input_lets_the_session_drain_and_close_drops_the_rest():
    ledger = Ledger()
    buffer = PendingBuffer(5, ledger)
    router = Router(buffer, ledger, dedupe_ids=100)
    for i in range(3):
        router.route(chat(f"m{i}", "a"))
    buffer.finish_input()
    router.route(chat("late", "a"))  # nothing is accepted after the input ended
    assert [buffer.take().id, buffer.take().id] == ["m0", "m1"]  # type: ignore[union-attr]
    buffer.close()
    assert ledger.to_dict() == {
        "received": 4,
        "dispatched": 2,
        "filtered": {},
        "dropped": {"shutdown": 2},
        "pending": 0,
    }


def test_a_failing_filter_gives_the_event_in_hand_a_fate():
    """Conservation even when the router itself breaks: dropped:error, then the error."""
    ledger = Ledger()
    router = Router(PendingBuffer(5, ledger), ledger, dedupe_ids=100)

    def broken(event):
        raise ValueError("bug")

    router._filter_reason = broken  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="bug"):
        router.route(chat("m0", "a"))
    assert ledger.to_dict()["dropped"] == {"error": 1}
    assert ledger.balanced and ledger.pending == 0


@given(operations, st.integers(1, 5))
def test_a_failing_listener_never_unbalances_the_books(ops, capacity):
    """The status log is I/O; if it raises, counts and buffer must still agree."""

    def flaky(event, fate, reason):
        if hash(event.id) % 2:
            raise OSError("disk full")

    ledger = Ledger(listeners=[flaky])
    buffer = PendingBuffer(capacity, ledger)
    router = Router(buffer, ledger, dedupe_ids=1000)
    with contextlib.redirect_stderr(io.StringIO()):
        for op, event in ops:
            if op == "route":
                router.route(event)
            else:
                buffer.take()
            assert ledger.balanced and len(buffer) == ledger.pending
        buffer.close()
    assert ledger.balanced and ledger.pending == 0
