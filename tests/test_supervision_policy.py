"""Property tests of the pure supervision policy (supervision._policy, _spec).

No Trio here: the policy is plain functions and tables, so these run thousands
of cheap examples. The runtime tests check that the runtime applies them.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from strategies import backoffs, restart_timestamps
from supervision import AutoShutdown, Backoff, ChildSpec, InvalidSpec, Restart, SupervisorSpec
from supervision._policy import (
    CHILD_TRANSITIONS,
    DECISION_TABLE,
    Action,
    ChildState,
    Outcome,
    RestartWindow,
    backoff_delay,
    base_delay,
    check_transition,
    decide,
    exceeded_by_oracle,
    failures_before_exit,
    single_child_can_exceed,
)

ns = st.one_of(st.integers(min_value=0, max_value=2000), st.just(10**6), st.integers(min_value=0, max_value=10**9))
us = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def expected_base(b: Backoff, n: int) -> float:
    """The documented formula, evaluated with exact integer powers (no float overflow)."""
    if b.multiplier == 1.0 or n == 0:
        return min(b.max_delay, b.min_delay)
    # multiplier**n >= max/min  <=>  the cap applies; compare without overflow
    if n * math.log(b.multiplier) > math.log(b.max_delay / b.min_delay) + 1e-9:
        return b.max_delay
    return min(b.max_delay, b.min_delay * b.multiplier**n)


async def _never_called(ctx: object) -> None:
    raise AssertionError("specs are only validated here")


# ---- 1. delay bounds ----------------------------------------------------------------


@given(backoffs(), ns, us)
@example(Backoff(min_delay=1.0, max_delay=60.0, multiplier=2.0, jitter=0.0), 10**6, 0.0)
@example(Backoff(min_delay=1e-3, max_delay=1e6, multiplier=1e3, jitter=1.0), 10**9, 0.999)
def test_delay_within_jitter_band_and_never_above_max(b: Backoff, n: int, u: float) -> None:
    """delay = base*(1 - jitter*u) lies in [base*(1-jitter), base] and never above max_delay,
    for any n (no OverflowError even at n = 10**6)."""
    base = base_delay(b, n)
    delay = backoff_delay(b, n, u)
    assert base == pytest.approx(expected_base(b, n), rel=1e-9)
    assert b.min_delay <= base <= b.max_delay
    assert base * (1 - b.jitter) <= delay <= base <= b.max_delay
    if b.jitter == 0 or u == 0:
        assert delay == base  # closed at base; jitter 0 means exactly base


@given(backoffs(jitter=st.floats(min_value=1e-3, max_value=1.0)), ns, st.floats(min_value=0.0, max_value=1 - 2**-20))
def test_jitter_only_shortens_strictly_above_the_floor(b: Backoff, n: int, u: float) -> None:
    """With real jitter the lower end is open: u < 1 keeps the delay above base*(1-jitter).

    (u stays a little below 1 here: at u = 1 - 2**-53 the float product rounds
    onto the floor itself, a last-ulp effect that the closed bound above allows.)
    """
    base = base_delay(b, n)
    assert base * (1 - b.jitter) < backoff_delay(b, n, u)


@given(st.integers(min_value=0, max_value=10**7))
def test_default_backoff_caps_at_max_delay(n: int) -> None:
    """Defaults: 1, 2, 4, ... 32, then 60 for ever (jitter 0 for exactness)."""
    b = Backoff(jitter=0.0)
    assert backoff_delay(b, n, 0.5) == (2.0**n if n <= 5 else 60.0)


def test_huge_n_with_extreme_delay_ratio_does_not_overflow() -> None:
    """Regression: max_delay/min_delay overflows to inf; the log-space guard must
    still cap n (it subtracts logs), so no OverflowError, just max_delay."""
    b = Backoff(min_delay=1e-300, max_delay=1e10, jitter=0.0)
    assert backoff_delay(b, 10**6, 0.0) == 1e10


# ---- 2. monotone in n ------------------------------------------------------------------


@given(backoffs(jitter=st.just(0.0)), ns, st.integers(min_value=0, max_value=10**6))
def test_delay_monotone_in_n_without_jitter(b: Backoff, n: int, k: int) -> None:
    """More consecutive failures never shorten the delay when jitter is 0."""
    assert backoff_delay(b, n, 0.0) <= backoff_delay(b, n + k, 0.0)
    assert backoff_delay(b, n, 0.0) <= backoff_delay(b, n + 1, 0.0)


# ---- 3. the reset rule ----------------------------------------------------------------------


@given(
    backoffs(),
    st.integers(min_value=0, max_value=10**6),
    st.one_of(st.none(), st.floats(min_value=0.0, max_value=1e5), st.sampled_from([0.0, 1e-3, 60.0])),
)
def test_reset_rule(b: Backoff, failures: int, ready_for: float | None) -> None:
    """Only an incarnation that stayed ready for >= reset_after forgives past failures."""
    got = failures_before_exit(b, failures, ready_for)
    if ready_for is not None and ready_for >= b.reset_after:
        assert got == 0
    else:
        assert got == failures


@given(backoffs(), st.integers(min_value=1, max_value=100))
def test_reset_rule_boundary_is_closed(b: Backoff, failures: int) -> None:
    """Exactly reset_after seconds of readiness is enough; a hair less is not."""
    assert failures_before_exit(b, failures, b.reset_after) == 0
    assert failures_before_exit(b, failures, math.nextafter(b.reset_after, 0.0)) == failures
    assert failures_before_exit(b, failures, None) == failures


# ---- 4. the restart window ------------------------------------------------------------------


@given(
    restart_timestamps(),
    st.integers(min_value=0, max_value=8),
    st.one_of(st.integers(min_value=1, max_value=20).map(float), st.floats(min_value=1e-3, max_value=50.0)),
)
def test_restart_window_matches_brute_force_oracle(times: list[float], intensity: int, period: float) -> None:
    """Sliding window == "more than intensity timestamps in [now-period, now]", at every prefix."""
    window = RestartWindow(intensity, period)
    for i, now in enumerate(times):
        seen = times[: i + 1]
        assert window.record(now) == exceeded_by_oracle(seen, now, intensity, period)
        assert window.recent(now) == sum(1 for t in seen if now - period <= t <= now)


def test_restart_window_is_closed_at_period() -> None:
    """OTP's R >= Now - Period: a restart exactly `period` ago still counts."""
    window = RestartWindow(intensity=1, period=10.0)
    assert window.record(0.0) is False
    assert window.record(10.0) is True  # 0.0 is still inside [0, 10]
    window = RestartWindow(intensity=1, period=10.0)
    assert window.record(0.0) is False
    assert window.record(10.5) is False


