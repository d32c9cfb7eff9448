"""The monitors' inner retry contract and the replay monitor, on a MockClock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors.monitors.replay import ReplayCursor, ReplaySource, run_replay
from actors.monitors.retry import FatalMonitorError, RetriesExhausted, RetryBudget, run_with_retries
from supervision import ChildContext


def make_ctx(child_id: str = "m") -> ChildContext:
    return ChildContext(
        child_id=child_id,
        supervisor_id="test",
        incarnation=1,
        hooks=(),
        on_started=lambda: None,
        on_status=lambda t: None,
    )


@given(st.integers(0, 30), st.floats(0, 600, allow_nan=False), st.lists(st.booleans(), max_size=80))
def test_retry_budget_allows_exactly_max_retries_per_outage(max_retries, interval, connected_marks):
    """Each failure either waits `retry_interval` or, past the budget, gives up;
    a successful connection starts a fresh budget."""
    budget = RetryBudget(max_retries, interval)
    in_a_row = 0
    for connected in connected_marks:
        if connected:
            budget.on_connected()
            in_a_row = 0
            continue
        in_a_row += 1
        delay = budget.on_failure()
        assert delay == (interval if in_a_row <= max_retries else None)
        if delay is None:
            break


@given(st.integers(0, 12), st.floats(0.5, 120, allow_nan=False))
def test_a_failing_source_is_tried_max_retries_times_then_raises(max_retries, interval):
    attempts: list[float] = []

    async def attempt(connected):
        attempts.append(trio.current_time())
        raise ConnectionError("refused")

    async def main():
        with pytest.raises(RetriesExhausted, match="still failing after") as info:
            await run_with_retries(make_ctx(), "yt", attempt, max_retries=max_retries, retry_interval=interval)
        assert isinstance(info.value.__cause__, ConnectionError)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert attempts == pytest.approx([k * interval for k in range(max_retries + 1)])


async def test_a_fatal_error_gives_up_at_once(autojump_clock):
    calls = 0

    async def attempt(connected):
        nonlocal calls
        calls += 1
        raise FatalMonitorError("bad API key")

    with pytest.raises(FatalMonitorError):
        await run_with_retries(make_ctx(), "yt", attempt, max_retries=10, retry_interval=60)
    assert calls == 1


async def test_a_connection_that_came_up_resets_the_budget(autojump_clock):
    """Two outages of two failures each fit a budget of two retries; the drop
    of a connection that came up is the first failure of a new outage."""
    script = ["fail", "fail", "connect-then-fail", "fail", "return"]

    async def attempt(connected):
        step = script.pop(0)
        if step == "return":
            return
        if step == "connect-then-fail":
            connected()
        raise OSError(step)

    await run_with_retries(make_ctx(), "yt", attempt, max_retries=2, retry_interval=10)
    assert script == []
    assert trio.current_time() == 40


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
    assert retries == [(0, 1), (60, 2), (120, 3)]
    assert trio.current_time() == 180
