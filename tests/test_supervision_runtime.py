"""The Trio runtime on a MockClock: exact virtual times, stop protocol, strategies.

Every scenario runs on MockClock(autojump_threshold=0), so "restart at t=17"
is asserted exactly and nothing sleeps in real time. Plain async tests use
pytest-trio's `autojump_clock`; @given tests call trio.run with a fresh clock
per example.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from strategies import DURATIONS, RESET_AFTERS, EventLog, exact_backoffs
from supervision import (
    AutoShutdown,
    Backoff,
    ChildContext,
    ChildSpec,
    ChildState,
    IntensityExceeded,
    Restart,
    SignificantChildFailed,
    StartTimeout,
    Strategy,
    Supervisor,
    SupervisorSpec,
    run_until_signalled,
    supervisor_child,
)
from supervision._policy import base_delay

Target = Callable[[ChildContext], Awaitable[None]]
NO_JITTER = Backoff(min_delay=1.0, jitter=0.0)


def run_on_mock_clock(main: Callable[[], Awaitable[object]]) -> None:
    trio.run(main, clock=MockClock(autojump_threshold=0))


# ---- scripted children ---------------------------------------------------------------------


async def polite(ctx: ChildContext) -> None:
    """Ready at once; returns as soon as it is asked to stop."""
    ctx.started()
    await ctx.stopping.wait()


async def stubborn(ctx: ChildContext) -> None:
    """Ready at once; ignores the stop request and must be cancelled."""
    ctx.started()
    await trio.sleep_forever()


def fails_after(seconds: float, exc: type[BaseException] = ValueError) -> Target:
    """Ready at once, raises `seconds` later, on every incarnation."""

    async def target(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep(seconds)
        raise exc("boom")

    return target


def first_fails_after(seconds: float) -> Target:
    """Incarnation 1 raises after `seconds`; later ones run politely for ever."""

    async def target(ctx: ChildContext) -> None:
        if ctx.incarnation > 1:
            await polite(ctx)
            return
        ctx.started()
        await trio.sleep(seconds)
        raise ValueError("first incarnation fails")

    return target


def returns_after(seconds: float) -> Target:
    async def target(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep(seconds)

    return target


def spec(*children: ChildSpec, **kwargs: object) -> SupervisorSpec:
    kwargs.setdefault("intensity", 100)
    return SupervisorSpec(id=str(kwargs.pop("id", "sup")), children=children, **kwargs)  # type: ignore[arg-type]


async def run_until(sup: Supervisor, stop_at: float | None) -> Exception | None:
    """Run `sup`; call sup.stop() at virtual time `stop_at` (if still running).

    Returns the error run() raised (unwrapped), or None after a clean stop.
    """
    error: Exception | None = None

    async def runner(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal error
        try:
            await sup.run(task_status=task_status)
        except (IntensityExceeded, SignificantChildFailed) as exc:
            error = exc

    async with trio.open_nursery() as nursery:
        await nursery.start(runner)
        if stop_at is not None:
            with trio.move_on_at(stop_at):
                await sup.wait_finished()
            sup.stop()
    return error


async def run_to_end(sup: Supervisor) -> None:
    """await sup.run() with no stop: it must end by itself. The virtual deadline turns a
    regression that never ends (autojump would spin for ever) into a TooSlowError."""
    with trio.fail_after(1000.0):
        await sup.run()


def states(sup: Supervisor) -> dict[str, tuple[ChildState, int]]:
    return {c.id: (c.state, c.incarnation) for c in sup.snapshot().children}


# ---- 8. exact restart times ----------------------------------------------------------------------


async def test_exact_restart_times_without_jitter(autojump_clock: MockClock) -> None:
    """Fail 1 s after ready; delays 2, 4, 8, then capped at 10: restarts at t = 3, 8, 17, 28."""
    backoff = Backoff(min_delay=2.0, multiplier=2.0, max_delay=10.0, jitter=0.0)
    log = EventLog()
    sup = Supervisor(spec(ChildSpec(id="a", target=fails_after(1.0), backoff=backoff)), hooks=[log])
    await run_until(sup, stop_at=30.0)

    expected, t = [], 0.0
    for n in range(4):
        t += 1.0 + min(backoff.max_delay, backoff.min_delay * backoff.multiplier**n)
        expected.append(t)
    assert expected == [3.0, 8.0, 17.0, 28.0]
    assert log.times("child.started", "a") == [0.0, *expected]
    scheduled = [e.fields for _, e in log.select("child.restart_scheduled", "a")]
    assert [f["delay_s"] for f in scheduled] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert [f["attempt"] for f in scheduled] == [1, 2, 3, 4, 5]
    assert [f["consecutive_failures"] for f in scheduled] == [1, 2, 3, 4, 5]
    assert log.times("child.restart_scheduled", "a") == [1.0, 4.0, 9.0, 18.0, 29.0]


@settings(max_examples=40)
@given(exact_backoffs(reset_after=st.sampled_from(RESET_AFTERS)), DURATIONS)
def test_restart_times_follow_the_formula(backoff: Backoff, run_for: float) -> None:
    """t_{k+1} = t_k + run + delay(n), n reset to 0 after a run >= reset_after: exact times."""
    # Every start time is a multiple of 2**-8 here; 2**-10 past 40 s keeps restarts
    # from tying with the stop (a tie is a genuine race, either order is fine).
    horizon = 40.0 + 2**-10
    expected, t, n = [0.0], 0.0, 0
    while True:
        n = (0 if run_for >= backoff.reset_after else n) + 1
        t = t + run_for + base_delay(backoff, n - 1)
        if t >= horizon:
            break
        expected.append(t)

    async def main() -> None:
        log = EventLog()
        sup = Supervisor(
            spec(ChildSpec(id="a", target=fails_after(run_for), backoff=backoff), intensity=1000), hooks=[log]
        )
        await run_until(sup, stop_at=horizon)
        assert log.times("child.started", "a") == expected

    run_on_mock_clock(main)


async def test_runtime_resets_backoff_after_a_long_ready_period(autojump_clock: MockClock) -> None:
    """A child ready for >= reset_after starts again from min_delay (uptime counts from started())."""
    backoff = Backoff(min_delay=1.0, multiplier=2.0, jitter=0.0, reset_after=10.0)
    runs = iter([0.0, 0.0, 10.0, 0.0])  # short, short, long enough to forgive, short

    async def target(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep(next(runs, 1000.0))
        raise ValueError("boom")

    log = EventLog()
    sup = Supervisor(spec(ChildSpec(id="a", target=target, backoff=backoff)), hooks=[log])
    await run_until(sup, stop_at=100.0)
    scheduled = [e.fields for _, e in log.select("child.restart_scheduled", "a")]
    assert [(f["consecutive_failures"], f["delay_s"]) for f in scheduled] == [(1, 1.0), (2, 2.0), (1, 1.0), (2, 2.0)]
    assert log.times("child.started", "a") == [0.0, 1.0, 3.0, 14.0, 16.0]


async def test_one_for_one_restarts_do_not_wait_for_each_other(autojump_clock: MockClock) -> None:
    """Both fail at t=1 and are due at t=2. a's second incarnation takes 5 s to become
    ready; under one_for_one b is not held back by it (ready at t=2, not t=7)."""
    log = EventLog()

    async def slow_second_start(ctx: ChildContext) -> None:
        if ctx.incarnation > 1:
            await trio.sleep(5.0)
            await polite(ctx)
            return
        await fails_after(1.0)(ctx)

    sup = Supervisor(
        spec(
            ChildSpec(id="a", target=slow_second_start, backoff=NO_JITTER),
            ChildSpec(id="b", target=first_fails_after(1.0), backoff=NO_JITTER),
        ),
        hooks=[log],
    )
    await run_until(sup, stop_at=10.0)
    assert log.times("child.started", "a") == [0.0, 7.0]
    assert log.times("child.started", "b") == [0.0, 2.0]


# ---- 9. max_failures, and siblings stay undisturbed ----------------------------------------------------


@settings(max_examples=10)
@given(st.integers(min_value=1, max_value=6))
def test_flapping_child_gives_up_and_never_disturbs_its_siblings(max_failures: int) -> None:
    """The max_failures-th consecutive failure leaves the child FAILED; a sibling's
    incarnation stays 1 and its state RUNNING the whole time."""
    backoff = Backoff(min_delay=1.0, multiplier=2.0, jitter=0.0, max_failures=max_failures)
    gave_up_at, t = 0.0, 0.0
    for k in range(1, max_failures + 1):
        t += 1.0  # each incarnation fails 1 s after ready
        gave_up_at = t
        if k < max_failures:
            t += base_delay(backoff, k - 1)

    async def main() -> None:
        sibling_seen: list[tuple[ChildState, int]] = []
        holder: list[Supervisor] = []

        def watch_sibling(event: object) -> None:
            if holder and holder[0].state == "running":
                sibling_seen.append(states(holder[0])["sibling"])

        log = EventLog()
        sup = Supervisor(
            spec(
                ChildSpec(id="flappy", target=fails_after(1.0), backoff=backoff),
                ChildSpec(id="sibling", target=polite),
            ),
            hooks=[log, watch_sibling],
        )
        holder.append(sup)
        await run_until(sup, stop_at=gave_up_at + 5.0)

        assert log.times("child.gave_up", "flappy") == [gave_up_at]
        assert len(log.select("child.restart_scheduled", "flappy")) == max_failures - 1
        ((_, gave_up),) = log.select("child.gave_up", "flappy")
        assert gave_up.fields["consecutive_failures"] == max_failures
        assert sibling_seen  # the hook did observe the sibling during the flapping
        assert set(sibling_seen) == {(ChildState.RUNNING, 1)}
        assert log.select("child.exited", "sibling")[0][0] == gave_up_at + 5.0  # only the final stop

    run_on_mock_clock(main)


async def test_failed_child_snapshot(autojump_clock: MockClock) -> None:
    """The snapshot of a child that gave up: FAILED, with its counters and last error."""
    log = EventLog()
    backoff = Backoff(min_delay=1.0, jitter=0.0, max_failures=3)
    sup = Supervisor(
        spec(ChildSpec(id="flappy", target=fails_after(0.5), backoff=backoff), ChildSpec(id="s", target=polite)),
        hooks=[log],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(20.0)
        flappy, sibling = sup.snapshot().children
        sup.stop()
    assert (flappy.state, flappy.incarnation, flappy.restarts, flappy.consecutive_failures) == (
        ChildState.FAILED,
        3,
        2,
        3,
    )
    assert flappy.last_exit is not None
    assert (flappy.last_exit.error_type, flappy.last_exit.error) == ("ValueError", "ValueError: boom")
    assert (sibling.state, sibling.incarnation, sibling.restarts) == (ChildState.RUNNING, 1, 0)
    assert sup.snapshot().counts() == {"specs": 2, "active": 0, "backing_off": 0, "failed": 1}


# ---- 10/11/12. the stop protocol ---------------------------------------------------------------


async def test_children_stop_in_reverse_start_order(autojump_clock: MockClock) -> None:
    log = EventLog()
    sup = Supervisor(spec(*(ChildSpec(id=i, target=polite) for i in "abc")), hooks=[log])
    await run_until(sup, stop_at=1.0)
    assert [e.child for _, e in log.select("child.started")] == ["a", "b", "c"]
    assert [e.child for _, e in log.select("child.exited")] == ["c", "b", "a"]
    assert {c.state for c in sup.snapshot().children} == {ChildState.EXITED}


@settings(max_examples=30)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 1.0, 3.0])), min_size=1, max_size=5))
def test_stop_is_sequential_reverse_with_grace_then_cancel(children: list[tuple[bool, float]]) -> None:
    """Children stop one at a time, last started first; a polite one returns at once
    (outcome normal), a stubborn one is cancelled after exactly its shutdown grace."""
    stop_at = 2.0
    expected, timeouts, t = [], [], stop_at
    for i in reversed(range(len(children))):
        is_polite, grace = children[i]
        if not is_polite:
            t += grace
            if grace > 0:
                timeouts.append((f"c{i}", t))  # reported when its grace ran out
        expected.append((f"c{i}", t, "normal" if is_polite else "cancelled"))

    async def main() -> None:
        log = EventLog()
        specs = [
            ChildSpec(id=f"c{i}", target=polite if is_polite else stubborn, shutdown=grace)
            for i, (is_polite, grace) in enumerate(children)
        ]
        sup = Supervisor(spec(*specs), hooks=[log])
        await run_until(sup, stop_at=stop_at)
        assert [(e.child, t, e.fields["outcome"]) for t, e in log.select("child.exited")] == expected
        assert [(e.child, t) for t, e in log.select("child.stop_timeout")] == timeouts
        assert log.times("supervisor.stopped") == [expected[-1][1]]

    run_on_mock_clock(main)


async def test_grace_then_cancel(autojump_clock: MockClock) -> None:
    """shutdown=3, ignoring ctx.stopping: child.stop_timeout at exactly t_stop+3, then cancelled."""
    log = EventLog()
    sup = Supervisor(spec(ChildSpec(id="x", target=stubborn, shutdown=3.0)), hooks=[log])
    await run_until(sup, stop_at=7.0)
    assert log.times("supervisor.stopping") == [7.0]
    assert log.times("child.stop_timeout", "x") == [10.0]
    [(t, exited)] = log.select("child.exited", "x")
    assert (t, exited.fields["outcome"], exited.fields["uptime_s"]) == (10.0, "cancelled", 10.0)


async def test_well_behaved_child_exits_immediately_with_outcome_normal(autojump_clock: MockClock) -> None:
    log = EventLog()
    sup = Supervisor(spec(ChildSpec(id="p", target=polite, shutdown=3.0)), hooks=[log])
    await run_until(sup, stop_at=7.0)
    [(t, exited)] = log.select("child.exited", "p")
    assert (t, exited.fields["outcome"]) == (7.0, "normal")
    assert log.select("child.stop_timeout") == []
    assert log.times("supervisor.stopped") == [7.0]


async def test_shutdown_zero_cancels_at_once(autojump_clock: MockClock) -> None:
    """shutdown=0 is brutal_kill: no grace, no stop_timeout, outcome cancelled."""
    log = EventLog()
    sup = Supervisor(spec(ChildSpec(id="x", target=stubborn, shutdown=0.0)), hooks=[log])
    await run_until(sup, stop_at=7.0)
    [(t, exited)] = log.select("child.exited", "x")
    assert (t, exited.fields["outcome"]) == (7.0, "cancelled")
    assert log.select("child.stop_timeout") == []


async def test_second_stop_cancels_at_once(autojump_clock: MockClock) -> None:
    """stop() then stop() again: no 100 s grace, done at the second call."""
    log = EventLog()
    sup = Supervisor(
        spec(ChildSpec(id="a", target=polite), ChildSpec(id="x", target=stubborn, shutdown=100.0)), hooks=[log]
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(1.0)
        sup.stop()
        await trio.sleep(1.0)
        assert states(sup)["x"] == (ChildState.STOPPING, 1)  # still inside its grace
        sup.stop()
        await sup.wait_finished()
        assert trio.current_time() == 2.0
    # the hard stop cancels both at once (in no defined order), the polite one too
    assert sorted((e.child, t, e.fields["outcome"]) for t, e in log.select("child.exited")) == [
        ("a", 2.0, "cancelled"),
        ("x", 2.0, "cancelled"),
    ]
    assert log.select("child.stop_timeout") == []


async def test_double_stop_back_to_back(autojump_clock: MockClock) -> None:
    sup = Supervisor(spec(ChildSpec(id="x", target=stubborn, shutdown=100.0)))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(1.0)
        sup.stop()
        sup.stop()
        await sup.wait_finished()
        assert trio.current_time() == 1.0
    assert sup.state == "stopped"


async def test_stop_timeout_bounds_the_whole_stop(autojump_clock: MockClock) -> None:
    """SupervisorSpec.stop_timeout: after it, everything left is cancelled at once."""
    log = EventLog()
    children = [ChildSpec(id=i, target=stubborn, shutdown=10.0) for i in "abc"]
    sup = Supervisor(spec(*children, stop_timeout=15.0), hooks=[log])
    await run_until(sup, stop_at=1.0)
    exits = [(e.child, t) for t, e in log.select("child.exited")]
    assert exits[0] == ("c", 11.0)  # its own full grace
    assert sorted(exits[1:]) == [("a", 16.0), ("b", 16.0)]  # b mid-grace and a unasked: cancelled together
    assert [(e.child, t) for t, e in log.select("child.stop_timeout")] == [("c", 11.0)]


async def test_stop_during_backoff_is_immediate(autojump_clock: MockClock) -> None:
    """A 50 s backoff does not delay a stop requested at t=10."""
    log = EventLog()
    backoff = Backoff(min_delay=50.0, max_delay=50.0, jitter=0.0)
    sup = Supervisor(spec(ChildSpec(id="a", target=fails_after(0.0), backoff=backoff)), hooks=[log])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(10.0)
        [child] = sup.snapshot().children
        assert (child.state, child.next_restart_in_s, child.last_delay_s) == (ChildState.BACKING_OFF, 40.0, 50.0)
        sup.stop()
        await sup.wait_finished()
        assert trio.current_time() == 10.0
    assert log.times("supervisor.stopped") == [10.0]
    assert log.times("child.started", "a") == [0.0]  # the pending restart was dropped
    assert states(sup) == {"a": (ChildState.EXITED, 1)}


async def test_child_ending_on_its_own_during_the_stop_is_not_left_running(autojump_clock: MockClock) -> None:
    """stop() at t=1 stops b first (stubborn, 10 s grace); meanwhile a raises at t=5.
    Its exit message is never processed (the coordinator has left its loop).
    Regression: _stop_one used to skip such a finished child, so the final
    snapshot said a was RUNNING and active after run() returned."""
    sup = Supervisor(
        spec(ChildSpec(id="a", target=fails_after(5.0)), ChildSpec(id="b", target=stubborn, shutdown=10.0))
    )
    await run_until(sup, stop_at=1.0)
    assert trio.current_time() == 11.0
    assert sup.state == "stopped"
    assert states(sup) == {"a": (ChildState.EXITED, 1), "b": (ChildState.EXITED, 1)}
    assert sup.snapshot().counts()["active"] == 0


async def test_second_stop_leaves_no_child_running(autojump_clock: MockClock) -> None:
    """Double Ctrl-C flavour of the same regression: the hard stop cancels a (never
    asked yet, so RUNNING) directly; when _stop_one reaches it, it has ended and
    must still be marked EXITED."""
    sup = Supervisor(spec(ChildSpec(id="a", target=polite), ChildSpec(id="x", target=stubborn, shutdown=100.0)))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(1.0)
        sup.stop()
        await trio.sleep(1.0)
        sup.stop()
    assert states(sup) == {"a": (ChildState.EXITED, 1), "x": (ChildState.EXITED, 1)}


# ---- 14. readiness ---------------------------------------------------------------------------------


@settings(max_examples=20)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=4))
def test_start_returns_after_every_child_is_ready_in_order(delays: list[int]) -> None:
    """nursery.start(sup.run) returns once all children called ctx.started(), each
    child spawned only after the previous one was ready: ready times are prefix sums."""

    def slow_starter(seconds: int) -> Target:
        async def target(ctx: ChildContext) -> None:
            await trio.sleep(seconds)
            ctx.started()
            await ctx.stopping.wait()

        return target

    async def main() -> None:
        log = EventLog()
        children = [ChildSpec(id=f"c{k}", target=slow_starter(d)) for k, d in enumerate(delays)]
        sup = Supervisor(spec(*children), hooks=[log])
        async with trio.open_nursery() as nursery:
            assert await nursery.start(sup.run) is sup
            assert trio.current_time() == sum(delays)
            assert sup.state == "running"
            assert {c.state for c in sup.snapshot().children} == {ChildState.RUNNING}
            sup.stop()
        ready = [(e.child, t) for t, e in log.select("child.started")]
        prefix = [float(sum(delays[: k + 1])) for k in range(len(delays))]
        assert ready == [(f"c{k}", prefix[k]) for k in range(len(delays))]

    run_on_mock_clock(main)


# ---- 15. restart_on ------------------------------------------------------------------------------


async def test_not_retryable_error_gives_up_at_once(autojump_clock: MockClock) -> None:
    log = EventLog()
    backoff = Backoff(restart_on=lambda exc: not isinstance(exc, PermissionError))
    sup = Supervisor(spec(ChildSpec(id="a", target=fails_after(2.0, PermissionError), backoff=backoff)), hooks=[log])
    await run_until(sup, stop_at=30.0)
    assert log.select("child.restart_scheduled") == []
    [(t, gave_up)] = log.select("child.gave_up", "a")
    assert (t, gave_up.fields["reason"]) == (2.0, "not retryable: PermissionError: boom")
    assert states(sup) == {"a": (ChildState.FAILED, 1)}


# ---- 16. intensity -----------------------------------------------------------------------------------


async def test_intensity_exceeded_stops_everything(autojump_clock: MockClock) -> None:
    """Two children failing every 1 s, 0.5 s backoff, intensity=3 in 10 s:
    decisions at 1, 1, 2.5, 2.5 -> the fourth exceeds at t=2.5."""
    log = EventLog()
    backoff = Backoff(min_delay=0.5, max_delay=0.5, jitter=0.0)
    sup = Supervisor(
        spec(
            ChildSpec(id="a", target=fails_after(1.0), backoff=backoff),
            ChildSpec(id="b", target=fails_after(1.0), backoff=backoff),
            ChildSpec(id="p", target=polite),
            intensity=3,
            period=10.0,
        ),
        hooks=[log],
    )
    with pytest.raises(IntensityExceeded) as info:
        await run_to_end(sup)
    assert (info.value.restarts, info.value.period) == (4, 10.0)
    assert log.times("child.restart_scheduled") == [1.0, 1.0, 2.5]
    [(t, exceeded)] = log.select("supervisor.intensity_exceeded")
    assert (t, exceeded.fields["restarts"]) == (2.5, 4)
    [(_, stopping)] = log.select("supervisor.stopping")
    assert stopping.fields["reason"] == "intensity"
    assert sup.state == "failed"
    assert {c.state for c in sup.snapshot().children} == {ChildState.EXITED}
    assert log.names()[-1] == "supervisor.stopped"


# ---- 17. auto_shutdown -------------------------------------------------------------------------------


async def test_significant_child_finishing_stops_supervisor_normally(autojump_clock: MockClock) -> None:
    log = EventLog()
    sup = Supervisor(
        spec(
            ChildSpec(id="session", target=returns_after(5.0), restart=Restart.TRANSIENT, significant=True),
            ChildSpec(id="other", target=polite),
            auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        ),
        hooks=[log],
    )
    await run_to_end(sup)  # returns normally, no stop() needed
    assert trio.current_time() == 5.0
    assert [e.fields["reason"] for _, e in log.select("supervisor.stopping")] == ["auto_shutdown"]
    assert states(sup) == {"session": (ChildState.EXITED, 1), "other": (ChildState.EXITED, 1)}
    assert sup.state == "stopped"


@pytest.mark.parametrize(
    ("restart", "backoff", "failed_at", "reason"),
    [
        (Restart.TEMPORARY, NO_JITTER, 2.0, "temporary child failed"),
        (
            Restart.TRANSIENT,
            Backoff(min_delay=1.0, jitter=0.0, max_failures=2),
            5.0,
            "2 consecutive failures (max_failures)",
        ),
    ],
)
async def test_significant_child_giving_up_raises(
    autojump_clock: MockClock, restart: Restart, backoff: Backoff, failed_at: float, reason: str
) -> None:
    """A significant child that gives up (TEMPORARY error, or max_failures) fails the supervisor."""
    sup = Supervisor(
        spec(
            ChildSpec(id="session", target=fails_after(2.0), restart=restart, significant=True, backoff=backoff),
            ChildSpec(id="other", target=polite),
            auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        )
    )
    with pytest.raises(SignificantChildFailed) as info:
        await run_to_end(sup)
    assert (info.value.child, info.value.reason) == ("session", reason)
    assert trio.current_time() == failed_at
    assert sup.state == "failed"
    assert states(sup)["session"][0] is ChildState.FAILED


async def test_all_significant_waits_for_the_last_one(autojump_clock: MockClock) -> None:
    log = EventLog()
    sup = Supervisor(
        spec(
            ChildSpec(id="a", target=returns_after(3.0), restart=Restart.TRANSIENT, significant=True),
            ChildSpec(id="b", target=returns_after(7.0), restart=Restart.TRANSIENT, significant=True),
            ChildSpec(id="other", target=polite),
            auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
        ),
        hooks=[log],
    )
    await run_to_end(sup)
    assert trio.current_time() == 7.0
    assert log.times("supervisor.stopping") == [7.0]
    assert [(e.child, t) for t, e in log.select("child.exited")] == [("a", 3.0), ("b", 7.0), ("other", 7.0)]


async def test_all_significant_with_one_failed_raises(autojump_clock: MockClock) -> None:
    sup = Supervisor(
        spec(
            ChildSpec(id="a", target=fails_after(3.0), restart=Restart.TEMPORARY, significant=True),
            ChildSpec(id="b", target=returns_after(7.0), restart=Restart.TRANSIENT, significant=True),
            auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
        )
    )
    with pytest.raises(SignificantChildFailed) as info:
        await run_to_end(sup)
    assert (info.value.child, trio.current_time()) == ("a", 7.0)


# ---- 18. rest_for_one and one_for_all ----------------------------------------------------------------


def b_fails_once(strategy: Strategy, log: EventLog) -> Supervisor:
    """a, b, c under `strategy`; b fails once at t=1 and backs off 2 s."""
    return Supervisor(
        spec(
            ChildSpec(id="a", target=polite),
            ChildSpec(id="b", target=first_fails_after(1.0), backoff=Backoff(min_delay=2.0, jitter=0.0)),
            ChildSpec(id="c", target=polite),
            strategy=strategy,
        ),
        hooks=[log],
    )


async def test_rest_for_one_restarts_the_failed_child_and_those_after_it(autojump_clock: MockClock) -> None:
    """b fails at t=1 (delay 2): c is stopped right after b's failure, then b and c
    start again, in order, at t=3; a is untouched."""
    log = EventLog()
    sup = b_fails_once(Strategy.REST_FOR_ONE, log)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(10.0)
        snap = {c.id: c for c in sup.snapshot().children}
        sup.stop()
    after_start = [(e.name, e.child, t) for t, e in log.events if 0 < t < 10 and e.child is not None]
    assert after_start == [
        ("child.exited", "b", 1.0),
        ("child.restart_scheduled", "b", 1.0),
        ("child.exited", "c", 1.0),
        ("child.started", "b", 3.0),
        ("child.started", "c", 3.0),
    ]
    assert log.select("child.exited", "c")[0][1].fields["outcome"] == "normal"  # asked, not killed
    assert (snap["a"].state, snap["a"].incarnation) == (ChildState.RUNNING, 1)
    assert (snap["b"].incarnation, snap["b"].restarts, snap["b"].consecutive_failures) == (2, 1, 1)
    # restarted with its sibling: not its own failure, so no counter moves
    assert (snap["c"].incarnation, snap["c"].restarts, snap["c"].consecutive_failures) == (2, 0, 0)


async def test_one_for_all_restarts_everyone(autojump_clock: MockClock) -> None:
    """b fails at t=1: c then a are stopped (reverse order), all three start at t=3 in order."""
    log = EventLog()
    sup = b_fails_once(Strategy.ONE_FOR_ALL, log)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(10.0)
        assert {c.id: c.incarnation for c in sup.snapshot().children} == {"a": 2, "b": 2, "c": 2}
        sup.stop()
    assert [(e.child, t) for t, e in log.select("child.exited") if t < 10] == [("b", 1.0), ("c", 1.0), ("a", 1.0)]
    assert [(e.child, t) for t, e in log.select("child.started") if t > 0] == [("a", 3.0), ("b", 3.0), ("c", 3.0)]


async def test_temporary_sibling_is_not_restarted_with_the_group(autojump_clock: MockClock) -> None:
    """OTP: a temporary child stopped for a sibling's restart stays exited."""
    log = EventLog()
    sup = Supervisor(
        spec(
            ChildSpec(id="b", target=first_fails_after(1.0), backoff=Backoff(min_delay=2.0, jitter=0.0)),
            ChildSpec(id="t", target=polite, restart=Restart.TEMPORARY),
            strategy=Strategy.ONE_FOR_ALL,
        ),
        hooks=[log],
    )
    await run_until(sup, stop_at=10.0)
    assert log.times("child.started", "t") == [0.0]
    assert log.times("child.started", "b") == [0.0, 3.0]


