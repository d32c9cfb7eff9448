"""The monitors' inner retry contract and the replay monitor, on a MockClock."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors.monitors.common.retry import (
    FatalMonitorError,
    RetriesExhausted,
    RetryBudget,
    RetryRule,
    describe_failure,
    retry_after_of,
    run_with_retries,
)
from actors.monitors.replay import ReplayCursor, ReplaySource, run_replay
from supervision import ChildContext


def make_ctx(child_id: str = "m") -> ChildContext:
    return ChildContext(
        child_id=child_id,
        supervisor_id="test",
        incarnation=1,
        hooks=(),
        on_started=lambda: None,
        on_status=lambda text, detail: None,
    )


@given(
    st.integers(0, 30),
    st.floats(0, 600, allow_nan=False),
    st.lists(st.tuples(st.booleans(), st.floats(0, 1, exclude_max=True)), max_size=80),
)
def test_retry_budget_bounds_every_wait_and_allows_max_retries_per_outage(max_retries, interval, marks):
    """The n-th failure of an outage waits about a second times 2**(n-1),
    never more than `retry_interval` and never less than 80% of that; past
    `max_retries` it gives up; something delivered starts a fresh outage."""
    rule = RetryRule(max_retries, interval)
    budget = RetryBudget(rule)
    in_a_row = 0
    for delivered, u in marks:
        if delivered:
            budget.on_delivered()
            in_a_row = 0
            continue
        in_a_row += 1
        delay = budget.on_failure(u)
        if in_a_row > max_retries:
            assert delay is None
            break
        assert delay is not None
        base = min(interval, 1.0 * 2 ** (in_a_row - 1))
        assert 0.8 * base - 1e-9 <= delay <= base + 1e-9
        assert delay <= interval


@given(st.integers(1, 10), st.floats(0, 3600, allow_nan=False), st.floats(0, 1, exclude_max=True))
def test_a_server_that_says_when_is_obeyed_exactly(failures, retry_after, u):
    budget = RetryBudget(RetryRule(10, 60.0))
    for _ in range(failures - 1):
        budget.on_failure(u)
    assert budget.on_failure(u, retry_after) == retry_after


def test_a_retry_after_of_a_day_is_taken_as_five_minutes():
    class Refused(Exception):
        retry_after = 86_400.0

    assert retry_after_of(Refused()) == 300.0


def test_the_first_retry_comes_after_about_a_second_whatever_the_ceiling():
    for interval in (5.0, 60.0, 600.0):
        assert 0.8 <= RetryRule(10, interval).delay(1, 0.5) <= 1.0
    assert RetryRule(10, 0.5).delay(1, 0.0) == 0.5  # a ceiling under a second is the ceiling
    assert RetryRule(10, 0.0).delay(3, 0.3) == 0.0


@given(st.integers(0, 12), st.floats(0.5, 120, allow_nan=False))
def test_a_failing_source_is_tried_max_retries_times_then_raises(max_retries, interval):
    attempts: list[float] = []
    rule = RetryRule(max_retries, interval)

    async def attempt(delivered):
        attempts.append(trio.current_time())
        raise ConnectionError("refused")

    async def main():
        with pytest.raises(RetriesExhausted, match="still failing after") as info:
            await run_with_retries(make_ctx(), "yt", attempt, rule, uniform=lambda: 0.0)
        assert isinstance(info.value.__cause__, ConnectionError)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    expected = [0.0]
    for n in range(1, max_retries + 1):
        expected.append(expected[-1] + rule.delay(n, 0.0))
    assert attempts == pytest.approx(expected)


async def test_a_fatal_error_gives_up_at_once(autojump_clock):
    calls = 0

    async def attempt(delivered):
        nonlocal calls
        calls += 1
        raise FatalMonitorError("bad API key")

    with pytest.raises(FatalMonitorError):
        await run_with_retries(make_ctx(), "yt", attempt, RetryRule(10, 60))
    assert calls == 1


async def test_a_connection_that_delivered_resets_the_budget(autojump_clock):
    """Two outages of two failures each fit a budget of two retries; the drop
    of a connection that delivered is the first failure of a new outage, so
    it is retried after a second again, not after the grown wait."""
    script = ["fail", "fail", "deliver-then-fail", "fail", "return"]

    async def attempt(delivered):
        step = script.pop(0)
        if step == "return":
            return
        if step == "deliver-then-fail":
            delivered()
        raise OSError(step)

    await run_with_retries(make_ctx(), "yt", attempt, RetryRule(2, 10), uniform=lambda: 0.0)
    assert script == []
    assert trio.current_time() == pytest.approx(1 + 2 + 1 + 2)


async def test_retry_after_on_the_error_is_waited_exactly(autojump_clock):
    class Refused(Exception):
        retry_after = 7.5

    times: list[float] = []

    async def attempt(delivered):
        times.append(trio.current_time())
        if len(times) < 2:
            raise Refused("429")

    await run_with_retries(make_ctx(), "yt", attempt, RetryRule(3, 60), uniform=lambda: 0.0)
    assert times == [0.0, 7.5]


def record(i: int, seconds: float, **extra) -> str:
    when = datetime(2026, 11, 24, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    obj = {
        "platform": "youtube",
        "id": f"LCC.{i}",
        "kind": "chat",
        "author": {"id": f"UC{i}", "name": f"user{i}", "roles": []},
        "text": f"message {i}",
        "amount": None,
        "sent_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return json.dumps(obj | extra)


async def test_replay_paces_by_sent_at_over_speed_and_skips_bad_lines(autojump_clock, tmp_path):
    lines = [record(0, 0), record(1, 4), "{broken", record(2, 10), record(3, 10)]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    send, receive = trio.open_memory_channel(10)
    events = []
    emitted = []

    def emit(name, level="info", **fields):
        events.append((name, fields))

    async def consume():
        async for event in receive:
            emitted.append((trio.current_time(), event.id, event.received_at))

    cursor = ReplayCursor()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        ctx = make_ctx("replay")
        await run_replay(ctx, ReplaySource(path, speed=2.0), send, cursor, max_retries=0, retry_interval=1, emit=emit)
        ctx._close_held()  # what the supervisor does when the incarnation ends
        send.close()
    assert emitted == [(0, "LCC.0", 0), (2, "LCC.1", 2), (5, "LCC.2", 5), (5, "LCC.3", 5)]
    assert (
        "replay.bad_line",
        {
            "file": str(path),
            "line": 3,
            "error": "not JSON (Expecting property name enclosed in double quotes at column 2)",
        },
    ) in events
    assert cursor.emitted == 4 and cursor.bad_lines == 1


async def test_a_restarted_replay_continues_where_it_stopped(autojump_clock, tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(record(i, 10 * i) for i in range(5)), encoding="utf-8")
    send, receive = trio.open_memory_channel(10)
    cursor = ReplayCursor()
    source = ReplaySource(path, speed=1.0)
    ctx = make_ctx("replay")
    with trio.move_on_after(25):  # the first incarnation dies after three records
        await run_replay(ctx, source, send, cursor, max_retries=0, retry_interval=1, emit=lambda *a, **k: None)
    ctx._close_held()
    ctx = make_ctx("replay")
    await run_replay(ctx, source, send, cursor, max_retries=0, retry_interval=1, emit=lambda *a, **k: None)
    ctx._close_held()
    send.close()
    ids = [event.id async for event in receive]
    assert ids == [f"LCC.{i}" for i in range(5)]


async def test_an_unreadable_file_is_retried_then_raises(autojump_clock, tmp_path):
    send, _receive = trio.open_memory_channel(10)
    retries = []

    def emit(name, level="info", **fields):
        if name == "replay.retry":
            retries.append((trio.current_time(), fields["attempt"]))

    with pytest.raises(RetriesExhausted):
        await run_replay(
            make_ctx("replay"),
            ReplaySource(tmp_path / "gone.jsonl", speed=1.0),
            send,
            ReplayCursor(),
            max_retries=3,
            retry_interval=60,
            emit=emit,
        )
    # The common rule: about 1, 2 and 4 s (jittered down by at most 20%), not a minute each.
    assert [attempt for _, attempt in retries] == [1, 2, 3]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(retries)]
    assert 0.8 <= gaps[0] <= 1.0 and 1.6 <= gaps[1] <= 2.0
    assert 0.8 * 7 <= trio.current_time() <= 7


def hostile_lines() -> list[tuple[bytes, str | None]]:
    """(line, the problem it must be reported for, or None for a good record)."""
    deep = "[" * 50_000 + "]" * 50_000
    odd_name = json.loads(record(90, 1))
    odd_name["author"]["name"] = "a\u2028b\u0085c\x0bd\x0ce"  # line separators that are not \n
    return [
        (record(0, 0).encode(), None),
        (b'{"platform": "youtube", "id": "LCC.x", "text": "\xff\xfe"}', "not UTF-8 text"),
        (record(1, 1).encode(), None),
        (('{"n": ' + "9" * 5000 + "}").encode(), "a number too large"),
        (deep.encode(), "nested too deep"),
        (json.dumps(odd_name, ensure_ascii=False).encode(), None),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps(json.loads(record(91, 1)) | {"sent_at": "0001-01-01T00:00:00+05:00"}).encode(), "out of range"),
        (record(2, 2).encode(), None),
    ]


async def test_a_hostile_recording_costs_each_bad_line_only(autojump_clock, tmp_path):
    lines = hostile_lines()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in lines) + b"\n")
    send, receive = trio.open_memory_channel(100)
    bad = []

    def emit(name, level="info", **fields):
        if name == "replay.bad_line":
            bad.append((fields["line"], fields["error"]))

    ctx = make_ctx("replay")
    cursor = ReplayCursor()
    await run_replay(ctx, ReplaySource(path, speed=1.0), send, cursor, max_retries=0, retry_interval=1, emit=emit)
    ctx._close_held()
    send.close()
    ids = [event.id async for event in receive]
    assert ids == ["LCC.0", "LCC.1", "LCC.90", "LCC.2"]  # by sent_at; the odd name is one record
    expected = [(n, problem) for n, (_, problem) in enumerate(lines, start=1) if problem]
    assert [line for line, _ in bad] == [line for line, _ in expected]
    for (_, error), (_, problem) in zip(bad, expected, strict=True):
        assert problem in error
    assert cursor.emitted == 4 and cursor.bad_lines == 5


async def test_a_long_line_is_skipped_without_being_read_whole(autojump_clock, tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(record(0, 0).encode() + b"\n" + b"x" * (3 * 2**20) + b"\n" + record(1, 1).encode() + b"\n")
    send, receive = trio.open_memory_channel(10)
    bad = []
    ctx = make_ctx("replay")
    await run_replay(
        ctx,
        ReplaySource(path, speed=1.0, run_blocking=inline),
        send,
        ReplayCursor(),
        max_retries=0,
        retry_interval=1,
        emit=lambda name, level="info", **f: bad.append(f) if name == "replay.bad_line" else None,
    )
    ctx._close_held()
    send.close()
    assert [event.id async for event in receive] == ["LCC.0", "LCC.1"]
    assert [(f["line"], "longer than" in f["error"]) for f in bad] == [(2, True)]


async def inline(fn, *args):
    """Read on the Trio thread: on a MockClock a worker thread would let virtual time jump."""
    return fn(*args)


async def test_a_big_recording_streams_in_order_through_the_worker_thread(tmp_path):
    """Real clock, real thread, as fast as the router takes it (speed = inf):
    a file many chunks long plays in sent_at order, each record once, even
    when the archive order is shuffled within the reordering window."""
    import random

    order = list(range(20_000))
    rng = random.Random(7)
    for start in range(0, len(order), 500):  # fate order: shuffled within half a thousand
        block = order[start : start + 500]
        rng.shuffle(block)
        order[start : start + 500] = block
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(record(i, i / 100) for i in order) + "\n", encoding="utf-8")
    assert path.stat().st_size > 6 * 512 * 1024  # several chunks
    send, receive = trio.open_memory_channel(1000)
    got: list[str] = []

    async def consume():
        async for event in receive:
            got.append(event.id)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        ctx = make_ctx("replay")
        cursor = ReplayCursor()
        await run_replay(
            ctx,
            ReplaySource(path, speed=math.inf),
            send,
            cursor,
            max_retries=0,
            retry_interval=1,
            emit=lambda *a, **k: None,
        )
        ctx._close_held()
        send.close()
    assert got == [f"LCC.{i}" for i in range(20_000)]


def test_a_failure_inside_a_nursery_is_described_by_its_leaves():
    group = ExceptionGroup("Exceptions from Trio nursery (2 sub-exceptions)", [ConnectionError("gone"), KeyError("x")])
    assert describe_failure(group) == "ConnectionError: gone; KeyError: 'x'"
    assert describe_failure(TimeoutError()) == "TimeoutError"
