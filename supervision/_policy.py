"""The supervision policy: pure functions and tables, no Trio.

Theory of operation
-------------------

A child runs as a series of *incarnations*. Each incarnation ends in one of
three outcomes: its target returned (NORMAL), it raised an `Exception`
(ERROR), or this supervisor cancelled it (CANCELLED). Anything that is not an
`Exception` (trio.Cancelled from further out, KeyboardInterrupt) is never
classified here: it propagates, because it is not the child's failure.

What happens next is a lookup in DECISION_TABLE by (restart type, outcome),
refined by two budgets:

* the child's own: `Backoff.max_failures` consecutive failures and the
  `restart_on` predicate. Exhausting it leaves the child `failed` while its
  siblings go on (systemd's start-limit-hit);
* the supervisor's: OTP's sliding window, more than `intensity` restart
  decisions within `period` seconds stops the whole supervisor.

The consecutive-failure counter `n` drives both the delay and the budget. It
resets when an incarnation stayed ready for `reset_after` seconds, so a child
that ran well for an hour and then broke starts again from the short delay.

Rule: nothing restarts while the supervisor is stopping. That is checked
before the table is consulted, so no table row can override it.

Child states follow systemd's vocabulary; CHILD_TRANSITIONS lists every legal
move, and the runtime refuses any other (h11 style: the table is the spec).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterable

import attrs

from ._spec import Backoff, Restart


class Outcome(enum.Enum):
    """How one incarnation ended."""

    NORMAL = "normal"  # the target returned
    ERROR = "error"  # the target raised an Exception
    CANCELLED = "cancelled"  # this supervisor stopped it


class Action(enum.Enum):
    """What the supervisor does about an ended incarnation."""

    RESTART = "restart"  # back off, then start a new incarnation
    EXIT = "exit"  # done for good, state `exited`
    GIVE_UP = "give_up"  # done for good, state `failed`
    STOPPED = "stopped"  # the supervisor asked for it; nothing to decide


# (restart type, outcome) -> action, before the budgets are applied.
DECISION_TABLE: dict[tuple[Restart, Outcome], Action] = {
    # A permanent child is never supposed to return: restart it, logged as
    # an unexpected exit and counted as a failure for the backoff.
    (Restart.PERMANENT, Outcome.NORMAL): Action.RESTART,
    (Restart.PERMANENT, Outcome.ERROR): Action.RESTART,
    (Restart.PERMANENT, Outcome.CANCELLED): Action.STOPPED,
    (Restart.TRANSIENT, Outcome.NORMAL): Action.EXIT,
    (Restart.TRANSIENT, Outcome.ERROR): Action.RESTART,
    (Restart.TRANSIENT, Outcome.CANCELLED): Action.STOPPED,
    (Restart.TEMPORARY, Outcome.NORMAL): Action.EXIT,
    (Restart.TEMPORARY, Outcome.ERROR): Action.GIVE_UP,
    (Restart.TEMPORARY, Outcome.CANCELLED): Action.STOPPED,
}


@attrs.frozen
class Decision:
    action: Action
    reason: str  # why, in words a status line can show
    failures: int  # consecutive failures after this exit (the new `n`)


def failures_before_exit(backoff: Backoff, failures: int, ready_for: float | None) -> int:
    """The reset rule: a long enough ready period forgives past failures.

    `ready_for` is how long the incarnation had been ready (None if it never
    called `ctx.started()`, in which case nothing is forgiven).
    """
    if ready_for is not None and ready_for >= backoff.reset_after:
        return 0
    return failures


def decide(
    restart: Restart,
    outcome: Outcome,
    *,
    backoff: Backoff,
    failures: int,
    error: BaseException | None = None,
    stopping: bool = False,
) -> Decision:
    """Decide what to do after an incarnation ended.

    `failures` is the consecutive-failure count *before* this exit, after the
    reset rule was applied.
    """
    if stopping:
        return Decision(Action.STOPPED, "supervisor stopping", failures)
    action = DECISION_TABLE[(restart, outcome)]
    if action is Action.STOPPED:
        return Decision(action, "stopped by supervisor", failures)
    if action is Action.EXIT:
        return Decision(action, "finished", failures)
    failures += 1
    if action is Action.GIVE_UP:
        return Decision(action, f"{restart.value} child failed", failures)
    if error is not None and not backoff.restart_on(error):
        return Decision(Action.GIVE_UP, f"not retryable: {describe_error(error)}", failures)
    if backoff.max_failures is not None and failures >= backoff.max_failures:
        return Decision(Action.GIVE_UP, f"{failures} consecutive failures (max_failures)", failures)
    reason = describe_error(error) if error is not None else "unexpected exit of a permanent child"
    return Decision(Action.RESTART, reason, failures)


def describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def base_delay(backoff: Backoff, n: int) -> float:
    """`min(max_delay, min_delay * multiplier**n)`, without overflowing for big n."""
    if n <= 0 or backoff.multiplier == 1:
        return min(backoff.max_delay, backoff.min_delay)
    # Compare in log space: multiplier**n overflows a float near n = 1024,
    # and max/min itself can overflow for extreme settings, so subtract logs.
    if n * math.log(backoff.multiplier) >= math.log(backoff.max_delay) - math.log(backoff.min_delay):
        return backoff.max_delay
    try:
        return min(backoff.max_delay, backoff.min_delay * backoff.multiplier**n)
    except OverflowError:  # rounding at the very edge of the float range
        return backoff.max_delay


def backoff_delay(backoff: Backoff, n: int, u: float) -> float:
    """The delay before restart number n+1; `u` is uniform in [0, 1)."""
    return base_delay(backoff, n) * (1.0 - backoff.jitter * u)


class RestartWindow:
    """OTP restart intensity: a sliding window over restart decisions.

    `record(now)` notes one restart decided at `now` and answers whether the
    supervisor has now seen more than `intensity` restarts in the last
    `period` seconds (the window is closed: a restart exactly `period`
    seconds ago still counts, as in OTP's `R >= Now - Period`).
    """

    def __init__(self, intensity: int, period: float) -> None:
        self.intensity = intensity
        self.period = period
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] < now - self.period:
            self._times.popleft()

    def record(self, now: float) -> bool:
        self._expire(now)
        self._times.append(now)
        return len(self._times) > self.intensity

    def recent(self, now: float) -> int:
        self._expire(now)
        return len(self._times)


def exceeded_by_oracle(times: Iterable[float], now: float, intensity: int, period: float) -> bool:
    """Brute force of the window rule, for tests: count, don't slide."""
    return sum(1 for t in times if now - period <= t <= now) > intensity


def fastest_flap_span(backoff: Backoff, intensity: int) -> float:
    """Least time one child failing instantly needs for intensity+1 decisions.

    Between its decisions sit `intensity` backoff sleeps, each at least
    `base * (1 - jitter)`. If this span exceeds the supervisor's `period`, a
    single flapping child can never trip the intensity, and only its own
    `max_failures` stops it: worth a warning, because people expect the
    supervisor to catch a flapping child.
    """
    span = 0.0
    for i in range(intensity):
        base = base_delay(backoff, i)
        if base >= backoff.max_delay:  # capped from here on: the rest in one step
            return span + (intensity - i) * base * (1.0 - backoff.jitter)
        span += base * (1.0 - backoff.jitter)
    return span


def single_child_can_exceed(backoff: Backoff, intensity: int, period: float) -> bool:
    # The max_failures-th failure gives up without a restart decision, so a
    # child makes at most max_failures - 1 decisions; exceeding needs
    # intensity + 1 of them.
    if backoff.max_failures is not None and backoff.max_failures - 1 <= intensity:
        return False
    return fastest_flap_span(backoff, intensity) <= period


class ChildState(enum.Enum):
    """systemd's vocabulary; `running` means ready."""

    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    STOPPING = "stopping"
    EXITED = "exited"
    FAILED = "failed"
    STOPPED = "stopped"  # stopped on request (stop_child): not a failure, not restarted until started


_S = ChildState
# Every legal move of a child. The runtime checks each transition against it.
CHILD_TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    # ready; exited before ready (restart, done, gave up); asked to stop
    _S.STARTING: frozenset({_S.RUNNING, _S.BACKING_OFF, _S.EXITED, _S.FAILED, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.BACKING_OFF, _S.EXITED, _S.FAILED, _S.STOPPING}),
    # the delay ran out; stopped while waiting; a sibling's restart stops it;
    # stopped on request while waiting
    _S.BACKING_OFF: frozenset({_S.STARTING, _S.EXITED, _S.STOPPED}),
    # a stopped child is done (EXITED), restarted with a sibling, or stopped on request
    _S.STOPPING: frozenset({_S.EXITED, _S.BACKING_OFF, _S.STOPPED}),
    # explicitly started again (or restarted with a sibling)
    _S.EXITED: frozenset({_S.STARTING, _S.BACKING_OFF}),
    _S.FAILED: frozenset({_S.STARTING}),
    # only start_child brings it back
    _S.STOPPED: frozenset({_S.STARTING}),
}


def check_transition(old: ChildState, new: ChildState) -> None:
    if new not in CHILD_TRANSITIONS[old]:
        raise RuntimeError(f"illegal child transition {old.value} -> {new.value}")