# ---- 5. the decision table -------------------------------------------------------------------

restarts = st.sampled_from(Restart)
outcomes = st.sampled_from(Outcome)
errors = st.one_of(st.none(), st.builds(ValueError, st.text(max_size=5)), st.builds(RuntimeError))


def test_decision_table_is_total() -> None:
    """Every (restart type, outcome) pair has exactly one row, and no row restarts a cancelled child."""
    assert set(DECISION_TABLE) == set(itertools.product(Restart, Outcome))
    for (_restart, outcome), action in DECISION_TABLE.items():
        assert (outcome is Outcome.CANCELLED) == (action is Action.STOPPED)


@given(restarts, outcomes, backoffs(), st.integers(min_value=0, max_value=100), errors)
def test_nothing_restarts_while_stopping(
    restart: Restart, outcome: Outcome, b: Backoff, failures: int, error: Exception | None
) -> None:
    """stopping=True overrides every table row and every budget, and counts nothing."""
    d = decide(restart, outcome, backoff=b, failures=failures, error=error, stopping=True)
    assert d.action is Action.STOPPED
    assert d.failures == failures


@given(
    restart=restarts,
    outcome=outcomes,
    b=backoffs(),
    failures=st.integers(min_value=0, max_value=100),
    error=errors,
    retry=st.booleans(),
)
def test_decide_refines_the_table_with_the_budgets(
    *, restart: Restart, outcome: Outcome, b: Backoff, failures: int, error: Exception | None, retry: bool
) -> None:
    """The whole rule in one place: table row first, then restart_on, then max_failures.

    Semantics of max_failures: the failure that makes the consecutive count
    reach max_failures gives up (max_failures=3: restart, restart, give up).
    """
    b = Backoff(
        min_delay=b.min_delay,
        max_delay=b.max_delay,
        max_failures=b.max_failures,
        restart_on=lambda exc: retry,
    )
    if outcome is Outcome.ERROR and error is None:
        error = ValueError("boom")
    if outcome is not Outcome.ERROR:
        error = None
    d = decide(restart, outcome, backoff=b, failures=failures, error=error)
    row = DECISION_TABLE[(restart, outcome)]
    if row in (Action.STOPPED, Action.EXIT):
        assert (d.action, d.failures) == (row, failures)  # not a failure: the counter stays
        return
    assert d.failures == failures + 1  # RESTART and GIVE_UP rows are failures
    gives_up = (
        row is Action.GIVE_UP
        or (error is not None and not retry)
        or (b.max_failures is not None and failures + 1 >= b.max_failures)
    )
    assert d.action is (Action.GIVE_UP if gives_up else Action.RESTART)


