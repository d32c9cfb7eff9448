"""The monitors' inner retry contract (the seed's, kept as users know it).

Inside a monitor, a connection loop retries `max_retries` times,
`retry_interval` seconds apart. When that budget is spent the monitor raises
RetriesExhausted, and its supervisor restarts it with exponential backoff:
two levels, so a short outage is ridden out quietly inside the monitor and a
long one backs off instead of hammering the platform.

A connection that came up and later broke starts a fresh budget: the budget
is for one outage, not for the whole night. Errors that retrying cannot fix
(bad credentials, a bad config) are raised as FatalMonitorError and give up
at once, at both levels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio

from supervision import ChildContext


class FatalMonitorError(Exception):
    """Retrying cannot fix this: stop trying and say why."""


class RetriesExhausted(Exception):
    """The monitor's own retry budget is spent; the supervisor takes over."""


@attrs.define
class RetryBudget:
    """Pure bookkeeping of the retry contract."""

    max_retries: int
    retry_interval: float
    failures: int = 0  # in the current outage

    def on_failure(self) -> float | None:
        """The wait before the next try, or None when the budget is spent."""
        self.failures += 1
        return None if self.failures > self.max_retries else self.retry_interval

    def on_connected(self) -> None:
        self.failures = 0


Attempt = Callable[[Callable[[], None]], Awaitable[None]]


async def run_with_retries(
    ctx: ChildContext,
    name: str,
    attempt: Attempt,
    *,
    max_retries: int,
    retry_interval: float,
    on_retry: Callable[[int, float, Exception], None] | None = None,
) -> None:
    """Run `attempt(connected)` until it returns, retrying failures.

    `attempt` calls `connected()` once its source is up, which resets the
    budget. Returning normally means the source ended for good.
    """
    budget = RetryBudget(max_retries, retry_interval)
    while True:
        try:
            await attempt(budget.on_connected)
            return
        except FatalMonitorError:
            raise
        except Exception as exc:
            delay = budget.on_failure()
            if delay is None:
                raise RetriesExhausted(
                    f"{name}: still failing after {max_retries} retries {retry_interval:g}s apart: {exc}"
                ) from exc
            if on_retry is not None:
                on_retry(budget.failures, delay, exc)
            ctx.set_status(f"retry {budget.failures}/{max_retries} in {delay:g}s: {type(exc).__name__}: {exc}")
            await trio.sleep(delay)