async def test_group_stop_survives_a_pending_restart_deadline(autojump_clock: MockClock) -> None:
    """rest_for_one [a, b, c]. c fails at t=1 (restart due at t=11). a fails at t=5, so b
    and c must stop; b ignores its stop (grace 100 s). Regression: the coordinator
    used to handle a's exit inside `move_on_at(11)`, so at t=11 the wait for b was
    cut short and b was left STOPPING for ever. Now b is cancelled at t=105, then
    a, b, c start again in order."""
    log = EventLog()
    sup = Supervisor(
        spec(
            ChildSpec(id="a", target=first_fails_after(5.0), backoff=Backoff(min_delay=1.0, jitter=0.0)),
            ChildSpec(id="b", target=stubborn, shutdown=100.0),
            ChildSpec(id="c", target=first_fails_after(1.0), backoff=Backoff(min_delay=10.0, jitter=0.0)),
            strategy=Strategy.REST_FOR_ONE,
        ),
        hooks=[log],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(200.0)
        at_200 = states(sup)
        sup.stop()
        sup.stop()
    assert log.times("child.stop_timeout", "b") == [105.0]
    assert at_200 == {"a": (ChildState.RUNNING, 2), "b": (ChildState.RUNNING, 2), "c": (ChildState.RUNNING, 2)}


async def test_stop_during_a_group_stop_is_clean(autojump_clock: MockClock) -> None:
    """rest_for_one [b, c, d]: b fails at t=1, so d (grace 10 s, ignores the stop) and
    then c must stop; sup.stop() arrives at t=3, in the middle of that.

    Regression test: at 0d6eb2f the stop interrupted the group stop, the still-running
    c was marked BACKING_OFF then EXITED, and stopping it raised
    RuntimeError('illegal child transition exited -> stopping') out of run().
    Now the group stop completes (d cancelled at t=11) and the supervisor stops cleanly.
    """
    log = EventLog()
    sup = Supervisor(
        spec(
            ChildSpec(id="b", target=first_fails_after(1.0)),
            ChildSpec(id="c", target=polite),
            ChildSpec(id="d", target=stubborn, shutdown=10.0),
            strategy=Strategy.REST_FOR_ONE,
        ),
        hooks=[log],
    )
    await run_until(sup, stop_at=3.0)
    assert sup.state == "stopped"
    assert {c.state for c in sup.snapshot().children} == {ChildState.EXITED}
    assert log.times("child.stop_timeout", "d") == [11.0]  # its full grace, counted from t=1
    assert log.select("child.started", "b")[1:] == []  # nothing restarted once stopping


# ---- 19. nested supervisors ---------------------------------------------------------------------------


async def test_nested_snapshot_and_graceful_parent_stop(autojump_clock: MockClock) -> None:
    """The nested status sits inside the parent's; stopping the parent stops the nested
    children gracefully (polite children return: outcome normal), innermost first."""
    log = EventLog()
    inner = SupervisorSpec(id="inner", children=[ChildSpec(id="x", target=polite), ChildSpec(id="y", target=polite)])
    outer = spec(ChildSpec(id="first", target=polite), supervisor_child(inner), id="outer")
    sup = Supervisor(outer, hooks=[log])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        snap = sup.snapshot()
        nested = snap.children[1]
        assert (nested.id, nested.kind, nested.state) == ("inner", "supervisor", ChildState.RUNNING)
        assert nested.children is not None
        assert [(c.id, c.state) for c in nested.children.children] == [
            ("x", ChildState.RUNNING),
            ("y", ChildState.RUNNING),
        ]
        assert [path for path, _ in snap.walk()] == ["first", "inner", "inner.x", "inner.y"]
        await trio.sleep(4.0)
        sup.stop()
    exits = [(e.supervisor, e.child, e.fields["outcome"]) for t, e in log.select("child.exited") if t == 4.0]
    assert exits == [
        ("inner", "y", "normal"),
        ("inner", "x", "normal"),
        ("outer", "inner", "normal"),
        ("outer", "first", "normal"),
    ]
    assert [e.fields["reason"] for _, e in log.select("supervisor.stopping", supervisor="inner")] == ["parent"]


async def test_nested_supervisor_exceeding_intensity_is_failed_not_restarted(autojump_clock: MockClock) -> None:
    """Inner intensity=2: failures at 0.5, 2, 4.5 exceed it at t=4.5. The parent marks
    the nested supervisor FAILED (IntensityExceeded is not retryable) and its sibling runs on."""
    log = EventLog()
    inner = SupervisorSpec(
        id="inner", intensity=2, period=100.0, children=[ChildSpec(id="f", target=fails_after(0.5), backoff=NO_JITTER)]
    )
    sup = Supervisor(spec(supervisor_child(inner), ChildSpec(id="sib", target=polite), id="outer"), hooks=[log])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(20.0)
        at_20 = states(sup)
        sup.stop()
    assert log.times("supervisor.intensity_exceeded", supervisor="inner") == [4.5]
    [(t, gave_up)] = log.select("child.gave_up", "inner")
    assert t == 4.5
    assert gave_up.fields["reason"].startswith("not retryable: IntensityExceeded")
    assert log.select("child.restart_scheduled", supervisor="outer") == []
    assert at_20 == {"inner": (ChildState.FAILED, 1), "sib": (ChildState.RUNNING, 1)}


# ---- 20. only Exception is a failure -----------------------------------------------------------------------


async def test_keyboard_interrupt_propagates_and_is_not_a_failure(autojump_clock: MockClock) -> None:
    log = EventLog()
    sup = Supervisor(
        spec(ChildSpec(id="k", target=fails_after(1.0, KeyboardInterrupt)), ChildSpec(id="p", target=polite)),
        hooks=[log],
    )
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        await run_to_end(sup)
    assert trio.current_time() == 1.0
    assert log.select("child.restart_scheduled") == []
    assert log.select("child.gave_up") == []
    # Never classified as a failure (no restart, no failure counted); its task
    # ended, so the final snapshot says exited, not a stale running.
    assert states(sup)["k"] == (ChildState.EXITED, 1)
    assert sup.snapshot().children[0].consecutive_failures == 0
    assert sup.snapshot().children[0].consecutive_failures == 0


async def test_outer_cancellation_is_not_a_failure(autojump_clock: MockClock) -> None:
    """Cancelling the scope around run() ends it at once; no child counts a failure."""
    log = EventLog()
    sup = Supervisor(
        spec(ChildSpec(id="x", target=stubborn, shutdown=100.0), ChildSpec(id="p", target=polite)), hooks=[log]
    )
    with trio.move_on_after(5.0) as scope:
        await sup.run()
    assert scope.cancelled_caught
    assert trio.current_time() == 5.0
    assert log.select("child.restart_scheduled") == []
    assert {e.fields["outcome"] for _, e in log.select("child.exited")} == {"cancelled"}
    assert [e.fields["reason"] for _, e in log.select("supervisor.stopped")] == ["cancelled"]
    assert all(c.consecutive_failures == 0 for c in sup.snapshot().children)


# ---- 21. ready_timeout ---------------------------------------------------------------------------------


async def test_ready_timeout_is_a_start_error_and_restarts_with_backoff(autojump_clock: MockClock) -> None:
    """Never calling started() with ready_timeout=5 fails with StartTimeout at t=5,
    then restarts after the backoff (1 s, 2 s, ...): timeouts at 5, 11, 18."""
    log = EventLog()

    async def never_ready(ctx: ChildContext) -> None:
        await trio.sleep_forever()

    sup = Supervisor(
        spec(
            ChildSpec(id="s", target=never_ready, ready_timeout=5.0, backoff=NO_JITTER),
            ChildSpec(id="p", target=polite),
        ),
        hooks=[log],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert trio.current_time() == 5.0  # start-up waits for the child to settle
        await trio.sleep(15.0)
        sup.stop()
    exits = log.select("child.exited", "s")
    assert [(t, e.fields["error_type"]) for t, e in exits[:3]] == [
        (5.0, "StartTimeout"),
        (11.0, "StartTimeout"),
        (18.0, "StartTimeout"),
    ]
    assert exits[0][1].fields["error"] == f"StartTimeout: {StartTimeout('s', 5.0)}"
    assert [e.fields["delay_s"] for _, e in log.select("child.restart_scheduled", "s")] == [1.0, 2.0, 4.0]
    assert log.select("child.started", "s") == []


async def test_ready_timeout_no_longer_applies_once_ready(autojump_clock: MockClock) -> None:
    """ready_timeout bounds the wait for started() only: a child ready at t=1 runs on."""
    log = EventLog()

    async def ready_late(ctx: ChildContext) -> None:
        await trio.sleep(1.0)
        await polite(ctx)

    sup = Supervisor(spec(ChildSpec(id="s", target=ready_late, ready_timeout=5.0)), hooks=[log])
    await run_until(sup, stop_at=20.0)
    assert log.times("child.started", "s") == [1.0]
    [(t, exited)] = log.select("child.exited", "s")
    assert (t, exited.fields["outcome"]) == (20.0, "normal")


# ---- 22. signals ----------------------------------------------------------------------------------------


async def test_sigterm_stops_gracefully(autojump_clock: MockClock) -> None:
    log = EventLog()
    seen: list[tuple[int, bool]] = []
    sup = Supervisor(spec(ChildSpec(id="p", target=polite)), hooks=[log])
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_until_signalled(
                sup, on_signal=lambda s, h: seen.append((s, h)), task_status=task_status
            )
        )
        await trio.sleep(1.0)
        signal.raise_signal(signal.SIGTERM)
    assert seen == [(signal.SIGTERM, False)]
    assert trio.current_time() == 1.0
    assert [e.fields["reason"] for _, e in log.select("supervisor.stopping")] == ["signal:SIGTERM"]
    assert [e.fields["outcome"] for _, e in log.select("child.exited")] == ["normal"]
    assert sup.state == "stopped"


async def test_second_sigterm_stops_at_once(autojump_clock: MockClock) -> None:
    log = EventLog()
    seen: list[tuple[int, bool]] = []
    sup = Supervisor(spec(ChildSpec(id="x", target=stubborn, shutdown=1000.0)), hooks=[log])
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_until_signalled(
                sup, on_signal=lambda s, h: seen.append((s, h)), task_status=task_status
            )
        )
        await trio.sleep(1.0)
        signal.raise_signal(signal.SIGTERM)
        await trio.sleep(5.0)
        assert sup.state == "stopping"
        signal.raise_signal(signal.SIGTERM)
    assert seen == [(signal.SIGTERM, False), (signal.SIGTERM, True)]
    assert trio.current_time() == 6.0
    assert log.select("child.stop_timeout") == []
    assert [e.fields["outcome"] for _, e in log.select("child.exited")] == ["cancelled"]