@given(restarts, backoffs(), st.integers(min_value=0, max_value=100))
def test_row_semantics(restart: Restart, b: Backoff, failures: int) -> None:
    """TEMPORARY never restarts; TRANSIENT normal exit is done; PERMANENT normal exit restarts."""
    normal = decide(restart, Outcome.NORMAL, backoff=b, failures=failures)
    error = decide(restart, Outcome.ERROR, backoff=b, failures=failures, error=ValueError())
    if restart is Restart.TEMPORARY:
        assert normal.action is Action.EXIT
        assert error.action is Action.GIVE_UP
    elif restart is Restart.TRANSIENT:
        assert normal.action is Action.EXIT
    else:
        budget_left = b.max_failures is None or failures + 1 < b.max_failures
        assert normal.action is (Action.RESTART if budget_left else Action.GIVE_UP)
        if budget_left:
            assert normal.reason == "unexpected exit of a permanent child"
        else:
            assert normal.reason == f"{failures + 1} consecutive failures (max_failures)"


@given(st.integers(min_value=1, max_value=30))
def test_max_failures_counts_consecutive_failures_to_give_up(max_failures: int) -> None:
    """Folding decide() over repeated errors: exactly max_failures-1 restarts, then GIVE_UP."""
    b = Backoff(max_failures=max_failures)
    failures, actions = 0, []
    while not actions or actions[-1] is Action.RESTART:
        d = decide(Restart.PERMANENT, Outcome.ERROR, backoff=b, failures=failures, error=ValueError())
        failures = d.failures
        actions.append(d.action)
    assert actions == [Action.RESTART] * (max_failures - 1) + [Action.GIVE_UP]
    assert failures == max_failures


def test_not_retryable_gives_up_at_once_and_says_why() -> None:
    b = Backoff(restart_on=lambda exc: not isinstance(exc, PermissionError))
    d = decide(Restart.PERMANENT, Outcome.ERROR, backoff=b, failures=0, error=PermissionError("bad token"))
    assert (d.action, d.failures, d.reason) == (Action.GIVE_UP, 1, "not retryable: PermissionError: bad token")


# ---- 6. the unreachable-intensity warning --------------------------------------------------


def simulate_instant_flapper(b: Backoff, intensity: int, period: float, extra: int = 10) -> bool:
    """A child that fails the instant it starts, with worst-case-fast delays base*(1-jitter).

    Restart decisions go through decide() (so max_failures applies exactly as
    in the runtime) and a RestartWindow records each RESTART at its failure
    time. Returns whether the window is ever exceeded.
    """
    window = RestartWindow(intensity, period)
    now, failures = 0.0, 0
    for _ in range(intensity + 1 + extra):
        d = decide(Restart.PERMANENT, Outcome.ERROR, backoff=b, failures=failures, error=ValueError())
        failures = d.failures
        if d.action is not Action.RESTART:
            return False
        if window.record(now):
            return True
        now += base_delay(b, failures - 1) * (1.0 - b.jitter)
    return False


small_backoffs = backoffs(max_failures=st.one_of(st.none(), st.integers(min_value=1, max_value=12)))


@given(small_backoffs, st.integers(min_value=0, max_value=10), st.floats(min_value=1e-3, max_value=1e4))
def test_single_child_can_exceed_agrees_with_simulation(b: Backoff, intensity: int, period: float) -> None:
    """The warning's closed form equals what a flapping child actually does to the window.

    max_failures == intensity + 1 is excluded here: that boundary is a known
    bug, shown by test_child_that_gives_up_on_the_restart_after_intensity_cannot_exceed.
    """
    assume(b.max_failures != intensity + 1)
    assert single_child_can_exceed(b, intensity, period) == simulate_instant_flapper(b, intensity, period)


def test_worked_example_from_the_design() -> None:
    """min=1, m=2, jitter=0, intensity=5: the span is 1+2+4+8+16 = 31 s."""
    b = Backoff(min_delay=1.0, multiplier=2.0, jitter=0.0)
    assert single_child_can_exceed(b, 5, 30.0) is False
    assert single_child_can_exceed(b, 5, 31.0) is True
    assert simulate_instant_flapper(b, 5, 30.0) is False
    assert simulate_instant_flapper(b, 5, 31.0) is True


