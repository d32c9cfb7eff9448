"""One retry rule for every connection: YouTube, Chzzk, OLV, and the next platform.

Chat that is not read while a Chzzk or Twitch socket is down is lost for
good, and a VTuber that cannot reach OLV is silent on stream. So a blip must
cost seconds, not a minute, and a long outage must still not hammer anyone:

- the first retry of an outage comes after about `first_delay` (1 s);
- each further one waits twice as long, up to `retry_interval` (the seed's
  setting, kept as the ceiling), and every wait is jittered downwards by up
  to `jitter` so that many clients that broke together do not come back
  together (the same formula as the supervisor's restarts, `backoff_delay`);
- a connection that delivered something (a page, a socket event, a finished
  turn) ends the outage: the next failure is the first of a new one. The
  budget is for one outage, not for the whole night;
- an error that says when to come back (`Retry-After`) carries a
  `retry_after` attribute in seconds, and that wait is obeyed exactly (up
  to five minutes: a longer one is a misbehaving proxy, not a plan);
- after `max_retries` retries in one outage the monitor raises
  RetriesExhausted, and its supervisor's backoff takes over: two levels, so
  a short outage is ridden out quietly inside the actor and a long one backs
  off instead of hammering the platform;
- errors that retrying cannot fix (bad credentials, a bad config) are
  FatalMonitorError and give up at once, at both levels.

`RetryRule` and `RetryBudget` are pure (Hypothesis checks the bounds);
`run_with_retries` is the thin Trio loop every actor uses.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import attrs
import trio

from supervision import Backoff, ChildContext, backoff_delay

from ...groups import leaves
from ...i18n import Said, SaidError, says, tell

FIRST_DELAY = 1.0  # s: about a second, for every connection
MULTIPLIER = 2.0
JITTER = 0.2  # each wait is shortened by up to this fraction, never lengthened


class FatalMonitorError(SaidError):
    """Retrying cannot fix this: stop trying and say why (in the streamer's language)."""


class RetriesExhausted(SaidError):
    """The actor's own retry budget is spent; the supervisor takes over."""


@attrs.frozen
class RetryRule:
    """How long to wait before the n-th retry of one outage."""

    max_retries: int = 10
    retry_interval: float = 60.0  # the longest wait
    first_delay: float = FIRST_DELAY
    multiplier: float = MULTIPLIER
    jitter: float = JITTER

    def delay(self, failures: int, u: float) -> float:
        """The wait after the `failures`-th failure in a row (1-based); `u` in [0, 1)."""
        if self.retry_interval <= 0:
            return 0.0
        first = min(self.first_delay, self.retry_interval)
        backoff = Backoff(
            min_delay=first, max_delay=self.retry_interval, multiplier=self.multiplier, jitter=self.jitter
        )
        return backoff_delay(backoff, failures - 1, u)


@attrs.define
class RetryBudget:
    """Pure bookkeeping of one actor's retries."""

    rule: RetryRule
    failures: int = 0  # in the current outage

    def on_failure(self, u: float, retry_after: float | None = None) -> float | None:
        """The wait before the next try, or None when the budget is spent.
        A server's own `retry_after` is obeyed as it is."""
        self.failures += 1
        if self.failures > self.rule.max_retries:
            return None
        if retry_after is not None:
            return retry_after
        return self.rule.delay(self.failures, u)

    def on_delivered(self) -> None:
        self.failures = 0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP-date) -> seconds from
    `now`, or None when absent or unreadable. Capped at a day: a server that
    asks for longer is wrong, and the quota reset is handled on its own."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(0.0, seconds), 86_400.0)


MAX_SERVER_WAIT = 300.0  # s: a Retry-After beyond this is taken as this much


def retry_after_of(exc: BaseException) -> float | None:
    """The wait an error asks for (`Retry-After`), when it is a sane number.

    Obeyed exactly up to MAX_SERVER_WAIT: a proxy or CDN that says "a day"
    would otherwise leave Chzzk chat unread for a day, and chat not read is
    lost for good. Past that cap the next try still comes, and if the
    server meant it, it says so again."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return min(float(value), MAX_SERVER_WAIT)
    return None


def describe_failure(exc: BaseException) -> str:
    """One line for a status or a log: the error's type and text; for an
    exception group, its leaves' (a nursery's "2 sub-exceptions" says nothing)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe_failure(leaf) for leaf in leaves(exc))
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_said(exc: BaseException) -> Said:
    """The same line for a streamer: an error that can say itself in their
    language does (a refused key, a lapsed login); any other is shown as
    `describe_failure` wrote it, which is for whoever reads the logs."""
    said = getattr(exc, "said", None)
    if isinstance(said, Said):
        return said
    if isinstance(exc, BaseExceptionGroup):
        every = leaves(exc)
        if len(every) == 1:
            return failure_said(every[0])
    return says("status.error", error=describe_failure(exc))


def retry_fields(attempt: int, delay: float, exc: BaseException) -> dict[str, object]:
    """The fields of every `<source>.retry` log event: the attempt, the
    wait, the error for whoever reads logs, and its Said for the console."""
    return {
        "attempt": attempt,
        "delay_s": round(delay, 3),
        "error": describe_failure(exc),
        "error_detail": failure_said(exc).to_dict(),
    }


Attempt = Callable[[Callable[[], None]], Awaitable[None]]


async def run_with_retries(
    ctx: ChildContext,
    name: str,
    attempt: Attempt,
    rule: RetryRule,
    *,
    on_retry: Callable[[int, float, Exception], None] | None = None,
    uniform: Callable[[], float] = random.random,
) -> None:
    """Run `attempt(delivered)` until it returns, retrying failures by `rule`.

    `attempt` calls `delivered()` whenever its source has delivered
    something, which ends the outage. Returning normally means the source
    ended for good.
    """
    budget = RetryBudget(rule)
    while True:
        try:
            await attempt(budget.on_delivered)
            return
        except FatalMonitorError:
            raise
        except Exception as exc:
            delay = budget.on_failure(uniform(), retry_after_of(exc))
            if delay is None:
                raise RetriesExhausted(
                    says(
                        "status.retries_exhausted",
                        name=name,
                        max=rule.max_retries,
                        interval=f"{rule.retry_interval:g}",
                        error=failure_said(exc),
                    )
                ) from exc
            if on_retry is not None:
                on_retry(budget.failures, delay, exc)
            said = failure_said(exc)
            tell(ctx, says("status.retry", n=budget.failures, max=rule.max_retries, delay=f"{delay:.1f}", error=said))
            await trio.sleep(delay)