async def test_run_until_signalled_raises_supervisor_errors_unwrapped(autojump_clock: MockClock) -> None:
    sup = Supervisor(spec(ChildSpec(id="f", target=fails_after(1.0), backoff=NO_JITTER), intensity=0))
    with pytest.raises(IntensityExceeded), trio.fail_after(1000.0):
        await run_until_signalled(sup)
    assert trio.current_time() == 1.0


def ending_by_itself_while_speaking(finished_turn: list[float]) -> Supervisor:
    """A session that finishes its turn in 4 s after a stop request (grace 10 s),
    and a significant input that ends at 2 s, which starts an auto-shutdown."""

    async def speaking(ctx: ChildContext) -> None:
        ctx.started()
        await ctx.stopping.wait()
        await trio.sleep(4.0)
        finished_turn.append(trio.current_time())

    async def done_after_2(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep(2.0)

    return Supervisor(
        SupervisorSpec(
            id="sup",
            children=[
                ChildSpec(id="session", target=speaking, shutdown=10.0),
                ChildSpec(id="input", target=done_after_2, restart=Restart.TRANSIENT, significant=True),
            ],
            auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        )
    )


async def test_a_first_stop_during_an_auto_shutdown_stays_graceful(autojump_clock: MockClock) -> None:
    """The supervisor began stopping by itself at t=2; the user's first stop() at
    t=3 must not count as the second, hard one: the turn still finishes at t=6."""
    finished_turn: list[float] = []
    sup = ending_by_itself_while_speaking(finished_turn)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(3.0)
        sup.stop()
    assert finished_turn == [6.0]
    assert trio.current_time() == 6.0


async def test_a_second_stop_during_an_auto_shutdown_cuts_the_turn(autojump_clock: MockClock) -> None:
    finished_turn: list[float] = []
    sup = ending_by_itself_while_speaking(finished_turn)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(3.0)
        sup.stop()
        await trio.sleep(0.5)
        sup.stop()
    assert finished_turn == []
    assert trio.current_time() == 3.5


async def test_cancel_on_stop_forgets_its_scopes(autojump_clock: MockClock) -> None:
    """A session opens one scope per turn; a night of turns must not pile them up."""
    held: list[int] = []

    async def turns(ctx: ChildContext) -> None:
        ctx.started()
        for _ in range(1000):
            with ctx.cancel_on_stop():
                await trio.sleep(1)
        held.append(len(ctx._stop_scopes))
        with ctx.cancel_on_stop():
            await trio.sleep_forever()

    sup = Supervisor(spec(ChildSpec(id="s", target=turns)))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(2000)
        sup.stop()
    assert held == [0]
    assert trio.current_time() == 2000  # the open scope was still cancelled by the stop


async def test_a_hard_stop_leaves_no_stale_state_in_a_nested_tree(autojump_clock: MockClock) -> None:
    """Graceful stop, then a hard one while the nested child ignores its stop:
    every node of the final snapshot says exited, none says stopping."""
    inner = SupervisorSpec(id="inner", children=[ChildSpec(id="w", target=stubborn, shutdown=10.0)])
    root = Supervisor(SupervisorSpec(id="root", children=[supervisor_child(inner)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        root.stop()
        await trio.sleep(1)
        root.stop()
    assert trio.current_time() == 1.0
    rows = {path: status.state for path, status in root.snapshot().walk()}
    assert rows == {"inner": ChildState.EXITED, "inner.w": ChildState.EXITED}


# ---- stopping and starting one child on request ------------------------------------------------


async def test_a_child_stopped_on_request_stays_stopped_until_started(autojump_clock: MockClock) -> None:
    sup = Supervisor(spec(ChildSpec(id="a", target=polite, backoff=NO_JITTER), ChildSpec(id="b", target=polite)))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert await sup.stop_child("a") is True
        await trio.sleep(3600)
        snapshot = {c.id: c for c in sup.snapshot().children}
        assert snapshot["a"].state is ChildState.STOPPED
        assert (snapshot["a"].restarts, snapshot["a"].consecutive_failures, snapshot["a"].incarnation) == (0, 0, 1)
        assert snapshot["b"].state is ChildState.RUNNING and snapshot["b"].incarnation == 1
        assert await sup.stop_child("a") is True  # stopping a stopped child changes nothing
        assert await sup.start_child("a") is True
        await trio.sleep(1)
        assert states(sup) == {"a": (ChildState.RUNNING, 2), "b": (ChildState.RUNNING, 1)}
        sup.stop()
    assert sup.state == "stopped"


async def test_a_stop_during_backoff_cancels_the_restart(autojump_clock: MockClock) -> None:
    sup = Supervisor(spec(ChildSpec(id="a", target=fails_after(1.0), backoff=Backoff(min_delay=10.0, jitter=0.0))))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(2.0)  # failed at 1.0, restart due at 11.0
        assert states(sup)["a"][0] is ChildState.BACKING_OFF
        assert await sup.stop_child("a") is True
        await trio.sleep(100)
        assert states(sup)["a"] == (ChildState.STOPPED, 1)
        assert await sup.start_child("a") is True  # a fresh failure budget
        await trio.sleep(0.5)
        child = sup.snapshot().children[0]
        assert (child.state, child.incarnation, child.consecutive_failures) == (ChildState.RUNNING, 2, 0)
        sup.stop()


async def test_a_stopped_child_is_not_restarted_with_a_failing_sibling(autojump_clock: MockClock) -> None:
    sup = Supervisor(
        spec(
            ChildSpec(id="quiet", target=polite),
            ChildSpec(id="flaky", target=first_fails_after(5.0), backoff=NO_JITTER),
            strategy=Strategy.ONE_FOR_ALL,
        )
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert await sup.stop_child("quiet") is True
        await trio.sleep(20)  # flaky failed at 5 and was restarted, with everyone else that runs
        assert states(sup) == {"quiet": (ChildState.STOPPED, 1), "flaky": (ChildState.RUNNING, 2)}
        sup.stop()


async def test_stopping_a_significant_child_on_request_does_not_end_the_supervisor(autojump_clock: MockClock) -> None:
    sup = Supervisor(
        spec(
            ChildSpec(id="main", target=polite, restart=Restart.TRANSIENT, significant=True),
            ChildSpec(id="other", target=polite),
            auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        )
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert await sup.stop_child("main") is True
        await trio.sleep(60)
        assert sup.state == "running"
        sup.stop()


async def test_commands_after_the_end_are_refused(autojump_clock: MockClock) -> None:
    sup = Supervisor(spec(ChildSpec(id="a", target=polite)))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.stop()
    assert await sup.stop_child("a") is False
    assert await sup.start_child("a") is False
    with pytest.raises(KeyError):
        await sup.stop_child("nobody")


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from(["stop", "start", "wait"]), st.floats(0, 30, allow_nan=False)),
        max_size=12,
    )
)
def test_stopped_means_down_and_uncounted_whatever_the_order(ops: list[tuple[str, float]]) -> None:
    """Any interleaving of stop_child, start_child, failures and time: while
    stopped the child never runs, and only its own failures move the counters."""

    async def main() -> None:
        flaky = Backoff(min_delay=2.0, jitter=0.0)
        sup = Supervisor(
            spec(ChildSpec(id="a", target=fails_after(7.0), backoff=flaky), ChildSpec(id="b", target=polite))
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            for op, dt in ops:
                if op == "stop":
                    assert await sup.stop_child("a") is True
                    before = sup.snapshot().children[0]
                    await trio.sleep(dt)
                    after = sup.snapshot().children[0]
                    assert after.state is ChildState.STOPPED
                    assert (after.incarnation, after.restarts) == (before.incarnation, before.restarts)
                elif op == "start":
                    assert await sup.start_child("a") is True
                    up = (ChildState.STARTING, ChildState.RUNNING, ChildState.BACKING_OFF)  # or about to be
                    assert sup.snapshot().children[0].state in up
                else:
                    await trio.sleep(dt)
                assert states(sup)["b"] == (ChildState.RUNNING, 1)  # the sibling never noticed
            sup.stop()

    run_on_mock_clock(main)