def test_child_that_gives_up_on_the_restart_after_intensity_cannot_exceed() -> None:
    """intensity=2, max_failures=3: failures 1 and 2 are recorded restarts, failure 3 gives
    up without a restart decision, so the window never holds 3 > intensity entries.
    Regression: single_child_can_exceed once said True here (off by one)."""
    b = Backoff(min_delay=1.0, jitter=0.0, max_failures=3)
    assert simulate_instant_flapper(b, 2, 1000.0) is False
    assert single_child_can_exceed(b, 2, 1000.0) is False


# ---- 7. child state transitions ------------------------------------------------------------


def test_every_state_has_a_transition_entry() -> None:
    assert set(CHILD_TRANSITIONS) == set(ChildState)
    for targets in CHILD_TRANSITIONS.values():
        assert targets <= set(ChildState)


@given(st.sampled_from(ChildState), st.sampled_from(ChildState))
def test_check_transition_enforces_the_table(old: ChildState, new: ChildState) -> None:
    """Moves in the table pass silently; every other move raises."""
    if new in CHILD_TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(RuntimeError, match=f"illegal child transition {old.value} -> {new.value}"):
            check_transition(old, new)


def test_no_state_moves_to_itself() -> None:
    """Self-moves are not transitions (the runtime skips them), so the table lists none."""
    for state in ChildState:
        with pytest.raises(RuntimeError):
            check_transition(state, state)


# ---- spec validation ----------------------------------------------------------------------------


def test_significant_permanent_child_is_invalid() -> None:
    with pytest.raises(InvalidSpec, match="permanent child cannot be significant"):
        ChildSpec(id="a", target=_never_called, restart=Restart.PERMANENT, significant=True)
    ChildSpec(id="a", target=_never_called, restart=Restart.TRANSIENT, significant=True)  # fine


def test_duplicate_child_ids_are_invalid() -> None:
    a = ChildSpec(id="a", target=_never_called)
    b = ChildSpec(id="b", target=_never_called)
    with pytest.raises(InvalidSpec, match=r"duplicate child ids \['a'\]"):
        SupervisorSpec(id="s", children=[a, b, a])


def test_significant_child_needs_auto_shutdown() -> None:
    child = ChildSpec(id="a", target=_never_called, restart=Restart.TRANSIENT, significant=True)
    with pytest.raises(InvalidSpec, match="auto_shutdown"):
        SupervisorSpec(id="s", children=[child])
    SupervisorSpec(id="s", children=[child], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT)  # fine


@given(st.floats(min_value=1e-3, max_value=1e3), st.floats(min_value=1e-3, max_value=1e3))
def test_max_delay_below_min_delay_is_invalid(lo: float, hi: float) -> None:
    if hi < lo:
        with pytest.raises(InvalidSpec, match="max_delay"):
            Backoff(min_delay=lo, max_delay=hi)
    else:
        assert Backoff(min_delay=lo, max_delay=hi).max_delay == hi


@given(st.floats(allow_nan=True, allow_infinity=True))
@example(-0.0)
@example(1.0)
@example(math.nextafter(1.0, 2.0))
@example(-1e-300)
def test_jitter_must_lie_in_unit_interval(jitter: float) -> None:
    if 0.0 <= jitter <= 1.0:
        assert Backoff(jitter=jitter).jitter == jitter
    else:
        with pytest.raises(InvalidSpec, match="jitter"):
            Backoff(jitter=jitter)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_delay": 0.0},
        {"min_delay": -1.0},
        {"min_delay": math.nan},
        {"max_delay": math.inf},
        {"reset_after": 0.0},
        {"multiplier": 0.5},
        {"multiplier": math.inf},
        {"max_failures": 0},
    ],
)
def test_other_backoff_fields_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidSpec):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"id": ""}, {"id": "a", "shutdown": -1.0}, {"id": "a", "ready_timeout": 0.0}],
)
def test_child_spec_fields_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidSpec):
        ChildSpec(target=_never_called, **kwargs)  # type: ignore[arg-type]


def test_supervisor_spec_fields_are_validated() -> None:
    with pytest.raises(InvalidSpec):
        SupervisorSpec(id="s", children=[], intensity=-1)
    with pytest.raises(InvalidSpec):
        SupervisorSpec(id="s", children=[], period=0.0)


def test_invalid_spec_is_a_value_error() -> None:
    """Callers that validate config with `except ValueError` catch spec errors too."""
    assert issubclass(InvalidSpec, ValueError)
